//! Real backends for tests: the machine's Redis at 127.0.0.1:6379, private
//! `redis-server`s on free ports, a plain RESP client to look at what the
//! sidecar stored, and component files pointing at them.
//!
//! A test that needs a service it cannot reach skips with a loud message,
//! unless `DAPRD_TEST_SERVICES=require` (set by `.ci/run`): then it fails.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::encode::extend_encode_borrowed;
use redis_protocol::resp2::types::{BorrowedFrame, BytesFrame};

use crate::harness::{free_port, WAIT};

/// The machine's Redis.
pub const REDIS: &str = "127.0.0.1:6379";

fn required() -> bool {
    std::env::var("DAPRD_TEST_SERVICES").is_ok_and(|v| v == "require")
}

/// Whether `what` is usable; when it is not, fails under
/// `DAPRD_TEST_SERVICES=require` and otherwise prints a loud skip notice.
pub fn available(what: &str, ok: bool, test: &str) -> bool {
    if ok {
        return true;
    }
    if required() {
        panic!("{test}: {what} is not available and DAPRD_TEST_SERVICES=require");
    }
    eprintln!("\n!!!!!!!! SKIPPED {test}: {what} is not available (set DAPRD_TEST_SERVICES=require to fail instead) !!!!!!!!\n");
    false
}

/// Whether the machine's Redis answers (see [`available`]).
pub fn redis(test: &str) -> bool {
    let ok = TcpStream::connect_timeout(&REDIS.parse().unwrap(), Duration::from_millis(500))
        .is_ok_and(|mut s| resp_call(&mut s, &[b"PING"]).is_ok());
    available("Redis at 127.0.0.1:6379", ok, test)
}

/// The machine's PostgreSQL (trust authentication, database `test`).
pub const POSTGRES: &str = "127.0.0.1:5432";

/// A connection string for [`POSTGRES`].
pub const POSTGRES_CONN: &str =
    "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable";

/// Whether the machine's PostgreSQL accepts connections (see [`available`]).
pub fn postgres(test: &str) -> bool {
    let ok =
        TcpStream::connect_timeout(&POSTGRES.parse().unwrap(), Duration::from_millis(500)).is_ok();
    available("PostgreSQL at 127.0.0.1:5432", ok, test)
}

/// A fresh app id, so tests sharing one Redis never see each other's keys.
pub fn unique_app_id(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh directory under the system temporary directory. Every private
/// `redis-server` gets one as its `--dir`: `--save ''` alone does not keep
/// a server from writing (a replica's full sync stores the master's
/// snapshot as `dump.rdb`), and its default directory is its working
/// directory, the package root under `cargo test`.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_app_id(prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A directory holding one component file named `statestore` of `kind`,
/// with `metadata` items.
pub fn component_dir(kind: &str, metadata: &[(&str, &str)]) -> PathBuf {
    let dir = temp_dir("daprd-components");
    let mut yaml = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: {kind}\n  version: v1\n  metadata:\n"
    );
    for (k, v) in metadata {
        yaml.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
    }
    std::fs::write(dir.join("statestore.yaml"), yaml).unwrap();
    dir
}

/// One command over a plain connection; error replies are `Err`.
pub fn resp_call(s: &mut TcpStream, args: &[&[u8]]) -> Result<BytesFrame, String> {
    let parts: Vec<BorrowedFrame<'_>> = args.iter().map(|a| BorrowedFrame::BulkString(a)).collect();
    let mut out = BytesMut::new();
    extend_encode_borrowed(&mut out, &BorrowedFrame::Array(&parts), false).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(&out).map_err(|e| e.to_string())?;
    let mut buf = BytesMut::new();
    loop {
        if let Some((frame, _, _)) = decode_bytes_mut(&mut buf).map_err(|e| e.to_string())? {
            return match frame {
                BytesFrame::Error(e) => Err(e.to_string()),
                f => Ok(f),
            };
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A plain Redis client, for looking under the sidecar.
pub struct Plain(TcpStream);

impl Plain {
    pub fn connect(addr: &str) -> Plain {
        Plain(TcpStream::connect(addr).unwrap())
    }

    pub fn call(&mut self, args: &[&str]) -> BytesFrame {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        resp_call(&mut self.0, &args).unwrap()
    }

    /// `HGETALL` as (field, value) pairs of strings.
    pub fn hgetall(&mut self, key: &str) -> Vec<(String, String)> {
        match self.call(&["HGETALL", key]) {
            BytesFrame::Array(items) => items
                .chunks(2)
                .map(|p| (text(&p[0]), text(&p[1])))
                .collect(),
            other => panic!("HGETALL {key}: {other:?}"),
        }
    }
}

/// A bulk or simple string reply as text.
pub fn text(f: &BytesFrame) -> String {
    match f {
        BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        BytesFrame::Integer(i) => i.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

/// A private `redis-server` on a free port, killed (and its directory
/// removed) on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one, or `None` when `redis-server` is not installed (see
    /// [`available`]).
    pub fn start(test: &str) -> Option<RedisServer> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available("the redis-server binary", installed, test) {
            return None;
        }
        let mut s = RedisServer {
            port: free_port(),
            child: None,
            dir: temp_dir("redis-server"),
        };
        s.restart();
        Some(s)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the server (no shutdown courtesy: the socket just dies).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let addr: SocketAddr = self.addr().parse().unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(mut s) = TcpStream::connect(addr) {
                if resp_call(&mut s, &[b"PING"]).is_ok() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on {addr} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
