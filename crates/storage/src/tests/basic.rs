//! The public API end to end: append, read, replay, reopen, durability modes.

use crate::tests::support::{message, one_of_each, rt, small_config};
use crate::{Append, Durability, Health, Record, Storage, StorageConfig, StorageError};

fn collect(s: &Storage) -> Vec<(crate::RecordPos, Record)> {
    let mut out = Vec::new();
    s.replay(&mut |p, r| {
        out.push((p, r));
        Ok(())
    })
    .unwrap();
    out
}

/// S1: an acknowledged append is readable by position and survives reopen, in log order.
#[test]
fn append_read_replay_reopen() {
    for durability in [Durability::Always, Durability::Interval, Durability::Never] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StorageConfig {
            durability,
            ..small_config()
        };
        let rt = rt();
        let records = one_of_each();
        let positions = {
            let (s, rec) = Storage::open(dir.path(), &cfg).unwrap();
            assert_eq!(rec.records, 0);
            assert_eq!(rec.next_lsn, 1);
            let mut positions = Vec::new();
            for r in &records {
                positions.extend(
                    rt.block_on(s.append(Append {
                        records: vec![r.clone()],
                        release: vec![],
                    }))
                    .unwrap(),
                );
            }
            for (p, r) in positions.iter().zip(&records) {
                assert_eq!(&s.read(*p).unwrap(), r);
            }
            assert_eq!(
                collect(&s).into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
                records
            );
            rt.block_on(s.close()).unwrap();
            positions
        };
        let (s, rec) = Storage::open(dir.path(), &cfg).unwrap();
        assert_eq!(rec.records, records.len() as u64);
        assert_eq!(rec.next_lsn, records.len() as u64 + 1);
        assert_eq!(rec.truncated_bytes, 0);
        assert!(!rec.index_rebuilt, "clean close keeps the index stamp");
        let replayed = collect(&s);
        assert_eq!(
            replayed.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            positions
        );
        assert_eq!(
            replayed.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
            records
        );
        assert_eq!(s.health(), Health::Ok);
    }
}

/// S4: batches get consecutive positions in one segment; many segments rotate correctly.
#[test]
fn batches_rotate_and_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
    let mut all = Vec::new();
    for i in 0..50u64 {
        let recs: Vec<Record> = (0..5)
            .map(|j| Record::MessageSent(message(1, i * 10 + j, 100)))
            .collect();
        let pos = rt
            .block_on(s.append(Append {
                records: recs.clone(),
                release: vec![],
            }))
            .unwrap();
        assert!(pos
            .windows(2)
            .all(|w| w[0].segment == w[1].segment && w[0].offset + w[0].len == w[1].offset));
        all.extend(pos.into_iter().zip(recs));
    }
    assert!(s.stats().segments > 5, "{:?}", s.stats());
    for (p, r) in &all {
        assert_eq!(&s.read(*p).unwrap(), r);
    }
    drop(s);
    let (s, rec) = Storage::open(dir.path(), &cfg).unwrap();
    assert_eq!(rec.records, 250);
    assert_eq!(collect(&s), all);
}

/// Concurrent submitters: log order equals submit order and every append is acknowledged.
#[test]
fn concurrent_appends_all_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
    let acked = rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..16u64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for i in 0..20u64 {
                    let r = Record::MessageSent(message(t, i, 64));
                    let p = s
                        .append(Append {
                            records: vec![r.clone()],
                            release: vec![],
                        })
                        .await
                        .unwrap();
                    out.push((p[0], r));
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    assert_eq!(acked.len(), 320);
    let stats = s.stats();
    assert!(
        stats.fsyncs <= 320,
        "group commit should not sync more than once per append: {stats:?}"
    );
    drop(s);
    let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
    let mut replayed = collect(&s);
    replayed.sort_by_key(|(p, _)| *p);
    let mut acked = acked;
    acked.sort_by_key(|(p, _)| *p);
    assert_eq!(replayed, acked);
}

/// S10: a second open of the same directory is refused while the first is open.
#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    let err = Storage::open(dir.path(), &StorageConfig::default()).unwrap_err();
    assert!(matches!(err, StorageError::Locked(_)), "{err}");
    drop(s);
    Storage::open(dir.path(), &StorageConfig::default()).unwrap();
}

/// After close, appends are refused with `Closed`.
#[test]
fn closed_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    rt.block_on(s.close()).unwrap();
    let err = s
        .submit(Append {
            records: one_of_each(),
            release: vec![],
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::Closed), "{err}");
}

/// `sync` works in `never` mode and counts an fsync.
#[test]
fn sync_in_never_mode() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let cfg = StorageConfig {
        durability: Durability::Never,
        ..StorageConfig::default()
    };
    let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
    rt.block_on(s.append(Append {
        records: one_of_each(),
        release: vec![],
    }))
    .unwrap();
    let before = s.stats().fsyncs;
    rt.block_on(s.sync()).unwrap();
    assert!(s.stats().fsyncs > before);
}

/// Bad positions are errors, never panics.
#[test]
fn bad_positions_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    let p = rt
        .block_on(s.append(Append {
            records: one_of_each(),
            release: vec![],
        }))
        .unwrap();
    let good = p[1];
    for bad in [
        crate::RecordPos {
            segment: 999,
            ..good
        },
        crate::RecordPos {
            offset: good.offset + 1,
            ..good
        },
        crate::RecordPos {
            len: good.len - 1,
            ..good
        },
        crate::RecordPos { len: 0, ..good },
        crate::RecordPos {
            offset: u32::MAX,
            len: u32::MAX,
            ..good
        },
        crate::RecordPos { offset: 0, ..good },
    ] {
        let err = s.read(bad).unwrap_err();
        assert!(
            matches!(err, StorageError::BadPosition { .. }),
            "{bad:?}: {err}"
        );
    }
    // Releasing unknown positions is harmless.
    s.release(
        crate::RecordPos {
            segment: 12345,
            offset: 7,
            len: 3,
        },
        None,
    );
    assert_eq!(s.read(good).unwrap(), one_of_each()[1]);
}

/// An append without records (releases only) is acknowledged once every
/// append submitted before it is; an append with records gets its own
/// result, in every durability mode.
#[test]
fn an_empty_append_resolves_after_the_appends_before_it() {
    for durability in [Durability::Always, Durability::Interval, Durability::Never] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StorageConfig {
            durability,
            ..small_config()
        };
        let rt = rt();
        let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
        let first = s
            .submit(Append {
                records: vec![Record::MessageSent(message(1, 1, 10))],
                release: vec![],
            })
            .unwrap();
        let empty = s
            .submit(Append {
                records: vec![],
                release: vec![],
            })
            .unwrap();
        assert_eq!(empty.last_lsn, first.last_lsn);
        rt.block_on(empty.wait()).unwrap();
        // Everything before the empty append is acknowledged already.
        let positions = rt
            .block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(30), first.wait()).await
            })
            .expect("the earlier append was not acknowledged")
            .unwrap();
        assert!(matches!(
            s.read(positions[0]).unwrap(),
            Record::MessageSent(_)
        ));
        rt.block_on(s.close()).unwrap();
    }
}

/// S1 from the moment of submit: a position is readable as soon as `submit`
/// returns it, before the writer has put the frame in its file, also when the
/// append opens a segment the writer has not created yet (the engine hands
/// relocated positions to readers at once).
#[test]
fn positions_are_readable_as_soon_as_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &small_config()).unwrap();
    let mut tickets = Vec::new();
    for i in 0..200u64 {
        let r = Record::MessageSent(message(1, i, 300));
        let t = s
            .submit(Append {
                records: vec![r.clone()],
                release: vec![],
            })
            .unwrap();
        assert_eq!(s.read(t.positions[0]).unwrap(), r, "append {i}");
        tickets.push((t, r));
    }
    for (t, r) in tickets {
        let pos = rt.block_on(t.wait()).unwrap();
        assert_eq!(s.read(pos[0]).unwrap(), r);
    }
    assert!(s.stats().segments > 10);
}

/// No lost wake-up between the writer's rounds: appenders that submit the
/// moment their previous append is acknowledged race the writer going back
/// to sleep (it checks for work, then blocks; a submit only notifies a
/// writer that is blocked). Every append, and the `sync` and `close`
/// requests made while the writer may be idle, must be answered; a missed
/// notification leaves the writer asleep and an append waiting forever.
#[test]
fn a_writer_going_idle_never_misses_a_submit() {
    use std::time::Duration;
    const APPENDERS: u64 = 4;
    for (durability, appends) in [(Durability::Always, 100u64), (Durability::Never, 1000)] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StorageConfig {
            durability,
            ..StorageConfig::default()
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
        let patience = Duration::from_secs(60);
        rt.block_on(async {
            let mut tasks = Vec::new();
            for t in 0..APPENDERS {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..appends {
                        let append = s.append(Append {
                            records: vec![Record::MessageSent(message(t, i, 16))],
                            release: vec![],
                        });
                        tokio::time::timeout(patience, append)
                            .await
                            .unwrap_or_else(|_| {
                                panic!("{durability:?}: append {t}/{i} never acknowledged")
                            })
                            .unwrap();
                        if i % 100 == 99 {
                            tokio::time::timeout(patience, s.sync())
                                .await
                                .unwrap_or_else(|_| {
                                    panic!("{durability:?}: sync after {t}/{i} never done")
                                })
                                .unwrap();
                        }
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            tokio::time::timeout(patience, s.close())
                .await
                .unwrap_or_else(|_| panic!("{durability:?}: close never done"))
                .unwrap();
        });
        drop(s);
        let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
        assert_eq!(
            collect(&s).len() as u64,
            APPENDERS * appends,
            "{durability:?}"
        );
    }
}
