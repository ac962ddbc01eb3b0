//! Framing: finds where each command ends (its line and any literals inside
//! it) before any grammar parsing, under hard limits, so a malformed command
//! never makes literal bytes be read as commands and memory stays bounded
//! whatever the client sends.

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
    LiteralTooBig { size: u64, limit: usize, append: bool },
    #[error("Command too big")]
    CommandTooBig,
}

/// Incremental framer: push bytes as they arrive, then take events until
/// `next_event` returns `None` (it needs more bytes).
#[derive(Debug)]
pub struct Framer {
    limits: FrameLimits,
}

impl Framer {
    pub fn new(limits: FrameLimits) -> Framer {
        Framer { limits }
    }
    /// Adds bytes read from the client.
    pub fn push(&mut self, data: &[u8]) {
        let _ = (data, self.limits);
        todo!("codec helper")
    }
    /// The next event the buffered bytes allow, or `None` until more arrive.
    pub fn next_event(&mut self) -> Option<FrameEvent> {
        todo!("codec helper")
    }
    /// In AUTHENTICATE mode every line is an `AuthLine`; literals mean nothing.
    pub fn set_auth_mode(&mut self, on: bool) {
        let _ = on;
        todo!("codec helper")
    }
    /// Bytes held but not yet returned in an event.
    pub fn buffered(&self) -> usize {
        todo!("codec helper")
    }
    /// Drops everything buffered (after STARTTLS, plaintext that followed the
    /// command must never be read as commands: RFC 2595 §3.1).
    pub fn clear(&mut self) {
        todo!("codec helper")
    }
}
