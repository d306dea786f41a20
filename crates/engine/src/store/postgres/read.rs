//! Read-only queries: counts, the next time something becomes visible, and
//! the operator's peek. Messages past retention are never counted or shown
//! (the sweep deletes them later).

use super::codec::{self, int, uint, MESSAGE_COLUMNS};
use super::db::{get, DbError};
use super::{ms, PgStore};
use crate::store::*;

fn cutoff(queue: &QueueCtx, now_ms: u64) -> i64 {
    ms(now_ms) - ms(queue.retention_ms)
}

/// Message counts at `now_ms` (one scan of the queue's messages).
pub(super) async fn counts(
    store: &PgStore,
    queue: &QueueCtx,
    now_ms: u64,
) -> Result<QueueCounts, StoreError> {
    let rows = store
        .db
        .query(
            "SELECT count(*) FILTER (WHERE visible_at_ms <= $2) AS visible,
                    count(*) FILTER (WHERE visible_at_ms > $2 AND receive_count > 0) AS in_flight,
                    count(*) FILTER (WHERE visible_at_ms > $2 AND receive_count = 0) AS delayed,
                    min(sent_ms) AS oldest
             FROM stowage_messages WHERE queue_id = $1 AND sent_ms > $3",
            &[&int(queue.queue_id), &ms(now_ms), &cutoff(queue, now_ms)],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(QueueCounts::default());
    };
    let oldest: Option<i64> = get(row, "oldest")?;
    Ok(QueueCounts {
        visible: uint(get(row, "visible")?)?,
        in_flight: uint(get(row, "in_flight")?)?,
        delayed: uint(get(row, "delayed")?)?,
        oldest_sent_ms: oldest.map(uint).transpose()?,
    })
}

/// The earliest `visible_at_ms` after `now_ms` of an unexpired message.
pub(super) async fn next_visible_at(
    store: &PgStore,
    queue: &QueueCtx,
    now_ms: u64,
) -> Result<Option<u64>, StoreError> {
    let rows = store
        .db
        .query(
            "SELECT visible_at_ms FROM stowage_messages
             WHERE queue_id = $1 AND visible_at_ms > $2 AND sent_ms > $3
             ORDER BY visible_at_ms LIMIT 1",
            &[&int(queue.queue_id), &ms(now_ms), &cutoff(queue, now_ms)],
        )
        .await?;
    Ok(rows
        .first()
        .map(|row| get::<i64>(row, "visible_at_ms").and_then(uint))
        .transpose()?)
}

/// Up to `max` messages in queue order after the cursor.
pub(super) async fn peek(
    store: &PgStore,
    queue: &QueueCtx,
    after: Option<u128>,
    max: usize,
    now_ms: u64,
) -> Result<Vec<PeekEntry>, StoreError> {
    let after: i64 = match after {
        None => -1,
        Some(a) => i64::try_from(a).unwrap_or(i64::MAX),
    };
    let rows = store
        .db
        .query(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM stowage_messages m
                 WHERE m.queue_id = $1 AND m.seq > $2 AND m.sent_ms > $3
                 ORDER BY m.seq LIMIT $4"
            ),
            &[
                &int(queue.queue_id),
                &after,
                &cutoff(queue, now_ms),
                &int(max as u64),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let order = u128::from(uint(get(row, "seq")?)?);
            Ok(PeekEntry {
                message: codec::message(row, queue.fifo)?,
                order,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()
        .map_err(StoreError::from)
}
