//! Series derived from the engine's state at scrape time (per-queue gauges
//! and counters, storage stats, process figures).
//!
//! They are written into a fresh, local [`PrometheusRecorder`] on every
//! scrape, so a deleted queue's series are simply not there any more, and two
//! engines in one process (tests) never see each other's queues.

use std::collections::HashSet;

use engine::{QueueGauges, QueueRef};
use metrics::{counter, describe_counter, describe_gauge, gauge, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

use super::names::*;
use super::process;

/// Everything a scrape reads from one engine.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// Gauges and counters of every queue.
    pub(crate) queues: Vec<QueueGauges>,
    /// Queues that some queue's RedrivePolicy names as its dead-letter queue.
    pub(crate) dead_letter: HashSet<QueueRef>,
    /// Sizes and counters of the embedded store's log (`None` with another
    /// store: its WAL series are then absent, not zero).
    pub(crate) storage: Option<storage::StorageStats>,
    /// The WAL refuses appends.
    pub(crate) poisoned: bool,
}

impl Snapshot {
    /// Reads the engine's queues (the storage figures come from [`Snapshot::read_storage`]).
    pub(crate) async fn collect(engine: &engine::Engine) -> Snapshot {
        let queues = match engine.queue_gauges().await {
            Ok(queues) => queues,
            Err(error) => {
                tracing::warn!(%error, "reading the queues for metrics failed");
                Vec::new()
            }
        };
        let dead_letter = dead_letter_queues(engine, &queues).await;
        Snapshot {
            queues,
            dead_letter,
            // Read by `read_storage` (blocking: the index size is on disk).
            storage: None,
            poisoned: matches!(engine.health(), engine::store::StoreHealth::Failed(_)),
        }
    }

    /// Reads the storage figures (blocking file-system calls).
    pub(crate) fn read_storage(&mut self, engine: &engine::Engine) {
        // Only the embedded store has a log (another store has no WAL figures).
        if let Some(storage) = engine.storage() {
            self.storage = Some(storage.stats());
        }
    }

    /// Renders the snapshot (and the process figures) in the exposition format.
    pub(crate) fn render(&self) -> String {
        let recorder: PrometheusRecorder = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&recorder, || {
            describe();
            for q in &self.queues {
                record_queue(q, self.dead_letter.contains(&q.queue));
            }
            if let Some(storage) = &self.storage {
                record_storage(storage, self.poisoned);
            }
            record_process();
        });
        recorder.handle().render()
    }
}

/// Finds the dead-letter queues: the targets of every RedrivePolicy.
pub(crate) async fn dead_letter_queues(
    engine: &engine::Engine,
    queues: &[QueueGauges],
) -> HashSet<QueueRef> {
    redrive_pairs(engine, queues)
        .await
        .into_iter()
        .map(|(_, target)| target)
        .collect()
}

/// `(source, dead-letter target)` of every queue in `queues` with a
/// RedrivePolicy (read as the queue's owner).
pub(crate) async fn redrive_pairs(
    engine: &engine::Engine,
    queues: &[QueueGauges],
) -> Vec<(QueueRef, QueueRef)> {
    let names = ["RedrivePolicy".to_owned()];
    let mut found = Vec::new();
    for q in queues {
        let owner = engine::Caller {
            account: q.queue.account.clone(),
            sender_id: q.queue.account.clone(),
        };
        let Ok(attributes) = engine.get_queue_attributes(&owner, &q.queue, &names).await else {
            continue; // deleted between the two calls
        };
        if let Some(target) = attributes
            .get("RedrivePolicy")
            .and_then(|policy| dead_letter_target(policy))
        {
            found.push((q.queue.clone(), target));
        }
    }
    found
}

/// `{"deadLetterTargetArn":"arn:aws:sqs:r:acct:name",…}` → the target queue.
pub(crate) fn dead_letter_target(redrive_policy: &str) -> Option<QueueRef> {
    let policy: serde_json::Value = serde_json::from_str(redrive_policy).ok()?;
    let arn = policy.get("deadLetterTargetArn")?.as_str()?;
    let mut parts = arn.split(':');
    let (
        Some("arn"),
        Some(_partition),
        Some("sqs"),
        Some(_region),
        Some(account),
        Some(name),
        None,
    ) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    )
    else {
        return None;
    };
    Some(QueueRef {
        account: account.to_owned(),
        name: name.to_owned(),
    })
}

fn describe() {
    describe_gauge!(
        QUEUE_VISIBLE,
        Unit::Count,
        "Messages available for retrieval (ApproximateNumberOfMessages)."
    );
    describe_gauge!(QUEUE_NOT_VISIBLE, Unit::Count, "Messages received and not yet deleted or visible again (ApproximateNumberOfMessagesNotVisible).");
    describe_gauge!(
        QUEUE_DELAYED,
        Unit::Count,
        "Messages not yet available because of a delay (ApproximateNumberOfMessagesDelayed)."
    );
    describe_gauge!(
        QUEUE_OLDEST_AGE,
        Unit::Seconds,
        "Age of the oldest message in the queue (ApproximateAgeOfOldestMessage)."
    );
    describe_gauge!(
        QUEUE_IS_DEAD_LETTER,
        "1 when some queue's RedrivePolicy targets this queue."
    );
    describe_counter!(
        QUEUE_SENT,
        Unit::Count,
        "Messages accepted by SendMessage(Batch) (NumberOfMessagesSent)."
    );
    describe_counter!(
        QUEUE_SENT_BYTES,
        Unit::Bytes,
        "Body and attribute bytes of sent messages."
    );
    describe_counter!(
        QUEUE_RECEIVED,
        Unit::Count,
        "Messages returned by ReceiveMessage (NumberOfMessagesReceived)."
    );
    describe_counter!(
        QUEUE_DELETED,
        Unit::Count,
        "Messages deleted (NumberOfMessagesDeleted)."
    );
    describe_counter!(
        QUEUE_EMPTY_RECEIVES,
        Unit::Count,
        "ReceiveMessage calls that returned no message (NumberOfEmptyReceives)."
    );
    describe_counter!(
        QUEUE_DEAD_LETTERED,
        Unit::Count,
        "Messages this queue moved to its dead-letter queue."
    );
    describe_counter!(
        QUEUE_MOVED,
        Unit::Count,
        "Messages moved out of this queue by message move tasks."
    );
    describe_counter!(
        QUEUE_DEDUPLICATED,
        Unit::Count,
        "FIFO sends dropped as duplicates."
    );
    describe_counter!(
        WAL_APPENDED_BYTES,
        Unit::Bytes,
        "Bytes appended to the write-ahead log since start."
    );
    describe_counter!(
        WAL_FSYNCS,
        Unit::Count,
        "fsyncs of the write-ahead log since start."
    );
    describe_gauge!(
        WAL_SEGMENTS,
        Unit::Count,
        "Write-ahead log segment files on disk."
    );
    describe_gauge!(
        WAL_DISK_BYTES,
        Unit::Bytes,
        "Bytes of all write-ahead log segment files."
    );
    describe_gauge!(
        WAL_LIVE_BYTES,
        Unit::Bytes,
        "Bytes of write-ahead log records still needed."
    );
    describe_counter!(
        WAL_COMPACTIONS,
        Unit::Count,
        "Segments compacted since start."
    );
    describe_counter!(
        WAL_RECLAIMED_BYTES,
        Unit::Bytes,
        "Bytes reclaimed by deleting segments since start."
    );
    describe_gauge!(
        WAL_POISONED,
        "1 when a write or fsync failed and every append is refused until restart."
    );
    describe_gauge!(
        INDEX_DISK_BYTES,
        Unit::Bytes,
        "Size of the sled index on disk."
    );
    describe_gauge!(PROCESS_RSS, Unit::Bytes, "Resident memory.");
    describe_gauge!(PROCESS_OPEN_FDS, Unit::Count, "Open file descriptors.");
    describe_gauge!(
        PROCESS_MAX_FDS,
        Unit::Count,
        "Soft limit on open file descriptors."
    );
    describe_gauge!(
        PROCESS_UPTIME,
        Unit::Seconds,
        "Seconds since the process started."
    );
    describe_gauge!(
        PROCESS_START_TIME,
        Unit::Seconds,
        "Process start time since the Unix epoch."
    );
    describe_gauge!(BUILD_INFO, "Always 1; the version is in the label.");
}

fn record_queue(q: &QueueGauges, is_dead_letter: bool) {
    let labels = [
        ("queue", q.queue.name.clone()),
        ("account", q.queue.account.clone()),
    ];
    gauge!(QUEUE_VISIBLE, &labels).set(q.visible as f64);
    gauge!(QUEUE_NOT_VISIBLE, &labels).set(q.not_visible as f64);
    gauge!(QUEUE_DELAYED, &labels).set(q.delayed as f64);
    gauge!(QUEUE_OLDEST_AGE, &labels).set(q.oldest_message_age_seconds as f64);
    gauge!(QUEUE_IS_DEAD_LETTER, &labels).set(if is_dead_letter { 1.0 } else { 0.0 });
    counter!(QUEUE_SENT, &labels).absolute(q.sent_total);
    counter!(QUEUE_SENT_BYTES, &labels).absolute(q.sent_bytes_total);
    counter!(QUEUE_RECEIVED, &labels).absolute(q.received_total);
    counter!(QUEUE_DELETED, &labels).absolute(q.deleted_total);
    counter!(QUEUE_EMPTY_RECEIVES, &labels).absolute(q.empty_receives_total);
    counter!(QUEUE_DEAD_LETTERED, &labels).absolute(q.dead_lettered_total);
    counter!(QUEUE_MOVED, &labels).absolute(q.moved_by_tasks_total);
    counter!(QUEUE_DEDUPLICATED, &labels).absolute(q.deduplicated_total);
}

fn record_storage(s: &storage::StorageStats, poisoned: bool) {
    counter!(WAL_APPENDED_BYTES).absolute(s.appended_bytes);
    counter!(WAL_FSYNCS).absolute(s.fsyncs);
    gauge!(WAL_SEGMENTS).set(s.segments as f64);
    gauge!(WAL_DISK_BYTES).set(s.disk_bytes as f64);
    gauge!(WAL_LIVE_BYTES).set(s.live_bytes as f64);
    counter!(WAL_COMPACTIONS).absolute(s.compactions);
    counter!(WAL_RECLAIMED_BYTES).absolute(s.reclaimed_bytes);
    gauge!(WAL_POISONED).set(if poisoned { 1.0 } else { 0.0 });
    gauge!(INDEX_DISK_BYTES).set(s.index_bytes as f64);
}

fn record_process() {
    if let Some(rss) = process::resident_memory_bytes() {
        gauge!(PROCESS_RSS).set(rss as f64);
    }
    if let Some(fds) = process::open_fds() {
        gauge!(PROCESS_OPEN_FDS).set(fds as f64);
    }
    if let Some(max) = process::max_fds() {
        gauge!(PROCESS_MAX_FDS).set(max as f64);
    }
    gauge!(PROCESS_UPTIME).set(process::uptime_seconds());
    gauge!(PROCESS_START_TIME).set(process::start_time_seconds());
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}
