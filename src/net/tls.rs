//! TLS client connections driven sans-IO over our own monoio sockets.
//!
//! rustls' `ClientConnection` is used sans-IO: the TCP stream is split
//! into its read and write halves as usual, and the two halves share the
//! session through a `RefCell` that is never held across an `.await`. (A
//! TLS stream type split with monoio's `Split` would hand both halves
//! `&mut` to one session at once.) Used by the Redis client (`enableTLS`)
//! and the HTTP/1.1 client (`https://` HTTPEndpoints and URLs).
//!
//! As Go's `crypto/tls` defaults: TLS 1.2 and 1.3, the server certificate
//! checked against the system roots (the files Go's `crypto/x509` reads;
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` honoured) or the roots given, and
//! against the host dialled (DNS name or IP address).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Splitable,
};
use monoio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// Ciphertext read from the socket at a time.
const RAW_READ: usize = 32 * 1024;

/// Where server certificates are checked.
pub enum Verify {
    /// The system's trusted roots.
    System,
    /// Only these roots (Go's `tls.Config.RootCAs`).
    Roots(RootCertStore),
    /// Any certificate (Go's `InsecureSkipVerify`; handshake signatures
    /// are still checked). For tests only.
    Skip,
}

/// A client configuration: TLS 1.2 and 1.3 (ring), server certificates
/// checked as `verify` says, and `identity` (certificate chain and key)
/// presented when the server asks for one.
pub fn client_config(
    verify: Verify,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match verify {
        Verify::System => builder.with_root_certificates(system_roots()),
        Verify::Roots(roots) => builder.with_root_certificates(roots),
        Verify::Skip => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider))),
    };
    let config = match identity {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| e.to_string())?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The certificates in PEM text (none is an error).
pub fn pem_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate found".to_owned());
    }
    Ok(certs)
}

/// The private key in PEM text (PKCS#8, PKCS#1 or SEC1).
pub fn pem_key(pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| format!("not a PEM private key: {e}"))
}

/// The system's trusted roots, read once per process (Go caches its
/// system pool too).
pub fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!("TLS: reading the system's trusted certificates: {e}");
            }
            let mut roots = RootCertStore::empty();
            let (_, ignored) = roots.add_parsable_certificates(found.certs);
            if ignored > 0 {
                tracing::warn!("TLS: {ignored} system certificates could not be used");
            }
            if roots.is_empty() {
                tracing::warn!(
                    "TLS: no trusted certificates found (set SSL_CERT_FILE); server certificates cannot be verified"
                );
            }
            Arc::new(roots)
        })
        .clone()
}

/// The TLS server name of `addr`: its host, without brackets or port.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let host = match addr.rsplit_once(':') {
        Some((h, p))
            if p.bytes().all(|b| b.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']')) =>
        {
            h
        }
        _ => addr,
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host)
        .map(|n| n.to_owned())
        .map_err(|e| format!("{host:?} cannot be checked against a TLS certificate: {e}"))
}

/// Go's `InsecureSkipVerify` (Redis' `insecureSkipTLSVerify`) accepts any chain and
/// name, but still checks the handshake signatures against the certificate.
#[derive(Debug)]
pub struct SkipVerify(pub Arc<CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn invalid(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Moves every queued TLS record of `session` into `out`.
fn drain(session: &mut ClientConnection, out: &mut Vec<u8>) -> io::Result<()> {
    while session.wants_write() {
        session.write_tls(out)?;
    }
    Ok(())
}

/// Runs the TLS handshake on `tcp` and splits the connection.
pub async fn handshake(
    mut tcp: TcpStream,
    mut session: ClientConnection,
) -> io::Result<(TlsReader, TlsWriter)> {
    let mut raw = Vec::with_capacity(RAW_READ);
    let mut out = Vec::new();
    while session.is_handshaking() {
        if session.wants_write() {
            out.clear();
            drain(&mut session, &mut out)?;
            let (res, buf) = tcp.write_all(out).await;
            out = buf;
            res?;
            continue;
        }
        raw.clear();
        let (res, buf) = tcp.read(raw).await;
        raw = buf;
        if res? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection during the TLS handshake",
            ));
        }
        let mut rest = &raw[..];
        while !rest.is_empty() {
            if session.read_tls(&mut rest)? == 0 {
                break;
            }
            if let Err(e) = session.process_new_packets() {
                // Tell the server why (best effort), as Go does.
                out.clear();
                if drain(&mut session, &mut out).is_ok() {
                    let _ = tcp.write_all(out).await;
                }
                return Err(invalid(e));
            }
        }
    }
    out.clear();
    drain(&mut session, &mut out)?;
    if !out.is_empty() {
        let (res, buf) = tcp.write_all(out).await;
        out = buf;
        res?;
    }
    let _ = tcp.set_nodelay(true);
    let (rd, wr) = tcp.into_split();
    let session = Rc::new(RefCell::new(session));
    raw.clear();
    out.clear();
    Ok((
        TlsReader {
            tcp: rd,
            session: session.clone(),
            raw,
            fed: 0,
        },
        TlsWriter {
            tcp: wr,
            session,
            out,
        },
    ))
}

/// The read side of a TLS connection.
pub struct TlsReader {
    tcp: OwnedReadHalf<TcpStream>,
    session: Rc<RefCell<ClientConnection>>,
    /// Ciphertext from the socket; `raw[fed..]` is not yet given to rustls.
    raw: Vec<u8>,
    fed: usize,
}

impl TlsReader {
    /// Appends plaintext to `buf` (at most `max` bytes); `Ok(0)` at the end
    /// of the stream.
    pub async fn read(&mut self, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
        loop {
            {
                let mut session = self.session.borrow_mut();
                let start = buf.len();
                buf.resize(start + max, 0);
                let got = session.reader().read(&mut buf[start..]);
                match got {
                    Ok(n) => {
                        buf.truncate(start + n);
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => buf.truncate(start),
                    Err(e) => {
                        buf.truncate(start);
                        return Err(e);
                    }
                }
                if self.fed < self.raw.len() {
                    let mut rest = &self.raw[self.fed..];
                    let n = session.read_tls(&mut rest)?;
                    if n == 0 {
                        return Ok(0);
                    }
                    self.fed += n;
                    session.process_new_packets().map_err(invalid)?;
                    continue;
                }
            }
            let mut raw = std::mem::take(&mut self.raw);
            raw.clear();
            self.fed = 0;
            let (res, raw) = self.tcp.read(raw).await;
            self.raw = raw;
            if res? == 0 {
                return Ok(0);
            }
        }
    }
}

/// The write side of a TLS connection.
pub struct TlsWriter {
    tcp: OwnedWriteHalf<TcpStream>,
    session: Rc<RefCell<ClientConnection>>,
    out: Vec<u8>,
}

impl TlsWriter {
    /// Encrypts and writes all of `data` (and any record the read side
    /// queued, such as a key update).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        loop {
            let mut out = std::mem::take(&mut self.out);
            out.clear();
            let wrote = {
                let mut session = self.session.borrow_mut();
                let n = if rest.is_empty() {
                    0
                } else {
                    session.writer().write(rest)?
                };
                drain(&mut session, &mut out)?;
                n
            };
            rest = &rest[wrote..];
            if out.is_empty() {
                self.out = out;
                if rest.is_empty() {
                    return Ok(());
                }
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the TLS session takes no more data",
                ));
            }
            let (res, out) = self.tcp.write_all(out).await;
            self.out = out;
            res?;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Sends `close_notify` and shuts the socket's write side.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.session.borrow_mut().send_close_notify();
        self.write_all(&[]).await?;
        self.tcp.shutdown().await
    }
}

/// A blocking TLS connection (the start-up probe): handshakes now, so a
/// failure is reported as one.
pub fn blocking(
    mut session: ClientConnection,
    mut tcp: std::net::TcpStream,
) -> io::Result<rustls::StreamOwned<ClientConnection, std::net::TcpStream>> {
    while session.is_handshaking() {
        session.complete_io(&mut tcp)?;
    }
    Ok(rustls::StreamOwned::new(session, tcp))
}
