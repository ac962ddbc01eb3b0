"""Greeting, CAPABILITY in each state and on each port, ID, NOOP, LOGOUT,
and commands given in the wrong state."""

import re

import pytest

from conftest import module_server
from imapwire import capability_data, status

PRE_TLS = {"IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "LITERAL+", "ID"}
PRE_TLS_NEVER = {"IMAP4REV1", "STARTTLS", "LOGINDISABLED", "SASL-IR", "LITERAL+", "ID"}
TLS = {"IMAP4REV1", "AUTH=PLAIN", "SASL-IR", "LITERAL+", "ID"}
AUTHED = {"IMAP4REV1", "SASL-IR", "LITERAL+", "ID", "UIDPLUS", "IDLE", "NAMESPACE", "UNSELECT", "CHILDREN"}
AUTHED |= {"COMPRESS=DEFLATE"}
AUTHED |= {"ENABLE", "CONDSTORE", "QRESYNC", "MOVE"}
AUTHED |= {"SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS"}
AUTHED |= {"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "STATUS=SIZE", "APPENDLIMIT=52428800"}

never_server = module_server("never_server", {"imap": {"plaintext_auth": "never"}})


def test_greeting_plain_port_carries_capabilities(server):
    with server.connect(greet=False) as c:
        st = status(c.readline())
        assert (st.tag, st.kind, st.code) == ("*", "OK", "CAPABILITY")
        assert st.capabilities == PRE_TLS


def test_greeting_tls_port_carries_capabilities(server):
    with server.connect(tls=True, greet=False) as c:
        st = status(c.readline())
        assert (st.tag, st.kind, st.code) == ("*", "OK", "CAPABILITY")
        assert st.capabilities == TLS


def test_capability_command_before_tls(server):
    with server.connect() as c:
        assert c.capability() == PRE_TLS


def test_capability_after_starttls(server):
    with server.connect() as c:
        c.starttls()
        assert c.capability() == TLS


def test_capability_on_tls_port(server):
    with server.connect(tls=True) as c:
        assert c.capability() == TLS


@pytest.mark.parametrize("tls", [False, True], ids=["starttls-port", "tls-port"])
def test_capability_after_login(server, tls):
    with server.connect(tls=tls) as c:
        r = c.login_ok("alice", "alicepw")
        assert r.tagged.code == "CAPABILITY", r
        assert r.tagged.capabilities == AUTHED
        assert c.capability() == AUTHED


def test_capability_after_authenticate(server):
    from imapwire import b64, plain_blob

    with server.connect() as c:
        r = c.cmd(b"AUTHENTICATE PLAIN " + b64(plain_blob("alice", "alicepw")))
        assert r.kind == "OK", r
        assert r.tagged.code == "CAPABILITY", r
        assert r.tagged.capabilities == AUTHED
        assert c.capability() == AUTHED


def test_plaintext_never_greeting_and_capability(never_server):
    with never_server.connect(greet=False) as c:
        st = status(c.readline())
        assert st.code == "CAPABILITY" and st.capabilities == PRE_TLS_NEVER
        assert c.capability() == PRE_TLS_NEVER
        c.starttls()
        assert c.capability() == TLS
    with never_server.connect(tls=True, greet=False) as c:
        st = status(c.readline())
        assert st.code == "CAPABILITY" and st.capabilities == TLS


def test_capability_response_format(server):
    with server.connect() as c:
        c.send(b"c1 CAPABILITY\r\n")
        lines = [c.readline(), c.readline()]
        assert lines[0].startswith(b"* CAPABILITY ")
        capability_data(lines[0])
        st = status(lines[1])
        assert (st.tag, st.kind) == ("c1", "OK")


def test_noop(server):
    with server.connect() as c:
        r = c.cmd("NOOP")
        assert r.kind == "OK" and not r.others, r
        c.login_ok("alice", "alicepw")
        r = c.cmd("NOOP")
        assert r.kind == "OK" and not r.others, r


def test_command_names_are_case_insensitive(server):
    with server.connect() as c:
        assert c.cmd("noop").kind == "OK"
        assert c.cmd("Capability").kind == "OK"


@pytest.mark.parametrize("login", [False, True], ids=["unauthenticated", "authenticated"])
def test_logout(server, login):
    with server.connect() as c:
        if login:
            c.login_ok("alice", "alicepw")
        c.send(b"z LOGOUT\r\n")
        lines = c.expect_closed()
        assert len(lines) == 2, lines
        bye, ok = status(lines[0]), status(lines[1])
        assert (bye.tag, bye.kind) == ("*", "BYE"), lines
        assert (ok.tag, ok.kind) == ("z", "OK"), lines


def test_logout_over_tls(server):
    with server.connect(tls=True) as c:
        c.send(b"z LOGOUT\r\n")
        lines = c.expect_closed()
        assert [status(l).kind for l in lines] == ["BYE", "OK"], lines


ID_NAME_ROOST = re.compile(rb'"name"\s+"Roost"', re.IGNORECASE)


@pytest.mark.parametrize("login", [False, True], ids=["unauthenticated", "authenticated"])
def test_id(server, login):
    with server.connect() as c:
        if login:
            c.login_ok("alice", "alicepw")
        r = c.cmd('ID ("name" "test" "version" "1.0")')
        assert r.kind == "OK", r
        ids = [l for l in r.untagged if l.upper().startswith(b"* ID ")]
        assert len(ids) == 1, r
        assert ID_NAME_ROOST.search(ids[0]), ids[0]


def test_id_nil(server):
    with server.connect() as c:
        r = c.cmd("ID NIL")
        assert r.kind == "OK", r
        ids = [l for l in r.untagged if l.upper().startswith(b"* ID ")]
        assert len(ids) == 1, r
        assert ID_NAME_ROOST.search(ids[0]), ids[0]


def test_id_malformed_is_bad(server):
    with server.connect() as c:
        assert c.cmd('ID ("name")').kind == "BAD"
        assert c.cmd("ID").kind == "BAD"
        assert c.cmd('ID ("name" "x"').kind == "BAD"
        c.noop_ok()


@pytest.mark.parametrize(
    "command",
    ["SELECT INBOX", "EXAMINE INBOX", "LIST \"\" \"*\"", "FETCH 1 (FLAGS)", "STATUS INBOX (MESSAGES)",
     "CREATE foo", "CLOSE", "EXPUNGE", "SEARCH ALL", "UID FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)"],
)
def test_commands_before_login_are_bad(server, command):
    with server.connect() as c:
        r = c.cmd(command)
        assert r.kind == "BAD", r
        c.noop_ok()


@pytest.mark.parametrize("command", ["FETCH 1 (FLAGS)", "CLOSE", "EXPUNGE", "SEARCH ALL", "UID FETCH 1 FLAGS",
                                     "STORE 1 +FLAGS (\\Seen)", "COPY 1 foo"])
def test_selected_state_commands_when_authenticated_are_bad(server, command):
    with server.login() as c:
        r = c.cmd(command)
        assert r.kind == "BAD", r
        c.noop_ok()


def test_login_again_after_login_is_bad(server):
    with server.login() as c:
        assert c.cmd('LOGIN "alice" "alicepw"').kind == "BAD"
        from imapwire import b64, plain_blob

        assert c.cmd(b"AUTHENTICATE PLAIN " + b64(plain_blob("alice", "alicepw"))).kind == "BAD"
        c.noop_ok()
