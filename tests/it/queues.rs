//! Queue lifecycle through aws-sdk-sqs: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue,
//! GetQueueAttributes, SetQueueAttributes, TagQueue, UntagQueue, ListQueueTags, PurgeQueue.

use aws_sdk_sqs::types::QueueAttributeName as A;

use crate::common::*;
use crate::harness::{TestServer, ACCOUNT};

#[tokio::test]
async fn create_get_list_delete() {
    let server = TestServer::start_default();
    let client = server.client();

    let url = create_queue_with(&client, "orders", &[(A::VisibilityTimeout, "45")]).await;
    assert_eq!(
        url,
        server.queue_url("orders"),
        "queue URL uses the request's host"
    );

    // Same name, same attributes: the existing URL. Different attributes: QueueNameExists.
    let again = create_queue_with(&client, "orders", &[(A::VisibilityTimeout, "45")]).await;
    assert_eq!(again, url);
    // Attributes not given are not compared (an application calling
    // CreateQueue(name) at every start gets its URL), nor tags not given.
    client
        .tag_queue()
        .queue_url(&url)
        .tags("team", "core")
        .send()
        .await
        .unwrap();
    assert_eq!(create_queue(&client, "orders").await, url);
    let with_default = create_queue_with(&client, "orders", &[(A::DelaySeconds, "0")]).await;
    assert_eq!(
        with_default, url,
        "a given default equals an unset attribute"
    );
    let same_tag = client
        .create_queue()
        .queue_name("orders")
        .tags("team", "core")
        .send()
        .await
        .unwrap();
    assert_eq!(same_tag.queue_url(), Some(url.as_str()));
    assert_sqs_error(
        client
            .create_queue()
            .queue_name("orders")
            .tags("team", "other")
            .send()
            .await,
        400,
        "QueueNameExists",
        "QueueAlreadyExists",
    );
    assert_sqs_error(
        client
            .create_queue()
            .queue_name("orders")
            .attributes(A::VisibilityTimeout, "46")
            .send()
            .await,
        400,
        "QueueNameExists",
        "QueueAlreadyExists",
    );

    let got = client
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url(), Some(url.as_str()));
    let got = client
        .get_queue_url()
        .queue_name("orders")
        .queue_owner_aws_account_id(ACCOUNT)
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url(), Some(url.as_str()));

    create_queue(&client, "orders-dlq").await;
    create_queue(&client, "payments").await;
    let all = client.list_queues().send().await.unwrap();
    let mut urls = all.queue_urls().to_vec();
    urls.sort();
    assert_eq!(
        urls,
        vec![
            server.queue_url("orders"),
            server.queue_url("orders-dlq"),
            server.queue_url("payments")
        ]
    );
    let prefixed = client
        .list_queues()
        .queue_name_prefix("ord")
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.queue_urls().len(), 2);

    // Pagination: MaxResults=1 walks all three with NextToken.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let page = client
            .list_queues()
            .max_results(1)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(page.queue_urls().len() <= 1, "page too big: {page:?}");
        seen.extend(page.queue_urls().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, urls, "pagination must visit every queue once");

    client.delete_queue().queue_url(&url).send().await.unwrap();
    assert_sqs_error(
        client.get_queue_url().queue_name("orders").send().await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
    let after = client.list_queues().send().await.unwrap();
    assert!(!after.queue_urls().contains(&url));
    assert_sqs_error(
        client.delete_queue().queue_url(&url).send().await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
}

#[tokio::test]
async fn queue_url_forms_resolve_by_account_and_name() {
    let server = TestServer::start_default();
    let client = server.client();
    create_queue(&client, "anywhere").await;
    // A real-AWS-style URL and another host both resolve by account and name.
    for url in [
        format!("https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/anywhere"),
        format!("http://localhost:1/{ACCOUNT}/anywhere"),
    ] {
        client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .send()
            .await
            .unwrap_or_else(|e| panic!("send via {url}: {e:?}"));
    }
    let n = queue_attr(
        &client,
        &server.queue_url("anywhere"),
        A::ApproximateNumberOfMessages,
    )
    .await;
    assert_eq!(n, "2");
}

#[tokio::test]
async fn attributes_get_set_and_validation() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(
        &client,
        "attrs",
        &[
            (A::VisibilityTimeout, "45"),
            (A::DelaySeconds, "0"),
            (A::MessageRetentionPeriod, "3600"),
            (A::ReceiveMessageWaitTimeSeconds, "0"),
        ],
    )
    .await;

    let all = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(A::All)
        .send()
        .await
        .unwrap();
    let attrs = all.attributes().expect("attributes");
    assert_eq!(
        attrs.get(&A::VisibilityTimeout).map(String::as_str),
        Some("45")
    );
    assert_eq!(
        attrs.get(&A::MessageRetentionPeriod).map(String::as_str),
        Some("3600")
    );
    assert_eq!(
        attrs.get(&A::MaximumMessageSize).map(String::as_str),
        Some("1048576"),
        "default MaximumMessageSize is 1 MiB"
    );
    assert_eq!(
        attrs.get(&A::QueueArn).map(String::as_str),
        Some(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:attrs").as_str())
    );
    assert_eq!(
        attrs
            .get(&A::ApproximateNumberOfMessages)
            .map(String::as_str),
        Some("0")
    );
    let created: u64 = attrs
        .get(&A::CreatedTimestamp)
        .expect("CreatedTimestamp")
        .parse()
        .expect("CreatedTimestamp is an integer");
    let now_s = u64::try_from(now_ms() / 1000).unwrap();
    assert!(
        created <= now_s && created + 120 > now_s,
        "CreatedTimestamp is epoch seconds: {created} vs now {now_s}"
    );
    assert!(
        !attrs.contains_key(&A::FifoQueue),
        "standard queue has no FifoQueue attribute"
    );

    // No names → no attributes.
    let none = client
        .get_queue_attributes()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert!(none.attributes().is_none_or(|m| m.is_empty()), "{none:?}");

    client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(A::VisibilityTimeout, "10")
        .attributes(A::DelaySeconds, "3")
        .send()
        .await
        .unwrap();
    assert_eq!(queue_attr(&client, &url, A::VisibilityTimeout).await, "10");
    assert_eq!(queue_attr(&client, &url, A::DelaySeconds).await, "3");

    for (name, bad) in [
        (A::VisibilityTimeout, "43201"),
        (A::VisibilityTimeout, "-1"),
        (A::VisibilityTimeout, "ten"),
        (A::DelaySeconds, "901"),
        (A::MessageRetentionPeriod, "59"),
        (A::MessageRetentionPeriod, "1209601"),
        (A::MaximumMessageSize, "1023"),
        (A::ReceiveMessageWaitTimeSeconds, "21"),
    ] {
        assert_client_error(
            client
                .set_queue_attributes()
                .queue_url(&url)
                .attributes(name.clone(), bad)
                .send()
                .await,
            &["InvalidAttributeValue", "InvalidParameterValueException"],
        );
    }
    // Nothing changed by the rejected calls.
    assert_eq!(queue_attr(&client, &url, A::VisibilityTimeout).await, "10");

    assert_client_error(
        client
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(A::from("NoSuchAttribute"), "1")
            .send()
            .await,
        &["InvalidAttributeName"],
    );
    assert_client_error(
        client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::from("NoSuchAttribute"))
            .send()
            .await,
        &["InvalidAttributeName"],
    );
    // A standard queue has no FifoQueue attribute (and cannot become FIFO).
    let info = assert_sqs_error(
        client
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(A::FifoQueue, "true")
            .send()
            .await,
        400,
        "InvalidAttributeName",
        "InvalidAttributeName",
    );
    assert_eq!(
        info.message.as_deref(),
        Some("Unknown Attribute FifoQueue.")
    );
}

#[tokio::test]
async fn queue_name_validation() {
    let server = TestServer::start_default();
    let client = server.client();
    let long = "q".repeat(81);
    for bad in [long.as_str(), "bad name", "bad!", "", "ünï"] {
        assert_client_error(
            client.create_queue().queue_name(bad).send().await,
            &[
                "InvalidParameterValueException",
                "MissingRequiredParameterException",
                "ValidationError",
            ],
        );
    }
    // 80 characters is fine.
    create_queue(&client, &"q".repeat(80)).await;
    // `.fifo` name without FifoQueue, and FifoQueue without `.fifo`.
    assert_client_error(
        client.create_queue().queue_name("plain.fifo").send().await,
        &["InvalidParameterValueException", "InvalidAttributeValue"],
    );
    assert_client_error(
        client
            .create_queue()
            .queue_name("plain")
            .attributes(A::FifoQueue, "true")
            .send()
            .await,
        &["InvalidParameterValueException", "InvalidAttributeValue"],
    );
    let names = client.list_queues().send().await.unwrap();
    assert_eq!(names.queue_urls().len(), 1, "{names:?}");
}

#[tokio::test]
async fn tags() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = client
        .create_queue()
        .queue_name("tagged")
        .tags("team", "core")
        .tags("env", "test")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let tags = client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let tags = tags.tags().cloned().unwrap_or_default();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags.get("team").map(String::as_str), Some("core"));

    client
        .tag_queue()
        .queue_url(&url)
        .tags("env", "prod")
        .tags("owner", "ünïcode ✓")
        .send()
        .await
        .unwrap();
    client
        .untag_queue()
        .queue_url(&url)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let tags = tags.tags().cloned().unwrap_or_default();
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert_eq!(tags.get("env").map(String::as_str), Some("prod"));
    assert_eq!(tags.get("owner").map(String::as_str), Some("ünïcode ✓"));
    assert!(!tags.contains_key("team"));

    let missing = server.queue_url("nope");
    assert_sqs_error(
        client.list_queue_tags().queue_url(&missing).send().await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
    assert_sqs_error(
        client
            .tag_queue()
            .queue_url(&missing)
            .tags("a", "b")
            .send()
            .await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
}

#[tokio::test]
async fn purge() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "purged").await;
    for i in 0..5 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    // One in flight too: purge removes in-flight messages as well.
    let inflight = receive(&client, &url, 1, 0).await;
    assert_eq!(inflight.len(), 1);

    client.purge_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "0"
    );
    assert!(receive(&client, &url, 10, 0).await.is_empty());

    // A second purge within 60 s: PurgeQueueInProgress, HTTP 403.
    assert_sqs_error(
        client.purge_queue().queue_url(&url).send().await,
        403,
        "PurgeQueueInProgress",
        "AWS.SimpleQueueService.PurgeQueueInProgress",
    );
    // Messages sent after the purge are kept.
    client
        .send_message()
        .queue_url(&url)
        .message_body("after")
        .send()
        .await
        .unwrap();
    let got = receive(&client, &url, 10, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_queues_caps_at_1000_and_paginates() {
    let server = TestServer::start_default();
    let client = server.client();
    let total = 1005;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in (worker..total).step_by(8) {
                create_queue(&c, &format!("q{i:04}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let first = client.list_queues().send().await.unwrap();
    assert_eq!(
        first.queue_urls().len(),
        1000,
        "ListQueues returns at most 1000"
    );
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_queues()
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        all.extend(page.queue_urls().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        total,
        "pagination must reach every queue exactly once"
    );
}

/// FIFO-only attributes on a standard queue are unknown attributes (even
/// `FifoQueue=false`); `FifoQueue=true` on a FIFO queue is a no-op; the KMS
/// data-key reuse period is shown only with a KMS key; a queue may be its own
/// dead-letter queue.
#[tokio::test]
async fn attribute_rules_as_sqs_answers_them() {
    let server = TestServer::start_default();
    let client = server.client();
    for (name, value) in [
        (A::FifoQueue, "false"),
        (A::ContentBasedDeduplication, "true"),
        (A::DeduplicationScope, "queue"),
        (A::FifoThroughputLimit, "perQueue"),
    ] {
        let info = assert_sqs_error(
            client
                .create_queue()
                .queue_name("plain")
                .attributes(name.clone(), value)
                .send()
                .await,
            400,
            "InvalidAttributeName",
            "InvalidAttributeName",
        );
        assert_eq!(
            info.message,
            Some(format!("Unknown Attribute {}.", name.as_str())),
            "{name:?}"
        );
    }
    let fifo = create_queue_with(&client, "f.fifo", &[(A::FifoQueue, "true")]).await;
    client
        .set_queue_attributes()
        .queue_url(&fifo)
        .attributes(A::FifoQueue, "true")
        .send()
        .await
        .expect("FifoQueue=true on a FIFO queue is a no-op");
    assert_eq!(queue_attr(&client, &fifo, A::FifoQueue).await, "true");

    let url = create_queue_with(
        &client,
        "reuse",
        &[(A::KmsDataKeyReusePeriodSeconds, "600")],
    )
    .await;
    let all = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(A::All)
        .send()
        .await
        .unwrap();
    let attrs = all.attributes().unwrap();
    assert!(
        !attrs.contains_key(&A::KmsDataKeyReusePeriodSeconds),
        "{attrs:?}"
    );

    let arn = queue_arn(&client, &url).await;
    let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": 2}).to_string();
    client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(A::RedrivePolicy, &policy)
        .send()
        .await
        .expect("a queue may name itself as its dead-letter queue");
    assert_eq!(queue_attr(&client, &url, A::RedrivePolicy).await, policy);
}
