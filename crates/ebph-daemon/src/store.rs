//! Profiles, anomalies and runtime settings in one SQLite database, with a versioned schema.
//!
//! The file carries SQLite's `application_id` (`ebph`) and a `user_version` (the schema
//! version): any other file is refused and never written to. Every save is one transaction,
//! so a crash mid-save leaves the previous save intact.

pub use ebph_api::file::{ProfileOrigin, StoredProfile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ebph_core::{LookaheadTable, Profile, ProfileKey, ProfileStatus, Syscall};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

/// `ebph` in ASCII: marks the file as ebph's.
const APPLICATION_ID: i64 = 0x6562_7068;
/// The schema this build reads and writes.
pub const SCHEMA_VERSION: i64 = 4;

/// From version 1: profiles know when they were last used, whether their executable is
/// one other users can change, and who first ran it. Version 1 keyed `#!` scripts by the
/// hash of the path they were run by; scripts are now keyed by their file, so those
/// profiles would never be found again and are dropped.
const MIGRATE_FROM_1: &str = "
ALTER TABLE profiles ADD COLUMN last_used_unix_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN unprivileged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN uid INTEGER NOT NULL DEFAULT 0;
DELETE FROM profiles WHERE script != 0;
";

/// From version 2: profiles have n-gram bits (none yet).
const MIGRATE_FROM_2: &str = "
ALTER TABLE profiles ADD COLUMN train_ngrams BLOB NOT NULL DEFAULT x'';
ALTER TABLE profiles ADD COLUMN test_ngrams BLOB NOT NULL DEFAULT x'';
ALTER TABLE profiles ADD COLUMN ngram_length INTEGER NOT NULL DEFAULT 0;
";

/// From version 3: an anomaly records whether its n-gram was new (none before were).
const MIGRATE_FROM_3: &str = "
ALTER TABLE anomalies ADD COLUMN novel_ngram INTEGER NOT NULL DEFAULT 0;
";

const SCHEMA: &str = "
CREATE TABLE profiles (
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    script INTEGER NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    train_count INTEGER NOT NULL,
    last_mod_count INTEGER NOT NULL,
    sequences INTEGER NOT NULL,
    anomalies INTEGER NOT NULL,
    normal_time_unix_ns INTEGER NOT NULL,
    train BLOB NOT NULL,
    test BLOB NOT NULL,
    last_used_unix_ns INTEGER NOT NULL DEFAULT 0,
    unprivileged INTEGER NOT NULL DEFAULT 0,
    uid INTEGER NOT NULL DEFAULT 0,
    train_ngrams BLOB NOT NULL DEFAULT x'',
    test_ngrams BLOB NOT NULL DEFAULT x'',
    ngram_length INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dev, ino, script)
);
CREATE TABLE anomalies (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    pid INTEGER NOT NULL,
    tid INTEGER NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    syscall TEXT NOT NULL,
    misses INTEGER NOT NULL,
    lfc INTEGER NOT NULL,
    sequence TEXT NOT NULL,
    novel_ngram INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not an ebph database (or not SQLite at all).
    #[error("{path} is not an ebph database ({why}); refusing to touch it: move it away or choose another --state-dir")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    /// The file is an ebph database of a schema this build does not know.
    #[error("{path} has schema version {found}, this ebph reads version {SCHEMA_VERSION}; refusing to touch it")]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// The file is damaged.
    #[error("{path} is damaged: {why}; refusing to overwrite it (restore it from a backup or move it away)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the check found.
        why: String,
    },
    /// SQLite failed.
    #[error("{path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// An anomaly as stored: the API's own type.
pub use ebph_api::protocol::Anomaly as StoredAnomaly;

/// The open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Tables as bytes: `(curr: u16, prev: u16, flags: u8)` little-endian, by curr then prev.
fn encode(table: &LookaheadTable) -> Vec<u8> {
    let mut out = Vec::new();
    for (curr, prev, flags) in table.entries() {
        out.extend_from_slice(&curr.nr().to_le_bytes());
        out.extend_from_slice(&prev.nr().to_le_bytes());
        out.push(flags);
    }
    out
}

/// N-gram bits as bytes: `(curr: u16, bit: u16)` little-endian, by curr then bit.
fn encode_ngrams(table: &LookaheadTable) -> Vec<u8> {
    let mut out = Vec::new();
    for (curr, bit) in table.ngram_entries() {
        out.extend_from_slice(&curr.nr().to_le_bytes());
        out.extend_from_slice(&bit.to_le_bytes());
    }
    out
}

/// Adds the n-gram bits of `bytes` (see [`encode_ngrams`]) to `table`.
fn decode_ngrams(bytes: &[u8], table: &mut LookaheadTable) -> Result<(), String> {
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "n-grams of {} bytes are not whole entries",
            bytes.len()
        ));
    }
    for entry in bytes.chunks_exact(4) {
        let curr = u16::from_le_bytes([entry[0], entry[1]]);
        let bit = u16::from_le_bytes([entry[2], entry[3]]);
        match Syscall::new(curr) {
            // Bits of the larger bitmaps of schema 3 fold onto today's (OLD_NGRAM_BITS).
            Some(curr) if usize::from(bit) < ebph_core::OLD_NGRAM_BITS => {
                table.set_ngram_bit(curr, bit)
            }
            _ => return Err(format!("n-gram bit {bit} of call {curr} out of range")),
        }
    }
    Ok(())
}

fn decode(bytes: &[u8]) -> Result<LookaheadTable, String> {
    if bytes.len() % 5 != 0 {
        return Err(format!(
            "a table of {} bytes is not whole entries",
            bytes.len()
        ));
    }
    let mut table = LookaheadTable::new();
    for entry in bytes.chunks_exact(5) {
        let curr = u16::from_le_bytes([entry[0], entry[1]]);
        let prev = u16::from_le_bytes([entry[2], entry[3]]);
        let (Some(curr), Some(prev)) = (Syscall::new(curr), Syscall::new(prev)) else {
            return Err(format!("call number {curr} or {prev} out of range"));
        };
        table.set(curr, prev, entry[4]);
    }
    Ok(table)
}

fn status_name(status: ProfileStatus) -> &'static str {
    status.as_str()
}

fn status_of(name: &str) -> Option<ProfileStatus> {
    match name {
        "training" => Some(ProfileStatus::Training),
        "frozen" => Some(ProfileStatus::Frozen),
        "normal" => Some(ProfileStatus::Normal),
        _ => None,
    }
}

impl Store {
    /// Opens the database at `path`, creating it (and its directory) if it does not exist.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let exists = path.exists();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Sqlite {
                path: dir.to_owned(),
                source: rusqlite::Error::InvalidPath(format!("{}: {e}", dir.display()).into()),
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
        .map_err(sqlite)?;
        let store = Store {
            conn,
            path: path.to_owned(),
        };
        if exists && std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) > 0 {
            store.check()?;
        } else {
            store.create()?;
        }
        store
            .conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(sqlite)?;
        Ok(store)
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn create(&self) -> Result<(), StoreError> {
        let batch = format!(
            "BEGIN; {SCHEMA} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        );
        self.conn.execute_batch(&batch).map_err(|e| self.sqlite(e))
    }

    fn check(&self) -> Result<(), StoreError> {
        let foreign = |why: String| StoreError::Foreign {
            path: self.path.clone(),
            why,
        };
        let id: i64 = self
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| foreign(e.to_string()))?;
        if id != APPLICATION_ID {
            return Err(foreign(format!("its application id is {id:#x}")));
        }
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))?;
        if (1..SCHEMA_VERSION).contains(&version) {
            let from_1 = if version <= 1 { MIGRATE_FROM_1 } else { "" };
            let from_2 = if version <= 2 { MIGRATE_FROM_2 } else { "" };
            let batch = format!(
                "BEGIN; {from_1} {from_2} {MIGRATE_FROM_3} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            );
            self.conn
                .execute_batch(&batch)
                .map_err(|e| self.sqlite(e))?;
        } else if version != SCHEMA_VERSION {
            return Err(StoreError::Version {
                path: self.path.clone(),
                found: version,
            });
        }
        let integrity: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                why: e.to_string(),
            })?;
        if integrity != "ok" {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                why: integrity,
            });
        }
        Ok(())
    }

    /// Replaces every saved profile with `profiles`, in one transaction. The store keeps
    /// time on the wall clock only: `normal_time` is in Unix nanoseconds here (0: none), so
    /// profiles outlive reboots; the worker converts from and to the engine's clock.
    pub fn save_profiles(&mut self, profiles: &[StoredProfile]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite)?;
        tx.execute("DELETE FROM profiles", []).map_err(sqlite)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO profiles (dev, ino, script, path, status, train_count, last_mod_count,
                     sequences, anomalies, normal_time_unix_ns, train, test, last_used_unix_ns,
                     unprivileged, uid, train_ngrams, test_ngrams, ngram_length)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                     ?16, ?17, ?18)",
                )
                .map_err(sqlite)?;
            for s in profiles {
                let p = &s.profile;
                insert
                    .execute(params![
                        s.key.dev as i64,
                        s.key.ino as i64,
                        s.key.script as i64,
                        s.path,
                        status_name(p.status),
                        p.train_count as i64,
                        p.last_mod_count as i64,
                        p.sequences as i64,
                        p.anomalies as i64,
                        p.normal_time.min(i64::MAX as u64) as i64,
                        encode(&p.train),
                        encode(&p.test),
                        s.origin.last_used.min(i64::MAX as u64) as i64,
                        s.origin.unprivileged,
                        i64::from(s.origin.uid),
                        encode_ngrams(&p.train),
                        encode_ngrams(&p.test),
                        i64::from(s.ngram_length),
                    ])
                    .map_err(sqlite)?;
            }
        }
        tx.commit().map_err(sqlite)
    }

    /// Adds `profiles`, replacing saved ones of the same keys, in one transaction.
    pub fn put_profiles(&mut self, profiles: &[StoredProfile]) -> Result<(), StoreError> {
        let mut all: BTreeMap<ProfileKey, StoredProfile> = self
            .load_profiles()?
            .into_iter()
            .map(|p| (p.key, p))
            .collect();
        for p in profiles {
            all.insert(p.key, p.clone());
        }
        let all: Vec<StoredProfile> = all.into_values().collect();
        self.save_profiles(&all)
    }

    /// Forgets the saved profiles of `keys` (deleted, evicted or expired), in one
    /// transaction; how many there were.
    pub fn forget_profiles(&mut self, keys: &[ProfileKey]) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite)?;
        let mut forgotten = 0;
        {
            let mut delete = tx
                .prepare("DELETE FROM profiles WHERE dev = ?1 AND ino = ?2 AND script = ?3")
                .map_err(sqlite)?;
            for k in keys {
                forgotten += delete
                    .execute(params![k.dev as i64, k.ino as i64, k.script as i64])
                    .map_err(sqlite)?;
            }
        }
        tx.commit().map_err(sqlite)?;
        Ok(forgotten)
    }

    /// Every saved profile.
    pub fn load_profiles(&self) -> Result<Vec<StoredProfile>, StoreError> {
        let corrupt = |why: String| StoreError::Corrupt {
            path: self.path.clone(),
            why,
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT dev, ino, script, path, status, train_count, last_mod_count, sequences,
                 anomalies, normal_time_unix_ns, train, test, last_used_unix_ns, unprivileged,
                 uid, train_ngrams, test_ngrams, ngram_length FROM profiles
                 ORDER BY dev, ino, script",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    ProfileKey {
                        dev: r.get::<_, i64>(0)? as u64,
                        ino: r.get::<_, i64>(1)? as u64,
                        script: r.get::<_, i64>(2)? as u64,
                    },
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    [
                        r.get::<_, i64>(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ],
                    r.get::<_, Vec<u8>>(10)?,
                    r.get::<_, Vec<u8>>(11)?,
                    ProfileOrigin {
                        last_used: r.get::<_, i64>(12)?.max(0) as u64,
                        unprivileged: r.get(13)?,
                        uid: r.get::<_, i64>(14)?.clamp(0, i64::from(u32::MAX)) as u32,
                    },
                    (
                        r.get::<_, Vec<u8>>(15)?,
                        r.get::<_, Vec<u8>>(16)?,
                        r.get::<_, i64>(17)?,
                    ),
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, path, status, n, train, test, origin, (train_ngrams, test_ngrams, length)) =
                row.map_err(|e| corrupt(e.to_string()))?;
            let status = status_of(&status)
                .ok_or_else(|| corrupt(format!("profile {key} has status {status:?}")))?;
            let bad = |e: String| corrupt(format!("profile {key}: {e}"));
            let mut train = decode(&train).map_err(bad)?;
            let mut test = decode(&test).map_err(bad)?;
            decode_ngrams(&train_ngrams, &mut train).map_err(bad)?;
            decode_ngrams(&test_ngrams, &mut test).map_err(bad)?;
            let ngram_length = u8::try_from(length)
                .ok()
                .filter(|&n| n == 0 || (2..=ebph_core::NGRAM_MAX as u8).contains(&n))
                .ok_or_else(|| bad(format!("n-gram length {length}")))?;
            out.push(StoredProfile {
                key,
                path,
                profile: Profile {
                    train,
                    test,
                    train_count: n[0] as u64,
                    last_mod_count: n[1] as u64,
                    sequences: n[2] as u64,
                    anomalies: n[3] as u64,
                    status,
                    normal_time: n[4].max(0) as u64,
                    // Not saved: runs are counted anew after a restart, and the engine tells
                    // a partial train table from the tables themselves.
                    repeats: 0,
                    train_partial: false,
                },
                origin,
                ngram_length,
            });
        }
        out.sort_by_key(|p| p.key);
        Ok(out)
    }

    /// Appends anomalies to the history, in one transaction.
    pub fn add_anomalies(&mut self, anomalies: &[StoredAnomaly]) -> Result<(), StoreError> {
        if anomalies.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO anomalies
                     (time, pid, tid, key, path, syscall, misses, lfc, sequence, novel_ngram)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(sqlite)?;
            for a in anomalies {
                insert
                    .execute(params![
                        a.time,
                        a.pid,
                        a.tid,
                        a.key,
                        a.path,
                        a.syscall,
                        a.misses,
                        a.lfc,
                        a.sequence.join(" "),
                        a.novel_ngram,
                    ])
                    .map_err(sqlite)?;
            }
        }
        tx.commit().map_err(sqlite)
    }

    /// Forgets anomalies beyond the newest `keep`, and those recorded before `before`
    /// (RFC 3339, as recorded). Returns how many were removed.
    pub fn prune_anomalies(&mut self, keep: u64, before: &str) -> Result<u64, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let by_count = self
            .conn
            .execute(
                "DELETE FROM anomalies WHERE id <= (SELECT MAX(id) FROM anomalies) - ?1",
                [keep],
            )
            .map_err(|e| self.sqlite(e))?;
        let by_age = self
            .conn
            .execute("DELETE FROM anomalies WHERE time < ?1", [before])
            .map_err(|e| self.sqlite(e))?;
        Ok((by_count + by_age) as u64)
    }

    /// The last `limit` anomalies, oldest first.
    pub fn anomalies(&self, limit: u32) -> Result<Vec<StoredAnomaly>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT time, pid, tid, key, path, syscall, misses, lfc, sequence, novel_ngram FROM
                 (SELECT * FROM anomalies ORDER BY id DESC LIMIT ?1) ORDER BY id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(StoredAnomaly {
                    time: r.get(0)?,
                    pid: r.get(1)?,
                    tid: r.get(2)?,
                    key: r.get(3)?,
                    path: r.get(4)?,
                    syscall: r.get(5)?,
                    misses: r.get(6)?,
                    lfc: r.get(7)?,
                    sequence: r
                        .get::<_, String>(8)?
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    novel_ngram: r.get(9)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Settings changed at run time (`ebph set`), by name.
    pub fn settings(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, value FROM settings")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Remembers a setting changed at run time.
    pub fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map(|_| ())
            .map_err(|e| self.sqlite(e))
    }

    /// How many profiles are saved.
    pub fn profile_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM profiles", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .optional()
            .map(|n| n.unwrap_or(0))
            .map_err(|e| self.sqlite(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ino: u64) -> StoredProfile {
        let s = |n| Syscall::new(n).unwrap();
        let mut train = LookaheadTable::new();
        train.set(s(0), s(1), 0b1010_0001);
        train.set(s(511), s(3), 0xff);
        train.set_ngram_bit(s(0), 2047);
        train.set_ngram_bit(s(0), 17);
        let mut test = LookaheadTable::new();
        test.set(s(0), s(1), 0b1);
        test.set_ngram_bit(s(0), 17);
        StoredProfile {
            key: ProfileKey::new(259, 1, ino).script_of(&ProfileKey::new(254, 1, 9)),
            path: "/a.sh".into(),
            profile: Profile {
                train,
                test,
                train_count: u64::MAX >> 1,
                last_mod_count: 7,
                sequences: 3,
                anomalies: 2,
                status: ProfileStatus::Normal,
                normal_time: 0,
                repeats: 0,
                train_partial: false,
            },
            origin: ProfileOrigin {
                last_used: 1_795_000_000_000_000_000,
                unprivileged: ino % 2 == 1,
                uid: 65534,
            },
            ngram_length: 7,
        }
    }

    #[test]
    fn profiles_round_trip_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ebph.db");
        let saved = vec![sample(1), sample(u64::MAX)];
        Store::open(&path).unwrap().save_profiles(&saved).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load_profiles().unwrap(), saved);
        assert_eq!(store.profile_count().unwrap(), 2);
        let mut store = store;
        assert_eq!(store.forget_profiles(&[saved[0].key]).unwrap(), 1);
        assert_eq!(store.load_profiles().unwrap(), vec![saved[1].clone()]);
    }

    #[test]
    fn a_version_1_store_is_migrated_and_its_path_keyed_scripts_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ebph.db");
        let v1 = "CREATE TABLE profiles (dev INTEGER NOT NULL, ino INTEGER NOT NULL,
            script INTEGER NOT NULL, path TEXT NOT NULL, status TEXT NOT NULL,
            train_count INTEGER NOT NULL, last_mod_count INTEGER NOT NULL,
            sequences INTEGER NOT NULL, anomalies INTEGER NOT NULL,
            normal_time_unix_ns INTEGER NOT NULL, train BLOB NOT NULL, test BLOB NOT NULL,
            PRIMARY KEY (dev, ino, script));
            CREATE TABLE anomalies (id INTEGER PRIMARY KEY, time TEXT NOT NULL,
            pid INTEGER NOT NULL, tid INTEGER NOT NULL, key TEXT NOT NULL, path TEXT NOT NULL,
            syscall TEXT NOT NULL, misses INTEGER NOT NULL, lfc INTEGER NOT NULL,
            sequence TEXT NOT NULL);
            CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO profiles VALUES (1, 2, 0, '/bin/x', 'training', 5, 1, 1, 0, 0, x'', x'');
            INSERT INTO profiles VALUES (1, 3, 77, '/a.sh', 'training', 5, 1, 1, 0, 0, x'', x'');
            INSERT INTO anomalies VALUES (1, '2026-11-01T00:00:00Z', 5, 5, '1:2:0', '/bin/x',
            'write', 2, 1, 'read write');
            PRAGMA application_id = 1700950120; PRAGMA user_version = 1;";
        Connection::open(&path).unwrap().execute_batch(v1).unwrap();
        let store = Store::open(&path).unwrap();
        let loaded = store.load_profiles().unwrap();
        assert_eq!(loaded.len(), 1, "{loaded:?}");
        assert_eq!(
            (loaded[0].path.as_str(), loaded[0].key.script),
            ("/bin/x", 0)
        );
        assert_eq!(loaded[0].origin, ProfileOrigin::default());
        let anomalies = store.anomalies(10).unwrap();
        assert_eq!(
            (
                anomalies.len(),
                anomalies[0].misses,
                anomalies[0].novel_ngram
            ),
            (1, 2, false),
            "an anomaly from before version 4 had no n-gram test"
        );
        drop(store);
        assert_eq!(loaded[0].ngram_length, 0, "no n-grams before version 3");
        // Opened again, it is the current version and stays as it is.
        assert_eq!(Store::open(&path).unwrap().load_profiles().unwrap(), loaded);
    }

    #[test]
    fn foreign_and_damaged_files_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.db");
        std::fs::write(&text, "these are my notes, not a database\n".repeat(200)).unwrap();
        let err = Store::open(&text).err().unwrap().to_string();
        assert!(err.contains("is not an ebph database"), "{err}");
        assert!(std::fs::read_to_string(&text)
            .unwrap()
            .starts_with("these are my notes"));

        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); PRAGMA application_id = 7;")
            .unwrap();
        let err = Store::open(&other).err().unwrap().to_string();
        assert!(err.contains("application id is 0x7"), "{err}");

        let newer = dir.path().join("newer.db");
        Store::open(&newer).unwrap();
        Connection::open(&newer)
            .unwrap()
            .execute_batch("PRAGMA user_version = 9;")
            .unwrap();
        let err = Store::open(&newer).err().unwrap().to_string();
        assert!(err.contains("schema version 9"), "{err}");

        // A profile row no ebph writes: loading says what is wrong, and where.
        let damaged = |name: &str, row: &str| -> String {
            let path = dir.path().join(name);
            Store::open(&path).unwrap();
            Connection::open(&path)
                .unwrap()
                .execute(&format!("INSERT INTO profiles VALUES ({row})"), [])
                .unwrap();
            Store::open(&path)
                .unwrap()
                .load_profiles()
                .unwrap_err()
                .to_string()
        };
        let err = damaged(
            "bad.db",
            "1, 2, 0, '/x', 'sleeping', 0, 0, 0, 0, 0, x'', x'', 0, 0, 0, x'', x'', 0",
        );
        assert!(
            err.contains("is damaged") && err.contains("sleeping"),
            "{err}"
        );
        let err = damaged(
            "ngrams.db",
            "1, 2, 0, '/x', 'training', 0, 0, 0, 0, 0, x'', x'', 0, 0, 0, x'000100', x'', 7",
        );
        assert!(
            err.contains("is damaged") && err.contains("n-grams of 3 bytes"),
            "{err}"
        );
        let err = damaged(
            "length.db",
            "1, 2, 0, '/x', 'training', 0, 0, 0, 0, 0, x'', x'', 0, 0, 0, x'', x'', 12",
        );
        assert!(err.contains("n-gram length 12"), "{err}");
    }

    #[test]
    fn ngram_bits_of_the_old_larger_bitmaps_fold_onto_todays() {
        let mut bytes = Vec::new();
        for (curr, bit) in [(0u16, 4000u16), (2, 5)] {
            bytes.extend_from_slice(&curr.to_le_bytes());
            bytes.extend_from_slice(&bit.to_le_bytes());
        }
        let mut table = LookaheadTable::new();
        decode_ngrams(&bytes, &mut table).unwrap();
        let bits: Vec<(u16, u16)> = table.ngram_entries().map(|(c, b)| (c.nr(), b)).collect();
        assert_eq!(bits, [(0, 4000 - 2048), (2, 5)]);
        let mut beyond = bytes.clone();
        beyond[2..4].copy_from_slice(&4096u16.to_le_bytes());
        assert!(decode_ngrams(&beyond, &mut table).is_err());
    }

    #[test]
    fn anomalies_and_settings_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("ebph.db")).unwrap();
        let a = StoredAnomaly {
            time: "2026-11-24T01:00:00Z".into(),
            pid: 1,
            tid: 2,
            key: "1:2:3".into(),
            path: "/bin/x".into(),
            syscall: "write".into(),
            misses: 3,
            lfc: 1,
            sequence: vec!["read".into(), "write".into()],
            novel_ngram: true,
        };
        store.add_anomalies(&[a.clone(), a.clone()]).unwrap();
        assert_eq!(store.anomalies(1).unwrap(), std::slice::from_ref(&a));
        // A bounded history: by count, then by age.
        store
            .add_anomalies(&[a.clone(), a.clone(), a.clone()])
            .unwrap();
        assert_eq!(store.prune_anomalies(2, "1970-01-01T00:00:00Z").unwrap(), 3);
        assert_eq!(store.anomalies(100).unwrap().len(), 2);
        assert_eq!(
            store.prune_anomalies(100, "9999-01-01T00:00:00Z").unwrap(),
            2
        );
        assert!(store.anomalies(100).unwrap().is_empty());
        store.set_setting("normal-wait", "2s").unwrap();
        store.set_setting("normal-wait", "3s").unwrap();
        assert_eq!(
            store
                .settings()
                .unwrap()
                .get("normal-wait")
                .map(String::as_str),
            Some("3s")
        );
    }
}
