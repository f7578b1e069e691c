//! What a backend offers the role implementations written once ([`super::indexer`],
//! [`super::matcher`], [`super::notifier`]): read statements mapped row by row, statements that change rows, and
//! write transactions.
//! Statements are spelt for PostgreSQL (`$1` parameters); a SQLite driver respells them.

use super::Row;
use crate::error::Result;

/// An argument bound to a statement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Text(&'a str),
    /// Text, or NULL for `None`.
    OptText(Option<&'a str>),
    Int(i64),
    Bytes(&'a [u8]),
}

/// Runs statements inside a write transaction.
pub(crate) trait Exec {
    /// Run a statement that changes rows; how many it changed.
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<usize>;
}

/// A backend's connection handling, under the shared role implementations.
pub(crate) trait Driver: Send + Sync + std::fmt::Debug {
    /// A result row.
    type Row<'r>: Row<Error = Self::RowError>;
    /// What reading a row fails with.
    type RowError;

    /// The rows a read statement selects, each mapped by `map`.
    fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        map: impl FnMut(&Self::Row<'_>) -> std::result::Result<T, Self::RowError>,
    ) -> Result<Vec<T>>;

    /// Run a statement that changes rows, on its own; how many it changed.
    fn exec(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize>;

    /// Run `f` in a write transaction, committed when it returns `Ok` (a backend may run it
    /// again after a transient failure).
    fn transaction<T>(&self, f: &mut dyn FnMut(&mut dyn Exec) -> Result<T>) -> Result<T>;
}
