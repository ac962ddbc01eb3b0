//! The data directory as the administration commands meet it: whether it
//! holds a store, and acting as the user who owns it.
//!
//! The service runs as its own user (`roost` in the package) and owns
//! `<data_dir>`. An administrator runs `roost user add` as root; a file the
//! command created as root (LMDB's lock file, a grown data file, the search
//! index) would then be unreadable for the service, which would fail to
//! start. So a command run as root on a data directory owned by someone
//! else first becomes that owner, for good, before it opens anything:
//! whatever it creates belongs to the owner, and a bug in the command
//! cannot do more than the service itself could.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Whether `data_dir` holds a store (its LMDB data file).
pub fn has_store(data_dir: &Path) -> bool {
    data_dir.join("store").join("data.mdb").is_file()
}

/// What an administration command needs of the data directory before it
/// opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A store must already be there (listing, changing, deleting users;
    /// rebuilding the index): a missing one means a wrong `data_dir`.
    Store,
    /// The directory must exist; a store is created in it if there is none
    /// yet (`user add` on a fresh install, before the first start).
    Directory,
}

/// Checks `data_dir` for `need` and, when running as root on a directory
/// owned by another user, becomes that user (and its group). `config`
/// names the configuration file in use, for the error messages: a wrong
/// data directory usually means the wrong (or no) configuration.
///
/// Returns the user id the command now runs as, when it changed.
pub fn prepare(data_dir: &Path, need: Need, config: Option<&Path>) -> anyhow::Result<Option<u32>> {
    let owner = check(data_dir, need, config)?;
    become_owner(owner)
}

/// The owner (user, group, and the path that decided it) of the store in
/// `data_dir`, once `need` is checked; see `prepare`.
pub fn check(data_dir: &Path, need: Need, config: Option<&Path>) -> anyhow::Result<Owner> {
    let from = match config {
        Some(path) => format!("data_dir from {}", path.display()),
        None => "the built-in default data_dir; no configuration file was found".to_owned(),
    };
    let meta = match std::fs::metadata(data_dir) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => bail!("{} is not a directory ({from})", data_dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "the data directory {} does not exist ({from}); `roost serve` creates it on first \
             start, or give the right one with --config or --data-dir",
            data_dir.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {} ({from})", data_dir.display()));
        }
    };
    if need == Need::Store && !has_store(data_dir) {
        bail!(
            "no store in {} ({from}): is that the server's data directory? Give the right one \
             with --config or --data-dir",
            data_dir.display()
        );
    }
    // The store directory's owner decides when there is one; otherwise the
    // data directory's, which the store will be created in.
    let store_dir = data_dir.join("store");
    Ok(std::fs::metadata(&store_dir)
        .map(|m| (m.uid(), m.gid(), store_dir))
        .unwrap_or_else(|_| (meta.uid(), meta.gid(), data_dir.to_path_buf())))
}

/// A user id, group id and the path they were read from.
pub type Owner = (u32, u32, PathBuf);

/// Run as root, becomes `owner` (unless that is root); otherwise does
/// nothing. Returns the user id now in force when it changed.
#[allow(unsafe_code)]
pub fn become_owner((uid, gid, path): Owner) -> anyhow::Result<Option<u32>> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 || uid == 0 {
        return Ok(None);
    }
    // Group first: once the user id changes, the group can no longer be.
    // SAFETY: setgroups with a count of 0 reads nothing; setgid and setuid
    // take plain ids. The process is single-threaded here (nothing has
    // been started yet), so every thread gets the new ids.
    let failed = unsafe {
        libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(gid) != 0
            || libc::setuid(uid) != 0
    };
    if failed {
        return Err(std::io::Error::last_os_error()).with_context(|| {
            format!(
                "cannot switch to user {uid} and group {gid}, the owner of {}",
                path.display()
            )
        });
    }
    Ok(Some(uid))
}

/// An exclusive lock on the data directory (`<data_dir>/roost.lock`,
/// flock(2)), held by `roost serve` for its whole life and by `roost
/// restore`: so a restore never replaces the store under a running server,
/// and two servers never share one directory. The kernel drops it when the
/// process ends, however it ends.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock, or says who holds it.
    pub fn take(data_dir: &Path) -> anyhow::Result<DirLock> {
        use std::os::fd::AsRawFd as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = data_dir.join("roost.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if !flock_exclusive(file.as_raw_fd()) {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                bail!(
                    "{} is in use: a roost server is running on it (stop it first)",
                    data_dir.display()
                );
            }
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
        Ok(DirLock { _file: file })
    }
}

#[allow(unsafe_code)]
fn flock_exclusive(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: flock on a descriptor this process owns (the open file).
    unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::TempDir;

    #[test]
    fn missing_directory_and_missing_store_are_refused_with_the_config_named() {
        let dir = TempDir::new("datadir-missing");
        let gone = dir.path().join("nope");
        let e = prepare(&gone, Need::Directory, Some(Path::new("/x/roost.toml")))
            .expect_err("missing dir");
        let text = format!("{e:#}");
        assert!(
            text.contains("does not exist") && text.contains("/x/roost.toml"),
            "{text}"
        );
        assert!(!gone.exists(), "nothing was created");

        let e = prepare(dir.path(), Need::Store, None).expect_err("no store");
        let text = format!("{e:#}");
        assert!(
            text.contains("no store in") && text.contains("built-in default"),
            "{text}"
        );
        assert!(!dir.path().join("store").exists(), "nothing was created");

        // An empty directory is fine for `user add`.
        prepare(dir.path(), Need::Directory, None).expect("directory is enough");
    }

    #[test]
    fn the_directory_lock_is_exclusive_and_released_on_drop() {
        let dir = TempDir::new("datadir-lock");
        let held = DirLock::take(dir.path()).expect("first");
        let e = DirLock::take(dir.path()).expect_err("second");
        assert!(format!("{e:#}").contains("is in use"), "{e:#}");
        drop(held);
        DirLock::take(dir.path()).expect("after release");
    }

    #[test]
    fn a_store_is_recognised() {
        let dir = TempDir::new("datadir-store");
        assert!(!has_store(dir.path()));
        let _store = crate::store::Store::open(dir.path()).expect("open");
        assert!(has_store(dir.path()));
        prepare(dir.path(), Need::Store, None).expect("store there");
    }
}
