//! The transactional outbox (Go daprd's `pkg/runtime/pubsub/outbox.go`): a
//! state store with `outboxPublishPubsub` and `outboxPublishTopic` metadata
//! publishes a CloudEvent for every upsert of a transaction, and only once
//! the transaction has committed.
//!
//! As Go does it, so Go and Rust sidecars share the layout:
//!
//! 1. Before the store is called ([`publish_internal`]), each upsert gets a
//!    marker key `outbox-<uuid>` (never prefixed, value `"0"`) added to the
//!    transaction, and a CloudEvent whose `id` is that key is published to
//!    the internal topic `<namespace><appID><outboxPublishTopic>outbox` on
//!    `outboxPubsub` (default: `outboxPublishPubsub`). A failed publish
//!    fails the transaction (500 `ERR_PUBLISH_OUTBOX`) before anything is
//!    written.
//! 2. Each sidecar consumes its internal topic ([`start_worker`], once the
//!    app is ready, as Go). Per message: wait 1 s, then look the marker up
//!    (retrying with back-off for about 8 s). Found: the event goes to
//!    `outboxPublishTopic` on `outboxPublishPubsub`, then the marker is
//!    deleted. Missing (the transaction never committed): dropped when
//!    `outboxDiscardWhenMissingState` is true, otherwise handed back to the
//!    broker as not processed, to be redelivered.
//!
//! A crash between commit and publish loses nothing on a durable broker:
//! the internal message is only acknowledged once the user's event is
//! published and the marker deleted.
//!
//! The event: `id` the marker key, `source` our app id, Go's default
//! `type`, `datacontenttype` the operation's `contentType` metadata (default
//! `text/plain`), `traceid` the caller's traceparent, `data` the value, and
//! every metadata item of the operation copied in verbatim (except `data`
//! and `id`; so `type: X` sets the type). An upsert whose metadata has
//! `outbox.projection: "true"` is not stored: its value (and content type)
//! is what is published for the upsert of the same key.

use std::collections::{BTreeMap, HashMap};
use std::rc::{Rc, Weak};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use serde_json::value::RawValue;

use super::{StateStoreDyn, TxOp};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::pubsub::subscriptions::cloudevent::{
    self, is_content_type, DEFAULT_DATA_CONTENT_TYPE, DEFAULT_SOURCE, DEFAULT_TYPE,
};
use crate::api::pubsub::subscriptions::owner_of;
use crate::api::Ctx;
use crate::components::pubsub::{
    Delivery, Handled, Message, MessageHandler, PublishRequest, Scope, SubscribeRequest,
};
use crate::components::state::{DeleteRequest, GetRequest, LocalFuture, SetRequest, TransactionOp};
use crate::config::Options;

/// Component metadata: the pub/sub the user's events go to.
pub const PUBLISH_PUBSUB: &str = "outboxPublishPubsub";
/// Component metadata: the topic the user's events go to.
pub const PUBLISH_TOPIC: &str = "outboxPublishTopic";
/// Component metadata: the pub/sub carrying the internal topic.
pub const OUTBOX_PUBSUB: &str = "outboxPubsub";
/// Component metadata: drop a message whose transaction did not commit.
pub const DISCARD_WHEN_MISSING_STATE: &str = "outboxDiscardWhenMissingState";
/// Operation metadata marking a projection.
pub const PROJECTION: &str = "outbox.projection";
/// Prefix of the marker keys.
pub const MARKER_PREFIX: &str = "outbox";
/// The marker's stored value (Go stores the string `"0"`, JSON-encoded).
const MARKER_VALUE: &[u8] = b"\"0\"";
/// Wait before the first marker lookup (Go's `defaultStateScanDelay`).
const STATE_SCAN_DELAY: Duration = Duration::from_secs(1);
/// Waits between marker lookups (and marker deletes): Go's exponential
/// back-off (0.5 s × 3, at most 3 s, 10 s in all) without its jitter.
const BACKOFF: [Duration; 4] = [
    Duration::from_millis(500),
    Duration::from_millis(1500),
    Duration::from_secs(3),
    Duration::from_secs(3),
];

/// A store's outbox settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the user's events go: the component…
    pub publish_pubsub: String,
    /// …and the topic.
    pub publish_topic: String,
    /// The component carrying the internal topic.
    pub outbox_pubsub: String,
    /// Drop (rather than redeliver) a message whose marker is missing.
    pub discard_when_missing_state: bool,
}

impl Config {
    /// The settings in a state component's metadata (names matched exactly,
    /// as Go): `None` unless both the publish pub/sub and topic are set.
    pub fn from_metadata(md: &HashMap<String, String>) -> Option<Config> {
        let get = |k: &str| md.get(k).map(String::as_str).unwrap_or("");
        let (publish_pubsub, publish_topic) = (get(PUBLISH_PUBSUB), get(PUBLISH_TOPIC));
        if publish_pubsub.is_empty() || publish_topic.is_empty() {
            return None;
        }
        let outbox_pubsub = match get(OUTBOX_PUBSUB) {
            "" => publish_pubsub,
            p => p,
        };
        Some(Config {
            publish_pubsub: publish_pubsub.to_owned(),
            publish_topic: publish_topic.to_owned(),
            outbox_pubsub: outbox_pubsub.to_owned(),
            discard_when_missing_state: is_truthy(get(DISCARD_WHEN_MISSING_STATE)),
        })
    }

    /// The internal topic of `app_id` (Go: namespace + app id + topic + `outbox`).
    pub fn internal_topic(&self, opts: &Options) -> String {
        format!(
            "{}{}{}outbox",
            namespace(opts),
            opts.app_id,
            self.publish_topic
        )
    }
}

/// Go's namespace: `NAMESPACE`, else `default`.
fn namespace(opts: &Options) -> &str {
    opts.namespace.as_deref().unwrap_or("default")
}

/// dapr/kit's `IsTruthy`.
fn is_truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "true" | "t" | "on" | "1"
    )
}

/// Where a transaction came from, as far as the outbox cares.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// Over HTTP: values are JSON documents (the event carries them as Go
    /// prints the decoded value), and the request's metadata applies to
    /// every operation's event. Over gRPC values are raw bytes.
    pub http: bool,
    /// The caller's W3C traceparent (the event's `traceid`).
    pub traceparent: String,
    /// The caller's tracestate.
    pub tracestate: String,
}

/// The marker operation added to a transaction.
pub fn marker_op(key: String) -> TransactionOp {
    TransactionOp::Upsert(SetRequest {
        key,
        value: Bytes::from_static(MARKER_VALUE),
        ..Default::default()
    })
}

fn outbox_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::PubsubPublishOutbox,
        format!("error while publishing outbox message: {e}"),
    )
    .with_reason("DAPR_PUBSUB_OUTBOX")
}

/// Step 1: publishes one internal event per upsert (projections taken out
/// of the transaction and published in place of their key's value).
/// Returns the operations to store and the marker keys to add to them.
pub async fn publish_internal(
    ctx: &Ctx,
    cfg: &Config,
    ops: Vec<TxOp>,
    request_md: &HashMap<String, String>,
    origin: &Origin,
) -> Result<(Vec<TxOp>, Vec<String>), ApiError> {
    // What Go's operation metadata holds: over HTTP the request's items are
    // copied over the operation's.
    let effective = |md: &HashMap<String, String>| {
        let mut md = md.clone();
        if origin.http {
            md.extend(request_md.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        md
    };
    let mut projections: HashMap<String, (Bytes, HashMap<String, String>)> = HashMap::new();
    let mut kept = Vec::with_capacity(ops.len());
    for op in ops {
        if let TxOp::Upsert(it) = &op {
            let md = effective(&it.metadata);
            if md.get(PROJECTION).is_some_and(|v| is_truthy(v)) {
                projections.insert(it.key.clone(), (it.value.clone(), md));
                continue;
            }
        }
        kept.push(op);
    }

    let app_id = &ctx.shared.opts.app_id;
    let topic = cfg.internal_topic(&ctx.shared.opts);
    let mut markers = Vec::new();
    for op in &kept {
        let TxOp::Upsert(it) = op else { continue };
        let marker = format!("{MARKER_PREFIX}-{}", uuid::Uuid::new_v4());
        let md = effective(&it.metadata);
        let (value, value_md) = match projections.get(&it.key) {
            Some((v, pmd)) => (v, pmd),
            None => (&it.value, &md),
        };
        let content_type = value_md.get("contentType").map_or("", String::as_str);
        let data = payload(value, content_type, origin.http);
        let event = Event {
            id: &marker,
            source: app_id,
            pubsub: &cfg.outbox_pubsub,
            content_type,
            data: &data,
            traceid: &origin.traceparent,
            tracestate: &origin.tracestate,
            metadata: &md,
        }
        .encode()
        .map_err(outbox_error)?;
        let req = PublishRequest {
            topic: topic.clone(),
            data: event,
            content_type: None,
            metadata: HashMap::new(),
        };
        crate::api::pubsub::send(ctx, &cfg.outbox_pubsub, req)
            .await
            .map_err(outbox_error)?;
        markers.push(marker);
    }
    Ok((kept, markers))
}

/// The bytes an event carries for a stored value: gRPC values as sent;
/// an HTTP value (a JSON document) as Go renders the decoded value: JSON
/// again for `application/json`, else as `fmt`'s `%v` prints it.
fn payload(value: &Bytes, content_type: &str, http: bool) -> Bytes {
    if !http {
        return value.clone();
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(value) else {
        return value.clone();
    };
    if content_type.eq_ignore_ascii_case("application/json") {
        return serde_json::to_vec(&v).map_or_else(|_| value.clone(), Bytes::from);
    }
    let mut out = String::new();
    go_print(&v, &mut out);
    Bytes::from(out)
}

/// `fmt.Sprintf("%v", v)` of a value Go's JSON decoder produced.
fn go_print(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or_default())),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_print(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            // serde_json's map is ordered by key, as fmt prints maps.
            out.push_str("map[");
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                go_print(x, out);
            }
            out.push(']');
        }
    }
}

/// A float64 as `%v` prints it (`strconv` 'g', shortest): exponent form
/// when the decimal exponent is below -4 or at least 6 (`1e+06`).
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust's `{:e}` is the shortest round-trip form: `-1.2345e6`.
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
        return out;
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-point) as usize));
        out.push_str(&digits);
    } else {
        let point = point as usize;
        if digits.len() <= point {
            out.push_str(&digits);
            out.push_str(&"0".repeat(point - digits.len()));
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// The internal event (contrib's `NewCloudEventsEnvelope` plus the
/// operation's metadata).
struct Event<'a> {
    id: &'a str,
    source: &'a str,
    pubsub: &'a str,
    content_type: &'a str,
    data: &'a [u8],
    traceid: &'a str,
    tracestate: &'a str,
    metadata: &'a HashMap<String, String>,
}

impl Event<'_> {
    fn encode(&self) -> Result<Bytes, serde_json::Error> {
        let json = |v: &str| serde_json::value::to_raw_value(v);
        let content_type = match self.content_type {
            "" => DEFAULT_DATA_CONTENT_TYPE,
            ct => ct,
        };
        let source = match self.source {
            "" => DEFAULT_SOURCE,
            s => s,
        };
        let mut ce: BTreeMap<String, Box<RawValue>> = BTreeMap::new();
        for (k, v) in [
            ("id", self.id),
            ("specversion", cloudevent::SPEC_VERSION),
            ("datacontenttype", content_type),
            ("source", source),
            ("type", DEFAULT_TYPE),
            ("topic", ""),
            ("pubsubname", self.pubsub),
            ("traceid", self.traceid),
            ("traceparent", ""),
            ("tracestate", self.tracestate),
            ("time", &cloudevent::now_rfc3339()),
        ] {
            ce.insert(k.to_owned(), json(v)?);
        }
        if is_content_type(content_type, "application/json") {
            let data = match serde_json::from_slice::<Box<RawValue>>(self.data) {
                Ok(raw) => raw,
                Err(_) => json(&String::from_utf8_lossy(self.data))?,
            };
            ce.insert("data".into(), data);
        } else if is_content_type(content_type, "application/octet-stream")
            || is_content_type(content_type, "application/cloudevents+protobuf")
        {
            let b64 = base64::engine::general_purpose::STANDARD.encode(self.data);
            ce.insert("data_base64".into(), json(&b64)?);
        } else {
            ce.insert("data".into(), json(&String::from_utf8_lossy(self.data))?);
        }
        for (k, v) in self.metadata {
            if k != "data" && k != "id" {
                ce.insert(k.clone(), json(v)?);
            }
        }
        serde_json::to_vec(&ce).map(Bytes::from)
    }
}

/// Step 2 on one worker: once the app is ready (as Go, which subscribes
/// when the app turns healthy; at once without an app), consume the
/// internal topic of every outbox store. A process-local broker is consumed
/// on every worker (it delivers on the publishing one), a networked one on
/// one worker.
pub async fn start_worker(ctx: Rc<Ctx>) {
    monoio::select! {
        _ = ctx.shared.subscriptions.ready() => {},
        _ = ctx.drain.closing() => return,
    }
    let mut stores: Vec<(String, Rc<Config>)> = ctx
        .components
        .state
        .iter()
        .filter_map(|(name, s)| s.outbox.clone().map(|c| (name.clone(), c)))
        .collect();
    stores.sort_by(|a, b| a.0.cmp(&b.0));
    let workers = ctx.shared.opts.workers.max(1);
    for (store, cfg) in stores {
        let Some(pref) = ctx.components.pubsub.get(&cfg.outbox_pubsub) else {
            if ctx.worker == 0 {
                tracing::warn!(store = %store, "could not subscribe to internal outbox topic: outbox pubsub {} not loaded", cfg.outbox_pubsub);
            }
            continue;
        };
        let topic = cfg.internal_topic(&ctx.shared.opts);
        let broker = pref.broker.clone();
        if broker.delivery() == Delivery::OneWorker
            && owner_of(&cfg.outbox_pubsub, &topic, workers) != ctx.worker
        {
            continue;
        }
        let handler = Rc::new(Relay {
            ctx: Rc::downgrade(&ctx),
            store: store.clone(),
            cfg: cfg.clone(),
        });
        let req = SubscribeRequest {
            topic: topic.clone(),
            metadata: HashMap::new(),
            drain: ctx.drain.clone(),
            scope: Scope::ThisWorker,
        };
        match broker.subscribe(req, handler).await {
            Ok(()) => {
                if ctx.worker == 0 || broker.delivery() == Delivery::OneWorker {
                    tracing::info!(store = %store, pubsub = %cfg.outbox_pubsub, topic = %topic, "subscribed to the internal outbox topic");
                }
            }
            Err(e) => {
                tracing::error!(store = %store, pubsub = %cfg.outbox_pubsub, topic = %topic, error = %e, "subscribing to the internal outbox topic failed")
            }
        }
    }
}

/// Relays the internal topic's events of one store to the user's topic.
struct Relay {
    ctx: Weak<Ctx>,
    store: String,
    cfg: Rc<Config>,
}

/// Sleeps `d` unless the worker drains first (then `false`).
async fn pause(ctx: &Ctx, d: Duration) -> bool {
    monoio::select! {
        _ = monoio::time::sleep(d) => true,
        _ = ctx.drain.closing() => false,
    }
}

impl Relay {
    async fn relay(&self, msg: Message) -> Handled {
        let Some(ctx) = self.ctx.upgrade() else {
            return Handled::Nack;
        };
        let cfg = &self.cfg;
        let mut ce: BTreeMap<String, Box<RawValue>> = match serde_json::from_slice(&msg.data) {
            Ok(ce) => ce,
            Err(e) => {
                tracing::error!(topic = %msg.topic, error = %e, "outbox: the internal message is not a CloudEvent");
                return Handled::Nack;
            }
        };
        let text = |ce: &BTreeMap<String, Box<RawValue>>, k: &str| {
            ce.get(k)
                .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
                .unwrap_or_default()
        };
        let key = text(&ce, "id");
        let Some(store) = ctx
            .components
            .state
            .get(&self.store)
            .map(|s| s.store.clone())
        else {
            tracing::error!(
                "cannot get outbox state: state store {} not found",
                self.store
            );
            return Handled::Nack;
        };
        if !pause(&ctx, STATE_SCAN_DELAY).await {
            return Handled::Nack;
        }
        if let Err(why) = marker_exists(&ctx, &*store, &key, cfg).await {
            if cfg.discard_when_missing_state {
                tracing::error!(
                    "failed to publish outbox topic to pubsub {}: {why}, discarding message",
                    cfg.publish_pubsub
                );
                return Handled::Ack;
            }
            tracing::error!("failed to publish outbox topic to pubsub {}: {why}, rejecting for later processing", cfg.publish_pubsub);
            return Handled::Nack;
        }

        let (Ok(topic), Ok(pubsub)) = (
            serde_json::value::to_raw_value(&cfg.publish_topic),
            serde_json::value::to_raw_value(&cfg.publish_pubsub),
        ) else {
            return Handled::Nack;
        };
        ce.insert("topic".into(), topic);
        ce.insert("pubsubname".into(), pubsub);
        let content_type = text(&ce, "datacontenttype");
        let Ok(data) = serde_json::to_vec(&ce) else {
            return Handled::Nack;
        };
        let req = PublishRequest {
            topic: cfg.publish_topic.clone(),
            data: Bytes::from(data),
            content_type: Some(content_type),
            metadata: HashMap::new(),
        };
        if let Err(e) = crate::api::pubsub::send(&ctx, &cfg.publish_pubsub, req).await {
            tracing::error!(pubsub = %cfg.publish_pubsub, topic = %cfg.publish_topic, error = %e, "outbox: publishing the event failed; it will be retried");
            return Handled::Nack;
        }
        match delete_marker(&ctx, &*store, &key).await {
            Ok(()) => Handled::Ack,
            Err(e) => {
                tracing::error!(key = %key, error = %e, "outbox: deleting the marker failed");
                Handled::Nack
            }
        }
    }
}

/// Looks the marker up, with Go's back-off; `Err` says why it is missing.
async fn marker_exists(
    ctx: &Ctx,
    store: &dyn StateStoreDyn,
    key: &str,
    cfg: &Config,
) -> Result<(), String> {
    let mut waits = BACKOFF.iter();
    loop {
        let req = GetRequest {
            key: key.to_owned(),
            metadata: HashMap::new(),
        };
        let why = match store.get(req).await {
            Ok(Some(item)) if !item.data.is_empty() => return Ok(()),
            Ok(_) => format!(
                "cannot publish outbox message to topic {} with pubsub {}: outbox state not found",
                cfg.publish_topic, cfg.publish_pubsub
            ),
            Err(e) => e.to_string(),
        };
        match waits.next() {
            Some(d) if pause(ctx, *d).await => {}
            _ => return Err(why),
        }
    }
}

/// Deletes the marker, with Go's back-off.
async fn delete_marker(ctx: &Ctx, store: &dyn StateStoreDyn, key: &str) -> Result<(), String> {
    let mut waits = BACKOFF.iter();
    loop {
        let req = DeleteRequest {
            key: key.to_owned(),
            ..Default::default()
        };
        let why = match store.delete(req).await {
            Ok(()) => return Ok(()),
            Err(e) => e.to_string(),
        };
        match waits.next() {
            Some(d) if pause(ctx, *d).await => {}
            _ => return Err(why),
        }
    }
}

impl MessageHandler for Relay {
    fn handle(&self, msg: Message) -> LocalFuture<'_, Handled> {
        Box::pin(self.relay(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn config_as_go() {
        assert_eq!(Config::from_metadata(&md(&[(PUBLISH_PUBSUB, "ps")])), None);
        assert_eq!(
            Config::from_metadata(&md(&[("outboxpublishpubsub", "ps"), (PUBLISH_TOPIC, "t")])),
            None,
            "names are matched exactly"
        );
        let c =
            Config::from_metadata(&md(&[(PUBLISH_PUBSUB, "ps"), (PUBLISH_TOPIC, "t")])).unwrap();
        assert_eq!(
            (c.outbox_pubsub.as_str(), c.discard_when_missing_state),
            ("ps", false)
        );
        let c = Config::from_metadata(&md(&[
            (PUBLISH_PUBSUB, "ps"),
            (PUBLISH_TOPIC, "t"),
            (OUTBOX_PUBSUB, "internal"),
            (DISCARD_WHEN_MISSING_STATE, " Yes "),
        ]))
        .unwrap();
        assert_eq!(
            (c.outbox_pubsub.as_str(), c.discard_when_missing_state),
            ("internal", true)
        );
    }

    #[test]
    fn values_print_as_go() {
        let p = |json: &str, ct: &str| {
            String::from_utf8(payload(&Bytes::from(json.to_owned()), ct, true).to_vec()).unwrap()
        };
        assert_eq!(p(r#""2""#, ""), "2");
        assert_eq!(p("3", ""), "3");
        assert_eq!(p("1.5", ""), "1.5");
        assert_eq!(p("1000000", ""), "1e+06");
        assert_eq!(p("123456", ""), "123456");
        assert_eq!(p("0.0001", ""), "0.0001");
        assert_eq!(p("0.00001", ""), "1e-05");
        assert_eq!(p("-1234567.5", ""), "-1.2345675e+06");
        assert_eq!(p("null", ""), "<nil>");
        assert_eq!(p(r#"{"b":[1,true],"a":"x"}"#, ""), "map[a:x b:[1 true]]");
        assert_eq!(
            p(r#"{"b": 1, "a": "x"}"#, "application/json"),
            r#"{"a":"x","b":1}"#
        );
        // gRPC values are bytes, sent as they are.
        assert_eq!(
            payload(&Bytes::from_static(b"\"2\""), "", false),
            &b"\"2\""[..]
        );
    }

    #[test]
    fn internal_event_as_go() {
        let meta = md(&[
            ("outbox.cloudevent.myapp", "myapp1"),
            ("data", "a"),
            ("id", "b"),
            ("type", "T"),
        ]);
        let ev = Event {
            id: "outbox-1",
            source: "app",
            pubsub: "ps",
            content_type: "",
            data: b"2",
            traceid: "00-aa-bb-01",
            tracestate: "",
            metadata: &meta,
        }
        .encode()
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&ev).unwrap();
        for (k, want) in [
            ("id", "outbox-1"),
            ("data", "2"),
            ("datacontenttype", "text/plain"),
            ("source", "app"),
            ("type", "T"),
            ("topic", ""),
            ("pubsubname", "ps"),
            ("traceid", "00-aa-bb-01"),
            ("traceparent", ""),
            ("specversion", "1.0"),
            ("outbox.cloudevent.myapp", "myapp1"),
        ] {
            assert_eq!(v[k], want, "{k}");
        }
        let none = HashMap::new();
        let ev = Event {
            id: "i",
            source: "",
            pubsub: "ps",
            content_type: "application/json",
            data: br#"{"n": 1}"#,
            traceid: "",
            tracestate: "",
            metadata: &none,
        }
        .encode()
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&ev).unwrap();
        assert_eq!(
            (v["data"]["n"].as_i64(), v["source"].as_str()),
            (Some(1), Some("Dapr"))
        );
    }
}
