//! `nameresolution.sqlite` (components-contrib `nameresolution/sqlite`):
//! sidecars on one host (or sharing one file) register their internal gRPC
//! address in a SQLite database and look each other up there.
//!
//! The layout is contrib's, so Go and Rust sidecars can share a file:
//!
//! - `hosts(registration_id TEXT NOT NULL PRIMARY KEY, address TEXT NOT
//!   NULL, app_id TEXT NOT NULL, namespace TEXT NOT NULL, last_update
//!   INTEGER NOT NULL)`, a unique index `hosts_address_idx` on `address` and
//!   an index `hosts_last_update_idx` on `last_update` (table names from
//!   `tableName`);
//! - `metadata(key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)`
//!   (`metadataTableName`), holding the migration level under
//!   `nr-migrations` and the last clean-up time under `nr-last-cleanup`.
//!
//! On start a sidecar takes over any row with its address (`REPLACE`) under
//! a fresh UUID, with `namespace` empty as contrib writes it; every
//! `updateInterval − timeout` a heartbeat thread refreshes `last_update`
//! (`unixepoch(CURRENT_TIMESTAMP)`, SQLite's clock, so every process agrees).
//! A lookup picks a random row of the app ID whose heartbeat is younger than
//! `updateInterval`; older rows are ignored, and every `cleanupInterval` one
//! sidecar (coordinated through `nr-last-cleanup`) deletes them. On shutdown
//! the row is deleted.
//!
//! Differences from contrib, deliberately: contrib's clean-up query
//! compares the wrong way round (it deletes the *fresh* rows) and passes its
//! interval in milliseconds where seconds are compared; here stale rows are
//! deleted and the interval is in seconds. When the row has vanished (the
//! registration was "lost"), contrib exits the process; here it is written
//! again, with a warning (unless another registration has taken the
//! address over: that one is then the live sidecar, and is left alone).
//!
//! The connection is a `rusqlite` connection behind a mutex; lookups run on
//! the blocking pool ([`crate::components::blocking`]) so a worker never
//! waits on the database, and are bounded by `timeout` (busy waits by
//! `busyTimeout`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{Instance, ResolveError};
use crate::components::Metadata;

/// contrib's `ErrNoHost`.
pub const NO_HOST: &str = "no host found with the given ID";

const DEFAULT_TABLE: &str = "hosts";
const DEFAULT_METADATA_TABLE: &str = "metadata";
const DEFAULT_UPDATE_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(3600);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_millis(800);
const MIGRATIONS_KEY: &str = "nr-migrations";
const LAST_CLEANUP_KEY: &str = "nr-last-cleanup";

/// The resolver's settings (`configuration` of `spec.nameResolution`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `connectionString` (`url`): a file path or a `file:` URI.
    pub connection_string: String,
    /// `tableName`.
    pub table: String,
    /// `metadataTableName`.
    pub metadata_table: String,
    /// `updateInterval` (whole seconds).
    pub update_interval: Duration,
    /// `cleanupInterval` (`cleanupIntervalInSeconds`); zero disables it.
    pub cleanup_interval: Duration,
    /// `timeout` (`timeoutInSeconds`), at least 1 s.
    pub timeout: Duration,
    /// `busyTimeout`.
    pub busy_timeout: Duration,
    /// `disableWAL`.
    pub disable_wal: bool,
}

impl Settings {
    /// Parses and validates as contrib does (its messages).
    pub fn parse(md: &Metadata) -> Result<Self, String> {
        use super::seconds_or_duration as dur;
        let connection_string = md
            .get("connectionString")
            .or_else(|| md.get("url"))
            .unwrap_or("")
            .trim()
            .to_owned();
        let table = md
            .get("tableName")
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_TABLE)
            .to_owned();
        let metadata_table = md
            .get("metadataTableName")
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_METADATA_TABLE)
            .to_owned();
        let s = Settings {
            update_interval: dur(md, &["updateInterval"], DEFAULT_UPDATE_INTERVAL)?,
            cleanup_interval: dur(
                md,
                &["cleanupInterval", "cleanupIntervalInSeconds"],
                DEFAULT_CLEANUP_INTERVAL,
            )?,
            timeout: dur(md, &["timeout", "timeoutInSeconds"], DEFAULT_TIMEOUT)?,
            busy_timeout: dur(md, &["busyTimeout"], DEFAULT_BUSY_TIMEOUT)?,
            disable_wal: md
                .get("disableWAL")
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
            connection_string,
            table,
            metadata_table,
        };
        if s.connection_string.is_empty() {
            return Err("missing connection string".into());
        }
        if s.timeout < Duration::from_secs(1) {
            return Err("invalid value for 'timeout': must be greater than 1s".into());
        }
        if !valid_identifier(&s.table) {
            return Err(format!("invalid identifier for table name: {}", s.table));
        }
        if !valid_identifier(&s.metadata_table) {
            return Err(format!(
                "invalid identifier for metadata table name: {}",
                s.metadata_table
            ));
        }
        if s.update_interval.subsec_nanos() != 0 {
            return Err("update interval must not contain fractions of seconds".into());
        }
        if s.update_interval.saturating_sub(s.timeout) < Duration::from_secs(1) {
            return Err("update interval must be at least 1s greater than timeout".into());
        }
        Ok(s)
    }

    /// Whether the database lives in memory (then no other app is reachable).
    pub fn in_memory(&self) -> bool {
        let lc = self.connection_string.to_ascii_lowercase();
        lc.starts_with(":memory:") || lc.starts_with("file::memory:")
    }
}

/// contrib's `ValidIdentifier`: ASCII letters, digits and `_`.
fn valid_identifier(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `host:port`, brackets around IPv6 literals (Go's `net.JoinHostPort`).
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The SQLite resolver: this sidecar's registration and the lookups.
pub struct Sqlite {
    conn: Mutex<Connection>,
    settings: Settings,
    registration_id: String,
    address: String,
    app_id: String,
    stop: Mutex<Option<mpsc::Sender<()>>>,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("settings", &self.settings)
            .field("address", &self.address)
            .finish()
    }
}

impl Sqlite {
    /// Opens the database, migrates it, registers `instance` and starts the
    /// heartbeat thread (blocking: runs once at start-up).
    pub fn init(md: &Metadata, instance: Instance) -> Result<Arc<Sqlite>, String> {
        instance.check()?;
        let settings = Settings::parse(md)?;
        let conn = open(&settings)?;
        migrate(&conn, &settings).map_err(|e| format!("failed to perform migrations: {e}"))?;
        let this = Arc::new(Sqlite {
            conn: Mutex::new(conn),
            registration_id: uuid::Uuid::new_v4().to_string(),
            address: join_host_port(&instance.address, instance.internal_port),
            app_id: instance.app_id,
            settings,
            stop: Mutex::new(None),
            heartbeat: Mutex::new(None),
            closed: AtomicBool::new(false),
        });
        this.register()
            .map_err(|e| format!("failed to register host: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let worker = this.clone();
        let thread = std::thread::Builder::new()
            .name("daprd-nr-sqlite".into())
            .spawn(move || worker.heartbeat_loop(&rx))
            .map_err(|e| format!("failed to start the heartbeat thread: {e}"))?;
        *lock(&this.stop) = Some(tx);
        *lock(&this.heartbeat) = Some(thread);
        Ok(this)
    }

    /// The address this sidecar registered (`host:port`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// This sidecar's registration ID (a UUID).
    pub fn registration_id(&self) -> &str {
        &self.registration_id
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Looks `id` up on the blocking pool, within `timeout`.
    pub async fn resolve(this: &Arc<Self>, id: &str) -> Result<String, ResolveError> {
        let (me, id) = (this.clone(), id.to_owned());
        let job = crate::components::blocking::run(move || me.resolve_blocking(&id));
        match monoio::time::timeout(this.settings.timeout, job).await {
            Ok(Some(r)) => r,
            Ok(None) => Err(ResolveError::Failed(
                "failed to look up address: the lookup panicked".into(),
            )),
            Err(_) => Err(ResolveError::Failed(
                "failed to look up address: context deadline exceeded".into(),
            )),
        }
    }

    /// Looks `id` up (blocking): a random fresh row, as contrib's query.
    pub fn resolve_blocking(&self, id: &str) -> Result<String, ResolveError> {
        let q = format!(
            "SELECT address FROM {t} WHERE ROWID = (SELECT ROWID FROM {t} WHERE app_id = ? \
             AND unixepoch(CURRENT_TIMESTAMP) - last_update < {n} ORDER BY RANDOM() LIMIT 1)",
            t = self.settings.table,
            n = self.settings.update_interval.as_secs(),
        );
        let conn = lock(&self.conn);
        match conn
            .query_row(&q, [id], |r| r.get::<_, String>(0))
            .optional()
        {
            Ok(Some(addr)) => Ok(addr),
            Ok(None) => Err(ResolveError::NotFound(NO_HOST.into())),
            Err(e) => Err(ResolveError::Failed(format!(
                "failed to look up address: {e}"
            ))),
        }
    }

    /// Writes (or takes over) this sidecar's row.
    fn register(&self) -> rusqlite::Result<()> {
        let q = format!(
            "REPLACE INTO {} (registration_id, address, app_id, namespace, last_update) \
             VALUES (?, ?, ?, ?, unixepoch(CURRENT_TIMESTAMP))",
            self.settings.table
        );
        lock(&self.conn)
            .execute(&q, (&self.registration_id, &self.address, &self.app_id, ""))
            .map(|_| ())
    }

    /// One heartbeat: refreshes `last_update`, writing the row again when
    /// it has vanished.
    pub fn renew(&self) -> rusqlite::Result<()> {
        let q = format!(
            "UPDATE {} SET last_update = unixepoch(CURRENT_TIMESTAMP) \
             WHERE registration_id = ? AND address = ?",
            self.settings.table
        );
        let conn = lock(&self.conn);
        if conn.execute(&q, (&self.registration_id, &self.address))? > 0 {
            return Ok(());
        }
        let holder: Option<String> = conn
            .query_row(
                &format!(
                    "SELECT registration_id FROM {} WHERE address = ?",
                    self.settings.table
                ),
                [&self.address],
                |r| r.get(0),
            )
            .optional()?;
        drop(conn);
        match holder {
            // Deleted (a clean-up, by hand): write it again.
            None => {
                tracing::warn!(
                    address = %self.address,
                    "name resolution: host registration lost; registering again"
                );
                self.register()
            }
            // Another sidecar took the address over: it is the live one.
            Some(other) => {
                tracing::error!(
                    address = %self.address,
                    registration = %other,
                    "name resolution: host registration lost to another registration of this address"
                );
                Ok(())
            }
        }
    }

    /// Deletes stale rows when no sidecar has done so within
    /// `cleanupInterval` (coordinated through `nr-last-cleanup`). Returns the
    /// rows deleted.
    pub fn cleanup(&self) -> rusqlite::Result<usize> {
        let conn = lock(&self.conn);
        let claim = format!(
            "INSERT INTO {} (key, value) VALUES ('{LAST_CLEANUP_KEY}', CURRENT_TIMESTAMP) \
             ON CONFLICT (key) DO UPDATE SET value = CURRENT_TIMESTAMP \
             WHERE unixepoch(CURRENT_TIMESTAMP) - unixepoch(value) > ?",
            self.settings.metadata_table
        );
        // contrib allows 100 ms of slack on the interval.
        let secs = self
            .settings
            .cleanup_interval
            .saturating_sub(Duration::from_millis(100))
            .as_secs();
        if conn.execute(&claim, [secs as i64])? == 0 {
            return Ok(0);
        }
        let delete = format!(
            "DELETE FROM {} WHERE unixepoch(CURRENT_TIMESTAMP) - last_update >= {}",
            self.settings.table,
            self.settings.update_interval.as_secs()
        );
        conn.execute(&delete, [])
    }

    fn heartbeat_loop(&self, stop: &mpsc::Receiver<()>) {
        // contrib: every updateInterval − timeout, so a slow write still lands in time.
        let period = self
            .settings
            .update_interval
            .saturating_sub(self.settings.timeout)
            .max(Duration::from_millis(100));
        let mut last_cleanup = Instant::now();
        loop {
            match stop.recv_timeout(period) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            if let Err(e) = self.renew() {
                tracing::error!(error = %e, "Failed to update host registration");
            }
            let every = self.settings.cleanup_interval;
            if !every.is_zero() && last_cleanup.elapsed() >= every {
                last_cleanup = Instant::now();
                match self.cleanup() {
                    Ok(n) if n > 0 => tracing::info!("Removed {n} expired rows"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "Error removing expired data"),
                }
            }
        }
    }

    /// Stops the heartbeat and deletes this sidecar's row (once).
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        lock(&self.stop).take();
        if let Some(t) = lock(&self.heartbeat).take() {
            let _ = t.join();
        }
        let q = format!(
            "DELETE FROM {} WHERE registration_id = ? AND address = ?",
            self.settings.table
        );
        match lock(&self.conn).execute(&q, (&self.registration_id, &self.address)) {
            Ok(0) => tracing::warn!("failed to unregister host: no row deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "failed to unregister host"),
        }
    }
}

/// Locks a mutex, ignoring poisoning (nothing here can be left half-done).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Opens the database with contrib's pragmas: busy timeout, WAL journal
/// (DELETE when `disableWAL` or read-only, MEMORY in memory).
fn open(s: &Settings) -> Result<Connection, String> {
    let cs = s.connection_string.as_str();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = if s.in_memory() {
        tracing::warn!("Configuring name resolution with an in-memory SQLite database. Service invocation across different apps will not work.");
        Connection::open_in_memory()
    } else if cs.to_ascii_lowercase().starts_with("file:") {
        Connection::open_with_flags(cs, flags)
    } else {
        // A plain path; Go driver options after `?` (`_txlock`, `_pragma`) do not apply.
        let path = cs.split('?').next().unwrap_or(cs);
        tracing::info!("Configuring SQLite name resolution with path {path}");
        Connection::open_with_flags(path, flags)
    }
    .map_err(|e| format!("failed to create connection: {e}"))?;
    if !s.busy_timeout.is_zero() {
        conn.busy_timeout(s.busy_timeout)
            .map_err(|e| format!("failed to set the busy timeout: {e}"))?;
    }
    let read_only = cs.contains("mode=ro") || cs.contains("immutable=1");
    let journal = if s.in_memory() {
        "MEMORY"
    } else if s.disable_wal || read_only {
        "DELETE"
    } else {
        "WAL"
    };
    conn.query_row(&format!("PRAGMA journal_mode = {journal}"), [], |_| Ok(()))
        .map_err(|e| format!("failed to set the journal mode: {e}"))?;
    Ok(conn)
}

/// contrib's migrations, in one exclusive transaction: the metadata table,
/// then (level 0 → 1) the hosts table and its indexes.
fn migrate(conn: &Connection, s: &Settings) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN EXCLUSIVE TRANSACTION")?;
    let run = || -> rusqlite::Result<()> {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (key text NOT NULL PRIMARY KEY, value text NOT NULL)",
            s.metadata_table
        ))?;
        let level: Option<String> = conn
            .query_row(
                &format!(
                    "SELECT value FROM {} WHERE key = '{MIGRATIONS_KEY}'",
                    s.metadata_table
                ),
                [],
                |r| r.get(0),
            )
            .optional()?;
        let level: u32 = match level {
            None => 0,
            Some(v) => v.trim().parse().map_err(|_| {
                rusqlite::Error::InvalidParameterName(format!(
                    "invalid migration level found in metadata table: {v}"
                ))
            })?,
        };
        if level < 1 {
            tracing::info!("Creating hosts table '{}'", s.table);
            conn.execute_batch(&format!(
                "CREATE TABLE {t} (
                    registration_id TEXT NOT NULL PRIMARY KEY,
                    address TEXT NOT NULL,
                    app_id TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    last_update INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX {t}_address_idx ON {t} (address);
                CREATE INDEX {t}_last_update_idx ON {t} (last_update);",
                t = s.table
            ))?;
            conn.execute(
                &format!(
                    "REPLACE INTO {} (key, value) VALUES ('{MIGRATIONS_KEY}', ?)",
                    s.metadata_table
                ),
                ["1"],
            )?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => conn.execute_batch("COMMIT TRANSACTION"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TRANSACTION");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_pairs(pairs)
    }

    fn instance(app: &str, port: u16) -> Instance {
        Instance {
            app_id: app.into(),
            namespace: "default".into(),
            address: "127.0.0.1".into(),
            internal_port: port,
            http_port: 3500,
            app_port: 0,
        }
    }

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("daprd-nr-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("nr.db")
    }

    #[test]
    fn settings_follow_contrib() {
        let s = Settings::parse(&md(&[("connectionString", "/tmp/x.db")])).unwrap();
        assert_eq!(s.table, "hosts");
        assert_eq!(s.metadata_table, "metadata");
        assert_eq!(s.update_interval, Duration::from_secs(5));
        assert_eq!(s.cleanup_interval, Duration::from_secs(3600));
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!(s.busy_timeout, Duration::from_millis(800));
        let err = |pairs: &[(&str, &str)]| Settings::parse(&md(pairs)).unwrap_err();
        assert_eq!(err(&[]), "missing connection string");
        assert_eq!(
            err(&[("connectionString", "x"), ("tableName", "a-b")]),
            "invalid identifier for table name: a-b"
        );
        assert_eq!(
            err(&[("connectionString", "x"), ("updateInterval", "1500ms")]),
            "update interval must not contain fractions of seconds"
        );
        assert_eq!(
            err(&[
                ("connectionString", "x"),
                ("updateInterval", "2s"),
                ("timeout", "2s")
            ]),
            "update interval must be at least 1s greater than timeout"
        );
        assert_eq!(
            err(&[("connectionString", "x"), ("timeout", "500ms")]),
            "invalid value for 'timeout': must be greater than 1s"
        );
        assert!(Settings::parse(&md(&[("url", ":memory:")]))
            .unwrap()
            .in_memory());
        assert_eq!(join_host_port("::1", 5), "[::1]:5");
    }

    /// The file as Go's resolver lays it out and writes its rows.
    #[test]
    fn table_layout_and_rows_are_contribs() {
        let path = temp_db("layout");
        let cs = path.to_string_lossy().into_owned();
        let nr = Sqlite::init(&md(&[("connectionString", &cs)]), instance("me", 50002)).unwrap();

        let db = Connection::open(&path).unwrap();
        let cols: Vec<(String, String, bool, bool)> = db
            .prepare("PRAGMA table_info(hosts)")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(5)? == 1))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let want = [
            ("registration_id", "TEXT", true, true),
            ("address", "TEXT", true, false),
            ("app_id", "TEXT", true, false),
            ("namespace", "TEXT", true, false),
            ("last_update", "INTEGER", true, false),
        ];
        let got: Vec<(&str, &str, bool, bool)> = cols
            .iter()
            .map(|(n, t, nn, pk)| (n.as_str(), t.as_str(), *nn, *pk))
            .collect();
        assert_eq!(got, want);
        let indexes: Vec<(String, bool)> = db
            .prepare("PRAGMA index_list(hosts)")
            .unwrap()
            .query_map([], |r| Ok((r.get(1)?, r.get::<_, i64>(2)? == 1)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            indexes.contains(&("hosts_address_idx".into(), true)),
            "{indexes:?}"
        );
        assert!(
            indexes.contains(&("hosts_last_update_idx".into(), false)),
            "{indexes:?}"
        );
        let level: String = db
            .query_row(
                "SELECT value FROM metadata WHERE key = 'nr-migrations'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(level, "1");
        let journal: String = db
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");

        // Our row: a UUID, host:port, the app ID, namespace "", SQLite's now.
        let (rid, addr, app, ns, age): (String, String, String, String, i64) = db
            .query_row(
                "SELECT registration_id, address, app_id, namespace, unixepoch(CURRENT_TIMESTAMP) - last_update FROM hosts",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(rid, nr.registration_id());
        assert!(uuid::Uuid::parse_str(&rid).is_ok());
        assert_eq!(
            (addr.as_str(), app.as_str(), ns.as_str()),
            ("127.0.0.1:50002", "me", "")
        );
        assert!((0..=1).contains(&age), "{age}");

        // Rows written by another (Go) sidecar resolve; stale ones do not.
        db.execute(
            "REPLACE INTO hosts (registration_id, address, app_id, namespace, last_update) VALUES (?, ?, ?, ?, unixepoch(CURRENT_TIMESTAMP))",
            ("c5a1…go", "127.0.0.1:47301", "goapp", ""),
        )
        .unwrap();
        db.execute(
            "INSERT INTO hosts VALUES ('old', '127.0.0.1:47302', 'gone', '', unixepoch(CURRENT_TIMESTAMP) - 60)",
            [],
        )
        .unwrap();
        assert_eq!(nr.resolve_blocking("goapp").unwrap(), "127.0.0.1:47301");
        assert_eq!(nr.resolve_blocking("me").unwrap(), "127.0.0.1:50002");
        assert_eq!(
            nr.resolve_blocking("gone").unwrap_err(),
            ResolveError::NotFound(NO_HOST.into())
        );
        assert_eq!(
            nr.resolve_blocking("nobody").unwrap_err().to_string(),
            "no host found with the given ID"
        );

        // Clean-up deletes stale rows only (and only once per interval).
        assert_eq!(nr.cleanup().unwrap(), 1);
        assert_eq!(nr.cleanup().unwrap(), 0);
        let n: i64 = db
            .query_row("SELECT COUNT(*) FROM hosts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);

        // A lost registration is written again by the heartbeat.
        db.execute("DELETE FROM hosts WHERE app_id = 'me'", [])
            .unwrap();
        nr.renew().unwrap();
        assert_eq!(nr.resolve_blocking("me").unwrap(), "127.0.0.1:50002");

        // Shutdown deletes our row only.
        nr.close();
        let apps: Vec<String> = db
            .prepare("SELECT app_id FROM hosts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(apps, ["goapp"]);
        drop(db);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_second_sidecar_reuses_the_file_and_takes_over_its_address() {
        let path = temp_db("shared");
        let cs = path.to_string_lossy().into_owned();
        let a = Sqlite::init(&md(&[("connectionString", &cs)]), instance("a", 50010)).unwrap();
        let b = Sqlite::init(&md(&[("connectionString", &cs)]), instance("b", 50011)).unwrap();
        assert_eq!(a.resolve_blocking("b").unwrap(), "127.0.0.1:50011");
        assert_eq!(b.resolve_blocking("a").unwrap(), "127.0.0.1:50010");
        // A restarted "a" on the same address replaces the old row.
        let a2 = Sqlite::init(&md(&[("connectionString", &cs)]), instance("a", 50010)).unwrap();
        assert_ne!(a2.registration_id(), a.registration_id());
        assert_eq!(b.resolve_blocking("a").unwrap(), "127.0.0.1:50010");
        // The old instance's heartbeat leaves the new row alone, and its
        // shutdown does not delete it.
        a.renew().unwrap();
        assert_eq!(b.resolve_blocking("a").unwrap(), "127.0.0.1:50010");
        a.close();
        assert_eq!(b.resolve_blocking("a").unwrap(), "127.0.0.1:50010");
        a2.close();
        b.close();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
