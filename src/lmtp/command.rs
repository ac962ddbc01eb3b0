//! LMTP commands: RFC 5321 §4.1 syntax with LMTP's LHLO (RFC 2033 §4.1),
//! parsed from one command line (without its CRLF).
//!
//! Hand-written over bytes: the grammar is small, every loop is bounded by
//! the line (which the session has already bounded), and an error says
//! which reply to send, so the session answers and goes on.

use super::reply::{Enhanced, Reply};

/// Longest local part and domain (RFC 5321 §4.5.3.1.1-2); a path is at
/// most 256 octets (§4.5.3.1.3).
const MAX_LOCAL_PART: usize = 64;
const MAX_DOMAIN: usize = 255;
const MAX_PATH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `"LHLO" SP Domain` (RFC 2033 §4.1); an address literal is taken too.
    Lhlo {
        client: String,
    },
    /// HELO or EHLO: not part of LMTP (RFC 2033 §4.1), answered 500.
    Helo,
    /// `"MAIL FROM:" Reverse-path [SP Mail-parameters]`
    Mail {
        from: ReversePath,
        params: MailParams,
    },
    /// `"RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
    /// Forward-path ) [SP Rcpt-parameters]`; no parameters are offered.
    Rcpt {
        to: ForwardPath,
    },
    Data,
    Rset,
    /// `"NOOP" [ SP String ]`
    Noop,
    Quit,
    /// `"VRFY" SP String`
    Vrfy,
    /// `"EXPN" SP String`
    Expn,
    /// `"HELP" [ SP String ]`
    Help,
}

/// The sender: `<>` for bounces (RFC 5321 §4.5.5), else an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    Null,
    Address(Address),
}

impl ReversePath {
    /// The address as it goes into `Return-Path:` (`<>` for the null path).
    pub fn to_header_value(&self) -> String {
        match self {
            ReversePath::Null => "<>".into(),
            ReversePath::Address(a) => format!("<{}>", a.as_given),
        }
    }
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The local part with quoting undone (`"a b"@x` → `a b`).
    pub local_part: String,
    /// The domain (or address literal, brackets included) as given.
    pub domain: String,
    /// The mailbox exactly as the client wrote it, without `<>` and
    /// without a source route (which RFC 5321 §4.1.2 says to ignore).
    pub as_given: String,
}

/// A recipient. RFC 5321 §4.1.1.3 lets `<Postmaster>` stand alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardPath {
    Postmaster,
    Address(Address),
}

impl ForwardPath {
    pub fn local_part(&self) -> &str {
        match self {
            ForwardPath::Postmaster => "postmaster",
            ForwardPath::Address(a) => &a.local_part,
        }
    }

    pub fn domain(&self) -> Option<&str> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Address(a) => Some(&a.domain),
        }
    }

    /// As given in RCPT TO, for `Delivered-To:` and the log.
    pub fn as_given(&self) -> &str {
        match self {
            ForwardPath::Postmaster => "Postmaster",
            ForwardPath::Address(a) => &a.as_given,
        }
    }
}

/// RFC 6152 / RFC 1652 `BODY=`. BINARYMIME needs BDAT (RFC 3030), which
/// is not offered, so it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body {
    #[default]
    SevenBit,
    EightBitMime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailParams {
    /// RFC 1870 `SIZE=`: the client's estimate of the message size.
    pub size: Option<u64>,
    pub body: Option<Body>,
}

/// Why a line is not a command we accept, as the reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub Reply);

fn err(code: u16, enhanced: Enhanced, text: &str) -> ParseError {
    ParseError(Reply::new(code, enhanced, text))
}

/// RFC 3463: 5.5.2 syntax error, 5.5.4 invalid arguments / parameters,
/// 5.1.7 bad sender address syntax, 5.1.3 bad destination syntax.
const SYNTAX: Enhanced = Enhanced(5, 5, 2);
const BAD_PARAM: Enhanced = Enhanced(5, 5, 4);
const BAD_SENDER: Enhanced = Enhanced(5, 1, 7);
const BAD_RCPT: Enhanced = Enhanced(5, 1, 3);

/// Parses one command line, CRLF already removed.
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    let (verb, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    let verb = verb.to_ascii_uppercase();
    match verb.as_slice() {
        b"LHLO" => {
            let arg = rest.map(trim).unwrap_or_default();
            if arg.is_empty() || !arg.iter().all(|&b| b.is_ascii_graphic()) {
                return Err(err(501, SYNTAX, "Syntax: LHLO hostname"));
            }
            Ok(Command::Lhlo {
                client: String::from_utf8_lossy(arg).into_owned(),
            })
        }
        b"HELO" | b"EHLO" => Ok(Command::Helo),
        b"MAIL" => parse_mail(rest.unwrap_or_default()),
        b"RCPT" => parse_rcpt(rest.unwrap_or_default()),
        b"DATA" => no_args(rest, Command::Data, "Syntax: DATA"),
        b"RSET" => no_args(rest, Command::Rset, "Syntax: RSET"),
        b"QUIT" => no_args(rest, Command::Quit, "Syntax: QUIT"),
        b"NOOP" => Ok(Command::Noop),
        b"HELP" => Ok(Command::Help),
        b"VRFY" => match rest.map(trim) {
            Some(arg) if !arg.is_empty() => Ok(Command::Vrfy),
            _ => Err(err(501, SYNTAX, "Syntax: VRFY address")),
        },
        b"EXPN" => match rest.map(trim) {
            Some(arg) if !arg.is_empty() => Ok(Command::Expn),
            _ => Err(err(501, SYNTAX, "Syntax: EXPN list")),
        },
        b"BDAT" => Err(err(
            502,
            Enhanced(5, 5, 1),
            "BDAT is not offered (no CHUNKING)",
        )),
        b"STARTTLS" | b"AUTH" | b"ETRN" | b"TURN" | b"SEND" | b"SOML" | b"SAML" => {
            Err(err(502, Enhanced(5, 5, 1), "Command not implemented"))
        }
        _ => Err(err(500, Enhanced(5, 5, 1), "Command unrecognized")),
    }
}

fn no_args(rest: Option<&[u8]>, cmd: Command, syntax: &str) -> Result<Command, ParseError> {
    match rest.map(trim) {
        None | Some([]) => Ok(cmd),
        Some(_) => Err(err(501, SYNTAX, syntax)),
    }
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// Strips `keyword` (case-insensitive, e.g. `FROM:`) from the start of
/// `rest`. Spaces after the colon are accepted: RFC 5321 has none, but
/// clients that send one are common and nothing is ambiguous about it.
fn after_keyword<'a>(rest: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let rest = rest.trim_ascii_start();
    if rest.len() < keyword.len() || !rest[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    Some(rest[keyword.len()..].trim_ascii_start())
}

fn parse_mail(rest: &[u8]) -> Result<Command, ParseError> {
    let Some(rest) = after_keyword(rest, b"FROM:") else {
        return Err(err(501, SYNTAX, "Syntax: MAIL FROM:<address>"));
    };
    let (path, params) = split_path(rest, BAD_SENDER)?;
    let from = if path.is_empty() {
        ReversePath::Null
    } else {
        ReversePath::Address(parse_mailbox(path, BAD_SENDER)?)
    };
    let mut out = MailParams::default();
    for param in params {
        let (key, value) = match param.iter().position(|&b| b == b'=') {
            Some(i) => (&param[..i], Some(&param[i + 1..])),
            None => (param, None),
        };
        if key.is_empty() || !key.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(err(501, SYNTAX, "Syntax error in parameters"));
        }
        let key = key.to_ascii_uppercase();
        match (key.as_slice(), value) {
            // RFC 1870 §3: `size-value ::= 1*20DIGIT`.
            (b"SIZE", Some(v))
                if !v.is_empty() && v.len() <= 20 && v.iter().all(u8::is_ascii_digit) =>
            {
                if out.size.is_some() {
                    return Err(err(501, BAD_PARAM, "SIZE given twice"));
                }
                // 20 digits can exceed u64: such a size is over any limit.
                let n = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(u64::MAX);
                out.size = Some(n);
            }
            (b"SIZE", _) => return Err(err(501, BAD_PARAM, "Syntax: SIZE=octets")),
            (b"BODY", Some(v)) => {
                if out.body.is_some() {
                    return Err(err(501, BAD_PARAM, "BODY given twice"));
                }
                out.body = Some(if v.eq_ignore_ascii_case(b"7BIT") {
                    Body::SevenBit
                } else if v.eq_ignore_ascii_case(b"8BITMIME") {
                    Body::EightBitMime
                } else if v.eq_ignore_ascii_case(b"BINARYMIME") {
                    return Err(err(
                        555,
                        BAD_PARAM,
                        "BODY=BINARYMIME needs CHUNKING, which is not offered",
                    ));
                } else {
                    return Err(err(501, BAD_PARAM, "Syntax: BODY=7BIT or BODY=8BITMIME"));
                });
            }
            // RFC 5321 §4.1.1.11: 555 for a parameter not recognized.
            _ => return Err(err(555, BAD_PARAM, "Parameter not recognized")),
        }
    }
    Ok(Command::Mail { from, params: out })
}

fn parse_rcpt(rest: &[u8]) -> Result<Command, ParseError> {
    let Some(rest) = after_keyword(rest, b"TO:") else {
        return Err(err(501, SYNTAX, "Syntax: RCPT TO:<address>"));
    };
    let (path, mut params) = split_path(rest, BAD_RCPT)?;
    if params.next().is_some() {
        return Err(err(555, BAD_PARAM, "RCPT parameters are not recognized"));
    }
    if path.eq_ignore_ascii_case(b"postmaster") {
        return Ok(Command::Rcpt {
            to: ForwardPath::Postmaster,
        });
    }
    if path.is_empty() {
        return Err(err(501, BAD_RCPT, "A recipient cannot be <>"));
    }
    Ok(Command::Rcpt {
        to: ForwardPath::Address(parse_mailbox(path, BAD_RCPT)?),
    })
}

/// Splits `<path> params...` into what is inside the brackets (source route
/// removed, RFC 5321 §4.1.2 `A-d-l`) and the space-separated parameters.
/// A `>` inside a quoted local part does not end the path.
fn split_path(
    s: &[u8],
    code: Enhanced,
) -> Result<(&[u8], impl Iterator<Item = &[u8]>), ParseError> {
    if s.first() != Some(&b'<') {
        return Err(err(501, code, "The address must be in <angle brackets>"));
    }
    let mut quoted = false;
    let mut escaped = false;
    let mut end = None;
    for (i, &b) in s.iter().enumerate().skip(1) {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if !quoted && b == b'>' {
            end = Some(i);
            break;
        }
    }
    let Some(end) = end else {
        return Err(err(501, code, "Unterminated address"));
    };
    let mut path = &s[1..end];
    if path.len() > MAX_PATH {
        return Err(err(501, code, "Address too long"));
    }
    // `A-d-l ":"`: an obsolete source route, `@a,@b:`; ignored.
    if path.first() == Some(&b'@') {
        let Some(colon) = path.iter().position(|&b| b == b':') else {
            return Err(err(501, code, "Syntax error in source route"));
        };
        path = &path[colon + 1..];
    }
    let rest = &s[end + 1..];
    if !rest.is_empty() && rest[0] != b' ' {
        return Err(err(501, code, "Syntax error after the address"));
    }
    Ok((path, rest.split(|&b| b == b' ').filter(|p| !p.is_empty())))
}

/// `atext` of RFC 5322 §3.2.3, which RFC 5321's `Atom` uses.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`
fn parse_mailbox(s: &[u8], code: Enhanced) -> Result<Address, ParseError> {
    let bad = |text: &str| err(501, code, text);
    let (local_part, at) = if s.first() == Some(&b'"') {
        // `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`
        let mut local = Vec::new();
        let mut i = 1;
        loop {
            match s.get(i) {
                None => return Err(bad("Unterminated quoted local part")),
                Some(b'"') => break,
                Some(b'\\') => match s.get(i + 1) {
                    Some(&c) if (32..=126).contains(&c) => {
                        local.push(c);
                        i += 2;
                    }
                    _ => return Err(bad("Bad quoted pair in local part")),
                },
                // qtextSMTP: %d32-33 / %d35-91 / %d93-126
                Some(&c) if (32..=126).contains(&c) => {
                    local.push(c);
                    i += 1;
                }
                Some(_) => return Err(bad("Bad character in local part")),
            }
        }
        (local, i + 1)
    } else {
        // `Dot-string = Atom *("." Atom)`
        let at = s
            .iter()
            .rposition(|&b| b == b'@')
            .ok_or_else(|| bad("The address needs a domain"))?;
        let local = &s[..at];
        if local.is_empty()
            || local.split(|&b| b == b'.').any(|atom| atom.is_empty())
            || !local.iter().all(|&b| b == b'.' || is_atext(b))
        {
            return Err(bad("Bad local part"));
        }
        (local.to_vec(), at)
    };
    if s.get(at) != Some(&b'@') {
        return Err(bad("The address needs a domain"));
    }
    if local_part.len() > MAX_LOCAL_PART {
        return Err(bad("Local part too long"));
    }
    let domain = &s[at + 1..];
    if domain.is_empty() || domain.len() > MAX_DOMAIN || !valid_domain(domain) {
        return Err(bad("Bad domain"));
    }
    // Every byte is ASCII here (checked above), so these cannot fail.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok(Address {
        local_part: text(&local_part),
        domain: text(domain),
        as_given: text(s),
    })
}

/// `Domain = sub-domain *("." sub-domain)`, `sub-domain = Let-dig
/// [Ldh-str]`; or an `address-literal`, `"[" ... "]"` (its inside is
/// checked only for printable characters: it names no local user anyway).
fn valid_domain(d: &[u8]) -> bool {
    if d.first() == Some(&b'[') {
        return d.len() > 2
            && d.last() == Some(&b']')
            && d[1..d.len() - 1]
                .iter()
                .all(|&b| b.is_ascii_graphic() && b != b'[' && b != b']' && b != b'\\');
    }
    d.split(|&b| b == b'.').all(|label| {
        !label.is_empty()
            && label[0].is_ascii_alphanumeric()
            && label[label.len() - 1].is_ascii_alphanumeric()
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(local: &str, domain: &str, given: &str) -> Address {
        Address {
            local_part: local.into(),
            domain: domain.into(),
            as_given: given.into(),
        }
    }

    fn code(line: &str) -> (u16, Option<Enhanced>) {
        let ParseError(r) = parse_command(line.as_bytes()).expect_err(line);
        (r.code, r.enhanced)
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(parse_command(b"data"), Ok(Command::Data));
        assert_eq!(parse_command(b"QuIt"), Ok(Command::Quit));
        assert_eq!(parse_command(b"rset"), Ok(Command::Rset));
        assert_eq!(parse_command(b"noop anything at all"), Ok(Command::Noop));
        assert_eq!(parse_command(b"HELP"), Ok(Command::Help));
        assert_eq!(parse_command(b"help mail"), Ok(Command::Help));
    }

    #[test]
    fn lhlo_needs_a_name() {
        assert_eq!(
            parse_command(b"LHLO mx.example.org"),
            Ok(Command::Lhlo {
                client: "mx.example.org".into()
            })
        );
        assert_eq!(
            parse_command(b"lhlo [127.0.0.1]"),
            Ok(Command::Lhlo {
                client: "[127.0.0.1]".into()
            })
        );
        assert_eq!(code("LHLO"), (501, Some(SYNTAX)));
        assert_eq!(code("LHLO   "), (501, Some(SYNTAX)));
        assert_eq!(code("LHLO a b"), (501, Some(SYNTAX)));
    }

    #[test]
    fn helo_and_ehlo_are_recognised_to_be_refused() {
        assert_eq!(parse_command(b"HELO x"), Ok(Command::Helo));
        assert_eq!(parse_command(b"ehlo x"), Ok(Command::Helo));
    }

    #[test]
    fn mail_from_with_parameters() {
        assert_eq!(
            parse_command(b"MAIL FROM:<a.b@example.org> SIZE=1000 BODY=8BITMIME"),
            Ok(Command::Mail {
                from: ReversePath::Address(addr("a.b", "example.org", "a.b@example.org")),
                params: MailParams {
                    size: Some(1000),
                    body: Some(Body::EightBitMime)
                }
            })
        );
        assert_eq!(
            parse_command(b"mail from:<> body=7bit"),
            Ok(Command::Mail {
                from: ReversePath::Null,
                params: MailParams {
                    size: None,
                    body: Some(Body::SevenBit)
                }
            })
        );
    }

    #[test]
    fn mail_from_tolerates_a_space_after_the_colon() {
        assert!(matches!(
            parse_command(b"MAIL FROM: <x@y.z>"),
            Ok(Command::Mail { .. })
        ));
    }

    #[test]
    fn mail_from_refuses_bad_parameters() {
        assert_eq!(code("MAIL FROM:<a@b> SIZE=x"), (501, Some(BAD_PARAM)));
        assert_eq!(code("MAIL FROM:<a@b> SIZE="), (501, Some(BAD_PARAM)));
        assert_eq!(code("MAIL FROM:<a@b> SIZE"), (501, Some(BAD_PARAM)));
        assert_eq!(
            code("MAIL FROM:<a@b> SIZE=1 SIZE=2"),
            (501, Some(BAD_PARAM))
        );
        assert_eq!(
            code("MAIL FROM:<a@b> BODY=BINARYMIME"),
            (555, Some(BAD_PARAM))
        );
        assert_eq!(code("MAIL FROM:<a@b> BODY=9BIT"), (501, Some(BAD_PARAM)));
        assert_eq!(code("MAIL FROM:<a@b> SMTPUTF8"), (555, Some(BAD_PARAM)));
        assert_eq!(code("MAIL FROM:<a@b> RET=FULL"), (555, Some(BAD_PARAM)));
        assert_eq!(code("MAIL FROM:<a@b> X_Y=1"), (501, Some(SYNTAX)));
        assert_eq!(code("MAIL FROM:<a@b>SIZE=1"), (501, Some(BAD_SENDER)));
    }

    #[test]
    fn a_twenty_digit_size_is_over_any_limit() {
        let Ok(Command::Mail { params, .. }) =
            parse_command(b"MAIL FROM:<> SIZE=99999999999999999999")
        else {
            panic!("should parse");
        };
        assert_eq!(params.size, Some(u64::MAX));
        assert_eq!(
            code("MAIL FROM:<> SIZE=999999999999999999999"),
            (501, Some(BAD_PARAM))
        );
    }

    #[test]
    fn mail_from_refuses_bad_addresses() {
        for line in [
            "MAIL FROM:a@b",
            "MAIL FROM:<a@b",
            "MAIL FROM:<a>",
            "MAIL FROM:<@b>",
            "MAIL FROM:<a..b@c>",
            "MAIL FROM:<.a@c>",
            "MAIL FROM:<a@-b>",
            "MAIL FROM:<a@b..c>",
            "MAIL FROM:<a b@c>",
            "MAIL FROM:<\"a@c>",
            "MAIL FROM:<a@[]>",
            "MAIL FROM:<@x,@y>",
        ] {
            assert_eq!(code(line), (501, Some(BAD_SENDER)), "{line}");
        }
        assert_eq!(code("MAIL TO:<a@b>"), (501, Some(SYNTAX)));
        assert_eq!(code("MAIL"), (501, Some(SYNTAX)));
    }

    #[test]
    fn rcpt_to_forms() {
        assert_eq!(
            parse_command(b"RCPT TO:<Alice+tag@Example.ORG>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Address(addr("Alice+tag", "Example.ORG", "Alice+tag@Example.ORG"))
            })
        );
        assert_eq!(
            parse_command(b"rcpt to:<postmaster>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Postmaster
            })
        );
        assert_eq!(
            parse_command(b"RCPT TO:<\"john doe\\\"\"@x.org>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Address(addr("john doe\"", "x.org", "\"john doe\\\"\"@x.org"))
            })
        );
        assert_eq!(
            parse_command(b"RCPT TO:<@relay.org,@r2.org:bob@x.org>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Address(addr("bob", "x.org", "bob@x.org"))
            })
        );
        assert_eq!(
            parse_command(b"RCPT TO:<\"a>b\"@x.org>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Address(addr("a>b", "x.org", "\"a>b\"@x.org"))
            })
        );
        assert_eq!(
            parse_command(b"RCPT TO:<bob@[192.0.2.1]>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Address(addr("bob", "[192.0.2.1]", "bob@[192.0.2.1]"))
            })
        );
    }

    #[test]
    fn rcpt_to_refusals() {
        assert_eq!(code("RCPT TO:<>"), (501, Some(BAD_RCPT)));
        assert_eq!(code("RCPT TO:<bob>"), (501, Some(BAD_RCPT)));
        assert_eq!(code("RCPT TO:<bob@x> NOTIFY=NEVER"), (555, Some(BAD_PARAM)));
        assert_eq!(code("RCPT FROM:<bob@x>"), (501, Some(SYNTAX)));
        assert_eq!(code("RCPT TO:<bÃ¶b@x>"), (501, Some(BAD_RCPT)));
        let long = format!("RCPT TO:<{}@x.org>", "a".repeat(65));
        assert_eq!(code(&long), (501, Some(BAD_RCPT)));
        let longer = format!("RCPT TO:<a@{}.org>", "b".repeat(300));
        assert_eq!(code(&longer), (501, Some(BAD_RCPT)));
    }

    #[test]
    fn commands_without_arguments_refuse_them() {
        assert_eq!(code("DATA x"), (501, Some(SYNTAX)));
        assert_eq!(code("RSET x"), (501, Some(SYNTAX)));
        assert_eq!(code("QUIT x"), (501, Some(SYNTAX)));
        assert_eq!(parse_command(b"DATA "), Ok(Command::Data));
    }

    #[test]
    fn vrfy_expn_and_unknown() {
        assert_eq!(parse_command(b"VRFY bob"), Ok(Command::Vrfy));
        assert_eq!(code("VRFY"), (501, Some(SYNTAX)));
        assert_eq!(parse_command(b"EXPN staff"), Ok(Command::Expn));
        assert_eq!(code("BDAT 10 LAST"), (502, Some(Enhanced(5, 5, 1))));
        assert_eq!(code("STARTTLS"), (502, Some(Enhanced(5, 5, 1))));
        assert_eq!(code("FOO"), (500, Some(Enhanced(5, 5, 1))));
        assert_eq!(code(""), (500, Some(Enhanced(5, 5, 1))));
        assert_eq!(code("\u{0}\u{1}"), (500, Some(Enhanced(5, 5, 1))));
    }
}
