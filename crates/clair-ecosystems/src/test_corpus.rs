//! The shared corpus, for unit tests (see the clair-test crate).

pub(crate) use clair_test::{corpus, expected_examples};

/// The bytes of a corpus file (panics with the path when it cannot be read).
pub(crate) fn corpus_bytes(rel: &str) -> Vec<u8> {
    let p = corpus(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The text of a corpus file (panics with the path when it cannot be read or is not UTF-8).
pub(crate) fn corpus_text(rel: &str) -> String {
    String::from_utf8(corpus_bytes(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every example `../shared/corpus/EXPECTED.md` lists under `key` (there is at least one) is
/// among `pkgs`, name and version; `rel` names the case in failures.
pub(crate) fn assert_has_examples(key: &str, rel: &str, pkgs: &[&clair_types::Package]) {
    let examples = expected_examples(key);
    assert!(!examples.is_empty(), "{rel}: no examples in EXPECTED.md");
    for (n, v) in examples {
        assert!(
            pkgs.iter().any(|p| p.name == n && p.version == v),
            "{rel}: {n} {v} missing"
        );
    }
}
