//! `clair report --server URL IMAGE`: a running Clair server's report on an image in a
//! registry (clairctl's and klar's job).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clair_layer::source::registry;
use clair_layer::source::{Image, ImageFormat, ImageLayer, LayerSource};
use clair_types::VulnerabilityReport;

use super::Global;
use super::scan::{Scanned, filter};
use crate::cli::{ApiVersion, ReportArgs, ScanFormat};
use crate::output;

/// klar's address rules: `http://` without a scheme, `:6060` without a port.
pub fn server_url(s: &str) -> String {
    let s = s.trim().trim_end_matches('/');
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    let (scheme, rest) = with_scheme.split_once("://").unwrap_or(("http", s));
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host_only = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    let has_port = if let Some(v6) = host_only.strip_prefix('[') {
        v6.contains("]:")
    } else {
        host_only.contains(':')
    };
    if has_port {
        format!("{scheme}://{hostport}{path}")
    } else {
        format!("{scheme}://{hostport}:6060{path}")
    }
}

/// The client to the Clair server (the one outbound client: timeouts, redirects checked).
fn agent() -> clair_net::Client {
    clair_net::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .total_timeout(Duration::from_secs(600))
        .build()
}

/// POST `body` as JSON to `url`; the answer's status and JSON body (`what` names it in errors).
fn post_json(
    a: &clair_net::Client,
    url: &str,
    body: &serde_json::Value,
    what: &str,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let headers = [("Content-Type".to_string(), "application/json".to_string())];
    let resp = a
        .post(url, &headers, body.to_string().as_bytes())
        .with_context(|| format!("POST {url}"))?;
    read_json(resp, what)
}

fn read_json(resp: clair_net::Response, what: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    let status = resp.status();
    let bytes = resp
        .read_to_vec(256 << 20)
        .with_context(|| format!("reading the {what} answer"))?;
    let v = if bytes.trim_ascii().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).with_context(|| {
            format!("{what}: the server answered {status} with something that is not JSON")
        })?
    };
    Ok((status, v))
}

fn v4(server: &str, res: &registry::Resolved) -> anyhow::Result<VulnerabilityReport> {
    let a = agent();
    let headers = match &res.authorization {
        Some(auth) => serde_json::json!({"Authorization": [auth]}),
        None => serde_json::json!({}),
    };
    let layers: Vec<serde_json::Value> = res
        .layers
        .iter()
        .map(|(d, _)| serde_json::json!({"hash": d, "uri": res.blob_url(d), "headers": headers}))
        .collect();
    let manifest = serde_json::json!({"hash": res.manifest_digest, "layers": layers});
    let url = format!("{server}/indexer/api/v1/index_report");
    let (status, v) = post_json(&a, &url, &manifest, "index")?;
    if !(200..300).contains(&status) {
        bail!(
            "POST {url}: HTTP {status}: {}",
            v["message"].as_str().unwrap_or(&v.to_string())
        );
    }
    if v["state"] == "IndexError" {
        bail!(
            "the server could not index {}: {}",
            res.reference,
            v["err"].as_str().unwrap_or("")
        );
    }
    let url = format!(
        "{server}/matcher/api/v1/vulnerability_report/{}",
        res.manifest_digest
    );
    let resp = a.get(&url, &[]).with_context(|| format!("GET {url}"))?;
    let (status, v) = read_json(resp, "vulnerability report")?;
    if status == 202 {
        bail!(
            "GET {url}: HTTP 202: the server has no vulnerability data yet (its updaters have \
             not run, nothing was imported); try again later"
        );
    }
    if status != 200 {
        bail!(
            "GET {url}: HTTP {status}: {}",
            v["message"].as_str().unwrap_or(&v.to_string())
        );
    }
    serde_json::from_value(v).context("the vulnerability report does not parse")
}

/// Clair v2: post each layer with its parent, read the top layer's features, and express them
/// as a VulnerabilityReport for the shared output.
fn v1(server: &str, res: &registry::Resolved) -> anyhow::Result<VulnerabilityReport> {
    let a = agent();
    let mut headers = serde_json::Map::new();
    if let Some(auth) = &res.authorization {
        headers.insert("Authorization".into(), serde_json::json!(auth));
    }
    let names: Vec<String> = res
        .layers
        .iter()
        .map(|(d, _)| format!("{}{}", res.manifest_digest.hex(), d.hex()))
        .collect();
    let url = format!("{server}/v1/layers");
    for (i, (d, _)) in res.layers.iter().enumerate() {
        let body = serde_json::json!({"Layer": {
            "Name": names[i], "Path": res.blob_url(d), "Format": "Docker",
            "ParentName": if i == 0 { String::new() } else { names[i - 1].clone() },
            "Headers": headers,
        }});
        let (status, v) = post_json(&a, &url, &body, "layer")?;
        if status != 201 {
            bail!(
                "POST {url} (layer {}): HTTP {status}: {}",
                i + 1,
                v["Error"]["Message"].as_str().unwrap_or(&v.to_string())
            );
        }
    }
    let top = names.last().context("the image has no layers")?;
    let url = format!("{server}/v1/layers/{top}?vulnerabilities");
    let resp = a.get(&url, &[]).with_context(|| format!("GET {url}"))?;
    let (status, v) = read_json(resp, "layer")?;
    if status != 200 {
        bail!(
            "GET {url}: HTTP {status}: {}",
            v["Error"]["Message"].as_str().unwrap_or(&v.to_string())
        );
    }
    let mut vr = VulnerabilityReport {
        manifest_hash: res.manifest_digest.clone(),
        packages: Default::default(),
        distributions: Default::default(),
        repository: Default::default(),
        environments: Default::default(),
        vulnerabilities: Default::default(),
        package_vulnerabilities: Default::default(),
        enrichments: Default::default(),
    };
    let digest_of: std::collections::BTreeMap<&str, &clair_types::Digest> = names
        .iter()
        .map(String::as_str)
        .zip(res.layers.iter().map(|(d, _)| d))
        .collect();
    for (i, f) in v["Layer"]["Features"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = (i + 1).to_string();
        let p: clair_types::ReportPackage = serde_json::from_value(serde_json::json!({
            "id": id, "name": f["Name"], "version": f["Version"], "kind": "binary",
        }))?;
        vr.packages.insert(id.clone(), p);
        if let Some(d) = f["AddedBy"].as_str().and_then(|n| digest_of.get(n)) {
            vr.environments.insert(
                id.clone(),
                vec![serde_json::from_value(serde_json::json!({
                    "package_db": "", "introduced_in": d, "distribution_id": ""
                }))?],
            );
        }
        for (j, x) in f["Vulnerabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let vid = format!("{id}-{j}");
            let severity = x["Severity"].as_str().unwrap_or("Unknown");
            let normalized = match severity {
                "Defcon1" => "Critical",
                s => s,
            };
            let rv: clair_types::ReportVulnerability = serde_json::from_value(serde_json::json!({
                "id": vid, "updater": "", "name": x["Name"], "description": x["Description"].as_str().unwrap_or(""),
                "links": x["Link"].as_str().unwrap_or(""), "severity": severity,
                "normalized_severity": normalized, "fixed_in_version": x["FixedBy"].as_str().unwrap_or(""),
            }))?;
            vr.vulnerabilities.insert(vid.clone(), rv);
            vr.package_vulnerabilities
                .entry(id.clone())
                .or_default()
                .push(vid);
        }
    }
    Ok(vr)
}

pub fn run(args: &ReportArgs, _g: &Global) -> anyhow::Result<ExitCode> {
    let server = server_url(&args.server);
    let opts = super::index::registry_options(&args.image);
    let reference = args
        .image
        .image
        .strip_prefix("docker://")
        .unwrap_or(&args.image.image);
    let res =
        registry::resolve(reference, &opts).with_context(|| format!("resolving {reference}"))?;
    tracing::info!(manifest = %res.manifest_digest, layers = res.layers.len(), %server, "asking the server");
    let mut report = match args.api {
        ApiVersion::V4 => v4(&server, &res)?,
        ApiVersion::V1 => v1(&server, &res)?,
    };
    filter(&mut report, args.severity_threshold, args.ignore_unfixed);
    let s = Scanned::from_report(
        Image::from_layers(
            reference,
            ImageFormat::Registry,
            Some(res.manifest_digest.clone()),
            res.layers
                .iter()
                .map(|(d, m)| ImageLayer {
                    digest: Some(d.clone()),
                    media_type: m.clone(),
                    source: LayerSource::Cached,
                })
                .collect(),
        ),
        res.layers.iter().map(|(d, _)| d.clone()).collect(),
        report,
    );
    let json_env = std::env::var("JSON_OUTPUT").is_ok_and(|v| v == "true" || v == "1");
    let format = if json_env {
        ScanFormat::Json
    } else {
        args.format
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    output::write_scan(&mut out, format, &s)?;
    out.flush()?;
    let found = s.report.vulnerabilities.len();
    if let Some(t) = args.threshold {
        return Ok(if found > t {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    if found > 0 && args.exit_code != 0 {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn klar_addresses() {
        assert_eq!(server_url("clair"), "http://clair:6060");
        assert_eq!(server_url("clair:7000"), "http://clair:7000");
        assert_eq!(
            server_url("https://clair.example"),
            "https://clair.example:6060"
        );
        assert_eq!(server_url("http://u:p@clair/"), "http://u:p@clair:6060");
        assert_eq!(
            server_url("http://127.0.0.1:1/base"),
            "http://127.0.0.1:1/base"
        );
    }
}
