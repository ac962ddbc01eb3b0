//! Configuration: the validated `Config` the server runs with, built from
//! built-in defaults, an optional TOML file and command-line overrides.
//!
//! The file is read in two steps. First it is deserialised into `Raw*`
//! structs that mirror the file exactly (`deny_unknown_fields`, every value
//! optional and wrapped in `Spanned` so its position is known). Then
//! `validate` turns the raw values into `Config`, checking ranges and
//! cross-field rules. Every error names the file, the dotted key
//! (`limits.max_line_bytes`), the line and column, and what is wrong.
//!
//! This module owns the file format; `packaging/roost.toml` documents every
//! key and must be kept in step with `Raw*` below. It does not open sockets
//! or files other than the config file itself.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use toml::Spanned;

use crate::imap::proto::frame::FrameLimits;
use crate::imap::proto::parse::ParseLimits;
use crate::lmtp::session::{Limits as LmtpLimits, OverQuota};

/// When LOGIN and AUTHENTICATE are allowed on a connection without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaintextAuth {
    /// Never: LOGINDISABLED until STARTTLS.
    Never,
    /// Only from loopback peers (the default: local tools and tests, never
    /// the network).
    Loopback,
    /// Always (only behind a trusted TLS-terminating proxy).
    Always,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was read from; `None` for the built-in defaults. A
    /// reload (SIGHUP) reads it again.
    pub file: Option<PathBuf>,
    /// Where the LMDB store (and later the index) lives.
    pub data_dir: PathBuf,
    /// Plain IMAP with STARTTLS; `None` disables it.
    pub imap_listen: Option<SocketAddr>,
    /// Implicit-TLS IMAP (RFC 8314); `None` disables it.
    pub imaps_listen: Option<SocketAddr>,
    pub tls: TlsConfig,
    pub plaintext_auth: PlaintextAuth,
    pub timeouts: Timeouts,
    pub frame_limits: FrameLimits,
    pub parse_limits: ParseLimits,
    pub auth: AuthConfig,
    pub log: LogConfig,
    /// `[search] index`: keep the full-text search index (on by default).
    /// Off, SEARCH scans every message; answers are the same.
    pub search_index: bool,
    pub quota: QuotaDefaults,
    /// `[limits] max_connections`, `max_connections_per_ip`,
    /// `max_connections_per_user`.
    pub conn_limits: crate::conn_limits::ConnLimitConfig,
    pub lmtp: LmtpConfig,
    pub admin: AdminConfig,
    /// `[metrics] listen`: a listener of its own for `/metrics`, besides
    /// the admin listener's; `None` (unset or `off`) for none.
    pub metrics_listen: Option<SocketAddr>,
}

/// Where LMTP listens: a TCP address or a unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LmtpListen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl fmt::Display for LmtpListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LmtpListen::Tcp(a) => write!(f, "{a}"),
            LmtpListen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Parses `ADDR:PORT` or `unix:PATH` (the config file and `--lmtp`).
pub fn parse_lmtp_listen(s: &str) -> Result<LmtpListen, String> {
    let s = s.trim();
    if let Some(path) = s.strip_prefix("unix:") {
        if path.is_empty() {
            return Err("`unix:` needs a path, like unix:/run/roost/lmtp.sock".into());
        }
        return Ok(LmtpListen::Unix(PathBuf::from(path)));
    }
    s.parse::<SocketAddr>().map(LmtpListen::Tcp).map_err(|_| {
        format!("`{s}` is neither an address and port like `127.0.0.1:24` nor `unix:PATH`")
    })
}

/// `[lmtp]`: mail delivery from an MTA (RFC 2033).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmtpConfig {
    /// `None`: the zero-config unix socket `<data_dir>/lmtp.sock`; an empty
    /// list disables LMTP.
    pub listen: Option<Vec<LmtpListen>>,
    /// The name in the greeting, LHLO and `Received:`; the host name if unset.
    pub hostname: Option<String>,
    /// Domains whose addresses are local, lower case; empty means any.
    pub domains: Vec<String>,
    /// `user+tag@…` goes to the mailbox `tag` when it exists.
    pub plus_to_mailbox: bool,
    pub over_quota: OverQuota,
    /// Owner, group and mode given to unix sockets (so that Postfix, as
    /// user `postfix`, can connect).
    pub socket_owner: Option<String>,
    pub socket_group: Option<String>,
    pub socket_mode: u32,
    pub limits: LmtpLimits,
}

impl Default for LmtpConfig {
    fn default() -> LmtpConfig {
        LmtpConfig {
            listen: None,
            hostname: None,
            domains: Vec::new(),
            plus_to_mailbox: false,
            over_quota: OverQuota::Permanent,
            socket_owner: None,
            socket_group: None,
            socket_mode: 0o660,
            limits: LmtpLimits::default(),
        }
    }
}

impl LmtpConfig {
    /// The listeners to open: the configured ones, or the default socket.
    pub fn listeners(&self, data_dir: &Path) -> Vec<LmtpListen> {
        match &self.listen {
            Some(list) => list.clone(),
            None => vec![LmtpListen::Unix(data_dir.join("lmtp.sock"))],
        }
    }
}

/// `[admin]`: the web panel and the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminConfig {
    /// `None` disables the panel and the API (`listen = "off"`).
    pub listen: Option<SocketAddr>,
    /// HTTPS with the server's certificate (`[tls]`) instead of HTTP.
    pub tls: bool,
    /// A panel session ends after this long without a request...
    pub session_idle: Duration,
    /// ...and this long after sign-in in any case.
    pub session_max: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            tls: false,
            session_idle: Duration::from_secs(30 * 60),
            session_max: Duration::from_secs(12 * 3600),
        }
    }
}

/// Parses the admin listen address: like `parse_listen`, and `off`
/// disables too.
pub fn parse_admin_listen(s: &str) -> Result<Option<SocketAddr>, String> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    parse_listen(s).map_err(|_| {
        format!(
            "`{}` is not an address and port like `127.0.0.1:8080`, or `off`",
            s.trim()
        )
    })
}

/// Limits `roost user add` gives new users (RFC 9208 resources); `None`
/// is unlimited, the default. Existing users keep theirs: change them with
/// `roost user quota`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaDefaults {
    /// STORAGE, in KiB.
    pub storage_kib: Option<u64>,
    pub messages: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM certificate chain and key; when both are `None` a self-signed
    /// certificate is generated on first start and kept in the data dir.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Autologout before authentication (RFC 3501 §5.4 allows any; short
    /// keeps idle scanners from holding sockets).
    pub unauthenticated: Duration,
    /// Autologout once authenticated: at least 30 minutes (RFC 3501 §5.4).
    pub authenticated: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct AuthConfig {
    /// Added to every failed attempt, the same for unknown users and wrong
    /// passwords, so neither timing nor text tells them apart.
    pub failure_delay: Duration,
    /// Failures from one IP within `window` before further attempts from it
    /// are refused with `[UNAVAILABLE]` without checking.
    pub max_failures_per_ip: u32,
    /// Failures for one user name within `window` before further attempts
    /// for it are refused (counted whether or not the user exists).
    pub max_failures_per_user: u32,
    pub window: Duration,
    /// How long a verified password is remembered (as a keyed digest) so
    /// that reconnecting skips argon2; zero turns it off.
    pub credential_cache_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A tracing-subscriber `EnvFilter` directive, e.g. `info` or `roost=debug`.
    pub level: String,
    pub json: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            file: None,
            data_dir: PathBuf::from("./roost-data"),
            imap_listen: Some(SocketAddr::from(([127, 0, 0, 1], 1143))),
            imaps_listen: Some(SocketAddr::from(([127, 0, 0, 1], 1993))),
            tls: TlsConfig {
                cert: None,
                key: None,
            },
            plaintext_auth: PlaintextAuth::Loopback,
            timeouts: Timeouts {
                unauthenticated: Duration::from_secs(60),
                authenticated: Duration::from_secs(30 * 60),
            },
            frame_limits: FrameLimits::default(),
            parse_limits: ParseLimits::default(),
            auth: AuthConfig {
                failure_delay: Duration::from_secs(1),
                max_failures_per_ip: 20,
                max_failures_per_user: 10,
                window: Duration::from_secs(300),
                credential_cache_ttl: crate::auth::cache::DEFAULT_TTL,
            },
            log: LogConfig {
                level: "info".into(),
                json: false,
            },
            quota: QuotaDefaults::default(),
            conn_limits: crate::conn_limits::ConnLimitConfig::default(),
            search_index: true,
            lmtp: LmtpConfig::default(),
            admin: AdminConfig::default(),
            metrics_listen: None,
        }
    }
}

impl Config {
    /// The configuration the server runs with: built-in defaults when `path`
    /// is `None`, otherwise the file, validated. Command-line overrides are
    /// applied afterwards by the caller (see `cli::load_config`).
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config = Config::from_toml_str(&text, path)?;
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates `text`; `origin` is only used in error messages.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span();
            let key = span.as_ref().and_then(|s| key_at(text, s.start));
            ConfigError::new(origin, text, key, span, e.message().trim_end().to_owned())
        })?;
        validate(raw).map_err(|e| ConfigError::new(origin, text, Some(e.key), e.span, e.message))
    }
}

/// Parses a storage size as the config file and `roost user quota` accept
/// it: a number and a binary unit, `K`, `M`, `G` or `T` (`KiB`, `MB`, ...
/// alike, any case), e.g. `500M`. Returns KiB, the unit of the IMAP
/// STORAGE resource (RFC 9208 §5.1). A bare number is refused: bytes or
/// KiB would both be a plausible guess.
pub fn parse_storage_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = s.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 500M or 2G"))?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let kib_per_unit: u64 = match unit {
        "K" => 1,
        "M" => 1 << 10,
        "G" => 1 << 20,
        "T" => 1 << 30,
        "" => return Err(format!("`{s}` has no unit: give K, M, G or T (e.g. {s}M)")),
        other => return Err(format!("`{other}` is not a unit: give K, M, G or T")),
    };
    n.checked_mul(kib_per_unit)
        .filter(|kib| *kib <= i64::MAX as u64 / 1024)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Parses a listen address as the config file and the command line accept
/// it: `ADDR:PORT` (`[::]:143` for IPv6), or `""` for "disabled".
pub fn parse_listen(s: &str) -> Result<Option<SocketAddr>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<SocketAddr>().map(Some).map_err(|_| {
        format!("`{s}` is not an address and port like `0.0.0.0:143` or `[::]:143` (\"\" disables)")
    })
}

/// A configuration file error that says where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// The dotted key (`limits.max_line_bytes`), when the error is about one.
    pub key: Option<String>,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl ConfigError {
    fn new(
        file: &Path,
        text: &str,
        key: Option<String>,
        span: Option<Range<usize>>,
        message: String,
    ) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            key,
            position: span.map(|s| line_col(text, s.start)),
            message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The dotted key whose name or value covers byte `offset`, found in the
/// spanned parse tree (toml's own errors carry a span but no public key path).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return key_by_text(text, offset);
    };
    let mut path = Vec::new();
    find_key(doc.get_ref(), offset, &mut path);
    if path.is_empty() {
        None
    } else {
        Some(path.join("."))
    }
}

/// For a file that is not valid TOML at all: the last `[section]` header
/// before the error and the bare key on the error's line, if it has one.
fn key_by_text(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split_once('=')?.0.trim();
    let bare = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !bare(key) {
        return None;
    }
    let section = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    Some(match section {
        Some(sec) if bare(sec) => format!("{sec}.{key}"),
        _ => key.to_string(),
    })
}

/// Table values' spans cover only their `[header]`, not the keys under it,
/// so every sub-table is searched whatever its span.
fn find_key(table: &toml::de::DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        if let Some(inner) = value.get_ref().as_table()
            && find_key(inner, offset, path)
        {
            return true;
        }
        if key.span().contains(&offset) || value.span().contains(&offset) {
            return true;
        }
        path.pop();
    }
    false
}

// ---------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<Spanned<String>>,
    #[serde(default)]
    imap: RawImap,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    quota: RawQuota,
    #[serde(default)]
    search: RawSearch,
    #[serde(default)]
    lmtp: RawLmtp,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    metrics: RawMetrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<Spanned<String>>,
    tls: Option<bool>,
    session_idle_secs: Option<Spanned<i64>>,
    session_max_secs: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLmtp {
    listen: Option<Vec<Spanned<String>>>,
    hostname: Option<Spanned<String>>,
    domains: Option<Vec<Spanned<String>>>,
    plus_to_mailbox: Option<bool>,
    over_quota: Option<Spanned<String>>,
    socket_owner: Option<Spanned<String>>,
    socket_group: Option<Spanned<String>>,
    socket_mode: Option<Spanned<String>>,
    max_line_bytes: Option<Spanned<i64>>,
    max_message_bytes: Option<Spanned<i64>>,
    max_recipients: Option<Spanned<i64>>,
    max_commands: Option<Spanned<i64>>,
    timeout_idle_secs: Option<Spanned<i64>>,
    timeout_session_secs: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuota {
    default_storage: Option<Spanned<String>>,
    default_messages: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    index: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImap {
    listen: Option<Spanned<String>>,
    listen_tls: Option<Spanned<String>>,
    plaintext_auth: Option<Spanned<String>>,
    timeout_unauthenticated_secs: Option<Spanned<i64>>,
    timeout_authenticated_secs: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_line_bytes: Option<Spanned<i64>>,
    max_literal_bytes: Option<Spanned<i64>>,
    max_append_bytes: Option<Spanned<i64>>,
    max_command_bytes: Option<Spanned<i64>>,
    max_nesting_depth: Option<Spanned<i64>>,
    max_params: Option<Spanned<i64>>,
    max_connections: Option<Spanned<i64>>,
    max_connections_per_ip: Option<Spanned<i64>>,
    max_connections_per_user: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    failure_delay_ms: Option<Spanned<i64>>,
    max_failures_per_ip: Option<Spanned<i64>>,
    max_failures_per_user: Option<Spanned<i64>>,
    window_secs: Option<Spanned<i64>>,
    credential_cache_secs: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
}

// ---------------------------------------------------------------------------
// Validation.

/// Accepted ranges. Lower bounds keep a typo from making the server unusable
/// (a 10-byte line limit, a zero window); upper bounds keep memory per
/// connection bounded and numbers within what IMAP can express.
const LINE_BYTES: (i64, i64) = (1024, 16 << 20);
const CONNECTIONS: (i64, i64) = (1, 1_000_000);
const CREDENTIAL_CACHE_SECS: (i64, i64) = (0, 86_400);
const LITERAL_BYTES: (i64, i64) = (1, 1 << 30);
/// RFC 3501 §9: a literal's length is a 32-bit number.
const APPEND_BYTES: (i64, i64) = (1, u32::MAX as i64);
const COMMAND_BYTES: (i64, i64) = (1024, 1 << 30);
/// The parser recurses per level; deeper than this is an attack, not mail.
const NESTING_DEPTH: (i64, i64) = (1, crate::imap::proto::parse::MAX_DEPTH_CAP as i64);
const PARAMS: (i64, i64) = (1, 1_000_000);
/// A minute to a week.
const ADMIN_SESSION_SECS: (i64, i64) = (60, 7 * 86_400);
const UNAUTH_TIMEOUT_SECS: (i64, i64) = (1, 86_400);
/// RFC 3501 §5.4: the autologout timer is at least 30 minutes once
/// authenticated. A week is far beyond any client's IDLE refresh.
const AUTH_TIMEOUT_SECS: (i64, i64) = (30 * 60, 7 * 86_400);
const FAILURE_DELAY_MS: (i64, i64) = (0, 60_000);
const MAX_FAILURES: (i64, i64) = (1, u32::MAX as i64);
const WINDOW_SECS: (i64, i64) = (1, 7 * 86_400);
/// RFC 5321 §4.5.3.1.4: a command line of 512 octets must be accepted.
const LMTP_LINE_BYTES: (i64, i64) = (512, 1 << 20);
/// Well under the store's 4 GiB per message, with room for the headers added.
const LMTP_MESSAGE_BYTES: (i64, i64) = (1024, 1 << 30);
/// RFC 5321 §4.5.3.1.8: at least 100 recipients.
const LMTP_RECIPIENTS: (i64, i64) = (100, 100_000);
const LMTP_COMMANDS: (i64, i64) = (10, 10_000_000);
const LMTP_TIMEOUT_SECS: (i64, i64) = (1, 7 * 86_400);
/// RFC 9208: limits are `number64`.
const QUOTA_MESSAGES: (i64, i64) = (0, i64::MAX);

struct KeyError {
    key: String,
    span: Option<Range<usize>>,
    message: String,
}

fn err<T>(key: &str, value: &Spanned<T>, message: impl Into<String>) -> KeyError {
    KeyError {
        key: key.to_owned(),
        span: Some(value.span()),
        message: message.into(),
    }
}

fn int_in(key: &str, value: &Spanned<i64>, (min, max): (i64, i64)) -> Result<i64, KeyError> {
    let v = *value.get_ref();
    if v < min || v > max {
        return Err(err(
            key,
            value,
            format!("{v} is out of range: must be {min} to {max}"),
        ));
    }
    Ok(v)
}

fn usize_in(key: &str, value: &Spanned<i64>, range: (i64, i64)) -> Result<usize, KeyError> {
    let v = int_in(key, value, range)?;
    usize::try_from(v).map_err(|_| err(key, value, format!("{v} is too large for this machine")))
}

fn u32_in(key: &str, value: &Spanned<i64>, range: (i64, i64)) -> Result<u32, KeyError> {
    let v = int_in(key, value, range)?;
    u32::try_from(v).map_err(|_| err(key, value, format!("{v} is out of range")))
}

fn secs_in(key: &str, value: &Spanned<i64>, range: (i64, i64)) -> Result<Duration, KeyError> {
    let v = int_in(key, value, range)?;
    Ok(Duration::from_secs(v.unsigned_abs()))
}

fn listen(key: &str, value: &Spanned<String>) -> Result<Option<SocketAddr>, KeyError> {
    parse_listen(value.get_ref()).map_err(|m| err(key, value, m))
}

fn non_empty_path(key: &str, value: &Spanned<String>) -> Result<PathBuf, KeyError> {
    if value.get_ref().trim().is_empty() {
        return Err(err(key, value, "must not be empty"));
    }
    Ok(PathBuf::from(value.get_ref()))
}

fn validate(raw: RawConfig) -> Result<Config, KeyError> {
    let mut c = Config::default();

    if let Some(v) = &raw.data_dir {
        c.data_dir = non_empty_path("data_dir", v)?;
    }

    // [imap]
    let imap = &raw.imap;
    if let Some(v) = &imap.listen {
        c.imap_listen = listen("imap.listen", v)?;
    }
    if let Some(v) = &imap.listen_tls {
        c.imaps_listen = listen("imap.listen_tls", v)?;
    }
    if let Some(v) = &imap.plaintext_auth {
        c.plaintext_auth = match v.get_ref().as_str() {
            "never" => PlaintextAuth::Never,
            "loopback" => PlaintextAuth::Loopback,
            "always" => PlaintextAuth::Always,
            other => {
                return Err(err(
                    "imap.plaintext_auth",
                    v,
                    format!("`{other}` is not one of `never`, `loopback`, `always`"),
                ));
            }
        };
    }
    if let Some(v) = &imap.timeout_unauthenticated_secs {
        c.timeouts.unauthenticated =
            secs_in("imap.timeout_unauthenticated_secs", v, UNAUTH_TIMEOUT_SECS)?;
    }
    if let Some(v) = &imap.timeout_authenticated_secs {
        let key = "imap.timeout_authenticated_secs";
        if *v.get_ref() < AUTH_TIMEOUT_SECS.0 {
            return Err(err(
                key,
                v,
                format!(
                    "{} is too short: RFC 3501 §5.4 requires at least 30 minutes ({} seconds)",
                    v.get_ref(),
                    AUTH_TIMEOUT_SECS.0
                ),
            ));
        }
        c.timeouts.authenticated = secs_in(key, v, AUTH_TIMEOUT_SECS)?;
    }

    // [tls]
    match (&raw.tls.cert, &raw.tls.key) {
        (None, None) => {}
        (Some(cert), Some(key)) => {
            c.tls.cert = Some(non_empty_path("tls.cert", cert)?);
            c.tls.key = Some(non_empty_path("tls.key", key)?);
        }
        (Some(cert), None) => {
            return Err(err(
                "tls.cert",
                cert,
                "is set but `tls.key` is not: set both, or neither for a generated certificate",
            ));
        }
        (None, Some(key)) => {
            return Err(err(
                "tls.key",
                key,
                "is set but `tls.cert` is not: set both, or neither for a generated certificate",
            ));
        }
    }

    // [limits]
    let l = &raw.limits;
    if let Some(v) = &l.max_line_bytes {
        c.frame_limits.max_line = usize_in("limits.max_line_bytes", v, LINE_BYTES)?;
    }
    if let Some(v) = &l.max_literal_bytes {
        c.frame_limits.max_literal = usize_in("limits.max_literal_bytes", v, LITERAL_BYTES)?;
    }
    if let Some(v) = &l.max_append_bytes {
        c.frame_limits.max_append_literal = usize_in("limits.max_append_bytes", v, APPEND_BYTES)?;
    }
    if let Some(v) = &l.max_command_bytes {
        c.frame_limits.max_command = usize_in("limits.max_command_bytes", v, COMMAND_BYTES)?;
    }
    if let Some(v) = &l.max_nesting_depth {
        c.parse_limits.max_depth = usize_in("limits.max_nesting_depth", v, NESTING_DEPTH)?;
    }
    if let Some(v) = &l.max_connections {
        c.conn_limits.total = usize_in("limits.max_connections", v, CONNECTIONS)?;
    }
    if let Some(v) = &l.max_connections_per_ip {
        c.conn_limits.per_ip = usize_in("limits.max_connections_per_ip", v, CONNECTIONS)?;
    }
    if let Some(v) = &l.max_connections_per_user {
        c.conn_limits.per_user = usize_in("limits.max_connections_per_user", v, CONNECTIONS)?;
    }
    if let Some(v) = &l.max_params {
        c.parse_limits.max_params = usize_in("limits.max_params", v, PARAMS)?;
    }
    // A command holds at least one line and any literal, so the whole-command
    // limit must admit both or those limits mean nothing.
    let fl = c.frame_limits;
    let checks = [
        ("limits.max_line_bytes", fl.max_line, &l.max_line_bytes),
        (
            "limits.max_literal_bytes",
            fl.max_literal,
            &l.max_literal_bytes,
        ),
    ];
    for (name, value, raw_value) in checks {
        if value <= fl.max_command {
            continue;
        }
        // Blame the key the file set: the smaller limit if it was written,
        // otherwise the command limit that was lowered under its default.
        let (key, span) = match (raw_value, &l.max_command_bytes) {
            (Some(v), _) => (name, Some(v.span())),
            (None, Some(v)) => ("limits.max_command_bytes", Some(v.span())),
            (None, None) => (name, None),
        };
        return Err(KeyError {
            key: key.to_owned(),
            span,
            message: format!(
                "{name} ({value}) is larger than limits.max_command_bytes ({}): \
                 a command must be able to hold it",
                fl.max_command
            ),
        });
    }

    // [auth]
    let a = &raw.auth;
    if let Some(v) = &a.failure_delay_ms {
        let ms = int_in("auth.failure_delay_ms", v, FAILURE_DELAY_MS)?;
        c.auth.failure_delay = Duration::from_millis(ms.unsigned_abs());
    }
    if let Some(v) = &a.max_failures_per_ip {
        c.auth.max_failures_per_ip = u32_in("auth.max_failures_per_ip", v, MAX_FAILURES)?;
    }
    if let Some(v) = &a.max_failures_per_user {
        c.auth.max_failures_per_user = u32_in("auth.max_failures_per_user", v, MAX_FAILURES)?;
    }
    if let Some(v) = &a.window_secs {
        c.auth.window = secs_in("auth.window_secs", v, WINDOW_SECS)?;
    }
    if let Some(v) = &a.credential_cache_secs {
        let secs = int_in("auth.credential_cache_secs", v, CREDENTIAL_CACHE_SECS)?;
        c.auth.credential_cache_ttl = Duration::from_secs(secs.unsigned_abs());
    }

    // [log]
    if let Some(v) = &raw.log.level {
        let level = v.get_ref().trim();
        if level.is_empty() {
            return Err(err("log.level", v, "must not be empty (e.g. `info`)"));
        }
        tracing_subscriber::EnvFilter::builder()
            .parse(level)
            .map_err(|e| {
                err(
                    "log.level",
                    v,
                    format!("`{level}` is not a valid filter: {e}"),
                )
            })?;
        c.log.level = level.to_owned();
    }
    if let Some(v) = &raw.log.format {
        c.log.json = match v.get_ref().as_str() {
            "text" => false,
            "json" => true,
            other => {
                return Err(err(
                    "log.format",
                    v,
                    format!("`{other}` is not one of `text`, `json`"),
                ));
            }
        };
    }

    // [quota]
    if let Some(v) = &raw.quota.default_storage {
        let kib =
            parse_storage_size(v.get_ref()).map_err(|m| err("quota.default_storage", v, m))?;
        c.quota.storage_kib = Some(kib);
    }
    if let Some(v) = &raw.quota.default_messages {
        let n = int_in("quota.default_messages", v, QUOTA_MESSAGES)?;
        c.quota.messages = Some(n.unsigned_abs());
    }
    // [search]
    if let Some(v) = raw.search.index {
        c.search_index = v;
    }

    // [admin]
    let admin = &raw.admin;
    if let Some(v) = &admin.listen {
        c.admin.listen = parse_admin_listen(v.get_ref()).map_err(|m| err("admin.listen", v, m))?;
    }
    if let Some(v) = admin.tls {
        c.admin.tls = v;
    }
    if let Some(v) = &admin.session_idle_secs {
        let n = int_in("admin.session_idle_secs", v, ADMIN_SESSION_SECS)?;
        c.admin.session_idle = Duration::from_secs(n.unsigned_abs());
    }
    if let Some(v) = &admin.session_max_secs {
        let n = int_in("admin.session_max_secs", v, ADMIN_SESSION_SECS)?;
        c.admin.session_max = Duration::from_secs(n.unsigned_abs());
    }

    // [metrics]
    if let Some(v) = &raw.metrics.listen {
        c.metrics_listen =
            parse_admin_listen(v.get_ref()).map_err(|m| err("metrics.listen", v, m))?;
    }

    validate_lmtp(&raw.lmtp, &mut c.lmtp)?;

    Ok(c)
}

fn validate_lmtp(raw: &RawLmtp, c: &mut LmtpConfig) -> Result<(), KeyError> {
    if let Some(list) = &raw.listen {
        let mut out = Vec::with_capacity(list.len());
        for v in list {
            out.push(parse_lmtp_listen(v.get_ref()).map_err(|m| err("lmtp.listen", v, m))?);
        }
        c.listen = Some(out);
    }
    if let Some(v) = &raw.hostname {
        let name = v.get_ref().trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(err(
                "lmtp.hostname",
                v,
                "must be a host name without spaces",
            ));
        }
        c.hostname = Some(name.to_owned());
    }
    if let Some(list) = &raw.domains {
        for v in list {
            let d = v.get_ref().trim().to_ascii_lowercase();
            if d.is_empty() || d.contains('@') || !d.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(err("lmtp.domains", v, "must be a domain like example.org"));
            }
            c.domains.push(d);
        }
    }
    if let Some(v) = raw.plus_to_mailbox {
        c.plus_to_mailbox = v;
    }
    if let Some(v) = &raw.over_quota {
        c.over_quota = match v.get_ref().as_str() {
            "permanent" => OverQuota::Permanent,
            "temporary" => OverQuota::Temporary,
            other => {
                return Err(err(
                    "lmtp.over_quota",
                    v,
                    format!(
                        "`{other}` is not one of `permanent` (552 5.2.2), `temporary` (452 4.2.2)"
                    ),
                ));
            }
        };
    }
    for (key, raw_value, slot) in [
        ("lmtp.socket_owner", &raw.socket_owner, &mut c.socket_owner),
        ("lmtp.socket_group", &raw.socket_group, &mut c.socket_group),
    ] {
        if let Some(v) = raw_value {
            let name = v.get_ref().trim();
            if name.is_empty() {
                return Err(err(key, v, "must be a user or group name, or a number"));
            }
            *slot = Some(name.to_owned());
        }
    }
    if let Some(v) = &raw.socket_mode {
        let text = v.get_ref().trim();
        c.socket_mode = u32::from_str_radix(text.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| {
                err(
                    "lmtp.socket_mode",
                    v,
                    format!("`{text}` is not an octal mode like \"0660\""),
                )
            })?;
    }
    let l = &mut c.limits;
    if let Some(v) = &raw.max_line_bytes {
        l.max_line = usize_in("lmtp.max_line_bytes", v, LMTP_LINE_BYTES)?;
    }
    if let Some(v) = &raw.max_message_bytes {
        l.max_message_size =
            int_in("lmtp.max_message_bytes", v, LMTP_MESSAGE_BYTES)?.unsigned_abs();
    }
    if let Some(v) = &raw.max_recipients {
        l.max_recipients = usize_in("lmtp.max_recipients", v, LMTP_RECIPIENTS)?;
    }
    if let Some(v) = &raw.max_commands {
        l.max_commands = usize_in("lmtp.max_commands", v, LMTP_COMMANDS)?;
    }
    if let Some(v) = &raw.timeout_idle_secs {
        l.idle_timeout = secs_in("lmtp.timeout_idle_secs", v, LMTP_TIMEOUT_SECS)?;
    }
    if let Some(v) = &raw.timeout_session_secs {
        l.session_timeout = secs_in("lmtp.timeout_session_secs", v, LMTP_TIMEOUT_SECS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/roost/test.toml";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new(FILE))
    }

    fn parse_err(text: &str) -> ConfigError {
        match parse(text) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn storage_sizes() {
        assert_eq!(parse_storage_size("500M"), Ok(500 * 1024));
        assert_eq!(parse_storage_size("2GiB"), Ok(2 << 20));
        assert_eq!(parse_storage_size("1 tb"), Ok(1 << 30));
        assert_eq!(parse_storage_size("64k"), Ok(64));
        assert_eq!(parse_storage_size("0K"), Ok(0));
        for bad in ["", "M", "100", "1.5G", "10X", "-1G", "99999999999T"] {
            assert!(parse_storage_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quota_defaults() {
        assert_eq!(parse("").expect("empty").quota, QuotaDefaults::default());
        let c =
            parse("[quota]\ndefault_storage = \"1G\"\ndefault_messages = 50000\n").expect("quota");
        assert_eq!(
            c.quota,
            QuotaDefaults {
                storage_kib: Some(1 << 20),
                messages: Some(50_000)
            }
        );
        let e = parse_err("[quota]\ndefault_storage = \"1000\"\n");
        assert_eq!(e.key.as_deref(), Some("quota.default_storage"), "{e}");
        let e = parse_err("[quota]\ndefault_messages = -1\n");
        assert!(e.message.contains("out of range"), "{e}");
    }

    #[test]
    fn search_index_switch() {
        assert!(parse("").expect("empty").search_index);
        assert!(
            !parse("[search]\nindex = false\n")
                .expect("off")
                .search_index
        );
        let e = parse_err("[search]\nindex = \"no\"\n");
        assert_eq!(e.key.as_deref(), Some("search.index"));
    }

    #[test]
    fn no_file_gives_defaults() {
        let c = Config::load(None).expect("defaults");
        assert_eq!(c.data_dir, PathBuf::from("./roost-data"));
        assert_eq!(c.imap_listen, Some("127.0.0.1:1143".parse().expect("addr")));
        assert_eq!(
            c.imaps_listen,
            Some("127.0.0.1:1993".parse().expect("addr"))
        );
        assert_eq!(c.plaintext_auth, PlaintextAuth::Loopback);
        assert_eq!(c.timeouts.authenticated, Duration::from_secs(1800));
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").expect("empty file");
        let d = Config::default();
        assert_eq!(c.data_dir, d.data_dir);
        assert_eq!(c.imap_listen, d.imap_listen);
        assert_eq!(c.frame_limits.max_line, d.frame_limits.max_line);
        assert_eq!(c.auth.max_failures_per_ip, d.auth.max_failures_per_ip);
        assert_eq!(c.log.level, "info");
    }

    #[test]
    fn full_file() {
        let c = parse(
            r#"
data_dir = "/var/lib/roost"
[imap]
listen = "[::]:143"
listen_tls = ""
plaintext_auth = "never"
timeout_unauthenticated_secs = 30
timeout_authenticated_secs = 3600
[tls]
cert = "/etc/roost/cert.pem"
key = "/etc/roost/key.pem"
[limits]
max_line_bytes = 8192
max_literal_bytes = 4096
max_append_bytes = 1000000
max_command_bytes = 65536
max_nesting_depth = 8
max_params = 100
[auth]
failure_delay_ms = 250
max_failures_per_ip = 5
max_failures_per_user = 3
window_secs = 60
[log]
level = "roost=debug,info"
format = "json"
"#,
        )
        .expect("valid file");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/roost"));
        assert_eq!(c.imap_listen, Some("[::]:143".parse().expect("addr")));
        assert_eq!(c.imaps_listen, None);
        assert_eq!(c.plaintext_auth, PlaintextAuth::Never);
        assert_eq!(c.timeouts.unauthenticated, Duration::from_secs(30));
        assert_eq!(c.timeouts.authenticated, Duration::from_secs(3600));
        assert_eq!(c.tls.cert, Some(PathBuf::from("/etc/roost/cert.pem")));
        assert_eq!(c.tls.key, Some(PathBuf::from("/etc/roost/key.pem")));
        assert_eq!(c.frame_limits.max_line, 8192);
        assert_eq!(c.frame_limits.max_literal, 4096);
        assert_eq!(c.frame_limits.max_append_literal, 1_000_000);
        assert_eq!(c.frame_limits.max_command, 65536);
        assert_eq!(c.parse_limits.max_depth, 8);
        assert_eq!(c.parse_limits.max_params, 100);
        assert_eq!(c.auth.failure_delay, Duration::from_millis(250));
        assert_eq!(c.auth.max_failures_per_ip, 5);
        assert_eq!(c.auth.max_failures_per_user, 3);
        assert_eq!(c.auth.window, Duration::from_secs(60));
        assert_eq!(c.log.level, "roost=debug,info");
        assert!(c.log.json);
    }

    #[test]
    fn admin_section() {
        let d = parse("").expect("empty");
        assert_eq!(d.admin, AdminConfig::default());
        assert_eq!(
            d.admin.listen,
            Some("127.0.0.1:8080".parse().expect("addr"))
        );
        let c = parse(
            "[admin]\nlisten = \"[::1]:9443\"\ntls = true\nsession_idle_secs = 60\nsession_max_secs = 3600\n",
        )
        .expect("admin");
        assert_eq!(c.admin.listen, Some("[::1]:9443".parse().expect("addr")));
        assert!(c.admin.tls);
        assert_eq!(c.admin.session_idle, Duration::from_secs(60));
        assert_eq!(c.admin.session_max, Duration::from_secs(3600));
        assert_eq!(
            parse("[admin]\nlisten = \"off\"\n")
                .expect("off")
                .admin
                .listen,
            None
        );
        let e = parse_err("[admin]\nlisten = \"localhost\"\n");
        assert_eq!(e.key.as_deref(), Some("admin.listen"));
        let e = parse_err("[admin]\nsession_idle_secs = 5\n");
        assert_eq!(e.key.as_deref(), Some("admin.session_idle_secs"));
        assert!(
            parse("[admin]\nport = 1\n").is_err(),
            "unknown keys are errors"
        );
    }

    #[test]
    fn packaged_config_is_valid_and_all_commented_but_data_dir() {
        let text = include_str!("../packaging/roost.toml");
        let c = parse(text).expect("packaged config parses");
        // Everything but data_dir is commented out: the service's store is
        // where the package made its directory, the rest are the defaults.
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/roost"));
        assert_eq!(c.imap_listen, Config::default().imap_listen);
        assert_eq!(c.tls.cert, None);
        // Uncommenting every setting gives the packaged values.
        // Settings are commented as `#key = value`, prose as `# text`.
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&uncommented).expect("uncommented packaged config parses");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/roost"));
        assert_eq!(c.imaps_listen.map(|a| a.port()), Some(993));
        assert_eq!(c.imap_listen.map(|a| a.port()), Some(143));
        assert_eq!(c.tls.cert, Some(PathBuf::from("/etc/roost/cert.pem")));
        assert_eq!(
            c.lmtp.listen,
            Some(vec![LmtpListen::Unix(PathBuf::from(
                "/var/spool/postfix/private/roost-lmtp"
            ))])
        );
        assert_eq!(c.lmtp.socket_mode, 0o660);
        assert_eq!(c.lmtp.domains, ["example.org"]);
        assert_eq!(
            c.admin.listen,
            Some("127.0.0.1:8080".parse().expect("addr"))
        );
        assert_eq!(
            c.metrics_listen,
            Some("127.0.0.1:9190".parse().expect("addr"))
        );
    }

    #[test]
    fn metrics_section() {
        assert_eq!(Config::default().metrics_listen, None);
        let c = parse("[metrics]\nlisten = \"127.0.0.1:9190\"\n").expect("metrics");
        assert_eq!(
            c.metrics_listen,
            Some("127.0.0.1:9190".parse().expect("addr"))
        );
        let c = parse("[metrics]\nlisten = \"off\"\n").expect("off");
        assert_eq!(c.metrics_listen, None);
        let e = parse_err("[metrics]\nlisten = \"9190\"\n");
        assert_eq!(e.key.as_deref(), Some("metrics.listen"));
        assert!(parse("[metrics]\npath = \"/m\"\n").is_err());
    }

    #[test]
    fn lmtp_section() {
        let c = parse(
            "[lmtp]\nlisten = [\"unix:/run/x.sock\", \"127.0.0.1:2424\"]\n\
             domains = [\"Example.ORG\"]\nplus_to_mailbox = true\nover_quota = \"temporary\"\n\
             socket_mode = \"0600\"\nmax_message_bytes = 2048\nmax_recipients = 100\n\
             timeout_idle_secs = 5\n",
        )
        .expect("parses");
        assert_eq!(
            c.lmtp.listeners(Path::new("/d")),
            [
                LmtpListen::Unix(PathBuf::from("/run/x.sock")),
                LmtpListen::Tcp(SocketAddr::from(([127, 0, 0, 1], 2424)))
            ]
        );
        assert_eq!(c.lmtp.domains, ["example.org"]);
        assert!(c.lmtp.plus_to_mailbox);
        assert_eq!(c.lmtp.over_quota, OverQuota::Temporary);
        assert_eq!(c.lmtp.socket_mode, 0o600);
        assert_eq!(c.lmtp.limits.max_message_size, 2048);
        assert_eq!(c.lmtp.limits.idle_timeout, Duration::from_secs(5));
        let d = parse("").expect("empty");
        assert_eq!(
            d.lmtp.listeners(Path::new("/d")),
            [LmtpListen::Unix(PathBuf::from("/d/lmtp.sock"))]
        );
        assert!(
            parse("[lmtp]\nlisten = []\n")
                .expect("off")
                .lmtp
                .listeners(Path::new("/d"))
                .is_empty()
        );
        for (text, key) in [
            ("[lmtp]\nlisten = [\"nowhere\"]\n", "lmtp.listen"),
            ("[lmtp]\nlisten = [\"unix:\"]\n", "lmtp.listen"),
            ("[lmtp]\nover_quota = \"maybe\"\n", "lmtp.over_quota"),
            ("[lmtp]\nsocket_mode = \"999\"\n", "lmtp.socket_mode"),
            ("[lmtp]\nmax_recipients = 5\n", "lmtp.max_recipients"),
            ("[lmtp]\ndomains = [\"a@b\"]\n", "lmtp.domains"),
        ] {
            assert_eq!(parse_err(text).key.as_deref(), Some(key), "{text}");
        }
    }

    #[test]
    fn invalid_toml_still_names_the_key() {
        let e = parse_err("[imap]\nlisten = \"\"\n[auth]\nfailure_delay_ms = 1.5x\n");
        assert_eq!(e.key.as_deref(), Some("auth.failure_delay_ms"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(4));
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e = parse_err("[limits]\nmax_line_bytes = 8192\nmax_lines = 3\n");
        assert_eq!(e.file, PathBuf::from(FILE));
        assert_eq!(e.key.as_deref(), Some("limits.max_lines"));
        assert_eq!(e.position, Some((3, 1)));
        assert!(e.message.contains("unknown field"), "{e}");
        let shown = e.to_string();
        assert!(
            shown.starts_with("/etc/roost/test.toml:3:1: `limits.max_lines`: "),
            "{shown}"
        );
    }

    #[test]
    fn unknown_section_names_key() {
        let e = parse_err("[smtp]\nlisten = \"\"\n");
        assert_eq!(e.key.as_deref(), Some("smtp"));
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn wrong_type_names_key() {
        let e = parse_err("[limits]\nmax_line_bytes = \"big\"\n");
        assert_eq!(e.key.as_deref(), Some("limits.max_line_bytes"));
        assert_eq!(e.position.map(|p| p.0), Some(2));
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse_err("[imap]\nlisten = \n");
        assert_eq!(e.file, PathBuf::from(FILE));
        assert_eq!(e.position.map(|p| p.0), Some(2));
        assert!(e.to_string().starts_with(FILE), "{e}");
    }

    #[test]
    fn out_of_range_names_key() {
        let e = parse_err("[limits]\nmax_line_bytes = 0\n");
        assert_eq!(e.key.as_deref(), Some("limits.max_line_bytes"));
        assert_eq!(e.position, Some((2, 18)));
        assert!(e.message.contains("out of range"), "{e}");

        let e = parse_err("[auth]\nmax_failures_per_ip = -1\n");
        assert_eq!(e.key.as_deref(), Some("auth.max_failures_per_ip"));

        let e = parse_err("[limits]\nmax_params = 0\n");
        assert_eq!(e.key.as_deref(), Some("limits.max_params"));
    }

    #[test]
    fn authenticated_timeout_below_rfc_minimum_is_refused() {
        let e = parse_err("[imap]\ntimeout_authenticated_secs = 600\n");
        assert_eq!(e.key.as_deref(), Some("imap.timeout_authenticated_secs"));
        assert!(e.message.contains("RFC 3501"), "{e}");
        assert!(parse("[imap]\ntimeout_authenticated_secs = 1800\n").is_ok());
    }

    #[test]
    fn bad_listen_address_names_key() {
        let e = parse_err("[imap]\nlisten_tls = \"localhost\"\n");
        assert_eq!(e.key.as_deref(), Some("imap.listen_tls"));
        assert!(e.message.contains("localhost"), "{e}");
    }

    #[test]
    fn bad_enum_values_name_key() {
        let e = parse_err("[imap]\nplaintext_auth = \"sometimes\"\n");
        assert_eq!(e.key.as_deref(), Some("imap.plaintext_auth"));
        let e = parse_err("[log]\nformat = \"xml\"\n");
        assert_eq!(e.key.as_deref(), Some("log.format"));
        let e = parse_err("[log]\nlevel = \"roost=loud\"\n");
        assert_eq!(e.key.as_deref(), Some("log.level"));
    }

    #[test]
    fn tls_needs_both_or_neither() {
        let e = parse_err("[tls]\ncert = \"/c.pem\"\n");
        assert_eq!(e.key.as_deref(), Some("tls.cert"));
        let e = parse_err("[tls]\nkey = \"/k.pem\"\n");
        assert_eq!(e.key.as_deref(), Some("tls.key"));
    }

    #[test]
    fn command_limit_must_hold_a_line_and_a_literal() {
        let e = parse_err("[limits]\nmax_line_bytes = 2000000\n");
        assert_eq!(e.key.as_deref(), Some("limits.max_line_bytes"));
        assert!(e.message.contains("max_command_bytes"), "{e}");
        let e = parse_err("[limits]\nmax_command_bytes = 2048\n");
        assert_eq!(e.key.as_deref(), Some("limits.max_command_bytes"));
    }

    #[test]
    fn missing_file_names_it() {
        let e = Config::load(Some(Path::new("/nonexistent/roost.toml"))).expect_err("missing");
        assert!(
            format!("{e:#}").contains("/nonexistent/roost.toml"),
            "{e:#}"
        );
    }

    #[test]
    fn listen_parsing() {
        assert_eq!(parse_listen(""), Ok(None));
        assert_eq!(
            parse_listen("0.0.0.0:143"),
            Ok(Some("0.0.0.0:143".parse().expect("addr")))
        );
        assert!(parse_listen("143").is_err());
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 5), (1, 1));
    }
}
