//! Transcripts of whole sessions: bytes in, bytes and actions out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::command::{Body, ForwardPath, ReversePath};
use super::session::{
    Action, Delivery, Directory, Limits, Lookup, Outcome, OverQuota, Session, SessionConfig, Target,
};

/// alice and bob are users of example.org; carol is at her quota; dave's
/// lookup fails.
struct Users;

impl Directory for Users {
    fn lookup(&self, rcpt: &ForwardPath) -> Lookup {
        if rcpt
            .domain()
            .is_some_and(|d| !d.eq_ignore_ascii_case("example.org"))
        {
            return Lookup::NotLocal;
        }
        let local = rcpt.local_part().to_ascii_lowercase();
        let (user, tag) = match local.split_once('+') {
            Some((u, t)) => (u.to_owned(), Some(t.to_owned())),
            None => (local, None),
        };
        let user_id = match user.as_str() {
            "alice" => 1,
            "bob" => 2,
            "postmaster" => 3,
            "carol" => return Lookup::OverQuota,
            "dave" => return Lookup::Unavailable,
            _ => return Lookup::Unknown,
        };
        Lookup::Local(Target {
            user,
            user_id,
            mailbox: tag.unwrap_or_else(|| "INBOX".into()),
        })
    }
}

fn config(limits: Limits, over_quota: OverQuota) -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: "mx.example.org".into(),
        limits,
        over_quota,
    })
}

struct T {
    s: Session<Users>,
    now: Instant,
}

impl T {
    fn new() -> T {
        T::with(Limits::default(), OverQuota::Permanent)
    }

    fn with(limits: Limits, over_quota: OverQuota) -> T {
        let now = Instant::now();
        let mut t = T {
            s: Session::new(config(limits, over_quota), Users, now),
            now,
        };
        assert_eq!(t.out(), "220 mx.example.org LMTP ready\r\n");
        t
    }

    fn out(&mut self) -> String {
        String::from_utf8(self.s.take_output()).expect("replies are UTF-8")
    }

    /// Sends `input`, returns the replies.
    fn send(&mut self, input: &str) -> String {
        self.s.feed(input.as_bytes(), self.now);
        self.out()
    }

    fn send_bytes(&mut self, input: &[u8]) -> String {
        self.s.feed(input, self.now);
        self.out()
    }

    fn lhlo(&mut self) {
        let r = self.send("LHLO client.example.org\r\n");
        assert!(r.starts_with("250-mx.example.org\r\n"), "{r}");
    }

    fn delivery(&mut self) -> Delivery {
        match self.s.next_action() {
            Some(Action::Deliver(d)) => d,
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    fn no_action(&mut self) {
        assert_eq!(self.s.next_action(), None);
    }
}

fn stored(mailbox: &str) -> Outcome {
    Outcome::Stored {
        mailbox: mailbox.into(),
    }
}

#[test]
fn lhlo_lists_the_extensions() {
    let mut t = T::new();
    assert_eq!(
        t.send("LHLO client.example.org\r\n"),
        "250-mx.example.org\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n\
         250-8BITMIME\r\n250 SIZE 67108864\r\n"
    );
}

#[test]
fn a_whole_transaction() {
    let mut t = T::new();
    t.lhlo();
    assert_eq!(
        t.send("MAIL FROM:<sender@else.org>\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(
        t.send("RCPT TO:<alice@example.org>\r\n"),
        "250 2.1.5 <alice@example.org> OK\r\n"
    );
    assert_eq!(
        t.send("DATA\r\n"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    assert_eq!(t.send("Subject: hi\r\n\r\n..dot\r\n"), "");
    t.no_action();
    assert_eq!(t.send(".\r\n"), "");
    assert!(!t.s.wants_input());
    let d = t.delivery();
    assert_eq!(d.message, b"Subject: hi\r\n\r\n.dot\r\n");
    assert_eq!(d.client, "client.example.org");
    assert_eq!(d.body, Body::SevenBit);
    assert!(matches!(d.from, ReversePath::Address(ref a) if a.as_given == "sender@else.org"));
    assert_eq!(d.recipients.len(), 1);
    assert_eq!(d.recipients[0].target.user, "alice");
    t.s.delivered(vec![stored("INBOX")]);
    assert_eq!(t.out(), "250 2.0.0 <alice@example.org> delivered\r\n");
    assert!(t.s.wants_input());
    assert_eq!(t.send("QUIT\r\n"), "221 2.0.0 Bye\r\n");
    assert_eq!(t.s.next_action(), Some(Action::Close));
    assert!(t.s.is_closed());
}

#[test]
fn one_reply_per_accepted_recipient_in_rcpt_order() {
    let mut t = T::new();
    t.lhlo();
    let r = t.send(
        "MAIL FROM:<> BODY=8BITMIME SIZE=100\r\n\
         RCPT TO:<bob@example.org>\r\n\
         RCPT TO:<nobody@example.org>\r\n\
         RCPT TO:<carol@example.org>\r\n\
         RCPT TO:<alice+work@example.org>\r\n\
         RCPT TO:<bob@example.org>\r\n\
         RCPT TO:<x@elsewhere.net>\r\n\
         RCPT TO:<dave@example.org>\r\n\
         DATA\r\n",
    );
    assert_eq!(
        r,
        "250 2.1.0 Sender OK\r\n\
         250 2.1.5 <bob@example.org> OK\r\n\
         550 5.1.1 <nobody@example.org> User unknown\r\n\
         552 5.2.2 <carol@example.org> Mailbox is full\r\n\
         250 2.1.5 <alice+work@example.org> OK\r\n\
         250 2.1.5 <bob@example.org> OK\r\n\
         550 5.1.2 <x@elsewhere.net> Not a local domain\r\n\
         451 4.3.0 <dave@example.org> Temporary failure, try again later\r\n\
         354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    assert_eq!(t.send("hello\r\n.\r\n"), "");
    let d = t.delivery();
    assert_eq!(d.body, Body::EightBitMime);
    assert_eq!(d.from, ReversePath::Null);
    let who: Vec<_> = d
        .recipients
        .iter()
        .map(|r| (r.address.as_given().to_owned(), r.target.mailbox.clone()))
        .collect();
    assert_eq!(
        who,
        [
            ("bob@example.org".to_owned(), "INBOX".to_owned()),
            ("alice+work@example.org".to_owned(), "work".to_owned()),
            ("bob@example.org".to_owned(), "INBOX".to_owned()),
        ]
    );
    t.s.delivered(vec![
        stored("INBOX"),
        Outcome::OverQuota,
        Outcome::Failed("disk".into()),
    ]);
    assert_eq!(
        t.out(),
        "250 2.0.0 <bob@example.org> delivered\r\n\
         552 5.2.2 <alice+work@example.org> Mailbox is full\r\n\
         451 4.3.0 <bob@example.org> Temporary failure (disk), try again later\r\n"
    );
}

#[test]
fn temporary_over_quota_by_config() {
    let mut t = T::with(Limits::default(), OverQuota::Temporary);
    t.lhlo();
    assert_eq!(
        t.send("MAIL FROM:<>\r\nRCPT TO:<carol@example.org>\r\nRCPT TO:<alice@example.org>\r\n"),
        "250 2.1.0 Sender OK\r\n452 4.2.2 <carol@example.org> Mailbox is full\r\n\
         250 2.1.5 <alice@example.org> OK\r\n"
    );
    t.send("DATA\r\nx\r\n.\r\n");
    t.delivery();
    t.s.delivered(vec![Outcome::OverQuota]);
    assert_eq!(t.out(), "452 4.2.2 <alice@example.org> Mailbox is full\r\n");
}

#[test]
fn a_missing_outcome_is_a_temporary_failure_never_a_250() {
    let mut t = T::new();
    t.lhlo();
    t.send(
        "MAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n.\r\n",
    );
    t.delivery();
    t.s.delivered(vec![stored("INBOX")]);
    let out = t.out();
    assert!(out.starts_with("250 2.0.0 <alice@example.org>"), "{out}");
    assert!(out.contains("451 4.3.0 <bob@example.org>"), "{out}");
}

#[test]
fn user_gone_before_the_end_of_data() {
    let mut t = T::new();
    t.lhlo();
    t.send("MAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n.\r\n");
    t.delivery();
    t.s.delivered(vec![Outcome::Unknown]);
    assert_eq!(t.out(), "550 5.1.1 <alice@example.org> User unknown\r\n");
}

#[test]
fn data_without_valid_recipients_is_503() {
    let mut t = T::new();
    t.lhlo();
    assert_eq!(
        t.send("MAIL FROM:<>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n"),
        "250 2.1.0 Sender OK\r\n550 5.1.1 <nobody@example.org> User unknown\r\n\
         503 5.5.1 No valid recipients\r\n"
    );
    // Still in the transaction: a good RCPT makes DATA work.
    assert_eq!(
        t.send("RCPT TO:<alice@example.org>\r\nDATA\r\n"),
        "250 2.1.5 <alice@example.org> OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
}

#[test]
fn commands_out_of_order() {
    let mut t = T::new();
    assert_eq!(t.send("MAIL FROM:<>\r\n"), "503 5.5.1 LHLO first\r\n");
    assert_eq!(
        t.send("RCPT TO:<alice@example.org>\r\n"),
        "503 5.5.1 MAIL first\r\n"
    );
    assert_eq!(t.send("DATA\r\n"), "503 5.5.1 MAIL first\r\n");
    assert_eq!(t.send("HELO x\r\n"), "500 5.5.1 This is LMTP: use LHLO\r\n");
    assert_eq!(t.send("EHLO x\r\n"), "500 5.5.1 This is LMTP: use LHLO\r\n");
    t.lhlo();
    assert_eq!(
        t.send("RCPT TO:<alice@example.org>\r\n"),
        "503 5.5.1 MAIL first\r\n"
    );
    assert_eq!(t.send("MAIL FROM:<>\r\n"), "250 2.1.0 Sender OK\r\n");
    assert_eq!(
        t.send("MAIL FROM:<>\r\n"),
        "503 5.5.1 Nested MAIL command\r\n"
    );
    assert_eq!(t.send("RSET\r\n"), "250 2.0.0 OK\r\n");
    assert_eq!(
        t.send("RCPT TO:<alice@example.org>\r\n"),
        "503 5.5.1 MAIL first\r\n"
    );
    assert_eq!(t.send("MAIL FROM:<>\r\n"), "250 2.1.0 Sender OK\r\n");
    // LHLO resets the transaction as EHLO does (RFC 5321 §4.1.4).
    t.lhlo();
    assert_eq!(t.send("DATA\r\n"), "503 5.5.1 MAIL first\r\n");
}

#[test]
fn rset_before_lhlo_keeps_lhlo_required() {
    let mut t = T::new();
    assert_eq!(t.send("RSET\r\n"), "250 2.0.0 OK\r\n");
    assert_eq!(t.send("MAIL FROM:<>\r\n"), "503 5.5.1 LHLO first\r\n");
}

#[test]
fn noop_vrfy_expn_help_and_unknown() {
    let mut t = T::new();
    assert_eq!(t.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
    assert_eq!(
        t.send("VRFY alice\r\n"),
        "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
    );
    assert_eq!(t.send("EXPN staff\r\n"), "502 5.5.1 EXPN not available\r\n");
    assert!(t.send("HELP\r\n").starts_with("214 2.0.0 Commands:"));
    assert_eq!(t.send("XYZZY\r\n"), "500 5.5.1 Command unrecognized\r\n");
    assert_eq!(t.send("\r\n"), "500 5.5.1 Command unrecognized\r\n");
    assert_eq!(
        t.send("BDAT 5 LAST\r\n"),
        "502 5.5.1 BDAT is not offered (no CHUNKING)\r\n"
    );
}

#[test]
fn bare_lf_ends_a_command_line() {
    let mut t = T::new();
    assert_eq!(t.send("NOOP\nNOOP\r\n"), "250 2.0.0 OK\r\n250 2.0.0 OK\r\n");
}

#[test]
fn a_command_split_over_reads() {
    let mut t = T::new();
    assert_eq!(t.send("NO"), "");
    assert_eq!(t.send("OP\r"), "");
    assert_eq!(t.send("\n"), "250 2.0.0 OK\r\n");
}

#[test]
fn an_overlong_line_is_refused_and_the_session_goes_on() {
    let limits = Limits {
        max_line: 64,
        ..Limits::default()
    };
    let mut t = T::with(limits, OverQuota::Permanent);
    // Delivered in pieces larger than the limit: memory stays bounded.
    for _ in 0..100 {
        assert_eq!(t.send(&"x".repeat(1000)), "");
    }
    assert_eq!(
        t.send("\r\nNOOP\r\n"),
        "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n"
    );
    // A line just over the limit, whole in one read.
    let line = format!("NOOP {}\r\n", "y".repeat(60));
    assert_eq!(t.send(&line), "500 5.5.2 Line too long\r\n");
    let line = format!("NOOP {}\r\n", "y".repeat(57));
    assert_eq!(line.len(), 64);
    assert_eq!(t.send(&line), "250 2.0.0 OK\r\n");
}

#[test]
fn size_parameter_over_the_limit_is_refused_at_mail() {
    let limits = Limits {
        max_message_size: 1000,
        ..Limits::default()
    };
    let mut t = T::with(limits, OverQuota::Permanent);
    t.lhlo();
    assert_eq!(
        t.send("MAIL FROM:<> SIZE=1001\r\n"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(
        t.send("MAIL FROM:<> SIZE=1000\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );
}

#[test]
fn message_over_the_limit_gets_552_per_recipient() {
    let limits = Limits {
        max_message_size: 1000,
        ..Limits::default()
    };
    let mut t = T::with(limits, OverQuota::Permanent);
    t.lhlo();
    t.send("MAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
    for _ in 0..100 {
        assert_eq!(t.send(&format!("{}\r\n", "z".repeat(998))), "");
    }
    assert_eq!(
        t.send(".\r\nNOOP\r\n"),
        "552 5.3.4 <alice@example.org> Message size exceeds fixed maximum message size\r\n\
         552 5.3.4 <bob@example.org> Message size exceeds fixed maximum message size\r\n\
         250 2.0.0 OK\r\n"
    );
    t.no_action();
    // The transaction is over.
    assert_eq!(t.send("DATA\r\n"), "503 5.5.1 MAIL first\r\n");
}

#[test]
fn pipelined_commands_wait_behind_a_delivery() {
    let mut t = T::new();
    let r = t.send(
        "LHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n\
         one\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\ntwo\r\n.\r\nQUIT\r\n",
    );
    assert!(
        r.ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n"),
        "{r}"
    );
    let d = t.delivery();
    assert_eq!(d.message, b"one\r\n");
    t.no_action();
    // Further input while delivering is kept, not processed.
    assert_eq!(t.send("NOOP\r\n"), "");
    t.s.delivered(vec![stored("INBOX")]);
    assert_eq!(
        t.out(),
        "250 2.0.0 <alice@example.org> delivered\r\n250 2.1.0 Sender OK\r\n\
         250 2.1.5 <bob@example.org> OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    let d = t.delivery();
    assert_eq!(d.message, b"two\r\n");
    assert_eq!(d.recipients[0].target.user, "bob");
    t.s.delivered(vec![stored("INBOX")]);
    assert_eq!(
        t.out(),
        "250 2.0.0 <bob@example.org> delivered\r\n221 2.0.0 Bye\r\n"
    );
    assert_eq!(t.s.next_action(), Some(Action::Close));
}

#[test]
fn dot_stuffing_and_binary_bytes_in_the_message() {
    let mut t = T::new();
    t.lhlo();
    t.send("MAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n");
    t.send_bytes(b"..\r\n.x\r\n\xff\xfe\0\x01\r\nbare\nlf and bare\rcr\r\n.\r\n");
    let d = t.delivery();
    assert_eq!(
        d.message,
        b".\r\nx\r\n\xff\xfe\x80\x01\r\nbare\r\nlf and bare\r\ncr\r\n"
    );
}

#[test]
fn too_many_recipients() {
    let limits = Limits {
        max_recipients: 2,
        ..Limits::default()
    };
    let mut t = T::with(limits, OverQuota::Permanent);
    t.lhlo();
    t.send("MAIL FROM:<>\r\n");
    t.send("RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n");
    assert_eq!(
        t.send("RCPT TO:<postmaster>\r\n"),
        "452 4.5.3 Too many recipients\r\n"
    );
}

#[test]
fn postmaster_without_a_domain() {
    let mut t = T::new();
    t.lhlo();
    t.send("MAIL FROM:<>\r\n");
    assert_eq!(
        t.send("RCPT TO:<Postmaster>\r\n"),
        "250 2.1.5 <Postmaster> OK\r\n"
    );
}

#[test]
fn too_many_commands_closes() {
    let limits = Limits {
        max_commands: 3,
        ..Limits::default()
    };
    let mut t = T::with(limits, OverQuota::Permanent);
    assert_eq!(
        t.send("NOOP\r\nNOOP\r\nBAD\r\nNOOP\r\nNOOP\r\n"),
        "250 2.0.0 OK\r\n250 2.0.0 OK\r\n500 5.5.1 Command unrecognized\r\n250 2.0.0 OK\r\n\
         421 4.7.0 Too many commands, closing\r\n"
    );
    assert_eq!(t.s.next_action(), Some(Action::Close));
    assert!(t.s.is_closed());
    assert_eq!(t.send("NOOP\r\n"), "");
}

#[test]
fn a_delivery_resets_the_command_count() {
    let limits = Limits {
        max_commands: 5,
        ..Limits::default()
    };
    let mut t = T::with(limits, OverQuota::Permanent);
    for _ in 0..3 {
        t.send("MAIL FROM:<>\r\n"); // 503 before LHLO: counted
        t.send("LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n.\r\n");
        t.delivery();
        t.s.delivered(vec![stored("INBOX")]);
        assert!(!t.s.is_closed());
    }
}

#[test]
fn idle_and_session_timeouts() {
    let limits = Limits {
        idle_timeout: Duration::from_secs(10),
        session_timeout: Duration::from_secs(25),
        ..Limits::default()
    };
    let mut t = T::with(limits, OverQuota::Permanent);
    let start = t.now;
    t.s.on_tick(start + Duration::from_secs(9));
    assert_eq!(t.out(), "");
    t.now = start + Duration::from_secs(9);
    t.send("NOOP\r\n");
    assert_eq!(t.s.deadline(), start + Duration::from_secs(19));
    t.now = start + Duration::from_secs(18);
    t.send("NOOP\r\n");
    assert_eq!(t.s.deadline(), start + Duration::from_secs(25));
    t.s.on_tick(start + Duration::from_secs(25));
    assert_eq!(t.out(), "421 4.4.2 Timeout, closing\r\n");
    assert_eq!(t.s.next_action(), Some(Action::Close));
}

#[test]
fn no_timeout_while_delivering() {
    let limits = Limits {
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let mut t = T::with(limits, OverQuota::Permanent);
    t.lhlo();
    t.send("MAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n.\r\n");
    t.delivery();
    t.s.on_tick(t.now + Duration::from_secs(60));
    assert_eq!(t.out(), "");
    t.s.delivered(vec![stored("INBOX")]);
    assert_eq!(t.out(), "250 2.0.0 <alice@example.org> delivered\r\n");
}

#[test]
fn shutdown_waits_for_a_delivery_under_way() {
    let mut t = T::new();
    t.lhlo();
    t.send("MAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n.\r\nNOOP\r\n");
    t.delivery();
    t.s.shutdown();
    assert_eq!(t.out(), "");
    t.s.delivered(vec![stored("INBOX")]);
    assert_eq!(
        t.out(),
        "250 2.0.0 <alice@example.org> delivered\r\n421 4.3.2 Shutting down\r\n"
    );
    assert_eq!(t.s.next_action(), Some(Action::Close));
}

#[test]
fn shutdown_when_idle() {
    let mut t = T::new();
    t.s.shutdown();
    assert_eq!(t.out(), "421 4.3.2 Shutting down\r\n");
    assert_eq!(t.s.next_action(), Some(Action::Close));
}

#[test]
fn eof_mid_data_delivers_nothing() {
    let mut t = T::new();
    t.lhlo();
    t.send("MAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nhalf a mess");
    t.s.eof();
    t.no_action();
    assert!(t.s.is_closed());
}

#[test]
fn every_byte_split_gives_the_same_transcript() {
    let input: &[u8] = b"LHLO c\r\nMAIL FROM:<a@b.c> SIZE=20\r\nRCPT TO:<alice@example.org>\r\n\
        RCPT TO:<nobody@example.org>\r\nDATA\r\nx\r\n..y\r\n.\r\nNOOP\r\nQUIT\r\n";
    let run = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let now = Instant::now();
        let mut s = Session::new(config(Limits::default(), OverQuota::Permanent), Users, now);
        let mut out = s.take_output();
        let mut messages = Vec::new();
        for p in pieces {
            s.feed(p, now);
            while let Some(a) = s.next_action() {
                if let Action::Deliver(d) = a {
                    messages.push(d.message);
                    s.delivered(vec![stored("INBOX")]);
                }
            }
            out.extend(s.take_output());
        }
        (out, messages)
    };
    let whole = run(&mut std::iter::once(input));
    assert_eq!(whole.1, vec![b"x\r\n.y\r\n".to_vec()]);
    for n in 1..input.len() {
        assert_eq!(run(&mut input.chunks(n)), whole, "pieces of {n}");
    }
}
