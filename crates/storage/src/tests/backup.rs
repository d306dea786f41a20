//! Online backup: a copy taken while appends, deletions and reclamation go
//! on opens as exactly the log up to its point.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::tests::support::message;
use crate::{Append, Record, RecordPos, Storage, StorageConfig, StorageError};

/// Every record acknowledged before `backup_to` started is in the copy; the
/// copy is a clean prefix of the log (nothing torn, nothing after its point,
/// every batch whole), opens without repair, and rebuilds its index.
#[test]
fn backup_under_concurrent_appends_holds_everything_acknowledged_before() {
    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let target = backup.path().join("copy");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cfg = StorageConfig {
        segment_size_bytes: 4096,
        ..StorageConfig::default()
    };
    let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
    // (LSN order is not needed: message ids identify records.)
    let acked: Arc<Mutex<Vec<[u8; 16]>>> = Arc::default();
    let deleted: Arc<Mutex<Vec<[u8; 16]>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let (before, report) = rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..3u64 {
            let (s, acked, deleted, running) =
                (s.clone(), acked.clone(), deleted.clone(), running.clone());
            tasks.push(tokio::spawn(async move {
                let mut mine: Vec<(RecordPos, [u8; 16])> = Vec::new();
                let mut i = 0u64;
                while running.load(Ordering::SeqCst) {
                    let batch: Vec<Record> = (0..3)
                        .map(|j| Record::MessageSent(message(t, i * 3 + j, 200)))
                        .collect();
                    let ids: Vec<[u8; 16]> = batch
                        .iter()
                        .map(|r| match r {
                            Record::MessageSent(m) => m.message_id,
                            _ => unreachable!(),
                        })
                        .collect();
                    let pos = s
                        .append(Append {
                            records: batch,
                            release: vec![],
                        })
                        .await
                        .unwrap();
                    acked.lock().unwrap().extend(&ids);
                    mine.extend(pos.into_iter().zip(ids));
                    // Delete the oldest now and then, so segments die and get reclaimed.
                    if i % 2 == 1 {
                        let (p, id) = mine.remove(0);
                        s.append(Append {
                            records: vec![Record::MessageDeleted {
                                queue_id: t,
                                message_id: id,
                            }],
                            release: vec![p],
                        })
                        .await
                        .unwrap();
                        deleted.lock().unwrap().push(id);
                    }
                    i += 1;
                }
            }));
        }
        // Progress, not time, decides each step (a loaded machine may be
        // slow): enough load and reclamation before the backup, more after.
        let wait_until = |what: &'static str, done: &dyn Fn() -> bool| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
            while !done() {
                assert!(std::time::Instant::now() < deadline, "no progress: {what}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        wait_until("load before the backup", &|| {
            acked.lock().unwrap().len() > 300 && s.stats().reclaimed_bytes > 0
        });
        let before = acked.lock().unwrap().clone();
        let report = s.backup_to(&target).await.unwrap();
        let after = before.len() + 30;
        wait_until("load after the backup", &|| {
            acked.lock().unwrap().len() > after
        });
        running.store(false, Ordering::SeqCst);
        for t in tasks {
            t.await.unwrap();
        }
        (before, report)
    });
    assert!(before.len() > 30, "load ran: {}", before.len());
    assert!(report.segments > 2, "{report:?}");
    let total = acked.lock().unwrap().len();
    assert!(total > before.len(), "appends went on during the backup");
    assert!(s.stats().reclaimed_bytes > 0, "reclamation ran");
    drop(s);
    // A fresh backup has no index yet; that is no damage.
    let fresh = crate::check::check(&target).unwrap();
    assert!(fresh.is_clean(), "{:?}", fresh.findings);

    let (copy, rec) = Storage::open(&target, &cfg).unwrap();
    assert_eq!(rec.truncated_bytes, 0, "a clean cut: {rec:?}");
    assert_eq!(rec.dropped_records, 0);
    assert!(rec.index_rebuilt, "the index is rebuilt from the copy");
    assert_eq!(rec.next_lsn, report.next_lsn, "exactly up to the point");
    let mut sent = std::collections::HashSet::new();
    let mut ended = std::collections::HashSet::new();
    copy.replay(&mut |_, r| {
        match r {
            Record::MessageSent(m) => {
                sent.insert(m.message_id);
            }
            Record::MessageDeleted { message_id, .. } => {
                ended.insert(message_id);
            }
            _ => {}
        }
        Ok(())
    })
    .unwrap();
    // Every message acknowledged before the backup and never deleted is in
    // the copy (a deleted one may be gone: its segment was reclaimed).
    let deleted = deleted.lock().unwrap().clone();
    let kept: Vec<_> = before.iter().filter(|id| !deleted.contains(id)).collect();
    assert!(!kept.is_empty());
    for id in kept {
        assert!(
            sent.contains(id),
            "acknowledged before the backup, missing from it"
        );
    }
    assert!(!ended.is_empty(), "deletions are in the copy too");
    // The copy is a data directory like any other: it checks clean.
    drop(copy);
    let report = crate::check::check(&target).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
}

/// The target must be new or empty.
#[test]
fn backup_refuses_a_non_empty_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    std::fs::write(target.path().join("x"), b"x").unwrap();
    let rt = crate::tests::support::rt();
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    let err = rt.block_on(s.backup_to(target.path())).unwrap_err();
    assert!(matches!(err, StorageError::Io { .. }), "{err}");
    assert!(err.to_string().contains("not empty"), "{err}");
}
