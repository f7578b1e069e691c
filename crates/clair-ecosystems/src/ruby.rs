//! Ruby gems installed in an image: RubyGems writes one `specifications/NAME-VERSION.gemspec`
//! per installed gem (`s.name = "rake".freeze`, `s.version = "13.0.3"`).
//!
//! The gemspec is Ruby code; only the literal assignments RubyGems itself writes are read, never
//! evaluated. `Gemfile.lock` describes a source tree, not what is installed, and is not read.

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView, PathPattern};
use clair_types::PackageDbKind;

use crate::scanner::{DbScanner, scan_metadata_files};

/// Largest gemspec read.
const MAX_GEMSPEC: u64 = 1 << 20;

/// Finds installed gems.
pub const SCANNER: DbScanner = DbScanner::new("gem", "1", PackageDbKind::Ruby, select, scan);

fn is_spec(path: &str) -> bool {
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    name.ends_with(".gemspec")
        && (parent == "specifications" || parent.ends_with("/specifications"))
}

fn select(selector: &mut FileSelector) {
    selector.pattern(PathPattern {
        name_suffix: Some(".gemspec".into()),
        parent_suffix: Some("specifications".into()),
        max_size: MAX_GEMSPEC,
        ..PathPattern::default()
    });
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    let parse = |_: &str, data: &[u8]| parse_gemspec(data);
    scan_metadata_files(files, "gem", PackageDbKind::Ruby, is_spec, parse)
}

/// `name` and `version` of a gemspec RubyGems wrote.
pub fn parse_gemspec(data: &[u8]) -> Result<(String, String), String> {
    let text = String::from_utf8_lossy(data);
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        // `s.name = ...`, `spec.version = ...` (not `==`, not `s.name_x =`).
        let Some((_, attr)) = lhs.trim().rsplit_once('.') else {
            continue;
        };
        if rhs.starts_with('=') {
            continue;
        }
        match attr {
            "name" if name.is_none() => name = literal(rhs),
            "version" if version.is_none() => version = literal(rhs),
            _ => {}
        }
    }
    match (name, version) {
        (Some(n), Some(v)) => Ok((n, v)),
        (None, _) => Err("no literal s.name".into()),
        (_, None) => Err("no literal s.version".into()),
    }
}

/// The first string literal of a Ruby expression: `"x"`, `'x'`, `%q{x}`, `%q(x)`; also inside
/// `Gem::Version.new("x")`.
fn literal(expr: &str) -> Option<String> {
    let e = expr.trim();
    let (start, close) = match (e.find(['"', '\'']), e.find("%q")) {
        (Some(q), p) if p.is_none_or(|p| q < p) => (q + 1, e[q..].chars().next()?),
        (_, Some(p)) => {
            let open = e[p + 2..].chars().next()?;
            let close = match open {
                '{' => '}',
                '(' => ')',
                '[' => ']',
                '<' => '>',
                c => c,
            };
            (p + 2 + open.len_utf8(), close)
        }
        _ => return None,
    };
    let rest = e.get(start..)?;
    let end = rest.find(close)?;
    let v = rest[..end].trim();
    (!v.is_empty()).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_corpus::corpus_bytes as corpus;

    #[test]
    fn corpus_gemspecs() {
        assert_eq!(
            parse_gemspec(&corpus("lang/ruby/trivy-normal00.gemspec")),
            Ok(("rake".to_string(), "13.0.3".to_string()))
        );
        assert_eq!(
            parse_gemspec(&corpus("lang/ruby/trivy-multiple_licenses.gemspec")),
            Ok(("test-unit".to_string(), "3.3.7".to_string()))
        );
    }

    #[test]
    fn literal_forms() {
        assert_eq!(
            parse_gemspec(b"Gem::Specification.new do |s|\n  s.name = %q{rack}\n  s.version = Gem::Version.new('2.2.8')\n  s.name_suffix = \"x\"\nend\n"),
            Ok(("rack".to_string(), "2.2.8".to_string()))
        );
        assert!(parse_gemspec(b"s.name = NAME\ns.version = VERSION\n").is_err());
        assert!(parse_gemspec(b"if s.name == \"x\"\n").is_err());
        assert!(is_spec(
            "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.3.gemspec"
        ));
        assert!(!is_spec("src/rake.gemspec"));
    }
}
