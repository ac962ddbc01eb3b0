//! Commands of the selected state (RFC 3501 §6.4) and the untagged updates
//! that tell the client what other sessions changed.
//!
//! Updates come from the store, not from messages between sessions: the
//! view remembers the mailbox's HIGHESTMODSEQ it reflects, and at the points
//! where RFC 3501 §7.4.1 allows it, the session reads what changed since
//! (expunges from the expunge history, new and changed messages from the
//! MODSEQ index) in one snapshot and reports it. EXPUNGE is never sent while
//! answering FETCH, STORE or SEARCH (their UID forms may, RFC 3501 §7.4.1);
//! until it can be sent, the view keeps the old numbering.

use std::num::NonZeroU32;
use std::time::Instant;

use super::{Pending, Session};
use crate::imap::fetch::fetch_items;
use crate::imap::mail::{MailWrite, MailWriteOk};
use crate::imap::mail_search::SearchScope;
use crate::imap::proto::response::{Code, Data, MessageDataItem, Response, StatusKind};
use crate::imap::proto::types::{
    FetchAttr, FetchItems, Flag, FlagFetch, Mailbox, SearchKey, SequenceSet, StoreKind, Tag,
};
use crate::imap::search::{Charset, SUPPORTED_CHARSETS, SearchContext, charset_from_name};

/// Output held before the session waits for the client to read it.
const FETCH_CHUNK: usize = 256 * 1024;

/// A FETCH being answered in chunks.
#[derive(Debug)]
pub(super) struct FetchJob {
    tag: Tag,
    command: &'static str,
    started: Instant,
    attrs: Vec<FetchAttr>,
    targets: Vec<(NonZeroU32, u32)>,
    /// Index of the next target to answer.
    next: usize,
    uid: bool,
    /// UIDs this FETCH set \Seen on, ascending.
    newly_seen: Vec<u32>,
    /// Targets found expunged by another session.
    missing: usize,
}

/// A selected-state command waiting for its write to be durable.
#[derive(Debug)]
pub(super) enum SelectedPending {
    /// CLOSE: expunged silently, then leave the mailbox.
    Close,
    Expunge,
    Store {
        silent: bool,
        uid: bool,
        targets: Vec<(NonZeroU32, u32)>,
    },
    /// A FETCH that sets \Seen answers once the flag is stored.
    Fetch {
        attrs: Vec<FetchAttr>,
        targets: Vec<(NonZeroU32, u32)>,
        uid: bool,
        newly_seen: Vec<u32>,
    },
    Copy,
}

impl Session {
    fn resolve_or_bad(
        &mut self,
        tag: &Tag,
        command: &'static str,
        now: Instant,
        set: &SequenceSet,
        uid: bool,
    ) -> Option<Vec<(NonZeroU32, u32)>> {
        let view = self.selected.as_ref()?;
        match view.resolve(set, uid) {
            Ok(t) => Some(t),
            Err(_) => {
                self.tagged(
                    tag.clone(),
                    command,
                    now,
                    now,
                    StatusKind::Bad,
                    Some(Code::ClientBug),
                    "Invalid message sequence number.",
                );
                None
            }
        }
    }

    fn read_only_refusal(&mut self, tag: Tag, command: &'static str, now: Instant) -> bool {
        if self.selected.as_ref().is_some_and(|v| v.read_only) {
            self.tagged(
                tag,
                command,
                now,
                now,
                StatusKind::No,
                Some(Code::ReadOnly),
                "Mailbox is read-only.",
            );
            return true;
        }
        false
    }

    pub(super) fn check(&mut self, tag: Tag, command: &'static str, now: Instant) {
        self.sync_view(true, false, &[]);
        self.completed(tag, command, now, now);
    }

    pub(super) fn close(&mut self, tag: Tag, now: Instant) {
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        if view.read_only {
            self.selected = None;
            return self.tagged(
                tag,
                "CLOSE",
                now,
                now,
                StatusKind::Ok,
                None,
                "CLOSE completed",
            );
        }
        let op = MailWrite::Expunge {
            mailbox_id: view.mailbox_id,
            uids: None,
        };
        self.start_write(
            tag,
            "CLOSE",
            now,
            op,
            Pending::Selected(SelectedPending::Close),
        );
    }

    pub(super) fn expunge(&mut self, tag: Tag, now: Instant) {
        if self.read_only_refusal(tag.clone(), "EXPUNGE", now) {
            return;
        }
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let op = MailWrite::Expunge {
            mailbox_id: view.mailbox_id,
            uids: None,
        };
        self.start_write(
            tag,
            "EXPUNGE",
            now,
            op,
            Pending::Selected(SelectedPending::Expunge),
        );
    }

    /// UID EXPUNGE (RFC 4315 §2.1): only \Deleted messages in the set go.
    pub(super) fn uid_expunge(&mut self, tag: Tag, set: &SequenceSet, now: Instant) {
        let command = "UID EXPUNGE";
        if self.read_only_refusal(tag.clone(), command, now) {
            return;
        }
        let Some(targets) = self.resolve_or_bad(&tag, command, now, set, true) else {
            return;
        };
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let op = MailWrite::Expunge {
            mailbox_id: view.mailbox_id,
            uids: Some(targets.iter().map(|t| t.1).collect()),
        };
        self.start_write(
            tag,
            command,
            now,
            op,
            Pending::Selected(SelectedPending::Expunge),
        );
    }

    pub(super) fn fetch(
        &mut self,
        tag: Tag,
        set: &SequenceSet,
        items: &FetchItems,
        uid: bool,
        now: Instant,
    ) {
        let command = if uid { "UID FETCH" } else { "FETCH" };
        let Some(targets) = self.resolve_or_bad(&tag, command, now, set, uid) else {
            return;
        };
        let attrs = items.expand();
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let sets_seen = attrs.iter().any(|a| match a {
            FetchAttr::Rfc822 | FetchAttr::Rfc822Text => true,
            FetchAttr::BodySection { peek, .. } => !peek,
            _ => false,
        });
        if sets_seen && !view.read_only {
            let mailbox_id = view.mailbox_id;
            let unseen = self.mail.read(|r| {
                let mut v = Vec::new();
                for &(_, u) in &targets {
                    if let Some(m) = r.message(mailbox_id, u)?
                        && !m.has(&Flag::Seen)
                    {
                        v.push(u);
                    }
                }
                Ok(v)
            });
            match unseen {
                Ok(unseen) if !unseen.is_empty() => {
                    let op = MailWrite::StoreFlags {
                        mailbox_id,
                        uids: unseen.clone(),
                        kind: StoreKind::Add,
                        flags: vec![Flag::Seen],
                    };
                    let pending = SelectedPending::Fetch {
                        attrs,
                        targets,
                        uid,
                        newly_seen: unseen,
                    };
                    return self.start_write(tag, command, now, op, Pending::Selected(pending));
                }
                Ok(_) => {}
                Err(e) => return self.mail_error(tag, command, now, now, &e),
            }
        }
        self.finish_fetch(tag, command, now, now, &attrs, &targets, uid, &[]);
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_fetch(
        &mut self,
        tag: Tag,
        command: &'static str,
        started: Instant,
        now: Instant,
        attrs: &[FetchAttr],
        targets: &[(NonZeroU32, u32)],
        uid: bool,
        newly_seen: &[u32],
    ) {
        let mut newly_seen = newly_seen.to_vec();
        newly_seen.sort_unstable();
        let job = FetchJob {
            tag,
            command,
            started,
            attrs: attrs.to_vec(),
            targets: targets.to_vec(),
            next: 0,
            uid,
            newly_seen,
            missing: 0,
        };
        self.run_fetch(job, now);
    }

    /// Answers FETCH a chunk at a time: once `FETCH_CHUNK` bytes are
    /// waiting, the session pauses until the driver has written them
    /// (`output_drained`), so a FETCH of a whole mailbox holds about one
    /// chunk in memory, not the mailbox.
    pub(super) fn run_fetch(&mut self, mut job: FetchJob, now: Instant) {
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let mailbox_id = view.mailbox_id;
        let wants_flags = job.attrs.contains(&FetchAttr::Flags);
        let out = &mut self.out;
        let read = self.mail.read(|r| {
            while let Some(&(seq, u)) = job.targets.get(job.next) {
                if out.len() >= FETCH_CHUNK {
                    break;
                }
                job.next += 1;
                let Some(facts) = r.facts(mailbox_id, u, seq, view.is_recent(u))? else {
                    job.missing += 1;
                    continue;
                };
                let mut items = fetch_items(&job.attrs, &facts, job.uid).items;
                if !wants_flags && job.newly_seen.binary_search(&u).is_ok() {
                    // RFC 3501 §6.4.5: the \Seen just set is reported.
                    items.push(MessageDataItem::Flags(facts.flags.clone()));
                }
                crate::imap::proto::encode::encode_response(
                    out,
                    &Response::Data(Data::Fetch { seq, items }),
                );
            }
            Ok(())
        });
        if let Err(e) = read {
            return self.mail_error(job.tag, job.command, job.started, now, &e);
        }
        if job.next < job.targets.len() {
            self.wait = super::Wait::Output(Box::new(job));
            self.actions.push_back(super::Action::AwaitDrain);
            return;
        }
        // The \Seen set by this FETCH was reported above.
        self.sync_view(job.uid, job.uid, &job.newly_seen);
        let FetchJob {
            tag,
            command,
            started,
            missing,
            ..
        } = job;
        if missing > 0 {
            // RFC 2180 §4.1.2: messages expunged by another session.
            self.tagged(
                tag,
                command,
                started,
                now,
                StatusKind::No,
                Some(Code::ExpungeIssued),
                "Some of the requested messages no longer exist.",
            )
        } else {
            self.completed(tag, command, started, now)
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn store(
        &mut self,
        tag: Tag,
        set: &SequenceSet,
        kind: StoreKind,
        silent: bool,
        flags: Vec<Flag>,
        uid: bool,
        now: Instant,
    ) {
        let command = if uid { "UID STORE" } else { "STORE" };
        if self.read_only_refusal(tag.clone(), command, now) {
            return;
        }
        let Some(targets) = self.resolve_or_bad(&tag, command, now, set, uid) else {
            return;
        };
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        if targets.is_empty() {
            self.sync_view(uid, uid, &[]);
            return self.completed(tag, command, now, now);
        }
        let op = MailWrite::StoreFlags {
            mailbox_id: view.mailbox_id,
            uids: targets.iter().map(|t| t.1).collect(),
            kind,
            flags,
        };
        self.start_write(
            tag,
            command,
            now,
            op,
            Pending::Selected(SelectedPending::Store {
                silent,
                uid,
                targets,
            }),
        );
    }

    pub(super) fn copy(
        &mut self,
        tag: Tag,
        set: &SequenceSet,
        mailbox: Mailbox,
        uid: bool,
        now: Instant,
    ) {
        let command = if uid { "UID COPY" } else { "COPY" };
        let Some(targets) = self.resolve_or_bad(&tag, command, now, set, uid) else {
            return;
        };
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        if targets.is_empty() {
            return self.completed(tag, command, now, now);
        }
        let op = MailWrite::Copy {
            from_mailbox: view.mailbox_id,
            uids: targets.iter().map(|t| t.1).collect(),
            to: mailbox.as_str().to_string(),
        };
        self.start_write(
            tag,
            command,
            now,
            op,
            Pending::Selected(SelectedPending::Copy),
        );
    }

    pub(super) fn search(
        &mut self,
        tag: Tag,
        charset: Option<&str>,
        criteria: &SearchKey,
        uid: bool,
        now: Instant,
    ) {
        let command = if uid { "UID SEARCH" } else { "SEARCH" };
        let charset = match charset {
            None => Charset::UsAscii,
            Some(name) => match charset_from_name(name) {
                Some(c) => c,
                None => {
                    return self.tagged(
                        tag,
                        command,
                        now,
                        now,
                        StatusKind::No,
                        Some(Code::BadCharset(
                            SUPPORTED_CHARSETS.iter().map(|s| s.to_string()).collect(),
                        )),
                        "Unsupported charset.",
                    );
                }
            },
        };
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        // A sequence number the client was never told of is as much an
        // error in SEARCH as in FETCH (RFC 3501 §9, seq-number).
        if !sequence_keys_valid(criteria, view) {
            return self.tagged(
                tag,
                command,
                now,
                now,
                StatusKind::Bad,
                Some(Code::ClientBug),
                "Invalid message sequence number.",
            );
        }
        let ctx = SearchContext {
            max_seq: view.exists(),
            max_uid: view.last_uid(),
            charset,
        };
        let recent = |u: u32| view.is_recent(u);
        let scope = SearchScope {
            mailbox_id: view.mailbox_id,
            uids: view.uids(),
            recent: &recent,
        };
        let found = self.mail.search(&scope, criteria, &ctx);
        match found {
            Ok(hits) => {
                let hits = hits
                    .into_iter()
                    .map(|(seq, u)| if uid { u } else { seq })
                    .collect();
                self.respond(&Response::Data(Data::Search(hits)));
                self.sync_view(uid, uid, &[]);
                self.completed(tag, command, now, now)
            }
            Err(e) => self.mail_error(tag, command, now, now, &e),
        }
    }

    /// The end of a selected-state write.
    pub(super) fn finish_selected_write(
        &mut self,
        tag: Tag,
        command: &'static str,
        started: Instant,
        now: Instant,
        pending: SelectedPending,
        ok: MailWriteOk,
    ) {
        match pending {
            SelectedPending::Close => {
                // CLOSE expunges silently (RFC 3501 §6.4.2).
                self.selected = None;
                self.tagged(
                    tag,
                    command,
                    started,
                    now,
                    StatusKind::Ok,
                    None,
                    "CLOSE completed",
                )
            }
            SelectedPending::Expunge => {
                self.sync_view(true, false, &[]);
                self.completed(tag, command, started, now)
            }
            SelectedPending::Copy => {
                self.sync_view(true, false, &[]);
                // RFC 4315 §3: COPYUID pairs each copied UID with its copy.
                let code = match ok {
                    MailWriteOk::Copied { uidvalidity, pairs } if !pairs.is_empty() => {
                        Some(Code::CopyUid {
                            uidvalidity,
                            source: pairs.iter().map(|p| p.0).collect(),
                            destination: pairs.iter().map(|p| p.1).collect(),
                        })
                    }
                    _ => None,
                };
                self.tagged(
                    tag,
                    command,
                    started,
                    now,
                    StatusKind::Ok,
                    code,
                    &format!("{command} completed"),
                )
            }
            SelectedPending::Fetch {
                attrs,
                targets,
                uid,
                newly_seen,
            } => self.finish_fetch(
                tag,
                command,
                started,
                now,
                &attrs,
                &targets,
                uid,
                &newly_seen,
            ),
            SelectedPending::Store {
                silent,
                uid,
                targets,
            } => {
                let changed = match ok {
                    MailWriteOk::Stored { changed, .. } => changed,
                    _ => Vec::new(),
                };
                let skip: Vec<u32> = if silent {
                    // .SILENT: no FETCH for this command's own changes
                    // (RFC 3501 §6.4.6); other sessions' still show.
                    changed
                } else {
                    self.report_flags(&targets, uid);
                    targets.iter().map(|t| t.1).collect()
                };
                self.sync_view(uid, uid, &skip);
                self.completed(tag, command, started, now)
            }
        }
    }

    /// `* n FETCH (FLAGS (...))` for each target still there.
    fn report_flags(&mut self, targets: &[(NonZeroU32, u32)], uid: bool) {
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let mailbox_id = view.mailbox_id;
        let out = &mut self.out;
        let r = self.mail.read(|r| {
            for &(seq, u) in targets {
                if let Some(m) = r.message(mailbox_id, u)? {
                    let items = flag_items(m.flags, view.is_recent(u), uid.then_some(u));
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
    }

    /// Reports what changed in the selected mailbox since the view was last
    /// brought up to date: EXPUNGE (only if `allow_expunge`), EXISTS for new
    /// messages, and FETCH FLAGS for changed ones not in `skip`.
    pub(super) fn sync_view(&mut self, allow_expunge: bool, uid_cmd: bool, skip: &[u32]) {
        let mut skip = skip.to_vec();
        skip.sort_unstable();
        let Some(view) = self.selected.as_mut() else {
            return;
        };
        let (mailbox_id, since, last_uid) = (view.mailbox_id, view.modseq, view.last_uid());
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
                )));
            }
            Ok(Some((
                mb.highest_modseq,
                mb.recent_floor,
                r.expunged_since(mailbox_id, since)?,
                r.changed_since(mailbox_id, since)?,
            )))
        });
        let (modseq, stored_floor, expunged, changed) = match snapshot {
            Ok(Some(s)) => s,
            Ok(None) => {
                // The mailbox was deleted under this session (RFC 2180 §3):
                // its messages are gone.
                if allow_expunge {
                    while view.exists() > 0 {
                        let last = view.last_uid();
                        if let Some(seq) = view.remove(last) {
                            crate::imap::proto::encode::encode_response(
                                &mut self.out,
                                &Response::Data(Data::Expunge(seq)),
                            );
                        }
                    }
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
            return;
        }
        for uid in expunged {
            if let Some(seq) = view.remove(uid) {
                crate::imap::proto::encode::encode_response(
                    &mut self.out,
                    &Response::Data(Data::Expunge(seq)),
                );
            }
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
                if uid_cmd && let Some(u) = NonZeroU32::new(m.uid) {
                    items.push(MessageDataItem::Uid(u));
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

fn to_fetch_flags(flags: &[Flag], recent: bool) -> Vec<FlagFetch> {
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

/// Whether every message-sequence-number set inside a SEARCH key names
/// only messages the view has (UID sets may name any UID).
fn sequence_keys_valid(key: &SearchKey, view: &super::view::View) -> bool {
    match key {
        SearchKey::SequenceSet(set) => view.resolve(set, false).is_ok(),
        SearchKey::Not(k) => sequence_keys_valid(k, view),
        SearchKey::Or(a, b) => sequence_keys_valid(a, view) && sequence_keys_valid(b, view),
        SearchKey::And(keys) => keys.iter().all(|k| sequence_keys_valid(k, view)),
        _ => true,
    }
}
