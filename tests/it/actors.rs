//! Actors end to end: the real `placement` and `daprd` binaries on
//! loopback, apps hosting an actor type, actor state on the machine's
//! Redis (shared by the sidecars, as Go's layout).
//!
//! The app (`ActorApp`) answers `GET /dapr/config` and the actor callbacks,
//! and records what it saw: which app ran each call, how many calls of one
//! actor overlapped, timer fires and deactivations.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::{Handler, Seen, TestApp};
use crate::harness::*;
use crate::placement::Placement;
use crate::services;

/// The actor type every test app hosts.
const TYPE: &str = "Counter";

/// What an actor app saw.
#[derive(Default)]
struct Seen2 {
    /// (actor id, method path after `method/`, reentrancy id).
    calls: Vec<(String, String, Option<String>)>,
    /// Actor ids deactivated.
    deactivated: Vec<String>,
    /// (method path after `method/`, body) of each call.
    bodies: Vec<(String, Vec<u8>)>,
    /// Per actor id: calls in flight now, and the most seen at once.
    inflight: HashMap<String, (u32, u32)>,
}

/// An app hosting [`TYPE`].
struct ActorApp {
    app: TestApp,
    seen: Arc<Mutex<Seen2>>,
    /// Its sidecar's HTTP port (for calls the app makes).
    sidecar: Arc<AtomicU16>,
}

impl ActorApp {
    /// `config` is the `/dapr/config` answer.
    fn start(label: &'static str, config: &'static str) -> ActorApp {
        let seen: Arc<Mutex<Seen2>> = Default::default();
        let sidecar = Arc::new(AtomicU16::new(0));
        let (s, sc) = (seen.clone(), sidecar.clone());
        let handler: Handler = Arc::new(move |req: &Seen| {
            if req.path == "/dapr/config" {
                return Some((200, "application/json".into(), config.as_bytes().to_vec()));
            }
            let rest = req.path.strip_prefix(&format!("/actors/{TYPE}/"))?;
            let (id, method) = match rest.split_once("/method/") {
                Some((id, m)) => (id.to_owned(), m.to_owned()),
                None if req.method == "DELETE" => {
                    s.lock().unwrap().deactivated.push(rest.to_owned());
                    return Some((200, "text/plain".into(), Vec::new()));
                }
                None => return Some((404, "text/plain".into(), Vec::new())),
            };
            let reentrancy = req.header("dapr-reentrancy-id").map(str::to_owned);
            {
                let mut g = s.lock().unwrap();
                g.calls
                    .push((id.clone(), method.clone(), reentrancy.clone()));
                g.bodies.push((method.clone(), req.body.clone()));
                let e = g.inflight.entry(id.clone()).or_default();
                e.0 += 1;
                e.1 = e.1.max(e.0);
            }
            let body = match method.as_str() {
                "slow" => {
                    std::thread::sleep(Duration::from_millis(150));
                    label.as_bytes().to_vec()
                }
                "reenter" => {
                    // Calls itself through its sidecar, in the same chain.
                    let port = sc.load(Ordering::Relaxed);
                    let mut h = vec![("content-type", "text/plain")];
                    let rid = reentrancy.clone().unwrap_or_default();
                    h.push(("dapr-reentrancy-id", rid.as_str()));
                    let r = request(
                        SocketAddr::from(([127, 0, 0, 1], port)),
                        "POST",
                        &format!("/v1.0/actors/{TYPE}/{id}/method/whoami"),
                        &h,
                        b"",
                    );
                    format!("inner {} {}", r.status, r.text()).into_bytes()
                }
                "status500" => {
                    s.lock().unwrap().inflight.entry(id).or_default().0 -= 1;
                    return Some((500, "text/plain".into(), b"boom".to_vec()));
                }
                _ => label.as_bytes().to_vec(),
            };
            s.lock().unwrap().inflight.entry(id).or_default().0 -= 1;
            Some((200, "text/plain".into(), body))
        });
        ActorApp {
            app: TestApp::start_with(0, Some(handler)),
            seen,
            sidecar,
        }
    }

    fn calls_of(&self, id: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(i, m, _)| i == id && !m.starts_with("timer/"))
            .count()
    }

    fn timer_fires(&self, id: &str, name: &str) -> usize {
        let want = format!("timer/{name}");
        self.seen
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(i, m, _)| i == id && *m == want)
            .count()
    }

    fn deactivated(&self, id: &str) -> bool {
        self.seen
            .lock()
            .unwrap()
            .deactivated
            .iter()
            .any(|d| d == id)
    }

    fn max_inflight(&self, id: &str) -> u32 {
        self.seen
            .lock()
            .unwrap()
            .inflight
            .get(id)
            .map_or(0, |e| e.1)
    }
}

/// Starts a sidecar for `app` on `placement` with the actor state store in
/// `resources`, and waits for full readiness (the placement table).
fn sidecar(app_id: &str, app: &ActorApp, placement: &Placement, resources: &str) -> Daprd {
    let internal = free_port().to_string();
    let port = app.app.port.to_string();
    let d = Daprd::start(&[
        "--app-id",
        app_id,
        "--app-port",
        &port,
        "--dapr-internal-grpc-port",
        &internal,
        "--placement-host-address",
        &placement.grpc.to_string(),
        "--resources-path",
        resources,
    ]);
    app.sidecar.store(d.http.port(), Ordering::Relaxed);
    wait_status(d.http, "/v1.0/healthz", 204);
    d
}

fn call(d: &Daprd, id: &str, method: &str) -> HttpResponse {
    request(
        d.http,
        "POST",
        &format!("/v1.0/actors/{TYPE}/{id}/method/{method}"),
        &[("content-type", "text/plain")],
        b"hi",
    )
}

/// Waits until both sidecars route alike to both hosts: batches of fresh
/// ids until every id of a batch gets the same answer through either
/// sidecar and the batch reached both apps.
fn wait_converged(da: &Daprd, db: &Daprd) {
    let mut batch = 0;
    eventually(WAIT, "both hosts in both tables", || {
        batch += 1;
        let (mut agree, mut hosts) = (true, std::collections::HashSet::new());
        for i in 0..8 {
            let id = format!("probe-{batch}-{i}");
            let (ra, rb) = (
                call(da, &id, "whoami").text(),
                call(db, &id, "whoami").text(),
            );
            agree &= ra == rb;
            hosts.insert(ra);
        }
        agree && hosts.len() == 2
    });
}

/// Polls `cond` for up to `limit`.
fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const CONFIG: &str = r#"{"entities":["Counter"],"actorIdleTimeout":"1h","drainOngoingCallTimeout":"2s","reentrancy":{"enabled":true}}"#;

fn redis_store() -> String {
    services::component_dir(
        "state.redis",
        &[("redisHost", services::REDIS), ("actorStateStore", "true")],
    )
    .display()
    .to_string()
}

#[test]
fn without_placement_the_actor_api_answers_gos_errors() {
    let d = Daprd::start(&[]);
    let r = call(&d, "1", "m");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_ACTOR_NO_PLACEMENT");
    assert_eq!(r.json()["message"], "placement service is not configured");
    // Reserved types are refused before anything else.
    let r = get(
        d.http,
        "/v1.0/actors/dapr.internal.default.app.workflow/1/state/k",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_ACTOR_TYPE_RESERVED");
    let r = request(
        d.http,
        "POST",
        "/v1.0/actors/T/1/timers/t",
        &[("content-type", "application/json")],
        b"{not json",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errorCode"], "ERR_MALFORMED_REQUEST");
    // A bad actor id or method is a bad request whatever the runtime.
    let r = request(d.http, "GET", "/v1.0/actors/T/1/method/a%3Fb", &[], b"");
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn two_sidecars_place_each_actor_on_exactly_one_host() {
    const TEST: &str = "two_sidecars_place_each_actor_on_exactly_one_host";
    if !services::redis(TEST) {
        return;
    }
    let placement = Placement::start(&[]);
    let store = redis_store();
    let app_id = services::unique_app_id("actors");
    let (a, b) = (ActorApp::start("A", CONFIG), ActorApp::start("B", CONFIG));
    let da = sidecar(&app_id, &a, &placement, &store);
    let db = sidecar(&app_id, &b, &placement, &store);
    // Both sidecars must see both hosts before the ids spread over them.
    wait_converged(&da, &db);
    let mut on_a = 0;
    for i in 0..24 {
        let id = format!("id-{i}");
        let via_a = call(&da, &id, "whoami");
        let via_b = call(&db, &id, "whoami");
        assert_eq!(via_a.status, 200, "{}", via_a.text());
        assert_eq!(via_a.text(), via_b.text(), "{id} answered by two hosts");
        let (na, nb) = (a.calls_of(&id), b.calls_of(&id));
        assert!(
            (na, nb) == (2, 0) || (na, nb) == (0, 2),
            "{id}: A saw {na}, B saw {nb}"
        );
        on_a += usize::from(na == 2);
    }
    assert!(
        (1..24).contains(&on_a),
        "ids spread over both hosts: {on_a} on A"
    );

    // State written through the owner is read through the other sidecar.
    let id = "id-0";
    let owner = if a.calls_of(id) > 0 { &da } else { &db };
    let other = if a.calls_of(id) > 0 { &db } else { &da };
    let r = request(
        owner.http,
        "POST",
        &format!("/v1.0/actors/{TYPE}/{id}/state"),
        &[("content-type", "application/json")],
        br#"[{"operation":"upsert","request":{"key":"k","value":{"n":1}}}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = get(other.http, &format!("/v1.0/actors/{TYPE}/{id}/state/k"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), r#"{"n":1}"#);
    // Go's key layout in Redis.
    let mut redis = services::Plain::connect(services::REDIS);
    let fields = redis.hgetall(&format!("{app_id}||{TYPE}||{id}||k"));
    assert!(
        fields.iter().any(|(k, v)| k == "data" && v == r#"{"n":1}"#),
        "{fields:?}"
    );
    // A transaction on the sidecar where the actor is not active: Go's 400.
    let r = request(
        other.http,
        "POST",
        &format!("/v1.0/actors/{TYPE}/{id}/state"),
        &[("content-type", "application/json")],
        br#"[{"operation":"delete","request":{"key":"k"}}]"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_ACTOR_INSTANCE_MISSING");
    let r = get(
        other.http,
        &format!("/v1.0/actors/{TYPE}/{id}/state/missing"),
    );
    assert_eq!(r.status, 204);

    // An app error is Go's ERR_ACTOR_INVOKE_METHOD with the app's words;
    // through the other sidecar, wrapped in the remote call's status as Go
    // wraps it.
    let r = call(owner, id, "status500");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_ACTOR_INVOKE_METHOD");
    assert_eq!(
        r.json()["message"],
        "error invoke actor method: error from actor service: (500) boom"
    );
    let r = call(other, id, "status500");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "error invoke actor method: rpc error: code = Internal desc = error invoke actor method: error from actor service: (500) boom"
    );

    // A sidecar leaving: its actors move to the other host.
    let moved: Vec<String> = (0..24)
        .map(|i| format!("id-{i}"))
        .filter(|id| b.calls_of(id) > 0)
        .collect();
    assert!(!moved.is_empty());
    // B's actor with state, to see the state follow it.
    let with_state = &moved[0];
    let r = request(
        db.http,
        "POST",
        &format!("/v1.0/actors/{TYPE}/{with_state}/state"),
        &[("content-type", "application/json")],
        br#"[{"operation":"upsert","request":{"key":"k","value":"kept"}}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // B shuts down gracefully: its actors are deactivated on the way out.
    let mut db = db;
    db.signal("TERM");
    db.wait_exit();
    for id in &moved {
        assert!(b.deactivated(id), "{id} was deactivated on B at shutdown");
    }
    for id in &moved {
        let before = a.calls_of(id);
        eventually(WAIT, "the actor to move to A", || {
            call(&da, id, "whoami").text() == "A" && a.calls_of(id) > before
        });
    }
    let r = get(
        da.http,
        &format!("/v1.0/actors/{TYPE}/{with_state}/state/k"),
    );
    assert_eq!(r.text(), r#""kept""#, "the moved actor's state");
}

#[test]
fn one_turn_at_a_time_reentrancy_timers_and_idle_deactivation() {
    const TEST: &str = "one_turn_at_a_time_reentrancy_timers_and_idle_deactivation";
    if !services::redis(TEST) {
        return;
    }
    let placement = Placement::start(&[]);
    let store = redis_store();
    let app_id = services::unique_app_id("actors");
    let a = ActorApp::start(
        "A",
        r#"{"entities":["Counter"],"actorIdleTimeout":"1s","reentrancy":{"enabled":true,"maxStackDepth":4}}"#,
    );
    let da = sidecar(&app_id, &a, &placement, &store);

    // Concurrent calls of one actor run one at a time; of two actors, at once.
    let started = Instant::now();
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let http = da.http;
            std::thread::spawn(move || {
                let id = if i % 2 == 0 { "turns-1" } else { "turns-2" };
                request(
                    http,
                    "PUT",
                    &format!("/v1.0/actors/{TYPE}/{id}/method/slow"),
                    &[],
                    b"",
                )
                .status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    assert_eq!(a.max_inflight("turns-1"), 1, "one turn at a time");
    assert_eq!(a.max_inflight("turns-2"), 1, "one turn at a time");
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "three 150 ms turns in a row"
    );

    // Reentrancy: a call back into the same actor in the same chain runs
    // inside the turn instead of waiting for it (which would never end).
    let r = call(&da, "reenter-1", "reenter");
    assert_eq!(r.text(), "inner 200 A", "{}", r.text());
    let seen = a.seen.lock().unwrap().calls.clone();
    let ids: Vec<_> = seen
        .iter()
        .filter(|(i, _, _)| i == "reenter-1")
        .map(|(_, m, r)| (m.clone(), r.clone()))
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids[0].1.is_some(), "daprd gave the chain an id: {ids:?}");
    assert_eq!(ids[0].1, ids[1].1, "the inner call joined the chain");

    // Timers fire, then stop when deleted.
    let r = request(
        da.http,
        "POST",
        &format!("/v1.0/actors/{TYPE}/timed-1/timers/tick"),
        &[("content-type", "application/json")],
        br#"{"dueTime":"0h0m0s100ms0\u03bcs","period":"200ms","callback":"onTick","data":{"x":1}}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    eventually(WAIT, "three timer fires", || {
        a.timer_fires("timed-1", "tick") >= 3
    });
    let r = request(
        da.http,
        "DELETE",
        &format!("/v1.0/actors/{TYPE}/timed-1/timers/tick"),
        &[],
        b"",
    );
    assert_eq!(r.status, 204);
    std::thread::sleep(Duration::from_millis(300));
    let after_delete = a.timer_fires("timed-1", "tick");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        a.timer_fires("timed-1", "tick"),
        after_delete,
        "deleted timer fired"
    );
    // A repeating timer stops after its repeats (ISO 8601 R3/...).
    let r = request(
        da.http,
        "POST",
        &format!("/v1.0/actors/{TYPE}/timed-2/timers/three"),
        &[("content-type", "application/json")],
        br#"{"dueTime":"0s","period":"R3/PT1S","callback":"c"}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    eventually(WAIT, "three fires", || {
        a.timer_fires("timed-2", "three") == 3
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(a.timer_fires("timed-2", "three"), 3);

    // Idle actors are deactivated (DELETE /actors/{type}/{id}).
    eventually(Duration::from_secs(10), "idle deactivation", || {
        a.deactivated("turns-1") && a.deactivated("turns-2")
    });
    // Go's counters.
    let metrics = get(da.metrics, "/metrics").text();
    let line = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {prefix} in:\n{metrics}"))
    };
    assert!(line("dapr_runtime_actor_deactivated_total{")
        .contains(&format!("app_id=\"{app_id}\",actor_type=\"{TYPE}\"")));
    assert!(line("dapr_runtime_actor_timers_fired_total{").contains("success=\"true\""));
    // And come back on the next call.
    assert_eq!(call(&da, "turns-1", "whoami").text(), "A");
}

#[test]
fn readiness_waits_for_placement_only_when_hosting_and_a_lost_stream_halts_actors() {
    let store = services::component_dir("state.in-memory", &[("actorStateStore", "true")])
        .display()
        .to_string();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    // The first address refuses connections: the client moves on to the
    // next one, round-robin (as past Go's "not the leader" replicas).
    let addresses = format!("127.0.0.1:{},{address}", free_port());
    // No placement yet: a hosting sidecar is not ready, naming the target.
    let a = ActorApp::start("A", CONFIG);
    let app_port = a.app.port.to_string();
    let internal = free_port().to_string();
    let d = Daprd::start(&[
        "--app-port",
        &app_port,
        "--dapr-internal-grpc-port",
        &internal,
        "--placement-host-address",
        &addresses,
        "--resources-path",
        &store,
    ]);
    a.sidecar.store(d.http.port(), Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    let r = get(d.http, "/v1.0/healthz");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "dapr is not ready: [internal-placement-service]"
    );
    // A sidecar that hosts nothing is ready without placement.
    let caller = Daprd::start(&["--placement-host-address", &address]);
    wait_status(caller.http, "/v1.0/healthz", 204);
    let meta = get(caller.http, "/v1.0/metadata").json();
    assert_eq!(meta["actorRuntime"]["runtimeStatus"], "RUNNING");
    assert_eq!(meta["actorRuntime"]["hostReady"], false);
    assert_eq!(meta["actorRuntime"]["placement"], "placement: disconnected");

    let placement = Placement::start_on(port, &[]);
    wait_status(d.http, "/v1.0/healthz", 204);
    assert_eq!(call(&d, "x", "whoami").text(), "A");
    assert_eq!(
        call(&caller, "x", "whoami").text(),
        "A",
        "via the other sidecar"
    );
    let meta = get(d.http, "/v1.0/metadata").json();
    assert_eq!(meta["actorRuntime"]["hostReady"], true, "{meta}");
    assert_eq!(meta["actorRuntime"]["placement"], "placement: connected");
    assert_eq!(
        meta["actorRuntime"]["activeActors"],
        serde_json::json!([{"type": TYPE, "count": 1}])
    );
    assert_eq!(meta["actors"], meta["actorRuntime"]["activeActors"]);

    // Placement goes away: the actor is halted (deactivated) and calls wait
    // for a table; placement comes back on the same address: calls work.
    drop(placement);
    eventually(WAIT, "the halt on stream loss", || a.deactivated("x"));
    let placement = Placement::start_on(port, &[]);
    eventually(
        Duration::from_secs(20),
        "a call after placement is back",
        || call(&d, "x", "whoami").text() == "A",
    );
    drop(placement);
}

#[test]
fn the_grpc_actor_api_reaches_the_same_runtime() {
    use dapr::dapr::proto::runtime::v1 as sdk;
    use sdk::dapr_client::DaprClient;
    let store = services::component_dir("state.in-memory", &[("actorStateStore", "true")])
        .display()
        .to_string();
    let placement = Placement::start(&[]);
    let a = ActorApp::start("A", CONFIG);
    let d = sidecar("grpc-actors", &a, &placement, &store);
    crate::grpc::rt().block_on(async {
        let mut c = DaprClient::connect(format!("http://{}", d.grpc))
            .await
            .unwrap();
        let r = c
            .invoke_actor(sdk::InvokeActorRequest {
                actor_type: TYPE.into(),
                actor_id: "g1".into(),
                method: "whoami".into(),
                data: b"x".to_vec(),
                metadata: Default::default(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.data, b"A");
        // gRPC upserts store the bytes sent (HTTP stores the JSON encoding).
        c.execute_actor_state_transaction(sdk::ExecuteActorStateTransactionRequest {
            actor_type: TYPE.into(),
            actor_id: "g1".into(),
            operations: vec![sdk::TransactionalActorStateOperation {
                operation_type: "upsert".into(),
                key: "k".into(),
                value: Some(prost_types::Any {
                    type_url: String::new(),
                    value: b"raw bytes".to_vec(),
                }),
                metadata: Default::default(),
            }],
        })
        .await
        .unwrap();
        let got = c
            .get_actor_state(sdk::GetActorStateRequest {
                actor_type: TYPE.into(),
                actor_id: "g1".into(),
                key: "k".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.data, b"raw bytes");
        let missing = c
            .get_actor_state(sdk::GetActorStateRequest {
                actor_type: TYPE.into(),
                actor_id: "g1".into(),
                key: "nope".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(missing.data.is_empty());
        // Not active here: Go's ERR_ACTOR_INSTANCE_MISSING (Internal).
        let e = c
            .execute_actor_state_transaction(sdk::ExecuteActorStateTransactionRequest {
                actor_type: TYPE.into(),
                actor_id: "never-called".into(),
                operations: vec![],
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Internal);
        assert_eq!(e.message(), "actor instance is missing");
        // A timer through gRPC fires with the data as Go keeps it (base64 JSON).
        c.register_actor_timer(sdk::RegisterActorTimerRequest {
            actor_type: TYPE.into(),
            actor_id: "g1".into(),
            name: "t".into(),
            due_time: "0s".into(),
            period: "R1/PT1S".into(),
            callback: "cb".into(),
            data: b"hello".to_vec(),
            ttl: String::new(),
        })
        .await
        .unwrap();
        // Reminders need the scheduler: Go's error without one.
        let e = c
            .register_actor_reminder(sdk::RegisterActorReminderRequest {
                actor_type: TYPE.into(),
                actor_id: "g1".into(),
                name: "r".into(),
                due_time: "1s".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Internal);
        assert_eq!(
            e.message(),
            "error creating actor reminder: scheduler clients are disabled"
        );
        let e = c
            .register_actor_reminder(sdk::RegisterActorReminderRequest {
                actor_type: "NotHosted".into(),
                actor_id: "g1".into(),
                name: "r".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        // A reserved type.
        let e = c
            .get_actor_state(sdk::GetActorStateRequest {
                actor_type: "dapr.internal.default.grpc-actors.workflow".into(),
                actor_id: "1".into(),
                key: "k".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
    });
    eventually(WAIT, "the gRPC timer's fire", || {
        a.timer_fires("g1", "t") == 1
    });
    let body = a
        .seen
        .lock()
        .unwrap()
        .bodies
        .iter()
        .find(|(m, _)| m == "timer/t")
        .map(|(_, b)| b.clone())
        .unwrap_or_default();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"callback": "cb", "data": "aGVsbG8=", "dueTime": "0s", "period": "R1/PT1S"})
    );
}

#[test]
fn a_joining_sidecar_takes_its_share_and_the_old_host_deactivates_it() {
    const TEST: &str = "a_joining_sidecar_takes_its_share_and_the_old_host_deactivates_it";
    if !services::redis(TEST) {
        return;
    }
    let placement = Placement::start(&[]);
    let store = redis_store();
    let app_id = services::unique_app_id("actors");
    let (a, b) = (ActorApp::start("A", CONFIG), ActorApp::start("B", CONFIG));
    let da = sidecar(&app_id, &a, &placement, &store);
    let ids: Vec<String> = (0..16).map(|i| format!("join-{i}")).collect();
    for id in &ids {
        assert_eq!(call(&da, id, "whoami").text(), "A");
    }
    let db = sidecar(&app_id, &b, &placement, &store);
    wait_converged(&da, &db);
    let mut moved = 0;
    for id in &ids {
        match call(&da, id, "whoami").text().as_str() {
            "B" => {
                moved += 1;
                assert!(a.deactivated(id), "{id} moved to B but stayed active on A");
            }
            _ => assert!(!a.deactivated(id), "{id} stayed on A but was deactivated"),
        }
    }
    assert!(moved > 0, "no actor moved to the new host");
    let metrics = get(da.metrics, "/metrics").text();
    let rebalanced: u64 = metrics
        .lines()
        .find(|l| l.starts_with("dapr_runtime_actor_rebalanced_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rebalanced counter in:\n{metrics}"));
    // The probes that moved count too.
    assert!(
        rebalanced >= moved,
        "{rebalanced} rebalanced, {moved} moved"
    );
}
