//! `configuration.redis`: contrib's Redis configuration store, in Go's
//! layout, so values written for a Go sidecar read the same here.
//!
//! Layout: every item is a plain Redis string at its own key (no app
//! prefix) holding `value||version`, the version optional. Reads:
//! `KEYS *` when no key is named (as contrib), then one `MGET`; keys that
//! are missing, not strings, or hold an empty value are left out.
//!
//! Subscriptions use keyspace notifications. Each subscription opens its
//! own pub/sub connection (see [`Subscriber`]), makes sure Redis publishes
//! the notifications contrib asks for (`notify-keyspace-events` with
//! `Kg$xe`: keyspace events for generic, string, expired and evicted
//! changes), then `SUBSCRIBE __keyspace@<db>__:<key>` per key, or
//! `PSUBSCRIBE __keyspace@<db>__:*` for all keys. On each event the key is
//! read again (`GET` on the worker's pipelined connection) and the handler
//! gets `{id, items: {key: item}}`; a key that is gone (or holds an empty
//! value) is sent as an empty item, as contrib does.
//!
//! Where we differ from contrib, on purpose:
//! - Go's `CONFIG SET notify-keyspace-events Kg$xe` replaces whatever the
//!   operator configured; we read the setting first and only add the flags
//!   that are missing (with none set, the result is Go's).
//! - Go answers the subscription id before its `SUBSCRIBE` reaches Redis,
//!   so a change made right after can be missed, and a Redis that is down
//!   is not reported. We subscribe first: the id comes back once Redis
//!   listens, and an unreachable Redis fails the subscribe with its error.
//! - A change to a key that is not a string (a state store's hash, say) is
//!   not reported as a deleted item; Go sends an empty item for it.
//!
//! `redisType: cluster` is refused at start-up: keyspace notifications
//! are local to each node, so a subscription would have to listen on every
//! master (Go subscribes on one node and misses the others' changes), and
//! Go's `MGET` of keys in several slots fails with `CROSSSLOT`.
//!
//! When the connection breaks, the subscription reconnects with back-off
//! (200 ms doubling to 5 s) and subscribes again; an idle connection is
//! checked with `PING` every 30 s. It ends on unsubscribe (from any
//! worker) or when its worker drains.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::{
    split_value_version, ConfigurationStore, GetRequest, Item, Items, SubscribeRequest,
    Subscriptions, UpdateEvent, UpdateHandler,
};
use crate::components::redis::client::{self, Client};
use crate::components::redis::subscriber::Subscriber;
use crate::components::redis::{as_bytes, command, error_text, ping, Frame, Settings};
use crate::components::{ComponentError, ComponentErrorKind, Metadata};
use crate::net::shutdown::{ConnGuard, Drain, Latch};

/// The keyspace notification classes contrib enables: `K` keyspace
/// channel; `g` generic (DEL, RENAME, EXPIRE…), `$` strings, `x` expired,
/// `e` evicted.
const NOTIFY_FLAGS: &str = "Kg$xe";
/// Classes `A` stands for.
const ALL_CLASSES: &str = "g$lshzxetd";

/// Idle time after which the subscriber connection is checked with `PING`.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Back-off between reconnection attempts.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Built on the main thread: settings checked, Redis reached.
pub struct RedisConfigurationFactory {
    settings: Arc<Settings>,
    subscriptions: Arc<Subscriptions>,
}

impl RedisConfigurationFactory {
    /// Parses metadata and checks that Redis answers (contrib's init pings).
    pub fn new(metadata: &Metadata) -> Result<Self, String> {
        let settings = Settings::parse(metadata)?;
        if settings.cluster {
            return Err("configuration.redis: redisType \"cluster\" is not supported (keyspace notifications would have to be subscribed on every cluster node); use a single Redis node".to_owned());
        }
        ping(&settings, &[]).map_err(|e| e.go_message("redis store", &settings.host))?;
        Ok(Self {
            settings: Arc::new(settings),
            subscriptions: Arc::default(),
        })
    }

    /// A worker's store, with the worker's pipelined connection.
    pub fn build(&self) -> RedisConfiguration {
        RedisConfiguration {
            client: Rc::new(Client::new(self.settings.clone())),
            settings: self.settings.clone(),
            subscriptions: self.subscriptions.clone(),
        }
    }
}

/// A worker's Redis configuration store.
pub struct RedisConfiguration {
    client: Rc<Client>,
    settings: Arc<Settings>,
    subscriptions: Arc<Subscriptions>,
}

/// A stored string as an item; `None` for an empty value (left out, as Go).
fn item(raw: &[u8]) -> Option<Item> {
    let (value, version) = split_value_version(&String::from_utf8_lossy(raw));
    (!value.is_empty()).then(|| Item {
        value,
        version,
        ..Default::default()
    })
}

impl ConfigurationStore for RedisConfiguration {
    async fn get(&self, req: GetRequest) -> Result<Items, ComponentError> {
        let mut keys = req.keys;
        if keys.is_empty() {
            let reply = self
                .client
                .call(command(&[b"KEYS", b"*"]))
                .await
                .map_err(ComponentError::from)?;
            keys = match reply {
                Frame::Array(all) => all
                    .iter()
                    .filter_map(as_bytes)
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect(),
                other => {
                    return Err(ComponentError::new(
                        ComponentErrorKind::Other,
                        format!(
                            "failed to get all keys: {}",
                            error_text(&other).unwrap_or("unexpected reply")
                        ),
                    ))
                }
            };
        }
        let mut items = Items::new();
        if keys.is_empty() {
            return Ok(items);
        }
        let mut args: Vec<&[u8]> = Vec::with_capacity(keys.len() + 1);
        args.push(b"MGET");
        args.extend(keys.iter().map(|k| k.as_bytes()));
        let fail = |kind, why: &str| {
            ComponentError::new(
                kind,
                format!(
                    "fail to get configuration for redis key={}, error is {why}",
                    keys.join(",")
                ),
            )
        };
        let reply = match self.client.call(command(&args)).await {
            Ok(r) => r,
            Err(e) => return Err(fail(ComponentError::from(e.clone()).kind(), &e.message)),
        };
        let Frame::Array(values) = reply else {
            let why = error_text(&reply).unwrap_or("unexpected reply");
            return Err(fail(ComponentErrorKind::Other, why));
        };
        // MGET answers nil for missing keys and for keys that are not strings.
        for (key, value) in keys.iter().zip(values.iter()) {
            if let Some(item) = as_bytes(value).and_then(item) {
                items.insert(key.clone(), item);
            }
        }
        Ok(items)
    }

    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn UpdateHandler>,
    ) -> Result<String, ComponentError> {
        let id = uuid::Uuid::new_v4().to_string();
        let prefix = format!("__keyspace@{}__:", self.settings.db);
        let (channels, pattern) = if req.keys.is_empty() {
            (vec![format!("{prefix}*")], true)
        } else {
            let mut keys: Vec<String> = req.keys.iter().map(|k| format!("{prefix}{k}")).collect();
            keys.sort();
            keys.dedup();
            (keys, false)
        };
        let watch = Rc::new(Watch {
            id: id.clone(),
            client: self.client.clone(),
            settings: self.settings.clone(),
            prefix,
            channels,
            pattern,
            handler,
            _live: req.drain.track(),
            drain: req.drain,
            stop: self.subscriptions.add(&id),
            subscriptions: self.subscriptions.clone(),
        });
        let conn = match watch.open().await {
            Ok(c) => c,
            Err(e) => {
                self.subscriptions.remove(&id);
                return Err(ComponentError::from(e));
            }
        };
        tracing::debug!(id = %id, channels = ?watch.channels, "configuration subscription started");
        monoio::spawn(watch.run(conn));
        Ok(id)
    }

    fn unsubscribe(&self, id: &str) -> Result<(), ComponentError> {
        self.subscriptions.cancel(id)
    }
}

// === impl Watch ===

/// One subscription's watcher, on the worker that made it.
struct Watch {
    id: String,
    client: Rc<Client>,
    settings: Arc<Settings>,
    /// `__keyspace@<db>__:`
    prefix: String,
    channels: Vec<String>,
    pattern: bool,
    handler: Rc<dyn UpdateHandler>,
    drain: Drain,
    /// Counts the subscription as a live connection of the worker, so a
    /// draining worker lets it close its Redis connection before stopping.
    _live: ConnGuard,
    stop: Arc<Latch>,
    subscriptions: Arc<Subscriptions>,
}

/// What woke the watcher.
enum Step {
    Frame(Result<Frame, client::Error>),
    Idle,
    Stop,
}

impl Watch {
    /// A subscribed connection: notifications enabled, channels confirmed.
    async fn open(&self) -> Result<Subscriber, client::Error> {
        let mut sub = Subscriber::connect(self.settings.clone()).await?;
        self.enable_notifications(&mut sub).await?;
        let verb: &[u8] = if self.pattern {
            b"PSUBSCRIBE"
        } else {
            b"SUBSCRIBE"
        };
        let mut args: Vec<&[u8]> = vec![verb];
        args.extend(self.channels.iter().map(|c| c.as_bytes()));
        sub.send(command(&args)).await?;
        // One confirmation per channel.
        for _ in &self.channels {
            let reply = sub.next_within(self.settings.read_timeout).await?;
            if let Some(e) = error_text(&reply) {
                return Err(client::Error {
                    kind: client::ErrorKind::Protocol,
                    message: format!("redis at {} refused to subscribe: {e}", sub.host()),
                });
            }
        }
        Ok(sub)
    }

    /// Adds contrib's notification flags to the server's setting. A server
    /// that refuses `CONFIG` (managed Redis) is logged, not fatal: the
    /// operator may have enabled notifications already (Go ignores it too).
    async fn enable_notifications(&self, sub: &mut Subscriber) -> Result<(), client::Error> {
        let reply = sub
            .call(command(&[b"CONFIG", b"GET", b"notify-keyspace-events"]))
            .await?;
        let current = match &reply {
            Frame::Array(kv) => kv
                .get(1)
                .and_then(as_bytes)
                .map(|v| String::from_utf8_lossy(v).into_owned()),
            _ => None,
        };
        let Some(current) = current else {
            tracing::warn!(
                reply = error_text(&reply).unwrap_or("unexpected reply"),
                "configuration.redis: cannot read notify-keyspace-events; keyspace notifications must be enabled on the server (Kg$xe)"
            );
            return Ok(());
        };
        let Some(wanted) = merged_flags(&current) else {
            return Ok(());
        };
        let reply = sub
            .call(command(&[
                b"CONFIG",
                b"SET",
                b"notify-keyspace-events",
                wanted.as_bytes(),
            ]))
            .await?;
        if let Some(e) = error_text(&reply) {
            tracing::warn!(error = e, "configuration.redis: cannot set notify-keyspace-events; keyspace notifications must be enabled on the server (Kg$xe)");
        }
        Ok(())
    }

    async fn run(self: Rc<Self>, mut conn: Subscriber) {
        let mut pinged = false;
        loop {
            let idle = if pinged {
                self.settings.read_timeout.max(Duration::from_secs(1))
            } else {
                PING_EVERY
            };
            let step = monoio::select! {
                f = conn.next() => Step::Frame(f),
                _ = monoio::time::sleep(idle) => Step::Idle,
                _ = self.stop.wait() => Step::Stop,
                _ = self.drain.closing() => Step::Stop,
            };
            let broken = match step {
                Step::Stop => break,
                Step::Idle if pinged => Some("no answer to PING".to_owned()),
                Step::Idle => {
                    pinged = true;
                    conn.send(command(&[b"PING"]))
                        .await
                        .err()
                        .map(|e| e.message)
                }
                Step::Frame(Ok(frame)) => {
                    pinged = false;
                    if let Some(key) = self.changed_key(&frame) {
                        let key = key.to_owned();
                        let stopped = monoio::select! {
                            _ = self.notify(key) => false,
                            _ = self.stop.wait() => true,
                            _ = self.drain.closing() => true,
                        };
                        if stopped {
                            break;
                        }
                    }
                    None
                }
                Step::Frame(Err(e)) => Some(e.message),
            };
            if let Some(why) = broken {
                tracing::warn!(id = %self.id, error = %why, "configuration.redis: subscription connection lost; reconnecting");
                match self.reconnect().await {
                    Some(c) => {
                        conn = c;
                        pinged = false;
                    }
                    None => break,
                }
            }
        }
        conn.close().await;
        self.subscriptions.remove(&self.id);
        tracing::debug!(id = %self.id, "configuration subscription ended");
    }

    /// Dials and subscribes again with back-off; `None` once stopped.
    async fn reconnect(&self) -> Option<Subscriber> {
        let mut backoff = RETRY_FIRST;
        loop {
            let stopped = monoio::select! {
                _ = monoio::time::sleep(backoff) => false,
                _ = self.stop.wait() => true,
                _ = self.drain.closing() => true,
            };
            if stopped {
                return None;
            }
            let opened = monoio::select! {
                c = self.open() => Some(c),
                _ = self.stop.wait() => None,
                _ = self.drain.closing() => None,
            };
            match opened? {
                Ok(c) => {
                    tracing::info!(id = %self.id, "configuration.redis: subscription resumed");
                    return Some(c);
                }
                Err(e) => {
                    tracing::warn!(id = %self.id, error = %e, "configuration.redis: cannot resubscribe; retrying");
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// The key a keyspace push names (`message` or `pmessage`), if any.
    fn changed_key<'f>(&self, frame: &'f Frame) -> Option<&'f str> {
        let Frame::Array(parts) = frame else {
            return None;
        };
        let kind = parts.first().and_then(as_bytes)?;
        let channel = match kind {
            b"message" => parts.get(1),
            b"pmessage" => parts.get(2),
            _ => None,
        }
        .and_then(as_bytes)?;
        std::str::from_utf8(channel)
            .ok()?
            .strip_prefix(&self.prefix)
    }

    /// Reads `key` again and hands the change to the handler.
    async fn notify(&self, key: String) {
        let reply = match self.client.call(command(&[b"GET", key.as_bytes()])).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(key = %key, error = %e, "configuration.redis: cannot read the changed key");
                return;
            }
        };
        let item = match &reply {
            Frame::Null => Item::default(),
            Frame::Error(e) if e.starts_with("WRONGTYPE") => return,
            other => match as_bytes(other) {
                Some(raw) => item(raw).unwrap_or_default(),
                None => {
                    tracing::error!(key = %key, reply = ?other, "configuration.redis: cannot read the changed key");
                    return;
                }
            },
        };
        let mut items = Items::new();
        items.insert(key, item);
        self.handler
            .update(UpdateEvent {
                id: self.id.clone(),
                items,
            })
            .await;
    }
}

/// `current` with contrib's notification flags added, or `None` when it
/// has them all already.
fn merged_flags(current: &str) -> Option<String> {
    let has = |c: char| current.contains(c) || (ALL_CLASSES.contains(c) && current.contains('A'));
    let missing: String = NOTIFY_FLAGS.chars().filter(|&c| !has(c)).collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!("{current}{missing}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_flags_are_added_not_replaced() {
        assert_eq!(merged_flags("").as_deref(), Some("Kg$xe"));
        assert_eq!(merged_flags("KA"), None);
        assert_eq!(merged_flags("AK"), None);
        assert_eq!(merged_flags("Ex").as_deref(), Some("ExKg$e"));
        assert_eq!(merged_flags("gxeK$"), None);
        assert_eq!(merged_flags("A").as_deref(), Some("AK"));
    }

    #[test]
    fn empty_values_are_left_out() {
        assert_eq!(item(b""), None);
        assert_eq!(item(b"||3"), None);
        assert_eq!(
            item(b"102||1"),
            Some(Item {
                value: "102".into(),
                version: "1".into(),
                ..Default::default()
            })
        );
    }
}
