"""LOGIN and AUTHENTICATE PLAIN (RFC 3501 §6.2, RFC 4616, RFC 4959, RFC 7888
literals), failure handling, throttling and password hygiene in logs."""

import base64
import imaplib
import time

import pytest

from conftest import SHARED_CONFIG, USERS, module_server
from imapwire import HOST, ImapConn, b64, client_tls_context, plain_blob, status

AUTHED = {"IMAP4REV1", "SASL-IR", "LITERAL+", "ID", "UIDPLUS", "IDLE", "NAMESPACE", "UNSELECT", "CHILDREN"}
AUTHED |= {"COMPRESS=DEFLATE"}
AUTHED |= {"ENABLE", "CONDSTORE", "QRESYNC", "MOVE"}
AUTHED |= {"SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS"}
AUTHED |= {"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "STATUS=SIZE", "APPENDLIMIT=52428800"}
SHARED_DELAY = SHARED_CONFIG["auth"]["failure_delay_ms"] / 1000


def assert_authenticated(c):
    """The session is in the authenticated state (FETCH is BAD for state, not
    for lack of login; LOGIN again is BAD)."""
    caps = c.capability()
    assert caps == AUTHED, caps


def assert_not_authenticated(c):
    caps = c.capability()
    assert "AUTH=PLAIN" in caps or "LOGINDISABLED" in caps, caps


# -- LOGIN -------------------------------------------------------------


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_login_quoted(server, tls):
    with server.connect(tls=tls) as c:
        r = c.cmd('LOGIN "alice" "alicepw"')
        assert r.kind == "OK", r
        assert r.tagged.code == "CAPABILITY" and r.tagged.capabilities == AUTHED
        assert_authenticated(c)


def test_login_atoms(server):
    with server.connect() as c:
        assert c.cmd("LOGIN alice alicepw").kind == "OK"


def test_login_synchronizing_literals(server):
    with server.connect() as c:
        c.send(b"a LOGIN {5}\r\n")
        cont = c.readline()
        assert cont.startswith(b"+"), cont
        c.send(b"alice {7}\r\n")
        cont = c.readline()
        assert cont.startswith(b"+"), cont
        c.send(b"alicepw\r\n")
        r = c.read_until_tagged("a")
        assert r.kind == "OK" and not r.others, r
        assert_authenticated(c)


def test_login_synchronizing_literal_waits_for_client(server):
    """Before the continuation request the server must not act on the command."""
    with server.connect() as c:
        c.send(b"a LOGIN {5}\r\n")
        assert c.readline().startswith(b"+")
        assert not c.pending(0.3), "server sent more than one continuation request"
        c.send(b'alice "alicepw"\r\n')
        assert c.read_until_tagged("a").kind == "OK"


def test_login_non_synchronizing_literals(server):
    with server.connect() as c:
        c.send(b"a LOGIN {5+}\r\nalice {7+}\r\nalicepw\r\n")
        line = c.readline()
        st = status(line)
        assert (st.tag, st.kind) == ("a", "OK"), f"expected no continuation request, got {line!r}"
        assert_authenticated(c)


def test_login_literal_password_with_special_characters(server):
    pw = USERS["carol"]
    with server.connect() as c:
        data = pw.encode()
        c.send(b"a LOGIN carol {%d+}\r\n%s\r\n" % (len(data), data))
        r = c.read_until_tagged("a")
        assert r.kind == "OK", r
    with server.connect() as c:
        assert c.cmd(r'LOGIN carol "p w\"\\{}()%*"').kind == "OK"


def test_login_wrong_password_and_unknown_user_look_the_same(server):
    with server.connect() as c:
        t0 = time.monotonic()
        wrong = c.cmd('LOGIN "alice" "not-the-password"', tag="x")
        t1 = time.monotonic()
        unknown = c.cmd('LOGIN "nosuchuser" "alicepw"', tag="x")
        t2 = time.monotonic()
        assert (wrong.kind, wrong.code) == ("NO", "AUTHENTICATIONFAILED"), wrong
        assert (unknown.kind, unknown.code) == ("NO", "AUTHENTICATIONFAILED"), unknown
        assert wrong.tagged.raw == unknown.tagged.raw
        assert not wrong.untagged and not unknown.untagged
        # Both are delayed by the configured failure delay.
        assert t1 - t0 >= SHARED_DELAY * 0.9, t1 - t0
        assert t2 - t1 >= SHARED_DELAY * 0.9, t2 - t1
        # The connection stays usable and unauthenticated; a retry works.
        assert_not_authenticated(c)
        c.login_ok("alice", "alicepw")


def test_login_username_is_not_a_prefix_match(server):
    with server.connect() as c:
        assert c.login("alic", "alicepw").code == "AUTHENTICATIONFAILED"
        assert c.login("alicex", "alicepw").code == "AUTHENTICATIONFAILED"
        assert c.login("alice", "alicepwx").code == "AUTHENTICATIONFAILED"
        assert c.login("alice", "").code == "AUTHENTICATIONFAILED"


def test_login_missing_arguments_is_bad(server):
    with server.connect() as c:
        assert c.cmd("LOGIN").kind == "BAD"
        assert c.cmd("LOGIN alice").kind == "BAD"
        assert c.cmd("LOGIN alice alicepw extra").kind == "BAD"
        c.noop_ok()


def test_default_failure_delay(make_server):
    srv = make_server(None)
    with srv.connect() as c:
        t0 = time.monotonic()
        r = c.login("alice", "wrong")
        elapsed = time.monotonic() - t0
        assert r.code == "AUTHENTICATIONFAILED"
        assert 0.9 <= elapsed < 5, elapsed


# -- AUTHENTICATE PLAIN ------------------------------------------------


def test_authenticate_plain_with_continuation(server):
    with server.connect() as c:
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        assert c.readline() == b"+ \r\n"
        c.send(b64(plain_blob("alice", "alicepw")) + b"\r\n")
        r = c.read_until_tagged("a")
        assert r.kind == "OK", r
        assert r.tagged.code == "CAPABILITY" and r.tagged.capabilities == AUTHED
        assert_authenticated(c)


def test_authenticate_mechanism_is_case_insensitive(server):
    with server.connect() as c:
        r = c.cmd(b"authenticate plain " + b64(plain_blob("alice", "alicepw")))
        assert r.kind == "OK", r


def test_authenticate_plain_sasl_ir(server):
    with server.connect() as c:
        r = c.cmd(b"AUTHENTICATE PLAIN " + b64(plain_blob("alice", "alicepw")))
        assert r.kind == "OK" and not r.others, r
        assert_authenticated(c)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_authenticate_plain_with_matching_authzid(server, tls):
    with server.connect(tls=tls) as c:
        r = c.cmd(b"AUTHENTICATE PLAIN " + b64(plain_blob("alice", "alicepw", authzid="alice")))
        assert r.kind == "OK", r


def test_authenticate_plain_other_authzid_is_refused(server):
    with server.connect() as c:
        r = c.cmd(b"AUTHENTICATE PLAIN " + b64(plain_blob("alice", "alicepw", authzid="bob")))
        assert r.kind == "NO", r
        assert r.code in ("AUTHORIZATIONFAILED", "AUTHENTICATIONFAILED"), r
        assert_not_authenticated(c)


def test_authenticate_plain_empty_initial_response(server):
    """`=` is an empty initial response: an empty PLAIN message is refused,
    without a further challenge."""
    with server.connect() as c:
        c.send(b"a AUTHENTICATE PLAIN =\r\n")
        line = c.readline()
        st = status(line)
        assert st.tag == "a" and st.kind in ("NO", "BAD"), line
        assert_not_authenticated(c)
        c.noop_ok()


def test_authenticate_cancel(server):
    with server.connect() as c:
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        assert c.readline() == b"+ \r\n"
        c.send(b"*\r\n")
        r = c.read_until_tagged("a")
        assert r.kind == "BAD", r
        assert_not_authenticated(c)
        c.noop_ok()


def test_authenticate_invalid_base64_response(server):
    with server.connect() as c:
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        assert c.readline() == b"+ \r\n"
        c.send(b"!!!not base64!!!\r\n")
        r = c.read_until_tagged("a")
        assert r.kind == "BAD", r
        c.noop_ok()
        c.login_ok("alice", "alicepw")


def test_authenticate_invalid_base64_initial_response(server):
    with server.connect() as c:
        r = c.cmd("AUTHENTICATE PLAIN !!!!")
        assert r.kind == "BAD", r
        c.noop_ok()


def test_authenticate_wrong_password(server):
    with server.connect() as c:
        r = c.cmd(b"AUTHENTICATE PLAIN " + b64(plain_blob("alice", "nope")))
        assert (r.kind, r.code) == ("NO", "AUTHENTICATIONFAILED"), r
        c.send(b"b AUTHENTICATE PLAIN\r\n")
        assert c.readline() == b"+ \r\n"
        c.send(b64(plain_blob("nosuchuser", "nope")) + b"\r\n")
        r = c.read_until_tagged("b")
        assert (r.kind, r.code) == ("NO", "AUTHENTICATIONFAILED"), r
        assert_not_authenticated(c)


def test_authenticate_malformed_plain_message(server):
    with server.connect() as c:
        # No NUL separators at all.
        r = c.cmd(b"AUTHENTICATE PLAIN " + b64(b"alice alicepw"))
        assert r.kind in ("NO", "BAD"), r
        assert_not_authenticated(c)


def test_authenticate_unknown_mechanism(server):
    with server.connect() as c:
        r = c.cmd("AUTHENTICATE CRAM-MD5")
        assert r.kind == "NO", r
        r = c.cmd("AUTHENTICATE X-NO-SUCH-MECH dGVzdA==")
        assert r.kind == "NO", r
        c.noop_ok()


def test_imaplib_authenticate_plain(server):
    m = imaplib.IMAP4(HOST, server.imap_port, timeout=10)
    try:
        typ, _ = m.authenticate("PLAIN", lambda _challenge: plain_blob("alice", "alicepw"))
        assert typ == "OK"
        assert m.noop()[0] == "OK"
    finally:
        m.logout()


def test_imaplib_capability(server):
    m = imaplib.IMAP4_SSL(HOST, server.imaps_port, ssl_context=client_tls_context(), timeout=10)
    try:
        typ, data = m.capability()
        assert typ == "OK"
        assert set(data[0].decode().upper().split()) == {"IMAP4REV1", "AUTH=PLAIN", "SASL-IR", "LITERAL+", "ID"}
    finally:
        m.logout()


def test_imaplib_login_failure_raises(server):
    m = imaplib.IMAP4(HOST, server.imap_port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            m.login("alice", "wrong")
        assert m.login("alice", "alicepw")[0] == "OK"
    finally:
        m.logout()


# -- throttling ----------------------------------------------------------

throttle_user_server = module_server(
    "throttle_user_server",
    {"auth": {"failure_delay_ms": 50, "max_failures_per_ip": 1000, "max_failures_per_user": 3, "window_secs": 300}},
    users={"alice": "alicepw", "bob": "bobpw", "carol": "carolpw", "dave": "davepw"},
)

throttle_ip_server = module_server(
    "throttle_ip_server",
    {"auth": {"failure_delay_ms": 50, "max_failures_per_ip": 4, "max_failures_per_user": 1000, "window_secs": 300}},
)


def test_throttle_per_user_after_wrong_passwords(throttle_user_server):
    srv = throttle_user_server
    with srv.connect() as c:
        for _ in range(3):
            r = c.login("alice", "wrong")
            assert (r.kind, r.code) == ("NO", "AUTHENTICATIONFAILED"), r
        r = c.login("alice", "wrong")
        assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r
        # Even the right password is refused now, on any connection and mechanism.
        r = c.login("alice", "alicepw")
        assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r
    with srv.connect() as c:
        r = c.login("alice", "alicepw")
        assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r
        r = c.cmd(b"AUTHENTICATE PLAIN " + b64(plain_blob("alice", "alicepw")))
        assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r
        # Another user is not affected.
        c.login_ok("carol", "carolpw")


def test_wrong_passwords_from_strangers_never_lock_out_the_user(throttle_user_server):
    """Strangers failing for a name are refused from their own addresses;
    the right password from an address that has not been failing still
    works (only slowed a little), however many failures the name has."""
    srv = throttle_user_server
    for attacker in ("127.0.0.11", "127.0.0.12", "127.0.0.13"):
        with ImapConn.open(srv.imap_port, source=attacker) as c:
            c.greeting()
            for _ in range(3):
                r = c.login("carol", "wrong")
                assert (r.kind, r.code) == ("NO", "AUTHENTICATIONFAILED"), r
            r = c.login("carol", "carolpw")
            assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r
    with ImapConn.open(srv.imap_port, source="127.0.0.20") as c:
        c.greeting()
        start = time.monotonic()
        c.login_ok("carol", "carolpw")
        # Nine failures for the name: slowed by a few failure delays, no more.
        assert time.monotonic() - start < 3
        # From an address that logged in, the name is not slowed at all.
    with ImapConn.open(srv.imap_port, source="127.0.0.20") as c:
        c.greeting()
        c.login_ok("carol", "carolpw")


def test_user_unlock_lets_a_refused_address_try_again(throttle_user_server):
    srv = throttle_user_server
    with ImapConn.open(srv.imap_port, source="127.0.0.30") as c:
        c.greeting()
        for _ in range(3):
            assert c.login("dave", "wrong").kind == "NO"
        r = c.login("dave", "davepw")
        assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r
        out = srv.cli("user", "unlock", "dave", check=True)
        assert "dave" in out.stdout
        c.login_ok("dave", "davepw")
    r = srv.cli("user", "unlock", "nosuchuser")
    assert r.returncode != 0 and "nosuchuser" in r.stderr


def test_throttle_per_user_counts_unknown_names(throttle_user_server):
    srv = throttle_user_server
    with srv.connect() as c:
        for _ in range(3):
            r = c.login("ghost", "whatever")
            assert (r.kind, r.code) == ("NO", "AUTHENTICATIONFAILED"), r
        r = c.login("ghost", "whatever")
        assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r
    with srv.connect() as c:
        c.login_ok("bob", "bobpw")


def test_throttle_per_ip(throttle_ip_server):
    srv = throttle_ip_server
    with srv.connect() as c:
        for name in ("u1", "u2", "u3", "u4"):
            r = c.login(name, "whatever")
            assert (r.kind, r.code) == ("NO", "AUTHENTICATIONFAILED"), r
        r = c.login("alice", "alicepw")
        assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r
    with srv.connect() as c:
        r = c.login("bob", "bobpw")
        assert (r.kind, r.code) == ("NO", "UNAVAILABLE"), r


# -- logs never show passwords -------------------------------------------------

SECRET = "Zebra-Secret-4711"
WRONG_SECRET = "Okapi-Wrong-0815"


def test_logs_never_contain_passwords(make_server):
    srv = make_server(
        {"auth": {"failure_delay_ms": 50, "max_failures_per_ip": 1000, "max_failures_per_user": 1000, "window_secs": 300}},
        users={"dave": SECRET},
        env={"RUST_LOG": "trace", "ROOST_LOG": "trace"},
    )
    blobs = [
        plain_blob("dave", SECRET),
        plain_blob("dave", WRONG_SECRET),
        plain_blob("dave", SECRET, authzid="dave"),
    ]
    with srv.connect() as c:
        assert c.login("dave", WRONG_SECRET).kind == "NO"
        assert c.login("dave", SECRET).kind == "OK"
    with srv.connect() as c:
        c.send(b"a LOGIN dave {%d+}\r\n%s\r\n" % (len(SECRET), SECRET.encode()))
        assert c.read_until_tagged("a").kind == "OK"
    with srv.connect() as c:
        c.send(b"a LOGIN {4}\r\n")
        assert c.readline().startswith(b"+")
        c.send(b"dave {%d}\r\n" % len(WRONG_SECRET))
        assert c.readline().startswith(b"+")
        c.send(WRONG_SECRET.encode() + b"\r\n")
        assert c.read_until_tagged("a").kind == "NO"
    for blob in blobs:
        with srv.connect() as c:
            c.cmd(b"AUTHENTICATE PLAIN " + b64(blob))
        with srv.connect(tls=True) as c:
            c.send(b"a AUTHENTICATE PLAIN\r\n")
            assert c.readline() == b"+ \r\n"
            c.send(b64(blob) + b"\r\n")
            c.read_until_tagged("a")
    # A malformed LOGIN that carries the password must not be echoed either.
    with srv.connect() as c:
        assert c.cmd(f'LOGIN dave "{SECRET}" extra').kind == "BAD"
    assert srv.terminate() == 0
    log = srv.stderr_text() + srv.stdout_path.read_text(errors="replace")
    needles = [SECRET, WRONG_SECRET] + [b64(b).decode() for b in blobs]
    # Base64 of the password alone, at each of the three alignments.
    for pw in (SECRET, WRONG_SECRET):
        for pad in ("", "x", "xx"):
            enc = base64.b64encode((pad + pw).encode()).decode()
            needles.append(enc[4:-4])
    for needle in needles:
        assert needle not in log, f"log contains a secret ({needle!r})"
