//! Any bytes as one framed command: the parser must not panic, and a
//! command it accepts must come back unchanged through `encode_command`
//! (the canonical client form) and the parser again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roost::imap::proto::encode::encode_command;
use roost::imap::proto::parse::{ParseLimits, parse_command};
use roost::imap::proto::types::CommandBody;

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits::default();
    let Ok(command) = parse_command(data, &limits) else {
        return;
    };
    let mut wire = Vec::new();
    encode_command(&mut wire, &command);
    let again = match parse_command(&wire, &limits) {
        Ok(again) => again,
        Err(e) => panic!(
            "{:?} parsed as {command:?}, which encodes as {:?}, which fails: {e:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&wire)
        ),
    };
    assert_eq!(
        again,
        command,
        "{:?} encodes as {:?}",
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&wire)
    );
    // `DateTime`'s `==` ignores the zone, which the client chose.
    if let (CommandBody::Append { date: Some(a), .. }, CommandBody::Append { date: Some(b), .. }) =
        (&command.body, &again.body)
    {
        assert_eq!(a.offset(), b.offset());
    }
});
