//! `stowage export QUEUE… | --all`: writes queues and their messages as the
//! versioned JSON-lines format of [`crate::admin::export_format`] to stdout
//! (or `--output FILE`). Messages are read with peek: nothing is received,
//! nothing changes. Against a running server under traffic the file is a
//! moving picture (each page is consistent, the whole is not): stop the
//! producers, or export offline, for an exact copy.

use std::io::Write;

use serde::Deserialize;

use super::peek::Page;
use super::{CliError, Connect, Run, Target};
use crate::admin::export_format::{Header, Line, QueueLine};
use crate::admin::ops::{QueueStats, Request};

/// `stowage export …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Queues to export: NAME, ACCOUNT/NAME or URL.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub queues: Vec<String>,
    /// Export every queue.
    #[arg(long)]
    pub all: bool,
    /// Write here instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    #[command(flatten)]
    connect: Connect,
}

#[derive(Deserialize)]
struct Listed {
    queues: Vec<QueueStats>,
}

/// Messages per peek page.
const PAGE: usize = 500;

fn write_line(out: &mut dyn Write, line: &Line) -> Result<(), CliError> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")?;
    Ok(())
}

impl Run for Args {
    fn connect(&self) -> &Connect {
        &self.connect
    }

    async fn run(self, target: &Target, stdout: &mut dyn Write) -> Result<(), CliError> {
        let mut file;
        let out: &mut dyn Write = match &self.output {
            Some(path) => {
                file = std::io::BufWriter::new(std::fs::File::create(path)?);
                &mut file
            }
            None => stdout,
        };
        let queues: Vec<String> = if self.all {
            let listed: Listed = target.call(Request::ListQueues).await?;
            listed
                .queues
                .iter()
                .map(|q| format!("{}/{}", q.account, q.name))
                .collect()
        } else {
            self.queues.clone()
        };
        write_line(out, &Line::Header(Header::now()))?;
        let mut messages = 0usize;
        for queue in &queues {
            let line: QueueLine = target
                .call(Request::DescribeQueue {
                    queue: queue.clone(),
                })
                .await?;
            let exact = format!("{}/{}", line.account, line.name);
            write_line(out, &Line::Queue(line))?;
            let mut after = None;
            loop {
                let page: Page = target
                    .call(Request::Peek {
                        queue: exact.clone(),
                        max: PAGE,
                        after: after.take(),
                    })
                    .await?;
                messages += page.messages.len();
                for m in page.messages {
                    write_line(out, &Line::Message(m))?;
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        out.flush()?;
        eprintln!("exported {} queues, {messages} messages", queues.len());
        Ok(())
    }
}
