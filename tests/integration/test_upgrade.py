"""Upgrades, against the real binary: a store written by every released
store format (tests/fixtures/store-vN, made by the roost of that format)
is opened by this roost, migrated once to the current format, and still
holds the same users (their passwords log in), mailboxes, subscriptions,
messages (bytes, sizes), flags, keywords, UIDs, UIDNEXT and UIDVALIDITY.
A new format adds a row to FIXTURES (see tests/fixtures/README.md)."""

from __future__ import annotations

import gzip
import importlib.util
import imaplib
import json
import re
import shutil

import pytest

from conftest import HOST, REPO, Server

FIXTURES_DIR = REPO / "tests" / "fixtures"

# What a fixture holds is read back the way its generator recorded it.
_spec = importlib.util.spec_from_file_location("make_store_fixture", FIXTURES_DIR / "make_store_fixture.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)
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


def check_holds(srv: Server, expected: dict) -> None:
    for user, want in expected["users"].items():
        c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
        c.login(user, want["password"])
        every = fixture.listed(c.list('""', "*")[1])
        assert [n for n, _ in every] == want["mailboxes"], (user, every)
        assert [n for n, _ in fixture.listed(c.lsub('""', "*")[1])] == want["subscribed"], user
        got = {n: fixture.mailbox_state(c, n) for n, attrs in every if "\\Noselect" not in attrs}
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
