//! The official SDKs' actors end to end against our actors: the real
//! `placement` and two real `daprd`s on loopback, as `dapr run` lays out
//! python-sdk's `examples/demo_actor` — one sidecar next to the app hosting
//! the actor type, one next to the client, so every call crosses sidecars
//! (placement lookup, then `CallActor` on the host's internal gRPC port).
//! Actor state lives on the machine's Redis (`actorStateStore: "true"`).
//!
//! - Python (`dapr` 1.18.3, `dapr-ext-fastapi`, `uvicorn`): the scripts in
//!   `tests/python/actor/` — a FastAPI service hosting `DemoActor` and an
//!   `ActorProxy` client that checks every answer (state, timers,
//!   reentrancy). Skipped loudly when the packages are missing, failed
//!   instead under `DAPRD_TEST_SERVICES=require` (`.ci/run` installs them).
//! - Rust (`dapr` crate 0.20): an actor type on the crate's axum server
//!   (`DaprHttpServer`), its state and timer through `ActorContextClient`
//!   (gRPC to its sidecar), called with `Client::invoke_actor` (gRPC
//!   `InvokeActor` on the other sidecar).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use dapr::server::actor::axum::extract::{FromRequestParts, Path as AxumPath};
use dapr::server::actor::axum::http::request::Parts;
use dapr::server::actor::axum::http::StatusCode;
use dapr::server::actor::axum::Json;
use dapr::server::actor::context_client::{ActorContextClient, ActorStateOperation};
use dapr::server::actor::runtime::{ActorState, ActorTypeRegistration};
use dapr::server::actor::{Actor, ActorError, ActorPath};
use dapr::server::utils::DaprJson;
use dapr::server::DaprHttpServer;

use crate::harness::*;
use crate::placement::Placement;
use crate::services::{self, unique_app_id, Plain};

/// The longest a test waits for a sidecar or app (the machine may be busy).
const PATIENCE: Duration = Duration::from_secs(30);

/// A Redis actor state store (Go's `dapr init` has one like it).
fn redis_store() -> String {
    services::component_dir(
        "state.redis",
        &[("redisHost", services::REDIS), ("actorStateStore", "true")],
    )
    .display()
    .to_string()
}

/// A sidecar on `placement`: `app` is `(app port, resources)` for the
/// host, `None` for the client's (no app, no actor store: invocation
/// needs neither).
fn sidecar(app_id: &str, placement: &Placement, app: Option<(u16, &str)>) -> Daprd {
    let internal = free_port().to_string();
    let placement = placement.grpc.to_string();
    let mut args = vec![
        "--app-id",
        app_id,
        "--dapr-internal-grpc-port",
        &internal,
        "--placement-host-address",
        &placement,
    ];
    let port;
    if let Some((p, resources)) = app {
        port = p.to_string();
        args.extend([
            "--app-port",
            &port,
            "--app-protocol",
            "http",
            "--resources-path",
            resources,
        ]);
    }
    Daprd::start(&args)
}

/// Polls `cond` every 50 ms for up to [`PATIENCE`]; on timeout panics with
/// `what` and `context()`.
fn eventually(what: &str, context: impl Fn() -> String, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// === Python ===

/// Whether `python3` has the SDK, its FastAPI extension and uvicorn (see
/// [`services::available`]).
fn python_actor_sdk(test: &str) -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import dapr.actor, dapr.ext.fastapi, fastapi, uvicorn",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    services::available(
        "the Python SDK's actor packages (`python3 -c 'import dapr.ext.fastapi, uvicorn'`; \
         pip install dapr==1.18.3 dapr-ext-fastapi==1.18.3 fastapi uvicorn, see .ci/run)",
        ok,
        test,
    )
}

/// A `python3` child next to a sidecar, as `dapr run` starts an app: the
/// sidecar's ports in the environment, its output collected; killed on
/// drop.
struct Python {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Python {
    fn spawn(args: &[&str], d: &Daprd) -> Python {
        let mut child = Command::new("python3")
            .args(args)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/actor"))
            .env("DAPR_RUNTIME_HOST", "127.0.0.1")
            .env("DAPR_GRPC_PORT", d.grpc.port().to_string())
            .env("DAPR_HTTP_PORT", d.http.port().to_string())
            .env_remove("DAPR_GRPC_ENDPOINT")
            .env_remove("DAPR_HTTP_ENDPOINT")
            .env_remove("DAPR_API_TOKEN")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let collect = |r: Box<dyn Read + Send>| {
            let buf = Arc::new(Mutex::new(String::new()));
            let b = buf.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    let mut g = b.lock().unwrap();
                    g.push_str(&line);
                    g.push('\n');
                }
            });
            buf
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Python {
            child,
            stdout,
            stderr,
        }
    }

    /// Everything it printed so far.
    fn output(&self) -> String {
        format!(
            "stdout:\n{}stderr:\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits for it to exit, for up to `limit` (then kills it: `None`).
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.exited() {
                // Let the readers drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// python-sdk's `examples/demo_actor`, as its README runs it:
/// `dapr run --app-id demo-actor --app-port P -- uvicorn --port P
/// demo_actor_service:app`, then `dapr run --app-id demo-client -- python3
/// demo_actor_client.py`; the client checks every answer itself.
#[test]
fn python_demo_actor_through_two_sidecars() {
    const TEST: &str = "python_demo_actor_through_two_sidecars";
    if !python_actor_sdk(TEST) || !services::redis(TEST) {
        return;
    }
    let placement = Placement::start(&[]);
    let store = redis_store();
    // A fresh app id keeps the actor's keys (`<app>||DemoActor||1||…`) fresh.
    let service_id = unique_app_id("demo-actor");
    let app_port = free_port();
    let host = sidecar(&service_id, &placement, Some((app_port, &store)));
    let port = app_port.to_string();
    let mut service = Python::spawn(
        &[
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "demo_actor_service:app",
        ],
        &host,
    );
    // Ready: the app answered `/dapr/config` and is healthy.
    eventually(
        "the service and its sidecar",
        || service.output(),
        || get(host.http, "/v1.0/healthz").status == 204,
    );
    assert!(service.exited().is_none(), "{}", service.output());

    let client_sidecar = sidecar(&unique_app_id("demo-client"), &placement, None);
    let mut client = Python::spawn(&["demo_actor_client.py"], &client_sidecar);
    let status = client.wait(Duration::from_secs(90));
    let report = || {
        format!(
            "== client\n{}\n== service\n{}",
            client.output(),
            service.output()
        )
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "client: {status:?}\n{}",
        report()
    );
    let out = client.stdout.lock().unwrap().clone();
    assert!(
        out.contains("demo_actor client: all checks passed") && !out.contains("MISMATCH"),
        "{}",
        report()
    );
    // The calls ran on the service's app, each actor activated there.
    let served = || service.stdout.lock().unwrap().clone();
    for line in ["activate DemoActor 1", "activate StrictDemoActor 1"] {
        assert!(served().lines().any(|l| l == line), "{line}\n{}", report());
    }
    assert!(
        served().contains("timer_callback: timer_state"),
        "{}",
        report()
    );
    // Idle for its per-type 1 s: deactivated (`DELETE /actors/…`), while
    // DemoActor (1 h) stays.
    eventually("StrictDemoActor's deactivation", report, || {
        served()
            .lines()
            .any(|l| l == "deactivate StrictDemoActor 1")
    });
    assert!(!served().contains("deactivate DemoActor"), "{}", report());

    let mut redis = Plain::connect(services::REDIS);
    for (t, key) in [
        ("DemoActor", "mydata"),
        ("DemoActor", "timer_fires"),
        ("StrictDemoActor", "mydata"),
    ] {
        redis.call(&["DEL", &format!("{service_id}||{t}||1||{key}")]);
    }
}

// === Rust ===

/// The actor type the Rust SDK's server hosts.
const RUST_TYPE: &str = "RustCounter";

/// One actor: a counter in actor state, and what its timer delivered.
struct Counter {
    /// The SDK's client for this actor (state, timers) on its sidecar.
    client: tokio::sync::Mutex<ActorContextClient>,
    /// (timer name, data) per fire.
    fires: Mutex<Vec<(String, Vec<u8>)>>,
}

/// The SDK's runtime keeps its actors as `Arc<dyn Actor>`; the method
/// handlers find the concrete one here (by type and id) once the runtime
/// activated it. (The SDK's `#[actor]` macro casts the pointer with
/// `unsafe`; this crate denies unsafe code.)
static COUNTERS: LazyLock<Mutex<HashMap<String, Arc<Counter>>>> = LazyLock::new(Default::default);

#[dapr::reexport::async_trait]
impl Actor for Counter {
    async fn on_activate(&self) -> Result<(), ActorError> {
        Ok(())
    }
    async fn on_deactivate(&self) -> Result<(), ActorError> {
        Ok(())
    }
    async fn on_reminder(&self, _name: &str, _data: Vec<u8>) -> Result<(), ActorError> {
        Ok(())
    }
    async fn on_timer(&self, name: &str, data: Vec<u8>) -> Result<(), ActorError> {
        self.fires.lock().unwrap().push((name.to_owned(), data));
        Ok(())
    }
}

/// The called actor, as a handler argument: activated through the SDK's
/// runtime (`get_or_create_actor`, which runs the factory).
struct Called(Arc<Counter>);

impl FromRequestParts<ActorState> for Called {
    type Rejection = (StatusCode, String);

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ActorState,
    ) -> Result<Self, Self::Rejection> {
        let AxumPath(path) = AxumPath::<ActorPath>::from_request_parts(parts, state)
            .await
            .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        state
            .runtime
            .get_or_create_actor(&state.actor_type, &path.actor_id)
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let key = format!("{}/{}", state.actor_type, path.actor_id);
        let actor = COUNTERS.lock().unwrap().get(&key).cloned();
        actor
            .map(Called)
            .ok_or((StatusCode::INTERNAL_SERVER_ERROR, format!("no actor {key}")))
    }
}

fn internal(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Add {
    by: i64,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Count {
    count: i64,
}

impl Counter {
    /// The stored count (0 when absent): `GetActorState` on its sidecar.
    async fn load(&self) -> Result<i64, (StatusCode, String)> {
        let got = self
            .client
            .lock()
            .await
            .get_actor_state("count")
            .await
            .map_err(internal)?;
        if got.data.is_empty() {
            return Ok(0);
        }
        serde_json::from_slice(&got.data).map_err(internal)
    }

    /// `add`: count += by, saved through `ExecuteActorStateTransaction`.
    async fn add(
        Called(me): Called,
        DaprJson(req): DaprJson<Add>,
    ) -> Result<Json<Count>, (StatusCode, String)> {
        let count = me.load().await? + req.by;
        me.client
            .lock()
            .await
            .execute_actor_state_transaction(vec![ActorStateOperation::Upsert {
                key: "count".into(),
                value: Some(count.to_string().into_bytes()),
            }])
            .await
            .map_err(internal)?;
        Ok(Json(Count { count }))
    }

    async fn get(Called(me): Called) -> Result<Json<Count>, (StatusCode, String)> {
        Ok(Json(Count {
            count: me.load().await?,
        }))
    }

    /// `start_timer`: "tick" after 1 s, every 1 s, with data `tick-data`.
    async fn start_timer(Called(me): Called) -> Result<Json<bool>, (StatusCode, String)> {
        me.client
            .lock()
            .await
            .register_actor_timer(
                "tick",
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(1)),
                b"tick-data".to_vec(),
                Some("on_tick".into()),
                None,
            )
            .await
            .map_err(internal)?;
        Ok(Json(true))
    }

    async fn stop_timer(Called(me): Called) -> Result<Json<bool>, (StatusCode, String)> {
        me.client
            .lock()
            .await
            .unregister_actor_timer("tick")
            .await
            .map_err(internal)?;
        Ok(Json(true))
    }
}

/// Runs the SDK's actor server for [`RUST_TYPE`] on `app_port`, its
/// actors' client on the sidecar at `grpc_port`, on a tokio runtime in a
/// background thread (for the test's life).
fn rust_actor_app(app_port: u16, grpc_port: u16) {
    std::thread::spawn(move || {
        crate::grpc::rt().block_on(async move {
            let mut server = DaprHttpServer::with_dapr_port(grpc_port).await;
            let factory = Box::new(|actor_type: &str, id: &str, client| {
                let actor = Arc::new(Counter {
                    client: tokio::sync::Mutex::new(client),
                    fires: Mutex::default(),
                });
                COUNTERS
                    .lock()
                    .unwrap()
                    .insert(format!("{actor_type}/{id}"), actor.clone());
                actor as Arc<dyn Actor>
            });
            server
                .register_actor(
                    ActorTypeRegistration::new::<Counter>(RUST_TYPE, factory)
                        .register_method("add", Counter::add)
                        .register_method("get", Counter::get)
                        .register_method("start_timer", Counter::start_timer)
                        .register_method("stop_timer", Counter::stop_timer),
                )
                .await;
            server.start(Some(app_port)).await.unwrap();
        });
    });
}

fn fires_of(id: &str) -> Vec<(String, Vec<u8>)> {
    COUNTERS
        .lock()
        .unwrap()
        .get(&format!("{RUST_TYPE}/{id}"))
        .map(|c| c.fires.lock().unwrap().clone())
        .unwrap_or_default()
}

#[test]
fn rust_sdk_actor_through_two_sidecars() {
    const TEST: &str = "rust_sdk_actor_through_two_sidecars";
    if !services::redis(TEST) {
        return;
    }
    let placement = Placement::start(&[]);
    let store = redis_store();
    let app_id = unique_app_id("rust-actor");
    let app_port = free_port();
    let host = sidecar(&app_id, &placement, Some((app_port, &store)));
    rust_actor_app(app_port, host.grpc.port());
    eventually(
        "the Rust SDK's actor app and its sidecar",
        String::new,
        || get(host.http, "/v1.0/healthz").status == 204,
    );
    let client_sidecar = sidecar(&unique_app_id("rust-client"), &placement, None);
    let (a, b) = (unique_app_id("a"), unique_app_id("b"));

    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{}", client_sidecar.grpc),
        )
        .await
        .expect("SDK connects");
        let mut add = async |id: &str, by: i64| -> Count {
            c.invoke_actor(RUST_TYPE, id, "add", Add { by }, None)
                .await
                .unwrap_or_else(|e| panic!("add {by} to {id}: {e:?}"))
        };
        // State kept per actor across calls (each call a new request).
        assert_eq!(add(&a, 2).await, Count { count: 2 });
        assert_eq!(add(&a, 3).await, Count { count: 5 });
        assert_eq!(add(&b, 1).await, Count { count: 1 });
        let got: Count = c
            .invoke_actor(RUST_TYPE, a.as_str(), "get", (), None)
            .await
            .unwrap();
        assert_eq!(got, Count { count: 5 });

        // A method the actor does not have: the app's 404 is an error.
        let missing: Result<Count, _> = c
            .invoke_actor(RUST_TYPE, a.as_str(), "nope", (), None)
            .await;
        assert!(missing.is_err(), "{missing:?}");

        // A timer: every fire reaches `on_timer` with its name and data.
        let on: bool = c
            .invoke_actor(RUST_TYPE, a.as_str(), "start_timer", (), None)
            .await
            .unwrap();
        assert!(on);
    });
    eventually(
        "three timer fires",
        || format!("{:?}", fires_of(&a)),
        || fires_of(&a).len() >= 3,
    );
    for (name, data) in fires_of(&a) {
        assert_eq!(name, "tick");
        // gRPC timer data travels as Go's JSON encoding of bytes (a base64
        // string); the SDK hands over the string it finds in `data`.
        assert_eq!(String::from_utf8_lossy(&data), "dGljay1kYXRh");
    }
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{}", client_sidecar.grpc),
        )
        .await
        .expect("SDK connects");
        let off: bool = c
            .invoke_actor(RUST_TYPE, a.as_str(), "stop_timer", (), None)
            .await
            .unwrap();
        assert!(off);
    });
    // At most one fire already under way lands after the unregister.
    std::thread::sleep(Duration::from_millis(1500));
    let stopped = fires_of(&a).len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(fires_of(&a).len(), stopped, "the timer kept firing");

    // gRPC stores the raw bytes: the HTTP state API reads the same "5".
    let r = get(
        host.http,
        &format!("/v1.0/actors/{RUST_TYPE}/{a}/state/count"),
    );
    assert_eq!((r.status, r.text()), (200, "5".to_owned()));

    let mut redis = Plain::connect(services::REDIS);
    for id in [&a, &b] {
        redis.call(&["DEL", &format!("{app_id}||{RUST_TYPE}||{id}||count")]);
    }
}
