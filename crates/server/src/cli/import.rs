//! `stowage import FILE`: reads an export file (JSON lines, version 1) and
//! creates its queues (when missing) and sends its messages, in file order.
//! Messages get new ids and SentTimestamps; body, message attributes,
//! SenderId, AWSTraceHeader, MessageGroupId and MessageDeduplicationId are
//! kept (a FIFO queue drops a message whose deduplication id it saw in the
//! last 5 minutes, so importing the same file twice at once adds nothing).
//! RedrivePolicies are set last, once every dead-letter queue exists.

use std::io::{BufRead, Write};

use serde_json::Value;

use super::{CliError, Connect, Run, Target};
use crate::admin::export_format::{Line, MessageLine, QueueLine};
use crate::admin::ops::Request;

/// `stowage import …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export file (`-`: stdin).
    pub file: std::path::PathBuf,
    #[command(flatten)]
    connect: Connect,
}

/// Lines per ImportMessages call, and their JSON size.
const CHUNK_LINES: usize = 500;
const CHUNK_BYTES: usize = 2 * 1024 * 1024;

async fn flush(
    target: &Target,
    chunk: &mut Vec<MessageLine>,
    sent: &mut u64,
) -> Result<(), CliError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let answer: Value = target
        .call(Request::ImportMessages {
            lines: std::mem::take(chunk),
        })
        .await?;
    *sent += answer.get("sent").and_then(Value::as_u64).unwrap_or(0);
    Ok(())
}

impl Run for Args {
    fn connect(&self) -> &Connect {
        &self.connect
    }

    async fn run(self, target: &Target, out: &mut dyn Write) -> Result<(), CliError> {
        let reader: Box<dyn BufRead> = if self.file.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(std::fs::File::open(&self.file)?))
        };
        let mut queues: Vec<QueueLine> = Vec::new();
        let mut created = 0u64;
        let mut sent = 0u64;
        let mut chunk: Vec<MessageLine> = Vec::new();
        let mut chunk_bytes = 0usize;
        let mut saw_header = false;
        for (index, text) in reader.lines().enumerate() {
            let text = text?;
            if text.trim().is_empty() {
                continue;
            }
            let number = index + 1;
            let line: Line = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("line {number}: {e}")))?;
            match line {
                Line::Header(h) => {
                    h.check()
                        .map_err(|e| CliError::Usage(format!("line {number}: {e}")))?;
                    saw_header = true;
                }
                _ if !saw_header => {
                    return Err(CliError::Usage(
                        "line 1 is not an export header ({\"type\":\"header\",…})".into(),
                    ))
                }
                Line::Queue(q) => {
                    flush(target, &mut chunk, &mut sent).await?;
                    chunk_bytes = 0;
                    let answer: Value = target
                        .call(Request::ImportQueue {
                            line: q.clone(),
                            redrive_policy: false,
                        })
                        .await?;
                    if answer.get("created").and_then(Value::as_bool) == Some(true) {
                        created += 1;
                    }
                    queues.push(q);
                }
                Line::Message(m) => {
                    chunk_bytes += text.len();
                    chunk.push(m);
                    if chunk.len() >= CHUNK_LINES || chunk_bytes >= CHUNK_BYTES {
                        flush(target, &mut chunk, &mut sent).await?;
                        chunk_bytes = 0;
                    }
                }
            }
        }
        flush(target, &mut chunk, &mut sent).await?;
        for q in queues
            .iter()
            .filter(|q| q.attributes.contains_key("RedrivePolicy"))
        {
            let _: Value = target
                .call(Request::ImportQueue {
                    line: q.clone(),
                    redrive_policy: true,
                })
                .await?;
        }
        writeln!(
            out,
            "imported {} queues ({created} created), {sent} messages",
            queues.len()
        )?;
        Ok(())
    }
}
