//! `clair serve`: the API servers, the updater schedule and the matcher index refresh.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clair_http::{AppState, FetchOptions};
use clair_matcher::Http;
use clair_service::NoUpdateProgress;

use super::Global;
use crate::cli::ServeArgs;

/// How long shutdown waits for background threads once they are told to stop.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// How often the matcher index checks for data another instance stored.
const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How often the notifier computes pending notifications and delivers due ones.
const NOTIFY_EVERY: Duration = Duration::from_secs(2);

pub fn run(args: &ServeArgs, g: &Global) -> anyhow::Result<ExitCode> {
    if args.cpu_profile.is_some() || args.mem_profile.is_some() {
        tracing::warn!("Clair's profiling flags are accepted and ignored");
    }
    let cfg = match &g.config {
        Some(c) => {
            for w in super::config_warnings(c) {
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
    let mode = args.mode;
    let remote = cfg.remote_services(mode).map_err(|e| match &g.config {
        Some(c) => anyhow::anyhow!("config {}: {e}", c.path.display()),
        None => anyhow::anyhow!("{e}; give a config file with -config"),
    })?;
    // clair-rs's own defaults (no config file) never open an unauthenticated API to the
    // network; a Clair config that asks for it (a Clair v2 behind a separate jwtproxy, klar on
    // a private network) is served as asked, loudly. Refused before waiting for any database.
    let unauthenticated_public =
        cfg.psk.is_none() && cfg.keyserver.is_none() && !is_loopback(&api_addr);
    if unauthenticated_public && g.config.is_none() && !args.insecure_no_auth {
        anyhow::bail!(
            "refusing to serve {api_addr} without authentication: configure auth.psk, \
             auth.keyserver or a jwtproxy verifier in a config file, listen on a loopback \
             address (--addr 127.0.0.1:6060), or pass --insecure-no-auth"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // SIGTERM or SIGINT, from the start: it ends the wait for the database, cancels updater
    // downloads and stops the servers.
    let shutdown = clair_matcher::Cancel::new();
    let (signalled_tx, signalled) = tokio::sync::watch::channel(false);
    {
        let shutdown = shutdown.clone();
        rt.spawn(async move {
            match terminated().await {
                Ok(()) => {
                    tracing::info!("shutting down: finishing requests in flight");
                    shutdown.cancel();
                    let _ = signalled_tx.send(true);
                }
                // The signals keep their default action (the process ends at once); the
                // sender stays open, so nothing reads this as a shutdown.
                Err(e) => {
                    tracing::error!(error = %e, "SIGTERM and SIGINT cannot be handled");
                    let _open = signalled_tx;
                    std::future::pending::<()>().await;
                }
            }
        });
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let wait = move || {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };
    // The introspection listener first: /readyz answers "not ready" while the database is
    // waited for and the vulnerability data loads.
    let introspection_router = Arc::new(std::sync::OnceLock::new());
    let introspection = match &introspection_addr {
        Some(addr) => {
            let l = rt.block_on(bind(addr))?;
            Some(rt.spawn(clair_http::serve_listener(
                l,
                clair_http::health::starting_router(introspection_router.clone()),
                wait(),
            )))
        }
        None => None,
    };
    // Each service its own section's database; --db or CLAIR_DATABASE_SOURCE over all.
    let source = match &g.db {
        Some(db) => db.clone(),
        None => cfg.database_for(mode).to_string(),
    };
    let Some(store) = g.store_waiting(source, &shutdown)? else {
        let _ = tx.send(true);
        if let Some(t) = introspection {
            rt.block_on(t).context("introspection server")??;
        }
        return Ok(ExitCode::SUCCESS);
    };
    if mode == clair_config::Mode::Combo && g.db.is_none() {
        let d = &cfg.databases;
        if d.indexer != d.matcher || d.indexer != d.notifier {
            tracing::warn!(
                database = %clair_config::redact_source(&cfg.database),
                "combo mode keeps everything in one database: the indexer's connstring is used, \
                 the matcher's and notifier's differ and are not; run -mode indexer, matcher \
                 and notifier to use separate databases"
            );
        }
    }
    let intraservice = intraservice_key(&cfg)?;
    let client_opts = clair_http::remote::ClientOptions {
        key: intraservice.clone(),
        ca_pem: security.outgoing_ca.clone(),
        timeout: None,
    };
    let fetch = FetchOptions {
        allow_link_local: cfg.allow_link_local_layers,
        ca_pem: security.outgoing_ca.clone(),
        insecure_tls: args.insecure_tls,
        ..FetchOptions::default()
    };
    if args.insecure_tls {
        tracing::warn!("layer downloads do not verify TLS certificates (-insecure-tls)");
    }
    let mut state = AppState::for_mode(store.clone(), fetch, mode)
        .context("loading the vulnerability data into memory")?
        .with_index_concurrency(cfg.index_concurrency.unwrap_or(0))
        .with_pagination_key(cfg.pagination_key.as_deref())?;
    if let Some(addr) = &remote.indexer
        && mode == clair_config::Mode::Matcher
    {
        state.remote_indexer = Some(Arc::new(
            clair_http::remote::RemoteIndexer::new(addr, client_opts.clone())
                .map_err(|e| anyhow::anyhow!("matcher.indexer_addr {addr}: {e}"))?,
        ));
    }
    state.timeout = cfg.timeout;
    state.cache_age = cfg.cache_age;
    state.read_only = args.read_only || cfg.read_only;
    state.allow_local_layer_paths = cfg.allow_local_layer_paths;
    if let Some(p) = &cfg.psk {
        state.auth = Some(
            clair_http::auth::Psk::new(&p.key, &p.iss)
                .map_err(|e| anyhow::anyhow!("auth.psk.key: {e}"))?,
        );
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
    if unauthenticated_public {
        tracing::warn!(
            addr = %api_addr,
            "THE API IS SERVED WITHOUT AUTHENTICATION on a non-loopback address: anyone who \
             reaches it can index, delete and read reports (set auth.psk, or a jwtproxy \
             verifier, to require tokens)"
        );
        state
            .metrics
            .unauthenticated_public
            .store(true, Ordering::SeqCst);
    }
    tracing::info!(
        %mode,
        store = %store.describe(),
        records = state.live.current().len(),
        indexer_state = %state.indexer.state(),
        "clair serve starting"
    );

    // SQS/SNS (clair-sqs): `clair_rs.sqs` with its environment variables over it.
    let sqs_file = g.config.as_ref().map(|c| c.sqs_config()).transpose()?;
    let mut sqs =
        clair_sqs::Settings::resolve(&sqs_file.unwrap_or_default(), &|k| std::env::var(k).ok())?;
    if sqs.is_some() && mode != clair_config::Mode::Combo {
        tracing::warn!(%mode, "the SQS/SNS pipeline runs in combo mode only; not started");
        sqs = None;
    }
    if let Some(s) = &sqs
        && s.notification_topic.is_some()
        && cfg.notifier.endpoint.is_some()
    {
        tracing::warn!(
            "both SENDER_TOPIC_ARN and notifier.http.endpoint are set: each Clair v2 \
             notification goes to both, and is acknowledged once published to SNS (the \
             webhook is not repeated every renotifyinterval)"
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    // The notifier (combo and notifier mode): computes the notifications of update
    // operations and delivers them through the senders configured. Combo mode takes the jobs
    // its store's updates enqueued (whoever stored them); notifier mode polls the matcher
    // service and asks the indexer service which manifests an update affects.
    let senders = if mode.notifier() {
        senders(&cfg, &security, &api_addr, &state, sqs.as_ref())?
    } else {
        Vec::new()
    };
    if senders.is_empty() {
        if mode.notifier() {
            tracing::info!("no notification senders configured; notifications are not computed");
        }
    } else {
        let mut notifier = clair_service::notify::Notifier::new(
            state.clone(),
            senders,
            clair_service::notify::Options {
                disable_summary: cfg.notifier.disable_summary,
            },
        );
        if mode == clair_config::Mode::Notifier {
            let (Some(indexer), Some(matcher)) = (&remote.indexer, &remote.matcher) else {
                anyhow::bail!(
                    "notifier mode needs notifier.indexer_addr and notifier.matcher_addr"
                );
            };
            let source = clair_http::remote::RemoteSource {
                indexer: clair_http::remote::RemoteIndexer::new(indexer, client_opts.clone())
                    .map_err(|e| anyhow::anyhow!("notifier.indexer_addr {indexer}: {e}"))?,
                matcher: clair_http::remote::RemoteMatcher::new(matcher, client_opts.clone())
                    .map_err(|e| anyhow::anyhow!("notifier.matcher_addr {matcher}: {e}"))?,
            };
            let every = cfg.notifier.poll_interval.max(Duration::from_secs(1));
            tracing::info!(indexer = %indexer, matcher = %matcher, every = ?every,
                "notifier polls the matcher");
            notifier = notifier.with_remote(Arc::new(source), every);
        }
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            notifier.run(&stop, NOTIFY_EVERY);
        }));
    }
    if let Some(keys) = security.auto_keys.take() {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || keys.run(&stop)));
    }
    let interval = cfg.updater_interval;
    if mode.matcher() && !args.no_updaters && !interval.is_zero() {
        let m = super::update::manager_on(store.clone(), g, Http::default(), args.keep)?
            .with_cancel(shutdown.clone());
        state.required_updaters = m.updaters().iter().map(|u| u.name().to_string()).collect();
        let ready = state.refresh().context("reading the updater status")?;
        tracing::debug!(rebuilt = ready, "readiness checked");
        let st = state.clone();
        let stop = stop.clone();
        let shutdown = shutdown.clone();
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let started = std::time::Instant::now();
                let reports = m.run(None, &NoUpdateProgress);
                if shutdown.is_cancelled() {
                    break;
                }
                for r in reports {
                    tracing::info!(updater = %r.updater, outcome = ?r.outcome, "update run");
                }
                if let Err(e) = st.refresh() {
                    tracing::error!(error = %e, "refreshing the matcher index");
                }
                while started.elapsed() < interval && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }));
    } else if mode.matcher() {
        tracing::info!("updaters disabled");
    }
    if mode.matcher() {
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

    let result = rt.block_on(async move {
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
        // Every listener is bound: the introspection server answers for real from now on.
        let _ = introspection_router.set(clair_http::health::introspection_router(state.clone()));
        if let Some(t) = introspection {
            servers.spawn(async move {
                t.await
                    .unwrap_or_else(|e| Err(clair_http::Error::Config(e.to_string())))
            });
        }
        let sqs = sqs.map(|s| tokio::spawn(clair_sqs::run(state.clone(), s, wait())));
        let signal = async {
            let mut signalled = signalled;
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let mut hup = signal(SignalKind::hangup())?;
                loop {
                    tokio::select! {
                        _ = signalled.wait_for(|v| *v) => break,
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
            let _ = signalled.wait_for(|v| *v).await;
            Ok::<(), std::io::Error>(())
        };
        tokio::select! {
            r = signal => {
                r.context("waiting for signals")?;
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
    shutdown.cancel();
    // Cancelled work ends within moments; what may not (a matcher index being rebuilt, a
    // webhook call) only reads, or is recorded when it ends, so it is left to the exit after a
    // short wait. Nothing commits half: an open transaction rolls back when the process ends.
    let deadline = std::time::Instant::now() + SHUTDOWN_WAIT;
    while threads.iter().any(|t| !t.is_finished()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let running = threads.iter().filter(|t| !t.is_finished()).count();
    if running > 0 {
        tracing::info!(threads = running, "exiting with background work unfinished");
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The key intra-service requests are signed with: `auth.psk.key`, or Clair v4.0's
/// `auth.keyserver.intraservice` (both standard base64); `None` without authentication.
fn intraservice_key(cfg: &clair_config::ServeConfig) -> anyhow::Result<Option<Arc<Vec<u8>>>> {
    use base64::Engine as _;
    let (b64, field) = match (&cfg.psk, &cfg.keyserver) {
        (Some(p), _) => (p.key.as_str(), "auth.psk.key"),
        (None, Some((_, Some(k)))) => (k.as_str(), "auth.keyserver.intraservice"),
        _ => return Ok(None),
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .with_context(|| format!("{field} is not base64"))?;
    Ok(Some(Arc::new(key)))
}

/// The notification senders the config asks for: Clair v4's webhook and AMQP, Clair v2's
/// webhook, clair-sqs's SNS topic.
fn senders(
    cfg: &clair_config::ServeConfig,
    security: &Security,
    api_addr: &str,
    state: &AppState,
    sqs: Option<&clair_sqs::Settings>,
) -> anyhow::Result<Vec<Arc<dyn clair_service::notify::Sender>>> {
    use clair_service::notify::{amqp, webhook};
    let n = &cfg.notifier;
    let default_callback = || format!("http://{api_addr}/notifier/api/v1/notification/");
    let mut out: Vec<Arc<dyn clair_service::notify::Sender>> = Vec::new();
    if let Some(target) = n.webhook_target.clone().filter(|t| !t.is_empty()) {
        use base64::Engine as _;
        let psk = match &cfg.psk {
            Some(p) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(p.key.trim())
                    .context("auth.psk.key is not base64")?,
            ),
            None => None,
        };
        out.push(Arc::new(
            webhook::Webhook::new(webhook::WebhookConfig {
                callback: n.webhook_callback.clone().unwrap_or_else(default_callback),
                target,
                headers: n.webhook_headers.clone(),
                psk,
                retry: n.delivery_interval,
                timeout: Duration::from_secs(30),
                ca_pem: security.outgoing_ca.clone(),
            })
            .context("notifier.webhook")?,
        ));
    }
    if let Some(a) = n.amqp.clone() {
        out.push(Arc::new(amqp::Amqp {
            uri: a.uri,
            exchange: a.exchange,
            routing_key: a.routing_key,
            direct: a.direct,
            rollup: a.rollup,
            callback: a.callback.unwrap_or_else(default_callback),
            retry: n.delivery_interval,
        }));
    }
    if let Some(endpoint) = n.endpoint.clone() {
        let v2 = security.sign_notifier(webhook::WebhookV2Config {
            endpoint,
            proxy: n.proxy.clone(),
            attempts: n.attempts.max(1),
            backoff: Duration::from_secs(1),
            renotify: n.renotify_interval,
            authorize: None,
            ca_pem: security.outgoing_ca.clone(),
            client_tls: n.http_tls.as_ref().map(|t| webhook::ClientTls {
                cert: t.cert.clone(),
                key: t.key.clone(),
                ca: t.ca.clone(),
                server_name: t.server_name.clone(),
            }),
        });
        out.push(Arc::new(
            webhook::WebhookV2::new(v2).context("notifier.http")?,
        ));
    }
    if let Some(s) = sqs
        && let Some(sns) = clair_sqs::SnsSender::new(state.clone(), s)?
    {
        out.push(Arc::new(sns));
    }
    Ok(out)
}

/// SIGTERM or SIGINT.
async fn terminated() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
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
    /// The HTTP client for key servers (timeouts, the outgoing CA).
    agent: clair_net::Client,
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
        let mut client = clair_net::Client::builder().total_timeout(Duration::from_secs(10));
        if let Some(pem) = &outgoing_ca {
            client = client
                .ca_pem(pem)
                .context("the outgoing CA bundle (key servers)")?;
        }
        let agent = client.build();
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
        mut n: clair_service::notify::webhook::WebhookV2Config,
    ) -> clair_service::notify::webhook::WebhookV2Config {
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
        n.authorize = Some(clair_service::notify::webhook::Authorize(Arc::new(
            move |url: &str| signer.authorization(url),
        )));
        n
    }
}
