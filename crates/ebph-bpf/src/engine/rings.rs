//! The ring buffers (`events.h`): events for the daemon, holds for the keeper, and the
//! test-only records.

use std::time::Duration;

use libbpf_rs::{MapCore, RingBuffer, RingBufferBuilder};

use super::Engine;
use crate::error::Context;
use crate::{EngineError, Event, Record};

impl Engine {
    /// Subscribes to the engine's events; `handle` is called for each from
    /// [`Subscription::poll`].
    pub fn subscribe<'a>(
        &'a self,
        handle: impl FnMut(Event) + 'a,
    ) -> Result<Subscription<'a>, EngineError> {
        subscribe_events(&self.skel.maps.events, handle)
    }

    /// The engine's event ring buffer as a value of its own, so that events can be read
    /// while the engine itself is changed (settings, admin operations).
    pub fn event_source(&self) -> Result<EventSource, EngineError> {
        let handle = libbpf_rs::MapHandle::try_from(&self.skel.maps.events)
            .context("opening the event ring buffer")?;
        Ok(EventSource { handle })
    }

    /// The id of the holds ring buffer, which the keeper opens (see [`crate::Holds`]).
    pub fn holds_map_id(&self) -> Result<u32, EngineError> {
        let info = self
            .skel
            .maps
            .holds
            .info()
            .context("reading the holds ring buffer's id")?;
        Ok(info.info.id)
    }

    /// Test-only: subscribes to the records (see [`Engine::set_recording`]).
    pub fn subscribe_records<'a>(
        &'a self,
        mut handle: impl FnMut(Record) + 'a,
    ) -> Result<Subscription<'a>, EngineError> {
        let mut builder = RingBufferBuilder::new();
        builder
            .add(&self.skel.maps.records, move |data: &[u8]| {
                if let Ok(record) = Record::parse(data) {
                    handle(record);
                }
                0
            })
            .context("subscribing to records")?;
        Ok(Subscription {
            ring: builder.build().context("subscribing to records")?,
        })
    }
}

fn subscribe_events<'a>(
    map: &'a dyn MapCore,
    mut handle: impl FnMut(Event) + 'a,
) -> Result<Subscription<'a>, EngineError> {
    let mut builder = RingBufferBuilder::new();
    builder
        .add(map, move |data: &[u8]| {
            if let Ok(event) = Event::parse(data) {
                handle(event);
            }
            0
        })
        .context("subscribing to events")?;
    Ok(Subscription {
        ring: builder.build().context("subscribing to events")?,
    })
}

/// The engine's event ring buffer, held apart from the engine.
pub struct EventSource {
    handle: libbpf_rs::MapHandle,
}

impl EventSource {
    /// Subscribes to the events; `handle` is called for each from [`Subscription::poll`].
    pub fn subscribe<'a>(
        &'a self,
        handle: impl FnMut(Event) + 'a,
    ) -> Result<Subscription<'a>, EngineError> {
        subscribe_events(&self.handle, handle)
    }
}

/// A subscription to one of the engine's ring buffers (events, records, holds).
pub struct Subscription<'a> {
    ring: RingBuffer<'a>,
}

impl<'a> Subscription<'a> {
    pub(crate) fn new(ring: RingBuffer<'a>) -> Subscription<'a> {
        Subscription { ring }
    }
}

impl std::os::fd::AsFd for Subscription<'_> {
    /// A descriptor that is readable when there is data (for poll).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the ring buffer owns this epoll descriptor for as long as it lives, and the
        // returned borrow cannot outlive `self`.
        #[allow(unsafe_code)]
        unsafe {
            std::os::fd::BorrowedFd::borrow_raw(self.ring.epoll_fd())
        }
    }
}

impl Subscription<'_> {
    /// Waits up to `timeout` for data and handles all that is there.
    pub fn poll(&self, timeout: Duration) -> Result<(), EngineError> {
        self.ring.poll(timeout).context("reading a ring buffer")
    }

    /// Handles all data that is there now, without waiting.
    pub fn consume(&self) -> Result<(), EngineError> {
        self.ring.consume().context("reading a ring buffer")
    }
}
