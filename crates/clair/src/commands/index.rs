//! `clair index IMAGE`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clair_layer::ExtractLimits;
use clair_layer::source::{self, OpenOptions};

use crate::cli::{ImageArgs, IndexArgs, IndexFormat};
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
        max_file_size: o.read.max_file_size,
        ..ExtractLimits::default()
    };
    let mut indexer = clair_ecosystems::default_indexer()
        .with_limits(limits)
        .with_cache(std::sync::Arc::new(clair_store::StoreCache::new(
            store.clone(),
        )));
    if let Some(j) = o.read.jobs {
        indexer = indexer.with_parallelism(j);
    }
    if let Some(path) = o.image.strip_prefix("sbom:") {
        return index_sbom(path);
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
        if let Some(p) = &o.read.platform {
            opts.platform = Some(p.parse()?);
        }
        source::open(&o.image, &opts).with_context(|| format!("opening {}", o.image))?
    };
    tracing::info!(image = %image.reference, format = %image.format, layers = image.layers.len(), "image opened");
    let bar = Bar::new(image.total_size(), image.layers.len(), quiet);
    let (indexed, origin) = clair_service::index_image(store.as_ref(), &indexer, &image, &bar)
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

/// Largest SBOM read.
const MAX_SBOM: u64 = 256 << 20;

/// `sbom:FILE`: the packages a CycloneDX or SPDX document lists, as an index report built
/// the way an image's is (one "layer": the document, named by its digest).
fn index_sbom(path: &str) -> anyhow::Result<(clair_layer::Image, clair_indexer::Indexed)> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("opening the SBOM {path}"))?;
    let mut data = Vec::new();
    f.take(MAX_SBOM + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("reading the SBOM {path}"))?;
    if data.len() as u64 > MAX_SBOM {
        anyhow::bail!("{path}: the SBOM is over {MAX_SBOM} bytes");
    }
    let sbom = clair_sbom::parse(&data).with_context(|| format!("reading the SBOM {path}"))?;
    let digest = clair_types::Digest::sha256_of(&data);
    tracing::info!(
        sbom = path,
        format = %sbom.format,
        packages = sbom.packages.len(),
        unsupported = sbom.unsupported,
        "SBOM read"
    );
    if sbom.unsupported > 0 {
        tracing::info!(
            components = sbom.unsupported,
            "SBOM components without a purl of a matched ecosystem were left out"
        );
    }
    let layers = vec![digest.clone()];
    let report = clair_indexer::build_report(
        digest.clone(),
        &layers,
        sbom.distribution.clone(),
        sbom.packages.iter().map(|p| (0, p)),
    );
    let warnings = sbom
        .warnings
        .iter()
        .map(|w| format!("{path}: {w}: left out"))
        .collect::<Vec<_>>();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let image = clair_layer::Image::from_layers(
        &format!("sbom:{path}"),
        clair_layer::source::ImageFormat::Sbom,
        Some(digest),
        Vec::new(),
    );
    Ok((
        image,
        clair_indexer::Indexed {
            report,
            layers,
            stats: clair_indexer::IndexStats::default(),
            warnings,
        },
    ))
}

/// `docker://…`, or something that is no existing path and parses as a registry reference.
fn is_registry_reference(s: &str) -> bool {
    if s.starts_with("docker://") {
        return true;
    }
    if source::unknown_transport(s).is_some() {
        return false;
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
    let user = o.read.username.clone().or_else(|| env("DOCKER_USER"));
    let password = o.read.password.clone().or_else(|| env("DOCKER_PASSWORD"));
    source::registry::RegistryOptions {
        credentials: user.map(|username| source::registry::Credentials {
            username,
            password: password.unwrap_or_default(),
        }),
        authorization: env("DOCKER_TOKEN").map(|t| format!("Basic {t}")),
        insecure: o.read.insecure,
        platform: o.read.platform.clone(),
        docker_config: None,
        ca_file: o.read.ca_file.clone(),
    }
}

pub fn run(args: &IndexArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let (image, indexed) = index_image(&args.image, &store, g.quiet)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        IndexFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &indexed.report)?;
            writeln!(out)?;
        }
        IndexFormat::Table => output::index_table(&mut out, &image, &indexed)?,
        IndexFormat::Spdx => output::write_json(
            &mut out,
            &output::spdx(
                &image.reference,
                &output::without_vulnerabilities(&indexed.report),
            ),
        )?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
