//! Transparent gRPC proxying: a call to any service other than Dapr's own,
//! carrying `dapr-app-id` metadata, is relayed to that app's gRPC server
//! as it is — headers, every message in both directions as it arrives
//! (unary and streaming alike; frames are not parsed), and the trailers —
//! with h2 flow control end to end, so a slow side holds the other back.
//!
//! The target is named by `dapr-callee-app-id` (preferred) or `dapr-app-id`,
//! as in Go. This sidecar's own app must speak gRPC (`--app-protocol
//! grpc`); the API token applies as for every API call, and
//! `APP_API_TOKEN` replaces it toward the app. Another app's call goes to
//! its sidecar's internal gRPC port on the original method path, with
//! `dapr-caller-app-id` and `dapr-callee-app-id` added (Go:
//! `pkg/messaging/grpc_proxy.go`); that sidecar ([`proxy_internal`], no API
//! token) relays it to its app the same way.
//!
//! As in Go ≥ 1.16 (`pkg/api/grpc/proxy/handler.go`), every hop drops
//! `dapr-app-id` from what it forwards: the target app never sees it, and
//! the callee's sidecar finds the target by `dapr-callee-app-id`.

use std::rc::Rc;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderMap, HeaderValue};

use super::Target;
use crate::api::{Ctx, API_TOKEN_HEADER, APP_ID_HEADER};
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::status_fields;
use crate::http::client::strip_hop_by_hop;
use crate::http::h2::{next_chunk, send_data};

/// Whether a call on `path` with `headers` is to be proxied.
pub fn wanted(path: &str, headers: &HeaderMap) -> bool {
    (headers.contains_key(APP_ID_HEADER) || headers.contains_key(CALLEE_HEADER))
        && !path.starts_with(&format!("/{}/", crate::proto::DAPR_SERVICE))
}

/// `dapr-callee-app-id`, which names the target before `dapr-app-id`.
const CALLEE_HEADER: &str = "dapr-callee-app-id";

/// The target app of a proxied call (Go: callee id first, then app id).
fn target_of(headers: &HeaderMap) -> String {
    headers
        .get(CALLEE_HEADER)
        .or_else(|| headers.get(APP_ID_HEADER))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Answers `status` as a trailers-only response.
fn refuse(respond: &mut SendResponse<Bytes>, status: &Status) -> GrpcCode {
    let mut head = http::Response::new(());
    head.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    status_fields(head.headers_mut(), Some(status));
    let _ = respond.send_response(head, true);
    status.code
}

/// Relays one call; returns the status the caller saw (for metrics).
pub async fn proxy(
    ctx: &Rc<Ctx>,
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) -> GrpcCode {
    let (head, body) = req.into_parts();
    if let Err(s) = crate::api::grpc::check_token(ctx, &head.headers) {
        return refuse(&mut respond, &s);
    }
    let target = target_of(&head.headers);
    if target.is_empty() {
        let s = Status::new(GrpcCode::Unknown, "failed to proxy request: required metadata dapr-callee-app-id or dapr-app-id not found");
        return refuse(&mut respond, &s);
    }
    match super::resolve_target(ctx, &target) {
        Ok(Target::Local(id)) => {
            let id = id.to_owned();
            to_app(ctx, &id, head, body, respond).await
        }
        Ok(Target::Remote(remote)) => {
            let started = std::time::Instant::now();
            let (response, upstream) = match super::remote::open_proxy(ctx, &remote, head).await {
                Ok(s) => s,
                Err(e) => return refuse(&mut respond, &Status::new(GrpcCode::Unavailable, e)),
            };
            let code = relay(body, upstream, response, respond).await;
            ctx.metrics.record_invocation_response(
                &remote.id,
                i32::from(code.as_u8()),
                "streaming",
                started.elapsed(),
            );
            code
        }
        Err(e) => refuse(
            &mut respond,
            &Status::new(GrpcCode::Unavailable, e.message()),
        ),
    }
}

/// A proxied call arriving on the internal gRPC port from another sidecar:
/// relayed to this sidecar's app (no API token; the target must be ours).
pub async fn proxy_internal(
    ctx: &Rc<Ctx>,
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) -> GrpcCode {
    let (head, body) = req.into_parts();
    let target = target_of(&head.headers);
    if target != ctx.shared.opts.app_id {
        let s = Status::new(
            GrpcCode::Unavailable,
            format!("failed to proxy request: app {target} is not served by this sidecar"),
        );
        return refuse(&mut respond, &s);
    }
    let caller = head
        .headers
        .get(super::CALLER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_owned();
    ctx.metrics.record_invocation_received(&caller);
    let code = to_app(ctx, &target, head, body, respond).await;
    ctx.metrics
        .record_invocation_answered(&caller, i32::from(code.as_u8()));
    code
}

/// Relays a call to this sidecar's gRPC app.
async fn to_app(
    ctx: &Rc<Ctx>,
    id: &str,
    mut head: http::request::Parts,
    body: RecvStream,
    mut respond: SendResponse<Bytes>,
) -> GrpcCode {
    let Some(app) = ctx.app.as_ref().and_then(crate::channel::AppChannel::grpc) else {
        let s = Status::new(
            GrpcCode::Unavailable,
            format!("failed to proxy request: app {id} does not serve gRPC (--app-protocol grpc)"),
        );
        return refuse(&mut respond, &s);
    };
    // No app-health gate: Go's proxy relays to the app whatever its health.

    // Toward the app: the caller's metadata minus transport and Dapr's own headers.
    strip_hop_by_hop(&mut head.headers);
    head.headers.remove(API_TOKEN_HEADER);
    head.headers.remove(APP_ID_HEADER);
    crate::channel::add_app_token(&mut head.headers, &ctx.shared.opts);
    let path = head
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    head.uri = match format!("http://{}{path}", app.authority()).parse() {
        Ok(u) => u,
        Err(_) => return refuse(&mut respond, &Status::new(GrpcCode::Internal, "bad path")),
    };
    let (response, upstream) = match app.open_stream(head).await {
        Ok(s) => s,
        Err(e) => {
            return refuse(
                &mut respond,
                &Status::new(GrpcCode::Unavailable, e.to_string()),
            )
        }
    };
    relay(body, upstream, response, respond).await
}

/// Relays the caller's messages to `upstream` while relaying the answer
/// (`response`) back to the caller; returns the status the caller saw.
async fn relay(
    mut body: RecvStream,
    mut upstream: h2::SendStream<Bytes>,
    response: h2::client::ResponseFuture,
    mut respond: SendResponse<Bytes>,
) -> GrpcCode {
    // Caller → target, concurrently with target → caller.
    let up = async move {
        while let Some(chunk) = next_chunk(&mut body).await {
            let Ok(chunk) = chunk else {
                upstream.send_reset(h2::Reason::CANCEL);
                return;
            };
            if send_data(&mut upstream, chunk).await.is_err() {
                return;
            }
        }
        match body.trailers().await {
            Ok(Some(t)) => {
                let _ = upstream.send_trailers(t);
            }
            _ => {
                let _ = upstream.send_data(Bytes::new(), true);
            }
        }
    };
    let down = async move {
        let response = match response.await {
            Ok(r) => r,
            Err(e) => {
                let s = Status::new(GrpcCode::Unavailable, format!("app stream: {e}"));
                return refuse(&mut respond, &s);
            }
        };
        let (parts, mut from_app) = response.into_parts();
        let trailers_only = from_app.is_end_stream();
        let code_in = |h: &HeaderMap| {
            h.get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u32>().ok())
                .map_or(GrpcCode::Unknown, GrpcCode::from_number)
        };
        let head_code = code_in(&parts.headers);
        let Ok(mut out) =
            respond.send_response(http::Response::from_parts(parts, ()), trailers_only)
        else {
            return GrpcCode::Cancelled;
        };
        if trailers_only {
            return head_code;
        }
        while let Some(chunk) = next_chunk(&mut from_app).await {
            let Ok(chunk) = chunk else {
                out.send_reset(h2::Reason::CANCEL);
                return GrpcCode::Unavailable;
            };
            if send_data(&mut out, chunk).await.is_err() {
                return GrpcCode::Cancelled;
            }
        }
        match from_app.trailers().await {
            Ok(Some(t)) => {
                let code = code_in(&t);
                let _ = out.send_trailers(t);
                code
            }
            _ => {
                out.send_reset(h2::Reason::CANCEL);
                GrpcCode::Unavailable
            }
        }
    };
    let ((), code) = monoio::join!(up, down);
    code
}
