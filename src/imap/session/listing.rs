//! LIST and LSUB: which names a listing reports and with which attributes.
//! The RFC 3501 forms (§6.3.8, §6.3.9) and the extended LIST of RFC 5258
//! (selection and return options, several patterns, \NonExistent,
//! \Subscribed, CHILDINFO) with RFC 6154's SPECIAL-USE and RFC 5819's
//! STATUS return option. Pattern matching itself is in `list`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::Session;
use super::list::{self, DELIMITER};
use crate::imap::proto::response::{Data, Response, StatusKind};
use crate::imap::proto::types::{ListReturn, ListSelect, StatusItem, Tag};
use crate::mailbox::MailboxSummary;

/// Patterns of one extended LIST that are matched; RFC 5258 §3: "If a
/// server doesn't accept a particular pattern, it MUST silently ignore it",
/// so the ones past this bound the work instead of failing the command.
pub const MAX_PATTERNS: usize = 64;

/// One LIST response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub name: String,
    pub attributes: Vec<String>,
    /// RFC 5258 §3.5: a descendant that is not listed meets the selection
    /// criteria.
    pub child_info: bool,
    /// The name meets the selection criteria and is a selectable mailbox:
    /// a STATUS return option (RFC 5819) answers for it.
    pub status: bool,
}

impl Session {
    /// LIST (RFC 3501 §6.3.8) and LSUB (§6.3.9).
    pub(super) fn list(
        &mut self,
        tag: Tag,
        reference: &str,
        pattern: &str,
        lsub: bool,
        now: Instant,
    ) {
        let command = if lsub { "LSUB" } else { "LIST" };
        let Some(user_id) = self.user_id() else {
            return;
        };
        if pattern.is_empty() && !lsub {
            // The hierarchy delimiter and the root of the reference.
            let root = reference.split(DELIMITER).next().unwrap_or("").to_string();
            let root = if reference.contains(DELIMITER) {
                format!("{root}{DELIMITER}")
            } else {
                root
            };
            self.respond(&Response::Data(Data::List {
                attributes: vec!["\\Noselect".into()],
                delimiter: Some(DELIMITER),
                name: root,
                child_info: false,
            }));
            return self.tagged(
                tag,
                command,
                now,
                now,
                StatusKind::Ok,
                None,
                "LIST completed",
            );
        }
        let pattern = list::canonical_pattern(reference, pattern);
        let found = self
            .mail
            .read(|r| Ok((r.mailboxes(user_id)?, r.subscriptions(user_id)?)));
        let (mailboxes, subscriptions) = match found {
            Ok(found) => found,
            Err(e) => return self.mail_error(tag, command, now, now, &e),
        };
        if lsub {
            for (name, attributes) in lsub_rows(&pattern, &mailboxes, &subscriptions) {
                self.respond(&Response::Data(Data::Lsub {
                    attributes,
                    delimiter: Some(DELIMITER),
                    name,
                }));
            }
        } else {
            // The plain LIST reports what RETURN (CHILDREN SPECIAL-USE)
            // would: RFC 3348's attributes (CHILDREN is advertised) and
            // RFC 6154 §2's, which clients that only know the plain LIST
            // look for.
            let returns = ListReturn {
                children: true,
                special_use: true,
                ..ListReturn::default()
            };
            let rows = extended_rows(
                &ListSelect::default(),
                &returns,
                &[pattern],
                &mailboxes,
                &subscriptions,
            );
            for row in rows {
                self.respond(&Response::Data(list_data(row)));
            }
        }
        self.completed(tag, command, now, now);
    }

    /// The extended LIST (RFC 5258), with a STATUS response after each
    /// selectable mailbox when asked (RFC 5819). Everything is read in one
    /// snapshot, so a LIST line and its STATUS agree.
    pub(super) fn list_extended(
        &mut self,
        tag: Tag,
        select: &ListSelect,
        reference: &str,
        patterns: &[String],
        returns: &ListReturn,
        now: Instant,
    ) {
        let Some(user_id) = self.user_id() else {
            return;
        };
        // RFC 5258 §3: an empty pattern has no special meaning here and
        // "MUST be ignored for the purpose of matching".
        let mut canonical: Vec<String> = Vec::new();
        for p in patterns.iter().filter(|p| !p.is_empty()) {
            let p = list::canonical_pattern(reference, p);
            if !canonical.contains(&p) && canonical.len() < MAX_PATTERNS {
                canonical.push(p);
            }
        }
        if returns
            .status
            .as_ref()
            .is_some_and(|items| items.contains(&StatusItem::HighestModSeq))
        {
            // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) enables CONDSTORE, in
            // LIST's STATUS return option as in the STATUS command.
            self.condstore_enabling();
        }
        let found = self.mail.read(|r| {
            let mailboxes = r.mailboxes(user_id)?;
            let subscriptions = r.subscriptions(user_id)?;
            let rows = extended_rows(select, returns, &canonical, &mailboxes, &subscriptions);
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let status = match &returns.status {
                    // RFC 5819 §2: a STATUS that fails is left out; the
                    // LIST still succeeds.
                    Some(items) if row.status => self.list_status(r, user_id, &row.name, items),
                    _ => None,
                };
                out.push((row, status));
            }
            Ok(out)
        });
        let rows = match found {
            Ok(rows) => rows,
            Err(e) => return self.mail_error(tag, "LIST", now, now, &e),
        };
        for (row, status) in rows {
            self.respond(&Response::Data(list_data(row)));
            if let Some(status) = status {
                self.respond(&Response::Data(status));
            }
        }
        self.completed(tag, "LIST", now, now);
    }

    /// The STATUS of one listed mailbox through the STATUS command's own
    /// path, or `None` if it cannot be had.
    fn list_status(
        &self,
        r: &crate::mailbox::MailReader<'_>,
        user_id: u64,
        name: &str,
        items: &[StatusItem],
    ) -> Option<Data> {
        match self.status_data(r, user_id, name, items) {
            Ok(data) => Some(data),
            Err(e) => {
                tracing::debug!(error = %e, "LIST-STATUS left a mailbox out");
                None
            }
        }
    }
}

fn list_data(row: ListRow) -> Data {
    Data::List {
        attributes: row.attributes,
        delimiter: Some(DELIMITER),
        name: row.name,
        child_info: row.child_info,
    }
}

/// The rows of a LIST, plain or extended, in name order (RFC 5258 §3.3).
///
/// A name is listed when it matches one of the canonical `patterns` and
/// either meets the selection criteria (it exists, or with SUBSCRIBED is
/// subscribed; with SPECIAL-USE it also has a special use) or, with
/// RECURSIVEMATCH, has a descendant that meets them and is not listed
/// itself. That last part is RFC 5258 §3.5's "Servers SHOULD ONLY return a
/// non-matching mailbox name along with CHILDINFO if at least one matching
/// child is not also being returned", which also keeps CHILDINFO off a
/// parent whose qualifying children are all in the answer.
pub fn extended_rows(
    select: &ListSelect,
    returns: &ListReturn,
    patterns: &[String],
    mailboxes: &[MailboxSummary],
    subscriptions: &[String],
) -> Vec<ListRow> {
    let existing: BTreeMap<&str, &MailboxSummary> =
        mailboxes.iter().map(|m| (m.name.as_str(), m)).collect();
    let subscribed: BTreeSet<&str> = subscriptions.iter().map(String::as_str).collect();
    let matches_any = |name: &str| patterns.iter().any(|p| list::matches(p, name));
    let meets = |name: &str| {
        let base = if select.subscribed {
            subscribed.contains(name)
        } else {
            existing.contains_key(name)
        };
        // RFC 6154 §2: "the LIST command MUST return only those mailboxes
        // that have a special-use attribute set".
        base && (!select.special_use
            || existing
                .get(name)
                .is_some_and(|m| !m.special_use.is_empty()))
    };
    let mut names: BTreeSet<&str> = existing.keys().copied().collect();
    names.extend(subscribed.iter().copied());
    let mut child_info: BTreeSet<&str> = BTreeSet::new();
    if select.recursive_match {
        for &name in &names {
            if meets(name) && !matches_any(name) {
                child_info.extend(list::ancestors(name));
            }
        }
        names.extend(child_info.iter().copied());
    }
    let has_children = |name: &str| {
        let prefix = format!("{name}{DELIMITER}");
        existing
            .range::<&str, _>(prefix.as_str()..)
            .next()
            .is_some_and(|(n, _)| n.starts_with(&prefix))
    };
    let mut rows = Vec::new();
    for name in names {
        let selected = meets(name);
        let child_info = child_info.contains(name);
        if !(selected || child_info) || !matches_any(name) {
            continue;
        }
        let mailbox = existing.get(name);
        let mut attributes = Vec::new();
        match mailbox {
            // RFC 5258 §3: "\NonExistent" implies "\NoSelect".
            None => attributes.push("\\NonExistent".to_string()),
            Some(m) if m.noselect => attributes.push("\\Noselect".to_string()),
            Some(_) => {}
        }
        if (returns.special_use || select.special_use)
            && let Some(m) = mailbox
        {
            attributes.extend(m.special_use.iter().map(|u| u.name().into_owned()));
        }
        if returns.children {
            attributes.push(if has_children(name) {
                "\\HasChildren".to_string()
            } else {
                "\\HasNoChildren".to_string()
            });
        }
        // RFC 5258 §3.1: the SUBSCRIBED selection option implies the
        // SUBSCRIBED return option.
        if (returns.subscribed || select.subscribed) && subscribed.contains(name) {
            attributes.push("\\Subscribed".to_string());
        }
        rows.push(ListRow {
            name: name.to_string(),
            attributes,
            child_info,
            status: selected && mailbox.is_some_and(|m| !m.noselect),
        });
    }
    rows
}

/// LSUB rows: subscribed names matching; when `%` would match a level
/// above a subscribed name that is not itself subscribed, that level is
/// listed with \Noselect (RFC 3501 §6.3.9).
fn lsub_rows(
    pattern: &str,
    mailboxes: &[MailboxSummary],
    subscriptions: &[String],
) -> Vec<(String, Vec<String>)> {
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in subscriptions {
        if list::matches(pattern, name) {
            let noselect = mailboxes
                .iter()
                .find(|m| &m.name == name)
                .is_none_or(|m| m.noselect);
            let attrs = if noselect {
                vec!["\\Noselect".to_string()]
            } else {
                Vec::new()
            };
            rows.insert(name.clone(), attrs);
        } else {
            for parent in list::ancestors(name) {
                if list::matches(pattern, parent) && !rows.contains_key(parent) {
                    rows.insert(parent.to_string(), vec!["\\Noselect".to_string()]);
                }
            }
        }
    }
    rows.into_iter().collect()
}
