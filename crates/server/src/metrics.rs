//! Prometheus metrics: names, recorder setup, per-request recording, and the
//! `/metrics` endpoint.
//!
//! Two kinds of series, rendered together:
//! - **Event series** (requests, latency, in-flight, long polls, the WAL's
//!   fsync and group-commit histograms emitted by `storage`, recovery at the
//!   last start) go through the `metrics` facade into one
//!   `metrics-exporter-prometheus` recorder, installed once per process
//!   ([`install`]; every recording function installs it on first use, so
//!   tests never fight over it).
//! - **State series** (per-queue gauges and counters, storage sizes and
//!   counters, process figures) are read from the engine at each scrape and
//!   written into a fresh local recorder, so a deleted queue's series
//!   disappear with it. The per-queue sent-size histogram is kept in a small
//!   table of its own (see `sizes.rs`) for the same reason.
//!
//! Labels are bounded: per queue `queue` and `account`, per request `action`
//! and `outcome`; never a message id, receipt handle or URL.

mod names;
mod process;
mod sizes;
mod snapshot;
#[cfg(test)]
mod tests;

pub(crate) use snapshot::dead_letter_queues;
pub(crate) use snapshot::redrive_pairs;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use names::*;

/// Content type of the Prometheus text exposition format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same
/// handle) and fixes the process start time for the uptime gauge. The server
/// calls it first thing; every other function here calls it too.
///
/// If some other recorder was installed first, event series are not
/// collected (a warning is logged) but `/metrics` still serves state series.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        process::mark_start();
        let recorder = build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; request and WAL metrics will be missing from /metrics");
        }
        describe_event_series();
        // Export the level gauges from the start (0), not only after their first change.
        gauge!(HTTP_IN_FLIGHT).set(0.0);
        gauge!(LONG_POLLS_WAITING).set(0.0);
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the metrics upkeep thread; histograms are folded at scrape time only");
        }
        handle
    })
}

fn build_recorder() -> metrics_exporter_prometheus::PrometheusRecorder {
    let builder = PrometheusBuilder::new();
    let with_buckets = [
        (REQUEST_DURATION, REQUEST_DURATION_BUCKETS),
        (WAL_FSYNC_SECONDS, FSYNC_BUCKETS),
        (WAL_GROUP_COMMIT_RECORDS, GROUP_COMMIT_BUCKETS),
    ]
    .into_iter()
    .try_fold(builder, |b, (name, buckets)| {
        b.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
    });
    // The bucket lists are non-empty constants, so this cannot fail; fall back
    // to summaries rather than panic if it ever did.
    with_buckets
        .unwrap_or_else(|_| PrometheusBuilder::new())
        .build_recorder()
}

fn describe_event_series() {
    describe_counter!(
        REQUESTS,
        Unit::Count,
        "API requests by action and outcome (success or the SQS error code)."
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "API request latency by action (includes long-poll waits)."
    );
    describe_gauge!(HTTP_IN_FLIGHT, Unit::Count, "HTTP requests being served.");
    describe_gauge!(
        LONG_POLLS_WAITING,
        Unit::Count,
        "ReceiveMessage calls waiting in a long poll."
    );
    describe_histogram!(
        WAL_FSYNC_SECONDS,
        Unit::Seconds,
        "Latency of one write-ahead log fsync."
    );
    describe_histogram!(
        WAL_GROUP_COMMIT_RECORDS,
        Unit::Count,
        "Records made durable by one group commit."
    );
    describe_gauge!(
        RECOVERY_DURATION,
        Unit::Seconds,
        "How long recovery took at the last start."
    );
    describe_gauge!(
        RECOVERY_TRUNCATED_BYTES,
        Unit::Bytes,
        "Bytes cut from the torn tail of the log at the last start."
    );
    describe_gauge!(
        RECOVERY_DROPPED_RECORDS,
        Unit::Count,
        "Records dropped with the torn tail at the last start."
    );
    describe_gauge!(
        RECOVERY_RECORDS,
        Unit::Count,
        "Records found by recovery at the last start."
    );
    describe_gauge!(
        RECOVERY_INDEX_REBUILT,
        "1 when the index was rebuilt from the log at the last start."
    );
}

/// The series a successful request of one action updates.
struct ActionHandles {
    successes: Counter,
    duration: Histogram,
}

thread_local! {
    /// Per worker thread: action name → its handles, looked up in the
    /// recorder once per action and thread instead of on every request
    /// (building a labelled key and searching the registry each time).
    static ACTION_HANDLES: RefCell<HashMap<&'static str, ActionHandles>> =
        RefCell::new(HashMap::new());
}

/// Records one finished API request. `outcome` is `success` or the SQS error code
/// (the modeled shape name, e.g. `QueueDoesNotExist`).
pub fn record_request(action: &'static str, outcome: &str, seconds: f64) {
    install();
    if outcome == "success" {
        ACTION_HANDLES.with(|handles| {
            let mut handles = handles.borrow_mut();
            let h = handles.entry(action).or_insert_with(|| ActionHandles {
                successes: counter!(REQUESTS, "action" => action, "outcome" => "success"),
                duration: histogram!(REQUEST_DURATION, "action" => action),
            });
            h.successes.increment(1);
            h.duration.record(seconds);
        });
        return;
    }
    let outcome = metrics::SharedString::from(outcome.to_owned());
    counter!(REQUESTS, "action" => action, "outcome" => outcome).increment(1);
    histogram!(REQUEST_DURATION, "action" => action).record(seconds);
}

/// The handle of a label-less gauge, resolved once per process.
fn static_gauge(cell: &'static OnceLock<Gauge>, name: &'static str) -> &'static Gauge {
    cell.get_or_init(|| {
        install();
        gauge!(name)
    })
}

/// Long polls currently waiting (+1 when a wait starts, -1 when it ends).
pub fn long_poll_waiting(delta: f64) {
    static GAUGE: OnceLock<Gauge> = OnceLock::new();
    static_gauge(&GAUGE, LONG_POLLS_WAITING).increment(delta);
}

/// HTTP requests currently being served (+1 / -1).
pub fn http_in_flight(delta: f64) {
    static GAUGE: OnceLock<Gauge> = OnceLock::new();
    static_gauge(&GAUGE, HTTP_IN_FLIGHT).increment(delta);
}

/// Records the sizes (body + attribute bytes, as SQS counts SentMessageSize)
/// of the messages one SendMessage / SendMessageBatch call accepted.
/// Duplicates dropped by FIFO deduplication may be included or not; they are
/// counted separately by the engine.
pub fn record_sent_sizes(queue: &str, account: &str, sizes: impl IntoIterator<Item = usize>) {
    sizes::TABLE.record(account, queue, sizes);
}

/// Publishes what recovery found when the storage was opened (call once at
/// start, after `Storage::open`).
pub fn record_recovery(recovered: &storage::Recovered) {
    install();
    gauge!(RECOVERY_DURATION).set(recovered.duration_ms as f64 / 1000.0);
    gauge!(RECOVERY_TRUNCATED_BYTES).set(recovered.truncated_bytes as f64);
    gauge!(RECOVERY_DROPPED_RECORDS).set(recovered.dropped_records as f64);
    gauge!(RECOVERY_RECORDS).set(recovered.records as f64);
    gauge!(RECOVERY_INDEX_REBUILT).set(if recovered.index_rebuilt { 1.0 } else { 0.0 });
}

/// Renders every series in the Prometheus text format: the engine's state
/// (read now), the sent-size histograms of its queues, and the event series.
pub async fn render(engine: &engine::Engine) -> String {
    let handle = install();
    let mut snapshot = snapshot::Snapshot::collect(engine).await;
    // Reading /proc and the index size is blocking work: keep it off the
    // async workers.
    let engine = engine.clone();
    let rendering = move || {
        snapshot.read_storage(&engine);
        render_snapshot(handle, &snapshot)
    };
    match tokio::task::spawn_blocking(rendering).await {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            String::new()
        }
    }
}

fn render_snapshot(handle: &PrometheusHandle, snapshot: &snapshot::Snapshot) -> String {
    let mut out = snapshot.render();
    let present: HashSet<(&str, &str)> = snapshot
        .queues
        .iter()
        .map(|q| (q.queue.account.as_str(), q.queue.name.as_str()))
        .collect();
    sizes::TABLE.render(&mut out, &present, Instant::now());
    out.push_str(&handle.render());
    out
}

/// A router serving `GET /metrics` for `engine`. Mount it on its own
/// listener with [`serve`], or merge it into the API router (after that
/// router's `with_state`) when `metrics.serve_on_api_port` is set.
pub fn metrics_router(engine: engine::Engine) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics_handler))
        .with_state(engine)
}

async fn metrics_handler(
    axum::extract::State(engine): axum::extract::State<engine::Engine>,
) -> axum::response::Response {
    let text = render(&engine).await;
    if text.is_empty() {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], text).into_response()
}

/// Serves [`metrics_router`] on `listener` (bind it with
/// `tokio::net::TcpListener::bind(config.metrics.listen)`, so the caller knows
/// the real port) until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: engine::Engine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    install();
    axum::serve(listener, metrics_router(engine))
        .with_graceful_shutdown(shutdown)
        .await
}
