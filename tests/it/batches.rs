//! SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch: per-entry results and
//! the request-level batch errors.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry as CvEntry,
    DeleteMessageBatchRequestEntry as DelEntry, QueueAttributeName as A,
    SendMessageBatchRequestEntry as SendEntry,
};

use crate::common::*;
use crate::harness::TestServer;

fn entry(id: &str, body: &str) -> SendEntry {
    SendEntry::builder()
        .id(id)
        .message_body(body)
        .build()
        .unwrap()
}

#[tokio::test]
async fn send_receive_delete_batches() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "batch").await;

    let mut entries: Vec<SendEntry> = (0..9)
        .map(|i| entry(&format!("e{i}"), &format!("body-{i}")))
        .collect();
    // One entry carries attributes.
    entries.push(
        SendEntry::builder()
            .id("attrs")
            .message_body("with-attrs")
            .message_attributes("k", string_attr("v"))
            .build()
            .unwrap(),
    );
    let out = client
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 10, "{out:?}");
    assert!(out.failed().is_empty(), "{out:?}");
    let by_id: HashMap<_, _> = out
        .successful()
        .iter()
        .map(|e| (e.id().to_string(), e))
        .collect();
    for i in 0..9 {
        let e = by_id[&format!("e{i}")];
        assert_eq!(
            e.md5_of_message_body(),
            md5_hex(format!("body-{i}").as_bytes())
        );
        assert!(e.md5_of_message_attributes().is_none());
        assert!(!e.message_id().is_empty());
    }
    let want_md5 = attributes_md5(&HashMap::from([("k".to_string(), string_attr("v"))]));
    assert_eq!(
        by_id["attrs"].md5_of_message_attributes(),
        Some(want_md5.as_str())
    );
    let ids: HashSet<_> = out
        .successful()
        .iter()
        .map(|e| e.message_id().to_string())
        .collect();
    assert_eq!(ids.len(), 10, "message ids are unique");

    let got = receive_n(&client, &url, 10, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 10);
    let got_ids: HashSet<_> = got
        .iter()
        .map(|m| m.message_id().unwrap().to_string())
        .collect();
    assert_eq!(got_ids, ids);

    // Delete 9 of them plus one garbage handle: per-entry failure, the rest succeed.
    let mut del: Vec<DelEntry> = got[..9]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            DelEntry::builder()
                .id(format!("d{i}"))
                .receipt_handle(m.receipt_handle().unwrap())
                .build()
                .unwrap()
        })
        .collect();
    del.push(
        DelEntry::builder()
            .id("bad")
            .receipt_handle("garbage")
            .build()
            .unwrap(),
    );
    let out = client
        .delete_message_batch()
        .queue_url(&url)
        .set_entries(Some(del))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 9, "{out:?}");
    assert_eq!(out.failed().len(), 1, "{out:?}");
    let failed = &out.failed()[0];
    assert_eq!(failed.id(), "bad");
    assert!(failed.sender_fault());
    assert_eq!(failed.code(), "ReceiptHandleIsInvalid");
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "1"
    );
}

#[tokio::test]
async fn batch_request_errors() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "batch-errors").await;

    // 11 entries.
    let eleven: Vec<SendEntry> = (0..11).map(|i| entry(&format!("e{i}"), "x")).collect();
    assert_sqs_error(
        client
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(eleven))
            .send()
            .await,
        400,
        "TooManyEntriesInBatchRequest",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    );
    // Empty.
    assert_sqs_error(
        client
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(vec![]))
            .send()
            .await,
        400,
        "EmptyBatchRequest",
        "AWS.SimpleQueueService.EmptyBatchRequest",
    );
    // Duplicate ids.
    assert_sqs_error(
        client
            .send_message_batch()
            .queue_url(&url)
            .entries(entry("same", "a"))
            .entries(entry("same", "b"))
            .send()
            .await,
        400,
        "BatchEntryIdsNotDistinct",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    );
    // Invalid id.
    assert_sqs_error(
        client
            .send_message_batch()
            .queue_url(&url)
            .entries(entry("bad!", "a"))
            .send()
            .await,
        400,
        "InvalidBatchEntryId",
        "AWS.SimpleQueueService.InvalidBatchEntryId",
    );
    assert_sqs_error(
        client
            .send_message_batch()
            .queue_url(&url)
            .entries(entry(&"i".repeat(81), "a"))
            .send()
            .await,
        400,
        "InvalidBatchEntryId",
        "AWS.SimpleQueueService.InvalidBatchEntryId",
    );
    // Total over 1 MiB (each entry alone is fine).
    let big: Vec<SendEntry> = (0..3)
        .map(|i| entry(&format!("b{i}"), &"x".repeat(400_000)))
        .collect();
    assert_sqs_error(
        client
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(big))
            .send()
            .await,
        400,
        "BatchRequestTooLong",
        "AWS.SimpleQueueService.BatchRequestTooLong",
    );
    // The same request-level errors on the other two batch actions.
    assert_sqs_error(
        client
            .delete_message_batch()
            .queue_url(&url)
            .set_entries(Some(vec![]))
            .send()
            .await,
        400,
        "EmptyBatchRequest",
        "AWS.SimpleQueueService.EmptyBatchRequest",
    );
    let dup = DelEntry::builder()
        .id("x")
        .receipt_handle("h")
        .build()
        .unwrap();
    assert_sqs_error(
        client
            .delete_message_batch()
            .queue_url(&url)
            .entries(dup.clone())
            .entries(dup)
            .send()
            .await,
        400,
        "BatchEntryIdsNotDistinct",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    );
    let cv: Vec<CvEntry> = (0..11)
        .map(|i| {
            CvEntry::builder()
                .id(format!("c{i}"))
                .receipt_handle("h")
                .visibility_timeout(1)
                .build()
                .unwrap()
        })
        .collect();
    assert_sqs_error(
        client
            .change_message_visibility_batch()
            .queue_url(&url)
            .set_entries(Some(cv))
            .send()
            .await,
        400,
        "TooManyEntriesInBatchRequest",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    );
    // Missing queue.
    assert_sqs_error(
        client
            .send_message_batch()
            .queue_url(server.queue_url("nope"))
            .entries(entry("a", "a"))
            .send()
            .await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
    // Nothing got stored by any of these.
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
}

#[tokio::test]
async fn send_batch_per_entry_failures() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "batch-partial").await;
    let out = client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("ok1", "fine"))
        .entries(entry("badchar", "nul \u{0}"))
        .entries(
            SendEntry::builder()
                .id("baddelay")
                .message_body("d")
                .delay_seconds(901)
                .build()
                .unwrap(),
        )
        .entries(entry("ok2", "also fine"))
        .send()
        .await
        .unwrap();
    let mut ok: Vec<_> = out
        .successful()
        .iter()
        .map(|e| e.id().to_string())
        .collect();
    ok.sort();
    assert_eq!(ok, ["ok1", "ok2"], "{out:?}");
    let failed: HashMap<_, _> = out
        .failed()
        .iter()
        .map(|f| (f.id().to_string(), f.code().to_string()))
        .collect();
    assert_eq!(failed.len(), 2, "{out:?}");
    assert_eq!(failed["badchar"], "InvalidMessageContents");
    assert_eq!(failed["baddelay"], "InvalidParameterValue");
    assert!(out.failed().iter().all(|f| f.sender_fault()));
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "2"
    );
}

#[tokio::test]
async fn change_visibility_batch() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "cv-batch").await;
    for i in 0..3 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    let got = receive_n(&client, &url, 3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3);
    // Two back to visible now, one garbage handle.
    let mut entries: Vec<CvEntry> = got[..2]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            CvEntry::builder()
                .id(format!("c{i}"))
                .receipt_handle(m.receipt_handle().unwrap())
                .visibility_timeout(0)
                .build()
                .unwrap()
        })
        .collect();
    entries.push(
        CvEntry::builder()
            .id("bad")
            .receipt_handle("garbage")
            .visibility_timeout(0)
            .build()
            .unwrap(),
    );
    let out = client
        .change_message_visibility_batch()
        .queue_url(&url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 2, "{out:?}");
    assert_eq!(out.failed().len(), 1, "{out:?}");
    assert_eq!(out.failed()[0].code(), "ReceiptHandleIsInvalid");
    let again = receive(&client, &url, 10, 0).await;
    let mut bodies: Vec<_> = again
        .iter()
        .map(|m| m.body().unwrap().to_string())
        .collect();
    bodies.sort();
    let mut want: Vec<_> = got[..2]
        .iter()
        .map(|m| m.body().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(bodies, want);
}
