//! From command-line paths to trace files.

use std::fs;
use std::path::{Path, PathBuf};

use ebph_core::Arch;

use crate::{parse, Format, ProcessTrace, ReplayError};

/// The files named by `paths`: a file stands for itself, a directory for every regular file
/// under it, at any depth, sorted by path. Links to files and directories are followed; a
/// directory met again (a link loop) is read once.
pub fn inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReplayError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(io(path))?;
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut inside = Vec::new();
        let mut seen = std::collections::HashSet::new();
        walk(path, &mut inside, &mut seen)?;
        if inside.is_empty() {
            return Err(ReplayError::EmptyDirectory { path: path.clone() });
        }
        inside.sort();
        files.extend(inside);
    }
    Ok(files)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReplayError + '_ {
    move |source| ReplayError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Every regular file under `dir`, into `out`.
fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> Result<(), ReplayError> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).map_err(io(dir))?;
    if !seen.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        // Follow links: a link to a regular file is a trace file.
        let meta = fs::metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            walk(&path, out, seen)?;
        } else if meta.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// One trace file, read and parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its processes, in order of first appearance.
    pub processes: Vec<ProcessTrace>,
}

impl TraceFile {
    /// How a process of this file is named in reports: the path, plus `:PID` when the format
    /// names processes.
    pub fn name_of(&self, process: &ProcessTrace) -> String {
        match process.pid {
            Some(pid) => format!("{}:{pid}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// Reads and parses one trace file.
pub fn read_trace_file(path: &Path, format: Format, arch: Arch) -> Result<TraceFile, ReplayError> {
    let text = fs::read(path).map_err(|source| ReplayError::Io {
        path: path.to_owned(),
        source,
    })?;
    let processes = parse(format, &text, arch).map_err(|error| ReplayError::Parse {
        path: path.to_owned(),
        error,
    })?;
    Ok(TraceFile {
        path: path.to_owned(),
        processes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_expand_to_sorted_regular_files_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.int", "a.int", "c.int"] {
            fs::write(dir.path().join(name), "1 2\n").unwrap();
        }
        fs::create_dir(dir.path().join("deleted")).unwrap();
        fs::write(dir.path().join("deleted/z.int"), "1 2\n").unwrap();
        let single = dir.path().join("c.int");
        std::os::unix::fs::symlink(dir.path(), dir.path().join("deleted/loop")).unwrap();
        let files = inputs(&[single.clone(), dir.path().to_owned()]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().to_owned())
            .collect();
        let expected: Vec<PathBuf> = ["c.int", "a.int", "b.int", "c.int", "deleted/z.int"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(names, expected, "sub-directories too, a link loop once");
    }

    #[test]
    fn missing_and_empty_inputs_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = inputs(&[missing]).unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("No such file"),
            "{err}"
        );
        let err = inputs(&[dir.path().to_owned()]).unwrap_err().to_string();
        assert!(err.contains("holds no trace file"), "{err}");
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.int");
        fs::write(&path, "1 2\n1 x\n").unwrap();
        let err = read_trace_file(&path, Format::Unm, Arch::I386)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("bad.int:2: \"x\" is not a system-call number"),
            "{err}"
        );
    }

    #[test]
    fn processes_are_named_by_file_and_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.int");
        fs::write(&path, "7 1\n8 2\n").unwrap();
        let file = read_trace_file(&path, Format::Unm, Arch::I386).unwrap();
        let names: Vec<String> = file.processes.iter().map(|p| file.name_of(p)).collect();
        assert_eq!(
            names,
            [
                format!("{}:7", path.display()),
                format!("{}:8", path.display())
            ]
        );
    }
}
