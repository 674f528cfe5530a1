//! `pubsub.in-memory`: the embedded default broker.
//!
//! Delivery runs on the publishing worker ([`Delivery::PublishingWorker`]):
//! the runtime subscribes on every worker, each worker keeps its own
//! subscriber table, and a publish hands the message to that worker's
//! subscribers as spawned tasks. No message crosses a core and no lock is
//! taken. As in Go's in-memory broker, there is no redelivery: a message the
//! runtime could not deliver is logged and dropped. Deliveries in flight
//! hold the worker's drain latch, so shutdown lets them finish.

use std::cell::RefCell;
use std::rc::Rc;

use super::{
    topic_matches, Delivery, Features, Handled, Message, MessageHandler, PubSub, PublishRequest,
    SubscribeRequest,
};
use crate::components::{ComponentError, Metadata};
use crate::runtime::shutdown::Drain;

/// Builds per-worker instances (no settings).
#[derive(Debug, Default)]
pub struct InMemoryPubSubFactory;

impl InMemoryPubSubFactory {
    /// A factory; the component takes no metadata.
    pub fn new(_metadata: &Metadata) -> Self {
        Self
    }

    /// This worker's broker.
    pub fn build(&self) -> InMemoryPubSub {
        InMemoryPubSub::default()
    }
}

struct Subscriber {
    pattern: String,
    handler: Rc<dyn MessageHandler>,
    drain: Drain,
}

/// One worker's bus.
#[derive(Default)]
pub struct InMemoryPubSub {
    subscribers: RefCell<Vec<Rc<Subscriber>>>,
}

impl PubSub for InMemoryPubSub {
    fn features(&self) -> Features {
        Features::SUBSCRIBE_WILDCARDS
    }

    fn delivery(&self) -> Delivery {
        Delivery::PublishingWorker
    }

    async fn publish(&self, req: PublishRequest) -> Result<(), ComponentError> {
        let targets: Vec<Rc<Subscriber>> = self
            .subscribers
            .borrow()
            .iter()
            .filter(|s| topic_matches(&s.pattern, &req.topic))
            .cloned()
            .collect();
        for sub in targets {
            let msg = Message {
                topic: req.topic.clone(),
                data: req.data.clone(),
                content_type: req.content_type.clone(),
                metadata: req.metadata.clone(),
            };
            let guard = sub.drain.track();
            monoio::spawn(async move {
                if sub.handler.handle(msg).await == Handled::Nack {
                    tracing::warn!(topic = %sub.pattern, "in-memory pub/sub: message not delivered; dropped (this broker does not redeliver)");
                }
                drop(guard);
            });
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        req: SubscribeRequest,
        handler: Rc<dyn MessageHandler>,
    ) -> Result<(), ComponentError> {
        self.subscribers.borrow_mut().push(Rc::new(Subscriber {
            pattern: req.topic,
            handler,
            drain: req.drain,
        }));
        Ok(())
    }
}
