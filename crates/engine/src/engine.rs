//! `Engine`: the facade — one async method per SQS action, in SQS
//! vocabulary, with plain Rust request/response types (`types.rs`), plus the
//! operator actions. The only file that names the action modules.
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

use crate::actions::{ack, admin, move_tasks, queues, receive, send};
use crate::front::{Counters, Front};
use crate::store::embedded::EmbeddedStore;
use crate::store::{QueueStore, StoreHealth};
use crate::types::*;
use crate::{Clock, EngineConfig, EngineError};

/// The engine. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Engine {
    front: Arc<Front>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// The engine over the embedded store: replays the storage log into
    /// memory and returns a ready engine. Background work starts with
    /// [`Engine::spawn_background`].
    pub async fn open(
        storage: storage::Storage,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let store = EmbeddedStore::open(storage.clone(), &config.region, clock.now_ms())?;
        Ok(Engine {
            front: Arc::new(Front::new(Arc::new(store), Some(storage), clock, config)),
        })
    }
    /// The engine over another [`QueueStore`] (e.g. one shared by several
    /// nodes).
    pub fn with_store(
        store: Arc<dyn QueueStore>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Engine {
        Engine {
            front: Arc::new(Front::new(store, None, clock, config)),
        }
    }
    /// Starts the background task (delays, visibility expiry, retention,
    /// compaction, move tasks) on the current tokio runtime.
    pub fn spawn_background(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::background::run(self.front.clone()))
    }
    /// One background round, synchronously with the caller: timers and
    /// retention of every queue at the clock's current time, one step of
    /// every running move task, and the store's upkeep (compaction). Tests
    /// drive time with a `ManualClock` and call this instead of waiting for
    /// the background task.
    pub async fn tick(&self) -> Result<(), EngineError> {
        crate::background::round(&self.front).await
    }
    /// Ends long polls (they answer with what they have) and stops
    /// background work; the store stays open for the requests still being
    /// answered. [`Engine::shutdown`] then closes it.
    pub fn stop(&self) {
        self.front.stop();
    }
    /// Ends long polls (they answer with what they have), stops background
    /// work and makes everything durable; a store shared with other nodes
    /// (PostgreSQL) is closed: later calls fail.
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.front.stop();
        self.front.store.close().await?;
        Ok(())
    }
    /// Health of the store (`/health/ready`).
    pub fn health(&self) -> StoreHealth {
        self.front.store.health()
    }
    /// The embedded store's log (statistics for metrics; closing it at the
    /// very end); `None` with another store.
    pub fn storage(&self) -> Option<&storage::Storage> {
        self.front.storage.as_ref()
    }
    /// `arn:aws:sqs:<region>:<account>:<name>`.
    pub fn queue_arn(&self, queue: &QueueRef) -> String {
        self.front.arn(&queue.account, &queue.name)
    }
    /// Gauges and counters of every queue, in (account, name) order.
    pub async fn queue_gauges(&self) -> Result<Vec<QueueGauges>, EngineError> {
        let now = self.front.now();
        let mut out = Vec::new();
        for queue in self.front.all_queues().await? {
            let counts = match self.front.store.counts(queue.ctx(), now).await {
                Ok(counts) => counts,
                Err(crate::store::StoreError::QueueGone) => continue, // deleted meanwhile
                Err(e) => return Err(e.into()),
            };
            let c = queue.counters();
            out.push(QueueGauges {
                queue: queue.reference().clone(),
                visible: counts.visible,
                not_visible: counts.in_flight,
                delayed: counts.delayed,
                oldest_message_age_seconds: counts
                    .oldest_sent_ms
                    .map_or(0, |s| now.saturating_sub(s) / 1000),
                sent_total: Counters::get(&c.sent),
                sent_bytes_total: Counters::get(&c.sent_bytes),
                received_total: Counters::get(&c.received),
                deleted_total: Counters::get(&c.deleted),
                empty_receives_total: Counters::get(&c.empty_receives),
                dead_lettered_total: Counters::get(&c.dead_lettered),
                moved_by_tasks_total: Counters::get(&c.moved_by_tasks),
                deduplicated_total: Counters::get(&c.deduplicated),
            });
        }
        Ok(out)
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
        queues::create(&self.front, caller, name, attributes, tags).await
    }
    /// GetQueueUrl.
    pub async fn get_queue_url(
        &self,
        caller: &Caller,
        name: &str,
        owner_account: Option<&str>,
    ) -> Result<QueueRef, EngineError> {
        queues::get_url(&self.front, caller, name, owner_account).await
    }
    /// ListQueues (the caller's own queues).
    pub async fn list_queues(
        &self,
        caller: &Caller,
        prefix: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<Page<QueueRef>, EngineError> {
        queues::list(&self.front, caller, prefix, max_results, next_token).await
    }
    /// DeleteQueue.
    pub async fn delete_queue(&self, caller: &Caller, queue: &QueueRef) -> Result<(), EngineError> {
        queues::delete(&self.front, caller, queue).await
    }
    /// PurgeQueue.
    pub async fn purge_queue(&self, caller: &Caller, queue: &QueueRef) -> Result<(), EngineError> {
        queues::purge(&self.front, caller, queue).await
    }
    /// GetQueueAttributes (`All` or names; empty list → empty map).
    pub async fn get_queue_attributes(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, EngineError> {
        queues::get_attributes(&self.front, caller, queue, names).await
    }
    /// SetQueueAttributes.
    pub async fn set_queue_attributes(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        queues::set_attributes(&self.front, caller, queue, attributes).await
    }
    /// ListQueueTags.
    pub async fn list_queue_tags(
        &self,
        caller: &Caller,
        queue: &QueueRef,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        queues::list_tags(&self.front, caller, queue).await
    }
    /// TagQueue.
    pub async fn tag_queue(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        tags: BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        queues::tag(&self.front, caller, queue, tags).await
    }
    /// UntagQueue.
    pub async fn untag_queue(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        keys: Vec<String>,
    ) -> Result<(), EngineError> {
        queues::untag(&self.front, caller, queue, keys).await
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
        queues::add_permission(&self.front, caller, queue, label, account_ids, actions).await
    }
    /// RemovePermission.
    pub async fn remove_permission(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        label: &str,
    ) -> Result<(), EngineError> {
        queues::remove_permission(&self.front, caller, queue, label).await
    }
    /// ListDeadLetterSourceQueues.
    pub async fn list_dead_letter_source_queues(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<Page<QueueRef>, EngineError> {
        queues::dead_letter_sources(&self.front, caller, queue, max_results, next_token).await
    }

    // ---- messages ----
    /// SendMessage (errors of the single entry are the call's errors).
    pub async fn send_message(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        entry: SendEntry,
    ) -> Result<SendResult, EngineError> {
        send::send_one(&self.front, caller, queue, entry).await
    }
    /// SendMessageBatch: one atomic append for all accepted entries.
    pub async fn send_message_batch(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        entries: Vec<SendEntry>,
    ) -> Result<BatchResult<SendResult>, EngineError> {
        send::send_batch(&self.front, caller, queue, entries).await
    }
    /// ReceiveMessage, long-polling up to the wait time.
    pub async fn receive_message(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        request: ReceiveRequest,
    ) -> Result<Vec<ReceivedMessage>, EngineError> {
        receive::receive(&self.front, caller, queue, request).await
    }
    /// DeleteMessage.
    pub async fn delete_message(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        receipt_handle: &str,
    ) -> Result<(), EngineError> {
        ack::delete_one(&self.front, caller, queue, receipt_handle).await
    }
    /// DeleteMessageBatch; successful entries are returned by Id.
    pub async fn delete_message_batch(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        entries: Vec<DeleteEntry>,
    ) -> Result<BatchResult<String>, EngineError> {
        ack::delete_batch(&self.front, caller, queue, entries).await
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
            &self.front,
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
        ack::change_visibility_batch(&self.front, caller, queue, entries).await
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
        admin::peek(&self.front, queue, after, max).await
    }
    /// Deletes one message by id, whatever its state (an operator's delete).
    /// Returns false when the queue has no such message.
    pub async fn delete_message_by_id(
        &self,
        queue: &QueueRef,
        message_id: &str,
    ) -> Result<bool, EngineError> {
        admin::delete_by_id(&self.front, queue, message_id).await
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
        admin::reset(&self.front).await
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
        move_tasks::start_task(
            &self.front,
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
        move_tasks::cancel_task(&self.front, caller, task_handle).await
    }
    /// ListMessageMoveTasks (most recent first, ≤ max_results, default 1, max 10).
    pub async fn list_message_move_tasks(
        &self,
        caller: &Caller,
        source_arn: &str,
        max_results: Option<i64>,
    ) -> Result<Vec<MoveTaskInfo>, EngineError> {
        move_tasks::list_tasks(&self.front, caller, source_arn, max_results).await
    }
}
