//! Time-driven changes of the embedded store: the per-queue `run_due(now)`
//! (delays, visibility expiry, retention, dedup windows, receive attempts)
//! and the sweep over every queue. Retention expiry and dedup-window ends
//! are not logged: replay recomputes them from the time it runs at.

use super::queue::{Queue, QueueInner};
use super::state::EmbeddedStore;
use crate::limits::QUEUE_DELETED_RECENTLY_MS;

impl EmbeddedStore {
    /// Runs the timers of a locked queue at `now`; true when something
    /// became visible (the caller wakes the queue).
    pub(super) fn run_due_locked(&self, inner: &mut QueueInner, now: u64) -> bool {
        let (visible, expired) = inner.messages.run_due(now, inner.retention_ms);
        let mut release = Vec::new();
        for msg in expired {
            release.extend(inner.release_list(&msg, now));
        }
        release.extend(inner.fifo.expire(now));
        self.release(&release);
        visible
    }

    /// Runs the timers of one queue and wakes it when something became visible.
    pub(super) fn run_due_queue(&self, queue: &Queue, now: u64) {
        let visible = {
            let mut inner = queue.lock();
            if inner.deleted {
                return;
            }
            self.run_due_locked(&mut inner, now)
        };
        if visible {
            self.wake(queue.id);
        }
    }
}

/// Runs the timers of every queue; forgets deletions older than the
/// recreate guard.
pub(super) fn sweep(store: &EmbeddedStore, now: u64) {
    for queue in store.registry.all() {
        store.run_due_queue(&queue, now);
    }
    store
        .registry
        .forget_deleted_before(now.saturating_sub(QUEUE_DELETED_RECENTLY_MS));
}
