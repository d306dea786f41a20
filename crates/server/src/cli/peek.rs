//! `stowage peek QUEUE [-n N]`: shows messages without receiving them — no
//! visibility change, no receive count, nothing written.

use std::io::Write;

use serde::Deserialize;

use super::{CliError, Connect, Run, Target};
use crate::admin::export_format::MessageLine;
use crate::admin::ops::Request;

/// `stowage peek …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The queue: NAME, ACCOUNT/NAME or its URL.
    pub queue: String,
    /// How many messages (from the head of the queue).
    #[arg(short = 'n', long = "count", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
    /// One JSON object per message (the export format's message lines).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    connect: Connect,
}

#[derive(Deserialize)]
pub(crate) struct Page {
    pub(crate) messages: Vec<MessageLine>,
    pub(crate) next: Option<String>,
}

/// Longest body excerpt in the table view, in characters.
const EXCERPT_CHARS: usize = 60;

impl Run for Args {
    fn connect(&self) -> &Connect {
        &self.connect
    }

    async fn run(self, target: &Target, out: &mut dyn Write) -> Result<(), CliError> {
        let page: Page = target
            .call(Request::Peek {
                queue: self.queue.clone(),
                max: usize::from(self.count),
                after: None,
            })
            .await?;
        if self.json {
            for m in &page.messages {
                writeln!(out, "{}", serde_json::to_string(m)?)?;
            }
            return Ok(());
        }
        writeln!(
            out,
            "{:<36}  {:<9}  {:>8}  {:>13}  BODY",
            "MESSAGE_ID", "STATE", "RECEIVES", "SENT_MS"
        )?;
        for m in &page.messages {
            let attr = |name: &str| m.attributes.get(name).map_or("-", String::as_str);
            let mut excerpt: String = m.body.chars().take(EXCERPT_CHARS).collect();
            if m.body.chars().count() > EXCERPT_CHARS {
                excerpt.push('…');
            }
            writeln!(
                out,
                "{:<36}  {:<9}  {:>8}  {:>13}  {}",
                m.message_id,
                m.state,
                attr("ApproximateReceiveCount"),
                attr("SentTimestamp"),
                excerpt.escape_debug()
            )?;
        }
        Ok(())
    }
}
