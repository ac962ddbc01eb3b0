"""What the log says about a session, against the real binary: the login
line inside its connection's span, one DEBUG line per command (none at
INFO) with its duration in plain milliseconds from the command's first
byte, in text and in JSON."""

from __future__ import annotations

import imaplib
import json
import re
import time

from conftest import HOST, launch

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
