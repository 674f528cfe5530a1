//! Health: `GET /v1.0/healthz` and `GET /v1.0/healthz/outbound`.
//!
//! The logic is readiness lookups on [`readiness`]; the
//! HTTP adapter maps them to 204 or Dapr's error bodies.

pub mod http;
pub mod readiness;

use super::error::{ApiError, ErrorCode};
use super::Ctx;

/// `/v1.0/healthz`: ready, or why not. `appid` is the optional `?appid=` check.
pub fn check(ctx: &Ctx, appid: Option<&str>) -> Result<(), ApiError> {
    if let Some(id) = appid {
        if id != ctx.shared.opts.app_id {
            return Err(ApiError::new(
                ErrorCode::HealthAppIdNotMatch,
                "dapr app-id does not match",
            ));
        }
    }
    let readiness = &ctx.shared.readiness;
    let placement = ctx.shared.actors.placement_ready();
    if readiness.ready() && placement {
        Ok(())
    } else {
        let mut pending = readiness.pending_targets();
        if !placement {
            pending.push("internal-placement-service");
        }
        Err(ApiError::health_not_ready(&pending))
    }
}

/// `/v1.0/healthz/outbound`: the APIs are up (the app need not be).
pub fn check_outbound(ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.shared.readiness.outbound_ready() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::OutboundHealthNotReady,
            "dapr outbound is not ready",
        ))
    }
}
