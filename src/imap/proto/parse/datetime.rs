//! `date` (SEARCH) and `date-time` (APPEND), RFC 3501 §9. A date that does
//! not exist in the calendar (`31-Feb-2024`) is a syntax error.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use nom::Parser;
use nom::bytes::complete::{tag, take, take_while_m_n};
use nom::error::context;

use super::ParseErrorKind;
use super::core::{PErr, Res, failure, syntax};

/// Exactly `n` digits as a number (n ≤ 4, so no overflow).
fn digits(n: usize) -> impl for<'a> Fn(&'a [u8]) -> Res<'a, u32> {
    move |i| {
        let (rest, d) = context(
            "expected digits",
            take_while_m_n(n, n, |b: u8| b.is_ascii_digit()),
        )
        .parse(i)?;
        let v = d
            .iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'));
        Ok((rest, v))
    }
}

/// `date-month = "Jan" / "Feb" / ... / "Dec"` (case-insensitive).
fn date_month(i: &[u8]) -> Res<'_, u32> {
    let (rest, m) = context("expected a month name", take(3usize)).parse(i)?;
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let lower = m.to_ascii_lowercase();
    match MONTHS.iter().position(|name| name[..] == lower[..]) {
        Some(p) => Ok((rest, p as u32 + 1)),
        None => syntax("expected a month name"),
    }
}

fn calendar_date(day: u32, month: u32, year: u32) -> Result<NaiveDate, nom::Err<PErr>> {
    i32::try_from(year)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
        .ok_or(nom::Err::Failure(PErr(ParseErrorKind::Syntax(
            "no such date",
        ))))
}

/// `date-text = date-day "-" date-month "-" date-year`, with
/// `date-day = 1*2DIGIT` and `date-year = 4DIGIT`.
fn date_text(i: &[u8]) -> Res<'_, NaiveDate> {
    let (i, day) = context(
        "expected a day",
        take_while_m_n(1, 2, |b: u8| b.is_ascii_digit()),
    )
    .parse(i)?;
    let day = day
        .iter()
        .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'));
    let (i, _) = context("expected '-' in a date", tag("-")).parse(i)?;
    let (i, month) = date_month(i)?;
    let (i, _) = context("expected '-' in a date", tag("-")).parse(i)?;
    let (i, year) = digits(4)(i)?;
    Ok((i, calendar_date(day, month, year)?))
}

/// `date = date-text / DQUOTE date-text DQUOTE`
pub(crate) fn date(i: &[u8]) -> Res<'_, NaiveDate> {
    match i.split_first() {
        Some((&b'"', after)) => {
            let (i, d) = date_text(after)?;
            let (i, _) = context("expected '\"' after a date", tag("\"")).parse(i)?;
            Ok((i, d))
        }
        _ => date_text(i),
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
/// SP zone DQUOTE`, with `date-day-fixed = (SP DIGIT) / 2DIGIT`,
/// `time = 2DIGIT ":" 2DIGIT ":" 2DIGIT` and `zone = ("+" / "-") 4DIGIT`.
pub(crate) fn date_time(i: &[u8]) -> Res<'_, DateTime<FixedOffset>> {
    let (i, _) = context("expected a date-time", tag("\"")).parse(i)?;
    let (i, day) = match i.split_first() {
        Some((&b' ', after)) => digits(1)(after)?,
        _ => digits(2)(i)?,
    };
    let (i, _) = context("expected '-' in a date", tag("-")).parse(i)?;
    let (i, month) = date_month(i)?;
    let (i, _) = context("expected '-' in a date", tag("-")).parse(i)?;
    let (i, year) = digits(4)(i)?;
    let (i, _) = context("expected a space in a date-time", tag(" ")).parse(i)?;
    let (i, hour) = digits(2)(i)?;
    let (i, _) = context("expected ':' in a time", tag(":")).parse(i)?;
    let (i, minute) = digits(2)(i)?;
    let (i, _) = context("expected ':' in a time", tag(":")).parse(i)?;
    let (i, second) = digits(2)(i)?;
    let (i, _) = context("expected a space in a date-time", tag(" ")).parse(i)?;
    let (i, sign) = match i.split_first() {
        Some((&b'+', after)) => (after, 1i32),
        Some((&b'-', after)) => (after, -1i32),
        _ => return syntax("expected a time zone"),
    };
    let (i, zone) = digits(4)(i)?;
    let (i, _) = context("expected '\"' after a date-time", tag("\"")).parse(i)?;

    let date = calendar_date(day, month, year)?;
    let Some(time) = NaiveTime::from_hms_opt(hour, minute, second) else {
        return failure(ParseErrorKind::Syntax("no such time"));
    };
    let (zh, zm) = (zone / 100, zone % 100);
    if zm >= 60 {
        return failure(ParseErrorKind::Syntax("invalid time zone"));
    }
    // zh ≤ 99 and zm < 60, so this fits in i32 easily.
    let offset_secs = sign * (zh * 3600 + zm * 60) as i32;
    let Some(offset) = FixedOffset::east_opt(offset_secs) else {
        return failure(ParseErrorKind::Syntax("invalid time zone"));
    };
    match NaiveDateTime::new(date, time)
        .and_local_timezone(offset)
        .single()
    {
        Some(dt) => Ok((i, dt)),
        None => failure(ParseErrorKind::Syntax("no such date-time")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn dates() {
        let ok: &[(&[u8], NaiveDate)] = &[
            (b"1-Feb-1994", ymd(1994, 2, 1)),
            (b"01-feb-1994", ymd(1994, 2, 1)),
            (b"\"1-FEB-1994\"", ymd(1994, 2, 1)),
            (b"29-Feb-2024", ymd(2024, 2, 29)),
            (b"31-Dec-9999", ymd(9999, 12, 31)),
            (b"15-Jan-0001", ymd(1, 1, 15)),
        ];
        for (input, d) in ok {
            assert_eq!(date(input), Ok((&b""[..], *d)), "{input:?}");
        }
        for m in [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ] {
            assert!(date(format!("1-{m}-2000").as_bytes()).is_ok(), "{m}");
        }
        let bad: &[&[u8]] = &[
            b"29-Feb-2023",
            b"31-Apr-2024",
            b"0-Jan-2024",
            b"32-Jan-2024",
            b"123-Jan-2024",
            b"1-Foo-2024",
            b"1-Jan-24",
            b"1-January-2024",
            b"1 Jan 2024",
            b"\"1-Jan-2024",
            b"1-Jan-2024\"",
            b"",
            b"1-Ja",
        ];
        for input in bad {
            assert!(
                date(input).is_err() || date(input).is_ok_and(|(r, _)| !r.is_empty()),
                "{input:?}"
            );
        }
    }

    fn dt(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn date_times() {
        let ok: &[(&[u8], &str)] = &[
            (
                b"\"17-Jul-1996 02:44:25 -0700\"",
                "1996-07-17T02:44:25-07:00",
            ),
            (
                b"\" 7-Jul-1996 02:44:25 +0000\"",
                "1996-07-07T02:44:25+00:00",
            ),
            (
                b"\"07-jul-1996 23:59:59 +1400\"",
                "1996-07-07T23:59:59+14:00",
            ),
            (
                b"\"29-Feb-2000 00:00:00 -0930\"",
                "2000-02-29T00:00:00-09:30",
            ),
        ];
        for (input, expected) in ok {
            let (rest, v) = date_time(input).unwrap();
            assert!(rest.is_empty());
            assert_eq!(v, dt(expected), "{input:?}");
            assert_eq!(v.offset(), dt(expected).offset());
        }
        let bad: &[&[u8]] = &[
            b"17-Jul-1996 02:44:25 -0700",
            b"\"7-Jul-1996 02:44:25 -0700\"",
            b"\"17-Jul-1996 02:44 -0700\"",
            b"\"17-Jul-1996 24:00:00 -0700\"",
            b"\"17-Jul-1996 02:60:00 -0700\"",
            b"\"17-Jul-1996 02:44:25 0700\"",
            b"\"17-Jul-1996 02:44:25 -070\"",
            b"\"17-Jul-1996 02:44:25 -0760\"",
            b"\"17-Jul-1996 02:44:25 +2400\"",
            b"\"30-Feb-1996 02:44:25 -0700\"",
            b"\"17-Jul-1996  02:44:25 -0700\"",
            b"\"17-Jul-1996 02:44:25 -0700",
            b"\"",
        ];
        for input in bad {
            assert!(date_time(input).is_err(), "{input:?}");
        }
    }
}
