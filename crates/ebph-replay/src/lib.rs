//! Recorded system-call traces, and the pH model run on them offline.
//!
//! [`parse`] reads the three formats `ebph replay` accepts ([`Format`]): one trace per file
//! (`adfa`), `PID SYSCALL` lines (`unm`) and `strace -f -o` output (`strace`). [`inputs`]
//! turns command-line paths into the files to read. [`Replay`] trains one profile on
//! training processes, normalizes it, and tests other processes against that snapshot.

#![forbid(unsafe_code)]

mod error;
pub mod eval;
mod format;
mod inputs;
mod parse;
mod replay;

pub use error::{ParseError, ReplayError};
pub use format::Format;
pub use inputs::{inputs, read_trace_file, TraceFile};
pub use parse::{parse, Observation, Observed, ProcessTrace};
pub use replay::{Replay, Summary, TestResult, Tester};
