//! `Shared`: the engine's state behind its cheap-to-clone handle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use storage::{RecordPos, Storage};
use tokio::sync::Notify;

use crate::api::{Caller, QueueRef};
use crate::attributes::parse_arn;
use crate::queue::Queue;
use crate::redrive::MoveTasks;
use crate::registry::Registry;
use crate::{policy, Clock, EngineConfig, EngineError};

/// Everything the engine shares between calls and the background task.
pub(crate) struct Shared {
    /// The log.
    pub(crate) storage: Storage,
    /// The only source of time.
    pub(crate) clock: Arc<dyn Clock>,
    /// Settings.
    pub(crate) config: EngineConfig,
    /// Queues.
    pub(crate) registry: Registry,
    /// Message move tasks.
    pub(crate) tasks: Mutex<MoveTasks>,
    /// Serialises queue creation/deletion (not on the message path).
    pub(crate) admin: tokio::sync::Mutex<()>,
    /// Set by `shutdown`.
    pub(crate) stopping: AtomicBool,
    /// Wakes the background task on shutdown.
    pub(crate) stop_notify: Notify,
}

impl Shared {
    /// Now, epoch ms.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// True after `shutdown`.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The queue `queue`, if the caller may perform `action` on it.
    pub(crate) fn queue(
        &self,
        caller: &Caller,
        queue: &QueueRef,
        action: &str,
    ) -> Result<Arc<Queue>, EngineError> {
        let found = self
            .registry
            .get(&queue.account, &queue.name)
            .ok_or(EngineError::QueueDoesNotExist)?;
        self.check_access(caller, &found, action)?;
        Ok(found)
    }

    /// Policy check: owner always; others per the queue's Policy.
    pub(crate) fn check_access(
        &self,
        caller: &Caller,
        queue: &Queue,
        action: &str,
    ) -> Result<(), EngineError> {
        if caller.account == queue.reference.account {
            return Ok(());
        }
        let allowed = {
            let inner = queue.lock();
            policy::allows(
                inner.meta.attributes.get("Policy").map(String::as_str),
                &caller.account,
                action,
            )
        };
        if allowed {
            Ok(())
        } else {
            Err(EngineError::AccessDenied(queue.arn.clone()))
        }
    }

    /// The queue named by an ARN of this region.
    pub(crate) fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let (region, account, name) = parse_arn(arn)?;
        if region != self.config.region {
            return None;
        }
        self.registry.get(account, name)
    }

    /// Pins the segment of `ticket`'s append for `ended`: message records
    /// that append ended but that may stay live (held for FIFO
    /// deduplication), so the ending record cannot be reclaimed first.
    pub(crate) fn pin_ended(&self, ended: &[RecordPos], ticket: &storage::Ticket) {
        if let Some(&by) = ticket.positions.first() {
            for &pos in ended {
                if pos != crate::messages::NO_POS {
                    self.storage.pin(pos, by);
                }
            }
        }
    }

    /// Releases record positions now (no superseding record).
    pub(crate) fn release(&self, positions: &[RecordPos]) {
        for &pos in positions {
            self.storage.release(pos, None);
        }
    }
}
