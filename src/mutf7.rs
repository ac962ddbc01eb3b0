//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3), both ways: IMAP's wire
//! form and Dovecot's Maildir++ folder names.
//!
//! Printable US-ASCII (0x20–0x7e) stands for itself, except `&`, which is
//! written `&-`. Every other character is written as UTF-16 in a "shifted
//! run": `&`, modified base64 (RFC 2045 base64 with `,` instead of `/`, no
//! padding), then `-`.
//!
//! `decode` accepts only well-formed input, and rejects shifted runs that
//! encode a printable ASCII character: RFC 3501 says such characters MUST
//! represent themselves, and accepting both spellings would give one
//! mailbox two wire names.

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid modified UTF-7 mailbox name: {0}")]
pub struct Mutf7Error(pub &'static str);

/// The modified base64 alphabet (RFC 3501 §5.1.3: `,` replaces `/`).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn is_printable(c: u32) -> bool {
    (0x20..=0x7e).contains(&c)
}

fn alphabet_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// Writes one shifted run (`&…-`) for the UTF-16 code units in `units`.
fn flush_run(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut bits: u32 = 0;
    let mut nbits: u32 = 0;
    for &u in units.iter() {
        bits = (bits << 16) | u32::from(u);
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(char::from(ALPHABET[((bits >> nbits) & 0x3f) as usize]));
        }
        // Keep only the bits not yet written, so `bits` never overflows.
        bits &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push(char::from(
            ALPHABET[((bits << (6 - nbits)) & 0x3f) as usize],
        ));
    }
    out.push('-');
    units.clear();
}

/// Encodes a UTF-8 name to modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_printable(u32::from(c)) {
            flush_run(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_run(&mut run, &mut out);
    out
}

/// Decodes the base64 between `&` and `-` into UTF-16 code units.
fn decode_run(run: &[u8]) -> Result<Vec<u16>, Mutf7Error> {
    let mut units = Vec::with_capacity(run.len() * 6 / 16);
    let mut bits: u32 = 0;
    let mut nbits: u32 = 0;
    for &b in run {
        let v = alphabet_value(b).ok_or(Mutf7Error("invalid character in a shifted run"))?;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            units.push(((bits >> nbits) & 0xffff) as u16);
            bits &= (1 << nbits) - 1;
        }
    }
    // A canonical run ends as soon as the last code unit is complete: fewer
    // than 6 bits left over, all of them zero.
    if nbits >= 6 {
        return Err(Mutf7Error("incomplete UTF-16 code unit in a shifted run"));
    }
    if bits != 0 {
        return Err(Mutf7Error("non-zero padding bits in a shifted run"));
    }
    Ok(units)
}

/// Decodes modified UTF-7 to UTF-8. Rejects non-canonical forms (printable
/// ASCII inside a shifted run, an unterminated `&`, bad base64, ill-formed
/// UTF-16, non-ASCII bytes).
pub fn decode(name: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some((&b, tail)) = rest.split_first() {
        if !is_printable(u32::from(b)) {
            return Err(Mutf7Error("byte outside printable US-ASCII"));
        }
        if b != b'&' {
            out.push(char::from(b));
            rest = tail;
            continue;
        }
        let end = tail
            .iter()
            .position(|&c| c == b'-')
            .ok_or(Mutf7Error("unterminated shifted run"))?;
        let (run, after) = tail.split_at(end);
        // `after` starts with the `-` that ends the run.
        rest = after.get(1..).unwrap_or_default();
        if run.is_empty() {
            out.push('&');
            continue;
        }
        let units = decode_run(run)?;
        for c in char::decode_utf16(units) {
            let c = c.map_err(|_| Mutf7Error("ill-formed UTF-16 in a shifted run"))?;
            if is_printable(u32::from(c)) {
                return Err(Mutf7Error("printable ASCII encoded in a shifted run"));
            }
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3501_example() {
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        let name = "~peter/mail/台北/日本語";
        assert_eq!(decode(wire.as_bytes()).as_deref(), Ok(name));
        assert_eq!(encode(name), wire);
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("INBOX", "INBOX"),
            ("&", "&-"),
            ("a&b", "a&-b"),
            ("&&", "&-&-"),
            ("é", "&AOk-"),
            ("éé", "&AOkA6Q-"),
            ("ééé", "&AOkA6QDp-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("😀", "&2D3eAA-"),
            ("\u{1}", "&AAE-"),
            ("\u{7f}", "&AH8-"),
            ("\t", "&AAk-"),
            ("~ []%*\"\\", "~ []%*\"\\"),
            ("é&é", "&AOk-&-&AOk-"),
            ("日本語-x", "&ZeVnLIqe--x"),
        ];
        for (utf8, wire) in cases {
            assert_eq!(encode(utf8), *wire, "encode {utf8:?}");
            assert_eq!(
                decode(wire.as_bytes()).as_deref(),
                Ok(*utf8),
                "decode {wire:?}"
            );
        }
    }

    #[test]
    fn adjacent_runs_decode() {
        // Not what `encode` writes, but not forbidden by RFC 3501.
        assert_eq!(decode(b"&AOk-&AOk-").as_deref(), Ok("éé"));
    }

    #[test]
    fn rejects() {
        let bad: &[&[u8]] = &[
            b"&Jjo",        // unterminated
            b"&",           // unterminated
            b"a&U,BT",      // unterminated
            b"&AGE-",       // 'a' in a shifted run: non-canonical
            b"&ACY-",       // '&' in a shifted run: non-canonical
            b"&ACA-",       // ' ' in a shifted run: non-canonical
            b"&AOl-",       // non-zero leftover bits
            b"&AOkA-",      // a sixth of a code unit left over
            b"&AO-",        // incomplete code unit
            b"&A-",         // incomplete code unit
            b"&AO/-",       // '/' is not modified base64
            b"&AO=-",       // no padding allowed
            b"&2D0-",       // lone high surrogate
            b"&3gA-",       // lone low surrogate
            b"&3gDYPQ-",    // surrogates in the wrong order
            "é".as_bytes(), // raw 8-bit
            b"\xff",        // not UTF-8 either
            b"a\x00b",      // control
            b"a\tb",        // control
            b"a\x7fb",      // DEL
        ];
        for b in bad {
            assert!(
                decode(b).is_err(),
                "{:?} should be rejected",
                String::from_utf8_lossy(b)
            );
        }
    }

    proptest! {
        #[test]
        fn round_trip(s in any::<String>()) {
            let wire = encode(&s);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(wire.as_bytes()), Ok(s));
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(s) = decode(&b) {
                // Whatever decodes is canonical, except for adjacent runs.
                prop_assert_eq!(decode(encode(&s).as_bytes()), Ok(s));
            }
        }

        #[test]
        fn decode_base64ish_never_panics(s in "[A-Za-z0-9+,&-]{0,24}") {
            let _ = decode(s.as_bytes());
        }
    }
}
