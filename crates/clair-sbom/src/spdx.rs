//! SPDX 2.x JSON: packages with a `purl` external reference, and the package whose
//! `primaryPackagePurpose` is `OPERATING-SYSTEM`.

use serde::Deserialize;

use crate::{Collector, Error, Format, Sbom};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    packages: Vec<Package>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID", default)]
    spdx_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    version_info: String,
    #[serde(default)]
    external_refs: Vec<ExternalRef>,
    #[serde(default)]
    primary_package_purpose: String,
    #[serde(default)]
    source_info: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    #[serde(default)]
    reference_type: String,
    #[serde(default)]
    reference_locator: String,
}

/// Trivy's `sourceInfo`: `built package from: NAME VERSION`.
fn source_info(s: &str) -> Option<clair_types::SourcePackage> {
    let rest = s.strip_prefix("built package from: ")?;
    let (name, version) = rest.trim().split_once(' ')?;
    Some(clair_types::SourcePackage {
        name: name.to_string(),
        version: version.trim().to_string(),
    })
}

pub(crate) fn parse(data: &[u8]) -> Result<Sbom, Error> {
    let doc: Document = crate::from_json(data, "SPDX")?;
    let mut c = Collector::default();
    let mut os = None;
    for (i, p) in doc.packages.iter().enumerate() {
        if p.primary_package_purpose == "OPERATING-SYSTEM" {
            os.get_or_insert_with(|| crate::purl::os_distribution(&p.name, &p.version_info));
            continue;
        }
        let purl = p
            .external_refs
            .iter()
            .find(|r| r.reference_type == "purl")
            .map(|r| r.reference_locator.as_str());
        let what = format!(
            "packages[{i}] {} ({} {})",
            p.spdx_id, p.name, p.version_info
        );
        c.add(&what, purl, source_info(&p.source_info));
    }
    let version = doc
        .spdx_version
        .strip_prefix("SPDX-")
        .unwrap_or(&doc.spdx_version)
        .to_string();
    Ok(c.finish(Format::Spdx(version), doc.name, os))
}

#[cfg(test)]
mod tests {
    #[test]
    fn packages_by_purl_and_the_os_package() {
        let s = crate::parse(
            br#"{"spdxVersion":"SPDX-2.3","name":"alpine:3.18","packages":[
              {"SPDXID":"SPDXRef-os","name":"alpine","versionInfo":"3.18.4","primaryPackagePurpose":"OPERATING-SYSTEM"},
              {"SPDXID":"SPDXRef-musl","name":"musl","versionInfo":"1.2.4-r2",
               "sourceInfo":"built package from: musl 1.2.4-r2",
               "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl",
                 "referenceLocator":"pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.18.4"}]},
              {"SPDXID":"SPDXRef-nopurl","name":"thing","versionInfo":"1"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(s.format.to_string(), "SPDX 2.3");
        assert_eq!(s.subject, "alpine:3.18");
        assert_eq!(s.distribution.expect("os").version_id, "3.18.4");
        assert_eq!(s.packages.len(), 1);
        assert_eq!(s.packages[0].source.as_ref().expect("source").name, "musl");
        assert_eq!(s.unsupported, 1);
    }
}
