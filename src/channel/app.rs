//! The app channel: how this worker reaches its app, whatever the app speaks.
//!
//! [`AppChannel`] is an enum, not a trait object: the app speaks HTTP
//! (`--app-protocol http` or `h2c`, [`HttpChannel`]) or gRPC (`grpc`,
//! [`GrpcChannel`]), fixed at start-up, and every call site would otherwise
//! pay a vtable call and a boxed future per call. The protocol is chosen in
//! one place, [`AppChannel::call`]: each kind of exchange with the app
//! (invocation, subscription discovery, pub/sub delivery, input bindings,
//! configuration updates) is an [`AppCall`], a small struct that knows the
//! exchange's HTTP shape and its gRPC shape (`AppCallback/…`), and the
//! channel runs the one its app speaks. Those shapes stay with the API
//! that owns them; callers do not branch on the protocol (pub/sub only
//! asks [`AppChannel::is_grpc`] to know how much of an event to read
//! before routing it). It is all static
//! dispatch: no allocation, no boxing, one `match` per call, and the call
//! future is just the chosen arm's (an `Either`).
//!
//! Health probes ([`super::health`], part of the channel) match on the
//! enum themselves; the transparent gRPC proxy, which needs a gRPC app,
//! asks for [`AppChannel::grpc`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use either::Either;

use super::grpc::GrpcChannel;
use super::http::HttpChannel;
use crate::config::options::AppProtocol;
use crate::metrics::Shard;

/// A worker's channel to its app.
pub enum AppChannel {
    /// An HTTP app (HTTP/1.1, or HTTP/2 with `--app-protocol h2c`).
    Http(HttpChannel),
    /// A gRPC app (`AppCallback` services).
    Grpc(GrpcChannel),
}

/// One exchange with the app, in both protocols' shapes.
pub trait AppCall {
    /// What the exchange comes to.
    type Output;

    /// The exchange with an HTTP app.
    fn over_http(self, app: &HttpChannel) -> impl Future<Output = Self::Output>;

    /// The exchange with a gRPC app.
    fn over_grpc(self, app: &GrpcChannel) -> impl Future<Output = Self::Output>;
}

impl AppChannel {
    /// The protocols an app channel can speak.
    pub const PROTOCOLS: [AppProtocol; 3] =
        [AppProtocol::Http, AppProtocol::H2c, AppProtocol::Grpc];

    /// A channel to the app at `addr` speaking `protocol` (`None` for one
    /// not in [`AppChannel::PROTOCOLS`]); `max_concurrency` bounds this
    /// worker's calls in flight. Calls are recorded into `metrics` (Go's
    /// `dapr_http_client_*` or `dapr_grpc_io_client_*`).
    pub fn new(
        protocol: AppProtocol,
        addr: SocketAddr,
        max_concurrency: Option<usize>,
        max_body: usize,
        body_timeout: Duration,
        metrics: &Arc<Shard>,
    ) -> Option<Self> {
        let channel = match protocol {
            AppProtocol::Http => Self::Http(HttpChannel::new(
                addr,
                max_concurrency,
                max_body,
                body_timeout,
            )),
            AppProtocol::H2c => Self::Http(HttpChannel::h2c(
                addr,
                max_concurrency,
                max_body,
                body_timeout,
            )),
            AppProtocol::Grpc => Self::Grpc(GrpcChannel::new(addr, max_concurrency, max_body)),
            AppProtocol::Https | AppProtocol::Grpcs => return None,
        };
        match &channel {
            Self::Http(h) => h.record_into(metrics.clone()),
            Self::Grpc(g) => g.record_into(metrics.clone()),
        }
        Some(channel)
    }

    /// Runs `call` in the shape the app speaks. (Not an `async fn`: its
    /// future would keep `call` besides the arm's future, which owns it.)
    #[inline]
    pub fn call<C: AppCall>(&self, call: C) -> impl Future<Output = C::Output> + use<'_, C> {
        match self {
            Self::Http(h) => Either::Left(call.over_http(h)),
            Self::Grpc(g) => Either::Right(call.over_grpc(g)),
        }
    }

    /// The gRPC channel, when the app speaks gRPC.
    pub fn grpc(&self) -> Option<&GrpcChannel> {
        match self {
            Self::Grpc(g) => Some(g),
            Self::Http(_) => None,
        }
    }

    /// Whether the app speaks gRPC (its messages are protobuf, built from
    /// the whole event).
    pub fn is_grpc(&self) -> bool {
        matches!(self, Self::Grpc(_))
    }
}
