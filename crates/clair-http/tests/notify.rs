//! Notifications end to end on SQLite and PostgreSQL: indexed images, two Debian tracker
//! versions loaded by the real updater, the operation's queued job turned into Clair v4 and v2
//! notifications for exactly the affected manifests and layers, and delivery to real
//! receivers that fail first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clair_ecosystems::EcosystemNamespaces;
use clair_http::AppState;
use clair_indexer::NoProgress;
use clair_layer::source::{self, OpenOptions};
use clair_service::notify::webhook::{Webhook, WebhookConfig, WebhookV2, WebhookV2Config};
use clair_service::notify::{self, Notifier, Options, Sender};
use clair_store::Store;
use clair_test::http::{Behavior, TestServer};
use clair_test::oci::{Layer, write_layout};
use clair_test::tar::{Member, build};
use common::*;
use serde_json::Value;

fn v4_webhook_config(target: &str, psk: Option<Vec<u8>>) -> WebhookConfig {
    WebhookConfig {
        target: target.to_string(),
        callback: "http://clair.example/notifier/api/v1/notification".into(),
        headers: vec![],
        psk,
        retry: Duration::ZERO,
        timeout: Duration::from_secs(5),
        ca_pem: None,
    }
}

fn v4_webhook(target: &str, psk: Option<Vec<u8>>) -> Webhook {
    Webhook::new(v4_webhook_config(target, psk)).unwrap()
}

fn v2_webhook(endpoint: &str) -> WebhookV2Config {
    WebhookV2Config {
        endpoint: endpoint.to_string(),
        proxy: None,
        attempts: 3,
        backoff: Duration::from_millis(10),
        renotify: Duration::ZERO,
        authorize: None,
        ca_pem: None,
        client_tls: None,
    }
}

/// The notifier over `store` with one sender.
fn notifier(store: &Arc<dyn Store>, sender: impl Sender + 'static) -> Notifier {
    Notifier::new(
        AppState::new(store.clone(), clair_http::FetchOptions::default()).unwrap(),
        vec![Arc::new(sender)],
        Options::default(),
    )
}

fn index(store: &Arc<dyn Store>, reference: &str) -> String {
    let img = source::open(reference, &OpenOptions::default()).unwrap();
    let indexer = clair_ecosystems::default_indexer();
    let (indexed, _) =
        clair_service::index_image(store.as_ref(), &indexer, &img, &NoProgress).unwrap();
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
    let receiver = TestServer::start();
    receiver.put("/notify", "ok");
    receiver.set("/notify", Behavior::FailTimes(500, 3));
    let webhook = v4_webhook(
        &format!("{}/notify", receiver.url()),
        Some(b"0123456789abcdef".to_vec()),
    );
    let notifier = Notifier::new(
        AppState::new(store.clone(), clair_http::FetchOptions::default()).unwrap(),
        vec![Arc::new(webhook)],
        Options::default(),
    );

    // The first operation of an updater notifies nothing (everything would be "added").
    let v1 = clair_test::debian_tracker();
    run_debian(&store, &v1);
    assert_eq!(notifier.compute().unwrap(), 0);
    assert!(store.notification_jobs(10).unwrap().is_empty(), "job done");

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

    let all = notify::v4::items(
        &notify::source::LocalSource {
            store: store.as_ref(),
            ns: &ns,
        },
        &diff,
        Options {
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

    // The summary keeps the most severe per manifest and reason; stored for delivery. Only
    // the kind a sender takes is computed: no Clair v2 notification.
    assert_eq!(notifier.compute().unwrap(), 1);
    // Each operation is turned into notifications once.
    assert_eq!(notifier.compute().unwrap(), 0);
    assert!(store.notification_jobs(10).unwrap().is_empty());
    let now = jiff::Timestamp::now();
    assert!(
        store
            .notifications_due(&["v1"], now, 10)
            .unwrap()
            .is_empty()
    );
    let id = store.notifications_due(&["v4"], now, 10).unwrap()[0].id;
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
    // Debian urgency "high" is Critical in Clair v4's normalization.
    assert_eq!(
        added.body["vulnerability"]["normalized_severity"],
        "Critical"
    );
    assert_eq!(added.body["vulnerability"]["severity"], "Critical");
    assert_eq!(added.body["manifest"], debian.as_str());

    // Delivery: the receiver fails three times, then takes it; delivered once, attempts
    // counted.
    let mut delivered = 0;
    for _ in 0..6 {
        delivered += notifier.deliver().unwrap();
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
    let expect = clair_jose::sign_hs256(b"0123456789abcdef", "clair-notifier", {
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
    let r = get(&format!("{}/notifier/api/v1/notification/{id}", srv.api));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["notifications"].as_array().unwrap().len(), 2);
}

/// Clair v2 webhooks: 200/201 success after retries within a pass, sent again every
/// renotify interval until the client DELETEs the notification.
fn v2_webhooks(store: Arc<dyn Store>) {
    let id = store
        .create_notification(
            notify::V1,
            &serde_json::json!({"New": {"Vulnerability": {"Name": "CVE-TEST"}}}),
            &[],
        )
        .unwrap();
    let receiver = TestServer::start();
    receiver.put("/secscan/notify", "ok");
    receiver.set("/secscan/notify", Behavior::FailTimes(503, 2));
    let cfg = v2_webhook(&format!("{}/secscan/notify", receiver.url()));
    let n = notifier(&store, WebhookV2::new(cfg.clone()).unwrap());
    assert_eq!(n.deliver().unwrap(), 1, "three tries in one pass");
    let st = store.notification(id).unwrap().unwrap();
    assert_eq!(st.status, clair_store::NotificationStatus::Notified);
    // Renotify interval 0: sent again on the next pass, until deleted through the API.
    assert_eq!(n.deliver().unwrap(), 1);
    let srv = start(store.clone(), clair_http::FetchOptions::default(), 0);
    let r = delete(&format!("{}/v1/notifications/{id}", srv.api));
    assert_eq!(r.status, 200);
    assert_eq!(n.deliver().unwrap(), 0);
    let codes: Vec<u16> = receiver.hits().into_iter().map(|(_, c)| c).collect();
    assert_eq!(codes, vec![503, 503, 200, 200]);
    // A receiver that only ever fails: the pass gives up after `attempts`, a later pass retries.
    let id2 = store
        .create_notification(notify::V1, &serde_json::json!({}), &[])
        .unwrap();
    receiver.put("/down", "");
    receiver.set("/down", Behavior::Status(500));
    let down = notifier(
        &store,
        WebhookV2::new(WebhookV2Config {
            endpoint: format!("{}/down", receiver.url()),
            ..cfg
        })
        .unwrap(),
    );
    assert_eq!(down.deliver().unwrap(), 0);
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
                .create_notification(notify::V4, &serde_json::json!({}), &[])
                .unwrap()
        })
        .collect();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/notify", closed.local_addr().unwrap());
    drop(closed);
    let n = notifier(&store, v4_webhook(&dead, None));
    assert_eq!(n.deliver().unwrap(), 0, "receiver down");
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
                let hook = Webhook::new(WebhookConfig {
                    headers: vec![("X-Clair-Test".into(), "yes".into())],
                    ..v4_webhook_config(&target, None)
                })
                .unwrap();
                let n = notifier(&store, hook);
                let mut total = 0;
                for _ in 0..20 {
                    total += n.deliver().unwrap();
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
        let r = post(&format!("{}/v1/layers", srv.api), &body.to_string());
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // A layer stored before the reverse index existed (no package names): found all the same.
    let top = store.get_v1_layer(names.last().unwrap()).unwrap().unwrap();
    store
        .put_v1_layer(&clair_store::V1Layer {
            name: "legacy-top".into(),
            ..top
        })
        .unwrap();
    assert_eq!(store.v1_layers_unindexed().unwrap().len(), 1);
    let receiver = TestServer::start();
    receiver.put("/hook", "ok");
    let n = Notifier::new(
        srv.state.clone(),
        vec![Arc::new(
            WebhookV2::new(v2_webhook(&format!("{}/hook", receiver.url()))).unwrap(),
        )],
        Options::default(),
    );
    let v1 = clair_test::debian_tracker();
    run_debian(&store, &v1);
    assert_eq!(
        n.compute().unwrap(),
        0,
        "a first operation notifies nothing"
    );
    let mut v2 = v1.clone();
    v2["bash"] = serde_json::json!({"CVE-2099-0100": {"description": "new", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "high"}}}});
    v2["curl"] = serde_json::json!({"CVE-2099-0200": {"description": "curl, added by layer 2", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "7.88.1-10+deb12u99"}, "urgency": "medium"}}}});
    v2.as_object_mut().unwrap().remove("systemd");
    run_debian(&store, &v2);
    assert_eq!(
        n.compute().unwrap(),
        3,
        "bash (new), curl (new), systemd (old)"
    );
    assert_eq!(store.v1_layers_unindexed().unwrap(), []);
    let now = jiff::Timestamp::now();
    assert!(
        store
            .notifications_due(&["v4"], now, 10)
            .unwrap()
            .is_empty(),
        "only the kind a sender takes"
    );
    let ids: Vec<uuid::Uuid> = store
        .notifications_due(&["v1"], now, 10)
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    let mut seen = BTreeMap::new();
    for id in &ids {
        let r = get(&format!("{}/v1/notifications/{id}?limit=10", srv.api));
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
    // Delivered to the Clair v2 webhook, each once.
    assert_eq!(n.deliver().unwrap(), 3);
    let posted: Vec<String> = receiver
        .request_headers()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(posted.len(), 3, "{posted:?}");

    // A vulnerability added through the v1 API is an update operation like any other: its
    // notification (the first manual one included, as Clair v2) names the layer.
    let vuln = serde_json::json!({"Vulnerability": {"Name": "CVE-2099-0300", "NamespaceName": "debian:12",
        "Severity": "High", "FixedIn": [{"Name": "curl", "NamespaceName": "debian:12",
        "VersionFormat": "dpkg", "Version": "7.88.1-10+deb12u99"}]}});
    let r = post(
        &format!("{}/v1/namespaces/debian:12/vulnerabilities", srv.api),
        &vuln.to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(n.compute().unwrap(), 1);
    let manual = store
        .notifications_due(&["v1"], jiff::Timestamp::now(), 10)
        .unwrap();
    let manual = manual
        .iter()
        .find(|m| m.body["New"]["Vulnerability"]["Name"] == "CVE-2099-0300")
        .expect("the manual vulnerability's notification");
    let items = store.notification_items(manual.id, None, 10).unwrap();
    assert_eq!(items.items.len(), 1);
    assert_eq!(items.items[0].body["layer"], "layer-1");
}

/// A TLS receiver on `addr` (requiring client certificates from `client_ca` when given):
/// counts the POSTs it answers 200.
fn tls_receiver(
    rt: &tokio::runtime::Runtime,
    addr: &str,
    server: &clair_test::certs::Pair,
    client_ca: Option<&std::path::Path>,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "ok" }
        }),
    );
    let tls = clair_http::tls::Reloadable::new(clair_http::tls::TlsFiles {
        cert: server.cert.clone(),
        key: server.key.clone(),
        client_ca: client_ca.map(|p| p.to_path_buf()),
    })
    .unwrap();
    let l = std::net::TcpListener::bind(addr).unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    rt.spawn(async move {
        let l = tokio::net::TcpListener::from_std(l).unwrap();
        clair_http::tls::serve_tls(l, router, tls, std::future::pending())
            .await
            .unwrap();
    });
    (format!("{}:{port}", addr.rsplit_once(':').unwrap().0), hits)
}

/// Clair v2's webhook with client certificates (`certfile`, `keyfile`, `cafile`) and
/// `servername`, and the extra CA bundle on Clair v4's webhook: each needed, each enough.
#[test]
fn webhooks_over_tls() {
    // The server's names: 127.0.0.1 and localhost.
    let Some((dir, ca, server)) = clair_test::certs::ca_and_server("ca", "server", "receiver")
    else {
        return;
    };
    let client = clair_test::certs::leaf(dir.path(), &ca, "client", "clair-notifier", true);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Clair v2's receiver is reached at 127.0.0.2, a name its certificate does not carry.
    let (v2_addr, v2_hits) = tls_receiver(&rt, "127.0.0.2:0", &server, Some(&ca.cert));
    let (v4_addr, v4_hits) = tls_receiver(&rt, "127.0.0.1:0", &server, None);
    let store = sqlite();
    let ca_pem = Arc::new(std::fs::read(&ca.cert).unwrap());
    let client_tls = clair_service::notify::webhook::ClientTls {
        cert: client.cert.clone(),
        key: client.key.clone(),
        ca: Some(ca.cert.clone()),
        server_name: Some("localhost".into()),
    };
    let v2 = |tls: Option<clair_service::notify::webhook::ClientTls>| WebhookV2Config {
        attempts: 1,
        client_tls: tls,
        ..v2_webhook(&format!("https://{v2_addr}/hook"))
    };
    let deliver_v2 = |cfg: WebhookV2Config| {
        let id = store
            .create_notification(notify::V1, &serde_json::json!({}), &[])
            .unwrap();
        notifier(&store, WebhookV2::new(cfg).unwrap())
            .deliver()
            .unwrap();
        store.notification(id).unwrap().unwrap()
    };
    let n = deliver_v2(v2(Some(client_tls.clone())));
    assert_eq!(
        n.status,
        clair_store::NotificationStatus::Notified,
        "{:?}",
        n.last_error
    );
    assert_eq!(v2_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    store.acknowledge_notification(n.id).unwrap();
    // Without the client certificate the receiver refuses the handshake; without the server
    // name the receiver's certificate does not match 127.0.0.2.
    for cfg in [
        v2(None),
        v2(Some(clair_service::notify::webhook::ClientTls {
            server_name: None,
            ..client_tls.clone()
        })),
    ] {
        let n = deliver_v2(cfg.clone());
        assert_eq!(
            n.status,
            clair_store::NotificationStatus::Failed,
            "{:?}",
            cfg.client_tls
        );
        store.acknowledge_notification(n.id).unwrap();
    }
    assert_eq!(v2_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    // An unreadable key names its file and setting.
    let e = WebhookV2::new(v2(Some(clair_service::notify::webhook::ClientTls {
        key: dir.path().join("missing.key"),
        ..client_tls
    })))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("notifier.http.keyfile") && e.contains("missing.key"),
        "{e}"
    );

    // Clair v4's webhook trusts the outgoing CA bundle (`tls.root_ca`, `CLAIR_CA_FILE`).
    let deliver_v4 = |ca_pem: Option<Arc<Vec<u8>>>| {
        let id = store
            .create_notification(notify::V4, &serde_json::json!({}), &[])
            .unwrap();
        let hook = Webhook::new(WebhookConfig {
            ca_pem,
            ..v4_webhook_config(&format!("https://{v4_addr}/hook"), None)
        })
        .unwrap();
        notifier(&store, hook).deliver().unwrap();
        store.notification(id).unwrap().unwrap().status
    };
    assert_eq!(deliver_v4(None), clair_store::NotificationStatus::Failed);
    assert_eq!(v4_hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(
        deliver_v4(Some(ca_pem)),
        clair_store::NotificationStatus::Delivered
    );
    assert_eq!(
        v4_hits.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "this one, and the failed one retried"
    );
}

clair_test::on_both_databases! {
    sqlite: sqlite(), postgres: postgres();
    flow => notifications_sqlite, notifications_postgres;
    v2_webhooks => v2_webhooks_sqlite, v2_webhooks_postgres;
    durable_and_once => durable_and_once_sqlite, durable_and_once_postgres;
    v1_flow => v1_notifications_sqlite, v1_notifications_postgres;
}
