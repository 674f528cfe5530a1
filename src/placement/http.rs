//! The placement service's two HTTP/1.1 servers.
//!
//! - healthz (`--healthz-port`): `GET /healthz` is 200 once the gRPC server
//!   serves, 503 before and while stopping; with `--metadata-enabled`,
//!   `/placement/state` is every namespace's stored hosts as JSON, shaped as
//!   Go's `json.Marshal` of `StatePlacementTables`;
//! - metrics (`--metrics-port`): every path answers the Prometheus text of
//!   [`super::metrics`], as Go's exporter serves its registry on `/`.
//!
//! Any other path on the healthz server is Go's `404 page not found`.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use http::{HeaderValue, StatusCode};
use serde::Serialize;

use super::namespaces::StateTable;
use super::server::Hub;
use crate::http::h1::Service;
use crate::http::message::{Request, Response};
use crate::proto::dapr::proto::placement::v1::Host;

/// Prometheus text exposition format 0.0.4.
const PROMETHEUS_TEXT: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

/// `--healthz-port`.
pub struct Healthz {
    /// The gRPC server is serving.
    pub ready: Rc<Cell<bool>>,
    /// `/placement/state` is served (`--metadata-enabled`).
    pub metadata: bool,
    /// The tables, for `/placement/state`.
    pub hub: Rc<Hub>,
}

impl Service for Healthz {
    async fn call(&self, req: Request) -> Response {
        match req.uri.path() {
            "/healthz" if self.ready.get() => Response::status(StatusCode::OK),
            "/healthz" => Response::status(StatusCode::SERVICE_UNAVAILABLE),
            "/placement/state" if self.metadata => {
                let tables = self.hub.with_state(|s| s.state_tables());
                match serde_json::to_vec(&state_json(&tables)) {
                    Ok(body) => Response::json(StatusCode::OK, body),
                    Err(e) => Response::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            }
            _ => Response::text(StatusCode::NOT_FOUND, "404 page not found\n"),
        }
    }
}

/// `--metrics-port`.
pub struct MetricsEndpoint {
    /// The gauges' source.
    pub hub: Rc<Hub>,
}

impl Service for MetricsEndpoint {
    async fn call(&self, _req: Request) -> Response {
        let body = self
            .hub
            .with_state(|s| super::metrics::render(s.gauges(), true));
        let mut resp = Response::status(StatusCode::OK);
        resp.content_type = Some(PROMETHEUS_TEXT);
        resp.body = body.into();
        resp
    }
}

// === /placement/state ===

/// `StatePlacementTables` as Go's `encoding/json` writes the generated
/// struct: fields in declaration order, zero values omitted, maps by key.
#[derive(Serialize)]
struct StateJson<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tables: BTreeMap<&'a str, TableJson<'a>>,
}

#[derive(Serialize)]
struct TableJson<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hosts: Vec<HostJson<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    version: u64,
}

#[derive(Serialize)]
struct HostJson<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "is_zero_i")]
    port: i64,
    #[serde(skip_serializing_if = "is_zero_i")]
    load: i64,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    entities: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pod: &'a str,
    #[serde(skip_serializing_if = "is_zero_u32")]
    api_level: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    namespace: &'a str,
    #[serde(skip_serializing_if = "is_zero_i32")]
    operation: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}
fn is_zero_i(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

#[allow(deprecated)] // load, pod and api_level are deprecated fields, still reported
fn host_json(h: &Host) -> HostJson<'_> {
    HostJson {
        name: &h.name,
        port: h.port,
        load: h.load,
        entities: &h.entities,
        id: &h.id,
        pod: &h.pod,
        api_level: h.api_level,
        namespace: &h.namespace,
        operation: h.operation,
        version: h.version,
    }
}

fn state_json(tables: &BTreeMap<String, StateTable>) -> StateJson<'_> {
    StateJson {
        tables: tables
            .iter()
            .map(|(ns, t)| {
                (
                    ns.as_str(),
                    TableJson {
                        hosts: t.hosts.iter().map(host_json).collect(),
                        version: t.version,
                    },
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_json_is_gos_shape() {
        let mut tables = BTreeMap::new();
        assert_eq!(serde_json::to_string(&state_json(&tables)).unwrap(), "{}");
        #[allow(deprecated)]
        let host = Host {
            name: "127.0.0.1:5000".into(),
            entities: vec!["A".into()],
            id: "app".into(),
            api_level: 20,
            namespace: "default".into(),
            operation: 1,
            ..Host::default()
        };
        tables.insert(
            "default".to_owned(),
            StateTable {
                hosts: vec![host],
                version: 2,
            },
        );
        tables.insert(
            "empty".to_owned(),
            StateTable {
                hosts: vec![],
                version: 0,
            },
        );
        assert_eq!(
            serde_json::to_string(&state_json(&tables)).unwrap(),
            r#"{"tables":{"default":{"hosts":[{"name":"127.0.0.1:5000","entities":["A"],"id":"app","api_level":20,"namespace":"default","operation":1}],"version":2},"empty":{}}}"#
        );
    }
}
