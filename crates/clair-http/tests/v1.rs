//! The Clair v2 API (`/v1`) over real HTTP on 127.0.0.1, on SQLite and PostgreSQL: a
//! klar-style flow (each layer of the real bookworm-layered image posted with its parent, by URL
//! with an Authorization header, then `GET ?vulnerabilities` on the top layer), and the error
//! messages and status codes clients match on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use clair_http::FetchOptions;
use clair_store::Store;
use clair_test::http::{Behavior, TestServer};
use common::*;
use serde_json::Value;

/// klar's layer names: hex(config digest) + hex(layer digest).
fn klar_name(layer: &str) -> String {
    format!("{}{}", "c".repeat(64), &layer[7..])
}

fn post_layer(srv: &Server, body: &Value) -> Resp {
    post(&format!("{}/v1/layers", srv.api), &body.to_string())
}

/// Clair v2 answers an empty list as `null` (a pointer to a nil slice), not as a missing key.
#[test]
fn empty_lists_are_null_as_clair_v2_sends_them() {
    let srv = start(sqlite(), FetchOptions::default(), 0);
    let r = call("GET", &format!("{}/v1/namespaces", srv.api), &[], None);
    assert_eq!(
        (r.status, r.json()),
        (200, serde_json::json!({"Namespaces": null}))
    );
}

fn klar_flow(store: Arc<dyn Store>) {
    let srv = start(
        store.clone(),
        FetchOptions {
            backoff: Duration::from_millis(10),
            ..FetchOptions::default()
        },
        0,
    );
    load_debian(&store);
    srv.state.refresh().unwrap();
    let (_, layers) = layered();
    let reg = TestServer::start();
    for d in &layers {
        let p = format!("/v2/library/app/blobs/{d}");
        reg.put(&p, blob(d));
        reg.set(
            &p,
            Behavior::RequireHeader("Authorization".into(), "Bearer regtoken".into()),
        );
    }
    let names: Vec<String> = layers.iter().map(|d| klar_name(d)).collect();

    // A layer whose parent was never posted: the exact message Quay re-queues on.
    let r = post_layer(
        &srv,
        &serde_json::json!({"Layer": {"Name": names[1], "Path": format!("{}/v2/library/app/blobs/{}", reg.url(), layers[1]),
            "ParentName": names[0], "Format": "Docker"}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({"Error": {"Message": "worker: parent layer is unknown, it must be processed first"}})
    );

    // Post base to top, as klar does (Features null, Headers with the registry token).
    for (i, d) in layers.iter().enumerate() {
        let parent = if i == 0 {
            String::new()
        } else {
            names[i - 1].clone()
        };
        let r = post_layer(
            &srv,
            &serde_json::json!({"Layer": {"Name": names[i], "Path": format!("{}/v2/library/app/blobs/{d}", reg.url()),
                "ParentName": parent, "Format": "Docker", "Features": null,
                "Headers": {"Authorization": "Bearer regtoken"}}}),
        );
        assert_eq!(r.status, 201, "layer {i}: {}", r.body);
        assert_eq!(r.header("server"), Some("clair"));
        assert_eq!(
            r.header("content-type"),
            Some("application/json;charset=utf-8")
        );
        assert!(r.body.ends_with('\n'));
        let l = &r.json()["Layer"];
        assert_eq!(l["Name"], names[i].as_str());
        assert_eq!(l["IndexedByVersion"], 3);
        assert_eq!(l["Format"], "Docker");
        assert_eq!(l["Headers"]["Authorization"], "Bearer regtoken");
        if i == 0 {
            assert!(
                l.get("ParentName").is_none(),
                "empty fields are omitted: {l}"
            );
        }
    }
    // Posting a known layer again is a no-op 201 (no download).
    reg.clear_hits();
    let r = post_layer(
        &srv,
        &serde_json::json!({"layer": {"name": names[0], "path": format!("{}/v2/library/app/blobs/{}", reg.url(), layers[0]), "format": "docker"}}),
    );
    assert_eq!(
        r.status, 201,
        "field names are case-insensitive: {}",
        r.body
    );
    assert!(reg.hits().is_empty());

    // The top layer without flags: the header only.
    let top = names.last().unwrap();
    let r = call("GET", &format!("{}/v1/layers/{top}", srv.api), &[], None);
    assert_eq!(r.status, 200);
    let l = &r.json()["Layer"];
    assert_eq!(l["NamespaceName"], "debian:12");
    assert_eq!(l["ParentName"], names[2].as_str());
    assert!(l.get("Features").is_none());

    // ?features: the whole image's packages, each added by the layer that introduced it.
    let r = get(&format!("{}/v1/layers/{top}?features", srv.api));
    let features = r.json()["Layer"]["Features"].as_array().unwrap().clone();
    assert_eq!(features.len(), 105);
    let f = |name: &str| {
        features
            .iter()
            .find(|f| f["Name"] == name)
            .unwrap_or_else(|| panic!("no feature {name}"))
            .clone()
    };
    assert_eq!(f("curl")["AddedBy"], names[1].as_str());
    assert_eq!(f("bash")["AddedBy"], names[0].as_str());
    assert_eq!(f("bash")["VersionFormat"], "dpkg");
    assert_eq!(f("bash")["NamespaceName"], "debian:12");
    assert!(f("bash").get("Vulnerabilities").is_none());

    // ?vulnerabilities (klar sends only this flag): features with their vulnerabilities.
    let r = get(&format!("{}/v1/layers/{top}?vulnerabilities", srv.api));
    assert_eq!(r.status, 200);
    let features = r.json()["Layer"]["Features"].as_array().unwrap().clone();
    assert_eq!(features.len(), 105);
    let libc = features.iter().find(|f| f["Name"] == "libc6").unwrap();
    let v = libc["Vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["Name"] == "CVE-2099-0001")
        .unwrap_or_else(|| panic!("{libc}"));
    assert_eq!(v["FixedBy"], "2.36-9+deb12u15");
    assert_eq!(v["NamespaceName"], "debian:12");
    // Clair v2's severity scale: Debian's urgency "medium" is Medium (Clair v4 says High).
    assert_eq!(v["Severity"], "Medium");
    assert!(v.get("FixedIn").is_none());
    // An open issue has no FixedBy at all.
    let sd = features
        .iter()
        .find(|f| f["Name"] == "libsystemd0")
        .unwrap();
    let open = clair_test::find(&sd["Vulnerabilities"], "Name", "CVE-2099-0003");
    assert!(open.get("FixedBy").is_none(), "{open}");
    assert_eq!(open["Severity"], "Low", "urgency low, on Clair v2's scale");

    // Namespaces, metrics.
    let r = call("GET", &format!("{}/v1/namespaces", srv.api), &[], None);
    assert!(
        r.json()["Namespaces"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"Name": "debian:12", "VersionFormat": "dpkg"})),
        "{}",
        r.body
    );
    let r = call("GET", &format!("{}/v1/metrics", srv.api), &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("clair_http_requests_total"));

    // DELETE a middle layer: it and its descendants go; 200 with no body; then 404.
    let r = delete(&format!("{}/v1/layers/{}", srv.api, names[2]));
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let r = call("GET", &format!("{}/v1/layers/{top}", srv.api), &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["Error"]["Message"], "the resource cannot be found");
    assert_eq!(
        call("DELETE", &format!("{}/v1/layers/{top}", srv.api), &[], None).status,
        404
    );
    assert_eq!(
        call(
            "GET",
            &format!("{}/v1/layers/{}", srv.api, names[1]),
            &[],
            None
        )
        .status,
        200
    );
}

fn v1_errors(store: Arc<dyn Store>) {
    let srv = start(
        store,
        FetchOptions {
            backoff: Duration::from_millis(10),
            attempts: 1,
            ..FetchOptions::default()
        },
        0,
    );
    let (_, layers) = layered();
    for (body, want) in [
        (serde_json::json!({}), "failed to provide layer"),
        (
            serde_json::json!({"Layer": {"Path": "/x", "Format": "Docker"}}),
            "could not process a layer which does not have a name",
        ),
        (
            serde_json::json!({"Layer": {"Name": "a", "Format": "Docker"}}),
            "could not process a layer which does not have a path",
        ),
        (
            serde_json::json!({"Layer": {"Name": "a", "Path": "/x"}}),
            "could not process a layer which does not have a format",
        ),
        (
            serde_json::json!({"Layer": {"Name": "a", "Path": "/x", "Format": "ACI"}}),
            "unsupported image format 'ACI'",
        ),
        (
            serde_json::json!({"Layer": {"Name": "a", "Path": "/etc/passwd", "Format": "Docker"}}),
            "layer path must be an http or https URL (local files are read only with \
             clair_rs.allow_local_layer_paths)",
        ),
    ] {
        let r = post_layer(&srv, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["Error"]["Message"], want, "{body}");
    }
    let r = call("POST", &format!("{}/v1/layers", srv.api), &[], Some("{"));
    assert_eq!(r.status, 400);

    // A registry answering 404: could not find layer.
    let reg = TestServer::start();
    let r = post_layer(
        &srv,
        &serde_json::json!({"Layer": {"Name": "gone", "Path": format!("{}/missing", reg.url()), "Format": "Docker"}}),
    );
    assert_eq!(
        (r.status, r.json()["Error"]["Message"].as_str()),
        (400, Some("could not find layer"))
    );

    // Bytes that are no archive: 422 with Clair's extract message.
    reg.put("/junk", b"\x1f\x8b\x08 this is not a gzip stream".to_vec());
    let r = post_layer(
        &srv,
        &serde_json::json!({"Layer": {"Name": "junk", "Path": format!("{}/junk", reg.url()), "Format": "Docker"}}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["Error"]["Message"],
        "tarutil: could not extract the archive"
    );

    // A local file path is refused by default, here and for the SQS receiver (which calls
    // index_layer); accepted (as Clair v2 does) only with clair_rs.allow_local_layer_paths.
    let path = clair_test::images("oci")
        .join("blobs/sha256")
        .join(&layers[0][7..]);
    let local = serde_json::json!({"Layer": {"Name": "local", "Path": path.display().to_string(), "Format": "Docker"}});
    let e = clair_http::v1::index_layer(&srv.state, local.to_string().as_bytes()).unwrap_err();
    assert_eq!(e.status(), 400, "{}", e.message());
    assert!(srv.state.store.get_v1_layer("local").unwrap().is_none());
    let mut state = srv.state.clone();
    state.allow_local_layer_paths = true;
    let srv = start_state(state);
    let r = post_layer(
        &srv,
        &serde_json::json!({"Layer": {"Name": "a", "Path": "/nonexistent/layer.tar", "Format": "Docker"}}),
    );
    assert_eq!(
        (r.status, r.json()["Error"]["Message"].as_str()),
        (400, Some("could not find layer"))
    );
    let r = post_layer(
        &srv,
        &serde_json::json!({"Layer": {"Name": "local", "Path": path.display().to_string(), "Format": "Docker"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = get(&format!("{}/v1/layers/local?features", srv.api));
    assert_eq!(
        r.json()["Layer"]["Features"].as_array().unwrap().len(),
        88,
        "bookworm-minbase's base layer"
    );

    // Paths outside /v1 are Go's plain 404 inside /v1.
    let r = call("GET", &format!("{}/v1/nothing", srv.api), &[], None);
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
}

const KEY: &str = "XxoPtCUzrUv4JV5dS+yQ+MdW7yLEJnRMwigVY/bpgtQ=";

/// Vulnerability routes: paging with tokens that a second instance sharing the key and the
/// database accepts (and one with another key refuses); manual vulnerabilities and fixes.
fn vulnerabilities(store: Arc<dyn Store>) {
    let a = start_keyed(store.clone(), FetchOptions::default(), 0, Some(KEY));
    let b = start_keyed(store.clone(), FetchOptions::default(), 0, Some(KEY));
    let c = start_keyed(store.clone(), FetchOptions::default(), 0, None);
    load_debian(&store);
    let ns = "debian%3A12";
    let list = |srv: &Server, q: &str| {
        get(&format!(
            "{}/v1/namespaces/{ns}/vulnerabilities{q}",
            srv.api
        ))
    };
    let r = list(&a, "");
    assert_eq!(
        (r.status, r.json()["Error"]["Message"].as_str()),
        (400, Some("must provide limit query parameter"))
    );
    let mut want = std::collections::BTreeSet::new();
    store
        .for_each_latest_vulnerability(Some(&["debian:12".to_string()]), &mut |v| {
            want.insert(v.name);
        })
        .unwrap();
    assert!(want.len() >= 5, "{want:?}");

    // Pages of 2, alternating instances; every name once, in order.
    let mut got = Vec::new();
    let mut page: Option<String> = None;
    for i in 0.. {
        let srv = if i % 2 == 0 { &a } else { &b };
        let q = match &page {
            Some(t) => format!("?limit=2&page={t}"),
            None => "?limit=2".into(),
        };
        let r = list(srv, &q);
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        for x in v["Vulnerabilities"].as_array().unwrap() {
            assert_eq!(x["NamespaceName"], "debian:12");
            assert!(x.get("FixedIn").is_none());
            got.push(x["Name"].as_str().unwrap().to_string());
        }
        match v.get("NextPage") {
            Some(t) => {
                let t = t.as_str().unwrap().to_string();
                assert!(t.starts_with("gAAAAA"), "{t}");
                if i == 0 {
                    // Another key: the token means nothing.
                    let r = list(&c, &format!("?limit=2&page={t}"));
                    assert_eq!(
                        (r.status, r.json()["Error"]["Message"].as_str()),
                        (
                            400,
                            Some("invalid page format: invalid or expired pagination token")
                        )
                    );
                }
                page = Some(t);
            }
            None => break,
        }
        assert!(i < 20);
    }
    assert_eq!(got, want.iter().cloned().collect::<Vec<_>>());
    assert_eq!(list(&a, "?limit=2&page=garbage").status, 400);
    assert_eq!(
        call(
            "GET",
            &format!(
                "{}/v1/namespaces/nowhere%3A1/vulnerabilities?limit=1",
                a.api
            ),
            &[],
            None
        )
        .status,
        404
    );

    // One vulnerability, with its fixes on request.
    let one = format!("{}/v1/namespaces/{ns}/vulnerabilities/CVE-2099-0001", a.api);
    let r = call("GET", &one, &[], None);
    assert_eq!(r.status, 200);
    assert!(r.json()["Vulnerability"].get("FixedIn").is_none());
    let r = call("GET", &format!("{one}?fixedIn"), &[], None);
    let fixed = r.json()["Vulnerability"]["FixedIn"].clone();
    assert!(
        fixed
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["Name"] == "glibc"
                && f["Version"] == "2.36-9+deb12u15"
                && f["VersionFormat"] == "dpkg"),
        "{fixed}"
    );
    let r = call("GET", &format!("{one}/fixes"), &[], None);
    assert_eq!(r.json()["Features"], fixed);
    // Feed records cannot be deleted through the API (the next update would restore them).
    assert_eq!(call("DELETE", &one, &[], None).status, 404);

    // A manual vulnerability: created on one instance, visible on the other.
    let post = |body: Value| {
        post(
            &format!("{}/v1/namespaces/{ns}/vulnerabilities", a.api),
            &body.to_string(),
        )
    };
    for (body, msg) in [
        (
            serde_json::json!({"Vulnerability": {"Name": "X", "NamespaceName": "debian:12", "Severity": "Apocalyptic"}}),
            "failed to parse Severity from input",
        ),
        (
            serde_json::json!({"Vulnerability": {"Name": "X", "NamespaceName": "debian:12", "FixedIn": [{"Name": "z", "VersionFormat": "cobol", "Version": "1"}]}}),
            "unknown version format",
        ),
        (
            serde_json::json!({"Vulnerability": {"Name": "X", "NamespaceName": "debian:12", "FixedIn": [{"Name": "z", "VersionFormat": "dpkg", "Version": "not a version!"}]}}),
            "invalid version",
        ),
    ] {
        let r = post(body);
        assert_eq!(
            (r.status, r.json()["Error"]["Message"].as_str()),
            (400, Some(msg)),
            "{}",
            r.body
        );
    }
    let r = post(
        serde_json::json!({"Vulnerability": {"Name": "CVE-2099-9999", "NamespaceName": "debian:12",
        "Description": "made by hand", "Link": "https://example.org/CVE-2099-9999", "Severity": "high",
        "FixedIn": [{"Name": "zlib", "VersionFormat": "dpkg", "Version": "1:1.2.13.dfsg-2"}, {"Name": "bash", "VersionFormat": "dpkg", "Version": "None"}]}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["Vulnerability"]["Severity"], "High");
    let mine = format!("{}/v1/namespaces/{ns}/vulnerabilities/CVE-2099-9999", b.api);
    let r = call("GET", &format!("{mine}?fixedIn"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json()["Vulnerability"].clone();
    assert_eq!(v["Description"], "made by hand");
    assert_eq!(
        v["FixedIn"],
        serde_json::json!([
            {"Name": "bash", "NamespaceName": "debian:12", "VersionFormat": "dpkg", "Version": "None"},
            {"Name": "zlib", "NamespaceName": "debian:12", "VersionFormat": "dpkg", "Version": "1:1.2.13.dfsg-2"}
        ])
    );
    // The matcher index sees it right away on the instance that wrote it.
    assert!(
        a.state
            .live
            .current()
            .generation()
            .contains("clair-v1-api="),
        "{}",
        a.state.live.current().generation()
    );

    // PUT: FixedIn must be empty; severity and description change.
    let r = call(
        "PUT",
        &mine,
        &[],
        Some(
            &serde_json::json!({"Vulnerability": {"Severity": "Low", "FixedIn": [{"Name": "x"}]}})
                .to_string(),
        ),
    );
    assert_eq!(
        (r.status, r.json()["Error"]["Message"].as_str()),
        (400, Some("Vulnerability.FixedIn must be empty"))
    );
    let r = call(
        "PUT",
        &mine,
        &[],
        Some(
            &serde_json::json!({"Vulnerability": {"Severity": "Low", "Description": "revised"}})
                .to_string(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = call("GET", &mine, &[], None).json()["Vulnerability"].clone();
    assert_eq!(
        (v["Severity"].as_str(), v["Description"].as_str()),
        (Some("Low"), Some("revised"))
    );

    // Fixes: name mismatch, add, delete.
    let fix = |name: &str| format!("{mine}/fixes/{name}");
    let r = call("PUT", &fix("curl"), &[], Some(&serde_json::json!({"Feature": {"Name": "wget", "VersionFormat": "dpkg", "Version": "1.0"}}).to_string()));
    assert_eq!(
        (r.status, r.json()["Error"]["Message"].as_str()),
        (400, Some("feature name in URL and JSON do not match"))
    );
    let r = call("PUT", &fix("curl"), &[], Some(&serde_json::json!({"Feature": {"Name": "curl", "VersionFormat": "dpkg", "Version": "7.88.1-10+deb12u99"}}).to_string()));
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<String> = call("GET", &format!("{mine}/fixes"), &[], None).json()["Features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["bash", "curl", "zlib"]);
    assert_eq!(call("DELETE", &fix("curl"), &[], None).status, 200);
    assert_eq!(call("DELETE", &fix("curl"), &[], None).status, 404);
    assert_eq!(call("DELETE", &mine, &[], None).status, 200);
    assert_eq!(call("GET", &mine, &[], None).status, 404);
}

/// Notification pages: layers per side capped by `limit`, tokens between pages, DELETE.
fn notifications(store: Arc<dyn Store>) {
    let a = start_keyed(store.clone(), FetchOptions::default(), 0, Some(KEY));
    let b = start_keyed(store.clone(), FetchOptions::default(), 0, Some(KEY));
    let vuln = |fixed: &str| {
        serde_json::json!({"Vulnerability": {"Name": "CVE-TEST", "NamespaceName": "debian:8", "Severity": "Low",
            "FixedIn": [{"Name": "grep", "NamespaceName": "debian:8", "VersionFormat": "dpkg", "Version": fixed}]}})
    };
    let mut items = Vec::new();
    for i in 1..=3 {
        items.push(serde_json::json!({"side": "new", "index": i, "layer": format!("new-{i}")}));
    }
    items.push(serde_json::json!({"side": "old", "index": 7, "layer": "old-7"}));
    let id = store
        .create_notification(
            clair_service::notify::V1,
            &serde_json::json!({"Old": vuln("2.24"), "New": vuln("2.25")}),
            &items,
        )
        .unwrap();
    let url = |srv: &Server, q: &str| format!("{}/v1/notifications/{id}{q}", srv.api);
    let r = call("GET", &url(&a, ""), &[], None);
    assert_eq!(
        (r.status, r.json()["Error"]["Message"].as_str()),
        (400, Some("must provide limit query parameter"))
    );
    let r = call("GET", &url(&a, "?limit=2"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let n = r.json()["Notification"].clone();
    assert_eq!(n["Name"], id.to_string());
    assert_eq!(n["Limit"], 2);
    assert!(n["Page"].as_str().unwrap().starts_with("gAAAAA"));
    assert!(n["Created"].as_str().unwrap().parse::<i64>().unwrap() > 1_700_000_000);
    // Neither delivered nor deleted yet: Clair v2 leaves both out.
    assert!(
        n.get("Notified").is_none() && n.get("Deleted").is_none(),
        "{n}"
    );
    assert_eq!(n["New"]["Vulnerability"]["FixedIn"][0]["Version"], "2.25");
    assert_eq!(
        n["New"]["LayersIntroducingVulnerability"],
        serde_json::json!(["new-1", "new-2"])
    );
    assert_eq!(
        n["New"]["OrderedLayersIntroducingVulnerability"][1],
        serde_json::json!({"Index": 2, "LayerName": "new-2"})
    );
    assert_eq!(
        n["Old"]["LayersIntroducingVulnerability"],
        serde_json::json!(["old-7"])
    );
    // The next page on the other instance: the rest of New, Old done; then no NextPage.
    let next = n["NextPage"].as_str().unwrap().to_string();
    let r = call("GET", &url(&b, &format!("?limit=2&page={next}")), &[], None);
    let n = r.json()["Notification"].clone();
    assert_eq!(n["Page"], next.as_str());
    assert_eq!(
        n["New"]["LayersIntroducingVulnerability"],
        serde_json::json!(["new-3"])
    );
    assert!(n["Old"].get("LayersIntroducingVulnerability").is_none());
    assert!(n.get("NextPage").is_none(), "{n}");
    // limit=-1: no layers at all.
    let n = call("GET", &url(&a, "?limit=-1"), &[], None).json()["Notification"].clone();
    assert!(n["New"].get("LayersIntroducingVulnerability").is_none());
    assert!(n.get("NextPage").is_none());
    assert_eq!(
        call("GET", &url(&a, "?limit=2&page=bogus"), &[], None).status,
        400
    );
    let missing = format!("{}/v1/notifications/{}?limit=1", a.api, uuid_zero());
    assert_eq!(call("GET", &missing, &[], None).status, 404);
    // Delivered (the notifier's record), then deleted by the client: both times appear.
    store
        .record_delivery(
            id,
            &clair_store::Delivery::Notified {
                again_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
            },
        )
        .unwrap();
    let n = call("GET", &url(&a, "?limit=1"), &[], None).json()["Notification"].clone();
    let notified: i64 = n["Notified"].as_str().unwrap().parse().unwrap();
    let created: i64 = n["Created"].as_str().unwrap().parse().unwrap();
    assert!(notified >= created, "{n}");
    assert!(n.get("Deleted").is_none(), "{n}");
    assert_eq!(call("DELETE", &url(&a, ""), &[], None).status, 200);
    assert_eq!(
        store.notification(id).unwrap().unwrap().status,
        clair_store::NotificationStatus::Deleted
    );
    // Still readable after deletion, as in Clair v2, with both times.
    let r = call("GET", &url(&a, "?limit=1"), &[], None);
    assert_eq!(r.status, 200);
    let n = r.json()["Notification"].clone();
    assert_eq!(n["Notified"], notified.to_string());
    let deleted: i64 = n["Deleted"].as_str().unwrap().parse().unwrap();
    assert!(deleted >= notified, "{n}");
    assert_eq!(n["New"]["Vulnerability"]["Name"], "CVE-TEST");
}

fn uuid_zero() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}

clair_test::on_both_databases! {
    sqlite: sqlite(), postgres: postgres();
    klar_flow => klar_flow_sqlite, klar_flow_postgres;
    v1_errors => v1_errors_sqlite, v1_errors_postgres;
    vulnerabilities => vulnerabilities_sqlite, vulnerabilities_postgres;
    notifications => notifications_sqlite, notifications_postgres;
}
