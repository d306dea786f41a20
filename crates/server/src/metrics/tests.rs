//! Rendering tests. They share the process-wide recorder (installed once);
//! each uses its own queue names so they can run in parallel.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use engine::{QueueGauges, QueueRef};

use super::snapshot::{dead_letter_target, Snapshot};
use super::*;

fn queue(name: &str, visible: u64, sent: u64) -> QueueGauges {
    QueueGauges {
        queue: QueueRef {
            account: "123456789012".into(),
            name: name.into(),
        },
        visible,
        not_visible: 2,
        delayed: 3,
        oldest_message_age_seconds: 42,
        sent_total: sent,
        sent_bytes_total: sent * 10,
        received_total: 5,
        deleted_total: 4,
        empty_receives_total: 7,
        dead_lettered_total: 1,
        moved_by_tasks_total: 6,
        deduplicated_total: 8,
    }
}

/// The value of the one sample line `name{labels…}` (labels in any order).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let Some(rest) = l.strip_prefix(name) else {
                return false;
            };
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                return false;
            }
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn q(name: &str) -> [(&'static str, String); 2] {
    [
        ("queue", name.to_owned()),
        ("account", "123456789012".to_owned()),
    ]
}

fn has(text: &str, metric: &str, queue: &str) -> Option<f64> {
    let labels = q(queue);
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sample(text, metric, &labels)
}

#[test]
fn queue_series_carry_the_engine_figures() {
    let mut snap = Snapshot::default();
    snap.queues.push(queue("render-figures", 11, 20));
    let text = render_snapshot(install(), &snap);
    let name = "render-figures";
    assert_eq!(has(&text, QUEUE_VISIBLE, name), Some(11.0));
    assert_eq!(has(&text, QUEUE_NOT_VISIBLE, name), Some(2.0));
    assert_eq!(has(&text, QUEUE_DELAYED, name), Some(3.0));
    assert_eq!(has(&text, QUEUE_OLDEST_AGE, name), Some(42.0));
    assert_eq!(has(&text, QUEUE_SENT, name), Some(20.0));
    assert_eq!(has(&text, QUEUE_SENT_BYTES, name), Some(200.0));
    assert_eq!(has(&text, QUEUE_RECEIVED, name), Some(5.0));
    assert_eq!(has(&text, QUEUE_DELETED, name), Some(4.0));
    assert_eq!(has(&text, QUEUE_EMPTY_RECEIVES, name), Some(7.0));
    assert_eq!(has(&text, QUEUE_DEAD_LETTERED, name), Some(1.0));
    assert_eq!(has(&text, QUEUE_MOVED, name), Some(6.0));
    assert_eq!(has(&text, QUEUE_DEDUPLICATED, name), Some(8.0));
    assert_eq!(has(&text, QUEUE_IS_DEAD_LETTER, name), Some(0.0));
    assert!(
        text.contains(&format!("# TYPE {QUEUE_SENT} counter")),
        "{text}"
    );
    assert!(
        text.contains(&format!("# TYPE {QUEUE_VISIBLE} gauge")),
        "{text}"
    );
}

#[test]
fn deleted_queue_series_vanish() {
    let mut snap = Snapshot::default();
    snap.queues.push(queue("vanish-kept", 1, 1));
    snap.queues.push(queue("vanish-gone", 9, 9));
    sizes::TABLE.record("123456789012", "vanish-gone", [100, 2000]);
    sizes::TABLE.record("123456789012", "vanish-kept", [10]);
    let before = render_snapshot(install(), &snap);
    assert_eq!(has(&before, QUEUE_VISIBLE, "vanish-gone"), Some(9.0));
    assert_eq!(
        has(&before, &format!("{QUEUE_SENT_SIZE}_count"), "vanish-gone"),
        Some(2.0)
    );

    snap.queues.retain(|g| g.queue.name != "vanish-gone");
    let after = render_snapshot(install(), &snap);
    assert!(!after.contains("vanish-gone"), "{after}");
    assert_eq!(has(&after, QUEUE_VISIBLE, "vanish-kept"), Some(1.0));
    assert_eq!(
        has(&after, &format!("{QUEUE_SENT_SIZE}_count"), "vanish-kept"),
        Some(1.0)
    );
}

#[test]
fn sent_size_histogram_is_cumulative_and_forgets_gone_queues() {
    let name = "sizes-histogram";
    let table = sizes::SizeTable::default();
    table.record("123456789012", name, [10, 64, 65, 5000, 2_000_000]);
    let present: HashSet<(&str, &str)> = [("123456789012", name)].into_iter().collect();
    let mut out = String::new();
    let now = Instant::now();
    table.render(&mut out, &present, now);
    let bucket = |le: &str| {
        sample(
            &out,
            &format!("{QUEUE_SENT_SIZE}_bucket"),
            &[("queue", name), ("le", le)],
        )
    };
    assert_eq!(bucket("64"), Some(2.0));
    assert_eq!(bucket("256"), Some(3.0));
    assert_eq!(bucket("4096"), Some(3.0));
    assert_eq!(bucket("16384"), Some(4.0));
    assert_eq!(bucket("1048576"), Some(4.0));
    assert_eq!(bucket("+Inf"), Some(5.0));
    assert_eq!(
        sample(&out, &format!("{QUEUE_SENT_SIZE}_sum"), &[("queue", name)]),
        Some(2_005_139.0)
    );
    assert_eq!(
        out.matches(&format!("# TYPE {QUEUE_SENT_SIZE} histogram"))
            .count(),
        1
    );

    // Absent: hidden at once, forgotten after FORGET_AFTER.
    let nobody = HashSet::new();
    let mut out = String::new();
    table.render(&mut out, &nobody, now);
    assert!(!out.contains(name));
    table.render(
        &mut out,
        &nobody,
        now + sizes::FORGET_AFTER + Duration::from_secs(1),
    );
    let mut out = String::new();
    table.render(
        &mut out,
        &present,
        now + sizes::FORGET_AFTER + Duration::from_secs(2),
    );
    assert!(
        !out.contains(name),
        "entry should have been forgotten: {out}"
    );
}

/// Sends record sizes concurrently (read lock and atomic adds): nothing is
/// lost, and `+Inf`, `_count` and the buckets agree.
#[test]
fn sent_sizes_recorded_from_many_threads_add_up() {
    let name = "sizes-threads";
    let table = sizes::SizeTable::default();
    std::thread::scope(|scope| {
        for t in 0..8u64 {
            let table = &table;
            scope.spawn(move || {
                for i in 0..1000u64 {
                    let size = if (t + i) % 2 == 0 { 100 } else { 5000 };
                    table.record("123456789012", name, [size as usize]);
                }
            });
        }
    });
    let present: HashSet<(&str, &str)> = [("123456789012", name)].into_iter().collect();
    let mut out = String::new();
    table.render(&mut out, &present, Instant::now());
    let get = |suffix: &str, le: Option<&str>| {
        let mut labels = vec![("queue", name)];
        labels.extend(le.map(|le| ("le", le)));
        sample(&out, &format!("{QUEUE_SENT_SIZE}_{suffix}"), &labels)
    };
    assert_eq!(get("bucket", Some("256")), Some(4000.0));
    assert_eq!(get("bucket", Some("16384")), Some(8000.0));
    assert_eq!(get("bucket", Some("+Inf")), Some(8000.0));
    assert_eq!(get("count", None), Some(8000.0));
    assert_eq!(get("sum", None), Some(4000.0 * 100.0 + 4000.0 * 5000.0));
}

#[test]
fn dead_letter_queues_are_flagged() {
    let mut snap = Snapshot::default();
    snap.queues.push(queue("flag-source", 0, 0));
    snap.queues.push(queue("flag-dlq", 3, 0));
    snap.dead_letter.insert(QueueRef {
        account: "123456789012".into(),
        name: "flag-dlq".into(),
    });
    let text = render_snapshot(install(), &snap);
    assert_eq!(has(&text, QUEUE_IS_DEAD_LETTER, "flag-dlq"), Some(1.0));
    assert_eq!(has(&text, QUEUE_IS_DEAD_LETTER, "flag-source"), Some(0.0));
}

#[test]
fn redrive_policy_target_is_parsed() {
    assert_eq!(
        dead_letter_target(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":"3"}"#
        ),
        Some(QueueRef {
            account: "123456789012".into(),
            name: "dlq".into()
        })
    );
    assert_eq!(dead_letter_target("not json"), None);
    assert_eq!(
        dead_letter_target(r#"{"deadLetterTargetArn":"arn:aws:sns:r:1:x"}"#),
        None
    );
    assert_eq!(
        dead_letter_target(r#"{"deadLetterTargetArn":"arn:aws:sqs:r:1:x:y"}"#),
        None
    );
    assert_eq!(dead_letter_target(r#"{"maxReceiveCount":3}"#), None);
}

#[test]
fn storage_and_process_series_are_rendered() {
    let snap = Snapshot {
        storage: Some(storage::StorageStats {
            segments: 3,
            disk_bytes: 4096,
            live_bytes: 1000,
            appended_bytes: 5000,
            fsyncs: 12,
            compactions: 1,
            reclaimed_bytes: 2048,
            index_bytes: 777,
        }),
        poisoned: true,
        ..Snapshot::default()
    };
    let text = render_snapshot(install(), &snap);
    assert_eq!(sample(&text, WAL_SEGMENTS, &[]), Some(3.0));
    assert_eq!(sample(&text, WAL_DISK_BYTES, &[]), Some(4096.0));
    assert_eq!(sample(&text, WAL_LIVE_BYTES, &[]), Some(1000.0));
    assert_eq!(sample(&text, WAL_APPENDED_BYTES, &[]), Some(5000.0));
    assert_eq!(sample(&text, WAL_FSYNCS, &[]), Some(12.0));
    assert_eq!(sample(&text, WAL_COMPACTIONS, &[]), Some(1.0));
    assert_eq!(sample(&text, WAL_RECLAIMED_BYTES, &[]), Some(2048.0));
    assert_eq!(sample(&text, INDEX_DISK_BYTES, &[]), Some(777.0));
    assert_eq!(sample(&text, WAL_POISONED, &[]), Some(1.0));
    let rss = sample(&text, PROCESS_RSS, &[]).expect("rss on Linux");
    assert!(rss > 1_000_000.0, "rss {rss}");
    let fds = sample(&text, PROCESS_OPEN_FDS, &[]).expect("fds on Linux");
    assert!(fds >= 3.0, "fds {fds}");
    assert!(sample(&text, PROCESS_MAX_FDS, &[]).expect("max fds") >= fds);
    assert!(sample(&text, PROCESS_UPTIME, &[]).expect("uptime") >= 0.0);
    assert!(sample(&text, PROCESS_START_TIME, &[]).expect("start") > 1.6e9);
    assert_eq!(
        sample(&text, BUILD_INFO, &[("version", env!("CARGO_PKG_VERSION"))]),
        Some(1.0)
    );
}

/// Another store (PostgreSQL) has no log: no WAL series at all, rather
/// than zeros that read as an empty log.
#[test]
fn without_a_log_no_wal_series_are_rendered() {
    let snap = Snapshot {
        poisoned: true,
        ..Snapshot::default()
    };
    let text = render_snapshot(install(), &snap);
    for name in [WAL_SEGMENTS, WAL_DISK_BYTES, WAL_POISONED, INDEX_DISK_BYTES] {
        assert_eq!(sample(&text, name, &[]), None, "{name}");
    }
    assert!(sample(&text, PROCESS_UPTIME, &[]).is_some());
}

#[test]
fn requests_are_counted_by_action_and_outcome() {
    record_request("TestActionCounted", "success", 0.002);
    record_request("TestActionCounted", "success", 0.003);
    record_request("TestActionCounted", "QueueDoesNotExist", 0.5);
    let text = render_snapshot(install(), &Snapshot::default());
    let ok = [("action", "TestActionCounted"), ("outcome", "success")];
    let err = [
        ("action", "TestActionCounted"),
        ("outcome", "QueueDoesNotExist"),
    ];
    assert_eq!(sample(&text, REQUESTS, &ok), Some(2.0));
    assert_eq!(sample(&text, REQUESTS, &err), Some(1.0));
    let count = format!("{REQUEST_DURATION}_count");
    assert_eq!(
        sample(&text, &count, &[("action", "TestActionCounted")]),
        Some(3.0)
    );
    let bucket = format!("{REQUEST_DURATION}_bucket");
    assert_eq!(
        sample(
            &text,
            &bucket,
            &[("action", "TestActionCounted"), ("le", "0.005")]
        ),
        Some(2.0)
    );
    assert!(text.contains(&format!("# TYPE {REQUEST_DURATION} histogram")));
}

#[test]
fn fsync_histogram_from_storage_uses_our_buckets() {
    install();
    metrics::histogram!(WAL_FSYNC_SECONDS).record(0.0003);
    metrics::histogram!(WAL_GROUP_COMMIT_RECORDS).record(5.0);
    let text = render_snapshot(install(), &Snapshot::default());
    assert!(
        text.contains(&format!("# TYPE {WAL_FSYNC_SECONDS} histogram")),
        "{text}"
    );
    assert!(
        sample(
            &text,
            &format!("{WAL_FSYNC_SECONDS}_bucket"),
            &[("le", "0.0005")]
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    assert!(
        sample(
            &text,
            &format!("{WAL_GROUP_COMMIT_RECORDS}_bucket"),
            &[("le", "8")]
        )
        .unwrap_or(0.0)
            >= 1.0
    );
}

#[test]
fn recovery_and_gauges_are_published() {
    record_recovery(&storage::Recovered {
        segments: 2,
        records: 10,
        truncated_bytes: 17,
        dropped_records: 1,
        index_rebuilt: true,
        next_lsn: 11,
        duration_ms: 1500,
    });
    let text = render_snapshot(install(), &Snapshot::default());
    assert_eq!(sample(&text, RECOVERY_TRUNCATED_BYTES, &[]), Some(17.0));
    assert_eq!(sample(&text, RECOVERY_DURATION, &[]), Some(1.5));
    assert_eq!(sample(&text, RECOVERY_INDEX_REBUILT, &[]), Some(1.0));
}

#[test]
fn every_family_has_one_type_line() {
    let mut snap = Snapshot::default();
    snap.queues.push(queue("types-a", 1, 1));
    snap.queues.push(queue("types-b", 1, 1));
    sizes::TABLE.record("123456789012", "types-a", [1]);
    sizes::TABLE.record("123456789012", "types-b", [1]);
    record_request("TypesAction", "success", 0.1);
    http_in_flight(1.0);
    http_in_flight(-1.0);
    let text = render_snapshot(install(), &snap);
    let mut seen = HashSet::new();
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap_or_default();
        assert!(seen.insert(name.to_owned()), "duplicate TYPE for {name}");
        assert!(name.starts_with("stowage_"), "unprefixed {name}");
    }
}

#[test]
fn proc_parsers() {
    use super::process::{parse_max_open_files, parse_vm_rss};
    assert_eq!(
        parse_vm_rss("Name:\tx\nVmRSS:\t    2048 kB\n"),
        Some(2048 * 1024)
    );
    assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    assert_eq!(
        parse_max_open_files(
            "Limit                     Soft Limit           Hard Limit           Units     \n\
             Max open files            1024                 524288               files     \n"
        ),
        Some(1024)
    );
}

/// Through a real engine: a created queue appears with the engine's numbers,
/// its dead-letter target is flagged, and a deleted queue's series go away.
#[tokio::test]
async fn render_follows_a_real_engine() {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let (storage, recovered) =
        storage::Storage::open(dir.path(), &storage::StorageConfig::default()).unwrap();
    record_recovery(&recovered);
    let clock = engine::ManualClock::new(1_700_000_000_000);
    let engine = engine::Engine::open(storage, Arc::new(clock), engine::EngineConfig::default())
        .await
        .unwrap();
    let caller = engine::Caller {
        account: "210987654321".into(),
        sender_id: "210987654321".into(),
    };
    let dlq = engine
        .create_queue(&caller, "engine-dlq", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"3"}}"#,
        engine.queue_arn(&dlq)
    );
    let src = engine
        .create_queue(
            &caller,
            "engine-src",
            [("RedrivePolicy".to_string(), policy)]
                .into_iter()
                .collect(),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    for body in ["a", "bb"] {
        engine
            .send_message(
                &caller,
                &src,
                engine::SendEntry {
                    body: body.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    let labels = |name: &'static str| [("queue", name), ("account", "210987654321")];
    let text = render(&engine).await;
    assert_eq!(
        sample(&text, QUEUE_VISIBLE, &labels("engine-src")),
        Some(2.0)
    );
    assert_eq!(sample(&text, QUEUE_SENT, &labels("engine-src")), Some(2.0));
    assert_eq!(
        sample(&text, QUEUE_IS_DEAD_LETTER, &labels("engine-dlq")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, QUEUE_IS_DEAD_LETTER, &labels("engine-src")),
        Some(0.0)
    );
    assert_eq!(sample(&text, WAL_POISONED, &[]), Some(0.0));
    assert!(
        sample(&text, WAL_APPENDED_BYTES, &[]).unwrap_or(0.0) > 0.0,
        "{text}"
    );

    engine.delete_queue(&caller, &src).await.unwrap();
    let text = render(&engine).await;
    assert!(!text.contains("engine-src"), "{text}");
    assert_eq!(
        sample(&text, QUEUE_VISIBLE, &labels("engine-dlq")),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, QUEUE_IS_DEAD_LETTER, &labels("engine-dlq")),
        Some(0.0),
        "no queue targets it any more"
    );
    engine.shutdown().await.unwrap();
}

/// `serve` answers `GET /metrics` on its own listener and stops on shutdown.
#[tokio::test]
async fn serve_answers_get_metrics_and_stops() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let (storage, _) =
        storage::Storage::open(dir.path(), &storage::StorageConfig::default()).unwrap();
    let clock = engine::ManualClock::new(1_700_000_000_000);
    let engine = engine::Engine::open(storage, Arc::new(clock), engine::EngineConfig::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, engine.clone(), async move {
        let _ = stopped.await;
    }));

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(&format!("content-type: {CONTENT_TYPE_TEXT}")),
        "{response}"
    );
    assert!(
        response.contains("stowage_build_info{version="),
        "{response}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("serve stops on shutdown")
        .unwrap()
        .unwrap();
    engine.shutdown().await.unwrap();
}
