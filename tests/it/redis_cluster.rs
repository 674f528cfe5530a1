//! `state.redis` with `redisType: cluster` against a real three-master
//! Redis Cluster on loopback: Go's layout on the node owning each key,
//! ETags, transactions in one slot and across slots (go-redis'
//! `CROSSSLOT`), `ASK` during a slot migration, `MOVED` after it and after
//! `redis-cli --cluster reshard`, and a node that dies and comes back.
//! Also `pubsub.redis` and `bindings.redis` on a cluster, and the
//! components that refuse one (`lock.redis` as Go, `configuration.redis`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daprd::components::redis::cluster::key_slot;
use redis_protocol::resp2::types::BytesFrame;

use crate::harness::*;
use crate::pubsub::{json, publish, resources_of, sidecar, Subscriber};
use crate::services::{self, text, Plain};

/// Three cluster-enabled `redis-server`s, killed (and their files removed)
/// on drop.
struct RedisCluster {
    ports: Vec<u16>,
    children: Vec<Option<Child>>,
    dir: PathBuf,
}

fn installed(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One command to one node; error replies (MOVED…) are `Err`.
fn node_call(addr: &str, args: &[&str]) -> Result<BytesFrame, String> {
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    services::resp_call(&mut s, &args)
}

/// A free port whose cluster bus port (+10000) is a port and free too.
fn cluster_port() -> u16 {
    loop {
        let p = free_port();
        if p <= 55535 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

impl RedisCluster {
    fn start(test: &str) -> Option<RedisCluster> {
        let ok = installed("redis-server") && installed("redis-cli");
        if !services::available("redis-server and redis-cli", ok, test) {
            return None;
        }
        let dir = services::temp_dir("redis-cluster");
        let mut c = RedisCluster {
            ports: (0..3).map(|_| cluster_port()).collect(),
            children: vec![None, None, None],
            dir,
        };
        for i in 0..3 {
            c.start_node(i);
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for i in 0..3 {
            create.arg(c.addr(i));
        }
        let out = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        c.wait_ok();
        Some(c)
    }

    fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.ports[i])
    }

    /// `redisHost` for the component.
    fn hosts(&self) -> String {
        (0..3).map(|i| self.addr(i)).collect::<Vec<_>>().join(",")
    }

    /// Starts node `i` (again, with its cluster config) and waits for PING.
    fn start_node(&mut self, i: usize) {
        let port = self.ports[i].to_string();
        let conf = self.dir.join(format!("nodes-{port}.conf"));
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-config-file"])
            .arg(&conf)
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.children[i] = Some(child);
        let deadline = Instant::now() + WAIT;
        while node_call(&self.addr(i), &["PING"]).is_err() {
            assert!(Instant::now() < deadline, "redis-server {i} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill_node(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits until every node says `cluster_state:ok` and knows all three
    /// masters' slots.
    fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = (0..3).all(|i| {
                let info = node_call(&self.addr(i), &["CLUSTER", "INFO"]);
                let slots = node_call(&self.addr(i), &["CLUSTER", "SLOTS"]);
                matches!(&info, Ok(f) if text(f).contains("cluster_state:ok"))
                    && matches!(&slots, Ok(BytesFrame::Array(r)) if r.len() >= 3)
            });
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "the cluster never became ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn id(&self, i: usize) -> String {
        text(&node_call(&self.addr(i), &["CLUSTER", "MYID"]).unwrap())
    }

    /// The node holding `key` (the only one answering without `MOVED`).
    fn owner(&self, key: &str) -> usize {
        let owners: Vec<usize> = (0..3)
            .filter(|&i| node_call(&self.addr(i), &["TYPE", key]).is_ok())
            .collect();
        assert_eq!(owners.len(), 1, "{key}: owners {owners:?}");
        owners[0]
    }

    /// `HGETALL key` on node `i`, sorted.
    fn hash_on(&self, i: usize, key: &str) -> Vec<(String, String)> {
        let mut h = Plain::connect(&self.addr(i)).hgetall(key);
        h.sort();
        h
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill_node(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_sidecar(cluster: &RedisCluster, app: &str) -> InProc {
    let dir = services::component_dir(
        "state.redis",
        &[
            ("redisHost", &cluster.hosts()),
            ("redisType", "cluster"),
            ("readTimeout", "2s"),
        ],
    );
    let dir = dir.display().to_string();
    InProc::start(
        &["--resources-path", &dir, "--app-id", app],
        DRIVERS[1],
        None,
    )
}

fn save(d: &InProc, body: &str) -> HttpResponse {
    request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        body.as_bytes(),
    )
}

fn transact(d: &InProc, ops: &str) -> HttpResponse {
    let body = format!(r#"{{"operations":{ops}}}"#);
    request(
        d.http,
        "POST",
        "/v1.0/state/statestore/transaction",
        &[],
        body.as_bytes(),
    )
}

#[test]
fn cluster_state_layout_etags_and_transactions() {
    let Some(cluster) = RedisCluster::start("cluster_state_layout_etags_and_transactions") else {
        return;
    };
    let app = services::unique_app_id("cl");
    let d = start_sidecar(&cluster, &app);
    let full = |k: &str| format!("{app}||{k}");

    // Many keys, spread over the three masters, each in Go's layout on
    // the node owning it.
    let keys: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
    let items: Vec<String> = keys
        .iter()
        .map(|k| format!(r#"{{"key":"{k}","value":"v-{k}"}}"#))
        .collect();
    let r = save(&d, &format!("[{}]", items.join(",")));
    assert_eq!(r.status, 204, "{}", r.text());
    let mut used = [false; 3];
    for k in &keys {
        let owner = cluster.owner(&full(k));
        used[owner] = true;
        assert_eq!(
            cluster.hash_on(owner, &full(k)),
            [
                ("data".into(), format!("\"v-{k}\"")),
                ("version".into(), "1".into())
            ]
        );
    }
    assert_eq!(used, [true; 3], "the keys did not reach every node");

    // Reads: one by one and in bulk.
    for k in &keys[..5] {
        let r = get(d.http, &format!("/v1.0/state/statestore/{k}"));
        assert_eq!((r.status, r.header("etag")), (200, Some("1")), "{k}");
        assert_eq!(r.json(), serde_json::json!(format!("v-{k}")));
    }
    let body = serde_json::json!({ "keys": keys }).to_string();
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore/bulk",
        &[],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), keys.len());
    for item in got {
        let k = item["key"].as_str().unwrap();
        assert_eq!(item["data"], serde_json::json!(format!("v-{k}")), "{item}");
        assert_eq!(item["etag"], "1");
    }

    // ETags, on whichever node.
    for k in ["k1", "k2", "k3"] {
        let ok = format!(r#"[{{"key":"{k}","value":2,"etag":"1"}}]"#);
        assert_eq!(save(&d, &ok).status, 204);
        assert_eq!(save(&d, &ok).status, 409, "a stale ETag must fail");
        let r = request(
            d.http,
            "DELETE",
            &format!("/v1.0/state/statestore/{k}"),
            &[("if-match", "1")],
            b"",
        );
        assert_eq!(r.status, 409, "{}", r.text());
        let r = request(
            d.http,
            "DELETE",
            &format!("/v1.0/state/statestore/{k}"),
            &[("if-match", "2")],
            b"",
        );
        assert_eq!(r.status, 204, "{}", r.text());
        assert_eq!(
            get(d.http, &format!("/v1.0/state/statestore/{k}")).status,
            204
        );
    }
    // Plain deletes of the rest leave nothing behind on any node.
    for k in keys
        .iter()
        .filter(|k| !["k1", "k2", "k3"].contains(&k.as_str()))
    {
        let r = request(
            d.http,
            "DELETE",
            &format!("/v1.0/state/statestore/{k}"),
            &[],
            b"",
        );
        assert_eq!(r.status, 204);
    }
    for k in &keys {
        for i in 0..3 {
            assert!(
                !matches!(
                    node_call(&cluster.addr(i), &["EXISTS", &full(k)]),
                    Ok(BytesFrame::Integer(1))
                ),
                "{k} still on node {i}"
            );
        }
    }

    // A transaction whose keys share a slot (a hashtag): atomic, on the owner.
    let (a, b) = (full("{acct}.a"), full("{acct}.b"));
    assert_eq!(key_slot(a.as_bytes()), key_slot(b.as_bytes()));
    let r = transact(
        &d,
        r#"[{"operation":"upsert","request":{"key":"{acct}.a","value":10}},{"operation":"upsert","request":{"key":"{acct}.b","value":20}}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let owner = cluster.owner(&a);
    assert_eq!(cluster.owner(&b), owner);
    assert_eq!(
        cluster.hash_on(owner, &a),
        [("data".into(), "10".into()), ("version".into(), "1".into())]
    );
    // A stale ETag in it writes nothing.
    let r = transact(
        &d,
        r#"[{"operation":"upsert","request":{"key":"{acct}.a","value":11,"etag":"1"}},{"operation":"delete","request":{"key":"{acct}.b","etag":"7"}}]"#,
    );
    // (Like Go, the runtime answers a failed transaction with 500.)
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("etag mismatch"), "{}", r.text());
    assert_eq!(
        get(d.http, "/v1.0/state/statestore/%7Bacct%7D.a").text(),
        "10"
    );
    let r = transact(
        &d,
        r#"[{"operation":"upsert","request":{"key":"{acct}.a","value":11,"etag":"1"}},{"operation":"delete","request":{"key":"{acct}.b"}}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        get(d.http, "/v1.0/state/statestore/%7Bacct%7D.a").text(),
        "11"
    );
    assert_eq!(
        get(d.http, "/v1.0/state/statestore/%7Bacct%7D.b").status,
        204
    );

    // Keys in different slots: go-redis' CROSSSLOT, and nothing written.
    let (x, y) = (
        "x1",
        (2..100)
            .map(|i| format!("x{i}"))
            .find(|y| key_slot(full(y).as_bytes()) != key_slot(full("x1").as_bytes()))
            .unwrap(),
    );
    let r = transact(
        &d,
        &format!(
            r#"[{{"operation":"upsert","request":{{"key":"{x}","value":1}}}},{{"operation":"upsert","request":{{"key":"{y}","value":2}}}}]"#
        ),
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_STATE_TRANSACTION");
    assert!(
        r.text()
            .contains("CROSSSLOT Keys in request don't hash to the same slot"),
        "{}",
        r.text()
    );
    assert_eq!(
        get(d.http, &format!("/v1.0/state/statestore/{x}")).status,
        204
    );
    assert_eq!(
        get(d.http, &format!("/v1.0/state/statestore/{y}")).status,
        204
    );
}

#[test]
fn cluster_follows_ask_moved_reshard_and_node_restarts() {
    let Some(mut cluster) = RedisCluster::start("cluster_follows_ask_moved_reshard") else {
        return;
    };
    let app = services::unique_app_id("mv");
    let d = start_sidecar(&cluster, &app);
    let full = |k: &str| format!("{app}||{k}");

    // A slot migrating from its owner to another node: an existing key is
    // still read from the old owner, a new one is written on the new owner
    // through ASK.
    assert_eq!(save(&d, r#"[{"key":"{mv}a","value":"a"}]"#).status, 204);
    let from = cluster.owner(&full("{mv}a"));
    let to = (from + 1) % 3;
    let slot = key_slot(full("{mv}a").as_bytes()).to_string();
    let (from_id, to_id) = (cluster.id(from), cluster.id(to));
    node_call(
        &cluster.addr(to),
        &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id],
    )
    .unwrap();
    node_call(
        &cluster.addr(from),
        &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id],
    )
    .unwrap();
    assert_eq!(save(&d, r#"[{"key":"{mv}b","value":"b"}]"#).status, 204);
    let mut on_target = Plain::connect(&cluster.addr(to));
    on_target.call(&["ASKING"]);
    let mut h = on_target.hgetall(&full("{mv}b"));
    h.sort();
    assert_eq!(
        h,
        [
            ("data".into(), "\"b\"".into()),
            ("version".into(), "1".into())
        ]
    );
    assert_eq!(
        get(d.http, "/v1.0/state/statestore/%7Bmv%7Da").text(),
        "\"a\""
    );

    // Finish the migration: the old owner now answers MOVED.
    let port = cluster.ports[to].to_string();
    node_call(
        &cluster.addr(from),
        &[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "0",
            "5000",
            "KEYS",
            &full("{mv}a"),
        ],
    )
    .unwrap();
    for i in 0..3 {
        node_call(
            &cluster.addr(i),
            &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id],
        )
        .unwrap();
    }
    assert_eq!(cluster.owner(&full("{mv}a")), to);
    let r = get(d.http, "/v1.0/state/statestore/%7Bmv%7Da");
    assert_eq!((r.status, r.text()), (200, "\"a\"".to_owned()));
    assert_eq!(
        get(d.http, "/v1.0/state/statestore/%7Bmv%7Db").text(),
        "\"b\""
    );
    // The old owner did send both redirections (Redis counts error replies).
    let stats = text(&node_call(&cluster.addr(from), &["INFO", "errorstats"]).unwrap());
    assert!(
        stats.contains("errorstat_ASK:") && stats.contains("errorstat_MOVED:"),
        "{stats}"
    );
    let r = save(&d, r#"[{"key":"{mv}a","value":"a2","etag":"1"}]"#);
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(cluster
        .hash_on(to, &full("{mv}a"))
        .contains(&("version".into(), "2".into())));

    // redis-cli --cluster reshard moves many slots (and their keys); every
    // key still reads back.
    let keys: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
    let items: Vec<String> = keys
        .iter()
        .map(|k| format!(r#"{{"key":"{k}","value":"{k}"}}"#))
        .collect();
    assert_eq!(save(&d, &format!("[{}]", items.join(","))).status, 204);
    let before: Vec<usize> = keys.iter().map(|k| cluster.owner(&full(k))).collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "reshard", &cluster.addr(0)])
        .args([
            "--cluster-from",
            &cluster.id(0),
            "--cluster-to",
            &cluster.id(1),
        ])
        .args(["--cluster-slots", "3000", "--cluster-yes"])
        .stdout(Stdio::null())
        .output()
        .expect("run redis-cli --cluster reshard");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster.wait_ok();
    let after: Vec<usize> = keys.iter().map(|k| cluster.owner(&full(k))).collect();
    assert_ne!(before, after, "the reshard moved none of the keys");
    for k in &keys {
        let r = get(d.http, &format!("/v1.0/state/statestore/{k}"));
        assert_eq!((r.status, r.text()), (200, format!("\"{k}\"")), "{k}");
    }

    // A node that dies: its keys fail cleanly, the others still work; once
    // it is back, its slots work again without restarting the sidecar.
    let dead = 2;
    let on_dead = keys
        .iter()
        .zip(&after)
        .find(|(_, &o)| o == dead)
        .map(|(k, _)| k.clone())
        .expect("a key on node 2");
    let alive = keys
        .iter()
        .zip(&after)
        .find(|(_, &o)| o != dead)
        .map(|(k, _)| k.clone())
        .unwrap();
    cluster.kill_node(dead);
    let started = Instant::now();
    let r = get(d.http, &format!("/v1.0/state/statestore/{on_dead}"));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_STATE_GET");
    assert!(r.text().contains("unreachable"), "{}", r.text());
    let r = get(d.http, &format!("/v1.0/state/statestore/{alive}"));
    assert_eq!(r.status, 200, "{}", r.text());
    cluster.start_node(dead);
    cluster.wait_ok();
    // The restarted node kept its slots but not its data (no persistence).
    let deadline = Instant::now() + WAIT;
    loop {
        let r = save(&d, &format!(r#"[{{"key":"{on_dead}","value":"back"}}]"#));
        if r.status == 204 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", r.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(cluster.owner(&full(&on_dead)), dead);
    let r = get(d.http, &format!("/v1.0/state/statestore/{on_dead}"));
    assert_eq!((r.status, r.text()), (200, "\"back\"".to_owned()));
}

#[test]
fn cluster_type_against_a_plain_redis_fails_start() {
    let Some(redis) = services::RedisServer::start("cluster_type_against_a_plain_redis") else {
        return;
    };
    let dir = services::component_dir(
        "state.redis",
        &[("redisHost", &redis.addr()), ("redisType", "cluster")],
    );
    let out = failed_start_up("notacluster", &dir);
    assert!(
        out.contains("statestore") && out.contains("not a cluster node"),
        "{out}"
    );
}

impl RedisCluster {
    /// The node serving `slot`, from node 0's `CLUSTER SLOTS`.
    fn slot_owner(&self, slot: u16) -> usize {
        let Ok(BytesFrame::Array(ranges)) = node_call(&self.addr(0), &["CLUSTER", "SLOTS"]) else {
            panic!("CLUSTER SLOTS failed")
        };
        for r in ranges {
            let BytesFrame::Array(p) = r else { continue };
            let (BytesFrame::Integer(a), BytesFrame::Integer(b), BytesFrame::Array(m)) =
                (&p[0], &p[1], &p[2])
            else {
                continue;
            };
            if (*a..=*b).contains(&i64::from(slot)) {
                let port: u16 = text(&m[1]).parse().unwrap();
                return self.ports.iter().position(|&p| p == port).unwrap();
            }
        }
        panic!("slot {slot} unserved")
    }
}

#[test]
fn cluster_pubsub_streams_and_output_binding() {
    let Some(cluster) = RedisCluster::start("cluster_pubsub_streams_and_output_binding") else {
        return;
    };
    let hosts = cluster.hosts();
    // Two topics per node.
    let prefix = services::unique_app_id("topic");
    let mut per_node = [0; 3];
    let mut topics = Vec::new();
    for i in 0.. {
        let t = format!("{prefix}-{i}");
        let n = cluster.slot_owner(key_slot(t.as_bytes()));
        if per_node[n] < 2 {
            per_node[n] += 1;
            topics.push(t);
        }
        if topics.len() == 6 {
            break;
        }
    }
    let subs: Vec<String> = topics
        .iter()
        .map(|t| format!(r#"{{"pubsubname":"pubsub","topic":"{t}","route":"/msg"}}"#))
        .collect();
    let app = Subscriber::success(&format!("[{}]", subs.join(",")));
    let binding = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: cache\nspec:\n  type: bindings.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    value: \"{hosts}\"\n  - name: redisType\n    value: cluster\n"
    );
    let dir = resources_of(
        "pubsub.redis",
        &[
            ("redisHost", &hosts),
            ("redisType", "cluster"),
            ("consumerID", "grp"),
        ],
        &binding,
    );
    let d = sidecar(&app, &dir, "clusterps");

    // Streams: each topic's stream on its own node, every message delivered.
    for t in &topics {
        let r = publish(
            &d,
            &format!("/v1.0/publish/pubsub/{t}"),
            "application/json",
            format!(r#"{{"t":"{t}"}}"#).as_bytes(),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let got = app.wait_for("/msg", topics.len());
    let mut delivered: Vec<String> = got
        .iter()
        .map(|s| json(s)["data"]["t"].as_str().unwrap().to_owned())
        .collect();
    delivered.sort();
    let mut want = topics.clone();
    want.sort();
    assert_eq!(delivered, want);
    for t in &topics {
        let owner = cluster.owner(t);
        assert_eq!(owner, cluster.slot_owner(key_slot(t.as_bytes())));
        assert_eq!(
            text(&node_call(&cluster.addr(owner), &["TYPE", t]).unwrap()),
            "stream"
        );
    }

    // The output binding: plain keys on their owners.
    let invoke = |body: String| {
        request(
            d.http,
            "POST",
            "/v1.0/bindings/cache",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    };
    let mut used = [false; 3];
    for i in 0..24 {
        let key = format!("{prefix}-bk{i}");
        let r = invoke(format!(
            r#"{{"operation":"create","data":"v{i}","metadata":{{"key":"{key}"}}}}"#
        ));
        assert_eq!(r.status, 204, "{}", r.text());
        let owner = cluster.owner(&key);
        used[owner] = true;
        assert_eq!(
            text(&node_call(&cluster.addr(owner), &["GET", &key]).unwrap()),
            format!("\"v{i}\"")
        );
        let r = invoke(format!(
            r#"{{"operation":"get","metadata":{{"key":"{key}"}}}}"#
        ));
        assert_eq!((r.status, r.text()), (200, format!("\"v{i}\"")));
        let r = invoke(format!(
            r#"{{"operation":"delete","metadata":{{"key":"{key}"}}}}"#
        ));
        assert_eq!(r.status, 204);
        assert!(matches!(
            node_call(&cluster.addr(owner), &["EXISTS", &key]),
            Ok(BytesFrame::Integer(0))
        ));
    }
    assert_eq!(used, [true; 3]);
}

#[test]
fn cluster_lock_and_configuration_refuse_to_start() {
    let Some(cluster) = RedisCluster::start("cluster_lock_and_configuration_refuse_to_start")
    else {
        return;
    };
    for (kind, needle) in [
        (
            "lock.redis",
            "this component does not support connecting to Redis Cluster",
        ),
        (
            "configuration.redis",
            "redisType \"cluster\" is not supported",
        ),
    ] {
        let dir = services::component_dir(
            kind,
            &[("redisHost", &cluster.hosts()), ("redisType", "cluster")],
        );
        let out = failed_start_up("refused", &dir);
        assert!(
            out.contains("statestore") && out.contains(needle),
            "{kind}: {out}"
        );
    }
}
