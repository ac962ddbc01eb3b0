//! Any bytes, cut into any pieces, through the framer under small limits,
//! with the events answered as the session answers them. Checks: no panic;
//! once the events are drained the framer holds no more than its documented
//! bound (the line being read plus the largest command); every command is
//! within its limit, ends in CRLF, and parses or fails without panicking;
//! every AUTHENTICATE line is shorter than the line limit.
//!
//! Input layout: four bytes choose the limits (255 in the first means the
//! defaults), then pieces, each a length byte followed by up to that many
//! bytes. A length byte with its top bit set means "push the next piece
//! before taking events", so bytes also queue up unframed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roost::imap::proto::frame::{FrameEvent, FrameLimits, Framer};
use roost::imap::proto::parse::{ParseLimits, parse_auth_line, parse_command};
use roost::imap::proto::types::CommandBody;

fn limits(b: [u8; 4]) -> FrameLimits {
    if b[0] == 255 {
        return FrameLimits::default();
    }
    FrameLimits {
        max_line: usize::from(b[0]),
        max_literal: usize::from(b[1]),
        max_append_literal: usize::from(b[2]) * 4,
        max_command: usize::from(b[3]) * 4,
    }
}

/// Takes every event the framer has, reacting like the session; returns
/// false once the connection would be closed.
fn drain(framer: &mut Framer, l: &FrameLimits) -> bool {
    let parse_limits = ParseLimits::default();
    while let Some(event) = framer.next_event() {
        match event {
            FrameEvent::Command(bytes) => {
                assert!(
                    bytes.len() <= l.max_command.saturating_add(l.max_append_literal),
                    "command of {} bytes",
                    bytes.len()
                );
                assert!(bytes.ends_with(b"\r\n"));
                match parse_command(&bytes, &parse_limits).map(|c| c.body) {
                    // The session waits for the client's response lines.
                    Ok(CommandBody::Authenticate {
                        initial_response: None,
                        ..
                    }) => framer.set_auth_mode(true),
                    // Plaintext after STARTTLS is never read (RFC 2595 §3.1).
                    Ok(CommandBody::StartTls) => framer.clear(),
                    _ => {}
                }
            }
            FrameEvent::AuthLine(line) => {
                assert!(
                    line.len() < l.max_line.max(1),
                    "auth line of {}",
                    line.len()
                );
                let _ = parse_auth_line(&line);
                // One response line ends the exchange (PLAIN).
                framer.set_auth_mode(false);
            }
            // The session sends `+ ...`; nothing to do with the framer.
            FrameEvent::ContinuationNeeded => {}
            FrameEvent::Refused { .. } => {}
            FrameEvent::Fatal { .. } => return false,
        }
    }
    let bound = l
        .max_line
        .saturating_add(l.max_command)
        .saturating_add(l.max_append_literal);
    assert!(
        framer.buffered() <= bound,
        "holds {} bytes, bound {bound}",
        framer.buffered()
    );
    true
}

fuzz_target!(|data: &[u8]| {
    let Some((head, mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let l = limits(*head);
    let mut framer = Framer::new(l);
    while let Some((&len, after)) = rest.split_first() {
        let n = usize::from(len & 0x7f).min(after.len());
        let (piece, after) = after.split_at(n);
        rest = after;
        framer.push(piece);
        if len & 0x80 == 0 && !drain(&mut framer, &l) {
            return;
        }
    }
    drain(&mut framer, &l);
});
