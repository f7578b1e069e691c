//! The shared corpus, for unit tests (see the clair-test crate).

pub(crate) use clair_test::{corpus, expected_examples};
