//! `clair serve`: the API servers, the updater schedule and the matcher index refresh.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clair_http::{AppState, FetchOptions};
use clair_matcher::{Http, NoUpdateProgress};

use super::Global;
use crate::cli::ServeArgs;

/// How often the matcher index checks for data another instance stored.
const REFRESH_EVERY: Duration = Duration::from_secs(30);

pub fn run(args: &ServeArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let cfg = match &g.config {
        Some(c) => {
            for w in c.warnings() {
                tracing::warn!(key = %w.key, "config: {}", w.message);
            }
            c.serve_config()?
        }
        None => clair_config::Loaded::empty().serve_config()?,
    };
    // With jwtproxy verifiers, the config's API address is already loopback only.
    let api_addr = args.addr.clone().unwrap_or(cfg.api_addr.clone());
    let mut security = Security::from_config(&cfg, args)?;
    let health_addr = args.health_addr.clone().or(cfg.health_addr.clone());
    let introspection_addr = args
        .introspection_addr
        .clone()
        .or(cfg.introspection_addr.clone());
    let store = g.store()?;
    let fetch = FetchOptions {
        allow_link_local: cfg.allow_link_local_layers,
        ca_pem: security.outgoing_ca.clone(),
        ..FetchOptions::default()
    };
    let mut state = AppState::new(store.clone(), fetch)
        .context("loading the vulnerability data into memory")?
        .with_index_concurrency(cfg.index_concurrency)
        .with_pagination_key(cfg.pagination_key.as_deref())?;
    state.timeout = cfg.timeout;
    state.read_only = args.read_only || cfg.read_only;
    state.allow_local_layer_paths = cfg.allow_local_layer_paths;
    if let Some(p) = &cfg.psk {
        state.auth = Some(clair_http::auth::Psk::new(&p.key, &p.iss).map_err(anyhow::Error::msg)?);
    }
    if let Some((api, intraservice)) = &cfg.keyserver {
        let mut ks = clair_http::auth::KeyServerAuth::new(
            api,
            intraservice.as_deref(),
            security.agent.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        ks.tls = security.api_tls.is_some();
        state.keyserver = Some(Arc::new(ks));
    }
    if state.auth.is_none()
        && state.keyserver.is_none()
        && !args.insecure_no_auth
        && !is_loopback(&api_addr)
    {
        anyhow::bail!(
            "refusing to serve {api_addr} without authentication: configure auth.psk, \
             auth.keyserver or a jwtproxy verifier, listen on a loopback address \
             (--addr 127.0.0.1:6060), or pass --insecure-no-auth"
        );
    }
    tracing::info!(
        store = %store.describe(),
        records = state.live.current().len(),
        indexer_state = %state.indexer.state(),
        "clair serve starting"
    );

    // SQS/SNS (clair-sqs): `clair_rs.sqs` with its environment variables over it.
    let sqs_file = g.config.as_ref().map(|c| c.sqs_config()).transpose()?;
    let sqs =
        clair_sqs::Settings::resolve(&sqs_file.unwrap_or_default(), &|k| std::env::var(k).ok())?;
    if let Some(s) = &sqs
        && s.notification_topic.is_some()
        && cfg.notifier.endpoint.is_some()
    {
        tracing::warn!(
            "both SENDER_TOPIC_ARN and notifier.http.endpoint are set: each Clair v2 \
             notification goes to whichever takes it first; configure one of them"
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let notify_opts = clair_matcher::notify::NotifyOptions {
        disable_summary: cfg.notifier.disable_summary,
    };
    let v4_notifier =
        match cfg
            .notifier
            .webhook_target
            .clone()
            .filter(|t| !t.is_empty())
        {
            Some(target) => {
                use base64::Engine as _;
                let psk = match &cfg.psk {
                    Some(p) => Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(p.key.trim())
                            .context("auth.psk.key is not base64")?,
                    ),
                    None => None,
                };
                Some(clair_matcher::notify::Notifier {
                    callback: cfg.notifier.webhook_callback.clone().unwrap_or_else(|| {
                        format!("http://{api_addr}/notifier/api/v1/notification/")
                    }),
                    target,
                    headers: Vec::new(),
                    psk,
                    retry: cfg.notifier.delivery_interval,
                    timeout: Duration::from_secs(30),
                })
            }
            None => None,
        };
    let amqp_notifier = cfg
        .notifier
        .amqp
        .clone()
        .map(|a| clair_http::amqp::AmqpNotifier {
            uri: a.uri,
            exchange: a.exchange,
            routing_key: a.routing_key,
            direct: a.direct,
            rollup: a.rollup,
            callback: a
                .callback
                .unwrap_or_else(|| format!("http://{api_addr}/notifier/api/v1/notification/")),
            retry: cfg.notifier.delivery_interval,
        });
    let v2_notifier = cfg
        .notifier
        .endpoint
        .clone()
        .map(|endpoint| clair_matcher::notify::NotifierV2 {
            endpoint,
            proxy: cfg.notifier.proxy.clone(),
            attempts: cfg.notifier.attempts.max(1),
            backoff: Duration::from_secs(1),
            renotify: cfg.notifier.renotify_interval,
            authorize: None,
            ca_pem: security.outgoing_ca.clone(),
        })
        .map(|n| security.sign_notifier(n));
    {
        let store = store.clone();
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut last_gc = std::time::Instant::now();
            while !stop.load(Ordering::SeqCst) {
                if let Some(n) = &v4_notifier
                    && let Err(e) = n.deliver_due(store.as_ref())
                {
                    tracing::error!(error = %e, "delivering notifications");
                }
                if let Some(n) = &amqp_notifier
                    && let Err(e) = n.deliver_due(store.as_ref())
                {
                    tracing::error!(error = %e, "delivering notifications over AMQP");
                }
                if let Some(n) = &v2_notifier
                    && let Err(e) = n.deliver_due(store.as_ref())
                {
                    tracing::error!(error = %e, "delivering Clair v2 notifications");
                }
                if last_gc.elapsed() >= Duration::from_secs(3600) {
                    last_gc = std::time::Instant::now();
                    // Acknowledged notifications are kept a week, then removed.
                    let cutoff = jiff::Timestamp::now()
                        .checked_sub(jiff::SignedDuration::from_hours(24 * 7))
                        .unwrap_or_else(|_| jiff::Timestamp::now());
                    match store.gc_notifications(cutoff) {
                        Ok(n) if n > 0 => tracing::info!(removed = n, "old notifications removed"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "removing old notifications"),
                    }
                }
                for _ in 0..10 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }));
    }
    if let Some(keys) = security.auto_keys.take() {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || keys.run(&stop)));
    }
    let interval = cfg.updater_interval;
    if !args.no_updaters && !interval.is_zero() {
        let m = super::update::manager(g, Http::default(), args.keep)?;
        state.required_updaters = m.updaters().iter().map(|u| u.name().to_string()).collect();
        let ready = state.refresh().context("reading the updater status")?;
        tracing::debug!(rebuilt = ready, "readiness checked");
        let st = state.clone();
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let started = std::time::Instant::now();
                for r in m.run(None, &NoUpdateProgress) {
                    tracing::info!(updater = %r.updater, outcome = ?r.outcome, "update run");
                    if matches!(r.outcome, clair_matcher::Outcome::Updated { .. })
                        && let Err(e) = clair_matcher::notify::notify_update(
                            st.store.as_ref(),
                            &clair_ecosystems::EcosystemNamespaces,
                            &r.updater,
                            notify_opts,
                        )
                    {
                        tracing::error!(updater = %r.updater, error = %e, "computing notifications");
                    }
                    if matches!(r.outcome, clair_matcher::Outcome::Updated { .. })
                        && let Err(e) = clair_http::v1_notify::notify_v1(&st, &r.updater)
                    {
                        tracing::error!(updater = %r.updater, error = %e, "computing Clair v2 notifications");
                    }
                }
                if let Err(e) = st.refresh() {
                    tracing::error!(error = %e, "refreshing the matcher index");
                }
                while started.elapsed() < interval && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }));
    } else {
        tracing::info!("updaters disabled");
    }
    {
        let st = state.clone();
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut last = std::time::Instant::now();
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(500));
                if last.elapsed() >= REFRESH_EVERY {
                    last = std::time::Instant::now();
                    match st.refresh() {
                        Ok(true) => tracing::info!(
                            records = st.live.current().len(),
                            "matcher index rebuilt"
                        ),
                        Ok(false) => {}
                        Err(e) => tracing::error!(error = %e, "refreshing the matcher index"),
                    }
                }
            }
        }));
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let wait = move || {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|v| *v).await;
            }
        };
        let mut servers = tokio::task::JoinSet::new();
        let api = clair_http::api_router(state.clone());
        let api_listener = bind(&api_addr).await?;
        match &security.api_tls {
            Some(tls) => servers.spawn(clair_http::tls::serve_tls(
                api_listener,
                api,
                tls.clone(),
                wait(),
            )),
            None => servers.spawn(clair_http::serve_listener(api_listener, api, wait())),
        };
        for v in &security.verifiers {
            let mut st = state.clone();
            st.jwt = Some(v.verifier.clone());
            let router = clair_http::api_router(st);
            let l = bind(&v.addr).await?;
            match &v.tls {
                Some(tls) => servers.spawn(clair_http::tls::serve_tls(l, router, tls.clone(), wait())),
                None => servers.spawn(clair_http::serve_listener(l, router, wait())),
            };
        }
        let reloadable = security.reloadable();
        if let Some(addr) = &health_addr {
            let l = bind(addr).await?;
            servers.spawn(clair_http::serve_listener(
                l,
                clair_http::health::v2_health_router(state.clone()),
                wait(),
            ));
        }
        if let Some(addr) = &introspection_addr {
            let l = bind(addr).await?;
            servers.spawn(clair_http::serve_listener(
                l,
                clair_http::health::introspection_router(state.clone()),
                wait(),
            ));
        }
        let sqs = sqs.map(|s| tokio::spawn(clair_sqs::run(state.clone(), s, wait())));
        let signal = async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let mut term = signal(SignalKind::terminate())?;
                let mut hup = signal(SignalKind::hangup())?;
                loop {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => break,
                        _ = term.recv() => break,
                        _ = hup.recv() => {
                            // SIGHUP: read the certificates and keys again.
                            for t in &reloadable {
                                match t.reload() {
                                    Ok(()) => tracing::info!("TLS certificates reloaded"),
                                    Err(e) => tracing::error!(error = %e, "TLS reload failed; the old certificates stay"),
                                }
                            }
                        }
                    }
                }
            }
            #[cfg(not(unix))]
            tokio::signal::ctrl_c().await?;
            Ok::<(), std::io::Error>(())
        };
        tokio::select! {
            r = signal => {
                r.context("waiting for signals")?;
                tracing::info!("shutting down: finishing requests in flight");
            }
            Some(r) = servers.join_next() => {
                // A server stopped on its own: that is an error.
                r.context("server task")??;
            }
        }
        let _ = tx.send(true);
        while let Some(r) = servers.join_next().await {
            r.context("server task")??;
        }
        if let Some(t) = sqs {
            t.await.context("sqs pipeline")?;
        }
        Ok::<(), anyhow::Error>(())
    });
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Whether `addr` (`host:port`) only listens on the loopback interface.
fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn bind(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

/// One jwtproxy verifier listener.
struct VerifierListener {
    addr: String,
    verifier: Arc<clair_http::jwtproxy::Verifier>,
    tls: Option<Arc<clair_http::tls::Reloadable>>,
}

/// What the config's security sections set up: TLS for the API, jwtproxy verifiers in front
/// of it, the jwtproxy signer for outgoing notifications, the extra CA for outgoing calls.
struct Security {
    api_tls: Option<Arc<clair_http::tls::Reloadable>>,
    verifiers: Vec<VerifierListener>,
    signer: Option<Arc<clair_http::jwtproxy::Signer>>,
    /// `host:port` of jwtproxy's signer proxy: the notifier's `proxy` pointing there is replaced
    /// by signing in process.
    signer_addr: Option<String>,
    auto_keys: Option<clair_http::jwtproxy::AutoKeys>,
    outgoing_ca: Option<Arc<Vec<u8>>>,
    /// The HTTP agent for key servers (timeouts, the outgoing CA).
    agent: ureq::Agent,
}

fn tls_files(t: &clair_config::TlsFiles) -> clair_http::tls::TlsFiles {
    clair_http::tls::TlsFiles {
        cert: t.cert.clone(),
        key: t.key.clone(),
        client_ca: t.client_ca.clone(),
    }
}

impl Security {
    fn from_config(cfg: &clair_config::ServeConfig, args: &ServeArgs) -> anyhow::Result<Security> {
        use clair_http::jwtproxy::{AutoKeys, KeyRegistry, Signer, SigningKey, Verifier};
        let outgoing_ca = match &cfg.outgoing_ca {
            Some(p) => {
                Some(Arc::new(std::fs::read(p).with_context(|| {
                    format!("reading the CA bundle {}", p.display())
                })?))
            }
            None => None,
        };
        let mut agent_cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)));
        if let Some(pem) = &outgoing_ca {
            agent_cfg = agent_cfg
                .tls_config(clair_layer::fetch::tls_trusting(pem).map_err(anyhow::Error::msg)?);
        }
        let agent = ureq::Agent::new_with_config(agent_cfg.build());
        let api_tls = match &cfg.tls {
            Some(t) => Some(clair_http::tls::Reloadable::new(tls_files(t))?),
            None => None,
        };
        let mut verifiers = Vec::new();
        for (i, v) in cfg.jwtproxy.verifiers.iter().enumerate() {
            let verifier = Verifier::from_config(v, agent.clone())
                .map_err(|e| anyhow::anyhow!("jwtproxy.verifier_proxies.{i}: {e}"))?;
            let addr = match (&args.verifier_addr, i) {
                (Some(a), 0) => a.clone(),
                _ => v.listen_addr.clone(),
            };
            if !v.upstream.is_empty() {
                tracing::info!(
                    listen = %addr,
                    upstream = %v.upstream,
                    "jwtproxy verifier serves the API in process (the upstream is not contacted)"
                );
            }
            verifiers.push(VerifierListener {
                addr,
                verifier: Arc::new(verifier),
                tls: match &v.tls {
                    Some(t) => Some(clair_http::tls::Reloadable::new(tls_files(t))?),
                    None => None,
                },
            });
        }
        let mut signer = None;
        let mut auto_keys = None;
        let mut signer_addr = None;
        if let Some(s) = &cfg.jwtproxy.signer {
            let sg = Arc::new(Signer::new(
                &s.issuer,
                s.expiration_time,
                s.max_skew,
                s.nonce_length,
            ));
            match &s.private_key {
                clair_config::SignerKey::Preshared {
                    key_id,
                    private_key_path,
                } => {
                    let text = std::fs::read_to_string(private_key_path).with_context(|| {
                        format!(
                            "reading the jwtproxy signer key {} (jwtproxy.signer_proxy.signer.private_key.options.private_key_path)",
                            private_key_path.display()
                        )
                    })?;
                    let key = SigningKey::from_pem(&text, Some(key_id))
                        .map_err(|e| anyhow::anyhow!("{}: {e}", private_key_path.display()))?;
                    sg.set_key(Arc::new(key));
                }
                clair_config::SignerKey::Autogenerated {
                    rotate_every,
                    key_folder,
                    registry,
                } => {
                    auto_keys = Some(AutoKeys {
                        signer: sg.clone(),
                        registry: KeyRegistry::new(registry, agent.clone()),
                        key_folder: key_folder.clone(),
                        rotate_every: *rotate_every,
                        poll: Duration::from_secs(1),
                    });
                }
            }
            signer_addr = Some(s.listen_addr.clone());
            signer = Some(sg);
        }
        Ok(Security {
            api_tls,
            verifiers,
            signer,
            signer_addr,
            auto_keys,
            outgoing_ca,
            agent,
        })
    }

    /// The TLS configurations SIGHUP reloads.
    fn reloadable(&self) -> Vec<Arc<clair_http::tls::Reloadable>> {
        self.api_tls
            .iter()
            .chain(self.verifiers.iter().filter_map(|v| v.tls.as_ref()))
            .cloned()
            .collect()
    }

    /// Sign the Clair v2 webhook with the jwtproxy signer; a `proxy` that names the signer
    /// proxy's port is dropped (the signing it did happens here).
    fn sign_notifier(
        &self,
        mut n: clair_matcher::notify::NotifierV2,
    ) -> clair_matcher::notify::NotifierV2 {
        let Some(signer) = self.signer.clone() else {
            return n;
        };
        let signer_port = self
            .signer_addr
            .as_deref()
            .and_then(|a| a.rsplit_once(':'))
            .map(|(_, p)| p.to_string());
        if let (Some(proxy), Some(port)) = (&n.proxy, &signer_port) {
            let hostport = proxy
                .split_once("://")
                .map_or(proxy.as_str(), |(_, r)| r)
                .trim_end_matches('/');
            if hostport.rsplit_once(':').is_some_and(|(h, p)| {
                p == port && (h == "localhost" || h.starts_with("127.") || h == "[::1]")
            }) {
                n.proxy = None;
            }
        }
        n.authorize = Some(clair_matcher::notify::Authorize(Arc::new(
            move |url: &str| signer.authorization(url),
        )));
        n
    }
}
