//! `sequence-set` (RFC 3501 §9): message sequence numbers and UIDs.

use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::combinator::value;
use nom::error::context;

use super::super::types::{SeqOrUid, SeqRange, SequenceSet};
use super::core::{Res, failure, nz_number};
use super::{ParseErrorKind, ParseLimits};

/// `seq-number = nz-number / "*"`
fn seq_number(i: &[u8]) -> Res<'_, SeqOrUid> {
    context(
        "expected a sequence number or '*'",
        alt((
            value(SeqOrUid::Asterisk, tag("*")),
            nz_number.map(SeqOrUid::Value),
        )),
    )
    .parse(i)
}

/// `seq-range = seq-number ":" seq-number`, or one `seq-number`.
fn seq_range(i: &[u8]) -> Res<'_, SeqRange> {
    let (i, start) = seq_number(i)?;
    match i.split_first() {
        Some((&b':', after)) => {
            let (i, end) = seq_number(after)?;
            Ok((i, SeqRange { start, end }))
        }
        _ => Ok((i, SeqRange::single(start))),
    }
}

/// `sequence-set = (seq-number / seq-range) *("," sequence-set)`; at most
/// `max_params` ranges.
pub(crate) fn sequence_set<'a>(mut i: &'a [u8], lim: &ParseLimits) -> Res<'a, SequenceSet> {
    let mut ranges = Vec::new();
    loop {
        if ranges.len() >= lim.max_params {
            return failure(ParseErrorKind::TooManyParams);
        }
        let (after, r) = seq_range(i)?;
        ranges.push(r);
        match after.split_first() {
            Some((&b',', after)) => i = after,
            _ => return Ok((after, SequenceSet(ranges))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::core::PErr;
    use super::*;
    use std::num::NonZeroU32;

    fn v(n: u32) -> SeqOrUid {
        SeqOrUid::Value(NonZeroU32::new(n).unwrap())
    }
    fn r(a: SeqOrUid, b: SeqOrUid) -> SeqRange {
        SeqRange { start: a, end: b }
    }

    #[test]
    fn table() {
        let lim = ParseLimits::default();
        let star = SeqOrUid::Asterisk;
        let cases: Vec<(&[u8], Vec<SeqRange>)> = vec![
            (b"1", vec![SeqRange::single(v(1))]),
            (b"*", vec![SeqRange::single(star)]),
            (b"2:4", vec![r(v(2), v(4))]),
            (b"4:2", vec![r(v(4), v(2))]),
            (b"1:*", vec![r(v(1), star)]),
            (b"*:1", vec![r(star, v(1))]),
            (b"*:*", vec![r(star, star)]),
            (
                b"1,3:5,7:*,4294967295",
                vec![
                    SeqRange::single(v(1)),
                    r(v(3), v(5)),
                    r(v(7), star),
                    SeqRange::single(v(u32::MAX)),
                ],
            ),
        ];
        for (input, ranges) in cases {
            assert_eq!(
                sequence_set(input, &lim),
                Ok((&b""[..], SequenceSet(ranges))),
                "{input:?}"
            );
        }
        assert_eq!(
            sequence_set(b"1:2 x", &lim),
            Ok((&b" x"[..], SequenceSet(vec![r(v(1), v(2))])))
        );
    }

    #[test]
    fn errors() {
        let lim = ParseLimits::default();
        for bad in [
            &b"0"[..],
            b"0:1",
            b"1:0",
            b"1,",
            b",1",
            b"1:",
            b":1",
            b"",
            b"x",
            b"4294967296",
            b"1,0",
        ] {
            assert!(sequence_set(bad, &lim).is_err(), "{bad:?}");
        }
        let small = ParseLimits {
            max_depth: 32,
            max_params: 3,
        };
        assert!(sequence_set(b"1,2,3", &small).is_ok());
        assert!(matches!(
            sequence_set(b"1,2,3,4", &small),
            Err(nom::Err::Failure(PErr(ParseErrorKind::TooManyParams)))
        ));
    }
}
