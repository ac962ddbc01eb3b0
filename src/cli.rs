//! The command line: `roost serve`, the `roost user` administration
//! commands and `roost index rebuild`, and turning `--config`/overrides
//! into a `Config`.
//!
//! The user commands work on the store directly, so they run on the
//! server's host, as the user that owns the data directory, and work while
//! the server is running (LMDB serialises the writers). They never print or
//! log a password.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::auth::Secret;
use crate::auth::hash_password;
use crate::config::{Config, LmtpListen, parse_listen, parse_lmtp_listen, parse_storage_size};
use crate::datadir::{self, Need};
use crate::search::index::rebuild::Rebuilt;
use crate::store::{
    LimitChange, Quota, Store, StoreError, WriteOp, WriteResult, normalize_admin_name,
    normalize_user_name,
};

/// Roost: a single-binary IMAP mail server.
#[derive(Debug, Clone, Parser)]
#[command(name = "roost", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Without it: $ROOST_CONFIG, else
    /// /etc/roost/roost.toml if it exists, else the built-in defaults.
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "FILE",
        env = "ROOST_CONFIG"
    )]
    pub config: Option<PathBuf>,

    /// Data directory, overriding `data_dir` in the configuration.
    #[arg(long, global = true, value_name = "DIR", env = "ROOST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Commands {
    /// Run the server: IMAP and IMAPS, LMTP delivery and the admin panel.
    Serve(ServeArgs),
    /// Add, change, remove and list users.
    #[command(subcommand)]
    User(UserCommand),
    /// Maintain the full-text search index (derived from the store).
    #[command(subcommand)]
    Index(IndexCommand),
    /// Deliver one message from standard input to a user's mailbox.
    ///
    /// A delivery agent for Exim's pipe transport, fetchmail --mda or
    /// procmail; works while the server runs. Exit status as sysexits.h:
    /// 0 delivered, 65 bad input,
    /// 67 unknown user, 73 cannot store (no such mailbox, over quota), 75
    /// temporary failure (retry).
    Deliver(DeliverArgs),
    /// Copy the store, compacted, into DIR (new or empty), also while the
    /// server runs; prints the copy's size and SHA-256.
    ///
    /// The copy holds everything committed when it began. DIR gets
    /// store/data.mdb and SHA256SUMS (`sha256sum -c SHA256SUMS` checks it).
    Backup {
        /// Where the backup goes: a directory that does not exist yet or is empty.
        dir: PathBuf,
    },
    /// Put a backup made by `roost backup` back, with the server stopped.
    ///
    /// Refuses a data directory that holds a store unless --force. The
    /// search index is removed, so the next start rebuilds it from the
    /// restored store.
    Restore {
        /// A directory written by `roost backup`.
        dir: PathBuf,
        /// Replace the store the data directory holds (its mail is lost).
        #[arg(long)]
        force: bool,
    },
    /// Manage the administrators of the web panel and their API tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import mail into a user's mailboxes from Maildir++ folders, mbox
    /// files or another IMAP server, also while the server runs; re-running adds only what is
    /// not there yet.
    ///
    /// A message is "already there" when its target mailbox holds one with
    /// the same bytes as it would be stored (SHA-256 of its CRLF form,
    /// without the mbox Status/X-Status/X-Keywords fields); identical
    /// copies count one by one. Flags and internal dates are kept (a
    /// Maildir file's mtime, an mbox From line's date, the IMAP server's
    /// INTERNALDATE). A damaged message,
    /// or one larger than limits.max_append_bytes, is reported and skipped.
    /// Exit status: 0 all imported, 3 done but some messages skipped, 1 error
    /// (2: bad arguments).
    Import(ImportArgs),
    /// Write a user's mailboxes out as Maildir++ folders or mbox files (LF
    /// line ends, flags and internal dates kept) into a new or empty DIR.
    Export(ExportArgs),
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["mbox", "maildir", "imap"])))]
pub struct ImportArgs {
    /// The user whose mailboxes receive the mail (must exist).
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// An mbox file (into INBOX, or --mailbox), or a directory of them:
    /// one mailbox per file, subdirectories (or NAME.sbd) nesting.
    #[arg(long, value_name = "FILE|DIR")]
    pub mbox: Option<PathBuf>,
    /// A Maildir++ root: cur/ and new/ are INBOX, .Sub.Child is Sub/Child.
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Another IMAP server over TLS: imaps://USER[:PASSWORD]@HOST[:PORT]/
    /// (percent-encoded; without a password, its first line on standard
    /// input). Every mailbox it lists, with flags and INTERNALDATE.
    #[arg(long, value_name = "URL")]
    pub imap: Option<String>,
    /// The CA certificate(s) (PEM) to check the --imap server's certificate
    /// with, e.g. a self-signed server's own. [default: the system's]
    #[arg(long, value_name = "FILE", requires = "imap")]
    pub imap_ca: Option<PathBuf>,
    /// How the mbox quotes lines that start with "From ": mboxrd (every
    /// >*From line got one more >) or mboxo (only From lines did).
    #[arg(long, value_enum, default_value_t = MboxQuoting::Mboxrd, requires = "mbox")]
    pub mbox_format: MboxQuoting,
    /// The mailbox one mbox file goes into. [default: INBOX]
    #[arg(long, value_name = "MAILBOX", requires = "mbox")]
    pub mailbox: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MboxQuoting {
    Mboxrd,
    Mboxo,
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["mbox", "maildir"])))]
pub struct ExportArgs {
    /// The user whose mail is written out.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// Write Maildir++ folders into DIR (INBOX in DIR, Sub/Child in .Sub.Child).
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Write one mboxrd file per mailbox into DIR (Sub/Child as Sub/Child,
    /// or Sub.sbd/Child when Sub holds mail itself).
    #[arg(long, value_name = "DIR")]
    pub mbox: Option<PathBuf>,
}

/// Runs `roost import`; `Ok(false)` when some messages were skipped.
pub fn run_import(args: &ImportArgs, config: &Config) -> anyhow::Result<bool> {
    use crate::transfer::{Importer, maildir, mbox, remote};
    datadir::prepare(&config.data_dir, Need::Store, config.file.as_deref())?;
    let max = config.frame_limits.max_append_literal;
    let mut imp = Importer::open(&config.data_dir, &args.user, max)?;
    match (&args.maildir, &args.mbox) {
        (Some(dir), _) => maildir::import(&mut imp, dir)?,
        (None, None) if args.imap.is_some() => {
            let url = remote::Url::parse(args.imap.as_deref().unwrap_or_default())?;
            let password = match &url.password {
                Some(p) => p.clone(),
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            remote::import(&mut imp, &url, &password, args.imap_ca.as_deref())?
        }
        (None, Some(path)) => {
            let quoting = match args.mbox_format {
                MboxQuoting::Mboxrd => mbox::Quoting::Mboxrd,
                MboxQuoting::Mboxo => mbox::Quoting::Mboxo,
            };
            mbox::import(&mut imp, path, quoting, args.mailbox.as_deref())?
        }
        (None, None) => bail!("give --maildir DIR, --mbox FILE|DIR or --imap URL"),
    }
    let (stats, line) = imp.finish()?;
    println!("{line}");
    Ok(stats.complete())
}

/// Runs `roost export`; `Ok(false)` when a mailbox could not be written.
pub fn run_export(args: &ExportArgs, config: &Config) -> anyhow::Result<bool> {
    use crate::transfer::{Source, maildir, mbox};
    datadir::prepare(&config.data_dir, Need::Store, config.file.as_deref())?;
    let src = Source::open(&config.data_dir, &args.user)?;
    let (line, complete) = match (&args.maildir, &args.mbox) {
        (Some(dir), _) => maildir::export(&src, dir)?,
        (None, Some(dir)) => mbox::export(&src, dir)?,
        (None, None) => bail!("give --maildir DIR or --mbox DIR"),
    };
    println!("{line}");
    Ok(complete)
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Add an administrator (not a mail user); asks for the password twice
    /// unless --password-stdin. Ends the first-start setup page.
    Add {
        /// 1-64 of a-z 0-9 . _ + @ - (stored in lower case).
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set an administrator's password.
    Passwd {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an administrator and revoke their API tokens.
    Del { name: String },
    /// List administrators, one name per line.
    List,
    /// Create, revoke and list API tokens (`Authorization: Bearer`).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, alone on the last line. It is shown
    /// only this once: the store keeps its SHA-256 only.
    Create {
        /// A name for the token (unique among live tokens), e.g. "backup".
        name: String,
        /// Valid for this many days, fractions allowed (0.5 is 12 hours;
        /// default: until revoked).
        #[arg(long, value_name = "DAYS", value_parser = days_arg)]
        expires: Option<chrono::Duration>,
        /// The administrator it acts as; may be left out when there is one.
        #[arg(long, value_name = "NAME")]
        admin: Option<String>,
    },
    /// Revoke a token by id or by name; takes effect at once.
    Revoke { id_or_name: String },
    /// List tokens (never the tokens themselves).
    List,
}

#[derive(Debug, Clone, Args)]
pub struct DeliverArgs {
    /// The user to deliver to.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// The mailbox to store into (it must exist). [default: INBOX]
    #[arg(long, value_name = "MAILBOX")]
    pub mailbox: Option<String>,
    /// The envelope sender, for Return-Path:. [default: <>]
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum IndexCommand {
    /// Empty the search index and index every message again.
    ///
    /// Always safe: the index is derived from the store, and SEARCH answers
    /// exactly while it is incomplete (it scans what is not indexed). With
    /// the server stopped, the rebuild runs here and the command returns
    /// when it is done. While the server runs (it holds the index), the
    /// command asks the server to rebuild in the background and returns at
    /// once; the server logs "search index caught up" when done.
    Rebuild {
        /// Only this user's mail.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// IMAP (STARTTLS) listen address, overriding `imap.listen`; "" disables.
    #[arg(long, value_name = "ADDR:PORT", value_parser = listen_arg)]
    pub imap: Option<ListenAddr>,

    /// IMAPS (implicit TLS) listen address, overriding `imap.listen_tls`;
    /// "" disables.
    #[arg(long, value_name = "ADDR:PORT", value_parser = listen_arg)]
    pub imaps: Option<ListenAddr>,

    /// LMTP listener, `ADDR:PORT` or `unix:PATH`; repeat for several. Given
    /// at all, these replace `lmtp.listen`; `--lmtp ""` alone disables LMTP.
    #[arg(long, value_name = "ADDR:PORT|unix:PATH", value_parser = lmtp_arg)]
    pub lmtp: Vec<Option<LmtpListen>>,
    /// Admin panel and API listen address, overriding `admin.listen`;
    /// `off` disables.
    #[arg(long, value_name = "ADDR:PORT|off", value_parser = admin_listen_arg)]
    pub admin: Option<ListenAddr>,
}

fn lmtp_arg(s: &str) -> Result<Option<LmtpListen>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    parse_lmtp_listen(s).map(Some)
}

/// A validity in days, fractions allowed, up to 100 years; at least a second.
fn days_arg(s: &str) -> Result<chrono::Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(d) if d > 0.0 && d <= 36_500.0 => {
            let secs = (d * 86_400.0).round().max(1.0) as i64;
            Ok(chrono::Duration::seconds(secs))
        }
        _ => Err(format!("`{s}` is not a number of days between 0 and 36500")),
    }
}

fn admin_listen_arg(s: &str) -> Result<ListenAddr, String> {
    crate::config::parse_admin_listen(s).map(ListenAddr)
}

/// A listen address from the command line; `None` means disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub Option<SocketAddr>);

fn listen_arg(s: &str) -> Result<ListenAddr, String> {
    parse_listen(s).map(ListenAddr)
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create a user; asks for the password twice unless --password-stdin.
    Add {
        /// User name: 1-64 of a-z 0-9 . _ + @ - (stored in lower case).
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password.
    Passwd {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user.
    Del { name: String },
    /// Forget the user's failed logins, so that addresses refused for this
    /// name (after too many wrong passwords) may try again at once, also
    /// while the server runs.
    Unlock { name: String },
    /// List users, one name per line.
    List {
        /// Also show each user's quota usage and limits.
        #[arg(long)]
        quota: bool,
    },
    /// Show a user's quota usage and limits, or change the limits. Limits
    /// apply to all of the user's mailboxes together, from the next write
    /// on, also while the server runs.
    Quota {
        name: String,
        /// Storage limit: a size like 500M or 2G (K, M, G, T), or
        /// `unlimited`.
        #[arg(long, value_name = "SIZE", value_parser = storage_arg)]
        storage: Option<Limit>,
        /// Message count limit, or `unlimited`.
        #[arg(long, value_name = "N", value_parser = messages_arg)]
        messages: Option<Limit>,
    },
}

/// A limit from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Unlimited,
    /// KiB for storage, a count for messages.
    Set(u64),
}

impl Limit {
    fn change(limit: Option<Limit>) -> LimitChange {
        match limit {
            None => LimitChange::Keep,
            Some(Limit::Unlimited) => LimitChange::Unlimited,
            Some(Limit::Set(v)) => LimitChange::Set(v),
        }
    }
}

fn is_unlimited(s: &str) -> bool {
    ["unlimited", "none"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
}

fn storage_arg(s: &str) -> Result<Limit, String> {
    if is_unlimited(s) {
        return Ok(Limit::Unlimited);
    }
    parse_storage_size(s).map(Limit::Set)
}

fn messages_arg(s: &str) -> Result<Limit, String> {
    if is_unlimited(s) {
        return Ok(Limit::Unlimited);
    }
    match s.parse::<u64>() {
        Ok(n) if n <= i64::MAX as u64 => Ok(Limit::Set(n)),
        _ => Err(format!("`{s}` is not a message count or `unlimited`")),
    }
}

/// `storage 12 KiB of 1024 KiB, messages 3 of unlimited`
fn describe_quota(q: &Quota) -> String {
    let of = |limit: Option<u64>, unit: &str| match limit {
        Some(l) => format!("{l}{unit}"),
        None => "unlimited".into(),
    };
    format!(
        "storage {} KiB of {}, messages {} of {}",
        q.used_kib(),
        of(q.storage_limit_kib, " KiB"),
        q.used_messages,
        of(q.message_limit, "")
    )
}

/// Where the package installs the configuration; used when neither
/// `--config` nor `ROOST_CONFIG` names one, so the administration commands
/// work on the installed server's store without being told.
pub const INSTALLED_CONFIG: &str = "/etc/roost/roost.toml";

/// The configuration file to read: the one given, else `installed` if it
/// exists, else none (built-in defaults).
fn config_path(given: Option<&Path>, installed: &Path) -> Option<PathBuf> {
    match given {
        Some(path) => Some(path.to_path_buf()),
        None => installed.is_file().then(|| installed.to_path_buf()),
    }
}

/// The configuration file (or defaults) with the command-line overrides
/// applied.
pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    load_config_from(cli, Path::new(INSTALLED_CONFIG))
}

fn load_config_from(cli: &Cli, installed: &Path) -> anyhow::Result<Config> {
    let path = config_path(cli.config.as_deref(), installed);
    if cli.config.is_none()
        && let Some(found) = &path
        && !matches!(cli.command, Commands::Serve(_))
    {
        // Said because it decides which store the command changes.
        eprintln!("roost: using the configuration in {}", found.display());
    }
    let mut config = Config::load(path.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        if dir.as_os_str().is_empty() {
            bail!("--data-dir must not be empty");
        }
        config.data_dir = dir.clone();
    }
    if let Commands::Serve(args) = &cli.command {
        if let Some(ListenAddr(addr)) = args.imap {
            config.imap_listen = addr;
        }
        if let Some(ListenAddr(addr)) = args.imaps {
            config.imaps_listen = addr;
        }
        if !args.lmtp.is_empty() {
            config.lmtp.listen = Some(args.lmtp.iter().flatten().cloned().collect());
        }
        if let Some(ListenAddr(addr)) = args.admin {
            config.admin.listen = addr;
        }
    }
    Ok(config)
}

/// Runs `roost index ...` against the data directory in `config.data_dir`.
pub fn run_index_command(cmd: &IndexCommand, config: &Config) -> anyhow::Result<()> {
    let IndexCommand::Rebuild { user } = cmd;
    datadir::prepare(&config.data_dir, Need::Store, config.file.as_deref())?;
    let store = Store::open(&config.data_dir)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;
    let user_id = match user {
        Some(name) => {
            let name = normalize_user_name(name)?;
            match store.get_user(&name)? {
                Some(u) => Some(u.id),
                None => bail!("no such user: {name}"),
            }
        }
        None => None,
    };
    let whose = user
        .as_deref()
        .map_or("every user".to_owned(), |u| format!("user {u}"));
    match crate::search::index::rebuild::rebuild(&config.data_dir, store, user_id)? {
        Rebuilt::Done { documents } => {
            println!("rebuilt the search index for {whose}: {documents} messages indexed");
        }
        Rebuilt::Requested => println!(
            "the server is running and holds the index: it will rebuild it for {whose} \
             in the background (SEARCH stays exact meanwhile)"
        ),
    }
    Ok(())
}

/// Runs a `roost admin ...` command against the store in `config.data_dir`.
pub fn run_admin_command(cmd: &AdminCommand, config: &Config) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut input = stdin.lock();
    let mut passwords = PasswordSource {
        input: &mut input,
        terminal,
    };
    let mut stdout = std::io::stdout().lock();
    run_admin_command_with(cmd, config, &mut passwords, &mut stdout)
}

/// How the audit log names the command line.
const CLI: &str = "cli";

fn run_admin_command_with(
    cmd: &AdminCommand,
    config: &Config,
    passwords: &mut PasswordSource<'_>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let name = match cmd {
        AdminCommand::Add { name, .. }
        | AdminCommand::Passwd { name, .. }
        | AdminCommand::Del { name } => Some(normalize_admin_name(name)?),
        AdminCommand::List | AdminCommand::Token(_) => None,
    };
    let store = Store::open(&config.data_dir)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;
    match (cmd, name) {
        (AdminCommand::Add { password_stdin, .. }, Some(name)) => {
            if store.get_admin(&name)?.is_some() {
                return Err(StoreError::AdminExists(name).into());
            }
            let password = passwords.read(*password_stdin)?;
            let hash = hash_password(password.expose())?;
            let admin = store.create_admin(&name, &hash)?;
            store.audit(CLI, CLI, "admin.create", &admin.name)?;
            writeln!(out, "added administrator {}", admin.name)?;
        }
        (AdminCommand::Passwd { password_stdin, .. }, Some(name)) => {
            if store.get_admin(&name)?.is_none() {
                return Err(StoreError::NoSuchAdmin(name).into());
            }
            let password = passwords.read(*password_stdin)?;
            let hash = hash_password(password.expose())?;
            store.set_admin_password(&name, &hash)?;
            store.audit(CLI, CLI, "admin.password", &name)?;
            writeln!(out, "changed the password of administrator {name}")?;
        }
        (AdminCommand::Del { .. }, Some(name)) => {
            store.delete_admin(&name)?;
            store.audit(CLI, CLI, "admin.delete", &name)?;
            writeln!(out, "deleted administrator {name} and revoked their tokens")?;
        }
        (AdminCommand::List, _) => {
            for admin in store.list_admins()? {
                writeln!(out, "{}", admin.name)?;
            }
        }
        (
            AdminCommand::Token(TokenCommand::Create {
                name,
                expires,
                admin,
            }),
            _,
        ) => {
            let admin = match admin {
                Some(a) => normalize_admin_name(a)?,
                None => {
                    let all = store.list_admins()?;
                    match all.as_slice() {
                        [only] => only.name.clone(),
                        [] => {
                            bail!("there is no administrator yet: add one with `roost admin add`")
                        }
                        _ => bail!("there are several administrators: say which with --admin NAME"),
                    }
                }
            };
            let token = crate::admin::secrets::new_api_token();
            let expiry = expires.map(|valid| chrono::Utc::now() + valid);
            let rec =
                store.create_token(name, &admin, crate::admin::secrets::digest(&token), expiry)?;
            store.audit(
                CLI,
                CLI,
                "token.create",
                &format!("{} (id {})", rec.name, rec.id),
            )?;
            let until = rec.expires.map_or("until revoked".to_owned(), |e| {
                format!("until {}", e.format("%Y-%m-%d %H:%M UTC"))
            });
            writeln!(
                out,
                "created token {} (id {}) acting as {}, valid {until}; it is shown only now:",
                rec.name, rec.id, rec.admin
            )?;
            writeln!(out, "{token}")?;
        }
        (AdminCommand::Token(TokenCommand::Revoke { id_or_name }), _) => {
            let rec = store.revoke_token(id_or_name)?;
            store.audit(
                CLI,
                CLI,
                "token.revoke",
                &format!("{} (id {})", rec.name, rec.id),
            )?;
            writeln!(out, "revoked token {} (id {})", rec.name, rec.id)?;
        }
        (AdminCommand::Token(TokenCommand::List), _) => {
            let now = chrono::Utc::now();
            for t in store.list_tokens()? {
                let state = t.state_text(now);
                writeln!(out, "{}\t{}\t{}\t{state}", t.id, t.name, t.admin)?;
            }
        }
        (_, None) => bail!("an administrator name is required"),
    }
    Ok(())
}

/// Runs a `roost user ...` command against the store in `config.data_dir`.
pub fn run_user_command(cmd: &UserCommand, config: &Config) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut input = stdin.lock();
    let mut passwords = PasswordSource {
        input: &mut input,
        terminal,
    };
    let mut stdout = std::io::stdout().lock();
    run_user_command_with(cmd, config, &mut passwords, &mut stdout)
}

/// Where passwords come from: the terminal (no echo, asked twice) when
/// standard input is one, else one line of standard input.
struct PasswordSource<'a> {
    input: &'a mut dyn std::io::BufRead,
    terminal: bool,
}

impl PasswordSource<'_> {
    /// Reads a new password. With `from_stdin` the first line of input is
    /// the password even on a terminal.
    fn read(&mut self, from_stdin: bool) -> anyhow::Result<Secret<Vec<u8>>> {
        let password = if from_stdin || !self.terminal {
            read_line(self.input)?
        } else {
            let first = rpassword::prompt_password("Password: ")
                .context("cannot read the password from the terminal")?;
            let second = rpassword::prompt_password("Repeat password: ")
                .context("cannot read the password from the terminal")?;
            if first != second {
                bail!("the passwords do not match");
            }
            Secret(first.into_bytes())
        };
        if password.expose().is_empty() {
            bail!("refusing an empty password");
        }
        Ok(password)
    }
}

/// One line, without its line ending (LF or CRLF). Bytes, not text: IMAP
/// passwords are octets.
fn read_line(input: &mut dyn std::io::BufRead) -> anyhow::Result<Secret<Vec<u8>>> {
    let mut line = Vec::new();
    input
        .read_until(b'\n', &mut line)
        .context("cannot read the password from standard input")?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    Ok(Secret(line))
}

fn run_user_command_with(
    cmd: &UserCommand,
    config: &Config,
    passwords: &mut PasswordSource<'_>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    // Check the name before asking for a password that would be wasted.
    let name = match cmd {
        UserCommand::Add { name, .. }
        | UserCommand::Passwd { name, .. }
        | UserCommand::Del { name }
        | UserCommand::Unlock { name }
        | UserCommand::Quota { name, .. } => Some(normalize_user_name(name)?),
        UserCommand::List { .. } => None,
    };
    // Only `user add` may start a store (on a fresh install, before the
    // first start); any other command on a directory without one has the
    // wrong directory.
    let need = match cmd {
        UserCommand::Add { .. } => Need::Directory,
        _ => Need::Store,
    };
    datadir::prepare(&config.data_dir, need, config.file.as_deref())?;
    let store = Store::open(&config.data_dir)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;

    match (cmd, name) {
        (UserCommand::Add { password_stdin, .. }, Some(name)) => {
            if store.get_user(&name)?.is_some() {
                return Err(StoreError::UserExists(name).into());
            }
            let password = passwords.read(*password_stdin)?;
            let hash = hash_password(password.expose())?;
            let user = store.create_user(&name, &hash)?;
            store.audit(CLI, CLI, "user.create", &user.name)?;
            writeln!(out, "added user {} (id {})", user.name, user.id)?;
            let defaults = config.quota;
            if defaults.storage_kib.is_some() || defaults.messages.is_some() {
                let set = |v: Option<u64>| v.map_or(LimitChange::Keep, LimitChange::Set);
                let q = store
                    .set_user_quota(&name, set(defaults.storage_kib), set(defaults.messages))
                    .with_context(|| format!("setting the default quota of {name}"))?;
                writeln!(out, "quota: {}", describe_quota(&q))?;
            }
        }
        (UserCommand::Passwd { password_stdin, .. }, Some(name)) => {
            if store.get_user(&name)?.is_none() {
                return Err(StoreError::NoSuchUser(name).into());
            }
            let password = passwords.read(*password_stdin)?;
            let hash = hash_password(password.expose())?;
            store.set_password(&name, &hash)?;
            store.audit(CLI, CLI, "user.password", &name)?;
            writeln!(out, "changed the password of {name}")?;
        }
        (UserCommand::Del { .. }, Some(name)) => {
            let Some(user) = store.get_user(&name)? else {
                bail!("no such user: {name}");
            };
            // The mail goes first: a user whose mail could not be removed
            // stays, so `user del` can simply be run again. LMDB's write
            // lock is shared between processes, so this writer and a
            // running server's take turns.
            let writer = store.start_writer().context("starting the store writer")?;
            let gone = writer
                .submit_blocking(WriteOp::DeleteUserMail { user_id: user.id })
                .with_context(|| format!("deleting the mail of {name}"))?;
            let user = store.delete_user(&name)?;
            store.audit(CLI, CLI, "user.delete", &user.name)?;
            if let WriteResult::UserMailDeleted {
                mailboxes,
                messages,
            } = gone
            {
                writeln!(
                    out,
                    "deleted user {} (id {}) with {mailboxes} mailboxes and {messages} messages",
                    user.name, user.id
                )?;
            } else {
                writeln!(out, "deleted user {} (id {})", user.name, user.id)?;
            }
        }
        (UserCommand::Unlock { .. }, Some(name)) => {
            store.unlock_user(&name)?;
            store.audit(CLI, CLI, "user.unlock", &name)?;
            writeln!(
                out,
                "forgot the failed logins of {name} (a running server applies it at the next attempt)"
            )?;
        }
        (UserCommand::List { quota }, _) => {
            for user in store.list_users()? {
                if *quota {
                    let q = store.user_quota(&user.name)?;
                    writeln!(out, "{}: {}", user.name, describe_quota(&q))?;
                } else {
                    writeln!(out, "{}", user.name)?;
                }
            }
        }
        (
            UserCommand::Quota {
                storage, messages, ..
            },
            Some(name),
        ) => {
            let q = if storage.is_none() && messages.is_none() {
                store.user_quota(&name)?
            } else {
                let q = store.set_user_quota(
                    &name,
                    Limit::change(*storage),
                    Limit::change(*messages),
                )?;
                store.audit(
                    CLI,
                    CLI,
                    "user.quota",
                    &format!("{name}: {}", describe_quota(&q)),
                )?;
                q
            };
            writeln!(out, "{name}: {}", describe_quota(&q))?;
        }
        (_, None) => bail!("a user name is required"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::verify_password;
    use crate::store::testing::TempDir;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).expect("valid command line")
    }

    fn run(cmd: &UserCommand, config: &Config, stdin: &str) -> anyhow::Result<String> {
        let mut input = std::io::Cursor::new(stdin.as_bytes().to_vec());
        let mut source = PasswordSource {
            input: &mut input,
            terminal: false,
        };
        let mut out = Vec::new();
        run_user_command_with(cmd, config, &mut source, &mut out)?;
        Ok(String::from_utf8(out).expect("utf-8 output"))
    }

    fn user_cmd(cli: Cli) -> UserCommand {
        match cli.command {
            Commands::User(cmd) => cmd,
            _ => panic!("not a user command"),
        }
    }

    fn run_admin(cmd: &str, config: &Config, stdin: &str) -> anyhow::Result<String> {
        let args: Vec<&str> = ["roost", "admin"]
            .into_iter()
            .chain(cmd.split(' '))
            .collect();
        let Commands::Admin(cmd) = parse(&args).command else {
            panic!("not an admin command")
        };
        let mut input = std::io::Cursor::new(stdin.as_bytes().to_vec());
        let mut source = PasswordSource {
            input: &mut input,
            terminal: false,
        };
        let mut out = Vec::new();
        run_admin_command_with(&cmd, config, &mut source, &mut out)?;
        Ok(String::from_utf8(out).expect("utf-8 output"))
    }

    #[test]
    fn admin_lifecycle_and_tokens() {
        let dir = TempDir::new("cli-admin");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        assert!(
            run_admin("token create ci", &config, "").is_err(),
            "no admin yet"
        );
        run_admin("add Root --password-stdin", &config, "pw1\n").expect("add");
        assert!(run_admin("add root --password-stdin", &config, "pw1\n").is_err());
        assert_eq!(run_admin("list", &config, "").expect("list"), "root\n");
        run_admin("passwd root --password-stdin", &config, "pw2\n").expect("passwd");
        let store = Store::open(dir.path()).expect("open");
        let hash = store
            .get_admin("root")
            .expect("get")
            .expect("there")
            .password_hash;
        assert!(verify_password(b"pw2", &hash).expect("verify"));
        assert!(
            store.get_user("root").expect("get").is_none(),
            "not a mail user"
        );

        let out = run_admin("token create ci --expires 7", &config, "").expect("token");
        let token = out.lines().last().expect("last line");
        assert!(token.starts_with("roost_") && !token.contains(' '), "{out}");
        let rec = store
            .token_by_digest(&crate::admin::secrets::digest(token))
            .expect("find")
            .expect("stored by digest");
        assert!(rec.expires.is_some() && rec.revoked.is_none());
        let listed = run_admin("token list", &config, "").expect("list");
        assert!(listed.contains("ci\troot\tlive until"), "{listed}");
        assert!(!listed.contains(token), "the token is never shown again");
        run_admin("token revoke ci", &config, "").expect("revoke");
        assert!(run_admin("token revoke ci", &config, "").is_err());
        assert!(
            run_admin("token list", &config, "")
                .expect("list")
                .contains("revoked")
        );
        run_admin("del root", &config, "").expect("del");
        assert_eq!(run_admin("list", &config, "").expect("list"), "");
        let actions: Vec<String> = store
            .audit_entries(None, 10, None)
            .expect("audit")
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            [
                "admin.delete",
                "token.revoke",
                "token.create",
                "admin.password",
                "admin.create"
            ]
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_overrides() {
        let cli = parse(&[
            "roost",
            "serve",
            "--data-dir",
            "/tmp/x",
            "--imap",
            "",
            "--imaps",
            "[::]:993",
            "--admin",
            "off",
        ]);
        let config = load_config(&cli).expect("config");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.imap_listen, None);
        assert_eq!(config.imaps_listen, Some("[::]:993".parse().expect("addr")));
        assert_eq!(config.admin.listen, None);
        let cli = parse(&["roost", "serve", "--admin", "127.0.0.1:9"]);
        let config = load_config(&cli).expect("config");
        assert_eq!(
            config.admin.listen,
            Some("127.0.0.1:9".parse().expect("addr"))
        );
        assert_eq!(
            load_config(&parse(&["roost", "serve"]))
                .expect("config")
                .admin
                .listen,
            Some("127.0.0.1:8080".parse().expect("addr")),
            "zero-config: loopback only"
        );
    }

    #[test]
    fn global_args_after_subcommand() {
        let cli = parse(&["roost", "user", "list", "--data-dir", "/srv/mail"]);
        assert_eq!(cli.data_dir, Some(PathBuf::from("/srv/mail")));
        assert!(matches!(
            cli.command,
            Commands::User(UserCommand::List { quota: false })
        ));
    }

    #[test]
    fn bad_listen_address_is_a_usage_error() {
        assert!(Cli::try_parse_from(["roost", "serve", "--imap", "nonsense"]).is_err());
    }

    #[test]
    fn installed_config_is_used_without_config_option() {
        let dir = TempDir::new("cli-installed");
        let installed = dir.path().join("roost.toml");
        let cli = parse(&["roost", "user", "list"]);
        if cli.config.is_some() {
            // ROOST_CONFIG is set in this environment; it wins, as it should.
            return;
        }
        let config = load_config_from(&cli, &installed).expect("defaults");
        assert_eq!(config.file, None);
        assert_eq!(config.data_dir, PathBuf::from("./roost-data"));

        std::fs::write(&installed, "data_dir = \"/srv/roost\"\n").expect("write");
        let config = load_config_from(&cli, &installed).expect("installed");
        assert_eq!(config.file.as_deref(), Some(installed.as_path()));
        assert_eq!(config.data_dir, PathBuf::from("/srv/roost"));

        // --config wins over the installed file.
        let other = dir.path().join("other.toml");
        std::fs::write(&other, "data_dir = \"/srv/other\"\n").expect("write");
        let given = other.to_str().expect("utf-8 path");
        let cli = parse(&["roost", "--config", given, "user", "list"]);
        let config = load_config_from(&cli, &installed).expect("given");
        assert_eq!(config.data_dir, PathBuf::from("/srv/other"));
    }

    #[test]
    fn missing_config_file_is_named() {
        let cli = parse(&[
            "roost",
            "--config",
            "/nonexistent/roost.toml",
            "user",
            "list",
        ]);
        let e = load_config(&cli).expect_err("missing file");
        assert!(format!("{e:#}").contains("/nonexistent/roost.toml"));
    }

    #[test]
    fn read_line_strips_line_endings_only() {
        let mut input = std::io::Cursor::new(b" pass word \r\nsecond\n".to_vec());
        assert_eq!(
            read_line(&mut input).expect("line").expose(),
            b" pass word "
        );
        assert_eq!(read_line(&mut input).expect("line").expose(), b"second");
        let mut input = std::io::Cursor::new(b"no newline".to_vec());
        assert_eq!(read_line(&mut input).expect("line").expose(), b"no newline");
    }

    #[test]
    fn user_lifecycle() {
        let dir = TempDir::new("cli-users");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };

        let add = user_cmd(parse(&[
            "roost",
            "user",
            "add",
            "Alice",
            "--password-stdin",
        ]));
        let out = run(&add, &config, "hunter2\n").expect("add");
        assert_eq!(out, "added user alice (id 1)\n");
        let e = run(&add, &config, "again\n").expect_err("duplicate");
        assert!(format!("{e:#}").contains("already exists"), "{e:#}");

        let add_bob = user_cmd(parse(&["roost", "user", "add", "bob"]));
        run(&add_bob, &config, "pw\r\n").expect("add bob");

        let list = user_cmd(parse(&["roost", "user", "list"]));
        assert_eq!(run(&list, &config, "").expect("list"), "alice\nbob\n");

        let store = Store::open(&config.data_dir).expect("open");
        let alice = store.get_user("alice").expect("get").expect("exists");
        assert!(verify_password(b"hunter2", &alice.password_hash).expect("verify"));
        let bob = store.get_user("bob").expect("get").expect("exists");
        assert!(verify_password(b"pw", &bob.password_hash).expect("verify"));
        // `user add` gives the user INBOX and the special-use mailboxes.
        let r = store.read().expect("read");
        let names: Vec<String> = r
            .mailboxes(bob.id)
            .expect("mailboxes")
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(
            names,
            ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
        );
        drop(r);

        let passwd = user_cmd(parse(&[
            "roost",
            "user",
            "passwd",
            "alice",
            "--password-stdin",
        ]));
        run(&passwd, &config, "new pass\n").expect("passwd");
        let alice = store.get_user("alice").expect("get").expect("exists");
        assert!(verify_password(b"new pass", &alice.password_hash).expect("verify"));

        let del = user_cmd(parse(&["roost", "user", "del", "ALICE"]));
        assert_eq!(
            run(&del, &config, "").expect("del"),
            "deleted user alice (id 1) with 6 mailboxes and 0 messages\n"
        );
        let e = run(&del, &config, "").expect_err("already gone");
        assert!(format!("{e:#}").contains("no such user"), "{e:#}");
        let e = run(&passwd, &config, "x\n").expect_err("missing user");
        assert!(format!("{e:#}").contains("no such user"), "{e:#}");
        assert_eq!(run(&list, &config, "").expect("list"), "bob\n");
    }

    #[test]
    fn quota_show_set_clear_and_defaults() {
        let dir = TempDir::new("cli-quota");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let add = |name: &str| user_cmd(parse(&["roost", "user", "add", name, "--password-stdin"]));
        run(&add("dora"), &config, "pw\n").expect("add");
        let show = user_cmd(parse(&["roost", "user", "quota", "dora"]));
        assert_eq!(
            run(&show, &config, "").expect("show"),
            "dora: storage 0 KiB of unlimited, messages 0 of unlimited\n"
        );
        let set = user_cmd(parse(&[
            "roost",
            "user",
            "quota",
            "DORA",
            "--storage",
            "2G",
            "--messages",
            "1000",
        ]));
        assert_eq!(
            run(&set, &config, "").expect("set"),
            "dora: storage 0 KiB of 2097152 KiB, messages 0 of 1000\n"
        );
        let clear = user_cmd(parse(&[
            "roost",
            "user",
            "quota",
            "dora",
            "--messages",
            "unlimited",
        ]));
        assert_eq!(
            run(&clear, &config, "").expect("clear"),
            "dora: storage 0 KiB of 2097152 KiB, messages 0 of unlimited\n"
        );

        config.quota.messages = Some(10);
        assert_eq!(
            run(&add("eli"), &config, "pw\n").expect("add with defaults"),
            "added user eli (id 2)\nquota: storage 0 KiB of unlimited, messages 0 of 10\n"
        );
        let list = user_cmd(parse(&["roost", "user", "list", "--quota"]));
        assert_eq!(
            run(&list, &config, "").expect("list"),
            "dora: storage 0 KiB of 2097152 KiB, messages 0 of unlimited\n\
             eli: storage 0 KiB of unlimited, messages 0 of 10\n"
        );

        let nobody = user_cmd(parse(&["roost", "user", "quota", "nobody"]));
        let e = run(&nobody, &config, "").expect_err("no such user");
        assert!(format!("{e:#}").contains("no such user"), "{e:#}");
        for bad in [
            &["roost", "user", "quota", "dora", "--storage", "100"][..],
            &["roost", "user", "quota", "dora", "--messages", "-1"],
            &["roost", "user", "quota", "dora", "--storage", "lots"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_password_and_bad_name_are_refused() {
        let dir = TempDir::new("cli-refuse");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let add = user_cmd(parse(&[
            "roost",
            "user",
            "add",
            "carol",
            "--password-stdin",
        ]));
        let e = run(&add, &config, "\n").expect_err("empty");
        assert!(format!("{e:#}").contains("empty password"), "{e:#}");
        let e = run(&add, &config, "").expect_err("no input");
        assert!(format!("{e:#}").contains("empty password"), "{e:#}");

        let bad = user_cmd(parse(&["roost", "user", "add", ".carol"]));
        let e = run(&bad, &config, "pw\n").expect_err("bad name");
        assert!(format!("{e:#}").contains("invalid user name"), "{e:#}");
        let list = user_cmd(parse(&["roost", "user", "list"]));
        assert_eq!(run(&list, &config, "").expect("list"), "");
    }
}
