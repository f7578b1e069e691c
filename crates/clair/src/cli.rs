//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Static vulnerability analysis for container images.
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
    /// A Clair config file (1.2, 2.x or v4 layout); its database source is used unless --db
    /// or CLAIR_DATABASE_SOURCE says otherwise. Also accepted as -config / -conf.
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

/// Accept Clair's single-dash spellings (`clair -config FILE`, `-conf`), which clap does not.
pub fn normalize_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    args.into_iter()
        .map(|a| match a.to_str() {
            Some("-config") | Some("-conf") => "--config".into(),
            Some(s) if s.starts_with("-config=") || s.starts_with("-conf=") => {
                let v = s.split_once('=').map_or("", |(_, v)| v);
                format!("--config={v}").into()
            }
            _ => a,
        })
        .collect()
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
    /// Takes Clair's own config files unchanged (`-config FILE`, 1.2, 2.x or v4 layout; see
    /// `clair config check`). Listens on `clair.api.port` (v2 layout; health on
    /// `clair.api.healthport`) or `http_listen_addr` (v4; `/healthz`, `/readyz`, `/metrics` on
    /// `introspection_addr`). Waits for an unreachable PostgreSQL (retrying with backoff,
    /// /readyz not ready meanwhile). Stops on SIGTERM or Ctrl-C: requests in flight finish,
    /// updater downloads are cancelled.
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
    /// verifier) anyway.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Address of the first jwtproxy verifier (overrides its listen_addr).
    #[arg(long, value_name = "ADDR")]
    pub verifier_addr: Option<String>,
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
    /// (Unknown, Negligible, Low, Medium, High, Critical).
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
