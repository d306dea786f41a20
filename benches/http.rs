//! HTTP benchmark (issue 4): the same send → receive → delete workload as the
//! engine benchmark (batches of 10 × 1 KiB, durability `always`), first
//! in-process against the engine, then over HTTP (AWS JSON 1.0, keep-alive
//! connections on loopback) against a server started in-process with
//! [`server::start`]. Reports messages/s, p50/p99 latency and the ratio
//! HTTP / in-process from the same run.
//!
//! Run: `cargo bench -p benches --bench http`. The data directories are temp
//! dirs under `STOWAGE_BENCH_DIR` (default: the target directory).
//! `STOWAGE_BENCH_SECS` sets the duration of each row (default 5 s).
//! `STOWAGE_BENCH_DURABILITY=never` adds rows with durability `never`, which
//! isolate the CPU cost of the HTTP layer from fsync waits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{
    Caller, DeleteEntry, Engine, EngineConfig, QueueRef, ReceiveRequest, SendEntry, SystemClock,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use storage::{Durability, Storage, StorageConfig};

const BODY_BYTES: usize = 1024;
const BATCH: usize = 10;
const DEFAULT_SECS: u64 = 5;
/// Concurrent clients of the in-process baseline (as in the engine bench).
const ENGINE_CLIENTS: usize = 16;
/// Concurrent keep-alive connections of the HTTP rows.
const HTTP_CONNECTIONS: [usize; 2] = [16, 64];
/// Upper bound on any single request, so a stuck server cannot hang the bench.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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
        .prefix("stowage-http-bench")
        .tempdir_in(base)
        .unwrap_or_else(|e| panic!("temp dir: {e}"))
}

fn row_duration() -> Duration {
    let secs = std::env::var("STOWAGE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS);
    Duration::from_secs(secs.clamp(1, 60))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn durability_name(durability: Durability) -> &'static str {
    match durability {
        Durability::Always => "always",
        Durability::Never => "never",
        Durability::Interval => "interval",
    }
}

/// What one row measured.
#[derive(Default)]
struct Outcome {
    /// Messages sent, received and deleted (full cycles).
    deleted: usize,
    /// Messages acknowledged by SendMessageBatch.
    sent: usize,
    /// Latency of each send batch.
    send: Vec<Duration>,
    /// Latency of each receive + delete batch pair.
    receive_delete: Vec<Duration>,
    elapsed: Duration,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.deleted += other.deleted;
        self.sent += other.sent;
        self.send.extend(other.send);
        self.receive_delete.extend(other.receive_delete);
    }

    fn rate(&self) -> f64 {
        self.deleted as f64 / self.elapsed.as_secs_f64()
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

fn micros(d: Duration) -> u128 {
    d.as_micros()
}

// ---------------------------------------------------------------- in-process

fn caller() -> Caller {
    Caller {
        account: "000000000000".into(),
        sender_id: "bench".into(),
    }
}

async fn open_engine(dir: &Path, durability: Durability) -> (Engine, QueueRef) {
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

/// One in-process cycle, as in `engine.rs`, recording latencies.
async fn engine_cycle(engine: &Engine, queue: &QueueRef, body: &str, out: &mut Outcome) {
    let c = caller();
    let entries = (0..BATCH)
        .map(|i| SendEntry {
            id: format!("e{i}"),
            body: body.to_string(),
            ..Default::default()
        })
        .collect();
    let t = Instant::now();
    let sent = engine
        .send_message_batch(&c, queue, entries)
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    out.send.push(t.elapsed());
    out.sent += sent.successful.len();
    let request = ReceiveRequest {
        max_number_of_messages: Some(BATCH as i64),
        wait_time_seconds: Some(0),
        ..Default::default()
    };
    let t = Instant::now();
    let got = engine
        .receive_message(&c, queue, request)
        .await
        .unwrap_or_else(|e| panic!("receive: {e}"));
    if got.is_empty() {
        return;
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
    out.receive_delete.push(t.elapsed());
    out.deleted += result.successful.len();
}

fn engine_row(rt: &tokio::runtime::Runtime, durability: Durability, secs: Duration) -> Outcome {
    let dir = tempdir();
    let body = "x".repeat(BODY_BYTES);
    rt.block_on(async {
        let (engine, queue) = open_engine(dir.path(), durability).await;
        let background = engine.spawn_background();
        let start = Instant::now();
        let deadline = start + secs;
        let mut tasks = Vec::new();
        for _ in 0..ENGINE_CLIENTS {
            let (engine, queue, body) = (engine.clone(), queue.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut out = Outcome::default();
                while Instant::now() < deadline {
                    engine_cycle(&engine, &queue, &body, &mut out).await;
                }
                out
            }));
        }
        let mut total = Outcome::default();
        for t in tasks {
            total.merge(t.await.unwrap_or_else(|e| panic!("client: {e}")));
        }
        total.elapsed = start.elapsed();
        let _ = engine.shutdown().await;
        background.abort();
        if let Some(storage) = engine.storage() {
            let _ = storage.close().await;
        }
        total
    })
}

// ---------------------------------------------------------------------- HTTP

/// A keep-alive HTTP/1.1 connection speaking AWS JSON 1.0.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    conn: tokio::task::JoinHandle<()>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap_or_else(|e| panic!("handshake: {e}"));
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Client {
            sender,
            host: addr.to_string(),
            conn,
        }
    }

    /// Sends one action and returns its parsed JSON answer; panics on non-200.
    async fn call(&mut self, action: &str, body: Bytes) -> Value {
        let request = Request::post("/")
            .header("host", &self.host)
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(Full::new(body))
            .unwrap_or_else(|e| panic!("request: {e}"));
        let exchange = async {
            self.sender
                .ready()
                .await
                .unwrap_or_else(|e| panic!("{action}: connection: {e}"));
            let response = self
                .sender
                .send_request(request)
                .await
                .unwrap_or_else(|e| panic!("{action}: {e}"));
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{action}: body: {e}"))
                .to_bytes();
            assert_eq!(status, 200, "{action}: {}", String::from_utf8_lossy(&bytes));
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{action}: json: {e}"))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| panic!("{action}: no answer within {REQUEST_TIMEOUT:?}"))
    }

    async fn close(self) {
        drop(self.sender);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.conn).await;
    }
}

fn count(value: &Value, key: &str) -> usize {
    value.get(key).and_then(Value::as_array).map_or(0, Vec::len)
}

/// One HTTP cycle: SendMessageBatch, ReceiveMessage(10), DeleteMessageBatch.
async fn http_cycle(client: &mut Client, queue_url: &str, send_body: &Bytes, out: &mut Outcome) {
    let t = Instant::now();
    let sent = client.call("SendMessageBatch", send_body.clone()).await;
    out.send.push(t.elapsed());
    assert_eq!(count(&sent, "Failed"), 0, "send failed: {sent}");
    out.sent += count(&sent, "Successful");

    let receive = json!({
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": BATCH,
        "WaitTimeSeconds": 0,
    });
    let t = Instant::now();
    let got = client
        .call("ReceiveMessage", Bytes::from(receive.to_string()))
        .await;
    let entries: Vec<Value> = got
        .get("Messages")
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    let handle = m.get("ReceiptHandle")?.as_str()?;
                    Some(json!({ "Id": format!("d{i}"), "ReceiptHandle": handle }))
                })
                .collect()
        })
        .unwrap_or_default();
    if entries.is_empty() {
        return;
    }
    let delete = json!({ "QueueUrl": queue_url, "Entries": entries });
    let deleted = client
        .call("DeleteMessageBatch", Bytes::from(delete.to_string()))
        .await;
    out.receive_delete.push(t.elapsed());
    assert_eq!(count(&deleted, "Failed"), 0, "delete failed: {deleted}");
    out.deleted += count(&deleted, "Successful");
}

fn server_config(data_dir: &Path, durability: Durability) -> server::Config {
    let mut config = server::Config::builtin().unwrap_or_else(|e| panic!("config: {e}"));
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.data_dir = data_dir.to_owned();
    config.metrics.listen = String::new();
    config.metrics.serve_on_api_port = false;
    config.storage.durability = durability;
    config
}

fn http_row(
    rt: &tokio::runtime::Runtime,
    durability: Durability,
    connections: usize,
    secs: Duration,
) -> Outcome {
    let dir = tempdir();
    rt.block_on(async {
        let server = server::start(server_config(dir.path(), durability))
            .await
            .unwrap_or_else(|e| panic!("server: {e}"));
        let addr = server.addr();
        let mut setup = Client::connect(addr).await;
        let created = setup
            .call(
                "CreateQueue",
                Bytes::from(json!({ "QueueName": "bench" }).to_string()),
            )
            .await;
        let queue_url = created
            .get("QueueUrl")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no QueueUrl in {created}"))
            .to_string();
        setup.close().await;
        let body = "x".repeat(BODY_BYTES);
        let entries: Vec<Value> = (0..BATCH)
            .map(|i| json!({ "Id": format!("e{i}"), "MessageBody": body }))
            .collect();
        let send_body =
            Bytes::from(json!({ "QueueUrl": queue_url, "Entries": entries }).to_string());

        let mut clients = Vec::with_capacity(connections);
        for _ in 0..connections {
            clients.push(Client::connect(addr).await);
        }
        let start = Instant::now();
        let deadline = start + secs;
        let mut tasks = Vec::new();
        for mut client in clients {
            let (queue_url, send_body) = (queue_url.clone(), send_body.clone());
            tasks.push(tokio::spawn(async move {
                let mut out = Outcome::default();
                while Instant::now() < deadline {
                    http_cycle(&mut client, &queue_url, &send_body, &mut out).await;
                }
                client.close().await;
                out
            }));
        }
        let mut total = Outcome::default();
        for t in tasks {
            total.merge(t.await.unwrap_or_else(|e| panic!("client: {e}")));
        }
        total.elapsed = start.elapsed();

        // Cross-check the client's counts with the engine's.
        let gauges = server
            .engine()
            .queue_gauges()
            .await
            .unwrap_or_else(|e| panic!("gauges: {e}"));
        let (sent, deleted, left): (u64, u64, u64) = gauges.iter().fold((0, 0, 0), |acc, g| {
            (
                acc.0 + g.sent_total,
                acc.1 + g.deleted_total,
                acc.2 + g.visible + g.not_visible + g.delayed,
            )
        });
        assert_eq!(
            sent, total.sent as u64,
            "server and client disagree on sends"
        );
        assert_eq!(
            deleted, total.deleted as u64,
            "server and client disagree on deletes"
        );
        assert_eq!(sent - deleted, left, "messages lost or duplicated");
        server
            .shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown: {e}"));
        total
    })
}

// -------------------------------------------------------------------- report

fn print_row(label: &str, durability: Durability, outcome: &mut Outcome, baseline: f64) {
    let rate = outcome.rate();
    let send50 = micros(percentile(&mut outcome.send, 0.50));
    let send99 = micros(percentile(&mut outcome.send, 0.99));
    let rd50 = micros(percentile(&mut outcome.receive_delete, 0.50));
    let rd99 = micros(percentile(&mut outcome.receive_delete, 0.99));
    println!(
        "| {label} | {} | {rate:.0} | {:.0} % | {send50} µs | {send99} µs | {rd50} µs | {rd99} µs | {} |",
        durability_name(durability),
        100.0 * rate / baseline,
        outcome.send.len(),
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn report(rt: &tokio::runtime::Runtime, durability: Durability, secs: Duration) {
    println!(
        "\n== send batch 10 × 1 KiB → receive 10 → delete batch, durability {}, {} s per row (load average before: {}) ==",
        durability_name(durability),
        secs.as_secs(),
        load_average()
    );
    println!("| path | durability | messages/s | ÷ in-process | send p50 | send p99 | receive+delete p50 | receive+delete p99 | send batches |");
    println!("|---|---|---|---|---|---|---|---|---|");
    // In-process before and after the HTTP rows: the disk's fsync latency drifts.
    let mut before = engine_row(rt, durability, secs);
    let mut rows = Vec::new();
    for connections in HTTP_CONNECTIONS {
        rows.push((connections, http_row(rt, durability, connections, secs)));
    }
    let mut after = engine_row(rt, durability, secs);
    let baseline = (before.rate() + after.rate()) / 2.0;
    print_row(
        &format!("in-process, {ENGINE_CLIENTS} clients (before)"),
        durability,
        &mut before,
        baseline,
    );
    print_row(
        &format!("in-process, {ENGINE_CLIENTS} clients (after)"),
        durability,
        &mut after,
        baseline,
    );
    for (connections, mut outcome) in rows {
        print_row(
            &format!("HTTP, {connections} connections"),
            durability,
            &mut outcome,
            baseline,
        );
    }
    println!(
        "in-process baseline (mean of before/after): {baseline:.0} messages/s; load average after: {}",
        load_average()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to configure from args.
    let secs = row_duration();
    let rt = runtime();
    report(&rt, Durability::Always, secs);
    if std::env::var("STOWAGE_BENCH_DURABILITY").as_deref() == Ok("never") {
        report(&rt, Durability::Never, secs);
    }
}
