//! The SQS/SNS pipeline end to end against moto's server (`moto_server`, started on a free
//! loopback port): queues and topics created with the AWS SDK, queues subscribed to the
//! topics to read what was published, the real bookworm-layered image's layers served over
//! HTTP on 127.0.0.1, Debian data loaded through the real updater into a SQLite store.
//!
//! Without `moto_server` the test says why and skips, except with `CI=true`, where that is a
//! failure (scripts/test.sh installs it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::types::QueueAttributeName;
use clair_http::{AppState, FetchOptions};
use clair_matcher::{Http, HttpOptions};
use clair_service::notify::{Notifier, Options};
use clair_service::{NoUpdateProgress, UpdateManager};
use clair_sqs::message::{CONTENT_TYPE_BASE64GZIP, CONTENT_TYPE_JSON, decode_body};
use clair_sqs::{Outcome, Pipeline, SenderPublish, Settings, SnsSender, Topic};
use clair_store::{Store, StoreOptions};
use clair_test::http::{Behavior, TestServer};
use serde_json::Value;

async fn sdk(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(clair_sqs::https_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

/// The bookworm-layered image's layer digests, from the OCI layout.
fn layered() -> Vec<String> {
    clair_test::image_layers("fe5c5314bcf84e2b6cc30d63a6e284af7efa42d9f352b5b55bf04225069fd9ac")
}

/// Serve each layer at `/blobs/<digest>`, only with the bearer token.
fn layer_server(layers: &[String]) -> TestServer {
    let s = TestServer::start();
    for d in layers {
        let p = format!("/blobs/{d}");
        let blob =
            std::fs::read(clair_test::images("oci").join("blobs/sha256").join(&d[7..])).unwrap();
        s.put(&p, blob);
        s.set(
            &p,
            Behavior::RequireHeader("Authorization".into(), "Bearer t0ken".into()),
        );
    }
    s.set("/missing", Behavior::Status(404));
    s
}

/// A Debian feed served on 127.0.0.1 and the real updater reading it into a store.
struct DebianFeed {
    server: TestServer,
    manager: UpdateManager,
}

impl DebianFeed {
    fn new(store: &Arc<dyn Store>) -> DebianFeed {
        let server = TestServer::start();
        let cfg =
            serde_json::json!({"debian": {"json_url": format!("{}/debian/json", server.url())}});
        let ups = clair_ecosystems::updaters(
            Some(&["debian".to_string()]),
            &serde_json::from_value(cfg).unwrap(),
        )
        .unwrap();
        let manager = UpdateManager::new(store.clone(), ups).with_http(Http::new(HttpOptions {
            attempts: 1,
            ..HttpOptions::default()
        }));
        DebianFeed { server, manager }
    }

    /// Serve `feed` and run the updater: one new update operation.
    fn update(&self, feed: &Value) {
        self.server.put("/debian/json", feed.to_string());
        for r in self.manager.run(None, &NoUpdateProgress) {
            assert!(
                matches!(r.outcome, clair_service::Outcome::Updated { .. }),
                "{:?}",
                r.outcome
            );
        }
    }
}

/// A store (`source`: a SQLite file when empty) with the bookworm tracker loaded.
fn store_with_debian_at(source: String) -> (Arc<dyn Store>, DebianFeed) {
    let source = if source.is_empty() {
        let dir = tempfile::tempdir().unwrap().keep();
        dir.join("clair.db").display().to_string()
    } else {
        source
    };
    let store = clair_store::open(&StoreOptions {
        source,
        ..StoreOptions::default()
    })
    .unwrap();
    let feed = DebianFeed::new(&store);
    feed.update(&clair_test::debian_tracker());
    (store, feed)
}

/// A SQLite store with the hand-written bookworm tracker loaded through the Debian updater.
fn store_with_debian() -> Arc<dyn Store> {
    store_with_debian_at(String::new()).0
}

struct Aws {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
}

impl Aws {
    /// SQS and SNS clients for the moto server at `url`, and the SDK config they share.
    async fn connect(url: &str) -> (Aws, SdkConfig) {
        let sdk = sdk(url).await;
        let aws = Aws {
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
        };
        (aws, sdk)
    }

    async fn queue(&self, name: &str) -> String {
        self.sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string()
    }

    async fn topic(&self, name: &str) -> String {
        self.sns
            .create_topic()
            .name(name)
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string()
    }

    /// A new queue subscribed to `topic`; its URL.
    async fn subscriber(&self, topic: &str, name: &str) -> String {
        let url = self.queue(name).await;
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()
            .get(&QueueAttributeName::QueueArn)
            .unwrap()
            .clone();
        self.sns
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .unwrap();
        url
    }

    async fn send(&self, queue: &str, body: &str) {
        self.sqs
            .send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Messages in the queue, visible or in flight.
    async fn depth(&self, queue: &str) -> usize {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        out.attributes()
            .unwrap()
            .values()
            .map(|v| v.parse::<usize>().unwrap())
            .sum()
    }

    /// Receive (and delete) messages until `want` arrived or 30 s passed.
    async fn drain(&self, queue: &str, want: usize) -> Vec<aws_sdk_sqs::types::Message> {
        let mut got = Vec::new();
        let start = Instant::now();
        while got.len() < want && start.elapsed() < Duration::from_secs(30) {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .send()
                .await
                .unwrap();
            for m in out.messages() {
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
                got.push(m.clone());
            }
        }
        got
    }
}

/// An SNS envelope's document, decoded as `CLAIR.CONTENTTYPE` says; and that content type.
fn published(m: &aws_sdk_sqs::types::Message) -> (String, Value) {
    let env: Value = serde_json::from_str(m.body().unwrap()).unwrap();
    assert_eq!(env["Type"], "Notification", "{env}");
    let ct = env["MessageAttributes"]["CLAIR.CONTENTTYPE"]["Value"]
        .as_str()
        .unwrap_or_else(|| panic!("no CLAIR.CONTENTTYPE: {env}"))
        .to_string();
    assert_eq!(
        env["MessageAttributes"]["CLAIR.CONTENTTYPE"]["Type"],
        "String"
    );
    let doc = decode_body(&ct, env["Message"].as_str().unwrap()).unwrap();
    (ct, serde_json::from_slice(&doc).unwrap())
}

fn push(name: &str, path: &str, parent: &str) -> Value {
    serde_json::json!({"Layer": {"Name": name, "Path": path, "ParentName": parent,
        "Format": "Docker", "Headers": {"Authorization": "Bearer t0ken"}}})
}

/// The image's layers in one message, parent first, each fetched from `blobs`.
fn image_push(digests: &[String], names: &[String], blobs: &TestServer) -> Value {
    digests
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let parent = if i == 0 { "" } else { names[i - 1].as_str() };
            push(&names[i], &format!("{}/blobs/{d}", blobs.url()), parent)
        })
        .collect()
}

fn feature<'a>(layer: &'a Value, name: &str) -> &'a Value {
    layer["Features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["Name"] == name)
        .unwrap_or_else(|| panic!("no feature {name}"))
}

#[test]
fn layer_pushes_reports_notifications_and_poison() {
    let Some(moto) = clair_test::moto::start() else {
        return;
    };
    let store = store_with_debian();
    let state = quick_state(&store);
    state.refresh().unwrap();
    let digests = layered();
    let blobs = layer_server(&digests);
    let names: Vec<String> = digests
        .iter()
        .map(|d| format!("{}{}", "c".repeat(64), &d[7..]))
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (aws, sdk) = Aws::connect(&moto.url).await;
        let layers_q = aws.queue("clair-layers").await;
        let dlq = aws.queue("clair-layers-dead").await;
        let reports = aws.topic("clair-reports").await;
        let notes = aws.topic("clair-notifications").await;
        let reports_q = aws.subscriber(&reports, "reports-reader").await;
        let notes_q = aws.subscriber(&notes, "notifications-reader").await;
        let settings = Settings {
            queue_url: Some(layers_q.clone()),
            report_topic: Some(Topic {
                arn: reports.clone(),
                region: None,
            }),
            notification_topic: Some(Topic {
                arn: notes.clone(),
                region: None,
            }),
            dead_letter_queue_url: Some(dlq.clone()),
            max_receive_count: 2,
            wait_time_seconds: 1,
            ..Settings::default()
        };
        let p = Pipeline::new(state.clone(), settings.clone(), &sdk);

        // The image's layers in one message, parent first: indexed, reported, deleted.
        aws.send(&layers_q, &image_push(&digests, &names, &blobs).to_string())
            .await;
        assert_eq!(p.receive_once().await.unwrap(), [Outcome::Done]);
        assert_eq!(aws.depth(&layers_q).await, 0, "the message is deleted");
        assert_eq!(
            store.get_v1_layer(names.last().unwrap()).unwrap().unwrap().parent.as_deref(),
            Some(names[names.len() - 2].as_str())
        );
        let got = aws.drain(&reports_q, names.len()).await;
        assert_eq!(got.len(), names.len(), "one report per layer");
        let mut top = None;
        for m in &got {
            let (ct, doc) = published(m);
            assert_eq!(ct, CONTENT_TYPE_JSON);
            if doc["Layer"]["Name"] == names.last().unwrap().as_str() {
                top = Some(doc);
            }
        }
        let top = top.expect("the top layer's report");
        let layer = &top["Layer"];
        assert_eq!(layer["NamespaceName"], "debian:12");
        assert_eq!(layer["Features"].as_array().unwrap().len(), 105);
        assert_eq!(feature(layer, "curl")["AddedBy"], names[1].as_str());
        assert_eq!(feature(layer, "bash")["AddedBy"], names[0].as_str());
        let libc = feature(layer, "libc6");
        assert!(
            libc["Vulnerabilities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["Name"] == "CVE-2099-0001" && v["FixedBy"] == "2.36-9+deb12u15"),
            "{libc}"
        );
        // The report is what GET /v1/layers/:name?features&vulnerabilities answers.
        let view = clair_http::v1::layer_view(&state, names.last().unwrap(), true, true).unwrap();
        assert_eq!(top, serde_json::json!({ "Layer": view }));

        // Above the size limit the report goes out gzipped; the push arrives SNS-wrapped.
        let small = Pipeline::new(
            state.clone(),
            Settings {
                max_message_size: 1000,
                ..settings.clone()
            },
            &sdk,
        );
        let top_push = push(
            names.last().unwrap(),
            &format!("{}/blobs/{}", blobs.url(), digests.last().unwrap()),
            &names[names.len() - 2],
        );
        let wrapped = serde_json::json!({"Type": "Notification", "MessageId": "x",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:pushes", "Message": top_push.to_string()});
        aws.send(&layers_q, &wrapped.to_string()).await;
        blobs.clear_hits();
        assert_eq!(small.receive_once().await.unwrap(), [Outcome::Done]);
        assert!(blobs.hits().is_empty(), "a known layer is not fetched again");
        let got = aws.drain(&reports_q, 1).await;
        assert_eq!(got.len(), 1);
        let (ct, doc) = published(&got[0]);
        assert_eq!(ct, CONTENT_TYPE_BASE64GZIP);
        assert_eq!(doc, top, "the gzipped report decodes to the same document");

        // Poison: an unparseable body goes to the dead-letter queue at once, with the reason.
        aws.send(&layers_q, "this is not JSON").await;
        assert_eq!(p.receive_once().await.unwrap(), [Outcome::DeadLettered]);
        assert_eq!(aws.depth(&layers_q).await, 0);
        let dead = aws.drain(&dlq, 1).await;
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].body(), Some("this is not JSON"));
        let attrs = dead[0].message_attributes().unwrap();
        let reason = attrs["CLAIR.ERROR"].string_value().unwrap();
        assert!(reason.contains("not JSON"), "{reason}");

        // A layer that cannot be fetched: left in the queue on the first receive, moved to
        // the dead-letter queue on the second (max_receive_count 2), never retried forever.
        let retry = Pipeline::new(
            state.clone(),
            Settings {
                visibility_timeout: Some(1),
                ..settings.clone()
            },
            &sdk,
        );
        let bad = push("missing-layer", &format!("{}/missing", blobs.url()), "");
        aws.send(&layers_q, &bad.to_string()).await;
        assert_eq!(retry.receive_once().await.unwrap(), [Outcome::Retry]);
        assert_eq!(aws.depth(&layers_q).await, 1, "a failed message stays");
        let start = Instant::now();
        let second = loop {
            let o = retry.receive_once().await.unwrap();
            if !o.is_empty() || start.elapsed() > Duration::from_secs(30) {
                break o;
            }
        };
        assert_eq!(second, [Outcome::DeadLettered]);
        assert_eq!(aws.depth(&layers_q).await, 0);
        let dead = aws.drain(&dlq, 1).await;
        assert_eq!(dead.len(), 1);
        let attrs = dead[0].message_attributes().unwrap();
        assert_eq!(attrs["CLAIR.RECEIVECOUNT"].string_value(), Some("2"));
        assert!(
            attrs["CLAIR.ERROR"]
                .string_value()
                .unwrap()
                .contains("could not find layer"),
            "{attrs:?}"
        );
        assert!(store.get_v1_layer("missing-layer").unwrap().is_none());

        // A Clair v2 notification: published as GET /v1/notifications/:name pages, then
        // acknowledged, so it is published once.
        let vuln = |fixed: &str| {
            serde_json::json!({"Vulnerability": {"Name": "CVE-TEST", "NamespaceName": "debian:12",
                "Severity": "Low", "FixedIn": [{"Name": "curl", "NamespaceName": "debian:12",
                "VersionFormat": "dpkg", "Version": fixed}]}})
        };
        let items: Vec<Value> = (0..150)
            .map(|i| serde_json::json!({"side": "new", "index": i + 1, "layer": format!("layer-{i}")}))
            .collect();
        let id = store
            .create_notification(
                clair_service::notify::V1,
                &serde_json::json!({"Old": vuln("7.88.1-10+deb12u1"), "New": vuln("7.88.1-10+deb12u5")}),
                &items,
            )
            .unwrap();
        let pages = Settings {
            sender_publish: SenderPublish::NotificationPages,
            ..settings.clone()
        };
        assert_eq!(deliver(&state, &pages, &sdk).await, 1);
        let got = aws.drain(&notes_q, 2).await;
        assert_eq!(got.len(), 2, "150 layers: two pages of 100");
        let mut layers_seen = Vec::new();
        for m in &got {
            let (ct, doc) = published(m);
            assert_eq!(ct, CONTENT_TYPE_JSON);
            let n = &doc["Notification"];
            assert_eq!(n["Name"], id.to_string());
            assert_eq!(n["New"]["Vulnerability"]["FixedIn"][0]["Version"], "7.88.1-10+deb12u5");
            for l in n["New"]["LayersIntroducingVulnerability"].as_array().unwrap() {
                layers_seen.push(l.as_str().unwrap().to_string());
            }
        }
        layers_seen.sort();
        layers_seen.dedup();
        assert_eq!(layers_seen.len(), 150);
        assert_eq!(
            store.notification(id).unwrap().unwrap().status,
            clair_store::NotificationStatus::Deleted
        );
        assert_eq!(deliver(&state, &pages, &sdk).await, 0);
        assert_eq!(deliver(&state, &settings, &sdk).await, 0);

        // `run` (what `clair serve` starts): a push is handled, and shutdown ends it even in
        // the middle of a long poll.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(Pipeline::new(state.clone(), settings.clone(), &sdk).run(async {
            let _ = stop_rx.await;
        }));
        aws.send(&layers_q, &push(&names[0], &format!("{}/blobs/{}", blobs.url(), digests[0]), "").to_string())
            .await;
        let got = aws.drain(&reports_q, 1).await;
        assert_eq!(got.len(), 1, "the running receiver reported the layer");
        assert_eq!(published(&got[0]).1["Layer"]["Name"], names[0].as_str());
        let _ = stop_tx.send(());
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the pipeline stops on shutdown")
            .unwrap();
        assert_eq!(aws.depth(&layers_q).await, 0);
    });
}

/// The notifier with the SNS sender `settings` ask for (blocking: its own runtime).
fn sns_notifier(state: &AppState, settings: &Settings, sdk: &SdkConfig) -> Notifier {
    let sns = SnsSender::with_sdk(state.clone(), settings, sdk)
        .unwrap()
        .expect("a sender topic");
    Notifier::new(state.clone(), vec![Arc::new(sns)], Options::default())
}

/// One delivery pass of that notifier, from async code.
async fn deliver(state: &AppState, settings: &Settings, sdk: &SdkConfig) -> usize {
    let (state, settings, sdk) = (state.clone(), settings.clone(), sdk.clone());
    tokio::task::spawn_blocking(move || sns_notifier(&state, &settings, &sdk).deliver().unwrap())
        .await
        .unwrap()
}

/// The server's state over `store`, with short fetch retries.
fn quick_state(store: &Arc<dyn Store>) -> AppState {
    AppState::new(
        store.clone(),
        FetchOptions {
            backoff: Duration::from_millis(10),
            ..FetchOptions::default()
        },
    )
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The layer names the pushes below use: 64 `c`s and the blob's hex digest.
fn layer_names(digests: &[String]) -> Vec<String> {
    digests
        .iter()
        .map(|d| format!("{}{}", "c".repeat(64), &d[7..]))
        .collect()
}

/// clair-sqs's notification leg (issue 16): a feed change that adds a vulnerability to a
/// pushed layer puts that layer's `GET /v1/layers/:name?features&vulnerabilities` document,
/// with the new vulnerability, on the sender topic (here the same topic as the reports, as
/// clair-sqs's example configures it); the notification then reads as deleted, with its times.
fn feed_change_publishes_layer_documents(source: String) {
    let Some(moto) = clair_test::moto::start() else {
        return;
    };
    let (store, feed) = store_with_debian_at(source);
    let state = quick_state(&store);
    let digests = layered();
    let blobs = layer_server(&digests);
    let names = layer_names(&digests);
    let rt = runtime();
    let (sdk, aws, layers_q, reader, settings) = rt.block_on(async {
        let (aws, sdk) = Aws::connect(&moto.url).await;
        let layers_q = aws.queue("layers").await;
        let topic = aws.topic("clair-notifications").await;
        let reader = aws.subscriber(&topic, "reader").await;
        let topic = Topic {
            arn: topic,
            region: None,
        };
        let settings = Settings {
            queue_url: Some(layers_q.clone()),
            report_topic: Some(topic.clone()),
            notification_topic: Some(topic),
            wait_time_seconds: 1,
            ..Settings::default()
        };
        (sdk, aws, layers_q, reader, settings)
    });
    rt.block_on(async {
        let p = Pipeline::new(state.clone(), settings.clone(), &sdk);
        aws.send(&layers_q, &image_push(&digests, &names, &blobs).to_string())
            .await;
        assert_eq!(p.receive_once().await.unwrap(), [Outcome::Done]);
        assert_eq!(aws.drain(&reader, names.len()).await.len(), names.len());
    });
    let before = clair_http::v1::layer_view(&state, &names[0], true, true).unwrap();
    assert!(
        !serde_json::to_string(&before)
            .unwrap()
            .contains("CVE-2099-0100")
    );

    // The notifier (what `clair serve` runs) with the SNS sender; the first operation's job
    // notifies nothing.
    let notifier = sns_notifier(&state, &settings, &sdk);
    assert_eq!(notifier.compute().unwrap(), 0);
    // The feed adds an issue to bash, which the base layer installs.
    let mut v2 = clair_test::debian_tracker();
    v2["bash"] = serde_json::json!({"CVE-2099-0100": {"description": "new, high",
        "releases": {"bookworm": {"status": "open",
            "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "high"}}}});
    feed.update(&v2);
    assert_eq!(notifier.compute().unwrap(), 1, "one changed vulnerability");
    let due = store
        .notifications_due(&["v1"], jiff::Timestamp::now(), 10)
        .unwrap();
    assert_eq!(due.len(), 1);
    let id = due[0].id;
    let page = store.notification_items(id, None, 100).unwrap();
    let mut named: Vec<String> = page
        .items
        .iter()
        .map(|i| i.body["layer"].as_str().unwrap().to_string())
        .collect();
    named.sort();
    assert_eq!(named, [names[0].clone()], "the layer installing bash");
    assert_eq!(notifier.deliver().unwrap(), 1);

    rt.block_on(async {
        let got = aws.drain(&reader, named.len()).await;
        assert_eq!(got.len(), named.len(), "one document per layer");
        let (ct, doc) = published(&got[0]);
        assert_eq!(ct, CONTENT_TYPE_JSON);
        let layer = &doc["Layer"];
        assert_eq!(layer["Name"], names[0].as_str());
        let bash = feature(layer, "bash");
        assert!(
            bash["Vulnerabilities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["Name"] == "CVE-2099-0100" && v["Severity"] == "High"),
            "{bash}"
        );
        // The same document GET /v1/layers/:name?features&vulnerabilities now answers.
        let st = state.clone();
        let n0 = names[0].clone();
        let view = tokio::task::spawn_blocking(move || {
            clair_http::v1::layer_view(&st, &n0, true, true).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(doc, serde_json::json!({ "Layer": view }));
        assert_eq!(aws.depth(&reader).await, 0, "nothing else published");
    });

    // Acknowledged: published once, and GET shows it deleted with its times.
    assert_eq!(notifier.deliver().unwrap(), 0);
    let n: Value = rt.block_on(async {
        let resp = clair_http::v1_notifications::get(
            axum::extract::State(state.clone()),
            axum::extract::Path(id.to_string()),
            axum::extract::RawQuery(Some("limit=10".into())),
            axum::http::HeaderMap::new(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 200);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    });
    let n = &n["Notification"];
    let time = |k: &str| -> i64 {
        n[k].as_str()
            .unwrap_or_else(|| panic!("no {k}: {n}"))
            .parse()
            .unwrap()
    };
    assert!(time("Created") <= time("Notified"), "{n}");
    assert!(time("Notified") <= time("Deleted"), "{n}");
    assert_eq!(n["New"]["Vulnerability"]["Name"], "CVE-2099-0100");
    drop(notifier);
}

#[test]
fn feed_change_publishes_layer_documents_sqlite() {
    feed_change_publishes_layer_documents(String::new());
}

#[test]
fn feed_change_publishes_layer_documents_postgres() {
    let Some(pg) = clair_test::postgres::skip_or_fail() else {
        return;
    };
    feed_change_publishes_layer_documents(pg.create_database());
}

/// A message whose layer takes longer to index than the queue's visibility timeout stays
/// hidden (the receiver extends it while it works), so a second receiver never gets it and
/// the layer is fetched once. And on shutdown, a message in hand is finished and deleted.
#[test]
fn slow_message_is_kept_hidden_and_processed_once() {
    let Some(moto) = clair_test::moto::start() else {
        return;
    };
    let store = store_with_debian();
    let state = AppState::new(store.clone(), FetchOptions::default()).unwrap();
    let digests = layered();
    let blobs = TestServer::start();
    let blob = std::fs::read(
        clair_test::images("oci")
            .join("blobs/sha256")
            .join(&digests[0][7..]),
    )
    .unwrap();
    blobs.put("/slow", blob);
    blobs.set("/slow", Behavior::Stall(Duration::from_secs(5)));
    let slow = format!("{}/slow", blobs.url());
    let fetched = |blobs: &TestServer| {
        blobs
            .request_headers()
            .iter()
            .filter(|(p, _)| p == "/slow")
            .count()
    };
    runtime().block_on(async {
        let (aws, sdk) = Aws::connect(&moto.url).await;
        // The queue's own timeout (2 s) is what the receiver keeps extending.
        let queue = aws
            .sqs
            .create_queue()
            .queue_name("slow")
            .attributes(QueueAttributeName::VisibilityTimeout, "2")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let settings = Settings {
            queue_url: Some(queue.clone()),
            wait_time_seconds: 1,
            ..Settings::default()
        };
        let a = Pipeline::new(state.clone(), settings.clone(), &sdk);
        let b = Pipeline::new(state.clone(), settings.clone(), &sdk);
        aws.send(&queue, &push("slow-1", &slow, "").to_string())
            .await;
        let first = tokio::spawn(async move {
            loop {
                let got = a.receive_once().await.unwrap();
                if !got.is_empty() {
                    return got;
                }
            }
        });
        // The second receiver starts once the first has the message in hand.
        let start = Instant::now();
        while fetched(&blobs) < 1 {
            assert!(start.elapsed() < Duration::from_secs(30), "never fetched");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let start = Instant::now();
        let mut second = Vec::new();
        while start.elapsed() < Duration::from_secs(7) {
            second.extend(b.receive_once().await.unwrap());
        }
        assert_eq!(first.await.unwrap(), [Outcome::Done]);
        assert_eq!(second, [], "the second receiver never got the message");
        assert_eq!(fetched(&blobs), 1, "indexed once");
        assert_eq!(aws.depth(&queue).await, 0);
        assert!(store.get_v1_layer("slow-1").unwrap().is_some());

        // Shutdown while a message is being indexed: it is finished and deleted first.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(Pipeline::new(state.clone(), settings, &sdk).run(async {
            let _ = stop_rx.await;
        }));
        aws.send(&queue, &push("slow-2", &slow, "").to_string())
            .await;
        let start = Instant::now();
        while fetched(&blobs) < 2 {
            assert!(start.elapsed() < Duration::from_secs(30), "never fetched");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop_tx.send(());
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the pipeline stops once the message is done")
            .unwrap();
        assert!(
            store.get_v1_layer("slow-2").unwrap().is_some(),
            "the message in hand was finished"
        );
        assert_eq!(aws.depth(&queue).await, 0, "and deleted");
    });
}
