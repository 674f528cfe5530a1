//! A dedicated Redis connection for pub/sub (`SUBSCRIBE`, `PSUBSCRIBE`).
//!
//! A connection in subscribe mode receives pushes nobody asked for, so it
//! cannot be the worker's pipelined [`super::client::Client`], which
//! matches replies to requests by position. Here a reader task decodes
//! every frame into a queue, and the owner takes them with
//! [`Subscriber::next`] (cancel-safe: it may race a stop signal in
//! `select!` without losing a frame) while it writes commands on the other
//! half. The connection closes when the `Subscriber` is dropped, or at once
//! with [`Subscriber::close`]. With failover, a subscriber to the sentinel
//! watches for the master moving ([`master_switch`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use local_sync::mpsc::unbounded;
use local_sync::oneshot;

use super::dial::{self, join_host_port, Reader, Via, Writer};
use super::reply::{read_replies, Error, ErrorKind, ReadEnd};
use super::{as_bytes, command, error_text, Frame, Settings};

/// One pub/sub connection.
pub struct Subscriber {
    settings: Arc<Settings>,
    wr: Writer,
    frames: unbounded::Rx<Result<Frame, Error>>,
    /// Dropped with the subscriber; the reader watches it.
    _alive: oneshot::Receiver<()>,
}

impl Subscriber {
    /// Dials, authenticates and selects the database (`AUTH`, `SELECT`).
    pub async fn connect(settings: Arc<Settings>) -> Result<Subscriber, Error> {
        let unavailable =
            |why: &str| Error::unreachable(ErrorKind::Unavailable, &settings.host, why);
        let (rd, wr, _) = dial::connect(&settings)
            .await
            .map_err(|e| unavailable(&e))?;
        let (tx, frames) = unbounded::channel();
        let (alive_tx, alive_rx) = oneshot::channel();
        monoio::spawn(read_loop(rd, tx, alive_tx, settings.host.clone()));
        let mut sub = Subscriber {
            settings: settings.clone(),
            wr,
            frames,
            _alive: alive_rx,
        };
        for cmd in settings.handshake() {
            let reply = sub.call(cmd).await?;
            if let Some(e) = error_text(&reply) {
                return Err(unavailable(&format!("session refused: {e}")));
            }
        }
        Ok(sub)
    }

    /// The server address, for messages.
    pub fn host(&self) -> &str {
        &self.settings.host
    }

    /// Writes one encoded command.
    pub async fn send(&mut self, cmd: BytesMut) -> Result<(), Error> {
        let write = self.wr.write_all(cmd);
        match monoio::time::timeout(self.settings.read_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.error(ErrorKind::Unavailable, &e.to_string())),
            Err(_) => Err(self.error(ErrorKind::Timeout, "write timed out")),
        }
    }

    /// Sends a command and returns the next frame, which must be its reply
    /// (before subscribing, or for commands answered in order).
    pub async fn call(&mut self, cmd: BytesMut) -> Result<Frame, Error> {
        self.send(cmd).await?;
        self.next_within(self.settings.read_timeout).await
    }

    /// The next frame within `limit`.
    pub async fn next_within(&mut self, limit: Duration) -> Result<Frame, Error> {
        match monoio::time::timeout(limit, self.next()).await {
            Ok(r) => r,
            Err(_) => Err(Error::timeout(&self.settings.host, limit)),
        }
    }

    /// The next frame, however long it takes. Cancel-safe.
    pub async fn next(&mut self) -> Result<Frame, Error> {
        match self.frames.recv().await {
            Some(r) => r,
            None => Err(self.error(ErrorKind::Unavailable, "connection closed")),
        }
    }

    /// Ends the session now: Redis sees the connection close (and drops
    /// its subscriptions) even if the reader task never runs again, as when
    /// the worker stops right after.
    pub async fn close(mut self) {
        let _ = monoio::time::timeout(Duration::from_millis(100), self.wr.shutdown()).await;
    }

    fn error(&self, kind: ErrorKind, why: &str) -> Error {
        Error::unreachable(kind, &self.settings.host, why)
    }
}

async fn read_loop(
    rd: Reader,
    tx: unbounded::Tx<Result<Frame, Error>>,
    mut alive: oneshot::Sender<()>,
    host: String,
) {
    // A closed queue means the subscriber is gone: stop quietly.
    let end = read_replies(rd, &mut alive, |frame| {
        tx.send(Ok(frame)).map_err(|_| ReadEnd::Quiet)
    })
    .await;
    if let ReadEnd::Failed(kind, why) = end {
        let _ = tx.send(Err(Error::unreachable(kind, &host, &why)));
    }
}

/// Waits until the sentinel of `via` announces (`+switch-master`) that the
/// master moved elsewhere, and returns its new address; as go-redis, which
/// drops its connections to the old master then, rather than writing there
/// until Sentinel demotes it. An error means the watch ended (sentinel
/// unreachable): the connection then relies on a break and redial alone.
pub async fn master_switch(settings: &Settings, via: &Via) -> Result<String, String> {
    let Some(sentinel) = &settings.sentinel else {
        return Err("not a failover connection".to_owned());
    };
    let node = Arc::new(Settings {
        username: sentinel.username.clone(),
        password: sentinel.password.clone(),
        ..settings.node(&via.sentinel)
    });
    let mut sub = Subscriber::connect(node).await.map_err(|e| e.message)?;
    let reply = sub
        .call(command(&[b"SUBSCRIBE", b"+switch-master"]))
        .await
        .map_err(|e| e.message)?;
    if let Some(e) = error_text(&reply) {
        return Err(format!("SUBSCRIBE +switch-master: {e}"));
    }
    loop {
        let frame = sub.next().await.map_err(|e| e.message)?;
        if let Some(to) = switched_to(&frame, &sentinel.master_name) {
            if to != via.master {
                sub.close().await;
                return Ok(to);
            }
        }
    }
}

/// The new address in a `+switch-master` message about `master_name`
/// (`<name> <old-ip> <old-port> <new-ip> <new-port>`).
fn switched_to(frame: &Frame, master_name: &str) -> Option<String> {
    let Frame::Array(parts) = frame else {
        return None;
    };
    if parts.len() != 3 || as_bytes(&parts[0]) != Some(b"message") {
        return None;
    }
    let text = std::str::from_utf8(as_bytes(&parts[2])?).ok()?;
    let words: Vec<&str> = text.split_whitespace().collect();
    match words[..] {
        [name, _, _, ip, port] if name == master_name => Some(join_host_port(ip, port)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn switch_master_messages() {
        let msg = |payload: &str| {
            Frame::Array(vec![bulk("message"), bulk("+switch-master"), bulk(payload)])
        };
        assert_eq!(
            switched_to(&msg("mymaster 127.0.0.1 6379 127.0.0.1 6380"), "mymaster").as_deref(),
            Some("127.0.0.1:6380")
        );
        assert_eq!(
            switched_to(&msg("other 127.0.0.1 6379 127.0.0.1 6380"), "mymaster"),
            None
        );
        let confirm = Frame::Array(vec![
            bulk("subscribe"),
            bulk("+switch-master"),
            Frame::Integer(1),
        ]);
        assert_eq!(switched_to(&confirm, "mymaster"), None);
    }
}
