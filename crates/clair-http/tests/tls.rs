//! The API over TLS with certificates made by openssl in the test: a client that trusts the
//! CA gets answers, one that does not is refused; with a client CA, only clients presenting a
//! certificate it signed get in; reloading swaps the certificate for new connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use clair_http::AppState;
use clair_http::tls::{Reloadable, TlsFiles};
use clair_test::certs;

use certs::https_agent as client;

/// Serve the API over TLS on a free port; returns its URL.
fn serve(files: TlsFiles) -> (String, Arc<Reloadable>) {
    let tls = Reloadable::new(files).unwrap();
    let state = AppState::new(common::sqlite(), clair_http::FetchOptions::default()).unwrap();
    let router = clair_http::api_router(state);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let t = tls.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(std_listener).unwrap();
            clair_http::tls::serve_tls(l, router, t, std::future::pending())
                .await
                .unwrap();
        });
    });
    (format!("https://127.0.0.1:{}", addr.port()), tls)
}

fn status(agent: &ureq::Agent, url: &str) -> Result<u16, String> {
    agent
        .get(url)
        .call()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[test]
fn api_over_tls_with_client_certificates_and_reload() {
    let Some((dir, ca, server)) = certs::ca_and_server("ca", "server", "127.0.0.1") else {
        return;
    };
    let d = dir.path();
    let quay = certs::leaf(d, &ca, "quay", "quay", true);
    let rogue_ca = certs::ca(d, "rogue-ca");
    let rogue = certs::leaf(d, &rogue_ca, "rogue", "quay", true);

    // Server certificate only.
    let (url, _) = serve(TlsFiles {
        cert: server.cert.clone(),
        key: server.key.clone(),
        client_ca: None,
    });
    let state = format!("{url}/indexer/api/v1/index_state");
    assert_eq!(status(&client(&ca, None), &state), Ok(200));
    let e = status(&client(&rogue_ca, None), &state).unwrap_err();
    assert!(
        e.to_lowercase().contains("certificate") || e.contains("UnknownIssuer"),
        "{e}"
    );

    // Client certificates required.
    let live = d.join("live");
    std::fs::create_dir(&live).unwrap();
    let (cert, key) = (live.join("tls.crt"), live.join("tls.key"));
    std::fs::copy(&server.cert, &cert).unwrap();
    std::fs::copy(&server.key, &key).unwrap();
    let (url, tls) = serve(TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
        client_ca: Some(ca.cert.clone()),
    });
    let state = format!("{url}/indexer/api/v1/index_state");
    assert_eq!(status(&client(&ca, Some(&quay)), &state), Ok(200));
    assert!(
        status(&client(&ca, None), &state).is_err(),
        "no client certificate"
    );
    assert!(
        status(&client(&ca, Some(&rogue)), &state).is_err(),
        "client certificate from another CA"
    );

    // Reload: a certificate from another CA replaces the first for new connections; a broken
    // file leaves the working one in place.
    let ca2 = certs::ca(d, "ca2");
    let server2 = certs::leaf(d, &ca2, "server2", "127.0.0.1", false);
    std::fs::write(&cert, "not a certificate").unwrap();
    let e = tls.reload().unwrap_err().to_string();
    assert!(e.contains("tls.crt"), "{e}");
    assert_eq!(status(&client(&ca, Some(&quay)), &state), Ok(200));
    std::fs::copy(&server2.cert, &cert).unwrap();
    std::fs::copy(&server2.key, &key).unwrap();
    tls.reload().unwrap();
    assert_eq!(status(&client(&ca2, Some(&quay)), &state), Ok(200));
    assert!(status(&client(&ca, Some(&quay)), &state).is_err());

    // Files that do not fit are refused at start, naming them.
    let e = Reloadable::new(TlsFiles {
        cert: server.cert.clone(),
        key: quay.key.clone(),
        client_ca: None,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("server.crt") && e.contains("quay.key"), "{e}");
    let e = Reloadable::new(TlsFiles {
        cert: d.join("missing.crt"),
        key: server.key.clone(),
        client_ca: None,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing.crt"), "{e}");
}

/// Clair v2's `-insecure-tls`: layer downloads from a server whose certificate nobody trusts
/// fail, unless certificate verification is off.
#[test]
fn insecure_tls_downloads_from_untrusted_servers() {
    let Some((dir, _ca, server)) = certs::ca_and_server("private-ca", "server", "127.0.0.1") else {
        return;
    };
    let (url, _) = serve(TlsFiles {
        cert: server.cert.clone(),
        key: server.key.clone(),
        client_ca: None,
    });
    // The API's robots.txt stands in for a layer blob.
    let body = b"User-agent: *\nDisallow: /\n";
    let digest = clair_types::Digest::sha256_of(body);
    let blob = format!("{url}/robots.txt");
    let dest = dir.path().join("blob");
    let fetch = |insecure_tls: bool| {
        clair_http::Fetcher::new(clair_http::FetchOptions {
            attempts: 1,
            insecure_tls,
            ..clair_http::FetchOptions::default()
        })
        .fetch("layer", &blob, &[], Some(&digest), &dest)
    };
    let e = fetch(false).unwrap_err().to_string();
    assert!(
        e.to_lowercase().contains("certificate") || e.contains("UnknownIssuer"),
        "{e}"
    );
    assert_eq!(fetch(true).unwrap(), body.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}
