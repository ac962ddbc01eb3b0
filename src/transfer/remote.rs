//! Import from another IMAP server over TLS (`imaps://user:pass@host:port/`):
//! every selectable mailbox it LISTs, its messages fetched with their
//! flags and INTERNALDATE, read one response at a time so only one message
//! is held (a literal over the size limit is read past, not kept).
//!
//! A plain blocking client: one connection, one command at a time. The
//! server's certificate is checked against the system's CA bundle, or the
//! certificate file given (a self-signed server's own certificate).

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::DateTime;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls;

use super::{DELIMITER, Importer, Incoming, to_crlf};
use crate::types::Flag;

/// The system's CA certificates, where Debian keeps them.
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The longest response line (outside literals) accepted.
const MAX_LINE: usize = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(120);

/// Where to import from: `imaps://user[:password]@host[:port]/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
}

impl Url {
    pub fn parse(s: &str) -> anyhow::Result<Url> {
        let Some(rest) = s.strip_prefix("imaps://") else {
            bail!("{s:?}: only imaps:// URLs are supported (IMAP over TLS)");
        };
        let rest = rest.split('/').next().unwrap_or("");
        let Some((userinfo, hostport)) = rest.rsplit_once('@') else {
            bail!("the URL names no user (imaps://USER[:PASSWORD]@HOST[:PORT]/)");
        };
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (percent_decode(u)?, Some(percent_decode(p)?)),
            None => (percent_decode(userinfo)?, None),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            // [v6 address] and maybe :port
            Some(v6) => {
                let (h, p) = v6.split_once(']').context("a [ without ] in the URL")?;
                (h, p.strip_prefix(':').unwrap_or(""))
            }
            None => hostport.rsplit_once(':').unwrap_or((hostport, "")),
        };
        let port = if port.is_empty() {
            993
        } else {
            port.parse::<u16>()
                .with_context(|| format!("{port:?} is not a port"))?
        };
        if user.is_empty() || host.is_empty() {
            bail!("the URL needs a user and a host (imaps://USER[:PASSWORD]@HOST[:PORT]/)");
        }
        Ok(Url {
            user,
            password,
            host: host.to_owned(),
            port,
        })
    }
}

fn percent_decode(s: &str) -> anyhow::Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .context("a % in the URL without two hex digits")?;
            out.push(u8::from_str_radix(hex, 16).context("a % in the URL without two hex digits")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("the URL's user or password is not UTF-8")
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// One response: its text (literals left out) and its literals, `None`
/// for one too large to keep (with its size).
struct Response {
    text: String,
    literals: Vec<Result<Vec<u8>, u64>>,
}

struct Client {
    conn: BufReader<Tls>,
    tag: u32,
}

impl Client {
    fn connect(url: &Url, ca: Option<&Path>) -> anyhow::Result<Client> {
        let pem = ca.unwrap_or(Path::new(SYSTEM_CAS));
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(pem)
            .with_context(|| format!("reading CA certificates from {}", pem.display()))?
        {
            let cert = cert.with_context(|| format!("reading {}", pem.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("a certificate in {}", pem.display()))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = ServerName::try_from(url.host.clone())
            .with_context(|| format!("{:?} is not a host name", url.host))?;
        let tcp = TcpStream::connect((url.host.as_str(), url.port))
            .with_context(|| format!("connecting to {}:{}", url.host, url.port))?;
        tcp.set_read_timeout(Some(TIMEOUT))?;
        tcp.set_write_timeout(Some(TIMEOUT))?;
        let tls = rustls::ClientConnection::new(Arc::new(config), name).context("TLS")?;
        let mut client = Client {
            conn: BufReader::with_capacity(64 * 1024, rustls::StreamOwned::new(tls, tcp)),
            tag: 0,
        };
        let greeting = client.read_response(0)?;
        if !greeting.text.starts_with("* OK") {
            bail!("the server greeted with {:?}", greeting.text);
        }
        Ok(client)
    }

    /// Sends a command; calls `untagged` for each untagged response; returns
    /// the tagged OK's text, or an error with the server's NO/BAD.
    fn command(
        &mut self,
        cmd: &str,
        max_literal: usize,
        untagged: &mut dyn FnMut(Response) -> anyhow::Result<()>,
    ) -> anyhow::Result<String> {
        self.tag += 1;
        let tag = format!("R{}", self.tag);
        let tls = self.conn.get_mut();
        tls.write_all(format!("{tag} {cmd}\r\n").as_bytes())
            .and_then(|_| tls.flush())
            .context("writing to the server")?;
        loop {
            let r = self.read_response(max_literal)?;
            if let Some(rest) = r.text.strip_prefix(&format!("{tag} ")) {
                if rest.starts_with("OK") {
                    return Ok(rest.to_owned());
                }
                let verb = cmd.split(' ').next().unwrap_or(cmd);
                bail!("the server answered {verb} with {rest}");
            }
            if r.text.starts_with("* BYE") {
                bail!("the server closed the connection: {}", r.text);
            }
            untagged(r)?;
        }
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> anyhow::Result<()> {
        out.clear();
        (&mut self.conn)
            .take(MAX_LINE as u64)
            .read_until(b'\n', out)
            .context("reading from the server")?;
        if out.is_empty() {
            bail!("the server closed the connection");
        }
        if !out.ends_with(b"\n") {
            bail!("the server sent a line longer than {MAX_LINE} bytes");
        }
        Ok(())
    }

    /// One whole response, its literals read (up to `max_literal` bytes each
    /// kept; longer ones read past).
    fn read_response(&mut self, max_literal: usize) -> anyhow::Result<Response> {
        let mut text = String::new();
        let mut literals = Vec::new();
        let mut line = Vec::new();
        loop {
            self.read_line(&mut line)?;
            let s = String::from_utf8_lossy(&line);
            let s = s.trim_end_matches(['\r', '\n']);
            match literal_size(s) {
                Some((n, before)) => {
                    text.push_str(before);
                    // One response holds at most a line's worth of text and
                    // one message's worth of literals, whatever the server sends.
                    if text.len() > MAX_LINE {
                        bail!("the server sent a response longer than {MAX_LINE} bytes");
                    }
                    let kept: usize = literals
                        .iter()
                        .map(|l: &Result<Vec<u8>, u64>| l.as_ref().map_or(0, Vec::len))
                        .sum();
                    let mut held = Vec::new();
                    if kept.saturating_add(n as usize) <= max_literal {
                        held.reserve(n as usize);
                        (&mut self.conn)
                            .take(n)
                            .read_to_end(&mut held)
                            .context("reading from the server")?;
                        if held.len() as u64 != n {
                            bail!("the server closed the connection inside a message");
                        }
                        literals.push(Ok(held));
                    } else {
                        let got =
                            std::io::copy(&mut (&mut self.conn).take(n), &mut std::io::sink())
                                .context("reading from the server")?;
                        if got != n {
                            bail!("the server closed the connection inside a message");
                        }
                        literals.push(Err(n));
                    }
                }
                None => {
                    text.push_str(s);
                    return Ok(Response { text, literals });
                }
            }
        }
    }
}

/// `{n}` (or `{n+}`) at the end of a line: its size and the text before.
fn literal_size(line: &str) -> Option<(u64, &str)> {
    let body = line.strip_suffix('}')?;
    let open = body.rfind('{')?;
    let n = body[open + 1..].trim_end_matches('+').parse().ok()?;
    Some((n, &line[..open]))
}

/// Imports every selectable mailbox of the account at `url`.
pub fn import(
    imp: &mut Importer,
    url: &Url,
    password: &str,
    ca: Option<&Path>,
) -> anyhow::Result<()> {
    if password.contains(['\r', '\n']) || url.user.contains(['\r', '\n']) {
        bail!("a user name or password with a line break cannot be sent");
    }
    let mut c = Client::connect(url, ca)?;
    c.command(
        &format!("LOGIN {} {}", quote(&url.user), quote(password)),
        0,
        &mut |_| Ok(()),
    )
    .with_context(|| format!("logging in to {} as {}", url.host, url.user))?;
    // The personal namespace's prefix (`INBOX.` on Courier-style servers)
    // is the server's, not part of the names: left out here.
    let mut prefix = String::new();
    let _ = c.command("NAMESPACE", 0, &mut |r| {
        if let Some(p) = personal_prefix(&r.text) {
            prefix = p;
        }
        Ok(())
    });
    let mut mailboxes: Vec<(String, String)> = Vec::new();
    c.command("LIST \"\" \"*\"", 64 * 1024, &mut |r| {
        if let Some(m) = list_entry(&r, &prefix) {
            mailboxes.push(m);
        }
        Ok(())
    })?;
    mailboxes.sort_by(|a, b| a.1.cmp(&b.1));
    imp.progress.set_message("messages");
    for (wire, name) in mailboxes {
        let mut exists = 0u64;
        c.command(&format!("EXAMINE {}", quote(&wire)), 0, &mut |r| {
            if let Some(n) = r.text.strip_suffix(" EXISTS")
                && let Some(n) = n.strip_prefix("* ")
            {
                exists = n.parse().unwrap_or(0);
            }
            Ok(())
        })
        .with_context(|| format!("opening {name} on the server"))?;
        if !imp.mailbox(&name)? {
            imp.refused(exists);
            continue;
        }
        imp.progress.inc_length(exists);
        if exists == 0 {
            continue;
        }
        let max = imp.max_message;
        let mut failed: Option<anyhow::Error> = None;
        let mut sent = 0u64;
        c.command(
            "UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])",
            max,
            &mut |r| {
                if failed.is_some() {
                    return Ok(());
                }
                match fetched(imp, &name, r) {
                    Ok(true) => sent += 1,
                    Ok(false) => {}
                    Err(e) => failed = Some(e),
                }
                Ok(())
            },
        )
        .with_context(|| format!("fetching the messages of {name}"))?;
        if let Some(e) = failed {
            return Err(e);
        }
        if sent < exists {
            // Expunged meanwhile by another client, or withheld: either
            // way not imported, so said.
            let missing = exists - sent;
            imp.stats.damaged += missing;
            imp.progress.inc(missing);
            imp.report(&format!(
                "{name}: the server listed {exists} messages but sent {sent}; {missing} not imported"
            ));
        }
    }
    let _ = c.command("LOGOUT", 0, &mut |_| Ok(()));
    Ok(())
}

/// One FETCH response: stored, or reported.
/// Whether it was one of the messages asked for.
fn fetched(imp: &mut Importer, mailbox: &str, r: Response) -> anyhow::Result<bool> {
    // Only answers with the message: a server may also send FETCH FLAGS
    // of its own accord (another session changed them).
    if !r.text.starts_with("* ") || !r.text.contains(" FETCH (") || !r.text.contains("BODY[]") {
        return Ok(false);
    }
    imp.progress.inc(1);
    let uid = item(&r.text, "UID ")
        .and_then(|s| s.split([' ', ')']).next())
        .unwrap_or("?")
        .to_owned();
    let origin = format!("{mailbox} UID {uid}");
    let raw = match r.literals.into_iter().next() {
        Some(Ok(raw)) => raw,
        Some(Err(size)) => {
            imp.too_large(&origin, size);
            return Ok(true);
        }
        None => {
            imp.damaged(&origin, "the server sent no message text");
            return Ok(true);
        }
    };
    if let Some(why) = super::damage(&raw) {
        imp.damaged(&origin, &why);
        return Ok(true);
    }
    let flags = item(&r.text, "FLAGS (")
        .and_then(|s| s.split(')').next())
        .map(parse_flags)
        .unwrap_or_default();
    let date = item(&r.text, "INTERNALDATE \"")
        .and_then(|s| s.split('"').next())
        .and_then(|d| DateTime::parse_from_str(d.trim(), "%d-%b-%Y %H:%M:%S %z").ok());
    let Some(date) = date else {
        imp.damaged(&origin, "the server sent no INTERNALDATE that can be read");
        return Ok(true);
    };
    imp.add(Incoming {
        raw: to_crlf(&raw),
        flags,
        date,
        origin,
    })?;
    Ok(true)
}

/// The text after `key` in a FETCH response.
fn item<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text
        .find(&format!(" {key}"))
        .or_else(|| text.find(&format!("({key}")))?;
    Some(&text[at + 1 + key.len()..])
}

fn parse_flags(s: &str) -> Vec<Flag> {
    s.split_whitespace()
        .filter_map(|f| match f.to_ascii_lowercase().as_str() {
            "\\seen" => Some(Flag::Seen),
            "\\answered" => Some(Flag::Answered),
            "\\flagged" => Some(Flag::Flagged),
            "\\deleted" => Some(Flag::Deleted),
            "\\draft" => Some(Flag::Draft),
            // \Recent belongs to the session; other \ flags are not kept.
            _ if f.starts_with('\\') => None,
            _ => Some(Flag::Keyword(f.to_owned())),
        })
        .collect()
}

/// The first personal namespace's prefix in a NAMESPACE response
/// (RFC 2342), decoded.
fn personal_prefix(text: &str) -> Option<String> {
    let rest = text.strip_prefix("* NAMESPACE ((\"")?;
    let wire = rest.split('"').next()?;
    Some(crate::mutf7::decode(wire.as_bytes()).unwrap_or_else(|_| wire.to_owned()))
}

/// A LIST response's (wire name, mailbox name here), if selectable; the
/// personal namespace `prefix` left out of the name.
fn list_entry(r: &Response, prefix: &str) -> Option<(String, String)> {
    let rest = r.text.strip_prefix("* LIST (")?;
    let (attrs, rest) = rest.split_once(')')?;
    if attrs
        .split_whitespace()
        .any(|a| a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent"))
    {
        return None;
    }
    let rest = rest.trim_start();
    let (delim, rest) = if let Some(r) = rest.strip_prefix("NIL") {
        (None, r)
    } else {
        let r = rest.strip_prefix('"')?;
        let (d, r) = if let Some(r) = r.strip_prefix('\\') {
            (r.chars().next()?, &r[1..])
        } else {
            (r.chars().next()?, &r[r.chars().next()?.len_utf8()..])
        };
        (Some(d), r.strip_prefix('"')?)
    };
    let wire = match r.literals.first() {
        Some(Ok(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Err(_)) => return None,
        None => {
            let n = rest.trim();
            match n.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                Some(q) => q.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => n.to_owned(),
            }
        }
    };
    let decoded = crate::mutf7::decode(wire.as_bytes()).unwrap_or_else(|_| wire.clone());
    let decoded = match decoded.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() && !rest.is_empty() => rest.to_owned(),
        _ => decoded,
    };
    let name = if decoded.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        match delim {
            Some(d) if d != DELIMITER => decoded
                .split(d)
                .map(|seg| seg.replace(DELIMITER, "_"))
                .collect::<Vec<_>>()
                .join(&DELIMITER.to_string()),
            _ => decoded,
        }
    };
    Some((wire, name))
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("imaps://bob:p%40ss@mail.example.org:1993/").expect("url");
        assert_eq!(u.user, "bob");
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!((u.host.as_str(), u.port), ("mail.example.org", 1993));
        let u = Url::parse("imaps://bob@mail.example.org").expect("url");
        assert_eq!((u.password, u.port), (None, 993));
        assert!(Url::parse("imap://bob@x").is_err());
        assert!(Url::parse("imaps://x").is_err());
        assert!(Url::parse("imaps://b@x:notaport/").is_err());
    }

    #[test]
    fn list_lines() {
        let r = |t: &str| Response {
            text: t.into(),
            literals: vec![],
        };
        assert_eq!(
            list_entry(&r("* LIST (\\HasNoChildren) \".\" INBOX.Sub"), ""),
            Some(("INBOX.Sub".into(), "INBOX/Sub".into()))
        );
        assert_eq!(
            list_entry(&r("* LIST (\\HasNoChildren) \".\" INBOX.Sub.x"), "INBOX."),
            Some(("INBOX.Sub.x".into(), "Sub/x".into()))
        );
        assert_eq!(
            list_entry(&r("* LIST (\\HasChildren) \".\" INBOX"), "INBOX."),
            Some(("INBOX".into(), "INBOX".into()))
        );
        assert_eq!(
            personal_prefix("* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL").as_deref(),
            Some("INBOX.")
        );
        assert_eq!(
            personal_prefix("* NAMESPACE ((\"\" \"/\")) NIL NIL").as_deref(),
            Some("")
        );
        assert_eq!(
            list_entry(&r("* LIST () \"/\" \"Entw&APw-rfe/a b\""), ""),
            Some(("Entw&APw-rfe/a b".into(), "Entwürfe/a b".into()))
        );
        assert_eq!(list_entry(&r("* LIST (\\Noselect) \"/\" x"), ""), None);
        assert_eq!(
            literal_size("* LIST () \"/\" {5}"),
            Some((5, "* LIST () \"/\" "))
        );
    }

    #[test]
    fn fetch_items() {
        let t = "* 1 FETCH (UID 7 FLAGS (\\Seen \\Recent Junk) INTERNALDATE \" 3-Dec-2026 12:00:05 +0000\" BODY[] ";
        assert_eq!(
            item(t, "UID "),
            Some(
                "7 FLAGS (\\Seen \\Recent Junk) INTERNALDATE \" 3-Dec-2026 12:00:05 +0000\" BODY[] "
            )
        );
        let flags = parse_flags(
            item(t, "FLAGS (")
                .and_then(|s| s.split(')').next())
                .unwrap_or(""),
        );
        assert_eq!(flags, vec![Flag::Seen, Flag::Keyword("Junk".into())]);
    }
}
