//! Recovery at open: list and check segments, truncate only a torn tail of
//! the last one, rebuild liveness, report what was dropped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::io::FileSystem;
use crate::liveness::Liveness;
use crate::wal::format::{self, HeaderError, HEADER_LEN};
use crate::wal::segment::{self, Segment};
use crate::StorageError;

/// What recovery produced.
pub(crate) struct RecoveryOutcome {
    pub(crate) segments: BTreeMap<u64, Arc<Segment>>,
    pub(crate) liveness: Liveness,
    pub(crate) next_lsn: u64,
    /// (LSN, CRC) of the last record in the log.
    pub(crate) last: Option<(u64, u32)>,
    pub(crate) records: u64,
    pub(crate) truncated_bytes: u64,
    pub(crate) dropped_records: u64,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Lists segment ids in `dir`; anything else is a foreign file.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name();
        let id = name.to_str().and_then(format::parse_segment_file_name);
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        match id {
            Some(id) if is_file => ids.push(id),
            _ => return Err(StorageError::ForeignFile(entry.path())),
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Recovers the log in `dir` (the `wal/` directory).
pub(crate) fn recover(fs: &dyn FileSystem, dir: &Path) -> Result<RecoveryOutcome, StorageError> {
    let ids = list_segments(dir)?;
    let mut out = RecoveryOutcome {
        segments: BTreeMap::new(),
        liveness: Liveness::default(),
        next_lsn: format::FIRST_LSN,
        last: None,
        records: 0,
        truncated_bytes: 0,
        dropped_records: 0,
    };
    let count = ids.len();
    for (i, &id) in ids.iter().enumerate() {
        let is_last = i + 1 == count;
        let path = dir.join(format::segment_file_name(id));
        let file = fs.open(&path).map_err(io_at(&path))?;
        let len = file.len().map_err(io_at(&path))?;
        let seg = Segment::new(id, path.clone(), file, len);
        let bytes = seg.read_all(len)?;
        match format::decode_header(&bytes) {
            Ok(first) if first == id => {}
            Ok(first) => {
                return Err(seg.corruption(
                    0,
                    format!("header says first LSN {first}, file name says {id}"),
                ))
            }
            Err(
                HeaderError::Short
                | HeaderError::Zero
                | HeaderError::BadMagic
                | HeaderError::BadCrc,
            ) if is_last && (bytes.len() <= HEADER_LEN || bytes.iter().all(|b| *b == 0)) => {
                // A segment whose creation was interrupted: the header is
                // written and synced before any frame, so a last file that is
                // at most a (torn) header, or all zeroes, holds nothing.
                tracing::warn!(segment = %path.display(), bytes = len, "removing a last segment with an incomplete header");
                fs.remove(&path).map_err(io_at(&path))?;
                fs.sync_dir(dir).map_err(io_at(dir))?;
                out.truncated_bytes += len;
                if out.segments.is_empty() {
                    // Everything before it was reclaimed: the log resumes at its first LSN.
                    out.next_lsn = out.next_lsn.max(id);
                }
                continue;
            }
            Err(HeaderError::Version(found)) => {
                return Err(StorageError::UnsupportedVersion {
                    path,
                    found,
                    supported: format::FORMAT_VERSION,
                })
            }
            Err(e) => return Err(seg.corruption(0, format!("bad segment header: {e:?}"))),
        }
        if id < out.next_lsn {
            return Err(seg.corruption(
                0,
                format!(
                    "segment starts at LSN {id}, but LSNs up to {} are already taken",
                    out.next_lsn
                ),
            ));
        }
        out.liveness.add_segment(id);
        let liveness = &mut out.liveness;
        let mut last = out.last;
        let scanned = segment::scan(id, &bytes, id, &mut |pos, frame, _record| {
            if !frame.kind.is_tombstone() {
                liveness.add_live(pos);
            }
            last = Some((frame.lsn, frame.crc));
            Ok(())
        })?;
        out.last = last;
        out.records += scanned.records;
        if let Some(stop) = &scanned.stop {
            if !is_last || stop.hard {
                return Err(seg.corruption(stop.offset, stop.reason.clone()));
            }
            let cut = len - scanned.valid_len;
            tracing::warn!(
                segment = %path.display(),
                offset = scanned.valid_len,
                truncated_bytes = cut,
                dropped_records = scanned.dropped_records,
                reason = %stop.reason,
                "truncating the torn tail of the write-ahead log"
            );
            seg.file
                .set_len(scanned.valid_len)
                .map_err(|e| seg.io_err(e))?;
            seg.file.sync_data().map_err(|e| seg.io_err(e))?;
            out.truncated_bytes += cut;
            out.dropped_records += scanned.dropped_records;
        }
        let seg = Segment::new(id, path, seg.file.clone(), scanned.valid_len);
        out.next_lsn = scanned.next_lsn;
        out.segments.insert(id, Arc::new(seg));
    }
    Ok(out)
}
