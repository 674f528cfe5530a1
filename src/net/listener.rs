//! Per-worker `SO_REUSEPORT` TCP listeners.
//!
//! Every socket is created on the main thread before any worker starts, so a
//! bind failure is reported once, clearly, at start-up, and port 0 resolves
//! to one port that every worker then shares: the first socket for a port
//! binds 0, the rest bind the port it got. The kernel spreads incoming
//! connections over the workers' sockets; there is no accept lock and no
//! cross-core hand-off.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

use super::shutdown::Drain;

/// Kernel accept backlog per socket.
const BACKLOG: i32 = 1024;

/// The listeners of one role (API, public, metrics): `per_worker[w]` holds
/// worker `w`'s sockets, one per bound address.
#[derive(Debug)]
pub struct Bound {
    /// The addresses actually bound (with the resolved port).
    pub addrs: Vec<SocketAddr>,
    /// Sockets per worker.
    pub per_worker: Vec<Vec<TcpListener>>,
}

impl Bound {
    /// The port every socket listens on (0 if nothing was bound).
    pub fn port(&self) -> u16 {
        self.addrs.first().map_or(0, SocketAddr::port)
    }
}

/// Why a role could not listen at all.
#[derive(Debug, thiserror::Error)]
#[error("could not listen on any address for {role} port {port}: {details}")]
pub struct ListenError {
    /// What the port is for (`HTTP API`, `metrics`, …).
    pub role: &'static str,
    /// The requested port.
    pub port: u16,
    /// Every failure, joined.
    pub details: String,
    /// Some address failed because the port was taken.
    pub in_use: bool,
}

/// Resolves `--dapr-listen-addresses`-style host strings to socket addresses.
/// An empty list means all interfaces (dual-stack `[::]`, or `0.0.0.0`
/// where IPv6 is unavailable). Hosts may be IPv4 literals, bracketed or bare
/// IPv6 literals, or names such as `localhost` (every resolved address).
pub fn resolve(hosts: &[String], port: u16) -> (Vec<SocketAddr>, Vec<String>) {
    let mut addrs = Vec::new();
    let mut errors = Vec::new();
    if hosts.is_empty() {
        addrs.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
        return (addrs, errors);
    }
    for host in hosts {
        let h = host.trim();
        let literal = h
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(h);
        if literal.is_empty() {
            addrs.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
        } else if let Ok(ip) = literal.parse::<IpAddr>() {
            addrs.push(SocketAddr::new(ip, port));
        } else {
            match (literal, port).to_socket_addrs() {
                Ok(found) => addrs.extend(found),
                Err(e) => errors.push(format!("{h}: {e}")),
            }
        }
    }
    let mut seen = Vec::with_capacity(addrs.len());
    addrs.retain(|a| {
        let new = !seen.contains(a);
        seen.push(*a);
        new
    });
    (addrs, errors)
}

/// Binds `workers` sockets on each of `hosts` at `port`. Addresses that fail
/// are logged and skipped; it is an error only when none binds.
pub fn bind(
    role: &'static str,
    hosts: &[String],
    port: u16,
    workers: usize,
) -> Result<Bound, ListenError> {
    let (candidates, mut errors) = resolve(hosts, port);
    let mut in_use = false;
    let mut bound = Bound {
        addrs: Vec::new(),
        per_worker: (0..workers).map(|_| Vec::new()).collect(),
    };
    let mut chosen_port = port;
    for addr in candidates {
        let mut addr = SocketAddr::new(addr.ip(), chosen_port);
        let mut sockets = Vec::with_capacity(workers);
        // Our sockets share the port with each other (SO_REUSEPORT), never
        // with another process: a port already taken fails as in Go.
        let mut failure = if addr.port() == 0 {
            None
        } else {
            ensure_free(addr).err()
        };
        for _ in 0..workers {
            if failure.is_some() {
                break;
            }
            match listen_on(addr) {
                Ok(l) => {
                    if addr.port() == 0 {
                        // First socket of a port-0 bind: everyone else reuses its port.
                        match l.local_addr() {
                            Ok(a) => addr = a,
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                        }
                    }
                    sockets.push(l);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        match failure {
            None => {
                chosen_port = addr.port();
                bound.addrs.push(addr);
                for (w, s) in sockets.into_iter().enumerate() {
                    bound.per_worker[w].push(s);
                }
            }
            Some(e) => {
                let unspecified_v6 = addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED);
                if unspecified_v6 && hosts.is_empty() && e.kind() != io::ErrorKind::AddrInUse {
                    // No IPv6 on this host: fall back to IPv4 "all interfaces".
                    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port());
                    return bind_fallback_v4(role, v4, workers, e);
                }
                tracing::warn!(%addr, error = %e, "failed to listen on {role} address");
                in_use |= e.kind() == io::ErrorKind::AddrInUse;
                errors.push(format!("{addr}: {e}"));
            }
        }
    }
    if bound.addrs.is_empty() {
        return Err(ListenError {
            role,
            port,
            details: if errors.is_empty() {
                "no addresses given".into()
            } else {
                errors.join("; ")
            },
            in_use,
        });
    }
    Ok(bound)
}

fn bind_fallback_v4(
    role: &'static str,
    addr: SocketAddr,
    workers: usize,
    v6_error: io::Error,
) -> Result<Bound, ListenError> {
    let mut addr = addr;
    let mut per_worker = Vec::with_capacity(workers);
    if addr.port() != 0 {
        ensure_free(addr).map_err(|e| ListenError {
            role,
            port: addr.port(),
            details: format!("[::]: {v6_error}; {addr}: {e}"),
            in_use: e.kind() == io::ErrorKind::AddrInUse,
        })?;
    }
    for _ in 0..workers {
        let l = listen_on(addr).map_err(|e| ListenError {
            role,
            port: addr.port(),
            details: format!("[::]: {v6_error}; {addr}: {e}"),
            in_use: e.kind() == io::ErrorKind::AddrInUse,
        })?;
        if addr.port() == 0 {
            if let Ok(a) = l.local_addr() {
                addr = a;
            }
        }
        per_worker.push(vec![l]);
    }
    Ok(Bound {
        addrs: vec![addr],
        per_worker,
    })
}

/// A TCP socket for `addr`, with Go's `SO_REUSEADDR` (and `SO_REUSEPORT` when `shared`).
fn tcp_socket(addr: SocketAddr, shared: bool) -> io::Result<Socket> {
    let domain = Domain::for_address(addr);
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        // `[::]` accepts IPv4 too, like Go's listener on ":port".
        socket.set_only_v6(!addr.ip().is_unspecified())?;
    }
    Ok(socket)
}

/// Fails with "address already in use" when another socket (another
/// daprd's `SO_REUSEPORT` listener included) holds `addr`: binding without
/// `SO_REUSEPORT` is refused then. The probe socket is closed at once.
fn ensure_free(addr: SocketAddr) -> io::Result<()> {
    tcp_socket(addr, false)?.bind(&addr.into())
}

/// One non-blocking, `SO_REUSEPORT` listening socket.
fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = tcp_socket(addr, true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Accepts connections on `listener` until `drain` closes, serving each with
/// `on_conn` in its own task, tracked by `drain` so shutdown can wait for it.
/// Every server of the package (the sidecar's workers, `placement`,
/// `scheduler`) accepts through this loop.
pub async fn accept_loop<F, Fut>(listener: monoio::net::TcpListener, drain: Drain, on_conn: F)
where
    F: Fn(monoio::net::TcpStream, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    loop {
        let accepted = monoio::select! {
            r = listener.accept() => r,
            _ = drain.closing() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let guard = drain.track();
                let conn = on_conn(stream, peer);
                monoio::spawn(async move {
                    conn.await;
                    drop(guard);
                });
            }
            // Shutdown stops the listener (the pending accept fails with
            // EINVAL) just before it closes the drain: not a failure.
            Err(_) if drain.is_closing() => return,
            Err(e) => {
                // Typically EMFILE/ENFILE: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                monoio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// A single-threaded server's sockets (every worker's, for a process that
/// runs one monoio thread) registered with the current runtime, with their
/// addresses; a socket that cannot be registered is logged and skipped.
pub fn register(bound: Bound) -> Vec<(SocketAddr, monoio::net::TcpListener)> {
    let mut out = Vec::new();
    for std_listener in bound.per_worker.into_iter().flatten() {
        let addr = std_listener.local_addr();
        match (addr, monoio::net::TcpListener::from_std(std_listener)) {
            (Ok(addr), Ok(l)) => out.push((addr, l)),
            (_, Err(e)) | (Err(e), _) => {
                tracing::error!(error = %e, "could not register a listener with the runtime");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_literals_and_dedups() {
        let hosts = vec!["127.0.0.1".to_string(), "[::1]".into(), "127.0.0.1".into()];
        let (addrs, errors) = resolve(&hosts, 80);
        assert!(errors.is_empty());
        assert_eq!(addrs.len(), 2);
        assert_eq!(addrs[1], "[::1]:80".parse().unwrap());
    }

    #[test]
    fn port_zero_is_shared_by_every_worker() {
        let b = bind("test", &["127.0.0.1".to_string()], 0, 3).unwrap();
        let port = b.port();
        assert_ne!(port, 0);
        for w in &b.per_worker {
            assert_eq!(w.len(), 1);
            assert_eq!(w[0].local_addr().unwrap().port(), port);
        }
    }

    #[test]
    fn one_bad_address_is_skipped() {
        // 192.0.2.1 (TEST-NET-1) is not a local address: binding it fails.
        let hosts = vec!["192.0.2.1".to_string(), "127.0.0.1".into()];
        let b = bind("test", &hosts, 0, 2).unwrap();
        assert_eq!(b.addrs.len(), 1);
        assert!(b.addrs[0].ip().is_loopback());
    }

    #[test]
    fn a_port_held_by_another_process_is_refused() {
        // Another daprd's SO_REUSEPORT listener: ours must not share it.
        let other = bind("test", &["127.0.0.1".into()], 0, 1).unwrap();
        let port = other.port();
        let err = bind("test", &["127.0.0.1".into()], port, 2).unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
        // A plain listener too.
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = plain.local_addr().unwrap().port();
        assert!(bind("test", &["127.0.0.1".into()], port, 1).is_err());
        drop((other, plain));
    }

    #[test]
    fn nothing_bound_is_an_error() {
        let err = bind("test", &["192.0.2.1".to_string()], 0, 1).unwrap_err();
        assert!(err.to_string().contains("test port 0"), "{err}");
    }
}
