//! Keys and sealing (docs/design/0012, "Keys").
//!
//! A repository's master key material is 96 random bytes: 32 for XChaCha20-Poly1305 (`enc`), 32
//! for keyed BLAKE3 blob ids (`id`), 32 for the Ed25519 key that signs snapshot metadata. Key files
//! wrap it with a key derived by Argon2id from a passphrase, or with a printed recovery key.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::config::FORMAT_VERSION;
use crate::hex;
use crate::{Error, Result};

/// What a sealed object is; bound into the associated data so one cannot pass for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Kind {
    /// File content.
    Data = 1,
    /// A directory listing.
    Tree = 2,
    /// A pack's header.
    PackHeader = 3,
    /// An index file.
    Index = 4,
    /// A snapshot.
    Snapshot = 5,
}

impl Kind {
    /// From the stored byte.
    pub fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Data,
            2 => Kind::Tree,
            3 => Kind::PackHeader,
            4 => Kind::Index,
            5 => Kind::Snapshot,
            _ => return None,
        })
    }
}

/// A blob id: keyed BLAKE3 of the plaintext.
pub type BlobId = [u8; 32];

/// Nonce (24) + tag (16): what sealing adds.
pub const SEAL_OVERHEAD: usize = 40;

/// The repository's master key material.
#[derive(Clone)]
pub struct Keys {
    enc: [u8; 32],
    id: [u8; 32],
    sign: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(…)")
    }
}

impl Keys {
    /// Fresh random keys.
    pub fn generate() -> Result<Keys> {
        Ok(Keys {
            enc: random()?,
            id: random()?,
            sign: random()?,
        })
    }

    fn from_bytes(bytes: &[u8]) -> Option<Keys> {
        if bytes.len() != 96 {
            return None;
        }
        let mut keys = Keys {
            enc: [0; 32],
            id: [0; 32],
            sign: [0; 32],
        };
        keys.enc.copy_from_slice(&bytes[..32]);
        keys.id.copy_from_slice(&bytes[32..64]);
        keys.sign.copy_from_slice(&bytes[64..]);
        Some(keys)
    }

    fn to_bytes(&self) -> Vec<u8> {
        [self.enc.as_slice(), &self.id, &self.sign].concat()
    }

    /// The blob id of `plain`.
    pub fn blob_id(&self, plain: &[u8]) -> BlobId {
        *blake3::keyed_hash(&self.id, plain).as_bytes()
    }

    /// The metadata signing key.
    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.sign)
    }

    /// Seals `plain` into `nonce ‖ ciphertext ‖ tag`, bound to `kind` and `id`.
    pub fn seal(&self, kind: Kind, id: &BlobId, plain: &[u8]) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(plain.len() + SEAL_OVERHEAD);
        buf.extend_from_slice(&[0u8; 24]);
        buf.extend_from_slice(plain);
        self.seal_in_place(kind, id, buf)
    }

    /// Seals `buf[24..]` where it lies: the first 24 bytes (reserved by the caller) become the
    /// nonce and the tag is appended. Spares a copy of every blob.
    pub fn seal_in_place(&self, kind: Kind, id: &BlobId, mut buf: Vec<u8>) -> Result<Vec<u8>> {
        if buf.len() < 24 {
            return Err(Error::Invalid(
                "seal_in_place: the first 24 bytes are the nonce's".into(),
            ));
        }
        let nonce: [u8; 24] = random()?;
        buf[..24].copy_from_slice(&nonce);
        let tag = XChaCha20Poly1305::new((&self.enc).into())
            .encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                &associated(kind, id),
                &mut buf[24..],
            )
            .map_err(|_| Error::Invalid("encryption failed".into()))?;
        buf.extend_from_slice(&tag);
        Ok(buf)
    }

    /// Opens what [`Keys::seal`] made; `object` names it in the error.
    pub fn open(&self, kind: Kind, id: &BlobId, sealed: &[u8], object: &str) -> Result<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(Error::damaged(object, "shorter than a sealed object"));
        }
        let (nonce, body) = sealed.split_at(24);
        XChaCha20Poly1305::new((&self.enc).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &associated(kind, id),
                },
            )
            .map_err(|_| {
                Error::damaged(
                    object,
                    "authentication failed (altered, or not this repository's)",
                )
            })
    }
}

fn associated(kind: Kind, id: &BlobId) -> [u8; 34] {
    let mut ad = [0u8; 34];
    ad[0] = FORMAT_VERSION as u8;
    ad[1] = kind as u8;
    ad[2..].copy_from_slice(id);
    ad
}

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Invalid(format!("no random numbers: {e}")))?;
    Ok(bytes)
}

/// Argon2id cost of a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// 19 MiB, 2 passes, 1 lane: OWASP's Argon2id baseline, as for sign-in passwords
    /// (docs/design/0012 weighs it against the client's memory ceiling).
    pub const DEFAULT: KdfParams = KdfParams {
        m: 19 * 1024,
        t: 2,
        p: 1,
    };
}

/// A stored key file (`keys/{id}`): the master key wrapped by a passphrase or a recovery key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Format version.
    pub version: u32,
    /// `argon2id` (a passphrase) or `recovery` (the printed recovery key).
    pub kdf: String,
    /// Argon2id cost (for `argon2id`).
    pub params: Option<KdfParams>,
    /// Salt (hex).
    pub salt: String,
    /// Who added the key and where (free text: user@host).
    pub label: String,
    /// When it was added (RFC 3339).
    pub created: String,
    /// `nonce ‖ sealed master key` (hex).
    pub data: String,
}

const KEY_AD: &[u8] = b"munishare-backup-key-v1";

/// The secret that opens a key file.
#[derive(Debug, Clone, Copy)]
pub enum Secret<'a> {
    /// A passphrase.
    Passphrase(&'a str),
    /// The recovery key as printed.
    Recovery(&'a str),
}

impl KeyFile {
    /// Wraps `keys` with `secret`.
    pub fn wrap(
        keys: &Keys,
        secret: Secret<'_>,
        params: KdfParams,
        label: &str,
        created: &str,
    ) -> Result<KeyFile> {
        let salt: [u8; 16] = random()?;
        let (kdf, params, wrapping) = match secret {
            Secret::Passphrase(p) => ("argon2id", Some(params), derive(p, &salt, params)?),
            Secret::Recovery(r) => ("recovery", None, recovery_bytes(r)?),
        };
        let nonce: [u8; 24] = random()?;
        let sealed = XChaCha20Poly1305::new((&wrapping).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &keys.to_bytes(),
                    aad: KEY_AD,
                },
            )
            .map_err(|_| Error::Invalid("encryption failed".into()))?;
        Ok(KeyFile {
            version: FORMAT_VERSION,
            kdf: kdf.into(),
            params,
            salt: hex::encode(&salt),
            label: label.into(),
            created: created.into(),
            data: hex::encode(&[nonce.as_slice(), &sealed].concat()),
        })
    }

    /// Opens the key file with `secret`; `None` when the secret is not this file's.
    pub fn unwrap_keys(&self, secret: Secret<'_>) -> Result<Option<Keys>> {
        let salt = hex::decode_array::<16>(&self.salt)
            .ok_or_else(|| Error::damaged("key file", "salt"))?;
        let wrapping = match (secret, self.kdf.as_str(), self.params) {
            (Secret::Passphrase(p), "argon2id", Some(params)) => derive(p, &salt, params)?,
            (Secret::Recovery(r), "recovery", _) => recovery_bytes(r)?,
            _ => return Ok(None),
        };
        let data = hex::decode_array::<{ 24 + 96 + 16 }>(&self.data)
            .ok_or_else(|| Error::damaged("key file", "data"))?;
        let (nonce, sealed) = data.split_at(24);
        let Ok(plain) = XChaCha20Poly1305::new((&wrapping).into()).decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: KEY_AD,
            },
        ) else {
            return Ok(None);
        };
        Ok(Keys::from_bytes(&plain))
    }
}

fn derive(passphrase: &str, salt: &[u8; 16], params: KdfParams) -> Result<[u8; 32]> {
    let params = Params::new(params.m, params.t, params.p, Some(32))
        .map_err(|e| Error::Invalid(format!("Argon2id parameters: {e}")))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|e| Error::Invalid(format!("Argon2id: {e}")))?;
    Ok(out)
}

/// A new recovery key as printed: 64 hex digits in groups of eight.
pub fn new_recovery_key() -> Result<String> {
    let bytes: [u8; 32] = random()?;
    let hex = hex::encode(&bytes);
    Ok(hex
        .as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-"))
}

fn recovery_bytes(text: &str) -> Result<[u8; 32]> {
    let digits: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    hex::decode_array::<32>(&digits).ok_or_else(|| {
        Error::Invalid("a recovery key is 64 hex digits (dashes and spaces are ignored)".into())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const CHEAP: KdfParams = KdfParams {
        m: 1024,
        t: 1,
        p: 1,
    };

    #[test]
    fn sealed_blobs_are_bound_to_kind_and_id() {
        let keys = Keys::generate().unwrap();
        let id = keys.blob_id(b"hello");
        let sealed = keys.seal(Kind::Data, &id, b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(keys.open(Kind::Data, &id, &sealed, "x").unwrap(), b"hello");
        assert!(keys.open(Kind::Tree, &id, &sealed, "x").is_err());
        assert!(keys.open(Kind::Data, &[0; 32], &sealed, "x").is_err());
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        let err = keys.open(Kind::Data, &id, &flipped, "data/ab").unwrap_err();
        assert!(err.to_string().starts_with("data/ab is damaged"), "{err}");
        // Another repository's keys give other ids for the same bytes.
        assert_ne!(Keys::generate().unwrap().blob_id(b"hello"), id);
    }

    #[test]
    fn key_files_open_with_their_secret_only() {
        let keys = Keys::generate().unwrap();
        let file = KeyFile::wrap(
            &keys,
            Secret::Passphrase("correct horse"),
            CHEAP,
            "it@fs01",
            "2026-11-27T00:00:00Z",
        )
        .unwrap();
        let opened = file
            .unwrap_keys(Secret::Passphrase("correct horse"))
            .unwrap()
            .unwrap();
        assert_eq!(opened.to_bytes(), keys.to_bytes());
        assert!(
            file.unwrap_keys(Secret::Passphrase("wrong"))
                .unwrap()
                .is_none()
        );

        let recovery = new_recovery_key().unwrap();
        assert_eq!(recovery.len(), 64 + 7);
        let file = KeyFile::wrap(
            &keys,
            Secret::Recovery(&recovery),
            CHEAP,
            "recovery",
            "2026-11-27T00:00:00Z",
        )
        .unwrap();
        let spaced = recovery.replace('-', " ").to_uppercase();
        assert_eq!(
            file.unwrap_keys(Secret::Recovery(&spaced))
                .unwrap()
                .unwrap()
                .to_bytes(),
            keys.to_bytes()
        );
        assert!(
            file.unwrap_keys(Secret::Passphrase("correct horse"))
                .unwrap()
                .is_none()
        );
    }
}
