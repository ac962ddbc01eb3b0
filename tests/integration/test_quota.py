"""QUOTA (RFC 9208), APPENDLIMIT (RFC 7889) and STATUS=SIZE (RFC 8438) over
real sockets: imapclient's quota calls, raw transcripts, limits changed with
`roost user quota` while the server runs, appenders racing to a limit, and
STATUS SIZE against the sum of RFC822.SIZE."""

from __future__ import annotations

import threading

import pytest
from imapclient import IMAPClient

import imapresp as R
from conftest import module_server, new_account
from imapwire import HOST

QUOTA_CAPS = {"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "STATUS=SIZE", "APPENDLIMIT=52428800"}


def msg(n: int, size: int) -> bytes:
    """A message of exactly `size` bytes."""
    head = b"From: a@example.org\r\nSubject: quota %d\r\n\r\n" % n
    assert size >= len(head) + 2
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


def status(c, box: str, items: str) -> dict:
    r = R.ok(c, f"STATUS {box} ({items})")
    (toks,) = r.data("STATUS")
    return {k: int(v) for k, v in R.items(toks[3]).items()}


def quota_of(c) -> list:
    """The triplets of `GETQUOTA ""`, flat: [name, usage, limit, ...]."""
    r = R.ok(c, 'GETQUOTA ""')
    (toks,) = r.data("QUOTA")
    assert toks[2] == b"", toks
    return toks[3]


def rfc822_sizes(c, box: str) -> list[int]:
    R.ok(c, f"EXAMINE {box}")
    r = R.run(c, "FETCH 1:* RFC822.SIZE")
    R.ok(c, "UNSELECT")
    if r.kind != "OK":  # an empty mailbox has no 1:*
        return []
    return [int(f["RFC822.SIZE"]) for f in r.fetches().values()]


def test_capabilities_after_login_only(server, account):
    with server.connect() as c:
        assert not QUOTA_CAPS & c.capability()
    c = account.login()
    caps = c.capability()
    assert QUOTA_CAPS <= caps
    # Limits are the administrator's: no QUOTASET (RFC 9208 §4.1.3).
    assert "QUOTASET" not in caps


def test_imapclient_quota_root_and_limits_set_while_running(server):
    acct = new_account(server, "q")
    client = IMAPClient(HOST, port=server.imap_port, ssl=False, timeout=30)
    try:
        client.login(acct.name, acct.password)
        roots, quotas = client.get_quota_root("INBOX")
        assert (roots.mailbox, roots.quota_roots) == ("INBOX", [""])
        assert quotas == [], "no limits, no resources listed"

        server.cli("user", "quota", acct.name, "--storage", "1M", "--messages", "10", check=True)
        client.append("INBOX", msg(1, 3000))
        roots, quotas = client.get_quota_root("Not/created/yet")
        assert roots.quota_roots == [""]
        got = {(q.quota_root, q.resource, q.usage, q.limit) for q in quotas}
        assert got == {("", "STORAGE", 3, 1024), ("", "MESSAGE", 1, 10)}
        assert {(q.resource, q.usage, q.limit) for q in client.get_quota("INBOX")} == {
            ("STORAGE", 3, 1024),
            ("MESSAGE", 1, 10),
        }
    finally:
        client.logout()


def test_raw_transcript(account):
    c = account.login()
    R.ok(c, "CREATE Work")
    R.append(c, "INBOX", msg(1, 100))
    account.server.cli("user", "quota", account.name, "--messages", "5", check=True)
    r = R.ok(c, "GETQUOTAROOT Work")
    assert r.untagged == [b'* QUOTAROOT Work ""\r\n', b'* QUOTA "" (MESSAGE 1 5)\r\n']
    assert quota_of(c) == ["MESSAGE", "1", "5"]
    r = R.run(c, 'GETQUOTA "User quota"')
    assert (r.kind, r.code) == ("NO", "NONEXISTENT")
    r = R.run(c, 'SETQUOTA "" (STORAGE 512)')
    assert (r.kind, r.code) == ("NO", "NOPERM")
    assert quota_of(c) == ["MESSAGE", "1", "5"], "SETQUOTA changed nothing"
    assert R.run(c, "GETQUOTA").kind == "BAD"
    assert R.run(c, 'SETQUOTA "" (STORAGE x)').kind == "BAD"


def test_cli_limits_take_effect_without_restart(account):
    srv = account.server
    c = account.login()
    R.ok(c, "CREATE Saved")
    for n in range(3):
        assert R.append(c, "INBOX", msg(n, 200)).kind == "OK"

    srv.cli("user", "quota", account.name, "--messages", "3", check=True)
    r = R.append(c, "INBOX", msg(9, 200))
    assert (r.kind, r.code) == ("NO", "OVERQUOTA"), r
    R.ok(c, "SELECT INBOX")
    r = R.run(c, "COPY 1:2 Saved")
    assert (r.kind, r.code) == ("NO", "OVERQUOTA"), r
    assert status(c, "Saved", "MESSAGES") == {"MESSAGES": 0}, "an over-quota COPY copies nothing"

    srv.cli("user", "quota", account.name, "--messages", "unlimited", "--storage", "1K", check=True)
    assert R.run(c, "COPY 1 Saved").kind == "OK", "800 bytes fit in 1 KiB"
    r = R.run(c, "COPY 2:3 Saved")
    assert (r.kind, r.code) == ("NO", "OVERQUOTA"), "800 + 400 bytes > 1 KiB"
    p = srv.cli("user", "quota", account.name, check=True)
    assert p.stdout == f"{account.name}: storage 1 KiB of 1 KiB, messages 4 of unlimited\n"

    # Expunging frees room, even when over a limit lowered below the usage.
    srv.cli("user", "quota", account.name, "--storage", "0K", check=True)
    R.ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(c, "EXPUNGE")
    srv.cli("user", "quota", account.name, "--storage", "unlimited", check=True)
    assert R.run(c, "COPY 1:2 Saved").kind == "OK"
    p = srv.cli("user", "list", "--quota", check=True)
    assert f"{account.name}: storage 1 KiB of unlimited, messages 5 of unlimited\n" in p.stdout


def test_concurrent_appenders_never_exceed_the_limit(account):
    """8 sessions race to a 64 KiB limit: as many messages as fit are
    stored, no more, and every refusal is NO [OVERQUOTA]."""
    size, per_thread, threads = 1000, 20, 8
    limit_kib = 64
    account.server.cli("user", "quota", account.name, "--storage", f"{limit_kib}K", check=True)
    conns = [account.login() for _ in range(threads)]
    results: list[list[R.Result]] = [[] for _ in range(threads)]

    def appender(i: int) -> None:
        c = conns[i]
        # Pipelined, so the appends of all sessions meet in the writer.
        tags = []
        wire = bytearray()
        for n in range(per_thread):
            tag = c.next_tag()
            tags.append(tag)
            wire += tag.encode() + b" " + R.append_cmd("INBOX", msg(i * 100 + n, size)) + b"\r\n"
        c.send(bytes(wire))
        for tag in tags:
            results[i].append(R.read_until_tagged(c, tag, timeout=60))

    workers = [threading.Thread(target=appender, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    replies = [r for rs in results for r in rs]
    assert len(replies) == threads * per_thread
    stored = sum(r.kind == "OK" for r in replies)
    refused = [r for r in replies if r.kind != "OK"]
    assert all((r.kind, r.code) == ("NO", "OVERQUOTA") for r in refused), refused[:3]
    assert stored == limit_kib * 1024 // size
    c = conns[0]
    st = status(c, "INBOX", "MESSAGES SIZE")
    assert st == {"MESSAGES": stored, "SIZE": stored * size}
    assert st["SIZE"] <= limit_kib * 1024
    assert sum(rfc822_sizes(c, "INBOX")) == st["SIZE"]
    assert quota_of(c) == ["STORAGE", str(-(-stored * size // 1024)), str(limit_kib)]


def test_status_size_follows_appends_copies_expunges(account):
    c = account.login()
    R.ok(c, "CREATE Other")
    sizes = [150, 4097, 999, 12000]
    for n, s in enumerate(sizes):
        R.append(c, "INBOX", msg(n, s), flags="\\Deleted" if n % 2 else None)

    def check(box: str) -> dict:
        st = status(c, box, "MESSAGES SIZE DELETED DELETED-STORAGE")
        assert st["SIZE"] == sum(rfc822_sizes(c, box)), box
        return st

    assert check("INBOX") == {"MESSAGES": 4, "SIZE": sum(sizes), "DELETED": 2, "DELETED-STORAGE": 4097 + 12000}
    R.ok(c, "SELECT INBOX")
    R.ok(c, "COPY 2:3 Other")
    assert check("Other") == {"MESSAGES": 2, "SIZE": 4097 + 999, "DELETED": 1, "DELETED-STORAGE": 4097}
    R.ok(c, "SELECT INBOX")  # `check` leaves the selected state
    R.ok(c, "EXPUNGE")
    assert check("INBOX") == {"MESSAGES": 2, "SIZE": 150 + 999, "DELETED": 0, "DELETED-STORAGE": 0}
    R.ok(c, "DELETE Other")
    assert check("INBOX")["SIZE"] == 150 + 999
    p = account.server.cli("user", "quota", account.name, check=True)
    assert p.stdout == f"{account.name}: storage 2 KiB of unlimited, messages 2 of unlimited\n"


small_append = module_server(
    "small_append", {"limits": {"max_append_bytes": 2000}, "quota": {"default_messages": 2}}
)


def test_appendlimit_and_toobig(small_append):
    c = small_append.login()
    assert "APPENDLIMIT=2000" in c.capability()
    assert status(c, "INBOX", "APPENDLIMIT") == {"APPENDLIMIT": 2000}
    assert R.append(c, "INBOX", msg(1, 2000)).kind == "OK"
    # Non-synchronizing: the bytes are read and dropped, the session goes on.
    r = R.append(c, "INBOX", msg(2, 2001))
    assert (r.kind, r.code) == ("NO", "TOOBIG"), r
    c.noop_ok()
    # Synchronizing: refused before the client sends anything.
    tag = c.next_tag()
    c.send(f'{tag} APPEND INBOX {{5000}}\r\n'.encode())
    r = R.read_until_tagged(c, tag)
    assert (r.kind, r.code) == ("NO", "TOOBIG"), r
    c.noop_ok()
    assert status(c, "INBOX", "MESSAGES SIZE") == {"MESSAGES": 1, "SIZE": 2000}


def test_config_default_limits_for_new_users(small_append):
    p = small_append.cli("user", "quota", "bob", check=True)
    assert p.stdout == "bob: storage 0 KiB of unlimited, messages 0 of 2\n"
    small_append.add_user("newbie", "newbiepw")
    c = small_append.login("newbie", "newbiepw")
    for n in range(2):
        assert R.append(c, "INBOX", msg(n, 100)).kind == "OK"
    r = R.append(c, "INBOX", msg(3, 100))
    assert (r.kind, r.code) == ("NO", "OVERQUOTA")
