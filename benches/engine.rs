//! Engine benchmark (issue 3): in-process send → receive → delete of 1 KiB
//! messages in batches of 10 (no HTTP), durability `always` and `never`,
//! compared with the storage crate's group commit of 1 KiB records measured
//! in the same run; then RAM per backlogged message with 1 million messages
//! waiting.
//!
//! Run: `cargo bench -p benches --bench engine`. The data directory is a temp
//! dir under `STOWAGE_BENCH_DIR` (default: the target directory).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use engine::{
    Caller, DeleteEntry, Engine, EngineConfig, QueueRef, ReceiveRequest, SendEntry, SystemClock,
};
use storage::{Append, Durability, Record, Storage, StorageConfig, StoredMessage};

const BODY_BYTES: usize = 1024;
const BATCH: usize = 10;
const REPORT_SECS: u64 = 3;
const WORKERS: usize = 16;
const BACKLOG: usize = 1_000_000;

fn bench_dir() -> PathBuf {
    std::env::var_os("STOWAGE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target"))
        })
}

fn tempdir() -> tempfile::TempDir {
    let base = bench_dir();
    let _ = std::fs::create_dir_all(&base);
    tempfile::Builder::new()
        .prefix("stowage-engine-bench")
        .tempdir_in(base)
        .unwrap_or_else(|e| panic!("temp dir: {e}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn caller() -> Caller {
    Caller {
        account: "000000000000".into(),
        sender_id: "bench".into(),
    }
}

async fn open_engine(dir: &std::path::Path, durability: Durability) -> (Engine, QueueRef) {
    let config = StorageConfig {
        durability,
        ..StorageConfig::default()
    };
    let (storage, _) = Storage::open(dir, &config).unwrap_or_else(|e| panic!("open: {e}"));
    let engine = Engine::open(storage, Arc::new(SystemClock), EngineConfig::default())
        .await
        .unwrap_or_else(|e| panic!("engine: {e}"));
    let queue = engine
        .create_queue(&caller(), "bench", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    (engine, queue)
}

fn batch(body: &str, size: usize) -> Vec<SendEntry> {
    (0..size)
        .map(|i| SendEntry {
            id: format!("e{i}"),
            body: body.to_string(),
            ..Default::default()
        })
        .collect()
}

/// One cycle: send 10, receive up to 10, delete what was received. Returns messages deleted.
async fn cycle(engine: &Engine, queue: &QueueRef, body: &str) -> usize {
    let c = caller();
    engine
        .send_message_batch(&c, queue, batch(body, BATCH))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    let request = ReceiveRequest {
        max_number_of_messages: Some(BATCH as i64),
        wait_time_seconds: Some(0),
        ..Default::default()
    };
    let got = engine
        .receive_message(&c, queue, request)
        .await
        .unwrap_or_else(|e| panic!("receive: {e}"));
    if got.is_empty() {
        return 0;
    }
    let entries: Vec<DeleteEntry> = got
        .iter()
        .enumerate()
        .map(|(i, m)| DeleteEntry {
            id: format!("d{i}"),
            receipt_handle: m.receipt_handle.clone(),
        })
        .collect();
    let result = engine
        .delete_message_batch(&c, queue, entries)
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    result.successful.len()
}

fn criterion_benches(c: &mut Criterion) {
    let rt = runtime();
    let body = "x".repeat(BODY_BYTES);
    let mut group = c.benchmark_group("engine_send_receive_delete_1KiB_batch10");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    for (name, durability) in [("always", Durability::Always), ("never", Durability::Never)] {
        let dir = tempdir();
        let (engine, queue) = rt.block_on(open_engine(dir.path(), durability));
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| cycle(&engine, &queue, &body));
        });
        rt.block_on(async {
            let _ = engine.shutdown().await;
            if let Some(storage) = engine.storage() {
                let _ = storage.close().await;
            }
        });
    }
    group.finish();
}

/// Messages/s through send → receive → delete with `WORKERS` concurrent clients.
fn engine_rate(rt: &tokio::runtime::Runtime, durability: Durability) -> f64 {
    let dir = tempdir();
    let body = "x".repeat(BODY_BYTES);
    rt.block_on(async {
        let (engine, queue) = open_engine(dir.path(), durability).await;
        let background = engine.spawn_background();
        let deadline = Instant::now() + Duration::from_secs(REPORT_SECS);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..WORKERS {
            let (engine, queue, body) = (engine.clone(), queue.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut done = 0usize;
                while Instant::now() < deadline {
                    done += cycle(&engine, &queue, &body).await;
                }
                done
            }));
        }
        let mut total = 0usize;
        for t in tasks {
            total += t.await.unwrap_or(0);
        }
        let rate = total as f64 / start.elapsed().as_secs_f64();
        let _ = engine.shutdown().await;
        background.abort();
        if let Some(storage) = engine.storage() {
            let _ = storage.close().await;
        }
        rate
    })
}

fn stored(n: u64) -> Record {
    let mut message_id = [0u8; 16];
    message_id[..8].copy_from_slice(&n.to_be_bytes());
    Record::MessageSent(StoredMessage {
        queue_id: 1,
        message_id,
        body: "m".repeat(BODY_BYTES),
        attributes: BTreeMap::new(),
        trace_header: None,
        sender_id: "bench".into(),
        sent_ms: n,
        visible_at_ms: n,
        expires_at_ms: u64::MAX,
        group_id: None,
        dedup_id: None,
        sequence_number: None,
        dead_letter_source_arn: None,
        receive_count: 0,
        first_receive_ms: 0,
        receipt_epoch: 0,
    })
}

/// Durable 1 KiB records/s of storage group commit with `WORKERS` appenders (always).
fn storage_rate(rt: &tokio::runtime::Runtime) -> f64 {
    let dir = tempdir();
    rt.block_on(async {
        let config = StorageConfig::default();
        let (storage, _) =
            Storage::open(dir.path(), &config).unwrap_or_else(|e| panic!("open: {e}"));
        let deadline = Instant::now() + Duration::from_secs(REPORT_SECS);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..WORKERS as u64 {
            let s = storage.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let record = stored(t << 40 | n);
                    s.append(Append {
                        records: vec![record],
                        release: vec![],
                    })
                    .await
                    .unwrap_or_else(|e| panic!("append: {e}"));
                    n += 1;
                }
                n
            }));
        }
        let mut total = 0u64;
        for t in tasks {
            total += t.await.unwrap_or(0);
        }
        let rate = total as f64 / start.elapsed().as_secs_f64();
        let _ = storage.close().await;
        rate
    })
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn throughput_report(rt: &tokio::runtime::Runtime) {
    println!("\n== Engine send → receive → delete, 1 KiB, batches of 10, {WORKERS} clients, {REPORT_SECS} s per row ==");
    let storage = storage_rate(rt);
    println!("| durability | messages/s (full cycle) | ÷ storage group commit (1 KiB, {WORKERS} appenders, always) |");
    println!("|---|---|---|");
    for (name, durability) in [("always", Durability::Always), ("never", Durability::Never)] {
        let rate = engine_rate(rt, durability);
        println!("| {name} | {rate:.0} | {:.2} |", rate / storage);
    }
    println!("storage group commit (same run): {storage:.0} durable records/s");
}

fn memory_report(rt: &tokio::runtime::Runtime) {
    let dir = tempdir();
    rt.block_on(async {
        let (engine, queue) = open_engine(dir.path(), Durability::Never).await;
        let c = caller();
        let body = "m".repeat(32);
        let rss_before = rss_bytes();
        let storage_before = engine.storage().map_or(0, |s| s.memory_bytes());
        for _ in 0..BACKLOG / BATCH {
            engine
                .send_message_batch(&c, &queue, batch(&body, BATCH))
                .await
                .unwrap_or_else(|e| panic!("send: {e}"));
        }
        let rss_after = rss_bytes();
        let storage_bytes = engine.storage().map_or(0, |s| s.memory_bytes()) - storage_before;
        let total = rss_after.saturating_sub(rss_before) as f64 / BACKLOG as f64;
        let storage_per = storage_bytes as f64 / BACKLOG as f64;
        println!("\n== RAM per backlogged message ({BACKLOG} messages waiting) ==");
        println!("RSS delta per message (engine + storage): {total:.0} B");
        println!("of which storage liveness structures: {storage_per:.0} B");
        println!(
            "engine index (RSS delta − storage): {:.0} B",
            total - storage_per
        );
        let _ = engine.shutdown().await;
        if let Some(storage) = engine.storage() {
            let _ = storage.close().await;
        }
        drop(engine);
        // Restart: replay the 1M-message log.
        let start = Instant::now();
        let (storage, recovered) = Storage::open(dir.path(), &StorageConfig::default())
            .unwrap_or_else(|e| panic!("reopen: {e}"));
        let opened = Instant::now();
        let engine = Engine::open(storage, Arc::new(SystemClock), EngineConfig::default())
            .await
            .unwrap_or_else(|e| panic!("engine: {e}"));
        let replayed = Instant::now();
        let waiting: u64 = engine.queue_gauges()
            .await
            .unwrap_or_else(|e| panic!("gauges: {e}")).iter().map(|g| g.visible).sum();
        println!(
            "restart with {waiting} messages waiting: storage open {:.2} s (index rebuilt: {}), engine replay {:.2} s",
            (opened - start).as_secs_f64(),
            recovered.index_rebuilt,
            (replayed - opened).as_secs_f64()
        );
        if let Some(storage) = engine.storage() {
            let _ = storage.close().await;
        }
    });
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
    let rt = runtime();
    throughput_report(&rt);
    memory_report(&rt);
}
