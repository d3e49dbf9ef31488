//! Tracked tasks (`struct ebph_task`, `task.h`): listing them, releasing a held process,
//! and associating the tasks that ran before the engine (`ebph_associate`).

use libbpf_rs::{MapCore, MapFlags};

use super::Engine;
use crate::abi::{expect_len, key_to_kernel, Bytes};
use crate::error::Context;
use crate::layout::{running, task, KEY_SIZE};
use crate::EngineError;

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

impl Engine {
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
}
