//! `stowage queues list|stats`: every queue, or every queue with its counts,
//! the age of its oldest message and whether it is a dead-letter queue.

use std::io::Write;

use serde::Deserialize;

use super::{CliError, Connect, Run, Target};
use crate::admin::ops::{QueueStats, Request};

/// `stowage queues …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to show.
    #[command(subcommand)]
    pub what: What,
    #[command(flatten)]
    connect: Connect,
}

/// `list` or `stats`.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum What {
    /// One line per queue: ACCOUNT/NAME.
    List,
    /// Messages visible, in flight and delayed, oldest message age, DLQ flag.
    Stats {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Deserialize)]
struct Answer {
    queues: Vec<QueueStats>,
}

impl Run for Args {
    fn connect(&self) -> &Connect {
        &self.connect
    }

    async fn run(self, target: &Target, out: &mut dyn Write) -> Result<(), CliError> {
        let Answer { queues } = target.call(Request::ListQueues).await?;
        match self.what {
            What::List => {
                for q in &queues {
                    writeln!(out, "{}/{}", q.account, q.name)?;
                }
            }
            What::Stats { json: true } => {
                for q in &queues {
                    writeln!(out, "{}", serde_json::to_string(q)?)?;
                }
            }
            What::Stats { json: false } => {
                let width = queues
                    .iter()
                    .map(|q| q.account.len() + q.name.len() + 1)
                    .max()
                    .unwrap_or(5)
                    .max(5);
                writeln!(
                    out,
                    "{:<width$}  {:>9}  {:>9}  {:>9}  {:>14}  DLQ",
                    "QUEUE", "VISIBLE", "IN_FLIGHT", "DELAYED", "OLDEST_AGE_S"
                )?;
                for q in &queues {
                    writeln!(
                        out,
                        "{:<width$}  {:>9}  {:>9}  {:>9}  {:>14}  {}",
                        format!("{}/{}", q.account, q.name),
                        q.visible,
                        q.in_flight,
                        q.delayed,
                        q.oldest_age_seconds,
                        if q.dead_letter { "yes" } else { "no" }
                    )?;
                }
            }
        }
        Ok(())
    }
}
