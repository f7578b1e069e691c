//! OSV matching against the specification evaluated by each ecosystem's reference version
//! library: thousands of generated records (events in any order, `introduced: "0"`,
//! `last_affected`, `limit`, `versions` lists, `GIT` ranges, versions the library rejects) and
//! installed versions around them (pre-releases, post/dev/local releases, epochs, build
//! metadata, `1.0` against `1.0.0`, differently spelled package names).
//!
//! clair-rs side: the records as OSV JSON through the real parser (`osv::parse_osv_file`), then
//! the matcher (`MatchIndex`) over an index report of the installed packages. Oracle side:
//! `tests/osv_oracle/` (see its README) over Python `packaging`, node `semver`, RubyGems'
//! `Gem::Version`, Maven's `ComparableVersion`, Go's `x/mod/semver`, and Cargo's `semver`
//! crate in this file. Every answer must agree. `scripts/test.sh` installs the tools; with
//! `CI=true` a missing one fails the test instead of skipping it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clair_ecosystems::{EcosystemNamespaces, osv};
use clair_matcher::matching::{MatchIndex, Verdict};
use clair_matcher::{FetchedFile, Record, Validators};
use clair_test::oracle::{Rng, run, tool_missing, works};
use clair_version::Scheme;

/// A small number, often 0 or 1 (so versions collide).
fn num(r: &mut Rng) -> u32 {
    [0, 0, 1, 1, 2, 3, 10][r.below(7)]
}

// ---- versions, per ecosystem: a structured version and its spellings ------------------------

/// A version drawn for a record: spelled anew each time it is used, so events, listed
/// versions and installed versions write the same version differently.
type Spell = Box<dyn Fn(&mut Rng) -> String>;

fn release(r: &mut Rng, min: usize, max: usize) -> Vec<u32> {
    (0..min + r.below(max - min + 1)).map(|_| num(r)).collect()
}

/// `1.2` as `1.2`, `1.2.0` or `1.2.0.0` (equal in PEP 440, Maven and RubyGems).
fn padded(r: &mut Rng, rel: &[u32]) -> String {
    let mut parts: Vec<String> = rel.iter().map(u32::to_string).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p == "0") && r.chance(30) {
        parts.pop();
    }
    for _ in 0..r.below(3) {
        if r.chance(30) {
            parts.push("0".into());
        }
    }
    parts.join(".")
}

fn pypi_version(r: &mut Rng) -> Spell {
    let epoch = r.chance(8).then(|| 1 + r.below(2));
    let rel = release(r, 1, 3);
    let pre = r
        .chance(30)
        .then(|| (r.pick(&["a", "b", "rc"]), r.below(3)));
    let post = r.chance(15).then(|| r.below(3));
    let dev = r.chance(15).then(|| r.below(2));
    let local = r
        .chance(10)
        .then(|| r.pick(&["ubuntu.1", "abc", "1", "deb.2"]));
    Box::new(move |r: &mut Rng| {
        let mut s = String::new();
        if r.chance(5) {
            s.push('v');
        }
        if let Some(e) = epoch {
            s.push_str(&format!("{e}!"));
        }
        s.push_str(&padded(r, &rel));
        if let Some((kind, n)) = pre {
            let spelled = match kind {
                "a" => r.pick(&["a", "a", "alpha", "A"]),
                "b" => r.pick(&["b", "b", "beta"]),
                _ => r.pick(&["rc", "rc", "c", "pre", "RC"]),
            };
            s.push_str(&format!("{}{spelled}{n}", r.pick(&["", "", ".", "-"])));
        }
        if let Some(n) = post {
            if r.chance(25) && n > 0 {
                s.push_str(&format!("-{n}"));
            } else {
                s.push_str(&format!(
                    "{}{}{n}",
                    r.pick(&[".", ".", "-", ""]),
                    r.pick(&["post", "post", "rev", "r"])
                ));
            }
        }
        if let Some(n) = dev {
            s.push_str(&format!("{}dev{n}", r.pick(&[".", ".", "-", ""])));
        }
        if let Some(l) = local {
            s.push_str(&format!("+{l}"));
        }
        s
    })
}

fn semver_version(r: &mut Rng, v_prefix: bool) -> Spell {
    let (major, minor, patch) = (num(r), num(r), num(r));
    let pre: Vec<String> = if r.chance(35) {
        let mut ids = vec![
            r.pick(&["alpha", "beta", "rc", "0", "1", "pre", "alpha-x"])
                .to_string(),
        ];
        for _ in 0..r.below(3) {
            ids.push(r.pick(&["1", "2", "10", "x", "0"]).to_string());
        }
        ids
    } else {
        Vec::new()
    };
    Box::new(move |r: &mut Rng| {
        let mut s = String::new();
        if v_prefix && r.chance(5) {
            s.push('v');
        }
        s.push_str(&format!("{major}.{minor}.{patch}"));
        if !pre.is_empty() {
            s.push('-');
            s.push_str(&pre.join("."));
        }
        // Build metadata: ignored by precedence, so these spellings are one version.
        if r.chance(20) {
            s.push_str(r.pick(&["+build.5", "+sha.abc123", "+001", "+x-y"]));
        }
        s
    })
}

fn go_version(r: &mut Rng) -> Spell {
    let (major, minor, patch) = (num(r), num(r), num(r));
    let pre = if r.chance(15) {
        // A pseudo-version: a prerelease of the next patch.
        Some(format!(
            "0.{}-{:012x}",
            r.pick(&["20220314234659", "20230101000000", "20191109021931"]),
            r.next_u64() & 0xffff_ffff_ffff
        ))
    } else if r.chance(25) {
        Some(r.pick(&["rc.1", "rc.2", "pre", "beta.1", "0"]).to_string())
    } else {
        None
    };
    Box::new(move |r: &mut Rng| {
        let mut s = format!("{major}.{minor}.{patch}");
        if let Some(p) = &pre {
            s.push('-');
            s.push_str(p);
        }
        if major >= 2 && pre.is_none() && r.chance(30) {
            s.push_str("+incompatible");
        }
        s
    })
}

fn maven_version(r: &mut Rng) -> Spell {
    let rel = release(r, 1, 3);
    let qualifier = r.chance(40).then(|| {
        r.pick(&[
            "alpha-1", "alpha-2", "beta", "beta-3", "M1", "m2", "RC1", "rc-2", "cr1", "SNAPSHOT",
            "Final", "RELEASE", "GA", "ga", "sp1", "jre", "android", "1", "2", "a1", "b2",
        ])
    });
    Box::new(move |r: &mut Rng| {
        let mut s = padded(r, &rel);
        if let Some(q) = qualifier {
            s.push_str(r.pick(&["-", "-", "."]));
            s.push_str(q);
        }
        s
    })
}

fn gem_version(r: &mut Rng) -> Spell {
    let rel = release(r, 1, 3);
    let pre = r.chance(30).then(|| {
        (
            r.pick(&["pre", "rc", "beta", "alpha", "a", "b"]),
            r.below(3),
        )
    });
    Box::new(move |r: &mut Rng| {
        let mut s = padded(r, &rel);
        if let Some((p, n)) = pre {
            s.push_str(&format!(".{p}"));
            if n > 0 {
                s.push_str(&format!("{}{n}", r.pick(&["", "."])));
            }
        }
        s
    })
}

/// An ecosystem under test.
struct Eco {
    osv: &'static str,
    namespace: &'static str,
    scheme: Scheme,
    version: fn(&mut Rng) -> Spell,
    /// Strings its library rejects (some events and listed versions).
    invalid: &'static [&'static str],
    /// (record's spelling, an installed spelling of the same package) for record `i`.
    name: fn(&mut Rng, usize) -> (String, String),
    seed: u64,
}

/// Ecosystems other than PyPI compare names as written: one of `names`, suffixed with `i`, as
/// both spellings.
fn same_name_from(r: &mut Rng, i: usize, names: &[&str]) -> (String, String) {
    let base = format!("{}{i}", r.pick(names));
    (base.clone(), base)
}

const ECOSYSTEMS: [Eco; 6] = [
    Eco {
        osv: "PyPI",
        namespace: "pypi",
        scheme: Scheme::Pep440,
        version: pypi_version,
        invalid: &["1.0-foo-bar", "latest", "1..0", "2.0.x"],
        name: |r, i| {
            // PEP 503: runs of -_. are one -, case is ignored.
            let record = format!(
                "{}{i}",
                r.pick(&["Flask_Login", "flask-login", "Flask.Login", "FLASK--login"])
            );
            let installed = format!(
                "{}{i}",
                r.pick(&["flask-login", "Flask_login", "flask.login", "FlAsK-LoGiN"])
            );
            (record, installed)
        },
        seed: 0x9e1,
    },
    Eco {
        osv: "npm",
        namespace: "npm",
        scheme: Scheme::Semver,
        version: |r| semver_version(r, true),
        invalid: &["1.2.3-", "x.y.z", "1.2.3.4", "latest"],
        name: |r, i| same_name_from(r, i, &["lodash", "@scope/pkg", "left-pad"]),
        seed: 0x9e2,
    },
    Eco {
        osv: "Go",
        namespace: "go",
        scheme: Scheme::Go,
        version: go_version,
        invalid: &["1.2.3.4", "01.2.3", "latest", "1.2-pre"],
        name: |r, i| same_name_from(r, i, &["golang.org/x/net/v", "example.com/Mod"]),
        seed: 0x9e3,
    },
    Eco {
        osv: "Maven",
        namespace: "maven",
        scheme: Scheme::Maven,
        version: maven_version,
        invalid: &[],
        name: |r, i| {
            same_name_from(
                r,
                i,
                &["org.apache.logging.log4j:log4j-core", "com.example:lib"],
            )
        },
        seed: 0x9e4,
    },
    Eco {
        osv: "crates.io",
        namespace: "crates.io",
        scheme: Scheme::Semver,
        version: |r| semver_version(r, false),
        invalid: &["1.2.3-", "x.y.z", "1.2.3.4", "latest"],
        name: |r, i| same_name_from(r, i, &["tokio", "serde_json", "ring-"]),
        seed: 0x9e5,
    },
    Eco {
        osv: "RubyGems",
        namespace: "rubygems",
        scheme: Scheme::Gem,
        version: gem_version,
        invalid: &["1.0.", "1..0", "latest!", "1.0-"],
        name: |r, i| same_name_from(r, i, &["rails", "Nokogiri", "rack-"]),
        seed: 0x9e6,
    },
];

// ---- cases ---------------------------------------------------------------------------------

#[derive(Debug)]
struct Affected {
    name: String,
    ranges: Vec<(String, Vec<(&'static str, String)>)>,
    versions: Vec<String>,
}

#[derive(Debug)]
struct Case {
    id: String,
    affected: Vec<Affected>,
    /// (package name, installed version)
    queries: Vec<(String, String)>,
}

fn case(eco: &Eco, r: &mut Rng, i: usize) -> Case {
    let pool: Vec<Spell> = (0..3 + r.below(5)).map(|_| (eco.version)(r)).collect();
    let spell = |r: &mut Rng| (pool[r.below(pool.len())])(r);
    let (record_name, installed_name) = (eco.name)(r, i);
    let mut affected = Vec::new();
    for a in 0..(if r.chance(15) { 2 } else { 1 }) {
        let name = if a == 1 && r.chance(50) {
            format!("{record_name}-other")
        } else {
            record_name.clone()
        };
        let mut ranges = Vec::new();
        for _ in 0..1 + usize::from(r.chance(25)) {
            let kind = match r.below(20) {
                0..=2 => "GIT",
                3..=5 => "SEMVER",
                _ => "ECOSYSTEM",
            };
            let mut events = Vec::new();
            for _ in 0..1 + r.below(6) {
                let k = match r.below(20) {
                    0..=7 => "introduced",
                    8..=14 => "fixed",
                    15..=18 => "last_affected",
                    _ => "limit",
                };
                let v = if kind == "GIT" {
                    format!("{:040x}", r.next_u64())
                } else if k == "introduced" && r.chance(30) {
                    "0".to_string()
                } else if k == "limit" && r.chance(40) {
                    "*".to_string()
                } else if !eco.invalid.is_empty() && r.chance(2) {
                    r.pick(eco.invalid).to_string()
                } else {
                    spell(r)
                };
                events.push((k, v));
            }
            ranges.push((kind.to_string(), events));
        }
        let mut versions = Vec::new();
        if r.chance(40) {
            for _ in 0..1 + r.below(6) {
                versions.push(if !eco.invalid.is_empty() && r.chance(5) {
                    r.pick(eco.invalid).to_string()
                } else if r.chance(80) {
                    spell(r)
                } else {
                    (eco.version)(r)(r)
                });
            }
        }
        affected.push(Affected {
            name,
            ranges,
            versions,
        });
    }
    let mut queries = Vec::new();
    while queries.len() < 12 {
        let version = if r.chance(80) {
            spell(r)
        } else {
            (eco.version)(r)(r)
        };
        // Installed versions come from package metadata; the library reads them.
        if eco.scheme.validate(&version).is_err() {
            continue;
        }
        let name = match r.below(20) {
            0 => format!("{installed_name}x"),
            1 => format!("{record_name}-other"),
            _ => installed_name.clone(),
        };
        queries.push((name, version));
    }
    Case {
        id: format!("OSV-TEST-{i}"),
        affected,
        queries,
    }
}

fn osv_json(eco: &Eco, cases: &[Case]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            let affected: Vec<serde_json::Value> = c
                .affected
                .iter()
                .map(|a| {
                    let ranges: Vec<serde_json::Value> = a
                        .ranges
                        .iter()
                        .map(|(kind, events)| {
                            let events: Vec<serde_json::Value> = events
                                .iter()
                                .map(|(k, v)| serde_json::json!({ *k: v }))
                                .collect();
                            serde_json::json!({"type": kind, "events": events})
                        })
                        .collect();
                    serde_json::json!({
                        "package": {"ecosystem": eco.osv, "name": a.name},
                        "ranges": ranges,
                        "versions": a.versions,
                    })
                })
                .collect();
            serde_json::json!({"id": c.id, "summary": "generated", "affected": affected})
        })
        .collect();
    serde_json::Value::Array(records)
}

/// The oracles' input (see `tests/osv_oracle/README.md`).
fn oracle_input(cases: &[Case]) -> String {
    let mut s = String::new();
    for c in cases {
        s.push_str(&format!("C\t{}\n", c.id));
        for a in &c.affected {
            s.push_str(&format!("A\t{}\n", a.name));
            for (kind, events) in &a.ranges {
                s.push_str(&format!("T\t{kind}\n"));
                for (k, v) in events {
                    s.push_str(&format!("E\t{k}\t{v}\n"));
                }
            }
            for v in &a.versions {
                s.push_str(&format!("V\t{v}\n"));
            }
        }
        for (name, version) in &c.queries {
            s.push_str(&format!("Q\t{name}\t{version}\n"));
        }
    }
    s
}

/// clair-rs' answers: `1` affected, `0` not, `u` undecided, per query in order.
fn clair_answers(eco: &Eco, cases: &[Case]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.json");
    std::fs::write(&path, serde_json::to_vec(&osv_json(eco, cases)).unwrap()).unwrap();
    let file = FetchedFile {
        name: "records.json".into(),
        url: format!("file://{}", path.display()),
        path,
        validators: Validators::default(),
    };
    let mut records = Vec::new();
    osv::parse_osv_file("osv", &file, &mut |r| {
        if let Record::Vulnerability(v) = r {
            records.push(v);
        }
        Ok(())
    })
    .unwrap();
    let index = MatchIndex::new(records, String::new());
    let mut owner = Vec::new();
    let mut packages = Vec::new();
    for c in cases {
        for (name, version) in &c.queries {
            owner.push(c.id.as_str());
            packages.push((name.as_str(), version.as_str()));
        }
    }
    let report = clair_test::reports::language_report(eco.namespace, &packages);
    let (candidates, _) = index.candidates(&report, &EcosystemNamespaces);
    let mut verdicts: BTreeMap<usize, Vec<Verdict>> = BTreeMap::new();
    for c in candidates {
        let n: usize = c.package_id.parse().unwrap();
        if c.record.name == owner[n] {
            verdicts.entry(n).or_default().push(c.decision.verdict);
        }
    }
    (0..packages.len())
        .map(|n| {
            let v = verdicts.get(&n).map(Vec::as_slice).unwrap_or(&[]);
            if v.contains(&Verdict::Affected) {
                "1"
            } else if v.contains(&Verdict::Undecided) {
                "u"
            } else {
                "0"
            }
            .to_string()
        })
        .collect()
}

// ---- the oracles ---------------------------------------------------------------------------

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/osv_oracle")
}

// ---- comparison ----------------------------------------------------------------------------

fn differential(
    eco: &Eco,
    records: usize,
    oracle: impl FnOnce(&[Case], &str) -> Option<Vec<String>>,
) {
    let mut r = Rng(eco.seed);
    let cases: Vec<Case> = (0..records).map(|i| case(eco, &mut r, i)).collect();
    let input = oracle_input(&cases);
    let Some(want) = oracle(&cases, &input) else {
        return;
    };
    let got = clair_answers(eco, &cases);
    let questions: Vec<(&Case, &(String, String))> = cases
        .iter()
        .flat_map(|c| c.queries.iter().map(move |q| (c, q)))
        .collect();
    assert_eq!(
        want.len(),
        questions.len(),
        "the oracle answered every question"
    );
    let mut bad = Vec::new();
    for (((c, (name, version)), w), g) in questions.iter().zip(&want).zip(&got) {
        if w != g {
            bad.push(format!(
                "{} {name} {version}: clair-rs {g}, reference {w}\n  {:?}",
                c.id, c.affected
            ));
        }
    }
    let count = |x: &str| want.iter().filter(|a| *a == x).count();
    eprintln!(
        "{}: {} records, {} questions: {} affected, {} not affected, {} undecided",
        eco.osv,
        cases.len(),
        want.len(),
        count("1"),
        count("0"),
        count("u")
    );
    // The generator must exercise every outcome, or agreement proves little.
    assert!(
        count("1") * 10 >= want.len(),
        "{}: too few affected answers",
        eco.osv
    );
    assert!(
        count("0") * 10 >= want.len(),
        "{}: too few unaffected answers",
        eco.osv
    );
    if !eco.invalid.is_empty() {
        assert!(count("u") > 0, "{}: no undecided answer", eco.osv);
    }
    assert!(
        bad.is_empty(),
        "{}: {} of {} answers differ from the reference library:\n{}",
        eco.osv,
        bad.len(),
        want.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Records per ecosystem (12 questions each).
const RECORDS: usize = 400;

fn eco(name: &str) -> &'static Eco {
    ECOSYSTEMS.iter().find(|e| e.osv == name).unwrap()
}

#[test]
fn pypi_agrees_with_packaging() {
    differential(eco("PyPI"), RECORDS, |_, input| {
        let py = ["/usr/bin/python3", "python3"]
            .into_iter()
            .find(|p| works(p, &["-c", "import packaging.version, packaging.utils"], &[]));
        let Some(py) = py else {
            tool_missing("python3-packaging", "no python3 can import packaging");
            return None;
        };
        let script = oracle_dir().join("oracle.py");
        Some(run(py, &[script.to_str().unwrap()], &[], input).unwrap_or_else(|e| panic!("{e}")))
    });
}

/// Node's module path: Debian's node-semver lives in /usr/share/nodejs.
fn node_env() -> Vec<(&'static str, String)> {
    let mut path = std::env::var("NODE_PATH").unwrap_or_default();
    if !path.is_empty() {
        path.push(':');
    }
    path.push_str("/usr/share/nodejs:/usr/lib/nodejs");
    vec![("NODE_PATH", path)]
}

#[test]
fn npm_agrees_with_node_semver() {
    differential(eco("npm"), RECORDS, |_, input| {
        let env = node_env();
        if !works("node", &["-e", "require('semver')"], &env) {
            tool_missing(
                "node with semver",
                "node cannot require('semver') (Debian's node-semver)",
            );
            return None;
        }
        let script = oracle_dir().join("oracle.js");
        Some(
            run("node", &[script.to_str().unwrap()], &env, input).unwrap_or_else(|e| panic!("{e}")),
        )
    });
}

#[test]
fn rubygems_agrees_with_gem_version() {
    differential(eco("RubyGems"), RECORDS, |_, input| {
        if !works("ruby", &["-e", "Gem::Version.new('1')"], &[]) {
            tool_missing("ruby", "no ruby with RubyGems");
            return None;
        }
        let script = oracle_dir().join("oracle.rb");
        Some(run("ruby", &[script.to_str().unwrap()], &[], input).unwrap_or_else(|e| panic!("{e}")))
    });
}

/// Debian's maven-artifact jar (libmaven3-core-java), which holds `ComparableVersion`.
fn maven_artifact_jar() -> Option<PathBuf> {
    let mut jars: Vec<PathBuf> = std::fs::read_dir("/usr/share/java")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("maven-artifact") && n.ends_with(".jar"))
        })
        .collect();
    jars.sort();
    jars.pop()
}

#[test]
fn maven_agrees_with_comparable_version() {
    differential(eco("Maven"), RECORDS, |_, input| {
        let Some(jar) = maven_artifact_jar().filter(|_| works("java", &["-version"], &[])) else {
            tool_missing(
                "java and maven-artifact",
                "no java or /usr/share/java/maven-artifact*.jar",
            );
            return None;
        };
        let script = oracle_dir().join("Oracle.java");
        Some(
            run(
                "java",
                &["-cp", jar.to_str().unwrap(), script.to_str().unwrap()],
                &[],
                input,
            )
            .unwrap_or_else(|e| panic!("{e}")),
        )
    });
}

#[test]
fn go_agrees_with_x_mod_semver() {
    differential(eco("Go"), RECORDS, |_, input| {
        // Debian's golang-golang-x-mod-dev, in GOPATH mode.
        let gopath = "/usr/share/gocode";
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("osv-oracle-gocache");
        let env = [
            ("GOPATH", gopath.to_string()),
            ("GO111MODULE", "off".to_string()),
            ("GOCACHE", cache.display().to_string()),
            ("GOFLAGS", String::new()),
        ];
        if !works("go", &["version"], &env)
            || !Path::new(gopath)
                .join("src/golang.org/x/mod/semver")
                .is_dir()
        {
            tool_missing(
                "go and x/mod",
                "no go toolchain or no /usr/share/gocode/src/golang.org/x/mod",
            );
            return None;
        }
        let script = oracle_dir().join("oracle.go");
        Some(
            run("go", &["run", script.to_str().unwrap()], &env, input)
                .unwrap_or_else(|e| panic!("{e}")),
        )
    });
}

/// The specification's algorithm over Cargo's `semver` crate (SemVer precedence: build
/// metadata ignored).
mod cargo_oracle {
    use super::*;

    struct Undecided;

    fn parse(v: &str) -> Result<semver::Version, Undecided> {
        semver::Version::parse(v).map_err(|_| Undecided)
    }

    fn cmp(a: &str, b: &str) -> Result<Ordering, Undecided> {
        Ok(parse(a)?.cmp_precedence(&parse(b)?))
    }

    fn included(v: &str, events: &[(&'static str, String)]) -> Result<bool, Undecided> {
        let limits: Vec<&String> = events
            .iter()
            .filter(|e| e.0 == "limit")
            .map(|e| &e.1)
            .collect();
        if !limits.is_empty() {
            let mut below = false;
            for l in limits {
                if l.contains('*') || cmp(v, l)? == Ordering::Less {
                    below = true;
                    break;
                }
            }
            if !below {
                return Ok(false);
            }
        }
        let origin = |e: &(&str, String)| e.0 == "introduced" && e.1 == "0";
        let mut rest: Vec<&(&'static str, String)> =
            events.iter().filter(|e| e.0 != "limit").collect();
        for e in &rest {
            if !origin(e) {
                parse(&e.1)?;
            }
        }
        rest.sort_by(|a, b| match (origin(a), origin(b)) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => cmp(&a.1, &b.1).unwrap_or(Ordering::Equal),
        });
        let mut vulnerable = false;
        for e in rest {
            // Every comparison is made, as the specification's walk makes it.
            match e.0 {
                "introduced" => vulnerable |= origin(e) || cmp(v, &e.1)? != Ordering::Less,
                "fixed" => vulnerable &= cmp(v, &e.1)? == Ordering::Less,
                "last_affected" => vulnerable &= cmp(v, &e.1)? != Ordering::Greater,
                _ => {}
            }
        }
        Ok(vulnerable)
    }

    pub fn answer(c: &Case, name: &str, v: &str) -> &'static str {
        let mut undecided = false;
        for a in c.affected.iter().filter(|a| a.name == name) {
            if a.versions
                .iter()
                .any(|x| v == x || cmp(v, x).is_ok_and(|o| o == Ordering::Equal))
            {
                return "1";
            }
            for (kind, events) in &a.ranges {
                if kind != "ECOSYSTEM" && kind != "SEMVER" {
                    continue;
                }
                match included(v, events) {
                    Ok(true) => return "1",
                    Ok(false) => {}
                    Err(Undecided) => undecided = true,
                }
            }
        }
        if undecided { "u" } else { "0" }
    }
}

#[test]
fn crates_io_agrees_with_cargo_semver() {
    differential(eco("crates.io"), RECORDS, |cases, _| {
        Some(
            cases
                .iter()
                .flat_map(|c| {
                    c.queries
                        .iter()
                        .map(move |(n, v)| cargo_oracle::answer(c, n, v).to_string())
                })
                .collect(),
        )
    });
}

/// The generators' invalid strings are invalid for clair-rs too (else a difference there would
/// be about parsing leniency, not about evaluation).
#[test]
fn invalid_samples_are_invalid_here() {
    for e in &ECOSYSTEMS {
        for v in e.invalid {
            assert!(e.scheme.validate(v).is_err(), "{}: {v:?}", e.osv);
        }
    }
}
