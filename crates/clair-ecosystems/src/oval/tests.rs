use std::io::BufReader;

use super::*;
use crate::test_corpus::corpus;

fn open(rel: &str) -> Box<dyn std::io::Read + Send> {
    let f = std::fs::File::open(corpus(rel)).unwrap();
    clair_layer::compression::auto_decoder(f).unwrap().1
}

#[test]
fn reads_red_hat_definition_and_index() {
    let rel = "feeds/rhel/claircore-com.redhat.rhsa-20201980.xml";
    let idx = read_index(BufReader::new(open(rel))).unwrap();
    assert_eq!(idx.tests.len(), 32, "30 rpminfo + 2 rpmverifyfile tests");
    assert_eq!(idx.objects.len(), 16);
    let mut defs = Vec::new();
    for_each_definition(BufReader::new(open(rel)), |d| {
        defs.push(d);
        Ok(())
    })
    .unwrap();
    assert_eq!(defs.len(), 1);
    let d = &defs[0];
    assert_eq!(d.id, "oval:com.redhat.rhsa:def:20201980");
    assert!(
        d.title
            .starts_with("RHSA-2020:1980: git security update (Important)")
    );
    assert_eq!(d.severity, "Important");
    assert_eq!(d.issued, "2020-04-30");
    assert_eq!(d.cves.len(), 1);
    assert_eq!(d.cves[0].id, "CVE-2020-11008");
    assert_eq!(d.platforms, vec!["Red Hat Enterprise Linux 8"]);
    assert_eq!(d.cpes.len(), 2);
    let cl = clauses(d.criteria.as_ref().unwrap());
    // One clause per package (15 packages) plus the "must be installed" alternative.
    assert_eq!(cl.len(), 16, "{cl:#?}");
    let pkg_clause = cl
        .iter()
        .find(|c| {
            c.iter()
                .any(|l| l.comment.contains("perl-Git-SVN is earlier"))
        })
        .unwrap();
    assert!(
        pkg_clause
            .iter()
            .any(|l| l.comment == "Red Hat Enterprise Linux 8 is installed")
    );
    let t = pkg_clause
        .iter()
        .find_map(|l| {
            idx.tests
                .get(&l.test_ref)
                .filter(|t| t.kind == "rpminfo_test" && !t.state_refs.is_empty())
        })
        .unwrap();
    assert_eq!(idx.package_names(t), vec!["perl-Git-SVN"]);
}

#[test]
fn malformed_documents_are_errors_with_positions() {
    let e = read_index(BufReader::new(
        &b"<oval_definitions><tests><rpminfo_test id='x'>"[..],
    ))
    .unwrap_err();
    assert!(e.message.contains("end of document"), "{e}");
    let e = read_index(BufReader::new(&b"{\"json\": true}"[..])).unwrap_err();
    assert!(e.message.contains("not an OVAL document"), "{e}");
    let bad = b"<oval_definitions><definitions><definition id='a'><metadata><title>x</titl></metadata></definition></definitions></oval_definitions>";
    assert!(for_each_definition(BufReader::new(&bad[..]), |_| Ok(())).is_err());
}

#[test]
fn clause_expansion_is_bounded() {
    // AND of 20 ORs of 2: 2^20 clauses in full; capped.
    let or2 = Criteria::Node {
        and: false,
        negate: false,
        children: vec![
            Criteria::Criterion {
                test_ref: "a".into(),
                comment: String::new(),
                negate: false,
            },
            Criteria::Criterion {
                test_ref: "b".into(),
                comment: String::new(),
                negate: false,
            },
        ],
    };
    let big = Criteria::Node {
        and: true,
        negate: false,
        children: vec![or2; 20],
    };
    assert!(clauses(&big).len() <= MAX_CLAUSES);
}
