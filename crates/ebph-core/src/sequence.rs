//! The window of a task's most recent system calls.

use crate::Syscall;

/// The largest window: the current call and the 8 calls before it.
pub const WINDOW_MAX: usize = 9;

/// How many earlier calls a window remembers (`WINDOW_MAX - 1`): the distances 1..=8 of a
/// lookahead pair.
pub const LOOKAHEAD: usize = WINDOW_MAX - 1;

/// The calls a task made before the current one, most recent first.
///
/// Positions that have not been filled since the last reset (a fresh exec, a fresh signal
/// frame) are absent and are skipped when a call is tested or learned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sequence {
    /// `prev[i - 1]` is the call made `i` calls before the current one.
    prev: [Syscall; LOOKAHEAD],
    /// How many positions of `prev` are filled (0..=LOOKAHEAD).
    len: u8,
}

impl Sequence {
    /// An empty sequence.
    pub fn new() -> Sequence {
        Sequence::default()
    }

    /// Records `call` as the most recent call.
    #[inline]
    pub fn push(&mut self, call: Syscall) {
        self.prev.copy_within(0..LOOKAHEAD - 1, 1);
        self.prev[0] = call;
        if (self.len as usize) < LOOKAHEAD {
            self.len += 1;
        }
    }

    /// Forgets every call.
    pub fn clear(&mut self) {
        *self = Sequence::default();
    }

    /// The call made `distance` calls ago (1 = the most recent), if that position is filled.
    #[inline]
    pub fn previous(&self, distance: usize) -> Option<Syscall> {
        (distance >= 1 && distance <= self.len as usize).then(|| self.prev[distance - 1])
    }

    /// The remembered calls, most recent first.
    #[inline]
    pub fn recent(&self) -> &[Syscall] {
        &self.prev[..self.len as usize]
    }

    /// How many calls are remembered (at most [`LOOKAHEAD`]).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether no call is remembered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `call` is one of the `depth` most recent calls: a loop over at most `depth`
    /// distinct calls turning again, in any order. With `fold-loops = depth` such a call is
    /// not seen at all, so the window holds each turn of a small loop once however often it
    /// turns, and whatever the order its calls come in (a read/write loop whose writes follow
    /// a buffer, not the reads). `depth` 0 never folds.
    #[inline]
    pub fn folds(&self, call: Syscall, depth: u8) -> bool {
        self.prev[..usize::from(depth).min(self.len as usize)].contains(&call)
    }

    /// The remembered calls followed by `current`, oldest first: the sequence an anomaly
    /// report shows.
    pub fn with_current(&self, current: Syscall) -> Vec<Syscall> {
        let mut calls: Vec<Syscall> = self.recent().iter().rev().copied().collect();
        calls.push(current);
        calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u16) -> Syscall {
        Syscall::new(n).unwrap()
    }

    #[test]
    fn remembers_the_last_eight_calls_most_recent_first() {
        let mut seq = Sequence::new();
        assert!(seq.is_empty());
        assert_eq!(seq.previous(1), None);
        for n in 1..=10 {
            seq.push(s(n));
        }
        assert_eq!(seq.len(), LOOKAHEAD);
        assert_eq!(seq.previous(1), Some(s(10)));
        assert_eq!(seq.previous(8), Some(s(3)));
        assert_eq!(seq.previous(9), None);
        assert_eq!(seq.previous(0), None);
    }

    #[test]
    fn a_call_among_the_most_recent_ones_folds() {
        let seq = |calls: &[u16]| {
            let mut q = Sequence::new();
            calls.iter().for_each(|&c| q.push(s(c)));
            q
        };
        assert!(seq(&[1, 2]).folds(s(2), 1));
        assert!(!seq(&[1, 2]).folds(s(1), 1), "two calls ago, but depth 1");
        assert!(seq(&[1, 2]).folds(s(1), 2));
        assert!(seq(&[1, 2, 3]).folds(s(1), 3));
        assert!(!seq(&[1, 2, 3, 4]).folds(s(1), 3), "four calls ago");
        assert!(!seq(&[1, 2, 3]).folds(s(4), 3));
        assert!(!seq(&[1, 2, 3]).folds(s(3), 0), "depth 0: pH exactly");
        assert!(
            !Sequence::new().folds(s(0), 4),
            "an empty position is no call"
        );
        assert!(!seq(&[5]).folds(s(0), 4));
    }

    #[test]
    fn unfilled_positions_are_absent() {
        let mut seq = Sequence::new();
        seq.push(s(7));
        seq.push(s(8));
        assert_eq!(seq.recent(), &[s(8), s(7)]);
        assert_eq!(seq.previous(3), None);
        assert_eq!(seq.with_current(s(9)), vec![s(7), s(8), s(9)]);
        seq.clear();
        assert!(seq.is_empty());
    }
}
