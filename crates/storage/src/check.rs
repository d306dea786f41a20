//! Offline verification of a stopped broker's data directory: every segment
//! header and frame (length, CRC, tags, LSN continuity, decoding), the
//! segment set against the manifest, and the index against the log. Nothing
//! is changed; [`check`] returns a typed [`CheckReport`].
//!
//! The same survey runs at every [`crate::Storage::open`], which repairs what
//! a crash can leave behind ([`Finding::is_crash_leftover`]) and refuses to
//! start on anything else unless `storage.repair` is set.

use std::path::Path;

pub use crate::finding::Finding;
use crate::index::Index;
use crate::io::RealFs;
use crate::storage::{lock_dir, INDEX_DIR, WAL_DIR};
use crate::wal::recovery;
use crate::{Lsn, StorageError};

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Segment files examined.
    pub segments: usize,
    /// Complete records found.
    pub records: u64,
    /// LSN of the last complete record, if any.
    pub last_lsn: Option<Lsn>,
    /// Every finding, in the order found.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// True when nothing at all was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// True when every finding is a crash leftover that opening repairs.
    pub fn only_crash_leftovers(&self) -> bool {
        self.findings.iter().all(Finding::is_crash_leftover)
    }
}

/// Verifies the data directory `dir` of a stopped broker without changing
/// the log (it takes the directory's lock, so a running broker makes it fail
/// with [`StorageError::Locked`]). I/O errors are errors; damage is findings.
pub fn check(dir: &Path) -> Result<CheckReport, StorageError> {
    let wal_dir = dir.join(WAL_DIR);
    if !wal_dir.is_dir() {
        return Err(StorageError::Io {
            path: wal_dir,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no wal/ directory: not a Stowage data directory",
            ),
        });
    }
    let _lock = lock_dir(dir)?;
    let survey = recovery::survey(&RealFs, &wal_dir, &mut |_, _| {})?;
    let mut report = CheckReport {
        segments: survey.segments.len(),
        records: survey.records,
        last_lsn: survey.last.map(|(lsn, _)| lsn),
        findings: survey.findings,
    };
    let index_dir = dir.join(INDEX_DIR);
    if index_dir.exists() {
        match Index::open_existing(&index_dir) {
            Ok(index) => {
                let stamp = index.stamp_with_crc().ok().flatten();
                if stamp != survey.last {
                    report.findings.push(Finding::IndexStale {
                        index_lsn: stamp.map(|(lsn, _)| lsn),
                        log_lsn: report.last_lsn,
                    });
                }
            }
            Err(e) => report.findings.push(Finding::IndexUnreadable {
                reason: e.to_string(),
            }),
        }
    }
    // An absent index is no damage: a fresh backup has none, and opening
    // builds it from the log (the source of truth).
    Ok(report)
}
