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
    assert_eq!(&h[8..12], &[2, 0, 0, 0]);
    assert_eq!(&h[16..24], &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        format::decode_header(&h),
        Ok(format::Header {
            first_lsn: 1,
            version: 2
        })
    );
    let v1 = format::encode_header_version(1, 1);
    assert_eq!(&v1[8..12], &[1, 0, 0, 0]);
    assert_eq!(format::decode_header(&v1).map(|h| h.version), Ok(1));
    assert_eq!(format::segment_file_name(1), "00000000000000000001.wal");
    assert_eq!(
        format::parse_segment_file_name("00000000000000000001.wal"),
        Some(1)
    );
    assert_eq!(format::parse_segment_file_name("1.wal"), None);
}

/// S11: a data directory written by format version 1 (no manifest) opens,
/// replays, and gets a manifest. The v1 fixture is frozen: this build
/// writes version 2, so it is never re-blessed.
#[test]
fn golden_data_dir_v1_opens() {
    let fixture = fixtures()
        .join("data")
        .join("wal")
        .join("00000000000000000001.wal");
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
    let mut want = one_of_each();
    want.extend(one_of_each());
    assert_eq!(replayed(&s), want);
    drop(s);
    let manifest = std::fs::read(dir.path().join("wal").join(format::MANIFEST_FILE)).unwrap();
    assert_eq!(format::decode_manifest(&manifest), Ok([1].into()));
    // Appending to the v1 segment after the upgrade keeps it readable.
    let (s, _) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    rt().block_on(s.append(Append {
        records: one_of_each(),
        release: vec![],
    }))
    .unwrap();
    drop(s);
    let (_, rec) = Storage::open(dir.path(), &StorageConfig::default()).unwrap();
    assert_eq!(rec.records, 3 * n as u64);
}

fn v2_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("wal-v2")
}

fn replayed(s: &Storage) -> Vec<crate::Record> {
    let mut got = Vec::new();
    s.replay(&mut |_, r| {
        got.push(r);
        Ok(())
    })
    .unwrap();
    got
}

/// What the v2 fixture holds: five times every kind one by one (durability
/// `always`, so each first frame carries FLAG_SYNCED_BEFORE), then all of
/// them as one batch, on 4 KiB segments (two of them).
fn v2_workload() -> Vec<Vec<crate::Record>> {
    let mut batches = Vec::new();
    for _ in 0..5 {
        batches.extend(one_of_each().into_iter().map(|r| vec![r]));
        batches.push(one_of_each());
    }
    batches
}

/// S11: a data directory written by format version 2 (segments and the
/// manifest) is pinned byte for byte, opens and replays.
/// Regenerate only with a version bump: `STOWAGE_BLESS=1 cargo test -p storage golden`.
#[test]
fn golden_data_dir_v2_opens() {
    let wal = v2_fixtures().join("data").join("wal");
    let cfg = StorageConfig {
        segment_size_bytes: 4096,
        ..StorageConfig::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let rt = rt();
    let (s, _) = Storage::open(tmp.path(), &cfg).unwrap();
    for batch in v2_workload() {
        rt.block_on(s.append(Append {
            records: batch,
            release: vec![],
        }))
        .unwrap();
    }
    rt.block_on(s.close()).unwrap();
    drop(s);
    let written = tmp.path().join("wal");
    let mut names: Vec<String> = std::fs::read_dir(&written)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let sizes: Vec<u64> = names
        .iter()
        .map(|n| std::fs::metadata(written.join(n)).unwrap().len())
        .collect();
    assert!(
        names.len() >= 3,
        "two segments and the manifest: {names:?} {sizes:?}"
    );
    if bless() {
        std::fs::create_dir_all(&wal).unwrap();
        for name in &names {
            std::fs::copy(written.join(name), wal.join(name)).unwrap();
        }
    }
    for name in &names {
        let golden = std::fs::read(wal.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            std::fs::read(written.join(name)).unwrap(),
            golden,
            "{name} changed: bump FORMAT_VERSION"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("wal")).unwrap();
    for name in &names {
        std::fs::copy(wal.join(name), dir.path().join("wal").join(name)).unwrap();
    }
    let (s, rec) = Storage::open(dir.path(), &cfg).unwrap();
    assert_eq!(rec.segments, names.len() - 1);
    let want: Vec<crate::Record> = v2_workload().into_iter().flatten().collect();
    assert_eq!(rec.records, want.len() as u64);
    assert_eq!(replayed(&s), want);
}

/// S11: the manifest layout is pinned.
#[test]
fn golden_manifest() {
    let bytes = format::encode_manifest(&[1, 42].into());
    let mut want = b"STOWSEGS".to_vec();
    want.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
    want.extend_from_slice(&1u64.to_le_bytes());
    want.extend_from_slice(&42u64.to_le_bytes());
    want.extend_from_slice(&crc32fast::hash(&want).to_le_bytes());
    assert_eq!(bytes, want);
    assert_eq!(format::decode_manifest(&bytes), Ok([1, 42].into()));
    for cut in 0..bytes.len() {
        assert!(
            format::decode_manifest(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}
