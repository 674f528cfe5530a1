//! gRPC status codes.
//!
//! The canonical code table lives here so that both the error catalogue
//! (`api::error`) and the gRPC front end speak the same type. Names are the
//! ones the OpenCensus gRPC plugin uses as metric labels (`OK`, `NOT_FOUND`, …).

/// A canonical gRPC status code (`google.rpc.Code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GrpcCode {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// Unknown error.
    Unknown = 2,
    /// The client specified an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// Some requested entity was not found.
    NotFound = 5,
    /// The entity a client attempted to create already exists.
    AlreadyExists = 6,
    /// The caller does not have permission.
    PermissionDenied = 7,
    /// Some resource has been exhausted.
    ResourceExhausted = 8,
    /// The system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// The operation was aborted (e.g. a concurrency conflict).
    Aborted = 10,
    /// The operation was attempted past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or supported.
    Unimplemented = 12,
    /// Internal error.
    Internal = 13,
    /// The service is currently unavailable.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request lacks valid authentication credentials.
    Unauthenticated = 16,
}

impl GrpcCode {
    /// Every code, by number.
    const ALL: [GrpcCode; 17] = [
        Self::Ok,
        Self::Cancelled,
        Self::Unknown,
        Self::InvalidArgument,
        Self::DeadlineExceeded,
        Self::NotFound,
        Self::AlreadyExists,
        Self::PermissionDenied,
        Self::ResourceExhausted,
        Self::FailedPrecondition,
        Self::Aborted,
        Self::OutOfRange,
        Self::Unimplemented,
        Self::Internal,
        Self::Unavailable,
        Self::DataLoss,
        Self::Unauthenticated,
    ];

    /// The code a peer's `grpc-status` names (out of range: `UNKNOWN`, as grpc-go).
    pub fn from_number(n: u32) -> GrpcCode {
        Self::ALL.get(n as usize).copied().unwrap_or(Self::Unknown)
    }

    /// The numeric value sent in the `grpc-status` trailer.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The upper-snake-case name used in metric labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Cancelled => "CANCELLED",
            Self::Unknown => "UNKNOWN",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::Aborted => "ABORTED",
            Self::OutOfRange => "OUT_OF_RANGE",
            Self::Unimplemented => "UNIMPLEMENTED",
            Self::Internal => "INTERNAL",
            Self::Unavailable => "UNAVAILABLE",
            Self::DataLoss => "DATA_LOSS",
            Self::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// grpc-go's `codes.Code.String()` (`Canceled`, `InvalidArgument`, …):
    /// what Go daprd puts in metric labels such as `grpc_client_status`, and
    /// in its `rpc error: code = … desc = …` messages.
    pub const fn go_name(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Cancelled => "Canceled",
            Self::Unknown => "Unknown",
            Self::InvalidArgument => "InvalidArgument",
            Self::DeadlineExceeded => "DeadlineExceeded",
            Self::NotFound => "NotFound",
            Self::AlreadyExists => "AlreadyExists",
            Self::PermissionDenied => "PermissionDenied",
            Self::ResourceExhausted => "ResourceExhausted",
            Self::FailedPrecondition => "FailedPrecondition",
            Self::Aborted => "Aborted",
            Self::OutOfRange => "OutOfRange",
            Self::Unimplemented => "Unimplemented",
            Self::Internal => "Internal",
            Self::Unavailable => "Unavailable",
            Self::DataLoss => "DataLoss",
            Self::Unauthenticated => "Unauthenticated",
        }
    }

    /// The HTTP status Dapr reports for a gRPC code (`pkg/messaging/v1/util.go`).
    pub const fn to_http(self) -> u16 {
        match self {
            Self::Ok => 200,
            Self::Cancelled => 408,
            Self::Unknown | Self::Internal | Self::DataLoss => 500,
            Self::InvalidArgument | Self::FailedPrecondition | Self::OutOfRange => 400,
            Self::DeadlineExceeded => 504,
            Self::NotFound => 404,
            Self::AlreadyExists | Self::Aborted => 409,
            Self::PermissionDenied => 403,
            Self::Unauthenticated => 401,
            Self::ResourceExhausted => 429,
            Self::Unimplemented => 501,
            Self::Unavailable => 503,
        }
    }
}

/// A peer's `grpc-status` and percent-decoded `grpc-message` in a head or
/// trailers; `None` when there is no (numeric) status.
pub fn peer_status(h: &http::HeaderMap) -> Option<(GrpcCode, String)> {
    let code: u32 = h.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
    let message = h
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(|m| {
            percent_encoding::percent_decode_str(m)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    Some((GrpcCode::from_number(code), message))
}

#[cfg(test)]
mod tests {
    use super::GrpcCode;

    #[test]
    fn numbers_and_names_match_the_spec() {
        assert_eq!(GrpcCode::Ok.as_u8(), 0);
        assert_eq!(GrpcCode::Unauthenticated.as_u8(), 16);
        assert_eq!(GrpcCode::FailedPrecondition.name(), "FAILED_PRECONDITION");
        assert_eq!(GrpcCode::Cancelled.go_name(), "Canceled");
        assert_eq!(GrpcCode::FailedPrecondition.go_name(), "FailedPrecondition");
        assert_eq!(GrpcCode::Aborted.to_http(), 409);
        assert_eq!(GrpcCode::ResourceExhausted.to_http(), 429);
    }

    /// The grpc-go names metrics label calls with (moved from `metrics`).
    #[test]
    fn go_names_as_metrics_labels() {
        use crate::metrics::names::{GRPC_STATUS_DEADLINE_EXCEEDED, GRPC_STATUS_OK};
        assert_eq!(GrpcCode::Cancelled.go_name(), "Canceled");
        assert_eq!(GrpcCode::InvalidArgument.go_name(), "InvalidArgument");
        assert_eq!(GrpcCode::Ok.go_name(), "OK");
        assert_eq!(GrpcCode::Ok.go_name(), GRPC_STATUS_OK);
        assert_eq!(
            GrpcCode::DeadlineExceeded.go_name(),
            GRPC_STATUS_DEADLINE_EXCEEDED
        );
    }
}
