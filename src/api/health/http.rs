//! HTTP adapter for the health endpoints.

use crate::api::Ctx;
use crate::http::message::{Request, Response};

/// `GET /v1.0/healthz[?appid=<id>]` → 204 or 500.
pub fn healthz(ctx: &Ctx, req: &Request) -> Response {
    let appid = req.query_values("appid").next();
    match super::check(ctx, appid.as_deref()) {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}

/// `GET /v1.0/healthz/outbound` → 204 or 500.
pub fn outbound(ctx: &Ctx) -> Response {
    match super::check_outbound(ctx) {
        Ok(()) => Response::no_content(),
        Err(e) => e.into(),
    }
}
