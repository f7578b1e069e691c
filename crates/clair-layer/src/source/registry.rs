//! Images straight from a registry (OCI distribution / Docker Registry HTTP API v2).
//!
//! A reference `host[:port]/repo[:tag|@digest]` (Docker Hub names too: `debian:12` is
//! `registry-1.docker.io/library/debian:12`) is resolved to one image manifest: image indexes and
//! Docker manifest lists pick `--platform`; Docker schema 2 and OCI manifests are read, schema 1
//! is refused with a clear message. Authentication: anonymous, basic, and the bearer-token flow
//! the registry announces in `WWW-Authenticate` (realm, service, scope), with credentials from
//! options, the environment or `~/.docker/config.json`. Manifests are checked against the digest
//! asked for; layers are streamed to temporary files and checked against their digests by
//! [`crate::fetch`], and layers the caller already has (`skip`) are not downloaded at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use clair_types::Digest;

use crate::blob::FileRange;
use crate::error::{Error, Result};
use crate::fetch::{FetchOptions, Fetcher};
use crate::read::Verify;
use crate::source::{Image, ImageFormat, ImageLayer, LayerSource};

/// Docker Hub's API host.
pub const DOCKER_HUB: &str = "registry-1.docker.io";
const MAX_MANIFEST: u64 = 4 << 20;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (and port).
    pub registry: String,
    /// Repository path.
    pub repository: String,
    /// Tag or digest.
    pub reference: String,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.reference.contains(':') {
            write!(
                f,
                "{}/{}@{}",
                self.registry, self.repository, self.reference
            )
        } else {
            write!(
                f,
                "{}/{}:{}",
                self.registry, self.repository, self.reference
            )
        }
    }
}

/// Parse `[host[:port]/]repo[:tag][@digest]` as Docker does; `None` when it cannot be a
/// reference (spaces, empty parts, upper case in the repository).
pub fn parse_reference(s: &str) -> Option<Reference> {
    let s = s.strip_prefix("docker://").unwrap_or(s);
    if s.is_empty() || s.contains(char::is_whitespace) || s.starts_with('/') {
        return None;
    }
    let (name, reference) = match s.split_once('@') {
        Some((n, d)) => (n, d.to_string()),
        None => {
            // A tag follows the last ':' after the last '/'.
            let slash = s.rfind('/').map_or(0, |i| i + 1);
            match s[slash..].rfind(':') {
                Some(i) => (&s[..slash + i], s[slash + i + 1..].to_string()),
                None => (s, "latest".to_string()),
            }
        }
    };
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (
            DOCKER_HUB.to_string(),
            if name.contains('/') {
                name.to_string()
            } else {
                format!("library/{name}")
            },
        ),
    };
    let registry = if registry == "docker.io" || registry == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        registry
    };
    let ok_repo = !repository.is_empty()
        && repository.split('/').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    (ok_repo && !reference.is_empty()).then_some(Reference {
        registry,
        repository,
        reference,
    })
}

/// Registry credentials.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

/// How to reach the registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Credentials given explicitly (flags or environment); else `~/.docker/config.json`.
    pub credentials: Option<Credentials>,
    /// A ready `Authorization` value for the registry (klar's `DOCKER_TOKEN`: `Basic <token>`).
    pub authorization: Option<String>,
    /// Plain HTTP (and no certificate checks) for this registry.
    pub insecure: bool,
    /// `os/arch[/variant]` to pick from an index (default: linux/amd64).
    pub platform: Option<String>,
    /// Docker config file (default `~/.docker/config.json`).
    pub docker_config: Option<PathBuf>,
    /// A PEM file of CA certificates to trust (and only those) for this registry.
    pub ca_file: Option<PathBuf>,
}

/// Credentials for `registry` from a Docker config file (`auths.<host>.auth`).
pub fn docker_config_credentials(path: &Path, registry: &str) -> Option<Credentials> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let hub = registry == DOCKER_HUB;
    let entry = auths.iter().find_map(|(k, v)| {
        let host = k
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        let matches = host == registry
            || (hub
                && matches!(
                    host,
                    "docker.io" | "index.docker.io" | "registry-1.docker.io"
                ));
        matches.then_some(v)
    })?;
    let auth = entry.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    })
}

struct Client {
    client: clair_net::Client,
    base: String,
    reference: Reference,
    basic: Option<String>,
    /// The Authorization value that worked.
    auth: Option<String>,
}

fn err(r: &Reference, message: impl Into<String>) -> Error {
    Error::Registry {
        reference: r.to_string(),
        message: message.into(),
    }
}

/// `Bearer realm="…",service="…",scope="…"` → (scheme, lower-case params).
pub fn parse_challenge(h: &str) -> (String, Vec<(String, String)>) {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, r)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (v, r) = if let Some(r) = r.strip_prefix('"') {
            match r.find('"') {
                Some(end) => (&r[..end], &r[end + 1..]),
                None => (r, ""),
            }
        } else {
            r.split_once(',').unwrap_or((r, ""))
        };
        params.push((k, v.to_string()));
        rest = r.trim_start_matches([',', ' ']);
    }
    (scheme.to_ascii_lowercase(), params)
}

impl Client {
    /// GET with the credentials that worked, retried on no answer, 429 and 5xx; the last
    /// answer is returned whatever its status.
    fn get(&self, url: &str, accept: &str) -> Result<clair_net::Response> {
        let mut headers = Vec::new();
        if !accept.is_empty() {
            headers.push(("Accept".to_string(), accept.to_string()));
        }
        if let Some(a) = &self.auth {
            headers.push(("Authorization".to_string(), a.clone()));
        }
        let mut last = None;
        let r = self.client.retry(url, &clair_net::Uninterrupted, || {
            let resp = self.client.get(url, &headers)?;
            let status = resp.status();
            if status == 429 || status >= 500 {
                let e = resp.status_error();
                last = Some(resp);
                return Err(e);
            }
            Ok(resp)
        });
        match (r, last) {
            (Ok(resp), _) => Ok(resp),
            (Err(clair_net::Error::Status { .. }), Some(resp)) => Ok(resp),
            (Err(e), _) => Err(err(&self.reference, e.to_string())),
        }
    }

    /// GET with authentication: on 401, follow the challenge once.
    fn get_authed(&mut self, url: &str, accept: &str) -> Result<clair_net::Response> {
        let resp = self.get(url, accept)?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        let challenge = resp.header("www-authenticate").unwrap_or("").to_string();
        self.authenticate(&challenge)?;
        self.get(url, accept)
    }

    fn authenticate(&mut self, challenge: &str) -> Result<()> {
        let (scheme, params) = parse_challenge(challenge);
        match scheme.as_str() {
            "basic" => {
                let b = self.basic.clone().ok_or_else(|| {
                    err(&self.reference, "the registry wants a user name and password (401); give them with --username/--password, CLAIR_REGISTRY_USERNAME/CLAIR_REGISTRY_PASSWORD or docker login")
                })?;
                self.auth = Some(b);
                Ok(())
            }
            "bearer" => {
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(pk, _)| pk == k)
                        .map(|(_, v)| v.clone())
                };
                let realm = get("realm")
                    .ok_or_else(|| err(&self.reference, "bearer challenge without a realm"))?;
                let mut url = url::Url::parse(&realm)
                    .map_err(|e| err(&self.reference, format!("token service {realm}: {e}")))?;
                let scope = get("scope")
                    .unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = get("service") {
                        q.append_pair("service", &s);
                    }
                    q.append_pair("scope", &scope);
                }
                let headers: Vec<(String, String)> = self
                    .basic
                    .iter()
                    .map(|b| ("Authorization".to_string(), b.clone()))
                    .collect();
                let resp = self
                    .client
                    .get(url.as_str(), &headers)
                    .map_err(|e| err(&self.reference, format!("token service {e}")))?;
                let status = resp.status();
                if status != 200 {
                    return Err(err(
                        &self.reference,
                        format!(
                            "token service {realm} answered {status}: wrong user name or password?"
                        ),
                    ));
                }
                let v: serde_json::Value = resp
                    .json(1 << 20)
                    .map_err(|e| err(&self.reference, format!("token service {e}")))?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| {
                        err(&self.reference, format!("token service {realm}: no token"))
                    })?;
                self.auth = Some(format!("Bearer {token}"));
                Ok(())
            }
            _ => Err(err(
                &self.reference,
                format!("unsupported authentication challenge {challenge:?}"),
            )),
        }
    }

    /// A manifest by tag or digest: (media type, bytes, digest).
    fn manifest(&mut self, reference: &str) -> Result<(String, Vec<u8>, Digest)> {
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            self.base, self.reference.repository
        );
        let accept = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");
        let resp = self.get_authed(&url, &accept)?;
        let status = resp.status();
        match status {
            200 => {}
            401 | 403 => {
                return Err(err(
                    &self.reference,
                    format!(
                        "access denied ({status}): wrong user name or password, or no pull permission"
                    ),
                ));
            }
            404 => {
                return Err(err(
                    &self.reference,
                    format!(
                        "not found (404): no manifest {reference} in repository {}",
                        self.reference.repository
                    ),
                ));
            }
            s => return Err(err(&self.reference, format!("{url}: HTTP {s}"))),
        }
        let media = resp
            .header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let body = resp
            .read_to_vec(MAX_MANIFEST)
            .map_err(|e| err(&self.reference, e.to_string()))?;
        let digest = Digest::sha256_of(&body);
        if let Ok(want) = reference.parse::<Digest>()
            && want.algorithm() == "sha256"
            && want != digest
        {
            return Err(err(
                &self.reference,
                format!("manifest {reference} has digest {digest}: tampered or corrupted"),
            ));
        }
        // Registries sometimes answer application/json; the document says what it is.
        let media = if media.is_empty() || media == "application/json" {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("mediaType")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or(media)
        } else {
            media
        };
        Ok((media, body, digest))
    }
}

fn platform_matches(p: &serde_json::Value, want: &str) -> bool {
    let mut parts = want.split('/');
    let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
    p.get("os").and_then(|v| v.as_str()) == os
        && p.get("architecture").and_then(|v| v.as_str()) == arch
        && variant.is_none_or(|v| p.get("variant").and_then(|x| x.as_str()) == Some(v))
}

/// An image located in a registry: its manifest digest, its layers and how to fetch them.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The parsed reference.
    pub reference: Reference,
    /// Digest of the image manifest (the platform's, for an index).
    pub manifest_digest: Digest,
    /// Layers, bottom first: digest and media type.
    pub layers: Vec<(Digest, Option<String>)>,
    /// `http(s)://host[:port]`.
    pub base: String,
    /// The `Authorization` value the registry accepted, if it wanted one.
    pub authorization: Option<String>,
    /// The platform picked.
    pub platform: String,
}

impl Resolved {
    /// Where a layer blob is served.
    pub fn blob_url(&self, d: &Digest) -> String {
        format!("{}/v2/{}/blobs/{d}", self.base, self.reference.repository)
    }
}

/// Resolve `reference` to one image manifest (authenticating as the registry asks).
pub fn resolve(reference: &str, opts: &RegistryOptions) -> Result<Resolved> {
    let r = parse_reference(reference)
        .ok_or_else(|| Error::Unsupported(format!("{reference}: not an image reference")))?;
    let scheme = if opts.insecure { "http" } else { "https" };
    let mut builder = clair_net::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .response_timeout(Duration::from_secs(60))
        .total_timeout(Duration::from_secs(300))
        .retry(clair_net::Retry {
            attempts: 3,
            backoff: Duration::from_millis(500),
            ..clair_net::Retry::default()
        });
    if let Some(ca) = &opts.ca_file {
        let pem = std::fs::read(ca).map_err(|e| Error::io(ca.display(), e))?;
        builder = builder
            .ca_pem(&pem)
            .map_err(|m| err(&r, format!("{}: {m}", ca.display())))?;
    }
    let client = builder.build();
    let creds = opts.credentials.clone().or_else(|| {
        let path = opts.docker_config.clone().or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
        })?;
        docker_config_credentials(&path, &r.registry)
    });
    let basic = opts.authorization.clone().or_else(|| {
        creds.map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.password))
            )
        })
    });
    let mut c = Client {
        client,
        base: format!("{scheme}://{}", r.registry),
        reference: r.clone(),
        basic,
        auth: None,
    };
    let (mut media, mut body, mut digest) = c.manifest(&r.reference)?;
    let schema1 = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .is_some_and(|v| v.get("schemaVersion").and_then(|n| n.as_u64()) == Some(1));
    if media.contains("distribution.manifest.v1") || schema1 {
        return Err(err(
            &r,
            "Docker schema 1 manifests are not supported (deprecated since 2017); push the image again with a current client",
        ));
    }
    let want = opts
        .platform
        .clone()
        .unwrap_or_else(|| "linux/amd64".to_string());
    if media == OCI_INDEX || media == DOCKER_LIST {
        let idx: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| err(&r, format!("image index: {e}")))?;
        let list = idx["manifests"]
            .as_array()
            .ok_or_else(|| err(&r, "image index without manifests"))?;
        let pick = list
            .iter()
            .find(|m| {
                m.get("platform")
                    .is_some_and(|p| platform_matches(p, &want))
            })
            .ok_or_else(|| {
                let have: Vec<String> = list
                    .iter()
                    .filter_map(|m| m.get("platform"))
                    .map(|p| {
                        let mut s = format!(
                            "{}/{}",
                            p["os"].as_str().unwrap_or("?"),
                            p["architecture"].as_str().unwrap_or("?")
                        );
                        if let Some(v) = p.get("variant").and_then(|v| v.as_str()) {
                            s.push('/');
                            s.push_str(v);
                        }
                        s
                    })
                    .collect();
                err(
                    &r,
                    format!(
                        "no {want} image in the index (it has {}); use --platform",
                        have.join(", ")
                    ),
                )
            })?;
        let d = pick["digest"]
            .as_str()
            .ok_or_else(|| err(&r, "index entry without a digest"))?
            .to_string();
        (media, body, digest) = c.manifest(&d)?;
    }
    if media != OCI_MANIFEST && media != DOCKER_MANIFEST {
        return Err(err(
            &r,
            format!("unsupported manifest media type {media:?}"),
        ));
    }
    let m: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| err(&r, format!("manifest: {e}")))?;
    let layers = m["layers"]
        .as_array()
        .ok_or_else(|| err(&r, "manifest without layers"))?;
    let mut out = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        let d: Digest = l
            .get("digest")
            .and_then(|d| d.as_str())
            .ok_or_else(|| err(&r, format!("layer {} without a digest", i + 1)))?
            .parse()
            .map_err(|e| err(&r, format!("layer {}: {e}", i + 1)))?;
        let media_type = l
            .get("mediaType")
            .and_then(|m| m.as_str())
            .map(str::to_string);
        out.push((d, media_type));
    }
    Ok(Resolved {
        reference: r,
        manifest_digest: digest,
        layers: out,
        base: c.base,
        authorization: c.auth,
        platform: want,
    })
}

/// Resolve `reference` and fetch its layers into `dir` (kept by the caller for as long as the
/// image is read). Layers for which `skip` answers true are not downloaded
/// ([`LayerSource::Cached`]).
pub fn pull(
    reference: &str,
    opts: &RegistryOptions,
    dir: &Path,
    skip: &dyn Fn(&Digest) -> bool,
) -> Result<Image> {
    let res = resolve(reference, opts)?;
    let ca_pem = match &opts.ca_file {
        Some(ca) => Some(Arc::new(
            std::fs::read(ca).map_err(|e| Error::io(ca.display(), e))?,
        )),
        None => None,
    };
    let fetcher = Fetcher::new(FetchOptions {
        // Blob storage may live on another (private) network: do not second-guess the registry.
        allow_link_local: true,
        ca_pem,
        ..FetchOptions::default()
    });
    let headers: Vec<(String, String)> = res
        .authorization
        .iter()
        .map(|a| ("Authorization".to_string(), a.clone()))
        .collect();
    let mut out = Vec::with_capacity(res.layers.len());
    for (i, (d, media_type)) in res.layers.iter().enumerate() {
        if skip(d) {
            out.push(ImageLayer {
                digest: Some(d.clone()),
                media_type: media_type.clone(),
                source: LayerSource::Cached,
            });
            continue;
        }
        let path = dir.join(format!("layer-{i}"));
        let len = fetcher
            .fetch(d.as_str(), &res.blob_url(d), &headers, Some(d), &path)
            .map_err(|e| err(&res.reference, e.to_string()))?;
        out.push(ImageLayer {
            digest: Some(d.clone()),
            media_type: media_type.clone(),
            source: LayerSource::Blob {
                range: FileRange {
                    path: Arc::new(path),
                    offset: 0,
                    len,
                },
                verify: Verify::None,
            },
        });
    }
    let mut img = Image::from_layers(
        reference,
        ImageFormat::Registry,
        Some(res.manifest_digest.clone()),
        out,
    );
    img.platform = Some(res.platform);
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = |s: &str| parse_reference(s).map(|r| (r.registry, r.repository, r.reference));
        let own = |a: &str, b: &str, c: &str| Some((a.to_string(), b.to_string(), c.to_string()));
        assert_eq!(r("debian:12"), own(DOCKER_HUB, "library/debian", "12"));
        assert_eq!(r("debian"), own(DOCKER_HUB, "library/debian", "latest"));
        assert_eq!(
            r("docker.io/bitnami/redis"),
            own(DOCKER_HUB, "bitnami/redis", "latest")
        );
        assert_eq!(
            r("127.0.0.1:5000/test/app:1.0"),
            own("127.0.0.1:5000", "test/app", "1.0")
        );
        assert_eq!(r("localhost/app"), own("localhost", "app", "latest"));
        assert_eq!(
            r(&format!("quay.io/org/app@sha256:{}", "a".repeat(64))),
            own("quay.io", "org/app", &format!("sha256:{}", "a".repeat(64)))
        );
        assert_eq!(r("docker://quay.io/a/b:c"), own("quay.io", "a/b", "c"));
        for bad in ["", "UPPER/case", "a b", "/abs/path", "repo//x"] {
            assert_eq!(parse_reference(bad), None, "{bad}");
        }
    }

    #[test]
    fn schema_1_is_refused_clearly() {
        let s = clair_test::http::TestServer::start();
        s.put(
            "/v2/test/old/manifests/1",
            r#"{"schemaVersion": 1, "name": "test/old", "tag": "1", "architecture": "amd64",
               "fsLayers": [{"blobSum": "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}],
               "history": [], "signatures": []}"#,
        );
        let host = s.url().trim_start_matches("http://").to_string();
        let opts = RegistryOptions {
            insecure: true,
            ..RegistryOptions::default()
        };
        let e = resolve(&format!("{host}/test/old:1"), &opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema 1"), "{e}");
        let e = resolve(&format!("{host}/test/missing:1"), &opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not found (404)"), "{e}");
    }

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "registry.example".into()),
                ("scope".into(), "repository:a/b:pull".into())
            ]
        );
        assert_eq!(parse_challenge(r#"Basic realm="Registry""#).0, "basic");
    }

    #[test]
    fn docker_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("me:s3cret");
        std::fs::write(
            &p,
            format!(r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{auth}"}}, "127.0.0.1:5000": {{"auth": "{auth}"}}}}}}"#),
        )
        .unwrap();
        let c = docker_config_credentials(&p, DOCKER_HUB).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("me", "s3cret"));
        assert!(docker_config_credentials(&p, "127.0.0.1:5000").is_some());
        assert!(docker_config_credentials(&p, "quay.io").is_none());
    }
}
