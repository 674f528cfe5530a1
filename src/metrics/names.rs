//! Every user-visible metric name, label name and bucket boundary.
//!
//! Names are Dapr's (OpenCensus views exported with namespace `dapr`, see
//! `shared/reference/dapr-api.md` §7); `daprd_*` names are ours.

/// HTTP server request counter.
pub const HTTP_REQUEST_COUNT: &str = "dapr_http_server_request_count";
/// HTTP server latency histogram (ms).
pub const HTTP_LATENCY: &str = "dapr_http_server_latency";
/// HTTP request body size histogram (bytes).
pub const HTTP_REQUEST_BYTES: &str = "dapr_http_server_request_bytes";
/// HTTP response body size histogram (bytes).
pub const HTTP_RESPONSE_BYTES: &str = "dapr_http_server_response_bytes";
/// gRPC server completed calls.
pub const GRPC_COMPLETED: &str = "dapr_grpc_io_server_completed_rpcs";
/// gRPC server latency histogram (ms).
pub const GRPC_LATENCY: &str = "dapr_grpc_io_server_server_latency";
/// gRPC received bytes per call.
pub const GRPC_RECEIVED_BYTES: &str = "dapr_grpc_io_server_received_bytes_per_rpc";
/// gRPC sent bytes per call.
pub const GRPC_SENT_BYTES: &str = "dapr_grpc_io_server_sent_bytes_per_rpc";
/// Messages delivered to the app (or a stream), by outcome.
pub const PUBSUB_INGRESS_COUNT: &str = "dapr_component_pubsub_ingress_count";
/// Delivery latency histogram (ms).
pub const PUBSUB_INGRESS_LATENCY: &str = "dapr_component_pubsub_ingress_latencies";
/// Messages published, by success.
pub const PUBSUB_EGRESS_COUNT: &str = "dapr_component_pubsub_egress_count";
/// Publish latency histogram (ms).
pub const PUBSUB_EGRESS_LATENCY: &str = "dapr_component_pubsub_egress_latencies";
/// Output binding calls, by operation and success.
pub const OUTPUT_BINDING_COUNT: &str = "dapr_component_output_binding_count";
/// Output binding latency histogram (ms).
pub const OUTPUT_BINDING_LATENCY: &str = "dapr_component_output_binding_latencies";
/// Input binding events delivered to the app, by success.
pub const INPUT_BINDING_COUNT: &str = "dapr_component_input_binding_count";
/// Input binding delivery latency histogram (ms).
pub const INPUT_BINDING_LATENCY: &str = "dapr_component_input_binding_latencies";
/// State store operations, by operation and success.
pub const STATE_COUNT: &str = "dapr_component_state_count";
/// State store operation latency histogram (ms).
pub const STATE_LATENCY: &str = "dapr_component_state_latencies";
/// Secret store operations, by operation and success.
pub const SECRET_COUNT: &str = "dapr_component_secret_count";
/// Secret store operation latency histogram (ms).
pub const SECRET_LATENCY: &str = "dapr_component_secret_latencies";
/// Configuration store operations, by operation and success.
pub const CONFIGURATION_COUNT: &str = "dapr_component_configuration_count";
/// Configuration store operation latency histogram (ms).
pub const CONFIGURATION_LATENCY: &str = "dapr_component_configuration_latencies";
/// Components loaded at start-up.
pub const COMPONENT_LOADED: &str = "dapr_runtime_component_loaded";
/// Components initialized, by type.
pub const COMPONENT_INIT: &str = "dapr_runtime_component_init_total";
/// Component initialization failures, by type, reason and name.
pub const COMPONENT_INIT_FAIL: &str = "dapr_runtime_component_init_fail_total";
/// HTTP server responses (Go registers it with `increasedCardinality`, its default).
pub const HTTP_RESPONSE_COUNT: &str = "dapr_http_server_response_count";
/// Service invocation requests sent to another sidecar, by target and type.
pub const SVC_REQ_SENT: &str = "dapr_runtime_service_invocation_req_sent_total";
/// Service invocation requests received from another sidecar, by caller.
pub const SVC_REQ_RECV: &str = "dapr_runtime_service_invocation_req_recv_total";
/// Service invocation responses sent to another sidecar, by caller and status.
pub const SVC_RES_SENT: &str = "dapr_runtime_service_invocation_res_sent_total";
/// Service invocation responses received from another sidecar, by target, status and type.
pub const SVC_RES_RECV: &str = "dapr_runtime_service_invocation_res_recv_total";
/// Service invocation response latency (ms), by target and status.
pub const SVC_RES_RECV_LATENCY: &str = "dapr_runtime_service_invocation_res_recv_latency_ms";
/// App channel (HTTP/h2c): request body bytes sent to the app.
pub const HTTP_CLIENT_SENT_BYTES: &str = "dapr_http_client_sent_bytes";
/// App channel (HTTP/h2c): response body bytes received from the app.
pub const HTTP_CLIENT_RECEIVED_BYTES: &str = "dapr_http_client_received_bytes";
/// App channel (HTTP/h2c): call latency histogram (ms).
pub const HTTP_CLIENT_LATENCY: &str = "dapr_http_client_roundtrip_latency";
/// App channel (HTTP/h2c): completed calls.
pub const HTTP_CLIENT_COMPLETED: &str = "dapr_http_client_completed_count";
/// HTTP app health probes completed, by status.
pub const HTTP_PROBE_COMPLETED: &str = "dapr_http_healthprobes_completed_count";
/// HTTP app health probe latency histogram (ms).
pub const HTTP_PROBE_LATENCY: &str = "dapr_http_healthprobes_roundtrip_latency";
/// App channel (gRPC): completed unary calls.
pub const GRPC_CLIENT_COMPLETED: &str = "dapr_grpc_io_client_completed_rpcs";
/// App channel (gRPC): call latency histogram (ms).
pub const GRPC_CLIENT_LATENCY: &str = "dapr_grpc_io_client_roundtrip_latency";
/// App channel (gRPC): request message bytes per call.
pub const GRPC_CLIENT_SENT_BYTES: &str = "dapr_grpc_io_client_sent_bytes_per_rpc";
/// App channel (gRPC): response message bytes per call.
pub const GRPC_CLIENT_RECEIVED_BYTES: &str = "dapr_grpc_io_client_received_bytes_per_rpc";
/// gRPC app health probes completed, by status.
pub const GRPC_PROBE_COMPLETED: &str = "dapr_grpc_io_healthprobes_completed_count";
/// gRPC app health probe latency histogram (ms).
pub const GRPC_PROBE_LATENCY: &str = "dapr_grpc_io_healthprobes_roundtrip_latency";
/// Actors moved away by a placement update.
pub const ACTOR_REBALANCED: &str = "dapr_runtime_actor_rebalanced_total";
/// Actors deactivated.
pub const ACTOR_DEACTIVATED: &str = "dapr_runtime_actor_deactivated_total";
/// Actor deactivations that failed.
pub const ACTOR_DEACTIVATED_FAILED: &str = "dapr_runtime_actor_deactivated_failed_total";
/// Actor timer fires.
pub const ACTOR_TIMERS_FIRED: &str = "dapr_runtime_actor_timers_fired_total";
/// Actor reminder fires.
pub const ACTOR_REMINDERS_FIRED: &str = "dapr_runtime_actor_reminders_fired_total";
/// Ours: requests served per worker.
pub const WORKER_REQUESTS: &str = "daprd_worker_requests_total";
/// Ours: latency quantiles per worker (µs, from hdrhistogram).
pub const WORKER_LATENCY: &str = "daprd_worker_latency_microseconds";

/// Label: the app id (on every series).
pub const L_APP_ID: &str = "app_id";
/// Label: HTTP method.
pub const L_METHOD: &str = "method";
/// Label: normalised path.
pub const L_PATH: &str = "path";
/// Label: HTTP status.
pub const L_STATUS: &str = "status";
/// Label: gRPC method.
pub const L_GRPC_METHOD: &str = "grpc_server_method";
/// Label: gRPC status name.
pub const L_GRPC_STATUS: &str = "grpc_server_status";
/// Label: gRPC method called on the app (app channel).
pub const L_GRPC_CLIENT_METHOD: &str = "grpc_client_method";
/// Label: gRPC status of an app channel call (Go's `codes.Code` string, `OK`, `Unavailable`, …).
pub const L_GRPC_CLIENT_STATUS: &str = "grpc_client_status";
/// Label: component name.
pub const L_COMPONENT: &str = "component";
/// Label: namespace (empty outside Kubernetes).
pub const L_NAMESPACE: &str = "namespace";
/// Label: pub/sub delivery outcome (`success`, `retry`, `drop`).
pub const L_PROCESS_STATUS: &str = "process_status";
/// Label: topic.
pub const L_TOPIC: &str = "topic";
/// Label: binding operation.
pub const L_OPERATION: &str = "operation";
/// Label: the app a service invocation went to.
pub const L_DST_APP_ID: &str = "dst_app_id";
/// Label: the app a service invocation came from (Go also puts the callee here on the caller side).
pub const L_SRC_APP_ID: &str = "src_app_id";
/// Label: `unary` / `streaming`.
pub const L_TYPE: &str = "type";
/// Label: why a component failed to start (`creation`, `init`).
pub const L_REASON: &str = "reason";
/// Label: the name of a component that failed to start.
pub const L_COMPONENT_NAME: &str = "componentName";
/// Label: `true` / `false`.
pub const L_SUCCESS: &str = "success";
/// Label: worker index (ours).
pub const L_WORKER: &str = "worker";

/// `operation` of a component call, with Go's names (`diag.Get`, …).
pub mod op {
    /// Read one key (state, secret, configuration).
    pub const GET: &str = "get";
    /// Save one or more keys (state; Go counts a bulk save as `set`).
    pub const SET: &str = "set";
    /// Delete one key (state).
    pub const DELETE: &str = "delete";
    /// Read many keys (state, secret).
    pub const BULK_GET: &str = "bulk_get";
    /// Delete many keys (state, gRPC only).
    pub const BULK_DELETE: &str = "bulk_delete";
    /// A state transaction.
    pub const TRANSACTION: &str = "transaction";
    /// Subscribe to configuration changes.
    pub const SUBSCRIBE: &str = "subscribe";
    /// End a configuration subscription.
    pub const UNSUBSCRIBE: &str = "unsubscribe";
}

/// `reason` of a component whose factory could not be made (unknown type or version).
pub const REASON_CREATION: &str = "creation";
/// `reason` of a component that failed to initialize.
pub const REASON_INIT: &str = "init";

/// Dapr's default latency buckets, milliseconds.
pub const LATENCY_BUCKETS_MS: [f64; 34] = [
    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 25.0, 30.0, 40.0, 50.0, 65.0, 80.0,
    100.0, 130.0, 160.0, 200.0, 250.0, 300.0, 400.0, 500.0, 650.0, 800.0, 1000.0, 2000.0, 5000.0,
    10000.0, 20000.0, 50000.0, 100000.0,
];

/// Dapr's size buckets, bytes (1Ki … 4Gi).
pub const SIZE_BUCKETS: [f64; 13] = [
    1024.0,
    2048.0,
    4096.0,
    16384.0,
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
    1073741824.0,
    4294967296.0,
];

/// Quantiles of the per-worker latency view.
pub const WORKER_QUANTILES: [(f64, &str); 4] =
    [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"), (0.999, "0.999")];

/// Distinct label sets per family per shard before new ones fold into `_other`.
pub const MAX_SERIES: usize = 1024;
/// The path label that absorbs label sets past [`MAX_SERIES`].
pub const OTHER: &str = "_other";

/// `grpc_client_status` of a gRPC app call that succeeded (grpc-go's name).
pub const GRPC_STATUS_OK: &str = "OK";
/// `grpc_client_status` of a gRPC app call abandoned before its end, as Go's
/// interceptor sees a call whose context expired (grpc-go's name).
pub const GRPC_STATUS_DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
