//! Layer fetching by URL against a real HTTP server on 127.0.0.1, with name resolution played
//! by the test (an attacker's DNS): the addresses checked are the addresses connected to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clair_layer::fetch::{FetchError, FetchOptions, Fetcher, Lookup};
use clair_test::http::{Behavior, TestServer};

/// Names an attacker controls: each answers a list of addresses per lookup, in turn (the last
/// list repeats), so a name can change its answer between two lookups (rebinding).
#[derive(Debug, Default)]
struct AttackerDns {
    answers: Mutex<HashMap<String, Vec<Vec<String>>>>,
    asked: Mutex<Vec<String>>,
}

impl AttackerDns {
    fn set(&self, name: &str, answers: &[&[&str]]) {
        let answers = answers
            .iter()
            .map(|a| a.iter().map(|s| s.to_string()).collect())
            .collect();
        self.answers
            .lock()
            .unwrap()
            .insert(name.to_string(), answers);
    }

    fn asked(&self, name: &str) -> usize {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|n| *n == name)
            .count()
    }
}

impl Lookup for AttackerDns {
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        self.asked.lock().unwrap().push(host.to_string());
        let mut all = self.answers.lock().unwrap();
        let Some(list) = all.get_mut(host) else {
            // Address literals resolve to themselves, as the system's resolver does.
            return Ok(vec![SocketAddr::new(
                host.parse()
                    .map_err(|_| std::io::Error::other("unknown name"))?,
                port,
            )]);
        };
        let now = if list.len() > 1 {
            list.remove(0)
        } else {
            list[0].clone()
        };
        Ok(now
            .iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
            .collect())
    }
}

fn fetcher(dns: &Arc<AttackerDns>) -> Fetcher {
    Fetcher::new(FetchOptions {
        attempts: 1,
        connect_timeout: Duration::from_secs(2),
        lookup: Some(dns.clone()),
        ..FetchOptions::default()
    })
}

fn port(srv: &TestServer) -> u16 {
    srv.url().rsplit(':').next().unwrap().parse().unwrap()
}

fn refused(r: Result<u64, FetchError>) -> String {
    match r {
        Err(e @ FetchError::Refused { .. }) => {
            assert!(e.is_client_error());
            e.to_string()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_name_with_any_forbidden_address_is_refused_before_connecting() {
    let srv = TestServer::start();
    srv.put("/layer", b"layer bytes".to_vec());
    let dns = Arc::new(AttackerDns::default());
    dns.set("good.test", &[&["127.0.0.1"]]);
    dns.set("mixed.test", &[&["127.0.0.1", "169.254.169.254"]]);
    dns.set("mapped.test", &[&["127.0.0.1", "::ffff:169.254.169.254"]]);
    dns.set("nat64.test", &[&["64:ff9b::a9fe:a9fe"]]);
    dns.set("6to4.test", &[&["2002:a9fe:a9fe::1"]]);
    dns.set("imds6.test", &[&["fd00:ec2::254"]]);
    let f = fetcher(&dns);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    let p = port(&srv);

    let n = f
        .fetch(
            "l",
            &format!("http://good.test:{p}/layer"),
            &[],
            None,
            &dest,
        )
        .unwrap();
    assert_eq!(n, 11);
    assert_eq!(srv.hits().len(), 1);

    for (name, ip) in [
        ("mixed.test", "169.254.169.254"),
        ("mapped.test", "::ffff:169.254.169.254"),
        ("nat64.test", "64:ff9b::a9fe:a9fe"),
        ("6to4.test", "2002:a9fe:a9fe::1"),
        ("imds6.test", "fd00:ec2::254"),
    ] {
        let e = refused(f.fetch("l", &format!("http://{name}:{p}/layer"), &[], None, &dest));
        assert!(
            e.contains(&format!("{name} resolves to {ip}")),
            "{name}: {e}"
        );
    }
    assert_eq!(srv.hits().len(), 1, "no refused name reached the server");
}

#[test]
fn the_address_checked_is_the_address_connected_to() {
    // Rebinding: the first answer is harmless, every later one is the metadata service. The
    // fetch resolves once per connection and connects to what it checked.
    let srv = TestServer::start();
    srv.put("/layer", b"layer bytes".to_vec());
    let dns = Arc::new(AttackerDns::default());
    dns.set(
        "rebind.test",
        &[&["127.0.0.1"], &["169.254.169.254"], &["169.254.169.254"]],
    );
    let f = fetcher(&dns);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    let url = format!("http://rebind.test:{}/layer", port(&srv));
    assert_eq!(f.fetch("l", &url, &[], None, &dest).unwrap(), 11);
    assert_eq!(dns.asked("rebind.test"), 1, "one lookup for one connection");
    // A new client (no pooled connection) now gets the forbidden answer and is refused.
    let e = refused(fetcher(&dns).fetch("l", &url, &[], None, &dest));
    assert!(e.contains("169.254.169.254"), "{e}");
}

#[test]
fn every_redirect_hop_is_resolved_and_checked() {
    let srv = TestServer::start();
    let p = port(&srv);
    srv.put("/layer", b"layer bytes".to_vec());
    srv.set(
        "/to-good",
        Behavior::Redirect(format!("http://good.test:{p}/layer")),
    );
    srv.set(
        "/to-metadata",
        Behavior::Redirect(format!("http://metadata.test:{p}/latest/meta-data/")),
    );
    let dns = Arc::new(AttackerDns::default());
    dns.set("good.test", &[&["127.0.0.1"]]);
    dns.set("metadata.test", &[&["127.0.0.1", "fe80::1"]]);
    let f = fetcher(&dns);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    let n = f
        .fetch(
            "l",
            &format!("http://good.test:{p}/to-good"),
            &[],
            None,
            &dest,
        )
        .unwrap();
    assert_eq!(n, 11);
    let e = refused(f.fetch(
        "l",
        &format!("http://good.test:{p}/to-metadata"),
        &[],
        None,
        &dest,
    ));
    assert!(e.contains("metadata.test resolves to fe80::1"), "{e}");
    assert!(
        !srv.hits()
            .iter()
            .any(|(path, _)| path.contains("meta-data")),
        "{:?}",
        srv.hits()
    );
}

#[test]
fn numeric_spellings_of_the_metadata_address_are_refused() {
    // The system's resolver turns these into 169.254.169.254 (inet_aton's forms); the check
    // runs on its answer, so no spelling gets through. Nothing is connected to.
    let f = Fetcher::new(FetchOptions {
        attempts: 1,
        ..FetchOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://0xa9fea9fe/latest/meta-data/",
        "http://0251.0376.0251.0376/latest/meta-data/",
        "http://169.254.43518/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://[fe80::1]/",
        "http://100.100.100.200/latest/meta-data/",
    ] {
        let e = refused(f.fetch("l", url, &[], None, &dest));
        assert!(e.contains("link-local or cloud metadata"), "{url}: {e}");
    }
    assert!(!dest.exists());
}

#[test]
fn allowing_link_local_turns_the_filter_off() {
    let srv = TestServer::start();
    srv.put("/layer", b"layer bytes".to_vec());
    let dns = Arc::new(AttackerDns::default());
    // A link-local answer alongside loopback: with the filter off, the client may connect to
    // either; loopback first so the test reaches the server.
    dns.set("lab.test", &[&["127.0.0.1", "169.254.1.1"]]);
    let f = Fetcher::new(FetchOptions {
        attempts: 1,
        allow_link_local: true,
        lookup: Some(dns.clone()),
        ..FetchOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let n = f
        .fetch(
            "l",
            &format!("http://lab.test:{}/layer", port(&srv)),
            &[],
            None,
            &dir.path().join("layer"),
        )
        .unwrap();
    assert_eq!(n, 11);
}
