//! `Messages`: the compact in-memory index of one queue's stored messages.
//!
//! Bodies and attributes stay on disk (read back with `Storage::read`); each
//! message costs one [`Msg`] in a slab plus an id → slot entry, an entry in
//! the age list, and while visible an entry in a ready list (standard) or in
//! its group's list (FIFO). Delayed and in-flight messages have one timer.
//!
//! State of a live message at time `now`:
//! - `PENDING`: its append is not durable yet — never handed out;
//! - `INFLIGHT`: received, invisible until `visible_at_ms`;
//! - `DELAYED`: never received, invisible until `visible_at_ms`;
//! - `RESERVED`: visible, picked by a receive that is reading its body
//!   outside the lock — no other receive or move picks it, and it counts
//!   against the in-flight limit;
//! - otherwise visible.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};

use storage::RecordPos;

use crate::store::MessageId;

/// Flag: the slot holds a message.
const LIVE: u8 = 1;
/// Flag: the message's append is not durable yet.
const PENDING: u8 = 2;
/// Flag: received and not yet visible again.
const INFLIGHT: u8 = 4;
/// Flag: delayed (never received, not visible yet).
const DELAYED: u8 = 8;
/// Flag: picked by a receive that has not committed yet.
const RESERVED: u8 = 16;

/// A position that means "none" (frames are never empty).
pub(super) const NO_POS: RecordPos = RecordPos {
    segment: 0,
    offset: 0,
    len: 0,
};

/// One stored message, compact.
#[derive(Debug, Clone)]
pub(super) struct Msg {
    /// Message id.
    pub(super) id: MessageId,
    /// Its current MessageSent / MessageMoved record.
    pub(super) pos: RecordPos,
    /// Its latest MessageReceived / VisibilityChanged record ([`NO_POS`] if none).
    pub(super) state_pos: RecordPos,
    /// Ordering key: the FIFO sequence number, or a time-based counter on standard queues.
    pub(super) order: u64,
    /// SentTimestamp, epoch ms.
    pub(super) sent_ms: u64,
    /// Invisible until, epoch ms.
    pub(super) visible_at_ms: u64,
    /// ApproximateFirstReceiveTimestamp as `first − sent + 1` ms (0 = never; 49 days of
    /// range, beyond the 14-day retention), to keep `Msg` at 96 bytes.
    first_receive_delta_ms: u32,
    /// ApproximateReceiveCount.
    pub(super) receive_count: u32,
    /// Delivery epoch.
    pub(super) epoch: u32,
    /// Interned group (0 = none).
    pub(super) group: u32,
    /// Slot generation (guards stale list entries).
    gen: u32,
    flags: u8,
}

/// What a new message starts as.
#[derive(Debug, Clone)]
pub(super) struct NewMsg {
    /// Message id.
    pub(super) id: MessageId,
    /// Its record.
    pub(super) pos: RecordPos,
    /// Its receive-state record, if any.
    pub(super) state_pos: RecordPos,
    /// Ordering key.
    pub(super) order: u64,
    /// SentTimestamp.
    pub(super) sent_ms: u64,
    /// Invisible until.
    pub(super) visible_at_ms: u64,
    /// First receive (0 = never).
    pub(super) first_receive_ms: u64,
    /// Receive count.
    pub(super) receive_count: u32,
    /// Delivery epoch.
    pub(super) epoch: u32,
    /// Interned group (0 = none).
    pub(super) group: u32,
}

impl Msg {
    /// ApproximateFirstReceiveTimestamp, epoch ms (0 = never).
    pub(super) fn first_receive_ms(&self) -> u64 {
        match self.first_receive_delta_ms {
            0 => 0,
            d => self.sent_ms + u64::from(d) - 1,
        }
    }
    /// Sets the first receive time (0 = never).
    pub(super) fn set_first_receive_ms(&mut self, ms: u64) {
        self.first_receive_delta_ms = if ms == 0 {
            0
        } else {
            u32::try_from(ms.saturating_sub(self.sent_ms).saturating_add(1)).unwrap_or(u32::MAX)
        };
    }
    /// Received and still invisible?
    pub(super) fn in_flight(&self) -> bool {
        self.flags & INFLIGHT != 0
    }
    /// Delayed?
    pub(super) fn delayed(&self) -> bool {
        self.flags & DELAYED != 0
    }
    /// Append not durable yet?
    pub(super) fn pending(&self) -> bool {
        self.flags & PENDING != 0
    }
    /// Visible now (durable, not delayed, not in flight, not reserved)?
    pub(super) fn available(&self) -> bool {
        self.flags == LIVE
    }
    /// Picked by a receive that has not committed yet?
    pub(super) fn reserved(&self) -> bool {
        self.flags & RESERVED != 0
    }
}

/// Counts for gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Visible (including not-yet-durable sends).
    pub(super) visible: u64,
    /// In flight.
    pub(super) in_flight: u64,
    /// Delayed.
    pub(super) delayed: u64,
}

/// The message index of one queue.
#[derive(Debug, Default)]
pub(super) struct Messages {
    fifo: bool,
    slots: Vec<Msg>,
    free: Vec<u32>,
    /// id → slot, storing only the 4-byte slot (ids are compared through the slab).
    by_id: hashbrown::HashTable<u32>,
    hasher: RandomState,
    /// Standard: visible messages per group as (order, slot, gen), in send
    /// order (a message whose visibility expired goes back to its place, ahead
    /// of messages sent after it); `ready_groups` rotates over non-empty ones.
    ready: HashMap<u32, VecDeque<(u64, u32, u32)>>,
    ready_groups: VecDeque<u32>,
    /// FIFO: every message of a group in order; `fifo_groups` rotates over non-empty groups.
    groups: HashMap<u32, VecDeque<u32>>,
    fifo_groups: VecDeque<u32>,
    /// (due ms, slot, gen) of delayed and in-flight messages.
    timers: BTreeSet<(u64, u32, u32)>,
    /// Messages in arrival order, for retention.
    by_age: VecDeque<(u32, u32)>,
    in_flight: usize,
    /// Receive time of the current delivery of in-flight messages (slot →
    /// epoch ms), for the 12-hour visibility cap. Only in-flight messages
    /// have an entry, so a backlog costs nothing here. Not rebuilt by replay.
    delivered_at_ms: HashMap<u32, u64>,
    delayed: usize,
    /// Messages reserved by receives that have not committed yet.
    reserved: usize,
}

/// A removed message, for releasing its records.
pub(super) type Removed = Msg;

impl Messages {
    /// An empty index.
    pub(super) fn new(fifo: bool) -> Self {
        Messages {
            fifo,
            ..Default::default()
        }
    }

    /// Messages in flight, and those reserved by receives about to make
    /// them so (the in-flight limit counts both).
    pub(super) fn in_flight_count(&self) -> usize {
        self.in_flight + self.reserved
    }

    /// Gauge counts.
    pub(super) fn counts(&self) -> Counts {
        let total = self.by_id.len();
        Counts {
            visible: (total.saturating_sub(self.in_flight + self.delayed)) as u64,
            in_flight: self.in_flight as u64,
            delayed: self.delayed as u64,
        }
    }

    /// SentTimestamp of the oldest message (approximate).
    pub(super) fn oldest_sent_ms(&self) -> Option<u64> {
        self.by_age
            .iter()
            .take(64)
            .filter_map(|&(slot, gen)| self.live(slot, gen))
            .map(|m| m.sent_ms)
            .min()
    }

    fn live(&self, slot: u32, gen: u32) -> Option<&Msg> {
        self.slots
            .get(slot as usize)
            .filter(|m| m.gen == gen && m.flags & LIVE != 0)
    }

    /// Slot of a message.
    pub(super) fn slot_of(&self, id: &MessageId) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        let slots = &self.slots;
        self.by_id
            .find(hash, |&s| {
                slots.get(s as usize).is_some_and(|m| m.id == *id)
            })
            .copied()
    }

    /// The message in `slot`.
    pub(super) fn get(&self, slot: u32) -> Option<&Msg> {
        self.slots
            .get(slot as usize)
            .filter(|m| m.flags & LIVE != 0)
    }

    /// The message in `slot`, mutable (callers must not touch timing fields;
    /// use the dedicated methods for those).
    pub(super) fn get_mut(&mut self, slot: u32) -> Option<&mut Msg> {
        self.slots
            .get_mut(slot as usize)
            .filter(|m| m.flags & LIVE != 0)
    }

    /// Iterates over live messages.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &Msg)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, m)| m.flags & LIVE != 0)
            .map(|(i, m)| (i as u32, m))
    }

    fn alloc(&mut self, new: NewMsg, flags: u8) -> u32 {
        let msg = |gen| Msg {
            id: new.id,
            pos: new.pos,
            state_pos: new.state_pos,
            order: new.order,
            sent_ms: new.sent_ms,
            visible_at_ms: new.visible_at_ms,
            first_receive_delta_ms: 0,
            receive_count: new.receive_count,
            epoch: new.epoch,
            group: new.group,
            gen,
            flags,
        };
        let slot = if let Some(slot) = self.free.pop() {
            let gen = self.slots[slot as usize].gen.wrapping_add(1);
            self.slots[slot as usize] = msg(gen);
            slot
        } else {
            self.slots.push(msg(0));
            (self.slots.len() - 1) as u32
        };
        self.slots[slot as usize].set_first_receive_ms(new.first_receive_ms);
        let hash = self.hasher.hash_one(new.id);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_id.insert_unique(hash, slot, |&s| {
            slots.get(s as usize).map_or(0, |m| hasher.hash_one(m.id))
        });
        slot
    }

    /// Inserts a just-sent message as PENDING (not handed out until
    /// [`Messages::finish_pending`]). FIFO messages take their place in their
    /// group at once, so later messages of the group wait behind them.
    pub(super) fn insert_pending(&mut self, new: NewMsg, now_ms: u64) -> u32 {
        let delayed = new.visible_at_ms > now_ms;
        let mut flags = LIVE | PENDING;
        if delayed {
            flags |= DELAYED;
            self.delayed += 1;
        }
        let slot = self.alloc(new, flags);
        let (gen, due, group, order) = {
            let m = &self.slots[slot as usize];
            (m.gen, m.visible_at_ms, m.group, m.order)
        };
        if delayed {
            self.timers.insert((due, slot, gen));
        }
        self.by_age.push_back((slot, gen));
        if self.fifo {
            self.group_insert(group, slot, order);
        }
        slot
    }

    /// Marks a pending message durable; returns true when it is visible now.
    pub(super) fn finish_pending(&mut self, slot: u32, id: &MessageId) -> bool {
        let Some(m) = self.slots.get_mut(slot as usize) else {
            return false;
        };
        if m.flags & LIVE == 0 || m.id != *id || m.flags & PENDING == 0 {
            return false;
        }
        m.flags &= !PENDING;
        if m.available() {
            let (gen, group, order) = (m.gen, m.group, m.order);
            if !self.fifo {
                self.push_ready(group, order, slot, gen);
            }
            true
        } else {
            false
        }
    }

    fn group_insert(&mut self, group: u32, slot: u32, order: u64) {
        let list = self.groups.entry(group).or_default();
        if list.is_empty() {
            self.fifo_groups.push_back(group);
        }
        let back_order = list.back().map(|&s| self.slots[s as usize].order);
        match back_order {
            Some(last) if last > order => {
                let slots = &self.slots;
                let at = list.partition_point(|&s| slots[s as usize].order <= order);
                list.insert(at, slot);
            }
            _ => list.push_back(slot),
        }
    }

    /// Puts a visible message into its tenant's ready list at its place in
    /// send order (new sends land at the back; messages coming back from a
    /// visibility timeout usually near the front, which `VecDeque::insert`
    /// makes cheap). Each entry carries its own order key, so stale entries
    /// never break the sort.
    fn push_ready(&mut self, group: u32, order: u64, slot: u32, gen: u32) {
        let list = self.ready.entry(group).or_default();
        if list.is_empty() {
            self.ready_groups.push_back(group);
        }
        match list.back() {
            Some(&(last, _, _)) if last > order => {
                let at = list.partition_point(|&(o, _, _)| o <= order);
                list.insert(at, (order, slot, gen));
            }
            _ => list.push_back((order, slot, gen)),
        }
    }

    /// Removes a message entirely.
    pub(super) fn remove(&mut self, slot: u32) -> Option<Removed> {
        let m = self
            .slots
            .get(slot as usize)
            .filter(|m| m.flags & LIVE != 0)?
            .clone();
        if m.flags & (INFLIGHT | DELAYED) != 0 {
            self.timers.remove(&(m.visible_at_ms, slot, m.gen));
        }
        if m.in_flight() {
            self.in_flight -= 1;
            self.delivered_at_ms.remove(&slot);
        }
        if m.delayed() {
            self.delayed -= 1;
        }
        if m.reserved() {
            self.reserved -= 1;
        }
        if self.fifo {
            if let Some(list) = self.groups.get_mut(&m.group) {
                if let Some(at) = list.iter().position(|&s| s == slot) {
                    list.remove(at);
                }
                if list.is_empty() {
                    self.groups.remove(&m.group);
                    self.fifo_groups.retain(|g| *g != m.group);
                }
            }
        }
        let hash = self.hasher.hash_one(m.id);
        if let Ok(entry) = self.by_id.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        let entry = &mut self.slots[slot as usize];
        entry.flags = 0;
        entry.gen = entry.gen.wrapping_add(1);
        self.free.push(slot);
        Some(m)
    }

    /// Removes every message (purge, queue delete).
    pub(super) fn clear(&mut self) -> Vec<Removed> {
        let removed: Vec<Removed> = self.iter().map(|(_, m)| m.clone()).collect();
        *self = Messages::new(self.fifo);
        removed
    }

    /// Picks up to `max` visible messages for a receive, without changing
    /// them. Standard queues rotate over groups (fair queues); FIFO queues
    /// take messages in group order, never past a message that is in flight
    /// or pending, and prefer as many as possible from one group.
    pub(super) fn pick(&mut self, max: usize) -> Vec<u32> {
        if self.fifo {
            self.pick_fifo(max)
        } else {
            self.pick_standard(max)
        }
    }

    fn pick_standard(&mut self, max: usize) -> Vec<u32> {
        let mut picked = Vec::with_capacity(max);
        // Each turn either takes one message from a tenant (at most `max`
        // turns) or drains a tenant's stale entries and drops it: terminates.
        while picked.len() < max {
            let Some(group) = self.ready_groups.pop_front() else {
                break;
            };
            let Some(list) = self.ready.get_mut(&group) else {
                continue;
            };
            while let Some((_, slot, gen)) = list.pop_front() {
                let ok = self
                    .slots
                    .get(slot as usize)
                    .is_some_and(|m| m.gen == gen && m.available());
                if ok {
                    picked.push(slot);
                    break;
                }
            }
            if list.is_empty() {
                self.ready.remove(&group);
            } else {
                self.ready_groups.push_back(group);
            }
        }
        picked
    }

    fn pick_fifo(&mut self, max: usize) -> Vec<u32> {
        let mut picked = Vec::with_capacity(max);
        let rounds = self.fifo_groups.len();
        for _ in 0..rounds {
            if picked.len() >= max {
                break;
            }
            let Some(group) = self.fifo_groups.pop_front() else {
                break;
            };
            self.fifo_groups.push_back(group);
            let Some(list) = self.groups.get(&group) else {
                continue;
            };
            for &slot in list {
                if picked.len() >= max {
                    break;
                }
                let Some(m) = self.slots.get(slot as usize) else {
                    break;
                };
                if m.pending() || m.in_flight() || m.reserved() {
                    break; // the group is blocked behind this one
                }
                if m.delayed() {
                    continue; // delayed messages do not block their group
                }
                picked.push(slot);
            }
        }
        picked
    }

    /// Marks a picked message received: new epoch, count, deadline.
    pub(super) fn mark_received(
        &mut self,
        slot: u32,
        now_ms: u64,
        visible_at_ms: u64,
    ) -> Option<&Msg> {
        let m = self.slots.get_mut(slot as usize)?;
        if m.flags & LIVE == 0 {
            return None;
        }
        if m.flags & RESERVED != 0 {
            m.flags &= !RESERVED;
            self.reserved -= 1;
        }
        m.epoch = m.epoch.wrapping_add(1);
        m.receive_count = m.receive_count.saturating_add(1);
        if m.first_receive_delta_ms == 0 {
            m.set_first_receive_ms(now_ms);
        }
        if m.flags & INFLIGHT == 0 {
            self.in_flight += 1;
        } else {
            self.timers.remove(&(m.visible_at_ms, slot, m.gen));
        }
        m.flags |= INFLIGHT;
        m.visible_at_ms = visible_at_ms;
        self.timers.insert((visible_at_ms, slot, m.gen));
        self.delivered_at_ms.insert(slot, now_ms);
        self.slots.get(slot as usize)
    }

    /// Receive time of the current delivery of an in-flight message (unknown
    /// for deliveries made before the last restart).
    pub(super) fn delivered_at_ms(&self, slot: u32) -> Option<u64> {
        self.delivered_at_ms.get(&slot).copied()
    }

    /// Changes the deadline of an in-flight message (0 s makes it visible at once).
    pub(super) fn change_visibility(&mut self, slot: u32, now_ms: u64, visible_at_ms: u64) -> bool {
        let Some(m) = self.slots.get_mut(slot as usize) else {
            return false;
        };
        if m.flags & INFLIGHT == 0 || m.flags & LIVE == 0 {
            return false;
        }
        self.timers.remove(&(m.visible_at_ms, slot, m.gen));
        m.visible_at_ms = visible_at_ms;
        let gen = m.gen;
        if visible_at_ms <= now_ms {
            self.make_visible(slot);
        } else {
            self.timers.insert((visible_at_ms, slot, gen));
        }
        true
    }

    fn make_visible(&mut self, slot: u32) {
        let Some(m) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if m.flags & INFLIGHT != 0 {
            self.in_flight -= 1;
            self.delivered_at_ms.remove(&slot);
        }
        if m.flags & DELAYED != 0 {
            self.delayed -= 1;
        }
        m.flags &= !(INFLIGHT | DELAYED);
        let (gen, group, order, available) = (m.gen, m.group, m.order, m.available());
        if available && !self.fifo {
            self.push_ready(group, order, slot, gen);
        }
    }

    /// Hides a visible, already received message again until `visible_at_ms`
    /// (ChangeMessageVisibility with the handle of the latest delivery after
    /// its timeout expired). Keeps epoch and receive count; the 12-hour cap
    /// is not tracked for such a delivery. Returns false when the message is
    /// not in that state.
    pub(super) fn rehide(&mut self, slot: u32, visible_at_ms: u64) -> bool {
        let Some(m) = self.slots.get_mut(slot as usize) else {
            return false;
        };
        if !m.available() || m.receive_count == 0 {
            return false;
        }
        m.flags |= INFLIGHT;
        m.visible_at_ms = visible_at_ms;
        let (gen, group, order) = (m.gen, m.group, m.order);
        self.in_flight += 1;
        self.timers.insert((visible_at_ms, slot, gen));
        // Its ready entry must go now: it comes back when the timer fires,
        // and two live entries would hand it out twice.
        if !self.fifo {
            self.remove_ready(group, order, slot, gen);
        }
        true
    }

    /// Removes a visible message's entry from its tenant's ready list.
    fn remove_ready(&mut self, group: u32, order: u64, slot: u32, gen: u32) {
        let Some(list) = self.ready.get_mut(&group) else {
            return;
        };
        let start = list.partition_point(|&(o, _, _)| o < order);
        let found = (start..list.len())
            .take_while(|&i| list.get(i).is_some_and(|&(o, _, _)| o == order))
            .find(|&i| list.get(i) == Some(&(order, slot, gen)));
        if let Some(i) = found {
            list.remove(i);
        }
        if list.is_empty() {
            self.ready.remove(&group);
            self.ready_groups.retain(|&g| g != group);
        }
    }

    /// Timers and retention at `now_ms`: delayed and in-flight messages whose
    /// time has come become visible; messages sent before `now - retention`
    /// are removed and returned. Returns (anything became visible, expired).
    pub(super) fn run_due(&mut self, now_ms: u64, retention_ms: u64) -> (bool, Vec<Removed>) {
        let mut became_visible = false;
        while let Some(&(due, slot, gen)) = self.timers.first() {
            if due > now_ms {
                break;
            }
            self.timers.pop_first();
            if self.live(slot, gen).is_some() {
                self.make_visible(slot);
                became_visible |= self.slots[slot as usize].available();
            }
        }
        let mut expired = Vec::new();
        while let Some(&(slot, gen)) = self.by_age.front() {
            match self.live(slot, gen) {
                None => {
                    self.by_age.pop_front();
                }
                Some(m) if m.sent_ms.saturating_add(retention_ms) <= now_ms && !m.pending() => {
                    self.by_age.pop_front();
                    if let Some(m) = self.remove(slot) {
                        expired.push(m);
                    }
                }
                Some(_) => break,
            }
        }
        if expired.is_empty() && self.by_age.len() > 2 * self.by_id.len() + 1024 {
            self.by_age.retain(|&(slot, gen)| {
                self.slots
                    .get(slot as usize)
                    .is_some_and(|m| m.gen == gen && m.flags & LIVE != 0)
            });
        }
        (became_visible, expired)
    }

    /// Is the message in `slot` past retention?
    pub(super) fn expired(&self, slot: u32, now_ms: u64, retention_ms: u64) -> bool {
        self.get(slot)
            .is_some_and(|m| m.sent_ms.saturating_add(retention_ms) <= now_ms)
    }

    // ---- replay ----

    /// Replay: adds a message without building lists (see [`Messages::rebuild`]).
    pub(super) fn insert_raw(&mut self, new: NewMsg) -> u32 {
        self.alloc(new, LIVE)
    }

    /// Replay: rebuilds lists, timers and counts from the messages' fields at `now_ms`.
    pub(super) fn rebuild(&mut self, now_ms: u64) {
        self.ready.clear();
        self.ready_groups.clear();
        self.groups.clear();
        self.fifo_groups.clear();
        self.timers.clear();
        self.by_age.clear();
        self.in_flight = 0;
        self.delivered_at_ms.clear();
        self.delayed = 0;
        self.reserved = 0;
        let mut live: Vec<u32> = self.iter().map(|(slot, _)| slot).collect();
        live.sort_by_key(|&slot| self.slots[slot as usize].order);
        let mut by_age: Vec<(u64, u32, u32)> = Vec::with_capacity(live.len());
        for slot in live {
            let m = &mut self.slots[slot as usize];
            m.flags = LIVE;
            let (gen, group, order, due) = (m.gen, m.group, m.order, m.visible_at_ms);
            by_age.push((m.sent_ms, slot, gen));
            if due > now_ms {
                if m.receive_count > 0 {
                    m.flags |= INFLIGHT;
                    self.in_flight += 1;
                } else {
                    m.flags |= DELAYED;
                    self.delayed += 1;
                }
                self.timers.insert((due, slot, gen));
            } else if !self.fifo {
                self.push_ready(group, order, slot, gen);
            }
            if self.fifo {
                self.group_insert(group, slot, order);
            }
        }
        by_age.sort_unstable();
        self.by_age = by_age
            .into_iter()
            .map(|(_, slot, gen)| (slot, gen))
            .collect();
    }
}

impl Messages {
    /// Puts picked-but-unused visible messages back at their place in their
    /// ready list (they came from its front, so that is where they go).
    pub(super) fn unpick(&mut self, slots: &[u32]) {
        if self.fifo {
            return;
        }
        for &slot in slots.iter().rev() {
            let Some(m) = self.slots.get(slot as usize) else {
                continue;
            };
            if !m.available() {
                continue;
            }
            let (gen, group, order) = (m.gen, m.group, m.order);
            let list = self.ready.entry(group).or_default();
            if list.is_empty() {
                self.ready_groups.push_front(group);
            }
            let at = list.partition_point(|&(o, _, _)| o < order);
            list.insert(at, (order, slot, gen));
        }
    }
}

impl Messages {
    /// Reserves a picked visible message for a receive that reads its body
    /// before committing; returns its generation (the commit checks that the
    /// slot still holds the same reserved message).
    pub(super) fn reserve(&mut self, slot: u32) -> Option<u32> {
        let m = self.slots.get_mut(slot as usize)?;
        if !m.available() {
            return None;
        }
        m.flags |= RESERVED;
        self.reserved += 1;
        Some(m.gen)
    }

    /// Is `slot` still the message `id` of generation `gen`, reserved?
    pub(super) fn is_reserved(&self, slot: u32, gen: u32, id: &MessageId) -> bool {
        self.live(slot, gen)
            .is_some_and(|m| m.id == *id && m.reserved())
    }

    /// Gives reserved messages back (the receive did not deliver them): they
    /// are visible again at their place.
    pub(super) fn unreserve(&mut self, reserved: &[(u32, u32)]) {
        let mut back = Vec::with_capacity(reserved.len());
        for &(slot, gen) in reserved {
            let Some(m) = self.slots.get_mut(slot as usize) else {
                continue;
            };
            if m.gen != gen || m.flags & LIVE == 0 || m.flags & RESERVED == 0 {
                continue;
            }
            m.flags &= !RESERVED;
            self.reserved -= 1;
            back.push(slot);
        }
        self.unpick(&back);
    }

    /// The earliest time a delayed or in-flight message becomes visible.
    pub(super) fn next_due(&self) -> Option<u64> {
        self.timers.first().map(|&(due, _, _)| due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_stays_compact() {
        assert!(
            std::mem::size_of::<Msg>() <= 96,
            "{}",
            std::mem::size_of::<Msg>()
        );
    }

    #[test]
    fn first_receive_round_trips() {
        let mut index = Messages::new(false);
        let new = NewMsg {
            id: [1; 16],
            pos: NO_POS,
            state_pos: NO_POS,
            order: 1,
            sent_ms: 1_000,
            visible_at_ms: 0,
            first_receive_ms: 0,
            receive_count: 0,
            epoch: 0,
            group: 0,
        };
        let slot = index.insert_pending(new, 5_000);
        assert_eq!(index.get(slot).map(Msg::first_receive_ms), Some(0));
        index.mark_received(slot, 5_000, 6_000);
        assert_eq!(index.get(slot).map(Msg::first_receive_ms), Some(5_000));
        index.mark_received(slot, 7_000, 8_000);
        assert_eq!(index.get(slot).map(Msg::first_receive_ms), Some(5_000));
    }
}
