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

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
