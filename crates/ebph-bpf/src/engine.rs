//! Loading, sizing, attaching and talking to the BPF program.

use std::mem::MaybeUninit;
use std::path::Path;
use std::time::Duration;

use ebph_core::{
    LookaheadTable, Profile, ProfileKey, ProfileStatus, Settings, Syscall, MAX_SYSCALLS,
};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject, RingBuffer, RingBufferBuilder};

use crate::abi::{expect_len, key_to_kernel, Bytes};
use crate::error::Context;
use crate::layout::{cpu_cache, profile as prof, running, task, INDEX_SIZE, KEY_SIZE, ROW_SIZE};
use crate::lsm::BpfLsm;
use crate::skel::{EbphSkel, EbphSkelBuilder};
use crate::{EngineError, Event, Record, Stats};

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

/// An admin operation on one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminOp {
    /// Make the profile normal now.
    Normalize = 1,
    /// Forget the training data.
    Sensitize = 2,
    /// Leave normal, back to training.
    Tolerize = 3,
}

/// A task the engine tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    /// The thread id.
    pub tid: u32,
    /// The process (thread group) id.
    pub pid: u32,
    /// The slot of its profile.
    pub profile: u32,
    /// Its locality frame count.
    pub lfc: u32,
    /// Signal handlers running (frames pushed).
    pub signal_depth: u32,
    /// Held (stopped for a delay) until then, on the engine's clock (to 1024 ns); 0 = never
    /// held.
    pub held_until: u64,
}

/// How a profile is used, for eviction and expiry: what the engine keeps beside pH's
/// counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileUse {
    /// Tracked tasks running under it now (ignored by [`Engine::insert_profile`]).
    pub tasks: u32,
    /// When it was created or its last task let it go, on the engine's clock (0: never
    /// used since the engine was loaded, or before this boot).
    pub last_used: u64,
    /// Its executable is owned or writable by a user other than root.
    pub unprivileged: bool,
    /// The user whose exec created it.
    pub uid: u32,
}

/// A table written into the maps: its index block (0 = empty) and each call's row.
#[derive(Default)]
struct WrittenTable {
    index: u32,
    rows: Vec<(usize, u32, Vec<u8>)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AllocKind {
    Index,
    Row,
    Profile,
}

/// `EBPH_PROFILE_UNPRIVILEGED`.
const PROFILE_UNPRIVILEGED: u32 = 1;

/// `enum ebph_admin_op`'s allocations.
const ADMIN_TAKE_ROW: u64 = 4;
const ADMIN_TAKE_INDEX: u64 = 5;
const ADMIN_TAKE_PROFILE: u64 = 6;
const ADMIN_DELETE: u64 = 7;

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

    /// Tracks every task already running (started before the engine), under the profile of
    /// its executable, or of its `#!` script (found in `/proc`, see `running.rs`), creating
    /// profiles as needed; returns how many tasks it added. Kernel threads and the daemon's
    /// own tasks are left alone.
    pub fn associate_running(&self) -> Result<u64, EngineError> {
        use std::io::Read;
        use std::os::unix::ffi::OsStrExt;
        let before = self.stats().tasks_tracked;
        let map = &self.skel.maps.running_scripts;
        for script in crate::running::running_scripts().into_iter().take(4096) {
            let mut value = [0u8; running::SIZE];
            value[running::KEY..running::KEY + KEY_SIZE]
                .copy_from_slice(&key_to_kernel(&script.key));
            value[running::INTERP_DEV..running::INTERP_DEV + 8]
                .copy_from_slice(&u64::from(script.interpreter.kernel_dev()).to_le_bytes());
            value[running::INTERP_INO..running::INTERP_INO + 8]
                .copy_from_slice(&script.interpreter.ino.to_le_bytes());
            value[running::UNPRIVILEGED..running::UNPRIVILEGED + 4]
                .copy_from_slice(&u32::from(script.unprivileged).to_le_bytes());
            let path = script.path.as_os_str().as_bytes();
            if path.len() >= running::PATH_LEN {
                continue;
            }
            value[running::PATH..running::PATH + path.len()].copy_from_slice(path);
            map.update(&script.pid.to_le_bytes(), &value, MapFlags::ANY)
                .context("writing running scripts")?;
        }
        let link = self
            .skel
            .progs
            .ebph_associate
            .attach_iter_with_opts(libbpf_rs::IterOpts::None)
            .context("creating the task iterator")?;
        let mut iter = libbpf_rs::Iter::new(&link).context("opening the task iterator")?;
        let mut sink = Vec::new();
        iter.read_to_end(&mut sink)
            .map_err(|e| EngineError::Layout(format!("running the task iterator: {e}")))?;
        Ok(self.stats().tasks_tracked.saturating_sub(before))
    }

    /// Whether the programs are attached.
    pub fn is_attached(&self) -> bool {
        self.attached
    }

    /// The capacity the engine was loaded with.
    pub fn capacity(&self) -> Capacity {
        self.capacity
    }

    /// Writes the settings the engine uses from its next call on. The caller validates them
    /// (`Settings::validate`).
    pub fn set_settings(&mut self, settings: &Settings) {
        let s = &mut self.data().settings;
        s.window = settings.window.into();
        s.locality_frame = settings.locality_frame.into();
        s.normal_factor = settings.normal_factor;
        s.normal_factor_den = settings.normal_factor_den;
        s.normal_wait_ns = settings.normal_wait_ns();
        s.anomaly_limit = settings.anomaly_limit;
        s.tolerize_limit = settings.tolerize_limit;
        s.response = match settings.response {
            ebph_core::ResponseMode::Monitor => 0,
            ebph_core::ResponseMode::Delay => 1,
            ebph_core::ResponseMode::Enforce => 2,
        };
        s.delay_factor_ns = u64::try_from(settings.delay_factor.as_nanos()).unwrap_or(u64::MAX);
        s.max_delay_ns = u64::try_from(settings.max_delay.as_nanos()).unwrap_or(u64::MAX);
        s.suspend_execve = settings.suspend_execve;
        s.delay_threshold = settings.delay_threshold;
        s.user_profiles = settings.user_profiles;
        s.detector = settings.detector.bits();
        s.ngram_length = settings.ngram_length;
        s.fold_loops = settings.fold_loops;
        s.accept_after = settings.accept_after;
        s.skip_brk = settings.skip_brk.into();
        s.skip_heap_mmap = settings.skip_heap_mmap.into();
        s.watch_execs = settings.watch_execs.into();
        s.watch_endpoints = settings.watch_endpoints.into();
    }

    /// Exempts the tasks of the profile in `slot` from delays and execve suspension (the
    /// allowlist), or stops exempting them.
    pub fn set_exempt(&self, slot: u32, exempt: bool) -> Result<(), EngineError> {
        self.skel
            .maps
            .exempt
            .update(
                &slot.to_le_bytes(),
                &u32::from(exempt).to_le_bytes(),
                MapFlags::ANY,
            )
            .context("updating the allowlist")
    }

    /// Releases the tasks of process `pid` from any delay: their locality frames start
    /// empty (so they are not held again until new anomalies) and their holds end. The
    /// caller sends SIGCONT. Returns how many tasks were released.
    pub fn release(&self, pid: u32) -> Result<u32, EngineError> {
        let mut released = 0;
        for (slot, mut value) in self.task_entries()? {
            if Bytes(&value).u32(task::PID) != pid {
                continue;
            }
            // An empty locality frame, and no hold.
            value[task::LF_POS] = 0;
            value[task::LF_COUNT] = 0;
            value[task::LF..task::SIZE].fill(0);
            self.skel
                .maps
                .task_states
                .update(&slot.to_le_bytes(), &value, MapFlags::ANY)
                .context("releasing a task")?;
            released += 1;
        }
        Ok(released)
    }

    /// The process whose tasks the engine never tracks (the daemon's own).
    pub fn set_daemon_pid(&mut self, pid: u32) {
        self.data().settings.daemon_tgid = pid;
    }

    /// Test-only: send every exec, fork, signal, call and exit of a tracked task to the
    /// records ring buffer (which must have been given space in [`Capacity::record_bytes`]).
    pub fn set_recording(&mut self, on: bool) {
        self.data().settings.record = u32::from(on);
    }

    /// Runs of the engine's programs the kernel skipped because the program was already
    /// running on that CPU (`recursion_misses`, from `/proc/self/fdinfo`): a call, an exec,
    /// a fork, an exit or a signal the engine did not see. Normally 0.
    pub fn runs_missed(&self) -> u64 {
        use std::os::fd::{AsFd, AsRawFd};
        let p = &self.skel.progs;
        [
            p.ebph_sys_enter.as_fd().as_raw_fd(),
            p.ebph_exec.as_fd().as_raw_fd(),
            p.ebph_fork.as_fd().as_raw_fd(),
            p.ebph_exit.as_fd().as_raw_fd(),
            p.ebph_signal.as_fd().as_raw_fd(),
        ]
        .into_iter()
        .filter_map(|fd| std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("recursion_misses:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
    }

    /// The engine's counters.
    pub fn stats(&self) -> Stats {
        let s = &self.bss().stats;
        Stats {
            profiles_created: s.profiles_created,
            profiles_full: s.profiles_full,
            rows_full: s.rows_full,
            indexes_full: s.indexes_full,
            tasks_full: s.tasks_full,
            tasks_tracked: s.tasks_tracked,
            events_lost: s.events_lost,
            records_lost: s.records_lost,
            anomalies: s.anomalies,
            rows_used: s.rows_used,
            indexes_used: s.indexes_used,
            holds_dropped: s.holds_dropped,
            anomalies_suppressed: s.anomalies_suppressed,
            profiles_used: s.profiles_used,
            budget_denied: s.budget_denied,
            reserve_denied: s.reserve_denied,
            scripts_unseen: s.scripts_unseen,
        }
    }

    /// Calls of tracked tasks the engine has seen, on every CPU, since it was loaded.
    pub fn calls(&self) -> Result<u64, EngineError> {
        let per_cpu = self
            .skel
            .maps
            .cpu_cache
            .lookup_percpu(&0u32.to_le_bytes(), MapFlags::ANY)
            .context("reading the per-CPU counters")?
            .unwrap_or_default();
        let mut total = 0;
        for value in per_cpu {
            expect_len("a per-CPU cache", &value, cpu_cache::SIZE)?;
            total += Bytes(&value).u64(cpu_cache::CALLS);
        }
        Ok(total)
    }

    /// Every profile: its key and slot.
    pub fn profile_slots(&self) -> Result<Vec<(ProfileKey, u32)>, EngineError> {
        let map = &self.skel.maps.profile_keys;
        let mut out = Vec::new();
        for key in map.keys() {
            let Some(slot) = map
                .lookup(&key, MapFlags::ANY)
                .context("reading profile keys")?
            else {
                continue;
            };
            expect_len("a profile key", &key, KEY_SIZE)?;
            expect_len("a profile slot", &slot, 4)?;
            out.push((Bytes(&key).key(0), Bytes(&slot).u32(0)));
        }
        out.sort();
        Ok(out)
    }

    /// The slot of the profile of `key`.
    pub fn slot_of(&self, key: &ProfileKey) -> Result<Option<u32>, EngineError> {
        let found = self
            .skel
            .maps
            .profile_keys
            .lookup(&key_to_kernel(key), MapFlags::ANY)
            .context("looking up a profile")?;
        Ok(found.map(|v| Bytes(&v).u32(0)))
    }

    /// The raw `struct ebph_profile` in `slot`.
    fn profile_entry(&self, slot: u32) -> Result<Vec<u8>, EngineError> {
        let value = self
            .skel
            .maps
            .profiles
            .lookup(&slot.to_le_bytes(), MapFlags::ANY)
            .context("reading a profile")?
            .ok_or(EngineError::NoSuchProfile(slot))?;
        expect_len("a profile", &value, prof::SIZE)?;
        Ok(value)
    }

    /// Reads the profile in `slot` back, tables and counters, as the model's type.
    pub fn profile(&self, slot: u32) -> Result<Profile, EngineError> {
        let value = self.profile_entry(slot)?;
        let mut profile = counters_of(&value)?;
        let b = Bytes(&value);
        profile.train = self.table(b.u32(prof::TRAIN_INDEX))?;
        profile.test = self.table(b.u32(prof::TEST_INDEX))?;
        Ok(profile)
    }

    /// The counters and status of the profile in `slot`, without its tables (one lookup).
    pub fn profile_counters(&self, slot: u32) -> Result<Profile, EngineError> {
        counters_of(&self.profile_entry(slot)?)
    }

    /// How the profile in `slot` is used.
    pub fn profile_use(&self, slot: u32) -> Result<ProfileUse, EngineError> {
        Ok(use_of(&self.profile_entry(slot)?))
    }

    /// The counters and status of the profile in `slot` and how it is used, from one read.
    pub fn profile_counters_and_use(
        &self,
        slot: u32,
    ) -> Result<(Profile, ProfileUse), EngineError> {
        let value = self.profile_entry(slot)?;
        Ok((counters_of(&value)?, use_of(&value)))
    }

    /// The bytes of kernel memory the profile in `slot` takes: its profile entry, its index
    /// blocks and its rows (a row the train and test tables share counts once).
    pub fn profile_memory(&self, slot: u32) -> Result<usize, EngineError> {
        let value = self.profile_entry(slot)?;
        let b = Bytes(&value);
        let mut rows = std::collections::BTreeSet::new();
        let mut indexes = 0;
        for index in [b.u32(prof::TRAIN_INDEX), b.u32(prof::TEST_INDEX)] {
            if index == 0 {
                continue;
            }
            indexes += 1;
            rows.extend(self.row_ids(index)?.into_iter().map(|(_, row)| row));
        }
        Ok(value.len() + indexes * INDEX_SIZE + rows.len() * ROW_SIZE)
    }

    /// The `(curr, row)` pairs of an index block.
    fn row_ids(&self, index: u32) -> Result<Vec<(usize, u32)>, EngineError> {
        let ix = self
            .skel
            .maps
            .indexes
            .lookup(&index.to_le_bytes(), MapFlags::ANY)
            .context("reading an index block")?
            .ok_or_else(|| EngineError::Layout(format!("index block {index} missing")))?;
        expect_len("an index block", &ix, INDEX_SIZE)?;
        let ix = Bytes(&ix);
        Ok((0..MAX_SYSCALLS)
            .map(|curr| (curr, ix.u32(4 * curr)))
            .filter(|&(_, row)| row != 0)
            .collect())
    }

    fn table(&self, index: u32) -> Result<LookaheadTable, EngineError> {
        let mut table = LookaheadTable::new();
        if index == 0 {
            return Ok(table);
        }
        for (curr, row_id) in self.row_ids(index)? {
            let row = self
                .skel
                .maps
                .rows
                .lookup(&row_id.to_le_bytes(), MapFlags::ANY)
                .context("reading a row")?
                .ok_or_else(|| EngineError::Layout(format!("row {row_id} missing")))?;
            expect_len("a row", &row, ROW_SIZE)?;
            let curr = Syscall::new(curr as u16).expect("index is below MAX_SYSCALLS");
            let (pairs, ngrams) = row.split_at(MAX_SYSCALLS);
            for (prev, &flags) in pairs.iter().enumerate() {
                if flags != 0 {
                    let prev = Syscall::new(prev as u16).expect("row is MAX_SYSCALLS long");
                    table.set(curr, prev, flags);
                }
            }
            let ngrams: &ebph_core::NgramBitmap = ngrams
                .try_into()
                .expect("a row is pairs, then one n-gram bitmap");
            table.add_ngram_row(curr, ngrams);
        }
        Ok(table)
    }

    /// The raw `struct ebph_task` of every slot in use (owned by a live task), by slot.
    fn task_entries(&self) -> Result<Vec<(u32, Vec<u8>)>, EngineError> {
        let used = self.bss().next_task.min(u64::from(self.capacity.tasks)) as u32;
        let mut entries = Vec::new();
        for slot in 0..used {
            let Some(value) = self
                .skel
                .maps
                .task_states
                .lookup(&slot.to_le_bytes(), MapFlags::ANY)
                .context("reading task states")?
            else {
                continue;
            };
            expect_len("a task state", &value, task::SIZE)?;
            if Bytes(&value).u64(task::OWNER) != 0 {
                entries.push((slot, value));
            }
        }
        Ok(entries)
    }

    /// Every task the engine tracks now.
    pub fn tasks(&self) -> Result<Vec<TaskInfo>, EngineError> {
        let mut tasks = Vec::new();
        for (_, value) in self.task_entries()? {
            let b = Bytes(&value);
            tasks.push(TaskInfo {
                tid: b.u32(task::TID),
                pid: b.u32(task::PID),
                profile: b.u32(task::PROFILE),
                lfc: u32::from(value[task::LF_COUNT]),
                signal_depth: u32::from(value[task::DEPTH]) + u32::from(b.u16(task::OVERFLOW)),
                // The low 10 bits name the call held (see ebph.h).
                held_until: b.u64(task::HELD_UNTIL) & !0x3ff,
            });
        }
        tasks.sort_by_key(|t| (t.pid, t.tid));
        Ok(tasks)
    }

    /// Loads a profile into the engine (saved, or imported while it runs); returns its slot.
    /// Should the engine create a profile for the same executable meanwhile (it ran just
    /// then), this one is refused as a duplicate and the room it took stays taken.
    pub fn insert_profile(
        &mut self,
        key: &ProfileKey,
        profile: &Profile,
        usage: &ProfileUse,
    ) -> Result<u32, EngineError> {
        if self.slot_of(key)?.is_some() {
            return Err(EngineError::Duplicate(*key));
        }
        let train = self.write_table(&profile.train, None)?;
        let test = if profile.status == ProfileStatus::Normal {
            self.write_table(&profile.test, Some(&train))?
        } else {
            WrittenTable::default()
        };
        let slot = self.allocate(AllocKind::Profile)?;
        let mut value = [0u8; prof::SIZE];
        value[prof::KEY..prof::KEY + KEY_SIZE].copy_from_slice(&key_to_kernel(key));
        for (at, v) in [
            (prof::TRAIN_COUNT, profile.train_count),
            (prof::LAST_MOD_COUNT, profile.last_mod_count),
            (prof::SEQUENCES, profile.sequences),
            (prof::ANOMALIES, profile.anomalies),
            (prof::NORMAL_TIME, profile.normal_time),
            (prof::LAST_USED, usage.last_used),
        ] {
            value[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        let status: u32 = match profile.status {
            ProfileStatus::Training => 0,
            ProfileStatus::Frozen => 1,
            ProfileStatus::Normal => 2,
        };
        for (at, v) in [
            (prof::STATUS, status),
            (prof::TRAIN_INDEX, train.index),
            (prof::TEST_INDEX, test.index),
            (
                prof::FLAGS,
                if usage.unprivileged {
                    PROFILE_UNPRIVILEGED
                } else {
                    0
                },
            ),
            (prof::UID, usage.uid),
            (prof::REPEATS, profile.repeats),
            (
                prof::TRAIN_PARTIAL,
                // A saved profile does not say; its tables do.
                u32::from(
                    profile.train_partial
                        || (profile.status == ProfileStatus::Normal
                            && !profile.train.includes(&profile.test)),
                ),
            ),
        ] {
            value[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        self.skel
            .maps
            .profiles
            .update(&slot.to_le_bytes(), &value, MapFlags::ANY)
            .context("writing a profile")?;
        if let Err(e) = self.skel.maps.profile_keys.update(
            &key_to_kernel(key),
            &slot.to_le_bytes(),
            MapFlags::NO_EXIST,
        ) {
            if self.slot_of(key)?.is_some() {
                return Err(EngineError::Duplicate(*key));
            }
            return Err(e).context("writing a profile key");
        }
        Ok(slot)
    }

    /// Writes a table into newly allocated index and rows; returns the index block (0 for an
    /// empty table) and the row of each call. Rows equal to `share`'s for the same call are
    /// shared, as the engine shares them between a normal profile's tables.
    fn write_table(
        &mut self,
        table: &LookaheadTable,
        share: Option<&WrittenTable>,
    ) -> Result<WrittenTable, EngineError> {
        // Every call with a row in the table: its pairs, then its n-gram bitmap.
        let rows: Vec<(usize, Vec<u8>)> = (0..MAX_SYSCALLS as u16)
            .filter_map(|nr| {
                let curr = Syscall::new(nr).expect("below MAX_SYSCALLS");
                let pairs = table.row(curr)?;
                let ngrams = table.ngram_row(curr)?;
                if pairs.iter().chain(ngrams.iter()).all(|&b| b == 0) {
                    return None;
                }
                Some((curr.index(), [&pairs[..], &ngrams[..]].concat()))
            })
            .collect();
        if rows.is_empty() {
            return Ok(WrittenTable::default());
        }
        let index = self.allocate(AllocKind::Index)?;
        let mut ix = vec![0u8; 4 * MAX_SYSCALLS];
        let mut written = Vec::new();
        for (curr, row) in rows {
            let shared =
                share.and_then(|s| s.rows.iter().find(|(c, _, r)| *c == curr && *r == row));
            let id = match shared {
                Some((_, id, _)) => *id,
                None => {
                    let id = self.allocate(AllocKind::Row)?;
                    self.skel
                        .maps
                        .rows
                        .update(&id.to_le_bytes(), &row, MapFlags::ANY)
                        .context("writing a row")?;
                    id
                }
            };
            ix[4 * curr..4 * curr + 4].copy_from_slice(&id.to_le_bytes());
            written.push((curr, id, row));
        }
        self.skel
            .maps
            .indexes
            .update(&index.to_le_bytes(), &ix, MapFlags::ANY)
            .context("writing an index block")?;
        Ok(WrittenTable {
            index,
            rows: written,
        })
    }

    /// Takes a free index block, row or profile slot, through the admin program: the engine
    /// may be allocating at the same time.
    fn allocate(&mut self, kind: AllocKind) -> Result<u32, EngineError> {
        let (op, what) = match kind {
            AllocKind::Index => (ADMIN_TAKE_INDEX, "index blocks"),
            AllocKind::Row => (ADMIN_TAKE_ROW, "lookahead rows"),
            AllocKind::Profile => (ADMIN_TAKE_PROFILE, "profiles"),
        };
        match self.run_admin(op, 0)? {
            id if id > 0 || (id == 0 && kind == AllocKind::Profile) => Ok(id as u32),
            _ => Err(EngineError::Full(what)),
        }
    }

    /// Runs an admin operation on the profile in `slot`.
    pub fn admin(&self, op: AdminOp, slot: u32) -> Result<(), EngineError> {
        match self.run_admin(op as u64, slot)? {
            0 => Ok(()),
            -2 => Err(EngineError::NoSuchProfile(slot)),
            other => Err(EngineError::Layout(format!(
                "admin operation failed: {other}"
            ))),
        }
    }

    /// Deletes the profile in `slot`: its key is forgotten (the next run of its program
    /// starts a new profile) and its tables and slot are freed. Refused while a task uses it.
    pub fn delete_profile(&self, slot: u32) -> Result<(), EngineError> {
        match self.run_admin(ADMIN_DELETE, slot)? {
            0 => Ok(()),
            -2 => Err(EngineError::NoSuchProfile(slot)),
            -16 => Err(EngineError::InUse(slot)),
            other => Err(EngineError::Layout(format!(
                "deleting a profile failed: {other}"
            ))),
        }
    }

    /// Runs the admin program on `op` and `slot` (`enum ebph_admin_op`); its result.
    fn run_admin(&self, op: u64, slot: u32) -> Result<i32, EngineError> {
        // The program's context: two u64 words, the operation and the slot.
        let mut ctx = [0u8; 16];
        ctx[..8].copy_from_slice(&op.to_ne_bytes());
        ctx[8..].copy_from_slice(&u64::from(slot).to_ne_bytes());
        let input = libbpf_rs::ProgramInput {
            context_in: Some(&mut ctx),
            ..Default::default()
        };
        let output = self
            .skel
            .progs
            .ebph_admin
            .test_run(input)
            .context("running an admin operation")?;
        Ok(output.return_value as i32)
    }

    /// Subscribes to the engine's events; `handle` is called for each from
    /// [`Subscription::poll`].
    pub fn subscribe<'a>(
        &'a self,
        handle: impl FnMut(Event) + 'a,
    ) -> Result<Subscription<'a>, EngineError> {
        subscribe_events(&self.skel.maps.events, handle)
    }

    /// The engine's event ring buffer as a value of its own, so that events can be read
    /// while the engine itself is changed (settings, admin operations).
    pub fn event_source(&self) -> Result<EventSource, EngineError> {
        let handle = libbpf_rs::MapHandle::try_from(&self.skel.maps.events)
            .context("opening the event ring buffer")?;
        Ok(EventSource { handle })
    }

    /// The id of the holds ring buffer, which the keeper opens (see [`crate::Holds`]).
    pub fn holds_map_id(&self) -> Result<u32, EngineError> {
        let info = self
            .skel
            .maps
            .holds
            .info()
            .context("reading the holds ring buffer's id")?;
        Ok(info.info.id)
    }

    /// Test-only: subscribes to the records (see [`Engine::set_recording`]).
    pub fn subscribe_records<'a>(
        &'a self,
        mut handle: impl FnMut(Record) + 'a,
    ) -> Result<Subscription<'a>, EngineError> {
        let mut builder = RingBufferBuilder::new();
        builder
            .add(&self.skel.maps.records, move |data: &[u8]| {
                if let Ok(record) = Record::parse(data) {
                    handle(record);
                }
                0
            })
            .context("subscribing to records")?;
        Ok(Subscription {
            ring: builder.build().context("subscribing to records")?,
        })
    }
}

fn subscribe_events<'a>(
    map: &'a dyn MapCore,
    mut handle: impl FnMut(Event) + 'a,
) -> Result<Subscription<'a>, EngineError> {
    let mut builder = RingBufferBuilder::new();
    builder
        .add(map, move |data: &[u8]| {
            if let Ok(event) = Event::parse(data) {
                handle(event);
            }
            0
        })
        .context("subscribing to events")?;
    Ok(Subscription {
        ring: builder.build().context("subscribing to events")?,
    })
}

/// The engine's event ring buffer, held apart from the engine.
pub struct EventSource {
    handle: libbpf_rs::MapHandle,
}

impl EventSource {
    /// Subscribes to the events; `handle` is called for each from [`Subscription::poll`].
    pub fn subscribe<'a>(
        &'a self,
        handle: impl FnMut(Event) + 'a,
    ) -> Result<Subscription<'a>, EngineError> {
        subscribe_events(&self.handle, handle)
    }
}

/// A subscription to one of the engine's ring buffers (events, records, holds).
pub struct Subscription<'a> {
    ring: RingBuffer<'a>,
}

impl<'a> Subscription<'a> {
    pub(crate) fn new(ring: RingBuffer<'a>) -> Subscription<'a> {
        Subscription { ring }
    }
}

impl std::os::fd::AsFd for Subscription<'_> {
    /// A descriptor that is readable when there is data (for poll).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the ring buffer owns this epoll descriptor for as long as it lives, and the
        // returned borrow cannot outlive `self`.
        #[allow(unsafe_code)]
        unsafe {
            std::os::fd::BorrowedFd::borrow_raw(self.ring.epoll_fd())
        }
    }
}

impl Subscription<'_> {
    /// Waits up to `timeout` for data and handles all that is there.
    pub fn poll(&self, timeout: Duration) -> Result<(), EngineError> {
        self.ring.poll(timeout).context("reading a ring buffer")
    }

    /// Handles all data that is there now, without waiting.
    pub fn consume(&self) -> Result<(), EngineError> {
        self.ring.consume().context("reading a ring buffer")
    }
}

/// The counters and status in a raw `struct ebph_profile`, with empty tables.
fn use_of(value: &[u8]) -> ProfileUse {
    let b = Bytes(value);
    ProfileUse {
        tasks: b.u32(prof::TASKS),
        last_used: b.u64(prof::LAST_USED),
        unprivileged: b.u32(prof::FLAGS) & PROFILE_UNPRIVILEGED != 0,
        uid: b.u32(prof::UID),
    }
}

fn counters_of(value: &[u8]) -> Result<Profile, EngineError> {
    let b = Bytes(value);
    let status = match b.u32(prof::STATUS) {
        0 => ProfileStatus::Training,
        1 => ProfileStatus::Frozen,
        2 => ProfileStatus::Normal,
        other => return Err(EngineError::Layout(format!("profile status {other}"))),
    };
    Ok(Profile {
        train: LookaheadTable::new(),
        test: LookaheadTable::new(),
        train_count: b.u64(prof::TRAIN_COUNT),
        last_mod_count: b.u64(prof::LAST_MOD_COUNT),
        sequences: b.u64(prof::SEQUENCES),
        anomalies: b.u64(prof::ANOMALIES),
        status,
        normal_time: b.u64(prof::NORMAL_TIME),
        repeats: b.u32(prof::REPEATS),
        train_partial: b.u32(prof::TRAIN_PARTIAL) != 0,
    })
}
