//! Store-level throughput on the test server (`STOWAGE_SLOW_TESTS=1`; prints
//! figures, asserts only that the work was done). Through HTTP and with
//! real clients, the figures belong in benches/ once the front is cut.

use std::sync::Arc;
use std::time::Instant;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_level_throughput() {
    if std::env::var("STOWAGE_SLOW_TESTS").is_err() {
        return;
    }
    let url = database!();
    let store = Arc::new(open_with(&url, |c| c.pool_size = 16).await);
    for fifo in [false, true] {
        let name = if fifo { "bench.fifo" } else { "bench" };
        let attrs: &[(&str, &str)] = if fifo { &[("FifoQueue", "true")] } else { &[] };
        let q = create(&store, name, attrs).await;
        let (clients, batches) = (8, 100);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (store, q) = (store.clone(), q.clone());
            tasks.push(tokio::spawn(async move {
                for b in 0..batches {
                    let batch = (0..10)
                        .map(|i| {
                            let body = format!("{c}-{b}-{i}");
                            if fifo {
                                fifo_msg(&body, &format!("g{c}"), &body)
                            } else {
                                msg(&body)
                            }
                        })
                        .collect();
                    store.send(&q, batch, T0).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let sent = clients * batches * 10;
        let send_rate = sent as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (store, q) = (store.clone(), q.clone());
            tasks.push(tokio::spawn(async move {
                let (mut n, mut empty) = (0, 0);
                loop {
                    let got = receive(&store, &q, &spec(10, 600_000), T0 + 1).await;
                    if got.is_empty() {
                        // FIFO: the other groups may all be held by other consumers.
                        empty += 1;
                        if empty == 5 {
                            return n;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                    empty = 0;
                    n += got.len();
                    let d: Vec<Delivery> = got.iter().map(delivery).collect();
                    store.delete(&q, &d, true, T0 + 2).await.unwrap();
                }
            }));
        }
        let mut received = 0;
        for t in tasks {
            received += t.await.unwrap();
        }
        let receive_rate = received as f64 / started.elapsed().as_secs_f64();
        eprintln!(
            "{name}: batch send {send_rate:.0} msg/s, receive+delete (batches of 10) {receive_rate:.0} msg/s"
        );
        assert_eq!(received, sent);
    }
}
