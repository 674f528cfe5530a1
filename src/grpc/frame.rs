//! Sans-IO gRPC message framing: the 5-byte prefix (compressed flag + u32
//! big-endian length) around each protobuf message.
//!
//! [`Decoder`] accepts body bytes in whatever pieces HTTP/2 DATA frames
//! deliver them — a message split over many frames, or many messages in one
//! frame — and yields whole messages, refusing any whose declared length
//! exceeds the limit before buffering it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Length of the message prefix.
pub const PREFIX_LEN: usize = 5;

/// One framed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Whether the payload is compressed with the call's `grpc-encoding`.
    pub compressed: bool,
    /// The payload (still compressed when `compressed`).
    pub payload: Bytes,
}

/// A framing violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The declared length exceeds the limit (`RESOURCE_EXHAUSTED`).
    #[error("grpc: received message larger than max ({len} vs. {max})")]
    TooLarge {
        /// Declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The compressed flag is neither 0 nor 1.
    #[error("grpc: invalid compressed flag {0}")]
    BadFlag(u8),
    /// The stream ended inside a message.
    #[error("grpc: stream ended inside a message ({have} of {want} bytes)")]
    Truncated {
        /// Bytes received.
        have: usize,
        /// Bytes needed.
        want: usize,
    },
}

/// Incremental decoder of length-prefixed messages.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max: usize,
}

impl Decoder {
    /// A decoder refusing messages over `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max,
        }
    }

    /// Appends received body bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        if self.buf.len() < PREFIX_LEN {
            return Ok(None);
        }
        let flag = self.buf[0];
        if flag > 1 {
            return Err(FrameError::BadFlag(flag));
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if self.buf.len() < PREFIX_LEN + len {
            self.buf.reserve(PREFIX_LEN + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(PREFIX_LEN);
        Ok(Some(Message {
            compressed: flag == 1,
            payload: self.buf.split_to(len).freeze(),
        }))
    }

    /// Whether no bytes are buffered (the stream is at a message boundary).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Call at end of stream: an error if a partial message is pending.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let want = if self.buf.len() >= PREFIX_LEN {
            PREFIX_LEN
                + u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize
        } else {
            PREFIX_LEN
        };
        Err(FrameError::Truncated {
            have: self.buf.len(),
            want,
        })
    }
}

/// Frames `payload` (uncompressed) into one buffer.
pub fn encode(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(PREFIX_LEN + payload.len());
    out.put_u8(0);
    // Messages over 4 GiB cannot be framed; callers bound sizes far below.
    out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(payload);
    out.freeze()
}

/// Parses a `grpc-timeout` header value (`<digits up to 8><H|M|S|m|u|n>`).
pub fn parse_timeout(value: &str) -> Option<std::time::Duration> {
    use std::time::Duration;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn split_and_joined_messages() {
        let mut wire = encode(b"hello").to_vec();
        wire.extend_from_slice(&encode(b""));
        wire.extend_from_slice(&encode(b"world!"));
        // Feed byte by byte: every message comes out once, whole.
        let mut d = Decoder::new(100);
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            while let Some(m) = d.next_message().unwrap() {
                got.push(m.payload);
            }
        }
        assert_eq!(
            got,
            vec![Bytes::from("hello"), Bytes::new(), Bytes::from("world!")]
        );
        d.finish().unwrap();
    }

    #[test]
    fn oversized_is_refused_before_buffering() {
        let mut d = Decoder::new(4);
        d.push(&[0, 0, 0, 0, 5]);
        assert_eq!(
            d.next_message(),
            Err(FrameError::TooLarge { len: 5, max: 4 })
        );
    }

    #[test]
    fn truncated_and_bad_flag() {
        let mut d = Decoder::new(100);
        d.push(&[0, 0, 0, 0, 3, b'a']);
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(d.finish(), Err(FrameError::Truncated { have: 6, want: 8 }));
        let mut d = Decoder::new(100);
        d.push(&[7, 0, 0, 0, 0]);
        assert_eq!(d.next_message(), Err(FrameError::BadFlag(7)));
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("5n"), Some(Duration::from_nanos(5)));
        assert_eq!(parse_timeout("123456789S"), None);
        assert_eq!(parse_timeout("S"), None);
        assert_eq!(parse_timeout("10x"), None);
        assert_eq!(parse_timeout(""), None);
    }
}
