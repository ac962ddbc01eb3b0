//! Moving a user's mail in and out of the store: `roost import` from
//! Maildir++ folders (`maildir`), mbox files (`mbox`) and another IMAP
//! server (`remote`), `roost export` back to the first two.
//!
//! Below the protocols and beside them: an import is one more client of
//! the mail service. It opens the store itself and writes through the
//! store's single writer (`MailAccess::submit`), like `roost deliver`, so
//! it works while the server runs (LMDB serialises the two processes'
//! writers) and IMAP sessions see the new mail at their next command.
//!
//! **What "already there" means.** A message is skipped when its target
//! mailbox already holds a message with the same bytes as it would be
//! stored (SHA-256 of the CRLF form, after mbox status headers are taken
//! out), counted with multiplicity: a source with two identical copies
//! gets two. Flags of a message that is already there are left as they are.
//!
//! Memory is bounded by the largest message (at most `max_message` bytes;
//! a larger one is reported and skipped), the writes in flight
//! (`MAX_IN_FLIGHT_BYTES`), and 40 bytes per message of the mailbox being
//! imported into (the digests).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest as _, Sha256};

use crate::mailbox::{self, MailAccess, MailError, MailResult, MailWrite, MailWriteOk};
use crate::store::{self, Store};
use crate::types::Flag;

pub mod maildir;
pub mod mbox;
pub mod remote;

/// The hierarchy delimiter of the server's mailbox names.
pub const DELIMITER: char = '/';

/// Appends queued with the writer before the oldest must be durable: enough
/// for the writer to group many into one commit.
const MAX_IN_FLIGHT: usize = 256;
const MAX_IN_FLIGHT_BYTES: usize = 32 * 1024 * 1024;

/// The keyword Maildir's `P` (passed) flag stands for (RFC 5550).
pub const FORWARDED: &str = "$Forwarded";

/// One message read from a source, ready to be stored.
pub struct Incoming {
    /// As stored: every LF that ends a line is CRLF (`to_crlf`).
    pub raw: Vec<u8>,
    pub flags: Vec<Flag>,
    pub date: DateTime<FixedOffset>,
    /// Where it came from, for reports: a path, or a path and line.
    pub origin: String,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub imported: u64,
    /// Already in the target mailbox (the dedup key above).
    pub already: u64,
    pub damaged: u64,
    pub too_large: u64,
    /// Refused by the store (an invalid keyword, a mailbox that cannot be made).
    pub refused: u64,
    pub mailboxes_created: u64,
}

impl Stats {
    /// Whether every message of the source is in the store now.
    pub fn complete(&self) -> bool {
        self.damaged == 0 && self.too_large == 0 && self.refused == 0
    }
}

type Pending = Pin<Box<dyn Future<Output = MailResult<MailWriteOk>>>>;

/// Writes messages into one user's mailboxes, skipping those already
/// there, with the writes pipelined through the store's writer.
pub struct Importer {
    store: Store,
    mail: MailAccess,
    user_id: u64,
    user: String,
    rt: tokio::runtime::Runtime,
    pub max_message: usize,
    pending: VecDeque<(Pending, usize, String)>,
    pending_bytes: usize,
    /// The mailbox messages go to now, and how many copies of each digest
    /// it holds that no source message has claimed yet.
    current: Option<(u64, String)>,
    existing: HashMap<[u8; 32], u32>,
    pub stats: Stats,
    pub progress: ProgressBar,
    started: Instant,
}

impl Importer {
    /// Opens the store in `data_dir` for the user `user`, who must exist.
    pub fn open(data_dir: &Path, user: &str, max_message: usize) -> anyhow::Result<Importer> {
        let store = Store::open(data_dir)
            .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
        let writer = store.start_writer().context("starting the store writer")?;
        let mail = MailAccess::new(store.clone(), writer);
        let Some(user_id) = mail.user_id(user)? else {
            bail!("no such user: {user} (add it first with `roost user add {user}`)");
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting a runtime")?;
        Ok(Importer {
            store,
            mail,
            user_id,
            user: store::normalize_user_name(user)?,
            rt,
            max_message,
            pending: VecDeque::new(),
            pending_bytes: 0,
            current: None,
            existing: HashMap::new(),
            stats: Stats::default(),
            progress: progress_bar(),
            started: Instant::now(),
        })
    }

    /// Says something about one message or folder, above the progress bar.
    pub fn report(&self, line: &str) {
        self.progress.suspend(|| eprintln!("roost import: {line}"));
    }

    pub fn damaged(&mut self, origin: &str, why: &str) {
        self.stats.damaged += 1;
        self.report(&format!("{origin}: damaged, skipped: {why}"));
    }

    pub fn too_large(&mut self, origin: &str, size: u64) {
        self.stats.too_large += 1;
        self.report(&format!(
            "{origin}: {size} bytes, larger than the limit of {} (limits.max_append_bytes), skipped",
            self.max_message
        ));
    }

    /// Messages of a folder that cannot become a mailbox.
    pub fn refused(&mut self, count: u64) {
        self.stats.refused += count;
    }

    /// Makes `name` the mailbox the next messages go to, creating (and
    /// subscribing) it if the user has none by that name. `Ok(false)`, said
    /// on stderr, if the store refuses the name.
    pub fn mailbox(&mut self, name: &str) -> anyhow::Result<bool> {
        self.drain(0)?;
        let found = self.mail.read(|r| r.mailbox(self.user_id, name))?;
        let info = match found {
            Some(m) if !m.noselect => m,
            _ => {
                let created = self.rt.block_on(self.mail.write(
                    self.user_id,
                    MailWrite::Create {
                        name: name.to_owned(),
                        special_use: Vec::new(),
                    },
                ));
                match created {
                    Ok(_) => {}
                    Err(MailError::Invalid(why)) => {
                        self.report(&format!("mailbox {name:?} cannot be made: {why}"));
                        return Ok(false);
                    }
                    Err(e) => return Err(e).with_context(|| format!("creating mailbox {name}")),
                }
                self.stats.mailboxes_created += 1;
                // A mailbox made for the user is one they want to see.
                self.rt
                    .block_on(self.mail.write(
                        self.user_id,
                        MailWrite::Subscribe {
                            name: name.to_owned(),
                        },
                    ))
                    .with_context(|| format!("subscribing to {name}"))?;
                self.mail
                    .read(|r| r.mailbox(self.user_id, name))?
                    .with_context(|| format!("mailbox {name} vanished as it was made"))?
            }
        };
        self.existing.clear();
        let r = self.store.read()?;
        for m in r.messages(info.id)? {
            if let Some(body) = r.body(m.body_id)? {
                *self.existing.entry(digest(body)).or_default() += 1;
            }
        }
        drop(r);
        self.current = Some((info.id, info.name));
        Ok(true)
    }

    /// Stores one message in the current mailbox unless it is there already.
    pub fn add(&mut self, msg: Incoming) -> anyhow::Result<()> {
        let Some((mailbox_id, _)) = &self.current else {
            bail!("no mailbox chosen before {}", msg.origin);
        };
        let mailbox_id = *mailbox_id;
        let key = digest(&msg.raw);
        if let Some(n) = self.existing.get_mut(&key)
            && *n > 0
        {
            *n -= 1;
            self.stats.already += 1;
            return Ok(());
        }
        let size = msg.raw.len();
        let new = mailbox::imported_message(msg.raw, &msg.flags, msg.date);
        let fut = self.mail.submit(store::WriteOp::Append {
            mailbox_id,
            message: new,
        });
        self.pending.push_back((Box::pin(fut), size, msg.origin));
        self.pending_bytes += size;
        self.drain(MAX_IN_FLIGHT)
    }

    /// Waits for queued appends until at most `keep` are in flight (and
    /// their bytes are under the bound).
    fn drain(&mut self, keep: usize) -> anyhow::Result<()> {
        while self.pending.len() > keep
            || (keep > 0 && self.pending_bytes > MAX_IN_FLIGHT_BYTES && !self.pending.is_empty())
        {
            let Some((fut, size, origin)) = self.pending.pop_front() else {
                break;
            };
            self.pending_bytes -= size;
            match self.rt.block_on(fut) {
                Ok(_) => self.stats.imported += 1,
                Err(MailError::Invalid(why)) => {
                    self.stats.refused += 1;
                    self.report(&format!("{origin}: refused by the store, skipped: {why}"));
                }
                Err(MailError::OverQuota(what)) => {
                    bail!(
                        "{} is over quota ({what}) at {origin}: {} messages imported before it",
                        self.user,
                        self.stats.imported
                    )
                }
                Err(e) => return Err(e).with_context(|| format!("storing {origin}")),
            }
        }
        Ok(())
    }

    /// Waits until every queued message is durable; the summary line.
    pub fn finish(mut self) -> anyhow::Result<(Stats, String)> {
        self.drain(0)?;
        self.progress.finish_and_clear();
        let s = &self.stats;
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            s.imported as f64 / secs
        } else {
            0.0
        };
        let line = format!(
            "imported {} messages for {} ({} mailboxes created); {} already there, {} damaged, \
             {} too large, {} refused; {:.1} s, {:.0} messages/s",
            s.imported,
            self.user,
            s.mailboxes_created,
            s.already,
            s.damaged,
            s.too_large,
            s.refused,
            secs,
            rate
        );
        Ok((self.stats, line))
    }
}

/// A progress bar on stderr, drawn only on a terminal.
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(bar_style("{wide_bar} {pos}/{len} {msg} ({per_sec}, {eta})"));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A progress bar style from an indicatif template.
pub fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The dedup key: SHA-256 of the message as stored.
fn digest(raw: &[u8]) -> [u8; 32] {
    Sha256::digest(raw).into()
}

/// LF line ends as CRLF, as the store keeps messages; a CRLF stays, a
/// bare CR too, so `from_crlf` gives an LF source back exactly.
pub fn to_crlf(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 2);
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', input) {
        if i > 0 && input[i - 1] == b'\r' {
            continue;
        }
        out.extend_from_slice(&input[last..i]);
        out.extend_from_slice(b"\r\n");
        last = i + 1;
    }
    out.extend_from_slice(&input[last..]);
    out
}

/// A stored message's CRLF line ends as LF, as Maildir and mbox files
/// have them.
pub fn from_crlf(input: &[u8], out: &mut Vec<u8>) {
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', input) {
        if i > 0 && input[i - 1] == b'\r' {
            out.extend_from_slice(&input[last..i - 1]);
            out.push(b'\n');
            last = i + 1;
        }
    }
    out.extend_from_slice(&input[last..]);
}

/// Why `raw` is not a message, if it is not: it must start with a header
/// field, every line of its header must be a field or a continuation, and
/// it may hold no NUL (IMAP cannot send one in a message).
pub fn damage(raw: &[u8]) -> Option<String> {
    if raw.is_empty() {
        return Some("the file is empty".into());
    }
    if memchr::memchr(0, raw).is_some() {
        return Some("it holds NUL bytes".into());
    }
    for (n, line) in raw.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return (n == 0).then(|| "it has no header".into());
        }
        if n > 0 && (line[0] == b' ' || line[0] == b'\t') {
            continue;
        }
        let name_len = line.iter().position(|&b| b == b':');
        let good = name_len
            .is_some_and(|len| len > 0 && line[..len].iter().all(|&b| (33..=126).contains(&b)));
        if !good {
            return Some(format!("header line {} is not a header field", n + 1));
        }
    }
    None
}

/// The store's flags of a message as the export formats need them.
pub struct StoredFlags {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
    pub keywords: Vec<String>,
}

impl StoredFlags {
    pub fn of(m: &store::MessageInfo) -> StoredFlags {
        use store::Flags as F;
        StoredFlags {
            seen: m.flags.contains(F::SEEN),
            answered: m.flags.contains(F::ANSWERED),
            flagged: m.flags.contains(F::FLAGGED),
            deleted: m.flags.contains(F::DELETED),
            draft: m.flags.contains(F::DRAFT),
            keywords: m.keywords.clone(),
        }
    }
}

/// What an export reads: the store, opened for one user.
pub struct Source {
    pub store: Store,
    pub user_id: u64,
    pub user: String,
}

impl Source {
    pub fn open(data_dir: &Path, user: &str) -> anyhow::Result<Source> {
        let store = Store::open(data_dir)
            .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
        let name = match store::normalize_user_name(user) {
            Ok(name) => name,
            Err(_) => bail!("no such user: {user}"),
        };
        let Some(u) = store.get_user(&name)? else {
            bail!("no such user: {user}");
        };
        Ok(Source {
            store,
            user_id: u.id,
            user: name,
        })
    }

    /// The user's selectable mailboxes, by name, and their message counts.
    pub fn mailboxes(&self) -> anyhow::Result<Vec<(u64, String, u32)>> {
        let r = self.store.read()?;
        let mut v: Vec<(u64, String, u32)> = r
            .mailboxes(self.user_id)?
            .into_iter()
            .filter(|m| !m.noselect)
            .map(|m| (m.id, m.name, m.messages))
            .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(v)
    }
}

/// A directory an export may write into: new, or empty.
pub fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: export into a new directory",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

/// Flushes what an export wrote to disk: one `syncfs` for the whole
/// filesystem rather than an fsync per file.
#[allow(unsafe_code)]
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd as _;
    let f = std::fs::File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    // SAFETY: syncfs takes an open descriptor, which `f` holds until after the call.
    let rc = unsafe { libc::syncfs(f.as_raw_fd()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("flushing {} to disk", dir.display()));
    }
    Ok(())
}

/// What an export did, as one line.
pub fn export_summary(user: &str, messages: u64, mailboxes: u64, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        messages as f64 / secs
    } else {
        0.0
    };
    format!(
        "exported {messages} messages of {user} from {mailboxes} mailboxes; {secs:.1} s, \
         {rate:.0} messages/s"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_round_trip_of_lf_text_is_exact() {
        for text in [&b"a\nb\n\nc"[..], b"", b"\n\n", b"x\ry\n", b"no newline"] {
            let crlf = to_crlf(text);
            assert!(!crlf.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
            let mut back = Vec::new();
            from_crlf(&crlf, &mut back);
            assert_eq!(back, text);
        }
        assert_eq!(to_crlf(b"a\r\nb\n"), b"a\r\nb\r\n");
    }

    #[test]
    fn damage_finds_what_is_not_a_message() {
        assert_eq!(damage(b"Subject: x\n\nbody\n"), None);
        assert_eq!(damage(b"Subject: x\n folded\nTo: y\n"), None);
        assert!(damage(b"").is_some());
        assert!(damage(b"\nbody").is_some());
        assert!(damage(b"not a header\n\nbody").is_some());
        assert!(damage(b" Subject: x\n\n").is_some());
        assert!(damage(b"Subject: x\n\nbo\0dy").is_some());
    }
}
