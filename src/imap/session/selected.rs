//! Commands of the selected state (RFC 3501 §6.4). After each, the session
//! reports what other sessions changed (`updates`), where RFC 3501 §7.4.1
//! allows it.

use std::num::NonZeroU32;
use std::time::Instant;

use super::{Action, Pending, Session, Wait};
use crate::imap::fetch::{FetchItem, LazyParts, MessageFacts, fetch_item};
use crate::imap::proto::encode::{QUOTED_MAX, fetch_pieces};
use crate::imap::proto::response::{Code, Data, MessageDataItem, Response, StatusKind};
use crate::imap::proto::types::{
    FetchAttr, FetchItems, FetchModifiers, Flag, Mailbox, SearchKey, SequenceSet, StoreKind, Tag,
};
use crate::mailbox::{MailError, MailWrite, MailWriteOk, SearchRequest};
use crate::search::matcher::{Charset, SUPPORTED_CHARSETS, SearchContext, charset_from_name};

/// Output held before the session waits for the client to read it.
const FETCH_CHUNK: usize = 256 * 1024;
/// The least literal data copied per step, so a nearly full chunk still
/// moves a long literal forward.
const LITERAL_PIECE_MIN: usize = 16 * 1024;

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
    /// RFC 7162 CHANGEDSINCE: only messages with a higher MODSEQ answer.
    changed_since: Option<u64>,
    /// Where the answer for `targets[next]` stopped, if it is half written.
    within: Option<Within>,
}

/// A point inside one message's FETCH response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Within {
    /// The item being written.
    item: usize,
    /// Octets of its literal data already written.
    offset: usize,
    /// Octets of its literal data still to write.
    literal_left: usize,
}

/// One item of a message's answer, before its data is looked up.
enum ItemSpec<'j> {
    Attr(&'j FetchAttr),
    Whole(MessageDataItem),
}

/// The items of one message's answer, in order: `UID` first for UID FETCH
/// (RFC 3501 §6.4.8), the attributes asked for, then what a `\Seen` just
/// set adds (RFC 3501 §6.4.5; with UID and MODSEQ once CONDSTORE-aware,
/// RFC 7162 §3.2.4). The same every time for the same message, so a
/// response can be resumed at an item.
fn message_items<'j>(
    job: &'j FetchJob,
    facts: &MessageFacts<'_>,
    uid: u32,
    wants_flags: bool,
    condstore: bool,
) -> Vec<ItemSpec<'j>> {
    let mut items = Vec::with_capacity(job.attrs.len() + 3);
    let has_uid = job.attrs.contains(&FetchAttr::Uid);
    if job.uid && !has_uid {
        items.push(ItemSpec::Whole(MessageDataItem::Uid(facts.uid)));
    }
    items.extend(job.attrs.iter().map(ItemSpec::Attr));
    if job.newly_seen.binary_search(&uid).is_ok() {
        if !wants_flags {
            items.push(ItemSpec::Whole(MessageDataItem::Flags(facts.flags.clone())));
        }
        if condstore {
            if !has_uid && !job.uid {
                items.push(ItemSpec::Whole(MessageDataItem::Uid(facts.uid)));
            }
            if !job.attrs.contains(&FetchAttr::ModSeq) {
                items.push(ItemSpec::Whole(MessageDataItem::ModSeq(facts.modseq)));
            }
        }
    }
    items
}

/// Writes one message's FETCH response into `out`, from `resume` if it was
/// begun before, until it is whole (`None`) or `out` holds `FETCH_CHUNK`
/// octets (`Some`: where to go on). Literal data is copied from the
/// stored message a piece at a time; small data is written as
/// `encode_response` would.
fn stream_message(
    out: &mut Vec<u8>,
    seq: NonZeroU32,
    items: &[ItemSpec<'_>],
    facts: &MessageFacts<'_>,
    resume: Option<Within>,
) -> Option<Within> {
    let (first, mut offset) = match resume {
        Some(at) => (at.item, at.offset),
        None => {
            fetch_pieces::start(out, seq);
            (0, 0)
        }
    };
    let mut parts = LazyParts::new(facts.parts);
    for (i, spec) in items.iter().enumerate().skip(first) {
        if i > 0 && offset == 0 {
            out.push(b' ');
        }
        let item = match spec {
            ItemSpec::Whole(item) => FetchItem::Whole(item.clone()),
            ItemSpec::Attr(attr) => fetch_item(attr, facts, &mut parts),
        };
        match item {
            FetchItem::Data {
                name,
                data: Some(data),
            } if data.len() > QUOTED_MAX => {
                if offset == 0 {
                    fetch_pieces::data_item_name(out, &name);
                    fetch_pieces::literal_head(out, data.len());
                }
                let room = FETCH_CHUNK.saturating_sub(out.len()).max(LITERAL_PIECE_MIN);
                let end = offset.saturating_add(room).min(data.len());
                out.extend_from_slice(&data[offset..end]);
                if end < data.len() {
                    return Some(Within {
                        item: i,
                        offset: end,
                        literal_left: data.len() - end,
                    });
                }
            }
            item => fetch_pieces::item(out, &item.into_owned()),
        }
        offset = 0;
        if out.len() >= FETCH_CHUNK && i + 1 < items.len() {
            return Some(Within {
                item: i + 1,
                offset: 0,
                literal_left: 0,
            });
        }
    }
    fetch_pieces::end(out);
    None
}

/// What a STORE asks for (RFC 3501 §6.4.6, RFC 7162 §3.1.3).
#[derive(Debug)]
pub(super) struct FlagChange {
    pub kind: StoreKind,
    pub silent: bool,
    pub flags: Vec<Flag>,
    pub unchanged_since: Option<u64>,
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
        conditional: bool,
    },
    /// A FETCH that sets \Seen answers once the flag is stored.
    Fetch {
        attrs: Vec<FetchAttr>,
        targets: Vec<(NonZeroU32, u32)>,
        uid: bool,
        newly_seen: Vec<u32>,
        changed_since: Option<u64>,
    },
    /// COPY into `dest` (as the client named it).
    Copy {
        dest: String,
    },
    /// RFC 6851 MOVE (finished in `moving`).
    Move {
        uid: bool,
        dest: String,
    },
}

impl Session {
    /// The selected mailbox and the messages a STORE or MOVE changes. With none
    /// to change, the command is answered here (after the updates it may
    /// send) and `None` is returned, as it is after a BAD.
    pub(super) fn write_targets(
        &mut self,
        tag: &Tag,
        command: &'static str,
        now: Instant,
        set: &SequenceSet,
        uid: bool,
    ) -> Option<(u64, Vec<(NonZeroU32, u32)>)> {
        let targets = self.resolve_or_bad(tag, command, now, set, uid)?;
        let mailbox_id = self.state.view()?.mailbox_id;
        if targets.is_empty() {
            self.sync_view(uid, uid, &[]);
            self.completed(tag.clone(), command, now, now);
            return None;
        }
        Some((mailbox_id, targets))
    }

    pub(super) fn resolve_or_bad(
        &mut self,
        tag: &Tag,
        command: &'static str,
        now: Instant,
        set: &SequenceSet,
        uid: bool,
    ) -> Option<Vec<(NonZeroU32, u32)>> {
        let view = self.state.view()?;
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

    pub(super) fn read_only_refusal(
        &mut self,
        tag: Tag,
        command: &'static str,
        now: Instant,
    ) -> bool {
        if self.state.view().is_some_and(|v| v.read_only) {
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
        let Some(view) = self.state.view() else {
            return;
        };
        if view.read_only {
            self.state.deselect();
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
        let Some(view) = self.state.view() else {
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
        let Some(view) = self.state.view() else {
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
        modifiers: FetchModifiers,
        now: Instant,
    ) {
        let command = if uid { "UID FETCH" } else { "FETCH" };
        if let Err(reason) = self.check_fetch_modifiers(modifiers, uid) {
            return self.tagged(tag, command, now, now, StatusKind::Bad, None, reason);
        }
        let Some(targets) = self.resolve_or_bad(&tag, command, now, set, uid) else {
            return;
        };
        self.announce_new_keywords();
        let mut attrs = items.expand();
        if modifiers.changed_since.is_some() || attrs.contains(&FetchAttr::ModSeq) {
            self.condstore_enabling();
        }
        if let Some(since) = modifiers.changed_since {
            // RFC 7162 §3.1.4: CHANGEDSINCE implies MODSEQ.
            if !attrs.contains(&FetchAttr::ModSeq) {
                attrs.push(FetchAttr::ModSeq);
            }
            if modifiers.vanished {
                self.report_vanished_earlier(set, since);
            }
        }
        let Some(view) = self.state.view() else {
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
                        unchanged_since: None,
                    };
                    let pending = SelectedPending::Fetch {
                        attrs,
                        targets,
                        uid,
                        newly_seen: unseen,
                        changed_since: modifiers.changed_since,
                    };
                    return self.start_write(tag, command, now, op, Pending::Selected(pending));
                }
                Ok(_) => {}
                Err(e) => return self.mail_error(tag, command, now, now, &e),
            }
        }
        let job = FetchJob::new(tag, command, now, attrs, targets, uid, Vec::new());
        self.run_fetch(
            FetchJob {
                changed_since: modifiers.changed_since,
                ..job
            },
            now,
        );
    }

    /// Answers FETCH a chunk at a time: once `FETCH_CHUNK` bytes are
    /// waiting, the session pauses until the driver has written them
    /// (`output_drained`). Message data is copied from the store into the
    /// output a chunk at a time too, even inside one literal, so a FETCH
    /// holds about one chunk in memory whatever the size of the messages or
    /// how many times it names them (`BODY[]` twenty times costs what it
    /// costs once, only longer).
    pub(super) fn run_fetch(&mut self, mut job: FetchJob, now: Instant) {
        let Some(view) = self.state.view() else {
            return;
        };
        let mailbox_id = view.mailbox_id;
        let wants_flags = job.attrs.contains(&FetchAttr::Flags);
        let condstore = self.condstore;
        let out = &mut self.out;
        let read = self.mail.read(|r| {
            while let Some(&(seq, u)) = job.targets.get(job.next) {
                if out.len() >= FETCH_CHUNK {
                    break;
                }
                let resume = job.within.take();
                let Some(facts) = r.facts(mailbox_id, u, seq, view.is_recent(u))? else {
                    job.next += 1;
                    match resume {
                        None => job.missing += 1,
                        // Expunged by another session (and its body
                        // freed) in the middle of its answer: the literal
                        // already announced is filled and the response
                        // closed, so the stream stays well-formed.
                        Some(at) => {
                            tracing::warn!(uid = u, "message expunged while being fetched");
                            out.resize(out.len() + at.literal_left, b' ');
                            fetch_pieces::end(out);
                        }
                    }
                    continue;
                };
                if resume.is_none() && job.changed_since.is_some_and(|since| facts.modseq <= since)
                {
                    job.next += 1;
                    continue;
                }
                let items = message_items(&job, &facts, u, wants_flags, condstore);
                match stream_message(out, seq, &items, &facts, resume) {
                    None => job.next += 1,
                    Some(at) => {
                        job.within = Some(at);
                        break;
                    }
                }
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
            uid: job_uid,
            ..
        } = job;
        if missing > 0 && !job_uid {
            // RFC 2180 §4.1.2: messages expunged by another session. A UID
            // FETCH has just reported them expunged (above), so leaving
            // them out is the whole answer, as a resynchronising client
            // (RFC 7162 CHANGEDSINCE) expects.
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

    pub(super) fn store(
        &mut self,
        tag: Tag,
        set: &SequenceSet,
        change: FlagChange,
        uid: bool,
        now: Instant,
    ) {
        let command = if uid { "UID STORE" } else { "STORE" };
        if self.read_only_refusal(tag.clone(), command, now) {
            return;
        }
        let FlagChange {
            kind,
            silent,
            flags,
            unchanged_since,
        } = change;
        if unchanged_since.is_some() {
            self.condstore_enabling();
        }
        let Some((mailbox_id, targets)) = self.write_targets(&tag, command, now, set, uid) else {
            return;
        };
        let op = MailWrite::StoreFlags {
            mailbox_id,
            uids: targets.iter().map(|t| t.1).collect(),
            kind,
            flags,
            unchanged_since,
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
                conditional: unchanged_since.is_some(),
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
        let Some(view) = self.state.view() else {
            return;
        };
        if targets.is_empty() {
            return self.completed(tag, command, now, now);
        }
        let dest = mailbox.as_str().to_string();
        let op = MailWrite::Copy {
            from_mailbox: view.mailbox_id,
            uids: targets.iter().map(|t| t.1).collect(),
            to: dest.clone(),
        };
        self.start_write(
            tag,
            command,
            now,
            op,
            Pending::Selected(SelectedPending::Copy { dest }),
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
        let Some(view) = self.state.view() else {
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
        let request = SearchRequest {
            mailbox_id: view.mailbox_id,
            uids: view.uids().to_vec(),
            recent: view.recent_uids(),
            key: criteria.clone(),
            ctx: SearchContext {
                max_seq: view.exists(),
                max_uid: view.last_uid(),
                charset,
            },
        };
        // A scan can take seconds: the driver runs it elsewhere and hands
        // the answer back (`search_result`), so the thread it runs on keeps
        // serving other connections.
        let ticket = self.ticket();
        self.wait = Wait::Search {
            ticket,
            tag,
            command,
            started: now,
            uid,
            modseq_key: super::condstore::has_modseq_key(criteria),
        };
        self.actions.push_back(Action::Search {
            ticket,
            request: Box::new(request),
        });
    }

    /// The SEARCH asked for by `Action::Search` finished.
    pub fn search_result(
        &mut self,
        ticket: u64,
        result: Result<Vec<(u32, u32, u64)>, MailError>,
        now: super::Now,
    ) {
        let now = self.clock(now);
        let (tag, command, started, uid, modseq_key) =
            match std::mem::replace(&mut self.wait, Wait::Nothing) {
                Wait::Search {
                    ticket: t,
                    tag,
                    command,
                    started,
                    uid,
                    modseq_key,
                } if t == ticket => (tag, command, started, uid, modseq_key),
                other => {
                    self.wait = other;
                    tracing::error!(ticket, "search result for no pending search");
                    return;
                }
            };
        match result {
            Ok(found) => {
                let modseq = found.iter().map(|&(_, _, m)| m).max().unwrap_or(0);
                let hits = found
                    .into_iter()
                    .map(|(seq, u, _)| if uid { u } else { seq })
                    .collect();
                if modseq_key {
                    // RFC 7162 §3.1.5: MODSEQ in the criteria adds the
                    // highest MODSEQ of the hits to the answer.
                    self.condstore_enabling();
                    self.respond(&Response::Data(Data::SearchModSeq { hits, modseq }));
                } else {
                    self.respond(&Response::Data(Data::Search(hits)));
                }
                self.sync_view(uid, uid, &[]);
                self.completed(tag, command, started, now)
            }
            Err(e) => self.mail_error(tag, command, started, now, &e),
        }
        self.process(now);
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
                if let MailWriteOk::Expunged { uids, size } = &ok {
                    self.log_expunge(command, uids, *size);
                }
                // CLOSE expunges silently (RFC 3501 §6.4.2).
                self.state.deselect();
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
                if let MailWriteOk::Expunged { uids, size } = &ok {
                    self.log_expunge(command, uids, *size);
                }
                self.sync_view(true, false, &[]);
                let expunged =
                    matches!(&ok, MailWriteOk::Expunged { uids, .. } if !uids.is_empty());
                self.completed_with_modseq(tag, command, started, now, expunged)
            }
            SelectedPending::Move { uid, dest } => {
                if let MailWriteOk::Moved {
                    uidvalidity,
                    pairs,
                    size,
                } = &ok
                {
                    self.log_copy(command, true, &dest, *uidvalidity, pairs, *size);
                }
                self.finish_move(tag, command, started, now, uid, ok)
            }
            SelectedPending::Copy { dest } => {
                if let MailWriteOk::Copied {
                    uidvalidity,
                    pairs,
                    size,
                } = &ok
                {
                    self.log_copy(command, false, &dest, *uidvalidity, pairs, *size);
                }
                self.sync_view(true, false, &[]);
                // RFC 4315 §3: COPYUID pairs each copied UID with its copy.
                let code = match ok {
                    MailWriteOk::Copied {
                        uidvalidity, pairs, ..
                    } if !pairs.is_empty() => Some(Code::CopyUid {
                        uidvalidity,
                        source: pairs.iter().map(|p| p.0).collect(),
                        destination: pairs.iter().map(|p| p.1).collect(),
                    }),
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
                mut newly_seen,
                changed_since,
            } => {
                newly_seen.sort_unstable();
                let job = FetchJob::new(tag, command, started, attrs, targets, uid, newly_seen);
                self.run_fetch(
                    FetchJob {
                        changed_since,
                        ..job
                    },
                    now,
                )
            }
            SelectedPending::Store {
                silent,
                uid,
                targets,
                conditional,
            } => {
                let (changed, modified) = match ok {
                    MailWriteOk::Stored {
                        changed, modified, ..
                    } => (changed, modified),
                    _ => (Vec::new(), Vec::new()),
                };
                // Messages that failed UNCHANGEDSINCE were not touched here;
                // another session changed them, and the sync reports that.
                let done: Vec<(NonZeroU32, u32)> = targets
                    .iter()
                    .copied()
                    .filter(|t| !modified.contains(&t.1))
                    .collect();
                let skip: Vec<u32> = if silent && !conditional {
                    // .SILENT: no FETCH for this command's own changes
                    // (RFC 3501 §6.4.6); other sessions' still show.
                    changed
                } else {
                    // RFC 7162 §3.1.3: a conditional STORE reports MODSEQ
                    // even when .SILENT (then without FLAGS).
                    self.report_flags(&done, uid, !silent);
                    done.iter().map(|t| t.1).collect()
                };
                self.sync_view(uid, uid, &skip);
                if modified.is_empty() {
                    return self.completed(tag, command, started, now);
                }
                let mut failed: Vec<u32> = targets
                    .iter()
                    .filter(|t| modified.contains(&t.1))
                    .map(|t| if uid { t.1 } else { t.0.get() })
                    .collect();
                failed.sort_unstable();
                self.tagged(
                    tag,
                    command,
                    started,
                    now,
                    StatusKind::Ok,
                    Some(Code::Modified(failed)),
                    "Conditional STORE failed for some messages.",
                )
            }
        }
    }
}

impl FetchJob {
    fn new(
        tag: Tag,
        command: &'static str,
        started: Instant,
        attrs: Vec<FetchAttr>,
        targets: Vec<(NonZeroU32, u32)>,
        uid: bool,
        newly_seen: Vec<u32>,
    ) -> FetchJob {
        FetchJob {
            tag,
            command,
            started,
            attrs,
            targets,
            next: 0,
            uid,
            newly_seen,
            missing: 0,
            changed_since: None,
            within: None,
        }
    }
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
