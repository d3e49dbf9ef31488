//! The keeper: a small process of its own that continues every process the engine holds, on
//! time, whatever happens to the daemon.
//!
//! The engine stops a process with SIGSTOP from `sys_enter` and, before it does, writes a
//! hold (pid, start time, until when) to a ring buffer of its own; where there is no room it
//! does not stop the process. The keeper reads that ring buffer directly (by the map's id),
//! so it knows of every stop, and continues each process with SIGCONT when its time is up,
//! on a timer of its own, whatever the daemon is busy with.
//!
//! - The daemon starts it (`ebph keeper`, a child in its own process group, never tracked by
//!   the engine, out of the OOM killer's reach) and talks to it over its standard input:
//!   `release PID`, `release-all`, `exit`.
//! - When the daemon is gone (standard input closes without `exit`: SIGKILL, a crash, the
//!   OOM killer), the keeper continues every held process at once, continues anything the
//!   dying engine still stops for half a second more, and exits. The daemon starts a new
//!   keeper if its keeper dies.
//! - The keeper writes down every process it holds in `STATE_DIR/holds/KEEPER_PID`
//!   ([`ledger`]). Should daemon and keeper both die at once (`kill -9` of both, the whole
//!   service killed), the next keeper to start continues every process listed by a keeper
//!   that is gone, if it is still stopped.

mod client;
pub mod ledger;
mod process;
mod serve;

pub(crate) use client::Keeper;
pub use serve::{run, Options};
