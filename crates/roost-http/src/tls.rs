//! TLS for a listener from certificate and key files that may be replaced while it runs (a
//! renewed certificate is picked up without a restart).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// A certificate (with its chain) and key read from PEM files, re-read when either changes.
#[derive(Debug)]
pub struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last read.
    read_at: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Reads a certificate chain and its private key (PEM) into what rustls serves.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem).collect::<Result<_, _>>().map_err(|e| format!("certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the certificate file".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("private key: {e}"))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| format!("private key: {e}"))?;
    let certified = CertifiedKey::new(certs, signer);
    certified.keys_match().map_err(|e| format!("the key does not match the certificate: {e}"))?;
    Ok(certified)
}

impl CertFiles {
    /// Reads both files; an error says which is wrong.
    pub fn open(cert: &Path, key: &Path) -> Result<Arc<CertFiles>, String> {
        let (c, k) = (modified(cert), modified(key));
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
        let current = certified_key(&read(cert)?, &read(key)?)?;
        Ok(Arc::new(CertFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(current)),
            read_at: Mutex::new((c, k)),
        }))
    }

    /// Re-reads the files if either changed since last read; keeps the old certificate (and
    /// says why) if the new ones do not load. Whether it changed.
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let now = (modified(&self.cert), modified(&self.key));
        let mut read_at = self.read_at.lock().unwrap_or_else(|e| e.into_inner());
        if *read_at == now {
            return Ok(false);
        }
        *read_at = now;
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
        let fresh = certified_key(&read(&self.cert)?, &read(&self.key)?)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
        Ok(true)
    }

    /// Checks the files every `every` for as long as the task runs.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            match self.reload_if_changed() {
                Ok(true) => tracing::info!(cert = %self.cert.display(), "loaded the renewed TLS certificate"),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!("the TLS certificate files changed but do not load (still serving the old): {e}")
                }
            }
        }
    }

    /// The server configuration that serves whatever certificate is current.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let mut config = builder.with_no_client_auth().with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}
