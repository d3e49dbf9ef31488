//! The keeper's record on disk of the processes it holds, so that a later keeper can continue
//! them should this one die with the daemon.
//!
//! Each keeper writes `DIR/PID` (its own pid): a header `ebph-holds BOOT_ID START_TICKS`
//! (this boot, and when the keeper started, to tell it from a later process with its pid),
//! then a line `PID START_NS` for each process it holds or held in the last second. A process
//! is added when it is first held (one appended line) and dropped at most once a second (the
//! file rewritten), so a process held again and again costs nothing here. Nothing is synced:
//! the file must outlive the keeper, not the machine.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::process;

const MAGIC: &str = "ebph-holds";

/// This keeper's file in the ledger directory.
pub struct Ledger {
    path: PathBuf,
    file: File,
    header: String,
}

/// What was found of keepers that are gone.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Processes still stopped that were continued.
    pub continued: Vec<u32>,
    /// Files of gone keepers removed.
    pub files: usize,
}

fn parse_header(line: &str) -> Option<(&str, u64)> {
    let mut parts = line.split_whitespace();
    if parts.next()? != MAGIC {
        return None;
    }
    let boot = parts.next()?;
    let start = parts.next()?.parse().ok()?;
    Some((boot, start))
}

impl Ledger {
    /// Creates this keeper's file in `dir` (made if missing), after continuing what keepers
    /// that are gone left stopped.
    pub fn open(dir: &Path) -> Result<(Ledger, Leftovers)> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let leftovers = continue_leftovers(dir)?;
        let me = std::process::id();
        let start = process::stat(me).map_or(0, |s| s.start_ticks);
        let header = format!("{MAGIC} {} {start}\n", process::boot_id());
        let path = dir.join(me.to_string());
        let mut file =
            File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        file.write_all(header.as_bytes())?;
        Ok((Ledger { path, file, header }, leftovers))
    }

    /// Writes down that process `pid` (started at `start_ns`) is held.
    pub fn add(&mut self, pid: u32, start_ns: u64) -> Result<()> {
        self.file
            .write_all(format!("{pid} {start_ns}\n").as_bytes())
            .with_context(|| format!("writing {}", self.path.display()))
    }

    /// Rewrites the file with just `held` (pid and start).
    pub fn rewrite(&mut self, held: impl Iterator<Item = (u32, u64)>) -> Result<()> {
        let mut text = self.header.clone();
        for (pid, start) in held {
            text.push_str(&format!("{pid} {start}\n"));
        }
        let tmp = self.path.with_extension("new");
        fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &self.path).with_context(|| format!("renaming {}", tmp.display()))?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        Ok(())
    }

    /// Removes the file: nothing is held any more.
    pub fn remove(self) -> Result<()> {
        fs::remove_file(&self.path).with_context(|| format!("removing {}", self.path.display()))
    }
}

/// Continues every process that a keeper which is gone wrote down and that is still stopped,
/// then removes that keeper's file. Files of keepers still alive are left alone; files from
/// before a reboot are removed.
fn continue_leftovers(dir: &Path) -> Result<Leftovers> {
    let boot = process::boot_id();
    let mut out = Leftovers::default();
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(keeper) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let mut lines = text.lines();
        let header = lines.next().and_then(parse_header);
        if let Some((file_boot, start)) = header {
            // (A zombie is gone: its parent has not reaped it yet.)
            let alive = process::stat(keeper)
                .is_some_and(|s| s.start_ticks == start && !matches!(s.state, 'Z' | 'X'));
            if file_boot == boot && alive && keeper != std::process::id() {
                continue;
            }
            if file_boot == boot {
                // Each process once, however often it is listed.
                let mut listed = HashMap::new();
                for line in lines {
                    let mut parts = line.split_whitespace();
                    if let (Some(Ok(pid)), Some(Ok(start))) = (
                        parts.next().map(str::parse::<u32>),
                        parts.next().map(str::parse::<u64>),
                    ) {
                        listed.insert(pid, start);
                    }
                }
                for (pid, start) in listed {
                    let stopped = process::stat(pid)
                        .is_some_and(|s| s.state == 'T' && process::is_same(&s, start));
                    if stopped && process::send_cont(pid) {
                        out.continued.push(pid);
                    }
                }
            }
        }
        if fs::remove_file(&path).is_ok() {
            out.files += 1;
        }
    }
    out.continued.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn stopped_child() -> std::process::Child {
        let child = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while process::stat(child.id()).map(|s| s.state) != Some('T') {
            assert!(std::time::Instant::now() < deadline, "sleep did not stop");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child
    }

    #[test]
    fn a_gone_keepers_stopped_processes_are_continued_and_others_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut held = stopped_child();
        let mut other = stopped_child();
        let start = |pid| process::stat(pid).unwrap().start_ticks * 10_000_000;
        // A keeper that is gone (pid 0 never names a live keeper; its start is wrong anyway)
        // held `held`; `other` was stopped by someone else; a reused pid is listed with a
        // start that does not match.
        std::fs::write(
            dir.path().join("999999999"),
            format!(
                "{MAGIC} {} 1\n{} {}\n{} {}\n",
                process::boot_id(),
                held.id(),
                start(held.id()),
                other.id(),
                start(other.id()) + 10_000_000_000,
            ),
        )
        .unwrap();
        // Before a reboot: removed, nothing continued.
        std::fs::write(
            dir.path().join("999999998"),
            format!("{MAGIC} another-boot 1\n{} 0\n", other.id()),
        )
        .unwrap();
        // A keeper that is alive (here: `other`, with its own start): left alone.
        let live = dir.path().join(other.id().to_string());
        std::fs::write(
            &live,
            format!(
                "{MAGIC} {} {}\n{} 0\n",
                process::boot_id(),
                process::stat(other.id()).unwrap().start_ticks,
                other.id()
            ),
        )
        .unwrap();
        let (ledger, leftovers) = Ledger::open(dir.path()).unwrap();
        assert_eq!(leftovers.continued, [held.id()]);
        assert_eq!(leftovers.files, 2);
        assert_ne!(process::stat(held.id()).unwrap().state, 'T');
        assert_eq!(process::stat(other.id()).unwrap().state, 'T');
        assert!(live.exists());
        assert!(dir.path().join(std::process::id().to_string()).exists());
        ledger.remove().unwrap();
        for child in [&mut held, &mut other] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
