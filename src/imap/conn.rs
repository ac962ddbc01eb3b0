//! The connection actor: owns one client connection and drives its
//! sans-IO `Session`.
//!
//! The socket itself lives in a small I/O pump task beside the actor, so
//! that STARTTLS can swap the plain stream for a TLS one in place: the pump
//! reads and forwards bytes as `IoEvent`s, and writes, upgrades, pauses or
//! closes when the actor tells it to (`IoCmd`). Writes and the STARTTLS
//! upgrade go through one ordered channel, so the tagged OK of STARTTLS is
//! always on the wire before the handshake starts and no plaintext read
//! after it is ever handed to the session.
//!
//! COMPRESS=DEFLATE (RFC 4978) lives in the actor, above TLS: output is
//! compressed before it goes to the pump (and so before encryption), and
//! input is inflated piece by piece, each piece fed only when the session
//! wants input and the output the previous one caused is written, so a
//! decompression bomb or a flood of tiny commands stays bounded.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{Instrument as _, Span};

use crate::auth::{AuthOutcome, Authenticator};
use crate::conn_limits::{ConnSlot, RateLimitedLog};
use crate::imap::compress::Deflate;
use crate::imap::session::{Action, AuthResult, ConnInfo, Now, Session, SessionConfig};
use crate::mailbox::MailAccess;
use crate::mailbox::logins::LoginInfo;
use crate::mailbox::registry::{MailboxChanged, Registry, Watch};

/// How long a client may take to finish a TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one write may wait for a client that does not read before the
/// connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(300);
/// The read buffer starts small, so thousands of idle connections cost
/// little, and doubles up to `READ_BUF_MAX` while reads keep filling it (a
/// client uploading a large message).
const READ_BUF_MIN: usize = 4 * 1024;
const READ_BUF_MAX: usize = 64 * 1024;
/// A compressed connection that has written nothing for this long frees
/// its compressor (`Deflate::rest`): idle clients then cost little more
/// compressed than plain.
const DEFLATE_REST_AFTER: Duration = Duration::from_secs(15);

/// What every connection on a listener shares.
pub struct ConnShared {
    pub session_cfg: Arc<SessionConfig>,
    pub tls: TlsAcceptor,
    pub auth: Authenticator,
    pub mail: MailAccess,
    /// Where a connection says which mailbox it watches for changes.
    pub mailboxes: Addr<Registry>,
    /// Turns true when the server shuts down: every session says BYE.
    pub shutdown: watch::Receiver<bool>,
    /// Live connections, so shutdown can wait for the BYEs to go out.
    pub live: Arc<AtomicUsize>,
    /// `limits.max_connections_per_user`: logged-in sessions of one user.
    pub max_user_sessions: usize,
    /// Refused logins over that limit, logged at most once per interval.
    pub user_limit_log: Arc<RateLimitedLog>,
}

pub struct Conn {
    id: u64,
    /// The mailbox whose owner sends this connection changes of it.
    watching: Option<u64>,
    session: Session,
    io: mpsc::UnboundedSender<IoCmd>,
    shared: Arc<ConnShared>,
    peer: SocketAddr,
    span: Span,
    reading_paused: bool,
    timer: Option<SpawnHandle>,
    /// Resolves once the last write handed to the store writer is queued.
    write_order: Option<tokio::sync::oneshot::Receiver<()>>,
    /// COMPRESS=DEFLATE state, once the session has turned it on.
    deflate: Option<Box<Deflate>>,
    /// The next inflated piece waits until the output so far is written.
    inflate_waiting: bool,
    /// The compressed input was invalid: nothing more is read from it.
    input_broken: bool,
    /// Frees the compressor once output has stopped for a while.
    rest_timer: Option<SpawnHandle>,
    /// This connection's place in the connection limits, given back when
    /// the actor is dropped.
    _slot: ConnSlot,
    /// Counted in the open-connections gauge until dropped.
    counted: crate::metrics::OpenConn,
    /// The user this connection is registered under in the mail service's
    /// logins, once authenticated.
    logged_in: Option<u64>,
}

/// From the pump to the actor.
#[derive(Message)]
#[rtype(result = "()")]
enum IoEvent {
    Data(Vec<u8>),
    /// Every write queued before the `Drain` command is on the wire.
    Drained(Drain),
    TlsReady,
    Closed,
}

/// From the actor to the pump, carried out in order.
#[derive(Debug)]
enum IoCmd {
    Write(Vec<u8>),
    /// Report `Drained` once the writes before it are done.
    Drain(Drain),
    StartTls,
    Pause,
    Resume,
    Close,
}

/// Who waits for a `Drain`.
#[derive(Debug, Clone, Copy)]
enum Drain {
    /// The session (`Action::AwaitDrain`).
    Session,
    /// The next piece of inflated input.
    Inflate,
}

impl Conn {
    /// Starts the actor and its pump for an accepted connection. Must run on
    /// an actix arbiter.
    pub fn start(
        tcp: TcpStream,
        peer: SocketAddr,
        implicit_tls: bool,
        id: u64,
        shared: Arc<ConnShared>,
        slot: ConnSlot,
    ) {
        let span = tracing::info_span!(
            "conn",
            id,
            peer = %peer,
            tls = implicit_tls,
            starttls = tracing::field::Empty,
            user = tracing::field::Empty
        );
        Conn::create(move |ctx| {
            let (tx, rx) = mpsc::unbounded_channel();
            let session = Session::new(
                shared.session_cfg.clone(),
                ConnInfo {
                    peer: peer.ip(),
                    implicit_tls,
                },
                now(),
                Arc::new(shared.mail.clone()),
            );
            let acceptor = shared.tls.clone();
            actix_rt::spawn(pump(
                tcp,
                implicit_tls.then(|| acceptor.clone()),
                acceptor,
                rx,
                ctx.address(),
            ));
            Conn {
                id,
                watching: None,
                session,
                io: tx,
                shared,
                peer,
                span,
                reading_paused: false,
                timer: None,
                write_order: None,
                deflate: None,
                inflate_waiting: false,
                input_broken: false,
                rest_timer: None,
                _slot: slot,
                counted: crate::metrics::conn_opened(crate::metrics::Protocol::Imap, implicit_tls),
                logged_in: None,
            }
        });
    }

    /// Writes the session's output and carries out its actions, then makes
    /// the pump's reading and the autologout timer match the new state.
    fn drive(&mut self, ctx: &mut Context<Self>) {
        let mut fed = false;
        loop {
            self.carry_out(ctx);
            // More compressed input waits: inflate it once the output of
            // the piece just fed (queued by `carry_out`) is written.
            if fed && self.deflate.as_ref().is_some_and(|z| z.has_input()) {
                self.inflate_waiting = true;
                let _ = self.io.send(IoCmd::Drain(Drain::Inflate));
            }
            fed = self.feed_inflated();
            if !fed {
                break;
            }
        }
        let selected = self.session.selected_mailbox();
        if selected != self.watching {
            self.watching = selected;
            self.shared.mailboxes.do_send(Watch {
                conn_id: self.id,
                mailbox_id: selected,
                recipient: ctx.address().recipient(),
            });
        }
        // Compressed bytes still to inflate make reading more useless.
        let backlog = self.deflate.as_ref().is_some_and(|z| z.has_input());
        let want = self.session.wants_input() && !backlog && !self.input_broken;
        if want == self.reading_paused {
            self.reading_paused = !want;
            let _ = self
                .io
                .send(if want { IoCmd::Resume } else { IoCmd::Pause });
        }
        self.arm_timer(ctx);
        self.log_completions();
    }

    /// One line per command answered (DEBUG: INFO keeps connections,
    /// logins and errors), and its count and latency, timed from the
    /// command's first byte to now, when its tagged reply is on its way.
    fn log_completions(&mut self) {
        let done = self.session.take_completions();
        if done.is_empty() {
            return;
        }
        let now = Instant::now();
        let _g = self.span.clone().entered();
        for c in done {
            let elapsed = now.saturating_duration_since(c.first_byte);
            let counted = match c.outcome {
                "OK" => Some(crate::metrics::Outcome::Ok),
                "NO" => Some(crate::metrics::Outcome::No),
                "BAD" => Some(crate::metrics::Outcome::Bad),
                _ => None,
            };
            if let Some(o) = counted {
                crate::metrics::imap_command(c.command, o, elapsed);
            }
            tracing::debug!(
                tag = %c.tag,
                command = c.command,
                outcome = c.outcome,
                duration_ms = %crate::logging::Millis(elapsed),
                "command"
            );
        }
    }

    /// Hands the session the next piece of inflated input if it wants
    /// input now and no earlier piece waits for its output to be written;
    /// says whether it did.
    fn feed_inflated(&mut self) -> bool {
        let Some(z) = self.deflate.as_mut() else {
            return false;
        };
        if self.inflate_waiting
            || self.input_broken
            || !z.has_input()
            || !self.session.wants_input()
            || self.session.is_finished()
        {
            return false;
        }
        match z.inflate() {
            Ok(piece) if piece.is_empty() => false,
            Ok(piece) => {
                self.session.feed(&piece, now());
                true
            }
            Err(e) => {
                tracing::info!(error = %e, "closing: bad compressed input");
                self.input_broken = true;
                let _ = self.io.send(IoCmd::Close);
                false
            }
        }
    }

    /// Writes the session's output and carries out its actions, in order.
    fn carry_out(&mut self, ctx: &mut Context<Self>) {
        loop {
            let out = self.session.take_output();
            if !out.is_empty() {
                let out = match self.deflate.as_mut().map(|z| z.deflate(&out)) {
                    None => out,
                    Some(Ok(compressed)) => {
                        self.arm_rest_timer(ctx);
                        compressed
                    }
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "closing: cannot compress output");
                        let _ = self.io.send(IoCmd::Close);
                        return;
                    }
                };
                let _ = self.io.send(IoCmd::Write(out));
            }
            match self.session.next_action() {
                None => break,
                Some(Action::Compress { pending }) => {
                    // Everything before this point went out uncompressed,
                    // the tagged OK last (RFC 4978 §3).
                    let mut z = Deflate::new();
                    z.push(&pending);
                    self.deflate = Some(Box::new(z));
                }
                Some(Action::StartTls) => {
                    let _ = self.io.send(IoCmd::StartTls);
                }
                Some(Action::Authenticate { username, password }) => {
                    let auth = self.shared.auth.clone();
                    let mail = self.shared.mail.clone();
                    let peer = self.peer.ip();
                    let check = async move {
                        let outcome = auth.verify(&username, password, peer).await;
                        if let AuthOutcome::Success { user_id, .. } = &outcome
                            && let Err(e) = mail.ensure_inbox(*user_id).await
                        {
                            tracing::error!(error = %e, "cannot create INBOX");
                            return AuthOutcome::Unavailable;
                        }
                        outcome
                    }
                    // The login line (and any error) inside the connection's span.
                    .instrument(self.span.clone());
                    ctx.spawn(check.into_actor(self).map(|outcome, act, ctx| {
                        let user = match &outcome {
                            AuthOutcome::Success { user_id, .. } => Some(*user_id),
                            _ => None,
                        };
                        let result = match outcome {
                            AuthOutcome::Success {
                                username,
                                user_id,
                                stamp,
                            } => AuthResult::Success {
                                username,
                                user_id,
                                stamp,
                            },
                            AuthOutcome::Failed => AuthResult::Failed,
                            AuthOutcome::Throttled => AuthResult::Throttled,
                            AuthOutcome::Unavailable => AuthResult::Unavailable,
                        };
                        let _g = act.span.clone().entered();
                        // The session's place among its user's logins is
                        // taken before the session learns it is logged in.
                        let mut result = result;
                        if let Some(user_id) = user
                            && act.logged_in.is_none()
                        {
                            let info = LoginInfo {
                                conn_id: act.id,
                                protocol: "IMAP",
                                peer: act.peer,
                                since: chrono::Utc::now(),
                            };
                            let max = act.shared.max_user_sessions;
                            match act.shared.mail.logins().try_add(user_id, info, max) {
                                Ok(()) => act.logged_in = Some(user_id),
                                Err(held) => {
                                    if let Some(refused) =
                                        act.shared.user_limit_log.note(Instant::now())
                                    {
                                        tracing::warn!(
                                            user_id,
                                            sessions = held,
                                            refused,
                                            "login refused: the user has too many sessions (limits.max_connections_per_user)"
                                        );
                                    }
                                    result = AuthResult::TooManySessions;
                                }
                            }
                        }
                        act.session.auth_result(result, now());
                        if let Some(user) = act.session.username() {
                            act.span.record("user", user);
                        }
                        act.drive(ctx);
                    }));
                }
                Some(Action::Write {
                    ticket,
                    user_id,
                    op,
                }) => {
                    let mail = self.shared.mail.clone();
                    // Writes are prepared concurrently (an APPEND's MIME
                    // analysis runs on the blocking pool) but queued with the
                    // writer strictly in the order the session asked, so a
                    // pipeline of APPENDs gets its UIDs in order.
                    let previous = self.write_order.take();
                    let (queued_tx, queued_rx) = tokio::sync::oneshot::channel::<()>();
                    self.write_order = Some(queued_rx);
                    let write = async move {
                        let prepared = mail.prepare(user_id, op).await;
                        if let Some(previous) = previous {
                            let _ = previous.await;
                        }
                        let durable = prepared.map(|op| mail.submit(op));
                        let _ = queued_tx.send(());
                        match durable {
                            Ok(durable) => durable.await,
                            Err(e) => Err(e),
                        }
                    };
                    ctx.spawn(write.into_actor(self).map(move |result, act, ctx| {
                        let _g = act.span.clone().entered();
                        act.session.write_result(ticket, result, now());
                        act.drive(ctx);
                    }));
                }
                Some(Action::Search { ticket, request }) => {
                    let mail = self.shared.mail.clone();
                    let search = async move { mail.search_detached(*request).await };
                    ctx.spawn(search.into_actor(self).map(move |result, act, ctx| {
                        let _g = act.span.clone().entered();
                        act.session.search_result(ticket, result, now());
                        act.drive(ctx);
                    }));
                }
                Some(Action::Background { user_id, op }) => {
                    let mail = self.shared.mail.clone();
                    actix_rt::spawn(async move {
                        if let Err(e) = mail.write(user_id, op).await {
                            tracing::warn!(error = %e, "background store write failed");
                        }
                    });
                }
                Some(Action::AwaitDrain) => {
                    let _ = self.io.send(IoCmd::Drain(Drain::Session));
                }
                Some(Action::Close) => {
                    let _ = self.io.send(IoCmd::Close);
                }
            }
        }
    }

    fn arm_rest_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.rest_timer.take() {
            ctx.cancel_future(h);
        }
        if self.deflate.as_ref().is_some_and(|z| z.is_resting()) {
            return;
        }
        self.rest_timer = Some(ctx.run_later(DEFLATE_REST_AFTER, |act, _| {
            act.rest_timer = None;
            if let Some(z) = act.deflate.as_mut() {
                z.rest();
                let _g = act.span.clone().entered();
                tracing::debug!("quiet: compressor freed");
            }
        }));
    }

    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        if self.session.is_finished() {
            return;
        }
        let wait = self
            .session
            .deadline()
            .saturating_duration_since(Instant::now());
        self.timer = Some(ctx.run_later(wait + Duration::from_millis(5), |act, ctx| {
            act.timer = None;
            let _g = act.span.clone().entered();
            act.session.on_tick(now());
            act.drive(ctx);
        }));
    }
}

impl Actor for Conn {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.shared.live.fetch_add(1, Ordering::SeqCst);
        let _g = self.span.clone().entered();
        tracing::info!("connected");
        let mut shutdown = self.shared.shutdown.clone();
        ctx.spawn(
            async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            }
            .into_actor(self)
            .map(|_, act, ctx| {
                let _g = act.span.clone().entered();
                act.session.shutdown();
                act.drive(ctx);
            }),
        );
        self.drive(ctx);
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        if self.watching.take().is_some() {
            self.shared.mailboxes.do_send(Watch {
                conn_id: self.id,
                mailbox_id: None,
                recipient: ctx.address().recipient(),
            });
        }
        Running::Stop
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let _g = self.span.clone().entered();
        tracing::info!("disconnected");
        if let Some(user_id) = self.logged_in {
            self.shared.mail.logins().remove(user_id, self.id);
        }
        self.shared.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Handler<MailboxChanged> for Conn {
    type Result = ();

    fn handle(&mut self, _msg: MailboxChanged, ctx: &mut Context<Self>) {
        let _g = self.span.clone().entered();
        self.session.mailbox_changed();
        self.drive(ctx);
    }
}

impl Handler<IoEvent> for Conn {
    type Result = ();

    fn handle(&mut self, ev: IoEvent, ctx: &mut Context<Self>) {
        let _g = self.span.clone().entered();
        match ev {
            IoEvent::Data(bytes) => {
                match self.deflate.as_mut() {
                    Some(z) => z.push(&bytes),
                    None => self.session.feed(&bytes, now()),
                }
                self.drive(ctx);
            }
            IoEvent::Drained(Drain::Session) => {
                self.session.output_drained(now());
                self.drive(ctx);
            }
            IoEvent::Drained(Drain::Inflate) => {
                self.inflate_waiting = false;
                self.drive(ctx);
            }
            IoEvent::TlsReady => {
                self.counted.tls_started();
                self.span.record("starttls", true);
                self.session.tls_established(now());
                self.drive(ctx);
            }
            IoEvent::Closed => ctx.stop(),
        }
    }
}

/// The clocks read for the session, which reads none itself.
fn now() -> Now {
    Now {
        instant: Instant::now(),
        wall: chrono::Utc::now(),
    }
}

/// The socket, before or after TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while a STARTTLS handshake owns the socket.
    Upgrading,
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
            Stream::Upgrading => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Acknowledges what was just read now instead of after the delayed-ACK
    /// timer (about 40 ms on Linux). A client that writes a synchronizing
    /// literal and its closing CRLF in two writes (imaplib, Mail::IMAPClient)
    /// holds the second, small write under Nagle's algorithm until the
    /// first is ACKed, and the server has nothing to send back that could
    /// carry the ACK until the command is complete. Linux leaves quick-ACK
    /// mode by itself, so it is set again after every read.
    fn ack_now(&self) {
        let tcp = match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
            Stream::Upgrading => return,
        };
        // Best effort: an ACK sent late only costs latency.
        let _ = tcp.set_quickack(true);
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(buf).await,
            Stream::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await
            }
            Stream::Upgrading => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    async fn shutdown(&mut self) {
        let _ = match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            Stream::Upgrading => Ok(()),
        };
    }
}

async fn tls_accept(acceptor: &TlsAcceptor, tcp: TcpStream) -> Option<Stream> {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(Stream::Tls(Box::new(tls))),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!("TLS handshake timed out");
            None
        }
    }
}

/// Moves bytes between the socket and the actor (see the module doc).
async fn pump(
    tcp: TcpStream,
    implicit_tls: Option<TlsAcceptor>,
    acceptor: TlsAcceptor,
    mut cmds: mpsc::UnboundedReceiver<IoCmd>,
    conn: Addr<Conn>,
) {
    let mut stream = match implicit_tls {
        Some(a) => match tls_accept(&a, tcp).await {
            Some(s) => s,
            None => {
                conn.do_send(IoEvent::Closed);
                return;
            }
        },
        None => Stream::Plain(tcp),
    };
    let mut buf = vec![0u8; READ_BUF_MIN];
    let mut paused = false;
    loop {
        tokio::select! {
            // Commands first: a queued STARTTLS must win over a read, so
            // that the handshake's first bytes are never read as plaintext.
            biased;
            cmd = cmds.recv() => match cmd {
                Some(IoCmd::Write(bytes)) => {
                    match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break,
                        Err(_) => {
                            tracing::info!("client stopped reading; closing");
                            break;
                        }
                    }
                }
                Some(IoCmd::StartTls) => {
                    let Stream::Plain(tcp) = std::mem::replace(&mut stream, Stream::Upgrading) else {
                        break;
                    };
                    match tls_accept(&acceptor, tcp).await {
                        Some(s) => {
                            stream = s;
                            conn.do_send(IoEvent::TlsReady);
                        }
                        None => break,
                    }
                }
                Some(IoCmd::Drain(who)) => conn.do_send(IoEvent::Drained(who)),
                Some(IoCmd::Pause) => paused = true,
                Some(IoCmd::Resume) => paused = false,
                Some(IoCmd::Close) | None => {
                    stream.shutdown().await;
                    break;
                }
            },
            read = stream.read(&mut buf), if !paused => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    stream.ack_now();
                    conn.do_send(IoEvent::Data(buf[..n].to_vec()));
                    if n == buf.len() && buf.len() < READ_BUF_MAX {
                        buf.resize(buf.len() * 2, 0);
                    }
                }
            },
        }
    }
    conn.do_send(IoEvent::Closed);
}
