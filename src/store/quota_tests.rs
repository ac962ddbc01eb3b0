//! Quota usage and limits through the writer: every operation that adds or
//! removes messages keeps usage exact, and a limit is never overshot, even
//! by appends racing from many threads.

use super::mail_tests::{Fixture, fixture, message};
use super::*;

const HASH: &str = "$argon2id$x";

/// A user `name` with an INBOX; returns (user id, INBOX id).
fn user_with_inbox(f: &Fixture, name: &str) -> (u64, u64) {
    let user = f.store.create_user(name, HASH).expect("create user");
    let inbox = f.mailbox(user.id, "INBOX").expect("a new user's INBOX");
    (user.id, inbox.id)
}

fn quota(f: &Fixture, user_id: u64) -> Quota {
    f.store.read().expect("read").quota(user_id).expect("quota")
}

fn usage(f: &Fixture, user_id: u64) -> (u64, u64) {
    let q = quota(f, user_id);
    (q.used_bytes, q.used_messages)
}

#[test]
fn usage_follows_append_copy_expunge_delete() {
    let f = fixture("quota-usage");
    let (alice, inbox) = user_with_inbox(&f, "alice");
    let (bob, bob_inbox) = user_with_inbox(&f, "bob");
    let other = f.create(alice, "Other");
    assert_eq!(usage(&f, alice), (0, 0));

    f.append(inbox, "12345", Flags::empty());
    f.append(inbox, "1234567890", Flags::DELETED);
    f.append(bob_inbox, "bob's", Flags::empty());
    assert_eq!(usage(&f, alice), (15, 2));
    assert_eq!(usage(&f, bob), (5, 1));

    // A copy counts again, though it shares the body.
    f.copy(inbox, &[1, 2], other);
    assert_eq!(usage(&f, alice), (30, 4));
    f.expunge(inbox, None);
    assert_eq!(usage(&f, alice), (20, 3));
    f.check();

    f.ok(WriteOp::DeleteMailbox {
        user_id: alice,
        name: "Other".into(),
    });
    assert_eq!(usage(&f, alice), (5, 1));
    f.ok(WriteOp::RenameMailbox {
        user_id: alice,
        from: "INBOX".into(),
        to: "Old".into(),
    });
    assert_eq!(
        usage(&f, alice),
        (5, 1),
        "RENAME INBOX moves, it adds nothing"
    );
    f.check();

    f.ok(WriteOp::DeleteUserMail { user_id: alice });
    assert_eq!(usage(&f, alice), (0, 0));
    assert_eq!(usage(&f, bob), (5, 1));
    f.check();
}

#[test]
fn limits_refuse_what_would_exceed_them_and_nothing_else() {
    let f = fixture("quota-limits");
    let (alice, inbox) = user_with_inbox(&f, "alice");
    let other = f.create(alice, "Other");
    // 2 KiB and 3 messages.
    let q = f
        .store
        .set_user_quota("alice", LimitChange::Set(2), LimitChange::Set(3))
        .expect("set");
    assert_eq!((q.storage_limit_kib, q.message_limit), (Some(2), Some(3)));

    let kib = "x".repeat(1024);
    f.append(inbox, &kib, Flags::empty());
    f.append(inbox, &kib, Flags::DELETED);
    // Exactly at the storage limit: the next byte is refused.
    assert!(matches!(
        f.err(WriteOp::Append {
            mailbox_id: inbox,
            message: message("y", Flags::empty()),
        }),
        StoreError::OverQuota(QuotaResource::Storage)
    ));
    // A COPY past the limit stores none of its messages.
    assert!(matches!(
        f.err(WriteOp::Copy {
            from_mailbox: inbox,
            uids: vec![1, 2],
            to_mailbox: other,
        }),
        StoreError::OverQuota(QuotaResource::Storage)
    ));
    assert_eq!(f.mailbox(alice, "Other").expect("Other").messages, 0);
    assert_eq!(usage(&f, alice), (2048, 2));
    // A MOVE at the limit goes through (RFC 6851 §4.1) and changes no usage.
    f.ok(WriteOp::Move {
        from_mailbox: inbox,
        uids: vec![1],
        to_mailbox: other,
    });
    assert_eq!(usage(&f, alice), (2048, 2));
    f.ok(WriteOp::Move {
        from_mailbox: other,
        uids: vec![1],
        to_mailbox: inbox,
    });
    assert_eq!(usage(&f, alice), (2048, 2));
    f.check();

    // Lowering a limit below the usage still lets mail go.
    f.store
        .set_user_quota("alice", LimitChange::Set(1), LimitChange::Keep)
        .expect("lower");
    f.expunge(inbox, None);
    assert_eq!(usage(&f, alice), (1024, 1));

    // The message limit is its own resource.
    f.store
        .set_user_quota("alice", LimitChange::Unlimited, LimitChange::Keep)
        .expect("lift storage");
    f.append(inbox, "a", Flags::empty());
    f.append(inbox, "b", Flags::empty());
    assert!(matches!(
        f.err(WriteOp::Append {
            mailbox_id: inbox,
            message: message("c", Flags::empty()),
        }),
        StoreError::OverQuota(QuotaResource::Message)
    ));
    let q = quota(&f, alice);
    assert_eq!(
        (q.storage_limit_kib, q.message_limit, q.used_messages),
        (None, Some(3), 3)
    );
    f.check();

    assert!(matches!(
        f.store
            .set_user_quota("nobody", LimitChange::Set(1), LimitChange::Keep),
        Err(StoreError::NoSuchUser(_))
    ));
    // The row goes with the user.
    f.ok(WriteOp::DeleteUserMail { user_id: alice });
    f.store.delete_user("alice").expect("delete");
    assert_eq!(quota(&f, alice), Quota::default());
}

#[test]
fn racing_appends_never_overshoot_the_limit() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 40;
    const SIZE: usize = 1000;
    const LIMIT_KIB: u64 = 100;
    let f = fixture("quota-race");
    let (alice, inbox) = user_with_inbox(&f, "alice");
    f.store
        .set_user_quota("alice", LimitChange::Set(LIMIT_KIB), LimitChange::Keep)
        .expect("set");
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let writer = f.writer.clone();
            std::thread::spawn(move || {
                let mut stored = 0u64;
                for i in 0..PER_THREAD {
                    let raw = format!("{t:03}{i:03}{}", "z".repeat(SIZE - 6));
                    match writer.submit_blocking(WriteOp::Append {
                        mailbox_id: inbox,
                        message: message(&raw, Flags::empty()),
                    }) {
                        Ok(WriteResult::Appended(_)) => stored += 1,
                        Err(StoreError::OverQuota(QuotaResource::Storage)) => {}
                        other => panic!("unexpected {other:?}"),
                    }
                }
                stored
            })
        })
        .collect();
    let stored: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    let limit = LIMIT_KIB * 1024;
    // As many as fit, and not one more.
    assert_eq!(stored, limit / SIZE as u64);
    assert_eq!(usage(&f, alice), (stored * SIZE as u64, stored));
    assert!(f.mailbox(alice, "INBOX").expect("INBOX").size <= limit);
    f.check();
}

#[test]
fn opening_a_version_1_store_computes_usage() {
    let dir = testing::TempDir::new("quota-migrate");
    let (alice, bob) = {
        let store = Store::open(dir.path()).expect("open");
        let writer = store.start_writer().expect("writer");
        let alice = store.create_user("alice", HASH).expect("alice").id;
        let bob = store.create_user("bob", HASH).expect("bob").id;
        for (user, n) in [(alice, 3), (bob, 1)] {
            let WriteResult::Created { mailbox_id, .. } = writer
                .submit_blocking(WriteOp::CreateMailbox {
                    user_id: user,
                    name: "Work".into(),
                    special_use: SpecialUse::empty(),
                })
                .expect("create")
            else {
                panic!("not created");
            };
            for i in 0..n {
                writer
                    .submit_blocking(WriteOp::Append {
                        mailbox_id,
                        message: message(&format!("message {i}"), Flags::empty()),
                    })
                    .expect("append");
            }
        }
        store
            .set_user_quota("alice", LimitChange::Set(10), LimitChange::Keep)
            .expect("limit");
        // Make it a version 1 store: no usage kept, the limit row kept as
        // a version 2 store's would be lost to the downgrade anyway.
        let mut wtxn = store.inner.env.write_txn().expect("wtxn");
        let t = store.inner.tables;
        t.quotas
            .put(
                &mut wtxn,
                &alice.to_be_bytes(),
                &quota::encode_quota(&Quota {
                    storage_limit_kib: Some(10),
                    ..Quota::default()
                }),
            )
            .expect("reset alice");
        t.quotas
            .delete(&mut wtxn, &bob.to_be_bytes())
            .expect("drop bob");
        t.meta
            .put(&mut wtxn, KEY_FORMAT_VERSION, &1u32.to_be_bytes())
            .expect("version");
        wtxn.commit().expect("commit");
        (alice, bob)
    };
    let store = Store::open(dir.path()).expect("reopen migrates");
    let r = store.read().expect("read");
    let a = r.quota(alice).expect("alice");
    assert_eq!(
        (a.storage_limit_kib, a.used_bytes, a.used_messages),
        (Some(10), 3 * 9, 3)
    );
    let b = r.quota(bob).expect("bob");
    assert_eq!(
        (b.storage_limit_kib, b.used_bytes, b.used_messages),
        (None, 9, 1)
    );
    let rtxn = store.inner.env.read_txn().expect("rtxn");
    let v = store
        .inner
        .meta
        .get(&rtxn, KEY_FORMAT_VERSION)
        .expect("get");
    assert_eq!(v, Some(&FORMAT_VERSION.to_be_bytes()[..]));
}

#[test]
fn a_delivery_stores_each_copy_or_refuses_it_alone_in_one_commit() {
    let f = fixture("deliver-copies");
    let (alice, alice_inbox) = user_with_inbox(&f, "alice");
    let (bob, bob_inbox) = user_with_inbox(&f, "bob");
    f.store
        .set_user_quota("bob", LimitChange::Keep, LimitChange::Set(0))
        .expect("bob's limit");
    let commits = f.writer.commits();
    let copy = |mailbox_id| DeliveryCopy {
        mailbox_id,
        message: message("Subject: hi\r\n\r\nhello\r\n", Flags::empty()),
    };
    let WriteResult::Delivered(results) = f.ok(WriteOp::Deliver {
        copies: vec![copy(alice_inbox), copy(bob_inbox), copy(999_999)],
    }) else {
        panic!("not a delivery result");
    };
    assert_eq!(f.writer.commits(), commits + 1);
    assert!(matches!(results[0], CopyResult::Stored(a) if a.uid == 1));
    assert_eq!(results[1], CopyResult::OverQuota(QuotaResource::Message));
    assert_eq!(results[2], CopyResult::NoMailbox);
    assert_eq!(usage(&f, alice), (22, 1));
    assert_eq!(usage(&f, bob), (0, 0));
    assert_eq!(f.mailbox(bob, "INBOX").expect("inbox").messages, 0);
}
