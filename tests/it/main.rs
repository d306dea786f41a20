//! The black-box integration suite: real clients (aws-sdk-sqs, boto3 over JSON, an old
//! botocore over Query/XML, the aws CLI) against the real `stowage` binary, which every test
//! starts on `127.0.0.1:0` with its own temporary data directory and stops by PID. With
//! `STOWAGE_TEST_BACKEND=postgres` every server keeps its queues in a fresh PostgreSQL
//! database instead (tests about the embedded store by nature print `SKIPPED on PostgreSQL`).
//!
//! Needs `cargo build --bins` first (tests/run.sh does it) and, for the Python and CLI tests,
//! the venvs from `tests/clients/setup.sh` (or `STOWAGE_SKIP_PY=1`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the failure report"
)]

mod auth;
mod aws_cli;
mod backup;
mod batches;
mod common;
mod compaction;
mod console_browser;
mod dead_letter;
mod declared;
mod deploy;
mod emulator;
mod fifo;
mod full_disk;
mod harness;
mod http2;
mod long_poll;
mod messages;
mod metrics;
mod multinode;
mod operator;
mod permissions;
mod protocol;
mod python_clients;
mod queues;
mod request_bodies;
mod restart;
mod visibility;
