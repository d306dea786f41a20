//! Message move tasks: StartMessageMoveTask, CancelMessageMoveTask and
//! ListMessageMoveTasks. The store keeps the tasks and moves the messages
//! (the background loop steps running tasks: `background.rs`); dead-letter
//! moves on receive are the store's part of a receive.

use crate::front::Front;
use crate::limits::*;
use crate::move_task::{decode_handle, encode_handle, status_name, QUEUE_GONE, QUEUE_GONE_SQS};
use crate::store::{MoveTask, MoveTaskStatus};
use crate::types::{Caller, MoveTaskFailure, MoveTaskInfo};
use crate::{validate, EngineError};

fn not_found(what: &str) -> EngineError {
    EngineError::ResourceNotFound(format!(
        "The resource that you specified for the {what} parameter doesn't exist."
    ))
}

/// A stored failure reason as ListMessageMoveTasks reports it.
fn failure(reason: &str) -> MoveTaskFailure {
    if reason == QUEUE_GONE || reason == QUEUE_GONE_SQS {
        MoveTaskFailure::QueueDoesNotExist
    } else {
        MoveTaskFailure::Other(reason.to_string())
    }
}

/// StartMessageMoveTask.
pub(crate) async fn start_task(
    front: &Front,
    caller: &Caller,
    source_arn: &str,
    destination_arn: Option<&str>,
    rate: Option<i64>,
) -> Result<String, EngineError> {
    let rate = rate
        .map(|r| validate::int_range("MaxNumberOfMessagesPerSecond", r, 1, MOVE_TASK_RATE_MAX))
        .transpose()?
        .map(|r| r as u32);
    let source = front
        .queue_by_arn(source_arn)
        .await?
        .ok_or_else(|| not_found("SourceArn"))?;
    front.check_access(caller, &source, "StartMessageMoveTask")?;
    let is_dead_letter_queue = front
        .dead_letter_sources(source.arn())
        .await?
        .iter()
        .any(|q| q.ctx().queue_id != source.ctx().queue_id);
    if !is_dead_letter_queue {
        return Err(EngineError::InvalidParameterValue(
            "Source queue must be configured as a Dead Letter Queue.".into(),
        ));
    }
    if let Some(arn) = destination_arn {
        let destination = front
            .queue_by_arn(arn)
            .await?
            .ok_or_else(|| not_found("DestinationArn"))?;
        front.check_access(caller, &destination, "SendMessage")?;
        if destination.ctx().queue_id == source.ctx().queue_id {
            return Err(EngineError::InvalidParameterValue(
                "Source queue and destination queue must be different.".into(),
            ));
        }
        if destination.fifo() != source.fifo() {
            return Err(EngineError::InvalidParameterValue(
                "The destination queue must be the same type as the source queue (FIFO or standard).".into(),
            ));
        }
    }
    let now = front.now();
    let counts = front.store.counts(source.ctx(), now).await?;
    let task = MoveTask {
        task_id: uuid::Uuid::new_v4().to_string(),
        source_arn: source.arn().to_string(),
        destination_arn: destination_arn.map(str::to_string),
        max_messages_per_second: rate,
        status: MoveTaskStatus::Running,
        moved: 0,
        to_move: counts.visible + counts.in_flight + counts.delayed,
        failure_reason: None,
        started_ms: now,
    };
    let handle = encode_handle(&task.task_id, &task.source_arn);
    if !front.store.start_move_task(task).await? {
        return Err(EngineError::InvalidParameterValue(
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.".into(),
        ));
    }
    Ok(handle)
}

/// CancelMessageMoveTask.
pub(crate) async fn cancel_task(
    front: &Front,
    caller: &Caller,
    handle: &str,
) -> Result<u64, EngineError> {
    let Some((task_id, source_arn)) = decode_handle(handle) else {
        return Err(EngineError::InvalidParameterValue(
            "Value for parameter TaskHandle is invalid.".into(),
        ));
    };
    let running = front
        .store
        .move_tasks(Some(&source_arn))
        .await?
        .into_iter()
        .find(|t| t.task_id == task_id && t.status == MoveTaskStatus::Running);
    let Some(mut task) = running else {
        return Err(EngineError::ResourceNotFound("Task does not exist.".into()));
    };
    if let Some(source) = front.queue_by_arn(&task.source_arn).await? {
        front.check_access(caller, &source, "CancelMessageMoveTask")?;
    }
    task.status = MoveTaskStatus::Cancelled;
    let moved = task.moved;
    if !front
        .store
        .update_move_task(task, MoveTaskStatus::Running)
        .await?
    {
        // It finished or was cancelled meanwhile.
        return Err(EngineError::ResourceNotFound("Task does not exist.".into()));
    }
    Ok(moved)
}

/// ListMessageMoveTasks.
pub(crate) async fn list_tasks(
    front: &Front,
    caller: &Caller,
    source_arn: &str,
    max_results: Option<i64>,
) -> Result<Vec<MoveTaskInfo>, EngineError> {
    let source = front
        .queue_by_arn(source_arn)
        .await?
        .ok_or_else(|| not_found("SourceArn"))?;
    front.check_access(caller, &source, "ListMessageMoveTasks")?;
    let max = validate::int_range(
        "MaxResults",
        max_results.unwrap_or(1),
        1,
        MOVE_TASKS_LISTED_MAX,
    )? as usize;
    let tasks = front.store.move_tasks(Some(source.arn())).await?;
    Ok(tasks
        .into_iter()
        .take(max)
        .map(|t| MoveTaskInfo {
            task_handle: (t.status == MoveTaskStatus::Running)
                .then(|| encode_handle(&t.task_id, &t.source_arn)),
            status: status_name(t.status).to_string(),
            approximate_number_of_messages_moved: t.moved,
            approximate_number_of_messages_to_move: Some(t.to_move),
            failure_reason: t.failure_reason.as_deref().map(failure),
            started_timestamp_ms: t.started_ms,
            max_number_of_messages_per_second: t.max_messages_per_second,
            destination_arn: t.destination_arn,
            source_arn: t.source_arn,
        })
        .collect())
}
