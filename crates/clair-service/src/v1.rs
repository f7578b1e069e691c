//! The Clair v2 use cases (`/v1`), without HTTP: a layer pushed with its parent is fetched,
//! read and recorded ([`index_layer`]); a layer's view is stacked from its ancestry and matched
//! ([`layer_view`]); a notification is read a page at a time ([`notification_page`]). The
//! HTTP API (`clair-http`) and the SQS pipeline (`clair-sqs`) both call these, so a queued push
//! is handled exactly as a posted one.
//!
//! JSON names are Clair v2's (`Layer`, `NamespaceName`, `FixedBy`, …), written with empty
//! fields omitted; errors carry Clair's exact status codes and messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use clair_ecosystems::EcosystemNamespaces;
use clair_indexer::NoProgress;
use clair_layer::blob::FileRange;
use clair_layer::read::Verify;
use clair_layer::source::{Image, ImageFormat, ImageLayer, LayerSource};
use clair_matcher::Namespaces;
use clair_store::V1Layer;
use clair_types::{Digest, IndexReport, Severity, Vulnerability as Record};
use serde::{Deserialize, Serialize};

use crate::Service;

/// A Clair v2 API failure: the status the API answers with and Clair's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct V1Error {
    /// The HTTP status.
    pub status: u16,
    /// Clair's message.
    pub message: String,
}

impl V1Error {
    /// A failure answered with `status`.
    pub fn new(status: u16, message: String) -> V1Error {
        V1Error { status, message }
    }

    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Clair's error message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<clair_store::Error> for V1Error {
    fn from(_: clair_store::Error) -> Self {
        V1Error::new(
            500,
            "database: an error occured when querying the backend".into(),
        )
    }
}

/// A 400 with Clair's message.
pub fn bad(msg: impl Into<String>) -> V1Error {
    V1Error::new(400, msg.into())
}

/// The engine version Clair v2 reports (`IndexedByVersion`).
pub const ENGINE_VERSION: i64 = 3;
/// Deepest parent chain followed.
const MAX_DEPTH: usize = 1000;

/// The exact message Quay's legacy client matches to re-send the parent.
pub const UNKNOWN_PARENT: &str = "worker: parent layer is unknown, it must be processed first";
const NOT_FOUND: &str = "the resource cannot be found";

/// Go decodes JSON field names case-insensitively: lower-case every object key (not the
/// keys of `Headers`, which are data).
pub fn lower_keys(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let k = k.to_ascii_lowercase();
                    let v = if k == "headers" { v } else { lower_keys(v) };
                    (k, v)
                })
                .collect(),
        ),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(lower_keys).collect())
        }
        other => other,
    }
}

#[derive(Debug, Deserialize)]
struct LayerEnvelopeIn {
    layer: Option<LayerIn>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct LayerIn {
    name: String,
    path: String,
    headers: BTreeMap<String, String>,
    parentname: String,
    format: String,
}

/// Clair v2's Layer.
#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Layer {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub format: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub indexed_by_version: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Clair v2's Feature.
#[derive(Debug, Serialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Feature {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version_format: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub added_by: String,
}

/// Clair v2's Vulnerability (layer context: `FixedBy`, no `FixedIn`).
#[derive(Debug, Serialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Vulnerability {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub severity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fixed_by: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed_in: Vec<Feature>,
}

/// What `POST /v1/layers` does with a request body, without HTTP (blocking): decode and check
/// the `{"Layer":{…}}` envelope, then fetch, read, scan and record the layer (idempotent by
/// name). Returns the layer as the handler echoes it; errors carry the handler's status and
/// message. Used by the SQS receiver (`clair-sqs`) so a queued push is indexed exactly as a
/// posted one.
pub fn index_layer(s: &Service, body: &[u8]) -> Result<Layer, V1Error> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("could not decode JSON: {e}")))?;
    let env: LayerEnvelopeIn = serde_json::from_value(lower_keys(value))
        .map_err(|e| bad(format!("could not decode JSON: {e}")))?;
    let l = env.layer.ok_or_else(|| bad("failed to provide layer"))?;
    for (field, v) in [("name", &l.name), ("path", &l.path), ("format", &l.format)] {
        if v.is_empty() {
            return Err(bad(format!(
                "could not process a layer which does not have a {field}"
            )));
        }
    }
    let format = l.format.to_ascii_lowercase();
    if !matches!(format.as_str(), "docker" | "oci") {
        return Err(bad(format!("unsupported image format '{}'", l.format)));
    }
    let echo = Layer {
        name: l.name.clone(),
        path: l.path.clone(),
        headers: l.headers.clone(),
        parent_name: l.parentname.clone(),
        format: l.format.clone(),
        indexed_by_version: ENGINE_VERSION,
        ..Layer::default()
    };
    process_layer(s, l)?;
    Ok(echo)
}

/// Fetch, read, scan and record one layer (idempotent by name).
fn process_layer(s: &Service, l: LayerIn) -> Result<(), V1Error> {
    if s.store.get_v1_layer(&l.name)?.is_some() {
        return Ok(());
    }
    let parent = if l.parentname.is_empty() {
        None
    } else {
        match s.store.get_v1_layer(&l.parentname)? {
            Some(_) => Some(l.parentname.clone()),
            None => return Err(bad(UNKNOWN_PARENT)),
        }
    };
    let dir = tempfile::Builder::new()
        .prefix("clair-v1-")
        .tempdir_in(&s.work_dir)
        .map_err(|e| V1Error::new(500, e.to_string()))?;
    let (file, len, shown) = if l.path.starts_with("http://") || l.path.starts_with("https://") {
        let dest = dir.path().join("layer");
        let headers: Vec<(String, String)> = l
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let n = s
            .fetcher_v1
            .fetch(&l.name, &l.path, &headers, None, &dest)
            .map_err(|e| {
                tracing::warn!(layer = %l.name, error = %e, "could not fetch layer");
                bad("could not find layer")
            })?;
        s.counters.layer_fetched();
        (dest, n, clair_layer::fetch::display_url(&l.path))
    } else {
        if !s.allow_local_layer_paths {
            tracing::warn!(layer = %l.name, "local layer path refused");
            return Err(bad(
                "layer path must be an http or https URL (local files are read only with \
                 clair_rs.allow_local_layer_paths)",
            ));
        }
        let p = std::path::PathBuf::from(&l.path);
        let n = std::fs::metadata(&p)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
            .ok_or_else(|| {
                tracing::warn!(layer = %l.name, path = %l.path, "no such layer file");
                bad("could not find layer")
            })?;
        (p, n, l.path.clone())
    };
    let image = Image::from_layers(
        &l.name,
        ImageFormat::Remote,
        None,
        vec![ImageLayer {
            digest: None,
            media_type: None,
            source: LayerSource::Blob {
                range: FileRange {
                    path: Arc::new(file),
                    offset: 0,
                    len,
                },
                verify: Verify::None,
            },
        }],
    );
    let indexed = s.indexer.index(&image, &NoProgress).map_err(|e| {
        tracing::warn!(layer = %l.name, error = %e, "could not extract layer");
        V1Error::new(422, "tarutil: could not extract the archive".into())
    })?;
    let digest = indexed
        .layers
        .first()
        .cloned()
        .ok_or_else(|| V1Error::new(500, "no layer read".into()))?;
    s.store.put_v1_layer(&V1Layer {
        name: l.name.clone(),
        digest,
        parent,
        path: shown,
        format: l.format,
    })?;
    // The reverse index Clair v2 notifications look layers up in.
    let names: Vec<String> = clair_types::package_names(&indexed.report)
        .into_iter()
        .collect();
    s.store.set_v1_layer_packages(&l.name, &names)?;
    Ok(())
}

/// The layer's ancestry, base first.
pub fn chain(s: &Service, name: &str) -> Result<Vec<V1Layer>, V1Error> {
    let mut out = Vec::new();
    let mut next = Some(name.to_string());
    while let Some(n) = next {
        if out.len() >= MAX_DEPTH || out.iter().any(|l: &V1Layer| l.name == n) {
            return Err(V1Error::new(
                500,
                format!("layer {name}: parent chain is cyclic or deeper than {MAX_DEPTH}"),
            ));
        }
        let l = s
            .store
            .get_v1_layer(&n)?
            .ok_or_else(|| V1Error::new(404, NOT_FOUND.into()))?;
        next = l.parent.clone();
        out.push(l);
    }
    out.reverse();
    Ok(out)
}

/// A layer's ancestry (base first) and the index report of the image it tops, stacked from
/// the layer cache (nothing is fetched).
pub fn chain_report(s: &Service, name: &str) -> Result<(Vec<V1Layer>, IndexReport), V1Error> {
    let chain = chain(s, name)?;
    let image = Image::from_layers(
        name,
        ImageFormat::Remote,
        None,
        chain
            .iter()
            .map(|l| ImageLayer {
                digest: Some(l.digest.clone()),
                media_type: None,
                source: LayerSource::Cached,
            })
            .collect(),
    );
    let report = s
        .indexer
        .index(&image, &NoProgress)
        .map_err(|e| V1Error::new(500, format!("layer {name}: {e}")))?
        .report;
    Ok((chain, report))
}

fn version_format(package_db: &str, namespace: &str) -> String {
    if package_db.contains("dpkg") {
        "dpkg".into()
    } else if package_db.contains("rpm") {
        "rpm".into()
    } else if package_db.contains("apk") {
        "apk".into()
    } else {
        namespace.to_string()
    }
}

/// A vendor's severity word on Clair v2's scale, as its updaters read them: Debian urgencies
/// (with their `*`/`**` marks; `end-of-life` and `unimportant` Negligible), Ubuntu priorities,
/// Red Hat, Oracle and Amazon impacts. Clair v2 reported Debian's "low" as Low, where Clair v4
/// says Medium; the `/v1` API keeps Clair v2's scale.
pub fn v2_severity(vendor: &str) -> Severity {
    match vendor
        .trim()
        .trim_end_matches('*')
        .to_ascii_lowercase()
        .as_str()
    {
        "unimportant" | "negligible" | "end-of-life" => Severity::Negligible,
        "low" => Severity::Low,
        "medium" | "moderate" => Severity::Medium,
        "high" | "important" => Severity::High,
        "critical" | "defcon1" => Severity::Critical,
        _ => Severity::Unknown,
    }
}

/// Clair v2's `SeverityFromCVSS` (its NVD appender's table, boundaries as written there), the
/// severity of a record whose vendor gives none.
fn v2_severity_from_cvss(score: f64) -> Severity {
    match score {
        s if s < 1.0 => Severity::Negligible,
        s if s < 3.9 => Severity::Low,
        s if s < 6.9 => Severity::Medium,
        s if s < 8.9 => Severity::High,
        s if s <= 10.0 => Severity::Critical,
        _ => Severity::Unknown,
    }
}

/// Clair v2's `Metadata` of a vulnerability from NVD's CVSS data (the CVSS enrichment):
/// `{"NVD": {"CVSSv2": {"Score", "Vectors"}}}` for a v2 metric as Clair v2 sent it, `CVSSv3`
/// for a v3 one.
fn v2_metadata(cvss: &serde_json::Value) -> serde_json::Value {
    let key = if cvss.get("version").and_then(|v| v.as_str()) == Some("2.0") {
        "CVSSv2"
    } else {
        "CVSSv3"
    };
    serde_json::json!({"NVD": {key: {
        "Score": cvss.get("baseScore"),
        "Vectors": cvss.get("vectorString"),
    }}})
}

pub fn title(s: Severity) -> String {
    let t = s.to_string();
    let mut c = t.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => t,
    }
}

/// What `GET /v1/layers/:name` answers under `"Layer"` (blocking): the layer with its
/// namespace and, when asked, its chain's features and their vulnerabilities.
pub fn layer_view(
    s: &Service,
    name: &str,
    with_features: bool,
    with_vulns: bool,
) -> Result<Layer, V1Error> {
    let (chain, report) = chain_report(s, name)?;
    let top = chain
        .last()
        .ok_or_else(|| V1Error::new(404, NOT_FOUND.into()))?;
    // Each digest is named after the first (lowest) layer carrying it.
    let mut names: BTreeMap<Digest, String> = BTreeMap::new();
    for l in &chain {
        names
            .entry(l.digest.clone())
            .or_insert_with(|| l.name.clone());
    }
    let ns = EcosystemNamespaces;
    let dist_ns: BTreeMap<String, String> = report
        .distributions
        .iter()
        .filter_map(|(id, d)| {
            ns.distribution(d)
                .into_iter()
                .next()
                .map(|n| (id.clone(), n))
        })
        .collect();
    let layer_ns = dist_ns.values().next().cloned().unwrap_or_default();
    let mut out = Layer {
        name: top.name.clone(),
        namespace_name: layer_ns,
        parent_name: top.parent.clone().unwrap_or_default(),
        indexed_by_version: ENGINE_VERSION,
        ..Layer::default()
    };
    if !with_features {
        return Ok(out);
    }
    let vr = if with_vulns {
        let vr = crate::vulnerability_report(&s.live.current(), &report, s.store.as_ref())?;
        s.counters.vulnerability_report();
        Some(vr)
    } else {
        None
    };
    let cvss = vr.as_ref().and_then(|vr| {
        vr.enrichments
            .get(clair_matcher::matching::CVSS_ENRICHMENT_KIND)
            .and_then(|v| v.first())
            .cloned()
    });
    for (id, p) in &report.packages {
        let env = report.environments.get(id).and_then(|e| e.first());
        let namespace = env
            .and_then(|e| dist_ns.get(&e.distribution_id).cloned())
            .or_else(|| {
                env.and_then(|e| e.repository_ids.first())
                    .and_then(|r| report.repository.get(r))
                    .and_then(|r| ns.repository(r))
            })
            .unwrap_or_default();
        let mut f = Feature {
            name: p.name.clone(),
            namespace_name: namespace.clone(),
            version_format: version_format(env.map_or("", |e| e.package_db.as_str()), &namespace),
            version: p.version.clone(),
            added_by: env
                .and_then(|e| names.get(&e.introduced_in).cloned())
                .unwrap_or_default(),
            vulnerabilities: Vec::new(),
        };
        if let Some(vr) = &vr {
            for vid in vr.package_vulnerabilities.get(id).into_iter().flatten() {
                let Some(v) = vr.vulnerabilities.get(vid) else {
                    continue;
                };
                let nvd = cvss
                    .as_ref()
                    .and_then(|c| c.get(vid))
                    .and_then(|list| list.as_array()?.first().cloned());
                let metadata = nvd.as_ref().map(v2_metadata);
                let severity = match v2_severity(&v.severity) {
                    Severity::Unknown => nvd
                        .as_ref()
                        .and_then(|c| c.get("baseScore")?.as_f64())
                        .map_or(Severity::Unknown, v2_severity_from_cvss),
                    s => s,
                };
                f.vulnerabilities.push(Vulnerability {
                    name: v.name.clone(),
                    namespace_name: namespace.clone(),
                    description: v.description.clone(),
                    link: v.links.split_whitespace().next().unwrap_or("").to_string(),
                    severity: title(severity),
                    metadata,
                    fixed_by: if v.fixed_in_version == "0" {
                        String::new()
                    } else {
                        v.fixed_in_version.clone()
                    },
                    fixed_in: Vec::new(),
                });
            }
        }
        out.features.push(f);
    }
    out.features
        .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(out)
}

pub fn namespace_format(ns: &str) -> &'static str {
    match ns.split(':').next().unwrap_or("") {
        "debian" | "ubuntu" => "dpkg",
        "alpine" => "apk",
        "pypi" => "pep440",
        "npm" | "crates.io" => "semver",
        "go" => "go",
        "maven" => "maven",
        "rubygems" => "gem",
        _ => "rpm",
    }
}

/// The updater manual vulnerabilities are stored under.
pub const MANUAL_UPDATER: &str = "clair-v1-api";

/// Clair v2's severities, lowest first.
pub const SEVERITIES: [&str; 7] = [
    "Unknown",
    "Negligible",
    "Low",
    "Medium",
    "High",
    "Critical",
    "Defcon1",
];

/// A record's severity as Clair v2 names it.
fn v1_severity(r: &Record) -> String {
    SEVERITIES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(&r.severity))
        .map(|n| n.to_string())
        .unwrap_or_else(|| title(v2_severity(&r.severity)))
}

fn feature_of(r: &Record, ns: &str) -> Option<Feature> {
    (!r.package_name.is_empty()).then(|| Feature {
        name: r.package_name.clone(),
        namespace_name: ns.to_string(),
        version_format: if r.version_scheme.is_empty() {
            namespace_format(ns).to_string()
        } else {
            r.version_scheme.clone()
        },
        version: if r.fixed_in_version.is_empty() {
            "None".into()
        } else {
            r.fixed_in_version.clone()
        },
        ..Feature::default()
    })
}

/// Clair v2's view of the records of one vulnerability in namespace `ns`, with the fixing
/// features when `with_fixes`.
pub fn to_v1(name: &str, records: &[Record], ns: &str, with_fixes: bool) -> Vulnerability {
    let first = records.first();
    let mut fixed_in: Vec<Feature> = if with_fixes {
        records.iter().filter_map(|r| feature_of(r, ns)).collect()
    } else {
        Vec::new()
    };
    fixed_in.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    fixed_in.dedup_by(|a, b| a.name == b.name && a.version == b.version);
    Vulnerability {
        name: name.to_string(),
        namespace_name: ns.to_string(),
        description: first.map(|r| r.description.clone()).unwrap_or_default(),
        link: first
            .and_then(|r| r.links.split_whitespace().next())
            .unwrap_or("")
            .to_string(),
        severity: first.map(v1_severity).unwrap_or_default(),
        metadata: None,
        fixed_by: String::new(),
        fixed_in,
    }
}

/// The store kind of Clair v2 notifications.
pub use crate::notify::V1 as NOTIFICATION_KIND;
/// Most layers read per side of a notification page (a bound on one response).
const MAX_LIMIT: i64 = 10_000;

/// What `GET /v1/notifications/:name?limit=N[&page=TOKEN]` answers under `"Notification"`
/// (blocking). A v1 notification is stored (by [`crate::notify`]) as a store notification of
/// kind `v1` whose body holds `Old` and `New` (each `{"Vulnerability": …}` or absent) and whose
/// items are the layers introducing each side, `{"side": "old"|"new", "index": N, "layer":
/// NAME}`, in layer order. Pages follow Clair v2: `limit` caps the layers per side, the token
/// holds the next start index of each side (`-1`: that side is done), `NextPage` is absent once
/// both sides are done, and `limit=-1` loads no layers.
pub fn notification_page(
    s: &Service,
    name: &str,
    limit: i64,
    token: Option<String>,
) -> Result<serde_json::Value, V1Error> {
    let (mut old_start, mut new_start) = (0i64, 0i64);
    if let Some(t) = &token {
        let v = s
            .page_key
            .open(t)
            .ok_or_else(|| bad("invalid page format: invalid or expired pagination token"))?;
        old_start = v["OldVulnerability"].as_i64().unwrap_or(-1);
        new_start = v["NewVulnerability"].as_i64().unwrap_or(-1);
    }
    let id: uuid::Uuid = name
        .parse()
        .map_err(|_| V1Error::new(404, NOT_FOUND.into()))?;
    let note = s
        .store
        .notification(id)?
        .filter(|n| n.kind == NOTIFICATION_KIND)
        .ok_or_else(|| V1Error::new(404, NOT_FOUND.into()))?;
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = s.store.notification_items(id, after, 1000)?;
        items.extend(page.items);
        match page.next {
            Some(n) if items.len() < 1_000_000 => after = Some(n),
            _ => break,
        }
    }

    let limit = limit.min(MAX_LIMIT);
    let side = |which: &str, start: i64| -> (Vec<serde_json::Value>, i64) {
        if start < 0 || limit < 0 {
            return (Vec::new(), -1);
        }
        let layers: Vec<&serde_json::Value> = items
            .iter()
            .map(|i| &i.body)
            .filter(|b| b["side"] == which && b["index"].as_i64().unwrap_or(-1) >= start)
            .collect();
        let take = usize::try_from(limit).unwrap_or(0);
        let next = layers
            .get(take)
            .and_then(|b| b["index"].as_i64())
            .unwrap_or(-1);
        (layers.into_iter().take(take).cloned().collect(), next)
    };
    let (old_layers, old_next) = side("old", old_start);
    let (new_layers, new_next) = side("new", new_start);
    let with_layers = |v: &serde_json::Value, layers: Vec<serde_json::Value>| {
        let mut out = serde_json::json!({ "Vulnerability": v });
        if !layers.is_empty() {
            out["OrderedLayersIntroducingVulnerability"] = layers
                .iter()
                .map(|l| serde_json::json!({"Index": l["index"], "LayerName": l["layer"]}))
                .collect();
            out["LayersIntroducingVulnerability"] =
                layers.iter().map(|l| l["layer"].clone()).collect();
        }
        out
    };
    let mut n = serde_json::json!({
        "Name": note.id.to_string(),
        "Created": note.created.as_second().to_string(),
        "Limit": limit,
        "Page": token.unwrap_or_else(|| s.page_key.mint(&serde_json::json!({"OldVulnerability": 0, "NewVulnerability": 0}))),
    });
    // As Clair v2: Unix seconds as strings, each present once it happened (`Notified` is
    // the last delivery, `Deleted` the acknowledgement; deleted notifications stay readable).
    if let Some(t) = note.notified {
        n["Notified"] = t.as_second().to_string().into();
    }
    if let Some(t) = note.deleted {
        n["Deleted"] = t.as_second().to_string().into();
    }
    if !(old_next == -1 && new_next == -1) {
        n["NextPage"] = serde_json::Value::String(s.page_key.mint(
            &serde_json::json!({"OldVulnerability": old_next, "NewVulnerability": new_next}),
        ));
    }
    if let Some(v) = note.body.get("Old").filter(|v| !v.is_null()) {
        n["Old"] = with_layers(v.get("Vulnerability").unwrap_or(v), old_layers);
    }
    if let Some(v) = note.body.get("New").filter(|v| !v.is_null()) {
        n["New"] = with_layers(v.get("Vulnerability").unwrap_or(v), new_layers);
    }
    Ok(n)
}
