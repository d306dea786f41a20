//! Message move tasks (StartMessageMoveTask, CancelMessageMoveTask,
//! ListMessageMoveTasks) and the background step that moves messages out of
//! a dead-letter queue, one `MessageMoved` + `MoveTaskUpdated` append per
//! message (never lost, never in both queues).
//!
//! A task interrupted by a restart RESUMES: its last `MoveTaskUpdated`
//! record says RUNNING, so replay restores it and the background step
//! continues where the log says it stopped. Dead-letter moves on receive
//! live in `receive.rs`.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use storage::{Append, MoveTaskState, Record, RecordPos};

use crate::api::{Caller, MoveTaskFailure, MoveTaskInfo};
use crate::limits::*;
use crate::messages::{NewMsg, NO_POS};
use crate::queue::{lock_pair, read_message, Counters, Queue};
use crate::shared::Shared;
use crate::{validate, EngineError};

/// Status names.
const RUNNING: &str = "RUNNING";
const COMPLETED: &str = "COMPLETED";
const CANCELLED: &str = "CANCELLED";
const FAILED: &str = "FAILED";

/// Most messages one task moves in one background step.
const MOVES_PER_STEP_MAX: u64 = 100;

/// The stored failure reason of a task whose source or destination queue
/// was deleted ([`MoveTaskFailure::QueueDoesNotExist`]).
const QUEUE_GONE: &str = "QueueDoesNotExist";

/// A task handle as SQS forms it: base64 of `{"taskId":…,"sourceArn":…}`.
fn encode_handle(task_id: &str, source_arn: &str) -> String {
    let json = serde_json::json!({"taskId": task_id, "sourceArn": source_arn});
    STANDARD.encode(json.to_string())
}

/// The source ARN a task handle names, if it is one (it is tamper-evident
/// only together with the lookup of a task of that source by this handle).
fn handle_source(handle: &str) -> Option<String> {
    let bytes = STANDARD.decode(handle).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("taskId")?.as_str()?;
    Some(value.get("sourceArn")?.as_str()?.to_string())
}

fn failure(reason: &str) -> MoveTaskFailure {
    if reason == QUEUE_GONE {
        MoveTaskFailure::QueueDoesNotExist
    } else {
        MoveTaskFailure::Other(reason.to_string())
    }
}

/// One task and the position of its latest record.
#[derive(Debug, Clone)]
pub(crate) struct MoveTask {
    /// Durable state.
    pub(crate) state: MoveTaskState,
    /// Its latest MoveTaskUpdated record.
    pub(crate) pos: RecordPos,
}

/// All known tasks (≤ 10 per source queue).
#[derive(Debug, Default)]
pub(crate) struct MoveTasks {
    /// Tasks, oldest first.
    pub(crate) tasks: Vec<MoveTask>,
}

impl MoveTasks {
    /// Replay or update: the latest state of a task; returns the superseded position.
    pub(crate) fn upsert(&mut self, state: MoveTaskState, pos: RecordPos) -> Option<RecordPos> {
        if let Some(task) = self
            .tasks
            .iter_mut()
            .find(|t| t.state.task_handle == state.task_handle)
        {
            let old = task.pos;
            task.state = state;
            task.pos = pos;
            return Some(old);
        }
        self.tasks.push(MoveTask { state, pos });
        None
    }

    /// Drops finished tasks of `source` beyond the newest `keep`; returns their positions.
    fn prune(&mut self, source: &str, keep: usize) -> Vec<RecordPos> {
        let count = self
            .tasks
            .iter()
            .filter(|t| t.state.source_arn == source)
            .count();
        let mut excess = count.saturating_sub(keep);
        let mut released = Vec::new();
        self.tasks.retain(|t| {
            if excess > 0 && t.state.source_arn == source && t.state.status != RUNNING {
                excess -= 1;
                released.push(t.pos);
                false
            } else {
                true
            }
        });
        released
    }

    fn get_mut(&mut self, handle: &str) -> Option<&mut MoveTask> {
        self.tasks
            .iter_mut()
            .find(|t| t.state.task_handle == handle)
    }
}

fn not_found(what: &str) -> EngineError {
    EngineError::ResourceNotFound(format!(
        "The resource that you specified for the {what} parameter doesn't exist."
    ))
}

fn is_dead_letter_queue(shared: &Shared, queue: &Queue) -> bool {
    shared
        .registry
        .all()
        .iter()
        .filter(|q| q.id != queue.id)
        .any(|q| {
            q.lock()
                .settings
                .redrive
                .as_ref()
                .is_some_and(|r| r.target_arn == queue.arn)
        })
}

/// Writes a task's new state (under the tasks lock, so log order = state order).
async fn save(
    shared: &Shared,
    state: MoveTaskState,
    extra_release: Vec<RecordPos>,
) -> Result<(), EngineError> {
    let ticket = {
        let mut tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let old = tasks
            .tasks
            .iter()
            .find(|t| t.state.task_handle == state.task_handle)
            .map(|t| t.pos);
        let mut release = extra_release;
        release.extend(old);
        let ticket = shared.storage.submit(Append {
            records: vec![Record::MoveTaskUpdated(state.clone())],
            release,
        })?;
        let pos = ticket.positions.first().copied().unwrap_or(NO_POS);
        tasks.upsert(state, pos);
        ticket
    };
    ticket.wait().await?;
    Ok(())
}

/// StartMessageMoveTask.
pub(crate) async fn start_task(
    shared: &Shared,
    caller: &Caller,
    source_arn: &str,
    destination_arn: Option<&str>,
    rate: Option<i64>,
) -> Result<String, EngineError> {
    let rate = rate
        .map(|r| validate::int_range("MaxNumberOfMessagesPerSecond", r, 1, MOVE_TASK_RATE_MAX))
        .transpose()?
        .map(|r| r as u32);
    let source = shared
        .queue_by_arn(source_arn)
        .ok_or_else(|| not_found("SourceArn"))?;
    shared.check_access(caller, &source, "StartMessageMoveTask")?;
    if !is_dead_letter_queue(shared, &source) {
        return Err(EngineError::InvalidParameterValue(
            "Source queue must be configured as a Dead Letter Queue.".into(),
        ));
    }
    if let Some(arn) = destination_arn {
        let destination = shared
            .queue_by_arn(arn)
            .ok_or_else(|| not_found("DestinationArn"))?;
        shared.check_access(caller, &destination, "SendMessage")?;
        if destination.id == source.id {
            return Err(EngineError::InvalidParameterValue(
                "Source queue and destination queue must be different.".into(),
            ));
        }
        if destination.fifo != source.fifo {
            return Err(EngineError::InvalidParameterValue(
                "The destination queue must be the same type as the source queue (FIFO or standard).".into(),
            ));
        }
    }
    let to_move = source.lock().messages.len() as u64;
    let state = {
        let tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if tasks
            .tasks
            .iter()
            .any(|t| t.state.source_arn == source.arn && t.state.status == RUNNING)
        {
            return Err(EngineError::InvalidParameterValue(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.".into(),
            ));
        }
        MoveTaskState {
            task_handle: encode_handle(&uuid::Uuid::new_v4().to_string(), &source.arn),
            source_arn: source.arn.clone(),
            destination_arn: destination_arn.map(str::to_string),
            max_messages_per_second: rate,
            status: RUNNING.into(),
            moved: 0,
            to_move,
            failure_reason: None,
            started_ms: shared.now(),
        }
    };
    let handle = state.task_handle.clone();
    let pruned = {
        let mut tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.prune(&source.arn, MOVE_TASKS_LISTED_MAX as usize - 1)
    };
    save(shared, state, pruned).await?;
    Ok(handle)
}

/// CancelMessageMoveTask.
pub(crate) async fn cancel_task(
    shared: &Shared,
    caller: &Caller,
    handle: &str,
) -> Result<u64, EngineError> {
    let Some(source_arn) = handle_source(handle) else {
        return Err(EngineError::InvalidParameterValue(
            "Value for parameter TaskHandle is invalid.".into(),
        ));
    };
    let state = {
        let tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks
            .tasks
            .iter()
            .find(|t| {
                t.state.task_handle == handle
                    && t.state.source_arn == source_arn
                    && t.state.status == RUNNING
            })
            .map(|t| t.state.clone())
    };
    let Some(mut state) = state else {
        return Err(EngineError::ResourceNotFound("Task does not exist.".into()));
    };
    if let Some(source) = shared.queue_by_arn(&state.source_arn) {
        shared.check_access(caller, &source, "CancelMessageMoveTask")?;
    }
    state.status = CANCELLED.into();
    let moved = state.moved;
    save(shared, state, vec![]).await?;
    Ok(moved)
}

/// ListMessageMoveTasks.
pub(crate) fn list_tasks(
    shared: &Shared,
    caller: &Caller,
    source_arn: &str,
    max_results: Option<i64>,
) -> Result<Vec<MoveTaskInfo>, EngineError> {
    let source = shared
        .queue_by_arn(source_arn)
        .ok_or_else(|| not_found("SourceArn"))?;
    shared.check_access(caller, &source, "ListMessageMoveTasks")?;
    let max = validate::int_range(
        "MaxResults",
        max_results.unwrap_or(1),
        1,
        MOVE_TASKS_LISTED_MAX,
    )? as usize;
    let tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
    let mut list: Vec<&MoveTask> = tasks
        .tasks
        .iter()
        .filter(|t| t.state.source_arn == source.arn)
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.state.started_ms));
    Ok(list
        .into_iter()
        .take(max)
        .map(|t| MoveTaskInfo {
            task_handle: (t.state.status == RUNNING).then(|| t.state.task_handle.clone()),
            status: t.state.status.clone(),
            source_arn: t.state.source_arn.clone(),
            destination_arn: t.state.destination_arn.clone(),
            max_number_of_messages_per_second: t.state.max_messages_per_second,
            approximate_number_of_messages_moved: t.state.moved,
            approximate_number_of_messages_to_move: Some(t.state.to_move),
            failure_reason: t.state.failure_reason.as_deref().map(failure),
            started_timestamp_ms: t.state.started_ms,
        })
        .collect())
}

/// Result of trying to move one message.
enum MoveOne {
    Moved,
    Nothing,
    Retry,
}

/// One background step of every running task.
pub(crate) async fn step_tasks(shared: &Shared) -> Result<(), EngineError> {
    let running: Vec<MoveTaskState> = {
        let tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks
            .tasks
            .iter()
            .filter(|t| t.state.status == RUNNING)
            .map(|t| t.state.clone())
            .collect()
    };
    for task in running {
        step_task(shared, task).await?;
    }
    Ok(())
}

async fn step_task(shared: &Shared, task: MoveTaskState) -> Result<(), EngineError> {
    let Some(source) = shared.queue_by_arn(&task.source_arn) else {
        return finish(shared, &task.task_handle, FAILED, Some(QUEUE_GONE.into())).await;
    };
    let now = shared.now();
    let rate = u64::from(
        task.max_messages_per_second
            .unwrap_or(MOVE_TASK_RATE_DEFAULT),
    );
    let allowed_total = now.saturating_sub(task.started_ms).saturating_mul(rate) / 1000 + 1;
    let budget = allowed_total
        .saturating_sub(task.moved)
        .min(MOVES_PER_STEP_MAX);
    for _ in 0..budget {
        match move_one(shared, &task, &source).await {
            Ok(MoveOne::Moved) => {}
            Ok(MoveOne::Retry) => return Ok(()),
            Ok(MoveOne::Nothing) => {
                return finish(shared, &task.task_handle, COMPLETED, None).await
            }
            Err(reason) => return finish(shared, &task.task_handle, FAILED, Some(reason)).await,
        }
    }
    Ok(())
}

async fn finish(
    shared: &Shared,
    handle: &str,
    status: &str,
    reason: Option<String>,
) -> Result<(), EngineError> {
    let state = {
        let tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks
            .tasks
            .iter()
            .find(|t| t.state.task_handle == handle)
            .map(|t| t.state.clone())
    };
    let Some(mut state) = state else {
        return Ok(());
    };
    if state.status != RUNNING {
        return Ok(());
    }
    state.status = status.to_string();
    state.failure_reason = reason;
    save(shared, state, vec![]).await
}

/// Moves one visible message of `source`. `Err` carries a failure reason for the task.
async fn move_one(
    shared: &Shared,
    task: &MoveTaskState,
    source: &Arc<Queue>,
) -> Result<MoveOne, String> {
    let peeked = {
        let mut src = source.lock();
        if src.deleted {
            return Err(QUEUE_GONE.into());
        }
        crate::timers::run_due_locked(shared, source, &mut src, shared.now());
        let picked = src.messages.pick(1);
        src.messages.unpick(&picked);
        match picked
            .first()
            .and_then(|&slot| src.messages.get(slot).map(|m| (slot, m.id, m.pos)))
        {
            None => None,
            Some((slot, id, pos)) => Some((
                slot,
                id,
                read_message(&shared.storage, pos).map_err(|e| e.to_string())?,
            )),
        }
    };
    let Some((slot, id, mut stored)) = peeked else {
        return Ok(MoveOne::Nothing);
    };
    let destination_arn = task
        .destination_arn
        .clone()
        .or_else(|| stored.dead_letter_source_arn.clone());
    let Some(destination) = destination_arn
        .as_deref()
        .and_then(|arn| shared.queue_by_arn(arn))
    else {
        return Err(match destination_arn {
            Some(_) => QUEUE_GONE.into(),
            None => "The message records no source queue to return to.".into(),
        });
    };
    if destination.id == source.id || destination.fifo != source.fifo {
        return Err("The destination queue is the source queue or of another type.".into());
    }
    let (ticket, inserted) = {
        let (mut src, dst) = lock_pair(source, Some(&destination));
        let Some(mut dst) = dst else {
            return Ok(MoveOne::Retry);
        };
        let now = shared.now();
        let still_there = src.messages.slot_of(&id) == Some(slot)
            && src.messages.get(slot).is_some_and(|m| m.available());
        if !still_there || dst.deleted {
            return Ok(MoveOne::Retry);
        }
        let mut tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = tasks
            .get_mut(&task.task_handle)
            .filter(|t| t.state.status == RUNNING)
        else {
            return Ok(MoveOne::Retry); // cancelled meanwhile
        };
        let Some(m) = src.messages.remove(slot) else {
            return Ok(MoveOne::Retry);
        };
        let mut release = src.release_list(&m, now);
        let group = stored
            .group_id
            .as_deref()
            .map(|g| dst.fifo.intern(g))
            .unwrap_or(0);
        let order = dst.fifo.next_sequence(now);
        stored.queue_id = destination.id;
        stored.dead_letter_source_arn = None;
        stored.visible_at_ms = now;
        stored.receive_count = 0;
        stored.first_receive_ms = 0;
        // A new epoch: a handle from before the move (when it moves back to
        // the queue that delivered it) is from an earlier delivery (E1).
        let epoch = m.epoch.wrapping_add(1);
        stored.receipt_epoch = epoch;
        if destination.fifo {
            stored.sequence_number = Some(u128::from(order));
        }
        let mut state = entry.state.clone();
        state.moved += 1;
        release.push(entry.pos);
        let records = vec![
            Record::MessageMoved {
                from_queue: source.id,
                message: stored,
                task_handle: Some(task.task_handle.clone()),
            },
            Record::MoveTaskUpdated(state.clone()),
        ];
        let ticket = shared
            .storage
            .submit(Append { records, release })
            .map_err(|e| e.to_string())?;
        shared.pin_ended(&[m.pos], &ticket);
        let (message_pos, task_pos) = (
            ticket.positions.first().copied().unwrap_or(NO_POS),
            ticket.positions.get(1).copied().unwrap_or(NO_POS),
        );
        entry.state = state;
        entry.pos = task_pos;
        drop(tasks);
        let new_slot = dst.messages.insert_pending(
            NewMsg {
                id,
                pos: message_pos,
                state_pos: NO_POS,
                order,
                sent_ms: m.sent_ms,
                visible_at_ms: now,
                first_receive_ms: 0,
                receive_count: 0,
                epoch,
                group,
            },
            now,
        );
        (ticket, new_slot)
    };
    ticket.wait().await.map_err(|e| e.to_string())?;
    let visible = destination.lock().messages.finish_pending(inserted, &id);
    if visible {
        destination.notify.notify_waiters();
    }
    Counters::add(&source.counters.moved_by_tasks, 1);
    Ok(MoveOne::Moved)
}
