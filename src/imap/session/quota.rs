//! QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA.
//!
//! Every user has one quota root, named `""` (RFC 9208 §4.2.2 shows a
//! mailbox "covered by a single quota root with name \"\""), over all of
//! their mailboxes. Limits are set by the administrator with `roost user
//! quota`, so QUOTASET is not advertised and SETQUOTA is refused.

use std::time::Instant;

use super::Session;
use crate::imap::proto::response::{Code, Data, Response, StatusKind};
use crate::imap::proto::types::{Mailbox, Tag};
use crate::mailbox::QuotaSummary;

/// The name of every user's one quota root.
pub const QUOTA_ROOT: &str = "";

/// The QUOTA response's triplets. RFC 9208 §4.2.1: "Resources not named in
/// the list are not limited in the quota root", so unlimited ones are left
/// out, and "an empty list means there are no administrative resource
/// limits" (the §7 ABNF asks for one or more; the prose and clients accept
/// none).
fn resources(q: &QuotaSummary) -> Vec<(&'static str, u64, u64)> {
    let mut out = Vec::new();
    if let Some(limit) = q.storage_limit_kib {
        out.push(("STORAGE", q.storage_kib, limit));
    }
    if let Some(limit) = q.message_limit {
        out.push(("MESSAGE", q.messages, limit));
    }
    out
}

impl Session {
    /// Reads the user's quota and sends the untagged QUOTA; `false` if the
    /// command has been answered with an error.
    fn send_quota(&mut self, tag: &Tag, command: &'static str, now: Instant) -> bool {
        let Some(user_id) = self.user_id() else {
            return false;
        };
        match self.mail.read(|r| r.quota(user_id)) {
            Ok(q) => {
                self.respond(&Response::Data(Data::Quota {
                    root: QUOTA_ROOT.into(),
                    resources: resources(&q),
                }));
                true
            }
            Err(e) => {
                self.mail_error(tag.clone(), command, now, now, &e);
                false
            }
        }
    }

    /// GETQUOTA (RFC 9208 §4.1.1).
    pub(super) fn get_quota(&mut self, tag: Tag, root: &str, now: Instant) {
        if root != QUOTA_ROOT {
            return self.tagged(
                tag,
                "GETQUOTA",
                now,
                now,
                StatusKind::No,
                Some(Code::NonExistent),
                "No such quota root.",
            );
        }
        if self.send_quota(&tag, "GETQUOTA", now) {
            self.completed(tag, "GETQUOTA", now, now);
        }
    }

    /// GETQUOTAROOT (RFC 9208 §4.1.2): "the mailbox name parameter doesn't
    /// have to reference an existing mailbox", so any name gets the root
    /// it would fall under.
    pub(super) fn get_quota_root(&mut self, tag: Tag, mailbox: &Mailbox, now: Instant) {
        self.respond(&Response::Data(Data::QuotaRoot {
            mailbox: mailbox.as_str().to_string(),
            roots: vec![QUOTA_ROOT.into()],
        }));
        if self.send_quota(&tag, "GETQUOTAROOT", now) {
            self.completed(tag, "GETQUOTAROOT", now, now);
        }
    }

    /// SETQUOTA needs QUOTASET (RFC 9208 §4.1.3), which is not offered.
    pub(super) fn set_quota(&mut self, tag: Tag, now: Instant) {
        self.tagged(
            tag,
            "SETQUOTA",
            now,
            now,
            StatusKind::No,
            Some(Code::NoPerm),
            "Quota limits are set by the administrator.",
        );
    }
}
