//! Compaction and reclamation under load: with 4 KiB segments and a compaction pass every
//! few milliseconds, concurrent producers and consumers (ReceiveMessage(10) +
//! DeleteMessageBatch) never get a 5xx (it used to answer 500 `InternalFailure`, "no record at
//! segment N offset M", when a receive read a record compaction had just moved).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName as A};

use crate::common::*;
use crate::harness::{embedded_store_only, ServerOptions, TestServer};

const PRODUCERS: usize = 3;
const CONSUMERS: usize = 3;
const PER_PRODUCER: usize = 120;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receives_under_continuous_compaction_never_fail() {
    if embedded_store_only("log compaction is the embedded store's") {
        return;
    }
    let env = [
        ("STOWAGE_STORAGE_SEGMENT_SIZE_BYTES", "4096"),
        ("STOWAGE_STORAGE_COMPACTION_LIVE_RATIO", "0.9"),
        ("STOWAGE_ENGINE_SWEEP_INTERVAL_MS", "1"),
        ("STOWAGE_METRICS_SERVE_ON_API_PORT", "true"),
    ];
    let server = TestServer::start(ServerOptions {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ServerOptions::durable()
    });
    let client = server.client();
    let url = create_queue_with(&client, "churn", &[(A::VisibilityTimeout, "600")]).await;
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let bodies: Arc<Mutex<HashSet<String>>> = Arc::default();
    let sending = Arc::new(AtomicBool::new(true));

    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (client, url, errors) = (client.clone(), url.clone(), errors.clone());
        producers.push(tokio::spawn(async move {
            for i in 0..PER_PRODUCER {
                let body = format!("{p}-{i}-{}", "x".repeat(200));
                let sent = client
                    .send_message()
                    .queue_url(&url)
                    .message_body(body)
                    .send()
                    .await;
                if let Err(e) = sent {
                    errors
                        .lock()
                        .unwrap()
                        .push(format!("send: {}", DisplayErrorContext(&e)));
                }
            }
        }));
    }
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        let (client, url, errors, bodies, sending) = (
            client.clone(),
            url.clone(),
            errors.clone(),
            bodies.clone(),
            sending.clone(),
        );
        consumers.push(tokio::spawn(async move {
            loop {
                let out = client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .send()
                    .await;
                let messages = match out {
                    Ok(out) => out.messages().to_vec(),
                    Err(e) => {
                        errors
                            .lock()
                            .unwrap()
                            .push(format!("receive: {}", DisplayErrorContext(&e)));
                        continue;
                    }
                };
                if messages.is_empty() {
                    if !sending.load(Ordering::SeqCst) {
                        return;
                    }
                    continue;
                }
                let entries = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        DeleteMessageBatchRequestEntry::builder()
                            .id(format!("d{i}"))
                            .receipt_handle(m.receipt_handle().unwrap())
                            .build()
                            .unwrap()
                    })
                    .collect();
                let deleted = client
                    .delete_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await;
                match deleted {
                    Ok(out) if out.failed().is_empty() => {}
                    Ok(out) => errors
                        .lock()
                        .unwrap()
                        .push(format!("delete: {:?}", out.failed())),
                    Err(e) => errors
                        .lock()
                        .unwrap()
                        .push(format!("delete: {}", DisplayErrorContext(&e))),
                }
                bodies
                    .lock()
                    .unwrap()
                    .extend(messages.iter().filter_map(|m| m.body().map(str::to_string)));
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    sending.store(false, Ordering::SeqCst);
    for c in consumers {
        c.await.unwrap();
    }
    let errors = errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "{} failed calls, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(bodies.lock().unwrap().len(), PRODUCERS * PER_PRODUCER);
    // Compaction and reclamation did run under the load.
    let metrics = server.http("GET", "/metrics", &[], b"").text();
    for name in [
        "stowage_wal_compactions_total",
        "stowage_wal_reclaimed_bytes_total",
    ] {
        let value: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} missing from /metrics"));
        assert!(value > 0.0, "{name} = {value}");
    }
    assert!(
        !server.stderr().contains("InternalFailure")
            && !server.stderr().contains("internal failure"),
        "the server logged an internal failure"
    );
}
