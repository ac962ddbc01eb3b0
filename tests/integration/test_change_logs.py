"""The INFO lines an administrator acts on, against the real binary: one
per APPEND, COPY, MOVE, expunge (EXPUNGE, UID EXPUNGE, CLOSE) and
delivery (LMTP and `roost deliver`), each with the mailbox, UIDs, count
and size in the same fields, inside the connection's span; a COPY of many
scattered UIDs keeps its `uids` field short."""

from __future__ import annotations

import imaplib
import json
import re
import smtplib
import time

import pytest

from conftest import HOST
from lmtpwire import launch_lmtp

LOG = '\n[log]\nformat = "json"\n'
MAX_UIDS_CHARS = 200  # logging::MAX_UIDS_CHARS


def records(srv) -> list[dict]:
    out = []
    for line in srv.stderr_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def lines(srv, message: str, want: int, timeout: float = 10.0) -> list[dict]:
    """The records whose message is `message`, once there are `want`."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in records(srv) if r.get("fields", {}).get("message") == message]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def ok(reply):
    typ, data = reply
    assert typ == "OK", data
    return data


def code(imap: imaplib.IMAP4, name: str) -> list[str]:
    """The last response code `name`'s arguments (APPENDUID, COPYUID)."""
    typ, data = imap.response(name)
    assert data and data[-1], (name, data)
    return data[-1].decode().split()


def size_of(imap: imaplib.IMAP4, uid: str) -> int:
    data = ok(imap.uid("FETCH", uid, "(RFC822.SIZE)"))
    return int(re.search(rb"RFC822\.SIZE (\d+)", data[0]).group(1))


@pytest.fixture
def srv(tmp_path):
    s = launch_lmtp(tmp_path, LOG, {"alice": "alicepw"}, unix=False)
    yield s
    s.stop()


def in_conn_span(r: dict, user: str | None = "alice") -> None:
    span = r.get("span", {})
    assert span.get("name") == "conn", r
    assert re.fullmatch(r"127\.0\.0\.1:\d+", span.get("peer", "")), r
    assert isinstance(span.get("id"), int), r
    if user:
        assert span.get("user") == user, r


def test_append_copy_move_expunge_and_deliveries_are_logged(srv):
    c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
    c.login("alice", "alicepw")
    ok(c.create("Work/2026"))
    bodies = [f"Subject: m{i}\r\n\r\n{'x' * (10 * i)}\r\n".encode() for i in range(1, 6)]
    uidvalidity = None
    for i, body in enumerate(bodies, 1):
        ok(c.append("INBOX", r"(\Seen)", None, body))
        uidvalidity, uid = code(c, "APPENDUID")
        assert uid == str(i)
    appends = lines(srv, "append", 5)
    assert len(appends) == 5, appends
    for i, (r, body) in enumerate(zip(appends, bodies), 1):
        f = r["fields"]
        assert f["mailbox"] == "INBOX", f
        assert f["uids"] == str(i), f
        assert f["count"] == 1 and f["size"] == len(body), f
        assert f["uidvalidity"] == int(uidvalidity), f
        assert f["command"] == "APPEND", f
        in_conn_span(r)

    ok(c.select("INBOX"))
    ok(c.copy("2:4", "Work/2026"))
    dest_validity, src, dst = code(c, "COPYUID")
    (copy,) = lines(srv, "copy", 1)
    f = copy["fields"]
    assert f["command"] == "COPY" and f["mailbox"] == "INBOX", f
    assert f["uids"] == "2:4" and f["dest"] == "Work/2026", f
    assert f["dest_uids"] == dst == "1:3", f
    assert f["uidvalidity"] == int(dest_validity), f
    assert f["count"] == 3 and f["size"] == sum(len(b) for b in bodies[1:4]), f
    in_conn_span(copy)

    ok(c.uid("MOVE", "1", "Archive"))
    (move,) = lines(srv, "move", 1)
    f = move["fields"]
    assert f["command"] == "UID MOVE" and f["mailbox"] == "INBOX", f
    assert f["uids"] == "1" and f["dest"] == "Archive" and f["dest_uids"] == "1", f
    assert f["count"] == 1 and f["size"] == len(bodies[0]), f
    in_conn_span(move)

    # INBOX now holds UIDs 2..5.
    ok(c.uid("STORE", "5", "+FLAGS", r"(\Deleted)"))
    ok(c.expunge())
    ok(c.uid("STORE", "2", "+FLAGS", r"(\Deleted)"))
    ok(c.uid("EXPUNGE", "2:3"))
    ok(c.uid("STORE", "3", "+FLAGS", r"(\Deleted)"))
    ok(c.close())
    # An EXPUNGE with nothing to remove changes nothing and says nothing.
    ok(c.select("INBOX"))
    ok(c.expunge())
    expunges = lines(srv, "expunge", 3)
    assert [r["fields"]["command"] for r in expunges] == ["EXPUNGE", "UID EXPUNGE", "CLOSE"], expunges
    for r, uid, body in zip(expunges, ["5", "2", "3"], [bodies[4], bodies[1], bodies[2]]):
        f = r["fields"]
        assert f["mailbox"] == "INBOX" and f["uids"] == uid, f
        assert f["count"] == 1 and f["size"] == len(body), f
        assert f["uidvalidity"] == int(uidvalidity), f
        in_conn_span(r)

    # A delivery over LMTP: the UID it was given and its stored size.
    with smtplib.LMTP(HOST, srv.lmtp_port, timeout=20) as l:
        l.sendmail("mta@example.org", ["alice@example.org"], b"Subject: lmtp\r\n\r\nhello\r\n")
    (delivered,) = lines(srv, "delivery", 1)
    f = delivered["fields"]
    ok(c.select("INBOX"))
    data = ok(c.uid("SEARCH", "SUBJECT", "lmtp"))
    (uid,) = data[0].split()
    assert f["mailbox"] == "INBOX" and f["uids"] == uid.decode(), f
    assert f["size"] == size_of(c, uid.decode()), f
    assert f["uidvalidity"] == int(uidvalidity) and f["outcome"] == "stored", f
    assert f["user"] == "alice" and f["rcpt"] == "alice@example.org", f
    # Inside the LMTP connection's span.
    assert delivered["span"]["name"] == "lmtp", delivered
    assert delivered["span"]["peer"] == "127.0.0.1" and isinstance(delivered["span"]["id"], int), delivered

    # `roost deliver` writes the same line on its stderr.
    p = srv.cli("deliver", "--user", "alice", "--mailbox", "Work/2026", input="Subject: lda\n\nhi\n")
    assert p.returncode == 0, p.stderr
    (lda,) = [json.loads(l) for l in p.stderr.splitlines() if '"delivery"' in l]
    f = lda["fields"]
    ok(c.select("Work/2026"))
    (uid,) = ok(c.uid("SEARCH", "SUBJECT", "lda"))[0].split()
    assert f["mailbox"] == "Work/2026" and f["uids"] == uid.decode() == "4", f
    assert f["size"] == size_of(c, uid.decode()), f
    c.logout()


def test_a_big_copy_keeps_its_uids_field_short(srv):
    c = imaplib.IMAP4(HOST, srv.imap_port, timeout=60)
    c.login("alice", "alicepw")
    ok(c.create("Big"))
    ok(c.append("Big", None, None, b"Subject: big\r\n\r\nbig\r\n"))
    ok(c.select("Big"))
    # Doubling in place: 1024 messages with UIDs 1..1024.
    for _ in range(10):
        ok(c.copy("1:*", "Big"))
    # Every odd UID goes: what is left folds into no runs at all.
    odd = ",".join(str(u) for u in range(1, 1025, 2))
    ok(c.uid("STORE", odd, "+FLAGS.SILENT", r"(\Deleted)"))
    ok(c.expunge())
    ok(c.copy("1:*", "Archive"))
    copies = lines(srv, "copy", 11)
    big = copies[-1]["fields"]
    assert big["mailbox"] == "Big" and big["dest"] == "Archive", big
    assert big["count"] == 512, big
    assert big["size"] == 512 * len(b"Subject: big\r\n\r\nbig\r\n"), big
    assert len(big["uids"]) <= MAX_UIDS_CHARS + 4, big["uids"]
    assert big["uids"].startswith("2,4,6,8,") and big["uids"].endswith(",..."), big["uids"]
    # The copies are consecutive in the destination: one run, whole.
    assert big["dest_uids"] == "1:512", big
    (expunge,) = lines(srv, "expunge", 1)
    assert expunge["fields"]["count"] == 512, expunge
    assert len(expunge["fields"]["uids"]) <= MAX_UIDS_CHARS + 4, expunge
    assert expunge["fields"]["uids"].startswith("1,3,5,"), expunge
    c.logout()
