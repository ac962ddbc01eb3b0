"""Several sessions on one mailbox: what each is told of the others' APPEND,
STORE and EXPUNGE, and when (RFC 3501 §5.2, §7.4.1; RFC 2180 §4). Each
session keeps its own sequence numbers until it is sent EXPUNGE, which
never happens while it answers FETCH, STORE or SEARCH, but may during the
UID forms and at NOOP/CHECK."""

from __future__ import annotations

import pytest

import imapresp as R


def msg(n: int) -> bytes:
    return b"From: x@example.org\r\nSubject: m%d\r\nMessage-ID: <%d@m>\r\n\r\nbody %d\r\n" % (n, n, n)


def fill(c, box: str, n: int) -> list[int]:
    if box != "INBOX":
        R.ok(c, f"CREATE {box}")
    uids = []
    for i in range(1, n + 1):
        r = R.append(c, box, msg(i))
        assert r.code == "APPENDUID", r
        uids.append(int(r.tagged.code_args.split()[1]))
    return uids


def two_sessions(account, n: int = 3, box: str = "INBOX"):
    a = account.login()
    uids = fill(a, box, n)
    b = account.login()
    R.ok(a, f"SELECT {box}")
    R.ok(b, f"SELECT {box}")
    return a, b, uids


def no_expunge(r: R.Result) -> None:
    assert not any(u.endswith(b" EXPUNGE\r\n") for u in r.untagged), r


def test_append_seen_as_exists_at_noop(account):
    a, b, uids = two_sessions(account)
    r = R.append(a, "INBOX", msg(4))
    assert r.numbers("EXISTS") == [4], r
    # B is told at its next command that allows it.
    r = R.ok(b, "NOOP")
    assert r.numbers("EXISTS") == [4], r
    assert R.ok(b, "NOOP").untagged == [], "told only once"
    f = R.ok(b, "FETCH 4 UID").fetches()
    assert int(f[4]["UID"]) == uids[-1] + 1


def test_append_seen_at_check_too(account):
    a, b, _ = two_sessions(account)
    R.append(a, "INBOX", msg(4))
    r = R.ok(b, "CHECK")
    assert r.numbers("EXISTS") == [4], r


def test_new_message_needs_exists_before_use(account):
    """B cannot use sequence number 4 before it was told of it."""
    a, b, _ = two_sessions(account)
    R.append(a, "INBOX", msg(4))
    r = R.run(b, "STORE 4 +FLAGS (\\Seen)")
    # Either refused, or accepted after telling B about message 4 first.
    if r.kind == "BAD":
        assert R.ok(b, "NOOP").numbers("EXISTS") == [4]
    else:
        assert r.kind == "OK" and r.numbers("EXISTS") == [4], r


def test_store_seen_as_fetch_flags_at_noop(account):
    a, b, _ = two_sessions(account)
    R.ok(a, "STORE 2 +FLAGS.SILENT (\\Flagged)")
    r = R.ok(b, "NOOP")
    f = r.fetches()
    assert list(f) == [2], r
    assert "\\Flagged" in f[2]["FLAGS"]
    assert R.ok(b, "NOOP").untagged == []


def test_store_by_other_session_shows_despite_own_silent_store(account):
    """RFC 3501 §6.4.6: .SILENT hides only this command's own changes."""
    a, b, _ = two_sessions(account)
    R.ok(a, "STORE 1 +FLAGS.SILENT (\\Answered)")
    r = R.ok(b, "STORE 3 +FLAGS.SILENT (\\Draft)")
    f = r.fetches()
    assert 3 not in f, r
    if 1 not in f:
        f = R.ok(b, "NOOP").fetches()
    assert "\\Answered" in f[1]["FLAGS"], f


def test_expunge_not_sent_during_fetch_store_search(account):
    a, b, uids = two_sessions(account, 4)
    R.ok(a, "STORE 2 +FLAGS.SILENT (\\Deleted)")
    r = R.ok(a, "EXPUNGE")
    assert r.untagged == [b"* 2 EXPUNGE\r\n"], r
    # B still numbers the messages 1..4.
    r = R.ok(b, "FETCH 4 UID")
    no_expunge(r)
    assert int(r.fetches()[4]["UID"]) == uids[3]
    r = R.ok(b, "STORE 3 +FLAGS (\\Seen)")
    no_expunge(r)
    assert int(R.ok(b, "FETCH 3 UID").fetches()[3]["UID"]) == uids[2]
    r = R.ok(b, "SEARCH ALL")
    no_expunge(r)
    found = [u for u in r.untagged if u.startswith(b"* SEARCH")]
    assert found == [b"* SEARCH 1 3 4\r\n"], r
    # NOOP finally tells B, and the numbers move down.
    r = R.ok(b, "NOOP")
    assert r.numbers("EXPUNGE") == [2], r
    f = R.ok(b, "FETCH 1:* UID").fetches()
    assert [int(f[i]["UID"]) for i in sorted(f)] == [uids[0], uids[2], uids[3]]
    assert R.run(b, "FETCH 4 UID").kind == "BAD"


def test_fetch_of_message_expunged_elsewhere(account):
    """RFC 2180 §4.1.2: the gone message is left out and the command ends
    with NO [EXPUNGEISSUED]; the others are still answered."""
    a, b, uids = two_sessions(account, 3)
    R.ok(a, "STORE 2 +FLAGS.SILENT (\\Deleted)")
    R.ok(a, "EXPUNGE")
    r = R.run(b, "FETCH 1:3 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert r.kind == "NO" and r.code == "EXPUNGEISSUED", r
    no_expunge(r)
    f = r.fetches()
    assert sorted(f) == [1, 3], r
    assert f[3]["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: m3\r\n\r\n"
    r = R.ok(b, "NOOP")
    assert r.numbers("EXPUNGE") == [2], r


def test_uid_fetch_may_report_expunge(account):
    a, b, uids = two_sessions(account, 3)
    R.ok(a, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(a, "EXPUNGE")
    r = R.ok(b, f"UID FETCH {uids[2]} FLAGS")
    assert r.numbers("EXPUNGE") == [1], r
    f = r.fetches()
    # The FETCH is numbered before or after the EXPUNGE, consistently:
    # whichever comes first in the stream decides the number.
    order = [u for u in r.untagged if b"EXPUNGE" in u or b"FETCH" in u]
    if order[0].endswith(b" EXPUNGE\r\n"):
        assert list(f) == [2], r
    else:
        assert list(f) == [3], r
    assert R.ok(b, "NOOP").untagged == []
    assert int(R.ok(b, "FETCH 2 UID").fetches()[2]["UID"]) == uids[2]


def test_uid_search_and_uid_store_may_report_expunge(account):
    a, b, uids = two_sessions(account, 3)
    R.ok(a, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(a, "EXPUNGE")
    r = R.ok(b, "UID SEARCH ALL")
    found = [u for u in r.untagged if u.startswith(b"* SEARCH")]
    assert found == [b"* SEARCH %d %d\r\n" % (uids[1], uids[2])], r
    # If the EXPUNGE was not sent with UID SEARCH, NOOP sends it.
    told = r.numbers("EXPUNGE") or R.ok(b, "NOOP").numbers("EXPUNGE")
    assert told == [1]


def test_recent_goes_to_exactly_one_session(account):
    a = account.login()
    fill(a, "rec", 2)
    b = account.login()
    c = account.login()
    # EXAMINE looks without taking.
    r = R.ok(c, "EXAMINE rec")
    assert r.numbers("RECENT") == [2], r
    r1 = R.ok(a, "SELECT rec")
    r2 = R.ok(b, "SELECT rec")
    assert r1.numbers("RECENT") == [2] and r2.numbers("RECENT") == [0], (r1, r2)
    fa = R.ok(a, "FETCH 1:2 FLAGS").fetches()
    fb = R.ok(b, "FETCH 1:2 FLAGS").fetches()
    assert all("\\Recent" in fa[i]["FLAGS"] for i in (1, 2)), fa
    assert not any("\\Recent" in fb[i]["FLAGS"] for i in (1, 2)), fb
    assert R.ok(a, "SEARCH RECENT").untagged == [b"* SEARCH 1 2\r\n"]
    assert R.ok(b, "SEARCH RECENT").untagged == [b"* SEARCH\r\n"]


def test_recent_for_message_arriving_while_selected(account):
    a, b, _ = two_sessions(account, 2, "live")
    other = account.login()
    R.append(other, "live", msg(3))
    ra = R.ok(a, "NOOP")
    rb = R.ok(b, "NOOP")
    assert ra.numbers("EXISTS") == [3] and rb.numbers("EXISTS") == [3]
    in_a = "\\Recent" in R.ok(a, "FETCH 3 FLAGS").fetches()[3]["FLAGS"]
    in_b = "\\Recent" in R.ok(b, "FETCH 3 FLAGS").fetches()[3]["FLAGS"]
    assert in_a != in_b, (in_a, in_b)
    r = R.ok(other, "SELECT live")
    assert r.numbers("RECENT") == [0], r


def test_numbering_is_per_session(account):
    """B's sequence numbers change only when B is told (RFC 3501 §7.4.1);
    meanwhile A's have already moved on."""
    a, b, uids = two_sessions(account, 5)
    R.ok(a, "STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    R.ok(a, "EXPUNGE")
    R.append(a, "INBOX", msg(6))
    fa = R.ok(a, "FETCH 3 UID").fetches()
    assert int(fa[3]["UID"]) == uids[4]
    # B: message 5 is still number 5, and B has not heard of the new one.
    r1 = R.ok(b, "FETCH 5 UID")
    no_expunge(r1)
    assert int(r1.fetches()[5]["UID"]) == uids[4]
    r2 = R.ok(b, "NOOP")
    assert r2.numbers("EXPUNGE") == [1, 2], r2
    # The new message is announced once: as the 6th before the EXPUNGEs
    # (with the FETCH, which may send EXISTS) or as the 4th after them.
    assert r1.numbers("EXISTS") + r2.numbers("EXISTS") in ([6], [4]), (r1, r2)
    f = R.ok(b, "FETCH 1:* UID").fetches()
    assert [int(f[i]["UID"]) for i in sorted(f)] == [uids[1], uids[3], uids[4], uids[4] + 1]


def test_flag_change_and_expunge_of_same_message(account):
    a, b, uids = two_sessions(account, 2)
    R.ok(a, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(a, "EXPUNGE")
    r = R.ok(b, "NOOP")
    # Only the EXPUNGE: no FETCH FLAGS for the \Deleted set on a message
    # that is gone anyway.
    assert r.untagged == [b"* 1 EXPUNGE\r\n"], r
    assert int(R.ok(b, "FETCH 1 UID").fetches()[1]["UID"]) == uids[1]


def test_store_on_message_expunged_elsewhere(account):
    """RFC 2180 §4.2: STORE on a message gone from another session fails
    or is ignored for it; the other messages are changed either way."""
    a, b, uids = two_sessions(account, 2)
    R.ok(a, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(a, "EXPUNGE")
    r = R.run(b, "STORE 1:2 +FLAGS (\\Flagged)")
    assert r.kind in ("OK", "NO"), r
    no_expunge(r)
    R.ok(b, "NOOP")
    assert "\\Flagged" in R.ok(b, "FETCH 1 FLAGS").fetches()[1]["FLAGS"]


def test_mailbox_deleted_under_a_session(account):
    """RFC 2180 §3: another session deletes the selected mailbox; the
    session learns its messages are gone and the server stays up."""
    a, b, _ = two_sessions(account, 2, "doomed")
    R.ok(a, "CLOSE")
    R.ok(a, "DELETE doomed")
    r = R.run(b, "NOOP")
    assert r.kind == "OK", r
    # Every message is expunged, in whatever order, each number valid
    # at the moment it is sent.
    left = 2
    for n in r.numbers("EXPUNGE"):
        assert 1 <= n <= left, r
        left -= 1
    assert left == 0, r
    r = R.ok(b, "SEARCH ALL")
    assert [u for u in r.untagged if u.startswith(b"* SEARCH")] == [b"* SEARCH\r\n"]
    R.ok(b, "SELECT INBOX")


def test_examine_session_sees_changes(account):
    a, b, _ = two_sessions(account, 2)
    R.ok(b, "EXAMINE INBOX")
    R.ok(a, "STORE 1 +FLAGS.SILENT (\\Seen)")
    R.append(a, "INBOX", msg(3))
    r = R.ok(b, "NOOP")
    assert r.numbers("EXISTS") == [3], r
    assert "\\Seen" in r.fetches()[1]["FLAGS"], r


def flags_line_index(r: R.Result, keyword: bytes) -> int:
    """Where `* FLAGS (...)` naming `keyword` is among the untagged lines."""
    for i, u in enumerate(r.untagged):
        if u.startswith(b"* FLAGS (") and keyword in u:
            return i
    raise AssertionError(f"no FLAGS with {keyword!r}: {r}")


def first_fetch_with(r: R.Result, keyword: bytes) -> int:
    return next(i for i, u in enumerate(r.untagged) if b" FETCH " in u and keyword in u)


def test_a_new_keyword_is_announced_in_flags_before_a_fetch_shows_it(account):
    # Guards RFC 3501 §7.2.6: a session is told of a keyword the mailbox had
    # not had, in FLAGS and PERMANENTFLAGS, before any FETCH shows it, whether
    # it came from another session (at NOOP, or in a FETCH's own data) or
    # from its own STORE.
    a, b, _ = two_sessions(account)
    r = R.ok(a, "STORE 1 +FLAGS ($Kw1)")
    i = flags_line_index(r, b"$Kw1")
    assert i < first_fetch_with(r, b"$Kw1"), r
    assert any(b"[PERMANENTFLAGS (" in u and b"$Kw1" in u for u in r.untagged), r
    # B hears of it at NOOP, FLAGS first.
    r = R.ok(b, "NOOP")
    assert flags_line_index(r, b"$Kw1") < first_fetch_with(r, b"$Kw1"), r
    # Told once: the next change with the same keyword brings no FLAGS.
    r = R.ok(a, "STORE 2 +FLAGS ($Kw1)")
    assert not any(u.startswith(b"* FLAGS") for u in r.untagged), r
    # A FETCH whose data shows a keyword B was not told of yet has FLAGS
    # before it.
    R.ok(a, "STORE 3 +FLAGS ($Kw2)")
    r = R.ok(b, "FETCH 1:3 FLAGS")
    assert flags_line_index(r, b"$Kw2") < first_fetch_with(r, b"$Kw2"), r
    # An EXAMINE session is told too, with no permanent flags.
    c = account.login()
    R.ok(c, "EXAMINE INBOX")
    R.ok(a, "STORE 1 +FLAGS ($Kw3)")
    r = R.ok(c, "NOOP")
    assert flags_line_index(r, b"$Kw3") < first_fetch_with(r, b"$Kw3"), r
    assert any(b"[PERMANENTFLAGS ()]" in u for u in r.untagged), r
