//! Cross-process cases: the test binary re-runs itself as child processes.
//!
//! A backend's test file has a `child` test that is a no-op unless `CLAIR_STORE_CHILD` is set;
//! the parent starts it twice with a database source and a barrier file, then checks what the
//! children printed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Body of the `child` test: act on the database named by the environment.
pub fn child_main(open: impl Fn(&str) -> std::sync::Arc<dyn clair_store::Store>) {
    let Ok(mode) = std::env::var("CLAIR_STORE_CHILD") else {
        return;
    };
    let source = std::env::var("CLAIR_STORE_CHILD_DB").unwrap();
    let barrier = std::env::var("CLAIR_STORE_CHILD_GO").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Path::new(&barrier).exists() {
        assert!(Instant::now() < deadline, "barrier never opened");
        std::thread::sleep(Duration::from_millis(2));
    }
    match mode.as_str() {
        "migrate" => {
            let s = open(&source);
            s.manifests().unwrap();
            println!("CHILD-OPENED");
        }
        "lock" => {
            let s = open(&source);
            match s.try_lock("updater/debian").unwrap() {
                Some(l) => {
                    println!("CHILD-WON");
                    // Hold it long enough for the other child to try.
                    std::thread::sleep(Duration::from_millis(1500));
                    drop(l);
                }
                None => println!("CHILD-HELD"),
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// Start two children in `mode` on `source` at the same moment; their outputs.
pub fn race(mode: &str, source: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "child", "--nocapture", "--test-threads=1"])
                .env("CLAIR_STORE_CHILD", mode)
                .env("CLAIR_STORE_CHILD_DB", source)
                .env("CLAIR_STORE_CHILD_GO", &go)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&go, b"").unwrap();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "child failed: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            text
        })
        .collect()
}

/// Both children migrate the same empty database: both come up.
pub fn migrate_race(source: &str) {
    let outs = race("migrate", source);
    assert!(outs.iter().all(|o| o.contains("CHILD-OPENED")), "{outs:?}");
}

/// Both children race for one lock: exactly one wins, the other sees it held.
pub fn lock_race(source: &str) {
    let outs = race("lock", source);
    let won = outs.iter().filter(|o| o.contains("CHILD-WON")).count();
    let held = outs.iter().filter(|o| o.contains("CHILD-HELD")).count();
    assert_eq!((won, held), (1, 1), "{outs:?}");
}
