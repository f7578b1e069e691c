//! The client against real HTTP servers on 127.0.0.1: retries, redirects, size caps,
//! conditional GETs, cancellation. (The SSRF resolver's tests are clair-layer's
//! `tests/fetch.rs`, where layer fetches use it.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clair_net::{Client, Error, Interrupt, Retry, Uninterrupted};
use clair_test::http::{Behavior, StalledServer, TestServer};

fn retrying(attempts: u32) -> Client {
    Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .total_timeout(Duration::from_secs(10))
        .retry(Retry {
            attempts,
            backoff: Duration::from_millis(10),
            ..Retry::default()
        })
        .build()
}

/// GET `url` as updaters do: 200 or an error, the body in memory.
fn get_ok(client: &Client, url: &str, limit: u64) -> Result<Vec<u8>, Error> {
    client.retry(url, &Uninterrupted, || {
        let r = client.get(url, &[])?;
        if r.status() != 200 {
            return Err(r.status_error());
        }
        r.read_to_vec(limit)
    })
}

fn header<'a>(req: &'a (String, Vec<(String, String)>), name: &str) -> Option<&'a str> {
    req.1
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn server_errors_are_retried_and_client_errors_are_not() {
    let srv = TestServer::start();
    srv.put("/feed", b"feed".to_vec());
    srv.set("/feed", Behavior::FailTimes(503, 2));
    let url = format!("{}/feed", srv.url());
    assert_eq!(get_ok(&retrying(3), &url, 100).unwrap(), b"feed");
    assert_eq!(srv.hits().len(), 3, "two 503s, then the body");

    srv.clear_hits();
    srv.set("/feed", Behavior::Status(404));
    let e = get_ok(&retrying(3), &url, 100).unwrap_err();
    assert!(matches!(e, Error::Status { status: 404, .. }), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(srv.hits().len(), 1, "a 404 is not tried again");

    srv.clear_hits();
    srv.set("/feed", Behavior::Status(500));
    let e = get_ok(&retrying(2), &url, 100).unwrap_err();
    assert_eq!(e.to_string(), format!("{url}: HTTP 500"));
    assert_eq!(srv.hits().len(), 2, "the tries run out");
}

#[test]
fn bodies_are_capped_and_a_broken_body_is_retried() {
    let srv = TestServer::start();
    srv.put("/big", vec![b'x'; 1000]);
    let url = format!("{}/big", srv.url());
    let e = get_ok(&retrying(3), &url, 999).unwrap_err();
    assert!(matches!(e, Error::TooLarge { limit: 999, .. }), "{e}");
    assert_eq!(srv.hits().len(), 1, "too large is final");
    assert_eq!(get_ok(&retrying(1), &url, 1000).unwrap().len(), 1000);

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("body");
    let mut seen = 0;
    let n = retrying(1)
        .get(&url, &[])
        .unwrap()
        .save(&dest, 1000, None, |b| seen += b.len())
        .unwrap();
    assert_eq!((n, seen), (1000, 1000));
    assert_eq!(std::fs::read(&dest).unwrap().len(), 1000);
    let e = retrying(1)
        .get(&url, &[])
        .unwrap()
        .save(&dest, 10, None, |_| {})
        .unwrap_err();
    assert!(matches!(e, Error::TooLarge { limit: 10, .. }), "{e}");

    srv.clear_hits();
    srv.set("/big", Behavior::Truncate(10));
    // The server may hold the connection open after the short body: the timeout ends it.
    let quick = Client::builder()
        .total_timeout(Duration::from_secs(1))
        .retry(Retry {
            attempts: 2,
            backoff: Duration::from_millis(10),
            ..Retry::default()
        })
        .build();
    let e = get_ok(&quick, &url, 1000).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("reading the body"), "{e}");
    assert_eq!(srv.hits().len(), 2);
}

#[test]
fn json_bodies_are_parsed_under_the_cap() {
    let srv = TestServer::start();
    srv.put("/key", br#"{"kty":"OKP"}"#.to_vec());
    srv.put("/bad", b"not json".to_vec());
    let c = retrying(1);
    let json = |path: &str, limit: u64| {
        c.get(&format!("{}{path}", srv.url()), &[])
            .unwrap()
            .json::<serde_json::Value>(limit)
    };
    assert_eq!(json("/key", 1024).unwrap()["kty"], "OKP");
    let e = json("/bad", 1024).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e}");
    let e = json("/key", 4).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
}

#[test]
fn authorization_stays_with_the_original_host() {
    let a = TestServer::start();
    let b = TestServer::start();
    b.put("/blob", b"blob".to_vec());
    a.put("/blob", b"blob".to_vec());
    a.set("/away", Behavior::Redirect(format!("{}/blob", b.url())));
    a.set("/here", Behavior::Redirect("/blob".into()));
    let auth = [("Authorization".to_string(), "Bearer secret".to_string())];
    let c = retrying(1);

    let r = c.get(&format!("{}/away", a.url()), &auth).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.url(), format!("{}/blob", b.url()));
    let seen = b.request_headers();
    assert_eq!(seen.len(), 1);
    assert_eq!(header(&seen[0], "authorization"), None, "{seen:?}");

    let r = c.get(&format!("{}/here", a.url()), &auth).unwrap();
    assert_eq!(r.status(), 200);
    let seen = a.request_headers();
    let last = seen.last().unwrap();
    assert_eq!(last.0, "/blob");
    assert_eq!(header(last, "authorization"), Some("Bearer secret"));
}

#[test]
fn redirect_loops_and_other_schemes_are_refused() {
    let srv = TestServer::start();
    srv.set("/loop", Behavior::Redirect("/loop".into()));
    let c = retrying(3);
    let url = format!("{}/loop", srv.url());
    let e = get_ok(&c, &url, 10).unwrap_err();
    assert!(matches!(e, Error::Refused { .. }), "{e}");
    assert_eq!(e.to_string(), format!("{url}: more than 10 redirects"));
    assert_eq!(srv.hits().len(), 11);

    let e = c.get("file:///etc/passwd", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "file:///etc/passwd: only http and https URLs are fetched"
    );
    let e = c.post("gopher://x/", &[], b"").unwrap_err();
    assert!(matches!(e, Error::Refused { .. }), "{e}");
}

#[test]
fn posts_are_sent_once_and_not_redirected() {
    let srv = TestServer::start();
    srv.set("/hook", Behavior::Redirect("/elsewhere".into()));
    let headers = [("Content-Type".to_string(), "application/json".to_string())];
    let r = retrying(3)
        .post(&format!("{}/hook", srv.url()), &headers, b"{}")
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(srv.hits(), vec![("/hook".to_string(), 302)]);
    assert_eq!(
        srv.request_bodies(),
        vec![("/hook".to_string(), b"{}".to_vec())]
    );
    let seen = srv.request_headers();
    assert_eq!(header(&seen[0], "content-type"), Some("application/json"));
}

#[test]
fn conditional_gets_send_the_validators_back() {
    let srv = TestServer::start();
    srv.put("/feed", b"feed".to_vec());
    let c = retrying(1);
    let url = format!("{}/feed", srv.url());
    let first = c.get(&url, &[]).unwrap();
    assert_eq!(first.status(), 200);
    let validators = first.conditional();
    assert!(validators.etag.is_some(), "{validators:?}");
    let again = c.get(&url, &validators.headers()).unwrap();
    assert_eq!(again.status(), 304);
}

#[test]
fn a_server_name_can_be_pinned_to_an_address() {
    let srv = TestServer::start();
    srv.put("/hook", b"ok".to_vec());
    let real = srv.url().trim_start_matches("http://");
    let port = real.rsplit(':').next().unwrap();
    let c = Client::builder()
        .connect_to("receiver.test", real)
        .connect_timeout(Duration::from_secs(2))
        .build();
    let r = c
        .get(&format!("http://receiver.test:{port}/hook"), &[])
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = srv.request_headers();
    assert_eq!(
        header(&seen[0], "host"),
        Some(format!("receiver.test:{port}").as_str())
    );
}

/// Fires once its flag is set.
struct Flag(AtomicBool);

impl Interrupt for Flag {
    fn reason(&self) -> Option<String> {
        self.0
            .load(Ordering::SeqCst)
            .then(|| "shutting down".into())
    }
}

#[test]
fn an_interrupt_ends_a_request_to_a_silent_server() {
    let silent = StalledServer::start();
    let url = format!("{}/feed", silent.url());
    let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
    let setter = flag.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        setter.0.store(true, Ordering::SeqCst);
    });
    let client = Client::builder().build();
    let start = Instant::now();
    let e = client
        .retry(&url, flag.as_ref(), || {
            let (c, u) = (client.clone(), url.clone());
            clair_net::interruptible(&url, flag.as_ref(), move |_| {
                c.get(&u, &[]).map(|r| r.status())
            })
        })
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(e.to_string(), format!("{url}: shutting down"));
    assert!(!e.is_retryable());
    t.join().unwrap();
}
