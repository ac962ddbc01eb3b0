"""Real IMAP clients against Roost: mbsync (isync) syncing a 1,000-message
INBOX and a subfolder both ways with a local Maildir, and curl fetching a
message by UID. Both run on loopback, bounded by `timeout`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import imapresp as R
from conftest import new_account

MBSYNC_TIMEOUT = 120
CURL_TIMEOUT = 30
INBOX_COUNT = 1000
SUB_COUNT = 40


def message(folder: str, n: int) -> bytes:
    return (
        b"From: Sender %d <sender%d@example.org>\r\n"
        b"To: alice@example.net\r\n"
        b"Subject: %s message %d\r\n"
        b"Date: Tue, 1 Oct 2024 12:00:00 +0000\r\n"
        b"Message-ID: <%s-%d@roost.test>\r\n"
        b"\r\n"
        b"Body of %s message %d.\r\n" % (n, n, folder.encode(), n, folder.encode(), n, folder.encode(), n)
    )


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed (scripts/test.sh installs it)", pytrace=False)
    return exe


# -- Maildir ------------------------------------------------------------------


def maildir_messages(path: Path) -> dict[str, tuple[Path, set[str]]]:
    """{Message-ID: (file, maildir flags)} of a Maildir folder."""
    out = {}
    for sub in ("cur", "new"):
        d = path / sub
        if not d.is_dir():
            continue
        for f in d.iterdir():
            data = f.read_bytes()
            m = re.search(rb"(?mi)^Message-ID: *(<[^>]+>)", data)
            assert m, f"no Message-ID in {f}"
            info = f.name.split(":2,", 1)
            flags = set(info[1]) if len(info) == 2 else set()
            mid = m.group(1).decode()
            assert mid not in out, f"{mid} twice in {path}"
            out[mid] = (f, flags)
    return out


def set_maildir_flags(f: Path, flags: str) -> Path:
    base = f.name.split(":2,", 1)[0]
    new = f.parent.parent / "cur" / f"{base}:2,{''.join(sorted(flags))}"
    f.rename(new)
    return new


def deliver_local(folder: Path, data: bytes, n: int) -> None:
    name = f"{int(time.time())}.roosttest{n}_{os.getpid()}.localhost"
    tmp = folder / "tmp" / name
    tmp.write_bytes(data)
    tmp.rename(folder / "new" / name)


# -- server side --------------------------------------------------------------

_IMAP_TO_MAILDIR = {"\\Seen": "S", "\\Flagged": "F", "\\Answered": "R", "\\Draft": "D"}


def server_messages(c, box: str) -> dict[str, set[str]]:
    """{Message-ID: Maildir-style flags} of a server mailbox."""
    r = R.ok(c, f"EXAMINE {R.quote(box)}")
    out = {}
    if r.numbers("EXISTS") == [0]:
        return out
    r = R.ok(c, "FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", timeout=60)
    for seq, f in r.fetches().items():
        m = re.search(rb"(?i)Message-ID: *(<[^>]+>)", f["BODY[HEADER.FIELDS (MESSAGE-ID)]"])
        assert m, (seq, f)
        flags = {_IMAP_TO_MAILDIR[x] for x in f["FLAGS"] if x in _IMAP_TO_MAILDIR}
        if "\\Deleted" in f["FLAGS"]:
            flags.add("T")
        out[m.group(1).decode()] = flags
    return out


def local_flags(path: Path) -> dict[str, set[str]]:
    return {mid: flags for mid, (_, flags) in maildir_messages(path).items()}


# -- mbsync -------------------------------------------------------------------


def mbsync_config(work: Path, port: int, user: str, password: str) -> Path:
    mail = work / "mail"
    mail.mkdir(exist_ok=True)
    cfg = work / "mbsyncrc"
    cfg.write_text(
        f"""IMAPAccount roost
Host 127.0.0.1
Port {port}
User {user}
Pass "{password}"
SSLType None
AuthMechs LOGIN
Timeout 30

IMAPStore roost-far
Account roost

MaildirStore roost-near
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel roost
Far :roost-far:
Near :roost-near:
Patterns *
Create Both
Expunge Both
SyncState *
"""
    )
    return cfg


def mbsync(cfg: Path, work: Path) -> subprocess.CompletedProcess:
    exe = tool("mbsync")
    p = subprocess.run(
        ["timeout", "-k", "5", str(MBSYNC_TIMEOUT), exe, "-c", str(cfg), "-a"],
        capture_output=True,
        text=True,
        timeout=MBSYNC_TIMEOUT + 15,
        env={**os.environ, "HOME": str(work)},
    )
    assert p.returncode == 0, f"mbsync exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


@pytest.mark.timeout(600)
def test_mbsync_two_way_sync(server, tmp_path):
    acct = new_account(server, "sync")
    try:
        _mbsync_two_way_sync(acct, tmp_path)
    finally:
        acct.close()


def _mbsync_two_way_sync(acct, work: Path) -> None:
    c = acct.login()
    R.ok(c, "CREATE Sub")
    # Every third message \Seen, every tenth \Flagged.
    inbox = [message("inbox", i) for i in range(INBOX_COUNT)]
    for flags in ("\\Seen", "\\Flagged", None):
        pick = [
            m
            for i, m in enumerate(inbox)
            if (flags == "\\Seen" and i % 3 == 0)
            or (flags == "\\Flagged" and i % 3 and i % 10 == 0)
            or (flags is None and i % 3 and i % 10)
        ]
        R.append_many(c, "INBOX", pick, flags=flags)
    R.append_many(c, "Sub", [message("sub", i) for i in range(SUB_COUNT)])
    want_inbox = server_messages(c, "INBOX")
    assert len(want_inbox) == INBOX_COUNT
    assert sum("S" in f for f in want_inbox.values()) == len(range(0, INBOX_COUNT, 3))

    cfg = mbsync_config(work, acct.server.imap_port, acct.name, acct.password)
    mail = work / "mail"

    # 1. First sync: everything comes down, flags included.
    t0 = time.monotonic()
    mbsync(cfg, work)
    first = time.monotonic() - t0
    assert local_flags(mail / "INBOX") == want_inbox
    assert local_flags(mail / "Sub") == server_messages(c, "Sub")
    assert len(local_flags(mail / "Sub")) == SUB_COUNT
    # A new account's special-use mailboxes come down too, empty.
    for box in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
        assert local_flags(mail / box) == {}, box

    # 2. Local changes go up: new messages, a flag change, a deletion.
    for i in range(3):
        deliver_local(mail / "INBOX", message("local", i), i)
    deliver_local(mail / "Sub", message("localsub", 0), 100)
    local = maildir_messages(mail / "INBOX")
    flag_mid, gone_mid = "<inbox-1@roost.test>", "<inbox-2@roost.test>"
    f, flags = local[flag_mid]
    set_maildir_flags(f, "".join(flags | {"F", "R"}))
    local[gone_mid][0].unlink()
    mbsync(cfg, work)
    got = server_messages(c, "INBOX")
    assert len(got) == INBOX_COUNT + 3 - 1, len(got)
    assert gone_mid not in got
    assert {f"<local-{i}@roost.test>" for i in range(3)} <= set(got)
    assert got[flag_mid] == {"F", "R"}, got[flag_mid]
    assert "<localsub-0@roost.test>" in server_messages(c, "Sub")
    assert local_flags(mail / "INBOX") == got

    # 3. Server changes come down: flags set and cleared, an expunge, a
    #    new message, in INBOX and Sub.
    R.ok(c, "SELECT INBOX")
    uid_of = {}
    r = R.ok(c, "FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", timeout=60)
    for f in r.fetches().values():
        mid = re.search(rb"<[^>]+>", f["BODY[HEADER.FIELDS (MESSAGE-ID)]"]).group(0).decode()
        uid_of[mid] = int(f["UID"])
    R.ok(c, f"UID STORE {uid_of['<inbox-4@roost.test>']} +FLAGS.SILENT (\\Seen \\Answered)")
    R.ok(c, f"UID STORE {uid_of['<inbox-0@roost.test>']} -FLAGS.SILENT (\\Seen)")
    R.ok(c, f"UID STORE {uid_of['<inbox-5@roost.test>']} +FLAGS.SILENT (\\Deleted)")
    R.ok(c, f"UID EXPUNGE {uid_of['<inbox-5@roost.test>']}")
    assert R.append(c, "INBOX", message("server", 0), flags="\\Flagged").kind == "OK"
    R.ok(c, "SELECT Sub")
    R.ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(c, "EXPUNGE")
    R.ok(c, "CLOSE")
    mbsync(cfg, work)
    got = server_messages(c, "INBOX")
    here = local_flags(mail / "INBOX")
    assert here == got
    assert len(here) == INBOX_COUNT + 3 - 1 - 1 + 1
    assert here["<inbox-4@roost.test>"] == {"S", "R"}
    assert here["<inbox-0@roost.test>"] == set()
    assert "<inbox-5@roost.test>" not in here
    assert here["<server-0@roost.test>"] == {"F"}
    assert local_flags(mail / "Sub") == server_messages(c, "Sub")
    assert len(local_flags(mail / "Sub")) == SUB_COUNT + 1 - 1

    # 4. Nothing left to do: a further sync changes nothing on either side.
    mbsync(cfg, work)
    assert local_flags(mail / "INBOX") == got
    assert server_messages(c, "INBOX") == got
    assert first < MBSYNC_TIMEOUT


# -- curl ---------------------------------------------------------------------


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("curl"), "-s", "-S", "--max-time", "20", *args],
        capture_output=True,
        timeout=CURL_TIMEOUT,
    )


@pytest.fixture(scope="module")
def curl_account(server):
    acct = new_account(server, "curl")
    c = acct.login()
    msgs = [message("curl", i) for i in range(3)]
    uids = R.append_many(c, "INBOX", msgs)
    yield acct, msgs, uids
    acct.close()


def test_curl_fetches_message_by_uid(server, curl_account):
    acct, msgs, uids = curl_account
    url = f"imap://127.0.0.1:{server.imap_port}/INBOX;UID={uids[1]}"
    p = curl("--url", url, "-u", f"{acct.name}:{acct.password}")
    assert p.returncode == 0, p.stderr
    assert p.stdout == msgs[1]


def test_curl_fetches_a_section(server, curl_account):
    acct, msgs, uids = curl_account
    url = f"imap://127.0.0.1:{server.imap_port}/INBOX;UID={uids[2]}/;SECTION=TEXT"
    p = curl("--url", url, "-u", f"{acct.name}:{acct.password}")
    assert p.returncode == 0, p.stderr
    assert p.stdout == msgs[2].split(b"\r\n\r\n", 1)[1]


def test_curl_lists_mailboxes(server, curl_account):
    acct, _, _ = curl_account
    p = curl("--url", f"imap://127.0.0.1:{server.imap_port}/", "-u", f"{acct.name}:{acct.password}")
    assert p.returncode == 0, p.stderr
    # A new account's mailboxes, special uses shown (RFC 6154 §2).
    assert p.stdout == (
        b'* LIST (\\Archive \\HasNoChildren) "/" Archive\r\n'
        b'* LIST (\\Drafts \\HasNoChildren) "/" Drafts\r\n'
        b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
        b'* LIST (\\Junk \\HasNoChildren) "/" Junk\r\n'
        b'* LIST (\\Sent \\HasNoChildren) "/" Sent\r\n'
        b'* LIST (\\Trash \\HasNoChildren) "/" Trash\r\n'
    ), p.stdout


def test_curl_missing_uid_fails(server, curl_account):
    acct, _, uids = curl_account
    url = f"imap://127.0.0.1:{server.imap_port}/INBOX;UID={uids[-1] + 100}"
    p = curl("--url", url, "-u", f"{acct.name}:{acct.password}")
    assert p.returncode != 0, p
    assert p.stdout == b""
