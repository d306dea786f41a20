//! The schema and its migrations, applied at start.
//!
//! Each migration runs in one transaction that first checks
//! `stowage_schema_version`; every statement is idempotent (`IF NOT
//! EXISTS`), so several nodes starting at once are safe: the loser of a
//! catalog race gets a unique-violation or serialization error, retries,
//! and finds the version recorded. No advisory lock, no `LOCK TABLE` (both
//! unreliable on distributed engines). A database whose schema is newer
//! than this binary is refused.
//!
//! Key layout (after Apple's QuiCK): a queue's messages are one key range
//! `(queue_id, …)`; a FIFO group is the sub-range `(queue_id, tenant)` and
//! its lock is derived from its rows (a received message whose
//! `visible_at_ms` is in the future), so a lock can never leak;
//! `visible_at_ms` is the vesting time; `epoch` is the lease id a receipt
//! handle names.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::db::{get, Db};
use crate::store::StoreError;

/// Schema version this binary writes.
pub(super) const SCHEMA_VERSION: i32 = 1;

/// Migration 1: the whole v1 schema.
const V1: &[&str] = &[
    // Queue definitions. `last_sequence` is the FIFO sequence counter (and
    // the ordering key of moves into the queue); `retention_ms` is derived
    // from the attributes so the sweep needs no parsing.
    "CREATE TABLE IF NOT EXISTS stowage_queues (
        queue_id         bigint  PRIMARY KEY,
        account          text    NOT NULL,
        name             text    NOT NULL,
        fifo             boolean NOT NULL,
        attributes       text    NOT NULL,
        tags             text    NOT NULL,
        created_ms       bigint  NOT NULL,
        last_modified_ms bigint  NOT NULL,
        version          bigint  NOT NULL,
        retention_ms     bigint  NOT NULL,
        last_sequence    bigint  NOT NULL DEFAULT 0,
        last_purge_ms    bigint,
        CONSTRAINT stowage_queues_name UNIQUE (account, name)
    )",
    "CREATE SEQUENCE IF NOT EXISTS stowage_queue_ids",
    // Ordering keys of standard queues (no per-queue hot row).
    "CREATE SEQUENCE IF NOT EXISTS stowage_order_keys",
    // Recently deleted names (CreateQueue's guard) and the id they had
    // (the sweep removes messages a send racing the delete left behind).
    "CREATE TABLE IF NOT EXISTS stowage_deleted_queues (
        account    text   NOT NULL,
        name       text   NOT NULL,
        queue_id   bigint NOT NULL,
        deleted_ms bigint NOT NULL,
        PRIMARY KEY (account, name)
    )",
    "CREATE TABLE IF NOT EXISTS stowage_accounts (
        account text   PRIMARY KEY,
        queues  bigint NOT NULL
    )",
    // Messages. `tenant` = FIFO group / fair-queue tenant ('' = none);
    // `seq` = FIFO sequence number or ordering key; a message is in flight
    // when `receive_count > 0 AND visible_at_ms > now`, delayed when
    // `receive_count = 0 AND visible_at_ms > now`, visible otherwise.
    "CREATE TABLE IF NOT EXISTS stowage_messages (
        queue_id               bigint  NOT NULL,
        message_id             bytea   NOT NULL,
        seq                    bigint  NOT NULL,
        tenant                 text    COLLATE \"C\" NOT NULL,
        body                   text    NOT NULL,
        attributes             text    NOT NULL,
        trace_header           text,
        sender_id              text    NOT NULL,
        sent_ms                bigint  NOT NULL,
        dedup_id               text,
        dead_letter_source_arn text,
        receive_count          integer NOT NULL,
        first_receive_ms       bigint  NOT NULL,
        epoch                  bigint  NOT NULL,
        visible_at_ms          bigint  NOT NULL,
        received_at_ms         bigint  NOT NULL,
        PRIMARY KEY (queue_id, message_id)
    )",
    // Queue order (peek; FIFO sequence numbers unique per queue).
    "CREATE UNIQUE INDEX IF NOT EXISTS stowage_messages_order
        ON stowage_messages (queue_id, seq)",
    // Vesting order: next_visible_at, counts.
    "CREATE INDEX IF NOT EXISTS stowage_messages_vesting
        ON stowage_messages (queue_id, visible_at_ms, seq)",
    // Tenants / groups with visible messages; oldest visible per tenant.
    "CREATE INDEX IF NOT EXISTS stowage_messages_tenant
        ON stowage_messages (queue_id, tenant, visible_at_ms, seq)",
    // FIFO group order.
    "CREATE INDEX IF NOT EXISTS stowage_messages_group
        ON stowage_messages (queue_id, tenant, seq)",
    // Received messages per group: the group lock.
    "CREATE INDEX IF NOT EXISTS stowage_messages_received
        ON stowage_messages (queue_id, tenant, seq) WHERE receive_count > 0",
    // Retention.
    "CREATE INDEX IF NOT EXISTS stowage_messages_age
        ON stowage_messages (queue_id, sent_ms)",
    // FIFO deduplication windows. `scope` = '' (queue) or 'g:' || group.
    "CREATE TABLE IF NOT EXISTS stowage_dedup (
        queue_id   bigint NOT NULL,
        scope      text   NOT NULL,
        dedup_id   text   NOT NULL,
        message_id bytea  NOT NULL,
        seq        bigint NOT NULL,
        expires_ms bigint NOT NULL,
        PRIMARY KEY (queue_id, scope, dedup_id)
    )",
    "CREATE INDEX IF NOT EXISTS stowage_dedup_expiry ON stowage_dedup (expires_ms)",
    // Remembered ReceiveRequestAttemptIds: the deliveries they made
    // (16-byte id + 4-byte epoch each).
    "CREATE TABLE IF NOT EXISTS stowage_receive_attempts (
        queue_id   bigint NOT NULL,
        attempt_id text   NOT NULL,
        expires_ms bigint NOT NULL,
        deliveries bytea  NOT NULL,
        PRIMARY KEY (queue_id, attempt_id)
    )",
    "CREATE INDEX IF NOT EXISTS stowage_receive_attempts_expiry
        ON stowage_receive_attempts (expires_ms)",
    "CREATE TABLE IF NOT EXISTS stowage_move_tasks (
        task_id         text    PRIMARY KEY,
        source_arn      text    NOT NULL,
        destination_arn text,
        max_per_second  integer,
        status          text    NOT NULL,
        moved           bigint  NOT NULL,
        to_move         bigint  NOT NULL,
        failure_reason  text,
        started_ms      bigint  NOT NULL
    )",
    // At most one active task per source, across nodes.
    "CREATE UNIQUE INDEX IF NOT EXISTS stowage_move_tasks_active
        ON stowage_move_tasks (source_arn) WHERE status IN ('RUNNING', 'CANCELLING')",
    "CREATE TABLE IF NOT EXISTS stowage_leases (
        name       text   PRIMARY KEY,
        holder     text   NOT NULL,
        expires_ms bigint NOT NULL
    )",
];

/// Every migration, in order (index + 1 = version).
const MIGRATIONS: &[&[&str]] = &[V1];

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS stowage_schema_version (
    version    integer PRIMARY KEY,
    applied_ms bigint  NOT NULL
)";

/// Brings the schema to [`SCHEMA_VERSION`]. `now_ms` only stamps the rows.
pub(super) async fn migrate(db: &Db, now_ms: u64) -> Result<(), StoreError> {
    // Catalog races between nodes (two CREATE TABLE IF NOT EXISTS at once)
    // end in a unique violation for the loser: try again a few times.
    let mut tries = 0;
    loop {
        match migrate_once(db, now_ms).await {
            Ok(()) => return Ok(()),
            Err(Race(reason)) if tries < 20 => {
                tries += 1;
                tracing::debug!(%reason, "schema migration raced another node; retrying");
                tokio::time::sleep(Duration::from_millis(20 * tries)).await;
            }
            Err(Race(reason)) => return Err(StoreError::Unavailable(reason)),
            Err(Fail(error)) => return Err(error),
        }
    }
}

enum MigrateError {
    Race(String),
    Fail(StoreError),
}
use MigrateError::{Fail, Race};

impl From<StoreError> for MigrateError {
    /// A transient failure (a lost connection, a conflict) is tried again.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(reason) => Race(reason),
            other => Fail(other),
        }
    }
}

async fn migrate_once(db: &Db, now_ms: u64) -> Result<(), MigrateError> {
    let conn = db
        .connection()
        .await
        .map_err(|e| MigrateError::from(StoreError::from(e)))?;
    conn.batch_execute(VERSION_TABLE).await.map_err(race)?;
    let applied = current_version(db).await?;
    if applied > SCHEMA_VERSION {
        return Err(Fail(StoreError::Internal(format!(
            "the database schema is version {applied}, newer than this binary's {SCHEMA_VERSION}: upgrade Stowage"
        ))));
    }
    for (index, statements) in MIGRATIONS.iter().enumerate() {
        let version = index as i32 + 1;
        if version <= applied {
            continue;
        }
        apply(db, version, statements, now_ms).await?;
    }
    Ok(())
}

async fn current_version(db: &Db) -> Result<i32, MigrateError> {
    let rows = db
        .query(
            "SELECT COALESCE(max(version), 0) AS version FROM stowage_schema_version",
            &[],
        )
        .await?;
    match rows.first() {
        Some(row) => Ok(get::<i32>(row, "version").map_err(|e| Fail(e.into()))?),
        None => Ok(0),
    }
}

async fn apply(
    db: &Db,
    version: i32,
    statements: &[&str],
    now_ms: u64,
) -> Result<(), MigrateError> {
    let mut conn = db
        .connection()
        .await
        .map_err(|e| MigrateError::from(StoreError::from(e)))?;
    let tx = conn.transaction().await.map_err(race)?;
    let done = tx
        .query_opt(
            "SELECT version FROM stowage_schema_version WHERE version = $1",
            &[&version],
        )
        .await
        .map_err(race)?;
    if done.is_some() {
        return Ok(());
    }
    for statement in statements {
        tx.batch_execute(statement).await.map_err(race)?;
    }
    tx.execute(
        "INSERT INTO stowage_schema_version (version, applied_ms) VALUES ($1, $2)
         ON CONFLICT (version) DO NOTHING",
        &[&version, &(now_ms as i64)],
    )
    .await
    .map_err(race)?;
    tx.commit().await.map_err(race)?;
    tracing::info!(version, "database schema migrated");
    Ok(())
}

/// PostgreSQL only (not part of the migrations, which other engines run
/// too): a queue table churns, so vacuum and analyze it much more eagerly
/// than the defaults (dead index entries of received and deleted messages
/// slow every pick until vacuum removes them). Failures are logged only.
pub(super) async fn tune_for_postgres(db: &Db) {
    for table in [
        "stowage_messages",
        "stowage_dedup",
        "stowage_receive_attempts",
    ] {
        let sql = format!(
            "ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.01, \
             autovacuum_vacuum_insert_scale_factor = 0.01, \
             autovacuum_analyze_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0)"
        );
        if let Err(error) = db.execute(&sql, &[]).await {
            tracing::warn!(%error, table, "could not set the table's autovacuum parameters");
        }
    }
}

/// Errors a concurrent migration can cause are races; the rest fail.
fn race(error: tokio_postgres::Error) -> MigrateError {
    let racy = [
        SqlState::UNIQUE_VIOLATION,
        SqlState::DUPLICATE_TABLE,
        SqlState::DUPLICATE_OBJECT,
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
    ];
    match error.code() {
        Some(code) if racy.contains(code) => Race(error.to_string()),
        // No SQLSTATE: the connection was lost; nothing was committed.
        None => Race(error.to_string()),
        _ => Fail(StoreError::Internal(format!("schema migration: {error}"))),
    }
}
