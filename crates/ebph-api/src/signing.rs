//! Signed profile files: an administrator's ed25519 key signs what `ebph profile export
//! --sign` writes, and `ebph profile import` accepts only files signed by a key the
//! configuration trusts (`trusted-keys`).
//!
//! A checksum alone proves nothing: anyone who edits a file can compute it again. A signature
//! covers the file's format, version, call numbering and checksum (so every profile in it),
//! and only the holder of the private key can make one.
//!
//! Keys are text files: `ebph-signing-key HEX` (the 32-byte secret seed; keep it mode 0600)
//! and `ebph-public-key HEX` (what hosts trust).

use std::path::Path;

use ed25519_dalek::{Signer, Verifier};

/// The first word of a signing (private) key file.
const SIGNING: &str = "ebph-signing-key";
/// The first word of a public key file.
const PUBLIC: &str = "ebph-public-key";

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a key of the kind wanted.
    #[error("{0}")]
    Invalid(String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// `WORD HEX` on the first line of `text`.
fn parse<const N: usize>(text: &str, word: &str, what: &str) -> Result<[u8; N], KeyError> {
    let mut parts = text.split_whitespace();
    if parts.next() != Some(word) {
        return Err(KeyError::Invalid(format!(
            "not an ebph {what} (it should start with `{word}`)"
        )));
    }
    parts
        .next()
        .and_then(unhex::<N>)
        .ok_or_else(|| KeyError::Invalid(format!("a damaged {what}")))
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A private key that signs profile files.
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A public key that checks signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl SigningKey {
    /// A new key from the kernel's random numbers.
    pub fn generate() -> std::io::Result<SigningKey> {
        use std::io::Read;
        let mut seed = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// Reads a key file written by [`SigningKey::to_text`].
    pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
        let seed = parse::<32>(&read(path)?, SIGNING, "signing key")
            .map_err(|e| KeyError::Invalid(format!("{}: {e}", path.display())))?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("{SIGNING} {}\n", hex(self.0.as_bytes()))
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The signature of `message`, in hex.
    pub(crate) fn sign(&self, message: &[u8]) -> String {
        hex(&self.0.sign(message).to_bytes())
    }
}

impl PublicKey {
    /// Reads a key file written by [`PublicKey::to_text`].
    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        PublicKey::parse(&read(path)?)
            .map_err(|e| KeyError::Invalid(format!("{}: {e}", path.display())))
    }

    /// A key from its text: `ebph-public-key HEX`.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = parse::<32>(text, PUBLIC, "public key")?;
        PublicKey::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| KeyError::Invalid("not an ed25519 public key".into()))
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC} {}\n", self.to_hex())
    }

    /// The key in hex, as a signed file names it.
    pub fn to_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// A key named in hex in a signed file.
    pub fn from_hex(text: &str) -> Result<PublicKey, KeyError> {
        let bytes =
            unhex::<32>(text).ok_or_else(|| KeyError::Invalid("a damaged public key".into()))?;
        PublicKey::from_bytes(&bytes)
    }

    /// Whether `signature` (hex) is this key's signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Some(bytes) = unhex::<64>(signature) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.0.verify(message, &signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_text_and_sign() {
        let key = SigningKey::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.key"), key.to_text()).unwrap();
        std::fs::write(dir.path().join("k.pub"), key.public().to_text()).unwrap();
        let again = SigningKey::read(&dir.path().join("k.key")).unwrap();
        let public = PublicKey::read(&dir.path().join("k.pub")).unwrap();
        assert_eq!(public, key.public());
        let sig = again.sign(b"profiles");
        assert!(public.verifies(b"profiles", &sig));
        assert!(!public.verifies(b"profile5", &sig));
        let other = SigningKey::generate().unwrap().public();
        assert!(!other.verifies(b"profiles", &sig));
        assert!(
            PublicKey::read(&dir.path().join("k.key")).is_err(),
            "a private key is not public"
        );
        assert!(PublicKey::parse("ebph-public-key 00").is_err());
    }
}
