//! The pH model of ebph, in plain Rust.
//!
//! This crate is the normative, executable description of the algorithm that ebph runs in the
//! kernel: per-executable [`Profile`]s of lookahead pairs and n-grams ([`ngram`]), the per-task [`TaskState`] (a window
//! of recent calls for each signal frame, and a [`LocalityFrame`]), and every state transition
//! (learning, freezing, becoming normal, anomalies, leaving normal, the tolerize limit) together
//! with the administrative operations normalize, sensitize and tolerize.
//!
//! It does no I/O and contains no `unsafe` code. It is used offline by `ebph replay` on
//! recorded traces, and as the oracle that the kernel engine is tested against.
//!
//! # Example
//!
//! ```
//! use ebph_core::{Profile, Settings, Syscall, TaskState};
//!
//! let settings = Settings::default();
//! let mut profile = Profile::new();
//! let calls: Vec<Syscall> = [0u16, 1, 2, 3].iter().map(|&n| Syscall::new(n).unwrap()).collect();
//!
//! // Train on one run of the program...
//! let mut task = TaskState::new();
//! for &call in &calls {
//!     profile.on_call(&mut task, call, 0, &settings);
//! }
//! profile.normalize();
//!
//! // ...then the same run again is entirely normal.
//! let mut task = TaskState::new();
//! let anomalous = calls.iter().filter(|&&c| profile.detect(&mut task, c, &settings).is_anomalous()).count();
//! assert_eq!(anomalous, 0);
//! ```

#![forbid(unsafe_code)]

mod endpoint;
mod exec;
mod heap;
mod key;
mod locality;
mod lookahead;
mod model;
pub mod ngram;
mod profile;
mod response;
mod sequence;
mod settings;
mod syscall;
mod task;

pub use endpoint::{
    endpoint_direction, AddressClass, Direction, Endpoint, EndpointError, Family, ENDPOINTS_LISTED,
    ENDPOINT_ROW,
};
pub use exec::{exec_bits, EXEC_ROW};
pub use heap::{is_heap_mmap, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, PROT_EXEC};
pub use key::{ProfileKey, ProfileKeyError};
pub use locality::{LocalityFrame, LOCALITY_FRAME_MAX};
pub use lookahead::{LookaheadTable, Row, ROW_BYTES};
pub use model::{Model, ModelEvent, Tid};
pub use ngram::{
    ngram_bits, Detector, NgramBitmap, NGRAM_BITS, NGRAM_BYTES, NGRAM_MAX, OLD_NGRAM_BITS,
};
pub use profile::{
    CallOutcome, Detection, NoveltyOutcome, Profile, ProfileStatus, NORMAL_CHECK_INTERVAL,
};
pub use response::{delay_for, execve_allowed};
pub use sequence::{Sequence, LOOKAHEAD, WINDOW_MAX};
pub use settings::{
    ResponseMode, SettingInfo, Settings, SettingsError, ACCEPT_AFTER_MAX, DEFAULT_ACCEPT_AFTER,
    DEFAULT_DELAY_THRESHOLD, FOLD_LOOPS_ON, FOLD_MAX, SETTINGS,
};
pub use syscall::{Arch, ArchParseError, Syscall, MAX_SYSCALLS};
pub use task::{Run, TaskState, SIGNAL_FRAMES};
