//! `docker save` archives (also skopeo's docker-archive, and Docker 25+'s OCI-flavoured saves).
//!
//! `manifest.json` lists images as `{Config, RepoTags, Layers}`; layer members are uncompressed
//! tars (compressed ones are accepted too) and are verified against the config's
//! `rootfs.diff_ids`, which also name them. The image is named by its config digest (the image
//! ID), since a docker archive carries no registry manifest.

use std::sync::Arc;

use clair_types::Digest;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::read::Verify;
use crate::source::archive::ArchiveIndex;
use crate::source::{Image, ImageFormat, ImageLayer, LayerSource, OpenOptions};

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl ImageConfig {
    pub(crate) fn platform(&self) -> Option<String> {
        if self.os.is_empty() {
            return None;
        }
        Some(match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        })
    }
}

/// Open image `reference` (a RepoTag, or `@N` for the N-th image) from a docker archive.
pub(crate) fn open(
    idx: ArchiveIndex,
    reference: Option<&str>,
    opts: &OpenOptions,
) -> Result<Image> {
    let what = format!("{}: manifest.json", idx.display);
    let raw = idx.read("manifest.json", opts.max_json_size)?;
    let entries: Vec<ManifestEntry> =
        serde_json::from_slice(&raw).map_err(|source| Error::Json {
            what: what.clone(),
            source,
        })?;
    let entry = select(&entries, reference, &idx.display)?;

    let config_raw = idx.read(&entry.config, opts.max_json_size)?;
    let config_digest = Digest::sha256_of(&config_raw);
    if let Some(named) = digest_in_name(&entry.config)
        && named != config_digest
    {
        return Err(Error::DigestMismatch {
            what: format!("{}: config {}", idx.display, entry.config),
            expected: named,
            actual: config_digest,
        });
    }
    let config: ImageConfig =
        serde_json::from_slice(&config_raw).map_err(|source| Error::Json {
            what: format!("{}: config {}", idx.display, entry.config),
            source,
        })?;
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    if diff_ids.len() != entry.layers.len() {
        return Err(Error::Image(format!(
            "{}: manifest.json lists {} layers but the config has {} diff_ids",
            idx.display,
            entry.layers.len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::with_capacity(entry.layers.len());
    for (name, diff_id) in entry.layers.iter().zip(diff_ids) {
        let range = idx.member(name)?;
        layers.push(ImageLayer {
            digest: Some(diff_id.clone()),
            media_type: None,
            source: LayerSource::Blob {
                range,
                verify: Verify::DiffId(diff_id),
            },
        });
    }
    Ok(Image {
        reference: idx.display.clone(),
        format: ImageFormat::DockerArchive,
        manifest_digest: Some(config_digest),
        layers,
        platform: config.platform(),
        _temp: idx.temp.clone().map(|t| t as Arc<_>),
    })
}

fn select<'a>(
    entries: &'a [ManifestEntry],
    reference: Option<&str>,
    display: &str,
) -> Result<&'a ManifestEntry> {
    let tags = || {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| match &e.repo_tags {
                Some(t) if !t.is_empty() => format!("@{i} ({})", t.join(", ")),
                _ => format!("@{i}"),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    match reference {
        None => match entries {
            [one] => Ok(one),
            [] => Err(Error::Image(format!(
                "{display}: manifest.json lists no images"
            ))),
            _ => Err(Error::Image(format!(
                "{display}: the archive holds {} images; pick one with docker-archive:{display}:REF \
                 (available: {})",
                entries.len(),
                tags()
            ))),
        },
        Some(r) => {
            if let Some(n) = r.strip_prefix('@') {
                return n
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| entries.get(n))
                    .ok_or_else(|| {
                        Error::Image(format!("{display}: no image {r} (available: {})", tags()))
                    });
            }
            let want_tag = if r.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                r.to_string()
            } else {
                format!("{r}:latest")
            };
            entries
                .iter()
                .find(|e| {
                    e.repo_tags.iter().flatten().any(|t| {
                        t == &want_tag
                            || t.strip_prefix("docker.io/library/") == Some(want_tag.as_str())
                            || t.strip_prefix("docker.io/") == Some(want_tag.as_str())
                    })
                })
                .ok_or_else(|| {
                    Error::Image(format!(
                        "{display}: no image tagged {r:?} (available: {})",
                        tags()
                    ))
                })
        }
    }
}

/// `<hex>.json`, `<hex>/json`-style and `blobs/sha256/<hex>` names carry their own digest.
fn digest_in_name(name: &str) -> Option<Digest> {
    let base = name.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    format!("sha256:{hex}").parse().ok()
}
