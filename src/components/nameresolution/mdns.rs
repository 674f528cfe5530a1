//! `nameresolution.mdns`, the self-hosted default: multicast DNS service
//! discovery compatible with Go daprd's (contrib `nameresolution/mdns` on
//! `grandcat/zeroconf`), so sidecars of either kind find each other on one
//! LAN or one machine.
//!
//! - **Registration**: at start-up this sidecar announces the service
//!   `<app-id>.local.`, instance `<hostname>:<pid>`, on host
//!   `<hostname>.local.` at its host address and internal gRPC port
//!   ([`wire`] has the exact records), answers queries for it, and says
//!   goodbye (TTL 0) on shutdown.
//! - **Resolution**: our own app ID resolves at once to our own address,
//!   without the network. Another ID is served from a cache (round robin
//!   over its instances, IPv4 first; an address is dropped 60 s after the
//!   last answer naming it, or at once on its goodbye); on a miss the
//!   network is browsed and the caller waits at most [`BROWSE_TIMEOUT`] for
//!   a first answer, then fails with contrib's `couldn't find service: <id>`
//!   (which invocation reports as `ERR_DIRECT_INVOKE`). A browse keeps
//!   listening for [`daemon::REFRESH_WINDOW`] to learn further instances, and
//!   every cached ID is browsed again every [`daemon::REFRESH_INTERVAL`].
//!   Concurrent callers of one ID share one browse.
//! - No component metadata (contrib's has none).
//!
//! The sockets and timers live on a daemon thread ([`daemon`]); a worker
//! only takes a short lock on the cache and awaits a channel, never a
//! socket. IPv4 multicast only (Go also speaks IPv6; its responders answer
//! on both). When no interface can join the group the sidecar still starts
//! (Go's would not) with a warning, resolving only its own ID.

mod daemon;
mod wire;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Instance, ResolveError, ResolveRequest};
use daemon::{Book, Event};

/// How long a caller waits for the first answer about an app ID that is
/// not cached (contrib's `browseOneTimeout`).
pub const BROWSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The network half: the daemon's inbox and the shared cache.
#[derive(Debug)]
struct Net {
    tx: flume::Sender<Event>,
    book: Arc<Mutex<Book>>,
}

impl Drop for Net {
    fn drop(&mut self) {
        // Stops the daemon (with its goodbye) if `close` was never called.
        let _ = self.tx.try_send(Event::Close(None));
    }
}

/// The mDNS resolver.
#[derive(Debug)]
pub struct Mdns {
    app_id: String,
    own: String,
    net: Option<Net>,
}

impl Mdns {
    /// Validates the instance as contrib's `Init` does, then starts the
    /// daemon and announces this sidecar.
    pub fn new(instance: Instance) -> Result<Self, String> {
        instance.check()?;
        let ip = daemon::parse_address(&instance.address)?;
        let own = super::sqlite::join_host_port(&instance.address, instance.internal_port);
        let hostname = crate::net::host::host_name().unwrap_or_else(|| "localhost".into());
        let service = match wire::Service::new(
            &instance.app_id,
            &hostname,
            std::process::id(),
            ip,
            instance.internal_port,
        ) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("mDNS: app id {} cannot be announced: {e}", instance.app_id);
                None
            }
        };
        let instance_name = service.as_ref().map(|s| s.instance().to_owned());
        let book = Arc::new(Mutex::new(Book::default()));
        let net = match daemon::start(service, book.clone()) {
            Ok(tx) => {
                if instance_name.is_some() {
                    tracing::info!(
                        "local service entry announced: {} -> {}",
                        instance.app_id,
                        own
                    );
                }
                Some(Net { tx, book })
            }
            Err(e) => {
                tracing::warn!(
                    "mDNS is unavailable ({e}); app id {} is not announced and only resolves itself",
                    instance.app_id
                );
                None
            }
        };
        Ok(Self {
            app_id: instance.app_id,
            own,
            net,
        })
    }

    /// Whether the multicast side is running.
    pub fn is_networked(&self) -> bool {
        self.net.is_some()
    }

    /// The address of a sidecar of `req.id`: ours for our own ID, else a
    /// cached or browsed one (see the module docs).
    pub async fn resolve(&self, req: &ResolveRequest<'_>) -> Result<String, ResolveError> {
        self.resolve_within(req, BROWSE_TIMEOUT).await
    }

    async fn resolve_within(
        &self,
        req: &ResolveRequest<'_>,
        wait: Duration,
    ) -> Result<String, ResolveError> {
        if req.id == self.app_id {
            return Ok(self.own.clone());
        }
        let not_found = || ResolveError::NotFound(format!("couldn't find service: {}", req.id));
        let Some(net) = &self.net else {
            return Err(not_found());
        };
        let rx = match Book::lock(&net.book).next_or_wait(req.id) {
            Ok(addr) => return Ok(addr),
            Err(rx) => rx,
        };
        // A full queue (a datagram flood) only costs this caller its browse.
        let _ = net.tx.try_send(Event::Browse(req.id.to_owned()));
        match monoio::time::timeout(wait, rx.recv_async()).await {
            Ok(Ok(addr)) => Ok(addr),
            // Timed out, or the browse ended: one more look at the cache.
            _ => Book::lock(&net.book).next(req.id).ok_or_else(not_found),
        }
    }

    /// Says goodbye on the network and stops the daemon (waits up to a
    /// second for the goodbye to be sent).
    pub fn close(&self) {
        let Some(net) = &self.net else {
            return;
        };
        let (ack, done) = flume::bounded(1);
        if net
            .tx
            .send_timeout(Event::Close(Some(ack)), Duration::from_secs(1))
            .is_ok()
        {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn req(id: &str) -> ResolveRequest<'_> {
        ResolveRequest {
            id,
            namespace: "default",
            port: 50002,
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn instance_is_validated_as_contrib() {
        assert_eq!(
            Mdns::new(Instance::default()).unwrap_err(),
            "name is missing"
        );
        let i = |address: &str, port| Instance {
            app_id: "a".into(),
            address: address.into(),
            internal_port: port,
            ..Default::default()
        };
        assert_eq!(Mdns::new(i("", 1)).unwrap_err(), "address is missing");
        assert_eq!(
            Mdns::new(i("10.0.0.1", 0)).unwrap_err(),
            "port is missing or invalid"
        );
        assert_eq!(
            Mdns::new(i("box", 1)).unwrap_err(),
            "failed to parse given IP: box"
        );
    }

    #[test]
    fn own_id_at_once_unknown_id_within_the_browse_timeout() {
        let id = format!("mdns-unit-{}", std::process::id());
        let m = Mdns::new(Instance {
            app_id: id.clone(),
            address: "127.0.0.1".into(),
            internal_port: 50002,
            ..Default::default()
        })
        .unwrap();
        let started = Instant::now();
        assert_eq!(block_on(m.resolve(&req(&id))).unwrap(), "127.0.0.1:50002");
        assert!(started.elapsed() < Duration::from_millis(100));

        let nobody = format!("{id}-nobody");
        let started = Instant::now();
        let err =
            block_on(m.resolve_within(&req(&nobody), Duration::from_millis(300))).unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.to_string(), format!("couldn't find service: {nobody}"));
        assert!(took < Duration::from_secs(1), "took {took:?}");
        if m.is_networked() {
            // The network was asked: at least the timeout passed.
            assert!(took >= Duration::from_millis(300), "took {took:?}");
        }
        m.close();
        m.close();
    }
}
