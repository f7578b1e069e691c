//! The server under load, over real HTTP on 127.0.0.1: the report cache (never a stale report
//! after a feed change or a re-index, 304 for a known ETag, gzip and zstd bodies that decode to
//! the same JSON), the one indexing limit under cancelled requests, and bounded metric labels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clair_http::FetchOptions;
use clair_store::{FeedError, OpKind, Store};
use clair_test::http::{Behavior, TestServer};
use clair_types::Vulnerability;
use common::*;
use serde_json::Value;

/// A response as sent: status, headers (lower-case names), raw body bytes.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body decoded according to `Content-Encoding`.
    fn decoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.header("content-encoding") {
            None => out.extend_from_slice(&self.body),
            Some("gzip") => {
                flate2::read::GzDecoder::new(&self.body[..])
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Some("zstd") => out = zstd::decode_all(&self.body[..]).unwrap(),
            Some(other) => panic!("unexpected content-encoding {other}"),
        }
        out
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.decoded()).unwrap()
    }
}

/// One HTTP/1.1 request on a fresh connection, headers exactly as given (no client-side
/// decompression, no implied `Accept-Encoding`).
fn raw(method: &str, base: &str, path: &str, headers: &[(&str, &str)]) -> Raw {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: all[split + 4..].to_vec(),
    }
}

fn feed(v: Vec<Vulnerability>) -> impl Iterator<Item = Result<Vulnerability, FeedError>> {
    v.into_iter().map(Ok)
}

/// Index bookworm-layered through the API and load the Debian data.
fn indexed(store: &Arc<dyn Store>, srv: &Server) -> String {
    let (hash, layers) = layered();
    let blobs = layer_server(&layers);
    let r = post_index(&srv.api, &manifest_json(&hash, &layers, blobs.url()));
    assert_eq!(r.status, 201, "{}", r.body);
    load_debian(store);
    srv.state.refresh().unwrap();
    hash
}

fn report_cache_is_never_stale(store: Arc<dyn Store>) {
    let srv = start(store.clone(), FetchOptions::default(), 0);
    let hash = indexed(&store, &srv);
    let path = format!("/matcher/api/v1/vulnerability_report/{hash}");

    // The same report in every encoding, with one ETag per encoding.
    let plain = raw("GET", &srv.api, &path, &[]);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    let etag = plain.header("etag").expect("an ETag").to_string();
    let json = plain.json();
    let vulns = json["vulnerabilities"].as_object().unwrap().len();
    assert!(vulns > 0, "bookworm-layered has vulnerabilities");
    let gz = raw(
        "GET",
        &srv.api,
        &path,
        &[("Accept-Encoding", "gzip, deflate")],
    );
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert!(gz.body.len() * 2 < plain.body.len(), "gzip compresses");
    assert_eq!(gz.decoded(), plain.body, "gzip decodes to the same JSON");
    let gz_etag = gz.header("etag").unwrap().to_string();
    assert_eq!(gz_etag, format!("{}-gzip\"", etag.trim_end_matches('"')));
    let zs = raw("GET", &srv.api, &path, &[("Accept-Encoding", "zstd")]);
    assert_eq!(zs.header("content-encoding"), Some("zstd"));
    assert_eq!(zs.decoded(), plain.body, "zstd decodes to the same JSON");
    let (hits, _) = srv.state.report_cache.stats();
    assert!(hits >= 2, "gzip and zstd came from the cache: {hits} hits");

    // 304 for any of its ETags, with the ETag and no body.
    for tag in [etag.as_str(), gz_etag.as_str(), "\"x\", W/\"y\""] {
        let r = raw(
            "GET",
            &srv.api,
            &path,
            &[("If-None-Match", tag), ("Accept-Encoding", "gzip")],
        );
        if tag.starts_with("\"x\"") {
            assert_eq!(r.status, 200, "unknown tags get the body");
            continue;
        }
        assert_eq!(r.status, 304, "If-None-Match: {tag}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(gz_etag.as_str()));
    }

    // The feed changes: one vulnerability of the report is withdrawn. Once the server has
    // refreshed its data, the report no longer has it and the old ETag is not modified-safe.
    let gone = json["vulnerabilities"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let op = store
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap()
        .remove(0);
    let kept: Vec<Vulnerability> = store
        .vulnerabilities(op.id)
        .unwrap()
        .into_iter()
        .filter(|v| v.name != gone)
        .collect();
    store
        .update_vulnerabilities("debian", "withdrawn", &mut feed(kept))
        .unwrap();
    assert!(
        srv.state.refresh().unwrap(),
        "the matcher index was rebuilt"
    );
    let r = raw("GET", &srv.api, &path, &[("If-None-Match", etag.as_str())]);
    assert_eq!(r.status, 200, "new data: a new report");
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    let names: Vec<String> = r.json()["vulnerabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names.contains(&gone),
        "{gone} was withdrawn but is still reported"
    );
    // The gzip body follows too (it was cached under the old data).
    let g = raw("GET", &srv.api, &path, &[("Accept-Encoding", "gzip")]);
    assert_eq!(g.decoded(), r.body);

    // The image is re-indexed (by any instance: straight into the store) without the
    // packages that had vulnerabilities: the next report says so at once.
    let digest = hash.parse().unwrap();
    let mut stored = store.get_index_report(&digest).unwrap().unwrap();
    let vulnerable: Vec<String> = r.json()["package_vulnerabilities"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(!vulnerable.is_empty());
    for id in &vulnerable {
        stored.report.packages.remove(id);
        stored.report.environments.remove(id);
    }
    std::thread::sleep(Duration::from_millis(2));
    store
        .put_index_report(&stored.report, &stored.layers, &stored.state)
        .unwrap();
    let after = raw("GET", &srv.api, &path, &[("Accept-Encoding", "gzip")]);
    assert_eq!(after.status, 200);
    assert_eq!(
        after.json()["vulnerabilities"].as_object().unwrap().len(),
        0,
        "a stale report was served after a re-index"
    );
    let ir = raw(
        "GET",
        &srv.api,
        &format!("/indexer/api/v1/index_report/{hash}"),
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(ir.status, 200);
    assert_eq!(
        ir.json()["packages"].as_object().unwrap().len(),
        stored.report.packages.len()
    );

    // Deleted: 404, not a cached report.
    let d = delete(&format!("{}/indexer/api/v1/index_report/{hash}", srv.api));
    assert_eq!(d.status, 204);
    assert_eq!(raw("GET", &srv.api, &path, &[]).status, 404);
    assert_eq!(
        raw(
            "GET",
            &srv.api,
            &format!("/indexer/api/v1/index_report/{hash}"),
            &[]
        )
        .status,
        404
    );
}

#[test]
fn v1_layer_reports_are_cached_and_follow_the_data() {
    let store = sqlite();
    // The layers are pushed by local path, as Clair v2 allowed (clair_rs.allow_local_layer_paths).
    let mut state = clair_http::AppState::new(store.clone(), FetchOptions::default()).unwrap();
    state.allow_local_layer_paths = true;
    let srv = common::start_state(state);
    let (_, layers) = layered();
    let oci = clair_test::images("oci");
    let mut parent = String::new();
    for (i, d) in layers.iter().enumerate() {
        let name = format!("layer-{i}");
        let body = serde_json::json!({"Layer": {
            "Name": name, "Path": oci.join("blobs/sha256").join(&d[7..]),
            "ParentName": parent, "Format": "Docker"}});
        let r = post_v1_layer(&srv.api, &body);
        assert_eq!(r.status, 201, "{}", r.body);
        parent = name;
    }
    load_debian(&store);
    srv.state.refresh().unwrap();
    let path = format!("/v1/layers/{parent}?vulnerabilities");
    let a = raw("GET", &srv.api, &path, &[("Accept-Encoding", "gzip")]);
    assert_eq!((a.status, a.header("server")), (200, Some("clair")));
    assert_eq!(a.header("content-encoding"), Some("gzip"));
    let etag = a.header("etag").unwrap().to_string();
    let plain = raw("GET", &srv.api, &path, &[]);
    assert_eq!(a.decoded(), plain.body);
    assert!(
        plain.body.ends_with(b"}\n"),
        "Clair v2 ends JSON with a newline"
    );
    let count = |r: &Raw| -> usize {
        r.json()["Layer"]["Features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["Vulnerabilities"].as_array().map_or(0, Vec::len))
            .sum()
    };
    let before = count(&plain);
    assert!(before > 0);
    let r = raw("GET", &srv.api, &path, &[("If-None-Match", etag.as_str())]);
    assert_eq!(r.status, 304);
    // New data: every record withdrawn.
    store
        .update_vulnerabilities("debian", "empty", &mut feed(Vec::new()))
        .unwrap();
    srv.state.refresh().unwrap();
    let r = raw("GET", &srv.api, &path, &[("If-None-Match", etag.as_str())]);
    assert_eq!(r.status, 200);
    assert_eq!(count(&r), 0, "a stale v1 report was served");
    // The features view is cached apart and has no vulnerabilities either way.
    let f = raw(
        "GET",
        &srv.api,
        &format!("/v1/layers/{parent}?features"),
        &[],
    );
    assert_eq!(f.status, 200);
    assert_eq!(count(&f), 0);
}

/// The indexing limit holds a slot until the indexing work ends, also when the request that
/// started it is gone (its deadline fired); a request dropped while queued leaves the queue;
/// beyond the queue: 429 (v4) or 503 (v1) with Retry-After.
#[test]
fn limiter_under_cancelled_requests() {
    let store = sqlite();
    let mut state = clair_http::AppState::new(store, FetchOptions::default())
        .unwrap()
        .with_index_concurrency(1);
    state.timeout = Duration::from_millis(400);
    let srv = start_state(state);
    let limit = srv.state.index_limit.clone();
    let (hash, layers) = layered();
    let slow = TestServer::start();
    for d in &layers {
        let p = format!("/blobs/{d}");
        slow.put(&p, blob(d));
        slow.set(&p, Behavior::Stall(Duration::from_secs(3)));
    }
    let manifest = |h: &str| {
        serde_json::json!({"hash": h, "layers": [{"hash": layers[0], "uri": format!("{}/blobs/{}", slow.url(), layers[0])}]})
            .to_string()
    };
    let post = |body: &str| post_index(&srv.api, body);
    // The first request's deadline fires while its layer download stalls: 503 to the client,
    // but the work, and its slot, go on.
    let started = Instant::now();
    let r = post(&manifest(&hash));
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(
        limit.running(),
        1,
        "the slot is held by the work, not the handler"
    );
    // A second request waits in the queue until its own deadline drops it: it leaves the queue.
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    let r = post(&manifest(other));
    assert_eq!(r.status, 503);
    assert_eq!(limit.waiting(), 0, "a dropped request left the queue");
    // Slot busy and queue full: refused at once.
    let queued = {
        let limit = limit.clone();
        srv.rt.spawn(async move { limit.acquire().await.map(drop) })
    };
    while limit.waiting() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = post(&manifest(other));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("10"));
    let v1 = post_v1_layer(
        &srv.api,
        &serde_json::json!({"Layer": {"Name": "x", "Path": "/nonexistent", "Format": "Docker"}}),
    );
    assert_eq!(v1.status, 503, "{}", v1.body);
    assert_eq!(v1.header("retry-after"), Some("10"));
    assert!(
        v1.body.contains("too many indexing requests"),
        "{}",
        v1.body
    );
    // When the stalled download ends, the work finishes and frees its slot.
    srv.rt.block_on(queued).unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the slot was freed before the work ended"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while limit.running() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(limit.running(), 0);
    let m = call("GET", &format!("{}/metrics", srv.intro), &[], None);
    assert!(m.body.contains("clair_index_limited_total 2"), "{}", m.body);
}

/// Metric labels come from a fixed set: odd methods are `other`, unknown paths `unmatched`.
#[test]
fn metric_labels_are_bounded() {
    let srv = start(sqlite(), FetchOptions::default(), 0);
    for (i, method) in ["FOO", "BAR", "GET", "PROPFIND"].iter().enumerate() {
        let r = raw(method, &srv.api, &format!("/probe/{i}/sha256:{i}"), &[]);
        assert!(r.status >= 400, "{method}: {}", r.status);
    }
    raw("BREW", &srv.api, "/indexer/api/v1/index_state", &[]);
    let m = call("GET", &format!("{}/metrics", srv.intro), &[], None).body;
    let series: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("clair_http_requests_total{"))
        .collect();
    for l in &series {
        assert!(
            !l.contains("FOO")
                && !l.contains("PROPFIND")
                && !l.contains("BREW")
                && !l.contains("/probe/"),
            "{l}"
        );
    }
    assert!(
        series
            .iter()
            .any(|l| l.contains("method=\"other\",route=\"unmatched\"")),
        "{series:?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains("method=\"other\",route=\"/indexer/api/v1/index_state\"")),
        "{series:?}"
    );
}

clair_test::on_both_databases! {
    sqlite: sqlite(), postgres: postgres();
    report_cache_is_never_stale => report_cache_sqlite, report_cache_postgres;
}
