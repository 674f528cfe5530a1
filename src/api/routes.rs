//! THE endpoint table: every operation of Dapr's API, one row each, with
//! its HTTP routes, its gRPC methods and its API allow-list group.
//!
//! The HTTP router ([`ROUTES`]), the gRPC dispatcher (method → [`Op`],
//! streaming methods, the allow-list check), Configuration `spec.api`
//! allow/deny lists, metric path labels and API logs all read this table;
//! adding an endpoint is one row here plus one handler per protocol.
//!
//! HTTP routes are matched in table order (row by row, then within a row)
//! and the first route whose template and method both match wins, so a more
//! specific template (`publish/bulk/…`) must come before a general one
//! (`publish/{pubsubname}/{topic...}`), mirroring chi's
//! static-before-parameter priority in Go daprd. Template syntax:
//! `/`-separated segments after the version; `{name}` matches one non-empty
//! segment, a final `{name...}` matches the (non-empty) rest.
//!
//! gRPC methods are the `dapr.proto.runtime.v1.Dapr` methods (Dapr 1.18)
//! serving the operation, `Alpha1`/`Beta1` twins included; a method's API
//! version is its name's suffix ([`grpc_version`]). Every method of the
//! service is listed, built or not: the dispatcher answers a method whose
//! operation has no handler yet `UNIMPLEMENTED` naming the method.

use http::Method;

use crate::config::configuration::ApiRules;

/// The API version segment of a route (`/v1.0/…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `v1.0`
    V1,
    /// `v1.0-alpha1`
    V1Alpha1,
    /// `v1.0-alpha2`
    V1Alpha2,
    /// `v1.0-beta1`
    V1Beta1,
}

impl ApiVersion {
    /// The path segment, e.g. `v1.0-alpha1`.
    pub const fn segment(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::V1Alpha1 => "v1.0-alpha1",
            Self::V1Alpha2 => "v1.0-alpha2",
            Self::V1Beta1 => "v1.0-beta1",
        }
    }

    /// The name used by Configuration `spec.api` rules (`v1`, `v1alpha1`, …).
    pub const fn config_name(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V1Alpha1 => "v1alpha1",
            Self::V1Alpha2 => "v1alpha2",
            Self::V1Beta1 => "v1beta1",
        }
    }

    /// Parses a version path segment.
    pub fn from_segment(s: &str) -> Option<Self> {
        match s {
            "v1.0" => Some(Self::V1),
            "v1.0-alpha1" => Some(Self::V1Alpha1),
            "v1.0-alpha2" => Some(Self::V1Alpha2),
            "v1.0-beta1" => Some(Self::V1Beta1),
            _ => None,
        }
    }
}

/// Endpoint groups, as named by Configuration `spec.api.allowed/denied`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// Service invocation.
    Invoke,
    /// State management.
    State,
    /// Pub/sub publishing.
    Publish,
    /// Output bindings.
    Bindings,
    /// Secrets.
    Secrets,
    /// Actors.
    Actors,
    /// Metadata API.
    Metadata,
    /// Configuration API.
    Configuration,
    /// Distributed lock (acquire).
    Lock,
    /// Distributed lock (release).
    Unlock,
    /// High-level crypto.
    Crypto,
    /// Low-level crypto.
    Subtlecrypto,
    /// Workflows.
    Workflows,
    /// Health endpoints (always allowed).
    Healthz,
    /// Jobs (scheduler).
    Jobs,
    /// Shutdown API.
    Shutdown,
    /// Conversation (LLM) API.
    Conversation,
}

impl Group {
    /// The group's name in Configuration rules.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Invoke => "invoke",
            Self::State => "state",
            Self::Publish => "publish",
            Self::Bindings => "bindings",
            Self::Secrets => "secrets",
            Self::Actors => "actors",
            Self::Metadata => "metadata",
            Self::Configuration => "configuration",
            Self::Lock => "lock",
            Self::Unlock => "unlock",
            Self::Crypto => "crypto",
            Self::Subtlecrypto => "subtlecrypto",
            Self::Workflows => "workflows",
            Self::Healthz => "healthz",
            Self::Jobs => "jobs",
            Self::Shutdown => "shutdown",
            Self::Conversation => "conversation",
        }
    }
}

/// Which HTTP methods a route accepts.
#[derive(Clone, Copy, Debug)]
pub enum Methods {
    /// Any method (service invocation).
    Any,
    /// Exactly these.
    Only(&'static [Method]),
}

impl Methods {
    /// Whether `m` is accepted.
    pub fn allows(&self, m: &Method) -> bool {
        match self {
            Methods::Any => true,
            Methods::Only(list) => list.iter().any(|x| x == m),
        }
    }
}

/// One HTTP route of an operation.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// Accepted methods.
    pub methods: Methods,
    /// API version segment.
    pub version: ApiVersion,
    /// Path template after the version.
    pub template: &'static str,
    /// The operation.
    pub op: Op,
}

impl Route {
    /// Whether the Configuration's `spec.api` lists serve this route (a
    /// route that is not allowed is not registered, as in Go).
    pub fn allowed(&self, rules: &ApiRules) -> bool {
        // Every routed operation has a group (`every_route_has_a_group`).
        let group = self.op.group().map_or("", Group::name);
        rules.http_allows(
            self.version.config_name(),
            group,
            self.version.segment(),
            self.template,
        )
    }
}

const ANY: Methods = Methods::Any;
const GET: Methods = Methods::Only(&[Method::GET]);
const POST: Methods = Methods::Only(&[Method::POST]);
const PUT: Methods = Methods::Only(&[Method::PUT]);
const DELETE: Methods = Methods::Only(&[Method::DELETE]);
const POST_PUT: Methods = Methods::Only(&[Method::POST, Method::PUT]);
const ACTOR_INVOKE: Methods =
    Methods::Only(&[Method::GET, Method::POST, Method::PUT, Method::DELETE]);

/// `Some(Group::…)` for a row that names a group, else `None`.
macro_rules! row_group {
    () => {
        None
    };
    ($group:ident) => {
        Some(Group::$group)
    };
}

/// Whether a row's gRPC methods are marked `stream`.
macro_rules! row_streaming {
    () => {
        false
    };
    (stream) => {
        true
    };
}

/// Declares [`Op`] (one variant per row, named once) with its table lookups,
/// and [`ROUTES`] (every row's HTTP routes, in table order).
macro_rules! endpoints {
    ($(
        $op:ident $(: $group:ident)? =>
            http [$( ($m:expr, $v:ident, $t:literal) ),* $(,)?]
            grpc $($stream:ident)? [$( $g:literal ),* $(,)?];
    )*) => {
        /// Protocol-neutral operation ids: one per row of the table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // the names are Dapr's operation names
        pub enum Op {
            $($op,)*
        }

        impl Op {
            /// Every operation, in table order.
            pub const ALL: &'static [Op] = &[$(Op::$op,)*];

            /// The operation's name, as used in logs and "not implemented" errors.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Op::$op => stringify!($op),)*
                }
            }

            /// The Configuration `spec.api` group; `None` for gRPC methods of
            /// blocks that have none yet (served unless a gRPC allow list is
            /// configured, never denied).
            pub const fn group(self) -> Option<Group> {
                match self {
                    $(Op::$op => row_group!($($group)?),)*
                }
            }

            /// The `Dapr` gRPC methods serving the operation.
            pub const fn grpc_methods(self) -> &'static [&'static str] {
                match self {
                    $(Op::$op => &[$($g),*],)*
                }
            }

            /// Whether its gRPC methods are streaming calls (served by the
            /// dispatcher's streaming side; every other method is unary).
            pub const fn grpc_streaming(self) -> bool {
                match self {
                    $(Op::$op => row_streaming!($($stream)?),)*
                }
            }
        }

        /// The operation of a `Dapr` gRPC method, with the method's name as
        /// the table spells it; `None` for a method the service does not
        /// have. Compares in table order (the hot methods come first), no
        /// hashing: cheaper than a map for 72 short names.
        pub fn grpc_op(method: &str) -> Option<(Op, &'static str)> {
            $($(
                if method == $g {
                    return Some((Op::$op, $g));
                }
            )*)*
            None
        }

        /// Every HTTP route, in match order.
        pub static ROUTES: &[Route] = &[
            $($(
                Route { methods: $m, version: ApiVersion::$v, template: $t, op: Op::$op },
            )*)*
        ];
    };
}

// One row per operation: `Op: group => http [(methods, version, template), …]
// grpc [stream] [methods…];`. HTTP routes match in this order (see the module doc).
#[rustfmt::skip]
endpoints! {
    // health, metadata, shutdown
    Healthz: Healthz => http [(GET, V1, "healthz")] grpc [];
    HealthzOutbound: Healthz => http [(GET, V1, "healthz/outbound")] grpc [];
    GetMetadata: Metadata => http [(GET, V1, "metadata")] grpc ["GetMetadata"];
    SetMetadata: Metadata => http [(PUT, V1, "metadata/{key}")] grpc ["SetMetadata"];
    Shutdown: Shutdown => http [(POST, V1, "shutdown")] grpc ["Shutdown"];
    // service invocation
    InvokeService: Invoke => http [(ANY, V1, "invoke/{id}/method/{method...}")] grpc ["InvokeService"];
    // state
    GetBulkState: State => http [(POST_PUT, V1, "state/{storeName}/bulk")] grpc ["GetBulkState"];
    ExecuteStateTransaction: State =>
        http [(POST_PUT, V1, "state/{storeName}/transaction")] grpc ["ExecuteStateTransaction"];
    GetState: State => http [(GET, V1, "state/{storeName}/{key}")] grpc ["GetState"];
    DeleteState: State => http [(DELETE, V1, "state/{storeName}/{key}")] grpc ["DeleteState"];
    DeleteBulkState: State => http [] grpc ["DeleteBulkState"];
    SaveState: State => http [(POST_PUT, V1, "state/{storeName}")] grpc ["SaveState"];
    QueryState: State => http [(POST_PUT, V1Alpha1, "state/{storeName}/query")] grpc ["QueryStateAlpha1"];
    // pub/sub
    BulkPublishEvent: Publish => http [
        (POST_PUT, V1Alpha1, "publish/bulk/{pubsubname}/{topic...}"),
        (POST_PUT, V1, "publish/bulk/{pubsubname}/{topic...}"),
    ] grpc ["BulkPublishEventAlpha1", "BulkPublishEvent"];
    PublishEvent: Publish => http [(POST_PUT, V1, "publish/{pubsubname}/{topic...}")] grpc ["PublishEvent"];
    SubscribeTopicEvents => http [] grpc stream ["SubscribeTopicEventsAlpha1"];
    // bindings
    InvokeBinding: Bindings => http [(POST_PUT, V1, "bindings/{name}")] grpc ["InvokeBinding"];
    // secrets
    GetBulkSecret: Secrets => http [(GET, V1, "secrets/{secretStoreName}/bulk")] grpc ["GetBulkSecret"];
    GetSecret: Secrets => http [(GET, V1, "secrets/{secretStoreName}/{key}")] grpc ["GetSecret"];
    // configuration (stable and alpha1)
    SubscribeConfiguration: Configuration => http [
        (GET, V1, "configuration/{storeName}/subscribe"),
        (GET, V1Alpha1, "configuration/{storeName}/subscribe"),
    ] grpc stream ["SubscribeConfigurationAlpha1", "SubscribeConfiguration"];
    UnsubscribeConfiguration: Configuration => http [
        (GET, V1, "configuration/{storeName}/{configurationSubscribeID}/unsubscribe"),
        (GET, V1Alpha1, "configuration/{storeName}/{configurationSubscribeID}/unsubscribe"),
    ] grpc ["UnsubscribeConfigurationAlpha1", "UnsubscribeConfiguration"];
    GetConfiguration: Configuration => http [
        (GET, V1, "configuration/{storeName}"),
        (GET, V1Alpha1, "configuration/{storeName}"),
    ] grpc ["GetConfigurationAlpha1", "GetConfiguration"];
    // lock
    TryLock: Lock => http [(POST, V1Alpha1, "lock/{storeName}")] grpc ["TryLockAlpha1"];
    Unlock: Unlock => http [(POST, V1Alpha1, "unlock/{storeName}")] grpc ["UnlockAlpha1"];
    // actors
    InvokeActor: Actors =>
        http [(ACTOR_INVOKE, V1, "actors/{actorType}/{actorId}/method/{method}")] grpc ["InvokeActor"];
    ExecuteActorStateTransaction: Actors =>
        http [(POST_PUT, V1, "actors/{actorType}/{actorId}/state")] grpc ["ExecuteActorStateTransaction"];
    GetActorState: Actors =>
        http [(GET, V1, "actors/{actorType}/{actorId}/state/{key}")] grpc ["GetActorState"];
    RegisterActorReminder: Actors =>
        http [(POST_PUT, V1, "actors/{actorType}/{actorId}/reminders/{name}")] grpc ["RegisterActorReminder"];
    GetActorReminder: Actors =>
        http [(GET, V1, "actors/{actorType}/{actorId}/reminders/{name}")] grpc ["GetActorReminder"];
    UnregisterActorReminder: Actors =>
        http [(DELETE, V1, "actors/{actorType}/{actorId}/reminders/{name}")] grpc ["UnregisterActorReminder"];
    RegisterActorTimer: Actors =>
        http [(POST_PUT, V1, "actors/{actorType}/{actorId}/timers/{name}")] grpc ["RegisterActorTimer"];
    UnregisterActorTimer: Actors =>
        http [(DELETE, V1, "actors/{actorType}/{actorId}/timers/{name}")] grpc ["UnregisterActorTimer"];
    UnregisterActorRemindersByType => http [] grpc ["UnregisterActorRemindersByType"];
    ListActorReminders => http [] grpc ["ListActorReminders"];
    SubscribeActorEvents => http [] grpc stream ["SubscribeActorEventsAlpha1"];
    // jobs
    ScheduleJob: Jobs => http [(POST, V1Alpha1, "jobs/{name}"), (POST, V1, "jobs/{name}")]
        grpc ["ScheduleJobAlpha1", "ScheduleJob"];
    GetJob: Jobs => http [(GET, V1Alpha1, "jobs/{name}"), (GET, V1, "jobs/{name}")]
        grpc ["GetJobAlpha1", "GetJob"];
    DeleteJob: Jobs => http [(DELETE, V1Alpha1, "jobs/{name}"), (DELETE, V1, "jobs/{name}")]
        grpc ["DeleteJobAlpha1", "DeleteJob"];
    DeleteJobsByPrefix => http [] grpc ["DeleteJobsByPrefixAlpha1", "DeleteJobsByPrefix"];
    ListJobs => http [] grpc ["ListJobsAlpha1", "ListJobs"];
    // workflows (stable, beta1 and alpha1 share one shape)
    StartWorkflow: Workflows => http [
        (POST, V1, "workflows/{workflowComponent}/{workflowName}/start"),
        (POST, V1Beta1, "workflows/{workflowComponent}/{workflowName}/start"),
        (POST, V1Alpha1, "workflows/{workflowComponent}/{workflowName}/start"),
    ] grpc ["StartWorkflowAlpha1", "StartWorkflowBeta1"];
    GetWorkflow: Workflows => http [
        (GET, V1, "workflows/{workflowComponent}/{instanceID}"),
        (GET, V1Beta1, "workflows/{workflowComponent}/{instanceID}"),
        (GET, V1Alpha1, "workflows/{workflowComponent}/{instanceID}"),
    ] grpc ["GetWorkflowAlpha1", "GetWorkflowBeta1"];
    RaiseEventWorkflow: Workflows => http [
        (POST, V1, "workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}"),
        (POST, V1Beta1, "workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}"),
        (POST, V1Alpha1, "workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}"),
    ] grpc ["RaiseEventWorkflowAlpha1", "RaiseEventWorkflowBeta1"];
    TerminateWorkflow: Workflows => http [
        (POST, V1, "workflows/{workflowComponent}/{instanceID}/terminate"),
        (POST, V1Beta1, "workflows/{workflowComponent}/{instanceID}/terminate"),
        (POST, V1Alpha1, "workflows/{workflowComponent}/{instanceID}/terminate"),
    ] grpc ["TerminateWorkflowAlpha1", "TerminateWorkflowBeta1"];
    PauseWorkflow: Workflows => http [
        (POST, V1, "workflows/{workflowComponent}/{instanceID}/pause"),
        (POST, V1Beta1, "workflows/{workflowComponent}/{instanceID}/pause"),
        (POST, V1Alpha1, "workflows/{workflowComponent}/{instanceID}/pause"),
    ] grpc ["PauseWorkflowAlpha1", "PauseWorkflowBeta1"];
    ResumeWorkflow: Workflows => http [
        (POST, V1, "workflows/{workflowComponent}/{instanceID}/resume"),
        (POST, V1Beta1, "workflows/{workflowComponent}/{instanceID}/resume"),
        (POST, V1Alpha1, "workflows/{workflowComponent}/{instanceID}/resume"),
    ] grpc ["ResumeWorkflowAlpha1", "ResumeWorkflowBeta1"];
    PurgeWorkflow: Workflows => http [
        (POST, V1, "workflows/{workflowComponent}/{instanceID}/purge"),
        (POST, V1Beta1, "workflows/{workflowComponent}/{instanceID}/purge"),
        (POST, V1Alpha1, "workflows/{workflowComponent}/{instanceID}/purge"),
    ] grpc ["PurgeWorkflowAlpha1", "PurgeWorkflowBeta1"];
    // crypto and conversation (alpha)
    Encrypt: Crypto => http [(PUT, V1Alpha1, "crypto/{name}/encrypt")] grpc ["EncryptAlpha1"];
    Decrypt: Crypto => http [(PUT, V1Alpha1, "crypto/{name}/decrypt")] grpc ["DecryptAlpha1"];
    SubtleCrypto: Subtlecrypto => http [(POST, V1Alpha1, "subtlecrypto/{name}/{operation}")] grpc [
        "SubtleGetKeyAlpha1", "SubtleEncryptAlpha1", "SubtleDecryptAlpha1", "SubtleWrapKeyAlpha1",
        "SubtleUnwrapKeyAlpha1", "SubtleSignAlpha1", "SubtleVerifyAlpha1",
    ];
    Converse: Conversation => http [
        (POST, V1Alpha1, "conversation/{name}/converse"),
        (POST, V1Alpha2, "conversation/{name}/converse"),
    ] grpc ["ConverseAlpha1", "ConverseAlpha2"];
}

/// Routes served on `--dapr-public-port`: health and metadata only.
pub fn is_public(op: Op) -> bool {
    matches!(op, Op::Healthz | Op::HealthzOutbound | Op::GetMetadata)
}

/// The API version of a gRPC method: its name's suffix (`…Alpha1`,
/// `…Alpha2`, `…Beta1`), else `v1`.
pub fn grpc_version(method: &str) -> ApiVersion {
    if method.ends_with("Alpha1") {
        ApiVersion::V1Alpha1
    } else if method.ends_with("Alpha2") {
        ApiVersion::V1Alpha2
    } else if method.ends_with("Beta1") {
        ApiVersion::V1Beta1
    } else {
        ApiVersion::V1
    }
}

/// Whether the Configuration's `spec.api` lists serve gRPC `method` of `op`.
pub fn grpc_allowed(rules: &ApiRules, op: Op, method: &str) -> bool {
    rules.grpc_allows(
        grpc_version(method).config_name(),
        op.group().map(Group::name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(op: Op) -> &'static Route {
        ROUTES.iter().find(|r| r.op == op).unwrap()
    }

    fn rules(yaml: &str) -> ApiRules {
        ApiRules::from_yaml(yaml)
    }

    #[test]
    fn allow_list_keeps_only_listed_groups_and_health() {
        let r = rules("kind: Configuration\nspec:\n  api:\n    allowed:\n    - {name: state, version: v1, protocol: http}\n");
        assert!(route(Op::GetState).allowed(&r));
        assert!(!route(Op::GetMetadata).allowed(&r));
        assert!(route(Op::Healthz).allowed(&r));
        // Legacy form: version v1.0 matches the path prefix.
        let r = rules("spec:\n  api:\n    allowed:\n    - {name: metadata, version: v1.0}\n");
        assert!(route(Op::GetMetadata).allowed(&r));
        assert!(!route(Op::GetState).allowed(&r));
    }

    #[test]
    fn deny_list_and_grpc() {
        let r = rules("spec:\n  api:\n    denied:\n    - {name: state, version: v1, protocol: grpc}\n    - {name: metadata, version: v1, protocol: http}\n");
        assert!(!route(Op::GetMetadata).allowed(&r));
        assert!(route(Op::GetState).allowed(&r));
        assert!(!grpc_allowed(&r, Op::GetState, "GetState"));
        assert!(grpc_allowed(&r, Op::GetMetadata, "GetMetadata"));
        assert!(grpc_allowed(&r, Op::TryLock, "TryLockAlpha1"));
    }

    #[test]
    fn every_route_has_a_group() {
        for r in ROUTES {
            assert!(r.op.group().is_some(), "{}", r.template);
        }
    }

    #[test]
    fn every_grpc_method_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for op in Op::ALL {
            for m in op.grpc_methods() {
                assert!(seen.insert(*m), "{m} listed twice");
                assert_eq!(grpc_op(m), Some((*op, *m)));
            }
        }
        assert_eq!(grpc_op("NoSuchMethod"), None);
    }
}
