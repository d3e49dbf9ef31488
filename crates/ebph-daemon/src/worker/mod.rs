//! The engine's thread: it owns the kernel engine and the database, turns engine events into
//! log lines and anomaly history, saves on an interval, and answers the API's requests.
//!
//! [`Worker`] keeps the engine, the store, the configuration and the publisher, and
//! dispatches; the rest is kept by parts that own their state, each given what it needs:
//!
//! | part | owns | file |
//! | --- | --- | --- |
//! | [`settings::Layered`] | the settings in force, where each comes from, the file as read; pushes them to the engine | `settings.rs` |
//! | [`holds::Holds`] | the processes held for a delay, the keeper that continues them | `holds.rs` |
//! | [`catalogue::Catalogue`] | every profile's path and last use; eviction and expiry | `catalogue.rs`, `eviction.rs` |
//! | [`publisher::Publisher`] | the event log, `ebph logs`' latest events, the live stream | `publisher.rs` |
//! | [`counters::Counters`] | what the metrics count of events, and the uptime | `counters.rs` |
//! | [`saves::Saving`] | when profiles were last saved and are next | `saves.rs` |
//! | [`upkeep::Upkeep`] | what is done now and then: the log's path, losses | `upkeep.rs` |
//!
//! The worker's own methods: the event pipeline (`events.rs`), the API's reads (`views.rs`),
//! its changes (`control.rs`) and imports (`imports.rs`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Result;
use ebph_bpf::Engine;

use crate::config::Config;
use crate::mailbox::{Command, Inbox, Outputs};
use crate::store::Store;

mod allowlist;
mod catalogue;
mod control;
mod counters;
mod events;
mod eviction;
mod holds;
mod imports;
mod publisher;
mod saves;
mod settings;
mod upkeep;
mod views;

pub use imports::check_trust;

struct Worker {
    engine: Engine,
    store: Store,
    config: Config,
    /// Where events go: the log, `ebph logs`, the live stream.
    publisher: publisher::Publisher,
    /// The settings in force, and where each comes from.
    settings: settings::Layered,
    /// Processes held for a delay, and the keeper that continues them.
    holds: holds::Holds,
    /// Every profile's path and last use; eviction and expiry.
    catalogue: catalogue::Catalogue,
    /// What the metrics count.
    counters: counters::Counters,
    /// When profiles were saved, and are next.
    saving: saves::Saving,
    /// What is done now and then.
    upkeep: upkeep::Upkeep,
}

/// Loads the engine and the saved profiles, attaches, then serves `inbox` until every sender
/// is gone; saves before returning. `ready` gets the outcome of starting.
///
/// It sleeps until there is work: an event in the ring buffer, a request (the inbox's
/// doorbell), the keeper exiting, or a timer that is due (upkeep once a second, the next
/// save, the end of a hold it shows).
pub fn run(
    config: Config,
    store: Store,
    inbox: Inbox,
    outputs: Outputs,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<()> {
    let mut worker = match Worker::start(config, store, outputs) {
        Ok(worker) => {
            let _ = ready.send(Ok(()));
            worker
        }
        Err(e) => {
            let _ = ready.send(Err(format!("{e:#}")));
            return Err(e);
        }
    };
    worker.apply_allowlist();
    let source = worker.engine.event_source()?;
    let pending = Rc::new(RefCell::new(Vec::new()));
    let sink = pending.clone();
    let subscription = source.subscribe(move |e| sink.borrow_mut().push(e))?;
    // Handles every event the engine reported so far.
    let drain = |worker: &mut Worker| -> Result<()> {
        subscription.consume()?;
        worker.handle_events(pending.take());
        Ok(())
    };
    'serve: loop {
        worker.wait(&subscription, &inbox);
        drain(&mut worker)?;
        inbox.answer_bell();
        loop {
            match inbox.next() {
                Ok(Some(command)) => {
                    // Answer with every event so far taken into account (paths of new
                    // profiles).
                    drain(&mut worker)?;
                    worker.handle(command);
                }
                Ok(None) => break,
                Err(_) => break 'serve,
            }
        }
        worker.end_due();
        worker.upkeep();
        if worker.saving.is_due() {
            if let Err(e) = worker.save() {
                tracing::error!("saving profiles failed: {}", e.message);
            }
        }
    }
    drain(&mut worker)?;
    // No task is left stopped: no new holds, and every held process continues now.
    worker.holds.turn_off();
    worker.settings.push(&mut worker.engine, true);
    worker.holds.release_all();
    let saved = worker.save().map_err(|e| anyhow::anyhow!(e.message));
    // Detached, then the keeper may go: nothing can be held any more.
    let Worker { engine, holds, .. } = worker;
    drop(engine);
    holds.stop();
    let saved = saved?;
    tracing::info!("saved {} profiles on the way out", saved.profiles);
    Ok(())
}

impl Worker {
    fn start(config: Config, store: Store, outputs: Outputs) -> Result<Worker> {
        let settings = settings::Layered::load(&config, &store)?;
        let mut engine = Engine::load(&config.capacity)?;
        engine.set_daemon_pid(std::process::id());
        settings.push(&mut engine, false);
        // Before anything can be held: the keeper continues held processes (and any left
        // stopped by an ebph that died).
        let holds = holds::Holds::start(&engine, &config.holds_dir())?;
        let (catalogue, loaded) =
            catalogue::Catalogue::load(&mut engine, &store, settings.current().ngram_length)?;
        // Attached first, so that tasks exiting from now on are seen; then every task that was
        // already running is associated with its executable's profile.
        engine.attach()?;
        let kernel = views::kernel_support(&engine);
        tracing::info!("kernel {}: {}", kernel.release, kernel.summary());
        let associated = engine.associate_running()?;
        tracing::info!(
            "engine attached; {loaded} saved profiles loaded from {}; {associated} running tasks associated",
            config.database().display(),
        );
        let publisher = publisher::Publisher::open(&config, outputs)?;
        let saving = saves::Saving::new(config.save_interval);
        Ok(Worker {
            engine,
            store,
            config,
            publisher,
            settings,
            holds,
            catalogue,
            counters: counters::Counters::new(),
            saving,
            upkeep: upkeep::Upkeep::new(),
        })
    }

    /// Sleeps until there is work: an event, a request, the keeper exiting, or the next
    /// timer (upkeep, a save, the end of a hold shown by `ebph ps`).
    fn wait(&self, events: &ebph_bpf::Subscription<'_>, inbox: &Inbox) {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let now = Instant::now();
        let mut next = self.saving.next().min(self.upkeep.due());
        if let Some(until) = self.holds.next_end() {
            let left = until.saturating_sub(ebph_bpf::boot_now_ns());
            next = next.min(now + Duration::from_nanos(left));
        }
        // (Too far to say as a timespec: wait for an fd.)
        let timeout = Timespec::try_from(next.saturating_duration_since(now)).ok();
        let mut fds = vec![
            PollFd::new(events, PollFlags::IN),
            PollFd::new(inbox, PollFlags::IN),
        ];
        if let Some(keeper) = self.holds.watch() {
            fds.push(PollFd::from_borrowed_fd(keeper, PollFlags::IN));
        }
        let _ = poll(&mut fds, timeout.as_ref());
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Status(reply) => drop(reply.send(self.status())),
            Command::Profiles(reply) => drop(reply.send(self.profiles())),
            Command::Profile(target, reply) => drop(reply.send(self.profile(&target))),
            Command::Processes(threads, reply) => drop(reply.send(self.processes(threads))),
            Command::GetSettings(reply) => drop(reply.send(Ok(self.setting_values()))),
            Command::SetSettings(values, force, reply) => {
                drop(reply.send(self.set(&values, force)))
            }
            Command::Admin(op, target, reply) => drop(reply.send(self.admin(op, &target))),
            Command::Save(reply) => drop(reply.send(self.save())),
            Command::Release(pid, reply) => drop(reply.send(self.release(pid))),
            Command::Metrics(reply) => drop(reply.send(self.metrics())),
            Command::Export(target, reply) => drop(reply.send(self.export(&target))),
            Command::Anomalies(limit, reply) => drop(reply.send(self.anomalies(limit))),
            Command::Reload => self.reload(),
            Command::Delete(target, reply) => drop(reply.send(self.delete(&target))),
            Command::Import(request, reply) => drop(reply.send(self.import(*request))),
        }
    }

    /// Forgets holds that have ended, and checks that the keeper is there: when it keeps
    /// dying, nothing is held any more (the engine runs as in monitor mode).
    fn end_due(&mut self) {
        if self.holds.check_keeper() {
            self.settings.push(&mut self.engine, true);
        }
        self.holds.end_due();
    }

    /// Applies the allowlist to every profile.
    fn apply_allowlist(&self) {
        allowlist::apply(
            &self.engine,
            &self.catalogue,
            &self.settings.current().allowlist,
        );
    }

    /// Saves every profile now.
    fn save(&mut self) -> Result<ebph_api::protocol::Saved, crate::mailbox::ApiError> {
        self.saving.save(
            &self.engine,
            &mut self.store,
            &self.catalogue,
            &self.config,
            self.settings.current().ngram_length,
        )
    }
}
