//! Service invocation over HTTP to a test app on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::app::TestApp;
use crate::harness::*;

fn start(app: &TestApp, driver: daprd::runtime::Driver) -> InProc {
    let port = app.port.to_string();
    InProc::start(&["--app-id", "inv", "--app-port", &port], driver, None)
}

/// The `name: value` lines the echo route saw.
fn seen(r: &HttpResponse) -> String {
    r.text()
}

#[test]
fn requests_and_responses_pass_through() {
    let app = TestApp::start();
    for driver in DRIVERS {
        let d = start(&app, driver);
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let r = request(
                d.http,
                method,
                "/v1.0/invoke/inv/method/echo/a%20b?x=1&y=two",
                &[
                    ("x-custom", "kept"),
                    ("dapr-api-token", "not-forwarded"),
                    ("connection", "keep-alive, x-hop"),
                    ("x-hop", "dropped"),
                    ("content-type", "application/json"),
                ],
                b"{\"n\":1}",
            );
            assert_eq!(r.status, 200, "{method}: {}", r.text());
            let s = seen(&r);
            assert!(
                s.starts_with(&format!("{method} /echo/a%20b?x=1&y=two\n")),
                "{s}"
            );
            for want in [
                "x-custom: kept",
                "dapr-caller-app-id: inv",
                "dapr-callee-app-id: inv",
                "traceparent: 00-",
                "content-type: application/json",
            ] {
                assert!(s.contains(want), "{want} missing in {s}");
            }
            for gone in ["dapr-api-token", "x-hop"] {
                assert!(!s.contains(gone), "{gone} forwarded: {s}");
            }
            if method != "GET" {
                assert!(s.ends_with("\n\n{\"n\":1}"), "{s}");
            }
            // The app's headers come back.
            assert_eq!(r.header("x-app"), Some("yes"));
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
        // An incoming trace context is passed on unchanged.
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let r = request(
            d.http,
            "GET",
            "/v1.0/invoke/inv/method/echo",
            &[("traceparent", tp)],
            b"",
        );
        assert!(
            seen(&r).contains(&format!("traceparent: {tp}")),
            "{}",
            r.text()
        );
        // The app's errors reach the caller unchanged.
        for code in [404, 500, 503] {
            let r = get(d.http, &format!("/v1.0/invoke/inv/method/status/{code}"));
            assert_eq!((r.status, r.text().as_str()), (code, "oops"));
        }
        // The dapr-app-id header form, and the namespaced id.
        let r = request(
            d.http,
            "POST",
            "/any/path?q=1",
            &[("dapr-app-id", "inv")],
            b"hi",
        );
        assert_eq!(r.status, 200);
        assert!(seen(&r).starts_with("POST /any/path?q=1\n"), "{}", r.text());
        assert!(!seen(&r).contains("dapr-app-id"), "{}", r.text());
        let r = get(d.http, "/v1.0/invoke/inv.default/method/echo");
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[test]
fn invocation_errors_are_dapr_errors() {
    let app = TestApp::start();
    let d = start(&app, DRIVERS[1]);
    let r = get(d.http, "/v1.0/invoke/nobody/method/echo");
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    assert!(
        r.text().contains("failed to invoke, id: nobody"),
        "{}",
        r.text()
    );
    let r = get(d.http, "/no/route");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    // The app drops the connection without answering: a clean 500, and
    // the next call works.
    let r = get(d.http, "/v1.0/invoke/inv/method/drop");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    assert_eq!(get(d.http, "/v1.0/invoke/inv/method/slow").text(), "slow");
    // No app port: the channel does not exist.
    let bare = InProc::start(&["--app-id", "inv"], DRIVERS[0], None);
    let r = get(bare.http, "/v1.0/invoke/inv/method/echo");
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("app channel not initialized"),
        "{}",
        r.text()
    );
}

#[test]
fn app_killed_and_restarted() {
    let mut app = TestApp::start();
    let port = app.port;
    let d = start(&app, DRIVERS[1]);
    // Warm the pools of both workers.
    for _ in 0..20 {
        assert_eq!(get(d.http, "/v1.0/invoke/inv/method/echo").status, 200);
    }
    app.stop();
    let started = Instant::now();
    let r = get(d.http, "/v1.0/invoke/inv/method/echo");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    assert!(started.elapsed() < Duration::from_secs(5));
    let _app = TestApp::start_on(port);
    // Pooled connections to the dead app are dropped, not reused.
    for _ in 0..20 {
        let r = get(d.http, "/v1.0/invoke/inv/method/echo");
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[test]
fn app_api_token_is_sent_to_the_app() {
    let app = TestApp::start();
    let port = app.port.to_string();
    let d = Daprd::start_with_env(
        &["--app-port", &port],
        &[
            ("APP_API_TOKEN", "app-secret"),
            ("DAPR_API_TOKEN", "api-secret"),
        ],
    );
    let r = request(
        d.http,
        "GET",
        "/v1.0/invoke/testapp/method/echo",
        &[("dapr-api-token", "api-secret")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("dapr-api-token: app-secret"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("api-secret\n"), "{}", r.text());
    // Without the API token the call never reaches the app.
    let r = get(d.http, "/v1.0/invoke/testapp/method/echo");
    assert_eq!(r.status, 401);
}

/// 100 MiB up and 100 MiB down through the real binary, with its peak RSS
/// far below either.
#[test]
fn hundred_mib_stream_both_ways_with_bounded_memory() {
    const N: u64 = 100 * 1024 * 1024;
    let app = TestApp::start();
    let port = app.port.to_string();
    let d = Daprd::start(&["--app-port", &port, "--max-body-size", "200Mi"]);

    stream_both_ways(d.http, "testapp", N, Duration::from_secs(60));

    let hwm_kib = peak_rss_kib(d.pid());
    assert!(
        hwm_kib < 40 * 1024,
        "peak RSS {hwm_kib} KiB for a 100 MiB body"
    );
}

/// Streams `n` bytes up (chunked, to the app's `/sink`, which answers the
/// length and byte sum it read) and `n` bytes down (from `/source/{n}`)
/// through the sidecar at `http` invoking `app_id`; asserts both arrived whole.
pub(crate) fn stream_both_ways(
    http: std::net::SocketAddr,
    app_id: &str,
    n: u64,
    timeout: Duration,
) {
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    write!(
        s,
        "POST /v1.0/invoke/{app_id}/method/sink HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 7) as u8).collect();
    let sum_per_chunk: u64 = chunk.iter().map(|&b| b as u64).sum();
    for _ in 0..n / chunk.len() as u64 {
        write!(s, "{:x}\r\n", chunk.len()).unwrap();
        s.write_all(&chunk).unwrap();
        s.write_all(b"\r\n").unwrap();
    }
    s.write_all(b"0\r\n\r\n").unwrap();
    let mut conn = Conn::from_stream(s);
    let r = conn.read_response(false);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        format!("{n} {}", sum_per_chunk * (n / chunk.len() as u64))
    );

    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    write!(
        s,
        "GET /v1.0/invoke/{app_id}/method/source/{n} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut total = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let k = s.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        total += k as u64;
    }
    assert!(total > n, "only {total} bytes arrived");
}

/// An app that breaks HTTP/1.1: its 204 carries a body (`content-length: 4`,
/// `oops`), in the same write as the head; every other path answers `fine`.
/// Keep-alive, one thread per connection.
fn app_with_a_bodied_204() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in listener.incoming() {
            let Ok(mut c) = c else { return };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match c.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end + 4);
                    let out: &[u8] = if head.contains(" /nocontent ") {
                        b"HTTP/1.1 204 No Content\r\ncontent-length: 4\r\n\r\noops"
                    } else {
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nfine"
                    };
                    if c.write_all(out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_body_sent_with_204_does_not_break_the_next_call() {
    let port = app_with_a_bodied_204().to_string();
    // One worker: every call shares one connection pool.
    let d = InProc::start(
        &["--app-id", "bad204", "--app-port", &port, "--workers", "1"],
        DRIVERS[1],
        None,
    );
    for _ in 0..5 {
        let r = get(d.http, "/v1.0/invoke/bad204/method/nocontent");
        assert_eq!(r.status, 204, "{}", r.text());
        assert!(r.body.is_empty());
        let r = get(d.http, "/v1.0/invoke/bad204/method/next");
        assert_eq!((r.status, r.text().as_str()), (200, "fine"));
    }
}
