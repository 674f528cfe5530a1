//! Sniffs the HTTP/2 prior-knowledge preface so one port serves both
//! HTTP/1.1 and h2c, as Go daprd's HTTP port does.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;

/// The client connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection say.
#[derive(Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/2 with prior knowledge.
    H2,
    /// Anything else is handed to the HTTP/1.1 loop (which rejects garbage).
    H1,
}

/// Classifies `buf`: `None` while it is still a strict prefix of the preface.
pub fn classify(buf: &[u8]) -> Option<Protocol> {
    let n = buf.len().min(H2_PREFACE.len());
    if buf[..n] != H2_PREFACE[..n] {
        Some(Protocol::H1)
    } else if n == H2_PREFACE.len() {
        Some(Protocol::H2)
    } else {
        None
    }
}

/// Reads until the protocol is known. Returns the bytes read (to be replayed
/// to the chosen codec) or `Ok(None)` if the peer closed first.
pub async fn sniff<S: AsyncReadRent>(
    io: &mut S,
    idle: Duration,
) -> io::Result<Option<(Protocol, BytesMut)>> {
    let mut buf = BytesMut::with_capacity(8192);
    loop {
        if !buf.is_empty() {
            if let Some(p) = classify(&buf) {
                return Ok(Some((p, buf)));
            }
        }
        let (len, cap) = (buf.len(), buf.capacity());
        match monoio::time::timeout(idle, io.read(buf.slice_mut(len..cap))).await {
            Ok((Ok(0), _)) => return Ok(None),
            Ok((Ok(_), slice)) => buf = slice.into_inner(),
            Ok((Err(e), _)) => return Err(e),
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Some(Protocol::H1));
        assert_eq!(classify(b"PRI * HTTP/2.0\r\n"), None);
        assert_eq!(classify(H2_PREFACE), Some(Protocol::H2));
        let mut more = H2_PREFACE.to_vec();
        more.extend_from_slice(b"\x00\x00\x12\x04");
        assert_eq!(classify(&more), Some(Protocol::H2));
        assert_eq!(classify(b"PRX"), Some(Protocol::H1));
        assert_eq!(classify(b"P"), None);
    }
}
