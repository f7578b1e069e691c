//! Write OCI image layouts from layer blobs (for tests of sources and malformed images).

use std::path::Path;

use clair_types::Digest;
use serde_json::json;

/// Write `data` as a blob of the layout at `dir`; its digest.
pub fn write_blob(dir: &Path, data: &[u8]) -> Digest {
    let d = Digest::sha256_of(data);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(d.hex()), data).unwrap();
    d
}

/// A layer for [`write_layout`]: blob bytes and media type.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The blob as stored.
    pub blob: Vec<u8>,
    /// Its media type.
    pub media_type: String,
}

impl Layer {
    /// A gzip-compressed layer from an uncompressed tar.
    pub fn gzip(tar: &[u8]) -> Layer {
        Layer {
            blob: crate::tar::gzip(tar),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        }
    }
    /// An uncompressed layer.
    pub fn plain(tar: &[u8]) -> Layer {
        Layer {
            blob: tar.to_vec(),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        }
    }
}

/// Write an OCI layout with one image of `layers` tagged `ref_name`; returns the manifest digest.
/// Calling it again on the same dir adds another image to index.json.
pub fn write_layout(dir: &Path, ref_name: &str, layers: &[Layer]) -> Digest {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| {
            let mut plain = Vec::new();
            if l.blob.starts_with(&[0x1f, 0x8b]) {
                use std::io::Read;
                // Broken blobs (for error tests) get a diff_id of whatever decompressed.
                let _ = flate2::read::MultiGzDecoder::new(&l.blob[..]).read_to_end(&mut plain);
            } else {
                plain = l.blob.clone();
            }
            Digest::sha256_of(&plain).to_string()
        })
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_digest = write_blob(dir, &config);
    let layer_descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            let d = write_blob(dir, &l.blob);
            json!({"mediaType": l.media_type, "digest": d.to_string(), "size": l.blob.len()})
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest.to_string(), "size": config.len()},
        "layers": layer_descs,
    }))
    .unwrap();
    let md = write_blob(dir, &manifest);
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({"schemaVersion": 2, "manifests": []}));
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md.to_string(), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": ref_name},
    }));
    std::fs::write(index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    md
}
