//! Redis Cluster (`redisType: cluster`), as Go's go-redis `ClusterClient`
//! behaves for the components:
//!
//! - `redisHost` lists seed nodes (`host:port,host:port`); the slot table
//!   (`CLUSTER SLOTS`) is fetched from the first seed (or known node) that
//!   answers, at first use;
//! - each command goes to the master owning its key's hash slot (CRC16 of
//!   the key, or of its `{hashtag}`, mod 16384), over one pipelined
//!   [`Client`] per node and worker;
//! - `MOVED` patches the slot, schedules a reload of the whole table in the
//!   background and retries on the named node; `ASK` retries there after
//!   `ASKING`; up to [`MAX_REDIRECTS`] redirections per call (go-redis' default);
//! - a node that is down fails its calls with the client's
//!   [`ErrorKind::Unavailable`] (and schedules a reload, in case the cluster
//!   promoted a replica); its client dials again by itself once it is back.
//!
//! [`Redis`] is what components hold: the plain node client or a cluster,
//! told apart by one `match` per call so the node path costs nothing more.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use local_sync::semaphore::Semaphore;

use super::client::{Client, Error, ErrorKind};
use super::{as_bytes, command, error_text, Frame, Settings};

/// Hash slots in a Redis cluster.
pub const SLOTS: usize = 16384;

/// Redirections followed per call (go-redis' `MaxRedirects` default).
pub const MAX_REDIRECTS: usize = 3;

/// Minimum time between two background reloads of the slot table.
const RELOAD_HOLD_OFF: Duration = Duration::from_millis(100);

/// A slot no known node serves.
const UNSERVED: u16 = u16::MAX;

/// The error go-redis returns for a transaction over several slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16: [u16; 256] = crc16_table();

/// CRC16-CCITT (XModem): polynomial 0x1021, initial value 0, as Redis.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16[usize::from((crc >> 8) as u8 ^ b)]
    })
}

/// The part of `key` that is hashed: the text between the first `{` and
/// the next `}` when that is not empty, else the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The hash slot of `key`.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS as u16 - 1)
}

/// Whether every key hashes to one slot (true for none).
pub fn same_slot<'k>(mut keys: impl Iterator<Item = &'k [u8]>) -> bool {
    match keys.next() {
        None => true,
        Some(first) => {
            let slot = key_slot(first);
            keys.all(|k| key_slot(k) == slot)
        }
    }
}

type Reply = Result<Vec<Frame>, Error>;

// === Redis ===

/// A component's handle on Redis: one server, or a cluster.
pub enum Redis {
    /// `redisType: node` (the default).
    Node(Client),
    /// `redisType: cluster`.
    Cluster(Cluster),
}

impl Redis {
    /// The handle `settings` ask for; nothing is dialled until first use.
    pub fn new(settings: Arc<Settings>) -> Redis {
        if settings.cluster {
            Redis::Cluster(Cluster::new(settings))
        } else {
            Redis::Node(Client::new(settings))
        }
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Redis::Cluster(_))
    }

    /// The server address (or the seed list), for messages.
    pub fn host(&self) -> &str {
        match self {
            Redis::Node(c) => c.host(),
            Redis::Cluster(c) => &c.inner.settings.host,
        }
    }

    /// Sends `bytes` (`replies` commands, all about `key`: in a cluster
    /// they go to the node owning `key`'s slot) and returns their replies.
    /// Error replies are frames, not `Err`.
    pub async fn send_keyed(&self, key: &[u8], bytes: BytesMut, replies: usize) -> Reply {
        match self {
            Redis::Node(c) => c.send(bytes, replies).await,
            Redis::Cluster(c) => c.send(key, bytes, replies).await,
        }
    }

    /// Sends one command about `key` and returns its reply.
    pub async fn call_keyed(&self, key: &[u8], cmd: BytesMut) -> Result<Frame, Error> {
        match self {
            Redis::Node(c) => c.call(cmd).await,
            Redis::Cluster(c) => c.call(key, cmd).await,
        }
    }
}

// === Cluster ===

/// A worker's handle on a Redis cluster: one [`Client`] per node.
pub struct Cluster {
    inner: Rc<Inner>,
}

struct Inner {
    /// The component's settings (`host` lists the seeds).
    settings: Arc<Settings>,
    table: RefCell<Table>,
    /// One reload at a time.
    reloading: Semaphore,
    /// Set while a background reload is scheduled or running.
    reload_pending: Cell<bool>,
    last_reload: Cell<Option<Instant>>,
}

/// Who serves which slot.
struct Table {
    /// Every node of the last reload (and any a redirection named since).
    nodes: Vec<Rc<Client>>,
    /// Index into `nodes` per slot, or [`UNSERVED`].
    slots: Box<[u16]>,
    loaded: bool,
}

/// The host part of `host:port` (as the node wrote it: brackets kept).
fn host_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(h, _)| h)
}

/// A redirection reply.
enum Redirect {
    Moved(u16, String),
    Ask(String),
}

/// The `MOVED`/`ASK` in `frames`, with the address completed from
/// `replier` when Redis left the host out (`:7001`).
fn redirect(frames: &[Frame], replier: &str) -> Option<Redirect> {
    frames.iter().filter_map(error_text).find_map(|e| {
        let mut parts = e.split_ascii_whitespace();
        let kind = parts.next()?;
        let slot: u16 = parts.next()?.parse().ok()?;
        let addr = parts.next()?;
        let addr = if addr.starts_with(':') {
            format!("{}{addr}", host_of(replier))
        } else {
            addr.to_owned()
        };
        match kind {
            "MOVED" if usize::from(slot) < SLOTS => Some(Redirect::Moved(slot, addr)),
            "ASK" => Some(Redirect::Ask(addr)),
            _ => None,
        }
    })
}

impl Cluster {
    /// A cluster handle that loads its slot table on first use.
    pub fn new(settings: Arc<Settings>) -> Cluster {
        Cluster {
            inner: Rc::new(Inner {
                settings,
                table: RefCell::new(Table {
                    nodes: Vec::new(),
                    slots: vec![UNSERVED; SLOTS].into_boxed_slice(),
                    loaded: false,
                }),
                reloading: Semaphore::new(1),
                reload_pending: Cell::new(false),
                last_reload: Cell::new(None),
            }),
        }
    }

    /// Sends `bytes` (`replies` commands about `key`) to the node owning
    /// `key`'s slot, following `MOVED` and `ASK`.
    pub async fn send(&self, key: &[u8], bytes: BytesMut, replies: usize) -> Reply {
        let slot = key_slot(key);
        let mut node = self.inner.node_for(slot).await?;
        let mut asking = false;
        let mut redirects = 0;
        loop {
            let (out, n) = if asking {
                let mut out = command(&[b"ASKING"]);
                out.extend_from_slice(&bytes);
                (out, replies + 1)
            } else {
                (bytes.clone(), replies)
            };
            let mut frames = match node.send(out, n).await {
                Ok(f) => f,
                Err(e) => {
                    if e.kind == ErrorKind::Unavailable {
                        self.inner.schedule_reload();
                    }
                    return Err(e);
                }
            };
            if asking && !frames.is_empty() {
                frames.remove(0);
            }
            if redirects == MAX_REDIRECTS {
                return Ok(frames);
            }
            match redirect(&frames, node.host()) {
                None => return Ok(frames),
                Some(Redirect::Moved(slot, addr)) => {
                    tracing::debug!(slot, to = %addr, "redis cluster: MOVED");
                    node = self.inner.moved(slot, &addr);
                    asking = false;
                    self.inner.schedule_reload();
                }
                Some(Redirect::Ask(addr)) => {
                    node = self.inner.client_for(&addr);
                    asking = true;
                }
            }
            redirects += 1;
        }
    }

    /// Sends one command about `key` and returns its reply.
    pub async fn call(&self, key: &[u8], cmd: BytesMut) -> Result<Frame, Error> {
        let mut frames = self.send(key, cmd, 1).await?;
        frames.pop().ok_or_else(|| Error {
            kind: ErrorKind::Protocol,
            message: format!("redis cluster {}: no reply", self.inner.settings.host),
        })
    }

    /// One command per key, each sent to its key's node; the commands to
    /// one node share its connection's writes. Replies in order.
    pub async fn call_each(&self, calls: Vec<(&[u8], BytesMut)>) -> Vec<Result<Frame, Error>> {
        join_all(calls.into_iter().map(|(k, c)| self.call(k, c)).collect()).await
    }
}

impl Inner {
    fn unavailable(&self, why: &str) -> Error {
        Error {
            kind: ErrorKind::Unavailable,
            message: format!("redis cluster {}: {why}", self.settings.host),
        }
    }

    /// Settings for a connection to one node.
    fn node_settings(&self, addr: &str) -> Arc<Settings> {
        Arc::new(self.settings.node(addr))
    }

    /// The client of the node at `addr`, created (not dialled) if new.
    fn client_for(&self, addr: &str) -> Rc<Client> {
        let mut table = self.table.borrow_mut();
        if let Some(c) = table.nodes.iter().find(|c| c.host() == addr) {
            return c.clone();
        }
        let c = Rc::new(Client::new(self.node_settings(addr)));
        table.nodes.push(c.clone());
        c
    }

    /// Points `slot` at `addr` (a `MOVED` reply) and returns its client.
    fn moved(&self, slot: u16, addr: &str) -> Rc<Client> {
        let client = self.client_for(addr);
        let mut table = self.table.borrow_mut();
        if let Some(i) = table.nodes.iter().position(|c| Rc::ptr_eq(c, &client)) {
            if let Ok(i) = u16::try_from(i) {
                table.slots[usize::from(slot)] = i;
            }
        }
        client
    }

    fn lookup(&self, slot: u16) -> Option<Rc<Client>> {
        let table = self.table.borrow();
        let i = *table.slots.get(usize::from(slot))?;
        table.nodes.get(usize::from(i)).cloned()
    }

    /// The node serving `slot`, loading the table first if needed.
    async fn node_for(self: &Rc<Self>, slot: u16) -> Result<Rc<Client>, Error> {
        if let Some(c) = self.lookup(slot) {
            return Ok(c);
        }
        if !self.table.borrow().loaded {
            // The first calls wait for one load together.
            let _permit = self
                .reloading
                .acquire()
                .await
                .map_err(|_| self.unavailable("closed"))?;
            if !self.table.borrow().loaded {
                self.reload().await?;
            }
        } else {
            self.schedule_reload();
        }
        self.lookup(slot)
            .ok_or_else(|| self.unavailable(&format!("hash slot {slot} is not served by any node")))
    }

    /// Reloads the table in the background, unless one is pending or one
    /// ran within [`RELOAD_HOLD_OFF`].
    fn schedule_reload(self: &Rc<Self>) {
        if self.reload_pending.get() {
            return;
        }
        self.reload_pending.set(true);
        let me = self.clone();
        monoio::spawn(async move {
            if let Some(at) = me.last_reload.get() {
                let since = at.elapsed();
                if since < RELOAD_HOLD_OFF {
                    monoio::time::sleep(RELOAD_HOLD_OFF - since).await;
                }
            }
            if let Ok(_permit) = me.reloading.acquire().await {
                if let Err(e) = me.reload().await {
                    tracing::warn!(error = %e, "redis cluster: cannot reload the slot table");
                }
            }
            me.reload_pending.set(false);
        });
    }

    /// `CLUSTER SLOTS` from the known nodes, then the seeds, first answer wins.
    async fn reload(&self) -> Result<(), Error> {
        self.last_reload.set(Some(Instant::now()));
        let mut candidates: Vec<Rc<Client>> = self.table.borrow().nodes.clone();
        for seed in self.settings.host.split(',') {
            if !candidates.iter().any(|c| c.host() == seed) {
                candidates.push(Rc::new(Client::new(self.node_settings(seed))));
            }
        }
        let mut failures = Vec::new();
        for node in candidates {
            let reply = match node.call(command(&[b"CLUSTER", b"SLOTS"])).await {
                Ok(r) => r,
                Err(e) => {
                    failures.push(e.message);
                    continue;
                }
            };
            match parse_slots(&reply, node.host()) {
                Ok(ranges) => {
                    self.install(&ranges, &node);
                    return Ok(());
                }
                Err(e) => failures.push(format!("redis at {}: {e}", node.host())),
            }
        }
        Err(self.unavailable(&format!(
            "cannot load the slot table: {}",
            failures.join("; ")
        )))
    }

    /// Replaces the table with `ranges`, keeping the clients (and their
    /// connections) of nodes that stay.
    fn install(&self, ranges: &[(u16, u16, String)], asked: &Rc<Client>) {
        let mut table = self.table.borrow_mut();
        let mut nodes: Vec<Rc<Client>> = Vec::new();
        let mut slots = vec![UNSERVED; SLOTS].into_boxed_slice();
        for (start, end, addr) in ranges {
            let i = match nodes.iter().position(|c| c.host() == addr) {
                Some(i) => i,
                None => {
                    let c = table
                        .nodes
                        .iter()
                        .chain(std::iter::once(asked))
                        .find(|c| c.host() == addr)
                        .cloned()
                        .unwrap_or_else(|| Rc::new(Client::new(self.node_settings(addr))));
                    nodes.push(c);
                    nodes.len() - 1
                }
            };
            let Ok(i) = u16::try_from(i) else { continue };
            for s in *start..=*end {
                if let Some(e) = slots.get_mut(usize::from(s)) {
                    *e = i;
                }
            }
        }
        tracing::debug!(
            nodes = nodes.len(),
            "redis cluster: slot table loaded from {}",
            asked.host()
        );
        *table = Table {
            nodes,
            slots,
            loaded: true,
        };
    }
}

/// `CLUSTER SLOTS` → (first slot, last slot, master address) per range. A
/// master whose IP is empty or `?` is on the node that answered.
fn parse_slots(reply: &Frame, replier: &str) -> Result<Vec<(u16, u16, String)>, String> {
    let bad = || "unexpected CLUSTER SLOTS reply".to_owned();
    let entries = match reply {
        Frame::Array(e) => e,
        other => return Err(error_text(other).map_or_else(bad, str::to_owned)),
    };
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let Frame::Array(parts) = e else {
            return Err(bad());
        };
        let (Some(Frame::Integer(start)), Some(Frame::Integer(end)), Some(Frame::Array(master))) =
            (parts.first(), parts.get(1), parts.get(2))
        else {
            return Err(bad());
        };
        let (Ok(start), Ok(end)) = (u16::try_from(*start), u16::try_from(*end)) else {
            return Err(bad());
        };
        if usize::from(end) >= SLOTS || start > end {
            return Err(bad());
        }
        let ip = master
            .first()
            .and_then(as_bytes)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .ok_or_else(bad)?;
        let Some(Frame::Integer(port)) = master.get(1) else {
            return Err(bad());
        };
        let ip = if ip.is_empty() || ip == "?" {
            host_of(replier).to_owned()
        } else if ip.contains(':') && !ip.starts_with('[') {
            format!("[{ip}]")
        } else {
            ip
        };
        out.push((start, end, format!("{ip}:{port}")));
    }
    Ok(out)
}

/// Start-up check of a cluster: the first seed that answers runs
/// `commands` (after `CLUSTER INFO`, which must succeed: the node has to be
/// in cluster mode). Returns the replies to `commands`.
pub fn probe(settings: &Settings, commands: &[BytesMut]) -> Result<Vec<Frame>, String> {
    let mut all = Vec::with_capacity(commands.len() + 1);
    all.push(command(&[b"CLUSTER", b"INFO"]));
    all.extend(commands.iter().cloned());
    let mut failures = Vec::new();
    for seed in settings.host.split(',') {
        let node = settings.node(seed);
        let mut replies = match super::probe(&node, &all) {
            Ok(r) => r,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if replies.is_empty() {
            failures.push(format!("redis at {seed} sent no reply"));
            continue;
        }
        let info = replies.remove(0);
        if let Some(e) = error_text(&info) {
            return Err(format!(
                "redis at {seed} is not a cluster node (redisType is cluster): {e}"
            ));
        }
        if let Some(info) = as_bytes(&info) {
            let info = String::from_utf8_lossy(info);
            if !info.contains("cluster_state:ok") {
                tracing::warn!(node = seed, "redis cluster: cluster_state is not ok");
            }
        }
        return Ok(replies);
    }
    Err(format!(
        "error connecting to redis cluster {}: {}",
        settings.host,
        failures.join("; ")
    ))
}

/// Polls every future until all are done; outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn crc16_and_slots_match_redis() {
        // The check value of CRC16/XMODEM, and Redis' CLUSTER KEYSLOT answers.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"123456789"), 12739);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b""), 0);
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // Only the first {…} counts; an empty {} hashes the whole key.
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 0x3FFF);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar"), crc16(b"foo{bar") & 0x3FFF);
        assert!(same_slot([&b"a||{t}x"[..], b"b||{t}y"].into_iter()));
        assert!(!same_slot([&b"a"[..], b"b"].into_iter()));
        assert!(same_slot(std::iter::empty()));
    }

    #[test]
    fn redirections_are_read() {
        let f = |s: &str| Frame::Error(s.into());
        match redirect(&[f("MOVED 3999 127.0.0.1:6381")], "x:1") {
            Some(Redirect::Moved(3999, a)) => assert_eq!(a, "127.0.0.1:6381"),
            _ => panic!("MOVED not read"),
        }
        match redirect(&[Frame::Integer(1), f("ASK 12 :7002")], "10.0.0.1:7000") {
            Some(Redirect::Ask(a)) => assert_eq!(a, "10.0.0.1:7002"),
            _ => panic!("ASK not read"),
        }
        assert!(redirect(&[f("ERR wrong")], "x:1").is_none());
    }

    #[test]
    fn slots_reply_is_parsed() {
        let bulk = |s: &str| Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()));
        let reply = Frame::Array(vec![
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Integer(5460),
                Frame::Array(vec![bulk("127.0.0.1"), Frame::Integer(7000), bulk("id")]),
            ]),
            Frame::Array(vec![
                Frame::Integer(5461),
                Frame::Integer(16383),
                Frame::Array(vec![bulk(""), Frame::Integer(7001)]),
                Frame::Array(vec![bulk("::1"), Frame::Integer(7003)]),
            ]),
        ]);
        assert_eq!(
            parse_slots(&reply, "10.1.1.1:7000").unwrap(),
            [
                (0, 5460, "127.0.0.1:7000".to_owned()),
                (5461, 16383, "10.1.1.1:7001".to_owned())
            ]
        );
        assert!(parse_slots(
            &Frame::Error("ERR This instance has cluster support disabled".into()),
            "x"
        )
        .unwrap_err()
        .contains("cluster support disabled"));
    }
}
