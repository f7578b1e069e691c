//! Clair v2's vulnerability routes: `/v1/namespaces/:ns/vulnerabilities[/:vuln[/fixes[/:fix]]]`.
//!
//! Reads cover every stored record of the namespace (feeds and manual ones), grouped by
//! vulnerability name, paged with Fernet tokens. Writes (POST, PUT, DELETE, fixes) manage the
//! *manual* vulnerabilities: they are kept as the update operations of their own updater,
//! `clair-v1-api`, so every change is atomic, diffed and seen by every instance; a store lock
//! serialises concurrent writers. Records that come from feeds cannot be changed here (the next
//! update would bring them back): that is a 404.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use clair_types::{PackageKind, Severity, Vulnerability as Record};
use serde::Deserialize;

use crate::AppState;
use crate::v1::{
    V1Error, bad, join_err, limit_param, lower_keys, page_token, wants_gzip, write, write_one,
};
use clair_service::v1::{SEVERITIES, Vulnerability, to_v1};

pub use clair_service::v1::MANUAL_UPDATER;
const NOT_FOUND: &str = "the resource cannot be found";

fn not_found() -> V1Error {
    V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into())
}

fn parse_severity(s: &str) -> Result<(&'static str, Severity), V1Error> {
    let name = SEVERITIES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| bad("failed to parse Severity from input"))?;
    let normalized = match *name {
        "Negligible" => Severity::Negligible,
        "Low" => Severity::Low,
        "Medium" => Severity::Medium,
        "High" => Severity::High,
        "Critical" | "Defcon1" => Severity::Critical,
        _ => Severity::Unknown,
    };
    Ok((name, normalized))
}

/// Records of a namespace grouped by vulnerability name, in name order.
fn grouped(records: Vec<Record>) -> Vec<(String, Vec<Record>)> {
    let mut by: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for r in records {
        by.entry(r.name.clone()).or_default().push(r);
    }
    by.into_iter().collect()
}

fn namespace_records(s: &AppState, ns: &str) -> Result<Vec<Record>, V1Error> {
    let mut out = Vec::new();
    s.store
        .for_each_latest_vulnerability(Some(&[ns.to_string()]), &mut |v| out.push(v))?;
    Ok(out)
}

/// `GET /v1/namespaces/:ns/vulnerabilities?limit=N[&page=TOKEN]`.
pub async fn list(
    State(s): State<AppState>,
    Path(ns): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, V1Error> {
    let q = crate::query_params(&q);
    let limit =
        usize::try_from(limit_param(&q)?).map_err(|_| bad("must provide limit query parameter"))?;
    let start: usize = match q.get("page").filter(|p| !p.is_empty()) {
        None => 0,
        Some(token) => page_token(&s, token)?
            .as_u64()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| bad("invalid page format: invalid or expired pagination token"))?,
    };
    let st = s.clone();
    let (page, next) = tokio::task::spawn_blocking(move || -> Result<_, V1Error> {
        let records = namespace_records(&st, &ns)?;
        if records.is_empty() {
            return Err(not_found());
        }
        let groups = grouped(records);
        let end = start.saturating_add(limit).min(groups.len());
        let page: Vec<Vulnerability> = groups
            .get(start.min(groups.len())..end)
            .unwrap_or_default()
            .iter()
            .map(|(name, rs)| to_v1(name, rs, &ns, false))
            .collect();
        let next = (groups.len() > end).then(|| st.page_key.mint(&serde_json::json!(end)));
        Ok((page, next))
    })
    .await
    .map_err(join_err)??;
    let mut body = serde_json::Map::new();
    // Clair v2 sends `"Vulnerabilities": null` for an empty page (a pointer to a nil slice).
    body.insert(
        "Vulnerabilities".into(),
        if page.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&page).unwrap_or_default()
        },
    );
    if let Some(n) = next {
        body.insert("NextPage".into(), serde_json::Value::String(n));
    }
    Ok(write(StatusCode::OK, &body, wants_gzip(&headers)))
}

/// Vulnerability `name` of namespace `ns` in Clair v2's form; 404 when there is none.
async fn find(
    s: &AppState,
    ns: String,
    name: String,
    with_fixes: bool,
) -> Result<Vulnerability, V1Error> {
    let st = s.clone();
    tokio::task::spawn_blocking(move || {
        let records: Vec<Record> = namespace_records(&st, &ns)?
            .into_iter()
            .filter(|r| r.name == name)
            .collect();
        if records.is_empty() {
            return Err(not_found());
        }
        Ok(to_v1(&name, &records, &ns, with_fixes))
    })
    .await
    .map_err(join_err)?
}

/// `GET /v1/namespaces/:ns/vulnerabilities/:vuln[?fixedIn]`.
pub async fn get_one(
    State(s): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, V1Error> {
    let with_fixes = crate::query_params(&q).contains_key("fixedIn");
    let v = find(&s, ns, name, with_fixes).await?;
    Ok(write_one(
        StatusCode::OK,
        "Vulnerability",
        v,
        wants_gzip(&headers),
    ))
}

/// `GET /v1/namespaces/:ns/vulnerabilities/:vuln/fixes`.
pub async fn fixes(
    State(s): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, V1Error> {
    let v = find(&s, ns, name, true).await?.fixed_in;
    // Clair v2 sends `"Features": null` for a vulnerability fixed nowhere.
    let body = if v.is_empty() {
        serde_json::json!({ "Features": null })
    } else {
        serde_json::json!({ "Features": v })
    };
    Ok(write(StatusCode::OK, &body, wants_gzip(&headers)))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct VulnIn {
    name: String,
    namespacename: String,
    description: String,
    link: String,
    severity: String,
    fixedin: Option<Vec<FeatureIn>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct FeatureIn {
    name: String,
    versionformat: String,
    version: String,
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8], member: &str) -> Result<T, V1Error> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("could not decode JSON: {e}")))?;
    let v = lower_keys(v);
    let inner = v
        .get(member)
        .cloned()
        .ok_or_else(|| bad(format!("failed to provide {member}")))?;
    serde_json::from_value(inner).map_err(|e| bad(format!("could not decode JSON: {e}")))
}

/// Check a fix: a known version format and a version that parses (`None`: not fixed).
fn fix_record(base: &Record, f: &FeatureIn) -> Result<Record, V1Error> {
    if f.name.is_empty() {
        return Err(bad(
            "could not process a feature which does not have a name",
        ));
    }
    let format = f.versionformat.to_ascii_lowercase();
    let scheme: clair_version::Scheme = match format.as_str() {
        "dpkg" => clair_version::Scheme::Dpkg,
        "rpm" => clair_version::Scheme::Rpm,
        "apk" => clair_version::Scheme::Apk,
        _ => return Err(bad("unknown version format")),
    };
    let fixed = if f.version == "None" || f.version.is_empty() {
        String::new()
    } else {
        scheme
            .validate(&f.version)
            .map_err(|_| bad("invalid version"))?;
        f.version.clone()
    };
    Ok(Record {
        package_name: f.name.clone(),
        // Debian-family advisories name source packages; rpm and apk ones binaries.
        package_kind: if format == "dpkg" {
            PackageKind::Source
        } else {
            PackageKind::Binary
        },
        version_scheme: format,
        fixed_in_version: fixed,
        ..base.clone()
    })
}

/// Run `f` on the manual set under the store lock and store the result as a new operation.
fn modify<T>(
    s: &AppState,
    f: impl FnOnce(&mut Vec<Record>) -> Result<T, V1Error>,
) -> Result<T, V1Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let _lock = loop {
        if let Some(l) = s.store.try_lock("v1-api/vulnerabilities")? {
            break l;
        }
        if std::time::Instant::now() > deadline {
            return Err(V1Error(
                StatusCode::SERVICE_UNAVAILABLE,
                "another instance is changing vulnerabilities; retry".into(),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut set = match s
        .store
        .update_operations(clair_store::OpKind::Vulnerability, Some(MANUAL_UPDATER))?
        .first()
    {
        Some(op) => s.store.vulnerabilities(op.id)?,
        None => Vec::new(),
    };
    let out = f(&mut set)?;
    let fingerprint = jiff::Timestamp::now().to_string();
    let mut feed = set.into_iter().map(Ok);
    s.store
        .update_vulnerabilities(MANUAL_UPDATER, &fingerprint, &mut feed)?;
    if let Err(e) = s.refresh() {
        tracing::error!(error = %e, "refreshing the matcher index after a v1 change");
    }
    Ok(out)
}

fn record_from(v: &VulnIn, ns: &str, name: &str) -> Result<Record, V1Error> {
    let (sev, normalized) = parse_severity(if v.severity.is_empty() {
        "Unknown"
    } else {
        &v.severity
    })?;
    Ok(Record {
        updater: MANUAL_UPDATER.into(),
        name: name.to_string(),
        namespace: ns.to_string(),
        severity: sev.to_string(),
        normalized_severity: normalized,
        description: v.description.clone(),
        links: v.link.clone(),
        ..Record::default()
    })
}

/// `POST /v1/namespaces/:ns/vulnerabilities` (the body's namespace counts, as in Clair v2).
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let v: VulnIn = decode(&body, "vulnerability")?;
    if v.name.is_empty() {
        return Err(bad(
            "could not process a vulnerability which does not have a name",
        ));
    }
    if v.namespacename.is_empty() {
        return Err(bad(
            "could not process a vulnerability which does not have a namespace",
        ));
    }
    let base = record_from(&v, &v.namespacename, &v.name)?;
    let mut records = vec![base.clone()];
    for f in v.fixedin.iter().flatten() {
        records.push(fix_record(&base, f)?);
    }
    let (ns, name) = (v.namespacename.clone(), v.name.clone());
    let st = s.clone();
    tokio::task::spawn_blocking(move || {
        modify(&st, |set| {
            set.retain(|r| !(r.namespace == ns && r.name == name));
            set.extend(records);
            Ok(())
        })
    })
    .await
    .map_err(join_err)??;
    let echo = to_v1(&v.name, &[base], &v.namespacename, false);
    let mut echo = serde_json::to_value(echo).unwrap_or_default();
    if let Some(fixes) = &v.fixedin {
        echo["FixedIn"] = serde_json::json!(fixes
            .iter()
            .map(|f| serde_json::json!({"Name": f.name, "NamespaceName": v.namespacename, "VersionFormat": f.versionformat, "Version": f.version}))
            .collect::<Vec<_>>());
    }
    Ok(write_one(
        StatusCode::CREATED,
        "Vulnerability",
        echo,
        wants_gzip(&headers),
    ))
}

/// `PUT /v1/namespaces/:ns/vulnerabilities/:vuln`: new description, link and severity.
pub async fn update(
    State(s): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let v: VulnIn = decode(&body, "vulnerability")?;
    if v.fixedin.as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(bad("Vulnerability.FixedIn must be empty"));
    }
    let base = record_from(&v, &ns, &name)?;
    let st = s.clone();
    let (n2, name2) = (ns.clone(), name.clone());
    let b2 = base.clone();
    tokio::task::spawn_blocking(move || {
        modify(&st, |set| {
            let mut found = false;
            for r in set
                .iter_mut()
                .filter(|r| r.namespace == n2 && r.name == name2)
            {
                found = true;
                r.severity = b2.severity.clone();
                r.normalized_severity = b2.normalized_severity;
                r.description = b2.description.clone();
                r.links = b2.links.clone();
            }
            if found { Ok(()) } else { Err(not_found()) }
        })
    })
    .await
    .map_err(join_err)??;
    Ok(write_one(
        StatusCode::OK,
        "Vulnerability",
        to_v1(&name, &[base], &ns, false),
        wants_gzip(&headers),
    ))
}

/// `DELETE /v1/namespaces/:ns/vulnerabilities/:vuln`.
pub async fn delete(
    State(s): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, V1Error> {
    remove(&s, move |r| r.namespace == ns && r.name == name).await
}

/// Remove the records `gone` picks; 404 when it picks none.
async fn remove(
    s: &AppState,
    gone: impl Fn(&Record) -> bool + Send + 'static,
) -> Result<Response, V1Error> {
    let st = s.clone();
    tokio::task::spawn_blocking(move || {
        modify(&st, |set| {
            let before = set.len();
            set.retain(|r| !gone(r));
            if set.len() == before {
                Err(not_found())
            } else {
                Ok(())
            }
        })
    })
    .await
    .map_err(join_err)??;
    Ok(StatusCode::OK.into_response())
}

/// `PUT /v1/namespaces/:ns/vulnerabilities/:vuln/fixes/:fix`.
pub async fn put_fix(
    State(s): State<AppState>,
    Path((ns, name, fix)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let f: FeatureIn = decode(&body, "feature")?;
    if f.name != fix {
        return Err(bad("feature name in URL and JSON do not match"));
    }
    let st = s.clone();
    let (n2, name2) = (ns.clone(), name.clone());
    let echo = serde_json::json!({"Feature": {"Name": f.name, "NamespaceName": ns, "VersionFormat": f.versionformat, "Version": f.version}});
    tokio::task::spawn_blocking(move || {
        modify(&st, |set| {
            let base = set
                .iter()
                .find(|r| r.namespace == n2 && r.name == name2)
                .cloned()
                .ok_or_else(not_found)?;
            let rec = fix_record(&base, &f)?;
            set.retain(|r| !(r.namespace == n2 && r.name == name2 && r.package_name == f.name));
            set.push(rec);
            Ok(())
        })
    })
    .await
    .map_err(join_err)??;
    Ok(write(StatusCode::OK, &echo, wants_gzip(&headers)))
}

/// `DELETE /v1/namespaces/:ns/vulnerabilities/:vuln/fixes/:fix`.
pub async fn delete_fix(
    State(s): State<AppState>,
    Path((ns, name, fix)): Path<(String, String, String)>,
) -> Result<Response, V1Error> {
    remove(&s, move |r| {
        r.namespace == ns && r.name == name && r.package_name == fix
    })
    .await
}
