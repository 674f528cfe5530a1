//! The official Python SDK (`dapr` from PyPI, 1.18) end to end: the
//! scripts in `tests/python/` make the calls of python-sdk's
//! `examples/state_store` and `examples/metadata` through `DaprClient`
//! (gRPC) against the real binary, and must print the lines those
//! examples' READMEs expect (their `expected_stdout_lines`). The state
//! script's outbox projection (`val2`) must reach the subscriber app.
//!
//! Skipped loudly when `python3 -c 'import dapr'` fails, failed instead
//! under `DAPRD_TEST_SERVICES=require` (`.ci/run` installs the package).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::pubsub::{json, Subscriber};
use crate::services::{self, unique_app_id, Plain};

/// Whether `python3` can import the SDK (see [`services::available`]).
fn python_sdk(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import dapr.clients"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    services::available(
        "the Python SDK (`python3 -c 'import dapr'`; pip install 'dapr==1.18.3')",
        ok,
        test,
    )
}

/// Runs `tests/python/<script>` against `d` as `dapr run` would start an
/// app next to it; its stdout once it exited successfully (within 60 s).
fn run_script(script: &str, d: &Daprd) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut child = Command::new("python3")
        .arg(&path)
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
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{script} did not finish in 60 s\nstdout:\n{}\nstderr:\n{}",
                out.join().unwrap(),
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.success(),
        "{script} failed: {status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}

/// mechanical-markdown's check of a README step: every expected line
/// appears in stdout, in order (as a whole line, or within one when
/// `substring`, the README's `output_match_mode: substring`).
fn assert_lines(stdout: &str, expected: &[&str], substring: bool) {
    let mut lines = stdout.lines();
    for want in expected {
        let found = lines.any(|l| {
            if substring {
                l.contains(want)
            } else {
                l == *want
            }
        });
        assert!(found, "missing (in order) {want:?} in:\n{stdout}");
    }
}

/// A component: name, type, version (may be empty) and metadata items.
type Component<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

/// A resources folder with one file per component.
fn resources(components: &[Component]) -> PathBuf {
    let dir = services::temp_dir("daprd-python");
    for (name, kind, version, md) in components {
        let mut yaml = format!(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n"
        );
        if !version.is_empty() {
            yaml.push_str(&format!("  version: {version}\n"));
        }
        yaml.push_str("  metadata:\n");
        for (k, v) in *md {
            yaml.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
        }
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
    }
    dir
}

#[test]
fn python_state_store_example() {
    let test = "python_state_store_example";
    if !python_sdk(test) || !services::redis(test) {
        return;
    }
    // As the example's components (Redis state with an outbox to Redis
    // pub/sub); a fresh app id keeps the keys (and so ETags 1, 2) fresh.
    let app_id = unique_app_id("pystate");
    let (group, topic) = (unique_app_id("group"), unique_app_id("topic"));
    let redis = services::REDIS;
    let dir = resources(&[
        (
            "statestore",
            "state.redis",
            "v1",
            &[
                ("redisHost", redis),
                ("redisPassword", ""),
                ("actorStateStore", "true"),
                ("outboxPublishPubsub", "pubsub"),
                ("outboxPublishTopic", &topic),
            ],
        ),
        (
            "pubsub",
            "pubsub.redis",
            "v1",
            &[
                ("redisHost", redis),
                ("redisPassword", ""),
                ("consumerID", &group),
            ],
        ),
    ]);
    let app = Subscriber::success(&format!(
        r#"[{{"pubsubname":"pubsub","topic":"{topic}","route":"/outbox"}}]"#
    ));
    let d = Daprd::start(&[
        "--app-id",
        &app_id,
        "--app-port",
        &app.app.port.to_string(),
        "--resources-path",
        &dir.display().to_string(),
    ]);

    let out = run_script("state_store.py", &d);
    assert_lines(
        &out,
        &[
            "State store has successfully saved value_1 with key_1 as key",
            "Cannot save due to bad etag. ErrorCode=StatusCode.ABORTED",
            "State store has successfully saved value_2 with key_2 as key",
            "State store has successfully saved value_3 with key_3 as key",
            "Cannot save bulk due to bad etags. ErrorCode=StatusCode.ABORTED",
            "Got value=b'value_1' eTag=1",
            "Got items with etags: [(b'value_1_updated', '2'), (b'value_2', '2')]",
            "Transaction with outbox pattern executed successfully!",
            "Got value after outbox pattern: b'val1'",
            "Got values after transaction delete: [b'', b'']",
            "Got value after delete: b''",
        ],
        false,
    );
    assert!(!out.contains("UNEXPECTED"), "{out}");

    // Every upsert of a transaction is published (the first transaction's
    // three); for `key1` the projection, not the stored value.
    app.wait_for("/outbox", 4);
    std::thread::sleep(Duration::from_millis(300));
    let events: Vec<serde_json::Value> = app.to("/outbox").iter().map(json).collect();
    let mut data: Vec<&str> = events.iter().filter_map(|e| e["data"].as_str()).collect();
    data.sort_unstable();
    assert_eq!(
        data,
        ["val2", "value_1_updated", "value_2", "value_3"],
        "{events:?}"
    );
    for ev in &events {
        assert_eq!(ev["topic"], topic.as_str());
        assert_eq!(ev["source"], app_id.as_str());
        assert_eq!(ev["datacontenttype"], "text/plain");
    }
    drop(d);
    let internal = format!("default{app_id}{topic}outbox");
    Plain::connect(redis).call(&["DEL", &internal, &topic, &format!("{app_id}||key1")]);
}

#[test]
fn python_metadata_example() {
    let test = "python_metadata_example";
    if !python_sdk(test) || !services::redis(test) {
        return;
    }
    let redis = services::REDIS;
    let base: &[(&str, &str)] = &[("redisHost", redis), ("redisPassword", "")];
    let state: Vec<(&str, &str)> = [base, &[("actorStateStore", "true")]].concat();
    // The example's three components; the lock store has no `version`.
    let dir = resources(&[
        ("lockstore", "lock.redis", "", base),
        ("pubsub", "pubsub.redis", "v1", base),
        ("statestore", "state.redis", "v1", &state),
    ]);
    // `dapr run --app-id=my-metadata-app --app-protocol grpc` (no app port).
    let d = Daprd::start(&[
        "--app-id",
        "my-metadata-app",
        "--app-protocol",
        "grpc",
        "--resources-path",
        &dir.display().to_string(),
    ]);
    let out = run_script("metadata.py", &d);
    assert_lines(
        &out,
        &[
            "First, we will assign a new custom label to Dapr sidecar",
            "Now, we will fetch the sidecar's metadata",
            "And this is what we got:",
            "  application_id: my-metadata-app",
            "  active_actors_count: {}",
            "  registered_components:",
            "    name=lockstore type=lock.redis version= capabilities=[]",
            "    name=pubsub type=pubsub.redis version=v1 capabilities=[]",
            "    name=statestore type=state.redis version=v1 capabilities=['ACTOR', 'ETAG', 'KEYS_LIKE', 'TRANSACTIONAL', 'TTL'",
            "We will update our custom label value and check it was persisted",
            "We added a custom label named [is-this-our-metadata-example]",
            "Its old value was [yes] but now it is [You bet it is!]",
        ],
        true,
    );
}
