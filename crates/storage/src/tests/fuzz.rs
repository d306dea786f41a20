//! Property-based fuzzing of the frame parser, the segment scanner and
//! recovery (stable Rust, bounded: 64 cases per property by default, more
//! with `PROPTEST_CASES=N`). Inputs: arbitrary bytes, and valid segments with
//! arbitrary bytes appended, truncations and bit flips. Invariants: no panic,
//! memory bounded by the input (a length prefix claiming gigabytes does not
//! allocate them), and recovery never keeps a frame whose CRC is bad.

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::io::RealFs;
use crate::record::Record;
use crate::tests::support::{message, one_of_each};
use crate::wal::format::{self, RecordKind, HEADER_LEN};
use crate::wal::recovery::recover;
use crate::wal::segment;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// A valid segment (id 1): header, then `records` as batches of the given sizes.
fn segment_bytes(records: &[Record], batch: usize) -> Vec<u8> {
    let mut out = format::encode_header(1).to_vec();
    let mut lsn = 1;
    for chunk in records.chunks(batch.max(1)) {
        for (i, r) in chunk.iter().enumerate() {
            let mut payload = Vec::new();
            let kind = format::encode_payload(r, &mut payload).unwrap();
            let mut flags = if i + 1 < chunk.len() {
                format::FLAG_BATCH_CONTINUES
            } else {
                0
            };
            if i == 0 {
                flags |= format::FLAG_SYNCED_BEFORE;
            }
            format::encode_frame(&mut out, kind, flags, lsn, &payload);
            lsn += 1;
        }
    }
    out
}

fn records(n: usize) -> Vec<Record> {
    let mut all = one_of_each();
    all.extend((0..n as u64).map(|i| Record::MessageSent(message(3, i, (i as usize * 7) % 90))));
    all
}

/// Every frame that the scan delivers re-parses with a matching CRC.
fn scan_checked(bytes: &[u8]) -> Result<(u64, Vec<Record>), String> {
    let mut got = Vec::new();
    let out = segment::scan(1, bytes, 1, &mut |pos, _, r| {
        let at = pos.offset as usize;
        let frame = bytes.get(at..at + pos.len as usize).unwrap();
        let stored = u32::from_le_bytes(frame[4..8].try_into().unwrap());
        assert_eq!(
            crc32fast::hash(&frame[8..]),
            stored,
            "delivered a frame with a bad CRC"
        );
        got.push(r);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    assert!(out.valid_len as usize <= bytes.len());
    Ok((out.valid_len, got))
}

/// Writes `bytes` as the only segment of a fresh `wal/` (with a manifest).
fn wal_dir_with(bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format::segment_file_name(1)), bytes).unwrap();
    std::fs::write(
        dir.path().join(format::MANIFEST_FILE),
        format::encode_manifest(&BTreeSet::from([1])),
    )
    .unwrap();
    dir
}

/// Recovery (with and without repair) never panics, and whatever it keeps
/// scans cleanly (every frame CRC-valid) and is a prefix of `original`.
fn recovery_keeps_only_valid_frames(bytes: &[u8], original: &[Record]) {
    for repair in [false, true] {
        let dir = wal_dir_with(bytes);
        let Ok(rec) = recover(&RealFs, dir.path(), repair) else {
            continue;
        };
        let kept = std::fs::read(dir.path().join(format::segment_file_name(1)));
        let Ok(kept) = kept else {
            // The segment was removed (nothing but a torn header).
            assert_eq!(rec.records, 0);
            continue;
        };
        let (valid_len, got) = scan_checked(&kept).unwrap();
        assert_eq!(
            valid_len as usize,
            kept.len(),
            "recovery left damage behind"
        );
        assert_eq!(got.len() as u64, rec.records);
        assert!(got.len() <= original.len());
        assert_eq!(
            &original[..got.len()],
            &got[..],
            "kept something never written"
        );
    }
}

proptest! {
    #![proptest_config(config())]

    /// The frame parser is total: any bytes give a frame or an error, never a
    /// panic; an accepted frame fits the input and its CRC matches.
    #[test]
    fn frame_parser_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(frame) = format::parse_frame(&bytes) {
            prop_assert!(frame.total_len <= bytes.len());
            prop_assert_eq!(crc32fast::hash(&bytes[8..frame.total_len]), frame.crc);
        }
    }

    /// Arbitrary bytes after a valid segment header: scanning and recovery
    /// never panic and never deliver or keep a bad-CRC frame.
    #[test]
    fn arbitrary_bytes_after_a_header(tail in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut bytes = format::encode_header(1).to_vec();
        bytes.extend_from_slice(&tail);
        let _ = scan_checked(&bytes);
        recovery_keeps_only_valid_frames(&bytes, &[]);
    }

    /// A valid prefix followed by arbitrary bytes keeps at least the prefix
    /// (the garbage is a torn tail unless it holds valid frames).
    #[test]
    fn arbitrary_bytes_after_a_valid_prefix(
        n in 0usize..20,
        batch in 1usize..4,
        tail in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let original = records(n);
        let mut bytes = segment_bytes(&original, batch);
        let prefix_len = bytes.len();
        bytes.extend_from_slice(&tail);
        let (valid_len, got) = scan_checked(&bytes).unwrap();
        prop_assert!(valid_len as usize >= prefix_len);
        prop_assert_eq!(&got[..original.len()], &original[..]);
        recovery_keeps_only_valid_frames(&bytes, &original);
        // Recovery without repair keeps the whole valid prefix.
        let dir = wal_dir_with(&bytes);
        if let Ok(rec) = recover(&RealFs, dir.path(), false) {
            prop_assert!(rec.records >= original.len() as u64);
        }
    }

    /// Truncations and bit flips anywhere in a valid segment.
    #[test]
    fn truncations_and_flips(
        n in 1usize..20,
        batch in 1usize..4,
        cut in any::<proptest::sample::Index>(),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), 0u8..8), 0..4),
    ) {
        let original = records(n);
        let mut bytes = segment_bytes(&original, batch);
        for (at, bit) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let cut = HEADER_LEN.min(bytes.len()) + cut.index(bytes.len() - HEADER_LEN.min(bytes.len()) + 1);
        bytes.truncate(cut);
        let _ = scan_checked(&bytes);
        recovery_keeps_only_valid_frames(&bytes, &original);
    }

    /// CRC-valid frames with arbitrary payloads (length prefixes claiming
    /// gigabytes included): decoding fails or succeeds without panicking or
    /// allocating what the prefixes claim.
    #[test]
    fn arbitrary_payloads_in_valid_frames(
        kind in 1u8..=9,
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        huge in any::<bool>(),
    ) {
        let mut payload = payload;
        if huge {
            // bincode varint marker for a u64 follows: claim ~2^62 elements.
            payload.splice(0..0, [0xFD, 0, 0, 0, 0, 0, 0, 0, 0x40]);
        }
        let kind = RecordKind::try_from(kind).unwrap();
        let mut bytes = format::encode_header(1).to_vec();
        format::encode_frame(&mut bytes, kind, 0, 1, &payload);
        let scanned = segment::scan(1, &bytes, 1, &mut |_, _, _| Ok(()));
        if let Ok(out) = scanned {
            if out.records == 0 {
                // Undecodable: a hard stop (a CRC-valid frame is no torn write).
                prop_assert!(out.stop.is_some_and(|s| s.hard));
            }
        }
        let dir = wal_dir_with(&bytes);
        let _ = recover(&RealFs, dir.path(), false);
    }
}
