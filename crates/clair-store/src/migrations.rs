//! The schema's versioned migrations, one set for both backends.
//!
//! The two schemas are the same tables, columns, keys and indexes; they differ in five type
//! spellings only, so each migration is written once with placeholders ([`Dialect`] spells
//! them) rather than twice. Each backend applies the versions its `schema_migrations` table
//! lacks, in order, each once.

use crate::error::Error;

/// Versioned migrations, applied in order, each once.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_v1_layers.sql")),
    (3, include_str!("migrations/0003_manifest_package.sql")),
    (4, include_str!("migrations/0004_notification_times.sql")),
    (5, include_str!("migrations/0005_notification_jobs.sql")),
    (6, include_str!("migrations/0006_notifier_cursor.sql")),
];

/// The newest schema version.
pub(crate) fn newest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// The versions applied, created if missing (spelt per dialect like a migration).
const BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS schema_migrations
     (version {int} PRIMARY KEY, applied {int} NOT NULL)";
/// The schema version of a database (0: new).
pub(crate) const CURRENT: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
/// Record that version `$1` was applied at `$2`.
pub(crate) const APPLIED: &str = "INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)";

/// How a backend spells the migrations' placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `(placeholder, spelling)` pairs.
    fn types(self) -> [(&'static str, &'static str); 5] {
        match self {
            // SQLite: a rowid alias that never reuses an id, integers of any size.
            Dialect::Sqlite => [
                ("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
                ("{int}", "INTEGER"),
                ("{bytes}", "BLOB"),
                ("{bool}", "INTEGER"),
                ("{false}", "0"),
            ],
            Dialect::Postgres => [
                (
                    "{serial}",
                    "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                ),
                ("{int}", "BIGINT"),
                ("{bytes}", "BYTEA"),
                ("{bool}", "BOOLEAN"),
                ("{false}", "FALSE"),
            ],
        }
    }

    /// The statement creating the table of applied versions.
    pub(crate) fn bookkeeping(self) -> String {
        self.spell(BOOKKEEPING)
    }

    /// The migrations a database at version `current` lacks, spelt for this dialect; an
    /// error when a newer clair-rs migrated it.
    pub(crate) fn pending(self, current: i64) -> Result<Vec<(i64, String)>, Error> {
        if current > newest() {
            return Err(Error::SchemaTooNew {
                found: current,
                supported: newest(),
            });
        }
        Ok(MIGRATIONS
            .iter()
            .filter(|m| m.0 > current)
            .map(|&(version, sql)| (version, self.spell(sql)))
            .collect())
    }

    fn spell(self, sql: &str) -> String {
        self.types()
            .iter()
            .fold(sql.to_string(), |s, (from, to)| s.replace(from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_spelt() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            for (version, sql) in dialect.pending(0).unwrap() {
                let code: String = sql
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect();
                assert!(
                    !code.contains('{'),
                    "{dialect:?} migration {version}: {code}"
                );
            }
        }
    }

    #[test]
    fn dialects_spell_identity_columns_their_way() {
        let lite = &Dialect::Sqlite.pending(0).unwrap()[0].1;
        let pg = &Dialect::Postgres.pending(0).unwrap()[0].1;
        assert!(lite.contains("seq         INTEGER PRIMARY KEY AUTOINCREMENT,"));
        assert!(pg.contains("seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"));
        assert!(lite.contains("result  BLOB NOT NULL,"));
        assert!(pg.contains("result  BYTEA NOT NULL,"));
        assert_eq!(newest(), 6);
        assert!(Dialect::Sqlite.pending(6).unwrap().is_empty());
        assert!(matches!(
            Dialect::Postgres.pending(7),
            Err(Error::SchemaTooNew {
                found: 7,
                supported: 6
            })
        ));
    }
}
