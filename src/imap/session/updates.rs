//! The untagged updates that tell a client what other sessions changed
//! (RFC 3501 §7.4.1), and the FETCH FLAGS a STORE answers with.
//!
//! Updates come from the store, not from messages between sessions: the
//! view remembers the mailbox's HIGHESTMODSEQ it reflects, and at the points
//! where RFC 3501 §7.4.1 allows it, the session reads what changed since
//! (expunges from the expunge history, new and changed messages from the
//! MODSEQ index) in one snapshot and reports it. EXPUNGE is never sent while
//! answering FETCH, STORE or SEARCH (their UID forms may, RFC 3501 §7.4.1);
//! until it can be sent, the view keeps the old numbering.

use std::num::NonZeroU32;

use super::Session;
use crate::imap::proto::response::{
    Code, Data, MessageDataItem, Response, StatusKind, StatusResponse,
};
use crate::imap::proto::types::{Flag, FlagFetch};

impl Session {
    /// `* n FETCH (FLAGS (...))` for each target still there, with UID for
    /// UID commands and, once CONDSTORE-aware, UID and MODSEQ (RFC 7162
    /// §3.2.4); without FLAGS when `with_flags` is false.
    pub(super) fn report_flags(
        &mut self,
        targets: &[(NonZeroU32, u32)],
        uid: bool,
        with_flags: bool,
    ) {
        let Some(view) = self.state.view() else {
            return;
        };
        let mailbox_id = view.mailbox_id;
        let condstore = self.condstore;
        let out = &mut self.out;
        let mut announced = None;
        let r = self.mail.read(|r| {
            // A keyword this STORE brought is announced before the FETCH
            // that shows it (RFC 3501 §7.2.6).
            if let Some(mb) = r.mailbox_by_id(mailbox_id)?
                && let Some(keywords) = new_keywords(&view.keywords, &mb.keywords)
            {
                super::mailbox::flags_responses(out, &keywords, view.read_only);
                announced = Some(keywords);
            }
            for &(seq, u) in targets {
                if let Some(m) = r.message(mailbox_id, u)? {
                    let mut items = flag_items(m.flags, view.is_recent(u), uid.then_some(u));
                    if !with_flags {
                        items.remove(0);
                    }
                    if condstore && let Some(u) = NonZeroU32::new(u) {
                        super::condstore::add_uid_and_modseq(&mut items, u, m.modseq);
                    }
                    crate::imap::proto::encode::encode_response(
                        out,
                        &Response::Data(Data::Fetch { seq, items }),
                    );
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            tracing::error!(error = %e, "reading flags after STORE");
        }
        if let Some(keywords) = announced
            && let Some(view) = self.state.view_mut()
        {
            view.keywords = keywords;
        }
    }

    /// Tells the client of keywords the mailbox has that it was not told
    /// of yet (another session's STORE, an APPEND or COPY brought them),
    /// before anything shows them: at the start of FETCH, whose snapshot
    /// may be newer than the view.
    pub(super) fn announce_new_keywords(&mut self) {
        let Some(view) = self.state.view() else {
            return;
        };
        let mailbox_id = view.mailbox_id;
        let keywords = match self.mail.read(|r| r.mailbox_by_id(mailbox_id)) {
            Ok(Some(mb)) => new_keywords(&view.keywords, &mb.keywords),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "reading the mailbox's keywords");
                None
            }
        };
        if let Some(keywords) = keywords {
            super::mailbox::flags_responses(&mut self.out, &keywords, view.read_only);
            if let Some(view) = self.state.view_mut() {
                view.keywords = keywords;
            }
        }
    }

    /// Reports what changed in the selected mailbox since the view was last
    /// brought up to date: EXPUNGE (only if `allow_expunge`), EXISTS for new
    /// messages, and FETCH FLAGS for changed ones not in `skip`.
    pub(super) fn sync_view(&mut self, allow_expunge: bool, uid_cmd: bool, skip: &[u32]) {
        let mut skip = skip.to_vec();
        skip.sort_unstable();
        let (condstore, qresync) = (self.condstore, self.qresync);
        let Some(view) = self.state.view_mut() else {
            return;
        };
        let (mailbox_id, since, last_uid) = (view.mailbox_id, view.modseq, view.last_uid());
        // This command's own changes are not read back: they are reported
        // already, or not at all (.SILENT). Only UIDs the view has may be
        // left out, so a new message is never missed.
        let own: Vec<u32> = skip.iter().copied().filter(|&u| u <= last_uid).collect();
        let snapshot = self.mail.read(|r| {
            let Some(mb) = r.mailbox_by_id(mailbox_id)? else {
                return Ok(None);
            };
            if mb.highest_modseq == since {
                return Ok(Some((
                    mb.highest_modseq,
                    mb.recent_floor,
                    Vec::new(),
                    Vec::new(),
                    mb.keywords,
                )));
            }
            Ok(Some((
                mb.highest_modseq,
                mb.recent_floor,
                r.expunged_since(mailbox_id, since)?,
                r.changed_since_except(mailbox_id, since, &own)?,
                mb.keywords,
            )))
        });
        let (modseq, stored_floor, expunged, changed, keywords) = match snapshot {
            Ok(Some(s)) => s,
            Ok(None) => {
                // The mailbox was deleted under this session (RFC 2180 §3):
                // its messages are gone.
                if allow_expunge {
                    let all = view.uids().to_vec();
                    super::condstore::report_expunges(&mut self.out, view, &all, qresync);
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "reading mailbox changes");
                return;
            }
        };
        if !allow_expunge && expunged.iter().any(|&uid| view.seq_of(uid).is_some()) {
            // An EXPUNGE may not be sent now (RFC 3501 §7.4.1): report
            // nothing, so the numbering the client knows stays whole, and
            // tell it all at the next point where EXPUNGE is allowed.
            if condstore {
                // RFC 7162 §3.2: this command may have shown MODSEQs above
                // the held-back expunge's; a HIGHESTMODSEQ below it keeps
                // a client that reconnects from losing the expunge.
                let modseq = view.modseq;
                crate::imap::proto::encode::encode_response(
                    &mut self.out,
                    &Response::Status(StatusResponse::untagged(
                        StatusKind::Ok,
                        Some(Code::HighestModSeq(modseq)),
                        "Highest mailbox MODSEQ reported so far.",
                    )),
                );
            }
            return;
        }
        super::condstore::report_expunges(&mut self.out, view, &expunged, qresync);
        if let Some(keywords) = new_keywords(&view.keywords, &keywords) {
            super::mailbox::flags_responses(&mut self.out, &keywords, view.read_only);
            view.keywords = keywords;
        }
        let new: Vec<u32> = changed
            .iter()
            .map(|m| m.uid)
            .filter(|&uid| uid > last_uid)
            .collect();
        if let Some(&highest) = new.last() {
            // RFC 3501 §2.3.2: a message that arrives while the mailbox is
            // selected is \Recent in the first session told of it, and in
            // no other; a read-only session sees it without taking it.
            let recent = if view.read_only {
                self.mail.recent_floor(mailbox_id, stored_floor)..u32::MAX
            } else {
                self.mail
                    .claim_recent(mailbox_id, stored_floor, highest.saturating_add(1))
            };
            for &uid in &new {
                view.push(uid);
                if recent.contains(&uid) {
                    view.mark_recent(uid);
                }
            }
            crate::imap::proto::encode::encode_response(
                &mut self.out,
                &Response::Data(Data::Exists(view.exists())),
            );
            crate::imap::proto::encode::encode_response(
                &mut self.out,
                &Response::Data(Data::Recent(view.recent_count())),
            );
        }
        for m in changed
            .iter()
            .filter(|m| m.uid <= last_uid && skip.binary_search(&m.uid).is_err())
        {
            if let Some(seq) = view.seq_of(m.uid) {
                let mut items = vec![MessageDataItem::Flags(to_fetch_flags(
                    &m.flags,
                    view.is_recent(m.uid),
                ))];
                if let Some(u) = NonZeroU32::new(m.uid) {
                    if uid_cmd {
                        items.push(MessageDataItem::Uid(u));
                    }
                    if condstore {
                        super::condstore::add_uid_and_modseq(&mut items, u, m.modseq);
                    }
                }
                crate::imap::proto::encode::encode_response(
                    &mut self.out,
                    &Response::Data(Data::Fetch { seq, items }),
                );
            }
        }
        view.modseq = modseq;
    }
}

/// The mailbox's keywords, if it has one the session was not told of.
fn new_keywords(told: &[String], now: &[String]) -> Option<Vec<String>> {
    now.iter()
        .any(|k| !told.iter().any(|t| t.eq_ignore_ascii_case(k)))
        .then(|| now.to_vec())
}

pub(super) fn to_fetch_flags(flags: &[Flag], recent: bool) -> Vec<FlagFetch> {
    let mut v: Vec<FlagFetch> = flags.iter().cloned().map(FlagFetch::Flag).collect();
    if recent {
        v.push(FlagFetch::Recent);
    }
    v
}

fn flag_items(flags: Vec<Flag>, recent: bool, uid: Option<u32>) -> Vec<MessageDataItem> {
    let mut items = vec![MessageDataItem::Flags(to_fetch_flags(&flags, recent))];
    if let Some(u) = uid.and_then(NonZeroU32::new) {
        items.push(MessageDataItem::Uid(u));
    }
    items
}
