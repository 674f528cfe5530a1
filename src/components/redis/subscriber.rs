//! A dedicated Redis connection for pub/sub (`SUBSCRIBE`, `PSUBSCRIBE`).
//!
//! A connection in subscribe mode receives pushes nobody asked for, so it
//! cannot be the worker's pipelined [`super::client::Client`], which
//! matches replies to requests by position. Here a reader task decodes
//! every frame into a queue, and the owner takes them with
//! [`Subscriber::next`] (cancel-safe: it may race a stop signal in
//! `select!` without losing a frame) while it writes commands on the other
//! half. The connection closes when the `Subscriber` is dropped, or at once
//! with [`Subscriber::close`].

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use local_sync::mpsc::unbounded;
use local_sync::oneshot;

use super::client::{read_replies, Error, ErrorKind, ReadEnd};
use super::dial::{self, Reader, Writer};
use super::{error_text, Frame, Settings};

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
