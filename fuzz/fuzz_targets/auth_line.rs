//! Any bytes as an AUTHENTICATE continuation line: no panic, and what is
//! accepted is exactly `*` or canonical base64 (so nothing else can mean the
//! same response).

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use roost::imap::proto::parse::{AuthLine, parse_auth_line};

fuzz_target!(|data: &[u8]| {
    match parse_auth_line(data) {
        Ok(AuthLine::Cancel) => assert_eq!(data, b"*"),
        Ok(AuthLine::Data(decoded)) => {
            assert_eq!(STANDARD.encode(decoded.expose()).as_bytes(), data);
        }
        Err(_) => {}
    }
});
