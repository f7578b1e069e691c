//! Distribution detection from the release files every distribution ships.
//!
//! Precedence (first that identifies the system wins; later sources only fill gaps):
//! 1. `etc/os-release`, else `usr/lib/os-release` (os-release(5); read through the image's
//!    symlinks, so Debian's `etc/os-release -> ../usr/lib/os-release` works). A file without `ID`
//!    is identified from `NAME`.
//! 2. Vendor release lines, most specific first: `etc/oracle-release` and
//!    `etc/enterprise-release` (Oracle also ships a `redhat-release` that claims to be RHEL),
//!    `etc/centos-release`, `etc/rocky-release`, `etc/almalinux-release`, `etc/fedora-release`,
//!    `etc/redhat-release`, `etc/system-release` ("<Name> release <version> (<code name>)").
//! 3. `etc/system-release-cpe` (CentOS 6 has nothing else in some images).
//! 4. `etc/lsb-release` (Ubuntu before os-release).
//! 5. `etc/debian_version` (Debian before os-release), `etc/alpine-release`, Alpine's `etc/issue`.
//! 6. The version string in `bin/busybox` (busybox-only images).
//!
//! Gaps filled afterwards: the code name from `lsb-release` or from `VERSION` ("12 (bookworm)",
//! Ubuntu's "16.04.7 LTS (Xenial Xerus)", "12.04.5 LTS, Precise Pangolin") for the Debian family,
//! and a CPE for RHEL when only a release line was found.
//!
//! `version_id` keeps what the vendor's os-release would say (RHEL `7.7`, CentOS `7`, Alpine
//! `3.18.4`, Ubuntu `22.04`); matchers derive their namespaces (`rhel:7`, `alpine:v3.18`) from it.

mod parse;

use clair_indexer::DistributionScanner;
use clair_layer::{FileSelector, FileView};
use clair_types::Distribution;

pub use parse::{ReleaseLine, parse_key_values, parse_os_release, parse_release_line};

/// The os-release files, in precedence order.
pub const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// Vendor release files, most specific first.
const RELEASE_FILES: [&str; 8] = [
    "etc/oracle-release",
    "etc/enterprise-release",
    "etc/centos-release",
    "etc/rocky-release",
    "etc/almalinux-release",
    "etc/fedora-release",
    "etc/redhat-release",
    "etc/system-release",
];

const OTHER_FILES: [&str; 6] = [
    "etc/system-release-cpe",
    "etc/lsb-release",
    "etc/debian_version",
    "etc/alpine-release",
    "etc/issue",
    "bin/busybox",
];

/// Release files are tiny; anything beyond this is not one (busybox is read whole).
const MAX_RELEASE_FILE: usize = 64 * 1024;

/// Identifies the distribution from release files.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsReleaseScanner;

impl DistributionScanner for OsReleaseScanner {
    fn name(&self) -> &'static str {
        "os-release"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn select(&self, selector: &mut FileSelector) {
        for f in OS_RELEASE.iter().chain(&RELEASE_FILES).chain(&OTHER_FILES) {
            selector.file(f);
        }
    }

    fn detect(&self, files: &dyn FileView) -> Option<Distribution> {
        detect(files)
    }
}

fn read<'a>(files: &'a dyn FileView, path: &str) -> Option<&'a [u8]> {
    let f = files.open(path)?;
    Some(&f.data[..f.data.len().min(MAX_RELEASE_FILE)])
}

fn text(files: &dyn FileView, path: &str) -> Option<String> {
    read(files, path).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Detect the distribution described by `files` (see the module docs for the rules).
pub fn detect(files: &dyn FileView) -> Option<Distribution> {
    let mut d = OS_RELEASE
        .iter()
        .find_map(|p| read(files, p).and_then(from_os_release))
        .or_else(|| {
            RELEASE_FILES
                .iter()
                .find_map(|p| text(files, p).and_then(|t| from_release_line(&t)))
        })
        .or_else(|| text(files, "etc/system-release-cpe").and_then(|t| from_cpe(&t)))
        .or_else(|| text(files, "etc/lsb-release").and_then(|t| from_lsb(&t)))
        .or_else(|| text(files, "etc/debian_version").and_then(|t| from_debian_version(&t)))
        .or_else(|| text(files, "etc/alpine-release").and_then(|t| from_alpine_release(&t)))
        .or_else(|| text(files, "etc/issue").and_then(|t| from_alpine_issue(&t)))
        .or_else(|| files.open("bin/busybox").and_then(|f| from_busybox(f.data)))?;
    fill_gaps(&mut d, files);
    Some(d)
}

/// From os-release contents; `None` when nothing identifies the system.
pub fn from_os_release(data: &[u8]) -> Option<Distribution> {
    let kv = parse_os_release(data);
    let get = |k: &str| kv.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut did = get("ID").to_ascii_lowercase();
    let name = get("NAME");
    if did.is_empty() {
        // A file without ID (seen in the wild): the first word of NAME is the best guess.
        did = name
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
    }
    if did.is_empty() {
        return None;
    }
    let version = get("VERSION");
    let mut version_id = get("VERSION_ID");
    if version_id.is_empty() {
        version_id = leading_version(&version);
    }
    let mut version_code_name = get("VERSION_CODENAME");
    if version_code_name.is_empty() {
        version_code_name = get("UBUNTU_CODENAME");
    }
    Some(Distribution {
        did,
        name,
        version,
        version_code_name,
        version_id,
        arch: String::new(),
        cpe: get("CPE_NAME"),
        pretty_name: get("PRETTY_NAME"),
    })
}

/// The leading dotted number of a version string ("18.04 LTS (Bionic Beaver)" → "18.04").
fn leading_version(v: &str) -> String {
    v.trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect::<String>()
        .trim_end_matches('.')
        .to_string()
}

/// os-release ID and NAME by the start of a vendor's release-line name (lower case), the
/// first that matches.
const VENDORS: [(&str, &str, &str); 11] = [
    (
        "red hat enterprise linux coreos",
        "rhcos",
        "Red Hat Enterprise Linux CoreOS",
    ),
    (
        "red hat enterprise linux",
        "rhel",
        "Red Hat Enterprise Linux",
    ),
    ("centos stream", "centos", "CentOS Stream"),
    ("centos", "centos", "CentOS Linux"),
    ("oracle linux", "ol", "Oracle Linux Server"),
    ("enterprise linux", "ol", "Oracle Linux Server"),
    ("rocky", "rocky", "Rocky Linux"),
    ("almalinux", "almalinux", "AlmaLinux"),
    ("fedora", "fedora", "Fedora Linux"),
    ("scientific linux", "scientific", "Scientific Linux"),
    ("amazon linux", "amzn", "Amazon Linux"),
];

/// os-release ID and NAME for a vendor's release-line name.
fn vendor(name: &str) -> (&'static str, &'static str) {
    let n = name.to_ascii_lowercase();
    VENDORS
        .iter()
        .find(|(prefix, ..)| n.starts_with(prefix))
        .map_or(("", ""), |(_, id, name)| (*id, *name))
}

/// From a "<Name> release <version> (<code name>)" line.
pub fn from_release_line(text: &str) -> Option<Distribution> {
    let line = parse_release_line(text)?;
    let (id, canonical) = vendor(&line.name);
    let did = if id.is_empty() {
        line.name.split_whitespace().next()?.to_ascii_lowercase()
    } else {
        id.to_string()
    };
    let major = line.version.split('.').next().unwrap_or("").to_string();
    // What each vendor's os-release says in VERSION_ID: CentOS the major only, the rest the
    // release as written.
    let version_id = match did.as_str() {
        "centos" => major.clone(),
        _ => line.version.clone(),
    };
    let version = match &line.code_name {
        Some(c) => format!("{} ({c})", line.version),
        None => line.version.clone(),
    };
    let cpe = match did.as_str() {
        "rhel" => format!("cpe:/o:redhat:enterprise_linux:{major}"),
        _ => String::new(),
    };
    Some(Distribution {
        did,
        name: if canonical.is_empty() {
            line.name.clone()
        } else {
            canonical.to_string()
        },
        version,
        version_code_name: String::new(),
        version_id,
        arch: String::new(),
        cpe,
        pretty_name: text.lines().next().unwrap_or("").trim().to_string(),
    })
}

/// From `etc/system-release-cpe` (`cpe:/o:centos:linux:6:GA`).
pub fn from_cpe(text: &str) -> Option<Distribution> {
    let cpe = text.lines().next()?.trim();
    let rest = cpe
        .strip_prefix("cpe:/o:")
        .or_else(|| cpe.strip_prefix("cpe:2.3:o:"))?;
    let parts: Vec<&str> = rest.split(':').collect();
    let (vendor_part, product, version) = (
        parts.first()?,
        parts.get(1)?,
        parts.get(2).copied().unwrap_or(""),
    );
    let (did, name) = match (*vendor_part, *product) {
        ("centos", _) => ("centos", "CentOS Linux"),
        ("redhat", p) if p.starts_with("enterprise_linux") => ("rhel", "Red Hat Enterprise Linux"),
        ("oracle", _) => ("ol", "Oracle Linux Server"),
        ("fedoraproject", _) => ("fedora", "Fedora Linux"),
        ("rocky", _) => ("rocky", "Rocky Linux"),
        ("almalinux", _) => ("almalinux", "AlmaLinux"),
        ("amazon", _) => ("amzn", "Amazon Linux"),
        _ => return None,
    };
    Some(Distribution {
        did: did.into(),
        name: name.into(),
        version: version.into(),
        version_code_name: String::new(),
        version_id: version.into(),
        arch: String::new(),
        cpe: cpe.to_string(),
        pretty_name: String::new(),
    })
}

/// From `etc/lsb-release` (Ubuntu before os-release).
pub fn from_lsb(text: &str) -> Option<Distribution> {
    let kv = parse_key_values(text.as_bytes());
    let id = kv.get("DISTRIB_ID")?.trim().to_string();
    if id.is_empty() {
        return None;
    }
    let release = kv.get("DISTRIB_RELEASE").cloned().unwrap_or_default();
    let desc = kv.get("DISTRIB_DESCRIPTION").cloned().unwrap_or_default();
    Some(Distribution {
        did: id.to_ascii_lowercase(),
        name: id,
        version: desc
            .split_once(' ')
            .map_or(String::new(), |(_, v)| v.to_string()),
        version_code_name: kv.get("DISTRIB_CODENAME").cloned().unwrap_or_default(),
        version_id: release,
        arch: String::new(),
        cpe: String::new(),
        pretty_name: desc,
    })
}

/// Debian release numbers and their code names.
const DEBIAN_CODENAMES: [(&str, &str); 14] = [
    ("1", "buzz"),
    ("2", "hamm"),
    ("3", "woody"),
    ("4", "etch"),
    ("5", "lenny"),
    ("6", "squeeze"),
    ("7", "wheezy"),
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
];

/// From `etc/debian_version` (`6.0.10`, or `bookworm/sid` on testing).
pub fn from_debian_version(text: &str) -> Option<Distribution> {
    let v = text.lines().next()?.trim();
    if v.is_empty() {
        return None;
    }
    let major = leading_version(v)
        .split('.')
        .next()
        .unwrap_or("")
        .to_string();
    let (version_id, code) = if major.is_empty() {
        // "trixie/sid": testing or unstable; no release number.
        (String::new(), v.split('/').next().unwrap_or("").to_string())
    } else {
        let code = DEBIAN_CODENAMES
            .iter()
            .find(|(n, _)| *n == major)
            .map_or("", |(_, c)| c);
        (major.clone(), code.to_string())
    };
    Some(Distribution {
        did: "debian".into(),
        name: "Debian GNU/Linux".into(),
        version: if code.is_empty() || version_id.is_empty() {
            v.to_string()
        } else {
            format!("{version_id} ({code})")
        },
        version_code_name: code,
        version_id,
        arch: String::new(),
        cpe: String::new(),
        pretty_name: format!("Debian GNU/Linux {v}"),
    })
}

fn alpine(version: &str) -> Distribution {
    let minor: Vec<&str> = version.split('.').take(2).collect();
    Distribution {
        did: "alpine".into(),
        name: "Alpine Linux".into(),
        version: version.into(),
        version_code_name: String::new(),
        version_id: version.into(),
        arch: String::new(),
        cpe: String::new(),
        pretty_name: format!("Alpine Linux v{}", minor.join(".")),
    }
}

/// From `etc/alpine-release` (`3.18.1`).
pub fn from_alpine_release(text: &str) -> Option<Distribution> {
    let v = text.lines().next()?.trim();
    (!v.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())).then(|| alpine(v))
}

/// From Alpine's `etc/issue` ("Welcome to Alpine Linux 3.3").
pub fn from_alpine_issue(text: &str) -> Option<Distribution> {
    let rest = text
        .lines()
        .next()?
        .trim()
        .strip_prefix("Welcome to Alpine Linux ")?;
    let v = rest.split_whitespace().next()?;
    let mut d = alpine(v);
    if rest.contains("(edge)") {
        d.version_code_name = "edge".into();
        d.pretty_name = "Alpine Linux edge".into();
    }
    Some(d)
}

/// From the version string inside a busybox binary ("BusyBox v1.31.1").
pub fn from_busybox(data: &[u8]) -> Option<Distribution> {
    const NEEDLE: &[u8] = b"BusyBox v";
    let at = data.windows(NEEDLE.len()).position(|w| w == NEEDLE)? + NEEDLE.len();
    let v: String = data[at..]
        .iter()
        .take(32)
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .map(|b| *b as char)
        .collect();
    let v = v.trim_end_matches('.').to_string();
    if v.is_empty() {
        return None;
    }
    Some(Distribution {
        did: "busybox".into(),
        name: "BusyBox".into(),
        version: v.clone(),
        version_code_name: String::new(),
        version_id: v.clone(),
        arch: String::new(),
        cpe: String::new(),
        pretty_name: format!("BusyBox v{v}"),
    })
}

/// Fill fields os-release left empty from the other files.
fn fill_gaps(d: &mut Distribution, files: &dyn FileView) {
    let debian_family = matches!(d.did.as_str(), "debian" | "ubuntu" | "raspbian");
    if d.version_code_name.is_empty()
        && let Some(lsb) = text(files, "etc/lsb-release").and_then(|t| from_lsb(&t))
        && lsb.did == d.did
    {
        d.version_code_name = lsb.version_code_name;
    }
    if d.version_code_name.is_empty() && debian_family {
        d.version_code_name = code_name_from_version(&d.version);
    }
    if d.version_code_name.is_empty() && d.did == "debian" && !d.version_id.is_empty() {
        d.version_code_name = DEBIAN_CODENAMES
            .iter()
            .find(|(n, _)| *n == d.version_id)
            .map_or(String::new(), |(_, c)| c.to_string());
    }
    if d.did == "alpine" && d.version_code_name.is_empty() && d.pretty_name.ends_with(" edge") {
        d.version_code_name = "edge".into();
    }
}

/// "12 (bookworm)" → bookworm; "16.04.7 LTS (Xenial Xerus)" → xenial;
/// "12.04.5 LTS, Precise Pangolin" → precise; "Debian GNU/Linux 10 (buster)" → buster.
fn code_name_from_version(v: &str) -> String {
    let inner = if let Some((_, rest)) = v.split_once('(') {
        rest.split(')').next().unwrap_or("")
    } else if let Some((_, rest)) = v.split_once(", ") {
        rest
    } else {
        ""
    };
    inner
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
