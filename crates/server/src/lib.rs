//! Stowage's SQS API over HTTP. The only crate that knows HTTP, JSON, XML,
//! SigV4 and SQS error codes.

pub mod auth;
pub mod metrics;
