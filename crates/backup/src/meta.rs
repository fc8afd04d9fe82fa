//! Signed snapshot metadata: what the server may know about a snapshot (docs/design/0012).
//!
//! The client signs the exact JSON text with the repository's Ed25519 metadata key; the server
//! verifies it with the public key in `config` before it counts the snapshot for retention,
//! garbage collection and metering.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::config::{FORMAT_VERSION, RepoConfig};
use crate::hex;
use crate::{Error, Result};

/// Domain separation for metadata signatures.
const CONTEXT: &[u8] = b"munishare-backup-meta-v1\0";

/// A snapshot as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotMeta {
    /// Format version.
    pub version: u32,
    /// The repository's id (from `config`).
    pub repo: String,
    /// The snapshot's object name (SHA-256 of `snapshots/{name}`).
    pub snapshot: String,
    /// The host backed up.
    pub host: String,
    /// Tags given at backup.
    pub tags: Vec<String>,
    /// When the backup started (RFC 3339, UTC).
    pub time: String,
    /// The parent snapshot, when the backup was incremental.
    pub parent: Option<String>,
    /// Regular files in the snapshot.
    pub files: u64,
    /// Directories in the snapshot.
    pub dirs: u64,
    /// Sum of the files' sizes.
    pub logical_bytes: u64,
    /// Bytes this backup added to the repository (packs, after dedup and compression).
    pub added_bytes: u64,
    /// Every pack holding a blob the snapshot needs.
    pub packs: Vec<String>,
    /// Every index file describing those packs.
    pub index: Vec<String>,
}

/// The stored envelope: the metadata's exact text and its signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedMeta {
    /// `SnapshotMeta` as JSON text, signed as is.
    pub meta: String,
    /// Ed25519 signature (hex) over `CONTEXT ‖ meta`.
    pub signature: String,
}

impl SignedMeta {
    /// Signs `meta` with the repository's metadata key.
    pub fn sign(meta: &SnapshotMeta, key: &SigningKey) -> SignedMeta {
        let text = serde_json::to_string(meta).unwrap_or_default();
        let signature = key.sign(&signed_bytes(&text));
        SignedMeta {
            meta: text,
            signature: hex::encode(&signature.to_bytes()),
        }
    }

    /// The stored bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses stored bytes and checks the signature against `config`'s key and the record against
    /// the repository and its object name. The server's further checks (host, objects present) use
    /// the returned record.
    pub fn verify(config: &RepoConfig, name: &str, bytes: &[u8]) -> Result<SnapshotMeta> {
        let envelope: SignedMeta = serde_json::from_slice(bytes)
            .map_err(|e| Error::Meta(format!("not a signed record: {e}")))?;
        let key = hex::decode_array::<32>(&config.metadata_key)
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| {
                Error::Meta("the repository's metadata_key is not an Ed25519 key".into())
            })?;
        let signature = hex::decode_array::<64>(&envelope.signature)
            .map(|s| Signature::from_bytes(&s))
            .ok_or_else(|| Error::Meta("signature: need 128 hex digits".into()))?;
        key.verify_strict(&signed_bytes(&envelope.meta), &signature)
            .map_err(|_| {
                Error::Meta("signature does not verify with the repository's metadata key".into())
            })?;
        let meta: SnapshotMeta =
            serde_json::from_str(&envelope.meta).map_err(|e| Error::Meta(format!("meta: {e}")))?;
        if meta.version != FORMAT_VERSION {
            return Err(Error::Meta(format!(
                "version {} is not {FORMAT_VERSION}",
                meta.version
            )));
        }
        if meta.repo != config.id {
            return Err(Error::Meta(format!(
                "repo {} is not this repository ({})",
                meta.repo, config.id
            )));
        }
        if meta.snapshot != name {
            return Err(Error::Meta(format!(
                "snapshot {} does not match the name meta/{name}",
                meta.snapshot
            )));
        }
        if time::OffsetDateTime::parse(&meta.time, &time::format_description::well_known::Rfc3339)
            .is_err()
        {
            return Err(Error::Meta(format!("time {:?} is not RFC 3339", meta.time)));
        }
        for name in meta.packs.iter().chain(&meta.index).chain(&meta.parent) {
            if !hex::is_sha256_name(name) {
                return Err(Error::Meta(format!("{name:?} is not an object name")));
            }
        }
        Ok(meta)
    }
}

fn signed_bytes(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(CONTEXT.len() + text.len());
    bytes.extend_from_slice(CONTEXT);
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::Chunker;

    fn setup() -> (RepoConfig, SigningKey, SnapshotMeta) {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let config = RepoConfig {
            version: 1,
            id: "0193c3a0-0000-7000-8000-000000000001".into(),
            chunker: Chunker::DEFAULT,
            pack_size: 16 << 20,
            metadata_key: hex::encode(key.verifying_key().as_bytes()),
            created: "2026-11-27T00:00:00Z".into(),
        };
        let meta = SnapshotMeta {
            version: 1,
            repo: config.id.clone(),
            snapshot: "ab".repeat(32),
            host: "fs01".into(),
            tags: vec!["nightly".into()],
            time: "2026-11-27T02:00:00Z".into(),
            parent: None,
            files: 3,
            dirs: 1,
            logical_bytes: 10,
            added_bytes: 10,
            packs: vec!["cd".repeat(32)],
            index: vec!["ef".repeat(32)],
        };
        (config, key, meta)
    }

    #[test]
    fn a_signed_record_verifies_and_a_forged_one_does_not() {
        let (config, key, meta) = setup();
        let signed = SignedMeta::sign(&meta, &key);
        assert_eq!(
            SignedMeta::verify(&config, &meta.snapshot, &signed.to_bytes()).unwrap(),
            meta
        );

        // Dropping a pack from the list (to have the server collect it) breaks the signature.
        let forged = SignedMeta {
            meta: signed.meta.replace(&"cd".repeat(32), &"00".repeat(32)),
            ..signed.clone()
        };
        let err = SignedMeta::verify(&config, &meta.snapshot, &forged.to_bytes()).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");

        // Signed by another key.
        let other = SignedMeta::sign(&meta, &SigningKey::from_bytes(&[8u8; 32]));
        assert!(SignedMeta::verify(&config, &meta.snapshot, &other.to_bytes()).is_err());

        // Stored under another name.
        let err = SignedMeta::verify(&config, &"11".repeat(32), &signed.to_bytes()).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
