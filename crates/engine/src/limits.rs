//! Every SQS limit the engine enforces, as a named constant with its unit.

/// Longest queue name, characters (including a `.fifo` suffix).
pub(crate) const QUEUE_NAME_MAX_CHARS: usize = 80;
/// Maximum message size (body + attributes), upper bound of MaximumMessageSize, bytes.
pub(crate) const MESSAGE_SIZE_MAX_BYTES: u64 = 1_048_576;
/// Lower bound of MaximumMessageSize, bytes.
pub(crate) const MESSAGE_SIZE_MIN_BYTES: u64 = 1_024;
/// Total payload of one batch request, bytes.
pub(crate) const BATCH_SIZE_MAX_BYTES: usize = 1_048_576;
/// Entries per batch request.
pub(crate) const BATCH_ENTRIES_MAX: usize = 10;
/// Longest batch entry id, characters.
pub(crate) const BATCH_ID_MAX_CHARS: usize = 80;
/// Message attributes per message.
pub(crate) const MESSAGE_ATTRIBUTES_MAX: usize = 10;
/// Longest message attribute name, characters.
pub(crate) const ATTRIBUTE_NAME_MAX_CHARS: usize = 256;
/// Longest message attribute data type, characters.
pub(crate) const ATTRIBUTE_TYPE_MAX_CHARS: usize = 256;
/// Significant digits of a Number attribute.
pub(crate) const NUMBER_DIGITS_MAX: usize = 38;
/// Largest decimal exponent of a Number attribute (values up to 10^126).
pub(crate) const NUMBER_EXPONENT_MAX: i64 = 126;
/// Smallest decimal exponent of a non-zero Number attribute (10^-128).
pub(crate) const NUMBER_EXPONENT_MIN: i64 = -128;
/// VisibilityTimeout upper bound, seconds.
pub(crate) const VISIBILITY_TIMEOUT_MAX_SECONDS: i64 = 43_200;
/// VisibilityTimeout default, seconds.
pub(crate) const VISIBILITY_TIMEOUT_DEFAULT_SECONDS: i64 = 30;
/// MessageRetentionPeriod lower bound, seconds.
pub(crate) const RETENTION_MIN_SECONDS: i64 = 60;
/// MessageRetentionPeriod upper bound, seconds (14 days).
pub(crate) const RETENTION_MAX_SECONDS: i64 = 1_209_600;
/// MessageRetentionPeriod default, seconds (4 days).
pub(crate) const RETENTION_DEFAULT_SECONDS: i64 = 345_600;
/// DelaySeconds upper bound, seconds.
pub(crate) const DELAY_MAX_SECONDS: i64 = 900;
/// Long-poll wait upper bound, seconds.
pub(crate) const WAIT_TIME_MAX_SECONDS: i64 = 20;
/// MaxNumberOfMessages upper bound.
pub(crate) const RECEIVE_MAX_MESSAGES: i64 = 10;
/// KmsDataKeyReusePeriodSeconds bounds and default, seconds.
pub(crate) const KMS_REUSE_MIN_SECONDS: i64 = 60;
/// KmsDataKeyReusePeriodSeconds upper bound, seconds.
pub(crate) const KMS_REUSE_MAX_SECONDS: i64 = 86_400;
/// KmsDataKeyReusePeriodSeconds default, seconds.
pub(crate) const KMS_REUSE_DEFAULT_SECONDS: i64 = 300;
/// RedrivePolicy maxReceiveCount bounds.
pub(crate) const MAX_RECEIVE_COUNT_MIN: i64 = 1;
/// RedrivePolicy maxReceiveCount upper bound.
pub(crate) const MAX_RECEIVE_COUNT_MAX: i64 = 1_000;
/// RedriveAllowPolicy byQueue: source queue ARNs at most.
pub(crate) const REDRIVE_ALLOW_SOURCES_MAX: usize = 10;
/// In-flight messages per standard queue before ReceiveMessage answers OverLimit.
pub(crate) const IN_FLIGHT_MAX_STANDARD: usize = 120_000;
/// In-flight messages per FIFO queue (beyond it receives return nothing).
pub(crate) const IN_FLIGHT_MAX_FIFO: usize = 120_000;
/// FIFO deduplication window, milliseconds.
pub(crate) const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;
/// ReceiveRequestAttemptId validity, milliseconds.
pub(crate) const RECEIVE_ATTEMPT_WINDOW_MS: u64 = 5 * 60 * 1000;
/// Longest dedup id / group id / receive attempt id, characters.
pub(crate) const FIFO_ID_MAX_CHARS: usize = 128;
/// CreateQueue of a deleted name is refused for this long, milliseconds.
pub(crate) const QUEUE_DELETED_RECENTLY_MS: u64 = 60_000;
/// Minimum time between two PurgeQueue calls, milliseconds.
pub(crate) const PURGE_INTERVAL_MS: u64 = 60_000;
/// ListQueues / ListDeadLetterSourceQueues MaxResults upper bound.
pub(crate) const LIST_RESULTS_MAX: i64 = 1_000;
/// Tags per queue.
pub(crate) const TAGS_MAX: usize = 50;
/// Tag key length, characters.
pub(crate) const TAG_KEY_MAX_CHARS: usize = 128;
/// Tag value length, characters.
pub(crate) const TAG_VALUE_MAX_CHARS: usize = 256;
/// AddPermission actions per statement.
pub(crate) const PERMISSION_ACTIONS_MAX: usize = 7;
/// Permission label length, characters.
pub(crate) const PERMISSION_LABEL_MAX_CHARS: usize = 80;
/// Policy document size, bytes.
pub(crate) const POLICY_MAX_BYTES: usize = 8_192;
/// Policy statements per document.
pub(crate) const POLICY_STATEMENTS_MAX: usize = 20;
/// Move task rate limit upper bound, messages per second.
pub(crate) const MOVE_TASK_RATE_MAX: i64 = 500;
/// Move task rate when none is given, messages per second.
pub(crate) const MOVE_TASK_RATE_DEFAULT: u32 = 500;
/// Most messages one move task moves in one background step.
pub(crate) const MOVES_PER_STEP_MAX: u64 = 100;
/// ListMessageMoveTasks MaxResults upper bound (and tasks kept per source).
pub(crate) const MOVE_TASKS_LISTED_MAX: i64 = 10;
