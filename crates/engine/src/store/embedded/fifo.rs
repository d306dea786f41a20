//! FIFO bookkeeping of one queue: deduplication window, sequence numbers,
//! ReceiveRequestAttemptId memory, and group-name interning (also used for
//! fair-queue tenants on standard queues).

use std::collections::{HashMap, VecDeque};

use storage::RecordPos;

use crate::limits::{DEDUP_WINDOW_MS, RECEIVE_ATTEMPT_WINDOW_MS};
use crate::store::MessageId;

/// Group index meaning "queue-wide dedup scope".
pub(super) const QUEUE_SCOPE: u32 = u32::MAX;

/// One remembered deduplication id.
#[derive(Debug, Clone)]
pub(super) struct DedupEntry {
    /// The message first sent with it.
    pub(super) message_id: MessageId,
    /// Its sequence number.
    pub(super) sequence: u64,
    /// End of the window, epoch ms.
    pub(super) expires_ms: u64,
    /// The message's record, kept live until the window ends when the
    /// message itself is already gone (so dedup survives a restart).
    pub(super) held: Option<RecordPos>,
}

/// A remembered receive attempt: which deliveries it made (not the
/// messages themselves: a retry reads them again).
#[derive(Debug, Clone)]
pub(super) struct Attempt {
    /// End of validity, epoch ms.
    pub(super) expires_ms: u64,
    /// The deliveries that receive made: (message, epoch).
    pub(super) deliveries: Vec<(MessageId, u32)>,
}

/// FIFO state of a queue.
#[derive(Debug, Default)]
pub(super) struct FifoState {
    dedup: HashMap<(u32, String), DedupEntry>,
    dedup_order: VecDeque<(u64, u32, String)>,
    by_message: HashMap<MessageId, (u32, String)>,
    last_sequence: u64,
    attempts: HashMap<String, Attempt>,
    group_names: Vec<String>,
    group_ids: HashMap<String, u32>,
}

impl FifoState {
    /// Interns a group name (index + 1; 0 means "no group").
    pub(super) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.group_ids.get(name) {
            return id;
        }
        self.group_names.push(name.to_string());
        let id = self.group_names.len() as u32;
        self.group_ids.insert(name.to_string(), id);
        id
    }

    /// Next sequence number / ordering key: time-based (`now_ms · 2^20`),
    /// strictly increasing, so never reused after a restart.
    pub(super) fn next_sequence(&mut self, now_ms: u64) -> u64 {
        let next = (now_ms << 20).max(self.last_sequence.saturating_add(1));
        self.last_sequence = next;
        next
    }

    /// Replay: a sequence number seen in the log.
    pub(super) fn saw_sequence(&mut self, sequence: u64) {
        self.last_sequence = self.last_sequence.max(sequence);
    }

    /// Looks up a live dedup entry.
    pub(super) fn dedup_get(&self, scope: u32, dedup_id: &str, now_ms: u64) -> Option<&DedupEntry> {
        self.dedup
            .get(&(scope, dedup_id.to_string()))
            .filter(|e| e.expires_ms > now_ms)
    }

    /// The live dedup entry a send to `group` with `dedup_id` duplicates:
    /// one recorded for the group or one recorded queue-wide. Entries keep
    /// the scope they were recorded under, so after `DeduplicationScope`
    /// changes from `queue` to `messageGroup` the ids seen before still
    /// deduplicate across groups until their window ends (as on SQS), and
    /// ids recorded per group still count within their group after a change
    /// back.
    pub(super) fn dedup_find(
        &self,
        group: u32,
        dedup_id: &str,
        now_ms: u64,
    ) -> Option<&DedupEntry> {
        self.dedup_get(group, dedup_id, now_ms)
            .or_else(|| self.dedup_get(QUEUE_SCOPE, dedup_id, now_ms))
    }

    /// Forgets every dedup id (PurgeQueue); returns the held positions to release.
    pub(super) fn clear_dedup(&mut self) -> Vec<RecordPos> {
        let held = self.held_positions();
        self.dedup.clear();
        self.dedup_order.clear();
        self.by_message.clear();
        held
    }

    /// Records a dedup id for a new message.
    pub(super) fn dedup_insert(&mut self, scope: u32, dedup_id: String, entry: DedupEntry) {
        self.dedup_order
            .push_back((entry.expires_ms, scope, dedup_id.clone()));
        self.by_message
            .insert(entry.message_id, (scope, dedup_id.clone()));
        self.dedup.insert((scope, dedup_id), entry);
    }

    /// A message is gone: if a live dedup entry still refers to it, the entry
    /// takes over its record position (returns true: do not release `pos`).
    pub(super) fn hold_if_deduplicating(
        &mut self,
        message_id: &MessageId,
        pos: RecordPos,
        now_ms: u64,
    ) -> bool {
        let Some(key) = self.by_message.get(message_id) else {
            return false;
        };
        match self.dedup.get_mut(key) {
            Some(e) if e.message_id == *message_id && e.expires_ms > now_ms => {
                e.held = Some(pos);
                true
            }
            _ => false,
        }
    }

    /// Drops dedup entries and attempts whose window ended; returns held
    /// positions to release.
    pub(super) fn expire(&mut self, now_ms: u64) -> Vec<RecordPos> {
        let mut release = Vec::new();
        while let Some((expires, _, _)) = self.dedup_order.front() {
            if *expires > now_ms {
                break;
            }
            let Some((expires, scope, id)) = self.dedup_order.pop_front() else {
                break;
            };
            let key = (scope, id);
            if self
                .dedup
                .get(&key)
                .is_some_and(|e| e.expires_ms == expires)
            {
                if let Some(e) = self.dedup.remove(&key) {
                    self.by_message.remove(&e.message_id);
                    release.extend(e.held);
                }
            }
        }
        if !self.attempts.is_empty() {
            self.attempts.retain(|_, a| a.expires_ms > now_ms);
        }
        release
    }

    /// Every held position (queue deletion releases them).
    pub(super) fn held_positions(&self) -> Vec<RecordPos> {
        self.dedup.values().filter_map(|e| e.held).collect()
    }

    /// A remembered receive attempt.
    pub(super) fn attempt(&self, id: &str, now_ms: u64) -> Option<&Attempt> {
        self.attempts.get(id).filter(|a| a.expires_ms > now_ms)
    }

    /// Remembers a receive attempt.
    pub(super) fn remember_attempt(
        &mut self,
        id: String,
        now_ms: u64,
        deliveries: Vec<(MessageId, u32)>,
    ) {
        self.attempts.insert(
            id,
            Attempt {
                expires_ms: now_ms + RECEIVE_ATTEMPT_WINDOW_MS,
                deliveries,
            },
        );
    }

    /// Forgets all receive attempts (purge).
    pub(super) fn forget_attempts(&mut self) {
        self.attempts.clear();
    }
}

/// End of the dedup window of a message sent at `sent_ms`.
pub(super) fn dedup_expiry(sent_ms: u64) -> u64 {
    sent_ms + DEDUP_WINDOW_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_increase_and_follow_time() {
        let mut f = FifoState::default();
        let a = f.next_sequence(1000);
        let b = f.next_sequence(1000);
        let c = f.next_sequence(999);
        assert!(a < b && b < c);
        let mut g = FifoState::default();
        g.saw_sequence(c);
        assert!(g.next_sequence(0) > c);
    }

    #[test]
    fn dedup_window_and_hold() {
        let mut f = FifoState::default();
        let pos = RecordPos {
            segment: 1,
            offset: 2,
            len: 3,
        };
        f.dedup_insert(
            QUEUE_SCOPE,
            "d".into(),
            DedupEntry {
                message_id: [1; 16],
                sequence: 5,
                expires_ms: 100,
                held: None,
            },
        );
        assert!(f.dedup_get(QUEUE_SCOPE, "d", 99).is_some());
        assert!(f.dedup_get(QUEUE_SCOPE, "d", 100).is_none());
        assert!(f.dedup_get(1, "d", 50).is_none());
        assert!(f.hold_if_deduplicating(&[1; 16], pos, 50));
        assert!(!f.hold_if_deduplicating(&[2; 16], pos, 50));
        assert!(f.expire(99).is_empty());
        assert_eq!(f.expire(100), vec![pos]);
        assert!(f.dedup_get(QUEUE_SCOPE, "d", 0).is_none());
    }

    #[test]
    fn dedup_find_sees_queue_wide_entries_and_clear_forgets_all() {
        let mut f = FifoState::default();
        let pos = RecordPos {
            segment: 1,
            offset: 2,
            len: 3,
        };
        let entry = |id: u8| DedupEntry {
            message_id: [id; 16],
            sequence: 1,
            expires_ms: 100,
            held: None,
        };
        f.dedup_insert(QUEUE_SCOPE, "q".into(), entry(1));
        f.dedup_insert(7, "g".into(), entry(2));
        assert!(
            f.dedup_find(3, "q", 0).is_some(),
            "queue-wide id, any group"
        );
        assert!(f.dedup_find(7, "g", 0).is_some());
        assert!(f.dedup_find(8, "g", 0).is_none(), "group id, other group");
        assert!(f.hold_if_deduplicating(&[2; 16], pos, 0));
        assert_eq!(f.clear_dedup(), vec![pos]);
        assert!(f.dedup_find(3, "q", 0).is_none());
        assert!(f.expire(1000).is_empty());
    }

    #[test]
    fn interning() {
        let mut f = FifoState::default();
        let a = f.intern("a");
        assert_eq!(f.intern("a"), a);
        assert_ne!(f.intern("b"), a);
    }
}
