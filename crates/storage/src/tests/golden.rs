//! Golden bytes: the committed fixtures under `fixtures/wal-v1/` pin the
//! on-disk format. A change to the bincode config, a derive, a field or a
//! variant order fails here (S11). Regenerate only together with a format
//! version bump: `STOWAGE_BLESS=1 cargo test -p storage golden`.

use std::path::PathBuf;

use crate::tests::support::{one_of_each, rt};
use crate::wal::format::{self, RecordKind};
use crate::{Append, Storage, StorageConfig};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("wal-v1")
}

fn bless() -> bool {
    std::env::var_os("STOWAGE_BLESS").is_some()
}

/// The frame the submit path writes for `record` at `lsn` (last of its batch).
fn frame_of(lsn: u64, record: &crate::Record) -> Vec<u8> {
    let mut frame = Vec::new();
    format::encode_unsealed(record, &mut frame).unwrap();
    format::seal_frame(&mut frame, 0, lsn);
    frame
}

/// S11: the encoded frame of one record of each kind equals the committed bytes, and decodes back.
#[test]
fn golden_frames() {
    let dir = fixtures().join("frames");
    for (i, record) in one_of_each().iter().enumerate() {
        let kind = RecordKind::of(record);
        let path = dir.join(format!("{:02}-{kind:?}.bin", kind as u8));
        let bytes = frame_of(i as u64 + 1, record);
        if bless() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            bytes, golden,
            "encoding of {kind:?} changed: bump FORMAT_VERSION"
        );
        let frame = format::parse_frame(&golden).unwrap();
        assert_eq!(frame.total_len, golden.len());
        assert_eq!(frame.lsn, i as u64 + 1);
        assert_eq!(&frame.decode().unwrap(), record);
    }
}

/// S11: the segment header bytes are pinned.
#[test]
fn golden_header() {
    let h = format::encode_header(1);
    assert_eq!(&h[..8], b"STOWWAL\0");
    assert_eq!(&h[8..12], &[1, 0, 0, 0]);
    assert_eq!(&h[16..24], &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(format::decode_header(&h), Ok(1));
    assert_eq!(format::segment_file_name(1), "00000000000000000001.wal");
    assert_eq!(
        format::parse_segment_file_name("00000000000000000001.wal"),
        Some(1)
    );
    assert_eq!(format::parse_segment_file_name("1.wal"), None);
}

/// S11: a data directory written by format version 1 opens and replays.
#[test]
fn golden_data_dir_opens() {
    let fixture = fixtures()
        .join("data")
        .join("wal")
        .join("00000000000000000001.wal");
    if bless() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = rt();
        let (s, _) = Storage::open(tmp.path(), &StorageConfig::default()).unwrap();
        for r in one_of_each() {
            rt.block_on(s.append(Append {
                records: vec![r],
                release: vec![],
            }))
            .unwrap();
        }
        rt.block_on(s.append(Append {
            records: one_of_each(),
            release: vec![],
        }))
        .unwrap();
        rt.block_on(s.close()).unwrap();
        std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
        std::fs::copy(
            tmp.path().join("wal").join("00000000000000000001.wal"),
            &fixture,
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("wal")).unwrap();
    std::fs::copy(
        &fixture,
        dir.path().join("wal").join("00000000000000000001.wal"),
    )
    .unwrap();
    let (s, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    let n = one_of_each().len();
    assert_eq!(rec.records, 2 * n as u64);
    assert!(rec.index_rebuilt, "no index in the fixture");
    let mut got = Vec::new();
    s.replay(&mut |_, r| {
        got.push(r);
        Ok(())
    })
    .unwrap();
    let mut want = one_of_each();
    want.extend(one_of_each());
    assert_eq!(got, want);
}
