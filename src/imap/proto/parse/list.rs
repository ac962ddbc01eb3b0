//! The LIST command in both its forms: RFC 3501's `LIST reference pattern`
//! and RFC 5258's extended form with selection options, several patterns
//! and return options (RFC 6154 SPECIAL-USE and RFC 5819 STATUS among
//! them). Starts at the SP after `LIST`, stops before the CRLF.
//!
//! RFC 5258 §3: "A server MUST respond to options it does not recognize
//! with a BAD response", so every option this server does not implement is
//! a syntax error here rather than something the session sees.

use nom::Parser;
use nom::error::context;

use super::super::types::{CommandBody, ListReturn, ListSelect, StatusItem};
use super::core::{Res, atom, failure, kw, list_mailbox, mailbox_name, paren_list, sp};
use super::mailbox::status_att;
use super::{ParseErrorKind, ParseLimits};

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
/// [SP list-return-opts]` (RFC 5258 §6). It is the extended form when any
/// of the three optional parts is there (RFC 5258 §1), even if empty.
pub(crate) fn list<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    let (i, select) = if i.first() == Some(&b'(') {
        let (i, select) = list_select_opts(i, lim)?;
        let (i, _) = sp(i)?;
        (i, Some(select))
    } else {
        (i, None)
    };
    let (i, (reference, _)) = (mailbox_name, sp).parse(i)?;
    // `mbox-or-pat = list-mailbox / patterns`
    let (i, patterns, several) = if i.first() == Some(&b'(') {
        let (i, p) = paren_list(i, lim, false, list_mailbox)?;
        (i, p, true)
    } else {
        let (i, p) = list_mailbox(i)?;
        (i, vec![p], false)
    };
    let (i, returns) = if i.first() == Some(&b' ') {
        let (i, _) = (sp, context("expected RETURN", kw("RETURN")), sp).parse(i)?;
        let (i, returns) = list_return_opts(i, lim)?;
        (i, Some(returns))
    } else {
        (i, None)
    };
    if select.is_none() && !several && returns.is_none() {
        let pattern = patterns.into_iter().next().unwrap_or_default();
        return Ok((i, CommandBody::List { reference, pattern }));
    }
    Ok((
        i,
        CommandBody::ListExtended {
            select: select.unwrap_or_default(),
            reference,
            patterns,
            returns: returns.unwrap_or_default(),
        },
    ))
}

/// `list-select-opts = "(" [ (*(list-select-opt SP) list-select-base-opt
/// *(SP list-select-opt)) / (list-select-independent-opt *(SP
/// list-select-independent-opt)) ] ")"`: SUBSCRIBED is the only base
/// option, REMOTE and SPECIAL-USE (RFC 6154) are independent, and
/// RECURSIVEMATCH "MUST NOT occur as the only selection option (or only
/// with REMOTE)" (RFC 5258 §3.1), so it needs SUBSCRIBED.
fn list_select_opts<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, ListSelect> {
    let (i, names) = paren_list(i, lim, true, atom)?;
    let mut select = ListSelect::default();
    for name in names {
        // An option given twice counts once (RFC 5258 §3).
        match name.to_ascii_uppercase().as_str() {
            "SUBSCRIBED" => select.subscribed = true,
            "REMOTE" => select.remote = true,
            "RECURSIVEMATCH" => select.recursive_match = true,
            "SPECIAL-USE" => select.special_use = true,
            _ => return failure(ParseErrorKind::Syntax("unknown LIST selection option")),
        }
    }
    if select.recursive_match && !select.subscribed {
        return failure(ParseErrorKind::Syntax(
            "RECURSIVEMATCH needs another selection option such as SUBSCRIBED",
        ));
    }
    Ok((i, select))
}

/// One `return-option`: what `list_return_opts` folds together.
enum ReturnOption {
    Subscribed,
    Children,
    SpecialUse,
    Status(Vec<StatusItem>),
}

/// `return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
/// status-option`, with RFC 5819's `status-option = "STATUS" SP "("
/// status-att *(SP status-att) ")"`.
fn return_option<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, ReturnOption> {
    let (i, name) = atom(i)?;
    let option = match name.to_ascii_uppercase().as_str() {
        "SUBSCRIBED" => ReturnOption::Subscribed,
        "CHILDREN" => ReturnOption::Children,
        "SPECIAL-USE" => ReturnOption::SpecialUse,
        "STATUS" => {
            let (i, _) = sp(i)?;
            let (i, items) = paren_list(i, lim, false, status_att)?;
            return Ok((i, ReturnOption::Status(items)));
        }
        _ => return failure(ParseErrorKind::Syntax("unknown LIST return option")),
    };
    Ok((i, option))
}

/// `list-return-opts = "RETURN" SP "(" [return-option *(SP
/// return-option)] ")"`, from the `(`.
fn list_return_opts<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, ListReturn> {
    let (i, options) = paren_list(i, lim, true, |i| return_option(i, lim))?;
    let mut returns = ListReturn::default();
    for option in options {
        match option {
            ReturnOption::Subscribed => returns.subscribed = true,
            ReturnOption::Children => returns.children = true,
            ReturnOption::SpecialUse => returns.special_use = true,
            // STATUS twice asks for the items of both, each once.
            ReturnOption::Status(items) => {
                let all = returns.status.get_or_insert_with(Vec::new);
                for item in items {
                    if !all.contains(&item) {
                        all.push(item);
                    }
                }
            }
        }
    }
    Ok((i, returns))
}

#[cfg(test)]
mod tests {
    use super::super::parse_command;
    use super::*;

    use super::super::testing::{body, error};

    fn ext(select: ListSelect, patterns: &[&str], returns: ListReturn) -> CommandBody {
        CommandBody::ListExtended {
            select,
            reference: String::new(),
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
            returns,
        }
    }

    const SUBSCRIBED: ListSelect = ListSelect {
        subscribed: true,
        remote: false,
        recursive_match: false,
        special_use: false,
    };

    #[test]
    fn the_basic_form_stays_basic() {
        assert_eq!(
            body(b"a LIST \"\" %\r\n"),
            CommandBody::List {
                reference: "".into(),
                pattern: "%".into()
            }
        );
    }

    #[test]
    fn rfc5258_examples() {
        let children = ListReturn {
            children: true,
            ..Default::default()
        };
        for (input, expected) in [
            (
                &b"A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n"[..],
                ext(SUBSCRIBED, &["*"], ListReturn::default()),
            ),
            (
                b"A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n",
                ext(ListSelect::default(), &["%"], children.clone()),
            ),
            (
                b"A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n",
                ext(
                    ListSelect {
                        remote: true,
                        ..Default::default()
                    },
                    &["%"],
                    children.clone(),
                ),
            ),
            (
                b"A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"\r\n",
                ext(
                    ListSelect {
                        remote: true,
                        ..SUBSCRIBED
                    },
                    &["*"],
                    ListReturn::default(),
                ),
            ),
            (
                b"A06 LIST (REMOTE) \"\" \"*\" RETURN (SUBSCRIBED)\r\n",
                ext(
                    ListSelect {
                        remote: true,
                        ..Default::default()
                    },
                    &["*"],
                    ListReturn {
                        subscribed: true,
                        ..Default::default()
                    },
                ),
            ),
            (
                b"BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n",
                ext(
                    ListSelect::default(),
                    &["INBOX", "Drafts", "Sent/%"],
                    ListReturn::default(),
                ),
            ),
            (
                b"C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n",
                ext(
                    ListSelect {
                        recursive_match: true,
                        ..SUBSCRIBED
                    },
                    &["%"],
                    children.clone(),
                ),
            ),
            (
                b"D03 LIST (RECURSIVEMATCH SUBSCRIBED) \"\" \"*2\"\r\n",
                ext(
                    ListSelect {
                        recursive_match: true,
                        ..SUBSCRIBED
                    },
                    &["*2"],
                    ListReturn::default(),
                ),
            ),
            (
                b"a1 LIST \"\" (\"foo\" \"foo/*\")\r\n",
                ext(
                    ListSelect::default(),
                    &["foo", "foo/*"],
                    ListReturn::default(),
                ),
            ),
            (
                b"a3.1 LIST \"\" (% music/rock)\r\n",
                ext(
                    ListSelect::default(),
                    &["%", "music/rock"],
                    ListReturn::default(),
                ),
            ),
            (
                b"a2 LIST () \"\" %\r\n",
                ext(ListSelect::default(), &["%"], ListReturn::default()),
            ),
        ] {
            assert_eq!(
                body(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn special_use_and_status_options() {
        use StatusItem::*;
        let special = ListReturn {
            special_use: true,
            ..Default::default()
        };
        assert_eq!(
            body(b"t2 LIST \"\" \"%\" RETURN (SPECIAL-USE)\r\n"),
            ext(ListSelect::default(), &["%"], special)
        );
        assert_eq!(
            body(b"t3 list (special-use) \"\" \"*\"\r\n"),
            ext(
                ListSelect {
                    special_use: true,
                    ..Default::default()
                },
                &["*"],
                ListReturn::default()
            )
        );
        assert_eq!(
            body(b"A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n"),
            ext(
                ListSelect::default(),
                &["%"],
                ListReturn {
                    status: Some(vec![Messages, Unseen]),
                    ..Default::default()
                }
            )
        );
        // Options twice act once; STATUS lists merge.
        assert_eq!(
            body(
                b"a LIST (SUBSCRIBED subscribed) \"\" % RETURN (CHILDREN STATUS (UNSEEN) CHILDREN STATUS (MESSAGES UNSEEN))\r\n"
            ),
            ext(
                SUBSCRIBED,
                &["%"],
                ListReturn {
                    children: true,
                    status: Some(vec![Unseen, Messages]),
                    ..Default::default()
                }
            )
        );
        // An empty return list is still the extended form.
        assert_eq!(
            body(b"a LIST \"\" \"\" RETURN ()\r\n"),
            ext(ListSelect::default(), &[""], ListReturn::default())
        );
    }

    #[test]
    fn what_the_grammar_refuses_is_bad() {
        for input in [
            // RFC 5258 §6: RECURSIVEMATCH alone, or only with REMOTE.
            &b"a LIST (RECURSIVEMATCH) \"\" %\r\n"[..],
            b"a LIST (REMOTE RECURSIVEMATCH) \"\" %\r\n",
            // SPECIAL-USE is an independent option, not a base one.
            b"a LIST (SPECIAL-USE RECURSIVEMATCH) \"\" %\r\n",
            // Options this server does not know (RFC 5258 §3).
            b"a LIST (VIRTUAL) \"\" %\r\n",
            b"a LIST \"\" % RETURN (MYRIGHTS)\r\n",
            b"a LIST \"\" % RETURN (STATUS ())\r\n",
            b"a LIST \"\" % RETURN (STATUS (SIZES))\r\n",
            b"a LIST \"\" % RETURN (STATUS MESSAGES)\r\n",
            b"a LIST \"\" % RETURN CHILDREN\r\n",
            b"a LIST \"\" % RETURN\r\n",
            b"a LIST \"\" % CHILDREN\r\n",
            b"a LIST \"\" ()\r\n",
            b"a LIST \"\" (%\r\n",
            b"a LIST \"\" (% )\r\n",
            b"a LIST (SUBSCRIBED\"\" %\r\n",
            b"a LIST (SUBSCRIBED)\"\" %\r\n",
            b"a LIST (SUBSCRIBED) \"\"\r\n",
            b"a LIST \"\" % RETURN (CHILDREN) x\r\n",
        ] {
            assert!(
                matches!(
                    error(input).kind,
                    ParseErrorKind::Syntax(_) | ParseErrorKind::TooManyParams
                ),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn lists_are_bounded() {
        let small = ParseLimits {
            max_depth: 32,
            max_params: 2,
        };
        for input in [
            &b"a LIST \"\" (a b c)\r\n"[..],
            b"a LIST (SUBSCRIBED REMOTE SPECIAL-USE) \"\" %\r\n",
            b"a LIST \"\" % RETURN (CHILDREN SUBSCRIBED SPECIAL-USE)\r\n",
            b"a LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN RECENT))\r\n",
        ] {
            assert_eq!(
                parse_command(input, &small).map_err(|e| e.kind),
                Err(ParseErrorKind::TooManyParams),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
