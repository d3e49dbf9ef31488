//! Profiles (`struct ebph_profile`): finding them by key, reading them back as the model's
//! type, loading saved or imported ones, and how each is used.

use ebph_core::{LookaheadTable, Profile, ProfileKey, ProfileStatus};
use libbpf_rs::{MapCore, MapFlags};

use super::admin::AllocKind;
use super::tables::WrittenTable;
use super::Engine;
use crate::abi::{expect_len, key_to_kernel, Bytes};
use crate::error::Context;
use crate::layout::{profile as prof, INDEX_SIZE, KEY_SIZE, ROW_SIZE};
use crate::layout_skel::types::{ebph_profile_flags, ebph_status};
use crate::EngineError;

/// How a profile is used, for eviction and expiry: what the engine keeps beside pH's
/// counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileUse {
    /// Tracked tasks running under it now (ignored by [`Engine::insert_profile`]).
    pub tasks: u32,
    /// When it was created or its last task let it go, on the engine's clock (0: never
    /// used since the engine was loaded, or before this boot).
    pub last_used: u64,
    /// Its executable is owned or writable by a user other than root.
    pub unprivileged: bool,
    /// The user whose exec created it.
    pub uid: u32,
}

impl Engine {
    /// Every profile: its key and slot.
    pub fn profile_slots(&self) -> Result<Vec<(ProfileKey, u32)>, EngineError> {
        let map = &self.skel.maps.profile_keys;
        let mut out = Vec::new();
        for key in map.keys() {
            let Some(slot) = map
                .lookup(&key, MapFlags::ANY)
                .context("reading profile keys")?
            else {
                continue;
            };
            expect_len("a profile key", &key, KEY_SIZE)?;
            expect_len("a profile slot", &slot, 4)?;
            out.push((Bytes(&key).key(0), Bytes(&slot).u32(0)));
        }
        out.sort();
        Ok(out)
    }

    /// The slot of the profile of `key`.
    pub fn slot_of(&self, key: &ProfileKey) -> Result<Option<u32>, EngineError> {
        let found = self
            .skel
            .maps
            .profile_keys
            .lookup(&key_to_kernel(key), MapFlags::ANY)
            .context("looking up a profile")?;
        Ok(found.map(|v| Bytes(&v).u32(0)))
    }

    /// The raw `struct ebph_profile` in `slot`.
    fn profile_entry(&self, slot: u32) -> Result<Vec<u8>, EngineError> {
        let value = self
            .skel
            .maps
            .profiles
            .lookup(&slot.to_le_bytes(), MapFlags::ANY)
            .context("reading a profile")?
            .ok_or(EngineError::NoSuchProfile(slot))?;
        expect_len("a profile", &value, prof::SIZE)?;
        Ok(value)
    }

    /// Reads the profile in `slot` back, tables and counters, as the model's type.
    pub fn profile(&self, slot: u32) -> Result<Profile, EngineError> {
        let value = self.profile_entry(slot)?;
        let mut profile = counters_of(&value)?;
        let b = Bytes(&value);
        profile.train = self.table(b.u32(prof::TRAIN_INDEX))?;
        profile.test = self.table(b.u32(prof::TEST_INDEX))?;
        Ok(profile)
    }

    /// The counters and status of the profile in `slot`, without its tables (one lookup).
    pub fn profile_counters(&self, slot: u32) -> Result<Profile, EngineError> {
        counters_of(&self.profile_entry(slot)?)
    }

    /// How the profile in `slot` is used.
    pub fn profile_use(&self, slot: u32) -> Result<ProfileUse, EngineError> {
        Ok(use_of(&self.profile_entry(slot)?))
    }

    /// The counters and status of the profile in `slot` and how it is used, from one read.
    pub fn profile_counters_and_use(
        &self,
        slot: u32,
    ) -> Result<(Profile, ProfileUse), EngineError> {
        let value = self.profile_entry(slot)?;
        Ok((counters_of(&value)?, use_of(&value)))
    }

    /// The bytes of kernel memory the profile in `slot` takes: its profile entry, its index
    /// blocks and its rows (a row the train and test tables share counts once).
    pub fn profile_memory(&self, slot: u32) -> Result<usize, EngineError> {
        let value = self.profile_entry(slot)?;
        let b = Bytes(&value);
        let mut rows = std::collections::BTreeSet::new();
        let mut indexes = 0;
        for index in [b.u32(prof::TRAIN_INDEX), b.u32(prof::TEST_INDEX)] {
            if index == 0 {
                continue;
            }
            indexes += 1;
            rows.extend(self.row_ids(index)?.into_iter().map(|(_, row)| row));
        }
        Ok(value.len() + indexes * INDEX_SIZE + rows.len() * ROW_SIZE)
    }

    /// Loads a profile into the engine (saved, or imported while it runs); returns its slot.
    /// Should the engine create a profile for the same executable meanwhile (it ran just
    /// then), this one is refused as a duplicate and the room it took stays taken.
    pub fn insert_profile(
        &mut self,
        key: &ProfileKey,
        profile: &Profile,
        usage: &ProfileUse,
    ) -> Result<u32, EngineError> {
        if self.slot_of(key)?.is_some() {
            return Err(EngineError::Duplicate(*key));
        }
        let train = self.write_table(&profile.train, None)?;
        let test = if profile.status == ProfileStatus::Normal {
            self.write_table(&profile.test, Some(&train))?
        } else {
            WrittenTable::default()
        };
        let slot = self.allocate(AllocKind::Profile)?;
        let mut value = [0u8; prof::SIZE];
        value[prof::KEY..prof::KEY + KEY_SIZE].copy_from_slice(&key_to_kernel(key));
        for (at, v) in [
            (prof::TRAIN_COUNT, profile.train_count),
            (prof::LAST_MOD_COUNT, profile.last_mod_count),
            (prof::SEQUENCES, profile.sequences),
            (prof::ANOMALIES, profile.anomalies),
            (prof::NORMAL_TIME, profile.normal_time),
            (prof::LAST_USED, usage.last_used),
        ] {
            value[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        let status = match profile.status {
            ProfileStatus::Training => ebph_status::EBPH_TRAINING,
            ProfileStatus::Frozen => ebph_status::EBPH_FROZEN,
            ProfileStatus::Normal => ebph_status::EBPH_NORMAL,
        }
        .0;
        for (at, v) in [
            (prof::STATUS, status),
            (prof::TRAIN_INDEX, train.index),
            (prof::TEST_INDEX, test.index),
            (
                prof::FLAGS,
                if usage.unprivileged {
                    ebph_profile_flags::EBPH_PROFILE_UNPRIVILEGED.0
                } else {
                    0
                },
            ),
            (prof::UID, usage.uid),
            (prof::REPEATS, profile.repeats),
            (
                prof::TRAIN_PARTIAL,
                // A saved profile does not say; its tables do.
                u32::from(
                    profile.train_partial
                        || (profile.status == ProfileStatus::Normal
                            && !profile.train.includes(&profile.test)),
                ),
            ),
        ] {
            value[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        self.skel
            .maps
            .profiles
            .update(&slot.to_le_bytes(), &value, MapFlags::ANY)
            .context("writing a profile")?;
        if let Err(e) = self.skel.maps.profile_keys.update(
            &key_to_kernel(key),
            &slot.to_le_bytes(),
            MapFlags::NO_EXIST,
        ) {
            if self.slot_of(key)?.is_some() {
                return Err(EngineError::Duplicate(*key));
            }
            return Err(e).context("writing a profile key");
        }
        Ok(slot)
    }
}

/// The counters and status in a raw `struct ebph_profile`, with empty tables.
fn use_of(value: &[u8]) -> ProfileUse {
    let b = Bytes(value);
    ProfileUse {
        tasks: b.u32(prof::TASKS),
        last_used: b.u64(prof::LAST_USED),
        unprivileged: b.u32(prof::FLAGS) & ebph_profile_flags::EBPH_PROFILE_UNPRIVILEGED.0 != 0,
        uid: b.u32(prof::UID),
    }
}

fn counters_of(value: &[u8]) -> Result<Profile, EngineError> {
    let b = Bytes(value);
    let status = match ebph_status(b.u32(prof::STATUS)) {
        ebph_status::EBPH_TRAINING => ProfileStatus::Training,
        ebph_status::EBPH_FROZEN => ProfileStatus::Frozen,
        ebph_status::EBPH_NORMAL => ProfileStatus::Normal,
        other => return Err(EngineError::Layout(format!("profile status {}", other.0))),
    };
    Ok(Profile {
        train: LookaheadTable::new(),
        test: LookaheadTable::new(),
        train_count: b.u64(prof::TRAIN_COUNT),
        last_mod_count: b.u64(prof::LAST_MOD_COUNT),
        sequences: b.u64(prof::SEQUENCES),
        anomalies: b.u64(prof::ANOMALIES),
        status,
        normal_time: b.u64(prof::NORMAL_TIME),
        repeats: b.u32(prof::REPEATS),
        train_partial: b.u32(prof::TRAIN_PARTIAL) != 0,
    })
}
