//! `PgStore`: the [`QueueStore`] over PostgreSQL (and PostgreSQL-protocol
//! databases such as YugabyteDB), so that several stateless Stowage nodes
//! can serve the same queues.
//!
//! Every message state change is one conditional statement on the row's
//! `epoch` (the receipt handle's delivery), executed in a transaction when
//! an operation changes several things at once (a receive and its
//! dead-letter moves, a move-task step and its progress, a FIFO batch and
//! its deduplication ids). Locks and `SKIP LOCKED` only reduce contention;
//! serialization failures are retried (module `db`). Time is always the
//! `now_ms` the caller passes in: no statement reads the database clock.
//!
//! Modules: [`config`] the settings · `db` pool, transactions, retries,
//! error mapping, fault injection · `schema` migrations and the key
//! layout · `codec` rows ↔ types · `queues` definitions · `send` ·
//! `receive` picking and claiming · `ack` delete, visibility, purge ·
//! `read` counts, next visibility, peek · `tasks` move tasks · `sweep`
//! retention, expiry, leases · `notify` LISTEN/NOTIFY wake-ups.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub mod config;

mod ack;
mod codec;
mod db;
mod notify;
mod queues;
mod read;
mod receive;
mod schema;
mod send;
mod sweep;
mod tasks;

#[cfg(test)]
mod tests;

pub use config::{Dialect, FaultConfig, PgStoreConfig};

use super::*;

/// The PostgreSQL store. Cheap to share behind an `Arc`; background tasks
/// (wake-ups) stop on [`QueueStore::close`] or drop.
pub struct PgStore {
    db: db::Db,
    config: PgStoreConfig,
    /// This node's name as a lease holder (random per instance).
    node: String,
    wakeups: Arc<notify::Wakeups>,
    tasks: Mutex<notify::Tasks>,
    /// Per queue: the tenant (group) a receive starts after (rotation).
    cursors: Mutex<HashMap<QueueId, String>>,
    /// Per queue: (checked at, messages in flight) — recounted when stale
    /// or near the limit.
    in_flight: Mutex<HashMap<QueueId, (u64, u64)>>,
    /// Time of the last sweep that did its writes.
    last_sweep_ms: AtomicU64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("node", &self.node)
            .field("dialect", &self.config.dialect)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, applies the schema migrations, and starts the wake-up
    /// tasks. `now_ms` stamps the migration record.
    pub async fn open(config: PgStoreConfig, now_ms: u64) -> Result<PgStore, StoreError> {
        if config.url.is_empty() {
            return Err(StoreError::Internal(
                "store.postgres_url is required for the postgres backend".into(),
            ));
        }
        let db = db::Db::new(&config)?;
        schema::migrate(&db, now_ms).await?;
        if config.dialect == Dialect::Postgres {
            schema::tune_for_postgres(&db).await;
        }
        let (wakeups, tasks) = notify::start(db::pg_config(&config)?, config.notify);
        Ok(PgStore {
            db,
            node: uuid::Uuid::new_v4().to_string(),
            config,
            wakeups,
            tasks: Mutex::new(tasks),
            cursors: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            last_sweep_ms: AtomicU64::new(0),
        })
    }

    /// This node's lease-holder name.
    pub fn node_name(&self) -> &str {
        &self.node
    }

    fn cursor(&self, queue: QueueId) -> Option<String> {
        self.cursors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&queue)
            .cloned()
    }

    fn set_cursor(&self, queue: QueueId, tenant: Option<String>) {
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        match tenant {
            Some(t) => cursors.insert(queue, t),
            None => cursors.remove(&queue),
        };
    }
}

#[async_trait::async_trait]
impl QueueStore for PgStore {
    fn set_waker(&self, waker: Waker) {
        self.wakeups.set_waker(waker);
    }

    async fn queue(&self, account: &str, name: &str) -> Result<Option<QueueRecord>, StoreError> {
        queues::by_name(self, account, name).await
    }

    async fn queue_by_id(&self, queue_id: QueueId) -> Result<Option<QueueRecord>, StoreError> {
        queues::by_id(self, queue_id).await
    }

    async fn list_queues(
        &self,
        account: Option<&str>,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StoreError> {
        queues::list(self, account, prefix, after, limit).await
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
        ack::purge(self, queue, min_interval_ms, now_ms).await
    }

    async fn counts(&self, queue: &QueueCtx, now_ms: u64) -> Result<QueueCounts, StoreError> {
        read::counts(self, queue, now_ms).await
    }

    async fn next_visible_at(
        &self,
        queue: &QueueCtx,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        read::next_visible_at(self, queue, now_ms).await
    }

    async fn peek(
        &self,
        queue: &QueueCtx,
        after: Option<u128>,
        max: usize,
        now_ms: u64,
    ) -> Result<Vec<PeekEntry>, StoreError> {
        read::peek(self, queue, after, max, now_ms).await
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
        tasks::list(self, source_arn).await
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
        sweep::sweep(self, now_ms).await
    }

    async fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        sweep::lease(self, name, holder, ttl_ms, now_ms).await
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        // Space reclamation is the database's (autovacuum).
        Ok(())
    }

    fn health(&self) -> StoreHealth {
        self.wakeups.health()
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).stop();
        self.db.close();
        Ok(())
    }
}

/// Milliseconds as a `bigint` (see [`codec::int`]).
fn ms(value: u64) -> i64 {
    codec::int(value)
}

/// Relaxed atomics are enough for the sweep's rate limit.
fn swap_if_due(cell: &AtomicU64, now_ms: u64, interval_ms: u64) -> bool {
    let last = cell.load(Ordering::Relaxed);
    if now_ms < last.saturating_add(interval_ms) && last != 0 {
        return false;
    }
    cell.compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
}
