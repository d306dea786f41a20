//! Queue actions: create, look up, list, delete, purge, attributes, tags,
//! permissions, dead-letter sources.

use super::{url_list, Ctx};
use crate::error::SqsError;
use crate::protocol::{Out, Params};

pub(super) async fn create_queue(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let name = p.required_str("QueueName")?;
    tracing::Span::current().record("queue", name.as_str());
    let attributes = p.str_map("Attributes", "Attribute", "Name")?;
    let tags = p.str_map("tags", "Tag", "Key")?;
    let queue = ctx
        .engine
        .create_queue(&ctx.caller, &name, attributes, tags)
        .await?;
    Ok(Out::object().with("QueueUrl", Out::Str(ctx.url(&queue))))
}

pub(super) async fn get_queue_url(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let name = p.required_str("QueueName")?;
    tracing::Span::current().record("queue", name.as_str());
    let owner = p.str("QueueOwnerAWSAccountId")?;
    let queue = ctx
        .engine
        .get_queue_url(&ctx.caller, &name, owner.as_deref())
        .await?;
    Ok(Out::object().with("QueueUrl", Out::Str(ctx.url(&queue))))
}

pub(super) async fn list_queues(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let prefix = p.str("QueueNamePrefix")?;
    let max = p.int("MaxResults")?;
    let token = p.str("NextToken")?;
    let page = ctx
        .engine
        .list_queues(&ctx.caller, prefix.as_deref(), max, token.as_deref())
        .await?;
    let mut out = Out::object();
    if !page.items.is_empty() {
        out = out.with_xml("QueueUrls", "QueueUrl", url_list(ctx, &page.items));
    }
    Ok(out.opt("NextToken", page.next_token.map(Out::Str)))
}

pub(super) async fn delete_queue(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    ctx.engine.delete_queue(&ctx.caller, &queue).await?;
    Ok(Out::object())
}

pub(super) async fn purge_queue(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    ctx.engine.purge_queue(&ctx.caller, &queue).await?;
    Ok(Out::object())
}

pub(super) async fn get_queue_attributes(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let names = p.str_list("AttributeNames", "AttributeName")?;
    let attributes = ctx
        .engine
        .get_queue_attributes(&ctx.caller, &queue, &names)
        .await?;
    let mut out = Out::object();
    if !attributes.is_empty() {
        out = out.with_xml(
            "Attributes",
            "Attribute",
            Out::Map {
                key: "Name",
                entries: attributes
                    .into_iter()
                    .map(|(k, v)| (k, Out::Str(v)))
                    .collect(),
            },
        );
    }
    Ok(out)
}

pub(super) async fn set_queue_attributes(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let attributes = p.str_map("Attributes", "Attribute", "Name")?;
    ctx.engine
        .set_queue_attributes(&ctx.caller, &queue, attributes)
        .await?;
    Ok(Out::object())
}

pub(super) async fn list_queue_tags(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let tags = ctx.engine.list_queue_tags(&ctx.caller, &queue).await?;
    let mut out = Out::object();
    if !tags.is_empty() {
        out = out.with_xml(
            "Tags",
            "Tag",
            Out::Map {
                key: "Key",
                entries: tags.into_iter().map(|(k, v)| (k, Out::Str(v))).collect(),
            },
        );
    }
    Ok(out)
}

pub(super) async fn tag_queue(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let tags = p.str_map("Tags", "Tag", "Key")?;
    ctx.engine.tag_queue(&ctx.caller, &queue, tags).await?;
    Ok(Out::object())
}

pub(super) async fn untag_queue(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let keys = p.str_list("TagKeys", "TagKey")?;
    ctx.engine.untag_queue(&ctx.caller, &queue, keys).await?;
    Ok(Out::object())
}

pub(super) async fn add_permission(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let label = p.required_str("Label")?;
    let accounts = p.str_list("AWSAccountIds", "AWSAccountId")?;
    let actions = p.str_list("Actions", "ActionName")?;
    if accounts.is_empty() {
        return Err(SqsError::missing("AWSAccountIds"));
    }
    if actions.is_empty() {
        return Err(SqsError::missing("Actions"));
    }
    ctx.engine
        .add_permission(&ctx.caller, &queue, &label, accounts, actions)
        .await?;
    Ok(Out::object())
}

pub(super) async fn remove_permission(ctx: &Ctx<'_>, p: Params<'_>) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let label = p.required_str("Label")?;
    ctx.engine
        .remove_permission(&ctx.caller, &queue, &label)
        .await?;
    Ok(Out::object())
}

pub(super) async fn list_dead_letter_source_queues(
    ctx: &Ctx<'_>,
    p: Params<'_>,
) -> Result<Out, SqsError> {
    let queue = ctx.queue(&p)?;
    let max = p.int("MaxResults")?;
    let token = p.str("NextToken")?;
    let page = ctx
        .engine
        .list_dead_letter_source_queues(&ctx.caller, &queue, max, token.as_deref())
        .await?;
    Ok(Out::object()
        .with_xml("queueUrls", "QueueUrl", url_list(ctx, &page.items))
        .opt("NextToken", page.next_token.map(Out::Str)))
}
