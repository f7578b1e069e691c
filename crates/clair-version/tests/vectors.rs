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

/// One test per scheme, `name: Scheme > N`: its vector file passes and has more than N checks.
macro_rules! vector_tests {
    ($($name:ident: $scheme:ident > $min:literal,)*) => {$(
        #[test]
        fn $name() {
            assert!(run(Scheme::$scheme) > $min);
        }
    )*};
}

vector_tests! {
    dpkg: Dpkg > 100,
    rpm: Rpm > 150,
    apk: Apk > 1000,
    pep440: Pep440 > 4000,
    maven: Maven > 500,
    semver: Semver > 100,
    go: Go > 200,
    gem: Gem > 40,
}
