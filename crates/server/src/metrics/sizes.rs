//! The per-queue sent-message-size histogram.
//!
//! The engine counts messages and bytes but keeps no distribution, so the
//! server records each accepted message's size here. The exporter's registry
//! cannot forget one label set, and a deleted queue's series must vanish, so
//! this family lives in its own small table (fixed buckets) and is rendered
//! with the exporter's `formatting` helpers, only for queues the engine still
//! has. Entries of queues that are gone are dropped after [`FORGET_AFTER`]
//! (not at once: several engines may share one process in tests, and each
//! render sees only its own queues).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::formatting::{
    sanitize_label_value, write_help_line, write_metric_line, write_type_line,
};

use super::names::{QUEUE_SENT_SIZE, SENT_SIZE_BUCKETS};

/// How long an entry whose queue no engine renders is kept.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(600);

/// (account, queue).
type QueueKey = (String, String);

/// One queue's distribution.
#[derive(Debug, Default)]
struct SizeHistogram {
    /// Non-cumulative count per bucket of [`SENT_SIZE_BUCKETS`]; the last slot
    /// counts sizes above the largest bound.
    counts: [u64; SENT_SIZE_BUCKETS.len() + 1],
    /// Sum of all sizes, bytes.
    sum: u64,
    /// Number of sizes.
    count: u64,
    /// When a render first found the queue missing.
    absent_since: Option<Instant>,
}

impl SizeHistogram {
    fn record(&mut self, size: u64) {
        let slot = SENT_SIZE_BUCKETS
            .iter()
            .position(|bound| size as f64 <= *bound)
            .unwrap_or(SENT_SIZE_BUCKETS.len());
        if let Some(c) = self.counts.get_mut(slot) {
            *c += 1;
        }
        self.sum = self.sum.saturating_add(size);
        self.count += 1;
        self.absent_since = None;
    }
}

/// The table of every queue's histogram. One per process ([`TABLE`]); tests
/// make their own.
#[derive(Debug, Default)]
pub(crate) struct SizeTable(Mutex<BTreeMap<QueueKey, SizeHistogram>>);

/// The process's table.
pub(crate) static TABLE: SizeTable = SizeTable(Mutex::new(BTreeMap::new()));

impl SizeTable {
    /// Records the sizes of messages accepted by one send call.
    pub(crate) fn record(
        &self,
        account: &str,
        queue: &str,
        sizes: impl IntoIterator<Item = usize>,
    ) {
        let mut table = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = table
            .entry((account.to_owned(), queue.to_owned()))
            .or_default();
        for size in sizes {
            entry.record(u64::try_from(size).unwrap_or(u64::MAX));
        }
    }

    /// Appends the family for the queues in `present` (account, queue) to
    /// `out`, and ages out entries of queues not present.
    pub(crate) fn render(&self, out: &mut String, present: &HashSet<(&str, &str)>, now: Instant) {
        let mut table = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        table.retain(|(account, queue), h| {
            if present.contains(&(account.as_str(), queue.as_str())) {
                h.absent_since = None;
                return true;
            }
            let since = *h.absent_since.get_or_insert(now);
            now.saturating_duration_since(since) < FORGET_AFTER
        });
        let mut header = false;
        for ((account, queue), h) in table.iter() {
            if !present.contains(&(account.as_str(), queue.as_str())) {
                continue;
            }
            if !header {
                write_help_line(
                    out,
                    QUEUE_SENT_SIZE,
                    "Size of sent messages (body and attributes), bytes.",
                );
                write_type_line(out, QUEUE_SENT_SIZE, "histogram");
                header = true;
            }
            write_histogram(out, account, queue, h);
        }
        if header {
            out.push('\n');
        }
    }
}

fn write_histogram(out: &mut String, account: &str, queue: &str, h: &SizeHistogram) {
    let labels = [
        format!("queue=\"{}\"", sanitize_label_value(queue)),
        format!("account=\"{}\"", sanitize_label_value(account)),
    ];
    let mut cumulative = 0u64;
    for (bound, count) in SENT_SIZE_BUCKETS.iter().zip(h.counts.iter()) {
        cumulative += count;
        write_metric_line(
            out,
            QUEUE_SENT_SIZE,
            Some("bucket"),
            &labels,
            Some(("le", bound)),
            cumulative,
            None,
        );
    }
    write_metric_line(
        out,
        QUEUE_SENT_SIZE,
        Some("bucket"),
        &labels,
        Some(("le", "+Inf")),
        h.count,
        None,
    );
    write_metric_line::<&str, u64>(
        out,
        QUEUE_SENT_SIZE,
        Some("sum"),
        &labels,
        None,
        h.sum,
        None,
    );
    write_metric_line::<&str, u64>(
        out,
        QUEUE_SENT_SIZE,
        Some("count"),
        &labels,
        None,
        h.count,
        None,
    );
}
