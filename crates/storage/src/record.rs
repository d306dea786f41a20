//! `Record`: everything the write-ahead log can say, and the one pinned bincode
//! configuration that turns a record into payload bytes.
//!
//! These types are the storage ↔ engine boundary. They are versioned on disk
//! (see `wal::format::FORMAT_VERSION`); changing a field or a variant order
//! changes the bytes and must bump the format version (the golden-bytes test
//! catches accidental changes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::StorageError;

/// The one bincode configuration used for record payloads: bincode 2's
/// `standard()` (little-endian, variable-length integers, no size limit).
/// Pinned here; changing it changes the on-disk format.
pub(crate) const BINCODE_CONFIG: bincode::config::Configuration = bincode::config::standard();

/// Appends the payload encoding of `record` to `out`.
pub(crate) fn encode_record(record: &Record, out: &mut Vec<u8>) -> Result<(), StorageError> {
    bincode::serde::encode_into_std_write(record, out, BINCODE_CONFIG)
        .map(|_| ())
        .map_err(|e| StorageError::Codec(e.to_string()))
}

/// Decodes a payload; every byte must be consumed.
pub(crate) fn decode_record(payload: &[u8]) -> Result<Record, String> {
    let (record, used): (Record, usize) =
        bincode::serde::decode_from_slice(payload, BINCODE_CONFIG).map_err(|e| e.to_string())?;
    if used != payload.len() {
        return Err(format!(
            "{} trailing bytes after the record",
            payload.len() - used
        ));
    }
    Ok(record)
}

/// Identifies one incarnation of a queue. Assigned by the engine, never reused
/// (a queue that is deleted and created again gets a new id).
pub type QueueId = u64;

/// A message id: the 16 bytes of a UUID.
pub type MessageId = [u8; 16];

/// The full, replayable state of a queue. Written on create and again (whole)
/// on every change of attributes, tags or policy: the latest one wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueState {
    /// Stable id of this incarnation.
    pub queue_id: QueueId,
    /// Owning account id (12 digits).
    pub account: String,
    /// Queue name (ends in `.fifo` for FIFO queues).
    pub name: String,
    /// Settable attributes (SQS names → values), including `Policy`.
    pub attributes: BTreeMap<String, String>,
    /// Queue tags.
    pub tags: BTreeMap<String, String>,
    /// Creation time, epoch milliseconds.
    pub created_ms: u64,
    /// Last attribute change, epoch milliseconds.
    pub last_modified_ms: u64,
}

/// One message attribute value as sent by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeValue {
    /// `String`, `Number`, `Binary`, optionally with a custom suffix (`Number.float`).
    pub data_type: String,
    /// The value: UTF-8 bytes for String/Number, raw bytes for Binary.
    pub value: Vec<u8>,
}

/// A stored message with its delivery state. Written whole on send and again
/// (as a relocation) when compaction moves it; the latest copy wins on replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Queue the message is in.
    pub queue_id: QueueId,
    /// Message id.
    pub message_id: MessageId,
    /// Body (UTF-8, already validated against SQS's character ranges).
    pub body: String,
    /// Message attributes, sorted by name.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// `AWSTraceHeader` system attribute, if sent.
    pub trace_header: Option<String>,
    /// SenderId system attribute (the sender's account / access key id).
    pub sender_id: String,
    /// SentTimestamp, epoch milliseconds (kept across dead-letter moves).
    pub sent_ms: u64,
    /// Not visible before this time (delay), epoch milliseconds.
    pub visible_at_ms: u64,
    /// Time after which the message is gone (retention), epoch milliseconds.
    pub expires_at_ms: u64,
    /// FIFO message group id, or the fair-queue tenant on a standard queue.
    pub group_id: Option<String>,
    /// FIFO deduplication id (explicit or content-based).
    pub dedup_id: Option<String>,
    /// FIFO sequence number.
    pub sequence_number: Option<u128>,
    /// ARN of the queue a dead-lettered message came from.
    pub dead_letter_source_arn: Option<String>,
    /// ApproximateReceiveCount.
    pub receive_count: u32,
    /// ApproximateFirstReceiveTimestamp, epoch milliseconds (0 = never).
    pub first_receive_ms: u64,
    /// Delivery epoch: incremented on every receive; receipt handles carry it.
    pub receipt_epoch: u32,
}

/// A message move task's durable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveTaskState {
    /// Opaque task handle.
    pub task_handle: String,
    /// Source queue ARN.
    pub source_arn: String,
    /// Destination queue ARN (`None`: each message goes back to its source).
    pub destination_arn: Option<String>,
    /// Rate limit, messages per second (`None`: unlimited/system default).
    pub max_messages_per_second: Option<u32>,
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: String,
    /// Messages moved so far.
    pub moved: u64,
    /// Messages to move, as counted at start.
    pub to_move: u64,
    /// Failure reason when `FAILED`.
    pub failure_reason: Option<String>,
    /// Start time, epoch milliseconds.
    pub started_ms: u64,
}

/// Everything the WAL records. The engine replays these in log order to
/// rebuild its state; replay must tolerate records that refer to a queue or
/// message it does not know (their earlier records may have been compacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// A queue was created, or its attributes/tags/policy changed (full state).
    QueueUpserted(QueueState),
    /// A queue was deleted, with all its messages.
    QueueDeleted {
        /// The queue.
        queue_id: QueueId,
        /// Account and name, for `QueueDeletedRecently`.
        account: String,
        /// Queue name.
        name: String,
        /// When, epoch milliseconds.
        at_ms: u64,
    },
    /// All messages sent to the queue before this record were purged.
    QueuePurged {
        /// The queue.
        queue_id: QueueId,
        /// When, epoch milliseconds.
        at_ms: u64,
    },
    /// A message was sent (or relocated by compaction: same id, latest wins).
    MessageSent(StoredMessage),
    /// A message was received: new delivery epoch and visibility deadline.
    MessageReceived {
        /// The queue.
        queue_id: QueueId,
        /// The message.
        message_id: MessageId,
        /// New delivery epoch.
        receipt_epoch: u32,
        /// Invisible until, epoch milliseconds.
        visible_at_ms: u64,
        /// ApproximateReceiveCount after this receive.
        receive_count: u32,
        /// ApproximateFirstReceiveTimestamp, epoch milliseconds.
        first_receive_ms: u64,
    },
    /// ChangeMessageVisibility on the current delivery.
    VisibilityChanged {
        /// The queue.
        queue_id: QueueId,
        /// The message.
        message_id: MessageId,
        /// Invisible until, epoch milliseconds.
        visible_at_ms: u64,
    },
    /// A message was deleted.
    MessageDeleted {
        /// The queue.
        queue_id: QueueId,
        /// The message.
        message_id: MessageId,
    },
    /// A message left `from_queue` and entered `message.queue_id` in one step
    /// (dead-letter redrive or a move task).
    MessageMoved {
        /// Queue it left.
        from_queue: QueueId,
        /// The message as it now stands in its new queue.
        message: StoredMessage,
        /// The move task that moved it, if any.
        task_handle: Option<String>,
    },
    /// A move task started or changed status/progress (full state).
    MoveTaskUpdated(MoveTaskState),
}

impl Record {
    /// True for records that only change or end the state of other records
    /// (they are never "live" themselves; they pin the segments they refer to
    /// until those are gone, so a replay can never resurrect what they ended).
    pub fn is_tombstone(&self) -> bool {
        matches!(
            self,
            Record::QueueDeleted { .. }
                | Record::QueuePurged { .. }
                | Record::MessageDeleted { .. }
        )
    }
}
