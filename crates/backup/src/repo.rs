//! An open repository: its backend, config, keys and index.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backend::{Backend, ObjectKind, Put};
use crate::config::{Chunker, FORMAT_VERSION, RepoConfig};
use crate::crypto::{BlobId, KdfParams, KeyFile, Keys, Kind, Secret, new_recovery_key, random};
use crate::hex;
use crate::index::{Index, PackId, decode_file, encode_file, open_document, seal_document};
use crate::pack::{Entry, header_len, open_blob, parse_header};
use crate::tree::Tree;
use crate::{Error, Result};

/// Target size of a pack.
pub const PACK_SIZE: u32 = 16 * 1024 * 1024;

/// A snapshot as stored (sealed) in `snapshots/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version.
    pub version: u32,
    /// When the backup started (RFC 3339, UTC).
    pub time: String,
    /// Host backed up.
    pub host: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The paths given to `backup`, as given.
    pub paths: Vec<String>,
    /// Root tree: one node per path.
    pub tree: String,
    /// The parent snapshot.
    pub parent: Option<String>,
    /// Figures of the run.
    pub summary: Summary,
}

/// What a backup did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Files not in the parent snapshot.
    pub files_new: u64,
    /// Files whose metadata changed since the parent (read again).
    pub files_changed: u64,
    /// Files taken from the parent without reading them.
    pub files_unchanged: u64,
    /// Directories.
    pub dirs: u64,
    /// Bytes read from disk.
    pub bytes_read: u64,
    /// Sum of the files' sizes.
    pub logical_bytes: u64,
    /// Blobs added (not already in the repository).
    pub blobs_added: u64,
    /// Plain bytes of the blobs added.
    pub plain_added: u64,
    /// Pack bytes uploaded.
    pub packed_added: u64,
    /// Packs uploaded.
    pub packs_added: u64,
    /// Files or directories that could not be read (path: reason).
    pub errors: Vec<String>,
}

/// A key file as listed.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// Its id.
    pub id: String,
    /// `argon2id` or `recovery`.
    pub kdf: String,
    /// Who added it.
    pub label: String,
    /// When.
    pub created: String,
    /// Whether this session opened the repository with it.
    pub current: bool,
}

/// An open repository.
#[derive(Debug)]
pub struct Repository {
    backend: Arc<dyn Backend>,
    config: RepoConfig,
    keys: Keys,
    key_id: String,
    index: Index,
    /// Packs in the data listing that no index file lists (an interrupted run's): found by reading headers.
    unindexed: Vec<(PackId, Vec<Entry>)>,
}

impl Repository {
    /// Creates a repository: config, a passphrase key and a recovery key. Returns the repository and
    /// the recovery key to print (shown once).
    pub fn init(
        backend: Arc<dyn Backend>,
        passphrase: &str,
        kdf: KdfParams,
        label: &str,
        now: &str,
    ) -> Result<(Repository, String)> {
        if passphrase.is_empty() {
            return Err(Error::Invalid("the passphrase is empty".into()));
        }
        match backend.get(ObjectKind::Config, "") {
            Ok(_) => {
                return Err(Error::Invalid(format!(
                    "{} already holds a repository",
                    backend.describe()
                )));
            }
            Err(Error::Missing(_)) => {}
            Err(e) => return Err(e),
        }
        let keys = Keys::generate()?;
        let config = RepoConfig {
            version: FORMAT_VERSION,
            id: uuid::Builder::from_random_bytes(random::<16>()?)
                .into_uuid()
                .to_string(),
            chunker: Chunker::DEFAULT,
            pack_size: PACK_SIZE,
            metadata_key: hex::encode(keys.signing_key().verifying_key().as_bytes()),
            created: now.into(),
        };
        // Keys first: a config without a key would be a repository nobody can open.
        let key_id = put_key(
            &*backend,
            &KeyFile::wrap(&keys, Secret::Passphrase(passphrase), kdf, label, now)?,
        )?;
        let recovery = new_recovery_key()?;
        put_key(
            &*backend,
            &KeyFile::wrap(&keys, Secret::Recovery(&recovery), kdf, "recovery key", now)?,
        )?;
        if backend.put(ObjectKind::Config, "", &config.to_bytes())? == Put::Existed {
            return Err(Error::Invalid(format!(
                "{} already holds a repository",
                backend.describe()
            )));
        }
        let repo = Repository {
            backend,
            config,
            keys,
            key_id,
            index: Index::default(),
            unindexed: Vec::new(),
        };
        Ok((repo, recovery))
    }

    /// Opens a repository with a passphrase or the recovery key, and loads its index.
    pub fn open(backend: Arc<dyn Backend>, secret: Secret<'_>) -> Result<Repository> {
        let config = match backend.get(ObjectKind::Config, "") {
            Ok(bytes) => RepoConfig::parse(&bytes)?,
            Err(Error::Missing(_)) => {
                return Err(Error::Invalid(format!(
                    "{} holds no repository (run init first)",
                    backend.describe()
                )));
            }
            Err(e) => return Err(e),
        };
        let mut opened = None;
        for (id, _) in backend.list(ObjectKind::Keys)? {
            let file = read_key(&*backend, &id)?;
            if let Some(keys) = file.unwrap_keys(secret)? {
                opened = Some((keys, id));
                break;
            }
        }
        let (keys, key_id) = opened.ok_or(Error::WrongPassphrase)?;
        if hex::encode(keys.signing_key().verifying_key().as_bytes()) != config.metadata_key {
            return Err(Error::damaged(
                "config",
                "metadata_key does not belong to the repository's keys",
            ));
        }
        let mut repo = Repository {
            backend,
            config,
            keys,
            key_id,
            index: Index::default(),
            unindexed: Vec::new(),
        };
        repo.load_index()?;
        Ok(repo)
    }

    fn load_index(&mut self) -> Result<()> {
        let packs: std::collections::HashMap<PackId, u64> = self
            .backend
            .list(ObjectKind::Data)?
            .into_iter()
            .filter_map(|(name, size)| Some((hex::decode_array::<32>(&name)?, size)))
            .collect();
        for (name, _) in self.backend.list(ObjectKind::Index)? {
            let Some(file) = hex::decode_array::<32>(&name) else {
                continue;
            };
            let object = ObjectKind::Index.object(&name);
            let plain = open_document(
                &self.keys,
                Kind::Index,
                &self.backend.get(ObjectKind::Index, &name)?,
                &object,
            )?;
            for (pack, entries) in decode_file(&plain, &object)? {
                // After garbage collection an index file may name packs that are gone.
                if packs.contains_key(&pack) {
                    self.index.add_pack(pack, &entries, Some(file));
                }
            }
        }
        let mut orphans: Vec<(PackId, u64)> = packs
            .into_iter()
            .filter(|(p, _)| !self.index.has_pack(p))
            .collect();
        orphans.sort();
        for (pack, size) in orphans {
            let entries = self.read_pack_header(&pack, size)?;
            self.index.add_pack(pack, &entries, None);
            self.unindexed.push((pack, entries));
        }
        Ok(())
    }

    /// Reads a pack's header from the store (two ranged reads); `size` is the pack's as listed.
    pub fn read_pack_header(&self, pack: &PackId, size: u64) -> Result<Vec<Entry>> {
        let name = hex::encode(pack);
        let object = ObjectKind::Data.object(&name);
        let last4 = self.backend.get_range(ObjectKind::Data, &name, None, 4)?;
        let len = header_len(&last4).ok_or_else(|| Error::damaged(&object, "no header length"))?;
        let tail = self
            .backend
            .get_range(ObjectKind::Data, &name, None, len + 4)?;
        parse_header(&self.keys, &tail, size, &object)
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The config.
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// The keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The index, to add packs a backup wrote.
    pub fn index_mut(&mut self) -> &mut Index {
        &mut self.index
    }

    /// Packs found without an index file (taken over by the next index file written).
    pub fn take_unindexed(&mut self) -> Vec<(PackId, Vec<Entry>)> {
        std::mem::take(&mut self.unindexed)
    }

    /// Reads, opens and checks one blob.
    pub fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
        let loc = self
            .index
            .get(id)
            .ok_or_else(|| Error::Missing(format!("blob {}", hex::encode(id))))?;
        let name = hex::encode(&self.index.pack(loc.pack));
        let sealed = self.backend.get_range(
            ObjectKind::Data,
            &name,
            Some(u64::from(loc.entry.offset)),
            u64::from(loc.entry.length),
        )?;
        open_blob(
            &self.keys,
            &loc.entry,
            &sealed,
            &ObjectKind::Data.object(&name),
        )
    }

    /// Reads a tree.
    pub fn read_tree(&self, id: &BlobId) -> Result<Tree> {
        Tree::parse(&self.read_blob(id)?, id)
    }

    /// Writes an index file listing `packs`; returns its name.
    pub fn write_index(&mut self, packs: &[(PackId, Vec<Entry>)]) -> Result<[u8; 32]> {
        let sealed = seal_document(&self.keys, Kind::Index, &encode_file(packs))?;
        let name: [u8; 32] = Sha256::digest(&sealed).into();
        self.backend
            .put(ObjectKind::Index, &hex::encode(&name), &sealed)?;
        for (pack, _) in packs {
            self.index.set_pack_file(pack, name);
        }
        Ok(name)
    }

    /// Writes a sealed snapshot; returns its name.
    pub fn write_snapshot(&self, snapshot: &Snapshot) -> Result<String> {
        let plain = serde_json::to_vec(snapshot).map_err(|e| Error::Invalid(e.to_string()))?;
        let sealed = seal_document(&self.keys, Kind::Snapshot, &plain)?;
        let name = hex::encode(&<[u8; 32]>::from(Sha256::digest(&sealed)));
        self.backend.put(ObjectKind::Snapshots, &name, &sealed)?;
        Ok(name)
    }

    /// Reads one snapshot.
    pub fn read_snapshot(&self, name: &str) -> Result<Snapshot> {
        let object = ObjectKind::Snapshots.object(name);
        let sealed = self.backend.get(ObjectKind::Snapshots, name)?;
        if hex::encode(&<[u8; 32]>::from(Sha256::digest(&sealed))) != name {
            return Err(Error::damaged(&object, "content does not match its name"));
        }
        let plain = open_document(&self.keys, Kind::Snapshot, &sealed, &object)?;
        serde_json::from_slice(&plain).map_err(|e| Error::damaged(object, e.to_string()))
    }

    /// Every snapshot, oldest first.
    pub fn snapshots(&self) -> Result<Vec<(String, Snapshot)>> {
        let mut out = Vec::new();
        for (name, _) in self.backend.list(ObjectKind::Snapshots)? {
            out.push((name.clone(), self.read_snapshot(&name)?));
        }
        out.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Finds a snapshot by `latest` (optionally of a host) or by a unique prefix of its name.
    pub fn find_snapshot(&self, spec: &str, host: Option<&str>) -> Result<(String, Snapshot)> {
        let all = self.snapshots()?;
        if spec == "latest" {
            return all
                .into_iter()
                .rev()
                .find(|(_, s)| host.is_none_or(|h| s.host == h))
                .ok_or_else(|| Error::Invalid("the repository has no snapshot yet".into()));
        }
        let mut hits = all.into_iter().filter(|(name, _)| name.starts_with(spec));
        match (hits.next(), hits.next()) {
            (Some(hit), None) if spec.len() >= 4 => Ok(hit),
            (Some(_), _) => Err(Error::Invalid(format!(
                "snapshot {spec:?} is ambiguous: give more digits"
            ))),
            (None, _) => Err(Error::Invalid(format!("no snapshot {spec:?}"))),
        }
    }

    /// Adds a key file for `secret`; returns its id.
    pub fn add_key(
        &self,
        secret: Secret<'_>,
        kdf: KdfParams,
        label: &str,
        now: &str,
    ) -> Result<String> {
        put_key(
            &*self.backend,
            &KeyFile::wrap(&self.keys, secret, kdf, label, now)?,
        )
    }

    /// The key files.
    pub fn keys_list(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        for (id, _) in self.backend.list(ObjectKind::Keys)? {
            let file = read_key(&*self.backend, &id)?;
            out.push(KeyInfo {
                current: id == self.key_id,
                id,
                kdf: file.kdf,
                label: file.label,
                created: file.created,
            });
        }
        Ok(out)
    }

    /// Removes a key file (not the one in use, not the last passphrase).
    pub fn remove_key(&self, id: &str) -> Result<()> {
        let keys = self.keys_list()?;
        let target = keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| Error::Invalid(format!("no key {id}")))?;
        if target.current {
            return Err(Error::Invalid("this is the key you opened the repository with; open it with another to remove this one".into()));
        }
        self.backend.remove(ObjectKind::Keys, id)
    }
}

fn put_key(backend: &dyn Backend, file: &KeyFile) -> Result<String> {
    let id = hex::encode(&random::<16>()?);
    let bytes = serde_json::to_vec_pretty(file).map_err(|e| Error::Invalid(e.to_string()))?;
    backend.put(ObjectKind::Keys, &id, &bytes)?;
    Ok(id)
}

fn read_key(backend: &dyn Backend, id: &str) -> Result<KeyFile> {
    let bytes = backend.get(ObjectKind::Keys, id)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::damaged(ObjectKind::Keys.object(id), e.to_string()))
}
