//! What the front and the stores share about message move tasks: the task
//! handle (SQS forms it as base64 of `{"taskId":…,"sourceArn":…}`), the
//! status names, and the failure reason of a task whose queue was deleted.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::store::MoveTaskStatus;

/// The failure reason recorded when a task's source or destination queue
/// was deleted (shown as the QueueDoesNotExist error code).
pub(crate) const QUEUE_GONE: &str = "QueueDoesNotExist";

/// The same failure in SQS's words (what a store may record instead).
pub(crate) const QUEUE_GONE_SQS: &str = "AWS.SimpleQueueService.NonExistentQueue";

/// The handle of task `task_id` of `source_arn`.
pub(crate) fn encode_handle(task_id: &str, source_arn: &str) -> String {
    let json = serde_json::json!({"taskId": task_id, "sourceArn": source_arn});
    STANDARD.encode(json.to_string())
}

/// `(task id, source ARN)` of a handle, if it is one (a handle is
/// tamper-evident only together with the lookup of that task of that source).
pub(crate) fn decode_handle(handle: &str) -> Option<(String, String)> {
    let bytes = STANDARD.decode(handle).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let task_id = value.get("taskId")?.as_str()?.to_string();
    let source = value.get("sourceArn")?.as_str()?.to_string();
    Some((task_id, source))
}

/// A status as SQS names it (and the embedded log records it).
pub(crate) fn status_name(status: MoveTaskStatus) -> &'static str {
    match status {
        MoveTaskStatus::Running => "RUNNING",
        MoveTaskStatus::Completed => "COMPLETED",
        MoveTaskStatus::Cancelling => "CANCELLING",
        MoveTaskStatus::Cancelled => "CANCELLED",
        MoveTaskStatus::Failed => "FAILED",
    }
}

/// A status from its name (anything unknown is a failure).
pub(crate) fn status_of(name: &str) -> MoveTaskStatus {
    match name {
        "RUNNING" => MoveTaskStatus::Running,
        "COMPLETED" => MoveTaskStatus::Completed,
        "CANCELLING" => MoveTaskStatus::Cancelling,
        "CANCELLED" => MoveTaskStatus::Cancelled,
        _ => MoveTaskStatus::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_garbage_is_refused() {
        let handle = encode_handle("t-1", "arn:aws:sqs:us-east-1:000000000000:dlq");
        assert_eq!(
            decode_handle(&handle),
            Some((
                "t-1".to_string(),
                "arn:aws:sqs:us-east-1:000000000000:dlq".to_string()
            ))
        );
        assert_eq!(decode_handle("not base64!"), None);
        assert_eq!(decode_handle(&STANDARD.encode("{\"taskId\":1}")), None);
    }
}
