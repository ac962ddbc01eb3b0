"""A real Postfix delivers to Roost over LMTP.

The test runs its own Postfix instance (Debian's package, installed by
scripts/test.sh; never the system's instance): a generated main.cf and
master.cf in a throw-away config directory, its own queue and data
directories, smtpd on a loopback port, no chroot. smtplib submits over
SMTP; Postfix hands example.org to Roost's unix socket (inside Postfix's
queue directory, `lmtp:unix:private/roost-lmtp`, as the README tells admins
to set it up) and example.net to Roost's TCP listener. The messages are read
back over IMAP with their headers. Then Roost is stopped while mail is
queued, started again, the queue flushed (`postqueue -f`), and every
message must arrive exactly once.

Postfix's master must run as root; the test is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import HOST, free_port, launch
from lmtpwire import fetch_all, lmtp_toml, restart, unique, wait_listening

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
USERS = {"alice": "alicepw", "bob": "bobpw"}
DELIVERY_TIMEOUT = 60.0

pytestmark = [
    pytest.mark.skipif(not os.path.exists(POSTFIX), reason="postfix is not installed (scripts/test.sh installs it)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="a Postfix instance's master runs as root"),
]

MASTER_CF = """\
{smtp_addr} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """One throw-away Postfix instance."""

    def __init__(self, root: Path, smtp_port: int, lmtp_port: int):
        self.root = root
        self.config = root / "etc"
        self.queue = root / "queue"
        self.data = root / "data"
        self.smtp_port = smtp_port
        for d in (self.config, self.queue, self.data):
            d.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.data, "postfix")
        self.log = root / "maillog"
        (self.config / "main.cf").write_text(
            f"""\
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
maillog_file = {self.log}
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix.test
mydomain = postfix.test
myorigin = postfix.test
mydestination =
alias_maps =
alias_database =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_reject_unlisted_recipient = no
smtputf8_enable = no
biff = no
virtual_mailbox_domains = example.org, example.net
virtual_transport = lmtp:unix:private/roost-lmtp
transport_maps = inline:{{ example.net=lmtp:inet:{HOST}:{lmtp_port} }}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""
        )
        (self.config / "master.cf").write_text(MASTER_CF.format(smtp_addr=f"{HOST}:{smtp_port}"))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run([*args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, f"{args}: {p.returncode}\n{p.stdout}\n{p.stderr}\n{self.log_text()}"
        return p

    def start(self) -> None:
        self.run(POSTFIX, "-c", str(self.config), "start")
        deadline = time.monotonic() + 30
        while True:
            try:
                smtplib.SMTP(HOST, self.smtp_port, timeout=5).quit()
                return
            except OSError:
                assert time.monotonic() < deadline, self.log_text()
                time.sleep(0.1)

    def stop(self) -> None:
        self.run(POSTFIX, "-c", str(self.config), "stop", check=False)
        pid_file = self.queue / "pid" / "master.pid"
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), 9)
            except (ValueError, ProcessLookupError):
                pass

    def flush(self) -> None:
        self.run(POSTQUEUE, "-c", str(self.config), "-f")

    def queued(self) -> list[dict]:
        """Queued messages (`postqueue -j`, one JSON object a line)."""
        p = self.run(POSTQUEUE, "-c", str(self.config), "-j")
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def queue_ids(self) -> list[str]:
        return [m["queue_id"] for m in self.queued()]

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("postfix")
    # Postfix's daemons, as user postfix, open its data directory by its
    # path: it cannot be under pytest's root-only directory.
    pf_root = Path(tempfile.mkdtemp(prefix="roost-postfix-"))
    pf_root.chmod(0o755)
    lmtp_port = free_port()
    pf = Postfix(pf_root, free_port(), lmtp_port)
    pf.start()
    srv = None
    try:
        sock = pf.queue / "private" / "roost-lmtp"
        assert sock.parent.is_dir(), "postfix made its private/ directory"
        workdir = root / "roost"
        workdir.mkdir()
        # Postfix's lmtp client runs as `postfix`: the socket is made its.
        config = lmtp_toml(sock, lmtp_port, 'socket_group = "postfix"\nsocket_mode = "0660"\n')
        srv = launch(workdir, config, USERS)
        srv.lmtp_sock, srv.lmtp_port = sock, lmtp_port
        wait_listening(srv)
        yield pf, srv
    finally:
        if srv is not None:
            srv.stop()
        pf.stop()
        shutil.rmtree(pf_root, ignore_errors=True)


def submit(pf: Postfix, to: list[str], tag: str, extra: bytes = b"") -> None:
    msg = (
        f"From: sender@else.org\r\nTo: {', '.join(to)}\r\nSubject: {tag}\r\nX-Tag: {tag}\r\n\r\n"
        f"hello {tag}\r\n.leading dot\r\n"
    ).encode() + extra
    with smtplib.SMTP(HOST, pf.smtp_port, timeout=20) as s:
        s.ehlo("client.test")
        refused = s.sendmail("sender@else.org", to, msg)
        assert refused == {}


def wait_for(srv, user: str, tag: str, n: int = 1, timeout: float = DELIVERY_TIMEOUT) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in fetch_all(srv, user, USERS[user]) if f"X-Tag: {tag}\r\n".encode() in m["raw"]]
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_postfix_delivers_over_the_unix_socket_and_tcp(pair):
    pf, srv = pair
    tag = unique("pf")
    submit(pf, ["alice@example.org", "bob@example.net"], tag, "Grüße\r\n".encode())
    (a,) = wait_for(srv, "alice", tag)
    (b,) = wait_for(srv, "bob", tag)
    for m, rcpt, peer in ((a, "alice@example.org", "(local)"), (b, "bob@example.net", f"({HOST})")):
        raw = m["raw"]
        head = raw.split(b"\r\n\r\n")[0].decode("utf-8", "replace")
        assert head.startswith(f"Return-Path: <sender@else.org>\r\nDelivered-To: {rcpt}\r\n"), head
        assert f"Received: from mx.postfix.test {peer}" in head, head
        # Postfix's own Received line is kept, with its queue id.
        qid = re.search(r"by mx\.postfix\.test \(Postfix\) with ESMTP id ([0-9A-Za-z]+)", head)
        assert qid, head
        assert f'queue_id="{qid.group(1)}"' in srv.stderr_text()
        assert raw.endswith(f"hello {tag}\r\n.leading dot\r\nGrüße\r\n".encode())
    log = pf.log_text()
    assert "[private/roost-lmtp]" in log and "status=sent" in log, log
    assert f"relay={HOST}[{HOST}]:{srv.lmtp_port}" in log, log


def test_unknown_recipient_bounces_and_others_are_delivered(pair):
    pf, srv = pair
    tag = unique("pfmix")
    submit(pf, ["alice@example.org", "nobody@example.org"], tag)
    assert len(wait_for(srv, "alice", tag)) == 1
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while "nobody@example.org" not in pf.log_text() or "status=bounced" not in pf.log_text():
        assert time.monotonic() < deadline, pf.log_text()
        time.sleep(0.2)
    line = next(l for l in pf.log_text().splitlines() if "to=<nobody@example.org>" in l and "bounced" in l)
    assert "550 5.1.1" in line, line


def test_roost_restart_with_mail_queued_delivers_each_exactly_once(pair):
    pf, srv = pair
    srv.stop()
    assert not srv.lmtp_sock.exists()
    tags = [unique(f"q{i}") for i in range(8)]
    for i, t in enumerate(tags):
        submit(pf, ["alice@example.org"] if i % 2 else ["alice@example.org", "bob@example.net"], t)
    # Postfix tries each one, fails to connect and defers it. With the
    # 1-2 s backoff it retries them all the time, so they move between the
    # active and deferred queues and all eight are seldom deferred at one
    # instant: wait until every queued message has been deferred at least
    # once, by its log line.
    deadline = time.monotonic() + 2 * DELIVERY_TIMEOUT

    def all_deferred_once() -> bool:
        ids, log = pf.queue_ids(), pf.log_text()
        return len(ids) == len(tags) and all(
            re.search(rf"{re.escape(q)}: to=<[^>]*>.*status=deferred", log) for q in ids
        )

    while not all_deferred_once():
        assert time.monotonic() < deadline, (pf.queued(), pf.log_text()[-6000:])
        time.sleep(0.2)
    restart(srv)
    pf.flush()
    for i, t in enumerate(tags):
        got = wait_for(srv, "alice", t)
        assert len(got) == 1, (t, len(got), pf.log_text()[-6000:])
        if i % 2 == 0:
            assert len(wait_for(srv, "bob", t)) == 1
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while pf.queue_ids():
        assert time.monotonic() < deadline, pf.queue_ids()
        time.sleep(0.2)
    # Nothing arrives twice, even a little later.
    time.sleep(1.0)
    for t in tags:
        assert len(wait_for(srv, "alice", t, n=2, timeout=0)) == 1
