//! Secrets: `secretstores.local.file` and `secretstores.local.env` over
//! HTTP and gRPC (the official Rust SDK), Go's error codes and statuses,
//! Configuration `secrets.scopes`, and `secretKeyRef`s in other components
//! resolved at start-up (or failing it).

use std::path::{Path, PathBuf};

use crate::harness::*;
use crate::services;

const SECRETS_JSON: &str = r#"{
  "plain": "p<&>",
  "db": {"user": "admin", "password": "s3cret", "tls": {"ca": "CA"}},
  "hosts": ["h0", "h1"],
  "port": 6379,
  "topics": {"allowed": "orders"}
}"#;

/// A fresh directory holding `files` (name → content).
fn dir_with(files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(services::unique_app_id("daprd-secrets"));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// A Component document.
fn component(name: &str, kind: &str, metadata: &[(&str, &str)], extra: &str) -> String {
    let mut y = format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n  version: v1\n  metadata:"
    );
    if metadata.is_empty() {
        y.push_str(" []");
    }
    y.push('\n');
    for (k, v) in metadata {
        y.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
    }
    y.push_str(extra);
    y
}

/// Resources with the file-backed stores `flat` (nested keys flattened
/// with `:`) and `multi` (multi-valued), over one secrets file.
fn file_stores(extra_docs: &[String]) -> PathBuf {
    let dir = dir_with(&[("secrets.json", SECRETS_JSON)]);
    let file = dir.join("secrets.json").display().to_string();
    let mut docs = vec![
        component(
            "flat",
            "secretstores.local.file",
            &[("secretsFile", &file)],
            "",
        ),
        component(
            "multi",
            "secretstores.local.file",
            &[("secretsFile", &file), ("multiValued", "true")],
            "",
        ),
    ];
    docs.extend_from_slice(extra_docs);
    std::fs::write(dir.join("components.yaml"), docs.join("---\n")).unwrap();
    dir
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

fn assert_error(r: &HttpResponse, status: u16, code: &str, message: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["errorCode"], code, "{v}");
    assert_eq!(v["message"], message, "{v}");
}

#[test]
fn local_file_flattened_and_multi_valued_over_http() {
    let dir = file_stores(&[]);
    for driver in DRIVERS {
        let d = InProc::start(&["--resources-path", &path_arg(&dir)], driver, None);

        // Flattened: nested keys joined with ":", arrays by index, numbers as Go prints them.
        let r = get(d.http, "/v1.0/secrets/flat/db:user");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.text(), "{\"db:user\":\"admin\"}\n");
        assert_eq!(
            get(d.http, "/v1.0/secrets/flat/db%3Atls%3Aca").json(),
            serde_json::json!({"db:tls:ca": "CA"})
        );
        assert_eq!(
            get(d.http, "/v1.0/secrets/flat/hosts:1?metadata.namespace=prod").json(),
            serde_json::json!({"hosts:1": "h1"})
        );
        assert_eq!(
            get(d.http, "/v1.0/secrets/flat/port").json(),
            serde_json::json!({"port": "%!s(float64=6379)"})
        );
        // Go's encoder escapes HTML characters.
        assert_eq!(
            get(d.http, "/v1.0/secrets/flat/plain").text(),
            "{\"plain\":\"p\\u003c\\u0026\\u003e\"}\n"
        );

        // Multi-valued: one secret per top-level key, its children flattened inside.
        let r = get(d.http, "/v1.0/secrets/multi/db");
        assert_eq!(
            r.text(),
            "{\"password\":\"s3cret\",\"tls:ca\":\"CA\",\"user\":\"admin\"}\n"
        );
        assert_eq!(
            get(d.http, "/v1.0/secrets/multi/plain").json(),
            serde_json::json!({"plain": "p<&>"})
        );

        // Bulk.
        let r = get(d.http, "/v1.0/secrets/flat/bulk");
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v.as_object().unwrap().len(), 8, "{v}");
        assert_eq!(
            v["db:password"],
            serde_json::json!({"db:password": "s3cret"})
        );
        assert_eq!(v["hosts:0"], serde_json::json!({"hosts:0": "h0"}));
        let v = get(d.http, "/v1.0/secrets/multi/bulk?metadata.x=y").json();
        assert_eq!(
            v,
            serde_json::json!({
                "plain": {"plain": "p<&>"},
                "db": {"user": "admin", "password": "s3cret", "tls:ca": "CA"},
                "topics": {"allowed": "orders"}
            })
        );

        // The metadata API lists both stores with their capabilities.
        let md = get(d.http, "/v1.0/metadata").json();
        let caps = |name: &str| {
            md["components"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .unwrap_or_else(|| panic!("{name} in {md}"))
                .clone()
        };
        assert_eq!(caps("flat")["type"], "secretstores.local.file");
        // No capability: the field is omitted, as Go's `omitempty`.
        assert!(caps("flat").get("capabilities").is_none());
        assert_eq!(
            caps("multi")["capabilities"],
            serde_json::json!(["MULTIPLE_KEY_VALUES_PER_SECRET"])
        );
    }
}

#[test]
fn errors_match_go() {
    // No secret store at all.
    let d = InProc::start(&[], DRIVERS[1], None);
    for path in ["/v1.0/secrets/any/key", "/v1.0/secrets/any/bulk"] {
        assert_error(
            &get(d.http, path),
            500,
            "ERR_SECRET_STORES_NOT_CONFIGURED",
            "secret store is not configured",
        );
    }
    drop(d);

    let dir = file_stores(&[]);
    let d = InProc::start(&["--resources-path", &path_arg(&dir)], DRIVERS[0], None);
    // Unknown store: Go answers 401.
    for path in ["/v1.0/secrets/nope/key", "/v1.0/secrets/nope/bulk"] {
        assert_error(
            &get(d.http, path),
            401,
            "ERR_SECRET_STORE_NOT_FOUND",
            "failed finding secret store with key nope",
        );
    }
    // Missing secret: the store's error inside ERR_SECRET_GET.
    assert_error(
        &get(d.http, "/v1.0/secrets/flat/missing"),
        500,
        "ERR_SECRET_GET",
        "failed getting secret with key missing from secret store flat: secret missing not found",
    );
    // Flattened stores have no secret named after an object.
    assert_error(
        &get(d.http, "/v1.0/secrets/flat/db"),
        500,
        "ERR_SECRET_GET",
        "failed getting secret with key db from secret store flat: secret db not found",
    );
    // Go decodes even a GET body as the request message.
    let r = request(d.http, "GET", "/v1.0/secrets/flat/plain", &[], b"{not json");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_MALFORMED_REQUEST");
    let r = request(
        d.http,
        "GET",
        "/v1.0/secrets/flat/plain",
        &[],
        br#"{"storeName":"ignored","other":1}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Other methods fall through to invocation, as in Go.
    let r = request(d.http, "POST", "/v1.0/secrets/flat/plain", &[], b"");
    assert_ne!(r.status, 200);
}

#[test]
fn local_env_store_with_prefix() {
    let dir = dir_with(&[(
        "env.yaml",
        &[
            component("env", "secretstores.local.env", &[], ""),
            component(
                "envp",
                "secretstores.local.env",
                &[("prefix", "MYAPP_")],
                "",
            ),
        ]
        .join("---\n"),
    )]);
    let res = path_arg(&dir);
    let d = Daprd::start_with_env(
        &["--resources-path", &res],
        &[
            ("MYAPP_DB_HOST", "db.local"),
            ("MYAPP_", "no name"),
            ("DAPR_SECRET_THING", "hidden"),
            ("APP_API_TOKEN", "hidden"),
        ],
    );
    let v = get(d.http, "/v1.0/secrets/env/MYAPP_DB_HOST").json();
    assert_eq!(v, serde_json::json!({"MYAPP_DB_HOST": "db.local"}));
    let v = get(d.http, "/v1.0/secrets/envp/DB_HOST").json();
    assert_eq!(v, serde_json::json!({"DB_HOST": "db.local"}));
    // Forbidden and unset variables answer an empty value, not an error.
    for (store, name) in [
        ("env", "DAPR_SECRET_THING"),
        ("env", "APP_API_TOKEN"),
        ("env", "NOT_SET_ANYWHERE"),
    ] {
        let r = get(d.http, &format!("/v1.0/secrets/{store}/{name}"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json(), serde_json::json!({ name: "" }));
    }
    // Bulk: everything allowed; with a prefix, only longer prefixed names, stripped.
    let all = get(d.http, "/v1.0/secrets/env/bulk").json();
    let all = all.as_object().unwrap();
    assert_eq!(
        all["MYAPP_DB_HOST"],
        serde_json::json!({"MYAPP_DB_HOST": "db.local"})
    );
    assert!(!all.contains_key("DAPR_SECRET_THING") && !all.contains_key("APP_API_TOKEN"));
    assert!(!all.keys().any(|k| k.starts_with("DAPR_")));
    let v = get(d.http, "/v1.0/secrets/envp/bulk").json();
    assert_eq!(v, serde_json::json!({"DB_HOST": {"DB_HOST": "db.local"}}));
}

const SCOPES: &str = "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: secretscopes\nspec:\n  secrets:\n    scopes:\n    - storeName: flat\n      defaultAccess: deny\n      allowedSecrets: [\"db:user\", \"plain\"]\n    - storeName: multi\n      deniedSecrets: [db]\n";

#[test]
fn scopes_from_the_configuration() {
    let dir = file_stores(&[]);
    let config = dir_with(&[("config.yaml", SCOPES)]).join("config.yaml");
    let d = InProc::start(
        &[
            "--resources-path",
            &path_arg(&dir),
            "--config",
            &path_arg(&config),
        ],
        DRIVERS[1],
        None,
    );
    assert_eq!(get(d.http, "/v1.0/secrets/flat/db:user").status, 200);
    assert_error(
        &get(d.http, "/v1.0/secrets/flat/db:password"),
        403,
        "ERR_PERMISSION_DENIED",
        "access denied by policy to get \"db:password\" from \"flat\"",
    );
    // Scoping is checked before the store is asked.
    assert_error(
        &get(d.http, "/v1.0/secrets/flat/missing"),
        403,
        "ERR_PERMISSION_DENIED",
        "access denied by policy to get \"missing\" from \"flat\"",
    );
    assert_error(
        &get(d.http, "/v1.0/secrets/multi/db"),
        403,
        "ERR_PERMISSION_DENIED",
        "access denied by policy to get \"db\" from \"multi\"",
    );
    assert_eq!(get(d.http, "/v1.0/secrets/multi/topics").status, 200);
    // Bulk leaves out what is not allowed.
    let v = get(d.http, "/v1.0/secrets/flat/bulk").json();
    let mut names: Vec<&String> = v.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["db:user", "plain"]);
    let v = get(d.http, "/v1.0/secrets/multi/bulk").json();
    let mut names: Vec<&String> = v.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["plain", "topics"]);
}

#[test]
fn official_sdk_reads_secrets_over_grpc() {
    let dir = file_stores(&[]);
    let config = dir_with(&[("config.yaml", SCOPES)]).join("config.yaml");
    let (res, cfg) = (path_arg(&dir), path_arg(&config));
    let (_d, addr) =
        crate::grpc::start_with_grpc(&["--resources-path", &res, "--config", &cfg], &[]);
    crate::grpc::rt().block_on(async {
        let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
            format!("http://{addr}"),
        )
        .await
        .expect("SDK connects");
        let got = c.get_secret("multi", "topics").await.unwrap();
        assert_eq!(
            got.data,
            std::collections::HashMap::from([("allowed".to_string(), "orders".to_string())])
        );
        let got = c.get_secret("flat", "db:user").await.unwrap();
        assert_eq!(got.data["db:user"], "admin");

        let bulk = c.get_bulk_secret("multi", None).await.unwrap();
        let mut names: Vec<&String> = bulk.data.keys().collect();
        names.sort();
        assert_eq!(names, ["plain", "topics"]);
        assert_eq!(bulk.data["plain"].secrets["plain"], "p<&>");

        let text = format!("{:?}", c.get_secret("nope", "k").await.unwrap_err());
        assert!(
            text.contains("InvalidArgument")
                && text.contains("failed finding secret store with key nope"),
            "{text}"
        );
        let text = format!(
            "{:?}",
            c.get_secret("flat", "db:password").await.unwrap_err()
        );
        assert!(
            text.contains("PermissionDenied")
                && text.contains(r#"access denied by policy to get \"db:password\" from \"flat\""#),
            "{text}"
        );
        let text = format!("{:?}", c.get_secret("multi", "missing").await.unwrap_err());
        assert!(
            text.contains("Internal")
                && text.contains("failed getting secret with key missing from secret store multi"),
            "{text}"
        );
    });
}

#[test]
fn secret_key_ref_resolves_at_start_up() {
    // pubsub.in-memory reads `allowedTopics` itself: here it comes from the
    // multi-valued store's `topics` secret, key `allowed`.
    let pubsub = component("pubsub", "pubsub.in-memory", &[], "")
        .replace(
            "  metadata: []\n",
            "  metadata:\n  - name: allowedTopics\n    secretKeyRef:\n      name: topics\n      key: allowed\n",
        )
        + "auth:\n  secretStore: multi\n";
    let dir = file_stores(&[pubsub]);
    let d = InProc::start(&["--resources-path", &path_arg(&dir)], DRIVERS[1], None);
    let publish = |topic: &str| {
        request(
            d.http,
            "POST",
            &format!("/v1.0/publish/pubsub/{topic}"),
            &[("content-type", "text/plain")],
            b"x",
        )
    };
    assert_eq!(publish("orders").status, 204);
    let r = publish("other");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_PUBSUB_FORBIDDEN");
}

#[test]
fn secret_key_ref_gives_state_redis_its_host() {
    if !services::redis("secret_key_ref_gives_state_redis_its_host") {
        return;
    }
    let secrets = dir_with(&[("redis.json", r#"{"redis":{"host":"127.0.0.1:6379"}}"#)]);
    let file = path_arg(&secrets.join("redis.json"));
    let docs = [
        component(
            "redissecrets",
            "secretstores.local.file",
            &[("secretsFile", &file), ("multiValued", "true")],
            "",
        ),
        // The state store comes first in the file: secret stores are built first anyway.
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n  - name: redisHost\n    secretKeyRef:\n      name: redis\n      key: host\nauth:\n  secretStore: redissecrets\n".to_string(),
    ];
    let dir = dir_with(&[("components.yaml", &docs[..].join("---\n"))]);
    let app = services::unique_app_id("secretref");
    let d = InProc::start(
        &["--resources-path", &path_arg(&dir), "--app-id", &app],
        DRIVERS[1],
        None,
    );
    let r = request(
        d.http,
        "POST",
        "/v1.0/state/statestore",
        &[],
        br#"[{"key":"k","value":"v"}]"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let mut plain = services::Plain::connect(services::REDIS);
    let h = plain.hgetall(&format!("{app}||k"));
    assert!(h.contains(&("data".into(), "\"v\"".into())), "{h:?}");
    plain.call(&["DEL", &format!("{app}||k")]);
}

/// Runs the binary on `docs` and returns (exit code, output).
fn start_up_with(docs: &[String]) -> (i32, String, PathBuf) {
    let dir = file_stores(docs);
    let res = path_arg(&dir);
    let (http, grpc, metrics) = (free_port(), free_port(), free_port());
    let (http, grpc, metrics) = (http.to_string(), grpc.to_string(), metrics.to_string());
    let (code, out) = run_to_exit(&[
        "--app-id",
        "secretfail",
        "--dapr-listen-addresses",
        "127.0.0.1",
        "--dapr-http-port",
        &http,
        "--dapr-grpc-port",
        &grpc,
        "--metrics-port",
        &metrics,
        "--resources-path",
        &res,
    ]);
    (code, out, dir)
}

fn with_ref(store: Option<&str>, secret: &str, key: &str, ignore_errors: bool) -> String {
    format!(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: needsecret\nspec:\n  type: pubsub.in-memory\n  version: v1\n  ignoreErrors: {ignore_errors}\n  metadata:\n  - name: allowedTopics\n    secretKeyRef:\n      name: {secret}\n      key: {key}\n{}",
        store.map(|s| format!("auth:\n  secretStore: {s}\n")).unwrap_or_default()
    )
}

#[test]
fn unresolvable_secret_key_refs_fail_start_up() {
    for (doc, reason) in [
        (
            with_ref(Some("multi"), "nosuchsecret", "allowed", false),
            "secret nosuchsecret not found",
        ),
        (
            with_ref(Some("multi"), "topics", "nosuchkey", false),
            "secret \"topics\" has no key \"nosuchkey\"",
        ),
        (
            with_ref(Some("nostore"), "topics", "allowed", false),
            "secret store \"nostore\" is not loaded",
        ),
        (
            with_ref(None, "topics", "allowed", false),
            "the component has no auth.secretStore",
        ),
    ] {
        let (code, out, _) = start_up_with(&[doc]);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("components.yaml")
                && out.contains("\"needsecret\"")
                && out.contains(reason),
            "{out}"
        );
        assert!(
            out.contains("secretKeyRef \"") && out.contains("key \""),
            "{out}"
        );
    }
    // The message names the store and the key.
    let (_, out, _) = start_up_with(&[with_ref(Some("multi"), "topics", "nosuchkey", false)]);
    assert!(
        out.contains("from secret store \"multi\"") && out.contains("key \"nosuchkey\""),
        "{out}"
    );

    // A secret store that cannot load (or an unknown secret store type) fails too.
    let bad_file = component(
        "broken",
        "secretstores.local.file",
        &[("secretsFile", "/nonexistent/daprd/secrets.json")],
        "",
    );
    let (code, out, _) = start_up_with(&[bad_file]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("\"broken\"") && out.contains("open /nonexistent/daprd/secrets.json"),
        "{out}"
    );
    let unknown = component("vault", "secretstores.hashicorp.vault", &[], "");
    let (code, out, _) = start_up_with(&[unknown]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("unknown component type secretstores.hashicorp.vault/v1"),
        "{out}"
    );
}

#[test]
fn ignore_errors_skips_a_component_whose_secret_is_missing() {
    let dir = file_stores(&[with_ref(Some("multi"), "nosuchsecret", "allowed", true)]);
    let res = path_arg(&dir);
    let d = Daprd::start(&["--resources-path", &res]);
    let md = get(d.http, "/v1.0/metadata").json();
    let names: Vec<&str> = md["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"multi") && !names.contains(&"needsecret"),
        "{md}"
    );
}

#[test]
fn the_example_runs() {
    // examples/secrets, from the package root (its secretsFile is relative to it).
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let res = path_arg(&root.join("examples/secrets/resources"));
    let cfg = path_arg(&root.join("examples/secrets/config.yaml"));
    let d = Daprd::start(&["--resources-path", &res, "--config", &cfg]);
    let r = get(d.http, "/v1.0/secrets/localsecretstore/db:user");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"db:user": "admin"}));
    assert_eq!(
        get(d.http, "/v1.0/secrets/localsecretstore/db:password").status,
        403
    );
    assert_eq!(
        get(d.http, "/v1.0/secrets/multisecretstore/db").json(),
        serde_json::json!({"user": "admin", "password": "change-me"})
    );
    // The pub/sub component's allowedTopics came from the store.
    for (topic, status) in [("orders", 204), ("elsewhere", 403)] {
        let r = request(
            d.http,
            "POST",
            &format!("/v1.0/publish/pubsub/{topic}"),
            &[("content-type", "text/plain")],
            b"x",
        );
        assert_eq!(r.status, status, "{topic}: {}", r.text());
    }
}
