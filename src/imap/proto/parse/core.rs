//! Lexical productions every command shares (RFC 3501 §9): SP and CRLF,
//! numbers, atoms, strings (quoted and literal), `astring`/`nstring`,
//! mailbox names, flags, and lists bounded by `ParseLimits`.
//!
//! Parsers here never allocate more than the input they consume, and every
//! list stops at `max_params` elements.

use nom::bytes::complete::{tag, tag_no_case, take, take_while1};
use nom::error::{ContextError, ErrorKind, context};
use nom::{IResult, Parser};

use super::super::mutf7;
use super::super::types::{Flag, Mailbox, is_astring_char, is_atom_char, is_list_char};
use super::{ParseErrorKind, ParseLimits};

/// The error every grammar function returns. `nom::Err::Error` means "this
/// alternative does not apply"; `nom::Err::Failure` means the command is
/// certainly invalid (a limit, a bad literal, an undecodable name), so no
/// other alternative is tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PErr(pub(crate) ParseErrorKind);

/// The message of an error that no `context` has explained yet.
const UNEXPLAINED: &str = "unexpected input";

impl<'a> nom::error::ParseError<&'a [u8]> for PErr {
    fn from_error_kind(_input: &'a [u8], _kind: ErrorKind) -> Self {
        PErr(ParseErrorKind::Syntax(UNEXPLAINED))
    }
    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

impl<'a> ContextError<&'a [u8]> for PErr {
    /// The innermost explanation wins: it is the most precise one.
    fn add_context(_input: &'a [u8], ctx: &'static str, other: Self) -> Self {
        match other.0 {
            ParseErrorKind::Syntax(UNEXPLAINED) => PErr(ParseErrorKind::Syntax(ctx)),
            _ => other,
        }
    }
}

pub(crate) type Res<'a, T> = IResult<&'a [u8], T, PErr>;

/// A recoverable syntax error: an enclosing `alt` may try something else.
pub(crate) fn syntax<'a, T>(msg: &'static str) -> Res<'a, T> {
    Err(nom::Err::Error(PErr(ParseErrorKind::Syntax(msg))))
}

/// An error that ends the parse of the command.
pub(crate) fn failure<'a, T>(kind: ParseErrorKind) -> Res<'a, T> {
    Err(nom::Err::Failure(PErr(kind)))
}

fn hard(kind: ParseErrorKind) -> nom::Err<PErr> {
    nom::Err::Failure(PErr(kind))
}

/// `SP`
pub(crate) fn sp(i: &[u8]) -> Res<'_, ()> {
    context("expected a space", tag(" ")).map(|_| ()).parse(i)
}

/// `CRLF`
pub(crate) fn crlf(i: &[u8]) -> Res<'_, ()> {
    context("expected CRLF at the end of the command", tag("\r\n"))
        .map(|_| ())
        .parse(i)
}

/// A case-insensitive keyword.
pub(crate) fn kw<'a>(word: &'static str) -> impl Parser<&'a [u8], Output = (), Error = PErr> {
    tag_no_case(word).map(|_| ())
}

/// A run of letters, digits and dots: the names of commands' keywords
/// (`BODY.PEEK`, `RFC822.SIZE`, `HEADER.FIELDS.NOT`, `UIDNEXT`), compared
/// case-insensitively by the caller.
pub(crate) fn keyword_token(i: &[u8]) -> Res<'_, &[u8]> {
    context(
        "expected a keyword",
        take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'.'),
    )
    .parse(i)
}

/// `number = 1*DIGIT` (unsigned 32-bit; a larger value is an error, not a
/// wrap-around).
pub(crate) fn number(i: &[u8]) -> Res<'_, u32> {
    let (rest, digits) =
        context("expected a number", take_while1(|b: u8| b.is_ascii_digit())).parse(i)?;
    let mut n: u32 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u32::from(d - b'0')))
            .ok_or_else(|| hard(ParseErrorKind::Syntax("number too large")))?;
    }
    Ok((rest, n))
}

/// `number64 = 1*DIGIT` (RFC 9051: up to 2^63 - 1).
pub(crate) fn number64(i: &[u8]) -> Res<'_, u64> {
    let (rest, digits) =
        context("expected a number", take_while1(|b: u8| b.is_ascii_digit())).parse(i)?;
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .filter(|n| *n <= i64::MAX as u64)
            .ok_or_else(|| hard(ParseErrorKind::Syntax("number too large")))?;
    }
    Ok((rest, n))
}

/// `mod-sequence-valzer = "0" / mod-sequence-value` (RFC 7162 §7): a
/// `number64`. Callers that need `mod-sequence-value` refuse 0.
pub(crate) fn mod_sequence(i: &[u8]) -> Res<'_, u64> {
    number64(i)
}

/// `nz-number = digit-nz *DIGIT` (leading zeros are tolerated, zero is not).
pub(crate) fn nz_number(i: &[u8]) -> Res<'_, std::num::NonZeroU32> {
    let (rest, n) = number(i)?;
    match std::num::NonZeroU32::new(n) {
        Some(n) => Ok((rest, n)),
        None => failure(ParseErrorKind::Syntax("zero is not allowed here")),
    }
}

/// `atom = 1*ATOM-CHAR`; always ASCII.
pub(crate) fn atom(i: &[u8]) -> Res<'_, &str> {
    let (rest, a) = context("expected an atom", take_while1(is_atom_char)).parse(i)?;
    // ATOM-CHAR is ASCII, so this conversion cannot fail.
    match std::str::from_utf8(a) {
        Ok(s) => Ok((rest, s)),
        Err(_) => syntax("expected an atom"),
    }
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`; only `\"` and `\\` are escapes.
/// CR, LF and NUL are refused; other 8-bit bytes are accepted (leniency
/// towards clients that send UTF-8 unquoted as literal), and the fields
/// that must be UTF-8 check it themselves.
pub(crate) fn quoted(i: &[u8]) -> Res<'_, Vec<u8>> {
    let Some((&b'"', mut rest)) = i.split_first() else {
        return syntax("expected a quoted string");
    };
    let mut out = Vec::new();
    loop {
        match rest.split_first() {
            None => return failure(ParseErrorKind::Syntax("unterminated quoted string")),
            Some((&b'"', after)) => return Ok((after, out)),
            Some((&b'\\', after)) => match after.split_first() {
                Some((&c @ (b'"' | b'\\'), after)) => {
                    out.push(c);
                    rest = after;
                }
                _ => return failure(ParseErrorKind::Syntax("invalid escape in quoted string")),
            },
            Some((&(b'\r' | b'\n' | 0), _)) => {
                return failure(ParseErrorKind::Syntax("CR, LF or NUL in quoted string"));
            }
            Some((&c, after)) => {
                out.push(c);
                rest = after;
            }
        }
    }
}

/// `literal = "{" number ["+"] "}" CRLF *CHAR8` (the `+` is RFC 7888's
/// non-synchronizing form). `CHAR8` excludes NUL, so a NUL inside a string
/// argument is a syntax error.
pub(crate) fn literal(i: &[u8]) -> Res<'_, &[u8]> {
    let (rest, bytes) = any_literal(i)?;
    if memchr::memchr(0, bytes).is_some() {
        return failure(ParseErrorKind::Syntax("NUL in literal"));
    }
    Ok((rest, bytes))
}

/// The APPEND message: a literal whose bytes are kept exactly as sent, NUL
/// included, because a mail server stores what it is given rather than
/// reject mail for its content.
pub(crate) fn message_literal(i: &[u8]) -> Res<'_, &[u8]> {
    any_literal(i)
}

fn any_literal(i: &[u8]) -> Res<'_, &[u8]> {
    let (i, _) = context("expected a literal", tag("{")).parse(i)?;
    let (i, n) = number(i)?;
    let i = match i.split_first() {
        Some((&b'+', after)) => after,
        _ => i,
    };
    let Ok((i, _)) = tag::<_, _, PErr>("}\r\n").parse(i) else {
        return failure(ParseErrorKind::Syntax("malformed literal header"));
    };
    let Ok(n) = usize::try_from(n) else {
        return failure(ParseErrorKind::Syntax("literal too large"));
    };
    match take::<_, _, PErr>(n).parse(i) {
        Ok(ok) => Ok(ok),
        Err(_) => failure(ParseErrorKind::Syntax("literal shorter than announced")),
    }
}

/// `string = quoted / literal`
pub(crate) fn string(i: &[u8]) -> Res<'_, Vec<u8>> {
    match i.first() {
        Some(b'"') => quoted(i),
        Some(b'{') => literal.map(<[u8]>::to_vec).parse(i),
        _ => syntax("expected a string"),
    }
}

/// `astring = 1*ASTRING-CHAR / string`
pub(crate) fn astring(i: &[u8]) -> Res<'_, Vec<u8>> {
    match i.first() {
        Some(b'"' | b'{') => string(i),
        _ => context("expected an atom or a string", take_while1(is_astring_char))
            .map(<[u8]>::to_vec)
            .parse(i),
    }
}

/// `nstring = string / nil`
pub(crate) fn nstring(i: &[u8]) -> Res<'_, Option<Vec<u8>>> {
    match i.first() {
        Some(b'"' | b'{') => string.map(Some).parse(i),
        _ => context("expected a string or NIL", kw("NIL"))
            .map(|_| None)
            .parse(i),
    }
}

/// Bytes that must be UTF-8 (ID strings, charset names).
pub(crate) fn utf8(bytes: Vec<u8>, msg: &'static str) -> Result<String, nom::Err<PErr>> {
    String::from_utf8(bytes).map_err(|_| hard(ParseErrorKind::Syntax(msg)))
}

fn decode_mutf7(raw: &[u8]) -> Result<String, nom::Err<PErr>> {
    mutf7::decode(raw).map_err(|e| hard(ParseErrorKind::InvalidMailboxName(e)))
}

/// `mailbox = "INBOX" / astring`, decoded from modified UTF-7; `INBOX` in any
/// case becomes `Mailbox::Inbox`.
pub(crate) fn mailbox(i: &[u8]) -> Res<'_, Mailbox> {
    let (rest, raw) = astring(i)?;
    Ok((rest, Mailbox::from_utf8(decode_mutf7(&raw)?)))
}

/// The `mailbox` production as LIST and LSUB use it for the reference name:
/// decoded, not mapped to `Inbox`, and possibly empty.
pub(crate) fn mailbox_name(i: &[u8]) -> Res<'_, String> {
    let (rest, raw) = astring(i)?;
    Ok((rest, decode_mutf7(&raw)?))
}

/// `list-mailbox = 1*list-char / string`, decoded; `%` and `*` stay.
pub(crate) fn list_mailbox(i: &[u8]) -> Res<'_, String> {
    let (rest, raw) = match i.first() {
        Some(b'"' | b'{') => string(i)?,
        _ => context("expected a mailbox pattern", take_while1(is_list_char))
            .map(<[u8]>::to_vec)
            .parse(i)?,
    };
    Ok((rest, decode_mutf7(&raw)?))
}

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
/// flag-keyword / flag-extension` — the flags a client may set (STORE,
/// APPEND). `\Recent` and `\*` are refused. A `flag-extension` keeps its
/// atom without the backslash.
pub(crate) fn flag(i: &[u8]) -> Res<'_, Flag> {
    if let Some((&b'\\', after)) = i.split_first() {
        let (rest, name) = context("invalid flag", atom).parse(after)?;
        let f = match name.to_ascii_uppercase().as_str() {
            "ANSWERED" => Flag::Answered,
            "FLAGGED" => Flag::Flagged,
            "DELETED" => Flag::Deleted,
            "SEEN" => Flag::Seen,
            "DRAFT" => Flag::Draft,
            "RECENT" => return failure(ParseErrorKind::Syntax("\\Recent cannot be set")),
            _ => Flag::Extension(name.to_owned()),
        };
        Ok((rest, f))
    } else {
        context("invalid flag", atom)
            .map(|a| Flag::Keyword(a.to_owned()))
            .parse(i)
    }
}

/// `flag-list = "(" [flag *(SP flag)] ")"`
pub(crate) fn flag_list<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, Vec<Flag>> {
    paren_list(i, lim, true, flag)
}

/// `"(" elem *(SP elem) ")"`, or `"(" ")"` too when `allow_empty`; at most
/// `max_params` elements.
pub(crate) fn paren_list<'a, O>(
    i: &'a [u8],
    lim: &ParseLimits,
    allow_empty: bool,
    mut elem: impl FnMut(&'a [u8]) -> Res<'a, O>,
) -> Res<'a, Vec<O>> {
    let Some((&b'(', mut i)) = i.split_first() else {
        return syntax("expected '('");
    };
    let mut out = Vec::new();
    if let Some((&b')', after)) = i.split_first() {
        return if allow_empty {
            Ok((after, out))
        } else {
            failure(ParseErrorKind::Syntax("empty list"))
        };
    }
    loop {
        if out.len() >= lim.max_params {
            return failure(ParseErrorKind::TooManyParams);
        }
        let (after, v) = elem(i)?;
        out.push(v);
        match after.split_first() {
            Some((&b')', after)) => return Ok((after, out)),
            Some((&b' ', after)) => i = after,
            _ => return failure(ParseErrorKind::Syntax("expected a space or ')' in a list")),
        }
    }
}

/// `elem *(SP elem)`: a list without parentheses, which only ever ends a
/// command, so a space always announces one more element. At most
/// `max_params` elements.
pub(crate) fn sp_list<'a, O>(
    mut i: &'a [u8],
    lim: &ParseLimits,
    mut elem: impl FnMut(&'a [u8]) -> Res<'a, O>,
) -> Res<'a, Vec<O>> {
    let mut out = Vec::new();
    loop {
        if out.len() >= lim.max_params {
            return failure(ParseErrorKind::TooManyParams);
        }
        let (after, v) = elem(i)?;
        out.push(v);
        match after.split_first() {
            Some((&b' ', after)) => i = after,
            _ => return Ok((after, out)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn kind<T: std::fmt::Debug>(r: Res<'_, T>) -> ParseErrorKind {
        match r {
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => e.0,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"0 "), Ok((&b" "[..], 0)));
        assert_eq!(number(b"4294967295)"), Ok((&b")"[..], u32::MAX)));
        assert_eq!(number(b"007"), Ok((&b""[..], 7)));
        assert!(matches!(
            kind(number(b"4294967296")),
            ParseErrorKind::Syntax(_)
        ));
        assert!(matches!(
            kind(number(b"99999999999999999999999")),
            ParseErrorKind::Syntax(_)
        ));
        assert!(number(b"x").is_err());
        assert!(number(b"").is_err());
        assert_eq!(
            nz_number(b"12"),
            Ok((&b""[..], NonZeroU32::new(12).unwrap()))
        );
        assert!(matches!(nz_number(b"0"), Err(nom::Err::Failure(_))));
        assert!(matches!(nz_number(b"000"), Err(nom::Err::Failure(_))));
    }

    #[test]
    fn strings() {
        let ok: &[(&[u8], &[u8], &[u8])] = &[
            (b"\"\" ", b"", b" "),
            (b"\"a b\"x", b"a b", b"x"),
            (b"\"q\\\"\\\\\"", b"q\"\\", b""),
            (b"\"caf\xc3\xa9\"", b"caf\xc3\xa9", b""),
            (b"{3+}\r\nabc", b"abc", b""),
            (b"{0}\r\n", b"", b""),
            (b"{2}\r\n\r\n\r\n", b"\r\n", b"\r\n"),
        ];
        for (input, value, rest) in ok {
            assert_eq!(string(input), Ok((*rest, value.to_vec())), "{input:?}");
        }
        let bad: &[&[u8]] = &[
            b"\"abc",
            b"\"a\\nb\"",
            b"\"a\rb\"",
            b"\"a\nb\"",
            b"\"a\x00b\"",
            b"{3}\r\na\x00b",
            b"{3}\r\nab",
            b"{3}abc",
            b"{3}\nabc",
            b"{3++}\r\nabc",
            b"{-3}\r\nabc",
            b"{}\r\n",
            b"{99999999999}\r\n",
            b"abc",
        ];
        for input in bad {
            assert!(string(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn astrings_and_nstrings() {
        assert_eq!(astring(b"ab]c d"), Ok((&b" d"[..], b"ab]c".to_vec())));
        assert_eq!(astring(b"\"a b\""), Ok((&b""[..], b"a b".to_vec())));
        assert_eq!(astring(b"{1}\r\n("), Ok((&b""[..], b"(".to_vec())));
        assert!(astring(b"(a").is_err());
        assert!(astring(b" a").is_err());
        assert!(astring(b"%a").is_err());
        assert_eq!(nstring(b"nil)"), Ok((&b")"[..], None)));
        assert_eq!(nstring(b"NIL"), Ok((&b""[..], None)));
        assert_eq!(nstring(b"\"NIL\""), Ok((&b""[..], Some(b"NIL".to_vec()))));
        assert!(nstring(b"abc").is_err());
    }

    #[test]
    fn mailboxes() {
        assert_eq!(mailbox(b"inbox"), Ok((&b""[..], Mailbox::Inbox)));
        assert_eq!(mailbox(b"\"InBoX\""), Ok((&b""[..], Mailbox::Inbox)));
        assert_eq!(mailbox(b"{5}\r\nINBOX"), Ok((&b""[..], Mailbox::Inbox)));
        assert_eq!(
            mailbox(b"INBOX.Sent"),
            Ok((&b""[..], Mailbox::Other("INBOX.Sent".into())))
        );
        assert_eq!(
            mailbox(b"\"~peter/mail/&U,BTFw-/&ZeVnLIqe-\""),
            Ok((&b""[..], Mailbox::Other("~peter/mail/台北/日本語".into())))
        );
        assert_eq!(
            mailbox(b"\"a&-b\""),
            Ok((&b""[..], Mailbox::Other("a&b".into())))
        );
        for bad in [&b"\"\xff\xfe\""[..], b"\"caf\xc3\xa9\"", b"&Jjo", b"&AGE-"] {
            assert!(
                matches!(kind(mailbox(bad)), ParseErrorKind::InvalidMailboxName(_)),
                "{bad:?}"
            );
        }
        assert_eq!(mailbox_name(b"\"\""), Ok((&b""[..], String::new())));
        assert_eq!(mailbox_name(b"inbox"), Ok((&b""[..], "inbox".into())));
        assert_eq!(list_mailbox(b"%/*"), Ok((&b""[..], "%/*".into())));
        assert_eq!(
            list_mailbox(b"&ZeVnLIqe-/%"),
            Ok((&b""[..], "日本語/%".into()))
        );
        assert_eq!(list_mailbox(b"\"a b*\""), Ok((&b""[..], "a b*".into())));
        assert!(list_mailbox(b"(").is_err());
    }

    #[test]
    fn flags() {
        let ok: &[(&[u8], Flag)] = &[
            (b"\\Answered", Flag::Answered),
            (b"\\FLAGGED", Flag::Flagged),
            (b"\\deleted", Flag::Deleted),
            (b"\\Seen", Flag::Seen),
            (b"\\Draft", Flag::Draft),
            (b"\\Junk", Flag::Extension("Junk".into())),
            (b"$Forwarded", Flag::Keyword("$Forwarded".into())),
            (b"NonJunk", Flag::Keyword("NonJunk".into())),
        ];
        for (input, f) in ok {
            assert_eq!(flag(input), Ok((&b""[..], f.clone())), "{input:?}");
        }
        for bad in [&b"\\Recent"[..], b"\\recent", b"\\*", b"\\", b"(", b"*"] {
            assert!(flag(bad).is_err(), "{bad:?}");
        }
        let lim = ParseLimits::default();
        assert_eq!(flag_list(b"()", &lim), Ok((&b""[..], vec![])));
        assert_eq!(
            flag_list(b"(\\Seen $X)", &lim),
            Ok((&b""[..], vec![Flag::Seen, Flag::Keyword("$X".into())]))
        );
        for bad in [
            &b"(\\Seen"[..],
            b"(\\Seen )",
            b"( \\Seen)",
            b"(\\Seen  $X)",
            b"\\Seen",
            b"(\\Recent)",
        ] {
            assert!(flag_list(bad, &lim).is_err(), "{bad:?}");
        }
        let small = ParseLimits {
            max_depth: 32,
            max_params: 2,
        };
        assert!(flag_list(b"(a b)", &small).is_ok());
        assert_eq!(
            kind(flag_list(b"(a b c)", &small)),
            ParseErrorKind::TooManyParams
        );
        assert_eq!(
            kind(sp_list(b"a b c", &small, flag)),
            ParseErrorKind::TooManyParams
        );
    }
}
