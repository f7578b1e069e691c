//! OCI image layouts, as a directory or inside a tar.
//!
//! `index.json` lists manifests; several images in one layout are told apart by the
//! `org.opencontainers.image.ref.name` annotation (skopeo's `oci:PATH:REF`). Image indexes
//! (multi-platform) are resolved with a [`Platform`]. Every blob read is checked against its
//! descriptor's digest and size; layer blobs are verified while they are read.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use clair_types::Digest;
use serde::Deserialize;

use crate::blob::FileRange;
use crate::error::{Error, Result};
use crate::read::Verify;
use crate::source::archive::ArchiveIndex;
use crate::source::docker::ImageConfig;
use crate::source::{Image, ImageFormat, ImageLayer, LayerSource, OpenOptions, Platform};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const MAX_INDEX_DEPTH: usize = 4;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: Digest,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<PlatformSpec>,
}

#[derive(Debug, Clone, Deserialize)]
struct PlatformSpec {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

impl PlatformSpec {
    fn show(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    /// Docker schema 1 manifests have `fsLayers`.
    #[serde(default)]
    fs_layers: Option<serde_json::Value>,
}

/// Where blobs are: a layout directory or an archive.
trait Blobs {
    fn display(&self) -> &str;
    fn file(&self, name: &str) -> Result<FileRange>;
    fn blob(&self, d: &Digest) -> Result<FileRange> {
        self.file(&format!("blobs/{}/{}", d.algorithm(), d.hex()))
    }
}

struct Dir {
    display: String,
    root: std::path::PathBuf,
}

impl Blobs for Dir {
    fn display(&self) -> &str {
        &self.display
    }
    fn file(&self, name: &str) -> Result<FileRange> {
        let p = self.root.join(name);
        FileRange::whole(&p).map_err(|e| Error::io(format!("{}: {name}", self.display), e))
    }
}

impl Blobs for ArchiveIndex {
    fn display(&self) -> &str {
        &self.display
    }
    fn file(&self, name: &str) -> Result<FileRange> {
        self.member(name)
    }
}

/// Open an OCI layout directory.
pub(crate) fn open_layout(
    root: &Path,
    reference: Option<&str>,
    opts: &OpenOptions,
) -> Result<Image> {
    let dir = Dir {
        display: root.display().to_string(),
        root: root.to_path_buf(),
    };
    open_with(&dir, reference, opts, ImageFormat::OciLayout, None)
}

/// Open an OCI layout inside a tar.
pub(crate) fn open_archive(
    idx: ArchiveIndex,
    reference: Option<&str>,
    opts: &OpenOptions,
) -> Result<Image> {
    let temp = idx.temp.clone();
    open_with(&idx, reference, opts, ImageFormat::OciArchive, temp)
}

fn read_doc(
    b: &dyn Blobs,
    what: &str,
    range: &FileRange,
    opts: &OpenOptions,
) -> Result<(Vec<u8>, Document)> {
    let raw = range
        .read_all(opts.max_json_size)
        .map_err(|e| Error::io(format!("{}: {what}", b.display()), e))?;
    let doc = serde_json::from_slice(&raw).map_err(|source| Error::Json {
        what: format!("{}: {what}", b.display()),
        source,
    })?;
    Ok((raw, doc))
}

fn read_blob_doc(b: &dyn Blobs, d: &Descriptor, opts: &OpenOptions) -> Result<Document> {
    let range = b.blob(&d.digest)?;
    if range.len != d.size {
        return Err(Error::Image(format!(
            "{}: blob {} is {} bytes, its descriptor says {}",
            b.display(),
            d.digest,
            range.len,
            d.size
        )));
    }
    let (raw, doc) = read_doc(b, &format!("blob {}", d.digest), &range, opts)?;
    let actual = Digest::sha256_of(&raw);
    if d.digest.algorithm() == "sha256" && actual != d.digest {
        return Err(Error::DigestMismatch {
            what: format!("{}: blob {}", b.display(), d.digest),
            expected: d.digest.clone(),
            actual,
        });
    }
    Ok(doc)
}

fn open_with(
    b: &dyn Blobs,
    reference: Option<&str>,
    opts: &OpenOptions,
    format: ImageFormat,
    temp: Option<Arc<tempfile::TempPath>>,
) -> Result<Image> {
    let index_range = b.file("index.json")?;
    let (_, index) = read_doc(b, "index.json", &index_range, opts)?;
    let manifests = index.manifests.unwrap_or_default();
    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let chosen = select_top(b.display(), &manifests, reference, &platform)?;
    let (manifest_desc, manifest) = resolve(b, chosen, &platform, opts, 0)?;

    let config_desc = manifest.config.as_ref().ok_or_else(|| {
        Error::Image(format!(
            "{}: manifest {} has no config",
            b.display(),
            manifest_desc.digest
        ))
    })?;
    let config_range = b.blob(&config_desc.digest)?;
    let config_raw = config_range
        .read_all(opts.max_json_size)
        .map_err(|e| Error::io(format!("{}: config {}", b.display(), config_desc.digest), e))?;
    let config_actual = Digest::sha256_of(&config_raw);
    if config_desc.digest.algorithm() == "sha256" && config_actual != config_desc.digest {
        return Err(Error::DigestMismatch {
            what: format!("{}: config", b.display()),
            expected: config_desc.digest.clone(),
            actual: config_actual,
        });
    }
    let config: Option<ImageConfig> = serde_json::from_slice(&config_raw).ok();

    let mut layers = Vec::new();
    for (i, l) in manifest.layers.unwrap_or_default().into_iter().enumerate() {
        let mt = l.media_type.clone().unwrap_or_default();
        if !is_layer_media_type(&mt) {
            return Err(Error::Unsupported(format!(
                "{}: layer {} ({}) has media type {mt:?}, which is not a tar layer",
                b.display(),
                i + 1,
                l.digest
            )));
        }
        let range = b.blob(&l.digest).map_err(|e| {
            Error::Image(format!(
                "{}: layer {} ({}) is missing from the image: {e}",
                b.display(),
                i + 1,
                l.digest
            ))
        })?;
        if range.len != l.size {
            return Err(Error::Image(format!(
                "{}: layer {} ({}) is {} bytes, the manifest says {}",
                b.display(),
                i + 1,
                l.digest,
                range.len,
                l.size
            )));
        }
        layers.push(ImageLayer {
            digest: Some(l.digest.clone()),
            media_type: l.media_type,
            source: LayerSource::Blob {
                range,
                verify: Verify::Blob(l.digest),
            },
        });
    }
    Ok(Image {
        reference: b.display().to_string(),
        format,
        manifest_digest: Some(manifest_desc.digest),
        layers,
        platform: config.and_then(|c| c.platform()),
        _temp: temp,
    })
}

fn is_layer_media_type(mt: &str) -> bool {
    mt.is_empty()
        || mt.starts_with("application/vnd.oci.image.layer.")
        || mt.starts_with("application/vnd.docker.image.rootfs.")
}

fn is_index(d: &Descriptor) -> bool {
    matches!(
        d.media_type.as_deref(),
        Some("application/vnd.oci.image.index.v1+json")
            | Some("application/vnd.docker.distribution.manifest.list.v2+json")
    )
}

fn select_top<'a>(
    display: &str,
    manifests: &'a [Descriptor],
    reference: Option<&str>,
    platform: &Platform,
) -> Result<&'a Descriptor> {
    let refs = || {
        let v: Vec<&str> = manifests
            .iter()
            .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
            .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let candidates: Vec<&Descriptor> = match reference {
        Some(r) => manifests
            .iter()
            .filter(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(r))
            .collect(),
        None => manifests.iter().collect(),
    };
    match candidates.as_slice() {
        [] if reference.is_some() => Err(Error::Image(format!(
            "{display}: no image with ref name {:?} in index.json (available: {})",
            reference.unwrap_or_default(),
            refs()
        ))),
        [] => Err(Error::Image(format!(
            "{display}: index.json lists no images"
        ))),
        [one] => Ok(one),
        many => {
            if many.iter().all(|d| d.platform.is_some()) {
                pick_platform(display, many, platform)
            } else {
                Err(Error::Image(format!(
                    "{display}: the layout holds {} images; pick one with oci:{display}:REF (available: {})",
                    many.len(),
                    refs()
                )))
            }
        }
    }
}

fn pick_platform<'a>(
    display: &str,
    ds: &[&'a Descriptor],
    want: &Platform,
) -> Result<&'a Descriptor> {
    ds.iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| want.matches(&p.os, &p.architecture, p.variant.as_deref()))
        })
        .copied()
        .ok_or_else(|| {
            let avail: Vec<String> = ds
                .iter()
                .filter_map(|d| d.platform.as_ref().map(PlatformSpec::show))
                .collect();
            Error::Image(format!(
                "{display}: no image for platform {want} (available: {}); choose one with --platform",
                avail.join(", ")
            ))
        })
}

fn resolve(
    b: &dyn Blobs,
    d: &Descriptor,
    platform: &Platform,
    opts: &OpenOptions,
    depth: usize,
) -> Result<(Descriptor, Document)> {
    if depth > MAX_INDEX_DEPTH {
        return Err(Error::Image(format!(
            "{}: image indexes nested too deeply",
            b.display()
        )));
    }
    let doc = read_blob_doc(b, d, opts)?;
    if doc.fs_layers.is_some() || doc.schema_version == Some(1) {
        return Err(Error::Unsupported(format!(
            "{}: {} is a Docker schema 1 manifest, which is not supported (convert it with skopeo copy)",
            b.display(),
            d.digest
        )));
    }
    if let Some(children) = &doc.manifests
        && (is_index(d) || doc.layers.is_none())
    {
        let refs: Vec<&Descriptor> = children.iter().collect();
        let child = pick_platform(b.display(), &refs, platform)?;
        return resolve(b, child, platform, opts, depth + 1);
    }
    if doc.layers.is_none() {
        return Err(Error::Image(format!(
            "{}: {} ({}) is neither an image manifest nor an index",
            b.display(),
            d.digest,
            doc.media_type
                .as_deref()
                .or(d.media_type.as_deref())
                .unwrap_or("no media type")
        )));
    }
    Ok((d.clone(), doc))
}
