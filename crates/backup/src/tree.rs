//! Directories as tree blobs: entries sorted by name, each with its metadata and, for a file, its
//! content's blob ids, for a directory its subtree's id. Stored as JSON (then compressed and sealed).

use std::fs::Metadata;

use serde::{Deserialize, Serialize};

use crate::crypto::BlobId;
use crate::hex;
use crate::{Error, Result};

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A device, socket or pipe: recorded, not restored.
    Other,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The name, when it is valid UTF-8.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The name's raw bytes (hex) when it is not UTF-8 (Unix); Windows names are always UTF-16
    /// made UTF-8 by the standard library's lossless conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_raw: Option<String>,
    /// What it is.
    pub kind: NodeKind,
    /// Size in bytes (files).
    #[serde(default)]
    pub size: u64,
    /// Modification time, ns since the epoch.
    #[serde(default)]
    pub mtime: i64,
    /// Status-change time, ns since the epoch (Unix; 0 elsewhere).
    #[serde(default)]
    pub ctime: i64,
    /// Permission bits and type (Unix), read-only flag (Windows: 0o444 or 0o644).
    #[serde(default)]
    pub mode: u32,
    /// Owner (Unix).
    #[serde(default)]
    pub uid: u32,
    /// Group (Unix).
    #[serde(default)]
    pub gid: u32,
    /// Inode (Unix), to tell an unchanged file.
    #[serde(default)]
    pub inode: u64,
    /// Device (Unix), for `--one-file-system`.
    #[serde(default)]
    pub device: u64,
    /// A symlink's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A file's content: blob ids (hex) in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<String>,
    /// A directory's subtree id (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<String>,
    /// Extended attributes of files and directories (Unix, where the file system has them),
    /// by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<Xattr>,
}

/// An extended attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Xattr {
    /// Its name, e.g. `user.checksum` (names that are not UTF-8 are not kept).
    pub name: String,
    /// Its value (hex).
    pub value: String,
}

/// The extended attributes of `path` (not following a symlink), by name; none where the
/// platform or file system has none, or they cannot be read.
pub fn read_xattrs(path: &std::path::Path) -> Vec<Xattr> {
    #[cfg(unix)]
    {
        let Ok(names) = xattr::list(path) else {
            return Vec::new();
        };
        let mut out: Vec<Xattr> = names
            .filter_map(|name| {
                let value = xattr::get(path, &name).ok()??;
                Some(Xattr {
                    name: name.into_string().ok()?,
                    value: hex::encode(&value),
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Vec::new()
    }
}

impl Node {
    /// A node with the metadata of `meta`; content or subtree filled in by the caller.
    pub fn from_metadata(name: &std::ffi::OsStr, meta: &Metadata) -> Node {
        let kind = if meta.is_dir() {
            NodeKind::Dir
        } else if meta.is_file() {
            NodeKind::File
        } else if meta.file_type().is_symlink() {
            NodeKind::Symlink
        } else {
            NodeKind::Other
        };
        let (name, name_raw) = encode_name(name);
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let mut node = Node {
            name,
            name_raw,
            kind,
            size: if kind == NodeKind::File {
                meta.len()
            } else {
                0
            },
            mtime,
            ctime: 0,
            mode: if meta.permissions().readonly() {
                0o444
            } else {
                0o644
            },
            uid: 0,
            gid: 0,
            inode: 0,
            device: 0,
            target: None,
            content: Vec::new(),
            subtree: None,
            xattrs: Vec::new(),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            node.ctime = meta
                .ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.ctime_nsec());
            node.mode = meta.mode();
            node.uid = meta.uid();
            node.gid = meta.gid();
            node.inode = meta.ino();
            node.device = meta.dev();
        }
        node
    }

    /// Whether a file is unchanged since `old` was recorded (size, times, inode).
    pub fn unchanged_since(&self, old: &Node) -> bool {
        self.kind == NodeKind::File
            && old.kind == NodeKind::File
            && self.size == old.size
            && self.mtime == old.mtime
            && self.ctime == old.ctime
            && self.inode == old.inode
    }

    /// The name as the operating system's string.
    pub fn os_name(&self) -> Result<std::ffi::OsString> {
        match &self.name_raw {
            None => Ok(self.name.clone().into()),
            Some(raw) => decode_raw_name(raw),
        }
    }

    /// The name for display.
    pub fn display_name(&self) -> String {
        match &self.name_raw {
            None => self.name.clone(),
            Some(raw) => format!("<bytes {raw}>"),
        }
    }

    /// The content ids.
    pub fn content_ids(&self) -> Result<Vec<BlobId>> {
        self.content.iter().map(|h| parse_id(h)).collect()
    }

    /// The subtree id.
    pub fn subtree_id(&self) -> Result<Option<BlobId>> {
        self.subtree.as_deref().map(parse_id).transpose()
    }
}

/// Parses a hex blob id.
pub fn parse_id(text: &str) -> Result<BlobId> {
    hex::decode_array::<32>(text)
        .ok_or_else(|| Error::damaged("tree", format!("bad blob id {text:?}")))
}

fn encode_name(name: &std::ffi::OsStr) -> (String, Option<String>) {
    match name.to_str() {
        Some(s) => (s.to_owned(), None),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                (String::new(), Some(hex::encode(name.as_bytes())))
            }
            #[cfg(not(unix))]
            {
                (name.to_string_lossy().into_owned(), None)
            }
        }
    }
}

fn decode_raw_name(raw: &str) -> Result<std::ffi::OsString> {
    let bytes: Option<Vec<u8>> = raw
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect();
    let bytes = bytes.ok_or_else(|| Error::damaged("tree", format!("bad raw name {raw:?}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Ok(std::ffi::OsString::from_vec(bytes))
    }
    #[cfg(not(unix))]
    {
        Ok(String::from_utf8_lossy(&bytes).into_owned().into())
    }
}

/// A directory listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// Entries sorted by name.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The blob's plaintext.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a tree blob.
    pub fn parse(bytes: &[u8], id: &BlobId) -> Result<Tree> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::damaged(format!("tree {}", hex::encode(id)), e.to_string()))
    }

    /// The entry named `name`.
    pub fn find(&self, name: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.name_raw.is_none() && n.name == name)
    }

    /// The entry with this operating-system name (UTF-8 or not).
    pub fn find_os(&self, name: &std::ffi::OsStr) -> Option<&Node> {
        let (text, raw) = encode_name(name);
        self.nodes
            .iter()
            .find(|n| n.name == text && n.name_raw == raw)
    }
}
