//! Delivery into the store, shared by the LMTP connections and `roost
//! deliver`: who a recipient is (`Recipients`, the session's `Directory`),
//! what is stored for each (the headers Roost prepends), and the one write
//! that stores every copy of a message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, FixedOffset};

use super::command::{ForwardPath, ReversePath};
use super::session::{Delivery, Directory, Lookup, Outcome, Target};
use crate::logging::Uids;
use crate::mailbox::{MailAccess, MailError, delivered_message};
use crate::store::{CopyResult, DeliveryCopy};

/// How recipients are matched to users; from `[lmtp]`.
#[derive(Debug, Clone, Default)]
pub struct RecipientRules {
    /// Lower-case domains that are local; empty means any.
    pub domains: Vec<String>,
    pub plus_to_mailbox: bool,
}

/// Resolves recipients against the store (one snapshot read per RCPT).
#[derive(Clone)]
pub struct Recipients {
    pub mail: MailAccess,
    pub rules: RecipientRules,
}

impl Directory for Recipients {
    fn lookup(&self, rcpt: &ForwardPath) -> Lookup {
        match self.resolve(rcpt.local_part(), rcpt.domain()) {
            Ok(lookup) => lookup,
            Err(e) => {
                tracing::warn!(error = %e, rcpt = rcpt.as_given(), "recipient lookup failed");
                Lookup::Unavailable
            }
        }
    }
}

impl Recipients {
    /// The user a local part names: the whole address if a user has that
    /// name, else the local part, else the part before the first `+`
    /// (subaddress, RFC 5233), all case-insensitive. `+tag` picks the
    /// mailbox `tag` when `plus_to_mailbox` is on and the user has it.
    pub fn resolve(&self, local: &str, domain: Option<&str>) -> Result<Lookup, MailError> {
        if let Some(d) = domain
            && !self.rules.domains.is_empty()
            && !self.rules.domains.iter().any(|l| l.eq_ignore_ascii_case(d))
        {
            return Ok(Lookup::NotLocal);
        }
        let mut candidates: Vec<(String, Option<&str>)> = Vec::new();
        if let Some(d) = domain {
            candidates.push((format!("{local}@{d}"), None));
        }
        candidates.push((local.to_owned(), None));
        if let Some((user, tag)) = local.split_once('+') {
            candidates.push((user.to_owned(), Some(tag)));
        }
        for (name, tag) in candidates {
            let Some(user_id) = self.mail.user_id(&name)? else {
                continue;
            };
            let (mailbox, full) = self.mail.read(|r| {
                let mailbox = match tag {
                    Some(tag) if self.rules.plus_to_mailbox && !tag.is_empty() => r
                        .mailbox(user_id, tag)?
                        .filter(|m| !m.noselect)
                        .map_or_else(|| "INBOX".to_owned(), |m| m.name),
                    _ => "INBOX".to_owned(),
                };
                let q = r.quota(user_id)?;
                let full = q.storage_limit_kib.is_some_and(|l| q.storage_kib >= l)
                    || q.message_limit.is_some_and(|l| q.messages >= l);
                Ok((mailbox, full))
            })?;
            if full {
                return Ok(Lookup::OverQuota);
            }
            return Ok(Lookup::Local(Target {
                user: crate::store::normalize_user_name(&name).unwrap_or(name),
                user_id,
                mailbox,
            }));
        }
        Ok(Lookup::Unknown)
    }
}

/// Who delivered, for the `Received:` header.
#[derive(Debug, Clone)]
pub struct Via {
    /// Our host name.
    pub hostname: String,
    /// The peer: an IP address, or `local` for a unix socket.
    pub peer: String,
    /// `LMTP`, or `local` for `roost deliver`.
    pub protocol: &'static str,
}

/// Our id for a delivery, unique within the process and over restarts
/// (the time is part of it), in the `Received:` header and the log.
fn delivery_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let t = chrono::Utc::now().timestamp_micros();
    format!("{t:x}.{n:x}")
}

/// What goes before the message in one recipient's copy: `Return-Path:`
/// (RFC 5321 §4.4, the MAIL FROM path), `Delivered-To:` (the RCPT address
/// as given, as Postfix and Dovecot write it) and our `Received:` line.
pub fn trace_headers(
    from: &ReversePath,
    rcpt: &str,
    client: &str,
    via: &Via,
    id: &str,
    date: DateTime<FixedOffset>,
) -> Vec<u8> {
    let client = if client.is_empty() { "unknown" } else { client };
    format!(
        "Return-Path: {}\r\nDelivered-To: {rcpt}\r\nReceived: from {client} ({})\r\n\tby {} (Roost) with {} id {id}\r\n\tfor <{rcpt}>; {}\r\n",
        from.to_header_value(),
        via.peer,
        via.hostname,
        via.protocol,
        date.to_rfc2822(),
    )
    .into_bytes()
}

/// The MTA's queue id, from the `id` clause of the topmost `Received:`
/// header (Postfix: `... with ESMTP id 4Q1x2Y3z4 for <...>`). Only the
/// header section's first 64 KiB is looked at.
pub fn queue_id(message: &[u8]) -> Option<String> {
    let head = &message[..message.len().min(64 << 10)];
    let end = memchr::memmem::find(head, b"\r\n\r\n").unwrap_or(head.len());
    let head = &head[..end];
    let mut lines = head.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if line.len() < 9 || !line[..9].eq_ignore_ascii_case(b"received:") {
            continue;
        }
        // Unfold the header: continuation lines start with space or tab.
        let mut value = line[9..].to_vec();
        while let Some(next) = lines.peek() {
            if next.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                value.push(b' ');
                value.extend_from_slice(next);
                lines.next();
            } else {
                break;
            }
        }
        let text = String::from_utf8_lossy(&value).into_owned();
        let mut words = text.split(|c: char| c.is_ascii_whitespace() || c == ';');
        while let Some(w) = words.next() {
            if w.eq_ignore_ascii_case("id") {
                return words
                    .find(|w| !w.is_empty())
                    .map(|w| w.chars().take(64).collect());
            }
        }
        return None;
    }
    None
}

/// Stores `d`'s message for each of its recipients and says, once on
/// disk, what became of each (in order). Recipients naming the same user
/// and mailbox share one copy; all copies go in one write transaction.
pub async fn deliver(mail: &MailAccess, d: &Delivery, via: &Via) -> Vec<Outcome> {
    let started = Instant::now();
    let id = delivery_id();
    let queue = queue_id(&d.message);
    let date = chrono::Local::now().fixed_offset();
    // One copy per (user, mailbox), in order of first mention.
    let mut copy_of: Vec<usize> = Vec::with_capacity(d.recipients.len());
    let mut targets: Vec<(&Target, &str)> = Vec::new();
    for r in &d.recipients {
        let i = match targets
            .iter()
            .position(|(t, _)| t.user_id == r.target.user_id && t.mailbox == r.target.mailbox)
        {
            Some(i) => i,
            None => {
                targets.push((&r.target, r.address.as_given()));
                targets.len() - 1
            }
        };
        copy_of.push(i);
    }
    let results = store_copies(mail, d, via, &id, date, &targets).await;
    let outcomes: Vec<Outcome> = copy_of.iter().map(|&i| results[i].0.clone()).collect();
    let duration_ms = started.elapsed().as_millis() as u64;
    for ((r, o), &i) in d.recipients.iter().zip(&outcomes).zip(&copy_of) {
        let counted = match o {
            Outcome::Stored { .. } => crate::metrics::Delivery::Stored,
            Outcome::OverQuota => crate::metrics::Delivery::OverQuota,
            Outcome::Unknown => crate::metrics::Delivery::UnknownUser,
            Outcome::Failed(_) => crate::metrics::Delivery::Failed,
        };
        crate::metrics::lmtp_delivery(counted, d.message.len() as u64);
        let (outcome, mailbox) = match o {
            Outcome::Stored { mailbox } => ("stored", mailbox.as_str()),
            Outcome::OverQuota => ("over quota", r.target.mailbox.as_str()),
            Outcome::Unknown => ("unknown user", ""),
            Outcome::Failed(_) => ("temporary failure", r.target.mailbox.as_str()),
        };
        let error = match o {
            Outcome::Failed(e) => e.as_str(),
            _ => "",
        };
        // A stored copy: its UID, and its size as stored (RFC822.SIZE, the
        // trace headers included), as APPEND's line has them; recipients
        // sharing a copy name the same UID.
        let (uidvalidity, uids, size) = match &results[i].1 {
            Some(s) => (s.uidvalidity, Uids(&[s.uid]).to_string(), s.size),
            None => (0, String::new(), d.message.len() as u64),
        };
        tracing::info!(
            delivery_id = %id,
            queue_id = queue.as_deref().unwrap_or("-"),
            from = %d.from.to_header_value(),
            rcpt = r.address.as_given(),
            user = %r.target.user,
            mailbox,
            uidvalidity,
            %uids,
            size,
            outcome,
            error,
            duration_ms,
            "delivery"
        );
    }
    outcomes
}

/// Where a stored copy went, for the log.
struct StoredCopy {
    uidvalidity: u32,
    uid: u32,
    size: u64,
}

/// One outcome per target, with the copy's place if it was stored.
async fn store_copies(
    mail: &MailAccess,
    d: &Delivery,
    via: &Via,
    id: &str,
    date: DateTime<FixedOffset>,
    targets: &[(&Target, &str)],
) -> Vec<(Outcome, Option<StoredCopy>)> {
    let failed = |why: &str| {
        (0..targets.len())
            .map(|_| (Outcome::Failed(why.to_owned()), None))
            .collect()
    };
    // Mailbox ids, read now: a mailbox deleted since RCPT falls back to
    // INBOX, which every user has (made again if it is missing).
    let mut ids = Vec::with_capacity(targets.len());
    for (t, _) in targets {
        match mailbox_id(mail, t).await {
            Ok(Some(id)) => ids.push(Some(id)),
            Ok(None) => ids.push(None),
            Err(e) => return failed(&e.to_string()),
        }
    }
    let raws: Vec<Vec<u8>> = targets
        .iter()
        .map(|(_, rcpt)| {
            let mut raw = trace_headers(&d.from, rcpt, &d.client, via, id, date);
            raw.extend_from_slice(&d.message);
            raw
        })
        .collect();
    let sizes: Vec<u64> = raws.iter().map(|r| r.len() as u64).collect();
    // MIME analysis is CPU work in proportion to the message: off the
    // connection's thread.
    let analysed = tokio::task::spawn_blocking(move || {
        raws.into_iter()
            .map(|raw| delivered_message(raw, date))
            .collect::<Vec<_>>()
    })
    .await;
    let Ok(messages) = analysed else {
        return failed("message analysis failed");
    };
    let mut copies = Vec::new();
    let mut slot = Vec::with_capacity(targets.len());
    for (id, message) in ids.iter().zip(messages) {
        match id {
            Some(mailbox_id) => {
                slot.push(Some(copies.len()));
                copies.push(DeliveryCopy {
                    mailbox_id: *mailbox_id,
                    message,
                });
            }
            None => slot.push(None),
        }
    }
    let results = if copies.is_empty() {
        Vec::new()
    } else {
        match mail.deliver(copies).await {
            Ok(r) => r,
            Err(e) => return failed(&e.to_string()),
        }
    };
    targets
        .iter()
        .zip(slot)
        .zip(sizes)
        .map(
            |(((t, _), slot), size)| match slot.and_then(|i| results.get(i)) {
                None if slot.is_none() => (Outcome::Unknown, None),
                None => (Outcome::Failed("no result from the store".into()), None),
                Some(CopyResult::Stored(a)) => (
                    Outcome::Stored {
                        mailbox: t.mailbox.clone(),
                    },
                    Some(StoredCopy {
                        uidvalidity: a.uidvalidity,
                        uid: a.uid,
                        size,
                    }),
                ),
                Some(CopyResult::OverQuota(_)) => (Outcome::OverQuota, None),
                Some(CopyResult::NoMailbox) => {
                    (Outcome::Failed("the mailbox went away".into()), None)
                }
                Some(CopyResult::Refused(e)) => (Outcome::Failed(e.clone()), None),
            },
        )
        .collect()
}

/// The target mailbox's id; INBOX if the target one is gone; `None` if
/// the user is gone.
async fn mailbox_id(mail: &MailAccess, t: &Target) -> Result<Option<u64>, MailError> {
    if let Some(m) = mail.read(|r| r.mailbox(t.user_id, &t.mailbox))?
        && !m.noselect
    {
        return Ok(Some(m.id));
    }
    if mail.user_id(&t.user)? != Some(t.user_id) {
        return Ok(None);
    }
    mail.ensure_inbox(t.user_id).await?;
    Ok(mail.read(|r| r.mailbox(t.user_id, "INBOX"))?.map(|m| m.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_id_from_postfix_received() {
        let m = b"Received: from client (localhost [127.0.0.1])\r\n\tby mx.example.org (Postfix) with ESMTP id 4QxYz1AbCd\r\n\tfor <alice@example.org>; Thu, 3 Dec 2026 09:00:00 +0000 (UTC)\r\nSubject: x\r\n\r\nbody id X\r\n";
        assert_eq!(queue_id(m).as_deref(), Some("4QxYz1AbCd"));
        assert_eq!(queue_id(b"Subject: x\r\n\r\nReceived: by x id y\r\n"), None);
        assert_eq!(queue_id(b"Received: from a by b; date\r\n\r\n"), None);
        assert_eq!(
            queue_id(b"Received: by b id Q1;x\r\n\r\n").as_deref(),
            Some("Q1")
        );
    }

    #[test]
    fn trace_headers_name_sender_recipient_and_client() {
        let date = DateTime::parse_from_rfc2822("Thu, 3 Dec 2026 09:00:00 +0000").expect("date");
        let via = Via {
            hostname: "mx.example.org".into(),
            peer: "127.0.0.1".into(),
            protocol: "LMTP",
        };
        let h = trace_headers(
            &ReversePath::Null,
            "bob@example.org",
            "pf",
            &via,
            "1.2",
            date,
        );
        assert_eq!(
            String::from_utf8(h).expect("ascii"),
            "Return-Path: <>\r\nDelivered-To: bob@example.org\r\n\
             Received: from pf (127.0.0.1)\r\n\tby mx.example.org (Roost) with LMTP id 1.2\r\n\
             \tfor <bob@example.org>; Thu, 3 Dec 2026 09:00:00 +0000\r\n"
        );
    }
}
