//! Whether this kernel lets ebph refuse an exec with BPF-LSM, found out by loading,
//! attaching and running a probe program: feature probes that do not load are not to be
//! trusted, and where `bpf` is not among the kernel's active LSMs an LSM program loads and
//! attaches but is never called.

use std::mem::MaybeUninit;
use std::process::{Command, Stdio};

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::OpenObject;

/// Where the kernel lists its active LSMs (securityfs).
const ACTIVE_LSMS: &str = "/sys/kernel/security/lsm";

/// Whether ebph can use BPF-LSM on this kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BpfLsm {
    /// BPF-LSM programs load, attach and are called.
    Available,
    /// They cannot be used here; the reason, in words for an administrator.
    Unavailable(String),
}

impl BpfLsm {
    /// Whether BPF-LSM can be used.
    pub fn is_available(&self) -> bool {
        matches!(self, BpfLsm::Available)
    }

    /// Why BPF-LSM cannot be used, if it cannot.
    pub fn reason(&self) -> Option<&str> {
        match self {
            BpfLsm::Available => None,
            BpfLsm::Unavailable(why) => Some(why),
        }
    }
}

/// The kernel's active LSMs, when securityfs is mounted.
fn active_lsms() -> Option<String> {
    std::fs::read_to_string(ACTIVE_LSMS)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// What to tell an administrator whose kernel does not run `bpf` among its LSMs.
fn not_active(lsms: &str) -> String {
    format!(
        "bpf is not among the kernel's active LSMs ({lsms}); add it to the kernel's command line: lsm={lsms},bpf"
    )
}

/// Loads, attaches and exercises the probe.
pub(crate) fn probe() -> BpfLsm {
    // A refusal is an answer here, not an error: keep libbpf from printing one.
    let print = libbpf_rs::set_print(None);
    let found = probe_quietly();
    libbpf_rs::set_print(print);
    found
}

fn probe_quietly() -> BpfLsm {
    let lsms = active_lsms();
    let hint = match &lsms {
        Some(l) if !l.split(',').any(|m| m == "bpf") => format!("; {}", not_active(l)),
        _ => String::new(),
    };
    let object: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
    let open = match crate::lsm_probe_skel::LsmProbeSkelBuilder::default().open(object) {
        Ok(open) => open,
        Err(e) => return BpfLsm::Unavailable(format!("opening the BPF-LSM probe failed: {e}")),
    };
    let mut skel = match open.load() {
        Ok(skel) => skel,
        Err(e) => {
            return BpfLsm::Unavailable(format!(
                "the kernel refused to load a BPF-LSM program ({e}){hint}"
            ))
        }
    };
    if let Err(e) = skel.attach() {
        return BpfLsm::Unavailable(format!(
            "the kernel refused to attach a BPF-LSM program ({e}){hint}"
        ));
    }
    // One exec of our own, which the attached program must see.
    let ran = Command::new("/bin/true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(e) = ran {
        return BpfLsm::Unavailable(format!(
            "could not run /bin/true to check that BPF-LSM programs are called: {e}"
        ));
    }
    let calls = skel.maps.bss_data.as_deref().map_or(0, |bss| bss.calls);
    if calls > 0 {
        return BpfLsm::Available;
    }
    BpfLsm::Unavailable(match lsms {
        Some(l) => format!("BPF-LSM programs load here but are never called: {}", not_active(&l)),
        None => format!(
            "BPF-LSM programs load here but are never called: bpf is not among the kernel's active LSMs (see {ACTIVE_LSMS}); add bpf to the kernel's lsm= command-line parameter"
        ),
    })
}
