//! The `stowage` binary.
fn main() {}
