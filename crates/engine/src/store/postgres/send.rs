//! SendMessage / SendMessageBatch: one atomic unit per call.
//!
//! Standard queues: one autocommit `INSERT … SELECT FROM unnest(…)`; the
//! ordering key comes from the global sequence `stowage_order_keys` (no
//! per-queue hot row).
//!
//! FIFO queues, one transaction: (1) a block of sequence numbers from the
//! queue row's counter (`GREATEST(last + 1, now · 2^20)`, so they grow with
//! time, strictly increase and are never reused; the row lock makes commit
//! order equal sequence order, so a receiver never sees a later message of
//! a group before an earlier one); (2) the deduplication ids, one
//! insert-if-absent-or-expired statement (absent from the other scope too:
//! entries keep the scope they were recorded under), returning those that
//! are new; (3) the originals of the duplicates; (4) the new messages.

use std::collections::HashMap;

use super::codec::{encode_attributes, int, tenant, uint};
use super::db::{get, transaction, DbError, Tx};
use super::{ms, PgStore};
use crate::limits::DEDUP_WINDOW_MS;
use crate::store::*;

const INSERT_MESSAGES: &str = "INSERT INTO stowage_messages (queue_id, message_id, seq, tenant,
         body, attributes, trace_header, sender_id, sent_ms, dedup_id, dead_letter_source_arn,
         receive_count, first_receive_ms, epoch, visible_at_ms, received_at_ms)
     SELECT $1, u.id, COALESCE(u.seq, nextval('stowage_order_keys')), u.tenant, u.body,
         u.attributes, u.trace, u.sender, $2, u.dedup, NULL, 0, 0, 0, u.visible_at, 0
     FROM unnest($3::bytea[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::text[], $10::text[], $11::bigint[])
          WITH ORDINALITY AS u(id, seq, tenant, body, attributes, trace, sender, dedup, visible_at, ord)
     WHERE EXISTS (SELECT 1 FROM stowage_queues q WHERE q.queue_id = $1)
     ORDER BY u.ord
     RETURNING message_id, seq";

/// Stores a batch atomically.
pub(super) async fn send(
    store: &PgStore,
    queue: &QueueCtx,
    messages: Vec<NewMessage>,
    now_ms: u64,
) -> Result<Vec<SendOutcome>, StoreError> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let outcomes = if queue.fifo {
        transaction!(&store.db, |tx| send_fifo(&tx, queue, &messages, now_ms)
            .await)?
    } else {
        send_standard(store, queue, &messages, now_ms).await?
    };
    store.wakeups.committed(queue.queue_id);
    Ok(outcomes)
}

/// Column arrays of the messages to insert.
struct Columns<'a> {
    ids: Vec<&'a [u8]>,
    seqs: Vec<Option<i64>>,
    tenants: Vec<&'a str>,
    bodies: Vec<&'a str>,
    attributes: Vec<String>,
    traces: Vec<Option<&'a str>>,
    senders: Vec<&'a str>,
    dedups: Vec<Option<&'a str>>,
    visible_at: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn new(messages: impl Iterator<Item = (&'a NewMessage, Option<i64>)>, now_ms: u64) -> Self {
        let mut c = Columns {
            ids: vec![],
            seqs: vec![],
            tenants: vec![],
            bodies: vec![],
            attributes: vec![],
            traces: vec![],
            senders: vec![],
            dedups: vec![],
            visible_at: vec![],
        };
        for (m, seq) in messages {
            c.ids.push(&m.message_id);
            c.seqs.push(seq);
            c.tenants.push(tenant(m.group_id.as_deref()));
            c.bodies.push(&m.body);
            c.attributes.push(encode_attributes(&m.attributes));
            c.traces.push(m.trace_header.as_deref());
            c.senders.push(&m.sender_id);
            c.dedups.push(m.dedup_id.as_deref());
            c.visible_at.push(ms(now_ms.saturating_add(m.delay_ms)));
        }
        c
    }

    fn params<'s>(
        &'s self,
        queue_id: &'s i64,
        sent: &'s i64,
    ) -> [&'s (dyn tokio_postgres::types::ToSql + Sync); 11] {
        [
            queue_id,
            sent,
            &self.ids,
            &self.seqs,
            &self.tenants,
            &self.bodies,
            &self.attributes,
            &self.traces,
            &self.senders,
            &self.dedups,
            &self.visible_at,
        ]
    }
}

/// Maps `RETURNING message_id, seq` rows by id.
fn stored(rows: &[tokio_postgres::Row]) -> Result<HashMap<MessageId, u128>, DbError> {
    rows.iter()
        .map(|row| {
            let id = super::codec::message_id(get(row, "message_id")?)?;
            Ok((id, u128::from(uint(get(row, "seq")?)?)))
        })
        .collect()
}

async fn send_standard(
    store: &PgStore,
    queue: &QueueCtx,
    messages: &[NewMessage],
    now_ms: u64,
) -> Result<Vec<SendOutcome>, StoreError> {
    let columns = Columns::new(messages.iter().map(|m| (m, None)), now_ms);
    let (queue_id, sent) = (int(queue.queue_id), ms(now_ms));
    let rows = store
        .db
        .query(INSERT_MESSAGES, &columns.params(&queue_id, &sent))
        .await?;
    if rows.is_empty() {
        return Err(StoreError::QueueGone);
    }
    let stored = stored(&rows)?;
    messages
        .iter()
        .map(|m| match stored.get(&m.message_id) {
            Some(&sequence) => Ok(SendOutcome::Stored { sequence }),
            None => Err(StoreError::Internal("a sent message was not stored".into())),
        })
        .collect()
}

fn scope(queue: &QueueCtx, m: &NewMessage) -> String {
    match (queue.dedup_per_group, &m.group_id) {
        (true, Some(group)) => format!("g:{group}"),
        _ => String::new(),
    }
}

/// The scope a send checks besides its own: entries keep the scope they
/// were recorded under, and a send is a duplicate of a live entry of its
/// group or of the queue, whatever `DeduplicationScope` says now (so ids
/// seen before a change from `queue` to `messageGroup` keep deduplicating
/// across groups until their window ends, as on SQS and the embedded store).
fn other_scope(queue: &QueueCtx, m: &NewMessage) -> String {
    match (queue.dedup_per_group, &m.group_id) {
        (false, Some(group)) => format!("g:{group}"),
        _ => String::new(),
    }
}

async fn send_fifo(
    tx: &Tx<'_>,
    queue: &QueueCtx,
    messages: &[NewMessage],
    now_ms: u64,
) -> Result<Vec<SendOutcome>, DbError> {
    let queue_id = int(queue.queue_id);
    let n = messages.len() as i64;
    let last: i64 = match tx
        .query_opt(
            "UPDATE stowage_queues SET last_sequence = GREATEST(last_sequence + 1, $2) + $3 - 1
             WHERE queue_id = $1 RETURNING last_sequence",
            &[&queue_id, &int(now_ms.saturating_mul(1 << 20)), &n],
        )
        .await?
    {
        Some(row) => get(&row, "last_sequence")?,
        None => return Err(DbError::Gone),
    };
    let first = last - n + 1;
    // Within the batch, a repeated dedup id is a duplicate of its first use.
    let mut first_use: HashMap<(String, &str), usize> = HashMap::new();
    let mut repeats: Vec<Option<usize>> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let dedup = m.dedup_id.as_deref().unwrap_or("");
        let key = (scope(queue, m), dedup);
        match first_use.get(&key) {
            Some(&earlier) if m.dedup_id.is_some() => repeats.push(Some(earlier)),
            _ => {
                first_use.insert(key, i);
                repeats.push(None);
            }
        }
    }
    let candidates: Vec<usize> = (0..messages.len())
        .filter(|&i| repeats[i].is_none() && messages[i].dedup_id.is_some())
        .collect();
    let scopes: Vec<String> = candidates
        .iter()
        .map(|&i| scope(queue, &messages[i]))
        .collect();
    let others: Vec<String> = candidates
        .iter()
        .map(|&i| other_scope(queue, &messages[i]))
        .collect();
    let dedups: Vec<&str> = candidates
        .iter()
        .map(|&i| messages[i].dedup_id.as_deref().unwrap_or(""))
        .collect();
    let ids: Vec<&[u8]> = candidates
        .iter()
        .map(|&i| &messages[i].message_id[..])
        .collect();
    let seqs: Vec<i64> = candidates.iter().map(|&i| first + i as i64).collect();
    let expires = ms(now_ms.saturating_add(DEDUP_WINDOW_MS));
    let fresh_rows = tx
        .query(
            "INSERT INTO stowage_dedup AS d (queue_id, scope, dedup_id, message_id, seq, expires_ms)
             SELECT $1, u.scope, u.dedup, u.id, u.seq, $5
             FROM unnest($2::text[], $3::text[], $4::bytea[], $6::bigint[], $8::text[])
                  AS u(scope, dedup, id, seq, other)
             WHERE NOT EXISTS (
                 SELECT 1 FROM stowage_dedup o
                 WHERE o.queue_id = $1 AND o.scope = u.other AND o.dedup_id = u.dedup
                   AND o.expires_ms > $7)
             ON CONFLICT (queue_id, scope, dedup_id) DO UPDATE
             SET message_id = EXCLUDED.message_id, seq = EXCLUDED.seq, expires_ms = EXCLUDED.expires_ms
             WHERE d.expires_ms <= $7
             RETURNING d.message_id",
            &[
                &queue_id,
                &scopes,
                &dedups,
                &ids,
                &expires,
                &seqs,
                &ms(now_ms),
                &others,
            ],
        )
        .await?;
    let mut fresh = std::collections::HashSet::new();
    for row in &fresh_rows {
        fresh.insert(super::codec::message_id(get(row, "message_id")?)?);
    }
    // Originals of the duplicates of earlier sends.
    let mut originals: HashMap<usize, (MessageId, u128)> = HashMap::new();
    let dup_positions: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| !fresh.contains(&messages[i].message_id))
        .collect();
    if !dup_positions.is_empty() {
        let dup_scopes: Vec<String> = dup_positions
            .iter()
            .map(|&i| scope(queue, &messages[i]))
            .collect();
        let dup_others: Vec<String> = dup_positions
            .iter()
            .map(|&i| other_scope(queue, &messages[i]))
            .collect();
        let dup_ids: Vec<&str> = dup_positions
            .iter()
            .map(|&i| messages[i].dedup_id.as_deref().unwrap_or(""))
            .collect();
        // The live entry of the message's own scope or of the other one
        // (a group's entry first, as the embedded store looks them up).
        let rows = tx
            .query(
                "SELECT u.ord, d.message_id, d.seq
                 FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY
                      AS u(scope, dedup, other, ord)
                 JOIN stowage_dedup d ON d.queue_id = $1 AND d.dedup_id = u.dedup
                      AND d.scope IN (u.scope, u.other) AND d.expires_ms > $5
                 ORDER BY u.ord, d.scope DESC",
                &[&queue_id, &dup_scopes, &dup_ids, &dup_others, &ms(now_ms)],
            )
            .await?;
        for row in &rows {
            let ord: i64 = get(row, "ord")?;
            let Some(&position) = usize::try_from(ord - 1)
                .ok()
                .and_then(|o| dup_positions.get(o))
            else {
                continue;
            };
            if originals.contains_key(&position) {
                continue;
            }
            let id = super::codec::message_id(get(row, "message_id")?)?;
            originals.insert(position, (id, u128::from(uint(get(row, "seq")?)?)));
        }
        if originals.len() != dup_positions.len() {
            // A window ended between the two statements: try again.
            return Err(DbError::Retry(
                "a deduplication window ended during a send".into(),
            ));
        }
    }
    let new: Vec<usize> = (0..messages.len())
        .filter(|&i| repeats[i].is_none() && !originals.contains_key(&i))
        .collect();
    let columns = Columns::new(
        new.iter().map(|&i| (&messages[i], Some(first + i as i64))),
        now_ms,
    );
    let sent = ms(now_ms);
    if !new.is_empty() {
        let rows = tx
            .query(INSERT_MESSAGES, &columns.params(&queue_id, &sent))
            .await?;
        if rows.len() != new.len() {
            return Err(DbError::Gone);
        }
    }
    let mut outcomes: Vec<SendOutcome> = Vec::with_capacity(messages.len());
    for (i, repeat) in repeats.iter().enumerate() {
        let outcome = if let Some(&(message_id, sequence)) = originals.get(&i) {
            SendOutcome::Duplicate {
                message_id,
                sequence,
            }
        } else if let Some(earlier) = *repeat {
            match outcomes.get(earlier).copied() {
                Some(SendOutcome::Stored { sequence }) => SendOutcome::Duplicate {
                    message_id: messages[earlier].message_id,
                    sequence,
                },
                Some(duplicate) => duplicate,
                None => return Err(DbError::Internal("batch dedup order".into())),
            }
        } else {
            SendOutcome::Stored {
                sequence: u128::from(uint(first + i as i64)?),
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
