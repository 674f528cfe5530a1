//! Rendering: every shard merged into Prometheus text exposition (format
//! 0.0.4), with Dapr's family names, labels and help texts.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::client;
use super::hist::Hist;
use super::names::*;
use super::process;
use super::record::{ActorFamily, InvocationKey, Latency, Metrics, Sizes, Store};

impl Metrics {
    /// Prometheus text exposition (format 0.0.4), merged over every shard.
    pub fn render(&self) -> String {
        let mut http: BTreeMap<(String, String, u16), (u64, Latency)> = BTreeMap::new();
        let mut grpc: BTreeMap<(String, &'static str), (u64, Latency)> = BTreeMap::new();
        let mut grpc_bytes: BTreeMap<String, (Sizes, Sizes)> = BTreeMap::new();
        let (mut req_bytes, mut resp_bytes) = (Sizes::default(), Sizes::default());
        let mut workers = Vec::with_capacity(self.shards.len());
        let mut invocation: BTreeMap<InvocationKey, (u64, Latency)> = BTreeMap::new();
        // (component, topic, outcome) → count and latency.
        type Topics = BTreeMap<(String, String, &'static str), (u64, Latency)>;
        let (mut ingress, mut egress): (Topics, Topics) = Default::default();
        let (mut bind_out, mut bind_in): (Topics, Topics) = Default::default();
        let mut stores: [Topics; 3] = Default::default();
        let mut app_client = client::ClientTotals::default();
        let mut actor: BTreeMap<(ActorFamily, String, &'static str), u64> = BTreeMap::new();
        for shard in &self.shards {
            let s = shard.lock();
            for ((family, actor_type, label), n) in &s.actor {
                *actor
                    .entry((*family, actor_type.to_string(), label))
                    .or_default() += n;
            }
            app_client.add(&s.client);
            let [state, secret, config] = &mut stores;
            for (into, from) in [
                (&mut ingress, &s.pubsub_in),
                (&mut egress, &s.pubsub_out),
                (&mut bind_out, &s.binding_out),
                (&mut bind_in, &s.binding_in),
                (state, &s.stores[Store::State as usize].map),
                (secret, &s.stores[Store::Secret as usize].map),
                (config, &s.stores[Store::Configuration as usize].map),
            ] {
                for (topic, entries) in from {
                    for e in entries {
                        let slot = into
                            .entry((e.component.to_string(), topic.to_string(), e.outcome))
                            .or_default();
                        slot.0 += e.count;
                        slot.1.merge(&e.latency);
                    }
                }
            }
            for (path, entries) in &s.http {
                for e in entries {
                    let slot = http
                        .entry((e.method.to_string(), path.to_string(), e.status))
                        .or_default();
                    slot.0 += e.count;
                    slot.1.merge(&e.latency);
                }
            }
            for (method, entries) in &s.grpc {
                for e in entries {
                    let slot = grpc.entry((method.to_string(), e.code)).or_default();
                    slot.0 += e.count;
                    slot.1.merge(&e.latency);
                }
                if let Some(b) = s.grpc_bytes.get(method) {
                    let slot = grpc_bytes.entry(method.to_string()).or_default();
                    slot.0.merge(&b.0);
                    slot.1.merge(&b.1);
                }
            }
            for (k, (count, lat)) in &s.invocation {
                let slot = invocation.entry(k.clone()).or_default();
                slot.0 += count;
                slot.1.merge(lat);
            }
            req_bytes.merge(&s.req_bytes);
            resp_bytes.merge(&s.resp_bytes);
            workers.push((s.requests, s.latency_us.clone()));
        }

        let app = &self.app_id;
        let mut out = String::with_capacity(16 * 1024);
        counted_latency(
            &mut out,
            (
                HTTP_REQUEST_COUNT,
                "The number of HTTP requests started in server.",
            ),
            (HTTP_LATENCY, "The latency distribution of HTTP requests."),
            &http,
            pair,
            |(m, p, s)| {
                format!(
                    "{L_APP_ID}=\"{app}\",{L_METHOD}=\"{m}\",{L_PATH}=\"{}\",{L_STATUS}=\"{s}\"",
                    escape(p)
                )
            },
        );
        // Go records it with request_count, on the same labels.
        header(
            &mut out,
            HTTP_RESPONSE_COUNT,
            "counter",
            "The number of HTTP responses",
        );
        for ((m, p, st), (count, _)) in &http {
            let _ = writeln!(
                out,
                "{HTTP_RESPONSE_COUNT}{{{L_APP_ID}=\"{app}\",{L_METHOD}=\"{m}\",{L_PATH}=\"{}\",{L_STATUS}=\"{st}\"}} {count}",
                escape(p)
            );
        }
        let app_only = format!("{L_APP_ID}=\"{app}\"");
        header(
            &mut out,
            HTTP_REQUEST_BYTES,
            "histogram",
            "The HTTP request size distribution in bytes.",
        );
        histogram(
            &mut out,
            HTTP_REQUEST_BYTES,
            &app_only,
            &SIZE_BUCKETS,
            &req_bytes,
        );
        header(
            &mut out,
            HTTP_RESPONSE_BYTES,
            "histogram",
            "The HTTP response size distribution in bytes.",
        );
        histogram(
            &mut out,
            HTTP_RESPONSE_BYTES,
            &app_only,
            &SIZE_BUCKETS,
            &resp_bytes,
        );

        counted_latency(
            &mut out,
            (GRPC_COMPLETED, "Count of RPCs by method and status."),
            (
                GRPC_LATENCY,
                "Distribution of server latency in milliseconds, by method.",
            ),
            &grpc,
            pair,
            |(m, code)| {
                format!(
                    "{L_APP_ID}=\"{app}\",{L_GRPC_METHOD}=\"{}\",{L_GRPC_STATUS}=\"{code}\"",
                    escape(m)
                )
            },
        );
        size_families(
            &mut out,
            [
                (
                    GRPC_RECEIVED_BYTES,
                    "Distribution of received bytes per RPC, by method.",
                    |b| &b.0,
                ),
                (
                    GRPC_SENT_BYTES,
                    "Distribution of total sent bytes per RPC, by method.",
                    |b| &b.1,
                ),
            ],
            &grpc_bytes,
            |m| format!("{L_APP_ID}=\"{app}\",{L_GRPC_METHOD}=\"{}\"", escape(m)),
        );

        // The pub/sub and binding families share their first labels; the
        // rest (from the topic or operation, and the outcome) differ.
        let ns = &self.namespace;
        type Tail = fn(&str, &str) -> String;
        let per_operation: Tail = |op, o| format!(",{L_OPERATION}=\"{op}\",{L_SUCCESS}=\"{o}\"");
        let [state, secret, config] = &stores;
        let topic_families: [(&str, &str, &str, &str, &Topics, Tail); 7] = [
            (
                PUBSUB_INGRESS_COUNT,
                PUBSUB_INGRESS_LATENCY,
                "The number of incoming messages arriving from the pub/sub component.",
                "The consuming app event processing latency.",
                &ingress,
                |t, o| format!(",{L_PROCESS_STATUS}=\"{o}\",{L_STATUS}=\"{o}\",{L_TOPIC}=\"{t}\""),
            ),
            (
                PUBSUB_EGRESS_COUNT,
                PUBSUB_EGRESS_LATENCY,
                "The number of outgoing messages published to the pub/sub component.",
                "The latency of the response from the pub/sub component.",
                &egress,
                |t, o| format!(",{L_SUCCESS}=\"{o}\",{L_TOPIC}=\"{t}\""),
            ),
            (
                OUTPUT_BINDING_COUNT,
                OUTPUT_BINDING_LATENCY,
                "The number of operations invoked on the output binding component.",
                "The latency of the response from the output binding component.",
                &bind_out,
                per_operation,
            ),
            (
                INPUT_BINDING_COUNT,
                INPUT_BINDING_LATENCY,
                "The number of incoming events arriving from the input binding component.",
                "The triggered input binding latency.",
                &bind_in,
                |_, o| format!(",{L_SUCCESS}=\"{o}\""),
            ),
            (
                STATE_COUNT,
                STATE_LATENCY,
                "The number of operations performed on the state component.",
                "The latency of the response from the state component.",
                state,
                per_operation,
            ),
            (
                SECRET_COUNT,
                SECRET_LATENCY,
                "The number of operations performed on the secret component.",
                "The latency of the response from the secret component.",
                secret,
                per_operation,
            ),
            (
                CONFIGURATION_COUNT,
                CONFIGURATION_LATENCY,
                "The number of operations performed on the configuration component.",
                "The latency of the response from the configuration component.",
                config,
                per_operation,
            ),
        ];
        for (count_name, latency_name, count_help, latency_help, series, tail) in topic_families {
            counted_latency(
                &mut out,
                (count_name, count_help),
                (latency_name, latency_help),
                series,
                pair,
                |(c, t, o): &(String, String, &str)| {
                    format!(
                        "{L_APP_ID}=\"{app}\",{L_COMPONENT}=\"{}\",{L_NAMESPACE}=\"{ns}\"{}",
                        escape(c),
                        tail(&escape(t), o)
                    )
                },
            );
        }

        self.render_startup(&mut out);
        render_actor(&mut out, &self.app_id, &actor);
        render_invocation(&mut out, app, &invocation);
        app_client.render(&mut out, app);

        header(
            &mut out,
            WORKER_REQUESTS,
            "counter",
            "Requests served by each worker core (daprd-rs).",
        );
        for (w, (requests, _)) in workers.iter().enumerate() {
            let _ = writeln!(
                out,
                "{WORKER_REQUESTS}{{{L_APP_ID}=\"{app}\",{L_WORKER}=\"{w}\"}} {requests}"
            );
        }
        header(
            &mut out,
            WORKER_LATENCY,
            "summary",
            "Request latency quantiles per worker core, microseconds (daprd-rs).",
        );
        for (w, (_, h)) in workers.iter().enumerate() {
            for (q, qs) in WORKER_QUANTILES {
                let v = if h.is_empty() {
                    0
                } else {
                    h.value_at_quantile(q)
                };
                let _ = writeln!(out, "{WORKER_LATENCY}{{{L_APP_ID}=\"{app}\",{L_WORKER}=\"{w}\",quantile=\"{qs}\"}} {v}");
            }
            let _ = writeln!(
                out,
                "{WORKER_LATENCY}_count{{{L_APP_ID}=\"{app}\",{L_WORKER}=\"{w}\"}} {}",
                h.len()
            );
        }
        process::render(&mut out);
        out
    }
}

impl Metrics {
    /// The `dapr_runtime_component_*` counters (no series until something counted, as Go).
    fn render_startup(&self, out: &mut String) {
        let app = &self.app_id;
        let s = self.startup.lock().unwrap_or_else(|p| p.into_inner());
        header(
            out,
            COMPONENT_LOADED,
            "counter",
            "The number of successfully loaded components.",
        );
        if s.loaded > 0 {
            let _ = writeln!(
                out,
                "{COMPONENT_LOADED}{{{L_APP_ID}=\"{app}\"}} {}",
                s.loaded
            );
        }
        header(
            out,
            COMPONENT_INIT,
            "counter",
            "The number of initialized components.",
        );
        for (kind, n) in &s.init {
            let _ = writeln!(
                out,
                "{COMPONENT_INIT}{{{L_APP_ID}=\"{app}\",{L_COMPONENT}=\"{}\"}} {n}",
                escape(kind)
            );
        }
        header(
            out,
            COMPONENT_INIT_FAIL,
            "counter",
            "The number of component initialization failures.",
        );
        for ((kind, reason, name), n) in &s.failed {
            let _ = writeln!(
                out,
                "{COMPONENT_INIT_FAIL}{{{L_APP_ID}=\"{app}\",{L_COMPONENT}=\"{}\",{L_COMPONENT_NAME}=\"{}\",{L_REASON}=\"{reason}\"}} {n}",
                escape(kind),
                escape(name)
            );
        }
    }
}

/// The actor counters: family, name, help, the extra label (if any).
pub(super) const ACTOR_FAMILIES: [(ActorFamily, &str, &str, Option<&str>); 5] = [
    (
        ActorFamily::Rebalanced,
        ACTOR_REBALANCED,
        "The number of the actor rebalance requests.",
        None,
    ),
    (
        ActorFamily::Deactivated,
        ACTOR_DEACTIVATED,
        "The number of the successful actor deactivation.",
        None,
    ),
    (
        ActorFamily::DeactivationFailed,
        ACTOR_DEACTIVATED_FAILED,
        "The number of the failed actor deactivation.",
        None,
    ),
    (
        ActorFamily::TimerFired,
        ACTOR_TIMERS_FIRED,
        "The number of actor timer requests.",
        Some(L_SUCCESS),
    ),
    (
        ActorFamily::ReminderFired,
        ACTOR_REMINDERS_FIRED,
        "The number of actor reminder requests.",
        Some(L_SUCCESS),
    ),
];

/// The actor counters that counted something (Go's views show no series before).
fn render_actor(
    out: &mut String,
    app: &str,
    counts: &BTreeMap<(ActorFamily, String, &'static str), u64>,
) {
    for (family, name, help, extra) in ACTOR_FAMILIES {
        let mut rows = counts
            .iter()
            .filter(|((f, _, _), _)| *f == family)
            .peekable();
        if rows.peek().is_none() {
            continue;
        }
        header(out, name, "counter", help);
        for ((_, actor_type, label), n) in rows {
            let _ = write!(
                out,
                "{name}{{{L_APP_ID}=\"{app}\",actor_type=\"{}\"",
                escape(actor_type)
            );
            if let Some(l) = extra {
                let _ = write!(out, ",{l}=\"{label}\"");
            }
            let _ = writeln!(out, "}} {n}");
        }
    }
}

/// The service invocation counters: name, help, app label.
pub(super) const INVOCATION_FAMILIES: [(&str, &str, &str); 4] = [
    (
        SVC_REQ_SENT,
        "The number of requests sent via service invocation.",
        L_DST_APP_ID,
    ),
    (
        SVC_REQ_RECV,
        "The number of requests received via service invocation.",
        L_SRC_APP_ID,
    ),
    (
        SVC_RES_SENT,
        "The number of responses sent via service invocation.",
        L_DST_APP_ID,
    ),
    (
        SVC_RES_RECV,
        "The number of responses received via service invocation.",
        L_SRC_APP_ID,
    ),
];

/// The service invocation families, with Go's labels.
fn render_invocation(
    out: &mut String,
    app: &str,
    series: &BTreeMap<InvocationKey, (u64, Latency)>,
) {
    let labels = |k: &InvocationKey, app_label: &str| {
        let mut l = format!("{L_APP_ID}=\"{app}\",{app_label}=\"{}\"", escape(&k.app));
        if let Some(s) = k.status {
            let _ = write!(l, ",{L_STATUS}=\"{s}\"");
        }
        if !k.kind.is_empty() {
            let _ = write!(l, ",{L_TYPE}=\"{}\"", k.kind);
        }
        l
    };
    for (i, (name, help, app_label)) in INVOCATION_FAMILIES.iter().enumerate() {
        header(out, name, "counter", help);
        for (k, (count, _)) in series.iter().filter(|(k, _)| usize::from(k.family) == i) {
            let _ = writeln!(out, "{name}{{{}}} {count}", labels(k, app_label));
        }
    }
    header(
        out,
        SVC_RES_RECV_LATENCY,
        "histogram",
        "The latency of service invocation response.",
    );
    // The latency has no `type` label: unary and streaming merge.
    let mut latency: BTreeMap<(&str, i32), Latency> = BTreeMap::new();
    for (k, (_, lat)) in series.iter().filter(|(k, _)| k.family == 3) {
        latency
            .entry((&k.app, k.status.unwrap_or(0)))
            .or_default()
            .merge(lat);
    }
    for ((src, status), lat) in &latency {
        let l = format!(
            "{L_APP_ID}=\"{app}\",{L_SRC_APP_ID}=\"{}\",{L_STATUS}=\"{status}\"",
            escape(src)
        );
        histogram(out, SVC_RES_RECV_LATENCY, &l, &LATENCY_BUCKETS_MS, lat);
    }
}

/// A counter family and a latency histogram family over the same label
/// sets; `parts` gives a series' count and latency.
pub(super) fn counted_latency<K, V>(
    out: &mut String,
    (count_name, count_help): (&str, &str),
    (latency_name, latency_help): (&str, &str),
    series: &BTreeMap<K, V>,
    parts: impl Fn(&V) -> (u64, &Latency),
    labels: impl Fn(&K) -> String,
) {
    header(out, count_name, "counter", count_help);
    for (k, v) in series {
        let _ = writeln!(out, "{count_name}{{{}}} {}", labels(k), parts(v).0);
    }
    header(out, latency_name, "histogram", latency_help);
    for (k, v) in series {
        histogram(
            out,
            latency_name,
            &labels(k),
            &LATENCY_BUCKETS_MS,
            parts(v).1,
        );
    }
}

/// The parts of a plain (count, latency) series, for [`counted_latency`].
pub(super) fn pair(v: &(u64, Latency)) -> (u64, &Latency) {
    (v.0, &v.1)
}

/// Picks one of a (received or sent, …) pair of size histograms.
pub(super) type PickSizes = fn(&(Sizes, Sizes)) -> &Sizes;

/// Size histogram families over the same label sets: each of `families`
/// (name, help, which of the pair) renders one histogram per set.
pub(super) fn size_families<K, const F: usize>(
    out: &mut String,
    families: [(&str, &str, PickSizes); F],
    series: &BTreeMap<K, (Sizes, Sizes)>,
    labels: impl Fn(&K) -> String,
) {
    for (name, help, pick) in families {
        header(out, name, "histogram", help);
        for (k, sizes) in series {
            histogram(out, name, &labels(k), &SIZE_BUCKETS, pick(sizes));
        }
    }
}

pub(super) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub(super) fn histogram<const N: usize>(
    out: &mut String,
    name: &str,
    labels: &str,
    bounds: &[f64; N],
    h: &Hist<N>,
) {
    for (bound, cum) in bounds.iter().zip(h.cumulative()) {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cum}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count());
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum());
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count());
}

/// Escapes a label value (backslash, double quote, newline).
pub(super) fn escape(v: &str) -> String {
    if !v.contains(['\\', '"', '\n']) {
        return v.to_owned();
    }
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use http::Method;

    use super::*;

    /// The value of the first sample line starting with `line_prefix`.
    pub(in crate::metrics) fn sample(text: &str, line_prefix: &str) -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(line_prefix))
            .unwrap_or_else(|| panic!("no {line_prefix} in\n{text}"));
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    }

    #[test]
    fn shards_merge_on_render() {
        let m = Metrics::new("app", 2);
        let ms = Duration::from_millis;
        m.shard(0)
            .record_http(&Method::GET, "/v1.0/healthz", 204, ms(3), 0, 0);
        m.shard(1)
            .record_http(&Method::GET, "/v1.0/healthz", 204, ms(30), 0, 0);
        m.shard(1)
            .record_http(&Method::PUT, "/v1.0/metadata", 204, ms(1), 5, 0);
        let t = m.render();
        let base = "dapr_http_server_request_count{app_id=\"app\",method=\"GET\",path=\"/v1.0/healthz\",status=\"204\"}";
        assert_eq!(sample(&t, base), 2.0);
        let lat = "dapr_http_server_latency_bucket{app_id=\"app\",method=\"GET\",path=\"/v1.0/healthz\",status=\"204\"";
        assert_eq!(sample(&t, &format!("{lat},le=\"2\"}}")), 0.0);
        assert_eq!(sample(&t, &format!("{lat},le=\"3\"}}")), 1.0);
        assert_eq!(sample(&t, &format!("{lat},le=\"30\"}}")), 2.0);
        assert_eq!(sample(&t, &format!("{lat},le=\"+Inf\"}}")), 2.0);
        assert_eq!(sample(&t, "dapr_http_server_latency_sum{app_id=\"app\",method=\"GET\",path=\"/v1.0/healthz\",status=\"204\"}"), 33.0);
        assert_eq!(
            sample(
                &t,
                "daprd_worker_requests_total{app_id=\"app\",worker=\"1\"}"
            ),
            2.0
        );
        assert_eq!(
            sample(&t, "dapr_http_server_request_bytes_count{app_id=\"app\"}"),
            3.0
        );
    }

    #[test]
    fn service_invocation_series() {
        let m = Metrics::new("a", 2);
        m.shard(0).record_invocation_sent("b", "unary");
        m.shard(1).record_invocation_sent("b", "unary");
        m.shard(0)
            .record_invocation_response("b", 200, "unary", Duration::from_millis(3));
        m.shard(0)
            .record_invocation_response("b", 200, "streaming", Duration::from_millis(3));
        m.shard(1).record_invocation_received("c");
        m.shard(1).record_invocation_answered("c", 404);
        let t = m.render();
        assert_eq!(sample(&t, "dapr_runtime_service_invocation_req_sent_total{app_id=\"a\",dst_app_id=\"b\",type=\"unary\"}"), 2.0);
        assert_eq!(sample(&t, "dapr_runtime_service_invocation_res_recv_total{app_id=\"a\",src_app_id=\"b\",status=\"200\",type=\"unary\"}"), 1.0);
        assert_eq!(
            sample(
                &t,
                "dapr_runtime_service_invocation_req_recv_total{app_id=\"a\",src_app_id=\"c\"}"
            ),
            1.0
        );
        assert_eq!(sample(&t, "dapr_runtime_service_invocation_res_sent_total{app_id=\"a\",dst_app_id=\"c\",status=\"404\"}"), 1.0);
        assert_eq!(sample(&t, "dapr_runtime_service_invocation_res_recv_latency_ms_count{app_id=\"a\",src_app_id=\"b\",status=\"200\"}"), 2.0);
    }

    #[test]
    fn grpc_series() {
        let m = Metrics::new("app", 1);
        m.shard(0).record_grpc(
            "/dapr.proto.runtime.v1.Dapr/GetMetadata",
            "OK",
            Duration::from_micros(300),
            0,
            120,
        );
        let t = m.render();
        assert_eq!(sample(&t, "dapr_grpc_io_server_completed_rpcs{app_id=\"app\",grpc_server_method=\"/dapr.proto.runtime.v1.Dapr/GetMetadata\",grpc_server_status=\"OK\"}"), 1.0);
        assert_eq!(sample(&t, "dapr_grpc_io_server_sent_bytes_per_rpc_sum{app_id=\"app\",grpc_server_method=\"/dapr.proto.runtime.v1.Dapr/GetMetadata\"}"), 120.0);
    }

    #[test]
    fn pubsub_and_binding_labels_as_go() {
        let m = Metrics::new_in("app", Some("ns"), 1);
        let d = Duration::from_millis(2);
        let s = m.shard(0);
        s.record_pubsub_ingress("ps", "t\"1", "success", d);
        s.record_pubsub_egress("ps", "t2", false, d);
        s.record_output_binding("b", "create", true, d);
        s.record_input_binding("b", false, d);
        let t = m.render();
        for line in [
            "dapr_component_pubsub_ingress_count{app_id=\"app\",component=\"ps\",namespace=\"ns\",process_status=\"success\",status=\"success\",topic=\"t\\\"1\"}",
            "dapr_component_pubsub_egress_count{app_id=\"app\",component=\"ps\",namespace=\"ns\",success=\"false\",topic=\"t2\"}",
            "dapr_component_output_binding_count{app_id=\"app\",component=\"b\",namespace=\"ns\",operation=\"create\",success=\"true\"}",
            "dapr_component_input_binding_count{app_id=\"app\",component=\"b\",namespace=\"ns\",success=\"false\"}",
        ] {
            assert_eq!(sample(&t, line), 1.0, "{line}");
        }
        let lat = "dapr_component_output_binding_latencies_count{app_id=\"app\",component=\"b\",namespace=\"ns\",operation=\"create\",success=\"true\"}";
        assert_eq!(sample(&t, lat), 1.0);
    }

    #[test]
    fn store_and_start_up_series_merge_as_go() {
        let m = Metrics::new_in("app", Some("ns"), 2);
        let d = Duration::from_millis(4);
        m.shard(0).record_store(Store::State, "s", "get", true, d);
        m.shard(1).record_store(Store::State, "s", "get", true, d);
        m.shard(1)
            .record_store(Store::Secret, "v", "bulk_get", false, d);
        m.shard(0)
            .record_store(Store::Configuration, "c", "subscribe", true, d);
        m.record_component_loaded();
        m.record_component_initialized("state.redis");
        m.record_component_init_failed("state.x", REASON_CREATION, "n\"1");
        let t = m.render();
        let l =
            "app_id=\"app\",component=\"s\",namespace=\"ns\",operation=\"get\",success=\"true\"";
        assert_eq!(
            sample(&t, &format!("dapr_component_state_count{{{l}}}")),
            2.0
        );
        assert_eq!(
            sample(
                &t,
                &format!("dapr_component_state_latencies_bucket{{{l},le=\"4\"}}")
            ),
            2.0
        );
        assert_eq!(
            sample(
                &t,
                &format!("dapr_component_state_latencies_bucket{{{l},le=\"3\"}}")
            ),
            0.0
        );
        assert_eq!(sample(&t, "dapr_component_secret_count{app_id=\"app\",component=\"v\",namespace=\"ns\",operation=\"bulk_get\",success=\"false\"}"), 1.0);
        assert_eq!(sample(&t, "dapr_component_configuration_latencies_count{app_id=\"app\",component=\"c\",namespace=\"ns\",operation=\"subscribe\",success=\"true\"}"), 1.0);
        assert_eq!(
            sample(&t, "dapr_runtime_component_loaded{app_id=\"app\"}"),
            1.0
        );
        assert_eq!(
            sample(
                &t,
                "dapr_runtime_component_init_total{app_id=\"app\",component=\"state.redis\"}"
            ),
            1.0
        );
        assert_eq!(sample(&t, "dapr_runtime_component_init_fail_total{app_id=\"app\",component=\"state.x\",componentName=\"n\\\"1\",reason=\"creation\"}"), 1.0);
    }

    #[test]
    fn cardinality_is_capped_and_labels_escaped() {
        let m = Metrics::new("a\"b", 1);
        for i in 0..(MAX_SERIES + 10) {
            m.shard(0)
                .record_http(&Method::GET, &format!("/p{i}"), 200, Duration::ZERO, 0, 0);
        }
        let t = m.render();
        assert_eq!(sample(&t, "dapr_http_server_request_count{app_id=\"a\\\"b\",method=\"GET\",path=\"_other\",status=\"200\"}"), 10.0);
    }

    #[test]
    fn every_sample_follows_its_type_line() {
        let m = Metrics::new("app", 2);
        m.shard(0)
            .record_http(&Method::GET, "/x", 200, Duration::from_millis(1), 1, 1);
        let t = m.render();
        let mut typed = std::collections::HashSet::new();
        let mut seen = std::collections::HashSet::new();
        for line in t.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                assert!(
                    typed.insert(rest.split(' ').next().unwrap().to_owned()),
                    "duplicate TYPE {line}"
                );
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(seen.insert(series.to_owned()), "duplicate series {series}");
            let name = series.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
                .unwrap_or(name);
            assert!(typed.contains(family), "sample before TYPE: {line}");
        }
    }
}
