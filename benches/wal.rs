//! WAL benchmarks (storage, issue 2): the raw one-at-a-time `write + fdatasync`
//! baseline and group commit with 1, 16 and 64 concurrent appenders of 256 B,
//! 1 KiB and 64 KiB records (durability `always`), on the same disk in the
//! same run. After the criterion groups, a fixed-duration pass prints durable
//! records/s and p50/p99 append latency next to the raw baseline, and the RAM
//! per stored message of storage's own structures with 1 million records.
//!
//! Run: `cargo bench -p benches --bench wal`. The data directory is a temp
//! dir under `STOWAGE_BENCH_DIR` (default: the target directory, i.e. the
//! same disk as the build).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use storage::{Append, Durability, Record, Storage, StorageConfig, StoredMessage};

const SIZES: [usize; 3] = [256, 1024, 64 * 1024];
const APPENDERS: [usize; 3] = [1, 16, 64];
const REPORT_SECS: u64 = 2;

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
        .prefix("stowage-wal-bench")
        .tempdir_in(base)
        .unwrap_or_else(|e| panic!("temp dir: {e}"))
}

fn record(n: u64, body: usize) -> Record {
    let mut message_id = [0u8; 16];
    message_id[..8].copy_from_slice(&n.to_be_bytes());
    Record::MessageSent(StoredMessage {
        queue_id: 1,
        message_id,
        body: "m".repeat(body),
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn open(dir: &std::path::Path, durability: Durability) -> Storage {
    let cfg = StorageConfig {
        durability,
        ..StorageConfig::default()
    };
    Storage::open(dir, &cfg)
        .unwrap_or_else(|e| panic!("open: {e}"))
        .0
}

/// Raw baseline: one 1 KiB write + fdatasync at a time.
fn raw_once(file: &mut std::fs::File, buf: &[u8]) {
    file.write_all(buf).unwrap_or_else(|e| panic!("write: {e}"));
    file.sync_data()
        .unwrap_or_else(|e| panic!("fdatasync: {e}"));
}

/// `total` appends spread over `appenders` tasks; returns per-append latencies.
async fn drive(
    storage: &Storage,
    appenders: usize,
    size: usize,
    total: u64,
    deadline: Option<Instant>,
) -> Vec<Duration> {
    let per_task = total.div_ceil(appenders as u64);
    let mut tasks = Vec::new();
    for t in 0..appenders {
        let s = storage.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in 0..per_task {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let r = record((t as u64) << 40 | i, size);
                let start = Instant::now();
                s.append(Append {
                    records: vec![r],
                    release: vec![],
                })
                .await
                .unwrap_or_else(|e| panic!("append: {e}"));
                lat.push(start.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_else(|e| panic!("task: {e}")));
    }
    all
}

fn criterion_benches(c: &mut Criterion) {
    let dir = tempdir();
    let mut raw = c.benchmark_group("wal_raw");
    raw.throughput(Throughput::Elements(1));
    let mut file =
        std::fs::File::create(dir.path().join("raw")).unwrap_or_else(|e| panic!("create: {e}"));
    let buf = vec![7u8; 1024];
    raw.bench_function("write_1KiB_fdatasync", |b| {
        b.iter(|| raw_once(&mut file, &buf))
    });
    raw.finish();

    let rt = runtime();
    let mut group = c.benchmark_group("wal_group_commit");
    for size in SIZES {
        for appenders in APPENDERS {
            let d = tempdir();
            let storage = open(d.path(), Durability::Always);
            group.throughput(Throughput::Elements(1));
            group.bench_with_input(
                BenchmarkId::new(format!("{size}B"), format!("{appenders}_appenders")),
                &(),
                |b, ()| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        rt.block_on(drive(
                            &storage,
                            appenders,
                            size,
                            iters.max(appenders as u64),
                            None,
                        ));
                        start
                            .elapsed()
                            .mul_f64(iters as f64 / (iters.max(appenders as u64) as f64))
                    });
                },
            );
            if let Err(e) = rt.block_on(storage.close()) {
                panic!("close: {e}");
            }
        }
    }
    group.finish();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn fmt_us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// The raw baseline for `secs`: (sorted latencies, records/s).
fn raw_pass(dir: &std::path::Path, secs: f64) -> (Vec<Duration>, f64) {
    let mut file = std::fs::File::create(dir.join("raw")).unwrap_or_else(|e| panic!("create: {e}"));
    let buf = vec![7u8; 1024];
    let mut raw = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        let t = Instant::now();
        raw_once(&mut file, &buf);
        raw.push(t.elapsed());
    }
    raw.sort();
    let rate = raw.len() as f64 / start.elapsed().as_secs_f64();
    (raw, rate)
}

/// Fixed-duration pass: durable records/s and latency percentiles. The
/// disk of a shared VM changes speed from minute to minute, so every row is
/// paired with a raw baseline measured just before it.
fn latency_report() {
    let dir = tempdir();
    println!("\n== WAL durable append report ({REPORT_SECS} s per row, each after its own 1 s raw baseline) ==");
    println!(
        "| record | appenders | durable records/s | raw records/s | × raw rate | p50 | p99 | raw mean | raw p99 | p99 / raw mean | p99 / raw p99 | records/fsync |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let rt = runtime();
    for size in SIZES {
        for appenders in APPENDERS {
            let (raw, raw_rate) = raw_pass(dir.path(), 1.0);
            let raw_mean = raw.iter().sum::<Duration>() / raw.len().max(1) as u32;
            let raw_p99 = percentile(&raw, 0.99);
            let d = tempdir();
            let storage = open(d.path(), Durability::Always);
            let fsyncs_before = storage.stats().fsyncs;
            let start = Instant::now();
            let mut lat = rt.block_on(drive(
                &storage,
                appenders,
                size,
                u64::MAX,
                Some(start + Duration::from_secs(REPORT_SECS)),
            ));
            let elapsed = start.elapsed().as_secs_f64();
            let fsyncs = storage.stats().fsyncs - fsyncs_before;
            if let Err(e) = rt.block_on(storage.close()) {
                panic!("close: {e}");
            }
            lat.sort();
            let rate = lat.len() as f64 / elapsed;
            let p99 = percentile(&lat, 0.99);
            println!(
                "| {size} B | {appenders} | {rate:.0} | {raw_rate:.0} | {:.1} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} |",
                rate / raw_rate,
                fmt_us(percentile(&lat, 0.5)),
                fmt_us(p99),
                fmt_us(raw_mean),
                fmt_us(raw_p99),
                p99.as_secs_f64() / raw_mean.as_secs_f64(),
                p99.as_secs_f64() / raw_p99.as_secs_f64(),
                lat.len() as f64 / fsyncs.max(1) as f64
            );
        }
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// RAM per stored message of storage's own structures with 1 million records.
fn memory_report() {
    const N: u64 = 1_000_000;
    let dir = tempdir();
    let rt = runtime();
    let storage = Arc::new(open(dir.path(), Durability::Never));
    let rss_before = rss_bytes();
    let mem_before = storage.memory_bytes();
    rt.block_on(async {
        let batch = 100u64;
        for chunk in 0..N / batch {
            let records = (0..batch).map(|i| record(chunk * batch + i, 32)).collect();
            storage
                .append(Append {
                    records,
                    release: vec![],
                })
                .await
                .unwrap_or_else(|e| panic!("append: {e}"));
        }
        storage.sync().await.unwrap_or_else(|e| panic!("sync: {e}"));
    });
    let structural = storage.memory_bytes() - mem_before;
    let rss = rss_bytes().saturating_sub(rss_before);
    let stats = storage.stats();
    println!("\n== RAM per stored message ({N} records of 32 B bodies) ==");
    println!(
        "storage structures (liveness): {structural} B total, {:.2} B/record",
        structural as f64 / N as f64
    );
    println!(
        "process RSS growth (includes sled's page cache and allocator slack): {rss} B, {:.1} B/record",
        rss as f64 / N as f64
    );
    println!(
        "segments {}, disk {} B, index {} B",
        stats.segments, stats.disk_bytes, stats.index_bytes
    );
    if let Err(e) = rt.block_on(storage.close()) {
        panic!("close: {e}");
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
    if std::env::var_os("STOWAGE_BENCH_SKIP_REPORT").is_none() {
        latency_report();
        memory_report();
    }
}
