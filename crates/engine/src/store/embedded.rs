//! The embedded store: the `QueueStore` of one node over `storage`'s
//! segmented write-ahead log (the default backend).
//!
//! The log is the source of truth; memory holds a compact index of every
//! queue's messages (`messages`), rebuilt from the log at open
//! (`replay`). Every operation decides under its queue's lock, submits one
//! append for everything it changed, and answers once the append is durable.
//! No disk read happens under a queue lock: a receive reserves the messages
//! it picked, reads their bodies unlocked, and commits under the lock again
//! (see `receive`).
//!
//! Modules: `state` what the operations share · `queue` one queue and its
//! lock · `registry` queues by name and id · `messages` the per-queue
//! message index · `fifo` dedup windows, sequence numbers, receive attempts
//! · `records` the store's types ↔ `storage` records · `queues`
//! definitions, purge, counts · `send` · `receive` (+ dead-letter moves) ·
//! `ack` delete, visibility, delete by id · `peek` · `task_list` the move
//! tasks · `tasks` their operations · `timers` due timers, retention, the
//! sweep · `replay` open · `compaction` relocation of live records.

mod ack;
mod compaction;
mod fifo;
mod messages;
mod peek;
mod queue;
mod queues;
mod receive;
mod records;
mod registry;
mod replay;
mod send;
mod state;
mod task_list;
mod tasks;
mod timers;

use storage::Storage;

use super::*;
pub use state::EmbeddedStore;

impl EmbeddedStore {
    /// Replays `storage` into memory at `now_ms` (what passed retention while
    /// the server was down is dropped) and returns the ready store. `region`
    /// is the region of the queue ARNs.
    pub fn open(storage: Storage, region: &str, now_ms: u64) -> Result<EmbeddedStore, StoreError> {
        replay::open(storage, region, now_ms)
    }

    /// The log (statistics for metrics; `close` at the very end).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
}

#[async_trait::async_trait]
impl QueueStore for EmbeddedStore {
    fn set_waker(&self, waker: Waker) {
        *self.waker.write().unwrap_or_else(|e| e.into_inner()) = Some(waker);
    }

    async fn queue(&self, account: &str, name: &str) -> Result<Option<QueueRecord>, StoreError> {
        Ok(self.registry.get(account, name).and_then(|q| q.record()))
    }

    async fn queue_by_id(&self, queue_id: QueueId) -> Result<Option<QueueRecord>, StoreError> {
        Ok(self.registry.by_id(queue_id).and_then(|q| q.record()))
    }

    async fn list_queues(
        &self,
        account: Option<&str>,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StoreError> {
        Ok(self
            .registry
            .list(account, prefix, after, limit)
            .iter()
            .filter_map(|q| q.record())
            .collect())
    }

    async fn create_queue(
        &self,
        def: QueueDef,
        recreate_guard_ms: u64,
        max_queues: usize,
    ) -> Result<CreateOutcome, StoreError> {
        queues::create(self, def, recreate_guard_ms, max_queues).await
    }

    async fn update_queue(
        &self,
        def: QueueDef,
        expected_version: u64,
    ) -> Result<UpdateOutcome, StoreError> {
        queues::update(self, def, expected_version).await
    }

    async fn delete_queue(&self, queue_id: QueueId, now_ms: u64) -> Result<bool, StoreError> {
        queues::delete(self, queue_id, now_ms).await
    }

    async fn send(
        &self,
        queue: &QueueCtx,
        messages: Vec<NewMessage>,
        now_ms: u64,
    ) -> Result<Vec<SendOutcome>, StoreError> {
        send::send(self, queue, messages, now_ms).await
    }

    async fn receive(
        &self,
        queue: &QueueCtx,
        spec: &ReceiveSpec,
        now_ms: u64,
    ) -> Result<ReceiveOutcome, StoreError> {
        receive::receive(self, queue, spec, now_ms).await
    }

    async fn delete(
        &self,
        queue: &QueueCtx,
        deliveries: &[Delivery],
        allow_expired: bool,
        now_ms: u64,
    ) -> Result<Vec<DeleteOutcome>, StoreError> {
        ack::delete(self, queue, deliveries, allow_expired, now_ms).await
    }

    async fn change_visibility(
        &self,
        queue: &QueueCtx,
        changes: &[VisibilityChange],
        cap_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<VisibilityOutcome>, StoreError> {
        ack::change_visibility(self, queue, changes, cap_ms, now_ms).await
    }

    async fn purge(
        &self,
        queue: &QueueCtx,
        min_interval_ms: u64,
        now_ms: u64,
    ) -> Result<PurgeOutcome, StoreError> {
        queues::purge(self, queue, min_interval_ms, now_ms).await
    }

    async fn counts(&self, queue: &QueueCtx, now_ms: u64) -> Result<QueueCounts, StoreError> {
        queues::counts(self, queue, now_ms)
    }

    async fn next_visible_at(
        &self,
        queue: &QueueCtx,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        queues::next_visible_at(self, queue, now_ms)
    }

    async fn peek(
        &self,
        queue: &QueueCtx,
        after: Option<u128>,
        max: usize,
        now_ms: u64,
    ) -> Result<Vec<PeekEntry>, StoreError> {
        peek::peek(self, queue, after, max, now_ms)
    }

    async fn delete_by_id(
        &self,
        queue: &QueueCtx,
        message_id: MessageId,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        ack::delete_by_id(self, queue, message_id, now_ms).await
    }

    async fn start_move_task(&self, task: MoveTask) -> Result<bool, StoreError> {
        tasks::start(self, task).await
    }

    async fn update_move_task(
        &self,
        task: MoveTask,
        expected: MoveTaskStatus,
    ) -> Result<bool, StoreError> {
        tasks::update(self, task, expected).await
    }

    async fn move_tasks(&self, source_arn: Option<&str>) -> Result<Vec<MoveTask>, StoreError> {
        Ok(tasks::list(self, source_arn))
    }

    async fn move_messages(
        &self,
        task_id: &str,
        source: &QueueCtx,
        destination: &MoveDestination,
        max: usize,
        now_ms: u64,
    ) -> Result<MoveStep, StoreError> {
        tasks::move_messages(self, task_id, source, destination, max, now_ms).await
    }

    async fn sweep(&self, now_ms: u64) -> Result<(), StoreError> {
        timers::sweep(self, now_ms);
        Ok(())
    }

    async fn lease(
        &self,
        _name: &str,
        _holder: &str,
        _ttl_ms: u64,
        _now_ms: u64,
    ) -> Result<bool, StoreError> {
        Ok(true) // one node: always the holder
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        compaction::compact(self).await.map(|_| ())
    }

    fn health(&self) -> StoreHealth {
        match self.storage.health() {
            storage::Health::Ok => StoreHealth::Ok,
            storage::Health::Poisoned(reason) => {
                StoreHealth::Failed(format!("write-ahead log poisoned: {reason}"))
            }
        }
    }

    async fn close(&self) -> Result<(), StoreError> {
        // The log itself stays open (its owner closes it): flush it.
        self.storage.sync().await?;
        Ok(())
    }
}
