//! TLS between the nodes of a cluster: a certificate authority of the cluster's own, made by
//! the node that forms the cluster, and a certificate per node signed by it. Peers verify each
//! other both ways (mutual TLS) against that authority alone; no public CA is trusted.
//!
//! A node joining gets the authority through a proof of the cluster secret (so that nobody
//! between it and the cluster can slip in an authority of their own: the secret itself never
//! crosses an unverified connection), then its certificate, from a member, over TLS verified
//! against that authority, by presenting the secret.
//!
//! Certificates name the cluster, not a node's address: a node may move (a restart at another
//! address), and every member holding the authority's signature is equally trusted.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The name every node certificate carries, and the one verified.
pub const CLUSTER_NAME: &str = "cluster.roost.invalid";
const CA_FILE: &str = "cluster-ca.pem";
const CA_KEY_FILE: &str = "cluster-ca.key";
const NODE_FILE: &str = "node.pem";
const NODE_KEY_FILE: &str = "node.key";

/// A node's TLS material: the cluster's authority (with its key, so that any member can admit
/// a new node) and the node's own certificate and key, all PEM.
#[derive(Clone, Serialize, Deserialize)]
pub struct ClusterTls {
    pub ca: String,
    ca_key: String,
    node: String,
    node_key: String,
}

impl std::fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterTls { .. }") // keys stay out of logs
    }
}

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::Refused(format!("cluster TLS: {e}"))
}

/// The authority's parameters: always the same, so that a signature made with its stored key
/// names the stored certificate as issuer.
fn ca_params() -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Roost cluster authority");
    p.distinguished_name = name;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2124, 1, 1);
    Ok(p)
}

impl ClusterTls {
    /// A new authority, and a certificate for the node that made it.
    pub fn create(node_id: u64) -> Result<ClusterTls> {
        let ca_key = KeyPair::generate().map_err(tls_err)?;
        let ca = ca_params()?.self_signed(&ca_key).map_err(tls_err)?;
        let half =
            ClusterTls { ca: ca.pem(), ca_key: ca_key.serialize_pem(), node: String::new(), node_key: String::new() };
        half.issue(node_id)
    }

    /// The same authority with a new certificate for `node_id` (to hand to a joining node).
    pub fn issue(&self, node_id: u64) -> Result<ClusterTls> {
        let ca_key = KeyPair::from_pem(&self.ca_key).map_err(tls_err)?;
        let ca = ca_params()?.self_signed(&ca_key).map_err(tls_err)?;
        let mut p = CertificateParams::new(vec![CLUSTER_NAME.to_string()]).map_err(tls_err)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, format!("Roost node {node_id}"));
        p.distinguished_name = name;
        p.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2124, 1, 1);
        let key = KeyPair::generate().map_err(tls_err)?;
        let cert = p.signed_by(&key, &ca, &ca_key).map_err(tls_err)?;
        Ok(ClusterTls {
            ca: self.ca.clone(),
            ca_key: self.ca_key.clone(),
            node: cert.pem(),
            node_key: key.serialize_pem(),
        })
    }

    /// The material kept in a data directory, if it holds any.
    pub fn load(data_dir: &Path) -> Result<Option<ClusterTls>> {
        let read = |f: &str| std::fs::read_to_string(data_dir.join(f));
        match read(CA_FILE) {
            Ok(ca) => Ok(Some(ClusterTls {
                ca,
                ca_key: read(CA_KEY_FILE)?,
                node: read(NODE_FILE)?,
                node_key: read(NODE_KEY_FILE)?,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps the material in the data directory, each file readable by its owner only.
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        // The authority last: its presence says the rest is there.
        for (file, contents) in
            [(NODE_KEY_FILE, &self.node_key), (NODE_FILE, &self.node), (CA_KEY_FILE, &self.ca_key), (CA_FILE, &self.ca)]
        {
            crate::identity::write_private(&data_dir.join(file), contents)?;
        }
        Ok(())
    }

    fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        let ca = CertificateDer::from_pem_slice(self.ca.as_bytes()).map_err(tls_err)?;
        roots.add(ca).map_err(tls_err)?;
        Ok(roots)
    }

    fn identity(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let cert = CertificateDer::from_pem_slice(self.node.as_bytes()).map_err(tls_err)?;
        let key = PrivateKeyDer::from_pem_slice(self.node_key.as_bytes()).map_err(tls_err)?;
        Ok((vec![cert], key))
    }

    /// What the peers' listener serves with: this node's certificate, and a client certificate
    /// checked against the authority when one is presented (requests that need one refuse the
    /// connections without: see `server`).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(tls_err)?;
        let (certs, key) = self.identity()?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(tls_err)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// What this node connects to its peers with: the authority alone is trusted, and this
    /// node's certificate is presented.
    pub fn client_config(&self) -> Result<rustls::ClientConfig> {
        let (certs, key) = self.identity()?;
        client_builder(self.roots()?, true)?.with_client_auth_cert(certs, key).map_err(tls_err)
    }

    /// For a node that knows the authority but has no certificate yet (while joining).
    pub(crate) fn anonymous_client(ca: &str) -> Result<rustls::ClientConfig> {
        let half = ClusterTls { ca: ca.into(), ca_key: String::new(), node: String::new(), node_key: String::new() };
        Ok(client_builder(half.roots()?, true)?.with_no_client_auth())
    }
}

fn client_builder(
    roots: RootCertStore,
    chain: bool,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(tls_err)?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ClusterVerifier { inner, chain })))
}

/// Verifies a peer's certificate against the cluster's authority under [`CLUSTER_NAME`],
/// whatever address it was reached at — or, for fetching the authority itself (`chain: false`),
/// accepts any certificate: that answer is then checked with the secret ([`ca_proof`]) before
/// anything is trusted or sent. Handshake signatures are verified either way.
#[derive(Debug)]
struct ClusterVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    chain: bool,
}

impl ServerCertVerifier for ClusterVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.chain {
            return Ok(ServerCertVerified::assertion());
        }
        let name = ServerName::try_from(CLUSTER_NAME).map_err(|e| rustls::Error::General(e.to_string()))?;
        self.inner.verify_server_cert(end_entity, intermediates, &name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The client for fetching the authority (see [`ClusterVerifier`]).
pub(crate) fn proof_client_config() -> Result<rustls::ClientConfig> {
    // Any root will do: the chain is not checked, only the handshake's signatures.
    let someone = ClusterTls::create(0)?;
    Ok(client_builder(someone.roots()?, false)?.with_no_client_auth())
}

/// A member's proof that it knows the cluster secret, binding the authority it sends to the
/// joiner's fresh nonce: a keyed BLAKE3 of both under a key derived from the secret.
pub fn ca_proof(secret: &str, nonce: &str, ca_pem: &str) -> String {
    let key = blake3::derive_key("roost cluster authority proof v1", secret.as_bytes());
    let mut h = blake3::Hasher::new_keyed(&key);
    h.update(&(nonce.len() as u64).to_le_bytes());
    h.update(nonce.as_bytes());
    h.update(ca_pem.as_bytes());
    h.finalize().to_hex().to_string()
}

/// Whether `proof` is [`ca_proof`] of these, compared in constant time.
pub fn proof_holds(secret: &str, nonce: &str, ca_pem: &str, proof: &str) -> bool {
    let expected = ca_proof(secret, nonce, ca_pem);
    expected.len() == proof.len() && expected.bytes().zip(proof.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_issued_by_one_authority_and_kept() {
        let first = ClusterTls::create(7).unwrap();
        let joiner = first.issue(9).unwrap();
        assert_eq!(first.ca, joiner.ca);
        assert_ne!(first.node, joiner.node);
        first.server_config().unwrap();
        joiner.client_config().unwrap();
        let dir = tempfile::tempdir().unwrap();
        joiner.save(dir.path()).unwrap();
        let back = ClusterTls::load(dir.path()).unwrap().unwrap();
        assert_eq!(back.node, joiner.node);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(NODE_KEY_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(ClusterTls::load(tempfile::tempdir().unwrap().path()).unwrap().is_none());
    }

    #[test]
    fn proofs_need_the_secret_and_bind_the_authority_and_nonce() {
        let p = ca_proof("s3cret", "n1", "CA");
        assert!(proof_holds("s3cret", "n1", "CA", &p));
        assert!(!proof_holds("guess", "n1", "CA", &p));
        assert!(!proof_holds("s3cret", "n2", "CA", &p));
        assert!(!proof_holds("s3cret", "n1", "OTHER CA", &p));
    }
}
