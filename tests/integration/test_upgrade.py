"""Upgrades, against the real binary: a store written by every released
store format (tests/fixtures/store-vN, made by the roost of that format)
is opened by this roost, migrated once to the current format, and still
holds the same users (their passwords log in), mailboxes, subscriptions,
messages (bytes, sizes), flags, keywords, UIDs, UIDNEXT and UIDVALIDITY.
A new format adds a row to FIXTURES (see tests/fixtures/README.md)."""

from __future__ import annotations

import gzip
import imaplib
import json
import re
import shutil

import pytest

from conftest import HOST, REPO, Server

FIXTURES_DIR = REPO / "tests" / "fixtures"
CURRENT_FORMAT = 3  # store::FORMAT_VERSION

# (fixture directory, the format version its store was written in)
FIXTURES = [
    ("store-v1", 1),
    ("store-v2", 2),
    ("store-v3", 3),
]


def unpack(name: str, data_dir) -> dict:
    """The fixture's store put into data_dir; returns what it should hold."""
    store = data_dir / "store"
    store.mkdir(parents=True)
    with gzip.open(FIXTURES_DIR / name / "data.mdb.gz", "rb") as z, open(store / "data.mdb", "wb") as f:
        shutil.copyfileobj(z, f)
    store.chmod(0o700)
    return json.loads((FIXTURES_DIR / name / "expected.json").read_text())


def listed(lines) -> list[tuple[str, str]]:
    out = []
    for line in lines:
        if line is None:
            continue
        m = re.match(rb'\(([^)]*)\) (?:"[^"]*"|NIL) (.*)$', line)
        name = m.group(2).decode()
        out.append((name[1:-1] if name.startswith('"') else name, m.group(1).decode()))
    return sorted(out)


def state(c: imaplib.IMAP4, name: str) -> dict:
    import hashlib

    quoted = f'"{name}"'
    typ, (status,) = c.status(quoted, "(MESSAGES UIDNEXT UIDVALIDITY)")
    assert typ == "OK", status
    nums = dict(re.findall(rb"(MESSAGES|UIDNEXT|UIDVALIDITY) (\d+)", status))
    assert c.select(quoted, readonly=True)[0] == "OK"
    messages = []
    if int(nums[b"MESSAGES"]):
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, body = item
            flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode().split()
            messages.append({
                "uid": int(re.search(rb"UID (\d+)", head).group(1)),
                "flags": sorted(f for f in flags if f != "\\Recent"),
                "size": int(re.search(rb"RFC822\.SIZE (\d+)", head).group(1)),
                "sha256": hashlib.sha256(body).hexdigest(),
            })
    c.close()
    return {
        "uidvalidity": int(nums[b"UIDVALIDITY"]),
        "uidnext": int(nums[b"UIDNEXT"]),
        "messages": sorted(messages, key=lambda m: m["uid"]),
    }


def check_holds(srv: Server, expected: dict) -> None:
    for user, want in expected["users"].items():
        c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
        c.login(user, want["password"])
        every = listed(c.list('""', "*")[1])
        assert [n for n, _ in every] == want["mailboxes"], (user, every)
        assert [n for n, _ in listed(c.lsub('""', "*")[1])] == want["subscribed"], user
        got = {n: state(c, n) for n, attrs in every if "\\Noselect" not in attrs}
        assert got == want["state"], user
        c.logout()
        # A wrong password is still refused: the hash came through as a hash.
        c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
        with pytest.raises(imaplib.IMAP4.error):
            c.login(user, want["password"] + "x")
        c.logout()


@pytest.mark.parametrize("name,version", FIXTURES, ids=[f[0] for f in FIXTURES])
def test_a_store_of_every_released_format_opens_and_is_migrated(tmp_path, name, version):
    srv = Server(tmp_path, {"auth": {"failure_delay_ms": 0}})
    expected = unpack(name, srv.data_dir)
    assert expected["format_version"] == version
    srv.start()
    try:
        check_holds(srv, expected)
        # Quotas (format 2) and administrators (format 3) work on it.
        c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
        c.login("alice", expected["users"]["alice"]["password"])
        typ, data = c._simple_command("GETQUOTAROOT", "INBOX")
        assert typ == "OK", data
        c.logout()
    finally:
        srv.stop()
    log = srv.stderr_text()
    migrated = re.findall(r"migrated the store from=(\d+) to=(\d+)", log)
    if version < CURRENT_FORMAT:
        assert migrated == [(str(version), str(CURRENT_FORMAT))], log
    else:
        assert migrated == [], log
    assert srv.cli("admin", "add", "root", "--password-stdin", input="rootpw").returncode == 0
    assert "root" in srv.cli("admin", "list", check=True).stdout
    # Opened again: already current, nothing migrates, everything is there.
    srv.start()
    try:
        check_holds(srv, expected)
    finally:
        srv.stop()
    assert len(re.findall(r"migrated the store", srv.stderr_text())) == len(migrated), srv.stderr_text()
