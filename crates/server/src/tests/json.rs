//! AWS JSON 1.0: every action's members, casing and error rendering.

use serde_json::json;

use super::TestApp;

#[tokio::test]
async fn queue_lifecycle_and_member_casing() {
    let t = TestApp::new().await;
    let r = t
        .json(
            "CreateQueue",
            json!({"QueueName": "jobs", "Attributes": {"VisibilityTimeout": "45"}, "tags": {"team": "a"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/x-amz-json-1.0");
    assert!(uuid::Uuid::parse_str(r.headers["x-amzn-requestid"].to_str().unwrap()).is_ok());
    let url = r.json()["QueueUrl"].as_str().unwrap().to_owned();
    assert_eq!(url, "http://localhost:9324/000000000000/jobs");

    let r = t.json("GetQueueUrl", json!({"QueueName": "jobs"})).await;
    assert_eq!(r.json()["QueueUrl"], url);

    let r = t.json("ListQueues", json!({})).await;
    assert_eq!(r.json()["QueueUrls"], json!([url]));

    let r = t
        .json(
            "GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["VisibilityTimeout", "QueueArn"]}),
        )
        .await;
    let attrs = &r.json()["Attributes"];
    assert_eq!(attrs["VisibilityTimeout"], "45");
    assert_eq!(attrs["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:jobs");

    let r = t
        .json(
            "SetQueueAttributes",
            json!({"QueueUrl": url, "Attributes": {"DelaySeconds": "2"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({}));

    t.json("TagQueue", json!({"QueueUrl": url, "Tags": {"env": "dev"}}))
        .await;
    let r = t.json("ListQueueTags", json!({"QueueUrl": url})).await;
    assert_eq!(r.json()["Tags"], json!({"team": "a", "env": "dev"}));
    t.json("UntagQueue", json!({"QueueUrl": url, "TagKeys": ["team"]}))
        .await;
    let r = t.json("ListQueueTags", json!({"QueueUrl": url})).await;
    assert_eq!(r.json()["Tags"], json!({"env": "dev"}));

    let dlq = t.create("jobs-dlq").await;
    let r = t
        .json(
            "GetQueueAttributes",
            json!({"QueueUrl": dlq, "AttributeNames": ["QueueArn"]}),
        )
        .await;
    let dlq_arn = r.json()["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}).to_string();
    let r = t
        .json(
            "SetQueueAttributes",
            json!({"QueueUrl": url, "Attributes": {"RedrivePolicy": policy}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t
        .json("ListDeadLetterSourceQueues", json!({"QueueUrl": dlq}))
        .await;
    assert_eq!(
        r.json()["queueUrls"],
        json!([url]),
        "lower-case q: {}",
        r.text()
    );

    let r = t
        .json(
            "AddPermission",
            json!({"QueueUrl": url, "Label": "l1", "AWSAccountIds": ["111111111111"], "Actions": ["SendMessage"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t
        .json("RemovePermission", json!({"QueueUrl": url, "Label": "l1"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let r = t.json("PurgeQueue", json!({"QueueUrl": url})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t.json("PurgeQueue", json!({"QueueUrl": url})).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.error_type(), "PurgeQueueInProgress");

    let r = t.json("DeleteQueue", json!({"QueueUrl": url})).await;
    assert_eq!(r.status, 200);
    let r = t.json("GetQueueUrl", json!({"QueueName": "jobs"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_type(), "QueueDoesNotExist");
    assert_eq!(
        r.headers["x-amzn-query-error"],
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    );
    assert_eq!(r.json()["message"], "The specified queue does not exist.");
}

#[tokio::test]
async fn messages_send_receive_visibility_delete() {
    let t = TestApp::new().await;
    let url = t.create("m").await;
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "hello",
                   "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"},
                                         "b": {"DataType": "Binary", "BinaryValue": "AAEC"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = r.json();
    assert_eq!(sent["MD5OfMessageBody"], "5d41402abc4b2a76b9719d911017c592");
    assert!(sent["MD5OfMessageAttributes"].is_string());
    assert!(sent.get("Id").is_none());

    let r = t
        .json(
            "ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "MessageAttributeNames": ["All"],
                   "MessageSystemAttributeNames": ["SenderId"], "VisibilityTimeout": 30}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = &r.json()["Messages"][0];
    assert_eq!(m["Body"], "hello");
    assert_eq!(m["MessageId"], sent["MessageId"]);
    assert_eq!(m["MD5OfMessageAttributes"], sent["MD5OfMessageAttributes"]);
    assert_eq!(
        m["MessageAttributes"]["b"],
        json!({"BinaryValue": "AAEC", "DataType": "Binary"})
    );
    assert_eq!(
        m["MessageAttributes"]["a"],
        json!({"StringValue": "v", "DataType": "String"})
    );
    assert!(m["Attributes"]["SenderId"].is_string());
    let handle = m["ReceiptHandle"].as_str().unwrap().to_owned();

    let r = t
        .json(
            "ChangeMessageVisibility",
            json!({"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": 0}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t.json("ReceiveMessage", json!({"QueueUrl": url})).await;
    let handle = r.json()["Messages"][0]["ReceiptHandle"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .json(
            "DeleteMessage",
            json!({"QueueUrl": url, "ReceiptHandle": handle}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t.json("ReceiveMessage", json!({"QueueUrl": url})).await;
    assert_eq!(r.json(), json!({}), "empty receive has no Messages");

    let r = t
        .json(
            "DeleteMessage",
            json!({"QueueUrl": url, "ReceiptHandle": "garbage"}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_type(), "ReceiptHandleIsInvalid");
    assert_eq!(
        r.headers["x-amzn-query-error"],
        "ReceiptHandleIsInvalid;Sender"
    );
}

#[tokio::test]
async fn batches_report_successful_and_failed_entries() {
    let t = TestApp::new().await;
    let url = t.create("b").await;
    let r = t
        .json(
            "SendMessageBatch",
            json!({"QueueUrl": url, "Entries": [
                {"Id": "ok", "MessageBody": "x"},
                {"Id": "bad", "MessageBody": "y", "DelaySeconds": 901}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["Successful"][0]["Id"], "ok");
    assert!(v["Successful"][0]["MessageId"].is_string());
    assert_eq!(v["Failed"][0]["Id"], "bad");
    assert_eq!(v["Failed"][0]["SenderFault"], true);
    assert_eq!(v["Failed"][0]["Code"], "InvalidParameterValue");

    let r = t.json("ReceiveMessage", json!({"QueueUrl": url})).await;
    let handle = r.json()["Messages"][0]["ReceiptHandle"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .json(
            "ChangeMessageVisibilityBatch",
            json!({"QueueUrl": url, "Entries": [{"Id": "a", "ReceiptHandle": handle, "VisibilityTimeout": 5}]}),
        )
        .await;
    assert_eq!(
        r.json(),
        json!({"Successful": [{"Id": "a"}]}),
        "{}",
        r.text()
    );
    let r = t
        .json(
            "DeleteMessageBatch",
            json!({"QueueUrl": url, "Entries": [{"Id": "a", "ReceiptHandle": handle}, {"Id": "z", "ReceiptHandle": "junk"}]}),
        )
        .await;
    let v = r.json();
    assert_eq!(v["Successful"], json!([{"Id": "a"}]));
    assert_eq!(v["Failed"][0]["Id"], "z");
    assert_eq!(v["Failed"][0]["Code"], "ReceiptHandleIsInvalid");

    let r = t
        .json("SendMessageBatch", json!({"QueueUrl": url, "Entries": []}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_type(), "EmptyBatchRequest");
}

#[tokio::test]
async fn move_tasks_over_json() {
    let t = TestApp::new().await;
    let src = t.create("src").await;
    let dlq = t.create("dlq").await;
    let src_arn = arn(&t, &src).await;
    let dlq_arn = arn(&t, &dlq).await;
    let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}).to_string();
    t.json(
        "SetQueueAttributes",
        json!({"QueueUrl": src, "Attributes": {"RedrivePolicy": policy}}),
    )
    .await;
    let r = t
        .json(
            "StartMessageMoveTask",
            json!({"SourceArn": dlq_arn, "DestinationArn": src_arn}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let handle = r.json()["TaskHandle"].as_str().unwrap().to_owned();
    let r = t
        .json(
            "ListMessageMoveTasks",
            json!({"SourceArn": dlq_arn, "MaxResults": 10}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["Results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["SourceArn"], dlq_arn);
    assert!(results[0]["StartedTimestamp"].is_i64());
    let r = t
        .json("CancelMessageMoveTask", json!({"TaskHandle": handle}))
        .await;
    // The task may already have completed (empty DLQ): either answer is SQS-shaped.
    if r.status == 200 {
        assert!(r.json()["ApproximateNumberOfMessagesMoved"].is_i64());
    } else {
        assert_eq!(r.status, 404, "{}", r.text());
        assert_eq!(r.error_type(), "ResourceNotFoundException");
    }
    // A handle that does not decode is an invalid parameter…
    let r = t
        .json("CancelMessageMoveTask", json!({"TaskHandle": "nope"}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.headers["x-amzn-query-error"],
        "InvalidParameterValue;Sender"
    );
    // …one naming no task is not found.
    let unknown = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!(r#"{{"taskId":"00000000-0000-0000-0000-000000000000","sourceArn":"{dlq_arn}"}}"#),
    );
    let r = t
        .json("CancelMessageMoveTask", json!({"TaskHandle": unknown}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.error_type(), "ResourceNotFoundException");
}

async fn arn(t: &TestApp, url: &str) -> String {
    let r = t
        .json(
            "GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
        )
        .await;
    r.json()["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned()
}
