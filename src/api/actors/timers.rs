//! In-memory actor timers (Go: `pkg/actors/timers`,
//! `pkg/actors/internal/timers/inmemory`): keyed `type||id||name` (a new
//! timer of the same name replaces the old one), each a task on the worker
//! that registered it. A fire goes through [`super::call_reminder`], so it
//! waits for the actor's turn and activates the actor if it is idle; a
//! `X-DaprReminderCancel: true` answer stops the timer, as do its repeats,
//! its ttl and `DELETE …/timers/{name}`.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use dashmap::DashMap;

use super::schedule::Schedule;
use crate::api::Ctx;
use crate::proto::dapr::proto::internals::v1 as internals;

/// A registered timer; replaced or deleted timers find themselves no
/// longer current and stop.
struct Entry {
    stopped: AtomicBool,
}

/// Every worker's timers.
#[derive(Default)]
pub struct Timers {
    entries: DashMap<String, Arc<Entry>>,
}

impl Timers {
    /// Registered timers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Stops `type||id||name` (nothing when there is none, as Go).
    pub fn delete(&self, actor_type: &str, actor_id: &str, name: &str) {
        if let Some((_, e)) = self.entries.remove(&key(actor_type, actor_id, name)) {
            e.stopped.store(true, Ordering::Release);
        }
    }

    fn is_current(&self, key: &str, entry: &Arc<Entry>) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| Arc::ptr_eq(&e, entry))
    }

    fn remove_if_current(&self, key: &str, entry: &Arc<Entry>) {
        self.entries.remove_if(key, |_, e| Arc::ptr_eq(e, entry));
    }
}

fn key(actor_type: &str, actor_id: &str, name: &str) -> String {
    let mut k = super::actor_key(actor_type, actor_id);
    k.push_str(super::SEPARATOR);
    k.push_str(name);
    k
}

/// A timer to create.
pub struct NewTimer {
    /// Actor type.
    pub actor_type: String,
    /// Actor id.
    pub actor_id: String,
    /// Timer name.
    pub name: String,
    /// `dueTime` as given.
    pub due_time: String,
    /// `period` as given.
    pub period: String,
    /// `ttl` as given.
    pub ttl: String,
    /// The method the app's SDK calls.
    pub callback: String,
    /// The raw JSON `data` (empty: none).
    pub data: Bytes,
}

/// `Any(BytesValue(data))`, as Go stores reminder and timer data.
pub fn bytes_any(data: &[u8]) -> Option<prost_types::Any> {
    (!data.is_empty()).then(|| prost_types::Any {
        type_url: "type.googleapis.com/google.protobuf.BytesValue".into(),
        value: prost::Message::encode_to_vec(&data.to_vec()),
    })
}

/// Registers `t` (Go's `timers.Create`): the type must be hosted here.
pub fn create(ctx: &Rc<Ctx>, t: NewTimer) -> Result<(), String> {
    let actors = &ctx.shared.actors;
    if !actors.is_hosted(&t.actor_type) {
        return Err(format!(
            "can't create timer for actor {}: actor type not registered",
            super::actor_key(&t.actor_type, &t.actor_id)
        ));
    }
    let k = key(&t.actor_type, &t.actor_id, &t.name);
    let schedule = Schedule::new(&t.due_time, &t.period, &t.ttl, SystemTime::now())
        .map_err(|e| e.message("timer", &k))?;
    let entry = Arc::new(Entry {
        stopped: AtomicBool::new(false),
    });
    if let Some(old) = actors.timers.entries.insert(k.clone(), entry.clone()) {
        old.stopped.store(true, Ordering::Release);
    }
    let fire = internals::Reminder {
        actor_id: t.actor_id,
        actor_type: t.actor_type,
        name: t.name,
        data: bytes_any(&t.data),
        period: t.period,
        due_time: t.due_time,
        is_timer: true,
        ..Default::default()
    };
    monoio::spawn(run(ctx.clone(), k, entry, fire, t.callback, schedule));
    Ok(())
}

async fn run(
    ctx: Rc<Ctx>,
    key: String,
    entry: Arc<Entry>,
    fire: internals::Reminder,
    callback: String,
    mut schedule: Schedule,
) {
    let actors = &ctx.shared.actors;
    while let Some(at) = schedule.next() {
        let wait = at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        monoio::select! {
            _ = monoio::time::sleep(wait) => {}
            _ = ctx.drain.closing() => return,
        }
        if entry.stopped.load(Ordering::Acquire) || !actors.timers.is_current(&key, &entry) {
            return;
        }
        let result = super::call_reminder(&ctx, &fire, Some(&callback), false).await;
        ctx.metrics
            .record_actor_timer_fired(&fire.actor_type, result.is_ok());
        match result {
            Err(e) if e.text() == super::callback::REMINDER_CANCELED => {
                tracing::debug!("Timer {key} canceled by the actor");
                break;
            }
            Err(e) => tracing::error!("Error executing timer: {}", e.text()),
            Ok(()) => {}
        }
        schedule.tick();
    }
    if !entry.stopped.load(Ordering::Acquire) {
        tracing::info!("Timer {key} has been completed");
    }
    actors.timers.remove_if_current(&key, &entry);
}
