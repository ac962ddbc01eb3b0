//! One LMTP connection: a task that reads the socket, drives the sans-IO
//! `Session`, writes its replies and carries out its deliveries.
//!
//! A delivery is awaited before anything more is read: the session keeps
//! pipelined commands until then, and the 250s it says afterwards come
//! after the store's commit. The task needs no mailbox notifications (it
//! only writes), so it is a plain task, not an actor.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::deliver::{Recipients, Via, deliver};
use super::session::{Action, Session, SessionConfig};
use crate::mailbox::MailAccess;

/// How much is read at a time. The session holds at most this beyond its
/// line limit while a delivery is under way (reading waits for it).
const READ_BUF: usize = 16 * 1024;

/// What every LMTP connection shares.
pub struct LmtpShared {
    pub session_cfg: Arc<SessionConfig>,
    pub mail: MailAccess,
    pub recipients: Recipients,
    /// Turns true when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    pub live: Arc<std::sync::atomic::AtomicUsize>,
}

/// A socket that can be told to ACK at once. An MTA that writes a DATA
/// line and then a small rest waits, under Nagle's algorithm, for the ACK
/// of the first write, which a delayed ACK holds back while the server has
/// nothing to answer yet; Linux leaves quick-ACK mode by itself, so it is
/// set again after every read. A unix socket has no ACKs.
pub trait AckNow {
    fn ack_now(&self) {}
}

impl AckNow for tokio::net::TcpStream {
    fn ack_now(&self) {
        // Best effort: an ACK sent late only costs latency.
        let _ = self.set_quickack(true);
    }
}

impl AckNow for tokio::net::UnixStream {}

/// Serves one connection until it ends. `peer` is the client's IP address,
/// or `local` for a unix socket.
pub async fn serve<S>(mut stream: S, peer: String, shared: Arc<LmtpShared>)
where
    S: AsyncRead + AsyncWrite + AckNow + Unpin,
{
    shared
        .live
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let _counted = crate::metrics::conn_opened(crate::metrics::Protocol::Lmtp, false);
    let via = Via {
        hostname: shared.session_cfg.hostname.clone(),
        peer: peer.clone(),
        protocol: "LMTP",
    };
    let mut session = Session::new(
        shared.session_cfg.clone(),
        shared.recipients.clone(),
        Instant::now(),
    );
    let mut shutdown = shared.shutdown.clone();
    if *shutdown.borrow_and_update() {
        session.shutdown();
    }
    let mut buf = vec![0u8; READ_BUF];
    let result: std::io::Result<()> = async {
        loop {
            // Replies first, then what the session asked for, in order.
            loop {
                let out = session.take_output();
                if !out.is_empty() {
                    stream.write_all(&out).await?;
                }
                match session.next_action() {
                    Some(Action::Deliver(d)) => {
                        let outcomes = deliver(&shared.mail, &d, &via).await;
                        session.delivered(outcomes);
                    }
                    Some(Action::Close) => {
                        stream.flush().await?;
                        return Ok(());
                    }
                    None => break,
                }
            }
            if session.is_closed() {
                return Ok(());
            }
            let deadline = tokio::time::Instant::from_std(session.deadline());
            tokio::select! {
                read = stream.read(&mut buf) => {
                    match read? {
                        0 => {
                            session.eof();
                            return Ok(());
                        }
                        n => {
                            stream.ack_now();
                            session.feed(&buf[..n], Instant::now());
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => session.on_tick(Instant::now()),
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        session.shutdown();
                    }
                }
            }
        }
    }
    .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, %peer, "lmtp connection ended");
    }
    shared
        .live
        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
}
