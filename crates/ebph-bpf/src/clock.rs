//! The engine's clock (boot time: nanoseconds since boot, suspend included) and wall time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// `boot_ns` on the engine's clock as Unix nanoseconds, for what must outlive a reboot (a
/// frozen profile's normal time); 0 stays 0 (no time).
pub fn unix_ns_of(boot_ns: u64) -> u64 {
    if boot_ns == 0 {
        return 0;
    }
    wall_time(boot_ns)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as u64)
}

/// Unix nanoseconds as the engine's clock now reads them (the inverse of [`unix_ns_of`]); 0
/// stays 0, and a time before this boot is its first nanosecond.
pub fn boot_ns_of(unix_ns: u64) -> u64 {
    if unix_ns == 0 {
        return 0;
    }
    let wall = UNIX_EPOCH + Duration::from_nanos(unix_ns);
    let now_boot = boot_now_ns();
    match wall.duration_since(SystemTime::now()) {
        Ok(ahead) => now_boot.saturating_add(ahead.as_nanos() as u64),
        Err(behind) => now_boot
            .saturating_sub(behind.duration().as_nanos() as u64)
            .max(1),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn normal_times_survive_as_wall_clock() {
        // An hour from now on the engine's clock, through Unix time and back.
        let normal_time = boot_now_ns() + 3_600_000_000_000;
        let back = boot_ns_of(unix_ns_of(normal_time));
        let diff = back.abs_diff(normal_time);
        assert!(diff < 50_000_000, "off by {diff} ns");
        assert_eq!(
            (unix_ns_of(0), boot_ns_of(0)),
            (0, 0),
            "no time stays no time"
        );
    }

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
