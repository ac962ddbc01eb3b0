//! Transcripts for QUOTA (RFC 9208), STATUS=SIZE (RFC 8438) and APPENDLIMIT
//! (RFC 7889) against a real store.

use super::*;
use crate::store::LimitChange;

/// M's user 1, alice, is a real user, so the administrator's limits apply.
fn with_user() -> M {
    M::with_store(|store| {
        let user = store.get_user("alice").expect("get").expect("user");
        assert_eq!(user.id, 1);
    })
}

#[test]
fn quota_root_and_usage() {
    let mut m = with_user();
    assert_eq!(
        m.send("a GETQUOTAROOT inbox\r\n"),
        "* QUOTAROOT INBOX \"\"\r\n* QUOTA \"\" ()\r\na OK GETQUOTAROOT completed\r\n",
        "no limits: an empty list"
    );
    m.store
        .set_user_quota("alice", LimitChange::Set(2), LimitChange::Set(3))
        .expect("limits");
    m.append("INBOX", "()", MSG1);
    assert_eq!(
        m.send("b GETQUOTA \"\"\r\n"),
        "* QUOTA \"\" (STORAGE 1 2 MESSAGE 1 3)\r\nb OK GETQUOTA completed\r\n"
    );
    // Any name, existing or not, falls under the user's one root.
    assert_eq!(
        m.send("c GETQUOTAROOT Nowhere/yet\r\n"),
        "* QUOTAROOT Nowhere/yet \"\"\r\n* QUOTA \"\" (STORAGE 1 2 MESSAGE 1 3)\r\n\
         c OK GETQUOTAROOT completed\r\n"
    );
    assert_eq!(
        m.send("d GETQUOTA \"User quota\"\r\n"),
        "d NO [NONEXISTENT] No such quota root.\r\n"
    );
    assert_eq!(
        m.send("e SETQUOTA \"\" (STORAGE 512)\r\n"),
        "e NO [NOPERM] Quota limits are set by the administrator.\r\n"
    );
    assert!(m.send("f SETQUOTA \"\" STORAGE\r\n").starts_with("f BAD"));
}

#[test]
fn over_quota_appends_and_copies_are_refused_whole() {
    let mut m = with_user();
    m.store
        .set_user_quota("alice", LimitChange::Keep, LimitChange::Set(3))
        .expect("limits");
    m.send("a CREATE Archive\r\n");
    assert!(m.append("INBOX", "()", MSG1).contains("ap OK [APPENDUID"));
    assert!(m.append("INBOX", "()", MSG2).contains("ap OK [APPENDUID"));
    m.send("b SELECT INBOX\r\n");
    // Two more would make four: nothing is copied.
    assert_eq!(
        m.send("c COPY 1:2 Archive\r\n"),
        "c NO [OVERQUOTA] Quota exceeded (message).\r\n"
    );
    assert!(
        m.send("d STATUS Archive (MESSAGES)\r\n")
            .contains("(MESSAGES 0)")
    );
    assert!(m.send("e COPY 2 Archive\r\n").contains("e OK [COPYUID"));
    assert_eq!(
        m.append("INBOX", "()", MSG2),
        "ap NO [OVERQUOTA] Quota exceeded (message).\r\n"
    );
    // Freeing a message makes room again.
    m.send("f STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
    m.send("g EXPUNGE\r\n");
    assert!(m.append("INBOX", "()", MSG2).contains("ap OK"));
}

#[test]
fn status_size_deleted_and_appendlimit() {
    let mut m = M::new();
    m.append("INBOX", "()", MSG1);
    m.append("INBOX", "(\\Deleted)", MSG2);
    let total = MSG1.len() + MSG2.len();
    assert_eq!(
        m.send("a STATUS INBOX (MESSAGES SIZE DELETED DELETED-STORAGE APPENDLIMIT)\r\n"),
        format!(
            "* STATUS INBOX (MESSAGES 2 SIZE {total} DELETED 1 DELETED-STORAGE {} \
             APPENDLIMIT 52428800)\r\na OK STATUS completed\r\n",
            MSG2.len()
        )
    );
    m.send("b SELECT INBOX\r\n");
    m.send("c EXPUNGE\r\n");
    assert!(
        m.send("d STATUS INBOX (SIZE DELETED-STORAGE)\r\n")
            .contains(&format!("(SIZE {} DELETED-STORAGE 0)", MSG1.len()))
    );
}
