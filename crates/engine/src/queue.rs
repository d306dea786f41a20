//! `Queue`: one queue incarnation — identity, its own lock around
//! [`QueueInner`] (never held across `.await`), a `Notify` for long polls, and
//! lock-free counters for metrics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use storage::{QueueId, QueueState, RecordPos};
use tokio::sync::Notify;

use crate::api::{QueueGauges, QueueRef};
use crate::attributes::{self, Settings, RECEIPT_KEY_ATTRIBUTE};
use crate::fifo::FifoState;
use crate::messages::{Messages, Msg, NO_POS};
use crate::receipt::ReceiptKey;

/// Monotonic counters of one queue (this process).
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
}

/// One queue incarnation.
#[derive(Debug)]
pub(crate) struct Queue {
    /// Stable id.
    pub(crate) id: QueueId,
    /// Owner account and name.
    pub(crate) reference: QueueRef,
    /// FIFO queue?
    pub(crate) fifo: bool,
    /// `arn:aws:sqs:<region>:<account>:<name>`.
    pub(crate) arn: String,
    /// Mutable state.
    state: Mutex<QueueInner>,
    /// Wakes long polls when messages become visible (and on shutdown).
    pub(crate) notify: Notify,
    /// Metrics counters.
    pub(crate) counters: Counters,
}

/// A queue's mutable state.
#[derive(Debug)]
pub(crate) struct QueueInner {
    /// Durable attributes, tags, timestamps.
    pub(crate) meta: QueueState,
    /// Position of the latest QueueUpserted record.
    pub(crate) meta_pos: RecordPos,
    /// Parsed attributes.
    pub(crate) settings: Settings,
    /// Effective receipt-handle key.
    pub(crate) key: ReceiptKey,
    /// Set once the queue is deleted (late operations answer QueueDoesNotExist).
    pub(crate) deleted: bool,
    /// Time of the last purge, epoch ms.
    pub(crate) last_purge_ms: Option<u64>,
    /// Bumped by every purge (sends in flight across a purge are dropped).
    pub(crate) purge_epoch: u64,
    /// The messages.
    pub(crate) messages: Messages,
    /// FIFO state and group interning.
    pub(crate) fifo: FifoState,
}

impl Queue {
    /// A queue from its durable state.
    pub(crate) fn new(meta: QueueState, meta_pos: RecordPos, region: &str, secret: &str) -> Queue {
        let fifo = meta.name.ends_with(".fifo");
        let arn = format!("arn:aws:sqs:{region}:{}:{}", meta.account, meta.name);
        let reference = QueueRef {
            account: meta.account.clone(),
            name: meta.name.clone(),
        };
        let key = meta
            .attributes
            .get(RECEIPT_KEY_ATTRIBUTE)
            .and_then(|k| ReceiptKey::from_hex(k))
            .unwrap_or_else(ReceiptKey::random)
            .with_secret(secret);
        let inner = QueueInner {
            settings: Settings::from_attributes(&meta.attributes),
            meta,
            meta_pos,
            key,
            deleted: false,
            last_purge_ms: None,
            purge_epoch: 0,
            messages: Messages::new(fifo),
            fifo: FifoState::default(),
        };
        Queue {
            id: inner.meta.queue_id,
            reference,
            fifo,
            arn,
            state: Mutex::new(inner),
            notify: Notify::new(),
            counters: Counters::default(),
        }
    }

    /// Locks the queue state (a poisoned lock is recovered: state changes are
    /// made so that a panic cannot leave them half-done in a harmful way).
    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueInner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gauges and counters.
    pub(crate) fn gauges(&self, now_ms: u64) -> QueueGauges {
        let (counts, oldest) = {
            let inner = self.lock();
            (inner.messages.counts(), inner.messages.oldest_sent_ms())
        };
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        QueueGauges {
            queue: self.reference.clone(),
            visible: counts.visible,
            not_visible: counts.in_flight,
            delayed: counts.delayed,
            oldest_message_age_seconds: oldest.map_or(0, |s| now_ms.saturating_sub(s) / 1000),
            sent_total: get(&c.sent),
            sent_bytes_total: get(&c.sent_bytes),
            received_total: get(&c.received),
            deleted_total: get(&c.deleted),
            empty_receives_total: get(&c.empty_receives),
            dead_lettered_total: get(&c.dead_lettered),
            moved_by_tasks_total: get(&c.moved_by_tasks),
            deduplicated_total: get(&c.deduplicated),
        }
    }
}

impl QueueInner {
    /// Replaces the durable state (after an upsert).
    pub(crate) fn set_meta(&mut self, meta: QueueState, pos: RecordPos) {
        self.settings = Settings::from_attributes(&meta.attributes);
        self.meta = meta;
        self.meta_pos = pos;
    }

    /// Attributes as GetQueueAttributes shows them (all of them).
    pub(crate) fn all_attributes(&self, arn: &str, fifo: bool) -> BTreeMap<String, String> {
        let mut out = attributes::effective(&self.meta.attributes, fifo);
        let counts = self.messages.counts();
        out.insert(
            "ApproximateNumberOfMessages".into(),
            counts.visible.to_string(),
        );
        out.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            counts.in_flight.to_string(),
        );
        out.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            counts.delayed.to_string(),
        );
        out.insert(
            "CreatedTimestamp".into(),
            (self.meta.created_ms / 1000).to_string(),
        );
        out.insert(
            "LastModifiedTimestamp".into(),
            (self.meta.last_modified_ms / 1000).to_string(),
        );
        out.insert("QueueArn".into(), arn.to_string());
        out
    }

    /// Positions to release when `msg` is gone for good (delete, purge,
    /// expiry, move): its state record, and its message record unless a FIFO
    /// dedup entry keeps it.
    pub(crate) fn release_list(&mut self, msg: &Msg, now_ms: u64) -> Vec<RecordPos> {
        let mut out = Vec::with_capacity(2);
        if msg.state_pos != NO_POS {
            out.push(msg.state_pos);
        }
        if !self.fifo.hold_if_deduplicating(&msg.id, msg.pos, now_ms) {
            out.push(msg.pos);
        }
        out
    }
}

/// Locks `a` and, if given and different, `b`, always in queue-id order (no
/// deadlock between two queues that are each other's dead-letter queue).
pub(crate) fn lock_pair<'a>(
    a: &'a Queue,
    b: Option<&'a Queue>,
) -> (
    MutexGuard<'a, QueueInner>,
    Option<MutexGuard<'a, QueueInner>>,
) {
    match b {
        Some(b) if b.id != a.id => {
            if a.id < b.id {
                let first = a.lock();
                let second = b.lock();
                (first, Some(second))
            } else {
                let second = b.lock();
                let first = a.lock();
                (first, Some(second))
            }
        }
        _ => (a.lock(), None),
    }
}

/// Reads the stored message at `pos` (a MessageSent or MessageMoved record).
pub(crate) fn read_message(
    storage: &storage::Storage,
    pos: RecordPos,
) -> Result<storage::StoredMessage, crate::EngineError> {
    match storage.read(pos)? {
        storage::Record::MessageSent(m) => Ok(m),
        storage::Record::MessageMoved { message, .. } => Ok(message),
        _ => Err(crate::EngineError::Storage(
            storage::StorageError::BadPosition {
                segment: pos.segment,
                offset: pos.offset,
            },
        )),
    }
}
