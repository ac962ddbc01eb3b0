//! The per-connection IMAP state machine, sans-IO.
//!
//! The driver (`imap::conn`) pushes the bytes it reads with `feed`, tells the
//! session about time passing (`on_tick`) and about the results of the work
//! it did on the session's behalf (`auth_result`, `tls_established`), and
//! after every call writes `take_output()` to the client and carries out
//! every `next_action()` in order. The session never touches a socket, a
//! clock, a thread or the store, so it is tested with plain byte transcripts.
//!
//! States follow RFC 3501 §3: not authenticated → authenticated → logout.
//! A command in the wrong state gets BAD.

pub mod capability;
mod condstore;
mod list;
mod listing;
#[cfg(test)]
mod listing_tests;
mod logged;
mod mailbox;
mod moving;
mod quota;
mod sasl;
mod selected;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_condstore;
mod updates;
mod view;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::auth::LoginCheck;
use crate::config::{PlaintextAuth, Timeouts};
use crate::imap::proto::encode::encode_response;
use crate::imap::proto::frame::{FrameError, FrameEvent, FrameLimits, Framer};
use crate::imap::proto::parse::{
    AuthLine, ParseError, ParseErrorKind, ParseLimits, command_name, parse_auth_line, parse_command,
};
use crate::imap::proto::response::{Code, Continue, Data, Response, StatusKind, StatusResponse};
use crate::imap::proto::types::{Command, CommandBody, InitialResponse, Secret, Tag};
use crate::mailbox::{MailError, MailRead, MailWrite, MailWriteOk, SearchRequest};

use capability::{CapabilityContext, capabilities};
use sasl::decode_plain;
use selected::SelectedPending;
use view::View;

/// The time as the driver tells it to the session, which never reads a
/// clock: the monotonic instant for timeouts and durations, and the wall
/// clock for what a client sees as a date (APPEND's default INTERNALDATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub instant: Instant,
    pub wall: DateTime<Utc>,
}

impl std::ops::Add<Duration> for Now {
    type Output = Now;

    fn add(self, d: Duration) -> Now {
        Now {
            instant: self.instant + d,
            wall: self.wall + d,
        }
    }
}

/// What every session on a listener shares.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub frame_limits: FrameLimits,
    pub parse_limits: ParseLimits,
    pub plaintext_auth: PlaintextAuth,
    pub timeouts: Timeouts,
    /// Whether this listener offers STARTTLS (plain listeners do).
    pub starttls_available: bool,
}

/// What the session knows about its connection when it starts.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: IpAddr,
    /// TLS from the first byte (RFC 8314 implicit TLS).
    pub implicit_tls: bool,
}

/// Work the driver does for the session, in order, after writing the output
/// taken before it.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Start the TLS handshake now (the tagged OK has been taken as output).
    /// Then call `tls_established`, or drop the connection on failure.
    StartTls,
    /// Verify these credentials and call `auth_result`.
    Authenticate {
        username: Vec<u8>,
        password: Secret<Vec<u8>>,
    },
    /// Carry out this change to the user's mail and call `write_result`
    /// once it is durable.
    Write {
        /// Handed back with the result, to say which write finished.
        ticket: u64,
        user_id: u64,
        op: MailWrite,
    },
    /// Run this SEARCH away from the driver's thread (it may scan a whole
    /// mailbox) and call `search_result` with its answer.
    Search {
        ticket: u64,
        request: Box<SearchRequest>,
    },
    /// Carry out this change without reporting back: bookkeeping whose
    /// result no command waits for (the store's copy of the \Recent floor).
    Background { user_id: u64, op: MailWrite },
    /// Tell the session (`output_drained`) once everything taken as output
    /// so far has been written: it has more to say and waits for the
    /// client to read, so memory stays bounded.
    AwaitDrain,
    /// Close the connection once the output is written.
    Close,
    /// COMPRESS=DEFLATE (RFC 4978) from here on: compress all output taken
    /// after this action, and inflate `pending` (what the client sent after
    /// the COMPRESS command) and every later byte before feeding it.
    Compress { pending: Vec<u8> },
}

/// The outcome of a credential check, as the session needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    Success {
        username: String,
        user_id: u64,
        /// The credential checked (`auth::credential_stamp`).
        stamp: u64,
    },
    Failed,
    /// Too many recent failures for this peer or name.
    Throttled,
    /// The user database could not be read.
    Unavailable,
    /// The password was right, but the user already has as many sessions
    /// as `limits.max_connections_per_user` allows.
    TooManySessions,
}

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct User {
    name: String,
    id: u64,
}

/// RFC 3501 §3: the connection's state. The selected mailbox's view lives
/// in its state, so a selected-state command has a view by construction.
#[derive(Debug)]
enum State {
    NotAuthenticated,
    Authenticated { user: User },
    Selected { user: User, view: View },
    Logout,
}

impl State {
    fn user(&self) -> Option<&User> {
        match self {
            State::Authenticated { user } | State::Selected { user, .. } => Some(user),
            State::NotAuthenticated | State::Logout => None,
        }
    }

    fn view(&self) -> Option<&View> {
        match self {
            State::Selected { view, .. } => Some(view),
            _ => None,
        }
    }

    fn view_mut(&mut self) -> Option<&mut View> {
        match self {
            State::Selected { view, .. } => Some(view),
            _ => None,
        }
    }

    /// Selected → authenticated (RFC 3501 §6.4.2 CLOSE, §6.3.1 a new
    /// SELECT); says whether a mailbox was selected.
    fn deselect(&mut self) -> bool {
        match std::mem::replace(self, State::Logout) {
            State::Selected { user, .. } => {
                *self = State::Authenticated { user };
                true
            }
            other => {
                *self = other;
                false
            }
        }
    }

    /// Authenticated (or selected) → selected with `view`; false, and no
    /// change, if nobody is logged in.
    fn select(&mut self, view: View) -> bool {
        match std::mem::replace(self, State::Logout) {
            State::Authenticated { user } | State::Selected { user, .. } => {
                *self = State::Selected { user, view };
                true
            }
            other => {
                *self = other;
                false
            }
        }
    }

    fn is_logout(&self) -> bool {
        matches!(self, State::Logout)
    }
}

/// What a command waiting for a write does with its result.
#[derive(Debug)]
enum Pending {
    /// Answer OK (after reporting any updates).
    Done,
    Selected(SelectedPending),
}

/// What the session waits for before it reads further commands.
#[derive(Debug)]
enum Wait {
    Nothing,
    /// A LOGIN or AUTHENTICATE is being verified by the driver.
    Auth {
        tag: Tag,
        command: &'static str,
        started: Instant,
    },
    /// STARTTLS answered; input is discarded until the handshake is done
    /// (RFC 2595 §3.1: nothing sent in the clear after it may be acted on).
    Tls,
    /// AUTHENTICATE sent its challenge; the next line is the client's answer.
    SaslResponse {
        tag: Tag,
        started: Instant,
    },
    /// A change to the mail store is being made durable.
    Write {
        ticket: u64,
        tag: Tag,
        command: &'static str,
        started: Instant,
        pending: Pending,
    },
    /// A SEARCH runs off the driver's thread (`Action::Search`).
    Search {
        ticket: u64,
        tag: Tag,
        command: &'static str,
        started: Instant,
        uid: bool,
        /// RFC 7162 §3.1.5: the criteria name MODSEQ.
        modseq_key: bool,
    },
    /// IDLE (RFC 2177): changes are reported as they happen until the
    /// client's `DONE` line.
    Idle {
        tag: Tag,
        started: Instant,
    },
    /// A long answer waits for its last chunk to be written.
    Output(Box<selected::FetchJob>),
}

/// Once this much input is held while the session waits, the driver should
/// stop reading until the wait is over: pipelined input is bounded.
const PAUSE_INPUT_AT: usize = 64 * 1024;

/// APPENDs of one session that may wait for the disk at the same time. A
/// client that pipelines its uploads gets them committed together (group
/// commit) instead of one fsync each.
const MAX_INFLIGHT_APPENDS: usize = 64;

/// An APPEND waiting for its write; answered in the order they came.
#[derive(Debug)]
struct InflightAppend {
    ticket: u64,
    tag: Tag,
    started: Instant,
    /// The message's size, counted once it is stored.
    size: u64,
    /// Where it goes, for the log.
    mailbox: String,
    result: Option<Result<MailWriteOk, MailError>>,
}

/// One command answered with a tagged reply, for the driver to log and
/// count once the reply is on its way: only the driver reads the clock,
/// so it measures the duration (from `first_byte`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub tag: String,
    pub command: &'static str,
    /// `OK`, `NO` or `BAD`.
    pub outcome: &'static str,
    pub first_byte: Instant,
}

/// Completions kept for a driver that does not take them (a test
/// harness): past this many, the oldest go.
const MAX_COMPLETIONS: usize = 256;
/// First-byte times kept for commands in flight; more are never in
/// flight at once (pipelined APPENDs are capped well below).
const MAX_FIRST_BYTES: usize = 64;

pub struct Session {
    cfg: Arc<SessionConfig>,
    peer: IpAddr,
    tls_active: bool,
    /// COMPRESS DEFLATE was accepted.
    compressing: bool,
    state: State,
    wait: Wait,
    framer: Framer,
    out: Vec<u8>,
    actions: VecDeque<Action>,
    last_activity: Instant,
    /// When the bytes the framer holds began to arrive: a command's first
    /// byte, as far as the session can tell (the time of the `feed` that
    /// brought it).
    input_since: Instant,
    /// First bytes of commands not answered yet, by tag, oldest first.
    first_bytes: VecDeque<(Tag, Instant)>,
    /// Commands answered since the driver last took them.
    completions: Vec<Completion>,
    /// When the connection was made: the pre-login deadline counts from
    /// here, so a client that trickles bytes cannot extend it.
    connected_at: Instant,
    /// Where reads come from: the store, or any other `MailRead`.
    mail: Arc<dyn MailRead>,
    /// Numbers the writes handed to the driver.
    next_ticket: u64,
    /// APPENDs waiting for the disk, oldest first.
    appends: VecDeque<InflightAppend>,
    /// A command that arrived while APPENDs were in flight; it runs once
    /// they are all answered, so it sees their messages.
    deferred: Option<Command>,
    /// RFC 7162 §3.1: the client is CONDSTORE-aware, so FETCH responses
    /// for flag changes carry UID and MODSEQ, and SELECT says HIGHESTMODSEQ.
    condstore: bool,
    /// RFC 7162 §3.2.3: ENABLE QRESYNC was answered, so VANISHED replaces
    /// EXPUNGE for the rest of the connection.
    qresync: bool,
    /// The wall clock at the latest call from the driver.
    wall: DateTime<Utc>,
    /// The credential the login used, re-checked before each command and
    /// every `LOGIN_CHECK_INTERVAL`: a deleted user or changed password
    /// ends the session.
    login_stamp: u64,
    next_login_check: Instant,
}

/// How often an idle authenticated session re-checks its login, so a
/// deleted user's or an old password's sessions end within this time even
/// when they send nothing (IDLE).
pub const LOGIN_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(20);

impl Session {
    /// A new session; its greeting is already in the output.
    pub fn new(
        cfg: Arc<SessionConfig>,
        info: ConnInfo,
        now: Now,
        mail: Arc<dyn MailRead>,
    ) -> Session {
        let Now { instant: now, wall } = now;
        let framer = Framer::new(cfg.frame_limits);
        let mut s = Session {
            cfg,
            peer: info.peer,
            tls_active: info.implicit_tls,
            compressing: false,
            state: State::NotAuthenticated,
            wait: Wait::Nothing,
            framer,
            out: Vec::with_capacity(256),
            actions: VecDeque::new(),
            last_activity: now,
            input_since: now,
            first_bytes: VecDeque::new(),
            completions: Vec::new(),
            connected_at: now,
            mail,
            next_ticket: 0,
            appends: VecDeque::new(),
            deferred: None,
            condstore: false,
            qresync: false,
            wall,
            login_stamp: 0,
            next_login_check: now,
        };
        let caps = s.capabilities();
        s.untagged(StatusKind::Ok, Some(Code::Capability(caps)), "Roost ready.");
        s
    }

    /// The commands answered since the last call, oldest first.
    pub fn take_completions(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.completions)
    }

    /// Bytes to write to the client, in order.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The next piece of work for the driver.
    pub fn next_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The user name once authenticated, for the connection's log span.
    pub fn username(&self) -> Option<&str> {
        self.state.user().map(|u| u.name.as_str())
    }

    /// Whether the session has ended (it said BYE); the driver closes.
    pub fn is_finished(&self) -> bool {
        self.state.is_logout()
    }

    /// Whether reading more input is useful now. While a command is being
    /// worked on, input piles up in the framer; past a bound, the driver
    /// pauses reading until this turns true again.
    pub fn wants_input(&self) -> bool {
        if self.deferred.is_some() || self.appends.len() >= MAX_INFLIGHT_APPENDS {
            return self.framer.buffered() < PAUSE_INPUT_AT;
        }
        match self.wait {
            Wait::Nothing | Wait::SaslResponse { .. } | Wait::Idle { .. } => true,
            Wait::Auth { .. }
            | Wait::Tls
            | Wait::Write { .. }
            | Wait::Search { .. }
            | Wait::Output(_) => self.framer.buffered() < PAUSE_INPUT_AT,
        }
    }

    /// Bytes read from the client.
    pub fn feed(&mut self, data: &[u8], now: Now) {
        let now = self.clock(now);
        self.last_activity = now;
        if self.state.is_logout() || matches!(self.wait, Wait::Tls) {
            return;
        }
        if self.framer.buffered() == 0 {
            self.input_since = now;
        }
        self.framer.push(data);
        self.process(now);
    }

    /// The credential check asked for by `Action::Authenticate` finished.
    pub fn auth_result(&mut self, result: AuthResult, now: Now) {
        let now = self.clock(now);
        let Wait::Auth {
            tag,
            command,
            started,
        } = std::mem::replace(&mut self.wait, Wait::Nothing)
        else {
            tracing::error!("auth result without a pending authentication");
            return;
        };
        let (kind, code, text) = match result {
            AuthResult::Success {
                username,
                user_id,
                stamp,
            } => {
                self.state = State::Authenticated {
                    user: User {
                        name: username,
                        id: user_id,
                    },
                };
                self.login_stamp = stamp;
                self.next_login_check = now + LOGIN_CHECK_INTERVAL;
                let caps = self.capabilities();
                (StatusKind::Ok, Code::Capability(caps), "Logged in")
            }
            // The same answer whether the user exists or not: no oracle.
            AuthResult::Failed => (
                StatusKind::No,
                Code::AuthenticationFailed,
                "Authentication failed.",
            ),
            AuthResult::Throttled => (
                StatusKind::No,
                Code::Unavailable,
                "Too many failed attempts; try again later.",
            ),
            AuthResult::Unavailable => (
                StatusKind::No,
                Code::Unavailable,
                "Authentication is temporarily unavailable.",
            ),
            // RFC 5530 §3: LIMIT, an implementation limit was reached; not
            // AUTHENTICATIONFAILED, so a client does not ask for a new
            // password.
            AuthResult::TooManySessions => (
                StatusKind::No,
                Code::Limit,
                "Too many sessions of this user are open; close some and try again.",
            ),
        };
        self.tagged(tag, command, started, now, kind, Some(code), text);
        self.process(now);
    }

    /// The mailbox this session has selected, which the driver watches for
    /// changes (`mailbox_changed`).
    pub fn selected_mailbox(&self) -> Option<u64> {
        self.state.view().map(|v| v.mailbox_id)
    }

    /// Another session (or a delivery) changed the selected mailbox. An
    /// idling session reports it at once (RFC 2177); otherwise the change
    /// is reported at the next command, as usual.
    pub fn mailbox_changed(&mut self) {
        if matches!(self.wait, Wait::Idle { .. }) {
            self.sync_view(true, false, &[]);
        }
    }

    /// IDLE (RFC 2177): a continuation, then updates as they happen.
    fn idle(&mut self, tag: Tag, now: Instant) {
        self.respond(&Response::Continue(Continue::Text {
            code: None,
            text: "idling".into(),
        }));
        // The only thing the client may send now is `DONE`: a plain line.
        self.framer.set_auth_mode(true);
        self.wait = Wait::Idle { tag, started: now };
        self.sync_view(true, false, &[]);
    }

    fn idle_line(&mut self, line: &[u8], now: Instant) {
        self.framer.set_auth_mode(false);
        let Wait::Idle { tag, started } = std::mem::replace(&mut self.wait, Wait::Nothing) else {
            return;
        };
        if line.trim_ascii().eq_ignore_ascii_case(b"DONE") {
            self.tagged(
                tag,
                "IDLE",
                started,
                now,
                StatusKind::Ok,
                None,
                "IDLE terminated",
            )
        } else {
            self.tagged(
                tag,
                "IDLE",
                started,
                now,
                StatusKind::Bad,
                None,
                "Expected DONE.",
            )
        }
    }

    /// The write asked for by `Action::Write` finished (durably, if Ok).
    pub fn write_result(&mut self, ticket: u64, result: Result<MailWriteOk, MailError>, now: Now) {
        let now = self.clock(now);
        if matches!(self.wait, Wait::Write { ticket: t, .. } if t == ticket) {
            if let Wait::Write {
                tag,
                command,
                started,
                pending,
                ..
            } = std::mem::replace(&mut self.wait, Wait::Nothing)
            {
                self.finish_write(tag, command, started, now, pending, result);
            }
        } else if let Some(a) = self.appends.iter_mut().find(|a| a.ticket == ticket) {
            a.result = Some(result);
            self.flush_appends(now);
        } else {
            tracing::error!(ticket, "write result for no pending write");
            return;
        }
        self.process(now);
    }

    /// Takes the time the driver passed in: the wall clock is kept for
    /// what the command being run needs of it, the instant returned.
    fn clock(&mut self, now: Now) -> Instant {
        self.wall = now.wall;
        now.instant
    }

    /// A new ticket for a write.
    pub(super) fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// Sends an APPEND on its way without waiting for it: further APPENDs
    /// may follow it to the disk in the same commit.
    fn start_append(&mut self, tag: Tag, now: Instant, op: MailWrite) {
        let Some(user_id) = self.user_id() else {
            return;
        };
        let ticket = self.ticket();
        let (size, mailbox) = match &op {
            MailWrite::Append {
                message, mailbox, ..
            } => (message.len() as u64, mailbox.clone()),
            _ => (0, String::new()),
        };
        self.appends.push_back(InflightAppend {
            ticket,
            tag,
            started: now,
            size,
            mailbox,
            result: None,
        });
        self.actions.push_back(Action::Write {
            ticket,
            user_id,
            op,
        });
    }

    /// Answers the finished APPENDs at the front of the queue, in order.
    fn flush_appends(&mut self, now: Instant) {
        while self.appends.front().is_some_and(|a| a.result.is_some()) {
            let Some(InflightAppend {
                tag,
                started,
                size,
                mailbox,
                result: Some(result),
                ..
            }) = self.appends.pop_front()
            else {
                break;
            };
            match result {
                Ok(ok) => {
                    crate::metrics::appended(size);
                    self.sync_view(true, false, &[]);
                    // RFC 4315 §3: APPEND tells where the message went.
                    let code = match ok {
                        MailWriteOk::Appended { uidvalidity, uid } => {
                            self.log_append(&mailbox, uidvalidity, uid, size);
                            Some(Code::AppendUid { uidvalidity, uid })
                        }
                        _ => None,
                    };
                    self.tagged(
                        tag,
                        "APPEND",
                        started,
                        now,
                        StatusKind::Ok,
                        code,
                        "APPEND completed",
                    );
                }
                Err(MailError::NonExistent) => self.tagged(
                    tag,
                    "APPEND",
                    started,
                    now,
                    StatusKind::No,
                    Some(Code::TryCreate),
                    "Mailbox does not exist.",
                ),
                Err(e) => self.mail_error(tag, "APPEND", started, now, &e),
            }
        }
    }

    /// Everything taken as output before `Action::AwaitDrain` is written.
    pub fn output_drained(&mut self, now: Now) {
        let now = self.clock(now);
        if let Wait::Output(job) = std::mem::replace(&mut self.wait, Wait::Nothing) {
            self.run_fetch(*job, now);
            self.process(now);
        }
    }

    /// The TLS handshake started by `Action::StartTls` completed.
    pub fn tls_established(&mut self, now: Now) {
        let now = self.clock(now);
        if matches!(self.wait, Wait::Tls) {
            self.wait = Wait::Nothing;
            self.tls_active = true;
            self.framer.clear();
            self.last_activity = now;
        }
    }

    /// When `on_tick` must next be called: the autologout deadline, or the
    /// next re-check of the login.
    pub fn deadline(&self) -> Instant {
        match self.state {
            State::Authenticated { .. } | State::Selected { .. } => {
                self.autologout_at().min(self.next_login_check)
            }
            _ => self.autologout_at(),
        }
    }

    /// When the session times out if nothing happens before: once logged
    /// in, the idle timeout from the last activity; before, a hard deadline
    /// from the connection's start that no byte extends (a client sending
    /// one byte a second must not hold a socket forever).
    fn autologout_at(&self) -> Instant {
        match self.state {
            State::Authenticated { .. } | State::Selected { .. } => {
                self.last_activity + self.cfg.timeouts.authenticated
            }
            _ => self.connected_at + self.cfg.timeouts.unauthenticated,
        }
    }

    /// Time passed; autologout (RFC 3501 §5.4) if the deadline is reached,
    /// and the login re-checked when due.
    pub fn on_tick(&mut self, now: Now) {
        let now = self.clock(now);
        let busy = matches!(
            self.wait,
            Wait::Auth { .. } | Wait::Write { .. } | Wait::Search { .. }
        ) || !self.appends.is_empty();
        if self.state.is_logout() || busy {
            return;
        }
        if now >= self.autologout_at() {
            self.bye(None, "Autologout; idle for too long.");
        } else if now >= self.next_login_check {
            self.recheck_login(now);
        }
    }

    /// Ends the session with BYE if its user was deleted or its password
    /// changed since it logged in; `true` if the session goes on.
    fn recheck_login(&mut self, now: Instant) -> bool {
        let Some(user) = self.state.user() else {
            return true;
        };
        let check = self.mail.check_login(&user.name, user.id, self.login_stamp);
        self.next_login_check = now + LOGIN_CHECK_INTERVAL;
        match check {
            LoginCheck::Valid => true,
            LoginCheck::UserGone => {
                tracing::info!("ending the session: the user was deleted");
                self.bye(None, "This account has been deleted.");
                false
            }
            LoginCheck::PasswordChanged => {
                tracing::info!("ending the session: the password was changed");
                self.bye(None, "The password was changed; log in again.");
                false
            }
        }
    }

    /// The server is shutting down.
    pub fn shutdown(&mut self) {
        if !self.state.is_logout() {
            self.bye(None, "Server shutting down.");
        }
    }

    fn plaintext_auth_allowed(&self) -> bool {
        self.tls_active
            || match self.cfg.plaintext_auth {
                PlaintextAuth::Always => true,
                PlaintextAuth::Never => false,
                PlaintextAuth::Loopback => self.peer.is_loopback(),
            }
    }

    fn capabilities(&self) -> Vec<String> {
        capabilities(CapabilityContext {
            authenticated: self.state.user().is_some(),
            tls_active: self.tls_active,
            starttls_offered: self.cfg.starttls_available,
            plaintext_auth_allowed: self.plaintext_auth_allowed(),
            append_limit: self.cfg.frame_limits.max_append_literal as u64,
        })
    }

    /// Handles framed input until the session must wait or needs more bytes.
    fn process(&mut self, now: Instant) {
        loop {
            if self.state.is_logout()
                || matches!(
                    self.wait,
                    Wait::Auth { .. }
                        | Wait::Tls
                        | Wait::Write { .. }
                        | Wait::Search { .. }
                        | Wait::Output(_)
                )
            {
                return;
            }
            if !self.appends.is_empty() {
                if self.deferred.is_some() || self.appends.len() >= MAX_INFLIGHT_APPENDS {
                    return;
                }
            } else if let Some(cmd) = self.deferred.take() {
                self.dispatch(cmd, now);
                continue;
            }
            let Some(event) = self.framer.next_event() else {
                return;
            };
            match event {
                FrameEvent::Command(bytes) => self.command(&bytes, now),
                FrameEvent::ContinuationNeeded => {
                    self.respond(&Response::Continue(Continue::Text {
                        code: None,
                        text: "Ready for literal data".into(),
                    }))
                }
                FrameEvent::AuthLine(line) => {
                    if matches!(self.wait, Wait::Idle { .. }) {
                        self.idle_line(&line, now)
                    } else {
                        self.sasl_response(&line, now)
                    }
                }
                FrameEvent::Refused { tag, error } => self.refused(tag, error, now),
                FrameEvent::Fatal { error, .. } => {
                    tracing::info!(error = %error, "closing: input cannot be resynchronised");
                    self.bye(
                        Some(limit_code(&error)),
                        &format!("{error}; closing connection."),
                    );
                }
            }
        }
    }

    fn refused(&mut self, tag: Option<Tag>, error: FrameError, now: Instant) {
        // A line refused in the middle of an AUTHENTICATE exchange or an
        // IDLE ends it.
        let tag = match std::mem::replace(&mut self.wait, Wait::Nothing) {
            Wait::SaslResponse { tag, .. } | Wait::Idle { tag, .. } => {
                self.framer.set_auth_mode(false);
                Some(tag)
            }
            other => {
                self.wait = other;
                tag
            }
        };
        let (kind, text) = match &error {
            FrameError::LiteralTooBig {
                append: true,
                limit,
                ..
            } => (
                StatusKind::No,
                format!("Message too big (the limit is {limit} bytes)."),
            ),
            other => (StatusKind::Bad, format!("{other}.")),
        };
        let code = limit_code(&error);
        match tag {
            Some(tag) => self.tagged(tag, "(refused)", now, now, kind, Some(code), &text),
            None => self.untagged(StatusKind::Bad, Some(code), &text),
        }
    }

    fn command(&mut self, bytes: &[u8], now: Instant) {
        let parsed = parse_command(bytes, &self.cfg.parse_limits);
        let tag = match &parsed {
            Ok(cmd) => Some(&cmd.tag),
            Err(e) => e.tag.as_ref(),
        };
        if let Some(tag) = tag {
            if self.first_bytes.len() >= MAX_FIRST_BYTES {
                self.first_bytes.pop_front();
            }
            self.first_bytes.push_back((tag.clone(), self.input_since));
        }
        // What the framer still holds belongs to the commands after this
        // one and came in by the last feed at the latest.
        self.input_since = self.last_activity;
        let cmd = match parsed {
            Ok(cmd) => cmd,
            // 8-bit bytes are not IMAP4rev1 syntax in a name: those stay BAD.
            Err(e)
                if matches!(e.kind, ParseErrorKind::InvalidMailboxName(_))
                    && self.state.user().is_some()
                    && bytes.is_ascii() =>
            {
                self.invalid_mailbox_name(bytes, e, now);
                return;
            }
            Err(e) => {
                let code = match e.kind {
                    ParseErrorKind::TooDeep | ParseErrorKind::TooManyParams => Some(Code::Limit),
                    _ => None,
                };
                let text = format!("{}.", e.kind);
                match e.tag {
                    Some(tag) => {
                        self.tagged(tag, "(invalid)", now, now, StatusKind::Bad, code, &text)
                    }
                    None => self.untagged(StatusKind::Bad, code, &text),
                }
                return;
            }
        };
        if !self.appends.is_empty() && !matches!(cmd.body, CommandBody::Append { .. }) {
            // Whatever follows a run of APPENDs sees their messages.
            if matches!(cmd.body, CommandBody::Compress { .. }) {
                // What comes after it may be compressed: keep it unframed.
                self.framer.hold(true);
            }
            self.deferred = Some(cmd);
            return;
        }
        self.dispatch(cmd, now);
    }

    /// A name that is IMAP syntax but not valid modified UTF-7 (RFC 3501
    /// §5.1.3) names no mailbox there can be: NO, not BAD, which §7.1.5
    /// keeps for protocol errors; and a LIST or LSUB pattern that can match
    /// nothing gets its empty answer.
    fn invalid_mailbox_name(&mut self, bytes: &[u8], e: ParseError, now: Instant) {
        let Some(tag) = e.tag else { return };
        let listing: Option<&'static str> = match command_name(bytes).as_deref() {
            Some("LIST") => Some("LIST"),
            Some("LSUB") => Some("LSUB"),
            _ => None,
        };
        match listing {
            Some(name) => {
                let text = format!("{name} completed.");
                self.tagged(tag, name, now, now, StatusKind::Ok, None, &text)
            }
            _ => self.tagged(
                tag,
                "(invalid)",
                now,
                now,
                StatusKind::No,
                None,
                "Mailbox name is not valid modified UTF-7.",
            ),
        }
    }

    fn dispatch(&mut self, cmd: Command, now: Instant) {
        // A deleted user's or an old password's session runs no command.
        if !self.recheck_login(now) {
            return;
        }
        let Command { tag, body } = cmd;
        let name = body.name();
        if let Some(reason) = self.wrong_state(&body) {
            self.tagged(tag, name, now, now, StatusKind::Bad, None, reason);
            return;
        }
        match body {
            CommandBody::Capability => {
                let caps = self.capabilities();
                self.respond(&Response::Data(Data::Capability(caps)));
                self.completed(tag, name, now, now);
            }
            CommandBody::Noop => self.check(tag, name, now),
            CommandBody::Logout => {
                self.untagged(StatusKind::Bye, None, "Logging out.");
                self.completed(tag, name, now, now);
                self.state = State::Logout;
                self.actions.push_back(Action::Close);
            }
            CommandBody::Id { parameters } => {
                if let Some(params) = &parameters {
                    let summary: Vec<String> = params
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("NIL")))
                        .collect();
                    tracing::info!(client_id = %summary.join(", "), "client identified itself");
                }
                self.respond(&Response::Data(Data::Id(Some(vec![
                    ("name".into(), Some("Roost".into())),
                    ("version".into(), Some(env!("CARGO_PKG_VERSION").into())),
                ]))));
                self.completed(tag, name, now, now);
            }
            CommandBody::StartTls => {
                if self.tls_active {
                    self.tagged(
                        tag,
                        name,
                        now,
                        now,
                        StatusKind::Bad,
                        None,
                        "TLS is already active.",
                    );
                } else if !self.cfg.starttls_available {
                    self.tagged(
                        tag,
                        name,
                        now,
                        now,
                        StatusKind::Bad,
                        None,
                        "STARTTLS is not offered here.",
                    );
                } else {
                    self.tagged(
                        tag,
                        name,
                        now,
                        now,
                        StatusKind::Ok,
                        None,
                        "Begin TLS negotiation now",
                    );
                    // Whatever the client pipelined after STARTTLS in the
                    // clear is dropped, never executed.
                    self.framer.clear();
                    self.wait = Wait::Tls;
                    self.actions.push_back(Action::StartTls);
                }
            }
            CommandBody::Login { username, password } => {
                if !self.plaintext_auth_allowed() {
                    self.privacy_required(tag, name, now);
                } else {
                    self.wait = Wait::Auth {
                        tag,
                        command: name,
                        started: now,
                    };
                    self.actions
                        .push_back(Action::Authenticate { username, password });
                }
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => self.authenticate(tag, &mechanism, initial_response, now),
            CommandBody::Select { mailbox, params } => {
                self.select(tag, mailbox, false, params, now)
            }
            CommandBody::Examine { mailbox, params } => {
                self.select(tag, mailbox, true, params, now)
            }
            CommandBody::Create {
                mailbox,
                special_use,
            } => self.create(tag, mailbox, special_use, now),
            CommandBody::Delete { mailbox } => self.delete(tag, mailbox, now),
            CommandBody::Rename { from, to } => self.rename(tag, from, to, now),
            CommandBody::Subscribe { mailbox } => self.subscribe(tag, mailbox, true, now),
            CommandBody::Unsubscribe { mailbox } => self.subscribe(tag, mailbox, false, now),
            CommandBody::List { reference, pattern } => {
                self.list(tag, &reference, &pattern, false, now)
            }
            CommandBody::ListExtended {
                select,
                reference,
                patterns,
                returns,
            } => self.list_extended(tag, &select, &reference, &patterns, &returns, now),
            CommandBody::Lsub { reference, pattern } => {
                self.list(tag, &reference, &pattern, true, now)
            }
            CommandBody::Status { mailbox, items } => self.status(tag, mailbox, &items, now),
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(tag, mailbox, flags, date, message, now),
            CommandBody::Check => self.check(tag, name, now),
            CommandBody::Close => self.close(tag, now),
            CommandBody::Expunge => self.expunge(tag, now),
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } => self.search(tag, charset.as_deref(), &criteria, uid, now),
            CommandBody::Fetch {
                sequence_set,
                items,
                uid,
                modifiers,
            } => self.fetch(tag, &sequence_set, &items, uid, modifiers, now),
            CommandBody::Store {
                sequence_set,
                kind,
                silent,
                flags,
                uid,
                unchanged_since,
            } => {
                let change = selected::FlagChange {
                    kind,
                    silent,
                    flags,
                    unchanged_since,
                };
                self.store(tag, &sequence_set, change, uid, now)
            }
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(tag, &sequence_set, mailbox, uid, now),
            CommandBody::UidExpunge { sequence_set } => self.uid_expunge(tag, &sequence_set, now),
            CommandBody::Idle => self.idle(tag, now),
            CommandBody::Unselect => {
                // RFC 3691: like CLOSE, without the expunge.
                self.state.deselect();
                self.completed(tag, name, now, now)
            }
            CommandBody::GetQuota { root } => self.get_quota(tag, &root, now),
            CommandBody::GetQuotaRoot { mailbox } => self.get_quota_root(tag, &mailbox, now),
            CommandBody::SetQuota { .. } => self.set_quota(tag, now),
            CommandBody::Compress { algorithm } => self.compress(tag, &algorithm, now),
            CommandBody::Namespace => {
                self.respond(&Response::Data(Data::Namespace {
                    prefix: String::new(),
                    delimiter: '/',
                }));
                self.completed(tag, name, now, now)
            }
            CommandBody::Enable { capabilities } => self.enable(tag, &capabilities, now),
            CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            } => self.move_messages(tag, &sequence_set, mailbox, uid, now),
        }
    }

    /// Why `body` is not valid in the current state, if it is not.
    fn wrong_state(&self, body: &CommandBody) -> Option<&'static str> {
        use CommandBody::*;
        let authenticated = self.state.user().is_some();
        match body {
            Capability | Noop | Logout | Id { .. } => None,
            StartTls | Authenticate { .. } | Login { .. } if authenticated => {
                Some("Already authenticated.")
            }
            StartTls | Authenticate { .. } | Login { .. } => None,
            Check
            | Close
            | Expunge
            | Search { .. }
            | Fetch { .. }
            | Store { .. }
            | Copy { .. }
            | Move { .. }
            | UidExpunge { .. }
            | Unselect => {
                if !authenticated {
                    Some("Log in first.")
                } else if self.state.view().is_none() {
                    Some("No mailbox selected.")
                } else {
                    None
                }
            }
            _ if !authenticated => Some("Log in first."),
            _ => None,
        }
    }

    /// COMPRESS (RFC 4978 §3). The tagged OK is the last uncompressed
    /// output: "the server MUST compress starting immediately after the
    /// CRLF which ends the tagged OK response", and the client "MUST
    /// compress starting with the first command after COMPRESS", so bytes
    /// that arrived after the command are handed over to be inflated.
    fn compress(&mut self, tag: Tag, algorithm: &str, now: Instant) {
        let name = "COMPRESS";
        if self.compressing {
            // RFC 4978 lists BAD for a second COMPRESS but defines
            // COMPRESSIONACTIVE for exactly this case; the code tells the
            // client why, as other servers answer.
            self.framer.hold(false);
            self.tagged(
                tag,
                name,
                now,
                now,
                StatusKind::No,
                Some(Code::CompressionActive),
                "DEFLATE is already active.",
            );
        } else if algorithm != "DEFLATE" {
            self.framer.hold(false);
            self.tagged(
                tag,
                name,
                now,
                now,
                StatusKind::Bad,
                None,
                "Unknown compression algorithm.",
            );
        } else {
            self.tagged(tag, name, now, now, StatusKind::Ok, None, "DEFLATE active");
            self.compressing = true;
            let pending = self.framer.take_unframed();
            self.actions.push_back(Action::Compress { pending });
        }
    }

    fn privacy_required(&mut self, tag: Tag, name: &'static str, now: Instant) {
        self.tagged(
            tag,
            name,
            now,
            now,
            StatusKind::No,
            Some(Code::PrivacyRequired),
            "Plaintext authentication is disallowed on non-encrypted connections; use STARTTLS.",
        );
    }

    /// AUTHENTICATE (RFC 3501 §6.2.2) with SASL-IR (RFC 4959). Only PLAIN.
    fn authenticate(
        &mut self,
        tag: Tag,
        mechanism: &str,
        initial: Option<InitialResponse>,
        now: Instant,
    ) {
        let name = "AUTHENTICATE";
        if mechanism != "PLAIN" {
            self.tagged(
                tag,
                name,
                now,
                now,
                StatusKind::No,
                Some(Code::Cannot),
                "Unsupported authentication mechanism.",
            );
            return;
        }
        if !self.plaintext_auth_allowed() {
            self.privacy_required(tag, name, now);
            return;
        }
        match initial {
            Some(InitialResponse::Data(data)) => self.plain_message(tag, data.expose(), now, now),
            Some(InitialResponse::Empty) => self.plain_message(tag, b"", now, now),
            None => {
                self.respond(&Response::Continue(Continue::Base64(Vec::new())));
                self.framer.set_auth_mode(true);
                self.wait = Wait::SaslResponse { tag, started: now };
            }
        }
    }

    fn sasl_response(&mut self, line: &[u8], now: Instant) {
        self.framer.set_auth_mode(false);
        let Wait::SaslResponse { tag, started } = std::mem::replace(&mut self.wait, Wait::Nothing)
        else {
            tracing::error!("SASL line outside an AUTHENTICATE exchange");
            return;
        };
        match parse_auth_line(line) {
            Ok(AuthLine::Cancel) => self.tagged(
                tag,
                "AUTHENTICATE",
                started,
                now,
                StatusKind::Bad,
                None,
                "Authentication cancelled.",
            ),
            Ok(AuthLine::Data(data)) => self.plain_message(tag, data.expose(), started, now),
            Err(e) => self.tagged(
                tag,
                "AUTHENTICATE",
                started,
                now,
                StatusKind::Bad,
                None,
                &format!("{e}."),
            ),
        }
    }

    fn plain_message(&mut self, tag: Tag, msg: &[u8], started: Instant, now: Instant) {
        let name = "AUTHENTICATE";
        let Ok(plain) = decode_plain(msg) else {
            self.tagged(
                tag,
                name,
                started,
                now,
                StatusKind::Bad,
                None,
                "Malformed PLAIN response.",
            );
            return;
        };
        if !plain.authzid.is_empty() && plain.authzid != plain.authcid {
            // Acting as another user is not offered.
            self.tagged(
                tag,
                name,
                started,
                now,
                StatusKind::No,
                Some(Code::AuthorizationFailed),
                "Not authorized to act as that user.",
            );
            return;
        }
        self.wait = Wait::Auth {
            tag,
            command: name,
            started,
        };
        self.actions.push_back(Action::Authenticate {
            username: plain.authcid,
            password: plain.password,
        });
    }

    fn bye(&mut self, code: Option<Code>, text: &str) {
        self.untagged(StatusKind::Bye, code, text);
        self.state = State::Logout;
        self.actions.push_back(Action::Close);
    }

    fn respond(&mut self, r: &Response) {
        encode_response(&mut self.out, r);
    }

    fn untagged(&mut self, kind: StatusKind, code: Option<Code>, text: &str) {
        self.respond(&Response::Status(StatusResponse::untagged(
            kind, code, text,
        )));
    }

    /// `tag OK <command> completed`, logged.
    fn completed(&mut self, tag: Tag, command: &'static str, started: Instant, now: Instant) {
        let text = format!("{command} completed");
        self.tagged(tag, command, started, now, StatusKind::Ok, None, &text);
    }

    /// Writes a tagged completion and logs the command's outcome.
    #[allow(clippy::too_many_arguments)]
    fn tagged(
        &mut self,
        tag: Tag,
        command: &'static str,
        started: Instant,
        // Unused: the driver, which reads the clock, times the reply.
        _now: Instant,
        kind: StatusKind,
        code: Option<Code>,
        text: &str,
    ) {
        let outcome = match kind {
            StatusKind::Ok => "OK",
            StatusKind::No => "NO",
            StatusKind::Bad => "BAD",
            StatusKind::PreAuth => "PREAUTH",
            StatusKind::Bye => "BYE",
        };
        // The driver logs and counts it, measuring from the first byte
        // (or from `started`, for a reply to input that had no tag).
        let first_byte = match self.first_bytes.iter().position(|(t, _)| *t == tag) {
            Some(i) => self.first_bytes.remove(i).map_or(started, |(_, at)| at),
            None => started,
        };
        if self.completions.len() >= MAX_COMPLETIONS {
            self.completions.remove(0);
        }
        self.completions.push(Completion {
            tag: tag.to_string(),
            command,
            outcome,
            first_byte: first_byte.min(started),
        });
        self.respond(&Response::Status(StatusResponse::tagged(
            tag, kind, code, text,
        )));
    }
}

/// The response code for a framing limit (RFC 5530 LIMIT; TOOBIG for
/// messages, as RFC 7888 §5 asks for APPEND).
fn limit_code(error: &FrameError) -> Code {
    match error {
        FrameError::LiteralTooBig { .. } => Code::TooBig,
        FrameError::LineTooLong | FrameError::CommandTooBig => Code::Limit,
    }
}
