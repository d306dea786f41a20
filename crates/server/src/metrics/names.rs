//! Every exported metric name, in one place (documented in ARCHITECTURE.md,
//! section "observability"). All names carry the `stowage_` prefix and their
//! unit in the name; counters end in `_total`.

// ---- per queue (labels: queue, account) ----
/// Gauge: ApproximateNumberOfMessages.
pub(crate) const QUEUE_VISIBLE: &str = "stowage_queue_messages_visible";
/// Gauge: ApproximateNumberOfMessagesNotVisible (in flight).
pub(crate) const QUEUE_NOT_VISIBLE: &str = "stowage_queue_messages_not_visible";
/// Gauge: ApproximateNumberOfMessagesDelayed.
pub(crate) const QUEUE_DELAYED: &str = "stowage_queue_messages_delayed";
/// Gauge: ApproximateAgeOfOldestMessage, seconds.
pub(crate) const QUEUE_OLDEST_AGE: &str = "stowage_queue_oldest_message_age_seconds";
/// Gauge: 1 when some queue's RedrivePolicy targets this queue, else 0.
pub(crate) const QUEUE_IS_DEAD_LETTER: &str = "stowage_queue_is_dead_letter";
/// Counter: NumberOfMessagesSent.
pub(crate) const QUEUE_SENT: &str = "stowage_queue_messages_sent_total";
/// Counter: bytes (body + attributes) of sent messages.
pub(crate) const QUEUE_SENT_BYTES: &str = "stowage_queue_sent_bytes_total";
/// Counter: NumberOfMessagesReceived.
pub(crate) const QUEUE_RECEIVED: &str = "stowage_queue_messages_received_total";
/// Counter: NumberOfMessagesDeleted.
pub(crate) const QUEUE_DELETED: &str = "stowage_queue_messages_deleted_total";
/// Counter: NumberOfEmptyReceives.
pub(crate) const QUEUE_EMPTY_RECEIVES: &str = "stowage_queue_empty_receives_total";
/// Counter: messages this queue moved to its dead-letter queue.
pub(crate) const QUEUE_DEAD_LETTERED: &str = "stowage_queue_messages_dead_lettered_total";
/// Counter: messages message-move tasks moved out of this queue.
pub(crate) const QUEUE_MOVED: &str = "stowage_queue_messages_moved_total";
/// Counter: FIFO sends dropped as duplicates.
pub(crate) const QUEUE_DEDUPLICATED: &str = "stowage_queue_messages_deduplicated_total";
/// Histogram: SentMessageSize, bytes.
pub(crate) const QUEUE_SENT_SIZE: &str = "stowage_queue_sent_message_size_bytes";

// ---- requests ----
/// Counter: API requests (labels: action, outcome).
pub(crate) const REQUESTS: &str = "stowage_requests_total";
/// Histogram: API request latency, seconds (label: action).
pub(crate) const REQUEST_DURATION: &str = "stowage_request_duration_seconds";
/// Gauge: HTTP requests being served.
pub(crate) const HTTP_IN_FLIGHT: &str = "stowage_http_requests_in_flight";
/// Gauge: ReceiveMessage calls waiting in a long poll.
pub(crate) const LONG_POLLS_WAITING: &str = "stowage_long_polls_waiting";

// ---- storage ----
/// Counter: bytes appended to the WAL since start.
pub(crate) const WAL_APPENDED_BYTES: &str = "stowage_wal_appended_bytes_total";
/// Counter: WAL fsyncs since start.
pub(crate) const WAL_FSYNCS: &str = "stowage_wal_fsyncs_total";
/// Histogram (emitted by storage): fsync latency, seconds.
pub(crate) const WAL_FSYNC_SECONDS: &str = "stowage_wal_fsync_seconds";
/// Histogram (emitted by storage): records per group commit.
pub(crate) const WAL_GROUP_COMMIT_RECORDS: &str = "stowage_wal_group_commit_records";
/// Gauge: WAL segment files on disk.
pub(crate) const WAL_SEGMENTS: &str = "stowage_wal_segments";
/// Gauge: bytes of all WAL segment files.
pub(crate) const WAL_DISK_BYTES: &str = "stowage_wal_disk_bytes";
/// Gauge: bytes of live WAL records.
pub(crate) const WAL_LIVE_BYTES: &str = "stowage_wal_live_bytes";
/// Counter: segments compacted since start.
pub(crate) const WAL_COMPACTIONS: &str = "stowage_wal_compactions_total";
/// Counter: bytes reclaimed by deleting segments since start.
pub(crate) const WAL_RECLAIMED_BYTES: &str = "stowage_wal_reclaimed_bytes_total";
/// Gauge: 1 when a write or fsync failed and the WAL refuses appends.
pub(crate) const WAL_POISONED: &str = "stowage_wal_poisoned";
/// Gauge: size of the sled index on disk.
pub(crate) const INDEX_DISK_BYTES: &str = "stowage_index_disk_bytes";
/// Gauge: how long recovery took at the last start, seconds.
pub(crate) const RECOVERY_DURATION: &str = "stowage_recovery_duration_seconds";
/// Gauge: bytes cut from the torn WAL tail at the last start.
pub(crate) const RECOVERY_TRUNCATED_BYTES: &str = "stowage_recovery_truncated_bytes";
/// Gauge: complete-looking records dropped with the torn tail at the last start.
pub(crate) const RECOVERY_DROPPED_RECORDS: &str = "stowage_recovery_dropped_records";
/// Gauge: records found by recovery at the last start.
pub(crate) const RECOVERY_RECORDS: &str = "stowage_recovery_records";
/// Gauge: 1 when the index had to be rebuilt at the last start.
pub(crate) const RECOVERY_INDEX_REBUILT: &str = "stowage_recovery_index_rebuilt";

// ---- process ----
/// Gauge: resident set size, bytes.
pub(crate) const PROCESS_RSS: &str = "stowage_process_resident_memory_bytes";
/// Gauge: open file descriptors.
pub(crate) const PROCESS_OPEN_FDS: &str = "stowage_process_open_fds";
/// Gauge: soft limit on open file descriptors.
pub(crate) const PROCESS_MAX_FDS: &str = "stowage_process_max_fds";
/// Gauge: seconds since the process started.
pub(crate) const PROCESS_UPTIME: &str = "stowage_process_uptime_seconds";
/// Gauge: start time, seconds since the Unix epoch.
pub(crate) const PROCESS_START_TIME: &str = "stowage_process_start_time_seconds";
/// Gauge: always 1, labelled with the version.
pub(crate) const BUILD_INFO: &str = "stowage_build_info";

/// Buckets of [`REQUEST_DURATION`], seconds (long polls last up to 20 s).
pub(crate) const REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    30.0,
];
/// Buckets of [`WAL_FSYNC_SECONDS`].
pub(crate) const FSYNC_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5,
];
/// Buckets of [`WAL_GROUP_COMMIT_RECORDS`].
pub(crate) const GROUP_COMMIT_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];
/// Buckets of [`QUEUE_SENT_SIZE`], bytes (SQS messages are at most 1 MiB).
pub(crate) const SENT_SIZE_BUCKETS: [f64; 8] = [
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
];
