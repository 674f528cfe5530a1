//! The mDNS daemon: one UDP socket on `0.0.0.0:5353` (shared with other
//! responders on the machine through `SO_REUSEADDR`/`SO_REUSEPORT`, as Go's
//! zeroconf binds it), joined to `224.0.0.251` on every interface that is
//! up and multicast-capable (Go's `listMulticastInterfaces`, loopback
//! included when it has the flag), and two threads:
//!
//! - `daprd-mdns-recv` blocks on the socket and forwards each datagram;
//! - `daprd-mdns` owns all sending and timers: it answers queries for this
//!   sidecar's records, announces them at start-up (twice, a second apart),
//!   browses on request (a `PTR` query, repeated once after a second, for
//!   [`REFRESH_WINDOW`]), refreshes every cached app ID every
//!   [`REFRESH_INTERVAL`], and says goodbye (TTL 0) when closed.
//!
//! Workers never touch the socket: they read the shared [`Book`] under a
//! short lock and send [`Event`]s over a bounded channel with `try_send`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::wire::{self, Service, GROUP_V4, PORT};

/// How long an address stays usable after the last response naming it
/// (contrib's `addressTTL`).
pub const ADDRESS_TTL: Duration = Duration::from_secs(60);
/// How often every cached app ID is browsed again (contrib's `refreshInterval`).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// How long one browse collects answers (contrib's `refreshTimeout`): the
/// first caller waits at most the resolver's browse timeout, later answers
/// add further instances for round robin.
pub const REFRESH_WINDOW: Duration = Duration::from_secs(3);
/// Gap between the first and the repeated query of a browse (RFC 6762 §5.2).
const REQUERY: Duration = Duration::from_secs(1);
/// Events the daemon may have queued before workers' requests are dropped.
const QUEUE: usize = 1024;
/// How often the receiving thread looks up from the socket to see whether
/// it should stop.
const RECV_POLL: Duration = Duration::from_millis(500);

/// What the daemon thread is told.
pub enum Event {
    /// Look for the instances of an app ID.
    Browse(String),
    /// A datagram and where it came from.
    Packet(Vec<u8>, SocketAddr),
    /// Say goodbye and stop; acknowledged once the goodbye is sent.
    Close(Option<flume::Sender<()>>),
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Event::Browse(_) => "Browse",
            Event::Packet(..) => "Packet",
            Event::Close(_) => "Close",
        })
    }
}

/// Round-robin addresses of one app ID, each with its expiry.
#[derive(Debug, Default)]
struct Addrs {
    v4: Vec<(String, Instant)>,
    v6: Vec<(String, Instant)>,
    counter: usize,
}

impl Addrs {
    fn add(list: &mut Vec<(String, Instant)>, addr: String, until: Instant) {
        match list.iter_mut().find(|(a, _)| *a == addr) {
            Some(e) => e.1 = until,
            None => list.push((addr, until)),
        }
    }

    fn expire(&mut self, now: Instant) {
        self.v4.retain(|(_, t)| *t > now);
        self.v6.retain(|(_, t)| *t > now);
    }

    /// The next address: IPv4 ones first, as contrib.
    fn next(&mut self, now: Instant) -> Option<String> {
        self.expire(now);
        let list = if self.v4.is_empty() {
            &self.v6
        } else {
            &self.v4
        };
        if list.is_empty() {
            return None;
        }
        let addr = list[self.counter % list.len()].0.clone();
        self.counter = self.counter.wrapping_add(1);
        Some(addr)
    }

    fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// The address cache and the callers waiting for a first address,
/// shared by the workers and the daemon.
#[derive(Debug, Default)]
pub struct Book {
    apps: HashMap<String, Addrs>,
    waiters: HashMap<String, Vec<flume::Sender<String>>>,
}

impl Book {
    /// Locks the book (a poisoned lock is still consistent: every update
    /// is a single map operation).
    pub fn lock(book: &Mutex<Book>) -> MutexGuard<'_, Book> {
        book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next cached address of `app_id`, if any is still fresh.
    pub fn next(&mut self, app_id: &str) -> Option<String> {
        self.apps.get_mut(app_id)?.next(Instant::now())
    }

    /// The next cached address, or a channel that receives the first one a
    /// browse finds.
    pub fn next_or_wait(&mut self, app_id: &str) -> Result<String, flume::Receiver<String>> {
        if let Some(a) = self.next(app_id) {
            return Ok(a);
        }
        let (tx, rx) = flume::bounded(1);
        self.waiters.entry(app_id.to_owned()).or_default().push(tx);
        Err(rx)
    }

    /// Records what a response said about `seen.app_id`; wakes its waiters.
    fn learn(&mut self, seen: wire::Seen) {
        let now = Instant::now();
        let addrs = self.apps.entry(seen.app_id.clone()).or_default();
        if seen.goodbye {
            addrs
                .v4
                .retain(|(a, _)| Some(a) != seen.v4.as_ref() && Some(a) != seen.v6.as_ref());
            addrs
                .v6
                .retain(|(a, _)| Some(a) != seen.v4.as_ref() && Some(a) != seen.v6.as_ref());
            return;
        }
        let until = now + ADDRESS_TTL;
        if let Some(a) = seen.v4 {
            tracing::debug!("mDNS: {} at {a}", seen.app_id);
            Addrs::add(&mut addrs.v4, a, until);
        }
        if let Some(a) = seen.v6 {
            tracing::debug!("mDNS: {} at {a}", seen.app_id);
            Addrs::add(&mut addrs.v6, a, until);
        }
        if let Some(waiters) = self.waiters.remove(&seen.app_id) {
            for w in waiters {
                if let Some(a) = addrs.next(now) {
                    let _ = w.try_send(a);
                }
            }
        }
    }

    /// Drops expired addresses and forgets app IDs left without any; the
    /// IDs still known.
    fn expire(&mut self) -> Vec<String> {
        let now = Instant::now();
        self.apps.retain(|_, a| {
            a.expire(now);
            !a.is_empty()
        });
        self.apps.keys().cloned().collect()
    }
}

/// A browse in progress.
struct Browse {
    until: Instant,
    requery: Option<Instant>,
}

/// The daemon thread's state.
struct Daemon {
    sock: UdpSocket,
    /// Interface name and the IPv4 address we send through it.
    ifaces: Vec<(String, Ipv4Addr)>,
    service: Option<Service>,
    book: Arc<Mutex<Book>>,
    browses: HashMap<String, Browse>,
    announce: Vec<Instant>,
    announced: bool,
    refresh_at: Instant,
    stop: Arc<AtomicBool>,
}

/// The interfaces that are up and multicast-capable, with their first IPv4
/// address, in the order the system lists them.
fn multicast_interfaces() -> Vec<(String, Ipv4Addr)> {
    use nix::net::if_::InterfaceFlags;
    let mut out: Vec<(String, Ipv4Addr)> = Vec::new();
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return out;
    };
    for a in addrs {
        if !a
            .flags
            .contains(InterfaceFlags::IFF_UP | InterfaceFlags::IFF_MULTICAST)
        {
            continue;
        }
        let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) else {
            continue;
        };
        if out.iter().any(|(n, _)| *n == a.interface_name) {
            continue;
        }
        let ip = *std::net::SocketAddrV4::from(*sin).ip();
        out.push((a.interface_name, ip));
    }
    out
}

/// Joins the group on every multicast interface not joined yet; returns the
/// newly joined ones.
fn join_new(sock: &UdpSocket, joined: &[(String, Ipv4Addr)]) -> Vec<(String, Ipv4Addr)> {
    let mut out = Vec::new();
    for (name, ip) in multicast_interfaces() {
        if joined.iter().any(|(n, a)| *n == name && *a == ip) {
            continue;
        }
        match SockRef::from(sock).join_multicast_v4(&GROUP_V4, &ip) {
            Ok(()) => out.push((name, ip)),
            // Already a member through this interface.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => out.push((name, ip)),
            Err(e) => tracing::debug!("mDNS: cannot join {GROUP_V4} on {name} ({ip}): {e}"),
        }
    }
    out
}

/// The shared mDNS socket, joined on every multicast interface.
fn open() -> Result<(UdpSocket, Vec<(String, Ipv4Addr)>), String> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| format!("cannot create a UDP socket: {e}"))?;
    s.set_reuse_address(true)
        .and_then(|()| s.set_reuse_port(true))
        .map_err(|e| format!("cannot share port {PORT}: {e}"))?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, PORT)).into())
        .map_err(|e| format!("cannot bind 0.0.0.0:{PORT}: {e}"))?;
    // RFC 6762 §11: link-local, IP TTL 255. Our own datagrams loop back so
    // that sidecars on one machine see each other.
    let _ = s.set_multicast_ttl_v4(255);
    let _ = s.set_multicast_loop_v4(true);
    s.set_read_timeout(Some(RECV_POLL))
        .map_err(|e| format!("cannot set a read timeout: {e}"))?;
    let sock: UdpSocket = s.into();
    let ifaces = join_new(&sock, &[]);
    if ifaces.is_empty() {
        return Err(format!(
            "no network interface is up and multicast-capable (joining {GROUP_V4} failed everywhere)"
        ));
    }
    Ok((sock, ifaces))
}

/// Opens the socket and starts both threads; the sender that drives them.
pub fn start(
    service: Option<Service>,
    book: Arc<Mutex<Book>>,
) -> Result<flume::Sender<Event>, String> {
    let (sock, ifaces) = open()?;
    let recv_sock = sock
        .try_clone()
        .map_err(|e| format!("cannot share the mDNS socket: {e}"))?;
    let (tx, rx) = flume::bounded(QUEUE);
    let stop = Arc::new(AtomicBool::new(false));
    let names: Vec<&str> = ifaces.iter().map(|(n, _)| n.as_str()).collect();
    tracing::debug!("mDNS: using interfaces {}", names.join(", "));
    let now = Instant::now();
    let daemon = Daemon {
        sock,
        ifaces,
        announce: match service {
            Some(_) => vec![now, now + Duration::from_secs(1)],
            None => Vec::new(),
        },
        service,
        book,
        browses: HashMap::new(),
        announced: false,
        refresh_at: now + REFRESH_INTERVAL,
        stop: stop.clone(),
    };
    std::thread::Builder::new()
        .name("daprd-mdns".into())
        .spawn(move || daemon.run(rx))
        .map_err(|e| format!("cannot start the mDNS thread: {e}"))?;
    let packets = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("daprd-mdns-recv".into())
        .spawn(move || receive(recv_sock, packets, stop));
    if let Err(e) = spawned {
        let _ = tx.try_send(Event::Close(None));
        return Err(format!("cannot start the mDNS receiving thread: {e}"));
    }
    Ok(tx)
}

/// The receiving thread: every datagram to the daemon, until it stops.
fn receive(sock: UdpSocket, tx: flume::Sender<Event>, stop: Arc<AtomicBool>) {
    // mDNS messages are at most 9000 bytes (RFC 6762 §17).
    let mut buf = vec![0u8; 9000];
    let mut last_error: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => match tx.try_send(Event::Packet(buf[..n].to_vec(), from)) {
                Ok(()) | Err(flume::TrySendError::Full(_)) => {}
                Err(flume::TrySendError::Disconnected(_)) => return,
            },
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                if last_error.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!("mDNS: receiving failed: {e}");
                    last_error = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Daemon {
    fn run(mut self, rx: flume::Receiver<Event>) {
        loop {
            self.timers(Instant::now());
            let event = rx.recv_deadline(self.next_deadline());
            match event {
                Ok(Event::Packet(bytes, from)) => self.packet(&bytes, from),
                Ok(Event::Browse(id)) => self.browse(id, Instant::now()),
                Ok(Event::Close(ack)) => {
                    self.goodbye();
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    return;
                }
                Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => {
                    self.goodbye();
                    return;
                }
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut t = self.refresh_at;
        for a in &self.announce {
            t = t.min(*a);
        }
        for b in self.browses.values() {
            t = t.min(b.until);
            if let Some(r) = b.requery {
                t = t.min(r);
            }
        }
        t
    }

    /// Sends `bytes` to the group through every interface.
    fn multicast(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let sock = SockRef::from(&self.sock);
        for (name, ip) in &self.ifaces {
            let sent = sock
                .set_multicast_if_v4(ip)
                .and_then(|()| self.sock.send_to(bytes, (GROUP_V4, PORT)));
            if let Err(e) = sent {
                tracing::debug!("mDNS: cannot send on {name} ({ip}): {e}");
            }
        }
    }

    fn timers(&mut self, now: Instant) {
        if self.announce.first().is_some_and(|t| *t <= now) {
            self.announce.remove(0);
            if let Some(s) = &self.service {
                self.multicast(&s.announcement(false));
                self.announced = true;
            }
        }
        let mut ended = Vec::new();
        let mut requery = Vec::new();
        for (id, b) in &mut self.browses {
            if b.until <= now {
                ended.push(id.clone());
            } else if b.requery.is_some_and(|t| t <= now) {
                b.requery = None;
                requery.push(id.clone());
            }
        }
        for id in requery {
            self.query(&id);
        }
        if !ended.is_empty() {
            let mut book = Book::lock(&self.book);
            for id in ended {
                self.browses.remove(&id);
                // Callers still waiting give up (they re-read the cache).
                book.waiters.remove(&id);
            }
        }
        if self.refresh_at <= now {
            self.refresh_at = now + REFRESH_INTERVAL;
            let more = join_new(&self.sock, &self.ifaces);
            self.ifaces.extend(more);
            let ids = Book::lock(&self.book).expire();
            for id in ids {
                self.browse(id, now);
            }
        }
    }

    fn query(&self, id: &str) {
        match wire::browse_query(id) {
            Some(q) => self.multicast(&q),
            None => tracing::debug!("mDNS: {id:?} is no DNS name; not browsed"),
        }
    }

    fn browse(&mut self, id: String, now: Instant) {
        if let Some(b) = self.browses.get_mut(&id) {
            b.until = b.until.max(now + REQUERY);
            return;
        }
        tracing::debug!("mDNS: browsing for {id}");
        self.query(&id);
        self.browses.insert(
            id,
            Browse {
                until: now + REFRESH_WINDOW,
                requery: Some(now + REQUERY),
            },
        );
    }

    fn packet(&mut self, bytes: &[u8], from: SocketAddr) {
        let Ok(packet) = simple_dns::Packet::parse(bytes) else {
            tracing::trace!("mDNS: undecodable datagram from {from}");
            return;
        };
        if packet.has_flags(simple_dns::PacketFlag::RESPONSE) {
            let seen = wire::seen(&packet);
            if seen.is_empty() {
                return;
            }
            let mut book = Book::lock(&self.book);
            for s in seen {
                // Only app IDs someone asked for; everything else on the
                // network is not ours to keep.
                if self.browses.contains_key(&s.app_id) || book.apps.contains_key(&s.app_id) {
                    book.learn(s);
                }
            }
            return;
        }
        let Some(service) = &self.service else {
            return;
        };
        if let Some((reply, unicast)) = service.answer(&packet) {
            if unicast {
                if let Err(e) = self.sock.send_to(&reply, from) {
                    tracing::debug!("mDNS: cannot answer {from}: {e}");
                }
            } else {
                self.multicast(&reply);
            }
        }
    }

    fn goodbye(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let (Some(s), true) = (&self.service, self.announced) {
            self.multicast(&s.announcement(true));
            tracing::info!("stopping mDNS server for app id: {}", s.app_id());
        }
    }
}

/// Whether `addr` is one the daemon can announce (an IP; `localhost` is
/// taken as 127.0.0.1).
pub fn parse_address(addr: &str) -> Result<IpAddr, String> {
    if addr.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    addr.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("failed to parse given IP: {addr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(app: &str, v4: &str, goodbye: bool) -> wire::Seen {
        wire::Seen {
            app_id: app.into(),
            v4: Some(v4.into()),
            v6: None,
            goodbye,
        }
    }

    #[test]
    fn round_robin_expiry_goodbye_and_waiters() {
        let mut b = Book::default();
        assert!(b.next("x").is_none());
        let rx = b.next_or_wait("x").unwrap_err();
        b.learn(seen("x", "10.0.0.1:1", false));
        assert_eq!(rx.try_recv().unwrap(), "10.0.0.1:1");
        b.learn(seen("x", "10.0.0.2:1", false));
        b.learn(seen("x", "10.0.0.1:1", false));
        let got: Vec<String> = (0..4).filter_map(|_| b.next("x")).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], got[2]);
        assert_ne!(got[0], got[1]);
        b.learn(seen("x", "10.0.0.1:1", true));
        assert_eq!(b.next("x").as_deref(), Some("10.0.0.2:1"));
        // IPv6 only when no IPv4 address is left.
        b.learn(wire::Seen {
            app_id: "x".into(),
            v4: None,
            v6: Some("[fe80::1]:1".into()),
            goodbye: false,
        });
        assert_eq!(b.next("x").as_deref(), Some("10.0.0.2:1"));
        b.learn(seen("x", "10.0.0.2:1", true));
        assert_eq!(b.next("x").as_deref(), Some("[fe80::1]:1"));
        // Expired addresses are gone, and so is the app ID.
        for a in b.apps.values_mut() {
            for e in a.v6.iter_mut() {
                e.1 = Instant::now();
            }
        }
        assert!(b.expire().is_empty());
        assert!(b.next("x").is_none());
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_address("localhost").unwrap().to_string(), "127.0.0.1");
        assert_eq!(parse_address("[::1]").unwrap().to_string(), "::1");
        assert_eq!(
            parse_address("box.example").unwrap_err(),
            "failed to parse given IP: box.example"
        );
    }
}
