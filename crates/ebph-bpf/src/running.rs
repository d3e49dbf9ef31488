//! `#!` scripts already running when the engine is attached, found in `/proc`.
//!
//! The kernel keeps no trace of a running script's file: the task's executable is its
//! interpreter. What a script run leaves in `/proc` is its name, as the task's `comm` (the
//! kernel names the task after the file it was asked to run), and its path among the
//! arguments the kernel gave the interpreter (`interpreter [arg] script args...`). The
//! file is taken as the task's script when its name matches `comm` and it starts with `#!`;
//! `sh x.sh`, where the shell is the program, leaves `comm` as `sh`, so it is not taken.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ebph_core::ProfileKey;

/// A script found running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunningScript {
    /// The process.
    pub pid: u32,
    /// Its interpreter (the process's executable).
    pub interpreter: ProfileKey,
    /// The script's profile key.
    pub key: ProfileKey,
    /// The script's absolute path, symlinks resolved.
    pub path: PathBuf,
    /// Whether a user other than root can change the script.
    pub unprivileged: bool,
}

/// Every script running now, by what `/proc` shows (processes that cannot be read are
/// skipped).
pub(crate) fn running_scripts() -> Vec<RunningScript> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| script_of(Path::new(&format!("/proc/{pid}")), pid))
        .collect()
}

/// The first `TASK_COMM_LEN - 1` bytes of a name, as `comm` keeps it.
fn as_comm(name: &[u8]) -> &[u8] {
    &name[..name.len().min(15)]
}

/// Whether a user other than root can change the file (EBPH_PROFILE_UNPRIVILEGED).
pub(crate) fn unprivileged(m: &std::fs::Metadata) -> bool {
    m.uid() != 0 || m.mode() & 0o002 != 0 || (m.mode() & 0o020 != 0 && m.gid() != 0)
}

/// The script process `proc` (its `/proc/PID` directory) runs, if it runs one.
fn script_of(proc: &Path, pid: u32) -> Option<RunningScript> {
    use std::os::unix::ffi::OsStrExt;
    let exe = std::fs::read_link(proc.join("exe")).ok()?;
    let comm = std::fs::read(proc.join("comm")).ok()?;
    let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
    if as_comm(exe.file_name()?.as_bytes()) == comm {
        return None; // the program itself
    }
    let interpreter = std::fs::metadata(proc.join("exe")).ok()?;
    let cmdline = std::fs::read(proc.join("cmdline")).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    args.iter().skip(1).take(2).find_map(|arg| {
        let arg = Path::new(std::ffi::OsStr::from_bytes(arg));
        if as_comm(arg.file_name()?.as_bytes()) != comm {
            return None;
        }
        // Relative to the process's working directory (if it has not moved since).
        let path = std::fs::canonicalize(proc.join("cwd").join(arg)).ok()?;
        let m = std::fs::metadata(&path).ok()?;
        let mut head = [0u8; 2];
        use std::io::Read;
        std::fs::File::open(&path)
            .ok()?
            .read_exact(&mut head)
            .ok()?;
        if !m.is_file() || &head != b"#!" {
            return None;
        }
        let interpreter = ProfileKey {
            dev: interpreter.dev(),
            ino: interpreter.ino(),
            script: 0,
        };
        Some(RunningScript {
            pid,
            interpreter,
            key: ProfileKey {
                dev: m.dev(),
                ino: m.ino(),
                script: 0,
            }
            .script_of(&interpreter),
            path,
            unprivileged: unprivileged(&m),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};

    #[test]
    fn a_running_script_is_found_and_a_shell_reading_a_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("waiting-script.sh");
        std::fs::write(&script, "#!/bin/sh\nread x\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&script, &link).unwrap();
        let spawn = |program: &Path, args: &[&str]| {
            Command::new(program)
                .args(args)
                .current_dir(dir.path())
                .stdin(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let mut by_link = spawn(Path::new("./link"), &[]);
        let mut by_sh = spawn(Path::new("/bin/sh"), &["waiting-script.sh"]);
        // Until each has exec'd (its comm is no longer the test's).
        let comm = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while (comm(by_link.id()) != "link\n" || comm(by_sh.id()) != "sh\n")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let found = running_scripts();
        let mine: Vec<_> = found
            .iter()
            .filter(|s| [by_link.id(), by_sh.id()].contains(&s.pid))
            .collect();
        let m = std::fs::metadata(&script).unwrap();
        let sh = std::fs::metadata("/bin/sh").unwrap();
        let sh = ProfileKey {
            dev: sh.dev(),
            ino: sh.ino(),
            script: 0,
        };
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(mine[0].pid, by_link.id());
        assert_eq!(mine[0].path, std::fs::canonicalize(&script).unwrap());
        assert_eq!(mine[0].interpreter, sh);
        assert_eq!(
            mine[0].key,
            ProfileKey {
                dev: m.dev(),
                ino: m.ino(),
                script: 0
            }
            .script_of(&sh)
        );
        for child in [&mut by_link, &mut by_sh] {
            drop(child.stdin.take());
            child.wait().unwrap();
        }
    }
}
