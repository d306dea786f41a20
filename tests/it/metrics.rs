//! `/metrics` after a scripted aws-sdk-sqs workload: per-queue counters and gauges have the
//! expected values and agree with GetQueueAttributes; a deleted queue's series vanish;
//! requests, storage and process series are there; the output is well-formed.
//!
//! The server runs with `/metrics` on its API port (`STOWAGE_METRICS_SERVE_ON_API_PORT`) and
//! no separate metrics listener, so parallel test servers never compete for a port. Each
//! server is its own process, so even the process-wide series are exact here.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, QueueAttributeName as A, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;

use crate::common::*;
use crate::harness::{backend, Backend, ServerOptions, TestServer, ACCOUNT};

/// One sample of the exposition: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape.
struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    /// Values of `name` whose labels include all of `labels`.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .collect()
    }

    /// The single value of `name{labels}`; panics with the scrape when absent or ambiguous.
    fn one(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.find(name, labels);
        assert_eq!(
            found.len(),
            1,
            "want exactly one sample {name}{labels:?}, found {found:?}\n{}",
            self.text
        );
        found[0]
    }

    /// `name{queue, account}`.
    fn queue(&self, name: &str, queue: &str) -> f64 {
        self.one(name, &[("queue", queue), ("account", ACCOUNT)])
    }
}

/// Parses the Prometheus text format strictly enough to catch malformed output.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in line {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                (name.to_string(), parse_labels(body, line))
            }
        };
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(
            chars.next(),
            Some('"'),
            "label {key} not quoted in {line:?}"
        );
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape in {line:?}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        }
        assert!(
            labels.insert(key.trim().to_string(), value).is_none(),
            "duplicate label in {line:?}"
        );
        match chars.next() {
            Some(',') | None => {}
            Some(c) => panic!("unexpected {c:?} after a label in {line:?}"),
        }
    }
    labels
}

fn scrape(server: &TestServer) -> Scrape {
    let response = server.http("GET", "/metrics", &[], b"");
    assert_eq!(response.status, 200, "GET /metrics: {}", response.text());
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "content-type {content_type:?}"
    );
    let text = response.text();
    let samples = parse(&text);
    let mut types = HashSet::new();
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap_or_default();
        assert!(
            types.insert(name.to_string()),
            "second TYPE line for {name}"
        );
    }
    Scrape { text, samples }
}

fn metrics_server() -> TestServer {
    let mut opts = ServerOptions::durable();
    opts.env
        .push(("STOWAGE_METRICS_SERVE_ON_API_PORT".into(), "true".into()));
    opts.env
        .push(("STOWAGE_METRICS_LISTEN".into(), String::new()));
    TestServer::start(opts)
}

/// One ReceiveMessage with a long visibility timeout (nothing returns to the queue while the
/// test runs).
async fn receive_hidden(client: &Client, url: &str, max: i32) -> Vec<Message> {
    client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .visibility_timeout(600)
        .send()
        .await
        .unwrap()
        .messages()
        .to_vec()
}

async fn attributes(client: &Client, url: &str) -> BTreeMap<String, f64> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .unwrap();
    out.attributes()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.parse().ok()?)))
        .collect()
}

#[tokio::test]
async fn queue_series_match_the_workload_and_get_queue_attributes() {
    let server = metrics_server();
    let client = server.client();

    // ---- a standard queue: 8 sends (one delayed), 5 received, 3 deleted ----
    let main = create_queue(&client, "metrics-main").await;
    let bodies = ["hello", &"x".repeat(100), &"y".repeat(1000)];
    for body in bodies {
        client
            .send_message()
            .queue_url(&main)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let batch: Vec<String> = (0..4)
        .map(|i| format!("batch-{i}-{}", "z".repeat(i * 50)))
        .collect();
    let out = client
        .send_message_batch()
        .queue_url(&main)
        .set_entries(Some(
            batch
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("e{i}"))
                        .message_body(b)
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 4, "{out:?}");
    client
        .send_message()
        .queue_url(&main)
        .message_body("later")
        .delay_seconds(900)
        .send()
        .await
        .unwrap();
    let sent_bytes: usize = bodies.iter().map(|b| b.len()).sum::<usize>()
        + batch.iter().map(String::len).sum::<usize>()
        + "later".len();

    // Receive exactly 5, counting what the server answered (empty answers included).
    let mut received = Vec::new();
    let mut empty_receives = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.len() < 5 {
        assert!(
            Instant::now() < deadline,
            "only {} received",
            received.len()
        );
        let got = receive_hidden(&client, &main, (5 - received.len()) as i32).await;
        if got.is_empty() {
            empty_receives += 1;
        }
        received.extend(got);
    }
    delete(&client, &main, &received[0]).await;
    let out = client
        .delete_message_batch()
        .queue_url(&main)
        .set_entries(Some(
            received[1..3]
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("d{i}"))
                        .receipt_handle(m.receipt_handle().unwrap())
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 2, "{out:?}");

    // ---- an empty queue: one empty receive ----
    let idle = create_queue(&client, "metrics-idle").await;
    assert!(receive_hidden(&client, &idle, 1).await.is_empty());

    // ---- FIFO: the same deduplication id twice ----
    let fifo = create_queue_with(&client, "metrics.fifo", &[(A::FifoQueue, "true")]).await;
    for _ in 0..2 {
        client
            .send_message()
            .queue_url(&fifo)
            .message_body("once")
            .message_group_id("g")
            .message_deduplication_id("same")
            .send()
            .await
            .unwrap();
    }

    // ---- a queue that is deleted again ----
    let gone = create_queue(&client, "metrics-gone").await;
    client
        .send_message()
        .queue_url(&gone)
        .message_body("bye")
        .send()
        .await
        .unwrap();
    let before = scrape(&server);
    assert_eq!(
        before.queue("stowage_queue_messages_visible", "metrics-gone"),
        1.0
    );
    client.delete_queue().queue_url(&gone).send().await.unwrap();

    // ---- an error outcome ----
    client
        .get_queue_url()
        .queue_name("metrics-missing")
        .send()
        .await
        .unwrap_err();

    // ---- the scrape, and GetQueueAttributes at the same (quiet) moment ----
    let m = scrape(&server);
    let attrs = attributes(&client, &main).await;
    let q = "metrics-main";
    assert_eq!(m.queue("stowage_queue_messages_sent_total", q), 8.0);
    assert_eq!(
        m.queue("stowage_queue_sent_bytes_total", q),
        sent_bytes as f64
    );
    assert_eq!(m.queue("stowage_queue_messages_received_total", q), 5.0);
    assert_eq!(m.queue("stowage_queue_messages_deleted_total", q), 3.0);
    assert_eq!(
        m.queue("stowage_queue_empty_receives_total", q),
        empty_receives as f64
    );
    assert_eq!(
        m.queue("stowage_queue_messages_dead_lettered_total", q),
        0.0
    );
    assert_eq!(m.queue("stowage_queue_messages_deduplicated_total", q), 0.0);
    assert_eq!(m.queue("stowage_queue_is_dead_letter", q), 0.0);
    assert_eq!(m.queue("stowage_queue_messages_visible", q), 2.0);
    assert_eq!(m.queue("stowage_queue_messages_not_visible", q), 2.0);
    assert_eq!(m.queue("stowage_queue_messages_delayed", q), 1.0);
    assert_eq!(
        m.queue("stowage_queue_messages_visible", q),
        attrs["ApproximateNumberOfMessages"]
    );
    assert_eq!(
        m.queue("stowage_queue_messages_not_visible", q),
        attrs["ApproximateNumberOfMessagesNotVisible"]
    );
    assert_eq!(
        m.queue("stowage_queue_messages_delayed", q),
        attrs["ApproximateNumberOfMessagesDelayed"]
    );
    let age = m.queue("stowage_queue_oldest_message_age_seconds", q);
    assert!((0.0..120.0).contains(&age), "oldest age {age}");

    // The sent-size histogram saw the same 8 messages.
    let size = |suffix: &str| {
        m.queue(
            &format!("stowage_queue_sent_message_size_bytes_{suffix}"),
            q,
        )
    };
    assert_eq!(size("count"), 8.0);
    assert_eq!(size("sum"), sent_bytes as f64);
    assert_eq!(
        m.one(
            "stowage_queue_sent_message_size_bytes_bucket",
            &[("queue", q), ("le", "64")]
        ),
        4.0,
        "bodies of at most 64 bytes: hello, later, batch-0-, batch-1-…"
    );

    let idle_attrs = attributes(&client, &idle).await;
    assert_eq!(
        m.queue("stowage_queue_empty_receives_total", "metrics-idle"),
        1.0
    );
    assert_eq!(
        m.queue("stowage_queue_messages_visible", "metrics-idle"),
        0.0
    );
    assert_eq!(idle_attrs["ApproximateNumberOfMessages"], 0.0);
    assert_eq!(
        m.queue("stowage_queue_oldest_message_age_seconds", "metrics-idle"),
        0.0
    );

    assert_eq!(
        m.queue("stowage_queue_messages_deduplicated_total", "metrics.fifo"),
        1.0
    );
    assert_eq!(
        m.queue("stowage_queue_messages_visible", "metrics.fifo"),
        1.0
    );

    // The deleted queue left no series behind.
    assert!(
        !m.text.contains("metrics-gone"),
        "deleted queue still exported:\n{}",
        m.text
    );

    // ---- requests by action and outcome ----
    let ok = |action: &str| {
        m.find(
            "stowage_requests_total",
            &[("action", action), ("outcome", "success")],
        )
    };
    assert_eq!(ok("CreateQueue"), vec![4.0]);
    assert_eq!(ok("SendMessageBatch"), vec![1.0]);
    assert_eq!(ok("DeleteQueue"), vec![1.0]);
    assert_eq!(
        m.one(
            "stowage_requests_total",
            &[("action", "GetQueueUrl"), ("outcome", "QueueDoesNotExist")]
        ),
        1.0
    );
    assert_eq!(
        m.one(
            "stowage_request_duration_seconds_count",
            &[("action", "CreateQueue")]
        ),
        4.0
    );
    assert!(m.samples.iter().all(|s| {
        !s.name.starts_with("stowage_request")
            || s.labels
                .keys()
                .all(|k| k == "action" || k == "outcome" || k == "le")
    }));

    // ---- storage (the embedded store's log; none over PostgreSQL) and process ----
    match backend() {
        Backend::Wal => {
            assert!(m.one("stowage_wal_appended_bytes_total", &[]) > sent_bytes as f64);
            assert!(m.one("stowage_wal_fsyncs_total", &[]) >= 1.0);
            assert!(m.one("stowage_wal_segments", &[]) >= 1.0);
            assert!(m.one("stowage_wal_disk_bytes", &[]) > 0.0);
            assert_eq!(m.one("stowage_wal_poisoned", &[]), 0.0);
            assert_eq!(m.one("stowage_recovery_truncated_bytes", &[]), 0.0);
        }
        Backend::Postgres => assert!(
            !m.samples.iter().any(|s| s.name.starts_with("stowage_wal_")),
            "a WAL series on a PostgreSQL node"
        ),
    }
    assert!(m.one("stowage_process_resident_memory_bytes", &[]) > 1e6);
    assert!(m.one("stowage_process_open_fds", &[]) >= 3.0);
    assert_eq!(m.find("stowage_build_info", &[]), vec![1.0]);
    assert_eq!(m.find("stowage_http_requests_in_flight", &[]).len(), 1);
    assert_eq!(m.one("stowage_long_polls_waiting", &[]), 0.0);
}

#[tokio::test]
async fn dead_letter_queue_is_flagged_and_counted() {
    let server = metrics_server();
    let client = server.client();
    let dlq = create_queue(&client, "metrics-failed").await;
    let dlq_arn = queue_arn(&client, &dlq).await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}).to_string();
    let src = create_queue_with(
        &client,
        "metrics-work",
        &[(A::RedrivePolicy, policy.as_str())],
    )
    .await;
    client
        .send_message()
        .queue_url(&src)
        .message_body("poison")
        .send()
        .await
        .unwrap();

    // Deliver it with visibility 0 until it leaves the source queue for the DLQ.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = client
            .receive_message()
            .queue_url(&src)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty()
            && queue_attr(&client, &dlq, A::ApproximateNumberOfMessages).await == "1"
        {
            break;
        }
        assert!(Instant::now() < deadline, "message never reached the DLQ");
    }

    let m = scrape(&server);
    assert_eq!(
        m.queue("stowage_queue_is_dead_letter", "metrics-failed"),
        1.0
    );
    assert_eq!(m.queue("stowage_queue_is_dead_letter", "metrics-work"), 0.0);
    assert_eq!(
        m.queue("stowage_queue_messages_dead_lettered_total", "metrics-work"),
        1.0
    );
    assert_eq!(
        m.queue("stowage_queue_messages_visible", "metrics-failed"),
        1.0
    );
    assert_eq!(
        m.queue("stowage_queue_messages_visible", "metrics-work"),
        0.0
    );
    assert_eq!(
        m.queue("stowage_queue_messages_not_visible", "metrics-work"),
        0.0
    );
}
