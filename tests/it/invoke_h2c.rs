//! Invocation of an app that speaks cleartext HTTP/2 (`--app-protocol h2c`):
//! method, path, query, headers and bodies both ways, large bodies streamed.

use bytes::Bytes;

use crate::harness::*;

/// An h2c app: `/big/{n}` answers `n` bytes; anything else echoes
/// `METHOD path?query len=<body length> x-custom=<header>`.
pub(crate) fn h2c_app() -> u16 {
    app_server(|port| async move {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        loop {
            let (tcp, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut conn = h2::server::handshake(tcp).await.unwrap();
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    tokio::spawn(async move {
                        let (parts, mut body) = req.into_parts();
                        let mut len = 0usize;
                        while let Some(Ok(chunk)) = body.data().await {
                            len += chunk.len();
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        let path = parts.uri.path_and_query().unwrap().as_str().to_owned();
                        let out: Bytes = match path.strip_prefix("/big/") {
                            Some(n) => vec![b'b'; n.parse().unwrap()].into(),
                            None => format!(
                                "{} {path} len={len} x-custom={}",
                                parts.method,
                                parts
                                    .headers
                                    .get("x-custom")
                                    .map_or("", |v| v.to_str().unwrap())
                            )
                            .into(),
                        };
                        let resp = http::Response::builder()
                            .status(if path.contains("teapot") { 418 } else { 200 })
                            .header("content-type", "text/plain")
                            .header("content-length", out.len())
                            .body(())
                            .unwrap();
                        let mut send = respond.send_response(resp, false).unwrap();
                        let mut out = out;
                        while !out.is_empty() {
                            send.reserve_capacity(out.len());
                            match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                                Some(Ok(n)) if n > 0 => {
                                    let part = out.split_to(n.min(out.len()));
                                    send.send_data(part, false).unwrap();
                                }
                                Some(Ok(_)) => {}
                                _ => return,
                            }
                        }
                        let _ = send.send_data(Bytes::new(), true);
                    });
                }
            });
        }
    })
}

#[test]
fn h2c_app_is_invoked_over_http2() {
    let d = InProc::for_app("h2app", h2c_app(), "h2c", &[]);
    wait_status(d.http, "/v1.0/healthz", 204);
    let r = request(
        d.http,
        "POST",
        "/v1.0/invoke/h2app/method/orders?x=1",
        &[("x-custom", "kept")],
        b"12345",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "POST /orders?x=1 len=5 x-custom=kept");
    let r = request(d.http, "GET", "/v1.0/invoke/h2app/method/teapot", &[], b"");
    assert_eq!(r.status, 418);
    // 3 MiB back (streamed), 3 MiB up.
    let r = request(
        d.http,
        "GET",
        "/v1.0/invoke/h2app/method/big/3145728",
        &[],
        b"",
    );
    assert_eq!((r.status, r.body.len()), (200, 3 << 20));
    let big = vec![b'u'; 3 << 20];
    let r = request(d.http, "PUT", "/v1.0/invoke/h2app/method/up", &[], &big);
    assert_eq!(r.text(), format!("PUT /up len={} x-custom=", 3 << 20));
}
