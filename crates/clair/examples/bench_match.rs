//! Matching latency, as a server sees it: the whole vulnerability database in the live index
//! (built once), then N vulnerability reports for one indexed image, each a lookup plus the
//! CVSS enrichment query. Used by `scripts/bench-match.py`; prints one JSON object.
//!
//! ```sh
//! cargo run --release -p clair --example bench_match -- --db DB --image oci:DIR:REF --reports 1000
//! ```

#![allow(clippy::print_stdout)] // the benchmark script reads the JSON line

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clair_ecosystems::EcosystemNamespaces;
use clair_indexer::NoProgress;
use clair_layer::source::{self, OpenOptions};
use clair_service::{LiveIndex, add_cvss};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let mut db = String::new();
    let mut image = String::new();
    let mut reports = 1000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--db" => db = args.next().context("--db SRC")?,
            "--image" => image = args.next().context("--image REF")?,
            "--reports" => reports = args.next().context("--reports N")?.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let store = clair_store::open(&clair_store::StoreOptions {
        source: db,
        ..clair_store::StoreOptions::default()
    })?;
    let img = source::open(&image, &OpenOptions::default())?;
    let indexer = clair_ecosystems::default_indexer()
        .with_cache(Arc::new(clair_store::StoreCache::new(store.clone())));
    let (indexed, _) = clair_service::index_image(store.as_ref(), &indexer, &img, &NoProgress)?;
    let ir = indexed.report;

    let t = Instant::now();
    let live = LiveIndex::new(store.clone())?;
    let build_s = t.elapsed().as_secs_f64();
    let idx = live.current();
    let ns = EcosystemNamespaces;

    let mut lookup = Vec::with_capacity(reports);
    let mut full = Vec::with_capacity(reports);
    let mut vulns = 0;
    for _ in 0..reports {
        let t = Instant::now();
        let (mut vr, _) = idx.report(&ir, &ns);
        lookup.push(t.elapsed().as_secs_f64() * 1e3);
        add_cvss(&mut vr, store.as_ref())?;
        full.push(t.elapsed().as_secs_f64() * 1e3);
        vulns = vr.vulnerabilities.len();
    }
    lookup.sort_by(f64::total_cmp);
    full.sort_by(f64::total_cmp);
    let out = serde_json::json!({
        "records": idx.len(),
        "namespaces": idx.namespaces().len(),
        "packages": ir.packages.len(),
        "vulnerabilities": vulns,
        "index_build_s": build_s,
        "reports": reports,
        "p50_ms": percentile(&full, 0.5),
        "p99_ms": percentile(&full, 0.99),
        "lookup_p50_ms": percentile(&lookup, 0.5),
        "lookup_p99_ms": percentile(&lookup, 0.99),
    });
    println!("{out}");
    Ok(())
}
