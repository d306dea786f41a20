//! One segment file on disk and the frame scanner shared by recovery,
//! replay and index rebuilds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::io::{FileSystem, SegmentFile};
use crate::record::Record;
use crate::wal::format::{self, RawFrame, RecordKind, HEADER_LEN};
use crate::{RecordPos, StorageError};

/// An open segment file.
pub(crate) struct Segment {
    /// First LSN (the file name).
    pub(crate) id: u64,
    pub(crate) path: PathBuf,
    pub(crate) file: Arc<dyn SegmentFile>,
    /// Bytes written so far (everything below is readable).
    len: AtomicU64,
}

impl Segment {
    pub(crate) fn new(id: u64, path: PathBuf, file: Arc<dyn SegmentFile>, len: u64) -> Segment {
        Segment {
            id,
            path,
            file,
            len: AtomicU64::new(len),
        }
    }

    /// Creates a new segment file with its header, synced, and syncs the directory.
    pub(crate) fn create(
        fs: &dyn FileSystem,
        dir: &Path,
        id: u64,
    ) -> Result<Segment, StorageError> {
        let path = dir.join(format::segment_file_name(id));
        let io = |source| StorageError::Io {
            path: path.clone(),
            source,
        };
        let file = fs.create(&path).map_err(io)?;
        file.append(&format::encode_header(id)).map_err(io)?;
        file.sync_data().map_err(io)?;
        fs.sync_dir(dir).map_err(|source| StorageError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Segment::new(id, path.clone(), file, HEADER_LEN as u64))
    }

    pub(crate) fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    pub(crate) fn add_len(&self, n: u64) {
        self.len.fetch_add(n, Ordering::AcqRel);
    }

    pub(crate) fn io_err(&self, source: std::io::Error) -> StorageError {
        StorageError::Io {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn corruption(&self, offset: u64, reason: impl Into<String>) -> StorageError {
        StorageError::Corruption {
            segment: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    /// Reads the first `len` bytes of the file.
    pub(crate) fn read_all(&self, len: u64) -> Result<Vec<u8>, StorageError> {
        let n =
            usize::try_from(len).map_err(|_| self.corruption(0, "segment too large for memory"))?;
        let mut buf = vec![0u8; n];
        self.file.read_at(&mut buf, 0).map_err(|e| self.io_err(e))?;
        Ok(buf)
    }

    /// True if the whole frame at `pos` is below the written length.
    pub(crate) fn holds(&self, pos: RecordPos) -> bool {
        u64::from(pos.offset) + u64::from(pos.len) <= self.len()
    }

    /// Reads and decodes the record at `pos`.
    pub(crate) fn read_record(&self, pos: RecordPos) -> Result<Record, StorageError> {
        if !plausible(pos) || !self.holds(pos) {
            return Err(bad_position(pos));
        }
        let mut buf = vec![0u8; pos.len as usize];
        self.file
            .read_at(&mut buf, u64::from(pos.offset))
            .map_err(|e| self.io_err(e))?;
        decode_at(pos, &buf, |reason| {
            self.corruption(u64::from(pos.offset), reason)
        })
    }
}

/// `BadPosition` for `pos`.
pub(crate) fn bad_position(pos: RecordPos) -> StorageError {
    StorageError::BadPosition {
        segment: pos.segment,
        offset: pos.offset,
    }
}

/// A position that could point at a frame (after the header, long enough).
fn plausible(pos: RecordPos) -> bool {
    (pos.offset as usize) >= HEADER_LEN && (pos.len as usize) >= format::FRAME_HEADER_LEN
}

/// Decodes the frame bytes `buf` read at `pos`: `BadPosition` when they are
/// no whole frame, `corruption(reason)` when a CRC-valid frame does not decode.
pub(crate) fn decode_at(
    pos: RecordPos,
    buf: &[u8],
    corruption: impl FnOnce(String) -> StorageError,
) -> Result<Record, StorageError> {
    let Ok(frame) = format::parse_frame(buf) else {
        return Err(bad_position(pos));
    };
    if frame.total_len != buf.len() || !plausible(pos) {
        return Err(bad_position(pos));
    }
    frame.decode().map_err(corruption)
}

/// Where and why a scan stopped before the end of the bytes.
#[derive(Debug)]
pub(crate) struct ScanStop {
    pub(crate) offset: u64,
    pub(crate) reason: String,
    /// A CRC-valid frame that makes no sense: never a torn write.
    pub(crate) hard: bool,
}

/// Result of scanning one segment's bytes.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    /// End of the last complete batch.
    pub(crate) valid_len: u64,
    /// LSN after the last complete batch.
    pub(crate) next_lsn: u64,
    /// Complete records delivered.
    pub(crate) records: u64,
    /// Valid frames of a trailing batch whose end is missing.
    pub(crate) dropped_records: u64,
    /// End of the last CRC-valid frame parsed (past `valid_len` when a
    /// trailing batch is incomplete): where the damage or the end begins.
    pub(crate) end_of_frames: u64,
    /// Offset of that incomplete batch (== valid_len) if any, and the stop.
    pub(crate) stop: Option<ScanStop>,
}

/// Scans the frames of a segment (`bytes` = the whole file, header included),
/// delivering every record of every complete batch, in order. `first_lsn`
/// is the LSN the first frame must carry.
pub(crate) fn scan(
    segment: u64,
    bytes: &[u8],
    first_lsn: u64,
    f: &mut dyn FnMut(RecordPos, &RawFrame<'_>, Record) -> Result<(), StorageError>,
) -> Result<ScanOutcome, StorageError> {
    scan_kinds(segment, bytes, first_lsn, &|_| true, f)
}

/// [`scan`], decoding and delivering only the records whose kind `want`s
/// (the others are checked — length, CRC, kind, LSN, batch — but their
/// payload is not decoded). For logs that recovery has already verified.
pub(crate) fn scan_kinds(
    segment: u64,
    bytes: &[u8],
    first_lsn: u64,
    want: &dyn Fn(RecordKind) -> bool,
    f: &mut dyn FnMut(RecordPos, &RawFrame<'_>, Record) -> Result<(), StorageError>,
) -> Result<ScanOutcome, StorageError> {
    let mut off = HEADER_LEN;
    let mut lsn = first_lsn;
    let mut out = ScanOutcome {
        valid_len: off as u64,
        next_lsn: lsn,
        records: 0,
        dropped_records: 0,
        end_of_frames: off as u64,
        stop: None,
    };
    // Frames of the batch in progress.
    let mut batch: Vec<(RecordPos, Option<Record>)> = Vec::new();
    while off < bytes.len() {
        let rest = bytes.get(off..).unwrap_or_default();
        let frame = match format::parse_frame(rest) {
            Ok(fr) => fr,
            Err(e) => {
                // A CRC-valid frame with an unknown tag is no torn write.
                let hard = matches!(
                    e,
                    format::FrameError::UnknownKind(_) | format::FrameError::UnknownFlags(_)
                );
                out.stop = Some(ScanStop {
                    offset: off as u64,
                    reason: e.to_string(),
                    hard,
                });
                break;
            }
        };
        if frame.lsn != lsn {
            out.stop = Some(ScanStop {
                offset: off as u64,
                reason: format!("frame carries LSN {} where {lsn} was expected", frame.lsn),
                hard: true,
            });
            break;
        }
        let record = if !want(frame.kind) {
            None
        } else {
            match frame.decode() {
                Ok(r) => Some(r),
                Err(reason) => {
                    out.stop = Some(ScanStop {
                        offset: off as u64,
                        reason: format!("undecodable payload: {reason}"),
                        hard: true,
                    });
                    break;
                }
            }
        };
        let (Ok(offset), Ok(len)) = (u32::try_from(off), u32::try_from(frame.total_len)) else {
            out.stop = Some(ScanStop {
                offset: off as u64,
                reason: "offset beyond 4 GiB".into(),
                hard: true,
            });
            break;
        };
        let pos = RecordPos {
            segment,
            offset,
            len,
        };
        let continues = frame.continues();
        off += frame.total_len;
        lsn += 1;
        out.end_of_frames = off as u64;
        if continues {
            batch.push((pos, record));
            continue;
        }
        // The batch is complete: deliver its earlier frames (their headers
        // re-parsed from `bytes`, already checked above), then this one.
        for (p, r) in batch.drain(..) {
            if let Some(r) = r {
                let start = p.offset as usize;
                let fr = format::parse_frame(bytes.get(start..).unwrap_or_default())
                    .map_err(|e| StorageError::Codec(format!("frame re-parse failed: {e}")))?;
                f(p, &fr, r)?;
            }
            out.records += 1;
        }
        if let Some(record) = record {
            f(pos, &frame, record)?;
        }
        out.records += 1;
        out.valid_len = off as u64;
        out.next_lsn = lsn;
    }
    if !batch.is_empty() {
        out.dropped_records = batch.len() as u64;
        if out.stop.is_none() {
            out.stop = Some(ScanStop {
                offset: out.valid_len,
                reason: format!("batch of {} frames is missing its end", batch.len()),
                hard: false,
            });
        }
    }
    Ok(out)
}

/// What follows a damaged frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AfterDamage {
    /// CRC-valid frames carrying an LSN of at least the one expected.
    pub(crate) frames: u64,
    /// One of them was written after everything before it was synced: the
    /// damage is in synced bytes, so it is no torn write.
    pub(crate) sync_point: bool,
}

/// Finds the CRC-valid frames carrying an LSN of at least `min_lsn` at or
/// after offset `from` of `bytes`, resynchronising byte by byte after
/// anything that does not parse. Frames of an older LSN (stale bytes) do not
/// count. No frame at all: everything from `from` on is missing, zeroed or
/// garbled, a torn write. Frames but no sync point: holes in the last,
/// unsynced group commit (its pages may reach the disk in any order), also
/// a torn write. A sync point: damage to synced bytes.
pub(crate) fn after_damage(bytes: &[u8], from: u64, min_lsn: u64) -> AfterDamage {
    let mut off = usize::try_from(from).unwrap_or(usize::MAX);
    let mut next_min = min_lsn;
    let mut out = AfterDamage::default();
    while off < bytes.len() {
        match format::parse_frame(bytes.get(off..).unwrap_or_default()) {
            Ok(frame) if frame.lsn >= next_min => {
                out.frames += 1;
                out.sync_point |= frame.synced_before();
                next_min = frame.lsn.saturating_add(1);
                off += frame.total_len;
            }
            _ => off += 1,
        }
    }
    out
}
