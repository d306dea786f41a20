//! Message move tasks (dead-letter redrive): start, cancel, list.

use super::Ctx;
use crate::error::{move_task_failure_reason, SqsError};
use crate::protocol::{Out, Params};

pub(super) async fn start(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let source = p.required_str("SourceArn")?;
    let destination = p.str("DestinationArn")?;
    let rate = p.int("MaxNumberOfMessagesPerSecond")?;
    let handle = ctx
        .engine
        .start_message_move_task(&ctx.caller, &source, destination.as_deref(), rate)
        .await?;
    Ok(Out::object().with("TaskHandle", Out::Str(handle)))
}

pub(super) async fn cancel(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let handle = p.required_str("TaskHandle")?;
    let moved = ctx
        .engine
        .cancel_message_move_task(&ctx.caller, &handle)
        .await?;
    Ok(Out::object().with(
        "ApproximateNumberOfMessagesMoved",
        Out::Int(i64::try_from(moved).unwrap_or(i64::MAX)),
    ))
}

pub(super) async fn list(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let source = p.required_str("SourceArn")?;
    let max = p.int("MaxResults")?;
    let tasks = ctx
        .engine
        .list_message_move_tasks(&ctx.caller, &source, max)
        .await?;
    let to_int = |n: u64| Out::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let results = tasks
        .into_iter()
        .map(|t| {
            Out::object()
                .opt("TaskHandle", t.task_handle.map(Out::Str))
                .with("Status", Out::Str(t.status))
                .with("SourceArn", Out::Str(t.source_arn))
                .opt("DestinationArn", t.destination_arn.map(Out::Str))
                .opt(
                    "MaxNumberOfMessagesPerSecond",
                    t.max_number_of_messages_per_second
                        .map(|n| Out::Int(i64::from(n))),
                )
                .with(
                    "ApproximateNumberOfMessagesMoved",
                    to_int(t.approximate_number_of_messages_moved),
                )
                .opt(
                    "ApproximateNumberOfMessagesToMove",
                    t.approximate_number_of_messages_to_move.map(to_int),
                )
                .opt(
                    "FailureReason",
                    t.failure_reason
                        .as_ref()
                        .map(|f| Out::Str(move_task_failure_reason(f))),
                )
                .with("StartedTimestamp", to_int(t.started_timestamp_ms))
        })
        .collect();
    Ok(Out::object().with_xml(
        "Results",
        "ListMessageMoveTasksResultEntry",
        Out::List(results),
    ))
}
