//! The compose file describes processes that work: its `clair` service is started as a process
//! with the service's own command, environment and config file (the mounted path mapped back
//! to deploy/compose/), a throwaway PostgreSQL standing in for the `postgres` service, and
//! listeners moved to free loopback ports (no network for feeds here, so `--no-updaters`).
//! It must answer health and readiness, take a Quay-style index request signed with the
//! config's PSK, index the image's layers from an HTTP server into PostgreSQL, and report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use clair_test::free_port;
use serde_yaml_ng::Value;

fn compose_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/compose")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (status, body) of a request; 0 when nothing answered.
fn call(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    );
    let auth = token.map(|t| format!("Bearer {t}"));
    let r = match (method, body) {
        ("POST", Some(b)) => {
            let mut req = agent.post(url).header("Content-Type", "application/json");
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            req.send(b)
        }
        _ => {
            let mut req = agent.get(url);
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            req.call()
        }
    };
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.into_body().read_to_string().unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

#[test]
fn compose_clair_service_runs_as_described() {
    let Some(pg) = clair_test::postgres::skip_or_fail() else {
        return;
    };
    let dir = compose_dir();
    let compose: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap())
            .unwrap();
    let services = &compose["services"];
    let clair = &services["clair"];

    // Ordering: clair waits for a healthy postgres, which has a healthcheck.
    assert_eq!(
        clair["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert!(
        !strings(&services["postgres"]["healthcheck"]["test"]).is_empty(),
        "postgres has no healthcheck"
    );
    assert_eq!(strings(&services["registry"]["profiles"]), ["registry"]);

    // The service's mounts, mapped back to files beside the compose file.
    let mounts: Vec<(String, PathBuf)> = strings(&clair["volumes"])
        .iter()
        .map(|v| {
            let mut parts = v.split(':');
            let host = parts.next().unwrap();
            let inside = parts.next().unwrap();
            (inside.to_string(), dir.join(host))
        })
        .collect();
    let config = &mounts
        .iter()
        .find(|(inside, _)| inside == "/config/config.yaml")
        .expect("config.yaml mounted at /config/config.yaml")
        .1;
    let args: Vec<String> = strings(&clair["command"])
        .into_iter()
        .map(|a| {
            mounts
                .iter()
                .find(|(inside, _)| *inside == a)
                .map_or(a, |(_, host)| host.display().to_string())
        })
        .collect();
    assert!(args.iter().any(|a| a == &config.display().to_string()));
    let env: Vec<(String, String)> = clair["environment"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| serde_yaml_ng::to_string(v).unwrap());
                    (k.as_str().unwrap().to_string(), v.trim().to_string())
                })
                .collect()
        })
        .unwrap_or_default();

    // The config the service mounts: its API key, its listeners (published by the service).
    let cfg: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    let ports = strings(&clair["ports"]);
    for addr in ["http_listen_addr", "introspection_addr"] {
        let port = cfg[addr].as_str().unwrap().trim_start_matches(':');
        assert!(
            ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
            "{addr} port {port} not published by the service ({ports:?})"
        );
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(cfg["auth"]["psk"]["key"].as_str().unwrap())
        .unwrap();

    // Vulnerability data in the shared database first (as `clair update` or another replica
    // would load it), so the instance is ready: the corpus's Debian tracker from a file:// URL.
    let db = pg.create_database();
    let feeds = tempfile::NamedTempFile::new().unwrap();
    let tracker = clair_test::corpus("feeds/debian/clair2-security-tracker.json");
    std::fs::write(
        feeds.path(),
        format!(
            "updaters:\n  sets: [debian]\n  config:\n    debian: {{json_url: \"file://{}\"}}\n",
            tracker.display()
        ),
    )
    .unwrap();
    let update = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["-q", "--db", &db, "--config"])
        .arg(feeds.path())
        .args(["update", "--only", "debian"])
        .env("HOME", "/nonexistent-home-for-tests")
        .output()
        .unwrap();
    clair_test::process::assert_success(&update);

    let (api, intro) = (free_port(), free_port());
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(&args)
        .args([
            "--no-updaters",
            "--addr",
            &format!("127.0.0.1:{api}"),
            "--introspection-addr",
            &format!("127.0.0.1:{intro}"),
        ])
        .envs(env)
        // The postgres service: a throwaway cluster (the config names host=postgres).
        .env("CLAIR_DATABASE_SOURCE", &db)
        .env("HOME", "/nonexistent-home-for-tests")
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let intro_url = format!("http://127.0.0.1:{intro}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while call("GET", &format!("{intro_url}/healthz"), None, None).0 != 200 {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!(
                "clair exited {status}: {}",
                std::fs::read_to_string(log.path()).unwrap()
            );
        }
        assert!(Instant::now() < deadline, "no /healthz within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        call("GET", &format!("{intro_url}/readyz"), None, None).0,
        200
    );
    let (status, metrics) = call("GET", &format!("{intro_url}/metrics"), None, None);
    assert_eq!(status, 200);
    assert!(!metrics.is_empty());

    // A Quay-style index request: layer URLs on an HTTP server, a token signed with the PSK.
    let layout = clair_test::images("oci");
    let blob = |d: &str| {
        std::fs::read(
            layout
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "bookworm-minbase")
        .unwrap();
    let digest = desc["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&blob(digest)).unwrap();
    let server = clair_test::http::TestServer::start();
    let layers: Vec<serde_json::Value> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let d = l["digest"].as_str().unwrap();
            server.put(&format!("/blobs/{d}"), blob(d));
            serde_json::json!({"hash": d, "uri": format!("{}/blobs/{d}", server.url()), "headers": {}})
        })
        .collect();
    let body = serde_json::json!({"hash": digest, "layers": layers}).to_string();
    let api_url = format!("http://127.0.0.1:{api}");
    let token = clair_jose::sign_hs256(&key, "quay", jiff::Timestamp::now().as_second());
    let url = format!("{api_url}/indexer/api/v1/index_report");
    assert_eq!(
        call("POST", &url, None, Some(&body)).0,
        401,
        "no token, no API"
    );
    let (status, report) = call("POST", &url, Some(&token), Some(&body));
    assert!(status == 200 || status == 201, "{status}: {report}");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["state"], "IndexFinished", "{report}");
    assert!(report["packages"].as_object().unwrap().len() > 50);

    let (status, vulns) = call(
        "GET",
        &format!("{api_url}/matcher/api/v1/vulnerability_report/{digest}"),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{vulns}");
    let vulns: serde_json::Value = serde_json::from_str(&vulns).unwrap();
    assert_eq!(vulns["manifest_hash"], digest);

    // SIGTERM, as `docker compose stop` sends: a clean exit.
    let (status, _) = clair_test::sigterm(&mut child.0, Duration::from_secs(10))
        .expect("no exit within 10 s of SIGTERM");
    assert!(
        status.success(),
        "exit {status}: {}",
        std::fs::read_to_string(log.path()).unwrap()
    );
}
