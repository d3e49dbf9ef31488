//! The subcommands of `ebph`.

pub mod replay;
