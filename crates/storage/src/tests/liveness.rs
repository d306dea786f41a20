//! Liveness, garbage collection and tombstone pinning.

use crate::liveness::Liveness;
use crate::tests::support::{message, rt, small_config};
use crate::{Append, Record, RecordPos, Storage};

fn pos(segment: u64, offset: u32) -> RecordPos {
    RecordPos {
        segment,
        offset,
        len: 100,
    }
}

/// S6: a record is live until released; releasing twice or an unknown position changes nothing.
#[test]
fn release_marks_dead_once() {
    let mut l = Liveness::default();
    l.add_live(pos(1, 32));
    l.add_live(pos(1, 132));
    assert!(l.is_live(pos(1, 32)));
    assert!(l.release(pos(1, 32), None));
    assert!(!l.is_live(pos(1, 32)));
    assert!(!l.release(pos(1, 32), None));
    assert!(!l.release(pos(1, 999), None));
    assert_eq!(l.live_bytes(), 100);
    assert_eq!(l.live_records(1), vec![pos(1, 132)]);
}

/// S7: a tombstone's segment is not deletable while the segment of a record it ended exists.
#[test]
fn tombstone_pins_its_segment() {
    let mut l = Liveness::default();
    l.add_live(pos(1, 32));
    l.add_segment(5);
    l.add_segment(9);
    l.add_live(pos(9, 32));
    // A tombstone in segment 5 ended the record in segment 1.
    l.release(pos(1, 32), Some(pos(5, 32)));
    assert_eq!(
        l.deletable(9),
        vec![1, 5],
        "segment 1 goes first, which frees 5"
    );
    l.add_live(pos(1, 132));
    assert_eq!(
        l.deletable(9),
        Vec::<u64>::new(),
        "5 is pinned while 1 exists"
    );
    l.release(pos(1, 132), None);
    assert_eq!(l.deletable(9), vec![1, 5]);
}

/// S6: segments with nothing live are deleted (never the active one) and disk use drops.
#[test]
fn collect_garbage_deletes_dead_segments() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &small_config()).unwrap();
    let mut positions = Vec::new();
    for i in 0..100 {
        positions.extend(
            rt.block_on(s.append(Append {
                records: vec![Record::MessageSent(message(1, i, 200))],
                release: vec![],
            }))
            .unwrap(),
        );
    }
    let before = s.stats();
    assert!(before.segments > 3);
    // Release all but the last record; deletion happens with the releasing append.
    let keep = *positions.last().unwrap();
    let release: Vec<RecordPos> = positions.iter().copied().filter(|p| *p != keep).collect();
    rt.block_on(s.append(Append {
        records: vec![Record::MessageDeleted {
            queue_id: 1,
            message_id: message(1, 0, 0).message_id,
        }],
        release,
    }))
    .unwrap();
    s.collect_garbage().unwrap();
    let after = s.stats();
    assert!(after.segments <= 2, "{after:?}");
    assert!(after.reclaimed_bytes > 0);
    assert_eq!(
        s.read(keep).unwrap(),
        Record::MessageSent(message(1, 99, 200))
    );
}

/// S6, S7: one long-retention message does not pin the disk: once the other
/// messages are deleted, compaction relocates it and every old segment goes.
#[test]
fn one_live_message_does_not_pin_disk() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &small_config()).unwrap();
    let keeper = Record::MessageSent(message(1, 0, 100));
    let mut keeper_pos = rt
        .block_on(s.append(Append {
            records: vec![keeper.clone()],
            release: vec![],
        }))
        .unwrap()[0];
    for round in 0..20u64 {
        let mut sent = Vec::new();
        for i in 0..10 {
            let r = Record::MessageSent(message(1, 1 + round * 10 + i, 300));
            sent.push((
                rt.block_on(s.append(Append {
                    records: vec![r.clone()],
                    release: vec![],
                }))
                .unwrap()[0],
                r,
            ));
        }
        for (pos, r) in sent {
            let Record::MessageSent(m) = r else {
                unreachable!()
            };
            let tomb = Record::MessageDeleted {
                queue_id: 1,
                message_id: m.message_id,
            };
            rt.block_on(s.append(Append {
                records: vec![tomb],
                release: vec![pos],
            }))
            .unwrap();
        }
    }
    let before = s.stats();
    assert!(before.segments > 5, "{before:?}");
    // Test-side compaction, as the engine does it.
    for _ in 0..3 {
        for seg in s.compaction_candidates() {
            for pos in s.live_records(seg) {
                let r = s.read(pos).unwrap();
                assert_eq!(pos, keeper_pos);
                keeper_pos = rt
                    .block_on(s.append(Append {
                        records: vec![r],
                        release: vec![pos],
                    }))
                    .unwrap()[0];
            }
        }
        s.collect_garbage().unwrap();
    }
    let after = s.stats();
    assert!(after.segments <= 2, "{after:?}");
    assert!(after.disk_bytes < 8192, "{after:?}");
    assert!(after.compactions >= 1, "{after:?}");
    assert_eq!(s.read(keeper_pos).unwrap(), keeper);
    drop(s);
    let (s, _) = Storage::open(dir.path(), &small_config()).unwrap();
    let mut live = std::collections::BTreeMap::new();
    s.replay(&mut |p, r| {
        match r {
            Record::MessageSent(m) => {
                live.insert(m.message_id, p);
            }
            Record::MessageDeleted { message_id, .. } => {
                live.remove(&message_id);
            }
            _ => {}
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(
        live.into_values().collect::<Vec<_>>(),
        vec![keeper_pos],
        "nothing deleted comes back"
    );
}

/// S7 with `Storage::pin`: a tombstone that ended a record the caller keeps
/// live (a FIFO deduplication hold) is not reclaimed while that record's
/// segment exists, so a replay cannot bring the record back.
#[test]
fn pin_keeps_the_ending_record_while_the_held_one_exists() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &small_config()).unwrap();
    let held = rt
        .block_on(s.append(Append {
            records: vec![Record::MessageSent(message(1, 0, 200))],
            release: vec![],
        }))
        .unwrap()[0];
    let mut filler = Vec::new();
    for i in 1..40 {
        filler.extend(
            rt.block_on(s.append(Append {
                records: vec![Record::MessageSent(message(2, i, 200))],
                release: vec![],
            }))
            .unwrap(),
        );
    }
    // The tombstone ends `held` but releases nothing (the caller holds it).
    let tomb = rt
        .block_on(s.append(Append {
            records: vec![Record::MessageDeleted {
                queue_id: 1,
                message_id: message(1, 0, 0).message_id,
            }],
            release: vec![],
        }))
        .unwrap()[0];
    s.pin(held, tomb);
    assert!(tomb.segment > held.segment);
    // Everything else dies, in a segment after the tombstone's.
    for i in 40..80 {
        filler.extend(
            rt.block_on(s.append(Append {
                records: vec![Record::MessageSent(message(2, i, 200))],
                release: vec![],
            }))
            .unwrap(),
        );
    }
    rt.block_on(s.append(Append {
        records: vec![Record::MessageDeleted {
            queue_id: 2,
            message_id: message(2, 1, 0).message_id,
        }],
        release: filler,
    }))
    .unwrap();
    s.collect_garbage().unwrap();
    assert!(s.read(held).is_ok(), "held record stays");
    assert!(
        s.read(tomb).is_ok(),
        "the tombstone outlives the record it ended"
    );
    // Once the held record is released, both may go.
    s.release(held, None);
    s.collect_garbage().unwrap();
    assert!(s.read(held).is_err());
    assert!(s.read(tomb).is_err());
}
