//! Table tests for the syntax of ENABLE (RFC 5161), CONDSTORE and QRESYNC
//! (RFC 7162) and MOVE (RFC 6851): wire → value, and value → wire → the
//! same value.

use std::num::NonZeroU32;

use super::super::encode::encode_command;
use super::super::types::{
    Command, CommandBody, FetchAttr, FetchItems, FetchModifiers, Flag, Mailbox, QResync, SearchKey,
    SelectParams, SeqOrUid, SeqRange, SequenceSet, StatusItem, StoreKind,
};
use super::{ParseErrorKind, ParseLimits, parse_command};

fn body(input: &str) -> CommandBody {
    match parse_command(input.as_bytes(), &ParseLimits::default()) {
        Ok(c) => {
            // Whatever parses encodes back to something that parses the same.
            let mut wire = Vec::new();
            encode_command(&mut wire, &c);
            let again = parse_command(&wire, &ParseLimits::default());
            assert_eq!(again.as_ref(), Ok(&c), "{}", String::from_utf8_lossy(&wire));
            c.body
        }
        Err(e) => panic!("{input:?}: {e:?}"),
    }
}

fn refused(input: &str) -> ParseErrorKind {
    match parse_command(input.as_bytes(), &ParseLimits::default()) {
        Ok(c) => panic!("{input:?} parsed as {c:?}"),
        Err(e) => e.kind,
    }
}

fn set(ranges: &[(u32, u32)]) -> SequenceSet {
    let v = |n: u32| NonZeroU32::new(n).map_or(SeqOrUid::Asterisk, SeqOrUid::Value);
    SequenceSet(
        ranges
            .iter()
            .map(|&(a, b)| SeqRange {
                start: v(a),
                end: v(b),
            })
            .collect(),
    )
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("not zero")
}

#[test]
fn enable_and_move() {
    assert_eq!(
        body("t ENABLE condstore X-GOOD-IDEA\r\n"),
        CommandBody::Enable {
            capabilities: vec!["CONDSTORE".into(), "X-GOOD-IDEA".into()]
        }
    );
    assert_eq!(
        body("a UID MOVE 42:69 foo\r\n"),
        CommandBody::Move {
            sequence_set: set(&[(42, 69)]),
            mailbox: Mailbox::Other("foo".into()),
            uid: true
        }
    );
    assert_eq!(
        body("a move 1,* INBOX\r\n"),
        CommandBody::Move {
            sequence_set: set(&[(1, 1), (0, 0)]),
            mailbox: Mailbox::Inbox,
            uid: false
        }
    );
    for bad in [
        "t ENABLE\r\n",
        "t ENABLE \r\n",
        "a MOVE 1\r\n",
        "a UID MOVE x y\r\n",
    ] {
        assert!(matches!(refused(bad), ParseErrorKind::Syntax(_)), "{bad}");
    }
}

#[test]
fn select_parameters() {
    let select = |params| CommandBody::Select {
        mailbox: Mailbox::Inbox,
        params,
    };
    assert_eq!(
        body("A142 SELECT INBOX (CONDSTORE)\r\n"),
        select(SelectParams {
            condstore: true,
            qresync: None
        })
    );
    // RFC 7162 §3.2.5.2's example B04, shortened.
    assert_eq!(
        body(
            "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 \
             (5000,7500 15000,22500)))\r\n"
        ),
        select(SelectParams {
            condstore: false,
            qresync: Some(QResync {
                uidvalidity: nz(67890007),
                modseq: 90060115194045000,
                known_uids: Some(set(&[(1, 29997)])),
                seq_match: Some((
                    set(&[(5000, 5000), (7500, 7500)]),
                    set(&[(15000, 15000), (22500, 22500)])
                )),
            })
        })
    );
    assert_eq!(
        body("a EXAMINE x (qresync (1 0 (1 2)) CONDSTORE)\r\n"),
        CommandBody::Examine {
            mailbox: Mailbox::Other("x".into()),
            params: SelectParams {
                condstore: true,
                qresync: Some(QResync {
                    uidvalidity: nz(1),
                    modseq: 0,
                    known_uids: None,
                    seq_match: Some((set(&[(1, 1)]), set(&[(2, 2)]))),
                })
            }
        }
    );
    for bad in [
        "a SELECT INBOX ()\r\n",
        "a SELECT INBOX (CONDSTORE CONDSTORE)\r\n",
        "a SELECT INBOX (FOO)\r\n",
        "a SELECT INBOX (QRESYNC (0 1))\r\n",
        "a SELECT INBOX (QRESYNC (1))\r\n",
        "a SELECT INBOX (QRESYNC (1 2 1:*))\r\n",
        "a SELECT INBOX (QRESYNC (1 2 1:5 (1 *)))\r\n",
        "a SELECT INBOX (QRESYNC (1 9223372036854775808))\r\n",
        "a SELECT INBOX (QRESYNC (1 2) \r\n",
    ] {
        assert!(matches!(refused(bad), ParseErrorKind::Syntax(_)), "{bad}");
    }
}

#[test]
fn fetch_store_search_and_status_additions() {
    assert_eq!(
        body("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n"),
        CommandBody::Fetch {
            sequence_set: set(&[(1, 0)]),
            items: FetchItems::Attributes(vec![FetchAttr::Flags]),
            uid: true,
            modifiers: FetchModifiers {
                changed_since: Some(12345),
                vanished: true
            }
        }
    );
    assert_eq!(
        body("a FETCH 1 MODSEQ\r\n"),
        CommandBody::Fetch {
            sequence_set: set(&[(1, 1)]),
            items: FetchItems::Attributes(vec![FetchAttr::ModSeq]),
            uid: false,
            modifiers: FetchModifiers::default()
        }
    );
    assert_eq!(
        body("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n"),
        CommandBody::Store {
            sequence_set: set(&[(6, 6), (4, 4), (8, 8)]),
            kind: StoreKind::Add,
            silent: true,
            flags: vec![Flag::Deleted],
            uid: true,
            unchanged_since: Some(12121230045)
        }
    );
    assert_eq!(
        body("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n"),
        CommandBody::Search {
            charset: None,
            criteria: SearchKey::ModSeq(620162338),
            uid: false
        }
    );
    assert_eq!(
        body("t SEARCH OR NOT MODSEQ 720162338 LARGER 50000\r\n"),
        CommandBody::Search {
            charset: None,
            criteria: SearchKey::Or(
                Box::new(SearchKey::Not(Box::new(SearchKey::ModSeq(720162338)))),
                Box::new(SearchKey::Larger(50000))
            ),
            uid: false
        }
    );
    assert_eq!(
        body("A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n"),
        CommandBody::Status {
            mailbox: Mailbox::Other("blurdybloop".into()),
            items: vec![
                StatusItem::UidNext,
                StatusItem::Messages,
                StatusItem::HighestModSeq
            ]
        }
    );
    for bad in [
        "a FETCH 1 FLAGS ()\r\n",
        "a FETCH 1 FLAGS (CHANGEDSINCE)\r\n",
        "a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n",
        "a FETCH 1 FLAGS (FOO)\r\n",
        "a STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()\r\n",
        "a STORE 1 (UNCHANGEDSINCE x) FLAGS ()\r\n",
        "a STORE 1 (UNCHANGEDSINCE 1)FLAGS ()\r\n",
        "a SEARCH MODSEQ \"/flags/x\" some 1\r\n",
        "a SEARCH MODSEQ\r\n",
        "a SEARCH MODSEQ 99999999999999999999\r\n",
    ] {
        assert!(matches!(refused(bad), ParseErrorKind::Syntax(_)), "{bad}");
    }
}

#[test]
fn command_names_for_logs() {
    let c = |s: &str| -> Command {
        parse_command(s.as_bytes(), &ParseLimits::default()).expect("parses")
    };
    assert_eq!(c("a MOVE 1 x\r\n").body.name(), "MOVE");
    assert_eq!(c("a UID MOVE 1 x\r\n").body.name(), "UID MOVE");
    assert_eq!(c("a ENABLE X\r\n").body.name(), "ENABLE");
}
