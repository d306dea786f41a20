//! Receives racing compaction and reclamation: a receive must never fail
//! because compaction moved the record it reads (issue: ReceiveMessage
//! answered 500 `no record at segment N offset M` under load once segments
//! rolled over). Compaction and reclamation run continuously on 4 KiB
//! segments while producers send and consumers receive and delete.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::*;

const PRODUCERS: usize = 3;
const CONSUMERS: usize = 3;
const MESSAGES_PER_PRODUCER: usize = 150;

/// E8 under concurrency: with compaction and reclamation running back to
/// back, every receive, delete and send succeeds, every message is received,
/// and space is reclaimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receives_never_fail_while_compaction_moves_records() {
    let h = Harness::with_storage(StorageConfig {
        segment_size_bytes: 4096,
        durability: Durability::Always,
        // Compact any sealed segment that lost a tenth of its bytes, so
        // records move all the time.
        compaction_live_ratio: 0.9,
        ..Default::default()
    })
    .await;
    let q = h.create("race", &[("VisibilityTimeout", "600")]).await;
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let received: Arc<Mutex<HashSet<String>>> = Arc::default();
    let sending = Arc::new(AtomicBool::new(true));
    let compacting = Arc::new(AtomicBool::new(true));

    let compactor = {
        let (engine, errors, compacting) = (h.engine.clone(), errors.clone(), compacting.clone());
        tokio::spawn(async move {
            let mut passes = 0u64;
            while compacting.load(Ordering::SeqCst) {
                if let Err(e) = engine.tick().await {
                    errors.lock().unwrap().push(format!("compaction: {e}"));
                }
                passes += 1;
                tokio::task::yield_now().await;
            }
            passes
        })
    };
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (engine, caller, queue, errors) = (
            h.engine.clone(),
            h.caller.clone(),
            q.clone(),
            errors.clone(),
        );
        producers.push(tokio::spawn(async move {
            for i in 0..MESSAGES_PER_PRODUCER {
                let entry = SendEntry {
                    body: format!("{p}-{i}-{}", "x".repeat(150)),
                    ..Default::default()
                };
                if let Err(e) = engine.send_message(&caller, &queue, entry).await {
                    errors.lock().unwrap().push(format!("send: {e}"));
                }
            }
        }));
    }
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        let (engine, caller, queue, errors, received, sending) = (
            h.engine.clone(),
            h.caller.clone(),
            q.clone(),
            errors.clone(),
            received.clone(),
            sending.clone(),
        );
        consumers.push(tokio::spawn(async move {
            loop {
                let request = ReceiveRequest {
                    max_number_of_messages: Some(10),
                    ..Default::default()
                };
                let got = match engine.receive_message(&caller, &queue, request).await {
                    Ok(got) => got,
                    Err(e) => {
                        errors.lock().unwrap().push(format!("receive: {e}"));
                        continue;
                    }
                };
                if got.is_empty() {
                    if !sending.load(Ordering::SeqCst) {
                        return;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                let entries = got
                    .iter()
                    .enumerate()
                    .map(|(i, m)| DeleteEntry {
                        id: format!("d{i}"),
                        receipt_handle: m.receipt_handle.clone(),
                    })
                    .collect();
                match engine.delete_message_batch(&caller, &queue, entries).await {
                    Ok(result) if result.failed.is_empty() => {}
                    Ok(result) => errors
                        .lock()
                        .unwrap()
                        .push(format!("delete: {:?}", result.failed)),
                    Err(e) => errors.lock().unwrap().push(format!("delete: {e}")),
                }
                received
                    .lock()
                    .unwrap()
                    .extend(got.into_iter().map(|m| m.body));
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
    compacting.store(false, Ordering::SeqCst);
    let passes = compactor.await.unwrap();

    let errors = errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "{} errors in {passes} compaction passes, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(
        received.lock().unwrap().len(),
        PRODUCERS * MESSAGES_PER_PRODUCER,
        "every message received"
    );
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    let stats = h.engine.storage().unwrap().stats();
    assert!(stats.reclaimed_bytes > 0, "reclamation ran: {stats:?}");
    assert!(stats.compactions > 0, "compaction ran: {stats:?}");
}
