//! Maildir++ as Dovecot writes it: the root's `cur/` and `new/` are INBOX,
//! `.Sub` and `.Sub.Child` are the mailboxes `Sub` and `Sub/Child`. A
//! message's flags are its name's info (`:2,DFPRST` and Dovecot's keyword
//! letters `a`-`z`, named in the folder's `dovecot-keywords`), its internal
//! date the file's mtime (as Dovecot reads it). Folder names are in
//! modified UTF-7, as Dovecot writes them.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use chrono::{FixedOffset, TimeZone as _};

use super::{DELIMITER, FORWARDED, Importer, Incoming, Source, StoredFlags, from_crlf, to_crlf};
use crate::types::Flag;

/// Maildir's own letters, in the order a name's info lists them.
const SYSTEM: [(char, &str); 6] = [
    ('D', "\\Draft"),
    ('F', "\\Flagged"),
    ('P', FORWARDED),
    ('R', "\\Answered"),
    ('S', "\\Seen"),
    ('T', "\\Deleted"),
];

/// The folders of a Maildir++ root: (mailbox name, directory), parents
/// before their children.
fn folders(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    if !root.join("cur").is_dir() && !root.join("new").is_dir() {
        bail!(
            "{} is not a Maildir (it has neither cur/ nor new/)",
            root.display()
        );
    }
    let mut out = vec![("INBOX".to_owned(), root.to_path_buf())];
    let mut subs = Vec::new();
    for entry in fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let entry = entry.with_context(|| format!("reading {}", root.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(folder) = name.strip_prefix('.') else {
            continue;
        };
        let path = entry.path();
        if folder.is_empty() || folder == "." || !path.join("cur").is_dir() {
            continue;
        }
        // Dovecot writes non-ASCII folder names in modified UTF-7; a
        // segment that is not valid modified UTF-7 is taken as it is.
        let mailbox = folder
            .split('.')
            .map(|seg| crate::mutf7::decode(seg.as_bytes()).unwrap_or_else(|_| seg.to_owned()))
            .collect::<Vec<_>>()
            .join(&DELIMITER.to_string());
        subs.push((mailbox, path));
    }
    // Sorting the names puts `Sub` before `Sub/Child`.
    subs.sort();
    out.extend(subs);
    Ok(out)
}

/// A folder's message files: (path, whether it is in new/), oldest first.
fn messages(folder: &Path) -> anyhow::Result<Vec<(PathBuf, bool, SystemTime)>> {
    let mut out = Vec::new();
    for (sub, new) in [("new", true), ("cur", false)] {
        let dir = folder.join(sub);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // Followed through a symlink; anything that is not a file is
            // listed anyway, so the import reports it rather than drop it.
            let path = entry.path();
            let mtime = fs::metadata(&path)
                .and_then(|m| m.modified())
                .unwrap_or(UNIX_EPOCH);
            out.push((path, new, mtime));
        }
    }
    out.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// Dovecot's `dovecot-keywords`: `N name` per line, letter `a` + N.
fn read_keywords(folder: &Path) -> BTreeMap<char, String> {
    let mut map = BTreeMap::new();
    let Ok(text) = fs::read_to_string(folder.join("dovecot-keywords")) else {
        return map;
    };
    for line in text.lines() {
        let mut parts = line.splitn(2, ' ');
        if let (Some(n), Some(name)) = (parts.next(), parts.next())
            && let Ok(n) = n.parse::<u8>()
            && n < 26
            && !name.is_empty()
        {
            map.insert(char::from(b'a' + n), name.to_owned());
        }
    }
    map
}

/// The flags in a file name's info (`…:2,FS`); unknown letters named.
fn flags_of(name: &str, keywords: &BTreeMap<char, String>) -> (Vec<Flag>, Vec<char>) {
    let mut flags = Vec::new();
    let mut unknown = Vec::new();
    let Some((_, info)) = name.rsplit_once(":2,") else {
        return (flags, unknown);
    };
    for c in info.chars() {
        if let Some((_, f)) = SYSTEM.iter().find(|(l, _)| *l == c) {
            flags.push(match *f {
                "\\Draft" => Flag::Draft,
                "\\Flagged" => Flag::Flagged,
                "\\Answered" => Flag::Answered,
                "\\Seen" => Flag::Seen,
                "\\Deleted" => Flag::Deleted,
                k => Flag::Keyword(k.to_owned()),
            });
        } else if let Some(k) = keywords.get(&c) {
            flags.push(Flag::Keyword(k.clone()));
        } else {
            unknown.push(c);
        }
    }
    (flags, unknown)
}

/// Imports the Maildir++ tree at `root`.
pub fn import(imp: &mut Importer, root: &Path) -> anyhow::Result<()> {
    let folders = folders(root)?;
    let mut listed = Vec::with_capacity(folders.len());
    let mut total = 0u64;
    for (mailbox, path) in folders {
        let files = messages(&path)?;
        total += files.len() as u64;
        listed.push((mailbox, path, files));
    }
    imp.progress.set_length(total);
    imp.progress.set_message("messages");
    for (mailbox, path, files) in listed {
        if !imp.mailbox(&mailbox)? {
            imp.refused(files.len() as u64);
            imp.progress.inc(files.len() as u64);
            continue;
        }
        let keywords = read_keywords(&path);
        for (file, new, mtime) in files {
            import_one(imp, &file, new, mtime, &keywords)?;
            imp.progress.inc(1);
        }
    }
    Ok(())
}

fn import_one(
    imp: &mut Importer,
    file: &Path,
    new: bool,
    mtime: SystemTime,
    keywords: &BTreeMap<char, String>,
) -> anyhow::Result<()> {
    let origin = file.display().to_string();
    let size = match fs::metadata(file) {
        Ok(m) if !m.is_file() => {
            imp.damaged(&origin, "not a regular file");
            return Ok(());
        }
        Ok(m) => m.len(),
        Err(e) => {
            imp.damaged(&origin, &format!("cannot read it: {e}"));
            return Ok(());
        }
    };
    if size > imp.max_message as u64 {
        imp.too_large(&origin, size);
        return Ok(());
    }
    let raw = match fs::read(file) {
        Ok(raw) => raw,
        Err(e) => {
            imp.damaged(&origin, &format!("cannot read it: {e}"));
            return Ok(());
        }
    };
    if let Some(why) = super::damage(&raw) {
        imp.damaged(&origin, &why);
        return Ok(());
    }
    let (flags, unknown) = if new {
        (Vec::new(), Vec::new())
    } else {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        flags_of(name.as_deref().unwrap_or(""), keywords)
    };
    if !unknown.is_empty() {
        imp.report(&format!(
            "{origin}: keyword letters {unknown:?} are not in dovecot-keywords; left out"
        ));
    }
    let secs = match mtime.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let utc = FixedOffset::east_opt(0).context("UTC")?;
    let Some(date) = utc.timestamp_opt(secs, 0).single() else {
        imp.damaged(&origin, "its modification time is out of range");
        return Ok(());
    };
    imp.add(Incoming {
        raw: to_crlf(&raw),
        flags,
        date,
        origin,
    })
}

/// Writes every selectable mailbox of the user as a Maildir++ folder under
/// `root` (new or empty): INBOX in the root, `Sub/Child` as `.Sub.Child`,
/// every message in `cur/` with its flags in the name and its internal
/// date as mtime, LF line ends. Returns the summary line and whether every
/// mailbox could be written.
pub fn export(src: &Source, root: &Path) -> anyhow::Result<(String, bool)> {
    let started = Instant::now();
    super::fresh_dir(root)?;
    let mailboxes = src.mailboxes()?;
    let bar = super::progress_bar();
    bar.set_length(mailboxes.iter().map(|m| u64::from(m.2)).sum());
    bar.set_message("messages");
    let host = hostname();
    let pid = std::process::id();
    let mut complete = true;
    let (mut messages, mut written) = (0u64, 0u64);
    let mut buf = Vec::new();
    for (id, name, _) in &mailboxes {
        let dir = if name == "INBOX" {
            root.to_path_buf()
        } else if name.contains('.') {
            bar.suspend(|| {
                eprintln!(
                    "roost export: mailbox {name:?} has a '.' in its name, which Maildir++ \
                     cannot hold; skipped"
                )
            });
            complete = false;
            continue;
        } else {
            let segments: Vec<String> = name.split(DELIMITER).map(crate::mutf7::encode).collect();
            root.join(format!(".{}", segments.join(".")))
        };
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("creating {}", dir.join(sub).display()))?;
        }
        if name != "INBOX" {
            fs::File::create(dir.join("maildirfolder"))
                .with_context(|| format!("creating {}/maildirfolder", dir.display()))?;
        }
        let mut letters: Vec<String> = Vec::new();
        let r = src.store.read()?;
        for m in r.messages(*id)? {
            let Some(body) = r.body(m.body_id)? else {
                bail!("message {} of {name} has no body in the store", m.uid);
            };
            let flags = StoredFlags::of(&m);
            let info = info(&flags, &mut letters, name, &bar);
            buf.clear();
            from_crlf(body, &mut buf);
            let file = format!(
                "{}.M{}P{pid}.{host},S={},W={}:2,{info}",
                m.internal_date,
                m.uid,
                buf.len(),
                body.len()
            );
            write_message(&dir, &file, &buf, m.internal_date)?;
            messages += 1;
            bar.inc(1);
        }
        drop(r);
        if !letters.is_empty() {
            let mut text = String::new();
            for (n, k) in letters.iter().enumerate() {
                text.push_str(&format!("{n} {k}\n"));
            }
            fs::write(dir.join("dovecot-keywords"), text)
                .with_context(|| format!("writing {}/dovecot-keywords", dir.display()))?;
        }
        written += 1;
    }
    super::sync_dir(root)?;
    bar.finish_and_clear();
    Ok((
        super::export_summary(&src.user, messages, written, started),
        complete,
    ))
}

/// A name's info letters for `flags`, giving keywords letters in `letters`
/// (at most 26 per folder, as Dovecot has).
fn info(
    flags: &StoredFlags,
    letters: &mut Vec<String>,
    mailbox: &str,
    bar: &indicatif::ProgressBar,
) -> String {
    let mut info = String::new();
    let forwarded = flags
        .keywords
        .iter()
        .any(|k| k.eq_ignore_ascii_case(FORWARDED));
    for (letter, on) in [
        ('D', flags.draft),
        ('F', flags.flagged),
        ('P', forwarded),
        ('R', flags.answered),
        ('S', flags.seen),
        ('T', flags.deleted),
    ] {
        if on {
            info.push(letter);
        }
    }
    let mut own = Vec::new();
    for k in &flags.keywords {
        if k.eq_ignore_ascii_case(FORWARDED) {
            continue;
        }
        let n = match letters.iter().position(|l| l == k) {
            Some(n) => n,
            None if letters.len() < 26 => {
                letters.push(k.clone());
                letters.len() - 1
            }
            None => {
                bar.suspend(|| {
                    eprintln!(
                        "roost export: {mailbox}: keyword {k:?} left out (Maildir names hold 26)"
                    )
                });
                continue;
            }
        };
        own.push(char::from(b'a' + n as u8));
    }
    own.sort_unstable();
    info.extend(own);
    info
}

/// Writes one message file the Maildir way (into tmp/, then renamed into
/// cur/), its mtime the internal date.
fn write_message(dir: &Path, name: &str, data: &[u8], date: i64) -> anyhow::Result<()> {
    let tmp = dir.join("tmp").join(name);
    let mut f = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(data)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let when = if date >= 0 {
        UNIX_EPOCH + std::time::Duration::from_secs(date as u64)
    } else {
        UNIX_EPOCH - std::time::Duration::from_secs(date.unsigned_abs())
    };
    f.set_modified(when)
        .with_context(|| format!("setting the time of {}", tmp.display()))?;
    drop(f);
    let dest = dir.join("cur").join(name);
    fs::rename(&tmp, &dest).with_context(|| format!("moving {} into cur/", tmp.display()))?;
    Ok(())
}

/// This host's name as Maildir file names carry it (no `/` or `:`).
fn hostname() -> String {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .map(|c| if c == '/' || c == ':' { '_' } else { c })
        .collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_letters_become_flags() {
        let mut kw = BTreeMap::new();
        kw.insert('a', "Junk".to_owned());
        let (flags, unknown) = flags_of("1.M1P1.host,S=3:2,FPRSTab", &kw);
        assert_eq!(
            flags,
            vec![
                Flag::Flagged,
                Flag::Keyword(FORWARDED.into()),
                Flag::Answered,
                Flag::Seen,
                Flag::Deleted,
                Flag::Keyword("Junk".into()),
            ]
        );
        assert_eq!(unknown, vec!['b']);
        assert!(flags_of("1.M1P1.host", &kw).0.is_empty());
    }
}
