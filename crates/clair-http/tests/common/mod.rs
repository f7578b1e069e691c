//! Helpers shared by the API tests: a server on loopback ports, an HTTP client, the
//! bookworm-layered image's blobs, Debian data loaded through the real updater.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use clair_http::{AppState, FetchOptions};
use clair_matcher::{Http, HttpOptions};
use clair_service::{NoUpdateProgress, UpdateManager};
use clair_store::{Store, StoreOptions};
use clair_test::http::{Behavior, TestServer};
use serde_json::Value;

/// A running server: the API and the introspection router on two loopback ports.
pub struct Server {
    pub api: String,
    pub intro: String,
    pub health: String,
    pub state: AppState,
    pub rt: tokio::runtime::Runtime,
}

pub fn start(store: Arc<dyn Store>, fetch: FetchOptions, concurrency: usize) -> Server {
    start_keyed(store, fetch, concurrency, None)
}

/// [`start`] with a page-token key (`api.paginationkey`).
pub fn start_keyed(
    store: Arc<dyn Store>,
    fetch: FetchOptions,
    concurrency: usize,
    key: Option<&str>,
) -> Server {
    let state = AppState::new(store, fetch)
        .unwrap()
        .with_index_concurrency(concurrency)
        .with_pagination_key(key)
        .unwrap();
    start_state(state)
}

/// Serve a prepared state.
pub fn start_state(state: AppState) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bind = |router: axum::Router| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = format!("http://{}", l.local_addr().unwrap());
        rt.spawn(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            clair_http::serve_listener(l, router, std::future::pending())
                .await
                .unwrap();
        });
        addr
    };
    let api = bind(clair_http::api_router(state.clone()));
    let intro = bind(clair_http::health::introspection_router(state.clone()));
    let health = bind(clair_http::health::v2_health_router(state.clone()));
    Server {
        api,
        intro,
        health,
        state,
        rt,
    }
}

/// The outbound client key servers are reached with (as `clair serve` builds it).
pub fn key_client() -> clair_net::Client {
    clair_net::Client::builder()
        .total_timeout(Duration::from_secs(60))
        .build()
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// `call` with GET, no headers, no body.
pub fn get(url: &str) -> Resp {
    call("GET", url, &[], None)
}

/// `call` with POST, no headers, `body`.
pub fn post(url: &str, body: &str) -> Resp {
    call("POST", url, &[], Some(body))
}

/// `call` with DELETE, no headers, no body.
pub fn delete(url: &str) -> Resp {
    call("DELETE", url, &[], None)
}

pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let a = agent();
    let resp = match (method, body) {
        ("GET", _) => {
            let mut r = a.get(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        }
        ("DELETE", None) => {
            let mut r = a.delete(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        }
        ("PUT", b) => {
            let mut r = a.put(url).header("Content-Type", "application/json");
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(b.unwrap_or(""))
        }
        ("DELETE", Some(b)) => {
            let mut r = a.delete(url).force_send_body();
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(b)
        }
        ("POST", b) => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(b.unwrap_or(""))
        }
        (m, _) => panic!("method {m}"),
    }
    .unwrap();
    let (status, headers, body) = clair_test::http::read_response(resp);
    Resp {
        status,
        headers,
        body,
    }
}

/// `POST` a Clair v4 manifest to `api`'s index_report endpoint.
pub fn post_index(api: &str, manifest: &str) -> Resp {
    call(
        "POST",
        &format!("{api}/indexer/api/v1/index_report"),
        &[],
        Some(manifest),
    )
}

/// `POST` a Clair v2 layer envelope to `api`'s /v1/layers.
pub fn post_v1_layer(api: &str, envelope: &Value) -> Resp {
    call(
        "POST",
        &format!("{api}/v1/layers"),
        &[],
        Some(&envelope.to_string()),
    )
}

/// The bookworm-layered image's manifest digest and layer digests, from the OCI layout.
pub fn layered() -> (String, Vec<String>) {
    let oci = clair_test::images("oci");
    let manifest = "sha256:fe5c5314bcf84e2b6cc30d63a6e284af7efa42d9f352b5b55bf04225069fd9ac";
    let m: Value = serde_json::from_slice(
        &std::fs::read(oci.join("blobs/sha256").join(&manifest[7..])).unwrap(),
    )
    .unwrap();
    let layers = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    (manifest.to_string(), layers)
}

pub fn blob(digest: &str) -> Vec<u8> {
    std::fs::read(
        clair_test::images("oci")
            .join("blobs/sha256")
            .join(&digest[7..]),
    )
    .unwrap()
}

/// Serve each layer at `/blobs/<digest>`, only with the bearer token.
pub fn layer_server(layers: &[String]) -> TestServer {
    let s = TestServer::start();
    for d in layers {
        let p = format!("/blobs/{d}");
        s.put(&p, blob(d));
        s.set(
            &p,
            Behavior::RequireHeader("Authorization".into(), "Bearer t0ken".into()),
        );
    }
    s
}

pub fn manifest_json(hash: &str, layers: &[String], base: &str) -> String {
    let ls: Vec<Value> = layers
        .iter()
        .map(|d| {
            serde_json::json!({
                "hash": d,
                "uri": format!("{base}/blobs/{d}"),
                "headers": {"Authorization": ["Bearer t0ken"], "Accept": ["application/gzip"]},
            })
        })
        .collect();
    serde_json::json!({"hash": hash, "layers": ls}).to_string()
}

/// The hand-written bookworm tracker (Debian's security tracker JSON).
pub fn tracker() -> Value {
    serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../clair-ecosystems/testdata/match/debian-bookworm-tracker.json"),
        )
        .unwrap(),
    )
    .unwrap()
}

/// `feed` loaded through the real Debian updater, served from 127.0.0.1: one new operation.
pub fn run_debian(store: &Arc<dyn Store>, feed: &Value) {
    let feeds = TestServer::start();
    feeds.put("/debian/json", feed.to_string());
    run_updaters(
        store,
        &["debian"],
        serde_json::json!({"debian": {"json_url": format!("{}/debian/json", feeds.url())}}),
    );
}

/// Run these updaters once with `config` (`updaters.config` as JSON); each must store a new
/// operation.
pub fn run_updaters(store: &Arc<dyn Store>, names: &[&str], config: Value) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let ups =
        clair_ecosystems::updaters(Some(&names), &serde_json::from_value(config).unwrap()).unwrap();
    let m = UpdateManager::new(store.clone(), ups).with_http(Http::new(HttpOptions {
        attempts: 1,
        ..HttpOptions::default()
    }));
    for r in m.run(None, &NoUpdateProgress) {
        assert!(
            matches!(r.outcome, clair_service::Outcome::Updated { .. }),
            "{}: {:?}",
            r.updater,
            r.outcome
        );
    }
}

/// Load the hand-written bookworm tracker through the real Debian updater.
pub fn load_debian(store: &Arc<dyn Store>) {
    run_debian(store, &tracker());
}

pub fn sqlite() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().unwrap().keep();
    clair_store::open(&StoreOptions {
        source: dir.join("clair.db").display().to_string(),
        ..StoreOptions::default()
    })
    .unwrap()
}

pub fn postgres() -> Option<Arc<dyn Store>> {
    let pg = clair_test::postgres::skip_or_fail()?;
    Some(
        clair_store::open(&StoreOptions {
            source: pg.create_database(),
            ..StoreOptions::default()
        })
        .unwrap(),
    )
}
