//! `clair index IMAGE`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clair_layer::ExtractLimits;
use clair_layer::source::{self, OpenOptions};

use crate::cli::{Format, ImageArgs, IndexArgs};
use crate::commands::Global;
use crate::output;
use crate::progress::Bar;

/// Open and index an image (stored layer results and reports are reused).
pub fn index_image(
    o: &ImageArgs,
    store: &std::sync::Arc<dyn clair_store::Store>,
    quiet: bool,
) -> anyhow::Result<(clair_layer::Image, clair_indexer::Indexed)> {
    let limits = ExtractLimits {
        max_file_size: o.max_file_size,
        ..ExtractLimits::default()
    };
    let mut indexer = clair_ecosystems::default_indexer()
        .with_limits(limits)
        .with_cache(std::sync::Arc::new(clair_store::StoreCache::new(
            store.clone(),
        )));
    if let Some(j) = o.jobs {
        indexer = indexer.with_parallelism(j);
    }
    // Layers pulled from a registry live here until indexing is done.
    let pulled = tempfile::Builder::new()
        .prefix("clair-pull-")
        .tempdir()
        .context("creating a temporary directory")?;
    let image = if is_registry_reference(&o.image) {
        let opts = registry_options(o);
        let r = o.image.strip_prefix("docker://").unwrap_or(&o.image);
        source::registry::pull(r, &opts, pulled.path(), &|d| indexer.is_cached(d))
            .with_context(|| format!("pulling {r}"))?
    } else {
        let mut opts = OpenOptions::default();
        if let Some(p) = &o.platform {
            opts.platform = Some(p.parse()?);
        }
        source::open(&o.image, &opts).with_context(|| format!("opening {}", o.image))?
    };
    tracing::info!(image = %image.reference, format = %image.format, layers = image.layers.len(), "image opened");
    let bar = Bar::new(image.total_size(), image.layers.len(), quiet);
    let (indexed, origin) = clair_store::index_image(store.as_ref(), &indexer, &image, &bar)
        .with_context(|| format!("indexing {}", o.image))?;
    bar.finish();
    tracing::info!(?origin, store = %store.describe(), "index report");
    for w in &indexed.warnings {
        tracing::warn!("{w}");
    }
    tracing::info!(
        packages = indexed.report.packages.len(),
        layers_read = indexed.stats.layers_read,
        layers_cached = indexed.stats.layers_cached,
        bytes = indexed.stats.bytes_read,
        "indexed"
    );
    Ok((image, indexed))
}

/// `docker://…`, or something that is no existing path and parses as a registry reference.
fn is_registry_reference(s: &str) -> bool {
    if s.starts_with("docker://") {
        return true;
    }
    let transport = s.split_once(':').map(|(t, _)| t);
    if matches!(
        transport,
        Some("oci" | "oci-archive" | "docker-archive" | "dir")
    ) {
        return false;
    }
    let path_part = s.rsplit_once(':').map_or(s, |(p, _)| p);
    !std::path::Path::new(s).exists()
        && !std::path::Path::new(path_part).exists()
        && source::looks_like_registry_ref(s)
        && source::registry::parse_reference(s).is_some()
}

/// Registry settings from flags and the environment (klar's variables included).
pub fn registry_options(o: &ImageArgs) -> source::registry::RegistryOptions {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let user = o.username.clone().or_else(|| env("DOCKER_USER"));
    let password = o.password.clone().or_else(|| env("DOCKER_PASSWORD"));
    source::registry::RegistryOptions {
        credentials: user.map(|username| source::registry::Credentials {
            username,
            password: password.unwrap_or_default(),
        }),
        authorization: env("DOCKER_TOKEN").map(|t| format!("Basic {t}")),
        insecure: o.insecure,
        platform: o.platform.clone(),
        docker_config: None,
        ca_file: o.ca_file.clone(),
    }
}

pub fn run(args: &IndexArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let (image, indexed) = index_image(&args.image, &store, g.quiet)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &indexed.report)?;
            writeln!(out)?;
        }
        Format::Table => output::index_table(&mut out, &image, &indexed)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
