"""Configured size limits: line, literal, APPEND literal and whole command,
each checked just under and just over the limit."""

from conftest import module_server, new_account
from imapwire import status

MAX_LINE = 1024
MAX_LITERAL = 1024
MAX_APPEND = 8192
MAX_COMMAND = 4096

limits_server = module_server(
    "limits_server",
    {
        "limits": {
            "max_line_bytes": MAX_LINE,
            "max_literal_bytes": MAX_LITERAL,
            "max_append_bytes": MAX_APPEND,
            "max_command_bytes": MAX_COMMAND,
            "max_nesting_depth": 8,
            "max_params": 100,
        },
        "auth": {"failure_delay_ms": 50, "max_failures_per_ip": 1000, "max_failures_per_user": 1000, "window_secs": 300},
    },
)


def id_line(total: int) -> bytes:
    """An ID command line of exactly `total` bytes, CRLF included."""
    head, tail = b'a ID ("name" "', b'")\r\n'
    line = head + b"v" * (total - len(head) - len(tail)) + tail
    assert len(line) == total
    return line


def refused(line: bytes, tags=("a", "*")) -> None:
    assert not line.startswith(b"+"), f"continuation request instead of a refusal: {line!r}"
    st = status(line)
    assert st.tag in tags, line
    assert (st.kind, st.code) in (("BAD", "LIMIT"), ("BAD", "TOOBIG"), ("NO", "TOOBIG")), line


def test_line_just_under_limit_works(limits_server):
    with limits_server.connect() as c:
        c.send(id_line(MAX_LINE))
        r = c.read_until_tagged("a")
        assert r.kind == "OK", r
        assert any(l.upper().startswith(b"* ID ") for l in r.untagged), r


def test_line_just_over_limit_is_refused(limits_server):
    with limits_server.connect() as c:
        c.send(id_line(MAX_LINE + 1))
        st = status(c.readline())
        assert st.tag in ("a", "*") and (st.kind, st.code) == ("BAD", "LIMIT"), st.raw
        c.noop_ok()
        c.login_ok("alice", "alicepw")


def test_line_limit_after_login(limits_server):
    with limits_server.login() as c:
        c.send(id_line(MAX_LINE + 1))
        st = status(c.readline())
        assert (st.kind, st.code) == ("BAD", "LIMIT"), st.raw
        c.noop_ok()
        c.send(id_line(MAX_LINE))
        assert c.read_until_tagged("a").kind == "OK"


def test_line_limit_does_not_count_literals(limits_server):
    """The line limit is per line: literals sit between lines."""
    with limits_server.connect() as c:
        value = b"w" * 900
        c.send(b'a ID ("name" {%d+}\r\n%s "version" {%d+}\r\n%s)\r\n' % (len(value), value, len(value), value))
        r = c.read_until_tagged("a")
        assert r.kind == "OK", r


def test_literal_just_under_limit_works(limits_server):
    with limits_server.connect() as c:
        c.send(b'a ID ("name" {%d}\r\n' % MAX_LITERAL)
        assert c.readline().startswith(b"+")
        c.send(b"v" * MAX_LITERAL + b")\r\n")
        r = c.read_until_tagged("a")
        assert r.kind == "OK", r


def test_literal_just_over_limit_is_refused(limits_server):
    with limits_server.connect() as c:
        c.send(b'a ID ("name" {%d}\r\n' % (MAX_LITERAL + 1))
        refused(c.readline(), tags=("a",))
        c.noop_ok()
        c.login_ok("alice", "alicepw")


def test_command_just_over_limit_is_refused(limits_server):
    """Literals each within the literal limit, the whole over the command limit."""
    value = b"x" * 1000
    with limits_server.connect() as c:
        c.send(b'a ID ("k1" {1000}\r\n')
        sent = 0
        for i in range(2, 12):
            line = c.readline()
            if not line.startswith(b"+"):
                refused(line, tags=("a",))
                break
            piece = value + b' "k%d" {1000}\r\n' % i
            sent += len(piece)
            c.send(piece)
        else:
            raise AssertionError("a command of 11 KB was never refused")
        assert sent < MAX_COMMAND, sent
        assert sent > MAX_COMMAND - 1100, f"refused too early, after {sent} bytes"
        c.noop_ok()


def test_command_just_under_limit_works(limits_server):
    value = b"x" * 1000
    with limits_server.connect() as c:
        c.send(b'a ID ("k1" {1000}\r\n')
        for i in range(2, 4):
            assert c.readline().startswith(b"+")
            c.send(value + b' "k%d" {1000}\r\n' % i)
        assert c.readline().startswith(b"+")
        c.send(value + b")\r\n")
        r = c.read_until_tagged("a")
        assert r.kind == "OK", r


def test_append_literal_over_append_limit_is_refused(limits_server):
    with limits_server.login() as c:
        c.send(b"a APPEND INBOX {%d}\r\n" % (MAX_APPEND + 1))
        refused(c.readline(), tags=("a",))
        c.noop_ok()


def test_append_literal_may_exceed_the_literal_limit(limits_server):
    """APPEND has its own, larger limit: a message over max_literal_bytes but
    under max_append_bytes is not refused for its size."""
    msg = b"Subject: x\r\n\r\n" + b"y" * (MAX_LITERAL * 2) + b"\r\n"
    with limits_server.login() as c:
        c.send(b"a APPEND INBOX {%d}\r\n" % len(msg))
        line = c.readline()
        assert line.startswith(b"+"), line
        c.send(msg + b"\r\n")
        r = c.read_until_tagged("a")
        assert r.code not in ("LIMIT", "TOOBIG"), r
        c.noop_ok()


def test_authenticate_response_over_line_limit(limits_server):
    with limits_server.connect() as c:
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        assert c.readline() == b"+ \r\n"
        c.send(b"QUFB" * (MAX_LINE // 4 + 1) + b"\r\n")
        st = status(c.readline())
        assert st.tag in ("a", "*") and st.kind == "BAD", st.raw
        # The exchange is over; plain commands work again.
        c.noop_ok()
        c.login_ok("alice", "alicepw")


def test_mailbox_name_limit_is_one_limit(server):
    """CREATE and RENAME check names against the store's one limit (500
    bytes), and say so, whatever the length past it."""
    acct = new_account(server, "namelen")
    c = acct.login()
    longest = "n" * 500
    assert c.cmd(f"CREATE {longest}").kind == "OK"
    for over in (501, 512, 600):
        r = c.cmd(f"CREATE {'m' * over}")
        assert r.kind == "NO" and b"500 bytes" in r.tagged.raw, r
    r = c.cmd(f"RENAME {longest} {'r' * 501}")
    assert r.kind == "NO" and b"500 bytes" in r.tagged.raw, r
    acct.close()
