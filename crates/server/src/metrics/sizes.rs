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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::formatting::{
    sanitize_label_value, write_help_line, write_metric_line, write_type_line,
};

use super::names::{QUEUE_SENT_SIZE, SENT_SIZE_BUCKETS};

/// How long an entry whose queue no engine renders is kept.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(600);

/// One queue's distribution. Sends update it with atomic adds under the
/// table's read lock; only a render (write lock) touches `absent_since`.
#[derive(Debug, Default)]
struct SizeHistogram {
    /// Non-cumulative count per bucket of [`SENT_SIZE_BUCKETS`]; the last slot
    /// counts sizes above the largest bound. The total count is their sum, so
    /// a render never shows a `+Inf` bucket that disagrees with the others.
    counts: [AtomicU64; SENT_SIZE_BUCKETS.len() + 1],
    /// Sum of all sizes, bytes.
    sum: AtomicU64,
    /// Set by every record: the queue was in use since the last render.
    recorded: AtomicBool,
    /// When a render first found the queue missing (and no record came since).
    absent_since: Option<Instant>,
}

impl SizeHistogram {
    fn record(&self, size: u64) {
        let slot = SENT_SIZE_BUCKETS
            .iter()
            .position(|bound| size as f64 <= *bound)
            .unwrap_or(SENT_SIZE_BUCKETS.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(size, Ordering::Relaxed);
    }
}

/// account → queue → histogram. Nested so that a send looks its queue up
/// with borrowed names (no key allocation once the queue has an entry).
type Table = BTreeMap<String, BTreeMap<String, SizeHistogram>>;

/// The table of every queue's histogram. One per process ([`TABLE`]); tests
/// make their own. Sends take only the read lock (shared, never waiting on
/// one another); the first send to a queue and renders take the write lock.
#[derive(Debug, Default)]
pub(crate) struct SizeTable(RwLock<Table>);

/// The process's table.
pub(crate) static TABLE: SizeTable = SizeTable(RwLock::new(BTreeMap::new()));

impl SizeTable {
    /// Records the sizes of messages accepted by one send call.
    pub(crate) fn record(
        &self,
        account: &str,
        queue: &str,
        sizes: impl IntoIterator<Item = usize>,
    ) {
        let record_all = |h: &SizeHistogram| {
            for size in sizes {
                h.record(u64::try_from(size).unwrap_or(u64::MAX));
            }
            h.recorded.store(true, Ordering::Relaxed);
        };
        {
            let table = self.0.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(h) = table.get(account).and_then(|queues| queues.get(queue)) {
                record_all(h);
                return;
            }
        }
        let mut table = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let h = table
            .entry(account.to_owned())
            .or_default()
            .entry(queue.to_owned())
            .or_default();
        record_all(h);
    }

    /// Appends the family for the queues in `present` (account, queue) to
    /// `out`, and ages out entries of queues not present.
    pub(crate) fn render(&self, out: &mut String, present: &HashSet<(&str, &str)>, now: Instant) {
        let mut table = self.0.write().unwrap_or_else(PoisonError::into_inner);
        for (account, queues) in table.iter_mut() {
            queues.retain(|queue, h| {
                let recorded = h.recorded.swap(false, Ordering::Relaxed);
                if recorded || present.contains(&(account.as_str(), queue.as_str())) {
                    h.absent_since = None;
                    return true;
                }
                let since = *h.absent_since.get_or_insert(now);
                now.saturating_duration_since(since) < FORGET_AFTER
            });
        }
        table.retain(|_, queues| !queues.is_empty());
        let mut header = false;
        for (account, queues) in table.iter() {
            for (queue, h) in queues {
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
    let counts: Vec<u64> = h.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let total: u64 = counts.iter().sum();
    let mut cumulative = 0u64;
    for (bound, count) in SENT_SIZE_BUCKETS.iter().zip(counts.iter()) {
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
        total,
        None,
    );
    write_metric_line::<&str, u64>(
        out,
        QUEUE_SENT_SIZE,
        Some("sum"),
        &labels,
        None,
        h.sum.load(Ordering::Relaxed),
        None,
    );
    write_metric_line::<&str, u64>(
        out,
        QUEUE_SENT_SIZE,
        Some("count"),
        &labels,
        None,
        total,
        None,
    );
}
