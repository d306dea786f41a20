//! The sled index: what each record does to it, and rebuilds from the WAL.

use crate::tests::support::{message, rt};
use crate::{Append, Record, Storage, StorageConfig};

fn workload() -> Vec<Vec<Record>> {
    let mut fifo = message(2, 1, 10);
    fifo.group_id = Some("g".into());
    fifo.dedup_id = Some("dd".into());
    fifo.sequence_number = Some(42);
    let mut delayed = message(1, 2, 10);
    delayed.visible_at_ms += 60_000;
    let received = message(1, 3, 10);
    let deleted = message(1, 4, 10);
    let mut purged = message(4, 1, 10);
    purged.visible_at_ms += 1_000;
    purged.dedup_id = Some("p".into());
    let mut moved = message(6, 3, 10);
    moved.message_id = received.message_id;
    moved.receive_count = 2;
    moved.visible_at_ms = 7_777;
    vec![
        vec![
            Record::MessageSent(fifo.clone()),
            Record::MessageSent(delayed.clone()),
        ],
        vec![
            Record::MessageSent(received.clone()),
            Record::MessageSent(deleted.clone()),
        ],
        vec![Record::MessageReceived {
            queue_id: 1,
            message_id: received.message_id,
            receipt_epoch: 1,
            visible_at_ms: 5_000,
            receive_count: 1,
            first_receive_ms: 1,
        }],
        vec![Record::MessageReceived {
            queue_id: 1,
            message_id: deleted.message_id,
            receipt_epoch: 1,
            visible_at_ms: 6_000,
            receive_count: 1,
            first_receive_ms: 1,
        }],
        vec![Record::VisibilityChanged {
            queue_id: 1,
            message_id: received.message_id,
            visible_at_ms: 9_000,
        }],
        vec![Record::MessageDeleted {
            queue_id: 1,
            message_id: deleted.message_id,
        }],
        vec![
            Record::MessageSent(message(3, 1, 1)),
            Record::QueueDeleted {
                queue_id: 3,
                account: "a".into(),
                name: "n".into(),
                at_ms: 1,
            },
        ],
        // Purge empties in-flight/delayed of queue 4 but keeps its dedup entries.
        vec![
            Record::MessageSent(purged.clone()),
            Record::QueuePurged {
                queue_id: 4,
                at_ms: 2,
            },
        ],
        // A dead-letter move: out of queue 1's in-flight, into queue 6 as received.
        vec![Record::MessageMoved {
            from_queue: 1,
            message: moved.clone(),
            task_handle: None,
        }],
    ]
}

/// S9: each record kind updates the trees as documented; dedup entries expire after 5 minutes.
#[test]
fn records_update_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    for b in workload() {
        rt.block_on(s.append(Append {
            records: b,
            release: vec![],
        }))
        .unwrap();
    }
    let ix = s.index();
    assert!(ix.in_flight(1).unwrap().is_empty(), "moved out of queue 1");
    let d = message(1, 2, 0);
    assert_eq!(
        ix.delayed(1).unwrap(),
        vec![(d.message_id, d.visible_at_ms + 60_000)]
    );
    assert!(ix.in_flight(3).unwrap().is_empty() && ix.delayed(3).unwrap().is_empty());
    assert!(ix.delayed(4).unwrap().is_empty(), "purged");
    assert!(
        ix.dedup_lookup(4, None, "p", 0).unwrap().is_some(),
        "purge keeps dedup"
    );
    assert_eq!(
        ix.in_flight(6).unwrap(),
        vec![(message(1, 3, 0).message_id, 7_777)],
        "moved in"
    );
    let sent = message(2, 1, 0).sent_ms;
    let hit = ix.dedup_lookup(2, None, "dd", sent + 1).unwrap().unwrap();
    assert_eq!(hit.message_id, message(2, 1, 0).message_id);
    assert_eq!(hit.sequence_number, Some(42));
    assert_eq!(hit.expires_ms, sent + 300_000);
    assert!(ix
        .dedup_lookup(2, Some("g"), "dd", sent + 1)
        .unwrap()
        .is_some());
    assert!(ix
        .dedup_lookup(2, Some("other"), "dd", sent + 1)
        .unwrap()
        .is_none());
    assert!(
        ix.dedup_lookup(2, None, "dd", sent + 300_000)
            .unwrap()
            .is_none(),
        "expired"
    );
    assert_eq!(ix.stamp(), 13, "stamp = LSN of the last applied record");
}

/// S9: delete the sled directory → reopen → the rebuilt index equals the original.
/// A stale stamp (index behind the log) also triggers a rebuild.
#[test]
fn deleted_index_is_rebuilt_identically() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    for b in workload() {
        rt.block_on(s.append(Append {
            records: b,
            release: vec![],
        }))
        .unwrap();
    }
    let before = s.index().dump().unwrap();
    assert!(before.len() > 4, "{before:?}");
    rt.block_on(s.close()).unwrap();
    drop(s);

    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let (s, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert!(rec.index_rebuilt);
    assert_eq!(s.index().dump().unwrap(), before);
    drop(s);

    let (s, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert!(!rec.index_rebuilt, "stamp matches after a clean close");
    s.index().set_stamp(3, 0).unwrap();
    s.index().flush().unwrap();
    drop(s);
    let (s, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert!(rec.index_rebuilt, "stale stamp");
    assert_eq!(s.index().dump().unwrap(), before);
    drop(s);

    // Garbage in the index directory: wiped and rebuilt, not an error.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    std::fs::create_dir(dir.path().join("index")).unwrap();
    std::fs::write(
        dir.path().join("index").join("db"),
        b"not a sled database at all",
    )
    .unwrap();
    std::fs::write(dir.path().join("index").join("conf"), b"garbage").unwrap();
    let (s, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert!(rec.index_rebuilt);
    assert_eq!(s.index().dump().unwrap(), before);
}

/// Dedup entries are pruned by later FIFO sends once their window has ended,
/// so the index does not grow with every FIFO message ever sent.
#[test]
fn expired_dedup_entries_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    let fifo = |n: u64, sent_ms: u64| {
        let mut m = message(5, n, 1);
        m.group_id = Some("g".into());
        m.dedup_id = Some(format!("d{n}"));
        m.sent_ms = sent_ms;
        m.visible_at_ms = sent_ms;
        Record::MessageSent(m)
    };
    for n in 0..50 {
        rt.block_on(s.append(Append {
            records: vec![fifo(n, 1_000 + n)],
            release: vec![],
        }))
        .unwrap();
    }
    let dedup_len = |s: &Storage| {
        s.index()
            .dump()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t == "dedup")
            .count()
    };
    assert_eq!(dedup_len(&s), 100, "queue and group scope per message");
    // Ten minutes later: one send prunes all fifty.
    rt.block_on(s.append(Append {
        records: vec![fifo(99, 1_000 + 600_000)],
        release: vec![],
    }))
    .unwrap();
    assert_eq!(dedup_len(&s), 2);
    assert!(s
        .index()
        .dedup_lookup(5, None, "d99", 600_001)
        .unwrap()
        .is_some());
    assert!(
        s.index()
            .dedup_lookup(5, None, "d1", 1_002)
            .unwrap()
            .is_none(),
        "pruned"
    );
    // A rebuild prunes the same way.
    let before = s.index().dump().unwrap();
    rt.block_on(s.close()).unwrap();
    drop(s);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let (s, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert!(rec.index_rebuilt);
    assert_eq!(s.index().dump().unwrap(), before);
}

/// A close followed by a reopen in the same process keeps the index even when
/// sled has not yet released its file lock (it does so asynchronously): the
/// open waits for the lock instead of taking it for damage and wiping a good
/// index. This was the flaky "clean close keeps the index stamp".
#[test]
fn reopen_waits_for_the_previous_instance_to_release_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (first, wiped) = crate::index::Index::open(&path).unwrap();
    assert!(!wiped);
    first.set_stamp(42, 7).unwrap();
    first.flush().unwrap();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(first);
    });
    let (second, wiped) = crate::index::Index::open(&path).unwrap();
    holder.join().unwrap();
    assert!(!wiped, "a held lock is not damage");
    assert_eq!(second.stamp_with_crc().unwrap(), Some((42, 7)));
}
