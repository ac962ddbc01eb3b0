"""Socket activation (sd_listen_fds(3)): systemd binds the IMAP ports and
hands them over, named imap and imaps, so the service needs no capability.
systemd's own systemd-socket-activate plays the socket units here."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import HOST, USERS, Server, free_port
from imapwire import ImapConn


@pytest.fixture
def activated(tmp_path):
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        pytest.fail("systemd-socket-activate not found (Debian package systemd)", pytrace=False)
    srv = Server(tmp_path / "srv")
    srv.add_user("alice", USERS["alice"])
    srv.imap_port, srv.imaps_port = free_port(), free_port()
    while srv.imaps_port == srv.imap_port:
        srv.imaps_port = free_port()
    # The server is told to bind nothing itself: every listener it has
    # comes from the sockets it is handed.
    args = [
        tool,
        "-l", f"{HOST}:{srv.imap_port}",
        "-l", f"{HOST}:{srv.imaps_port}",
        "--fdname=imap:imaps",
        "-E", "RUST_LOG=info",
        srv.bin, "serve", "--data-dir", str(srv.data_dir), "--imap", "", "--imaps", "",
    ]
    err = open(srv.stderr_path, "ab")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    srv.proc = proc
    yield srv
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    err.close()


def connect_when_listening(port: int, tls: bool) -> ImapConn:
    deadline = time.monotonic() + 20
    while True:
        try:
            return ImapConn.open(port, tls=tls)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_serves_on_the_sockets_systemd_passes(activated):
    srv = activated
    # The first connection makes the tool start roost; it must be answered.
    plain = connect_when_listening(srv.imap_port, tls=False)
    plain.greeting()
    assert "STARTTLS" in plain.capability()
    plain.login_ok("alice", USERS["alice"])
    tls = connect_when_listening(srv.imaps_port, tls=True)
    tls.greeting()
    tls.login_ok("alice", USERS["alice"])
    plain.close()
    tls.close()
    log = srv.stderr_text()
    assert 'socket from systemd' in log and 'name="imap"' in log and 'name="imaps"' in log, log
