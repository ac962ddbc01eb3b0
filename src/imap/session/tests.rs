//! Transcript tests: client bytes in, server bytes and actions out, no socket.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeZone;

use super::*;
use crate::config::Config;
use crate::mailbox::MailAccess;
use crate::store::Store;

mod quota;

/// The time the tests pass in: a real instant, a fixed wall clock (so a
/// default INTERNALDATE is known).
fn test_now() -> Now {
    Now {
        instant: Instant::now(),
        wall: chrono::Utc
            .with_ymd_and_hms(2024, 5, 6, 7, 8, 9)
            .single()
            .expect("a valid date"),
    }
}

/// A real store in a fresh directory, with its writer.
fn mail() -> (MailAccess, Store) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "roost-session-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir).expect("open store");
    // The users the transcripts log in as (ids 1 and 2): a session re-checks
    // its login against the store before each command.
    // Without the default mailboxes: the transcripts make their own.
    let writer = store.start_writer().expect("writer");
    for name in ["alice", "mrc"] {
        let user = store.create_user(name, TEST_HASH).expect("user");
        writer
            .submit_blocking(crate::store::WriteOp::DeleteUserMail { user_id: user.id })
            .expect("bare user");
    }
    (MailAccess::new(store.clone(), writer), store)
}

/// The stored hash of the test users (never verified: logins are answered
/// by the test, as the driver would).
const TEST_HASH: &str = "$argon2id$test";

fn test_stamp() -> u64 {
    crate::auth::credential_stamp(TEST_HASH)
}

fn config(plaintext: PlaintextAuth) -> Arc<SessionConfig> {
    let c = Config::default();
    Arc::new(SessionConfig {
        frame_limits: c.frame_limits,
        parse_limits: c.parse_limits,
        plaintext_auth: plaintext,
        timeouts: c.timeouts,
        starttls_available: true,
    })
}

struct T {
    s: Session,
    now: Now,
}

impl T {
    fn new(plaintext: PlaintextAuth, peer: IpAddr) -> T {
        let now = test_now();
        let (mail, _store) = mail();
        let s = Session::new(
            config(plaintext),
            ConnInfo {
                peer,
                implicit_tls: false,
            },
            now,
            Arc::new(mail),
        );
        T { s, now }
    }
    fn local() -> T {
        T::new(PlaintextAuth::Loopback, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
    fn out(&mut self) -> String {
        String::from_utf8_lossy(&self.s.take_output()).into_owned()
    }
    fn send(&mut self, input: &str) -> String {
        self.s.feed(input.as_bytes(), self.now);
        self.out()
    }
    fn login(&mut self) {
        self.send("a LOGIN alice secret\r\n");
        assert!(matches!(
            self.s.next_action(),
            Some(Action::Authenticate { .. })
        ));
        self.s.auth_result(
            AuthResult::Success {
                username: "alice".into(),
                user_id: 1,
                stamp: test_stamp(),
            },
            self.now,
        );
        let out = self.out();
        assert!(
            out.starts_with(
                "a OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID UIDPLUS IDLE NAMESPACE UNSELECT \
                 CHILDREN COMPRESS=DEFLATE ENABLE CONDSTORE QRESYNC MOVE \
                 SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS \
                 QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE STATUS=SIZE APPENDLIMIT=52428800]"
            ),
            "{out}"
        );
    }
}

#[test]
fn greeting_carries_capabilities() {
    let mut t = T::local();
    assert_eq!(
        t.out(),
        "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR LITERAL+ ID] Roost ready.\r\n"
    );
}

#[test]
fn logindisabled_off_loopback() {
    let mut t = T::new(
        PlaintextAuth::Loopback,
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    );
    assert!(t.out().contains("LOGINDISABLED"));
    let out = t.send("a LOGIN alice secret\r\n");
    assert!(out.starts_with("a NO [PRIVACYREQUIRED]"), "{out}");
    assert_eq!(t.s.next_action(), None);
    let out = t.send("b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert!(out.starts_with("b NO [PRIVACYREQUIRED]"), "{out}");
}

#[test]
fn rfc3501_section8_opening() {
    // The not-authenticated part of the RFC 3501 §8 sample session.
    let mut t = T::local();
    t.out();
    let out = t.send("a001 login mrc secret\r\n");
    assert_eq!(out, "");
    assert_eq!(
        t.s.next_action(),
        Some(Action::Authenticate {
            username: b"mrc".to_vec(),
            password: Secret(b"secret".to_vec())
        })
    );
    t.s.auth_result(
        AuthResult::Success {
            username: "mrc".into(),
            user_id: 2,
            stamp: test_stamp(),
        },
        t.now,
    );
    assert!(t.out().starts_with("a001 OK "));
    let out = t.send("a006 logout\r\n");
    assert_eq!(out, "* BYE Logging out.\r\na006 OK LOGOUT completed\r\n");
    assert_eq!(t.s.next_action(), Some(Action::Close));
    assert!(t.s.is_finished());
}

#[test]
fn login_failure_and_throttle_texts() {
    let mut t = T::local();
    t.out();
    t.send("a LOGIN alice wrong\r\n");
    t.s.next_action();
    t.s.auth_result(AuthResult::Failed, t.now);
    assert_eq!(
        t.out(),
        "a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    );
    t.send("b LOGIN alice wrong\r\n");
    t.s.next_action();
    t.s.auth_result(AuthResult::Throttled, t.now);
    assert!(t.out().starts_with("b NO [UNAVAILABLE]"));
}

#[test]
fn pipelined_commands_wait_for_authentication() {
    let mut t = T::local();
    t.out();
    let out = t.send("a LOGIN alice secret\r\nb NOOP\r\n");
    assert_eq!(out, "", "NOOP must not be answered before LOGIN completes");
    t.s.next_action();
    t.s.auth_result(
        AuthResult::Success {
            username: "alice".into(),
            user_id: 1,
            stamp: test_stamp(),
        },
        t.now,
    );
    let out = t.out();
    let ok_a = out.find("a OK").expect("LOGIN answered");
    let ok_b = out.find("b OK").expect("NOOP answered");
    assert!(ok_a < ok_b);
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    let mut t = T::local();
    t.out();
    // "\0alice\0secret"
    t.send("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(
        t.s.next_action(),
        Some(Action::Authenticate {
            username: b"alice".to_vec(),
            password: Secret(b"secret".to_vec())
        })
    );
    t.s.auth_result(AuthResult::Failed, t.now);
    t.out();
    let out = t.send("b AUTHENTICATE PLAIN\r\n");
    assert_eq!(out, "+ \r\n");
    let out = t.send("AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(out, "");
    assert!(matches!(
        t.s.next_action(),
        Some(Action::Authenticate { .. })
    ));
}

#[test]
fn authenticate_cancel_bad_base64_and_foreign_authzid() {
    let mut t = T::local();
    t.out();
    t.send("a AUTHENTICATE PLAIN\r\n");
    assert!(t.send("*\r\n").starts_with("a BAD "));
    t.send("b AUTHENTICATE PLAIN\r\n");
    assert!(t.send("!!!\r\n").starts_with("b BAD "));
    // "bob\0alice\0secret"
    let out = t.send("c AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n");
    assert!(out.starts_with("c NO [AUTHORIZATIONFAILED]"), "{out}");
    let out = t.send("d AUTHENTICATE CRAM-MD5\r\n");
    assert!(out.starts_with("d NO "), "{out}");
    let out = t.send("e AUTHENTICATE PLAIN =\r\n");
    assert!(out.starts_with("e BAD "), "{out}");
    assert_eq!(t.s.next_action(), None);
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let mut t = T::local();
    t.out();
    let out = t.send("a STARTTLS\r\nb LOGIN alice secret\r\n");
    assert_eq!(out, "a OK Begin TLS negotiation now\r\n");
    assert_eq!(t.s.next_action(), Some(Action::StartTls));
    assert_eq!(t.s.next_action(), None, "the pipelined LOGIN was dropped");
    t.s.tls_established(t.now);
    let out = t.send("c CAPABILITY\r\n");
    assert_eq!(
        out,
        "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ ID\r\nc OK CAPABILITY completed\r\n"
    );
    assert!(t.send("d STARTTLS\r\n").starts_with("d BAD "));
}

#[test]
fn compress_deflate() {
    let mut t = T::local();
    t.out();
    // RFC 4978: a command-auth, DEFLATE the only algorithm.
    assert!(t.send("a COMPRESS DEFLATE\r\n").starts_with("a BAD "));
    assert_eq!(t.s.next_action(), None);
    t.login();
    assert_eq!(
        t.send("b COMPRESS LZ4\r\n"),
        "b BAD Unknown compression algorithm.\r\n"
    );
    assert_eq!(t.s.next_action(), None);
    // The tagged OK is the last plain output; the bytes that came after
    // the command (already compressed) go to the driver, unread.
    let out = t.send("c COMPRESS DEFLATE\r\n\u{3}\u{0}d NOOP\r\n");
    assert_eq!(out, "c OK DEFLATE active\r\n");
    assert_eq!(
        t.s.next_action(),
        Some(Action::Compress {
            pending: b"\x03\x00d NOOP\r\n".to_vec()
        })
    );
    assert_eq!(t.s.next_action(), None);
    // What the driver feeds now is inflated input.
    assert_eq!(
        t.send("e COMPRESS DEFLATE\r\n"),
        "e NO [COMPRESSIONACTIVE] DEFLATE is already active.\r\n"
    );
    assert_eq!(t.s.next_action(), None);
    assert!(t.send("f NOOP\r\n").starts_with("f OK "));
}

#[test]
fn compress_after_pipelined_appends_leaves_later_bytes_unread() {
    let mut m = M::new();
    let body = "Subject: x\r\n\r\nbody\r\n";
    let input = format!(
        "a1 APPEND INBOX {{{}+}}\r\n{body}\r\nz COMPRESS DEFLATE\r\n",
        body.len()
    );
    m.s.feed(input.as_bytes(), m.now);
    let Some(Action::Write {
        ticket,
        user_id,
        op,
    }) = m.s.next_action()
    else {
        panic!("the APPEND goes to the disk first");
    };
    // Arrives while COMPRESS waits behind the APPEND: compressed input,
    // which must never be framed as commands.
    m.s.feed(b"y NOOP\r\n", m.now);
    assert_eq!(m.s.take_output(), b"");
    let r = m.rt.block_on(m.mail.write(user_id, op));
    m.s.write_result(ticket, r, m.now);
    let out = String::from_utf8_lossy(&m.s.take_output()).into_owned();
    assert!(out.contains("a1 OK [APPENDUID"), "{out}");
    assert!(out.ends_with("z OK DEFLATE active\r\n"), "{out}");
    assert_eq!(
        m.s.next_action(),
        Some(Action::Compress {
            pending: b"y NOOP\r\n".to_vec()
        })
    );
}

#[test]
fn wrong_state_is_bad() {
    let mut t = T::local();
    t.out();
    assert!(t.send("a SELECT INBOX\r\n").starts_with("a BAD "));
    assert!(t.send("b FETCH 1 FLAGS\r\n").starts_with("b BAD "));
    t.login();
    assert!(t.send("c LOGIN alice secret\r\n").starts_with("c BAD "));
    assert!(t.send("d STARTTLS\r\n").starts_with("d BAD "));
    assert!(t.send("e FETCH 1 FLAGS\r\n").starts_with("e BAD "));
    assert_eq!(t.s.next_action(), None);
}

#[test]
fn malformed_input_gets_bad_and_the_session_goes_on() {
    let mut t = T::local();
    t.out();
    assert!(t.send("\r\n").starts_with("* BAD "));
    assert!(t.send("a FOO\r\n").starts_with("a BAD "));
    assert!(t.send("a ID (\"x\" \"y\"\r\n").starts_with("a BAD "));
    assert!(t.send("a NO\0OP\r\n").starts_with("a BAD "));
    assert!(t.send("b NOOP\r\n").starts_with("b OK "));
}

#[test]
fn literals_sync_and_nonsync() {
    let mut t = T::local();
    t.out();
    let out = t.send("a LOGIN {5}\r\n");
    assert_eq!(out, "+ Ready for literal data\r\n");
    t.send("alice {6+}\r\nsecret\r\n");
    assert_eq!(
        t.s.next_action(),
        Some(Action::Authenticate {
            username: b"alice".to_vec(),
            password: Secret(b"secret".to_vec())
        })
    );
}

#[test]
fn oversized_literals() {
    let mut t = T::local();
    t.out();
    let out = t.send("a LOGIN {99999999999}\r\n");
    assert!(
        out.starts_with("a BAD [TOOBIG]") || out.starts_with("a BAD [LIMIT]"),
        "{out}"
    );
    assert!(t.send("b NOOP\r\n").starts_with("b OK"));
    let out = t.send("c LOGIN {99999999999+}\r\n");
    assert!(out.starts_with("* BYE [TOOBIG]"), "{out}");
    assert_eq!(t.s.next_action(), Some(Action::Close));
}

#[test]
fn autologout_and_shutdown() {
    let mut t = T::local();
    t.out();
    t.s.on_tick(t.now + Duration::from_secs(59));
    assert_eq!(t.out(), "");
    t.s.on_tick(t.now + Duration::from_secs(61));
    assert!(t.out().starts_with("* BYE "));
    assert_eq!(t.s.next_action(), Some(Action::Close));

    let mut t = T::local();
    t.login();
    // Authenticated sessions get at least 30 minutes (RFC 3501 §5.4).
    t.s.on_tick(t.now + Duration::from_secs(29 * 60));
    assert_eq!(t.out(), "");
    t.s.shutdown();
    assert_eq!(t.out(), "* BYE Server shutting down.\r\n");
}

#[test]
fn prelogin_deadline_is_not_extended_by_trickled_bytes() {
    let mut t = T::local();
    t.out();
    // One byte every second of a LOGIN line that never ends.
    for (i, b) in b"a LOGIN alice pass".iter().cycle().take(59).enumerate() {
        t.s.feed(&[*b], t.now + Duration::from_secs(i as u64));
        t.s.on_tick(t.now + Duration::from_secs(i as u64));
    }
    assert_eq!(t.out(), "");
    t.s.feed(b"x", t.now + Duration::from_secs(60));
    t.s.on_tick(t.now + Duration::from_secs(60));
    assert!(t.out().starts_with("* BYE "));
    assert_eq!(t.s.next_action(), Some(Action::Close));
}

#[test]
fn id_answers_with_server_identity() {
    let mut t = T::local();
    t.out();
    let out = t.send("a ID (\"name\" \"mutt\")\r\n");
    assert!(
        out.starts_with("* ID (\"name\" \"Roost\" \"version\" "),
        "{out}"
    );
    assert!(out.ends_with("a OK ID completed\r\n"));
    assert!(t.send("b ID NIL\r\n").ends_with("b OK ID completed\r\n"));
}

/// A session with a real store whose writes are carried out at once, as
/// the connection actor would.
pub(super) struct M {
    s: Session,
    mail: MailAccess,
    store: Store,
    rt: tokio::runtime::Runtime,
    now: Now,
}

impl M {
    pub(super) fn new() -> M {
        M::with_store(|_| {})
    }

    /// Like `new`, with `prepare` run on the store before the login.
    pub(super) fn with_store(prepare: impl FnOnce(&Store)) -> M {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (mail, store) = mail();
        prepare(&store);
        let now = test_now();
        let s = Session::new(
            config(PlaintextAuth::Loopback),
            ConnInfo {
                peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
                implicit_tls: false,
            },
            now,
            Arc::new(mail.clone()),
        );
        let mut m = M {
            s,
            mail,
            store,
            rt,
            now,
        };
        m.s.take_output();
        m.send("a LOGIN alice secret\r\n");
        m
    }

    /// A second session on the same store, logged in as the same user.
    pub(super) fn second(&self) -> M {
        let now = test_now();
        let s = Session::new(
            config(PlaintextAuth::Loopback),
            ConnInfo {
                peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
                implicit_tls: false,
            },
            now,
            Arc::new(self.mail.clone()),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut m = M {
            s,
            mail: self.mail.clone(),
            store: self.store.clone(),
            rt,
            now,
        };
        m.s.take_output();
        m.send("a LOGIN alice secret\r\n");
        m
    }

    pub(super) fn send(&mut self, input: &str) -> String {
        self.send_bytes(input.as_bytes())
    }

    fn send_bytes(&mut self, input: &[u8]) -> String {
        self.s.feed(input, self.now);
        let mut out = String::from_utf8_lossy(&self.s.take_output()).into_owned();
        while let Some(action) = self.s.next_action() {
            match action {
                Action::Authenticate { .. } => {
                    self.rt.block_on(self.mail.ensure_inbox(1)).expect("inbox");
                    self.s.auth_result(
                        AuthResult::Success {
                            username: "alice".into(),
                            user_id: 1,
                            stamp: test_stamp(),
                        },
                        self.now,
                    );
                }
                Action::Write {
                    ticket,
                    user_id,
                    op,
                } => {
                    let r = self.rt.block_on(self.mail.write(user_id, op));
                    self.s.write_result(ticket, r, self.now);
                }
                Action::Search { ticket, request } => {
                    let r = self.rt.block_on(self.mail.search_detached(*request));
                    self.s.search_result(ticket, r, self.now);
                }
                Action::AwaitDrain => self.s.output_drained(self.now),
                Action::Background { user_id, op } => {
                    self.rt
                        .block_on(self.mail.write(user_id, op))
                        .expect("background write");
                }
                Action::StartTls | Action::Close | Action::Compress { .. } => {}
            }
            out.push_str(&String::from_utf8_lossy(&self.s.take_output()));
        }
        out
    }

    pub(super) fn append(&mut self, mailbox: &str, flags: &str, body: &str) -> String {
        self.send(&format!(
            "ap APPEND {mailbox} {flags} {{{}+}}\r\n{body}\r\n",
            body.len()
        ))
    }
}

pub(super) const MSG1: &str = "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nHi Bob, the quokka says hello.\r\n";
pub(super) const MSG2: &str = "From: carl@example.org\r\nSubject: second\r\n\r\nnothing here\r\n";

#[test]
fn select_fetch_store_expunge() {
    let mut m = M::new();
    assert!(m.append("INBOX", "(\\Seen)", MSG1).contains("ap OK"));
    assert!(m.append("INBOX", "()", MSG2).contains("ap OK"));
    let out = m.send("b SELECT inbox\r\n");
    assert!(out.contains("* 2 EXISTS\r\n"), "{out}");
    assert!(out.contains("* 2 RECENT\r\n"), "{out}");
    assert!(out.contains("* OK [UNSEEN 2]"), "{out}");
    assert!(out.contains("* OK [UIDNEXT 3]"), "{out}");
    assert!(
        out.contains("[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"),
        "{out}"
    );
    assert!(out.contains("b OK [READ-WRITE] SELECT completed"), "{out}");

    let out = m.send("c FETCH 1:* (UID FLAGS RFC822.SIZE)\r\n");
    assert!(
        out.contains(&format!(
            "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) RFC822.SIZE {})",
            MSG1.len()
        )),
        "{out}"
    );
    let out = m.send("d UID FETCH 2 BODY[HEADER.FIELDS (SUBJECT)]\r\n");
    assert!(
        out.contains(
            "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] {19}\r\nSubject: second\r\n\r\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("FLAGS (\\Seen \\Recent)"),
        "a non-PEEK fetch sets and reports \\Seen: {out}"
    );

    let out = m.send("e STORE 1 +FLAGS (\\Deleted)\r\n");
    assert!(
        out.contains("* 1 FETCH (FLAGS (\\Deleted \\Seen \\Recent))"),
        "{out}"
    );
    let out = m.send("f EXPUNGE\r\n");
    assert!(out.starts_with("* 1 EXPUNGE\r\nf OK"), "{out}");
    let out = m.send("g FETCH 2 FLAGS\r\n");
    assert!(out.starts_with("g BAD "), "only one message is left: {out}");
    let out = m.send("h SEARCH SUBJECT second\r\n");
    assert!(out.starts_with("* SEARCH 1\r\nh OK"), "{out}");
}

#[test]
fn two_sessions_see_each_others_changes_at_the_right_moments() {
    let mut a = M::new();
    a.append("INBOX", "()", MSG1);
    a.append("INBOX", "()", MSG2);
    let mut b = a.second();
    a.send("s1 SELECT INBOX\r\n");
    b.send("s2 SELECT INBOX\r\n");

    b.append("INBOX", "()", MSG2);
    let out = a.send("n1 NOOP\r\n");
    assert!(out.starts_with("* 3 EXISTS\r\n"), "{out}");

    b.send("x STORE 1 +FLAGS (\\Deleted)\r\n");
    b.send("y EXPUNGE\r\n");
    // No EXPUNGE while answering FETCH (RFC 3501 §7.4.1); the numbering
    // stays as the client knows it.
    let out = a.send("f1 FETCH 3 (UID)\r\n");
    assert!(out.contains("* 3 FETCH (UID 3)"), "{out}");
    assert!(!out.contains("EXPUNGE"), "{out}");
    let out = a.send("n2 NOOP\r\n");
    assert!(out.contains("* 1 EXPUNGE\r\n"), "{out}");
    let out = a.send("f2 FETCH 2 (UID)\r\n");
    assert!(out.contains("* 2 FETCH (UID 3)"), "{out}");

    b.send("z STORE 1 +FLAGS (\\Flagged)\r\n");
    let out = a.send("n3 NOOP\r\n");
    assert!(out.contains("* 1 FETCH (FLAGS (\\Flagged"), "{out}");
}

#[test]
fn recent_goes_to_one_session_only() {
    let mut a = M::new();
    a.append("INBOX", "()", MSG1);
    let mut b = a.second();
    assert!(a.send("s SELECT INBOX\r\n").contains("* 1 RECENT"));
    assert!(b.send("s SELECT INBOX\r\n").contains("* 0 RECENT"));
    assert!(b.send("e EXAMINE INBOX\r\n").contains("[READ-ONLY]"));
}

#[test]
fn mailbox_commands() {
    let mut m = M::new();
    assert!(m.send("a CREATE work/2024/q1\r\n").contains("a OK"));
    assert!(m.send("b CREATE work\r\n").contains("b NO [ALREADYEXISTS]"));
    let out = m.send("c LIST \"\" *\r\n");
    assert!(
        out.contains("* LIST (\\HasNoChildren) \"/\" INBOX\r\n"),
        "{out}"
    );
    assert!(
        out.contains("* LIST (\\HasChildren) \"/\" work\r\n"),
        "{out}"
    );
    assert!(
        out.contains("* LIST (\\HasNoChildren) \"/\" work/2024/q1\r\n"),
        "{out}"
    );
    let out = m.send("d LIST \"\" %\r\n");
    assert!(
        out.contains("\"/\" work\r\n") && !out.contains("work/2024"),
        "{out}"
    );
    assert!(
        m.send("e LIST \"\" \"\"\r\n")
            .contains("* LIST (\\Noselect) \"/\" \"\"\r\n")
    );
    assert!(m.send("f DELETE work\r\n").contains("f OK"));
    assert!(
        m.send("g LIST \"\" work\r\n")
            .contains("(\\Noselect \\HasChildren)")
    );
    assert!(
        m.send("h RENAME work/2024 archive/2024\r\n")
            .contains("h OK")
    );
    assert!(
        m.send("i LIST \"\" archive/*\r\n")
            .contains("archive/2024/q1")
    );
    assert!(m.send("j DELETE INBOX\r\n").contains("j NO"));
    assert!(m.send("k SUBSCRIBE archive/2024/q1\r\n").contains("k OK"));
    let out = m.send("l LSUB \"\" %\r\n");
    assert!(
        out.contains("* LSUB (\\Noselect) \"/\" archive\r\n"),
        "{out}"
    );
    assert!(
        m.send("m STATUS INBOX (MESSAGES UIDNEXT UNSEEN)\r\n")
            .contains("* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UNSEEN 0)")
    );
    assert!(
        m.send("n APPEND nowhere {1+}\r\nx\r\n")
            .contains("n NO [TRYCREATE]")
    );
    assert!(
        m.send("o SELECT nowhere\r\n")
            .contains("o NO [NONEXISTENT]")
    );
    assert!(m.send("p CREATE \"a//b\"\r\n").contains("p NO"));
}

#[test]
fn copy_and_close() {
    let mut m = M::new();
    m.send("a CREATE Archive\r\n");
    m.append("INBOX", "(\\Deleted)", MSG1);
    m.send("b SELECT INBOX\r\n");
    assert!(m.send("c COPY 1 Archive\r\n").contains("c OK"));
    assert!(m.send("d COPY 1 Nowhere\r\n").contains("d NO [TRYCREATE]"));
    let out = m.send("e CLOSE\r\n");
    assert_eq!(out, "e OK CLOSE completed\r\n", "CLOSE expunges silently");
    assert!(
        m.send("f STATUS INBOX (MESSAGES)\r\n")
            .contains("(MESSAGES 0)")
    );
    assert!(
        m.send("g STATUS Archive (MESSAGES)\r\n")
            .contains("(MESSAGES 1)")
    );
    assert!(
        m.send("h FETCH 1 FLAGS\r\n").starts_with("h BAD"),
        "no mailbox selected after CLOSE"
    );
}

#[test]
fn large_fetch_is_answered_in_chunks() {
    let mut m = M::new();
    let body = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(100_000));
    for _ in 0..8 {
        m.append("INBOX", "()", &body);
    }
    m.send("s SELECT INBOX\r\n");
    m.s.feed(b"f FETCH 1:* BODY.PEEK[]\r\n", m.now);
    let first = m.s.take_output();
    assert!(
        first.len() < 600 * 1024,
        "one chunk at a time, not the whole answer"
    );
    assert_eq!(m.s.next_action(), Some(Action::AwaitDrain));
    m.s.feed(b"n NOOP\r\n", m.now);
    assert!(
        m.s.take_output().is_empty(),
        "no new command runs before the FETCH is answered"
    );
    let mut all = first;
    let mut rounds = 0;
    loop {
        m.s.output_drained(m.now);
        all.extend(m.s.take_output());
        rounds += 1;
        if m.s.next_action() != Some(Action::AwaitDrain) {
            break;
        }
    }
    assert!(rounds > 1, "several chunks");
    let all = String::from_utf8_lossy(&all);
    assert_eq!(all.matches(" FETCH (BODY[] {").count(), 8);
    assert!(all.contains("f OK FETCH completed"));
    assert!(
        all.ends_with("n OK NOOP completed\r\n"),
        "the pipelined NOOP follows"
    );
}

/// Feeds `command` and collects the whole answer, chunk by chunk; returns
/// it and the largest chunk.
fn fetch_in_chunks(m: &mut M, command: &[u8]) -> (Vec<u8>, usize) {
    m.s.feed(command, m.now);
    let mut all = m.s.take_output();
    let mut largest = all.len();
    while m.s.next_action() == Some(Action::AwaitDrain) {
        m.s.output_drained(m.now);
        let chunk = m.s.take_output();
        largest = largest.max(chunk.len());
        all.extend(chunk);
    }
    (all, largest)
}

#[test]
fn repeated_large_fetch_items_are_streamed_in_bounded_chunks() {
    let mut m = M::new();
    let text: String = (0..40_000)
        .map(|i| format!("line {i:05} of a long body\r\n"))
        .collect();
    let body = format!("Subject: huge\r\nFrom: a@example.org\r\n\r\n{text}");
    m.append("INBOX", "()", &body);
    m.send("s SELECT INBOX\r\n");
    let items = ["BODY.PEEK[]"; 20].join(" ");
    let (all, largest) = fetch_in_chunks(
        &mut m,
        format!("f FETCH 1 (UID {items} BODY.PEEK[TEXT]<7.300000> RFC822.SIZE)\r\n").as_bytes(),
    );
    assert!(
        largest <= 256 * 1024 + 16 * 1024 + 1024,
        "each chunk is bounded, however large and repeated the items: {largest}"
    );
    // Byte for byte what one encoded response says.
    let raw = body.as_bytes();
    let mut want = b"* 1 FETCH (UID 1".to_vec();
    for _ in 0..20 {
        want.extend_from_slice(format!(" BODY[] {{{}}}\r\n", raw.len()).as_bytes());
        want.extend_from_slice(raw);
    }
    let text_start = body.find("\r\n\r\n").expect("header end") + 4;
    let partial = &raw[text_start + 7..(text_start + 7 + 300_000).min(raw.len())];
    want.extend_from_slice(format!(" BODY[TEXT]<7> {{{}}}\r\n", partial.len()).as_bytes());
    want.extend_from_slice(partial);
    want.extend_from_slice(
        format!(" RFC822.SIZE {})\r\nf OK FETCH completed\r\n", raw.len()).as_bytes(),
    );
    assert!(all == want, "streamed answer differs from the encoded one");
}

#[test]
fn pipelined_appends_wait_for_the_disk_together_and_answer_in_order() {
    let mut m = M::new();
    let msg = |i: u32| format!("Subject: {i}\r\n\r\nbody\r\n");
    let mut input = String::new();
    for i in 1..=3 {
        let body = msg(i);
        input.push_str(&format!(
            "a{i} APPEND INBOX {{{}+}}\r\n{body}\r\n",
            body.len()
        ));
    }
    input.push_str("n NOOP\r\n");
    m.s.feed(input.as_bytes(), m.now);
    assert_eq!(
        m.s.take_output(),
        b"",
        "nothing is answered before the disk"
    );
    let mut writes = Vec::new();
    while let Some(action) = m.s.next_action() {
        match action {
            Action::Write {
                ticket,
                user_id,
                op,
            } => writes.push((ticket, user_id, op)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(writes.len(), 3, "all three APPENDs are in flight at once");
    // The disk answers out of order; the client still hears them in order.
    let mut results = Vec::new();
    for (ticket, user_id, op) in writes {
        results.push((ticket, m.rt.block_on(m.mail.write(user_id, op))));
    }
    results.reverse();
    let mut out = String::new();
    for (ticket, r) in results {
        m.s.write_result(ticket, r, m.now);
        out.push_str(&String::from_utf8_lossy(&m.s.take_output()));
    }
    let pos = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing: {out}"))
    };
    assert!(pos("a1 OK [APPENDUID") < pos("a2 OK [APPENDUID"));
    assert!(pos("a2 OK [APPENDUID") < pos("a3 OK [APPENDUID"));
    assert!(
        pos("a3 OK") < pos("n OK NOOP"),
        "NOOP runs after the APPENDs: {out}"
    );
    assert!(
        out.contains("[APPENDUID ") && out.contains(" 3] APPEND completed"),
        "{out}"
    );
}

/// APPEND without a date stores the wall clock the driver passed in, not
/// one the session read.
#[test]
fn append_default_internaldate_is_the_time_passed_in() {
    let mut m = M::new();
    assert!(m.append("INBOX", "()", MSG2).contains("ap OK"));
    m.send("s SELECT INBOX\r\n");
    let out = m.send("f FETCH 1 INTERNALDATE\r\n");
    assert!(
        out.contains("* 1 FETCH (INTERNALDATE \" 6-May-2024 07:08:09 +0000\")"),
        "{out}"
    );
}

#[test]
fn a_changed_password_ends_the_session_at_its_next_command() {
    let mut m = M::new();
    assert!(m.send("a NOOP\r\n").contains("a OK"));
    m.store
        .set_password("alice", "$argon2id$new")
        .expect("passwd");
    let out = m.send("b SELECT INBOX\r\n");
    assert!(out.starts_with("* BYE The password was changed"), "{out}");
    assert!(!out.contains("b OK"), "{out}");
}

#[test]
fn a_deleted_users_idle_session_gets_bye_within_the_check_interval() {
    let mut m = M::new();
    assert!(m.send("a SELECT INBOX\r\n").contains("a OK"));
    m.send("b IDLE\r\n");
    m.store.delete_user("alice").expect("delete");
    // Nothing yet before the interval; BYE once it has passed.
    m.s.on_tick(m.now + LOGIN_CHECK_INTERVAL / 2);
    assert_eq!(String::from_utf8_lossy(&m.s.take_output()), "");
    assert!(m.s.deadline() <= m.now.instant + LOGIN_CHECK_INTERVAL);
    m.s.on_tick(m.now + LOGIN_CHECK_INTERVAL);
    let out = String::from_utf8_lossy(&m.s.take_output()).into_owned();
    assert!(
        out.starts_with("* BYE This account has been deleted"),
        "{out}"
    );
    assert_eq!(m.s.next_action(), Some(Action::Close));
}

#[test]
fn a_completion_carries_its_commands_first_byte() {
    let mut t = T::local();
    let t0 = t.now;
    let t1 = t0 + Duration::from_millis(5);
    let t2 = t0 + Duration::from_millis(9);
    t.s.take_completions();
    // b's first bytes come with a's; the rest of b, and then c, later.
    t.s.feed(b"a NOOP\r\nb NO", t0);
    t.s.feed(b"OP\r\n", t1);
    t.s.feed(b"c BOGUS\r\n", t2);
    let done = t.s.take_completions();
    let seen: Vec<(&str, &str, &str, Instant)> = done
        .iter()
        .map(|c| (c.tag.as_str(), c.command, c.outcome, c.first_byte))
        .collect();
    assert_eq!(
        seen,
        [
            ("a", "NOOP", "OK", t0.instant),
            ("b", "NOOP", "OK", t0.instant),
            ("c", "(invalid)", "BAD", t2.instant),
        ]
    );
    assert!(t.s.take_completions().is_empty());
}
