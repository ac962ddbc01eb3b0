//! Any bytes, cut into any pieces, through an LMTP session under small
//! limits, with deliveries answered by outcomes the input chooses. Checks:
//! no panic; every reply line is `ddd` then `-` or space; a delivered
//! message is within the size limit and has only CRLF line ends and no
//! NUL; the session holds no more input than its line limit, except what
//! was fed while a delivery was under way.
//!
//! Input layout: one byte chooses the line limit, one the size limit (in
//! 16-octet units), then pieces, each a length byte followed by up to that
//! many bytes; the top bit of a length byte makes the next delivery's
//! outcomes come from the following byte.

#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use roost::lmtp::command::ForwardPath;
use roost::lmtp::session::{
    Action, Directory, Limits, Lookup, OverQuota, Outcome, Session, SessionConfig, Target,
};

struct Dir;

impl Directory for Dir {
    fn lookup(&self, rcpt: &ForwardPath) -> Lookup {
        match rcpt.local_part().len() % 5 {
            0 => Lookup::Unknown,
            1 => Lookup::NotLocal,
            2 => Lookup::OverQuota,
            _ => Lookup::Local(Target {
                user: rcpt.local_part().to_owned(),
                user_id: 1,
                mailbox: "INBOX".into(),
            }),
        }
    }
}

fn check_output(out: &[u8]) {
    for line in out.split_inclusive(|&b| b == b'\n') {
        assert!(line.ends_with(b"\r\n"), "reply line without CRLF");
        assert!(line.len() >= 6, "short reply line");
        assert!(line[..3].iter().all(u8::is_ascii_digit), "reply without a code");
        assert!(line[3] == b' ' || line[3] == b'-', "bad reply separator");
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max_line = 16 + usize::from(data[0]);
    let max_size = 16 * u64::from(data[1]);
    let cfg = Arc::new(SessionConfig {
        hostname: "fuzz.example".into(),
        limits: Limits {
            max_line,
            max_message_size: max_size,
            max_recipients: 4,
            max_commands: 64,
            idle_timeout: Duration::from_secs(10),
            session_timeout: Duration::from_secs(100),
        },
        over_quota: OverQuota::Temporary,
    });
    let now = Instant::now();
    let mut s = Session::new(cfg, Dir, now);
    check_output(&s.take_output());
    let mut rest = &data[2..];
    let mut outcome_byte = 0u8;
    let mut fed_while_delivering = 0usize;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len & 0x7f).min(tail.len());
        let (piece, tail) = tail.split_at(n);
        rest = tail;
        if len & 0x80 != 0
            && let Some((&b, tail)) = rest.split_first()
        {
            outcome_byte = b;
            rest = tail;
        }
        if !s.wants_input() {
            fed_while_delivering += piece.len();
        }
        s.feed(piece, now);
        loop {
            check_output(&s.take_output());
            match s.next_action() {
                Some(Action::Deliver(d)) => {
                    assert!(d.message.len() as u64 <= max_size);
                    assert!(!d.message.contains(&0));
                    for (i, &b) in d.message.iter().enumerate() {
                        if b == b'\n' {
                            assert!(i > 0 && d.message[i - 1] == b'\r', "bare LF stored");
                        }
                        if b == b'\r' {
                            assert_eq!(d.message.get(i + 1), Some(&b'\n'), "bare CR stored");
                        }
                    }
                    let outcomes = d
                        .recipients
                        .iter()
                        .enumerate()
                        .map(|(i, _)| match (outcome_byte >> (i % 4 * 2)) & 3 {
                            0 => Outcome::Stored {
                                mailbox: "INBOX".into(),
                            },
                            1 => Outcome::OverQuota,
                            2 => Outcome::Unknown,
                            _ => Outcome::Failed("fuzz".into()),
                        })
                        .collect();
                    s.delivered(outcomes);
                    fed_while_delivering = 0;
                }
                Some(Action::Close) => return,
                None => break,
            }
        }
        assert!(
            s.buffered() <= max_line + 128 + fed_while_delivering,
            "input held past the line limit"
        );
    }
    s.on_tick(now + Duration::from_secs(1000));
    check_output(&s.take_output());
});
