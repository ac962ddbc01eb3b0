//! Configuration: the validated `Config` the server runs with, built from
//! built-in defaults, an optional TOML file and command-line overrides.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::imap::proto::frame::FrameLimits;
use crate::imap::proto::parse::ParseLimits;

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
            data_dir: PathBuf::from("./roost-data"),
            imap_listen: Some(SocketAddr::from(([127, 0, 0, 1], 1143))),
            imaps_listen: Some(SocketAddr::from(([127, 0, 0, 1], 1993))),
            tls: TlsConfig { cert: None, key: None },
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
            },
            log: LogConfig { level: "info".into(), json: false },
        }
    }
}
