//! `Front`: what every action shares above the store boundary — the store,
//! the clock, the configuration, and this node's per-queue state (long-poll
//! wake-ups, counters, and the values derived from each queue's definition:
//! [`QueueCtx`], [`Settings`], receipt-handle key).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Notify;

use crate::attributes::{parse_arn, Settings, RECEIPT_KEY_ATTRIBUTE};
use crate::receipt::ReceiptKey;
use crate::store::{QueueCtx, QueueId, QueueRecord, QueueStore, Waker};
use crate::types::{Caller, QueueRef};
use crate::{policy, Clock, EngineConfig, EngineError};

/// Monotonic counters of one queue (this node, this process).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) sent_bytes: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) deleted: AtomicU64,
    pub(crate) empty_receives: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) moved_by_tasks: AtomicU64,
    pub(crate) deduplicated: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What the front derives from one version of a queue's definition.
#[derive(Debug)]
pub(crate) struct Derived {
    /// The definition's version these values come from.
    version: u64,
    /// Owner and name.
    pub(crate) reference: QueueRef,
    /// What the store needs to know about the queue.
    pub(crate) ctx: QueueCtx,
    /// Parsed attributes.
    pub(crate) settings: Settings,
    /// Effective receipt-handle key.
    pub(crate) key: ReceiptKey,
}

/// This node's state of one queue.
#[derive(Debug, Default)]
pub(crate) struct Local {
    /// Wakes long polls when messages may have become receivable (the
    /// store's waker), and on deletion and shutdown.
    pub(crate) notify: Notify,
    /// Metrics counters.
    pub(crate) counters: Counters,
    /// Derived values of the latest definition seen.
    derived: Mutex<Option<Arc<Derived>>>,
}

/// Per-queue state of this node, by queue id.
#[derive(Debug, Default)]
pub(crate) struct Locals(RwLock<HashMap<QueueId, Arc<Local>>>);

impl Locals {
    /// The state of `queue_id`, created on first use.
    fn get_or_insert(&self, queue_id: QueueId) -> Arc<Local> {
        if let Some(local) = self.get(queue_id) {
            return local;
        }
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.entry(queue_id).or_default().clone()
    }

    /// The state of `queue_id`, if any.
    pub(crate) fn get(&self, queue_id: QueueId) -> Option<Arc<Local>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&queue_id)
            .cloned()
    }

    /// Wakes the long polls of `queue_id` (the store's waker).
    fn wake(&self, queue_id: QueueId) {
        if let Some(local) = self.get(queue_id) {
            local.notify.notify_waiters();
        }
    }

    /// The queues this node has state of.
    fn ids(&self) -> Vec<QueueId> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.keys().copied().collect()
    }

    /// Every queue's state.
    fn all(&self) -> Vec<Arc<Local>> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    /// Forgets a queue.
    fn remove(&self, queue_id: QueueId) -> Option<Arc<Local>> {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.remove(&queue_id)
    }
}

/// A queue as an action sees it: its current definition, what the front
/// derives from it, and this node's state of it.
#[derive(Debug, Clone)]
pub(crate) struct QueueView {
    /// Definition and version.
    pub(crate) record: QueueRecord,
    /// Derived values.
    pub(crate) derived: Arc<Derived>,
    /// This node's state.
    pub(crate) local: Arc<Local>,
}

impl QueueView {
    /// What the store needs to know about the queue.
    pub(crate) fn ctx(&self) -> &QueueCtx {
        &self.derived.ctx
    }
    /// Parsed attributes.
    pub(crate) fn settings(&self) -> &Settings {
        &self.derived.settings
    }
    /// Owner and name.
    pub(crate) fn reference(&self) -> &QueueRef {
        &self.derived.reference
    }
    /// FIFO queue?
    pub(crate) fn fifo(&self) -> bool {
        self.derived.ctx.fifo
    }
    /// The queue's ARN.
    pub(crate) fn arn(&self) -> &str {
        &self.derived.ctx.arn
    }
    /// Its counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.local.counters
    }
}

/// Everything the engine's actions share.
pub(crate) struct Front {
    /// The queue store.
    pub(crate) store: Arc<dyn QueueStore>,
    /// The embedded store's log, when that is the store (metrics).
    pub(crate) storage: Option<storage::Storage>,
    /// The only source of time.
    pub(crate) clock: Arc<dyn Clock>,
    /// Settings.
    pub(crate) config: EngineConfig,
    /// Per-queue state of this node.
    pub(crate) locals: Arc<Locals>,
    /// Set by `shutdown`.
    stopping: AtomicBool,
    /// Wakes the background task on shutdown.
    pub(crate) stop_notify: Notify,
    /// This node's name as a holder of the store's leases (random).
    pub(crate) node: String,
    /// Time of the last reset: names deleted by it may be created again at
    /// once (see [`Front::recreate_guard_ms`]).
    reset_at_ms: AtomicU64,
}

impl Front {
    /// The front over `store`; installs the store's waker.
    pub(crate) fn new(
        store: Arc<dyn QueueStore>,
        storage: Option<storage::Storage>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Front {
        let locals = Arc::new(Locals::default());
        let weak = Arc::downgrade(&locals);
        let waker: Waker = Arc::new(move |queue_id| {
            if let Some(locals) = weak.upgrade() {
                locals.wake(queue_id);
            }
        });
        store.set_waker(waker);
        Front {
            store,
            storage,
            clock,
            config,
            locals,
            stopping: AtomicBool::new(false),
            stop_notify: Notify::new(),
            node: uuid::Uuid::new_v4().to_string(),
            reset_at_ms: AtomicU64::new(0),
        }
    }

    /// Now, epoch ms.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// True after `shutdown`.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Ends long polls and stops the background loop.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop_notify.notify_waiters();
        for local in self.locals.all() {
            local.notify.notify_waiters();
        }
    }

    /// `arn:aws:sqs:<region>:<account>:<name>`.
    pub(crate) fn arn(&self, account: &str, name: &str) -> String {
        format!("arn:aws:sqs:{}:{account}:{name}", self.config.region)
    }

    /// The view of a queue record (derived values cached per version).
    pub(crate) fn view(&self, record: QueueRecord) -> QueueView {
        let local = self.locals.get_or_insert(record.def.queue_id);
        let derived = {
            let mut cached = local.derived.lock().unwrap_or_else(|e| e.into_inner());
            match cached.as_ref() {
                Some(d) if d.version == record.version => d.clone(),
                _ => {
                    let d = Arc::new(self.derive(&record));
                    *cached = Some(d.clone());
                    d
                }
            }
        };
        QueueView {
            record,
            derived,
            local,
        }
    }

    fn derive(&self, record: &QueueRecord) -> Derived {
        let def = &record.def;
        let settings = Settings::from_attributes(&def.attributes);
        let fifo = def.name.ends_with(".fifo");
        let key = def
            .attributes
            .get(RECEIPT_KEY_ATTRIBUTE)
            .and_then(|k| ReceiptKey::from_hex(k))
            .unwrap_or_else(ReceiptKey::random)
            .with_secret(&self.config.receipt_handle_secret);
        Derived {
            version: record.version,
            reference: QueueRef {
                account: def.account.clone(),
                name: def.name.clone(),
            },
            ctx: QueueCtx {
                queue_id: def.queue_id,
                arn: self.arn(&def.account, &def.name),
                fifo,
                retention_ms: settings.retention_ms,
                dedup_per_group: settings.dedup_per_group,
            },
            settings,
            key,
        }
    }

    /// The queue `queue`, if it exists (no access check).
    pub(crate) async fn find(&self, queue: &QueueRef) -> Result<QueueView, EngineError> {
        let record = self
            .store
            .queue(&queue.account, &queue.name)
            .await?
            .ok_or(EngineError::QueueDoesNotExist)?;
        Ok(self.view(record))
    }

    /// The queue `queue`, if the caller may perform `action` on it.
    pub(crate) async fn queue(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        action: &str,
    ) -> Result<QueueView, EngineError> {
        let found = self.find(queue).await?;
        self.check_access(caller, &found, action)?;
        Ok(found)
    }

    /// The queue with this id, if it still exists.
    pub(crate) async fn queue_by_id(
        &self,
        queue_id: QueueId,
    ) -> Result<Option<QueueView>, EngineError> {
        Ok(self
            .store
            .queue_by_id(queue_id)
            .await?
            .map(|r| self.view(r)))
    }

    /// Policy check: owner always; others per the queue's Policy.
    pub(crate) fn check_access(
        &self,
        caller: &Caller,
        queue: &QueueView,
        action: &str,
    ) -> Result<(), EngineError> {
        if caller.account == queue.record.def.account {
            return Ok(());
        }
        let policy = queue.record.def.attributes.get("Policy");
        if policy::allows(policy.map(String::as_str), &caller.account, action) {
            Ok(())
        } else {
            Err(EngineError::AccessDenied(queue.arn().to_string()))
        }
    }

    /// The queue named by an ARN of this region.
    pub(crate) async fn queue_by_arn(&self, arn: &str) -> Result<Option<QueueView>, EngineError> {
        let Some((region, account, name)) = parse_arn(arn) else {
            return Ok(None);
        };
        if region != self.config.region {
            return Ok(None);
        }
        Ok(self.store.queue(account, name).await?.map(|r| self.view(r)))
    }

    /// Every queue of every account, in (account, name) order; forgets this
    /// node's state of queues that are gone (deleted by another node).
    pub(crate) async fn all_queues(&self) -> Result<Vec<QueueView>, EngineError> {
        let records = self.store.list_queues(None, "", None, usize::MAX).await?;
        let listed: std::collections::HashSet<QueueId> =
            records.iter().map(|r| r.def.queue_id).collect();
        for id in self.locals.ids() {
            // Not listed: gone, or created since the listing (asked again).
            if !listed.contains(&id) && self.store.queue_by_id(id).await?.is_none() {
                self.forget(id);
            }
        }
        Ok(records.into_iter().map(|r| self.view(r)).collect())
    }

    /// The queues whose RedrivePolicy names `dlq_arn` (any account).
    pub(crate) async fn dead_letter_sources(
        &self,
        dlq_arn: &str,
    ) -> Result<Vec<QueueView>, EngineError> {
        Ok(self
            .all_queues()
            .await?
            .into_iter()
            .filter(|q| {
                q.settings()
                    .redrive
                    .as_ref()
                    .is_some_and(|r| r.target_arn == dlq_arn)
            })
            .collect())
    }

    /// A queue was deleted here: wake its long polls and forget it.
    pub(crate) fn forget(&self, queue_id: QueueId) {
        if let Some(local) = self.locals.remove(queue_id) {
            local.notify.notify_waiters();
        }
    }

    /// Notes a reset at `now_ms` (every queue was deleted).
    pub(crate) fn note_reset(&self, now_ms: u64) {
        self.reset_at_ms.fetch_max(now_ms, Ordering::SeqCst);
    }

    /// The guard CreateQueue asks the store to keep between a name's
    /// deletion and its reuse: AWS's 60 s with `strict_timing` — shortened
    /// so that names deleted by a reset (or before it) are free at once — and
    /// none without.
    pub(crate) fn recreate_guard_ms(&self, now_ms: u64, guard_ms: u64) -> u64 {
        if !self.config.strict_timing {
            return 0;
        }
        let reset_at = self.reset_at_ms.load(Ordering::SeqCst);
        if reset_at == 0 {
            guard_ms
        } else {
            // A deletion at or before the reset is at least `now - reset`
            // ago, so it passes this guard; later ones are still held.
            guard_ms.min(now_ms.saturating_sub(reset_at))
        }
    }
}
