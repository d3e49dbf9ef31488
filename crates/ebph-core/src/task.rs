//! What ebph remembers about one task (thread): its windows and its locality frame.

use crate::{LocalityFrame, Sequence};

/// Signal frames a task keeps: the base frame plus three nested signal handlers.
///
/// A signal delivered while all frames are in use (a fourth nested handler) does not push:
/// the innermost frame is cleared instead and an overflow is counted, so that the matching
/// `rt_sigreturn` clears it again rather than popping a frame that belongs to an outer
/// handler. The calls of the interrupted innermost handler are forgotten; nothing else is.
pub const SIGNAL_FRAMES: usize = 4;

/// The per-task state of pH: one [`Sequence`] per signal frame and a [`LocalityFrame`].
///
/// Tasks are threads: every thread has its own state. A new task (fork, vfork, clone,
/// thread) starts as a copy of its parent's, so a fork cannot be used to break a sequence or
/// to shed a locality frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskState {
    frames: [Sequence; SIGNAL_FRAMES],
    /// Index of the current frame (0 = no handler running).
    depth: u8,
    /// Signals delivered while every frame was in use and not yet returned from (saturating
    /// at `u16::MAX`, as the kernel engine's counter does).
    overflow: u16,
    /// Anomalies among the task's recent calls.
    pub locality: LocalityFrame,
    /// What the task has done in its current run of its program.
    pub run: Run,
}

/// What a task has done in its current run of a program (since it executed the program or
/// was forked), for accepting repeated new behaviour (see [`crate::Profile::end_run`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Run {
    /// A call of the run changed the profile's train table: it taught it something new that
    /// counts for the detector, or its LFC passed the tolerize limit and emptied it.
    pub changed_train: bool,
    /// A call of the run was anomalous.
    pub anomalous: bool,
}

impl TaskState {
    /// A task that has made no call yet.
    pub fn new() -> TaskState {
        TaskState::default()
    }

    /// The window of the current signal frame.
    #[inline]
    pub fn sequence(&self) -> &Sequence {
        &self.frames[self.depth as usize]
    }

    /// The window of the current signal frame, to change.
    #[inline]
    pub fn sequence_mut(&mut self) -> &mut Sequence {
        &mut self.frames[self.depth as usize]
    }

    /// How many signal handlers are running (frames pushed), overflowed ones included.
    pub fn signal_depth(&self) -> u32 {
        u32::from(self.depth) + u32::from(self.overflow)
    }

    /// The locality frame count.
    #[inline]
    pub fn lfc(&self) -> u32 {
        self.locality.lfc()
    }

    /// The task executed a new program: every window and the locality frame start empty.
    pub fn exec(&mut self) {
        let size = self.locality.size();
        *self = TaskState::new();
        self.locality = LocalityFrame::new(size);
    }

    /// The state a new child (fork, vfork, clone, thread) of this task starts with: a copy of
    /// its windows and locality frame; its run starts afresh.
    pub fn fork(&self) -> TaskState {
        TaskState {
            run: Run::default(),
            ..*self
        }
    }

    /// A signal is being delivered to a user handler: the handler's calls start a fresh frame.
    pub fn signal_delivered(&mut self) {
        if (self.depth as usize) + 1 < SIGNAL_FRAMES {
            self.depth += 1;
        } else {
            self.overflow = self.overflow.saturating_add(1);
        }
        self.sequence_mut().clear();
    }

    /// The task returned from a signal handler: back to the interrupted frame.
    ///
    /// A return with no handler running (a signal delivered before ebph watched the task)
    /// changes nothing.
    pub fn signal_returned(&mut self) {
        if self.overflow > 0 {
            self.overflow -= 1;
            self.sequence_mut().clear();
        } else if self.depth > 0 {
            self.depth -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Syscall;

    fn s(n: u16) -> Syscall {
        Syscall::new(n).unwrap()
    }

    #[test]
    fn a_handler_gets_a_fresh_frame_and_returns_to_the_old_one() {
        let mut t = TaskState::new();
        t.sequence_mut().push(s(1));
        t.sequence_mut().push(s(2));
        t.signal_delivered();
        assert!(t.sequence().is_empty());
        t.sequence_mut().push(s(9));
        t.signal_returned();
        assert_eq!(t.sequence().recent(), &[s(2), s(1)]);
        assert_eq!(t.signal_depth(), 0);
    }

    #[test]
    fn unmatched_sigreturn_changes_nothing() {
        let mut t = TaskState::new();
        t.sequence_mut().push(s(1));
        let before = t;
        t.signal_returned();
        assert_eq!(t, before);
    }

    #[test]
    fn overflowing_handlers_keep_pops_balanced() {
        let mut t = TaskState::new();
        t.sequence_mut().push(s(1));
        for depth in 1..=3u16 {
            t.signal_delivered();
            t.sequence_mut().push(s(10 + depth));
        }
        assert_eq!(t.signal_depth(), 3);
        // Two more nested handlers overflow.
        t.signal_delivered();
        assert!(t.sequence().is_empty());
        t.sequence_mut().push(s(50));
        t.signal_delivered();
        assert_eq!(t.signal_depth(), 5);
        t.signal_returned();
        t.signal_returned();
        // The innermost real frame was overwritten by the overflow: it is empty.
        assert_eq!(t.signal_depth(), 3);
        assert!(t.sequence().is_empty());
        t.signal_returned();
        assert_eq!(t.sequence().recent(), &[s(12)]);
        t.signal_returned();
        t.signal_returned();
        assert_eq!(t.sequence().recent(), &[s(1)]);
        assert_eq!(t.signal_depth(), 0);
    }

    #[test]
    fn the_overflow_count_saturates_as_the_engines_does() {
        let mut t = TaskState::new();
        for _ in 0..70_000 {
            t.signal_delivered();
        }
        assert_eq!(t.signal_depth(), 3 + u32::from(u16::MAX));
        t.signal_returned();
        assert_eq!(t.signal_depth(), 3 + u32::from(u16::MAX) - 1);
    }

    #[test]
    fn exec_clears_everything_and_fork_copies_all_but_the_run() {
        let mut t = TaskState::new();
        t.sequence_mut().push(s(1));
        t.signal_delivered();
        t.sequence_mut().push(s(2));
        t.locality.record(true, 128);
        t.run.anomalous = true;
        let child = t.fork();
        assert_eq!(child.run, Run::default(), "a child's run starts afresh");
        assert_eq!(
            TaskState {
                run: t.run,
                ..child
            },
            t
        );
        t.exec();
        assert_eq!(t, TaskState::new());
        assert_eq!(child.lfc(), 1);
    }
}
