//! Holds the LMDB write lock of a Roost store until standard input closes,
//! as a long administration command in another process would. The
//! integration tests use it to wedge a running server's store writer for
//! real and watch the systemd watchdog pings stop.
//!
//! Usage: hold_write_lock DATA_DIR   (prints `locked` once it holds the lock)

use std::io::{BufRead as _, Write as _};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::args_os()
        .nth(1)
        .ok_or("usage: hold_write_lock DATA_DIR")?;
    let path = std::path::Path::new(&data_dir).join("store");
    let mut options = heed::EnvOpenOptions::new().read_txn_without_tls();
    // The same map size and table count the server opens with.
    options.map_size(64 << 30).max_dbs(32);
    // SAFETY: the store is only ever changed through LMDB, here and in the
    // server, coordinated by its lock file; this process writes nothing.
    let env = unsafe { options.open(&path)? };
    let txn = env.write_txn()?;
    println!("locked");
    std::io::stdout().flush()?;
    // Wait for end of input, then let go without writing anything.
    for line in std::io::stdin().lock().lines() {
        line?;
    }
    txn.abort();
    Ok(())
}
