//! A real HTTP server on 127.0.0.1 for tests: serves files by path, honours conditional GETs,
//! and can be told to fail (status codes, truncated bodies, stalls).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server answers a path.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// 200 with the body, `ETag` and `Last-Modified`; 304 when `If-None-Match` matches.
    Serve,
    /// This status and an empty body.
    Status(u16),
    /// Announce the full length, send only this many bytes, then close.
    Truncate(usize),
    /// Wait this long before answering.
    Stall(Duration),
    /// 302 to this location (absolute or relative).
    Redirect(String),
    /// Serve only to requests with this header and value; 401 otherwise.
    RequireHeader(String, String),
    /// Answer this status the first N times, then serve.
    FailTimes(u16, usize),
}

#[derive(Debug, Clone)]
struct Entry {
    body: Arc<Vec<u8>>,
    etag: String,
    behavior: Behavior,
}

/// A request seen: its path and headers.
pub type Request = (String, Vec<(String, String)>);

/// Request bodies seen, with their paths.
type Bodies = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A test HTTP server; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: String,
    files: Arc<Mutex<HashMap<String, Entry>>>,
    hits: Arc<Mutex<Vec<(String, u16)>>>,
    headers: Arc<Mutex<Vec<Request>>>,
    bodies: Bodies,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

static ETAG: AtomicUsize = AtomicUsize::new(1);

/// A tiny_http server on a free loopback port and its `http://127.0.0.1:PORT` URL.
pub(crate) fn bind_loopback() -> (Arc<tiny_http::Server>, String) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
    let addr = format!(
        "http://{}",
        server.server_addr().to_ip().expect("ip address")
    );
    (server, addr)
}

impl TestServer {
    /// Start on a free loopback port.
    pub fn start() -> TestServer {
        let (server, addr) = bind_loopback();
        let files: Arc<Mutex<HashMap<String, Entry>>> = Arc::default();
        let hits: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
        let headers: Arc<Mutex<Vec<Request>>> = Arc::default();
        let bodies: Bodies = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (files, hits, stop) = (files.clone(), hits.clone(), stop.clone());
            let bodies = bodies.clone();
            let seen = headers.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(50)) else {
                        continue;
                    };
                    let files = files.clone();
                    let hits = hits.clone();
                    let path = req.url().split('?').next().unwrap_or("").to_string();
                    let hs = req
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.as_str().as_str().to_string(),
                                h.value.as_str().to_string(),
                            )
                        })
                        .collect();
                    seen.lock().unwrap().push((path, hs));
                    let bodies = bodies.clone();
                    std::thread::spawn(move || answer(req, &files, &hits, &bodies));
                }
            })
        };
        TestServer {
            addr,
            files,
            hits,
            headers,
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.addr
    }

    /// Serve `body` at `path` (a new ETag each time it is set).
    pub fn put(&self, path: &str, body: impl Into<Vec<u8>>) {
        let etag = format!("\"v{}\"", ETAG.fetch_add(1, Ordering::SeqCst));
        self.files.lock().unwrap().insert(
            path.to_string(),
            Entry {
                body: Arc::new(body.into()),
                etag,
                behavior: Behavior::Serve,
            },
        );
    }

    /// Change how `path` is answered (it keeps its body).
    pub fn set(&self, path: &str, behavior: Behavior) {
        let mut f = self.files.lock().unwrap();
        let e = f.entry(path.to_string()).or_insert_with(|| Entry {
            body: Arc::new(Vec::new()),
            etag: "\"none\"".into(),
            behavior: Behavior::Serve,
        });
        e.behavior = behavior;
    }

    /// Requests so far: (path, status answered).
    pub fn hits(&self) -> Vec<(String, u16)> {
        self.hits.lock().unwrap().clone()
    }

    /// Headers of every request so far, with its path.
    pub fn request_headers(&self) -> Vec<Request> {
        self.headers.lock().unwrap().clone()
    }

    /// The body of every request so far (at most 1 MiB each, read before answering), with its
    /// path.
    pub fn request_bodies(&self) -> Vec<(String, Vec<u8>)> {
        self.bodies.lock().unwrap().clone()
    }

    /// Forget the recorded requests.
    pub fn clear_hits(&self) {
        self.hits.lock().unwrap().clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers (a hung upstream):
/// connections are held open until the server is dropped.
#[derive(Debug)]
pub struct StalledServer {
    addr: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StalledServer {
    /// Start on a free loopback port.
    pub fn start() -> StalledServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = format!("http://{}", listener.local_addr().expect("local address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            held.push(conn);
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        StalledServer {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for StalledServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(
    mut req: tiny_http::Request,
    files: &Mutex<HashMap<String, Entry>>,
    hits: &Mutex<Vec<(String, u16)>>,
    bodies: &Mutex<Vec<(String, Vec<u8>)>>,
) {
    let path = req.url().split('?').next().unwrap_or("").to_string();
    let mut body = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut std::io::Read::take(req.as_reader(), 1 << 20),
        &mut body,
    );
    bodies.lock().unwrap().push((path.clone(), body));
    let entry = files.lock().unwrap().get(&path).cloned();
    let record = |status: u16| hits.lock().unwrap().push((path.clone(), status));
    let Some(e) = entry else {
        record(404);
        let _ = req.respond(tiny_http::Response::empty(404));
        return;
    };
    match e.behavior {
        Behavior::Redirect(to) => {
            record(302);
            let loc = tiny_http::Header::from_bytes("Location", to.as_bytes()).unwrap();
            let _ = req.respond(tiny_http::Response::empty(302).with_header(loc));
        }
        Behavior::RequireHeader(name, value) => {
            let ok = req.headers().iter().any(|h| {
                h.field.as_str().as_str().eq_ignore_ascii_case(&name) && h.value.as_str() == value
            });
            let code = if ok { 200 } else { 401 };
            record(code);
            if ok {
                let _ = req.respond(tiny_http::Response::from_data(e.body.to_vec()));
            } else {
                let _ = req.respond(tiny_http::Response::empty(401));
            }
        }
        Behavior::FailTimes(code, n) => {
            let failed = hits
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, c)| *p == path && *c == code)
                .count();
            if failed < n {
                record(code);
                let _ = req.respond(tiny_http::Response::empty(code));
            } else {
                record(200);
                let _ = req.respond(tiny_http::Response::from_data(e.body.to_vec()));
            }
        }
        Behavior::Status(code) => {
            record(code);
            let _ = req.respond(tiny_http::Response::empty(code));
        }
        Behavior::Stall(d) => {
            std::thread::sleep(d);
            record(200);
            let _ = req.respond(tiny_http::Response::from_data(e.body.to_vec()));
        }
        Behavior::Truncate(n) => {
            record(200);
            // Claim the full length, send part, hang up.
            let mut w = req.into_writer();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                e.body.len()
            );
            let _ = w.write_all(head.as_bytes());
            let _ = w.write_all(&e.body[..n.min(e.body.len())]);
            let _ = w.flush();
        }
        Behavior::Serve => {
            let inm = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("If-None-Match"))
                .map(|h| h.value.as_str().to_string());
            if inm.as_deref() == Some(e.etag.as_str()) {
                record(304);
                let _ = req.respond(tiny_http::Response::empty(304));
                return;
            }
            record(200);
            let etag = tiny_http::Header::from_bytes("ETag", e.etag.as_bytes()).unwrap();
            let lm =
                tiny_http::Header::from_bytes("Last-Modified", "Mon, 23 Nov 2026 00:00:00 GMT")
                    .unwrap();
            let _ = req.respond(
                tiny_http::Response::from_data(e.body.to_vec())
                    .with_header(etag)
                    .with_header(lm),
            );
        }
    }
}

use std::io::Write as _;

/// A ureq response as a test reads it: status, headers (name, value) and body as text (empty
/// when unreadable).
pub fn read_response(r: ureq::http::Response<ureq::Body>) -> (u16, Vec<(String, String)>, String) {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r.into_body().read_to_string().unwrap_or_default();
    (status, headers, body)
}
