//! The engine's holds, as the keeper reads them: every process the engine stops with SIGSTOP,
//! and until when. The kernel writes a hold before it sends the signal (and sends none when
//! there is no room), so a reader of every hold knows every process the engine stopped.

use libbpf_rs::{MapCore, MapHandle, RingBufferBuilder};

use crate::abi::{expect_len, Bytes};
use crate::error::Context;
use crate::layout::hold;
use crate::{EngineError, Subscription};

/// One hold: process `pid` (stopped by its task `tid`) is to be continued at `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold {
    /// The process (thread group) stopped.
    pub pid: u32,
    /// Its task whose call was held.
    pub tid: u32,
    /// When the process started, boot clock ns (`/proc/PID/stat`'s start time, finer): tells
    /// the process apart from a later one with the same pid.
    pub start_time: u64,
    /// When to continue it, boot clock ns ([`crate::boot_now_ns`]).
    pub until: u64,
}

impl Hold {
    pub(crate) fn parse(data: &[u8]) -> Result<Hold, EngineError> {
        expect_len("a hold", data, hold::SIZE)?;
        let b = Bytes(data);
        Ok(Hold {
            pid: b.u32(hold::PID),
            tid: b.u32(hold::TID),
            start_time: b.u64(hold::START_TIME),
            until: b.u64(hold::UNTIL),
        })
    }
}

/// The engine's holds ring buffer, opened by its id from another process (the keeper).
pub struct Holds {
    handle: MapHandle,
}

impl Holds {
    /// Opens the holds ring buffer whose id is `map_id` ([`crate::Engine::holds_map_id`]).
    /// The buffer lives as long as someone has it open, the engine or this.
    pub fn open(map_id: u32) -> Result<Holds, EngineError> {
        crate::engine::check_privileges()?;
        let handle = MapHandle::from_map_id(map_id)
            .context(format!("opening the engine's holds (map id {map_id})"))?;
        if handle.name() != "holds" {
            return Err(EngineError::Layout(format!(
                "map {map_id} is {:?}, not the engine's holds",
                handle.name()
            )));
        }
        Ok(Holds { handle })
    }

    /// Reads holds: `handle` is called for each from [`Subscription::consume`] (or `poll`).
    pub fn reader<'a>(
        &'a self,
        mut handle: impl FnMut(Hold) + 'a,
    ) -> Result<Subscription<'a>, EngineError> {
        let mut builder = RingBufferBuilder::new();
        builder
            .add(&self.handle, move |data: &[u8]| {
                if let Ok(h) = Hold::parse(data) {
                    handle(h);
                }
                0
            })
            .context("reading holds")?;
        Ok(Subscription::new(builder.build().context("reading holds")?))
    }
}
