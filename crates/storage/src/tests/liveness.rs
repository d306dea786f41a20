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
