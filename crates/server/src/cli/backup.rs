//! `stowage backup DIR`: a consistent copy of the data directory, taken by
//! the process that holds it — a running broker through the admin endpoint
//! (it keeps serving), or this one on a stopped data directory — with
//! `storage::Storage::backup_to` (see `crate::admin::backup`). `DIR` must
//! not exist or be empty; against a server it is a path on the server's
//! machine, written by the server's user.

use std::io::Write;
use std::path::PathBuf;

use super::{CliError, Connect, Run, Target};
use crate::admin::backup::BackupAnswer;
use crate::admin::ops::Request;

/// `stowage backup …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A new (or empty) directory for the backup. Against a running server
    /// it is written by the server: a path on its machine (relative paths
    /// are made absolute here first).
    pub dir: PathBuf,
    /// Print the answer as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    connect: Connect,
}

impl Run for Args {
    fn connect(&self) -> &Connect {
        &self.connect
    }

    async fn run(self, target: &Target, out: &mut dyn Write) -> Result<(), CliError> {
        let dir = std::path::absolute(&self.dir)?;
        let answer: BackupAnswer = target.call(Request::Backup { dir }).await?;
        if self.json {
            writeln!(out, "{}", serde_json::to_string(&answer)?)?;
            return Ok(());
        }
        writeln!(
            out,
            "backup written to {}: every record before LSN {}, {} segment(s), {} byte(s), in {} ms",
            answer.dir.display(),
            answer.next_lsn,
            answer.segments,
            answer.bytes,
            answer.duration_ms
        )?;
        writeln!(
            out,
            "restore it with `stowage restore {} --data-dir DIR` (broker stopped), or start on it with `--data-dir {}`",
            answer.dir.display(),
            answer.dir.display()
        )?;
        Ok(())
    }
}
