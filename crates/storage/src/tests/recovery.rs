//! Recovery: torn tails at every offset, flipped bytes, corruption in sealed
//! segments, foreign files and bad headers.

use std::path::Path;

use crate::io::RealFs;
use crate::tests::support::{build, message, one_of_each, rt, seg_path, small_config};
use crate::wal::format::{self, HEADER_LEN};
use crate::wal::recovery::recover;
use crate::{Append, Record, RecordPos, Storage, StorageConfig, StorageError};

fn replayed(wal_dir: &Path) -> Vec<(RecordPos, Record)> {
    let rec = recover(&RealFs, wal_dir, false).unwrap();
    let mut out = Vec::new();
    for seg in rec.segments.values() {
        let bytes = seg.read_all(seg.len()).unwrap();
        crate::wal::segment::scan(seg.id, &bytes, seg.id, &mut |p, _, r| {
            out.push((p, r));
            Ok(())
        })
        .unwrap();
    }
    out
}

/// Runs the cut-at-every-offset and flip-every-byte checks on the final batch
/// of a single-segment log. `keep` = records before the final batch.
fn every_offset(last_batch: Vec<Record>) {
    let mut batches: Vec<Vec<Record>> = one_of_each().into_iter().map(|r| vec![r]).collect();
    let keep = batches.len() as u64;
    batches.push(last_batch);
    let (dir, positions) = build(batches, &StorageConfig::default());
    let last = positions.last().unwrap();
    let start = last[0].offset as u64;
    let end = last
        .last()
        .map(|p| u64::from(p.offset) + u64::from(p.len))
        .unwrap();
    let seg = seg_path(dir.path(), last[0].segment);
    let original = std::fs::read(&seg).unwrap();
    assert_eq!(original.len() as u64, end);
    let wal_dir = dir.path().join("wal");
    // Expected prefix, from the intact log.
    let prefix: Vec<(RecordPos, Record)> =
        replayed(&wal_dir).into_iter().take(keep as usize).collect();

    for cut in start..end {
        std::fs::write(&seg, &original[..cut as usize]).unwrap();
        let rec = recover(&RealFs, &wal_dir, false).unwrap();
        assert_eq!(rec.records, keep, "cut at {cut}");
        assert_eq!(rec.next_lsn, keep + 1, "cut at {cut}");
        assert_eq!(rec.truncated_bytes, cut - start, "cut at {cut}");
        let complete_frames = last
            .iter()
            .filter(|p| u64::from(p.offset) + u64::from(p.len) <= cut)
            .count() as u64;
        assert_eq!(rec.dropped_records, complete_frames, "cut at {cut}");
        assert_eq!(
            std::fs::metadata(&seg).unwrap().len(),
            start,
            "file truncated to the last complete batch"
        );
        assert_eq!(replayed(&wal_dir), prefix, "cut at {cut}");
    }
    for at in start..end {
        let mut bytes = original.clone();
        bytes[at as usize] ^= 0xFF;
        std::fs::write(&seg, &bytes).unwrap();
        let rec = recover(&RealFs, &wal_dir, false).unwrap();
        assert_eq!(rec.records, keep, "flip at {at}");
        assert_eq!(rec.truncated_bytes, end - start, "flip at {at}");
        assert_eq!(replayed(&wal_dir), prefix, "flip at {at}");
    }
    // And zero fill after the intact log (a file extended but never written).
    let mut bytes = original.clone();
    bytes.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&seg, &bytes).unwrap();
    let rec = recover(&RealFs, &wal_dir, false).unwrap();
    assert_eq!(rec.records, keep + last.len() as u64);
    assert_eq!(rec.truncated_bytes, 4096);
}

/// S3: cutting the last segment at any offset inside its final frame, or
/// flipping any byte of it, keeps exactly the complete frames before it.
#[test]
fn every_offset_single_frame() {
    every_offset(vec![Record::MessageSent(message(1, 1, 40))]);
}

/// S3, S4: the same for a three-frame batch: a batch missing its end is dropped whole.
#[test]
fn every_offset_multi_frame_batch() {
    every_offset(
        (0..3)
            .map(|i| Record::MessageSent(message(1, 10 + i, 20)))
            .collect(),
    );
}

/// S5: a bad frame in a sealed (non-last) segment is a hard error naming the file and offset.
#[test]
fn corruption_in_sealed_segment_is_an_error() {
    let batches = (0..40)
        .map(|i| vec![Record::MessageSent(message(1, i, 300))])
        .collect();
    let (dir, positions) = build(batches, &small_config());
    let first = positions[0][0];
    let second = positions[1][0];
    assert_eq!(first.segment, second.segment);
    assert_ne!(
        positions.last().unwrap()[0].segment,
        first.segment,
        "needs several segments"
    );
    let seg = seg_path(dir.path(), first.segment);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[second.offset as usize + 20] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let err = Storage::open(dir.path(), &small_config()).unwrap_err();
    match &err {
        StorageError::Corruption {
            segment,
            offset,
            reason,
        } => {
            assert_eq!(segment, &seg);
            assert_eq!(*offset, u64::from(second.offset));
            assert!(reason.contains("CRC"), "{reason}");
        }
        other => panic!("expected Corruption, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format::segment_file_name(first.segment))
            && text.contains(&second.offset.to_string()),
        "{text}"
    );
    // A sealed segment cut short is an error too (not a torn tail).
    std::fs::write(&seg, &bytes[..second.offset as usize + 5]).unwrap();
    assert!(matches!(
        Storage::open(dir.path(), &small_config()),
        Err(StorageError::Corruption { .. })
    ));
}

/// A stray file in wal/ is a clear error, not a panic.
#[test]
fn foreign_file_is_refused() {
    let (dir, _) = build(vec![one_of_each()], &StorageConfig::default());
    let stray = dir.path().join("wal").join("notes.txt");
    std::fs::write(&stray, b"hello").unwrap();
    match Storage::open(dir.path(), &StorageConfig::default()) {
        Err(StorageError::ForeignFile(p)) => assert_eq!(p, stray),
        other => panic!("expected ForeignFile, got {other:?}"),
    }
    std::fs::remove_file(&stray).unwrap();
    std::fs::create_dir(dir.path().join("wal").join("00000000000000000099.wal")).unwrap();
    assert!(matches!(
        Storage::open(dir.path(), &StorageConfig::default()),
        Err(StorageError::ForeignFile(_))
    ));
}

/// Bad headers: wrong magic or CRC → Corruption; newer version → UnsupportedVersion;
/// an all-zero or short last segment (crash during creation) is removed.
#[test]
fn bad_headers() {
    let (dir, positions) = build(vec![one_of_each()], &StorageConfig::default());
    let seg = seg_path(dir.path(), positions[0][0].segment);
    let original = std::fs::read(&seg).unwrap();

    let mut bytes = original.clone();
    bytes[0] = b'X';
    std::fs::write(&seg, &bytes).unwrap();
    assert!(matches!(
        Storage::open(dir.path(), &StorageConfig::default()),
        Err(StorageError::Corruption { offset: 0, .. })
    ));

    let mut bytes = original.clone();
    bytes[8] = 3; // version 3, with a matching header CRC
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    match Storage::open(dir.path(), &StorageConfig::default()) {
        Err(StorageError::UnsupportedVersion {
            found: 3,
            supported: 2,
            ..
        }) => {}
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }

    std::fs::write(&seg, &original).unwrap();
    let next = seg_path(dir.path(), 1000);
    std::fs::write(&next, [0u8; 10]).unwrap();
    let (s, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert_eq!(rec.truncated_bytes, 10);
    assert_eq!(rec.records, one_of_each().len() as u64);
    assert!(!next.exists());
    assert_eq!(rec.next_lsn, one_of_each().len() as u64 + 1);
    rt().block_on(s.append(Append {
        records: one_of_each(),
        release: vec![],
    }))
    .unwrap();
    drop(s);
    let (_, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert_eq!(rec.records, 2 * one_of_each().len() as u64);
    // A torn header (creation interrupted mid-write) in the last segment is removed too,
    // but the same bytes followed by frames are corruption.
    let last = rec.next_lsn;
    let torn = seg_path(dir.path(), last);
    let mut header = crate::wal::format::encode_header(last).to_vec();
    header[30] ^= 0xFF;
    std::fs::write(&torn, &header).unwrap();
    let (s, rec2) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert_eq!(rec2.truncated_bytes, HEADER_LEN as u64);
    assert!(!torn.exists());
    drop(s);
    header.extend_from_slice(&[1u8; 40]);
    std::fs::write(&torn, &header).unwrap();
    assert!(matches!(
        Storage::open(dir.path(), &StorageConfig::default()),
        Err(StorageError::Corruption { offset: 0, .. })
    ));
}
