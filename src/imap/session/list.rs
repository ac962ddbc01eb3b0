//! LIST and LSUB name matching (RFC 3501 §6.3.8, §6.3.9).
//!
//! `*` matches any run of characters, the hierarchy delimiter included; `%`
//! matches any run without the delimiter. `INBOX` is matched without regard
//! to case, as RFC 3501 §5.1 makes the name case-insensitive.

/// The hierarchy delimiter of every mailbox name.
pub const DELIMITER: char = '/';

/// The canonical pattern of a LIST: the reference name with the mailbox
/// pattern appended (RFC 3501 §6.3.8), with a leading `INBOX` in any case
/// made upper-case so it matches the stored name.
pub fn canonical_pattern(reference: &str, pattern: &str) -> String {
    let full = if pattern.starts_with(DELIMITER) || reference.is_empty() {
        // An absolute pattern ignores the reference.
        pattern.to_string()
    } else {
        format!("{reference}{pattern}")
    };
    canonical_inbox(&full)
}

/// `inbox`, `Inbox/x`, … → `INBOX`, `INBOX/x`.
pub fn canonical_inbox(name: &str) -> String {
    let bytes = name.as_bytes();
    if bytes.len() >= 5
        && name.is_char_boundary(5)
        && name[..5].eq_ignore_ascii_case("INBOX")
        && (bytes.len() == 5 || bytes[5] == DELIMITER as u8)
    {
        format!("INBOX{}", &name[5..])
    } else {
        name.to_string()
    }
}

/// Longest pattern or name matched, in characters; longer ones never match.
/// Names are far shorter than this, and it bounds the work to ~1M steps.
pub const MAX_MATCH_LEN: usize = 1024;

/// Whether `name` matches the canonical `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if p.len() > MAX_MATCH_LEN || n.len() > MAX_MATCH_LEN {
        return false;
    }
    // Dynamic programming over (pattern prefix, name prefix), one row per
    // pattern character: O(|p|·|n|) time, O(|n|) memory, no recursion.
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        next[0] = row[0] && (pc == '*' || pc == '%');
        for j in 1..=n.len() {
            next[j] = match pc {
                '*' => row[j] || next[j - 1],
                '%' => row[j] || (next[j - 1] && n[j - 1] != DELIMITER),
                c => row[j - 1] && n[j - 1] == c,
            };
        }
        row = next;
    }
    row[n.len()]
}

/// Every proper ancestor of a name: `a/b/c` → `a`, `a/b`.
pub fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(move |(i, _)| &name[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "a"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a/*", "a/b/c"));
        assert!(matches("a%c", "abc"));
        assert!(!matches("a%c", "a/c"));
        assert!(matches("a*c", "a/c"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("%/%", "a/b"));
    }

    #[test]
    fn references_and_inbox() {
        assert_eq!(
            canonical_pattern("~smith/Mail/", "foo.*"),
            "~smith/Mail/foo.*"
        );
        assert_eq!(canonical_pattern("", "inbox"), "INBOX");
        assert_eq!(canonical_pattern("Inbox/", "%"), "INBOX/%");
        assert_eq!(canonical_pattern("x/", "/abs"), "/abs");
        assert_eq!(canonical_inbox("INBOXES"), "INBOXES");
        assert_eq!(canonical_inbox("inboxes"), "inboxes");
    }

    #[test]
    fn pathological_pattern_is_cheap() {
        let p = "*%".repeat(200) + "x";
        let n = "a".repeat(300);
        assert!(!matches(&p, &n));
    }

    #[test]
    fn ancestors_of_a_name() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), vec!["a", "a/b"]);
        assert_eq!(ancestors("a").count(), 0);
    }
}
