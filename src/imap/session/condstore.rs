//! ENABLE (RFC 5161) and what CONDSTORE and QRESYNC (RFC 7162) add to a
//! session: when the client becomes CONDSTORE-aware, the HIGHESTMODSEQ it
//! is told, VANISHED in place of EXPUNGE, and the resynchronisation that
//! SELECT (QRESYNC) and UID FETCH (CHANGEDSINCE n VANISHED) answer.
//!
//! The expunge history the answers come from is the store's `expunged`
//! table, which keeps every expunge of a mailbox for as long as the mailbox
//! exists (a re-created name gets a new UIDVALIDITY, which ends any
//! resynchronisation). So the history is never incomplete for a client
//! whose UIDVALIDITY matches, and the `seq-match-data` of RFC 7162
//! §3.2.5.2, which exists for servers that forget expunges, is checked for
//! syntax and not needed: the VANISHED (EARLIER) answer is exact.

use std::num::NonZeroU32;
use std::time::Instant;

use super::Session;
use super::view::View;
use crate::imap::proto::encode::encode_response;
use crate::imap::proto::response::{Code, Data, MessageDataItem, Response, StatusKind};
use crate::imap::proto::types::{FetchModifiers, QResync, SearchKey, SequenceSet, Tag};
use crate::mailbox::MessageSummary;

/// What SELECT (QRESYNC) reports after the usual responses: the known UIDs
/// expunged since the client's MODSEQ and the known messages changed since.
#[derive(Debug, Default)]
pub(super) struct Resync {
    pub vanished: Vec<u32>,
    pub changed: Vec<MessageSummary>,
}

impl Resync {
    /// Restricts what changed to the client's known UIDs (RFC 7162
    /// §3.2.5.1: without them, every UID below UIDNEXT is known).
    pub fn new(q: &QResync, vanished: Vec<u32>, changed: Vec<MessageSummary>) -> Resync {
        let known = |uid: u32| {
            q.known_uids
                .as_ref()
                .is_none_or(|k| k.contains(uid, u32::MAX))
        };
        Resync {
            vanished: vanished.into_iter().filter(|&u| known(u)).collect(),
            changed: changed.into_iter().filter(|m| known(m.uid)).collect(),
        }
    }
}

impl Session {
    /// ENABLE (RFC 5161 §3.1): unknown names are ignored; the answer lists
    /// what this command newly enabled. QRESYNC implies CONDSTORE (RFC
    /// 7162 §3.2.3).
    pub(super) fn enable(&mut self, tag: Tag, names: &[String], now: Instant) {
        let mut enabled: Vec<String> = Vec::new();
        for name in names {
            let newly = match name.as_str() {
                "CONDSTORE" => !self.condstore,
                "QRESYNC" => !self.qresync,
                _ => false,
            };
            if !newly || enabled.contains(name) {
                continue;
            }
            if name == "QRESYNC" {
                self.qresync = true;
            }
            self.condstore_enabling();
            enabled.push(name.clone());
        }
        self.respond(&Response::Data(Data::Enabled(enabled)));
        self.completed(tag, "ENABLE", now, now);
    }

    /// A CONDSTORE enabling command ran (RFC 7162 §3.1). The first one with
    /// a mailbox selected tells the client the mailbox's HIGHESTMODSEQ.
    pub(super) fn condstore_enabling(&mut self) {
        if self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(modseq) = self.selected.as_ref().map(|v| v.modseq) {
            self.untagged(
                StatusKind::Ok,
                Some(Code::HighestModSeq(modseq)),
                "Highest mailbox MODSEQ.",
            );
        }
    }

    /// Why FETCH modifiers are refused, if they are (RFC 7162 §3.2.6).
    pub(super) fn check_fetch_modifiers(
        &self,
        m: FetchModifiers,
        uid: bool,
    ) -> Result<(), &'static str> {
        if !m.vanished {
            Ok(())
        } else if !uid {
            Err("VANISHED is only allowed with UID FETCH.")
        } else if !self.qresync {
            Err("VANISHED needs ENABLE QRESYNC first.")
        } else if m.changed_since.is_none() {
            Err("VANISHED needs CHANGEDSINCE.")
        } else {
            Ok(())
        }
    }

    /// UID FETCH ... (CHANGEDSINCE n VANISHED): `* VANISHED (EARLIER)` for
    /// the UIDs of `set` expunged after MODSEQ `since`, before any FETCH
    /// (RFC 7162 §3.2.6). UIDs the view still holds are left to the
    /// ordinary update at the end of the command, which says VANISHED
    /// without EARLIER and renumbers.
    pub(super) fn report_vanished_earlier(&mut self, set: &SequenceSet, since: u64) {
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let (mailbox_id, largest) = (view.mailbox_id, view.last_uid());
        match self.mail.read(|r| r.expunged_since(mailbox_id, since)) {
            Ok(uids) => {
                let uids: Vec<u32> = uids
                    .into_iter()
                    .filter(|&u| set.contains(u, largest) && view.seq_of(u).is_none())
                    .collect();
                if !uids.is_empty() {
                    self.respond(&Response::Data(Data::Vanished {
                        earlier: true,
                        uids,
                    }));
                }
            }
            Err(e) => tracing::error!(error = %e, "reading the expunge history"),
        }
    }

    /// SELECT (QRESYNC): the expunges and flag changes the client missed,
    /// after the usual SELECT responses (RFC 7162 §3.2.5.1).
    pub(super) fn report_resync(&mut self, resync: Resync) {
        if !resync.vanished.is_empty() {
            self.respond(&Response::Data(Data::Vanished {
                earlier: true,
                uids: resync.vanished,
            }));
        }
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        for m in resync.changed {
            let (Some(seq), Some(uid)) = (view.seq_of(m.uid), NonZeroU32::new(m.uid)) else {
                continue;
            };
            let flags = super::updates::to_fetch_flags(&m.flags, view.is_recent(m.uid));
            let items = vec![
                MessageDataItem::Uid(uid),
                MessageDataItem::Flags(flags),
                MessageDataItem::ModSeq(m.modseq),
            ];
            encode_response(&mut self.out, &Response::Data(Data::Fetch { seq, items }));
        }
    }

    /// The tagged OK of a command that expunged: with QRESYNC (and, as RFC
    /// 7162 §3.2.9 allows, for any CONDSTORE-aware client) it carries the
    /// mailbox's new HIGHESTMODSEQ.
    pub(super) fn completed_with_modseq(
        &mut self,
        tag: Tag,
        command: &'static str,
        started: Instant,
        now: Instant,
        expunged: bool,
    ) {
        let code = match &self.selected {
            Some(view) if expunged && self.condstore => Some(Code::HighestModSeq(view.modseq)),
            _ => None,
        };
        let text = format!("{command} completed");
        self.tagged(tag, command, started, now, StatusKind::Ok, code, &text);
    }
}

/// Removes `uids` from the view and tells the client: one `VANISHED` once
/// QRESYNC is enabled (RFC 7162 §3.2.10.2), else an `EXPUNGE` each. Only
/// UIDs the client was told of are reported.
pub(super) fn report_expunges(out: &mut Vec<u8>, view: &mut View, uids: &[u32], qresync: bool) {
    let mut gone = Vec::new();
    for &uid in uids {
        if let Some(seq) = view.remove(uid) {
            if qresync {
                gone.push(uid);
            } else {
                encode_response(out, &Response::Data(Data::Expunge(seq)));
            }
        }
    }
    if !gone.is_empty() {
        gone.sort_unstable();
        encode_response(
            out,
            &Response::Data(Data::Vanished {
                earlier: false,
                uids: gone,
            }),
        );
    }
}

/// Adds UID and MODSEQ to a FETCH response that lacks them (RFC 7162
/// §3.2.4: flag changes a CONDSTORE-aware client is told of carry both).
pub(super) fn add_uid_and_modseq(items: &mut Vec<MessageDataItem>, uid: NonZeroU32, modseq: u64) {
    if !items.iter().any(|i| matches!(i, MessageDataItem::Uid(_))) {
        items.push(MessageDataItem::Uid(uid));
    }
    if !items
        .iter()
        .any(|i| matches!(i, MessageDataItem::ModSeq(_)))
    {
        items.push(MessageDataItem::ModSeq(modseq));
    }
}

/// Whether a SEARCH uses the MODSEQ key anywhere (RFC 7162 §3.1.5).
pub(super) fn has_modseq_key(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => has_modseq_key(k),
        SearchKey::Or(a, b) => has_modseq_key(a) || has_modseq_key(b),
        SearchKey::And(keys) => keys.iter().any(has_modseq_key),
        _ => false,
    }
}
