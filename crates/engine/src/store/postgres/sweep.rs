//! Background upkeep and leases.
//!
//! `sweep` does its writes only on the node holding the lease
//! `stowage.sweep` (and at most once per `sweep_interval_ms`): retention
//! expiry in bounded chunks, ended deduplication windows and receive
//! attempts, forgotten deleted names, and the messages a send racing a
//! queue delete left behind. Delays and visibility timeouts need no timer:
//! visibility is `visible_at_ms <= now` in every query, and long polls fall
//! back to `next_visible_at`.
//!
//! A lease is one conditional upsert: taken when free or expired, renewed
//! by its holder. Lease safety assumes the nodes' clocks agree to well
//! within the TTL; nothing correct depends on it (every move and deletion
//! is conditional), a lease only avoids doing work twice.

use super::codec::int;
use super::queues::DELETED_MEMORY_MS;
use super::{ms, swap_if_due, PgStore};
use crate::store::*;

/// The sweep's lease.
const SWEEP_LEASE: &str = "stowage.sweep";
/// Rows one retention statement deletes at most.
const EXPIRE_CHUNK: i64 = 5_000;
/// Retention statements per sweep at most.
const EXPIRE_CHUNKS_MAX: usize = 20;

/// One round of upkeep at `now_ms`.
pub(super) async fn sweep(store: &PgStore, now_ms: u64) -> Result<(), StoreError> {
    let interval = store.config.sweep_interval_ms;
    if !swap_if_due(&store.last_sweep_ms, now_ms, interval) {
        return Ok(());
    }
    let ttl = interval.saturating_mul(5).max(10_000);
    if !lease(store, SWEEP_LEASE, &store.node, ttl, now_ms).await? {
        return Ok(());
    }
    let now = ms(now_ms);
    for _ in 0..EXPIRE_CHUNKS_MAX {
        let rows = store
            .db
            .query(
                "DELETE FROM stowage_messages m
                 WHERE (m.queue_id, m.message_id) IN (
                     SELECT e.queue_id, e.message_id
                     FROM stowage_queues q
                     JOIN stowage_messages e
                       ON e.queue_id = q.queue_id AND e.sent_ms <= $1 - q.retention_ms
                     LIMIT $2)
                 RETURNING m.queue_id",
                &[&now, &EXPIRE_CHUNK],
            )
            .await?;
        if (rows.len() as i64) < EXPIRE_CHUNK {
            break;
        }
    }
    for sql in [
        "DELETE FROM stowage_dedup WHERE expires_ms <= $1",
        "DELETE FROM stowage_receive_attempts WHERE expires_ms <= $1",
    ] {
        store.db.execute(sql, &[&now]).await?;
    }
    store
        .db
        .execute(
            "DELETE FROM stowage_messages m USING stowage_deleted_queues d
             WHERE m.queue_id = d.queue_id",
            &[],
        )
        .await?;
    store
        .db
        .execute(
            "DELETE FROM stowage_deleted_queues WHERE deleted_ms <= $1",
            &[&(now - int(DELETED_MEMORY_MS))],
        )
        .await?;
    Ok(())
}

/// Takes or renews the lease `name` for `holder`.
pub(super) async fn lease(
    store: &PgStore,
    name: &str,
    holder: &str,
    ttl_ms: u64,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let rows = store
        .db
        .query(
            "INSERT INTO stowage_leases AS l (name, holder, expires_ms) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_ms = EXCLUDED.expires_ms
             WHERE l.holder = EXCLUDED.holder OR l.expires_ms <= $4
             RETURNING l.holder",
            &[&name, &holder, &ms(now_ms.saturating_add(ttl_ms)), &ms(now_ms)],
        )
        .await?;
    Ok(!rows.is_empty())
}
