//! The embedded store's list of message move tasks (≤ 10 per source queue)
//! and where each one's latest record is.

use storage::{MoveTaskState, RecordPos};

use super::records::task;
use crate::store::{MoveTask, MoveTaskStatus};

/// One task and the position of its latest record.
#[derive(Debug, Clone)]
pub(super) struct TaskEntry {
    /// Its state.
    pub(super) task: MoveTask,
    /// Its latest MoveTaskUpdated record.
    pub(super) pos: RecordPos,
}

/// All known tasks (≤ 10 per source queue), oldest first.
#[derive(Debug, Default)]
pub(super) struct MoveTasks {
    /// Tasks, oldest first.
    pub(super) tasks: Vec<TaskEntry>,
}

impl MoveTasks {
    /// Replay: the latest state of a task; returns the superseded position.
    pub(super) fn upsert(&mut self, state: MoveTaskState, pos: RecordPos) -> Option<RecordPos> {
        let new = task(state);
        if let Some(entry) = self.get_mut(&new.task_id) {
            let old = entry.pos;
            entry.task = new;
            entry.pos = pos;
            return Some(old);
        }
        self.tasks.push(TaskEntry { task: new, pos });
        None
    }

    /// Drops finished tasks of `source` beyond the newest `keep`; returns their positions.
    pub(super) fn prune(&mut self, source: &str, keep: usize) -> Vec<RecordPos> {
        let count = self
            .tasks
            .iter()
            .filter(|t| t.task.source_arn == source)
            .count();
        let mut excess = count.saturating_sub(keep);
        let mut released = Vec::new();
        self.tasks.retain(|t| {
            if excess > 0 && t.task.source_arn == source && t.task.status != MoveTaskStatus::Running
            {
                excess -= 1;
                released.push(t.pos);
                false
            } else {
                true
            }
        });
        released
    }

    pub(super) fn get_mut(&mut self, task_id: &str) -> Option<&mut TaskEntry> {
        self.tasks.iter_mut().find(|t| t.task.task_id == task_id)
    }
}
