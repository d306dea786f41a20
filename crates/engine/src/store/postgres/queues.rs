//! Queue definitions: lookups, create (name uniqueness, the recently-deleted
//! guard and the per-account quota, safe across nodes), compare-and-set
//! updates on `version`, delete.

use super::codec::{self, encode_map, int, QUEUE_COLUMNS};
use super::db::{get, transaction, DbError, Tx};
use super::{ms, PgStore};
use crate::attributes::Settings;
use crate::store::*;

/// How long a deleted queue's name and id are remembered (the recreate
/// guard, and the sweep of messages a racing send left behind), ms.
pub(super) const DELETED_MEMORY_MS: u64 = 60 * 60 * 1000;

fn retention_ms(def: &QueueDef) -> i64 {
    int(Settings::from_attributes(&def.attributes).retention_ms)
}

/// The live queue `(account, name)`.
pub(super) async fn by_name(
    store: &PgStore,
    account: &str,
    name: &str,
) -> Result<Option<QueueRecord>, StoreError> {
    let sql =
        format!("SELECT {QUEUE_COLUMNS} FROM stowage_queues WHERE account = $1 AND name = $2");
    let rows = store.db.query(&sql, &[&account, &name]).await?;
    Ok(rows.first().map(codec::queue).transpose()?)
}

/// The live queue with this id.
pub(super) async fn by_id(
    store: &PgStore,
    queue_id: QueueId,
) -> Result<Option<QueueRecord>, StoreError> {
    let sql = format!("SELECT {QUEUE_COLUMNS} FROM stowage_queues WHERE queue_id = $1");
    let rows = store.db.query(&sql, &[&int(queue_id)]).await?;
    Ok(rows.first().map(codec::queue).transpose()?)
}

/// Live queues in (account, name) order.
pub(super) async fn list(
    store: &PgStore,
    account: Option<&str>,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<QueueRecord>, StoreError> {
    let sql = format!(
        "SELECT {QUEUE_COLUMNS} FROM stowage_queues
         WHERE ($1::text IS NULL OR account = $1)
           AND left(name, char_length($2)) = $2
           AND ($3::text IS NULL OR name > $3)
         ORDER BY account, name LIMIT $4"
    );
    let rows = store
        .db
        .query(&sql, &[&account, &prefix, &after, &int(limit as u64)])
        .await?;
    Ok(rows
        .iter()
        .map(codec::queue)
        .collect::<Result<Vec<_>, DbError>>()?)
}

async fn existing(tx: &Tx<'_>, account: &str, name: &str) -> Result<Option<QueueRecord>, DbError> {
    let sql =
        format!("SELECT {QUEUE_COLUMNS} FROM stowage_queues WHERE account = $1 AND name = $2");
    tx.query_opt(&sql, &[&account, &name])
        .await?
        .as_ref()
        .map(codec::queue)
        .transpose()
}

/// CreateQueue. The store assigns the id (unique across nodes, never
/// reused); the order of the steps makes the guard and the quota hold
/// against concurrent creates and deletes on other nodes:
/// 1. an existing queue answers `Exists`;
/// 2. the account's counter is incremented only below the quota (one
///    conditional upsert; the row lock orders concurrent creates);
/// 3. the insert (a concurrent create of the same name waits for it and
///    then conflicts: `Exists`);
/// 4. the recently-deleted check, *after* the insert, so that a delete
///    committing meanwhile is seen.
pub(super) async fn create(
    store: &PgStore,
    def: QueueDef,
    recreate_guard_ms: u64,
    max_queues: usize,
) -> Result<CreateOutcome, StoreError> {
    let fifo = def.name.ends_with(".fifo");
    let attributes = encode_map(&def.attributes);
    let tags = encode_map(&def.tags);
    let retention = retention_ms(&def);
    transaction!(&store.db, |tx| {
        async {
        if let Some(found) = existing(&tx, &def.account, &def.name).await? {
            return Ok(CreateOutcome::Exists(found));
        }
        if max_queues == 0 {
            return Ok(CreateOutcome::QuotaReached);
        }
        let counted = tx
            .query_opt(
                "INSERT INTO stowage_accounts AS a (account, queues) VALUES ($1, 1)
                 ON CONFLICT (account) DO UPDATE SET queues = a.queues + 1
                 WHERE a.queues < $2
                 RETURNING a.queues",
                &[&def.account, &int(max_queues as u64)],
            )
            .await?;
        if counted.is_none() {
            return Ok(CreateOutcome::QuotaReached);
        }
        let inserted = tx
            .query_opt(
                &format!(
                    "INSERT INTO stowage_queues (queue_id, account, name, fifo, attributes, tags,
                         created_ms, last_modified_ms, version, retention_ms)
                     VALUES (nextval('stowage_queue_ids'), $1, $2, $3, $4, $5, $6, $7, 1, $8)
                     ON CONFLICT (account, name) DO NOTHING
                     RETURNING {QUEUE_COLUMNS}"
                ),
                &[
                    &def.account,
                    &def.name,
                    &fifo,
                    &attributes,
                    &tags,
                    &ms(def.created_ms),
                    &ms(def.last_modified_ms),
                    &retention,
                ],
            )
            .await?;
        let Some(row) = inserted else {
            tx.roll_back_at_end();
            return match existing(&tx, &def.account, &def.name).await? {
                Some(found) => Ok(CreateOutcome::Exists(found)),
                None => Err(DbError::Retry("a concurrent create or delete of the name".into())),
            };
        };
        let record = codec::queue(&row)?;
        if recreate_guard_ms > 0 {
            let deleted = tx
                .query_opt(
                    "SELECT deleted_ms FROM stowage_deleted_queues WHERE account = $1 AND name = $2",
                    &[&def.account, &def.name],
                )
                .await?;
            if let Some(row) = deleted {
                let at: i64 = get(&row, "deleted_ms")?;
                if at.saturating_add(int(recreate_guard_ms)) > ms(def.created_ms) {
                    tx.roll_back_at_end();
                    return Ok(CreateOutcome::DeletedRecently);
                }
            }
        }
        Ok(CreateOutcome::Created(record))
    }
    .await
    })
}

/// Replaces the definition if its version is still `expected_version` (one
/// conditional statement).
pub(super) async fn update(
    store: &PgStore,
    def: QueueDef,
    expected_version: u64,
) -> Result<UpdateOutcome, StoreError> {
    let sql = format!(
        "UPDATE stowage_queues SET attributes = $3, tags = $4, last_modified_ms = $5,
             retention_ms = $6, version = version + 1
         WHERE queue_id = $1 AND version = $2
         RETURNING {QUEUE_COLUMNS}"
    );
    let rows = store
        .db
        .query(
            &sql,
            &[
                &int(def.queue_id),
                &int(expected_version),
                &encode_map(&def.attributes),
                &encode_map(&def.tags),
                &ms(def.last_modified_ms),
                &retention_ms(&def),
            ],
        )
        .await?;
    if let Some(row) = rows.first() {
        return Ok(UpdateOutcome::Updated(codec::queue(row)?));
    }
    Ok(match by_id(store, def.queue_id).await? {
        Some(current) => UpdateOutcome::Conflict(current),
        None => UpdateOutcome::Gone,
    })
}

/// DeleteQueue: the definition, its messages, deduplication ids and
/// receive attempts go in one transaction; the name's deletion time is
/// remembered.
pub(super) async fn delete(
    store: &PgStore,
    queue_id: QueueId,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let id = int(queue_id);
    let deleted = transaction!(&store.db, |tx| {
        async {
        let Some(row) = tx
            .query_opt(
                "DELETE FROM stowage_queues WHERE queue_id = $1 RETURNING account, name",
                &[&id],
            )
            .await?
        else {
            return Ok(false);
        };
        let account: String = get(&row, "account")?;
        let name: String = get(&row, "name")?;
        for sql in [
            "DELETE FROM stowage_messages WHERE queue_id = $1",
            "DELETE FROM stowage_dedup WHERE queue_id = $1",
            "DELETE FROM stowage_receive_attempts WHERE queue_id = $1",
        ] {
            tx.execute(sql, &[&id]).await?;
        }
        tx.execute(
            "INSERT INTO stowage_deleted_queues AS d (account, name, queue_id, deleted_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, name) DO UPDATE
             SET queue_id = EXCLUDED.queue_id, deleted_ms = GREATEST(d.deleted_ms, EXCLUDED.deleted_ms)",
            &[&account, &name, &id, &ms(now_ms)],
        )
        .await?;
        tx.execute(
            "UPDATE stowage_accounts SET queues = queues - 1 WHERE account = $1 AND queues > 0",
            &[&account],
        )
        .await?;
        Ok(true)
    }
    .await
    })?;
    if deleted {
        // Long polls on the queue notice that it is gone.
        store.wakeups.committed(queue_id);
    }
    Ok(deleted)
}
