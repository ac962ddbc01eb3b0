//! mbox files as mutt and Dovecot write them: each message starts with a
//! `From sender date` line after a blank line (or at the top), body lines
//! that would look like one are quoted with `>`, and the flags are the
//! `Status:` (R), `X-Status:` (A F T D) and `X-Keywords:` headers, which
//! describe the mailbox rather than the message and so are taken out on
//! import and written back on export.
//!
//! Two quotings exist: mboxrd quotes every `>*From ` line with one more
//! `>` (so un-quoting takes one `>` off each), mboxo only `From ` (so only
//! `>From ` loses its `>`, and a `>From ` of the original cannot be told
//! from a quoted one). Export writes mboxrd.
//!
//! Files are read as a stream, in pieces of at most 64 KiB, so neither a
//! huge file nor a huge line is held; only the message being read is, up to
//! the size limit.

use std::fs;
use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone as _, Utc};

use super::{DELIMITER, Importer, Incoming, Source, StoredFlags, from_crlf, to_crlf};
use crate::types::Flag;

/// How `>From ` lines were quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    Mboxrd,
    Mboxo,
}

/// Header fields that hold mailbox state, not message content.
const STATE_FIELDS: [&str; 6] = [
    "status",
    "x-status",
    "x-keywords",
    "x-uid",
    "x-imap",
    "x-imapbase",
];

const PIECE: usize = 64 * 1024;

/// Imports an mbox file into `mailbox` (INBOX if not given), or a directory
/// of them: one mailbox per file, named after it, a subdirectory `Name` (or
/// Thunderbird's `Name.sbd`) holding the mailboxes under `Name`.
pub fn import(
    imp: &mut Importer,
    path: &Path,
    quoting: Quoting,
    mailbox: Option<&str>,
) -> anyhow::Result<()> {
    let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let files = if meta.is_dir() {
        if mailbox.is_some() {
            bail!("--mailbox goes with one mbox file, not a directory");
        }
        let mut files = Vec::new();
        walk(imp, path, "", &mut files)?;
        files
    } else {
        vec![(
            mailbox.unwrap_or("INBOX").to_owned(),
            path.to_path_buf(),
            meta.len(),
        )]
    };
    imp.progress.set_length(files.iter().map(|f| f.2).sum());
    imp.progress.set_style(super::bar_style(
        "{wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    ));
    for (name, file, _) in files {
        let ok = imp.mailbox(&name)?;
        read_file(imp, &file, quoting, ok)?;
    }
    Ok(())
}

/// The mbox files under `dir`: (mailbox name, path, size), sorted.
fn walk(
    imp: &Importer,
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, PathBuf, u64)>,
) -> anyhow::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            imp.report(&format!("{}: not a UTF-8 name, skipped", path.display()));
            continue;
        };
        // Dot files and Thunderbird's summaries are no mailboxes.
        if name.starts_with('.') || name.ends_with(".msf") {
            continue;
        }
        // Through a symlink, as a user's mail directory may have them.
        let meta = fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            let base = name.strip_suffix(".sbd").unwrap_or(&name);
            walk(imp, &path, &format!("{prefix}{base}{DELIMITER}"), out)?;
        } else if meta.is_file() {
            let mailbox = if prefix.is_empty() && name.eq_ignore_ascii_case("INBOX") {
                "INBOX".to_owned()
            } else {
                format!("{prefix}{name}")
            };
            out.push((mailbox, path, meta.len()));
        }
    }
    Ok(())
}

/// Reads a piece of a line: up to and with the next LF, or `PIECE` bytes.
/// Returns false at the end of the file.
fn read_piece(r: &mut impl std::io::BufRead, out: &mut Vec<u8>) -> std::io::Result<bool> {
    out.clear();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(!out.is_empty());
        }
        let room = PIECE - out.len();
        let (take, done) = match memchr::memchr(b'\n', &buf[..buf.len().min(room)]) {
            Some(i) => (i + 1, true),
            None => {
                let take = buf.len().min(room);
                (take, out.len() + take >= PIECE)
            }
        };
        out.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            return Ok(true);
        }
    }
}

/// The message being read.
struct Current {
    from_line: Vec<u8>,
    line: u64,
    buf: Vec<u8>,
    size: u64,
    oversize: bool,
}

fn read_file(imp: &mut Importer, path: &Path, quoting: Quoting, store: bool) -> anyhow::Result<()> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mtime = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let mut r = BufReader::with_capacity(PIECE, file);
    let mut piece = Vec::with_capacity(PIECE);
    let (mut line_no, mut at_line_start, mut prev_blank) = (0u64, true, true);
    let mut cur: Option<Current> = None;
    while read_piece(&mut r, &mut piece).with_context(|| format!("reading {}", path.display()))? {
        imp.progress.inc(piece.len() as u64);
        let starts_line = at_line_start;
        at_line_start = piece.ends_with(b"\n");
        if starts_line {
            line_no += 1;
        }
        if starts_line && prev_blank && piece.starts_with(b"From ") {
            if let Some(done) = cur.take() {
                finish(imp, path, done, store, mtime)?;
            }
            cur = Some(Current {
                from_line: piece.clone(),
                line: line_no,
                buf: Vec::new(),
                size: 0,
                oversize: false,
            });
            prev_blank = false;
            continue;
        }
        let Some(c) = cur.as_mut() else {
            imp.damaged(
                &path.display().to_string(),
                "not an mbox file: it does not begin with a \"From \" line",
            );
            return Ok(());
        };
        prev_blank = starts_line && (piece[..] == b"\n"[..] || piece[..] == b"\r\n"[..]);
        let text: &[u8] = if starts_line && quoted(&piece, quoting) {
            &piece[1..]
        } else {
            &piece
        };
        c.size += text.len() as u64;
        if c.size > imp.max_message as u64 + 2 {
            // Held no further: only its size is counted from here on.
            c.oversize = true;
            c.buf = Vec::new();
        }
        if !c.oversize {
            c.buf.extend_from_slice(text);
        }
    }
    if let Some(done) = cur.take() {
        finish(imp, path, done, store, mtime)?;
    }
    Ok(())
}

/// Whether a line's first `>` is quoting under `quoting`.
fn quoted(line: &[u8], quoting: Quoting) -> bool {
    match quoting {
        Quoting::Mboxo => line.starts_with(b">From "),
        Quoting::Mboxrd => {
            let n = line.iter().take_while(|&&b| b == b'>').count();
            n > 0 && line[n..].starts_with(b"From ")
        }
    }
}

fn finish(
    imp: &mut Importer,
    path: &Path,
    mut c: Current,
    store: bool,
    mtime: i64,
) -> anyhow::Result<()> {
    let origin = format!("{}:{}", path.display(), c.line);
    // The blank line before the next From_ line (or at the end) separates.
    if c.buf.ends_with(b"\r\n\r\n") {
        c.buf.truncate(c.buf.len() - 2);
    } else if c.buf.ends_with(b"\n\n") {
        c.buf.pop();
    }
    if !store {
        imp.refused(1);
        return Ok(());
    }
    if c.oversize || c.buf.len() > imp.max_message {
        imp.too_large(&origin, c.size);
        return Ok(());
    }
    if let Some(why) = super::damage(&c.buf) {
        imp.damaged(&origin, &why);
        return Ok(());
    }
    let (raw, flags) = take_state(&c.buf);
    let date = match from_line_date(&c.from_line) {
        Some(d) => d,
        None => {
            imp.report(&format!(
                "{origin}: the From line has no date that can be read; the file's time is used"
            ));
            let utc = FixedOffset::east_opt(0).context("UTC")?;
            utc.timestamp_opt(mtime, 0)
                .single()
                .context("file time out of range")?
        }
    };
    imp.add(Incoming {
        raw: to_crlf(&raw),
        flags,
        date,
        origin,
    })
}

/// The message without its mailbox-state header fields, and the flags
/// they held.
fn take_state(msg: &[u8]) -> (Vec<u8>, Vec<Flag>) {
    let mut out = Vec::with_capacity(msg.len());
    let mut flags = Vec::new();
    let mut pos = 0;
    let mut skipping = false;
    while pos < msg.len() {
        let end = memchr::memchr(b'\n', &msg[pos..]).map_or(msg.len(), |i| pos + i + 1);
        let line = &msg[pos..end];
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare.is_empty() {
            break;
        }
        let continuation = line[0] == b' ' || line[0] == b'\t';
        if !continuation {
            skipping = false;
            if let Some(colon) = bare.iter().position(|&b| b == b':') {
                let name = String::from_utf8_lossy(&bare[..colon]).to_ascii_lowercase();
                if STATE_FIELDS.contains(&name.trim()) {
                    skipping = true;
                    let value = String::from_utf8_lossy(&bare[colon + 1..]);
                    state_flags(&name, &value, &mut flags);
                }
            }
        }
        if !skipping {
            out.extend_from_slice(line);
        }
        pos = end;
    }
    out.extend_from_slice(&msg[pos..]);
    (out, flags)
}

fn state_flags(field: &str, value: &str, flags: &mut Vec<Flag>) {
    let mut add = |f: Flag| {
        if !flags.contains(&f) {
            flags.push(f);
        }
    };
    match field.trim() {
        "status" if value.contains('R') => add(Flag::Seen),
        "x-status" => {
            for c in value.chars() {
                match c {
                    'A' => add(Flag::Answered),
                    'F' => add(Flag::Flagged),
                    'T' => add(Flag::Draft),
                    'D' => add(Flag::Deleted),
                    _ => {}
                }
            }
        }
        "x-keywords" => {
            for k in value.split(|c: char| c == ',' || c.is_whitespace()) {
                if !k.is_empty() {
                    add(Flag::Keyword(k.to_owned()));
                }
            }
        }
        _ => {}
    }
}

/// The date of a From_ line, `From sender Www Mmm dd hh:mm:ss yyyy`, also
/// with a zone after the time or the year; UTC when it names none.
fn from_line_date(line: &[u8]) -> Option<DateTime<FixedOffset>> {
    let text = String::from_utf8_lossy(line);
    let words: Vec<&str> = text.strip_prefix("From ")?.split_whitespace().collect();
    let utc = FixedOffset::east_opt(0)?;
    let parse = |w: &[&str]| NaiveDateTime::parse_from_str(&w.join(" "), "%a %b %d %H:%M:%S %Y");
    let n = words.len();
    if n >= 6
        && let Ok(t) = parse(&words[n - 5..])
    {
        return utc.from_local_datetime(&t).single();
    }
    if n >= 7 {
        // A zone: after the year (`+0100`), or a name before it (`UTC`).
        let zone = words[n - 1];
        if let Ok(t) = parse(&words[n - 6..n - 1]) {
            let off = DateTime::parse_from_str(&format!("2000-01-01 00:00 {zone}"), "%F %R %z")
                .map(|d| *d.offset())
                .unwrap_or(utc);
            return off.from_local_datetime(&t).single();
        }
        let mut w = words[n - 6..].to_vec();
        w.remove(4);
        if let Ok(t) = parse(&w) {
            return utc.from_local_datetime(&t).single();
        }
    }
    None
}

/// Writes every selectable mailbox of the user as an mbox file under
/// `root` (new or empty): `Sub/Child` as `Sub/Child`, or `Sub.sbd/Child`
/// when `Sub` holds mail itself (an empty `Sub` is only the directory); mboxrd quoting, LF line ends, flags in
/// `Status:`/`X-Status:`/`X-Keywords:` at the end of the header, the
/// internal date (UTC) on the From_ line.
pub fn export(src: &Source, root: &Path) -> anyhow::Result<(String, bool)> {
    let started = Instant::now();
    super::fresh_dir(root)?;
    let mailboxes = src.mailboxes()?;
    // A mailbox with children and no mail of its own is only a directory
    // (as an import of that directory makes it again); any other is a file.
    let has_children = |name: &str| {
        mailboxes
            .iter()
            .any(|m| m.1.starts_with(name) && m.1[name.len()..].starts_with(DELIMITER))
    };
    let files: Vec<&str> = mailboxes
        .iter()
        .filter(|m| m.2 > 0 || !has_children(&m.1))
        .map(|m| m.1.as_str())
        .collect();
    let bar = super::progress_bar();
    bar.set_length(mailboxes.iter().map(|m| u64::from(m.2)).sum());
    bar.set_message("messages");
    let mut messages = 0u64;
    let mut buf = Vec::new();
    for (id, name, _) in &mailboxes {
        if !files.contains(&name.as_str()) {
            continue;
        }
        let parts: Vec<&str> = name.split(DELIMITER).collect();
        let mut path = root.to_path_buf();
        for i in 0..parts.len() - 1 {
            let above = parts[..=i].join(&DELIMITER.to_string());
            path.push(if files.contains(&above.as_str()) {
                format!("{}.sbd", parts[i])
            } else {
                parts[i].to_owned()
            });
        }
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        path.push(parts[parts.len() - 1]);
        let file =
            fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = std::io::BufWriter::with_capacity(PIECE, file);
        let r = src.store.read()?;
        for m in r.messages(*id)? {
            let Some(body) = r.body(m.body_id)? else {
                bail!("message {} of {name} has no body in the store", m.uid);
            };
            buf.clear();
            write_message(&mut buf, body, &StoredFlags::of(&m), m.internal_date);
            out.write_all(&buf)
                .with_context(|| format!("writing {}", path.display()))?;
            messages += 1;
            bar.inc(1);
        }
        drop(r);
        out.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    super::sync_dir(root)?;
    bar.finish_and_clear();
    Ok((
        super::export_summary(&src.user, messages, files.len() as u64, started),
        true,
    ))
}

/// One message as mbox holds it, with its From_ line and the blank line
/// that ends it.
fn write_message(out: &mut Vec<u8>, stored: &[u8], flags: &StoredFlags, date: i64) {
    let mut lf = Vec::with_capacity(stored.len());
    from_crlf(stored, &mut lf);
    let header_end = memchr::memmem::find(&lf, b"\n\n").map(|i| i + 1);
    let (header, body) = match header_end {
        Some(i) => lf.split_at(i),
        None => (&lf[..], &b""[..]),
    };
    let when = Utc
        .timestamp_opt(date, 0)
        .single()
        .unwrap_or_default()
        .format("%a %b %e %H:%M:%S %Y");
    out.extend_from_slice(format!("From {} {when}\n", sender(header)).as_bytes());
    let mut state = String::new();
    state.push_str(if flags.seen {
        "Status: RO\n"
    } else {
        "Status: O\n"
    });
    let x: String = [
        ('A', flags.answered),
        ('F', flags.flagged),
        ('T', flags.draft),
        ('D', flags.deleted),
    ]
    .iter()
    .filter(|f| f.1)
    .map(|f| f.0)
    .collect();
    if !x.is_empty() {
        state.push_str(&format!("X-Status: {x}\n"));
    }
    if !flags.keywords.is_empty() {
        state.push_str(&format!("X-Keywords: {}\n", flags.keywords.join(" ")));
    }
    quote_into(out, header);
    if !header.is_empty() && !header.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(state.as_bytes());
    quote_into(out, body);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// mboxrd quoting: one more `>` before every `>*From ` line.
fn quote_into(out: &mut Vec<u8>, text: &[u8]) {
    for line in text.split_inclusive(|&b| b == b'\n') {
        if quoted(&[b">", line].concat(), Quoting::Mboxrd) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
}

/// The envelope sender for the From_ line: the Return-Path address, else
/// MAILER-DAEMON, as Dovecot writes it.
fn sender(header: &[u8]) -> String {
    for line in header.split(|&b| b == b'\n') {
        if line.len() > 12 && line[..12].eq_ignore_ascii_case(b"return-path:") {
            let v = String::from_utf8_lossy(&line[12..]);
            let v = v.trim().trim_start_matches('<').trim_end_matches('>');
            if !v.is_empty() && !v.contains(char::is_whitespace) {
                return v.to_owned();
            }
        }
    }
    "MAILER-DAEMON".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_are_unquoted_by_their_variant() {
        assert!(quoted(b">From x\n", Quoting::Mboxrd));
        assert!(quoted(b">>From x\n", Quoting::Mboxrd));
        assert!(!quoted(b">>From x\n", Quoting::Mboxo));
        assert!(quoted(b">From x\n", Quoting::Mboxo));
        assert!(!quoted(b"> From x\n", Quoting::Mboxrd));
    }

    #[test]
    fn from_line_dates() {
        let d = from_line_date(b"From a@b Thu Dec  3 12:00:05 2026\n").expect("date");
        assert_eq!(d.timestamp(), 1_796_299_205);
        let z = from_line_date(b"From a@b Thu Dec  3 12:00:05 2026 +0100\n").expect("zone");
        assert_eq!(z.timestamp(), 1_796_299_205 - 3600);
        assert!(from_line_date(b"From a@b Thu Dec  3 12:00:05 UTC 2026\n").is_some());
        assert!(from_line_date(b"From nobody\n").is_none());
    }

    #[test]
    fn state_headers_come_out_and_go_back() {
        let msg = b"Subject: x\nStatus: RO\nX-Status: AF\nX-Keywords: Junk $Label1\n\n>From me\n";
        let (raw, flags) = take_state(msg);
        assert_eq!(raw, b"Subject: x\n\n>From me\n");
        assert_eq!(
            flags,
            vec![
                Flag::Seen,
                Flag::Answered,
                Flag::Flagged,
                Flag::Keyword("Junk".into()),
                Flag::Keyword("$Label1".into()),
            ]
        );
        let stored = to_crlf(&raw);
        let mut out = Vec::new();
        let f = StoredFlags {
            seen: true,
            answered: true,
            flagged: true,
            deleted: false,
            draft: false,
            keywords: vec!["Junk".into(), "$Label1".into()],
        };
        write_message(&mut out, &stored, &f, 1_796_299_205);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "From MAILER-DAEMON Thu Dec  3 12:00:05 2026\nSubject: x\nStatus: RO\nX-Status: AF\n\
             X-Keywords: Junk $Label1\n\n>>From me\n\n"
        );
    }
}
