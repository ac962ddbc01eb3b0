"""The server as a systemd Type=notify service: READY=1 once it can serve,
STATUS lines, WATCHDOG=1 only while the store answers, STOPPING=1 at the end.

The test plays systemd's part: a unix datagram socket named by NOTIFY_SOCKET,
and WATCHDOG_USEC in the environment."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOST, Server, USERS, roost_bin

WATCHDOG_USEC = 400_000  # pings every 200 ms


class Notify:
    """The receiving end of sd_notify(3)."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[tuple[float, dict[str, str]]] = []

    def _take(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.messages.append((time.monotonic(), fields))
        return fields

    def wait_for(self, key: str, value: str | None = None, timeout: float = 20.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            m = self._take(left)
            if m is not None and key in m and (value is None or m[key] == value):
                return m
        raise AssertionError(f"no {key}={value} within {timeout}s; got {self.messages}")

    def collect(self, seconds: float) -> list[dict[str, str]]:
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            m = self._take(left)
            if m is not None:
                got.append(m)
        return got

    def close(self):
        self.sock.close()


@pytest.fixture
def notified(tmp_path):
    """A server started with NOTIFY_SOCKET and WATCHDOG_USEC, not yet waited for."""
    notify = Notify(tmp_path / "notify.sock")
    srv = Server(
        tmp_path / "srv",
        env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)},
    )
    srv.add_user("alice", USERS["alice"])
    yield srv, notify
    srv.stop()
    notify.close()


def test_ready_only_once_both_ports_answer(notified):
    srv, notify = notified
    srv.spawn()
    ready = notify.wait_for("READY", "1")
    # Nothing waited for the ports: READY=1 alone says they are bound.
    for port in (srv.imap_port, srv.imaps_port):
        socket.create_connection((HOST, port), timeout=2).close()
    assert "users" in ready.get("STATUS", ""), ready
    c = srv.login("alice")
    c.close()


def test_watchdog_pings_and_status_while_healthy(notified):
    srv, notify = notified
    srv.spawn()
    notify.wait_for("READY", "1")
    c = srv.login("alice")
    got = notify.collect(1.5)
    pings = [m for m in got if m.get("WATCHDOG") == "1"]
    assert len(pings) >= 4, got
    assert any(m.get("STATUS") == "1 connections, 1 users" for m in got), got
    c.close()


def test_stopping_on_sigterm(notified):
    srv, notify = notified
    srv.spawn()
    notify.wait_for("READY", "1")
    srv.proc.send_signal(signal.SIGTERM)
    notify.wait_for("STOPPING", "1", timeout=10)
    assert srv.terminate() == 0


def hold_write_lock_bin() -> str:
    path = Path(roost_bin()).parent / "examples" / "hold_write_lock"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found: `cargo build --examples` (cargo test builds it)", pytrace=False)
    return str(path)


def test_watchdog_stops_while_another_process_holds_the_write_lock(notified):
    """A real wedge: another process takes LMDB's write lock (as a long
    administration command would) and keeps it. Reads still work, but the
    writer cannot begin a transaction, so the pings must stop; they come
    back once the lock is released."""
    srv, notify = notified
    srv.spawn()
    notify.wait_for("READY", "1")
    notify.wait_for("WATCHDOG", "1", timeout=5)

    holder = subprocess.Popen(
        [hold_write_lock_bin(), str(srv.data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        # One ping may have been on its way when the lock was taken.
        notify.collect(2 * WATCHDOG_USEC / 1e6)
        wedged = notify.collect(2.0)
        assert not [m for m in wedged if m.get("WATCHDOG") == "1"], wedged
        assert any(m.get("STATUS", "").startswith("unhealthy") for m in wedged), wedged
        assert srv.running()
        assert "health check failed" in srv.stderr_text()
    finally:
        holder.stdin.close()
        holder.wait(10)
    notify.wait_for("WATCHDOG", "1", timeout=5)
    assert "health check passes again" in srv.stderr_text()
    srv.login("alice").close()
