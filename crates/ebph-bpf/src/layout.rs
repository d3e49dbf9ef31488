//! Where each field of the kernel's structs lies, taken from the types the skeletons generate
//! from the BPF objects' BTF (so from `src/bpf/ebph.h` itself): the loader reads and writes
//! map values and ring-buffer payloads through these, never through offsets written by hand.
//! The payloads' types come from `layout.bpf.c`, an object that is never loaded.

use std::mem::{offset_of, size_of};

use crate::skel::types::{ebph_cpu_cache, ebph_index, ebph_key, ebph_profile, ebph_row, ebph_task};

/// `struct ebph_key`.
pub(crate) const KEY_SIZE: usize = size_of::<ebph_key>();
/// `struct ebph_index`.
pub(crate) const INDEX_SIZE: usize = size_of::<ebph_index>();
/// `struct ebph_row`.
pub(crate) const ROW_SIZE: usize = size_of::<ebph_row>();

/// `struct ebph_key`.
pub(crate) mod key {
    use super::*;
    pub(crate) const DEV: usize = offset_of!(ebph_key, dev);
    pub(crate) const INO: usize = offset_of!(ebph_key, ino);
    pub(crate) const SCRIPT: usize = offset_of!(ebph_key, script);
}

/// `struct ebph_profile`.
pub(crate) mod profile {
    use super::*;
    pub(crate) const SIZE: usize = size_of::<ebph_profile>();
    pub(crate) const KEY: usize = offset_of!(ebph_profile, key);
    pub(crate) const TRAIN_COUNT: usize = offset_of!(ebph_profile, train_count);
    pub(crate) const LAST_MOD_COUNT: usize = offset_of!(ebph_profile, last_mod_count);
    pub(crate) const SEQUENCES: usize = offset_of!(ebph_profile, sequences);
    pub(crate) const ANOMALIES: usize = offset_of!(ebph_profile, anomalies);
    pub(crate) const NORMAL_TIME: usize = offset_of!(ebph_profile, normal_time);
    pub(crate) const STATUS: usize = offset_of!(ebph_profile, status);
    pub(crate) const TRAIN_INDEX: usize = offset_of!(ebph_profile, train_index);
    pub(crate) const TEST_INDEX: usize = offset_of!(ebph_profile, test_index);
    pub(crate) const TASKS: usize = offset_of!(ebph_profile, tasks);
    pub(crate) const LAST_USED: usize = offset_of!(ebph_profile, last_used);
    pub(crate) const FLAGS: usize = offset_of!(ebph_profile, flags);
    pub(crate) const UID: usize = offset_of!(ebph_profile, uid);
    pub(crate) const REPEATS: usize = offset_of!(ebph_profile, repeats);
    pub(crate) const TRAIN_PARTIAL: usize = offset_of!(ebph_profile, train_partial);
}

/// `struct ebph_running_script`.
pub(crate) mod running {
    use crate::skel::types::ebph_running_script;
    use std::mem::{offset_of, size_of};
    pub(crate) const SIZE: usize = size_of::<ebph_running_script>();
    pub(crate) const KEY: usize = offset_of!(ebph_running_script, key);
    pub(crate) const INTERP_DEV: usize = offset_of!(ebph_running_script, interp_dev);
    pub(crate) const INTERP_INO: usize = offset_of!(ebph_running_script, interp_ino);
    pub(crate) const UNPRIVILEGED: usize = offset_of!(ebph_running_script, unprivileged);
    pub(crate) const PATH: usize = offset_of!(ebph_running_script, path);
    /// Bytes in `path`.
    pub(crate) const PATH_LEN: usize = SIZE - PATH;
}

/// `struct ebph_task`.
pub(crate) mod task {
    use super::*;
    pub(crate) const SIZE: usize = size_of::<ebph_task>();
    pub(crate) const OWNER: usize = offset_of!(ebph_task, owner);
    pub(crate) const TID: usize = offset_of!(ebph_task, tid);
    pub(crate) const PID: usize = offset_of!(ebph_task, pid);
    pub(crate) const PROFILE: usize = offset_of!(ebph_task, profile);
    pub(crate) const DEPTH: usize = offset_of!(ebph_task, depth);
    pub(crate) const LF_POS: usize = offset_of!(ebph_task, lf_pos);
    pub(crate) const LF_COUNT: usize = offset_of!(ebph_task, lf_count);
    pub(crate) const OVERFLOW: usize = offset_of!(ebph_task, overflow);
    /// The locality frame's bits.
    pub(crate) const LF: usize = offset_of!(ebph_task, lf);
    pub(crate) const HELD_UNTIL: usize = offset_of!(ebph_task, held_until);
}

/// `struct ebph_cpu_cache`.
pub(crate) mod cpu_cache {
    use super::*;
    pub(crate) const SIZE: usize = size_of::<ebph_cpu_cache>();
    pub(crate) const CALLS: usize = offset_of!(ebph_cpu_cache, calls);
}

/// `struct ebph_event`, the events ring buffer's payload.
pub(crate) mod event {
    use crate::layout_skel::types::ebph_event;
    use std::mem::{offset_of, size_of};
    pub(crate) const SIZE: usize = size_of::<ebph_event>();
    pub(crate) const TYPE: usize = offset_of!(ebph_event, r#type);
    pub(crate) const PID: usize = offset_of!(ebph_event, pid);
    pub(crate) const TID: usize = offset_of!(ebph_event, tid);
    pub(crate) const PROFILE: usize = offset_of!(ebph_event, profile);
    pub(crate) const TIME: usize = offset_of!(ebph_event, time);
    pub(crate) const KEY: usize = offset_of!(ebph_event, key);
    pub(crate) const SYSCALL: usize = offset_of!(ebph_event, syscall);
    pub(crate) const MISSES: usize = offset_of!(ebph_event, misses);
    pub(crate) const LFC: usize = offset_of!(ebph_event, lfc);
    pub(crate) const SEQ_LEN: usize = offset_of!(ebph_event, seq_len);
    pub(crate) const SEQUENCE: usize = offset_of!(ebph_event, sequence);
    pub(crate) const NOVEL_NGRAM: usize = offset_of!(ebph_event, novel_ngram);
    pub(crate) const UID: usize = offset_of!(ebph_event, uid);
    /// Calls in `sequence`.
    pub(crate) const SEQUENCE_LEN: usize = size_of::<[u16; 9]>() / 2;
    pub(crate) const ANOMALIES: usize = offset_of!(ebph_event, anomalies);
    pub(crate) const PATH: usize = offset_of!(ebph_event, path);
    /// Bytes in `path`.
    pub(crate) const PATH_LEN: usize = DELAY_NS - PATH;
    pub(crate) const DELAY_NS: usize = offset_of!(ebph_event, delay_ns);
    pub(crate) const ENDPOINT: usize = offset_of!(ebph_event, endpoint);
}

/// `struct ebph_record`, the test-only records ring buffer's payload.
pub(crate) mod record {
    use crate::layout_skel::types::ebph_record;
    use std::mem::{offset_of, size_of};
    pub(crate) const SIZE: usize = size_of::<ebph_record>();
    pub(crate) const SEQ: usize = offset_of!(ebph_record, seq);
    pub(crate) const NOW: usize = offset_of!(ebph_record, now);
    pub(crate) const KIND: usize = offset_of!(ebph_record, kind);
    pub(crate) const TID: usize = offset_of!(ebph_record, tid);
    pub(crate) const ARG: usize = offset_of!(ebph_record, arg);
    pub(crate) const KEY: usize = offset_of!(ebph_record, key);
}

/// `struct ebph_hold`, the holds ring buffer's payload.
pub(crate) mod hold {
    use crate::layout_skel::types::ebph_hold;
    use std::mem::{offset_of, size_of};
    pub(crate) const SIZE: usize = size_of::<ebph_hold>();
    pub(crate) const PID: usize = offset_of!(ebph_hold, pid);
    pub(crate) const TID: usize = offset_of!(ebph_hold, tid);
    pub(crate) const START_TIME: usize = offset_of!(ebph_hold, start_time);
    pub(crate) const UNTIL: usize = offset_of!(ebph_hold, until);
}

// What the code around these takes for granted.
const _: () = assert!(
    size_of::<crate::layout_skel::types::ebph_event>() == event::ENDPOINT + size_of::<u64>(),
    "endpoint ends the event"
);
const _: () = assert!(event::PATH_LEN == 256, "EBPH_PATH_MAX");
const _: () = assert!(KEY_SIZE == 24, "struct ebph_key: three u64");
const _: () = assert!(
    INDEX_SIZE == 4 * ebph_core::MAX_SYSCALLS,
    "a u32 row slot per call"
);
const _: () = assert!(
    ROW_SIZE == ebph_core::ROW_BYTES,
    "a byte of flags per call, then the n-gram bitmap"
);
const _: () = assert!(
    task::LF + 16 == task::HELD_UNTIL,
    "the frame's bits, then held_until"
);
const _: () = assert!(
    task::HELD_UNTIL + 8 == task::SIZE,
    "held_until ends the task state"
);
