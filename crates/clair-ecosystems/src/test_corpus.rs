//! The shared corpus, for unit tests (see the clair-test crate).

pub(crate) use clair_test::{corpus, expected_examples};

/// The bytes of a corpus file (panics with the path when it cannot be read).
pub(crate) fn corpus_bytes(rel: &str) -> Vec<u8> {
    let p = corpus(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
