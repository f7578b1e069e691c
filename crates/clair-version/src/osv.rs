//! OSV ranges evaluated by the specification's algorithm (`IsVulnerable`, "Evaluation" in
//! <https://ossf.github.io/osv-schema/>): a range's events are sorted in the ecosystem's
//! version order (`introduced: "0"` first), then walked: `introduced` sets "affected" when
//! `v >= introduced`, `fixed` clears it when `v >= fixed`, `last_affected` clears it when
//! `v > last_affected`; `limit` events bound the whole range (`v < limit` for some limit, `*`
//! meaning infinity).
//!
//! Feeds do not always write events in order, and pairing them in file order gives wrong
//! answers (a `fixed` read before its `introduced` closes nothing). [`intervals`] therefore
//! sorts first and turns the walk into the set of versions it marks affected, as disjoint
//! intervals `[introduced, fixed)` or `[introduced, last_affected]` — one vulnerability record
//! each, with the fixed version a report shows. [`walk`] is the algorithm literally, for ranges
//! whose versions the scheme cannot order and as the reference the intervals are tested against.
//!
//! Events at equal versions keep their file order (a stable sort, as Python's `sorted`).
//!
//! ```
//! use clair_version::osv::{Event, EventKind, intervals};
//! use clair_version::Scheme;
//!
//! // Written out of order: the walk sorts them (3.18.11rc3 < 3.18.11rc4 < 3.19).
//! let events = [
//!     Event { kind: EventKind::Fixed, version: "3.18.11rc3" },
//!     Event { kind: EventKind::Introduced, version: "0" },
//!     Event { kind: EventKind::Fixed, version: "3.19" },
//!     Event { kind: EventKind::Introduced, version: "3.18.11rc4" },
//! ];
//! let ranges = intervals(Scheme::Pep440, &events).unwrap();
//! assert_eq!(ranges.len(), 2);
//! assert_eq!((ranges[0].introduced, ranges[0].fixed), (None, Some("3.18.11rc3")));
//! assert_eq!((ranges[1].introduced, ranges[1].fixed), (Some("3.18.11rc4"), Some("3.19")));
//! assert!(!ranges.iter().any(|r| Scheme::Pep440.in_range("3.18.11rc3", r).unwrap()));
//! ```

use std::cmp::Ordering;

use crate::{Error, Range, Scheme};

/// What an event says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The vulnerability starts at this version (`"0"`: before every version).
    Introduced,
    /// Fixed at this version (it is not affected).
    Fixed,
    /// The last affected version (affected; later ones are not).
    LastAffected,
    /// An upper bound of the whole range (exclusive; a version containing `*` is infinity).
    Limit,
}

/// One event of a range, in the feed's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event<'a> {
    /// Its kind.
    pub kind: EventKind,
    /// Its version.
    pub version: &'a str,
}

impl Event<'_> {
    /// `introduced: "0"`: sorts before every version and needs no comparison.
    fn is_origin(&self) -> bool {
        self.kind == EventKind::Introduced && self.version == "0"
    }

    /// A limit of infinity.
    fn is_infinite_limit(&self) -> bool {
        self.kind == EventKind::Limit && self.version.contains('*')
    }
}

/// The events other than limits, sorted: `introduced: "0"` first, the rest in the scheme's
/// order, ties in file order. Errors when the scheme rejects one of them.
fn sorted<'e, 'a>(scheme: Scheme, events: &'e [Event<'a>]) -> Result<Vec<&'e Event<'a>>, Error> {
    let mut out: Vec<&Event<'a>> = events
        .iter()
        .filter(|e| e.kind != EventKind::Limit)
        .collect();
    for e in &out {
        if !e.is_origin() {
            scheme.validate(e.version)?;
        }
    }
    out.sort_by(|a, b| order(scheme, a, b));
    Ok(out)
}

/// The sort order of validated events.
fn order(scheme: Scheme, a: &Event<'_>, b: &Event<'_>) -> Ordering {
    match (a.is_origin(), b.is_origin()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        // Both versions were validated; a scheme that accepts a version orders it.
        (false, false) => scheme
            .compare(a.version, b.version)
            .unwrap_or(Ordering::Equal),
    }
}

/// The specification's `BeforeLimits`: no limit, an infinite one, or `v` below one of them.
fn before_limits(scheme: Scheme, v: &str, events: &[Event<'_>]) -> Result<bool, Error> {
    let mut any = false;
    for e in events.iter().filter(|e| e.kind == EventKind::Limit) {
        any = true;
        if e.is_infinite_limit() || scheme.compare(v, e.version)? == Ordering::Less {
            return Ok(true);
        }
    }
    Ok(!any)
}

/// Whether `v` is affected by one range, by the specification's algorithm word for word.
/// Errors when the scheme cannot read `v` or one of the events' versions.
pub fn walk(scheme: Scheme, v: &str, events: &[Event<'_>]) -> Result<bool, Error> {
    if !before_limits(scheme, v, events)? {
        return Ok(false);
    }
    let mut vulnerable = false;
    for e in sorted(scheme, events)? {
        match e.kind {
            EventKind::Introduced => {
                if e.is_origin() || scheme.compare(v, e.version)? != Ordering::Less {
                    vulnerable = true;
                }
            }
            EventKind::Fixed => {
                if scheme.compare(v, e.version)? != Ordering::Less {
                    vulnerable = false;
                }
            }
            EventKind::LastAffected => {
                if scheme.compare(v, e.version)? == Ordering::Greater {
                    vulnerable = false;
                }
            }
            EventKind::Limit => {}
        }
    }
    Ok(vulnerable)
}

/// The versions a range marks affected, as disjoint intervals in ascending order: exactly the
/// versions for which [`walk`] answers true. Each interval starts at an `introduced` version
/// (`None`: from the beginning) and ends before a `fixed` version, at a `last_affected` one, or
/// not at all; the range's finite limit, if any, is carried by every interval. Errors when the
/// scheme rejects one of the events' versions (the range cannot be ordered; [`walk`] may still
/// answer for some versions, as it reads limits first and only as far as it needs).
pub fn intervals<'a>(scheme: Scheme, events: &[Event<'a>]) -> Result<Vec<Range<'a>>, Error> {
    let evs = sorted(scheme, events)?;
    // Walk the sorted events a group of equal versions at a time. Between groups the answer is
    // what the last event of the previous group set; at a group's own version `introduced`
    // and `fixed` events take effect (`v >= x`) but `last_affected` does not (`v > x`).
    let mut out = Vec::new();
    let mut affected = false;
    let mut start: Option<&'a str> = None;
    let mut i = 0;
    while i < evs.len() {
        let mut j = i + 1;
        while j < evs.len() && order(scheme, evs[i], evs[j]) == Ordering::Equal {
            j += 1;
        }
        let group = &evs[i..j];
        let last_of = |k: EventKind| group.iter().rev().find(|e| e.kind == k);
        let at = group
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EventKind::Introduced | EventKind::Fixed))
            .map_or(affected, |e| e.kind == EventKind::Introduced);
        let after = group
            .last()
            .is_some_and(|e| e.kind == EventKind::Introduced);
        if !affected && at {
            start = last_of(EventKind::Introduced)
                .filter(|e| !e.is_origin())
                .map(|e| e.version);
        }
        if affected && !at {
            out.push(Range {
                introduced: start,
                fixed: last_of(EventKind::Fixed).map(|e| e.version),
                ..Range::default()
            });
        }
        // Affected at this version but not after it: the group ends with `last_affected`.
        if at && !after {
            out.push(Range {
                introduced: start,
                last_affected: last_of(EventKind::LastAffected).map(|e| e.version),
                ..Range::default()
            });
        }
        affected = after;
        i = j;
    }
    if affected {
        out.push(Range {
            introduced: start,
            ..Range::default()
        });
    }
    // BeforeLimits: below the greatest limit; an infinite limit (or none) bounds nothing.
    let limits: Vec<&Event<'a>> = events
        .iter()
        .filter(|e| e.kind == EventKind::Limit)
        .collect();
    for e in &limits {
        if !e.is_infinite_limit() {
            scheme.validate(e.version)?;
        }
    }
    let mut limit: Option<&'a str> = None;
    for e in limits {
        if e.is_infinite_limit() {
            return Ok(out);
        }
        if limit.is_none_or(|l| scheme.compare(e.version, l) == Ok(Ordering::Greater)) {
            limit = Some(e.version);
        }
    }
    if let Some(l) = limit {
        out.retain(|r| {
            r.introduced
                .is_none_or(|s| scheme.compare(s, l) == Ok(Ordering::Less))
        });
        for r in &mut out {
            r.limit = Some(l);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind::*;

    fn ev(list: &[(EventKind, &'static str)]) -> Vec<Event<'static>> {
        list.iter()
            .map(|&(kind, version)| Event { kind, version })
            .collect()
    }

    fn affected(s: Scheme, v: &str, events: &[Event<'_>]) -> bool {
        let by_intervals = intervals(s, events)
            .unwrap()
            .iter()
            .any(|r| s.in_range(v, r).unwrap());
        assert_eq!(
            by_intervals,
            walk(s, v, events).unwrap(),
            "{s} {v} {events:?}: intervals and walk disagree"
        );
        by_intervals
    }

    #[test]
    fn unsorted_events_from_the_issue() {
        // The false finding of issue 14: 3.18.11rc3 equals a fixed version and lies below the
        // second introduced; paired in file order it looked affected.
        let e = ev(&[
            (Fixed, "3.18.11rc3"),
            (Introduced, "0"),
            (Fixed, "3.19"),
            (Introduced, "3.18.11rc4"),
        ]);
        let s = Scheme::Pep440;
        assert!(!affected(s, "3.18.11rc3", &e));
        assert!(affected(s, "3.18.11rc2", &e));
        assert!(affected(s, "3.18.11", &e));
        assert!(!affected(s, "3.19", &e));
        assert!(!affected(s, "3.19.0", &e));
    }

    #[test]
    fn fixed_excludes_last_affected_includes() {
        let s = Scheme::Semver;
        let fixed = ev(&[(Introduced, "1.0.0"), (Fixed, "1.2.0")]);
        assert!(!affected(s, "0.9.9", &fixed));
        assert!(affected(s, "1.0.0", &fixed));
        assert!(affected(s, "1.2.0-rc.1", &fixed));
        assert!(!affected(s, "1.2.0", &fixed));
        let last = ev(&[(LastAffected, "1.2.0"), (Introduced, "1.0.0")]);
        assert!(affected(s, "1.2.0", &last));
        assert!(
            affected(s, "1.2.0+build.7", &last),
            "build metadata is ignored"
        );
        assert!(!affected(s, "1.2.1-alpha", &last));
        let r = intervals(s, &last).unwrap();
        assert_eq!(
            r,
            vec![Range {
                introduced: Some("1.0.0"),
                last_affected: Some("1.2.0"),
                ..Range::default()
            }]
        );
    }

    #[test]
    fn repeated_introduced_merge_and_extra_fixed_do_nothing() {
        let s = Scheme::Pep440;
        let e = ev(&[
            (Introduced, "2.0"),
            (Fixed, "1.5"),
            (Introduced, "1.0"),
            (Fixed, "2.5"),
            (Fixed, "3.0"),
            (Introduced, "1.2"),
        ]);
        let r = intervals(s, &e).unwrap();
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].introduced, r[0].fixed), (Some("1.0"), Some("1.5")));
        assert_eq!((r[1].introduced, r[1].fixed), (Some("2.0"), Some("2.5")));
        for v in [
            "0.9", "1.0", "1.3", "1.5", "1.9", "2.0", "2.4", "2.5", "2.9", "3.0",
        ] {
            affected(s, v, &e);
        }
    }

    #[test]
    fn origin_sorts_first_even_before_dev_releases() {
        // PEP 440 orders 0.dev0 below 0; `introduced: "0"` is before every version anyway.
        let s = Scheme::Pep440;
        let e = ev(&[(Fixed, "1.0"), (Introduced, "0")]);
        assert!(affected(s, "0.dev0", &e));
        assert!(affected(s, "0", &e));
        assert!(!affected(s, "1.0.0", &e));
        assert_eq!(intervals(s, &e).unwrap()[0].introduced, None);
    }

    #[test]
    fn ties_keep_file_order() {
        let s = Scheme::Pep440;
        // introduced then fixed at the same version: nothing is affected there.
        let a = ev(&[(Introduced, "1.0"), (Fixed, "1.0.0")]);
        assert!(intervals(s, &a).unwrap().is_empty());
        assert!(!affected(s, "1.0", &a));
        // fixed then introduced: affected from there on.
        let b = ev(&[(Fixed, "1.0"), (Introduced, "1.0.0")]);
        assert!(affected(s, "1.0", &b));
        assert!(affected(s, "7", &b));
        // last_affected then introduced at one version: the introduced wins, no gap.
        let c = ev(&[(Introduced, "0"), (LastAffected, "2"), (Introduced, "2.0")]);
        assert_eq!(intervals(s, &c).unwrap().len(), 1);
        assert!(affected(s, "2.1", &c));
        // introduced then last_affected: exactly that version.
        let d = ev(&[(Introduced, "2"), (LastAffected, "2.0.0")]);
        assert!(affected(s, "2.0", &d));
        assert!(!affected(s, "2.0.post1", &d));
        assert!(!affected(s, "1.9", &d));
        // introduced, last_affected, fixed at one version: the fixed decides that version.
        let f = ev(&[(Introduced, "1"), (LastAffected, "2"), (Fixed, "2.0")]);
        assert!(affected(s, "1.5", &f));
        assert!(!affected(s, "2", &f));
    }

    #[test]
    fn limits_bound_the_range() {
        let s = Scheme::Semver;
        let e = ev(&[
            (Introduced, "1.0.0"),
            (Limit, "2.0.0"),
            (Limit, "1.5.0"),
            (Introduced, "3.0.0"),
        ]);
        let r = intervals(s, &e).unwrap();
        assert_eq!(
            r.len(),
            1,
            "the interval above every limit is dropped: {r:?}"
        );
        assert_eq!(r[0].limit, Some("2.0.0"), "the greatest limit");
        assert!(affected(s, "1.9.9", &e));
        assert!(!affected(s, "2.0.0", &e));
        assert!(!affected(s, "3.1.0", &e));
        let star = ev(&[(Introduced, "1.0.0"), (Limit, "*"), (Limit, "1.1.0")]);
        assert!(affected(s, "9.0.0", &star));
        assert_eq!(intervals(s, &star).unwrap()[0].limit, None);
    }

    #[test]
    fn unreadable_versions_are_errors_not_answers() {
        let e = ev(&[(Introduced, "0"), (Fixed, "not a version")]);
        let err = intervals(Scheme::Semver, &e).unwrap_err();
        assert!(err.to_string().contains("not a version"), "{err}");
        assert!(walk(Scheme::Semver, "1.0.0", &e).is_err());
        // Only an origin: every version, readable or not, without a comparison.
        let origin = ev(&[(Introduced, "0")]);
        assert!(walk(Scheme::Semver, "junk", &origin).unwrap());
        assert!(
            intervals(Scheme::Semver, &origin).unwrap()[0] == Range::default(),
            "unbounded"
        );
    }
}
