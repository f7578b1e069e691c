//! Image sources: what a user names on the command line, turned into layers to read.
//!
//! | reference                  | format                                                  |
//! |----------------------------|---------------------------------------------------------|
//! | `docker-archive:PATH[:REF]`| `docker save` / skopeo tar (manifest.json), plain or compressed |
//! | `oci:PATH[:REF]`           | OCI image layout directory (index.json); REF matches `org.opencontainers.image.ref.name` |
//! | `oci-archive:PATH[:REF]`   | an OCI layout in a tar                                  |
//! | `dir:PATH`                 | an unpacked root filesystem                             |
//! | `PATH`                     | any of the above, or a single layer tarball, detected   |

mod archive;
mod docker;
mod oci;
pub mod registry;
mod rootfs;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use clair_types::Digest;

use crate::blob::FileRange;
use crate::contents::{FileSelector, LayerContents};
use crate::error::{Error, Result};
use crate::extract::ExtractLimits;
use crate::read::{Verify, read_layer};

pub use archive::ArchiveIndex;
pub use rootfs::read_rootfs;

/// The format an image was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// `docker save` style archive.
    DockerArchive,
    /// OCI image layout directory.
    OciLayout,
    /// OCI image layout in a tar.
    OciArchive,
    /// Unpacked root filesystem.
    Rootfs,
    /// A single layer tarball.
    LayerTar,
    /// Layers fetched by URL (the Clair APIs: a client sends a manifest with layer URLs).
    Remote,
    /// Pulled from a registry.
    Registry,
    /// Packages listed by an SBOM (CycloneDX or SPDX), no layers read.
    Sbom,
    /// A stored vulnerability report (`clair diff` of saved `scan --format json` output).
    Report,
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageFormat::DockerArchive => "docker-archive",
            ImageFormat::Remote => "remote",
            ImageFormat::Registry => "registry",
            ImageFormat::OciLayout => "oci",
            ImageFormat::OciArchive => "oci-archive",
            ImageFormat::Rootfs => "dir",
            ImageFormat::LayerTar => "layer",
            ImageFormat::Sbom => "sbom",
            ImageFormat::Report => "report",
        })
    }
}

/// A platform, `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// Architecture, in Go/OCI spelling (`amd64`, `arm64`).
    pub arch: String,
    /// Variant (`v8`), if any.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this program runs on.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "arm" => "arm",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: None,
        }
    }

    /// Does an image built for `os`/`arch`/`variant` run here?
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.arch == arch
            && match (&self.variant, variant) {
                (Some(want), Some(v)) => want == v,
                (Some(_), None) => false,
                (None, _) => true,
            }
    }
}

impl FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || Error::Unsupported(format!("platform {s:?}: want os/arch[/variant]"));
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// How to open an image.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Platform to pick from image indexes; the host's when `None`.
    pub platform: Option<Platform>,
    /// Largest compressed image archive unpacked to a temporary file.
    pub max_archive_size: u64,
    /// Largest JSON document (index, manifest, config) read.
    pub max_json_size: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            platform: None,
            max_archive_size: 64 << 30,
            max_json_size: 16 << 20,
        }
    }
}

/// Where a layer's contents come from.
#[derive(Debug, Clone)]
pub enum LayerSource {
    /// A (possibly compressed) tar blob in a local file.
    Blob {
        /// The bytes.
        range: FileRange,
        /// How to check them.
        verify: Verify,
    },
    /// An unpacked root filesystem.
    Rootfs(PathBuf),
    /// Not available here: the layer's results must come from the cache (a layer the caller
    /// skipped downloading because the cache knows its digest).
    Cached,
}

/// One layer of an image.
#[derive(Debug, Clone)]
pub struct ImageLayer {
    /// The digest that names the layer, when known before reading it: the blob digest for OCI
    /// images, the diff_id for docker archives. `None` for lone layer files and root filesystems,
    /// whose digest is computed from their contents.
    pub digest: Option<Digest>,
    /// Media type from the manifest, if any.
    pub media_type: Option<String>,
    /// Where the bytes are.
    pub source: LayerSource,
}

impl ImageLayer {
    /// Bytes to read (for progress bars); 0 for root filesystems.
    pub fn size(&self) -> u64 {
        match &self.source {
            LayerSource::Blob { range, .. } => range.len,
            LayerSource::Rootfs(_) | LayerSource::Cached => 0,
        }
    }

    /// Read the layer: its selected contents and its digest (verified where the image names one).
    pub fn read(
        &self,
        name: &str,
        selector: &FileSelector,
        limits: &ExtractLimits,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(LayerContents, Digest)> {
        match &self.source {
            LayerSource::Blob { range, verify } => {
                let r = read_layer(name, range, verify, selector, limits, progress)?;
                let digest = self.digest.clone().unwrap_or(r.blob_digest);
                Ok((r.contents, digest))
            }
            LayerSource::Rootfs(root) => {
                let c = read_rootfs(root, selector, limits)?;
                let d = c.content_digest();
                Ok((c, d))
            }
            LayerSource::Cached => Err(Error::Unsupported(format!(
                "{name}: expected in the layer cache, but its results are gone; send it again"
            ))),
        }
    }
}

/// An image ready to be read.
#[derive(Debug, Clone)]
pub struct Image {
    /// What the user asked for, for messages.
    pub reference: String,
    /// The format found.
    pub format: ImageFormat,
    /// The manifest digest (OCI), the image ID (docker archive: its config digest), or `None`
    /// when there is no manifest (root filesystem, lone layer): then it is derived from the
    /// layer digests.
    pub manifest_digest: Option<Digest>,
    /// Layers, bottom first.
    pub layers: Vec<ImageLayer>,
    /// `os/arch[/variant]` from the image config, when known.
    pub platform: Option<String>,
    /// Keeps a decompressed temporary copy of the archive alive as long as the image.
    _temp: Option<Arc<tempfile::TempPath>>,
}

impl Image {
    /// An image from layers the caller located (layer blobs downloaded by URL, or known to the
    /// cache), bottom first.
    pub fn from_layers(
        reference: &str,
        format: ImageFormat,
        manifest_digest: Option<Digest>,
        layers: Vec<ImageLayer>,
    ) -> Image {
        Image {
            reference: reference.to_string(),
            format,
            manifest_digest,
            layers,
            platform: None,
            _temp: None,
        }
    }

    /// Total bytes of all layer blobs.
    pub fn total_size(&self) -> u64 {
        self.layers.iter().map(ImageLayer::size).sum()
    }

    /// The manifest digest, or one derived from the layer digests in order.
    pub fn manifest_digest_or(&self, layer_digests: &[Digest]) -> Digest {
        match &self.manifest_digest {
            Some(d) => d.clone(),
            None => {
                let joined: Vec<&str> = layer_digests.iter().map(Digest::as_str).collect();
                Digest::sha256_of(joined.join("\n").as_bytes())
            }
        }
    }
}

/// Open an image from a reference (see the module docs).
pub fn open(reference: &str, opts: &OpenOptions) -> Result<Image> {
    let (transport, rest) = match reference.split_once(':') {
        Some((t @ ("docker-archive" | "oci" | "oci-archive" | "dir"), rest)) => (Some(t), rest),
        _ => (None, reference),
    };
    let mut img = match transport {
        Some("dir") => rootfs::open(Path::new(rest))?,
        Some("oci") => {
            let (path, r) = split_path_ref(rest)?;
            oci::open_layout(&path, r.as_deref(), opts)?
        }
        Some("oci-archive") => {
            let (path, r) = split_path_ref(rest)?;
            let idx = ArchiveIndex::open(&path, opts)?;
            oci::open_archive(idx, r.as_deref(), opts)?
        }
        Some("docker-archive") => {
            let (path, r) = split_path_ref(rest)?;
            let idx = ArchiveIndex::open(&path, opts)?;
            docker::open(idx, r.as_deref(), opts)?
        }
        _ => auto(rest, opts)?,
    };
    img.reference = reference.to_string();
    Ok(img)
}

/// `PATH[:REF]`: the whole string when it names an existing file, else split at the last `:`.
fn split_path_ref(s: &str) -> Result<(PathBuf, Option<String>)> {
    if Path::new(s).exists() {
        return Ok((PathBuf::from(s), None));
    }
    if let Some((p, r)) = s.rsplit_once(':')
        && Path::new(p).exists()
        && !r.is_empty()
    {
        return Ok((PathBuf::from(p), Some(r.to_string())));
    }
    Err(Error::io(
        s,
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
    ))
}

fn auto(s: &str, opts: &OpenOptions) -> Result<Image> {
    let (path, r) = match split_path_ref(s) {
        Ok(x) => x,
        Err(e) => {
            if let Some(t) = unknown_transport(s) {
                return Err(Error::Unsupported(format!(
                    "{s}: unknown image transport \"{t}:\" (known: {KNOWN_TRANSPORTS}), and no such file"
                )));
            }
            return Err(e);
        }
    };
    if path.is_dir() {
        if path.join("index.json").is_file() || path.join("oci-layout").is_file() {
            return oci::open_layout(&path, r.as_deref(), opts);
        }
        if r.is_some() {
            return Err(Error::Unsupported(format!(
                "{}: a root filesystem directory takes no :REF",
                path.display()
            )));
        }
        return rootfs::open(&path);
    }
    let idx = ArchiveIndex::open_or_layer(&path, opts)?;
    match idx {
        archive::Opened::Archive(idx) => {
            if idx.has("manifest.json") {
                docker::open(idx, r.as_deref(), opts)
            } else if idx.has("index.json") {
                oci::open_archive(idx, r.as_deref(), opts)
            } else {
                layer_file(&path)
            }
        }
        archive::Opened::Layer => layer_file(&path),
    }
}

/// The image transports (`scheme:` prefixes) read, for messages.
pub const KNOWN_TRANSPORTS: &str =
    "oci:, oci-archive:, docker-archive:, dir:, sbom:, docker://, or a registry reference";

/// The `scheme` of a `scheme:rest` reference that names no transport read here: skopeo's
/// other transports (`docker-daemon:`, `containers-storage:`), or any word before a colon
/// whose rest cannot be a registry reference's tag (`foo:bar/baz`, `foo:/path`).
pub fn unknown_transport(s: &str) -> Option<&str> {
    let (scheme, rest) = s.split_once(':')?;
    if !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        || matches!(
            scheme,
            "oci" | "oci-archive" | "docker-archive" | "dir" | "sbom" | "docker"
        )
    {
        return None;
    }
    let skopeo = matches!(
        scheme,
        "docker-daemon" | "containers-storage" | "ostree" | "sif" | "tarball"
    );
    // `host:port/repo` is a registry reference.
    let port = rest.split('/').next().unwrap_or("");
    if !skopeo && !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // `name:tag` is a registry reference; a tag has no `/`, `:` or leading `/`.
    let tag_like = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    (skopeo || !tag_like).then_some(scheme)
}

#[cfg(test)]
#[test]
fn unknown_transports() {
    for (s, want) in [
        ("docker-daemon:debian:12", Some("docker-daemon")),
        ("containers-storage:debian", Some("containers-storage")),
        ("foo:/tmp/x", Some("foo")),
        ("foo:bar/baz", Some("foo")),
        ("debian:12", None),
        ("localhost:5000/debian:12", None),
        ("ghcr.io/org/img:1.0", None),
        ("oci:/tmp/x", None),
        ("sbom:bom.json", None),
        ("/tmp/a:b", None),
    ] {
        assert_eq!(unknown_transport(s), want, "{s}");
    }
}

/// Whether `s` can only be a registry reference (not a path to anything that exists).
pub fn looks_like_registry_ref(s: &str) -> bool {
    !s.starts_with('/')
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
}

fn layer_file(path: &Path) -> Result<Image> {
    let range = FileRange::whole(path).map_err(|e| Error::io(path.display(), e))?;
    Ok(Image {
        reference: path.display().to_string(),
        format: ImageFormat::LayerTar,
        manifest_digest: None,
        layers: vec![ImageLayer {
            digest: None,
            media_type: None,
            source: LayerSource::Blob {
                range,
                verify: Verify::None,
            },
        }],
        platform: None,
        _temp: None,
    })
}
