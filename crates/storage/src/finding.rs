//! [`Finding`]: one thing wrong in a data directory, or left behind by a
//! crash. The recovery survey produces them; [`crate::check`] reports them.

use std::fmt;
use std::path::PathBuf;

use crate::Lsn;

/// Something wrong in a data directory (or left behind by a crash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The last segment ends in a torn write (a crash during an unsynced
    /// append). Opening cuts it.
    TornTail {
        /// Segment file.
        segment: PathBuf,
        /// Where the cut goes (end of the last complete batch).
        offset: u64,
        /// Bytes after the cut.
        bytes: u64,
        /// Complete-looking frames of the incomplete batch that go with it.
        dropped_records: u64,
        /// What ends the log there.
        reason: String,
    },
    /// The newest segment holds at most a torn header (a crash while it
    /// was created). Opening removes it.
    IncompleteSegment {
        /// Segment file.
        segment: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// A segment the manifest no longer lists, older than the newest listed
    /// one: a reclamation interrupted by a crash. Opening deletes it.
    LeftoverSegment {
        /// Segment file.
        segment: PathBuf,
    },
    /// Damage: a bad frame or header in a sealed segment, a CRC-valid frame
    /// that makes no sense, a damaged manifest, or a bad frame in the last
    /// segment that complete frames follow. Opening refuses; with
    /// `storage.repair`, damage in the last segment is cut there.
    Corruption {
        /// File (a segment, or the manifest).
        file: PathBuf,
        /// Byte offset.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// The damage is in the last segment (a repair can cut there).
        in_last_segment: bool,
        /// Complete records a repair would discard by cutting the last
        /// segment at the end of its last intact batch: the frames of the
        /// batch the damage interrupts and every CRC-valid frame after it.
        discarded_by_cut: u64,
    },
    /// Segments the manifest lists (never reclaimed) are not on disk.
    MissingSegments {
        /// The missing files.
        files: Vec<PathBuf>,
        /// First lost LSN.
        first_lsn: Lsn,
        /// Last lost LSN (`None`: the newest segment is gone, its end is unknown).
        last_lsn: Option<Lsn>,
    },
    /// The manifest is missing though format-version-2 segments exist.
    ManifestMissing {
        /// Where it should be.
        path: PathBuf,
    },
    /// A segment of a format version this build does not read.
    UnsupportedVersion {
        /// Segment file.
        segment: PathBuf,
        /// Its version.
        found: u32,
    },
    /// A file in `wal/` that Stowage did not write.
    ForeignFile {
        /// The file.
        path: PathBuf,
    },
    /// The index does not match the log end (opening rebuilds it).
    IndexStale {
        /// LSN the index says it reflects.
        index_lsn: Option<Lsn>,
        /// LSN of the last record in the log.
        log_lsn: Option<Lsn>,
    },
    /// The index cannot be opened (opening rebuilds it).
    IndexUnreadable {
        /// Why.
        reason: String,
    },
}

impl Finding {
    /// True for what a crash legitimately leaves behind and every open
    /// repairs by itself (a torn tail, a half-created or half-reclaimed
    /// segment, a stale index): `stowage check --repair` fixes only these.
    pub fn is_crash_leftover(&self) -> bool {
        matches!(
            self,
            Finding::TornTail { .. }
                | Finding::IncompleteSegment { .. }
                | Finding::LeftoverSegment { .. }
                | Finding::IndexStale { .. }
                | Finding::IndexUnreadable { .. }
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::TornTail {
                segment,
                offset,
                bytes,
                dropped_records,
                reason,
            } => write!(
                f,
                "torn tail in {} at offset {offset}: {bytes} byte(s) after the last complete \
                 batch ({reason}; {dropped_records} frame(s) of an incomplete batch)",
                segment.display()
            ),
            Finding::IncompleteSegment { segment, bytes } => write!(
                f,
                "{} holds only an incomplete header ({bytes} byte(s)): its creation was interrupted",
                segment.display()
            ),
            Finding::LeftoverSegment { segment } => write!(
                f,
                "{} was reclaimed but not yet deleted (interrupted reclamation)",
                segment.display()
            ),
            Finding::Corruption {
                file,
                offset,
                reason,
                in_last_segment,
                discarded_by_cut,
            } => {
                write!(
                    f,
                    "corruption in {} at offset {offset}: {reason}",
                    file.display()
                )?;
                if *in_last_segment {
                    write!(
                        f,
                        " (last segment: a repair cutting there would discard \
                         {discarded_by_cut} complete record(s))"
                    )?;
                }
                Ok(())
            }
            Finding::MissingSegments {
                files,
                first_lsn,
                last_lsn,
            } => {
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                match last_lsn {
                    Some(last) => write!(
                        f,
                        "missing segment(s) {} (LSNs {first_lsn}..={last})",
                        names.join(", ")
                    ),
                    None => write!(
                        f,
                        "missing segment(s) {} (LSNs from {first_lsn} to the end of the log)",
                        names.join(", ")
                    ),
                }
            }
            Finding::ManifestMissing { path } => {
                write!(f, "the segment manifest {} is missing", path.display())
            }
            Finding::UnsupportedVersion { segment, found } => write!(
                f,
                "{} has format version {found}, which this build does not read",
                segment.display()
            ),
            Finding::ForeignFile { path } => {
                write!(f, "unexpected file {}", path.display())
            }
            Finding::IndexStale { index_lsn, log_lsn } => write!(
                f,
                "the index reflects LSN {index_lsn:?}, the log ends at {log_lsn:?} (it will be rebuilt)"
            ),
            Finding::IndexUnreadable { reason } => {
                write!(f, "the index cannot be opened: {reason} (it will be rebuilt)")
            }
        }
    }
}
