//! Order properties every scheme must have, on generated versions: reflexivity,
//! antisymmetry and transitivity, and parsing that never panics on arbitrary text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;

use clair_version::Scheme;
use clair_version::osv::{self, Event, EventKind};
use proptest::prelude::*;

/// Versions built from a scheme's interesting tokens.
fn tokens(
    first: &'static [&'static str],
    rest: &'static [&'static str],
) -> impl Strategy<Value = String> {
    (
        prop::sample::select(first),
        prop::collection::vec(prop::sample::select(rest), 0..7),
    )
        .prop_map(|(f, r)| format!("{f}{}", r.concat()))
}

fn strategy(s: Scheme) -> BoxedStrategy<String> {
    match s {
        Scheme::Dpkg => tokens(
            &["0", "1", "2", "1:0", "2:1", "10"],
            &[
                "0",
                "1",
                "10",
                "a",
                "b",
                "~",
                "+",
                ".",
                "-1",
                "-0",
                "~rc1",
                "-1~deb12u1",
                "-a",
            ],
        )
        .boxed(),
        Scheme::Rpm => tokens(
            &["0", "1", "2", "1:0", "a"],
            &[
                "0", "1", "10", "001", "a", "b", "~", "^", ".", "_", "-1", "-0.el9", "~rc1",
                "^git1",
            ],
        )
        .boxed(),
        Scheme::Apk => tokens(
            &["0", "1", "2", "10", "01"],
            &[
                ".0", ".1", ".01", ".10", "a", "b", "_alpha", "_beta", "_rc", "_p", "_git", "1",
                "2", "-r0", "-r1", "~ab12",
            ],
        )
        .boxed(),
        Scheme::Semver => tokens(
            &["0.0.0", "1.0.0", "1.2.3", "v1.2.3", "0.1", "2"],
            &[
                "-alpha", "-1", "-0", ".1", ".beta", ".11", "-rc.1", "+build", ".x-y",
            ],
        )
        .boxed(),
        Scheme::Go => tokens(
            &["v0.0.0", "v1.0.0", "v1.2.3", "1.2.3", "v2"],
            &[
                "-alpha",
                "-1",
                ".1",
                ".beta",
                "-0.20191109021931-daa7c04131f5",
                "+incompatible",
            ],
        )
        .boxed(),
        Scheme::Pep440 => tokens(
            &["0", "1", "1.0", "2!1", "v1.2"],
            &[
                ".0", ".1", "a", "b1", "rc2", ".post1", "-1", ".dev0", "dev", "+local", ".3",
                "+1.a",
            ],
        )
        .boxed(),
        Scheme::Maven => tokens(
            &["0", "1", "1.0", "2", "a"],
            &[
                ".0",
                ".1",
                "-1",
                "-alpha",
                "-beta-2",
                "rc",
                "-SNAPSHOT",
                ".ga",
                "-sp",
                "-xyz",
                "a1",
                "m2",
                "-",
                ".",
                "final",
            ],
        )
        .boxed(),
        Scheme::Gem => tokens(
            &["0", "1", "1.0", "2.1"],
            &[".0", ".1", ".a", ".b2", "-1", ".pre", ".10", "rc", ".0.0"],
        )
        .boxed(),
    }
}

fn ord(s: Scheme, a: &str, b: &str) -> Option<Ordering> {
    s.compare(a, b).ok()
}

fn check_triple(
    s: Scheme,
    a: &str,
    b: &str,
    c: &str,
    transitive: bool,
) -> Result<(), TestCaseError> {
    let (Some(ab), Some(bc), Some(ac)) = (ord(s, a, b), ord(s, b, c), ord(s, a, c)) else {
        return Ok(()); // some version is invalid for a strict scheme
    };
    prop_assert_eq!(
        ord(s, a, a),
        Some(Ordering::Equal),
        "{}: {} reflexive",
        s,
        a
    );
    prop_assert_eq!(
        ord(s, b, a),
        Some(ab.reverse()),
        "{}: {} vs {} antisymmetric",
        s,
        a,
        b
    );
    if !transitive {
        return Ok(());
    }
    if ab != Ordering::Greater && bc != Ordering::Greater {
        prop_assert!(
            ac != Ordering::Greater,
            "{}: {} <= {} <= {} but {:?}",
            s,
            a,
            b,
            c,
            ac
        );
    }
    if ab == Ordering::Equal && bc == Ordering::Equal {
        prop_assert_eq!(ac, Ordering::Equal, "{}: equality transitive", s);
    }
    if ab == Ordering::Less && bc != Ordering::Greater {
        prop_assert_eq!(ac, Ordering::Less, "{}: {} < {} <= {}", s, a, b, c);
    }
    Ok(())
}

macro_rules! order_properties {
    ($($name:ident => $scheme:expr, $transitive:expr);* $(;)?) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn $name(a in strategy($scheme), b in strategy($scheme), c in strategy($scheme)) {
                check_triple($scheme, &a, &b, &c, $transitive)?;
            }
        }
    )*};
}

order_properties! {
    dpkg_is_a_total_order => Scheme::Dpkg, true;
    rpm_is_a_total_order => Scheme::Rpm, true;
    apk_is_a_total_order => Scheme::Apk, true;
    semver_is_a_total_order => Scheme::Semver, true;
    go_is_a_total_order => Scheme::Go, true;
    pep440_is_a_total_order => Scheme::Pep440, true;
    gem_is_a_total_order => Scheme::Gem, true;
    // Maven's ComparableVersion is not transitive (see below), so only reflexivity and
    // antisymmetry hold.
    maven_is_reflexive_and_antisymmetric => Scheme::Maven, false;
}

/// Maven 3.9.9's own `ComparableVersion` orders `a < 0-alpha < 0 < a` (checked with its
/// `main`): a cycle. Matching follows Maven rather than inventing an order of its own.
#[test]
fn maven_cycle_is_upstream_behaviour() {
    let m = Scheme::Maven;
    assert_eq!(m.compare("a", "0-alpha"), Ok(Ordering::Less));
    assert_eq!(m.compare("0-alpha", "0"), Ok(Ordering::Less));
    assert_eq!(m.compare("0", "a"), Ok(Ordering::Less));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn arbitrary_text_never_panics(a in ".{0,40}", b in ".{0,40}") {
        for s in Scheme::ALL {
            let _ = s.compare(&a, &b);
            let _ = s.validate(&a);
        }
    }
}

/// An OSV range over a few of a scheme's generated versions (so events tie and the version
/// looked up often equals one of them), with some `introduced: "0"` and infinite limits, and
/// the version looked up.
fn osv_case(s: Scheme) -> impl Strategy<Value = (Vec<(EventKind, String)>, String)> {
    prop::collection::vec(strategy(s), 1..5).prop_flat_map(move |pool| {
        let version = prop_oneof![
            8 => prop::sample::select(pool.clone()),
            1 => Just("0".to_string()),
            1 => Just("*".to_string()),
        ];
        let kind = prop::sample::select(
            &[
                EventKind::Introduced,
                EventKind::Introduced,
                EventKind::Fixed,
                EventKind::Fixed,
                EventKind::LastAffected,
                EventKind::Limit,
            ][..],
        );
        (
            prop::collection::vec((kind, version), 0..8),
            prop_oneof![3 => prop::sample::select(pool), 1 => strategy(s)],
        )
    })
}

/// OSV ranges as intervals answer exactly what the specification's walk answers, for every
/// version, whatever the order of the events; ranges whose versions the scheme rejects are
/// errors both ways.
fn check_osv(s: Scheme, events: &[(EventKind, String)], v: &str) -> Result<(), TestCaseError> {
    let events: Vec<Event<'_>> = events
        .iter()
        .filter(|(k, v)| *k == EventKind::Limit || v != "*")
        .map(|(kind, version)| Event {
            kind: *kind,
            version,
        })
        .collect();
    if s.validate(v).is_err() {
        return Ok(());
    }
    match (osv::intervals(s, &events), osv::walk(s, v, &events)) {
        (Ok(ranges), Ok(want)) => {
            let mut got = false;
            for r in &ranges {
                got |= s
                    .in_range(v, r)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            prop_assert_eq!(got, want, "{}: {} in {:?} as {:?}", s, v, events, ranges);
            // Disjoint: at most one interval holds any version.
            let holding = ranges
                .iter()
                .filter(|r| s.in_range(v, r).unwrap_or(false))
                .count();
            prop_assert!(
                holding <= 1,
                "{}: {} in {} intervals {:?}",
                s,
                v,
                holding,
                ranges
            );
        }
        (Err(_), Err(_)) => {}
        // The walk stops at limits before reading the other events.
        (Err(_), Ok(false)) => {}
        // ... and reads limits only until one holds: an unreadable later limit is not read.
        (Err(_), Ok(true))
            if events.iter().any(|e| {
                e.kind == EventKind::Limit
                    && !e.version.contains('*')
                    && s.validate(e.version).is_err()
            }) => {}
        (a, b) => prop_assert!(false, "{}: {} {:?}: {:?} vs {:?}", s, v, events, a, b),
    }
    Ok(())
}

macro_rules! osv_properties {
    ($($name:ident => $scheme:expr);* $(;)?) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]
            #[test]
            fn $name((events, v) in osv_case($scheme)) {
                check_osv($scheme, &events, &v)?;
            }
        }
    )*};
}

osv_properties! {
    osv_intervals_are_the_walk_pep440 => Scheme::Pep440;
    osv_intervals_are_the_walk_semver => Scheme::Semver;
    osv_intervals_are_the_walk_go => Scheme::Go;
    osv_intervals_are_the_walk_gem => Scheme::Gem;
    osv_intervals_are_the_walk_dpkg => Scheme::Dpkg;
    osv_intervals_are_the_walk_rpm => Scheme::Rpm;
}
