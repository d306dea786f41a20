//! Unit tests of the storage crate. Invariant names (S1, S2, …) refer to the
//! storage section of ARCHITECTURE.md.

mod backup;
mod basic;
mod damage;
mod faults;
mod fuzz;
mod golden;
mod index;
mod liveness;
mod model;
mod recovery;
mod replay;
mod support;
