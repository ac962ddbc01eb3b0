//! `roost deliver`: one message from standard input to one user, through
//! the same delivery code as LMTP, for MTAs and tools that run a local
//! delivery agent. Exit codes follow sysexits.h.
//!
//! It opens the store itself, so it works while the server runs (LMDB
//! serialises the two processes' writers). The running server's search
//! index catches up with such a message at its next start (SEARCH scans
//! what is not indexed, so answers stay exact), and IMAP sessions see it
//! at their next command rather than during IDLE.

use std::io::Read as _;

use anyhow::Context as _;

use super::command::{Address, Command, ForwardPath, ReversePath, parse_command};
use super::data::canonical;
use super::deliver::{Via, deliver};
use super::session::{Delivery, Outcome, OverQuota, Recipient, Target};
use crate::cli::DeliverArgs;
use crate::config::Config;
use crate::mailbox::MailAccess;
use crate::store::Store;

/// sysexits.h
pub const EX_OK: u8 = 0;
pub const EX_USAGE: u8 = 64;
pub const EX_DATAERR: u8 = 65;
pub const EX_NOUSER: u8 = 67;
pub const EX_CANTCREAT: u8 = 73;
pub const EX_TEMPFAIL: u8 = 75;

/// Runs `roost deliver`; returns the exit code, having said why on stderr.
pub fn run(args: &DeliverArgs, config: &Config) -> u8 {
    match run_inner(args, config, &mut std::io::stdin().lock()) {
        Ok((code, message)) => {
            if code != EX_OK {
                eprintln!("roost deliver: {message}");
            }
            code
        }
        Err(e) => {
            eprintln!("roost deliver: {e:#}");
            EX_TEMPFAIL
        }
    }
}

fn run_inner(
    args: &DeliverArgs,
    config: &Config,
    input: &mut dyn std::io::Read,
) -> anyhow::Result<(u8, String)> {
    let from = match &args.from {
        None => ReversePath::Null,
        Some(addr) => {
            let addr = addr.trim().trim_start_matches('<').trim_end_matches('>');
            match parse_command(format!("MAIL FROM:<{addr}>").as_bytes()) {
                Ok(Command::Mail { from, .. }) => from,
                _ => return Ok((EX_USAGE, format!("--from {addr:?} is not an address"))),
            }
        }
    };
    let limit = config.lmtp.limits.max_message_size;
    let mut raw = Vec::new();
    input
        .take(limit.saturating_add(1))
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    if raw.len() as u64 > limit {
        return Ok((
            EX_DATAERR,
            format!("the message is larger than {limit} bytes"),
        ));
    }
    let message = canonical(&raw);
    drop(raw);

    let store = Store::open(&config.data_dir)
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    let writer = store.start_writer().context("starting the store writer")?;
    let mail = MailAccess::new(store, writer);
    let Some(user_id) = mail.user_id(&args.user)? else {
        return Ok((EX_NOUSER, format!("no such user: {}", args.user)));
    };
    let user = crate::store::normalize_user_name(&args.user)?;
    let mailbox = args.mailbox.clone().unwrap_or_else(|| "INBOX".into());
    if args.mailbox.is_some() {
        match mail.read(|r| r.mailbox(user_id, &mailbox))? {
            Some(m) if !m.noselect => {}
            _ => return Ok((EX_CANTCREAT, format!("{user} has no mailbox {mailbox:?}"))),
        }
    }
    let delivery = Delivery {
        from,
        body: Default::default(),
        client: "localhost".into(),
        recipients: vec![Recipient {
            address: ForwardPath::Address(Address {
                local_part: user.clone(),
                domain: String::new(),
                as_given: user.clone(),
            }),
            target: Target {
                user: user.clone(),
                user_id,
                mailbox,
            },
        }],
        message,
    };
    let via = Via {
        hostname: super::listener::session_config(&config.lmtp).hostname,
        peer: "local".into(),
        protocol: "local",
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime")?;
    let outcome = rt
        .block_on(deliver(&mail, &delivery, &via))
        .into_iter()
        .next();
    Ok(match outcome {
        Some(Outcome::Stored { mailbox }) => (EX_OK, format!("delivered to {user} in {mailbox}")),
        Some(Outcome::Unknown) => (EX_NOUSER, format!("no such user: {user}")),
        Some(Outcome::OverQuota) => match config.lmtp.over_quota {
            OverQuota::Permanent => (EX_CANTCREAT, format!("{user} is over quota")),
            OverQuota::Temporary => (EX_TEMPFAIL, format!("{user} is over quota")),
        },
        Some(Outcome::Failed(why)) => (EX_TEMPFAIL, format!("not delivered: {why}")),
        None => (EX_TEMPFAIL, "not delivered".into()),
    })
}
