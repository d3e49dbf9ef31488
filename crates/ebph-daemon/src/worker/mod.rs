//! The engine's thread: it owns the kernel engine and the database, turns engine events into
//! log lines and anomaly history, saves on an interval, and answers the API's requests.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use ebph_api::protocol::Event;
use ebph_bpf::Engine;
use ebph_core::{ProfileKey, Settings};

use crate::config::Config;
use crate::event_log::{self, EventLog};
use crate::keeper::Keeper;
use crate::mailbox::{Command, Inbox, Outputs};
use crate::recent::RecentEvents;
use crate::store::Store;

mod allowlist;
mod control;
mod events;
mod eviction;
mod holds;
mod imports;

pub use imports::check_trust;
mod saves;
mod settings;
mod upkeep;
mod views;

struct Worker {
    engine: Engine,
    store: Store,
    config: Config,
    settings: Settings,
    paths: HashMap<ProfileKey, String>,
    /// When profiles loaded at start were last used (Unix ns), until the engine says later.
    used_before: HashMap<ProfileKey, u64>,
    /// Evicting profiles to make room, and expiring them.
    eviction: eviction::Eviction,
    log: EventLog,
    outputs: Outputs,
    started: Instant,
    last_save: Option<SystemTime>,
    next_save: Instant,
    /// Processes held for a delay, and until when (engine clock), as the events tell.
    held: HashMap<u32, u64>,
    /// Continues held processes (a process of its own).
    keeper: Keeper,
    /// The keeper could not be kept running: the engine holds nothing.
    holds_off: bool,
    /// Where the settings come from.
    layers: settings::Layers,
    /// The configuration file as it was last read (flags aside).
    file_config: Config,
    /// What is done now and then.
    upkeep: upkeep::Upkeep,
    /// Counters for metrics: delays, refused execs, saves, the last save's duration.
    delays: u64,
    execve_refused: u64,
    novel_execs: u64,
    novel_endpoints: u64,
    saves: u64,
    last_save_seconds: f64,
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
    if let Err(e) = worker.apply_allowlist() {
        tracing::error!("applying the allowlist failed: {}", e.message);
    }
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
        if Instant::now() >= worker.next_save {
            if let Err(e) = worker.save() {
                tracing::error!("saving profiles failed: {}", e.message);
            }
        }
    }
    drain(&mut worker)?;
    // No task is left stopped: no new holds, and every held process continues now.
    worker.holds_off = true;
    worker.push_settings();
    worker.release_all();
    let saved = worker.save().map_err(|e| anyhow::anyhow!(e.message));
    // Detached, then the keeper may go: nothing can be held any more.
    let Worker { engine, keeper, .. } = worker;
    drop(engine);
    keeper.stop();
    let saved = saved?;
    tracing::info!("saved {} profiles on the way out", saved.profiles);
    Ok(())
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

impl Worker {
    fn start(config: Config, store: Store, outputs: Outputs) -> Result<Worker> {
        let file_config = match &config.file {
            Some(path) => Config::load(path, false)?,
            None => Config::default(),
        };
        let layers = settings::Layers {
            saved: settings::readable_saved(store.settings()?),
            file: config.file_settings.clone(),
            overridden: Default::default(),
        };
        let settings = layers.resolve().map_err(|e| {
            anyhow::anyhow!(
                "the settings do not go together: {e} ({}). The configuration file's values win over those set with `ebph set`: set it there too, or change the other",
                layers.describe(config.file.as_deref())
            )
        })?;
        layers.log_shadowed(config.file.as_deref());
        let missing = settings::missing_paths(&settings);
        if !missing.is_empty() {
            tracing::warn!(
                "allowlist entries that do not exist: {}",
                missing.join(", ")
            );
        }
        let mut engine = Engine::load(&config.capacity)?;
        engine.set_daemon_pid(std::process::id());
        engine.set_settings(&settings);
        // Before anything can be held: the keeper continues held processes (and any left
        // stopped by an ebph that died).
        let keeper = Keeper::start(engine.holds_map_id()?, &config.holds_dir())?;
        let mut paths = HashMap::new();
        let mut used_before = HashMap::new();
        let mut saved = store.load_profiles()?;
        let mut refit = 0;
        for p in &mut saved {
            // Saved on the wall clock; the engine counts from boot.
            p.profile.normal_time = ebph_bpf::boot_ns_of(p.profile.normal_time);
            refit += usize::from(p.fit_ngram_length(settings.ngram_length));
            engine
                .insert_profile(&p.key, &p.profile, &eviction::usage_of(&p.origin))
                .with_context(|| format!("loading the profile of {} ({})", p.path, p.key))?;
            paths.insert(p.key, p.path.clone());
            used_before.insert(p.key, p.origin.last_used);
        }
        if refit > 0 {
            tracing::warn!(
                "{refit} saved profiles learned their n-grams with another ngram-length than {}: \
                 those n-grams are forgotten and learned again",
                settings.ngram_length
            );
        }
        // Attached first, so that tasks exiting from now on are seen; then every task that was
        // already running is associated with its executable's profile.
        engine.attach()?;
        let kernel = views::kernel_support(&engine);
        tracing::info!("kernel {}: {}", kernel.release, kernel.summary());
        let associated = engine.associate_running()?;
        tracing::info!(
            "engine attached; {} saved profiles loaded from {}; {} running tasks associated",
            saved.len(),
            config.database().display(),
            associated
        );
        // `ebph logs` shows the latest events across restarts: the tail of the event log
        // (read from its end, however large it is), long enough that a flood of delays at
        // its end leaves the events before it.
        {
            let mut recent = outputs.recent.lock().unwrap_or_else(|e| e.into_inner());
            for line in event_log::tail(&config.event_log(), 10 * RecentEvents::EACH) {
                if let Ok(event) = serde_json::from_str::<Event>(&line) {
                    recent.push(event);
                }
            }
        }
        let log = EventLog::open(&config.event_log(), config.log_max_size, config.log_files)?;
        let next_save = Instant::now() + config.save_interval;
        Ok(Worker {
            engine,
            store,
            settings,
            paths,
            used_before,
            eviction: eviction::Eviction::default(),
            log,
            outputs,
            started: Instant::now(),
            last_save: None,
            next_save,
            config,
            held: HashMap::new(),
            keeper,
            holds_off: false,
            layers,
            file_config,
            upkeep: upkeep::Upkeep::new(),
            delays: 0,
            execve_refused: 0,
            novel_execs: 0,
            novel_endpoints: 0,
            saves: 0,
            last_save_seconds: 0.0,
        })
    }

    /// Sleeps until there is work: an event, a request, the keeper exiting, or the next
    /// timer (upkeep, a save, the end of a hold shown by `ebph ps`).
    fn wait(&self, events: &ebph_bpf::Subscription<'_>, inbox: &Inbox) {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let now = Instant::now();
        let mut next = self.next_save.min(self.upkeep_due());
        if let Some(&until) = self.held.values().min() {
            let left = until.saturating_sub(ebph_bpf::boot_now_ns());
            next = next.min(now + Duration::from_nanos(left));
        }
        // (Too far to say as a timespec: wait for an fd.)
        let timeout = Timespec::try_from(next.saturating_duration_since(now)).ok();
        let mut fds = vec![
            PollFd::new(events, PollFlags::IN),
            PollFd::new(inbox, PollFlags::IN),
        ];
        if let Some(keeper) = self.keeper.watch() {
            fds.push(PollFd::from_borrowed_fd(keeper, PollFlags::IN));
        }
        let _ = poll(&mut fds, timeout.as_ref());
    }

    fn path_of(&self, key: &ProfileKey) -> String {
        self.paths.get(key).cloned().unwrap_or_default()
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
}
