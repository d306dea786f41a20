//! Actions: decoded request members ([`Params`]) → one `Engine` call →
//! response members ([`Out`]). No wire format is visible here beyond member
//! names; no SQS error code is named here.

mod messages;
pub(crate) mod move_tasks;
mod queues;

use engine::{BatchFailure, Caller, Engine, QueueRef};

use crate::error::SqsError;
use crate::protocol::{Action, Out, Params};
use crate::queue_url::{self, UrlBase};

/// Everything an action needs besides its parameters.
pub(crate) struct Ctx<'a> {
    /// The engine.
    pub(crate) engine: &'a Engine,
    /// The authenticated caller.
    pub(crate) caller: Caller,
    /// How to build queue URLs for this request.
    pub(crate) base: UrlBase,
    /// The request path when a Query request was POSTed to a queue URL.
    pub(crate) path_queue_url: Option<String>,
    /// The `X-Amzn-Trace-Id` header: sent messages get it as their
    /// `AWSTraceHeader` unless they set one themselves.
    pub(crate) trace_header: Option<String>,
}

impl Ctx<'_> {
    /// The queue named by `QueueUrl` (or by the request path for Query
    /// requests sent to a queue URL). Records it on the request span.
    pub(crate) fn queue(&self, params: &Params<'_>) -> Result<QueueRef, SqsError> {
        let url = match params.str("QueueUrl")? {
            Some(url) => url,
            None => self
                .path_queue_url
                .clone()
                .ok_or_else(|| SqsError::missing("QueueUrl"))?,
        };
        let queue = queue_url::parse(&url, &self.caller.account)?;
        tracing::Span::current().record("queue", queue.name.as_str());
        Ok(queue)
    }

    /// The URL of `queue` for this request.
    pub(crate) fn url(&self, queue: &QueueRef) -> String {
        self.base.url(queue)
    }
}

/// Runs one action.
pub(crate) async fn dispatch(
    ctx: &Ctx<'_>,
    action: Action,
    params: Params<'_>,
) -> Result<Out, SqsError> {
    match action {
        Action::CreateQueue => queues::create_queue(ctx, params).await,
        Action::GetQueueUrl => queues::get_queue_url(ctx, params).await,
        Action::ListQueues => queues::list_queues(ctx, params).await,
        Action::DeleteQueue => queues::delete_queue(ctx, params).await,
        Action::PurgeQueue => queues::purge_queue(ctx, params).await,
        Action::GetQueueAttributes => queues::get_queue_attributes(ctx, params).await,
        Action::SetQueueAttributes => queues::set_queue_attributes(ctx, params).await,
        Action::ListQueueTags => queues::list_queue_tags(ctx, params).await,
        Action::TagQueue => queues::tag_queue(ctx, params).await,
        Action::UntagQueue => queues::untag_queue(ctx, params).await,
        Action::AddPermission => queues::add_permission(ctx, params).await,
        Action::RemovePermission => queues::remove_permission(ctx, params).await,
        Action::ListDeadLetterSourceQueues => {
            queues::list_dead_letter_source_queues(ctx, params).await
        }
        Action::SendMessage => messages::send_message(ctx, params).await,
        Action::SendMessageBatch => messages::send_message_batch(ctx, params).await,
        Action::ReceiveMessage => messages::receive_message(ctx, params).await,
        Action::DeleteMessage => messages::delete_message(ctx, params).await,
        Action::DeleteMessageBatch => messages::delete_message_batch(ctx, params).await,
        Action::ChangeMessageVisibility => messages::change_message_visibility(ctx, params).await,
        Action::ChangeMessageVisibilityBatch => {
            messages::change_message_visibility_batch(ctx, params).await
        }
        Action::StartMessageMoveTask => move_tasks::start(ctx, params).await,
        Action::CancelMessageMoveTask => move_tasks::cancel(ctx, params).await,
        Action::ListMessageMoveTasks => move_tasks::list(ctx, params).await,
    }
}

/// `Failed[]` of a batch response (XML `BatchResultErrorEntry`).
pub(crate) fn failed_entries(failed: Vec<BatchFailure>) -> Out {
    Out::List(
        failed
            .into_iter()
            .map(|f| {
                let code = crate::error::engine_code(&f.error);
                Out::object()
                    .with("Id", Out::Str(f.id))
                    .with("SenderFault", Out::Bool(code.sender_fault))
                    .with("Code", Out::str(code.legacy))
                    .with(
                        "Message",
                        Out::Str(SqsError::from(f.error).client_message()),
                    )
            })
            .collect(),
    )
}

/// A list of queue URLs.
pub(crate) fn url_list(ctx: &Ctx<'_>, queues: &[QueueRef]) -> Out {
    Out::List(queues.iter().map(|q| Out::Str(ctx.url(q))).collect())
}
