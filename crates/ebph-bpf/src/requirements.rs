//! What the engine needs of the kernel, checked one by one when loading fails, so that an
//! administrator on an older kernel is told what is missing instead of a verifier's errno.
//! Each check creates the map or loads a program that uses the helper (libbpf's probes):
//! features are found out by loading, never by version numbers.

use libbpf_rs::libbpf_sys;
use libbpf_rs::{MapType, ProgramType};

/// The oldest Linux release that has everything in [`REQUIREMENTS`]. The oldest kernel the
/// kernel matrix runs ebph on is Debian 12's 6.1.
pub const MINIMUM_LINUX: &str = "5.17";

/// One thing the engine needs, and the Linux release that brought it.
struct Requirement {
    what: &'static str,
    since: &'static str,
    present: fn() -> libbpf_rs::Result<bool>,
}

const REQUIREMENTS: [Requirement; 3] = [
    Requirement {
        what: "ring buffer maps",
        since: "5.8",
        present: || MapType::RingBuf.is_supported(),
    },
    Requirement {
        what: "task storage maps",
        since: "5.11",
        present: || MapType::TaskStorage.is_supported(),
    },
    Requirement {
        what: "the bpf_loop helper",
        since: "5.17",
        present: || ProgramType::RawTracepoint.is_helper_supported(libbpf_sys::BPF_FUNC_loop),
    },
];

/// What this kernel lacks of what the engine needs, e.g. `task storage maps (Linux 5.11)`.
/// A check that cannot run counts as present: only a clear "no" is reported. Needs root.
pub fn missing_requirements() -> Vec<String> {
    REQUIREMENTS
        .iter()
        .filter(|r| matches!((r.present)(), Ok(false)))
        .map(|r| format!("{} (Linux {})", r.what, r.since))
        .collect()
}

/// The running kernel's release, as `uname -r` prints it.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}
