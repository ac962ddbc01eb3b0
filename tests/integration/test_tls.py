"""Implicit TLS and STARTTLS (RFC 3501 §6.2.1, RFC 2595, RFC 8314)."""

import imaplib
import ssl
import warnings

import pytest

from conftest import module_server
from imapwire import HOST, ImapConn, client_tls_context, status

never_server = module_server("never_server", {"imap": {"plaintext_auth": "never"}})


def test_tls_port_handshake_and_certificate(server):
    with server.connect(tls=True) as c:
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        cert = c.sock.getpeercert(binary_form=True)
        assert cert, "server presented no certificate"
        c.noop_ok()


def test_tls_port_refuses_old_protocols(server):
    ctx = client_tls_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    import socket

    s = socket.create_connection((HOST, server.imaps_port), timeout=10)
    try:
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            ctx.wrap_socket(s, server_hostname="localhost").recv(1)
    finally:
        s.close()


def test_starttls_then_commands_over_tls(server):
    with server.connect() as c:
        r = c.starttls()
        assert r.tagged.tag and r.kind == "OK"
        assert c.is_tls
        c.noop_ok()
        c.login_ok("alice", "alicepw")
        c.noop_ok()


def test_starttls_discards_pipelined_plaintext(server):
    """Plaintext after STARTTLS in the same packet must never be executed."""
    with server.connect() as c:
        c.send(b"a STARTTLS\r\nb CAPABILITY\r\n")
        line = c.readline()
        st = status(line)
        assert (st.tag, st.kind) == ("a", "OK"), line
        # Nothing else may come in plaintext: no answer to `b`.
        assert not c.pending(0.3), f"plaintext after STARTTLS OK: {c.buf + c.sock.recv(4096)!r}"
        c.sock = client_tls_context().wrap_socket(c.sock, server_hostname="localhost")
        c.send(b"c NOOP\r\n")
        first = c.readline()
        st = status(first) if first[:2] != b"* " else None
        assert st is not None and st.tag == "c", f"first line over TLS is not the answer to c: {first!r}"
        assert st.kind == "OK"
        # And `b` was not run late either.
        assert not c.pending(0.3), f"unexpected data: {c.sock.recv(4096)!r}"


def test_starttls_discards_pipelined_login(server):
    """A LOGIN smuggled after STARTTLS must not authenticate the TLS session."""
    with server.connect() as c:
        c.send(b'a STARTTLS\r\nb LOGIN "alice" "alicepw"\r\n')
        st = status(c.readline())
        assert (st.tag, st.kind) == ("a", "OK")
        assert not c.pending(0.3), f"plaintext after STARTTLS OK: {c.buf + c.sock.recv(4096)!r}"
        c.sock = client_tls_context().wrap_socket(c.sock, server_hostname="localhost")
        r = c.cmd("FETCH 1 (FLAGS)")
        assert r.kind == "BAD", r
        # Still not authenticated: STARTTLS-phase capabilities with AUTH=PLAIN.
        assert "AUTH=PLAIN" in c.capability()


def test_starttls_on_tls_port_is_bad(server):
    with server.connect(tls=True) as c:
        r = c.cmd("STARTTLS")
        assert r.kind == "BAD", r
        c.noop_ok()


def test_starttls_twice_is_bad(server):
    with server.connect() as c:
        c.starttls()
        r = c.cmd("STARTTLS")
        assert r.kind == "BAD", r
        c.noop_ok()


def test_starttls_after_login_is_bad(server):
    with server.login() as c:
        r = c.cmd("STARTTLS")
        assert r.kind == "BAD", r
        c.noop_ok()


def test_starttls_with_arguments_is_bad(server):
    with server.connect() as c:
        r = c.cmd("STARTTLS now")
        assert r.kind == "BAD", r
        c.noop_ok()


def test_garbage_instead_of_handshake_does_not_hurt_others(server):
    with server.login() as other:
        s = ImapConn.open(server.imaps_port)
        s.send(b"a LOGIN alice alicepw\r\n")
        s.expect_closed()
        s.close()
        other.noop_ok()


def test_login_refused_without_tls_when_plaintext_never(never_server):
    with never_server.connect() as c:
        r = c.login("alice", "alicepw")
        assert (r.kind, r.code) == ("NO", "PRIVACYREQUIRED"), r
        r = c.cmd("FETCH 1 (FLAGS)")
        assert r.kind == "BAD", r  # still not authenticated


def test_authenticate_refused_without_tls_when_plaintext_never(never_server):
    from imapwire import b64, plain_blob

    with never_server.connect() as c:
        r = c.cmd(b"AUTHENTICATE PLAIN " + b64(plain_blob("alice", "alicepw")))
        assert r.kind == "NO", r
        assert c.cmd("FETCH 1 (FLAGS)").kind == "BAD"


def test_login_allowed_after_starttls_when_plaintext_never(never_server):
    with never_server.connect() as c:
        c.starttls()
        c.login_ok("alice", "alicepw")
        c.noop_ok()


def test_login_allowed_on_tls_port_when_plaintext_never(never_server):
    with never_server.connect(tls=True) as c:
        c.login_ok("alice", "alicepw")
        c.noop_ok()


def test_imaplib_starttls_login(server):
    m = imaplib.IMAP4(HOST, server.imap_port, timeout=10)
    try:
        typ, _ = m.starttls(ssl_context=client_tls_context())
        assert typ == "OK"
        typ, _ = m.login("alice", "alicepw")
        assert typ == "OK"
        assert m.noop()[0] == "OK"
    finally:
        assert m.logout()[0] == "BYE"


def test_imaplib_ssl_login(server):
    m = imaplib.IMAP4_SSL(HOST, server.imaps_port, ssl_context=client_tls_context(), timeout=10)
    try:
        assert m.login("alice", "alicepw")[0] == "OK"
        assert m.noop()[0] == "OK"
    finally:
        assert m.logout()[0] == "BYE"


def test_imaplib_starttls_with_plaintext_never(never_server):
    m = imaplib.IMAP4(HOST, never_server.imap_port, timeout=10)
    try:
        assert "LOGINDISABLED" in m.capabilities
        m.starttls(ssl_context=client_tls_context())
        assert "LOGINDISABLED" not in m.capabilities
        assert m.login("alice", "alicepw")[0] == "OK"
    finally:
        m.logout()
