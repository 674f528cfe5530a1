//! Test harness: start the real `daprd` binary (or the runtime in-process) on
//! loopback, and talk to it with a tiny HTTP/1.1 client over std sockets so
//! tests can also send bytes no real client would.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dapr::dapr::proto::common::v1::InvokeRequest;
use dapr::dapr::proto::runtime::v1::app_callback_client::AppCallbackClient;
use dapr::dapr::proto::runtime::v1::app_callback_server::{AppCallback, AppCallbackServer};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The head of one HTTP/1.1 request a test server read: method, target,
/// and headers with lower-case names, in order.
pub struct RequestHead {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a request head from `r` (for the small HTTP servers tests run);
/// `None` when the peer closed the connection first.
pub fn read_request_head(r: &mut impl BufRead) -> Option<RequestHead> {
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            return Some(RequestHead {
                method,
                target,
                headers,
            });
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// Path of the built binary.
pub fn daprd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_daprd"))
}

/// Path of the built `placement` binary.
pub fn placement_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_placement"))
}

/// Path of the built `scheduler` binary.
pub fn scheduler_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_scheduler"))
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A keep-alive client connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.set_write_timeout(Some(WAIT)).unwrap();
        Conn {
            reader: BufReader::new(s),
        }
    }

    /// Wraps a connection the test already wrote to.
    pub fn from_stream(s: TcpStream) -> Conn {
        Conn {
            reader: BufReader::new(s),
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).expect("write");
    }

    /// Sends a request with `content-length` framing and reads the response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT") {
            req.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes);
        self.read_response(method == "HEAD")
    }

    /// Reads one response (content-length, chunked, or until close).
    pub fn read_response(&mut self, head_only: bool) -> HttpResponse {
        self.try_read_response(head_only).expect("read response")
    }

    pub fn try_read_response(&mut self, head_only: bool) -> std::io::Result<HttpResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let mut body = Vec::new();
        let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
        if !no_body {
            if let Some(len) = headers.get("content-length") {
                let len: usize = len.parse().unwrap();
                body.resize(len, 0);
                self.reader.read_exact(&mut body)?;
            } else if headers
                .get("transfer-encoding")
                .is_some_and(|v| v.contains("chunked"))
            {
                loop {
                    let mut size = String::new();
                    self.reader.read_line(&mut size)?;
                    let n = usize::from_str_radix(size.trim(), 16).unwrap();
                    let mut chunk = vec![0; n + 2];
                    self.reader.read_exact(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
            } else {
                self.reader.read_to_end(&mut body)?;
            }
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// True when the server has closed the connection (EOF within the wait).
    pub fn is_closed_by_peer(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }
}

/// One request on a fresh connection.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    Conn::open(addr).request(method, path, headers, body)
}

pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    request(addr, "GET", path, &[], b"")
}

/// Polls `path` until it answers `status`, or panics after [`WAIT`].
pub fn wait_status(addr: SocketAddr, path: &str, status: u16) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            drop(s);
            let r = get(addr, path);
            if r.status == status {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{path} on {addr} never answered {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `daprd` child process, killed on drop.
pub struct Daprd {
    pub child: Child,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub metrics: SocketAddr,
}

impl Daprd {
    /// Starts the binary with `--app-id`, free HTTP/gRPC/metrics ports on
    /// 127.0.0.1 and `extra` flags, and waits for outbound readiness.
    pub fn start(extra: &[&str]) -> Daprd {
        Self::start_with_env(extra, &[])
    }

    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Daprd {
        Self::spawn(extra, env, Stdio::null())
    }

    /// As [`Daprd::start`], with every line daprd logs (to stdout, as Go's)
    /// sent down the returned channel.
    pub fn start_with_logs(extra: &[&str]) -> (Daprd, std::sync::mpsc::Receiver<String>) {
        use std::io::BufRead;
        let mut d = Self::spawn(extra, &[], Stdio::piped());
        let stdout = d.child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        (d, rx)
    }

    fn spawn(extra: &[&str], env: &[(&str, &str)], stdout: Stdio) -> Daprd {
        let (http, grpc, metrics) = (free_port(), free_port(), free_port());
        let mut cmd = Command::new(daprd_bin());
        cmd.args([
            "--app-id",
            "testapp",
            "--dapr-listen-addresses",
            "127.0.0.1",
        ])
        .args(["--dapr-http-port", &http.to_string()])
        .args(["--dapr-grpc-port", &grpc.to_string()])
        .args([
            "--metrics-port",
            &metrics.to_string(),
            "--metrics-listen-address",
            "127.0.0.1",
        ])
        .args(extra)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn daprd");
        let d = Daprd {
            child,
            http: SocketAddr::from(([127, 0, 0, 1], http)),
            grpc: SocketAddr::from(([127, 0, 0, 1], grpc)),
            metrics: SocketAddr::from(([127, 0, 0, 1], metrics)),
        };
        wait_status(d.http, "/v1.0/healthz/outbound", 204);
        d
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`) with the `kill` command.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "daprd did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daprd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's peak resident set (`VmHWM`), KiB.
pub fn peak_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

/// Runs the binary to completion with `args`, returning (exit code, stderr+stdout).
pub fn run_to_exit(args: &[&str]) -> (i32, String) {
    let out = Command::new(daprd_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run daprd");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), text)
}

/// Runs the binary as app `app_id` with the components in `dir` (every
/// port 0) to its exit, which must be a failed start-up (exit code 1);
/// returns its output.
pub fn failed_start_up(app_id: &str, dir: &std::path::Path) -> String {
    let dir = dir.display().to_string();
    let mut args = vec!["--app-id", app_id, "--resources-path", &dir];
    for listener in ["--dapr-http-port", "--dapr-grpc-port", "--metrics-port"] {
        args.extend([listener, "0"]);
    }
    let (code, out) = run_to_exit(&args);
    assert_eq!(code, 1, "{out}");
    out
}

// === in-process ===

/// Which driver in-process tests run on.
pub const DRIVERS: [daprd::runtime::Driver; 2] =
    [daprd::runtime::Driver::Legacy, daprd::runtime::Driver::Auto];

/// A sidecar running inside the test process.
pub struct InProc {
    pub handle: Option<daprd::Handle>,
    pub http: SocketAddr,
}

impl InProc {
    /// [`InProc::start`] (auto driver) for app `app_id` listening on `port`
    /// and speaking `protocol` (`--app-protocol`), with `extra` flags.
    pub fn for_app(app_id: &str, port: u16, protocol: &str, extra: &[&str]) -> InProc {
        let port = port.to_string();
        let mut args = vec![
            "--app-id",
            app_id,
            "--app-port",
            &port,
            "--app-protocol",
            protocol,
        ];
        args.extend_from_slice(extra);
        InProc::start(&args, daprd::runtime::Driver::Auto, None)
    }

    /// Starts the runtime in-process with port 0 everywhere on 127.0.0.1.
    pub fn start(
        extra: &[&str],
        driver: daprd::runtime::Driver,
        tuning: Option<daprd::Tuning>,
    ) -> InProc {
        let mut args = vec![
            "daprd",
            "--app-id",
            "inproc",
            "--dapr-listen-addresses",
            "127.0.0.1",
            "--dapr-http-port",
            "0",
            "--dapr-grpc-port",
            "0",
            "--metrics-port",
            "0",
            "--metrics-listen-address",
            "127.0.0.1",
            "--workers",
            "2",
        ];
        args.extend_from_slice(extra);
        let flags = daprd::config::flags::parse_from(args).expect("flags");
        let opts = daprd::config::Options::from_flags(flags, &|_| None).expect("options");
        let mut tuning = tuning.unwrap_or_default();
        tuning.driver = driver;
        let handle = daprd::start(opts, tuning).expect("start");
        let http = SocketAddr::from(([127, 0, 0, 1], handle.http_port()));
        wait_status(http, "/v1.0/healthz/outbound", 204);
        InProc {
            handle: Some(handle),
            http,
        }
    }

    /// The public gRPC API's address.
    pub fn grpc(&self) -> SocketAddr {
        let port = self.handle.as_ref().expect("running").grpc_port();
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    pub fn metrics(&self) -> SocketAddr {
        let port = self
            .handle
            .as_ref()
            .and_then(|h| h.metrics_port())
            .expect("metrics port");
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    pub fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
            h.join();
        }
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        self.stop();
    }
}

// === apps on tokio ===

/// Runs `serve(port)` for a free loopback port on a current-thread tokio
/// runtime in a background thread (for the test's life); returns the port.
/// The app may still be binding when this returns: daprd waits for it.
pub fn app_server<F, Fut>(serve: F) -> u16
where
    F: FnOnce(u16) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let port = free_port();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(serve(port));
    });
    port
}

/// A gRPC app (`--app-protocol grpc`): `service` behind tonic's server, as
/// the official SDK's apps run, on a free port (see [`app_server`]).
pub fn grpc_app_server<S: AppCallback>(service: S) -> u16 {
    app_server(move |port| async move {
        tonic::transport::Server::builder()
            .add_service(AppCallbackServer::new(service))
            .serve(([127, 0, 0, 1], port).into())
            .await
            .unwrap();
    })
}

// === gRPC requests ===

/// `v` as the `Any` of an invocation's data (no type URL, as the SDK sends).
pub fn any(v: &[u8]) -> Option<prost_types::Any> {
    Some(prost_types::Any {
        type_url: String::new(),
        value: v.to_vec(),
    })
}

/// An `AppCallback` client on a sidecar's gRPC port at `addr`: what an app
/// (or another sidecar) sends there with `dapr-app-id` is proxied.
pub async fn app_callback_client(addr: SocketAddr) -> AppCallbackClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    AppCallbackClient::new(channel)
}

/// An `OnInvoke` request for `method` (with `data`, if any) routed to
/// `app_id` by each of the metadata `headers` (`dapr-app-id`,
/// `dapr-callee-app-id`).
pub fn invoke_request(
    method: &str,
    data: Option<&[u8]>,
    app_id: &str,
    headers: &[&str],
) -> tonic::Request<InvokeRequest> {
    let mut r = tonic::Request::new(InvokeRequest {
        method: method.into(),
        data: data.and_then(any),
        ..Default::default()
    });
    for h in headers {
        r.metadata_mut().insert(
            tonic::metadata::MetadataKey::from_bytes(h.as_bytes()).unwrap(),
            app_id.parse().unwrap(),
        );
    }
    r
}
