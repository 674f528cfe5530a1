//! TLS for Redis connections (`enableTLS`), set up as Go Dapr's Redis
//! client does it, and driven over our own monoio connection
//! ([`crate::net::tls`]).
//!
//! Go builds `tls.Config{InsecureSkipVerify: insecureSkipTLSVerify}` and
//! adds `clientCert`/`clientKey` (PEM text, both required) as the client
//! certificate. So, as in Go:
//! - the server certificate is verified against the system roots (the same
//!   files Go's `crypto/x509` reads; `SSL_CERT_FILE` and `SSL_CERT_DIR`
//!   are honoured) and against the host of the address dialled (DNS name
//!   or IP address), unless `insecureSkipTLSVerify` is true: then any
//!   certificate is accepted (the handshake signatures are still checked).
//!   That is insecure, and meant for tests;
//! - TLS 1.2 and 1.3 are offered;
//! - a client certificate is presented only when both `clientCert` and
//!   `clientKey` are set.

use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection};

pub use crate::net::tls::{blocking, handshake, TlsReader, TlsWriter};
use crate::net::tls::{client_config, pem_certs, pem_key, server_name, Verify};

/// `enableTLS` settings and the client configuration built from them.
#[derive(Clone)]
pub struct Tls {
    /// `insecureSkipTLSVerify`: accept any server certificate.
    pub insecure_skip_verify: bool,
    /// `clientCert` and `clientKey` (PEM), when both are set.
    client_identity: Option<(String, String)>,
    config: Arc<ClientConfig>,
}

impl Tls {
    /// Builds the client configuration; the error names the bad field.
    pub fn new(
        insecure_skip_verify: bool,
        client_cert: &str,
        client_key: &str,
    ) -> Result<Tls, String> {
        let verify = if insecure_skip_verify {
            Verify::Skip
        } else {
            Verify::System
        };
        // Go: both or neither (one alone is ignored).
        let client_identity = (!client_cert.trim().is_empty() && !client_key.trim().is_empty())
            .then(|| (client_cert.to_owned(), client_key.to_owned()));
        let identity = match &client_identity {
            Some((cert, key)) => Some((
                pem_certs(cert).map_err(|e| format!("clientCert: {e}"))?,
                pem_key(key).map_err(|e| format!("clientKey: {e}"))?,
            )),
            None => None,
        };
        let config = client_config(verify, identity).map_err(|e| {
            if client_identity.is_some() {
                format!("clientCert/clientKey: {e}")
            } else {
                format!("enableTLS: {e}")
            }
        })?;
        Ok(Tls {
            insecure_skip_verify,
            client_identity,
            config,
        })
    }

    /// Whether a client certificate is presented.
    pub fn presents_client_cert(&self) -> bool {
        self.client_identity.is_some()
    }

    /// A client session for the server at `addr` (`host:port`): the host is
    /// the name (or IP address) the certificate must carry.
    pub fn session(&self, addr: &str) -> Result<ClientConnection, String> {
        let name = server_name(addr)?;
        ClientConnection::new(self.config.clone(), name).map_err(|e| format!("TLS: {e}"))
    }
}

impl PartialEq for Tls {
    fn eq(&self, other: &Tls) -> bool {
        self.insecure_skip_verify == other.insecure_skip_verify
            && self.client_identity == other.client_identity
    }
}

impl Eq for Tls {}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("client_cert", &self.client_identity.is_some())
            .finish()
    }
}
