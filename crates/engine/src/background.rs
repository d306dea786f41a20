//! Background work: the loop that, every `sweep_interval_ms`, lets the
//! store run its timers (delays, visibility expiry, retention, dedup
//! windows), steps every running message move task, and every
//! [`ROUNDS_PER_MAINTENANCE`] rounds lets the store do its upkeep
//! (compaction). Sweeps and task steps run under the store's leases, so on
//! several nodes each runs once.

use std::sync::Arc;
use std::time::Duration;

use crate::front::{Counters, Front};
use crate::limits::{MOVES_PER_STEP_MAX, MOVE_TASK_RATE_DEFAULT};
use crate::move_task::QUEUE_GONE;
use crate::store::{MoveDestination, MoveTask, MoveTaskStatus, StoreError};
use crate::EngineError;

/// Sweeps between two maintenance (compaction) passes.
const ROUNDS_PER_MAINTENANCE: u64 = 50;

/// Lease of the sweep (one node sweeps at a time).
const SWEEP_LEASE: &str = "sweep";
/// Lease of the move-task steps.
const TASKS_LEASE: &str = "move-tasks";

/// The background loop (until `shutdown`).
pub(crate) async fn run(front: Arc<Front>) {
    let period = Duration::from_millis(front.config.sweep_interval_ms.max(1));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round: u64 = 0;
    loop {
        let stop = front.stop_notify.notified();
        tokio::pin!(stop);
        stop.as_mut().enable();
        if front.stopping() {
            return;
        }
        tokio::select! {
            _ = interval.tick() => {}
            () = &mut stop => return,
        }
        round += 1;
        let now = front.now();
        if let Err(error) = sweep(&front, now).await {
            tracing::warn!(%error, "sweep failed");
        }
        if let Err(error) = step_tasks(&front, now).await {
            tracing::warn!(%error, "message move task step failed");
        }
        if round.is_multiple_of(ROUNDS_PER_MAINTENANCE) {
            if let Err(error) = front.store.maintain().await {
                tracing::warn!(%error, "compaction failed");
            }
        }
    }
}

/// One background round now, every part of it (tests drive time with a
/// `ManualClock` and call this instead of waiting for the loop).
pub(crate) async fn round(front: &Front) -> Result<(), EngineError> {
    let now = front.now();
    sweep(front, now).await?;
    step_tasks(front, now).await?;
    front.store.maintain().await?;
    Ok(())
}

/// How long a lease taken by a round lasts.
fn lease_ms(front: &Front) -> u64 {
    front.config.sweep_interval_ms.saturating_mul(10).max(1000)
}

/// The store's timers, if this node holds the sweep lease.
async fn sweep(front: &Front, now: u64) -> Result<(), EngineError> {
    if front
        .store
        .lease(SWEEP_LEASE, &front.node, lease_ms(front), now)
        .await?
    {
        front.store.sweep(now).await?;
    }
    Ok(())
}

/// One step of every running task, if this node holds the tasks lease.
async fn step_tasks(front: &Front, now: u64) -> Result<(), EngineError> {
    if !front
        .store
        .lease(TASKS_LEASE, &front.node, lease_ms(front), now)
        .await?
    {
        return Ok(());
    }
    let running: Vec<MoveTask> = front
        .store
        .move_tasks(None)
        .await?
        .into_iter()
        .filter(|t| t.status == MoveTaskStatus::Running)
        .collect();
    for task in running {
        step_task(front, task, now).await?;
    }
    Ok(())
}

/// Moves what the task's rate allows now (at most [`MOVES_PER_STEP_MAX`]).
async fn step_task(front: &Front, task: MoveTask, now: u64) -> Result<(), EngineError> {
    let Some(source) = front.queue_by_arn(&task.source_arn).await? else {
        return finish(
            front,
            &task,
            MoveTaskStatus::Failed,
            Some(QUEUE_GONE.into()),
        )
        .await;
    };
    let rate = u64::from(
        task.max_messages_per_second
            .unwrap_or(MOVE_TASK_RATE_DEFAULT),
    );
    // Pacing is cumulative from the start time.
    let allowed_total = now.saturating_sub(task.started_ms).saturating_mul(rate) / 1000 + 1;
    let budget = allowed_total
        .saturating_sub(task.moved)
        .min(MOVES_PER_STEP_MAX);
    if budget == 0 {
        return Ok(());
    }
    let destination = match &task.destination_arn {
        None => MoveDestination::OriginalSource,
        Some(arn) => match front.queue_by_arn(arn).await? {
            Some(queue) => MoveDestination::Queue(queue.ctx().clone()),
            None => {
                return finish(
                    front,
                    &task,
                    MoveTaskStatus::Failed,
                    Some(QUEUE_GONE.into()),
                )
                .await
            }
        },
    };
    let step = match front
        .store
        .move_messages(
            &task.task_id,
            source.ctx(),
            &destination,
            usize::try_from(budget).unwrap_or(usize::MAX),
            now,
        )
        .await
    {
        Ok(step) => step,
        // A retryable failure: the next step tries again.
        Err(error @ StoreError::Unavailable(_)) => return Err(error.into()),
        Err(error) => {
            let reason = EngineError::from(error).to_string();
            return finish(front, &task, MoveTaskStatus::Failed, Some(reason)).await;
        }
    };
    Counters::add(&source.counters().moved_by_tasks, step.moved);
    if let Some(reason) = step.failure {
        finish(front, &task, MoveTaskStatus::Failed, Some(reason)).await
    } else if step.source_drained {
        finish(front, &task, MoveTaskStatus::Completed, None).await
    } else {
        Ok(())
    }
}

/// Ends a running task (its progress as the store has it now).
async fn finish(
    front: &Front,
    task: &MoveTask,
    status: MoveTaskStatus,
    reason: Option<String>,
) -> Result<(), EngineError> {
    let current = front
        .store
        .move_tasks(Some(&task.source_arn))
        .await?
        .into_iter()
        .find(|t| t.task_id == task.task_id);
    let Some(mut current) = current else {
        return Ok(());
    };
    if current.status != MoveTaskStatus::Running {
        return Ok(());
    }
    current.status = status;
    current.failure_reason = reason;
    front
        .store
        .update_move_task(current, MoveTaskStatus::Running)
        .await?;
    Ok(())
}
