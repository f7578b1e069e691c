//! Go binaries: the module build information the Go linker embeds in every executable (Go 1.13
//! and later), read as Go's `debug/buildinfo` does — both the Go 1.18+ inline layout and the
//! older layout of two pointers to Go strings.
//!
//! Each dependency becomes a package of the `go` ecosystem (module path, module version), the
//! main module too unless it is `(devel)`, and the toolchain as the package `stdlib` at the Go
//! version (`go1.22.1` → `1.22.1`), as OSV's Go advisories name it.

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView};
use clair_types::{Package, PackageDbKind};

use crate::elf::{Elf, Source, scan_elf_files, select_executables};
use crate::scanner::DbScanner;

/// The build-info header: 14 bytes of magic, pointer size, flags.
pub const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER: usize = 32;
/// Longest version or module-info string accepted.
const MAX_STRING: u64 = 16 << 20;

/// Finds Go module dependencies in executables.
///
/// Version 2: executables of any size (read by offset).
pub const SCANNER: DbScanner = DbScanner::new("go-binary", "2", PackageDbKind::Go, select, scan);

fn select(selector: &mut FileSelector) {
    select_executables(selector, MAGIC);
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    scan_elf_files(files, "go-binary", |path, src| {
        Ok(build_info_of(src).map(|info| info.packages(path)))
    })
}

/// What a Go binary says about how it was built.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// Toolchain version (`go1.22.1`).
    pub go_version: String,
    /// The main package's path.
    pub path: String,
    /// The main module (path, version), if recorded.
    pub main: Option<(String, String)>,
    /// Dependencies (path, version), replacements applied.
    pub deps: Vec<(String, String)>,
}

impl BuildInfo {
    /// The packages this binary contains.
    pub fn packages(&self, db: &str) -> Vec<Package> {
        let pkg = |name: &str, version: &str| Package {
            name: name.to_string(),
            version: version.to_string(),
            arch: String::new(),
            source: None,
            db_kind: PackageDbKind::Go,
            package_db: db.to_string(),
            module: None,
        };
        let mut out = Vec::new();
        if let Some(v) = stdlib_version(&self.go_version) {
            out.push(pkg("stdlib", &v));
        }
        if let Some((p, v)) = &self.main
            && !v.is_empty()
            && v != "(devel)"
        {
            out.push(pkg(p, v));
        }
        for (p, v) in &self.deps {
            out.push(pkg(p, v));
        }
        out
    }
}

/// `go1.22.1` → `1.22.1`, `go1.21` → `1.21.0`, `go1.22rc1` → `1.22.0-rc.1` (OSV's spelling);
/// `None` for anything else (`devel +abc`).
pub fn stdlib_version(go: &str) -> Option<String> {
    let v = go.strip_prefix("go")?;
    // Toolchain suffixes (`go1.22.1 X:boringcrypto`) are not part of the version.
    let v = v.split([' ', '-', '+']).next()?;
    let (core, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let mut parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let mut out = parts.join(".");
    if let Some(pre) = pre {
        let (kind, n) = pre.split_at(pre.find(|c: char| c.is_ascii_digit())?);
        if !matches!(kind, "rc" | "beta" | "alpha") || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out = format!("{out}-{kind}.{n}");
    }
    Some(out)
}

/// The build information of a Go ELF executable, if it has any.
pub fn build_info(data: &[u8]) -> Option<BuildInfo> {
    build_info_of(Source::Mem(data))
}

/// [`build_info`] of a file in memory or read by offset.
pub(crate) fn build_info_of(src: Source<'_>) -> Option<BuildInfo> {
    let elf = Elf::parse(src)?;
    // The linker puts the header in its own section; stripped or unusual binaries are searched.
    let found = elf
        .section_range(".go.buildinfo")
        .and_then(|(at, _)| read_header(&elf, at))
        .or_else(|| {
            src.find(MAGIC, 16)
                .into_iter()
                .find_map(|at| read_header(&elf, at))
        })?;
    let (go_version, modinfo) = found;
    if go_version.is_empty() {
        return None;
    }
    let mut info = parse_modinfo(&modinfo);
    info.go_version = go_version;
    Some(info)
}

/// The build-info header at file offset `at`: the Go version and the module information.
fn read_header(elf: &Elf<'_>, at: u64) -> Option<(String, String)> {
    let src = elf.source();
    let data = src.read(at, HEADER as u64)?;
    if !data.starts_with(MAGIC) || data.len() < HEADER {
        return None;
    }
    let ptr_size = usize::from(data[14]);
    let flags = data[15];
    let (version, module) = if flags & 2 != 0 {
        let (v, next) = decode_string(src, at + HEADER as u64)?;
        let (m, _) = decode_string(src, next)?;
        (v, m)
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return None;
        }
        let p1 = elf.read_uint(data.get(16..16 + ptr_size)?)?;
        let p2 = elf.read_uint(data.get(16 + ptr_size..16 + 2 * ptr_size)?)?;
        (
            read_go_string(elf, p1, ptr_size)?,
            read_go_string(elf, p2, ptr_size).unwrap_or_default(),
        )
    };
    let version = String::from_utf8_lossy(&version).into_owned();
    // The module information is framed by two 16-byte sentinels.
    let module = if module.len() >= 33 && module[module.len() - 17] == b'\n' {
        String::from_utf8_lossy(&module[16..module.len() - 16]).into_owned()
    } else {
        String::new()
    };
    Some((version, module))
}

/// A uvarint-length-prefixed string at file offset `at`, and the offset after it.
fn decode_string(src: Source<'_>, at: u64) -> Option<(Vec<u8>, u64)> {
    let head = src.read(at, 10)?;
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let b = *head.get(i)?;
        i += 1;
        len |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    if len > MAX_STRING {
        return None;
    }
    let start = at.checked_add(i as u64)?;
    let data = src.read(start, len)?;
    if data.len() as u64 != len {
        return None;
    }
    Some((data.into_owned(), start.checked_add(len)?))
}

/// A Go string header (data pointer, length) at `addr`, and the bytes it points to.
fn read_go_string(elf: &Elf<'_>, addr: u64, ptr_size: usize) -> Option<Vec<u8>> {
    let size = u64::try_from(ptr_size).ok()?;
    let hdr = elf.read_addr(addr, 2 * size)?;
    let data = elf.read_uint(hdr.get(..ptr_size)?)?;
    let len = elf.read_uint(hdr.get(ptr_size..)?)?;
    if len > MAX_STRING {
        return None;
    }
    elf.read_addr(data, len).map(std::borrow::Cow::into_owned)
}

/// Parse `runtime/debug.BuildInfo`'s text form: `path`, `mod`, `dep` and `=>` (replacement of
/// the line before) lines, tab-separated.
pub fn parse_modinfo(text: &str) -> BuildInfo {
    let mut info = BuildInfo::default();
    // Which module a `=>` line replaces: the main module or the last dependency.
    let mut last_is_dep = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["path", p, ..] => info.path = p.to_string(),
            ["mod", p, rest @ ..] => {
                let v = rest.first().copied().unwrap_or_default();
                info.main = Some((p.to_string(), v.to_string()));
                last_is_dep = false;
            }
            ["dep", p, rest @ ..] => {
                let v = rest.first().copied().unwrap_or_default();
                info.deps.push((p.to_string(), v.to_string()));
                last_is_dep = true;
            }
            ["=>", p, rest @ ..] => {
                let v = rest.first().copied().unwrap_or_default();
                // A replacement by a local directory has no version: keep the original's.
                let target = if last_is_dep {
                    info.deps.last_mut()
                } else {
                    info.main.as_mut()
                };
                if let Some(m) = target
                    && !v.is_empty()
                {
                    *m = (p.to_string(), v.to_string());
                }
            }
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_corpus::corpus_bytes as corpus;

    #[test]
    fn go_1_18_inline_build_info() {
        let data = corpus("lang/go/trivy-main-version-via-ldflags.elf");
        let info = build_info(&data).expect("build info");
        assert_eq!(info.go_version, "go1.22.1");
        assert_eq!(info.path, "github.com/aquasecurity/test");
        assert_eq!(
            info.main,
            Some(("github.com/aquasecurity/test".into(), "(devel)".into()))
        );
        assert!(info.deps.is_empty());
        let pkgs = info.packages("app");
        let got: Vec<_> = pkgs.iter().map(|p| (&*p.name, &*p.version)).collect();
        assert_eq!(got, vec![("stdlib", "1.22.1")]);
    }

    #[test]
    fn pre_1_18_pointer_build_info() {
        let data = corpus("lang/go/trivy-test.elf");
        let info = build_info(&data).expect("build info");
        assert_eq!(info.go_version, "go1.15.2");
        assert_eq!(
            info.deps,
            vec![
                (
                    "github.com/aquasecurity/go-pep440-version".to_string(),
                    "v0.0.0-20210121094942-22b2f8951d46".to_string()
                ),
                (
                    "github.com/aquasecurity/go-version".to_string(),
                    "v0.0.0-20210121072130-637058cfe492".to_string()
                ),
                (
                    "golang.org/x/xerrors".to_string(),
                    "v0.0.0-20200804184101-5ec99f83aff1".to_string()
                ),
            ]
        );
        let pkgs = info.packages("usr/bin/test");
        assert_eq!(pkgs.len(), 4, "stdlib + 3 deps, (devel) main skipped");
        assert!(pkgs.iter().all(|p| p.db_kind == PackageDbKind::Go));
    }

    #[test]
    fn replacements_apply_to_the_module_before() {
        let info = parse_modinfo(
            "path\tex.com/app\nmod\tex.com/app\tv1.0.0\th1:x\n\
             dep\tgolang.org/x/net\tv0.1.0\th1:y\n=>\tgithub.com/fork/net\tv0.2.0\th1:z\n\
             dep\tex.com/local\tv1.0.0\n=>\t../local\t\n",
        );
        assert_eq!(
            info.deps,
            vec![
                ("github.com/fork/net".to_string(), "v0.2.0".to_string()),
                ("ex.com/local".to_string(), "v1.0.0".to_string()),
            ]
        );
        assert_eq!(info.main, Some(("ex.com/app".into(), "v1.0.0".into())));
    }

    #[test]
    fn big_binaries_are_read_by_offset() {
        let data = corpus("lang/go/trivy-test.elf");
        let padded = [data.clone(), vec![0u8; 6 << 20]].concat();
        let mut spool = clair_layer::spool::Spool::default();
        let mut r = &padded[..];
        let big = spool
            .copy(vec![MAGIC.to_vec()], |b| std::io::Read::read(&mut r, b))
            .unwrap()
            .expect("the marker is found while spooling");
        let want = build_info(&data).unwrap();
        assert_eq!(build_info_of(Source::Large(&big)), Some(want.clone()));
        // Without section headers the header is found by searching the spooled file.
        let mut stripped = padded.clone();
        stripped[0x3c] = 0;
        stripped[0x3d] = 0;
        let mut r = &stripped[..];
        let big = spool
            .copy(vec![MAGIC.to_vec()], |b| std::io::Read::read(&mut r, b))
            .unwrap()
            .unwrap();
        assert_eq!(build_info_of(Source::Large(&big)), Some(want));
    }

    #[test]
    fn stdlib_versions() {
        for (go, want) in [
            ("go1.22.1", Some("1.22.1")),
            ("go1.21", Some("1.21.0")),
            ("go1.22rc1", Some("1.22.0-rc.1")),
            ("go1.20.3 X:boringcrypto", Some("1.20.3")),
            ("devel go1.23-abc", None),
            ("go", None),
            ("go1..2", None),
        ] {
            assert_eq!(stdlib_version(go).as_deref(), want, "{go}");
        }
    }

    #[test]
    fn not_go_binaries() {
        assert!(build_info(b"").is_none());
        assert!(build_info(b"\x7fELF").is_none());
        let rust = corpus("lang/rust/scalibr-no_deps");
        assert!(build_info(&rust).is_none());
        // A header whose strings point nowhere.
        let mut fake = corpus("lang/go/trivy-test.elf");
        if let Some(at) = memchr::memmem::find(&fake, MAGIC) {
            for b in &mut fake[at + 16..at + 32] {
                *b = 0xff;
            }
        }
        assert!(build_info(&fake).is_none());
    }
}
