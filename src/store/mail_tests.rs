//! The mail operations end to end, through the writer and the reader, with
//! a check after each test that every invariant of the layout holds.

use std::collections::HashMap;
use std::sync::Arc;

use super::testing::TempDir;
use super::writer::apply_batch;
use super::*;

const ALICE: u64 = 1;
const BOB: u64 = 2;

pub(super) struct Fixture {
    pub(super) store: Store,
    pub(super) writer: Writer,
    _dir: TempDir,
}

pub(super) fn fixture(label: &str) -> Fixture {
    let dir = TempDir::new(label);
    let store = Store::open(dir.path()).expect("open");
    let writer = store.start_writer().expect("writer");
    Fixture {
        store,
        writer,
        _dir: dir,
    }
}

impl Fixture {
    pub(super) fn ok(&self, op: WriteOp) -> WriteResult {
        let shown = format!("{op:?}");
        self.writer
            .submit_blocking(op)
            .unwrap_or_else(|e| panic!("{shown}: {e}"))
    }

    pub(super) fn err(&self, op: WriteOp) -> StoreError {
        let shown = format!("{op:?}");
        match self.writer.submit_blocking(op) {
            Ok(r) => panic!("{shown} should fail, got {r:?}"),
            Err(e) => e,
        }
    }

    pub(super) fn create(&self, user_id: u64, name: &str) -> u64 {
        match self.ok(WriteOp::CreateMailbox {
            user_id,
            name: name.into(),
            special_use: SpecialUse::empty(),
        }) {
            WriteResult::Created { mailbox_id, .. } => mailbox_id,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(super) fn append(&self, mailbox_id: u64, raw: &str, flags: Flags) -> Appended {
        match self.ok(WriteOp::Append {
            mailbox_id,
            message: message(raw, flags),
        }) {
            WriteResult::Appended(a) => a,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(super) fn store_flags(
        &self,
        mailbox_id: u64,
        uids: &[u32],
        mode: StoreMode,
        flags: Flags,
    ) -> Stored {
        match self.ok(WriteOp::StoreFlags {
            mailbox_id,
            uids: uids.to_vec(),
            mode,
            flags,
            keywords: Vec::new(),
            unchanged_since: None,
        }) {
            WriteResult::Stored(s) => s,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(super) fn expunge(&self, mailbox_id: u64, uids: Option<&[u32]>) -> Expunged {
        match self.ok(WriteOp::Expunge {
            mailbox_id,
            uids: uids.map(<[u32]>::to_vec),
        }) {
            WriteResult::Expunged(e) => e,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(super) fn copy(&self, from_mailbox: u64, uids: &[u32], to_mailbox: u64) -> Copied {
        match self.ok(WriteOp::Copy {
            from_mailbox,
            uids: uids.to_vec(),
            to_mailbox,
        }) {
            WriteResult::Copied(c) => c,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(super) fn mailbox(&self, user_id: u64, name: &str) -> Option<MailboxInfo> {
        self.store
            .read()
            .expect("read")
            .mailbox(user_id, name)
            .expect("mailbox")
    }

    fn names(&self, user_id: u64) -> Vec<String> {
        let r = self.store.read().expect("read");
        r.mailboxes(user_id)
            .expect("mailboxes")
            .into_iter()
            .map(|m| m.name)
            .collect()
    }

    fn uids(&self, mailbox_id: u64) -> Vec<u32> {
        let r = self.store.read().expect("read");
        r.messages(mailbox_id)
            .expect("messages")
            .iter()
            .map(|m| m.uid)
            .collect()
    }

    fn body_exists(&self, body_id: u64) -> bool {
        let r = self.store.read().expect("read");
        r.body(body_id).expect("body").is_some()
    }

    /// Every invariant of the layout, over the whole store.
    pub(super) fn check(&self) {
        let t = self.store.inner.tables;
        let r = self.store.read().expect("read");
        let txn = &r_txn(&r);
        let mut body_refs: HashMap<u64, u32> = HashMap::new();
        let mut usage: HashMap<u64, (u64, u64)> = HashMap::new();
        let mut mailbox_count = 0;
        for row in t.mailboxes.iter(txn).expect("iter") {
            let (key, bytes) = row.expect("row");
            let (user_id, name) = records::split_name_key(key).expect("key");
            let mb = records::decode_mailbox(user_id, name, bytes).expect("mailbox");
            mailbox_count += 1;
            let by_id = t.mailbox_by_id(txn, mb.id).expect("by id");
            assert_eq!(by_id.as_ref(), Some(&mb), "mailbox_ids row of {name}");
            let msgs = t.mailbox_messages(txn, mb.id).expect("messages");
            if mb.noselect {
                assert!(msgs.is_empty(), "{name} is \\Noselect but has messages");
            }
            assert_eq!(mb.messages as usize, msgs.len(), "{name} messages");
            let unseen = msgs.iter().filter(|m| !m.flags.contains(Flags::SEEN));
            assert_eq!(mb.unseen as usize, unseen.count(), "{name} unseen");
            let deleted = msgs.iter().filter(|m| m.flags.contains(Flags::DELETED));
            assert_eq!(mb.deleted as usize, deleted.count(), "{name} deleted");
            let size: u64 = msgs.iter().map(|m| u64::from(m.size)).sum();
            assert_eq!(mb.size, size, "{name} size");
            let used = usage.entry(user_id).or_default();
            used.0 += size;
            used.1 += msgs.len() as u64;
            for m in &msgs {
                assert!(m.uid < mb.uidnext, "{name} uid {} >= uidnext", m.uid);
                assert!(m.modseq <= mb.highest_modseq, "{name} modseq");
                for k in &m.keywords {
                    assert!(mb.keywords.contains(k), "{name} lacks keyword {k}");
                }
                *body_refs.entry(m.body_id).or_default() += 1;
            }
            // The MODSEQ index has exactly one row per message, at its
            // current MODSEQ.
            let mut index: Vec<(u64, u32)> = t
                .modseqs
                .prefix_iter(txn, &mb.id.to_be_bytes())
                .expect("iter")
                .map(|row| {
                    let (key, _) = row.expect("row");
                    let (_, modseq, uid) = records::split_modseq_key(key).expect("key");
                    (modseq, uid)
                })
                .collect();
            index.sort_by_key(|(_, uid)| *uid);
            let expected: Vec<(u64, u32)> = msgs.iter().map(|m| (m.modseq, m.uid)).collect();
            assert_eq!(index, expected, "{name} modseq index");
            // An expunged UID is never live again.
            for uid in t.expunged_since(txn, mb.id, 0).expect("expunged") {
                assert!(!msgs.iter().any(|m| m.uid == uid), "{name} uid {uid}");
            }
        }
        assert_eq!(
            t.mailbox_ids.len(txn).expect("len"),
            mailbox_count,
            "mailbox_ids rows"
        );
        // Every body is referenced exactly as often as its count says, and
        // nothing else is stored.
        let mut meta_count = 0;
        for row in t.body_meta.iter(txn).expect("iter") {
            let (key, bytes) = row.expect("row");
            let id = u64::from_be_bytes(key.try_into().expect("key"));
            let meta = records::decode_body_meta(bytes).expect("meta");
            assert_eq!(
                body_refs.get(&id).copied(),
                Some(meta.refcount),
                "body {id}"
            );
            assert!(t.body(txn, id).expect("body").is_some(), "body {id} bytes");
            meta_count += 1;
        }
        assert_eq!(meta_count, body_refs.len(), "bodies without meta");
        assert_eq!(t.bodies.len(txn).expect("len"), meta_count as u64);
        // The row for every message and the messages table agree in size.
        let total: u64 = body_refs.values().map(|n| u64::from(*n)).sum();
        assert_eq!(t.messages.len(txn).expect("len"), total);
        assert_eq!(t.modseqs.len(txn).expect("len"), total);
        // Every user's quota usage is the sum over their mailboxes.
        for row in t.quotas.iter(txn).expect("iter") {
            let (key, _) = row.expect("row");
            usage.entry(decode_u64(key).expect("key")).or_default();
        }
        for (user_id, (bytes, messages)) in usage {
            let q = t.quota(txn, user_id).expect("quota");
            assert_eq!(
                (q.used_bytes, q.used_messages),
                (bytes, messages),
                "usage of user {user_id}"
            );
        }
    }
}

fn r_txn<'a>(r: &'a Reader<'_>) -> &'a heed::RoTxn<'a, heed::WithoutTls> {
    r.txn()
}

pub(super) fn message(raw: &str, flags: Flags) -> NewMessage {
    NewMessage {
        raw: raw.as_bytes().to_vec(),
        envelope: format!("(env {raw})").into_bytes(),
        body: b"(body)".to_vec(),
        bodystructure: b"(bodystructure)".to_vec(),
        parts: vec![1, 2, 3],
        sent_date: Some((1_700_000_000, 3600)),
        internal_date: 1_700_000_100,
        tz_offset: -7200,
        flags,
        keywords: Vec::new(),
    }
}

#[test]
fn create_makes_superiors_and_refuses_duplicates() {
    let f = fixture("mail-create");
    f.create(ALICE, "inbox");
    f.create(ALICE, "a/b/c");
    f.create(ALICE, "Drafts/");
    assert_eq!(f.names(ALICE), ["Drafts", "INBOX", "a", "a/b", "a/b/c"]);
    for name in ["a", "a/b", "a/b/c", "INBOX"] {
        let m = f.mailbox(ALICE, name).expect(name);
        assert!(!m.noselect, "{name}");
        assert_eq!((m.uidnext, m.messages), (1, 0));
    }
    assert!(matches!(
        f.err(WriteOp::CreateMailbox {
            user_id: ALICE,
            name: "a/b".into(),
            special_use: SpecialUse::empty(),
        }),
        StoreError::AlreadyExists { mailbox } if mailbox == "a/b"
    ));
    assert!(matches!(
        f.err(WriteOp::CreateMailbox {
            user_id: ALICE,
            name: "INBOX".into(),
            special_use: SpecialUse::empty(),
        }),
        StoreError::AlreadyExists { .. }
    ));
    assert!(matches!(
        f.err(WriteOp::CreateMailbox {
            user_id: ALICE,
            name: "bad//name".into(),
            special_use: SpecialUse::empty(),
        }),
        StoreError::InvalidMailboxName { .. }
    ));
    f.ok(WriteOp::CreateMailbox {
        user_id: ALICE,
        name: "Sent".into(),
        special_use: SpecialUse::SENT,
    });
    assert_eq!(
        f.mailbox(ALICE, "Sent").expect("Sent").special_use,
        SpecialUse::SENT
    );
    // Users are apart.
    assert!(f.names(BOB).is_empty());
    f.create(BOB, "a/b");
    assert_eq!(f.names(BOB), ["a", "a/b"]);
    // Ids are distinct, uidvalidities distinct and growing.
    let all = f
        .store
        .read()
        .expect("read")
        .mailboxes(ALICE)
        .expect("list");
    let mut ids: Vec<u64> = all.iter().map(|m| m.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
    let mut v: Vec<u32> = all.iter().map(|m| m.uidvalidity).collect();
    v.sort_unstable();
    v.dedup();
    assert_eq!(v.len(), all.len());
    f.check();
}

#[test]
fn delete_leaves_noselect_for_inferiors_and_frees_bodies() {
    let f = fixture("mail-delete");
    let inbox = f.create(ALICE, "INBOX");
    let a = f.create(ALICE, "a");
    f.create(ALICE, "a/b");
    f.ok(WriteOp::Subscribe {
        user_id: ALICE,
        name: "a".into(),
    });
    let m1 = f.append(a, "one", Flags::empty());
    let m2 = f.append(a, "two", Flags::SEEN);

    match f.ok(WriteOp::DeleteMailbox {
        user_id: ALICE,
        name: "a".into(),
    }) {
        WriteResult::Deleted {
            mailbox_id,
            noselect: true,
            messages: 2,
        } => assert_eq!(mailbox_id, a),
        other => panic!("unexpected {other:?}"),
    }
    let placeholder = f.mailbox(ALICE, "a").expect("a stays");
    assert!(placeholder.noselect);
    assert_eq!((placeholder.messages, placeholder.unseen), (0, 0));
    assert!(f.uids(a).is_empty());
    assert!(!f.body_exists(m1.body_id) && !f.body_exists(m2.body_id));
    assert!(matches!(
        f.err(WriteOp::Append {
            mailbox_id: a,
            message: message("x", Flags::empty()),
        }),
        StoreError::NoSelect { .. }
    ));
    assert!(matches!(
        f.err(WriteOp::DeleteMailbox {
            user_id: ALICE,
            name: "a".into(),
        }),
        StoreError::HasInferiors { .. }
    ));
    assert!(matches!(
        f.err(WriteOp::DeleteMailbox {
            user_id: ALICE,
            name: "inbox".into(),
        }),
        StoreError::InboxDelete
    ));
    assert!(matches!(
        f.err(WriteOp::DeleteMailbox {
            user_id: ALICE,
            name: "nope".into(),
        }),
        StoreError::NotFound { .. }
    ));

    // Re-creating the placeholder makes a new, selectable incarnation.
    let again = f.create(ALICE, "a");
    let reborn = f.mailbox(ALICE, "a").expect("a");
    assert!(!reborn.noselect);
    assert_ne!(again, a);
    assert!(reborn.uidvalidity > placeholder.uidvalidity);
    assert!(
        f.store
            .read()
            .expect("read")
            .mailbox_by_id(a)
            .expect("by id")
            .is_none()
    );

    // Without inferiors the mailbox goes; subscriptions stay.
    f.ok(WriteOp::DeleteMailbox {
        user_id: ALICE,
        name: "a/b".into(),
    });
    f.ok(WriteOp::DeleteMailbox {
        user_id: ALICE,
        name: "a".into(),
    });
    assert_eq!(f.names(ALICE), ["INBOX"]);
    let subs = f
        .store
        .read()
        .expect("read")
        .subscriptions(ALICE)
        .expect("subs");
    assert_eq!(subs, ["a"]);
    assert_eq!(f.uids(inbox), Vec::<u32>::new());
    f.check();
}

#[test]
fn uidvalidity_is_new_after_delete_and_create() {
    let f = fixture("mail-uidvalidity");
    let mut seen = Vec::new();
    for _ in 0..5 {
        let id = f.create(ALICE, "Temp");
        let m = f.mailbox(ALICE, "Temp").expect("Temp");
        assert_eq!(m.id, id);
        seen.push((m.id, m.uidvalidity));
        f.append(id, "m", Flags::empty());
        f.ok(WriteOp::DeleteMailbox {
            user_id: ALICE,
            name: "Temp".into(),
        });
    }
    for pair in seen.windows(2) {
        assert!(pair[1].0 > pair[0].0, "ids grow: {seen:?}");
        assert!(pair[1].1 > pair[0].1, "uidvalidity grows: {seen:?}");
    }
    // Seeded from the clock.
    let now = u32::try_from(chrono::Utc::now().timestamp()).expect("now");
    assert!(seen[0].1 >= now - 60, "{seen:?}");
    f.check();
}

#[test]
fn rename_moves_the_hierarchy_and_keeps_identity() {
    let f = fixture("mail-rename");
    let a = f.create(ALICE, "a");
    let ab = f.create(ALICE, "a/b");
    let abc = f.create(ALICE, "a/b/c");
    f.create(ALICE, "ab");
    f.create(ALICE, "other");
    f.append(ab, "kept", Flags::SEEN);
    let before = f.mailbox(ALICE, "a/b").expect("a/b");

    match f.ok(WriteOp::RenameMailbox {
        user_id: ALICE,
        from: "a".into(),
        to: "x/y".into(),
    }) {
        WriteResult::Renamed { mailboxes } => assert_eq!(
            mailboxes,
            [
                (a, "x/y".to_string()),
                (ab, "x/y/b".to_string()),
                (abc, "x/y/b/c".to_string())
            ]
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        f.names(ALICE),
        ["ab", "other", "x", "x/y", "x/y/b", "x/y/b/c"]
    );
    let after = f.mailbox(ALICE, "x/y/b").expect("renamed");
    assert_eq!(
        (after.id, after.uidvalidity, after.messages),
        (before.id, before.uidvalidity, 1)
    );
    let by_id = f.store.read().expect("read").mailbox_by_id(ab).expect("id");
    assert_eq!(by_id.map(|m| m.name).as_deref(), Some("x/y/b"));
    assert_eq!(f.uids(ab), [1]);

    let rename = |from: &str, to: &str| {
        f.err(WriteOp::RenameMailbox {
            user_id: ALICE,
            from: from.into(),
            to: to.into(),
        })
    };
    assert!(matches!(
        rename("other", "x/y"),
        StoreError::AlreadyExists { .. }
    ));
    assert!(matches!(
        rename("other", "x"),
        StoreError::AlreadyExists { .. }
    ));
    assert!(matches!(rename("gone", "new"), StoreError::NotFound { .. }));
    assert!(matches!(
        rename("x", "x/z"),
        StoreError::InvalidRename { .. }
    ));
    assert!(matches!(
        rename("other", "INBOX"),
        StoreError::InvalidRename { .. }
    ));
    // A \Noselect placeholder is a name that exists.
    f.create(ALICE, "q/b/c");
    f.ok(WriteOp::DeleteMailbox {
        user_id: ALICE,
        name: "q".into(),
    });
    assert!(matches!(
        rename("x/y", "q"),
        StoreError::AlreadyExists { mailbox } if mailbox == "q"
    ));
    assert_eq!(
        f.names(ALICE),
        [
            "ab", "other", "q", "q/b", "q/b/c", "x", "x/y", "x/y/b", "x/y/b/c"
        ]
    );
    f.check();
}

#[test]
fn rename_inbox_moves_messages_to_a_new_mailbox() {
    let f = fixture("mail-rename-inbox");
    let inbox = f.create(ALICE, "INBOX");
    let child = f.create(ALICE, "INBOX/kept");
    let m1 = f.append(inbox, "first", Flags::SEEN);
    let m2 = f.append(inbox, "second", Flags::DELETED);
    f.expunge(inbox, None);
    let m3 = f.append(inbox, "third", Flags::empty());
    let m4 = f.append(inbox, "fourth", Flags::FLAGGED);
    assert_eq!(f.uids(inbox), [1, 3, 4]);
    let old_inbox = f.mailbox(ALICE, "INBOX").expect("INBOX");

    let (new_id, uidvalidity, expunged, inbox_modseq) = match f.ok(WriteOp::RenameMailbox {
        user_id: ALICE,
        from: "inbox".into(),
        to: "Old/Mail".into(),
    }) {
        WriteResult::InboxRenamed {
            mailbox_id,
            uidvalidity,
            expunged_from_inbox,
            inbox_modseq,
        } => (mailbox_id, uidvalidity, expunged_from_inbox, inbox_modseq),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(expunged, [1, 3, 4]);
    assert_ne!(new_id, inbox);
    assert!(uidvalidity > old_inbox.uidvalidity);

    let r = f.store.read().expect("read");
    let inbox_now = r
        .mailbox(ALICE, "INBOX")
        .expect("get")
        .expect("INBOX stays");
    assert_eq!(inbox_now.id, inbox);
    assert_eq!(inbox_now.uidvalidity, old_inbox.uidvalidity);
    assert_eq!((inbox_now.messages, inbox_now.size), (0, 0));
    assert_eq!(inbox_now.uidnext, old_inbox.uidnext);
    assert_eq!(inbox_now.highest_modseq, inbox_modseq);
    assert_eq!(
        r.expunged_since(inbox, old_inbox.highest_modseq)
            .expect("x"),
        [1, 3, 4]
    );

    let moved = r.messages(new_id).expect("messages");
    let got: Vec<(u32, u64, Flags)> = moved.iter().map(|m| (m.uid, m.body_id, m.flags)).collect();
    assert_eq!(
        got,
        [
            (1, m1.body_id, Flags::SEEN),
            (2, m3.body_id, Flags::empty()),
            (3, m4.body_id, Flags::FLAGGED)
        ]
    );
    let target = r.mailbox(ALICE, "Old/Mail").expect("get").expect("target");
    assert_eq!((target.uidnext, target.messages, target.unseen), (4, 3, 2));
    assert!(r.mailbox(ALICE, "Old").expect("get").is_some());
    assert_eq!(r.body(m3.body_id).expect("body"), Some(&b"third"[..]));
    assert_eq!(r.body(m2.body_id).expect("body"), None);
    // Inferiors of INBOX are not moved.
    assert_eq!(
        r.mailbox_by_id(child)
            .expect("get")
            .map(|m| m.name)
            .as_deref(),
        Some("INBOX/kept")
    );
    drop(r);
    // INBOX goes on taking mail with the same UIDVALIDITY.
    let next = f.append(inbox, "fifth", Flags::empty());
    assert_eq!((next.uid, next.uidvalidity), (5, old_inbox.uidvalidity));
    f.check();
}

#[test]
fn appends_get_ascending_uids_and_exact_counters() {
    let f = fixture("mail-append");
    let inbox = f.create(ALICE, "INBOX");
    let mut last = 0;
    let mut modseqs = Vec::new();
    for (i, flags) in [
        Flags::empty(),
        Flags::SEEN,
        Flags::DELETED,
        Flags::SEEN | Flags::DELETED,
        Flags::DRAFT,
    ]
    .into_iter()
    .enumerate()
    {
        let a = f.append(inbox, &format!("message {i}"), flags);
        assert!(a.uid > last);
        last = a.uid;
        modseqs.push(a.modseq);
    }
    assert!(modseqs.windows(2).all(|w| w[1] > w[0]));
    let m = f.mailbox(ALICE, "INBOX").expect("INBOX");
    assert_eq!((m.messages, m.unseen, m.deleted), (5, 3, 2));
    assert_eq!(m.size, 5 * 9);
    assert_eq!(m.uidnext, 6);
    assert_eq!(m.highest_modseq, *modseqs.last().expect("some"));

    let r = f.store.read().expect("read");
    let msg = r.message(inbox, 2).expect("get").expect("uid 2");
    assert_eq!(
        (msg.size, msg.internal_date, msg.tz_offset, msg.flags),
        (9, 1_700_000_100, -7200, Flags::SEEN)
    );
    assert_eq!(r.body(msg.body_id).expect("body"), Some(&b"message 1"[..]));
    let meta = r.body_meta(msg.body_id).expect("meta").expect("some");
    assert_eq!(meta.envelope, b"(env message 1)");
    assert_eq!(meta.body, b"(body)");
    assert_eq!(meta.bodystructure, b"(bodystructure)");
    assert_eq!(meta.parts, [1, 2, 3]);
    assert_eq!(meta.sent_date, Some((1_700_000_000, 3600)));
    assert_eq!(meta.refcount, 1);
    drop(r);

    // Keywords are validated and become the mailbox's.
    let mut with_kw = message("kw", Flags::empty());
    with_kw.keywords = vec!["$Forwarded".into(), "$forwarded".into(), "Work".into()];
    f.ok(WriteOp::Append {
        mailbox_id: inbox,
        message: with_kw,
    });
    let r = f.store.read().expect("read");
    assert_eq!(
        r.message(inbox, 6).expect("get").expect("6").keywords,
        ["$Forwarded", "Work"]
    );
    assert_eq!(
        r.mailbox(ALICE, "INBOX")
            .expect("get")
            .expect("INBOX")
            .keywords,
        ["$Forwarded", "Work"]
    );
    drop(r);
    let mut bad = message("bad", Flags::empty());
    bad.keywords = vec!["two words".into()];
    assert!(matches!(
        f.err(WriteOp::Append {
            mailbox_id: inbox,
            message: bad,
        }),
        StoreError::InvalidKeyword { .. }
    ));
    assert!(matches!(
        f.err(WriteOp::Append {
            mailbox_id: 9999,
            message: message("x", Flags::empty()),
        }),
        StoreError::NotFound { .. }
    ));
    f.check();
}

#[test]
fn store_flags_changes_only_what_changes() {
    let f = fixture("mail-store");
    let mb = f.create(ALICE, "INBOX");
    for i in 0..4 {
        f.append(mb, &format!("m{i}"), Flags::empty());
    }
    let base = f.mailbox(ALICE, "INBOX").expect("INBOX").highest_modseq;

    let s = f.store_flags(mb, &[3, 1, 1, 99], StoreMode::Add, Flags::SEEN);
    assert_eq!(s.updated.iter().map(|u| u.uid).collect::<Vec<_>>(), [1, 3]);
    assert!(s.updated.iter().all(|u| u.changed && u.modseq == base + 1));
    assert_eq!(s.highest_modseq, base + 1);
    assert!(s.modified.is_empty());

    // Adding what is there changes nothing and takes no MODSEQ.
    let s = f.store_flags(mb, &[1, 2], StoreMode::Add, Flags::SEEN);
    let got: Vec<(u32, bool, u64)> = s
        .updated
        .iter()
        .map(|u| (u.uid, u.changed, u.modseq))
        .collect();
    assert_eq!(got, [(1, false, base + 1), (2, true, base + 2)]);

    let s = f.store_flags(
        mb,
        &[1, 2, 3, 4],
        StoreMode::Replace,
        Flags::DELETED | Flags::FLAGGED,
    );
    assert!(
        s.updated
            .iter()
            .all(|u| u.flags == Flags::DELETED | Flags::FLAGGED)
    );
    let m = f.mailbox(ALICE, "INBOX").expect("INBOX");
    assert_eq!((m.unseen, m.deleted, m.highest_modseq), (4, 4, base + 3));

    let s = f.store_flags(mb, &[2], StoreMode::Remove, Flags::DELETED);
    assert_eq!(s.updated[0].flags, Flags::FLAGGED);
    assert_eq!(f.mailbox(ALICE, "INBOX").expect("INBOX").deleted, 3);

    // UNCHANGEDSINCE: uid 2 changed at base + 4, the others at base + 3.
    let s = match f.ok(WriteOp::StoreFlags {
        mailbox_id: mb,
        uids: vec![1, 2, 3],
        mode: StoreMode::Add,
        flags: Flags::ANSWERED,
        keywords: vec!["$Label1".into()],
        unchanged_since: Some(base + 3),
    }) {
        WriteResult::Stored(s) => s,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(s.modified, [2]);
    assert_eq!(s.updated.iter().map(|u| u.uid).collect::<Vec<_>>(), [1, 3]);
    assert!(s.updated.iter().all(|u| u.keywords == ["$Label1"]));

    // Keywords: removing is case-insensitive; replacing sets exactly.
    let s = match f.ok(WriteOp::StoreFlags {
        mailbox_id: mb,
        uids: vec![1],
        mode: StoreMode::Remove,
        flags: Flags::empty(),
        keywords: vec!["$LABEL1".into()],
        unchanged_since: None,
    }) {
        WriteResult::Stored(s) => s,
        other => panic!("unexpected {other:?}"),
    };
    assert!(s.updated[0].keywords.is_empty() && s.updated[0].changed);

    let r = f.store.read().expect("read");
    let changed: Vec<u32> = r
        .changed_since(mb, base + 3)
        .expect("changed")
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(changed, [1, 2, 3]);
    assert!(r.changed_since(mb, u64::MAX).expect("changed").is_empty());
    assert_eq!(r.changed_since(mb, 0).expect("changed").len(), 4);
    drop(r);
    f.check();
}

#[test]
fn expunge_removes_deleted_and_records_history() {
    let f = fixture("mail-expunge");
    let mb = f.create(ALICE, "INBOX");
    for i in 1..=6 {
        let flags = if i % 2 == 0 {
            Flags::DELETED
        } else {
            Flags::empty()
        };
        f.append(mb, &format!("m{i}"), flags);
    }
    let before = f.mailbox(ALICE, "INBOX").expect("INBOX").highest_modseq;
    // Only \Deleted messages among the UIDs given.
    let e = f.expunge(mb, Some(&[1, 2, 4]));
    assert_eq!(e.uids, [2, 4]);
    assert_eq!(e.modseq, before + 1);
    assert_eq!(f.uids(mb), [1, 3, 5, 6]);
    let e = f.expunge(mb, None);
    assert_eq!(e.uids, [6]);
    // Nothing to do: no new MODSEQ.
    let e = f.expunge(mb, None);
    assert!(e.uids.is_empty());
    assert_eq!(e.modseq, before + 2);

    let r = f.store.read().expect("read");
    assert_eq!(r.expunged_since(mb, 0).expect("x"), [2, 4, 6]);
    assert_eq!(r.expunged_since(mb, before + 1).expect("x"), [6]);
    assert!(r.expunged_since(mb, before + 2).expect("x").is_empty());
    let m = r.mailbox(ALICE, "INBOX").expect("get").expect("INBOX");
    assert_eq!((m.messages, m.deleted, m.unseen, m.uidnext), (3, 0, 3, 7));
    drop(r);
    // UIDs are never reused after an expunge.
    assert_eq!(f.append(mb, "m7", Flags::empty()).uid, 7);
    f.check();
}

#[test]
fn copy_shares_bodies_until_the_last_reference_goes() {
    let f = fixture("mail-copy");
    let src = f.create(ALICE, "INBOX");
    let dst = f.create(ALICE, "Archive");
    let a = f.append(src, "alpha", Flags::SEEN | Flags::FLAGGED);
    let b = f.append(src, "beta", Flags::empty());
    f.append(dst, "already there", Flags::empty());

    let c = f.copy(src, &[2, 1, 42], dst);
    let dst_info = f.mailbox(ALICE, "Archive").expect("Archive");
    assert_eq!(c.uidvalidity, dst_info.uidvalidity);
    assert_eq!(c.pairs, [(1, 2), (2, 3)]);
    assert_eq!(c.modseq, Some(dst_info.highest_modseq));
    let r = f.store.read().expect("read");
    let copied = r.message(dst, 2).expect("get").expect("copy");
    assert_eq!(copied.body_id, a.body_id);
    assert_eq!(copied.flags, Flags::SEEN | Flags::FLAGGED);
    assert_eq!(
        r.body_meta(a.body_id)
            .expect("meta")
            .expect("some")
            .refcount,
        2
    );
    drop(r);
    assert_eq!((dst_info.messages, dst_info.unseen), (3, 2));

    // Expunge one copy: the body stays for the other.
    f.store_flags(src, &[1, 2], StoreMode::Add, Flags::DELETED);
    f.expunge(src, None);
    assert!(f.body_exists(a.body_id) && f.body_exists(b.body_id));
    let r = f.store.read().expect("read");
    assert_eq!(
        r.body_meta(a.body_id)
            .expect("meta")
            .expect("some")
            .refcount,
        1
    );
    drop(r);
    // Expunge the last: the body goes.
    f.store_flags(dst, &[2], StoreMode::Add, Flags::DELETED);
    f.expunge(dst, None);
    assert!(!f.body_exists(a.body_id));
    assert!(f.body_exists(b.body_id));
    assert!(
        f.store
            .read()
            .expect("read")
            .body_meta(a.body_id)
            .expect("meta")
            .is_none()
    );

    // Copy within one mailbox, and refusals.
    let c = f.copy(dst, &[3], dst);
    assert_eq!(c.pairs, [(3, 4)]);
    let empty = f.copy(src, &[1], dst);
    assert!(empty.pairs.is_empty() && empty.modseq.is_none());
    f.create(ALICE, "p/q");
    f.ok(WriteOp::DeleteMailbox {
        user_id: ALICE,
        name: "p".into(),
    });
    let p = f.mailbox(ALICE, "p").expect("p").id;
    assert!(matches!(
        f.err(WriteOp::Copy {
            from_mailbox: dst,
            uids: vec![3],
            to_mailbox: p,
        }),
        StoreError::NoSelect { .. }
    ));
    assert!(matches!(
        f.err(WriteOp::Copy {
            from_mailbox: dst,
            uids: vec![3],
            to_mailbox: 12345,
        }),
        StoreError::NotFound { .. }
    ));
    f.check();
}

#[test]
fn move_copies_and_expunges_in_one_step() {
    let f = fixture("mail-move");
    let src = f.create(ALICE, "INBOX");
    let dst = f.create(ALICE, "Archive");
    let a = f.append(src, "alpha", Flags::SEEN);
    f.append(src, "beta", Flags::empty());
    f.append(src, "gamma", Flags::FLAGGED);
    let src_before = f.mailbox(ALICE, "INBOX").expect("INBOX").highest_modseq;

    let moved = |uids: &[u32], to: u64| match f.ok(WriteOp::Move {
        from_mailbox: src,
        uids: uids.to_vec(),
        to_mailbox: to,
    }) {
        WriteResult::Moved(m) => m,
        other => panic!("{other:?}"),
    };
    // Not \Deleted, and one UID that does not exist: moved all the same.
    let m = moved(&[3, 1, 99], dst);
    assert_eq!(m.copied.pairs, [(1, 1), (3, 2)]);
    assert_eq!(m.expunged.uids, [1, 3]);
    assert_eq!(m.expunged.modseq, src_before + 1);
    assert_eq!(f.uids(src), [2]);
    assert_eq!(f.uids(dst), [1, 2]);
    let r = f.store.read().expect("read");
    // Flags travel; \Deleted is never set; the body is shared, not copied.
    let first = r.message(dst, 1).expect("get").expect("moved");
    assert_eq!((first.flags, first.body_id), (Flags::SEEN, a.body_id));
    assert_eq!(
        r.message(dst, 2).expect("get").expect("moved").flags,
        Flags::FLAGGED
    );
    assert_eq!(
        r.body_meta(a.body_id)
            .expect("meta")
            .expect("some")
            .refcount,
        1
    );
    // The source remembers the expunges for QRESYNC.
    assert_eq!(r.expunged_since(src, src_before).expect("x"), [1, 3]);
    let (s, d) = (
        r.mailbox(ALICE, "INBOX").expect("get").expect("INBOX"),
        r.mailbox(ALICE, "Archive").expect("get").expect("Archive"),
    );
    assert_eq!((s.messages, s.unseen), (1, 1));
    assert_eq!((d.messages, d.unseen), (2, 1));
    drop(r);

    // Within one mailbox: a new UID, the old one expunged.
    let m = moved(&[2], src);
    assert_eq!(m.copied.pairs, [(2, 4)]);
    assert_eq!(m.expunged.uids, [2]);
    assert_eq!(f.uids(src), [4]);
    // Nothing to move changes nothing.
    let m = moved(&[1], dst);
    assert!(m.copied.pairs.is_empty() && m.expunged.uids.is_empty());
    // A missing destination refuses the whole move.
    assert!(matches!(
        f.err(WriteOp::Move {
            from_mailbox: src,
            uids: vec![4],
            to_mailbox: 12345,
        }),
        StoreError::NotFound { .. }
    ));
    assert_eq!(f.uids(src), [4]);
    f.check();
}

#[test]
fn deleting_a_mailbox_keeps_bodies_shared_elsewhere() {
    let f = fixture("mail-delete-shared");
    let src = f.create(ALICE, "INBOX");
    let tmp = f.create(ALICE, "Tmp");
    let a = f.append(src, "shared", Flags::empty());
    f.copy(src, &[a.uid], tmp);
    f.ok(WriteOp::DeleteMailbox {
        user_id: ALICE,
        name: "Tmp".into(),
    });
    assert!(f.body_exists(a.body_id));
    f.check();
}

#[test]
fn claim_recent_hands_out_each_uid_once() {
    let f = fixture("mail-recent");
    let mb = f.create(ALICE, "INBOX");
    f.append(mb, "1", Flags::empty());
    f.append(mb, "2", Flags::empty());
    let claim = || match f.ok(WriteOp::ClaimRecent { mailbox_id: mb }) {
        WriteResult::RecentClaimed(r) => r,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(claim(), 1..3);
    assert_eq!(claim(), 3..3);
    f.append(mb, "3", Flags::empty());
    f.copy(mb, &[1], mb);
    assert_eq!(claim(), 3..5);
    assert_eq!(f.mailbox(ALICE, "INBOX").expect("INBOX").recent_floor, 5);
    f.check();
}

#[test]
fn subscriptions_are_names_not_mailboxes() {
    let f = fixture("mail-subscribe");
    for name in ["zeta", "inbox", "Does/Not/Exist"] {
        f.ok(WriteOp::Subscribe {
            user_id: ALICE,
            name: name.into(),
        });
    }
    f.ok(WriteOp::Subscribe {
        user_id: BOB,
        name: "bob's".into(),
    });
    let subs = |u| {
        f.store
            .read()
            .expect("read")
            .subscriptions(u)
            .expect("subs")
    };
    assert_eq!(subs(ALICE), ["Does/Not/Exist", "INBOX", "zeta"]);
    assert_eq!(
        f.ok(WriteOp::Unsubscribe {
            user_id: ALICE,
            name: "zeta".into(),
        }),
        WriteResult::Unsubscribed {
            was_subscribed: true
        }
    );
    assert_eq!(
        f.ok(WriteOp::Unsubscribe {
            user_id: ALICE,
            name: "zeta".into(),
        }),
        WriteResult::Unsubscribed {
            was_subscribed: false
        }
    );
    assert_eq!(subs(ALICE), ["Does/Not/Exist", "INBOX"]);
    assert_eq!(subs(BOB), ["bob's"]);
}

#[test]
fn delete_user_mail_removes_everything_of_one_user() {
    let f = fixture("mail-user-del");
    let a_inbox = f.create(ALICE, "INBOX");
    let a_sub = f.create(ALICE, "x/y");
    let b_inbox = f.create(BOB, "INBOX");
    let m = f.append(a_inbox, "alice's", Flags::empty());
    f.copy(a_inbox, &[m.uid], a_sub);
    let keep = f.append(b_inbox, "bob's", Flags::empty());
    f.ok(WriteOp::Subscribe {
        user_id: ALICE,
        name: "x".into(),
    });
    assert_eq!(
        f.ok(WriteOp::DeleteUserMail { user_id: ALICE }),
        WriteResult::UserMailDeleted {
            mailboxes: 3,
            messages: 2
        }
    );
    assert!(f.names(ALICE).is_empty());
    let r = f.store.read().expect("read");
    assert!(r.subscriptions(ALICE).expect("subs").is_empty());
    assert!(r.mailbox_by_id(a_inbox).expect("get").is_none());
    assert_eq!(r.body(m.body_id).expect("body"), None);
    assert_eq!(r.body(keep.body_id).expect("body"), Some(&b"bob's"[..]));
    drop(r);
    assert_eq!(f.names(BOB), ["INBOX"]);
    f.check();
}

#[test]
fn a_failing_operation_does_not_spoil_its_batch() {
    let f = fixture("mail-batch");
    let mb = f.create(ALICE, "INBOX");
    let ops = vec![
        WriteOp::Append {
            mailbox_id: mb,
            message: message("before", Flags::empty()),
        },
        WriteOp::RenameMailbox {
            user_id: ALICE,
            from: "INBOX".into(),
            to: "INBOX".into(),
        },
        WriteOp::CreateMailbox {
            user_id: ALICE,
            name: "INBOX".into(),
            special_use: SpecialUse::empty(),
        },
        WriteOp::Append {
            mailbox_id: 777,
            message: message("nowhere", Flags::empty()),
        },
        WriteOp::CreateMailbox {
            user_id: ALICE,
            name: "Fresh/Sub".into(),
            special_use: SpecialUse::empty(),
        },
        WriteOp::Append {
            mailbox_id: mb,
            message: message("after", Flags::empty()),
        },
    ];
    let results = apply_batch(&f.store, &ops).expect("batch commits");
    assert!(matches!(
        results[0],
        Ok(WriteResult::Appended(Appended { uid: 1, .. }))
    ));
    assert!(results[1].is_err());
    assert!(matches!(results[2], Err(StoreError::AlreadyExists { .. })));
    assert!(matches!(results[3], Err(StoreError::NotFound { .. })));
    assert!(matches!(results[4], Ok(WriteResult::Created { .. })));
    assert!(matches!(
        results[5],
        Ok(WriteResult::Appended(Appended { uid: 2, .. }))
    ));
    assert_eq!(f.names(ALICE), ["Fresh", "Fresh/Sub", "INBOX"]);
    assert_eq!(f.uids(mb), [1, 2]);
    f.check();
}

#[test]
fn an_operation_failing_after_writes_leaves_nothing() {
    let f = fixture("mail-rollback");
    let src = f.create(ALICE, "INBOX");
    let dst = f.create(ALICE, "Full");
    let a = f.append(src, "one", Flags::empty());
    f.append(src, "two", Flags::empty());
    // Leave the destination one UID: the COPY writes the first copy and
    // bumps its body's count before it runs out.
    let t = f.store.inner.tables;
    let mut full = f.mailbox(ALICE, "Full").expect("Full");
    full.uidnext = u32::MAX - 1;
    full.recent_floor = full.uidnext;
    let mut wtxn = f.store.inner.env.write_txn().expect("wtxn");
    t.put_mailbox(&mut wtxn, &full).expect("put");
    wtxn.commit().expect("commit");

    let err = f.err(WriteOp::Copy {
        from_mailbox: src,
        uids: vec![1, 2],
        to_mailbox: dst,
    });
    assert!(matches!(err, StoreError::UidsExhausted { .. }), "{err:?}");
    assert!(f.uids(dst).is_empty());
    assert_eq!(f.mailbox(ALICE, "Full").expect("Full"), full);
    let r = f.store.read().expect("read");
    assert_eq!(
        r.body_meta(a.body_id)
            .expect("meta")
            .expect("some")
            .refcount,
        1
    );
    drop(r);
    // One fits.
    assert_eq!(f.copy(src, &[1], dst).pairs, [(1, u32::MAX - 1)]);

    let mut many = message("k", Flags::empty());
    many.keywords = (0..=messages::MAX_MAILBOX_KEYWORDS)
        .map(|i| format!("k{i}"))
        .collect();
    assert!(matches!(
        f.err(WriteOp::Append {
            mailbox_id: src,
            message: many,
        }),
        StoreError::InvalidKeyword { .. }
    ));
    assert_eq!(f.uids(src), [1, 2]);
    f.check();
}

#[test]
fn concurrent_appends_are_group_committed() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 200;
    let f = fixture("mail-group");
    let mb = f.create(ALICE, "INBOX");
    let commits_before = f.writer.commits();
    let writer = f.writer.clone();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let writer = writer.clone();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|i| {
                        match writer.submit_blocking(WriteOp::Append {
                            mailbox_id: mb,
                            message: message(&format!("thread {t} message {i}"), Flags::empty()),
                        }) {
                            Ok(WriteResult::Appended(a)) => a.uid,
                            other => panic!("append failed: {other:?}"),
                        }
                    })
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let mut uids: Vec<u32> = Vec::new();
    for h in handles {
        let mine = h.join().expect("thread");
        // Each thread's appends are answered in order.
        assert!(mine.windows(2).all(|w| w[1] > w[0]));
        uids.extend(mine);
    }
    uids.sort_unstable();
    let total = THREADS * PER_THREAD;
    assert_eq!(uids, (1..=total as u32).collect::<Vec<_>>());
    assert_eq!(f.uids(mb).len(), total);
    let commits = f.writer.commits() - commits_before;
    eprintln!("{total} concurrent appends in {commits} commits");
    assert!(commits < total as u64 / 4, "{commits} commits");
    f.check();
}

#[test]
fn async_submit_and_one_writer_per_store() {
    let f = fixture("mail-async");
    let second = f.store.start_writer().expect("writer");
    assert!(Arc::ptr_eq(&second.shared, &f.writer.shared));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let writer = f.writer.clone();
    let result = runtime.block_on(async move {
        let created = writer
            .submit(WriteOp::CreateMailbox {
                user_id: ALICE,
                name: "INBOX".into(),
                special_use: SpecialUse::empty(),
            })
            .await?;
        let WriteResult::Created { mailbox_id, .. } = created else {
            panic!("unexpected {created:?}");
        };
        writer
            .submit(WriteOp::Append {
                mailbox_id,
                message: message("async", Flags::empty()),
            })
            .await
    });
    assert!(matches!(
        result,
        Ok(WriteResult::Appended(Appended { uid: 1, .. }))
    ));
}

#[test]
fn readers_see_a_snapshot_and_data_survives_reopen() {
    let dir = TempDir::new("mail-reopen");
    let body_id;
    {
        let store = Store::open(dir.path()).expect("open");
        let writer = store.start_writer().expect("writer");
        let WriteResult::Created { mailbox_id, .. } = writer
            .submit_blocking(WriteOp::CreateMailbox {
                user_id: ALICE,
                name: "INBOX".into(),
                special_use: SpecialUse::empty(),
            })
            .expect("create")
        else {
            panic!("not created");
        };
        let snapshot = store.read().expect("read");
        let Ok(WriteResult::Appended(a)) = writer.submit_blocking(WriteOp::Append {
            mailbox_id,
            message: message("durable", Flags::SEEN),
        }) else {
            panic!("not appended");
        };
        body_id = a.body_id;
        // The older snapshot does not see the append; a new one does.
        assert!(snapshot.message(mailbox_id, 1).expect("get").is_none());
        assert!(
            store
                .read()
                .expect("read")
                .message(mailbox_id, 1)
                .expect("get")
                .is_some()
        );
    }
    let store = Store::open(dir.path()).expect("reopen");
    let r = store.read().expect("read");
    let inbox = r.mailbox(ALICE, "INBOX").expect("get").expect("INBOX");
    assert_eq!(inbox.messages, 1);
    assert_eq!(r.body(body_id).expect("body"), Some(&b"durable"[..]));
}

#[test]
fn corrupt_records_are_reported_not_trusted() {
    let f = fixture("mail-corrupt");
    let mb = f.create(ALICE, "INBOX");
    f.append(mb, "x", Flags::empty());
    let t = f.store.inner.tables;
    let mut wtxn = f.store.inner.env.write_txn().expect("wtxn");
    t.messages
        .put(&mut wtxn, &records::uid_key(mb, 1), b"\x01short")
        .expect("put");
    t.mailboxes
        .put(&mut wtxn, &records::name_key(BOB, "Broken"), b"\x07")
        .expect("put");
    wtxn.commit().expect("commit");
    let r = f.store.read().expect("read");
    assert!(matches!(
        r.messages(mb),
        Err(StoreError::Corruption { db: "messages", .. })
    ));
    assert!(matches!(
        r.mailbox(BOB, "Broken"),
        Err(StoreError::Corruption {
            db: "mailboxes",
            ..
        })
    ));
    drop(r);
    assert!(matches!(
        f.err(WriteOp::Expunge {
            mailbox_id: mb,
            uids: Some(vec![1]),
        }),
        StoreError::Corruption { .. }
    ));
}

/// 10,000 appends of 8 KiB messages from 8 threads. Run with
/// `cargo test --lib store::tests::bench_appends -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_appends() {
    const THREADS: usize = 8;
    const TOTAL: usize = 10_000;
    let f = fixture("mail-bench");
    let mb = f.create(ALICE, "INBOX");
    let raw = "x".repeat(8192);
    let commits_before = f.writer.commits();
    let started = std::time::Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let writer = f.writer.clone();
            let raw = raw.clone();
            std::thread::spawn(move || {
                for _ in 0..TOTAL / THREADS {
                    let Ok(WriteResult::Appended(_)) = writer.submit_blocking(WriteOp::Append {
                        mailbox_id: mb,
                        message: message(&raw, Flags::empty()),
                    }) else {
                        panic!("append failed");
                    };
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let elapsed = started.elapsed();
    let commits = f.writer.commits() - commits_before;
    eprintln!(
        "{TOTAL} appends of 8 KiB from {THREADS} threads: {:.2?}, {:.0} msgs/s, {commits} commits ({:.1} per commit)",
        elapsed,
        TOTAL as f64 / elapsed.as_secs_f64(),
        TOTAL as f64 / commits as f64
    );
    assert_eq!(f.uids(mb).len(), TOTAL);
}

/// STORE over a dense set (one cursor, records rewritten where they lie)
/// and over a sparse one (a read per UID) keeps MODSEQs, the `modseqs`
/// rows, CHANGEDSINCE and the counters exact, keywords included.
#[test]
fn store_in_place_keeps_modseqs_exact() {
    let f = fixture("store-in-place");
    let mb = f.create(ALICE, "INBOX");
    for i in 0..40u32 {
        let flags = if i % 3 == 0 {
            Flags::SEEN
        } else {
            Flags::empty()
        };
        f.append(mb, &format!("Subject: {i}\r\n\r\nbody {i}\r\n"), flags);
    }
    let all: Vec<u32> = (1..=40).collect();
    let base = f.mailbox(ALICE, "INBOX").expect("INBOX").highest_modseq;

    // Dense, flags only: the unseen ones change, the others are reported
    // unchanged with their old MODSEQ.
    let s = f.store_flags(mb, &all, StoreMode::Add, Flags::SEEN);
    assert_eq!(s.highest_modseq, base + 1);
    assert_eq!(s.updated.len(), 40);
    for u in &s.updated {
        assert!(u.flags.contains(Flags::SEEN));
        assert_eq!(u.changed, (u.uid - 1) % 3 != 0, "uid {}", u.uid);
        if u.changed {
            assert_eq!(u.modseq, base + 1);
        } else {
            assert!(u.modseq <= base, "uid {} kept its MODSEQ", u.uid);
        }
    }
    let m = f.mailbox(ALICE, "INBOX").expect("INBOX");
    assert_eq!((m.unseen, m.highest_modseq), (0, base + 1));
    f.check();
    let r = f.store.read().expect("read");
    let changed: Vec<u32> = r
        .changed_since(mb, base)
        .expect("changed")
        .iter()
        .map(|m| m.uid)
        .collect();
    let want: Vec<u32> = all.iter().copied().filter(|u| (u - 1) % 3 != 0).collect();
    assert_eq!(changed, want);
    let except: Vec<u32> = r
        .changed_since_except(mb, base, &[2, 3, 5])
        .expect("changed")
        .iter()
        .map(|m| m.uid)
        .collect();
    let want_except: Vec<u32> = want
        .iter()
        .copied()
        .filter(|u| ![2, 3, 5].contains(u))
        .collect();
    assert_eq!(except, want_except);
    assert!(
        r.messages(mb)
            .expect("messages")
            .iter()
            .all(|m| m.flags == Flags::SEEN)
    );
    drop(r);

    // Dense with a keyword: every record grows and is rewritten whole.
    let s = match f.ok(WriteOp::StoreFlags {
        mailbox_id: mb,
        uids: all.clone(),
        mode: StoreMode::Add,
        flags: Flags::FLAGGED,
        keywords: vec!["$Label1".into()],
        unchanged_since: Some(base + 1),
    }) {
        WriteResult::Stored(s) => s,
        other => panic!("unexpected {other:?}"),
    };
    assert!(s.modified.is_empty());
    assert!(s.updated.iter().all(|u| u.changed && u.modseq == base + 2));
    f.check();

    // Sparse: two UIDs far apart, the second with UNCHANGEDSINCE failing.
    f.store_flags(mb, &[40], StoreMode::Remove, Flags::SEEN);
    let s = match f.ok(WriteOp::StoreFlags {
        mailbox_id: mb,
        uids: vec![1, 40],
        mode: StoreMode::Remove,
        flags: Flags::FLAGGED,
        keywords: vec!["$label1".into()],
        unchanged_since: Some(base + 2),
    }) {
        WriteResult::Stored(s) => s,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(s.modified, [40]);
    assert_eq!(s.updated.len(), 1);
    assert_eq!(s.updated[0].modseq, base + 4);
    assert!(s.updated[0].keywords.is_empty());
    let r = f.store.read().expect("read");
    let one = r.message(mb, 1).expect("read").expect("uid 1");
    assert_eq!((one.flags, one.modseq), (Flags::SEEN, base + 4));
    let since: Vec<u32> = r
        .changed_since(mb, base + 2)
        .expect("changed")
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(since, [1, 40]);
    drop(r);
    let m = f.mailbox(ALICE, "INBOX").expect("INBOX");
    assert_eq!((m.unseen, m.highest_modseq), (1, base + 4));
    f.check();
}
