//! MOVE and UID MOVE (RFC 6851): one store operation copies the messages
//! and expunges the originals in a single transaction, so no session ever
//! sees a message in both mailboxes or in neither.

use std::time::Instant;

use super::selected::SelectedPending;
use super::{Pending, Session};
use crate::imap::proto::response::{Code, StatusKind};
use crate::imap::proto::types::{Mailbox, SequenceSet, Tag};
use crate::mailbox::{MailWrite, MailWriteOk};

impl Session {
    pub(super) fn move_messages(
        &mut self,
        tag: Tag,
        set: &SequenceSet,
        mailbox: Mailbox,
        uid: bool,
        now: Instant,
    ) {
        let command = if uid { "UID MOVE" } else { "MOVE" };
        // Moving out expunges: a read-only mailbox cannot lose messages.
        if self.read_only_refusal(tag.clone(), command, now) {
            return;
        }
        let Some((from_mailbox, targets)) = self.write_targets(&tag, command, now, set, uid) else {
            return;
        };
        let dest = mailbox.as_str().to_string();
        let op = MailWrite::Move {
            from_mailbox,
            uids: targets.iter().map(|t| t.1).collect(),
            to: dest.clone(),
        };
        self.start_write(
            tag,
            command,
            now,
            op,
            Pending::Selected(SelectedPending::Move { uid, dest }),
        );
    }

    /// RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges,
    /// so a client learns where the messages went before it is told they
    /// left; then EXPUNGE (or VANISHED), then the tagged OK, with
    /// HIGHESTMODSEQ for a CONDSTORE-aware client (§4.4).
    pub(super) fn finish_move(
        &mut self,
        tag: Tag,
        command: &'static str,
        started: Instant,
        now: Instant,
        uid: bool,
        ok: MailWriteOk,
    ) {
        let moved = match ok {
            MailWriteOk::Moved {
                uidvalidity, pairs, ..
            } if !pairs.is_empty() => {
                self.untagged(
                    StatusKind::Ok,
                    Some(Code::CopyUid {
                        uidvalidity,
                        source: pairs.iter().map(|p| p.0).collect(),
                        destination: pairs.iter().map(|p| p.1).collect(),
                    }),
                    "Moved.",
                );
                true
            }
            _ => false,
        };
        self.sync_view(true, uid, &[]);
        self.completed_with_modseq(tag, command, started, now, moved);
    }
}
