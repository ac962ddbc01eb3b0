//! The LMTP listeners: TCP addresses and unix sockets (with the owner,
//! group and mode the config gives them), each accepting connections and
//! handing them to `conn::serve` on one of the worker arbiters.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_rt::ArbiterHandle;
use anyhow::{Context as _, bail};
use tokio::net::{TcpListener, UnixListener};
use tracing::Instrument as _;

use super::conn::{LmtpShared, serve};
use crate::config::{LmtpConfig, LmtpListen};

/// A bound listener.
pub enum Bound {
    Tcp(TcpListener),
    /// The socket file is removed when the listener is dropped.
    Unix(UnixListener, SocketFile),
}

/// Removes the socket file on drop, so a stopped server leaves no socket
/// that refuses connections behind.
pub struct SocketFile(pub PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds one listener. A unix socket left by an earlier run is replaced,
/// unless a server still answers on it.
pub async fn bind(listen: &LmtpListen, cfg: &LmtpConfig) -> anyhow::Result<Bound> {
    match listen {
        LmtpListen::Tcp(addr) => {
            Ok(Bound::Tcp(TcpListener::bind(addr).await.with_context(
                || format!("binding the LMTP listener on {addr}"),
            )?))
        }
        LmtpListen::Unix(path) => {
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if !meta.file_type().is_socket() {
                    bail!(
                        "{} exists and is not a socket: not replacing it",
                        path.display()
                    );
                }
                if tokio::net::UnixStream::connect(path).await.is_ok() {
                    bail!("{} is in use by another server", path.display());
                }
                std::fs::remove_file(path)
                    .with_context(|| format!("removing the stale socket {}", path.display()))?;
            }
            let listener = UnixListener::bind(path)
                .with_context(|| format!("binding the LMTP socket {}", path.display()))?;
            let file = SocketFile(path.clone());
            set_access(path, cfg)?;
            Ok(Bound::Unix(listener, file))
        }
    }
}

fn set_access(path: &Path, cfg: &LmtpConfig) -> anyhow::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(cfg.socket_mode))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    let uid = cfg
        .socket_owner
        .as_deref()
        .map(|n| id_of(n, Kind::User))
        .transpose()?;
    let gid = cfg
        .socket_group
        .as_deref()
        .map(|n| id_of(n, Kind::Group))
        .transpose()?;
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(path, uid, gid)
            .with_context(|| format!("changing the owner of {}", path.display()))?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    User,
    Group,
}

/// A user or group id from a number or a name (the system's databases,
/// through libc, so NSS sources count too).
#[allow(unsafe_code)]
fn id_of(name: &str, kind: Kind) -> anyhow::Result<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    let what = match kind {
        Kind::User => "user",
        Kind::Group => "group",
    };
    let cname =
        std::ffi::CString::new(name).with_context(|| format!("bad {what} name {name:?}"))?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let id = match kind {
        Kind::User => {
            // SAFETY: every pointer is valid for the call; `pwd` is written
            // by getpwnam_r, its strings into `buf`, and read only on success.
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut out: *mut libc::passwd = std::ptr::null_mut();
            let rc = unsafe {
                libc::getpwnam_r(
                    cname.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut out,
                )
            };
            (rc == 0 && !out.is_null()).then_some(pwd.pw_uid)
        }
        Kind::Group => {
            // SAFETY: as above, for getgrnam_r.
            let mut grp: libc::group = unsafe { std::mem::zeroed() };
            let mut out: *mut libc::group = std::ptr::null_mut();
            let rc = unsafe {
                libc::getgrnam_r(
                    cname.as_ptr(),
                    &mut grp,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut out,
                )
            };
            (rc == 0 && !out.is_null()).then_some(grp.gr_gid)
        }
    };
    id.with_context(|| format!("no such {what}: {name}"))
}

/// Accepts connections until the task is aborted, spreading them over
/// `workers`.
pub async fn accept_loop(
    bound: Bound,
    shared: Arc<LmtpShared>,
    workers: Arc<Vec<ArbiterHandle>>,
    next_id: Arc<AtomicU64>,
) {
    // Kept here, so the socket file goes when the loop is aborted.
    let (tcp, unix, _file) = match bound {
        Bound::Tcp(l) => (Some(l), None, None),
        Bound::Unix(l, f) => (None, Some(l), Some(f)),
    };
    // Out of descriptors, accept fails again and again: one line per
    // interval, with the count, not one per try.
    let failed_accepts = crate::conn_limits::RateLimitedLog::default();
    loop {
        let accepted = match (&tcp, &unix) {
            (Some(l), _) => l.accept().await.and_then(|(s, peer)| {
                let _ = s.set_nodelay(true);
                Ok((Stream::Tcp(s.into_std()?), peer.ip().to_string()))
            }),
            (_, Some(l)) => l
                .accept()
                .await
                .and_then(|(s, _)| Ok((Stream::Unix(s.into_std()?), "local".to_owned()))),
            (None, None) => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                if let Some(failed) = failed_accepts.note(std::time::Instant::now()) {
                    tracing::warn!(error = %e, failed, "lmtp accept failed");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        // The connection's lines (its deliveries) carry its id and peer,
        // as an IMAP connection's do.
        let span = tracing::info_span!("lmtp", id, peer = %peer);
        // A tokio socket belongs to the runtime that registered it: it moves
        // to the worker as a std socket and is registered there.
        let run = async move {
            match stream {
                Stream::Tcp(s) => match tokio::net::TcpStream::from_std(s) {
                    Ok(s) => serve(s, peer, shared).await,
                    Err(e) => tracing::warn!(error = %e, "could not register connection"),
                },
                Stream::Unix(s) => match tokio::net::UnixStream::from_std(s) {
                    Ok(s) => serve(s, peer, shared).await,
                    Err(e) => tracing::warn!(error = %e, "could not register connection"),
                },
            }
        }
        .instrument(span);
        if workers.is_empty() {
            actix_rt::spawn(run);
        } else {
            workers[(id as usize) % workers.len()].spawn(run);
        }
    }
}

enum Stream {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

/// The session settings `[lmtp]` gives.
pub fn session_config(cfg: &LmtpConfig) -> super::session::SessionConfig {
    super::session::SessionConfig {
        hostname: cfg
            .hostname
            .clone()
            .or_else(crate::tls::hostname)
            .unwrap_or_else(|| "localhost".into()),
        limits: cfg.limits,
        over_quota: cfg.over_quota,
    }
}

/// Binds every configured LMTP listener and starts accepting on it; the
/// returned tasks are aborted at shutdown (which removes the unix sockets).
pub async fn spawn(
    services: &crate::server::Services,
) -> anyhow::Result<Vec<actix_rt::task::JoinHandle<()>>> {
    let cfg = &services.config.lmtp;
    let shared = Arc::new(LmtpShared {
        session_cfg: Arc::new(session_config(cfg)),
        recipients: super::deliver::Recipients {
            mail: services.mail.clone(),
            rules: super::deliver::RecipientRules {
                domains: cfg.domains.clone(),
                plus_to_mailbox: cfg.plus_to_mailbox,
            },
        },
        mail: services.mail.clone(),
        shutdown: services.shutdown.clone(),
        live: services.live.clone(),
    });
    let mut tasks = Vec::new();
    for listen in cfg.listeners(&services.config.data_dir) {
        let bound = bind(&listen, cfg).await?;
        tracing::info!(listen = %listen, "lmtp listening");
        tasks.push(actix_rt::spawn(accept_loop(
            bound,
            shared.clone(),
            services.workers.clone(),
            services.next_conn_id.clone(),
        )));
    }
    Ok(tasks)
}
