//! A worker's PostgreSQL connections: a small pool of monoio connections
//! speaking the extended query protocol with text results.
//!
//! A query is one round trip (`Parse`, `Bind`, `Describe`, `Execute`,
//! `Sync`); parameters are sent as text and typed by the server, results
//! come back as text with each column's type OID, for the caller to
//! convert. A connection whose I/O fails is dropped; one that answered an
//! SQL error is healthy and goes back to the pool. At most `max` queries
//! run at once per worker, each on its own connection.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fallible_iterator::FallibleIterator;
use local_sync::semaphore::Semaphore;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpStream, UnixStream};
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use postgres_protocol::IsNull;

use super::{Host, Settings};

const READ_RESERVE: usize = 16 * 1024;

/// Why a query failed.
#[derive(Clone, Debug)]
pub enum Error {
    /// No connection could be made (or the server refused the session).
    Connect(String),
    /// The connection broke mid-query.
    Io(String),
    /// The server answered an error (`ErrorResponse`).
    Db {
        /// `ERROR`, `FATAL`, …
        severity: String,
        /// SQLSTATE.
        code: String,
        /// The message.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect(m) | Error::Io(m) => f.write_str(m),
            // pgconn's PgError format.
            Error::Db {
                severity,
                code,
                message,
            } => write!(f, "{severity}: {message} (SQLSTATE {code})"),
        }
    }
}

/// A result column.
#[derive(Clone, Debug)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type OID.
    pub type_oid: u32,
}

/// The outcome of one statement.
#[derive(Clone, Debug, Default)]
pub struct QueryResult {
    /// Result columns (none for statements without rows).
    pub columns: Vec<Column>,
    /// Rows of text values (`None` = SQL NULL).
    pub rows: Vec<Vec<Option<Bytes>>>,
    /// The command tag (`INSERT 0 1`, `SELECT 3`, …).
    pub tag: String,
}

impl QueryResult {
    /// pgconn's `RowsAffected`: the tag's count for row-changing commands.
    pub fn rows_affected(&self) -> i64 {
        let mut words = self.tag.split_whitespace();
        let cmd = words.next().unwrap_or("");
        if !matches!(
            cmd,
            "INSERT" | "UPDATE" | "DELETE" | "SELECT" | "MOVE" | "FETCH" | "COPY" | "MERGE"
        ) {
            return 0;
        }
        words.last().and_then(|n| n.parse().ok()).unwrap_or(0)
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// One open session.
pub struct Conn {
    io: Stream,
    buf: BytesMut,
    /// Whether the server answered anything to the current query.
    answered: bool,
}

impl Conn {
    /// Dials and authenticates (trust, clear text, MD5 or SCRAM-SHA-256).
    pub async fn connect(s: &Settings) -> Result<Conn, Error> {
        let fail = |why: String| {
            Error::Connect(format!(
                "failed to connect to `{}`: {}: {why}",
                s.describe(),
                s.host
            ))
        };
        let dial = async {
            match &s.host {
                Host::Tcp(h, p) => TcpStream::connect((h.as_str(), *p)).await.map(|t| {
                    let _ = t.set_nodelay(true);
                    Stream::Tcp(t)
                }),
                Host::Unix(dir, p) => UnixStream::connect(dir.join(format!(".s.PGSQL.{p}")))
                    .await
                    .map(Stream::Unix),
            }
        };
        let io = match s.connect_timeout {
            Some(t) => match monoio::time::timeout(t, dial).await {
                Ok(r) => r,
                Err(_) => return Err(fail("dial error: timeout".into())),
            },
            None => dial.await,
        }
        .map_err(|e| {
            fail(format!(
                "dial error: {}",
                crate::components::bindings::os_error_text(&e)
            ))
        })?;
        let mut conn = Conn {
            io,
            buf: BytesMut::with_capacity(READ_RESERVE),
            answered: false,
        };
        conn.startup(s).await.map_err(|e| match e {
            Error::Db { .. } => fail(format!("server error ({e})")),
            Error::Connect(m) | Error::Io(m) => fail(m),
        })?;
        Ok(conn)
    }

    async fn startup(&mut self, s: &Settings) -> Result<(), Error> {
        let mut out = BytesMut::new();
        let mut params: Vec<(&str, &str)> = vec![("user", s.user.as_str())];
        if let Some(db) = &s.database {
            params.push(("database", db));
        }
        params.push(("client_encoding", "UTF8"));
        for (k, v) in &s.params {
            params.push((k, v));
        }
        frontend::startup_message(params.iter().copied(), &mut out).map_err(io_err)?;
        self.write(out).await?;
        let password = || {
            s.password.as_deref().ok_or_else(|| {
                Error::Connect("the server asked for a password and none is set".into())
            })
        };
        let mut scram: Option<ScramSha256> = None;
        loop {
            let mut out = BytesMut::new();
            match self.read().await? {
                Message::AuthenticationOk
                | Message::ParameterStatus(_)
                | Message::BackendKeyData(_)
                | Message::NoticeResponse(_) => {}
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password()?.as_bytes(), &mut out).map_err(io_err)?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(s.user.as_bytes(), password()?.as_bytes(), body.salt());
                    frontend::password_message(hash.as_bytes(), &mut out).map_err(io_err)?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut scram_offered = false;
                    while let Some(m) = mechanisms.next().map_err(io_err)? {
                        scram_offered |= m == SCRAM_SHA_256;
                    }
                    if !scram_offered {
                        return Err(Error::Connect(
                            "the server offers no supported SASL mechanism".into(),
                        ));
                    }
                    let sc =
                        ScramSha256::new(password()?.as_bytes(), ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, sc.message(), &mut out)
                        .map_err(io_err)?;
                    scram = Some(sc);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let sc = scram
                        .as_mut()
                        .ok_or_else(|| Error::Connect("unexpected SASL message".into()))?;
                    sc.update(body.data())
                        .map_err(|e| Error::Connect(format!("SASL: {e}")))?;
                    frontend::sasl_response(sc.message(), &mut out).map_err(io_err)?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let sc = scram
                        .as_mut()
                        .ok_or_else(|| Error::Connect("unexpected SASL message".into()))?;
                    sc.finish(body.data())
                        .map_err(|e| Error::Connect(format!("SASL: {e}")))?;
                }
                Message::ErrorResponse(body) => return Err(db_error(&body)),
                Message::ReadyForQuery(_) => return Ok(()),
                _ => return Err(Error::Connect("unsupported authentication method".into())),
            }
            if !out.is_empty() {
                self.write(out).await?;
            }
        }
    }

    /// Runs one statement with text parameters (`None` = NULL).
    pub async fn query(
        &mut self,
        sql: &str,
        params: &[Option<String>],
    ) -> Result<QueryResult, Error> {
        let mut out = BytesMut::new();
        frontend::parse("", sql, std::iter::empty(), &mut out).map_err(io_err)?;
        frontend::bind(
            "",
            "",
            std::iter::empty(),
            params.iter(),
            |p, buf| match p {
                Some(v) => {
                    buf.extend_from_slice(v.as_bytes());
                    Ok(IsNull::No)
                }
                None => Ok(IsNull::Yes),
            },
            std::iter::empty(),
            &mut out,
        )
        .map_err(|e| match e {
            frontend::BindError::Conversion(e) => Error::Io(e.to_string()),
            frontend::BindError::Serialization(e) => Error::Io(e.to_string()),
        })?;
        frontend::describe(b'P', "", &mut out).map_err(io_err)?;
        frontend::execute("", 0, &mut out).map_err(io_err)?;
        frontend::sync(&mut out);
        self.answered = false;
        self.write(out).await?;

        let mut result = QueryResult::default();
        let mut failed = None;
        loop {
            match self.read().await? {
                Message::RowDescription(body) => {
                    let mut fields = body.fields();
                    while let Some(f) = fields.next().map_err(io_err)? {
                        result.columns.push(Column {
                            name: f.name().to_owned(),
                            type_oid: f.type_oid(),
                        });
                    }
                }
                Message::DataRow(body) => {
                    let buffer = body.buffer_bytes().clone();
                    let mut ranges = body.ranges();
                    let mut row = Vec::with_capacity(result.columns.len());
                    while let Some(r) = ranges.next().map_err(io_err)? {
                        row.push(r.map(|r| buffer.slice(r)));
                    }
                    result.rows.push(row);
                }
                Message::CommandComplete(body) => {
                    result.tag = body.tag().map_err(io_err)?.to_owned();
                }
                Message::ErrorResponse(body) => {
                    failed.get_or_insert(db_error(&body));
                }
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(result),
        }
    }

    async fn write(&mut self, out: BytesMut) -> Result<(), Error> {
        let (res, _) = match &mut self.io {
            Stream::Tcp(s) => s.write_all(out).await,
            Stream::Unix(s) => s.write_all(out).await,
        };
        res.map(drop).map_err(|e| {
            Error::Io(format!(
                "write: {}",
                crate::components::bindings::os_error_text(&e)
            ))
        })
    }

    async fn read(&mut self) -> Result<Message, Error> {
        loop {
            if let Some(m) = Message::parse(&mut self.buf).map_err(io_err)? {
                self.answered = true;
                return Ok(m);
            }
            if self.buf.capacity() - self.buf.len() < READ_RESERVE / 2 {
                self.buf.reserve(READ_RESERVE);
            }
            let owned = std::mem::take(&mut self.buf);
            let (len, cap) = (owned.len(), owned.capacity());
            let (res, slice) = match &mut self.io {
                Stream::Tcp(s) => s.read(owned.slice_mut(len..cap)).await,
                Stream::Unix(s) => s.read(owned.slice_mut(len..cap)).await,
            };
            self.buf = slice.into_inner();
            match res {
                Ok(0) => return Err(Error::Io("unexpected EOF".into())),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::Io(format!(
                        "read: {}",
                        crate::components::bindings::os_error_text(&e)
                    )))
                }
            }
        }
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::Io(e.to_string())
}

fn db_error(body: &postgres_protocol::message::backend::ErrorResponseBody) -> Error {
    let (mut severity, mut code, mut message) = (String::new(), String::new(), String::new());
    let mut fields = body.fields();
    while let Ok(Some(f)) = fields.next() {
        let v = String::from_utf8_lossy(f.value_bytes()).into_owned();
        match f.type_() {
            b'S' => severity = v,
            b'V' if severity.is_empty() => severity = v,
            b'C' => code = v,
            b'M' => message = v,
            _ => {}
        }
    }
    Error::Db {
        severity,
        code,
        message,
    }
}

/// A worker's pool: idle connections and a bound on those in use.
pub struct Pool {
    settings: Arc<Settings>,
    idle: RefCell<Vec<Conn>>,
    permits: Semaphore,
}

impl Pool {
    /// A pool of at most `max` connections (dialled on demand).
    pub fn new(settings: Arc<Settings>, max: usize) -> Pool {
        Pool {
            settings,
            idle: RefCell::new(Vec::new()),
            permits: Semaphore::new(max.max(1)),
        }
    }

    /// Runs one statement on a pooled connection.
    pub async fn query(&self, sql: &str, params: &[Option<String>]) -> Result<QueryResult, Error> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Connect("the pool is closed".into()))?;
        let pooled = self.idle.borrow_mut().pop();
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(c) => c,
            None => Conn::connect(&self.settings).await?,
        };
        let result = match conn.query(sql, params).await {
            // A pooled connection the server closed meanwhile (nothing was
            // answered): once more on a new one.
            Err(Error::Io(_)) if reused && !conn.answered => {
                conn = Conn::connect(&self.settings).await?;
                conn.query(sql, params).await
            }
            other => other,
        };
        if !matches!(result, Err(Error::Io(_))) {
            self.idle.borrow_mut().push(conn);
        }
        result
    }

    /// Drops every idle connection.
    pub fn clear(&self) {
        self.idle.borrow_mut().clear();
    }
}

/// Connects and runs `SELECT 1` on a short-lived runtime of the calling
/// (non-worker) thread: the start-up check.
pub fn probe(settings: &Settings, timeout: Duration) -> Result<(), String> {
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .map_err(|e| format!("cannot start a runtime for the start-up check: {e}"))?;
    rt.block_on(async {
        let work = async {
            let mut c = Conn::connect(settings).await?;
            c.query("SELECT 1", &[]).await.map(drop)
        };
        match monoio::time::timeout(timeout, work).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "failed to connect to `{}`: timeout",
                settings.describe()
            )),
        }
    })
}
