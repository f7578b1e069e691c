//! Index reports built by hand, for matching tests that need packages but no image.

use std::collections::BTreeMap;

use clair_types::{Digest, Environment, IndexReport, IndexState, ReportPackage, Repository};

/// An index report of language packages `(name, version)` found in one repository named
/// `ecosystem` (`pypi`, `npm`, …: what the language scanners name it). Package ids are the
/// positions in `packages`, as decimal strings.
pub fn language_report(ecosystem: &str, packages: &[(&str, &str)]) -> IndexReport {
    let layer = Digest::sha256_of(b"layer");
    let mut report = IndexReport {
        manifest_hash: Digest::sha256_of(b"manifest"),
        state: IndexState::IndexFinished,
        packages: BTreeMap::new(),
        distributions: BTreeMap::new(),
        repository: BTreeMap::from([(
            "r".to_string(),
            Repository {
                id: "r".into(),
                name: ecosystem.into(),
                key: String::new(),
                uri: String::new(),
                cpe: String::new(),
            },
        )]),
        environments: BTreeMap::new(),
        success: true,
        err: String::new(),
    };
    for (i, (name, version)) in packages.iter().enumerate() {
        let id = i.to_string();
        report.packages.insert(
            id.clone(),
            ReportPackage {
                id: id.clone(),
                name: name.to_string(),
                version: version.to_string(),
                kind: "binary".into(),
                source: None,
                normalized_version: String::new(),
                module: String::new(),
                arch: String::new(),
                cpe: String::new(),
            },
        );
        report.environments.insert(
            id,
            vec![Environment {
                package_db: format!("{ecosystem}-packages"),
                introduced_in: layer.clone(),
                distribution_id: String::new(),
                repository_ids: vec!["r".into()],
            }],
        );
    }
    report
}
