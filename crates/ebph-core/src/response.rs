//! The response pH asks for: how long to delay a task, and whether it may exec.

use std::time::Duration;

use crate::Settings;

/// The largest exponent of a delay: `2^LFC` is computed as `2^min(LFC, 31)`; the result is
/// capped by `max-delay` anyway.
const MAX_EXPONENT: u32 = 31;

/// The delay a task with locality frame count `lfc` is held after a call:
/// `delay_factor * 2^lfc`, at most `max_delay`, and nothing unless `lfc` exceeds
/// `delay_threshold` (0, pH: any `lfc` above 0).
pub fn delay_for(lfc: u32, settings: &Settings) -> Duration {
    if lfc <= settings.delay_threshold || settings.delay_factor.is_zero() {
        return Duration::ZERO;
    }
    settings
        .delay_factor
        .saturating_mul(1u32 << lfc.min(MAX_EXPONENT))
        .min(settings.max_delay)
}

/// Whether a task with locality frame count `lfc` may complete an execve.
pub fn execve_allowed(lfc: u32, settings: &Settings) -> bool {
    settings.suspend_execve == 0 || lfc <= settings.suspend_execve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_with_each_anomaly_up_to_the_cap() {
        let s = Settings {
            delay_threshold: 0,
            ..Settings::default()
        };
        assert_eq!(delay_for(0, &s), Duration::ZERO);
        assert_eq!(delay_for(1, &s), Duration::from_millis(2));
        assert_eq!(delay_for(2, &s), Duration::from_millis(4));
        assert_eq!(delay_for(10, &s), Duration::from_millis(1024));
        assert_eq!(delay_for(14, &s), s.max_delay);
        assert_eq!(delay_for(128, &s), s.max_delay);
        for lfc in 1..128 {
            assert!(delay_for(lfc, &s) >= delay_for(lfc - 1, &s));
        }
    }

    #[test]
    fn no_delay_up_to_the_threshold_then_the_same_delays_as_without() {
        let ph = Settings {
            delay_threshold: 0,
            ..Settings::default()
        };
        for threshold in [1, 4, 12, 128] {
            let s = Settings {
                delay_threshold: threshold,
                ..Settings::default()
            };
            for lfc in 0..=128 {
                let expected = if lfc <= threshold {
                    Duration::ZERO
                } else {
                    delay_for(lfc, &ph)
                };
                assert_eq!(
                    delay_for(lfc, &s),
                    expected,
                    "LFC {lfc}, threshold {threshold}"
                );
            }
        }
        assert_eq!(Settings::ph().delay_threshold, 0);
        assert!(delay_for(1, &Settings::ph()) > Duration::ZERO);
    }

    #[test]
    fn zero_factor_means_no_delay() {
        let s = Settings {
            delay_factor: Duration::ZERO,
            ..Settings::default()
        };
        assert_eq!(delay_for(20, &s), Duration::ZERO);
    }

    #[test]
    fn execve_is_refused_only_above_a_nonzero_threshold() {
        let mut s = Settings {
            suspend_execve: 5,
            ..Settings::default()
        };
        assert!(execve_allowed(5, &s));
        assert!(!execve_allowed(6, &s));
        s.suspend_execve = 0;
        assert!(execve_allowed(128, &s));
    }
}
