//! The store's types ↔ `storage` records (the log keeps its own schema, so
//! that old logs replay unchanged).

use storage::{MoveTaskState, QueueState};

use super::messages::Msg;
use crate::move_task;
use crate::store::{MoveTask, QueueDef, StoredMessage};

/// A queue's durable state as a definition.
pub(super) fn queue_def(meta: &QueueState) -> QueueDef {
    QueueDef {
        queue_id: meta.queue_id,
        account: meta.account.clone(),
        name: meta.name.clone(),
        attributes: meta.attributes.clone(),
        tags: meta.tags.clone(),
        created_ms: meta.created_ms,
        last_modified_ms: meta.last_modified_ms,
    }
}

/// A definition as the queue's durable state.
pub(super) fn queue_state(def: QueueDef) -> QueueState {
    QueueState {
        queue_id: def.queue_id,
        account: def.account,
        name: def.name,
        attributes: def.attributes,
        tags: def.tags,
        created_ms: def.created_ms,
        last_modified_ms: def.last_modified_ms,
    }
}

/// The message read from its record, with its current delivery state from
/// the index (the record's copy of that state may be older). The record's
/// body and attributes are moved, not copied.
pub(super) fn stored_message(
    record: storage::StoredMessage,
    msg: &Msg,
    received_at_ms: u64,
) -> StoredMessage {
    StoredMessage {
        message_id: msg.id,
        body: record.body,
        attributes: record.attributes,
        trace_header: record.trace_header,
        sender_id: record.sender_id,
        sent_ms: record.sent_ms,
        group_id: record.group_id,
        dedup_id: record.dedup_id,
        sequence_number: record.sequence_number,
        dead_letter_source_arn: record.dead_letter_source_arn,
        receive_count: msg.receive_count,
        first_receive_ms: msg.first_receive_ms(),
        epoch: msg.epoch,
        visible_at_ms: msg.visible_at_ms,
        received_at_ms,
    }
}

/// A task as the log records it (the log keeps the whole task handle).
pub(super) fn task_state(task: &MoveTask) -> MoveTaskState {
    MoveTaskState {
        task_handle: move_task::encode_handle(&task.task_id, &task.source_arn),
        source_arn: task.source_arn.clone(),
        destination_arn: task.destination_arn.clone(),
        max_messages_per_second: task.max_messages_per_second,
        status: move_task::status_name(task.status).to_string(),
        moved: task.moved,
        to_move: task.to_move,
        failure_reason: task.failure_reason.clone(),
        started_ms: task.started_ms,
    }
}

/// A task from its log record.
pub(super) fn task(state: MoveTaskState) -> MoveTask {
    let task_id = move_task::decode_handle(&state.task_handle)
        .map(|(id, _)| id)
        .unwrap_or_else(|| state.task_handle.clone());
    MoveTask {
        task_id,
        source_arn: state.source_arn,
        destination_arn: state.destination_arn,
        max_messages_per_second: state.max_messages_per_second,
        status: move_task::status_of(&state.status),
        moved: state.moved,
        to_move: state.to_move,
        failure_reason: state.failure_reason,
        started_ms: state.started_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MoveTaskStatus;

    #[test]
    fn tasks_round_trip_through_their_log_record() {
        for status in [
            MoveTaskStatus::Running,
            MoveTaskStatus::Completed,
            MoveTaskStatus::Cancelling,
            MoveTaskStatus::Cancelled,
            MoveTaskStatus::Failed,
        ] {
            let original = MoveTask {
                task_id: "5bd1c1a2-0d0b-4a53-9a2b-111111111111".into(),
                source_arn: "arn:aws:sqs:us-east-1:000000000000:dlq".into(),
                destination_arn: Some("arn:aws:sqs:us-east-1:000000000000:q".into()),
                max_messages_per_second: Some(7),
                status,
                moved: 3,
                to_move: 9,
                failure_reason: None,
                started_ms: 42,
            };
            let state = task_state(&original);
            assert_eq!(
                move_task::decode_handle(&state.task_handle),
                Some((original.task_id.clone(), original.source_arn.clone()))
            );
            assert_eq!(task(state), original);
        }
    }
}
