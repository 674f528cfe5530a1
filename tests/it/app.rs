//! A test app on loopback: the HTTP server daprd invokes. One thread per
//! connection, keep-alive, content-length and chunked request bodies.
//!
//! Routes: `/echo` (method, target and headers as `name: value` lines,
//! then the body), `/status/{n}`, `/slow`, `/drop` (closes without an
//! answer), `/sink` (reads any body without keeping it; answers its length
//! and byte sum), `/source/{n}` (answers `n` bytes, chunked).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A request the app received, for custom handlers.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Answers a request itself (`Some((status, content type, body))`) or leaves
/// it to the built-in routes (`None`).
pub type Handler = Arc<dyn Fn(&Seen) -> Option<(u16, String, Vec<u8>)> + Send + Sync>;

pub struct TestApp {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    pub fn start() -> TestApp {
        Self::start_on(0)
    }

    /// Starts on `port` (0: any).
    pub fn start_on(port: u16) -> TestApp {
        Self::start_with(port, None)
    }

    /// Starts on `port` (0: any) with a custom handler tried first.
    pub fn start_with(port: u16, handler: Option<Handler>) -> TestApp {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let conns: Arc<std::sync::Mutex<Vec<TcpStream>>> = Default::default();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        let _ = c.set_nodelay(true);
                        conns.lock().unwrap().push(c.try_clone().unwrap());
                        let h = handler.clone();
                        std::thread::spawn(move || serve(c, h));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            // Stopping kills live connections too, like a crashing app.
            for c in conns.lock().unwrap().iter() {
                let _ = c.shutdown(Shutdown::Both);
            }
        });
        TestApp {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(c: TcpStream, handler: Option<Handler>) {
    let mut r = BufReader::with_capacity(64 * 1024, c.try_clone().unwrap());
    let mut w = c;
    loop {
        let Some(crate::harness::RequestHead {
            method,
            target,
            headers,
        }) = crate::harness::read_request_head(&mut r)
        else {
            return;
        };
        let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let path = target.split('?').next().unwrap_or("").to_owned();
        let sink = path == "/sink";
        let (mut len, mut sum, mut body) = (0u64, 0u64, Vec::new());
        let mut take = |chunk: &[u8]| {
            len += chunk.len() as u64;
            sum = chunk.iter().fold(sum, |a, &b| a.wrapping_add(b as u64));
            if !sink {
                body.extend_from_slice(chunk);
            }
        };
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0; n];
                r.read_exact(&mut chunk).unwrap();
                let mut crlf = [0; 2];
                r.read_exact(&mut crlf).unwrap();
                if n == 0 {
                    break;
                }
                take(&chunk);
            }
        } else if let Some(n) = header("content-length").and_then(|v| v.parse::<u64>().ok()) {
            let mut left = n;
            let mut chunk = vec![0; 64 * 1024];
            while left > 0 {
                let k = r.read(&mut chunk[..left.min(64 * 1024) as usize]).unwrap();
                assert!(k > 0, "client closed mid-body");
                take(&chunk[..k]);
                left -= k as u64;
            }
        }
        let custom = handler.as_ref().and_then(|h| {
            h(&Seen {
                method: method.clone(),
                path: path.clone(),
                headers: headers.clone(),
                body: body.clone(),
            })
        });
        let ok = match path.as_str() {
            _ if custom.is_some() => {
                let (code, ct, b) = custom.unwrap_or_default();
                respond(&mut w, &method, code, &ct, &b)
            }
            "/drop" => {
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            "/slow" => {
                std::thread::sleep(Duration::from_millis(300));
                respond(&mut w, &method, 200, "text/plain", b"slow")
            }
            "/sink" => respond(
                &mut w,
                &method,
                200,
                "text/plain",
                format!("{len} {sum}").as_bytes(),
            ),
            p if p.starts_with("/status/") => {
                let code: u16 = p[8..].parse().unwrap();
                respond(&mut w, &method, code, "text/plain", b"oops")
            }
            p if p.starts_with("/source/") => {
                let n: u64 = p[8..].parse().unwrap();
                source(&mut w, n)
            }
            _ => {
                let mut out = format!("{method} {target}\n");
                for (k, v) in &headers {
                    out.push_str(&format!("{k}: {v}\n"));
                }
                out.push('\n');
                let mut b = out.into_bytes();
                b.extend_from_slice(&body);
                let ct = header("content-type").unwrap_or_else(|| "text/plain".into());
                respond(&mut w, &method, 200, &ct, &b)
            }
        };
        if ok.is_err() {
            return;
        }
    }
}

/// Head and body in one write (two small writes would meet Nagle and the
/// peer's delayed ACK: 40 ms per response). As HTTP/1.1 requires, a 204 or
/// 304 carries no body (and a 204 no length), nor does the answer to HEAD.
fn respond(
    w: &mut TcpStream,
    method: &str,
    code: u16,
    ct: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {code} X\r\ncontent-type: {ct}\r\nx-app: yes\r\n");
    if code != 204 && code != 304 {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if code != 204 && code != 304 && method != "HEAD" {
        out.extend_from_slice(body);
    }
    w.write_all(&out)
}

/// `n` bytes (`i % 251`), chunked.
fn source(w: &mut TcpStream, n: u64) -> std::io::Result<()> {
    write!(w, "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n")?;
    let mut i = 0u64;
    let mut chunk = Vec::with_capacity(64 * 1024);
    while i < n {
        chunk.clear();
        while i < n && chunk.len() < 64 * 1024 {
            chunk.push((i % 251) as u8);
            i += 1;
        }
        write!(w, "{:x}\r\n", chunk.len())?;
        w.write_all(&chunk)?;
        w.write_all(b"\r\n")?;
    }
    w.write_all(b"0\r\n\r\n")
}
