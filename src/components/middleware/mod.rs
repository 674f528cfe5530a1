//! HTTP middleware components (`middleware.http.*`) and the pipeline that
//! runs them.
//!
//! A middleware is built once from its component's metadata and shared by
//! every worker (`Send + Sync`): what it keeps across requests (rate-limit
//! buckets, a cached token or key set) is in concurrent structures, read
//! without a lock. A [`Pipeline`] is the Configuration's handler list
//! (`spec.httpPipeline` for the API, `spec.appHttpPipeline` for calls to
//! the app) resolved to middlewares; it runs on the worker that serves the
//! request.
//!
//! Each middleware looks at the request on the way in ([`MwRequest`]) and
//! either lets it through, changed or not, or answers it itself (a 429, a
//! 400, a 401). On the way out the handlers that let the request through see
//! the response ([`MwResponse`]) in reverse order, as nested Go handlers do.
//! The two traits are implemented for the API server's request and response
//! and for the HTTP client's, so one pipeline type serves both directions.

pub mod bearer;
mod fetch;
pub mod oauth2clientcredentials;
pub mod ratelimit;
pub mod routeralias;
pub mod routerchecker;
pub mod uppercase;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};

use super::Metadata;
use crate::http::body::BodyStream;
use crate::http::client::{ClientRequest, ClientResponse, OutBody};
use crate::http::message::{Request, Response};

/// `text/plain; charset=utf-8`, the content type of contrib's error answers.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The middleware types this build has (`middleware.http.<x>`, version `v1`).
pub const TYPES: [&str; 6] = [
    "middleware.http.bearer",
    "middleware.http.oauth2clientcredentials",
    "middleware.http.ratelimit",
    "middleware.http.routeralias",
    "middleware.http.routerchecker",
    "middleware.http.uppercase",
];

/// One middleware component.
pub enum Middleware {
    /// `middleware.http.bearer`
    Bearer(bearer::Bearer),
    /// `middleware.http.oauth2clientcredentials`
    OAuth2ClientCredentials(oauth2clientcredentials::ClientCredentials),
    /// `middleware.http.ratelimit`
    RateLimit(ratelimit::RateLimit),
    /// `middleware.http.routeralias`
    RouterAlias(routeralias::RouterAlias),
    /// `middleware.http.routerchecker`
    RouterChecker(routerchecker::RouterChecker),
    /// `middleware.http.uppercase`
    Uppercase(uppercase::Uppercase),
}

impl Middleware {
    /// The middleware of type `kind` (lowercase, version already checked),
    /// `None` for a type this build does not have.
    pub fn build(kind: &str, metadata: &Metadata) -> Option<Result<Self, String>> {
        Some(match kind {
            "middleware.http.bearer" => bearer::Bearer::new(metadata).map(Self::Bearer),
            "middleware.http.oauth2clientcredentials" => {
                oauth2clientcredentials::ClientCredentials::new(metadata)
                    .map(Self::OAuth2ClientCredentials)
            }
            "middleware.http.ratelimit" => ratelimit::RateLimit::new(metadata).map(Self::RateLimit),
            "middleware.http.routeralias" => {
                routeralias::RouterAlias::new(metadata).map(Self::RouterAlias)
            }
            "middleware.http.routerchecker" => {
                routerchecker::RouterChecker::new(metadata).map(Self::RouterChecker)
            }
            "middleware.http.uppercase" => Ok(Self::Uppercase(uppercase::Uppercase::new(metadata))),
            _ => return None,
        })
    }

    /// The way in: `Err` is the middleware's own answer. Headers for the
    /// response go to `out` (they are added whatever answers).
    async fn on_request<Q: MwRequest>(
        &self,
        req: &mut Q,
        out: &mut Vec<(HeaderName, HeaderValue)>,
        max_body: usize,
    ) -> Result<(), Reply> {
        match self {
            Self::Bearer(m) => m.on_request(req),
            Self::OAuth2ClientCredentials(m) => m.on_request(req).await,
            Self::RateLimit(m) => m.on_request(req, out),
            Self::RouterAlias(m) => {
                m.on_request(req);
                Ok(())
            }
            Self::RouterChecker(m) => m.on_request(req),
            Self::Uppercase(m) => m.on_request(req, max_body).await,
        }
    }

    /// The way out.
    async fn on_response<P: MwResponse>(&self, resp: &mut P, max_body: usize) {
        if let Self::Uppercase(m) = self {
            m.on_response(resp, max_body).await;
        }
    }
}

/// A middleware's own answer.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers (the content type among them).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// A `text/plain; charset=utf-8` answer, as contrib's
    /// `RespondWithErrorAndMessage`.
    pub fn text(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            headers: vec![(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(TEXT_PLAIN),
            )],
            body: Bytes::copy_from_slice(message.as_bytes()),
        }
    }
}

/// A body as a message holds it.
pub enum Body {
    /// In memory.
    Full(Bytes),
    /// Still arriving.
    Stream(BodyStream),
}

impl Body {
    /// The whole body, read up to `max` bytes.
    pub async fn collect(self, max: usize) -> Result<Bytes, String> {
        match self {
            Body::Full(b) => Ok(b),
            Body::Stream(s) => s.collect(max).await.map_err(|e| e.to_string()),
        }
    }
}

/// A request as middleware sees it.
pub trait MwRequest {
    /// The escaped path.
    fn path(&self) -> &str;
    /// The raw query (without `?`), if the target has one.
    fn query(&self) -> Option<&str>;
    /// Replaces path and query (`path_and_query` starts with `/`).
    fn set_target(&mut self, path_and_query: &str);
    /// Headers.
    fn headers(&self) -> &HeaderMap;
    /// Headers, to change.
    fn headers_mut(&mut self) -> &mut HeaderMap;
    /// The client's address (Go's `RemoteAddr`), when the request came in
    /// over a socket.
    fn remote(&self) -> Option<SocketAddr>;
    /// Takes the body out.
    fn take_body(&mut self) -> Body;
    /// Puts a body in.
    fn put_body(&mut self, body: Bytes);
}

/// A response as middleware sees it.
pub trait MwResponse {
    /// A middleware's answer in this type.
    fn from_reply(reply: Reply) -> Self;
    /// Adds a header.
    fn append_header(&mut self, name: HeaderName, value: HeaderValue);
    /// Takes the body out.
    fn take_body(&mut self) -> Body;
    /// Puts a body in.
    fn put_body(&mut self, body: Bytes);
}

/// A resolved handler list.
pub struct Pipeline {
    handlers: Vec<Arc<Middleware>>,
    max_body: usize,
}

impl Pipeline {
    /// Runs `handlers` in order; bodies a middleware reads whole are read
    /// up to `max_body` bytes.
    pub fn new(handlers: Vec<Arc<Middleware>>, max_body: usize) -> Self {
        Self { handlers, max_body }
    }

    /// How many handlers there are.
    pub fn len(&self) -> usize {
        self.handlers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    /// Runs `req` through the handlers, then `next` unless one answered;
    /// the handlers that ran see the response on the way back.
    pub async fn run<Q, P, E, F, Fut>(&self, mut req: Q, next: F) -> Result<P, E>
    where
        Q: MwRequest,
        P: MwResponse,
        F: FnOnce(Q) -> Fut,
        Fut: Future<Output = Result<P, E>>,
    {
        let mut out = Vec::new();
        let mut ran = 0;
        let mut reply = None;
        for h in &self.handlers {
            match h.on_request(&mut req, &mut out, self.max_body).await {
                Ok(()) => ran += 1,
                Err(r) => {
                    reply = Some(r);
                    break;
                }
            }
        }
        let mut resp = match reply {
            Some(r) => P::from_reply(r),
            None => next(req).await?,
        };
        for h in self.handlers[..ran].iter().rev() {
            h.on_response(&mut resp, self.max_body).await;
        }
        for (name, value) in out {
            resp.append_header(name, value);
        }
        Ok(resp)
    }
}

impl MwRequest for Request {
    fn path(&self) -> &str {
        self.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    fn set_target(&mut self, path_and_query: &str) {
        match path_and_query.parse::<Uri>() {
            Ok(uri) => self.uri = uri,
            Err(e) => {
                tracing::warn!(target = path_and_query, error = %e, "middleware: invalid request target; not rewritten")
            }
        }
    }

    fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    fn take_body(&mut self) -> Body {
        match self.stream.take() {
            Some(s) => Body::Stream(s),
            None => Body::Full(std::mem::take(&mut self.body)),
        }
    }

    fn put_body(&mut self, body: Bytes) {
        self.stream = None;
        self.body = body;
    }
}

impl MwResponse for Response {
    fn from_reply(reply: Reply) -> Self {
        let mut resp = Response::status(reply.status);
        resp.body = reply.body;
        for (name, value) in reply.headers {
            resp.append_header(name, value);
        }
        resp
    }

    fn append_header(&mut self, name: HeaderName, value: HeaderValue) {
        if name == http::header::CONTENT_TYPE {
            if self.content_type.is_none() {
                self.content_type = Some(value);
            }
        } else {
            self.headers.push((name, value));
        }
    }

    fn take_body(&mut self) -> Body {
        match self.stream.take() {
            Some(s) => Body::Stream(s),
            None => Body::Full(std::mem::take(&mut self.body)),
        }
    }

    fn put_body(&mut self, body: Bytes) {
        self.stream = None;
        self.body = body;
    }
}

impl MwRequest for ClientRequest {
    fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    fn set_target(&mut self, path_and_query: &str) {
        path_and_query.clone_into(&mut self.target);
    }

    fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// Calls to the app are made here, not received: Go's request has no
    /// `RemoteAddr`.
    fn remote(&self) -> Option<SocketAddr> {
        None
    }

    fn take_body(&mut self) -> Body {
        match std::mem::replace(&mut self.body, OutBody::Full(Bytes::new())) {
            OutBody::Full(b) => Body::Full(b),
            OutBody::Stream(s) => Body::Stream(s),
        }
    }

    fn put_body(&mut self, body: Bytes) {
        self.headers.remove(http::header::CONTENT_LENGTH);
        self.body = OutBody::Full(body);
    }
}

impl MwResponse for ClientResponse {
    fn from_reply(reply: Reply) -> Self {
        let mut headers = HeaderMap::new();
        for (name, value) in reply.headers {
            headers.append(name, value);
        }
        ClientResponse {
            status: reply.status,
            headers,
            body: reply.body,
            stream: None,
        }
    }

    fn append_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.append(name, value);
    }

    fn take_body(&mut self) -> Body {
        match self.stream.take() {
            Some(s) => Body::Stream(s),
            None => Body::Full(std::mem::take(&mut self.body)),
        }
    }

    fn put_body(&mut self, body: Bytes) {
        self.headers.remove(http::header::CONTENT_LENGTH);
        self.stream = None;
        self.body = body;
    }
}
