//! DeleteMessage, ChangeMessageVisibility (single and batch), PurgeQueue and
//! the operator's delete by id.
//!
//! A batch is one autocommit statement over `unnest(ids, epochs)`, each row
//! conditional on its epoch; the entries it did not match are then
//! classified (gone, superseded, expired, …) by reading their rows. The
//! classification is informational: the change itself was decided by the
//! conditional statement alone. Repeated deliveries in one batch share the
//! outcome of their first occurrence (visibility: of their last change).

use std::collections::{HashMap, HashSet};

use super::codec::{self, int, uint};
use super::db::{get, transaction, DbError};
use super::{ms, PgStore};
use crate::store::*;

/// Current `(epoch, receive_count, visible_at_ms)`, by id, of the messages
/// of `unique` deliveries a statement did not act on (for classification).
async fn missed_states(
    store: &PgStore,
    queue: &QueueCtx,
    unique: &[Delivery],
    acted: &HashSet<Delivery>,
) -> Result<HashMap<MessageId, (i64, i32, i64)>, StoreError> {
    let missed: Vec<&[u8]> = unique
        .iter()
        .filter(|d| !acted.contains(d))
        .map(|d| &d.message_id[..])
        .collect();
    if missed.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = store
        .db
        .query(
            "SELECT message_id, epoch, receive_count, visible_at_ms FROM stowage_messages
             WHERE queue_id = $1 AND message_id = ANY($2)",
            &[&int(queue.queue_id), &missed],
        )
        .await?;
    let mut states = HashMap::with_capacity(rows.len());
    for row in &rows {
        states.insert(
            codec::message_id(get(row, "message_id")?)?,
            (
                get(row, "epoch")?,
                get(row, "receive_count")?,
                get(row, "visible_at_ms")?,
            ),
        );
    }
    Ok(states)
}

/// Distinct deliveries in first-occurrence order, and each entry's index
/// among them.
fn distinct(deliveries: impl Iterator<Item = Delivery>) -> (Vec<Delivery>, Vec<usize>) {
    let mut unique: Vec<Delivery> = Vec::new();
    let mut index: HashMap<Delivery, usize> = HashMap::new();
    let positions = deliveries
        .map(|d| {
            *index.entry(d).or_insert_with(|| {
                unique.push(d);
                unique.len() - 1
            })
        })
        .collect();
    (unique, positions)
}

/// The deliveries a statement acted on (`RETURNING m.message_id, m.epoch`).
fn taken(rows: &[tokio_postgres::Row]) -> Result<HashSet<Delivery>, StoreError> {
    let mut deliveries = HashSet::with_capacity(rows.len());
    for row in rows {
        deliveries.insert(Delivery {
            message_id: codec::message_id(get(row, "message_id")?)?,
            epoch: codec::epoch(get(row, "epoch")?),
        });
    }
    Ok(deliveries)
}

/// Deletes deliveries, each conditional on its epoch (and, without
/// `allow_expired`, on its visibility timeout not having passed).
pub(super) async fn delete(
    store: &PgStore,
    queue: &QueueCtx,
    deliveries: &[Delivery],
    allow_expired: bool,
    now_ms: u64,
) -> Result<Vec<DeleteOutcome>, StoreError> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let (unique, positions) = distinct(deliveries.iter().copied());
    let ids: Vec<&[u8]> = unique.iter().map(|d| &d.message_id[..]).collect();
    let epochs: Vec<i64> = unique.iter().map(|d| i64::from(d.epoch)).collect();
    let rows = store
        .db
        .query(
            "DELETE FROM stowage_messages AS m
             USING unnest($2::bytea[], $3::bigint[]) AS c(id, ep)
             WHERE m.queue_id = $1 AND m.message_id = ANY($2) AND m.message_id = c.id
               AND m.epoch = c.ep AND m.receive_count > 0 AND ($4 OR m.visible_at_ms > $5)
             RETURNING m.message_id, m.epoch",
            &[
                &int(queue.queue_id),
                &ids,
                &epochs,
                &allow_expired,
                &ms(now_ms),
            ],
        )
        .await?;
    let deleted = taken(&rows)?;
    let states = missed_states(store, queue, &unique, &deleted).await?;
    let outcomes: Vec<DeleteOutcome> = unique
        .iter()
        .map(|d| {
            if deleted.contains(d) {
                return DeleteOutcome::Deleted;
            }
            let newer_deleted = deleted.iter().any(|x| x.message_id == d.message_id);
            match states.get(&d.message_id) {
                None if newer_deleted => DeleteOutcome::Superseded,
                None => DeleteOutcome::Gone,
                Some(&(epoch, _, _)) if epoch != i64::from(d.epoch) => DeleteOutcome::Superseded,
                Some(_) => DeleteOutcome::Expired,
            }
        })
        .collect();
    if !deleted.is_empty() && queue.fifo {
        // The group may be unblocked.
        store.wakeups.committed(queue.queue_id);
    }
    Ok(positions.into_iter().map(|i| outcomes[i]).collect())
}

/// Changes the visibility of deliveries, each conditional on its epoch and
/// on the cap.
pub(super) async fn change_visibility(
    store: &PgStore,
    queue: &QueueCtx,
    changes: &[VisibilityChange],
    cap_ms: u64,
    now_ms: u64,
) -> Result<Vec<VisibilityOutcome>, StoreError> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let (unique, positions) = distinct(changes.iter().map(|c| c.delivery));
    let mut deadline: Vec<i64> = vec![0; unique.len()];
    for (change, &i) in changes.iter().zip(&positions) {
        deadline[i] = ms(change.visible_at_ms);
    }
    let ids: Vec<&[u8]> = unique.iter().map(|d| &d.message_id[..]).collect();
    let epochs: Vec<i64> = unique.iter().map(|d| i64::from(d.epoch)).collect();
    let rows = store
        .db
        .query(
            "UPDATE stowage_messages AS m SET visible_at_ms = c.v
             FROM unnest($2::bytea[], $3::bigint[], $4::bigint[]) AS c(id, ep, v)
             WHERE m.queue_id = $1 AND m.message_id = ANY($2) AND m.message_id = c.id
               AND m.epoch = c.ep AND m.receive_count > 0 AND c.v <= m.received_at_ms + $5
             RETURNING m.message_id, m.epoch",
            &[&int(queue.queue_id), &ids, &epochs, &deadline, &ms(cap_ms)],
        )
        .await?;
    let changed = taken(&rows)?;
    let states = missed_states(store, queue, &unique, &changed).await?;
    let outcomes: Vec<VisibilityOutcome> = unique
        .iter()
        .map(|d| {
            if changed.contains(d) {
                return VisibilityOutcome::Changed;
            }
            match states.get(&d.message_id) {
                None => VisibilityOutcome::Gone,
                Some(&(epoch, _, _)) if epoch != i64::from(d.epoch) => {
                    VisibilityOutcome::Superseded
                }
                Some(&(_, 0, _)) => VisibilityOutcome::NotInFlight,
                Some(_) => VisibilityOutcome::CapExceeded,
            }
        })
        .collect();
    let visible_now = unique
        .iter()
        .zip(&deadline)
        .any(|(d, &v)| changed.contains(d) && v <= ms(now_ms));
    if visible_now {
        store.wakeups.committed(queue.queue_id);
    }
    Ok(positions.into_iter().map(|i| outcomes[i]).collect())
}

/// PurgeQueue: at most once per `min_interval_ms` (a conditional update of
/// the queue's `last_purge_ms`), then every message sent up to `now`, the
/// deduplication ids and the receive attempts go, in one transaction.
pub(super) async fn purge(
    store: &PgStore,
    queue: &QueueCtx,
    min_interval_ms: u64,
    now_ms: u64,
) -> Result<PurgeOutcome, StoreError> {
    let id = int(queue.queue_id);
    transaction!(&store.db, |tx| async {
        let allowed = tx
            .query_opt(
                "UPDATE stowage_queues SET last_purge_ms = $2
                 WHERE queue_id = $1
                   AND ($3::bigint = 0 OR last_purge_ms IS NULL OR last_purge_ms + $3 <= $2)
                 RETURNING queue_id",
                &[&id, &ms(now_ms), &ms(min_interval_ms)],
            )
            .await?;
        if allowed.is_none() {
            let row = tx
                .query_opt(
                    "SELECT last_purge_ms FROM stowage_queues WHERE queue_id = $1",
                    &[&id],
                )
                .await?;
            let Some(row) = row else {
                return Err(DbError::Gone);
            };
            let last: Option<i64> = get(&row, "last_purge_ms")?;
            return Ok(PurgeOutcome::TooSoon {
                last_purge_ms: uint(last.unwrap_or(0))?,
            });
        }
        tx.execute(
            "DELETE FROM stowage_messages WHERE queue_id = $1 AND sent_ms <= $2",
            &[&id, &ms(now_ms)],
        )
        .await?;
        for sql in [
            "DELETE FROM stowage_dedup WHERE queue_id = $1",
            "DELETE FROM stowage_receive_attempts WHERE queue_id = $1",
        ] {
            tx.execute(sql, &[&id]).await?;
        }
        Ok(PurgeOutcome::Purged)
    }
    .await)
}

/// Deletes a message by id whatever its state.
pub(super) async fn delete_by_id(
    store: &PgStore,
    queue: &QueueCtx,
    message_id: MessageId,
    _now_ms: u64,
) -> Result<bool, StoreError> {
    let rows = store
        .db
        .query(
            "DELETE FROM stowage_messages WHERE queue_id = $1 AND message_id = $2
             RETURNING message_id",
            &[&int(queue.queue_id), &&message_id[..]],
        )
        .await?;
    let deleted = !rows.is_empty();
    if deleted && queue.fifo {
        store.wakeups.committed(queue.queue_id);
    }
    Ok(deleted)
}
