//! The shutdown API: `POST /v1.0/shutdown` (and gRPC `Shutdown`).

use super::Ctx;

/// Starts a graceful shutdown; the response goes out before the drain begins
/// because the trigger only flips a flag and wakes the workers.
pub fn shutdown(ctx: &Ctx) {
    tracing::info!("shutdown requested through the API");
    ctx.shared.shutdown.trigger();
}

/// gRPC adapter.
pub mod grpc {
    use bytes::Bytes;

    use crate::api::Ctx;
    use crate::grpc::server::Reply;

    /// `Shutdown` → empty reply; the drain starts after it is sent.
    pub fn shutdown(ctx: &Ctx) -> Reply {
        super::shutdown(ctx);
        Ok(Bytes::new())
    }
}

/// HTTP adapter.
pub mod http {
    use crate::api::Ctx;
    use crate::http::message::{Request, Response};

    /// `POST /v1.0/shutdown` → 204. `dapr-force-shutdown: true` exits(1) after 100 ms, as Go.
    pub fn shutdown(ctx: &Ctx, req: &Request) -> Response {
        if req
            .header_str("dapr-force-shutdown")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            tracing::warn!("forced shutdown requested through the API");
            std::thread::spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                std::process::exit(1);
            });
        } else {
            super::shutdown(ctx);
        }
        Response::no_content()
    }
}
