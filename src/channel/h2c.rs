//! HTTP to the app over cleartext HTTP/2 (`--app-protocol h2c`): the same
//! [`ClientRequest`] / [`ClientResponse`] as the HTTP/1.1 pool, carried on the
//! worker's one multiplexed h2 connection ([`GrpcChannel`] manages it).
//!
//! Request bodies are sent as they arrive and response bodies handed on as
//! they arrive, both under h2 flow control, so memory stays bounded; a
//! response whose whole body is small (or already complete) is collected.

use bytes::{Bytes, BytesMut};
use http::header;

use super::grpc::GrpcChannel;
use crate::http::body::{BodyStream, StreamError};
use crate::http::client::{strip_hop_by_hop, ClientError, ClientRequest, ClientResponse, OutBody};
use crate::http::h2::{next_chunk, send_data};

/// Responses up to this size (by `content-length`) are read whole.
const COLLECT_LIMIT: u64 = 64 * 1024;

fn broken(e: impl std::fmt::Display) -> ClientError {
    ClientError::Broken(e.to_string())
}

/// One call over the h2 connection. Takes the request's headers and body,
/// leaving its method and target (for the caller's metrics).
pub async fn call(
    h2: &GrpcChannel,
    req: &mut ClientRequest,
) -> Result<ClientResponse, ClientError> {
    let uri = format!("http://{}{}", h2.authority(), req.target);
    let mut head = http::Request::builder()
        .method(req.method.clone())
        .uri(uri)
        .body(())
        .map_err(broken)?
        .into_parts()
        .0;
    head.headers = std::mem::take(&mut req.headers);
    let out = std::mem::replace(&mut req.body, OutBody::Full(Bytes::new()));
    strip_hop_by_hop(&mut head.headers);
    // h2 carries the authority itself and frames bodies itself.
    head.headers.remove(header::HOST);
    head.headers.remove(header::TRANSFER_ENCODING);
    let (response, mut send) = h2.open_stream(head).await.map_err(broken)?;

    let upload = async move {
        match out {
            OutBody::Full(b) => {
                if !b.is_empty() {
                    send_data(&mut send, b)
                        .await
                        .map_err(|_| broken("the app reset the stream"))?;
                }
            }
            OutBody::Stream(mut s) => {
                while let Some(chunk) = s.next().await {
                    let chunk = chunk.map_err(ClientError::RequestBody)?;
                    send_data(&mut send, chunk)
                        .await
                        .map_err(|_| broken("the app reset the stream"))?;
                }
            }
        }
        send.send_data(Bytes::new(), true).map_err(broken)
    };
    let (sent, response) = monoio::join!(upload, response);
    sent?;
    let (parts, mut body) = response.map_err(broken)?.into_parts();
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    let len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let small = body.is_end_stream() || len.is_some_and(|n| n <= COLLECT_LIMIT);
    if small {
        let mut buf = BytesMut::new();
        while let Some(chunk) = next_chunk(&mut body).await {
            buf.extend_from_slice(&chunk.map_err(broken)?);
        }
        return Ok(ClientResponse {
            status: parts.status,
            headers,
            body: buf.freeze(),
            stream: None,
        });
    }
    let (tx, stream) = BodyStream::channel(len);
    monoio::spawn(async move {
        while let Some(chunk) = next_chunk(&mut body).await {
            let item = chunk.map_err(|_| StreamError::Closed);
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    Ok(ClientResponse {
        status: parts.status,
        headers,
        body: Bytes::new(),
        stream: Some(stream),
    })
}
