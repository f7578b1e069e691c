//! The Clair v4 API over real HTTP on 127.0.0.1, on SQLite and PostgreSQL: a Quay-style flow
//! (index state, index with layer URLs and auth headers, ETags, vulnerability report) against
//! the real bookworm-layered image served by a real HTTP server, and every error path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use clair_http::FetchOptions;
use clair_store::Store;
use clair_test::http::{Behavior, TestServer};
use common::*;
use serde_json::Value;

fn quay_flow(store: Arc<dyn Store>) {
    let fetch = FetchOptions {
        backoff: Duration::from_millis(10),
        ..FetchOptions::default()
    };
    let srv = start(store.clone(), fetch, 2);
    let (hash, layers) = layered();
    let blobs = layer_server(&layers);

    // No updater runs in this instance and nothing was imported: ready once listening, as
    // upstream (this used to stay 503 forever).
    assert_eq!(
        call("GET", &format!("{}/readyz", srv.intro), &[], None).status,
        200
    );
    let h = call("GET", &format!("{}/health", srv.health), &[], None);
    assert_eq!((h.status, h.header("server")), (200, Some("clair")));
    assert!(h.body.is_empty());

    // Index state with its ETag, and 304 for a client that has it.
    let st = get(&format!("{}/indexer/api/v1/index_state", srv.api));
    assert_eq!(st.status, 200);
    let state = st.json()["state"].as_str().unwrap().to_string();
    assert_eq!(st.header("etag"), Some(format!("\"{state}\"").as_str()));
    let inm = format!("\"{state}\"");
    let st = call(
        "GET",
        &format!("{}/indexer/api/v1/index_state", srv.api),
        &[("If-None-Match", &inm)],
        None,
    );
    assert_eq!(st.status, 304);

    // Index: 201, ETag, Location, two Links; every layer fetched once with its header.
    let body = manifest_json(&hash, &layers, blobs.url());
    let r = post(&format!("{}/indexer/api/v1/index_report", srv.api), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("etag"), Some(inm.as_str()));
    assert_eq!(
        r.header("location"),
        Some(format!("/indexer/api/v1/index_report/{hash}").as_str())
    );
    assert_eq!(r.all("link").len(), 2, "{:?}", r.headers);
    let report = r.json();
    assert_eq!(report["state"], "IndexFinished", "{}", r.body);
    assert_eq!(report["success"], true);
    assert_eq!(report["err"], "");
    assert_eq!(report["manifest_hash"], hash.as_str());
    assert_eq!(report["packages"].as_object().unwrap().len(), 105);
    let fetched: Vec<_> = blobs
        .hits()
        .into_iter()
        .filter(|(_, c)| *c == 200)
        .collect();
    assert_eq!(fetched.len(), 4, "{fetched:?}");

    // The same manifest again with the state: 412, nothing fetched.
    blobs.clear_hits();
    let r = call(
        "POST",
        &format!("{}/indexer/api/v1/index_report", srv.api),
        &[("If-None-Match", &inm)],
        Some(&body),
    );
    assert_eq!(r.status, 412, "{}", r.body);
    // Without it: answered again, from the stored layers (no download).
    let r = post(&format!("{}/indexer/api/v1/index_report", srv.api), &body);
    assert_eq!(r.status, 201);
    assert!(blobs.hits().is_empty(), "{:?}", blobs.hits());

    // GET the report; 304 with its ETag; a vendor media type; 415 for anything else.
    let url = format!("{}/indexer/api/v1/index_report/{hash}", srv.api);
    let g = call("GET", &url, &[], None);
    assert_eq!(g.status, 200);
    assert_eq!(g.json()["packages"], report["packages"]);
    assert_eq!(
        call("GET", &url, &[("If-None-Match", &inm)], None).status,
        304
    );
    let g = call(
        "GET",
        &url,
        &[("Accept", "application/vnd.clair.index_report.v1+json")],
        None,
    );
    assert_eq!(
        g.header("content-type"),
        Some("application/vnd.clair.index_report.v1+json")
    );
    // Without Accept (or with */*): the vendor media type, as upstream; JSON when asked.
    for accept in [None, Some("*/*"), Some("application/*;q=0.5, text/html")] {
        let h: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept", *a)).collect();
        let g = call("GET", &url, &h, None);
        assert_eq!(
            g.header("content-type"),
            Some("application/vnd.clair.index_report.v1+json"),
            "{accept:?}"
        );
    }
    let g = call(
        "GET",
        &url,
        &[("Accept", "text/html, application/json;q=0.9")],
        None,
    );
    assert_eq!(g.header("content-type"), Some("application/json"));
    let g = get(&format!("{}/indexer/api/v1/index_state", srv.api));
    assert_eq!(
        g.header("content-type"),
        Some("application/vnd.clair.index_state.v1+json")
    );
    assert_eq!(
        call("GET", &url, &[("Accept", "nonsense")], None).status,
        400
    );
    // A report made under other scanners (an older indexer state): GET's ETag and
    // If-None-Match are the current state, so a client holding the old ETag (clairctl keeps
    // the POST's) gets 200 and knows to index again, not 304.
    let stale = format!("sha256:{}", "5".repeat(64));
    let mut old = report.clone();
    old["manifest_hash"] = stale.clone().into();
    store
        .put_index_report(
            &serde_json::from_value(old).unwrap(),
            &[layers[0].parse().unwrap()],
            "an-older-state",
        )
        .unwrap();
    let stale_url = format!("{}/indexer/api/v1/index_report/{stale}", srv.api);
    let g = call(
        "GET",
        &stale_url,
        &[("If-None-Match", "\"an-older-state\"")],
        None,
    );
    assert_eq!(g.status, 200);
    assert_eq!(g.header("etag"), Some(inm.as_str()));
    assert_eq!(
        call("GET", &stale_url, &[("If-None-Match", &inm)], None).status,
        304
    );
    let g = call("GET", &url, &[("Accept", "text/html")], None);
    assert_eq!(g.status, 415);
    // Upstream's apiError names only 400, 404, 405 and 429.
    assert_eq!(g.json()["code"], "internal-error");

    // No vulnerability data at all yet: 202 with an empty body (upstream's "matcher not
    // initialized"), not a report claiming the image is clean.
    let vr = get(&format!(
        "{}/matcher/api/v1/vulnerability_report/{hash}",
        srv.api
    ));
    assert_eq!((vr.status, vr.body.as_str()), (202, ""));

    // Vulnerability report after the Debian data lands and the matcher index is rebuilt.
    load_debian(&store);
    assert!(srv.state.refresh().unwrap());
    assert_eq!(
        call("GET", &format!("{}/readyz", srv.intro), &[], None).status,
        200
    );
    let vr = get(&format!(
        "{}/matcher/api/v1/vulnerability_report/{hash}",
        srv.api
    ));
    assert_eq!(vr.status, 200, "{}", vr.body);
    // matcher.cache_age, by default the updater period (6h).
    assert_eq!(vr.header("cache-control"), Some("max-age=21600"));
    let vr = vr.json();
    let names: std::collections::BTreeSet<&str> =
        clair_test::fields(&vr["vulnerabilities"], "name").collect();
    assert!(names.contains("CVE-2099-0001"), "{names:?}");
    assert!(!names.contains("CVE-2099-0002"), "fixed earlier: {names:?}");
    for v in vr["vulnerabilities"].as_object().unwrap().values() {
        for k in [
            "id",
            "updater",
            "name",
            "description",
            "links",
            "severity",
            "normalized_severity",
            "fixed_in_version",
        ] {
            assert!(v.get(k).is_some(), "vulnerability lacks {k}: {v}");
        }
    }
    assert!(
        !vr["package_vulnerabilities"]
            .as_object()
            .unwrap()
            .is_empty()
    );

    // Metrics count requests per route pattern, not per digest.
    let m = call("GET", &format!("{}/metrics", srv.intro), &[], None);
    assert_eq!(m.status, 200);
    assert!(
        m.body.contains(
            "clair_http_requests_total{method=\"POST\",route=\"/indexer/api/v1/index_report\",status=\"201\"} 2"
        ),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("route=\"/indexer/api/v1/index_report/{digest}\"")
    );
    assert!(m.body.contains("clair_index_reports_total 2"));
    assert!(m.body.contains("clair_layers_cached_total 4"));
    assert!(
        m.body
            .contains("clair_updater_success{updater=\"debian\"} 1")
    );
    if store.pool_stats().is_some() {
        assert!(
            m.body.contains("clair_db_pool_connections{state=\"idle\"}"),
            "{}",
            m.body
        );
    }
    // Every metric the Grafana dashboard charts exists.
    let dash = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/grafana-dashboard.json"),
    )
    .unwrap();
    let mut charted = std::collections::BTreeSet::new();
    for (i, _) in dash.match_indices("clair_") {
        let name: String = dash[i..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        charted.insert(name);
    }
    charted.remove("clair_");
    assert!(charted.len() >= 8, "{charted:?}");
    for name in &charted {
        assert!(
            m.body.contains(&format!("\n{name}")),
            "dashboard charts {name}, not exported"
        );
    }

    // Delete one (204), then it is gone; bulk delete answers the digests deleted.
    assert_eq!(call("DELETE", &url, &[], None).status, 204);
    assert_eq!(call("GET", &url, &[], None).status, 404);
    let r = post(&format!("{}/indexer/api/v1/index_report", srv.api), &body);
    assert_eq!(r.status, 201);
    let d = call(
        "DELETE",
        &format!("{}/indexer/api/v1/index_report", srv.api),
        &[],
        Some(&format!("[\"{hash}\", \"sha256:{}\"]", "0".repeat(64))),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.json(), serde_json::json!([hash]));
    let vr = get(&format!(
        "{}/matcher/api/v1/vulnerability_report/{hash}",
        srv.api
    ));
    assert_eq!(vr.status, 404);
}

fn errors(store: Arc<dyn Store>) {
    let fetch = FetchOptions {
        backoff: Duration::from_millis(10),
        ..FetchOptions::default()
    };
    let srv = start(store, fetch, 1);
    let (hash, layers) = layered();
    let post = |body: &str| post(&format!("{}/indexer/api/v1/index_report", srv.api), body);
    // Bad requests: 400 with Clair's error body.
    for (body, want) in [
        ("{", "could not decode"),
        ("{}", "bogus manifest"),
        (
            &format!("{{\"hash\":\"{hash}\",\"layers\":[]}}"),
            "bogus manifest",
        ),
        (
            "{\"hash\":\"sha256:abc\",\"layers\":[]}",
            "malformed digest",
        ),
        (
            &format!(
                "{{\"hash\":\"{hash}\",\"layers\":[{{\"hash\":\"{}\"}}]}}",
                layers[0]
            ),
            "no uri",
        ),
    ] {
        let r = post(body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["code"], "bad-request");
        assert!(
            r.json()["message"].as_str().unwrap().contains(want),
            "{}",
            r.body
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    let r = get(&format!(
        "{}/indexer/api/v1/index_report/sha256:nothex",
        srv.api
    ));
    assert_eq!(r.status, 400);
    let r = call(
        "GET",
        &format!(
            "{}/indexer/api/v1/index_report/sha256:{}",
            srv.api,
            "0".repeat(64)
        ),
        &[],
        None,
    );
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (404, Some("not-found"))
    );
    let r = get(&format!("{}/indexer/api/v1/index_report", srv.api));
    assert_eq!(r.status, 405);
    assert_eq!(
        call("GET", &format!("{}/nope", srv.api), &[], None).status,
        404
    );

    // A tampered blob: the request fails as upstream's does (500, "failed to start scan"), and
    // the manifest's IndexError report naming the layer and the digest found is stored.
    let blobs = TestServer::start();
    let one = &layers[..1];
    blobs.put(&format!("/blobs/{}", one[0]), b"not the layer".to_vec());
    let r = post(&manifest_json(&hash, one, blobs.url()));
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.json()["code"], "internal-error");
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.starts_with("failed to start scan: ")
            && msg.contains(&one[0])
            && msg.contains("downloaded content has digest"),
        "{msg}"
    );
    assert!(r.header("etag").is_none() && r.all("link").is_empty());
    let g = get(&format!("{}/indexer/api/v1/index_report/{hash}", srv.api));
    assert_eq!(g.status, 200, "{}", g.body);
    let rep = g.json();
    assert_eq!(rep["state"], "IndexError");
    assert_eq!(rep["success"], false);
    assert!(msg.ends_with(rep["err"].as_str().unwrap()), "{}", g.body);
    // No vulnerability report for it (404, not a clean report).
    load_debian(&srv.state.store);
    srv.state.refresh().unwrap();
    let v = get(&format!(
        "{}/matcher/api/v1/vulnerability_report/{hash}",
        srv.api
    ));
    assert_eq!(
        (v.status, v.json()["code"].as_str()),
        (404, Some("not-found"))
    );

    // A blob that is no tar archive: 400, as upstream answers claircore's format error.
    let junk = b"\x1f\x8b but not gzip at all".to_vec();
    let junk_digest = clair_types::Digest::sha256_of(&junk).to_string();
    blobs.put(&format!("/blobs/{junk_digest}"), junk);
    let m4 = format!("sha256:{}", "4".repeat(64));
    let r = post(&manifest_json(&m4, &[junk_digest], blobs.url()));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("failed to start scan: not a layer: "),
        "{}",
        r.body
    );

    // A layer server failing twice then answering: retried, indexed (the stored error report
    // does not stop the manifest from being indexed again).
    blobs.put(&format!("/blobs/{}", one[0]), blob(&one[0]));
    blobs.set(&format!("/blobs/{}", one[0]), Behavior::FailTimes(503, 2));
    let r = post(&manifest_json(&hash, one, blobs.url()));
    assert_eq!(r.json()["state"], "IndexFinished", "{}", r.body);
    assert_eq!(
        blobs.hits().iter().filter(|(_, c)| *c == 503).count(),
        2,
        "{:?}",
        blobs.hits()
    );

    // Redirects are followed; Authorization is not sent to another host. The target
    // requires the header, so the cross-host hop fails with 401 while a same-host one works.
    let other = TestServer::start();
    let d = &layers[1];
    other.put(&format!("/b/{d}"), blob(d));
    other.set(
        &format!("/b/{d}"),
        Behavior::RequireHeader("Authorization".into(), "Bearer t0ken".into()),
    );
    blobs.set(
        &format!("/blobs/{d}"),
        Behavior::Redirect(format!(
            "{}/b/{d}",
            other.url().replace("127.0.0.1", "localhost")
        )),
    );
    let two = vec![d.clone()];
    let m2 = format!("sha256:{}", "2".repeat(64));
    let r = post(&manifest_json(&m2, &two, blobs.url()));
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.json()["message"].as_str().unwrap().contains("HTTP 401"),
        "{}",
        r.body
    );
    blobs.put(&format!("/same/{d}"), blob(d));
    blobs.set(
        &format!("/same/{d}"),
        Behavior::RequireHeader("Authorization".into(), "Bearer t0ken".into()),
    );
    blobs.set(
        &format!("/blobs/{d}"),
        Behavior::Redirect(format!("/same/{d}")),
    );
    let r = post(&manifest_json(&m2, &two, blobs.url()));
    assert_eq!(r.json()["state"], "IndexFinished", "{}", r.body);

    // Cloud metadata and link-local addresses are refused before connecting.
    let m3 = format!("sha256:{}", "3".repeat(64));
    let body = serde_json::json!({"hash": m3, "layers": [{"hash": layers[2], "uri": "http://169.254.169.254/latest/meta-data"}]});
    let r = post(&body.to_string());
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.json()["message"].as_str().unwrap().contains("link-local"),
        "{}",
        r.body
    );
    let body = serde_json::json!({"hash": m3, "layers": [{"hash": layers[2], "uri": "file:///etc/passwd"}]});
    assert!(
        post(&body.to_string()).json()["message"]
            .as_str()
            .unwrap()
            .contains("only http and https")
    );

    // Above the configured concurrency and its queue (one running, one waiting): 429.
    let limit = srv.state.index_limit.clone();
    let held = srv.rt.block_on(async { limit.acquire().await.unwrap() });
    let queued = {
        let limit = limit.clone();
        srv.rt.spawn(async move { limit.acquire().await.map(drop) })
    };
    while limit.waiting() == 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let r = post(&manifest_json(&hash, one, blobs.url()));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["code"], "too-many-requests");
    assert_eq!(r.header("retry-after"), Some("10"));
    drop(held);
    srv.rt.block_on(queued).unwrap().unwrap();
    assert_eq!(post(&manifest_json(&hash, one, blobs.url())).status, 201);
}

fn notifier_and_internal(store: Arc<dyn Store>) {
    let srv = start(store.clone(), FetchOptions::default(), 0);
    let api = &srv.api;
    load_debian(&store);
    let ops = get(&format!(
        "{api}/matcher/api/v1/internal/update_operation?kind=vulnerability&latest=true"
    ));
    assert_eq!(ops.status, 200, "{}", ops.body);
    let ops = ops.json();
    let debian = ops["debian"].as_array().unwrap();
    assert_eq!(debian.len(), 1);
    let op = debian[0]["ref"].as_str().unwrap().to_string();
    assert_eq!(debian[0]["kind"], "vulnerability");
    let e = get(&format!(
        "{api}/matcher/api/v1/internal/update_operation?kind=enrichment"
    ));
    assert_eq!(e.json(), serde_json::json!({}));
    let bad = get(&format!(
        "{api}/matcher/api/v1/internal/update_operation?kind=nope"
    ));
    assert_eq!(bad.status, 400);

    let d = get(&format!(
        "{api}/matcher/api/v1/internal/update_diff?cur={op}"
    ));
    assert_eq!(d.status, 200, "{}", d.body);
    let d = d.json();
    // claircore's UpdateDiff: no previous operation is Go's zero operation, not null.
    assert_eq!(d["prev"]["ref"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(d["cur"]["ref"], op.as_str());
    assert!(!d["added"].as_array().unwrap().is_empty());
    assert!(d["removed"].as_array().unwrap().is_empty());
    for q in ["", "?cur=", "?cur=notauuid", &format!("?cur={op}&prev=x")] {
        let r = get(&format!("{api}/matcher/api/v1/internal/update_diff{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }

    // Notification pages: `next` until the last page, which has none.
    let items: Vec<Value> = (0..5)
        .map(|i| {
            serde_json::json!({"id": format!("00000000-0000-4000-8000-00000000000{i}"), "manifest": format!("sha256:{}", "a".repeat(64)),
                "reason": "added", "vulnerability": {"name": format!("CVE-2099-000{i}"), "normalized_severity": "High"}})
        })
        .collect();
    let id = store
        .create_notification("v4", &serde_json::json!({}), &items)
        .unwrap();
    let base = format!("{api}/notifier/api/v1/notification/{id}");
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &next {
            Some(n) => format!("{base}?page_size=2&next={n}"),
            None => format!("{base}?page_size=2"),
        };
        let r = call("GET", &url, &[], None);
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.json();
        pages += 1;
        assert_eq!(page["page"]["size"], 2);
        for n in page["notifications"].as_array().unwrap() {
            seen.push(n["vulnerability"]["name"].as_str().unwrap().to_string());
        }
        match page["page"].get("next") {
            Some(n) => next = Some(n.as_str().unwrap().to_string()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5);
    // The default page size holds them all.
    let r = call("GET", &base, &[], None);
    assert_eq!(r.json()["page"]["size"], 500);
    assert!(r.json()["page"].get("next").is_none());
    for (url, code) in [
        (
            format!("{api}/notifier/api/v1/notification/not-a-uuid"),
            400,
        ),
        (format!("{base}?next=zzz"), 400),
        (format!("{base}?page_size=x"), 400),
    ] {
        assert_eq!(call("GET", &url, &[], None).status, code, "{url}");
    }
    // An unknown notification id is an empty page, as upstream (not 404).
    let r = get(&format!(
        "{api}/notifier/api/v1/notification/{}",
        uuid_zero()
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        serde_json::json!({"page": {"size": 500}, "notifications": []})
    );
    assert_eq!(call("DELETE", &base, &[], None).status, 200);
    assert_eq!(
        store.notification(id).unwrap().unwrap().status,
        clair_store::NotificationStatus::Deleted
    );

    // The operation can be deleted.
    let r = delete(&format!(
        "{api}/matcher/api/v1/internal/update_operation/{op}"
    ));
    assert_eq!(r.status, 200);
    let ops = get(&format!("{api}/matcher/api/v1/internal/update_operation"));
    assert!(ops.json().get("debian").is_none(), "{}", ops.body);

    let o = call("GET", &format!("{api}/openapi/v1"), &[], None);
    assert_eq!(o.status, 200);
    assert!(
        o.json()["paths"]
            .get("/indexer/api/v1/index_report")
            .is_some()
    );
}

#[test]
fn requests_past_the_deadline_get_clair_v2s_503() {
    let mut state = clair_http::AppState::new(sqlite(), FetchOptions::default()).unwrap();
    state.timeout = Duration::from_millis(300);
    let srv = start_state(state);
    let (hash, layers) = layered();
    let slow = TestServer::start();
    let one = &layers[..1];
    slow.put(&format!("/blobs/{}", one[0]), blob(&one[0]));
    slow.set(
        &format!("/blobs/{}", one[0]),
        Behavior::Stall(Duration::from_secs(3)),
    );
    let body = serde_json::json!({"hash": hash, "layers": [{"hash": one[0], "uri": format!("{}/blobs/{}", slow.url(), one[0])}]});
    let t = std::time::Instant::now();
    let r = post(
        &format!("{}/indexer/api/v1/index_report", srv.api),
        &body.to_string(),
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(r.status, 503);
    assert_eq!(
        r.json(),
        serde_json::json!({"Error": {"Message": "Clair failed to respond within the configured timeout window.", "Type": "Timeout"}})
    );
}

fn uuid_zero() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}

#[test]
fn layer_size_cap_and_broken_connections() {
    let fetch = FetchOptions {
        backoff: Duration::from_millis(10),
        max_size: 1000,
        ..FetchOptions::default()
    };
    let srv = start(sqlite(), fetch, 0);
    let (hash, layers) = layered();
    let one = &layers[..1];
    let blobs = TestServer::start();
    blobs.put(&format!("/blobs/{}", one[0]), blob(&one[0]));
    let body = serde_json::json!({"hash": hash, "layers": [{"hash": one[0], "uri": format!("{}/blobs/{}", blobs.url(), one[0])}]});
    let r = post(
        &format!("{}/indexer/api/v1/index_report", srv.api),
        &body.to_string(),
    );
    assert_eq!(r.status, 500, "{}", r.body);
    let err = r.json()["message"].as_str().unwrap().to_string();
    assert!(err.contains("larger than the 1000-byte limit"), "{err}");

    // A body cut short (or stalled) is retried, then reported.
    let srv = start(
        sqlite(),
        FetchOptions {
            backoff: Duration::from_millis(10),
            timeout: Duration::from_secs(2),
            ..FetchOptions::default()
        },
        0,
    );
    blobs.set(&format!("/blobs/{}", one[0]), Behavior::Truncate(4096));
    let r = post(
        &format!("{}/indexer/api/v1/index_report", srv.api),
        &body.to_string(),
    );
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("reading the body"),
        "{}",
        r.body
    );
    let tries = blobs
        .hits()
        .iter()
        .filter(|(p, _)| p.ends_with(&one[0]))
        .count();
    assert_eq!(
        tries,
        3 + 1,
        "one capped try before, three tries now: {:?}",
        blobs.hits()
    );
}

#[test]
fn ready_once_every_updater_this_instance_runs_has_data() {
    let store = sqlite();
    let mut state = clair_http::AppState::new(store.clone(), FetchOptions::default()).unwrap();
    state.required_updaters = vec!["debian".into(), "alpine".into()];
    let srv = start_state(state);
    let readyz = || call("GET", &format!("{}/readyz", srv.intro), &[], None).status;
    srv.state.refresh().unwrap();
    assert_eq!(readyz(), 503);
    load_debian(&store);
    srv.state.refresh().unwrap();
    assert_eq!(readyz(), 503, "alpine has not run yet");
    // Data imported for alpine (an operation without a run) counts too.
    let mut feed = std::iter::once(Ok(clair_types::Vulnerability {
        name: "CVE-2099-1".into(),
        namespace: "alpine:v3.18".into(),
        ..Default::default()
    }));
    store
        .update_vulnerabilities("alpine", "imported", &mut feed)
        .unwrap();
    srv.state.refresh().unwrap();
    assert_eq!(readyz(), 200);
}

#[test]
fn psk_authentication_and_read_only_mode() {
    use base64::Engine as _;
    let key = b"a pre-shared key for tests";
    let mut state = clair_http::AppState::new(sqlite(), FetchOptions::default()).unwrap();
    state.auth = Some(
        clair_http::auth::Psk::new(
            &base64::engine::general_purpose::STANDARD.encode(key),
            &["quay".to_string()],
        )
        .unwrap(),
    );
    state.read_only = true;
    let srv = start_state(state);
    let url = format!("{}/indexer/api/v1/index_state", srv.api);
    let r = call("GET", &url, &[], None);
    assert_eq!((r.status, r.body.as_str()), (401, ""));
    let now = jiff::Timestamp::now().as_second();
    let good = format!("Bearer {}", clair_jose::sign_hs256(key, "quay", now));
    assert_eq!(
        call("GET", &url, &[("Authorization", &good)], None).status,
        200
    );
    let other = format!("Bearer {}", clair_jose::sign_hs256(key, "mallory", now));
    assert_eq!(
        call("GET", &url, &[("Authorization", &other)], None).status,
        401
    );
    let wrong_key = format!("Bearer {}", clair_jose::sign_hs256(b"nope", "quay", now));
    assert_eq!(
        call("GET", &url, &[("Authorization", &wrong_key)], None).status,
        401
    );
    let old = format!("Bearer {}", clair_jose::sign_hs256(key, "quay", now - 3600));
    assert_eq!(
        call("GET", &url, &[("Authorization", &old)], None).status,
        401,
        "expired"
    );
    // Read-only: writes refused even with a good token; health and robots need no token.
    let r = call(
        "POST",
        &format!("{}/indexer/api/v1/index_report", srv.api),
        &[("Authorization", &good)],
        Some("{}"),
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["message"], "this server is read-only");
    assert_eq!(
        call("GET", &format!("{}/healthz", srv.intro), &[], None).status,
        200
    );
    assert_eq!(
        call("GET", &format!("{}/robots.txt", srv.api), &[], None).status,
        200
    );
}

clair_test::on_both_databases! {
    sqlite: sqlite(), postgres: postgres();
    notifier_and_internal => notifier_and_internal_sqlite, notifier_and_internal_postgres;
    quay_flow => quay_flow_sqlite, quay_flow_postgres;
    errors => errors_sqlite, errors_postgres;
}
