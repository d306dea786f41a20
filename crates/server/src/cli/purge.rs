//! `stowage purge QUEUE`: PurgeQueue (SQS's once-per-60-s rule applies unless
//! `engine.strict_timing = false`).

use std::io::Write;

use serde_json::Value;

use super::{CliError, Connect, Run, Target};
use crate::admin::ops::Request;

/// `stowage purge …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The queue: NAME, ACCOUNT/NAME or its URL.
    pub queue: String,
    #[command(flatten)]
    connect: Connect,
}

impl Run for Args {
    fn connect(&self) -> &Connect {
        &self.connect
    }

    async fn run(self, target: &Target, out: &mut dyn Write) -> Result<(), CliError> {
        let answer: Value = target
            .call(Request::Purge {
                queue: self.queue.clone(),
            })
            .await?;
        let name = answer
            .get("purged")
            .and_then(Value::as_str)
            .unwrap_or_default();
        writeln!(out, "purged {name}")?;
        Ok(())
    }
}
