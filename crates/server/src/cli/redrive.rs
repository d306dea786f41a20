//! `stowage redrive DLQ [--to QUEUE]`: moves a dead-letter queue's messages
//! back to their source queues (or to QUEUE) with a message move task, and
//! waits for it to finish.

use std::io::Write;
use std::time::Duration;

use serde::Deserialize;

use super::{CliError, Connect, Run, Target};
use crate::admin::ops::Request;

/// `stowage redrive …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dead-letter queue: NAME, ACCOUNT/NAME or its URL.
    pub queue: String,
    /// Destination queue (default: each message's source queue).
    #[arg(long, value_name = "QUEUE")]
    pub to: Option<String>,
    /// Start the move task and return without waiting for it.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    connect: Connect,
}

#[derive(Deserialize)]
struct Started {
    task_handle: String,
}

#[derive(Deserialize)]
struct TaskAnswer {
    task: Option<Task>,
}

#[derive(Deserialize)]
struct Task {
    status: String,
    moved: u64,
    failure_reason: Option<String>,
}

/// Time between two looks at the move task.
const POLL: Duration = Duration::from_millis(200);

impl Run for Args {
    fn connect(&self) -> &Connect {
        &self.connect
    }

    async fn run(self, target: &Target, out: &mut dyn Write) -> Result<(), CliError> {
        let started: Started = target
            .call(Request::Redrive {
                queue: self.queue.clone(),
                to: self.to.clone(),
            })
            .await?;
        if self.no_wait {
            writeln!(out, "started move task {}", started.task_handle)?;
            return Ok(());
        }
        loop {
            let answer: TaskAnswer = target
                .call(Request::MoveTask {
                    queue: self.queue.clone(),
                })
                .await?;
            let Some(task) = answer.task else {
                return Err(CliError::Connection("the move task disappeared".into()));
            };
            match task.status.as_str() {
                "RUNNING" | "CANCELLING" => tokio::time::sleep(POLL).await,
                "COMPLETED" => {
                    let to = self.to.as_deref().unwrap_or("their source queues");
                    writeln!(
                        out,
                        "moved {} messages from {} to {to}",
                        task.moved, self.queue
                    )?;
                    return Ok(());
                }
                other => {
                    return Err(CliError::Server {
                        code: other.to_owned(),
                        message: task
                            .failure_reason
                            .unwrap_or_else(|| format!("after moving {} messages", task.moved)),
                    })
                }
            }
        }
    }
}
