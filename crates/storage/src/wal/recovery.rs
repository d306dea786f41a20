//! Recovery at open, in two steps so each can be used alone:
//!
//! 1. [`survey`] reads the `wal/` directory without changing it: the
//!    manifest, every segment's header and frames, and classifies what it
//!    finds as [`Finding`]s (also the basis of `check::check`).
//! 2. [`recover`] refuses to start on damage (unless `repair`), then
//!    applies what a crash legitimately leaves behind: cuts a torn tail,
//!    removes a half-created last segment, finishes an interrupted
//!    reclamation, and brings the manifest up to date.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::finding::Finding;
use crate::io::{FileSystem, SegmentFile};
use crate::liveness::Liveness;
use crate::wal::format::{self, HeaderError, RawFrame, HEADER_LEN};
use crate::wal::manifest;
use crate::wal::segment::{self, Segment};
use crate::{RecordPos, StorageError};

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
    /// The segment set, as now in the manifest.
    pub(crate) manifest: BTreeSet<u64>,
}

/// One segment file as surveyed (kept open for recovery to use).
pub(crate) struct SurveyedSegment {
    pub(crate) id: u64,
    pub(crate) path: PathBuf,
    pub(crate) file: Arc<dyn SegmentFile>,
    /// File length on disk.
    pub(crate) len: u64,
    /// Length to keep (end of the last complete batch, or `len`).
    pub(crate) keep_len: u64,
}

/// What the survey found.
pub(crate) struct Survey {
    /// Segments to keep, in LSN order (leftovers and half-created ones excluded).
    pub(crate) segments: Vec<SurveyedSegment>,
    /// Files to delete: leftovers of an interrupted reclamation and a
    /// half-created last segment.
    pub(crate) remove: Vec<PathBuf>,
    /// The manifest as found (`None`: there is none).
    pub(crate) listed: Option<BTreeSet<u64>>,
    /// Complete records in the kept part of the log.
    pub(crate) records: u64,
    /// LSN the next record gets.
    pub(crate) next_lsn: u64,
    /// (LSN, CRC) of the last complete record.
    pub(crate) last: Option<(u64, u32)>,
    /// Everything noteworthy, in the order found.
    pub(crate) findings: Vec<Finding>,
    /// LSNs lost to missing segments, when known.
    pub(crate) missing_records: u64,
    /// Bytes of a half-created last segment (removed: counts as a cut tail).
    pub(crate) incomplete_bytes: u64,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Lists segment ids in `dir` and every file that is neither a segment nor
/// the manifest (a leftover manifest temp file is removed at open).
fn list_dir(dir: &Path) -> Result<(Vec<u64>, Vec<PathBuf>), StorageError> {
    let mut ids = Vec::new();
    let mut foreign = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name();
        let name = name.to_str();
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        match name.and_then(format::parse_segment_file_name) {
            Some(id) if is_file => ids.push(id),
            None if is_file
                && matches!(
                    name,
                    Some(format::MANIFEST_FILE | format::MANIFEST_TMP_FILE)
                ) => {}
            _ => foreign.push(entry.path()),
        }
    }
    ids.sort_unstable();
    foreign.sort();
    Ok((ids, foreign))
}

/// Reads the `wal/` directory `dir` without changing anything. `on_record`
/// sees every complete record that would be kept, in log order.
pub(crate) fn survey(
    fs: &dyn FileSystem,
    dir: &Path,
    on_record: &mut dyn FnMut(RecordPos, &RawFrame<'_>),
) -> Result<Survey, StorageError> {
    let (ids, foreign) = list_dir(dir)?;
    let mut out = Survey {
        segments: Vec::new(),
        remove: Vec::new(),
        listed: None,
        records: 0,
        next_lsn: format::FIRST_LSN,
        last: None,
        findings: foreign
            .into_iter()
            .map(|path| Finding::ForeignFile { path })
            .collect(),
        missing_records: 0,
        incomplete_bytes: 0,
    };
    let path_of = |id: u64| dir.join(format::segment_file_name(id));
    match manifest::read(dir) {
        Ok(listed) => out.listed = listed,
        Err(StorageError::Corruption {
            segment,
            offset,
            reason,
        }) => out.findings.push(Finding::Corruption {
            file: segment,
            offset,
            reason,
            in_last_segment: false,
            discarded_by_cut: 0,
        }),
        Err(e) => return Err(e),
    }
    // Classify the files against the manifest before reading any frame: a
    // leftover of a reclamation must not be replayed.
    let present: BTreeSet<u64> = ids.iter().copied().collect();
    let mut scan_ids = ids.clone();
    if let Some(listed) = out.listed.clone() {
        let newest_listed = listed.iter().next_back().copied();
        scan_ids.retain(|id| {
            let leftover = !listed.contains(id) && newest_listed.is_some_and(|n| *id < n);
            if leftover {
                out.findings.push(Finding::LeftoverSegment {
                    segment: path_of(*id),
                });
                out.remove.push(path_of(*id));
            }
            !leftover
        });
        missing_ranges(&listed, &present, &path_of, &mut out);
    }
    let mut versions = BTreeSet::new();
    let count = scan_ids.len();
    for (i, &id) in scan_ids.iter().enumerate() {
        let is_last = i + 1 == count;
        let path = path_of(id);
        let file = fs.open(&path).map_err(io_at(&path))?;
        let len = file.len().map_err(io_at(&path))?;
        let seg = Segment::new(id, path.clone(), file.clone(), len);
        let bytes = seg.read_all(len)?;
        // Frame damage in the last segment can be cut by a repair; a bad
        // header cannot.
        let corruption = |offset: u64, reason: String, discarded_by_cut: u64| Finding::Corruption {
            file: path.clone(),
            offset,
            reason,
            in_last_segment: is_last && offset > 0,
            discarded_by_cut,
        };
        match format::decode_header(&bytes) {
            Ok(h) if h.first_lsn == id => {
                versions.insert(h.version);
            }
            Ok(h) => {
                let reason = format!("header says first LSN {}, file name says {id}", h.first_lsn);
                out.findings.push(corruption(0, reason, 0));
                return Ok(out);
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
                out.findings.push(Finding::IncompleteSegment {
                    segment: path.clone(),
                    bytes: len,
                });
                out.remove.push(path);
                out.incomplete_bytes += len;
                if out.segments.is_empty() {
                    // Everything before it was reclaimed: the log resumes at its first LSN.
                    out.next_lsn = out.next_lsn.max(id);
                }
                continue;
            }
            Err(HeaderError::Version(found)) => {
                out.findings.push(Finding::UnsupportedVersion {
                    segment: path,
                    found,
                });
                return Ok(out);
            }
            Err(e) => {
                out.findings
                    .push(corruption(0, format!("bad segment header: {e:?}"), 0));
                return Ok(out);
            }
        }
        if id < out.next_lsn {
            let reason = format!(
                "segment starts at LSN {id}, but LSNs up to {} are already taken",
                out.next_lsn
            );
            out.findings.push(corruption(0, reason, 0));
            return Ok(out);
        }
        let mut last = out.last;
        let scanned = segment::scan(id, &bytes, id, &mut |pos, frame, _record| {
            on_record(pos, frame);
            last = Some((frame.lsn, frame.crc));
            Ok(())
        })?;
        out.last = last;
        out.records += scanned.records;
        out.next_lsn = scanned.next_lsn;
        let mut keep_len = len;
        if let Some(stop) = &scanned.stop {
            // A crash tears only the unsynced suffix: frames after the
            // damage that were written after a sync make it damage to
            // synced bytes, not a torn write.
            let expected = scanned.next_lsn + scanned.dropped_records;
            let after = segment::after_damage(&bytes, scanned.end_of_frames, expected);
            let discarded = after.frames + scanned.dropped_records;
            if !is_last || stop.hard || after.sync_point {
                out.findings
                    .push(corruption(stop.offset, stop.reason.clone(), discarded));
                out.segments.push(SurveyedSegment {
                    id,
                    path,
                    file,
                    len,
                    keep_len: scanned.valid_len,
                });
                return Ok(out);
            }
            out.findings.push(Finding::TornTail {
                segment: path.clone(),
                offset: scanned.valid_len,
                bytes: len - scanned.valid_len,
                dropped_records: discarded,
                reason: stop.reason.clone(),
            });
            keep_len = scanned.valid_len;
        }
        out.segments.push(SurveyedSegment {
            id,
            path,
            file,
            len,
            keep_len,
        });
    }
    if out.listed.is_none() && versions.iter().any(|v| *v >= 2) {
        out.findings.push(Finding::ManifestMissing {
            path: dir.join(format::MANIFEST_FILE),
        });
    }
    Ok(out)
}

/// Records a `MissingSegments` finding for each run of listed segments that
/// are not on disk.
fn missing_ranges(
    listed: &BTreeSet<u64>,
    present: &BTreeSet<u64>,
    path_of: &dyn Fn(u64) -> PathBuf,
    out: &mut Survey,
) {
    let all: BTreeSet<u64> = listed.union(present).copied().collect();
    let mut run: Vec<u64> = Vec::new();
    let flush = |run: &mut Vec<u64>, next: Option<u64>, out: &mut Survey| {
        if let Some(&first) = run.first() {
            let last_lsn = next.map(|n| n.saturating_sub(1));
            out.missing_records += last_lsn.map_or(0, |l| (l + 1).saturating_sub(first));
            out.findings.push(Finding::MissingSegments {
                files: run.iter().map(|id| path_of(*id)).collect(),
                first_lsn: first,
                last_lsn,
            });
            run.clear();
        }
    };
    for &id in &all {
        if listed.contains(&id) && !present.contains(&id) {
            run.push(id);
        } else {
            flush(&mut run, Some(id), out);
        }
    }
    flush(&mut run, None, out);
}

/// Recovers the log in `dir` (the `wal/` directory). Damage is an error
/// unless `repair`: then damage in the last segment is cut at its offset,
/// and missing segments or a missing manifest are accepted (the manifest is
/// rewritten from the segments present); `dropped_records` counts the
/// complete records discarded (and LSNs lost to missing segments, where known).
pub(crate) fn recover(
    fs: &dyn FileSystem,
    dir: &Path,
    repair: bool,
) -> Result<RecoveryOutcome, StorageError> {
    let mut liveness = Liveness::default();
    let survey = survey(fs, dir, &mut |pos, frame| {
        if !frame.kind.is_tombstone() {
            liveness.add_live(pos);
        }
    })?;
    let mut dropped_records = 0;
    for finding in &survey.findings {
        match finding {
            Finding::ForeignFile { path } => return Err(StorageError::ForeignFile(path.clone())),
            Finding::UnsupportedVersion { segment, found } => {
                return Err(StorageError::UnsupportedVersion {
                    path: segment.clone(),
                    found: *found,
                    supported: format::FORMAT_VERSION,
                })
            }
            Finding::Corruption {
                file,
                offset,
                reason,
                in_last_segment: true,
                discarded_by_cut,
            } => {
                if !repair {
                    return Err(StorageError::CorruptFrame {
                        segment: file.clone(),
                        offset: *offset,
                        reason: reason.clone(),
                        discarded_by_cut: *discarded_by_cut,
                    });
                }
                tracing::error!(segment = %file.display(), offset, reason, discarded_records = discarded_by_cut,
                    "repair: cutting the write-ahead log at a damaged frame");
                dropped_records += discarded_by_cut;
            }
            Finding::Corruption {
                file,
                offset,
                reason,
                ..
            } => {
                return Err(StorageError::Corruption {
                    segment: file.clone(),
                    offset: *offset,
                    reason: reason.clone(),
                })
            }
            Finding::MissingSegments {
                files,
                first_lsn,
                last_lsn,
            } if !repair => {
                return Err(StorageError::MissingSegments {
                    files: files
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    first_lsn: *first_lsn,
                    last_lsn: *last_lsn,
                })
            }
            Finding::ManifestMissing { path } if !repair => {
                return Err(StorageError::ManifestMissing(path.clone()))
            }
            Finding::MissingSegments { .. } | Finding::ManifestMissing { .. } => {
                tracing::error!(finding = %finding, "repair: accepting the loss and rewriting the segment manifest");
            }
            Finding::TornTail {
                dropped_records: d, ..
            } => {
                tracing::warn!(finding = %finding, "truncating the torn tail of the write-ahead log");
                dropped_records += d;
            }
            Finding::IncompleteSegment { .. } | Finding::LeftoverSegment { .. } => {
                tracing::warn!(finding = %finding, "recovering from a crash");
            }
            Finding::IndexStale { .. } | Finding::IndexUnreadable { .. } => {}
        }
    }
    if repair {
        dropped_records += survey.missing_records;
    }
    let mut out = RecoveryOutcome {
        segments: BTreeMap::new(),
        liveness,
        next_lsn: survey.next_lsn,
        last: survey.last,
        records: survey.records,
        truncated_bytes: survey.incomplete_bytes,
        dropped_records,
        manifest: survey.segments.iter().map(|s| s.id).collect(),
    };
    // The manifest first: a segment is unlisted before its file goes.
    if survey.listed.as_ref() != Some(&out.manifest) {
        manifest::write(fs, dir, &out.manifest)?;
    }
    let mut removed_any = false;
    for path in &survey.remove {
        fs.remove(path).map_err(io_at(path))?;
        removed_any = true;
    }
    let tmp = dir.join(format::MANIFEST_TMP_FILE);
    if tmp.exists() {
        fs.remove(&tmp).map_err(io_at(&tmp))?;
        removed_any = true;
    }
    if removed_any {
        fs.sync_dir(dir).map_err(io_at(dir))?;
    }
    let last_id = survey.segments.last().map(|s| s.id);
    for s in survey.segments {
        if s.keep_len == s.len && Some(s.id) == last_id {
            // The previous process may have left written but unsynced
            // frames: make them durable before anything is appended after
            // them (the first new frame claims FLAG_SYNCED_BEFORE).
            s.file.sync_data().map_err(io_at(&s.path))?;
        }
        if s.keep_len < s.len {
            tracing::warn!(
                segment = %s.path.display(),
                offset = s.keep_len,
                truncated_bytes = s.len - s.keep_len,
                "truncating the write-ahead log"
            );
            s.file.set_len(s.keep_len).map_err(io_at(&s.path))?;
            s.file.sync_data().map_err(io_at(&s.path))?;
            out.truncated_bytes += s.len - s.keep_len;
        }
        out.liveness.add_segment(s.id);
        out.segments.insert(
            s.id,
            Arc::new(Segment::new(s.id, s.path, s.file, s.keep_len)),
        );
    }
    Ok(out)
}
