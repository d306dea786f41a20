//! Message actions: send, receive, delete, change visibility (and batches).

use std::collections::{BTreeMap, HashMap};

use engine::{
    AttributeValue, DeleteEntry, ReceiveRequest, ReceivedMessage, SendEntry, SendResult,
    VisibilityEntry,
};

use super::{failed_entries, Ctx};
use crate::error::SqsError;
use crate::protocol::{Out, Params};

/// The system attribute the `X-Amzn-Trace-Id` header becomes.
const TRACE_HEADER: &str = "AWSTraceHeader";

/// One message to send, from SendMessage or a SendMessageBatch entry. The
/// request's `X-Amzn-Trace-Id` becomes its `AWSTraceHeader` unless the entry
/// sets that system attribute itself.
fn send_entry(ctx: &Ctx<'_>, p: &Params<'_>, id: String) -> Result<SendEntry, SqsError> {
    let mut system_attributes =
        p.attribute_map("MessageSystemAttributes", "MessageSystemAttribute")?;
    if let Some(trace) = &ctx.trace_header {
        system_attributes
            .entry(TRACE_HEADER.to_owned())
            .or_insert_with(|| AttributeValue {
                data_type: "String".to_owned(),
                value: trace.clone().into_bytes(),
            });
    }
    Ok(SendEntry {
        id,
        body: p.required_str("MessageBody")?,
        delay_seconds: p.int("DelaySeconds")?,
        attributes: p.attribute_map("MessageAttributes", "MessageAttribute")?,
        system_attributes,
        dedup_id: p.str("MessageDeduplicationId")?,
        group_id: p.str("MessageGroupId")?,
    })
}

/// Body + attribute bytes, as SQS counts a message's size.
fn message_size(entry: &SendEntry) -> usize {
    entry.body.len()
        + entry
            .attributes
            .iter()
            .map(|(name, v)| name.len() + v.data_type.len() + v.value.len())
            .sum::<usize>()
}

fn send_result(r: SendResult) -> Out {
    Out::object()
        .with("MD5OfMessageBody", Out::Str(r.md5_of_body))
        .opt(
            "MD5OfMessageAttributes",
            r.md5_of_message_attributes.map(Out::Str),
        )
        .opt(
            "MD5OfMessageSystemAttributes",
            r.md5_of_message_system_attributes.map(Out::Str),
        )
        .with("MessageId", Out::Str(r.message_id))
        .opt("SequenceNumber", r.sequence_number.map(Out::Str))
}

pub(super) async fn send_message(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let entry = send_entry(ctx, &p, String::new())?;
    let size = message_size(&entry);
    let result = ctx.engine.send_message(&ctx.caller, &queue, entry).await?;
    crate::metrics::record_sent_sizes(&queue.name, &queue.account, [size]);
    Ok(send_result(result))
}

pub(super) async fn send_message_batch(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let mut entries = Vec::new();
    for e in p.entries("Entries", "SendMessageBatchRequestEntry")? {
        let id = e.required_str("Id")?;
        entries.push(send_entry(ctx, &e, id)?);
    }
    let sizes: HashMap<String, usize> = entries
        .iter()
        .map(|e| (e.id.clone(), message_size(e)))
        .collect();
    let result = ctx
        .engine
        .send_message_batch(&ctx.caller, &queue, entries)
        .await?;
    crate::metrics::record_sent_sizes(
        &queue.name,
        &queue.account,
        result
            .successful
            .iter()
            .filter_map(|r| sizes.get(&r.id).copied()),
    );
    let successful = result
        .successful
        .into_iter()
        .map(|r| {
            let id = r.id.clone();
            match send_result(r) {
                Out::Struct(mut members) => {
                    members.insert(
                        0,
                        crate::protocol::output::Member {
                            json: "Id",
                            xml: "Id",
                            value: Out::Str(id),
                        },
                    );
                    Out::Struct(members)
                }
                other => other,
            }
        })
        .collect();
    Ok(Out::object()
        .with_xml(
            "Successful",
            "SendMessageBatchResultEntry",
            Out::List(successful),
        )
        .with_xml(
            "Failed",
            "BatchResultErrorEntry",
            failed_entries(result.failed),
        ))
}

/// Decrements the long-poll gauge when a waiting receive ends (or is dropped).
struct LongPoll;

impl LongPoll {
    fn start() -> LongPoll {
        crate::metrics::long_poll_waiting(1.0);
        LongPoll
    }
}

impl Drop for LongPoll {
    fn drop(&mut self) {
        crate::metrics::long_poll_waiting(-1.0);
    }
}

pub(super) async fn receive_message(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let mut system_attribute_names = p.str_list("AttributeNames", "AttributeName")?;
    for name in p.str_list("MessageSystemAttributeNames", "MessageSystemAttributeName")? {
        if !system_attribute_names.contains(&name) {
            system_attribute_names.push(name);
        }
    }
    let request = ReceiveRequest {
        max_number_of_messages: p.int("MaxNumberOfMessages")?,
        visibility_timeout: p.int("VisibilityTimeout")?,
        wait_time_seconds: p.int("WaitTimeSeconds")?,
        system_attribute_names,
        message_attribute_names: p.str_list("MessageAttributeNames", "MessageAttributeName")?,
        receive_request_attempt_id: p.str("ReceiveRequestAttemptId")?,
    };
    let _waiting = request
        .wait_time_seconds
        .is_some_and(|w| w > 0)
        .then(LongPoll::start);
    let messages = ctx
        .engine
        .receive_message(&ctx.caller, &queue, request)
        .await?;
    let mut out = Out::object();
    if !messages.is_empty() {
        out = out.with_xml(
            "Messages",
            "Message",
            Out::List(messages.into_iter().map(received).collect()),
        );
    }
    Ok(out)
}

fn attribute_value(v: AttributeValue) -> Out {
    let value = if v.data_type.starts_with("Binary") {
        ("BinaryValue", Out::Blob(v.value))
    } else {
        let text = String::from_utf8(v.value)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        ("StringValue", Out::Str(text))
    };
    Out::object()
        .with(value.0, value.1)
        .with("DataType", Out::Str(v.data_type))
}

fn attribute_map(attributes: BTreeMap<String, AttributeValue>) -> Out {
    Out::Map {
        key: "Name",
        entries: attributes
            .into_iter()
            .map(|(k, v)| (k, attribute_value(v)))
            .collect(),
    }
}

fn received(m: ReceivedMessage) -> Out {
    let mut out = Out::object()
        .with("MessageId", Out::Str(m.message_id))
        .with("ReceiptHandle", Out::Str(m.receipt_handle))
        .with("MD5OfBody", Out::Str(m.md5_of_body))
        .with("Body", Out::Str(m.body));
    if !m.attributes.is_empty() {
        out = out.with_xml(
            "Attributes",
            "Attribute",
            Out::Map {
                key: "Name",
                entries: m
                    .attributes
                    .into_iter()
                    .map(|(k, v)| (k, Out::Str(v)))
                    .collect(),
            },
        );
    }
    out = out.opt(
        "MD5OfMessageAttributes",
        m.md5_of_message_attributes.map(Out::Str),
    );
    if !m.message_attributes.is_empty() {
        out = out.with_xml(
            "MessageAttributes",
            "MessageAttribute",
            attribute_map(m.message_attributes),
        );
    }
    out
}

pub(super) async fn delete_message(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let handle = p.required_str("ReceiptHandle")?;
    ctx.engine
        .delete_message(&ctx.caller, &queue, &handle)
        .await?;
    Ok(Out::object())
}

/// `Successful[]` of Delete/ChangeVisibility batches: just the ids.
fn id_entries(ids: Vec<String>) -> Out {
    Out::List(
        ids.into_iter()
            .map(|id| Out::object().with("Id", Out::Str(id)))
            .collect(),
    )
}

pub(super) async fn delete_message_batch(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let mut entries = Vec::new();
    for e in p.entries("Entries", "DeleteMessageBatchRequestEntry")? {
        entries.push(DeleteEntry {
            id: e.required_str("Id")?,
            receipt_handle: e.required_str("ReceiptHandle")?,
        });
    }
    let result = ctx
        .engine
        .delete_message_batch(&ctx.caller, &queue, entries)
        .await?;
    Ok(Out::object()
        .with_xml(
            "Successful",
            "DeleteMessageBatchResultEntry",
            id_entries(result.successful),
        )
        .with_xml(
            "Failed",
            "BatchResultErrorEntry",
            failed_entries(result.failed),
        ))
}

pub(super) async fn change_message_visibility(
    ctx: &Ctx<'_>,
    p: Params<'_>,
) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let handle = p.required_str("ReceiptHandle")?;
    let timeout = p.required_int("VisibilityTimeout")?;
    ctx.engine
        .change_message_visibility(&ctx.caller, &queue, &handle, timeout)
        .await?;
    Ok(Out::object())
}

pub(super) async fn change_message_visibility_batch(
    ctx: &Ctx<'_>,
    p: Params<'_>,
) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let mut entries = Vec::new();
    for e in p.entries("Entries", "ChangeMessageVisibilityBatchRequestEntry")? {
        entries.push(VisibilityEntry {
            id: e.required_str("Id")?,
            receipt_handle: e.required_str("ReceiptHandle")?,
            visibility_timeout: e.int("VisibilityTimeout")?,
        });
    }
    let result = ctx
        .engine
        .change_message_visibility_batch(&ctx.caller, &queue, entries)
        .await?;
    Ok(Out::object()
        .with_xml(
            "Successful",
            "ChangeMessageVisibilityBatchResultEntry",
            id_entries(result.successful),
        )
        .with_xml(
            "Failed",
            "BatchResultErrorEntry",
            failed_entries(result.failed),
        ))
}
