//! The arrows of ARCHITECTURE.md point down: the layers below the protocols
//! import none of them, and the IMAP protocol core and session do no I/O.
//! Checked on the source text, so a new `use` that breaks a rule fails here.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn src(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(rel)
}

/// Files (or directories of files) under src/ and, per file, the code
/// lines (comments dropped) that contain one of `forbidden`.
fn offenders(roots: &[&str], forbidden: &[&str], skip_tests: bool) -> Vec<String> {
    let mut found = Vec::new();
    for root in roots {
        let path = src(root);
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path]
        };
        assert!(!files.is_empty(), "no source under src/{root}");
        for file in files {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if skip_tests
                && (name.contains("tests") || file.components().any(|c| c.as_os_str() == "tests"))
            {
                continue;
            }
            let text = fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
            let lines: Vec<&str> = text.lines().collect();
            for (n, line) in lines.iter().enumerate() {
                // An inline test module closes a file: what it uses is the
                // harness's, not the module's.
                if skip_tests
                    && line.trim() == "#[cfg(test)]"
                    && lines
                        .get(n + 1)
                        .is_some_and(|l| l.starts_with("mod ") && l.trim_end().ends_with('{'))
                {
                    break;
                }
                let code = line.split("//").next().unwrap_or("");
                for word in forbidden {
                    if code.contains(word) {
                        found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn layers_below_the_protocols_import_no_protocol() {
    let found = offenders(
        &[
            "mailbox", "search", "store", "mime", "auth", "types.rs", "transfer",
        ],
        &["crate::imap", "roost::imap", "crate::lmtp", "roost::lmtp"],
        false,
    );
    assert!(
        found.is_empty(),
        "a lower layer imports IMAP:\n{}",
        found.join("\n")
    );
}

#[test]
fn layers_below_the_mail_service_import_neither_it_nor_the_wiring() {
    let found = offenders(
        &["search", "store", "mime", "auth", "types.rs"],
        &["crate::mailbox", "crate::server"],
        true,
    );
    assert!(
        found.is_empty(),
        "a lower layer imports the mail service:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_store_imports_nothing_above_it() {
    let found = offenders(
        &["store"],
        &[
            "crate::search",
            "crate::mime",
            "crate::types",
            "crate::auth",
        ],
        false,
    );
    assert!(
        found.is_empty(),
        "the store imports a layer above it:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_metrics_registry_imports_nothing_of_the_crate() {
    // Every layer, the store included, counts into `metrics`: it must sit
    // below all of them.
    let found = offenders(&["metrics.rs"], &["crate::", "roost::", "super::"], true);
    assert!(
        found.is_empty(),
        "the metrics registry imports a layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn string_quoting_imports_nothing_of_the_crate() {
    // The IMAP encoder and `mime` both write strings through `quoting`:
    // it must sit below both.
    let found = offenders(&["quoting.rs"], &["crate::", "roost::", "super::"], true);
    assert!(
        found.is_empty(),
        "string quoting imports a layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn imap_protocol_core_and_session_do_no_io() {
    // Test harnesses drive the session with a runtime; the session itself
    // must not touch one. `std::net::IpAddr` is a value, not I/O.
    let found = offenders(
        &["imap/proto", "imap/session"],
        &[
            "actix",
            "heed",
            "tokio",
            "std::net::Tcp",
            "std::net::Udp",
            "TcpStream",
            "UdpSocket",
        ],
        true,
    );
    assert!(
        found.is_empty(),
        "IMAP's sans-IO core does I/O:\n{}",
        found.join("\n")
    );
}

#[test]
fn imap_protocol_core_and_session_read_no_clock() {
    // Time is passed in (`session::Now`): the driver reads the clocks, so a
    // transcript runs the same at any hour.
    let found = offenders(
        &["imap/proto", "imap/session", "imap/fetch.rs"],
        &[
            "Instant::now",
            "SystemTime",
            "Utc::now",
            "Local::now",
            "UNIX_EPOCH",
        ],
        true,
    );
    assert!(
        found.is_empty(),
        "IMAP's sans-IO core reads a clock:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_imap_session_reads_through_the_trait_only() {
    // The session reads through `mailbox::MailRead` and asks for everything
    // else as an `Action`: it names neither the store nor the service that
    // wraps it, so it runs on any mailbox that implements the trait.
    let found = offenders(
        &["imap/session", "imap/proto", "imap/fetch.rs"],
        &[
            "crate::store",
            "MailAccess",
            "MailReader",
            "search::planner",
            "search::index",
        ],
        true,
    );
    assert!(
        found.is_empty(),
        "IMAP's session reaches past the MailRead trait:\n{}",
        found.join("\n")
    );
}

#[test]
fn lmtp_protocol_core_and_session_do_no_io() {
    let found = offenders(
        &[
            "lmtp/command.rs",
            "lmtp/data.rs",
            "lmtp/reply.rs",
            "lmtp/session.rs",
        ],
        &[
            "actix",
            "heed",
            "tokio",
            "std::net",
            "crate::store",
            "crate::mailbox",
            "Instant::now",
        ],
        true,
    );
    assert!(
        found.is_empty(),
        "LMTP's sans-IO core does I/O:\n{}",
        found.join("\n")
    );
}

#[test]
fn lmtp_and_imap_do_not_import_each_other() {
    let found = offenders(&["lmtp"], &["crate::imap"], false);
    let back = offenders(&["imap"], &["crate::lmtp"], false);
    assert!(
        found.is_empty() && back.is_empty(),
        "one protocol imports the other:\n{}",
        found.into_iter().chain(back).collect::<Vec<_>>().join("\n")
    );
}

/// The check itself finds what it looks for, so a broken walk cannot pass
/// every rule by reading nothing.
#[test]
fn the_check_sees_imports() {
    let found = offenders(&["imap/conn.rs"], &["actix"], false);
    assert!(!found.is_empty());
    let clocks = offenders(&["imap/conn.rs"], &["Instant::now", "Utc::now"], false);
    assert!(!clocks.is_empty());
}
