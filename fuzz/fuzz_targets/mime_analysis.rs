//! Any bytes as a message, through what APPEND and delivery compute of it:
//! the MIME analysis (envelope, BODY, BODYSTRUCTURE, part map) and the
//! text SEARCH reads. Checks: no panic; the three productions are
//! balanced IMAP lists; every part lies inside its parent and the message,
//! in order; the part count stays under the cap; the stored part map reads
//! back equal, and a corrupt one is an error, never a panic; the search
//! text is computed without a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roost::mime::{self, Part, PartKind, PartMap};

/// Parentheses balanced outside quoted strings and literals, one list.
fn balanced_list(p: &[u8]) -> bool {
    let (mut depth, mut i) = (0usize, 0usize);
    while i < p.len() {
        match p[i] {
            b'"' => {
                i += 1;
                while i < p.len() && p[i] != b'"' {
                    i += if p[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                let close = match p[i..].iter().position(|&b| b == b'}') {
                    Some(c) => i + c,
                    None => return false,
                };
                let n: usize = match std::str::from_utf8(&p[i + 1..close])
                    .ok()
                    .and_then(|s| s.parse().ok())
                {
                    Some(n) => n,
                    None => return false,
                };
                // `{n}` CRLF, then n octets.
                i = close + 2 + n;
            }
            b'(' => depth += 1,
            b')' => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
                if depth == 0 && i + 1 != p.len() {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0 && p.first() == Some(&b'(')
}

/// Checks one part and its children; returns how many parts it holds.
fn check(part: &Part, within: std::ops::Range<usize>, depth: usize) -> usize {
    let (h, b) = (part.header_range(), part.body_range());
    assert!(
        h.start <= h.end && h.end == b.start && b.start <= b.end,
        "part ranges out of order"
    );
    assert!(
        within.start <= h.start && b.end <= within.end,
        "part outside its parent"
    );
    assert!(depth <= mime::MAX_DEPTH + 1, "nesting past the cap");
    match part.kind() {
        PartKind::Single => 1,
        PartKind::Message(inner) => 1 + check(inner, b.clone(), depth + 1),
        PartKind::Multipart(children) => {
            assert!(!children.is_empty(), "a multipart without parts");
            let mut last = b.start;
            let mut n = 1;
            for c in children {
                assert!(c.header_range().start >= last, "parts out of order");
                last = c.body_range().end;
                n += check(c, b.clone(), depth + 1);
            }
            n
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let a = mime::analyze(data);
    assert!(
        balanced_list(&a.envelope),
        "envelope: {:?}",
        String::from_utf8_lossy(&a.envelope)
    );
    assert!(
        balanced_list(&a.body),
        "body: {:?}",
        String::from_utf8_lossy(&a.body)
    );
    assert!(
        balanced_list(&a.bodystructure),
        "bodystructure: {:?}",
        String::from_utf8_lossy(&a.bodystructure)
    );
    let parts = check(a.parts.root(), 0..data.len(), 0);
    assert!(parts <= mime::MAX_PARTS + 1, "{parts} parts");
    let stored = a.parts.to_bytes();
    assert_eq!(PartMap::from_bytes(&stored).as_ref(), Ok(&a.parts));
    let _ = PartMap::from_bytes(data);
    let _ = roost::search::matcher::searchable_text(data);
});
