//! The state API over HTTP, against every store: the in-memory default,
//! and `state.redis` on the machine's Redis (skipped loudly when absent).

use std::path::PathBuf;

use crate::harness::*;
use crate::services;

fn resources() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/resources")
        .display()
        .to_string()
}

/// Asserts a Dapr error response.
fn assert_error(r: &HttpResponse, status: u16, code: &str) {
    assert_eq!(
        (r.status, r.json()["errorCode"].as_str().unwrap()),
        (status, code),
        "{}",
        r.text()
    );
}

/// A store the same tests run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    InMemory,
    Redis,
}

impl Store {
    /// The component type.
    pub fn kind(self) -> &'static str {
        match self {
            Store::InMemory => "state.in-memory",
            Store::Redis => "state.redis",
        }
    }

    /// A sidecar whose `statestore` is this store; on Redis with an app id
    /// of its own, so its keys are fresh.
    pub fn start(self, driver: daprd::runtime::Driver) -> InProc {
        match self {
            Store::InMemory => InProc::start(&["--resources-path", &resources()], driver, None),
            Store::Redis => {
                let dir = services::component_dir("state.redis", &[("redisHost", services::REDIS)]);
                let app = services::unique_app_id("state");
                let dir = dir.display().to_string();
                InProc::start(&["--resources-path", &dir, "--app-id", &app], driver, None)
            }
        }
    }
}

/// The stores available here (Redis only when it answers).
pub fn stores(test: &str) -> Vec<Store> {
    let mut v = vec![Store::InMemory];
    if services::redis(test) {
        v.push(Store::Redis);
    }
    v
}

#[test]
fn save_get_delete_with_etags() {
    for (store, driver) in stores("save_get_delete_with_etags")
        .into_iter()
        .flat_map(|s| DRIVERS.map(|d| (s, d)))
    {
        let d = store.start(driver);
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"order","value":{"id":1,"items":["a"]}},{"key":"name","value":"bob"}]"#,
        );
        assert_eq!(r.status, 204, "{}", r.text());
        let r = get(d.http, "/v1.0/state/statestore/order");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("etag"), Some("1"));
        assert_eq!(r.json(), serde_json::json!({"id":1,"items":["a"]}));
        // A JSON string is stored with its quotes, as Go does.
        assert_eq!(get(d.http, "/v1.0/state/statestore/name").text(), "\"bob\"");
        // ETags: the right one wins, a stale one gets 409.
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"order","value":2,"etag":"1"}]"#,
        );
        assert_eq!(r.status, 204);
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"order","value":3,"etag":"1"}]"#,
        );
        assert_eq!(r.status, 409);
        assert_eq!(r.json()["errorCode"], "ERR_STATE_SAVE");
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"order","value":3,"etag":"x"}]"#,
        );
        // Go: in-memory ETags are opaque strings (a mismatch); Redis's are
        // numbers (malformed).
        let status = if store == Store::Redis { 400 } else { 409 };
        assert_error(&r, status, "ERR_STATE_SAVE");
        // first-write without an ETag: a key created with first-write is
        // guarded on both stores; Go's Redis script lets first-write
        // overwrite a key that was written last-write, and so does ours.
        let fw = br#"[{"key":"fw","value":4,"options":{"concurrency":"first-write"}}]"#;
        assert_eq!(
            request(d.http, "POST", "/v1.0/state/statestore", &[], fw).status,
            204
        );
        let r = request(d.http, "POST", "/v1.0/state/statestore", &[], fw);
        assert_eq!(r.status, 409, "{store:?}: {}", r.text());
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"order","value":4,"options":{"concurrency":"first-write"}}]"#,
        );
        let expected = if store == Store::Redis { 204 } else { 409 };
        assert_eq!(r.status, expected, "{store:?}: {}", r.text());
        // Delete with a stale If-Match, then the right one.
        assert_eq!(
            request(
                d.http,
                "DELETE",
                "/v1.0/state/statestore/order",
                &[("if-match", "1")],
                b""
            )
            .status,
            409
        );
        assert_eq!(
            request(
                d.http,
                "DELETE",
                "/v1.0/state/statestore/order",
                &[("if-match", if store == Store::Redis { "3" } else { "2" })],
                b""
            )
            .status,
            204
        );
        assert_eq!(get(d.http, "/v1.0/state/statestore/order").status, 204);
    }
}

#[test]
fn bulk_and_transactions() {
    for store in stores("bulk_and_transactions") {
        let d = store.start(DRIVERS[1]);
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"a","value":"A"},{"key":"b","value":{"x":1}}]"#,
        );
        assert_eq!(r.status, 204);
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore/bulk",
            &[],
            br#"{"keys":["a","b","missing"]}"#,
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json(),
            serde_json::json!([{"key":"a","data":"A","etag":"1"},{"key":"b","data":{"x":1},"etag":"1"},{"key":"missing"}])
        );
        // A failing transaction leaves nothing half-applied.
        let tx = br#"{"operations":[{"operation":"upsert","request":{"key":"c","value":3}},{"operation":"delete","request":{"key":"a","etag":"9"}}]}"#;
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore/transaction",
            &[],
            tx,
        );
        assert_eq!(r.status, 500);
        assert_eq!(r.json()["errorCode"], "ERR_STATE_TRANSACTION");
        assert_eq!(get(d.http, "/v1.0/state/statestore/c").status, 204);
        assert_eq!(get(d.http, "/v1.0/state/statestore/a").status, 200);
        let tx = br#"{"operations":[{"operation":"upsert","request":{"key":"c","value":3}},{"operation":"delete","request":{"key":"a"}}]}"#;
        assert_eq!(
            request(
                d.http,
                "POST",
                "/v1.0/state/statestore/transaction",
                &[],
                tx
            )
            .status,
            204
        );
        assert_eq!(get(d.http, "/v1.0/state/statestore/c").text(), "3");
        assert_eq!(get(d.http, "/v1.0/state/statestore/a").status, 204);
        let bad = br#"{"operations":[{"operation":"merge","request":{"key":"c"}}]}"#;
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore/transaction",
            &[],
            bad,
        );
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["errorCode"], "ERR_NOT_SUPPORTED_STATE_OPERATION");
    }
}

#[test]
fn bad_input_gets_dapr_errors() {
    for store in stores("bad_input_gets_dapr_errors") {
        let d = store.start(DRIVERS[1]);
        let r = request(d.http, "POST", "/v1.0/state/statestore", &[], b"{not json");
        assert_error(&r, 400, "ERR_MALFORMED_REQUEST");
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"value":1}]"#,
        );
        assert_error(&r, 400, "ERR_MALFORMED_REQUEST");
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"a||b","value":1}]"#,
        );
        assert_error(&r, 400, "ERR_MALFORMED_REQUEST");
        let r = get(d.http, "/v1.0/state/nostore/k");
        assert_error(&r, 400, "ERR_STATE_STORE_NOT_FOUND");
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"t","value":1,"metadata":{"ttlInSeconds":"soon"}}]"#,
        );
        assert_eq!(r.status, 500);
        let huge_key = "k".repeat(3000);
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            format!(r#"[{{"key":"{huge_key}","value":1}}]"#).as_bytes(),
        );
        assert_eq!(r.status, 204);
        assert_eq!(
            request(d.http, "POST", "/v1.0/state/statestore", &[], b"[]").status,
            204
        );
        // No stores at all: 500 not configured.
        let bare = InProc::start(&[], DRIVERS[0], None);
        let r = get(bare.http, "/v1.0/state/statestore/k");
        assert_error(&r, 500, "ERR_STATE_STORE_NOT_CONFIGURED");
    }
}

#[test]
fn ttl_and_metadata_listing() {
    for store in stores("ttl_and_metadata_listing") {
        let d = store.start(DRIVERS[1]);
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore?metadata.ttlInSeconds=1",
            &[],
            br#"[{"key":"short","value":1}]"#,
        );
        assert_eq!(r.status, 204);
        let r = get(d.http, "/v1.0/state/statestore/short");
        // Redis does not report expiry times (neither does Go's).
        assert_eq!(
            r.header("metadata.ttlexpiretime").is_some(),
            store == Store::InMemory,
            "{:?}",
            r.headers
        );
        std::thread::sleep(std::time::Duration::from_millis(1200));
        assert_eq!(get(d.http, "/v1.0/state/statestore/short").status, 204);
        let v = get(d.http, "/v1.0/metadata").json();
        let comps = v["components"].as_array().unwrap();
        let kind = store.kind();
        let store = comps.iter().find(|c| c["name"] == "statestore").unwrap();
        assert_eq!(store["type"], kind);
        let want = match kind {
            "state.redis" => {
                serde_json::json!(["ETAG", "TRANSACTIONAL", "TTL", "KEYS_LIKE", "ACTOR"])
            }
            _ => serde_json::json!([
                "ETAG",
                "TRANSACTIONAL",
                "TTL",
                "DELETE_WITH_PREFIX",
                "KEYS_LIKE",
                "ACTOR"
            ]),
        };
        assert_eq!(store["capabilities"], want);
    }
}

#[test]
fn racing_etag_writers_across_workers() {
    for store in stores("racing_etag_writers_across_workers") {
        let d = store.start(DRIVERS[1]);
        assert_eq!(
            request(
                d.http,
                "POST",
                "/v1.0/state/statestore",
                &[],
                br#"[{"key":"race","value":0}]"#
            )
            .status,
            204
        );
        let wins = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (addr, wins) = (d.http, wins.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        // New connections spread over both workers.
                        let cur = get(addr, "/v1.0/state/statestore/race");
                        let etag = cur.header("etag").unwrap().to_owned();
                        let body = format!(r#"[{{"key":"race","value":{t},"etag":"{etag}"}}]"#);
                        let r =
                            request(addr, "POST", "/v1.0/state/statestore", &[], body.as_bytes());
                        match r.status {
                            204 => {
                                wins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            409 => {}
                            s => panic!("unexpected status {s}"),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let version: usize = get(d.http, "/v1.0/state/statestore/race")
            .header("etag")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(version, 1 + wins.load(std::sync::atomic::Ordering::Relaxed));
    }
}

/// The component directory and app id a binary-driven test runs `store` with.
fn binary_args(store: Store) -> (String, String) {
    match store {
        Store::InMemory => (resources(), "testapp".to_owned()),
        Store::Redis => {
            let dir = services::component_dir("state.redis", &[("redisHost", services::REDIS)]);
            (dir.display().to_string(), services::unique_app_id("etag"))
        }
    }
}

#[test]
fn foreign_etags_are_a_mismatch_in_memory_and_invalid_on_redis() {
    for store in stores("foreign_etags_are_a_mismatch_in_memory_and_invalid_on_redis") {
        let (dir, app) = binary_args(store);
        let (d, grpc) =
            crate::grpc::start_with_grpc(&["--resources-path", &dir, "--app-id", &app], &[]);
        let save = |etag: &str| {
            let body = format!(r#"[{{"key":"k","value":1,"etag":"{etag}"}}]"#);
            request(
                d.http,
                "POST",
                "/v1.0/state/statestore",
                &[],
                body.as_bytes(),
            )
        };
        assert_eq!(save("").status, 204);
        let (status, grpc_code) = match store {
            Store::InMemory => (409, "Aborted"),
            Store::Redis => (400, "InvalidArgument"),
        };
        // A UUID (what Go's in-memory store hands out) and other strings.
        for etag in ["c0ffee00-0000-4000-8000-000000000000", "x", "01"] {
            if store == Store::Redis && etag == "01" {
                continue; // a number to Go's Redis store: simply stale
            }
            assert_error(&save(etag), status, "ERR_STATE_SAVE");
            let r = request(
                d.http,
                "DELETE",
                "/v1.0/state/statestore/k",
                &[("if-match", etag)],
                b"",
            );
            // Go's Redis store passes a delete's ETag to its script as
            // text: a mismatch there too.
            assert_error(&r, 409, "ERR_STATE_DELETE");
        }
        // Nothing was written or deleted.
        let r = get(d.http, "/v1.0/state/statestore/k");
        assert_eq!((r.status, r.header("etag")), (200, Some("1")));

        crate::grpc::rt().block_on(async {
            let mut c = dapr::Client::<dapr::client::TonicClientWithAuth>::connect_with_address(
                format!("http://{grpc}"),
            )
            .await
            .expect("SDK connects");
            let etag = || {
                Some(dapr::client::Etag {
                    value: "not-a-version".into(),
                })
            };
            let err = c
                .save_state("statestore", "k", b"2".to_vec(), etag(), None, None)
                .await
                .unwrap_err();
            let text = format!("{err:?}");
            assert!(text.contains(grpc_code), "{store:?}: {text}");
            // Nothing was written.
            let got = c.get_state("statestore", "k", None).await.unwrap();
            assert_eq!((got.data.as_slice(), got.etag.as_str()), (&b"1"[..], "1"));
            c.delete_state("statestore", "k", None).await.unwrap();
            c.save_state("statestore", "k", b"3".to_vec(), None, None, None)
                .await
                .unwrap();
            let got = c.get_state("statestore", "k", None).await.unwrap();
            assert_eq!(got.data, b"3");
        });
    }
}

#[test]
fn values_are_stored_as_go_marshals_them() {
    for store in stores("values_are_stored_as_go_marshals_them") {
        let d = store.start(DRIVERS[0]);
        let body = br#"[
            {"key":"obj","value":{"b": 1, "a": [1, 2]}},
            {"key":"html","value":"<a href=\"x\">&amp;</a>"},
            {"key":"num","value":1.50},
            {"key":"big","value":1E21},
            {"key":"dup","value":{"k":1,"k":2}},
            {"key":"plain","value":{"a":{"x":"\u00e9"},"b":[true,null]}}
        ]"#;
        let r = request(d.http, "POST", "/v1.0/state/statestore", &[], body);
        assert_eq!(r.status, 204, "{}", r.text());
        for (key, want) in [
            ("obj", r#"{"a":[1,2],"b":1}"#),
            (
                "html",
                r#""\u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e""#,
            ),
            ("num", "1.5"),
            ("big", "1e+21"),
            ("dup", r#"{"k":2}"#),
            ("plain", "{\"a\":{\"x\":\"é\"},\"b\":[true,null]}"),
        ] {
            let r = get(d.http, &format!("/v1.0/state/statestore/{key}"));
            assert_eq!(r.text(), want, "{store:?} {key}");
        }
        // Transactions store values the same way.
        let tx = br#"{"operations":[{"operation":"upsert","request":{"key":"tx","value":{ "z" : 0.10, "y" : "&" }}}]}"#;
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore/transaction",
            &[],
            tx,
        );
        assert_eq!(r.status, 204, "{}", r.text());
        let r = get(d.http, "/v1.0/state/statestore/tx");
        assert_eq!(r.text(), r#"{"y":"\u0026","z":0.1}"#, "{store:?}");
        // A number no float64 holds is refused, as Go's decoder does.
        let r = request(
            d.http,
            "POST",
            "/v1.0/state/statestore",
            &[],
            br#"[{"key":"inf","value":1e400}]"#,
        );
        assert_error(&r, 400, "ERR_MALFORMED_REQUEST");
    }
}
