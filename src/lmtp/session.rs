//! One LMTP connection's state machine, sans-IO.
//!
//! The driver (`lmtp::conn`) pushes what it reads with `feed`, tells the
//! session about time (`on_tick`) and about deliveries it carried out
//! (`delivered`), and after every call writes `take_output()` and carries
//! out every `next_action()`. The session never touches a socket, a clock
//! or the store; it asks a `Directory` (a snapshot read) who a recipient
//! is, and hands the message out as `Action::Deliver`.
//!
//! RFC 2033 §4.2: after the final `.`, one reply per accepted RCPT, in RCPT
//! order, each sent only when that recipient's copy is on disk (the driver
//! calls `delivered` after the store's commit). Commands pipelined behind
//! the message (RFC 2920) wait in the input until then.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::command::{Body, Command, ForwardPath, ParseError, ReversePath, parse_command};
use super::data::{DataProgress, DataReader};
use super::reply::{Enhanced, Reply};

/// Limits of one session; see `[lmtp]` in packaging/roost.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included. RFC 5321 §4.5.3.1.4 says 512;
    /// SIZE and BODY make MAIL longer (RFC 1870 §3 allows 26 more).
    pub max_line: usize,
    /// Largest message, as received (before the headers Roost adds).
    pub max_message_size: u64,
    /// RCPTs accepted in one transaction (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Commands accepted without a message being delivered, so a client
    /// cannot hold a connection open by sending NOOP or errors forever.
    pub max_commands: usize,
    /// How long the client may stay silent.
    pub idle_timeout: Duration,
    /// How long one connection may last in all.
    pub session_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line: 2048,
            max_message_size: 64 << 20,
            max_recipients: 1000,
            max_commands: 10_000,
            // RFC 5321 §4.5.3.2.7: a server should wait 5 minutes.
            idle_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(3600),
        }
    }
}

/// What a full mailbox makes of a delivery: `552 5.2.2` (bounce) or
/// `452 4.2.2` (retry later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverQuota {
    #[default]
    Permanent,
    Temporary,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our name in the greeting and LHLO.
    pub hostname: String,
    pub limits: Limits,
    pub over_quota: OverQuota,
}

/// Where a local recipient's copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: String,
    pub user_id: u64,
    /// The mailbox to store into (INBOX, or the `+tag` mailbox).
    pub mailbox: String,
}

/// Who a recipient is, from a snapshot of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Local(Target),
    /// No such user.
    Unknown,
    /// The domain is not one of ours.
    NotLocal,
    /// The user is already at their quota.
    OverQuota,
    /// The store could not be read.
    Unavailable,
}

/// Answers RCPT: which user an address names.
pub trait Directory {
    fn lookup(&self, rcpt: &ForwardPath) -> Lookup;
}

/// An accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: ForwardPath,
    pub target: Target,
}

/// One message for the driver to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub from: ReversePath,
    pub body: Body,
    /// The name the client gave in LHLO.
    pub client: String,
    /// Accepted recipients, in RCPT order.
    pub recipients: Vec<Recipient>,
    /// The message as received: unstuffed, CRLF line ends, NUL as 0x80.
    pub message: Vec<u8>,
}

/// What became of one recipient's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// On disk, in this mailbox.
    Stored {
        mailbox: String,
    },
    /// The user went away between RCPT and the end of the message.
    Unknown,
    OverQuota,
    /// Try again later.
    Failed(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Store the message for each recipient, then call `delivered` with
    /// one outcome per recipient, in order, once the copies are durable.
    Deliver(Delivery),
    /// Close the connection once the output is written.
    Close,
}

#[derive(Debug, Default)]
struct Transaction {
    from: Option<ReversePath>,
    body: Body,
    recipients: Vec<Recipient>,
}

#[derive(Debug)]
enum State {
    /// Before LHLO.
    Start,
    /// After LHLO, no transaction.
    Ready,
    /// MAIL accepted; RCPTs being given.
    Mail(Transaction),
    /// Reading the message after DATA's 354.
    Data(Transaction, DataReader),
    /// Waiting for `delivered`; these are the recipients, in order.
    Delivering(Vec<ForwardPath>),
    Closed,
}

pub struct Session<D> {
    cfg: Arc<SessionConfig>,
    directory: D,
    state: State,
    client: Option<String>,
    /// Input not consumed yet: a partial line, or commands pipelined behind
    /// a message that is being delivered.
    input: Vec<u8>,
    /// An overlong line is being thrown away up to its LF.
    discarding: bool,
    output: Vec<u8>,
    actions: std::collections::VecDeque<Action>,
    commands: usize,
    started: Instant,
    last_input: Instant,
    /// Shutdown asked for while a delivery was under way.
    closing: bool,
}

const OK: Enhanced = Enhanced(2, 0, 0);
const BAD_SEQUENCE: Enhanced = Enhanced(5, 5, 1);

impl<D: Directory> Session<D> {
    pub fn new(cfg: Arc<SessionConfig>, directory: D, now: Instant) -> Session<D> {
        let mut s = Session {
            directory,
            state: State::Start,
            client: None,
            input: Vec::new(),
            discarding: false,
            output: Vec::new(),
            actions: Default::default(),
            commands: 0,
            started: now,
            last_input: now,
            closing: false,
            cfg,
        };
        let greeting = format!("{} LMTP ready", s.cfg.hostname);
        s.reply(Reply::plain(220, vec![greeting]));
        s
    }

    /// Bytes to write to the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    pub fn next_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Whether the driver should read more: not while a delivery is under
    /// way (what was read waits) nor after the end.
    pub fn wants_input(&self) -> bool {
        !matches!(self.state, State::Delivering(_) | State::Closed)
    }

    /// Input bytes held (a partial line, or commands waiting behind a
    /// delivery): at most the line limit plus what was fed during a delivery.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// When `on_tick` should next be called.
    pub fn deadline(&self) -> Instant {
        (self.last_input + self.cfg.limits.idle_timeout)
            .min(self.started + self.cfg.limits.session_timeout)
    }

    pub fn on_tick(&mut self, now: Instant) {
        if matches!(self.state, State::Delivering(_) | State::Closed) {
            return;
        }
        if now >= self.deadline() {
            self.close_with(Reply::new(421, Enhanced(4, 4, 2), "Timeout, closing"));
        }
    }

    /// The server is stopping: say so and close, after a delivery under
    /// way has been answered.
    pub fn shutdown(&mut self) {
        match self.state {
            State::Closed => {}
            State::Delivering(_) => self.closing = true,
            _ => self.close_with(Reply::new(421, Enhanced(4, 3, 2), "Shutting down")),
        }
    }

    /// The client closed its side: a transfer not finished is dropped,
    /// nothing stored (RFC 5321 §4.1.1.4: no message without its end).
    pub fn eof(&mut self) {
        if !matches!(self.state, State::Delivering(_)) {
            self.state = State::Closed;
        }
    }

    pub fn feed(&mut self, bytes: &[u8], now: Instant) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.last_input = now;
        self.input.extend_from_slice(bytes);
        self.process();
    }

    /// The outcomes of the last `Action::Deliver`, one per recipient.
    pub fn delivered(&mut self, outcomes: Vec<Outcome>) {
        let State::Delivering(recipients) = std::mem::replace(&mut self.state, State::Ready) else {
            return;
        };
        self.commands = 0;
        let mut outcomes = outcomes.into_iter();
        for rcpt in &recipients {
            // A missing outcome is a bug, but never a false 250.
            let outcome = outcomes
                .next()
                .unwrap_or_else(|| Outcome::Failed("no outcome".into()));
            let reply = self.outcome_reply(rcpt, outcome);
            self.reply(reply);
        }
        if self.closing {
            self.close_with(Reply::new(421, Enhanced(4, 3, 2), "Shutting down"));
        } else {
            self.process();
        }
    }

    fn outcome_reply(&self, rcpt: &ForwardPath, outcome: Outcome) -> Reply {
        let who = rcpt.as_given();
        match outcome {
            Outcome::Stored { .. } => Reply::new(250, OK, format!("<{who}> delivered")),
            Outcome::Unknown => Reply::new(550, Enhanced(5, 1, 1), format!("<{who}> User unknown")),
            Outcome::OverQuota => self.over_quota_reply(who),
            Outcome::Failed(why) => Reply::new(
                451,
                Enhanced(4, 3, 0),
                format!("<{who}> Temporary failure ({why}), try again later"),
            ),
        }
    }

    fn over_quota_reply(&self, who: &str) -> Reply {
        match self.cfg.over_quota {
            OverQuota::Permanent => {
                Reply::new(552, Enhanced(5, 2, 2), format!("<{who}> Mailbox is full"))
            }
            OverQuota::Temporary => {
                Reply::new(452, Enhanced(4, 2, 2), format!("<{who}> Mailbox is full"))
            }
        }
    }

    fn reply(&mut self, r: Reply) {
        r.encode(&mut self.output);
    }

    fn close_with(&mut self, r: Reply) {
        self.reply(r);
        self.state = State::Closed;
        self.input = Vec::new();
        self.actions.push_back(Action::Close);
    }

    /// Works through the input as far as the state allows.
    fn process(&mut self) {
        loop {
            match &mut self.state {
                State::Closed | State::Delivering(_) => return,
                State::Data(_, reader) => match reader.feed(&self.input) {
                    DataProgress::More => {
                        self.input.clear();
                        return;
                    }
                    DataProgress::Done { consumed } => {
                        self.input.drain(..consumed);
                        self.end_of_data();
                    }
                },
                _ => {
                    if !self.next_line() {
                        return;
                    }
                }
            }
        }
    }

    /// Takes and runs one command line; false if no whole line is there.
    fn next_line(&mut self) -> bool {
        let max = self.cfg.limits.max_line;
        let Some(lf) = memchr::memchr(b'\n', &self.input) else {
            if self.input.len() > max {
                // Bounded: what is over the limit is thrown away as it comes.
                self.input.clear();
                self.discarding = true;
            }
            return false;
        };
        let mut line: Vec<u8> = self.input.drain(..=lf).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if std::mem::take(&mut self.discarding) || line.len() + 2 > max {
            self.counted(Reply::new(500, Enhanced(5, 5, 2), "Line too long"));
            return true;
        }
        match parse_command(&line) {
            Ok(cmd) => self.command(cmd),
            Err(ParseError(reply)) => self.counted(reply),
        }
        true
    }

    /// Replies to a command and counts it against `max_commands`.
    fn counted(&mut self, r: Reply) {
        self.reply(r);
        self.commands += 1;
        if self.commands > self.cfg.limits.max_commands && !self.is_closed() {
            self.close_with(Reply::new(
                421,
                Enhanced(4, 7, 0),
                "Too many commands, closing",
            ));
        }
    }

    fn command(&mut self, cmd: Command) {
        let reply = match cmd {
            Command::Lhlo { client } => {
                self.client = Some(client);
                self.state = State::Ready;
                let l = &self.cfg.limits;
                Reply::plain(
                    250,
                    vec![
                        self.cfg.hostname.clone(),
                        "PIPELINING".into(),
                        "ENHANCEDSTATUSCODES".into(),
                        "8BITMIME".into(),
                        format!("SIZE {}", l.max_message_size),
                    ],
                )
            }
            Command::Helo => Reply::new(500, BAD_SEQUENCE, "This is LMTP: use LHLO"),
            Command::Mail { from, params } => match &self.state {
                State::Start => Reply::new(503, BAD_SEQUENCE, "LHLO first"),
                State::Mail(_) => Reply::new(503, BAD_SEQUENCE, "Nested MAIL command"),
                _ if params
                    .size
                    .is_some_and(|n| n > self.cfg.limits.max_message_size) =>
                {
                    Reply::new(
                        552,
                        Enhanced(5, 3, 4),
                        "Message size exceeds fixed maximum message size",
                    )
                }
                _ => {
                    self.state = State::Mail(Transaction {
                        from: Some(from),
                        body: params.body.unwrap_or_default(),
                        recipients: Vec::new(),
                    });
                    Reply::new(250, Enhanced(2, 1, 0), "Sender OK")
                }
            },
            Command::Rcpt { to } => self.rcpt(to),
            Command::Data => match std::mem::replace(&mut self.state, State::Ready) {
                State::Mail(t) if !t.recipients.is_empty() => {
                    self.state = State::Data(t, DataReader::new(self.cfg.limits.max_message_size));
                    Reply::plain(354, vec!["Start mail input; end with <CRLF>.<CRLF>".into()])
                }
                // RFC 2033 §4.2: no successful RCPT → 503.
                State::Mail(t) => {
                    self.state = State::Mail(t);
                    Reply::new(503, BAD_SEQUENCE, "No valid recipients")
                }
                other => {
                    self.state = other;
                    Reply::new(503, BAD_SEQUENCE, "MAIL first")
                }
            },
            Command::Rset => {
                if !matches!(self.state, State::Start) {
                    self.state = State::Ready;
                }
                Reply::new(250, OK, "OK")
            }
            Command::Noop => Reply::new(250, OK, "OK"),
            Command::Quit => {
                self.close_with(Reply::new(221, OK, "Bye"));
                return;
            }
            // RFC 5321 §3.5.3: 252 when the server will not verify but will
            // take the message; §4.5.1 makes VRFY part of the minimum, so
            // it is answered, not 502. Which users exist is not told here
            // (RCPT answers that for a transaction only).
            Command::Vrfy => Reply::new(
                252,
                OK,
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            Command::Expn => Reply::new(502, Enhanced(5, 5, 1), "EXPN not available"),
            Command::Help => Reply::new(
                214,
                OK,
                "Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
            ),
        };
        self.counted(reply);
    }

    fn rcpt(&mut self, to: ForwardPath) -> Reply {
        let max = self.cfg.limits.max_recipients;
        let State::Mail(t) = &self.state else {
            return Reply::new(503, BAD_SEQUENCE, "MAIL first");
        };
        if t.recipients.len() >= max {
            // RFC 5321 §4.5.3.1.10.
            return Reply::new(452, Enhanced(4, 5, 3), "Too many recipients");
        }
        let who = to.as_given().to_owned();
        let lookup = self.directory.lookup(&to);
        let refused = match &lookup {
            Lookup::Local(_) => None,
            Lookup::Unknown => Some(crate::metrics::Delivery::UnknownUser),
            Lookup::NotLocal => Some(crate::metrics::Delivery::NotLocal),
            Lookup::OverQuota => Some(crate::metrics::Delivery::OverQuota),
            Lookup::Unavailable => Some(crate::metrics::Delivery::Failed),
        };
        if let Some(r) = refused {
            crate::metrics::lmtp_delivery(r, 0);
        }
        match lookup {
            Lookup::Local(target) => {
                if let State::Mail(t) = &mut self.state {
                    t.recipients.push(Recipient {
                        address: to,
                        target,
                    });
                }
                Reply::new(250, Enhanced(2, 1, 5), format!("<{who}> OK"))
            }
            Lookup::Unknown => Reply::new(550, Enhanced(5, 1, 1), format!("<{who}> User unknown")),
            Lookup::NotLocal => Reply::new(
                550,
                Enhanced(5, 1, 2),
                format!("<{who}> Not a local domain"),
            ),
            Lookup::OverQuota => self.over_quota_reply(&who),
            Lookup::Unavailable => Reply::new(
                451,
                Enhanced(4, 3, 0),
                format!("<{who}> Temporary failure, try again later"),
            ),
        }
    }

    fn end_of_data(&mut self) {
        let State::Data(t, reader) = std::mem::replace(&mut self.state, State::Ready) else {
            return;
        };
        if reader.too_big() {
            // One reply per accepted recipient even for a refusal (§4.2).
            for r in &t.recipients {
                let who = r.address.as_given();
                self.reply(Reply::new(
                    552,
                    Enhanced(5, 3, 4),
                    format!("<{who}> Message size exceeds fixed maximum message size"),
                ));
            }
            self.commands = 0;
            return;
        }
        let addresses = t.recipients.iter().map(|r| r.address.clone()).collect();
        self.state = State::Delivering(addresses);
        self.actions.push_back(Action::Deliver(Delivery {
            from: t.from.unwrap_or(ReversePath::Null),
            body: t.body,
            client: self.client.clone().unwrap_or_default(),
            recipients: t.recipients,
            message: reader.into_message(),
        }));
    }
}
