"""Special-use mailboxes (RFC 6154), the extended LIST (RFC 5258) and
LIST-STATUS (RFC 5819) over a real socket: the RFCs' examples, adapted to
Roost's "/" hierarchy (where every superior level exists), with imapclient
where it speaks them and raw commands otherwise. Every test has a user of
its own, made by `roost user add`."""

from __future__ import annotations

import imapclient
import pytest
from imapclient.imapclient import ARCHIVE, DRAFTS, JUNK, SENT, TRASH

import imapresp as R
from conftest import new_account

DEFAULTS = {
    "INBOX": set(),
    "Drafts": {"\\Drafts"},
    "Sent": {"\\Sent"},
    "Trash": {"\\Trash"},
    "Junk": {"\\Junk"},
    "Archive": {"\\Archive"},
}
CHILDINFO = [b"CHILDINFO", [b"SUBSCRIBED"]]


def rows(r: R.Result) -> list[tuple[str, set[str], list | None]]:
    """(name, attributes, extended data) of each LIST response, in order."""
    out = []
    for toks in r.data("LIST"):
        assert len(toks) in (5, 6), toks
        assert toks[3] == b"/", toks
        name = toks[4].decode() if isinstance(toks[4], bytes) else toks[4]
        out.append((name, set(toks[2]), toks[5] if len(toks) == 6 else None))
    return out


def listing(c, command: str) -> dict[str, set[str]]:
    """{name: attributes}; fails on extended data or a name listed twice."""
    got = {}
    for name, attrs, ext in rows(R.ok(c, command)):
        assert ext is None, (name, ext)
        assert name not in got, f"{name} listed twice"
        got[name] = attrs
    return got


def statuses(r: R.Result) -> list[tuple[str, dict[str, int]]]:
    out = []
    for toks in r.data("STATUS"):
        name = toks[2].decode() if isinstance(toks[2], bytes) else toks[2]
        items = toks[3]
        out.append((name, {items[i]: int(items[i + 1]) for i in range(0, len(items), 2)}))
    return out


def bare(c) -> None:
    """Leaves only INBOX, unsubscribed: the RFC examples' starting point."""
    for name in DEFAULTS:
        if name != "INBOX":
            R.ok(c, f"DELETE {name}")
        R.ok(c, f"UNSUBSCRIBE {name}")


# -- the default mailboxes ----------------------------------------------------


def test_new_user_gets_special_use_mailboxes_subscribed(account):
    c = account.login()
    got = listing(c, 'LIST "" "*" RETURN (SPECIAL-USE SUBSCRIBED)')
    assert got == {name: attrs | {"\\Subscribed"} for name, attrs in DEFAULTS.items()}
    # LSUB agrees, and each one can be selected.
    lsub = {toks[4] for toks in R.ok(c, 'LSUB "" "*"').data("LSUB")}
    assert lsub == set(DEFAULTS)
    for name in DEFAULTS:
        R.ok(c, f"SELECT {name}")


def test_login_does_not_bring_deleted_defaults_back(account):
    """Mailboxes are made with the user, never added later behind the
    user's back: what was deleted stays deleted across logins."""
    c = account.login()
    R.ok(c, "DELETE Junk")
    R.ok(c, "DELETE Archive")
    c.close()
    c = account.login()
    assert set(listing(c, 'LIST "" "*"')) == set(DEFAULTS) - {"Junk", "Archive"}


def test_imapclient_finds_the_special_folders(server, account):
    client = imapclient.IMAPClient("127.0.0.1", port=server.imap_port, ssl=False, timeout=10)
    try:
        client.login(account.name, account.password)
        for cap in (b"SPECIAL-USE", b"CREATE-SPECIAL-USE", b"LIST-EXTENDED", b"LIST-STATUS"):
            assert client.has_capability(cap.decode()), cap
        assert client.find_special_folder(SENT) == "Sent"
        assert client.find_special_folder(DRAFTS) == "Drafts"
        assert client.find_special_folder(TRASH) == "Trash"
        assert client.find_special_folder(JUNK) == "Junk"
        assert client.find_special_folder(ARCHIVE) == "Archive"
        folders = {name: set(flags) for flags, _, name in client.list_folders()}
        assert folders["Sent"] == {b"\\Sent", b"\\HasNoChildren"}
        assert folders["INBOX"] == {b"\\HasNoChildren"}
        assert {name for _, _, name in client.list_sub_folders()} == set(DEFAULTS)
        # After a rename the special use goes with the mailbox.
        client.rename_folder("Sent", "Sent Items")
        assert client.find_special_folder(SENT) == "Sent Items"
    finally:
        client.logout()


def test_user_add_on_the_command_line_creates_them(server):
    acct = new_account(server, "cli")
    try:
        c = acct.login()
        got = listing(c, 'LIST (SPECIAL-USE) "" "*"')
        assert got == {name: attrs for name, attrs in DEFAULTS.items() if attrs}
    finally:
        acct.close()


# -- CREATE (USE ...), RFC 6154 §3 and §5.3 -----------------------------------


def test_create_with_special_use(account):
    c = account.login()
    bare(c)
    R.ok(c, "CREATE MySpecial (USE (\\Drafts \\Sent))")
    r = R.run(c, "CREATE Everything (USE (\\All))")
    assert (r.kind, r.code) == ("NO", "USEATTR"), r
    r = R.run(c, "CREATE Stars (USE (\\Flagged))")
    assert (r.kind, r.code) == ("NO", "USEATTR"), r
    r = R.run(c, "CREATE Odd (USE (\\Sent \\Unheard))")
    assert (r.kind, r.code) == ("NO", "USEATTR"), r
    # Unknown CREATE parameters are BAD (RFC 4466 §2.2).
    assert R.run(c, "CREATE Odd (COLOR (red))").kind == "BAD"
    # What was refused was not created.
    assert listing(c, 'LIST "" "*"') == {
        "INBOX": {"\\HasNoChildren"},
        "MySpecial": {"\\Drafts", "\\Sent", "\\HasNoChildren"},
    }
    # Several mailboxes may share a use; superiors made on the way get none.
    R.ok(c, "CREATE Old/Sent (USE (\\Sent))")
    assert listing(c, 'LIST (SPECIAL-USE) "" "*"') == {
        "MySpecial": {"\\Drafts", "\\Sent"},
        "Old/Sent": {"\\Sent"},
    }


def test_special_use_survives_rename_and_restart(make_server):
    srv = make_server()
    acct = new_account(srv, "ren")
    c = acct.login()
    R.ok(c, "CREATE Outbox (USE (\\Sent))")
    R.ok(c, "RENAME Outbox Mail/Outbox")
    R.ok(c, "RENAME Mail Post")
    c.close()
    srv.stop()
    srv.start()
    c = acct.login()
    got = listing(c, 'LIST (SPECIAL-USE) "" "*"')
    assert got["Post/Outbox"] == {"\\Sent"}
    assert "Post" not in got
    acct.close()


# -- LIST with SPECIAL-USE, RFC 6154 §5.1 and §5.2 ----------------------------


def test_rfc6154_list_examples(account):
    c = account.login()
    bare(c)
    for cmd in [
        "CREATE ToDo",
        "CREATE Projects/x",
        "CREATE SentMail (USE (\\Sent))",
        "CREATE MyDrafts (USE (\\Drafts))",
        "CREATE Trash (USE (\\Trash))",
    ]:
        R.ok(c, cmd)
    # §5.1: the plain LIST shows the attributes.
    assert listing(c, 'LIST "" "%"') == {
        "INBOX": {"\\HasNoChildren"},
        "ToDo": {"\\HasNoChildren"},
        "Projects": {"\\HasChildren"},
        "SentMail": {"\\Sent", "\\HasNoChildren"},
        "MyDrafts": {"\\Drafts", "\\HasNoChildren"},
        "Trash": {"\\Trash", "\\HasNoChildren"},
    }
    # §5.2: the return option, then the selection option.
    assert listing(c, 'LIST "" "%" RETURN (SPECIAL-USE)') == {
        "INBOX": set(),
        "ToDo": set(),
        "Projects": set(),
        "SentMail": {"\\Sent"},
        "MyDrafts": {"\\Drafts"},
        "Trash": {"\\Trash"},
    }
    assert listing(c, 'LIST (SPECIAL-USE) "" "*"') == {
        "SentMail": {"\\Sent"},
        "MyDrafts": {"\\Drafts"},
        "Trash": {"\\Trash"},
    }


# -- LIST-EXTENDED, RFC 5258 §5 -----------------------------------------------


@pytest.fixture
def produce(account):
    """RFC 5258 §5 example 1's hierarchy and example 2's subscriptions."""
    c = account.login()
    bare(c)
    for name in ["Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable/Broccoli", "Vegetable/Corn"]:
        R.ok(c, f"CREATE {name}")
    for name in ["INBOX", "Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli"]:
        R.ok(c, f"SUBSCRIBE {name}")
    return c


def test_rfc5258_example_1_and_2(produce):
    c = produce
    assert listing(c, 'LIST "" "*"') == {
        "INBOX": {"\\HasNoChildren"},
        "Fruit": {"\\HasChildren"},
        "Fruit/Apple": {"\\HasNoChildren"},
        "Fruit/Banana": {"\\HasNoChildren"},
        "Tofu": {"\\HasNoChildren"},
        "Vegetable": {"\\HasChildren"},
        "Vegetable/Broccoli": {"\\HasNoChildren"},
        "Vegetable/Corn": {"\\HasNoChildren"},
    }
    expected = {
        "INBOX": {"\\Subscribed"},
        "Fruit/Banana": {"\\Subscribed"},
        "Fruit/Peach": {"\\Subscribed", "\\NonExistent"},
        "Vegetable": {"\\Subscribed"},
        "Vegetable/Broccoli": {"\\Subscribed"},
    }
    assert listing(c, 'LIST (SUBSCRIBED) "" "*"') == expected
    # Example 5: REMOTE adds nothing where there are no remote mailboxes.
    assert listing(c, 'LIST (REMOTE SUBSCRIBED) "" "*"') == expected


def test_rfc5258_examples_3_4_and_6(produce):
    c = produce
    expected = {
        "INBOX": {"\\HasNoChildren"},
        "Fruit": {"\\HasChildren"},
        "Tofu": {"\\HasNoChildren"},
        "Vegetable": {"\\HasChildren"},
    }
    assert listing(c, 'LIST () "" "%" RETURN (CHILDREN)') == expected
    assert listing(c, 'LIST (REMOTE) "" "%" RETURN (CHILDREN)') == expected
    # Example 6: no line for the subscribed Fruit/Peach, which does not exist.
    assert listing(c, 'LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)') == {
        "INBOX": {"\\Subscribed"},
        "Fruit": set(),
        "Fruit/Apple": set(),
        "Fruit/Banana": {"\\Subscribed"},
        "Tofu": set(),
        "Vegetable": {"\\Subscribed"},
        "Vegetable/Broccoli": {"\\Subscribed"},
        "Vegetable/Corn": set(),
    }


def test_rfc5258_example_7_multiple_patterns(server, account):
    c = account.login()
    bare(c)
    for name in ["Sent/March2004", "Sent/December2003", "Sent/August2004", "Other"]:
        R.ok(c, f"CREATE {name}")
    got = listing(c, 'LIST "" ("INBOX" "Drafts" "Sent/%")')
    assert set(got) == {"INBOX", "Sent/March2004", "Sent/December2003", "Sent/August2004"}
    # Overlapping patterns list a name once; an empty pattern matches nothing.
    got = listing(c, 'LIST "" ("INBOX" "Sent*" "" "inbox")')
    assert set(got) == {"INBOX", "Sent", "Sent/March2004", "Sent/December2003", "Sent/August2004"}
    # The brief's example on a new account.
    other = new_account(server, "pat")
    try:
        got = listing(other.login(), 'LIST "" ("INBOX" "Sent*")')
        assert set(got) == {"INBOX", "Sent"}
    finally:
        other.close()


def test_rfc5258_example_8_childinfo(account):
    c = account.login()
    bare(c)
    R.ok(c, "CREATE Foo/Bar")
    R.ok(c, "CREATE Foo/Baz")
    R.ok(c, "CREATE Moo")
    assert listing(c, 'LIST "" "%" RETURN (CHILDREN)') == {
        "INBOX": {"\\HasNoChildren"},
        "Foo": {"\\HasChildren"},
        "Moo": {"\\HasNoChildren"},
    }
    # A) Only Foo/Baz is subscribed.
    R.ok(c, "SUBSCRIBE Foo/Baz")
    assert listing(c, 'LIST (SUBSCRIBED) "" "*"') == {"Foo/Baz": {"\\Subscribed"}}
    assert listing(c, 'LIST (SUBSCRIBED) "" "%"') == {}
    r = R.ok(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert rows(r) == [("Foo", set(), CHILDINFO)]
    # A1) Foo is subscribed as well.
    R.ok(c, "SUBSCRIBE Foo")
    r = R.ok(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert rows(r) == [("Foo", {"\\Subscribed"}, CHILDINFO)]
    # B) Nothing subscribed: nothing listed, though Foo has children.
    R.ok(c, "UNSUBSCRIBE Foo")
    R.ok(c, "UNSUBSCRIBE Foo/Baz")
    assert rows(R.ok(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')) == []
    # C) Foo and Moo subscribed: Foo has children, none of them subscribed.
    R.ok(c, "SUBSCRIBE Foo")
    R.ok(c, "SUBSCRIBE Moo")
    r = R.ok(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)')
    assert rows(r) == [
        ("Foo", {"\\HasChildren", "\\Subscribed"}, None),
        ("Moo", {"\\HasNoChildren", "\\Subscribed"}, None),
    ]


def test_rfc5258_example_8_a2_nonexistent_parent(account):
    """A2: a parent that neither exists nor is subscribed, above a
    subscribed name (here, subscribed names need not exist)."""
    c = account.login()
    bare(c)
    R.ok(c, "SUBSCRIBE Foo/Baz")
    r = R.ok(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert rows(r) == [("Foo", {"\\NonExistent"}, CHILDINFO)]


def test_rfc5258_example_9_childinfo_whatever_the_pattern(account):
    c = account.login()
    bare(c)
    for name in ["foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222", "eps2/mamba", "qux2/bar2"]:
        R.ok(c, f"CREATE {name}")
    for name in ["foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222", "eps2", "eps2/mamba", "qux2/bar2"]:
        R.ok(c, f"SUBSCRIBE {name}")
    r = R.ok(c, 'LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"')
    assert rows(r) == [
        ("baz2/bar2", {"\\Subscribed"}, None),
        ("baz2/bar22", {"\\Subscribed"}, None),
        ("baz2/bar222", {"\\Subscribed"}, None),
        ("eps2", {"\\Subscribed"}, CHILDINFO),
        ("foo2", set(), CHILDINFO),
        ("foo2/bar2", {"\\Subscribed"}, None),
        ("qux2/bar2", {"\\Subscribed"}, None),
    ]


def test_rfc5258_example_10_childinfo_without_children(account):
    c = account.login()
    bare(c)
    R.ok(c, "CREATE foo")
    R.ok(c, "SUBSCRIBE foo/bar")
    assert listing(c, 'LIST "" ("foo" "foo/*")') == {"foo": set()}
    assert listing(c, 'LIST (SUBSCRIBED) "" "foo/*"') == {"foo/bar": {"\\Subscribed", "\\NonExistent"}}
    r = R.ok(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)')
    assert rows(r) == [("foo", {"\\HasNoChildren"}, CHILDINFO)]


@pytest.mark.parametrize(
    "command",
    [
        'LIST (RECURSIVEMATCH) "" "%"',
        'LIST (REMOTE RECURSIVEMATCH) "" "%"',
        'LIST (SPECIAL-USE RECURSIVEMATCH) "" "%"',
        'LIST (VIRTUAL) "" "%"',
        'LIST "" "%" RETURN (MYRIGHTS)',
        'LIST "" "%" RETURN (STATUS ())',
        'LIST "" "%" RETURN (STATUS (NOTHING))',
        'LIST "" ()',
        'LIST (SUBSCRIBED) "" "%" RETURN',
    ],
)
def test_what_rfc5258_forbids_is_bad(account, command):
    c = account.login()
    assert R.run(c, command).kind == "BAD"
    R.ok(c, "NOOP")


def test_extended_empty_pattern_is_not_the_delimiter_request(account):
    """RFC 5258 §3: only the plain LIST gives `""` its special meaning."""
    c = account.login()
    assert R.ok(c, 'LIST () "" ""').untagged == []
    assert R.ok(c, 'LIST "" ""').untagged == [b'* LIST (\\Noselect) "/" ""\r\n']


# -- LIST-STATUS, RFC 5819 §3 -------------------------------------------------


def test_rfc5819_example_1(account):
    c = account.login()
    bare(c)
    R.ok(c, "CREATE foo")
    R.ok(c, "CREATE bar/child")
    R.ok(c, "DELETE bar")  # leaves bar as \Noselect
    for i in range(3):
        R.append(c, "INBOX", b"Subject: %d\r\n\r\nx\r\n" % i, flags="\\Seen" if i == 0 else None)
    R.append(c, "foo", b"Subject: f\r\n\r\nx\r\n")
    r = R.ok(c, 'LIST "" % RETURN (STATUS (MESSAGES UNSEEN))')
    assert [(name, attrs) for name, attrs, _ in rows(r)] == [
        ("INBOX", set()),
        ("bar", {"\\Noselect"}),
        ("foo", set()),
    ]
    # Each STATUS follows its LIST line; none for \Noselect bar.
    assert [u.split(b" ")[1] for u in r.untagged] == [b"LIST", b"STATUS", b"LIST", b"LIST", b"STATUS"], r
    assert statuses(r) == [
        ("INBOX", {"MESSAGES": 3, "UNSEEN": 2}),
        ("foo", {"MESSAGES": 1, "UNSEEN": 1}),
    ]
    # The same numbers as the STATUS command gives.
    for name, items in statuses(r):
        assert statuses(R.ok(c, f"STATUS {name} (MESSAGES UNSEEN)")) == [(name, items)]


def test_rfc5819_example_2(account):
    c = account.login()
    bare(c)
    R.ok(c, "SUBSCRIBE INBOX")
    R.ok(c, "CREATE foo/sub")
    R.ok(c, "SUBSCRIBE foo/sub")
    R.append(c, "INBOX", b"Subject: a\r\n\r\nx\r\n")
    r = R.ok(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES))')
    assert rows(r) == [("INBOX", {"\\Subscribed"}, None), ("foo", set(), CHILDINFO)]
    # foo is listed for its child only: no STATUS for it.
    assert statuses(r) == [("INBOX", {"MESSAGES": 1})]


def test_list_status_with_special_use_and_every_item(account):
    c = account.login()
    R.append(c, "Sent", b"Subject: s\r\n\r\nx\r\n", flags="\\Seen")
    items = "MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN"
    r = R.ok(c, f'LIST (SPECIAL-USE) "" "*" RETURN (STATUS ({items}))')
    got = dict(statuses(r))
    assert set(got) == {name for name, attrs in DEFAULTS.items() if attrs}
    for name, values in got.items():
        assert statuses(R.ok(c, f"STATUS {name} ({items})")) == [(name, values)]
    assert got["Sent"]["MESSAGES"] == 1 and got["Sent"]["UNSEEN"] == 0
