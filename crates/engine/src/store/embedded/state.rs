//! The embedded store's state (what every operation shares) and the small
//! helpers they all use. The operations live in the sibling modules, the
//! [`QueueStore`](crate::store::QueueStore) implementation that names them
//! in `embedded.rs`.

use std::sync::{Arc, Mutex, RwLock};

use storage::{RecordPos, Storage};

use super::messages::NO_POS;
use super::queue::{read_message, Queue};
use super::registry::Registry;
use super::task_list::MoveTasks;
use crate::store::{MessageId, QueueId, StoreError, Waker};

/// The embedded store. Share it behind an `Arc` (the engine holds it as an
/// `Arc<dyn QueueStore>`).
pub struct EmbeddedStore {
    /// The log.
    pub(super) storage: Storage,
    /// Region of the queue ARNs (a dead-lettered message names its source
    /// queue by ARN; a move task back to the source resolves it).
    pub(super) region: String,
    /// Queues.
    pub(super) registry: Registry,
    /// Message move tasks.
    pub(super) tasks: Mutex<MoveTasks>,
    /// Serialises queue creation and deletion (not on the message path).
    pub(super) admin: tokio::sync::Mutex<()>,
    /// Called when messages may have become receivable.
    pub(super) waker: RwLock<Option<Waker>>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Calls the waker for `queue_id`.
    pub(super) fn wake(&self, queue_id: QueueId) {
        let waker = self.waker.read().unwrap_or_else(|e| e.into_inner());
        if let Some(waker) = waker.as_ref() {
            waker(queue_id);
        }
    }

    /// The live queue with this id, or [`StoreError::QueueGone`].
    pub(super) fn live(&self, queue_id: QueueId) -> Result<Arc<Queue>, StoreError> {
        self.registry.by_id(queue_id).ok_or(StoreError::QueueGone)
    }

    /// Pins the segment of `ticket`'s append for `ended`: message records
    /// that append ended but that may stay live (held for FIFO
    /// deduplication), so the ending record cannot be reclaimed first.
    pub(super) fn pin_ended(&self, ended: &[RecordPos], ticket: &storage::Ticket) {
        if let Some(&by) = ticket.positions.first() {
            for &pos in ended {
                if pos != NO_POS {
                    self.storage.pin(pos, by);
                }
            }
        }
    }

    /// Releases record positions now (no superseding record).
    pub(super) fn release(&self, positions: &[RecordPos]) {
        for &pos in positions {
            self.storage.release(pos, None);
        }
    }

    /// Reads message `id`'s record at `pos`, outside any queue lock. When
    /// the read fails or finds another record (compaction moved the
    /// message meanwhile and its old segment was reclaimed), looks the
    /// message up again once. `None` when the message is gone.
    pub(super) fn read_current(
        &self,
        queue: &Queue,
        id: &MessageId,
        pos: RecordPos,
    ) -> Result<Option<storage::StoredMessage>, StoreError> {
        let first = read_message(&self.storage, pos);
        if let Ok(record) = &first {
            if record.message_id == *id {
                return first.map(Some);
            }
        }
        let current = {
            let inner = queue.lock();
            inner
                .messages
                .slot_of(id)
                .and_then(|slot| inner.messages.get(slot))
                .map(|m| m.pos)
        };
        match current {
            None => Ok(None),
            Some(moved_to) if moved_to != pos => read_message(&self.storage, moved_to).map(Some),
            Some(_) => match first {
                Err(e) => Err(e),
                Ok(_) => Err(StoreError::Storage(storage::StorageError::BadPosition {
                    segment: pos.segment,
                    offset: pos.offset,
                })),
            },
        }
    }
}
