//! Query/XML: flattened parameters in, namespaced XML out, to `/`, to a
//! queue path, and as GET.

use axum::body::Body;
use axum::http::Request;

use super::{enc, TestApp};

/// The text of the first `<tag>…</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

#[tokio::test]
async fn create_send_receive_delete_over_query() {
    let t = TestApp::new().await;
    let r = t
        .form(
            "/",
            "Action=CreateQueue&Version=2012-11-05&QueueName=q&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=40&Tag.1.Key=k&Tag.1.Value=v",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["content-type"], "text/xml");
    let xml = r.text();
    assert!(
        xml.contains(r#"<CreateQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">"#),
        "{xml}"
    );
    assert_eq!(
        element(&xml, "QueueUrl"),
        Some("http://localhost:9324/000000000000/q")
    );
    let request_id = r.headers["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert_eq!(element(&xml, "RequestId"), Some(request_id.as_str()));

    let r = t
        .form(
            "/",
            "Action=ListQueueTags&QueueUrl=http%3A%2F%2Flocalhost%3A9324%2F000000000000%2Fq",
        )
        .await;
    assert!(
        r.text().contains("<Tag><Key>k</Key><Value>v</Value></Tag>"),
        "{}",
        r.text()
    );

    let body = "line1\r\nline2 & <tag> é";
    let r = t
        .form(
            "/000000000000/q",
            &format!(
                "Action=SendMessage&MessageBody={}&MessageAttribute.1.Name=n&MessageAttribute.1.Value.DataType=Number&MessageAttribute.1.Value.StringValue=42",
                enc(body)
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let xml = r.text();
    let md5 = element(&xml, "MD5OfMessageBody").unwrap().to_owned();
    assert!(element(&xml, "MD5OfMessageAttributes").is_some());
    assert!(element(&xml, "MessageId").is_some());

    let r = t
        .form(
            "/000000000000/q",
            "Action=ReceiveMessage&AttributeName.1=All&MessageAttributeName.1=All&MaxNumberOfMessages=5",
        )
        .await;
    let xml = r.text();
    assert!(xml.contains("<ReceiveMessageResult><Message>"), "{xml}");
    assert!(
        xml.contains("line1&#xD;\nline2 &amp; &lt;tag&gt; é"),
        "CR kept as a reference: {xml}"
    );
    assert_eq!(element(&xml, "MD5OfBody"), Some(md5.as_str()));
    assert!(xml.contains("<MessageAttribute><Name>n</Name><Value><StringValue>42</StringValue><DataType>Number</DataType></Value></MessageAttribute>"), "{xml}");
    assert!(xml.contains("<Attribute><Name>SenderId</Name>"), "{xml}");
    let handle = element(&xml, "ReceiptHandle").unwrap().to_owned();

    let r = t
        .form(
            "/000000000000/q",
            &format!("Action=DeleteMessage&ReceiptHandle={}", enc(&handle)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("DeleteMessageResult"));
    assert!(r.text().contains("<DeleteMessageResponse"));

    let r = t.form("/000000000000/q", "Action=ReceiveMessage").await;
    assert!(
        r.text().contains("<ReceiveMessageResult/>")
            || r.text()
                .contains("<ReceiveMessageResult></ReceiveMessageResult>"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn get_with_query_string_and_xml_errors() {
    let t = TestApp::new().await;
    t.create("g").await;
    let r = t
        .send(
            Request::get("/?Action=GetQueueUrl&QueueName=g")
                .header("host", "h:1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        element(&r.text(), "QueueUrl"),
        Some("http://h:1/000000000000/g")
    );

    let r = t.form("/", "Action=GetQueueUrl&QueueName=missing").await;
    assert_eq!(r.status, 400);
    let xml = r.text();
    assert!(xml.contains("<ErrorResponse"), "{xml}");
    assert_eq!(element(&xml, "Type"), Some("Sender"));
    assert_eq!(
        element(&xml, "Code"),
        Some("AWS.SimpleQueueService.NonExistentQueue")
    );
    assert!(element(&xml, "RequestId").is_some());

    let r = t.form("/", "Action=Frobnicate").await;
    assert_eq!(r.status, 400);
    assert_eq!(element(&r.text(), "Code"), Some("InvalidAction"));
    let r = t.form("/", "QueueName=x").await;
    assert_eq!(r.status, 400);
    assert_eq!(element(&r.text(), "Code"), Some("MissingAction"));
    let r = t.form("/", "Action=SendMessage&MessageBody=%ZZ").await;
    assert_eq!(r.status, 404);
    assert_eq!(element(&r.text(), "Code"), Some("MalformedQueryString"));
    let r = t
        .form(
            "/",
            "Action=ReceiveMessage&QueueUrl=/000000000000/g&MaxNumberOfMessages=ten",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(element(&r.text(), "Code"), Some("InvalidParameterValue"));
}

#[tokio::test]
async fn batches_and_attributes_over_query() {
    let t = TestApp::new().await;
    t.create("qb").await;
    let r = t
        .form(
            "/000000000000/qb",
            "Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two&SendMessageBatchRequestEntry.2.DelaySeconds=1000",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let xml = r.text();
    assert!(
        xml.contains("<SendMessageBatchResultEntry><Id>a</Id>"),
        "{xml}"
    );
    assert!(xml.contains("<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>InvalidParameterValue</Code>"), "{xml}");

    let r = t
        .form("/000000000000/qb", "Action=GetQueueAttributes&AttributeName.1=ApproximateNumberOfMessages&AttributeName.2=QueueArn")
        .await;
    let xml = r.text();
    assert!(
        xml.contains(
            "<Attribute><Name>ApproximateNumberOfMessages</Name><Value>1</Value></Attribute>"
        ),
        "{xml}"
    );

    let r = t.form("/", "Action=ListQueues&QueueNamePrefix=q").await;
    assert!(r.text().contains("<ListQueuesResult><QueueUrl>http://localhost:9324/000000000000/qb</QueueUrl></ListQueuesResult>"), "{}", r.text());
}

/// The remaining actions over Query, with their flattened list names.
#[tokio::test]
async fn every_other_action_over_query() {
    let t = TestApp::new().await;
    let ok = |r: &super::Reply| assert_eq!(r.status, 200, "{}", r.text());
    let q = "/000000000000/all";
    ok(&t.form("/", "Action=CreateQueue&QueueName=all").await);
    ok(&t.form("/", "Action=CreateQueue&QueueName=all-dlq").await);

    ok(&t
        .form(
            q,
            "Action=TagQueue&Tag.1.Key=a&Tag.1.Value=1&Tag.2.Key=b&Tag.2.Value=2",
        )
        .await);
    ok(&t.form(q, "Action=UntagQueue&TagKey.1=a").await);
    let r = t.form(q, "Action=ListQueueTags").await;
    assert!(
        r.text().contains(
            "<ListQueueTagsResult><Tag><Key>b</Key><Value>2</Value></Tag></ListQueueTagsResult>"
        ),
        "{}",
        r.text()
    );

    ok(&t
        .form(q, "Action=AddPermission&Label=p&AWSAccountId.1=111111111111&ActionName.1=SendMessage&ActionName.2=ReceiveMessage")
        .await);
    let r = t
        .form(q, "Action=GetQueueAttributes&AttributeName.1=Policy")
        .await;
    assert!(r.text().contains("111111111111"), "{}", r.text());
    ok(&t.form(q, "Action=RemovePermission&Label=p").await);

    let policy = enc(
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:all-dlq","maxReceiveCount":2}"#,
    );
    ok(&t
        .form(q, &format!("Action=SetQueueAttributes&Attribute.1.Name=RedrivePolicy&Attribute.1.Value={policy}"))
        .await);
    let r = t
        .form("/000000000000/all-dlq", "Action=ListDeadLetterSourceQueues")
        .await;
    assert!(r.text().contains("<ListDeadLetterSourceQueuesResult><QueueUrl>http://localhost:9324/000000000000/all</QueueUrl>"), "{}", r.text());

    ok(&t
        .form(q, "Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=1&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=2")
        .await);
    let r = t
        .form(q, "Action=ReceiveMessage&MaxNumberOfMessages=10")
        .await;
    let xml = r.text();
    let handles: Vec<String> = xml
        .split("<ReceiptHandle>")
        .skip(1)
        .filter_map(|s| s.split("</ReceiptHandle>").next())
        .map(str::to_owned)
        .collect();
    assert_eq!(handles.len(), 2, "{xml}");
    let r = t
        .form(
            q,
            &format!(
                "Action=ChangeMessageVisibilityBatch&ChangeMessageVisibilityBatchRequestEntry.1.Id=x&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle={}&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=60",
                enc(&handles[0])
            ),
        )
        .await;
    assert!(r.text().contains("<ChangeMessageVisibilityBatchResultEntry><Id>x</Id></ChangeMessageVisibilityBatchResultEntry>"), "{}", r.text());
    ok(&t
        .form(
            q,
            &format!(
                "Action=ChangeMessageVisibility&ReceiptHandle={}&VisibilityTimeout=60",
                enc(&handles[1])
            ),
        )
        .await);
    let r = t
        .form(
            q,
            &format!(
                "Action=DeleteMessageBatch&DeleteMessageBatchRequestEntry.1.Id=x&DeleteMessageBatchRequestEntry.1.ReceiptHandle={}&DeleteMessageBatchRequestEntry.2.Id=y&DeleteMessageBatchRequestEntry.2.ReceiptHandle={}",
                enc(&handles[0]),
                enc(&handles[1])
            ),
        )
        .await;
    assert!(r.text().contains("<DeleteMessageBatchResultEntry><Id>x</Id></DeleteMessageBatchResultEntry><DeleteMessageBatchResultEntry><Id>y</Id>"), "{}", r.text());

    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:all-dlq";
    let r = t
        .form(
            "/",
            &format!("Action=StartMessageMoveTask&SourceArn={}", enc(dlq_arn)),
        )
        .await;
    ok(&r);
    assert!(r.text().contains("<TaskHandle>"), "{}", r.text());
    let r = t
        .form(
            "/",
            &format!(
                "Action=ListMessageMoveTasks&SourceArn={}&MaxResults=10",
                enc(dlq_arn)
            ),
        )
        .await;
    assert!(
        r.text().contains("<ListMessageMoveTasksResultEntry>"),
        "{}",
        r.text()
    );
    let r = t
        .form("/", "Action=CancelMessageMoveTask&TaskHandle=nope")
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("<Code>InvalidParameterValue</Code>"));

    ok(&t.form(q, "Action=PurgeQueue").await);
    ok(&t.form(q, "Action=DeleteQueue").await);
    let r = t.form("/", "Action=ListQueues").await;
    assert!(!r.text().contains("/000000000000/all<"), "{}", r.text());
}
