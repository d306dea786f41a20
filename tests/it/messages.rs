//! SendMessage / ReceiveMessage / DeleteMessage through aws-sdk-sqs: attributes, MD5s, system
//! attributes, delays, receipt handles and input validation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    MessageSystemAttributeName as S, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, QueueAttributeName as A,
};

use crate::common::*;
use crate::harness::{TestServer, ACCOUNT};

#[test]
fn md5_helper_matches_the_spec_vector() {
    // SQS-SPEC §7: {a: String "v"} → a18cbb58171ebf4ce88d9fb787f9210b (moto agrees).
    let mut attrs = HashMap::new();
    attrs.insert("a".to_string(), string_attr("v"));
    assert_eq!(attributes_md5(&attrs), "a18cbb58171ebf4ce88d9fb787f9210b");
}

#[tokio::test]
async fn send_receive_delete_with_attributes_and_md5s() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "msgs").await;

    let body = "héllo wörld ✓ \u{1F600}\t\n";
    let mut attrs = HashMap::new();
    attrs.insert("a".to_string(), string_attr("v"));
    attrs.insert("count".to_string(), typed_attr("Number", "42"));
    attrs.insert("price".to_string(), typed_attr("Number.float", "-1.5e3"));
    attrs.insert("blob".to_string(), binary_attr(&[0, 1, 2, 254, 255]));
    attrs.insert("Zeta_x.y-z".to_string(), string_attr("ünï"));
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

    let before = now_ms();
    let sent = client
        .send_message()
        .queue_url(&url)
        .message_body(body)
        .set_message_attributes(Some(attrs.clone()))
        .message_system_attributes(
            MessageSystemAttributeNameForSends::AwsTraceHeader,
            MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value(trace)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let id = sent.message_id().expect("MessageId").to_string();
    assert_eq!(
        sent.md5_of_message_body(),
        Some(md5_hex(body.as_bytes()).as_str())
    );
    assert_eq!(
        sent.md5_of_message_attributes(),
        Some(attributes_md5(&attrs).as_str())
    );
    let sys_md5 = attributes_md5_parts(vec![(
        "AWSTraceHeader".into(),
        "String".into(),
        1,
        trace.as_bytes().to_vec(),
    )]);
    assert_eq!(
        sent.md5_of_message_system_attributes(),
        Some(sys_md5.as_str())
    );
    assert!(
        sent.sequence_number().is_none(),
        "no sequence number on standard queues"
    );

    let got = receive(&client, &url, 10, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m.message_id(), Some(id.as_str()));
    assert_eq!(m.body(), Some(body));
    assert_eq!(m.md5_of_body(), Some(md5_hex(body.as_bytes()).as_str()));
    let received_attrs = m.message_attributes().cloned().unwrap_or_default();
    assert_eq!(received_attrs, attrs, "attributes round-trip unchanged");
    assert_eq!(
        m.md5_of_message_attributes(),
        Some(attributes_md5(&attrs).as_str())
    );
    assert_eq!(sys_attr(m, S::ApproximateReceiveCount), Some("1"));
    assert_eq!(sys_attr(m, S::AwsTraceHeader), Some(trace));
    assert_eq!(
        sys_attr(m, S::SenderId),
        Some(ACCOUNT),
        "SenderId is a principal id (the anonymous account), never the access key id"
    );
    let sent_ts: u128 = sys_attr(m, S::SentTimestamp)
        .expect("SentTimestamp")
        .parse()
        .unwrap();
    assert!(
        sent_ts + 1000 >= before && sent_ts <= now_ms() + 1000,
        "SentTimestamp is epoch ms: {sent_ts} vs {before}"
    );
    let first: u128 = sys_attr(m, S::ApproximateFirstReceiveTimestamp)
        .expect("ApproximateFirstReceiveTimestamp")
        .parse()
        .unwrap();
    assert!(
        first >= sent_ts,
        "first receive {first} before send {sent_ts}"
    );
    assert!(sys_attr(m, S::SequenceNumber).is_none());

    // In flight: not visible to a second receive.
    assert!(receive(&client, &url, 10, 0).await.is_empty());
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "1"
    );

    delete(&client, &url, m).await;
    // Deleting twice with the same handle is fine.
    delete(&client, &url, m).await;
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "0"
    );
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
}

#[tokio::test]
async fn md5_spec_vector_from_the_server() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "vector").await;
    let sent = client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes("a", string_attr("v"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_attributes(),
        Some("a18cbb58171ebf4ce88d9fb787f9210b")
    );
    // No attributes: no attribute MD5 at all (not the MD5 of nothing).
    let plain = client
        .send_message()
        .queue_url(&url)
        .message_body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.md5_of_message_attributes(), None);
    assert_eq!(plain.md5_of_message_system_attributes(), None);
    assert_eq!(
        plain.md5_of_message_body(),
        Some(md5_hex(b"plain").as_str())
    );
}

#[tokio::test]
async fn receive_returns_only_requested_attributes() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "filter").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("b")
        .message_attributes("color.primary", string_attr("red"))
        .message_attributes("color.secondary", string_attr("blue"))
        .message_attributes("size", typed_attr("Number", "3"))
        .send()
        .await
        .unwrap();

    // Prefix `color.*` plus nothing else; only SentTimestamp among system attributes.
    let out = client
        .receive_message()
        .queue_url(&url)
        .message_attribute_names("color.*")
        .message_system_attribute_names(S::SentTimestamp)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let m = &out.messages()[0];
    let attrs = m.message_attributes().cloned().unwrap_or_default();
    let mut names: Vec<_> = attrs.keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["color.primary", "color.secondary"]);
    assert_eq!(
        m.md5_of_message_attributes(),
        Some(attributes_md5(&attrs).as_str()),
        "MD5 covers the returned attributes"
    );
    let sys = m.attributes().cloned().unwrap_or_default();
    assert_eq!(sys.keys().collect::<Vec<_>>(), [&S::SentTimestamp]);

    // No names requested: no attributes and no attribute MD5.
    let out = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let m = &out.messages()[0];
    assert!(m.message_attributes().is_none_or(|a| a.is_empty()), "{m:?}");
    assert!(m.attributes().is_none_or(|a| a.is_empty()), "{m:?}");
    assert_eq!(m.md5_of_body(), Some(md5_hex(b"b").as_str()));
}

#[tokio::test]
async fn delayed_messages() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "delayed").await;
    let started = Instant::now();
    client
        .send_message()
        .queue_url(&url)
        .message_body("later")
        .delay_seconds(2)
        .send()
        .await
        .unwrap();
    assert!(receive(&client, &url, 10, 0).await.is_empty());
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesDelayed).await,
        "1"
    );
    // A long poll picks it up once the delay has passed.
    let got = receive_n(&client, &url, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "delivered after {:?}, before its 2 s delay",
        started.elapsed()
    );

    // Queue-level DelaySeconds applies to messages without their own delay.
    let url2 = create_queue_with(&client, "delayed-queue", &[(A::DelaySeconds, "1")]).await;
    client
        .send_message()
        .queue_url(&url2)
        .message_body("q")
        .send()
        .await
        .unwrap();
    assert!(receive(&client, &url2, 10, 0).await.is_empty());
    assert_eq!(
        receive_n(&client, &url2, 1, Duration::from_secs(10))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn invalid_messages_are_rejected_and_nothing_is_stored() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "strict").await;
    let send = |body: String| client.send_message().queue_url(&url).message_body(body);

    // Characters outside the allowed set.
    for bad in ["nul \u{0} here", "bad \u{FFFF}", "ctrl \u{1}"] {
        assert_sqs_error(
            send(bad.to_string()).send().await,
            400,
            "InvalidMessageContents",
            "InvalidMessageContents",
        );
    }
    // 1 MiB + 1 byte, and 600k two-byte characters. SQS's JSON `__type` for
    // its unmodeled validation errors is the `…Exception` form; the
    // x-amzn-query-error header keeps the short code.
    let info = assert_sqs_error(
        send("x".repeat(1_048_577)).send().await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert_eq!(
        info.sdk_code.as_deref(),
        Some("InvalidParameterValue"),
        "the SDK reports the short code"
    );
    assert_eq!(
        info.message.as_deref(),
        Some("One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.")
    );
    assert_client_error(
        send("é".repeat(600_000)).send().await,
        &["InvalidParameterValueException"],
    );
    // Body + attributes over 1 MiB.
    assert_client_error(
        send("x".repeat(1_048_000))
            .message_attributes("big", string_attr(&"y".repeat(1000)))
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    // Empty body.
    assert_sqs_error(
        send(String::new()).send().await,
        400,
        "MissingRequiredParameterException",
        "MissingParameter",
    );
    // Delay out of range.
    assert_client_error(
        send("d".into()).delay_seconds(901).send().await,
        &["InvalidParameterValueException"],
    );
    assert_client_error(
        send("d".into()).delay_seconds(-1).send().await,
        &["InvalidParameterValueException"],
    );
    // 11 attributes.
    let mut many = send("m".into());
    for i in 0..11 {
        many = many.message_attributes(format!("a{i}"), string_attr("v"));
    }
    assert_client_error(
        many.send().await,
        &[
            "InvalidParameterValueException",
            "InvalidParameterCombination",
        ],
    );
    // Bad attribute names and types.
    for (name, value) in [
        ("AWS.reserved", string_attr("v")),
        ("amazon.reserved", string_attr("v")),
        ("a..b", string_attr("v")),
        (".lead", string_attr("v")),
        ("trail.", string_attr("v")),
        ("sp ace", string_attr("v")),
        (&*"n".repeat(257), string_attr("v")),
        ("blob", typed_attr("Blob", "v")),
        ("num", typed_attr("Number", "not-a-number")),
        ("num", typed_attr("Number", "1e200")),
    ] {
        assert_client_error(
            send("m".into())
                .message_attributes(name, value)
                .send()
                .await,
            &[
                "InvalidParameterValueException",
                "InvalidAttributeValue",
                "InvalidAttributeName",
            ],
        );
    }
    // 1 MiB exactly is accepted.
    send("x".repeat(1_048_576)).send().await.unwrap();

    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "1"
    );
}

#[tokio::test]
async fn receive_parameter_validation() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "rparams").await;
    let rx = || client.receive_message().queue_url(&url);
    let info = assert_sqs_error(
        rx().max_number_of_messages(11).send().await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert_eq!(
        info.message.as_deref(),
        Some("Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
    );
    assert_client_error(
        rx().max_number_of_messages(0).send().await,
        &["InvalidParameterValueException"],
    );
    assert_client_error(
        rx().wait_time_seconds(21).send().await,
        &["InvalidParameterValueException"],
    );
    let info = assert_sqs_error(
        rx().wait_time_seconds(-1).send().await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert_eq!(
        info.message.as_deref(),
        Some("Value -1 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.")
    );
    assert_client_error(
        rx().visibility_timeout(43_201).send().await,
        &["InvalidParameterValueException"],
    );
    // The server is still fine.
    assert!(receive(&client, &url, 1, 0).await.is_empty());
}

#[tokio::test]
async fn receipt_handles() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "handles").await;

    for garbage in ["garbage", "AAAA", "x".repeat(2000).as_str()] {
        assert_sqs_error(
            client
                .delete_message()
                .queue_url(&url)
                .receipt_handle(garbage)
                .send()
                .await,
            404,
            "ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
        );
        assert_sqs_error(
            client
                .change_message_visibility()
                .queue_url(&url)
                .receipt_handle(garbage)
                .visibility_timeout(5)
                .send()
                .await,
            404,
            "ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
        );
    }

    // A handle from another queue is not valid here.
    let other = create_queue(&client, "handles-other").await;
    client
        .send_message()
        .queue_url(&other)
        .message_body("o")
        .send()
        .await
        .unwrap();
    let foreign = receive(&client, &other, 1, 0).await;
    let foreign_handle = foreign[0].receipt_handle().unwrap();
    let res = client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(foreign_handle)
        .send()
        .await;
    if res.is_err() {
        assert_client_error(res, &["ReceiptHandleIsInvalid"]);
    }
    assert_eq!(
        queue_attr(&client, &other, A::ApproximateNumberOfMessagesNotVisible).await,
        "1",
        "a handle used on the wrong queue must not delete the message"
    );

    // Stale handle: an earlier delivery's handle must not delete the newer delivery.
    client
        .send_message()
        .queue_url(&url)
        .message_body("s")
        .send()
        .await
        .unwrap();
    let first = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(1)
        .send()
        .await
        .unwrap();
    let first = first.messages()[0].clone();
    let second = receive_n(&client, &url, 1, Duration::from_secs(10)).await;
    assert_eq!(second.len(), 1);
    let second = &second[0];
    assert_eq!(second.message_id(), first.message_id());
    assert_ne!(second.receipt_handle(), first.receipt_handle());
    assert_eq!(sys_attr(second, S::ApproximateReceiveCount), Some("2"));
    client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(first.receipt_handle().unwrap())
        .send()
        .await
        .expect("a stale handle still answers 200");
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "1",
        "the stale handle deleted the newer delivery"
    );
    delete(&client, &url, second).await;
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "0"
    );
}

#[tokio::test]
async fn operations_on_a_missing_queue() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = server.queue_url("missing");
    let nx = |r: ErrInfo| {
        assert_eq!(r.status, 400);
    };
    nx(assert_sqs_error(
        client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .send()
            .await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    ));
    nx(assert_sqs_error(
        client.receive_message().queue_url(&url).send().await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    ));
    nx(assert_sqs_error(
        client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::All)
            .send()
            .await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    ));
    nx(assert_sqs_error(
        client.purge_queue().queue_url(&url).send().await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    ));
}

#[tokio::test]
async fn queue_maximum_message_size_applies() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(&client, "small", &[(A::MaximumMessageSize, "1024")]).await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("x".repeat(1024))
        .send()
        .await
        .unwrap();
    assert_client_error(
        client
            .send_message()
            .queue_url(&url)
            .message_body("x".repeat(1025))
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    // Attributes count toward the size.
    assert_client_error(
        client
            .send_message()
            .queue_url(&url)
            .message_body("x".repeat(1000))
            .message_attributes("pad", string_attr(&"y".repeat(100)))
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "1"
    );
}

/// The one slow test (about a minute): the minimum retention period is 60 s.
#[tokio::test]
async fn messages_expire_after_the_retention_period() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(&client, "short-lived", &[(A::MessageRetentionPeriod, "60")]).await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("ephemeral")
        .send()
        .await
        .unwrap();
    // Received once and left in flight past its retention too.
    let other = create_queue_with(
        &client,
        "short-inflight",
        &[(A::MessageRetentionPeriod, "60")],
    )
    .await;
    client
        .send_message()
        .queue_url(&other)
        .message_body("in flight")
        .send()
        .await
        .unwrap();
    let got = client
        .receive_message()
        .queue_url(&other)
        .visibility_timeout(58)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 1);
    tokio::time::sleep(Duration::from_secs(62)).await;
    assert!(
        receive(&client, &url, 10, 0).await.is_empty(),
        "a message past its retention period was delivered"
    );
    assert!(
        receive(&client, &other, 10, 1).await.is_empty(),
        "an in-flight message past its retention period came back"
    );
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
}

/// SQS allows about 120,000 in-flight messages per standard queue; past that ReceiveMessage
/// answers OverLimit (403). Takes ~45 s of both cores in a debug build, which would starve
/// the timing-sensitive tests running beside it, so it runs only with STOWAGE_SLOW_TESTS=1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_limit_gives_over_limit() {
    if std::env::var("STOWAGE_SLOW_TESTS").map_or(true, |v| v != "1") {
        eprintln!("skipped: set STOWAGE_SLOW_TESTS=1 to run the 120,000 in-flight OverLimit test");
        return;
    }
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(&client, "busy", &[(A::VisibilityTimeout, "3600")]).await;
    let total = 120_010;
    let mut senders = Vec::new();
    for worker in 0..8 {
        let c = client.clone();
        let u = url.clone();
        senders.push(tokio::spawn(async move {
            let mut batch = worker;
            while batch * 10 < total {
                let entries = (0..10)
                    .map(|i| {
                        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                            .id(format!("e{i}"))
                            .message_body("x")
                            .build()
                            .unwrap()
                    })
                    .collect();
                c.send_message_batch()
                    .queue_url(&u)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
                batch += 8;
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let mut receivers = Vec::new();
    for _ in 0..8 {
        let c = client.clone();
        let u = url.clone();
        receivers.push(tokio::spawn(async move {
            let mut got = 0usize;
            loop {
                match c
                    .receive_message()
                    .queue_url(&u)
                    .max_number_of_messages(10)
                    .send()
                    .await
                {
                    Ok(out) if out.messages().is_empty() => return (got, None),
                    Ok(out) => got += out.messages().len(),
                    Err(e) => return (got, Some(err_info(&e))),
                }
            }
        }));
    }
    let mut in_flight = 0;
    let mut errors = Vec::new();
    for r in receivers {
        let (n, err) = r.await.unwrap();
        in_flight += n;
        errors.extend(err);
    }
    assert!(
        (110_000..=120_000).contains(&in_flight),
        "{in_flight} messages in flight at once (limit about 120,000); errors {errors:?}"
    );
    let over = errors
        .iter()
        .find(|e| e.shape.as_deref() == Some("OverLimit"))
        .unwrap_or_else(|| panic!("no OverLimit error; errors: {errors:?}"));
    assert_eq!(over.status, 403, "{over:?}");
    assert_eq!(over.query_error.as_deref(), Some("OverLimit;Sender"));
}

/// `MessageAttributeNames`: `All`, `.*` and `*` return every attribute, a name
/// ending in `.*` is a prefix filter, other names are exact; attribute names
/// may use letters of any script.
#[tokio::test]
async fn message_attribute_name_filters() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "filters").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .message_attributes("Hello", string_attr("1"))
        .message_attributes("Help.Me", string_attr("2"))
        .message_attributes("Other", string_attr("3"))
        .message_attributes("attr.1øßä", string_attr("4"))
        .send()
        .await
        .unwrap();
    let cases: [(&[&str], &[&str]); 6] = [
        (&["All"], &["Hello", "Help.Me", "Other", "attr.1øßä"]),
        (&[".*"], &["Hello", "Help.Me", "Other", "attr.1øßä"]),
        (&["*"], &["Hello", "Help.Me", "Other", "attr.1øßä"]),
        (&["Hel.*"], &["Hello", "Help.Me"]),
        (&["Other", "attr.*"], &["Other", "attr.1øßä"]),
        (&["Hel"], &[]),
    ];
    for (filters, want) in cases {
        let mut request = client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .wait_time_seconds(5);
        for f in filters {
            request = request.message_attribute_names(*f);
        }
        let out = request.send().await.unwrap();
        let m = &out.messages()[0];
        let mut names: Vec<&str> = m
            .message_attributes()
            .map(|a| a.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.sort_unstable();
        assert_eq!(names, want, "filters {filters:?}");
        if let Some(attrs) = m.message_attributes() {
            assert_eq!(
                m.md5_of_message_attributes(),
                Some(attributes_md5(attrs).as_str()),
                "the MD5 covers what was returned"
            );
        }
    }
}

/// String and Number values with characters outside the XML set are
/// InvalidParameterValue (the body alone answers InvalidMessageContents); an
/// empty value is refused in SQS's words.
#[tokio::test]
async fn attribute_values_outside_the_xml_set_and_empty_values() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "values").await;
    let send = || client.send_message().queue_url(&url).message_body("m");
    for (data_type, value) in [("String", "a\u{8}b"), ("Number", "\u{B}1")] {
        assert_sqs_error(
            send()
                .message_attributes("bad", typed_attr(data_type, value))
                .send()
                .await,
            400,
            "InvalidParameterValueException",
            "InvalidParameterValue",
        );
    }
    assert_sqs_error(
        client
            .send_message()
            .queue_url(&url)
            .message_body("a\u{8}b")
            .send()
            .await,
        400,
        "InvalidMessageContents",
        "InvalidMessageContents",
    );
    let info = assert_sqs_error(
        send()
            .message_attributes("empty", string_attr(""))
            .send()
            .await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert_eq!(
        info.message.as_deref(),
        Some("Message (user) attribute 'empty' must contain a non-empty value of type 'String'.")
    );
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
}

/// The `X-Amzn-Trace-Id` header of SendMessage / SendMessageBatch becomes the
/// `AWSTraceHeader` system attribute (and its MD5) unless the request sets
/// one itself.
#[tokio::test]
async fn trace_id_header_becomes_the_aws_trace_header() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "traced").await;
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    let explicit = "Root=1-00000000-000000000000000000000000;Sampled=0";
    let md5 = |trace: &str| {
        attributes_md5_parts(vec![(
            "AWSTraceHeader".into(),
            "String".into(),
            1,
            trace.as_bytes().to_vec(),
        )])
    };
    let sent = client
        .send_message()
        .queue_url(&url)
        .message_body("single")
        .customize()
        .mutate_request(move |r| {
            r.headers_mut().insert("X-Amzn-Trace-Id", header);
        })
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_system_attributes(),
        Some(md5(header).as_str())
    );
    let batch = client
        .send_message_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("plain")
                .message_body("batch")
                .build()
                .unwrap(),
        )
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("own")
                .message_body("own")
                .message_system_attributes(
                    MessageSystemAttributeNameForSends::AwsTraceHeader,
                    MessageSystemAttributeValue::builder()
                        .data_type("String")
                        .string_value(explicit)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .customize()
        .mutate_request(move |r| {
            r.headers_mut().insert("X-Amzn-Trace-Id", header);
        })
        .send()
        .await
        .unwrap();
    assert_eq!(batch.successful().len(), 2, "{batch:?}");
    let got = receive_n(&client, &url, 3, Duration::from_secs(10)).await;
    let traces: HashMap<&str, &str> = got
        .iter()
        .map(|m| (m.body().unwrap(), sys_attr(m, S::AwsTraceHeader).unwrap()))
        .collect();
    assert_eq!(traces["single"], header);
    assert_eq!(traces["batch"], header);
    assert_eq!(
        traces["own"], explicit,
        "the request's own AWSTraceHeader wins"
    );
}

/// A batch entry over the queue's MaximumMessageSize fails with SQS's words.
#[tokio::test]
async fn batch_entry_too_large_is_worded_as_sqs_words_it() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(&client, "small", &[(A::MaximumMessageSize, "1024")]).await;
    let out = client
        .send_message_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("big")
                .message_body("x".repeat(1025))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let failed = &out.failed()[0];
    assert_eq!(failed.code(), "InvalidParameterValue");
    assert_eq!(
        failed.message(),
        Some("One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes.")
    );
}
