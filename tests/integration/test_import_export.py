"""`roost import` and `roost export` against the real binary: a generated
Maildir++ tree and mbox files go in, IMAP (imaplib) sees folders, counts,
flags and INTERNALDATE, a second import adds nothing, and the export comes
back exactly as the source was."""

import imaplib
import os
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import HOST, Server

TIMEOUT = 600
BASE = 1_780_000_000  # a fixed epoch second the generated dates count from
BULK = 10_000


def roost(srv: Server, *args: str, input: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        srv.cli_args(*args), input=input, capture_output=True, text=True, timeout=TIMEOUT, env=srv.env
    )


def imap(srv: Server, user: str, password: str) -> imaplib.IMAP4:
    c = imaplib.IMAP4(HOST, srv.imap_port, timeout=60)
    c.login(user, password)
    return c


def message(n: int, subject: str, body: bytes) -> bytes:
    return (
        f"From: sender{n}@example.org\nTo: alice@example.org\nSubject: {subject}\n"
        f"Message-ID: <{subject.replace(' ', '.')}.{n}@example.org>\nDate: Mon, 1 Jun 2026 10:00:00 +0000\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    ).encode() + body


# -- Maildir --------------------------------------------------------------

# folder (Maildir++ dir name, "" for INBOX) -> [(subdir, info, body)]
MAILDIR = {
    "": [
        ("cur", "S", b"caf\xe9 cr\xe8me, 8-bit Latin-1\n"),
        ("cur", "RS", "UTF-8 too: \u00e9t\u00e9 \u2603\n".encode()),
        ("new", None, b"fresh, no flags\nFrom the start of a line\n"),
        ("cur", "", b"no trailing newline"),
    ],
    ".Sub": [
        ("cur", "FT", b"flagged and deleted\n"),
        ("cur", "DS", b"a draft\n"),
        ("cur", "S", b"same bytes twice\n"),
    ],
    ".Sub.Child": [
        ("cur", "Pab", b"forwarded with keywords\n"),
        ("cur", "Sa", b"junk only\n"),
    ],
    ".Sent": [("cur", "S", b"sent mail\n\n\nwith blank lines\n")],
    ".Work.Deep": [("cur", "F", b"a child whose parent has no folder\n")],
    # Dovecot's modified UTF-7 folder name for "Entw\u00fcrfe", which is
    # also its IMAP wire name.
    ".Entw&APw-rfe": [("cur", "S", b"non-ASCII folder\n")],
}
EXPECTED_MAILBOXES = {"INBOX": 4, "Sub": 4, "Sub/Child": 2, "Sent": 1, "Work/Deep": 1, "Entw&APw-rfe": 1, "Bulk": BULK}
DOVECOT_KEYWORDS = "0 Junk\n1 $Label2\n"
LETTERS = {"D": "\\Draft", "F": "\\Flagged", "P": "$Forwarded", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def make_maildir(root: Path) -> dict:
    """Writes the tree; returns {mailbox: [(content, flags, mtime)]} in UID order."""
    expected = {}
    t = BASE
    for folder, msgs in MAILDIR.items():
        d = root / folder if folder else root
        for sub in ("cur", "new", "tmp"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        if folder:
            (d / "maildirfolder").touch()
        (d / "dovecot-keywords").write_text(DOVECOT_KEYWORDS)
        name = folder[1:].replace(".", "/") if folder else "INBOX"
        rows = expected.setdefault(name, [])
        copies = 2 if folder == ".Sub" else 1
        for i, (sub, info, body) in enumerate(msgs):
            for copy in range(copies if b"twice" in body else 1):
                t += 60
                content = message(i, f"{name} {i}", body)
                fname = f"{t}.M{i}P{copy}.gen" + ("" if info is None else f":2,{info}")
                path = d / sub / fname
                path.write_bytes(content)
                os.utime(path, (t, t))
                rows.append((content, flag_set(info or ""), t))
    bulk = root / ".Bulk"
    for sub in ("cur", "new", "tmp"):
        (bulk / sub).mkdir(parents=True)
    rows = expected["Bulk"] = []
    for i in range(BULK):
        t = BASE + 100_000 + i
        content = f"Subject: bulk {i}\nMessage-ID: <bulk.{i}@example.org>\n\nsmall message {i}\n".encode()
        path = bulk / "cur" / f"{t}.B{i}.gen:2,{'S' if i % 3 == 0 else ''}"
        path.write_bytes(content)
        os.utime(path, (t, t))
        rows.append((content, {"\\Seen"} if i % 3 == 0 else set(), t))
    # A damaged message: no header at all.
    bad = root / "cur" / f"{BASE}.BAD.gen:2,S"
    bad.write_bytes(b"this line is not a header field\n\nbody\n")
    os.utime(bad, (BASE, BASE))
    return expected


def flag_set(info: str, keywords: dict | None = None) -> set:
    kw = keywords or {"a": "Junk", "b": "$Label2"}
    return {LETTERS.get(c) or kw[c] for c in info}


def imap_state(c: imaplib.IMAP4, mailbox: str) -> list:
    """[(content CRLF, flags, internaldate epoch)] in UID order."""
    typ, data = c.select(f'"{mailbox}"', readonly=True)
    assert typ == "OK", (mailbox, data)
    n = int(data[0])
    if n == 0:
        return []
    typ, data = c.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert typ == "OK"
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        flags = set(re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()) - {"\\Recent"}
        date = re.search(r'INTERNALDATE "([^"]+)"', meta).group(1)
        epoch = int(datetime.strptime(date, "%d-%b-%Y %H:%M:%S %z").timestamp())
        out.append((item[1], flags, epoch))
    assert len(out) == n, (mailbox, len(out), n)
    return out


def crlf(b: bytes) -> bytes:
    return b.replace(b"\n", b"\r\n")


def exported_maildir(root: Path) -> dict:
    """{mailbox: sorted [(content, flags, mtime)]} of an exported tree."""
    out = {}
    for d in [root, *sorted(p for p in root.iterdir() if p.name.startswith(".") and p.is_dir())]:
        name = d.name[1:].replace(".", "/") if d != root else "INBOX"
        kwfile = d / "dovecot-keywords"
        kw = {}
        if kwfile.exists():
            for line in kwfile.read_text().splitlines():
                n, k = line.split(" ", 1)
                kw[chr(ord("a") + int(n))] = k
        rows = []
        assert not list((d / "new").iterdir()), "export writes into cur/"
        for f in (d / "cur").iterdir():
            info = f.name.rsplit(":2,", 1)[1]
            rows.append((f.read_bytes(), frozenset(flag_set(info, kw)), int(f.stat().st_mtime)))
        out[name] = sorted(rows)
    return out


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A server with alice's Maildir imported while it was stopped."""
    work = tmp_path_factory.mktemp("import")
    srv = Server(work)
    srv.add_user("alice", "alicepw")
    expected = make_maildir(work / "Maildir")
    p = roost(srv, "import", "--user", "alice", "--maildir", str(work / "Maildir"))
    srv.start()
    yield srv, work, expected, p
    srv.terminate()


def test_maildir_import_reports_the_damaged_message(imported):
    _, work, expected, p = imported
    total = sum(len(v) for v in expected.values())
    # Exit 3: done, but a message was skipped, and the damaged file is named.
    assert p.returncode == 3, p.stderr
    assert f"{BASE}.BAD.gen" in p.stderr and "damaged" in p.stderr, p.stderr
    assert f"imported {total} messages" in p.stdout, p.stdout
    assert "1 damaged" in p.stdout


def test_maildir_import_is_seen_over_imap(imported):
    srv, _, expected, _ = imported
    c = imap(srv, "alice", "alicepw")
    typ, listing = c.list()
    names = {re.search(rb'"/" "?([^"]*)"?$', line).group(1).decode() for line in listing}
    assert set(EXPECTED_MAILBOXES) <= names, names
    # A parent without a folder of its own is made as CREATE makes one.
    assert "Work" in names
    for mailbox, count in EXPECTED_MAILBOXES.items():
        state = imap_state(c, mailbox)
        assert len(state) == count, mailbox
        want = expected[mailbox]
        if mailbox == "Bulk":
            state, want = state[::997], want[::997]
        for (body, flags, date), (src, sflags, mtime) in zip(state, want):
            assert body == crlf(src), mailbox
            assert flags == sflags, (mailbox, flags, sflags)
            assert date == mtime, mailbox
    c.logout()


def test_second_import_adds_nothing(imported):
    srv, work, expected, _ = imported
    # The server runs now: the import writes beside it.
    p = roost(srv, "import", "--user", "alice", "--maildir", str(work / "Maildir"))
    total = sum(len(v) for v in expected.values())
    assert p.returncode == 3, p.stderr
    assert "imported 0 messages" in p.stdout and f"{total} already there" in p.stdout, p.stdout
    c = imap(srv, "alice", "alicepw")
    for mailbox, count in EXPECTED_MAILBOXES.items():
        typ, data = c.status(f'"{mailbox}"', "(MESSAGES)")
        assert f"MESSAGES {count})" in data[0].decode(), (mailbox, data)
    c.logout()


def test_maildir_export_is_exact(imported):
    srv, work, expected, _ = imported
    out = work / "export-maildir"
    p = roost(srv, "export", "--user", "alice", "--maildir", str(out))
    assert p.returncode == 0, p.stderr
    assert f"exported {sum(len(v) for v in expected.values())} messages" in p.stdout, p.stdout
    got = exported_maildir(out)
    for mailbox, rows in expected.items():
        want = sorted((content, frozenset(flags), t) for content, flags, t in rows)
        assert got.get(mailbox) == want, mailbox
    # Every exported folder is one that had mail or was made (Drafts etc. are empty).
    assert set(got) - set(expected) <= {"Drafts", "Trash", "Junk", "Archive", "Work"}
    assert all(not got[m] for m in set(got) - set(expected))
    # Into a directory that is not empty: refused.
    p = roost(srv, "export", "--user", "alice", "--maildir", str(out))
    assert p.returncode == 1 and "not empty" in p.stderr


def test_unknown_user_is_refused(imported):
    srv, work, _, _ = imported
    p = roost(srv, "import", "--user", "nobody", "--maildir", str(work / "Maildir"))
    assert p.returncode == 1 and "no such user: nobody" in p.stderr, p.stderr
    p = roost(srv, "export", "--user", "nobody", "--maildir", str(work / "x"))
    assert p.returncode == 1 and "no such user" in p.stderr


def test_import_while_serving_reaches_an_open_session(tmp_path):
    srv = Server(tmp_path)
    srv.add_user("carol", "carolpw")
    srv.start()
    try:
        c = imap(srv, "carol", "carolpw")
        typ, data = c.select("INBOX")
        assert data == [b"0"]
        root = tmp_path / "md"
        for sub in ("cur", "new", "tmp"):
            (root / sub).mkdir(parents=True)
        for i in range(3):
            (root / "cur" / f"{BASE + i}.x{i}.gen:2,S").write_bytes(message(i, "live", b"hello\n"))
        p = roost(srv, "import", "--user", "carol", "--maildir", str(root))
        assert p.returncode == 0, p.stderr
        c.noop()
        typ, data = c.response("EXISTS")
        assert data and data[-1] == b"3", data
        typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK" and len([d for d in data if d]) == 3 and all(b"\\Seen" in d for d in data)
        c.logout()
    finally:
        srv.terminate()


# -- mbox -----------------------------------------------------------------


def from_line(t: int, sender: str = "MAILER-DAEMON") -> bytes:
    return f"From {sender} {datetime.fromtimestamp(t, timezone.utc).strftime('%a %b %e %H:%M:%S %Y')}\n".encode()


# (mailbox, [(stored LF content, flags, status header lines)])
def mbox_messages() -> list:
    bodies = [
        (b"From the beginning, a quoted line\n>From an already quoted one\nend\n", {"\\Seen"}, b"Status: RO\n"),
        (b"8-bit: na\xefve\n\n", {"\\Seen", "\\Answered", "\\Flagged"}, b"Status: RO\nX-Status: AF\n"),
        (b"keywords\n", {"Junk", "$Label1"}, b"Status: O\nX-Keywords: Junk $Label1\n"),
        (b"draft and deleted\n", {"\\Draft", "\\Deleted"}, b"Status: O\nX-Status: TD\n"),
    ]
    return bodies


def quote_rd(b: bytes) -> bytes:
    return re.sub(rb"(?m)^(>*From )", rb">\1", b)


def make_mbox_dir(root: Path) -> dict:
    """INBOX and Lists/rust as mboxrd files in our own canonical form;
    returns {mailbox: [(stored content, flags, date)]} and writes the
    expected export beside (`root.expected`)."""
    expected = {}
    files = {"INBOX": root / "INBOX", "Lists/rust": root / "Lists" / "rust"}
    (root / "Lists").mkdir(parents=True)
    t = BASE
    for name, path in files.items():
        data = b""
        clean = b""
        rows = expected[name] = []
        for i, (body, flags, status) in enumerate(mbox_messages()):
            t += 3600
            head = f"From: s{i}@example.org\nSubject: {name} {i}\n".encode()
            content = head + b"\n" + body
            one = from_line(t) + head + status + quote_rd(b"\n" + body) + b"\n"
            data += one
            clean += one
            rows.append((content, flags, t))
            if i == 1 and name == "INBOX":
                # A damaged message between two good ones.
                data += from_line(t) + b"garbage, not a header\nmore\n\nbody\n\n"
        path.write_bytes(data)
        (Path(str(root) + ".expected") / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        (Path(str(root) + ".expected") / path.relative_to(root)).write_bytes(clean)
    return expected


def test_mbox_import_and_export(tmp_path):
    srv = Server(tmp_path, config={"limits": {"max_append_bytes": 100_000}})
    srv.add_user("bob", "bobpw")
    root = tmp_path / "mail"
    expected = make_mbox_dir(root)
    # A message over the size limit, reported and skipped.
    big = from_line(BASE) + b"Subject: big\n\n" + b"x" * 99 + b"\n" + (b"y" * 999 + b"\n") * 200 + b"\n"
    (root / "Big").write_bytes(big)
    p = roost(srv, "import", "--user", "bob", "--mbox", str(root))
    assert p.returncode == 3, p.stderr
    assert "damaged" in p.stderr and f"{root / 'INBOX'}:" in p.stderr, p.stderr
    assert "larger than the limit" in p.stderr, p.stderr
    assert "imported 8 messages" in p.stdout and "1 damaged, 1 too large" in p.stdout, p.stdout
    srv.start()
    try:
        c = imap(srv, "bob", "bobpw")
        for mailbox, rows in expected.items():
            state = imap_state(c, mailbox)
            assert [(b, f, d) for b, f, d in state] == [(crlf(b), f, d) for b, f, d in rows], mailbox
        assert imap_state(c, "Big") == []
        c.logout()
        p = roost(srv, "import", "--user", "bob", "--mbox", str(root))
        assert "imported 0 messages" in p.stdout and "8 already there" in p.stdout, p.stdout
        out = tmp_path / "export-mbox"
        p = roost(srv, "export", "--user", "bob", "--mbox", str(out))
        assert p.returncode == 0, p.stderr
        for rel in ("INBOX", "Lists/rust"):
            assert (out / rel).read_bytes() == (Path(str(root) + ".expected") / rel).read_bytes(), rel
        assert (out / "Big").read_bytes() == b""
    finally:
        srv.terminate()


def test_mboxo_unquotes_only_from(tmp_path):
    srv = Server(tmp_path)
    srv.add_user("dave", "davepw")
    f = tmp_path / "old.mbox"
    f.write_bytes(
        from_line(BASE) + b"Subject: o\n\n>From quoted\n>>From kept\n\n" + from_line(BASE + 1) + b"Subject: p\n\nx\n"
    )
    p = roost(srv, "import", "--user", "dave", "--mbox", str(f), "--mbox-format", "mboxo", "--mailbox", "Old")
    assert p.returncode == 0, p.stderr
    p2 = roost(srv, "import", "--user", "dave", "--mbox", str(f), "--mailbox", "Rd")
    assert p2.returncode == 0, p2.stderr
    srv.start()
    try:
        c = imap(srv, "dave", "davepw")
        old = imap_state(c, "Old")
        assert [s[0] for s in old] == [b"Subject: o\r\n\r\nFrom quoted\r\n>>From kept\r\n", b"Subject: p\r\n\r\nx\r\n"]
        assert [s[2] for s in old] == [BASE, BASE + 1]
        rd = imap_state(c, "Rd")
        assert rd[0][0] == b"Subject: o\r\n\r\nFrom quoted\r\n>From kept\r\n"
        c.logout()
    finally:
        srv.terminate()


# -- from another IMAP server ----------------------------------------------


def test_imap_import_copies_a_whole_account(imported, tmp_path):
    src, work, expected, _ = imported
    dst = Server(tmp_path / "dst")
    dst.add_user("eve", "evepw")
    ca = str(src.data_dir / "tls" / "cert.pem")
    url = f"imaps://alice:alicepw@localhost:{src.imaps_port}/"
    p = roost(dst, "import", "--user", "eve", "--imap", url, "--imap-ca", ca)
    total = sum(len(v) for v in expected.values())
    assert p.returncode == 0, p.stderr
    assert f"imported {total} messages" in p.stdout, p.stdout
    # Again, the password on standard input: nothing new.
    url = f"imaps://alice@localhost:{src.imaps_port}/"
    p = roost(dst, "import", "--user", "eve", "--imap", url, "--imap-ca", ca, input="alicepw\n")
    assert p.returncode == 0 and "imported 0 messages" in p.stdout, p.stdout + p.stderr
    assert f"{total} already there" in p.stdout
    # Exported, both accounts are the same mail: bytes, flags, dates, folders.
    a, e = tmp_path / "a", tmp_path / "e"
    assert roost(src, "export", "--user", "alice", "--maildir", str(a)).returncode == 0
    assert roost(dst, "export", "--user", "eve", "--maildir", str(e)).returncode == 0
    assert exported_maildir(a) == exported_maildir(e)


def test_imap_import_refusals(imported, tmp_path):
    src, _, _, _ = imported
    dst = Server(tmp_path / "dst")
    dst.add_user("eve", "evepw")
    ca = str(src.data_dir / "tls" / "cert.pem")
    p = roost(dst, "import", "--user", "eve", "--imap", f"imaps://alice:wrong@localhost:{src.imaps_port}/", "--imap-ca", ca)
    assert p.returncode == 1 and "LOGIN" in p.stderr, p.stderr
    # The system's CAs do not know the self-signed certificate.
    p = roost(dst, "import", "--user", "eve", "--imap", f"imaps://alice:alicepw@localhost:{src.imaps_port}/")
    assert p.returncode == 1 and "certificate" in p.stderr.lower(), p.stderr
    p = roost(dst, "import", "--user", "eve", "--imap", "imap://alice@localhost/")
    assert p.returncode == 1 and "imaps://" in p.stderr, p.stderr


def test_mbox_import_memory_stays_bounded(tmp_path):
    """A 100 MB message, on one line, is read past in pieces: the import's
    own memory (RssAnon, polled) stays far below it."""
    srv = Server(tmp_path, config={"limits": {"max_append_bytes": 1_000_000}})
    srv.add_user("fay", "faypw")
    f = tmp_path / "huge.mbox"
    with open(f, "wb") as out:
        out.write(from_line(BASE) + b"Subject: small\n\nbefore\n\n")
        out.write(from_line(BASE + 1) + b"Subject: huge\n\n")
        chunk = b"z" * (1 << 20)
        for _ in range(100):
            out.write(chunk)
        out.write(b"\n\n" + from_line(BASE + 2) + b"Subject: small\n\nafter\n")
    proc = subprocess.Popen(
        srv.cli_args("import", "--user", "fay", "--mbox", str(f)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=srv.env,
    )
    peak = 0
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 3, err
    assert b"imported 2 messages" in out and b"1 too large" in out, out
    assert b"larger than the limit" in err
    assert 0 < peak < 64 * 1024, f"RssAnon peaked at {peak} KiB"
