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
    call(
        "POST",
        &format!("{}/v1/layers", srv.api),
        &[],
        Some(&body.to_string()),
    )
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
    let r = call(
        "GET",
        &format!("{}/v1/layers/{top}?features", srv.api),
        &[],
        None,
    );
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
    let r = call(
        "GET",
        &format!("{}/v1/layers/{top}?vulnerabilities", srv.api),
        &[],
        None,
    );
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
    let sev = v["Severity"].as_str().unwrap();
    assert!(
        [
            "Unknown",
            "Negligible",
            "Low",
            "Medium",
            "High",
            "Critical",
            "Defcon1"
        ]
        .contains(&sev),
        "{sev}"
    );
    assert!(v.get("FixedIn").is_none());
    // An open issue has no FixedBy at all.
    let sd = features
        .iter()
        .find(|f| f["Name"] == "libsystemd0")
        .unwrap();
    let open = sd["Vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["Name"] == "CVE-2099-0003")
        .unwrap();
    assert!(open.get("FixedBy").is_none(), "{open}");

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
    let r = call(
        "DELETE",
        &format!("{}/v1/layers/{}", srv.api, names[2]),
        &[],
        None,
    );
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
            serde_json::json!({"Layer": {"Name": "a", "Path": "/nonexistent/layer.tar", "Format": "Docker"}}),
            "could not find layer",
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

    // A local file path is accepted (Clair v2 does), and the same blob under another name is
    // not read again.
    let path = clair_test::images("oci")
        .join("blobs/sha256")
        .join(&layers[0][7..]);
    let r = post_layer(
        &srv,
        &serde_json::json!({"Layer": {"Name": "local", "Path": path.display().to_string(), "Format": "Docker"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = call(
        "GET",
        &format!("{}/v1/layers/local?features", srv.api),
        &[],
        None,
    );
    assert_eq!(
        r.json()["Layer"]["Features"].as_array().unwrap().len(),
        88,
        "bookworm-minbase's base layer"
    );

    // Paths outside /v1 are Go's plain 404 inside /v1.
    let r = call("GET", &format!("{}/v1/nothing", srv.api), &[], None);
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
}

#[test]
fn klar_flow_sqlite() {
    klar_flow(sqlite());
}

#[test]
fn klar_flow_postgres() {
    if let Some(s) = postgres() {
        klar_flow(s);
    }
}

#[test]
fn v1_errors_sqlite() {
    v1_errors(sqlite());
}

#[test]
fn v1_errors_postgres() {
    if let Some(s) = postgres() {
        v1_errors(s);
    }
}
