//! The locality frame: how many of a task's recent calls were anomalous.

/// The largest locality frame, in calls.
pub const LOCALITY_FRAME_MAX: usize = 128;

/// A ring of one bit per recent call of a task: set when that call was anomalous.
///
/// The locality frame count (LFC) is the number of set bits. It is kept exact: every reset
/// clears both the bits and the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalityFrame {
    bits: u128,
    /// The slot the next call writes.
    pos: u8,
    /// The ring's length in calls (1..=128).
    size: u8,
    /// The number of set bits.
    count: u8,
}

impl Default for LocalityFrame {
    fn default() -> LocalityFrame {
        LocalityFrame::new(LOCALITY_FRAME_MAX as u8)
    }
}

impl LocalityFrame {
    /// An empty frame of `size` calls (clamped to 1..=128).
    pub fn new(size: u8) -> LocalityFrame {
        LocalityFrame {
            bits: 0,
            pos: 0,
            size: size.clamp(1, LOCALITY_FRAME_MAX as u8),
            count: 0,
        }
    }

    /// The locality frame count: how many of the last `size` calls were anomalous.
    #[inline]
    pub fn lfc(&self) -> u32 {
        self.count as u32
    }

    /// The ring's length in calls.
    pub fn size(&self) -> u8 {
        self.size
    }

    /// The raw slots (bit `i` is slot `i`), for comparing with the kernel engine.
    pub fn bits(&self) -> u128 {
        self.bits
    }

    /// The slot the next call writes.
    pub fn position(&self) -> u8 {
        self.pos
    }

    /// Forgets every anomaly.
    pub fn reset(&mut self) {
        *self = LocalityFrame::new(self.size);
    }

    /// Records one call, anomalous or not, and returns the new LFC.
    ///
    /// `size` is the current `locality-frame` setting; when it differs from the frame's length
    /// the frame starts over empty at the new length, so the count is never stale.
    #[inline]
    pub fn record(&mut self, anomalous: bool, size: u8) -> u32 {
        if size != self.size {
            *self = LocalityFrame::new(size);
        }
        let mask = 1u128 << self.pos;
        let was_set = self.bits & mask != 0;
        if anomalous && !was_set {
            self.bits |= mask;
            self.count += 1;
        } else if !anomalous && was_set {
            self.bits &= !mask;
            self.count -= 1;
        }
        self.pos += 1;
        if self.pos >= self.size {
            self.pos = 0;
        }
        self.count as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_anomalies_in_the_last_size_calls() {
        let mut lf = LocalityFrame::new(4);
        assert_eq!(lf.record(true, 4), 1);
        assert_eq!(lf.record(true, 4), 2);
        assert_eq!(lf.record(false, 4), 2);
        assert_eq!(lf.record(false, 4), 2);
        // The first anomaly falls out of the frame.
        assert_eq!(lf.record(false, 4), 1);
        assert_eq!(lf.record(false, 4), 0);
        assert_eq!(lf.bits(), 0);
    }

    #[test]
    fn full_frame_counts_every_slot() {
        let mut lf = LocalityFrame::default();
        for i in 0..LOCALITY_FRAME_MAX {
            assert_eq!(lf.record(true, 128), i as u32 + 1);
        }
        assert_eq!(lf.record(true, 128), 128);
        assert_eq!(lf.bits(), u128::MAX);
    }

    #[test]
    fn reset_and_resize_clear_the_count() {
        let mut lf = LocalityFrame::new(8);
        lf.record(true, 8);
        lf.record(true, 8);
        lf.reset();
        assert_eq!((lf.lfc(), lf.bits(), lf.size()), (0, 0, 8));
        lf.record(true, 8);
        assert_eq!(lf.record(true, 16), 1);
        assert_eq!(lf.size(), 16);
        assert_eq!(lf.bits().count_ones(), 1);
    }
}
