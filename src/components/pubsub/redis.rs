//! `pubsub.redis`: Redis Streams, as Go Dapr's component runs them, so Go
//! and Rust sidecars share topics and consumer groups.
//!
//! Layout and commands (contrib `pubsub/redis`):
//! - one stream per topic, the key being the topic name;
//! - publish: `XADD <topic> [MAXLEN ~ n | MINID ~ t] * data <bytes> metadata <json>`;
//! - subscribe: `XGROUP CREATE <topic> <consumerID> 0 MKSTREAM` (so messages
//!   published before the group existed are delivered), then
//!   `XREADGROUP GROUP <consumerID> <consumerID> COUNT <queueDepth> BLOCK <readTimeout>
//!   STREAMS <topic> >`; the consumer name is the group name, as in Go;
//! - `XACK` once the runtime is finished with a message;
//! - every `redeliverInterval`, `XPENDING` + `XCLAIM` re-deliver entries idle
//!   for `processingTimeout`; entries trimmed from the stream are acked.
//!
//! One difference from Go: a message the runtime could not deliver (its
//! retries exhausted, no dead-letter topic) is left pending rather than
//! acked, so it is redelivered after `processingTimeout` (at least once).
//!
//! Each subscription runs on one worker ([`Delivery::OneWorker`]) with its
//! own connection for the blocking read; publishes and acks use the worker's
//! pipelined connection. Up to `concurrency` messages are processed at once.
//! Redis going away is retried with back-off; consuming resumes by itself.
//! With `redisType: cluster` every command goes to the node owning the
//! topic's stream (the blocking read on its own connection to that node).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use local_sync::semaphore::Semaphore;

use super::{
    Delivery, Features, Handled, Message, MessageHandler, PubSub, PublishRequest, SubscribeRequest,
};
use crate::components::redis::cluster::Redis;
use crate::components::redis::{command, error_text, ping, push_command, Frame, Settings};
use crate::components::{ComponentError, ComponentErrorKind, Metadata};
use crate::net::shutdown::Drain;

/// Stream settings with Go's code defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSettings {
    /// Consumer group and consumer name (`consumerID`, default the app id).
    pub consumer_id: String,
    /// Idle time after which a pending message is reclaimed (60s; 0 disables).
    pub processing_timeout: Duration,
    /// How often pending messages are checked (15s; 0 disables).
    pub redeliver_interval: Duration,
    /// Messages read per `XREADGROUP` (100).
    pub queue_depth: usize,
    /// Messages processed at once per subscription (10).
    pub concurrency: usize,
    /// `MAXLEN ~` on publish.
    pub max_len_approx: Option<u64>,
    /// `MINID ~ now-streamTTL` on publish.
    pub stream_ttl: Option<Duration>,
}

fn count(md: &Metadata, key: &str, default: u64) -> Result<u64, String> {
    match md.get(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{key} {v:?} is not a non-negative integer")),
    }
}

fn duration(md: &Metadata, key: &str, default: Duration) -> Result<Duration, String> {
    crate::components::redis::duration(md, key, default)
}

impl StreamSettings {
    /// Parses the stream metadata; `app_id` is the default consumer id.
    pub fn parse(md: &Metadata, app_id: &str) -> Result<StreamSettings, String> {
        let consumer_id = md
            .get("consumerID")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(app_id)
            .to_owned();
        let max_len = count(md, "maxLenApprox", 0)?;
        let ttl = duration(md, "streamTTL", Duration::ZERO)?;
        if max_len > 0 && !ttl.is_zero() {
            tracing::warn!(
                "pubsub.redis: both maxLenApprox and streamTTL are set; maxLenApprox wins"
            );
        }
        Ok(StreamSettings {
            consumer_id,
            processing_timeout: duration(md, "processingTimeout", Duration::from_secs(60))?,
            redeliver_interval: duration(md, "redeliverInterval", Duration::from_secs(15))?,
            queue_depth: count(md, "queueDepth", 100)?.max(1) as usize,
            concurrency: count(md, "concurrency", 10)?.max(1) as usize,
            max_len_approx: (max_len > 0).then_some(max_len),
            stream_ttl: (!ttl.is_zero()).then_some(ttl),
        })
    }
}

/// Parsed once; builds each worker's instance.
pub struct RedisPubSubFactory {
    settings: Arc<Settings>,
    streams: Arc<StreamSettings>,
}

impl RedisPubSubFactory {
    /// Parses metadata and checks that Redis answers (Go's Init pings too).
    pub fn new(metadata: &Metadata, app_id: &str) -> Result<Self, String> {
        let settings = Settings::parse(metadata)?;
        let streams = StreamSettings::parse(metadata, app_id)?;
        ping(&settings, &[]).map_err(|e| e.go_message("redis streams", &settings.host))?;
        Ok(Self {
            settings: Arc::new(settings),
            streams: Arc::new(streams),
        })
    }

    /// This worker's instance.
    pub fn build(&self) -> RedisPubSub {
        RedisPubSub {
            client: Rc::new(Redis::new(self.settings.clone())),
            settings: self.settings.clone(),
            streams: self.streams.clone(),
        }
    }
}

/// One worker's broker.
pub struct RedisPubSub {
    client: Rc<Redis>,
    settings: Arc<Settings>,
    streams: Arc<StreamSettings>,
}

fn failed(e: impl std::fmt::Display) -> ComponentError {
    ComponentError::new(
        ComponentErrorKind::Unavailable,
        format!("redis streams: error from publish: {e}"),
    )
}

impl PubSub for RedisPubSub {
    fn features(&self) -> Features {
        Features::default()
    }

    fn delivery(&self) -> Delivery {
        Delivery::OneWorker
    }

    async fn publish(&self, req: PublishRequest) -> Result<(), ComponentError> {
        let metadata = serde_json::to_vec(&req.metadata).map_err(failed)?;
        let mut args: Vec<Vec<u8>> = vec![b"XADD".to_vec(), req.topic.into_bytes()];
        if let Some(n) = self.streams.max_len_approx {
            args.extend([
                b"MAXLEN".to_vec(),
                b"~".to_vec(),
                n.to_string().into_bytes(),
            ]);
        } else if let Some(ttl) = self.streams.stream_ttl {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let min = now.saturating_sub(ttl).as_millis();
            args.extend([
                b"MINID".to_vec(),
                b"~".to_vec(),
                min.to_string().into_bytes(),
            ]);
        }
        args.push(b"*".to_vec());
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut buf = BytesMut::new();
        let mut all = refs;
        all.extend_from_slice(&[b"data", &req.data, b"metadata", &metadata]);
        push_command(&mut buf, &all);
        let reply = self
            .client
            .call_keyed(&args[1], buf)
            .await
            .map_err(failed)?;
        match error_text(&reply) {
            Some(e) => Err(failed(e)),
            None => Ok(()),
        }
    }

    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn MessageHandler>,
    ) -> Result<(), ComponentError> {
        let consumer = Rc::new(Consumer {
            topic: req.topic,
            streams: self.streams.clone(),
            acks: self.client.clone(),
            // The blocking read gets its own connection, with room for the block.
            reader: Redis::new(Arc::new(Settings {
                read_timeout: self.settings.read_timeout * 2 + Duration::from_secs(1),
                ..(*self.settings).clone()
            })),
            handler,
            slots: Rc::new(Semaphore::new(self.streams.concurrency)),
            in_flight: RefCell::new(HashSet::new()),
            drain: req.drain,
            block: self.settings.read_timeout,
        });
        monoio::spawn(consumer.clone().poll_loop());
        let s = &self.streams;
        if !s.processing_timeout.is_zero() && !s.redeliver_interval.is_zero() {
            monoio::spawn(consumer.reclaim_loop());
        }
        Ok(())
    }
}

// === impl Consumer ===

/// One subscription's consumer.
struct Consumer {
    topic: String,
    streams: Arc<StreamSettings>,
    /// The worker's pipelined connection (acks, pending checks).
    acks: Rc<Redis>,
    /// The connection for `XREADGROUP … BLOCK`.
    reader: Redis,
    handler: Rc<dyn MessageHandler>,
    /// Bounds messages processed at once (`concurrency`).
    slots: Rc<Semaphore>,
    /// Ids being processed here, never reclaimed meanwhile.
    in_flight: RefCell<HashSet<Bytes>>,
    drain: Drain,
    block: Duration,
}

/// One stream entry.
struct Entry {
    id: Bytes,
    data: Bytes,
    metadata: HashMap<String, String>,
}

/// Back-off after a failed read, doubling to a cap.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

impl Consumer {
    fn group_args(&self) -> [&[u8]; 2] {
        [self.topic.as_bytes(), self.streams.consumer_id.as_bytes()]
    }

    /// `XGROUP CREATE … 0 MKSTREAM`; an existing group is fine.
    async fn create_group(&self) -> Result<(), String> {
        let [topic, group] = self.group_args();
        let reply = self
            .reader
            .call_keyed(
                topic,
                command(&[b"XGROUP", b"CREATE", topic, group, b"0", b"MKSTREAM"]),
            )
            .await
            .map_err(|e| e.to_string())?;
        match error_text(&reply) {
            Some(e) if !e.starts_with("BUSYGROUP") => Err(e.to_owned()),
            _ => Ok(()),
        }
    }

    async fn poll_loop(self: Rc<Self>) {
        let mut backoff = RETRY_FIRST;
        let mut have_group = false;
        while !self.drain.is_closing() {
            if !have_group {
                match self.create_group().await {
                    Ok(()) => have_group = true,
                    Err(e) => {
                        tracing::warn!(topic = %self.topic, error = %e, "redis streams: cannot create the consumer group; retrying");
                        if self.pause(&mut backoff).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            let read = monoio::select! {
                r = self.read_new() => r,
                _ = self.drain.closing() => return,
            };
            match read {
                Ok(entries) => {
                    backoff = RETRY_FIRST;
                    self.dispatch(entries).await;
                }
                Err(e) => {
                    if e.contains("NOGROUP") {
                        tracing::warn!(topic = %self.topic, group = %self.streams.consumer_id, "redis streams: consumer group missing; recreating it");
                        have_group = false;
                    } else {
                        tracing::error!(topic = %self.topic, error = %e, "redis streams: error reading from stream");
                    }
                    if self.pause(&mut backoff).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sleeps the back-off (doubling it); true when the worker is draining.
    async fn pause(&self, backoff: &mut Duration) -> bool {
        let closing = monoio::select! {
            _ = monoio::time::sleep(*backoff) => false,
            _ = self.drain.closing() => true,
        };
        *backoff = (*backoff * 2).min(RETRY_MAX);
        closing
    }

    async fn read_new(&self) -> Result<Vec<Entry>, String> {
        let [topic, group] = self.group_args();
        let depth = self.streams.queue_depth.to_string();
        let block = self.block.as_millis().max(1).to_string();
        let reply = self
            .reader
            .call_keyed(
                topic,
                command(&[
                    b"XREADGROUP",
                    b"GROUP",
                    group,
                    group,
                    b"COUNT",
                    depth.as_bytes(),
                    b"BLOCK",
                    block.as_bytes(),
                    b"STREAMS",
                    topic,
                    b">",
                ]),
            )
            .await
            .map_err(|e| e.to_string())?;
        if let Some(e) = error_text(&reply) {
            return Err(e.to_owned());
        }
        // [[stream, [[id, [field, value, …]], …]]] or nil after the block.
        let mut out = Vec::new();
        if let Frame::Array(streams) = reply {
            for s in streams {
                if let Frame::Array(mut parts) = s {
                    if parts.len() == 2 {
                        if let Some(Frame::Array(entries)) = parts.pop() {
                            out.extend(entries.into_iter().filter_map(entry));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Hands entries to the handler, at most `concurrency` at once.
    async fn dispatch(self: &Rc<Self>, entries: Vec<Entry>) {
        for e in entries {
            if !self.in_flight.borrow_mut().insert(e.id.clone()) {
                continue;
            }
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                return;
            };
            let guard = self.drain.track();
            let me = self.clone();
            monoio::spawn(async move {
                let msg = Message {
                    topic: me.topic.clone(),
                    data: e.data,
                    content_type: None,
                    metadata: e.metadata,
                };
                let handled = me.handler.handle(msg).await;
                if handled == Handled::Ack {
                    me.ack(&e.id).await;
                }
                me.in_flight.borrow_mut().remove(&e.id);
                drop(permit);
                drop(guard);
            });
        }
    }

    async fn ack(&self, id: &[u8]) {
        let [topic, group] = self.group_args();
        match self
            .acks
            .call_keyed(topic, command(&[b"XACK", topic, group, id]))
            .await
        {
            Ok(r) if error_text(&r).is_none() => {}
            Ok(r) => {
                tracing::error!(topic = %self.topic, error = error_text(&r).unwrap_or(""), "redis streams: XACK refused")
            }
            Err(e) => {
                tracing::error!(topic = %self.topic, error = %e, "redis streams: XACK failed; the message will be redelivered")
            }
        }
    }

    async fn reclaim_loop(self: Rc<Self>) {
        loop {
            self.reclaim().await;
            let stop = monoio::select! {
                _ = monoio::time::sleep(self.streams.redeliver_interval) => false,
                _ = self.drain.closing() => true,
            };
            if stop {
                return;
            }
        }
    }

    /// `XPENDING` → ids idle long enough (and not ours in flight) →
    /// `XCLAIM` → redeliver; ids whose entries are gone are acked.
    async fn reclaim(self: &Rc<Self>) {
        let [topic, group] = self.group_args();
        let depth = self.streams.queue_depth.to_string();
        let pending = match self
            .acks
            .call_keyed(
                topic,
                command(&[b"XPENDING", topic, group, b"-", b"+", depth.as_bytes()]),
            )
            .await
        {
            Ok(Frame::Array(items)) => items,
            Ok(_) | Err(_) => return,
        };
        let min_idle = self.streams.processing_timeout.as_millis() as i64;
        let ids: Vec<Bytes> = pending
            .into_iter()
            .filter_map(|p| match p {
                Frame::Array(f) if f.len() >= 3 => match (&f[0], &f[2]) {
                    (Frame::BulkString(id) | Frame::SimpleString(id), Frame::Integer(idle))
                        if *idle >= min_idle =>
                    {
                        Some(id.clone())
                    }
                    _ => None,
                },
                _ => None,
            })
            .filter(|id| !self.in_flight.borrow().contains(id))
            .collect();
        if ids.is_empty() {
            return;
        }
        let idle = min_idle.to_string();
        let mut args: Vec<&[u8]> = vec![b"XCLAIM", topic, group, group, idle.as_bytes()];
        args.extend(ids.iter().map(|i| &i[..]));
        let claimed = match self.acks.call_keyed(topic, command(&args)).await {
            Ok(Frame::Array(items)) => items,
            Ok(_) | Err(_) => return,
        };
        let entries: Vec<Entry> = claimed.into_iter().filter_map(entry).collect();
        // Claimed ids with no entry were trimmed from the stream: ack them.
        let found: HashSet<&Bytes> = entries.iter().map(|e| &e.id).collect();
        for id in ids.iter().filter(|i| !found.contains(i)) {
            self.ack(id).await;
        }
        if !entries.is_empty() {
            tracing::info!(topic = %self.topic, count = entries.len(), "redis streams: redelivering pending messages");
        }
        self.dispatch(entries).await;
    }
}

/// `[id, [field, value, …]]` → an entry (`data`, `metadata` JSON).
fn entry(f: Frame) -> Option<Entry> {
    let Frame::Array(mut parts) = f else {
        return None;
    };
    if parts.len() != 2 {
        return None;
    }
    let fields = parts.pop()?;
    let id = match parts.pop()? {
        Frame::BulkString(b) | Frame::SimpleString(b) => b,
        _ => return None,
    };
    let mut e = Entry {
        id,
        data: Bytes::new(),
        metadata: HashMap::new(),
    };
    // A trimmed entry comes back with nil fields.
    let Frame::Array(kv) = fields else {
        return None;
    };
    let mut it = kv.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let (Frame::BulkString(k), Frame::BulkString(v)) = (k, v) else {
            continue;
        };
        match &k[..] {
            b"data" => e.data = v,
            b"metadata" => match serde_json::from_slice(&v) {
                Ok(m) => e.metadata = m,
                Err(err) => tracing::warn!(
                    "redis streams: could not read the metadata of message {:?}: {err}",
                    String::from_utf8_lossy(&e.id)
                ),
            },
            _ => {}
        }
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(pairs)
    }

    #[test]
    fn settings_with_go_defaults() {
        let s = StreamSettings::parse(&md(&[]), "app").unwrap();
        assert_eq!(s.consumer_id, "app");
        assert_eq!(s.processing_timeout, Duration::from_secs(60));
        assert_eq!(s.redeliver_interval, Duration::from_secs(15));
        assert_eq!((s.queue_depth, s.concurrency), (100, 10));
        let s = StreamSettings::parse(
            &md(&[
                ("consumerID", "grp"),
                ("processingTimeout", "1500"),
                ("redeliverInterval", "2s"),
                ("maxLenApprox", "10"),
            ]),
            "app",
        )
        .unwrap();
        assert_eq!(s.consumer_id, "grp");
        assert_eq!(s.processing_timeout, Duration::from_millis(1500));
        assert_eq!(s.redeliver_interval, Duration::from_secs(2));
        assert_eq!(s.max_len_approx, Some(10));
        assert!(StreamSettings::parse(&md(&[("queueDepth", "x")]), "a").is_err());
    }

    #[test]
    fn entries_parse() {
        let bulk = |s: &str| Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()));
        let e = entry(Frame::Array(vec![
            bulk("1-0"),
            Frame::Array(vec![
                bulk("data"),
                bulk("{}"),
                bulk("metadata"),
                bulk(r#"{"a":"b"}"#),
            ]),
        ]))
        .unwrap();
        assert_eq!((&e.id[..], &e.data[..]), (&b"1-0"[..], &b"{}"[..]));
        assert_eq!(e.metadata["a"], "b");
        assert!(entry(Frame::Array(vec![bulk("2-0"), Frame::Null])).is_none());
    }
}
