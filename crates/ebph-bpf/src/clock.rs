//! The engine's clock (boot time: nanoseconds since boot, suspend included) and wall time.

use std::time::{Duration, SystemTime};

use rustix::time::{clock_gettime, ClockId};

/// Now, on the engine's clock.
pub fn boot_now_ns() -> u64 {
    let t = clock_gettime(ClockId::Boottime);
    (t.tv_sec as u64) * 1_000_000_000 + t.tv_nsec as u64
}

/// The wall-clock time of `boot_ns` on the engine's clock (event times, normal times).
pub fn wall_time(boot_ns: u64) -> SystemTime {
    let now_boot = boot_now_ns();
    let now = SystemTime::now();
    if boot_ns <= now_boot {
        now - Duration::from_nanos(now_boot - boot_ns)
    } else {
        now + Duration::from_nanos(boot_ns - now_boot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_of_now_is_now() {
        let t = wall_time(boot_now_ns());
        let skew = SystemTime::now().duration_since(t).unwrap_or_default();
        assert!(skew < Duration::from_millis(100), "{skew:?}");
    }

    #[test]
    fn wall_time_keeps_distances() {
        let now = boot_now_ns();
        let week = Duration::from_secs(7 * 86_400);
        let later = wall_time(now + week.as_nanos() as u64);
        let earlier = wall_time(now - 1_000_000_000);
        let gap = later.duration_since(earlier).unwrap();
        assert!(
            gap > week && gap < week + Duration::from_millis(1100),
            "{gap:?}"
        );
    }
}
