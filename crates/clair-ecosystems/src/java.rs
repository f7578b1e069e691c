//! Java archives (`.jar`, `.war`, `.ear`, Jenkins `.jpi`/`.hpi`) and the Maven artifacts in them.
//!
//! Every `META-INF/maven/GROUP/ARTIFACT/pom.properties` (or other `pom.properties` under
//! `META-INF/`) names an artifact (shaded jars carry
//! several); archives nested in an archive (`WEB-INF/lib/*.jar`, Spring Boot's `BOOT-INF/lib`,
//! `META-INF/jars`) are opened too, two levels deep. An archive with no `pom.properties` falls
//! back to its `META-INF/MANIFEST.MF` and then its file name (`commons-codec-1.9.jar`); those
//! give no Maven group, so the package name is the bare artifact and Maven advisories (keyed
//! `group:artifact`) cannot match it — the inventory still lists it.

use std::io::{Cursor, Read, Seek};

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView, PathPattern};
use clair_types::{Package, PackageDbKind};

use crate::scanner::DbScanner;

/// Archive file name endings scanned.
pub const SUFFIXES: [&str; 5] = [".jar", ".war", ".ear", ".jpi", ".hpi"];
/// Nested archives above this size are unpacked to a temporary file, not into memory.
const NESTED_IN_MEMORY: u64 = 4 << 20;
/// Largest nested archive unpacked.
const MAX_NESTED: u64 = 2 << 30;
/// Largest properties or manifest file read.
const MAX_TEXT: u64 = 1 << 20;
/// Deepest nesting opened (an archive in an archive in an archive).
const MAX_DEPTH: usize = 2;
/// Most entries looked at in one archive.
const MAX_ENTRIES: usize = 200_000;
/// Bytes inflated per top-level archive, nested archives included.
pub const MAX_INFLATED: u64 = 512 << 20;

/// Finds Maven artifacts in Java archives.
///
/// Version 2: archives of any size (read by offset).
pub const SCANNER: DbScanner = DbScanner::new("java", "2", PackageDbKind::Java, select, scan);

fn is_archive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SUFFIXES.iter().any(|s| lower.ends_with(s))
}

fn select(selector: &mut FileSelector) {
    for s in SUFFIXES {
        selector.pattern(PathPattern {
            name_suffix: Some(s.to_string()),
            by_offset: true,
            ..PathPattern::default()
        });
    }
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    let mut out = Vec::new();
    for path in files.paths() {
        if !is_archive(&path) {
            continue;
        }
        let Some(f) = files.open(&path) else { continue };
        let mut warnings = Vec::new();
        let artifacts = match f.large {
            None => archive_artifacts(f.data, f.path, &mut warnings),
            Some(big) => match big.reader() {
                Ok(r) => archive_artifacts_from(r, f.path, &mut warnings),
                Err(e) => {
                    warnings.push(format!("java: {}: {e}", f.path));
                    Vec::new()
                }
            },
        };
        out.push(DbScan {
            path: f.path.to_string(),
            packages: artifacts
                .into_iter()
                .map(|a| Package {
                    name: a.name(),
                    version: a.version,
                    arch: String::new(),
                    source: None,
                    db_kind: PackageDbKind::Java,
                    package_db: f.path.to_string(),
                    module: None,
                })
                .collect(),
            warnings,
        });
    }
    out
}

/// A Maven artifact found in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Group id; empty when the archive did not say.
    pub group: String,
    /// Artifact id.
    pub artifact: String,
    /// Version.
    pub version: String,
    /// Where it was found: `app.war!WEB-INF/lib/x.jar!META-INF/maven/g/a/pom.properties`.
    pub location: String,
}

impl Artifact {
    /// `group:artifact` as Maven advisories name it, or the bare artifact without a group.
    pub fn name(&self) -> String {
        if self.group.is_empty() {
            self.artifact.clone()
        } else {
            format!("{}:{}", self.group, self.artifact)
        }
    }
}

/// Every artifact in the archive `data` at `path` (and in archives nested in it). At most
/// [`MAX_INFLATED`] bytes are inflated in all, however many entries the central directory
/// lists: a zip whose entries overlap (all pointing at one compressed stream) cannot make
/// the scanner inflate the same bomb thousands of times.
pub fn archive_artifacts(data: &[u8], path: &str, warnings: &mut Vec<String>) -> Vec<Artifact> {
    archive_artifacts_from(Cursor::new(data), path, warnings)
}

/// [`archive_artifacts`] of an archive read by offset.
pub fn archive_artifacts_from<R: Read + Seek>(
    archive: R,
    path: &str,
    warnings: &mut Vec<String>,
) -> Vec<Artifact> {
    let mut out = Vec::new();
    let mut budget = MAX_INFLATED;
    walk(archive, path, 0, &mut out, warnings, &mut budget);
    // The same artifact shaded into several archives is one package.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|a| seen.insert((a.group.clone(), a.artifact.clone(), a.version.clone())));
    out
}

/// A nested archive, unpacked into memory or (when big) a temporary file.
enum Nested {
    Memory(Vec<u8>),
    File(std::fs::File),
}

fn walk<R: Read + Seek>(
    archive: R,
    at: &str,
    depth: usize,
    out: &mut Vec<Artifact>,
    warnings: &mut Vec<String>,
    budget: &mut u64,
) {
    let mut zip = match zip::ZipArchive::new(archive) {
        Ok(z) => z,
        Err(e) => {
            warnings.push(format!("java: {at}: not a zip archive: {e}"));
            return;
        }
    };
    let mut found = false;
    let mut manifest = None;
    let mut nested = Vec::new();
    let names: Vec<String> = zip
        .file_names()
        .take(MAX_ENTRIES)
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    for name in names {
        // Maven writes META-INF/maven/GROUP/ARTIFACT/pom.properties; other build tools put
        // it elsewhere in META-INF.
        let is_pom = name.starts_with("META-INF/") && name.ends_with("/pom.properties");
        let is_manifest = name.eq_ignore_ascii_case("META-INF/MANIFEST.MF");
        let is_nested = depth < MAX_DEPTH && is_archive(&name);
        if !(is_pom || is_manifest || is_nested) {
            continue;
        }
        if *budget == 0 {
            warnings.push(format!(
                "java: {at}: more than {MAX_INFLATED} bytes to inflate; the rest is skipped"
            ));
            break;
        }
        if is_nested {
            match unpack_nested(&mut zip, &name, MAX_NESTED.min(*budget)) {
                Ok((n, len)) => {
                    *budget = budget.saturating_sub(len);
                    nested.push((name, n));
                }
                Err(e) => warnings.push(format!("java: {at}!{name}: {e}")),
            }
            continue;
        }
        let bytes = match read_entry(&mut zip, &name, MAX_TEXT.min(*budget)) {
            Ok(b) => {
                *budget = budget.saturating_sub(b.len() as u64);
                b
            }
            Err(e) => {
                warnings.push(format!("java: {at}!{name}: {e}"));
                continue;
            }
        };
        if is_pom {
            match parse_pom_properties(&bytes) {
                Some((group, artifact, version)) => {
                    found = true;
                    out.push(Artifact {
                        group,
                        artifact,
                        version,
                        location: format!("{at}!{name}"),
                    });
                }
                None => warnings.push(format!(
                    "java: {at}!{name}: no groupId, artifactId and version"
                )),
            }
        } else if is_manifest {
            manifest = Some(bytes);
        }
    }
    if !found {
        let file = at.rsplit(['/', '!']).next().unwrap_or(at);
        let from_name = artifact_from_file_name(file);
        let from_manifest = manifest.as_deref().and_then(parse_manifest);
        // The file name carries the artifact id; a manifest only a title.
        let (artifact, version) = from_name.or(from_manifest).unwrap_or_default();
        if !artifact.is_empty() && !version.is_empty() {
            out.push(Artifact {
                group: String::new(),
                artifact,
                version,
                location: at.to_string(),
            });
        }
    }
    for (name, n) in nested {
        let at = format!("{at}!{name}");
        match n {
            Nested::Memory(bytes) => walk(
                Cursor::new(&bytes[..]),
                &at,
                depth + 1,
                out,
                warnings,
                budget,
            ),
            Nested::File(f) => walk(f, &at, depth + 1, out, warnings, budget),
        }
    }
}

/// Unpack a nested archive: small ones into memory, big ones into a temporary file.
fn unpack_nested<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<(Nested, u64), String> {
    let size = zip.by_name(name).map_err(|e| e.to_string())?.size();
    if size <= NESTED_IN_MEMORY {
        let bytes = read_entry(zip, name, NESTED_IN_MEMORY.min(limit))?;
        let len = bytes.len() as u64;
        return Ok((Nested::Memory(bytes), len));
    }
    if size > limit {
        return Err(format!("{size} bytes, more than the {limit} unpacked"));
    }
    let entry = zip.by_name(name).map_err(|e| e.to_string())?;
    let mut f = tempfile::tempfile().map_err(|e| format!("temporary file: {e}"))?;
    // The declared size may lie: the copy is bounded either way.
    let n = std::io::copy(&mut entry.take(limit + 1), &mut f).map_err(|e| e.to_string())?;
    if n > limit {
        return Err(format!("more than the {limit} bytes unpacked"));
    }
    f.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| e.to_string())?;
    Ok((Nested::File(f), n))
}

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, String> {
    let entry = zip.by_name(name).map_err(|e| e.to_string())?;
    if entry.size() > limit {
        return Err(format!(
            "{} bytes, more than the {limit} read",
            entry.size()
        ));
    }
    let mut out = Vec::new();
    // The declared size may lie: the read is bounded either way.
    entry
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > limit {
        return Err(format!("more than the {limit} bytes read"));
    }
    Ok(out)
}

/// `(groupId, artifactId, version)` of a `pom.properties` (Java properties syntax).
pub fn parse_pom_properties(data: &[u8]) -> Option<(String, String, String)> {
    let text = String::from_utf8_lossy(data);
    let (mut g, mut a, mut v) = (None, None, None);
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with(['#', '!']) {
            continue;
        }
        let Some(sep) = line.find(['=', ':']) else {
            continue;
        };
        let key = line[..sep].trim();
        let value = line[sep + 1..].trim().to_string();
        match key {
            "groupId" => g = Some(value),
            "artifactId" => a = Some(value),
            "version" => v = Some(value),
            _ => {}
        }
    }
    match (g, a, v) {
        (Some(g), Some(a), Some(v)) if !g.is_empty() && !a.is_empty() && !v.is_empty() => {
            Some((g, a, v))
        }
        _ => None,
    }
}

/// `(title, version)` from a `MANIFEST.MF`: `Implementation-Title`/`-Version`, else
/// `Bundle-SymbolicName`/`Bundle-Version`.
pub fn parse_manifest(data: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut fields = std::collections::HashMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        // Lines longer than 72 bytes continue on the next line after one space.
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(k) = &last
                && let Some(v) = fields.get_mut(k)
            {
                let v: &mut String = v;
                v.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.insert(k.trim().to_string(), v.trim().to_string());
            last = Some(k.trim().to_string());
        }
    }
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
    let bundle =
        get("Bundle-SymbolicName").map(|s| s.split(';').next().unwrap_or("").trim().to_string());
    let title = get("Implementation-Title").or(bundle)?;
    let version = get("Implementation-Version").or_else(|| get("Bundle-Version"))?;
    Some((title, version))
}

/// `commons-codec-1.9.jar` → (`commons-codec`, `1.9`): the version starts at the first `-`
/// followed by a digit.
pub fn artifact_from_file_name(file: &str) -> Option<(String, String)> {
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let b = stem.as_bytes();
    let at = (1..b.len()).find(|&i| b[i - 1] == b'-' && b[i].is_ascii_digit())?;
    let (name, version) = (&stem[..at - 1], &stem[at..]);
    (!name.is_empty()).then(|| (name.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_corpus::corpus_bytes as corpus;

    fn names(rel: &str) -> (Vec<String>, Vec<String>) {
        let mut w = Vec::new();
        let arts = archive_artifacts(&corpus(rel), rel, &mut w);
        (
            arts.iter()
                .map(|a| format!("{}:{}", a.name(), a.version))
                .collect(),
            w,
        )
    }

    #[test]
    fn archives_read_by_offset_give_the_same_artifacts() {
        let rel = "lang/java/syft-example-java-app-maven-0.1.0.jar";
        let data = corpus(rel);
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &data).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        let (mut wa, mut wb) = (Vec::new(), Vec::new());
        let from_file = archive_artifacts_from(f, rel, &mut wa);
        assert!(!from_file.is_empty());
        assert_eq!(from_file, archive_artifacts(&data, rel, &mut wb));
        assert_eq!(wa, wb);
    }

    #[test]
    fn corpus_archives() {
        let (got, w) = names("lang/java/syft-example-java-app-maven-0.1.0.jar");
        assert_eq!(
            got,
            vec![
                "org.anchore:example-java-app-maven:0.1.0",
                "joda-time:joda-time:2.9.2"
            ]
        );
        assert!(w.is_empty(), "{w:?}");
        let (got, _) = names("lang/java/trivy-multi-license-1.0.0.jar");
        assert_eq!(got, vec!["com.example:multi-license:1.0.0"]);
        let (mut got, _) = names("lang/java/trivy-nested.jar");
        got.sort();
        assert_eq!(
            got,
            vec![
                "test:nested2:0.0.2",
                "test:nested3:0.0.3",
                "test:nested:0.0.1"
            ]
        );
    }

    #[test]
    fn pom_properties_and_manifests() {
        assert_eq!(
            parse_pom_properties(&corpus(
                "lang/java/claircore-pom-properties/guava-27.0-jre.pom.properties"
            )),
            Some(("com.google.guava".into(), "guava".into(), "27.0-jre".into()))
        );
        assert_eq!(
            parse_pom_properties(&corpus(
                "lang/java/claircore-pom-properties/jackson-databind-2.9.10.8.pom.properties"
            )),
            Some((
                "com.fasterxml.jackson.core".into(),
                "jackson-databind".into(),
                "2.9.10.8".into()
            ))
        );
        assert_eq!(
            parse_manifest(&corpus(
                "lang/java/claircore-manifest/commons-codec-1.9.MANIFEST.MF"
            )),
            Some(("Apache Commons Codec".into(), "1.9".into()))
        );
        assert_eq!(
            parse_manifest(&corpus(
                "lang/java/claircore-manifest/guava-27.0-jre.MANIFEST.MF"
            )),
            Some(("com.google.guava".into(), "27.0.0.jre".into()))
        );
        assert_eq!(parse_pom_properties(b"groupId=x\nversion=1\n"), None);
    }

    #[test]
    fn fallbacks_without_pom_properties() {
        assert_eq!(
            artifact_from_file_name("commons-codec-1.9.jar"),
            Some(("commons-codec".into(), "1.9".into()))
        );
        assert_eq!(
            artifact_from_file_name("guava-27.0-jre.jar"),
            Some(("guava".into(), "27.0-jre".into()))
        );
        assert_eq!(artifact_from_file_name("app.jar"), None);
        // A Spring Boot style jar: no pom.properties anywhere, manifests without versions;
        // nested jars (two levels) named artifact-version.jar.
        let (got, w) = names("lang/java/claircore-inner.jar");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            got,
            vec![
                "jackson-annotations:2.13.0",
                "log4j-api:2.14",
                "log4j:2.14.0"
            ]
        );
    }

    #[test]
    fn broken_archives() {
        let mut w = Vec::new();
        assert!(archive_artifacts(b"PK\x03\x04garbage", "x.jar", &mut w).is_empty());
        assert!(w[0].contains("x.jar"), "{w:?}");
    }

    /// Regression: 2,000 central-directory entries over one 64 MiB deflate stream made the
    /// scanner inflate 128 GiB and keep every copy in memory.
    #[test]
    fn overlapping_zip_entries_inflate_within_the_budget() {
        let zip = clair_test::hostile::overlapping_zip(2000, 64 << 20).unwrap();
        assert!(zip.len() < 1 << 20, "{} bytes", zip.len());
        let t = std::time::Instant::now();
        let mut w = Vec::new();
        let found = archive_artifacts(&zip, "app.jar", &mut w);
        assert!(found.is_empty(), "{found:?}");
        assert!(
            w.iter()
                .any(|w| w.contains("bytes to inflate; the rest is skipped")),
            "{w:?}"
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            t.elapsed()
        );
    }
}
