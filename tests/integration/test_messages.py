"""The selected-state commands (RFC 3501 §6.4) over a real socket: FETCH of
every attribute on a multipart message, STORE, EXPUNGE and UID EXPUNGE
(RFC 4315), COPY and UID COPY with COPYUID, SEARCH, and what happens to
malformed messages and out-of-range sequence numbers."""

from __future__ import annotations

import re

import pytest

import imapresp as R

# A multipart message whose part boundaries are easy to state exactly: a
# blank line ends each part's body before the next delimiter, so every
# body ends with CRLF and line counts are unambiguous.
HEAD = (
    b'From: "Alice Example" <alice@example.org>\r\n'
    b"To: Bob <bob@example.net>, carol@example.com\r\n"
    b"Subject: Test message\r\n"
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    b"Message-ID: <B27397-0100000@example.org>\r\n"
    b"In-Reply-To: <parent@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
)
PART1_HEAD = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
PART1_BODY = b"Hello caf=C3=A9 world\r\nsecond line\r\n"
PART2_HEAD = (
    b'Content-Type: application/octet-stream; name="a.bin"\r\n'
    b'Content-Disposition: attachment; filename="a.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
)
PART2_BODY = b"AAECAwQ=\r\n"
TEXT = (
    b"This is the preamble.\r\n"
    b"--XX\r\n" + PART1_HEAD + PART1_BODY + b"\r\n--XX\r\n" + PART2_HEAD + PART2_BODY + b"\r\n--XX--\r\n"
)
MULTI = HEAD + TEXT


def simple(n: int, subject: str | None = None, extra: bytes = b"", body: bytes | None = None) -> bytes:
    subject = subject if subject is not None else f"message {n}"
    body = body if body is not None else b"body of message %d\r\n" % n
    return (
        b"From: sender%d@example.org\r\nTo: rcpt@example.net\r\nSubject: " % n
        + subject.encode()
        + b"\r\nMessage-ID: <%d@example.org>\r\n" % n
        + extra
        + b"\r\n"
        + body
    )


def selected(account, box: str, msgs: list[bytes], flags: list[str | None] | None = None):
    """A session with `box` created, filled and selected; returns (conn, uids)."""
    c = account.login()
    if box != "INBOX":
        R.ok(c, f"CREATE {box}")
    uids = []
    for i, m in enumerate(msgs):
        r = R.append(c, box, m, flags=(flags[i] if flags else None))
        assert r.code == "APPENDUID", r
        uids.append(int(r.tagged.code_args.split()[1]))
    R.ok(c, f"SELECT {box}")
    return c, uids


def one(c, cmd: str, seq: int = 1) -> dict:
    return R.ok(c, cmd).fetches()[seq]


def flags(c, seq: int) -> set[str]:
    return set(one(c, f"FETCH {seq} FLAGS", seq)["FLAGS"]) - {"\\Recent"}


# -- FETCH --------------------------------------------------------------------


def test_fetch_envelope(account):
    c, _ = selected(account, "INBOX", [MULTI])
    env = one(c, "FETCH 1 ENVELOPE")["ENVELOPE"]
    alice = [[b"Alice Example", None, b"alice", b"example.org"]]
    assert env == [
        b"Mon, 7 Feb 1994 21:52:25 -0800",
        b"Test message",
        alice,
        alice,  # sender defaults to from (RFC 3501 §7.4.2)
        alice,  # reply-to too
        [[b"Bob", None, b"bob", b"example.net"], [None, None, b"carol", b"example.com"]],
        None,
        None,
        b"<parent@example.org>",
        b"<B27397-0100000@example.org>",
    ]


def check_bodystructure(bs: list, extensible: bool) -> None:
    """Checks the tree against the message's known shape, field by field."""
    assert isinstance(bs[0], list) and isinstance(bs[1], list), bs
    text, app = bs[0], bs[1]
    assert bs[2].lower() == b"mixed"
    # text/plain: type subtype params id desc enc size lines [md5 disp lang loc]
    assert [x.lower() if isinstance(x, bytes) else x for x in text[:2]] == [b"text", b"plain"]
    assert [p.lower() for p in text[2]] == [b"charset", b"utf-8"]
    assert text[3] is None and text[4] is None
    assert text[5].lower() == b"quoted-printable"
    assert int(text[6]) == len(PART1_BODY)
    assert int(text[7]) == PART1_BODY.count(b"\n")
    # application/octet-stream: no line count.
    assert [x.lower() for x in app[:2]] == [b"application", b"octet-stream"]
    assert [p.lower() if i % 2 == 0 else p for i, p in enumerate(app[2])] == [b"name", b"a.bin"]
    assert app[5].lower() == b"base64"
    assert int(app[6]) == len(PART2_BODY)
    if extensible:
        assert len(text) >= 9, text  # md5 at least
        # body-ext-1part: md5 disposition ...
        disp = app[8]
        assert disp[0].lower() == b"attachment" and [p.lower() for p in disp[1]] == [b"filename", b"a.bin"], app
        # body-ext-mpart: parameters of the multipart.
        assert [p.lower() if i % 2 == 0 else p for i, p in enumerate(bs[3])] == [b"boundary", b"XX"], bs
    else:
        # BODY is the non-extensible form: no extension data at all.
        assert len(text) == 8, text
        assert len(app) == 7, app
        assert len(bs) == 3, bs


def test_fetch_bodystructure_and_body(account):
    c, _ = selected(account, "INBOX", [MULTI])
    f = one(c, "FETCH 1 (BODYSTRUCTURE BODY)")
    check_bodystructure(f["BODYSTRUCTURE"], extensible=True)
    check_bodystructure(f["BODY"], extensible=False)


def test_fetch_sections(account):
    c, _ = selected(account, "INBOX", [MULTI])
    f = one(
        c,
        "FETCH 1 (BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1.MIME] BODY.PEEK[HEADER] "
        "BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM)] "
        "BODY.PEEK[]<0.10> BODY.PEEK[1]<6.4> BODY.PEEK[]<100000.5> BODY.PEEK[])",
    )
    assert f["BODY[1]"] == PART1_BODY
    assert f["BODY[2]"] == PART2_BODY
    assert f["BODY[2.MIME]"] == PART2_HEAD
    assert f["BODY[1.MIME]"] == PART1_HEAD
    assert f["BODY[HEADER]"] == HEAD
    assert f["BODY[TEXT]"] == TEXT
    assert f["BODY[HEADER.FIELDS (SUBJECT FROM)]"] == (
        b'From: "Alice Example" <alice@example.org>\r\nSubject: Test message\r\n\r\n'
    )
    kept = [l for l in HEAD.split(b"\r\n")[:-2] if not re.match(rb"(?i)(subject|from):", l)]
    assert f["BODY[HEADER.FIELDS.NOT (SUBJECT FROM)]"] == b"\r\n".join(kept) + b"\r\n\r\n"
    assert f["BODY[]<0>"] == MULTI[:10]
    assert f["BODY[1]<6>"] == PART1_BODY[6:10]
    assert f["BODY[]<100000>"] == b""
    assert f["BODY[]"] == MULTI
    # Only .PEEK: nothing became \Seen.
    assert "\\Seen" not in flags(c, 1)


def test_fetch_rfc822_items_and_size(account):
    c, _ = selected(account, "INBOX", [MULTI])
    f = one(c, "FETCH 1 (RFC822.SIZE RFC822.HEADER)")
    assert int(f["RFC822.SIZE"]) == len(MULTI)
    assert f["RFC822.HEADER"] == HEAD
    assert "\\Seen" not in flags(c, 1)
    f = one(c, "FETCH 1 RFC822.TEXT")
    assert f["RFC822.TEXT"] == TEXT
    assert "\\Seen" in f["FLAGS"], "the \\Seen just set is reported"
    f = one(c, "FETCH 1 RFC822")
    assert f["RFC822"] == MULTI


def test_fetch_nonpeek_sets_seen_and_reports_flags(account):
    c, _ = selected(account, "INBOX", [MULTI])
    f = one(c, "FETCH 1 BODY[1]")
    assert f["BODY[1]"] == PART1_BODY
    assert "\\Seen" in f["FLAGS"], f
    # Already \Seen: no FLAGS unless asked.
    f = one(c, "FETCH 1 BODY[1]")
    assert "FLAGS" not in f, f
    assert R.ok(c, "STATUS INBOX (UNSEEN)").data("STATUS")[0][3] == ["UNSEEN", "0"]


def test_fetch_missing_section_is_nil(account):
    c, _ = selected(account, "INBOX", [MULTI])
    f = one(c, "FETCH 1 (BODY.PEEK[3] BODY.PEEK[1.2])")
    assert f["BODY[3]"] is None and f["BODY[1.2]"] is None, f


def test_fetch_macros(account):
    c, _ = selected(account, "INBOX", [MULTI])
    attrs = {
        "FAST": {"FLAGS", "INTERNALDATE", "RFC822.SIZE"},
        "ALL": {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"},
        "FULL": {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"},
    }
    for macro, want in attrs.items():
        f = one(c, f"FETCH 1 {macro}")
        assert set(f) == want, (macro, f)
    f = one(c, "FETCH 1 FULL")
    check_bodystructure(f["BODY"], extensible=False)
    assert "\\Seen" not in flags(c, 1), "macros never set \\Seen"


def test_uid_fetch_always_reports_uid(account):
    c, uids = selected(account, "INBOX", [simple(1), simple(2)])
    r = R.ok(c, f"UID FETCH {uids[1]} FLAGS")
    f = r.fetches()
    assert list(f) == [2] and int(f[2]["UID"]) == uids[1], r
    # A UID range past the last UID is not an error (RFC 3501 §6.4.8).
    r = R.ok(c, f"UID FETCH {uids[1] + 10}:{uids[1] + 20} FLAGS")
    assert r.untagged == [], r
    # n:* always includes the last message.
    f = R.ok(c, f"UID FETCH {uids[1] + 10}:* FLAGS").fetches()
    assert list(f) == [2], f


def test_sequence_number_past_exists_is_bad(account):
    c, _ = selected(account, "INBOX", [simple(1), simple(2)])
    for cmd in ["FETCH 3 FLAGS", "FETCH 1:3 FLAGS", "STORE 3 +FLAGS (\\Seen)", "COPY 3 INBOX", "FETCH 0 FLAGS"]:
        r = R.run(c, cmd)
        assert r.kind == "BAD", (cmd, r)
        assert r.untagged == [], (cmd, r)
    assert flags(c, 2) == set()


def test_fetch_star_is_last(account):
    c, uids = selected(account, "INBOX", [simple(1), simple(2), simple(3)])
    f = R.ok(c, "FETCH * UID").fetches()
    assert list(f) == [3] and int(f[3]["UID"]) == uids[2]
    f = R.ok(c, "FETCH 2:* UID").fetches()
    assert sorted(f) == [2, 3]


# -- malformed messages -------------------------------------------------------


MALFORMED = {
    "no-header": b"just some text\r\nwithout any header at all\r\n",
    "no-blank-line": b"Subject: only a header",
    "bad-mime": (
        b"Subject: broken\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--nothing\r\nContent-Type: text/plain\r\n\r\nunterminated"
    ),
    "unterminated-boundary": (
        b'Subject: cut\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x"
    ),
    "garbage-header": b"\x01\x02: \xff\xfe\r\nFrom: <<<@@@>>>\r\nDate: not a date\r\n\r\nbody\r\n",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_message_is_stored_as_is(account, name):
    raw = MALFORMED[name]
    c, _ = selected(account, "INBOX", [raw])
    r = R.ok(c, "FETCH 1 (ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1])")
    f = r.fetches()[1]
    assert f["BODY[]"] == raw
    assert int(f["RFC822.SIZE"]) == len(raw)
    env = f["ENVELOPE"]
    assert isinstance(env, list) and len(env) == 10, env
    bs = f["BODYSTRUCTURE"]
    assert isinstance(bs, list) and len(bs) >= 3, bs
    # Header and text split the message exactly, whatever it holds.
    assert f["BODY[HEADER]"] + f["BODY[TEXT]"] == raw, f
    subject = re.search(rb"(?m)^Subject: ([^\r\n]*)", raw)
    assert env[1] == (subject.group(1) if subject else None), env
    if not isinstance(bs[0], list):
        # A single part: its size is that of the text.
        assert int(bs[6]) == len(f["BODY[TEXT]"]), bs
    # SEARCH still works over it.
    assert R.ok(c, "SEARCH TEXT zzzznotthere").untagged == [b"* SEARCH\r\n"]


# -- STORE --------------------------------------------------------------------


def test_store_variants(account):
    c, _ = selected(account, "INBOX", [simple(1), simple(2)])
    r = R.ok(c, "STORE 1 FLAGS (\\Flagged \\Answered)")
    assert set(r.fetches()[1]["FLAGS"]) - {"\\Recent"} == {"\\Flagged", "\\Answered"}, r
    r = R.ok(c, "STORE 1 +FLAGS (\\Seen)")
    assert set(r.fetches()[1]["FLAGS"]) - {"\\Recent"} == {"\\Flagged", "\\Answered", "\\Seen"}
    r = R.ok(c, "STORE 1 -FLAGS (\\Answered \\Flagged)")
    assert set(r.fetches()[1]["FLAGS"]) - {"\\Recent"} == {"\\Seen"}
    r = R.ok(c, "STORE 1:2 FLAGS ()")
    f = r.fetches()
    assert sorted(f) == [1, 2] and all(set(f[i]["FLAGS"]) - {"\\Recent"} == set() for i in (1, 2)), r
    # \Recent cannot be stored: it stays as the server set it.
    r = R.ok(c, "FETCH 1 FLAGS")
    assert "\\Recent" in r.fetches()[1]["FLAGS"]


def test_store_silent_sends_no_fetch(account):
    c, _ = selected(account, "INBOX", [simple(1), simple(2)])
    for cmd in ["STORE 1:2 +FLAGS.SILENT (\\Deleted)", "STORE 1 -FLAGS.SILENT (\\Deleted)", "STORE 2 FLAGS.SILENT (\\Draft)"]:
        r = R.ok(c, cmd)
        assert r.untagged == [], (cmd, r)
    assert flags(c, 1) == set()
    assert flags(c, 2) == {"\\Draft"}


def test_uid_store_reports_uid(account):
    c, uids = selected(account, "INBOX", [simple(1), simple(2)])
    r = R.ok(c, f"UID STORE {uids[1]} +FLAGS (\\Flagged)")
    f = r.fetches()
    assert list(f) == [2] and int(f[2]["UID"]) == uids[1], r
    assert "\\Flagged" in f[2]["FLAGS"]


def test_store_keywords(account):
    c, _ = selected(account, "INBOX", [simple(1), simple(2)])
    r = R.ok(c, "STORE 1 +FLAGS ($Important Project-X)")
    assert set(r.fetches()[1]["FLAGS"]) - {"\\Recent"} == {"$Important", "Project-X"}, r
    assert flags(c, 2) == set()
    # The keywords now in use show in FLAGS and PERMANENTFLAGS.
    sel = R.ok(c, "SELECT INBOX")
    fl = set(sel.data("FLAGS")[0][2])
    assert {"$Important", "Project-X"} <= fl, sel
    perm = next(u for u in sel.untagged if b"PERMANENTFLAGS" in u)
    perm_flags = set(re.search(rb"\(([^)]*)\)", perm).group(1).decode().split())
    assert {"$Important", "Project-X", "\\*"} <= perm_flags, perm
    # Removing a keyword, and searching by it.
    R.ok(c, "STORE 1 -FLAGS (Project-X)")
    assert flags(c, 1) == {"$Important"}
    assert R.ok(c, "SEARCH KEYWORD $important").untagged == [b"* SEARCH 1\r\n"]
    assert R.ok(c, "SEARCH UNKEYWORD $Important").untagged == [b"* SEARCH 2\r\n"]


def test_store_bad_syntax(account):
    c, _ = selected(account, "INBOX", [simple(1)])
    for cmd in ["STORE 1 FLAGS", "STORE 1 XFLAGS (\\Seen)", "STORE 1 +FLAGS (\\Recent)", "STORE 1 +FLAGS ((\\Seen))"]:
        r = R.run(c, cmd)
        assert r.kind == "BAD", (cmd, r)
    assert flags(c, 1) == set()


# -- EXPUNGE ------------------------------------------------------------------


def test_expunge_numbering(account):
    """RFC 3501 §7.4.1: each EXPUNGE renumbers the rest, so removing
    messages 2 and 4 of 5 is reported as 2 then 3."""
    c, uids = selected(account, "INBOX", [simple(i) for i in range(1, 6)])
    R.ok(c, "STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    r = R.ok(c, "EXPUNGE")
    assert r.untagged == [b"* 2 EXPUNGE\r\n", b"* 3 EXPUNGE\r\n"], r
    f = R.ok(c, "FETCH 1:* UID").fetches()
    assert [int(f[i]["UID"]) for i in (1, 2, 3)] == [uids[0], uids[2], uids[4]]
    assert R.run(c, "FETCH 4 UID").kind == "BAD"


def test_expunge_all_from_the_end(account):
    c, _ = selected(account, "INBOX", [simple(i) for i in range(1, 4)])
    R.ok(c, "STORE 1:* +FLAGS.SILENT (\\Deleted)")
    r = R.ok(c, "EXPUNGE")
    assert r.untagged == [b"* 1 EXPUNGE\r\n"] * 3, r
    assert R.ok(c, "NOOP").untagged == []
    assert R.ok(c, "SEARCH ALL").untagged == [b"* SEARCH\r\n"]


def test_expunge_nothing_deleted(account):
    c, _ = selected(account, "INBOX", [simple(1)])
    assert R.ok(c, "EXPUNGE").untagged == []


def test_uid_expunge_removes_only_given_deleted(account):
    """RFC 4315 §2.1."""
    c, uids = selected(account, "INBOX", [simple(i) for i in range(1, 6)])
    R.ok(c, "STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    r = R.ok(c, f"UID EXPUNGE {uids[1]},{uids[3]}")  # 4 is not \Deleted
    assert r.untagged == [b"* 2 EXPUNGE\r\n"], r
    f = R.ok(c, "FETCH 1:* (UID FLAGS)").fetches()
    assert [int(f[i]["UID"]) for i in sorted(f)] == [uids[0], uids[2], uids[3], uids[4]]
    assert "\\Deleted" in f[1]["FLAGS"] and "\\Deleted" in f[2]["FLAGS"]
    r = R.ok(c, f"UID EXPUNGE {uids[0]}:{uids[2]}")
    assert r.untagged == [b"* 1 EXPUNGE\r\n", b"* 1 EXPUNGE\r\n"], r


def test_uid_expunge_read_only_is_no(account):
    c, uids = selected(account, "INBOX", [simple(1)])
    R.ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(c, "EXAMINE INBOX")
    r = R.run(c, f"UID EXPUNGE {uids[0]}")
    assert r.kind == "NO", r


# -- COPY ---------------------------------------------------------------------


def parse_uid_set(s: str) -> list[int]:
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = map(int, part.split(":"))
            lo, hi = min(a, b), max(a, b)
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


def copyuid(r: R.Result) -> tuple[int, list[int], list[int]]:
    assert r.kind == "OK" and r.code == "COPYUID", r
    validity, src, dst = r.tagged.code_args.split()
    return int(validity), parse_uid_set(src), parse_uid_set(dst)


def test_copy_with_copyuid(account):
    c, uids = selected(account, "INBOX", [simple(i) for i in range(1, 5)], [None, "\\Flagged", "\\Seen kw", None])
    R.ok(c, "CREATE dest")
    dest = R.ok(c, "STATUS dest (UIDVALIDITY UIDNEXT)").data("STATUS")[0][3]
    validity, next_uid = int(dest[1]), int(dest[3])
    v, src, dst = copyuid(R.run(c, "COPY 2:3 dest"))
    assert v == validity
    assert src == uids[1:3]
    assert dst == [next_uid, next_uid + 1]
    v, src, dst = copyuid(R.run(c, f"UID COPY {uids[3]},{uids[0]} dest"))
    assert src == [uids[0], uids[3]] and dst == [next_uid + 2, next_uid + 3]
    # The copies keep their flags and are \Recent in the destination.
    R.ok(c, "SELECT dest")
    f = R.ok(c, "FETCH 1:4 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])").fetches()
    assert [int(f[i]["UID"]) for i in (1, 2, 3, 4)] == [next_uid + i for i in range(4)]
    assert set(f[1]["FLAGS"]) == {"\\Flagged", "\\Recent"}
    assert set(f[2]["FLAGS"]) == {"\\Seen", "kw", "\\Recent"}
    assert [f[i]["BODY[HEADER.FIELDS (SUBJECT)]"] for i in (1, 2, 3, 4)] == [
        b"Subject: message %d\r\n\r\n" % n for n in (2, 3, 1, 4)
    ]


def test_copy_to_missing_mailbox_is_trycreate(account):
    c, _ = selected(account, "INBOX", [simple(1)])
    r = R.run(c, "COPY 1 nosuch")
    assert r.kind == "NO" and r.code == "TRYCREATE", r
    r = R.run(c, "UID COPY 1:* nosuch")
    assert r.kind == "NO" and r.code == "TRYCREATE", r


def test_uid_copy_of_nothing(account):
    c, uids = selected(account, "INBOX", [simple(1)])
    r = R.ok(c, f"UID COPY {uids[0] + 5}:{uids[0] + 9} INBOX")
    assert r.code is None, r


def test_copy_into_selected_mailbox_reports_exists(account):
    c, _ = selected(account, "INBOX", [simple(1), simple(2)])
    r = R.ok(c, "COPY 1:2 INBOX")
    assert r.numbers("EXISTS") == [4], r


# -- SEARCH -------------------------------------------------------------------


SEARCH_MSGS = [
    simple(1, "Lunch on Friday", b"Date: Mon, 1 Jan 2018 10:00:00 +0000\r\nCc: boss@example.com\r\n"),
    simple(2, "Re: lunch", b"Date: Tue, 2 Jan 2018 10:00:00 +0000\r\nX-Spam: yes\r\n", body=b"I'd like the caf\xc3\xa9.\r\n"),
    simple(3, "Quarterly report", b"Date: Wed, 3 Jan 2018 10:00:00 +0000\r\n", body=b"x" * 3000 + b"\r\n"),
    (
        b"From: Zo\xc3\xab <zoe@example.org>\r\nTo: rcpt@example.net\r\nSubject: =?utf-8?q?caf=C3=A9_time?=\r\n"
        b"Date: Thu, 4 Jan 2018 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nMeet at the Caf=C3=A9\r\n"
    ),
    simple(5, "no date here"),
]
SEARCH_FLAGS = ["\\Seen", "\\Flagged \\Seen", None, "\\Answered", "\\Deleted"]
SEARCH_DATES = [
    "01-Jan-2018 10:00:00 +0000",
    "02-Jan-2018 10:00:00 +0000",
    "03-Jan-2018 10:00:00 +0000",
    "04-Jan-2018 10:00:00 +0000",
    "05-Jan-2018 10:00:00 +0000",
]


@pytest.fixture
def searchbox(account):
    c = account.login()
    uids = []
    for m, fl, d in zip(SEARCH_MSGS, SEARCH_FLAGS, SEARCH_DATES):
        r = R.append(c, "INBOX", m, flags=fl, date=d)
        assert r.code == "APPENDUID", r
        uids.append(int(r.tagged.code_args.split()[1]))
    R.ok(c, "SELECT INBOX")
    return c, uids


def search(c, criteria: str | bytes, uid: bool = False) -> list[int]:
    cmd = (b"UID SEARCH " if uid else b"SEARCH ") + (criteria.encode() if isinstance(criteria, str) else criteria)
    r = R.ok(c, cmd)
    rows = [u for u in r.untagged if u.startswith(b"* SEARCH")]
    assert len(rows) == 1, r
    return [int(x) for x in rows[0][len(b"* SEARCH"):].split()]


@pytest.mark.parametrize(
    "criteria,want",
    [
        ("ALL", [1, 2, 3, 4, 5]),
        ("SEEN", [1, 2]),
        ("UNSEEN", [3, 4, 5]),
        ("FLAGGED", [2]),
        ("ANSWERED", [4]),
        ("DELETED", [5]),
        ("UNDELETED UNSEEN", [3, 4]),
        ("SUBJECT lunch", [1, 2]),
        ('SUBJECT "RE: LUNCH"', [2]),
        ("FROM sender3", [3]),
        ("TO rcpt@example.net", [1, 2, 3, 4, 5]),
        ("CC boss", [1]),
        ('HEADER X-Spam ""', [2]),
        ('HEADER Cc ""', [1]),
        ("HEADER Message-ID 3@example.org", [3]),
        ("BODY friday", []),
        ("TEXT friday", [1]),
        ("LARGER 2000", [3]),
        (f"SMALLER {len(SEARCH_MSGS[4]) + 1}", [i + 1 for i, m in enumerate(SEARCH_MSGS) if len(m) <= len(SEARCH_MSGS[4])]),
        (f"LARGER {len(SEARCH_MSGS[4])}", [i + 1 for i, m in enumerate(SEARCH_MSGS) if len(m) > len(SEARCH_MSGS[4])]),
        ("SINCE 3-Jan-2018", [3, 4, 5]),
        ("BEFORE 3-Jan-2018", [1, 2]),
        ("ON 3-Jan-2018", [3]),
        ("SENTSINCE 3-Jan-2018", [3, 4]),
        ("SENTBEFORE 2-Jan-2018", [1]),
        ("SENTON 2-Jan-2018", [2]),
        ("2:4", [2, 3, 4]),
        ("*", [5]),
        ("OR SEEN FLAGGED", [1, 2]),
        ("OR ANSWERED OR DELETED FLAGGED", [2, 4, 5]),
        ("NOT SEEN", [3, 4, 5]),
        ("NOT OR SEEN DELETED", [3, 4]),
        ("NOT NOT SEEN", [1, 2]),
        ("(OR SUBJECT report SUBJECT lunch) NOT FLAGGED", [1, 3]),
        ("OR (SEEN SUBJECT friday) (UNSEEN LARGER 2000)", [1, 3]),
        # A parenthesised list is an AND: nobody is "lunch" and answered.
        ("NOT (SUBJECT lunch OR ANSWERED DELETED)", [1, 2, 3, 4, 5]),
        ("NOT (OR SUBJECT lunch ANSWERED) NOT DELETED", [3]),
        ("NEW", [1, 2, 3, 4, 5][2:]),
        ("RECENT", [1, 2, 3, 4, 5]),
        ("OLD", []),
        ("DRAFT", []),
        ("KEYWORD nothing", []),
    ],
)
def test_search_keys(searchbox, criteria, want):
    c, _ = searchbox
    assert search(c, criteria) == want


def test_uid_search(searchbox):
    c, uids = searchbox
    assert search(c, "SEEN", uid=True) == uids[:2]
    assert search(c, f"UID {uids[1]}:{uids[3]} UNSEEN", uid=True) == uids[2:4]
    assert search(c, f"UID {uids[3]}:*", uid=True) == uids[3:]
    # A plain SEARCH with a UID key answers sequence numbers.
    assert search(c, f"UID {uids[4]}") == [5]


def test_search_charset_utf8_literal(searchbox):
    c, _ = searchbox
    word = "café".encode()
    # Body text decoded from 8-bit and from quoted-printable alike.
    assert search(c, b"CHARSET UTF-8 BODY " + R.literal(word)) == [2, 4]
    # Encoded-word subject, decoded before matching.
    assert search(c, b"CHARSET UTF-8 SUBJECT " + R.literal(word)) == [4]
    # Case-insensitive beyond ASCII.
    assert search(c, b"CHARSET UTF-8 FROM " + R.literal("ZOË".encode())) == [4]
    # The same text in another charset the server knows.
    assert search(c, b"CHARSET ISO-8859-1 BODY " + R.literal("café".encode("latin-1"))) == [2, 4]


def test_search_synchronizing_literal(searchbox):
    c, _ = searchbox
    tag = c.next_tag()
    c.send(f"{tag} SEARCH CHARSET UTF-8 TEXT {{5}}\r\n".encode())
    assert c.readline().startswith(b"+")
    c.send("café".encode() + b"\r\n")
    r = R.read_until_tagged(c, tag)
    assert r.kind == "OK" and r.untagged == [b"* SEARCH 2 4\r\n"], r


def test_search_badcharset(searchbox):
    c, _ = searchbox
    r = R.run(c, "SEARCH CHARSET X-NO-SUCH-CHARSET TEXT x")
    assert r.kind == "NO" and r.code == "BADCHARSET", r
    listed = re.match(r"\((.*)\)$", r.tagged.code_args)
    assert listed and "UTF-8" in listed.group(1).upper().split(), r
    assert not any(u.startswith(b"* SEARCH") for u in r.untagged), r


def test_search_syntax_errors_are_bad(searchbox):
    c, _ = searchbox
    for criteria in ["", "NOSUCHKEY", "OR SEEN", "SINCE 32-Jan-2018", "LARGER x", "(SEEN", "HEADER X-Spam"]:
        r = R.run(c, f"SEARCH {criteria}")
        assert r.kind == "BAD", (criteria, r)


def test_search_sequence_past_exists_is_bad(searchbox):
    c, _ = searchbox
    r = R.run(c, "SEARCH 6")
    assert r.kind == "BAD", r


def test_empty_mailbox_star(account):
    """RFC 3501 §9: `*` in an empty mailbox is a sequence number past the
    end (BAD); as a UID it is just a set that names nothing."""
    c = account.login()
    R.ok(c, "SELECT INBOX")
    for cmd in ["FETCH * FLAGS", "FETCH 1:* FLAGS", "STORE * +FLAGS (\\Seen)", "COPY * INBOX"]:
        r = R.run(c, cmd)
        assert r.kind == "BAD", (cmd, r)
    for cmd in ["UID FETCH * FLAGS", "UID FETCH 1:* FLAGS", "UID STORE 1:* +FLAGS (\\Seen)"]:
        r = R.run(c, cmd)
        assert r.kind == "OK" and r.untagged == [], (cmd, r)


def test_partial_fetch_syntax(account):
    c, _ = selected(account, "INBOX", [MULTI])
    assert R.run(c, "FETCH 1 BODY.PEEK[]<0.0>").kind == "BAD"
    assert R.run(c, "FETCH 1 BODY.PEEK[]<5>").kind == "BAD"
    f = one(c, "FETCH 1 BODY.PEEK[TEXT]<2.7>")
    assert f["BODY[TEXT]<2>"] == TEXT[2:9]
