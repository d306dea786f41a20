//! Stowage's queue engine: Amazon SQS semantics (standard and FIFO queues,
//! visibility, delays, long polling, retention, dead-letter redrive, move
//! tasks) on top of the `storage` log.
//!
//! The engine speaks SQS vocabulary but no wire format: it never sees HTTP,
//! JSON, XML or SQS error *codes* (the server maps [`EngineError`] to those).
//! It reads time only through [`Clock`] and touches files only through
//! `storage`.

pub mod api;
pub mod clock;
pub mod config;
pub mod error;
pub mod store;

mod ack;
mod admin;
mod attributes;
mod compaction;
mod fifo;
mod limits;
mod md5;
mod messages;
mod policy;
mod queue;
mod queues;
mod receipt;
mod receive;
mod redrive;
mod registry;
mod replay;
mod send;
mod shared;
mod timers;
mod validate;

#[cfg(test)]
mod tests;

pub use admin::{PeekState, PeekedMessage};
pub use api::*;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::EngineConfig;
pub use error::EngineError;
