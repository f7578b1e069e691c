//! Processes and servers a test starts: stopped when the test ends, waited for until ready.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// A child process killed and reaped when dropped, so a failing test leaves nothing running.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Poll `ready` every `every` until it returns true; panics with `what` when `within` has
/// passed first.
pub fn wait_until(within: Duration, every: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(every);
    }
}

/// Wait until something accepts TCP connections at `addr` (`host:port`); panics with `what`
/// after `within`.
pub fn wait_for_port(addr: &str, within: Duration, what: &str) {
    wait_until(within, Duration::from_millis(50), what, || {
        std::net::TcpStream::connect(addr).is_ok()
    });
}

/// Write `text` to `dir/name` (a config file a test hands to a program) and return the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// Write `config.yaml` in the directory `$dir` (a `&Path`) from `format!` arguments and return
/// its path: the config file a test hands to `clair`.
#[macro_export]
macro_rules! config_file {
    ($dir:expr, $($fmt:tt)+) => {
        $crate::process::write_file($dir, "config.yaml", &format!($($fmt)+))
    };
}

/// Assert that a command `clair` (or a tool) ran succeeded, showing its stderr when not.
#[track_caller]
pub fn assert_success(o: &std::process::Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Send the signal `name` (`TERM`, `HUP`...) to `child` with kill(1); panics when that fails.
pub fn signal(child: &Child, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{name} {}", child.id());
}

/// Spawning a server process a test reads the log of.
pub trait SpawnLogged {
    /// Spawn with stdout discarded and stderr written to the file `log`.
    fn spawn_logged(&mut self, log: &Path) -> Child;
}

impl SpawnLogged for std::process::Command {
    fn spawn_logged(&mut self, log: &Path) -> Child {
        let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        self.stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {:?}: {e}", self.get_program()))
    }
}
