//! The in-kernel pH engine of ebph, and its safe Rust loader.
//!
//! The BPF program (`src/bpf/ebph.bpf.c`, CO-RE, built by `build.rs`) runs pH on
//! `tp_btf/sys_enter` for every task that exec'd after it was attached (and their children),
//! keeps profiles in array maps and per-task state in task storage, and reports rare events
//! through a ring buffer. [`Engine`] loads it, sizes its maps ([`Capacity`]), attaches it,
//! writes its [`Settings`](ebph_core::Settings), reads its profiles back as
//! [`ebph_core::Profile`]s and runs the admin operations.
//!
//! Everything here needs root (CAP_BPF and CAP_PERFMON) and a kernel with BTF.

mod abi;
mod clock;
mod engine;
mod error;
mod floor;
mod holds;
mod layout;
mod lsm;
mod requirements;
mod running;

pub use abi::{Event, EventType, Record, RecordKind, Stats};
pub use clock::{boot_now_ns, boot_ns_of, unix_ns_of, wall_time};
pub use engine::{AdminOp, Capacity, Engine, EventSource, ProfileUse, Subscription, TaskInfo};
pub use error::EngineError;
pub use floor::Floor;
pub use holds::{Hold, Holds};
pub use lsm::BpfLsm;
pub use requirements::{kernel_release, missing_requirements, MINIMUM_LINUX};

#[allow(unsafe_code, clippy::all, missing_docs, unused, non_camel_case_types)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/ebph.skel.rs"));
}

#[allow(unsafe_code, clippy::all, missing_docs, unused, non_camel_case_types)]
mod lsm_probe_skel {
    include!(concat!(env!("OUT_DIR"), "/lsm_probe.skel.rs"));
}

#[allow(unsafe_code, clippy::all, missing_docs, unused, non_camel_case_types)]
mod layout_skel {
    include!(concat!(env!("OUT_DIR"), "/layout.skel.rs"));
}

#[allow(unsafe_code, clippy::all, missing_docs, unused, non_camel_case_types)]
mod floor_skel {
    include!(concat!(env!("OUT_DIR"), "/floor.skel.rs"));
}
