//! CycloneDX JSON (1.4–1.6): components with purls, nested components, and the
//! `operating-system` component.

use serde::Deserialize;

use crate::{Collector, Error, Format, Sbom};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    spec_version: String,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    component: Option<Component>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(rename = "type", default)]
    ty: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    properties: Vec<Property>,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
struct Property {
    name: String,
    #[serde(default)]
    value: String,
}

impl Component {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The source package as Trivy records it (`aquasecurity:trivy:Src*` properties).
    fn trivy_source(&self) -> Option<clair_types::SourcePackage> {
        let name = self.property("aquasecurity:trivy:SrcName")?;
        let mut version = self.property("aquasecurity:trivy:SrcVersion")?.to_string();
        if let Some(r) = self.property("aquasecurity:trivy:SrcRelease") {
            version = format!("{version}-{r}");
        }
        if let Some(e) = self
            .property("aquasecurity:trivy:SrcEpoch")
            .filter(|e| *e != "0")
        {
            version = format!("{e}:{version}");
        }
        Some(clair_types::SourcePackage {
            name: name.to_string(),
            version,
        })
    }
}

pub(crate) fn parse(data: &[u8]) -> Result<Sbom, Error> {
    let bom: Bom = crate::from_json(data, "CycloneDX")?;
    let mut c = Collector::default();
    let mut os = None;
    let mut stack: Vec<(String, &Component)> = bom
        .components
        .iter()
        .enumerate()
        .rev()
        .map(|(i, comp)| (format!("components[{i}]"), comp))
        .collect();
    while let Some((at, comp)) = stack.pop() {
        if comp.ty == "operating-system" {
            if os.is_none() {
                let id = comp.property("syft:distro:id").unwrap_or(&comp.name);
                let version = comp
                    .property("syft:distro:versionID")
                    .unwrap_or(&comp.version);
                let mut d = crate::purl::os_distribution(id, version);
                if let Some(code) = comp.property("syft:distro:versionCodename") {
                    d.version_code_name = code.to_string();
                }
                os = Some(d);
            }
        } else {
            let what = format!("{at} ({} {})", comp.name, comp.version);
            c.add(&what, comp.purl.as_deref(), comp.trivy_source());
        }
        for (i, child) in comp.components.iter().enumerate().rev() {
            stack.push((format!("{at}.components[{i}]"), child));
        }
    }
    let subject = bom
        .metadata
        .and_then(|m| m.component)
        .map(|m| {
            if m.version.is_empty() {
                m.name
            } else {
                format!("{} {}", m.name, m.version)
            }
        })
        .unwrap_or_default();
    Ok(c.finish(Format::CycloneDx(bom.spec_version), subject, os))
}

#[cfg(test)]
mod tests {
    #[test]
    fn nested_components_os_and_trivy_sources() {
        let s = crate::parse(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.6",
            "metadata":{"component":{"type":"container","name":"debian:12"}},
            "components":[
              {"type":"operating-system","name":"debian","version":"12.4"},
              {"type":"library","name":"libc6","version":"2.36-9+deb12u4",
               "purl":"pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12.4",
               "properties":[{"name":"aquasecurity:trivy:SrcName","value":"glibc"},
                             {"name":"aquasecurity:trivy:SrcVersion","value":"2.36"},
                             {"name":"aquasecurity:trivy:SrcRelease","value":"9+deb12u4"}]},
              {"type":"application","name":"app","components":[
                 {"type":"library","name":"lodash","version":"4.17.20","purl":"pkg:npm/lodash@4.17.20"},
                 {"type":"library","name":"bad","version":"1","purl":"pkg:"}]},
              {"type":"file","name":"/etc/passwd"},
              {"type":"library","name":"x","version":"1","purl":"pkg:github/x/y@1"},
              {"type":"library","name":"lodash","version":"4.17.20","purl":"pkg:npm/lodash@4.17.20"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(s.format.to_string(), "CycloneDX 1.6");
        assert_eq!(s.subject, "debian:12");
        let d = s.distribution.expect("os component");
        assert_eq!((d.did.as_str(), d.version_id.as_str()), ("debian", "12.4"));
        let names: Vec<_> = s.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libc6", "lodash"], "nested read, duplicates once");
        let src = s.packages[0].source.as_ref().expect("trivy source");
        assert_eq!(
            (src.name.as_str(), src.version.as_str()),
            ("glibc", "2.36-9+deb12u4")
        );
        assert_eq!(s.unsupported, 3, "the app, the file and the github purl");
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(
            s.warnings[0].starts_with("components[2].components[1] (bad 1): purl"),
            "{:?}",
            s.warnings
        );
    }
}
