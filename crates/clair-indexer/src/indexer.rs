//! The indexing pipeline: read layers (in parallel, each once), scan them, coalesce.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clair_layer::{ExtractLimits, FileSelector, Image, LayerContents, Stack};
use clair_types::report::{Environment, ReportDistribution, ReportPackage, Repository};
use clair_types::{Digest, Distribution, IndexReport, IndexState, Package};

use crate::cache::{LayerCache, LayerResult, MemoryCache};
use crate::scanner::{DbScan, DistributionScanner, PackageScanner};

/// Errors of the indexer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a layer failed.
    #[error("layer {index} of {image}: {source}")]
    Layer {
        /// The image.
        image: String,
        /// 1-based layer number.
        index: usize,
        /// Cause.
        #[source]
        source: clair_layer::Error,
    },
    /// A worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Progress callbacks (a CLI draws a bar with them). All methods may be called from any thread.
pub trait Progress: Sync {
    /// `n` more raw layer bytes were read.
    fn bytes(&self, _n: u64) {}
    /// A layer is done; `cached` when its results came from the cache without reading it.
    fn layer_done(&self, _index: usize, _digest: &Digest, _cached: bool) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// Counters of one indexing run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    /// Layers read from their blobs.
    pub layers_read: usize,
    /// Layers answered from the cache.
    pub layers_cached: usize,
    /// Raw layer bytes read.
    pub bytes_read: u64,
}

/// The outcome of indexing one image.
#[derive(Debug, Clone)]
pub struct Indexed {
    /// The Clair v4 report.
    pub report: IndexReport,
    /// Layer digests, bottom first.
    pub layers: Vec<Digest>,
    /// Counters.
    pub stats: IndexStats,
    /// Non-fatal problems (skipped entries and why), each naming the layer and file.
    pub warnings: Vec<String>,
}

/// A layer's digest, results, and whether they came from the cache.
type LayerOutcome = Result<(Digest, Arc<LayerResult>, bool), Error>;

/// Indexes images with a fixed set of scanners.
#[derive(Debug)]
pub struct Indexer {
    packages: Vec<Arc<dyn PackageScanner>>,
    distributions: Vec<Arc<dyn DistributionScanner>>,
    selector: FileSelector,
    /// What distribution scanners read: the only file contents kept in cached layer results
    /// (package databases are summarised by their scans).
    stack_selector: FileSelector,
    limits: ExtractLimits,
    cache: Arc<dyn LayerCache>,
    parallelism: usize,
}

impl Indexer {
    /// An indexer with these scanners, an in-memory cache and default limits.
    pub fn new(
        packages: Vec<Arc<dyn PackageScanner>>,
        distributions: Vec<Arc<dyn DistributionScanner>>,
    ) -> Self {
        let mut selector = FileSelector::new();
        for s in &packages {
            s.select(&mut selector);
        }
        let mut stack_selector = FileSelector::new();
        for s in &distributions {
            s.select(&mut selector);
            s.select(&mut stack_selector);
        }
        Indexer {
            packages,
            distributions,
            selector,
            stack_selector,
            limits: ExtractLimits::default(),
            cache: Arc::new(MemoryCache::new()),
            parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    /// Use this cache for per-layer results.
    pub fn with_cache(mut self, cache: Arc<dyn LayerCache>) -> Self {
        self.cache = cache;
        self
    }

    /// Use these limits when reading layers.
    pub fn with_limits(mut self, limits: ExtractLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Read at most `n` layers at once.
    pub fn with_parallelism(mut self, n: usize) -> Self {
        self.parallelism = n.max(1);
        self
    }

    /// The files all scanners select.
    pub fn selector(&self) -> &FileSelector {
        &self.selector
    }

    /// Clair's indexer "state": changes whenever the scanner set or a scanner version does, so
    /// clients know to re-index.
    pub fn state(&self) -> String {
        let mut s = String::new();
        for p in &self.packages {
            s.push_str(&format!("package:{}@{}\n", p.name(), p.version()));
        }
        for d in &self.distributions {
            s.push_str(&format!("distribution:{}@{}\n", d.name(), d.version()));
        }
        Digest::sha256_of(s.as_bytes()).hex().to_string()
    }

    /// Whether the cache holds complete results for this layer under the current scanners, so
    /// indexing an image with it will not read it (callers may skip fetching it).
    pub fn is_cached(&self, layer: &Digest) -> bool {
        let fingerprint = self.selector.fingerprint();
        self.cache.get(layer).is_some_and(|hit| {
            hit.selection == fingerprint
                && self
                    .packages
                    .iter()
                    .all(|s| hit.scans.contains_key(&Self::scan_key(s.as_ref())))
        })
    }

    /// Index `image`.
    pub fn index(&self, image: &Image, progress: &dyn Progress) -> Result<Indexed, Error> {
        let n = image.layers.len();
        let fingerprint = self.selector.fingerprint();
        let slots: Vec<Mutex<Option<LayerOutcome>>> = (0..n).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let bytes = AtomicUsize::new(0);
        let workers = self.parallelism.min(n).max(1);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= n {
                            break;
                        }
                        let r = self.layer(image, i, &fingerprint, progress, &bytes);
                        if let Ok((d, _, cached)) = &r {
                            progress.layer_done(i, d, *cached);
                        }
                        if let Ok(mut slot) = slots[i].lock() {
                            *slot = Some(r);
                        }
                    }
                });
            }
        });
        let mut digests = Vec::with_capacity(n);
        let mut results = Vec::with_capacity(n);
        let mut stats = IndexStats {
            bytes_read: bytes.load(Ordering::SeqCst) as u64,
            ..IndexStats::default()
        };
        for slot in slots {
            let r = slot
                .into_inner()
                .map_err(|_| Error::Internal("layer worker panicked".into()))?
                .ok_or_else(|| Error::Internal("layer was not processed".into()))??;
            if r.2 {
                stats.layers_cached += 1;
            } else {
                stats.layers_read += 1;
            }
            digests.push(r.0);
            results.push(r.1);
        }
        let manifest = image.manifest_digest_or(&digests);
        let mut warnings = Vec::new();
        for (i, r) in results.iter().enumerate() {
            for w in &r.contents.warnings {
                warnings.push(format!("layer {} ({}): {w}", i + 1, digests[i]));
            }
            for scans in r.scans.values() {
                for w in scans.iter().flat_map(|s| &s.warnings) {
                    warnings.push(format!("layer {} ({}): {w}", i + 1, digests[i]));
                }
            }
        }
        let report = self.coalesce(manifest, &digests, &results);
        Ok(Indexed {
            report,
            layers: digests,
            stats,
            warnings,
        })
    }

    fn scan_key(s: &dyn PackageScanner) -> String {
        format!("{}@{}", s.name(), s.version())
    }

    /// Results for layer `i`: from the cache when possible, else read, scanned and cached.
    fn layer(
        &self,
        image: &Image,
        i: usize,
        fingerprint: &str,
        progress: &dyn Progress,
        bytes: &AtomicUsize,
    ) -> LayerOutcome {
        let layer = &image.layers[i];
        if let Some(d) = &layer.digest
            && let Some(hit) = self.cache.get(d)
            && hit.selection == fingerprint
            && self
                .packages
                .iter()
                .all(|s| hit.scans.contains_key(&Self::scan_key(s.as_ref())))
        {
            return Ok((d.clone(), hit, true));
        }
        let name = format!(
            "layer {} ({})",
            i + 1,
            layer
                .digest
                .as_ref()
                .map_or("no digest".to_string(), Digest::to_string)
        );
        let on_bytes = |n: u64| {
            bytes.fetch_add(n as usize, Ordering::Relaxed);
            progress.bytes(n);
        };
        let (contents, digest) = layer
            .read(&name, &self.selector, &self.limits, &on_bytes)
            .map_err(|source| Error::Layer {
                image: image.reference.clone(),
                index: i + 1,
                source,
            })?;
        let result = Arc::new(self.scan_contents(contents, fingerprint));
        self.cache.put(&digest, result.clone());
        Ok((digest, result, false))
    }

    fn scan_contents(&self, mut contents: LayerContents, fingerprint: &str) -> LayerResult {
        let scans = self
            .packages
            .iter()
            .map(|s| (Self::scan_key(s.as_ref()), s.scan(&contents)))
            .collect();
        // Package databases are summarised by the scans; keep only what stacking needs.
        contents.elide(|path| self.stack_selector.wants(path));
        LayerResult {
            selection: fingerprint.to_string(),
            contents: Arc::new(contents),
            scans,
        }
    }

    /// Stack the layers, keep the package databases that survive in the final filesystem, find
    /// the layer that introduced each package, and identify the distribution.
    fn coalesce(
        &self,
        manifest: Digest,
        layers: &[Digest],
        results: &[Arc<LayerResult>],
    ) -> IndexReport {
        // Every (scanner, database path) seen in any layer.
        let mut dbs: Vec<(String, String)> = Vec::new();
        for r in results {
            for (key, scans) in &r.scans {
                for s in scans {
                    let k = (key.clone(), s.path.clone());
                    if !dbs.contains(&k) {
                        dbs.push(k);
                    }
                }
            }
        }
        dbs.sort();
        // Per database: package → introducing layer, as of the current top of the stack.
        type Live<'r> = HashMap<(String, String, String), (usize, &'r Package)>;
        let mut live: Vec<Live<'_>> = vec![HashMap::new(); dbs.len()];
        let mut stack = Stack::new();
        for (i, r) in results.iter().enumerate() {
            stack.push(r.contents.as_ref());
            for (d, (key, path)) in dbs.iter().enumerate() {
                match stack.provider(path) {
                    Some(j) if j == i => {
                        let scan: Option<&DbScan> = r
                            .scans
                            .get(key)
                            .and_then(|v| v.iter().find(|s| &s.path == path));
                        let mut next = HashMap::new();
                        for p in scan.map(|s| s.packages.as_slice()).unwrap_or_default() {
                            let k = (p.name.clone(), p.version.clone(), p.arch.clone());
                            let since = live[d].get(&k).map_or(i, |(l, _)| *l);
                            next.insert(k, (since, p));
                        }
                        live[d] = next;
                    }
                    Some(_) => {}
                    None => live[d].clear(),
                }
            }
        }
        let distribution = self.distributions.iter().find_map(|s| s.detect(&stack));
        build_report(
            manifest,
            layers,
            distribution,
            live.into_iter().flat_map(|m| m.into_values()),
        )
    }
}

/// A Clair v4 `IndexReport` from packages and the layer (index into `layers`) that introduced
/// each: what indexing an image ends with, and what `clair scan sbom:FILE` builds from an SBOM's
/// packages so the same matchers see the same shape.
pub fn build_report<'a>(
    manifest: Digest,
    layers: &[Digest],
    distribution: Option<Distribution>,
    found: impl Iterator<Item = (usize, &'a Package)>,
) -> IndexReport {
    let mut found: Vec<(usize, &Package)> = found.collect();
    found.sort_by(|a, b| {
        (&a.1.name, &a.1.version, &a.1.arch, &a.1.package_db).cmp(&(
            &b.1.name,
            &b.1.version,
            &b.1.arch,
            &b.1.package_db,
        ))
    });
    let mut report = IndexReport {
        manifest_hash: manifest,
        state: IndexState::IndexFinished,
        packages: BTreeMap::new(),
        distributions: BTreeMap::new(),
        repository: BTreeMap::new(),
        environments: BTreeMap::new(),
        success: true,
        err: String::new(),
    };
    let dist_id = match distribution {
        Some(d) => {
            report.distributions.insert(
                "1".into(),
                ReportDistribution {
                    id: "1".into(),
                    did: d.did,
                    name: d.name,
                    version: d.version,
                    version_code_name: d.version_code_name,
                    version_id: d.version_id,
                    arch: d.arch,
                    cpe: d.cpe,
                    pretty_name: d.pretty_name,
                },
            );
            "1".to_string()
        }
        None => String::new(),
    };
    let mut next_id = 1usize;
    let mut ids: HashMap<(String, String, String, String), String> = HashMap::new();
    let mut source_ids: HashMap<(String, String), String> = HashMap::new();
    for (layer, p) in found {
        let key = (
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
            p.db_kind.to_string(),
        );
        let id = match ids.get(&key) {
            Some(id) => id.clone(),
            None => {
                let source = p.source.as_ref().map(|s| {
                    let sid = source_ids
                        .entry((s.name.clone(), s.version.clone()))
                        .or_insert_with(|| {
                            next_id += 1;
                            (next_id - 1).to_string()
                        })
                        .clone();
                    Box::new(ReportPackage {
                        id: sid,
                        name: s.name.clone(),
                        version: s.version.clone(),
                        kind: "source".into(),
                        source: None,
                        normalized_version: String::new(),
                        module: String::new(),
                        arch: String::new(),
                        cpe: String::new(),
                    })
                });
                next_id += 1;
                let id = (next_id - 1).to_string();
                report.packages.insert(
                    id.clone(),
                    ReportPackage {
                        id: id.clone(),
                        name: p.name.clone(),
                        version: p.version.clone(),
                        kind: "binary".into(),
                        source,
                        normalized_version: String::new(),
                        module: p.module.clone().unwrap_or_default(),
                        arch: p.arch.clone(),
                        cpe: String::new(),
                    },
                );
                ids.insert(key, id.clone());
                id
            }
        };
        // Language packages belong to their ecosystem's registry (the matcher's namespace).
        let repository_ids = match (p.db_kind.ecosystem(), p.db_kind.registry_uri()) {
            (Some(name), Some(uri)) => {
                let rid = match report.repository.values().find(|r| r.name == name) {
                    Some(r) => r.id.clone(),
                    None => {
                        let rid = format!("r{}", report.repository.len() + 1);
                        report.repository.insert(
                            rid.clone(),
                            Repository {
                                id: rid.clone(),
                                name: name.into(),
                                key: String::new(),
                                uri: uri.into(),
                                cpe: String::new(),
                            },
                        );
                        rid
                    }
                };
                vec![rid]
            }
            _ => Vec::new(),
        };
        report
            .environments
            .entry(id)
            .or_default()
            .push(Environment {
                package_db: p.package_db.clone(),
                introduced_in: layers[layer].clone(),
                distribution_id: dist_id.clone(),
                repository_ids,
            });
    }
    report
}
