//! Online backup: [`Storage::backup_to`] copies a consistent point of the
//! log while appends go on. The copy is itself a data directory: start on it
//! (`--data-dir`), or stop the broker and put it in place of the old one.
//!
//! How: reclamation is paused (no segment is deleted while we copy), then a
//! sync point is taken: the end of the log at that moment (LSN, active
//! segment, byte offset), made durable. Every segment before the active one
//! is sealed (complete, synced, never written again) and is copied whole;
//! the active one is copied up to the point's offset, which ends exactly
//! after the last batch submitted before the point. The copy therefore holds
//! the same log a crash at that moment would have left after recovery (with
//! every record synced): nothing torn, nothing after the point. A manifest
//! listing the copied segments is written with it; the index is not copied
//! (it is derived: the first open of the copy rebuilds it from the log).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use crate::io::FileSystem;
use crate::storage::WAL_DIR;
use crate::wal::{format, manifest};
use crate::{Lsn, Storage, StorageError};

/// Bytes copied per read/write.
const COPY_CHUNK: u64 = 1 << 20;

/// What [`Storage::backup_to`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup holds exactly the records with an LSN below this one
    /// (everything acknowledged before the backup started, and possibly
    /// some appends acknowledged while it was taking its point).
    pub next_lsn: Lsn,
    /// Segment files copied.
    pub segments: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Storage {
    /// Copies a consistent point of the log into `dir` (created; it must
    /// not exist or be empty) while appends continue; see the module docs.
    /// Every record acknowledged before the call is in the copy.
    pub async fn backup_to(&self, dir: &Path) -> Result<BackupReport, StorageError> {
        let started = Instant::now();
        prepare_target(dir)?;
        let wal = self.wal();
        let _pause = wal.pause_reclamation();
        let point = self.sync_point().await?;
        let target = dir.join(WAL_DIR);
        std::fs::create_dir_all(&target).map_err(io_at(&target))?;
        let fs = wal.fs.as_ref();
        let mut copied = BTreeSet::new();
        let mut bytes = 0;
        for seg in wal.segment_list() {
            if seg.id > point.segment {
                break;
            }
            let len = if seg.id == point.segment {
                point.offset
            } else {
                seg.len()
            };
            let to = target.join(format::segment_file_name(seg.id));
            copy_prefix(fs, &seg, len, &to)?;
            copied.insert(seg.id);
            bytes += len;
        }
        fs.sync_dir(&target).map_err(io_at(&target))?;
        manifest::write(fs, &target, &copied)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(io_at(parent))?;
        }
        fs.sync_dir(dir).map_err(io_at(dir))?;
        let report = BackupReport {
            next_lsn: point.next_lsn,
            segments: copied.len(),
            bytes,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        tracing::info!(?report, dir = %dir.display(), "backup written");
        Ok(report)
    }
}

/// Creates `dir` or checks that it is empty.
fn prepare_target(dir: &Path) -> Result<(), StorageError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io_at(dir))?;
        if entries.next().is_some() {
            return Err(StorageError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "backup target is not empty",
                ),
            });
        }
        Ok(())
    } else {
        std::fs::create_dir_all(dir).map_err(io_at(dir))
    }
}

/// Copies the first `len` bytes of a segment to a new file `to`, synced.
fn copy_prefix(
    fs: &dyn FileSystem,
    seg: &crate::wal::segment::Segment,
    len: u64,
    to: &Path,
) -> Result<(), StorageError> {
    let out = fs.create(to).map_err(io_at(to))?;
    let mut buf = Vec::new();
    let mut at = 0;
    while at < len {
        let n = COPY_CHUNK.min(len - at);
        buf.resize(n as usize, 0);
        seg.file.read_at(&mut buf, at).map_err(|e| seg.io_err(e))?;
        out.append(&buf).map_err(io_at(to))?;
        at += n;
    }
    out.sync_data().map_err(io_at(to))
}
