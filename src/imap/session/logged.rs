//! The INFO lines an administrator acts on: one per APPEND, COPY, MOVE and
//! expunge (EXPUNGE, UID EXPUNGE, CLOSE), written once the change is
//! durable, inside the connection's span (its id, peer and user). The
//! field names are the ones `crate::logging` lists; a change that touched
//! nothing (an EXPUNGE with nothing \Deleted) writes no line.

use super::Session;
use crate::logging::Uids;

/// A mailbox name as the store keeps it: INBOX in any case is INBOX.
fn canonical(name: &str) -> &str {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX"
    } else {
        name
    }
}

impl Session {
    /// The mailbox's name now (a RENAME by another session since SELECT
    /// shows), or `#id` if it cannot be read.
    fn logged_name(&self, mailbox_id: u64) -> String {
        match self.mail.read(|r| r.mailbox_by_id(mailbox_id)) {
            Ok(Some(m)) => m.name,
            _ => format!("#{mailbox_id}"),
        }
    }

    pub(super) fn log_append(&self, mailbox: &str, uidvalidity: u32, uid: u32, size: u64) {
        tracing::info!(
            command = "APPEND",
            mailbox = canonical(mailbox),
            uidvalidity,
            uids = %Uids(&[uid]),
            count = 1u32,
            size,
            "append"
        );
    }

    /// COPY and MOVE (`moved`): `pairs` are (source UID, new UID).
    pub(super) fn log_copy(
        &self,
        command: &'static str,
        moved: bool,
        dest: &str,
        uidvalidity: u32,
        pairs: &[(u32, u32)],
        size: u64,
    ) {
        if pairs.is_empty() {
            return;
        }
        let Some(view) = self.state.view() else {
            return;
        };
        let mailbox = self.logged_name(view.mailbox_id);
        let source: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        let copies: Vec<u32> = pairs.iter().map(|p| p.1).collect();
        let (uids, dest_uids) = (Uids(&source), Uids(&copies));
        let count = pairs.len();
        let dest = canonical(dest);
        if moved {
            tracing::info!(command, mailbox = mailbox.as_str(), %uids, dest, uidvalidity, %dest_uids, count, size, "move");
        } else {
            tracing::info!(command, mailbox = mailbox.as_str(), %uids, dest, uidvalidity, %dest_uids, count, size, "copy");
        }
    }

    /// An expunge in the selected mailbox (EXPUNGE, UID EXPUNGE, CLOSE):
    /// called while it is still selected.
    pub(super) fn log_expunge(&self, command: &'static str, uids: &[u32], size: u64) {
        if uids.is_empty() {
            return;
        }
        let Some(view) = self.state.view() else {
            return;
        };
        let mailbox = self.logged_name(view.mailbox_id);
        tracing::info!(
            command,
            mailbox = mailbox.as_str(),
            uidvalidity = view.uidvalidity,
            uids = %Uids(uids),
            count = uids.len(),
            size,
            "expunge"
        );
    }
}
