//! Stowage's queue engine: Amazon SQS semantics (standard and FIFO queues,
//! visibility, delays, long polling, retention, dead-letter redrive, move
//! tasks) over a [`store::QueueStore`].
//!
//! The engine speaks SQS vocabulary but no wire format: it never sees HTTP,
//! JSON, XML or SQS error *codes* (the server maps [`EngineError`] to those).
//! It reads time only through [`Clock`]. Above the store boundary (the
//! front): validation, MD5s, receipt handles, policies, long polls, counters
//! — `engine.rs` (the facade), `front.rs`, `actions/`, `background.rs`.
//! Below it: [`store::embedded`] (the write-ahead log of `storage`, one
//! node) or another [`store::QueueStore`].

pub mod clock;
pub mod config;
pub mod error;
pub mod store;
pub mod types;

mod actions;
mod attributes;
mod background;
mod engine;
mod front;
mod limits;
mod md5;
mod move_task;
mod policy;
mod receipt;
mod validate;

#[cfg(test)]
mod tests;

pub use attributes::READ_ONLY as READ_ONLY_QUEUE_ATTRIBUTES;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::EngineConfig;
pub use engine::Engine;
pub use error::EngineError;
pub use types::*;
