//! AMQP delivery to a real RabbitMQ (Debian's `rabbitmq-server`, a throwaway node started by
//! the test on free loopback ports): callback messages, direct delivery with rollup, a broker
//! that is down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clair_service::notify::amqp::Amqp;
use common::*;
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

struct Rabbit {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The Erlang VM outlives the start script: find it by its home directory.
        let _ = Command::new("pkill")
            .args(["-f", &self.dir.path().display().to_string()])
            .status();
    }
}

fn rabbit() -> Option<Rabbit> {
    if !std::path::Path::new(SERVER).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: rabbitmq-server must be installed (scripts/test.sh does)"
        );
        eprintln!("skipping: rabbitmq-server is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("enabled_plugins"), "[].\n").unwrap();
    let port = clair_test::free_port();
    let node = format!("clairtest{}x{port}@localhost", std::process::id());
    let child = Command::new(SERVER)
        .env("RABBITMQ_NODE_PORT", port.to_string())
        .env("RABBITMQ_DIST_PORT", clair_test::free_port().to_string())
        .env("RABBITMQ_NODENAME", &node)
        .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
        .env("RABBITMQ_LOG_BASE", d.join("log"))
        .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
        .env("RABBITMQ_PID_FILE", d.join("pid"))
        .env("HOME", d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Rabbit { child, port, dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "rabbitmq did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(r)
}

/// Declare `queue` and return every message waiting in it.
fn drain(uri: &str, queue: &str, declare_only: bool) -> Vec<serde_json::Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = Connection::connect(uri, ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.queue_declare(queue, QueueDeclareOptions::default(), FieldTable::default())
            .await
            .unwrap();
        let mut out = Vec::new();
        if !declare_only {
            while let Some(m) = ch
                .basic_get(queue, BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                out.push(serde_json::from_slice(&m.delivery.data).unwrap());
            }
        }
        let _ = conn.close(200, "bye").await;
        out
    })
}

#[test]
fn amqp_delivery() {
    let Some(r) = rabbit() else { return };
    let uri = format!("amqp://guest:guest@127.0.0.1:{}/%2f", r.port);
    let store = sqlite();
    drain(&uri, "clair-notes", true);
    let items: Vec<serde_json::Value> = (0..5)
        .map(|i| serde_json::json!({"id": format!("00000000-0000-4000-8000-00000000000{i}"), "reason": "added"}))
        .collect();
    let id = store
        .create_notification(clair_service::notify::V4, &serde_json::json!({}), &items)
        .unwrap();
    let n = Amqp {
        uri: uri.clone(),
        exchange: String::new(),
        routing_key: "clair-notes".into(),
        direct: false,
        rollup: 0,
        callback: "http://clair.example/notifier/api/v1/notification/".into(),
        retry: Duration::ZERO,
    };
    assert_eq!(deliver(&store, &n), 1);
    let got = drain(&uri, "clair-notes", false);
    assert_eq!(
        got,
        vec![
            serde_json::json!({"notification_id": id, "callback": format!("http://clair.example/notifier/api/v1/notification/{id}")})
        ]
    );
    assert_eq!(
        store.notification(id).unwrap().unwrap().status,
        clair_store::NotificationStatus::Delivered
    );

    // Direct delivery, two per message.
    let id2 = store
        .create_notification(clair_service::notify::V4, &serde_json::json!({}), &items)
        .unwrap();
    let direct = Amqp {
        direct: true,
        rollup: 2,
        ..n.clone()
    };
    assert_eq!(deliver(&store, &direct), 1);
    let got = drain(&uri, "clair-notes", false);
    let sizes: Vec<usize> = got.iter().map(|m| m.as_array().unwrap().len()).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(got[0][0]["id"], items[0]["id"]);
    let _ = id2;

    // The broker unreachable: a failure recorded, retried later.
    let id3 = store
        .create_notification(clair_service::notify::V4, &serde_json::json!({}), &items)
        .unwrap();
    let down = Amqp {
        uri: format!(
            "amqp://guest:guest@127.0.0.1:{}/%2f",
            clair_test::free_port()
        ),
        ..n.clone()
    };
    assert_eq!(deliver(&store, &down), 0);
    let st = store.notification(id3).unwrap().unwrap();
    assert_eq!(st.status, clair_store::NotificationStatus::Failed);
    assert!(st.last_error.unwrap().contains("AMQP"), "error recorded");
    assert_eq!(deliver(&store, &n), 1, "delivered once the broker answers");
}

/// One delivery pass of a notifier with this AMQP sender.
fn deliver(store: &std::sync::Arc<dyn clair_store::Store>, sender: &Amqp) -> usize {
    let state =
        clair_http::AppState::new(store.clone(), clair_http::FetchOptions::default()).unwrap();
    clair_service::notify::Notifier::new(
        state,
        vec![std::sync::Arc::new(sender.clone())],
        clair_service::notify::Options::default(),
    )
    .deliver()
    .unwrap()
}
