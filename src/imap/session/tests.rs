//! Transcript tests: client bytes in, server bytes and actions out, no socket.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::Config;

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
    now: Instant,
}

impl T {
    fn new(plaintext: PlaintextAuth, peer: IpAddr) -> T {
        let now = Instant::now();
        let s = Session::new(config(plaintext), ConnInfo { peer, implicit_tls: false }, now);
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
        assert!(matches!(self.s.next_action(), Some(Action::Authenticate { .. })));
        self.s.auth_result(AuthResult::Success { username: "alice".into() }, self.now);
        let out = self.out();
        assert!(out.starts_with("a OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID]"), "{out}");
    }
}

#[test]
fn greeting_carries_capabilities() {
    let mut t = T::local();
    assert_eq!(t.out(), "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR LITERAL+ ID] Roost ready.\r\n");
}

#[test]
fn logindisabled_off_loopback() {
    let mut t = T::new(PlaintextAuth::Loopback, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
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
        Some(Action::Authenticate { username: b"mrc".to_vec(), password: Secret(b"secret".to_vec()) })
    );
    t.s.auth_result(AuthResult::Success { username: "mrc".into() }, t.now);
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
    assert_eq!(t.out(), "a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
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
    t.s.auth_result(AuthResult::Success { username: "alice".into() }, t.now);
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
        Some(Action::Authenticate { username: b"alice".to_vec(), password: Secret(b"secret".to_vec()) })
    );
    t.s.auth_result(AuthResult::Failed, t.now);
    t.out();
    let out = t.send("b AUTHENTICATE PLAIN\r\n");
    assert_eq!(out, "+ \r\n");
    let out = t.send("AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(out, "");
    assert!(matches!(t.s.next_action(), Some(Action::Authenticate { .. })));
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
    assert_eq!(out, "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ ID\r\nc OK CAPABILITY completed\r\n");
    assert!(t.send("d STARTTLS\r\n").starts_with("d BAD "));
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
        Some(Action::Authenticate { username: b"alice".to_vec(), password: Secret(b"secret".to_vec()) })
    );
}

#[test]
fn oversized_literals() {
    let mut t = T::local();
    t.out();
    let out = t.send("a LOGIN {99999999999}\r\n");
    assert!(out.starts_with("a BAD [TOOBIG]") || out.starts_with("a BAD [LIMIT]"), "{out}");
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
fn id_answers_with_server_identity() {
    let mut t = T::local();
    t.out();
    let out = t.send("a ID (\"name\" \"mutt\")\r\n");
    assert!(out.starts_with("* ID (\"name\" \"Roost\" \"version\" "), "{out}");
    assert!(out.ends_with("a OK ID completed\r\n"));
    assert!(t.send("b ID NIL\r\n").ends_with("b OK ID completed\r\n"));
}
