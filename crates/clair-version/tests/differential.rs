//! Differential tests: thousands of generated version pairs ordered by this crate and by the
//! real tools — `dpkg --compare-versions`, rpm's `labelCompare` (Debian's python3-rpm) and PyPA
//! `packaging` (python3-packaging). `scripts/test.sh` installs them; with `CI=true` a missing
//! tool fails the test instead of skipping it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;
use std::process::Command;

use clair_test::oracle::{Rng, run, tool_missing};
use clair_version::Scheme;

/// Build `n` pairs: half independent, half the first with a small edit, so comparisons
/// often run deep into shared prefixes.
fn pairs(
    rng: &mut Rng,
    n: usize,
    make: impl Fn(&mut Rng) -> String,
    edit: impl Fn(&mut Rng, &str) -> String,
) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let a = make(rng);
            let b = if rng.chance(50) {
                make(rng)
            } else {
                edit(rng, &a)
            };
            (a, b)
        })
        .collect()
}

/// Run `program args` with `input` on stdin; its stdout lines.
fn oracle(program: &str, args: &[&str], input: &str) -> Result<Vec<String>, String> {
    run(program, args, &[], input)
}

fn sign(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "-1",
        Ordering::Equal => "0",
        Ordering::Greater => "1",
    }
}

fn check(scheme: Scheme, pairs: &[(String, String)], answers: &[String]) {
    assert_eq!(answers.len(), pairs.len(), "the oracle answered every pair");
    let mut bad = Vec::new();
    for ((a, b), want) in pairs.iter().zip(answers) {
        let got = match scheme.compare(a, b) {
            Ok(o) => sign(o).to_string(),
            Err(_) => "invalid".to_string(),
        };
        if &got != want {
            bad.push(format!("{a:?} vs {b:?}: ours {got}, tool {want}"));
        }
    }
    let count = |x: &str| answers.iter().filter(|a| *a == x).count();
    eprintln!(
        "{scheme}: {} pairs: {} less, {} equal, {} greater, {} invalid",
        pairs.len(),
        count("-1"),
        count("0"),
        count("1"),
        count("invalid")
    );
    // The generators must exercise every outcome, or agreement proves little.
    for x in ["-1", "0", "1"] {
        assert!(
            count(x) * 200 >= pairs.len(),
            "{scheme}: too few {x} answers"
        );
    }
    assert!(
        bad.is_empty(),
        "{} of {} pairs disagree with the real tool:\n{}",
        bad.len(),
        pairs.len(),
        bad.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}

const DPKG_UP: &[&str] = &[
    "0", "1", "2", "9", "10", "01", "007", "a", "b", "z", "A", "Z", "~", "~~", "+", ".", "~rc",
    "~rc1", "+dfsg", "ubuntu", "really", ".", "1", "2",
];
const DPKG_REV: &[&str] = &[
    "0",
    "1",
    "2",
    "10",
    "a",
    "~",
    "+",
    ".",
    "deb12u1",
    "~deb11u2",
    "ubuntu0.1",
    "build1",
    "+b1",
];

fn dpkg_version(rng: &mut Rng) -> String {
    let mut s = String::new();
    if rng.chance(20) {
        s.push_str(rng.pick(&["0:", "1:", "2:", "10:"]));
    }
    s.push_str(rng.pick(&["0", "1", "2", "9", "10", "01"]));
    for _ in 0..rng.below(6) {
        s.push_str(rng.pick(DPKG_UP));
    }
    if rng.chance(70) {
        s.push('-');
        s.push_str(rng.pick(&["0", "1", "2", "10"]));
        for _ in 0..rng.below(4) {
            s.push_str(rng.pick(DPKG_REV));
        }
    }
    s
}

fn dpkg_edit(rng: &mut Rng, v: &str) -> String {
    let mut s = v.to_string();
    match rng.below(4) {
        // Grow the revision or upstream part.
        0 => s.push_str(rng.pick(&["~", "+", ".", "a", "1", "0", "~1", "+b1"])),
        // Change the last character.
        1 if s.len() > 2 => {
            s.pop();
            s.push_str(rng.pick(&["0", "1", "9", "a", "~", "+", "."]));
        }
        // Add or change the epoch.
        2 => {
            let body = dpkg_parts_without_epoch(&s);
            s = format!("{}{}", rng.pick(&["", "0:", "1:"]), body);
        }
        _ => s.push_str(rng.pick(DPKG_REV)),
    }
    if s.ends_with('-') {
        s.push('1');
    }
    s
}

fn dpkg_parts_without_epoch(s: &str) -> &str {
    match s.split_once(':') {
        Some((_, rest)) => rest,
        None => s,
    }
}

#[test]
fn dpkg_agrees_with_dpkg_compare_versions() {
    if Command::new("dpkg").arg("--version").output().is_err() {
        return tool_missing("dpkg", "the dpkg program is not installed");
    }
    let mut rng = Rng(0xd9c0_ffee);
    let pairs = pairs(&mut rng, 3000, dpkg_version, dpkg_edit);
    for (a, b) in &pairs {
        assert_eq!(
            clair_version::dpkg::validate(a),
            Ok(()),
            "generator made {a}"
        );
        assert_eq!(
            clair_version::dpkg::validate(b),
            Ok(()),
            "generator made {b}"
        );
    }
    // One shell, one dpkg per question: lt, then eq.
    let script = r#"while read -r a b; do
        if dpkg --compare-versions "$a" lt "$b"; then echo -1
        elif dpkg --compare-versions "$a" eq "$b"; then echo 0
        else echo 1; fi
    done"#;
    let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    let answers = oracle("bash", &["-c", script], &input).unwrap_or_else(|e| panic!("{e}"));
    check(Scheme::Dpkg, &pairs, &answers);
}

const RPM_V: &[&str] = &[
    "0", "1", "2", "10", "001", "99", "a", "b", "rc", "git", "Z", "~", "^", ".", "_", "+", "~rc1",
    "^post1", ".el9", "_2",
];

fn rpm_part(rng: &mut Rng, max: usize) -> String {
    let mut s = rng.pick(&["0", "1", "2", "10", "a", "1.0"]).to_string();
    for _ in 0..rng.below(max) {
        s.push_str(rng.pick(RPM_V));
    }
    s
}

fn rpm_version(rng: &mut Rng) -> String {
    let mut s = String::new();
    if rng.chance(20) {
        s.push_str(rng.pick(&["0:", "1:", "2:", "01:"]));
    }
    s.push_str(&rpm_part(rng, 6));
    if rng.chance(75) {
        s.push('-');
        s.push_str(&rpm_part(rng, 4));
    }
    s
}

fn rpm_edit(rng: &mut Rng, v: &str) -> String {
    let mut s = v.to_string();
    match rng.below(3) {
        0 => s.push_str(rng.pick(RPM_V)),
        1 if s.len() > 2 => {
            s.pop();
            s.push_str(rng.pick(RPM_V));
        }
        _ => s = format!("{}{s}", rng.pick(&["0:", "1:"])),
    }
    if s.ends_with('-') {
        s.push('1');
    }
    s
}

fn python(module: &str) -> Option<&'static str> {
    // Debian's python3 sees the Debian packages; a pyenv shim may not.
    let ok = |p: &str| {
        Command::new(p)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    ["/usr/bin/python3", "python3"].into_iter().find(|p| ok(p))
}

#[test]
fn rpm_agrees_with_rpm_label_compare() {
    let Some(py) = python("rpm") else {
        return tool_missing("python3-rpm", "no python3 can import rpm");
    };
    let mut rng = Rng(0x7e57_4e11);
    let pairs = pairs(&mut rng, 20_000, rpm_version, rpm_edit);
    let script = "import rpm, sys\nfor line in sys.stdin:\n    a, b = line.split()\n    print(rpm.labelCompare(a, b))\n";
    let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    let answers = oracle(py, &["-c", script], &input).unwrap_or_else(|e| panic!("{e}"));
    check(Scheme::Rpm, &pairs, &answers);
}

fn pep440_version(rng: &mut Rng) -> String {
    let mut s = String::new();
    if rng.chance(5) {
        s.push('v');
    }
    if rng.chance(10) {
        s.push_str(rng.pick(&["0!", "1!", "2!"]));
    }
    s.push_str(rng.pick(&["0", "1", "2", "10", "01"]));
    for _ in 0..rng.below(3) {
        s.push('.');
        s.push_str(rng.pick(&["0", "1", "2", "10", "00"]));
    }
    if rng.chance(40) {
        s.push_str(rng.pick(&["", ".", "-", "_"]));
        s.push_str(rng.pick(&["a", "alpha", "b", "beta", "c", "rc", "pre", "preview", "RC"]));
        s.push_str(rng.pick(&["", ".", "-", "_"]));
        s.push_str(rng.pick(&["", "0", "1", "2", "11"]));
    }
    if rng.chance(30) {
        if rng.chance(30) {
            s.push('-');
            s.push_str(rng.pick(&["0", "1", "3"]));
        } else {
            s.push_str(rng.pick(&["", ".", "-", "_"]));
            s.push_str(rng.pick(&["post", "rev", "r"]));
            s.push_str(rng.pick(&["", "0", "1", "2"]));
        }
    }
    if rng.chance(30) {
        s.push_str(rng.pick(&["", ".", "-", "_"]));
        s.push_str("dev");
        s.push_str(rng.pick(&["", "0", "1", "5"]));
    }
    if rng.chance(15) {
        s.push('+');
        s.push_str(rng.pick(&["local", "1", "abc.2", "ubuntu-1", "0", "a_b.3", "x..y", ""]));
    }
    if rng.chance(3) {
        s.push_str(rng.pick(&["x", ".", "-", " "]));
    }
    s
}

fn pep440_edit(rng: &mut Rng, v: &str) -> String {
    let suffix = rng.pick(&[".0", "a1", ".post1", ".dev0", "+1", "rc1", "-1", ".1", "0"]);
    if rng.chance(50) {
        format!("{v}{suffix}")
    } else {
        let mut s = v.to_string();
        s.pop();
        s.push_str(suffix);
        s
    }
}

#[test]
fn pep440_agrees_with_packaging() {
    let Some(py) = python("packaging.version") else {
        return tool_missing(
            "python3-packaging",
            "no python3 can import packaging.version",
        );
    };
    let mut rng = Rng(0x9e9440);
    let pairs = pairs(&mut rng, 10_000, pep440_version, pep440_edit);
    let script = r#"import sys
from packaging.version import Version, InvalidVersion
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        x, y = Version(a), Version(b)
    except InvalidVersion:
        print("invalid")
        continue
    print(-1 if x < y else (0 if x == y else 1))
"#;
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let answers = oracle(py, &["-c", script], &input).unwrap_or_else(|e| panic!("{e}"));
    check(Scheme::Pep440, &pairs, &answers);
}
