//! Upstream test vectors for every scheme (`testdata/*.txt`; each block names its source).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;

use clair_version::Scheme;

fn unquote(s: &str) -> &str {
    if s == "\"\"" { "" } else { s }
}

/// Run one vector file; returns how many checks it made.
fn run(scheme: Scheme) -> usize {
    let path = format!(
        "{}/testdata/{}.txt",
        env!("CARGO_MANIFEST_DIR"),
        scheme.name()
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut failures = Vec::new();
    let mut checks = 0;
    let mut ascending: Option<Vec<(usize, String)>> = None;
    let cmp = |a: &str, b: &str| scheme.compare(a, b);
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "@ascending" {
            ascending = Some(Vec::new());
            continue;
        }
        if line == "@end" {
            let list = ascending.take().unwrap_or_default();
            for i in 0..list.len() {
                for j in i + 1..list.len() {
                    let (a, b) = (&list[i].1, &list[j].1);
                    checks += 2;
                    if cmp(a, b) != Ok(Ordering::Less) || cmp(b, a) != Ok(Ordering::Greater) {
                        failures.push(format!(
                            "line {} vs {}: want {a} < {b}, got {:?} / reverse {:?}",
                            list[i].0,
                            list[j].0,
                            cmp(a, b),
                            cmp(b, a)
                        ));
                    }
                }
            }
            continue;
        }
        if let Some(list) = ascending.as_mut() {
            list.push((n, line.to_string()));
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["valid", v] => {
                checks += 1;
                if let Err(e) = scheme.validate(unquote(v)) {
                    failures.push(format!("line {n}: want {v} valid: {e}"));
                }
            }
            ["invalid", v] => {
                checks += 1;
                if scheme.validate(unquote(v)).is_ok() {
                    failures.push(format!("line {n}: want {v} invalid"));
                }
            }
            [a, op, b] => {
                let want = match *op {
                    "<" => Ordering::Less,
                    "=" => Ordering::Equal,
                    ">" => Ordering::Greater,
                    other => panic!("{path}:{n}: unknown operator {other}"),
                };
                checks += 2;
                let (got, rev) = (cmp(a, b), cmp(b, a));
                if got != Ok(want) || rev != Ok(want.reverse()) {
                    failures.push(format!(
                        "line {n}: want {line}, got {got:?} / reverse {rev:?}"
                    ));
                }
            }
            _ => panic!("{path}:{n}: cannot read {line:?}"),
        }
    }
    assert!(ascending.is_none(), "{path}: @ascending without @end");
    assert!(
        failures.is_empty(),
        "{path}: {} of {checks} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    checks
}

#[test]
fn dpkg() {
    assert!(run(Scheme::Dpkg) > 100);
}

#[test]
fn rpm() {
    assert!(run(Scheme::Rpm) > 150);
}

#[test]
fn apk() {
    assert!(run(Scheme::Apk) > 1000);
}

#[test]
fn pep440() {
    assert!(run(Scheme::Pep440) > 4000);
}

#[test]
fn maven() {
    assert!(run(Scheme::Maven) > 500);
}

#[test]
fn semver() {
    assert!(run(Scheme::Semver) > 100);
}

#[test]
fn go() {
    assert!(run(Scheme::Go) > 200);
}

#[test]
fn gem() {
    assert!(run(Scheme::Gem) > 40);
}
