//! A store of a format newer than this roost is refused by the real
//! binary, with a message naming both versions, and left as it was: each
//! store fixture (tests/fixtures/store-vN) is given `format_version` one
//! past the current one and opened. tests/integration/test_upgrade.py
//! checks the fixtures open and migrate; both list the fixtures.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use heed::types::{Bytes, Str};

/// Every store fixture (see tests/fixtures/README.md).
const FIXTURES: &[&str] = &["store-v1", "store-v2", "store-v3"];

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn env(store: &Path) -> heed::Env<heed::WithoutTls> {
    let mut options = heed::EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(1 << 30).max_dbs(32);
    // SAFETY: the file is this test's own copy, opened by no one else while
    // the environment is open.
    unsafe { options.open(store) }.expect("open the fixture's environment")
}

fn meta(env: &heed::Env<heed::WithoutTls>) -> heed::Database<'_, Str, Bytes> {
    let rtxn = env.read_txn().expect("read txn");
    env.open_databases_and_commit(rtxn, |opener, rtxn| -> Result<_, heed::Error> {
        let meta = opener.open_database::<Str, Bytes>(rtxn, Some("meta"))?;
        Ok(heed::CommitOrAbort::<_, ()>::Commit(meta))
    })
    .expect("open meta")
    .unwrap_commit()
    .expect("a meta table")
}

fn format_version(store: &Path) -> u32 {
    let env = env(store);
    let meta = meta(&env);
    let rtxn = env.read_txn().expect("read txn");
    let bytes = meta
        .get(&rtxn, "format_version")
        .expect("read")
        .expect("format_version");
    u32::from_be_bytes(bytes.try_into().expect("4 bytes"))
}

fn set_format_version(store: &Path, version: u32) {
    let env = env(store);
    let meta = meta(&env);
    let mut wtxn = env.write_txn().expect("write txn");
    meta.put(&mut wtxn, "format_version", &version.to_be_bytes())
        .expect("put");
    wtxn.commit().expect("commit");
}

#[test]
fn a_store_of_a_newer_format_is_refused_naming_both_versions() {
    let current = roost::store::FORMAT_VERSION;
    for name in FIXTURES {
        let data_dir =
            std::env::temp_dir().join(format!("roost-newer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let store = data_dir.join("store");
        std::fs::create_dir_all(&store).expect("mkdir");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(
            std::fs::File::open(fixture_dir(name).join("data.mdb.gz")).expect("fixture"),
        )
        .read_to_end(&mut raw)
        .expect("gunzip");
        std::fs::write(store.join("data.mdb"), raw).expect("write data.mdb");
        let newer = current + 1;
        set_format_version(&store, newer);

        let out = Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["user", "list", "--data-dir"])
            .arg(&data_dir)
            .env_remove("ROOST_CONFIG")
            .output()
            .expect("run roost");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("format version {newer}"))
                && stderr.contains(&format!("({current})")),
            "{name}: {stderr}"
        );
        // Refused before anything was written.
        assert_eq!(format_version(&store), newer, "{name}");
        let _ = std::fs::remove_dir_all(&data_dir);
    }
}
