//! Clair v4's operating modes (`-mode`, `CLAIR_MODE`): one process with everything (`combo`),
//! or the indexer, matcher and notifier as separate services, each with its own database,
//! reaching the others over HTTP (`matcher.indexer_addr`, `notifier.indexer_addr`,
//! `notifier.matcher_addr`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Which part of Clair a server runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Everything in one process (the default), and the Clair v2 API.
    #[default]
    Combo,
    /// The indexer: `/indexer/api/v1/…` (index reports, index state, affected manifests).
    Indexer,
    /// The matcher: `/matcher/api/v1/…` (vulnerability reports, update operations and diffs)
    /// and the updaters; index reports come from `matcher.indexer_addr`.
    Matcher,
    /// The notifier: `/notifier/api/v1/…`; it polls `notifier.matcher_addr` for new update
    /// operations and asks `notifier.indexer_addr` which manifests they affect.
    Notifier,
}

impl Mode {
    /// Every mode, in upstream's order.
    pub const ALL: [Mode; 4] = [Mode::Combo, Mode::Indexer, Mode::Matcher, Mode::Notifier];

    /// Upstream's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Combo => "combo",
            Mode::Indexer => "indexer",
            Mode::Matcher => "matcher",
            Mode::Notifier => "notifier",
        }
    }

    /// Whether this mode serves the indexer API and keeps index reports.
    pub fn indexer(self) -> bool {
        matches!(self, Mode::Combo | Mode::Indexer)
    }

    /// Whether this mode serves the matcher API and runs the updaters.
    pub fn matcher(self) -> bool {
        matches!(self, Mode::Combo | Mode::Matcher)
    }

    /// Whether this mode serves the notifier API and delivers notifications.
    pub fn notifier(self) -> bool {
        matches!(self, Mode::Combo | Mode::Notifier)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown mode name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mode {0:?} (want combo, indexer, matcher or notifier)")]
pub struct ModeError(String);

impl FromStr for Mode {
    type Err = ModeError;

    /// Case-insensitive, as upstream's `ParseMode`.
    fn from_str(s: &str) -> Result<Mode, ModeError> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ModeError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for m in Mode::ALL {
            assert_eq!(m.to_string().parse::<Mode>().unwrap(), m);
            assert_eq!(m.as_str().to_uppercase().parse::<Mode>().unwrap(), m);
        }
        assert_eq!(
            "both".parse::<Mode>().unwrap_err().to_string(),
            "unknown mode \"both\" (want combo, indexer, matcher or notifier)"
        );
        assert!(Mode::Combo.indexer() && Mode::Combo.matcher() && Mode::Combo.notifier());
        assert!(Mode::Indexer.indexer() && !Mode::Indexer.matcher() && !Mode::Indexer.notifier());
        assert!(!Mode::Matcher.indexer() && Mode::Matcher.matcher());
        assert!(!Mode::Notifier.matcher() && Mode::Notifier.notifier());
    }
}
