//! Decoding what the BPF program writes (`src/bpf/ebph.h`): events, records and statistics.

use ebph_core::ProfileKey;

use crate::layout::{event, key, record, KEY_SIZE};
use crate::layout_skel::types::ebph_record_kind;
use crate::EngineError;

/// Reads little-endian integers at fixed offsets of a kernel struct.
pub(crate) struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    pub fn u16(&self, at: usize) -> u16 {
        u16::from_le_bytes(self.0[at..at + 2].try_into().expect("2 bytes"))
    }
    pub fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.0[at..at + 4].try_into().expect("4 bytes"))
    }
    pub fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.0[at..at + 8].try_into().expect("8 bytes"))
    }
    /// A `struct ebph_key` at `at`.
    pub fn key(&self, at: usize) -> ProfileKey {
        key_from_kernel(
            self.u64(at + key::DEV),
            self.u64(at + key::INO),
            self.u64(at + key::SCRIPT),
        )
    }
}

/// Requires `data` to be exactly one `len`-byte struct: a size that differs means the
/// program and the loader disagree on a layout.
pub(crate) fn expect_len(what: &str, data: &[u8], len: usize) -> Result<(), EngineError> {
    if data.len() != len {
        return Err(EngineError::Layout(format!(
            "{what} is {} bytes, expected {len}",
            data.len()
        )));
    }
    Ok(())
}

/// The key of the kernel's `struct ebph_key` (device in the kernel's encoding).
pub(crate) fn key_from_kernel(dev: u64, ino: u64, script: u64) -> ProfileKey {
    ProfileKey {
        script,
        ..ProfileKey::from_kernel(dev as u32, ino)
    }
}

/// The kernel's `struct ebph_key` bytes for `key`.
pub(crate) fn key_to_kernel(k: &ProfileKey) -> [u8; KEY_SIZE] {
    let mut out = [0u8; KEY_SIZE];
    for (at, v) in [
        (key::DEV, u64::from(k.kernel_dev())),
        (key::INO, k.ino),
        (key::SCRIPT, k.script),
    ] {
        out[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    out
}

/// What an event reports: one of `enum ebph_event_type` (`src/bpf/ebph.h`), whose
/// constants, [`EventType::ALL`] and [`EventType::name`] are generated from the enum's BTF
/// (`build.rs`). What each type means, and which fields it carries, is said once, by
/// `ebph_api::event::EventKind`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType(u32);

include!(concat!(env!("OUT_DIR"), "/event_types.rs"));

impl EventType {
    /// The type of this name (as [`EventType::name`] gives it), if there is one.
    pub fn named(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The type numbered `number` in the C enum, if there is one.
    fn of(number: u32) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.0 == number)
    }
}

impl std::fmt::Debug for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An event of the engine (`struct ebph_event`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// The process (thread group) id.
    pub pid: u32,
    /// The thread id.
    pub tid: u32,
    /// The profile's slot in the engine.
    pub profile: u32,
    /// The profile's key.
    pub key: ProfileKey,
    /// When, on the boot-time clock (nanoseconds since boot, suspend included).
    pub time_boot_ns: u64,
    /// Anomaly: the call.
    pub syscall: u16,
    /// Anomaly: how many of the call's lookahead pairs were missing (counted when the
    /// detector uses pairs). AnomaliesSuppressed: how many anomalies were not reported.
    pub misses: u32,
    /// Anomaly: the call ended an n-gram the profile never saw (when the detector uses
    /// n-grams).
    pub novel_ngram: bool,
    /// The task's locality frame count.
    pub lfc: u32,
    /// ProfileCreated, ProfileBudgetSpent: the user (real uid) of the task (0 for profiles
    /// of tasks found running at start).
    pub uid: u32,
    /// Anomaly: the calls of the window, oldest first, the anomalous call last.
    pub sequence: Vec<u16>,
    /// The profile's anomaly count.
    pub anomalies: u64,
    /// ProfileCreated and Exec: the path the program was run by; NovelExec: the path of the
    /// program executed.
    pub path: String,
    /// Delay: how long the task is held, in nanoseconds.
    pub delay_ns: u64,
    /// The endpoint the call named, when the event is about one (`ebph_core::Endpoint::id`).
    pub endpoint: u64,
}

pub(crate) const EVENT_SIZE: usize = event::SIZE;

impl Event {
    /// When the event happened, in wall-clock time.
    pub fn time(&self) -> std::time::SystemTime {
        crate::wall_time(self.time_boot_ns)
    }

    pub(crate) fn parse(data: &[u8]) -> Result<Event, EngineError> {
        expect_len("an event", data, EVENT_SIZE)?;
        let b = Bytes(data);
        let kind = EventType::of(b.u32(event::TYPE)).ok_or_else(|| {
            EngineError::Layout(format!("unknown event type {}", b.u32(event::TYPE)))
        })?;
        let seq_len = (b.u32(event::SEQ_LEN) as usize).min(event::SEQUENCE_LEN);
        // The kernel writes the newest call first.
        let sequence = (0..seq_len)
            .rev()
            .map(|i| b.u16(event::SEQUENCE + 2 * i))
            .collect();
        let path = &data[event::PATH..event::PATH + event::PATH_LEN];
        let path = &path[..path.iter().position(|&c| c == 0).unwrap_or(path.len())];
        Ok(Event {
            kind,
            pid: b.u32(event::PID),
            tid: b.u32(event::TID),
            profile: b.u32(event::PROFILE),
            time_boot_ns: b.u64(event::TIME),
            key: b.key(event::KEY),
            syscall: b.u32(event::SYSCALL) as u16,
            misses: b.u32(event::MISSES),
            novel_ngram: b.u16(event::NOVEL_NGRAM) != 0,
            lfc: b.u32(event::LFC),
            uid: b.u32(event::UID),
            sequence,
            anomalies: b.u64(event::ANOMALIES),
            path: String::from_utf8_lossy(path).into_owned(),
            delay_ns: b.u64(event::DELAY_NS),
            endpoint: b.u64(event::ENDPOINT),
        })
    }
}

/// What a record (test-only recording of every task event) reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// The task executed the program of `key`.
    Exec,
    /// The task created task `arg`.
    Fork,
    /// A signal was delivered to a user handler of the task.
    Signal,
    /// The task entered call `arg`.
    Call,
    /// The task exited.
    Exit,
    /// At its bind, connect or send (`arg`), the task named `endpoint`.
    Endpoint,
}

/// One recorded task event (`struct ebph_record`), in the engine's order (`seq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Global order.
    pub seq: u64,
    /// The boot-time clock the engine used for this event (nanoseconds).
    pub now: u64,
    /// What happened.
    pub kind: RecordKind,
    /// The task.
    pub tid: u32,
    /// Call: the call; Fork: the child; Exec: the profile slot.
    pub arg: u32,
    /// Exec: the profile's key.
    pub key: ProfileKey,
    /// Endpoint: the endpoint (`ebph_core::Endpoint::id`).
    pub endpoint: u64,
}

pub(crate) const RECORD_SIZE: usize = record::SIZE;

impl Record {
    pub(crate) fn parse(data: &[u8]) -> Result<Record, EngineError> {
        expect_len("a record", data, RECORD_SIZE)?;
        let b = Bytes(data);
        let kind = match ebph_record_kind(b.u32(record::KIND)) {
            ebph_record_kind::EBPH_REC_EXEC => RecordKind::Exec,
            ebph_record_kind::EBPH_REC_FORK => RecordKind::Fork,
            ebph_record_kind::EBPH_REC_SIGNAL => RecordKind::Signal,
            ebph_record_kind::EBPH_REC_CALL => RecordKind::Call,
            ebph_record_kind::EBPH_REC_EXIT => RecordKind::Exit,
            ebph_record_kind::EBPH_REC_ENDPOINT => RecordKind::Endpoint,
            other => {
                return Err(EngineError::Layout(format!(
                    "unknown record kind {}",
                    other.0
                )))
            }
        };
        Ok(Record {
            seq: b.u64(record::SEQ),
            now: b.u64(record::NOW),
            kind,
            tid: b.u32(record::TID),
            arg: b.u32(record::ARG),
            key: b.key(record::KEY),
            endpoint: b.u64(record::KEY + key::DEV),
        })
    }
}

/// The engine's counters (`struct ebph_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Profiles created since load.
    pub profiles_created: u64,
    /// Programs not tracked because the profile table was full.
    pub profiles_full: u64,
    /// Lookahead rows that could not be allocated (pairs not learned).
    pub rows_full: u64,
    /// Index blocks that could not be allocated (tables not created).
    pub indexes_full: u64,
    /// Tasks not tracked because the task limit was reached.
    pub tasks_full: u64,
    /// Tasks tracked now.
    pub tasks_tracked: u64,
    /// Events dropped because the ring buffer was full.
    pub events_lost: u64,
    /// Records dropped because the recording ring buffer was full.
    pub records_lost: u64,
    /// Anomalous calls since load.
    pub anomalies: u64,
    /// Lookahead rows in use.
    pub rows_used: u64,
    /// Index blocks in use.
    pub indexes_used: u64,
    /// Holds not made because the keeper had not read the ones before (the task ran on).
    pub holds_dropped: u64,
    /// Anomalies counted but not reported one by one (more than a profile's share a second).
    pub anomalies_suppressed: u64,
    /// Profiles in the table now.
    pub profiles_used: u64,
    /// New profiles refused because their user had used up the minute's budget
    /// (`user-profiles`): those programs ran untracked.
    pub budget_denied: u64,
    /// Profiles, rows and index blocks refused to executables other users can change,
    /// because only the reserve kept for root's was left.
    pub reserve_denied: u64,
    /// `#!` scripts whose own file could not be found: they ran under their interpreter's
    /// profile.
    pub scripts_unseen: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    #[test]
    fn anomaly_events_decode_with_the_sequence_oldest_first() {
        let mut b = vec![0u8; EVENT_SIZE];
        put(&mut b, event::TYPE, &3u32.to_le_bytes());
        put(&mut b, event::PID, &100u32.to_le_bytes());
        put(&mut b, event::TID, &101u32.to_le_bytes());
        put(&mut b, event::TIME, &5_000u64.to_le_bytes());
        put(&mut b, event::KEY, &((254u64 << 20) | 1).to_le_bytes());
        put(&mut b, event::KEY + 8, &42u64.to_le_bytes());
        put(&mut b, event::SYSCALL, &1u32.to_le_bytes());
        put(&mut b, event::MISSES, &2u32.to_le_bytes());
        put(&mut b, event::LFC, &3u32.to_le_bytes());
        put(&mut b, event::SEQ_LEN, &3u32.to_le_bytes());
        // Newest first in the kernel: write(1), read(0), openat(257).
        for (i, nr) in [1u16, 0, 257].iter().enumerate() {
            put(&mut b, event::SEQUENCE + 2 * i, &nr.to_le_bytes());
        }
        put(&mut b, event::PATH, b"/bin/x\0junk");
        let e = Event::parse(&b).unwrap();
        assert_eq!(e.kind, EventType::ANOMALY);
        assert_eq!(
            (e.pid, e.tid, e.syscall, e.misses, e.lfc),
            (100, 101, 1, 2, 3)
        );
        assert_eq!(e.sequence, [257, 0, 1]);
        assert_eq!(e.key, ProfileKey::new(254, 1, 42));
        assert_eq!(e.path, "/bin/x");
    }

    #[test]
    fn event_types_are_the_c_enum_by_name() {
        assert_eq!(EventType::ANOMALY.name(), "anomaly");
        assert_eq!(EventType::ANOMALY.0, 3, "EBPH_EV_ANOMALY = 3");
        assert_eq!(
            EventType::named("novel_endpoint"),
            Some(EventType::NOVEL_ENDPOINT)
        );
        assert_eq!(EventType::named("reboot"), None);
        for t in EventType::ALL {
            assert_eq!(EventType::named(t.name()), Some(t));
            assert_eq!(EventType::of(t.0), Some(t));
        }
    }

    #[test]
    fn short_or_unknown_data_is_an_error() {
        assert!(Event::parse(&[0u8; 10]).is_err());
        let mut b = vec![0u8; EVENT_SIZE];
        put(&mut b, event::TYPE, &99u32.to_le_bytes());
        assert!(Event::parse(&b).is_err());
        assert!(
            Record::parse(&[0u8; RECORD_SIZE]).is_err(),
            "kind 0 is not a record"
        );
    }

    #[test]
    fn keys_round_trip_through_the_kernel_layout() {
        let key = ProfileKey::new(259, 3, 1 << 40).script_of(&ProfileKey::new(254, 1, 9));
        let bytes = key_to_kernel(&key);
        assert_eq!(Bytes(&bytes).key(0), key);
    }
}
