//! Opening the engine: rebuild every queue, message, dedup entry and move
//! task from `Storage::replay`, releasing every record that a later one
//! superseded or ended (so liveness after a restart equals liveness before),
//! then apply time: expire what passed retention while the server was down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use storage::{
    MessageId, QueueId, Record, RecordKind, RecordPos, Storage, StorageError, StoredMessage,
};

use super::fifo::{dedup_expiry, DedupEntry, QUEUE_SCOPE};
use super::messages::{Msg, NewMsg, NO_POS};
use super::queue::{Queue, QueueInner};
use super::registry::Registry;
use super::state::EmbeddedStore;
use super::task_list::MoveTasks;
use crate::attributes::LAST_PURGE_ATTRIBUTE;
use crate::store::StoreError;

struct Replayer<'a> {
    storage: &'a Storage,
    queues: HashMap<QueueId, Arc<Queue>>,
    registry: &'a Registry,
    tasks: MoveTasks,
    counter: u64,
}

impl Replayer<'_> {
    fn release(&self, old: RecordPos, by: RecordPos) {
        if old != NO_POS {
            self.storage.release(old, Some(by));
        }
    }

    fn insert_message(
        &mut self,
        inner: &mut QueueInner,
        fifo: bool,
        message: &StoredMessage,
        pos: RecordPos,
    ) {
        self.counter += 1;
        let group = message
            .group_id
            .as_deref()
            .map(|g| inner.fifo.intern(g))
            .unwrap_or(0);
        let order = match message.sequence_number {
            Some(seq) if fifo => u64::try_from(seq).unwrap_or(u64::MAX),
            _ => (message.sent_ms << 20) | (self.counter & 0xF_FFFF),
        };
        inner.fifo.saw_sequence(order);
        if let Some(slot) = inner.messages.slot_of(&message.message_id) {
            // A relocation (compaction) or a move back: the latest copy wins.
            if let Some(m) = inner.messages.get_mut(slot) {
                let (old_pos, old_state) = (m.pos, m.state_pos);
                m.pos = pos;
                m.state_pos = NO_POS;
                m.visible_at_ms = message.visible_at_ms;
                m.receive_count = message.receive_count;
                m.set_first_receive_ms(message.first_receive_ms);
                m.epoch = message.receipt_epoch;
                self.release(old_pos, pos);
                self.release(old_state, pos);
            }
        } else {
            inner.messages.insert_raw(NewMsg {
                id: message.message_id,
                pos,
                state_pos: NO_POS,
                order,
                sent_ms: message.sent_ms,
                visible_at_ms: message.visible_at_ms,
                first_receive_ms: message.first_receive_ms,
                receive_count: message.receive_count,
                epoch: message.receipt_epoch,
                group,
            });
        }
        if let Some(dedup_id) = &message.dedup_id {
            let scope = if inner.dedup_per_group {
                group
            } else {
                QUEUE_SCOPE
            };
            if inner.fifo.dedup_find(group, dedup_id, 0).is_none() {
                inner.fifo.dedup_insert(
                    scope,
                    dedup_id.clone(),
                    DedupEntry {
                        message_id: message.message_id,
                        sequence: order,
                        expires_ms: dedup_expiry(message.sent_ms),
                        held: None,
                    },
                );
            }
        }
    }

    /// Removes a message at replay time, releasing its records (a FIFO
    /// message's record stays live while its dedup entry needs it).
    fn remove_message(&mut self, inner: &mut QueueInner, slot: u32, by: RecordPos, now: u64) {
        if let Some(m) = inner.messages.remove(slot) {
            // A held record stays live: `by` must still outlive it.
            if m.pos != NO_POS {
                self.storage.pin(m.pos, by);
            }
            for old in inner.release_list(&m, now) {
                self.release(old, by);
            }
        }
    }

    /// A delivery-state record at `pos` (a receive, a visibility change):
    /// `update` applies it to its message, whose previous state record it
    /// supersedes; the record of a message or queue that is gone is dead at
    /// once.
    fn update_state(
        &self,
        pos: RecordPos,
        queue_id: QueueId,
        message_id: &MessageId,
        update: impl FnOnce(&mut Msg),
    ) {
        let Some(queue) = self.queues.get(&queue_id).cloned() else {
            return self.storage.release(pos, None);
        };
        let mut inner = queue.lock();
        let Some(m) = inner
            .messages
            .slot_of(message_id)
            .and_then(|s| inner.messages.get_mut(s))
        else {
            drop(inner);
            return self.storage.release(pos, None);
        };
        let old = m.state_pos;
        m.state_pos = pos;
        update(m);
        drop(inner);
        self.release(old, pos);
    }

    fn apply(&mut self, pos: RecordPos, record: Record, now: u64) {
        match record {
            Record::QueueUpserted(meta) => {
                self.registry.saw_id(meta.queue_id);
                let purged_ms = meta
                    .attributes
                    .get(LAST_PURGE_ATTRIBUTE)
                    .and_then(|v| v.parse::<u64>().ok());
                if let Some(queue) = self.queues.get(&meta.queue_id) {
                    let mut inner = queue.lock();
                    let old = inner.meta_pos;
                    inner.set_meta(meta, pos);
                    inner.last_purge_ms = inner.last_purge_ms.max(purged_ms);
                    drop(inner);
                    self.release(old, pos);
                } else {
                    let queue = Arc::new(Queue::new(meta, pos));
                    queue.lock().last_purge_ms = purged_ms;
                    self.queues.insert(queue.id, queue);
                }
            }
            Record::QueueDeleted {
                queue_id,
                account,
                name,
                at_ms,
            } => {
                self.registry.saw_id(queue_id);
                if let Some(queue) = self.queues.remove(&queue_id) {
                    let mut inner = queue.lock();
                    self.release(inner.meta_pos, pos);
                    for m in inner.messages.clear() {
                        self.release(m.pos, pos);
                        self.release(m.state_pos, pos);
                    }
                    for held in inner.fifo.held_positions() {
                        self.release(held, pos);
                    }
                }
                self.registry.note_deleted(account, name, at_ms);
            }
            Record::QueuePurged { queue_id, at_ms } => {
                if let Some(queue) = self.queues.get(&queue_id).cloned() {
                    let mut inner = queue.lock();
                    // A purge also ends every deduplication window.
                    for held in inner.fifo.clear_dedup() {
                        self.release(held, pos);
                    }
                    let slots: Vec<u32> = inner.messages.iter().map(|(slot, _)| slot).collect();
                    for slot in slots {
                        self.remove_message(&mut inner, slot, pos, now);
                    }
                    inner.last_purge_ms = inner.last_purge_ms.max(Some(at_ms));
                }
            }
            Record::MessageSent(message) => match self.queues.get(&message.queue_id).cloned() {
                Some(queue) => {
                    let mut inner = queue.lock();
                    self.insert_message(&mut inner, queue.fifo, &message, pos);
                }
                None => self.storage.release(pos, None),
            },
            Record::MessageReceived {
                queue_id,
                message_id,
                receipt_epoch,
                visible_at_ms,
                receive_count,
                first_receive_ms,
            } => self.update_state(pos, queue_id, &message_id, |m| {
                m.epoch = receipt_epoch;
                m.visible_at_ms = visible_at_ms;
                m.receive_count = receive_count;
                m.set_first_receive_ms(first_receive_ms);
            }),
            Record::VisibilityChanged {
                queue_id,
                message_id,
                visible_at_ms,
            } => self.update_state(pos, queue_id, &message_id, |m| {
                m.visible_at_ms = visible_at_ms;
            }),
            Record::MessageDeleted {
                queue_id,
                message_id,
            } => {
                if let Some(queue) = self.queues.get(&queue_id).cloned() {
                    let mut inner = queue.lock();
                    if let Some(slot) = inner.messages.slot_of(&message_id) {
                        self.remove_message(&mut inner, slot, pos, now);
                    }
                }
            }
            Record::MessageMoved {
                from_queue,
                message,
                task_handle: _,
            } => {
                if let Some(queue) = self.queues.get(&from_queue).cloned() {
                    let mut inner = queue.lock();
                    if let Some(slot) = inner.messages.slot_of(&message.message_id) {
                        self.remove_message(&mut inner, slot, pos, now);
                    }
                }
                match self.queues.get(&message.queue_id).cloned() {
                    Some(queue) => {
                        let mut inner = queue.lock();
                        self.insert_message(&mut inner, queue.fifo, &message, pos);
                    }
                    None => self.storage.release(pos, None),
                }
            }
            Record::MoveTaskUpdated(state) => {
                if let Some(old) = self.tasks.upsert(state, pos) {
                    self.release(old, pos);
                }
            }
        }
    }
}

/// Records that create, change or delete a queue (replayed in the first pass).
fn is_queue_record(kind: RecordKind) -> bool {
    matches!(kind, RecordKind::QueueUpserted | RecordKind::QueueDeleted)
}

/// Replays `storage` and builds the store's state at `now`.
pub(super) fn open(storage: Storage, region: &str, now: u64) -> Result<EmbeddedStore, StoreError> {
    let registry = Registry::default();
    let (queues, tasks) = {
        let mut replayer = Replayer {
            storage: &storage,
            queues: HashMap::new(),
            registry: &registry,
            tasks: MoveTasks::default(),
            counter: 0,
        };
        // Two passes: compaction and SetQueueAttributes move a queue's live
        // `QueueUpserted` past its older messages (and the segment with the
        // original upsert may be reclaimed), so every queue must be known
        // before any message record is applied.
        // Each pass decodes only its own records (the others are passed over
        // by their frame header): the first pass reads no message body.
        storage.replay_kinds(&is_queue_record, &mut |pos,
                                                      record|
         -> Result<(), StorageError> {
            replayer.apply(pos, record, now);
            Ok(())
        })?;
        storage.replay_kinds(&|kind| !is_queue_record(kind), &mut |pos,
                                                                    record|
         -> Result<
            (),
            StorageError,
        > {
            replayer.apply(pos, record, now);
            Ok(())
        })?;
        (replayer.queues, replayer.tasks)
    };
    let store = EmbeddedStore {
        storage,
        region: region.to_string(),
        registry,
        tasks: Mutex::new(tasks),
        admin: tokio::sync::Mutex::new(()),
        waker: RwLock::new(None),
    };
    for queue in queues.into_values() {
        queue.lock().messages.rebuild(now);
        store.registry.insert(queue.clone());
        store.run_due_queue(&queue, now);
    }
    Ok(store)
}
