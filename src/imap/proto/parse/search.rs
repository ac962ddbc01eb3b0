//! SEARCH arguments (RFC 3501 §6.4.4, §9): the optional CHARSET and the
//! search keys.
//!
//! `search-key` is recursive (`NOT`, `OR`, parenthesised lists). Every `(`,
//! `NOT` and `OR` adds one level, and a key deeper than
//! `ParseLimits::max_depth` (never more than `MAX_DEPTH_CAP`) is refused
//! with `TooDeep` before recursing, so no input can exhaust the stack, and
//! the resulting tree is shallow enough for recursive code (drop, the
//! evaluator) to walk.

use nom::Parser;
use nom::bytes::complete::take_while1;
use nom::error::context;

use super::super::types::SearchKey;
use super::core::{
    Res, astring, atom, failure, kw, mod_sequence, number, paren_list, quoted, sp, sp_list,
};
use super::datetime::date;
use super::fetch::header_fld_name;
use super::sequence::sequence_set;
use super::{ParseErrorKind, ParseLimits};

/// The deepest search key accepted whatever `ParseLimits` says, so that a
/// careless limit cannot let a command exhaust a thread's stack: at this
/// depth an unoptimised build needs under 1 MiB of stack (tested), an
/// optimised one far less.
pub const MAX_DEPTH_CAP: usize = 100;

/// `search = "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key)`, from the
/// first SP after SEARCH. Returns the upper-cased charset and the criteria:
/// several top-level keys become `SearchKey::And`, a single one stays
/// itself.
pub(crate) fn search_args<'a>(
    i: &'a [u8],
    lim: &ParseLimits,
) -> Res<'a, (Option<String>, SearchKey)> {
    let (i, _) = sp(i)?;
    let (i, charset) = match (kw("CHARSET"), sp).parse(i) {
        Ok((j, _)) => {
            let (j, raw) = astring(j)?;
            if raw.is_empty() || !raw.iter().all(|b| b.is_ascii_graphic()) {
                return failure(ParseErrorKind::BadCharset);
            }
            let name = String::from_utf8(raw)
                .unwrap_or_default()
                .to_ascii_uppercase();
            let (j, _) = sp(j)?;
            (j, Some(name))
        }
        Err(_) => (i, None),
    };
    let (i, mut keys) = sp_list(i, lim, |j| search_key(j, lim, 0))?;
    let criteria = if keys.len() == 1 {
        keys.pop().unwrap_or(SearchKey::All)
    } else {
        SearchKey::And(keys)
    };
    Ok((i, (charset, criteria)))
}

/// One level deeper than `depth`, or `TooDeep`.
fn deeper(depth: usize, lim: &ParseLimits) -> Result<usize, nom::Err<super::core::PErr>> {
    let d = depth + 1;
    if d > lim.max_depth.min(MAX_DEPTH_CAP) {
        Err(nom::Err::Failure(super::core::PErr(
            ParseErrorKind::TooDeep,
        )))
    } else {
        Ok(d)
    }
}

/// `search-key` (RFC 3501 §9) at nesting `depth`.
///
/// Only the recursive forms are handled here, so that the stack frame of
/// each level stays small; every other key is parsed by `leaf_key`.
pub(crate) fn search_key<'a>(i: &'a [u8], lim: &ParseLimits, depth: usize) -> Res<'a, SearchKey> {
    match i.first() {
        Some(b'(') => {
            let d = deeper(depth, lim)?;
            return paren_list(i, lim, false, |j| search_key(j, lim, d))
                .map(|(i, v)| (i, SearchKey::And(v)));
        }
        Some(b'*' | b'0'..=b'9') => return leaf_key(i, lim),
        _ => {}
    }
    let (after, name) = key_name(i)?;
    if name.eq_ignore_ascii_case(b"NOT") {
        let d = deeper(depth, lim)?;
        let (i, _) = sp(after)?;
        let (i, k) = search_key(i, lim, d)?;
        Ok((i, SearchKey::Not(Box::new(k))))
    } else if name.eq_ignore_ascii_case(b"OR") {
        let d = deeper(depth, lim)?;
        let (i, _) = sp(after)?;
        let (i, a) = search_key(i, lim, d)?;
        let (i, _) = sp(i)?;
        let (i, b) = search_key(i, lim, d)?;
        Ok((i, SearchKey::Or(Box::new(a), Box::new(b))))
    } else {
        leaf_key(i, lim)
    }
}

/// The name of a search key: letters only.
fn key_name(i: &[u8]) -> Res<'_, &[u8]> {
    context(
        "expected a search key",
        take_while1(|b: u8| b.is_ascii_alphabetic()),
    )
    .parse(i)
}

/// Every `search-key` that does not contain another: a sequence set, or a
/// key name with its arguments, if any.
#[inline(never)]
fn leaf_key<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, SearchKey> {
    if let Some(b'*' | b'0'..=b'9') = i.first() {
        return sequence_set(i, lim).map(|(i, s)| (i, SearchKey::SequenceSet(s)));
    }
    let (i, name) = key_name(i)?;
    let upper = name.to_ascii_uppercase();
    // Keys without arguments.
    let simple = match upper.as_slice() {
        b"ALL" => Some(SearchKey::All),
        b"ANSWERED" => Some(SearchKey::Answered),
        b"DELETED" => Some(SearchKey::Deleted),
        b"DRAFT" => Some(SearchKey::Draft),
        b"FLAGGED" => Some(SearchKey::Flagged),
        b"NEW" => Some(SearchKey::New),
        b"OLD" => Some(SearchKey::Old),
        b"RECENT" => Some(SearchKey::Recent),
        b"SEEN" => Some(SearchKey::Seen),
        b"UNANSWERED" => Some(SearchKey::Unanswered),
        b"UNDELETED" => Some(SearchKey::Undeleted),
        b"UNDRAFT" => Some(SearchKey::Undraft),
        b"UNFLAGGED" => Some(SearchKey::Unflagged),
        b"UNSEEN" => Some(SearchKey::Unseen),
        _ => None,
    };
    if let Some(k) = simple {
        return Ok((i, k));
    }
    let (i, _) = sp(i)?;
    match upper.as_slice() {
        b"BCC" => astring.map(SearchKey::Bcc).parse(i),
        b"BODY" => astring.map(SearchKey::Body).parse(i),
        b"CC" => astring.map(SearchKey::Cc).parse(i),
        b"FROM" => astring.map(SearchKey::From).parse(i),
        b"SUBJECT" => astring.map(SearchKey::Subject).parse(i),
        b"TEXT" => astring.map(SearchKey::Text).parse(i),
        b"TO" => astring.map(SearchKey::To).parse(i),
        b"BEFORE" => date.map(SearchKey::Before).parse(i),
        b"ON" => date.map(SearchKey::On).parse(i),
        b"SINCE" => date.map(SearchKey::Since).parse(i),
        b"SENTBEFORE" => date.map(SearchKey::SentBefore).parse(i),
        b"SENTON" => date.map(SearchKey::SentOn).parse(i),
        b"SENTSINCE" => date.map(SearchKey::SentSince).parse(i),
        b"KEYWORD" => atom.map(|a| SearchKey::Keyword(a.to_owned())).parse(i),
        b"UNKEYWORD" => atom.map(|a| SearchKey::Unkeyword(a.to_owned())).parse(i),
        b"LARGER" => number.map(SearchKey::Larger).parse(i),
        b"SMALLER" => number.map(SearchKey::Smaller).parse(i),
        b"UID" => sequence_set(i, lim).map(|(i, s)| (i, SearchKey::Uid(s))),
        // RFC 7162 §3.1.5: `MODSEQ [SP entry-name SP entry-type-req] SP
        // mod-sequence-valzer`; `entry-name` is a quoted "/flags/..." and
        // is ignored (one MODSEQ covers all flags).
        b"MODSEQ" => {
            let i = if i.first() == Some(&b'"') {
                let (i, _) = quoted(i)?;
                let (i, _) = sp(i)?;
                let (i, kind) = key_name(i)?;
                if !matches!(
                    kind.to_ascii_lowercase().as_slice(),
                    b"priv" | b"shared" | b"all"
                ) {
                    return failure(ParseErrorKind::Syntax("expected priv, shared or all"));
                }
                let (i, _) = sp(i)?;
                i
            } else {
                i
            };
            mod_sequence.map(SearchKey::ModSeq).parse(i)
        }
        b"HEADER" => {
            let (i, field) = header_fld_name(i)?;
            let (i, _) = sp(i)?;
            let (i, value) = astring(i)?;
            Ok((i, SearchKey::Header(field, value)))
        }
        _ => failure(ParseErrorKind::Syntax("unknown search key")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::core::PErr;
    use super::*;
    use crate::imap::proto::types::{SeqOrUid, SeqRange, SequenceSet};
    use chrono::NaiveDate;
    use std::num::NonZeroU32;

    fn parse(input: &[u8]) -> (Option<String>, SearchKey) {
        let lim = ParseLimits::default();
        match search_args(input, &lim) {
            Ok((b"", v)) => v,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn key(input: &str) -> SearchKey {
        let (charset, k) = parse(format!(" {input}").as_bytes());
        assert_eq!(charset, None);
        k
    }

    fn err(input: &[u8], lim: &ParseLimits) -> ParseErrorKind {
        match search_args(input, lim) {
            Err(nom::Err::Error(PErr(k)) | nom::Err::Failure(PErr(k))) => k,
            Ok((rest, _)) if !rest.is_empty() => ParseErrorKind::Syntax("trailing"),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn set(ranges: &[(u32, u32)]) -> SequenceSet {
        let v = |n: u32| NonZeroU32::new(n).map_or(SeqOrUid::Asterisk, SeqOrUid::Value);
        SequenceSet(
            ranges
                .iter()
                .map(|&(a, b)| SeqRange {
                    start: v(a),
                    end: v(b),
                })
                .collect(),
        )
    }

    #[test]
    fn every_key() {
        use SearchKey::*;
        let cases: Vec<(&str, SearchKey)> = vec![
            ("ALL", All),
            ("answered", Answered),
            ("BCC \"a b\"", Bcc(b"a b".to_vec())),
            ("BEFORE 1-Feb-1994", Before(d(1994, 2, 1))),
            ("BODY {3}\r\nx y", Body(b"x y".to_vec())),
            ("CC cc", Cc(b"cc".to_vec())),
            ("DELETED", Deleted),
            ("DRAFT", Draft),
            ("FLAGGED", Flagged),
            ("FROM Smith", From(b"Smith".to_vec())),
            ("HEADER X-Foo bar", Header("X-Foo".into(), b"bar".to_vec())),
            (
                "HEADER \"Message-ID\" \"\"",
                Header("Message-ID".into(), vec![]),
            ),
            (
                "HEADER a:b \"caf\u{e9}\"",
                Header("a:b".into(), "caf\u{e9}".as_bytes().to_vec()),
            ),
            ("KEYWORD $Junk", Keyword("$Junk".into())),
            ("LARGER 4294967295", Larger(u32::MAX)),
            ("NEW", New),
            ("NOT SEEN", Not(Box::new(Seen))),
            ("OLD", Old),
            ("ON \"15-Mar-2020\"", On(d(2020, 3, 15))),
            ("OR SEEN FLAGGED", Or(Box::new(Seen), Box::new(Flagged))),
            ("RECENT", Recent),
            ("SEEN", Seen),
            ("SENTBEFORE 1-Jan-2000", SentBefore(d(2000, 1, 1))),
            ("SENTON 01-Jan-2000", SentOn(d(2000, 1, 1))),
            ("SENTSINCE 31-Dec-1999", SentSince(d(1999, 12, 31))),
            ("SINCE 1-Feb-1994", Since(d(1994, 2, 1))),
            ("SMALLER 0", Smaller(0)),
            ("SUBJECT hello", Subject(b"hello".to_vec())),
            ("TEXT \"caf\u{e9}\"", Text("caf\u{e9}".as_bytes().to_vec())),
            ("TO to", To(b"to".to_vec())),
            ("UID 1:*", Uid(set(&[(1, 0)]))),
            ("UNANSWERED", Unanswered),
            ("UNDELETED", Undeleted),
            ("UNDRAFT", Undraft),
            ("UNFLAGGED", Unflagged),
            ("UNKEYWORD foo", Unkeyword("foo".into())),
            ("UNSEEN", Unseen),
            ("2,4:7", SequenceSet(set(&[(2, 2), (4, 7)]))),
            ("*", SequenceSet(set(&[(0, 0)]))),
            ("(SEEN)", And(vec![Seen])),
            ("(SEEN UNDELETED)", And(vec![Seen, Undeleted])),
        ];
        for (input, expected) in cases {
            assert_eq!(key(input), expected, "{input:?}");
        }
    }

    #[test]
    fn composition() {
        use SearchKey::*;
        assert_eq!(
            key("FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
            And(vec![
                Flagged,
                Since(d(1994, 2, 1)),
                Not(Box::new(From(b"Smith".to_vec())))
            ])
        );
        assert_eq!(
            key("OR (UNSEEN FROM a) NOT (OR 1:3 UID 5)"),
            Or(
                Box::new(And(vec![Unseen, From(b"a".to_vec())])),
                Box::new(Not(Box::new(And(vec![Or(
                    Box::new(SequenceSet(set(&[(1, 3)]))),
                    Box::new(Uid(set(&[(5, 5)])))
                )]))))
            )
        );
        assert_eq!(
            key("((((ALL))))"),
            And(vec![And(vec![And(vec![And(vec![All])])])])
        );
        assert_eq!(
            key("OR OR OR SEEN DRAFT DELETED NEW"),
            Or(
                Box::new(Or(
                    Box::new(Or(Box::new(Seen), Box::new(Draft))),
                    Box::new(Deleted)
                )),
                Box::new(New)
            )
        );
    }

    #[test]
    fn charset() {
        assert_eq!(
            parse(b" CHARSET utf-8 ALL"),
            (Some("UTF-8".into()), SearchKey::All)
        );
        assert_eq!(
            parse(b" charset \"us-ascii\" TEXT a SEEN"),
            (
                Some("US-ASCII".into()),
                SearchKey::And(vec![SearchKey::Text(b"a".to_vec()), SearchKey::Seen])
            )
        );
        assert_eq!(
            parse(b" CHARSET {5}\r\nUTF-8 TEXT {4}\r\n\xe6\x97\xa5x"),
            (
                Some("UTF-8".into()),
                SearchKey::Text("日x".as_bytes().to_vec())
            )
        );
        let lim = ParseLimits::default();
        assert_eq!(
            err(b" CHARSET \"\xff\" ALL", &lim),
            ParseErrorKind::BadCharset
        );
        assert!(matches!(
            err(b" CHARSET UTF-8", &lim),
            ParseErrorKind::Syntax(_)
        ));
    }

    #[test]
    fn errors() {
        let lim = ParseLimits::default();
        let bad: &[&[u8]] = &[
            b"",
            b" ",
            b" FOO",
            b" ALL ",
            b" (ALL",
            b" ALL)",
            b" ()",
            b" (ALL))",
            b" NOT",
            b" OR ALL",
            b" BEFORE 30-Feb-2000",
            b" BEFORE yesterday",
            b" LARGER",
            b" LARGER 4294967296",
            b" LARGER -1",
            b" UID 0",
            b" 0",
            b" 1:0",
            b" KEYWORD \\Seen",
            b" KEYWORD \"a\"",
            b" HEADER a",
            b" HEADER \"\xc3\xa9\" c",
            b" SUBJECT",
            b" ALL\x00",
            b" \x00",
        ];
        for input in bad {
            assert!(
                matches!(err(input, &lim), ParseErrorKind::Syntax(_)),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits() {
        let lim = ParseLimits {
            max_depth: 3,
            max_params: 4,
        };
        assert!(search_args(b" (((ALL)))", &lim).is_ok());
        assert_eq!(err(b" ((((ALL))))", &lim), ParseErrorKind::TooDeep);
        assert!(search_args(b" NOT NOT NOT ALL", &lim).is_ok());
        assert_eq!(err(b" NOT NOT NOT NOT ALL", &lim), ParseErrorKind::TooDeep);
        assert_eq!(
            err(b" OR OR OR OR ALL ALL ALL ALL ALL", &lim),
            ParseErrorKind::TooDeep
        );
        assert!(search_args(b" ALL ALL ALL ALL", &lim).is_ok());
        assert_eq!(
            err(b" ALL ALL ALL ALL ALL", &lim),
            ParseErrorKind::TooManyParams
        );
        assert_eq!(
            err(b" (ALL ALL ALL ALL ALL)", &lim),
            ParseErrorKind::TooManyParams
        );
        assert_eq!(err(b" UID 1,2,3,4,5", &lim), ParseErrorKind::TooManyParams);

        // Far past any limit, with and without a limit that large.
        let deep = |open: &str, n: usize| format!(" {}ALL", open.repeat(n)).into_bytes();
        let huge = ParseLimits {
            max_depth: usize::MAX,
            max_params: usize::MAX,
        };
        for l in [ParseLimits::default(), huge] {
            assert_eq!(err(&deep("(", 10_000), &l), ParseErrorKind::TooDeep);
            assert_eq!(err(&deep("NOT ", 100_000), &l), ParseErrorKind::TooDeep);
            assert_eq!(err(&deep("OR ", 100_000), &l), ParseErrorKind::TooDeep);
        }
        let at_cap = format!(
            " {}ALL{}",
            "(".repeat(MAX_DEPTH_CAP),
            ")".repeat(MAX_DEPTH_CAP)
        );
        assert!(search_args(at_cap.as_bytes(), &huge_limits()).is_ok());
    }

    /// The deepest accepted search fits in 1 MiB of stack (half a default
    /// thread stack) even unoptimised, and deeper input is refused before
    /// it costs any more.
    #[test]
    fn deepest_search_fits_a_small_stack() {
        const STACK: usize = 1024 * 1024;
        let input = format!(
            " {}ALL{}",
            "(NOT OR ALL ".repeat(MAX_DEPTH_CAP / 3),
            ")".repeat(MAX_DEPTH_CAP / 3)
        );
        let handle = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || {
                let r = search_args(input.as_bytes(), &huge_limits()).map(|(rest, _)| rest.len());
                assert_eq!(r, Ok(0));
                let deep = format!(" {}ALL", "(".repeat(100_000));
                assert!(search_args(deep.as_bytes(), &huge_limits()).is_err());
            })
            .unwrap();
        handle.join().unwrap();
    }

    fn huge_limits() -> ParseLimits {
        ParseLimits {
            max_depth: usize::MAX,
            max_params: usize::MAX,
        }
    }
}
