"""IDLE (RFC 2177): an idling session hears of other sessions' changes as
they happen, and DONE ends it. Also UNSELECT (RFC 3691) and NAMESPACE
(RFC 2342)."""

import time

import imapresp as R

# The promise is 100 ms; the assertion leaves room for a loaded
# two-core machine, and the measured latency is printed for the record.
NOTIFY_WITHIN_S = 1.0


def msg(n: int) -> bytes:
    return f"From: a@example.org\r\nSubject: idle {n}\r\n\r\nbody {n}\r\n".encode()


def start_idle(c, tag="i1"):
    c.send(f"{tag} IDLE\r\n")
    line = c.readline()
    assert line.startswith(b"+ "), line
    return tag


def wait_for(c, needle: bytes, timeout: float = NOTIFY_WITHIN_S) -> tuple[bytes, float]:
    """Reads lines until one contains `needle`; returns it and the time taken."""
    t0 = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - t0)
        assert left > 0, f"no {needle!r} within {timeout}s"
        line = c.readline(timeout=left)
        if needle in line:
            return line, time.monotonic() - t0


def test_idle_reports_append_store_and_expunge_at_once(account):
    a = account.login()
    b = account.login()
    R.ok(a, "CREATE idlebox")
    for i in range(2):
        R.append(a, "idlebox", msg(i))
    R.ok(a, "SELECT idlebox")
    R.ok(b, "SELECT idlebox")
    tag = start_idle(a)

    t0 = time.monotonic()
    R.append(b, "idlebox", msg(2))
    line, _ = wait_for(a, b"EXISTS")
    assert line == b"* 3 EXISTS\r\n", line
    print(f"EXISTS seen {1000 * (time.monotonic() - t0):.1f} ms after the APPEND was sent")
    # The new message is \Recent in whichever session is told first: A
    # here, or B in its own APPEND's answer (RFC 3501 §2.3.2 allows both).
    assert wait_for(a, b"RECENT")[0] in (b"* 2 RECENT\r\n", b"* 3 RECENT\r\n")

    R.ok(b, "STORE 1 +FLAGS (\\Flagged)")
    line, _ = wait_for(a, b"FETCH")
    assert line.startswith(b"* 1 FETCH (FLAGS (") and b"\\Flagged" in line, line

    R.ok(b, "STORE 2 +FLAGS (\\Deleted)")
    R.ok(b, "EXPUNGE")
    assert wait_for(a, b"EXPUNGE")[0] == b"* 2 EXPUNGE\r\n"

    a.send("DONE\r\n")
    r = R.read_until_tagged(a, tag)
    assert r.kind == "OK", r
    # Back to normal: the numbering reflects what IDLE reported.
    r = R.ok(a, "FETCH 2 (UID)")
    assert any(b"* 2 FETCH (UID 3)" in line for line in r.untagged), r


def test_idle_reports_changes_made_before_it_started(account):
    a = account.login()
    b = account.login()
    R.ok(a, "SELECT INBOX")
    R.append(b, "INBOX", msg(1))
    start_idle(a)
    assert wait_for(a, b"EXISTS")[0] == b"* 1 EXISTS\r\n"
    a.send("DONE\r\n")
    assert R.read_until_tagged(a, "i1").kind == "OK"


def test_idle_without_a_selected_mailbox_and_done_in_any_case(account):
    a = account.login()
    start_idle(a, "x")
    a.send("done\r\n")
    assert R.read_until_tagged(a, "x").kind == "OK"


def test_anything_but_done_ends_idle_with_bad(account):
    a = account.login()
    R.ok(a, "SELECT INBOX")
    start_idle(a)
    a.send("NOOP\r\n")
    r = R.read_until_tagged(a, "i1")
    assert r.kind == "BAD", r
    assert R.ok(a, "NOOP").kind == "OK"


def test_idle_needs_login(server):
    from imapwire import ImapConn

    with ImapConn.open(server.imap_port) as c:
        c.greeting()
        assert c.cmd("IDLE").kind == "BAD"


def test_many_idlers_all_hear_one_append(account):
    idlers = [account.login() for _ in range(20)]
    writer = account.login()
    for c in idlers:
        R.ok(c, "SELECT INBOX")
        start_idle(c)
    R.append(writer, "INBOX", msg(7))
    for c in idlers:
        assert wait_for(c, b"EXISTS")[0] == b"* 1 EXISTS\r\n"
    recent = 0
    for c in idlers:
        line = c.readline()
        assert line.startswith(b"* ") and line.endswith(b" RECENT\r\n"), line
        recent += int(line.split()[1])
    assert recent == 1, "exactly one session gets the new message as \\Recent"
    for c in idlers:
        c.send("DONE\r\n")
        assert R.read_until_tagged(c, "i1").kind == "OK"


def test_unselect_leaves_without_expunging(account):
    a = account.login()
    assert R.append(a, "INBOX", msg(1), flags="\\Deleted").kind == "OK"
    R.ok(a, "SELECT INBOX")
    r = R.ok(a, "UNSELECT")
    assert not any(b"EXPUNGE" in line for line in r.untagged), r
    assert R.run(a, "FETCH 1 FLAGS").kind == "BAD", "no mailbox is selected any more"
    r = R.ok(a, "STATUS INBOX (MESSAGES)")
    assert b"(MESSAGES 1)" in r.untagged[0]
    assert R.run(a, "UNSELECT").kind == "BAD"


def test_namespace(account):
    a = account.login()
    r = R.ok(a, "NAMESPACE")
    assert r.untagged == [b'* NAMESPACE (("" "/")) NIL NIL\r\n'], r
