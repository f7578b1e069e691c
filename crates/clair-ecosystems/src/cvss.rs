//! CVSS vectors (v2, v3.x, v4.0) and their base scores, through the `cvss` crate, and the
//! qualitative severity Clair v4 gives a score (claircore `toolkit/types/cvss`).

use clair_types::Severity;

/// The base score of a CVSS vector: `CVSS:4.0/…`, `CVSS:3.x/…`, or a v2 vector with or without
/// its `CVSS:2.0/` prefix; `None` when it does not parse.
pub fn base_score(vector: &str) -> Option<f64> {
    let v = vector.trim();
    if v.starts_with("CVSS:4") {
        return v
            .parse::<cvss::v4::Vector>()
            .ok()
            .map(|x| x.score().value());
    }
    if v.starts_with("CVSS:3") {
        return v
            .parse::<cvss::v3::Vector>()
            .ok()
            .map(|x| x.base_score().value());
    }
    let v2 = v.strip_prefix("CVSS:2.0/").unwrap_or(v);
    v2.parse::<cvss::v2::Vector>()
        .ok()
        .map(|x| x.score().value())
}

/// The qualitative severity of a vector's score as Clair v4 computes it, for every CVSS
/// version alike (v2 has no "critical" of its own; claircore uses the v3/v4 table): 0 is
/// Negligible ("None"), then Low, Medium (4.0), High (7.0), Critical (9.0).
pub fn severity(vector: &str) -> Option<Severity> {
    base_score(vector).map(Severity::from_cvss_score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_the_published_ones() {
        // Scores NVD and FIRST's calculators publish for these vectors.
        for (v, want) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 4.6),
            ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:N/I:H/A:N", 6.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
            ("CVSS:2.0/AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
            ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
                0.0,
            ),
        ] {
            assert_eq!(base_score(v), Some(want), "{v}");
        }
        assert_eq!(base_score("CVSS:3.1/AV:X"), None);
        assert_eq!(base_score("high"), None);
    }

    #[test]
    fn qualitative_severity_as_clair_v4() {
        for (v, want) in [
            (
                "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N",
                Severity::Negligible,
            ),
            (
                "CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N",
                Severity::Medium,
            ),
            // A v2 10.0 is Critical under the v3 table, as claircore maps it.
            ("AV:N/AC:L/Au:N/C:C/I:C/A:C", Severity::Critical),
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", Severity::High),
        ] {
            assert_eq!(severity(v), Some(want), "{v}");
        }
    }
}
