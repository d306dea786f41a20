//! Which records are still needed, per segment: the basis for deleting
//! segments (garbage collection) and offering them for compaction.
//!
//! Per segment we keep the (offset, len) of every non-tombstone record in
//! append order, a dead bitset, and the live byte count: 8 bytes and one bit
//! per record. Tombstones are never live; a segment holding a tombstone that
//! released records in older segments is *pinned*: it may not be deleted
//! while any segment in [oldest released segment, this segment) still exists,
//! or a replay would resurrect what the tombstone ended (invariant S7).

use std::collections::BTreeMap;

use crate::RecordPos;

/// Liveness of one segment.
#[derive(Debug, Default)]
pub(crate) struct SegmentLiveness {
    /// (offset, len) of each non-tombstone record, ascending offsets.
    records: Vec<(u32, u32)>,
    /// Bit i set = `records[i]` is dead.
    dead: Vec<u64>,
    live_count: u64,
    live_bytes: u64,
    /// Oldest segment holding a record released by a tombstone in this one.
    pin_floor: Option<u64>,
    /// Was offered as a compaction candidate (counts as a compaction when deleted).
    offered: bool,
}

impl SegmentLiveness {
    fn is_dead(&self, i: usize) -> bool {
        self.dead
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set_dead(&mut self, i: usize) {
        let word = i / 64;
        if self.dead.len() <= word {
            self.dead.resize(word + 1, 0);
        }
        if let Some(w) = self.dead.get_mut(word) {
            *w |= 1 << (i % 64);
        }
    }

    /// Approximate heap bytes used.
    fn heap_bytes(&self) -> usize {
        self.records.capacity() * 8 + self.dead.capacity() * 8
    }
}

/// Liveness of all segments.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    segments: BTreeMap<u64, SegmentLiveness>,
}

impl Liveness {
    /// Makes sure `segment` is known (e.g. a segment with only tombstones).
    pub(crate) fn add_segment(&mut self, segment: u64) {
        self.segments.entry(segment).or_default();
    }

    /// Registers a freshly appended or replayed non-tombstone record as live.
    pub(crate) fn add_live(&mut self, pos: RecordPos) {
        let seg = self.segments.entry(pos.segment).or_default();
        debug_assert!(seg.records.last().is_none_or(|(o, _)| *o < pos.offset));
        seg.records.push((pos.offset, pos.len));
        seg.live_count += 1;
        seg.live_bytes += u64::from(pos.len);
    }

    /// Pins `segment`: it may not be deleted while any segment in
    /// [`floor`, `segment`) exists. No-op unless `floor` is older.
    pub(crate) fn pin(&mut self, segment: u64, floor: u64) {
        if floor >= segment {
            return;
        }
        if let Some(seg) = self.segments.get_mut(&segment) {
            seg.pin_floor = Some(seg.pin_floor.map_or(floor, |f| f.min(floor)));
        }
    }

    /// Marks a record dead. Returns false if it was unknown or already dead.
    /// With `by` (the releasing tombstone) in a newer segment, pins that segment.
    pub(crate) fn release(&mut self, pos: RecordPos, by: Option<RecordPos>) -> bool {
        if let Some(t) = by {
            self.pin(t.segment, pos.segment);
        }
        let Some(seg) = self.segments.get_mut(&pos.segment) else {
            return false;
        };
        let Ok(i) = seg.records.binary_search_by_key(&pos.offset, |(o, _)| *o) else {
            return false;
        };
        if seg.is_dead(i) {
            return false;
        }
        seg.set_dead(i);
        seg.live_count -= 1;
        seg.live_bytes = seg.live_bytes.saturating_sub(u64::from(pos.len));
        true
    }

    /// Is this position a live record?
    #[cfg(test)]
    pub(crate) fn is_live(&self, pos: RecordPos) -> bool {
        self.segments.get(&pos.segment).is_some_and(|seg| {
            seg.records
                .binary_search_by_key(&pos.offset, |(o, _)| *o)
                .is_ok_and(|i| !seg.is_dead(i))
        })
    }

    /// Segment ids older than `active` that may be deleted now: no live
    /// records and no pin still in force (oldest first). Deleting one may
    /// free the pin of a later one; this accounts for that.
    pub(crate) fn deletable(&self, active: u64) -> Vec<u64> {
        let mut gone: Vec<u64> = Vec::new();
        let exists = |id: u64, gone: &[u64]| self.segments.contains_key(&id) && !gone.contains(&id);
        for (&id, seg) in self.segments.range(..active) {
            if seg.live_count != 0 {
                continue;
            }
            let pinned = seg.pin_floor.is_some_and(|floor| {
                self.segments
                    .range(floor..id)
                    .any(|(&other, _)| exists(other, &gone))
            });
            if !pinned {
                gone.push(id);
            }
        }
        gone
    }

    /// Forgets a deleted segment; true if it had been offered for compaction.
    pub(crate) fn remove_segment(&mut self, id: u64) -> bool {
        self.segments.remove(&id).is_some_and(|s| s.offered)
    }

    /// Segments older than `active` whose live fraction of `sizes` is below
    /// `ratio` but not zero (zero-live ones are garbage, not candidates).
    pub(crate) fn compaction_candidates(
        &mut self,
        active: u64,
        ratio: f64,
        size_of: impl Fn(u64) -> u64,
    ) -> Vec<u64> {
        let mut out = Vec::new();
        for (&id, seg) in self.segments.range_mut(..active) {
            let size = size_of(id);
            if seg.live_count > 0 && size > 0 && (seg.live_bytes as f64) < ratio * size as f64 {
                seg.offered = true;
                out.push(id);
            }
        }
        out
    }

    /// Live positions of one segment, in log order.
    pub(crate) fn live_records(&self, segment: u64) -> Vec<RecordPos> {
        let Some(seg) = self.segments.get(&segment) else {
            return Vec::new();
        };
        seg.records
            .iter()
            .enumerate()
            .filter(|(i, _)| !seg.is_dead(*i))
            .map(|(_, &(offset, len))| RecordPos {
                segment,
                offset,
                len,
            })
            .collect()
    }

    /// Total live bytes.
    pub(crate) fn live_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.live_bytes).sum()
    }

    /// Approximate heap bytes of the whole structure.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.segments
            .values()
            .map(SegmentLiveness::heap_bytes)
            .sum::<usize>()
            + self.segments.len() * (std::mem::size_of::<SegmentLiveness>() + 64)
    }
}
