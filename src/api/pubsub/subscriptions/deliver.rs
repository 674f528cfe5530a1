//! Delivering a broker message to the app (Go's subscription handler).
//!
//! Per message: the CloudEvent (or, for a `rawPayload` subscription, an
//! envelope built around the raw bytes) is read for routing, expiry and
//! trace context; an expired event is dropped; the first matching rule
//! picks the path (no match: dropped as delivered); then the event is
//! POSTed to the app as `application/cloudevents+json` and the app's answer
//! is read as Go reads it:
//!
//! | app answer | outcome |
//! |---|---|
//! | 2xx, body `{"status":"SUCCESS"}`, empty, `""` or not JSON | delivered |
//! | 2xx, `{"status":"DROP"}` | dropped (dead-letter topic if any) |
//! | 2xx, `{"status":"RETRY"}` or any other status value | retry |
//! | 404 | dropped (dead-letter topic if any) |
//! | any other status, or no answer | retry |
//!
//! Retries are ours, built in: [`RETRIES`] more attempts with doubling
//! back-off from [`FIRST_BACKOFF`]. (Go retries only under a Resiliency
//! policy and otherwise hands the failure to the broker.) When they are
//! exhausted the message goes to the dead-letter topic if there is one,
//! else back to the broker as not processed ([`Handled::Nack`]): Redis
//! Streams redelivers it later, the in-memory broker drops it.

use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Deserialize;

use super::cloudevent::{self, CLOUDEVENT_CONTENT_TYPE};
use super::{rules, Subscription};
use crate::api::Ctx;
use crate::channel::grpc::GrpcChannel;
use crate::channel::http::HttpChannel;
use crate::channel::{AppCall, AppChannel};
use crate::components::pubsub::{Handled, Message, MessageHandler, PublishRequest};
use crate::components::state::LocalFuture;
use crate::http::client::{ClientRequest, OutBody};

/// Extra attempts after the first failed one.
pub const RETRIES: u32 = 3;
/// Wait before the first retry; doubled for each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Processed.
    Delivered,
    /// Not to be delivered again (dead-letter topic if any).
    Drop(String),
    /// Try again.
    Retry(String),
}

/// Where a subscription's events go.
pub enum Target {
    /// To the app over the worker's app channel (POST, or `OnTopicEvent`).
    App,
    /// Sent on a gRPC streaming subscription; the stream task answers.
    Stream(local_sync::mpsc::unbounded::Tx<StreamEvent>),
}

/// One event for a streaming subscription, and where its verdict goes.
pub struct StreamEvent {
    /// The event as `TopicEventRequest`.
    pub event: crate::proto::dapr::proto::runtime::v1::TopicEventRequest,
    /// The client's answer.
    pub verdict: local_sync::oneshot::Sender<Verdict>,
}

/// The envelope fields delivery needs (the rest is skipped, not parsed).
#[derive(Deserialize, Default)]
struct Head {
    #[serde(default)]
    expiration: Option<serde_json::Value>,
    #[serde(default)]
    traceparent: Option<serde_json::Value>,
    #[serde(default)]
    tracestate: Option<serde_json::Value>,
}

impl Head {
    fn from_event(ev: &serde_json::Value) -> Head {
        Head {
            expiration: ev.get("expiration").cloned(),
            traceparent: ev.get("traceparent").cloned(),
            tracestate: ev.get("tracestate").cloned(),
        }
    }
}

fn as_str(v: &Option<serde_json::Value>) -> &str {
    v.as_ref().and_then(|v| v.as_str()).unwrap_or("")
}

/// The app's `{"status": …}` answer.
#[derive(Deserialize)]
struct AppStatus {
    #[serde(default)]
    status: Option<String>,
}

/// Delivers one subscription's messages on one worker.
pub struct Deliverer {
    ctx: Weak<Ctx>,
    sub: Arc<Subscription>,
    target: Target,
}

impl Deliverer {
    /// A handler for `sub` on the worker of `ctx`, delivering to the app.
    pub fn new(ctx: &Rc<Ctx>, sub: Arc<Subscription>) -> Deliverer {
        Self::with_target(ctx, sub, Target::App)
    }

    /// A handler for `sub` delivering to `target`.
    pub fn with_target(ctx: &Rc<Ctx>, sub: Arc<Subscription>, target: Target) -> Deliverer {
        Deliverer {
            ctx: Rc::downgrade(ctx),
            sub,
            target,
        }
    }

    async fn deliver(&self, msg: Message) -> Handled {
        let Some(ctx) = self.ctx.upgrade() else {
            return Handled::Nack;
        };
        let sub = &self.sub;
        let body = if sub.raw_payload() {
            cloudevent::from_raw_payload(&msg.data, &msg.topic, &sub.pubsub)
        } else {
            msg.data.clone()
        };

        // Read what routing needs: the whole event only when a rule has an
        // expression or the event goes out as a protobuf message.
        let full = rules::needs_event(&sub.rules)
            || matches!(self.target, Target::Stream(_))
            || ctx.app.as_ref().is_some_and(AppChannel::is_grpc);
        let parsed = if full {
            serde_json::from_slice::<serde_json::Value>(&body)
                .map(|ev| (Head::from_event(&ev), Some(ev)))
        } else {
            serde_json::from_slice::<Head>(&body).map(|h| (h, None))
        };
        let (head, event) = match parsed {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(pubsub = %sub.pubsub, topic = %msg.topic, error = %e, "error deserializing cloud event");
                return self.undeliverable(&ctx, &msg).await;
            }
        };
        if !as_str(&head.expiration).is_empty() && cloudevent::has_expired(as_str(&head.expiration))
        {
            tracing::warn!(pubsub = %sub.pubsub, topic = %msg.topic, "dropping expired pub/sub event");
            return Handled::Ack;
        }
        let Some(path) = rules::route(&sub.rules, event.as_ref()) else {
            tracing::debug!(pubsub = %sub.pubsub, topic = %msg.topic, "no matching route; event dropped");
            return Handled::Ack;
        };

        let headers = self.headers(&ctx, &msg, &head);
        let proto = match (&self.target, &event) {
            (Target::Stream(_), Some(ev)) => {
                Some(cloudevent::topic_event(ev, &msg.topic, &sub.pubsub, path))
            }
            (Target::App, Some(ev)) if ctx.app.as_ref().is_some_and(AppChannel::is_grpc) => {
                Some(cloudevent::topic_event(ev, &msg.topic, &sub.pubsub, path))
            }
            _ => None,
        };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            // Deliveries to an unhealthy app wait until it recovers.
            if matches!(self.target, Target::App)
                && !ctx.shared.app_health.wait_healthy(&ctx.drain).await
            {
                return Handled::Nack;
            }
            let started = std::time::Instant::now();
            let verdict = match (&self.target, &proto, &ctx.app) {
                (Target::Stream(tx), Some(ev), _) => send_to_stream(tx, ev.clone()).await,
                (_, _, Some(app)) => {
                    let attempt = Attempt {
                        path,
                        headers: &headers,
                        body: &body,
                        event: proto.as_ref(),
                    };
                    app.call(attempt).await
                }
                (_, _, None) => Verdict::Retry("no app channel".into()),
            };
            let outcome = match verdict {
                Verdict::Delivered => "success",
                Verdict::Drop(_) => "drop",
                Verdict::Retry(_) => "retry",
            };
            ctx.metrics
                .record_pubsub_ingress(&sub.pubsub, &msg.topic, outcome, started.elapsed());
            match verdict {
                Verdict::Delivered => return Handled::Ack,
                Verdict::Drop(why) => {
                    tracing::warn!(pubsub = %sub.pubsub, topic = %msg.topic, path, "event dropped: {why}");
                    return self.dead_letter_or(&ctx, &msg, Handled::Ack).await;
                }
                Verdict::Retry(why) if attempt < RETRIES => {
                    tracing::debug!(pubsub = %sub.pubsub, topic = %msg.topic, path, attempt, "retrying delivery: {why}");
                    monoio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Verdict::Retry(why) => {
                    tracing::error!(pubsub = %sub.pubsub, topic = %msg.topic, path, "delivery failed after {} attempts: {why}", RETRIES + 1);
                    return self.undeliverable(&ctx, &msg).await;
                }
            }
        }
    }

    /// Headers of every attempt: content type, component name, the broker's
    /// metadata, trace context, the app token.
    fn headers(&self, ctx: &Ctx, msg: &Message, head: &Head) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(msg.metadata.len() + 5);
        for (k, v) in &msg.metadata {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v)) {
                h.insert(k, v);
            }
        }
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(CLOUDEVENT_CONTENT_TYPE),
        );
        if let Ok(v) = HeaderValue::from_str(&self.sub.pubsub) {
            h.insert(HeaderName::from_static("pubsubname"), v);
        }
        for (name, value) in [
            ("traceparent", as_str(&head.traceparent)),
            ("tracestate", as_str(&head.tracestate)),
        ] {
            if let (false, Ok(v)) = (value.is_empty(), HeaderValue::from_str(value)) {
                h.insert(HeaderName::from_static(name), v);
            }
        }
        crate::channel::add_app_token(&mut h, &ctx.shared.opts);
        h
    }

    /// Retries are exhausted or the event is unreadable.
    async fn undeliverable(&self, ctx: &Ctx, msg: &Message) -> Handled {
        self.dead_letter_or(ctx, msg, Handled::Nack).await
    }

    /// Publishes `msg` to the dead-letter topic when there is one (then it is
    /// finished with); otherwise answers `otherwise`.
    async fn dead_letter_or(&self, ctx: &Ctx, msg: &Message, otherwise: Handled) -> Handled {
        let Some(topic) = &self.sub.dead_letter_topic else {
            return otherwise;
        };
        let Some(broker) = ctx
            .components
            .pubsub
            .get(&self.sub.pubsub)
            .map(|p| &p.broker)
        else {
            return Handled::Nack;
        };
        let req = PublishRequest {
            topic: topic.clone(),
            data: msg.data.clone(),
            content_type: msg.content_type.clone(),
            metadata: msg.metadata.clone(),
        };
        match broker.publish(req).await {
            Ok(()) => {
                tracing::warn!(pubsub = %self.sub.pubsub, topic = %msg.topic, dead_letter_topic = %topic, "event sent to the dead-letter topic");
                Handled::Ack
            }
            Err(e) => {
                tracing::error!(pubsub = %self.sub.pubsub, dead_letter_topic = %topic, error = %e, "publishing to the dead-letter topic failed");
                Handled::Nack
            }
        }
    }
}

/// One delivery attempt to the app: the event POSTed to `path`, or (as
/// `event`, the `TopicEventRequest`) to `OnTopicEvent`.
struct Attempt<'a> {
    path: &'a str,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    event: Option<&'a crate::proto::dapr::proto::runtime::v1::TopicEventRequest>,
}

impl AppCall for Attempt<'_> {
    type Output = Verdict;

    async fn over_http(self, channel: &HttpChannel) -> Verdict {
        post(channel, self.path, self.headers, self.body).await
    }

    async fn over_grpc(self, channel: &GrpcChannel) -> Verdict {
        match self.event {
            Some(ev) => on_topic_event(channel, self.headers, ev).await,
            // Not reached: a gRPC app's events are always read whole.
            None => Verdict::Retry("no app channel".into()),
        }
    }
}

/// The event POSTed to the app, its answer read as Go reads it.
async fn post(channel: &HttpChannel, path: &str, headers: &HeaderMap, body: &Bytes) -> Verdict {
    let req = ClientRequest {
        method: Method::POST,
        target: path.to_owned(),
        headers: headers.clone(),
        body: OutBody::Full(body.clone()),
    };
    let resp = match channel.call(req).await {
        Ok(r) => r,
        Err(e) => return Verdict::Retry(e.to_string()),
    };
    if resp.status == StatusCode::NOT_FOUND {
        return Verdict::Drop(format!("the app answered 404 for {path}"));
    }
    if !resp.status.is_success() {
        return Verdict::Retry(format!("the app answered {}", resp.status.as_u16()));
    }
    // A streamed (large) answer is not a status document: delivered.
    let status = serde_json::from_slice::<AppStatus>(&resp.body)
        .ok()
        .and_then(|s| s.status)
        .unwrap_or_default();
    match status.to_ascii_uppercase().as_str() {
        "" | "SUCCESS" => Verdict::Delivered,
        "DROP" => Verdict::Drop("the app answered DROP".into()),
        "RETRY" => Verdict::Retry("the app answered RETRY".into()),
        other => Verdict::Retry(format!("unknown status {other:?} from the app")),
    }
}

/// `AppCallback/OnTopicEvent` on a gRPC app: its status read as Go reads
/// it; UNIMPLEMENTED drops, any other error retries.
async fn on_topic_event(
    grpc: &GrpcChannel,
    headers: &HeaderMap,
    event: &crate::proto::dapr::proto::runtime::v1::TopicEventRequest,
) -> Verdict {
    use crate::proto::dapr::proto::runtime::v1 as pb;
    use pb::topic_event_response::TopicEventResponseStatus as S;
    use prost::Message;
    let mut md = HeaderMap::new();
    for name in ["traceparent", "tracestate", "dapr-api-token"] {
        if let Some(v) = headers.get(name) {
            md.insert(HeaderName::from_static(name), v.clone());
        }
    }
    let reply = grpc
        .unary(
            "/dapr.proto.runtime.v1.AppCallback/OnTopicEvent",
            md,
            &event.encode_to_vec(),
        )
        .await;
    match reply {
        Ok(bytes) => {
            match pb::TopicEventResponse::decode(&bytes[..]).map(|r| S::try_from(r.status)) {
                Ok(Ok(S::Success)) => Verdict::Delivered,
                Ok(Ok(S::Drop)) => Verdict::Drop("the app answered DROP".into()),
                Ok(Ok(S::Retry)) => Verdict::Retry("the app answered RETRY".into()),
                Ok(Err(_)) => Verdict::Retry("unknown status from the app".into()),
                Err(e) => Verdict::Retry(format!("invalid OnTopicEvent response: {e}")),
            }
        }
        Err(e) if e.code() == crate::grpc::status::GrpcCode::Unimplemented => {
            Verdict::Drop(format!("the app does not implement OnTopicEvent: {e}"))
        }
        Err(e) => Verdict::Retry(e.to_string()),
    }
}

/// Hands an event to the stream task and waits for the client's answer; a
/// closed stream is a retry (the broker decides what happens next).
async fn send_to_stream(
    tx: &local_sync::mpsc::unbounded::Tx<StreamEvent>,
    event: crate::proto::dapr::proto::runtime::v1::TopicEventRequest,
) -> Verdict {
    let (verdict, rx) = local_sync::oneshot::channel();
    if tx.send(StreamEvent { event, verdict }).is_err() {
        return Verdict::Retry("the streaming subscription is closed".into());
    }
    rx.await
        .unwrap_or_else(|_| Verdict::Retry("the streaming subscription closed".into()))
}

impl MessageHandler for Deliverer {
    fn handle(&self, msg: Message) -> LocalFuture<'_, Handled> {
        Box::pin(self.deliver(msg))
    }
}
