#![no_main]
//! Every version scheme orders arbitrary strings without panicking, and antisymmetrically; OSV
//! ranges made of arbitrary events, as intervals, answer what the specification's walk answers.
use clair_version::Scheme;
use clair_version::osv::{self, Event, EventKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, "1.0"));
    for s in Scheme::ALL {
        let _ = s.validate(a);
        if let (Ok(x), Ok(y)) = (s.compare(a, b), s.compare(b, a)) {
            assert_eq!(x, y.reverse(), "{s}: {a:?} vs {b:?}");
        }
    }
    // The first line is a version; each further line an event: a kind letter and a version.
    let events: Vec<Event<'_>> = b
        .lines()
        .filter_map(|l| {
            let kind = match l.get(..1)? {
                "i" => EventKind::Introduced,
                "f" => EventKind::Fixed,
                "a" => EventKind::LastAffected,
                "l" => EventKind::Limit,
                _ => return None,
            };
            Some(Event {
                kind,
                version: l.get(1..)?,
            })
        })
        .take(16)
        .collect();
    for s in Scheme::ALL {
        if s.validate(a).is_err() {
            continue;
        }
        if let (Ok(ranges), Ok(want)) = (osv::intervals(s, &events), osv::walk(s, a, &events)) {
            let got = ranges.iter().any(|r| s.in_range(a, r).unwrap_or(false));
            // Maven's order is not transitive (a < 0-alpha < 0 < a), so no sort is well
            // defined there; every other scheme must agree.
            if s != Scheme::Maven {
                assert_eq!(got, want, "{s}: {a:?} in {events:?} as {ranges:?}");
            }
        }
    }
});
