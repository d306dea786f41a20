//! Restart tests: acknowledged work survives SIGKILL and SIGTERM of the binary (durability
//! `always`), restarted on the same data directory.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{QueueAttributeName as A, SendMessageBatchRequestEntry};

use crate::common::*;
use crate::harness::{embedded_store_only, ServerOptions, TestServer};

/// What a test stored before the stop, to be checked after the restart.
struct Stored {
    /// Ids of acknowledged, undeleted messages.
    live: HashSet<String>,
    /// Ids of messages whose delete was acknowledged.
    deleted: HashSet<String>,
}

async fn store_work(server: &TestServer) -> Stored {
    let client = server.client();
    let url = client
        .create_queue()
        .queue_name("durable")
        .attributes(A::VisibilityTimeout, "1")
        .attributes(A::MessageRetentionPeriod, "86400")
        .tags("team", "core")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let mut live = HashSet::new();
    for i in 0..20 {
        let out = client
            .send_message()
            .queue_url(&url)
            .message_body(format!("single-{i}"))
            .message_attributes("i", typed_attr("Number", &i.to_string()))
            .send()
            .await
            .unwrap();
        live.insert(out.message_id().unwrap().to_string());
    }
    for b in 0..3 {
        let entries = (0..10)
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(format!("batch-{b}-{i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = client
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(out.successful().len(), 10);
        live.extend(out.successful().iter().map(|e| e.message_id().to_string()));
    }
    // Delete some (acknowledged deletes must stay deleted), leave some in flight.
    let got = receive(&client, &url, 10, 0).await;
    assert_eq!(got.len(), 10);
    let mut deleted = HashSet::new();
    for m in &got[..6] {
        delete(&client, &url, m).await;
        let id = m.message_id().unwrap().to_string();
        live.remove(&id);
        deleted.insert(id);
    }
    // FIFO state: a dedup id and a queue that must survive too.
    let fifo = create_queue_with(&client, "durable.fifo", &[(A::FifoQueue, "true")]).await;
    let out = client
        .send_message()
        .queue_url(&fifo)
        .message_body("f1")
        .message_group_id("g")
        .message_deduplication_id("dedup-1")
        .send()
        .await
        .unwrap();
    live.insert(out.message_id().unwrap().to_string());
    Stored { live, deleted }
}

async fn check_after_restart(server: &TestServer, stored: &Stored, old_url: &str) {
    let client = server.client();
    let url = client
        .get_queue_url()
        .queue_name("durable")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    assert_eq!(url, server.queue_url("durable"));
    assert_eq!(queue_attr(&client, &url, A::VisibilityTimeout).await, "1");
    assert_eq!(
        queue_attr(&client, &url, A::MessageRetentionPeriod).await,
        "86400"
    );
    let tags = client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get("team")).map(String::as_str),
        Some("core")
    );

    // The URL from before the restart (old port) still names the queue.
    let mut seen = HashSet::new();
    let want_standard = stored.live.len() - 1;
    let msgs = receive_n(&client, old_url, want_standard, Duration::from_secs(20)).await;
    for m in &msgs {
        let id = m.message_id().unwrap().to_string();
        assert!(
            !stored.deleted.contains(&id),
            "message {id} was deleted before the stop but came back"
        );
        assert_eq!(
            m.md5_of_body(),
            Some(md5_hex(m.body().unwrap().as_bytes()).as_str())
        );
        seen.insert(id);
        delete(&client, &url, m).await;
    }

    let fifo = server.queue_url("durable.fifo");
    // The dedup id is remembered across the restart.
    client
        .send_message()
        .queue_url(&fifo)
        .message_body("f1 again")
        .message_group_id("g")
        .message_deduplication_id("dedup-1")
        .send()
        .await
        .unwrap();
    let f = receive_n(&client, &fifo, 1, Duration::from_secs(3)).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].body(), Some("f1"));
    seen.insert(f[0].message_id().unwrap().to_string());
    assert!(
        receive(&client, &fifo, 10, 0).await.is_empty(),
        "FIFO dedup forgotten across restart"
    );

    let missing: Vec<_> = stored.live.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages lost: {missing:?}",
        missing.len(),
        stored.live.len()
    );
    assert_eq!(seen.len(), stored.live.len(), "unexpected extra messages");
}

#[tokio::test]
async fn acknowledged_messages_survive_sigkill() {
    let mut server = TestServer::start(ServerOptions::durable());
    let stored = store_work(&server).await;
    let old_url = server.queue_url("durable");
    server.kill9();
    server.restart();
    check_after_restart(&server, &stored, &old_url).await;
}

#[tokio::test]
async fn acknowledged_messages_survive_sigterm() {
    let mut server = TestServer::start(ServerOptions::durable());
    let stored = store_work(&server).await;
    let old_url = server.queue_url("durable");
    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    server.restart();
    check_after_restart(&server, &stored, &old_url).await;
    // And once more, with nothing new: still consistent (recovery is idempotent).
    let status = server.terminate();
    assert!(status.success(), "second SIGTERM exit: {status}");
    server.restart();
    let client = server.client();
    let url = server.queue_url("durable");
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_a_waiting_long_poll() {
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let url = create_queue(&client, "poll-stop").await;
    let c = client.clone();
    let u = url.clone();
    let poll = tokio::spawn(async move {
        c.receive_message()
            .queue_url(&u)
            .wait_time_seconds(20)
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let status = tokio::task::block_in_place(|| server.terminate());
    assert!(status.success(), "exit status {status}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "graceful stop waited for the long poll to expire"
    );
    let res = poll.await.unwrap();
    if let Ok(out) = res {
        assert!(out.messages().is_empty());
    }
    // The data directory is reusable right away (LOCK released).
    server.restart();
    assert!(server.is_running());
    let client = server.client();
    assert!(receive(&client, &server.queue_url("poll-stop"), 1, 0)
        .await
        .is_empty());
}

#[tokio::test]
async fn receive_state_survives_restart() {
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let dlq = create_queue(&client, "state-dlq").await;
    let dlq_arn = queue_arn(&client, &dlq).await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string();
    let url = create_queue_with(&client, "state", &[(A::RedrivePolicy, policy.as_str())]).await;
    for body in ["kept-in-flight", "counted"] {
        client
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let delayed = create_queue(&client, "state-delayed").await;
    client
        .send_message()
        .queue_url(&delayed)
        .message_body("later")
        .delay_seconds(3)
        .send()
        .await
        .unwrap();
    // One receive of both: one stays in flight for 10 minutes, the other comes back at once.
    let got = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .visibility_timeout(600)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 2);
    let in_flight = got
        .messages()
        .iter()
        .find(|m| m.body() == Some("kept-in-flight"))
        .unwrap()
        .clone();
    let counted = got
        .messages()
        .iter()
        .find(|m| m.body() == Some("counted"))
        .unwrap()
        .clone();
    client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(counted.receipt_handle().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();

    let status = server.terminate();
    assert!(status.success());
    server.restart();
    let client = server.client();
    let url = server.queue_url("state");

    // The receipt handle from before the restart still works.
    client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(in_flight.receipt_handle().unwrap())
        .send()
        .await
        .expect("a receipt handle issued before a restart must stay valid");
    // The receive count survived: this is delivery #2, and the next receive moves it to the
    // DLQ (maxReceiveCount 2).
    let again = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(0)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(again.messages().len(), 1, "{again:?}");
    assert_eq!(again.messages()[0].body(), Some("counted"));
    assert_eq!(
        sys_attr(
            &again.messages()[0],
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount
        ),
        Some("2"),
        "receive count lost across the restart"
    );
    assert!(receive(&client, &url, 10, 0).await.is_empty());
    assert_eq!(
        queue_attr(
            &client,
            &server.queue_url("state-dlq"),
            A::ApproximateNumberOfMessages
        )
        .await,
        "1"
    );
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "0",
        "the message deleted with the pre-restart handle is still in flight"
    );
    // The delayed message is still delayed, then delivered.
    let delayed = server.queue_url("state-delayed");
    let got = receive_n(&client, &delayed, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("later"));
}

#[tokio::test]
async fn graceful_stop_flushes_with_durability_never() {
    let mut server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "never").await;
    let mut ids = HashSet::new();
    for i in 0..25 {
        let out = client
            .send_message()
            .queue_url(&url)
            .message_body(format!("n{i}"))
            .send()
            .await
            .unwrap();
        ids.insert(out.message_id().unwrap().to_string());
    }
    let status = server.terminate();
    assert!(status.success(), "{status}");
    server.restart();
    let client = server.client();
    let got = receive_n(
        &client,
        &server.queue_url("never"),
        25,
        Duration::from_secs(10),
    )
    .await;
    let got: HashSet<_> = got
        .iter()
        .map(|m| m.message_id().unwrap().to_string())
        .collect();
    assert_eq!(
        got, ids,
        "SIGTERM must flush the log even with durability never"
    );
}

#[tokio::test]
async fn deleted_queue_stays_deleted_and_name_is_reserved() {
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let url = create_queue(&client, "gone").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap();
    client.delete_queue().queue_url(&url).send().await.unwrap();
    // Recreating within 60 s: QueueDeletedRecently.
    assert_sqs_error(
        client.create_queue().queue_name("gone").send().await,
        400,
        "QueueDeletedRecently",
        "AWS.SimpleQueueService.QueueDeletedRecently",
    );
    server.kill9();
    server.restart();
    let client = server.client();
    assert_sqs_error(
        client.get_queue_url().queue_name("gone").send().await,
        400,
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
    assert!(client
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_configuration_and_purges_survive_sigkill() {
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let dlq = create_queue(&client, "cfg-dlq").await;
    let dlq_arn = queue_arn(&client, &dlq).await;
    let url = create_queue(&client, "cfg").await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}).to_string();
    client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(A::VisibilityTimeout, "17")
        .attributes(A::DelaySeconds, "0")
        .attributes(A::RedrivePolicy, policy)
        .send()
        .await
        .unwrap();
    client
        .add_permission()
        .queue_url(&url)
        .label("keepme")
        .aws_account_ids("111111111111")
        .actions("SendMessage")
        .send()
        .await
        .unwrap();
    client
        .untag_queue()
        .queue_url(&url)
        .tag_keys("none")
        .send()
        .await
        .unwrap();
    client
        .tag_queue()
        .queue_url(&url)
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    for i in 0..5 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("purged-{i}"))
            .send()
            .await
            .unwrap();
    }
    client.purge_queue().queue_url(&url).send().await.unwrap();
    client
        .send_message()
        .queue_url(&url)
        .message_body("after purge")
        .send()
        .await
        .unwrap();

    server.kill9();
    server.restart();
    let client = server.client();
    let url = server.queue_url("cfg");
    assert_eq!(queue_attr(&client, &url, A::VisibilityTimeout).await, "17");
    let stored: serde_json::Value =
        serde_json::from_str(&queue_attr(&client, &url, A::RedrivePolicy).await).unwrap();
    assert_eq!(stored["deadLetterTargetArn"], dlq_arn.as_str());
    assert!(queue_attr(&client, &url, A::Policy)
        .await
        .contains("keepme"));
    let tags = client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get("k")).map(String::as_str),
        Some("v")
    );
    let sources = client
        .list_dead_letter_source_queues()
        .queue_url(server.queue_url("cfg-dlq"))
        .send()
        .await
        .unwrap();
    assert_eq!(sources.queue_urls(), std::slice::from_ref(&url));
    let got = receive_n(&client, &url, 6, Duration::from_secs(3)).await;
    let bodies: Vec<_> = got.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(
        bodies,
        ["after purge"],
        "purged messages came back after kill -9"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_task_interrupted_by_sigkill_loses_and_duplicates_nothing() {
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let dlq = create_queue(&client, "mv-dlq").await;
    let dlq_arn = queue_arn(&client, &dlq).await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}).to_string();
    let src = create_queue_with(&client, "mv-src", &[(A::RedrivePolicy, policy.as_str())]).await;
    let mut ids = HashSet::new();
    for b in 0..4 {
        let entries = (0..10)
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(format!("mv-{b}-{i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = client
            .send_message_batch()
            .queue_url(&src)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        ids.extend(out.successful().iter().map(|e| e.message_id().to_string()));
    }
    // Every message to the DLQ: one delivery each (maxReceiveCount 1), then moved.
    for _ in 0..20 {
        let out = client
            .receive_message()
            .queue_url(&src)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty()
            && queue_attr(&client, &dlq, A::ApproximateNumberOfMessages).await == "40"
        {
            break;
        }
    }
    assert_eq!(
        queue_attr(&client, &dlq, A::ApproximateNumberOfMessages).await,
        "40"
    );
    client
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .max_number_of_messages_per_second(10)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| server.kill9());
    tokio::task::block_in_place(|| server.restart());
    let client = server.client();
    let mut seen = Vec::new();
    for q in ["mv-src", "mv-dlq"] {
        let got = receive_n(&client, &server.queue_url(q), 40, Duration::from_secs(5)).await;
        seen.extend(got.iter().map(|m| m.message_id().unwrap().to_string()));
    }
    // Drain anything a resumed task moved meanwhile.
    for q in ["mv-src", "mv-dlq"] {
        seen.extend(
            receive(&client, &server.queue_url(q), 10, 1)
                .await
                .iter()
                .map(|m| m.message_id().unwrap().to_string()),
        );
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique, ids, "messages lost by an interrupted move task");
    assert_eq!(
        seen.len(),
        ids.len(),
        "messages duplicated by an interrupted move task"
    );
    let tasks = client
        .list_message_move_tasks()
        .source_arn(&dlq_arn)
        .send()
        .await
        .unwrap();
    let status = tasks.results().first().and_then(|t| t.status());
    assert!(
        matches!(
            status,
            Some("RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED")
        ),
        "task after restart: {tasks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_cannot_open_a_data_directory_in_use() {
    if embedded_store_only("the data directory lock is the embedded store's") {
        return;
    }
    let server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let url = create_queue(&client, "locked").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("safe")
        .send()
        .await
        .unwrap();
    let (status, stderr) =
        tokio::task::block_in_place(|| server.run_second_instance(Duration::from_secs(20)));
    let status = status.unwrap_or_else(|| {
        panic!("a second stowage on a data directory in use kept running:\n{stderr}")
    });
    assert!(!status.success(), "second instance exited 0:\n{stderr}");
    assert!(
        !stderr.contains("panicked"),
        "second instance panicked:\n{stderr}"
    );
    assert!(
        stderr.to_ascii_lowercase().contains("lock"),
        "the error should say the directory is locked:\n{stderr}"
    );
    // The first server is unaffected.
    let got = receive(&client, &url, 10, 0).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("safe"));
}

#[tokio::test]
async fn a_foreign_file_in_the_log_directory_is_a_clear_error() {
    if embedded_store_only("the log directory is the embedded store's") {
        return;
    }
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    create_queue(&client, "foreign").await;
    let status = server.terminate();
    assert!(status.success());
    let wal = server.data_dir().join("wal");
    assert!(wal.is_dir(), "expected the log in {}", wal.display());
    std::fs::write(wal.join("notes.txt"), b"not a segment").unwrap();
    let (status, stderr) = server.run_second_instance(Duration::from_secs(20));
    match status {
        None => {
            // It started despite the stray file: acceptable only if it ignored it safely.
            panic!("stowage kept running with a foreign file in its log directory:\n{stderr}");
        }
        Some(status) => {
            assert!(
                !stderr.contains("panicked"),
                "panicked on a foreign file:\n{stderr}"
            );
            assert!(!status.success(), "exited 0:\n{stderr}");
            assert!(
                stderr.contains("notes.txt"),
                "the error should name the stray file:\n{stderr}"
            );
        }
    }
}

/// Small segments so compaction and segment deletion run during the test; the survivors must
/// be intact after kill -9, and disk use must follow live data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survivors_of_compaction_are_intact_after_sigkill() {
    if embedded_store_only("log compaction and its disk use are the embedded store's") {
        return;
    }
    let mut opts = ServerOptions::durable();
    opts.env
        .push(("STOWAGE_STORAGE_SEGMENT_SIZE_BYTES".into(), "65536".into()));
    let mut server = TestServer::start(opts);
    let client = server.client();
    let url = create_queue_with(&client, "compact", &[(A::VisibilityTimeout, "600")]).await;
    let pad = "z".repeat(1000);
    for b in 0..60 {
        let entries = (0..10)
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(format!("{:04}-{pad}", b * 10 + i))
                    .build()
                    .unwrap()
            })
            .collect();
        client
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }
    let size_before = dir_size(&server.data_dir().join("wal"));
    // Keep every 10th message; delete the rest.
    let mut kept = HashSet::new();
    let mut kept_handles = Vec::new();
    let mut seen = 0;
    while seen < 600 {
        let got = receive(&client, &url, 10, 1).await;
        assert!(!got.is_empty(), "only {seen} of 600 received");
        seen += got.len();
        for m in &got {
            let body = m.body().unwrap();
            let n: usize = body[..4].parse().unwrap();
            if n.is_multiple_of(10) {
                kept.insert(body.to_string());
                kept_handles.push(m.receipt_handle().unwrap().to_string());
            } else {
                delete(&client, &url, m).await;
            }
        }
    }
    assert_eq!(kept.len(), 60);
    // Survivors back to visible, so they can be read right after the restart.
    for h in &kept_handles {
        client
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(h)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    // Give background reclamation a moment.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let size_after = dir_size(&server.data_dir().join("wal"));
    tokio::task::block_in_place(|| server.kill9());
    tokio::task::block_in_place(|| server.restart());
    let client = server.client();
    let url = server.queue_url("compact");
    let got = receive_n(&client, &url, 60, Duration::from_secs(10)).await;
    let bodies: HashSet<String> = got.iter().map(|m| m.body().unwrap().to_string()).collect();
    assert_eq!(
        got.len(),
        60,
        "survivors lost or deleted messages back after kill -9"
    );
    assert_eq!(
        bodies, kept,
        "a survivor's body changed or a deleted message came back"
    );
    eprintln!("wal bytes: {size_before} with 600 live, {size_after} with 60 live");
    assert!(
        size_after < size_before,
        "disk use did not follow live data: {size_before} → {size_after} bytes"
    );
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
