//! Subcommands of the `stowage` binary other than serving, one module each.

pub(crate) mod check;
