//! The repository's `config`: plaintext, written once at `init`, read by client and server.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The format version this engine writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// FastCDC bounds (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunker {
    /// Smallest chunk (except a file's last).
    pub min: u32,
    /// Target average.
    pub avg: u32,
    /// Largest chunk.
    pub max: u32,
}

impl Chunker {
    /// 512 KiB / 1 MiB / 8 MiB (docs/design/0012).
    pub const DEFAULT: Chunker = Chunker {
        min: 512 * 1024,
        avg: 1024 * 1024,
        max: 8 * 1024 * 1024,
    };
}

/// The repository's public settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// The repository's id (a UUID), bound into every signed metadata record.
    pub id: String,
    /// Chunk size bounds.
    pub chunker: Chunker,
    /// Target pack size in bytes.
    pub pack_size: u32,
    /// Ed25519 public key (hex) that signs snapshot metadata.
    pub metadata_key: String,
    /// When the repository was created (RFC 3339).
    pub created: String,
}

impl RepoConfig {
    /// Parses and checks a stored `config`.
    pub fn parse(bytes: &[u8]) -> Result<RepoConfig> {
        let config: RepoConfig =
            serde_json::from_slice(bytes).map_err(|e| Error::damaged("config", e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Checks the version, the chunker bounds, the pack size and the key's encoding.
    pub fn check(&self) -> Result<()> {
        if self.version != FORMAT_VERSION {
            return Err(Error::Version {
                found: self.version,
                supported: FORMAT_VERSION,
            });
        }
        let c = self.chunker;
        if !(64 * 1024 <= c.min && c.min < c.avg && c.avg < c.max && c.max <= 64 * 1024 * 1024) {
            return Err(Error::damaged(
                "config",
                "chunker: need 64 KiB <= min < avg < max <= 64 MiB",
            ));
        }
        if !(1024 * 1024..=256 * 1024 * 1024).contains(&self.pack_size) {
            return Err(Error::damaged("config", "pack_size: need 1 MiB to 256 MiB"));
        }
        if crate::hex::decode_array::<32>(&self.metadata_key).is_none() {
            return Err(Error::damaged("config", "metadata_key: need 64 hex digits"));
        }
        if uuid::Uuid::parse_str(&self.id).is_err() {
            return Err(Error::damaged("config", "id: not a UUID"));
        }
        Ok(())
    }

    /// The config as stored (pretty JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}
