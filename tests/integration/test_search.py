"""SEARCH answered from the full-text index, over a real socket: every
RFC 3501 key on mail in several encodings and scripts once it is indexed,
mail delivered or expunged a moment before the SEARCH, charsets, and the
index's life: `roost index rebuild`, a deleted or damaged index, and a
SIGKILL while indexing. Each answer is what the RFC's semantics give; the
scan without an index gives the same (test_messages.py)."""

from __future__ import annotations

import base64
import re
import time

import pytest

import imapresp as R

B64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731


def msg(headers: str, body: bytes, ctype: bytes = b"") -> bytes:
    return headers.encode() + b"MIME-Version: 1.0\r\n" + ctype + b"\r\n" + body


CORPUS = [
    # 1: plain ASCII.
    msg(
        "From: Alice Example <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nCc: boss@example.com\r\n"
        "Subject: Lunch on Friday\r\nDate: Mon, 1 Jan 2018 23:30:00 -0800\r\nX-Priority: 1\r\n",
        b"The quokka eats lunch at noon.\r\n",
    ),
    # 2: encoded-word subject, base64 UTF-8 body in Cyrillic.
    msg(
        f"From: ivan@example.ru\r\nTo: alice@example.org\r\nSubject: =?UTF-8?B?{B64('Привет мир')}?=\r\n"
        "Date: Tue, 2 Jan 2018 10:00:00 +0300\r\n",
        base64.b64encode("Добро пожаловать в Straße\r\n".encode()) + b"\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
    ),
    # 3: Q-encoded latin-1 subject; quoted-printable latin-1 body with a
    # soft line break inside a word.
    msg(
        "From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <jm@example.de>\r\nTo: team@example.org\r\n"
        "Bcc: secret@example.org\r\nSubject: =?ISO-8859-1?Q?caf=E9_r=E9sum=E9?=\r\n"
        "Date: Wed, 3 Jan 2018 10:00:00 +0000\r\n",
        b"Wir treffen uns in Z=FC=\r\nrich, sagt J=FCrgen.\r\n",
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n",
    ),
    # 4: HTML alternative only says "htmlword"; entities decoded.
    msg(
        "From: news@example.com\r\nTo: alice@example.org\r\nSubject: Newsletter\r\n"
        "Date: Thu, 4 Jan 2018 10:00:00 +0000\r\n",
        b"--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain version\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hello <b>htmlword</b> &eacute;t&eacute;</p>\r\n--b--\r\n",
        b'Content-Type: multipart/alternative; boundary="b"\r\n',
    ),
    # 5: Japanese, 8-bit UTF-8 body, no Date header.
    msg(
        f"From: taro@example.jp\r\nTo: alice@example.org\r\nSubject: =?UTF-8?B?{B64('日本語のテスト')}?=\r\n",
        "東京で会議があります\r\n".encode(),
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
    ),
    # 6: windows-1252 (0x80 is the euro sign), base64 text attachment.
    msg(
        "From: shop@example.fr\r\nTo: alice@example.org\r\nSubject: Facture\r\n"
        "Date: Sat, 6 Jan 2018 10:00:00 +0100\r\n",
        b"--m\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Total 12 \x80uro, na\xefve price.\r\n--m\r\nContent-Type: text/plain; name=note.txt\r\n"
        b"Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"attachedneedle inside\r\n")
        + b"\r\n--m--\r\n",
        b'Content-Type: multipart/mixed; boundary="m"\r\n',
    ),
]
FLAGS = ["\\Seen", "\\Seen \\Flagged", None, "\\Answered", "\\Deleted", "$Work"]
DATES = [f"0{i}-Jan-2018 12:00:00 +0000" for i in range(1, 7)]

# (criteria, sequence numbers), every RFC 3501 search key at least once.
KEYS = [
    ("ALL", [1, 2, 3, 4, 5, 6]),
    ("ANSWERED", [4]),
    ("UNANSWERED", [1, 2, 3, 5, 6]),
    ("DELETED", [5]),
    ("UNDELETED", [1, 2, 3, 4, 6]),
    ("DRAFT", []),
    ("UNDRAFT", [1, 2, 3, 4, 5, 6]),
    ("FLAGGED", [2]),
    ("UNFLAGGED", [1, 3, 4, 5, 6]),
    ("SEEN", [1, 2]),
    ("UNSEEN", [3, 4, 5, 6]),
    ("KEYWORD $work", [6]),
    ("UNKEYWORD $Work", [1, 2, 3, 4, 5]),
    ("RECENT", []),
    ("NEW", []),
    ("OLD", [1, 2, 3, 4, 5, 6]),
    ("LARGER 100000", []),
    ("SMALLER 100000", [1, 2, 3, 4, 5, 6]),
    ("BEFORE 3-Jan-2018", [1, 2]),
    ("ON 3-Jan-2018", [3]),
    ("SINCE 5-Jan-2018", [5, 6]),
    # The Date: header's own day, in its own zone (23:30 -0800 is 1 Jan).
    ("SENTON 1-Jan-2018", [1]),
    ("SENTBEFORE 3-Jan-2018", [1, 2]),
    ("SENTSINCE 4-Jan-2018", [4, 6]),
    ("NOT SENTSINCE 1-Jan-2000", [5]),
    ("FROM alice", [1]),
    ("FROM müller", [3]),
    ("FROM EXAMPLE.JP", [5]),
    ("TO bob", [1]),
    ("TO team@", [3]),
    ("CC boss", [1]),
    ("BCC secret", [3]),
    ("SUBJECT friday", [1]),
    ("SUBJECT привет", [2]),
    ("SUBJECT ПРИВЕТ", [2]),
    ("SUBJECT RÉSUMÉ", [3]),
    ("SUBJECT 本語", [5]),
    ("SUBJECT tur", [6]),
    ("SUBJECT turz", []),
    ("BODY quokka", [1]),
    ("BODY STRASSE", []),
    ("BODY straße", [2]),
    ("BODY пожалов", [2]),
    ("BODY zürich", [3]),
    ("BODY htmlword", [4]),
    ("BODY été", [4]),
    ("BODY <b>", []),
    ("BODY 京で会", [5]),
    ("BODY €uro", [6]),
    ("BODY naïve", [6]),
    ("BODY attachedneedle", [6]),
    ("BODY uo", [1]),
    ("BODY q", [1]),
    ("TEXT lunch", [1]),
    ("TEXT x-priority", [1]),
    ("TEXT jürgen", [3]),
    ("TEXT example.ru", [2]),
    ('HEADER X-Priority ""', [1]),
    ("HEADER X-Priority 1", [1]),
    ('HEADER Date ""', [1, 2, 3, 4, 6]),
    ("UID 2:3", [2, 3]),
    ("2,4:5", [2, 4, 5]),
    ("*", [6]),
    ("OR SUBJECT friday BODY htmlword", [1, 4]),
    ("NOT BODY quokka", [2, 3, 4, 5, 6]),
    ("NOT TEXT a", []),
    ("(SEEN TEXT lunch) OR FLAGGED SEEN", [1]),
    ("(SEEN TEXT lunch) OR FLAGGED ANSWERED", []),
    ("OR (SUBJECT привет SEEN) (BODY zürich UNSEEN)", [2, 3]),
    ("NOT OR TEXT quokka TEXT zürich", [2, 4, 5, 6]),
]


def search(c, criteria: str | bytes, uid: bool = False) -> list[int]:
    cmd = (b"UID SEARCH " if uid else b"SEARCH ") + (criteria.encode() if isinstance(criteria, str) else criteria)
    r = R.ok(c, cmd)
    rows = [u for u in r.untagged if u.startswith(b"* SEARCH")]
    assert len(rows) == 1, r
    return [int(x) for x in rows[0][len(b"* SEARCH"):].split()]


def utf8(c, criteria: str) -> list[int]:
    """SEARCH CHARSET UTF-8 with the non-ASCII key strings as literals."""
    words = []
    for w in re.findall(r'"[^"]*"|\S+', criteria):
        if w.isascii():
            words.append(w.encode())
        else:
            words.append(R.literal(w.encode()))
    return search(c, b"CHARSET UTF-8 " + b" ".join(words))


def wait_for_log(srv, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in srv.stderr_text():
            return
        time.sleep(0.1)
    pytest.fail(f"no {text!r} in the server log:\n{srv.stderr_text()}")


def fill(c, mailbox: str = "INBOX") -> None:
    for m, fl, d in zip(CORPUS, FLAGS, DATES):
        R.append(c, mailbox, m, flags=fl, date=d)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A server whose INBOX holds CORPUS, all of it indexed: the mail was
    appended, then the server restarted and caught its index up."""
    from conftest import launch

    srv = launch(tmp_path_factory.mktemp("search"), users={"alice": "alicepw"})
    c = srv.login()
    fill(c)
    c.close()
    srv.stop()
    # Nothing to catch up if the first run indexed everything already: the
    # index directory goes, so the restart indexes all of it.
    import shutil

    shutil.rmtree(srv.data_dir / "index")
    srv.start()
    wait_for_log(srv, "search index caught up")
    # One session takes \Recent, so RECENT and NEW are empty for the rest.
    c = srv.login()
    R.ok(c, "SELECT INBOX")
    c.close()
    yield srv
    srv.stop()


@pytest.fixture
def inbox(indexed):
    c = indexed.login()
    R.ok(c, "EXAMINE INBOX")
    yield c
    c.close()


@pytest.mark.parametrize("criteria,want", KEYS)
def test_every_key_from_the_index(inbox, criteria, want):
    assert utf8(inbox, criteria) == want


def test_uid_search_from_the_index(inbox):
    uids = search(inbox, "ALL", uid=True)
    assert len(uids) == 6
    assert search(inbox, "BODY quokka", uid=True) == [uids[0]]
    assert search(inbox, f"UID {uids[3]}:* NOT DELETED", uid=True) == [uids[3], uids[5]]


def test_charsets(inbox):
    assert search(inbox, b"CHARSET ISO-8859-1 BODY " + R.literal("zürich".encode("latin-1"))) == [3]
    assert search(inbox, b"CHARSET WINDOWS-1252 BODY " + R.literal("€uro".encode("cp1252"))) == [6]
    assert search(inbox, b"CHARSET KOI8-R SUBJECT " + R.literal("Привет".encode("koi8-r"))) == [2]
    assert search(inbox, b"CHARSET WINDOWS-1251 BODY " + R.literal("Добро".encode("cp1251"))) == [2]
    assert search(inbox, b"CHARSET ISO-2022-JP BODY " + R.literal("会議".encode("iso-2022-jp"))) == [5]
    assert search(inbox, b"CHARSET US-ASCII SUBJECT friday") == [1]
    r = R.run(inbox, "SEARCH CHARSET X-KLINGON TEXT x")
    assert r.kind == "NO" and r.code == "BADCHARSET", r
    listed = r.tagged.code_args.strip("()").upper().split()
    for cs in ["UTF-8", "US-ASCII", "ISO-8859-1", "ISO-8859-15", "WINDOWS-1252", "KOI8-R"]:
        assert cs in listed, r


def test_mail_just_delivered_and_just_expunged(indexed):
    """Delivered a moment ago (not indexed yet) is found; expunged is gone,
    whatever the index has caught up with."""
    c = indexed.login()
    R.ok(c, "CREATE fresh")
    fill(c, "fresh")
    R.ok(c, "SELECT fresh")
    assert utf8(c, "BODY straße") == [2]
    # Another session delivers; this one learns of it at its next command.
    other = indexed.login()
    R.append(other, "fresh", CORPUS[1])
    other.close()
    R.ok(c, "NOOP")
    assert utf8(c, "BODY straße") == [2, 7]
    R.ok(c, "STORE 2 +FLAGS.SILENT (\\Deleted)")
    R.ok(c, "EXPUNGE")  # 2 and 5 (\Deleted since the fill): 7 is now 5
    assert utf8(c, "BODY straße") == [5]
    time.sleep(1.5)  # now indexed: the same answers
    assert utf8(c, "BODY straße") == [5]
    assert utf8(c, "SUBJECT привет") == [5]
    c.close()


def test_copies_are_searchable(indexed):
    c = indexed.login()
    R.ok(c, "CREATE copies")
    R.ok(c, "SELECT INBOX")
    R.ok(c, "COPY 3,5 copies")
    R.ok(c, "SELECT copies")
    assert utf8(c, "TEXT jürgen") == [1]
    time.sleep(1.5)
    assert utf8(c, "TEXT jürgen") == [1]
    assert utf8(c, "BODY 会議") == [2]
    c.close()


ADDRESSES = (
    b"From: <user-from (comment)@ (comment) domain.org>\r\n"
    b"To: \"Doe, Jane\" <jane@example.net> (work), Team: a@example.com, b@example.com;\r\n"
    b"Subject: addresses\r\n\r\nbody\r\n"
)


def test_from_to_match_the_envelope_addresses(indexed):
    """RFC 3501 §6.4.4: FROM/TO/CC/BCC look at "the envelope structure's"
    field, so comments are not matched and the address reads as one; the
    same answers before the message is indexed (scan) and after."""
    c = indexed.login()
    R.ok(c, "CREATE addresses")
    R.append(c, "addresses", ADDRESSES)
    R.ok(c, "SELECT addresses")
    for attempt in ("scan", "indexed"):
        assert search(c, "FROM user-from@domain.org") == [1], attempt
        assert search(c, "FROM comment") == [], attempt
        assert search(c, 'HEADER From "comment"') == [1], attempt
        assert search(c, 'TO "doe, jane <jane@example.net>"') == [1], attempt
        assert search(c, "TO work") == [], attempt
        assert search(c, 'TO "team: a@example.com, b@"') == [1], attempt
        assert search(c, "CC example") == [], attempt
        time.sleep(1.5)  # indexed by now
    c.close()


def test_index_rebuild_command(make_server):
    srv = make_server(users={"alice": "alicepw"})
    c = srv.login()
    fill(c)
    c.close()
    # While the server runs, it is asked to rebuild.
    p = srv.cli("index", "rebuild", check=True)
    assert "server is running" in p.stdout, p.stdout
    wait_for_log(srv, "search index: rebuilding")
    c = srv.login()
    R.ok(c, "EXAMINE INBOX")
    assert utf8(c, "BODY zürich") == [3]
    c.close()
    p = srv.cli("index", "rebuild", "--user", "nobody")
    assert p.returncode != 0 and "no such user" in p.stderr, p
    srv.stop()
    p = srv.cli("index", "rebuild", check=True)
    assert "6 messages indexed" in p.stdout, p.stdout
    p = srv.cli("index", "rebuild", "--user", "alice", check=True)
    assert "user alice" in p.stdout and "6 messages indexed" in p.stdout, p.stdout
    srv.start()
    c = srv.login()
    R.ok(c, "EXAMINE INBOX")
    assert utf8(c, "SUBJECT 本語") == [5]
    c.close()


@pytest.mark.parametrize("damage", ["delete", "garbage-meta", "truncate-segments"])
def test_damaged_index_is_rebuilt_and_search_stays_exact(make_server, damage):
    srv = make_server(users={"alice": "alicepw"})
    c = srv.login()
    fill(c)
    c.close()
    time.sleep(1.5)
    srv.stop()
    index = srv.data_dir / "index"
    assert (index / "meta.json").exists()
    if damage == "delete":
        import shutil

        shutil.rmtree(index)
    elif damage == "garbage-meta":
        (index / "meta.json").write_bytes(b"{not json")
    else:
        for f in index.iterdir():
            if f.suffix in (".idx", ".store", ".term", ".fast"):
                f.write_bytes(f.read_bytes()[:7])
    srv.start()
    c = srv.login()
    R.ok(c, "EXAMINE INBOX")
    # Right away (scanning what the index lacks) and once rebuilt.
    assert utf8(c, "BODY пожалов") == [2]
    wait_for_log(srv, "search index caught up")
    assert utf8(c, "BODY пожалов") == [2]
    assert utf8(c, "TEXT jürgen") == [3]
    c.close()


def test_sigkill_while_indexing(make_server):
    srv = make_server(users={"alice": "alicepw"})
    c = srv.login()
    n = 300
    msgs = [
        msg(f"From: s{i}@example.org\r\nSubject: bulk {i}\r\n", f"needle{i % 7} quokkabulk Grüße {i}\r\n".encode())
        for i in range(n)
    ]
    R.append_many(c, "INBOX", msgs)
    srv.proc.kill()  # SIGKILL, with indexing under way
    srv.proc.wait(10)
    srv.stop()
    srv.start()
    c = srv.login()
    R.ok(c, "EXAMINE INBOX")
    want_all = list(range(1, n + 1))
    assert utf8(c, "BODY quokkabulk") == want_all
    wait_for_log(srv, "search index caught up")
    assert utf8(c, "BODY quokkabulk") == want_all
    assert utf8(c, "BODY GRÜSSE") == []
    assert utf8(c, "BODY grüße") == want_all
    assert utf8(c, "BODY needle3") == [i + 1 for i in range(n) if i % 7 == 3]
    c.close()


def nested_message(levels: int, needle: str) -> bytes:
    inner = f"Subject: innermost\r\nContent-Type: text/plain\r\n\r\nthe {needle} is here\r\n".encode()
    for i in range(levels):
        inner = (
            f"Subject: level {i}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n"
            f"--b{i}\r\nContent-Type: text/plain\r\n\r\nwrapper {i}\r\n--b{i}\r\nContent-Type: message/rfc822\r\n\r\n"
        ).encode() + inner + f"\r\n--b{i}--\r\n".encode()
    return inner


@pytest.mark.parametrize("index", [True, False], ids=["index", "scan"])
def test_search_finds_text_nested_deeper_than_32_messages(make_server, index):
    srv = make_server({"search": {"index": index}})
    c = srv.login("alice")
    msg = nested_message(40, "kestrel")
    c.send(f"a APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
    assert c.read_until_tagged("a").kind == "OK"
    assert c.cmd("SELECT INBOX").kind == "OK"
    for key in ("BODY kestrel", "TEXT KESTREL"):
        r = c.cmd(f"SEARCH {key}")
        assert r.kind == "OK" and b"* SEARCH 1" in b"".join(r.untagged), (key, r)
    c.close()
