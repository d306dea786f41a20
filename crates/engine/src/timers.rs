//! Time-driven work: the pure per-queue `run_due(now)` (delays, visibility
//! expiry, retention, dedup windows) and the background loop that calls it
//! every `sweep_interval_ms`, steps move tasks and compacts the log.

use std::sync::Arc;
use std::time::Duration;

use crate::limits::QUEUE_DELETED_RECENTLY_MS;
use crate::queue::{Queue, QueueInner};
use crate::shared::Shared;

/// Runs the timers of a locked queue at `now`; returns true when something
/// became visible (long polls are notified here).
pub(crate) fn run_due_locked(
    shared: &Shared,
    queue: &Queue,
    inner: &mut QueueInner,
    now: u64,
) -> bool {
    let (visible, expired) = inner.messages.run_due(now, inner.settings.retention_ms);
    let mut release = Vec::new();
    for msg in expired {
        release.extend(inner.release_list(&msg, now));
    }
    release.extend(inner.fifo.expire(now));
    shared.release(&release);
    if visible {
        queue.notify.notify_waiters();
    }
    visible
}

/// Runs the timers of one queue.
pub(crate) fn run_due_queue(shared: &Shared, queue: &Queue, now: u64) -> bool {
    let mut inner = queue.lock();
    if inner.deleted {
        return false;
    }
    run_due_locked(shared, queue, &mut inner, now)
}

/// Runs the timers of every queue.
pub(crate) fn sweep(shared: &Shared) {
    let now = shared.now();
    for queue in shared.registry.all() {
        run_due_queue(shared, &queue, now);
    }
    shared
        .registry
        .forget_deleted_before(now.saturating_sub(QUEUE_DELETED_RECENTLY_MS));
}

/// Sweeps between compaction passes.
const SWEEPS_PER_COMPACTION: u64 = 50;

/// The background loop (until `shutdown`).
pub(crate) async fn run_background(shared: Arc<Shared>) {
    let period = Duration::from_millis(shared.config.sweep_interval_ms.max(1));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round: u64 = 0;
    loop {
        let stop = shared.stop_notify.notified();
        tokio::pin!(stop);
        stop.as_mut().enable();
        if shared.stopping() {
            return;
        }
        tokio::select! {
            _ = interval.tick() => {}
            () = &mut stop => return,
        }
        sweep(&shared);
        if let Err(error) = crate::redrive::step_tasks(&shared).await {
            tracing::warn!(%error, "message move task step failed");
        }
        round += 1;
        if round.is_multiple_of(SWEEPS_PER_COMPACTION) {
            if let Err(error) = crate::compaction::compact(&shared).await {
                tracing::warn!(%error, "compaction failed");
            }
        }
    }
}
