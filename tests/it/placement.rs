//! Black-box: the real `placement` binary, driven by clients that speak the
//! sidecars' protocol (`ReportDaprStatus` over h2c, prost-encoded `Host`s
//! up, `PlacementOrder`s down), as Go 1.17+ daprds do.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use daprd::proto::dapr::proto::placement::v1::{Host, HostOperation, PlacementOrder};
use prost::Message;

use crate::grpc::rt;
use crate::harness::*;

/// The longest a test waits for any one thing (the machine may be busy).
const PATIENCE: Duration = Duration::from_secs(30);

const METHOD: &str = "/dapr.proto.placement.v1.Placement/ReportDaprStatus";

// === the service ===

/// A `placement` child process on loopback, killed on drop (the actor
/// tests run their sidecars against it too).
pub struct Placement {
    child: Child,
    pub grpc: SocketAddr,
    healthz: SocketAddr,
    metrics: SocketAddr,
}

impl Placement {
    /// Starts the binary on free loopback ports with `extra` flags and
    /// waits until `/healthz` answers 200.
    pub fn start(extra: &[&str]) -> Placement {
        Self::start_on(free_port(), extra)
    }

    /// As [`Placement::start`], on gRPC port `grpc` (a restart on the same
    /// address).
    pub fn start_on(grpc: u16, extra: &[&str]) -> Placement {
        let (healthz, metrics) = (free_port(), free_port());
        let child = Command::new(placement_bin())
            .args(["--listen-address", "127.0.0.1", "--port", &grpc.to_string()])
            .args(["--healthz-listen-address", "127.0.0.1"])
            .args(["--healthz-port", &healthz.to_string()])
            .args(["--metrics-port", &metrics.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn placement");
        let p = Placement {
            child,
            grpc: SocketAddr::from(([127, 0, 0, 1], grpc)),
            healthz: SocketAddr::from(([127, 0, 0, 1], healthz)),
            metrics: SocketAddr::from(([127, 0, 0, 1], metrics)),
        };
        wait_status(p.healthz, "/healthz", 200);
        p
    }

    /// `/placement/state` (needs `--metadata-enabled`).
    pub fn state(&self) -> serde_json::Value {
        get(self.healthz, "/placement/state").json()
    }

    fn metrics(&self) -> String {
        get(self.metrics, "/metrics").text()
    }

    /// Polls `/metrics` until it has `line`.
    fn wait_metric(&self, line: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.metrics();
            if text.lines().any(|l| l == line) {
                return;
            }
            assert!(Instant::now() < deadline, "no {line:?} in:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// === a sidecar ===

/// What a stream delivered next.
#[derive(Debug)]
enum Got {
    Order(PlacementOrder),
    /// The call ended with this grpc-status and message.
    End(u32, String),
    /// The stream or connection failed without a status (the reason is
    /// shown in failure messages).
    Broken(#[allow(dead_code)] String),
}

enum Resp {
    Waiting(h2::client::ResponseFuture),
    Body(h2::RecvStream),
    Done,
}

/// One sidecar's `ReportDaprStatus` stream.
struct Sidecar {
    name: String,
    id: String,
    namespace: String,
    send: h2::SendStream<Bytes>,
    resp: Resp,
    buf: BytesMut,
}

fn frame(msg: &impl Message) -> Bytes {
    let body = msg.encode_to_vec();
    let mut b = BytesMut::with_capacity(5 + body.len());
    b.put_u8(0);
    b.put_u32(body.len() as u32);
    b.extend_from_slice(&body);
    b.freeze()
}

fn host(name: &str, id: &str, ns: &str, entities: &[&str], op: HostOperation) -> Host {
    #[allow(deprecated)]
    Host {
        name: name.into(),
        id: id.into(),
        namespace: ns.into(),
        entities: entities.iter().map(|e| (*e).to_owned()).collect(),
        api_level: 20,
        operation: op as i32,
        ..Host::default()
    }
}

impl Sidecar {
    /// Opens a stream to `addr` and sends `first` on it.
    async fn open_with(addr: SocketAddr, first: Host) -> Sidecar {
        Self::open_with_headers(addr, first, &[]).await
    }

    async fn open_with_headers(addr: SocketAddr, first: Host, headers: &[(&str, &str)]) -> Sidecar {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}{METHOD}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(()).unwrap();
        let (resp, send) = client.send_request(req, false).unwrap();
        let mut s = Sidecar {
            name: first.name.clone(),
            id: first.id.clone(),
            namespace: first.namespace.clone(),
            send,
            resp: Resp::Waiting(resp),
            buf: BytesMut::new(),
        };
        s.send_host(&first);
        s
    }

    /// A sidecar `name` (its app id `app-<name>`) of namespace `default`
    /// reporting `entities`, as a 1.17+ daprd does on connect.
    async fn open(addr: SocketAddr, name: &str, entities: &[&str]) -> Sidecar {
        let h = host(
            name,
            &format!("app-{name}"),
            "default",
            entities,
            HostOperation::Report,
        );
        Self::open_with(addr, h).await
    }

    fn send_host(&mut self, h: &Host) {
        self.send.send_data(frame(h), false).unwrap();
    }

    /// Acks `op` of `version` as a 1.17+ daprd does (id and namespace only).
    fn ack(&mut self, op: HostOperation, version: u64) {
        let h = Host {
            id: self.id.clone(),
            namespace: self.namespace.clone(),
            operation: op as i32,
            version: Some(version),
            ..Host::default()
        };
        self.send_host(&h);
    }

    /// Half-closes: the sidecar leaves.
    fn leave(&mut self) {
        let _ = self.send.send_data(Bytes::new(), true);
    }

    /// The next thing the stream delivers, within [`PATIENCE`].
    async fn next(&mut self) -> Got {
        match tokio::time::timeout(PATIENCE, self.next_inner()).await {
            Ok(g) => g,
            Err(_) => panic!("{}: nothing from placement within {PATIENCE:?}", self.name),
        }
    }

    async fn next_inner(&mut self) -> Got {
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
                let len = len as usize;
                if self.buf.len() >= 5 + len {
                    self.buf.advance(5);
                    let msg = self.buf.split_to(len);
                    return Got::Order(PlacementOrder::decode(msg).unwrap());
                }
            }
            match std::mem::replace(&mut self.resp, Resp::Done) {
                Resp::Waiting(fut) => match fut.await {
                    Ok(resp) => {
                        if let Some(end) = status_of(resp.headers()) {
                            return end; // trailers-only
                        }
                        self.resp = Resp::Body(resp.into_body());
                    }
                    Err(e) => return Got::Broken(e.to_string()),
                },
                Resp::Body(mut body) => match body.data().await {
                    Some(Ok(chunk)) => {
                        let _ = body.flow_control().release_capacity(chunk.len());
                        self.buf.extend_from_slice(&chunk);
                        self.resp = Resp::Body(body);
                    }
                    Some(Err(e)) => return Got::Broken(e.to_string()),
                    None => {
                        return match body.trailers().await {
                            Ok(Some(t)) => status_of(&t)
                                .unwrap_or_else(|| Got::Broken("no grpc-status".into())),
                            Ok(None) => Got::Broken("no trailers".into()),
                            Err(e) => Got::Broken(e.to_string()),
                        }
                    }
                },
                Resp::Done => return Got::Broken("ended".into()),
            }
        }
    }

    /// The next order, which must be `operation` at `version`.
    async fn expect(&mut self, operation: &str, version: u64) -> PlacementOrder {
        match self.next().await {
            Got::Order(o) if o.operation == operation && o.version == version => o,
            other => panic!("{}: wanted {operation} {version}, got {other:?}", self.name),
        }
    }

    /// Acks lock, update and unlock of `version` as they come; returns the update.
    async fn take_round(&mut self, version: u64) -> PlacementOrder {
        self.expect("lock", version).await;
        self.ack(HostOperation::Lock, version);
        let update = self.expect("update", version).await;
        self.ack(HostOperation::Update, version);
        self.expect("unlock", version).await;
        self.ack(HostOperation::Unlock, version);
        update
    }

    /// Acks every order as it comes until an update carries `want`.
    async fn until_table(&mut self, want: &[(String, Vec<String>)]) {
        loop {
            match self.next().await {
                Got::Order(o) => {
                    let op = match o.operation.as_str() {
                        "lock" => HostOperation::Lock,
                        "update" => HostOperation::Update,
                        _ => HostOperation::Unlock,
                    };
                    self.ack(op, o.version);
                    if o.operation == "update" && table(&o) == want {
                        return;
                    }
                }
                other => panic!("{}: wanted orders, got {other:?}", self.name),
            }
        }
    }

    /// The stream's end: (grpc-status, grpc-message).
    async fn expect_end(&mut self) -> (u32, String) {
        match self.next().await {
            Got::End(code, msg) => (code, msg),
            other => panic!("{}: wanted the end of the call, got {other:?}", self.name),
        }
    }
}

fn status_of(h: &http::HeaderMap) -> Option<Got> {
    let code = h.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    let msg = h
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let msg = percent_encoding::percent_decode_str(msg)
        .decode_utf8_lossy()
        .into_owned();
    Some(Got::End(code, msg))
}

/// The host names per actor type in an update's tables, sorted.
fn table(update: &PlacementOrder) -> Vec<(String, Vec<String>)> {
    let tables = update.tables.as_ref().expect("an update carries tables");
    let mut out: Vec<(String, Vec<String>)> = tables
        .entries
        .iter()
        .map(|(t, e)| {
            let mut hosts: Vec<String> = e.load_map.keys().cloned().collect();
            hosts.sort();
            (t.clone(), hosts)
        })
        .collect();
    out.sort();
    out
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

// === tests ===

#[test]
fn two_sidecars_share_a_type_and_a_leaver_makes_a_new_round() {
    let p = Placement::start(&["--metadata-enabled"]);
    rt().block_on(async {
        let mut a = Sidecar::open(p.grpc, "10.0.0.1:50002", &["Counter"]).await;
        let update = a.take_round(1).await;
        assert_eq!(
            table(&update),
            [("Counter".into(), names(&["10.0.0.1:50002"]))]
        );
        let tables = update.tables.as_ref().unwrap();
        assert_eq!(tables.replication_factor, 100);
        #[allow(deprecated)]
        let version = tables.version.clone();
        assert_eq!(version, "1");
        let reported = &tables.entries["Counter"].load_map["10.0.0.1:50002"];
        assert_eq!(reported.id, "app-10.0.0.1:50002");
        assert_eq!(reported.namespace, "default");
        assert_eq!(reported.entities, ["Counter"]);

        // A second sidecar of the same type: both are locked, both acks
        // are needed, both get the table with both hosts.
        let mut b = Sidecar::open(p.grpc, "10.0.0.2:50002", &["Counter", "Other"]).await;
        a.expect("lock", 2).await;
        b.expect("lock", 2).await;
        a.ack(HostOperation::Lock, 2);
        b.ack(HostOperation::Lock, 2);
        let ua = a.expect("update", 2).await;
        let ub = b.expect("update", 2).await;
        let both = vec![
            (
                "Counter".to_owned(),
                names(&["10.0.0.1:50002", "10.0.0.2:50002"]),
            ),
            ("Other".to_owned(), names(&["10.0.0.2:50002"])),
        ];
        assert_eq!(table(&ua), both);
        assert_eq!(table(&ub), both);
        a.ack(HostOperation::Update, 2);
        b.ack(HostOperation::Update, 2);
        a.expect("unlock", 2).await;
        b.expect("unlock", 2).await;
        a.ack(HostOperation::Unlock, 2);
        b.ack(HostOperation::Unlock, 2);
        p.wait_metric("dapr_placement_runtimes_total{host_namespace=\"default\"} 2");
        p.wait_metric("dapr_placement_actor_runtimes_total{host_namespace=\"default\"} 2");
        let state = get(p.healthz, "/placement/state").json();
        let hosts = &state["tables"]["default"]["hosts"];
        assert_eq!(hosts[0]["name"], "10.0.0.1:50002", "{state}");
        assert_eq!(hosts[1]["entities"][1], "Other", "{state}");
        assert_eq!(state["tables"]["default"]["version"], 2, "{state}");

        // B leaves: a new round without it.
        b.leave();
        assert_eq!(b.expect_end().await, (2, "EOF".to_owned()));
        let update = a.take_round(3).await;
        assert_eq!(
            table(&update),
            [("Counter".into(), names(&["10.0.0.1:50002"]))]
        );
        p.wait_metric("dapr_placement_runtimes_total{host_namespace=\"default\"} 1");
    });
}

#[test]
fn a_sidecar_without_actors_gets_the_table_pushed() {
    let p = Placement::start(&[]);
    rt().block_on(async {
        let mut a = Sidecar::open(p.grpc, "10.0.0.1:1", &["Counter"]).await;
        a.take_round(1).await;
        // No actor types: lock, update and unlock at once, no acks needed.
        let mut c = Sidecar::open(p.grpc, "10.0.0.3:1", &[]).await;
        c.expect("lock", 1).await;
        let update = c.expect("update", 1).await;
        assert_eq!(table(&update), [("Counter".into(), names(&["10.0.0.1:1"]))]);
        c.expect("unlock", 1).await;
        // Its acks of the push are ignored; it takes part in later rounds.
        c.ack(HostOperation::Lock, 1);
        c.ack(HostOperation::Update, 1);
        c.ack(HostOperation::Unlock, 1);
        let mut b = Sidecar::open(p.grpc, "10.0.0.2:1", &["Counter"]).await;
        let (ua, ub, uc) = tokio::join!(a.take_round(2), b.take_round(2), c.take_round(2));
        let both = [("Counter".to_owned(), names(&["10.0.0.1:1", "10.0.0.2:1"]))];
        assert_eq!(table(&ua), both);
        assert_eq!(table(&ub), both);
        assert_eq!(table(&uc), both);
        p.wait_metric("dapr_placement_runtimes_total{host_namespace=\"default\"} 3");
        p.wait_metric("dapr_placement_actor_runtimes_total{host_namespace=\"default\"} 2");
    });
}

#[test]
fn a_sidecar_that_never_acks_is_dropped_after_the_disseminate_timeout() {
    // Keepalive pings every second keep the connections that do answer them.
    let p = Placement::start(&[
        "--disseminate-timeout",
        "3s",
        "--keepalive-time",
        "1s",
        "--keepalive-timeout",
        "1s",
    ]);
    rt().block_on(async {
        let mut a = Sidecar::open(p.grpc, "10.0.0.1:1", &["Counter"]).await;
        a.take_round(1).await;
        let mut silent = Sidecar::open(p.grpc, "10.0.0.2:1", &["Counter"]).await;
        a.expect("lock", 2).await;
        silent.expect("lock", 2).await;
        a.ack(HostOperation::Lock, 2);
        // The silent one is cut off with DEADLINE_EXCEEDED...
        assert_eq!(
            silent.expect_end().await,
            (4, "dissemination timeout after 3s for version 2".to_owned())
        );
        // ...and the one that answered gets a table without it.
        let update = a.take_round(3).await;
        assert_eq!(table(&update), [("Counter".into(), names(&["10.0.0.1:1"]))]);
        p.wait_metric("dapr_placement_runtimes_total{host_namespace=\"default\"} 1");
    });
}

#[test]
fn a_stream_ended_by_its_grpc_timeout_leaves_the_table() {
    let p = Placement::start(&[]);
    rt().block_on(async {
        let mut a = Sidecar::open(p.grpc, "10.0.0.1:1", &["Counter"]).await;
        a.take_round(1).await;
        let h = host(
            "10.0.0.2:1",
            "b",
            "default",
            &["Counter"],
            HostOperation::Report,
        );
        let mut b = Sidecar::open_with_headers(p.grpc, h, &[("grpc-timeout", "3S")]).await;
        let both = [("Counter".to_owned(), names(&["10.0.0.1:1", "10.0.0.2:1"]))];
        let (_, ub) = tokio::join!(a.until_table(&both), b.take_round(2));
        assert_eq!(table(&ub), both);
        assert_eq!(b.expect_end().await.0, 4, "DEADLINE_EXCEEDED");
        // The expired stream left like any other.
        a.until_table(&[("Counter".to_owned(), names(&["10.0.0.1:1"]))])
            .await;
        p.wait_metric("dapr_placement_runtimes_total{host_namespace=\"default\"} 1");
    });
}

#[test]
fn a_sidecar_connecting_during_a_round_waits_for_it() {
    let p = Placement::start(&[]);
    rt().block_on(async {
        let mut a = Sidecar::open(p.grpc, "10.0.0.1:1", &["Counter"]).await;
        a.expect("lock", 1).await;
        // B arrives while A's round is open: admitted when it closes.
        let mut b = Sidecar::open(p.grpc, "10.0.0.2:1", &["Counter"]).await;
        a.ack(HostOperation::Lock, 1);
        let update = a.expect("update", 1).await;
        assert_eq!(table(&update), [("Counter".into(), names(&["10.0.0.1:1"]))]);
        a.ack(HostOperation::Update, 1);
        a.expect("unlock", 1).await;
        a.ack(HostOperation::Unlock, 1);
        let (ua, ub) = tokio::join!(a.take_round(2), b.take_round(2));
        assert_eq!(table(&ua), table(&ub));
        assert_eq!(table(&ub)[0].1.len(), 2);
    });
}

#[test]
fn a_1_16_sidecar_heartbeat_acks_the_current_phase() {
    let p = Placement::start(&[]);
    rt().block_on(async {
        // 1.16 daprds send the full host with no operation every second.
        let beat = host(
            "10.0.0.9:1",
            "old",
            "default",
            &["Legacy"],
            HostOperation::Unknown,
        );
        let mut old = Sidecar::open_with(p.grpc, beat.clone()).await;
        old.expect("lock", 1).await;
        old.send_host(&beat);
        let update = old.expect("update", 1).await;
        #[allow(deprecated)]
        let version = update.tables.as_ref().unwrap().version.clone();
        assert_eq!(version, "1", "1.16 reads tables.version");
        old.send_host(&beat);
        old.expect("unlock", 1).await;
        old.send_host(&beat);
        // A newer sidecar joins: the old one's heartbeats ack its round too.
        let mut new = Sidecar::open(p.grpc, "10.0.0.1:1", &["Counter"]).await;
        old.expect("lock", 2).await;
        old.send_host(&beat);
        let (_, un) = tokio::join!(
            async {
                old.expect("update", 2).await;
                old.send_host(&beat);
                old.expect("unlock", 2).await;
                old.send_host(&beat);
            },
            new.take_round(2)
        );
        assert_eq!(table(&un).len(), 2);
    });
}

#[test]
fn the_authorizer_refuses_bad_hosts() {
    let p = Placement::start(&[]);
    rt().block_on(async {
        let cases = [
            (
                host("h:1", "", "default", &[], HostOperation::Report),
                3,
                "host ID and namespace must be provided",
            ),
            (
                host("h:1", "app", "", &[], HostOperation::Report),
                3,
                "host ID and namespace must be provided",
            ),
            (
                Host {
                    version: Some(1),
                    ..host("h:1", "app", "default", &[], HostOperation::Unknown)
                },
                3,
                "both operation and version must be set or both must be unset",
            ),
            (
                host(
                    "h:1",
                    "app",
                    "default",
                    &["dapr.internal.default.other.workflow"],
                    HostOperation::Report,
                ),
                7,
                "entity dapr.internal.default.other.workflow is not allowed for app ID app in namespace default",
            ),
        ];
        for (h, code, msg) in cases {
            let mut s = Sidecar::open_with(p.grpc, h).await;
            assert_eq!(s.expect_end().await, (code, msg.to_owned()));
        }
        // Its own internal types are fine; a bad later message ends the stream.
        let mut s = Sidecar::open_with(
            p.grpc,
            host(
                "h:1",
                "app",
                "default",
                &["dapr.internal.default.app.workflow"],
                HostOperation::Report,
            ),
        )
        .await;
        s.take_round(1).await;
        s.send_host(&host("h:1", "", "default", &[], HostOperation::Report));
        assert_eq!(
            s.expect_end().await,
            (3, "host ID and namespace must be provided".to_owned())
        );
        // The namespace emptied: the next sidecar starts over at version 1.
        let mut next = Sidecar::open(p.grpc, "h:2", &["Counter"]).await;
        next.take_round(1).await;
    });
}

#[test]
fn namespaces_get_their_own_tables() {
    let p = Placement::start(&[]);
    rt().block_on(async {
        let mut a = Sidecar::open_with(
            p.grpc,
            host(
                "10.0.0.1:1",
                "a",
                "ns1",
                &["Counter"],
                HostOperation::Report,
            ),
        )
        .await;
        let mut b = Sidecar::open_with(
            p.grpc,
            host(
                "10.0.0.2:1",
                "b",
                "ns2",
                &["Counter"],
                HostOperation::Report,
            ),
        )
        .await;
        let (ua, ub) = tokio::join!(a.take_round(1), b.take_round(1));
        assert_eq!(table(&ua), [("Counter".into(), names(&["10.0.0.1:1"]))]);
        assert_eq!(table(&ub), [("Counter".into(), names(&["10.0.0.2:1"]))]);
        p.wait_metric("dapr_placement_runtimes_total{host_namespace=\"ns1\"} 1");
        p.wait_metric("dapr_placement_runtimes_total{host_namespace=\"ns2\"} 1");
    });
}

#[test]
fn keepalive_closes_a_connection_that_does_not_answer_pings() {
    use std::io::{Read, Write};
    let p = Placement::start(&["--keepalive-time", "1s", "--keepalive-timeout", "1s"]);
    let mut s = std::net::TcpStream::connect(p.grpc).unwrap();
    // The client preface and an empty SETTINGS frame; then silence: no
    // SETTINGS ack, no PING ack.
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the connection stayed open for {:?}: {e}",
                started.elapsed()
            ),
        }
    }
    // Frame type 6 is PING.
    let mut rest = &got[..];
    let mut types = Vec::new();
    while rest.len() >= 9 {
        let len = (usize::from(rest[0]) << 16) | (usize::from(rest[1]) << 8) | usize::from(rest[2]);
        types.push(rest[3]);
        rest = &rest[(9 + len).min(rest.len())..];
    }
    assert!(types.contains(&6), "no PING before the close: {types:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "closed before the keepalive time and timeout had passed"
    );
}

#[test]
fn unknown_methods_are_unimplemented() {
    let p = Placement::start(&[]);
    rt().block_on(async {
        let tcp = tokio::net::TcpStream::connect(p.grpc).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let req = http::Request::builder()
            .method("POST")
            .uri(format!(
                "http://{}/dapr.proto.placement.v1.Placement/Nope",
                p.grpc
            ))
            .header("content-type", "application/grpc")
            .body(())
            .unwrap();
        let (resp, mut send) = client.send_request(req, false).unwrap();
        send.send_data(Bytes::new(), true).unwrap();
        let resp = resp.await.unwrap();
        match status_of(resp.headers()) {
            Some(Got::End(12, msg)) => assert_eq!(
                msg,
                "unknown method Nope for service dapr.proto.placement.v1.Placement"
            ),
            _ => panic!("{:?}", resp.headers()),
        }
    });
}

#[test]
fn sigterm_cancels_the_streams_and_exits_0() {
    let mut p = Placement::start(&[]);
    rt().block_on(async {
        let mut a = Sidecar::open(p.grpc, "10.0.0.1:1", &["Counter"]).await;
        a.take_round(1).await;
        let ok = Command::new("kill")
            .args(["-TERM", &p.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        assert_eq!(a.expect_end().await, (1, "context canceled".to_owned()));
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "placement did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn healthz_and_metrics_answer_before_any_sidecar() {
    let p = Placement::start(&[]);
    assert_eq!(get(p.healthz, "/healthz").status, 200);
    assert_eq!(get(p.healthz, "/nope").status, 404);
    // Without --metadata-enabled the tables are not exposed.
    assert_eq!(get(p.healthz, "/placement/state").status, 404);
    let text = p.metrics();
    assert!(
        text.contains("\ndapr_placement_leader_status 1\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE dapr_placement_raft_leader_status gauge"),
        "{text}"
    );
}

#[test]
fn flags_this_build_refuses_exit_1_saying_why() {
    let run = |args: &[&str]| {
        let out = Command::new(placement_bin())
            .args(["--port", "0", "--healthz-port", "0", "--metrics-port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        (out.status.code(), text)
    };
    let (code, out) = run(&["--tls-enabled"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("--tls-enabled") && out.contains("no mTLS"),
        "{out}"
    );
    let (code, out) = run(&[
        "--initial-cluster",
        "dapr-placement-0=127.0.0.1:8201,dapr-placement-1=127.0.0.1:8202",
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("single placement replica"), "{out}");
    let (code, out) = run(&["--mode", "kubernetes"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("standalone only"), "{out}");
    let (code, out) = run(&["--keepalive-time", "500ms"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("invalid value for keepalive-time"), "{out}");
    // What does not parse is a usage error, as pflag's.
    let (code, out) = run(&["--no-such-flag"]);
    assert_eq!(code, Some(2), "{out}");
}
