//! Python distributions installed in an image, found by their core metadata files:
//! `*.dist-info/METADATA` (wheels, pip), `*.egg-info/PKG-INFO` or a single-file `*.egg-info`
//! (setuptools), `EGG-INFO/PKG-INFO` in an unzipped egg, and zipped `*.egg` files.
//!
//! The metadata is RFC 822 style headers (`Name:`, `Version:`) ending at the first blank line.
//! Names are kept as written; matching normalises them as PEP 503 says.

use std::io::Read;

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView, PathPattern};
use clair_types::PackageDbKind;

use crate::scanner::{DbScanner, scan_metadata_files};

/// Largest metadata file read (descriptions can be long; headers come first).
const MAX_METADATA: u64 = 4 << 20;
/// Largest zipped egg read.
const MAX_EGG: u64 = 64 << 20;

/// Finds installed Python distributions.
pub const SCANNER: DbScanner = DbScanner::new("python", "1", PackageDbKind::Python, select, scan);

/// What kind of metadata file a path is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Core metadata text.
    Metadata,
    /// A zipped egg holding `EGG-INFO/PKG-INFO`.
    Egg,
}

fn shape(path: &str) -> Option<Shape> {
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    let parent_name = parent.rsplit('/').next().unwrap_or(parent);
    if (name == "METADATA" && parent_name.ends_with(".dist-info"))
        || (name == "PKG-INFO" && (parent_name.ends_with(".egg-info") || parent_name == "EGG-INFO"))
        || name.ends_with(".egg-info")
    {
        Some(Shape::Metadata)
    } else if name.ends_with(".egg") {
        Some(Shape::Egg)
    } else {
        None
    }
}

fn select(selector: &mut FileSelector) {
    let p = |file_name: Option<&str>, parent_suffix: Option<&str>, name_suffix: Option<&str>| {
        PathPattern {
            file_name: file_name.map(str::to_string),
            parent_suffix: parent_suffix.map(str::to_string),
            name_suffix: name_suffix.map(str::to_string),
            max_size: MAX_METADATA,
            ..PathPattern::default()
        }
    };
    selector
        .pattern(p(Some("METADATA"), Some(".dist-info"), None))
        .pattern(p(Some("PKG-INFO"), Some(".egg-info"), None))
        .pattern(p(Some("PKG-INFO"), Some("EGG-INFO"), None))
        .pattern(p(None, None, Some(".egg-info")))
        .pattern(PathPattern {
            name_suffix: Some(".egg".into()),
            max_size: MAX_EGG,
            ..PathPattern::default()
        });
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    let wanted = |path: &str| shape(path).is_some();
    let parse = |path: &str, data: &[u8]| match shape(path) {
        Some(Shape::Egg) => egg_metadata(data).and_then(|m| parse_metadata(&m)),
        _ => parse_metadata(data),
    };
    scan_metadata_files(files, "python", PackageDbKind::Python, wanted, parse)
}

/// `Name` and `Version` of a core metadata file.
pub fn parse_metadata(data: &[u8]) -> Result<(String, String), String> {
    let text = String::from_utf8_lossy(data);
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            break; // the body (long description) follows the headers
        }
        if line.starts_with([' ', '\t']) {
            continue; // continuation of a folded header
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "name" if name.is_none() => name = Some(v.trim().to_string()),
            "version" if version.is_none() => version = Some(v.trim().to_string()),
            _ => {}
        }
    }
    match (name, version) {
        (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => Ok((n, v)),
        _ if text.trim().is_empty() => Err("empty metadata".into()),
        _ => Err("no Name and Version headers".into()),
    }
}

/// `EGG-INFO/PKG-INFO` of a zipped egg.
fn egg_metadata(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(data))
        .map_err(|e| format!("not a zip archive: {e}"))?;
    let mut entry = zip
        .by_name("EGG-INFO/PKG-INFO")
        .map_err(|_| "no EGG-INFO/PKG-INFO".to_string())?;
    let mut out = Vec::new();
    (&mut entry)
        .take(MAX_METADATA)
        .read_to_end(&mut out)
        .map_err(|e| format!("EGG-INFO/PKG-INFO: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_corpus::corpus_bytes as corpus;

    #[test]
    fn corpus_metadata() {
        for (rel, name, version) in [
            (
                "lang/python/syft-dist-name.dist-info/METADATA",
                "Pygments",
                "2.6.1",
            ),
            (
                "lang/python/syft-egg-name.egg-info/PKG-INFO",
                "requests",
                "2.22.0",
            ),
            (
                "lang/python/trivy-asyncssh-2.14.2.dist-info/METADATA",
                "asyncssh",
                "2.14.2",
            ),
            (
                "lang/python/trivy-distlib-0.3.1-py3.9.egg-info",
                "distlib",
                "0.3.1",
            ),
            (
                "lang/python/trivy-iniconfig-2.0.0.dist-info/METADATA",
                "iniconfig",
                "2.0.0",
            ),
            (
                "lang/python/trivy-networkx-3.0.dist-info/METADATA",
                "networkx",
                "3.0",
            ),
            (
                "lang/python/trivy-setuptools-51.3.3-py3.8.egg-info/PKG-INFO",
                "setuptools",
                "51.3.3",
            ),
            (
                "lang/python/trivy-typing_extensions-4.4.0.dist-info/METADATA",
                "typing_extensions",
                "4.4.0",
            ),
        ] {
            assert_eq!(shape(rel), Some(Shape::Metadata), "{rel}");
            assert_eq!(
                parse_metadata(&corpus(rel)),
                Ok((name.to_string(), version.to_string())),
                "{rel}"
            );
        }
    }

    #[test]
    fn zipped_egg() {
        let rel = "lang/python/trivy-kitchen-1.2.6-py2.7.egg";
        assert_eq!(shape(rel), Some(Shape::Egg));
        let meta = egg_metadata(&corpus(rel)).unwrap();
        assert_eq!(
            parse_metadata(&meta),
            Ok(("kitchen".to_string(), "1.2.6".to_string()))
        );
        assert!(egg_metadata(b"PK\x03\x04 truncated").is_err());
    }

    #[test]
    fn shapes_and_bad_metadata() {
        assert_eq!(
            shape("usr/lib/python3/dist-packages/x.dist-info/RECORD"),
            None
        );
        assert_eq!(shape("x/EGG-INFO/PKG-INFO"), Some(Shape::Metadata));
        assert_eq!(shape("usr/share/doc/METADATA"), None);
        assert!(parse_metadata(b"").is_err());
        assert!(parse_metadata(b"Metadata-Version: 2.1\nName: x\n").is_err());
        // Headers end at the first blank line: a Version in the description does not count.
        assert!(parse_metadata(b"Name: x\n\nVersion: 1.0\n").is_err());
    }
}
