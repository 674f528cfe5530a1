//! The checks every message of a `ReportDaprStatus` stream passes (Go's
//! `pkg/placement/internal/authorizer`, without mTLS: there is no SPIFFE
//! identity to compare the app id and namespace with).
//!
//! A message that fails ends its stream with the status returned here.

use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::proto::dapr::proto::placement::v1::{Host, HostOperation};

/// Checks one message from a sidecar.
pub fn authorize(host: &Host) -> Result<(), Status> {
    if host.operation == HostOperation::Unknown as i32 && host.version.is_some() {
        return Err(Status::new(
            GrpcCode::InvalidArgument,
            "both operation and version must be set or both must be unset",
        ));
    }
    if host.id.is_empty() || host.namespace.is_empty() {
        return Err(Status::new(
            GrpcCode::InvalidArgument,
            "host ID and namespace must be provided",
        ));
    }
    actor_types(host)
}

/// Internal actor types (`dapr.internal.*`) belong to one app: they must be
/// `dapr.internal.<namespace>.<app id>.*`.
fn actor_types(host: &Host) -> Result<(), Status> {
    for entity in &host.entities {
        let parts: Vec<&str> = entity.split('.').collect();
        let internal = parts.len() >= 2 && parts[0] == "dapr" && parts[1] == "internal";
        if internal && (parts.len() < 4 || parts[2] != host.namespace || parts[3] != host.id) {
            return Err(Status::new(
                GrpcCode::PermissionDenied,
                format!(
                    "entity {entity} is not allowed for app ID {} in namespace {}",
                    host.id, host.namespace
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(entities: &[&str]) -> Host {
        Host {
            id: "app".into(),
            namespace: "ns".into(),
            entities: entities.iter().map(|e| (*e).to_owned()).collect(),
            operation: HostOperation::Report as i32,
            ..Host::default()
        }
    }

    fn code(h: &Host) -> Option<GrpcCode> {
        authorize(h).err().map(|s| s.code)
    }

    #[test]
    fn ids_and_versions() {
        assert_eq!(code(&host(&["A"])), None);
        let mut h = host(&[]);
        h.operation = HostOperation::Unknown as i32;
        assert_eq!(code(&h), None, "1.16 heartbeat");
        h.version = Some(0);
        assert_eq!(code(&h), Some(GrpcCode::InvalidArgument));
        let mut h = host(&[]);
        h.version = Some(3);
        assert_eq!(code(&h), None, "REPORT with a version is allowed");
        let mut h = host(&[]);
        h.id.clear();
        assert_eq!(code(&h), Some(GrpcCode::InvalidArgument));
        let mut h = host(&[]);
        h.namespace.clear();
        assert_eq!(code(&h), Some(GrpcCode::InvalidArgument));
    }

    #[test]
    fn internal_actor_types_belong_to_their_app() {
        assert_eq!(code(&host(&["dapr.internal.ns.app.workflow"])), None);
        assert_eq!(code(&host(&["dapr.internal.ns.app"])), None);
        assert_eq!(code(&host(&["dapr.internalx.other"])), None);
        assert_eq!(code(&host(&["dapr"])), None);
        for bad in [
            "dapr.internal.other.app.workflow",
            "dapr.internal.ns.other.workflow",
            "dapr.internal.ns",
            "dapr.internal",
        ] {
            assert_eq!(
                code(&host(&["A", bad])),
                Some(GrpcCode::PermissionDenied),
                "{bad}"
            );
        }
        let msg = authorize(&host(&["dapr.internal.x.y.z"]))
            .unwrap_err()
            .message;
        assert_eq!(
            msg,
            "entity dapr.internal.x.y.z is not allowed for app ID app in namespace ns"
        );
    }
}
