//! Streaming subscriptions: gRPC `SubscribeTopicEventsAlpha1`.
//!
//! The client opens a bidi stream with an initial request (pubsub, topic,
//! metadata, dead-letter topic) and gets an initial response once the
//! subscription is live; events then flow down the stream as
//! `TopicEventRequest`s and the client answers each with its id and a
//! status (SUCCESS, RETRY, DROP), read as the app's answer is for HTTP
//! subscriptions (retries, dead letters). The subscription lives as long as
//! the stream, on the worker holding it: a networked broker consumes here; the
//! in-memory broker forwards every worker's publishes here. The metadata API
//! lists it as `STREAMING` meanwhile. Several streams may subscribe to the
//! same topic, as in Go.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::deliver::{Deliverer, StreamEvent, Target, Verdict};
use super::rules::Rule;
use super::{Kind, Subscription};
use crate::api::Ctx;
use crate::components::pubsub::{Scope, SubscribeRequest};
use crate::grpc::server::Status;
use crate::grpc::status::GrpcCode;
use crate::grpc::stream::{Incoming, Outgoing};
use crate::net::shutdown::Drain;
use crate::proto::dapr::proto::runtime::v1 as pb;
use pb::subscribe_topic_events_request_alpha1::SubscribeTopicEventsRequestType as Req;
use pb::subscribe_topic_events_response_alpha1::SubscribeTopicEventsResponseType as Resp;
use pb::topic_event_response::TopicEventResponseStatus;

/// Go answers a bad opening with a plain error (code UNKNOWN).
fn plain(message: &str) -> Status {
    Status::new(GrpcCode::Unknown, message)
}

/// Ends the subscription when the stream handler returns, however it returns.
struct Live<'a> {
    ctx: &'a Ctx,
    sub: Arc<Subscription>,
    drain: Drain,
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.drain.close();
        self.ctx.shared.subscriptions.remove(&self.sub);
        tracing::info!(pubsub = %self.sub.pubsub, topic = %self.sub.topic, "streaming subscription ended");
    }
}

/// Serves one `SubscribeTopicEventsAlpha1` call.
pub async fn serve(
    ctx: &Rc<Ctx>,
    incoming: &mut Incoming,
    outgoing: &mut Outgoing,
) -> Result<(), Status> {
    let first = incoming
        .decode::<pb::SubscribeTopicEventsRequestAlpha1>()
        .await?;
    let Some(Req::InitialRequest(init)) = first.and_then(|r| r.subscribe_topic_events_request_type)
    else {
        return Err(plain("initial request is required"));
    };
    if init.pubsub_name.is_empty() {
        return Err(plain("pubsubName is required"));
    }
    if init.topic.is_empty() {
        return Err(plain("topic is required"));
    }
    let pref = crate::api::pubsub::broker(ctx, &init.pubsub_name, &init.topic)?;
    if !pref.scopes.can_subscribe(&init.topic) {
        return Err(Status::new(
            GrpcCode::PermissionDenied,
            format!(
                "subscribing to topic {} is not allowed for app id {}",
                init.topic, ctx.shared.opts.app_id
            ),
        ));
    }
    let sub = Arc::new(Subscription {
        pubsub: init.pubsub_name,
        topic: init.topic,
        rules: vec![Rule::new(None, "/")],
        dead_letter_topic: init.dead_letter_topic.filter(|t| !t.is_empty()),
        metadata: init.metadata,
        kind: Kind::Streaming,
    });

    let (tx, mut events) = local_sync::mpsc::unbounded::channel::<StreamEvent>();
    let handler = Rc::new(Deliverer::with_target(ctx, sub.clone(), Target::Stream(tx)));
    let live = Live {
        ctx,
        sub: sub.clone(),
        drain: Drain::new(),
    };
    let req = SubscribeRequest {
        topic: sub.topic.clone(),
        metadata: sub.metadata.clone(),
        drain: live.drain.clone(),
        scope: Scope::AllWorkers,
    };
    pref.broker.subscribe(req, handler).await.map_err(|e| {
        Status::new(
            GrpcCode::Internal,
            format!("error subscribing to topic {}: {e}", sub.topic),
        )
    })?;
    ctx.shared.subscriptions.add(sub.clone());
    tracing::info!(pubsub = %sub.pubsub, topic = %sub.topic, "streaming subscription started");
    outgoing
        .send_message(&pb::SubscribeTopicEventsResponseAlpha1 {
            subscribe_topic_events_response_type: Some(Resp::InitialResponse(
                pb::SubscribeTopicEventsResponseInitialAlpha1 {},
            )),
        })
        .await?;

    // Events down, verdicts up; each event waits for its id's answer.
    let mut waiting: HashMap<String, local_sync::oneshot::Sender<Verdict>> = HashMap::new();
    loop {
        monoio::select! {
            msg = incoming.decode::<pb::SubscribeTopicEventsRequestAlpha1>() => {
                match msg?.and_then(|m| m.subscribe_topic_events_request_type) {
                    None => {
                        drop(live);
                        return Ok(());
                    }
                    Some(Req::InitialRequest(_)) => {
                        return Err(plain("duplicate initial request received"));
                    }
                    Some(Req::EventProcessed(p)) => {
                        if let Some(reply) = waiting.remove(&p.id) {
                            let _ = reply.send(verdict(p.status));
                        }
                    }
                }
            }
            ev = events.recv() => {
                let Some(StreamEvent { event, verdict }) = ev else {
                    return Ok(());
                };
                let id = event.id.clone();
                outgoing
                    .send_message(&pb::SubscribeTopicEventsResponseAlpha1 {
                        subscribe_topic_events_response_type: Some(Resp::EventMessage(event)),
                    })
                    .await?;
                waiting.insert(id, verdict);
            }
        }
    }
}

fn verdict(status: Option<pb::TopicEventResponse>) -> Verdict {
    match status.map(|s| TopicEventResponseStatus::try_from(s.status)) {
        None | Some(Ok(TopicEventResponseStatus::Success)) => Verdict::Delivered,
        Some(Ok(TopicEventResponseStatus::Drop)) => {
            Verdict::Drop("the client answered DROP".into())
        }
        Some(Ok(TopicEventResponseStatus::Retry)) => {
            Verdict::Retry("the client answered RETRY".into())
        }
        Some(Err(_)) => Verdict::Retry("unknown status from the client".into()),
    }
}
