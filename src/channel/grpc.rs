//! The gRPC channel to the app (`--app-protocol grpc`): unary calls of the
//! app's `AppCallback` services over one HTTP/2 connection per worker.
//!
//! HTTP/2 multiplexes, so a worker keeps a single connection (h2 client over
//! `monoio_compat`), dialled on first use and again after it breaks; calls in
//! flight on a broken connection fail and the next call redials.
//! `--app-max-concurrency` bounds this worker's calls in flight. The app's
//! status comes back as [`AppCallError::Status`]; transport failures as
//! [`AppCallError::Unavailable`].

use std::cell::{OnceCell, RefCell};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use http::{HeaderMap, HeaderValue, Method, Request};
use local_sync::semaphore::Semaphore;
use monoio::net::TcpStream;
use monoio_compat::StreamWrapper;

use crate::grpc::frame::{self, Decoder};
use crate::grpc::status::GrpcCode;
use crate::http::h2::next_chunk;
use crate::metrics::{GrpcCallTimer, Shard};

/// The app health check method: probes are counted in
/// `dapr_grpc_io_healthprobes_*`, not as client calls (as Go's interceptor).
pub const HEALTH_CHECK: &str = "/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck";

/// Dial timeout (Go's gRPC app channel waits on the app port the same way).
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an app call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppCallError {
    /// The app answered with a non-OK status.
    #[error("{message}")]
    Status {
        /// The code.
        code: GrpcCode,
        /// `grpc-message`.
        message: String,
    },
    /// The app could not be reached, or broke the call.
    #[error("{0}")]
    Unavailable(String),
}

impl AppCallError {
    /// The gRPC code of the failure.
    pub fn code(&self) -> GrpcCode {
        match self {
            Self::Status { code, .. } => *code,
            Self::Unavailable(_) => GrpcCode::Unavailable,
        }
    }
}

/// A worker's gRPC channel to the app.
pub struct GrpcChannel {
    addr: SocketAddr,
    authority: String,
    conn: RefCell<Option<SendRequest<Bytes>>>,
    dialing: Semaphore,
    limiter: Option<Semaphore>,
    max_message: usize,
    /// Where [`GrpcChannel::unary`] records `dapr_grpc_io_client_*`.
    metrics: OnceCell<Arc<Shard>>,
}

impl GrpcChannel {
    /// A channel to `addr`; `max_concurrency` bounds this worker's calls.
    pub fn new(addr: SocketAddr, max_concurrency: Option<usize>, max_message: usize) -> Self {
        Self {
            addr,
            authority: addr.to_string(),
            conn: RefCell::new(None),
            dialing: Semaphore::new(1),
            limiter: max_concurrency.map(Semaphore::new),
            max_message,
            metrics: OnceCell::new(),
        }
    }

    /// Makes [`GrpcChannel::unary`] record Go's gRPC client metrics
    /// (`dapr_grpc_io_client_*`) into `shard`. Set once; later calls are ignored.
    pub fn record_into(&self, shard: Arc<Shard>) {
        let _ = self.metrics.set(shard);
    }

    /// The shard this channel records into, if any.
    pub fn metrics(&self) -> Option<&Arc<Shard>> {
        self.metrics.get()
    }

    async fn connection(&self) -> Result<SendRequest<Bytes>, AppCallError> {
        if let Some(c) = self.conn.borrow().clone() {
            return Ok(c);
        }
        let _permit = self.dialing.acquire().await;
        if let Some(c) = self.conn.borrow().clone() {
            return Ok(c);
        }
        let unavailable = |e: &dyn std::fmt::Display| {
            AppCallError::Unavailable(format!("dial tcp {}: {e}", self.addr))
        };
        let tcp = match monoio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(self.addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(unavailable(&e)),
            Err(_) => return Err(unavailable(&"i/o timeout")),
        };
        let _ = tcp.set_nodelay(true);
        let (send, conn) = h2::client::Builder::new()
            .initial_window_size(1 << 20)
            .initial_connection_window_size(4 << 20)
            .handshake::<_, Bytes>(StreamWrapper::new(tcp))
            .await
            .map_err(|e| unavailable(&e))?;
        monoio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "gRPC app connection ended");
            }
        });
        *self.conn.borrow_mut() = Some(send.clone());
        Ok(send)
    }

    /// Opens a stream to the app for `head` (path, headers) and returns the
    /// pending response and the request body sink: transparent proxying.
    pub async fn open_stream(
        &self,
        head: http::request::Parts,
    ) -> Result<(h2::client::ResponseFuture, h2::SendStream<Bytes>), AppCallError> {
        let broken = |e: h2::Error| AppCallError::Unavailable(format!("app stream: {e}"));
        let send = match self.connection().await {
            Ok(s) => s,
            Err(e) => {
                self.conn.borrow_mut().take();
                return Err(e);
            }
        };
        let mut send = match send.ready().await {
            Ok(s) => s,
            Err(e) => {
                self.conn.borrow_mut().take();
                return Err(broken(e));
            }
        };
        let req = Request::from_parts(head, ());
        send.send_request(req, false).map_err(broken)
    }

    /// The app's authority (`host:port`), for proxied request URIs.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Calls `path` (`/pkg.Service/Method`) with one message; returns the
    /// app's one reply message. Recorded in `dapr_grpc_io_client_*` (but
    /// the health check) when the channel records metrics; a call dropped
    /// before it ends counts as `DeadlineExceeded`.
    pub async fn unary(
        &self,
        path: &str,
        metadata: HeaderMap,
        message: &[u8],
    ) -> Result<Bytes, AppCallError> {
        let _permit = match &self.limiter {
            Some(l) => Some(l.acquire().await),
            None => None,
        };
        let timer = match self.metrics.get() {
            Some(shard) if path != HEALTH_CHECK => {
                Some(GrpcCallTimer::start(shard, path, message.len()))
            }
            _ => None,
        };
        let result = self.call_once(path, metadata, message).await;
        if matches!(result, Err(AppCallError::Unavailable(_))) {
            // The next call dials again.
            self.conn.borrow_mut().take();
        }
        if let Some(t) = timer {
            t.finish(
                result
                    .as_ref()
                    .map(Bytes::len)
                    .map_err(|e| e.code().go_name()),
            );
        }
        result
    }

    async fn call_once(
        &self,
        path: &str,
        metadata: HeaderMap,
        message: &[u8],
    ) -> Result<Bytes, AppCallError> {
        let broken = |e: h2::Error| AppCallError::Unavailable(format!("app call {path}: {e}"));
        let send = self.connection().await?;
        let mut send = send.ready().await.map_err(broken)?;
        let uri = format!("http://{}{path}", self.authority);
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .body(())
            .map_err(|e| AppCallError::Unavailable(e.to_string()))?;
        let headers = req.headers_mut();
        for (k, v) in metadata.iter() {
            headers.append(k.clone(), v.clone());
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
        let (response, mut body) = send.send_request(req, false).map_err(broken)?;
        body.send_data(frame::encode(message), true)
            .map_err(broken)?;

        let response = response.await.map_err(broken)?;
        let (head, mut recv) = response.into_parts();
        // Trailers-only: no message follows.
        match status_of(&head.headers) {
            Some(Err(e)) => return Err(e),
            Some(Ok(())) => {
                return Err(AppCallError::Status {
                    code: GrpcCode::Internal,
                    message: "the app sent no response message".into(),
                })
            }
            None => {}
        }
        let mut decoder = Decoder::new(self.max_message);
        let mut reply = None;
        while let Some(chunk) = next_chunk(&mut recv).await {
            decoder.push(&chunk.map_err(broken)?);
            while let Some(m) = decoder
                .next_message()
                .map_err(|e| AppCallError::Unavailable(e.to_string()))?
            {
                if m.compressed {
                    return Err(AppCallError::Unavailable(
                        "the app sent a compressed message without being asked".into(),
                    ));
                }
                reply.get_or_insert(m.payload);
            }
        }
        let trailers = recv.trailers().await.map_err(broken)?.unwrap_or_default();
        match status_of(&trailers) {
            Some(Err(e)) => Err(e),
            Some(Ok(())) => reply.ok_or_else(|| AppCallError::Status {
                code: GrpcCode::Internal,
                message: "the app sent no response message".into(),
            }),
            None => Err(AppCallError::Unavailable(
                "the app's response ended without grpc-status".into(),
            )),
        }
    }
}

/// `grpc-status` / `grpc-message` in `h`, when present.
fn status_of(h: &HeaderMap) -> Option<Result<(), AppCallError>> {
    Some(match crate::grpc::status::peer_status(h)? {
        (GrpcCode::Ok, _) => Ok(()),
        (code, message) => Err(AppCallError::Status { code, message }),
    })
}
