//! Notification latency: 10 000 indexed manifests (the real bookworm-minbase report, each under
//! its own digest; 1 000 of them with one extra package), a feed change touching exactly those
//! 1 000, and the time from the update operation's commit to the last webhook received by a
//! local HTTP receiver. Used by `scripts/bench-notify.py`; prints one JSON object.
//!
//! ```sh
//! cargo run --release -p clair --example bench_notify -- --db DB --image oci:DIR:REF
//! ```
#![allow(clippy::print_stdout)] // the benchmark script reads the JSON line

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clair_indexer::NoProgress;
use clair_layer::source::{self, OpenOptions};
use clair_service::notify::{Notifier, Options, webhook};
use clair_types::{Digest, PackageKind, ReportPackage, Severity, Vulnerability};

fn main() -> anyhow::Result<()> {
    let mut db = String::new();
    let mut image = String::new();
    let (mut manifests, mut touched, mut summary) = (10_000usize, 1_000usize, true);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--db" => db = args.next().context("--db SRC")?,
            "--image" => image = args.next().context("--image REF")?,
            "--manifests" => manifests = args.next().context("N")?.parse()?,
            "--touched" => touched = args.next().context("N")?.parse()?,
            "--no-summary" => summary = false,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let store = clair_store::open(&clair_store::StoreOptions {
        source: db,
        ..clair_store::StoreOptions::default()
    })?;
    let img = source::open(&image, &OpenOptions::default())?;
    let indexer = clair_ecosystems::default_indexer();
    let (base, _) = clair_service::index_image(store.as_ref(), &indexer, &img, &NoProgress)?;
    let state = indexer.state();

    // The manifests: the same report under 10 000 digests, 1 000 with an extra package.
    let t = Instant::now();
    for i in 0..manifests {
        let mut r = base.report.clone();
        r.manifest_hash = Digest::sha256_of(format!("bench-manifest-{i}").as_bytes());
        if i < touched {
            let (id, bash) = r
                .packages
                .iter()
                .find(|(_, p)| p.name == "bash")
                .map(|(k, p)| (k.clone(), p.clone()))
                .context("bash in the image")?;
            let extra = ReportPackage {
                id: format!("{id}9"),
                name: "bench-touched".into(),
                source: None,
                ..bash
            };
            let env = r.environments.get(&id).cloned().unwrap_or_default();
            r.environments.insert(extra.id.clone(), env);
            r.packages.insert(extra.id.clone(), extra);
        }
        store.put_index_report(&r, &base.layers, &state)?;
    }
    let load_s = t.elapsed().as_secs_f64();

    let record = |name: &str, pkg: &str| Vulnerability {
        updater: "bench".into(),
        name: name.into(),
        namespace: "debian:12".into(),
        package_name: pkg.into(),
        package_kind: PackageKind::Binary,
        version_scheme: "dpkg".into(),
        normalized_severity: Severity::High,
        severity: "high".into(),
        ..Vulnerability::default()
    };
    let mut before = vec![
        record("CVE-2099-1", "coreutils"),
        record("CVE-2099-2", "tar"),
    ];
    let mut feed = before.clone().into_iter().map(Ok);
    store.update_vulnerabilities("bench", "1", &mut feed)?;

    // The receiver: counts webhooks, answers 200.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let target = format!("http://{}/notify", listener.local_addr()?);
    let received = Arc::new(AtomicUsize::new(0));
    {
        let received = received.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut c) = conn else { continue };
                let mut buf = [0u8; 8192];
                let _ = c.read(&mut buf);
                let _ = c.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                received.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let sender = webhook::Webhook::new(webhook::WebhookConfig {
        target,
        callback: "http://clair.example/notifier/api/v1/notification/".into(),
        headers: vec![],
        psk: Some(b"bench-key".to_vec()),
        retry: Duration::ZERO,
        timeout: Duration::from_secs(10),
        ca_pem: None,
    })?;
    let state = clair_http::AppState::new(store.clone(), clair_http::FetchOptions::default())?;
    let notifier = Notifier::new(
        state,
        vec![Arc::new(sender)],
        Options {
            disable_summary: !summary,
        },
    );
    // The first operation's job: nothing to notify.
    notifier.compute()?;

    // The change: a new vulnerability of the package only the touched manifests have.
    before.push(record("CVE-2099-3", "bench-touched"));
    let mut feed = before.into_iter().map(Ok);
    store.update_vulnerabilities("bench", "2", &mut feed)?;
    let t = Instant::now();
    anyhow::ensure!(notifier.compute()? == 1, "no notification");
    let id = store
        .notifications_due(&["v4"], jiff::Timestamp::now(), 1)?
        .first()
        .context("no notification")?
        .id;
    let computed_s = t.elapsed().as_secs_f64();
    let items = {
        let mut n = 0;
        let mut after = None;
        loop {
            let p = store.notification_items(id, after, 1000)?;
            n += p.items.len();
            match p.next {
                Some(x) => after = Some(x),
                None => break,
            }
        }
        n
    };
    while notifier.deliver()? == 0 {}
    while received.load(Ordering::SeqCst) < 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let total_s = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "manifests": manifests, "touched": touched, "summary": summary,
            "items": items, "webhooks": received.load(Ordering::SeqCst),
            "load_s": load_s, "compute_s": computed_s, "commit_to_last_webhook_s": total_s,
        })
    );
    Ok(())
}
