//! THE endpoint table: every HTTP route of Dapr's API, one row each.
//!
//! Routing, metric path labels, API allow/deny lists and API logs all read
//! this table; adding an endpoint is one row here plus one handler. Rows are
//! matched in order and the first row whose template and method both match
//! wins, so a more specific template (`publish/bulk/…`) must come before a
//! general one (`publish/{pubsubname}/{topic...}`), mirroring chi's
//! static-before-parameter priority in Go daprd.
//!
//! Template syntax: `/`-separated segments after the version; `{name}` matches
//! one non-empty segment, a final `{name...}` matches the (non-empty) rest.

use http::Method;

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

/// Protocol-neutral operation ids. gRPC methods map onto the same ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are Dapr's operation names
pub enum Op {
    Healthz,
    HealthzOutbound,
    GetMetadata,
    SetMetadata,
    Shutdown,
    InvokeService,
    GetState,
    SaveState,
    DeleteState,
    GetBulkState,
    ExecuteStateTransaction,
    QueryState,
    PublishEvent,
    BulkPublishEvent,
    InvokeBinding,
    GetSecret,
    GetBulkSecret,
    GetConfiguration,
    SubscribeConfiguration,
    UnsubscribeConfiguration,
    TryLock,
    Unlock,
    InvokeActor,
    ExecuteActorStateTransaction,
    GetActorState,
    RegisterActorReminder,
    GetActorReminder,
    UnregisterActorReminder,
    RegisterActorTimer,
    UnregisterActorTimer,
    ScheduleJob,
    GetJob,
    DeleteJob,
    StartWorkflow,
    GetWorkflow,
    RaiseEventWorkflow,
    TerminateWorkflow,
    PauseWorkflow,
    ResumeWorkflow,
    PurgeWorkflow,
    Encrypt,
    Decrypt,
    SubtleCrypto,
    Converse,
}

impl Op {
    /// The operation's name, as used in logs and "not implemented" errors.
    pub fn name(self) -> &'static str {
        // Debug names are the Dapr operation names; keep a static copy.
        macro_rules! names {
            ($($v:ident),*) => { match self { $(Op::$v => stringify!($v),)* } };
        }
        names!(
            Healthz,
            HealthzOutbound,
            GetMetadata,
            SetMetadata,
            Shutdown,
            InvokeService,
            GetState,
            SaveState,
            DeleteState,
            GetBulkState,
            ExecuteStateTransaction,
            QueryState,
            PublishEvent,
            BulkPublishEvent,
            InvokeBinding,
            GetSecret,
            GetBulkSecret,
            GetConfiguration,
            SubscribeConfiguration,
            UnsubscribeConfiguration,
            TryLock,
            Unlock,
            InvokeActor,
            ExecuteActorStateTransaction,
            GetActorState,
            RegisterActorReminder,
            GetActorReminder,
            UnregisterActorReminder,
            RegisterActorTimer,
            UnregisterActorTimer,
            ScheduleJob,
            GetJob,
            DeleteJob,
            StartWorkflow,
            GetWorkflow,
            RaiseEventWorkflow,
            TerminateWorkflow,
            PauseWorkflow,
            ResumeWorkflow,
            PurgeWorkflow,
            Encrypt,
            Decrypt,
            SubtleCrypto,
            Converse
        )
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

/// One row of the endpoint table.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// Accepted methods.
    pub methods: Methods,
    /// API version segment.
    pub version: ApiVersion,
    /// Path template after the version.
    pub template: &'static str,
    /// Endpoint group (allow/deny lists).
    pub group: Group,
    /// The operation.
    pub op: Op,
}

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];
const PUT: &[Method] = &[Method::PUT];
const DELETE: &[Method] = &[Method::DELETE];
const POST_PUT: &[Method] = &[Method::POST, Method::PUT];
const ACTOR_INVOKE: &[Method] = &[Method::GET, Method::POST, Method::PUT, Method::DELETE];

macro_rules! routes {
    ($( ($m:expr, $v:ident, $t:literal, $g:ident, $op:ident) ),* $(,)?) => {
        &[ $( Route { methods: $m, version: ApiVersion::$v, template: $t, group: Group::$g, op: Op::$op } ),* ]
    };
}

use Methods::{Any, Only};

/// Every HTTP route, in match order.
pub static ROUTES: &[Route] = routes![
    // health, metadata, shutdown
    (Only(GET), V1, "healthz", Healthz, Healthz),
    (Only(GET), V1, "healthz/outbound", Healthz, HealthzOutbound),
    (Only(GET), V1, "metadata", Metadata, GetMetadata),
    (Only(PUT), V1, "metadata/{key}", Metadata, SetMetadata),
    (Only(POST), V1, "shutdown", Shutdown, Shutdown),
    // service invocation
    (
        Any,
        V1,
        "invoke/{id}/method/{method...}",
        Invoke,
        InvokeService
    ),
    // state
    (
        Only(POST_PUT),
        V1,
        "state/{storeName}/bulk",
        State,
        GetBulkState
    ),
    (
        Only(POST_PUT),
        V1,
        "state/{storeName}/transaction",
        State,
        ExecuteStateTransaction
    ),
    (Only(GET), V1, "state/{storeName}/{key}", State, GetState),
    (
        Only(DELETE),
        V1,
        "state/{storeName}/{key}",
        State,
        DeleteState
    ),
    (Only(POST_PUT), V1, "state/{storeName}", State, SaveState),
    (
        Only(POST_PUT),
        V1Alpha1,
        "state/{storeName}/query",
        State,
        QueryState
    ),
    // pub/sub
    (
        Only(POST_PUT),
        V1Alpha1,
        "publish/bulk/{pubsubname}/{topic...}",
        Publish,
        BulkPublishEvent
    ),
    (
        Only(POST_PUT),
        V1,
        "publish/bulk/{pubsubname}/{topic...}",
        Publish,
        BulkPublishEvent
    ),
    (
        Only(POST_PUT),
        V1,
        "publish/{pubsubname}/{topic...}",
        Publish,
        PublishEvent
    ),
    // bindings
    (
        Only(POST_PUT),
        V1,
        "bindings/{name}",
        Bindings,
        InvokeBinding
    ),
    // secrets
    (
        Only(GET),
        V1,
        "secrets/{secretStoreName}/bulk",
        Secrets,
        GetBulkSecret
    ),
    (
        Only(GET),
        V1,
        "secrets/{secretStoreName}/{key}",
        Secrets,
        GetSecret
    ),
    // configuration (stable and alpha1)
    (
        Only(GET),
        V1,
        "configuration/{storeName}/subscribe",
        Configuration,
        SubscribeConfiguration
    ),
    (
        Only(GET),
        V1,
        "configuration/{storeName}/{configurationSubscribeID}/unsubscribe",
        Configuration,
        UnsubscribeConfiguration
    ),
    (
        Only(GET),
        V1,
        "configuration/{storeName}",
        Configuration,
        GetConfiguration
    ),
    (
        Only(GET),
        V1Alpha1,
        "configuration/{storeName}/subscribe",
        Configuration,
        SubscribeConfiguration
    ),
    (
        Only(GET),
        V1Alpha1,
        "configuration/{storeName}/{configurationSubscribeID}/unsubscribe",
        Configuration,
        UnsubscribeConfiguration
    ),
    (
        Only(GET),
        V1Alpha1,
        "configuration/{storeName}",
        Configuration,
        GetConfiguration
    ),
    // lock
    (Only(POST), V1Alpha1, "lock/{storeName}", Lock, TryLock),
    (Only(POST), V1Alpha1, "unlock/{storeName}", Unlock, Unlock),
    // actors
    (
        Only(ACTOR_INVOKE),
        V1,
        "actors/{actorType}/{actorId}/method/{method}",
        Actors,
        InvokeActor
    ),
    (
        Only(POST_PUT),
        V1,
        "actors/{actorType}/{actorId}/state",
        Actors,
        ExecuteActorStateTransaction
    ),
    (
        Only(GET),
        V1,
        "actors/{actorType}/{actorId}/state/{key}",
        Actors,
        GetActorState
    ),
    (
        Only(POST_PUT),
        V1,
        "actors/{actorType}/{actorId}/reminders/{name}",
        Actors,
        RegisterActorReminder
    ),
    (
        Only(GET),
        V1,
        "actors/{actorType}/{actorId}/reminders/{name}",
        Actors,
        GetActorReminder
    ),
    (
        Only(DELETE),
        V1,
        "actors/{actorType}/{actorId}/reminders/{name}",
        Actors,
        UnregisterActorReminder
    ),
    (
        Only(POST_PUT),
        V1,
        "actors/{actorType}/{actorId}/timers/{name}",
        Actors,
        RegisterActorTimer
    ),
    (
        Only(DELETE),
        V1,
        "actors/{actorType}/{actorId}/timers/{name}",
        Actors,
        UnregisterActorTimer
    ),
    // jobs
    (Only(POST), V1Alpha1, "jobs/{name}", Jobs, ScheduleJob),
    (Only(GET), V1Alpha1, "jobs/{name}", Jobs, GetJob),
    (Only(DELETE), V1Alpha1, "jobs/{name}", Jobs, DeleteJob),
    (Only(POST), V1, "jobs/{name}", Jobs, ScheduleJob),
    (Only(GET), V1, "jobs/{name}", Jobs, GetJob),
    (Only(DELETE), V1, "jobs/{name}", Jobs, DeleteJob),
    // workflows (alpha1, beta1 and stable share one shape)
    (
        Only(POST),
        V1,
        "workflows/{workflowComponent}/{workflowName}/start",
        Workflows,
        StartWorkflow
    ),
    (
        Only(GET),
        V1,
        "workflows/{workflowComponent}/{instanceID}",
        Workflows,
        GetWorkflow
    ),
    (
        Only(POST),
        V1,
        "workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}",
        Workflows,
        RaiseEventWorkflow
    ),
    (
        Only(POST),
        V1,
        "workflows/{workflowComponent}/{instanceID}/terminate",
        Workflows,
        TerminateWorkflow
    ),
    (
        Only(POST),
        V1,
        "workflows/{workflowComponent}/{instanceID}/pause",
        Workflows,
        PauseWorkflow
    ),
    (
        Only(POST),
        V1,
        "workflows/{workflowComponent}/{instanceID}/resume",
        Workflows,
        ResumeWorkflow
    ),
    (
        Only(POST),
        V1,
        "workflows/{workflowComponent}/{instanceID}/purge",
        Workflows,
        PurgeWorkflow
    ),
    (
        Only(POST),
        V1Beta1,
        "workflows/{workflowComponent}/{workflowName}/start",
        Workflows,
        StartWorkflow
    ),
    (
        Only(GET),
        V1Beta1,
        "workflows/{workflowComponent}/{instanceID}",
        Workflows,
        GetWorkflow
    ),
    (
        Only(POST),
        V1Beta1,
        "workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}",
        Workflows,
        RaiseEventWorkflow
    ),
    (
        Only(POST),
        V1Beta1,
        "workflows/{workflowComponent}/{instanceID}/terminate",
        Workflows,
        TerminateWorkflow
    ),
    (
        Only(POST),
        V1Beta1,
        "workflows/{workflowComponent}/{instanceID}/pause",
        Workflows,
        PauseWorkflow
    ),
    (
        Only(POST),
        V1Beta1,
        "workflows/{workflowComponent}/{instanceID}/resume",
        Workflows,
        ResumeWorkflow
    ),
    (
        Only(POST),
        V1Beta1,
        "workflows/{workflowComponent}/{instanceID}/purge",
        Workflows,
        PurgeWorkflow
    ),
    (
        Only(POST),
        V1Alpha1,
        "workflows/{workflowComponent}/{workflowName}/start",
        Workflows,
        StartWorkflow
    ),
    (
        Only(GET),
        V1Alpha1,
        "workflows/{workflowComponent}/{instanceID}",
        Workflows,
        GetWorkflow
    ),
    (
        Only(POST),
        V1Alpha1,
        "workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}",
        Workflows,
        RaiseEventWorkflow
    ),
    (
        Only(POST),
        V1Alpha1,
        "workflows/{workflowComponent}/{instanceID}/terminate",
        Workflows,
        TerminateWorkflow
    ),
    (
        Only(POST),
        V1Alpha1,
        "workflows/{workflowComponent}/{instanceID}/pause",
        Workflows,
        PauseWorkflow
    ),
    (
        Only(POST),
        V1Alpha1,
        "workflows/{workflowComponent}/{instanceID}/resume",
        Workflows,
        ResumeWorkflow
    ),
    (
        Only(POST),
        V1Alpha1,
        "workflows/{workflowComponent}/{instanceID}/purge",
        Workflows,
        PurgeWorkflow
    ),
    // crypto and conversation (alpha)
    (
        Only(PUT),
        V1Alpha1,
        "crypto/{name}/encrypt",
        Crypto,
        Encrypt
    ),
    (
        Only(PUT),
        V1Alpha1,
        "crypto/{name}/decrypt",
        Crypto,
        Decrypt
    ),
    (
        Only(POST),
        V1Alpha1,
        "subtlecrypto/{name}/{operation}",
        Subtlecrypto,
        SubtleCrypto
    ),
    (
        Only(POST),
        V1Alpha1,
        "conversation/{name}/converse",
        Conversation,
        Converse
    ),
    (
        Only(POST),
        V1Alpha2,
        "conversation/{name}/converse",
        Conversation,
        Converse
    ),
];

/// Routes served on `--dapr-public-port`: health and metadata only.
pub fn is_public(op: Op) -> bool {
    matches!(op, Op::Healthz | Op::HealthzOutbound | Op::GetMetadata)
}
