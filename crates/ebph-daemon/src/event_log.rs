//! The event log, `events.jsonl`: one JSON object a line, rotated by size.
//!
//! When the file would pass `log-max-size` it becomes `events.jsonl.1` (which becomes `.2`,
//! and so on; the oldest beyond `log-files` is removed), and a new file starts. When someone
//! else moves the file away (logrotate), the next write goes to a new file at the path. At
//! start only the file's tail is read, however large it is.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// How much of the end of the log is read at start, at most: enough for the last
/// [`crate::worker`] keeps in memory (about 400 bytes an event).
const TAIL_BYTES: u64 = 2 * 1024 * 1024;

/// The log being written.
pub struct EventLog {
    path: PathBuf,
    file: BufWriter<File>,
    /// The open file's inode: another one at the path means the file was moved away.
    ino: u64,
    size: u64,
    max_size: u64,
    files: u32,
}

fn open(path: &Path) -> Result<(BufWriter<File>, u64, u64)> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let meta = file.metadata()?;
    Ok((BufWriter::new(file), meta.ino(), meta.len()))
}

impl EventLog {
    /// Opens (or creates) the log at `path`, to be rotated past `max_size` bytes keeping
    /// `files` files in all (at least 1: the current one).
    pub fn open(path: &Path, max_size: u64, files: u32) -> Result<EventLog> {
        let (file, ino, size) = open(path)?;
        Ok(EventLog {
            path: path.to_owned(),
            file,
            ino,
            size,
            max_size,
            files: files.max(1),
        })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// Appends one line (a newline is added).
    pub fn write_line(&mut self, line: &str) -> Result<()> {
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size + len > self.max_size {
            self.rotate()?;
        }
        writeln!(self.file, "{line}")?;
        self.size += len;
        Ok(())
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush()?;
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        self.file.flush()?;
        if self.files == 1 {
            fs::remove_file(&self.path).ok();
        } else {
            fs::remove_file(self.rotated(self.files - 1)).ok();
            for n in (1..self.files - 1).rev() {
                fs::rename(self.rotated(n), self.rotated(n + 1)).ok();
            }
            fs::rename(&self.path, self.rotated(1))
                .with_context(|| format!("rotating {}", self.path.display()))?;
        }
        self.reopen()
    }

    fn reopen(&mut self) -> Result<()> {
        let (file, ino, size) = open(&self.path)?;
        self.file = file;
        self.ino = ino;
        self.size = size;
        Ok(())
    }

    /// Starts a new file if the one being written was moved away or removed. Returns whether
    /// it did.
    pub fn follow_path(&mut self) -> Result<bool> {
        match fs::metadata(&self.path) {
            Ok(meta) if meta.ino() == self.ino => Ok(false),
            _ => {
                self.file.flush()?;
                self.reopen()?;
                Ok(true)
            }
        }
    }
}

/// The last `lines` lines of the file at `path` (reading at most its last 2 MiB); none if it
/// does not exist.
pub fn tail(path: &Path, lines: usize) -> Vec<String> {
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.take(TAIL_BYTES).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    // A tail that starts mid-file starts mid-line: drop that part line.
    if start > 0 && !all.is_empty() {
        all.remove(0);
    }
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_keeping_so_many_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut log = EventLog::open(&path, 100, 3).unwrap();
        for i in 0..50 {
            log.write_line(&format!("{{\"n\":{i:03}}}")).unwrap();
        }
        log.flush().unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]);
        for name in &names {
            let size = fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(size <= 100, "{name}: {size} bytes");
        }
        // The newest lines are in the current file, the ones before in .1.
        let current = fs::read_to_string(&path).unwrap();
        assert!(current.ends_with("{\"n\":049}\n"), "{current}");
        let older = fs::read_to_string(dir.path().join("events.jsonl.1")).unwrap();
        let first_current: &str = current.lines().next().unwrap();
        let last_older = older.lines().last().unwrap();
        assert!(last_older < first_current);
    }

    #[test]
    fn a_log_moved_away_is_followed_by_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut log = EventLog::open(&path, 1 << 20, 4).unwrap();
        log.write_line("one").unwrap();
        log.flush().unwrap();
        assert!(!log.follow_path().unwrap());
        fs::rename(&path, dir.path().join("moved")).unwrap();
        assert!(log.follow_path().unwrap());
        log.write_line("two").unwrap();
        log.flush().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("moved")).unwrap(),
            "one\n"
        );
    }

    #[test]
    fn the_tail_is_read_without_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut text = String::new();
        // 5 MiB of lines: only the last 2 MiB are read.
        let line = "x".repeat(1023);
        for _ in 0..5 * 1024 {
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str("last\n");
        fs::write(&path, &text).unwrap();
        let got = tail(&path, 3);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], "last");
        assert_eq!(got[1], line);
        assert!(tail(&dir.path().join("none"), 3).is_empty());
        fs::write(&path, "a\nb\n").unwrap();
        assert_eq!(tail(&path, 10), ["a", "b"]);
    }
}
