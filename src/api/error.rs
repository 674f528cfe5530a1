//! The Dapr error catalogue: every `ERR_*` code with its HTTP status and gRPC code.
//!
//! This is the only place that knows how an API failure looks on the wire.
//! Handlers build an [`ApiError`] from a catalogue entry and a message; the
//! HTTP front end renders it as Dapr's `{"errorCode","message"}` body and the
//! gRPC front end as a status with `google.rpc.ErrorInfo` details. Codes,
//! statuses and reasons are copied byte-for-byte from Go daprd
//! (`pkg/messages`, `pkg/api/errors`); see `shared/reference/dapr-api.md` §2.3.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

use http::StatusCode;

use crate::grpc::status::GrpcCode;
use crate::http::message::{Rejection, Response};

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident => ($tag:literal, $http:literal, $grpc:ident), )*) => {
        /// A catalogued Dapr error code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every catalogue entry, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire tag, e.g. `ERR_STATE_STORE_NOT_FOUND`.
            pub const fn tag(self) -> &'static str {
                match self { $( Self::$variant => $tag, )* }
            }

            /// The default HTTP status of this code.
            pub const fn http_status(self) -> u16 {
                match self { $( Self::$variant => $http, )* }
            }

            /// The gRPC code of this error.
            pub const fn grpc_code(self) -> GrpcCode {
                match self { $( Self::$variant => GrpcCode::$grpc, )* }
            }
        }
    };
}

catalogue! {
    /// Generic invalid input.
    BadRequest => ("ERR_BAD_REQUEST", 400, InvalidArgument),
    /// The API (or this build of daprd) does not implement the operation.
    ApiUnimplemented => ("ERR_API_UNIMPLEMENTED", 501, Unimplemented),
    /// Reading the request body failed.
    BodyRead => ("ERR_BODY_READ", 400, InvalidArgument),
    /// The request body exceeds `--max-body-size` (ours: Go returns a reader error).
    BodyTooLarge => ("ERR_BODY_TOO_LARGE", 413, ResourceExhausted),
    /// The request headers exceed `--read-buffer-size` (ours).
    HeadersTooLarge => ("ERR_HEADERS_TOO_LARGE", 431, ResourceExhausted),
    /// JSON decoding failed or a required field is missing.
    MalformedRequest => ("ERR_MALFORMED_REQUEST", 400, InvalidArgument),
    /// Output binding data could not be re-encoded.
    MalformedRequestData => ("ERR_MALFORMED_REQUEST_DATA", 500, Internal),
    /// A response could not be encoded.
    Internal => ("ERR_INTERNAL", 500, Internal),
    /// Service invocation failed.
    DirectInvoke => ("ERR_DIRECT_INVOKE", 500, Internal),
    /// `/v1.0/healthz` while the runtime is not ready.
    HealthNotReady => ("ERR_HEALTH_NOT_READY", 500, Internal),
    /// `/v1.0/healthz?appid=` names another app.
    HealthAppIdNotMatch => ("ERR_HEALTH_APPID_NOT_MATCH", 500, Internal),
    /// `/v1.0/healthz/outbound` before the APIs are up.
    OutboundHealthNotReady => ("ERR_OUTBOUND_HEALTH_NOT_READY", 500, Internal),
    /// No state store is configured.
    StateStoreNotConfigured => ("ERR_STATE_STORE_NOT_CONFIGURED", 500, FailedPrecondition),
    /// The named state store does not exist.
    StateStoreNotFound => ("ERR_STATE_STORE_NOT_FOUND", 400, InvalidArgument),
    /// Reading state failed.
    StateGet => ("ERR_STATE_GET", 500, Internal),
    /// Saving state failed.
    StateSave => ("ERR_STATE_SAVE", 500, Internal),
    /// Deleting state failed.
    StateDelete => ("ERR_STATE_DELETE", 500, Internal),
    /// Bulk read failed.
    StateBulkGet => ("ERR_STATE_BULK_GET", 500, Internal),
    /// Bulk delete failed (gRPC only).
    StateBulkDelete => ("ERR_STATE_BULK_DELETE", 500, Internal),
    /// A state transaction failed.
    StateTransaction => ("ERR_STATE_TRANSACTION", 500, Internal),
    /// A transaction operation other than upsert/delete.
    NotSupportedStateOperation => ("ERR_NOT_SUPPORTED_STATE_OPERATION", 400, Unimplemented),
    /// The store lacks the feature the operation needs.
    StateStoreNotSupported => ("ERR_STATE_STORE_NOT_SUPPORTED", 500, Unimplemented),
    /// A transaction exceeds the store's operation limit.
    StateStoreTooManyTransactions => ("ERR_STATE_STORE_TOO_MANY_TRANSACTIONS", 400, InvalidArgument),
    /// A state query failed.
    StateQuery => ("ERR_STATE_QUERY", 500, Internal),
    /// No pub/sub component is configured.
    PubsubNotConfigured => ("ERR_PUBSUB_NOT_CONFIGURED", 400, FailedPrecondition),
    /// The named pub/sub component does not exist.
    PubsubNotFound => ("ERR_PUBSUB_NOT_FOUND", 404, InvalidArgument),
    /// The pub/sub name is empty.
    PubsubEmpty => ("ERR_PUBSUB_EMPTY", 404, InvalidArgument),
    /// The topic name is empty.
    TopicNameEmpty => ("ERR_TOPIC_NAME_EMPTY", 404, InvalidArgument),
    /// Topic scoping forbids the operation.
    PubsubForbidden => ("ERR_PUBSUB_FORBIDDEN", 403, PermissionDenied),
    /// Publishing failed.
    PubsubPublishMessage => ("ERR_PUBSUB_PUBLISH_MESSAGE", 500, Internal),
    /// The transactional outbox could not publish a transaction's events.
    PubsubPublishOutbox => ("ERR_PUBLISH_OUTBOX", 500, Internal),
    /// Bad publish metadata (e.g. `rawPayload`).
    PubsubRequestMetadata => ("ERR_PUBSUB_REQUEST_METADATA", 400, InvalidArgument),
    /// The CloudEvent envelope could not be built.
    PubsubCloudEventsSer => ("ERR_PUBSUB_CLOUD_EVENTS_SER", 500, InvalidArgument),
    /// A bulk publish entry could not be encoded.
    PubsubEventsSer => ("ERR_PUBSUB_EVENTS_SER", 400, InvalidArgument),
    /// An output binding call failed.
    InvokeOutputBinding => ("ERR_INVOKE_OUTPUT_BINDING", 500, Internal),
    /// No secret store is configured.
    SecretStoresNotConfigured => ("ERR_SECRET_STORES_NOT_CONFIGURED", 500, FailedPrecondition),
    /// The named secret store does not exist (Go answers 401 here).
    SecretStoreNotFound => ("ERR_SECRET_STORE_NOT_FOUND", 401, InvalidArgument),
    /// Secret scoping denies access.
    PermissionDenied => ("ERR_PERMISSION_DENIED", 403, PermissionDenied),
    /// Reading a secret failed.
    SecretGet => ("ERR_SECRET_GET", 500, Internal),
    /// No configuration store is configured.
    ConfigurationStoreNotConfigured => ("ERR_CONFIGURATION_STORE_NOT_CONFIGURED", 500, FailedPrecondition),
    /// The named configuration store does not exist.
    ConfigurationStoreNotFound => ("ERR_CONFIGURATION_STORE_NOT_FOUND", 400, InvalidArgument),
    /// Reading configuration failed.
    ConfigurationGet => ("ERR_CONFIGURATION_GET", 500, Internal),
    /// Subscribing to configuration failed.
    ConfigurationSubscribe => ("ERR_CONFIGURATION_SUBSCRIBE", 500, Internal),
    /// Unsubscribing from configuration failed.
    ConfigurationUnsubscribe => ("ERR_CONFIGURATION_UNSUBSCRIBE", 500, Internal),
    /// No lock store is configured.
    LockStoreNotConfigured => ("ERR_LOCK_STORE_NOT_CONFIGURED", 500, FailedPrecondition),
    /// The named lock store does not exist.
    LockStoreNotFound => ("ERR_LOCK_STORE_NOT_FOUND", 400, InvalidArgument),
    /// Acquiring a lock failed.
    TryLock => ("ERR_TRY_LOCK", 500, Internal),
    /// Releasing a lock failed.
    Unlock => ("ERR_UNLOCK", 500, Internal),
    /// Actor state on an actor not active on this sidecar.
    ActorInstanceMissing => ("ERR_ACTOR_INSTANCE_MISSING", 400, Internal),
    /// Invoking an actor method failed.
    ActorInvokeMethod => ("ERR_ACTOR_INVOKE_METHOD", 500, Internal),
    /// No state store has `actorStateStore: "true"`.
    ActorRuntimeNotFound => ("ERR_ACTOR_RUNTIME_NOT_FOUND", 500, Internal),
    /// Reading actor state failed.
    ActorStateGet => ("ERR_ACTOR_STATE_GET", 500, Internal),
    /// An actor state transaction failed.
    ActorStateTransactionSave => ("ERR_ACTOR_STATE_TRANSACTION_SAVE", 500, Internal),
    /// Creating a reminder failed.
    ActorReminderCreate => ("ERR_ACTOR_REMINDER_CREATE", 500, Internal),
    /// Deleting a reminder failed.
    ActorReminderDelete => ("ERR_ACTOR_REMINDER_DELETE", 500, Internal),
    /// Reading a reminder failed.
    ActorReminderGet => ("ERR_ACTOR_REMINDER_GET", 500, Internal),
    /// A reminder operation on an actor type this sidecar does not host.
    ActorReminderNonHosted => ("ERR_ACTOR_REMINDER_NON_HOSTED", 403, PermissionDenied),
    /// The actor API called on a type reserved for the workflow runtime.
    ActorTypeReserved => ("ERR_ACTOR_TYPE_RESERVED", 403, PermissionDenied),
    /// No such reminder.
    ActorReminderNotFound => ("ERR_ACTOR_REMINDER_NOT_FOUND", 404, NotFound),
    /// The reminder exists and `overwrite` is false.
    ActorReminderAlreadyExists => ("ERR_ACTOR_REMINDER_ALREADY_EXISTS", 409, AlreadyExists),
    /// Creating a timer failed.
    ActorTimerCreate => ("ERR_ACTOR_TIMER_CREATE", 500, Internal),
    /// The actor runtime has no app channel.
    ActorNoAppChannel => ("ERR_ACTOR_NO_APP_CHANNEL", 400, Unavailable),
    /// A reentrant call chain went deeper than `maxStackDepth`.
    ActorStackDepth => ("ERR_ACTOR_STACK_DEPTH", 500, ResourceExhausted),
    /// No `--placement-host-address`: the actor runtime is off.
    ActorNoPlacement => ("ERR_ACTOR_NO_PLACEMENT", 400, Unavailable),
    /// The actor runtime is shutting down.
    ActorRuntimeClosed => ("ERR_ACTOR_RUNTIME_CLOSED", 503, Unavailable),
    /// The placement table has no host for the actor type.
    ActorNoAddress => ("ERR_ACTOR_NO_ADDRESS", 404, FailedPrecondition),
    /// The app channel is needed but there is no app.
    AppChannelNil => ("ERR_APP_CHANNEL_NIL", 500, Internal),
    /// A non-Dapr error.
    Generic => ("ERROR", 500, Unknown),
}

/// A failed API call, ready to be rendered by either front end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
    message: Cow<'static, str>,
    http_status: u16,
    grpc_code: GrpcCode,
    /// `google.rpc.ErrorInfo` reason for Dapr's "rich" errors (e.g. `DAPR_STATE_NOT_FOUND`).
    reason: Option<&'static str>,
}

impl ApiError {
    /// An error with the catalogue's default statuses.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            http_status: code.http_status(),
            grpc_code: code.grpc_code(),
            reason: None,
        }
    }

    /// Overrides the HTTP status and gRPC code (e.g. 409/Aborted for an ETag mismatch).
    pub fn with_status(mut self, http_status: u16, grpc_code: GrpcCode) -> Self {
        self.http_status = http_status;
        self.grpc_code = grpc_code;
        self
    }

    /// Marks the error as a "rich" error carrying an `ErrorInfo` reason.
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// The catalogue entry.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        self.http_status
    }

    /// The gRPC code to answer with.
    pub fn grpc_code(&self) -> GrpcCode {
        self.grpc_code
    }

    /// The `ErrorInfo` reason, for rich errors.
    pub fn reason(&self) -> Option<&'static str> {
        self.reason
    }

    /// Dapr's JSON error body: `{"errorCode":"ERR_…","message":"…"}`.
    pub fn to_json(&self) -> Bytes {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            #[serde(rename = "errorCode")]
            error_code: &'static str,
            message: &'a str,
        }
        let body = Body {
            error_code: self.code.tag(),
            message: &self.message,
        };
        // Serialising two strings cannot fail.
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.tag(), self.message)
    }
}

impl std::error::Error for ApiError {}

// === constructors used by several handlers ===

impl ApiError {
    /// `dapr is not ready: [<targets>]`.
    pub fn health_not_ready(targets: &[&str]) -> Self {
        Self::new(
            ErrorCode::HealthNotReady,
            format!("dapr is not ready: [{}]", targets.join(" ")),
        )
    }

    /// The operation is routed but not built in this version of daprd.
    pub fn unimplemented(operation: &str) -> Self {
        Self::new(
            ErrorCode::ApiUnimplemented,
            format!("{operation} is not implemented by this daprd yet"),
        )
    }
}

impl From<ApiError> for Response {
    fn from(err: ApiError) -> Self {
        let status =
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Response::json(status, err.to_json())
    }
}

impl From<Rejection> for ApiError {
    /// A request the connection loop refused, in the catalogue's terms.
    fn from(r: Rejection) -> Self {
        let code = match r {
            Rejection::HeadersTooLarge | Rejection::TooManyHeaders => ErrorCode::HeadersTooLarge,
            Rejection::BodyTooLarge(_) => ErrorCode::BodyTooLarge,
            Rejection::MalformedBody(_) => ErrorCode::BodyRead,
            Rejection::MalformedHead(_) => ErrorCode::BadRequest,
        };
        ApiError::new(code, r.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.tag()), "duplicate tag {}", code.tag());
            assert!(code.tag().starts_with("ERR_") || code.tag() == "ERROR");
        }
    }

    #[test]
    fn go_statuses() {
        assert_eq!(ErrorCode::StateStoreNotFound.http_status(), 400);
        assert_eq!(ErrorCode::StateStoreNotConfigured.http_status(), 500);
        assert_eq!(ErrorCode::SecretStoreNotFound.http_status(), 401);
        assert_eq!(ErrorCode::PubsubNotFound.http_status(), 404);
        assert_eq!(
            ErrorCode::StateStoreNotConfigured.grpc_code(),
            GrpcCode::FailedPrecondition
        );
    }

    #[test]
    fn json_body_escapes() {
        let e = ApiError::new(ErrorCode::MalformedRequest, "bad \"json\"");
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["errorCode"], "ERR_MALFORMED_REQUEST");
        assert_eq!(v["message"], "bad \"json\"");
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    #[test]
    fn overrides_keep_the_code() {
        let e = ApiError::new(ErrorCode::StateSave, "etag mismatch")
            .with_status(409, GrpcCode::Aborted);
        assert_eq!(e.code(), ErrorCode::StateSave);
        assert_eq!(e.http_status(), 409);
        assert_eq!(e.grpc_code(), GrpcCode::Aborted);
    }

    #[test]
    fn error_response_uses_catalogue_status() {
        let r: Response = ApiError::health_not_ready(&["app"]).into();
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.content_type, Some(crate::http::message::APPLICATION_JSON));
    }

    #[test]
    fn rejections_keep_their_status() {
        for r in [
            Rejection::HeadersTooLarge,
            Rejection::TooManyHeaders,
            Rejection::BodyTooLarge(10),
            Rejection::MalformedBody("x"),
            Rejection::MalformedHead("y".into()),
        ] {
            let status = r.status().as_u16();
            assert_eq!(ApiError::from(r).http_status(), status);
        }
    }
}
