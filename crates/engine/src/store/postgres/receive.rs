//! ReceiveMessage: pick, then claim with conditional statements, in one
//! transaction with the dead-letter moves and the remembered attempt.
//!
//! **Picking** walks the queue's tenants (FIFO groups / fair-queue
//! tenants) that have visible messages with a recursive loose index scan,
//! starting after this node's rotation cursor and wrapping around; for each
//! it takes the oldest visible messages (standard: vesting order; FIFO:
//! sequence order, only before the group's first in-flight message — the
//! group lock is derived from the rows, so it cannot leak). Standard queues
//! then take one message per tenant per turn.
//!
//! **Claiming** is one `UPDATE … WHERE epoch = <picked epoch> AND
//! visible_at_ms <= now` per batch: a message another node claimed meanwhile
//! fails the condition and is simply not delivered. FIFO claims the head of
//! each group first and the rest of a group only once its head is ours, so
//! a lost race can never deliver a later message of a group while an
//! earlier one is in flight elsewhere. Over-limit messages move to the
//! dead-letter queue with the same kind of conditional statement.
//!
//! `SKIP LOCKED` (standard queues, `postgres` dialect) only keeps
//! concurrent receivers off each other's candidates. FIFO picks never use
//! it: skipping a locked head would make a later message look like a head.

use std::collections::{HashMap, HashSet};

use super::codec::{self, decode_deliveries, encode_deliveries, int, MESSAGE_COLUMNS};
use super::db::{get, transaction, DbError, Tx};
use super::{ms, PgStore};
use crate::limits::RECEIVE_ATTEMPT_WINDOW_MS;
use crate::store::*;

/// Tenants examined per walk statement (FIFO: locked groups count too).
const FIFO_GROUPS_PER_WALK: i64 = 32;
/// Walk statements per pick at most.
const WALKS_MAX: usize = 8;
/// Picks per receive at most (a pick whose candidates were all taken by
/// other receivers is repeated).
const PICKS_MAX: usize = 3;
/// An in-flight count this fresh is reused while far below the limit, ms.
const IN_FLIGHT_RECOUNT_MS: u64 = 1_000;

/// A message a pick found.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) tenant: String,
    pub(super) id: MessageId,
    pub(super) epoch: i64,
    pub(super) receive_count: i32,
    pub(super) dead_letter_source_arn: Option<String>,
}

/// Where a walk starts.
fn from_bound(cursor: Option<&str>) -> String {
    match cursor {
        // Tenants sort in "C" collation; no tenant contains U+0001.
        Some(tenant) => format!("{tenant}\u{1}"),
        None => String::new(),
    }
}

fn walk_sql(fifo: bool, skip_locked: bool) -> String {
    let step = |from: &str| {
        format!(
            "SELECT t.tenant FROM stowage_messages t
             WHERE t.queue_id = $1 AND {from} AND ($4::text IS NULL OR t.tenant <= $4)
               AND t.visible_at_ms <= $2 AND t.sent_ms > $5
             ORDER BY t.tenant LIMIT 1"
        )
    };
    let lateral = if fifo {
        "SELECT m.message_id, m.epoch, m.receive_count, m.seq, m.visible_at_ms,
                m.dead_letter_source_arn
         FROM stowage_messages m
         WHERE m.queue_id = $1 AND m.tenant = w.tenant AND m.visible_at_ms <= $2
           AND m.sent_ms > $5
           AND m.seq < COALESCE((
               SELECT min(i.seq) FROM stowage_messages i
               WHERE i.queue_id = $1 AND i.tenant = w.tenant AND i.receive_count > 0
                 AND i.visible_at_ms > $2 AND i.sent_ms > $5), 9223372036854775807)
         ORDER BY m.seq LIMIT $7"
            .to_string()
    } else {
        format!(
            "SELECT m.message_id, m.epoch, m.receive_count, m.seq, m.visible_at_ms,
                    m.dead_letter_source_arn
             FROM stowage_messages m
             WHERE m.queue_id = $1 AND m.tenant = w.tenant AND m.visible_at_ms <= $2
               AND m.sent_ms > $5
             ORDER BY m.visible_at_ms, m.seq LIMIT $7 {}",
            if skip_locked {
                "FOR UPDATE SKIP LOCKED"
            } else {
                ""
            }
        )
    };
    let order = if fifo {
        "c.seq"
    } else {
        "c.visible_at_ms, c.seq"
    };
    format!(
        "WITH RECURSIVE walk(tenant, n) AS (
             SELECT ({first}), 1::bigint
           UNION ALL
             SELECT ({next}), w.n + 1 FROM walk w WHERE w.tenant IS NOT NULL AND w.n < $6
         )
         SELECT w.n, w.tenant, c.message_id, c.epoch, c.receive_count, c.dead_letter_source_arn
         FROM walk w LEFT JOIN LATERAL ({lateral}) c ON true
         WHERE w.tenant IS NOT NULL
         ORDER BY w.n, {order}",
        first = step("t.tenant >= $3"),
        next = step("t.tenant > w.tenant"),
    )
}

/// One walked tenant and its candidates.
struct Walked {
    tenant: String,
    candidates: Vec<Candidate>,
}

#[allow(clippy::too_many_arguments)]
async fn walk(
    tx: &Tx<'_>,
    sql: &str,
    queue: &QueueCtx,
    now_ms: u64,
    from: Option<&str>,
    upper: Option<&str>,
    tenants: i64,
    per_tenant: i64,
) -> Result<Vec<Walked>, DbError> {
    let cutoff = ms(now_ms) - ms(queue.retention_ms);
    let rows = tx
        .query(
            sql,
            &[
                &int(queue.queue_id),
                &ms(now_ms),
                &from_bound(from),
                &upper,
                &cutoff,
                &tenants,
                &per_tenant,
            ],
        )
        .await?;
    let mut walked: Vec<Walked> = Vec::new();
    for row in &rows {
        let tenant: String = get(row, "tenant")?;
        if walked.last().is_none_or(|w| w.tenant != tenant) {
            walked.push(Walked {
                tenant: tenant.clone(),
                candidates: Vec::new(),
            });
        }
        let id: Option<&[u8]> = get(row, "message_id")?;
        if let (Some(id), Some(last)) = (id, walked.last_mut()) {
            last.candidates.push(Candidate {
                tenant,
                id: codec::message_id(id)?,
                epoch: get(row, "epoch")?,
                receive_count: get(row, "receive_count")?,
                dead_letter_source_arn: get(row, "dead_letter_source_arn")?,
            });
        }
    }
    Ok(walked)
}

/// What a pick chose, in delivery order, and where the next pick starts.
pub(super) struct Picked {
    pub(super) candidates: Vec<Candidate>,
    pub(super) cursor: Option<String>,
}

/// Picks up to `want` visible messages, rotating over tenants from `cursor`.
pub(super) async fn pick(
    tx: &Tx<'_>,
    queue: &QueueCtx,
    want: usize,
    now_ms: u64,
    cursor: Option<String>,
    skip_locked: bool,
) -> Result<Picked, DbError> {
    let sql = walk_sql(queue.fifo, skip_locked && !queue.fifo);
    let per_walk = if queue.fifo {
        FIFO_GROUPS_PER_WALK
    } else {
        want as i64
    };
    let mut walked: Vec<Walked> = Vec::new();
    let mut taken = 0usize;
    let mut from = cursor.clone();
    let mut upper: Option<String> = None;
    let mut wrapped = cursor.is_none();
    // Did the last walk reach the end of the tenants, and where did it stop?
    let mut reached_end = false;
    let mut last_walked: Option<String> = None;
    for _ in 0..WALKS_MAX {
        let round = walk(
            tx,
            &sql,
            queue,
            now_ms,
            from.as_deref(),
            upper.as_deref(),
            per_walk,
            want as i64,
        )
        .await?;
        let full = round.len() as i64 == per_walk;
        let last = round.last().map(|w| w.tenant.clone());
        reached_end = !full && upper.is_none();
        if last.is_some() {
            last_walked.clone_from(&last);
        }
        for w in round {
            taken += w.candidates.len();
            walked.push(w);
        }
        let enough = if queue.fifo {
            taken >= want
        } else {
            walked.len() >= want
        };
        if enough {
            break;
        }
        if full {
            from = last;
            continue;
        }
        if wrapped {
            break;
        }
        wrapped = true;
        from = None;
        upper = cursor.clone();
    }
    let mut candidates = Vec::with_capacity(want);
    let mut cursor = None;
    if queue.fifo {
        // As many as possible from one group, then the next.
        for w in walked {
            if candidates.len() >= want {
                break;
            }
            if !w.candidates.is_empty() {
                cursor = Some(w.tenant.clone());
            }
            let room = want - candidates.len();
            candidates.extend(w.candidates.into_iter().take(room));
        }
    } else {
        // One per tenant per turn.
        let mut lists: Vec<std::vec::IntoIter<Candidate>> = walked
            .into_iter()
            .map(|w| w.candidates.into_iter())
            .collect();
        let mut progress = true;
        while candidates.len() < want && progress {
            progress = false;
            for list in lists.iter_mut() {
                if candidates.len() >= want {
                    break;
                }
                if let Some(c) = list.next() {
                    cursor = Some(c.tenant.clone());
                    candidates.push(c);
                    progress = true;
                }
            }
        }
    }
    if reached_end && cursor == last_walked {
        // Served up to the last tenant: the next pick starts from the first
        // (one walk instead of an empty one and a wrapped one).
        cursor = None;
    }
    Ok(Picked { candidates, cursor })
}

/// Where messages moved out of a queue go.
pub(super) struct MoveTarget<'a> {
    /// Destination queue id.
    pub(super) queue_id: QueueId,
    /// FIFO destination (sequence numbers from its counter)?
    pub(super) fifo: bool,
    /// Dead-letter move: the source's ARN (kept on the message, with its
    /// receive count); `None`: a move task (receive state reset).
    pub(super) dead_letter_source_arn: Option<&'a str>,
}

/// Moves messages (each conditional on its picked epoch and on being
/// visible) to `target`; returns the ids moved, or `None` when the target
/// no longer exists. The epoch is bumped, so no handle from before the move
/// acts on the moved message.
pub(super) async fn move_messages(
    tx: &Tx<'_>,
    source: QueueId,
    target: &MoveTarget<'_>,
    candidates: &[&Candidate],
    now_ms: u64,
) -> Result<Option<HashSet<MessageId>>, DbError> {
    if candidates.is_empty() {
        return Ok(Some(HashSet::new()));
    }
    let target_id = int(target.queue_id);
    let seqs: Vec<Option<i64>> = if target.fifo {
        let n = candidates.len() as i64;
        let row = tx
            .query_opt(
                "UPDATE stowage_queues SET last_sequence = GREATEST(last_sequence + 1, $2) + $3 - 1
                 WHERE queue_id = $1 RETURNING last_sequence",
                &[&target_id, &int(now_ms.saturating_mul(1 << 20)), &n],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let last: i64 = get(&row, "last_sequence")?;
        (0..n).map(|i| Some(last - n + 1 + i)).collect()
    } else {
        // Keeps the target from being deleted until this commits.
        let exists = tx
            .query_opt(
                "SELECT 1 FROM stowage_queues WHERE queue_id = $1 FOR KEY SHARE",
                &[&target_id],
            )
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        vec![None; candidates.len()]
    };
    let ids: Vec<&[u8]> = candidates.iter().map(|c| &c.id[..]).collect();
    let epochs: Vec<i64> = candidates.iter().map(|c| c.epoch).collect();
    let reset = target.dead_letter_source_arn.is_none();
    let rows = tx
        .query(
            "UPDATE stowage_messages AS m
             SET queue_id = $2, seq = COALESCE(c.seq, nextval('stowage_order_keys')),
                 dead_letter_source_arn = $3, visible_at_ms = $4, received_at_ms = 0,
                 epoch = (m.epoch + 1) % 4294967296,
                 receive_count = CASE WHEN $8 THEN 0 ELSE m.receive_count END,
                 first_receive_ms = CASE WHEN $8 THEN 0 ELSE m.first_receive_ms END
             FROM unnest($5::bytea[], $6::bigint[], $7::bigint[]) AS c(id, ep, seq)
             WHERE m.queue_id = $1 AND m.message_id = ANY($5) AND m.message_id = c.id
               AND m.epoch = c.ep AND m.visible_at_ms <= $4
             RETURNING m.message_id",
            &[
                &int(source),
                &target_id,
                &target.dead_letter_source_arn,
                &ms(now_ms),
                &ids,
                &epochs,
                &seqs,
                &reset,
            ],
        )
        .await?;
    let mut moved = HashSet::new();
    for row in &rows {
        moved.insert(codec::message_id(get(row, "message_id")?)?);
    }
    Ok(Some(moved))
}

/// What a receive attempt (one transaction) produced.
struct Received {
    delivered: Vec<StoredMessage>,
    dead_lettered: u32,
    cursor: Option<String>,
    /// The pick changed nothing (a remembered attempt answered).
    replayed: bool,
}

/// Receives per `spec`.
pub(super) async fn receive(
    store: &PgStore,
    queue: &QueueCtx,
    spec: &ReceiveSpec,
    now_ms: u64,
) -> Result<ReceiveOutcome, StoreError> {
    let in_flight = in_flight(store, queue, spec.in_flight_limit, now_ms).await?;
    if in_flight >= spec.in_flight_limit as u64 {
        return Ok(if queue.fifo {
            ReceiveOutcome::Delivered {
                delivered: Vec::new(),
                dead_lettered: 0,
            }
        } else {
            ReceiveOutcome::OverLimit
        });
    }
    let room = (spec.in_flight_limit as u64 - in_flight).min(spec.max as u64) as usize;
    let cursor = store.cursor(queue.queue_id);
    let skip_locked = store.config.use_skip_locked();
    let received = transaction!(&store.db, |tx| attempt(
        &tx,
        queue,
        spec,
        room,
        now_ms,
        cursor.clone(),
        skip_locked
    )
    .await)?;
    if !received.replayed {
        store.set_cursor(queue.queue_id, received.cursor);
        note_delivered(store, queue.queue_id, received.delivered.len() as u64);
    }
    if received.dead_lettered > 0 {
        if let Some(redrive) = &spec.redrive {
            store.wakeups.committed(redrive.dlq.queue_id);
        }
    }
    Ok(ReceiveOutcome::Delivered {
        delivered: received.delivered,
        dead_lettered: received.dead_lettered,
    })
}

async fn attempt(
    tx: &Tx<'_>,
    queue: &QueueCtx,
    spec: &ReceiveSpec,
    room: usize,
    now_ms: u64,
    cursor: Option<String>,
    skip_locked: bool,
) -> Result<Received, DbError> {
    let attempt_id = spec.attempt_id.as_deref().filter(|_| queue.fifo);
    if let Some(attempt_id) = attempt_id {
        if let Some(delivered) = remembered(tx, queue, attempt_id, now_ms).await? {
            return Ok(Received {
                delivered,
                dead_lettered: 0,
                cursor,
                replayed: true,
            });
        }
    }
    let mut delivered: Vec<StoredMessage> = Vec::new();
    let mut dead_lettered = 0u32;
    let mut cursor = cursor;
    for _ in 0..PICKS_MAX {
        let want = room - delivered.len();
        if want == 0 {
            break;
        }
        let picked = pick(tx, queue, want, now_ms, cursor.clone(), skip_locked).await?;
        if picked.candidates.is_empty() {
            break;
        }
        cursor = picked.cursor;
        let claimed = if queue.fifo {
            claim_fifo(tx, queue, spec, &picked.candidates, now_ms).await?
        } else {
            let all: Vec<&Candidate> = picked.candidates.iter().collect();
            claim(tx, queue, spec, &all, now_ms).await?
        };
        let lost = picked.candidates.len() - claimed.delivered.len() - claimed.moved as usize;
        delivered.extend(claimed.delivered);
        dead_lettered += claimed.moved;
        if lost == 0 || !delivered.is_empty() && queue.fifo {
            break;
        }
    }
    if let (Some(attempt_id), false) = (attempt_id, delivered.is_empty()) {
        let deliveries: Vec<(MessageId, u32)> =
            delivered.iter().map(|m| (m.message_id, m.epoch)).collect();
        let saved = tx
            .execute(
                "INSERT INTO stowage_receive_attempts AS a (queue_id, attempt_id, expires_ms, deliveries)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (queue_id, attempt_id) DO UPDATE
                 SET expires_ms = EXCLUDED.expires_ms, deliveries = EXCLUDED.deliveries
                 WHERE a.expires_ms <= $5",
                &[
                    &int(queue.queue_id),
                    &attempt_id,
                    &ms(now_ms.saturating_add(RECEIVE_ATTEMPT_WINDOW_MS)),
                    &encode_deliveries(&deliveries),
                    &ms(now_ms),
                ],
            )
            .await?;
        if saved == 0 {
            // The same attempt id won on another connection: answer its result.
            return Err(DbError::Retry(
                "a concurrent receive with the same attempt id".into(),
            ));
        }
    }
    Ok(Received {
        delivered,
        dead_lettered,
        cursor,
        replayed: false,
    })
}

/// The answer of a remembered receive attempt: its deliveries that are
/// still current (not deleted, not received again).
async fn remembered(
    tx: &Tx<'_>,
    queue: &QueueCtx,
    attempt_id: &str,
    now_ms: u64,
) -> Result<Option<Vec<StoredMessage>>, DbError> {
    let Some(row) = tx
        .query_opt(
            "SELECT deliveries FROM stowage_receive_attempts
             WHERE queue_id = $1 AND attempt_id = $2 AND expires_ms > $3",
            &[&int(queue.queue_id), &attempt_id, &ms(now_ms)],
        )
        .await?
    else {
        return Ok(None);
    };
    let deliveries = decode_deliveries(get(&row, "deliveries")?)?;
    let ids: Vec<&[u8]> = deliveries.iter().map(|(id, _)| &id[..]).collect();
    let epochs: Vec<i64> = deliveries.iter().map(|(_, e)| i64::from(*e)).collect();
    let rows = tx
        .query(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM unnest($2::bytea[], $3::bigint[]) WITH ORDINALITY AS c(id, ep, ord)
                 JOIN stowage_messages m ON m.queue_id = $1 AND m.message_id = ANY($2)
                     AND m.message_id = c.id AND m.epoch = c.ep
                 ORDER BY c.ord"
            ),
            &[&int(queue.queue_id), &ids, &epochs],
        )
        .await?;
    let messages = rows
        .iter()
        .map(|row| codec::message(row, queue.fifo))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(messages))
}

/// What a claim got.
struct Claimed {
    delivered: Vec<StoredMessage>,
    moved: u32,
    /// Ids delivered or moved.
    taken: HashSet<MessageId>,
}

async fn claim(
    tx: &Tx<'_>,
    queue: &QueueCtx,
    spec: &ReceiveSpec,
    candidates: &[&Candidate],
    now_ms: u64,
) -> Result<Claimed, DbError> {
    let over_limit = |c: &Candidate| {
        spec.redrive
            .as_ref()
            .is_some_and(|r| i64::from(c.receive_count) >= i64::from(r.max_receive_count))
    };
    let (mut to_move, mut to_deliver): (Vec<&Candidate>, Vec<&Candidate>) =
        candidates.iter().copied().partition(|c| over_limit(c));
    let mut taken = HashSet::new();
    let mut moved = 0;
    if let (Some(redrive), false) = (&spec.redrive, to_move.is_empty()) {
        let target = MoveTarget {
            queue_id: redrive.dlq.queue_id,
            fifo: redrive.dlq.fifo,
            dead_letter_source_arn: Some(&queue.arn),
        };
        match move_messages(tx, queue.queue_id, &target, &to_move, now_ms).await? {
            Some(ids) => {
                moved = ids.len() as u32;
                taken.extend(ids);
            }
            // The dead-letter queue is gone: deliver as if there were no redrive.
            None => to_deliver = candidates.to_vec(),
        }
        to_move.clear();
    }
    let mut delivered = Vec::with_capacity(to_deliver.len());
    if !to_deliver.is_empty() {
        let ids: Vec<&[u8]> = to_deliver.iter().map(|c| &c.id[..]).collect();
        let epochs: Vec<i64> = to_deliver.iter().map(|c| c.epoch).collect();
        let rows = tx
            .query(
                &format!(
                    "UPDATE stowage_messages AS m
                     SET epoch = (m.epoch + 1) % 4294967296, receive_count = m.receive_count + 1,
                         first_receive_ms = CASE WHEN m.first_receive_ms = 0 THEN $2
                                                 ELSE m.first_receive_ms END,
                         visible_at_ms = $3, received_at_ms = $2
                     FROM unnest($4::bytea[], $5::bigint[]) AS c(id, ep)
                     WHERE m.queue_id = $1 AND m.message_id = ANY($4) AND m.message_id = c.id
                       AND m.epoch = c.ep AND m.visible_at_ms <= $2 AND m.sent_ms > $6
                     RETURNING {MESSAGE_COLUMNS}"
                ),
                &[
                    &int(queue.queue_id),
                    &ms(now_ms),
                    &ms(now_ms.saturating_add(spec.visibility_ms)),
                    &ids,
                    &epochs,
                    &(ms(now_ms) - ms(queue.retention_ms)),
                ],
            )
            .await?;
        let mut by_id: HashMap<MessageId, StoredMessage> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let message = codec::message(row, queue.fifo)?;
            by_id.insert(message.message_id, message);
        }
        for c in &to_deliver {
            if let Some(message) = by_id.remove(&c.id) {
                taken.insert(c.id);
                delivered.push(message);
            }
        }
    }
    Ok(Claimed {
        delivered,
        moved,
        taken,
    })
}

/// FIFO: heads first, then the rest of each group whose head is ours.
async fn claim_fifo(
    tx: &Tx<'_>,
    queue: &QueueCtx,
    spec: &ReceiveSpec,
    candidates: &[Candidate],
    now_ms: u64,
) -> Result<Claimed, DbError> {
    let mut heads: Vec<&Candidate> = Vec::new();
    let mut rest: Vec<&Candidate> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let first_of_group = i == 0 || candidates[i - 1].tenant != c.tenant;
        if first_of_group {
            heads.push(c);
        } else {
            rest.push(c);
        }
    }
    let first = claim(tx, queue, spec, &heads, now_ms).await?;
    let held: HashSet<&str> = heads
        .iter()
        .filter(|c| first.taken.contains(&c.id))
        .map(|c| c.tenant.as_str())
        .collect();
    let rest: Vec<&Candidate> = rest
        .into_iter()
        .filter(|c| held.contains(c.tenant.as_str()))
        .collect();
    let second = claim(tx, queue, spec, &rest, now_ms).await?;
    // Delivery order = pick order (group by group, sequence order).
    let mut by_id: HashMap<MessageId, StoredMessage> = first
        .delivered
        .into_iter()
        .chain(second.delivered)
        .map(|m| (m.message_id, m))
        .collect();
    let delivered = candidates
        .iter()
        .filter_map(|c| by_id.remove(&c.id))
        .collect();
    let mut taken = first.taken;
    taken.extend(second.taken);
    Ok(Claimed {
        delivered,
        moved: first.moved + second.moved,
        taken,
    })
}

/// Messages in flight in `queue` (bounded by `limit`), from a per-node
/// cache while it is fresh and far below the limit.
async fn in_flight(
    store: &PgStore,
    queue: &QueueCtx,
    limit: usize,
    now_ms: u64,
) -> Result<u64, StoreError> {
    let limit = limit as u64;
    let cached = store
        .in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&queue.queue_id)
        .copied();
    if let Some((at, count)) = cached {
        if now_ms >= at && now_ms - at < IN_FLIGHT_RECOUNT_MS && count < limit / 2 {
            return Ok(count);
        }
    }
    let rows = store
        .db
        .query(
            "SELECT count(*) AS n FROM (
                 SELECT 1 FROM stowage_messages
                 WHERE queue_id = $1 AND visible_at_ms > $2 AND receive_count > 0
                 LIMIT $3) s",
            &[&int(queue.queue_id), &ms(now_ms), &int(limit)],
        )
        .await?;
    let count = match rows.first() {
        Some(row) => codec::uint(get(row, "n")?)?,
        None => 0,
    };
    store
        .in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(queue.queue_id, (now_ms, count));
    Ok(count)
}

fn note_delivered(store: &PgStore, queue: QueueId, delivered: u64) {
    if delivered == 0 {
        return;
    }
    if let Some(entry) = store
        .in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&queue)
    {
        entry.1 += delivered;
    }
}
