//! Build information for `clair --version`: the commit, the cargo features, target and profile.
//!
//! The commit comes from, in order: the `CLAIR_BUILD_COMMIT` environment variable (container
//! builds and packagers, whose build context has no `.git`), `git` in the source tree, the
//! `build-commit` file that `git archive` fills in (`.gitattributes` marks it `export-subst`,
//! so a release tarball knows its commit), and otherwise "unknown". Nothing here fails the
//! build: a tarball without git builds as well as a checkout.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> std::io::Result<()> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    println!("cargo::rerun-if-env-changed=CLAIR_BUILD_COMMIT");
    println!("cargo::rerun-if-changed=build-commit");
    let (commit, date) = std::env::var("CLAIR_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| (c.trim().to_string(), String::new()))
        .or_else(|| from_git(&manifest_dir))
        .or_else(|| from_archive(&manifest_dir.join("build-commit")))
        .unwrap_or_else(|| ("unknown".into(), String::new()));

    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(|f| f.to_lowercase()))
        .filter(|f| f != "default")
        .map(|f| f.replace('_', "-"))
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(", ")
    };
    let rustc = Command::new(env("RUSTC"))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());

    let version = env("CARGO_PKG_VERSION");
    let short_commit: String = commit.chars().take(12).collect();
    let short = format!("{version} ({short_commit})");
    let dated = if date.is_empty() {
        commit.clone()
    } else {
        format!("{commit} ({date})")
    };
    let long = format!(
        "{version}\ncommit:   {dated}\nfeatures: {features}\ntarget:   {}\nprofile:  {}\nrustc:    {rustc}",
        env("TARGET"),
        env("PROFILE"),
    );
    let out = PathBuf::from(env("OUT_DIR")).join("version.rs");
    let code = format!(
        "/// `clair -V`: the version and the commit.\npub const SHORT: &str = {short:?};\n\
         /// `clair --version`: also the commit date, cargo features, target, profile and rustc.\n\
         pub const LONG: &str = {long:?};\n"
    );
    std::fs::write(out, code)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// The checked-out commit and its date, when this is a git checkout and git is installed.
/// Also tells cargo to run this script again when HEAD moves.
fn from_git(dir: &Path) -> Option<(String, String)> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--path-format=absolute", "--git-path", "HEAD"])?;
    println!("cargo::rerun-if-changed={head}");
    // The branch HEAD points at (a loose ref, else packed-refs) changes with each commit.
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        for p in [branch.as_str(), "packed-refs"] {
            if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", p]) {
                println!("cargo::rerun-if-changed={path}");
            }
        }
    }
    let line = git(&["log", "-1", "--format=%H %cs"])?;
    let (commit, date) = line.split_once(' ')?;
    Some((commit.to_string(), date.to_string()))
}

/// `build-commit` as `git archive` writes it ("<commit> <date>"); unsubstituted in a checkout.
fn from_archive(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| !l.starts_with('#'))?.trim();
    if line.is_empty() || line.contains("$Format") {
        return None;
    }
    let (commit, date) = line.split_once(' ').unwrap_or((line, ""));
    Some((commit.to_string(), date.to_string()))
}
