//! Notifications survive crashes (issue 18): real `clair serve` processes killed with SIGKILL
//! at the worst moments, on SQLite and PostgreSQL, and a webhook receiver on 127.0.0.1 that
//! records what it gets.
//!
//! - killed between an update's commit and its notifications: after a restart the
//!   notification is delivered, exactly once;
//! - killed while delivering: delivered again after the restart (the receiver sees the same
//!   notification id twice: at least once);
//! - two instances, the one delivering killed: the other delivers;
//! - SIGTERM with an SQS message in hand (moto): the message is finished and deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clair_test::process::SpawnLogged;

use clair_store::{OpKind, Store, StoreOptions};
use clair_test::http::{Behavior, TestServer};
use serde_json::Value;

/// The tracker with one more (high) bash issue: a change for the indexed image.
fn changed() -> Value {
    let mut v = clair_test::debian_tracker();
    v["bash"] = serde_json::json!({"CVE-2099-0100": {"description": "new", "releases": {"bookworm":
        {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "high"}}}});
    v
}

/// Where the processes keep their data: a SQLite file or a fresh PostgreSQL database.
struct Db {
    source: String,
    _dir: tempfile::TempDir,
}

impl Db {
    fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        Db {
            source: dir.path().join("clair.db").display().to_string(),
            _dir: dir,
        }
    }

    fn postgres() -> Option<Db> {
        let pg = clair_test::postgres::skip_or_fail()?;
        Some(Db {
            source: pg.create_database(),
            _dir: tempfile::tempdir().unwrap(),
        })
    }

    fn open(&self) -> Arc<dyn Store> {
        clair_store::open(&StoreOptions {
            source: self.source.clone(),
            ..StoreOptions::default()
        })
        .unwrap()
    }

    fn clair(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clair"));
        c.env("CLAIR_DATABASE_SOURCE", &self.source);
        c
    }

    /// `clair ARGS`, which must succeed.
    fn run(&self, args: &[&str]) {
        let o = self.clair().args(args).output().unwrap();
        assert!(
            o.status.success(),
            "clair {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A Debian feed, an indexed image and a first update, as an operator would have them.
struct Setup {
    db: Db,
    feeds: TestServer,
    receiver: TestServer,
    config: PathBuf,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(db: Db) -> Setup {
        let feeds = TestServer::start();
        feeds.put("/debian/json", clair_test::debian_tracker().to_string());
        let receiver = TestServer::start();
        receiver.put("/notify", "ok");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yaml");
        db.run(&[
            "index",
            "-q",
            &format!(
                "oci:{}:bookworm-minbase",
                clair_test::images("oci").display()
            ),
        ]);
        let s = Setup {
            db,
            feeds,
            receiver,
            config,
            dir,
        };
        s.write_config(0);
        s.update();
        s
    }

    /// A v4 config: the webhook to the receiver, the Debian updater every second.
    fn write_config(&self, api: u16) {
        std::fs::write(
            &self.config,
            format!(
                "http_listen_addr: 127.0.0.1:{api}\nintrospection_addr: 127.0.0.1:{}\n\
                 matcher:\n  period: 1s\n\
                 updaters:\n  sets: [debian]\n  config:\n    debian:\n      json_url: {}/debian/json\n\
                 notifier:\n  delivery_interval: 1s\n  webhook:\n    target: {}/notify\n    callback: http://127.0.0.1:{api}/notifier/api/v1/notification/\n",
                clair_test::free_port(),
                self.feeds.url(),
                self.receiver.url()
            ),
        )
        .unwrap();
    }

    /// `clair update` with the feed as served now.
    fn update(&self) {
        self.db.run(&[
            "-config",
            &self.config.display().to_string(),
            "update",
            "-q",
        ]);
    }

    /// `clair serve` on a free port; its log goes to a file named after `name`.
    fn serve(&self, name: &str, no_updaters: bool) -> Instance {
        self.write_config(clair_test::free_port());
        let log = self.dir.path().join(format!("{name}.log"));
        let mut c = self.db.clair();
        c.arg("-config").arg(&self.config).arg("serve");
        if no_updaters {
            c.arg("--no-updaters");
        }
        let child = c.env("CLAIR_LOG", "info").spawn_logged(&log);
        Instance { child, log }
    }

    /// The notification ids the receiver got, in order.
    fn received(&self) -> Vec<String> {
        self.receiver
            .request_bodies()
            .iter()
            .filter(|(p, _)| p == "/notify")
            .map(|(_, b)| {
                let v: Value = serde_json::from_slice(b).unwrap();
                v["notification_id"].as_str().unwrap().to_string()
            })
            .collect()
    }

    /// Wait until notification `id` is recorded as delivered (`by` for the error message).
    fn wait_delivered(&self, id: &str, by: &Instance) {
        let store = self.db.open();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n = store.notification(id.parse().unwrap()).unwrap().unwrap();
            if n.status == clair_store::NotificationStatus::Delivered {
                return;
            }
            assert!(Instant::now() < deadline, "{n:?}\n{}", by.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The changed feed stored by `clair update` (which exits: any producer of update
    /// operations will do), and the receiver stalling: the next delivery hangs in flight.
    fn update_and_stall(&self) {
        self.feeds.put("/debian/json", changed().to_string());
        self.update();
        self.receiver
            .set("/notify", Behavior::Stall(Duration::from_secs(120)));
    }

    /// Wait until the receiver has had `n` requests.
    fn wait_received(&self, n: usize, within: Duration, what: &str) {
        let deadline = Instant::now() + within;
        while self.received().len() < n {
            assert!(Instant::now() < deadline, "{what}: {:?}", self.received());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A running `clair serve`.
struct Instance {
    child: Child,
    log: PathBuf,
}

impl Instance {
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGKILL between the update's commit and its notifications: the operation's job is stored
/// with it, so the next instance computes and delivers the notification, once.
fn killed_after_commit(db: Db) {
    let s = Setup::new(db);
    let store = s.db.open();
    // Hold the notifier's compute lock, as if this instance were about to take it: the
    // instance commits the update but cannot compute its notification before it dies.
    let lock = store.try_lock("notifier/compute").unwrap().unwrap();
    let a = s.serve("a", false);
    s.feeds.put("/debian/json", changed().to_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    while store
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap()
        .len()
        < 2
    {
        assert!(Instant::now() < deadline, "no update: {}", a.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    a.kill9();
    let ops = store
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap();
    let jobs = store.notification_jobs(10).unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.op.id == ops[0].id && j.prev == Some(ops[1].id)),
        "the job survived: {jobs:?}"
    );
    assert!(s.received().is_empty());
    drop(lock);
    let b = s.serve("b", true);
    s.wait_received(1, Duration::from_secs(60), "delivered after the restart");
    // Exactly once: nothing more arrives, the notification is recorded as delivered.
    std::thread::sleep(Duration::from_secs(5));
    let got = s.received();
    assert_eq!(got.len(), 1, "{got:?}\n{}", b.log());
    let n = store
        .notification(got[0].parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (n.status, n.attempts),
        (clair_store::NotificationStatus::Delivered, 1)
    );
    assert!(store.notification_jobs(10).unwrap().is_empty());
    let items = store.notification_items(n.id, None, 10).unwrap().items;
    assert_eq!(items[0].body["vulnerability"]["name"], "CVE-2099-0100");
}

/// SIGKILL while the webhook is in flight: nothing was recorded, so the next instance sends
/// it again, with the same notification id.
fn killed_while_delivering(db: Db) {
    let s = Setup::new(db);
    s.update_and_stall();
    let a = s.serve("a", true);
    s.wait_received(1, Duration::from_secs(60), "first delivery attempt");
    a.kill9();
    s.receiver.set("/notify", Behavior::Serve);
    let b = s.serve("b", true);
    s.wait_received(2, Duration::from_secs(60), "delivered after the restart");
    let got = s.received();
    assert_eq!(got[0], got[1], "the same notification, sent again");
    s.wait_delivered(&got[0], &b);
}

/// Two instances on one database: the one delivering is killed mid-request; the other takes
/// the delivery lock and delivers.
fn two_instances_one_killed(db: Db) {
    let s = Setup::new(db);
    s.update_and_stall();
    let a = s.serve("a", true);
    s.wait_received(1, Duration::from_secs(60), "first delivery attempt");
    // The second instance runs beside it (the delivery lock is the first one's) ...
    let b = s.serve("b", true);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.received().len(), 1, "one instance delivers at a time");
    s.receiver.set("/notify", Behavior::Serve);
    // ... and delivers once the first is gone.
    a.kill9();
    s.wait_received(2, Duration::from_secs(60), "delivered by the survivor");
    let got = s.received();
    assert_eq!(got[0], got[1]);
    s.wait_delivered(&got[0], &b);
    assert!(b.log().contains("notification delivered"), "{}", b.log());
}

/// One SQS query-API call to moto; the XML answer.
fn sqs(moto: &clair_test::moto::Moto, params: &[(&str, &str)]) -> String {
    let mut form = vec![("Version", "2012-11-05")];
    form.extend_from_slice(params);
    // moto routes by the service the credential scope names.
    let r = ureq::post(&moto.url)
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/sqs/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .send_form(form)
        .unwrap_or_else(|e| panic!("SQS {params:?}: {e}"));
    r.into_body().read_to_string().unwrap()
}

/// The text of the first `<tag>` in an XML answer.
fn xml<'a>(doc: &'a str, tag: &str) -> Option<&'a str> {
    let start = doc.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = doc[start..].find(&format!("</{tag}>"))? + start;
    Some(&doc[start..end])
}

/// SIGTERM while a queued layer is being indexed: `clair serve` finishes the message (the
/// layer stored, the message deleted) before it exits.
#[test]
fn sigterm_finishes_the_sqs_message_in_hand() {
    let Some(moto) = clair_test::moto::start() else {
        return;
    };
    let db = Db::sqlite();
    let oci = clair_test::images("oci");
    let manifest: Value =
        serde_json::from_slice(
            &std::fs::read(oci.join(
                "blobs/sha256/fe5c5314bcf84e2b6cc30d63a6e284af7efa42d9f352b5b55bf04225069fd9ac",
            ))
            .unwrap(),
        )
        .unwrap();
    let base = manifest["layers"][0]["digest"].as_str().unwrap();
    let blobs = TestServer::start();
    blobs.put(
        "/slow",
        std::fs::read(oci.join("blobs/sha256").join(&base[7..])).unwrap(),
    );
    blobs.set("/slow", Behavior::Stall(Duration::from_secs(5)));
    let created = sqs(&moto, &[("Action", "CreateQueue"), ("QueueName", "layers")]);
    let queue = xml(&created, "QueueUrl").unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = clair_test::config_file!(
        dir.path(),
        "http_listen_addr: 127.0.0.1:{}\nintrospection_addr: 127.0.0.1:{}\n",
        clair_test::free_port(),
        clair_test::free_port()
    );
    let log = dir.path().join("serve.log");
    let mut child = db
        .clair()
        .arg("-config")
        .arg(&config)
        .args(["serve", "--no-updaters"])
        .env("CLAIR_LOG", "info")
        .env("RECEIVER_QUEUE_URL", &queue)
        .env("RECEIVER_WAIT_TIME_SECONDS", "1")
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .spawn_logged(&log);
    let push = serde_json::json!({"Layer": {"Name": "slow-layer",
        "Path": format!("{}/slow", blobs.url()), "Format": "Docker"}});
    sqs(
        &moto,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &queue),
            ("MessageBody", &push.to_string()),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !blobs.request_headers().iter().any(|(p, _)| p == "/slow") {
        assert!(
            Instant::now() < deadline,
            "the layer was never fetched: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The message is in hand (its layer downloading): SIGTERM.
    let (status, _) =
        clair_test::sigterm(&mut child, Duration::from_secs(60)).expect("clair serve did not exit");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{text}");
    assert!(
        db.open().get_v1_layer("slow-layer").unwrap().is_some(),
        "the message in hand was finished: {text}"
    );
    let attrs = sqs(
        &moto,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &queue),
            ("AttributeName.1", "All"),
        ],
    );
    for name in [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    ] {
        let at = attrs.find(&format!("<Name>{name}</Name>")).unwrap();
        assert_eq!(
            xml(&attrs[at..], "Value"),
            Some("0"),
            "{name}: the message is deleted\n{attrs}"
        );
    }
}

clair_test::on_both_databases! {
    sqlite: Db::sqlite(), postgres: Db::postgres();
    killed_after_commit => killed_after_commit_sqlite, killed_after_commit_postgres;
    killed_while_delivering => killed_while_delivering_sqlite, killed_while_delivering_postgres;
    two_instances_one_killed => two_instances_one_killed_sqlite, two_instances_one_killed_postgres;
}
