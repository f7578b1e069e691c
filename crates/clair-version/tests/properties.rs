//! Order properties every scheme must have, on generated versions: reflexivity,
//! antisymmetry and transitivity, and parsing that never panics on arbitrary text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;

use clair_version::Scheme;
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
