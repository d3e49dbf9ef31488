//! Loading, sizing and attaching the BPF program (`src/bpf/ebph.bpf.c`), and talking to it
//! afterwards: split as the C is, by concern.
//!
//! | file | what of the engine | C |
//! | --- | --- | --- |
//! | `mod.rs` | loading, sizing the maps, attaching | `ebph.bpf.c`, `state.h`'s maps |
//! | `settings.rs` | the settings, the allowlist, the daemon's pid | `state.h`'s `settings`, `respond.h` |
//! | `profiles.rs` | reading, loading and describing profiles | `struct ebph_profile`, `transitions.h` |
//! | `tables.rs` | a profile's tables: index blocks and rows | `table.h`, `pool.h` |
//! | `admin.rs` | the admin program: normalize, sensitize, tolerize, delete, allocate | `ebph_admin` |
//! | `tasks.rs` | tracked tasks: listing, releasing, associating those already running | `task.h`, `ebph_associate` |
//! | `stats.rs` | the counters | `struct ebph_stats`, `struct ebph_cpu_cache` |
//! | `rings.rs` | the ring buffers: events, holds, records | `events.h`, `respond.h`'s `holds` |

use std::mem::MaybeUninit;
use std::path::Path;

use ebph_core::Settings;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::OpenObject;

use crate::error::Context;
use crate::lsm::BpfLsm;
use crate::skel::{EbphSkel, EbphSkelBuilder};
use crate::EngineError;

mod admin;
mod profiles;
mod rings;
mod settings;
mod stats;
mod tables;
mod tasks;

pub use admin::AdminOp;
pub use profiles::ProfileUse;
pub use rings::{EventSource, Subscription};
pub use tasks::TaskInfo;

/// How much the engine can hold. Every map is sized from this at load time; when one is full
/// the engine counts it ([`Stats`]) and goes on with everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Profiles (executables).
    pub profiles: u32,
    /// Index blocks (2 KiB each): a profile needs one to train and one more while normal.
    pub indexes: u32,
    /// Table rows (768 bytes each: lookahead pairs and n-gram bitmap): one per call a program makes, twice while normal.
    pub rows: u32,
    /// Tasks (threads) tracked at once.
    pub tasks: u32,
    /// Size of the test-only recording ring buffer in bytes (a power of two); 0 = no
    /// recording.
    pub record_bytes: u32,
}

impl Default for Capacity {
    fn default() -> Capacity {
        Capacity {
            profiles: 16_384,
            indexes: 4_096,
            rows: 32_768,
            tasks: 65_536,
            record_bytes: 0,
        }
    }
}

/// The loaded BPF program and its maps.
pub struct Engine {
    skel: EbphSkel<'static>,
    capacity: Capacity,
    attached: bool,
    /// Whether BPF-LSM can be used here (and if not, why).
    bpf_lsm: BpfLsm,
    /// The BPF-LSM program that refuses execs, once attached.
    lsm_link: Option<libbpf_rs::Link>,
}

const PAGE: u32 = 4096;

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Says what the kernel lacks, when that is why the engine did not load.
fn explain_load_failure(e: EngineError) -> EngineError {
    let missing = crate::requirements::missing_requirements();
    if missing.is_empty() {
        return e;
    }
    EngineError::KernelTooOld {
        release: crate::requirements::kernel_release(),
        missing,
        minimum: crate::requirements::MINIMUM_LINUX,
    }
}

/// Refuses clearly when BPF cannot work here: not root, or no kernel BTF.
pub(crate) fn check_privileges() -> Result<(), EngineError> {
    if effective_uid() != Some(0) {
        return Err(EngineError::NotRoot);
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(EngineError::NoBtf);
    }
    Ok(())
}
impl Engine {
    /// Opens the BPF object, sizes it for `capacity`, and loads it (with the BPF-LSM program
    /// when `lsm`).
    fn open_and_load(capacity: &Capacity, lsm: bool) -> Result<EbphSkel<'static>, EngineError> {
        // The skeleton borrows its object for as long as it lives; an engine lives until the
        // process ends or it is dropped, so the (small) object is given a static home.
        let object: &'static mut MaybeUninit<OpenObject> =
            Box::leak(Box::new(MaybeUninit::uninit()));
        let mut open = EbphSkelBuilder::default()
            .open(object)
            .context("opening the BPF object")?;

        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .ok_or_else(|| EngineError::Layout("no .rodata in the BPF object".into()))?;
        rodata.max_profiles = capacity.profiles;
        rodata.max_indexes = capacity.indexes;
        rodata.max_rows = capacity.rows;
        rodata.max_tasks = capacity.tasks;
        let sizes = [
            (&mut open.maps.profiles, capacity.profiles),
            (&mut open.maps.profile_keys, capacity.profiles),
            (&mut open.maps.free_profiles, capacity.profiles),
            (&mut open.maps.indexes, capacity.indexes),
            (&mut open.maps.free_indexes, capacity.indexes),
            (&mut open.maps.rows, capacity.rows),
            (&mut open.maps.free_rows, capacity.rows),
            (&mut open.maps.task_states, capacity.tasks),
            (&mut open.maps.exempt, capacity.profiles),
            (&mut open.maps.free_tasks, capacity.tasks),
        ];
        for (map, size) in sizes {
            map.set_max_entries(size.max(2)).context("sizing a map")?;
        }
        let record_bytes = if capacity.record_bytes == 0 {
            PAGE
        } else {
            capacity.record_bytes.next_power_of_two().max(PAGE)
        };
        open.maps
            .records
            .set_max_entries(record_bytes)
            .context("sizing the recording buffer")?;
        // The admin program and the iterator run on demand, never attached with the rest.
        open.progs.ebph_associate.set_autoattach(false);
        open.progs.ebph_admin.set_autoattach(false);
        // Execve suspension uses BPF-LSM where the kernel allows it, else SIGKILL at execve.
        open.progs.ebph_bprm_check.set_autoload(lsm);
        open.progs.ebph_bprm_check.set_autoattach(false);
        open.load()
            .context("loading the BPF program (the verifier's log is above)")
    }

    /// Loads the program into the kernel (the verifier checks it here) without attaching it.
    pub fn load(capacity: &Capacity) -> Result<Engine, EngineError> {
        check_privileges()?;
        let mut bpf_lsm = crate::lsm::probe();
        let skel = match Engine::open_and_load(capacity, bpf_lsm.is_available()) {
            Ok(skel) => skel,
            // Should the LSM program be refused where the probe passed, do without it.
            Err(e) if bpf_lsm.is_available() => {
                bpf_lsm =
                    BpfLsm::Unavailable(format!("the kernel refused ebph's BPF-LSM program ({e})"));
                Engine::open_and_load(capacity, false).map_err(explain_load_failure)?
            }
            Err(e) => return Err(explain_load_failure(e)),
        };
        let mut engine = Engine {
            skel,
            capacity: *capacity,
            attached: false,
            bpf_lsm,
            lsm_link: None,
        };
        engine.set_settings(&Settings::default());
        engine.data().settings.max_tasks = capacity.tasks;
        Ok(engine)
    }

    fn data(&mut self) -> &mut crate::skel::types::data {
        self.skel
            .maps
            .data_data
            .as_deref_mut()
            .expect("the BPF object has a .data section")
    }

    fn bss(&self) -> &crate::skel::types::bss {
        self.skel
            .maps
            .bss_data
            .as_deref()
            .expect("the BPF object has a .bss section")
    }

    /// Attaches every program: from now on every exec is tracked.
    pub fn attach(&mut self) -> Result<(), EngineError> {
        self.skel.attach().context("attaching to the tracepoints")?;
        if self.bpf_lsm.is_available() {
            match self.skel.progs.ebph_bprm_check.attach_lsm() {
                Ok(link) => {
                    self.lsm_link = Some(link);
                    self.data().settings.lsm_execve = 1;
                }
                Err(e) => {
                    self.bpf_lsm = BpfLsm::Unavailable(format!(
                        "attaching ebph's BPF-LSM program failed ({e})"
                    ))
                }
            }
        }
        self.attached = true;
        Ok(())
    }

    /// How execve suspension is done here: `bpf-lsm` (the exec fails with EPERM) or
    /// `sigkill` (the task is killed at its execve, where BPF-LSM is not available).
    pub fn execve_suspension(&self) -> &'static str {
        if self.lsm_link.is_some() {
            "bpf-lsm"
        } else {
            "sigkill"
        }
    }

    /// Whether BPF-LSM is used here, and if not, why.
    pub fn bpf_lsm(&self) -> &BpfLsm {
        &self.bpf_lsm
    }

    /// Whether the programs are attached.
    pub fn is_attached(&self) -> bool {
        self.attached
    }

    /// The capacity the engine was loaded with.
    pub fn capacity(&self) -> Capacity {
        self.capacity
    }
}
