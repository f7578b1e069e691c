//! npm packages installed in an image: `node_modules/NAME/package.json` and
//! `node_modules/@SCOPE/NAME/package.json`, at any depth (nested `node_modules` included).
//!
//! Only manifests in a package's own directory count: the `package.json` files npm packages
//! carry in subdirectories (`lib/package.json` with `{"type": "module"}`, test fixtures) are not
//! installed packages. Lock files describe a source tree, not what is installed, and are not read.

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView, PathPattern};
use clair_types::PackageDbKind;
use serde::Deserialize;

use crate::scanner::{DbScanner, scan_metadata_files};

/// Largest manifest read.
const MAX_MANIFEST: u64 = 4 << 20;

/// Finds installed npm packages.
pub const SCANNER: DbScanner = DbScanner::new("npm", "1", PackageDbKind::Npm, select, scan);

/// Whether `path` is the manifest of an installed package.
pub fn is_installed_manifest(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [.., nm, name, "package.json"] if *nm == "node_modules" => !name.starts_with('@'),
        [.., nm, scope, name, "package.json"] if *nm == "node_modules" => {
            scope.starts_with('@') && !name.starts_with('@')
        }
        _ => false,
    }
}

fn select(selector: &mut FileSelector) {
    selector.pattern(PathPattern {
        file_name: Some("package.json".into()),
        ancestor: Some("node_modules".into()),
        max_size: MAX_MANIFEST,
        ..PathPattern::default()
    });
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    let parse = |_: &str, data: &[u8]| parse_manifest(data);
    scan_metadata_files(
        files,
        "npm",
        PackageDbKind::Npm,
        is_installed_manifest,
        parse,
    )
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    name: Option<serde_json::Value>,
    #[serde(default)]
    version: Option<serde_json::Value>,
}

/// `name` and `version` of a `package.json`.
pub fn parse_manifest(data: &[u8]) -> Result<(String, String), String> {
    let m: Manifest = serde_json::from_slice(data).map_err(|e| format!("not JSON: {e}"))?;
    let text = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    match (text(m.name), text(m.version)) {
        (Some(n), Some(v)) => Ok((n, v)),
        (None, _) => Err("no \"name\" string".into()),
        (_, None) => Err("no \"version\" string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_corpus::corpus_bytes as corpus;

    #[test]
    fn corpus_manifests() {
        for (rel, name, version) in [
            (
                "lang/npm/trivy-node_modules/express/package.json",
                "express",
                "4.16.4",
            ),
            ("lang/npm/trivy-legacy_package.json", "angular", "4.1.2"),
            ("lang/npm/trivy-package.json", "bootstrap", "5.0.2"),
        ] {
            assert_eq!(
                parse_manifest(&corpus(rel)),
                Ok((name.to_string(), version.to_string())),
                "{rel}"
            );
        }
        // A lock file is JSON too, but not a package manifest of an installed package.
        assert!(!is_installed_manifest(
            "lang/npm/trivy-package-lock_v3.json"
        ));
    }

    #[test]
    fn installed_manifest_paths() {
        for (p, want) in [
            ("usr/lib/node_modules/npm/package.json", true),
            ("app/node_modules/@babel/core/package.json", true),
            ("app/node_modules/a/node_modules/b/package.json", true),
            ("app/node_modules/a/lib/package.json", false),
            ("app/node_modules/@scope/package.json", false),
            ("app/package.json", false),
            ("node_modules/x/package.json", true),
        ] {
            assert_eq!(is_installed_manifest(p), want, "{p}");
        }
    }

    #[test]
    fn bad_manifests() {
        assert!(parse_manifest(b"{").is_err());
        assert!(parse_manifest(br#"{"type":"module"}"#).is_err());
        assert!(parse_manifest(br#"{"name":"x","version":1}"#).is_err());
        assert!(parse_manifest(b"[]").is_err());
    }
}
