//! Every error case of the bad-input catalogue that reaches the engine.

use super::*;

fn entry(body: &str) -> SendEntry {
    SendEntry {
        body: body.into(),
        ..Default::default()
    }
}

fn string_attr(value: &str) -> AttributeValue {
    AttributeValue {
        data_type: "String".into(),
        value: value.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn queue_names_and_attributes() {
    let h = Harness::new().await;
    for bad in [
        "a".repeat(81),
        "bad name".into(),
        "bad.name".into(),
        String::new(),
    ] {
        let err = h
            .engine
            .create_queue(&h.caller, &bad, BTreeMap::new(), BTreeMap::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameterValue(_)),
            "{bad}: {err:?}"
        );
    }
    let attrs =
        |k: &str, v: &str| -> BTreeMap<String, String> { [(k.to_string(), v.to_string())].into() };
    let err = h
        .engine
        .create_queue(&h.caller, "q", attrs("Bogus", "1"), BTreeMap::new())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidAttributeName(_)));
    let err = h
        .engine
        .create_queue(
            &h.caller,
            "q",
            attrs("VisibilityTimeout", "43201"),
            BTreeMap::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidAttributeValue(_)));
    let err = h
        .engine
        .create_queue(
            &h.caller,
            "q",
            attrs("Policy", "{not json"),
            BTreeMap::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidAttributeValue(_)));
    let q = h.create("q", &[]).await;
    let err = h
        .engine
        .set_queue_attributes(&h.caller, &q, attrs("QueueArn", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidAttributeName(_)));
    let err = h
        .engine
        .set_queue_attributes(&h.caller, &q, attrs("FifoQueue", "true"))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidAttributeName(_)));
    let err = h
        .engine
        .set_queue_attributes(&h.caller, &q, attrs("MaximumMessageSize", "1023"))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidAttributeValue(_)));
}

#[tokio::test]
async fn missing_queue() {
    let h = Harness::new().await;
    let q = QueueRef {
        account: h.caller.account.clone(),
        name: "missing".into(),
    };
    assert!(matches!(
        h.engine.send_message(&h.caller, &q, entry("x")).await,
        Err(EngineError::QueueDoesNotExist)
    ));
    assert!(matches!(
        h.engine
            .receive_message(&h.caller, &q, ReceiveRequest::default())
            .await,
        Err(EngineError::QueueDoesNotExist)
    ));
    assert!(matches!(
        h.engine.delete_queue(&h.caller, &q).await,
        Err(EngineError::QueueDoesNotExist)
    ));
    assert!(matches!(
        h.engine.get_queue_attributes(&h.caller, &q, &[]).await,
        Err(EngineError::QueueDoesNotExist)
    ));
    assert!(matches!(
        h.engine.get_queue_url(&h.caller, "missing", None).await,
        Err(EngineError::QueueDoesNotExist)
    ));
}

#[tokio::test]
async fn message_size_counts_bytes_and_attributes() {
    let h = Harness::new().await;
    let q = h.create("size", &[]).await;
    let max = 1_048_576;
    h.engine
        .send_message(&h.caller, &q, entry(&"a".repeat(max)))
        .await
        .unwrap();
    let err = h
        .engine
        .send_message(&h.caller, &q, entry(&"a".repeat(max + 1)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidParameterValue(ref m) if m.contains("shorter than 1048576 bytes")),
        "{err:?}"
    );
    let err = h
        .engine
        .send_message(&h.caller, &q, entry(&"é".repeat(600_000)))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidParameterValue(_)));
    let small = h.create("small", &[("MaximumMessageSize", "1024")]).await;
    h.engine
        .send_message(&h.caller, &small, entry(&"a".repeat(1024)))
        .await
        .unwrap();
    let mut with_attr = entry(&"a".repeat(1000));
    with_attr
        .attributes
        .insert("name".into(), string_attr(&"v".repeat(30)));
    let err = h
        .engine
        .send_message(&h.caller, &small, with_attr)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidParameterValue(ref m) if m.contains("1024")));
}

#[tokio::test]
async fn bodies_and_attributes() {
    let h = Harness::new().await;
    let q = h.create("content", &[]).await;
    assert!(matches!(
        h.engine.send_message(&h.caller, &q, entry("")).await,
        Err(EngineError::MissingParameter(_))
    ));
    for bad in ["\u{0}", "a\u{FFFF}", "\u{8}"] {
        assert!(matches!(
            h.engine.send_message(&h.caller, &q, entry(bad)).await,
            Err(EngineError::InvalidMessageContents(_))
        ));
    }
    let mut eleven = entry("x");
    for i in 0..11 {
        eleven.attributes.insert(format!("a{i}"), string_attr("v"));
    }
    assert!(matches!(
        h.engine.send_message(&h.caller, &q, eleven).await,
        Err(EngineError::InvalidParameterValue(_))
    ));
    let bad_attrs = [
        (
            "AWS.x",
            AttributeValue {
                data_type: "String".into(),
                value: b"v".to_vec(),
            },
        ),
        (
            "a..b",
            AttributeValue {
                data_type: "String".into(),
                value: b"v".to_vec(),
            },
        ),
        (
            "ok",
            AttributeValue {
                data_type: "Blob".into(),
                value: b"v".to_vec(),
            },
        ),
        (
            "ok",
            AttributeValue {
                data_type: "Number".into(),
                value: b"1e200".to_vec(),
            },
        ),
        (
            "ok",
            AttributeValue {
                data_type: "String".into(),
                value: Vec::new(),
            },
        ),
    ];
    for (name, value) in bad_attrs {
        let mut e = entry("x");
        e.attributes.insert(name.into(), value.clone());
        assert!(
            h.engine.send_message(&h.caller, &q, e).await.is_err(),
            "{name} {value:?}"
        );
    }
    let mut long_name = entry("x");
    long_name
        .attributes
        .insert("n".repeat(257), string_attr("v"));
    assert!(h
        .engine
        .send_message(&h.caller, &q, long_name)
        .await
        .is_err());
    let mut system = entry("x");
    system
        .system_attributes
        .insert("SenderId".into(), string_attr("me"));
    assert!(matches!(
        h.engine.send_message(&h.caller, &q, system).await,
        Err(EngineError::InvalidParameterValue(_))
    ));
    for delay in [-1, 901] {
        let e = SendEntry {
            body: "x".into(),
            delay_seconds: Some(delay),
            ..Default::default()
        };
        assert!(matches!(
            h.engine.send_message(&h.caller, &q, e).await,
            Err(EngineError::InvalidParameterValue(_))
        ));
    }
    // Nothing of the above was stored.
    assert_eq!(h.counts(&q).await, (0, 0, 0));
}

#[tokio::test]
async fn receive_parameters() {
    let h = Harness::new().await;
    let q = h.create("recv", &[]).await;
    let cases = [
        ReceiveRequest {
            max_number_of_messages: Some(0),
            ..Default::default()
        },
        ReceiveRequest {
            max_number_of_messages: Some(11),
            ..Default::default()
        },
        ReceiveRequest {
            wait_time_seconds: Some(21),
            ..Default::default()
        },
        ReceiveRequest {
            wait_time_seconds: Some(-1),
            ..Default::default()
        },
        ReceiveRequest {
            visibility_timeout: Some(43_201),
            ..Default::default()
        },
        ReceiveRequest {
            visibility_timeout: Some(-1),
            ..Default::default()
        },
    ];
    for request in cases {
        let err = h
            .engine
            .receive_message(&h.caller, &q, request.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameterValue(_)),
            "{request:?}"
        );
    }
}

#[tokio::test]
async fn batch_request_errors() {
    let h = Harness::new().await;
    let q = h.create("batch", &[]).await;
    let e = |id: &str| SendEntry {
        id: id.into(),
        body: "x".into(),
        ..Default::default()
    };
    assert!(matches!(
        h.engine.send_message_batch(&h.caller, &q, vec![]).await,
        Err(EngineError::EmptyBatchRequest(_))
    ));
    let eleven: Vec<SendEntry> = (0..11).map(|i| e(&format!("e{i}"))).collect();
    assert!(matches!(
        h.engine.send_message_batch(&h.caller, &q, eleven).await,
        Err(EngineError::TooManyEntriesInBatchRequest(11))
    ));
    assert!(matches!(
        h.engine
            .send_message_batch(&h.caller, &q, vec![e("a"), e("a")])
            .await,
        Err(EngineError::BatchEntryIdsNotDistinct(_))
    ));
    assert!(matches!(
        h.engine
            .send_message_batch(&h.caller, &q, vec![e("bad!")])
            .await,
        Err(EngineError::InvalidBatchEntryId(_))
    ));
    let big: Vec<SendEntry> = (0..2)
        .map(|i| SendEntry {
            id: format!("b{i}"),
            body: "a".repeat(600_000),
            ..Default::default()
        })
        .collect();
    assert!(matches!(
        h.engine.send_message_batch(&h.caller, &q, big).await,
        Err(EngineError::BatchRequestTooLong(_))
    ));
    assert!(matches!(
        h.engine.delete_message_batch(&h.caller, &q, vec![]).await,
        Err(EngineError::EmptyBatchRequest(_))
    ));
    let dup = vec![
        DeleteEntry {
            id: "a".into(),
            receipt_handle: "x".into(),
        },
        DeleteEntry {
            id: "a".into(),
            receipt_handle: "y".into(),
        },
    ];
    assert!(matches!(
        h.engine.delete_message_batch(&h.caller, &q, dup).await,
        Err(EngineError::BatchEntryIdsNotDistinct(_))
    ));
    let bad = vec![VisibilityEntry {
        id: "x y".into(),
        receipt_handle: "x".into(),
        visibility_timeout: Some(1),
    }];
    assert!(matches!(
        h.engine
            .change_message_visibility_batch(&h.caller, &q, bad)
            .await,
        Err(EngineError::InvalidBatchEntryId(_))
    ));
    assert_eq!(h.counts(&q).await, (0, 0, 0));
}

/// Standard queues refuse receives past 120,000 messages in flight.
#[tokio::test]
async fn in_flight_limit_is_over_limit() {
    let h = Harness::new().await;
    let q = h.create("busy", &[("VisibilityTimeout", "3600")]).await;
    for chunk in 0..12_001 {
        let entries = (0..10)
            .map(|i| SendEntry {
                id: format!("e{i}"),
                body: format!("{chunk}"),
                ..Default::default()
            })
            .collect();
        h.engine
            .send_message_batch(&h.caller, &q, entries)
            .await
            .unwrap();
    }
    for _ in 0..12_000 {
        assert_eq!(h.receive(&q, 10).await.len(), 10);
    }
    let err = h
        .engine
        .receive_message(&h.caller, &q, ReceiveRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::OverLimit(_)), "{err:?}");
    assert_eq!(h.counts(&q).await, (10, 120_000, 0));
}

/// Message attribute names may use letters of any script; String and Number
/// values with characters outside the XML set are invalid parameters (only
/// the body answers InvalidMessageContents); an empty value has SQS's words.
#[tokio::test]
async fn attribute_names_values_and_wording() {
    let h = Harness::new().await;
    let q = h.create("attrs", &[]).await;
    let mut unicode = entry("x");
    unicode
        .attributes
        .insert("attr.1øßä".into(), string_attr("v"));
    h.engine.send_message(&h.caller, &q, unicode).await.unwrap();
    let got = h.receive(&q, 1).await;
    assert_eq!(got[0].message_attributes["attr.1øßä"].value, b"v");
    for (data_type, value) in [("String", "a\u{8}b"), ("Number.int", "\u{B}1")] {
        let mut e = entry("x");
        e.attributes.insert(
            "bad".into(),
            AttributeValue {
                data_type: data_type.into(),
                value: value.as_bytes().to_vec(),
            },
        );
        let err = h.engine.send_message(&h.caller, &q, e).await.unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameterValue(_)),
            "{data_type}: {err:?}"
        );
    }
    let mut empty = entry("x");
    empty.attributes.insert(
        "e".into(),
        AttributeValue {
            data_type: "String".into(),
            value: Vec::new(),
        },
    );
    let err = h
        .engine
        .send_message(&h.caller, &q, empty)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidParameterValue(ref m)
            if m == "Message (user) attribute 'e' must contain a non-empty value of type 'String'."),
        "{err:?}"
    );
}

/// SQS's wording for WaitTimeSeconds out of range and for a batch entry over
/// the queue's maximum size.
#[tokio::test]
async fn wait_time_and_batch_entry_size_wording() {
    let h = Harness::new().await;
    let q = h.create("words", &[("MaximumMessageSize", "1024")]).await;
    for w in [-1, 21] {
        let request = ReceiveRequest {
            wait_time_seconds: Some(w),
            ..Default::default()
        };
        let err = h
            .engine
            .receive_message(&h.caller, &q, request)
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameterValue(ref m)
                if *m == format!("Value {w} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.")),
            "{err:?}"
        );
    }
    let mut big = entry(&"x".repeat(1025));
    big.id = "big".into();
    let result = h
        .engine
        .send_message_batch(&h.caller, &q, vec![big])
        .await
        .unwrap();
    assert!(
        matches!(result.failed[0].error, EngineError::InvalidParameterValue(ref m)
            if m == "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes."),
        "{result:?}"
    );
    let err = h
        .engine
        .send_message(&h.caller, &q, entry(&"x".repeat(1025)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidParameterValue(ref m)
            if m == "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."),
        "{err:?}"
    );
}
