//! The Clair v2 API (`/v1`), as klar, ProGet and the legacy Quay client call it
//! (`../shared/spec/clair-api.md` §1): layers posted one by one with their parent, by URL (with
//! headers) or local path; the image's features and vulnerabilities read from the top layer.
//!
//! JSON names are Clair v2's (`Layer`, `NamespaceName`, `FixedBy`, …), read case-insensitively
//! as Go does and written with empty fields omitted; errors are `{"Error":{"Message":…}}` with
//! Clair's exact messages and status codes. Layers are stored by the digest of their blob, so a
//! layer posted under several names (or already indexed through the v4 API) is read once.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clair_ecosystems::EcosystemNamespaces;
use clair_indexer::NoProgress;
use clair_layer::blob::FileRange;
use clair_layer::read::Verify;
use clair_layer::source::{Image, ImageFormat, ImageLayer, LayerSource};
use clair_matcher::Namespaces;
use clair_store::V1Layer;
use clair_types::{Digest, IndexReport, Severity};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::report_cache::{self, CacheKey, Reply};

/// The engine version Clair v2 reports (`IndexedByVersion`).
pub const ENGINE_VERSION: i64 = 3;
/// Request bodies are read up to 1 MiB, as Clair v2 does.
const MAX_BODY: usize = 1 << 20;
/// Deepest parent chain followed.
const MAX_DEPTH: usize = 1000;

/// The exact message Quay's legacy client matches to re-send the parent.
pub const UNKNOWN_PARENT: &str = "worker: parent layer is unknown, it must be processed first";
const NOT_FOUND: &str = "the resource cannot be found";

/// A v1 error: status and message.
#[derive(Debug)]
pub struct V1Error(pub(crate) StatusCode, pub(crate) String);

impl V1Error {
    /// The HTTP status the API answers with.
    pub fn status(&self) -> StatusCode {
        self.0
    }

    /// Clair's error message.
    pub fn message(&self) -> &str {
        &self.1
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        if self.0.is_server_error() {
            tracing::error!(status = self.0.as_u16(), message = %self.1, "v1 request failed");
        }
        let body = serde_json::json!({"Error": {"Message": self.1}});
        let mut resp = write(self.0, &body, false);
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            crate::limit::add_retry_after(&mut resp);
        }
        resp
    }
}

impl From<clair_store::Error> for V1Error {
    fn from(_: clair_store::Error) -> Self {
        V1Error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "database: an error occured when querying the backend".into(),
        )
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> V1Error {
    V1Error(StatusCode::BAD_REQUEST, msg.into())
}

pub(crate) fn join_err(e: tokio::task::JoinError) -> V1Error {
    V1Error(StatusCode::INTERNAL_SERVER_ERROR, format!("worker: {e}"))
}

impl From<tokio::task::JoinError> for V1Error {
    fn from(e: tokio::task::JoinError) -> Self {
        join_err(e)
    }
}

impl From<std::io::Error> for V1Error {
    fn from(e: std::io::Error) -> Self {
        V1Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

/// Clair v2's `writeResponse`: JSON with a trailing newline, `Server: clair`, gzip when asked.
pub(crate) fn write(status: StatusCode, body: &impl Serialize, gzip: bool) -> Response {
    let mut bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes.push(b'\n');
    let mut headers = vec![
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        ),
        (header::SERVER, HeaderValue::from_static("clair")),
    ];
    if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if e.write_all(&bytes).is_ok()
            && let Ok(z) = e.finish()
        {
            bytes = z;
            headers.push((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
        }
    }
    let mut resp = (status, bytes).into_response();
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    resp
}

/// [`write`] of Clair v2's envelope, `{"<name>": value}`.
pub(crate) fn write_one(
    status: StatusCode,
    name: &str,
    value: impl Serialize,
    gzip: bool,
) -> Response {
    write(
        status,
        &std::collections::BTreeMap::from([(name, value)]),
        gzip,
    )
}

/// The `limit` query parameter Clair v2's paged lists require.
pub(crate) fn limit_param(q: &std::collections::BTreeMap<String, String>) -> Result<i64, V1Error> {
    q.get("limit")
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| bad("must provide limit query parameter"))
}

/// The content of a `page` token this server issued.
pub(crate) fn page_token(s: &crate::AppState, token: &str) -> Result<serde_json::Value, V1Error> {
    s.page_key
        .open(token)
        .ok_or_else(|| bad("invalid page format: invalid or expired pagination token"))
}

pub(crate) fn wants_gzip(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"))
}

/// Go decodes JSON field names case-insensitively: lower-case every object key (not the
/// keys of `Headers`, which are data).
pub(crate) fn lower_keys(v: serde_json::Value) -> serde_json::Value {
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
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    namespace_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    path: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    parent_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    format: String,
    #[serde(skip_serializing_if = "is_zero")]
    indexed_by_version: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    features: Vec<Feature>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Clair v2's Feature.
#[derive(Debug, Serialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Feature {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) version_format: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) vulnerabilities: Vec<Vulnerability>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) added_by: String,
}

/// Clair v2's Vulnerability (layer context: `FixedBy`, no `FixedIn`).
#[derive(Debug, Serialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Vulnerability {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) namespace_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) severity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metadata: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) fixed_by: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) fixed_in: Vec<Feature>,
}

/// The v1 routes, to be nested under `/v1`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/layers", axum::routing::post(post_layer))
        .route("/layers/{name}", get(get_layer).delete(delete_layer))
        .route("/namespaces", get(namespaces))
        .route(
            "/namespaces/{ns}/vulnerabilities",
            get(crate::v1_vulns::list).post(crate::v1_vulns::create),
        )
        .route(
            "/namespaces/{ns}/vulnerabilities/{vuln}",
            get(crate::v1_vulns::get_one)
                .put(crate::v1_vulns::update)
                .delete(crate::v1_vulns::delete),
        )
        .route(
            "/namespaces/{ns}/vulnerabilities/{vuln}/fixes",
            get(crate::v1_vulns::fixes),
        )
        .route(
            "/namespaces/{ns}/vulnerabilities/{vuln}/fixes/{fix}",
            axum::routing::put(crate::v1_vulns::put_fix).delete(crate::v1_vulns::delete_fix),
        )
        .route("/metrics", get(crate::health::metrics))
        .route(
            "/notifications/{name}",
            get(crate::v1_notifications::get).delete(crate::v1_notifications::delete),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn post_layer(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let gzip = wants_gzip(&headers);
    let permit = s.index_limit.acquire().await.map_err(|_| {
        s.metrics.index_limited.fetch_add(1, Ordering::Relaxed);
        V1Error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many indexing requests at once; retry later".into(),
        )
    })?;
    let st = s.clone();
    // The permit is held by the work itself, which outlives a dropped handler.
    let echo = crate::limit::run(permit, move || index_layer(&st, &body)).await??;
    Ok(write_one(StatusCode::CREATED, "Layer", echo, gzip))
}

/// What `POST /v1/layers` does with a request body, without HTTP (blocking): decode and check
/// the `{"Layer":{…}}` envelope, then fetch, read, scan and record the layer (idempotent by
/// name). Returns the layer as the handler echoes it; errors carry the handler's status and
/// message. Used by the SQS receiver (`clair-sqs`) so a queued push is indexed exactly as a
/// posted one.
pub fn index_layer(s: &AppState, body: &[u8]) -> Result<Layer, V1Error> {
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
fn process_layer(s: &AppState, l: LayerIn) -> Result<(), V1Error> {
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
        .map_err(|e| V1Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
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
        s.metrics.layers_fetched.fetch_add(1, Ordering::Relaxed);
        (dest, n, crate::fetch::display_url(&l.path))
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
        V1Error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "tarutil: could not extract the archive".into(),
        )
    })?;
    let digest = indexed
        .layers
        .first()
        .cloned()
        .ok_or_else(|| V1Error(StatusCode::INTERNAL_SERVER_ERROR, "no layer read".into()))?;
    s.store.put_v1_layer(&V1Layer {
        name: l.name.clone(),
        digest,
        parent,
        path: shown,
        format: l.format,
    })?;
    // The reverse index Clair v2 notifications look layers up in.
    let names: Vec<String> = clair_store::package_names(&indexed.report)
        .into_iter()
        .collect();
    s.store.set_v1_layer_packages(&l.name, &names)?;
    Ok(())
}

fn flag(query: &Option<String>, name: &str) -> bool {
    crate::query_params(query).contains_key(name)
}

async fn get_layer(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, V1Error> {
    let with_vulns = flag(&query, "vulnerabilities");
    let with_features = with_vulns || flag(&query, "features");
    if !with_features {
        let st = s.clone();
        let layer = tokio::task::spawn_blocking(move || layer_view(&st, &name, false, false))
            .await
            .map_err(join_err)??;
        return Ok(write_one(
            StatusCode::OK,
            "Layer",
            layer,
            wants_gzip(&headers),
        ));
    }
    // Features (and vulnerabilities) are cached: named by the layer chain's digests and, with
    // vulnerabilities, the matcher's data generation.
    let st = s.clone();
    let n = name.clone();
    let chain = tokio::task::spawn_blocking(move || chain(&st, &n))
        .await
        .map_err(join_err)??;
    let mut validator: String = chain
        .iter()
        .map(|l| format!("{}={} ", l.name, l.digest))
        .collect();
    if with_vulns {
        validator.push_str(&s.data_generation(&s.live.current()));
    }
    let key = CacheKey {
        key: format!(
            "v1/layers/{name}?{}",
            if with_vulns {
                "vulnerabilities"
            } else {
                "features"
            }
        ),
        validator,
    };
    let reply = Reply {
        status: StatusCode::OK,
        content_type: "application/json;charset=utf-8",
        headers: vec![(header::SERVER, HeaderValue::from_static("clair"))],
        etag: true,
    };
    report_cache::serve(&s.report_cache.clone(), &headers, key, reply, move || {
        let layer = layer_view(&s, &name, with_features, with_vulns)?;
        let mut body = serde_json::to_vec(&serde_json::json!({ "Layer": layer }))
            .map_err(|e| V1Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        body.push(b'\n');
        Ok(body)
    })
    .await
}

/// The layer's ancestry, base first.
fn chain(s: &AppState, name: &str) -> Result<Vec<V1Layer>, V1Error> {
    let mut out = Vec::new();
    let mut next = Some(name.to_string());
    while let Some(n) = next {
        if out.len() >= MAX_DEPTH || out.iter().any(|l: &V1Layer| l.name == n) {
            return Err(V1Error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("layer {name}: parent chain is cyclic or deeper than {MAX_DEPTH}"),
            ));
        }
        let l = s
            .store
            .get_v1_layer(&n)?
            .ok_or_else(|| V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()))?;
        next = l.parent.clone();
        out.push(l);
    }
    out.reverse();
    Ok(out)
}

/// A layer's ancestry (base first) and the index report of the image it tops, stacked from
/// the layer cache (nothing is fetched).
pub(crate) fn chain_report(
    s: &AppState,
    name: &str,
) -> Result<(Vec<V1Layer>, IndexReport), V1Error> {
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
        .map_err(|e| {
            V1Error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("layer {name}: {e}"),
            )
        })?
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
pub(crate) fn v2_severity(vendor: &str) -> Severity {
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

pub(crate) fn title(s: Severity) -> String {
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
    s: &AppState,
    name: &str,
    with_features: bool,
    with_vulns: bool,
) -> Result<Layer, V1Error> {
    let (chain, report) = chain_report(s, name)?;
    let top = chain
        .last()
        .ok_or_else(|| V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()))?;
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
        let (mut vr, _) = s.live.current().report(&report, &ns);
        clair_matcher::matching::add_cvss(&mut vr, s.store.as_ref())?;
        s.metrics
            .vulnerability_reports
            .fetch_add(1, Ordering::Relaxed);
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

async fn delete_layer(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, V1Error> {
    let store = s.store.clone();
    let n = tokio::task::spawn_blocking(move || store.delete_v1_layer(&name))
        .await
        .map_err(join_err)??;
    if n == 0 {
        return Err(V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()));
    }
    // Clair v2 writes only the status: no body, no headers.
    Ok(StatusCode::OK.into_response())
}

pub(crate) fn namespace_format(ns: &str) -> &'static str {
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

async fn namespaces(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let idx = s.live.current();
    let list: Vec<serde_json::Value> = idx
        .namespaces()
        .keys()
        .map(|n| serde_json::json!({"Name": n, "VersionFormat": namespace_format(n)}))
        .collect();
    // Clair v2 sends `"Namespaces": null` when there is none (a pointer to a nil slice).
    let body = if list.is_empty() {
        serde_json::json!({ "Namespaces": null })
    } else {
        serde_json::json!({ "Namespaces": list })
    };
    write(StatusCode::OK, &body, wants_gzip(&headers))
}
