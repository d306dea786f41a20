//! The actions, one module per group, as in the server's `actions/`: each
//! validates in the front, calls the store, and answers. Only `engine.rs`
//! names these modules.

pub(crate) mod ack;
pub(crate) mod admin;
pub(crate) mod move_tasks;
pub(crate) mod queues;
pub(crate) mod receive;
pub(crate) mod send;
