//! `StorageError`: everything that can go wrong below the engine.

use std::path::PathBuf;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O call failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A frame before the tail of the log is damaged: never skipped silently.
    #[error("corrupt WAL segment {segment} at offset {offset}: {reason}")]
    Corruption {
        /// Segment file.
        segment: PathBuf,
        /// Byte offset of the bad frame.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Damage in the last segment that is no torn write: a bad frame
    /// followed by complete, CRC-valid frames (a crash tears only the
    /// unsynced suffix), or a CRC-valid frame that makes no sense. Recovery
    /// refuses to cut acknowledged records silently.
    #[error(
        "corrupt WAL segment {segment} at offset {offset}: {reason}; this is damage, not a torn \
         write (complete records follow it). Restore from a backup, or start once with \
         storage.repair = true (stowage --repair-wal) to cut the log there, discarding \
         {discarded_by_cut} complete record(s)"
    )]
    CorruptFrame {
        /// Segment file.
        segment: PathBuf,
        /// Byte offset of the bad frame.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// Complete records the cut would discard.
        discarded_by_cut: u64,
    },
    /// Segment files that the manifest lists (so they were never reclaimed)
    /// are gone.
    #[error(
        "WAL segment(s) missing: {files} (LSNs {first_lsn}..{}) are listed in the segment manifest \
         but not on disk, so acknowledged records are lost. Restore from a backup, or start once \
         with storage.repair = true (stowage --repair-wal) to accept the loss",
        .last_lsn.map_or_else(|| "the end of the log".to_string(), |l| format!("={l}"))
    )]
    MissingSegments {
        /// File names of the missing segments, comma-separated.
        files: String,
        /// First LSN that is gone.
        first_lsn: u64,
        /// Last LSN that is gone (`None`: the newest segment is gone, so its end is unknown).
        last_lsn: Option<u64>,
    },
    /// The segment manifest is missing although segments of format version 2
    /// (which always come with one) exist: the set of segments cannot be verified.
    #[error(
        "the segment manifest {0} is missing, so missing segments cannot be detected. Restore from \
         a backup, or start once with storage.repair = true (stowage --repair-wal) to rebuild it \
         from the segments present"
    )]
    ManifestMissing(PathBuf),
    /// A file in the data directory that Stowage did not write.
    #[error("unexpected file in data directory: {0} (move it away or point --data-dir elsewhere)")]
    ForeignFile(PathBuf),
    /// A segment written by a newer (or unknown) format version.
    #[error("WAL segment {path} has format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        /// Segment file.
        path: PathBuf,
        /// Version in its header.
        found: u32,
        /// Version this build understands.
        supported: u32,
    },
    /// Another process holds the data directory's LOCK file.
    #[error("data directory {0} is locked by another process")]
    Locked(PathBuf),
    /// An earlier write or fsync failed; the log refuses appends until restart.
    #[error("the write-ahead log is poisoned by an earlier I/O failure ({0}); restart required")]
    Poisoned(String),
    /// A record could not be encoded or decoded.
    #[error("record codec error: {0}")]
    Codec(String),
    /// A position that does not point at a record.
    #[error("no record at segment {segment} offset {offset}")]
    BadPosition {
        /// Segment (first LSN).
        segment: u64,
        /// Offset.
        offset: u32,
    },
    /// The sled index failed.
    #[error("index error: {0}")]
    Index(String),
    /// The storage was closed.
    #[error("storage is closed")]
    Closed,
}
