//! TLS: the rustls server configuration for IMAPS and STARTTLS.
//!
//! The certificate comes from the configured PEM files, or, when none are
//! configured, from a self-signed certificate generated on first start and
//! kept in `<data_dir>/tls/` so clients that pinned it keep working across
//! restarts. One crypto provider (ring) is used for the whole process.
//!
//! This module builds configuration only; it does not accept connections.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context as _, bail};
use chrono::Datelike as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};

use crate::config::Config;

/// The IANA-registered ALPN protocol id for IMAP.
const ALPN_IMAP: &[u8] = b"imap";

/// Years a generated certificate is valid. It is self-signed, so clients
/// trust it by pinning, not by date; a short life would only break pins.
const SELF_SIGNED_YEARS: i32 = 10;

/// Makes ring the process-wide default provider for any rustls user that
/// does not name one. Installing twice is harmless and ignored.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The server configuration: TLS 1.2 and 1.3, ALPN `imap`, no client
/// certificates, and the configured or generated certificate.
pub fn server_config(cfg: &Config) -> anyhow::Result<Arc<ServerConfig>> {
    Ok(Tls::new(cfg)?.server_config())
}

/// The TLS setup of a running server: one rustls configuration shared by
/// every listener, whose certificate can be replaced while it runs (a
/// renewed certificate on reload). A handshake takes the certificate in
/// force when it starts; connections already up keep theirs.
#[derive(Debug, Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    current: Arc<CurrentCert>,
}

impl Tls {
    /// Loads the certificate and key (generating a self-signed pair when
    /// none is configured) and logs the certificate's SHA-256 fingerprint.
    pub fn new(cfg: &Config) -> anyhow::Result<Tls> {
        install_crypto_provider();
        let loaded = load_certified_key(cfg)?;
        loaded.log("TLS certificate");
        let current = Arc::new(CurrentCert(RwLock::new(Arc::new(loaded.key))));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("cannot enable TLS 1.2 and 1.3")?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![ALPN_IMAP.to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            current,
        })
    }

    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// Reads the certificate and key `cfg` names again and, if they load
    /// and match, uses them for every handshake from now on. On error the
    /// certificate in force stays. Returns the new certificate's
    /// fingerprint.
    pub fn reload(&self, cfg: &Config) -> anyhow::Result<String> {
        let loaded = load_certified_key(cfg)?;
        loaded.log("TLS certificate reloaded");
        let fingerprint = loaded.fingerprint.clone();
        *self.current.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded.key);
        Ok(fingerprint)
    }

    /// The SHA-256 fingerprint of the certificate in force.
    pub fn fingerprint(&self) -> String {
        let key = self.current.0.read().unwrap_or_else(|e| e.into_inner());
        key.cert
            .first()
            .map(|c| fingerprint_sha256(c))
            .unwrap_or_default()
    }
}

/// The certificate handed to every new handshake.
#[derive(Debug)]
struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

struct Loaded {
    key: CertifiedKey,
    origin: String,
    fingerprint: String,
}

impl Loaded {
    fn log(&self, what: &str) {
        // The fingerprint lets a user check a self-signed certificate a
        // client shows them (openssl x509 -fingerprint -sha256 prints it
        // the same way).
        tracing::info!(files = %self.origin, sha256 = %self.fingerprint, "{what}");
    }
}

/// The configured (or generated) certificate chain with its key, checked
/// to belong together.
fn load_certified_key(cfg: &Config) -> anyhow::Result<Loaded> {
    let (certs, key, origin) = match (&cfg.tls.cert, &cfg.tls.key) {
        (Some(cert), Some(key)) => {
            let origin = format!("{} and {}", cert.display(), key.display());
            (load_certs(cert)?, load_key(key)?, origin)
        }
        (None, None) => {
            let (cert, key) = self_signed(&cfg.data_dir)?;
            let origin = format!("{} and {}", cert.display(), key.display());
            (load_certs(&cert)?, load_key(&key)?, origin)
        }
        _ => bail!("tls.cert and tls.key must both be set, or neither"),
    };
    let fingerprint = fingerprint_sha256(&certs[0]);
    let provider = rustls::crypto::ring::default_provider();
    let key = CertifiedKey::from_der(certs, key, &provider)
        .with_context(|| format!("cannot use the TLS certificate and key {origin}"))?;
    Ok(Loaded {
        key,
        origin,
        fingerprint,
    })
}

/// SHA-256 of a certificate's DER bytes as colon-separated upper-case hex
/// pairs, the form clients and `openssl x509 -fingerprint` show.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// Every certificate in a PEM file, leaf first.
fn load_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read TLS certificates from {}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "no certificate (BEGIN CERTIFICATE) found in {}",
            path.display()
        );
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            anyhow::anyhow!(
                "no private key (BEGIN PRIVATE KEY) found in {}",
                path.display()
            )
        }
        e => anyhow::Error::new(e).context(format!(
            "cannot read the TLS private key from {}",
            path.display()
        )),
    })
}

/// The generated certificate and key in `<data_dir>/tls/`, made now if
/// either is missing.
fn self_signed(data_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;

    let (cert_pem, key_pem) = generate_self_signed()?;
    // Key first: a certificate without its key would be reused as is.
    write_new(&key_path, key_pem.as_bytes(), 0o600)?;
    write_new(&cert_path, cert_pem.as_bytes(), 0o644)?;
    tracing::warn!(
        cert = %cert_path.display(),
        "generated a self-signed TLS certificate; clients will warn until a real one is configured"
    );
    Ok((cert_path, key_path))
}

/// A certificate for `localhost`, `127.0.0.1`, `::1` and this host's name.
fn generate_self_signed() -> anyhow::Result<(String, String)> {
    let host = hostname().filter(|h| h != "localhost");
    let common_name = host.clone().unwrap_or_else(|| "localhost".to_owned());
    let mut names: Vec<String> = host.into_iter().collect();
    names.extend(["localhost", "127.0.0.1", "::1"].map(str::to_owned));

    let mut params =
        rcgen::CertificateParams::new(names).context("cannot make certificate parameters")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Roost (self-signed)");
    let year = chrono::Utc::now().year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + SELF_SIGNED_YEARS, 1, 1);

    let key = rcgen::KeyPair::generate().context("cannot generate a TLS key")?;
    let cert = params
        .self_signed(&key)
        .context("cannot sign the TLS certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// This machine's host name if it can be a DNS name in a certificate.
pub(crate) fn hostname() -> Option<String> {
    let raw = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .ok()?;
    let host = raw.trim().to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    valid.then_some(host)
}

/// Writes `contents` to a temporary file with `mode`, syncs it and renames
/// it over `path`, so a crash never leaves half a key behind.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("pem.tmp");
    let _ = fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;
    use crate::store::testing::TempDir;

    fn config_in(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            ..Config::default()
        }
    }

    #[test]
    fn self_signed_is_generated_once_and_reused() {
        let dir = TempDir::new("tls-self");
        let cfg = config_in(dir.path());
        let config = server_config(&cfg).expect("first start");
        assert_eq!(config.alpn_protocols, vec![b"imap".to_vec()]);

        let cert_path = dir.path().join("tls/cert.pem");
        let key_path = dir.path().join("tls/key.pem");
        let cert = fs::read(&cert_path).expect("cert written");
        let key = fs::read(&key_path).expect("key written");
        let mode = fs::metadata(&key_path).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(dir.path().join("tls"))
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o077, 0);

        server_config(&cfg).expect("second start");
        assert_eq!(
            fs::read(&cert_path).expect("cert"),
            cert,
            "certificate was regenerated"
        );
        assert_eq!(
            fs::read(&key_path).expect("key"),
            key,
            "key was regenerated"
        );
    }

    #[test]
    fn configured_pem_files_are_used() {
        let gen_dir = TempDir::new("tls-gen");
        let (cert, key) = self_signed(gen_dir.path()).expect("generate");
        let data = TempDir::new("tls-data");
        let mut cfg = config_in(data.path());
        cfg.tls.cert = Some(cert);
        cfg.tls.key = Some(key);
        server_config(&cfg).expect("configured files load");
        assert!(
            !data.path().join("tls").exists(),
            "nothing generated when files are given"
        );
    }

    fn error_of(cfg: &Config) -> String {
        match server_config(cfg) {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn pem_errors_name_the_file() {
        let gen_dir = TempDir::new("tls-errs");
        let (cert, key) = self_signed(gen_dir.path()).expect("generate");
        let garbage = gen_dir.path().join("garbage.pem");
        fs::write(&garbage, "not pem at all\n").expect("write");
        let missing = gen_dir.path().join("missing.pem");

        let mut cfg = config_in(gen_dir.path());
        cfg.tls.cert = Some(missing.clone());
        cfg.tls.key = Some(key.clone());
        let e = error_of(&cfg);
        assert!(e.contains("missing.pem"), "{e}");

        cfg.tls.cert = Some(garbage.clone());
        let e = error_of(&cfg);
        assert!(
            e.contains("garbage.pem") && e.contains("no certificate"),
            "{e}"
        );

        cfg.tls.cert = Some(cert.clone());
        cfg.tls.key = Some(garbage.clone());
        let e = error_of(&cfg);
        assert!(
            e.contains("garbage.pem") && e.contains("no private key"),
            "{e}"
        );

        // A key file holding only a certificate has no key either.
        cfg.tls.key = Some(cert.clone());
        let e = error_of(&cfg);
        assert!(e.contains("no private key"), "{e}");
    }

    #[tokio::test]
    async fn handshake_with_generated_certificate() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        use tokio_rustls::{TlsAcceptor, TlsConnector};

        let dir = TempDir::new("tls-handshake");
        let server = server_config(&config_in(dir.path())).expect("server config");
        let cert = load_certs(&dir.path().join("tls/cert.pem")).expect("cert");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert[0].clone()).expect("trust generated cert");
        let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        client.alpn_protocols = vec![b"imap".to_vec()];

        let (c, s) = tokio::io::duplex(64 * 1024);
        let accept = tokio::spawn(async move {
            let mut tls = TlsAcceptor::from(server).accept(s).await.expect("accept");
            tls.write_all(b"* OK hi\r\n").await.expect("write");
            tls.flush().await.expect("flush");
        });
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = TlsConnector::from(Arc::new(client))
            .connect(name, c)
            .await
            .expect("connect");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"imap"[..]));
        let mut buf = [0u8; 9];
        tls.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"* OK hi\r\n");
        accept.await.expect("server task");
    }

    #[test]
    fn reload_swaps_the_certificate_and_keeps_it_on_error() {
        let a = TempDir::new("tls-reload-a");
        let b = TempDir::new("tls-reload-b");
        let (cert_a, key_a) = self_signed(a.path()).expect("generate a");
        let (cert_b, key_b) = self_signed(b.path()).expect("generate b");
        let mut cfg = config_in(a.path());
        cfg.tls.cert = Some(cert_a.clone());
        cfg.tls.key = Some(key_a);
        let tls = Tls::new(&cfg).expect("start");
        let first = tls.fingerprint();
        let der_a = load_certs(&cert_a).expect("a");
        assert_eq!(first, fingerprint_sha256(&der_a[0]));
        assert_eq!(first.len(), 32 * 3 - 1, "{first}");

        cfg.tls.cert = Some(cert_b.clone());
        cfg.tls.key = Some(key_b.clone());
        let second = tls.reload(&cfg).expect("reload b");
        assert_ne!(second, first);
        assert_eq!(tls.fingerprint(), second);

        // A key that does not match is refused; b stays in force.
        cfg.tls.key = Some(a.path().join("tls/key.pem"));
        let e = tls.reload(&cfg).expect_err("mismatch");
        assert!(format!("{e:#}").contains("key.pem"), "{e:#}");
        assert_eq!(tls.fingerprint(), second);
    }

    #[test]
    fn mismatched_key_is_refused() {
        let a = TempDir::new("tls-a");
        let b = TempDir::new("tls-b");
        let (cert_a, _) = self_signed(a.path()).expect("generate a");
        let (_, key_b) = self_signed(b.path()).expect("generate b");
        let mut cfg = config_in(a.path());
        cfg.tls.cert = Some(cert_a);
        cfg.tls.key = Some(key_b);
        let e = error_of(&cfg);
        assert!(e.contains("cert.pem") && e.contains("key.pem"), "{e}");
    }
}
