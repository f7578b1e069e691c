//! Clair v4's distributed deployment inside one test process: an indexer, a matcher and a
//! notifier server, each on its own database and loopback port, calling each other over HTTP
//! with pre-shared-key intra-service tokens. The notifier's notifications must be exactly what
//! one combo server computes from the same data; each server answers 404 for the other
//! services' routes; the internal endpoints speak claircore's JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use clair_config::Mode;
use clair_ecosystems::EcosystemNamespaces;
use clair_http::remote::{ClientOptions, RemoteIndexer, RemoteMatcher, RemoteSource};
use clair_http::{AppState, FetchOptions};
use clair_jose::sign_hs256;
use clair_service::notify::source::{LocalSource, NotificationSource};
use clair_service::notify::webhook::{Webhook, WebhookConfig};
use clair_service::notify::{self, Notifier, Options};
use clair_store::{OpKind, Store};
use clair_test::http::TestServer;
use common::*;
use serde_json::Value;

/// `auth.psk.key` of the deployment (base64 of "secret-key-for-tests-only").
const PSK: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==";

fn key() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(PSK)
        .unwrap()
}

/// What Quay sends: `Authorization: Bearer` with an HS256 token from issuer `quay`.
/// POST `body` to `url` with Quay's token.
fn post_as_quay(url: &str, body: &str) -> Resp {
    call("POST", url, &[("Authorization", &quay())], Some(body))
}

fn quay() -> String {
    format!(
        "Bearer {}",
        sign_hs256(&key(), "quay", jiff::Timestamp::now().as_second())
    )
}

fn opts(signed: bool) -> ClientOptions {
    ClientOptions {
        key: signed.then(|| Arc::new(key())),
        ..ClientOptions::default()
    }
}

fn server(store: Arc<dyn Store>, mode: Mode, indexer: Option<&str>) -> Server {
    let mut st = AppState::for_mode(store, FetchOptions::default(), mode).unwrap();
    st.auth = Some(clair_http::auth::Psk::new(PSK, &["quay".to_string()]).unwrap());
    if let Some(addr) = indexer {
        st.remote_indexer = Some(Arc::new(RemoteIndexer::new(addr, opts(true)).unwrap()));
    }
    start_state(st)
}

fn source(indexer: &Server, matcher: &Server, signed: bool) -> RemoteSource {
    RemoteSource {
        indexer: RemoteIndexer::new(&indexer.api, opts(signed)).unwrap(),
        matcher: RemoteMatcher::new(&matcher.api, opts(signed)).unwrap(),
    }
}

/// The notification loop of `server` with a Clair v4 webhook to `receiver`'s `/notify`.
fn notification_loop(server: &Server, receiver: &TestServer) -> Notifier {
    let webhook = Webhook::new(WebhookConfig {
        target: format!("{}/notify", receiver.url()),
        callback: format!("{}/notifier/api/v1/notification/", server.api),
        headers: vec![],
        psk: Some(key()),
        retry: Duration::ZERO,
        timeout: Duration::from_secs(5),
        ca_pem: None,
    })
    .unwrap();
    Notifier::new(
        server.state.clone(),
        vec![Arc::new(webhook)],
        Options::default(),
    )
}

/// A notifier-mode loop: polling the matcher and asking the indexer (every pass).
fn remote_notifier(
    server: &Server,
    receiver: &TestServer,
    indexer: &Server,
    matcher: &Server,
    signed: bool,
) -> Notifier {
    notification_loop(server, receiver)
        .with_remote(Arc::new(source(indexer, matcher, signed)), Duration::ZERO)
}

/// The items of a stored notification.
fn stored_items(store: &Arc<dyn Store>, id: uuid::Uuid) -> Vec<Value> {
    store
        .notification_items(id, None, 100)
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.body)
        .collect()
}

fn get(url: &str, extra: &[(&str, &str)]) -> Resp {
    let auth = quay();
    let mut h = vec![("Authorization", auth.as_str())];
    h.extend_from_slice(extra);
    call("GET", url, &h, None)
}

/// (manifest, reason, vulnerability, severity) of notification items.
fn summarise(items: &[Value]) -> BTreeSet<(String, String, String, String)> {
    items
        .iter()
        .map(|i| {
            (
                i["manifest"].as_str().unwrap().to_string(),
                i["reason"].as_str().unwrap().to_string(),
                i["vulnerability"]["name"].as_str().unwrap().to_string(),
                i["vulnerability"]["normalized_severity"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// The tracker's next version: two bash issues added, the systemd one gone.
fn tracker_v2() -> Value {
    let mut v2 = tracker();
    v2["bash"] = serde_json::json!({
        "CVE-2099-0100": {"description": "new, high", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "high"}}},
        "CVE-2099-0101": {"description": "new, low", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "low"}}}
    });
    v2.as_object_mut().unwrap().remove("systemd");
    v2
}

fn flow(
    idx_store: Arc<dyn Store>,
    m_store: Arc<dyn Store>,
    n_store: Arc<dyn Store>,
    combo: Arc<dyn Store>,
) {
    let indexer = server(idx_store.clone(), Mode::Indexer, None);
    let matcher = server(m_store.clone(), Mode::Matcher, Some(&indexer.api));
    let notifier = server(n_store.clone(), Mode::Notifier, None);
    let reference = server(combo.clone(), Mode::Combo, None);

    // Quay indexes an image at the indexer (layers from 127.0.0.1), and at the combo server.
    let (hash, layers) = layered();
    let blobs = layer_server(&layers);
    let manifest = manifest_json(&hash, &layers, blobs.url());
    for s in [&indexer, &reference] {
        let r = post_as_quay(&format!("{}/indexer/api/v1/index_report", s.api), &manifest);
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.json()["state"], "IndexFinished");
    }
    run_debian(&m_store, &tracker());
    run_debian(&combo, &tracker());
    matcher.state.refresh().unwrap();
    reference.state.refresh().unwrap();

    // The matcher's report reads the index report from the indexer: the same as combo's.
    let report = |s: &Server| {
        let r = get(
            &format!("{}/matcher/api/v1/vulnerability_report/{hash}", s.api),
            &[],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        let mut names: Vec<String> = clair_test::fields(&v["vulnerabilities"], "name")
            .map(str::to_string)
            .collect();
        names.sort();
        names
    };
    let names = report(&matcher);
    assert!(!names.is_empty());
    assert_eq!(names, report(&reference));
    // The matcher's report cache and ETag work on the indexer's report too: unchanged, 304.
    let url = format!("{}/matcher/api/v1/vulnerability_report/{hash}", matcher.api);
    let tag = get(&url, &[]).header("etag").unwrap().to_string();
    let r = get(&url, &[("If-None-Match", &tag)]);
    assert_eq!((r.status, r.body.as_str()), (304, ""));
    let unknown = format!("sha256:{}", "0".repeat(64));
    let r = get(
        &format!(
            "{}/matcher/api/v1/vulnerability_report/{unknown}",
            matcher.api
        ),
        &[],
    );
    assert_eq!(r.status, 404, "{}", r.body);

    // The notifier polls the matcher and asks the indexer: the first operation notifies
    // nothing, the next one what changed, once; its webhook is told.
    let receiver = TestServer::start();
    receiver.put("/notify", "ok");
    let n_loop = remote_notifier(&notifier, &receiver, &indexer, &matcher, true);
    let c_loop = notification_loop(&reference, &receiver);
    assert_eq!(n_loop.compute().unwrap(), 0);
    assert_eq!(c_loop.compute().unwrap(), 0);
    run_debian(&m_store, &tracker_v2());
    run_debian(&combo, &tracker_v2());
    // New vulnerability data: the matcher's report changed, and so does its ETag.
    matcher.state.refresh().unwrap();
    let r = get(&url, &[("If-None-Match", &tag)]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.header("etag"), Some(tag.as_str()));
    // The indexer unreachable: nothing stored, the cursor stays, the step is done later.
    let cursor = n_store.notified_operation("debian").unwrap();
    assert!(cursor.is_some());
    let down = notification_loop(&notifier, &receiver).with_remote(
        Arc::new(RemoteSource {
            indexer: RemoteIndexer::new("http://127.0.0.1:1", opts(true)).unwrap(),
            matcher: RemoteMatcher::new(&matcher.api, opts(true)).unwrap(),
        }),
        Duration::ZERO,
    );
    assert_eq!(down.compute().unwrap(), 0);
    assert_eq!(n_store.notified_operation("debian").unwrap(), cursor);
    assert_eq!(
        n_loop.compute().unwrap(),
        1,
        "one notification for the new operation"
    );
    assert_eq!(n_loop.compute().unwrap(), 0, "each operation once");
    assert_eq!(c_loop.compute().unwrap(), 1);
    assert!(
        n_store.notification_jobs(10).unwrap().is_empty(),
        "the notifier's store holds no operations"
    );
    assert_eq!(
        m_store.notification_jobs(10).unwrap().len(),
        2,
        "the matcher computes nothing: its jobs wait (and go with their operations)"
    );
    let ops = m_store
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap();
    assert_eq!(
        n_store.notified_operation("debian").unwrap(),
        Some(ops[0].id)
    );
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let id = n_store.notifications_due(&["v4"], now, 10).unwrap()[0].id;
    let local_id = combo.notifications_due(&["v4"], now, 10).unwrap()[0].id;
    assert_eq!(n_loop.deliver().unwrap(), 1);
    let (_, hook) = receiver.request_bodies().pop().unwrap();
    let hook: Value = serde_json::from_slice(&hook).unwrap();
    assert_eq!(hook["notification_id"], id.to_string());
    assert_eq!(
        hook["callback"],
        format!("{}/notifier/api/v1/notification/{id}", notifier.api)
    );
    let remote_items = stored_items(&n_store, id);
    let got = summarise(&remote_items);
    assert_eq!(
        got,
        summarise(&stored_items(&combo, local_id)),
        "distributed = combo"
    );
    let names: BTreeSet<(String, String, String)> =
        got.into_iter().map(|(m, r, n, _)| (m, r, n)).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            (hash.clone(), "added".into(), "CVE-2099-0100".into()),
            (hash.clone(), "removed".into(), "CVE-2099-0003".into()),
        ]),
        "{remote_items:?}"
    );
    // Every item, not only summaries, agrees too.
    let src = source(&indexer, &matcher, true);
    let diff = src.update_diff(Some(ops[1].id), ops[0].id).unwrap();
    assert_eq!(
        diff,
        m_store.update_diff(Some(ops[1].id), ops[0].id).unwrap()
    );
    let all = Options {
        disable_summary: true,
    };
    let cops = combo
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap();
    let cdiff = combo.update_diff(Some(cops[1].id), cops[0].id).unwrap();
    let local = LocalSource {
        store: combo.as_ref(),
        ns: &EcosystemNamespaces,
    };
    assert_eq!(
        summarise(&notify::v4::items(&src, &diff, all).unwrap()),
        summarise(&notify::v4::items(&local, &cdiff, all).unwrap())
    );

    // Quay reads the page at the notifier.
    let r = get(
        &format!("{}/notifier/api/v1/notification/{id}", notifier.api),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = r.json();
    assert!(
        page["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["manifest"] == hash.as_str()),
        "{page}"
    );

    // Intra-service calls need the token: unsigned ones are refused, and the error names the URL.
    let err = remote_notifier(&notifier, &receiver, &indexer, &matcher, false)
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&matcher.api) && err.contains("HTTP 401"),
        "{err}"
    );

    internal_endpoints(&indexer, &matcher, &hash, &ops);
    routes_per_mode(
        &indexer,
        &matcher,
        &notifier,
        &reference,
        &hash,
        [id, local_id],
    );

    // The matcher is polled at most every poll_interval: a newer operation waits for the
    // next poll.
    let slow = notification_loop(&notifier, &receiver).with_remote(
        Arc::new(source(&indexer, &matcher, true)),
        Duration::from_secs(3600),
    );
    assert_eq!(slow.compute().unwrap(), 0, "polled: nothing new");
    run_debian(&m_store, &tracker());
    assert_eq!(slow.compute().unwrap(), 0, "not due");
    assert_eq!(n_loop.compute().unwrap(), 1, "due every pass");
}

/// update_operation (ETag, 304), update_diff and affected_manifest in claircore's JSON.
fn internal_endpoints(
    indexer: &Server,
    matcher: &Server,
    hash: &str,
    ops: &[clair_store::UpdateOperation],
) {
    let url = format!(
        "{}/matcher/api/v1/internal/update_operation?kind=vulnerability&latest=true",
        matcher.api
    );
    let r = get(&url, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let tag = format!("\"{}\"", ops[0].id);
    assert_eq!(r.header("etag"), Some(tag.as_str()));
    assert_eq!(r.json()["debian"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["debian"][0]["ref"], ops[0].id.to_string());
    let r = get(&url, &[("If-None-Match", &tag)]);
    assert_eq!((r.status, r.body.as_str()), (304, ""));
    let all = get(
        &format!("{}/matcher/api/v1/internal/update_operation", matcher.api),
        &[("If-None-Match", "\"00000000-0000-0000-0000-000000000000\"")],
    );
    assert_eq!(all.status, 200);
    assert_eq!(all.json()["debian"].as_array().unwrap().len(), 2);
    // The matcher's cached poll answers from its copy after a 304.
    let m = RemoteMatcher::new(&matcher.api, opts(true)).unwrap();
    let first = m.latest_update_operations().unwrap();
    assert_eq!(first["debian"].id, ops[0].id);
    assert_eq!(m.latest_update_operations().unwrap(), first);

    let r = get(
        &format!(
            "{}/matcher/api/v1/internal/update_diff?prev={}&cur={}",
            matcher.api, ops[1].id, ops[0].id
        ),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = r.json();
    assert_eq!(d["prev"]["ref"], ops[1].id.to_string());
    assert_eq!(d["cur"]["kind"], "vulnerability");
    let added = d["added"].as_array().unwrap();
    assert_eq!(added.len(), 2, "{d}");
    for v in added.iter().chain(d["removed"].as_array().unwrap()) {
        // What Go's decoder insists on.
        assert!(
            v["issued"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .is_ok(),
            "{v}"
        );
        assert!(
            ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"]
                .contains(&v["normalized_severity"].as_str().unwrap()),
            "{v}"
        );
        assert_eq!(
            v["package"]["kind"], "source",
            "Debian records name source packages"
        );
        assert_eq!(v["distribution"]["did"], "debian");
        assert!(v.get("range").is_none());
        assert_eq!(v["clair_rs"]["version_scheme"], "dpkg");
    }
    let r = get(
        &format!(
            "{}/matcher/api/v1/internal/update_diff?cur={}",
            matcher.api, ops[1].id
        ),
        &[],
    );
    assert_eq!(
        r.json()["prev"]["ref"],
        "00000000-0000-0000-0000-000000000000"
    );
    let r = get(
        &format!(
            "{}/matcher/api/v1/internal/update_diff?prev={}",
            matcher.api, ops[1].id
        ),
        &[],
    );
    assert_eq!(r.status, 400);

    // A Go notifier's question: a claircore vulnerability without clair-rs's member.
    let body = serde_json::json!({"vulnerabilities": [{
        "id": "42", "updater": "debian/updater/bookworm", "name": "CVE-2099-0100",
        "description": "", "issued": "0001-01-01T00:00:00Z", "links": "", "severity": "high",
        "normalized_severity": "High",
        "package": {"id": "", "name": "bash", "version": "", "kind": "source",
                    "normalized_version": "", "cpe": "", "detector": null},
        "distribution": {"id": "", "did": "debian", "name": "Debian GNU/Linux",
                         "version": "12 (bookworm)", "version_code_name": "bookworm",
                         "version_id": "12", "arch": "", "cpe": "", "pretty_name": ""},
        "fixed_in_version": "", "Self": {"space": "", "name": ""}, "Aliases": null, "Invert": false
    }, {
        "id": "43", "name": "CVE-2099-9999", "normalized_severity": "Low",
        "package": {"name": "not-installed", "kind": "source"},
        "distribution": {"did": "debian", "version_id": "12"}
    }]});
    let r = post_as_quay(
        &format!("{}/indexer/api/v1/internal/affected_manifest/", indexer.api),
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let a = r.json();
    assert_eq!(a["vulnerable_manifests"][hash], serde_json::json!(["42"]));
    assert_eq!(a["vulnerabilities"]["42"]["name"], "CVE-2099-0100");
    assert_eq!(a["vulnerabilities"]["42"]["normalized_severity"], "High");
    assert!(a["vulnerabilities"].get("43").is_none());
    // A full chunk of records with long descriptions: beyond the server's 4 MiB body limit,
    // still answered.
    let mut big = body.clone();
    let record = big["vulnerabilities"][0].clone();
    big["vulnerabilities"] = (0..1000)
        .map(|i| {
            let mut r = record.clone();
            r["id"] = format!("{i}").into();
            r["name"] = format!("CVE-2099-{i:05}").into();
            r["description"] = "d".repeat(5000).into();
            r
        })
        .collect();
    let big = big.to_string();
    assert!(big.len() > 4 << 20);
    let r = post_as_quay(
        &format!("{}/indexer/api/v1/internal/affected_manifest/", indexer.api),
        &big,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["vulnerable_manifests"][hash]
            .as_array()
            .unwrap()
            .len(),
        1000
    );
    let r = post(
        &format!("{}/indexer/api/v1/internal/affected_manifest/", indexer.api),
        &body.to_string(),
    );
    assert_eq!(r.status, 401, "intra-service endpoints need a token too");
    let r = post_as_quay(
        &format!("{}/indexer/api/v1/internal/affected_manifest/", indexer.api),
        "{\"vulnerabilities\": 7}",
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

/// Each mode serves its part of the API only (404 elsewhere), as upstream's httptransport.
fn routes_per_mode(
    indexer: &Server,
    matcher: &Server,
    notifier: &Server,
    combo: &Server,
    hash: &str,
    // The notification in the notifier's store, and the one in the combo server's.
    notifications: [uuid::Uuid; 2],
) {
    let paths = |notification: uuid::Uuid| {
        [
            ("indexer", format!("/indexer/api/v1/index_report/{hash}")),
            ("indexer", "/indexer/api/v1/index_state".to_string()),
            (
                "matcher",
                format!("/matcher/api/v1/vulnerability_report/{hash}"),
            ),
            (
                "matcher",
                "/matcher/api/v1/internal/update_operation".to_string(),
            ),
            (
                "notifier",
                format!("/notifier/api/v1/notification/{notification}"),
            ),
            ("v1", "/v1/namespaces".to_string()),
        ]
    };
    for (server, serves) in [
        (indexer, &["indexer"][..]),
        (matcher, &["matcher"][..]),
        (notifier, &["notifier"][..]),
        (combo, &["indexer", "matcher", "notifier", "v1"][..]),
    ] {
        let n = if server.state.mode == Mode::Combo {
            notifications[1]
        } else {
            notifications[0]
        };
        for (part, path) in &paths(n) {
            let r = get(&format!("{}{path}", server.api), &[]);
            if serves.contains(part) {
                assert_ne!(r.status, 404, "{:?} {path}: {}", server.state.mode, r.body);
                assert!(
                    r.status < 300,
                    "{:?} {path}: {} {}",
                    server.state.mode,
                    r.status,
                    r.body
                );
            } else {
                assert_eq!(r.status, 404, "{:?} {path}: {}", server.state.mode, r.body);
            }
        }
        let r = get(&format!("{}/openapi/v1", server.api), &[]);
        assert_eq!(r.status, 200);
    }
    let r = post_as_quay(
        &format!("{}/indexer/api/v1/internal/affected_manifest/", matcher.api),
        "{\"vulnerabilities\": []}",
    );
    assert_eq!(r.status, 404);
    // Ready once listening: an indexer and a notifier have no vulnerability data to wait for.
    for s in [indexer, notifier] {
        let r = call("GET", &format!("{}/readyz", s.intro), &[], None);
        assert_eq!(r.status, 200, "{:?}", s.state.mode);
    }
}

#[test]
fn distributed_sqlite() {
    flow(sqlite(), sqlite(), sqlite(), sqlite());
}

#[test]
fn distributed_postgres() {
    let (Some(a), Some(b), Some(c), Some(d)) = (postgres(), postgres(), postgres(), postgres())
    else {
        return;
    };
    flow(a, b, c, d);
}
