//! The index: where every blob is (pack, offset, length). Stored as sealed, compressed index files
//! (`index/{sha256}`), each listing some packs and their entries in the pack-header encoding.

use std::collections::HashMap;

use crate::crypto::{BlobId, Keys, Kind};
use crate::pack::{ENTRY_LEN, Entry};
use crate::{Error, Result};

/// A pack's id (SHA-256 of its bytes).
pub type PackId = [u8; 32];

/// A blob's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Position of the pack in [`Index::packs`].
    pub pack: u32,
    /// The blob's entry in that pack.
    pub entry: Entry,
}

/// Every known blob, by id.
#[derive(Debug, Default)]
pub struct Index {
    packs: Vec<PackId>,
    pack_pos: HashMap<PackId, u32>,
    /// For each pack, the index file that lists it (none for packs found by reading headers).
    pack_file: Vec<Option<[u8; 32]>>,
    blobs: HashMap<BlobId, Location>,
}

impl Index {
    /// Adds a pack's entries; `file` is the index file that lists it, if any. A blob already known
    /// in another pack keeps its first location.
    pub fn add_pack(&mut self, pack: PackId, entries: &[Entry], file: Option<[u8; 32]>) -> u32 {
        let pos = match self.pack_pos.get(&pack) {
            Some(&p) => {
                if self.pack_file[p as usize].is_none() {
                    self.pack_file[p as usize] = file;
                }
                p
            }
            None => {
                let p = u32::try_from(self.packs.len()).unwrap_or(u32::MAX);
                self.packs.push(pack);
                self.pack_file.push(file);
                self.pack_pos.insert(pack, p);
                p
            }
        };
        for entry in entries {
            self.blobs.entry(entry.id).or_insert(Location {
                pack: pos,
                entry: *entry,
            });
        }
        pos
    }

    /// Whether the blob is stored.
    pub fn contains(&self, id: &BlobId) -> bool {
        self.blobs.contains_key(id)
    }

    /// Where the blob is.
    pub fn get(&self, id: &BlobId) -> Option<Location> {
        self.blobs.get(id).copied()
    }

    /// A pack's id by position.
    pub fn pack(&self, pos: u32) -> PackId {
        self.packs[pos as usize]
    }

    /// Whether a pack is known.
    pub fn has_pack(&self, pack: &PackId) -> bool {
        self.pack_pos.contains_key(pack)
    }

    /// The index file listing a pack.
    pub fn pack_file(&self, pos: u32) -> Option<[u8; 32]> {
        self.pack_file[pos as usize]
    }

    /// Records that `pack` is now listed by `file`.
    pub fn set_pack_file(&mut self, pack: &PackId, file: [u8; 32]) {
        if let Some(&p) = self.pack_pos.get(pack) {
            self.pack_file[p as usize] = Some(file);
        }
    }

    /// Number of blobs.
    pub fn len(&self) -> usize {
        self.blobs.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Every pack with its position.
    pub fn packs(&self) -> impl Iterator<Item = (u32, &PackId)> {
        self.packs
            .iter()
            .enumerate()
            .map(|(i, p)| (u32::try_from(i).unwrap_or(u32::MAX), p))
    }

    /// Every blob with its location.
    pub fn blobs(&self) -> impl Iterator<Item = (&BlobId, &Location)> {
        self.blobs.iter()
    }
}

/// Encodes an index file's plaintext: `u32 packs`, then per pack its id, `u32 n`, n entries.
pub fn encode_file(packs: &[(PackId, Vec<Entry>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        4 + packs
            .iter()
            .map(|p| 36 + p.1.len() * ENTRY_LEN)
            .sum::<usize>(),
    );
    out.extend_from_slice(&(packs.len() as u32).to_le_bytes());
    for (id, entries) in packs {
        out.extend_from_slice(id);
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for e in entries {
            e.encode(&mut out);
        }
    }
    out
}

/// Decodes an index file's plaintext.
pub fn decode_file(bytes: &[u8], object: &str) -> Result<Vec<(PackId, Vec<Entry>)>> {
    let damaged = || Error::damaged(object, "index file is truncated or malformed");
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = bytes.get(at..at + n).ok_or_else(damaged)?;
        at += n;
        Ok(s)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().map_err(|_| damaged())?);
    let mut packs = Vec::with_capacity(count.min(1 << 20) as usize);
    for _ in 0..count {
        let id: PackId = take(32)?.try_into().map_err(|_| damaged())?;
        let n = u32::from_le_bytes(take(4)?.try_into().map_err(|_| damaged())?) as usize;
        let raw = take(n.checked_mul(ENTRY_LEN).ok_or_else(damaged)?)?;
        let entries: Option<Vec<Entry>> = raw.chunks_exact(ENTRY_LEN).map(Entry::decode).collect();
        packs.push((id, entries.ok_or_else(damaged)?));
    }
    if at != bytes.len() {
        return Err(damaged());
    }
    Ok(packs)
}

/// Seals a compressed document (index file or snapshot): `seal(zstd(plain))`, bound to `kind`.
pub fn seal_document(keys: &Keys, kind: Kind, plain: &[u8]) -> Result<Vec<u8>> {
    let compressed =
        zstd::bulk::compress(plain, 3).map_err(|e| Error::Invalid(format!("zstd: {e}")))?;
    let mut framed = Vec::with_capacity(compressed.len() + 8);
    framed.extend_from_slice(&(plain.len() as u64).to_le_bytes());
    framed.extend_from_slice(&compressed);
    keys.seal(kind, &[0; 32], &framed)
}

/// Opens what [`seal_document`] made.
pub fn open_document(keys: &Keys, kind: Kind, sealed: &[u8], object: &str) -> Result<Vec<u8>> {
    let framed = keys.open(kind, &[0; 32], sealed, object)?;
    let (len, compressed) = framed
        .split_at_checked(8)
        .ok_or_else(|| Error::damaged(object, "too short"))?;
    let len = u64::from_le_bytes(
        len.try_into()
            .map_err(|_| Error::damaged(object, "too short"))?,
    );
    if len > 1 << 32 {
        return Err(Error::damaged(object, "implausible length"));
    }
    zstd::bulk::decompress(compressed, len as usize)
        .map_err(|_| Error::damaged(object, "does not decompress"))
}
