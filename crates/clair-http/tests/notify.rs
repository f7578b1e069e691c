//! Notifications end to end on SQLite and PostgreSQL: indexed images, two Debian tracker
//! versions loaded by the real updater, the diff turned into Clair v4 notifications for exactly
//! the affected manifests, and webhook delivery to a real receiver that fails first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clair_ecosystems::EcosystemNamespaces;
use clair_indexer::NoProgress;
use clair_layer::source::{self, OpenOptions};
use clair_matcher::notify::{self, Notifier, NotifyOptions};
use clair_matcher::{Http, HttpOptions, NoUpdateProgress, UpdateManager};
use clair_store::Store;
use clair_test::http::{Behavior, TestServer};
use clair_test::oci::{Layer, write_layout};
use clair_test::tar::{Member, build};
use common::*;
use serde_json::Value;

fn tracker() -> Value {
    serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../clair-ecosystems/testdata/match/debian-bookworm-tracker.json"),
        )
        .unwrap(),
    )
    .unwrap()
}

fn run_debian(store: &Arc<dyn Store>, feed: &Value) {
    let s = TestServer::start();
    s.put("/debian/json", feed.to_string());
    let cfg = serde_json::json!({"debian": {"json_url": format!("{}/debian/json", s.url())}});
    let ups = clair_ecosystems::updaters(
        Some(&["debian".to_string()]),
        &serde_json::from_value(cfg).unwrap(),
    )
    .unwrap();
    let m = UpdateManager::new(store.clone(), ups).with_http(Http::new(HttpOptions {
        attempts: 1,
        ..HttpOptions::default()
    }));
    for r in m.run(None, &NoUpdateProgress) {
        assert!(
            matches!(r.outcome, clair_matcher::Outcome::Updated { .. }),
            "{:?}",
            r.outcome
        );
    }
}

fn index(store: &Arc<dyn Store>, reference: &str) -> String {
    let img = source::open(reference, &OpenOptions::default()).unwrap();
    let indexer = clair_ecosystems::default_indexer();
    let (indexed, _) =
        clair_store::index_image(store.as_ref(), &indexer, &img, &NoProgress).unwrap();
    indexed.report.manifest_hash.to_string()
}

fn flow(store: Arc<dyn Store>) {
    let debian = index(
        &store,
        &format!(
            "oci:{}:bookworm-minbase",
            clair_test::images("oci").display()
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let tar = build(&[
        Member::file("etc/os-release", "ID=alpine\nVERSION_ID=3.11.13\n"),
        Member::file(
            "lib/apk/db/installed",
            std::fs::read(clair_test::corpus("pkgdb/apk/clair2/installed")).unwrap(),
        ),
    ]);
    write_layout(dir.path(), "alpine", &[Layer::plain(&tar)]);
    let alpine = index(&store, &format!("oci:{}:alpine", dir.path().display()));
    let ns = EcosystemNamespaces;

    // The first operation of an updater notifies nothing (everything would be "added").
    let v1 = tracker();
    run_debian(&store, &v1);
    assert_eq!(
        notify::notify_update(store.as_ref(), &ns, "debian", NotifyOptions::default()).unwrap(),
        None
    );

    // The next one adds two bash issues (high, low) and drops the systemd one.
    let mut v2 = v1.clone();
    v2["bash"] = serde_json::json!({
        "CVE-2099-0100": {"description": "new, high", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "high"}}},
        "CVE-2099-0101": {"description": "new, low", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "low"}}}
    });
    v2.as_object_mut().unwrap().remove("systemd");
    run_debian(&store, &v2);
    let ops = store
        .update_operations(clair_store::OpKind::Vulnerability, Some("debian"))
        .unwrap();
    let diff = store.update_diff(Some(ops[1].id), ops[0].id).unwrap();

    let all = notify::v4_items(
        store.as_ref(),
        &ns,
        &diff,
        NotifyOptions {
            disable_summary: true,
        },
    )
    .unwrap();
    let got: Vec<(String, String, String)> = {
        let mut v: Vec<_> = all
            .iter()
            .map(|i| {
                (
                    i["manifest"].as_str().unwrap().to_string(),
                    i["reason"].as_str().unwrap().to_string(),
                    i["vulnerability"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        got,
        vec![
            (debian.clone(), "added".into(), "CVE-2099-0100".into()),
            (debian.clone(), "added".into(), "CVE-2099-0101".into()),
            (debian.clone(), "removed".into(), "CVE-2099-0003".into()),
        ],
        "the Alpine manifest is not affected"
    );
    assert!(!got.iter().any(|(m, _, _)| *m == alpine));

    // The summary keeps the most severe per manifest and reason; stored for delivery.
    let id = notify::notify_update(store.as_ref(), &ns, "debian", NotifyOptions::default())
        .unwrap()
        .expect("a notification");
    let page = store.notification_items(id, None, 100).unwrap();
    let names: Vec<(String, String)> = page
        .items
        .iter()
        .map(|i| {
            (
                i.body["reason"].as_str().unwrap().to_string(),
                i.body["vulnerability"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&("added".into(), "CVE-2099-0100".into())),
        "{names:?}"
    );
    assert!(names.contains(&("removed".into(), "CVE-2099-0003".into())));
    let added = page
        .items
        .iter()
        .find(|i| i.body["reason"] == "added")
        .unwrap();
    assert_eq!(added.body["vulnerability"]["normalized_severity"], "High");
    assert_eq!(added.body["vulnerability"]["severity"], "High");
    assert_eq!(added.body["manifest"], debian.as_str());

    // Delivery: the receiver fails twice, then takes it; delivered once, attempts counted.
    let receiver = TestServer::start();
    receiver.put("/notify", "ok");
    receiver.set("/notify", Behavior::FailTimes(500, 3));
    let n = Notifier {
        target: format!("{}/notify", receiver.url()),
        callback: "http://clair.example/notifier/api/v1/notification".into(),
        headers: vec![],
        psk: Some(b"0123456789abcdef".to_vec()),
        retry: Duration::ZERO,
        timeout: Duration::from_secs(5),
    };
    let mut delivered = 0;
    for _ in 0..6 {
        delivered += n.deliver_due(store.as_ref()).unwrap();
    }
    assert_eq!(delivered, 1);
    let hits: Vec<u16> = receiver.hits().into_iter().map(|(_, c)| c).collect();
    assert_eq!(hits, vec![500, 500, 500, 200]);
    let stored = store.notification(id).unwrap().unwrap();
    assert_eq!(stored.status, clair_store::NotificationStatus::Delivered);
    assert_eq!(stored.attempts, 4);
    // Each webhook is signed: an HS256 JWT from clair-notifier under the pre-shared key.
    let (_, headers) = receiver.request_headers().pop().unwrap();
    let auth = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .expect("Authorization header");
    let jwt = auth.strip_prefix("Bearer ").unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let expect = clair_matcher::notify::sign_hs256(b"0123456789abcdef", "clair-notifier", {
        use base64::Engine as _;
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], "clair-notifier");
        claims["iat"].as_i64().unwrap()
    });
    assert_eq!(jwt, expect, "signature made with the configured key");

    // What the receiver then reads through the API.
    let srv = start(store.clone(), clair_http::FetchOptions::default(), 0);
    let r = call(
        "GET",
        &format!("{}/notifier/api/v1/notification/{id}", srv.api),
        &[],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["notifications"].as_array().unwrap().len(), 2);
}

#[test]
fn notifications_sqlite() {
    flow(sqlite());
}

#[test]
fn notifications_postgres() {
    if let Some(s) = postgres() {
        flow(s);
    }
}

/// Clair v2 webhooks: 200/201 success after retries within a pass, sent again every
/// renotify interval until the client DELETEs the notification.
fn v2_webhooks(store: Arc<dyn Store>) {
    let id = store
        .create_notification(
            clair_matcher::notify::V1_KIND,
            &serde_json::json!({"New": {"Vulnerability": {"Name": "CVE-TEST"}}}),
            &[],
        )
        .unwrap();
    let receiver = TestServer::start();
    receiver.put("/secscan/notify", "ok");
    receiver.set("/secscan/notify", Behavior::FailTimes(503, 2));
    let n = notify::NotifierV2 {
        endpoint: format!("{}/secscan/notify", receiver.url()),
        proxy: None,
        attempts: 3,
        backoff: Duration::from_millis(10),
        renotify: Duration::ZERO,
        authorize: None,
        ca_pem: None,
    };
    assert_eq!(
        n.deliver_due(store.as_ref()).unwrap(),
        1,
        "three tries in one pass"
    );
    let st = store.notification(id).unwrap().unwrap();
    assert_eq!(st.status, clair_store::NotificationStatus::Notified);
    // Renotify interval 0: sent again on the next pass, until deleted through the API.
    assert_eq!(n.deliver_due(store.as_ref()).unwrap(), 1);
    let srv = start(store.clone(), clair_http::FetchOptions::default(), 0);
    let r = call(
        "DELETE",
        &format!("{}/v1/notifications/{id}", srv.api),
        &[],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(n.deliver_due(store.as_ref()).unwrap(), 0);
    let codes: Vec<u16> = receiver.hits().into_iter().map(|(_, c)| c).collect();
    assert_eq!(codes, vec![503, 503, 200, 200]);
    // A receiver that only ever fails: the pass gives up after `attempts`, a later pass retries.
    let id2 = store
        .create_notification(clair_matcher::notify::V1_KIND, &serde_json::json!({}), &[])
        .unwrap();
    receiver.put("/down", "");
    receiver.set("/down", Behavior::Status(500));
    let down = notify::NotifierV2 {
        endpoint: format!("{}/down", receiver.url()),
        ..n.clone()
    };
    assert_eq!(down.deliver_due(store.as_ref()).unwrap(), 0);
    let st = store.notification(id2).unwrap().unwrap();
    assert_eq!(
        (st.status, st.attempts),
        (clair_store::NotificationStatus::Failed, 1)
    );
    assert!(st.last_error.unwrap().contains("HTTP 500"));
}

/// At least once across a restart (the receiver is down, then the process is replaced), and
/// exactly once with two instances delivering from one store at the same time.
fn durable_and_once(store: Arc<dyn Store>) {
    let ids: Vec<_> = (0..5)
        .map(|_| {
            store
                .create_notification(notify::KIND, &serde_json::json!({}), &[])
                .unwrap()
        })
        .collect();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/notify", closed.local_addr().unwrap());
    drop(closed);
    let n = Notifier {
        target: dead,
        callback: "http://clair/notifier/api/v1/notification/".into(),
        headers: vec![],
        psk: None,
        retry: Duration::ZERO,
        timeout: Duration::from_secs(2),
    };
    assert_eq!(n.deliver_due(store.as_ref()).unwrap(), 0, "receiver down");
    drop(n);
    // "After the restart": new notifiers, two of them racing, the receiver up.
    let receiver = TestServer::start();
    receiver.put("/notify", "ok");
    // Configured headers (`notifier.webhook.headers`) are sent: the receiver insists on one.
    receiver.set(
        "/notify",
        Behavior::RequireHeader("X-Clair-Test".into(), "yes".into()),
    );
    let target = format!("{}/notify", receiver.url());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            let target = target.clone();
            std::thread::spawn(move || {
                let n = Notifier {
                    target,
                    callback: "http://clair/notifier/api/v1/notification/".into(),
                    headers: vec![("X-Clair-Test".into(), "yes".into())],
                    psk: None,
                    retry: Duration::ZERO,
                    timeout: Duration::from_secs(5),
                };
                let mut total = 0;
                for _ in 0..20 {
                    total += n.deliver_due(store.as_ref()).unwrap();
                    std::thread::sleep(Duration::from_millis(10));
                }
                total
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 5);
    assert_eq!(
        receiver.hits().len(),
        5,
        "each notification delivered exactly once"
    );
    for id in ids {
        let st = store.notification(id).unwrap().unwrap();
        assert_eq!(
            (st.status, st.attempts),
            (clair_store::NotificationStatus::Delivered, 2)
        );
    }
}

#[test]
fn v2_webhooks_sqlite() {
    v2_webhooks(sqlite());
}

#[test]
fn v2_webhooks_postgres() {
    if let Some(s) = postgres() {
        v2_webhooks(s);
    }
}

#[test]
fn durable_and_once_sqlite() {
    durable_and_once(sqlite());
}

#[test]
fn durable_and_once_postgres() {
    if let Some(s) = postgres() {
        durable_and_once(s);
    }
}

/// Clair v2 notifications: layers posted through /v1, two tracker versions; each changed
/// vulnerability names the layers that introduce an affected package, readable through
/// GET /v1/notifications/:name.
fn v1_flow(store: Arc<dyn Store>) {
    let mut state =
        clair_http::AppState::new(store.clone(), clair_http::FetchOptions::default()).unwrap();
    state.allow_local_layer_paths = true;
    let srv = start_state(state);
    let (_, layers) = layered();
    let names: Vec<String> = (0..layers.len()).map(|i| format!("layer-{i}")).collect();
    for (i, d) in layers.iter().enumerate() {
        let path = clair_test::images("oci").join("blobs/sha256").join(&d[7..]);
        let body = serde_json::json!({"Layer": {"Name": names[i], "Path": path.display().to_string(), "Format": "Docker",
            "ParentName": if i == 0 { String::new() } else { names[i - 1].clone() }}});
        let r = call(
            "POST",
            &format!("{}/v1/layers", srv.api),
            &[],
            Some(&body.to_string()),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let v1 = tracker();
    run_debian(&store, &v1);
    assert!(
        clair_http::v1_notify::notify_v1(&srv.state, "debian")
            .unwrap()
            .is_empty()
    );
    let mut v2 = v1.clone();
    v2["bash"] = serde_json::json!({"CVE-2099-0100": {"description": "new", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "high"}}}});
    v2["curl"] = serde_json::json!({"CVE-2099-0200": {"description": "curl, added by layer 2", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "7.88.1-10+deb12u99"}, "urgency": "medium"}}}});
    v2.as_object_mut().unwrap().remove("systemd");
    run_debian(&store, &v2);
    let ids = clair_http::v1_notify::notify_v1(&srv.state, "debian").unwrap();
    assert_eq!(ids.len(), 3, "bash (new), curl (new), systemd (old)");
    let mut seen = BTreeMap::new();
    for id in ids {
        let r = call(
            "GET",
            &format!("{}/v1/notifications/{id}?limit=10", srv.api),
            &[],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let n = r.json()["Notification"].clone();
        let (side, v) = if n.get("New").is_some() {
            ("New", &n["New"])
        } else {
            ("Old", &n["Old"])
        };
        let name = v["Vulnerability"]["Name"].as_str().unwrap().to_string();
        let layers: Vec<String> = v["LayersIntroducingVulnerability"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        seen.insert(name, (side.to_string(), layers));
    }
    assert_eq!(
        seen["CVE-2099-0100"],
        ("New".to_string(), vec!["layer-0".to_string()]),
        "bash comes with the base layer"
    );
    assert_eq!(
        seen["CVE-2099-0200"],
        ("New".to_string(), vec!["layer-1".to_string()]),
        "curl was installed by layer 2"
    );
    assert_eq!(seen["CVE-2099-0003"].0, "Old");
    assert_eq!(seen["CVE-2099-0003"].1, vec!["layer-0".to_string()]);
}

#[test]
fn v1_notifications_sqlite() {
    v1_flow(sqlite());
}

#[test]
fn v1_notifications_postgres() {
    if let Some(s) = postgres() {
        v1_flow(s);
    }
}
