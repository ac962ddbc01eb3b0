"""What the log says about a session, against the real binary: the login
line inside its connection's span, one DEBUG line per command (none at
INFO) with its duration in plain milliseconds from the command's first
byte, in text and in JSON."""

from __future__ import annotations

import imaplib
import json
import re
import threading
import time

import pytest

from conftest import HOST, Server, launch

DURATION = re.compile(r"^\d+\.\d{3}$")


def session(srv) -> None:
    c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
    c.login("alice", "alicepw")
    c.append("INBOX", None, None, b"Subject: log\r\n\r\nbody\r\n")
    c.select("INBOX")
    c.fetch("1:*", "(FLAGS BODY.PEEK[])")
    c.logout()


def wait_for(srv, needle: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = srv.stderr_text()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_text_log_at_debug(tmp_path):
    srv = launch(tmp_path, {"log": {"level": "info,roost=debug"}}, users={"alice": "alicepw"})
    try:
        session(srv)
        text = wait_for(srv, "command=LOGOUT")
    finally:
        srv.stop()
    lines = text.splitlines()
    (login,) = [l for l in lines if re.search(r"\blogin\b.*user=alice", l) and "INFO" in l]
    # Inside the connection's span: its id and peer are on the line.
    assert re.search(r"conn\{id=\d+ peer=127\.0\.0\.1:\d+", login), login
    commands = [l for l in lines if re.search(r"\bcommand\b.*\bcommand=", l)]
    by_name = {}
    for l in commands:
        assert " DEBUG " in l, l
        assert re.search(r"conn\{id=\d+", l), l
        name = re.search(r'command="?([A-Z ]+?)"? outcome', l).group(1)
        by_name[name] = re.search(r"duration_ms=(\S+)", l).group(1)
    for name in ("LOGIN", "APPEND", "SELECT", "FETCH", "LOGOUT"):
        assert name in by_name, (name, commands)
        assert DURATION.match(by_name[name]), (name, by_name[name])
    # Measured from the first byte to the reply: never zero, even for
    # commands answered without waiting on anything.
    for name in ("SELECT", "FETCH"):
        assert float(by_name[name]) > 0, (name, commands)


def test_no_command_lines_at_info(tmp_path):
    srv = launch(tmp_path, None, users={"alice": "alicepw"})
    try:
        session(srv)
        text = wait_for(srv, "NEVER", timeout=2.0)  # time for any line to appear
    finally:
        srv.stop()
    assert re.search(r"\blogin\b.*user=alice", text), text
    assert not re.search(r"command=\"?SELECT", text), text


def test_json_log(tmp_path):
    srv = launch(tmp_path, {"log": {"level": "info,roost=debug", "format": "json"}}, users={"alice": "alicepw"})
    try:
        session(srv)
        text = wait_for(srv, '"LOGOUT"')
    finally:
        srv.stop()
    records = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
    assert records, text
    logins = [r for r in records if r.get("fields", {}).get("message") == "login"]
    assert logins and all("conn" in (s.get("name") for s in r.get("spans", [])) or r.get("span", {}).get("name") == "conn" for r in logins), logins
    cmds = [r["fields"] for r in records if r.get("fields", {}).get("message") == "command"]
    names = {f["command"] for f in cmds}
    assert {"LOGIN", "SELECT", "FETCH", "LOGOUT"} <= names, cmds
    for f in cmds:
        assert isinstance(f["duration_ms"], str) and DURATION.match(f["duration_ms"]), f


JOURNAL_SOCKET = "/run/systemd/journal/socket"


def journal_records(data: bytes) -> dict[str, str]:
    """One datagram of journald's native protocol: `KEY=value\\n`, or
    `KEY\\n` + 64-bit little-endian length + value + `\\n`."""
    out, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            n = int.from_bytes(data[nl + 1:nl + 9], "little")
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        out.setdefault(k.decode(), v.decode("utf-8", "replace"))
    return out


def test_under_systemd_events_go_to_the_journal_with_fields(tmp_path):
    import os
    import socket as so

    if os.path.exists(JOURNAL_SOCKET):
        pytest.skip("a journal runs on this host; its socket is not the test's to take")
    if os.geteuid() != 0:
        pytest.skip("standing in for journald needs root (its socket is under /run)")
    made_dir = not os.path.isdir(os.path.dirname(JOURNAL_SOCKET))
    os.makedirs(os.path.dirname(JOURNAL_SOCKET), exist_ok=True)
    journal = so.socket(so.AF_UNIX, so.SOCK_DGRAM)
    journal.bind(JOURNAL_SOCKET)
    journal.settimeout(0.2)
    records: list[dict[str, str]] = []
    done = threading.Event()

    def read_journal():
        # As journald does, at once: a full socket would block the server.
        while not done.is_set():
            try:
                data = journal.recv(1 << 20)
            except OSError:
                continue
            if data:
                records.append(journal_records(data))

    reader = threading.Thread(target=read_journal, daemon=True)
    reader.start()
    try:
        srv = Server(tmp_path, {"log": {"level": "info,roost=debug"}}, {})
        srv.stderr_path.touch()
        st = os.stat(srv.stderr_path)
        # As systemd says it: stderr is the journal's stream.
        srv.env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        srv.add_user("alice", "alicepw")
        srv.start()
        try:
            session(srv)
            deadline = time.monotonic() + 10
            while not any(r.get("F_COMMAND") == "LOGOUT" for r in records) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            srv.stop()
        # Nothing went to stderr as text meanwhile.
        assert "login" not in srv.stderr_text(), srv.stderr_text()
    finally:
        done.set()
        reader.join(timeout=5)
        journal.close()
        os.unlink(JOURNAL_SOCKET)
        if made_dir:
            os.rmdir(os.path.dirname(JOURNAL_SOCKET))
    logins = [r for r in records if r.get("MESSAGE") == "login"]
    assert logins, records
    login = logins[0]
    assert login["F_USER"] == "alice" and login["PRIORITY"] == "5", login
    assert login.get("SPAN_NAME") == "conn", login
    commands = {r["F_COMMAND"]: r for r in records if r.get("MESSAGE") == "command"}
    for name in ("LOGIN", "SELECT", "FETCH", "LOGOUT"):
        assert name in commands, records
        assert DURATION.match(commands[name]["F_DURATION_MS"]), commands[name]
        assert commands[name]["PRIORITY"] == "6", commands[name]
