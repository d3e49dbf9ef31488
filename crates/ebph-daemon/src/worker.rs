//! The engine's thread: it owns the kernel engine and the database, turns engine events into
//! log lines and anomaly history, saves on an interval, and answers the API's requests.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use ebph_bpf::{kernel_release, AdminOp, Engine, EventKind};
use ebph_core::{Arch, Profile, ProfileKey, ProfileStatus, Settings, Syscall};

use crate::config::Config;
use crate::mailbox::{ApiError, Command, Outputs, Snapshot};
use crate::protocol::{
    self, Event, Pair, ProfileDetail, ProfileSummary, Saved, SettingValue, Status, Target,
};
use crate::store::{Store, StoredAnomaly, StoredProfile};

/// Events kept in memory for `ebph logs` without `-f`.
const RECENT_EVENTS: usize = 1000;

struct Worker {
    engine: Engine,
    store: Store,
    config: Config,
    settings: Settings,
    paths: HashMap<ProfileKey, String>,
    log: BufWriter<File>,
    outputs: Outputs,
    started: Instant,
    last_save: Option<SystemTime>,
    next_save: Instant,
    /// Processes held for a delay, and until when (engine clock).
    held: HashMap<u32, u64>,
    /// Counters for metrics: delays, refused execs, saves, the last save's duration.
    delays: u64,
    execve_refused: u64,
    saves: u64,
    last_save_seconds: f64,
}

/// Loads the engine and the saved profiles, attaches, then serves `commands` until the
/// channel closes; saves before returning. `ready` gets the outcome of starting.
pub fn run(
    config: Config,
    store: Store,
    commands: Receiver<Command>,
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
    loop {
        subscription.poll(Duration::from_millis(5))?;
        let events = pending.take();
        worker.handle_events(events);
        worker.continue_due();
        match commands.recv_timeout(worker.wait_time()) {
            Ok(command) => {
                // Answer with every event so far taken into account (paths of new profiles).
                subscription.consume()?;
                let events = pending.take();
                worker.handle_events(events);
                worker.handle(command);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while let Ok(command) = commands.try_recv() {
            worker.handle(command);
        }
        if Instant::now() >= worker.next_save {
            if let Err(e) = worker.save() {
                tracing::error!("saving profiles failed: {}", e.message);
            }
        }
    }
    subscription.consume()?;
    let events = pending.take();
    worker.handle_events(events);
    // No task is left stopped: no new holds, and every held process continues now.
    let mut monitor = worker.settings.clone();
    monitor.response = ebph_core::ResponseMode::Monitor;
    worker.engine.set_settings(&monitor);
    worker.release_all();
    let saved = worker.save().map_err(|e| anyhow::anyhow!(e.message))?;
    tracing::info!("saved {} profiles on the way out", saved.profiles);
    Ok(())
}

/// A path as it was given to execve, made absolute with the process's working directory.
fn absolute(path: &str, pid: u32) -> String {
    if path.starts_with('/') {
        return path.to_owned();
    }
    match std::fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => {
            let mut out = cwd;
            for part in std::path::Path::new(path).components() {
                match part {
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    other => out.push(other),
                }
            }
            out.display().to_string()
        }
        Err(_) => path.to_owned(),
    }
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

fn name(call: u16) -> String {
    Syscall::new(call).map_or_else(
        || format!("syscall_{call}"),
        |c| Arch::X86_64.display_name(c),
    )
}

fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ProfileCreated => "profile_created",
        EventKind::Exec => "exec",
        EventKind::Anomaly => "anomaly",
        EventKind::Frozen => "frozen",
        EventKind::Normal => "normal",
        EventKind::LeftNormal => "left_normal",
        EventKind::TolerizeLimit => "tolerize_limit",
        EventKind::Delay => "delay",
        EventKind::ExecveRefused => "execve_refused",
    }
}

/// Sends SIGCONT to a process (gone already is fine).
fn continue_process(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
    }
}

impl Worker {
    fn start(config: Config, store: Store, outputs: Outputs) -> Result<Worker> {
        let mut settings = Settings::default();
        for (name, value) in store.settings()? {
            if let Err(e) = settings.set(&name, &value) {
                tracing::warn!("ignoring the saved setting {name}={value}: {e}");
            }
        }
        for name in &config.settings_from_file {
            let value = config.settings.get(name)?;
            settings.set(name, &value)?;
        }
        let mut engine = Engine::load(&config.capacity)?;
        engine.set_daemon_pid(std::process::id());
        engine.set_settings(&settings);
        let mut paths = HashMap::new();
        let saved = store.load_profiles()?;
        for p in &saved {
            engine
                .insert_profile(&p.key, &p.profile)
                .with_context(|| format!("loading the profile of {} ({})", p.path, p.key))?;
            paths.insert(p.key, p.path.clone());
        }
        // Attached first, so that tasks exiting from now on are seen; then every task that was
        // already running is associated with its executable's profile.
        engine.attach()?;
        match engine.bpf_lsm().reason() {
            None => tracing::info!(
                "kernel {}: delays by SIGSTOP; execve suspension by BPF-LSM (the exec fails with EPERM)",
                kernel_release()
            ),
            Some(why) => tracing::info!(
                "kernel {}: delays by SIGSTOP; execve suspension by SIGKILL at exec, because BPF-LSM is unavailable: {why}",
                kernel_release()
            ),
        }
        let associated = engine.associate_running()?;
        tracing::info!(
            "engine attached; {} saved profiles loaded from {}; {} running tasks associated",
            saved.len(),
            config.database().display(),
            associated
        );
        // `ebph logs` shows the latest events across restarts: the tail of the event log.
        if let Ok(text) = std::fs::read_to_string(config.event_log()) {
            let mut recent = outputs.recent.lock().unwrap_or_else(|e| e.into_inner());
            let lines: Vec<&str> = text.lines().collect();
            for line in &lines[lines.len().saturating_sub(RECENT_EVENTS)..] {
                if let Ok(event) = serde_json::from_str::<Event>(line) {
                    recent.push_back(event);
                }
            }
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.event_log())
            .with_context(|| format!("opening {}", config.event_log().display()))?;
        let next_save = Instant::now() + config.save_interval;
        Ok(Worker {
            engine,
            store,
            settings,
            paths,
            log: BufWriter::new(log),
            outputs,
            started: Instant::now(),
            last_save: None,
            next_save,
            config,
            held: HashMap::new(),
            delays: 0,
            execve_refused: 0,
            saves: 0,
            last_save_seconds: 0.0,
        })
    }

    fn path_of(&self, key: &ProfileKey) -> String {
        self.paths.get(key).cloned().unwrap_or_default()
    }

    fn handle_events(&mut self, events: Vec<ebph_bpf::Event>) {
        if events.is_empty() {
            return;
        }
        let mut anomalies = Vec::new();
        for e in events {
            let names_program = e.kind == EventKind::Exec
                || (e.kind == EventKind::ProfileCreated && !e.path.is_empty());
            if names_program && !self.paths.contains_key(&e.key) {
                let path = if e.path.is_empty() {
                    // A task that was running before the engine: its executable's path.
                    std::fs::read_link(format!("/proc/{}/exe", e.pid))
                        .map(|p| {
                            p.display()
                                .to_string()
                                .trim_end_matches(" (deleted)")
                                .to_owned()
                        })
                        .unwrap_or_default()
                } else {
                    absolute(&e.path, e.pid)
                };
                if !path.is_empty() {
                    self.paths.insert(e.key, path);
                }
                // A profile seen for the first time; the others were matched at start or
                // when the allowlist changed.
                if !self.settings.allowlist.is_empty() {
                    self.apply_allowlist_to(e.key, e.profile);
                }
            }
            match e.kind {
                EventKind::Delay => {
                    self.delays += 1;
                    let until = e.time_boot_ns.saturating_add(e.delay_ns);
                    let held = self.held.entry(e.pid).or_insert(0);
                    *held = (*held).max(until);
                }
                EventKind::ExecveRefused => self.execve_refused += 1,
                _ => {}
            }
            let anomaly = e.kind == EventKind::Anomaly;
            let event = Event {
                kind: kind_name(e.kind).to_owned(),
                time: rfc3339(e.time()),
                pid: e.pid,
                tid: e.tid,
                key: e.key.to_string(),
                path: self.path_of(&e.key),
                syscall: anomaly.then(|| name(e.syscall)),
                misses: anomaly.then_some(e.misses),
                lfc: e.lfc,
                sequence: anomaly.then(|| e.sequence.iter().map(|&c| name(c)).collect()),
                anomalies: e.anomalies,
                delay_ms: (e.kind == EventKind::Delay).then(|| e.delay_ns as f64 / 1e6),
            };
            if anomaly {
                tracing::warn!(
                    "anomaly: pid {} {} {} (misses {}, LFC {})",
                    event.pid,
                    event.path,
                    event.syscall.as_deref().unwrap_or(""),
                    e.misses,
                    e.lfc
                );
                anomalies.push(StoredAnomaly {
                    time: event.time.clone(),
                    pid: event.pid,
                    tid: event.tid,
                    key: event.key.clone(),
                    path: event.path.clone(),
                    syscall: event.syscall.clone().unwrap_or_default(),
                    misses: e.misses,
                    lfc: e.lfc,
                    sequence: event.sequence.clone().unwrap_or_default(),
                });
            }
            if let Ok(line) = serde_json::to_string(&event) {
                let _ = writeln!(self.log, "{line}");
            }
            {
                let mut recent = self
                    .outputs
                    .recent
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if recent.len() == RECENT_EVENTS {
                    recent.pop_front();
                }
                recent.push_back(event.clone());
            }
            let _ = self.outputs.events.send(event);
        }
        let _ = self.log.flush();
        if let Err(e) = self.store.add_anomalies(&anomalies) {
            tracing::error!("recording anomalies failed: {e}");
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Status(reply) => drop(reply.send(self.status())),
            Command::Profiles(reply) => drop(reply.send(self.profiles())),
            Command::Profile(target, reply) => drop(reply.send(self.profile(&target))),
            Command::Processes(threads, reply) => drop(reply.send(self.processes(threads))),
            Command::GetSettings(reply) => drop(reply.send(Ok(self.setting_values()))),
            Command::SetSetting(name, value, reply) => drop(reply.send(self.set(&name, &value))),
            Command::Admin(op, target, reply) => drop(reply.send(self.admin(op, &target))),
            Command::Save(reply) => drop(reply.send(self.save())),
            Command::Release(pid, reply) => drop(reply.send(self.release(pid))),
            Command::Metrics(reply) => drop(reply.send(self.metrics())),
            Command::Export(target, reply) => drop(reply.send(self.export(&target))),
            Command::Anomalies(limit, reply) => drop(reply.send(self.anomalies(limit))),
        }
    }

    fn anomalies(&self, limit: u32) -> Result<Vec<protocol::Anomaly>, ApiError> {
        self.store.anomalies(limit).map_err(ApiError::internal)
    }

    fn export(&self, target: &Target) -> Result<crate::export::ProfileFile, ApiError> {
        let everyone = target.key.is_none() && target.path.is_none() && target.pid.is_none();
        let slots = if everyone {
            self.engine.profile_slots()?
        } else {
            vec![self.resolve(target)?]
        };
        let mut profiles = Vec::new();
        for (key, slot) in slots {
            let stored = StoredProfile {
                key,
                path: self.path_of(&key),
                profile: self.engine.profile(slot)?,
            };
            profiles.push(crate::export::FileProfile::from_stored(&stored));
        }
        Ok(crate::export::ProfileFile::new(profiles))
    }

    fn metrics(&self) -> Result<Snapshot, ApiError> {
        let s = self.engine.stats();
        let c = self.engine.capacity();
        let mut profiles = [0u64; 3];
        for (_, slot) in self.engine.profile_slots()? {
            let p = self.engine.profile_counters(slot)?;
            profiles[p.status as usize] += 1;
        }
        Ok(Snapshot {
            calls: self.engine.calls()?,
            anomalies: s.anomalies,
            profiles,
            tasks: s.tasks_tracked,
            delays: self.delays,
            execve_refused: self.execve_refused,
            held: self.held.len() as u64,
            events_lost: s.events_lost,
            full: [s.profiles_full, s.rows_full, s.indexes_full, s.tasks_full],
            used: [
                profiles.iter().sum(),
                s.rows_used,
                s.indexes_used,
                s.tasks_tracked,
            ],
            capacity: [c.profiles, c.rows, c.indexes, c.tasks].map(u64::from),
            saves: self.saves,
            last_save_seconds: self.last_save_seconds,
        })
    }

    /// How long the loop may wait for a command: until the next hold ends, at most 20 ms.
    fn wait_time(&self) -> Duration {
        let Some(&next) = self.held.values().min() else {
            return Duration::from_millis(20);
        };
        let now = ebph_bpf::boot_now_ns();
        Duration::from_nanos(next.saturating_sub(now)).min(Duration::from_millis(20))
    }

    /// Continues every process whose hold has ended.
    fn continue_due(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let now = ebph_bpf::boot_now_ns();
        self.held.retain(|&pid, &mut until| {
            if until <= now {
                continue_process(pid);
                false
            } else {
                true
            }
        });
    }

    /// Continues every held process now.
    fn release_all(&mut self) {
        for (pid, _) in self.held.drain() {
            continue_process(pid);
        }
    }

    fn release(&mut self, pid: u32) -> Result<u32, ApiError> {
        let tasks = self.engine.release(pid)?;
        if tasks == 0 && !self.held.contains_key(&pid) {
            return Err(ApiError::not_found(format!(
                "process {pid} is not tracked by ebph"
            )));
        }
        self.held.remove(&pid);
        continue_process(pid);
        tracing::info!("released process {pid}");
        Ok(tasks)
    }

    /// Exempts the profile in `slot` when its executable is on the allowlist.
    fn apply_allowlist_to(&self, key: ProfileKey, slot: u32) {
        let path = self.path_of(&key);
        let listed = self.settings.allowlist.iter().any(|p| {
            *p == path
                || std::fs::metadata(p).is_ok_and(|m| {
                    use std::os::unix::fs::MetadataExt;
                    key.script == 0 && m.dev() == key.dev && m.ino() == key.ino
                })
        });
        if let Err(e) = self.engine.set_exempt(slot, listed) {
            tracing::error!("updating the allowlist failed: {e}");
        }
    }

    /// Applies the allowlist to every profile.
    fn apply_allowlist(&self) -> Result<(), ApiError> {
        for (key, slot) in self.engine.profile_slots()? {
            self.apply_allowlist_to(key, slot);
        }
        Ok(())
    }

    fn status(&self) -> Result<Status, ApiError> {
        let s = self.engine.stats();
        let slots = self.engine.profile_slots()?;
        let mut normal = 0;
        for (_, slot) in &slots {
            if self.engine.profile_counters(*slot)?.status == ProfileStatus::Normal {
                normal += 1;
            }
        }
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            uptime_seconds: self.started.elapsed().as_secs(),
            profiles: slots.len() as u64,
            normal_profiles: normal,
            tasks: s.tasks_tracked,
            engine: protocol::EngineStats {
                profiles_created: s.profiles_created,
                profiles_full: s.profiles_full,
                rows_full: s.rows_full,
                indexes_full: s.indexes_full,
                tasks_full: s.tasks_full,
                events_lost: s.events_lost,
                anomalies: s.anomalies,
                rows_used: s.rows_used,
                indexes_used: s.indexes_used,
            },
            database: self.config.database().display().to_string(),
            last_save: self.last_save.map(rfc3339),
            save_interval: humantime::format_duration(self.config.save_interval).to_string(),
            response: self.settings.response.to_string(),
            kernel: self.kernel_support(),
            held: self.held.len() as u64,
        })
    }

    fn summary(
        &self,
        key: &ProfileKey,
        slot: u32,
        p: &Profile,
    ) -> Result<ProfileSummary, ApiError> {
        Ok(ProfileSummary {
            key: key.to_string(),
            path: self.path_of(key),
            status: p.status.to_string(),
            train_count: p.train_count,
            last_mod_count: p.last_mod_count,
            sequences: p.sequences,
            anomalies: p.anomalies,
            normal_time: (p.status == ProfileStatus::Frozen)
                .then(|| rfc3339(ebph_bpf::wall_time(p.normal_time))),
            lookahead_pairs: p.train.lookahead_pairs(),
            memory_bytes: self.engine.profile_memory(slot)? as u64,
        })
    }

    fn profiles(&self) -> Result<Vec<ProfileSummary>, ApiError> {
        let mut out = Vec::new();
        for (key, slot) in self.engine.profile_slots()? {
            let p = self.engine.profile(slot)?;
            out.push(self.summary(&key, slot, &p)?);
        }
        out.sort_by(|a, b| a.path.cmp(&b.path).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    /// The key and slot of the profile a request names.
    fn resolve(&self, target: &Target) -> Result<(ProfileKey, u32), ApiError> {
        let slots = self.engine.profile_slots()?;
        let by_key = |key: ProfileKey, what: &str| {
            slots
                .iter()
                .find(|(k, _)| *k == key)
                .copied()
                .ok_or_else(|| ApiError::not_found(format!("no profile for {what}")))
        };
        if let Some(key) = &target.key {
            let key: ProfileKey = key
                .parse()
                .map_err(|e: ebph_core::ProfileKeyError| ApiError::bad_request(e.to_string()))?;
            return by_key(key, &format!("key {key}"));
        }
        if let Some(path) = &target.path {
            if let Some((key, _)) = self
                .paths
                .iter()
                .find(|(k, p)| *p == path && slots.iter().any(|(s, _)| s == *k))
            {
                return by_key(*key, path);
            }
            let meta = std::fs::metadata(path)
                .map_err(|e| ApiError::not_found(format!("no profile for {path}: {e}")))?;
            use std::os::unix::fs::MetadataExt;
            return by_key(
                ProfileKey {
                    dev: meta.dev(),
                    ino: meta.ino(),
                    script: 0,
                },
                path,
            );
        }
        if let Some(pid) = target.pid {
            let tasks = self.engine.tasks()?;
            let task = tasks.iter().find(|t| t.tid == pid).ok_or_else(|| {
                ApiError::not_found(format!("process {pid} is not tracked by ebph"))
            })?;
            return slots
                .iter()
                .find(|(_, slot)| *slot == task.profile)
                .copied()
                .ok_or_else(|| ApiError::not_found(format!("process {pid} has no profile")));
        }
        Err(ApiError::bad_request("name a profile by key, path or pid"))
    }

    fn profile(&self, target: &Target) -> Result<ProfileDetail, ApiError> {
        let (key, slot) = self.resolve(target)?;
        let p = self.engine.profile(slot)?;
        let pairs = p
            .train
            .entries()
            .map(|(curr, prev, flags)| Pair {
                call: Arch::X86_64.display_name(curr),
                prev: Arch::X86_64.display_name(prev),
                distances: (1..=8).filter(|d| flags & (1 << (d - 1)) != 0).collect(),
            })
            .collect();
        Ok(ProfileDetail {
            summary: self.summary(&key, slot, &p)?,
            pairs,
        })
    }

    fn processes(&self, threads: bool) -> Result<Vec<protocol::Process>, ApiError> {
        let slots = self.engine.profile_slots()?;
        let mut profiles = HashMap::new();
        for (key, slot) in slots {
            let p = self.engine.profile_counters(slot)?;
            profiles.insert(slot, (key, p.status, p.anomalies));
        }
        let mut out = Vec::new();
        for t in self.engine.tasks()? {
            if !threads && t.tid != t.pid {
                continue;
            }
            let Some((key, status, anomalies)) = profiles.get(&t.profile) else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{}/task/{}/comm", t.pid, t.tid))
                .map(|c| c.trim_end().to_owned())
                .unwrap_or_default();
            let now = ebph_bpf::boot_now_ns();
            let held_ms = self
                .held
                .get(&t.pid)
                .filter(|&&until| until > now)
                .map(|&until| (until - now) / 1_000_000);
            out.push(protocol::Process {
                held_ms,
                pid: t.pid,
                tid: t.tid,
                comm,
                key: key.to_string(),
                path: self.path_of(key),
                status: status.to_string(),
                lfc: t.lfc,
                anomalies: *anomalies,
            });
        }
        Ok(out)
    }

    fn setting_values(&self) -> Vec<SettingValue> {
        self.settings
            .iter()
            .map(|(info, value)| SettingValue {
                name: info.name.to_owned(),
                value,
                description: info.description.to_owned(),
                note: self.note_on(info.name),
            })
            .collect()
    }

    /// What the engine chose on this kernel.
    fn kernel_support(&self) -> protocol::KernelSupport {
        let lsm = self.engine.bpf_lsm();
        protocol::KernelSupport {
            release: kernel_release(),
            bpf_lsm: self.engine.execve_suspension() == "bpf-lsm",
            bpf_lsm_unavailable: lsm.reason().map(str::to_owned),
            execve_suspension: self.engine.execve_suspension().to_owned(),
            delays: "sigstop".to_owned(),
        }
    }

    /// What setting `name` does on this kernel, where kernels differ.
    fn note_on(&self, name: &str) -> Option<String> {
        use ebph_core::ResponseMode;
        let delays = "delays stop a task with SIGSTOP and the daemon continues it with SIGCONT";
        let execve = || {
            match self.engine.bpf_lsm().reason() {
            None => "an exec of a task over suspend-execve fails with EPERM (BPF-LSM)".to_owned(),
            Some(why) => format!(
                "BPF-LSM is unavailable on this kernel ({why}), so a task over suspend-execve is killed (SIGKILL) at its exec instead of having the exec refused"
            ),
        }
        };
        match (name, self.settings.response) {
            ("response", ResponseMode::Delay) => Some(delays.to_owned()),
            ("response", ResponseMode::Enforce) if self.settings.suspend_execve > 0 => {
                Some(format!("{delays}; {}", execve()))
            }
            ("response", ResponseMode::Enforce) => Some(format!(
                "{delays}; execve suspension is off (suspend-execve = 0)"
            )),
            ("suspend-execve", _) if self.settings.suspend_execve > 0 => Some(execve()),
            _ => None,
        }
    }

    fn set(&mut self, name: &str, value: &str) -> Result<Vec<SettingValue>, ApiError> {
        let mut next = self.settings.clone();
        next.set(name, value)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let canonical = name.replace('_', "-");
        let shown = next
            .get(&canonical)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        self.store.set_setting(&canonical, &shown)?;
        self.engine.set_settings(&next);
        self.settings = next;
        tracing::info!("setting {canonical} = {shown}");
        if self.settings.response == ebph_core::ResponseMode::Monitor {
            // Back to monitoring: nothing stays held.
            self.release_all();
        }
        if canonical == "allowlist" {
            self.apply_allowlist()?;
        }
        Ok(self.setting_values())
    }

    fn admin(&mut self, op: AdminOp, target: &Target) -> Result<ProfileSummary, ApiError> {
        let (key, slot) = self.resolve(target)?;
        self.engine.admin(op, slot)?;
        tracing::info!("{op:?} {} ({key})", self.path_of(&key));
        let p = self.engine.profile(slot)?;
        self.summary(&key, slot, &p)
    }

    fn save(&mut self) -> Result<Saved, ApiError> {
        let start = Instant::now();
        let mut profiles = Vec::new();
        for (key, slot) in self.engine.profile_slots()? {
            profiles.push(StoredProfile {
                key,
                path: self.path_of(&key),
                profile: self.engine.profile(slot)?,
            });
        }
        self.store.save_profiles(&profiles)?;
        self.last_save = Some(SystemTime::now());
        self.saves += 1;
        self.last_save_seconds = start.elapsed().as_secs_f64();
        self.next_save = Instant::now() + self.config.save_interval;
        let saved = Saved {
            profiles: profiles.len() as u64,
            milliseconds: start.elapsed().as_millis() as u64,
        };
        tracing::info!(
            "saved {} profiles in {} ms",
            saved.profiles,
            saved.milliseconds
        );
        Ok(saved)
    }
}
