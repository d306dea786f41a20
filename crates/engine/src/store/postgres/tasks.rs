//! Message move tasks: their durable state (at most one active task per
//! source across nodes, by a partial unique index), and `move_messages`,
//! which moves a batch and records the progress in one transaction.
//!
//! A step picks like a receive (FIFO: group order, locked groups skipped),
//! moves each message with a statement conditional on its epoch and on its
//! visibility, and adds the count of messages actually moved to the task
//! only while the task is still RUNNING; a cancel that commits first makes
//! the step roll back. Two nodes running the same step can therefore never
//! move a message twice nor count a move twice.

use std::collections::{BTreeMap, HashSet};

use super::codec::{self, int, status_text, TASK_COLUMNS};
use super::db::{get, transaction, DbError, Tx};
use super::receive::{move_messages as move_rows, pick, Candidate, MoveTarget};
use super::PgStore;
use crate::store::*;

/// Tasks kept per source (the most recent).
const TASKS_KEPT: i64 = 10;

/// The failure reason for a destination that does not exist.
const NON_EXISTENT_QUEUE: &str = "AWS.SimpleQueueService.NonExistentQueue";

/// Records a new RUNNING task unless the source has an active one.
pub(super) async fn start(store: &PgStore, task: MoveTask) -> Result<bool, StoreError> {
    transaction!(&store.db, |tx| async {
        let inserted = tx
            .execute(
                "INSERT INTO stowage_move_tasks (task_id, source_arn, destination_arn,
                     max_per_second, status, moved, to_move, failure_reason, started_ms)
                 VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $7, $8)
                 ON CONFLICT DO NOTHING",
                &[
                    &task.task_id,
                    &task.source_arn,
                    &task.destination_arn,
                    &task
                        .max_messages_per_second
                        .map(|r| i32::try_from(r).unwrap_or(i32::MAX)),
                    &int(task.moved),
                    &int(task.to_move),
                    &task.failure_reason,
                    &int(task.started_ms),
                ],
            )
            .await?;
        if inserted == 0 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM stowage_move_tasks
             WHERE source_arn = $1 AND status NOT IN ('RUNNING', 'CANCELLING')
               AND task_id NOT IN (
                   SELECT task_id FROM stowage_move_tasks WHERE source_arn = $1
                   ORDER BY started_ms DESC, task_id DESC LIMIT $2)",
            &[&task.source_arn, &TASKS_KEPT],
        )
        .await?;
        Ok(true)
    }
    .await)
}

/// Replaces a task's state if its status is still `expected`.
pub(super) async fn update(
    store: &PgStore,
    task: MoveTask,
    expected: MoveTaskStatus,
) -> Result<bool, StoreError> {
    let rows = store
        .db
        .query(
            "UPDATE stowage_move_tasks SET destination_arn = $3, max_per_second = $4, status = $5,
                 moved = $6, to_move = $7, failure_reason = $8, started_ms = $9
             WHERE task_id = $1 AND status = $2
             RETURNING task_id",
            &[
                &task.task_id,
                &status_text(expected),
                &task.destination_arn,
                &task
                    .max_messages_per_second
                    .map(|r| i32::try_from(r).unwrap_or(i32::MAX)),
                &status_text(task.status),
                &int(task.moved),
                &int(task.to_move),
                &task.failure_reason,
                &int(task.started_ms),
            ],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Tasks of a source (or all), most recent first.
pub(super) async fn list(
    store: &PgStore,
    source_arn: Option<&str>,
) -> Result<Vec<MoveTask>, StoreError> {
    let rows = store
        .db
        .query(
            &format!(
                "SELECT {TASK_COLUMNS} FROM stowage_move_tasks
                 WHERE ($1::text IS NULL OR source_arn = $1)
                 ORDER BY started_ms DESC, task_id DESC"
            ),
            &[&source_arn],
        )
        .await?;
    Ok(rows
        .iter()
        .map(codec::task)
        .collect::<Result<Vec<_>, DbError>>()?)
}

/// A queue named by ARN: `(queue_id, fifo)` when it exists.
async fn queue_by_arn(tx: &Tx<'_>, arn: &str) -> Result<Option<(QueueId, bool)>, DbError> {
    // arn:aws:sqs:<region>:<account>:<name>
    let mut parts = arn.rsplitn(3, ':');
    let (Some(name), Some(account)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let row = tx
        .query_opt(
            "SELECT queue_id, fifo FROM stowage_queues WHERE account = $1 AND name = $2",
            &[&account, &name],
        )
        .await?;
    row.map(|row| Ok((codec::uint(get(&row, "queue_id")?)?, get(&row, "fifo")?)))
        .transpose()
}

/// One step of a RUNNING task: moves up to `max` visible messages of
/// `source` and adds them to the task's progress, atomically.
pub(super) async fn move_messages(
    store: &PgStore,
    task_id: &str,
    source: &QueueCtx,
    destination: &MoveDestination,
    max: usize,
    now_ms: u64,
) -> Result<MoveStep, StoreError> {
    let step = transaction!(&store.db, |tx| step(
        &tx,
        task_id,
        source,
        destination,
        max,
        now_ms
    )
    .await)?;
    for queue in &step.1 {
        store.wakeups.committed(*queue);
    }
    Ok(step.0)
}

async fn step(
    tx: &Tx<'_>,
    task_id: &str,
    source: &QueueCtx,
    destination: &MoveDestination,
    max: usize,
    now_ms: u64,
) -> Result<(MoveStep, Vec<QueueId>), DbError> {
    let idle = |drained| MoveStep {
        moved: 0,
        source_drained: drained,
        failure: None,
    };
    let running = tx
        .query_opt(
            "SELECT 1 FROM stowage_move_tasks WHERE task_id = $1 AND status = 'RUNNING'",
            &[&task_id],
        )
        .await?;
    if running.is_none() || max == 0 {
        return Ok((idle(false), vec![]));
    }
    let picked = pick(tx, source, max, now_ms, None, false).await?;
    if picked.candidates.is_empty() {
        return Ok((idle(true), vec![]));
    }
    // Destination of each candidate, in pick order.
    let mut groups: BTreeMap<QueueId, (bool, Vec<&Candidate>)> = BTreeMap::new();
    let mut failure = None;
    for c in &picked.candidates {
        let target = match destination {
            MoveDestination::Queue(ctx) => Some((ctx.queue_id, ctx.fifo)),
            MoveDestination::OriginalSource => match &c.dead_letter_source_arn {
                Some(arn) => queue_by_arn(tx, arn).await?,
                None => None,
            },
        };
        match target {
            Some((queue_id, fifo)) if queue_id != source.queue_id && fifo == source.fifo => {
                groups.entry(queue_id).or_insert((fifo, vec![])).1.push(c);
            }
            _ => {
                failure = Some(NON_EXISTENT_QUEUE.to_string());
                break;
            }
        }
    }
    let mut moved: HashSet<MessageId> = HashSet::new();
    let mut woken = Vec::new();
    for (queue_id, (fifo, candidates)) in &groups {
        let target = MoveTarget {
            queue_id: *queue_id,
            fifo: *fifo,
            dead_letter_source_arn: None,
        };
        match move_rows(tx, source.queue_id, &target, candidates, now_ms).await? {
            Some(ids) => {
                if !ids.is_empty() {
                    woken.push(*queue_id);
                }
                moved.extend(ids);
            }
            None => {
                failure = Some(NON_EXISTENT_QUEUE.to_string());
            }
        }
    }
    let counted = tx
        .execute(
            "UPDATE stowage_move_tasks SET moved = moved + $2
             WHERE task_id = $1 AND status = 'RUNNING'",
            &[&task_id, &(moved.len() as i64)],
        )
        .await?;
    if counted == 0 {
        // Cancelled meanwhile: nothing of this step happens.
        tx.roll_back_at_end();
        return Ok((idle(false), vec![]));
    }
    Ok((
        MoveStep {
            moved: moved.len() as u64,
            source_drained: false,
            failure,
        },
        woken,
    ))
}
