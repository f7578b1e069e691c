use std::io::{BufReader, Read};

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

/// A Red Hat-style definition whose one clause bounds `foo` twice, in the order given.
fn doubly_bounded(first: &str, second: &str) -> String {
    let test = |n: u32, evr: &str| {
        format!(
            r#"<rpminfo_test id="tst:{n}" check="at least one"><object object_ref="obj:1"/><state state_ref="ste:{n}"/></rpminfo_test>"#
        ) + &format!("<!--{evr}-->")
    };
    let state = |n: u32, evr: &str| {
        format!(
            r#"<rpminfo_state id="ste:{n}"><evr datatype="evr_string" operation="less than">{evr}</evr></rpminfo_state>"#
        )
    };
    format!(
        r#"<oval_definitions><definitions>
<definition id="oval:x:def:1" class="patch"><metadata><title>RHSA-2099:0001: foo update (Low)</title>
<reference source="RHSA" ref_id="RHSA-2099:0001" ref_url="https://access.redhat.com/errata/RHSA-2099:0001"/></metadata>
<criteria operator="AND">
<criterion test_ref="tst:0" comment="Red Hat Enterprise Linux 9 is installed"/>
<criterion test_ref="tst:1" comment="foo is earlier than {first}"/>
<criterion test_ref="tst:2" comment="foo is earlier than {second}"/>
</criteria></definition></definitions>
<tests>{}{}</tests>
<objects><rpminfo_object id="obj:1"><name>foo</name></rpminfo_object></objects>
<states>{}{}</states></oval_definitions>"#,
        test(1, first),
        test(2, second),
        state(1, first),
        state(2, second)
    )
}

/// Both bounds of one clause must hold: the record's fix is the lower one, in either order.
#[test]
fn two_bounds_in_one_clause_are_the_lower_in_any_order() {
    let parse = |xml: &str| {
        crate::feed::testing::vulns_of_text(xml, |f, e| crate::rhel::parse_rhel_oval("rhel", f, e))
    };
    for (a, b) in [
        ("0:1.2-1.el9", "0:1.10-1.el9"),
        ("0:1.10-1.el9", "0:1.2-1.el9"),
    ] {
        let v = parse(&doubly_bounded(a, b));
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].fixed_in_version, "0:1.2-1.el9", "{a} then {b}");
    }
}

/// Every OVAL vendor's records are the same whatever order the document writes its
/// definitions, criteria, tests, objects, states and variables in.
#[test]
fn vendors_ignore_document_order() {
    type Parser = fn(
        &str,
        &clair_matcher::FetchedFile,
        &mut clair_matcher::Emit<'_>,
    ) -> Result<(), clair_matcher::UpdaterError>;
    let cases: [(&str, Parser); 7] = [
        (
            "feeds/rhel/claircore-com.redhat.rhsa-20201980.xml",
            crate::rhel::parse_rhel_oval,
        ),
        (
            "feeds/rhel/clair3-rhel-8.oval_abbreviated.xml",
            crate::rhel::parse_rhel_oval,
        ),
        (
            "feeds/ubuntu/clair3-xenial-cve.oval.xml",
            crate::ubuntu::parse_ubuntu_oval,
        ),
        (
            "feeds/suse/vulnerablecode-opensuse.leap.micro.5.3-patch.xml",
            crate::suse::parse_suse_oval,
        ),
        (
            "feeds/suse/vulnerablecode-suse-oval.xml",
            crate::suse::parse_suse_oval,
        ),
        (
            "feeds/oracle/clair2-elsa-oval-1.xml",
            crate::oracle::parse_oracle_oval,
        ),
        (
            "feeds/photon/claircore-com.vmware.phsa-photon3.xml.gz",
            crate::photon::parse_photon_oval,
        ),
    ];
    for (rel, parse) in cases {
        let mut text = String::new();
        open(rel).read_to_string(&mut text).unwrap();
        let name = rel.rsplit('/').next().unwrap();
        let asis = crate::feed::testing::vulns_of_text(&text, |f, e| parse(name, f, e));
        assert!(!asis.is_empty(), "{rel}");
        let reordered = crate::feed::testing::reverse_xml_children(
            &text,
            &[
                "definitions",
                "criteria",
                "tests",
                "objects",
                "states",
                "variables",
            ],
        );
        assert_ne!(reordered, text);
        let shuffled = crate::feed::testing::vulns_of_text(&reordered, |f, e| parse(name, f, e));
        crate::feed::testing::assert_same_records(rel, &asis, &shuffled);
    }
}
