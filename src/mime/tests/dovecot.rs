//! Agreement with Dovecot, without Dovecot: `tests/mime-corpus/X.dovecot`
//! holds Dovecot's answers for `X.eml` (written by `dovecot_compare.py`),
//! and `DOVECOT.md` gives each message a verdict line:
//! `` - `X.eml`: identical… `` or `` - `X.eml`: differs in ITEM, ITEM; why… ``
//! (`BODY[*]` stands for every BODY[section]). Every item not listed as
//! differing must agree: ENVELOPE, BODY and BODYSTRUCTURE as the same values
//! (a string may be quoted on one side and a literal on the other, RFC 3501
//! §4.3), and each BODY[section] as the same bytes.

use super::*;

/// One `== ITEM len` / `== ITEM NIL` entry of a `.dovecot` file.
fn reference(name: &str) -> Vec<(String, Option<Vec<u8>>)> {
    let path = corpus_dir().join(format!("{name}.dovecot"));
    let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut i = b.iter().position(|&c| c == b'\n').expect("version line") + 1;
    let mut out = Vec::new();
    while i < b.len() {
        let nl = i + b[i..].iter().position(|&c| c == b'\n').expect("item line");
        let line = std::str::from_utf8(&b[i..nl]).expect("ASCII item line");
        let (item, len) = line
            .strip_prefix("== ")
            .and_then(|l| l.rsplit_once(' '))
            .unwrap_or_else(|| panic!("{name}.dovecot: bad item line {line:?}"));
        i = nl + 1;
        if len == "NIL" {
            out.push((item.to_owned(), None));
        } else {
            let n: usize = len.parse().expect("item length");
            out.push((item.to_owned(), Some(b[i..i + n].to_vec())));
            i += n + 1;
        }
    }
    out
}

/// A production as a client sees it: parentheses, NIL, atoms and numbers,
/// and strings by value whether quoted or literal.
#[derive(Debug, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Nil,
    Atom(Vec<u8>),
    Str(Vec<u8>),
}

fn tokens(b: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' => i += 1,
            b'(' => {
                out.push(Tok::Open);
                i += 1;
            }
            b')' => {
                out.push(Tok::Close);
                i += 1;
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    s.push(b[i]);
                    i += 1;
                }
                out.push(Tok::Str(s));
                i += 1;
            }
            b'{' => {
                let close = i + b[i..].iter().position(|&c| c == b'}').expect("literal");
                let n: usize = std::str::from_utf8(&b[i + 1..close])
                    .expect("ASCII length")
                    .parse()
                    .expect("literal length");
                let start = close + 3; // "}\r\n"
                out.push(Tok::Str(b[start..start + n].to_vec()));
                i = start + n;
            }
            _ => {
                let end = i + b[i..]
                    .iter()
                    .position(|&c| matches!(c, b' ' | b'(' | b')'))
                    .unwrap_or(b.len() - i);
                let atom = &b[i..end];
                out.push(if atom.eq_ignore_ascii_case(b"NIL") {
                    Tok::Nil
                } else {
                    Tok::Atom(atom.to_vec())
                });
                i = end;
            }
        }
    }
    out
}

/// `1.2.MIME`, `HEADER.FIELDS (A B)`, `` … as written inside BODY[…].
fn parse_section(s: &str) -> Section {
    let mut part = Vec::new();
    let mut rest = s;
    while let Some(end) = rest
        .find(|c: char| !c.is_ascii_digit())
        .or(Some(rest.len()))
        .filter(|&e| e > 0)
    {
        part.push(rest[..end].parse::<NonZeroU32>().expect("part number"));
        rest = rest[end..].strip_prefix('.').unwrap_or(&rest[end..]);
    }
    let list = |l: &str| -> Vec<String> {
        l.trim_matches(|c| c == '(' || c == ')' || c == ' ')
            .split(' ')
            .map(str::to_owned)
            .collect()
    };
    let text = match rest {
        "" => None,
        "HEADER" => Some(SectionText::Header),
        "TEXT" => Some(SectionText::Text),
        "MIME" => Some(SectionText::Mime),
        _ => Some(if let Some(l) = rest.strip_prefix("HEADER.FIELDS.NOT ") {
            SectionText::HeaderFieldsNot(list(l))
        } else if let Some(l) = rest.strip_prefix("HEADER.FIELDS ") {
            SectionText::HeaderFields(list(l))
        } else {
            panic!("unknown section text {rest:?}")
        }),
    };
    Section { part, text }
}

/// `- \`name\`: verdict…` lines of DOVECOT.md.
fn verdicts() -> Vec<(String, String)> {
    let md = std::fs::read_to_string(corpus_dir().join("DOVECOT.md")).expect("DOVECOT.md exists");
    md.lines()
        .filter_map(|l| {
            let l = l.strip_prefix("- `")?;
            let (name, rest) = l.split_once("`: ")?;
            Some((name.trim_end_matches(".eml").to_owned(), rest.to_owned()))
        })
        .collect()
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).escape_debug().to_string()
}

#[test]
fn every_corpus_message_has_a_dovecot_verdict() {
    let verdicts = verdicts();
    for (name, _) in corpus() {
        assert!(
            corpus_dir().join(format!("{name}.dovecot")).exists(),
            "{name}.dovecot is missing: run tests/mime-corpus/dovecot_compare.py --write"
        );
        assert!(
            verdicts.iter().any(|(n, _)| *n == name),
            "DOVECOT.md has no verdict for {name}"
        );
    }
}

/// The items a verdict says differ: none for "identical".
fn differing(verdict: &str) -> Vec<String> {
    match verdict.strip_prefix("differs in ") {
        Some(rest) => rest
            .split(';')
            .next()
            .unwrap_or_default()
            .split(", ")
            .map(str::to_owned)
            .collect(),
        None => {
            assert!(verdict.starts_with("identical"), "bad verdict {verdict:?}");
            Vec::new()
        }
    }
}

#[test]
fn agrees_with_dovecot_where_the_verdict_says_so() {
    let verdicts = verdicts();
    let identical = verdicts
        .iter()
        .filter(|(_, v)| v.starts_with("identical"))
        .count();
    assert!(
        identical >= 10,
        "DOVECOT.md lists too few identical messages"
    );
    let mut failures = Vec::new();
    for (name, verdict) in &verdicts {
        let skip = differing(verdict);
        let raw = load(name);
        let a = analyze(&raw);
        for (item, want) in reference(name) {
            if skip.contains(&item)
                || (item.starts_with("BODY[") && skip.iter().any(|s| s == "BODY[*]"))
            {
                continue;
            }
            let want = want.unwrap_or_else(|| panic!("{name}: Dovecot answered NIL for {item}"));
            let ours: Option<Vec<u8>> = match item.as_str() {
                "ENVELOPE" => Some(a.envelope.clone()),
                "BODY" => Some(a.body.clone()),
                "BODYSTRUCTURE" => Some(a.bodystructure.clone()),
                _ => {
                    let s = item
                        .strip_prefix("BODY[")
                        .and_then(|s| s.strip_suffix(']'))
                        .unwrap_or_else(|| panic!("{name}: unknown item {item}"));
                    section(&raw, &a.parts, &parse_section(s)).map(|c| c.into_owned())
                }
            };
            let same = match &ours {
                None => false,
                Some(o) if item.starts_with("BODY[") => *o == want,
                Some(o) => tokens(o) == tokens(&want),
            };
            if !same {
                failures.push(format!(
                    "{name} {item}:\n  dovecot: {}\n  ours:    {}",
                    show(&want),
                    ours.as_deref().map_or("(none)".to_owned(), show)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "disagreement with Dovecot that DOVECOT.md does not list:\n{}",
        failures.join("\n")
    );
}

#[test]
fn section_names_parse() {
    assert_eq!(parse_section(""), sec(&[], None));
    assert_eq!(
        parse_section("2.1.MIME"),
        sec(&[2, 1], Some(SectionText::Mime))
    );
    assert_eq!(parse_section("12"), sec(&[12], None));
    assert_eq!(
        parse_section("HEADER.FIELDS (FROM SUBJECT)"),
        sec(
            &[],
            Some(SectionText::HeaderFields(fields(&["FROM", "SUBJECT"])))
        )
    );
    assert_eq!(
        tokens(b"(\"a\\\"b\" {3}\r\nx y NIL 7)"),
        tokens(b"({3}\r\na\"b \"x y\" nil 7)")
    );
}
