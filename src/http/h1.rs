//! The HTTP/1.1 connection loop.
//!
//! Parsing uses monoio-http's sans-IO decoders (request head and chunked
//! body); this loop owns the I/O around them so that it can enforce what a
//! sidecar facing untrusted clients needs and the codec's own driver does
//! not offer: a bound on head size (`--read-buffer-size`, 431), a bound on
//! body size (`--max-body-size`, 413), a header read timeout against slow
//! clients, an idle timeout, and prompt closing of idle keep-alive
//! connections on shutdown.
//!
//! One read buffer per connection is filled by the runtime (rent-style I/O)
//! and bodies are split off it as `Bytes` without copying. Bytes left over
//! after a request are the start of the next one, which is all pipelining
//! needs. Responses are encoded into one reusable write buffer; large bodies
//! are written straight from their `Bytes`.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, Method, StatusCode, Version};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio_codec::{Decoded, Decoder};
use monoio_http::common::error::HttpError;
use monoio_http::common::request::RequestHead;
use monoio_http::h1::codec::decoder::{
    DecodeError, DirectWrapper, GenericHeadDecoder, PayloadDecoder, RequestHeadDecoder,
};

use super::body::{self, BodyStream, Framing, Pumped};
use super::date::append_date;
use super::message::{Rejection, Request, Response};
use crate::net::shutdown::Drain;

/// Bodies up to this size are copied into the write buffer with the head
/// (one write syscall); larger ones are written from their own `Bytes`.
const COALESCE_LIMIT: usize = 16 * 1024;
/// Minimum free space before a read.
const READ_RESERVE: usize = 8 * 1024;
/// How long, and how much, a rejected client may keep sending before we close.
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 4 * 1024 * 1024;

/// Per-connection limits and timeouts.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request head (request line + headers), bytes.
    pub max_head: usize,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Time allowed to receive a complete head once its first byte arrived.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// Longest gap between two reads of a request body.
    pub body_timeout: Duration,
}

/// What the connection loop calls for every request.
#[allow(async_fn_in_trait)] // thread-per-core: the futures are intentionally !Send
pub trait Service {
    /// Handles one request.
    async fn call(&self, req: Request) -> Response;

    /// Whether this request's body should be streamed to the handler
    /// (`Request::stream`) instead of collected first. Asked only when the
    /// body is not already in the read buffer.
    fn streams_body(&self, _head: &RequestHead) -> bool {
        false
    }

    /// The answer to a request the connection loop refuses before any
    /// handler sees it. The default is a plain-text body; a service with an
    /// error format of its own (Dapr's JSON errors) overrides it.
    fn reject(&self, rejection: Rejection) -> Response {
        rejection.plain()
    }
}

type HeadDecoder = GenericHeadDecoder<RequestHead, RequestHeadDecoder, DirectWrapper>;

/// Why a connection loop ended; used for logging only.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// The peer closed the connection between requests.
    Eof,
    /// `Connection: close`, HTTP/1.0, or a protocol error answered with a response.
    Done,
    /// The runtime is shutting down.
    Shutdown,
    /// A read timed out (slow or idle client).
    Timeout,
    /// The socket failed, or the peer vanished mid-request.
    Io,
}

/// Accepts HTTP/1.1 connections on `listener` until `drain` closes and
/// serves each with `svc` (the control-plane services' `/healthz` and
/// `/metrics` ports).
pub fn spawn_accept<Svc: Service + 'static>(
    listener: monoio::net::TcpListener,
    svc: std::rc::Rc<Svc>,
    limits: std::rc::Rc<Limits>,
    drain: Drain,
) {
    let d = drain.clone();
    monoio::spawn(crate::net::listener::accept_loop(
        listener,
        drain,
        move |io, peer| {
            let (svc, limits, drain) = (svc.clone(), limits.clone(), d.clone());
            async move {
                let _ = serve(
                    io,
                    BytesMut::with_capacity(4096),
                    &limits,
                    &*svc,
                    &drain,
                    Some(peer),
                )
                .await;
            }
        },
    ));
}

/// Serves HTTP/1.1 on `io` until the connection ends. `buf` holds bytes
/// already read from the connection (e.g. while sniffing for HTTP/2).
pub async fn serve<S, Svc>(
    mut io: S,
    mut buf: BytesMut,
    limits: &Limits,
    svc: &Svc,
    drain: &Drain,
    peer: Option<std::net::SocketAddr>,
) -> Closed
where
    S: AsyncReadRent + AsyncWriteRent,
    Svc: Service,
{
    let mut head_decoder = HeadDecoder::default();
    let mut wbuf = BytesMut::with_capacity(4096);
    loop {
        // --- 1. the request head ---
        let (head, payload) = loop {
            let before = buf.len();
            match head_decoder.decode(&mut buf) {
                Ok(Decoded::Some(parts)) => {
                    if before - buf.len() > limits.max_head {
                        return reject(&mut io, &mut wbuf, svc, Rejection::HeadersTooLarge).await;
                    }
                    break parts;
                }
                Ok(Decoded::Insufficient | Decoded::InsufficientAtLeast(_)) => {}
                Err(e) => return reject(&mut io, &mut wbuf, svc, bad_head(&e)).await,
            }
            if buf.len() > limits.max_head {
                return reject(&mut io, &mut wbuf, svc, Rejection::HeadersTooLarge).await;
            }
            let read = if buf.is_empty() {
                // Idle between requests: shutdown may close us here.
                monoio::select! {
                    r = fill(&mut io, &mut buf, limits.idle_timeout) => r,
                    _ = drain.closing() => return Closed::Shutdown,
                }
            } else {
                fill(&mut io, &mut buf, limits.header_timeout).await
            };
            match read {
                Ok(0) if buf.is_empty() => return Closed::Eof,
                Ok(0) => return Closed::Io,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Closed::Timeout,
                Err(_) => return Closed::Io,
            }
        };

        let mut keep_alive = wants_keep_alive(head.version, &head.headers);
        let head_only = head.method == Method::HEAD;
        let version = head.version;

        // --- 2a. a streamed body: the handler reads it while we pump ---
        let framing = match &payload {
            PayloadDecoder::Fixed(_) => {
                let len = content_length(&head.headers);
                (len > buf.len()).then_some(Framing::Length(len as u64))
            }
            PayloadDecoder::Streamed(_) => Some(Framing::Chunked),
            PayloadDecoder::None => None,
        };
        if let Some(framing) = framing.filter(|_| svc.streams_body(&head)) {
            if let Framing::Length(len) = framing {
                if len > limits.max_body as u64 {
                    return reject(
                        &mut io,
                        &mut wbuf,
                        svc,
                        Rejection::BodyTooLarge(limits.max_body),
                    )
                    .await;
                }
            }
            if expects_continue(&head) && send_continue(&mut io).await.is_err() {
                return Closed::Io;
            }
            let len = match framing {
                Framing::Length(n) => Some(n),
                _ => None,
            };
            let (tx, stream) = BodyStream::channel(len);
            let req = Request {
                method: head.method,
                uri: head.uri,
                version: head.version,
                headers: head.headers,
                body: Bytes::new(),
                stream: Some(stream),
                remote: peer,
            };
            let pump = body::pump(
                &mut io,
                &mut buf,
                framing,
                limits.max_body,
                limits.body_timeout,
                tx,
            );
            let (pumped, resp) = monoio::join!(pump, svc.call(req));
            match pumped {
                Pumped::Done => {}
                // The rest of the body is still on the wire: no reuse.
                Pumped::Abandoned => keep_alive = false,
                Pumped::Failed(body::StreamError::Closed | body::StreamError::Timeout) => {
                    return Closed::Io
                }
                Pumped::Failed(_) => keep_alive = false,
            }
            let keep_alive = keep_alive && !drain.is_closing();
            if write_response(&mut io, &mut wbuf, resp, keep_alive, head_only, version)
                .await
                .is_err()
            {
                return Closed::Io;
            }
            if !keep_alive {
                return Closed::Done;
            }
            continue;
        }

        // --- 2b. a collected body ---
        let body = match payload {
            PayloadDecoder::None => Bytes::new(),
            PayloadDecoder::Fixed(mut decoder) => {
                let len = content_length(&head.headers);
                if len > limits.max_body {
                    return reject(
                        &mut io,
                        &mut wbuf,
                        svc,
                        Rejection::BodyTooLarge(limits.max_body),
                    )
                    .await;
                }
                if buf.len() < len
                    && expects_continue(&head)
                    && send_continue(&mut io).await.is_err()
                {
                    return Closed::Io;
                }
                loop {
                    match decoder.decode(&mut buf) {
                        Ok(Decoded::Some(body)) => break body,
                        Ok(_) => {}
                        Err(_) => return Closed::Io,
                    }
                    match fill(&mut io, &mut buf, limits.body_timeout).await {
                        Ok(0) | Err(_) => return Closed::Io,
                        Ok(_) => {}
                    }
                }
            }
            PayloadDecoder::Streamed(mut decoder) => {
                if expects_continue(&head)
                    && buf.is_empty()
                    && send_continue(&mut io).await.is_err()
                {
                    return Closed::Io;
                }
                let mut collected = BytesMut::new();
                loop {
                    match decoder.decode(&mut buf) {
                        Ok(Decoded::Some(Some(chunk))) => {
                            if collected.len() + chunk.len() > limits.max_body {
                                return reject(
                                    &mut io,
                                    &mut wbuf,
                                    svc,
                                    Rejection::BodyTooLarge(limits.max_body),
                                )
                                .await;
                            }
                            collected.extend_from_slice(&chunk);
                            continue;
                        }
                        Ok(Decoded::Some(None)) => break collected.freeze(),
                        Ok(_) => {}
                        Err(_) => {
                            let malformed = Rejection::MalformedBody("malformed chunked body");
                            return reject(&mut io, &mut wbuf, svc, malformed).await;
                        }
                    }
                    // A pending chunk that cannot fit is refused before it is buffered.
                    if collected.len() + buf.len() > limits.max_body + READ_RESERVE {
                        return reject(
                            &mut io,
                            &mut wbuf,
                            svc,
                            Rejection::BodyTooLarge(limits.max_body),
                        )
                        .await;
                    }
                    match fill(&mut io, &mut buf, limits.body_timeout).await {
                        Ok(0) | Err(_) => return Closed::Io,
                        Ok(_) => {}
                    }
                }
            }
        };

        // --- 3. the handler ---
        let req = Request {
            method: head.method,
            uri: head.uri,
            version: head.version,
            headers: head.headers,
            body,
            stream: None,
            remote: peer,
        };
        let resp = svc.call(req).await;

        // --- 4. the response ---
        let keep_alive = keep_alive && !drain.is_closing();
        if write_response(&mut io, &mut wbuf, resp, keep_alive, head_only, version)
            .await
            .is_err()
        {
            return Closed::Io;
        }
        if !keep_alive {
            return if drain.is_closing() {
                Closed::Shutdown
            } else {
                Closed::Done
            };
        }
        // Keep the buffer from growing without bound across requests.
        if buf.is_empty() && buf.capacity() > 64 * 1024 {
            buf = BytesMut::with_capacity(READ_RESERVE);
        }
    }
}

/// Reads once into the free tail of `buf`, failing with `TimedOut` after `timeout`.
async fn fill<S: AsyncReadRent>(
    io: &mut S,
    buf: &mut BytesMut,
    timeout: Duration,
) -> io::Result<usize> {
    if buf.capacity() - buf.len() < READ_RESERVE {
        buf.reserve(READ_RESERVE);
    }
    let owned = std::mem::take(buf);
    let (len, cap) = (owned.len(), owned.capacity());
    match monoio::time::timeout(timeout, io.read(owned.slice_mut(len..cap))).await {
        Ok((res, slice)) => {
            *buf = slice.into_inner();
            res
        }
        // The read was cancelled with its buffer; the caller closes the connection.
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

fn wants_keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let conn = headers.get(header::CONNECTION).map(|v| v.as_bytes());
    let has = |token: &[u8]| {
        conn.is_some_and(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
        })
    };
    match version {
        Version::HTTP_11 => !has(b"close"),
        _ => has(b"keep-alive"),
    }
}

fn expects_continue(head: &RequestHead) -> bool {
    head.version == Version::HTTP_11
        && head
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

fn content_length(headers: &HeaderMap) -> usize {
    // The head decoder already validated the value.
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn send_continue<S: AsyncWriteRent>(io: &mut S) -> io::Result<()> {
    let (res, _) = io.write_all(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]).await;
    res.map(|_| ())
}

/// Answers a request refused before the service saw it, and closes.
async fn reject<S: AsyncReadRent + AsyncWriteRent, Svc: Service>(
    io: &mut S,
    wbuf: &mut BytesMut,
    svc: &Svc,
    rejection: Rejection,
) -> Closed {
    respond_and_close(io, wbuf, svc.reject(rejection)).await
}

/// What an unparsable request head is refused as.
fn bad_head(err: &HttpError) -> Rejection {
    let too_many_headers = matches!(
        err,
        HttpError::H1DecodeError(DecodeError::Parse(httparse::Error::TooManyHeaders))
    );
    if too_many_headers {
        Rejection::TooManyHeaders
    } else {
        Rejection::MalformedHead(err.to_string())
    }
}

/// Answers an error and closes "lingeringly": after the response, the write
/// side is shut down and whatever the client is still sending is read and
/// discarded for a moment. Closing with unread bytes would make the kernel
/// reset the connection, and the client could lose the response.
async fn respond_and_close<S: AsyncReadRent + AsyncWriteRent>(
    io: &mut S,
    wbuf: &mut BytesMut,
    resp: Response,
) -> Closed {
    if write_response(io, wbuf, resp, false, false, Version::HTTP_11)
        .await
        .is_err()
    {
        return Closed::Io;
    }
    let _ = io.shutdown().await;
    let deadline = std::time::Instant::now() + LINGER_TIME;
    let mut discarded = 0usize;
    let mut scratch = BytesMut::with_capacity(READ_RESERVE);
    while discarded < LINGER_BYTES {
        let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
            break;
        };
        scratch.clear();
        match fill(io, &mut scratch, left).await {
            Ok(0) | Err(_) => break,
            Ok(n) => discarded += n,
        }
    }
    Closed::Done
}

/// Encodes and writes one response; a streamed body is written as it
/// arrives (chunked when its length is unknown).
async fn write_response<S: AsyncWriteRent>(
    io: &mut S,
    wbuf: &mut BytesMut,
    mut resp: Response,
    keep_alive: bool,
    head_only: bool,
    version: Version,
) -> io::Result<()> {
    if let Some(stream) = resp.stream.take() {
        return write_streamed(io, wbuf, resp, stream, keep_alive, head_only, version).await;
    }
    let body = resp.body.clone();
    encode_head(wbuf, &resp, keep_alive, Some(body.len() as u64));
    let send_body = !head_only && !body.is_empty();
    if send_body && body.len() <= COALESCE_LIMIT {
        wbuf.extend_from_slice(&body);
    }
    let (res, returned) = io.write_all(std::mem::take(wbuf)).await;
    *wbuf = returned;
    wbuf.clear();
    res?;
    if send_body && body.len() > COALESCE_LIMIT {
        let (res, _) = io.write_all(body).await;
        res?;
    }
    Ok(())
}

async fn write_streamed<S: AsyncWriteRent>(
    io: &mut S,
    wbuf: &mut BytesMut,
    resp: Response,
    mut stream: BodyStream,
    keep_alive: bool,
    head_only: bool,
    version: Version,
) -> io::Result<()> {
    let framed = has_body_framing(resp.status);
    // HTTP/1.0 clients cannot take chunks: the body then ends at close.
    let chunked = framed && stream.len.is_none() && version == Version::HTTP_11;
    let keep_alive = keep_alive && (stream.len.is_some() || chunked || !framed);
    encode_head(
        wbuf,
        &resp,
        keep_alive,
        if chunked { None } else { stream.len },
    );
    if head_only || !framed {
        return flush(io, wbuf).await;
    }
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            // Nothing can be said mid-body but closing the connection.
            let _ = flush(io, wbuf).await;
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        if chunk.is_empty() {
            continue;
        }
        if chunked {
            wbuf.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        }
        if wbuf.len() + chunk.len() <= COALESCE_LIMIT {
            wbuf.extend_from_slice(&chunk);
        } else {
            flush(io, wbuf).await?;
            let (res, _) = io.write_all(chunk).await;
            res?;
        }
        if chunked {
            wbuf.extend_from_slice(b"\r\n");
        }
        // Flush when nothing more is ready, so slow streams are not held back.
        flush(io, wbuf).await?;
    }
    if chunked {
        wbuf.extend_from_slice(b"0\r\n\r\n");
    }
    flush(io, wbuf).await
}

async fn flush<S: AsyncWriteRent>(io: &mut S, wbuf: &mut BytesMut) -> io::Result<()> {
    if wbuf.is_empty() {
        return Ok(());
    }
    let (res, returned) = io.write_all(std::mem::take(wbuf)).await;
    *wbuf = returned;
    wbuf.clear();
    res.map(|_| ())
}

/// Writes the status line and headers of `resp` into `dst`; `body_len` is
/// the content length, or `None` for a chunked body.
pub fn encode_head(dst: &mut BytesMut, resp: &Response, keep_alive: bool, body_len: Option<u64>) {
    let status = resp.status;
    dst.extend_from_slice(b"HTTP/1.1 ");
    dst.extend_from_slice(status.as_str().as_bytes());
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    dst.extend_from_slice(b"\r\n");
    if let Some(ct) = &resp.content_type {
        dst.extend_from_slice(b"content-type: ");
        dst.extend_from_slice(ct.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    for (name, value) in &resp.headers {
        dst.extend_from_slice(name.as_str().as_bytes());
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    if has_body_framing(status) {
        match body_len {
            Some(n) => {
                dst.extend_from_slice(b"content-length: ");
                dst.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                dst.extend_from_slice(b"\r\n");
            }
            None => dst.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        }
    }
    dst.extend_from_slice(b"date: ");
    append_date(dst);
    dst.extend_from_slice(b"\r\n");
    if !keep_alive {
        dst.extend_from_slice(b"connection: close\r\n");
    }
    dst.extend_from_slice(b"\r\n");
}

/// 1xx, 204 and 304 responses carry no body and no `content-length`.
fn has_body_framing(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_rules() {
        let mut h = HeaderMap::new();
        assert!(wants_keep_alive(Version::HTTP_11, &h));
        assert!(!wants_keep_alive(Version::HTTP_10, &h));
        h.insert(header::CONNECTION, "Keep-Alive".parse().unwrap());
        assert!(wants_keep_alive(Version::HTTP_10, &h));
        h.insert(header::CONNECTION, "foo, close".parse().unwrap());
        assert!(!wants_keep_alive(Version::HTTP_11, &h));
    }

    #[test]
    fn head_encoding() {
        let mut dst = BytesMut::new();
        let resp = Response::json(StatusCode::OK, "{}");
        encode_head(&mut dst, &resp, false, Some(resp.body.len() as u64));
        let s = std::str::from_utf8(&dst).unwrap();
        assert!(s.starts_with(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\ndate: "
        ));
        assert!(s.ends_with("connection: close\r\n\r\n"));
        dst.clear();
        encode_head(&mut dst, &Response::no_content(), true, Some(0));
        let s = std::str::from_utf8(&dst).unwrap();
        assert!(s.starts_with("HTTP/1.1 204 No Content\r\ndate: "));
        assert!(!s.contains("content-length"));
    }
}
