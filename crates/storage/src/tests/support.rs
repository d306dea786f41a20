//! Shared test fixtures: sample records of every kind and a runtime helper.

use std::collections::BTreeMap;

use crate::record::{AttributeValue, MoveTaskState, QueueState, Record, StoredMessage};

/// A message with deterministic content derived from `n`.
pub(crate) fn message(queue_id: u64, n: u64, body_len: usize) -> StoredMessage {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id[8..].copy_from_slice(&queue_id.to_be_bytes());
    let mut attributes = BTreeMap::new();
    attributes.insert(
        "a".to_string(),
        AttributeValue {
            data_type: "String".into(),
            value: b"v".to_vec(),
        },
    );
    StoredMessage {
        queue_id,
        message_id: id,
        body: "x".repeat(body_len),
        attributes,
        trace_header: None,
        sender_id: "AIDEXAMPLE".into(),
        sent_ms: 1_700_000_000_000 + n,
        visible_at_ms: 1_700_000_000_000 + n,
        expires_at_ms: 1_700_000_000_000 + n + 345_600_000,
        group_id: None,
        dedup_id: None,
        sequence_number: None,
        dead_letter_source_arn: None,
        receive_count: 0,
        first_receive_ms: 0,
        receipt_epoch: 0,
    }
}

/// One record of every kind, in `RecordKind` tag order.
pub(crate) fn one_of_each() -> Vec<Record> {
    let mut attributes = BTreeMap::new();
    attributes.insert("VisibilityTimeout".to_string(), "30".to_string());
    let mut fifo = message(7, 2, 5);
    fifo.group_id = Some("g1".into());
    fifo.dedup_id = Some("d1".into());
    fifo.sequence_number = Some(18_000_000_000_000_000_001);
    fifo.visible_at_ms += 10_000;
    vec![
        Record::QueueUpserted(QueueState {
            queue_id: 7,
            account: "000000000000".into(),
            name: "q.fifo".into(),
            attributes,
            tags: BTreeMap::new(),
            created_ms: 1_700_000_000_000,
            last_modified_ms: 1_700_000_000_000,
        }),
        Record::QueueDeleted {
            queue_id: 9,
            account: "000000000000".into(),
            name: "old".into(),
            at_ms: 1_700_000_000_001,
        },
        Record::QueuePurged {
            queue_id: 8,
            at_ms: 1_700_000_000_002,
        },
        Record::MessageSent(fifo.clone()),
        Record::MessageReceived {
            queue_id: 7,
            message_id: message(7, 3, 0).message_id,
            receipt_epoch: 1,
            visible_at_ms: 1_700_000_030_000,
            receive_count: 1,
            first_receive_ms: 1_700_000_000_000,
        },
        Record::VisibilityChanged {
            queue_id: 7,
            message_id: message(7, 3, 0).message_id,
            visible_at_ms: 1_700_000_060_000,
        },
        Record::MessageDeleted {
            queue_id: 7,
            message_id: message(7, 4, 0).message_id,
        },
        Record::MessageMoved {
            from_queue: 7,
            message: {
                let mut m = message(11, 5, 3);
                m.receive_count = 4;
                m
            },
            task_handle: Some("t".into()),
        },
        Record::MoveTaskUpdated(MoveTaskState {
            task_handle: "t".into(),
            source_arn: "arn:aws:sqs:us-east-1:000000000000:dlq".into(),
            destination_arn: None,
            max_messages_per_second: Some(10),
            status: "RUNNING".into(),
            moved: 1,
            to_move: 2,
            failure_reason: None,
            started_ms: 1_700_000_000_000,
        }),
    ]
}

/// A current-thread tokio runtime for async calls in sync tests.
pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Small segments so tests rotate often.
pub(crate) fn small_config() -> crate::StorageConfig {
    crate::StorageConfig {
        segment_size_bytes: 4096,
        ..crate::StorageConfig::default()
    }
}

/// Writes `batches` into a fresh store (each acknowledged before the next),
/// closes it, returns (data dir, positions per batch).
pub(crate) fn build(
    batches: Vec<Vec<Record>>,
    cfg: &crate::StorageConfig,
) -> (tempfile::TempDir, Vec<Vec<crate::RecordPos>>) {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = crate::Storage::open(dir.path(), cfg).unwrap();
    let mut out = Vec::new();
    for b in batches {
        out.push(
            rt.block_on(s.append(crate::Append {
                records: b,
                release: vec![],
            }))
            .unwrap(),
        );
    }
    rt.block_on(s.close()).unwrap();
    (dir, out)
}

/// Path of segment `id` in the data directory `dir`.
pub(crate) fn seg_path(dir: &std::path::Path, id: u64) -> std::path::PathBuf {
    dir.join("wal")
        .join(crate::wal::format::segment_file_name(id))
}
