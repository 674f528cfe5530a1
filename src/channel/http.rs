//! The HTTP app channel: a worker's HTTP client to the app.
//!
//! The connections are [`crate::http::client`]'s keep-alive pool (or, with
//! `--app-protocol h2c`, the worker's one HTTP/2 connection, see
//! [`super::h2c`]); this adds what is the app's: `--app-max-concurrency`
//! and Go's `dapr_http_client_*` metrics.

use std::cell::OnceCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_sync::semaphore::Semaphore;

use crate::components::middleware::Pipeline;
use crate::http::client::{Client, ClientError, ClientRequest, ClientResponse, OutBody};
use crate::metrics::Shard;

/// A worker's channel to the app.
pub struct HttpChannel {
    client: Rc<Client>,
    limiter: Option<Semaphore>,
    /// `--app-protocol h2c`: calls go over this HTTP/2 connection instead.
    h2: Option<super::grpc::GrpcChannel>,
    /// Where [`HttpChannel::call`] records `dapr_http_client_*`.
    metrics: OnceCell<Arc<Shard>>,
    /// `spec.appHttpPipeline`, run around every call but health probes.
    pipeline: Option<Arc<Pipeline>>,
}

impl HttpChannel {
    /// A channel to `addr`; `max_concurrency` bounds this worker's calls in
    /// flight (`--app-max-concurrency`, divided among workers).
    pub fn new(
        addr: SocketAddr,
        max_concurrency: Option<usize>,
        max_body: usize,
        body_timeout: Duration,
    ) -> Self {
        Self {
            client: Client::new(addr, max_body, body_timeout),
            limiter: max_concurrency.map(Semaphore::new),
            h2: None,
            metrics: OnceCell::new(),
            pipeline: None,
        }
    }

    /// A channel speaking cleartext HTTP/2 to `addr` (`--app-protocol h2c`).
    pub fn h2c(
        addr: SocketAddr,
        max_concurrency: Option<usize>,
        max_body: usize,
        body_timeout: Duration,
    ) -> Self {
        let mut ch = Self::new(addr, max_concurrency, max_body, body_timeout);
        ch.h2 = Some(super::grpc::GrpcChannel::new(addr, None, max_body));
        ch
    }

    /// Makes [`HttpChannel::call`] record Go's app channel client metrics
    /// (`dapr_http_client_*`) into `shard`. Set once; later calls are ignored.
    pub fn record_into(&self, shard: Arc<Shard>) {
        let _ = self.metrics.set(shard);
    }

    /// Runs `pipeline` (`spec.appHttpPipeline`) around every call made
    /// with [`HttpChannel::call`].
    pub fn set_pipeline(&mut self, pipeline: Arc<Pipeline>) {
        self.pipeline = Some(pipeline);
    }

    /// The shard this channel records into, if any.
    pub fn metrics(&self) -> Option<&Arc<Shard>> {
        self.metrics.get()
    }

    /// The app's address.
    pub fn addr(&self) -> SocketAddr {
        self.client.addr()
    }

    /// Calls the app. When the channel records metrics the call is counted
    /// in `dapr_http_client_*` (from when a concurrency slot is held until
    /// the response head, and a small body, are in; status 500 when the app
    /// did not answer), as Go's channel does for every call.
    /// With an app pipeline the call goes through its middleware first,
    /// which may answer it instead of the app.
    pub async fn call(&self, req: ClientRequest) -> Result<ClientResponse, ClientError> {
        match &self.pipeline {
            None => self.call_app(req).await,
            Some(p) => p.run(req, |req| self.call_app(req)).await,
        }
    }

    async fn call_app(&self, mut req: ClientRequest) -> Result<ClientResponse, ClientError> {
        let _permit = self.permit().await?;
        let Some(shard) = self.metrics.get() else {
            return self.dispatch(&mut req).await;
        };
        let sent = match &req.body {
            OutBody::Full(b) => b.len() as u64,
            OutBody::Stream(s) => s.len.unwrap_or(0),
        };
        let started = Instant::now();
        let result = self.dispatch(&mut req).await;
        let (status, received) = match &result {
            Ok(r) => (
                r.status.as_u16(),
                match &r.stream {
                    None => r.body.len() as u64,
                    Some(s) => s.len.unwrap_or(0),
                },
            ),
            Err(_) => (500, 0),
        };
        shard.record_app_http_call(
            &req.method,
            &req.target,
            status,
            started.elapsed(),
            sent,
            received,
        );
        result
    }

    /// Calls the app without recording a client call: health probes,
    /// which Go counts in their own family.
    pub async fn call_unrecorded(
        &self,
        mut req: ClientRequest,
    ) -> Result<ClientResponse, ClientError> {
        let _permit = self.permit().await?;
        self.dispatch(&mut req).await
    }

    /// A slot under `--app-max-concurrency`, when it is set.
    async fn permit(
        &self,
    ) -> Result<Option<local_sync::semaphore::SemaphorePermit<'_>>, ClientError> {
        match &self.limiter {
            Some(l) => l
                .acquire()
                .await
                .map(Some)
                .map_err(|_| ClientError::Broken("channel closed".into())),
            None => Ok(None),
        }
    }

    /// One exchange over h2c or the HTTP/1.1 pool. Leaves `req.method` and
    /// `req.target` in place (its body and, for h2c, headers are taken).
    async fn dispatch(&self, req: &mut ClientRequest) -> Result<ClientResponse, ClientError> {
        match &self.h2 {
            Some(h2) => super::h2c::call(h2, req).await,
            None => self.client.send(req).await,
        }
    }
}
