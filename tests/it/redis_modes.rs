//! Redis connection modes every Redis component shares: TLS (`enableTLS`,
//! `insecureSkipTLSVerify`, `clientCert`/`clientKey`) and Sentinel
//! (`failover`), against private `redis-server`s (TLS certificates made with
//! the `openssl` command), through the real `daprd` binary.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;

use crate::harness::*;
use crate::services::{self, resp_call, temp_dir, text, Plain};

/// Whether `cmd --version` (or `version`) runs.
fn installed(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tools(test: &str, openssl: bool) -> bool {
    services::available(
        "the redis-server binary",
        installed("redis-server", "--version"),
        test,
    ) && (!openssl
        || services::available("the openssl command", installed("openssl", "version"), test))
}

/// A process killed on drop, and its directory (if it has its own) removed.
struct Proc {
    child: Child,
    dir: Option<PathBuf>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts `redis-server` with `args` and waits until `port` accepts
/// connections (and, when `ping`, answers a plain PING). Its files (a
/// replica's synced `dump.rdb`) go to a temporary directory of its own, not
/// the working directory.
fn redis_server(args: &[&str], port: u16, ping: bool) -> Proc {
    let dir = temp_dir("redis-server");
    let child = Command::new("redis-server")
        .args(args)
        .args([
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc {
        child,
        dir: Some(dir),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(mut s) = TcpStream::connect(addr) {
            if !ping || resp_call(&mut s, &[b"PING"]).is_ok() {
                return p;
            }
        }
        assert!(
            Instant::now() < deadline,
            "redis-server on {addr} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in
/// a temporary directory removed on drop.
struct Certs {
    dir: PathBuf,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Certs {
    fn make() -> Certs {
        let dir = temp_dir("redis-tls");
        let run = |args: &str| {
            let out = Command::new("openssl")
                .args(args.split_whitespace())
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run("req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=daprd-test-ca");
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        for (name, cn) in [("server", "localhost"), ("client", "daprd")] {
            run(&format!(
                "req -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.csr -subj /CN={cn}"
            ));
            run(&format!(
                "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out {name}.pem -days 2 -extfile {name}.ext"
            ));
        }
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A file's PEM text, escaped for a double-quoted YAML value.
    fn yaml_pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap()
            .replace('\n', "\\n")
    }

    /// A TLS-only `redis-server`; clients must show a certificate when
    /// `auth_clients`.
    fn server(&self, auth_clients: bool) -> (Proc, u16) {
        let port = free_port();
        let p = redis_server(
            &[
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--tls-cert-file",
                &self.path("server.pem"),
                "--tls-key-file",
                &self.path("server.key"),
                "--tls-ca-cert-file",
                &self.path("ca.pem"),
                "--tls-auth-clients",
                if auth_clients { "yes" } else { "no" },
            ],
            port,
            false,
        );
        (p, port)
    }
}

fn dir_arg(dir: &Path) -> String {
    dir.display().to_string()
}

/// Saves `key` = `value` and reads it back through the sidecar.
fn save_and_get(d: &Daprd, key: &str, value: &str) {
    let body = format!(r#"[{{"key":"{key}","value":"{value}"}}]"#);
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        body.as_bytes(),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = get(d.http, &format!("/v1.0/state/statestore/{key}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!(value));
}

/// Runs daprd to its exit (start-up must fail) and returns its output.
fn failed_start(dir: &Path) -> String {
    let out = failed_start_up("tlsfail", dir);
    assert!(out.contains("statestore"), "{out}");
    out
}

#[test]
fn tls_state_store_verifies_the_server_against_trusted_roots() {
    if !tools("tls_state_store_verifies_the_server", true) {
        return;
    }
    let certs = Certs::make();
    let (_redis, port) = certs.server(false);
    let host = format!("127.0.0.1:{port}");
    let dir = services::component_dir(
        "state.redis",
        &[("redisHost", &host), ("enableTLS", "true")],
    );
    // Go reads the system roots; SSL_CERT_FILE names them, for Go and us.
    let ca = certs.path("ca.pem");
    let d = Daprd::start_with_env(
        &["--resources-path", &dir_arg(&dir)],
        &[("SSL_CERT_FILE", &ca)],
    );
    save_and_get(&d, "greeting", "over tls");
    // Several requests on the workers' pipelined TLS connections.
    for i in 0..20 {
        save_and_get(&d, &format!("k{i}"), &"x".repeat(i * 1000));
    }

    // Without the CA among the trusted roots, start-up fails, saying why.
    let out = failed_start(&dir);
    assert!(
        out.contains("TLS handshake failed") && out.contains("UnknownIssuer"),
        "{out}"
    );
}

#[test]
fn tls_insecure_skip_verify_and_client_certificate() {
    if !tools("tls_insecure_skip_verify_and_client_certificate", true) {
        return;
    }
    let certs = Certs::make();
    let (_redis, port) = certs.server(true);
    let host = format!("127.0.0.1:{port}");
    let (cert, key) = (certs.yaml_pem("client.pem"), certs.yaml_pem("client.key"));
    // No trusted CA: insecureSkipTLSVerify accepts the server as Go's
    // InsecureSkipVerify does; the server demands our certificate.
    let dir = services::component_dir(
        "state.redis",
        &[
            ("redisHost", &host),
            ("enableTLS", "true"),
            ("insecureSkipTLSVerify", "true"),
            ("clientCert", &cert),
            ("clientKey", &key),
        ],
    );
    let d = Daprd::start(&["--resources-path", &dir_arg(&dir)]);
    save_and_get(&d, "mtls", "client certificate shown");
    drop(d);

    // The same without the client certificate: the server refuses us.
    let dir = services::component_dir(
        "state.redis",
        &[
            ("redisHost", &host),
            ("enableTLS", "true"),
            ("insecureSkipTLSVerify", "true"),
        ],
    );
    let out = failed_start(&dir);
    assert!(out.contains("error connecting to redis"), "{out}");
}

#[test]
fn plain_probe_against_a_tls_port_fails_clearly() {
    if !tools("plain_probe_against_a_tls_port_fails_clearly", true) {
        return;
    }
    let certs = Certs::make();
    let (_redis, port) = certs.server(false);
    let host = format!("127.0.0.1:{port}");
    let dir = services::component_dir("state.redis", &[("redisHost", &host)]);
    let out = failed_start(&dir);
    assert!(
        out.contains("error connecting to redis") && out.contains("set enableTLS: true"),
        "{out}"
    );
}

#[test]
fn tls_against_a_plain_port_fails_clearly() {
    let Some(redis) = services::RedisServer::start("tls_against_a_plain_port_fails_clearly") else {
        return;
    };
    let dir = services::component_dir(
        "state.redis",
        &[
            ("redisHost", &redis.addr()),
            ("enableTLS", "true"),
            ("dialTimeout", "500ms"),
        ],
    );
    let out = failed_start(&dir);
    assert!(
        out.contains("TLS handshake failed") && out.contains("is this a TLS port"),
        "{out}"
    );
}

/// The master's port a sentinel names now, if any.
fn sentinel_master_port(sentinel: &str) -> Option<String> {
    let mut s = TcpStream::connect(sentinel).ok()?;
    match resp_call(
        &mut s,
        &[b"SENTINEL", b"get-master-addr-by-name", b"mymaster"],
    )
    .ok()?
    {
        BytesFrame::Array(parts) if parts.len() == 2 => Some(text(&parts[1])),
        _ => None,
    }
}

/// The next frame pushed on `s` (a subscription).
fn next_frame(s: &mut TcpStream, limit: Duration) -> BytesFrame {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = BytesMut::new();
    loop {
        if let Some((frame, _, _)) = decode_bytes_mut(&mut buf).unwrap() {
            return frame;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "subscription closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sentinel_failover_is_followed() {
    if !tools("sentinel_failover_is_followed", false) {
        return;
    }
    let (master_port, replica_port, sentinel_port) = (free_port(), free_port(), free_port());
    let _master = redis_server(&["--port", &master_port.to_string()], master_port, true);
    let _replica = redis_server(
        &[
            "--port",
            &replica_port.to_string(),
            "--replicaof",
            "127.0.0.1",
            &master_port.to_string(),
        ],
        replica_port,
        true,
    );
    let replica_addr = format!("127.0.0.1:{replica_port}");
    wait_for("the replica to sync", WAIT, || {
        let mut s = Plain::connect(&replica_addr);
        text(&s.call(&["INFO", "replication"])).contains("master_link_status:up")
    });
    // The sentinel's first INFO of the master lists the replica already.
    let dir = temp_dir("redis-sentinel");
    let conf = dir.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sentinel_port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {master_port} 1\nsentinel down-after-milliseconds mymaster 5000\nsentinel failover-timeout mymaster 20000\n",
            dir.display()
        ),
    )
    .unwrap();
    let _sentinel = Proc {
        child: Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        dir: Some(dir),
    };
    let sentinel = format!("127.0.0.1:{sentinel_port}");
    let master_port_s = master_port.to_string();
    wait_for("the sentinel to name the master", WAIT, || {
        sentinel_master_port(&sentinel).as_deref() == Some(master_port_s.as_str())
    });

    let comp = services::component_dir(
        "state.redis",
        &[
            ("redisHost", &sentinel),
            ("failover", "true"),
            ("sentinelMasterName", "mymaster"),
            ("readTimeout", "2s"),
        ],
    );
    let d = Daprd::start(&["--resources-path", &dir_arg(&comp)]);
    save_and_get(&d, "before", "on the first master");
    let app_key = "testapp||before";
    let mut m = Plain::connect(&format!("127.0.0.1:{master_port}"));
    assert_eq!(
        text(&m.call(&["HGET", app_key, "data"])),
        "\"on the first master\""
    );

    // Fail over to the replica, watching the sentinel announce it.
    let mut announcements = TcpStream::connect(&sentinel).unwrap();
    resp_call(&mut announcements, &[b"SUBSCRIBE", b"+switch-master"]).unwrap();
    wait_for(
        "the sentinel to accept a failover",
        Duration::from_secs(30),
        || {
            let mut s = TcpStream::connect(&sentinel).unwrap();
            resp_call(&mut s, &[b"SENTINEL", b"FAILOVER", b"mymaster"]).is_ok()
        },
    );
    let switch = next_frame(&mut announcements, Duration::from_secs(30));
    assert!(
        format!("{switch:?}").contains(&format!("127.0.0.1 {replica_port}")),
        "{switch:?}"
    );

    // The sidecar heard it too (as go-redis, it listens to +switch-master
    // and drops its connections to the old master, which takes writes
    // until Sentinel demotes it): the next save lands on the new master.
    std::thread::sleep(Duration::from_millis(300));
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        br#"[{"key":"after","value":"on the new master"}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // (Sentinel kills the promoted replica's clients: a fresh one.)
    let mut new_master = Plain::connect(&replica_addr);
    assert_eq!(
        text(&new_master.call(&["HGET", "testapp||after", "data"])),
        "\"on the new master\""
    );
    let r = get(d.http, "/v1.0/state/statestore/after");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!("on the new master"));
    // What was saved before the failover was replicated and still reads.
    let r = get(d.http, "/v1.0/state/statestore/before");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!("on the first master"));
}
