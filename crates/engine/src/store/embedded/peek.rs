//! Peek: messages in queue order without receiving them (an operator's
//! browse). Changes nothing; records are read outside the queue lock.

use std::collections::BinaryHeap;

use super::messages::Msg;
use super::records::stored_message;
use super::state::EmbeddedStore;
use crate::store::{PeekEntry, QueueCtx, StoreError};

/// Up to `max` messages with an order after `after`, in order (FIFO:
/// sequence order; standard: send order). Messages not yet durable and
/// those past retention (not yet swept) are not shown.
pub(super) fn peek(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    after: Option<u128>,
    max: usize,
    now: u64,
) -> Result<Vec<PeekEntry>, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    // The `max` smallest orders after the cursor (a max-heap of the best so far).
    let mut best: BinaryHeap<(u64, usize)> = BinaryHeap::with_capacity(max + 1);
    let mut candidates: Vec<(Msg, u64)> = Vec::new();
    {
        let inner = queue.lock_live()?;
        let retention_ms = inner.retention_ms;
        for (slot, m) in inner.messages.iter() {
            if m.pending() || after.is_some_and(|a| u128::from(m.order) <= a) {
                continue;
            }
            if m.sent_ms.saturating_add(retention_ms) <= now {
                continue; // expired, not yet swept
            }
            if best.len() < max {
                best.push((m.order, candidates.len()));
            } else if best.peek().is_some_and(|&(top, _)| m.order < top) {
                best.pop();
                best.push((m.order, candidates.len()));
            } else {
                continue;
            }
            let received_at = inner.messages.delivered_at_ms(slot).unwrap_or(0);
            candidates.push((m.clone(), received_at));
        }
    }
    let mut chosen: Vec<usize> = best.into_iter().map(|(_, i)| i).collect();
    chosen.sort_by_key(|&i| candidates.get(i).map_or(u64::MAX, |(m, _)| m.order));
    let mut entries = Vec::with_capacity(chosen.len());
    for i in chosen {
        let Some((msg, received_at)) = candidates.get(i) else {
            continue;
        };
        let Some(record) = store.read_current(&queue, &msg.id, msg.pos)? else {
            continue; // deleted or moved away since the scan
        };
        entries.push(PeekEntry {
            message: stored_message(record, msg, *received_at),
            order: u128::from(msg.order),
        });
    }
    Ok(entries)
}
