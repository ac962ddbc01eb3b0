"""The authenticated-state commands (RFC 3501 §6.3) over a real socket:
CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE, LIST, LSUB, STATUS, APPEND,
SELECT and EXAMINE, with the RFC's own examples adapted to Roost's "/"
hierarchy delimiter. Every test works in a user of its own."""

from __future__ import annotations

import re

import pytest

import imapresp as R

MSG = b"From: a@example.org\r\nSubject: one\r\n\r\nhello\r\n"


# What a new account holds (RFC 6154 special uses; all subscribed), as
# `LIST "" *` and `LSUB "" *` show it.
FRESH = {
    "INBOX": {"\\HasNoChildren"},
    "Drafts": {"\\Drafts", "\\HasNoChildren"},
    "Sent": {"\\Sent", "\\HasNoChildren"},
    "Trash": {"\\Trash", "\\HasNoChildren"},
    "Junk": {"\\Junk", "\\HasNoChildren"},
    "Archive": {"\\Archive", "\\HasNoChildren"},
}
FRESH_LSUB = {name: set() for name in FRESH}


def msg(n: int) -> bytes:
    return b"From: a@example.org\r\nSubject: m%d\r\nMessage-ID: <%d@t>\r\n\r\nbody %d\r\n" % (n, n, n)


def listing(r: R.Result, kind: str = "LIST") -> dict[str, set[str]]:
    """{name: attributes} of the LIST/LSUB responses; checks the delimiter."""
    out = {}
    for toks in r.data(kind):
        assert len(toks) == 5, toks
        _, _, attrs, delim, name = toks
        assert delim == b"/", toks
        name = name.decode() if isinstance(name, bytes) else name
        assert name not in out, f"{name} listed twice: {r}"
        out[name] = set(attrs)
    return out


def names(c, ref: str = "", pat: str = "*", kind: str = "LIST") -> dict[str, set[str]]:
    return listing(R.ok(c, f"{kind} {R.quote(ref)} {R.quote(pat)}"), kind)


def status(c, box: str, items: str = "MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN") -> dict[str, int]:
    r = R.ok(c, f"STATUS {R.quote(box)} ({items})")
    rows = r.data("STATUS")
    assert len(rows) == 1, r
    got = rows[0][3]
    return {got[i]: int(got[i + 1]) for i in range(0, len(got), 2)}


def untagged_codes(r: R.Result) -> dict[str, str]:
    """{CODE: args} of the untagged OK responses with a response code."""
    out = {}
    for u in r.untagged:
        m = re.match(rb"\* OK \[([A-Z-]+) ?([^\]]*)\]", u)
        if m:
            out[m.group(1).decode()] = m.group(2).decode()
    return out


def assert_no(r: R.Result, code: str | None = None) -> None:
    assert r.kind == "NO", r
    if code is not None:
        assert r.code == code, r


# -- CREATE -------------------------------------------------------------------


def test_create_makes_intermediate_levels(account):
    c = account.login()
    R.ok(c, "CREATE a/b/c")
    got = names(c)
    assert got == FRESH | {
        "a": {"\\HasChildren"},
        "a/b": {"\\HasChildren"},
        "a/b/c": {"\\HasNoChildren"},
    }
    # The levels created on the way are mailboxes in their own right.
    R.ok(c, "SELECT a/b")


def test_create_existing_is_alreadyexists(account):
    c = account.login()
    R.ok(c, "CREATE x/y")
    assert_no(R.run(c, "CREATE x/y"), "ALREADYEXISTS")
    assert_no(R.run(c, "CREATE x"), "ALREADYEXISTS")
    assert_no(R.run(c, "CREATE INBOX"), "ALREADYEXISTS")
    assert_no(R.run(c, "CREATE inbox"), "ALREADYEXISTS")


def test_create_trailing_delimiter_declares_a_parent(account):
    """RFC 3501 §6.3.3: `CREATE owatagusiam/` creates `owatagusiam`."""
    c = account.login()
    R.ok(c, "CREATE owatagusiam/")
    R.ok(c, "CREATE owatagusiam/blurdybloop")
    assert names(c, "", "owatagusiam*") == {
        "owatagusiam": {"\\HasChildren"},
        "owatagusiam/blurdybloop": {"\\HasNoChildren"},
    }


def test_create_names_are_case_sensitive_except_inbox(account):
    c = account.login()
    R.ok(c, "CREATE Work")
    R.ok(c, "CREATE work")
    R.ok(c, "CREATE inbox/Sub")
    assert set(names(c)) == set(FRESH) | {"INBOX/Sub", "Work", "work"}


def test_create_modified_utf7_round_trips(account):
    c = account.login()
    # "Été" in modified UTF-7 (RFC 3501 §5.1.3).
    R.ok(c, "CREATE &AMk-t&AOk-")
    r = R.ok(c, 'LIST "" "&AMk-*"')
    assert r.untagged == [b'* LIST (\\HasNoChildren) "/" &AMk-t&AOk-\r\n'], r
    R.ok(c, "SELECT &AMk-t&AOk-")


@pytest.mark.parametrize(
    "name",
    [
        "a//b",
        "/leading",
        "wild*card",
        "per%cent",
        "x" * 600,
        "/".join(["d"] * 40),
    ],
    ids=["empty-level", "leading-delimiter", "star", "percent", "too-long", "too-deep"],
)
def test_create_invalid_name_is_no(account, name):
    c = account.login()
    r = R.run(c, f"CREATE {R.quote(name)}")
    assert_no(r)
    assert set(names(c)) == set(FRESH), "nothing was created"


def test_rename_to_invalid_name_is_no(account):
    c = account.login()
    R.ok(c, "CREATE src")
    assert_no(R.run(c, 'RENAME src "a//b"'))
    assert_no(R.run(c, f'RENAME src {R.quote("y" * 600)}'))
    assert set(names(c)) == set(FRESH) | {"src"}


def test_malformed_modified_utf7_is_no_and_lists_nothing(account):
    """A name that is IMAP syntax but not valid modified UTF-7 (RFC 3501
    §5.1.3) names no mailbox: NO, not BAD (§7.1.5 keeps BAD for protocol
    errors), and a LIST or LSUB pattern with it matches nothing."""
    c = account.login()
    r = R.run(c, "CREATE &Jjo")
    assert r.kind == "NO", r
    assert "modified UTF-7" in r.tagged.text, r
    for cmd in ("LIST \"\" &Jjo*", "LIST &AGE- *", "LSUB \"\" &Jjo", "UID COPY 1 &Jjo", "RENAME INBOX &AGE-"):
        r = R.run(c, cmd)
        want = "OK" if cmd.startswith(("LIST", "LSUB")) else "NO"
        assert r.kind == want and not r.untagged, (cmd, r)
    assert set(names(c)) == set(FRESH)


# -- DELETE -------------------------------------------------------------------


def test_delete_rfc3501_example(account):
    """RFC 3501 §6.3.4, first example, with "/" as the delimiter."""
    c = account.login()
    R.ok(c, "CREATE blurdybloop")
    R.ok(c, "CREATE foo/bar")
    R.ok(c, "DELETE foo")  # foo had inferiors: becomes \Noselect
    assert names(c) == FRESH | {
        "blurdybloop": {"\\HasNoChildren"},
        "foo": {"\\Noselect", "\\HasChildren"},
        "foo/bar": {"\\HasNoChildren"},
    }
    R.ok(c, "DELETE blurdybloop")
    # A \Noselect name with inferiors cannot be deleted.
    assert_no(R.run(c, "DELETE foo"))
    R.ok(c, "DELETE foo/bar")
    assert names(c) == FRESH | {"foo": {"\\Noselect", "\\HasNoChildren"}}
    R.ok(c, "DELETE foo")
    assert names(c) == FRESH


def test_delete_with_inferiors_removes_messages(account):
    c = account.login()
    R.ok(c, "CREATE p/q")
    assert R.append(c, "p", MSG).kind == "OK"
    R.ok(c, "DELETE p")
    assert_no(R.run(c, "SELECT p"))
    assert_no(R.run(c, "STATUS p (MESSAGES)"))
    # Re-creating the name gives an empty mailbox with a new UIDVALIDITY
    # or at least no old messages.
    R.ok(c, "CREATE p")
    assert status(c, "p", "MESSAGES")["MESSAGES"] == 0


def test_delete_inbox_is_refused(account):
    c = account.login()
    assert_no(R.run(c, "DELETE INBOX"))
    assert_no(R.run(c, "DELETE inbox"))
    assert "INBOX" in names(c)


def test_delete_nonexistent_is_no(account):
    c = account.login()
    assert_no(R.run(c, "DELETE nosuch"), "NONEXISTENT")
    assert_no(R.run(c, "DELETE nosuch/child"), "NONEXISTENT")


def test_delete_then_recreate_changes_uidvalidity_or_uids(account):
    """RFC 3501 §2.3.1.1: a new mailbox of the same name must not reuse
    the old UIDs with the old UIDVALIDITY."""
    c = account.login()
    R.ok(c, "CREATE again")
    r = R.append(c, "again", MSG)
    old_validity, old_uid = map(int, r.tagged.code_args.split())
    R.ok(c, "DELETE again")
    R.ok(c, "CREATE again")
    r = R.append(c, "again", MSG)
    new_validity, new_uid = map(int, r.tagged.code_args.split())
    assert new_validity != old_validity or new_uid > old_uid


# -- RENAME -------------------------------------------------------------------


def test_rename_moves_the_hierarchy(account):
    """RFC 3501 §6.3.5 example, adapted: inferiors follow the renamed name."""
    c = account.login()
    R.ok(c, "CREATE foo/bar/zap")
    assert R.append(c, "foo/bar", MSG).kind == "OK"
    assert R.append(c, "foo/bar/zap", MSG).kind == "OK"
    assert R.append(c, "foo/bar/zap", MSG).kind == "OK"
    R.ok(c, "RENAME foo zowie")
    assert names(c) == FRESH | {
        "zowie": {"\\HasChildren"},
        "zowie/bar": {"\\HasChildren"},
        "zowie/bar/zap": {"\\HasNoChildren"},
    }
    assert status(c, "zowie/bar", "MESSAGES")["MESSAGES"] == 1
    assert status(c, "zowie/bar/zap", "MESSAGES")["MESSAGES"] == 2
    assert_no(R.run(c, "SELECT foo/bar"), "NONEXISTENT")


def test_rename_keeps_uidvalidity_and_messages(account):
    c = account.login()
    R.ok(c, "CREATE old")
    r = R.append(c, "old", MSG)
    validity = int(r.tagged.code_args.split()[0])
    R.ok(c, "RENAME old new")
    st = status(c, "new")
    assert st["MESSAGES"] == 1
    # RFC 3501 §6.3.5 does not require it, but the UIDs kept must stay valid:
    # either the same UIDVALIDITY or a new one, never old UIDs under a
    # different meaning. With the same UIDVALIDITY, UIDNEXT must not go back.
    if st["UIDVALIDITY"] == validity:
        assert st["UIDNEXT"] >= 2


def test_rename_errors(account):
    c = account.login()
    R.ok(c, "CREATE one")
    R.ok(c, "CREATE two")
    assert_no(R.run(c, "RENAME one two"), "ALREADYEXISTS")
    assert_no(R.run(c, "RENAME nosuch three"), "NONEXISTENT")
    assert_no(R.run(c, "RENAME one INBOX"), "ALREADYEXISTS")
    assert_no(R.run(c, "RENAME one one/inside"))
    assert set(names(c)) == set(FRESH) | {"one", "two"}


def test_rename_creates_missing_superiors(account):
    """RFC 3501 §6.3.5: superior names needed by the new name are created."""
    c = account.login()
    R.ok(c, "CREATE leaf")
    R.ok(c, "RENAME leaf deep/er/leaf")
    got = names(c)
    assert {"deep", "deep/er", "deep/er/leaf"} <= set(got), got
    assert "leaf" not in got


def test_rename_inbox_moves_messages_and_inbox_stays(account):
    """RFC 3501 §6.3.5: renaming INBOX moves its messages to a new
    mailbox and leaves INBOX empty; INBOX's inferiors are not renamed."""
    c = account.login()
    R.ok(c, "CREATE INBOX/kid")
    for i in range(3):
        assert R.append(c, "INBOX", msg(i)).kind == "OK"
    R.ok(c, "RENAME INBOX old-mail")
    assert status(c, "INBOX", "MESSAGES UIDNEXT")["MESSAGES"] == 0
    assert status(c, "old-mail", "MESSAGES")["MESSAGES"] == 3
    got = names(c)
    assert set(got) == set(FRESH) | {"INBOX/kid", "old-mail"}
    r = R.ok(c, "SELECT INBOX")
    assert r.numbers("EXISTS") == [0]
    r = R.ok(c, "SELECT old-mail")
    assert r.numbers("EXISTS") == [3]
    f = R.ok(c, "FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])").fetches()
    assert [f[i]["BODY[HEADER.FIELDS (SUBJECT)]"] for i in (1, 2, 3)] == [
        b"Subject: m%d\r\n\r\n" % i for i in range(3)
    ]
    # INBOX keeps working for new mail.
    assert R.append(c, "INBOX", MSG).kind == "OK"
    assert status(c, "INBOX", "MESSAGES")["MESSAGES"] == 1


# -- SUBSCRIBE / LSUB ---------------------------------------------------------


def test_subscribe_and_lsub(account):
    c = account.login()
    R.ok(c, "CREATE #news/comp/mail/mime")
    R.ok(c, "CREATE #news/comp/mail/misc")
    R.ok(c, "SUBSCRIBE #news/comp/mail/mime")
    R.ok(c, "SUBSCRIBE #news/comp/mail/misc")
    # RFC 3501 §6.3.9 example.
    assert names(c, "#news/", "comp/mail/*", "LSUB") == {
        "#news/comp/mail/mime": set(),
        "#news/comp/mail/misc": set(),
    }
    # `%` matching a level above subscribed names that is not itself
    # subscribed: listed with \Noselect (RFC 3501 §6.3.9).
    assert names(c, "#news/", "comp/%", "LSUB") == {"#news/comp/mail": {"\\Noselect"}}
    assert names(c, "", "%", "LSUB") == FRESH_LSUB | {"#news": {"\\Noselect"}}
    # `*` lists only the subscribed names themselves.
    assert set(names(c, "", "*", "LSUB")) == set(FRESH) | {"#news/comp/mail/mime", "#news/comp/mail/misc"}
    R.ok(c, "UNSUBSCRIBE #news/comp/mail/mime")
    assert set(names(c, "", "*", "LSUB")) == set(FRESH) | {"#news/comp/mail/misc"}


def test_subscribed_parent_is_not_noselect(account):
    c = account.login()
    R.ok(c, "CREATE top/child")
    R.ok(c, "SUBSCRIBE top")
    R.ok(c, "SUBSCRIBE top/child")
    assert names(c, "", "%", "LSUB") == FRESH_LSUB | {"top": set()}


def test_subscription_outlives_the_mailbox(account):
    """RFC 3501 §6.3.6: the server MUST NOT remove a name from the
    subscription list on its own, even when the mailbox goes away."""
    c = account.login()
    R.ok(c, "CREATE gone")
    R.ok(c, "SUBSCRIBE gone")
    R.ok(c, "DELETE gone")
    assert "gone" in names(c, "", "*", "LSUB")
    R.ok(c, "UNSUBSCRIBE gone")
    assert names(c, "", "*", "LSUB") == FRESH_LSUB


def test_lsub_inbox(account):
    c = account.login()
    R.ok(c, "UNSUBSCRIBE INBOX")
    assert "INBOX" not in names(c, "", "*", "LSUB")
    R.ok(c, "SUBSCRIBE inbox")
    assert names(c, "", "*", "LSUB") == FRESH_LSUB


# -- LIST ---------------------------------------------------------------------


def test_list_empty_pattern_gives_delimiter(account):
    """RFC 3501 §6.3.8: `LIST "" ""` returns the delimiter and root."""
    c = account.login()
    r = R.ok(c, 'LIST "" ""')
    assert r.untagged == [b'* LIST (\\Noselect) "/" ""\r\n'], r


def test_list_empty_pattern_with_reference_gives_root(account):
    """RFC 3501 §6.3.8 examples: the root of the reference name."""
    c = account.login()
    r = R.ok(c, 'LIST "news/comp/mail/misc" ""')
    assert r.untagged == [b'* LIST (\\Noselect) "/" news/\r\n'], r
    r = R.ok(c, 'LIST "/usr/staff/jones" ""')
    assert r.untagged == [b'* LIST (\\Noselect) "/" /\r\n'], r


def test_list_reference_and_wildcards(account):
    c = account.login()
    for name in ["Mail/foo", "Mail/bar/baz", "Mail/bar/qux", "Other"]:
        R.ok(c, f"CREATE {name}")
    # RFC 3501 §6.3.8 example `LIST ~/Mail/ %`, adapted.
    assert names(c, "Mail/", "%") == {"Mail/bar": {"\\HasChildren"}, "Mail/foo": {"\\HasNoChildren"}}
    assert set(names(c, "Mail/", "*")) == {"Mail/foo", "Mail/bar", "Mail/bar/baz", "Mail/bar/qux"}
    assert set(names(c, "", "%")) == set(FRESH) | {"Mail", "Other"}
    assert set(names(c, "", "%/%")) == {"Mail/foo", "Mail/bar"}
    assert set(names(c, "", "*a*")) == {"Drafts", "Trash", "Mail", "Mail/foo", "Mail/bar", "Mail/bar/baz", "Mail/bar/qux"}
    assert set(names(c, "", "Mail/bar/q*")) == {"Mail/bar/qux"}
    assert names(c, "", "nothing*") == {}
    # Without wildcards: exactly that name.
    assert set(names(c, "Mail/", "foo")) == {"Mail/foo"}
    assert set(names(c, "", "Mail")) == {"Mail"}


def test_list_inbox_any_case(account):
    c = account.login()
    for pat in ["inbox", "InBoX", "INBOX"]:
        r = R.ok(c, f'LIST "" {pat}')
        assert r.untagged == [b'* LIST (\\HasNoChildren) "/" INBOX\r\n'], (pat, r)


def test_list_shows_noselect_after_delete(account):
    c = account.login()
    R.ok(c, "CREATE n/m")
    R.ok(c, "DELETE n")
    assert names(c, "", "n") == {"n": {"\\Noselect", "\\HasChildren"}}


# -- STATUS -------------------------------------------------------------------


def test_status_items(account):
    c = account.login()
    R.ok(c, "CREATE box")
    uids = []
    for i, flags in enumerate(["\\Seen", None, "\\Flagged"]):
        r = R.append(c, "box", msg(i), flags=flags)
        assert r.code == "APPENDUID", r
        validity, uid = map(int, r.tagged.code_args.split())
        uids.append(uid)
    assert status(c, "box") == {
        "MESSAGES": 3,
        "RECENT": 3,
        "UIDNEXT": uids[-1] + 1,
        "UIDVALIDITY": validity,
        "UNSEEN": 2,
    }
    # Items come back in the order asked; a subset is just that subset.
    r = R.ok(c, "STATUS box (UNSEEN MESSAGES)")
    assert r.untagged == [b'* STATUS box (UNSEEN 2 MESSAGES 3)\r\n'], r


def test_status_recent_drops_after_select(account):
    c = account.login()
    R.ok(c, "CREATE rbox")
    R.append(c, "rbox", MSG)
    assert status(c, "rbox", "RECENT")["RECENT"] == 1
    other = account.login()
    R.ok(other, "SELECT rbox")
    assert status(c, "rbox", "RECENT")["RECENT"] == 0


def test_status_errors(account):
    c = account.login()
    assert_no(R.run(c, "STATUS nosuch (MESSAGES)"), "NONEXISTENT")
    R.ok(c, "CREATE ns/child")
    R.ok(c, "DELETE ns")
    assert_no(R.run(c, "STATUS ns (MESSAGES)"))
    assert R.run(c, "STATUS INBOX (BOGUS)").kind == "BAD"
    assert R.run(c, "STATUS INBOX ()").kind == "BAD"


def test_status_inbox_any_case(account):
    c = account.login()
    r = R.ok(c, "STATUS inbox (MESSAGES)")
    assert r.untagged == [b"* STATUS INBOX (MESSAGES 0)\r\n"], r


# -- APPEND -------------------------------------------------------------------


def test_append_flags_and_internal_date(account):
    c = account.login()
    R.ok(c, "CREATE drafts")
    date = "17-Jul-1996 02:44:25 -0700"
    r = R.append(c, "drafts", MSG, flags="\\Draft \\Flagged $Label1", date=date)
    assert r.kind == "OK" and r.code == "APPENDUID", r
    R.ok(c, "SELECT drafts")
    f = R.ok(c, "FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)").fetches()[1]
    assert set(f["FLAGS"]) - {"\\Recent"} == {"\\Draft", "\\Flagged", "$Label1"}
    assert f["INTERNALDATE"] == date.encode()
    assert int(f["RFC822.SIZE"]) == len(MSG)


def test_append_single_digit_day_date(account):
    """date-day-fixed allows a leading space (RFC 3501 §9)."""
    c = account.login()
    r = R.append(c, "INBOX", MSG, date=" 5-Feb-2021 23:59:59 +0000")
    assert r.kind == "OK", r
    R.ok(c, "SELECT INBOX")
    f = R.ok(c, "FETCH 1 INTERNALDATE").fetches()[1]
    assert f["INTERNALDATE"] == b" 5-Feb-2021 23:59:59 +0000"


def test_append_without_date_uses_now(account):
    import datetime as dt

    c = account.login()
    assert R.append(c, "INBOX", MSG).kind == "OK"
    R.ok(c, "SELECT INBOX")
    raw = R.ok(c, "FETCH 1 INTERNALDATE").fetches()[1]["INTERNALDATE"].decode()
    got = dt.datetime.strptime(raw.strip(), "%d-%b-%Y %H:%M:%S %z")
    assert abs((got - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 120, raw


def test_append_to_missing_mailbox_is_trycreate(account):
    c = account.login()
    r = R.append(c, "nosuch", MSG)
    assert_no(r, "TRYCREATE")
    assert "nosuch" not in names(c)


def test_append_to_noselect_is_no(account):
    c = account.login()
    R.ok(c, "CREATE ns/x")
    R.ok(c, "DELETE ns")
    r = R.append(c, "ns", MSG)
    assert_no(r)
    assert r.code != "TRYCREATE", r


def test_appenduid_matches_select(account):
    """RFC 4315 §3: APPENDUID carries the mailbox's UIDVALIDITY and the
    UID the message got, which FETCH UID then shows."""
    c = account.login()
    R.ok(c, "CREATE u")
    st = status(c, "u", "UIDNEXT UIDVALIDITY")
    got = []
    for i in range(3):
        r = R.append(c, "u", msg(i))
        assert r.code == "APPENDUID", r
        got.append(tuple(map(int, r.tagged.code_args.split())))
    assert {v for v, _ in got} == {st["UIDVALIDITY"]}
    uids = [u for _, u in got]
    assert uids[0] == st["UIDNEXT"] and uids == sorted(set(uids)), uids
    sel = R.ok(c, "SELECT u")
    assert untagged_codes(sel)["UIDVALIDITY"] == str(st["UIDVALIDITY"])
    assert untagged_codes(sel)["UIDNEXT"] == str(uids[-1] + 1)
    f = R.ok(c, "FETCH 1:3 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])").fetches()
    for seq in (1, 2, 3):
        assert int(f[seq]["UID"]) == uids[seq - 1]
        assert f[seq]["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: m%d\r\n\r\n" % (seq - 1)


def test_append_synchronizing_literal(account):
    c = account.login()
    tag = c.next_tag()
    c.send(f"{tag} APPEND INBOX (\\Seen) {{{len(MSG)}}}\r\n".encode())
    line = c.readline()
    assert line.startswith(b"+"), line
    c.send(MSG + b"\r\n")
    r = R.read_until_tagged(c, tag)
    assert r.kind == "OK" and r.code == "APPENDUID", r
    assert status(c, "INBOX", "MESSAGES UNSEEN") == {"MESSAGES": 1, "UNSEEN": 0}


def test_append_bad_date_is_bad(account):
    c = account.login()
    r = R.append(c, "INBOX", MSG, date="32-Jan-2020 00:00:00 +0000")
    assert r.kind == "BAD", r
    assert status(c, "INBOX", "MESSAGES")["MESSAGES"] == 0


def test_append_to_selected_mailbox_reports_exists(account):
    """RFC 3501 §6.3.11: when the mailbox is selected, EXISTS is sent."""
    c = account.login()
    R.ok(c, "SELECT INBOX")
    r = R.append(c, "INBOX", MSG)
    assert r.kind == "OK" and r.numbers("EXISTS") == [1], r


# -- SELECT / EXAMINE ---------------------------------------------------------


def _fill(c, box: str) -> int:
    """Three messages, the first \\Seen; returns the UIDVALIDITY."""
    R.ok(c, f"CREATE {box}")
    for i, flags in enumerate(["\\Seen", None, None]):
        r = R.append(c, box, msg(i), flags=flags)
        assert r.code == "APPENDUID", r
    return int(r.tagged.code_args.split()[0])


def test_select_responses(account):
    c = account.login()
    validity = _fill(c, "sel")
    r = R.ok(c, "SELECT sel")
    assert r.code == "READ-WRITE", r
    flags = r.data("FLAGS")
    assert len(flags) == 1 and set(flags[0][2]) == {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"}, r
    codes = untagged_codes(r)
    perm = set(codes["PERMANENTFLAGS"].strip("()").split())
    assert perm == {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\*"}, r
    assert r.numbers("EXISTS") == [3]
    assert r.numbers("RECENT") == [3]
    assert codes["UNSEEN"] == "2"
    assert codes["UIDVALIDITY"] == str(validity)
    assert codes["UIDNEXT"] == "4"
    # The messages are \Recent in this session.
    f = R.ok(c, "FETCH 1:3 FLAGS").fetches()
    assert all("\\Recent" in f[i]["FLAGS"] for i in (1, 2, 3)), f
    # A second SELECT (or another session) finds them no longer recent.
    r = R.ok(c, "SELECT sel")
    assert r.numbers("RECENT") == [0]


def test_select_without_unseen(account):
    c = account.login()
    R.ok(c, "CREATE allseen")
    R.append(c, "allseen", MSG, flags="\\Seen")
    r = R.ok(c, "SELECT allseen")
    assert "UNSEEN" not in untagged_codes(r), r


def test_examine_is_read_only(account):
    c = account.login()
    _fill(c, "ex")
    r = R.ok(c, "EXAMINE ex")
    assert r.code == "READ-ONLY", r
    codes = untagged_codes(r)
    assert codes["PERMANENTFLAGS"] == "()", r
    assert r.numbers("EXISTS") == [3]
    # EXAMINE shows \Recent without taking it.
    assert r.numbers("RECENT") == [3]
    assert codes["UNSEEN"] == "2"
    f = R.ok(c, "FETCH 2 (BODY[] RFC822.TEXT)").fetches()[2]
    assert f["BODY[]"] == msg(1)
    assert "FLAGS" not in f, f
    f = R.ok(c, "FETCH 2 FLAGS").fetches()[2]
    assert "\\Seen" not in f["FLAGS"], f
    assert_no(R.run(c, "STORE 2 +FLAGS (\\Seen)"), "READ-ONLY")
    assert_no(R.run(c, "EXPUNGE"), "READ-ONLY")
    assert status(c, "ex", "UNSEEN RECENT") == {"UNSEEN": 2, "RECENT": 3}
    # The \Recent messages are still there for the next SELECT.
    r = R.ok(c, "SELECT ex")
    assert r.numbers("RECENT") == [3]


def test_select_nonexistent_leaves_selected_state(account):
    c = account.login()
    _fill(c, "here")
    R.ok(c, "SELECT here")
    assert_no(R.run(c, "SELECT nosuch"), "NONEXISTENT")
    # RFC 3501 §6.3.1: a failed SELECT leaves the client unselected.
    r = R.run(c, "FETCH 1 FLAGS")
    assert r.kind == "BAD", r


def test_select_noselect_is_no(account):
    c = account.login()
    R.ok(c, "CREATE ns/x")
    R.ok(c, "DELETE ns")
    assert_no(R.run(c, "SELECT ns"))
    assert_no(R.run(c, "EXAMINE ns"))


def test_select_while_selected_does_not_expunge(account):
    """RFC 3501 §6.3.1: switching mailboxes never expunges."""
    c = account.login()
    _fill(c, "keep")
    R.ok(c, "SELECT keep")
    R.ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(c, "SELECT INBOX")
    assert status(c, "keep", "MESSAGES")["MESSAGES"] == 3


def test_close_expunges_silently(account):
    c = account.login()
    _fill(c, "cl")
    R.ok(c, "SELECT cl")
    R.ok(c, "STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    r = R.ok(c, "CLOSE")
    assert r.untagged == [], r
    assert status(c, "cl", "MESSAGES")["MESSAGES"] == 1
    assert R.run(c, "FETCH 1 FLAGS").kind == "BAD"


def test_close_after_examine_does_not_expunge(account):
    c = account.login()
    _fill(c, "clx")
    R.ok(c, "SELECT clx")
    R.ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    R.ok(c, "EXAMINE clx")
    R.ok(c, "CLOSE")
    assert status(c, "clx", "MESSAGES")["MESSAGES"] == 3


def test_selected_state_commands_need_a_selection(account):
    c = account.login()
    for cmd in ["FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "EXPUNGE", "CLOSE", "COPY 1 INBOX", "UID FETCH 1 FLAGS"]:
        r = R.run(c, cmd)
        assert r.kind == "BAD", (cmd, r)


def test_create_over_noselect_name_makes_it_selectable(account):
    c = account.login()
    R.ok(c, "CREATE foo/bar")
    R.ok(c, "DELETE foo")
    R.ok(c, "CREATE foo")
    assert names(c, "", "foo") == {"foo": {"\\HasChildren"}}
    R.ok(c, "SELECT foo")


def test_rename_inbox_while_selected_elsewhere(account):
    """Sessions with INBOX selected see its messages leave as EXPUNGEs."""
    c = account.login()
    for i in range(2):
        assert R.append(c, "INBOX", msg(i)).kind == "OK"
    other = account.login()
    R.ok(other, "SELECT INBOX")
    R.ok(c, "RENAME INBOX moved")
    r = R.ok(other, "NOOP")
    assert r.untagged == [b"* 1 EXPUNGE\r\n", b"* 1 EXPUNGE\r\n"], r
    assert R.append(c, "INBOX", MSG).kind == "OK"
    assert R.ok(other, "NOOP").numbers("EXISTS") == [1]
