"""Autologout of idle unauthenticated sessions, and shutdown on SIGTERM."""

import signal
import socket
import subprocess
import time

import pytest

from conftest import HOST, module_server
from imapwire import status

autologout_server = module_server("autologout_server", {"imap": {"timeout_unauthenticated_secs": 2}})


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_idle_unauthenticated_connection_is_logged_out(autologout_server, tls):
    with autologout_server.connect(tls=tls) as c:
        t0 = time.monotonic()
        lines = c.expect_closed(timeout=8)
        elapsed = time.monotonic() - t0
        assert lines, "closed without BYE"
        st = status(lines[0])
        assert (st.tag, st.kind) == ("*", "BYE"), lines
        assert 1.5 <= elapsed <= 6, elapsed


def test_unfinished_command_does_not_keep_session_alive(autologout_server):
    with autologout_server.connect() as c:
        c.send(b"a LOGIN alice")  # no CRLF, ever
        t0 = time.monotonic()
        lines = c.expect_closed(timeout=8)
        assert time.monotonic() - t0 <= 6
        assert any(l.startswith(b"* BYE") for l in lines), lines


def test_authenticated_session_is_not_logged_out_early(autologout_server):
    with autologout_server.login() as c:
        time.sleep(4)
        c.noop_ok()


def test_autologout_does_not_touch_other_sessions(autologout_server):
    with autologout_server.login() as busy:
        with autologout_server.connect() as idle:
            lines = idle.expect_closed(timeout=8)
            assert lines and lines[0].startswith(b"* BYE"), lines
        busy.noop_ok()


def test_sigterm_says_bye_and_exits_zero(make_server):
    srv = make_server(None)  # built-in defaults, no config file
    unauth = srv.connect()
    authed = srv.login()
    authed_tls = srv.login(tls=True)
    try:
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        for c in (unauth, authed, authed_tls):
            lines = c.expect_closed(timeout=10)
            assert lines and status(lines[-1]).kind == "BYE", lines
            assert status(lines[-1]).tag == "*"
        try:
            code = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("server still running 10 s after SIGTERM")
        assert code == 0, f"exit status {code}"
        assert time.monotonic() - t0 < 10
        # Nothing listens any more.
        for port in (srv.imap_port, srv.imaps_port):
            with pytest.raises(OSError):
                socket.create_connection((HOST, port), timeout=2).close()
    finally:
        for c in (unauth, authed, authed_tls):
            c.close()


def test_sigterm_while_a_command_is_half_sent(make_server):
    srv = make_server(None)
    c = srv.connect()
    try:
        c.send(b"a LOGIN {5}\r\n")
        assert c.readline().startswith(b"+")
        srv.proc.send_signal(signal.SIGTERM)
        lines = c.expect_closed(timeout=10)
        assert any(l.startswith(b"* BYE") for l in lines), lines
        assert srv.proc.wait(10) == 0
    finally:
        c.close()


def test_sigterm_with_no_clients(make_server):
    srv = make_server(None)
    assert srv.terminate() == 0


def test_restart_keeps_users(make_server):
    srv = make_server(None)
    assert srv.terminate() == 0
    srv.start()
    with srv.login("alice", "alicepw") as c:
        c.noop_ok()
