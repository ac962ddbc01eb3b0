//! FETCH arguments (RFC 3501 §6.4.5, §9): the macros, `fetch-att`, and
//! `section` with its part path, text specifier and partial range.

use std::num::NonZeroU32;

use nom::Parser;
use nom::bytes::complete::tag;
use nom::error::context;

use super::super::types::{FetchAttr, FetchItems, Section, SectionText};
use super::core::{
    Res, astring, failure, keyword_token, number, nz_number, paren_list, sp, syntax,
};
use super::{ParseErrorKind, ParseLimits};

/// `"ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")"`
pub(crate) fn fetch_items<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, FetchItems> {
    if i.first() == Some(&b'(') {
        let (i, atts) = paren_list(i, lim, false, |j| fetch_att(j, lim))?;
        return Ok((i, FetchItems::Attributes(atts)));
    }
    let (after, name) = keyword_token(i)?;
    let mac = match name.to_ascii_uppercase().as_slice() {
        b"ALL" => Some(FetchItems::All),
        b"FAST" => Some(FetchItems::Fast),
        b"FULL" => Some(FetchItems::Full),
        _ => None,
    };
    match mac {
        Some(m) => Ok((after, m)),
        None => fetch_att(i, lim).map(|(i, a)| (i, FetchItems::Attributes(vec![a]))),
    }
}

/// `fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
///   "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] / "BODY" ["STRUCTURE"] /
///   "UID" / "MODSEQ" (RFC 7162) / "BODY" section ["<" number "." nz-number ">"] /
///   "BODY.PEEK" section ["<" number "." nz-number ">"]`
fn fetch_att<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, FetchAttr> {
    let (i, name) = keyword_token(i)?;
    let att = match name.to_ascii_uppercase().as_slice() {
        b"ENVELOPE" => FetchAttr::Envelope,
        b"FLAGS" => FetchAttr::Flags,
        b"INTERNALDATE" => FetchAttr::InternalDate,
        b"RFC822" => FetchAttr::Rfc822,
        b"RFC822.HEADER" => FetchAttr::Rfc822Header,
        b"RFC822.SIZE" => FetchAttr::Rfc822Size,
        b"RFC822.TEXT" => FetchAttr::Rfc822Text,
        b"BODYSTRUCTURE" => FetchAttr::BodyStructure,
        b"UID" => FetchAttr::Uid,
        b"MODSEQ" => FetchAttr::ModSeq,
        b"BODY" if i.first() != Some(&b'[') => FetchAttr::Body,
        b"BODY" => return body_section(i, lim, false),
        b"BODY.PEEK" => return body_section(i, lim, true),
        _ => return failure(ParseErrorKind::Syntax("unknown FETCH attribute")),
    };
    Ok((i, att))
}

/// `section ["<" number "." nz-number ">"]`
fn body_section<'a>(i: &'a [u8], lim: &ParseLimits, peek: bool) -> Res<'a, FetchAttr> {
    let (i, section) = section(i, lim)?;
    let (i, partial) = match i.split_first() {
        Some((&b'<', after)) => {
            let (j, origin) = number(after)?;
            let (j, _) = context("expected '.' in a partial range", tag(".")).parse(j)?;
            let (j, length) = nz_number(j)?;
            let (j, _) = context("expected '>' after a partial range", tag(">")).parse(j)?;
            (j, Some((origin, length)))
        }
        _ => (i, None),
    };
    Ok((
        i,
        FetchAttr::BodySection {
            peek,
            section,
            partial,
        },
    ))
}

/// `section = "[" [section-spec] "]"`;
/// `section-spec = section-msgtext / (section-part ["." section-text])`;
/// `section-part = nz-number *("." nz-number)`.
pub(crate) fn section<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, Section> {
    let (i, _) = context("expected '['", tag("[")).parse(i)?;
    if let Some((&b']', after)) = i.split_first() {
        return Ok((after, Section::default()));
    }
    let mut part: Vec<NonZeroU32> = Vec::new();
    let mut i = i;
    if i.first().is_some_and(u8::is_ascii_digit) {
        loop {
            if part.len() >= lim.max_params {
                return failure(ParseErrorKind::TooManyParams);
            }
            let (after, n) = nz_number(i)?;
            part.push(n);
            i = after;
            match i {
                [b'.', rest @ ..] if rest.first().is_some_and(u8::is_ascii_digit) => i = rest,
                _ => break,
            }
        }
    }
    let (i, text) = if part.is_empty() {
        section_text(i, lim, false).map(|(i, t)| (i, Some(t)))?
    } else {
        match i.split_first() {
            Some((&b'.', after)) => section_text(after, lim, true).map(|(i, t)| (i, Some(t)))?,
            _ => (i, None),
        }
    };
    let (i, _) = context("expected ']' after a section", tag("]")).parse(i)?;
    Ok((i, Section { part, text }))
}

/// `section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
/// "TEXT"`, and `section-text = section-msgtext / "MIME"` when a part
/// number came first.
fn section_text<'a>(i: &'a [u8], lim: &ParseLimits, after_part: bool) -> Res<'a, SectionText> {
    let (i, name) = keyword_token(i)?;
    match name.to_ascii_uppercase().as_slice() {
        b"HEADER" => Ok((i, SectionText::Header)),
        b"TEXT" => Ok((i, SectionText::Text)),
        b"MIME" if after_part => Ok((i, SectionText::Mime)),
        b"MIME" => failure(ParseErrorKind::Syntax("MIME needs a part number")),
        b"HEADER.FIELDS" => {
            let (i, _) = sp(i)?;
            header_list(i, lim).map(|(i, l)| (i, SectionText::HeaderFields(l)))
        }
        b"HEADER.FIELDS.NOT" => {
            let (i, _) = sp(i)?;
            header_list(i, lim).map(|(i, l)| (i, SectionText::HeaderFieldsNot(l)))
        }
        _ => failure(ParseErrorKind::Syntax("unknown section text")),
    }
}

/// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`
fn header_list<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, Vec<String>> {
    paren_list(i, lim, false, header_fld_name)
}

/// `header-fld-name = astring`. The value is kept as a `String`, so it must
/// be printable ASCII; anything else the grammar allows (even an empty name,
/// or one with a colon) is accepted and simply matches no field.
pub(crate) fn header_fld_name(i: &[u8]) -> Res<'_, String> {
    let (rest, raw) = astring(i)?;
    if !raw.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
        return failure(ParseErrorKind::Syntax(
            "header field name is not printable ASCII",
        ));
    }
    match String::from_utf8(raw) {
        Ok(s) => Ok((rest, s)),
        Err(_) => syntax("header field name is not printable ASCII"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn sec(
        peek: bool,
        part: &[u32],
        text: Option<SectionText>,
        partial: Option<(u32, u32)>,
    ) -> FetchAttr {
        FetchAttr::BodySection {
            peek,
            section: Section {
                part: part.iter().map(|&n| nz(n)).collect(),
                text,
            },
            partial: partial.map(|(o, l)| (o, nz(l))),
        }
    }

    fn one(input: &[u8]) -> FetchAttr {
        let lim = ParseLimits::default();
        match fetch_items(input, &lim) {
            Ok((b"", FetchItems::Attributes(v))) if v.len() == 1 => v.into_iter().next().unwrap(),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn macros() {
        let lim = ParseLimits::default();
        assert_eq!(fetch_items(b"ALL", &lim), Ok((&b""[..], FetchItems::All)));
        assert_eq!(fetch_items(b"fast", &lim), Ok((&b""[..], FetchItems::Fast)));
        assert_eq!(fetch_items(b"Full", &lim), Ok((&b""[..], FetchItems::Full)));
        assert!(fetch_items(b"(ALL)", &lim).is_err());
        assert!(fetch_items(b"(FLAGS ALL)", &lim).is_err());
    }

    #[test]
    fn attributes() {
        use FetchAttr::*;
        use SectionText::*;
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: Vec<(&[u8], FetchAttr)> = vec![
            (b"ENVELOPE", Envelope),
            (b"flags", Flags),
            (b"INTERNALDATE", InternalDate),
            (b"RFC822", Rfc822),
            (b"RFC822.HEADER", Rfc822Header),
            (b"rfc822.size", Rfc822Size),
            (b"RFC822.TEXT", Rfc822Text),
            (b"BODY", Body),
            (b"BODYSTRUCTURE", BodyStructure),
            (b"UID", Uid),
            (b"BODY[]", sec(false, &[], None, None)),
            (b"BODY.PEEK[]", sec(true, &[], None, None)),
            (b"body.peek[]<0.1>", sec(true, &[], None, Some((0, 1)))),
            (
                b"BODY[]<4294967295.4294967295>",
                sec(false, &[], None, Some((u32::MAX, u32::MAX))),
            ),
            (b"BODY[HEADER]", sec(false, &[], Some(Header), None)),
            (b"BODY[TEXT]", sec(false, &[], Some(Text), None)),
            (
                b"BODY[header.fields (From To)]",
                sec(false, &[], Some(HeaderFields(s(&["From", "To"]))), None),
            ),
            (
                b"BODY.PEEK[HEADER.FIELDS.NOT (\"Subject\" {4}\r\nDate)]",
                sec(
                    true,
                    &[],
                    Some(HeaderFieldsNot(s(&["Subject", "Date"]))),
                    None,
                ),
            ),
            (b"BODY[1]", sec(false, &[1], None, None)),
            (b"BODY[1.2.3]", sec(false, &[1, 2, 3], None, None)),
            (b"BODY[1.2.MIME]", sec(false, &[1, 2], Some(Mime), None)),
            (b"BODY[3.HEADER]", sec(false, &[3], Some(Header), None)),
            (
                b"BODY[3.TEXT]<10.20>",
                sec(false, &[3], Some(Text), Some((10, 20))),
            ),
            (
                b"BODY[1.2.HEADER.FIELDS.NOT (A B)]<0.100>",
                sec(
                    false,
                    &[1, 2],
                    Some(HeaderFieldsNot(s(&["A", "B"]))),
                    Some((0, 100)),
                ),
            ),
            (
                b"BODY[4.2.2.1.HEADER.FIELDS (X-Mailer)]",
                sec(
                    false,
                    &[4, 2, 2, 1],
                    Some(HeaderFields(s(&["X-Mailer"]))),
                    None,
                ),
            ),
            (
                b"BODY[HEADER.FIELDS (\"\" A:B \"a b\")]",
                sec(false, &[], Some(HeaderFields(s(&["", "A:B", "a b"]))), None),
            ),
            (
                b"BODY[1.2.3.4.5.6.7.8.9.10.11.12]",
                sec(false, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], None, None),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(one(input), expected, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn lists() {
        use FetchAttr::*;
        let lim = ParseLimits::default();
        assert_eq!(
            fetch_items(b"(FLAGS BODY[HEADER.FIELDS (DATE FROM)] UID)", &lim),
            Ok((
                &b""[..],
                FetchItems::Attributes(vec![
                    Flags,
                    sec(
                        false,
                        &[],
                        Some(SectionText::HeaderFields(vec![
                            "DATE".into(),
                            "FROM".into()
                        ])),
                        None
                    ),
                    Uid
                ])
            ))
        );
        assert_eq!(
            fetch_items(b"(UID)", &lim),
            Ok((&b""[..], FetchItems::Attributes(vec![Uid])))
        );
        let small = ParseLimits {
            max_depth: 32,
            max_params: 2,
        };
        assert!(fetch_items(b"(UID FLAGS)", &small).is_ok());
        assert!(matches!(
            fetch_items(b"(UID FLAGS ENVELOPE)", &small),
            Err(nom::Err::Failure(super::super::core::PErr(
                ParseErrorKind::TooManyParams
            )))
        ));
        assert!(matches!(
            fetch_items(b"BODY[HEADER.FIELDS (A B C)]", &small),
            Err(nom::Err::Failure(super::super::core::PErr(
                ParseErrorKind::TooManyParams
            )))
        ));
        assert!(matches!(
            fetch_items(b"BODY[1.2.3]", &small),
            Err(nom::Err::Failure(super::super::core::PErr(
                ParseErrorKind::TooManyParams
            )))
        ));
    }

    #[test]
    fn errors() {
        let lim = ParseLimits::default();
        let bad: &[&[u8]] = &[
            b"()",
            b"(FLAGS",
            b"(FLAGS UID",
            b"(FLAGS  UID)",
            b"FOO",
            b"BODY.PEEK",
            b"BODY[",
            b"BODY[MIME]",
            b"BODY[0]",
            b"BODY[1.0]",
            b"BODY[1.]",
            b"BODY[.1]",
            b"BODY[1.FOO]",
            b"BODY[HEADER.FIELDS]",
            b"BODY[HEADER.FIELDS ()]",
            b"BODY[HEADER.FIELDS (\"\xc3\xa9\")]",
            b"BODY[HEADER.FIELDS ({1}\r\n\x01)]",
            b"BODY[HEADER.FIELDS (A)",
            b"BODY[]<0.0>",
            b"BODY[]<0>",
            b"BODY[]<.5>",
            b"BODY[]<0.5",
            b"BODY[]<4294967296.1>",
            b"RFC822.FOO",
            b"BODYSTRUCTURE[]",
        ];
        for input in bad {
            let r = fetch_items(input, &lim);
            assert!(
                r.is_err() || r.is_ok_and(|(rest, _)| !rest.is_empty()),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
