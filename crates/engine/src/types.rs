//! The engine's public request and response types: plain Rust structs in
//! SQS vocabulary (no wire types). A leaf module: it names no other part of
//! the engine but [`EngineError`].

use std::collections::BTreeMap;

pub use storage::AttributeValue;

use crate::EngineError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's account id (12 digits).
    pub account: String,
    /// The SenderId recorded on sent messages: a principal id (as SQS: the
    /// IAM user or role id, or the account id for an account's own
    /// credentials), never an access key id.
    pub sender_id: String,
}

/// A queue named by owner account and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueRef {
    /// Owner account id.
    pub account: String,
    /// Queue name.
    pub name: String,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Token for the next page, if there is one.
    pub next_token: Option<String>,
}

/// One entry that failed inside a batch call.
#[derive(Debug)]
pub struct BatchFailure {
    /// The entry's Id.
    pub id: String,
    /// Why it failed (the server renders its code and message).
    pub error: EngineError,
}

/// Result of a batch call that was accepted as a whole.
#[derive(Debug)]
pub struct BatchResult<T> {
    /// Entries that succeeded.
    pub successful: Vec<T>,
    /// Entries that failed.
    pub failed: Vec<BatchFailure>,
}

/// One message to send (SendMessage, or one SendMessageBatch entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendEntry {
    /// Batch entry Id (ignored for SendMessage).
    pub id: String,
    /// Message body.
    pub body: String,
    /// Per-message delay (rejected on FIFO queues).
    pub delay_seconds: Option<i64>,
    /// Message attributes.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Message system attributes (only `AWSTraceHeader` is allowed).
    pub system_attributes: BTreeMap<String, AttributeValue>,
    /// FIFO deduplication id.
    pub dedup_id: Option<String>,
    /// FIFO message group id / fair-queue tenant.
    pub group_id: Option<String>,
}

/// The answer to one sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// Batch entry Id (empty for SendMessage).
    pub id: String,
    /// The message id (a UUID string).
    pub message_id: String,
    /// Hex MD5 of the body.
    pub md5_of_body: String,
    /// Hex MD5 of the message attributes, `None` when there are none.
    pub md5_of_message_attributes: Option<String>,
    /// Hex MD5 of the system attributes, `None` when there are none.
    pub md5_of_message_system_attributes: Option<String>,
    /// FIFO sequence number (decimal string).
    pub sequence_number: Option<String>,
}

/// ReceiveMessage parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveRequest {
    /// 1–10, default 1.
    pub max_number_of_messages: Option<i64>,
    /// Visibility timeout override, seconds.
    pub visibility_timeout: Option<i64>,
    /// Long-poll wait, 0–20 s; `None` uses the queue's ReceiveMessageWaitTimeSeconds.
    pub wait_time_seconds: Option<i64>,
    /// System attribute names to return (`All`, `SenderId`, …; union of
    /// `AttributeNames` and `MessageSystemAttributeNames`).
    pub system_attribute_names: Vec<String>,
    /// Message attribute names to return (`All`, `.*` prefixes, exact names).
    pub message_attribute_names: Vec<String>,
    /// FIFO ReceiveRequestAttemptId.
    pub receive_request_attempt_id: Option<String>,
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Message id.
    pub message_id: String,
    /// Opaque receipt handle for this delivery.
    pub receipt_handle: String,
    /// Hex MD5 of the body.
    pub md5_of_body: String,
    /// Body.
    pub body: String,
    /// Requested system attributes (name → value as SQS renders it).
    pub attributes: BTreeMap<String, String>,
    /// Requested message attributes.
    pub message_attributes: BTreeMap<String, AttributeValue>,
    /// Hex MD5 of the returned message attributes, `None` when none returned.
    pub md5_of_message_attributes: Option<String>,
}

/// One ChangeMessageVisibilityBatch entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityEntry {
    /// Batch entry Id.
    pub id: String,
    /// Receipt handle.
    pub receipt_handle: String,
    /// New timeout, seconds (SQS treats a missing value as 0... validated by the engine).
    pub visibility_timeout: Option<i64>,
}

/// One DeleteMessageBatch entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteEntry {
    /// Batch entry Id.
    pub id: String,
    /// Receipt handle.
    pub receipt_handle: String,
}

/// A message move task as ListMessageMoveTasks shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTaskInfo {
    /// Handle, only while RUNNING.
    pub task_handle: Option<String>,
    /// RUNNING | COMPLETED | CANCELLING | CANCELLED | FAILED.
    pub status: String,
    /// Source queue ARN.
    pub source_arn: String,
    /// Destination ARN, if one was given.
    pub destination_arn: Option<String>,
    /// Rate limit, if one was given.
    pub max_number_of_messages_per_second: Option<u32>,
    /// Messages moved so far.
    pub approximate_number_of_messages_moved: u64,
    /// Messages to move (counted at start).
    pub approximate_number_of_messages_to_move: Option<u64>,
    /// Why it failed.
    pub failure_reason: Option<MoveTaskFailure>,
    /// Start time, epoch milliseconds.
    pub started_timestamp_ms: u64,
}

/// Why a message move task failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveTaskFailure {
    /// Its source or destination queue was deleted (SQS reports the
    /// QueueDoesNotExist error code).
    QueueDoesNotExist,
    /// Anything else, in words.
    Other(String),
}

/// Per-queue gauges (same numbers as GetQueueAttributes) and counters, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGauges {
    /// The queue.
    pub queue: QueueRef,
    /// ApproximateNumberOfMessages.
    pub visible: u64,
    /// ApproximateNumberOfMessagesNotVisible.
    pub not_visible: u64,
    /// ApproximateNumberOfMessagesDelayed.
    pub delayed: u64,
    /// Age of the oldest message, seconds (0 when empty).
    pub oldest_message_age_seconds: u64,
    /// Messages accepted by SendMessage(Batch) since the queue was created (this process).
    pub sent_total: u64,
    /// Body + attribute bytes of those messages.
    pub sent_bytes_total: u64,
    /// Messages handed out by ReceiveMessage.
    pub received_total: u64,
    /// Messages deleted by DeleteMessage(Batch).
    pub deleted_total: u64,
    /// ReceiveMessage calls that returned no message.
    pub empty_receives_total: u64,
    /// Messages this queue moved to its dead-letter queue.
    pub dead_lettered_total: u64,
    /// Messages move tasks moved out of this queue.
    pub moved_by_tasks_total: u64,
    /// FIFO sends dropped as duplicates.
    pub deduplicated_total: u64,
}

/// Where a peeked message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeekState {
    /// Receivable now.
    Visible,
    /// Received; invisible until the given time (epoch ms).
    InFlight {
        /// Visible again at, epoch ms.
        visible_at_ms: u64,
    },
    /// Never received; delayed until the given time (epoch ms).
    Delayed {
        /// Visible at, epoch ms.
        visible_at_ms: u64,
    },
}

/// One message as an operator sees it, with everything SQS stores about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekedMessage {
    /// Message id (UUID string).
    pub message_id: String,
    /// Body.
    pub body: String,
    /// Hex MD5 of the body.
    pub md5_of_body: String,
    /// Message attributes.
    pub message_attributes: BTreeMap<String, AttributeValue>,
    /// SenderId system attribute.
    pub sender_id: String,
    /// SentTimestamp, epoch ms.
    pub sent_timestamp_ms: u64,
    /// ApproximateReceiveCount.
    pub receive_count: u32,
    /// ApproximateFirstReceiveTimestamp, epoch ms (`None`: never received).
    pub first_receive_timestamp_ms: Option<u64>,
    /// FIFO message group id (or fair-queue tenant).
    pub group_id: Option<String>,
    /// FIFO deduplication id.
    pub dedup_id: Option<String>,
    /// FIFO sequence number.
    pub sequence_number: Option<String>,
    /// `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
    /// ARN of the queue a dead-lettered message came from.
    pub dead_letter_source_arn: Option<String>,
    /// Visible, in flight or delayed.
    pub state: PeekState,
}
