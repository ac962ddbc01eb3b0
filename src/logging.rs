//! Logging: one tracing subscriber for the process, writing to stderr.
//!
//! Under systemd, when `JOURNAL_STREAM` says stderr is the journal, events
//! go to journald itself (tracing-journald): each field (user, peer, the
//! connection's id, command) is a journal field, `journalctl -u roost
//! F_USER=alice` finds them. `[log] format = "json"` keeps JSON on stderr
//! even then. If the journal's socket cannot be reached, the text goes to
//! stderr without timestamp and colours (the journal stamps lines itself).
//! On a terminal, coloured text; elsewhere plain text. `RUST_LOG`, when set
//! and valid, overrides the configured level, for debugging one run without
//! editing the config.
//!
//! Nothing here decides what is logged; callers must never log passwords
//! or message content.
//!
//! The lines an administrator acts on (APPEND, COPY, MOVE, EXPUNGE and
//! deliveries, at INFO) share one vocabulary: `mailbox` (the source, or
//! where mail went), `dest` (COPY/MOVE's destination), `uidvalidity` (the
//! destination's for COPY/MOVE), `uids` (a UID set, `Uids` below),
//! `dest_uids`, `count` (messages) and `size` (octets, RFC822.SIZE summed).

use std::io::IsTerminal as _;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::LogConfig;

/// The filter of the installed subscriber, so a reload can change it.
static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Installs the global subscriber. Calling it again (as tests do) keeps the
/// first one.
pub fn init(cfg: &LogConfig) {
    let (filter, rejected) = filter(cfg, std::env::var("RUST_LOG").ok().as_deref());
    let to_journal = std::env::var("JOURNAL_STREAM")
        .ok()
        .is_some_and(|v| stderr_is(&v));
    let (filter, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(true);
    let mut journal_error = None;
    let journal = if to_journal && !cfg.json {
        tracing_journald::layer()
            .map_err(|e| journal_error = Some(e))
            .ok()
    } else {
        None
    };
    let fmt: Box<dyn Layer<_> + Send + Sync> = if cfg.json {
        Box::new(fmt.json())
    } else if let Some(journal) = journal {
        Box::new(journal)
    } else if to_journal {
        Box::new(fmt.without_time().with_ansi(false))
    } else {
        Box::new(fmt.with_ansi(std::io::stderr().is_terminal()))
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
    if installed.is_ok() {
        let _ = FILTER.set(handle);
        if let Some((value, error)) = rejected {
            tracing::warn!(%value, %error, "ignoring invalid RUST_LOG; using log.level");
        }
        if let Some(error) = journal_error {
            tracing::warn!(%error, "cannot reach the journal's socket; logging to stderr");
        }
    }
}

/// Whether `JOURNAL_STREAM` (`DEVICE:INODE`, as systemd sets it) names
/// this process's stderr: a child that inherited the variable but not the
/// stream must not log to the journal.
fn stderr_is(journal_stream: &str) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Some((dev, ino)) = journal_stream.trim().split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    // The magic link stats as the stream itself (a socket, under systemd).
    std::fs::metadata("/proc/self/fd/2").is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// Applies `cfg.level` to the running subscriber (a reload), unless
/// `RUST_LOG` chose the filter. The format stays as it started. Returns
/// the filter now in force.
pub fn set_level(cfg: &LogConfig) -> Result<String, String> {
    let (filter, _) = filter(cfg, std::env::var("RUST_LOG").ok().as_deref());
    let shown = filter.to_string();
    match FILTER.get() {
        Some(handle) => handle.reload(filter).map_err(|e| e.to_string())?,
        None => return Err("no log subscriber is installed".to_owned()),
    }
    Ok(shown)
}

/// An error with its causes, `outer: inner: innermost`, each said once.
/// Several error types repeat their source in their own text (`{source}`
/// and `#[source]` both), which `{:#}` would print twice ("Permission
/// denied (os error 13): Permission denied (os error 13)"): a cause whose
/// text already ends what was said is left out.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// The filter to use: `RUST_LOG` if set and valid, else the configured
/// level, else `info`. Also returns an invalid `RUST_LOG` and why.
fn filter(cfg: &LogConfig, rust_log: Option<&str>) -> (EnvFilter, Option<(String, String)>) {
    let mut rejected = None;
    if let Some(value) = rust_log.filter(|v| !v.trim().is_empty()) {
        match EnvFilter::builder().parse(value) {
            Ok(f) => return (f, None),
            Err(e) => rejected = Some((value.to_owned(), e.to_string())),
        }
    }
    // The config loader already checked the level; "info" only guards a
    // Config built in code.
    let configured = EnvFilter::builder()
        .parse(&cfg.level)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    (configured, rejected)
}

/// A duration as plain milliseconds with three decimals (`0.187`,
/// `1520.004`), never in exponent form, in text and JSON logs alike.
#[derive(Debug, Clone, Copy)]
pub struct Millis(pub std::time::Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = self.0.as_micros();
        write!(f, "{}.{:03}", micros / 1000, micros % 1000)
    }
}

/// How long a logged UID set may get before it is cut: a COPY of 100,000
/// scattered messages must not make a megabyte-long line. The line's
/// `count` field says how many there were.
pub const MAX_UIDS_CHARS: usize = 200;

/// UIDs as an IMAP UID set (`4:7,9`), runs of consecutive UIDs folded, cut
/// after `MAX_UIDS_CHARS` at a whole element with `...` added. The UIDs
/// are taken in the order given (the store hands them over ascending).
#[derive(Debug, Clone, Copy)]
pub struct Uids<'a>(pub &'a [u32]);

impl std::fmt::Display for Uids<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        let mut rest = self.0.iter().copied().peekable();
        while let Some(first) = rest.next() {
            let mut last = first;
            while rest.peek() == Some(&last.wrapping_add(1)) && last != u32::MAX {
                last += 1;
                rest.next();
            }
            let element = if last == first {
                first.to_string()
            } else {
                format!("{first}:{last}")
            };
            let sep = usize::from(!out.is_empty());
            if out.len() + sep + element.len() > MAX_UIDS_CHARS {
                out.push_str(if out.is_empty() { "..." } else { ",..." });
                break;
            }
            if sep == 1 {
                out.push(',');
            }
            out.push_str(&element);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(level: &str) -> LogConfig {
        LogConfig {
            level: level.into(),
            json: false,
        }
    }

    #[test]
    fn rust_log_overrides_config() {
        let (f, rejected) = filter(&cfg("info"), Some("roost=trace"));
        assert_eq!(f.to_string(), "roost=trace");
        assert!(rejected.is_none());
    }

    #[test]
    fn config_level_without_rust_log() {
        let (f, _) = filter(&cfg("warn,roost=debug"), None);
        let shown = f.to_string();
        assert!(
            shown.contains("roost=debug") && shown.contains("warn"),
            "{shown}"
        );
        let (f, _) = filter(&cfg("error"), Some("  "));
        assert_eq!(f.to_string(), "error");
    }

    #[test]
    fn invalid_rust_log_falls_back_and_is_reported() {
        let (f, rejected) = filter(&cfg("debug"), Some("roost=loud"));
        assert_eq!(f.to_string(), "debug");
        assert_eq!(rejected.map(|r| r.0), Some("roost=loud".to_owned()));
    }

    #[test]
    fn error_chain_says_a_repeated_cause_once() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let store = crate::store::StoreError::Io {
            path: "/var/lib/roost/store".into(),
            source: io,
        };
        let e = anyhow::Error::new(store).context("opening the store in /var/lib/roost");
        let text = error_chain(&e);
        assert_eq!(text.matches("permission denied").count(), 1, "{text}");
        assert!(
            text.starts_with("opening the store in /var/lib/roost: cannot create"),
            "{text}"
        );
        // Distinct causes all stay.
        let e = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(error_chain(&e), "outer: middle: inner");
    }

    #[test]
    fn init_twice_is_harmless() {
        init(&cfg("info"));
        init(&LogConfig {
            level: "debug".into(),
            json: true,
        });
    }

    #[test]
    fn journal_stream_must_name_stderr() {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata("/proc/self/fd/2").expect("stderr");
        assert!(stderr_is(&format!("{}:{}", m.dev(), m.ino())));
        assert!(!stderr_is(&format!("{}:{}", m.dev(), m.ino() + 1)));
        assert!(!stderr_is("garbage"));
        assert!(!stderr_is("1:"));
    }

    #[test]
    fn millis_are_plain_decimals() {
        use std::time::Duration;
        assert_eq!(Millis(Duration::from_nanos(18_743)).to_string(), "0.018");
        assert_eq!(
            Millis(Duration::from_micros(1_520_004)).to_string(),
            "1520.004"
        );
        assert_eq!(Millis(Duration::ZERO).to_string(), "0.000");
    }

    #[test]
    fn uids_fold_runs() {
        assert_eq!(Uids(&[4, 5, 6, 7, 9]).to_string(), "4:7,9");
        assert_eq!(Uids(&[1]).to_string(), "1");
        assert_eq!(Uids(&[]).to_string(), "");
        assert_eq!(Uids(&[2, 3, 10, 12, 13]).to_string(), "2:3,10,12:13");
        assert_eq!(
            Uids(&[u32::MAX - 1, u32::MAX]).to_string(),
            "4294967294:4294967295"
        );
    }

    #[test]
    fn uids_are_cut_at_a_whole_element() {
        // Every other UID: nothing folds.
        let many: Vec<u32> = (1..200_000).step_by(2).collect();
        let text = Uids(&many).to_string();
        assert!(text.len() <= MAX_UIDS_CHARS + 4, "{}", text.len());
        assert!(text.starts_with("1,3,5,"), "{text}");
        assert!(text.ends_with(",..."), "{text}");
        let kept = text.trim_end_matches(",...");
        assert!(kept.split(',').all(|e| e.parse::<u32>().is_ok()), "{text}");
        // One run folds whatever its length.
        let run: Vec<u32> = (1..=100_000).collect();
        assert_eq!(Uids(&run).to_string(), "1:100000");
    }
}
