//! `roost backup DIR` and `roost restore DIR`.
//!
//! A backup is LMDB's own compacting copy of the store, taken in one read
//! transaction while the server runs: it holds exactly what was committed
//! (so acknowledged) when the copy began, and nothing half-written. It is
//! written as `DIR/store/data.mdb` with `DIR/SHA256SUMS` beside it
//! (`sha256sum -c SHA256SUMS` checks it). The search index is not in it: it
//! is derived from the store.
//!
//! A restore (server stopped) checks the checksum, puts the file in place
//! as `<data_dir>/store/data.mdb` and removes the search index, which is
//! keyed by mailbox id and UID and so could describe other mail than the
//! restored store's: the next start rebuilds it.
//!
//! Run as root, both commands read and write the store as the data
//! directory's owner (see `datadir`); the backup directory is created by,
//! and belongs to, the user who runs the command.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read as _, Seek as _, Write};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::config::Config;
use crate::datadir::{self, DirLock, Need};
use crate::store::Store;

const DATA_FILE: &str = "data.mdb";
const SUMS: &str = "SHA256SUMS";
const SUMS_NAME: &str = "store/data.mdb";

/// `roost backup DIR`.
pub fn backup(config: &Config, dest: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let owner = datadir::check(&config.data_dir, Need::Store, config.file.as_deref())?;
    // The destination is made as the caller, before anything else: a root
    // caller's backup stays root's even though the store is read as its
    // owner below.
    let (mut data, mut sums) = create_destination(dest)?;
    datadir::become_owner(owner)?;
    let store = Store::open(&config.data_dir)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;

    let done = Arc::new(AtomicBool::new(false));
    let progress = spawn_progress(&data, done.clone());
    let copied = store.copy_compacted_to(&mut data);
    done.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        let _ = p.join();
    }
    copied.with_context(|| format!("copying the store to {}", dest.display()))?;
    data.sync_all().context("syncing the backup")?;

    data.rewind().context("reading the backup back")?;
    let (size, sha256) = digest(&mut data).context("reading the backup back")?;
    writeln!(sums, "{sha256}  {SUMS_NAME}").context("writing SHA256SUMS")?;
    sums.sync_all().context("writing SHA256SUMS")?;
    writeln!(
        out,
        "backed up {} to {}: {size} bytes, sha256 {sha256}",
        config.data_dir.display(),
        dest.join(SUMS_NAME).display()
    )?;
    Ok(())
}

/// `DIR` must not exist, or be empty; made 0700 (it holds password hashes
/// and mail). Returns the opened data file and checksum file.
fn create_destination(dest: &Path) -> anyhow::Result<(File, File)> {
    match fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: a backup goes into a new or empty directory",
                    dest.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dest.display())),
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dest.join("store"))
        .with_context(|| format!("cannot create {}", dest.display()))?;
    let open = |path: &Path| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))
    };
    Ok((
        open(&dest.join("store").join(DATA_FILE))?,
        open(&dest.join(SUMS))?,
    ))
}

/// Prints the size written so far every second, on stderr, until `done`.
fn spawn_progress(file: &File, done: Arc<AtomicBool>) -> Option<std::thread::JoinHandle<()>> {
    let file = file.try_clone().ok()?;
    std::thread::Builder::new()
        .name("backup-progress".into())
        .spawn(move || {
            let mut waited = Duration::ZERO;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                waited += Duration::from_millis(100);
                if waited >= Duration::from_secs(1) {
                    waited = Duration::ZERO;
                    if let Ok(meta) = file.metadata() {
                        eprintln!("roost: backup: {} MiB copied", meta.len() >> 20);
                    }
                }
            }
        })
        .ok()
}

/// Size and SHA-256 (lower-case hex, as sha256sum prints it) of the rest
/// of `file`.
fn digest(file: &mut File) -> std::io::Result<(u64, String)> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    let hex: String = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex))
}

/// `roost restore DIR [--force]`.
pub fn restore(
    config: &Config,
    src: &Path,
    force: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // Read and check the backup as the caller (it may be theirs alone).
    let sums_path = src.join(SUMS);
    let sums = fs::read_to_string(&sums_path).with_context(|| {
        format!(
            "cannot read {}: is {} a roost backup?",
            sums_path.display(),
            src.display()
        )
    })?;
    let want = sums
        .lines()
        .find_map(|l| l.strip_suffix(&format!("  {SUMS_NAME}")))
        .with_context(|| format!("{} names no {SUMS_NAME}", sums_path.display()))?
        .to_owned();
    let data_path = src.join(SUMS_NAME);
    let mut data =
        File::open(&data_path).with_context(|| format!("cannot open {}", data_path.display()))?;
    let (size, got) =
        digest(&mut data).with_context(|| format!("cannot read {}", data_path.display()))?;
    if got != want {
        bail!(
            "{} is damaged: its SHA-256 is {got}, SHA256SUMS says {want}",
            data_path.display()
        );
    }
    data.rewind()?;

    let owner = datadir::check(&config.data_dir, Need::Directory, config.file.as_deref())?;
    datadir::become_owner(owner)?;
    let _lock = DirLock::take(&config.data_dir)?;
    if datadir::has_store(&config.data_dir) && !force {
        bail!(
            "{} already holds a store; `roost restore --force` replaces it (its mail is lost)",
            config.data_dir.display()
        );
    }

    let store_dir = config.data_dir.join("store");
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&store_dir)
        .with_context(|| format!("cannot create {}", store_dir.display()))?;
    let tmp = store_dir.join("data.mdb.restoring");
    let _ = fs::remove_file(&tmp);
    {
        let mut target = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        std::io::copy(&mut data, &mut target)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        target
            .sync_all()
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    // The lock file describes readers of the store that is going away.
    match fs::remove_file(store_dir.join("lock.mdb")) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context("removing the old store's lock.mdb"),
    }
    fs::rename(&tmp, store_dir.join(DATA_FILE)).context("putting the restored store in place")?;
    File::open(&store_dir)
        .and_then(|d| d.sync_all())
        .context("syncing the store directory")?;

    // A stale index would answer SEARCH for other mail: the next start
    // finds none and builds it from the restored store.
    let index = crate::search::index::index_dir(&config.data_dir);
    match fs::remove_dir_all(&index) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("removing the old search index {}", index.display()));
        }
    }

    let store = Store::open(&config.data_dir).context("opening the restored store")?;
    let users = store.list_users()?.len();
    writeln!(
        out,
        "restored {} ({size} bytes, sha256 {got}) into {}: {users} users; the search index is rebuilt at the next start",
        data_path.display(),
        config.data_dir.display()
    )?;
    Ok(())
}
