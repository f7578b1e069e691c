//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Static vulnerability analysis for container images.
///
/// Also starts the server the way Clair's own images and manifests do: `clair -config FILE
/// [-log-level LEVEL]` (Clair v2) and `clair -conf FILE [-mode combo]` (Clair v4; or with
/// `CLAIR_CONF` set and no command) are `clair serve` with that config.
#[derive(Debug, Parser)]
#[command(
    name = "clair",
    version = crate::build_info::SHORT,
    long_version = crate::build_info::LONG,
    about,
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). CLAIR_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bar.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log level, as Clair's `-log-level` flag and v4 `log_level` key spell it: trace, debug,
    /// debug-color, info, warn, error, fatal, panic (the last two: errors only). Used when
    /// neither -v nor -q is given; CLAIR_LOG overrides it. Also accepted as -log-level.
    #[arg(long, global = true, value_name = "LEVEL", value_parser = parse_log_level)]
    pub log_level: Option<&'static str>,
    /// A Clair config file (1.2, 2.x or v4 layout, with its `<FILE>.d/` drop-ins); its
    /// database source is used unless --db or CLAIR_DATABASE_SOURCE says otherwise. Also
    /// accepted as -config / -conf.
    #[arg(long, global = true, env = "CLAIR_CONF", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Database: a SQLite file (default: ~/.local/share/clair/clair.db), or PostgreSQL as a URL
    /// (postgresql://user@host:5432/db?sslmode=disable) or libpq key=value string.
    #[arg(
        long,
        global = true,
        env = "CLAIR_DATABASE_SOURCE",
        value_name = "PATH|URL"
    )]
    pub db: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// A log level as Clair spells it (logrus for v2, Clair v4's `log_level`), as a tracing filter.
pub fn parse_log_level(s: &str) -> Result<&'static str, String> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" | "debug-color" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "fatal" | "panic" => "error",
        other => {
            return Err(format!(
                "unknown log level {other:?} (want trace, debug, info, warn, error, fatal or panic)"
            ));
        }
    })
}

/// Clair's own flags (Go's flag package: one or two dashes, `-f value` or `-f=value`) and the
/// clair-rs option each one is.
const UPSTREAM_FLAGS: &[(&str, &str)] = &[
    ("config", "--config"),
    ("conf", "--config"),
    ("log-level", "--log-level"),
    ("mode", "--mode"),
    ("insecure-tls", "--insecure-tls"),
    ("cpu-profile", "--cpu-profile"),
    ("cpuprofile", "--cpu-profile"),
    ("memprofile", "--mem-profile"),
];

/// Options (in their clair-rs spelling) that take a separate value, for finding the command
/// among the arguments.
const TAKES_VALUE: &[&str] = &[
    "--config",
    "--db",
    "--log-level",
    "--mode",
    "--cpu-profile",
    "--mem-profile",
    "--addr",
    "--health-addr",
    "--introspection-addr",
    "--verifier-addr",
    "--keep",
];

/// Accept Clair's own command lines, which clap does not: the single-dash spellings of its
/// flags (`clair -config FILE`, `-conf`, `-log-level`, `-mode`, `-insecure-tls`), and a command
/// line with no command at all (`clair -conf FILE -mode combo`, or just `clair` with
/// `CLAIR_CONF` set, as Clair v4's image runs it), which is `clair serve`.
pub fn normalize_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    clair_conf_set: bool,
) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = args
        .into_iter()
        .map(|a| {
            let Some(s) = a.to_str() else { return a };
            let Some(flag) = s.strip_prefix('-') else {
                return a;
            };
            let flag = flag.strip_prefix('-').unwrap_or(flag);
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (flag, None),
            };
            match UPSTREAM_FLAGS.iter().find(|(n, _)| *n == name) {
                Some((_, ours)) => match value {
                    Some(v) => format!("{ours}={v}").into(),
                    None => (*ours).into(),
                },
                None => a,
            }
        })
        .collect();
    if out.len() > 1 && !has_command(&out[1..]) {
        let rest: Vec<&str> = out[1..].iter().filter_map(|a| a.to_str()).collect();
        let asks_help = rest
            .iter()
            .any(|a| matches!(*a, "-h" | "--help" | "-V" | "--version"));
        let upstream = rest.iter().any(|a| {
            UPSTREAM_FLAGS
                .iter()
                .any(|(_, ours)| a == ours || a.starts_with(&format!("{ours}=")))
        });
        if !asks_help && (upstream || clair_conf_set) {
            out.insert(1, "serve".into());
        }
    } else if out.len() == 1 && clair_conf_set {
        out.push("serve".into());
    }
    out
}

/// Whether the arguments (after the program name) name a command: a first word that is not an
/// option or an option's value.
fn has_command(args: &[std::ffi::OsString]) -> bool {
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        let Some(s) = a.to_str() else { return true };
        if s.starts_with('-') {
            skip = TAKES_VALUE.contains(&s);
            continue;
        }
        return true;
    }
    false
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the distribution and installed packages of an image (a Clair v4 IndexReport).
    ///
    /// IMAGE is one of:
    ///   oci:PATH[:REF]              OCI image layout (REF: org.opencontainers.image.ref.name)
    ///   oci-archive:PATH[:REF]      OCI image layout in a tar
    ///   docker-archive:PATH[:REF]   `docker save` tar, plain or compressed (REF: repo:tag or @N)
    ///   dir:PATH                    unpacked root filesystem (e.g. dir:/)
    ///   sbom:FILE                   CycloneDX (1.4-1.6) or SPDX 2.3 JSON: its packages by purl
    ///   PATH                        any of the above or a single layer tarball, detected
    ///   [docker://]REGISTRY/REPO[:TAG|@DIGEST]   an image in a registry
    #[command(verbatim_doc_comment)]
    Index(IndexArgs),
    /// Fetch vulnerability feeds and store them (once); show their status; move them offline.
    ///
    /// Without a subcommand, runs the configured updaters once (updaters.sets / updaters.config
    /// of --config, all of them by default) and prints a summary. Exit code 1 if any failed.
    #[command(args_conflicts_with_subcommands = true)]
    Update(UpdateArgs),
    /// Index an image and match it against the stored vulnerability data, in one command.
    ///
    /// IMAGE as for `clair index`. Needs vulnerability data: run `clair update` first (or
    /// `clair update import` offline). With no data for the image's distribution or language
    /// ecosystems, scan fails loudly instead of reporting a clean image.
    ///
    /// Exit codes: 0 done (nothing at or above --severity-threshold, or --exit-code 0);
    /// N (--exit-code N) vulnerabilities at or above the threshold were found;
    /// 1 an error; 3 no vulnerability data covers the image (see --allow-missing-data).
    #[command(verbatim_doc_comment)]
    Scan(ScanArgs),
    /// Show why an image is (or is not) affected by one vulnerability: the packages, the
    /// layer that introduced each, its database, the feed records and each version comparison.
    Explain(ExplainArgs),
    /// Compare two images (or two stored `scan --format json` reports): vulnerabilities fixed,
    /// introduced and unchanged, by package and layer.
    ///
    /// OLD and NEW are images as for `clair scan`, or JSON files written by
    /// `clair scan --format json`. Exit codes: 0 done; N (--exit-code N) when something at or
    /// above --fail-on was introduced; 1 an error; 3 no vulnerability data covers an image.
    #[command(verbatim_doc_comment)]
    Diff(DiffArgs),
    /// Inspect Clair config files.
    Config(ConfigArgs),
    /// Ask a running Clair server about an image in a registry (what clairctl and klar do).
    ///
    /// Resolves IMAGE in its registry, sends the manifest with layer URLs and the registry's
    /// authorization to the server (Clair v4 API, or `--api v1` for Clair v2 servers), and
    /// prints the report with the formats and thresholds of `clair scan`. klar's environment
    /// works: CLAIR_ADDR, CLAIR_OUTPUT (minimum severity), CLAIR_THRESHOLD (exit 1 when more
    /// vulnerabilities than this remain), IGNORE_UNFIXED, JSON_OUTPUT, DOCKER_USER,
    /// DOCKER_PASSWORD, DOCKER_TOKEN.
    #[command(verbatim_doc_comment)]
    Report(ReportArgs),
    /// Run the Clair server: the Clair v4 indexer and matcher API, health and metrics, and the
    /// updaters on their schedule.
    ///
    /// Takes Clair's own config files unchanged (`-config FILE`, 1.2, 2.x or v4 layout, with
    /// v4 drop-ins in `FILE.d/`; see `clair config check`). Listens on `clair.api.port` (v2
    /// layout; health on `clair.api.healthport`) or `http_listen_addr` (v4; `/healthz`,
    /// `/readyz`, `/metrics` on `introspection_addr`). Waits for an unreachable PostgreSQL
    /// (retrying with backoff, /readyz not ready meanwhile). Stops on SIGTERM or Ctrl-C:
    /// requests in flight finish, updater downloads are cancelled.
    ///
    /// Clair's own command lines start it too: `clair -config FILE [-log-level L]` (v2),
    /// `clair -conf FILE [-mode combo]` (v4), or `clair` with CLAIR_CONF set.
    ///
    /// Without a config file, it refuses to serve a non-loopback address without
    /// authentication (unless --insecure-no-auth); a config file that asks for that is served
    /// as asked, with a warning and the clair_api_unauthenticated_public metric at 1.
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Main API address (overrides the config), e.g. 127.0.0.1:6060.
    #[arg(long, value_name = "ADDR")]
    pub addr: Option<String>,
    /// Clair v2 health address (overrides clair.api.healthport).
    #[arg(long, value_name = "ADDR")]
    pub health_addr: Option<String>,
    /// Introspection address for /healthz, /readyz and /metrics (overrides introspection_addr).
    #[arg(long, value_name = "ADDR")]
    pub introspection_addr: Option<String>,
    /// Do not run the updaters (another instance, or `clair update`, loads the data).
    #[arg(long)]
    pub no_updaters: bool,
    /// Update operations kept per updater.
    #[arg(long, default_value_t = 10)]
    pub keep: usize,
    /// Serve only GET and HEAD (a public reporting API; indexing stays internal).
    #[arg(long)]
    pub read_only: bool,
    /// Listen on a non-loopback address without authentication (auth.psk or a jwtproxy
    /// verifier) when no config file asks for it.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Address of the first jwtproxy verifier (overrides its listen_addr).
    #[arg(long, value_name = "ADDR")]
    pub verifier_addr: Option<String>,
    /// Clair v4's `-mode`: which services this process runs. `combo` (all of them) is the
    /// only mode this build serves.
    #[arg(long, env = "CLAIR_MODE", value_name = "MODE", default_value = "combo")]
    pub mode: String,
    /// Do not verify TLS certificates when downloading layers (Clair v2's `-insecure-tls`;
    /// for a registry with a self-signed certificate prefer `clair_rs.ca_file`).
    #[arg(long)]
    pub insecure_tls: bool,
    /// Clair's profiling flags (`-cpu-profile`, `-cpuprofile`): accepted and ignored.
    #[arg(long, value_name = "FILE", hide = true)]
    pub cpu_profile: Option<std::path::PathBuf>,
    /// Clair v4's `-memprofile`: accepted and ignored.
    #[arg(long, value_name = "FILE", hide = true)]
    pub mem_profile: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// The Clair server (http:// is added without a scheme, :6060 without a port).
    #[arg(long, env = "CLAIR_ADDR", value_name = "URL")]
    pub server: String,
    /// The server's API: v4 (Clair 4, clair-rs) or v1 (Clair 2).
    #[arg(long, value_enum, default_value_t = ApiVersion::V4)]
    pub api: ApiVersion,
    /// Output format (JSON_OUTPUT=true: json).
    #[arg(long, short = 'f', value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Only report vulnerabilities of at least this severity.
    #[arg(
        long,
        env = "CLAIR_OUTPUT",
        default_value = "Unknown",
        value_name = "LEVEL"
    )]
    pub severity_threshold: clair_types::Severity,
    /// Exit with this code when any vulnerability is reported; 0 never fails.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub exit_code: u8,
    /// Exit 1 when more than N vulnerabilities are reported (klar's CLAIR_THRESHOLD).
    #[arg(long, env = "CLAIR_THRESHOLD", value_name = "N")]
    pub threshold: Option<usize>,
    /// Leave out vulnerabilities without a fixed version.
    #[arg(long, env = "IGNORE_UNFIXED")]
    pub ignore_unfixed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiVersion {
    /// Clair v4 indexer and matcher API.
    V4,
    /// Clair v2's /v1 API.
    V1,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Load a config file (1.2, 2.x or v4 layout) as `clair serve` would and print the
    /// effective settings, secrets redacted, with a warning for every key that is unknown or
    /// not implemented yet. Exit code 1 when the file cannot be loaded.
    Check {
        /// The file (default: --config).
        path: Option<std::path::PathBuf>,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = ConfigFormat::Text)]
        format: ConfigFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    /// Settings and warnings, one per line.
    Text,
    /// `{"config": …, "warnings": […]}`.
    Json,
}

/// How to read an image (shared by index, scan and explain).
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The image (see `clair index --help` for the forms).
    pub image: String,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// Platform, limits and registry access for reading images (also `clair diff`'s two).
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// Platform to pick from a multi-platform image index: os/arch[/variant].
    #[arg(long)]
    pub platform: Option<String>,
    /// Largest package database or release file read from a layer, in bytes.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    pub max_file_size: u64,
    /// Layers read at the same time (default: number of CPUs).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Registry user name (else DOCKER_USER, else ~/.docker/config.json).
    #[arg(long, env = "CLAIR_REGISTRY_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// Registry password or token (else DOCKER_PASSWORD).
    #[arg(
        long,
        env = "CLAIR_REGISTRY_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Plain HTTP to the registry (a local or test registry).
    #[arg(long)]
    pub insecure: bool,
    /// Trust the CA certificates in this PEM file (only those) for the registry.
    #[arg(long, env = "CLAIR_REGISTRY_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Output format: table, json (Clair v4 VulnerabilityReport), sarif (2.1.0),
    /// cyclonedx (1.5 JSON, with vulnerabilities), spdx (2.3 JSON) or html (one
    /// self-contained page).
    #[arg(long, short = 'f', value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Only report vulnerabilities of at least this severity
    /// (Unknown, Negligible, Low, Medium, High, Critical): the feed's normalized severity, as
    /// Clair v4 reports it, or NVD's CVSS rating when the feed gives none (Unknown).
    #[arg(long, default_value = "Unknown", value_name = "LEVEL")]
    pub severity_threshold: clair_types::Severity,
    /// Exit with this code when any vulnerability is reported (after the threshold and
    /// --ignore-unfixed); 0 never fails.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub exit_code: u8,
    /// Leave out vulnerabilities without a fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Scan even when no vulnerability data covers the image (the report is then incomplete
    /// and says so); otherwise exit code 3.
    #[arg(long)]
    pub allow_missing_data: bool,
    #[command(flatten)]
    pub suppress: SuppressArgs,
}

/// What to set aside: VEX statements and the ignore file (shared by scan and diff).
#[derive(Debug, Args)]
pub struct SuppressArgs {
    /// OpenVEX or CSAF VEX document: findings its `not_affected` and `fixed` statements cover
    /// are shown as suppressed, with the justification, instead of reported (repeatable).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<std::path::PathBuf>,
    /// Ignore file: `VULN [PACKAGE] [exp:YYYY-MM-DD] # reason` per line; expired entries are
    /// reported and no longer apply. Default: .clairignore in the current directory, if any.
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier image or stored report.
    pub old: String,
    /// The later image or stored report.
    pub new: String,
    /// Platform, size limit, parallelism and registry settings for both images.
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = DiffFormat::Table)]
    pub format: DiffFormat,
    /// Fail (exit with --exit-code) when a vulnerability at or above this severity was
    /// introduced (Negligible, Low, Medium, High, Critical).
    #[arg(long, value_name = "LEVEL")]
    pub fail_on: Option<clair_types::Severity>,
    /// Exit code for --fail-on.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub exit_code: u8,
    /// Leave out vulnerabilities without a fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Also list the unchanged vulnerabilities in the table (always in JSON and HTML).
    #[arg(long)]
    pub show_unchanged: bool,
    #[command(flatten)]
    pub suppress: SuppressArgs,
    /// Compare even when no vulnerability data covers an image.
    #[arg(long)]
    pub allow_missing_data: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Human-readable table.
    Table,
    /// `{"old":…, "new":…, "fixed":[…], "introduced":[…], "unchanged":[…]}`.
    Json,
    /// One self-contained HTML page.
    Html,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// The vulnerability: a CVE id or an advisory name (RHSA-2023:1234, GHSA-…).
    pub vulnerability: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Human-readable table.
    Table,
    /// Clair v4 VulnerabilityReport JSON.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning and other SARIF consumers).
    Sarif,
    /// CycloneDX 1.5 JSON SBOM with vulnerabilities.
    Cyclonedx,
    /// SPDX 2.3 JSON SBOM (packages with purls; vulnerabilities as security references).
    Spdx,
    /// One self-contained HTML page: summaries, a sortable and filterable table, and the
    /// explanation of each finding.
    Html,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(subcommand)]
    pub action: Option<UpdateAction>,
    /// Run only these updaters (comma separated).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Show each updater's last run instead of running them.
    #[arg(long)]
    pub status: bool,
    /// Keep running: update every DURATION (Go syntax: 6h, 30m), or at the config's
    /// updater interval (clair.updater.interval, matcher.period; 6h when unset) with `--every config`.
    /// Any number of instances may run this against one database: each updater runs in one of them.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Update operations kept per updater (older ones are deleted).
    #[arg(long, default_value_t = 2)]
    pub keep: usize,
    /// Attempts per download (connection errors, 429 and 5xx are retried with backoff).
    #[arg(long, default_value_t = 4, global = true)]
    pub attempts: u32,
    /// Longest single download, in seconds.
    #[arg(long, default_value_t = 1800, global = true, value_name = "SECS")]
    pub timeout: u64,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum UpdateAction {
    /// Show each updater's last run (same as --status).
    Status {
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Fetch every updater's data and write it, with fingerprints, to one bundle file.
    Export {
        /// The bundle to write (zstd-compressed tar).
        file: std::path::PathBuf,
        /// Only these updaters (comma separated).
        #[arg(long, value_delimiter = ',', value_name = "NAMES")]
        only: Vec<String>,
        /// Sign the bundle with this Ed25519 private key (PKCS#8 PEM, from `clair update
        /// keygen` or `openssl genpkey -algorithm ed25519`).
        #[arg(long, env = "CLAIR_BUNDLE_SIGNING_KEY", value_name = "KEY")]
        sign: Option<std::path::PathBuf>,
    },
    /// Load a bundle written by `export` (no network needed). The bundle must be signed by
    /// one of the trusted keys (--trusted-key, CLAIR_BUNDLE_TRUSTED_KEYS, or the *.pub files
    /// in ~/.config/clair/trusted-keys/) unless --allow-unsigned is given.
    #[command(verbatim_doc_comment)]
    Import {
        /// The bundle to read.
        file: std::path::PathBuf,
        /// A trusted Ed25519 public key (SPKI PEM, the .pub file of `keygen`); repeatable.
        #[arg(long, value_name = "PUB")]
        trusted_key: Vec<std::path::PathBuf>,
        /// Load a bundle that is unsigned or signed by no trusted key (its files are still
        /// checked against its manifest).
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// Make an Ed25519 key pair for signing bundles: FILE (private, PKCS#8 PEM, mode 0600)
    /// and FILE.pub (public, SPKI PEM, for the importing machines).
    Keygen {
        /// Where to write the private key; the public key goes to FILE.pub.
        file: std::path::PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = IndexFormat::Table)]
    pub format: IndexFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable table.
    Table,
    /// JSON.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IndexFormat {
    /// Human-readable table.
    Table,
    /// Clair v4 IndexReport JSON.
    Json,
    /// SPDX 2.3 JSON SBOM of the packages, with purls.
    Spdx,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str], clair_conf_set: bool) -> Vec<String> {
        normalize_args(
            std::iter::once("clair")
                .chain(args.iter().copied())
                .map(std::ffi::OsString::from),
            clair_conf_set,
        )
        .into_iter()
        .map(|a| a.into_string().unwrap_or_default())
        .collect()
    }

    #[test]
    fn clair_command_lines_are_serve() {
        // Clair v2's image: `clair -config /config/config.yaml [-log-level debug]`.
        assert_eq!(
            norm(&["-config", "/c.yaml", "-log-level=debug"], false),
            ["clair", "serve", "--config", "/c.yaml", "--log-level=debug"]
        );
        assert_eq!(
            norm(&["-insecure-tls", "--config=/c.yaml"], false),
            ["clair", "serve", "--insecure-tls", "--config=/c.yaml"]
        );
        // Clair v4's: `clair -conf /config/config.yaml -mode combo`, or CLAIR_CONF alone.
        assert_eq!(
            norm(&["-conf", "/c.yaml", "-mode", "combo"], false),
            ["clair", "serve", "--config", "/c.yaml", "--mode", "combo"]
        );
        assert_eq!(norm(&[], true), ["clair", "serve"]);
        assert_eq!(
            norm(&["-mode", "combo"], true),
            ["clair", "serve", "--mode", "combo"]
        );
        assert_eq!(
            norm(&["-cpuprofile", "/tmp/p", "-conf", "/c.yaml"], false),
            [
                "clair",
                "serve",
                "--cpu-profile",
                "/tmp/p",
                "--config",
                "/c.yaml"
            ]
        );
    }

    #[test]
    fn commands_stay_commands() {
        assert_eq!(
            norm(
                &["-config", "/c.yaml", "serve", "--addr", "127.0.0.1:1"],
                false
            ),
            [
                "clair",
                "--config",
                "/c.yaml",
                "serve",
                "--addr",
                "127.0.0.1:1"
            ]
        );
        assert_eq!(
            norm(&["--config", "/c.yaml", "config", "check"], true),
            ["clair", "--config", "/c.yaml", "config", "check"]
        );
        assert_eq!(
            norm(&["--db", "x.db", "scan", "oci:img"], true),
            ["clair", "--db", "x.db", "scan", "oci:img"]
        );
        // Help and version are never a server; nothing Clair-like, no CLAIR_CONF: clap's
        // usage error as before.
        assert_eq!(norm(&["--help"], true), ["clair", "--help"]);
        assert_eq!(
            norm(&["-config", "c", "-V"], false),
            ["clair", "--config", "c", "-V"]
        );
        assert_eq!(norm(&["-v"], false), ["clair", "-v"]);
        assert_eq!(norm(&[], false), ["clair"]);
        assert!(Cli::try_parse_from(norm(&["-conf", "/c.yaml", "-mode", "combo"], false)).is_ok());
    }

    #[test]
    fn log_levels_as_clair_spells_them() {
        for (given, want) in [
            ("debug-color", "debug"),
            ("DEBUG", "debug"),
            ("warning", "warn"),
            ("fatal", "error"),
            ("panic", "error"),
            ("info", "info"),
        ] {
            assert_eq!(parse_log_level(given), Ok(want), "{given}");
        }
        assert!(
            parse_log_level("loud")
                .unwrap_err()
                .contains("unknown log level")
        );
    }
}
