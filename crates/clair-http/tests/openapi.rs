//! Every Clair v4 response Quay and clairctl read, from a real server on 127.0.0.1 on SQLite and
//! PostgreSQL, validated against both OpenAPI documents in ../shared/spec/openapi: Quay's
//! (`util/secscan/v4/clair-v4.openapi.json`, which Quay validates every response against with
//! Python's `jsonschema`, retrying forever what fails) and Clair's own
//! (`httptransport/api/v1/openapi.json`).
//!
//! The responses cover OS and language packages (the Debian image plus a layer with a Python
//! distribution), OS and language vulnerabilities (the Debian tracker and an OSV feed), index
//! state, success and error index reports, error bodies, and notification pages with OS and
//! language vulnerabilities made by real feed changes.
//!
//! Clair's own document contradicts what Clair itself writes in a few places; those schemas are
//! corrected here by [`clair_errata`], each with its reason (docs/compatibility.md lists them).
//! Quay's document is used unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use clair_http::FetchOptions;
use clair_service::notify::Options as NotifyOptions;
use clair_store::Store;
use clair_test::http::TestServer;
use common::*;
use jsonschema::{Draft, Registry, Validator};
use serde_json::{Value, json};

const QUAY: &str = "urn:quay:clair-v4.openapi.json";

/// The Clair v4 notification of `updater`'s last update (its last two operations), stored.
fn notify_update(
    store: &dyn Store,
    ns: &dyn clair_matcher::Namespaces,
    updater: &str,
    opts: NotifyOptions,
) -> Result<Option<uuid::Uuid>, clair_http::Error> {
    let ops = store.update_operations(clair_store::OpKind::Vulnerability, Some(updater))?;
    let diff = store.update_diff(Some(ops[1].id), ops[0].id)?;
    let source = clair_service::notify::source::LocalSource { store, ns };
    Ok(clair_service::notify::v4::compute(&source, &diff, opts)?
        .map(|n| store.create_notification(&n.kind, &n.body, &n.items))
        .transpose()?)
}

/// Corrections to Clair's own schemas where Clair (claircore) writes something else, as RFC
/// 6902 patches per component. Each keeps what Quay and clairctl read valid.
fn clair_errata() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "package",
            json!([{"op": "replace", "path": "/properties/kind/enum",
                    "value": ["BINARY", "SOURCE", "binary", "source"]}]),
            "claircore writes the package kind in lower case (`binary`, `source`), and its \
             decoder reads only that spelling",
        ),
        (
            "cpe",
            json!([{"op": "add", "path": "/oneOf/-", "value": {"type": "string", "const": ""}}]),
            "claircore writes an unknown CPE as the empty string (`\"cpe\": \"\"`)",
        ),
        (
            "vulnerability_core",
            json!([{"op": "remove", "path": "/dependentRequired"}]),
            "claircore omits `arch_op` when the record has no architecture constraint",
        ),
        (
            "repository",
            json!([{"op": "remove", "path": "/required"}]),
            "a vulnerability's repository has no document id (claircore omits it)",
        ),
        (
            "vulnerability_summary",
            json!([{"op": "add", "path": "/properties", "value": {
                "description": {"type": "string"},
                "links": {"type": "string"},
                "repo": {"$ref": "repository.schema.json"},
            }}]),
            "Clair's notifier writes `description`, `links` and `repo` in each summary \
             (notifier.VulnSummary), and Quay reads `description` and `links`",
        ),
    ]
}

/// Validators for one response kind under both documents.
struct Schemas {
    quay: Value,
    clair_components: Vec<(String, Value)>,
}

/// The answer has `status`: its JSON body.
fn ok(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    r.json()
}

impl Schemas {
    fn load() -> Schemas {
        let dir = clair_test::shared().join("spec/openapi");
        let read = |n: &str| -> Value {
            serde_json::from_slice(&std::fs::read(dir.join(n)).unwrap()).unwrap()
        };
        let quay = read("quay-clair-v4.openapi.json");
        let clair = read("clair-v1.openapi.json");
        let mut clair_components = Vec::new();
        let errata = clair_errata();
        for (name, schema) in clair["components"]["schemas"].as_object().unwrap() {
            let mut schema = schema.clone();
            for (n, patch, why) in &errata {
                if n == name {
                    let p: json_patch::Patch = serde_json::from_value(patch.clone()).unwrap();
                    json_patch::patch(&mut schema, &p)
                        .unwrap_or_else(|e| panic!("erratum for {n} ({why}): {e}"));
                }
            }
            // Components without an $id (the token) are not JSON Schemas of a response.
            if let Some(id) = schema["$id"].as_str() {
                clair_components.push((id.to_string(), schema));
            }
        }
        for (n, _, _) in &errata {
            assert!(
                clair["components"]["schemas"].get(n).is_some(),
                "erratum for a component that does not exist: {n}"
            );
        }
        Schemas {
            quay,
            clair_components,
        }
    }

    fn registry(&self) -> Registry<'_> {
        Registry::new()
            .draft(Draft::Draft202012)
            .add(QUAY, &self.quay)
            .unwrap()
            .extend(self.clair_components.iter().map(|(id, s)| (id.as_str(), s)))
            .unwrap()
            .prepare()
            .unwrap()
    }

    /// Check `instance` against Quay's component `quay` (when given) and Clair's component
    /// `clair` (when given); panics listing every error.
    /// GET `url`, which must answer 200, and check its body as `check` does.
    fn check_get(&self, what: &str, url: &str, quay: Option<&str>, clair: Option<&str>) {
        self.check(what, &ok(&get(url), 200), quay, clair);
    }

    fn check(&self, what: &str, instance: &Value, quay: Option<&str>, clair: Option<&str>) {
        let registry = self.registry();
        let build = |root: Value| -> Validator {
            jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_registry(&registry)
                .build(&root)
                .unwrap_or_else(|e| panic!("{what}: schema {root}: {e}"))
        };
        let mut targets = Vec::new();
        if let Some(q) = quay {
            targets.push((
                format!("Quay's {q}"),
                build(json!({"$ref": format!("{QUAY}#/components/schemas/{q}")})),
            ));
        }
        if let Some(c) = clair {
            targets.push((
                format!("Clair's {c}"),
                build(json!({"$ref": format!("https://clairproject.org/api/http/v1/{c}.schema.json")})),
            ));
        }
        for (name, v) in targets {
            let errors: Vec<String> = v
                .iter_errors(instance)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{what} fails {name}:\n  {}\n{}",
                errors.join("\n  "),
                serde_json::to_string_pretty(instance).unwrap()
            );
        }
    }
}

/// A layer with a Python distribution (a language package) over the Debian base layer.
fn python_layer() -> Vec<u8> {
    clair_test::tar::gzip(&clair_test::tar::build(&[
        clair_test::tar::Member::dir("usr/lib/python3/dist-packages/clairtest-1.0.dist-info"),
        clair_test::tar::Member::file(
            "usr/lib/python3/dist-packages/clairtest-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: clairtest\nVersion: 1.0\n",
        ),
    ]))
}

/// OSV records for the Python package: one with a CVSS v3 vector, one with GitHub's word.
fn osv_records(with_second: bool) -> Value {
    let rec = |id: &str, severity: Value, db: Value, fixed: &str| {
        json!({
            "id": id, "summary": format!("{id} in clairtest"), "published": "2024-01-02T03:04:05Z",
            "aliases": [], "severity": severity, "database_specific": db,
            "references": [{"type": "WEB", "url": format!("https://osv.dev/{id}")}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "clairtest"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
        })
    };
    let mut list = vec![rec(
        "GHSA-clai-rtes-t001",
        json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
        json!({"severity": "CRITICAL"}),
        "1.1",
    )];
    if with_second {
        list.push(rec(
            "GHSA-clai-rtes-t002",
            json!([]),
            json!({"severity": "MODERATE"}),
            "2.0",
        ));
    }
    Value::Array(list)
}

fn debian_tracker(with_new: bool) -> Value {
    let mut t: Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../clair-ecosystems/testdata/match/debian-bookworm-tracker.json"),
        )
        .unwrap(),
    )
    .unwrap();
    if with_new {
        t["bash"] = json!({"CVE-2099-0100": {"description": "new", "releases": {"bookworm":
            {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "medium"}}}});
    }
    t
}

fn update(store: &Arc<dyn Store>, feeds: &TestServer) {
    run_updaters(
        store,
        &["debian", "osv"],
        json!({
            "debian": {"json_url": format!("{}/debian/json", feeds.url())},
            "osv": {"url": format!("{}/osv/", feeds.url()), "ecosystems": ["PyPI"]},
        }),
    );
}

fn responses_validate(store: Arc<dyn Store>) {
    let schemas = Schemas::load();
    let srv = start(store.clone(), FetchOptions::default(), 0);
    let api = srv.api.clone();
    let (_, layers) = layered();
    let base = layers[0].clone();
    let py = python_layer();
    let py_digest = clair_types::Digest::sha256_of(&py).to_string();
    let blobs = layer_server(std::slice::from_ref(&base));
    blobs.put(&format!("/blobs/{py_digest}"), py);
    blobs.set(
        &format!("/blobs/{py_digest}"),
        clair_test::http::Behavior::RequireHeader("Authorization".into(), "Bearer t0ken".into()),
    );
    let manifest = format!("sha256:{}", "7".repeat(64));

    // Index state.
    schemas.check_get(
        "index_state",
        &format!("{api}/indexer/api/v1/index_state"),
        Some("State"),
        Some("index_state"),
    );

    // An index report with OS and language packages (POST and GET).
    let body = manifest_json(&manifest, &[base.clone(), py_digest.clone()], blobs.url());
    let r = post(&format!("{api}/indexer/api/v1/index_report"), &body);
    let report = ok(&r, 201);
    let names: Vec<&str> = clair_test::fields(&report["packages"], "name").collect();
    assert!(
        names.contains(&"clairtest") && names.contains(&"bash"),
        "{names:?}"
    );
    schemas.check(
        "index report (POST)",
        &report,
        Some("IndexReport"),
        Some("index_report"),
    );
    schemas.check_get(
        "index report (GET)",
        &format!("{api}/indexer/api/v1/index_report/{manifest}"),
        Some("IndexReport"),
        Some("index_report"),
    );

    // A failed index: its stored error report, and the error bodies.
    let broken = format!("sha256:{}", "8".repeat(64));
    let bad = manifest_json(
        &broken,
        &[format!("sha256:{}", "9".repeat(64))],
        blobs.url(),
    );
    let r = post(&format!("{api}/indexer/api/v1/index_report"), &bad);
    schemas.check(
        "failed index (500)",
        &ok(&r, 500),
        Some("Error"),
        Some("error"),
    );
    let g = get(&format!("{api}/indexer/api/v1/index_report/{broken}"));
    let err_report = ok(&g, 200);
    assert_eq!(err_report["state"], "IndexError");
    schemas.check(
        "error index report",
        &err_report,
        Some("IndexReport"),
        Some("index_report"),
    );
    for (what, method, url, body, status) in [
        (
            "bad manifest",
            "POST",
            format!("{api}/indexer/api/v1/index_report"),
            Some("{}"),
            400,
        ),
        (
            "unknown report",
            "GET",
            format!(
                "{api}/indexer/api/v1/index_report/sha256:{}",
                "0".repeat(64)
            ),
            None,
            404,
        ),
        (
            "bad notification id",
            "GET",
            format!("{api}/notifier/api/v1/notification/nope"),
            None,
            400,
        ),
    ] {
        let r = call(method, &url, &[], body);
        schemas.check(what, &ok(&r, status), Some("Error"), Some("error"));
    }
    let r = call(
        "GET",
        &format!("{api}/indexer/api/v1/index_state"),
        &[("Accept", "text/html")],
        None,
    );
    schemas.check("415", &ok(&r, 415), Some("Error"), Some("error"));

    // OS and language vulnerabilities.
    let feeds = TestServer::start();
    feeds.put("/debian/json", debian_tracker(false).to_string());
    feeds.put("/osv/PyPI/all.zip", osv_records(false).to_string());
    update(&store, &feeds);
    assert!(srv.state.refresh().unwrap());
    let vr = get(&format!(
        "{api}/matcher/api/v1/vulnerability_report/{manifest}"
    ));
    let vr = ok(&vr, 200);
    let updaters: std::collections::BTreeSet<&str> =
        clair_test::fields(&vr["vulnerabilities"], "updater").collect();
    assert_eq!(
        updaters,
        ["debian", "osv"].into_iter().collect(),
        "{}",
        serde_json::to_string_pretty(&vr).unwrap()
    );
    schemas.check(
        "vulnerability report",
        &vr,
        Some("VulnerabilityReport"),
        Some("vulnerability_report"),
    );
    schemas.check_get(
        "update operations",
        &format!("{api}/matcher/api/v1/internal/update_operation"),
        None,
        Some("update_operations"),
    );

    // Notification pages from real feed changes: a new Debian CVE (OS) and a new OSV record
    // (language, no distribution), one item per vulnerability and as summaries.
    feeds.put("/debian/json", debian_tracker(true).to_string());
    feeds.put("/osv/PyPI/all.zip", osv_records(true).to_string());
    update(&store, &feeds);
    let ns = clair_ecosystems::EcosystemNamespaces;
    let mut pages = 0;
    for (updater, disable_summary) in [("debian", false), ("osv", true)] {
        let id = notify_update(
            store.as_ref(),
            &ns,
            updater,
            NotifyOptions { disable_summary },
        )
        .unwrap()
        .unwrap_or_else(|| panic!("{updater}: no notification"));
        let url = format!("{api}/notifier/api/v1/notification/{id}");
        for accept in [None, Some("application/json")] {
            let h: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept", *a)).collect();
            let page = ok(&call("GET", &url, &h, None), 200);
            let items = page["notifications"].as_array().unwrap();
            assert!(!items.is_empty(), "{page}");
            for n in items {
                let v = &n["vulnerability"];
                assert!(v["distribution"].is_object(), "never null: {n}");
                assert!(v["package"].is_object(), "{n}");
            }
            schemas.check(
                &format!("{updater} notification page"),
                &page,
                Some("PagedNotifications"),
                Some("notification_page"),
            );
            pages += 1;
        }
    }
    assert_eq!(pages, 4);
    // An unknown notification: an empty page, valid too.
    let empty = call(
        "GET",
        &format!(
            "{api}/notifier/api/v1/notification/{}",
            "00000000-0000-4000-8000-000000000abc"
        ),
        &[],
        None,
    );
    schemas.check(
        "unknown notification",
        &ok(&empty, 200),
        Some("PagedNotifications"),
        Some("notification_page"),
    );
}

/// The validators are not vacuous: what clair-rs used to send (`"distribution": null` in a
/// notification summary, a report without `err`, a misspelled severity) fails them.
#[test]
fn the_documents_reject_what_quay_rejects() {
    let schemas = Schemas::load();
    let registry = schemas.registry();
    let validator = |root: Value| {
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&registry)
            .build(&root)
            .unwrap()
    };
    let quay = |c: &str| validator(json!({"$ref": format!("{QUAY}#/components/schemas/{c}")}));
    let page = json!({"page": {"size": 500}, "notifications": [{
        "id": "5e4b387e-88d3-4364-86fd-063447a6fad2", "manifest": format!("sha256:{}", "a".repeat(64)),
        "reason": "added", "vulnerability": {"name": "GHSA-1", "description": "", "links": "",
            "fixed_in_version": "", "severity": "High", "normalized_severity": "High",
            "package": {"id": "0", "name": "x", "version": "", "kind": "binary"},
            "distribution": null, "repo": null}}]});
    assert!(!quay("PagedNotifications").is_valid(&page));
    let report = json!({"manifest_hash": format!("sha256:{}", "a".repeat(64)), "state": "IndexFinished",
        "packages": {}, "distributions": {}, "environments": {}, "success": true});
    assert!(!quay("IndexReport").is_valid(&report));
    let vuln = json!({"id": "1", "updater": "u", "name": "n", "description": "", "links": "",
        "severity": "", "normalized_severity": "Severe", "fixed_in_version": ""});
    assert!(!quay("Vulnerability").is_valid(&vuln));
    let clair = validator(
        json!({"$ref": "https://clairproject.org/api/http/v1/notification_page.schema.json"}),
    );
    assert!(!clair.is_valid(&page));
}

clair_test::on_both_databases! {
    sqlite: sqlite(), postgres: postgres();
    responses_validate => responses_validate_against_both_documents_sqlite, responses_validate_against_both_documents_postgres;
}
