//! Framing: finds where each command ends (its line and any literals inside
//! it) before any grammar parsing, under hard limits, so a malformed command
//! never makes literal bytes be read as commands and memory stays bounded
//! whatever the client sends.
//!
//! A command is a line; when the line ends in a literal announcement
//! (`{n}` synchronizing, `{n+}` non-synchronizing, RFC 3501 §4.3 and
//! RFC 7888) the next n bytes are literal data and the command goes on with
//! another line. Literal bytes are never looked at.
//!
//! Decisions that are not in the RFCs:
//!
//! - A bare LF ends a line like CRLF does, and the emitted command has CRLF
//!   in its place. No valid command contains an LF outside a literal
//!   (`TEXT-CHAR` and `QUOTED-CHAR` exclude it), so this never changes the
//!   meaning of a valid command, and it lets line-oriented tools (netcat
//!   without `-C`, scripts) talk to the server, as most servers allow. The
//!   parser therefore only ever sees CRLF.
//! - A lone CR is ordinary line data (the parser rejects it).
//! - A refused command is skipped without storing it: the rest of the
//!   current line and, for as long as lines end in a non-synchronizing
//!   literal, that literal and the next line. A synchronizing literal in a
//!   skipped command ends the command, since the client waits for a `+` that
//!   never comes (it gets the tagged refusal instead).
//! - APPEND may hold `max_append_literal + max_command` bytes in total (the
//!   message and the rest of the command); every other command `max_command`.
//!
//! Memory: bytes are consumed as they are framed, and bytes being skipped
//! are counted, never stored (even when they arrive in one huge push). Once
//! `next_event` has returned `None` the framer holds at most the current
//! command: the line so far (at most `max_line`) plus the lines and literals
//! already collected, each literal within its limit and the whole within
//! the command limit. Bytes pushed while an earlier event has not been
//! taken wait unframed until the next `next_event`, since what they mean
//! may depend on what the session does with that event (`set_auth_mode`,
//! `clear`).

use std::collections::VecDeque;

use memchr::{memchr, memrchr};

use super::types::Tag;

/// Hard limits on what one command may make the server hold.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Longest line (outside literals), CRLF included.
    pub max_line: usize,
    /// Largest literal in any command but APPEND.
    pub max_literal: usize,
    /// Largest literal in APPEND (the message size limit).
    pub max_append_literal: usize,
    /// Largest whole command (lines plus literals) for anything but APPEND.
    pub max_command: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024,
            max_append_literal: 50 * 1024 * 1024,
            max_command: 1024 * 1024,
        }
    }
}

/// What the framer found in the bytes pushed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// A complete command: its lines with every literal inline, final CRLF
    /// included. Ready for `parse::parse_command`.
    Command(Vec<u8>),
    /// The line so far ends in an acceptable synchronizing literal `{n}`:
    /// the session must send a `+` continuation request before the client
    /// sends the n bytes.
    ContinuationNeeded,
    /// In AUTHENTICATE mode: one client line, CRLF stripped.
    AuthLine(Vec<u8>),
    /// The command was refused by a limit; the framer discards the rest of
    /// it (without storing it) and resynchronises at the next command.
    Refused { tag: Option<Tag>, error: FrameError },
    /// The connection cannot continue (e.g. an enormous non-synchronizing
    /// literal): the session says BYE and closes.
    Fatal { tag: Option<Tag>, error: FrameError },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("Line too long")]
    LineTooLong,
    #[error("Literal too big ({size} bytes, limit {limit})")]
    LiteralTooBig {
        size: u64,
        limit: usize,
        append: bool,
    },
    #[error("Command too big")]
    CommandTooBig,
}

/// A refused non-synchronizing literal up to this many times its limit is
/// read and thrown away so the connection can go on; a larger one would
/// cost too much to skip, and the connection is closed instead.
const SKIPPABLE_FACTOR: u64 = 4;

/// Incremental framer: push bytes as they arrive, then take events until
/// `next_event` returns `None` (it needs more bytes).
#[derive(Debug)]
pub struct Framer {
    limits: FrameLimits,
    auth_mode: bool,
    state: State,
    /// The command being collected: finished lines (CRLF included) and
    /// literals, then the current line so far (without its terminator).
    cur: Vec<u8>,
    /// Where the current line starts in `cur`.
    line_start: usize,
    /// Whether the command is an APPEND (known once its first line is in).
    append: bool,
    /// Events found by `push` that `next_event` has not returned yet (at
    /// most two: a refusal, then a fatal error while skipping).
    ready: VecDeque<FrameEvent>,
    /// Bytes pushed but not yet looked at: `pending[pos..]`.
    pending: Vec<u8>,
    pos: usize,
    /// While set, pushed bytes are only stored (see `hold`).
    held: bool,
}

#[derive(Debug)]
enum State {
    /// Collecting a line into `cur`.
    Line,
    /// Collecting literal bytes into `cur`; `remaining` is never 0.
    Literal { remaining: usize },
    /// Skipping the current line of a refused command; `marker` watches for
    /// a literal announced at its end.
    SkipLine {
        marker: Marker,
        tag: Option<Tag>,
        literals: bool,
    },
    /// Skipping the bytes of a non-synchronizing literal of a refused
    /// command; `remaining` is never 0.
    SkipLiteral { remaining: u64, tag: Option<Tag> },
    /// After a `Fatal` event: every byte is dropped.
    Dead,
}

impl State {
    /// Whether bytes are being thrown away (which no session action can
    /// change).
    fn is_skipping(&self) -> bool {
        matches!(
            self,
            State::SkipLine { .. } | State::SkipLiteral { .. } | State::Dead
        )
    }
}

/// Recognises a literal announcement (`{digits}` or `{digits+}`) at the end
/// of a line fed to it in any number of pieces, without keeping the line.
/// A CR right after the closing brace is allowed (the line's CRLF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    /// After `{`.
    Open,
    Digits(u64),
    Plus(u64),
    Closed {
        size: u64,
        sync: bool,
    },
    ClosedCr {
        size: u64,
        sync: bool,
    },
}

impl Marker {
    fn feed(self, b: u8) -> Marker {
        match (self, b) {
            (_, b'{') => Marker::Open,
            (Marker::Open, b'0'..=b'9') => Marker::Digits(u64::from(b - b'0')),
            (Marker::Digits(n), b'0'..=b'9') => n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
                .map_or(Marker::None, Marker::Digits),
            (Marker::Digits(n), b'+') => Marker::Plus(n),
            (Marker::Digits(n), b'}') => Marker::Closed {
                size: n,
                sync: true,
            },
            (Marker::Plus(n), b'}') => Marker::Closed {
                size: n,
                sync: false,
            },
            (Marker::Closed { size, sync }, b'\r') => Marker::ClosedCr { size, sync },
            _ => Marker::None,
        }
    }

    fn feed_all(self, bytes: &[u8]) -> Marker {
        // Only what follows the last `{` can matter.
        let (mut m, rest) = match memrchr(b'{', bytes) {
            Some(i) => (Marker::Open, &bytes[i + 1..]),
            None => (self, bytes),
        };
        for &b in rest {
            m = m.feed(b);
            if m == Marker::None {
                break;
            }
        }
        m
    }

    /// The literal announced, if the line ended right here.
    fn literal(self) -> Option<(u64, bool)> {
        match self {
            Marker::Closed { size, sync } | Marker::ClosedCr { size, sync } => Some((size, sync)),
            _ => None,
        }
    }
}

impl Framer {
    pub fn new(limits: FrameLimits) -> Framer {
        Framer {
            limits,
            auth_mode: false,
            state: State::Line,
            cur: Vec::new(),
            line_start: 0,
            append: false,
            ready: VecDeque::new(),
            pending: Vec::new(),
            pos: 0,
            held: false,
        }
    }

    /// Adds bytes read from the client.
    pub fn push(&mut self, data: &[u8]) {
        if self.held || self.pos < self.pending.len() {
            self.pending.extend_from_slice(data);
            return;
        }
        // No older bytes are waiting: run these through now, so that bytes
        // being skipped are never stored at all. Stop at the first event
        // unless skipping: what follows an event may depend on what the
        // session does with it (`set_auth_mode`, `clear`), skipping does not.
        self.pending.clear();
        self.pos = 0;
        let mut rest = data;
        while !rest.is_empty() && (self.ready.is_empty() || self.state.is_skipping()) {
            let (used, event) = self.step(rest);
            rest = &rest[used..];
            match event {
                Some(event) => self.ready.push_back(event),
                None if used == 0 => break,
                None => {}
            }
        }
        self.pending.extend_from_slice(rest);
    }

    /// The next event the buffered bytes allow, or `None` until more arrive.
    pub fn next_event(&mut self) -> Option<FrameEvent> {
        if let Some(event) = self.ready.pop_front() {
            return Some(event);
        }
        if self.held {
            return None;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut pos = self.pos;
        let mut found = None;
        while pos < pending.len() {
            let (used, event) = self.step(&pending[pos..]);
            pos += used;
            if event.is_some() {
                found = event;
                break;
            }
            if used == 0 {
                break;
            }
        }
        self.pending = pending;
        if pos >= self.pending.len() {
            self.pending.clear();
            self.pos = 0;
        } else if pos > self.pending.len() / 2 {
            self.pending.drain(..pos);
            self.pos = 0;
        } else {
            self.pos = pos;
        }
        found
    }

    /// In AUTHENTICATE mode every line is an `AuthLine`; literals mean nothing.
    pub fn set_auth_mode(&mut self, on: bool) {
        self.auth_mode = on;
    }

    /// Bytes held but not yet returned in an event.
    pub fn buffered(&self) -> usize {
        let ready: usize = self
            .ready
            .iter()
            .map(|e| match e {
                FrameEvent::Command(b) | FrameEvent::AuthLine(b) => b.len(),
                _ => 0,
            })
            .sum();
        self.pending.len() - self.pos + self.cur.len() + ready
    }

    /// Drops everything buffered (after STARTTLS, plaintext that followed the
    /// command must never be read as commands: RFC 2595 §3.1).
    pub fn clear(&mut self) {
        self.state = State::Line;
        self.reset_command();
        self.append = false;
        self.ready.clear();
        self.pending = Vec::new();
        self.pos = 0;
    }

    /// While held, bytes pushed are stored without being framed, until
    /// `take_unframed` or `hold(false)`. Between a COMPRESS command and its
    /// answer, what the client sends may already be compressed (RFC 4978
    /// §3) and must not be read as commands.
    pub fn hold(&mut self, on: bool) {
        self.held = on;
    }

    /// Takes every byte pushed but not yet framed and ends a `hold`. Called
    /// right after a `Command` event, when no other command is partly
    /// framed: the bytes are what the client sent after that command.
    pub fn take_unframed(&mut self) -> Vec<u8> {
        debug_assert!(self.cur.is_empty() && self.ready.is_empty());
        self.held = false;
        let mut rest = std::mem::take(&mut self.pending);
        rest.drain(..self.pos.min(rest.len()));
        self.pos = 0;
        rest
    }

    /// Forgets the command collected so far. `append` stays: a refused
    /// command's literals are still skipped under its limit, and the next
    /// command's first line sets it again.
    fn reset_command(&mut self) {
        self.cur = Vec::new();
        self.line_start = 0;
    }

    /// Consumes a prefix of `input` (non-empty), returning how much it
    /// used and the event it found, if any. Stops right after an event.
    fn step(&mut self, input: &[u8]) -> (usize, Option<FrameEvent>) {
        match &mut self.state {
            State::Line => self.step_line(input),
            State::Literal { remaining } => {
                let take = (*remaining).min(input.len());
                *remaining -= take;
                self.cur.extend_from_slice(&input[..take]);
                if *remaining == 0 {
                    self.state = State::Line;
                    self.line_start = self.cur.len();
                }
                (take, None)
            }
            State::SkipLine {
                marker,
                tag,
                literals,
            } => match memchr(b'\n', input) {
                None => {
                    *marker = marker.feed_all(input);
                    (input.len(), None)
                }
                Some(i) => {
                    let marker = marker.feed_all(&input[..i]);
                    let (tag, literals) = (tag.take(), *literals);
                    self.state = State::Line;
                    let event = match marker.literal() {
                        Some((size, false)) if literals => self.skip_literal(tag, size),
                        _ => None,
                    };
                    (i + 1, event)
                }
            },
            State::SkipLiteral { remaining, tag } => {
                let take = input
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                *remaining -= take as u64;
                if *remaining == 0 {
                    let tag = tag.take();
                    self.state = State::SkipLine {
                        marker: Marker::None,
                        tag,
                        literals: true,
                    };
                }
                (take, None)
            }
            State::Dead => (input.len(), None),
        }
    }

    fn step_line(&mut self, input: &[u8]) -> (usize, Option<FrameEvent>) {
        let line_len = self.cur.len() - self.line_start;
        let max = self.limits.max_line;
        match memchr(b'\n', input) {
            Some(i) if line_len + i < max => {
                self.cur.extend_from_slice(&input[..i]);
                (i + 1, self.finish_line())
            }
            None if line_len + input.len() < max => {
                self.cur.extend_from_slice(input);
                (input.len(), None)
            }
            // The line would be longer than `max_line` with its terminator:
            // refuse it now, whether or not the terminator has arrived. The
            // line is first filled up to the limit, so that what is known
            // of it (its tag) does not depend on how the bytes arrived.
            _ => {
                let take = max.saturating_sub(line_len).min(input.len());
                self.cur.extend_from_slice(&input[..take]);
                (take, Some(self.refuse_line_too_long()))
            }
        }
    }

    /// The current line (in `cur` from `line_start`, without the LF) is
    /// complete.
    fn finish_line(&mut self) -> Option<FrameEvent> {
        let marker = Marker::None.feed_all(&self.cur[self.line_start..]);
        if self.cur.last() == Some(&b'\r') && self.cur.len() > self.line_start {
            self.cur.pop();
        }
        if self.auth_mode {
            let line = std::mem::take(&mut self.cur);
            self.reset_command();
            return Some(FrameEvent::AuthLine(line));
        }
        if self.line_start == 0 {
            self.append = is_append(&self.cur);
        }
        self.cur.extend_from_slice(b"\r\n");
        let command_limit = self.command_limit();
        let Some((size, sync)) = marker.literal() else {
            if self.cur.len() > command_limit {
                return Some(self.refuse_at_line_end(FrameError::CommandTooBig, None));
            }
            let command = std::mem::take(&mut self.cur);
            self.reset_command();
            return Some(FrameEvent::Command(command));
        };
        let limit = self.literal_limit();
        if size > limit as u64 {
            let error = FrameError::LiteralTooBig {
                size,
                limit,
                append: self.append,
            };
            return Some(self.refuse_at_line_end(error, Some((size, sync))));
        }
        // `size <= limit`, so it fits in a usize.
        let size = size as usize;
        if self.cur.len().saturating_add(size) > command_limit {
            let literal = Some((size as u64, sync));
            return Some(self.refuse_at_line_end(FrameError::CommandTooBig, literal));
        }
        if size == 0 {
            self.line_start = self.cur.len();
        } else {
            self.cur.reserve(size);
            self.state = State::Literal { remaining: size };
        }
        sync.then_some(FrameEvent::ContinuationNeeded)
    }

    fn literal_limit(&self) -> usize {
        if self.append {
            self.limits.max_append_literal
        } else {
            self.limits.max_literal
        }
    }

    fn command_limit(&self) -> usize {
        if self.append {
            self.limits
                .max_append_literal
                .saturating_add(self.limits.max_command)
        } else {
            self.limits.max_command
        }
    }

    /// Refuses the command when its current line has grown too long; the
    /// rest of the line (and of the command) is then skipped.
    fn refuse_line_too_long(&mut self) -> FrameEvent {
        let line = &self.cur[self.line_start..];
        let marker = Marker::None.feed_all(line);
        if self.line_start == 0 {
            self.append = is_append(line);
        }
        let (tag, literals) = if self.auth_mode {
            (None, false)
        } else {
            (self.tag(), true)
        };
        let event = FrameEvent::Refused {
            tag: tag.clone(),
            error: FrameError::LineTooLong,
        };
        self.reset_command();
        self.state = State::SkipLine {
            marker,
            tag,
            literals,
        };
        event
    }

    /// Refuses the command when a line has just ended (its terminator
    /// consumed), announcing `literal` or not.
    fn refuse_at_line_end(
        &mut self,
        error: FrameError,
        literal: Option<(u64, bool)>,
    ) -> FrameEvent {
        let tag = self.tag();
        self.reset_command();
        self.state = State::Line;
        match literal {
            Some((size, false)) => {
                if let Some(fatal) = self.skip_literal(tag.clone(), size) {
                    return fatal;
                }
                FrameEvent::Refused { tag, error }
            }
            _ => FrameEvent::Refused { tag, error },
        }
    }

    /// Skips a non-synchronizing literal of `size` bytes that belongs to a
    /// refused command, or gives up on the connection if it is enormous.
    fn skip_literal(&mut self, tag: Option<Tag>, size: u64) -> Option<FrameEvent> {
        let limit = self.literal_limit();
        if size > (limit as u64).saturating_mul(SKIPPABLE_FACTOR) {
            self.state = State::Dead;
            let error = FrameError::LiteralTooBig {
                size,
                limit,
                append: self.append,
            };
            return Some(FrameEvent::Fatal { tag, error });
        }
        self.state = if size == 0 {
            State::SkipLine {
                marker: Marker::None,
                tag,
                literals: true,
            }
        } else {
            State::SkipLiteral {
                remaining: size,
                tag,
            }
        };
        None
    }

    /// The command's tag, if its first token is complete and valid.
    fn tag(&self) -> Option<Tag> {
        // Only the first line is looked at: a literal may follow it.
        let (line, complete) = match memchr(b'\n', &self.cur) {
            Some(i) => (
                self.cur[..i].strip_suffix(b"\r").unwrap_or(&self.cur[..i]),
                true,
            ),
            None => (&self.cur[..], false),
        };
        let end = match memchr(b' ', line) {
            Some(i) => i,
            None if complete => line.len(),
            None => return None,
        };
        Tag::new(std::str::from_utf8(&line[..end]).ok()?)
    }
}

/// Whether a command's first line is `tag SP [UID SP] APPEND ...`
/// (case-insensitive), the one command whose literal is a message.
fn is_append(line: &[u8]) -> bool {
    let Some(sp) = memchr(b' ', line) else {
        return false;
    };
    let mut rest = &line[sp + 1..];
    if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"UID ") {
        rest = &rest[4..];
    }
    rest.len() >= 6
        && rest[..6].eq_ignore_ascii_case(b"APPEND")
        && matches!(rest.get(6), None | Some(b' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> FrameLimits {
        FrameLimits {
            max_line: 100,
            max_literal: 50,
            max_append_literal: 200,
            max_command: 300,
        }
    }

    fn tag(s: &str) -> Option<Tag> {
        Tag::new(s)
    }

    fn cmd(s: &[u8]) -> FrameEvent {
        FrameEvent::Command(s.to_vec())
    }

    fn drain(f: &mut Framer, out: &mut Vec<FrameEvent>) {
        while let Some(e) = f.next_event() {
            out.push(e);
        }
    }

    /// Events for `input` pushed in one piece.
    fn events(limits: FrameLimits, input: &[u8]) -> Vec<FrameEvent> {
        let mut f = Framer::new(limits);
        let mut out = Vec::new();
        f.push(input);
        drain(&mut f, &mut out);
        out
    }

    /// The most a drained framer may hold: a line being collected after
    /// the largest command.
    fn bound(l: FrameLimits) -> usize {
        l.max_append_literal + l.max_command + l.max_line
    }

    /// Events for `input` pushed one byte at a time; also checks they are
    /// the same as for one push and for pieces of every size.
    fn events_split(limits: FrameLimits, input: &[u8]) -> Vec<FrameEvent> {
        let whole = events(limits, input);
        for size in 1..=input.len().clamp(1, 17) {
            let mut f = Framer::new(limits);
            let mut out = Vec::new();
            for piece in input.chunks(size) {
                f.push(piece);
                drain(&mut f, &mut out);
                assert!(f.buffered() <= bound(limits), "held {}", f.buffered());
            }
            assert_eq!(out, whole, "pieces of {size}");
        }
        // Several pushes before any next_event call.
        let mut f = Framer::new(limits);
        let mut out = Vec::new();
        for piece in input.chunks(3) {
            f.push(piece);
        }
        drain(&mut f, &mut out);
        assert_eq!(out, whole, "pushes queued");
        whole
    }

    #[test]
    fn simple_and_pipelined_commands() {
        let input = b"a1 NOOP\r\na2 CAPABILITY\r\na3 LOGOUT\r\n";
        assert_eq!(
            events_split(small(), input),
            vec![
                cmd(b"a1 NOOP\r\n"),
                cmd(b"a2 CAPABILITY\r\n"),
                cmd(b"a3 LOGOUT\r\n")
            ]
        );
    }

    #[test]
    fn needs_more_bytes() {
        let mut f = Framer::new(small());
        f.push(b"a1 NO");
        assert_eq!(f.next_event(), None);
        assert_eq!(f.buffered(), 5);
        f.push(b"OP\r");
        assert_eq!(f.next_event(), None);
        f.push(b"\n");
        assert_eq!(f.next_event(), Some(cmd(b"a1 NOOP\r\n")));
        assert_eq!(f.next_event(), None);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn bare_lf_ends_a_line_and_becomes_crlf() {
        assert_eq!(
            events_split(small(), b"a1 NOOP\na2 LOGIN {3+}\nabc x\n"),
            vec![cmd(b"a1 NOOP\r\n"), cmd(b"a2 LOGIN {3+}\r\nabc x\r\n")]
        );
        // A lone CR is data for the parser to reject.
        assert_eq!(
            events_split(small(), b"a1 NO\rOP\r\n"),
            vec![cmd(b"a1 NO\rOP\r\n")]
        );
        // An empty line is a (bad) command of its own.
        assert_eq!(
            events_split(small(), b"\r\n\n"),
            vec![cmd(b"\r\n"), cmd(b"\r\n")]
        );
    }

    #[test]
    fn sync_literal_asks_for_continuation() {
        let input = b"a1 LOGIN {5}\r\nfr\r\nd {3}\r\n{5}\r\n";
        assert_eq!(
            events_split(small(), input),
            vec![
                FrameEvent::ContinuationNeeded,
                FrameEvent::ContinuationNeeded,
                cmd(input),
            ]
        );
        // Literal data is never interpreted, whatever it looks like.
        let mut f = Framer::new(small());
        f.push(b"a1 LOGIN {7}\r\n");
        assert_eq!(f.next_event(), Some(FrameEvent::ContinuationNeeded));
        assert_eq!(f.next_event(), None);
        f.push(b"a\r\nb {5}");
        assert_eq!(f.next_event(), None);
        f.push(b" pw\r\n");
        assert_eq!(
            f.next_event(),
            Some(cmd(b"a1 LOGIN {7}\r\na\r\nb {5} pw\r\n"))
        );
    }

    #[test]
    fn literal_plus_needs_no_continuation() {
        let input = b"a1 LOGIN {5+}\r\n{3}\r\n {0+}\r\n\r\na2 NOOP\r\n";
        assert_eq!(
            events_split(small(), input),
            vec![
                cmd(b"a1 LOGIN {5+}\r\n{3}\r\n {0+}\r\n\r\n"),
                cmd(b"a2 NOOP\r\n")
            ]
        );
        // An empty synchronizing literal still gets its continuation.
        assert_eq!(
            events_split(small(), b"a LOGIN {0}\r\n x\r\n"),
            vec![
                FrameEvent::ContinuationNeeded,
                cmd(b"a LOGIN {0}\r\n x\r\n")
            ]
        );
    }

    #[test]
    fn bad_literal_syntax_is_a_plain_line() {
        for line in [
            &b"a1 X {}\r\n"[..],
            b"a1 X {+}\r\n",
            b"a1 X {12a}\r\n",
            b"a1 X {-1}\r\n",
            b"a1 X {1 }\r\n",
            b"a1 X {5}}\r\n",
            b"a1 X {5++}\r\n",
            b"a1 X 5}\r\n",
            b"a1 X {99999999999999999999999}\r\n",
            b"a1 X {99999999999999999999999+}\r\n",
            b"a1 X {18446744073709551616}\r\n",
            b"a1 X {5}\r\r\n",
        ] {
            assert_eq!(events_split(small(), line), vec![cmd(line)], "{line:?}");
        }
    }

    #[test]
    fn huge_line_is_refused_early_and_memory_stays_bounded() {
        let limits = FrameLimits {
            max_line: 1024,
            ..FrameLimits::default()
        };
        let mut f = Framer::new(limits);
        let mut out = Vec::new();
        f.push(b"a7 SEARCH TEXT ");
        let chunk = vec![b'x'; 64 * 1024];
        let mut max_held = 0;
        for _ in 0..160 {
            f.push(&chunk);
            drain(&mut f, &mut out);
            max_held = max_held.max(f.buffered());
        }
        assert_eq!(
            out,
            vec![FrameEvent::Refused {
                tag: tag("a7"),
                error: FrameError::LineTooLong
            }]
        );
        assert!(max_held <= 1024, "held {max_held}");

        f.push(b"xxx\r\na8 NOOP\r\n");
        drain(&mut f, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], cmd(b"a8 NOOP\r\n"));
        assert_eq!(f.buffered(), 0);

        // All of it in one push: refused, and nothing of it kept.
        let mut f = Framer::new(limits);
        let mut huge = b"a9 LOGIN ".to_vec();
        huge.resize(10 * 1024 * 1024, b'y');
        f.push(&huge);
        assert!(f.buffered() <= 1024, "held {}", f.buffered());
        f.push(b"\r\na10 NOOP\r\n");
        assert_eq!(
            f.next_event(),
            Some(FrameEvent::Refused {
                tag: tag("a9"),
                error: FrameError::LineTooLong
            })
        );
        assert_eq!(f.next_event(), Some(cmd(b"a10 NOOP\r\n")));
        assert_eq!(f.next_event(), None);
    }

    #[test]
    fn line_limit_counts_the_crlf() {
        let limits = FrameLimits {
            max_line: 10,
            ..small()
        };
        assert_eq!(
            events_split(limits, b"a1 NOOP1\r\n"),
            vec![cmd(b"a1 NOOP1\r\n")]
        );
        assert_eq!(
            events_split(limits, b"a1 NOOP12\n"),
            vec![cmd(b"a1 NOOP12\r\n")]
        );
        let refused = FrameEvent::Refused {
            tag: tag("a1"),
            error: FrameError::LineTooLong,
        };
        assert_eq!(
            events_split(limits, b"a1 NOOP12\r\na2 NOOP\r\n"),
            vec![refused.clone(), cmd(b"a2 NOOP\r\n")]
        );
        // Refused before the terminator arrives.
        let mut f = Framer::new(limits);
        f.push(b"a1 NOOP123");
        assert_eq!(f.next_event(), Some(refused));
        // No tag when the first token is not complete yet.
        let mut f = Framer::new(limits);
        f.push(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(
            f.next_event(),
            Some(FrameEvent::Refused {
                tag: None,
                error: FrameError::LineTooLong
            })
        );
    }

    #[test]
    fn too_long_line_announcing_a_literal_plus_skips_it() {
        let limits = FrameLimits {
            max_line: 20,
            ..small()
        };
        let mut input = b"a1 APPEND INBOX (\\Seen) {10+}\r\n0123\r\n6789\r\n".to_vec();
        input.extend_from_slice(b"a2 NOOP\r\n");
        assert_eq!(
            events_split(limits, &input),
            vec![
                FrameEvent::Refused {
                    tag: tag("a1"),
                    error: FrameError::LineTooLong
                },
                cmd(b"a2 NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn too_big_sync_literal_is_refused_and_next_line_works() {
        let input = b"a1 LOGIN {99999999999}\r\na2 NOOP\r\n";
        assert_eq!(
            events_split(small(), input),
            vec![
                FrameEvent::Refused {
                    tag: tag("a1"),
                    error: FrameError::LiteralTooBig {
                        size: 99_999_999_999,
                        limit: 50,
                        append: false
                    },
                },
                cmd(b"a2 NOOP\r\n"),
            ]
        );
        // A second literal too big refuses the whole command.
        let input = b"a1 LOGIN {2}\r\nab {51}\r\na2 NOOP\r\n";
        assert_eq!(
            events_split(small(), input),
            vec![
                FrameEvent::ContinuationNeeded,
                FrameEvent::Refused {
                    tag: tag("a1"),
                    error: FrameError::LiteralTooBig {
                        size: 51,
                        limit: 50,
                        append: false
                    },
                },
                cmd(b"a2 NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn enormous_literal_plus_is_fatal() {
        let mut f = Framer::new(small());
        f.push(b"a1 LOGIN {99999999999+}\r\nxxxx\r\na2 NOOP\r\n");
        assert_eq!(
            f.next_event(),
            Some(FrameEvent::Fatal {
                tag: tag("a1"),
                error: FrameError::LiteralTooBig {
                    size: 99_999_999_999,
                    limit: 50,
                    append: false
                },
            })
        );
        assert_eq!(f.next_event(), None);
        f.push(b"a3 NOOP\r\n");
        assert_eq!(f.next_event(), None);
        assert_eq!(f.buffered(), 0);
        // Just over four times the limit.
        assert!(matches!(
            events(small(), b"a1 X {201+}\r\n").as_slice(),
            [FrameEvent::Fatal {
                error: FrameError::LiteralTooBig { size: 201, .. },
                ..
            }]
        ));
    }

    #[test]
    fn slightly_too_big_literal_plus_is_skipped() {
        let mut input = b"a1 LOGIN {60+}\r\n".to_vec();
        input.extend_from_slice(&[b'\n'; 60]);
        input.extend_from_slice(b" {3+}\r\nx\r\n {2}\r\n");
        input.extend_from_slice(b"a2 NOOP\r\n");
        assert_eq!(
            events_split(small(), &input),
            vec![
                FrameEvent::Refused {
                    tag: tag("a1"),
                    error: FrameError::LiteralTooBig {
                        size: 60,
                        limit: 50,
                        append: false
                    },
                },
                cmd(b"a2 NOOP\r\n"),
            ]
        );
        // Exactly four times the limit is still skipped.
        let mut input = b"a1 X {200+}\r\n".to_vec();
        input.extend_from_slice(&[b'y'; 200]);
        input.extend_from_slice(b"\r\na2 NOOP\r\n");
        let out = events_split(small(), &input);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], cmd(b"a2 NOOP\r\n"));
    }

    #[test]
    fn skipped_command_with_enormous_second_literal_is_fatal() {
        let input = b"a1 X {60+}\r\n012345678901234567890123456789012345678901234567890123456789 {999+}\r\n";
        assert_eq!(
            events_split(small(), input),
            vec![
                FrameEvent::Refused {
                    tag: tag("a1"),
                    error: FrameError::LiteralTooBig {
                        size: 60,
                        limit: 50,
                        append: false
                    },
                },
                FrameEvent::Fatal {
                    tag: tag("a1"),
                    error: FrameError::LiteralTooBig {
                        size: 999,
                        limit: 50,
                        append: false
                    },
                },
            ]
        );
    }

    #[test]
    fn append_uses_the_append_limit() {
        let mut input = b"a1 APPEND INBOX {150}\r\n".to_vec();
        input.extend_from_slice(&[b'm'; 150]);
        input.extend_from_slice(b"\r\n");
        assert_eq!(
            events_split(small(), &input),
            vec![FrameEvent::ContinuationNeeded, cmd(&input)]
        );
        for line in [
            &b"a1 uid append INBOX {150+}\r\n"[..],
            b"a1 Append {150+}\r\n",
        ] {
            let mut input = line.to_vec();
            input.extend_from_slice(&[b'm'; 150]);
            input.extend_from_slice(b"\r\n");
            assert_eq!(events_split(small(), &input), vec![cmd(&input)]);
        }
        assert_eq!(
            events(small(), b"a1 APPEND INBOX {201}\r\n"),
            vec![FrameEvent::Refused {
                tag: tag("a1"),
                error: FrameError::LiteralTooBig {
                    size: 201,
                    limit: 200,
                    append: true
                },
            }]
        );
        // Not APPEND: the ordinary limit.
        for line in [
            &b"a1 APPENDX {150}\r\n"[..],
            b"a1 COPY 1 APPEND {150}\r\n",
            b"APPEND {150}\r\n",
        ] {
            assert!(
                matches!(
                    events(small(), line).as_slice(),
                    [FrameEvent::Refused {
                        error: FrameError::LiteralTooBig { append: false, .. },
                        ..
                    }]
                ),
                "{line:?}"
            );
        }
    }

    #[test]
    fn command_size_is_limited() {
        // Five literals of 50 bytes pass the literal limit but not the
        // 300-byte command limit.
        let mut input = b"a1 X".to_vec();
        for _ in 0..6 {
            input.extend_from_slice(b" {50+}\r\n");
            input.extend_from_slice(&[b'z'; 50]);
        }
        input.extend_from_slice(b"\r\na2 NOOP\r\n");
        assert_eq!(
            events_split(small(), &input),
            vec![
                FrameEvent::Refused {
                    tag: tag("a1"),
                    error: FrameError::CommandTooBig
                },
                cmd(b"a2 NOOP\r\n"),
            ]
        );
        let mut input = b"a1 X".to_vec();
        for _ in 0..6 {
            input.extend_from_slice(b" {50}\r\n");
            input.extend_from_slice(&[b'z'; 50]);
        }
        let out = events(small(), &input);
        assert_eq!(out.len(), 6);
        assert_eq!(
            out[5],
            FrameEvent::Refused {
                tag: tag("a1"),
                error: FrameError::CommandTooBig
            }
        );
    }

    #[test]
    fn auth_mode_lines() {
        let mut f = Framer::new(small());
        f.push(b"a1 AUTHENTICATE PLAIN\r\ndGVzdA==\r\n{5}\r\n*\r\na2 NOOP\r\n");
        assert_eq!(f.next_event(), Some(cmd(b"a1 AUTHENTICATE PLAIN\r\n")));
        f.set_auth_mode(true);
        assert_eq!(
            f.next_event(),
            Some(FrameEvent::AuthLine(b"dGVzdA==".to_vec()))
        );
        assert_eq!(f.next_event(), Some(FrameEvent::AuthLine(b"{5}".to_vec())));
        assert_eq!(f.next_event(), Some(FrameEvent::AuthLine(b"*".to_vec())));
        f.set_auth_mode(false);
        assert_eq!(f.next_event(), Some(cmd(b"a2 NOOP\r\n")));

        let mut f = Framer::new(small());
        f.set_auth_mode(true);
        f.push(b"\r\n");
        assert_eq!(f.next_event(), Some(FrameEvent::AuthLine(Vec::new())));
        f.push(&[b'A'; 150]);
        assert_eq!(
            f.next_event(),
            Some(FrameEvent::Refused {
                tag: None,
                error: FrameError::LineTooLong
            })
        );
        f.push(b"AAAA {5+}\r\nabc\r\n");
        assert_eq!(f.next_event(), Some(FrameEvent::AuthLine(b"abc".to_vec())));
    }

    #[test]
    fn held_bytes_are_taken_unframed() {
        let mut f = Framer::new(small());
        // What follows the command in the same push is not framed.
        f.push(b"a1 COMPRESS DEFLATE\r\n\x78\x9c\r\na2 NOOP\r\n");
        assert_eq!(f.next_event(), Some(cmd(b"a1 COMPRESS DEFLATE\r\n")));
        assert_eq!(f.take_unframed(), b"\x78\x9c\r\na2 NOOP\r\n");
        assert_eq!(f.buffered(), 0);
        // While held, nothing is framed, even bytes pushed into an empty
        // framer; they all come back in order.
        f.push(b"a3 COMPRESS DEFLATE\r\n");
        assert_eq!(f.next_event(), Some(cmd(b"a3 COMPRESS DEFLATE\r\n")));
        f.hold(true);
        f.push(b"a4 NOOP\r\n");
        f.push(b"a5 NOOP\r\n");
        assert_eq!(f.next_event(), None);
        assert_eq!(f.take_unframed(), b"a4 NOOP\r\na5 NOOP\r\n");
        // Released without taking: framing goes on where it stopped.
        f.hold(true);
        f.push(b"a6 NOOP\r\n");
        f.hold(false);
        assert_eq!(f.next_event(), Some(cmd(b"a6 NOOP\r\n")));
        assert_eq!(f.next_event(), None);
    }

    #[test]
    fn clear_drops_everything() {
        let mut f = Framer::new(small());
        f.push(b"a1 STARTTLS\r\na2 LOGIN {5}\r\nab");
        assert_eq!(f.next_event(), Some(cmd(b"a1 STARTTLS\r\n")));
        f.clear();
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.next_event(), None);
        f.push(b"a3 NOOP\r\n");
        assert_eq!(f.next_event(), Some(cmd(b"a3 NOOP\r\n")));

        // Also in the middle of a literal, and after a fatal error.
        f.push(b"a4 X {10}\r\nabc");
        assert_eq!(f.next_event(), Some(FrameEvent::ContinuationNeeded));
        assert_eq!(f.next_event(), None);
        assert_eq!(f.buffered(), 14);
        f.clear();
        f.push(b"a5 X {9999+}\r\n");
        assert!(matches!(f.next_event(), Some(FrameEvent::Fatal { .. })));
        f.clear();
        f.push(b"a6 NOOP\r\n");
        assert_eq!(f.next_event(), Some(cmd(b"a6 NOOP\r\n")));
    }

    #[test]
    fn invalid_tags_are_not_reported() {
        let limits = FrameLimits {
            max_line: 10,
            ..small()
        };
        assert_eq!(
            events(limits, b"a+b NOOP123\r\n"),
            vec![FrameEvent::Refused {
                tag: None,
                error: FrameError::LineTooLong
            }]
        );
        assert!(matches!(
            events(small(), b"a{1} X {999}\r\n").as_slice(),
            [FrameEvent::Refused { tag: None, .. }]
        ));
        assert!(matches!(
            events(small(), b"\xff\xfe {999}\r\n").as_slice(),
            [FrameEvent::Refused { tag: None, .. }]
        ));
    }

    proptest::proptest! {
        /// Any bytes, any limits, any way of cutting them up: no panic, the
        /// same events, bounded memory (checked in `events_split`).
        #[test]
        fn any_input_any_split(
            input in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"{}+0123456789\r\n a".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..160,
            ),
            max_line in 0usize..24,
            max_literal in 0usize..12,
            max_command in 0usize..60,
        ) {
            let limits = FrameLimits { max_line, max_literal, max_append_literal: 20, max_command };
            let _ = events_split(limits, &input);
        }
    }

    #[test]
    fn never_panics_on_noise() {
        // A cheap deterministic generator over bytes that matter here.
        let alphabet = b"{}+0123456789\r\n a";
        let mut x: u32 = 12345;
        for round in 0..300 {
            let mut input = Vec::new();
            for _ in 0..(round % 120) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                input.push(alphabet[(x >> 16) as usize % alphabet.len()]);
            }
            let limits = FrameLimits {
                max_line: 16,
                max_literal: 8,
                max_append_literal: 8,
                max_command: 40,
            };
            let _ = events_split(limits, &input);
        }
    }
}
