//! `pubsub.in-memory`: the embedded default broker.
//!
//! Delivery runs on the publishing worker ([`Delivery::PublishingWorker`]):
//! the runtime subscribes on every worker, each worker keeps its own
//! subscriber table, and a publish hands the message to that worker's
//! subscribers as spawned tasks. No message crosses a core and no lock is
//! taken. As in Go's in-memory broker, there is no redelivery: a message the
//! runtime could not deliver is logged and dropped. Deliveries in flight
//! hold their subscription's drain latch, so shutdown lets them finish.
//!
//! A subscription that must see every worker's publishes
//! ([`Scope::AllWorkers`]: a gRPC streaming subscription, which lives on the
//! worker holding its stream) is registered in a table shared by all
//! workers; publishers forward matching messages to it over a channel, and
//! its worker delivers them. The table is consulted only while such a
//! subscription exists.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::{
    topic_matches, Delivery, Features, Handled, Message, MessageHandler, PubSub, PublishRequest,
    Scope, SubscribeRequest,
};
use crate::components::{ComponentError, Metadata};
use crate::net::shutdown::Drain;

/// Builds per-worker instances; owns the cross-worker table.
#[derive(Default)]
pub struct InMemoryPubSubFactory {
    remote: Arc<RemoteTable>,
}

impl InMemoryPubSubFactory {
    /// A factory; the component takes no metadata.
    pub fn new(_metadata: &Metadata) -> Self {
        Self::default()
    }

    /// This worker's broker.
    pub fn build(&self) -> InMemoryPubSub {
        InMemoryPubSub {
            subscribers: RefCell::new(Vec::new()),
            remote: self.remote.clone(),
        }
    }
}

/// Subscriptions that take messages from every worker.
#[derive(Default)]
struct RemoteTable {
    subs: RwLock<Vec<RemoteSub>>,
    /// `subs.len()`, read without the lock on every publish.
    len: AtomicUsize,
    next_id: AtomicU64,
}

struct RemoteSub {
    id: u64,
    pattern: String,
    tx: flume::Sender<Message>,
}

impl RemoteTable {
    fn insert(&self, pattern: String, tx: flume::Sender<Message>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subs = self.subs.write().unwrap_or_else(PoisonError::into_inner);
        subs.push(RemoteSub { id, pattern, tx });
        self.len.store(subs.len(), Ordering::Release);
        id
    }

    fn remove(&self, id: u64) {
        let mut subs = self.subs.write().unwrap_or_else(PoisonError::into_inner);
        subs.retain(|s| s.id != id);
        self.len.store(subs.len(), Ordering::Release);
    }

    fn forward(&self, msg: &Message) {
        if self.len.load(Ordering::Acquire) == 0 {
            return;
        }
        let subs = self.subs.read().unwrap_or_else(PoisonError::into_inner);
        for s in subs
            .iter()
            .filter(|s| topic_matches(&s.pattern, &msg.topic))
        {
            // Unbounded: never blocks a publisher; a closed receiver is being removed.
            let _ = s.tx.send(msg.clone());
        }
    }
}

struct Subscriber {
    pattern: String,
    handler: Rc<dyn MessageHandler>,
    drain: Drain,
}

/// One worker's bus.
pub struct InMemoryPubSub {
    subscribers: RefCell<Vec<Rc<Subscriber>>>,
    remote: Arc<RemoteTable>,
}

/// Runs one delivery as a task holding the subscription's drain latch.
fn spawn_delivery(sub: Rc<Subscriber>, msg: Message) {
    let guard = sub.drain.track();
    monoio::spawn(async move {
        if sub.handler.handle(msg).await == Handled::Nack {
            tracing::warn!(topic = %sub.pattern, "in-memory pub/sub: message not delivered; dropped (this broker does not redeliver)");
        }
        drop(guard);
    });
}

impl PubSub for InMemoryPubSub {
    fn features(&self) -> Features {
        Features::SUBSCRIBE_WILDCARDS
    }

    fn delivery(&self) -> Delivery {
        Delivery::PublishingWorker
    }

    async fn publish(&self, req: PublishRequest) -> Result<(), ComponentError> {
        let msg = Message {
            topic: req.topic,
            data: req.data,
            content_type: req.content_type,
            metadata: req.metadata,
        };
        self.subscribers
            .borrow_mut()
            .retain(|s| !s.drain.is_closing());
        let targets: Vec<Rc<Subscriber>> = self
            .subscribers
            .borrow()
            .iter()
            .filter(|s| topic_matches(&s.pattern, &msg.topic))
            .cloned()
            .collect();
        for sub in targets {
            spawn_delivery(sub, msg.clone());
        }
        self.remote.forward(&msg);
        Ok(())
    }

    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn MessageHandler>,
    ) -> Result<(), ComponentError> {
        let sub = Rc::new(Subscriber {
            pattern: req.topic,
            handler,
            drain: req.drain,
        });
        match req.scope {
            Scope::ThisWorker => self.subscribers.borrow_mut().push(sub),
            Scope::AllWorkers => {
                let (tx, rx) = flume::unbounded();
                let id = self.remote.insert(sub.pattern.clone(), tx);
                let remote = self.remote.clone();
                monoio::spawn(async move {
                    loop {
                        let msg = monoio::select! {
                            m = rx.recv_async() => m,
                            _ = sub.drain.closing() => break,
                        };
                        match msg {
                            Ok(msg) => spawn_delivery(sub.clone(), msg),
                            Err(_) => break,
                        }
                    }
                    remote.remove(id);
                });
            }
        }
        Ok(())
    }
}
