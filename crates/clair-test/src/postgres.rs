//! A real, throwaway PostgreSQL for tests.
//!
//! [`TestPostgres::shared`] starts one cluster per test process (initdb + pg_ctl from Debian's
//! `postgresql` package, in a temp dir, on a free loopback port) and every test creates its own
//! database in it with [`TestPostgres::create_database`]. With `CLAIR_TEST_DATABASE_URL` set, that
//! server is used instead and nothing is started.
//!
//! The cluster is stopped and its directory removed when the test process exits, even though
//! statics are never dropped: a watchdog shell waits on a pipe only this process holds, and
//! cleans up when the pipe closes (the process exited, however it exited).
//!
//! Availability rule: when no PostgreSQL can be found or started, [`skip_or_fail`] panics if
//! `CI=true` (PostgreSQL tests must run in CI) and otherwise prints why the test is skipped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A PostgreSQL server for tests.
#[derive(Debug)]
pub struct TestPostgres {
    /// `postgresql://user@host:port/postgres` of the maintenance database.
    admin_url: String,
    /// A cluster we started (None for CLAIR_TEST_DATABASE_URL).
    local: Option<Local>,
}

/// TLS for a cluster of its own ([`TestPostgres::start_tls`]).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA client certificates must chain to (`ssl_ca_file`).
    pub client_ca: PathBuf,
    /// `pg_hba.conf` lines, after two that let the `postgres` superuser in without TLS (over the
    /// socket and from 127.0.0.1, for [`TestPostgres::admin`]).
    pub hba: Vec<String>,
}

#[derive(Debug)]
struct Local {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Run server commands as this user (initdb refuses root).
    run_as: Option<String>,
    /// Never written: closing it (at exit) tells the watchdog to clean up.
    _watchdog: std::sync::Mutex<Child>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestPostgres {
    /// The process-wide server, started on first use. Panics with the reason when unavailable.
    pub fn shared() -> &'static TestPostgres {
        match Self::try_shared() {
            Ok(p) => p,
            Err(e) => panic!("PostgreSQL for tests: {e}"),
        }
    }

    /// The process-wide server, or why there is none.
    pub fn try_shared() -> Result<&'static TestPostgres, String> {
        static SHARED: OnceLock<Result<TestPostgres, String>> = OnceLock::new();
        SHARED
            .get_or_init(TestPostgres::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Start a new cluster (or use CLAIR_TEST_DATABASE_URL).
    pub fn start() -> Result<TestPostgres, String> {
        if let Some(url) = std::env::var("CLAIR_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            return Ok(TestPostgres {
                admin_url: url,
                local: None,
            });
        }
        Self::start_local(None)
    }

    /// Start a new cluster with `ssl=on`, these certificates and these `pg_hba.conf` rules
    /// (never CLAIR_TEST_DATABASE_URL: the server's TLS settings are part of the test).
    pub fn start_tls(tls: &ServerTls) -> Result<TestPostgres, String> {
        Self::start_local(Some(tls))
    }

    fn start_local(tls: Option<&ServerTls>) -> Result<TestPostgres, String> {
        let bin = find_bin()?;
        let run_as = (is_root()).then(|| "postgres".to_string());
        if let Some(u) = &run_as
            && !user_exists(u)
        {
            return Err(format!(
                "running as root and there is no '{u}' user to run the server as (install Debian's postgresql package)"
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("clair-test-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?
            .keep();
        if let Some(u) = &run_as {
            run(Command::new("chown").arg(u).arg(&dir))?;
        }
        let port = free_port()?;
        let data = dir.join("data");
        let as_user = |program: &Path| -> Command {
            match &run_as {
                Some(u) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", u, "--"]).arg(program);
                    c
                }
                None => Command::new(program),
            }
        };
        run(as_user(&bin.join("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data))?;
        if let Some(t) = tls {
            configure_tls(&data, t, run_as.as_deref())?;
        }
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "read _ ; {stop} ; rm -rf '{dir}'",
                stop = stop_cmd(&bin, &data, run_as.as_deref(), "immediate"),
                dir = dir.display()
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?;
        let pg = TestPostgres {
            admin_url: format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable"),
            local: Some(Local {
                bin,
                dir,
                port,
                run_as,
                _watchdog: std::sync::Mutex::new(watchdog),
            }),
        };
        pg.start_server()?;
        Ok(pg)
    }

    fn start_server(&self) -> Result<(), String> {
        let Some(l) = &self.local else { return Ok(()) };
        let opts = format!(
            // fsync=off is safe for tests: a killed server leaves its writes in the OS page cache,
            // so committed transactions survive `kill()` exactly as on a real crash.
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c max_connections=200",
            l.port,
            l.dir.display()
        );
        let mut c = match &l.run_as {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(l.bin.join("pg_ctl"));
                c
            }
            None => Command::new(l.bin.join("pg_ctl")),
        };
        run(c
            .arg("-D")
            .arg(l.dir.join("data"))
            .args(["-o", &opts, "-l"])
            .arg(l.dir.join("log"))
            .args(["-w", "-t", "60", "start"]))
    }

    /// The maintenance database URL.
    pub fn url(&self) -> &str {
        &self.admin_url
    }

    /// True when this is a cluster the tests started (so it can be killed and restarted).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// A superuser connection to the maintenance database (roles, grants, `pg_stat_activity`).
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.admin_url))
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        match &self.local {
            Some(l) => l.port,
            None => self
                .admin_url
                .rsplit_once(':')
                .and_then(|(_, r)| r.split('/').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(5432),
        }
    }

    /// Terminate the connections holding granted advisory locks in the database `db_url`
    /// names (what an administrator's `pg_terminate_backend` or a failover does to a lock
    /// holder); how many.
    pub fn terminate_lock_holders(&self, db_url: &str) -> u64 {
        let db = db_url
            .rsplit('/')
            .next()
            .and_then(|d| d.split('?').next())
            .unwrap_or_default();
        self.admin()
            .execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                 WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1",
                &[&db],
            )
            .unwrap_or_else(|e| panic!("terminating the lock holders of {db}: {e}"))
    }

    /// Create a new empty database; its URL.
    pub fn create_database(&self) -> String {
        let name = format!(
            "clair_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = postgres::Client::connect(&self.admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.admin_url));
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .and_then(|_| c.batch_execute(&format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let (base, query) = match self.admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (self.admin_url.as_str(), String::new()),
        };
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        format!("{base}/{name}{query}")
    }

    /// Stop the server at once, as a crash would (`pg_ctl stop -m immediate`).
    /// Panics for an external server.
    pub fn kill(&self) {
        let l = self
            .local
            .as_ref()
            .expect("kill() needs a cluster started by the tests");
        run(Command::new("sh").arg("-c").arg(stop_cmd(
            &l.bin,
            &l.dir.join("data"),
            l.run_as.as_deref(),
            "immediate",
        )))
        .expect("pg_ctl stop -m immediate");
    }

    /// Start the server again after [`kill`](Self::kill), on the same port and data.
    pub fn restart(&self) {
        self.start_server().expect("restart PostgreSQL");
    }
}

/// Copy the certificates into the data directory (the server insists its key is private and
/// its own) and turn TLS on.
fn configure_tls(data: &Path, t: &ServerTls, run_as: Option<&str>) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    for (from, to) in [
        (&t.cert, "server.crt"),
        (&t.key, "server.key"),
        (&t.client_ca, "client-ca.crt"),
    ] {
        let dest = data.join(to);
        std::fs::copy(from, &dest).map_err(|e| format!("{}: {e}", from.display()))?;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", dest.display()))?;
        if let Some(u) = run_as {
            run(Command::new("chown").arg(u).arg(&dest))?;
        }
    }
    let conf = data.join("postgresql.conf");
    let mut text =
        std::fs::read_to_string(&conf).map_err(|e| format!("{}: {e}", conf.display()))?;
    text.push_str(
        "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'client-ca.crt'\n",
    );
    std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
    let hba = data.join("pg_hba.conf");
    let mut lines = vec![
        "local all postgres trust".to_string(),
        "host all postgres 127.0.0.1/32 trust".to_string(),
    ];
    lines.extend(t.hba.iter().cloned());
    std::fs::write(&hba, lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", hba.display()))
}

fn stop_cmd(bin: &Path, data: &Path, run_as: Option<&str>, mode: &str) -> String {
    let pg_ctl = format!(
        "'{}' -D '{}' -m {mode} -w stop",
        bin.join("pg_ctl").display(),
        data.display()
    );
    match run_as {
        Some(u) => format!("runuser -u {u} -- {pg_ctl}"),
        None => pg_ctl,
    }
}

/// Where PostgreSQL's server programs are: the newest `/usr/lib/postgresql/*/bin`, or `PATH`.
fn find_bin() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, b)) = versions.pop() {
        return Ok(b);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let d = PathBuf::from(dir);
        if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
            return Ok(d);
        }
    }
    Err(
        "no initdb found under /usr/lib/postgresql/*/bin or on PATH (apt-get install postgresql, \
         or set CLAIR_TEST_DATABASE_URL)"
            .into(),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(u: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(u)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))
}

fn run(c: &mut Command) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{c:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{c:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The shared server for a PostgreSQL test, or `None` (with the reason printed) when there is
/// none and this is not CI. With `CI=true` a missing PostgreSQL is a failure, never a skip.
pub fn skip_or_fail() -> Option<&'static TestPostgres> {
    match TestPostgres::try_shared() {
        Ok(p) => Some(p),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("PostgreSQL tests must run in CI, but: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED (no PostgreSQL): {e}");
            None
        }
    }
}
