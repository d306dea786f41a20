//! Message move tasks of the embedded store: their durable state (one
//! `MoveTaskUpdated` record per change) and the moves, one `MessageMoved`
//! and the task's progress in the same append per message (never lost,
//! never in both queues). A task interrupted by a restart resumes: its last
//! record says RUNNING.

use std::sync::Arc;

use storage::{Append, Record};

use super::messages::{NewMsg, NO_POS};
use super::queue::{lock_pair, Arrival, Queue};
use super::records::task_state;
use super::state::EmbeddedStore;
use super::task_list::{MoveTasks, TaskEntry};
use crate::attributes::parse_arn;
use crate::limits::MOVE_TASKS_LISTED_MAX;
use crate::move_task::QUEUE_GONE;
use crate::store::{
    MessageId, MoveDestination, MoveStep, MoveTask, MoveTaskStatus, QueueCtx, StoreError,
};

impl EmbeddedStore {
    fn lock_tasks(&self) -> std::sync::MutexGuard<'_, MoveTasks> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Records a new RUNNING task unless its source has one running; keeps the
/// 10 most recent tasks per source.
pub(super) async fn start(store: &EmbeddedStore, new: MoveTask) -> Result<bool, StoreError> {
    let ticket = {
        let mut tasks = store.lock_tasks();
        if tasks.tasks.iter().any(|t| {
            t.task.source_arn == new.source_arn && t.task.status == MoveTaskStatus::Running
        }) {
            return Ok(false);
        }
        let keep = usize::try_from(MOVE_TASKS_LISTED_MAX).unwrap_or(10) - 1;
        let release = tasks.prune(&new.source_arn, keep);
        let ticket = store.storage.submit(Append {
            records: vec![Record::MoveTaskUpdated(task_state(&new))],
            release,
        })?;
        let pos = ticket.positions.first().copied().unwrap_or(NO_POS);
        tasks.tasks.push(TaskEntry { task: new, pos });
        ticket
    };
    ticket.wait().await?;
    Ok(true)
}

/// Replaces a task's state if its status is still `expected` (under the
/// tasks lock, so log order = state order).
pub(super) async fn update(
    store: &EmbeddedStore,
    new: MoveTask,
    expected: MoveTaskStatus,
) -> Result<bool, StoreError> {
    let ticket = {
        let mut tasks = store.lock_tasks();
        let Some(entry) = tasks.get_mut(&new.task_id) else {
            return Ok(false);
        };
        if entry.task.status != expected {
            return Ok(false);
        }
        let ticket = store.storage.submit(Append {
            records: vec![Record::MoveTaskUpdated(task_state(&new))],
            release: vec![entry.pos],
        })?;
        entry.pos = ticket.positions.first().copied().unwrap_or(NO_POS);
        entry.task = new;
        ticket
    };
    ticket.wait().await?;
    Ok(true)
}

/// Tasks of a source (every source when `None`), most recent first.
pub(super) fn list(store: &EmbeddedStore, source_arn: Option<&str>) -> Vec<MoveTask> {
    let tasks = store.lock_tasks();
    let mut list: Vec<MoveTask> = tasks
        .tasks
        .iter()
        .filter(|t| source_arn.is_none_or(|s| t.task.source_arn == s))
        .map(|t| t.task.clone())
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.started_ms));
    list
}

/// Result of trying to move one message.
enum MoveOne {
    Moved,
    /// The source has no visible message.
    Nothing,
    /// Something changed meanwhile (message taken, task cancelled): stop
    /// this step, the next one tries again.
    Retry,
    /// The task cannot go on.
    Failed(String),
}

/// Moves up to `max` visible messages of `source` for the RUNNING task
/// `task_id`, one append (move + progress) per message.
pub(super) async fn move_messages(
    store: &EmbeddedStore,
    task_id: &str,
    source: &QueueCtx,
    destination: &MoveDestination,
    max: usize,
    now: u64,
) -> Result<MoveStep, StoreError> {
    let mut step = MoveStep {
        moved: 0,
        source_drained: false,
        failure: None,
    };
    let Some(source) = store.registry.by_id(source.queue_id) else {
        step.failure = Some(QUEUE_GONE.into());
        return Ok(step);
    };
    for _ in 0..max {
        match move_one(store, task_id, &source, destination, now).await? {
            MoveOne::Moved => step.moved += 1,
            MoveOne::Retry => break,
            MoveOne::Nothing => {
                step.source_drained = true;
                break;
            }
            MoveOne::Failed(reason) => {
                step.failure = Some(reason);
                break;
            }
        }
    }
    Ok(step)
}

/// The queue a message goes to.
fn resolve_destination(
    store: &EmbeddedStore,
    destination: &MoveDestination,
    record: &storage::StoredMessage,
) -> Result<Arc<Queue>, String> {
    let found = match destination {
        MoveDestination::Queue(ctx) => store.registry.by_id(ctx.queue_id),
        MoveDestination::OriginalSource => {
            let Some(arn) = record.dead_letter_source_arn.as_deref() else {
                return Err("The message records no source queue to return to.".into());
            };
            parse_arn(arn)
                .filter(|(region, _, _)| *region == store.region)
                .and_then(|(_, account, name)| store.registry.get(account, name))
        }
    };
    found.ok_or_else(|| QUEUE_GONE.to_string())
}

/// Moves one visible message of `source`: picks it (queue locked), reads
/// its record (unlocked), then moves it if it is still there and still
/// visible (both queues locked, in queue-id order).
async fn move_one(
    store: &EmbeddedStore,
    task_id: &str,
    source: &Arc<Queue>,
    destination: &MoveDestination,
    now: u64,
) -> Result<MoveOne, StoreError> {
    let picked = {
        let mut src = source.lock();
        if src.deleted {
            return Ok(MoveOne::Failed(QUEUE_GONE.into()));
        }
        let woke = store.run_due_locked(&mut src, now);
        let picked = src.messages.pick(1);
        src.messages.unpick(&picked);
        let found = picked
            .first()
            .and_then(|&slot| src.messages.get(slot).map(|m| (slot, m.id, m.pos)));
        drop(src);
        if woke {
            store.wake(source.id);
        }
        found
    };
    let Some((slot, id, pos)) = picked else {
        return Ok(MoveOne::Nothing);
    };
    let Some(record) = store.read_current(source, &id, pos)? else {
        return Ok(MoveOne::Retry);
    };
    let destination = match resolve_destination(store, destination, &record) {
        Ok(queue) => queue,
        Err(reason) => return Ok(MoveOne::Failed(reason)),
    };
    if destination.id == source.id || destination.fifo != source.fifo {
        return Ok(MoveOne::Failed(
            "The destination queue is the source queue or of another type.".into(),
        ));
    }
    commit_move(store, task_id, source, &destination, slot, id, record, now).await
}

/// Moves the picked message if it is still there and visible.
#[expect(
    clippy::too_many_arguments,
    reason = "one step of a move: every argument is a different fact"
)]
async fn commit_move(
    store: &EmbeddedStore,
    task_id: &str,
    source: &Arc<Queue>,
    destination: &Arc<Queue>,
    slot: u32,
    id: MessageId,
    mut record: storage::StoredMessage,
    now: u64,
) -> Result<MoveOne, StoreError> {
    let (ticket, inserted) = {
        let (mut src, dst) = lock_pair(source, Some(destination));
        let Some(mut dst) = dst else {
            return Ok(MoveOne::Retry);
        };
        let still_there = src.messages.slot_of(&id) == Some(slot)
            && src.messages.get(slot).is_some_and(|m| m.available());
        if !still_there || dst.deleted || src.deleted {
            return Ok(MoveOne::Retry);
        }
        let mut tasks = store.lock_tasks();
        let Some(entry) = tasks
            .get_mut(task_id)
            .filter(|t| t.task.status == MoveTaskStatus::Running)
        else {
            return Ok(MoveOne::Retry); // cancelled meanwhile
        };
        let Some(m) = src.messages.remove(slot) else {
            return Ok(MoveOne::Retry);
        };
        let mut release = src.release_list(&m, now);
        // A new epoch: a handle from before the move (when it moves back to
        // the queue that delivered it) is from an earlier delivery (E1).
        let arrival = Arrival {
            dead_letter_source_arn: None,
            receive_count: 0,
            first_receive_ms: 0,
            epoch: m.epoch.wrapping_add(1),
        };
        let new = destination.arrive(&mut dst, &mut record, arrival, now);
        let mut progress = entry.task.clone();
        progress.moved += 1;
        release.push(entry.pos);
        let records = vec![
            Record::MessageMoved {
                from_queue: source.id,
                message: record,
                task_handle: Some(crate::move_task::encode_handle(
                    task_id,
                    &progress.source_arn,
                )),
            },
            Record::MoveTaskUpdated(task_state(&progress)),
        ];
        let ticket = store.storage.submit(Append { records, release })?;
        store.pin_ended(&[m.pos], &ticket);
        let (message_pos, task_pos) = (
            ticket.positions.first().copied().unwrap_or(NO_POS),
            ticket.positions.get(1).copied().unwrap_or(NO_POS),
        );
        entry.task = progress;
        entry.pos = task_pos;
        drop(tasks);
        let new_slot = dst.messages.insert_pending(
            NewMsg {
                pos: message_pos,
                ..new
            },
            now,
        );
        (ticket, new_slot)
    };
    ticket.wait().await?;
    let visible = destination.lock().messages.finish_pending(inserted, &id);
    if visible {
        store.wake(destination.id);
    }
    Ok(MoveOne::Moved)
}
