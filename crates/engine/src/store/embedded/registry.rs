//! `Registry`: queues by (account, name) and by id, plus recently deleted
//! names. Read-locked only briefly to find a queue; never held while a queue
//! lock is taken.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use super::queue::Queue;
use crate::store::QueueId;

/// All live queues.
#[derive(Debug, Default)]
pub(super) struct Registry {
    by_name: RwLock<BTreeMap<(String, String), Arc<Queue>>>,
    by_id: RwLock<HashMap<QueueId, Arc<Queue>>>,
    deleted_at_ms: Mutex<HashMap<(String, String), u64>>,
    last_id: Mutex<QueueId>,
}

impl Registry {
    /// Finds a queue by owner and name.
    pub(super) fn get(&self, account: &str, name: &str) -> Option<Arc<Queue>> {
        let map = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        map.get(&(account.to_string(), name.to_string())).cloned()
    }

    /// Finds a queue by id.
    pub(super) fn by_id(&self, id: QueueId) -> Option<Arc<Queue>> {
        self.by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Adds a queue.
    pub(super) fn insert(&self, queue: Arc<Queue>) {
        let key = (queue.account.clone(), queue.name.clone());
        self.by_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(queue.id, queue.clone());
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, queue);
    }

    /// Removes a queue, remembering when its name was deleted.
    pub(super) fn remove(&self, id: QueueId, at_ms: u64) -> Option<Arc<Queue>> {
        let queue = self
            .by_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)?;
        let key = (queue.account.clone(), queue.name.clone());
        let mut by_name = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        if by_name.get(&key).is_some_and(|q| q.id == id) {
            by_name.remove(&key);
        }
        drop(by_name);
        self.note_deleted(key.0, key.1, at_ms);
        Some(queue)
    }

    /// Remembers a deletion time (also from replay).
    pub(super) fn note_deleted(&self, account: String, name: String, at_ms: u64) {
        let mut deleted = self.deleted_at_ms.lock().unwrap_or_else(|e| e.into_inner());
        let entry = deleted.entry((account, name)).or_insert(at_ms);
        *entry = (*entry).max(at_ms);
    }

    /// When was this name last deleted?
    pub(super) fn deleted_at(&self, account: &str, name: &str) -> Option<u64> {
        let deleted = self.deleted_at_ms.lock().unwrap_or_else(|e| e.into_inner());
        deleted
            .get(&(account.to_string(), name.to_string()))
            .copied()
    }

    /// Forgets deletions older than `before_ms`.
    pub(super) fn forget_deleted_before(&self, before_ms: u64) {
        let mut deleted = self.deleted_at_ms.lock().unwrap_or_else(|e| e.into_inner());
        if !deleted.is_empty() {
            deleted.retain(|_, at| *at >= before_ms);
        }
    }

    /// Every queue.
    pub(super) fn all(&self) -> Vec<Arc<Queue>> {
        self.by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Queues of `account` (every account when `None`) whose name starts
    /// with `prefix` and sorts after `after`, in (account, name) order.
    pub(super) fn list(
        &self,
        account: Option<&str>,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Vec<Arc<Queue>> {
        let map = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        let wanted = |(a, n): &(String, String)| {
            n.starts_with(prefix) && after.is_none_or(|after| n.as_str() > after) && {
                account.is_none_or(|account| a == account)
            }
        };
        match account {
            Some(account) => {
                let start = (account.to_string(), after.unwrap_or(prefix).to_string());
                map.range(start..)
                    .take_while(|((a, _), _)| a == account)
                    .filter(|(key, _)| wanted(key))
                    .take(limit)
                    .map(|(_, q)| q.clone())
                    .collect()
            }
            None => map
                .iter()
                .filter(|(key, _)| wanted(key))
                .take(limit)
                .map(|(_, q)| q.clone())
                .collect(),
        }
    }

    /// Queues of `account` owned count.
    pub(super) fn count_for(&self, account: &str) -> usize {
        let map = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        map.range((account.to_string(), String::new())..)
            .take_while(|((a, _), _)| a == account)
            .count()
    }

    /// A new queue id: time-based and strictly increasing, never reused.
    pub(super) fn next_id(&self, now_ms: u64) -> QueueId {
        let mut last = self.last_id.lock().unwrap_or_else(|e| e.into_inner());
        *last = (now_ms << 12).max(*last + 1);
        *last
    }

    /// Replay: an id seen in the log.
    pub(super) fn saw_id(&self, id: QueueId) {
        let mut last = self.last_id.lock().unwrap_or_else(|e| e.into_inner());
        *last = (*last).max(id);
    }
}
