//! App channel client families: what the sidecar's calls to its app cost.
//!
//! Go daprd records these from its app channels (`pkg/diagnostics`
//! `http_monitoring.go`, `grpc_monitoring.go`):
//!
//! * HTTP and h2c apps — every call through the channel (service
//!   invocation, pub/sub deliveries, input bindings, subscription and
//!   config discovery): `dapr_http_client_completed_count` and
//!   `_roundtrip_latency` by `method`, `path`, `status`;
//!   `dapr_http_client_sent_bytes` by `method`, `path` (its `status` label
//!   is always empty: Go records it before the call); and
//!   `dapr_http_client_received_bytes` by `app_id` only. A call that fails
//!   without an answer is status `500`.
//! * gRPC apps — every unary call: `dapr_grpc_io_client_completed_rpcs` and
//!   `_roundtrip_latency` by `grpc_client_method`, `grpc_client_status`
//!   (grpc-go's code names: `OK`, `Unavailable`, `DeadlineExceeded`, …),
//!   and `_sent_bytes_per_rpc` / `_received_bytes_per_rpc` (message bytes)
//!   by method. A transparent-proxy call arriving from another sidecar
//!   with `dapr-app-id` is counted too, with no bytes (Go's
//!   `StreamingClientInterceptor` on the internal server); a proxied call
//!   from this sidecar's own app is a server series only.
//! * Health probes are not client calls: Go counts them in
//!   `dapr_http_healthprobes_*` (by `status`) and
//!   `dapr_grpc_io_healthprobes_*` (by `grpc_client_status`).
//!
//! The `path` label is Go's default (`increasedCardinality: true`, no
//! `pathMatching`): the called path, percent-decoded, repeated slashes
//! merged, through `convertPathToMetricLabel` (state and secret keys cut,
//! actor ids `{id}`, workflow instance ids `{instanceId}`). Like the other
//! families, a shard holds at most [`MAX_SERIES`] label sets per family,
//! then folds new paths / methods into `_other`.
//!
//! Latencies are milliseconds, with sub-millisecond precision as in the
//! other families here (Go truncates to whole milliseconds).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use http::Method;
use percent_encoding::percent_decode_str;

use super::names::*;
use super::record::{series, tally, Latency, Map, Shard, Sizes};
use super::render::{counted_latency, escape, header, histogram, pair, size_families};

/// One shard's app channel series.
#[derive(Default)]
pub(super) struct ClientData {
    /// path label → per (method, status) HTTP call series.
    http: Map<Box<str>, Vec<HttpCall>>,
    http_sets: usize,
    http_received: Sizes,
    /// gRPC method → per status call series.
    grpc: Map<Box<str>, Vec<GrpcCall>>,
    grpc_sets: usize,
    http_probes: Vec<Probe<u16>>,
    grpc_probes: Vec<Probe<&'static str>>,
    /// Scratch for the decoded, slash-merged path (reused: no allocation once warm).
    norm: Vec<u8>,
    /// Scratch for a rewritten path label.
    label: String,
}

struct HttpCall {
    method: &'static str,
    status: u16,
    count: u64,
    latency: Latency,
    sent: Sizes,
}

struct GrpcCall {
    status: &'static str,
    count: u64,
    latency: Latency,
    sent: Sizes,
    received: Sizes,
}

struct Probe<S> {
    status: S,
    count: u64,
    latency: Latency,
}

fn record_probe<S: PartialEq + Copy>(probes: &mut Vec<Probe<S>>, status: S, latency: Duration) {
    let i = match probes.iter().position(|p| p.status == status) {
        Some(i) => i,
        None => {
            probes.push(Probe {
                status,
                count: 0,
                latency: Latency::default(),
            });
            probes.len() - 1
        }
    };
    if let Some(p) = probes.get_mut(i) {
        tally(&mut p.count, &mut p.latency, latency);
    }
}

impl Shard {
    /// Records one call to an HTTP (or h2c) app through the app channel:
    /// `target` is the request target (`/path?query`), `status` the app's
    /// answer (500 when there was none), `sent` / `received` body bytes.
    pub fn record_app_http_call(
        &self,
        method: &Method,
        target: &str,
        status: u16,
        latency: Duration,
        sent: u64,
        received: u64,
    ) {
        let mut s = self.lock();
        let c = &mut s.client;
        let method = method_label(method);
        let path = path_label(target, &mut c.norm, &mut c.label);
        let series = series(
            &mut c.http,
            &mut c.http_sets,
            path,
            |e| e.status == status && e.method == method,
            || HttpCall {
                method,
                status,
                count: 0,
                latency: Latency::default(),
                sent: Sizes::default(),
            },
        );
        if let Some(e) = series {
            tally(&mut e.count, &mut e.latency, latency);
            e.sent.observe(&SIZE_BUCKETS, sent as f64);
        }
        c.http_received.observe(&SIZE_BUCKETS, received as f64);
    }

    /// Records one unary call to a gRPC app: `method` is the full path
    /// (`/pkg.Service/Method`), `status` grpc-go's code name (`OK`,
    /// `Unavailable`, …), `sent` / `received` message bytes.
    pub fn record_app_grpc_call(
        &self,
        method: &str,
        status: &'static str,
        latency: Duration,
        sent: u64,
        received: u64,
    ) {
        self.record_grpc_client(method, status, latency, Some((sent, received)));
    }

    /// Records one call to a gRPC app relayed by the transparent proxy for
    /// another sidecar: count and latency only (Go's
    /// `StreamClientRequestSent` records no bytes).
    pub fn record_app_grpc_proxied(&self, method: &str, status: &'static str, latency: Duration) {
        self.record_grpc_client(method, status, latency, None);
    }

    /// One gRPC client call's count and latency, and its (sent, received)
    /// message bytes when it has them.
    fn record_grpc_client(
        &self,
        method: &str,
        status: &'static str,
        latency: Duration,
        bytes: Option<(u64, u64)>,
    ) {
        let mut s = self.lock();
        let c = &mut s.client;
        let series = series(
            &mut c.grpc,
            &mut c.grpc_sets,
            method,
            |e| e.status == status,
            || GrpcCall {
                status,
                count: 0,
                latency: Latency::default(),
                sent: Sizes::default(),
                received: Sizes::default(),
            },
        );
        if let Some(e) = series {
            tally(&mut e.count, &mut e.latency, latency);
            if let Some((sent, received)) = bytes {
                e.sent.observe(&SIZE_BUCKETS, sent as f64);
                e.received.observe(&SIZE_BUCKETS, received as f64);
            }
        }
    }

    /// Records one HTTP app health probe (`status` 500 when there was no answer).
    pub fn record_app_http_probe(&self, status: u16, latency: Duration) {
        let mut s = self.lock();
        record_probe(&mut s.client.http_probes, status, latency);
    }

    /// Records one gRPC app health probe (`status`: grpc-go's code name).
    pub fn record_app_grpc_probe(&self, status: &'static str, latency: Duration) {
        let mut s = self.lock();
        record_probe(&mut s.client.grpc_probes, status, latency);
    }
}

/// Times one unary call to a gRPC app and records it when finished; a call
/// abandoned before its end (its future dropped, e.g. by a timeout) is
/// recorded as `DeadlineExceeded`, as Go's interceptor sees a call whose
/// context expired.
pub struct GrpcCallTimer<'a> {
    shard: &'a Shard,
    method: &'a str,
    sent: u64,
    started: Instant,
    done: bool,
}

impl<'a> GrpcCallTimer<'a> {
    /// Starts timing a call of `method` sending `sent` message bytes.
    pub fn start(shard: &'a Shard, method: &'a str, sent: usize) -> Self {
        Self {
            shard,
            method,
            sent: sent as u64,
            started: Instant::now(),
            done: false,
        }
    }

    /// Records the call's outcome: `Ok(reply bytes)` or the failure's
    /// status (grpc-go's code name, e.g. `Unavailable`).
    pub fn finish(mut self, outcome: Result<usize, &'static str>) {
        self.done = true;
        let (status, received) = match outcome {
            Ok(n) => (GRPC_STATUS_OK, n as u64),
            Err(status) => (status, 0),
        };
        self.shard.record_app_grpc_call(
            self.method,
            status,
            self.started.elapsed(),
            self.sent,
            received,
        );
    }
}

impl Drop for GrpcCallTimer<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.shard.record_app_grpc_call(
                self.method,
                GRPC_STATUS_DEADLINE_EXCEEDED,
                self.started.elapsed(),
                self.sent,
                0,
            );
        }
    }
}

/// Go's `method` label: the verb when it is one of the nine standard ones,
/// else `UNKNOWN`.
fn method_label(m: &Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "UNKNOWN",
    }
}

/// Go's client `path` label for a request target (`/path?query`): the
/// path, percent-decoded, with repeated slashes merged and a leading slash
/// (`NormalizeHTTPPath`), through [`convert_path`]. Borrows `target` when
/// it needs no rewriting; otherwise builds in the scratch buffers.
fn path_label<'a>(target: &'a str, norm: &'a mut Vec<u8>, out: &'a mut String) -> &'a str {
    let raw = target.find(['?', '#']).map_or(target, |i| &target[..i]);
    if raw.is_empty() {
        return raw;
    }
    let path = if raw.starts_with('/') && !raw.contains('%') && !raw.contains("//") {
        raw
    } else {
        norm.clear();
        norm.push(b'/');
        for b in percent_decode_str(raw) {
            if !(b == b'/' && norm.last() == Some(&b'/')) {
                norm.push(b);
            }
        }
        let norm: &'a Vec<u8> = norm;
        // Not UTF-8 once decoded: keep the path as it was sent.
        std::str::from_utf8(norm).unwrap_or(raw)
    };
    convert_path(path, out)
}

/// Go's `convertPathToMetricLabel` for a normalised `path` (leading slash):
/// `/v1/state/<store>/<key>` → `/v1/state/<store>` (also `secrets`),
/// `/v1/actors/<type>/<id>/<kind>/…` → `/v1/actors/<type>/{id}/<kind>`,
/// `actors/<type>/<id>/…` (no leading slash, as Go) with `{id}`, and the
/// workflow forms with `{instanceId}` / `{eventName}`; anything else as is.
fn convert_path<'a>(path: &'a str, out: &'a mut String) -> &'a str {
    let p = path.strip_prefix('/').unwrap_or(path);
    let mut parts = [""; 6];
    let mut n = 0;
    for (slot, seg) in parts.iter_mut().zip(p.splitn(6, '/')) {
        *slot = seg;
        n += 1;
    }
    if n < 3 {
        return path;
    }
    let join = |out: &mut String, lead: bool, segs: &[&str]| {
        out.clear();
        if lead {
            out.push('/');
        }
        for (i, s) in segs.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.push_str(s);
        }
    };
    if parts[0] == "actors" {
        parts[2] = "{id}";
        join(out, false, &parts[..n]);
        return out;
    }
    match parts[1] {
        "state" | "secrets" => join(out, true, &parts[..3]),
        "actors" => {
            if n < 5 {
                return path;
            }
            parts[3] = "{id}";
            join(out, true, &parts[..5]);
        }
        "workflows" => {
            if n < 4 {
                return path;
            }
            if n == 4 {
                parts[3] = "{instanceId}";
                join(out, true, &parts[..4]);
            } else if n == 5 && parts[4].starts_with("start") {
                join(out, true, &parts[..4]);
                out.push_str("/start");
            } else {
                parts[3] = "{instanceId}";
                if n == 6 && parts[4] == "raiseEvent" && !parts[5].is_empty() {
                    parts[5] = "{eventName}";
                    join(out, true, &parts[..6]);
                } else {
                    join(out, true, &parts[..5]);
                }
            }
        }
        _ => return path,
    }
    out
}

/// Every shard's client series, merged for one scrape.
#[derive(Default)]
pub(super) struct ClientTotals {
    /// (path, method, status) → count, latency, sent bytes.
    http: BTreeMap<(String, &'static str, u16), (u64, Latency, Sizes)>,
    http_received: Sizes,
    /// (method, status) → count, latency, sent, received.
    grpc: BTreeMap<(String, &'static str), (u64, Latency, Sizes, Sizes)>,
    http_probes: BTreeMap<u16, (u64, Latency)>,
    grpc_probes: BTreeMap<&'static str, (u64, Latency)>,
}

impl ClientTotals {
    /// Adds one shard.
    pub(super) fn add(&mut self, d: &ClientData) {
        for (path, entries) in &d.http {
            for e in entries {
                let slot = self
                    .http
                    .entry((path.to_string(), e.method, e.status))
                    .or_default();
                slot.0 += e.count;
                slot.1.merge(&e.latency);
                slot.2.merge(&e.sent);
            }
        }
        self.http_received.merge(&d.http_received);
        for (method, entries) in &d.grpc {
            for e in entries {
                let slot = self.grpc.entry((method.to_string(), e.status)).or_default();
                slot.0 += e.count;
                slot.1.merge(&e.latency);
                slot.2.merge(&e.sent);
                slot.3.merge(&e.received);
            }
        }
        for p in &d.http_probes {
            let slot = self.http_probes.entry(p.status).or_default();
            slot.0 += p.count;
            slot.1.merge(&p.latency);
        }
        for p in &d.grpc_probes {
            let slot = self.grpc_probes.entry(p.status).or_default();
            slot.0 += p.count;
            slot.1.merge(&p.latency);
        }
    }

    /// Renders the families, with Go's names, labels and help texts.
    pub(super) fn render(&self, out: &mut String, app: &str) {
        let http_labels = |(p, m, s): &(String, &str, u16)| {
            format!(
                "{L_APP_ID}=\"{app}\",{L_METHOD}=\"{m}\",{L_PATH}=\"{}\",{L_STATUS}=\"{s}\"",
                escape(p)
            )
        };
        counted_latency(
            out,
            (HTTP_CLIENT_COMPLETED, "Count of completed requests"),
            (
                HTTP_CLIENT_LATENCY,
                "Time between first byte of request headers sent to last byte of response received, or terminal error",
            ),
            &self.http,
            |v| (v.0, &v.1),
            http_labels,
        );
        // Sent bytes carry no status (Go records them before the call).
        let mut sent: BTreeMap<(&str, &str), Sizes> = BTreeMap::new();
        for ((p, m, _), (_, _, s)) in &self.http {
            sent.entry((p, m)).or_default().merge(s);
        }
        header(
            out,
            HTTP_CLIENT_SENT_BYTES,
            "histogram",
            "Total bytes sent in request body (not including headers)",
        );
        for ((p, m), s) in &sent {
            let labels = format!(
                "{L_APP_ID}=\"{app}\",{L_METHOD}=\"{m}\",{L_PATH}=\"{}\",{L_STATUS}=\"\"",
                escape(p)
            );
            histogram(out, HTTP_CLIENT_SENT_BYTES, &labels, &SIZE_BUCKETS, s);
        }
        header(
            out,
            HTTP_CLIENT_RECEIVED_BYTES,
            "histogram",
            "Total bytes received in response bodies (not including headers but including error responses with bodies)",
        );
        if self.http_received.count() > 0 {
            let labels = format!("{L_APP_ID}=\"{app}\"");
            histogram(
                out,
                HTTP_CLIENT_RECEIVED_BYTES,
                &labels,
                &SIZE_BUCKETS,
                &self.http_received,
            );
        }
        counted_latency(
            out,
            (HTTP_PROBE_COMPLETED, "Count of completed health probes"),
            (HTTP_PROBE_LATENCY, "Time between first byte of health probes headers sent to last byte of response received, or terminal error"),
            &self.http_probes,
            pair,
            |s| format!("{L_APP_ID}=\"{app}\",{L_STATUS}=\"{s}\""),
        );

        let grpc_labels = |(m, s): &(String, &str)| {
            format!(
                "{L_APP_ID}=\"{app}\",{L_GRPC_CLIENT_METHOD}=\"{}\",{L_GRPC_CLIENT_STATUS}=\"{s}\"",
                escape(m)
            )
        };
        counted_latency(
            out,
            (GRPC_CLIENT_COMPLETED, "Count of RPCs by method and status."),
            (
                GRPC_CLIENT_LATENCY,
                "Time between first byte of request sent to last byte of response received, or terminal error.",
            ),
            &self.grpc,
            |v| (v.0, &v.1),
            grpc_labels,
        );
        // Bytes are by method only; a method only ever proxied has none.
        let mut bytes: BTreeMap<&str, (Sizes, Sizes)> = BTreeMap::new();
        for ((m, _), (_, _, sent, received)) in &self.grpc {
            if sent.count() == 0 && received.count() == 0 {
                continue;
            }
            let slot = bytes.entry(m).or_default();
            slot.0.merge(sent);
            slot.1.merge(received);
        }
        size_families(
            out,
            [
                (
                    GRPC_CLIENT_SENT_BYTES,
                    "Total bytes sent across all request messages per RPC.",
                    |b| &b.0,
                ),
                (
                    GRPC_CLIENT_RECEIVED_BYTES,
                    "Total bytes received across all response messages per RPC.",
                    |b| &b.1,
                ),
            ],
            &bytes,
            |m| {
                format!(
                    "{L_APP_ID}=\"{app}\",{L_GRPC_CLIENT_METHOD}=\"{}\"",
                    escape(m)
                )
            },
        );
        counted_latency(
            out,
            (GRPC_PROBE_COMPLETED, "Count of completed health probes"),
            (GRPC_PROBE_LATENCY, "Time between first byte of health probes sent to last byte of response received, or terminal error"),
            &self.grpc_probes,
            pair,
            |s| format!("{L_APP_ID}=\"{app}\",{L_GRPC_CLIENT_STATUS}=\"{s}\""),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::render::tests::sample;
    use crate::metrics::Metrics;

    fn label(target: &str) -> String {
        let (mut norm, mut out) = (Vec::new(), String::new());
        path_label(target, &mut norm, &mut out).to_owned()
    }

    /// Go's `TestConvertPathToMethodName` table (queries are cut first here).
    #[test]
    fn path_labels_as_go() {
        let cases = [
            ("/v1/state/statestore/key", "/v1/state/statestore"),
            ("/v1/state/statestore", "/v1/state/statestore"),
            ("/v1/secrets/keyvault/name", "/v1/secrets/keyvault"),
            ("/v1/publish/topic", "/v1/publish/topic"),
            ("/v1/bindings/kafka", "/v1/bindings/kafka"),
            ("/healthz", "/healthz"),
            (
                "/v1/actors/DemoActor/1/state/key",
                "/v1/actors/DemoActor/{id}/state",
            ),
            (
                "/v1/actors/DemoActor/1/reminder/name",
                "/v1/actors/DemoActor/{id}/reminder",
            ),
            (
                "/v1/actors/DemoActor/1/timer/name",
                "/v1/actors/DemoActor/{id}/timer",
            ),
            (
                "/v1/actors/DemoActor/1/timer/name?query=string",
                "/v1/actors/DemoActor/{id}/timer",
            ),
            (
                "v1/actors/DemoActor/1/timer/name",
                "/v1/actors/DemoActor/{id}/timer",
            ),
            (
                "actors/DemoActor/1/method/method1",
                "actors/DemoActor/{id}/method/method1",
            ),
            (
                "/actors/DemoActor/1/method/timer/timer1",
                "actors/DemoActor/{id}/method/timer/timer1",
            ),
            (
                "actors/DemoActor/1/method/remind/reminder1",
                "actors/DemoActor/{id}/method/remind/reminder1",
            ),
            (
                "/v1.0-alpha1/workflows/wfc/mywf/start?instanceID=1234",
                "/v1.0-alpha1/workflows/wfc/mywf/start",
            ),
            (
                "/v1.0-alpha1/workflows/wfc/mywf/start",
                "/v1.0-alpha1/workflows/wfc/mywf/start",
            ),
            (
                "/v1.0-alpha1/workflows/wfc/1234/start/value1/value2",
                "/v1.0-alpha1/workflows/wfc/{instanceId}/start",
            ),
            (
                "/v1.0-alpha1/workflows/wfc/1234/terminate",
                "/v1.0-alpha1/workflows/wfc/{instanceId}/terminate",
            ),
            (
                "/v1.0-alpha1/workflows/wfc/1234/terminate/value1/value2",
                "/v1.0-alpha1/workflows/wfc/{instanceId}/terminate",
            ),
            (
                "/v1.0-alpha1/workflows/wfc/1234/raiseEvent/foobaz",
                "/v1.0-alpha1/workflows/wfc/{instanceId}/raiseEvent/{eventName}",
            ),
            (
                "/v1.0-alpha1/workflows/wfc/1234/pause",
                "/v1.0-alpha1/workflows/wfc/{instanceId}/pause",
            ),
            (
                "/v1.0-alpha1/workflows/wfc/1234",
                "/v1.0-alpha1/workflows/wfc/{instanceId}",
            ),
            ("/v1.0-alpha1/workflows/wfc", "/v1.0-alpha1/workflows/wfc"),
            ("/v1.0-alpha1/workflows", "/v1.0-alpha1/workflows"),
            ("", ""),
        ];
        for (target, want) in cases {
            assert_eq!(label(target), want, "{target}");
        }
    }

    #[test]
    fn path_labels_decode_merge_and_cut_queries() {
        assert_eq!(label("/orders/1?x=y"), "/orders/1");
        assert_eq!(label("/a%20b//c"), "/a b/c");
        assert_eq!(label("//x"), "/x");
        assert_eq!(label("/"), "/");
        assert_eq!(label("/dapr/subscribe"), "/dapr/subscribe");
        // Not UTF-8 once decoded: kept as sent.
        assert_eq!(label("/%FF"), "/%FF");
        // The scratch buffers are reused across calls.
        let (mut norm, mut out) = (Vec::new(), String::new());
        assert_eq!(
            path_label("/v1/state/s/k1", &mut norm, &mut out),
            "/v1/state/s"
        );
        assert_eq!(path_label("/x%2Fy", &mut norm, &mut out), "/x/y");
        assert_eq!(path_label("/plain", &mut norm, &mut out), "/plain");
    }

    #[test]
    fn methods_and_codes_as_go() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::CONNECT), "CONNECT");
        let odd = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&odd), "UNKNOWN");
    }

    #[test]
    fn client_series_merge_over_shards() {
        let m = Metrics::new("app", 2);
        let d = Duration::from_millis;
        m.shard(0)
            .record_app_http_call(&Method::POST, "/orders/1?q=1", 200, d(3), 10, 2000);
        m.shard(1)
            .record_app_http_call(&Method::POST, "/orders/1", 200, d(30), 5000, 0);
        m.shard(1)
            .record_app_http_call(&Method::POST, "/orders/1", 500, d(1), 1, 0);
        m.shard(0).record_app_grpc_call(
            "/dapr.proto.runtime.v1.AppCallback/OnInvoke",
            "OK",
            d(2),
            7,
            9,
        );
        m.shard(1).record_app_grpc_call(
            "/dapr.proto.runtime.v1.AppCallback/OnInvoke",
            "Unavailable",
            d(2),
            7,
            0,
        );
        m.shard(0).record_app_http_probe(204, d(1));
        m.shard(1).record_app_grpc_probe("DeadlineExceeded", d(500));
        let t = m.render();
        let ok = "app_id=\"app\",method=\"POST\",path=\"/orders/1\",status=\"200\"";
        assert_eq!(
            sample(&t, &format!("dapr_http_client_completed_count{{{ok}}}")),
            2.0
        );
        assert_eq!(
            sample(
                &t,
                &format!("dapr_http_client_roundtrip_latency_sum{{{ok}}}")
            ),
            33.0
        );
        assert_eq!(
            sample(
                &t,
                &format!("dapr_http_client_roundtrip_latency_bucket{{{ok},le=\"3\"}}")
            ),
            1.0
        );
        let sent = "app_id=\"app\",method=\"POST\",path=\"/orders/1\",status=\"\"";
        assert_eq!(
            sample(&t, &format!("dapr_http_client_sent_bytes_count{{{sent}}}")),
            3.0
        );
        assert_eq!(
            sample(
                &t,
                &format!("dapr_http_client_sent_bytes_bucket{{{sent},le=\"1024\"}}")
            ),
            2.0
        );
        assert_eq!(
            sample(&t, "dapr_http_client_received_bytes_sum{app_id=\"app\"}"),
            2000.0
        );
        assert_eq!(
            sample(
                &t,
                "dapr_http_healthprobes_completed_count{app_id=\"app\",status=\"204\"}"
            ),
            1.0
        );
        let g = "app_id=\"app\",grpc_client_method=\"/dapr.proto.runtime.v1.AppCallback/OnInvoke\"";
        assert_eq!(
            sample(
                &t,
                &format!("dapr_grpc_io_client_completed_rpcs{{{g},grpc_client_status=\"OK\"}}")
            ),
            1.0
        );
        assert_eq!(
            sample(
                &t,
                &format!(
                    "dapr_grpc_io_client_completed_rpcs{{{g},grpc_client_status=\"Unavailable\"}}"
                )
            ),
            1.0
        );
        assert_eq!(
            sample(
                &t,
                &format!("dapr_grpc_io_client_sent_bytes_per_rpc_sum{{{g}}}")
            ),
            14.0
        );
        assert_eq!(
            sample(
                &t,
                &format!("dapr_grpc_io_client_received_bytes_per_rpc_count{{{g}}}")
            ),
            2.0
        );
        assert_eq!(sample(&t, "dapr_grpc_io_healthprobes_roundtrip_latency_count{app_id=\"app\",grpc_client_status=\"DeadlineExceeded\"}"), 1.0);
        let mut seen = std::collections::HashSet::new();
        for line in t.lines().filter(|l| !l.starts_with('#')) {
            let series = line.rsplit_once(' ').unwrap().0;
            assert!(seen.insert(series), "duplicate series {series}");
        }
    }

    #[test]
    fn abandoned_grpc_call_counts_as_deadline_exceeded() {
        let m = Metrics::new("app", 1);
        GrpcCallTimer::start(m.shard(0), "/x.Y/Z", 3).finish(Ok(4));
        drop(GrpcCallTimer::start(m.shard(0), "/x.Y/Z", 3));
        let t = m.render();
        let g = "app_id=\"app\",grpc_client_method=\"/x.Y/Z\"";
        assert_eq!(
            sample(
                &t,
                &format!("dapr_grpc_io_client_completed_rpcs{{{g},grpc_client_status=\"OK\"}}")
            ),
            1.0
        );
        assert_eq!(sample(&t, &format!("dapr_grpc_io_client_completed_rpcs{{{g},grpc_client_status=\"DeadlineExceeded\"}}")), 1.0);
    }

    #[test]
    fn client_paths_are_capped() {
        let m = Metrics::new("app", 1);
        for i in 0..(MAX_SERIES + 5) {
            m.shard(0).record_app_http_call(
                &Method::GET,
                &format!("/p/{i}"),
                200,
                Duration::ZERO,
                0,
                0,
            );
        }
        let t = m.render();
        assert_eq!(sample(&t, "dapr_http_client_completed_count{app_id=\"app\",method=\"GET\",path=\"_other\",status=\"200\"}"), 5.0);
    }

    #[test]
    fn proxied_grpc_calls_have_no_byte_series() {
        let m = Metrics::new("app", 1);
        m.shard(0)
            .record_app_grpc_proxied("/x.S/Proxied", "OK", Duration::from_millis(4));
        let t = m.render();
        let labels = "app_id=\"app\",grpc_client_method=\"/x.S/Proxied\"";
        assert_eq!(
            sample(
                &t,
                &format!(
                    "dapr_grpc_io_client_completed_rpcs{{{labels},grpc_client_status=\"OK\"}}"
                )
            ),
            1.0
        );
        assert!(
            !t.contains(&format!("bytes_per_rpc_count{{{labels}}}")),
            "{t}"
        );
    }
}
