//! Characters XML 1.0 cannot carry are refused in every stored string field
//! (400 `InvalidParameterValue`, both protocols), and no answer — success or
//! error, even one echoing client input — ever contains one.

use serde_json::json;

use super::{enc, Reply, TestApp};

/// XML 1.0 `Char`.
fn xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[track_caller]
fn assert_well_formed(r: &Reply) {
    let text = r.text();
    assert!(
        text.chars().all(xml_char),
        "forbidden character in {text:?}"
    );
}

#[track_caller]
fn assert_json_invalid_parameter(r: &Reply, what: &str) {
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "InvalidParameterValueException"),
        "{what}: {}",
        r.text()
    );
    assert_eq!(
        r.headers["x-amzn-query-error"], "InvalidParameterValue;Sender",
        "{what}"
    );
}

#[track_caller]
fn assert_query_invalid_parameter(r: &Reply, what: &str) {
    assert_well_formed(r);
    let text = r.text();
    assert_eq!(r.status.as_u16(), 400, "{what}: {text}");
    assert!(
        text.contains("<Code>InvalidParameterValue</Code>"),
        "{what}: {text}"
    );
}

const BAD: [&str; 4] = ["\u{1}", "\u{FFFF}", "\u{FFFE}", "\u{1F}"];

#[tokio::test]
async fn message_attribute_types_and_trace_header_over_json() {
    let t = TestApp::new().await;
    let url = t.create("x").await;
    for bad in BAD {
        for data_type in [format!("String.{bad}"), format!("Number.a{bad}")] {
            let r = t
                .json(
                    "SendMessage",
                    json!({"QueueUrl": url, "MessageBody": "b", "MessageAttributes":
                        {"a": {"DataType": data_type, "StringValue": "1"}}}),
                )
                .await;
            assert_json_invalid_parameter(&r, &data_type);
        }
        let data_type = format!("Binary.{bad}");
        let r = t
            .json(
                "SendMessageBatch",
                json!({"QueueUrl": url, "Entries": [{"Id": "e", "MessageBody": "b",
                    "MessageAttributes": {"a": {"DataType": data_type, "BinaryValue": "AQI="}}}]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.json()["Failed"][0]["Code"],
            "InvalidParameterValue",
            "{}",
            r.text()
        );
        let r = t
            .json(
                "SendMessage",
                json!({"QueueUrl": url, "MessageBody": "b", "MessageSystemAttributes":
                    {"AWSTraceHeader": {"DataType": "String", "StringValue": format!("Root={bad}")}}}),
            )
            .await;
        assert_json_invalid_parameter(&r, "AWSTraceHeader");
    }
    // Nothing was stored.
    let r = t
        .json(
            "ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 10}),
        )
        .await;
    assert_eq!(
        r.json()["Messages"],
        serde_json::Value::Null,
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn message_attribute_types_and_trace_header_over_query() {
    let t = TestApp::new().await;
    t.create("x").await;
    let path = "/000000000000/x";
    for bad in BAD {
        let form = format!(
            "Action=SendMessage&MessageBody=b&MessageAttribute.1.Name=a\
             &MessageAttribute.1.Value.DataType={}&MessageAttribute.1.Value.StringValue=v",
            enc(&format!("String.{bad}"))
        );
        assert_query_invalid_parameter(&t.form(path, &form).await, "String suffix");
        let form = format!(
            "Action=SendMessage&MessageBody=b&MessageAttribute.1.Name=a\
             &MessageAttribute.1.Value.DataType={}&MessageAttribute.1.Value.BinaryValue=AQI%3D",
            enc(&format!("Binary.{bad}"))
        );
        assert_query_invalid_parameter(&t.form(path, &form).await, "Binary suffix");
        let form = format!(
            "Action=SendMessage&MessageBody=b&MessageSystemAttribute.1.Name=AWSTraceHeader\
             &MessageSystemAttribute.1.Value.DataType=String\
             &MessageSystemAttribute.1.Value.StringValue={}",
            enc(&format!("Root=1-{bad}"))
        );
        assert_query_invalid_parameter(&t.form(path, &form).await, "AWSTraceHeader");
    }
    let r = t
        .form(
            path,
            "Action=ReceiveMessage&MaxNumberOfMessages=10&AttributeName.1=All&MessageAttributeName.1=All",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_well_formed(&r);
    assert!(!r.text().contains("<Message>"), "{}", r.text());
}

#[tokio::test]
async fn tags_and_queue_attributes_over_both_protocols() {
    let t = TestApp::new().await;
    let url = t.create("q").await;
    let path = "/000000000000/q";
    for bad in BAD {
        let key = format!("k{bad}");
        let value = format!("v{bad}");
        // Tag keys and values: TagQueue and CreateQueue, JSON and Query.
        for tags in [json!({ &key: "v" }), json!({ "k": &value })] {
            let r = t
                .json("TagQueue", json!({"QueueUrl": url, "Tags": tags}))
                .await;
            assert_json_invalid_parameter(&r, "TagQueue");
            let r = t
                .json("CreateQueue", json!({"QueueName": "q2", "tags": tags}))
                .await;
            assert_json_invalid_parameter(&r, "CreateQueue tags");
        }
        let form = format!("Action=TagQueue&Tag.1.Key={}&Tag.1.Value=v", enc(&key));
        assert_query_invalid_parameter(&t.form(path, &form).await, "Query tag key");
        let form = format!("Action=TagQueue&Tag.1.Key=k&Tag.1.Value={}", enc(&value));
        assert_query_invalid_parameter(&t.form(path, &form).await, "Query tag value");

        // Free-text queue attributes: KmsMasterKeyId, a Policy document.
        let kms = format!("alias/{bad}");
        let policy = format!(r#"{{"Version":"2012-10-17","Id":"{bad}","Statement":[]}}"#);
        for (name, text) in [("KmsMasterKeyId", &kms), ("Policy", &policy)] {
            if bad == "\u{1}" || bad == "\u{1F}" {
                // JSON cannot carry a raw control character inside a string
                // member of the Policy text itself; KmsMasterKeyId can.
                if name == "Policy" {
                    continue;
                }
            }
            let r = t
                .json(
                    "SetQueueAttributes",
                    json!({"QueueUrl": url, "Attributes": { name: text }}),
                )
                .await;
            assert_json_invalid_parameter(&r, name);
            let r = t
                .json(
                    "CreateQueue",
                    json!({"QueueName": "q3", "Attributes": { name: text }}),
                )
                .await;
            assert_json_invalid_parameter(&r, name);
            let form = format!(
                "Action=SetQueueAttributes&Attribute.1.Name={name}&Attribute.1.Value={}",
                enc(text)
            );
            assert_query_invalid_parameter(&t.form(path, &form).await, name);
        }
    }
    // Nothing was stored: the Query answers that show tags and attributes are clean.
    for form in [
        "Action=ListQueueTags",
        "Action=GetQueueAttributes&AttributeName.1=All",
    ] {
        let r = t.form(path, form).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_well_formed(&r);
        assert!(!r.text().contains('\u{FFFD}'), "{}", r.text());
    }
    let r = t.form("/", "Action=GetQueueUrl&QueueName=q2").await;
    assert!(r.text().contains("NonExistentQueue"), "{}", r.text());
}

#[tokio::test]
async fn errors_that_echo_client_input_stay_well_formed() {
    let t = TestApp::new().await;
    t.create("e").await;
    for form in [
        format!("Action={}", enc("Frob\u{1}nicate")),
        format!("Action=GetQueueUrl&QueueName={}", enc("n\u{FFFF}")),
        format!(
            "Action=SendMessage&QueueUrl=/000000000000/e&MessageBody=b&MessageGroupId={}",
            enc("g\u{1}")
        ),
        format!(
            "Action=SetQueueAttributes&QueueUrl=/000000000000/e&Attribute.1.Name={}&Attribute.1.Value=1",
            enc("Bad\u{FFFE}Name")
        ),
    ] {
        let r = t.form("/", &form).await;
        assert_eq!(r.status.as_u16() / 100, 4, "{form}: {}", r.text());
        assert_well_formed(&r);
    }
}
