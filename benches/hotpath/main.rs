//! Hot-path benchmark (issue 11): the SQS workloads that matter, against the
//! release `stowage` binary (a separate process, durability `always` and
//! `never`), each row paired, in the same run and right before it, with the
//! bare-axum ceiling (a separate process answering a fixed ~200-byte JSON
//! body to the same load generator) and the raw `write + fdatasync` rate of
//! the same disk; the fauxqs in-memory emulator (Node) runs the same rows
//! when installed. CPU per message is the server process's user + system
//! time over the row divided by the messages of the row (a fixed number).
//!
//! Run (the benchmark does not build the server):
//! `cargo build --release -p server --bin stowage && cargo bench -p benches --bench hotpath`
//!
//! - `STOWAGE_HOTPATH_SCALE` multiplies every row's message count (default 1).
//! - `STOWAGE_HOTPATH_ROUNDS` repeats the whole sequence (default 1, at most
//!   20), the servers in reverse order every other round; the tables sum the
//!   rounds (rates are total messages ÷ total time).
//! - `STOWAGE_HOTPATH_TARGETS`: comma list of `always`, `never`, `fauxqs`,
//!   `base-always`, `base-never`, `pg1`, `pg2` (default
//!   `always,never,fauxqs`; fauxqs is
//!   skipped with a note when not installed). The `base-` targets run
//!   `STOWAGE_BIN_BASE` (e.g. a copy of the binary before a change), so a
//!   before/after comparison shares one run, row by row. `pg1` and `pg2`
//!   are one and two Stowage nodes over PostgreSQL (`store.backend =
//!   "postgres"`, one fresh database each, on a PostgreSQL 15 the benchmark
//!   starts with durable commits and stops at the end; skipped with a note
//!   when PostgreSQL is not installed); the load generator's connections
//!   alternate between the nodes, and the CPU per message counts the nodes'
//!   and PostgreSQL's processes.
//! - `STOWAGE_BIN`: the server binary (default `<target>/release/stowage`).
//! - `STOWAGE_FAUXQS_DIR`: where `benches/fauxqs/install.sh` put fauxqs
//!   (default `/tmp/stowage-fauxqs`).
//! - `STOWAGE_BENCH_DIR`: parent of the temporary data directories
//!   (default: the target directory).
//!
//! See benches/README.md (section "Hot path") for the method and figures.

mod client;
mod measure;
mod postgres;
mod targets;
mod workloads;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use measure::RawSync;
use postgres::Postgres;
use targets::{CpuTime, Nodes, Target};
use workloads::{Acked, Sample};

/// Messages of each SendMessage row (16 and 64 connections).
const SEND_MESSAGES: u64 = 32_000;
/// Messages of the SendMessageBatch row.
const BATCH_MESSAGES: u64 = 40_000;
/// Messages per producer of the end-to-end rows (16 producers).
const E2E_PER_PRODUCER: u64 = 1_000;
/// Requests of each ceiling measurement.
const CEILING_REQUESTS: u64 = 40_000;
/// Connections of most rows; producers and consumers of the end-to-end rows.
const CONNS: usize = 16;
/// Connections of the wide SendMessage row.
const WIDE_CONNS: usize = 64;
/// Duration of each raw fdatasync measurement.
const RAW_SYNC: Duration = Duration::from_secs(1);

/// Row counts, scaled by `STOWAGE_HOTPATH_SCALE`.
struct Plan {
    /// Times the whole sequence of rows runs (`STOWAGE_HOTPATH_ROUNDS`).
    rounds: usize,
    send: u64,
    batch: u64,
    e2e_per_producer: u64,
    ceiling: u64,
}

impl Plan {
    fn from_env() -> Plan {
        let scale: f64 = std::env::var("STOWAGE_HOTPATH_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1.0_f64)
            .clamp(0.01, 100.0);
        let scaled = |n: u64, unit: u64| (((n as f64 * scale) as u64) / unit).max(1) * unit;
        let rounds = std::env::var("STOWAGE_HOTPATH_ROUNDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_usize)
            .clamp(1, 20);
        Plan {
            rounds,
            send: scaled(SEND_MESSAGES, WIDE_CONNS as u64),
            batch: scaled(BATCH_MESSAGES, (CONNS * workloads::BATCH) as u64),
            e2e_per_producer: scaled(E2E_PER_PRODUCER, 1),
            ceiling: scaled(CEILING_REQUESTS, WIDE_CONNS as u64),
        }
    }
}

#[derive(Clone, Copy)]
enum Workload {
    Send { conns: usize },
    Batch,
    ReceiveDelete,
    EndToEnd { fifo: bool },
}

impl Workload {
    const ALL: [Workload; 6] = [
        Workload::Send { conns: CONNS },
        Workload::Send { conns: WIDE_CONNS },
        Workload::Batch,
        Workload::ReceiveDelete,
        Workload::EndToEnd { fifo: true },
        Workload::EndToEnd { fifo: false },
    ];

    fn label(self) -> String {
        match self {
            Workload::Send { conns } => format!("SendMessage, {conns} conns"),
            Workload::Batch => format!("SendMessageBatch ×10, {CONNS} conns"),
            Workload::ReceiveDelete => {
                format!("ReceiveMessage(10) + DeleteMessageBatch, {CONNS} conns")
            }
            Workload::EndToEnd { fifo: true } => {
                format!("FIFO e2e, {CONNS} groups ({CONNS} producers, {CONNS} consumers)")
            }
            Workload::EndToEnd { fifo: false } => {
                format!("e2e, {CONNS} producers + {CONNS} consumers")
            }
        }
    }

    /// What the latency columns measure.
    fn latency_of(self) -> &'static str {
        match self {
            Workload::Send { .. } => "per SendMessage",
            Workload::Batch => "per SendMessageBatch",
            Workload::ReceiveDelete => "per receive + delete",
            Workload::EndToEnd { .. } => "end to end, per message",
        }
    }

    fn ceiling_conns(self) -> usize {
        match self {
            Workload::Send { conns } => conns,
            _ => CONNS,
        }
    }

    /// Key namespace of the row's messages (plus 10 per round).
    fn row_id(self) -> u8 {
        match self {
            Workload::Send { conns } if conns == CONNS => 1,
            Workload::Send { .. } => 2,
            Workload::Batch => 3,
            Workload::ReceiveDelete => 4,
            Workload::EndToEnd { fifo: true } => 5,
            Workload::EndToEnd { fifo: false } => 6,
        }
    }
}

/// A server under test with its queues and what it acknowledged.
struct Server {
    nodes: Nodes,
    standard: String,
    fifo: String,
    e2e: String,
    /// Sends acknowledged by the send rows, drained by the receive row.
    acked: Acked,
}

impl Server {
    fn name(&self) -> &str {
        &self.nodes.name
    }
}

/// A sample with the CPU time the server and the load generator used for it.
struct Measured {
    sample: Sample,
    server_cpu: Duration,
    client_cpu: Duration,
    /// ReceiveMessage calls answered with a server error (retried).
    server_errors: u64,
}

impl Measured {
    fn absorb(&mut self, other: Measured) {
        self.sample.absorb(other.sample);
        self.server_cpu += other.server_cpu;
        self.client_cpu += other.client_cpu;
        self.server_errors += other.server_errors;
    }

    fn server_us_per_message(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.sample.messages.max(1) as f64
    }

    fn client_us_per_message(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.sample.messages.max(1) as f64
    }
}

fn measured<F: Future<Output = Sample>>(
    rt: &tokio::runtime::Runtime,
    target: &mut impl CpuTime,
    work: F,
) -> Measured {
    let errors = || client::RETRIED_SERVER_ERRORS.load(std::sync::atomic::Ordering::Relaxed);
    let (server0, client0, errors0) = (target.cpu(), measure::own_cpu_time(), errors());
    let sample = rt.block_on(work);
    Measured {
        sample,
        server_cpu: target.cpu().saturating_sub(server0),
        client_cpu: measure::own_cpu_time().saturating_sub(client0),
        server_errors: errors() - errors0,
    }
}

/// One workload: its baselines and its result on each server.
struct Row {
    workload: Workload,
    raw: RawSync,
    ceiling: Measured,
    /// One per server, in the order of `servers`.
    results: Vec<Measured>,
    load: String,
}

impl Row {
    /// Adds the same workload's row from another round.
    fn absorb(&mut self, other: Row) {
        self.raw.absorb(other.raw);
        self.ceiling.absorb(other.ceiling);
        for (total, m) in self.results.iter_mut().zip(other.results) {
            total.absorb(m);
        }
    }
}

fn run_workload(
    rt: &tokio::runtime::Runtime,
    plan: &Plan,
    workload: Workload,
    row: u8,
    server: &mut Server,
) -> Measured {
    let addrs = server.nodes.addrs();
    let nodes = addrs.as_slice();
    let target = &mut server.nodes;
    match workload {
        Workload::Send { conns } => measured(
            rt,
            target,
            workloads::send(
                nodes,
                &server.standard,
                row,
                conns,
                plan.send,
                false,
                &mut server.acked,
            ),
        ),
        Workload::Batch => measured(
            rt,
            target,
            workloads::send(
                nodes,
                &server.standard,
                row,
                CONNS,
                plan.batch,
                true,
                &mut server.acked,
            ),
        ),
        Workload::ReceiveDelete => measured(
            rt,
            target,
            workloads::receive_delete(nodes, &server.standard, CONNS, &mut server.acked),
        ),
        Workload::EndToEnd { fifo } => {
            let url = if fifo { &server.fifo } else { &server.e2e };
            measured(
                rt,
                target,
                workloads::end_to_end(nodes, url, row, CONNS, CONNS, plan.e2e_per_producer),
            )
        }
    }
}

fn bench_dir() -> PathBuf {
    std::env::var_os("STOWAGE_BENCH_DIR")
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The PostgreSQL server of the `pg1` / `pg2` targets: started on first
/// use, or why not.
type PostgresState = Option<Result<Postgres, String>>;

/// `count` Stowage nodes (`<name>-a`, `<name>-b`, …; just `<name>` for one)
/// over a fresh database of the benchmark's PostgreSQL server, started on
/// first use; `None` (with the reason printed) when PostgreSQL is absent.
fn postgres_nodes(
    name: &str,
    count: usize,
    postgres: &mut PostgresState,
    dir: &std::path::Path,
) -> Option<Nodes> {
    let pg = match postgres.get_or_insert_with(Postgres::start) {
        Ok(pg) => pg,
        Err(why) => {
            println!("{name} rows skipped: {why}");
            return None;
        }
    };
    let url = pg.database(&format!("hot_{name}"));
    let nodes = (0..count)
        .map(|i| {
            let node = if count == 1 {
                name.to_string()
            } else {
                format!("{name}-{}", char::from(b'a' + i as u8))
            };
            Target::stowage_on_postgres(&node, &targets::stowage_bin(), &url, dir)
        })
        .collect();
    Some(Nodes::shared(name, nodes, pg.pid()))
}

/// The servers named by `STOWAGE_HOTPATH_TARGETS`, started, with their queues.
fn start_servers(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    postgres: &mut PostgresState,
) -> Vec<Server> {
    let list = std::env::var("STOWAGE_HOTPATH_TARGETS")
        .unwrap_or_else(|_| "always,never,fauxqs".to_string());
    let mut servers = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let nodes = match name {
            "fauxqs" => match Target::fauxqs(dir) {
                Ok(t) => Nodes::single(t),
                Err(why) => {
                    println!("fauxqs rows skipped: {why}");
                    continue;
                }
            },
            "always" | "never" => {
                Nodes::single(Target::stowage(name, &targets::stowage_bin(), name, dir))
            }
            "base-always" | "base-never" => {
                let bin = std::env::var_os("STOWAGE_BIN_BASE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| panic!("target {name} needs STOWAGE_BIN_BASE"));
                let durability = name.trim_start_matches("base-");
                Nodes::single(Target::stowage(name, &bin, durability, dir))
            }
            "pg1" | "pg2" => {
                let count = if name == "pg1" { 1 } else { 2 };
                match postgres_nodes(name, count, postgres, dir) {
                    Some(nodes) => nodes,
                    None => continue,
                }
            }
            other => panic!("unknown target {other:?} in STOWAGE_HOTPATH_TARGETS"),
        };
        let addr = nodes.addrs()[0];
        let (standard, fifo, e2e) = rt.block_on(async {
            (
                workloads::create_queue(addr, "hot-standard").await,
                workloads::create_queue(addr, "hot-fifo.fifo").await,
                workloads::create_queue(addr, "hot-e2e").await,
            )
        });
        servers.push(Server {
            nodes,
            standard,
            fifo,
            e2e,
            acked: Acked::new(),
        });
    }
    servers
}

fn main() {
    if std::env::var(targets::ROLE_VAR).as_deref() == Ok(targets::ROLE_CEILING) {
        targets::run_ceiling();
        return;
    }
    let plan = Plan::from_env();
    let base = bench_dir();
    let _ = std::fs::create_dir_all(&base);
    let dir = tempfile::Builder::new()
        .prefix("stowage-hotpath")
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("temp dir: {e}"));
    let bin = targets::stowage_bin();
    println!(
        "hot path: {} UTC, commit {}, load average {}",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M"]),
        command_output("git", &["describe", "--always", "--dirty"]),
        measure::load_average()
    );
    println!(
        "server binary: {} (built {})",
        bin.display(),
        std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .ok()
            .map(|t| format!("{:?}", t))
            .unwrap_or_else(
                || "MISSING: run `cargo build --release -p server --bin stowage`".into()
            )
    );

    let mut ceiling = Target::ceiling(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    // Declared before the servers, so dropped (stopped) after their nodes.
    let mut postgres: PostgresState = None;
    let mut servers = start_servers(&rt, dir.path(), &mut postgres);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_rows(&rt, &plan, dir.path(), &mut ceiling, &mut servers)
    }));
    let mut rows = match outcome {
        Ok(rows) => rows,
        Err(panic) => {
            print_logs(dir.path());
            std::panic::resume_unwind(panic);
        }
    };
    for s in &servers {
        rt.block_on(async {
            for url in [&s.standard, &s.fifo, &s.e2e] {
                workloads::assert_empty(s.nodes.addrs()[0], url, s.name()).await;
            }
        });
    }
    println!("\nevery row verified: every acknowledged message received once, bodies and MD5s intact, FIFO order kept, queues empty at the end");
    let errors = client::RETRIED_SERVER_ERRORS.load(std::sync::atomic::Ordering::Relaxed);
    if errors > 0 {
        println!("BUT {errors} ReceiveMessage calls were answered with a server error and retried (see the rows above and the server logs)");
        print_logs(dir.path());
    }
    print_tables(&mut rows, &servers);
    println!("load average at the end: {}", measure::load_average());
}

/// Prints the end of every server log in `dir` (after a failed row).
fn print_logs(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines.len().saturating_sub(20);
            eprintln!("--- {} (last {} lines)", path.display(), lines.len() - tail);
            for line in &lines[tail..] {
                eprintln!("{line}");
            }
        }
    }
}

/// Runs every workload on every server, each after its own baselines;
/// `rounds` times, the servers in reverse order every other round; sums
/// the rounds per workload and server.
fn run_rows(
    rt: &tokio::runtime::Runtime,
    plan: &Plan,
    dir: &std::path::Path,
    ceiling: &mut Target,
    servers: &mut [Server],
) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for round in 0..plan.rounds {
        if plan.rounds > 1 {
            println!("round {} of {}", round + 1, plan.rounds);
        }
        for (w, workload) in Workload::ALL.into_iter().enumerate() {
            let load = measure::load_average();
            let raw = measure::raw_sync(dir, RAW_SYNC);
            let (conns, addr) = (workload.ceiling_conns(), ceiling.addr);
            let ceiling_sample =
                measured(rt, ceiling, workloads::ceiling(addr, conns, plan.ceiling));
            let mut order: Vec<usize> = (0..servers.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            let mut results: Vec<Option<Measured>> = (0..servers.len()).map(|_| None).collect();
            for i in order {
                let key_row = workload.row_id() + 10 * round as u8;
                results[i] = Some(run_workload(rt, plan, workload, key_row, &mut servers[i]));
            }
            let row = Row {
                workload,
                raw,
                ceiling: ceiling_sample,
                results: results.into_iter().flatten().collect(),
                load,
            };
            print_progress(&row, servers);
            match rows.get_mut(w) {
                Some(total) => total.absorb(row),
                None => rows.push(row),
            }
        }
    }
    rows
}

fn rate(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.1} k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn print_progress(row: &Row, servers: &[Server]) {
    let mut line = format!(
        "{}: raw fdatasync {:.0}/s, ceiling {} req/s",
        row.workload.label(),
        row.raw.per_second(),
        rate(row.ceiling.sample.rate())
    );
    for (server, m) in servers.iter().zip(&row.results) {
        line.push_str(&format!(
            ", {} {} msg/s",
            server.name(),
            rate(m.sample.rate())
        ));
        if m.server_errors > 0 {
            line.push_str(&format!(
                " (SERVER ERRORS: {} ReceiveMessage calls answered 5xx, retried)",
                m.server_errors
            ));
        }
    }
    println!("{line}");
}

/// The latencies a row's latency columns describe.
fn latencies(m: &mut Measured, workload: Workload) -> &mut Vec<Duration> {
    match workload {
        Workload::EndToEnd { .. } => &mut m.sample.e2e,
        _ => &mut m.sample.latencies,
    }
}

fn latency_cell(samples: &mut [Duration]) -> String {
    let p50 = measure::percentile(samples, 0.50);
    let p99 = measure::percentile(samples, 0.99);
    format!("{} / {}", ms(p50), ms(p99))
}

/// `a ÷ b` of two targets' rates, when both ran.
fn ratio_of(row: &Row, names: &[&str], a: &str, b: &str) -> Option<String> {
    let at = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .map(|i| row.results[i].sample.rate())
    };
    let (a, b) = (at(a)?, at(b)?);
    Some(format!("{:.2}", a / b.max(1e-9)))
}

fn print_tables(rows: &mut [Row], servers: &[Server]) {
    let names: Vec<&str> = servers.iter().map(Server::name).collect();
    let ratios: Vec<(&str, &str)> = [
        ("always", "never"),
        ("always", "fauxqs"),
        ("always", "base-always"),
        ("never", "base-never"),
        ("pg1", "always"),
        ("pg2", "pg1"),
    ]
    .into_iter()
    .filter(|(a, b)| names.contains(a) && names.contains(b))
    .collect();

    println!("\nThroughput (messages/s, and ÷ the ceiling's requests/s):\n");
    let mut head = "| workload | bare-axum ceiling req/s | raw fdatasync/s |".to_string();
    for n in &names {
        head.push_str(&format!(" `{n}` | ÷ ceiling |"));
    }
    for (a, b) in &ratios {
        head.push_str(&format!(" `{a}` ÷ `{b}` |"));
    }
    head.push_str(" load avg before |");
    println!("{head}");
    println!("|{}", "---|".repeat(4 + 2 * names.len() + ratios.len()));
    for row in rows.iter() {
        let c = row.ceiling.sample.rate();
        let mut line = format!(
            "| {} | {} | {:.0} |",
            row.workload.label(),
            rate(c),
            row.raw.per_second()
        );
        for m in &row.results {
            let r = m.sample.rate();
            line.push_str(&format!(" {} | {:.2} |", rate(r), r / c.max(1e-9)));
        }
        for (a, b) in &ratios {
            line.push_str(&format!(
                " {} |",
                ratio_of(row, &names, a, b).unwrap_or_default()
            ));
        }
        line.push_str(&format!(" {} |", row.load));
        println!("{line}");
    }

    println!("\nLatency, ms (p50 / p99, client side; per request, per receive + delete pair, or end to end per message):\n");
    let mut head = "| workload | what |".to_string();
    for n in &names {
        head.push_str(&format!(" `{n}` |"));
    }
    head.push_str(" ceiling | raw fdatasync | `always` p99 ÷ raw p99 |");
    println!("{head}");
    println!("|{}", "---|".repeat(5 + names.len()));
    let always = names.iter().position(|n| *n == "always");
    for row in rows.iter_mut() {
        let workload = row.workload;
        let mut line = format!("| {} | {} |", workload.label(), workload.latency_of());
        for m in row.results.iter_mut() {
            line.push_str(&format!(" {} |", latency_cell(latencies(m, workload))));
        }
        let ratio = always.map_or(String::new(), |i| {
            let p99 = measure::percentile(latencies(&mut row.results[i], workload), 0.99);
            format!(
                "{:.2}",
                p99.as_secs_f64() / row.raw.quantile(0.99).as_secs_f64().max(1e-9)
            )
        });
        line.push_str(&format!(
            " {} | {} / {} | {ratio} |",
            latency_cell(&mut row.ceiling.sample.latencies),
            ms(row.raw.quantile(0.50)),
            ms(row.raw.quantile(0.99))
        ));
        println!("{line}");
    }

    println!("\nCPU per message, µs (user + system time of the server's processes over the row — its nodes, and PostgreSQL's processes for `pg1` / `pg2` — ÷ messages of the row):\n");
    let mut head = "| workload | messages |".to_string();
    for n in &names {
        head.push_str(&format!(" `{n}` |"));
    }
    head.push_str(" ceiling (per request) | load generator (first target's row) |");
    println!("{head}");
    println!("|{}", "---|".repeat(4 + names.len()));
    for row in rows.iter() {
        let messages = row.results.first().map_or(0, |m| m.sample.messages);
        let mut line = format!("| {} | {messages} |", row.workload.label());
        for m in &row.results {
            line.push_str(&format!(" {:.1} |", m.server_us_per_message()));
        }
        let client = row.results.first().map_or(String::new(), |m| {
            format!("{:.1}", m.client_us_per_message())
        });
        line.push_str(&format!(
            " {:.1} | {client} |",
            row.ceiling.server_us_per_message()
        ));
        println!("{line}");
    }
}
