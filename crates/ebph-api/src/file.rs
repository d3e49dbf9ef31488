//! Profile files: profiles learned on one host, to seed identical hosts.
//!
//! A file is one JSON document: `format` (`ebph-profiles`), `version`, the call numbering
//! (`arch`), the profiles (key, path, status, counters, both tables as `[call, prev, flags]`
//! triples) and a `checksum`: SHA-256 of the profiles as written. Anything else, or a file
//! whose checksum does not match, is refused. A file may carry a `signature` (see
//! [`crate::signing`]): which key signed it, and the signature of its format, version,
//! numbering and checksum.

use std::os::unix::fs::MetadataExt;

use ebph_core::{LookaheadTable, Profile, ProfileKey, ProfileStatus, Syscall, OLD_NGRAM_BITS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::signing::{PublicKey, SigningKey};

/// A profile as stored: its key, path and contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProfile {
    /// The executable.
    pub key: ProfileKey,
    /// Its path, as it was run.
    pub path: String,
    /// Its tables and counters. `normal_time` is on the engine's boot clock where the
    /// profile comes from or goes to the engine, and in Unix nanoseconds in the store.
    pub profile: Profile,
    /// Where it came from and when it was last used, on this machine: kept in the store,
    /// never written to profile files.
    pub origin: ProfileOrigin,
    /// The n-gram length (setting `ngram-length`) its n-gram bits were learned with; 0: it
    /// has none (written by a version without n-grams).
    pub ngram_length: u8,
}

impl StoredProfile {
    /// Keeps its n-gram bits only if they were learned with n-grams of `length` calls (bits
    /// of another length mean nothing); returns whether any were dropped.
    pub fn fit_ngram_length(&mut self, length: u8) -> bool {
        if self.ngram_length == length {
            return false;
        }
        let had = self.profile.train.ngram_bits_set() + self.profile.test.ngram_bits_set() > 0;
        self.profile.train.clear_ngrams();
        self.profile.test.clear_ngrams();
        self.ngram_length = length;
        had
    }
}

/// What the store keeps of a profile beyond pH's model, for eviction and expiry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileOrigin {
    /// When its last task let it go (or it was created), in Unix nanoseconds; 0: unknown.
    pub last_used: u64,
    /// Its executable is owned or writable by a user other than root.
    pub unprivileged: bool,
    /// The user whose program run created it.
    pub uid: u32,
}

/// The `format` of a profile file.
pub const FORMAT: &str = "ebph-profiles";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;

/// Why a profile file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not JSON, or not of this layout.
    #[error("not an ebph profile file: {0}")]
    NotProfiles(String),
    /// A newer or older version.
    #[error("profile file version {0} is not supported (this ebph reads version {VERSION})")]
    Version(u32),
    /// Profiles of another numbering.
    #[error("the profiles are for {0}, this ebph profiles x86_64")]
    Arch(String),
    /// The contents do not match the checksum.
    #[error("the file is corrupted (its checksum does not match its contents)")]
    Checksum,
    /// A profile's contents are invalid.
    #[error("profile {key}: {why}")]
    Invalid {
        /// The profile.
        key: String,
        /// What is wrong.
        why: String,
    },
    /// Profiles that cannot be merged.
    #[error("cannot merge {0} with {1}: they are not the same executable")]
    Mismatch(String, String),
    /// Profiles of one key under two paths.
    #[error("profile {key} is {first} in one file and {second} in the other: not merged (a file may have been edited; --force merges them anyway)")]
    PathsDiffer {
        /// The key.
        key: String,
        /// Its path in the first file.
        first: String,
        /// In the second.
        second: String,
    },
    /// No signature, where one is required.
    #[error("the file is not signed (sign it with `ebph profile export --sign KEY`, or import it with --allow-unsigned)")]
    Unsigned,
    /// Signed by a key the configuration does not trust.
    #[error("the file is signed by a key that is not trusted here ({0}); add its public key to trusted-keys")]
    Untrusted(String),
    /// A signature that does not match the file.
    #[error(
        "the file's signature does not match its contents: it was changed after it was signed"
    )]
    BadSignature,
}

/// One profile in a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProfile {
    /// The key on the host it was learned on.
    pub key: String,
    /// The executable's path (used to find it again on another host).
    pub path: String,
    /// `training`, `frozen` or `normal`.
    pub status: ProfileStatus,
    /// Calls seen while training.
    pub train_count: u64,
    /// Calls since the train table last changed.
    pub last_mod_count: u64,
    /// Calls that taught it something new.
    pub sequences: u64,
    /// Anomalies since it became normal.
    pub anomalies: u64,
    /// The train table: `[call, prev, flags]`.
    pub train: Vec<(u16, u16, u8)>,
    /// The test table.
    pub test: Vec<(u16, u16, u8)>,
    /// The n-gram length its n-gram bits were learned with (absent: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ngram_length: u8,
    /// The train table's n-gram bits: `[call, bit]` (bit 0..2047 of the call's bitmap; bits up to 4095, from older versions, are read modulo 2048).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub train_ngrams: Vec<(u16, u16)>,
    /// The test table's n-gram bits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_ngrams: Vec<(u16, u16)>,
    /// The programs the train table knows it executed (`watch-execs`), as `[key, path]` on
    /// the host it was learned on: a table keeps executables by a hash of their key, which
    /// another host gives other numbers, so a file names them, and an import keys them
    /// anew by path (see [`FileProfile::to_stored`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub train_execs: Vec<(String, String)>,
    /// The programs the test table knows it executed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_execs: Vec<(String, String)>,
    /// The endpoints the train table lists (`watch-endpoints`): `connect inet loopback:5432`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub train_endpoints: Vec<String>,
    /// The endpoints the test table lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_endpoints: Vec<String>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// A profile file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileFile {
    /// Always `ebph-profiles`.
    pub format: String,
    /// The file layout's version.
    pub version: u32,
    /// The call numbering.
    pub arch: String,
    /// The profiles.
    pub profiles: Vec<FileProfile>,
    /// `sha256:` and the hex digest of `profiles` as serialized.
    pub checksum: String,
    /// Who signed it, if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<FileSignature>,
}

/// A profile file's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSignature {
    /// The public key that checks it, in hex.
    pub key: String,
    /// The ed25519 signature of the file's format, version, arch and checksum, in hex.
    pub signature: String,
}

fn checksum(profiles: &[FileProfile]) -> String {
    let bytes = serde_json::to_vec(profiles).expect("profiles serialize");
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The pairs of a table (not the endpoint row's list: files name endpoints instead).
fn entries(table: &LookaheadTable) -> Vec<(u16, u16, u8)> {
    table
        .entries()
        .filter(|(c, _, _)| !c.is_pseudo())
        .map(|(c, p, f)| (c.nr(), p.nr(), f))
        .collect()
}

/// The n-gram bits of a table, the exec and endpoint rows aside (files name executables and
/// endpoints instead).
fn ngram_entries(table: &LookaheadTable) -> Vec<(u16, u16)> {
    table
        .ngram_entries()
        .filter(|(c, _)| !c.is_pseudo())
        .map(|(c, b)| (c.nr(), b))
        .collect()
}

/// The endpoints `table` lists, as text.
fn endpoints(table: &LookaheadTable) -> Vec<String> {
    table.endpoints().iter().map(|e| e.to_string()).collect()
}

/// The programs of `known` (key and path) that `table` knows it executed.
fn execs(table: &LookaheadTable, known: &[(ProfileKey, String)]) -> Vec<(String, String)> {
    known
        .iter()
        .filter(|(key, path)| path.starts_with('/') && table.knows_exec(key))
        .map(|(key, path)| (key.to_string(), path.clone()))
        .collect()
}

/// The key here of the program that had key `original` at `path` on the host a file comes
/// from: by its path's device and inode when it is a program here (a script: with its
/// interpreter here), else the key it came with.
fn key_here(original: ProfileKey, path: &str) -> ProfileKey {
    // Only an absolute path names the same file here: a relative one would be looked up
    // from wherever the importer happens to be.
    let here = if path.starts_with('/') {
        std::fs::metadata(path).ok()
    } else {
        None
    };
    match here {
        Some(m) if original.script == 0 => ProfileKey {
            dev: m.dev(),
            ino: m.ino(),
            script: 0,
        },
        // A script: its file and its interpreter here.
        Some(m) => match interpreter_of(path) {
            Some(interpreter) => ProfileKey {
                dev: m.dev(),
                ino: m.ino(),
                script: 0,
            }
            .script_of(&interpreter),
            None => original,
        },
        None => original,
    }
}

fn table(
    key: &str,
    entries: &[(u16, u16, u8)],
    ngrams: &[(u16, u16)],
    executed: &[(String, String)],
    endpoints: &[String],
) -> Result<LookaheadTable, FileError> {
    let mut table = LookaheadTable::new();
    for endpoint in endpoints {
        let e: ebph_core::Endpoint =
            endpoint
                .parse()
                .map_err(|e: ebph_core::EndpointError| FileError::Invalid {
                    key: key.to_owned(),
                    why: e.to_string(),
                })?;
        table.learn_endpoint(&e);
    }
    for (original, path) in executed {
        let original: ProfileKey =
            original
                .parse()
                .map_err(|e: ebph_core::ProfileKeyError| FileError::Invalid {
                    key: key.to_owned(),
                    why: format!("executed program {path}: {e}"),
                })?;
        table.learn_exec(&key_here(original, path));
    }
    for &(curr, bit) in ngrams {
        // Files written with the larger bitmaps of old still read (OLD_NGRAM_BITS).
        let (Some(c), true) = (Syscall::new(curr), usize::from(bit) < OLD_NGRAM_BITS) else {
            return Err(FileError::Invalid {
                key: key.to_owned(),
                why: format!("n-gram bit {bit} of call {curr} out of range"),
            });
        };
        table.set_ngram_bit(c, bit);
    }
    for &(curr, prev, flags) in entries {
        let (Some(c), Some(p)) = (Syscall::new(curr), Syscall::new(prev)) else {
            return Err(FileError::Invalid {
                key: key.to_owned(),
                why: format!("call number {curr} or {prev} out of range"),
            });
        };
        if c.is_pseudo() {
            return Err(FileError::Invalid {
                key: key.to_owned(),
                why: format!("call number {curr} is no call"),
            });
        }
        table.set(c, p, flags);
    }
    Ok(table)
}

impl FileProfile {
    /// A stored profile as it goes into a file; `known` (every program the exporter knows,
    /// by key and path) names the programs it executed.
    pub fn from_stored(p: &StoredProfile, known: &[(ProfileKey, String)]) -> FileProfile {
        FileProfile {
            key: p.key.to_string(),
            path: p.path.clone(),
            status: p.profile.status,
            train_count: p.profile.train_count,
            last_mod_count: p.profile.last_mod_count,
            sequences: p.profile.sequences,
            anomalies: p.profile.anomalies,
            train: entries(&p.profile.train),
            test: entries(&p.profile.test),
            ngram_length: p.ngram_length,
            train_ngrams: ngram_entries(&p.profile.train),
            test_ngrams: ngram_entries(&p.profile.test),
            train_execs: execs(&p.profile.train, known),
            test_execs: execs(&p.profile.test, known),
            train_endpoints: endpoints(&p.profile.train),
            test_endpoints: endpoints(&p.profile.test),
        }
    }

    /// The profile, keyed for this host: by its path's device and inode when the path is a
    /// program here, else by the key it came with; so are the programs it executed.
    pub fn to_stored(&self) -> Result<StoredProfile, FileError> {
        let invalid = |why: String| FileError::Invalid {
            key: self.key.clone(),
            why,
        };
        let original: ProfileKey = self
            .key
            .parse()
            .map_err(|e: ebph_core::ProfileKeyError| invalid(e.to_string()))?;
        let key = key_here(original, &self.path);
        // A frozen profile's normal time is of the host it was learned on: it freezes anew.
        let status = match self.status {
            ProfileStatus::Frozen => ProfileStatus::Training,
            other => other,
        };
        Ok(StoredProfile {
            key,
            path: self.path.clone(),
            profile: Profile {
                train: table(
                    &self.key,
                    &self.train,
                    &self.train_ngrams,
                    &self.train_execs,
                    &self.train_endpoints,
                )?,
                test: if status == ProfileStatus::Normal {
                    table(
                        &self.key,
                        &self.test,
                        &self.test_ngrams,
                        &self.test_execs,
                        &self.test_endpoints,
                    )?
                } else {
                    LookaheadTable::new()
                },
                train_count: self.train_count,
                last_mod_count: self.last_mod_count,
                sequences: self.sequences,
                anomalies: self.anomalies,
                status,
                normal_time: 0,
                // Runs are counted anew; the engine tells a partial train table from the
                // tables themselves.
                repeats: 0,
                train_partial: false,
            },
            origin: ProfileOrigin::default(),
            ngram_length: self.ngram_length,
        })
    }
}

impl ProfileFile {
    /// A file of `profiles`.
    pub fn new(profiles: Vec<FileProfile>) -> ProfileFile {
        ProfileFile {
            format: FORMAT.to_owned(),
            version: VERSION,
            arch: "x86_64".to_owned(),
            checksum: checksum(&profiles),
            profiles,
            signature: None,
        }
    }

    /// What a signature covers: everything that says what the profiles are.
    fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "{}\n{}\n{}\n{}",
            self.format, self.version, self.arch, self.checksum
        )
        .into_bytes()
    }

    /// Signs the file with `key`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = Some(FileSignature {
            key: key.public().to_hex(),
            signature: key.sign(&self.signed_bytes()),
        });
    }

    /// Checks that a key of `trusted` signed the file (and that the signature matches);
    /// returns that key.
    pub fn check_signature(&self, trusted: &[PublicKey]) -> Result<PublicKey, FileError> {
        let signed = self.signature.as_ref().ok_or(FileError::Unsigned)?;
        let key = PublicKey::from_hex(&signed.key).map_err(|_| FileError::BadSignature)?;
        if !key.verifies(&self.signed_bytes(), &signed.signature) {
            return Err(FileError::BadSignature);
        }
        if !trusted.contains(&key) {
            return Err(FileError::Untrusted(signed.key.clone()));
        }
        Ok(key)
    }

    /// Reads and checks a file's text.
    pub fn parse(text: &str) -> Result<ProfileFile, FileError> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| FileError::NotProfiles(e.to_string()))?;
        if head.format.as_deref() != Some(FORMAT) {
            return Err(FileError::NotProfiles(format!(
                "format is {:?}",
                head.format
            )));
        }
        if head.version != Some(VERSION) {
            return Err(FileError::Version(head.version.unwrap_or(0)));
        }
        let file: ProfileFile =
            serde_json::from_str(text).map_err(|e| FileError::NotProfiles(e.to_string()))?;
        if file.arch != "x86_64" {
            return Err(FileError::Arch(file.arch));
        }
        if checksum(&file.profiles) != file.checksum {
            return Err(FileError::Checksum);
        }
        Ok(file)
    }

    /// The file as text.
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("a profile file serializes")
    }

    /// Combines two files: profiles of the same executable (the same path: keys differ from
    /// host to host) get the union of their pairs and the sum of their counts; the others are
    /// kept as they are. One key under two paths is refused unless `force` (then merged). The
    /// result is not signed.
    pub fn merge(&self, other: &ProfileFile, force: bool) -> Result<ProfileFile, FileError> {
        let mut out = self.profiles.clone();
        for p in &other.profiles {
            if let Some(q) = out.iter().find(|q| q.key == p.key && q.path != p.path) {
                if !force {
                    return Err(FileError::PathsDiffer {
                        key: p.key.clone(),
                        first: q.path.clone(),
                        second: p.path.clone(),
                    });
                }
            }
            match out
                .iter_mut()
                .find(|q| (!q.path.is_empty() && q.path == p.path) || (force && q.key == p.key))
            {
                Some(q) => *q = merge_one(q, p)?,
                None => out.push(p.clone()),
            }
        }
        Ok(ProfileFile::new(out))
    }
}

/// The union of two profiles of one executable.
pub fn merge_one(a: &FileProfile, b: &FileProfile) -> Result<FileProfile, FileError> {
    if a.path != b.path && a.key != b.key {
        return Err(FileError::Mismatch(a.path.clone(), b.path.clone()));
    }
    let union =
        |x: &[(u16, u16, u8)], y: &[(u16, u16, u8)]| -> Result<Vec<(u16, u16, u8)>, FileError> {
            let mut t = table(&a.key, x, &[], &[], &[])?;
            for &(c, p, f) in y {
                let (Some(c), Some(p)) = (Syscall::new(c), Syscall::new(p)) else {
                    return Err(FileError::Invalid {
                        key: b.key.clone(),
                        why: "call number out of range".into(),
                    });
                };
                let merged = t.get(c, p) | f;
                t.set(c, p, merged);
            }
            Ok(entries(&t))
        };
    let both_normal = a.status == ProfileStatus::Normal && b.status == ProfileStatus::Normal;
    // N-gram bits join when learned with the same length; a profile without any takes the
    // other's; bits of two different lengths mean nothing together and are dropped.
    let ngram_union = |x: &[(u16, u16)], y: &[(u16, u16)]| -> Vec<(u16, u16)> {
        let set: std::collections::BTreeSet<(u16, u16)> = x.iter().chain(y).copied().collect();
        set.into_iter().collect()
    };
    let (ngram_length, train_ngrams, test_ngrams) = match (a.ngram_length, b.ngram_length) {
        (x, y) if x == y => (
            x,
            ngram_union(&a.train_ngrams, &b.train_ngrams),
            ngram_union(&a.test_ngrams, &b.test_ngrams),
        ),
        (0, y) => (y, b.train_ngrams.clone(), b.test_ngrams.clone()),
        (x, 0) => (x, a.train_ngrams.clone(), a.test_ngrams.clone()),
        _ => (0, Vec::new(), Vec::new()),
    };
    // Executed programs join by path, the name that means the same program on every host.
    let exec_union = |x: &[(String, String)], y: &[(String, String)]| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (key, path) in x.iter().chain(y) {
            if !out.iter().any(|(_, p)| p == path) {
                out.push((key.clone(), path.clone()));
            }
        }
        out
    };
    let endpoint_union = |x: &[String], y: &[String]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in x.iter().chain(y) {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        out
    };
    Ok(FileProfile {
        train_endpoints: endpoint_union(&a.train_endpoints, &b.train_endpoints),
        test_endpoints: if both_normal {
            endpoint_union(&a.test_endpoints, &b.test_endpoints)
        } else {
            Vec::new()
        },
        train_execs: exec_union(&a.train_execs, &b.train_execs),
        test_execs: if both_normal {
            exec_union(&a.test_execs, &b.test_execs)
        } else {
            Vec::new()
        },
        key: a.key.clone(),
        path: if a.path.is_empty() {
            b.path.clone()
        } else {
            a.path.clone()
        },
        status: if both_normal {
            ProfileStatus::Normal
        } else {
            ProfileStatus::Training
        },
        train_count: a.train_count + b.train_count,
        last_mod_count: a.last_mod_count.min(b.last_mod_count),
        sequences: a.sequences + b.sequences,
        anomalies: a.anomalies + b.anomalies,
        train: union(&a.train, &b.train)?,
        test: if both_normal {
            union(&a.test, &b.test)?
        } else {
            Vec::new()
        },
        ngram_length,
        train_ngrams,
        test_ngrams: if both_normal { test_ngrams } else { Vec::new() },
    })
}

/// The key of the interpreter a `#!` script at `path` names, as the kernel runs it (the
/// file the interpreter's path leads to).
fn interpreter_of(path: &str) -> Option<ProfileKey> {
    use std::io::{BufRead, BufReader, Read};
    let mut line = Vec::new();
    BufReader::new(std::fs::File::open(path).ok()?)
        .take(256)
        .read_until(b'\n', &mut line)
        .ok()?;
    let rest = line.strip_prefix(b"#!")?;
    let rest = String::from_utf8_lossy(rest);
    let interpreter = rest.split_whitespace().next()?;
    let m = std::fs::metadata(interpreter).ok()?;
    Some(ProfileKey {
        dev: m.dev(),
        ino: m.ino(),
        script: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &str, path: &str, pairs: &[(u16, u16, u8)]) -> FileProfile {
        FileProfile {
            key: key.into(),
            path: path.into(),
            status: ProfileStatus::Normal,
            train_count: 100,
            last_mod_count: 40,
            sequences: 7,
            anomalies: 1,
            train: pairs.to_vec(),
            test: pairs.to_vec(),
            ngram_length: 7,
            train_ngrams: vec![(0, 17), (59, 2047)],
            test_ngrams: vec![(59, 2047)],
            train_execs: Vec::new(),
            test_execs: Vec::new(),
            train_endpoints: Vec::new(),
            test_endpoints: Vec::new(),
        }
    }

    #[test]
    fn executed_programs_travel_by_path_and_are_keyed_anew() {
        let elsewhere = ProfileKey::new(8, 1, 4242); // /bin/true on the host that learned
        let gone = ProfileKey::new(8, 1, 4343); // a program this host does not have
        let unknown = ProfileKey::new(8, 1, 4444); // one the exporter cannot name
        let mut profile = Profile::new();
        for key in [elsewhere, gone, unknown] {
            profile.train.learn_exec(&key);
        }
        profile.normalize();
        profile.train.learn_exec(&ProfileKey::new(8, 1, 4545));
        let stored = StoredProfile {
            key: ProfileKey::new(8, 1, 1),
            path: "/nonexistent/sh".into(),
            profile,
            origin: ProfileOrigin::default(),
            ngram_length: 5,
        };
        let known = vec![
            (elsewhere, "/bin/true".to_owned()),
            (gone, "/nonexistent/tool".to_owned()),
        ];
        let file = FileProfile::from_stored(&stored, &known);
        assert_eq!(
            file.train_execs,
            vec![
                (elsewhere.to_string(), "/bin/true".to_owned()),
                (gone.to_string(), "/nonexistent/tool".to_owned())
            ]
        );
        assert_eq!(file.test_execs, file.train_execs);
        assert!(
            file.train_ngrams.is_empty(),
            "the exec row is not written as bits"
        );

        let back = ProfileFile::parse(&ProfileFile::new(vec![file.clone()]).to_text()).unwrap();
        let here = back.profiles[0].to_stored().unwrap();
        let meta = std::fs::metadata("/bin/true").unwrap();
        let true_here = ProfileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            script: 0,
        };
        assert!(
            here.profile.train.knows_exec(&true_here),
            "keyed by its path here"
        );
        assert!(here.profile.test.knows_exec(&true_here));
        assert!(
            here.profile.train.knows_exec(&gone),
            "no such path here: its old key"
        );
        assert!(!here.profile.train.knows_exec(&unknown));

        // Merging joins them by path.
        let mut other = file.clone();
        other.train_execs = vec![
            ("9:9:9".to_owned(), "/bin/true".to_owned()),
            ("9:9:10".to_owned(), "/bin/false".to_owned()),
        ];
        let merged = merge_one(&file, &other).unwrap();
        let paths: Vec<&str> = merged.train_execs.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(paths, ["/bin/true", "/nonexistent/tool", "/bin/false"]);
        let mut bad = file;
        bad.train_execs = vec![("not a key".to_owned(), "/bin/true".to_owned())];
        assert!(bad.to_stored().is_err());
    }

    #[test]
    fn endpoints_travel_as_text() {
        let db: ebph_core::Endpoint = "connect inet loopback:5432".parse().unwrap();
        let web: ebph_core::Endpoint = "bind inet6 any:8080".parse().unwrap();
        let mut profile = Profile::new();
        profile.train.learn_endpoint(&db);
        profile.normalize();
        profile.train.learn_endpoint(&web);
        let stored = StoredProfile {
            key: ProfileKey::new(8, 1, 1),
            path: "/nonexistent/server".into(),
            profile,
            origin: ProfileOrigin::default(),
            ngram_length: 5,
        };
        let file = FileProfile::from_stored(&stored, &[]);
        assert_eq!(file.train_endpoints, [db.to_string(), web.to_string()]);
        assert_eq!(file.test_endpoints, [db.to_string()]);
        assert!(
            file.train.is_empty() && file.train_ngrams.is_empty(),
            "no bytes of the list"
        );
        let back = ProfileFile::parse(&ProfileFile::new(vec![file.clone()]).to_text()).unwrap();
        let here = back.profiles[0].to_stored().unwrap();
        assert_eq!(here.profile.train.endpoints(), [db, web]);
        assert!(here.profile.test.knows_endpoint(&db) && !here.profile.test.knows_endpoint(&web));
        let mut other = file.clone();
        other.train_endpoints = vec!["connect inet public:443".into(), db.to_string()];
        let merged = merge_one(&file, &other).unwrap();
        assert_eq!(merged.train_endpoints.len(), 3);
        let mut bad = file;
        bad.train_endpoints = vec!["connect mars:1".into()];
        assert!(bad.to_stored().is_err());
        bad.train_endpoints.clear();
        bad.train = vec![(510, 0, 1)];
        assert!(bad.to_stored().is_err(), "the endpoint row is no call");
    }

    #[test]
    fn files_round_trip() {
        let file = ProfileFile::new(vec![sample(
            "8:1:42",
            "/nonexistent/a",
            &[(0, 1, 3), (59, 2, 0x80)],
        )]);
        let back = ProfileFile::parse(&file.to_text()).unwrap();
        assert_eq!(back, file);
        let stored = back.profiles[0].to_stored().unwrap();
        assert_eq!(FileProfile::from_stored(&stored, &[]), back.profiles[0]);
    }

    #[test]
    fn ngrams_merge_by_length_and_are_dropped_for_another_length() {
        let a = sample("8:1:42", "/bin/a", &[(0, 1, 3)]);
        let mut b = a.clone();
        b.train_ngrams = vec![(0, 17), (3, 9)];
        let merged = merge_one(&a, &b).unwrap();
        assert_eq!(merged.train_ngrams, [(0, 17), (3, 9), (59, 2047)]);
        assert_eq!(merged.ngram_length, 7);
        // A profile without n-grams takes the other's; two lengths drop both.
        let old = FileProfile {
            ngram_length: 0,
            train_ngrams: Vec::new(),
            test_ngrams: Vec::new(),
            ..a.clone()
        };
        assert_eq!(merge_one(&old, &a).unwrap().train_ngrams, a.train_ngrams);
        b.ngram_length = 5;
        let mixed = merge_one(&a, &b).unwrap();
        assert_eq!((mixed.ngram_length, mixed.train_ngrams.len()), (0, 0));
        // Fitted to another length, a stored profile forgets its n-grams but not its pairs.
        let mut stored = a.to_stored().unwrap();
        assert!(stored.profile.train.ngram_bits_set() == 2);
        assert!(!stored.fit_ngram_length(7));
        assert!(stored.fit_ngram_length(6));
        assert_eq!(stored.profile.train.ngram_bits_set(), 0);
        assert_eq!(stored.profile.train.lookahead_pairs(), 2);
        // Out-of-range bits are refused; bits of the old 4,096-bit bitmaps fold onto today's.
        let old = FileProfile {
            train_ngrams: vec![(0, 4000)],
            ..a.clone()
        };
        let folded = old.to_stored().unwrap().profile.train;
        assert_eq!(folded.ngram_entries().collect::<Vec<_>>().len(), 1);
        assert_eq!(
            folded.ngram_entries().next().map(|(_, bit)| bit),
            Some(4000 % ebph_core::NGRAM_BITS as u16)
        );
        let bad = FileProfile {
            train_ngrams: vec![(0, 4096)],
            ..a
        };
        assert!(bad.to_stored().is_err());
    }

    #[test]
    fn corrupted_and_foreign_files_are_refused() {
        let file = ProfileFile::new(vec![sample("8:1:42", "/a", &[(0, 1, 3)])]);
        let text = file.to_text();
        let tampered = text.replacen("\"train_count\": 100", "\"train_count\": 101", 1);
        assert!(matches!(
            ProfileFile::parse(&tampered),
            Err(FileError::Checksum)
        ));
        let newer = text.replacen("\"version\": 1", "\"version\": 2", 1);
        assert!(matches!(
            ProfileFile::parse(&newer),
            Err(FileError::Version(2))
        ));
        assert!(matches!(
            ProfileFile::parse("{\"format\": \"other\"}"),
            Err(FileError::NotProfiles(_))
        ));
        assert!(matches!(
            ProfileFile::parse("not json"),
            Err(FileError::NotProfiles(_))
        ));
        assert!(matches!(
            ProfileFile::parse(&text[..text.len() / 2]),
            Err(FileError::NotProfiles(_))
        ));
        let bad = ProfileFile::new(vec![sample("8:1:42", "/a", &[(600, 1, 3)])]);
        assert!(matches!(
            bad.profiles[0].to_stored(),
            Err(FileError::Invalid { .. })
        ));
    }

    #[test]
    fn merging_unites_pairs_of_the_same_executable() {
        let a = ProfileFile::new(vec![
            sample("8:1:42", "/usr/bin/x", &[(0, 1, 0b01)]),
            sample("8:1:7", "/usr/bin/y", &[(3, 3, 1)]),
        ]);
        let b = ProfileFile::new(vec![sample(
            "9:2:99",
            "/usr/bin/x",
            &[(0, 1, 0b10), (5, 6, 1)],
        )]);
        let m = a.merge(&b, false).unwrap();
        assert_eq!(m.profiles.len(), 2);
        let x = &m.profiles[0];
        assert_eq!(x.train, [(0, 1, 0b11), (5, 6, 1)]);
        assert_eq!(x.train_count, 200);
        assert_eq!(x.status, ProfileStatus::Normal);
        assert!(matches!(
            merge_one(&sample("1:1:1", "/a", &[]), &sample("2:2:2", "/b", &[])),
            Err(FileError::Mismatch(_, _))
        ));
        assert!(ProfileFile::parse(&m.to_text()).is_ok());
        // One key under two paths: an edited file, refused unless forced.
        let edited = ProfileFile::new(vec![sample("8:1:42", "/usr/bin/ls", &[(7, 7, 1)])]);
        assert!(matches!(
            a.merge(&edited, false),
            Err(FileError::PathsDiffer { .. })
        ));
        assert_eq!(a.merge(&edited, true).unwrap().profiles.len(), 2);
    }

    #[test]
    fn only_files_signed_by_a_trusted_key_pass() {
        let key = SigningKey::generate().unwrap();
        let trusted = [key.public()];
        let mut file = ProfileFile::new(vec![sample("8:1:42", "/usr/bin/x", &[(0, 1, 3)])]);
        assert!(matches!(
            file.check_signature(&trusted),
            Err(FileError::Unsigned)
        ));
        file.sign(&key);
        let text = file.to_text();
        let back = ProfileFile::parse(&text).unwrap();
        assert_eq!(back.check_signature(&trusted).unwrap(), key.public());
        // Another key's signature is not trusted.
        let stranger = SigningKey::generate().unwrap();
        let mut theirs = back.clone();
        theirs.sign(&stranger);
        assert!(matches!(
            theirs.check_signature(&trusted),
            Err(FileError::Untrusted(_))
        ));
        // A path edited and the checksum computed again: the signature no longer matches.
        let mut edited = ProfileFile::new(vec![sample("8:1:42", "/usr/bin/ls", &[(0, 1, 3)])]);
        edited.signature = back.signature.clone();
        let edited = ProfileFile::parse(&edited.to_text()).unwrap();
        assert!(matches!(
            edited.check_signature(&trusted),
            Err(FileError::BadSignature)
        ));
    }

    #[test]
    fn a_relative_path_is_not_looked_up_where_the_importer_stands() {
        // Tests run in the crate's directory, where ./Cargo.toml exists.
        assert!(std::path::Path::new("./Cargo.toml").exists());
        let p = sample("8:1:42", "./Cargo.toml", &[]);
        assert_eq!(p.to_stored().unwrap().key.to_string(), "8:1:42");
    }
}
