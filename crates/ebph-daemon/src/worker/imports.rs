//! Profile files imported while the daemon runs.

use ebph_api::file::{FileError, ProfileFile};
use ebph_api::protocol::{ImportRequest, Imported};

use super::{allowlist, Worker};
use crate::mailbox::ApiError;

/// Checks that a key of `trusted` signed `file`, or, with `allow_unsigned`, lets an unsigned
/// (or unknown-signed) file in; a signature that does not match is always refused. Returns
/// the signer.
pub fn check_trust(
    file: &ProfileFile,
    trusted: &[ebph_api::signing::PublicKey],
    allow_unsigned: bool,
) -> Result<Option<String>, FileError> {
    match file.check_signature(trusted) {
        Ok(key) => Ok(Some(key.to_hex())),
        Err(FileError::Unsigned | FileError::Untrusted(_)) if allow_unsigned => Ok(None),
        Err(e) => Err(e),
    }
}

impl Worker {
    /// Adds the profiles of a file a trusted key signed to the engine (those of executables
    /// it has no profile for yet), and saves.
    pub(super) fn import(&mut self, request: ImportRequest) -> Result<Imported, ApiError> {
        let trusted = self
            .config
            .read_trusted_keys()
            .map_err(|e| ApiError::internal(format!("{e:#}")))?;
        let signed_by = check_trust(&request.file, &trusted, request.allow_unsigned)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut stored = Vec::new();
        for p in &request.file.profiles {
            stored.push(
                p.to_stored()
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
            );
        }
        let mut imported = 0;
        let mut present = Vec::new();
        for mut p in stored {
            if self.engine.slot_of(&p.key)?.is_some() {
                present.push(p.path);
                continue;
            }
            p.profile.normal_time = 0;
            let ngram_length = self.settings.current().ngram_length;
            if p.fit_ngram_length(ngram_length) {
                tracing::warn!(
                    "{}: its n-grams were learned with another ngram-length than \
                     {ngram_length}; they are forgotten and learned again here",
                    p.path,
                );
            }
            // Imported now: as if just used, so that it is not the first evicted.
            let usage = ebph_bpf::ProfileUse {
                last_used: ebph_bpf::boot_now_ns(),
                ..Default::default()
            };
            self.engine.insert_profile(&p.key, &p.profile, &usage)?;
            if let Some(slot) = self.engine.slot_of(&p.key)? {
                self.catalogue.name(p.key, p.path.clone());
                allowlist::exempt_if_listed(
                    &self.engine,
                    &self.settings.current().allowlist,
                    p.key,
                    slot,
                    &p.path,
                );
            }
            imported += 1;
        }
        tracing::info!(
            "imported {imported} profiles ({} present already){}",
            present.len(),
            signed_by
                .as_deref()
                .map_or(" from an unsigned file".to_owned(), |k| format!(
                    ", signed by {k}"
                ))
        );
        self.save()?;
        Ok(Imported {
            imported,
            present,
            signed_by,
        })
    }
}
