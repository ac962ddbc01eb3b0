"""Malformed input: each is answered, the connection goes on where the spec
says so, and other sessions are served all along."""

import contextlib
import time

import pytest

from imapwire import Closed, ImapConn, status


@contextlib.contextmanager
def others_still_served(server):
    """A logged-in bystander before the nasty input; it and a new connection
    must be served during and after it."""
    bystander = server.login("bob", "bobpw")
    try:
        yield bystander
        bystander.noop_ok()
        with server.login("alice", "alicepw") as fresh:
            fresh.noop_ok()
    finally:
        bystander.close()


def bad_line(line: bytes, tag: str) -> None:
    st = status(line)
    assert (st.tag, st.kind) == (tag, "BAD"), line


@pytest.mark.parametrize("junk", [b"\r\n", b"*\r\n", b" NOOP\r\n", b"* NOOP\r\n", b"+ NOOP\r\n", b"(a) NOOP\r\n",
                                  b'"a" NOOP\r\n', b"a%b NOOP\r\n"])
def test_missing_or_invalid_tag_is_untagged_bad(server, junk):
    with others_still_served(server), server.connect() as c:
        c.send(junk)
        bad_line(c.readline(), "*")
        c.noop_ok()


def test_unknown_command(server):
    with others_still_served(server), server.connect() as c:
        r = c.cmd("FOO", tag="a")
        assert r.kind == "BAD" and not r.untagged and not r.others, r
        c.noop_ok()


@pytest.mark.parametrize("line", [b"a FOO", b"a FOO bar baz", b"a NOOPX", b"a NOOP extra", b"a CAPABILITY x",
                                  b"a LOGOUT now", b"a", b"a "])
def test_unknown_command_or_bad_arguments_is_tagged_bad(server, line):
    with others_still_served(server), server.connect() as c:
        c.send(line + b"\r\n")
        got = c.readline()
        st = status(got)
        assert st.kind == "BAD" and st.tag in ("a", "*"), got
        if line not in (b"a", b"a "):
            assert st.tag == "a", got
        c.noop_ok()


def test_unbalanced_parentheses_after_login(server):
    with others_still_served(server), server.login() as c:
        for cmd in ("FETCH 1 (FLAGS", "FETCH 1 FLAGS)", 'ID ("name" "x"', 'ID ("name" "x"))', "SEARCH (ALL"):
            r = c.cmd(cmd)
            assert r.kind == "BAD", (cmd, r)
        c.noop_ok()


@pytest.mark.parametrize(
    "line",
    [b"a NO\x00OP\r\n", b"a NOOP\x00\r\n", b'a LOGIN "al\x00ice" "alicepw"\r\n', b"a LOGIN alice alice\x00pw\r\n",
     b"a\x00 NOOP\r\n", b"a LOGIN {6+}\r\nal\x00ice alicepw\r\n"],
    ids=["in-name", "after-name", "in-quoted", "in-atom", "in-tag", "in-literal"],
)
def test_nul_byte_is_bad(server, line):
    with others_still_served(server), server.connect() as c:
        c.send(line)
        st = status(c.readline())
        assert st.kind == "BAD" and st.tag in ("a", "*"), st.raw
        c.noop_ok()
        # And the NUL did not authenticate anyone.
        assert "AUTH=PLAIN" in c.capability()


@pytest.mark.parametrize(
    "line",
    [b'a SELECT "\xff\xfe"\r\n', b"a SELECT {2+}\r\n\xff\xfe\r\n", b'a SELECT "INBOX/\xc3"\r\n'],
    ids=["quoted", "literal", "truncated-sequence"],
)
def test_invalid_utf8_mailbox_name_is_bad(server, line):
    with others_still_served(server), server.login() as c:
        c.send(line)
        r = c.read_until_tagged("a")
        assert r.kind == "BAD", r
        c.noop_ok()


@pytest.mark.parametrize("name", [b"&Jjo", b'"&Jjo"', b"&AGE-", b'"&,-"', b"&Jjo!-"],
                         ids=["unterminated", "unterminated-quoted", "ascii-in-shift", "bad-base64", "junk-in-shift"])
def test_invalid_modified_utf7_is_no(server, name):
    with others_still_served(server), server.login() as c:
        r = c.cmd(b"SELECT " + name)
        assert r.kind == "NO", r
        c.noop_ok()
    # Before login it is still a command in the wrong state: BAD.
    with server.connect() as c:
        assert c.cmd(b"SELECT " + name).kind == "BAD"


def test_deep_nesting_is_bad(server):
    with others_still_served(server) as bystander, server.login() as c:
        for depth in (40, 1000, 30000):
            for cmd in (b"ID ", b"SEARCH ", b"FETCH 1 ", b"LOGIN "):
                r = c.cmd(cmd + b"(" * depth + b")" * depth)
                assert r.kind == "BAD", (cmd, depth, r)
            bystander.noop_ok()
        c.noop_ok()


def test_deep_nesting_before_login(server):
    with others_still_served(server), server.connect() as c:
        r = c.cmd(b"LOGIN " + b"(" * 60 + b"alice" + b")" * 60 + b" alicepw")
        assert r.kind == "BAD", r
        r = c.cmd(b"ID " + b"(" * 30000)
        assert r.kind == "BAD", r
        c.noop_ok()


def test_ten_megabyte_line_refused_early(server):
    """A line without CRLF is refused with [LIMIT] while it is still being
    sent; after the CRLF the connection works again."""
    chunk = b"x" * (1 << 20)
    with others_still_served(server) as bystander, server.connect() as c:
        c.send(b"big LOGIN " + chunk)  # 1 MiB: far past the 64 KiB line limit
        line = c.readline()  # must come before the other 9 MiB are sent
        st = status(line)
        assert st.kind == "BAD" and st.tag in ("*", "big") and st.code == "LIMIT", line
        bystander.noop_ok()  # served while the line is still open
        for _ in range(9):
            c.send(chunk)
        bystander.noop_ok()
        c.send(b"\r\n")
        r = c.cmd("NOOP", tag="after")
        assert r.kind == "OK", r
        assert all(status(l).kind == "BAD" for l in r.untagged + r.others), r
        c.login_ok("alice", "alicepw")


def test_huge_synchronizing_literal_refused(server):
    with others_still_served(server), server.connect() as c:
        c.send(b"a LOGIN {99999999999}\r\n")
        line = c.readline()
        assert not line.startswith(b"+"), "continuation request for a 100 GB literal"
        st = status(line)
        assert st.tag == "a" and (st.kind, st.code) in (("BAD", "LIMIT"), ("NO", "TOOBIG"), ("BAD", "TOOBIG")), line
        # The client does not send the literal; the connection goes on.
        c.noop_ok()
        c.login_ok("alice", "alicepw")


def test_huge_synchronizing_literal_after_login(server):
    with others_still_served(server), server.login() as c:
        c.send(b"a SELECT {99999999999}\r\n")
        st = status(c.readline())
        assert st.tag == "a" and st.kind in ("BAD", "NO") and st.code in ("LIMIT", "TOOBIG"), st.raw
        c.noop_ok()


def test_huge_non_synchronizing_literal_closes(server):
    with others_still_served(server), server.connect() as c:
        c.send(b"a LOGIN {99999999999+}\r\n")
        lines = c.expect_closed()
        byes = [status(l) for l in lines if l.startswith(b"* BYE")]
        assert byes, f"no BYE before close: {lines!r}"
        assert byes[-1].code in ("TOOBIG", "LIMIT"), lines
        assert not any(status(l).kind == "OK" for l in lines if l.startswith(b"a ")), lines


def test_literal_size_not_a_number(server):
    with others_still_served(server), server.connect() as c:
        for lit in (b"{abc}", b"{-1}", b"{}", b"{5", b"{ 5}", b"{5 }"):
            c.send(b"a LOGIN " + lit + b"\r\n")
            st = status(c.readline())
            assert st.tag in ("a", "*") and st.kind == "BAD", (lit, st.raw)
            c.noop_ok()
        # A size that does not fit in 64 bits is refused like any huge literal.
        c.send(b"a LOGIN {99999999999999999999999999}\r\n")
        line = c.readline()
        assert not line.startswith(b"+"), line
        st = status(line)
        assert st.tag in ("a", "*") and st.kind in ("BAD", "NO"), line
        if st.kind == "NO":
            assert st.code == "TOOBIG", line
        c.noop_ok()


def test_random_garbage(server):
    """Random binary garbage: answered with BAD or a BYE, never a crash."""
    import random

    rnd = random.Random(1234)
    with others_still_served(server):
        for _ in range(5):
            c = server.connect()
            try:
                blob = bytes(rnd.randrange(256) for _ in range(4096))
                c.send(blob.replace(b"{", b"(") + b"\r\n")
                c.send(b"zz NOOP\r\n")
                try:
                    r = c.read_until_tagged("zz")
                    assert r.kind == "OK", r
                except Closed:
                    pass  # the server may give up on a session that sends garbage
            finally:
                c.close()


def test_abrupt_disconnects_do_not_hurt_others(server):
    with others_still_served(server):
        for payload in (b"", b"a LOGIN {10}\r\n", b"a AUTHENTICATE PLAIN\r\n", b"a LOGIN alice", b"a STARTTLS\r\n"):
            c = ImapConn.open(server.imap_port)
            c.send(payload)
            time.sleep(0.05)
            c.close()
        c = ImapConn.open(server.imaps_port)  # before the TLS handshake
        c.close()
