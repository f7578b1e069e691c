//! Test-only helpers shared by the workspace's test suites.
//!
//! - the shared data directory (`../shared/` beside the project root) and its EXPECTED.md;
//! - ground-truth package lists of the shared images;
//! - builders for small tar layers and OCI layouts, for tests of malformed input;
//! - index reports of language packages, for matching tests without an image;
//! - a generator and a tool runner for differential tests against real tools;
//! - processes a test starts (killed on drop, waited for until ready) and a local registry.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

pub mod certs;
pub mod hostile;
pub mod http;
pub mod keyregistry;
pub mod moto;
pub mod oci;
pub mod oracle;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod process;
pub mod registry;
pub mod reports;
pub mod tar;

use std::path::PathBuf;

/// The hand-written Debian Security Tracker document for bookworm the matching tests use
/// (`clair-ecosystems/testdata/match/debian-bookworm-tracker.json`).
pub fn debian_tracker() -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../clair-ecosystems/testdata/match/debian-bookworm-tracker.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Send SIGTERM to `child` and wait up to `within` for it to exit: its status and how long it
/// took after the signal, or `None` when it is still running (it is then left running).
pub fn sigterm(
    child: &mut std::process::Child,
    within: std::time::Duration,
) -> Option<(std::process::ExitStatus, std::time::Duration)> {
    let sent = std::time::Instant::now();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -TERM {}", child.id());
    while sent.elapsed() < within {
        if let Some(st) = child.try_wait().expect("waiting for the child") {
            return Some((st, sent.elapsed()));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// The shared data directory beside the workspace root (`../shared`).
///
/// Panics with a clear message when it is missing: tests must not silently pass without it.
pub fn shared() -> PathBuf {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = ws.join("../shared");
    assert!(
        p.join("corpus/EXPECTED.md").is_file(),
        "shared test data not found at {} (it lives beside the project root)",
        p.display()
    );
    p
}

/// A TCP port free on 127.0.0.1 a moment ago, for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// `../shared/corpus/<rel>`.
pub fn corpus(rel: &str) -> PathBuf {
    shared().join("corpus").join(rel)
}

/// `../shared/images/<rel>`.
pub fn images(rel: &str) -> PathBuf {
    shared().join("images").join(rel)
}

/// The example `name` `version` pairs EXPECTED.md lists for a file (the row whose first cell is
/// `` `rel` ``).
pub fn expected_examples(rel: &str) -> Vec<(String, String)> {
    let md = std::fs::read_to_string(shared().join("corpus/EXPECTED.md")).expect("EXPECTED.md");
    let key = format!("| `{rel}` |");
    let Some(row) = md.lines().find(|l| l.starts_with(&key)) else {
        return Vec::new();
    };
    let cells: Vec<&str> = row.split(" | ").collect();
    // | file | format | records | installed | examples | how verified |
    let examples = cells.get(4).copied().unwrap_or("");
    let ticks: Vec<&str> = examples.split('`').skip(1).step_by(2).collect();
    ticks
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].to_string(), c[1].to_string()))
        .collect()
}

/// One row of an image's ground truth (`truth/NAME.dpkg.tsv`, from dpkg-query).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TruthRow {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture.
    pub arch: String,
    /// Source package name.
    pub source: String,
    /// Source version.
    pub source_version: String,
}

/// The installed (`ii`) packages of an image's ground truth file, sorted.
pub fn truth_installed(path: &std::path::Path) -> Vec<TruthRow> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<TruthRow> = text
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() >= 6 && c[3] == "ii").then(|| TruthRow {
                name: c[0].into(),
                version: c[1].into(),
                arch: c[2].into(),
                source: c[4].into(),
                source_version: c[5].into(),
            })
        })
        .collect();
    rows.sort();
    rows
}

/// Names of packages in a truth file with the given status abbreviation (`rc`, ...).
pub fn truth_with_status(path: &std::path::Path, status: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() >= 4 && c[3] == status).then(|| c[0].to_string())
        })
        .collect()
}

/// The string field `field` of every value of the JSON object `obj` (an index report's
/// `packages`, a vulnerability report's `vulnerabilities`), in the object's order; panics when
/// `obj` is not an object or a field is not a string.
pub fn fields<'a>(
    obj: &'a serde_json::Value,
    field: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    obj.as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {obj}"))
        .values()
        .map(move |v| {
            v[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} is not a string in {v}"))
        })
}

/// The layer digests (`sha256:...`) of the image manifest `manifest` (`sha256:HEX` or `HEX`) in
/// the OCI layout ../shared/images/oci.
pub fn image_layers(manifest: &str) -> Vec<String> {
    let hex = manifest.strip_prefix("sha256:").unwrap_or(manifest);
    let path = images("oci").join("blobs/sha256").join(hex);
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    m["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no layers", path.display()))
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// For each `scenario => sqlite_test, postgres_test;`, two tests: `scenario(SQLITE)`, and
/// `scenario(db)` when `POSTGRES` (an `Option`) gives one (a PostgreSQL cluster could be started).
///
/// ```text
/// clair_test::on_both_databases! {
///     sqlite: sqlite(), postgres: postgres();
///     flow => flow_sqlite, flow_postgres;
/// }
/// ```
#[macro_export]
macro_rules! on_both_databases {
    (sqlite: $s:expr, postgres: $p:expr; $($run:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[test]
        fn $sqlite() {
            $run($s);
        }

        #[test]
        fn $postgres() {
            if let Some(db) = $p {
                $run(db);
            }
        }
    )*};
}

/// The element of the JSON array `arr` whose `key` is `value`; panics when there is none.
pub fn find<'a>(arr: &'a serde_json::Value, key: &str, value: &str) -> &'a serde_json::Value {
    arr.as_array()
        .unwrap_or_else(|| panic!("not a JSON array: {arr}"))
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value:?} in {arr}"))
}
