//! What the keeper needs to know of other processes, from `/proc`.

/// Nanoseconds per clock tick in `/proc/PID/stat` (USER_HZ is 100 on every Linux ABI).
const NS_PER_TICK: u64 = 10_000_000;

/// A process as `/proc/PID/stat` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Its state letter (`R`, `S`, `T` = stopped, ...).
    pub state: char,
    /// When it started, in clock ticks since boot.
    pub start_ticks: u64,
}

/// Reads `/proc/PID/stat`; `None` when there is no such process.
pub(crate) fn stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields follow its last ')'.
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields 3.. of stat(5); the start time is field 22, the 20th after the name.
    let start_ticks = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_ticks })
}

/// Whether process `pid` is the one that started at `start_ns` (boot clock ns, as the engine
/// reports it); a start of 0 (unknown) matches any.
pub(crate) fn is_same(stat: &ProcStat, start_ns: u64) -> bool {
    start_ns == 0 || stat.start_ticks == start_ns / NS_PER_TICK
}

/// Sends SIGCONT to process `pid` if it is still the one that started at `start_ns`.
/// Returns whether it was sent.
pub(crate) fn continue_process(pid: u32, start_ns: u64) -> bool {
    let Some(stat) = stat(pid) else {
        return false;
    };
    if !is_same(&stat, start_ns) {
        return false;
    }
    send_cont(pid)
}

/// Sends SIGCONT to `pid` (no check of who it is).
pub(crate) fn send_cont(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).is_ok()
}

/// This boot's id: tells records written before a reboot apart.
pub(crate) fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_state_and_start() {
        let me = stat(std::process::id()).unwrap();
        assert!(matches!(me.state, 'R' | 'S'), "{me:?}");
        assert!(me.start_ticks > 0);
        assert!(is_same(&me, me.start_ticks * NS_PER_TICK + 5));
        assert!(!is_same(&me, (me.start_ticks + 1) * NS_PER_TICK));
        assert!(is_same(&me, 0));
        assert!(stat(u32::MAX).is_none());
    }

    #[test]
    fn a_gone_process_is_not_continued() {
        assert!(!continue_process(u32::MAX, 0));
    }
}
