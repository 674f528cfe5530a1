//! The HTTP/1.1 server: framing, limits and hostile input. Each test runs
//! on both monoio drivers and ends by checking that a good request is still
//! answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::*;

fn still_serving(d: &InProc) {
    assert_eq!(
        get(d.http, "/v1.0/healthz").status,
        204,
        "sidecar stopped answering"
    );
}

#[test]
fn keep_alive_pipelining_and_head() {
    for driver in DRIVERS {
        let d = InProc::start(&[], driver, None);
        let mut c = Conn::open(d.http);
        // Two requests in one write: two responses, in order.
        c.send_raw(b"GET /v1.0/healthz HTTP/1.1\r\nhost: x\r\n\r\nGET /v1.0/metadata HTTP/1.1\r\nhost: x\r\n\r\n");
        assert_eq!(c.read_response(false).status, 204);
        let second = c.read_response(false);
        assert_eq!(second.status, 200);
        assert_eq!(second.json()["id"], "inproc");
        // HEAD: chi does not route HEAD to GET routes, so Go daprd treats it
        // as invocation; either way the response has a length and no body.
        let head = c.request("HEAD", "/v1.0/metadata", &[], b"");
        assert_eq!(head.status, 404);
        assert!(head.body.is_empty());
        assert!(
            head.header("content-length")
                .unwrap()
                .parse::<usize>()
                .unwrap()
                > 10
        );
        // The connection is still good after HEAD.
        assert_eq!(c.request("GET", "/v1.0/healthz", &[], b"").status, 204);
        // HTTP/1.0 closes after the response.
        let mut c10 = Conn::open(d.http);
        c10.send_raw(b"GET /v1.0/healthz HTTP/1.0\r\n\r\n");
        assert_eq!(c10.read_response(false).status, 204);
        assert!(c10.is_closed_by_peer());
    }
}

#[test]
fn expect_continue_is_answered_before_the_body() {
    for driver in DRIVERS {
        let d = InProc::start(&[], driver, None);
        let mut c = Conn::open(d.http);
        c.send_raw(b"PUT /v1.0/metadata/k HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n");
        assert_eq!(c.read_response(false).status, 100);
        c.send_raw(b"hello");
        assert_eq!(c.read_response(false).status, 204);
        assert_eq!(
            c.request("GET", "/v1.0/metadata", &[], b"").json()["extended"]["k"],
            "hello"
        );
    }
}

#[test]
fn garbage_bytes_get_400_and_do_not_hurt_others() {
    for driver in DRIVERS {
        let d = InProc::start(&[], driver, None);
        let mut c = Conn::open(d.http);
        c.send_raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n");
        let r = c.read_response(false);
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["errorCode"], "ERR_BAD_REQUEST");
        let mut c = Conn::open(d.http);
        c.send_raw(b"GET /v1.0/healthz HTTP/1.1\r\nbad header line\r\n\r\n");
        assert_eq!(c.read_response(false).status, 400);
        still_serving(&d);
    }
}

#[test]
fn half_sent_request_times_out_without_blocking_others() {
    for driver in DRIVERS {
        let tuning = daprd::Tuning {
            header_timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let d = InProc::start(&[], driver, Some(tuning));
        let mut slow = TcpStream::connect(d.http).unwrap();
        slow.write_all(b"GET /v1.0/healthz HTTP/1.1\r\nhost: x\r\n")
            .unwrap();
        // Meanwhile others are served.
        still_serving(&d);
        // The slow client is cut off after the header timeout.
        slow.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = [0u8; 64];
        let n = slow.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "expected the server to close the slow connection");
        // A client that sends half a request and vanishes.
        let mut gone = TcpStream::connect(d.http).unwrap();
        gone.write_all(b"PUT /v1.0/metadata/x HTTP/1.1\r\ncontent-length: 100\r\n\r\nabc")
            .unwrap();
        drop(gone);
        still_serving(&d);
    }
}

#[test]
fn huge_headers_get_431() {
    for driver in DRIVERS {
        let d = InProc::start(&[], driver, None);
        let mut c = Conn::open(d.http);
        let big = "a".repeat(1024 * 1024);
        let req = format!("GET /v1.0/healthz HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n");
        // The server may answer and close before reading everything.
        let _ = c.stream().write_all(req.as_bytes());
        let r = c.try_read_response(false).expect("a 431 response");
        assert_eq!(r.status, 431);
        assert_eq!(r.json()["errorCode"], "ERR_HEADERS_TOO_LARGE");
        // Just over the default 4 KiB limit, in one small request.
        let mut c = Conn::open(d.http);
        let r = c.request("GET", "/v1.0/healthz", &[("x-pad", &"b".repeat(5000))], b"");
        assert_eq!(r.status, 431);
        still_serving(&d);
    }
}

#[test]
fn bodies_over_the_limit_get_413() {
    for driver in DRIVERS {
        let d = InProc::start(&["--max-body-size", "1Ki"], driver, None);
        let mut c = Conn::open(d.http);
        let r = c.request("PUT", "/v1.0/metadata/k", &[], &vec![b'x'; 2048]);
        assert_eq!(r.status, 413);
        assert_eq!(r.json()["errorCode"], "ERR_BODY_TOO_LARGE");
        // Chunked bodies are counted as they arrive.
        let mut c = Conn::open(d.http);
        let mut req =
            b"PUT /v1.0/metadata/k HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_vec();
        for _ in 0..3 {
            req.extend_from_slice(b"200\r\n");
            req.extend_from_slice(&[b'y'; 0x200]);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
        let _ = c.stream().write_all(&req);
        assert_eq!(c.try_read_response(false).expect("413").status, 413);
        // Exactly at the limit is fine.
        let r = request(d.http, "PUT", "/v1.0/metadata/k", &[], &vec![b'z'; 1024]);
        assert_eq!(r.status, 204);
        still_serving(&d);
    }
}

#[test]
fn thousands_of_dropped_connections() {
    for driver in DRIVERS {
        let d = InProc::start(&[], driver, None);
        for i in 0..2000 {
            let mut s = TcpStream::connect(d.http).unwrap();
            if i % 3 == 0 {
                let _ = s.write_all(b"GET /v1.0/heal");
            }
            drop(s);
        }
        still_serving(&d);
    }
}

#[test]
fn unknown_paths_fall_through_to_invocation() {
    let d = InProc::start(&[], DRIVERS[0], None);
    let r = get(d.http, "/orders");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    let r = request(
        d.http,
        "POST",
        "/orders",
        &[("dapr-app-id", "order-processor")],
        b"{}",
    );
    // Another app (no name resolution here): Go's invocation error.
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["errorCode"], "ERR_DIRECT_INVOKE");
    // A route whose building block is not built yet names the operation.
    let r = request(d.http, "POST", "/v1.0-alpha1/jobs/nightly", &[], b"{}");
    assert_eq!(r.status, 501);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("ScheduleJob"));
    // Paths are cleaned as Go does.
    assert_eq!(get(d.http, "//v1.0//healthz/").status, 204);
}
