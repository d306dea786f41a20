//! The queue page's chart: an inline SVG line plot of messages sent,
//! received and deleted per bucket over the last hour, drawn on the server
//! (no script needed; the live refresh swaps in a new one). Lines differ in
//! dash pattern as well as colour, and the figure carries a text summary for
//! screen readers.

use std::fmt::Write as _;

use super::history::{Bucket, ChartData, BUCKETS, SAMPLE_INTERVAL};
use super::html::count;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 200;
const LEFT: u32 = 52;
const RIGHT: u32 = 14;
const TOP: u32 = 12;
const BOTTOM: u32 = 26;

/// One plotted series: CSS class, legend label, value of a bucket.
type Series = (&'static str, &'static str, fn(&Bucket) -> u32);

/// The three series.
const SERIES: [Series; 3] = [
    ("sent", "Sent", |b| b.sent),
    ("received", "Received", |b| b.received),
    ("deleted", "Deleted", |b| b.deleted),
];

/// The smallest 1, 2 or 5 × 10ⁿ at or above `n` (at least 1).
pub(crate) fn nice_ceiling(n: u32) -> u32 {
    let mut step: u32 = 1;
    loop {
        for m in [1u32, 2, 5] {
            let candidate = step.saturating_mul(m);
            if candidate >= n || candidate == u32::MAX {
                return candidate;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// x of slot `slot` (0 = one hour ago, [`BUCKETS`] = now).
fn x(slot: usize) -> f64 {
    let plot = f64::from(WIDTH - LEFT - RIGHT);
    f64::from(LEFT) + plot * slot as f64 / BUCKETS as f64
}

/// y of `value` on a scale whose top is `top`.
fn y(value: u32, top: u32) -> f64 {
    let plot = f64::from(HEIGHT - TOP - BOTTOM);
    f64::from(TOP) + plot - plot * f64::from(value) / f64::from(top.max(1))
}

/// The chart as an HTML `<figure>` holding the SVG.
pub(crate) fn render(data: &ChartData) -> String {
    let points: Vec<&Bucket> = data
        .buckets
        .iter()
        .chain(std::iter::once(&data.current))
        .collect();
    let first_slot = BUCKETS + 1 - points.len().min(BUCKETS + 1);
    let top = nice_ceiling(points.iter().map(|b| b.max()).max().unwrap_or(0));
    let per = SAMPLE_INTERVAL.as_secs();
    let totals: Vec<u64> = SERIES
        .iter()
        .map(|(_, _, value)| points.iter().map(|b| u64::from(value(b))).sum())
        .collect();
    let total = |i: usize| totals.get(i).copied().unwrap_or(0);
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<figure class=\"chart\"><svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"chart-title chart-desc\">\
         <title id=\"chart-title\">Messages per {per} s over the last hour</title>\
         <desc id=\"chart-desc\">In the last hour: {} sent, {} received, {} deleted; \
         the busiest {per} s saw {} messages.</desc>",
        count(total(0)),
        count(total(1)),
        count(total(2)),
        count(u64::from(points.iter().map(|b| b.max()).max().unwrap_or(0))),
    );
    // Grid and axis labels.
    for value in [0, top / 2, top] {
        let gy = y(value, top);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{gy:.1}\" y2=\"{gy:.1}\"/>\
             <text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6,
            gy + 4.0,
            count(u64::from(value))
        );
    }
    for (slot, label, anchor) in [
        (0, "60 min ago", "start"),
        (BUCKETS / 2, "30 min ago", "middle"),
        (BUCKETS, "now", "end"),
    ] {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{label}</text>",
            x(slot),
            HEIGHT - 6
        );
    }
    for (class, _, value) in SERIES {
        out.push_str("<polyline class=\"line ");
        out.push_str(class);
        out.push_str("\" points=\"");
        for (i, b) in points.iter().enumerate() {
            let _ = write!(
                out,
                "{}{:.1},{:.1}",
                if i == 0 { "" } else { " " },
                x(first_slot + i),
                y(value(b), top)
            );
        }
        out.push_str("\"/>");
        let _ = write!(
            out,
            "<circle class=\"dot {class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"/>",
            x(BUCKETS),
            y(value(&data.current), top)
        );
    }
    out.push_str("</svg><figcaption><ul class=\"legend\">");
    for (i, (class, label, _)) in SERIES.iter().enumerate() {
        let _ = write!(
            out,
            "<li><span class=\"swatch {class}\" aria-hidden=\"true\"></span>{label}: \
             <span data-total=\"{class}\">{}</span></li>",
            count(total(i))
        );
    }
    let _ = write!(
        out,
        "</ul><span class=\"hint\">messages per {per} s; the last point is the bucket being filled</span>\
         </figcaption></figure>"
    );
    out
}
