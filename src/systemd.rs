//! Talking to systemd (`Type=notify`): READY once the server can serve,
//! STATUS lines, STOPPING and RELOADING, and the watchdog.
//!
//! Every message goes to `$NOTIFY_SOCKET` (sd_notify(3)); without it (a
//! terminal, a test) nothing is sent and nothing fails. The watchdog is only
//! fed while a health check passes that does real work: a store read
//! transaction (the user count for STATUS) and a no-op through the store
//! writer (`Writer::ping`), which needs LMDB's write lock and the writer
//! thread to take work, each answered within half the watchdog interval.
//! A wedged writer (a lost lock, a stuck disk) therefore stops the pings
//! and systemd restarts the service (`WatchdogSec=` in the unit).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use sd_notify::NotifyState;

use crate::store::{Store, StoreError, WriteOp, WriteResult, Writer};

/// The listening sockets systemd passed (socket activation, sd_listen_fds(3)),
/// by their `FileDescriptorName=`: `imap` and `imaps` in the package's
/// socket units. With them systemd binds ports 143 and 993, so the service
/// needs no capability. Empty when the server was not socket-activated.
pub fn inherited_listeners() -> anyhow::Result<HashMap<String, std::net::TcpListener>> {
    let mut found = HashMap::new();
    for (fd, name) in sd_notify::listen_fds_with_names().context("reading LISTEN_FDS")? {
        let listener = take_listener(fd);
        match listener.local_addr() {
            Ok(addr) if name == "imap" || name == "imaps" => {
                tracing::info!(%addr, name, "socket from systemd");
                listener
                    .set_nonblocking(true)
                    .with_context(|| format!("making the {name} socket non-blocking"))?;
                if found.insert(name.clone(), listener).is_some() {
                    anyhow::bail!("systemd passed two sockets named {name}");
                }
            }
            Ok(addr) => {
                tracing::warn!(%addr, name, "ignoring a socket from systemd with an unknown name (FileDescriptorName= imap or imaps)");
            }
            Err(e) => {
                anyhow::bail!("file descriptor {fd} ({name}) from systemd is not a socket: {e}")
            }
        }
    }
    Ok(found)
}

#[allow(unsafe_code)]
fn take_listener(fd: std::os::fd::RawFd) -> std::net::TcpListener {
    use std::os::fd::FromRawFd as _;
    // SAFETY: sd_listen_fds(3): the descriptors from 3 on, as many as
    // LISTEN_FDS says (checked against LISTEN_PID by sd-notify), are open
    // and handed to this process; each is taken here once and owned by the
    // listener from now on.
    unsafe { std::net::TcpListener::from_raw_fd(fd) }
}

/// How often STATUS is refreshed when there is no watchdog.
const STATUS_INTERVAL: Duration = Duration::from_secs(10);

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// The store is open and every listener bound.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Shutdown has begun.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
}

/// A reload has begun (`ready` ends it).
pub fn reloading() {
    send(&[NotifyState::Reloading, NotifyState::Status("reloading")]);
}

/// `N connections, M users`.
pub fn status_line(connections: usize, users: usize) -> String {
    format!("{connections} connections, {users} users")
}

/// A ping on its way through the writer.
type Ping = Pin<Box<dyn Future<Output = Result<WriteResult, StoreError>> + Send>>;

/// The health check: a store read and a writer ping, both answered within
/// `deadline`. Returns the user count the read found.
async fn health_check(
    store: &Store,
    writer: &Writer,
    ping: &mut Option<Ping>,
    deadline: Duration,
) -> Result<usize, String> {
    let started = tokio::time::Instant::now();
    let reader = store.clone();
    let users = tokio::time::timeout(
        deadline,
        tokio::task::spawn_blocking(move || reader.list_users().map(|u| u.len())),
    )
    .await
    .map_err(|_| format!("a store read took longer than {deadline:?}"))?
    .map_err(|e| format!("the store read failed: {e}"))?
    .map_err(|e| format!("the store read failed: {e}"))?;
    // One ping in flight at a time: a stuck writer is not sent a pile.
    let pending = ping.get_or_insert_with(|| Box::pin(writer.submit_queued(WriteOp::Ping)));
    let left = deadline.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, pending).await {
        Err(_) => Err(format!(
            "the store writer did not answer within {deadline:?}"
        )),
        Ok(answer) => {
            *ping = None;
            answer
                .map(|_| users)
                .map_err(|e| format!("the store writer failed: {e}"))
        }
    }
}

/// Runs for the life of the server (on its arbiter): feeds the watchdog
/// while the health check passes and keeps STATUS current. `live` counts
/// open connections.
pub async fn supervise(store: Store, writer: Writer, live: Arc<AtomicUsize>) {
    let watchdog = sd_notify::watchdog_enabled();
    // Half the interval, as sd_watchdog_enabled(3) advises, so one late
    // tick is not yet a missed deadline.
    let interval = watchdog.map_or(STATUS_INTERVAL, |w| (w / 2).max(Duration::from_millis(50)));
    if let Some(w) = watchdog {
        tracing::info!(
            interval_ms = w.as_millis() as u64,
            "systemd watchdog enabled"
        );
    }
    let mut ping = None;
    let mut healthy = true;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match health_check(&store, &writer, &mut ping, interval).await {
            Ok(users) => {
                if !healthy {
                    tracing::info!("health check passes again");
                    healthy = true;
                }
                let status = status_line(live.load(Ordering::Relaxed), users);
                if watchdog.is_some() {
                    send(&[NotifyState::Watchdog, NotifyState::Status(&status)]);
                } else {
                    send(&[NotifyState::Status(&status)]);
                }
            }
            Err(why) => {
                if healthy {
                    tracing::error!(reason = %why, "health check failed; not feeding the watchdog");
                    healthy = false;
                }
                send(&[NotifyState::Status(&format!("unhealthy: {why}"))]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_reads_well() {
        assert_eq!(status_line(3, 12), "3 connections, 12 users");
    }
}
