//! Transcript tests for ENABLE, CONDSTORE, QRESYNC and MOVE, on a real
//! store, one or two sessions.

use super::tests::{M, MSG1, MSG2};

/// The value of the first `[HIGHESTMODSEQ n]` in `out`.
fn highest(out: &str) -> u64 {
    let at = out
        .find("[HIGHESTMODSEQ ")
        .unwrap_or_else(|| panic!("no HIGHESTMODSEQ in {out}"));
    let rest = &out[at + "[HIGHESTMODSEQ ".len()..];
    rest[..rest.find(']').expect("]")].parse().expect("number")
}

/// A session with INBOX holding three messages (UIDs 1..3), unselected.
fn three() -> M {
    let mut m = M::new();
    for body in [MSG1, MSG2, MSG1] {
        assert!(m.append("INBOX", "()", body).contains("ap OK"));
    }
    m
}

#[test]
fn enable_lists_what_it_newly_enabled() {
    let mut m = M::new();
    let out = m.send("e1 ENABLE condstore X-UNKNOWN QRESYNC\r\n");
    assert_eq!(
        out,
        "* ENABLED CONDSTORE QRESYNC\r\ne1 OK ENABLE completed\r\n"
    );
    let out = m.send("e2 ENABLE QRESYNC CONDSTORE\r\n");
    assert_eq!(out, "* ENABLED\r\ne2 OK ENABLE completed\r\n");
    assert!(m.send("e3 ENABLE\r\n").starts_with("e3 BAD"));
    // QRESYNC alone implies CONDSTORE: SELECT says HIGHESTMODSEQ.
    let mut q = m.second();
    assert!(
        q.send("e ENABLE QRESYNC\r\n")
            .starts_with("* ENABLED QRESYNC\r\n")
    );
    assert!(q.send("s SELECT INBOX\r\n").contains("[HIGHESTMODSEQ "));
}

#[test]
fn condstore_select_fetch_and_unsolicited_updates() {
    let mut a = three();
    // Without CONDSTORE, nothing changes for the client.
    let out = a.send("s0 SELECT INBOX\r\n");
    assert!(!out.contains("HIGHESTMODSEQ"), "{out}");
    let out = a.send("s1 SELECT INBOX (CONDSTORE)\r\n");
    assert!(out.starts_with("* OK [CLOSED]"), "{out}");
    let start = highest(&out);
    let mut b = a.second();
    b.send("s SELECT INBOX\r\n");
    let out = b.send("st STORE 2 +FLAGS (\\Flagged)\r\n");
    assert!(
        out.starts_with("* 2 FETCH (FLAGS (\\Flagged))\r\n"),
        "{out}"
    );
    // A CONDSTORE-aware session is told of the change with UID and MODSEQ.
    let out = a.send("n NOOP\r\n");
    assert_eq!(
        out,
        format!(
            "* 2 FETCH (FLAGS (\\Flagged) UID 2 MODSEQ ({}))\r\nn OK NOOP completed\r\n",
            start + 1
        )
    );
    let out = a.send(&format!("f FETCH 1:* (FLAGS) (CHANGEDSINCE {start})\r\n"));
    assert_eq!(
        out,
        format!(
            "* 2 FETCH (FLAGS (\\Flagged) MODSEQ ({}))\r\nf OK FETCH completed\r\n",
            start + 1
        )
    );
    let out = a.send("g UID FETCH 1 MODSEQ\r\n");
    assert!(out.starts_with("* 1 FETCH (UID 1 MODSEQ ("), "{out}");
    // VANISHED needs QRESYNC, UID FETCH and CHANGEDSINCE.
    for cmd in [
        "v UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)\r\n",
        "v FETCH 1:* FLAGS (CHANGEDSINCE 1)  \r\n",
    ] {
        assert!(a.send(cmd).starts_with("v BAD"), "{cmd}");
    }
    // A \Seen set by FETCH is reported with UID and MODSEQ.
    let out = a.send("r FETCH 3 BODY[]\r\n");
    assert!(out.contains("FLAGS (\\Seen) UID 3 MODSEQ ("), "{out}");
}

#[test]
fn first_enabling_command_with_a_mailbox_selected_says_highestmodseq() {
    let mut a = three();
    let out = a.send("s SELECT INBOX\r\n");
    assert!(!out.contains("HIGHESTMODSEQ"), "{out}");
    let out = a.send("f FETCH 1 (MODSEQ)\r\n");
    assert!(out.starts_with("* OK [HIGHESTMODSEQ "), "{out}");
    assert!(out.contains("* 1 FETCH (MODSEQ ("), "{out}");
    let out = a.send("f FETCH 1 (MODSEQ)\r\n");
    assert!(!out.contains("HIGHESTMODSEQ"), "only the first time: {out}");
    let out = a.send("t STATUS INBOX (HIGHESTMODSEQ MESSAGES)\r\n");
    assert!(
        out.starts_with(&format!(
            "* STATUS INBOX (HIGHESTMODSEQ {} MESSAGES 3)",
            highest(&a.send("x SELECT INBOX\r\n"))
        )),
        "{out}"
    );
}

#[test]
fn conditional_store_reports_modified() {
    let mut a = three();
    let start = highest(&a.send("s SELECT INBOX (CONDSTORE)\r\n"));
    let mut b = a.second();
    b.send("s SELECT INBOX\r\n");
    b.send("t STORE 1 +FLAGS (\\Answered)\r\n");
    let out = a.send(&format!(
        "c STORE 1:2 (UNCHANGEDSINCE {start}) +FLAGS.SILENT (\\Seen)\r\n"
    ));
    // Message 2 passed: MODSEQ even though .SILENT; message 1 failed and
    // is reported as the other session left it.
    assert_eq!(
        out,
        format!(
            "* 2 FETCH (UID 2 MODSEQ ({m2}))\r\n\
             * 1 FETCH (FLAGS (\\Answered \\Recent) UID 1 MODSEQ ({m1}))\r\n\
             c OK [MODIFIED 1] Conditional STORE failed for some messages.\r\n",
            m1 = start + 1,
            m2 = start + 2
        )
    );
    let out = a.send(&format!(
        "u UID STORE 1,3 (UNCHANGEDSINCE {}) FLAGS (\\Draft)\r\n",
        start + 1
    ));
    assert!(
        out.contains("* 1 FETCH (FLAGS (\\Draft \\Recent) UID 1 MODSEQ ("),
        "{out}"
    );
    assert!(
        out.contains("* 3 FETCH (FLAGS (\\Draft \\Recent) UID 3 MODSEQ ("),
        "{out}"
    );
    assert!(out.ends_with("u OK UID STORE completed\r\n"), "{out}");
    // UNCHANGEDSINCE 0 fails for every message (all have a MODSEQ).
    let out = a.send("z UID STORE 1:3 (UNCHANGEDSINCE 0) -FLAGS (\\Draft)\r\n");
    assert!(
        out.ends_with("z OK [MODIFIED 1:3] Conditional STORE failed for some messages.\r\n"),
        "{out}"
    );
}

#[test]
fn search_modseq_appends_the_highest() {
    let mut a = three();
    let start = highest(&a.send("s SELECT INBOX (CONDSTORE)\r\n"));
    a.send("t STORE 3 +FLAGS (\\Flagged)\r\n");
    a.send("t STORE 2 +FLAGS (\\Flagged)\r\n");
    let out = a.send(&format!("q SEARCH MODSEQ {}\r\n", start + 1));
    assert!(
        out.starts_with(&format!("* SEARCH 2 3 (MODSEQ {})\r\n", start + 2)),
        "{out}"
    );
    let out = a.send(&format!(
        "q UID SEARCH MODSEQ \"/flags/\\\\draft\" all {} FLAGGED\r\n",
        start + 2
    ));
    assert!(
        out.starts_with(&format!("* SEARCH 2 (MODSEQ {})\r\n", start + 2)),
        "{out}"
    );
    let out = a.send("q SEARCH MODSEQ 999999\r\n");
    assert!(out.starts_with("* SEARCH\r\n"), "{out}");
    assert!(
        a.send("q SEARCH MODSEQ \"/flags/x\" some 1\r\n")
            .starts_with("q BAD")
    );
}

#[test]
fn qresync_select_reports_what_was_missed() {
    let mut a = three();
    a.append("INBOX", "()", MSG2);
    let out = a.send("s SELECT INBOX (CONDSTORE)\r\n");
    let since = highest(&out);
    let uidvalidity: u32 = {
        let at = out.find("[UIDVALIDITY ").expect("uidvalidity") + 13;
        out[at..at + out[at..].find(']').expect("]")]
            .parse()
            .expect("number")
    };
    // While the client is away: flags change on 2 and 4, 1 and 3 go.
    a.send("t STORE 1,3 +FLAGS.SILENT (\\Deleted)\r\n");
    a.send("t STORE 2,4 +FLAGS.SILENT (\\Seen)\r\n");
    a.send("x EXPUNGE\r\n");

    let mut c = a.second();
    let cmd = format!("s SELECT INBOX (QRESYNC ({uidvalidity} {since}))\r\n");
    assert!(c.send(&cmd).starts_with("s BAD"), "needs ENABLE QRESYNC");
    c.send("e ENABLE QRESYNC\r\n");
    let out = c.send(&cmd);
    // The flags changed one MODSEQ before the expunge.
    let now = highest(&out) - 1;
    let tail = &out[out.find("* VANISHED").expect("VANISHED")..];
    assert_eq!(
        tail,
        format!(
            "* VANISHED (EARLIER) 1,3\r\n\
             * 1 FETCH (UID 2 FLAGS (\\Seen) MODSEQ ({now}))\r\n\
             * 2 FETCH (UID 4 FLAGS (\\Seen) MODSEQ ({now}))\r\n\
             s OK [READ-WRITE] SELECT completed\r\n"
        )
    );
    // Known UIDs narrow it; seq-match-data is accepted.
    let out = c.send(&format!(
        "s EXAMINE INBOX (QRESYNC ({uidvalidity} {since} 3:4 (1,2 2,4)))\r\n"
    ));
    assert!(out.starts_with("* OK [CLOSED]"), "{out}");
    let tail = &out[out.find("* VANISHED").expect("VANISHED")..];
    assert!(
        tail.starts_with(&format!(
            "* VANISHED (EARLIER) 3\r\n* 2 FETCH (UID 4 FLAGS (\\Seen) MODSEQ ({now}))\r\ns OK [READ-ONLY]"
        )),
        "{tail}"
    );
    // Another UIDVALIDITY: the rest is ignored.
    let out = c.send(&format!(
        "s SELECT INBOX (QRESYNC ({} {since}))\r\n",
        uidvalidity + 1
    ));
    assert!(!out.contains("VANISHED") && !out.contains("FETCH"), "{out}");
    assert!(
        c.send("s SELECT INBOX (QRESYNC (1 2 1:*))\r\n")
            .starts_with("s BAD")
    );
}

#[test]
fn qresync_says_vanished_instead_of_expunge() {
    let mut a = three();
    let mut b = a.second();
    a.send("e ENABLE QRESYNC\r\n");
    let since = highest(&a.send("s SELECT INBOX\r\n"));
    b.send("s SELECT INBOX\r\n");
    a.send("t STORE 2 +FLAGS.SILENT (\\Deleted)\r\n");
    let out = a.send("x EXPUNGE\r\n");
    assert_eq!(
        out,
        format!(
            "* VANISHED 2\r\nx OK [HIGHESTMODSEQ {}] EXPUNGE completed\r\n",
            since + 2
        )
    );
    // The other session, without QRESYNC, is told the old way.
    assert!(b.send("n NOOP\r\n").starts_with("* 2 EXPUNGE\r\n"));
    // UID FETCH (CHANGEDSINCE VANISHED) reports the expunge as EARLIER.
    b.send("t UID STORE 3 +FLAGS.SILENT (\\Deleted)\r\n");
    b.send("x EXPUNGE\r\n");
    let out = a.send(&format!(
        "f UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)\r\n"
    ));
    assert!(out.starts_with("* VANISHED (EARLIER) 2\r\n"), "{out}");
    // UID 3 is still in this session's view: it goes the ordinary way at
    // the end of the command.
    assert!(
        out.ends_with("* VANISHED 3\r\nf OK UID FETCH completed\r\n"),
        "{out}"
    );
}

#[test]
fn move_copies_then_expunges() {
    let mut a = three();
    a.send("c CREATE Archive\r\n");
    let mut watcher = a.second();
    let mut dest = a.second();
    watcher.send("s SELECT INBOX\r\n");
    let out = dest.send("s SELECT Archive\r\n");
    assert!(out.contains("* 0 EXISTS"), "{out}");
    a.send("s SELECT INBOX\r\n");
    let out = a.send("m MOVE 1,3 Archive\r\n");
    let uidvalidity = {
        let st = a.send("t STATUS Archive (UIDVALIDITY)\r\n");
        st[st.find("UIDVALIDITY ").expect("v") + 12..st.find(')').expect(")")].to_string()
    };
    assert_eq!(
        out,
        format!(
            "* OK [COPYUID {uidvalidity} 1,3 1:2] Moved.\r\n* 1 EXPUNGE\r\n* 2 EXPUNGE\r\nm OK MOVE completed\r\n"
        )
    );
    // Others: EXPUNGE at the next command on the source, EXISTS on the
    // destination; the moved messages keep their flags and \Deleted is
    // never set.
    assert!(
        watcher
            .send("n NOOP\r\n")
            .starts_with("* 1 EXPUNGE\r\n* 2 EXPUNGE\r\n")
    );
    let out = dest.send("n NOOP\r\n");
    assert!(out.starts_with("* 2 EXISTS\r\n* 2 RECENT\r\n"), "{out}");
    let out = dest.send("f FETCH 1:* FLAGS\r\n");
    assert!(!out.contains("Deleted"), "{out}");

    let out = a.send("m MOVE 1 Nowhere\r\n");
    assert!(out.contains("m NO [TRYCREATE]"), "{out}");

    // UID MOVE with QRESYNC: VANISHED and HIGHESTMODSEQ.
    a.send("e ENABLE QRESYNC\r\n");
    let out = a.send("m UID MOVE 2 Archive\r\n");
    assert!(
        out.starts_with(&format!(
            "* OK [COPYUID {uidvalidity} 2 3] Moved.\r\n* VANISHED 2\r\nm OK [HIGHESTMODSEQ "
        )),
        "{out}"
    );
    // Refusals.
    assert!(a.send("m MOVE 9 Archive\r\n").starts_with("m BAD"));
    a.send("s EXAMINE Archive\r\n");
    assert!(a.send("m MOVE 1 INBOX\r\n").contains("m NO [READ-ONLY]"));
}

#[test]
fn held_back_expunge_keeps_highestmodseq_below_it() {
    let mut a = three();
    let start = highest(&a.send("s SELECT INBOX (CONDSTORE)\r\n"));
    let mut b = a.second();
    b.send("s SELECT INBOX\r\n");
    b.send("t STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
    b.send("x EXPUNGE\r\n");
    // A FETCH may not say EXPUNGE, but it shows a MODSEQ above the
    // expunge's: the answer says the real HIGHESTMODSEQ is still `start`.
    let out = a.send("f STORE 2 +FLAGS (\\Seen)\r\n");
    assert_eq!(
        out,
        format!(
            "* 2 FETCH (FLAGS (\\Seen \\Recent) UID 2 MODSEQ ({}))\r\n\
             * OK [HIGHESTMODSEQ {start}] Highest mailbox MODSEQ reported so far.\r\n\
             f OK STORE completed\r\n",
            start + 3
        )
    );
    let out = a.send("n NOOP\r\n");
    assert!(out.starts_with("* 1 EXPUNGE\r\n"), "{out}");
}
