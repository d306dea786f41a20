//! The engine's public API: one async method per SQS action, in SQS
//! vocabulary, with plain Rust request/response types (no wire types).
//!
//! Conventions:
//! - Every call takes the [`Caller`] (for SenderId and Policy checks) and,
//!   where SQS takes a `QueueUrl`, a [`QueueRef`] (account + name; the server
//!   parses URLs).
//! - Numeric parameters arrive as `i64` exactly as the client sent them; the
//!   engine validates ranges and answers `InvalidParameterValue`.
//! - Batch calls validate the request as a whole (empty, too many, duplicate
//!   or malformed ids, too long) and return per-entry results otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use storage::AttributeValue;

use crate::shared::Shared;
use crate::{ack, admin, queues, receive, redrive, send};
use crate::{Clock, EngineConfig, EngineError, PeekedMessage};

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

/// The engine. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Replays the storage log into memory and returns a ready engine.
    /// Background work starts with [`Engine::spawn_background`].
    pub async fn open(
        storage: storage::Storage,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let shared = crate::replay::open(storage, clock, config)?;
        Ok(Engine {
            shared: Arc::new(shared),
        })
    }
    /// Starts the background task (delays, visibility expiry, retention,
    /// compaction, move tasks) on the current tokio runtime.
    pub fn spawn_background(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::timers::run_background(self.shared.clone()))
    }
    /// One background round, synchronously with the caller: timers and
    /// retention of every queue at the clock's current time, one step of
    /// every running move task, and a compaction pass. Tests drive time with
    /// a `ManualClock` and call this instead of waiting for the background task.
    pub async fn tick(&self) -> Result<(), EngineError> {
        crate::timers::sweep(&self.shared);
        crate::redrive::step_tasks(&self.shared).await?;
        crate::compaction::compact(&self.shared).await?;
        Ok(())
    }
    /// Ends long polls (they answer with what they have), stops background
    /// work and flushes the log.
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.shared
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.stop_notify.notify_waiters();
        for queue in self.shared.registry.all() {
            queue.notify.notify_waiters();
        }
        self.shared.storage.sync().await?;
        Ok(())
    }
    /// Health of the underlying log.
    pub fn health(&self) -> storage::Health {
        self.shared.storage.health()
    }
    /// The storage handle (stats for metrics).
    pub fn storage(&self) -> &storage::Storage {
        &self.shared.storage
    }
    /// `arn:aws:sqs:<region>:<account>:<name>`.
    pub fn queue_arn(&self, queue: &QueueRef) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{}",
            self.shared.config.region, queue.account, queue.name
        )
    }
    /// Gauges of every queue.
    pub async fn queue_gauges(&self) -> Vec<QueueGauges> {
        let now = self.shared.now();
        let mut out: Vec<QueueGauges> = self
            .shared
            .registry
            .all()
            .iter()
            .map(|q| q.gauges(now))
            .collect();
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        out
    }

    // ---- queues ----
    /// CreateQueue.
    pub async fn create_queue(
        &self,
        caller: &Caller,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> Result<QueueRef, EngineError> {
        queues::create(&self.shared, caller, name, attributes, tags).await
    }
    /// GetQueueUrl.
    pub async fn get_queue_url(
        &self,
        caller: &Caller,
        name: &str,
        owner_account: Option<&str>,
    ) -> Result<QueueRef, EngineError> {
        queues::get_url(&self.shared, caller, name, owner_account)
    }
    /// ListQueues (the caller's own queues).
    pub async fn list_queues(
        &self,
        caller: &Caller,
        prefix: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<Page<QueueRef>, EngineError> {
        queues::list(&self.shared, caller, prefix, max_results, next_token)
    }
    /// DeleteQueue.
    pub async fn delete_queue(&self, caller: &Caller, queue: &QueueRef) -> Result<(), EngineError> {
        queues::delete(&self.shared, caller, queue).await
    }
    /// PurgeQueue.
    pub async fn purge_queue(&self, caller: &Caller, queue: &QueueRef) -> Result<(), EngineError> {
        queues::purge(&self.shared, caller, queue).await
    }
    /// GetQueueAttributes (`All` or names; empty list → empty map).
    pub async fn get_queue_attributes(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, EngineError> {
        queues::get_attributes(&self.shared, caller, queue, names)
    }
    /// SetQueueAttributes.
    pub async fn set_queue_attributes(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        queues::set_attributes(&self.shared, caller, queue, attributes).await
    }
    /// ListQueueTags.
    pub async fn list_queue_tags(
        &self,
        caller: &Caller,
        queue: &QueueRef,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        queues::list_tags(&self.shared, caller, queue)
    }
    /// TagQueue.
    pub async fn tag_queue(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        tags: BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        queues::tag(&self.shared, caller, queue, tags).await
    }
    /// UntagQueue.
    pub async fn untag_queue(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        keys: Vec<String>,
    ) -> Result<(), EngineError> {
        queues::untag(&self.shared, caller, queue, keys).await
    }
    /// AddPermission.
    pub async fn add_permission(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        label: &str,
        account_ids: Vec<String>,
        actions: Vec<String>,
    ) -> Result<(), EngineError> {
        queues::add_permission(&self.shared, caller, queue, label, account_ids, actions).await
    }
    /// RemovePermission.
    pub async fn remove_permission(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        label: &str,
    ) -> Result<(), EngineError> {
        queues::remove_permission(&self.shared, caller, queue, label).await
    }
    /// ListDeadLetterSourceQueues.
    pub async fn list_dead_letter_source_queues(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<Page<QueueRef>, EngineError> {
        queues::dead_letter_sources(&self.shared, caller, queue, max_results, next_token)
    }

    // ---- messages ----
    /// SendMessage (errors of the single entry are the call's errors).
    pub async fn send_message(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        entry: SendEntry,
    ) -> Result<SendResult, EngineError> {
        send::send_one(&self.shared, caller, queue, entry).await
    }
    /// SendMessageBatch: one atomic append for all accepted entries.
    pub async fn send_message_batch(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        entries: Vec<SendEntry>,
    ) -> Result<BatchResult<SendResult>, EngineError> {
        send::send_batch(&self.shared, caller, queue, entries).await
    }
    /// ReceiveMessage, long-polling up to the wait time.
    pub async fn receive_message(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        request: ReceiveRequest,
    ) -> Result<Vec<ReceivedMessage>, EngineError> {
        receive::receive(&self.shared, caller, queue, request).await
    }
    /// DeleteMessage.
    pub async fn delete_message(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        receipt_handle: &str,
    ) -> Result<(), EngineError> {
        ack::delete_one(&self.shared, caller, queue, receipt_handle).await
    }
    /// DeleteMessageBatch; successful entries are returned by Id.
    pub async fn delete_message_batch(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        entries: Vec<DeleteEntry>,
    ) -> Result<BatchResult<String>, EngineError> {
        ack::delete_batch(&self.shared, caller, queue, entries).await
    }
    /// ChangeMessageVisibility.
    pub async fn change_message_visibility(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        receipt_handle: &str,
        visibility_timeout: i64,
    ) -> Result<(), EngineError> {
        ack::change_visibility_one(
            &self.shared,
            caller,
            queue,
            receipt_handle,
            visibility_timeout,
        )
        .await
    }
    /// ChangeMessageVisibilityBatch; successful entries are returned by Id.
    pub async fn change_message_visibility_batch(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        entries: Vec<VisibilityEntry>,
    ) -> Result<BatchResult<String>, EngineError> {
        ack::change_visibility_batch(&self.shared, caller, queue, entries).await
    }

    // ---- operator actions (not SQS actions; the server authenticates the operator) ----
    /// Peek: up to `max` (1–1000) messages of a queue in queue order, after
    /// the cursor `after` (a previous page's `next_token`), **without**
    /// receiving them: no visibility change, no receive count, nothing logged.
    pub async fn peek_messages(
        &self,
        queue: &QueueRef,
        after: Option<&str>,
        max: usize,
    ) -> Result<Page<PeekedMessage>, EngineError> {
        admin::peek(&self.shared, queue, after, max)
    }
    /// Deletes one message by id, whatever its state (an operator's delete).
    /// Returns false when the queue has no such message.
    pub async fn delete_message_by_id(
        &self,
        queue: &QueueRef,
        message_id: &str,
    ) -> Result<bool, EngineError> {
        admin::delete_by_id(&self.shared, queue, message_id).await
    }
    /// Checks a queue declaration (name, CreateQueue attributes, tags) with
    /// CreateQueue's own validation, creating nothing.
    pub fn check_queue_declaration(
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        admin::check_queue(name, attributes, tags)
    }
    /// Deletes every queue of every account with its messages, and forgets
    /// the deleted names (they can be created again at once, whatever
    /// `strict_timing`). Returns the number of queues deleted.
    pub async fn reset(&self) -> Result<usize, EngineError> {
        admin::reset(&self.shared).await
    }

    // ---- move tasks ----
    /// StartMessageMoveTask; returns the task handle.
    pub async fn start_message_move_task(
        &self,
        caller: &Caller,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_number_of_messages_per_second: Option<i64>,
    ) -> Result<String, EngineError> {
        redrive::start_task(
            &self.shared,
            caller,
            source_arn,
            destination_arn,
            max_number_of_messages_per_second,
        )
        .await
    }
    /// CancelMessageMoveTask; returns the number of messages moved.
    pub async fn cancel_message_move_task(
        &self,
        caller: &Caller,
        task_handle: &str,
    ) -> Result<u64, EngineError> {
        redrive::cancel_task(&self.shared, caller, task_handle).await
    }
    /// ListMessageMoveTasks (most recent first, ≤ max_results, default 1, max 10).
    pub async fn list_message_move_tasks(
        &self,
        caller: &Caller,
        source_arn: &str,
        max_results: Option<i64>,
    ) -> Result<Vec<MoveTaskInfo>, EngineError> {
        redrive::list_tasks(&self.shared, caller, source_arn, max_results)
    }
}
