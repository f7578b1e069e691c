//! The store test suite, generic over [`Store`]: every backend must pass all of it.
//!
//! Each backend's test file calls [`store_suite!`] with an expression that opens a fresh, empty
//! store; one `#[test]` is generated per case.
#![allow(
    dead_code,
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod procs;

use std::sync::Arc;

use clair_indexer::LayerResult;
use clair_layer::LayerContents;
use clair_store::*;
use clair_types::{Digest, IndexReport, IndexState, Severity, Vulnerability};
use serde_json::json;

/// Generate one test per suite case for a backend.
#[macro_export]
macro_rules! store_suite {
    ($open:expr) => {
        $crate::store_suite!(@cases $open;
            layers_round_trip, index_reports, update_operations_and_latest, identical_records_are_shared,
            update_diff, aborted_update_keeps_previous_data, gc_keeps_newest, updater_status,
            enrichments, notifications_lifecycle, notification_paging, locks_are_exclusive,
            concurrent_readers_and_writer, writes_during_an_update, v1_layers,
            v1_layer_package_index, notification_jobs, notifications_due_by_kind,
            notifier_cursor);
    };
    (@cases $open:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let store: std::sync::Arc<dyn clair_store::Store> = $open;
                $crate::suite::$case(store);
            }
        )*
    };
}

fn vuln(updater: &str, name: &str, pkg: &str, fixed: &str) -> Vulnerability {
    Vulnerability {
        updater: updater.into(),
        name: name.into(),
        namespace: "debian:12".into(),
        package_name: pkg.into(),
        version_scheme: "dpkg".into(),
        fixed_in_version: fixed.into(),
        normalized_severity: Severity::High,
        severity: "high".into(),
        description: format!("{name} in {pkg}"),
        ..Vulnerability::default()
    }
}

fn feed(v: Vec<Vulnerability>) -> impl Iterator<Item = Result<Vulnerability, FeedError>> {
    v.into_iter().map(Ok)
}

fn update(s: &dyn Store, updater: &str, v: Vec<Vulnerability>) -> UpdateOperation {
    s.update_vulnerabilities(updater, "fp", &mut feed(v))
        .unwrap()
}

fn names(v: Vec<Vulnerability>) -> Vec<String> {
    let mut n: Vec<String> = v
        .into_iter()
        .map(|v| format!("{}/{}", v.name, v.package_name))
        .collect();
    n.sort();
    n
}

pub fn layers_round_trip(s: Arc<dyn Store>) {
    let d = Digest::sha256_of(b"layer");
    assert_eq!(s.get_layer(&d).unwrap(), None);
    let mut contents = LayerContents::default();
    contents.add_symlink("etc/os-release".into(), "../usr/lib/os-release".into());
    contents.add_file("usr/lib/os-release".into(), Arc::from(&b"ID=debian\n"[..]));
    contents.whiteouts.insert("etc/motd".into());
    contents.elided.insert("var/lib/dpkg/status".into());
    let r = LayerResult {
        selection: "sel".into(),
        contents: Arc::new(contents),
        scans: [("dpkg@1".to_string(), Vec::new())].into_iter().collect(),
    };
    s.put_layer(&d, &r).unwrap();
    assert_eq!(s.get_layer(&d).unwrap(), Some(r.clone()));
    let mut r2 = r.clone();
    r2.selection = "other".into();
    s.put_layer(&d, &r2).unwrap();
    assert_eq!(s.get_layer(&d).unwrap().unwrap().selection, "other");
}

fn report(m: &Digest) -> IndexReport {
    IndexReport {
        manifest_hash: m.clone(),
        state: IndexState::IndexFinished,
        packages: Default::default(),
        distributions: Default::default(),
        repository: Default::default(),
        environments: Default::default(),
        success: true,
        err: String::new(),
    }
}

pub fn index_reports(s: Arc<dyn Store>) {
    let m1 = Digest::sha256_of(b"m1");
    let m2 = Digest::sha256_of(b"m2");
    let layers = vec![Digest::sha256_of(b"l1"), Digest::sha256_of(b"l2")];
    assert!(s.get_index_report(&m1).unwrap().is_none());
    s.put_index_report(&report(&m1), &layers, "state-a")
        .unwrap();
    s.put_index_report(&report(&m2), &layers[..1], "state-a")
        .unwrap();
    let got = s.get_index_report(&m1).unwrap().unwrap();
    assert_eq!(got.report, report(&m1));
    assert_eq!(got.layers, layers);
    assert_eq!(got.state, "state-a");
    let v1 = s.index_report_version(&m1).unwrap().expect("a version");
    assert_eq!(s.index_report_version(&m1).unwrap().as_ref(), Some(&v1));
    // Replace: new state, new layers, and a new version (even in the same state).
    std::thread::sleep(std::time::Duration::from_millis(2));
    s.put_index_report(&report(&m1), &layers[1..], "state-a")
        .unwrap();
    let v2 = s.index_report_version(&m1).unwrap().expect("a version");
    assert_ne!(v1, v2, "rewriting a report changes its version");
    s.put_index_report(&report(&m1), &layers[1..], "state-b")
        .unwrap();
    let got = s.get_index_report(&m1).unwrap().unwrap();
    assert_eq!((got.state.as_str(), got.layers.len()), ("state-b", 1));
    assert_ne!(s.index_report_version(&m1).unwrap(), Some(v2));
    let mut all = vec![m1.clone(), m2.clone()];
    all.sort();
    assert_eq!(s.manifests().unwrap(), all);
    let gone = s
        .delete_manifests(&[m1.clone(), Digest::sha256_of(b"never")])
        .unwrap();
    assert_eq!(gone, vec![m1.clone()]);
    assert!(s.get_index_report(&m1).unwrap().is_none());
    assert_eq!(s.index_report_version(&m1).unwrap(), None);
    assert_eq!(s.manifests().unwrap(), vec![m2]);
}

pub fn update_operations_and_latest(s: Arc<dyn Store>) {
    assert!(
        s.update_operations(OpKind::Vulnerability, None)
            .unwrap()
            .is_empty()
    );
    let a1 = update(
        &*s,
        "debian",
        vec![vuln("debian", "CVE-1", "openssl", "1.0")],
    );
    let b1 = update(
        &*s,
        "alpine",
        vec![Vulnerability {
            namespace: "alpine:v3.18".into(),
            ..vuln("alpine", "CVE-9", "musl", "")
        }],
    );
    let a2 = update(
        &*s,
        "debian",
        vec![
            vuln("debian", "CVE-1", "openssl", "1.0"),
            vuln("debian", "CVE-2", "bash", ""),
        ],
    );
    let ops = s.update_operations(OpKind::Vulnerability, None).unwrap();
    assert_eq!(
        ops.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![a2.id, b1.id, a1.id],
        "newest first"
    );
    let deb = s
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap();
    assert_eq!(
        deb.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![a2.id, a1.id]
    );
    assert_eq!(deb[0].updater, "debian");
    assert_eq!(deb[0].kind, OpKind::Vulnerability);
    assert!(
        s.update_operations(OpKind::Enrichment, None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(s.vulnerabilities(a1.id).unwrap()),
        vec!["CVE-1/openssl"]
    );
    assert_eq!(s.vulnerabilities(a2.id).unwrap().len(), 2);
    let mut latest = Vec::new();
    s.for_each_latest_vulnerability(None, &mut |v| latest.push(v))
        .unwrap();
    assert_eq!(
        names(latest),
        vec!["CVE-1/openssl", "CVE-2/bash", "CVE-9/musl"]
    );
    // Only some namespaces: what `clair scan` loads for one image.
    let only = |ns: &[&str]| {
        let ns: Vec<String> = ns.iter().map(|s| s.to_string()).collect();
        let mut v = Vec::new();
        s.for_each_latest_vulnerability(Some(&ns), &mut |x| v.push(x))
            .unwrap();
        names(v)
    };
    assert_eq!(only(&["alpine:v3.18"]), vec!["CVE-9/musl"]);
    assert_eq!(
        only(&["debian:12", "pypi"]),
        vec!["CVE-1/openssl", "CVE-2/bash"]
    );
    assert!(only(&[]).is_empty());
    let full = s.vulnerabilities(a1.id).unwrap().remove(0);
    assert_eq!(
        full,
        vuln("debian", "CVE-1", "openssl", "1.0"),
        "round trip keeps every field"
    );
}

pub fn identical_records_are_shared(s: Arc<dyn Store>) {
    let v: Vec<Vulnerability> = (0..50)
        .map(|i| vuln("debian", &format!("CVE-{i}"), "p", "1"))
        .collect();
    let a = update(&*s, "debian", v.clone());
    let b = update(&*s, "debian", v.clone());
    assert_ne!(a.id, b.id);
    let d = s.update_diff(Some(a.id), b.id).unwrap();
    assert!(d.added.is_empty() && d.removed.is_empty());
    // Deleting one operation keeps the records the other still uses.
    assert_eq!(s.delete_update_operations(&[a.id]).unwrap(), 1);
    assert_eq!(s.vulnerabilities(b.id).unwrap().len(), 50);
    let gc = s.gc(10).unwrap();
    assert_eq!(gc.vulnerabilities, 0);
}

pub fn update_diff(s: Arc<dyn Store>) {
    let a = update(
        &*s,
        "debian",
        vec![
            vuln("debian", "CVE-1", "openssl", ""),
            vuln("debian", "CVE-2", "bash", "5"),
        ],
    );
    let b = update(
        &*s,
        "debian",
        vec![
            vuln("debian", "CVE-1", "openssl", "3.0.1"),
            vuln("debian", "CVE-3", "curl", ""),
        ],
    );
    let d = s.update_diff(Some(a.id), b.id).unwrap();
    assert_eq!(d.prev.as_ref().map(|p| p.id), Some(a.id));
    assert_eq!(d.cur.id, b.id);
    assert_eq!(names(d.added), vec!["CVE-1/openssl", "CVE-3/curl"]);
    assert_eq!(names(d.removed), vec!["CVE-1/openssl", "CVE-2/bash"]);
    let first = s.update_diff(None, a.id).unwrap();
    assert_eq!(first.added.len(), 2);
    assert!(first.removed.is_empty());
    let missing = s.update_diff(None, uuid::Uuid::new_v4());
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

pub fn aborted_update_keeps_previous_data(s: Arc<dyn Store>) {
    let a = update(&*s, "debian", vec![vuln("debian", "CVE-1", "openssl", "")]);
    let mut broken = (0..100).map(|i| {
        if i == 60 {
            Err::<Vulnerability, FeedError>("xml: line 9000: unexpected end of file".into())
        } else {
            Ok(vuln("debian", &format!("CVE-NEW-{i}"), "p", ""))
        }
    });
    let err = s
        .update_vulnerabilities("debian", "fp2", &mut broken)
        .unwrap_err();
    assert!(matches!(err, Error::Aborted { .. }), "{err}");
    assert!(err.to_string().contains("line 9000"), "{err}");
    let ops = s
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap();
    assert_eq!(ops.iter().map(|o| o.id).collect::<Vec<_>>(), vec![a.id]);
    let mut latest = Vec::new();
    s.for_each_latest_vulnerability(None, &mut |v| latest.push(v))
        .unwrap();
    assert_eq!(names(latest), vec!["CVE-1/openssl"]);
    assert_eq!(
        s.gc(10).unwrap().vulnerabilities,
        0,
        "no half-written records left behind"
    );
}

pub fn gc_keeps_newest(s: Arc<dyn Store>) {
    let mut ops = Vec::new();
    for i in 0..5 {
        ops.push(update(
            &*s,
            "debian",
            vec![vuln("debian", &format!("CVE-{i}"), "p", "")],
        ));
    }
    let other = update(&*s, "alpine", vec![vuln("alpine", "CVE-A", "musl", "")]);
    let stats = s.gc(2).unwrap();
    assert_eq!(stats.operations, 3);
    assert_eq!(stats.vulnerabilities, 3);
    let left = s.update_operations(OpKind::Vulnerability, None).unwrap();
    let ids: Vec<_> = left.iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![other.id, ops[4].id, ops[3].id]);
    assert!(s.vulnerabilities(ops[0].id).unwrap().is_empty());
    assert_eq!(s.gc(2).unwrap(), GcStats::default(), "idempotent");
}

pub fn updater_status(s: Arc<dyn Store>) {
    assert!(s.updater_status().unwrap().is_empty());
    let mut st = UpdaterStatus {
        updater: "debian".into(),
        last_attempt: Some(jiff::Timestamp::from_second(1_700_000_000).unwrap()),
        last_success: None,
        last_error: Some("GET https://security-tracker.debian.org/...: 500".into()),
        records: 0,
        duration_ms: 1200,
        fingerprint: String::new(),
        updater_version: 2,
    };
    s.set_updater_status(&st).unwrap();
    st.last_error = None;
    st.records = 42;
    s.set_updater_status(&st).unwrap();
    s.set_updater_status(&UpdaterStatus {
        updater: "alpine".into(),
        ..UpdaterStatus::default()
    })
    .unwrap();
    let all = s.updater_status().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().find(|u| u.updater == "debian"), Some(&st));
}

pub fn enrichments(s: Arc<dyn Store>) {
    let rec = |cve: &str, score: f64| EnrichmentRecord {
        tags: vec![cve.to_string()],
        data: json!({"baseScore": score, "vectorString": "CVSS:3.1/AV:N"}),
    };
    let mut f1 = vec![rec("CVE-1", 9.8), rec("CVE-2", 5.0)]
        .into_iter()
        .map(Ok);
    s.update_enrichments("nvd", "fp1", &mut f1).unwrap();
    let mut f2 = vec![rec("CVE-1", 7.5)].into_iter().map(Ok);
    let op = s.update_enrichments("nvd", "fp2", &mut f2).unwrap();
    assert_eq!(op.kind, OpKind::Enrichment);
    let got = s
        .enrichments("nvd", &["CVE-1".to_string(), "CVE-2".to_string()])
        .unwrap();
    assert_eq!(
        got,
        vec![rec("CVE-1", 7.5)],
        "only the latest operation counts"
    );
    assert!(
        s.enrichments("epss", &["CVE-1".to_string()])
            .unwrap()
            .is_empty()
    );
    let ops = s
        .update_operations(OpKind::Enrichment, Some("nvd"))
        .unwrap();
    assert_eq!(ops.len(), 2);
    assert!(
        s.update_operations(OpKind::Vulnerability, None)
            .unwrap()
            .is_empty()
    );
}

pub fn notifications_lifecycle(s: Arc<dyn Store>) {
    let body = json!({"updater": "debian"});
    let id = s
        .create_notification("v4", &body, &[json!({"manifest": "sha256:aa"})])
        .unwrap();
    let n = s.notification(id).unwrap().unwrap();
    assert_eq!(
        (n.kind.as_str(), &n.body, n.status, n.attempts),
        ("v4", &body, NotificationStatus::Created, 0)
    );
    assert_eq!(
        (n.notified, n.deleted),
        (None, None),
        "no times before delivery"
    );
    let now = jiff::Timestamp::now();
    let due = s.notifications_due(&["v4"], now, 10).unwrap();
    assert_eq!(due.iter().map(|n| n.id).collect::<Vec<_>>(), vec![id]);
    let later = now + jiff::SignedDuration::from_secs(3600);
    s.record_delivery(
        id,
        &Delivery::Failed {
            error: "POST http://127.0.0.1:1/hook: connection refused".into(),
            retry_at: later,
        },
    )
    .unwrap();
    let n = s.notification(id).unwrap().unwrap();
    assert_eq!((n.status, n.attempts), (NotificationStatus::Failed, 1));
    assert_eq!(n.notified, None, "a failed attempt is not a delivery");
    assert!(n.last_error.unwrap().contains("connection refused"));
    assert!(
        s.notifications_due(&["v4"], now, 10).unwrap().is_empty(),
        "not before retry time"
    );
    assert_eq!(s.notifications_due(&["v4"], later, 10).unwrap().len(), 1);
    s.record_delivery(id, &Delivery::Delivered).unwrap();
    let n = s.notification(id).unwrap().unwrap();
    assert_eq!((n.status, n.attempts), (NotificationStatus::Delivered, 2));
    let notified = n.notified.expect("the delivery time is kept");
    assert!(notified >= now && notified >= n.created, "{notified} {now}");
    assert_eq!(n.deleted, None);
    assert!(s.notifications_due(&["v4"], later, 10).unwrap().is_empty());
    assert!(s.acknowledge_notification(id).unwrap());
    let n = s.notification(id).unwrap().unwrap();
    assert_eq!(n.status, NotificationStatus::Deleted);
    assert_eq!(
        n.notified,
        Some(notified),
        "acknowledging keeps the delivery time"
    );
    assert!(n.deleted.expect("the acknowledgement time is kept") >= notified);
    assert!(!s.acknowledge_notification(uuid::Uuid::new_v4()).unwrap());
    assert_eq!(
        s.gc_notifications(now - jiff::SignedDuration::from_secs(60))
            .unwrap(),
        0
    );
    assert_eq!(s.gc_notifications(later).unwrap(), 1);
    assert!(s.notification(id).unwrap().is_none());
    assert!(matches!(
        s.record_delivery(id, &Delivery::Delivered),
        Err(Error::NotFound(_))
    ));
}

pub fn notification_paging(s: Arc<dyn Store>) {
    let items: Vec<_> = (0..5).map(|i| json!({"i": i})).collect();
    let id = s.create_notification("v4", &json!({}), &items).unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.notification_items(id, after, 2).unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|i| i.body["i"].as_i64().unwrap()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    assert!(
        s.notification_items(uuid::Uuid::new_v4(), None, 10)
            .unwrap()
            .items
            .is_empty()
    );
}

pub fn locks_are_exclusive(s: Arc<dyn Store>) {
    let a = s.try_lock("updater/debian").unwrap().expect("free lock");
    assert_eq!(a.name(), "updater/debian");
    assert!(!a.is_lost() && a.check().is_ok(), "{a:?}");
    assert!(s.try_lock("updater/debian").unwrap().is_none(), "held");
    let b = s.try_lock("updater/alpine").unwrap();
    assert!(b.is_some(), "other names are independent");
    drop(a);
    // Another test of this process may fork a child at that moment: until it execs, the child
    // shares the open lock file (an flock is per open file), so allow it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut again = s.try_lock("updater/debian").unwrap();
    while again.is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        again = s.try_lock("updater/debian").unwrap();
    }
    assert!(again.is_some(), "released on drop");
}

pub fn concurrent_readers_and_writer(s: Arc<dyn Store>) {
    let first = update(
        &*s,
        "debian",
        (0..200)
            .map(|i| vuln("debian", &format!("CVE-{i}"), "p", ""))
            .collect(),
    );
    std::thread::scope(|sc| {
        let writer = sc.spawn(|| {
            for round in 0..5 {
                let v = (0..200)
                    .map(|i| vuln("debian", &format!("CVE-{round}-{i}"), "p", ""))
                    .collect();
                update(&*s, "debian", v);
            }
        });
        for _ in 0..2 {
            sc.spawn(|| {
                for _ in 0..20 {
                    // A reader sees one whole operation: 200 records, never a partial set.
                    let mut n = 0;
                    s.for_each_latest_vulnerability(None, &mut |_| n += 1)
                        .unwrap();
                    assert_eq!(n, 200);
                }
            });
        }
        writer.join().unwrap();
    });
    assert_eq!(
        s.update_operations(OpKind::Vulnerability, None)
            .unwrap()
            .len(),
        6
    );
    assert_eq!(s.vulnerabilities(first.id).unwrap().len(), 200);
}

/// An update parses its feed without holding the store's writer: index reports are written
/// while a slowly parsed feed is stored, none of them waiting for the parse, and readers see
/// the previous operation until the new one is whole.
pub fn writes_during_an_update(s: Arc<dyn Store>) {
    use std::time::{Duration, Instant};
    let first = update(&*s, "debian", vec![vuln("debian", "CVE-0", "p", "")]);
    let parse_time = Duration::from_millis(1500);
    let records = 12_000;
    let worst = std::thread::scope(|sc| {
        let updating = sc.spawn(|| {
            // 12000 records parsed over 1.5 s: a pause every 1000 records.
            let mut slow = (0..records).map(|i| {
                if i % 1000 == 0 {
                    std::thread::sleep(parse_time / 12);
                }
                Ok::<_, FeedError>(vuln("debian", &format!("CVE-{i}"), "p", ""))
            });
            s.update_vulnerabilities("debian", "slow", &mut slow)
                .unwrap()
        });
        let mut worst = Duration::ZERO;
        let mut writes = 0;
        while !updating.is_finished() {
            let m = Digest::sha256_of(format!("m{writes}").as_bytes());
            let t = Instant::now();
            s.put_index_report(&report(&m), &[Digest::sha256_of(b"l")], "state")
                .unwrap();
            worst = worst.max(t.elapsed());
            writes += 1;
            let ops = s
                .update_operations(OpKind::Vulnerability, Some("debian"))
                .unwrap();
            if !updating.is_finished() {
                assert_eq!(
                    ops.iter().map(|o| o.id).collect::<Vec<_>>(),
                    vec![first.id],
                    "an operation being stored is invisible"
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let op = updating.join().unwrap();
        assert_eq!(s.vulnerabilities(op.id).unwrap().len(), records);
        assert!(writes >= 10, "{writes} writes during the update");
        worst
    });
    assert!(
        worst < Duration::from_millis(750),
        "an index report write waited {worst:?} while a feed was parsed for {parse_time:?}"
    );
    let mut n = 0;
    s.for_each_latest_vulnerability(None, &mut |_| n += 1)
        .unwrap();
    assert_eq!(n, records);
}

/// A Clair v2 layer named `name` (its digest made from the name).
fn v1_layer(name: &str, parent: Option<&str>) -> V1Layer {
    V1Layer {
        name: name.into(),
        digest: Digest::sha256_of(name.as_bytes()),
        parent: parent.map(String::from),
        path: format!("http://registry/{name}"),
        format: "Docker".into(),
    }
}

pub fn v1_layers(s: Arc<dyn Store>) {
    let l = v1_layer;
    assert_eq!(s.get_v1_layer("base").unwrap(), None);
    s.put_v1_layer(&l("base", None)).unwrap();
    s.put_v1_layer(&l("sha256:mid", Some("base"))).unwrap();
    s.put_v1_layer(&l("top", Some("sha256:mid"))).unwrap();
    s.put_v1_layer(&l("other", None)).unwrap();
    assert_eq!(
        s.get_v1_layer("sha256:mid").unwrap(),
        Some(l("sha256:mid", Some("base")))
    );
    // Replacing keeps one row.
    s.put_v1_layer(&l("top", Some("sha256:mid"))).unwrap();
    // Deleting a layer deletes its descendants, not its ancestors or unrelated layers.
    assert_eq!(s.delete_v1_layer("sha256:mid").unwrap(), 2);
    assert_eq!(s.get_v1_layer("top").unwrap(), None);
    assert!(s.get_v1_layer("base").unwrap().is_some());
    assert!(s.get_v1_layer("other").unwrap().is_some());
    assert_eq!(s.delete_v1_layer("sha256:mid").unwrap(), 0);
}

/// The notifier's position per updater: none at first, then moved step by step, each step
/// storing its notifications with it; a step from a position the cursor has left (another
/// instance did it) stores nothing.
pub fn notifier_cursor(s: Arc<dyn Store>) {
    assert_eq!(s.notified_operation("debian").unwrap(), None);
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let n = NewNotification {
        kind: "v4".into(),
        body: json!({"updater": "debian"}),
        items: vec![json!({"i": 0})],
    };
    assert_eq!(
        s.advance_notifier_cursor("debian", None, a, &[]).unwrap(),
        Vec::<uuid::Uuid>::new()
    );
    s.advance_notifier_cursor("alpine", None, b, &[]).unwrap();
    assert_eq!(s.notified_operation("debian").unwrap(), Some(a));
    let ids = s
        .advance_notifier_cursor("debian", Some(a), b, std::slice::from_ref(&n))
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(s.notification(ids[0]).unwrap().unwrap().body, n.body);
    assert_eq!(
        s.notification_items(ids[0], None, 10).unwrap().items.len(),
        1
    );
    assert_eq!(s.notified_operation("debian").unwrap(), Some(b));
    assert_eq!(s.notified_operation("alpine").unwrap(), Some(b));
    assert_eq!(s.notified_operation("rhel").unwrap(), None);
    // Done already (the cursor moved on, or was set): nothing stored, the cursor unchanged.
    let c = uuid::Uuid::new_v4();
    for from in [Some(a), None] {
        assert_eq!(
            s.advance_notifier_cursor("debian", from, c, std::slice::from_ref(&n))
                .unwrap(),
            Vec::<uuid::Uuid>::new()
        );
    }
    assert_eq!(s.notified_operation("debian").unwrap(), Some(b));
    assert_eq!(
        s.notifications_due(&["v4"], jiff::Timestamp::now(), 10)
            .unwrap()
            .len(),
        1
    );
}

pub fn v1_layer_package_index(s: Arc<dyn Store>) {
    let l = v1_layer;
    let names = |v: Vec<V1Layer>| v.into_iter().map(|l| l.name).collect::<Vec<_>>();
    s.put_v1_layer(&l("base", None)).unwrap();
    s.put_v1_layer(&l("app", Some("base"))).unwrap();
    assert_eq!(
        names(s.v1_layers_unindexed().unwrap()),
        ["app", "base"],
        "not indexed yet"
    );
    s.set_v1_layer_packages("base", &["bash".into(), "libc6".into()])
        .unwrap();
    s.set_v1_layer_packages("app", &["curl".into(), "libc6".into()])
        .unwrap();
    assert_eq!(s.v1_layers_unindexed().unwrap(), Vec::<V1Layer>::new());
    let find = |n: &[&str]| {
        names(
            s.v1_layers_with_packages(&n.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap(),
        )
    };
    assert_eq!(find(&["libc6"]), ["app", "base"]);
    assert_eq!(find(&["curl", "bash"]), ["app", "base"]);
    assert_eq!(find(&["curl"]), ["app"]);
    assert!(find(&["zlib"]).is_empty());
    assert!(find(&[]).is_empty());
    // Replaced, not added to; unknown layers are ignored.
    s.set_v1_layer_packages("app", &["wget".into()]).unwrap();
    assert_eq!(find(&["curl"]), Vec::<String>::new());
    s.set_v1_layer_packages("nope", &["curl".into()]).unwrap();
    assert!(find(&["curl"]).is_empty());
    // Deleting a layer drops its index rows.
    assert_eq!(s.delete_v1_layer("app").unwrap(), 1);
    assert!(find(&["wget"]).is_empty());
    assert_eq!(find(&["bash"]), ["base"]);
}

/// Every vulnerability update operation enqueues its notification job in the same
/// transaction (with the updater's previous operation); completing a job stores its
/// notifications and removes it atomically, once.
pub fn notification_jobs(s: Arc<dyn Store>) {
    let update = |fingerprint: &str, name: &str| {
        s.update_vulnerabilities(
            "debian",
            fingerprint,
            &mut feed(vec![vuln("debian", name, "a", "1")]),
        )
        .unwrap()
    };
    let (op1, op2) = (update("1", "CVE-1"), update("2", "CVE-2"));
    let other = s
        .update_vulnerabilities("alpine", "1", &mut feed(vec![]))
        .unwrap();
    let mut enrich = std::iter::empty();
    s.update_enrichments("nvd", "1", &mut enrich).unwrap();
    // An aborted operation enqueues nothing.
    let mut bad = std::iter::once(Err::<Vulnerability, FeedError>("truncated".into()));
    assert!(s.update_vulnerabilities("debian", "3", &mut bad).is_err());
    let jobs = s.notification_jobs(10).unwrap();
    assert_eq!(
        jobs.iter().map(|j| (j.op.id, j.prev)).collect::<Vec<_>>(),
        [(op1.id, None), (op2.id, Some(op1.id)), (other.id, None)],
        "one per vulnerability operation, oldest first, enrichments none"
    );
    assert_eq!(s.notification_jobs(1).unwrap().len(), 1);
    let n = NewNotification {
        kind: "v4".into(),
        body: json!({"updater": "debian"}),
        items: vec![json!({"i": 0}), json!({"i": 1})],
    };
    let ids = s
        .complete_notification_job(op2.id, &[n.clone(), n.clone()])
        .unwrap();
    assert_eq!(ids.len(), 2);
    let page = s.notification_items(ids[1], None, 10).unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(s.notification(ids[0]).unwrap().unwrap().body, n.body);
    let queued = || {
        s.notification_jobs(10)
            .unwrap()
            .iter()
            .map(|j| j.op.id)
            .collect::<Vec<_>>()
    };
    // Done: gone from the queue, and a second completion stores nothing.
    assert_eq!(queued(), [op1.id, other.id]);
    assert_eq!(
        s.complete_notification_job(op2.id, std::slice::from_ref(&n))
            .unwrap(),
        Vec::<uuid::Uuid>::new()
    );
    assert_eq!(
        s.notifications_due(&["v4"], jiff::Timestamp::now(), 10)
            .unwrap()
            .len(),
        2
    );
    // A job whose operation is deleted (garbage collection) goes with it.
    assert_eq!(s.delete_update_operations(&[op1.id]).unwrap(), 1);
    assert_eq!(queued(), [other.id]);
    assert_eq!(
        s.complete_notification_job(op1.id, &[n]).unwrap(),
        Vec::<uuid::Uuid>::new()
    );
    assert_eq!(
        s.complete_notification_job(other.id, &[]).unwrap(),
        Vec::<uuid::Uuid>::new()
    );
    assert!(s.notification_jobs(10).unwrap().is_empty());
}

/// Due notifications are selected by kind in the query: a deployment delivering only one
/// kind is never starved by undeliverable ones of another at the head of the queue.
pub fn notifications_due_by_kind(s: Arc<dyn Store>) {
    for _ in 0..120 {
        s.create_notification("v1", &json!({}), &[]).unwrap();
    }
    let v4 = s.create_notification("v4", &json!({}), &[]).unwrap();
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    assert_eq!(
        s.notifications_due(&["v4"], now, 100)
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect::<Vec<_>>(),
        [v4]
    );
    assert_eq!(s.notifications_due(&["v1"], now, 100).unwrap().len(), 100);
    assert_eq!(
        s.notifications_due(&["v1", "v4"], now, 200).unwrap().len(),
        121
    );
    assert!(s.notifications_due(&[], now, 100).unwrap().is_empty());
}
