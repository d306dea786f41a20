//! Prometheus metrics: names, recorder setup, per-request recording.
//!
//! Contract (owned by the observability work; the HTTP layer only calls these).
#![allow(unused_variables)]

/// Records one finished API request. `outcome` is `success` or the SQS error code
/// (the modeled shape name, e.g. `QueueDoesNotExist`).
pub fn record_request(action: &'static str, outcome: &str, seconds: f64) {}

/// Long polls currently waiting (+1 when a wait starts, -1 when it ends).
pub fn long_poll_waiting(delta: f64) {}

/// HTTP requests currently being served (+1 / -1).
pub fn http_in_flight(delta: f64) {}
