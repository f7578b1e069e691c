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
    let api_addr = args.addr.clone().unwrap_or(cfg.api_addr.clone());
    let health_addr = args.health_addr.clone().or(cfg.health_addr.clone());
    let introspection_addr = args
        .introspection_addr
        .clone()
        .or(cfg.introspection_addr.clone());
    let store = g.store()?;
    let fetch = FetchOptions {
        allow_link_local: cfg.allow_link_local_layers,
        ..FetchOptions::default()
    };
    let mut state = AppState::new(store.clone(), fetch)
        .context("loading the vulnerability data into memory")?
        .with_index_concurrency(cfg.index_concurrency)
        .with_pagination_key(cfg.pagination_key.as_deref())?;
    state.timeout = cfg.timeout;
    state.read_only = args.read_only || cfg.read_only;
    if let Some(p) = &cfg.psk {
        state.auth = Some(clair_http::auth::Psk::new(&p.key, &p.iss).map_err(anyhow::Error::msg)?);
    }
    if state.auth.is_none() && !args.insecure_no_auth && !is_loopback(&api_addr) {
        anyhow::bail!(
            "refusing to serve {api_addr} without authentication: configure auth.psk, listen on \
             a loopback address (--addr 127.0.0.1:6060), or pass --insecure-no-auth"
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
    let v2_notifier =
        cfg.notifier
            .endpoint
            .clone()
            .map(|endpoint| clair_matcher::notify::NotifierV2 {
                endpoint,
                proxy: cfg.notifier.proxy.clone(),
                attempts: cfg.notifier.attempts.max(1),
                backoff: Duration::from_secs(1),
                renotify: cfg.notifier.renotify_interval,
            });
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
        servers.spawn(clair_http::serve_listener(api_listener, api, wait()));
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
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
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
