//! The PostgreSQL store (in progress).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::{Store, StoreOptions};

/// Connect to PostgreSQL, migrate, and return the store.
pub fn open(source: &str, _opts: &StoreOptions) -> Result<Arc<dyn Store>> {
    Err(Error::BadSource {
        source_display: source.to_string(),
        message: "PostgreSQL support is not built yet".into(),
    })
}
