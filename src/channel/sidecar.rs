//! A worker's connections to other sidecars: one multiplexed h2
//! connection per remote address (their internal gRPC ports), for service
//! invocation and transparent gRPC proxying (the calls themselves are
//! `api::invoke::remote`'s).
//!
//! A connection is dialled on first use (5 s timeout, DNS names resolved
//! off the worker), pinged every 10 s when idle and dropped when a ping is
//! not answered within 5 s (Go's client keepalive), so a vanished peer
//! fails calls instead of hanging them; a broken connection is redialled by
//! the next call. Failures read as grpc-go's ([`CallError`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use h2::SendStream;
use local_sync::semaphore::Semaphore;
use monoio::net::TcpStream;
use monoio_compat::StreamWrapper;

use crate::grpc::status::GrpcCode;

/// Connecting to a remote sidecar (TCP and the h2 handshake).
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle time before a keepalive ping (Go's client: 10 s).
const PING_EVERY: Duration = Duration::from_secs(10);
/// How long a ping may go unanswered (Go's client: 5 s).
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// A failed remote call, shown as grpc-go shows a status error
/// (`rpc error: code = Unavailable desc = …`), as Go's messages embed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// The status code.
    pub code: GrpcCode,
    /// The description.
    pub message: String,
}

impl CallError {
    /// `Unavailable` with `message`.
    pub fn unavailable(message: impl std::fmt::Display) -> Self {
        Self {
            code: GrpcCode::Unavailable,
            message: message.to_string(),
        }
    }

    /// `Internal` with `message`.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self {
            code: GrpcCode::Internal,
            message: message.to_string(),
        }
    }

    /// The answer broke off (grpc-go's `error receiving message`).
    pub fn receiving(e: impl std::fmt::Display) -> Self {
        Self::unavailable(format!("error receiving message: {e}"))
    }

    /// The connection to the remote sidecar failed (h2).
    pub fn connection(e: h2::Error) -> Self {
        Self::unavailable(format!("connection error: {e}"))
    }

    /// A message that does not decode.
    pub fn invalid_message(e: prost::DecodeError) -> Self {
        Self::internal(format!("invalid response message: {e}"))
    }

    /// The remote sidecar ended its answer without a message.
    pub fn no_message() -> Self {
        Self::internal("the remote sidecar answered no message")
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rpc error: code = {} desc = {}",
            self.code.go_name(),
            self.message
        )
    }
}

fn dial_error(addr: &str, e: &std::io::Error) -> CallError {
    let why = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_owned(),
        std::io::ErrorKind::TimedOut => "i/o timeout".to_owned(),
        _ => e.to_string(),
    };
    CallError::unavailable(format!(
        "connection error: desc = \"transport: Error while dialing: dial tcp {addr}: {why}\""
    ))
}

#[derive(Clone)]
struct Conn {
    send: SendRequest<Bytes>,
    alive: Rc<Cell<bool>>,
}

/// A worker's h2 connections to remote sidecars, one per address.
#[derive(Default)]
pub struct Remotes {
    conns: RefCell<HashMap<String, Conn>>,
    dialing: RefCell<HashMap<String, Rc<Semaphore>>>,
}

impl Remotes {
    /// No connections yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn live(&self, addr: &str) -> Option<SendRequest<Bytes>> {
        let conns = self.conns.borrow();
        let c = conns.get(addr)?;
        c.alive.get().then(|| c.send.clone())
    }

    /// Drops the connection to `addr` (the next call redials).
    pub fn forget(&self, addr: &str) {
        if let Some(c) = self.conns.borrow_mut().remove(addr) {
            c.alive.set(false);
        }
    }

    async fn connection(&self, addr: &str) -> Result<SendRequest<Bytes>, CallError> {
        if let Some(s) = self.live(addr) {
            return Ok(s);
        }
        // One dial per address at a time; the others wait and share it.
        let gate = self
            .dialing
            .borrow_mut()
            .entry(addr.to_owned())
            .or_insert_with(|| Rc::new(Semaphore::new(1)))
            .clone();
        let _permit = gate.acquire().await;
        if let Some(s) = self.live(addr) {
            return Ok(s);
        }
        let conn = match monoio::time::timeout(DIAL_TIMEOUT, dial(addr)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(dial_error(
                    addr,
                    &std::io::Error::from(std::io::ErrorKind::TimedOut),
                ))
            }
        };
        let send = conn.send.clone();
        self.conns.borrow_mut().insert(addr.to_owned(), conn);
        Ok(send)
    }

    /// Opens a stream to the sidecar at `addr` for `head` (its URI's path is
    /// used; the authority is set here).
    pub async fn open(
        &self,
        addr: &str,
        mut head: http::request::Parts,
    ) -> Result<(ResponseFuture, SendStream<Bytes>), CallError> {
        let path = head
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        head.uri = format!("http://{addr}{path}")
            .parse()
            .map_err(|_| CallError::internal(format!("invalid address {addr:?}")))?;
        let send = self.connection(addr).await?;
        let mut send = match send.ready().await {
            Ok(s) => s,
            Err(e) => {
                self.forget(addr);
                return Err(CallError::connection(e));
            }
        };
        match send.send_request(http::Request::from_parts(head, ()), false) {
            Ok(s) => Ok(s),
            Err(e) => {
                self.forget(addr);
                Err(CallError::connection(e))
            }
        }
    }
}

/// Dials `addr` (`host:port`; names resolved on the blocking pool), runs
/// the h2 handshake and spawns the connection and its keepalive.
async fn dial(addr: &str) -> Result<Conn, CallError> {
    let sock: SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(_) => {
            let name = addr.to_owned();
            let found = crate::components::blocking::run(move || {
                name.to_socket_addrs().map(|mut a| a.next())
            })
            .await;
            match found {
                Some(Ok(Some(a))) => a,
                Some(Ok(None)) => {
                    return Err(CallError::unavailable(format!(
                        "name resolver error: produced zero addresses for {addr}"
                    )))
                }
                Some(Err(e)) => return Err(dial_error(addr, &e)),
                None => return Err(CallError::unavailable("name lookup failed")),
            }
        }
    };
    let tcp = TcpStream::connect_addr(sock)
        .await
        .map_err(|e| dial_error(addr, &e))?;
    let _ = tcp.set_nodelay(true);
    let (send, mut conn) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        .handshake::<_, Bytes>(StreamWrapper::new(tcp))
        .await
        .map_err(CallError::connection)?;
    let alive = Rc::new(Cell::new(true));
    let ping = conn.ping_pong();
    let (dead_tx, dead_rx) = local_sync::oneshot::channel::<()>();
    {
        let alive = alive.clone();
        let addr = addr.to_owned();
        monoio::spawn(async move {
            monoio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(%addr, error = %e, "connection to a remote sidecar ended");
                },
                _ = dead_rx => tracing::debug!(%addr, "remote sidecar stopped answering pings; connection dropped"),
            }
            alive.set(false);
        });
    }
    if let Some(mut ping) = ping {
        let alive = alive.clone();
        monoio::spawn(async move {
            loop {
                monoio::time::sleep(PING_EVERY).await;
                if !alive.get() {
                    return;
                }
                let answered =
                    monoio::time::timeout(PING_TIMEOUT, ping.ping(h2::Ping::opaque())).await;
                if !matches!(answered, Ok(Ok(_))) {
                    let _ = dead_tx.send(());
                    return;
                }
            }
        });
    }
    Ok(Conn { send, alive })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_errors_read_like_grpc_go() {
        let e = dial_error(
            "127.0.0.1:1",
            &std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        );
        assert_eq!(
            e.to_string(),
            "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused\""
        );
    }
}
