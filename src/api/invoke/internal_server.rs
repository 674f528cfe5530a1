//! The internal gRPC server (`--dapr-internal-grpc-port`): what other
//! sidecars call, Go daprd's "internal server" (`pkg/api/grpc/server.go`,
//! `NewInternalServer`).
//!
//! It serves `dapr.proto.internals.v1.ServiceInvocation` only — never the
//! public `Dapr` API — and, as Go without mTLS, takes no API token:
//!
//! - `CallLocal` (unary): one `InternalInvokeRequest` in, the app's whole
//!   answer as one `InternalInvokeResponse` out;
//! - `CallLocalStream` (bidi): the request head, then the body in
//!   sequence-numbered chunks as the caller sends them, handed to the app
//!   as they arrive; the answer streams back the same way (see
//!   [`crate::api::invoke::wire`]);
//! - `CallActor`, `CallActorReminder`: calls of actors placed here
//!   ([`crate::api::actors`]); `CallActorStream`: `UNIMPLEMENTED` (workflows
//!   are not built);
//! - any other service carrying `dapr-callee-app-id` / `dapr-app-id` for
//!   this sidecar's app: a transparent gRPC proxy call relayed to the app
//!   ([`super::proxy::proxy_internal`]).

use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use prost::Message;

use super::internal::{self, ReplyBody};
use super::wire;
use crate::api::Ctx;
use crate::grpc::server::{self, Status};
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::{self, Incoming, Outgoing};
use crate::http::body::{BodySender, BodyStream, StreamError};
use crate::http::client::OutBody;
use crate::http::h2::StreamHandler;
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::internals::v1 as internals;

/// The internal service for the h2 loop.
pub struct InternalApi {
    ctx: Rc<Ctx>,
    max_message: usize,
}

impl InternalApi {
    /// The internal service on this worker; messages up to `max_message`
    /// bytes (`--max-body-size`, as Go's server).
    pub fn new(ctx: Rc<Ctx>, max_message: usize) -> Self {
        // A chunk message carries framing around the body bytes.
        Self {
            ctx,
            max_message: max_message.saturating_add(1024),
        }
    }
}

impl StreamHandler for InternalApi {
    async fn handle(&self, req: http::Request<RecvStream>, mut respond: SendResponse<Bytes>) {
        let started = Instant::now();
        let path = req.uri().path().to_owned();
        let ours = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .is_some_and(|(service, _)| service == wire::SERVICE);
        if !ours && super::proxy::wanted(&path, req.headers()) {
            // Go's internal server meters a proxied call with its *client*
            // stream interceptor (`StreamClientRequestSent`: count and
            // latency, no bytes, no server series), and only when the call
            // carries `dapr-app-id` (which Go ≥ 1.16 callers strip).
            let metered = req.headers().contains_key(crate::api::APP_ID_HEADER);
            let code = super::proxy::proxy_internal(&self.ctx, req, respond).await;
            let latency = started.elapsed();
            if metered {
                self.ctx
                    .metrics
                    .record_app_grpc_proxied(&path, code.go_name(), latency);
            }
            self.ctx.metrics.record_served(latency);
            return;
        }
        let (parts, body) = req.into_parts();
        let Some((deadline, gzip)) = server::call_head(&parts.headers, &mut respond) else {
            return;
        };
        let incoming = Incoming::new(body, self.max_message, gzip);
        let mut outgoing = Outgoing::new(respond);
        let work = async {
            match path.as_str() {
                wire::CALL_LOCAL => call_local(&self.ctx, incoming, &mut outgoing).await,
                wire::CALL_LOCAL_STREAM => {
                    call_local_stream(&self.ctx, incoming, &mut outgoing).await
                }
                crate::api::actors::placement::CALL_ACTOR => {
                    call_actor(&self.ctx, incoming, &mut outgoing).await
                }
                crate::api::actors::placement::CALL_ACTOR_REMINDER => {
                    call_actor_reminder(&self.ctx, incoming, &mut outgoing).await
                }
                _ => Err(unknown(&path)),
            }
        };
        let result = server::with_deadline(deadline, std::pin::pin!(work)).await;
        let code = result.as_ref().err().map_or(GrpcCode::Ok, |s| s.code);
        let sent = outgoing.sent();
        outgoing.finish(result.as_ref().map(|_| ()));
        self.ctx
            .metrics
            .record_grpc(&path, code.go_name(), started.elapsed(), 0, sent);
    }
}

/// `UNIMPLEMENTED` for what this server does not serve (grpc-go's words
/// for unknown services and methods).
fn unknown(path: &str) -> Status {
    let (service, method) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .unwrap_or((path, ""));
    if service != wire::SERVICE {
        return Status::new(
            GrpcCode::Unimplemented,
            format!("unknown service {service}"),
        );
    }
    match method {
        "CallActorStream" => Status::new(
            GrpcCode::Unimplemented,
            format!("method {method} is not implemented: streamed actor calls (workflows) are not supported by this daprd yet"),
        ),
        _ => Status::new(
            GrpcCode::Unimplemented,
            format!("unknown method {method} for service {service}"),
        ),
    }
}

fn invalid(reason: &str) -> Status {
    Status::new(
        GrpcCode::InvalidArgument,
        format!("parsing InternalInvokeRequest error: {reason}"),
    )
}

/// The status code of a reply, for metrics.
fn reply_code(head: &internals::InternalInvokeResponse) -> i32 {
    head.status.as_ref().map_or(0, |s| s.code)
}

/// `CallLocal`: one request with its data, one response with its data.
async fn call_local(
    ctx: &Rc<Ctx>,
    mut incoming: Incoming,
    out: &mut Outgoing,
) -> Result<(), Status> {
    let bytes = incoming.unary().await?;
    let mut req: internals::InternalInvokeRequest = stream::decode(&bytes)?;
    let Some(message) = req.message.as_mut() else {
        return Err(invalid("field Message is nil"));
    };
    let data = message
        .data
        .as_mut()
        .map_or_else(Bytes::new, |d| Bytes::from(std::mem::take(&mut d.value)));
    let caller = internal::caller_of(&req);
    ctx.metrics.record_invocation_received(&caller);
    let result = match internal::call_app(ctx, req, OutBody::Full(data)).await {
        Ok(reply) => reply.into_unary(ctx.shared.opts.max_body_size).await,
        Err(e) => Err(e),
    };
    let code = match &result {
        Ok(head) => reply_code(head),
        Err(_) => i32::from(GrpcCode::Internal.as_u8()),
    };
    ctx.metrics.record_invocation_answered(&caller, code);
    out.send(&result?.encode_to_vec()).await?;
    Ok(())
}

/// `CallActor`: another sidecar's call of an actor it believes is ours
/// (Go's `daprinternal.go`): routed with `X-Dapr-Remote` so that an actor
/// that moved on is refused ("remote actor moved") rather than bounced; an
/// actor error's answer comes back as the response, not as an error.
async fn call_actor(
    ctx: &Rc<Ctx>,
    mut incoming: Incoming,
    out: &mut Outgoing,
) -> Result<(), Status> {
    use crate::api::actors::{self, CallFailure};
    let bytes = incoming.unary().await?;
    let mut req: internals::InternalInvokeRequest = stream::decode(&bytes)?;
    let data = req
        .message
        .as_mut()
        .and_then(|m| m.data.take())
        .map(|d| Bytes::from(d.value))
        .unwrap_or_default();
    wire::set(&mut req.metadata, actors::REMOTE_HEADER, "true");
    let answer = match actors::call(ctx, req, data).await {
        Ok(a) => a,
        Err(CallFailure::Actor(a)) => *a,
        Err(CallFailure::Api(e)) => return Err(e.into()),
        Err(e) => {
            return Err(Status::new(
                GrpcCode::Internal,
                format!("error invoke actor method: {}", e.text()),
            ))
        }
    };
    let mut head = answer.head;
    let message = head.message.get_or_insert_with(Default::default);
    message.data = Some(prost_types::Any {
        type_url: String::new(),
        value: answer.data.to_vec(),
    });
    out.send(&head.encode_to_vec()).await?;
    Ok(())
}

/// `CallActorReminder`: a timer or reminder for an actor placed here.
async fn call_actor_reminder(
    ctx: &Rc<Ctx>,
    mut incoming: Incoming,
    out: &mut Outgoing,
) -> Result<(), Status> {
    let bytes = incoming.unary().await?;
    let reminder: internals::Reminder = stream::decode(&bytes)?;
    crate::api::actors::call_reminder(ctx, &reminder, None, true)
        .await
        .map_err(|e| Status::new(GrpcCode::Internal, e.text()))?;
    out.send(&[]).await?;
    Ok(())
}

/// `CallLocalStream`: the request head, the body as it arrives; the
/// response head, then the body in chunks.
async fn call_local_stream(
    ctx: &Rc<Ctx>,
    mut incoming: Incoming,
    out: &mut Outgoing,
) -> Result<(), Status> {
    let first: internals::InternalInvokeRequestStream =
        incoming.decode().await?.ok_or_else(|| {
            invalid("request does not contain the required fields in the leading chunk")
        })?;
    let Some(req) = first.request.filter(|r| r.message.is_some()) else {
        return Err(invalid(
            "request does not contain the required fields in the leading chunk",
        ));
    };
    let caller = internal::caller_of(&req);
    let len = internal::content_length(&req);
    let (tx, body) = BodyStream::channel(len);
    monoio::spawn(pump_request(incoming, first.payload, tx, len));
    ctx.metrics.record_invocation_received(&caller);
    let reply = match internal::call_app(ctx, req, OutBody::Stream(body)).await {
        Ok(r) => r,
        Err(e) => {
            ctx.metrics
                .record_invocation_answered(&caller, i32::from(GrpcCode::Internal.as_u8()));
            return Err(e);
        }
    };
    ctx.metrics
        .record_invocation_answered(&caller, reply_code(&reply.head));
    let head = internals::InternalInvokeResponseStream {
        response: Some(reply.head),
        payload: None,
    };
    out.send(&head.encode_to_vec()).await?;
    let mut seq = 0u64;
    let mut send = |data: Bytes| {
        let m = internals::InternalInvokeResponseStream {
            response: None,
            payload: Some(common::StreamPayload {
                data: data.to_vec(),
                seq,
            }),
        };
        seq += 1;
        m.encode_to_vec()
    };
    match reply.body {
        ReplyBody::Full(b) => {
            for c in wire::chunks(b) {
                out.send(&send(c)).await?;
            }
        }
        ReplyBody::Stream(mut s) => {
            while let Some(chunk) = s.next().await {
                let chunk = chunk.map_err(|e| {
                    Status::new(
                        GrpcCode::Internal,
                        format!("error reading the app's response: {e}"),
                    )
                })?;
                for c in wire::chunks(chunk) {
                    out.send(&send(c)).await?;
                }
            }
        }
    }
    Ok(())
}

/// Feeds the request chunks after the head into the app's body stream,
/// checking sequence numbers and the declared length.
async fn pump_request(
    mut incoming: Incoming,
    mut next: Option<common::StreamPayload>,
    tx: BodySender,
    len: Option<u64>,
) {
    let (mut want_seq, mut total) = (0u64, 0u64);
    loop {
        if let Some(p) = next.take() {
            if let Err(e) = wire::check_seq(p.seq, &mut want_seq) {
                tracing::debug!(error = %e, "CallLocalStream request");
                let _ = tx.send(Err(StreamError::Malformed)).await;
                return;
            }
            total += p.data.len() as u64;
            if len.is_some_and(|n| total > n) {
                let _ = tx.send(Err(StreamError::Malformed)).await;
                return;
            }
            if !p.data.is_empty() && tx.send(Ok(Bytes::from(p.data))).await.is_err() {
                return;
            }
        }
        match incoming
            .decode::<internals::InternalInvokeRequestStream>()
            .await
        {
            Ok(Some(m)) if m.request.is_some() => {
                tracing::debug!("request metadata found in non-leading chunk");
                let _ = tx.send(Err(StreamError::Malformed)).await;
                return;
            }
            Ok(Some(m)) => next = m.payload,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(error = %e.message, "CallLocalStream request");
                let _ = tx.send(Err(StreamError::Closed)).await;
                return;
            }
        }
    }
    if len.is_some_and(|n| total != n) {
        let _ = tx.send(Err(StreamError::Closed)).await;
    }
}
