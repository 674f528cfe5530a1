//! The scheduler's two HTTP/1.1 servers.
//!
//! - healthz (`--healthz-port`): `GET /healthz` is 200 once the gRPC server
//!   serves, 503 before and while stopping; any other path is Go's
//!   `404 page not found`;
//! - metrics (`--metrics-port`): every path answers the Prometheus text of
//!   [`super::metrics`], as Go's exporter serves its registry on `/`.

use std::cell::Cell;
use std::rc::Rc;

use http::{HeaderValue, StatusCode};

use super::metrics::Metrics;
use crate::http::h1::Service;
use crate::http::message::{Request, Response};

/// Prometheus text exposition format 0.0.4.
const PROMETHEUS_TEXT: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

/// `--healthz-port`.
pub struct Healthz {
    /// The gRPC server is serving.
    pub ready: Rc<Cell<bool>>,
}

impl Service for Healthz {
    async fn call(&self, req: Request) -> Response {
        match req.uri.path() {
            "/healthz" if self.ready.get() => Response::status(StatusCode::OK),
            "/healthz" => Response::status(StatusCode::SERVICE_UNAVAILABLE),
            _ => Response::text(StatusCode::NOT_FOUND, "404 page not found\n"),
        }
    }
}

/// `--metrics-port`.
pub struct MetricsEndpoint {
    /// The series.
    pub metrics: Rc<Metrics>,
}

impl Service for MetricsEndpoint {
    async fn call(&self, _req: Request) -> Response {
        let mut resp = Response::status(StatusCode::OK);
        resp.content_type = Some(PROMETHEUS_TEXT);
        resp.body = self.metrics.render().into();
        resp
    }
}
