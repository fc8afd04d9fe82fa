//! Sealing the few secrets the database keeps (vendors' bank account numbers).
//!
//! A value is encrypted with XChaCha20-Poly1305 under the server's 32-byte
//! secret key, with the place it belongs to (town, record, field) as
//! associated data, so a sealed value copied into another row or another
//! town's data does not open. The stored form is
//! `v1:<key fingerprint>:<base64url(nonce ‖ ciphertext ‖ tag)>`; the
//! fingerprint (the first four bytes of SHA-256 of the key, in hex) lets a
//! server started with the wrong key say so instead of reporting damage.
//!
//! The key comes from `MUNISHARE_SECRET_KEY` (64 hex digits) or from the file
//! `secret.key` in the data directory, created with owner-only permissions on
//! first start. Losing the key loses the sealed values (they must be entered
//! again); it is backed up apart from the database. See docs/design/0005.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

/// The server's secret key. Its bytes are never printed.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
    fingerprint: String,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(bytes)
}

fn refused(message: impl Into<String>) -> Error {
    Error::Conflict {
        field: None,
        message: message.into(),
    }
}

fn parse_hex(field: &str, text: &str) -> Result<[u8; 32]> {
    let text = text.trim();
    let bad = || {
        Error::invalid(
            field,
            "the secret key must be 64 hexadecimal digits (32 bytes)",
        )
    };
    if text.len() != 64 || !text.is_ascii() {
        return Err(bad());
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(key)
}

impl SecretKey {
    fn from_bytes(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(bytes)),
            fingerprint: crate::types::hex(&digest[..4]),
        }
    }

    /// A key from its 64 hex digits; `field` names where they came from.
    pub fn from_hex(field: &str, text: &str) -> Result<Self> {
        Ok(Self::from_bytes(&parse_hex(field, text)?))
    }

    /// A fresh random key (tests, and the first start of a server).
    pub fn generate() -> Result<Self> {
        Ok(Self::from_bytes(&random::<32>()?))
    }

    /// Reads the key file at `path`, creating it with a new random key
    /// (readable by its owner only) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let field = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&field, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = random::<32>()?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt as _;
                    options.mode(0o600);
                }
                let mut file = options
                    .open(path)
                    .map_err(|e| Error::Internal(format!("cannot create {field}: {e}")))?;
                writeln!(file, "{}", crate::types::hex(&bytes))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Error::Internal(format!("cannot write {field}: {e}")))?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) => Err(Error::Internal(format!("cannot read {field}: {e}"))),
        }
    }

    /// The key's fingerprint: the first four bytes of its SHA-256, in hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Seals `plain` for the place named by `context` (e.g. `vendor-bank:TOWN:VENDOR`).
    pub fn seal(&self, plain: &str, context: &str) -> Result<String> {
        let nonce = random::<NONCE_LEN>()?;
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!(
            "{VERSION}:{}:{}",
            self.fingerprint,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Opens a value sealed by [`SecretKey::seal`] for the same `context`.
    /// A value sealed under another key, for another place, or altered is a
    /// conflict that says which.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String> {
        let damaged = || refused("a sealed value is damaged");
        let mut parts = sealed.splitn(3, ':');
        let (Some(VERSION), Some(fingerprint), Some(body)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(damaged());
        };
        if fingerprint != self.fingerprint {
            return Err(refused(format!(
                "a sealed value was sealed with another secret key (fingerprint {fingerprint}; \
                     this server's is {}); start the server with that key, or enter the value again",
                self.fingerprint
            )));
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| damaged())?;
        if bytes.len() < NONCE_LEN {
            return Err(damaged());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                refused(
                    "a sealed value does not open here: it was altered or belongs to another record",
                )
            })?;
        String::from_utf8(plain).map_err(|_| damaged())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trip_and_binding() -> Result<()> {
        let key = SecretKey::generate()?;
        let sealed = key.seal("123456789", "vendor-bank:town-a:v1")?;
        assert!(sealed.starts_with(&format!("v1:{}:", key.fingerprint())));
        assert!(!sealed.contains("123456789"));
        assert_eq!(key.open(&sealed, "vendor-bank:town-a:v1")?, "123456789");
        // Two seals of the same value differ (random nonce).
        assert_ne!(sealed, key.seal("123456789", "vendor-bank:town-a:v1")?);
        // Another place, another key, or a flipped character: refused.
        assert!(key.open(&sealed, "vendor-bank:town-b:v1").is_err());
        let other = SecretKey::generate()?;
        let err = other.open(&sealed, "vendor-bank:town-a:v1").unwrap_err();
        assert!(err.to_string().contains("another secret key"), "{err}");
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap_or_default();
        assert!(key.open(&altered, "vendor-bank:town-a:v1").is_err());
        assert!(key.open("not sealed", "x").is_err());
        Ok(())
    }

    #[test]
    fn keys_from_hex_and_files() -> Result<()> {
        // SHA-256 of 32 zero bytes is 66687aad…, so the fingerprint is its first 4 bytes.
        let zero = SecretKey::from_hex("key", &"0".repeat(64))?;
        assert_eq!(zero.fingerprint(), "66687aad");
        let err = SecretKey::from_hex("MUNISHARE_SECRET_KEY", "abc").unwrap_err();
        assert!(err.to_string().contains("MUNISHARE_SECRET_KEY"), "{err}");
        assert!(SecretKey::from_hex("key", &"g".repeat(64)).is_err());

        let dir = std::env::temp_dir().join(format!("munishare-key-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::Internal(e.to_string()))?;
        let path = dir.join("secret.key");
        let first = SecretKey::load_or_create(&path)?;
        let again = SecretKey::load_or_create(&path)?;
        assert_eq!(first.fingerprint(), again.fingerprint());
        let sealed = first.seal("x", "c")?;
        assert_eq!(again.open(&sealed, "c")?, "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .map_err(|e| Error::Internal(e.to_string()))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(())
    }
}
