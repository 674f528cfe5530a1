//! gRPC adapter for the configuration API (Go: `pkg/api/grpc/grpc.go`):
//! `GetConfiguration`, `SubscribeConfiguration` (server streaming) and
//! `UnsubscribeConfiguration`, each also served under its `Alpha1` name
//! (the JS SDK calls the plain names, the Python SDK the `Alpha1` ones).
//!
//! Errors are Go's "basic" rich errors: the status carries an `ErrorInfo`
//! whose reason is the error code (`ERR_CONFIGURATION_STORE_NOT_FOUND`, …).
//! A failed subscribe is `INVALID_ARGUMENT`, as Go answers it.
//!
//! A subscription stream sends the subscription id first (no items), then
//! one message per change. It ends when the client goes away, when
//! `UnsubscribeConfiguration` names its id (from any worker; the stream
//! then ends with OK), when the store ends the subscription (an HTTP
//! unsubscribe of the same id), or when the worker drains; the store
//! subscription is released in every case. `UnsubscribeConfiguration`
//! knows only streams (Go's compstore), so for any other id it answers OK
//! with `ok: false` and Go's message.

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use http::HeaderMap;
use local_sync::mpsc::bounded;
use prost::Message;

use super::store;
use crate::api::error::ApiError;
use crate::api::Ctx;
use crate::components::configuration::{
    ConfigurationStoreDyn, Items, SubscribeRequest, UpdateEvent, UpdateHandler,
};
use crate::components::state::LocalFuture;
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::{decode, Incoming, Outgoing};
use crate::proto::dapr::proto::common::v1 as common;
use crate::proto::dapr::proto::runtime::v1 as pb;

/// Changes a stream holds while the client is slow to read; beyond that the
/// store waits (back-pressure instead of an unbounded queue).
const STREAM_QUEUE: usize = 64;

/// Go's `apierrors.Basic`: the ErrorInfo reason is the error code.
fn basic(e: ApiError) -> Status {
    let reason = e.code().tag();
    e.with_reason(reason).into()
}

fn items_pb(items: Items) -> HashMap<String, common::ConfigurationItem> {
    items
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                common::ConfigurationItem {
                    value: v.value,
                    version: v.version,
                    metadata: v.metadata.into_iter().collect(),
                },
            )
        })
        .collect()
}

/// `GetConfiguration` / `GetConfigurationAlpha1`.
pub async fn get(ctx: &Ctx, message: &[u8]) -> Result<Bytes, Status> {
    let req: pb::GetConfigurationRequest = decode(message)?;
    let items = super::get(ctx, &req.store_name, req.keys, req.metadata)
        .await
        .map_err(basic)?;
    Ok(Bytes::from(
        pb::GetConfigurationResponse {
            items: items_pb(items),
        }
        .encode_to_vec(),
    ))
}

/// `UnsubscribeConfiguration` / `UnsubscribeConfigurationAlpha1`.
pub fn unsubscribe(ctx: &Ctx, message: &[u8]) -> Result<Bytes, Status> {
    let req: pb::UnsubscribeConfigurationRequest = decode(message)?;
    let resp = if ctx.shared.configuration_streams.stop(&req.id) {
        tracing::warn!("Unsubscribing using UnsubscribeConfiguration is deprecated. Disconnect from the SubscribeConfiguration RPC instead.");
        pb::UnsubscribeConfigurationResponse {
            ok: true,
            message: String::new(),
        }
    } else {
        pb::UnsubscribeConfigurationResponse {
            ok: false,
            message: format!(
                "failed to unsubscribe to configuration request {}: subscription does not exist",
                req.id
            ),
        }
    };
    Ok(Bytes::from(resp.encode_to_vec()))
}

/// Queues a stream's changes for its sender.
struct StreamUpdates {
    tx: bounded::Tx<UpdateEvent>,
}

impl UpdateHandler for StreamUpdates {
    fn update(&self, event: UpdateEvent) -> LocalFuture<'_, ()> {
        Box::pin(async move {
            // The stream may have ended meanwhile; the change has nowhere to go.
            let _ = self.tx.send(event).await;
        })
    }
}

/// What woke the stream.
enum Step {
    Change(Option<UpdateEvent>),
    End(Result<(), Status>),
}

/// Serves one `SubscribeConfiguration` / `SubscribeConfigurationAlpha1` call.
pub async fn subscribe(
    ctx: &Rc<Ctx>,
    method: &str,
    metadata: &HeaderMap,
    incoming: &mut Incoming,
    outgoing: &mut Outgoing,
) -> Result<(), Status> {
    let path = format!("/{}/{method}", crate::proto::DAPR_SERVICE);
    crate::api::grpc::precheck(ctx, &path, metadata)?;
    let req: pb::SubscribeConfigurationRequest = decode(&incoming.unary().await?)?;
    let s = store(ctx, &req.store_name).map_err(basic)?;
    let mut keys = req.keys;
    keys.sort();
    let (tx, mut changes) = bounded::channel(STREAM_QUEUE);
    let sub = SubscribeRequest {
        keys: keys.clone(),
        metadata: req.metadata,
        drain: ctx.drain.clone(),
    };
    let id = super::subscribe_store(
        ctx,
        &req.store_name,
        &*s,
        sub,
        Rc::new(StreamUpdates { tx }),
    )
    .await
    .map_err(|e| {
        let e = super::subscribe_error(&keys, &req.store_name, &e)
            .with_status(500, GrpcCode::InvalidArgument);
        tracing::debug!("{e}");
        basic(e)
    })?;
    let stop = ctx.shared.configuration_streams.add(&id);
    // Released however the call ends, dropped mid-way (a deadline) included.
    let _release = Release {
        ctx,
        store: s.clone(),
        store_name: &req.store_name,
        id: id.clone(),
    };
    let result = async {
        outgoing
            .send_message(&pb::SubscribeConfigurationResponse {
                id: id.clone(),
                items: HashMap::new(),
            })
            .await?;
        loop {
            let step = monoio::select! {
                c = changes.recv() => Step::Change(c),
                _ = stop.wait() => Step::End(Ok(())),
                _ = outgoing.closed() => Step::End(Err(Status::new(
                    GrpcCode::Cancelled,
                    "the client closed the stream",
                ))),
                _ = ctx.drain.closing() => Step::End(Err(Status::new(
                    GrpcCode::Unavailable,
                    "daprd is shutting down",
                ))),
            };
            match step {
                Step::Change(Some(event)) => {
                    outgoing
                        .send_message(&pb::SubscribeConfigurationResponse {
                            id: event.id,
                            items: items_pb(event.items),
                        })
                        .await?;
                }
                // The store ended the subscription (unsubscribed by id over HTTP).
                Step::Change(None) => return Ok(()),
                Step::End(r) => return r,
            }
        }
    }
    .await;
    tracing::debug!(id = %id, "configuration subscription stream ended");
    result
}

/// Ends a stream's store subscription and forgets its id when dropped.
struct Release<'a> {
    ctx: &'a Ctx,
    store: Rc<dyn ConfigurationStoreDyn>,
    store_name: &'a str,
    id: String,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.ctx.shared.configuration_streams.remove(&self.id);
        // Already gone when it was unsubscribed by id over HTTP.
        let _ = super::unsubscribe_store(self.ctx, self.store_name, &*self.store, &self.id);
    }
}
