//! `Queue`: one queue incarnation of the embedded store — identity and its
//! own lock around [`QueueInner`] (never held across `.await`, never held
//! while reading the disk).

use std::sync::{Mutex, MutexGuard};

use storage::{QueueState, RecordPos};

use super::fifo::FifoState;
use super::messages::{Messages, Msg, NewMsg, NO_POS};
use super::records;
use crate::attributes::Settings;
use crate::store::{QueueId, QueueRecord, StoreError};

/// One queue incarnation.
#[derive(Debug)]
pub(super) struct Queue {
    /// Stable id.
    pub(super) id: QueueId,
    /// Owner account.
    pub(super) account: String,
    /// Name.
    pub(super) name: String,
    /// FIFO queue?
    pub(super) fifo: bool,
    /// Mutable state.
    state: Mutex<QueueInner>,
}

/// A queue's mutable state.
#[derive(Debug)]
pub(super) struct QueueInner {
    /// Durable definition: attributes, tags, timestamps.
    pub(super) meta: QueueState,
    /// Position of the latest QueueUpserted record.
    pub(super) meta_pos: RecordPos,
    /// Compare-and-set token of the definition (bumped by every change).
    pub(super) version: u64,
    /// MessageRetentionPeriod, ms (parsed from `meta`).
    pub(super) retention_ms: u64,
    /// DeduplicationScope = messageGroup (parsed from `meta`).
    pub(super) dedup_per_group: bool,
    /// Set once the queue is deleted (late operations find it gone).
    pub(super) deleted: bool,
    /// Time of the last purge, epoch ms.
    pub(super) last_purge_ms: Option<u64>,
    /// The messages.
    pub(super) messages: Messages,
    /// FIFO state and group interning.
    pub(super) fifo: FifoState,
}

impl Queue {
    /// A queue from its durable state.
    pub(super) fn new(meta: QueueState, meta_pos: RecordPos) -> Queue {
        let fifo = meta.name.ends_with(".fifo");
        let mut inner = QueueInner {
            meta,
            meta_pos,
            version: 1,
            retention_ms: 0,
            dedup_per_group: false,
            deleted: false,
            last_purge_ms: None,
            messages: Messages::new(fifo),
            fifo: FifoState::default(),
        };
        inner.parse_meta();
        Queue {
            id: inner.meta.queue_id,
            account: inner.meta.account.clone(),
            name: inner.meta.name.clone(),
            fifo,
            state: Mutex::new(inner),
        }
    }

    /// Locks the queue state (a poisoned lock is recovered: state changes are
    /// made so that a panic cannot leave them half-done in a harmful way).
    pub(super) fn lock(&self) -> MutexGuard<'_, QueueInner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the queue unless it was deleted ([`StoreError::QueueGone`]).
    pub(super) fn lock_live(&self) -> Result<MutexGuard<'_, QueueInner>, StoreError> {
        let inner = self.lock();
        if inner.deleted {
            return Err(StoreError::QueueGone);
        }
        Ok(inner)
    }

    /// The definition and its version; `None` once deleted.
    pub(super) fn record(&self) -> Option<QueueRecord> {
        let inner = self.lock();
        (!inner.deleted).then(|| inner.record())
    }
}

impl QueueInner {
    /// The definition and its version.
    pub(super) fn record(&self) -> QueueRecord {
        QueueRecord {
            def: records::queue_def(&self.meta),
            version: self.version,
        }
    }

    /// Replaces the durable state (after an upsert).
    pub(super) fn set_meta(&mut self, meta: QueueState, pos: RecordPos) {
        self.meta = meta;
        self.meta_pos = pos;
        self.version += 1;
        self.parse_meta();
    }

    /// The attribute values the store acts on.
    fn parse_meta(&mut self) {
        let settings = Settings::from_attributes(&self.meta.attributes);
        self.retention_ms = settings.retention_ms;
        self.dedup_per_group = settings.dedup_per_group;
    }

    /// Positions to release when `msg` is gone for good (delete, purge,
    /// expiry, move): its state record, and its message record unless a FIFO
    /// dedup entry keeps it.
    pub(super) fn release_list(&mut self, msg: &Msg, now_ms: u64) -> Vec<RecordPos> {
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

/// The delivery state a moved message has in its new queue.
pub(super) struct Arrival {
    /// Its new source ARN (dead-letter moves), or none (task moves).
    pub(super) dead_letter_source_arn: Option<String>,
    /// ApproximateReceiveCount.
    pub(super) receive_count: u32,
    /// First receive, epoch ms (0 = never).
    pub(super) first_receive_ms: u64,
    /// Delivery epoch.
    pub(super) epoch: u32,
}

impl Queue {
    /// Makes `record` (a message moving in) this queue's: its group, its
    /// ordering key (FIFO: a new sequence number), its delivery state,
    /// visible now. Returns its index entry, to insert as pending once the
    /// record's position is known. The caller holds this queue's lock.
    pub(super) fn arrive(
        &self,
        inner: &mut QueueInner,
        record: &mut storage::StoredMessage,
        arrival: Arrival,
        now: u64,
    ) -> NewMsg {
        let group = record
            .group_id
            .as_deref()
            .map(|g| inner.fifo.intern(g))
            .unwrap_or(0);
        let order = inner.fifo.next_sequence(now);
        record.queue_id = self.id;
        record.dead_letter_source_arn = arrival.dead_letter_source_arn;
        record.visible_at_ms = now;
        record.receive_count = arrival.receive_count;
        record.first_receive_ms = arrival.first_receive_ms;
        record.receipt_epoch = arrival.epoch;
        if self.fifo {
            record.sequence_number = Some(u128::from(order));
        }
        NewMsg {
            id: record.message_id,
            pos: NO_POS,
            state_pos: NO_POS,
            order,
            sent_ms: record.sent_ms,
            visible_at_ms: now,
            first_receive_ms: arrival.first_receive_ms,
            receive_count: arrival.receive_count,
            epoch: arrival.epoch,
            group,
        }
    }
}

/// Locks `a` and, if given and different, `b`, always in queue-id order (no
/// deadlock between two queues that are each other's dead-letter queue).
pub(super) fn lock_pair<'a>(
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
/// Never called with a queue lock held.
pub(super) fn read_message(
    storage: &storage::Storage,
    pos: RecordPos,
) -> Result<storage::StoredMessage, StoreError> {
    match storage.read(pos)? {
        storage::Record::MessageSent(m) => Ok(m),
        storage::Record::MessageMoved { message, .. } => Ok(message),
        _ => Err(StoreError::Storage(storage::StorageError::BadPosition {
            segment: pos.segment,
            offset: pos.offset,
        })),
    }
}
