//! The distributed dialect (SERIALIZABLE, no SKIP LOCKED) with injected
//! serialization failures and dropped connections, on two nodes: retried
//! or answered `Unavailable`, never a lost or duplicated acknowledgement.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::*;

async fn faulty(url: &str) -> PgStore {
    open_with(url, |c| {
        c.dialect = Dialect::Distributed;
        c.max_retries = 12;
        c.faults = FaultConfig {
            serialization_permille: 100,
            disconnect_permille: 40,
        };
    })
    .await
}

/// Calls `op` until it answers something other than `Unavailable`.
macro_rules! retried {
    ($unavailable:ident, $op:expr) => {
        loop {
            match $op {
                Ok(value) => break value,
                Err(StoreError::Unavailable(_)) => $unavailable += 1,
                Err(other) => panic!("{other}"),
            }
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_conflicts_and_disconnects_lose_and_duplicate_nothing() {
    let url = database!();
    let clean = open(&url).await;
    let q = create(&clean, "faults.fifo", &[("FifoQueue", "true")]).await;
    let a = Arc::new(faulty(&url).await);
    let b = Arc::new(faulty(&url).await);
    let total = 120usize;
    // Producers retry every send until it is acknowledged: a send whose
    // commit outcome was unknown is deduplicated on the retry.
    let mut producers = Vec::new();
    for p in 0..2 {
        let store = if p == 0 { a.clone() } else { b.clone() };
        let q = q.clone();
        producers.push(tokio::spawn(async move {
            let mut acknowledged: HashMap<String, MessageId> = HashMap::new();
            let mut unavailable = 0;
            for i in (p..total).step_by(2) {
                let body = format!("m{i}");
                let group = format!("g{}", i % 5);
                let entry = fifo_msg(&body, &group, &body);
                let outcome = retried!(unavailable, store.send(&q, vec![entry.clone()], T0).await);
                let id = match outcome[0] {
                    SendOutcome::Stored { .. } => entry.message_id,
                    SendOutcome::Duplicate { message_id, .. } => message_id,
                };
                acknowledged.insert(body, id);
            }
            (acknowledged, unavailable)
        }));
    }
    let mut acknowledged: HashMap<String, MessageId> = HashMap::new();
    let mut unavailable = 0;
    for p in producers {
        let (acks, u) = p.await.unwrap();
        acknowledged.extend(acks);
        unavailable += u;
    }
    assert_eq!(acknowledged.len(), total);
    // Exactly one stored message per acknowledged send.
    let stored = clean.peek(&q, None, 10_000, T0).await.unwrap();
    let stored_ids: HashSet<MessageId> = stored.iter().map(|e| e.message.message_id).collect();
    assert_eq!(stored.len(), total, "no duplicate from a retried send");
    assert!(
        acknowledged.values().all(|id| stored_ids.contains(id)),
        "no acknowledged send lost"
    );

    // Consumers on both nodes: receive and delete, retrying deletes. A
    // message whose delete was acknowledged never comes back.
    let deleted = Arc::new(std::sync::Mutex::new(HashSet::<MessageId>::new()));
    let mut consumers = Vec::new();
    for c in 0..2 {
        let store = if c == 0 { a.clone() } else { b.clone() };
        let (q, deleted) = (q.clone(), deleted.clone());
        consumers.push(tokio::spawn(async move {
            let mut unavailable = 0;
            let mut empty = 0;
            let mut now = T0 + 1;
            while empty < 5 {
                now += 1;
                let s = spec(5, 60_000);
                let batch = match retried!(unavailable, store.receive(&q, &s, now).await) {
                    ReceiveOutcome::Delivered { delivered, .. } => delivered,
                    ReceiveOutcome::OverLimit => panic!("over limit"),
                };
                if batch.is_empty() {
                    // A receive whose commit went through unacknowledged left
                    // its messages in flight: let their timeout pass.
                    empty += 1;
                    now += 61_000;
                    continue;
                }
                empty = 0;
                for m in &batch {
                    assert!(
                        !deleted.lock().unwrap().contains(&m.message_id),
                        "a deleted message came back"
                    );
                }
                let deliveries: Vec<Delivery> = batch.iter().map(delivery).collect();
                let outcomes =
                    retried!(unavailable, store.delete(&q, &deliveries, false, now).await);
                for (m, o) in batch.iter().zip(outcomes) {
                    // Deleted, or Gone when an earlier attempt's commit went through.
                    assert!(
                        matches!(o, DeleteOutcome::Deleted | DeleteOutcome::Gone),
                        "{o:?}"
                    );
                    deleted.lock().unwrap().insert(m.message_id);
                }
            }
            unavailable
        }));
    }
    for c in consumers {
        unavailable += c.await.unwrap();
    }
    assert_eq!(deleted.lock().unwrap().len(), total);
    assert!(clean
        .peek(&q, None, 10, T0 + 10_000)
        .await
        .unwrap()
        .is_empty());
    eprintln!("{unavailable} Unavailable answers were retried by the callers");
}
