//! Fail-stop behaviour under injected I/O failures, and simulated power loss.

use std::sync::Arc;

use crate::io::{FaultOp, FaultyFs};
use crate::tests::support::{message, one_of_each, rt};
use crate::{Append, Durability, Health, Record, Storage, StorageConfig, StorageError};

/// S8: a failed fdatasync poisons the log: the failing append and every later
/// one get `Poisoned`, health says so, nothing is retried.
#[test]
fn failed_fsync_poisons() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let fs = FaultyFs::new();
    let (s, _) =
        Storage::open_with_fs(dir.path(), &StorageConfig::default(), Arc::new(fs.clone())).unwrap();
    rt.block_on(s.append(Append {
        records: one_of_each(),
        release: vec![],
    }))
    .unwrap();
    assert_eq!(s.health(), Health::Ok);
    fs.fail_nth(FaultOp::SyncData, 1);
    let err = rt
        .block_on(s.append(Append {
            records: vec![Record::MessageSent(message(1, 1, 10))],
            release: vec![],
        }))
        .unwrap_err();
    assert!(matches!(err, StorageError::Poisoned(_)), "{err}");
    assert!(matches!(s.health(), Health::Poisoned(r) if r.contains("injected")));
    let err = s
        .submit(Append {
            records: one_of_each(),
            release: vec![],
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::Poisoned(_)), "{err}");
    assert!(matches!(
        rt.block_on(s.sync()),
        Err(StorageError::Poisoned(_))
    ));
    let fsyncs = s.stats().fsyncs;
    assert!(matches!(
        rt.block_on(s.close()),
        Err(StorageError::Poisoned(_))
    ));
    assert_eq!(s.stats().fsyncs, fsyncs, "a failed fsync is never retried");
    drop(s);
    // After restart everything acknowledged before the failure is there.
    let (_, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert!(rec.records >= one_of_each().len() as u64);
}

/// S8: a failed write poisons too (durability `never`, so the write is the only I/O).
#[test]
fn failed_write_poisons() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let fs = FaultyFs::new();
    let cfg = StorageConfig {
        durability: Durability::Never,
        ..StorageConfig::default()
    };
    let (s, _) = Storage::open_with_fs(dir.path(), &cfg, Arc::new(fs.clone())).unwrap();
    fs.fail_nth(FaultOp::Append, 2);
    rt.block_on(s.append(Append {
        records: one_of_each(),
        release: vec![],
    }))
    .unwrap();
    let err = rt
        .block_on(s.append(Append {
            records: one_of_each(),
            release: vec![],
        }))
        .unwrap_err();
    assert!(matches!(err, StorageError::Poisoned(_)), "{err}");
    assert!(matches!(s.health(), Health::Poisoned(_)));
}

/// S2: with durability `always`, a power loss right after an acknowledgement
/// loses nothing acknowledged; with `never`, unsynced appends vanish cleanly.
#[test]
fn power_loss_keeps_acknowledged() {
    for durability in [Durability::Always, Durability::Never] {
        let dir = tempfile::tempdir().unwrap();
        let rt = rt();
        let fs = FaultyFs::new();
        let cfg = StorageConfig {
            durability,
            segment_size_bytes: 4096,
            ..StorageConfig::default()
        };
        let (s, _) = Storage::open_with_fs(dir.path(), &cfg, Arc::new(fs.clone())).unwrap();
        let mut acked = 0u64;
        for i in 0..30 {
            let recs: Vec<Record> = (0..3)
                .map(|j| Record::MessageSent(message(1, i * 3 + j, 150)))
                .collect();
            rt.block_on(s.append(Append {
                records: recs,
                release: vec![],
            }))
            .unwrap();
            acked += 3;
            if i == 10 {
                rt.block_on(s.sync()).unwrap();
            }
        }
        fs.crash().unwrap();
        drop(s);
        let (s, rec) = Storage::open(dir.path(), &cfg).unwrap();
        match durability {
            Durability::Always => assert_eq!(rec.records, acked),
            _ => assert!(rec.records >= 33 && rec.records % 3 == 0, "{rec:?}"),
        }
        let mut n = 0;
        s.replay(&mut |_, r| {
            assert_eq!(r, Record::MessageSent(message(1, n, 150)));
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, rec.records);
    }
}

/// Each append gets its own result from the writer: when an fsync fails with
/// many appends in flight, every one of them (in the failing group or queued
/// behind it) gets `Poisoned` and none waits forever; every append
/// acknowledged before the failure is there after a restart.
#[test]
fn every_append_in_flight_when_the_log_fails_gets_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fs = FaultyFs::new();
    let (s, _) =
        Storage::open_with_fs(dir.path(), &StorageConfig::default(), Arc::new(fs.clone())).unwrap();
    fs.fail_nth(FaultOp::SyncData, 20);
    let acked: Vec<u64> = rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..32u64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0.. {
                    let n = t * 1_000_000 + i;
                    let append = Append {
                        records: vec![Record::MessageSent(message(1, n, 100))],
                        release: vec![],
                    };
                    match s.append(append).await {
                        Ok(_) => acked.push(n),
                        Err(StorageError::Poisoned(_)) => return acked,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                acked
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            let done = tokio::time::timeout(std::time::Duration::from_secs(120), task)
                .await
                .expect("an appender never got its result");
            all.extend(done.unwrap());
        }
        all
    });
    assert!(!acked.is_empty());
    drop(s);
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    let mut present = std::collections::HashSet::new();
    s.replay(&mut |_, r| {
        if let Record::MessageSent(m) = r {
            present.insert(m.message_id);
        }
        Ok(())
    })
    .unwrap();
    for n in acked {
        assert!(
            present.contains(&message(1, n, 100).message_id),
            "acknowledged append {n} lost"
        );
    }
}
