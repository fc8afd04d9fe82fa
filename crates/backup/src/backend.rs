//! Where a repository's objects live: a local directory here, the council's server through the
//! HTTP backend of the `munishare` binary. Every object is write-once.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::pack::PackBytes;
use crate::{Error, Result};

/// The object kinds of a repository (docs/design/0012, "Repository layout").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `config` (its name is empty).
    Config,
    /// `keys/`.
    Keys,
    /// `data/` (packs).
    Data,
    /// `index/`.
    Index,
    /// `snapshots/`.
    Snapshots,
    /// `meta/` (signed, non-secret snapshot metadata).
    Meta,
}

impl ObjectKind {
    /// The path segment on disk and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Config => "config",
            ObjectKind::Keys => "keys",
            ObjectKind::Data => "data",
            ObjectKind::Index => "index",
            ObjectKind::Snapshots => "snapshots",
            ObjectKind::Meta => "meta",
        }
    }

    /// Parses a path segment.
    pub fn parse(text: &str) -> Option<ObjectKind> {
        Some(match text {
            "config" => ObjectKind::Config,
            "keys" => ObjectKind::Keys,
            "data" => ObjectKind::Data,
            "index" => ObjectKind::Index,
            "snapshots" => ObjectKind::Snapshots,
            "meta" => ObjectKind::Meta,
            _ => return None,
        })
    }

    /// `kind/name` as shown in messages.
    pub fn object(self, name: &str) -> String {
        if self == ObjectKind::Config {
            "config".into()
        } else {
            format!("{}/{name}", self.as_str())
        }
    }
}

/// Whether a write created the object or found it there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Written now.
    Created,
    /// An object of that name existed (content-addressed names: the same bytes).
    Existed,
}

/// A repository's storage.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Reads a whole object.
    fn get(&self, kind: ObjectKind, name: &str) -> Result<Vec<u8>>;
    /// Reads `len` bytes at `offset`, or the last `len` bytes when `offset` is `None`.
    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: Option<u64>,
        len: u64,
    ) -> Result<Vec<u8>>;
    /// Writes an object unless one of that name exists. Atomic: a reader never sees half an object.
    fn put(&self, kind: ObjectKind, name: &str, bytes: &[u8]) -> Result<Put>;
    /// Like `put`, taking the bytes, which a backend may free once written, before the object is
    /// durable (the local backend drops them before its fsync, so a pack's memory is not held
    /// while the disk catches up).
    fn put_owned(&self, kind: ObjectKind, name: &str, bytes: PackBytes) -> Result<Put> {
        self.put(kind, name, &bytes)
    }
    /// Lists the names and sizes of a kind's objects.
    fn list(&self, kind: ObjectKind) -> Result<Vec<(String, u64)>>;
    /// Removes an object (a local repository's owner only; the server refuses clients).
    fn remove(&self, kind: ObjectKind, name: &str) -> Result<()>;
    /// Where the repository is, for messages.
    fn describe(&self) -> String;
}

/// A repository in a local directory.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    /// Opens (or prepares to create) a repository at `root`.
    pub fn new(root: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend { root: root.into() }
    }

    fn path(&self, kind: ObjectKind, name: &str) -> Result<PathBuf> {
        if kind == ObjectKind::Config {
            return Ok(self.root.join("config"));
        }
        if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::Invalid(format!("bad object name {name:?}")));
        }
        let dir = self.root.join(kind.as_str());
        Ok(if kind == ObjectKind::Data {
            dir.join(&name[..2.min(name.len())]).join(name)
        } else {
            dir.join(name)
        })
    }

    /// Writes an object under a temporary name with `write`, syncs it, then renames it: a crash
    /// leaves the object whole or absent. An existing object is left as it is.
    fn write_object(
        &self,
        kind: ObjectKind,
        name: &str,
        write: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
    ) -> Result<Put> {
        let path = self.path(kind, name)?;
        if path.exists() {
            return Ok(Put::Existed);
        }
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            crate::hex::encode(&crate::crypto::random::<8>()?)
        ));
        let written = (|| -> std::io::Result<()> {
            let mut file = fs::File::create_new(&tmp)?;
            write(&mut file)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(&path, e));
        }
        if path.exists() {
            let _ = fs::remove_file(&tmp);
            return Ok(Put::Existed);
        }
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        Ok(Put::Created)
    }

    fn open(&self, kind: ObjectKind, name: &str) -> Result<(fs::File, PathBuf)> {
        let path = self.path(kind, name)?;
        match fs::File::open(&path) {
            Ok(f) => Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::Missing(kind.object(name)))
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

impl Backend for LocalBackend {
    fn get(&self, kind: ObjectKind, name: &str) -> Result<Vec<u8>> {
        let (mut file, path) = self.open(kind, name)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        Ok(bytes)
    }

    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: Option<u64>,
        len: u64,
    ) -> Result<Vec<u8>> {
        let (mut file, path) = self.open(kind, name)?;
        let io = |e| Error::io(&path, e);
        let size = file.metadata().map_err(io)?.len();
        let start = match offset {
            Some(o) => o,
            None => size.saturating_sub(len),
        };
        if start + len > size {
            return Err(Error::damaged(
                kind.object(name),
                format!("shorter ({size} bytes) than expected"),
            ));
        }
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut bytes =
            vec![0u8; usize::try_from(len).map_err(|_| Error::Invalid("range too large".into()))?];
        file.read_exact(&mut bytes).map_err(io)?;
        Ok(bytes)
    }

    fn put(&self, kind: ObjectKind, name: &str, bytes: &[u8]) -> Result<Put> {
        self.write_object(kind, name, |file| file.write_all(bytes))
    }

    fn put_owned(&self, kind: ObjectKind, name: &str, bytes: PackBytes) -> Result<Put> {
        self.write_object(kind, name, move |file| {
            let written = file.write_all(&bytes);
            drop(bytes);
            written
        })
    }

    fn list(&self, kind: ObjectKind) -> Result<Vec<(String, u64)>> {
        let dir = self.root.join(kind.as_str());
        let mut out = Vec::new();
        if kind == ObjectKind::Data {
            for sub in read_dir(&dir)? {
                if sub.1 {
                    out.extend(read_dir(&sub.0)?.into_iter().filter(|e| !e.1).map(|e| e.2));
                }
            }
        } else {
            out.extend(read_dir(&dir)?.into_iter().filter(|e| !e.1).map(|e| e.2));
        }
        out.retain(|(name, _)| !name.starts_with(".tmp-"));
        out.sort();
        Ok(out)
    }

    fn remove(&self, kind: ObjectKind, name: &str) -> Result<()> {
        let path = self.path(kind, name)?;
        fs::remove_file(&path).map_err(|e| Error::io(path, e))
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

/// A directory entry: its path, whether it is a directory, and its name and size.
struct DirEntry(PathBuf, bool, (String, u64));

/// Entries of a directory; a missing directory is empty.
fn read_dir(dir: &Path) -> Result<Vec<DirEntry>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push(DirEntry(entry.path(), meta.is_dir(), (name, meta.len())));
    }
    Ok(out)
}
