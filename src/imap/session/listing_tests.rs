//! The examples of RFC 5258 §5, RFC 6154 §5 and RFC 5819 §3 against the
//! listing logic, plus transcripts of the extended LIST, CREATE USE and
//! LIST-STATUS through a session on a real store.
//!
//! The RFC hierarchies are given as they are, including names whose parent
//! does not exist, which this server's store never produces; the logic does
//! not rely on that. The RFCs' `\Marked` and `\NoInferiors` are not
//! attributes this server uses, so they are absent from the expectations.

use super::listing::extended_rows;
use super::tests::M;
use crate::imap::proto::types::{ListReturn, ListSelect, StatusItem, UseAttr};
use crate::mailbox::MailboxSummary;

fn mailbox(name: &str) -> MailboxSummary {
    MailboxSummary {
        id: 0,
        name: name.into(),
        uidvalidity: 1,
        uidnext: 1,
        highest_modseq: 1,
        noselect: false,
        messages: 0,
        unseen: 0,
        deleted: 0,
        size: 0,
        recent_floor: 1,
        keywords: vec![],
        special_use: vec![],
    }
}

fn mailboxes(names: &[&str]) -> Vec<MailboxSummary> {
    names.iter().map(|n| mailbox(n)).collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

const NONE: ListSelect = ListSelect {
    subscribed: false,
    remote: false,
    recursive_match: false,
    special_use: false,
};
const SUBSCRIBED: ListSelect = ListSelect {
    subscribed: true,
    ..NONE
};
const RECURSIVE: ListSelect = ListSelect {
    recursive_match: true,
    ..SUBSCRIBED
};

fn children() -> ListReturn {
    ListReturn {
        children: true,
        ..Default::default()
    }
}

/// The LIST lines as the wire shows them, without the delimiter. Names
/// come in byte order, where the RFCs' examples put INBOX first.
fn list(
    select: ListSelect,
    returns: &ListReturn,
    patterns: &[&str],
    existing: &[MailboxSummary],
    subscribed: &[&str],
) -> Vec<String> {
    extended_rows(
        &select,
        returns,
        &strings(patterns),
        existing,
        &strings(subscribed),
    )
    .into_iter()
    .map(|row| {
        let info = if row.child_info {
            " (\"CHILDINFO\" (\"SUBSCRIBED\"))"
        } else {
            ""
        };
        format!("({}) {}{info}", row.attributes.join(" "), row.name)
    })
    .collect()
}

/// RFC 5258 §5 example 1's hierarchy and subscriptions.
fn produce() -> (Vec<MailboxSummary>, Vec<&'static str>) {
    (
        mailboxes(&[
            "INBOX",
            "Fruit",
            "Fruit/Apple",
            "Fruit/Banana",
            "Tofu",
            "Vegetable",
            "Vegetable/Broccoli",
            "Vegetable/Corn",
        ]),
        vec![
            "INBOX",
            "Fruit/Banana",
            "Fruit/Peach",
            "Vegetable",
            "Vegetable/Broccoli",
        ],
    )
}

#[test]
fn rfc5258_examples_1_to_6() {
    let (existing, subscribed) = produce();
    let none = ListReturn::default();
    // 1: A01 LIST "" "*" (the extended form without options).
    assert_eq!(
        list(NONE, &none, &["*"], &existing, &subscribed),
        [
            "() Fruit",
            "() Fruit/Apple",
            "() Fruit/Banana",
            "() INBOX",
            "() Tofu",
            "() Vegetable",
            "() Vegetable/Broccoli",
            "() Vegetable/Corn",
        ]
    );
    // 2 and 5: LIST (SUBSCRIBED) "" "*", LIST (REMOTE SUBSCRIBED) "" "*".
    let expected = [
        "(\\Subscribed) Fruit/Banana",
        "(\\NonExistent \\Subscribed) Fruit/Peach",
        "(\\Subscribed) INBOX",
        "(\\Subscribed) Vegetable",
        "(\\Subscribed) Vegetable/Broccoli",
    ];
    assert_eq!(
        list(SUBSCRIBED, &none, &["*"], &existing, &subscribed),
        expected
    );
    let remote = ListSelect {
        remote: true,
        ..NONE
    };
    let remote_subscribed = ListSelect {
        remote: true,
        ..SUBSCRIBED
    };
    assert_eq!(
        list(remote_subscribed, &none, &["*"], &existing, &subscribed),
        expected
    );
    // 3 and 4: LIST () "" "%" RETURN (CHILDREN), and with REMOTE.
    let expected = [
        "(\\HasChildren) Fruit",
        "(\\HasNoChildren) INBOX",
        "(\\HasNoChildren) Tofu",
        "(\\HasChildren) Vegetable",
    ];
    assert_eq!(
        list(NONE, &children(), &["%"], &existing, &subscribed),
        expected
    );
    assert_eq!(
        list(remote, &children(), &["%"], &existing, &subscribed),
        expected
    );
    // 6: LIST (REMOTE) "" "*" RETURN (SUBSCRIBED): no Fruit/Peach, which
    // does not exist.
    let returns = ListReturn {
        subscribed: true,
        ..Default::default()
    };
    assert_eq!(
        list(remote, &returns, &["*"], &existing, &subscribed),
        [
            "() Fruit",
            "() Fruit/Apple",
            "(\\Subscribed) Fruit/Banana",
            "(\\Subscribed) INBOX",
            "() Tofu",
            "(\\Subscribed) Vegetable",
            "(\\Subscribed) Vegetable/Broccoli",
            "() Vegetable/Corn",
        ]
    );
}

#[test]
fn rfc5258_example_7_multiple_patterns() {
    let existing = mailboxes(&[
        "INBOX",
        "Drafts",
        "Sent",
        "Sent/March2004",
        "Sent/December2003",
        "Sent/August2004",
        "Trash",
    ]);
    assert_eq!(
        list(
            NONE,
            &ListReturn::default(),
            &["INBOX", "Drafts", "Sent/%", "Sent/*"],
            &existing,
            &[]
        ),
        [
            "() Drafts",
            "() INBOX",
            "() Sent/August2004",
            "() Sent/December2003",
            "() Sent/March2004",
        ]
    );
}

#[test]
fn rfc5258_example_8_childinfo_and_children() {
    let existing = mailboxes(&["INBOX", "Foo", "Foo/Bar", "Foo/Baz", "Moo"]);
    let none = ListReturn::default();
    assert_eq!(
        list(NONE, &children(), &["%"], &existing, &[]),
        [
            "(\\HasChildren) Foo",
            "(\\HasNoChildren) INBOX",
            "(\\HasNoChildren) Moo"
        ]
    );
    // A) Only Foo/Baz is subscribed.
    let subscribed = ["Foo/Baz"];
    assert_eq!(
        list(SUBSCRIBED, &none, &["*"], &existing, &subscribed),
        ["(\\Subscribed) Foo/Baz"]
    );
    assert!(list(SUBSCRIBED, &none, &["%"], &existing, &subscribed).is_empty());
    assert_eq!(
        list(RECURSIVE, &none, &["%"], &existing, &subscribed),
        ["() Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))"]
    );
    // A1) Foo is subscribed too.
    assert_eq!(
        list(RECURSIVE, &none, &["%"], &existing, &["Foo", "Foo/Baz"]),
        ["(\\Subscribed) Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))"]
    );
    // A2) Foo does not exist and is not subscribed.
    let without_foo = mailboxes(&["INBOX", "Foo/Bar", "Foo/Baz", "Moo"]);
    assert_eq!(
        list(RECURSIVE, &none, &["%"], &without_foo, &subscribed),
        ["(\\NonExistent) Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))"]
    );
    // B) Nothing is subscribed.
    assert!(list(RECURSIVE, &none, &["%"], &existing, &[]).is_empty());
    // C) Foo and Moo are subscribed: Foo has children, none subscribed.
    assert_eq!(
        list(RECURSIVE, &children(), &["%"], &existing, &["Foo", "Moo"]),
        [
            "(\\HasChildren \\Subscribed) Foo",
            "(\\HasNoChildren \\Subscribed) Moo"
        ]
    );
}

#[test]
fn rfc5258_example_9_childinfo_whatever_the_pattern() {
    let existing = mailboxes(&[
        "INBOX",
        "foo2",
        "foo2/bar1",
        "foo2/bar2",
        "baz2",
        "baz2/bar2",
        "baz2/bar22",
        "baz2/bar222",
        "eps2",
        "eps2/mamba",
        "qux2/bar2",
    ]);
    let subscribed = [
        "foo2/bar1",
        "foo2/bar2",
        "baz2/bar2",
        "baz2/bar22",
        "baz2/bar222",
        "eps2",
        "eps2/mamba",
        "qux2/bar2",
    ];
    let none = ListReturn::default();
    // D03 LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2": the RFC's answer
    // without the two lines it calls a violation of a SHOULD NOT.
    assert_eq!(
        list(RECURSIVE, &none, &["*2"], &existing, &subscribed),
        [
            "(\\Subscribed) baz2/bar2",
            "(\\Subscribed) baz2/bar22",
            "(\\Subscribed) baz2/bar222",
            "(\\Subscribed) eps2 (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "() foo2 (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "(\\Subscribed) foo2/bar2",
            "(\\Subscribed) qux2/bar2",
        ]
    );
    // With "*" every subscribed child is listed itself, so no CHILDINFO
    // is needed (the RFC shows it may still be sent; it is redundant).
    assert_eq!(
        list(RECURSIVE, &none, &["*"], &existing, &subscribed),
        subscribed
            .iter()
            .map(|n| format!("(\\Subscribed) {n}"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
}

#[test]
fn rfc5258_example_10_childinfo_without_children() {
    let existing = mailboxes(&["INBOX", "foo"]);
    let subscribed = ["foo/bar"];
    let none = ListReturn::default();
    assert_eq!(
        list(NONE, &none, &["foo", "foo/*"], &existing, &subscribed),
        ["() foo"]
    );
    assert_eq!(
        list(SUBSCRIBED, &none, &["foo/*"], &existing, &subscribed),
        ["(\\NonExistent \\Subscribed) foo/bar"]
    );
    assert_eq!(
        list(RECURSIVE, &children(), &["foo"], &existing, &subscribed),
        ["(\\HasNoChildren) foo (\"CHILDINFO\" (\"SUBSCRIBED\"))"]
    );
}

fn special_mailboxes() -> Vec<MailboxSummary> {
    let mut all = mailboxes(&["INBOX", "ToDo", "Projects", "Projects/x"]);
    for (name, uses) in [
        ("SentMail", vec![UseAttr::Sent]),
        ("MyDrafts", vec![UseAttr::Drafts]),
        ("Trash", vec![UseAttr::Trash]),
    ] {
        all.push(MailboxSummary {
            special_use: uses,
            ..mailbox(name)
        });
    }
    all
}

#[test]
fn rfc6154_examples() {
    let all = special_mailboxes();
    // §5.1, the plain LIST's attributes.
    let plain = ListReturn {
        children: true,
        special_use: true,
        ..Default::default()
    };
    assert_eq!(
        list(NONE, &plain, &["%"], &all, &[]),
        [
            "(\\HasNoChildren) INBOX",
            "(\\Drafts \\HasNoChildren) MyDrafts",
            "(\\HasChildren) Projects",
            "(\\Sent \\HasNoChildren) SentMail",
            "(\\HasNoChildren) ToDo",
            "(\\Trash \\HasNoChildren) Trash",
        ]
    );
    // §5.2: RETURN (SPECIAL-USE), then the selection option.
    let returns = ListReturn {
        special_use: true,
        ..Default::default()
    };
    assert_eq!(
        list(NONE, &returns, &["%"], &all, &[]),
        [
            "() INBOX",
            "(\\Drafts) MyDrafts",
            "() Projects",
            "(\\Sent) SentMail",
            "() ToDo",
            "(\\Trash) Trash",
        ]
    );
    let select = ListSelect {
        special_use: true,
        ..NONE
    };
    let expected = [
        "(\\Drafts) MyDrafts",
        "(\\Sent) SentMail",
        "(\\Trash) Trash",
    ];
    assert_eq!(
        list(select, &ListReturn::default(), &["*"], &all, &[]),
        expected
    );
    assert_eq!(list(select, &returns, &["*"], &all, &[]), expected);
    // Without either option the extended LIST leaves them out.
    assert_eq!(
        list(NONE, &ListReturn::default(), &["Trash"], &all, &[]),
        ["() Trash"]
    );
    // Selection options combine: subscribed and special-use.
    let both = ListSelect {
        special_use: true,
        ..SUBSCRIBED
    };
    assert_eq!(
        list(
            both,
            &ListReturn::default(),
            &["*"],
            &all,
            &["Trash", "ToDo", "Gone"]
        ),
        ["(\\Trash \\Subscribed) Trash"]
    );
}

#[test]
fn rfc5819_status_goes_with_what_meets_the_criteria() {
    let mut existing = mailboxes(&["INBOX", "foo", "foo/bar", "bar", "bar/x"]);
    existing[3].noselect = true;
    let rows = extended_rows(
        &RECURSIVE,
        &ListReturn {
            status: Some(vec![StatusItem::Messages]),
            ..Default::default()
        },
        &strings(&["%"]),
        &existing,
        &strings(&["INBOX", "foo/bar", "bar"]),
    );
    let got: Vec<(&str, bool, bool)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.child_info, r.status))
        .collect();
    // INBOX meets the criteria; foo is listed only for its child; bar is
    // subscribed but cannot be selected.
    assert_eq!(
        got,
        [
            ("INBOX", false, true),
            ("bar", false, false),
            ("foo", true, false)
        ]
    );
}

#[test]
fn transcript_create_use_and_list() {
    let mut m = M::new();
    let out = m.send("t2 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n");
    assert!(out.starts_with("t2 OK"), "{out}");
    let out = m.send("t3 CREATE Everything (USE (\\All))\r\n");
    assert!(out.starts_with("t3 NO [USEATTR] \\All "), "{out}");
    let out = m.send("t4 CREATE Stars (USE (\\Flagged))\r\n");
    assert!(out.starts_with("t4 NO [USEATTR] \\Flagged "), "{out}");
    let out = m.send("t5 CREATE Odd (USE (\\Sent \\Important))\r\n");
    assert!(out.starts_with("t5 NO [USEATTR] \\Important "), "{out}");
    let out = m.send("t6 CREATE Odd (FOO)\r\n");
    assert!(out.starts_with("t6 BAD"), "{out}");
    // Nothing refused was created.
    let out = m.send("a LIST \"\" *\r\n");
    assert_eq!(
        out,
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
         * LIST (\\Drafts \\Sent \\HasNoChildren) \"/\" MySpecial\r\n\
         a OK LIST completed\r\n"
    );
    // Special use survives RENAME, also when the mailbox moves down.
    assert!(
        m.send("b RENAME MySpecial Mail/Out\r\n")
            .starts_with("b OK")
    );
    let out = m.send("c LIST (SPECIAL-USE) \"\" *\r\n");
    assert_eq!(
        out,
        "* LIST (\\Drafts \\Sent) \"/\" Mail/Out\r\nc OK LIST completed\r\n"
    );
    // A DELETE that leaves a \Noselect name behind drops its use.
    assert!(m.send("d CREATE Mail/Out/old\r\n").starts_with("d OK"));
    assert!(m.send("e DELETE Mail/Out\r\n").starts_with("e OK"));
    let out = m.send("f LIST \"\" Mail/Out RETURN (SPECIAL-USE)\r\n");
    assert_eq!(
        out,
        "* LIST (\\Noselect) \"/\" Mail/Out\r\nf OK LIST completed\r\n"
    );
}

#[test]
fn transcript_list_extended_and_status() {
    let mut m = M::new();
    m.send("a CREATE Fruit/Banana\r\n");
    m.send("b CREATE Tofu\r\n");
    m.send("c SUBSCRIBE Fruit/Banana\r\n");
    m.send("d SUBSCRIBE Fruit/Peach\r\n");
    m.send("e APPEND Tofu {3+}\r\nab\n\r\n");
    let out = m.send("f LIST (SUBSCRIBED) \"\" \"*\"\r\n");
    assert_eq!(
        out,
        "* LIST (\\Subscribed) \"/\" Fruit/Banana\r\n\
         * LIST (\\NonExistent \\Subscribed) \"/\" Fruit/Peach\r\n\
         f OK LIST completed\r\n"
    );
    let out = m.send("g LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN)\r\n");
    assert_eq!(
        out,
        "* LIST (\\HasChildren) \"/\" Fruit (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n\
         g OK LIST completed\r\n"
    );
    let out = m.send("h LIST \"\" (Tofu INBOX \"\" Tofu) RETURN (STATUS (MESSAGES UNSEEN))\r\n");
    assert_eq!(
        out,
        "* LIST () \"/\" INBOX\r\n\
         * STATUS INBOX (MESSAGES 0 UNSEEN 0)\r\n\
         * LIST () \"/\" Tofu\r\n\
         * STATUS Tofu (MESSAGES 1 UNSEEN 1)\r\n\
         h OK LIST completed\r\n"
    );
    // A \Noselect mailbox gets no STATUS.
    m.send("i DELETE Fruit\r\n");
    let out = m.send("j LIST \"\" % RETURN (STATUS (UIDNEXT) CHILDREN)\r\n");
    assert_eq!(
        out,
        "* LIST (\\Noselect \\HasChildren) \"/\" Fruit\r\n\
         * LIST (\\HasNoChildren) \"/\" INBOX\r\n\
         * STATUS INBOX (UIDNEXT 1)\r\n\
         * LIST (\\HasNoChildren) \"/\" Tofu\r\n\
         * STATUS Tofu (UIDNEXT 2)\r\n\
         j OK LIST completed\r\n"
    );
    // The empty pattern is not the delimiter request in the extended form.
    assert_eq!(m.send("k LIST () \"\" \"\"\r\n"), "k OK LIST completed\r\n");
    let out = m.send("l LIST (RECURSIVEMATCH) \"\" %\r\n");
    assert!(out.starts_with("l BAD"), "{out}");
}
