//! Arguments of the commands that name mailboxes (RFC 3501 §6.3, COPY in
//! §6.4.7): SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
//! UNSUBSCRIBE, LIST, LSUB, STATUS and APPEND. Each parser starts at the SP
//! after the command name and stops before the CRLF.

use nom::Parser;

use super::super::types::{CommandBody, StatusItem};
use super::core::{
    Res, failure, flag_list, keyword_token, list_mailbox, literal, mailbox, mailbox_name,
    paren_list, sp,
};
use super::datetime::date_time;
use super::{ParseErrorKind, ParseLimits};

/// `SP mailbox`, for SELECT, EXAMINE, CREATE, DELETE, SUBSCRIBE and
/// UNSUBSCRIBE, built into the command by `make`.
pub(crate) fn one_mailbox<'a>(
    i: &'a [u8],
    make: fn(super::super::types::Mailbox) -> CommandBody,
) -> Res<'a, CommandBody> {
    let (i, _) = sp(i)?;
    mailbox.map(make).parse(i)
}

/// `rename = "RENAME" SP mailbox SP mailbox`
pub(crate) fn rename(i: &[u8]) -> Res<'_, CommandBody> {
    let (i, (_, from, _, to)) = (sp, mailbox, sp, mailbox).parse(i)?;
    Ok((i, CommandBody::Rename { from, to }))
}

/// `list = "LIST" SP mailbox SP list-mailbox` (LSUB alike); `lsub` picks
/// which.
pub(crate) fn list(i: &[u8], lsub: bool) -> Res<'_, CommandBody> {
    let (i, (_, reference, _, pattern)) = (sp, mailbox_name, sp, list_mailbox).parse(i)?;
    let body = if lsub {
        CommandBody::Lsub { reference, pattern }
    } else {
        CommandBody::List { reference, pattern }
    };
    Ok((i, body))
}

/// `status-att = "MESSAGES" / "RECENT" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN"`
fn status_att(i: &[u8]) -> Res<'_, StatusItem> {
    let (i, name) = keyword_token(i)?;
    let item = match name.to_ascii_uppercase().as_slice() {
        b"MESSAGES" => StatusItem::Messages,
        b"RECENT" => StatusItem::Recent,
        b"UIDNEXT" => StatusItem::UidNext,
        b"UIDVALIDITY" => StatusItem::UidValidity,
        b"UNSEEN" => StatusItem::Unseen,
        _ => return failure(ParseErrorKind::Syntax("unknown STATUS item")),
    };
    Ok((i, item))
}

/// `status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"`
pub(crate) fn status<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, (_, mailbox, _)) = (sp, mailbox, sp).parse(i)?;
    let (i, items) = paren_list(i, lim, false, status_att)?;
    Ok((i, CommandBody::Status { mailbox, items }))
}

/// `append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal`.
/// The message must be a literal (either kind); its bytes are kept as they
/// are, NUL included.
pub(crate) fn append<'a>(i: &'a [u8], lim: &ParseLimits) -> Res<'a, CommandBody> {
    let (i, (_, mailbox, _)) = (sp, mailbox, sp).parse(i)?;
    let (i, flags) = match i.first() {
        Some(b'(') => {
            let (i, f) = flag_list(i, lim)?;
            let (i, _) = sp(i)?;
            (i, f)
        }
        _ => (i, Vec::new()),
    };
    let (i, date) = match i.first() {
        Some(b'"') => {
            let (i, d) = date_time(i)?;
            let (i, _) = sp(i)?;
            (i, Some(d))
        }
        _ => (i, None),
    };
    if i.first() != Some(&b'{') {
        return failure(ParseErrorKind::Syntax(
            "the APPEND message must be a literal",
        ));
    }
    let (i, message) = literal(i)?;
    Ok((
        i,
        CommandBody::Append {
            mailbox,
            flags,
            date,
            message: message.to_vec(),
        },
    ))
}
