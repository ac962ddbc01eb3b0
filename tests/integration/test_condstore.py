"""ENABLE (RFC 5161), CONDSTORE and QRESYNC (RFC 7162) and MOVE (RFC 6851)
over real sockets: the command sequences real clients send, replayed, and
two sessions watching each other's STORE, EXPUNGE and MOVE."""

import re
import time

from imapclient import IMAPClient

import imapresp as R
from imapwire import HOST


def msg(n: int) -> bytes:
    return (
        f"From: sender{n}@example.org\r\nTo: rcpt@example.org\r\n"
        f"Subject: message {n}\r\nMessage-ID: <m{n}@example.org>\r\n"
        f"Date: Mon, 2 Nov 2026 10:0{n % 10}:00 +0000\r\n\r\nbody {n}\r\n"
    ).encode()


def code_value(r: R.Result, name: str) -> int:
    """The number in `[NAME n]` of an untagged OK or the tagged response."""
    for line in r.untagged + [r.tagged.raw]:
        m = re.search(rb"\[" + name.encode() + rb" (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no {name} in {r}")


def lines(r: R.Result, *prefixes: bytes) -> list[bytes]:
    return [u for u in r.untagged if u.startswith(prefixes)]


def fill(c, n: int, box: str = "INBOX", flags: dict[int, str] | None = None) -> None:
    for i in range(1, n + 1):
        R.ok(c, R.append_cmd(box, msg(i), (flags or {}).get(i)))


def test_thunderbird_condstore_first_connect_and_resync(account):
    """Thunderbird with CONDSTORE: its first sync of INBOX, then the resync
    after another client changed flags and expunged."""
    other = account.login()
    fill(other, 4, flags={2: "\\Seen"})

    tb = account.login()
    r = R.ok(tb, "capability")
    assert {"ENABLE", "CONDSTORE", "MOVE"} <= set(r.untagged[0].decode().split()[2:]), r
    R.ok(tb, 'ID ("name" "Thunderbird" "version" "128.5.0")')
    r = R.ok(tb, "enable CONDSTORE")
    assert r.untagged == [b"* ENABLED CONDSTORE\r\n"], r
    r = R.ok(tb, 'select "INBOX" (CONDSTORE)')
    assert b"* 4 EXISTS\r\n" in r.untagged, r
    highest = code_value(r, "HIGHESTMODSEQ")
    uidvalidity = code_value(r, "UIDVALIDITY")
    r = R.ok(tb, "UID fetch 1:* (FLAGS)")
    f = r.fetches()
    assert sorted(f) == [1, 2, 3, 4], r
    assert [R.flags_of(f[i]["FLAGS"]) for i in (1, 2)] == [{"\\Recent"}, {"\\Seen", "\\Recent"}], r
    # CONDSTORE-aware: the client's own UID FETCH without MODSEQ is plain.
    assert all("MODSEQ" not in v for v in f.values()), r
    r = R.ok(
        tb,
        "UID fetch 1:4 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject "
        "Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type "
        "Reply-To)])",
    )
    f = r.fetches()
    assert int(f[3]["RFC822.SIZE"]) == len(msg(3)), r
    assert b"Subject: message 3\r\n" in f[3][
        "BODY[HEADER.FIELDS (FROM TO CC BCC SUBJECT DATE MESSAGE-ID PRIORITY X-PRIORITY "
        "REFERENCES NEWSGROUPS IN-REPLY-TO CONTENT-TYPE REPLY-TO)]"
    ], r
    R.ok(tb, "LOGOUT")

    # While Thunderbird is away: flags change on 1 and 4, 3 is expunged.
    R.ok(other, "SELECT INBOX")
    R.ok(other, "STORE 1 +FLAGS.SILENT ($Forwarded)")
    R.ok(other, "STORE 4 FLAGS.SILENT (\\Flagged \\Seen)")
    R.ok(other, "STORE 3 +FLAGS.SILENT (\\Deleted)")
    R.ok(other, "EXPUNGE")

    tb = account.login()
    R.ok(tb, "enable CONDSTORE")
    r = R.ok(tb, 'select "INBOX" (CONDSTORE)')
    assert code_value(r, "UIDVALIDITY") == uidvalidity
    assert b"* 3 EXISTS\r\n" in r.untagged, r
    now = code_value(r, "HIGHESTMODSEQ")
    assert now == highest + 4, r
    r = R.ok(tb, f"UID fetch 1:* (FLAGS) (CHANGEDSINCE {highest})")
    assert r.untagged == [
        b"* 1 FETCH (UID 1 FLAGS ($Forwarded) MODSEQ (%d))\r\n" % (highest + 1),
        b"* 3 FETCH (UID 4 FLAGS (\\Flagged \\Seen) MODSEQ (%d))\r\n" % (highest + 2),
    ], r
    # The count went down by one: Thunderbird then asks for all UIDs.
    r = R.ok(tb, "UID fetch 1:* (FLAGS)")
    assert [int(v["UID"]) for _, v in sorted(r.fetches().items())] == [1, 2, 4], r


def test_qresync_client_resyncs_exactly(account):
    """A QRESYNC client away while messages changed and went: one SELECT
    brings it up to date, VANISHED (EARLIER) then FETCH UID FLAGS MODSEQ."""
    a = account.login()
    fill(a, 6)
    q = account.login()
    assert R.ok(q, "ENABLE QRESYNC").untagged == [b"* ENABLED QRESYNC\r\n"]
    r = R.ok(q, "SELECT INBOX")
    v, m = code_value(r, "UIDVALIDITY"), code_value(r, "HIGHESTMODSEQ")
    R.ok(q, "LOGOUT")

    R.ok(a, "SELECT INBOX")
    R.ok(a, "STORE 2 +FLAGS.SILENT (\\Answered)")  # m+1
    R.ok(a, "STORE 1,5 +FLAGS.SILENT (\\Deleted)")  # m+2
    R.ok(a, "STORE 6 +FLAGS.SILENT ($Label1)")  # m+3
    R.ok(a, "EXPUNGE")  # m+4: UIDs 1 and 5
    R.ok(a, "STORE 3 -FLAGS.SILENT (\\Draft)")  # no change, no MODSEQ
    R.append(a, "INBOX", msg(7))  # m+5: UID 7, new

    q = account.login()
    R.ok(q, "ENABLE QRESYNC")
    r = R.ok(q, f"SELECT INBOX (QRESYNC ({v} {m} 1:6))")
    assert code_value(r, "HIGHESTMODSEQ") == m + 5, r
    assert b"* 5 EXISTS\r\n" in r.untagged, r
    tail = r.untagged[r.untagged.index(b"* VANISHED (EARLIER) 1,5\r\n"):]
    assert tail == [
        b"* VANISHED (EARLIER) 1,5\r\n",
        b"* 1 FETCH (UID 2 FLAGS (\\Answered) MODSEQ (%d))\r\n" % (m + 1),
        b"* 4 FETCH (UID 6 FLAGS ($Label1) MODSEQ (%d))\r\n" % (m + 3),
    ], r
    # Later changes reach the client as VANISHED and FETCH with UID and MODSEQ.
    R.ok(a, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(a, "EXPUNGE")
    R.ok(a, "UID STORE 3 +FLAGS.SILENT (\\Flagged)")
    r = R.ok(q, "NOOP")
    assert r.untagged == [
        b"* VANISHED 2\r\n",
        b"* 1 FETCH (FLAGS (\\Flagged) UID 3 MODSEQ (%d))\r\n" % (m + 8),
    ], r
    # UID FETCH (CHANGEDSINCE VANISHED) over the whole history.
    r = R.ok(q, f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m} VANISHED)")
    assert r.untagged[0] == b"* VANISHED (EARLIER) 1:2,5\r\n", r
    assert sorted(int(v["UID"]) for v in r.fetches().values()) == [3, 6, 7], r
    # A wrong UIDVALIDITY: a plain SELECT, with CLOSED first.
    r = R.ok(q, f"EXAMINE INBOX (QRESYNC ({v + 1} {m}))")
    assert r.untagged[0].startswith(b"* OK [CLOSED]"), r
    assert not lines(r, b"* VANISHED") and not r.fetches(), r


def test_qresync_needs_enable_and_enable_needs_login(server, account):
    c = server.connect()
    assert R.run(c, "ENABLE CONDSTORE").kind == "BAD"
    c.close()
    a = account.login()
    assert R.run(a, "SELECT INBOX (QRESYNC (1 1))").kind == "BAD"
    R.ok(a, "SELECT INBOX")
    assert R.run(a, "UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)").kind == "BAD"
    r = R.ok(a, "ENABLE CONDSTORE X-UNKNOWN")
    # Enabled with a mailbox selected: HIGHESTMODSEQ at once.
    assert r.untagged[0].startswith(b"* OK [HIGHESTMODSEQ "), r
    assert r.untagged[1] == b"* ENABLED CONDSTORE\r\n", r


def test_imapclient_condstore_and_move(account):
    """imapclient speaks ENABLE, CONDSTORE (SELECT, FETCH modifiers,
    STATUS) and MOVE."""
    a = account.login()
    fill(a, 3)
    with IMAPClient(HOST, port=account.server.imap_port, ssl=False, timeout=10) as c:
        c.login(account.name, account.password)
        caps = c.capabilities()
        assert {b"ENABLE", b"CONDSTORE", b"QRESYNC", b"MOVE"} <= set(caps)
        assert c.enable("CONDSTORE") == [b"CONDSTORE"]
        info = c.select_folder("INBOX")
        highest = info[b"HIGHESTMODSEQ"]
        st = c.folder_status("INBOX", ["HIGHESTMODSEQ", "MESSAGES"])
        assert st == {b"HIGHESTMODSEQ": highest, b"MESSAGES": 3}
        c.add_flags([2], [b"$Important"])
        changed = c.fetch("1:*", ["FLAGS"], modifiers=[f"CHANGEDSINCE {highest}"])
        assert list(changed) == [2]
        assert changed[2][b"MODSEQ"] == (highest + 1,)
        assert b"$Important" in changed[2][b"FLAGS"]
        assert c.search(["MODSEQ", str(highest + 1)]) == [2]
        c.move([1, 3], "Archive")
        assert c.search(["ALL"]) == [2]
        archive = c.folder_status("Archive", ["MESSAGES"])
        assert archive[b"MESSAGES"] == 2


def read_until(c, pred, timeout: float = 3.0) -> list[bytes]:
    """Lines read until one satisfies `pred` (IDLE updates)."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; read {got}"
        line = c.readline(timeout=left)
        got.append(line)
        if pred(line):
            return got


def test_idle_with_qresync_sees_store_expunge_and_move(account):
    """Session A idles with QRESYNC; B stores, expunges and moves. A hears
    FETCH with UID and MODSEQ, and VANISHED for both expunge and move;
    a session idling on the destination hears EXISTS."""
    b = account.login()
    fill(b, 4)
    # A new account has Archive (\Archive) to move into.
    a = account.login()
    R.ok(a, "ENABLE QRESYNC")
    m = code_value(R.ok(a, "SELECT INBOX"), "HIGHESTMODSEQ")
    d = account.login()
    R.ok(d, "SELECT Archive")
    R.ok(b, "SELECT INBOX")

    a.send("i1 IDLE\r\n")
    assert a.readline().startswith(b"+ ")
    d.send("i2 IDLE\r\n")
    assert d.readline().startswith(b"+ ")

    R.ok(b, "STORE 2 +FLAGS (\\Flagged)")
    got = read_until(a, lambda line: b"FETCH" in line)
    # A selected first, so the messages are \Recent there.
    assert got[-1] == b"* 2 FETCH (FLAGS (\\Flagged \\Recent) UID 2 MODSEQ (%d))\r\n" % (m + 1), got

    R.ok(b, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(b, "EXPUNGE")
    got = read_until(a, lambda line: b"VANISHED" in line)
    assert got[-1] == b"* VANISHED 1\r\n", got

    r = R.ok(b, "UID MOVE 3:4 Archive")
    assert r.untagged[0].startswith(b"* OK [COPYUID "), r
    assert b" 3:4 1:2]" in r.untagged[0], r
    assert r.untagged[1:] == [b"* 2 EXPUNGE\r\n", b"* 2 EXPUNGE\r\n"], r
    got = read_until(a, lambda line: b"VANISHED" in line)
    assert got[-1] == b"* VANISHED 3:4\r\n", got
    got = read_until(d, lambda line: b"EXISTS" in line)
    assert got[-1] == b"* 2 EXISTS\r\n", got

    for c, tag in ((a, "i1"), (d, "i2")):
        c.send("DONE\r\n")
        assert R.read_until_tagged(c, tag).kind == "OK"
    r = R.ok(a, "UID FETCH 1:* (FLAGS)")
    assert [int(v["UID"]) for v in r.fetches().values()] == [2], r
    r = R.ok(d, "FETCH 1:* (UID FLAGS)")
    assert [int(v["UID"]) for _, v in sorted(r.fetches().items())] == [1, 2], r


def test_move_is_atomic_for_a_watcher(account):
    """Another session never sees a moved message in both mailboxes: the
    destination is read before the source, so a move landing between the
    two reads can only make the sum smaller (18), while a copy seen
    without its expunge would make it larger (22)."""
    a = account.login()
    fill(a, 20)
    R.ok(a, "CREATE Dest")
    R.ok(a, "SELECT INBOX")
    w = account.login()
    for i in range(10):
        a.send(f"mv{i} MOVE 1:2 Dest\r\n")
        d = R.ok(w, "STATUS Dest (MESSAGES)")
        s = R.ok(w, "STATUS INBOX (MESSAGES)")
        total = int(d.data("STATUS")[0][3][1]) + int(s.data("STATUS")[0][3][1])
        assert total in (18, 20), (d, s)
        assert R.read_until_tagged(a, f"mv{i}").kind == "OK"
    r = R.ok(w, "STATUS INBOX (MESSAGES)")
    assert r.data("STATUS")[0][3] == ["MESSAGES", "0"], r
