//! kill -9 under load through the HTTP API.
//!
//! Each cycle: start (or restart) the `stowage` binary with durability `always` on the same
//! data directory, drive concurrent SendMessageBatch load with aws-sdk-sqs while recording
//! every acknowledged MessageId, SIGKILL the server at a random moment, restart it, drain the
//! queue and check that every acknowledged message survived and that no message whose
//! delete was acknowledged in an earlier cycle came back. Some cycles also kill the restart
//! during recovery or kill -9 in the middle of the drain; every third cycle stops with SIGTERM
//! under the same load instead (exit 0, same guarantees).
//!
//! Default: 3 short cycles. `STOWAGE_CRASH_CYCLES=N` for more; `STOWAGE_CRASH_SEED=S` to
//! replay a run (the seed is printed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the failure report"
)]

#[path = "../it/harness.rs"]
#[allow(
    dead_code,
    reason = "the crash test uses only part of the shared harness"
)]
mod harness;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, QueueAttributeName, SendMessageBatchRequestEntry,
};
use harness::{ServerOptions, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Concurrent senders per cycle.
const SENDERS: usize = 8;
/// Upper bound on batches per sender per cycle (the kill usually comes first).
const MAX_BATCHES_PER_SENDER: usize = 400;
/// Body padding so records have a realistic size.
const PAD: usize = 256;

/// Acknowledged sends: MessageId → body.
type Acked = Arc<Mutex<HashMap<String, String>>>;

fn main() {
    let cycles: usize = std::env::var("STOWAGE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("STOWAGE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("crash: {cycles} cycles, seed {seed} (STOWAGE_CRASH_SEED={seed} to replay)");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = std::panic::catch_unwind(|| runtime.block_on(run(cycles, seed)));
    match result {
        Ok(()) => println!("crash: {cycles} passed, 0 failed"),
        Err(_) => {
            println!("crash: 0 passed, 1 failed (seed {seed})");
            std::process::exit(1);
        }
    }
}

async fn run(cycles: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let url = client
        .create_queue()
        .queue_name("crash")
        .attributes(QueueAttributeName::VisibilityTimeout, "600")
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("url")
        .to_string();
    let mut deleted_before: HashSet<String> = HashSet::new();
    let (mut total_acked, mut total_extra) = (0usize, 0usize);

    for cycle in 0..cycles {
        let acked: Acked = Arc::new(Mutex::new(HashMap::new()));
        let client = server.client();
        let mut senders = Vec::new();
        for sender in 0..SENDERS {
            let client = client.clone();
            let url = url.clone();
            let acked = Arc::clone(&acked);
            senders.push(tokio::spawn(async move {
                send_until_error(&client, &url, &acked, cycle, sender).await
            }));
        }
        let kill_after = Duration::from_millis(rng.gen_range(200..1500));
        tokio::time::sleep(kill_after).await;
        let pid = server.pid();
        // Every third cycle stops gracefully under the same load instead: SIGTERM must answer
        // in-flight requests, flush and exit 0.
        let graceful = cycle % 3 == 2;
        if graceful {
            let status = tokio::task::block_in_place(|| server.terminate());
            assert!(status.success(), "SIGTERM under load exited with {status}");
        } else {
            tokio::task::block_in_place(|| server.kill9());
        }
        let mut errors_seen = 0;
        for s in senders {
            errors_seen += usize::from(s.await.expect("sender task"));
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());

        // Sometimes crash again while recovery is running.
        if rng.gen_bool(0.5) {
            let after = Duration::from_millis(rng.gen_range(0..400));
            let listening = tokio::task::block_in_place(|| server.kill9_during_start(after));
            println!("crash: cycle {cycle}: killed again {after:?} into the restart (listening: {listening})");
        }
        tokio::task::block_in_place(|| server.restart());

        // Drain; sometimes kill -9 in the middle of the drain and finish after a restart.
        let mut drained = Drained::default();
        if rng.gen_bool(0.5) {
            let kill_after = Duration::from_millis(rng.gen_range(20..400));
            let c = server.client();
            let u = url.clone();
            let partial = tokio::spawn(async move {
                let mut d = Drained::default();
                // Short visibility: a receive whose response the kill swallowed leaves its
                // messages in flight; they must come back for the drain after the restart.
                drain(&c, &u, DRAIN_AFTER_KILL_VISIBILITY, &mut d).await;
                d
            });
            tokio::time::sleep(kill_after).await;
            tokio::task::block_in_place(|| server.kill9());
            let partial = partial.await.expect("drain task");
            println!(
                "crash: cycle {cycle}: killed during the drain after {kill_after:?} \
                 ({} received, {} deletes acknowledged)",
                partial.received.len(),
                partial.deleted.len()
            );
            tokio::task::block_in_place(|| server.restart());
            let mut rest = Drained::default();
            drain_until_empty(&server.client(), &url, &mut rest).await;
            let back: Vec<&String> = partial
                .deleted
                .iter()
                .filter(|id| rest.received.contains_key(*id))
                .collect();
            assert!(
                back.is_empty(),
                "cycle {cycle}: {} messages whose delete was acknowledged came back after kill -9, e.g. {:?}",
                back.len(),
                back.iter().take(5).collect::<Vec<_>>()
            );
            drained.received = partial.received;
            drained.redelivered = partial.redelivered + rest.redelivered;
            for (id, body) in rest.received {
                if drained.received.insert(id, body).is_some() {
                    drained.redelivered += 1;
                }
            }
        } else {
            assert!(
                drain(&server.client(), &url, 600, &mut drained).await,
                "drain failed"
            );
        }
        let (received, duplicates) = (drained.received, drained.redelivered);
        let lost: Vec<&String> = acked
            .keys()
            .filter(|id| !received.contains_key(*id))
            .collect();
        let resurrected: Vec<&String> = received
            .keys()
            .filter(|id| deleted_before.contains(*id))
            .collect();
        let corrupted: Vec<&String> = acked
            .iter()
            .filter(|(id, body)| received.get(*id).is_some_and(|got| got != *body))
            .map(|(id, _)| id)
            .collect();
        let extra = received.len() - (acked.len() - lost.len());
        println!(
            "crash: cycle {cycle}: {} pid {pid} after {kill_after:?} \
             ({errors_seen}/{SENDERS} senders saw the kill); acknowledged {}, recovered {}, \
             lost {}, unacknowledged-but-kept {extra}, redelivered {duplicates}",
            if graceful { "SIGTERM'd" } else { "killed" },
            acked.len(),
            received.len(),
            lost.len(),
        );
        assert!(
            lost.is_empty(),
            "cycle {cycle}: {} acknowledged messages lost after kill -9, e.g. {:?}\n{}",
            lost.len(),
            lost.iter().take(5).collect::<Vec<_>>(),
            server.stderr()
        );
        assert!(
            corrupted.is_empty(),
            "cycle {cycle}: bodies changed for {corrupted:?}"
        );
        assert!(
            resurrected.is_empty(),
            "cycle {cycle}: messages deleted (acknowledged) in an earlier cycle came back: {:?}",
            resurrected.iter().take(5).collect::<Vec<_>>()
        );
        assert!(
            !acked.is_empty(),
            "cycle {cycle}: no send was acknowledged before the kill"
        );
        total_acked += acked.len();
        total_extra += extra;
        deleted_before.extend(received.into_keys());
    }
    println!(
        "crash: all cycles: {total_acked} acknowledged messages, all recovered; \
         {total_extra} unacknowledged ones were also kept"
    );
    let status = tokio::task::block_in_place(|| server.terminate());
    assert!(status.success(), "final SIGTERM exit status {status}");
}

/// Sends batches until the first error; returns whether an error (the kill) was seen.
async fn send_until_error(
    client: &aws_sdk_sqs::Client,
    url: &str,
    acked: &Acked,
    cycle: usize,
    sender: usize,
) -> bool {
    let pad = "p".repeat(PAD);
    for batch in 0..MAX_BATCHES_PER_SENDER {
        let bodies: Vec<String> = (0..10)
            .map(|i| format!("c{cycle}-s{sender}-b{batch}-e{i}-{pad}"))
            .collect();
        let entries = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(body)
                    .build()
                    .expect("entry")
            })
            .collect();
        match client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                assert!(out.failed().is_empty(), "batch entries failed: {out:?}");
                let mut acked = acked.lock().unwrap();
                for e in out.successful() {
                    let idx: usize = e.id().trim_start_matches('e').parse().expect("entry id");
                    acked.insert(e.message_id().to_string(), bodies[idx].clone());
                }
            }
            Err(_) => return true,
        }
    }
    false
}

/// Visibility timeout (s) of receives in a drain that may be killed.
const DRAIN_AFTER_KILL_VISIBILITY: i32 = 3;

/// Drains until the queue has no visible and no in-flight message (in-flight ones left by
/// receives whose responses were lost come back after [`DRAIN_AFTER_KILL_VISIBILITY`]).
async fn drain_until_empty(client: &aws_sdk_sqs::Client, url: &str, out: &mut Drained) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            drain(client, url, DRAIN_AFTER_KILL_VISIBILITY, out).await,
            "drain after restart failed"
        );
        let attrs = client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("queue attributes");
        let total: u64 = attrs
            .attributes()
            .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
            .unwrap_or(0);
        if total == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "queue never emptied: {attrs:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What a drain saw.
#[derive(Default)]
struct Drained {
    /// MessageId → body of every message received.
    received: HashMap<String, String>,
    /// Ids whose delete was acknowledged.
    deleted: HashSet<String>,
    /// Messages received more than once.
    redelivered: usize,
}

/// Receives and deletes until the queue is empty (true) or a call fails (false: the server
/// was killed); `out` holds what was seen and which deletes were acknowledged.
async fn drain(
    client: &aws_sdk_sqs::Client,
    url: &str,
    visibility: i32,
    out: &mut Drained,
) -> bool {
    let mut empty_in_a_row = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    while empty_in_a_row < 3 {
        assert!(Instant::now() < deadline, "drain did not finish");
        let Ok(got) = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(visibility)
            .wait_time_seconds(if empty_in_a_row > 0 { 1 } else { 0 })
            .send()
            .await
        else {
            return false;
        };
        let msgs = got.messages();
        if msgs.is_empty() {
            empty_in_a_row += 1;
            continue;
        }
        empty_in_a_row = 0;
        let mut entries = Vec::new();
        let mut ids = HashMap::new();
        for (i, m) in msgs.iter().enumerate() {
            let id = m.message_id().expect("id").to_string();
            if out
                .received
                .insert(id.clone(), m.body().expect("body").to_string())
                .is_some()
            {
                out.redelivered += 1;
            }
            ids.insert(format!("d{i}"), id);
            entries.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("d{i}"))
                    .receipt_handle(m.receipt_handle().expect("handle"))
                    .build()
                    .expect("entry"),
            );
        }
        let Ok(del) = client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
        else {
            return false;
        };
        assert!(del.failed().is_empty(), "deletes failed: {del:?}");
        for ok in del.successful() {
            out.deleted.insert(ids[ok.id()].clone());
        }
    }
    true
}
