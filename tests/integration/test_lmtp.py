"""LMTP (RFC 2033) against the real server, over TCP and a unix socket, with
Python's smtplib.LMTP and a raw socket: every command, pipelining, mixed
recipient outcomes, dot-stuffing, 8-bit and binary-ish bodies, size limits,
a client gone mid-DATA, bad input, IDLE and SEARCH seeing a delivery at
once, `roost deliver`, and the zero-config socket."""

from __future__ import annotations

import re
import smtplib
import stat
import subprocess
import time
from datetime import datetime, timezone

import pytest

import imapresp as R
from conftest import HOST, launch
from lmtpwire import Lmtp, fetch_all, imap, launch_lmtp, restart, stuff, unique

USERS = {"alice": "alicepw", "bob": "bobpw", "full": "fullpw", "small": "smallpw", "plus+x": "pluspw"}
MAX = 65536


@pytest.fixture(scope="module")
def lsrv(tmp_path_factory):
    srv = launch_lmtp(
        tmp_path_factory.mktemp("lmtp"),
        f'domains = ["example.org", "Example.NET"]\nplus_to_mailbox = true\nmax_message_bytes = {MAX}\n'
        'hostname = "mx.test"\nmax_recipients = 100\n',
        USERS,
    )
    srv.cli("user", "quota", "full", "--messages", "0", check=True)
    srv.cli("user", "quota", "small", "--storage", "1K", check=True)
    c = imap(srv, "alice", USERS["alice"])
    c.create("work")
    c.logout()
    yield srv
    srv.stop()


def body(tag: str, extra: bytes = b"") -> bytes:
    return (
        f"From: sender@else.org\r\nTo: alice@example.org\r\nSubject: {tag}\r\nMessage-ID: <{tag}@t>\r\n\r\n"
        f"token {tag}\r\n"
    ).encode() + extra


def find(srv, user: str, tag: str, mailbox: str = "INBOX") -> list[dict]:
    return [m for m in fetch_all(srv, user, USERS[user], mailbox) if tag.encode() in m["raw"]]


def lmtp_client(srv, unix: bool = False) -> smtplib.LMTP:
    if unix:
        return smtplib.LMTP(str(srv.lmtp_sock), timeout=20)
    return smtplib.LMTP(HOST, srv.lmtp_port, timeout=20)


# -- commands ----------------------------------------------------------------


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix"])
def test_lhlo_and_a_delivery_read_back_with_its_headers(lsrv, unix):
    tag = unique("basic")
    with lmtp_client(lsrv, unix) as l:
        code, text = l.ehlo("mta.example.org")
        assert code == 250
        assert text.split(b"\n")[0] == b"mx.test"
        for ext in ("pipelining", "enhancedstatuscodes", "8bitmime"):
            assert l.has_extn(ext), ext
        assert l.esmtp_features["size"] == str(MAX)
        before = datetime.now(timezone.utc).replace(microsecond=0)
        assert l.sendmail("sender@else.org", ["alice@example.org"], body(tag)) == {}
    (m,) = find(lsrv, "alice", tag)
    raw = m["raw"]
    assert raw.startswith(b"Return-Path: <sender@else.org>\r\nDelivered-To: alice@example.org\r\nReceived: from mta.example.org (")
    head = raw.split(b"\r\n\r\n")[0].decode()
    received = re.search(r"Received: (.*?)\r\n(?=\S)", head, re.S).group(1)
    assert ("(local)" if unix else "(127.0.0.1)") in received
    assert "by mx.test (Roost) with LMTP id " in received
    assert "for <alice@example.org>" in received
    assert raw.endswith(body(tag))
    assert "\\Recent" in m["head"] and "\\Seen" not in m["head"]
    date = re.search(r'INTERNALDATE "([^"]+)"', m["head"]).group(1)
    internal = datetime.strptime(date, "%d-%b-%Y %H:%M:%S %z")
    assert abs((internal - before).total_seconds()) < 60


def test_helo_and_ehlo_are_refused(lsrv):
    c = Lmtp(lsrv)
    assert c.reply()[0] == 220
    assert c.cmd("HELO x")[0] == 500
    assert c.cmd("EHLO x")[0] == 500
    assert c.cmd("MAIL FROM:<>") == (503, b"5.5.1 LHLO first")
    c.close()


def test_noop_rset_vrfy_help_quit(lsrv):
    c = Lmtp(lsrv)
    c.reply()
    assert c.cmd("NOOP") == (250, b"2.0.0 OK")
    c.send("LHLO x\r\n")
    assert c.reply()[0] == 250
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 250
    assert c.cmd("RSET") == (250, b"2.0.0 OK")
    assert c.cmd("RCPT TO:<alice@example.org>") == (503, b"5.5.1 MAIL first")
    assert c.cmd("VRFY alice")[0] == 252
    assert c.cmd("EXPN staff")[0] == 502
    assert c.cmd("HELP")[0] == 214
    assert c.cmd("QUIT") == (221, b"2.0.0 Bye")
    assert c.closed()


def test_several_recipients_mixed_outcomes_one_reply_each_in_order(lsrv):
    tag = unique("mixed")
    big = body(tag, b"y" * 3000 + b"\r\n")  # over small's 1 KiB
    with lmtp_client(lsrv) as l:
        l.ehlo("m")
        assert l.mail("s@else.org")[0] == 250
        assert l.rcpt("alice@example.org")[0] == 250
        assert l.rcpt("nobody@example.org") == (550, b"5.1.1 <nobody@example.org> User unknown")
        assert l.rcpt("full@example.org") == (552, b"5.2.2 <full@example.org> Mailbox is full")
        assert l.rcpt("stranger@other.org") == (550, b"5.1.2 <stranger@other.org> Not a local domain")
        assert l.rcpt("small@example.net")[0] == 250
        assert l.rcpt("BOB@EXAMPLE.ORG")[0] == 250
        # DATA's replies: one per accepted RCPT, in RCPT order.
        first = l.data(big)
        rest = [l.getreply() for _ in range(2)]
    assert first == (250, b"2.0.0 <alice@example.org> delivered")
    assert rest[0] == (552, b"5.2.2 <small@example.net> Mailbox is full")
    assert rest[1] == (250, b"2.0.0 <BOB@EXAMPLE.ORG> delivered")
    assert len(find(lsrv, "alice", tag)) == 1
    assert len(find(lsrv, "bob", tag)) == 1
    assert find(lsrv, "small", tag) == []
    (b,) = find(lsrv, "bob", tag)
    assert b"Delivered-To: BOB@EXAMPLE.ORG\r\n" in b["raw"]


def test_same_user_twice_gets_two_replies_and_one_copy(lsrv):
    tag = unique("twice")
    with lmtp_client(lsrv) as l:
        l.ehlo("m")
        l.mail("")
        assert l.rcpt("alice@example.org")[0] == 250
        assert l.rcpt("Alice@Example.Net")[0] == 250
        assert l.data(body(tag))[0] == 250
        assert l.getreply()[0] == 250
    assert len(find(lsrv, "alice", tag)) == 1


def test_plus_address_goes_to_the_mailbox_or_inbox(lsrv):
    tag = unique("plus")
    with lmtp_client(lsrv) as l:
        assert l.sendmail("", ["alice+work@example.org"], body(tag + "w")) == {}
        assert l.sendmail("", ["alice+nosuch@example.org"], body(tag + "n")) == {}
        # A user whose own name has a `+` is found by its whole name.
        assert l.sendmail("", ["plus+x@example.org"], body(tag + "p")) == {}
    assert len(find(lsrv, "alice", tag + "w", "work")) == 1
    assert find(lsrv, "alice", tag + "w") == []
    assert len(find(lsrv, "alice", tag + "n")) == 1
    assert len(find(lsrv, "plus+x", tag + "p")) == 1


def test_data_without_recipients_is_503(lsrv):
    with lmtp_client(lsrv) as l:
        l.ehlo("m")
        l.mail("")
        assert l.rcpt("nobody@example.org")[0] == 550
        assert l.docmd("DATA") == (503, b"5.5.1 No valid recipients")


# -- pipelining and the message ----------------------------------------------


def test_pipelined_transactions_in_one_write(lsrv):
    tags = [unique(f"pipe{i}") for i in range(3)]
    c = Lmtp(lsrv)
    c.reply()
    c.send("LHLO p\r\n")
    c.reply()
    # RFC 2920: the client waits for 354 only; everything else in one go.
    c.send(b"MAIL FROM:<p@else.org> BODY=8BITMIME SIZE=500\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
    for i, t in enumerate(tags):
        got = c.replies(5)
        assert [code for code, _ in got] == [250, 250, 550, 250, 354], got
        tail = b"MAIL FROM:<p@else.org>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
        c.send(stuff(body(t)) + (tail if i + 1 < len(tags) else b"QUIT\r\n"))
        done = c.replies(2)
        assert done == [(250, b"2.0.0 <alice@example.org> delivered"), (250, b"2.0.0 <bob@example.org> delivered")]
    assert c.reply()[0] == 221
    for t in tags:
        assert len(find(lsrv, "alice", t)) == 1
        assert len(find(lsrv, "bob", t)) == 1


def test_dot_stuffing_both_ways(lsrv):
    tag = unique("dots")
    text = body(tag, b".\r\n..\r\n.leading\r\nmid.dle\r\n. \r\n")
    with lmtp_client(lsrv) as l:
        assert l.sendmail("", ["alice@example.org"], text) == {}
    (m,) = find(lsrv, "alice", tag)
    assert m["raw"].endswith(text)
    # On the raw wire: a stuffed ".." line, and an unstuffed ".x" line,
    # whose first dot goes as RFC 5321 4.5.2 says.
    tag2 = unique("rawdots")
    c = Lmtp(lsrv)
    c.reply()
    c.send("LHLO r\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
    assert [x[0] for x in c.replies(4)] == [250, 250, 250, 354]
    c.send(body(tag2) + b"..two\r\n.one\r\n.\r\n")
    assert c.reply()[0] == 250
    (m,) = find(lsrv, "alice", tag2)
    assert m["raw"].endswith(b"\r\n.two\r\none\r\n")


def test_eight_bit_and_binary_ish_bodies(lsrv):
    tag = unique("8bit")
    utf8 = "Grüße, 日本語, ☃\r\n".encode()
    high = bytes(range(0x80, 0x100)) + b"\r\n"
    c = Lmtp(lsrv)
    c.reply()
    c.send("LHLO r\r\nMAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
    assert [x[0] for x in c.replies(4)] == [250, 250, 250, 354]
    # NUL, a bare LF and a bare CR: stored as 0x80, CRLF, CRLF; `\n.\n` is
    # not the end of the message.
    c.send(body(tag) + utf8 + high + b"nul\x00here\r\nbare\nlf\rcr\n.\nstill\r\n.\r\n")
    assert c.reply()[0] == 250
    (m,) = find(lsrv, "alice", tag)
    assert m["raw"].endswith(utf8 + high + b"nul\x80here\r\nbare\r\nlf\r\ncr\r\n.\r\nstill\r\n")
    # SEARCH decodes 8-bit text too.
    i = imap(lsrv, "alice", USERS["alice"])
    i.select("INBOX")
    typ, data = i.uid("SEARCH", "CHARSET", "UTF-8", "BODY", tag)
    assert typ == "OK" and data[0]
    i.logout()


def test_size_limits(lsrv):
    c = Lmtp(lsrv)
    c.reply()
    c.send("LHLO r\r\n")
    c.reply()
    assert c.cmd(f"MAIL FROM:<> SIZE={MAX + 1}") == (552, b"5.3.4 Message size exceeds fixed maximum message size")
    assert c.cmd(f"MAIL FROM:<> SIZE={MAX}")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<bob@example.org>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    tag = unique("toobig")
    c.send(body(tag) + (b"z" * 998 + b"\r\n") * (MAX // 1000 + 10) + b".\r\n")
    assert c.replies(2) == [
        (552, b"5.3.4 <alice@example.org> Message size exceeds fixed maximum message size"),
        (552, b"5.3.4 <bob@example.org> Message size exceeds fixed maximum message size"),
    ]
    # The session goes on.
    assert c.cmd("NOOP")[0] == 250
    assert find(lsrv, "alice", tag) == []
    assert find(lsrv, "bob", tag) == []


def test_too_many_recipients(lsrv):
    c = Lmtp(lsrv)
    c.reply()
    c.send("LHLO r\r\nMAIL FROM:<>\r\n" + "RCPT TO:<alice@example.org>\r\n" * 101)
    got = c.replies(103)
    assert all(code == 250 for code, _ in got[:102])
    assert got[102] == (452, b"4.5.3 Too many recipients")


def test_disconnect_mid_data_stores_nothing(lsrv):
    tag = unique("cut")
    c = Lmtp(lsrv)
    c.reply()
    c.send("LHLO r\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
    assert [x[0] for x in c.replies(4)] == [250, 250, 250, 354]
    c.send(body(tag) + b"half of it\r\n.")
    c.close()
    time.sleep(0.5)
    assert find(lsrv, "alice", tag) == []
    # The server is fine.
    with lmtp_client(lsrv) as l:
        assert l.noop()[0] == 250


# -- bad input ---------------------------------------------------------------


def test_bad_input_gets_an_answer_and_the_session_goes_on(lsrv):
    c = Lmtp(lsrv)
    c.reply()
    c.send("LHLO r\r\n")
    c.reply()
    for line, code in [
        ("XYZZY", 500),
        ("", 500),
        ("MAIL FROM:nobrackets@x.org", 501),
        ("MAIL FROM:<a@b.c> SIZE=big", 501),
        ("MAIL FROM:<a@b.c> BODY=BINARYMIME", 555),
        ("MAIL FROM:<a@b.c> FOO=BAR", 555),
        ("MAIL", 501),
        ("RCPT TO:<alice@example.org>", 503),
        ("DATA", 503),
        ("DATA now", 501),
        ("BDAT 10 LAST", 502),
        ("STARTTLS", 502),
    ]:
        got = c.cmd(line)
        assert got[0] == code, (line, got)
        assert re.match(rb"\d\.\d\.\d ", got[1]), got
    c.send(b"NO\x00OP\r\n\xff\xfe\r\n")
    assert [x[0] for x in c.replies(2)] == [500, 500]
    # An overlong line, in pieces far over the limit.
    for _ in range(50):
        c.send(b"A" * 10000)
    c.send(b"\r\n")
    assert c.reply() == (500, [b"5.5.2 Line too long"])
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 250
    assert c.cmd("RCPT TO:<bad address@example.org>")[0] == 501
    assert c.cmd("RCPT TO:<alice@example.org> NOTIFY=NEVER")[0] == 555
    assert c.cmd("QUIT")[0] == 221


# -- the rest of Roost sees it -------------------------------------------------


def test_idle_session_sees_a_delivery_and_search_finds_it_at_once(lsrv):
    tag = unique("idle")
    c = lsrv.login("alice", USERS["alice"])
    R.ok(c, "SELECT INBOX")
    c.send("i1 IDLE\r\n")
    assert c.readline().startswith(b"+ ")
    t0 = time.monotonic()
    with lmtp_client(lsrv) as l:
        assert l.sendmail("", ["alice@example.org"], body(tag)) == {}
    while True:
        line = c.readline(timeout=max(0.1, 2.0 - (time.monotonic() - t0)))
        if line.endswith(b" EXISTS\r\n"):
            break
    print(f"EXISTS {1000 * (time.monotonic() - t0):.1f} ms after the LMTP DATA")
    c.send("DONE\r\n")
    r = c.read_until_tagged("i1")
    assert r.kind == "OK"
    r = R.ok(c, f'UID SEARCH BODY "{tag}"')
    uids = [u for line in r.untagged for u in line.split()[2:]]
    assert len(uids) == 1, r.untagged
    r = R.ok(c, f'UID SEARCH HEADER Delivered-To "alice@example.org" SUBJECT "{tag}"')
    assert [u for line in r.untagged for u in line.split()[2:]] == uids
    c.close()


def test_recent_goes_to_the_next_session(lsrv):
    tag = unique("recent")
    with lmtp_client(lsrv) as l:
        l.sendmail("", ["bob@example.org"], body(tag))
    c = lsrv.login("bob", USERS["bob"])
    r = R.ok(c, "SELECT INBOX")
    recent = [line for line in r.untagged if line.endswith(b" RECENT\r\n")]
    assert recent and recent[0] != b"* 0 RECENT\r\n", r.untagged
    c.close()


# -- roost deliver -----------------------------------------------------------


def test_roost_deliver_while_serving(lsrv):
    tag = unique("lda")
    p = lsrv.cli("deliver", "--user", "Alice", "--from", "lda@else.org", input=f"From x Thu Dec  3 09:00:00 2026\nSubject: {tag}\n\ntoken {tag}\n")
    assert p.returncode == 0, p.stderr
    (m,) = find(lsrv, "alice", tag)
    assert m["raw"].startswith(b"Return-Path: <lda@else.org>\r\nDelivered-To: alice\r\n")
    assert m["raw"].endswith(f"\r\nSubject: {tag}\r\n\r\ntoken {tag}\r\n".encode())
    assert b"From x" not in m["raw"]
    p = lsrv.cli("deliver", "--user", "alice", "--mailbox", "work", input=f"Subject: {tag}w\n\nx\n")
    assert p.returncode == 0, p.stderr
    assert len(find(lsrv, "alice", f"{tag}w", "work")) == 1
    # sysexits
    assert lsrv.cli("deliver", "--user", "nobody", input="Subject: x\n\nx\n").returncode == 67
    assert lsrv.cli("deliver", "--user", "alice", "--mailbox", "Nope", input="x\n").returncode == 73
    assert lsrv.cli("deliver", "--user", "full", input="Subject: x\n\nx\n").returncode == 73
    assert lsrv.cli("deliver", "--user", "alice", "--from", "not an address", input="x\n").returncode == 64
    big = "Subject: big\n\n" + ("z" * 999 + "\n") * (MAX // 1000 + 1)
    assert lsrv.cli("deliver", "--user", "alice", input=big).returncode == 65


def test_over_quota_temporary_by_config(make_server, tmp_path_factory):
    srv = launch_lmtp(tmp_path_factory.mktemp("tq"), 'over_quota = "temporary"\n', {"full": "fullpw", "alice": "alicepw"})
    try:
        srv.cli("user", "quota", "full", "--messages", "0", check=True)
        with lmtp_client(srv) as l:
            l.ehlo("m")
            l.mail("")
            assert l.rcpt("full@any.where") == (452, b"4.2.2 <full@any.where> Mailbox is full")
            # No `domains`: any domain is local.
            assert l.rcpt("alice@any.where")[0] == 250
        assert srv.cli("deliver", "--user", "full", input="Subject: x\n\nx\n").returncode == 75
    finally:
        srv.stop()


def test_zero_config_listens_on_a_socket_in_the_data_dir(tmp_path):
    srv = launch(tmp_path, None, {"alice": "alicepw"})
    try:
        sock = srv.data_dir / "lmtp.sock"
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline, srv.stderr_text()
            time.sleep(0.05)
        assert stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660
        assert f"unix:{sock}" in srv.stderr_text()
        with smtplib.LMTP(str(sock), timeout=20) as l:
            assert l.sendmail("", ["alice@wherever.org"], b"Subject: zero\r\n\r\nzero-config\r\n") == {}
        assert any(b"zero-config" in m["raw"] for m in fetch_all(srv, "alice", "alicepw"))
        assert srv.terminate() == 0
        assert not sock.exists(), "the socket is removed at shutdown"
    finally:
        srv.stop()


def test_socket_mode_from_config(tmp_path):
    srv = launch_lmtp(tmp_path, 'socket_mode = "0600"\n', {"alice": "alicepw"}, tcp=False)
    try:
        assert stat.S_IMODE(srv.lmtp_sock.stat().st_mode) == 0o600
    finally:
        srv.stop()


def test_stale_socket_is_replaced_and_a_live_one_refused(tmp_path):
    srv = launch_lmtp(tmp_path, "", {"alice": "alicepw"}, tcp=False)
    try:
        # A second server (its own data) on the same socket refuses to start.
        other = tmp_path / "other"
        other.mkdir()
        p = subprocess.run(
            [srv.bin, "serve", "--data-dir", str(other), "--imap", f"{HOST}:0", "--imaps", "",
             "--lmtp", f"unix:{srv.lmtp_sock}"],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        )
        assert p.returncode != 0 and "in use" in p.stderr, p.stderr
        srv.proc.kill()
        srv.proc.wait(5)
        srv.stop()
        assert srv.lmtp_sock.exists()  # left behind by SIGKILL
        restart(srv)
        with smtplib.LMTP(str(srv.lmtp_sock), timeout=20) as l:
            assert l.noop()[0] == 250
    finally:
        srv.stop()


def test_two_write_data_does_not_wait_for_a_delayed_ack(lsrv):
    # Guards the immediate ACK after every read: an MTA that writes the
    # message and then the final "." in two writes, with Nagle's algorithm
    # on (the default), holds the second until the first is ACKed, and a
    # server that delays that ACK costs about 40 ms per message.
    import socket
    import statistics

    s = socket.create_connection((HOST, lsrv.lmtp_port), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    f = s.makefile("rb")

    def reply() -> bytes:
        while True:
            line = f.readline()
            assert line, "connection closed"
            if line[3:4] != b"-":
                return line

    assert reply().startswith(b"220")
    s.sendall(b"LHLO mta.test\r\n")
    assert reply().startswith(b"250")
    times = []
    tag = unique("ack")
    for i in range(50):
        s.sendall(b"MAIL FROM:<sender@else.org>\r\n")
        assert reply().startswith(b"250")
        s.sendall(b"RCPT TO:<alice@example.org>\r\n")
        assert reply().startswith(b"250")
        s.sendall(b"DATA\r\n")
        assert reply().startswith(b"354")
        start = time.monotonic()
        s.sendall(body(f"{tag}-{i}"))
        s.sendall(b".\r\n")
        assert reply().startswith(b"250")
        times.append(time.monotonic() - start)
    s.sendall(b"QUIT\r\n")
    s.close()
    median = statistics.median(times)
    assert median < 0.02, f"median two-write DATA took {median * 1000:.1f} ms"
