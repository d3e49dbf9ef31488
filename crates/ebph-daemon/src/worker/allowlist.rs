//! The allowlist: the profiles whose tasks are never held nor refused.

use ebph_bpf::Engine;
use ebph_core::ProfileKey;

use super::catalogue::Catalogue;

/// Exempts the profile of `key` in `slot` (its executable at `path`) when its executable is
/// on `allowlist`, by path or by file.
pub(super) fn exempt_if_listed(
    engine: &Engine,
    allowlist: &[String],
    key: ProfileKey,
    slot: u32,
    path: &str,
) {
    let listed = allowlist.iter().any(|p| {
        *p == path
            || std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                key.script == 0 && m.dev() == key.dev && m.ino() == key.ino
            })
    });
    if let Err(e) = engine.set_exempt(slot, listed) {
        tracing::error!("updating the allowlist failed: {e}");
    }
}

/// Applies `allowlist` to every profile of `engine`.
pub(super) fn apply(engine: &Engine, catalogue: &Catalogue, allowlist: &[String]) {
    match engine.profile_slots() {
        Ok(slots) => {
            for (key, slot) in slots {
                exempt_if_listed(engine, allowlist, key, slot, &catalogue.path_of(&key));
            }
        }
        Err(e) => tracing::error!("applying the allowlist failed: {e}"),
    }
}
