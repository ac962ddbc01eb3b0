//! Round trip of every command through the wire: `encode_command` writes
//! the canonical client form, `parse_command` must read back the same
//! value, and the `Framer` must find exactly that command in the bytes
//! however they are cut up.

mod common;

use proptest::collection::vec;
use proptest::prelude::*;

use roost::imap::proto::frame::{FrameEvent, FrameLimits, Framer};
use roost::imap::proto::parse::{ParseLimits, parse_command};
use roost::imap::proto::types::Command;

use common::{command, encode, same_zone};

/// Pushes `wire` into a fresh framer in pieces of the given sizes (cycled),
/// taking events after each push as a session does; a continuation request
/// needs no answer here, since the bytes are already on their way.
fn frame(wire: &[u8], sizes: &[usize]) -> Vec<FrameEvent> {
    let mut framer = Framer::new(FrameLimits::default());
    let mut events = Vec::new();
    let mut rest = wire;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, after) = rest.split_at(size.min(rest.len()));
        rest = after;
        framer.push(piece);
        while let Some(event) = framer.next_event() {
            events.push(event);
        }
    }
    assert_eq!(framer.buffered(), 0, "bytes left in the framer");
    events
}

fn check(c: &Command, sizes: &[usize]) -> Result<(), TestCaseError> {
    let wire = encode(c);
    let shown = String::from_utf8_lossy(&wire).into_owned();

    let parsed = parse_command(&wire, &ParseLimits::default());
    prop_assert_eq!(parsed.as_ref(), Ok(c), "wire: {:?}", shown);
    let parsed = parsed.expect("checked above");
    prop_assert!(same_zone(c, &parsed), "zone lost: {:?}", shown);

    let events = frame(&wire, sizes);
    let commands: Vec<&Vec<u8>> = events
        .iter()
        .filter_map(|e| match e {
            FrameEvent::Command(bytes) => Some(bytes),
            _ => None,
        })
        .collect();
    prop_assert!(
        events
            .iter()
            .all(|e| matches!(e, FrameEvent::Command(_) | FrameEvent::ContinuationNeeded)),
        "unexpected events {:?} for {:?}",
        events,
        shown
    );
    prop_assert_eq!(commands.len(), 1, "commands in {:?}: {:?}", shown, events);
    prop_assert!(
        matches!(events.last(), Some(FrameEvent::Command(_))),
        "the command is the last event"
    );
    prop_assert_eq!(commands[0], &wire);
    let reparsed = parse_command(commands[0], &ParseLimits::default());
    prop_assert_eq!(reparsed.as_ref(), Ok(c));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_inverts_encode(
        c in command(),
        sizes in vec(prop_oneof![1usize..4, 1usize..64, 1usize..20_000], 1..8),
    ) {
        check(&c, &sizes)?;
    }
}
