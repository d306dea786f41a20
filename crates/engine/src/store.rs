//! `QueueStore`: the boundary between SQS semantics and the state they act on.
//!
//! Above the boundary (the engine's front, shared by every backend):
//! validation of every parameter, MD5s, message ids, receipt-handle encoding
//! and its MAC, attribute parsing (`Settings`), policy checks, rendering of
//! received messages (attribute filters), the long-poll wait, per-node
//! counters, and the mapping of outcomes to SQS answers.
//!
//! Below it (a store): durable queue definitions, messages and their delivery
//! state, FIFO sequence numbers, group order and locking, deduplication
//! windows, receive attempts, dead-letter moves, move tasks, retention and
//! timers. Two implementations:
//! - the embedded store (`storage`'s segmented WAL plus sled indexes; one
//!   node, the default);
//! - `PgStore` (PostgreSQL protocol; several stateless nodes over one
//!   database).
//!
//! # Contract every implementation keeps
//! 1. **Time is passed in** (`now_ms`, epoch milliseconds from the engine's
//!    `Clock`); a store never reads the wall clock for semantics.
//! 2. **Atomic and durable on `Ok`**: when a method returns `Ok`, everything
//!    it changed is durable (WAL: fsynced per the durability mode; Pg:
//!    committed) and it changed all of it or nothing. A batch send is one
//!    unit; a receive's deliveries and its dead-letter moves are one unit; a
//!    move-task step's moves and its progress are one unit.
//! 3. **Conditional on the delivery epoch**: every change to a received
//!    message (delete, visibility change) names the delivery it acts on by
//!    `(message_id, epoch)` and is applied only under that condition, in one
//!    conditional step. A receive bumps the epoch. Two requests — on one node
//!    or on several — can therefore never both act on one delivery, and a
//!    stale handle never acts on a newer delivery.
//! 4. **No lock or `SKIP LOCKED` is needed for correctness**: they may only
//!    reduce contention. A conflict (serialization failure, lost race) is
//!    retried inside the store or answered as [`StoreError::Unavailable`]
//!    (retryable, 503); an outcome that is unknown (connection lost during
//!    commit) is never reported as success nor as a definite failure of a
//!    non-idempotent change: it is `Unavailable` too, and the client's retry
//!    is safe (a repeated delete is a no-op; a repeated FIFO send is
//!    deduplicated; a repeated standard send may duplicate, which SQS's
//!    at-least-once contract allows).
//! 5. **Wake-ups**: whenever something may have become receivable in a queue
//!    (a committed send, a visibility change to 0, a delete that unblocks a
//!    FIFO group or frees in-flight capacity, a dead-letter or task move into
//!    the queue, timers that fired in a sweep, a change reported by another
//!    node), the store calls the [`Waker`] it was given. Long polls also fall
//!    back to [`QueueStore::next_visible_at`], so a store that cannot see a
//!    time-based change at once is still correct, only slower.
//!
//! The types here are the engine's own (no wire types, no storage records):
//! the embedded store converts them to and from `storage` records.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use storage::AttributeValue;

pub mod postgres;

/// Identifies one incarnation of a queue (never reused after a delete).
pub type QueueId = u64;

/// A message id: the 16 bytes of a UUID.
pub type MessageId = [u8; 16];

/// Called with a queue id whenever messages may have become receivable there.
pub type Waker = Arc<dyn Fn(QueueId) + Send + Sync>;

/// Errors a store reports. SQS-level outcomes (duplicate, stale handle, …)
/// are not errors: they are the `…Outcome` values of each method.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Retryable: a conflict, a serialization failure, a lost connection or
    /// an unknown commit outcome. Answered 503 `ServiceUnavailable`.
    #[error("the store is temporarily unavailable: {0}")]
    Unavailable(String),
    /// The queue was deleted after the front looked it up (on several nodes
    /// a delete can commit between the lookup and the operation): answered
    /// `QueueDoesNotExist`. Nothing was stored.
    #[error("the queue no longer exists")]
    QueueGone,
    /// The embedded log failed (poisoned, full disk, …).
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// Anything else the store cannot recover from (a bug or corrupt data).
    #[error("store failure: {0}")]
    Internal(String),
}

/// A queue's durable definition. `attributes` holds the settable SQS
/// attributes as stored (validated, normalised) plus hidden internal entries
/// whose names start with `__stowage.` (receipt-handle key, last purge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    /// This incarnation's id.
    pub queue_id: QueueId,
    /// Owner account (12 digits).
    pub account: String,
    /// Queue name (ends in `.fifo` for FIFO queues).
    pub name: String,
    /// Stored attributes.
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Creation time, epoch ms.
    pub created_ms: u64,
    /// Last change, epoch ms.
    pub last_modified_ms: u64,
}

/// A queue definition with its compare-and-set token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    /// The definition.
    pub def: QueueDef,
    /// Changes on every update of the definition.
    pub version: u64,
}

/// What a message operation needs to know about its queue; the front derives
/// it from the definition (never from the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCtx {
    /// The queue.
    pub queue_id: QueueId,
    /// `arn:aws:sqs:<region>:<account>:<name>`.
    pub arn: String,
    /// FIFO queue?
    pub fifo: bool,
    /// MessageRetentionPeriod, ms: a message sent at `t` is gone at `t + retention_ms`.
    pub retention_ms: u64,
    /// DeduplicationScope = messageGroup (FIFO).
    pub dedup_per_group: bool,
}

/// A message as stored, with its current delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Message id.
    pub message_id: MessageId,
    /// Body (validated UTF-8).
    pub body: String,
    /// Message attributes, by name.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
    /// SenderId system attribute.
    pub sender_id: String,
    /// SentTimestamp, epoch ms (kept across dead-letter and task moves).
    pub sent_ms: u64,
    /// FIFO message group id, or the fair-queue tenant of a standard queue.
    pub group_id: Option<String>,
    /// FIFO deduplication id (explicit or content-based).
    pub dedup_id: Option<String>,
    /// FIFO sequence number in its current queue.
    pub sequence_number: Option<u128>,
    /// ARN of the queue a dead-lettered message came from.
    pub dead_letter_source_arn: Option<String>,
    /// ApproximateReceiveCount.
    pub receive_count: u32,
    /// ApproximateFirstReceiveTimestamp, epoch ms (0 = never received).
    pub first_receive_ms: u64,
    /// Delivery epoch: bumped by every receive; receipt handles carry it.
    pub epoch: u32,
    /// Invisible until, epoch ms (delay or visibility timeout).
    pub visible_at_ms: u64,
    /// When the current delivery was received, epoch ms (0 = never / unknown).
    pub received_at_ms: u64,
}

/// One message to store (SendMessage, or one SendMessageBatch entry), fully
/// validated by the front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Message id, chosen by the front.
    pub message_id: MessageId,
    /// Body.
    pub body: String,
    /// Message attributes.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// `AWSTraceHeader`.
    pub trace_header: Option<String>,
    /// SenderId.
    pub sender_id: String,
    /// FIFO group id / fair-queue tenant.
    pub group_id: Option<String>,
    /// FIFO deduplication id (`None` on standard queues).
    pub dedup_id: Option<String>,
    /// Delay before the message is visible, ms (the queue's DelaySeconds when
    /// the message sets none).
    pub delay_ms: u64,
}

/// The store's answer for one sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Stored. `sequence` is the FIFO sequence number (strictly increasing per
    /// queue, never reused, also across restarts and nodes); on standard
    /// queues it is the store's ordering key and is not shown to clients.
    Stored {
        /// Sequence number / ordering key.
        sequence: u128,
    },
    /// A FIFO duplicate inside the deduplication window: nothing stored; the
    /// answer repeats the original message's id and sequence number.
    Duplicate {
        /// The original message.
        message_id: MessageId,
        /// Its sequence number.
        sequence: u128,
    },
}

/// Where over-limit messages go during a receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveSpec {
    /// The dead-letter queue.
    pub dlq: QueueCtx,
    /// A message whose receive count already equals this is moved instead of
    /// delivered.
    pub max_receive_count: u32,
}

/// A validated ReceiveMessage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveSpec {
    /// 1–10.
    pub max: usize,
    /// Visibility timeout of the deliveries, ms.
    pub visibility_ms: u64,
    /// In-flight limit of the queue.
    pub in_flight_limit: usize,
    /// Dead-letter redrive, when the queue has a RedrivePolicy whose target exists.
    pub redrive: Option<RedriveSpec>,
    /// FIFO ReceiveRequestAttemptId.
    pub attempt_id: Option<String>,
}

/// What a receive did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiveOutcome {
    /// Messages delivered (each with its new epoch, receive count, first
    /// receive, `visible_at_ms` and `received_at_ms`), possibly none, and how
    /// many over-limit messages were moved to the dead-letter queue. When
    /// `delivered` is empty but `dead_lettered > 0`, the front tries again.
    ///
    /// Order: standard queues deliver the oldest visible messages first
    /// (best effort; a message whose visibility expired comes before messages
    /// sent after it), rotating over fair-queue tenants; FIFO queues deliver
    /// in group order, never past a message of the group that is in flight
    /// (delayed ones do not block), preferring many from one group.
    Delivered {
        /// The deliveries.
        delivered: Vec<StoredMessage>,
        /// Messages moved to the dead-letter queue by this receive.
        dead_lettered: u32,
    },
    /// A standard queue at its in-flight limit (SQS `OverLimit`). A FIFO
    /// queue at its limit answers `Delivered` with nothing.
    OverLimit,
}

/// A decoded receipt handle: one delivery of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// The message.
    pub message_id: MessageId,
    /// The delivery's epoch.
    pub epoch: u32,
}

/// The store's answer for one delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The message is gone now.
    Deleted,
    /// No such message (already deleted, moved, expired or purged).
    Gone,
    /// The message was received again after this delivery: nothing done.
    Superseded,
    /// The delivery is the current one but its visibility timeout has passed
    /// and expired handles were not allowed: nothing done.
    Expired,
}

/// One visibility change, validated by the front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisibilityChange {
    /// The delivery it names.
    pub delivery: Delivery,
    /// New deadline, epoch ms (`now` makes the message visible at once).
    pub visible_at_ms: u64,
}

/// The store's answer for one visibility change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibilityOutcome {
    /// Applied to the delivery (also when its timeout had passed and the
    /// message was not received again since: it is invisible again).
    Changed,
    /// No such message.
    Gone,
    /// The message was received again after this delivery: nothing done.
    Superseded,
    /// Never received (no delivery to change).
    NotInFlight,
    /// The new deadline is later than the delivery's receive time plus the
    /// cap: nothing done.
    CapExceeded,
}

/// What PurgeQueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// Every message sent before `now` is gone, and the queue's
    /// deduplication ids and receive attempts are forgotten.
    Purged,
    /// The previous purge was less than the minimum interval ago.
    TooSoon {
        /// Time of the previous purge, epoch ms.
        last_purge_ms: u64,
    },
}

/// Message counts of a queue, as GetQueueAttributes shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// ApproximateNumberOfMessages.
    pub visible: u64,
    /// ApproximateNumberOfMessagesNotVisible.
    pub in_flight: u64,
    /// ApproximateNumberOfMessagesDelayed.
    pub delayed: u64,
    /// SentTimestamp of the oldest message (approximate), epoch ms.
    pub oldest_sent_ms: Option<u64>,
}

/// What CreateQueue found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The queue was created.
    Created(QueueRecord),
    /// A queue of that account and name exists (the front compares the
    /// attributes the request gave).
    Exists(QueueRecord),
    /// The name was deleted less than the guard interval ago.
    DeletedRecently,
    /// The account has reached its queue quota.
    QuotaReached,
}

/// What an update of a queue definition found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Stored; the new record.
    Updated(QueueRecord),
    /// The definition changed since `expected_version`: the current record
    /// (the front re-applies its change and tries again).
    Conflict(QueueRecord),
    /// The queue no longer exists.
    Gone,
}

/// Status of a message move task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveTaskStatus {
    /// Moving.
    Running,
    /// Source drained.
    Completed,
    /// Cancel requested, not finished.
    Cancelling,
    /// Cancelled.
    Cancelled,
    /// Failed (see `failure_reason`).
    Failed,
}

/// A message move task's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTask {
    /// The task id inside its handle.
    pub task_id: String,
    /// Source (dead-letter) queue ARN.
    pub source_arn: String,
    /// Destination ARN; `None`: every message goes back to its original source.
    pub destination_arn: Option<String>,
    /// Rate limit, messages per second.
    pub max_messages_per_second: Option<u32>,
    /// Status.
    pub status: MoveTaskStatus,
    /// Messages moved so far.
    pub moved: u64,
    /// Messages to move, counted at start.
    pub to_move: u64,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// Start time, epoch ms.
    pub started_ms: u64,
}

/// Where a move task sends a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveDestination {
    /// Every message to this queue.
    Queue(QueueCtx),
    /// Each message back to the queue named by its `dead_letter_source_arn`
    /// (the store resolves it; a message whose source is gone fails the task).
    OriginalSource,
}

/// What one move-task step did (moves and progress committed together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveStep {
    /// Messages moved in this step.
    pub moved: u64,
    /// The source had no visible message left.
    pub source_drained: bool,
    /// The task cannot go on (destination gone, …): the reason, in SQS's words
    /// (e.g. `AWS.SimpleQueueService.NonExistentQueue`).
    pub failure: Option<String>,
}

/// A message as an operator's peek shows it, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekEntry {
    /// The message and its delivery state.
    pub message: StoredMessage,
    /// Its position in queue order (the cursor of the next page).
    pub order: u128,
}

/// Health of a store, for `/health/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreHealth {
    /// Serving.
    Ok,
    /// Writes fail until the operator acts (poisoned log, lost database).
    Failed(String),
}

/// The boundary. Object-safe (`Arc<dyn QueueStore>`); every method is
/// atomic and durable on `Ok` (see the module docs).
#[async_trait::async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Installs the function called when messages may have become receivable.
    fn set_waker(&self, waker: Waker);

    // ---- queues ----

    /// The live queue `(account, name)`.
    async fn queue(&self, account: &str, name: &str) -> Result<Option<QueueRecord>, StoreError>;
    /// The live queue with this id.
    async fn queue_by_id(&self, queue_id: QueueId) -> Result<Option<QueueRecord>, StoreError>;
    /// Live queues in (account, name) order: of `account` (every account
    /// when `None`) whose name starts with `prefix` and sorts after `after`,
    /// at most `limit`.
    async fn list_queues(
        &self,
        account: Option<&str>,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StoreError>;
    /// Creates `def` unless `(account, name)` exists, was deleted less than
    /// `recreate_guard_ms` ago (0: no guard), or the account already has
    /// `max_queues` queues. The store may assign another `queue_id` than
    /// `def`'s (several nodes cannot draw unique ids on their own): the
    /// returned record's is the queue's id.
    async fn create_queue(
        &self,
        def: QueueDef,
        recreate_guard_ms: u64,
        max_queues: usize,
    ) -> Result<CreateOutcome, StoreError>;
    /// Replaces the definition if its version is still `expected_version`.
    async fn update_queue(
        &self,
        def: QueueDef,
        expected_version: u64,
    ) -> Result<UpdateOutcome, StoreError>;
    /// Deletes the queue and all its messages; remembers the name's deletion
    /// time. False when it did not exist.
    async fn delete_queue(&self, queue_id: QueueId, now_ms: u64) -> Result<bool, StoreError>;

    // ---- messages ----

    /// Stores a batch atomically (FIFO: deduplicates, assigns sequence
    /// numbers). [`StoreError::QueueGone`] when the queue was deleted.
    async fn send(
        &self,
        queue: &QueueCtx,
        messages: Vec<NewMessage>,
        now_ms: u64,
    ) -> Result<Vec<SendOutcome>, StoreError>;
    /// Receives (and dead-letters) per `spec`, atomically.
    async fn receive(
        &self,
        queue: &QueueCtx,
        spec: &ReceiveSpec,
        now_ms: u64,
    ) -> Result<ReceiveOutcome, StoreError>;
    /// Deletes deliveries; each conditional on its epoch. With
    /// `allow_expired` a current delivery whose timeout passed is deleted too
    /// (standard queues); without it that is [`DeleteOutcome::Expired`] (FIFO).
    async fn delete(
        &self,
        queue: &QueueCtx,
        deliveries: &[Delivery],
        allow_expired: bool,
        now_ms: u64,
    ) -> Result<Vec<DeleteOutcome>, StoreError>;
    /// Changes visibility of deliveries; each conditional on its epoch and on
    /// `visible_at_ms <= received_at_ms + cap_ms`.
    async fn change_visibility(
        &self,
        queue: &QueueCtx,
        changes: &[VisibilityChange],
        cap_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<VisibilityOutcome>, StoreError>;
    /// PurgeQueue, at most once per `min_interval_ms` (0: no guard).
    async fn purge(
        &self,
        queue: &QueueCtx,
        min_interval_ms: u64,
        now_ms: u64,
    ) -> Result<PurgeOutcome, StoreError>;
    /// Message counts at `now_ms`.
    async fn counts(&self, queue: &QueueCtx, now_ms: u64) -> Result<QueueCounts, StoreError>;
    /// The earliest time something in flight or delayed becomes visible, if any.
    async fn next_visible_at(
        &self,
        queue: &QueueCtx,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError>;

    // ---- operator actions ----

    /// Up to `max` messages in queue order after the cursor, changing nothing.
    async fn peek(
        &self,
        queue: &QueueCtx,
        after: Option<u128>,
        max: usize,
        now_ms: u64,
    ) -> Result<Vec<PeekEntry>, StoreError>;
    /// Deletes a message by id whatever its state; false when absent.
    async fn delete_by_id(
        &self,
        queue: &QueueCtx,
        message_id: MessageId,
        now_ms: u64,
    ) -> Result<bool, StoreError>;

    // ---- move tasks ----

    /// Records a new RUNNING task unless the source has one running (false).
    /// Keeps at most the 10 most recent tasks per source.
    async fn start_move_task(&self, task: MoveTask) -> Result<bool, StoreError>;
    /// Replaces a task's state if its status is still `expected` (false otherwise).
    async fn update_move_task(
        &self,
        task: MoveTask,
        expected: MoveTaskStatus,
    ) -> Result<bool, StoreError>;
    /// Tasks of a source, most recent first (every source when `None`).
    async fn move_tasks(&self, source_arn: Option<&str>) -> Result<Vec<MoveTask>, StoreError>;
    /// Moves up to `max` visible messages of `source` for the RUNNING task
    /// `task_id`, committing the moves and the task's progress together.
    async fn move_messages(
        &self,
        task_id: &str,
        source: &QueueCtx,
        destination: &MoveDestination,
        max: usize,
        now_ms: u64,
    ) -> Result<MoveStep, StoreError>;

    // ---- background ----

    /// Timers, retention expiry, deduplication windows and receive attempts
    /// at `now_ms`; wakes queues whose messages became visible. On several
    /// nodes, only the holder of the sweep lease does the writes.
    async fn sweep(&self, now_ms: u64) -> Result<(), StoreError>;
    /// Takes or renews a named lease (move tasks, sweeps) for `ttl_ms`; true
    /// when `holder` holds it. A single-node store always answers true.
    async fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError>;
    /// Space reclamation and other upkeep (the embedded log's compaction).
    async fn maintain(&self) -> Result<(), StoreError>;
    /// Health.
    fn health(&self) -> StoreHealth;
    /// Makes everything durable and stops background work (clean shutdown).
    async fn close(&self) -> Result<(), StoreError>;
}

pub mod embedded;

#[cfg(test)]
pub(crate) mod contract_tests;
