//! The `envelope` production (RFC 3501 §7.4.2, §9), from a header block.
//!
//! Strings are the raw header values, unfolded, with encoded-words left
//! encoded (as Dovecot and most servers return them; clients decode).
//! Address lists are parsed per RFC 5322 §3.4 (with the obsolete route and
//! phrase forms of §4.4), leniently: whatever the field holds, some list
//! comes out.

use std::borrow::Cow;

use super::header::{self, Cursor};
use crate::quoting::write_header_nstring;

/// Appends the envelope of the message whose header block is `header`.
pub(crate) fn write(out: &mut Vec<u8>, header: &[u8]) {
    let text = |name: &[u8]| header::find_unfolded(header, name);
    let addresses = |name: &[u8]| {
        header::find(header, name)
            .map(parse_address_list)
            .filter(|l| !l.is_empty())
    };

    let from = addresses(b"from");
    // RFC 3501 §7.4.2: the server sets sender and reply-to to from when absent.
    let sender = addresses(b"sender").or_else(|| from.clone());
    let reply_to = addresses(b"reply-to").or_else(|| from.clone());

    out.push(b'(');
    write_header_nstring(out, text(b"date").as_deref());
    out.push(b' ');
    write_header_nstring(out, text(b"subject").as_deref());
    for list in [&from, &sender, &reply_to] {
        out.push(b' ');
        write_list(out, list.as_deref());
    }
    for name in [&b"to"[..], b"cc", b"bcc"] {
        out.push(b' ');
        write_list(out, addresses(name).as_deref());
    }
    out.push(b' ');
    write_header_nstring(out, text(b"in-reply-to").as_deref());
    out.push(b' ');
    write_header_nstring(out, text(b"message-id").as_deref());
    out.push(b')');
}

/// One element of an envelope address list (RFC 3501 §7.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    Mailbox {
        name: Option<Vec<u8>>,
        /// The obsolete source route, `@a,@b`.
        adl: Option<Vec<u8>>,
        mailbox: Vec<u8>,
        host: Vec<u8>,
    },
    /// `(NIL NIL "group" NIL)`.
    GroupStart(Vec<u8>),
    /// `(NIL NIL NIL NIL)`.
    GroupEnd,
}

fn write_list(out: &mut Vec<u8>, list: Option<&[Addr]>) {
    let Some(list) = list else {
        out.extend_from_slice(b"NIL");
        return;
    };
    out.push(b'(');
    for a in list {
        out.push(b'(');
        match a {
            Addr::Mailbox {
                name,
                adl,
                mailbox,
                host,
            } => {
                write_header_nstring(out, name.as_deref());
                out.push(b' ');
                write_header_nstring(out, adl.as_deref());
                out.push(b' ');
                write_header_nstring(out, Some(mailbox));
                out.push(b' ');
                write_header_nstring(out, Some(host));
            }
            Addr::GroupStart(name) => {
                out.extend_from_slice(b"NIL NIL ");
                write_header_nstring(out, Some(name));
                out.extend_from_slice(b" NIL");
            }
            Addr::GroupEnd => out.extend_from_slice(b"NIL NIL NIL NIL"),
        }
        out.push(b')');
    }
    out.push(b')');
}

/// A lexical token of an address field (RFC 5322 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    /// An atom, or the content of a quoted string.
    Word(Cow<'a, [u8]>),
    /// A domain literal, brackets included.
    Literal(&'a [u8]),
    Special(u8),
}

const SPECIALS: &[u8] = b"<>@,;:.";

/// Splits an unfolded field into tokens, each with the last comment that
/// preceded it (comments may carry the display name: `a@b (Name)`).
fn tokenize(v: &[u8]) -> Vec<(Tok<'_>, Option<&[u8]>)> {
    let mut c = Cursor::new(v);
    let mut toks = Vec::new();
    loop {
        let comment = c.skip_cfws();
        let Some(b) = c.peek() else {
            if comment.is_some() {
                // A trailing comment is attached to an end marker.
                toks.push((Tok::Special(b','), comment));
            }
            return toks;
        };
        let tok = if b == b'"' {
            Tok::Word(Cow::Owned(c.quoted()))
        } else if b == b'[' {
            let start = c.pos;
            c.take_while(|b| b != b']');
            if c.peek() == Some(b']') {
                c.pos += 1;
            }
            Tok::Literal(&v[start..c.pos])
        } else if SPECIALS.contains(&b) || b == b']' || b == b')' || b == b'\\' {
            c.pos += 1;
            Tok::Special(b)
        } else {
            Tok::Word(Cow::Borrowed(c.take_while(|b| {
                !SPECIALS.contains(&b)
                    && !matches!(
                        b,
                        b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b'"' | b'[' | b']' | b'\\'
                    )
            })))
        };
        toks.push((tok, comment));
    }
}

/// Joins phrase tokens: words separated by one space, `.` appended where
/// it stands (`John Q. Public`).
fn phrase(toks: &[(Tok<'_>, Option<&[u8]>)]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    for (t, _) in toks {
        match t {
            Tok::Word(w) => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
            }
            Tok::Literal(l) => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(l);
            }
            Tok::Special(b) => out.push(*b),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Joins tokens without spaces (local parts and domains).
fn concat(toks: &[(Tok<'_>, Option<&[u8]>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, _) in toks {
        match t {
            Tok::Word(w) => out.extend_from_slice(w),
            Tok::Literal(l) => out.extend_from_slice(l),
            Tok::Special(b) => out.push(*b),
        }
    }
    out
}

/// `addr-spec` from its tokens; a missing local part or domain is named as
/// Dovecot names it, since a NIL host would read as group syntax.
fn addr_spec(toks: &[(Tok<'_>, Option<&[u8]>)]) -> (Vec<u8>, Vec<u8>) {
    let at = toks.iter().rposition(|(t, _)| *t == Tok::Special(b'@'));
    let (local, domain) = match at {
        Some(i) => (concat(&toks[..i]), concat(&toks[i + 1..])),
        None => (concat(toks), Vec::new()),
    };
    let local = if local.is_empty() {
        b"MISSING_MAILBOX".to_vec()
    } else {
        local
    };
    let domain = if domain.is_empty() {
        b"MISSING_DOMAIN".to_vec()
    } else {
        domain
    };
    (local, domain)
}

/// Parses `address-list` (RFC 5322 §3.4) into envelope addresses.
pub(crate) fn parse_address_list(value: &[u8]) -> Vec<Addr> {
    let v = header::unfold(value);
    let toks = tokenize(&v);
    let mut out = Vec::new();
    let mut in_group = false;
    let mut i = 0;
    while i < toks.len() {
        // One mailbox, or the start or end of a group.
        let start = i;
        while i < toks.len() && !matches!(toks[i].0, Tok::Special(b',' | b';' | b':' | b'<')) {
            i += 1;
        }
        let stop = toks.get(i).map(|(t, _)| t.clone());
        match stop {
            Some(Tok::Special(b':')) if !in_group => {
                let name = phrase(&toks[start..i]).unwrap_or_default();
                out.push(Addr::GroupStart(name));
                in_group = true;
                i += 1;
            }
            Some(Tok::Special(b'<')) => {
                let name = phrase(&toks[start..i]);
                i += 1;
                let inner_start = i;
                while i < toks.len() && toks[i].0 != Tok::Special(b'>') {
                    i += 1;
                }
                let mut inner = &toks[inner_start..i];
                i += 1;
                // obs-route: "@a,@b:" before the addr-spec.
                let mut adl = None;
                if inner.first().is_some_and(|(t, _)| *t == Tok::Special(b'@'))
                    && let Some(colon) = inner.iter().position(|(t, _)| *t == Tok::Special(b':'))
                {
                    adl = Some(concat(&inner[..colon]));
                    inner = &inner[colon + 1..];
                }
                // "<>" is a null path only in Return-Path (RFC 5322 §3.6.7);
                // in an address list it is a mailbox missing both parts, and
                // stays in the list as such, like "Name <>".
                let (mailbox, host) = addr_spec(inner);
                out.push(Addr::Mailbox {
                    name,
                    adl,
                    mailbox,
                    host,
                });
                // Skip anything up to the next separator.
                while i < toks.len() && !matches!(toks[i].0, Tok::Special(b',' | b';')) {
                    i += 1;
                }
            }
            _ => {
                // A bare addr-spec (or a stray ':' inside a group).
                let mut end = i;
                if matches!(stop, Some(Tok::Special(b':'))) {
                    while end < toks.len() && !matches!(toks[end].0, Tok::Special(b',' | b';')) {
                        end += 1;
                    }
                    i = end;
                }
                let spec = &toks[start..end];
                if spec
                    .iter()
                    .any(|(t, _)| matches!(t, Tok::Word(_) | Tok::Literal(_)))
                {
                    // The comment after the address (or inside it) serves
                    // as the name when there is no phrase.
                    let name = toks[start..(end + 1).min(toks.len())]
                        .iter()
                        .rev()
                        .find_map(|(_, c)| *c)
                        .map(|c| header::unfold(c).into_owned());
                    let (mailbox, host) = addr_spec(spec);
                    out.push(Addr::Mailbox {
                        name,
                        adl: None,
                        mailbox,
                        host,
                    });
                }
            }
        }
        match toks.get(i).map(|(t, _)| t) {
            Some(Tok::Special(b',')) => i += 1,
            Some(Tok::Special(b';')) => {
                if in_group {
                    out.push(Addr::GroupEnd);
                    in_group = false;
                }
                i += 1;
            }
            _ => {}
        }
    }
    if in_group {
        out.push(Addr::GroupEnd);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(name: Option<&str>, mailbox: &str, host: &str) -> Addr {
        Addr::Mailbox {
            name: name.map(|n| n.as_bytes().to_vec()),
            adl: None,
            mailbox: mailbox.as_bytes().to_vec(),
            host: host.as_bytes().to_vec(),
        }
    }

    #[test]
    fn mailboxes() {
        assert_eq!(
            parse_address_list(b"\"Doe, John\" <john@example.com>, jane@example.org (Jane R.)"),
            vec![
                mb(Some("Doe, John"), "john", "example.com"),
                mb(Some("Jane R."), "jane", "example.org")
            ]
        );
        assert_eq!(
            parse_address_list(b"John Q. Public <john.q.public@example.com>"),
            vec![mb(Some("John Q. Public"), "john.q.public", "example.com")]
        );
        assert_eq!(
            parse_address_list(b"=?UTF-8?B?w6k=?= <e@x.org>"),
            vec![mb(Some("=?UTF-8?B?w6k=?="), "e", "x.org")]
        );
    }

    #[test]
    fn groups_and_routes() {
        assert_eq!(
            parse_address_list(b"A Group: a@x.org, <b@y.org>; c@z.org"),
            vec![
                Addr::GroupStart(b"A Group".to_vec()),
                mb(None, "a", "x.org"),
                mb(None, "b", "y.org"),
                Addr::GroupEnd,
                mb(None, "c", "z.org"),
            ]
        );
        assert_eq!(
            parse_address_list(b"undisclosed-recipients:;"),
            vec![
                Addr::GroupStart(b"undisclosed-recipients".to_vec()),
                Addr::GroupEnd
            ]
        );
        assert_eq!(
            parse_address_list(b"<@relay.example,@r2.example:joe@example.com>"),
            vec![Addr::Mailbox {
                name: None,
                adl: Some(b"@relay.example,@r2.example".to_vec()),
                mailbox: b"joe".to_vec(),
                host: b"example.com".to_vec(),
            }]
        );
    }

    #[test]
    fn broken() {
        assert_eq!(
            parse_address_list(b"joe"),
            vec![mb(None, "joe", "MISSING_DOMAIN")]
        );
        assert_eq!(parse_address_list(b""), vec![]);
        // Empty list members are obsolete syntax and name no one (RFC 5322
        // §4.4); "<>" is a malformed mailbox, kept as a placeholder.
        assert_eq!(parse_address_list(b",,"), vec![]);
        assert_eq!(
            parse_address_list(b",,<>, Name <>"),
            vec![
                mb(None, "MISSING_MAILBOX", "MISSING_DOMAIN"),
                mb(Some("Name"), "MISSING_MAILBOX", "MISSING_DOMAIN")
            ]
        );
        assert_eq!(
            parse_address_list(b"Name <a@b"),
            vec![mb(Some("Name"), "a", "b")]
        );
        assert_eq!(
            parse_address_list(b"g: a@b"),
            vec![
                Addr::GroupStart(b"g".to_vec()),
                mb(None, "a", "b"),
                Addr::GroupEnd
            ]
        );
    }
}
