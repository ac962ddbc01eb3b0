//! Commands of the authenticated state (RFC 3501 §6.3): SELECT, EXAMINE,
//! CREATE (with RFC 6154's USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
//! STATUS and APPEND; LIST and LSUB are in `listing`.

use std::time::Instant;

use chrono::FixedOffset;

use super::condstore::Resync;
use super::list::{self, DELIMITER};
use super::view::View;
use super::{Action, Pending, Session, Wait};
use crate::imap::proto::encode::encode_response;
use crate::imap::proto::response::{Code, Data, Response, StatusKind, StatusResponse};
use crate::imap::proto::types::{Flag, FlagPerm, Mailbox, SelectParams, StatusItem, Tag, UseAttr};
use crate::mailbox::{MailError, MailResult, MailSnapshot, MailWrite, MailWriteOk, MailboxSummary};

/// Longest mailbox name, in bytes of UTF-8 (the store's one limit).
pub const MAX_NAME_BYTES: usize = crate::mailbox::MAX_MAILBOX_NAME_LEN;
/// Deepest hierarchy a name may have.
pub const MAX_NAME_LEVELS: usize = 32;

/// The system flags every mailbox allows (RFC 3501 §2.3.2).
/// `* FLAGS (...)` and `* OK [PERMANENTFLAGS (...)]` for a mailbox with
/// these keywords: at SELECT, and again whenever a keyword is new to the
/// session (RFC 3501 §7.2.6), before any FETCH shows it.
pub(super) fn flags_responses(out: &mut Vec<u8>, keywords: &[String], read_only: bool) {
    let mut flags = system_flags();
    flags.extend(keywords.iter().cloned().map(Flag::Keyword));
    encode_response(out, &Response::Data(Data::Flags(flags.clone())));
    let permanent = if read_only {
        Vec::new()
    } else {
        let mut p: Vec<FlagPerm> = flags.into_iter().map(FlagPerm::Flag).collect();
        p.push(FlagPerm::Asterisk);
        p
    };
    encode_response(
        out,
        &Response::Status(StatusResponse::untagged(
            StatusKind::Ok,
            Some(Code::PermanentFlags(permanent)),
            "Flags permitted.",
        )),
    );
}

pub(super) fn system_flags() -> Vec<Flag> {
    vec![
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ]
}

/// Checks a name a client wants to create or rename to: not empty, no
/// empty level (`a//b`), not too long or too deep. A trailing delimiter is
/// dropped (RFC 3501 §6.3.3: it declares the intent to create inferiors).
pub(super) fn valid_new_name(name: &str) -> Result<String, MailError> {
    let name = name.strip_suffix(DELIMITER).unwrap_or(name);
    if name.is_empty() {
        return Err(MailError::Invalid("Mailbox name is empty.".into()));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(MailError::Invalid(format!(
            "Mailbox name is longer than {MAX_NAME_BYTES} bytes."
        )));
    }
    if name.split(DELIMITER).count() > MAX_NAME_LEVELS {
        return Err(MailError::Invalid(format!(
            "Mailbox name has more than {MAX_NAME_LEVELS} levels."
        )));
    }
    if name.split(DELIMITER).any(str::is_empty) {
        return Err(MailError::Invalid(
            "Mailbox name has an empty level.".into(),
        ));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(MailError::Invalid(
            "Mailbox name contains control characters.".into(),
        ));
    }
    Ok(list::canonical_inbox(name))
}

impl Session {
    pub(super) fn user_id(&self) -> Option<u64> {
        self.state.user().map(|u| u.id)
    }

    /// Starts a write; the command finishes in `write_result`.
    pub(super) fn start_write(
        &mut self,
        tag: Tag,
        command: &'static str,
        now: Instant,
        op: MailWrite,
        pending: Pending,
    ) {
        let Some(user_id) = self.user_id() else {
            return;
        };
        let ticket = self.ticket();
        self.wait = Wait::Write {
            ticket,
            tag,
            command,
            started: now,
            pending,
        };
        self.actions.push_back(Action::Write {
            ticket,
            user_id,
            op,
        });
    }

    pub(super) fn mail_error(
        &mut self,
        tag: Tag,
        command: &'static str,
        started: Instant,
        now: Instant,
        e: &MailError,
    ) {
        let (kind, code) = match e {
            MailError::NonExistent => (StatusKind::No, Some(Code::NonExistent)),
            MailError::AlreadyExists => (StatusKind::No, Some(Code::AlreadyExists)),
            MailError::NoSelect | MailError::HasInferiors | MailError::InboxDelete => {
                (StatusKind::No, Some(Code::Cannot))
            }
            MailError::Invalid(_) => (StatusKind::No, Some(Code::Cannot)),
            MailError::OverQuota(_) => {
                crate::metrics::quota_refused(crate::metrics::Protocol::Imap);
                (StatusKind::No, Some(Code::OverQuota))
            }
            MailError::Internal(_) => (StatusKind::No, Some(Code::ServerBug)),
        };
        self.tagged(tag, command, started, now, kind, code, &e.to_string());
    }

    pub(super) fn select(
        &mut self,
        tag: Tag,
        mailbox: Mailbox,
        read_only: bool,
        params: SelectParams,
        now: Instant,
    ) {
        let command = if read_only { "EXAMINE" } else { "SELECT" };
        if params.qresync.is_some() && !self.qresync {
            // RFC 7162 §3.2.5: refused, and nothing else happens.
            return self.tagged(
                tag,
                command,
                now,
                now,
                StatusKind::Bad,
                None,
                "QRESYNC needs ENABLE QRESYNC first.",
            );
        }
        // RFC 3501 §6.3.1: a SELECT first leaves the selected mailbox,
        // without expunging, whether or not the new one can be selected;
        // RFC 7162 §3.2.11 marks the boundary with CLOSED.
        if self.state.deselect() {
            self.untagged(
                StatusKind::Ok,
                Some(Code::Closed),
                "Previous mailbox closed.",
            );
        }
        if params.condstore || params.qresync.is_some() {
            self.condstore = true;
        }
        let Some(user_id) = self.user_id() else {
            return;
        };
        let qresync = params.qresync.as_ref();
        let found = self.mail.read(|r| {
            let Some(mb) = r.mailbox(user_id, mailbox.as_str())? else {
                return Ok(None);
            };
            let messages = r.messages(mb.id)?;
            // RFC 7162 §3.2.5: a UIDVALIDITY that does not match means the
            // rest of the parameters are ignored.
            let resync = match qresync {
                Some(q) if q.uidvalidity.get() == mb.uidvalidity => Some(Resync::new(
                    q,
                    r.expunged_since(mb.id, q.modseq)?,
                    r.changed_since(mb.id, q.modseq)?,
                )),
                _ => None,
            };
            Ok(Some((mb, messages, resync)))
        });
        let (mb, messages, resync) = match found {
            Ok(Some(found)) => found,
            Ok(None) => return self.mail_error(tag, command, now, now, &MailError::NonExistent),
            Err(e) => return self.mail_error(tag, command, now, now, &e),
        };
        if mb.noselect {
            return self.mail_error(tag, command, now, now, &MailError::NoSelect);
        }
        let uids: Vec<u32> = messages.iter().map(|m| m.uid).collect();
        let first_unseen = messages
            .iter()
            .position(|m| !m.has(&Flag::Seen))
            .map(|i| i as u32 + 1);
        let mut view = View::new(mb.id, mb.uidvalidity, read_only, uids, mb.highest_modseq);
        let info = SelectInfo {
            mailbox: mb,
            first_unseen,
            resync,
        };
        let mailbox = &info.mailbox;
        let recent = if read_only {
            // EXAMINE looks at \Recent without taking it (RFC 3501 §6.3.2).
            self.mail.recent_floor(mailbox.id, mailbox.recent_floor)..u32::MAX
        } else {
            let taken = self
                .mail
                .claim_recent(mailbox.id, mailbox.recent_floor, mailbox.uidnext);
            if !taken.is_empty()
                && let Some(user_id) = self.user_id()
            {
                // Keep the store's copy of the floor for the next start.
                self.actions.push_back(Action::Background {
                    user_id,
                    op: MailWrite::ClaimRecent {
                        mailbox_id: mailbox.id,
                    },
                });
            }
            taken
        };
        for uid in view.uids().to_vec() {
            if recent.contains(&uid) {
                view.mark_recent(uid);
            }
        }
        self.finish_select(tag, command, now, now, view, info);
    }

    pub(super) fn finish_select(
        &mut self,
        tag: Tag,
        command: &'static str,
        started: Instant,
        now: Instant,
        view: View,
        info: SelectInfo,
    ) {
        let mut view = view;
        view.keywords = info.mailbox.keywords.clone();
        flags_responses(&mut self.out, &view.keywords, view.read_only);
        self.respond(&Response::Data(Data::Exists(view.exists())));
        self.respond(&Response::Data(Data::Recent(view.recent_count())));
        if let Some(n) = info.first_unseen {
            self.untagged(StatusKind::Ok, Some(Code::Unseen(n)), "First unseen.");
        }
        self.untagged(
            StatusKind::Ok,
            Some(Code::UidValidity(view.uidvalidity)),
            "UIDs valid.",
        );
        self.untagged(
            StatusKind::Ok,
            Some(Code::UidNext(info.mailbox.uidnext)),
            "Predicted next UID.",
        );
        if self.condstore {
            // RFC 7162 §3.1.2.1; the view starts at this MODSEQ.
            self.untagged(
                StatusKind::Ok,
                Some(Code::HighestModSeq(view.modseq)),
                "Highest mailbox MODSEQ.",
            );
        }
        let code = if view.read_only {
            Code::ReadOnly
        } else {
            Code::ReadWrite
        };
        self.state.select(view);
        if let Some(resync) = info.resync {
            self.report_resync(resync);
        }
        self.tagged(
            tag,
            command,
            started,
            now,
            StatusKind::Ok,
            Some(code),
            &format!("{command} completed"),
        );
    }

    pub(super) fn create(
        &mut self,
        tag: Tag,
        mailbox: Mailbox,
        special_use: Vec<UseAttr>,
        now: Instant,
    ) {
        if mailbox == Mailbox::Inbox {
            return self.mail_error(tag, "CREATE", now, now, &MailError::AlreadyExists);
        }
        // RFC 6154 §3: "If the server cannot create a mailbox with the
        // designated special use defined, for whatever reason, it MUST NOT
        // create the mailbox", and says why with USEATTR.
        let mut uses: Vec<UseAttr> = Vec::with_capacity(special_use.len());
        for attr in special_use {
            let refusal = match &attr {
                UseAttr::Archive
                | UseAttr::Drafts
                | UseAttr::Junk
                | UseAttr::Sent
                | UseAttr::Trash => None,
                // Both mean a virtual mailbox gathering messages from the
                // others, which this server does not have.
                UseAttr::All | UseAttr::Flagged => {
                    Some("is a virtual mailbox, which this server does not have")
                }
                UseAttr::Extension(_) => Some("is not a special use this server knows"),
            };
            if let Some(why) = refusal {
                let text = format!("{} {why}.", attr.name());
                return self.tagged(
                    tag,
                    "CREATE",
                    now,
                    now,
                    StatusKind::No,
                    Some(Code::UseAttr),
                    &text,
                );
            }
            if !uses.contains(&attr) {
                uses.push(attr);
            }
        }
        match valid_new_name(mailbox.as_str()) {
            Ok(name) => self.start_write(
                tag,
                "CREATE",
                now,
                MailWrite::Create {
                    name,
                    special_use: uses,
                },
                Pending::Done,
            ),
            Err(e) => self.mail_error(tag, "CREATE", now, now, &e),
        }
    }

    pub(super) fn delete(&mut self, tag: Tag, mailbox: Mailbox, now: Instant) {
        if mailbox == Mailbox::Inbox {
            return self.mail_error(tag, "DELETE", now, now, &MailError::InboxDelete);
        }
        let name = mailbox.as_str().to_string();
        self.start_write(
            tag,
            "DELETE",
            now,
            MailWrite::Delete { name },
            Pending::Done,
        );
    }

    pub(super) fn rename(&mut self, tag: Tag, from: Mailbox, to: Mailbox, now: Instant) {
        if to == Mailbox::Inbox {
            return self.mail_error(tag, "RENAME", now, now, &MailError::AlreadyExists);
        }
        match valid_new_name(to.as_str()) {
            Ok(to) => {
                let op = MailWrite::Rename {
                    from: from.as_str().to_string(),
                    to,
                };
                self.start_write(tag, "RENAME", now, op, Pending::Done)
            }
            Err(e) => self.mail_error(tag, "RENAME", now, now, &e),
        }
    }

    pub(super) fn subscribe(&mut self, tag: Tag, mailbox: Mailbox, subscribe: bool, now: Instant) {
        let name = mailbox.as_str().to_string();
        let (command, op) = if subscribe {
            ("SUBSCRIBE", MailWrite::Subscribe { name })
        } else {
            ("UNSUBSCRIBE", MailWrite::Unsubscribe { name })
        };
        self.start_write(tag, command, now, op, Pending::Done);
    }

    /// STATUS (RFC 3501 §6.3.10).
    pub(super) fn status(
        &mut self,
        tag: Tag,
        mailbox: Mailbox,
        items: &[StatusItem],
        now: Instant,
    ) {
        let Some(user_id) = self.user_id() else {
            return;
        };
        if items.contains(&StatusItem::HighestModSeq) {
            // RFC 7162 §3.1: a CONDSTORE enabling command.
            self.condstore_enabling();
        }
        let data = match self
            .mail
            .read(|r| self.status_data(r, user_id, mailbox.as_str(), items))
        {
            Ok(data) => data,
            Err(e) => return self.mail_error(tag, "STATUS", now, now, &e),
        };
        self.respond(&Response::Data(data));
        self.tagged(
            tag,
            "STATUS",
            now,
            now,
            StatusKind::Ok,
            None,
            "STATUS completed",
        );
    }

    /// The STATUS response for one mailbox, read in the caller's snapshot.
    /// The STATUS command and LIST's STATUS return option (RFC 5819) both
    /// come here, so every item works in both.
    pub(super) fn status_data(
        &self,
        r: &dyn MailSnapshot,
        user_id: u64,
        name: &str,
        items: &[StatusItem],
    ) -> MailResult<Data> {
        let Some(mb) = r.mailbox(user_id, name)? else {
            return Err(MailError::NonExistent);
        };
        if mb.noselect {
            return Err(MailError::NoSelect);
        }
        let recent = if items.contains(&StatusItem::Recent) {
            let floor = self.mail.recent_floor(mb.id, mb.recent_floor);
            r.messages(mb.id)?.iter().filter(|m| m.uid >= floor).count() as u32
        } else {
            0
        };
        // The one item that needs a scan, so only when asked for.
        let deleted_storage = if items.contains(&StatusItem::DeletedStorage) {
            r.deleted_size(mb.id)?
        } else {
            0
        };
        let values = items
            .iter()
            .map(|&item| {
                let v = match item {
                    StatusItem::Messages => mb.messages.into(),
                    StatusItem::Recent => recent.into(),
                    StatusItem::UidNext => mb.uidnext.into(),
                    StatusItem::UidValidity => mb.uidvalidity.into(),
                    StatusItem::Unseen => mb.unseen.into(),
                    StatusItem::Size => mb.size,
                    StatusItem::Deleted => mb.deleted.into(),
                    StatusItem::DeletedStorage => deleted_storage,
                    StatusItem::AppendLimit => self.cfg.frame_limits.max_append_literal as u64,
                    StatusItem::HighestModSeq => mb.highest_modseq,
                };
                (item, v)
            })
            .collect();
        Ok(Data::Status {
            name: mb.name.clone(),
            items: values,
        })
    }

    /// APPEND (RFC 3501 §6.3.11).
    pub(super) fn append(
        &mut self,
        tag: Tag,
        mailbox: Mailbox,
        flags: Vec<Flag>,
        date: Option<chrono::DateTime<FixedOffset>>,
        message: Vec<u8>,
        now: Instant,
    ) {
        let Some(user_id) = self.user_id() else {
            return;
        };
        match self.mail.read(|r| r.mailbox(user_id, mailbox.as_str())) {
            Ok(Some(mb)) if !mb.noselect => {}
            Ok(Some(_)) => return self.mail_error(tag, "APPEND", now, now, &MailError::NoSelect),
            Ok(None) => {
                // RFC 3501 §6.3.11: TRYCREATE tells the client to CREATE first.
                return self.tagged(
                    tag,
                    "APPEND",
                    now,
                    now,
                    StatusKind::No,
                    Some(Code::TryCreate),
                    "Mailbox does not exist.",
                );
            }
            Err(e) => return self.mail_error(tag, "APPEND", now, now, &e),
        }
        // RFC 3501 §6.3.11: without a date, the time it is stored; the
        // driver's clock, as it passed it in.
        let date = date.unwrap_or_else(|| self.wall.fixed_offset());
        let op = MailWrite::Append {
            mailbox: mailbox.as_str().to_string(),
            flags,
            date,
            message,
        };
        self.start_append(tag, now, op);
    }

    /// The end of a write started by a command.
    pub(super) fn finish_write(
        &mut self,
        tag: Tag,
        command: &'static str,
        started: Instant,
        now: Instant,
        pending: Pending,
        result: Result<MailWriteOk, MailError>,
    ) {
        let ok = match result {
            Ok(ok) => ok,
            // RFC 3501 §6.4.7: a COPY to a mailbox that does not exist says
            // TRYCREATE, so the client knows to create it first.
            Err(MailError::NonExistent)
                if command.ends_with("COPY") || command.ends_with("MOVE") =>
            {
                return self.tagged(
                    tag,
                    command,
                    started,
                    now,
                    StatusKind::No,
                    Some(Code::TryCreate),
                    "Mailbox does not exist.",
                );
            }
            Err(e) => return self.mail_error(tag, command, started, now, &e),
        };
        match pending {
            Pending::Done => {
                self.sync_view(true, false, &[]);
                self.completed(tag, command, started, now)
            }
            Pending::Selected(p) => self.finish_selected_write(tag, command, started, now, p, ok),
        }
    }
}

/// What SELECT read of the mailbox, for its untagged responses.
#[derive(Debug)]
pub(super) struct SelectInfo {
    pub mailbox: MailboxSummary,
    pub first_unseen: Option<u32>,
    /// SELECT (QRESYNC) with a matching UIDVALIDITY.
    pub resync: Option<Resync>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_names() {
        assert_eq!(valid_new_name("a/b/"), Ok("a/b".to_string()));
        assert_eq!(valid_new_name("inbox/x"), Ok("INBOX/x".to_string()));
        assert!(valid_new_name("").is_err());
        assert!(valid_new_name("/").is_err());
        assert!(valid_new_name("a//b").is_err());
        assert!(valid_new_name(&"a/".repeat(40)).is_err());
        assert!(valid_new_name(&"x".repeat(600)).is_err());
        assert!(valid_new_name("a\u{1}b").is_err());
    }

    #[test]
    fn mailbox_name_limit_is_the_stores() {
        let longest = "x".repeat(MAX_NAME_BYTES);
        assert_eq!(valid_new_name(&longest), Ok(longest.clone()));
        assert!(crate::store::normalize_mailbox_name(&longest).is_ok());
        let over = "x".repeat(MAX_NAME_BYTES + 1);
        assert!(valid_new_name(&over).is_err());
        assert!(crate::store::normalize_mailbox_name(&over).is_err());
    }
}
