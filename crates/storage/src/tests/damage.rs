//! Damage that no crash can cause must stop recovery (issue: a flipped bit
//! silently cut every acknowledged record after it; a deleted segment went
//! unnoticed), unless the operator asks for a repair, which then reports
//! exactly what it discarded. Torn tails keep recovering on their own
//! (`tests::recovery::every_offset_*`).

use crate::io::RealFs;
use crate::tests::support::{build, message, rt, seg_path, small_config};
use crate::wal::format;
use crate::wal::recovery::recover;
use crate::{Append, Durability, Record, RecordPos, Storage, StorageConfig, StorageError};

/// `n` single-record batches, each acknowledged (synced) before the next;
/// returns the data dir and every position.
fn acknowledged(n: u64, cfg: &StorageConfig, body: usize) -> (tempfile::TempDir, Vec<RecordPos>) {
    let batches = (0..n)
        .map(|i| vec![Record::MessageSent(message(1, i, body))])
        .collect();
    let (dir, positions) = build(batches, cfg);
    (dir, positions.into_iter().flatten().collect())
}

/// S3, S5 (issue 10, defect 1): a bit flipped anywhere in any acknowledged
/// frame of the last segment that acknowledged frames follow is damage:
/// recovery refuses, naming the file and the frame's offset, and leaves the
/// file as it is; a repair cuts there and counts exactly the complete
/// records after it.
#[test]
fn bit_flip_followed_by_acknowledged_frames_refuses_to_start() {
    // One segment, and the last of several.
    for (cfg, n) in [(StorageConfig::default(), 8), (small_config(), 40)] {
        let (dir, positions) = acknowledged(n, &cfg, 60);
        let wal_dir = dir.path().join("wal");
        let last_seg = positions.last().unwrap().segment;
        let in_last: Vec<RecordPos> = positions
            .iter()
            .copied()
            .filter(|p| p.segment == last_seg)
            .collect();
        assert!(in_last.len() >= 3, "{}", in_last.len());
        let path = seg_path(dir.path(), last_seg);
        let original = std::fs::read(&path).unwrap();
        // Every frame but the last one (a flip in the last frame is a torn tail).
        for (i, frame) in in_last.iter().enumerate().take(in_last.len() - 1) {
            let after = (in_last.len() - i - 1) as u64;
            for at in frame.offset..frame.offset + frame.len {
                // Every bit position, spread over the offsets.
                let bit = 1u8 << (at % 8);
                let mut bytes = original.clone();
                bytes[at as usize] ^= bit;
                std::fs::write(&path, &bytes).unwrap();
                match recover(&RealFs, &wal_dir, false) {
                    Err(StorageError::CorruptFrame {
                        segment,
                        offset,
                        discarded_by_cut,
                        ..
                    }) => {
                        assert_eq!(segment, path, "flip at {at}");
                        assert_eq!(offset, u64::from(frame.offset), "flip at {at}");
                        assert_eq!(discarded_by_cut, after, "flip at {at}");
                    }
                    other => panic!(
                        "flip {bit:#x} at {at}: expected CorruptFrame, got {:?}",
                        other.err()
                    ),
                }
                assert_eq!(
                    std::fs::read(&path).unwrap(),
                    bytes,
                    "refusal changes nothing"
                );
            }
        }
        // The repair cuts at the damaged frame and reports what it discarded.
        let victim = in_last[1];
        let mut bytes = original.clone();
        bytes[victim.offset as usize + 20] ^= 0x04;
        std::fs::write(&path, &bytes).unwrap();
        let rec = recover(&RealFs, &wal_dir, true).unwrap();
        let before_victim = positions.iter().position(|p| *p == victim).unwrap() as u64;
        assert_eq!(rec.records, before_victim);
        assert_eq!(rec.dropped_records, in_last.len() as u64 - 2);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            u64::from(victim.offset)
        );
        // And the log is healthy again.
        let (_, again) = Storage::open(dir.path(), &cfg).unwrap();
        assert_eq!(again.records, before_victim);
    }
}

/// A crash tears only the unsynced group commit, but its pages may reach
/// the disk in any order: a hole inside the last group followed by the rest
/// of that group is still a torn tail (no frame after it claims a sync).
#[test]
fn hole_inside_the_last_group_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    for i in 0..5 {
        rt.block_on(s.append(Append {
            records: vec![Record::MessageSent(message(1, i, 50))],
            release: vec![],
        }))
        .unwrap();
    }
    let last = rt
        .block_on(
            s.append(Append {
                records: (0..4)
                    .map(|i| Record::MessageSent(message(2, i, 50)))
                    .collect(),
                release: vec![],
            }),
        )
        .unwrap();
    rt.block_on(s.close()).unwrap();
    drop(s);
    let path = seg_path(dir.path(), last[0].segment);
    let mut bytes = std::fs::read(&path).unwrap();
    let hole = last[1];
    bytes[hole.offset as usize..(hole.offset + hole.len) as usize].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    let (_, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert_eq!(rec.records, 5);
    // The batch's first frame, and the two complete frames after the hole.
    assert_eq!(rec.dropped_records, 3);
}

/// Garbage (not zeroes) after the intact log is a torn tail too.
#[test]
fn garbage_to_the_end_is_a_torn_tail() {
    let (dir, positions) = acknowledged(10, &StorageConfig::default(), 40);
    let path = seg_path(dir.path(), positions[0].segment);
    let mut bytes = std::fs::read(&path).unwrap();
    let mut x: u32 = 0x9E37_79B9;
    for _ in 0..5000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push(x as u8);
    }
    std::fs::write(&path, &bytes).unwrap();
    let (_, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert_eq!(rec.records, 10);
    assert_eq!(rec.truncated_bytes, 5000);
}

/// Issue 10, defect 2: a deleted middle or last segment is a startup error
/// naming the missing range; a repair accepts the loss and counts it.
#[test]
fn missing_segments_are_named() {
    let cfg = small_config();
    let (dir, positions) = acknowledged(60, &cfg, 300);
    let mut segs: Vec<u64> = positions.iter().map(|p| p.segment).collect();
    segs.dedup();
    assert!(segs.len() >= 5, "{segs:?}");
    // A middle segment.
    let middle = segs[2];
    let next = segs[3];
    let path = seg_path(dir.path(), middle);
    let saved = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    match Storage::open(dir.path(), &cfg) {
        Err(StorageError::MissingSegments {
            files,
            first_lsn,
            last_lsn,
        }) => {
            assert!(
                files.contains(&format::segment_file_name(middle)),
                "{files}"
            );
            assert_eq!(first_lsn, middle);
            assert_eq!(last_lsn, Some(next - 1));
        }
        other => panic!("expected MissingSegments, got {:?}", other.err()),
    }
    let text = Storage::open(dir.path(), &cfg).unwrap_err().to_string();
    assert!(
        text.contains(&format!("LSNs {middle}..={}", next - 1)),
        "{text}"
    );
    std::fs::write(&path, &saved).unwrap();
    Storage::open(dir.path(), &cfg).unwrap();
    // The last segment.
    let last = *segs.last().unwrap();
    std::fs::remove_file(seg_path(dir.path(), last)).unwrap();
    match Storage::open(dir.path(), &cfg) {
        Err(StorageError::MissingSegments {
            first_lsn,
            last_lsn,
            ..
        }) => {
            assert_eq!(first_lsn, last);
            assert_eq!(last_lsn, None);
        }
        other => panic!("expected MissingSegments, got {:?}", other.err()),
    }
    // Repair: accept the loss once; later opens are clean.
    std::fs::remove_file(&path).unwrap();
    let repair = StorageConfig {
        repair: true,
        ..cfg.clone()
    };
    let (s, rec) = Storage::open(dir.path(), &repair).unwrap();
    assert_eq!(
        rec.dropped_records,
        next - middle,
        "the middle range is known"
    );
    drop(s);
    let (_, rec) = Storage::open(dir.path(), &cfg).unwrap();
    assert_eq!(rec.dropped_records, 0);
}

/// Segments reclaimed by garbage collection are no gap; a segment whose
/// reclamation was interrupted after the manifest update is finished off
/// (deleted), not replayed.
#[test]
fn reclaimed_and_half_reclaimed_segments_are_no_gap() {
    let cfg = small_config();
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
    let mut sent = Vec::new();
    for i in 0..40u64 {
        let m = message(1, i, 300);
        let pos = rt
            .block_on(s.append(Append {
                records: vec![Record::MessageSent(m.clone())],
                release: vec![],
            }))
            .unwrap()[0];
        sent.push((pos, m));
    }
    let first_seg = sent[0].0.segment;
    let saved = std::fs::read(seg_path(dir.path(), first_seg)).unwrap();
    for (pos, m) in &sent[..20] {
        rt.block_on(s.append(Append {
            records: vec![Record::MessageDeleted {
                queue_id: 1,
                message_id: m.message_id,
            }],
            release: vec![*pos],
        }))
        .unwrap();
    }
    rt.block_on(s.sync()).unwrap();
    s.collect_garbage().unwrap();
    assert!(!seg_path(dir.path(), first_seg).exists(), "reclaimed");
    rt.block_on(s.close()).unwrap();
    drop(s);
    let (s, rec) = Storage::open(dir.path(), &cfg).unwrap();
    assert_eq!(rec.records, 40);
    drop(s);
    // Put the reclaimed file back, as if the crash hit between the manifest
    // update and the deletion: it is deleted, not replayed.
    std::fs::write(seg_path(dir.path(), first_seg), &saved).unwrap();
    let (s, rec) = Storage::open(dir.path(), &cfg).unwrap();
    assert_eq!(rec.records, 40);
    assert!(!seg_path(dir.path(), first_seg).exists());
    let mut n = 0;
    s.replay(&mut |_, _| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 40);
}

/// Without the manifest, version-2 segments cannot be verified: refused,
/// unless repaired (rebuilt from the segments present).
#[test]
fn missing_manifest_is_refused() {
    let cfg = small_config();
    let (dir, _) = acknowledged(20, &cfg, 300);
    let manifest = dir.path().join("wal").join(format::MANIFEST_FILE);
    std::fs::remove_file(&manifest).unwrap();
    match Storage::open(dir.path(), &cfg) {
        Err(StorageError::ManifestMissing(p)) => assert_eq!(p, manifest),
        other => panic!("expected ManifestMissing, got {:?}", other.err()),
    }
    let repair = StorageConfig {
        repair: true,
        ..cfg.clone()
    };
    let (s, rec) = Storage::open(dir.path(), &repair).unwrap();
    assert_eq!(rec.records, 20);
    drop(s);
    assert!(manifest.exists());
    // A damaged manifest is corruption naming it.
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes[17] ^= 1;
    std::fs::write(&manifest, &bytes).unwrap();
    match Storage::open(dir.path(), &cfg) {
        Err(StorageError::Corruption { segment, .. }) => assert_eq!(segment, manifest),
        other => panic!("expected Corruption, got {:?}", other.err()),
    }
}

/// With durability `interval` or `never` the writer marks no sync points,
/// so a bad frame followed by valid ones is taken for a torn write (those
/// modes may lose acknowledged appends on power loss by definition).
#[test]
fn without_sync_points_a_hole_is_a_torn_tail() {
    let cfg = StorageConfig {
        durability: Durability::Never,
        ..StorageConfig::default()
    };
    let (dir, positions) = acknowledged(10, &cfg, 40);
    let path = seg_path(dir.path(), positions[0].segment);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[positions[4].offset as usize + 20] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let (_, rec) = Storage::open(dir.path(), &cfg).unwrap();
    assert_eq!(rec.records, 4);
    assert_eq!(rec.dropped_records, 5);
}
