//! Every byte-layout constant of the write-ahead log, and the encode/decode
//! functions for segment headers and record frames. Nothing else in the crate
//! knows an offset or a magic number.
//!
//! # Segment file (`wal/<20-digit zero-padded first LSN>.wal`)
//!
//! ```text
//! offset  size  field
//!      0     8  magic            b"STOWWAL\0"
//!      8     4  format version   u32 LE (FORMAT_VERSION = 2 written; 1 and 2 read)
//!     12     4  reserved         zero
//!     16     8  first LSN        u64 LE (equals the number in the file name)
//!     24     4  reserved         zero
//!     28     4  header CRC       crc32 (crc32fast) of bytes 0..28, u32 LE
//!     32     …  frames, back to back, until the end of the file
//! ```
//!
//! # Frame
//!
//! ```text
//! offset  size  field
//!      0     4  len     u32 LE: number of bytes AFTER this field (14 + payload length)
//!      4     4  crc     u32 LE: crc32 of bytes 8..4+len (kind, flags, lsn, payload)
//!      8     1  kind    record kind tag (`RecordKind`)
//!      9     1  flags   bit 0 = BATCH_CONTINUES (set on all but the last frame of a batch)
//!                       bit 1 = SYNCED_BEFORE (version 2: every byte before this frame was
//!                               fdatasync'ed before this frame was written)
//!     10     8  lsn     u64 LE, consecutive per record
//!     18     …  payload the `Record`, bincode 2 with `record::BINCODE_CONFIG`
//! ```
//!
//! A whole frame is `4 + len` bytes; `RecordPos::len` is that whole length.
//!
//! # Segment manifest (`wal/SEGMENTS`, format version 2)
//!
//! ```text
//! offset  size  field
//!      0     8  magic            b"STOWSEGS"
//!      8     4  manifest version u32 LE (= MANIFEST_VERSION = 1)
//!     12     4  count            u32 LE, number of segment ids
//!     16  8*count  ids          u64 LE each, ascending (first LSN of every segment that exists)
//!      …     4  crc              crc32 of every byte before it
//! ```
//!
//! Version 2 differs from version 1 only by this manifest: segment and frame
//! bytes are identical. A version-2 segment therefore promises that the
//! manifest exists; a directory of version-1 segments without one is a log
//! written before manifests, and gets one at its next open.

use crate::record::{self, Record};
use crate::StorageError;

/// Segment file magic.
pub(crate) const MAGIC: [u8; 8] = *b"STOWWAL\0";
/// The on-disk format version this build writes.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build reads.
pub(crate) const OLDEST_READABLE_VERSION: u32 = 1;
/// Name of the segment manifest inside `wal/`.
pub(crate) const MANIFEST_FILE: &str = "SEGMENTS";
/// Name of the manifest being written (renamed over `MANIFEST_FILE`).
pub(crate) const MANIFEST_TMP_FILE: &str = "SEGMENTS.tmp";
/// Manifest magic.
const MANIFEST_MAGIC: [u8; 8] = *b"STOWSEGS";
/// Manifest layout version.
const MANIFEST_VERSION: u32 = 1;
/// Bytes before the ids in the manifest.
const MANIFEST_HEAD_LEN: usize = 16;
/// Size of the segment header.
pub(crate) const HEADER_LEN: usize = 32;
/// Bytes of the header covered by the header CRC.
const HEADER_CRC_OFFSET: usize = 28;

/// Size of the `len` field.
pub(crate) const LEN_FIELD: usize = 4;
/// Size of the frame header (len, crc, kind, flags, lsn).
pub(crate) const FRAME_HEADER_LEN: usize = 18;
/// Smallest valid value of the `len` field (a frame with an empty payload).
pub(crate) const MIN_LEN_FIELD: usize = FRAME_HEADER_LEN - LEN_FIELD;
/// Largest payload accepted (a record bigger than this is refused at submit
/// and a `len` above it is an impossible length at recovery).
pub(crate) const MAX_PAYLOAD: usize = 64 * 1024 * 1024;
/// Flags bit 0: another frame of the same batch follows.
pub(crate) const FLAG_BATCH_CONTINUES: u8 = 0b0000_0001;
/// Flags bit 1 (format version 2): every byte before this frame was synced
/// before this frame was written. Set (with durability `always`) on the
/// first frame of each group commit, so recovery can tell a torn write (the
/// unsynced group, possibly with holes) from damage to synced bytes (a bad
/// frame that such a frame follows).
pub(crate) const FLAG_SYNCED_BEFORE: u8 = 0b0000_0010;
/// All flag bits this version knows.
const KNOWN_FLAGS: u8 = FLAG_BATCH_CONTINUES | FLAG_SYNCED_BEFORE;
/// File-name width of the first-LSN number.
pub(crate) const SEGMENT_NAME_DIGITS: usize = 20;
/// File-name suffix of segments.
pub(crate) const SEGMENT_SUFFIX: &str = ".wal";
/// The first LSN of a fresh log.
pub(crate) const FIRST_LSN: u64 = 1;

const _: () = assert!(HEADER_CRC_OFFSET + 4 == HEADER_LEN);
const _: () = assert!(FRAME_HEADER_LEN == LEN_FIELD + 4 + 1 + 1 + 8);
const _: () = assert!(MAX_PAYLOAD + FRAME_HEADER_LEN < u32::MAX as usize);
// u64::MAX has 20 decimal digits, so every LSN fits the file-name width.
const _: () = assert!(SEGMENT_NAME_DIGITS == 20);

/// Record kind tag: one per `Record` variant. Values are on-disk format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum RecordKind {
    QueueUpserted = 1,
    QueueDeleted = 2,
    QueuePurged = 3,
    MessageSent = 4,
    MessageReceived = 5,
    VisibilityChanged = 6,
    MessageDeleted = 7,
    MessageMoved = 8,
    MoveTaskUpdated = 9,
}

impl RecordKind {
    /// The kind of a record.
    pub(crate) fn of(record: &Record) -> RecordKind {
        match record {
            Record::QueueUpserted(_) => RecordKind::QueueUpserted,
            Record::QueueDeleted { .. } => RecordKind::QueueDeleted,
            Record::QueuePurged { .. } => RecordKind::QueuePurged,
            Record::MessageSent(_) => RecordKind::MessageSent,
            Record::MessageReceived { .. } => RecordKind::MessageReceived,
            Record::VisibilityChanged { .. } => RecordKind::VisibilityChanged,
            Record::MessageDeleted { .. } => RecordKind::MessageDeleted,
            Record::MessageMoved { .. } => RecordKind::MessageMoved,
            Record::MoveTaskUpdated(_) => RecordKind::MoveTaskUpdated,
        }
    }

    /// True for kinds whose records are tombstones (see `Record::is_tombstone`).
    pub(crate) fn is_tombstone(self) -> bool {
        matches!(
            self,
            RecordKind::QueueDeleted | RecordKind::QueuePurged | RecordKind::MessageDeleted
        )
    }
}

impl TryFrom<u8> for RecordKind {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        Ok(match v {
            1 => RecordKind::QueueUpserted,
            2 => RecordKind::QueueDeleted,
            3 => RecordKind::QueuePurged,
            4 => RecordKind::MessageSent,
            5 => RecordKind::MessageReceived,
            6 => RecordKind::VisibilityChanged,
            7 => RecordKind::MessageDeleted,
            8 => RecordKind::MessageMoved,
            9 => RecordKind::MoveTaskUpdated,
            other => return Err(other),
        })
    }
}

/// File name of the segment whose first LSN is `first_lsn`.
pub(crate) fn segment_file_name(first_lsn: u64) -> String {
    format!(
        "{first_lsn:0width$}{SEGMENT_SUFFIX}",
        width = SEGMENT_NAME_DIGITS
    )
}

/// Parses a segment file name; `None` if it is not one.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Encodes a segment header of the current format version.
pub(crate) fn encode_header(first_lsn: u64) -> [u8; HEADER_LEN] {
    encode_header_version(first_lsn, FORMAT_VERSION)
}

/// Encodes a segment header of a given version (tests write old versions).
pub(crate) fn encode_header_version(first_lsn: u64, version: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&version.to_le_bytes());
    h[16..24].copy_from_slice(&first_lsn.to_le_bytes());
    let crc = crc32fast::hash(&h[..HEADER_CRC_OFFSET]);
    h[HEADER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a header is not acceptable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Fewer than `HEADER_LEN` bytes.
    Short,
    /// All zero (a file created but never written).
    Zero,
    /// Wrong magic.
    BadMagic,
    /// Header CRC mismatch.
    BadCrc,
    /// A version this build does not read.
    Version(u32),
}

/// A decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// First LSN (equals the file name).
    pub(crate) first_lsn: u64,
    /// Format version.
    pub(crate) version: u32,
}

/// Decodes a segment header.
pub(crate) fn decode_header(bytes: &[u8]) -> Result<Header, HeaderError> {
    let h = bytes.get(..HEADER_LEN).ok_or(HeaderError::Short)?;
    if h.iter().all(|b| *b == 0) {
        return Err(HeaderError::Zero);
    }
    if h[0..8] != MAGIC {
        return Err(HeaderError::BadMagic);
    }
    let stored = u32_at(h, HEADER_CRC_OFFSET);
    if crc32fast::hash(&h[..HEADER_CRC_OFFSET]) != stored {
        return Err(HeaderError::BadCrc);
    }
    let version = u32_at(h, 8);
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(HeaderError::Version(version));
    }
    Ok(Header {
        first_lsn: u64_at(h, 16),
        version,
    })
}

/// Encodes the manifest listing `ids` (ascending).
pub(crate) fn encode_manifest(ids: &std::collections::BTreeSet<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(MANIFEST_HEAD_LEN + 8 * ids.len() + 4);
    out.extend_from_slice(&MANIFEST_MAGIC);
    out.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
    let count = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for id in ids.iter().take(count as usize) {
        out.extend_from_slice(&id.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a manifest; the error says what is wrong.
pub(crate) fn decode_manifest(bytes: &[u8]) -> Result<std::collections::BTreeSet<u64>, String> {
    if bytes.len() < MANIFEST_HEAD_LEN + 4 {
        return Err(format!("{} bytes is too short for a manifest", bytes.len()));
    }
    if bytes[0..8] != MANIFEST_MAGIC {
        return Err("bad manifest magic".into());
    }
    let body_len = bytes.len() - 4;
    if crc32fast::hash(&bytes[..body_len]) != u32_at(bytes, body_len) {
        return Err("manifest CRC mismatch".into());
    }
    let version = u32_at(bytes, 8);
    if version != MANIFEST_VERSION {
        return Err(format!("unknown manifest version {version}"));
    }
    let count = u32_at(bytes, 12) as usize;
    if count.checked_mul(8).map(|n| n + MANIFEST_HEAD_LEN) != Some(body_len) {
        return Err(format!(
            "manifest of {} bytes cannot hold {count} ids",
            bytes.len()
        ));
    }
    let ids: std::collections::BTreeSet<u64> = (0..count)
        .map(|i| u64_at(bytes, MANIFEST_HEAD_LEN + 8 * i))
        .collect();
    if ids.len() != count {
        return Err("manifest lists a segment twice".into());
    }
    Ok(ids)
}

/// Encodes a record's payload and returns its kind (the reference encoder
/// of the tests; the write path uses [`encode_unsealed`]).
#[cfg(test)]
pub(crate) fn encode_payload(
    record: &Record,
    out: &mut Vec<u8>,
) -> Result<RecordKind, StorageError> {
    let start = out.len();
    record::encode_record(record, out)?;
    if out.len() - start > MAX_PAYLOAD {
        return Err(StorageError::Codec(format!(
            "record of {} bytes exceeds the maximum of {MAX_PAYLOAD}",
            out.len() - start
        )));
    }
    Ok(RecordKind::of(record))
}

/// Appends one frame to `out` and returns its CRC (the reference encoder of
/// the tests; the write path uses [`encode_unsealed`] and [`seal_frame`]).
#[cfg(test)]
pub(crate) fn encode_frame(
    out: &mut Vec<u8>,
    kind: RecordKind,
    flags: u8,
    lsn: u64,
    payload: &[u8],
) -> u32 {
    // Lengths were checked against MAX_PAYLOAD when the payload was encoded.
    let len = u32::try_from(MIN_LEN_FIELD + payload.len()).unwrap_or(u32::MAX);
    let mut body = [0u8; 10];
    body[0] = kind as u8;
    body[1] = flags;
    body[2..10].copy_from_slice(&lsn.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&body);
    hasher.update(payload);
    let crc = hasher.finalize();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(payload);
    crc
}

/// A frame encoded before its LSN is known (outside the submit lock): the
/// header's `len` and `kind` are final; `flags`, `lsn` and `crc` are zero
/// until [`seal_frame`].
#[derive(Debug)]
pub(crate) struct UnsealedFrame {
    /// Offset of the frame in the buffer it was encoded into.
    pub(crate) start: usize,
    /// Whole frame length (`4 + len`).
    pub(crate) total_len: usize,
}

/// Appends a frame for `record` to `out`: the header, then the payload
/// encoded straight behind it (no intermediate buffer, no later copy).
pub(crate) fn encode_unsealed(
    record: &Record,
    out: &mut Vec<u8>,
) -> Result<UnsealedFrame, StorageError> {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    record::encode_record(record, out)?;
    let payload_len = out.len() - start - FRAME_HEADER_LEN;
    if payload_len > MAX_PAYLOAD {
        out.truncate(start);
        return Err(StorageError::Codec(format!(
            "record of {payload_len} bytes exceeds the maximum of {MAX_PAYLOAD}"
        )));
    }
    // Checked against MAX_PAYLOAD just above.
    let len = u32::try_from(MIN_LEN_FIELD + payload_len).unwrap_or(u32::MAX);
    if let Some(header) = out.get_mut(start..start + FRAME_HEADER_LEN) {
        header[0..4].copy_from_slice(&len.to_le_bytes());
        header[8] = RecordKind::of(record) as u8;
    }
    Ok(UnsealedFrame {
        start,
        total_len: out.len() - start,
    })
}

/// Completes a frame encoded by [`encode_unsealed`] (`frame` is exactly its
/// bytes): writes `flags` and `lsn`, then the CRC over kind, flags, lsn and
/// payload; returns the CRC. (The LSN precedes the payload under the CRC, so
/// the CRC can only be computed once the LSN is known.)
pub(crate) fn seal_frame(frame: &mut [u8], flags: u8, lsn: u64) -> u32 {
    if frame.len() < FRAME_HEADER_LEN {
        return 0;
    }
    frame[9] = flags;
    frame[10..18].copy_from_slice(&lsn.to_le_bytes());
    let crc = crc32fast::hash(&frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    crc
}

/// A frame parsed (length- and CRC-checked) out of a byte slice.
#[derive(Debug)]
pub(crate) struct RawFrame<'a> {
    /// Whole frame length (`4 + len`).
    pub(crate) total_len: usize,
    pub(crate) crc: u32,
    pub(crate) kind: RecordKind,
    pub(crate) flags: u8,
    pub(crate) lsn: u64,
    pub(crate) payload: &'a [u8],
}

impl RawFrame<'_> {
    /// True when another frame of the same batch follows.
    pub(crate) fn continues(&self) -> bool {
        self.flags & FLAG_BATCH_CONTINUES != 0
    }

    /// True when everything before this frame was synced before it was written.
    pub(crate) fn synced_before(&self) -> bool {
        self.flags & FLAG_SYNCED_BEFORE != 0
    }

    /// Decodes the payload, checking that it matches the kind tag.
    pub(crate) fn decode(&self) -> Result<Record, String> {
        let record = record::decode_record(self.payload)?;
        if RecordKind::of(&record) != self.kind {
            return Err(format!(
                "kind tag {:?} does not match payload {:?}",
                self.kind,
                RecordKind::of(&record)
            ));
        }
        Ok(record)
    }
}

/// Why a frame could not be parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Fewer bytes left than a frame header or than `len` announces.
    Short,
    /// `len` is zero (zero fill) or outside the possible range.
    ImpossibleLength(u32),
    /// CRC mismatch.
    BadCrc,
    /// Unknown kind tag.
    UnknownKind(u8),
    /// Unknown flag bits.
    UnknownFlags(u8),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Short => write!(f, "short frame"),
            FrameError::ImpossibleLength(0) => write!(f, "zero length (zero fill)"),
            FrameError::ImpossibleLength(l) => write!(f, "impossible frame length {l}"),
            FrameError::BadCrc => write!(f, "CRC mismatch"),
            FrameError::UnknownKind(k) => write!(f, "unknown record kind {k}"),
            FrameError::UnknownFlags(fl) => write!(f, "unknown frame flags {fl:#04x}"),
        }
    }
}

/// Parses the frame at the start of `bytes`: length check, then CRC, then tags.
pub(crate) fn parse_frame(bytes: &[u8]) -> Result<RawFrame<'_>, FrameError> {
    if bytes.len() < LEN_FIELD {
        return Err(FrameError::Short);
    }
    let len = u32_at(bytes, 0);
    let len_usize = len as usize;
    if !(MIN_LEN_FIELD..=MIN_LEN_FIELD + MAX_PAYLOAD).contains(&len_usize) {
        return Err(FrameError::ImpossibleLength(len));
    }
    let total_len = LEN_FIELD + len_usize;
    let frame = bytes.get(..total_len).ok_or(FrameError::Short)?;
    let crc = u32_at(frame, 4);
    if crc32fast::hash(&frame[8..]) != crc {
        return Err(FrameError::BadCrc);
    }
    let kind = RecordKind::try_from(frame[8]).map_err(FrameError::UnknownKind)?;
    let flags = frame[9];
    if flags & !KNOWN_FLAGS != 0 {
        return Err(FrameError::UnknownFlags(flags));
    }
    Ok(RawFrame {
        total_len,
        crc,
        kind,
        flags,
        lsn: u64_at(frame, 10),
        payload: &frame[FRAME_HEADER_LEN..],
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}
