//! Publishing: the logic behind `/v1.0/publish/*`, the bulk routes and the
//! gRPC PublishEvent / BulkPublishEvent methods, written once.
//!
//! A publish names a component and a topic; the topic must be allowed for
//! this app (`allowedTopics`, `protectedTopics`, `publishingScopes` component
//! metadata, as Go's scoping); the payload is wrapped in a CloudEvent unless
//! `metadata.rawPayload` is true; then the broker takes the bytes. Errors
//! carry Go's codes, statuses and messages.

pub mod grpc;
pub mod http;
pub mod subscriptions;

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;

use super::error::{ApiError, ErrorCode};
use super::Ctx;
use crate::api::pubsub::subscriptions::cloudevent::{self, is_content_type};
use crate::api::pubsub::subscriptions::parse_go_bool;
use crate::components::pubsub::{Features, PubSubDyn, PublishRequest};
use crate::components::Metadata;

/// A broker as the API sees it: the instance and its topic rules for this app.
#[derive(Clone)]
pub struct PubSubRef {
    /// The broker.
    pub broker: Rc<dyn PubSubDyn>,
    /// Topic scoping for this app.
    pub scopes: Rc<TopicScopes>,
}

/// Go's topic scoping, resolved for our app id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicScopes {
    allowed: Vec<String>,
    protected: Vec<String>,
    publishing: Vec<String>,
    subscribing: Vec<String>,
}

/// `a,b,c` with spaces removed and duplicates dropped.
fn topic_list(v: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in v.replace(' ', "").split(',') {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    out
}

/// `app1=t1,t2;app2=t3`: the topics listed for `app_id`.
fn scoped_topics(v: &str, app_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in v.replace(' ', "").split(';') {
        if let Some((app, topics)) = part.split_once('=') {
            if app == app_id {
                for t in topics.split(',') {
                    if !out.iter().any(|o: &String| o == t) {
                        out.push(t.to_owned());
                    }
                }
            }
        }
    }
    out
}

impl TopicScopes {
    /// Reads the scoping metadata of a component for `app_id`.
    pub fn new(md: &Metadata, app_id: &str) -> TopicScopes {
        let list = |k: &str| md.get(k).filter(|v| !v.is_empty()).map(topic_list);
        let scoped = |k: &str| md.get(k).map(|v| scoped_topics(v, app_id));
        TopicScopes {
            allowed: list("allowedTopics").unwrap_or_default(),
            protected: list("protectedTopics").unwrap_or_default(),
            publishing: scoped("publishingScopes").unwrap_or_default(),
            subscribing: scoped("subscriptionScopes").unwrap_or_default(),
        }
    }

    fn allows(&self, topic: &str, scoped: &[String]) -> bool {
        if !self.allowed.is_empty() && !self.allowed.iter().any(|t| t == topic) {
            return false;
        }
        let protected = self.protected.iter().any(|t| t == topic);
        if !protected && scoped.is_empty() {
            return true;
        }
        scoped.iter().any(|t| t == topic)
    }

    /// Whether this app may publish to `topic` (Go's `IsOperationAllowed`).
    pub fn can_publish(&self, topic: &str) -> bool {
        self.allows(topic, &self.publishing)
    }

    /// Whether this app may subscribe to `topic`.
    pub fn can_subscribe(&self, topic: &str) -> bool {
        self.allows(topic, &self.subscribing)
    }
}

/// One publish, protocol-neutral.
pub struct PublishInput {
    /// Component name.
    pub pubsub: String,
    /// Topic.
    pub topic: String,
    /// Payload.
    pub data: Bytes,
    /// Its content type (`""` when none).
    pub content_type: String,
    /// `metadata.*`.
    pub metadata: HashMap<String, String>,
    /// The caller's trace context.
    pub traceparent: String,
    /// The caller's trace state.
    pub tracestate: String,
}

/// Finds the broker and checks names (Go's order: not configured, name
/// empty, not found, topic empty).
pub fn broker<'c>(ctx: &'c Ctx, pubsub: &str, topic: &str) -> Result<&'c PubSubRef, ApiError> {
    let brokers = &ctx.components.pubsub;
    if brokers.is_empty() {
        return Err(ApiError::new(
            ErrorCode::PubsubNotConfigured,
            format!("pubsub {pubsub} is not configured"),
        ));
    }
    if pubsub.is_empty() {
        return Err(ApiError::new(
            ErrorCode::PubsubEmpty,
            "pubsub name is empty",
        ));
    }
    let Some(b) = brokers.get(pubsub) else {
        return Err(ApiError::new(
            ErrorCode::PubsubNotFound,
            format!("pubsub {pubsub} is not found"),
        ));
    };
    if topic.is_empty() {
        return Err(ApiError::new(
            ErrorCode::TopicNameEmpty,
            format!("topic is empty in pubsub {pubsub}"),
        ));
    }
    Ok(b)
}

/// `rawPayload` metadata as Go's `IsRawPayload` reads it.
pub fn raw_payload(md: &HashMap<String, String>) -> Result<bool, ApiError> {
    match md.get("rawPayload").filter(|v| !v.is_empty()) {
        None => Ok(false),
        Some(v) => parse_go_bool(v).ok_or_else(|| {
            ApiError::new(
                ErrorCode::PubsubRequestMetadata,
                format!("failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is '{v}'"),
            )
        }),
    }
}

fn forbidden(topic: &str, app_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PubsubForbidden,
        format!("topic {topic} is not allowed for app id {app_id}"),
    )
}

fn publish_failed(topic: &str, pubsub: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::PubsubPublishMessage,
        format!("error when publishing to topic {topic} in pubsub {pubsub}: {err}"),
    )
}

/// The broker message for one payload: its CloudEvent, or the payload as is.
fn message_body(
    ctx: &Ctx,
    b: &PubSubRef,
    input: &PublishInput,
    raw: bool,
) -> Result<Bytes, ApiError> {
    if raw {
        return Ok(input.data.clone());
    }
    cloudevent::envelope(&cloudevent::Publish {
        data: &input.data,
        content_type: &input.content_type,
        app_id: &ctx.shared.opts.app_id,
        topic: &input.topic,
        pubsub: &input.pubsub,
        traceparent: &input.traceparent,
        tracestate: &input.tracestate,
        metadata: &input.metadata,
        broker_has_ttl: b.broker.features().has(Features::MESSAGE_TTL),
    })
    .map_err(|_| ApiError::new(ErrorCode::PubsubCloudEventsSer, "cannot create cloudevent"))
}

/// The content type the broker records for a message.
fn broker_content_type(input: &PublishInput, raw: bool) -> Option<String> {
    if raw {
        (!input.content_type.is_empty()).then(|| input.content_type.clone())
    } else if is_content_type(&input.content_type, cloudevent::CLOUDEVENT_CONTENT_TYPE) {
        Some(input.content_type.clone())
    } else {
        Some(cloudevent::CLOUDEVENT_CONTENT_TYPE.to_owned())
    }
}

/// Publishes one message.
pub async fn publish(ctx: &Ctx, input: PublishInput) -> Result<(), ApiError> {
    let b = broker(ctx, &input.pubsub, &input.topic)?;
    let raw = raw_payload(&input.metadata)?;
    let data = message_body(ctx, b, &input, raw)?;
    if !b.scopes.can_publish(&input.topic) {
        return Err(forbidden(&input.topic, &ctx.shared.opts.app_id));
    }
    let req = PublishRequest {
        content_type: broker_content_type(&input, raw),
        topic: input.topic,
        data,
        metadata: input.metadata,
    };
    let topic = req.topic.clone();
    let started = std::time::Instant::now();
    let result = b.broker.publish(req).await;
    ctx.metrics
        .record_pubsub_egress(&input.pubsub, &topic, result.is_ok(), started.elapsed());
    result.map_err(|e| publish_failed(&topic, &input.pubsub, e))
}

/// Why [`send`] could not hand a message to a broker (Go's publisher
/// adapter errors, with their texts).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No such component.
    #[error("pubsub '{0}' not found")]
    NotFound(String),
    /// The component's scoping forbids this app the topic.
    #[error("topic {topic} is not allowed for app id {app_id}")]
    Forbidden {
        /// The topic.
        topic: String,
        /// Our app id.
        app_id: String,
    },
    /// The broker refused it.
    #[error("{0}")]
    Broker(crate::components::ComponentError),
}

/// Hands bytes that already are the broker message (no envelope) to a
/// broker, with the publishing scope checked: the runtime's own publishes
/// (the transactional outbox), as Go's publisher adapter does them.
pub async fn send(ctx: &Ctx, pubsub: &str, req: PublishRequest) -> Result<(), SendError> {
    let b = ctx
        .components
        .pubsub
        .get(pubsub)
        .ok_or_else(|| SendError::NotFound(pubsub.to_owned()))?;
    if !b.scopes.can_publish(&req.topic) {
        return Err(SendError::Forbidden {
            topic: req.topic,
            app_id: ctx.shared.opts.app_id.clone(),
        });
    }
    let topic = req.topic.clone();
    let started = std::time::Instant::now();
    let result = b.broker.publish(req).await;
    ctx.metrics
        .record_pubsub_egress(pubsub, &topic, result.is_ok(), started.elapsed());
    result.map_err(SendError::Broker)
}

/// One bulk entry, its event already converted to bytes.
pub struct BulkEntry {
    /// Caller's id for the entry (unique, non-empty).
    pub entry_id: String,
    /// Payload.
    pub event: Bytes,
    /// Its content type.
    pub content_type: String,
    /// Entry metadata (overrides request metadata).
    pub metadata: HashMap<String, String>,
}

/// Entries that failed, and the overall error.
pub struct BulkFailure {
    /// The error (Go's `PublishMessage` or a validation error).
    pub error: ApiError,
    /// `(entryId, error)` per failed entry.
    pub failed: Vec<(String, String)>,
}

impl From<ApiError> for BulkFailure {
    fn from(error: ApiError) -> Self {
        BulkFailure {
            error,
            failed: Vec::new(),
        }
    }
}

/// Publishes every entry (concurrently); reports the ones that failed.
#[allow(clippy::too_many_arguments)]
pub async fn bulk_publish(
    ctx: &Ctx,
    pubsub: &str,
    topic: &str,
    entries: Vec<BulkEntry>,
    metadata: HashMap<String, String>,
    traceparent: &str,
    tracestate: &str,
) -> Result<(), BulkFailure> {
    let b = broker(ctx, pubsub, topic)?;
    let raw = raw_payload(&metadata)?;
    let mut seen = std::collections::HashSet::new();
    if entries
        .iter()
        .any(|e| e.entry_id.is_empty() || !seen.insert(e.entry_id.as_str()))
    {
        return Err(ApiError::new(
            ErrorCode::PubsubEventsSer,
            format!("error marshaling events to bytes for topic {topic} pubsub {pubsub}. error: entryId is duplicated or not present for entry"),
        )
        .into());
    }
    if !b.scopes.can_publish(topic) {
        return Err(forbidden(topic, &ctx.shared.opts.app_id).into());
    }
    let mut pending = Vec::with_capacity(entries.len());
    for e in entries {
        let mut md = metadata.clone();
        md.extend(e.metadata);
        let input = PublishInput {
            pubsub: pubsub.to_owned(),
            topic: topic.to_owned(),
            data: e.event,
            content_type: e.content_type,
            metadata: md,
            traceparent: traceparent.to_owned(),
            tracestate: tracestate.to_owned(),
        };
        let data = message_body(ctx, b, &input, raw).map_err(BulkFailure::from)?;
        let req = PublishRequest {
            content_type: broker_content_type(&input, raw),
            topic: input.topic,
            data,
            metadata: input.metadata,
        };
        let broker = b.broker.clone();
        let handle = monoio::spawn(async move { broker.publish(req).await });
        pending.push((e.entry_id, handle));
    }
    let mut failed = Vec::new();
    let mut first_error = None;
    for (id, handle) in pending {
        if let Err(e) = handle.await {
            failed.push((id, e.to_string()));
            first_error.get_or_insert(e.to_string());
        }
    }
    match first_error {
        None => Ok(()),
        Some(e) => Err(BulkFailure {
            error: publish_failed(topic, pubsub, e),
            failed,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(pairs)
    }

    #[test]
    fn scoping_as_go() {
        let s = TopicScopes::new(&md(&[]), "app");
        assert!(s.can_publish("any"));
        let s = TopicScopes::new(&md(&[("allowedTopics", "a, b")]), "app");
        assert!(s.can_publish("a") && s.can_publish("b") && !s.can_publish("c"));
        let s = TopicScopes::new(&md(&[("publishingScopes", "app=a;other=b")]), "app");
        assert!(s.can_publish("a") && !s.can_publish("b"));
        assert!(s.can_subscribe("b"));
        let s = TopicScopes::new(&md(&[("protectedTopics", "p")]), "app");
        assert!(!s.can_publish("p") && s.can_publish("q"));
        let s = TopicScopes::new(
            &md(&[("protectedTopics", "p"), ("publishingScopes", "app=p")]),
            "app",
        );
        assert!(s.can_publish("p"));
    }
}
