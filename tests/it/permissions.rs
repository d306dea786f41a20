//! AddPermission / RemovePermission and the Policy attribute they write.

use aws_sdk_sqs::types::QueueAttributeName as A;

use crate::common::*;
use crate::harness::TestServer;

#[tokio::test]
async fn add_and_remove_permission() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "shared").await;

    client
        .add_permission()
        .queue_url(&url)
        .label("let-them-send")
        .aws_account_ids("111111111111")
        .actions("SendMessage")
        .actions("ReceiveMessage")
        .send()
        .await
        .unwrap();
    let policy = queue_attr(&client, &url, A::Policy).await;
    let doc: serde_json::Value = serde_json::from_str(&policy)
        .unwrap_or_else(|e| panic!("Policy is not JSON ({e}): {policy}"));
    let statements = doc["Statement"].as_array().expect("Statement array");
    assert_eq!(statements.len(), 1, "{doc}");
    // As SQS writes it: Version 2008-10-17; one principal as a plain string,
    // several actions as a list.
    assert_eq!(doc["Version"], "2008-10-17", "{doc}");
    assert_eq!(statements[0]["Sid"], "let-them-send");
    assert_eq!(
        statements[0]["Principal"]["AWS"],
        "arn:aws:iam::111111111111:root"
    );
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(["SQS:SendMessage", "SQS:ReceiveMessage"])
    );

    // A second statement under another label; a duplicate label is an error.
    client
        .add_permission()
        .queue_url(&url)
        .label("second")
        .aws_account_ids("222222222222")
        .aws_account_ids("333333333333")
        .actions("*")
        .send()
        .await
        .unwrap();
    let policy = queue_attr(&client, &url, A::Policy).await;
    let doc: serde_json::Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(doc["Statement"][1]["Action"], "SQS:*", "{doc}");
    assert_eq!(
        doc["Statement"][1]["Principal"]["AWS"],
        serde_json::json!([
            "arn:aws:iam::222222222222:root",
            "arn:aws:iam::333333333333:root"
        ])
    );
    assert_client_error(
        client
            .add_permission()
            .queue_url(&url)
            .label("second")
            .aws_account_ids("222222222222")
            .actions("SendMessage")
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    // More than 7 actions in one statement: OverLimit (403).
    let mut too_many = client
        .add_permission()
        .queue_url(&url)
        .label("many")
        .aws_account_ids("333333333333");
    for a in [
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
    ] {
        too_many = too_many.actions(a);
    }
    assert_sqs_error(too_many.send().await, 403, "OverLimit", "OverLimit");

    client
        .remove_permission()
        .queue_url(&url)
        .label("let-them-send")
        .send()
        .await
        .unwrap();
    let policy = queue_attr(&client, &url, A::Policy).await;
    assert!(!policy.contains("let-them-send"), "{policy}");
    assert!(policy.contains("second"), "{policy}");
    assert_client_error(
        client
            .remove_permission()
            .queue_url(&url)
            .label("never-added")
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    assert_sqs_error(
        client
            .add_permission()
            .queue_url(server.queue_url("nope"))
            .label("x")
            .aws_account_ids("111111111111")
            .actions("SendMessage")
            .send()
            .await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
}
