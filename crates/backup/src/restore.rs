//! Restore: plan every file's chunks, then read each pack once (two workers), open and check every
//! blob (authentication tag and keyed BLAKE3 id) and write it where it belongs. A damaged pack
//! fails only the files that need it; the rest are restored.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::backend::ObjectKind;
use crate::crypto::BlobId;
use crate::hex;
use crate::pack::{Entry, open_blob};
use crate::repo::{Repository, Snapshot};
use crate::tree::{Node, NodeKind, parse_id};
use crate::{Error, Result};

/// What a restore did.
#[derive(Debug, Default, Clone)]
pub struct RestoreSummary {
    /// Files written.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Files that could not be restored, with the reason.
    pub errors: Vec<String>,
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct RestoreProgress {
    /// Bytes to write.
    pub total_bytes: AtomicU64,
    /// Bytes written.
    pub bytes_done: AtomicU64,
}

struct FilePlan {
    path: PathBuf,
    node: Node,
}

/// A destination of a blob: file number and offset.
type Target = (usize, u64);

/// Restores `snapshot` (or only the paths under `include`, given as in `ls`) into `target`.
pub fn restore(
    repo: &Repository,
    snapshot: &Snapshot,
    include: &[String],
    target: &Path,
    workers: usize,
    progress: &RestoreProgress,
) -> Result<RestoreSummary> {
    let mut plan = Plan::default();
    let root = repo.read_tree(&parse_id(&snapshot.tree)?)?;
    for node in &root.nodes {
        walk(repo, node, &node.name.clone(), target, include, &mut plan)?;
    }
    let mut summary = RestoreSummary {
        dirs: plan.dirs.len() as u64,
        ..RestoreSummary::default()
    };
    for dir in &plan.dirs {
        fs::create_dir_all(&dir.path).map_err(|e| Error::io(&dir.path, e))?;
    }
    // Each file created at its size; blobs then land at their offsets.
    let mut by_pack: BTreeMap<u32, HashMap<BlobId, (Entry, Vec<Target>)>> = BTreeMap::new();
    let mut missing = BTreeMap::new();
    for (n, file) in plan.files.iter().enumerate() {
        if let Some(parent) = file.path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let f = fs::File::create(&file.path).map_err(|e| Error::io(&file.path, e))?;
        f.set_len(file.node.size)
            .map_err(|e| Error::io(&file.path, e))?;
        let mut offset = 0u64;
        for id in file.node.content_ids()? {
            let Some(loc) = repo.index().get(&id) else {
                missing.insert(
                    n,
                    format!("blob {} is missing from the repository", hex::encode(&id)),
                );
                break;
            };
            by_pack
                .entry(loc.pack)
                .or_default()
                .entry(id)
                .or_insert_with(|| (loc.entry, Vec::new()))
                .1
                .push((n, offset));
            offset += u64::from(loc.entry.plain_len);
        }
        progress
            .total_bytes
            .fetch_add(file.node.size, Ordering::Relaxed);
    }
    let failed: Mutex<BTreeMap<usize, String>> = Mutex::new(missing);
    let queue = Mutex::new(by_pack.into_iter().collect::<Vec<_>>());
    let files = Arc::new(plan.files);
    thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                while let Some((pack, blobs)) = queue.lock().ok().and_then(|mut q| q.pop()) {
                    if let Err((targets, why)) = restore_pack(repo, pack, &blobs, &files, progress)
                        && let Ok(mut f) = failed.lock()
                    {
                        for t in targets {
                            f.entry(t).or_insert_with(|| why.clone());
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_default();
    for (n, file) in files.iter().enumerate() {
        if let Some(why) = failed.get(&n) {
            summary
                .errors
                .push(format!("{}: {why}", file.path.display()));
            continue;
        }
        set_xattrs(&file.path, &file.node, &mut summary);
        set_metadata(&file.path, &file.node)?;
        summary.files += 1;
        summary.bytes += file.node.size;
    }
    for link in &plan.links {
        restore_symlink(link, &mut summary);
    }
    // Directory times last, deepest first (writing inside a directory changes its time).
    for dir in plan.dirs.iter().rev() {
        set_xattrs(&dir.path, &dir.node, &mut summary);
        set_metadata(&dir.path, &dir.node)?;
    }
    Ok(summary)
}

#[derive(Default)]
struct Plan {
    dirs: Vec<FilePlan>,
    files: Vec<FilePlan>,
    links: Vec<FilePlan>,
}

/// Where a snapshot path lands under `target`: its normal components only (no root, no `..`).
fn destination(target: &Path, snapshot_path: &str) -> PathBuf {
    let mut out = target.to_path_buf();
    for c in Path::new(snapshot_path).components() {
        if let Component::Normal(part) = c {
            out.push(part);
        }
    }
    out
}

/// Whether `path` is to be restored: no filter, or under one of `include`, or on the way to one.
fn selected(path: &str, include: &[String]) -> (bool, bool) {
    if include.is_empty() {
        return (true, true);
    }
    let under = include
        .iter()
        .any(|i| path == i || path.starts_with(&format!("{}/", i.trim_end_matches('/'))));
    let above = include
        .iter()
        .any(|i| i.starts_with(&format!("{}/", path.trim_end_matches('/'))));
    (under, under || above)
}

fn walk(
    repo: &Repository,
    node: &Node,
    path: &str,
    target: &Path,
    include: &[String],
    plan: &mut Plan,
) -> Result<()> {
    let (take, descend) = selected(path, include);
    if !descend {
        return Ok(());
    }
    let dest = destination(target, path);
    match node.kind {
        NodeKind::Dir => {
            if take {
                plan.dirs.push(FilePlan {
                    path: dest,
                    node: node.clone(),
                });
            }
            if let Some(id) = node.subtree_id()? {
                for child in repo.read_tree(&id)?.nodes {
                    let name = child.os_name()?;
                    let child_path =
                        format!("{}/{}", path.trim_end_matches('/'), name.to_string_lossy());
                    walk(repo, &child, &child_path, target, include, plan)?;
                }
            }
        }
        NodeKind::File if take => plan.files.push(FilePlan {
            path: dest,
            node: node.clone(),
        }),
        NodeKind::Symlink if take => plan.links.push(FilePlan {
            path: dest,
            node: node.clone(),
        }),
        _ => {}
    }
    Ok(())
}

/// Reads one pack (whole, or blob by blob when only a few are needed) and writes its blobs.
/// On failure returns the files that needed it and why.
fn restore_pack(
    repo: &Repository,
    pack: u32,
    blobs: &HashMap<BlobId, (Entry, Vec<Target>)>,
    files: &[FilePlan],
    progress: &RestoreProgress,
) -> std::result::Result<(), (Vec<usize>, String)> {
    let name = hex::encode(&repo.index().pack(pack));
    let object = ObjectKind::Data.object(&name);
    let all_targets = || {
        blobs
            .values()
            .flat_map(|(_, t)| t.iter().map(|(n, _)| *n))
            .collect::<Vec<_>>()
    };
    let needed: u64 = blobs.values().map(|(e, _)| u64::from(e.length)).sum();
    let whole = if needed * 2 >= u64::from(repo.config().pack_size) {
        Some(
            repo.backend()
                .get(ObjectKind::Data, &name)
                .map_err(|e| (all_targets(), e.to_string()))?,
        )
    } else {
        None
    };
    let mut failed = Vec::new();
    let mut why = String::new();
    for (entry, targets) in blobs.values() {
        let sealed = match &whole {
            Some(bytes) => bytes
                .get(entry.offset as usize..(entry.offset + entry.length) as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| Error::damaged(&object, "shorter than its index says")),
            None => repo.backend().get_range(
                ObjectKind::Data,
                &name,
                Some(u64::from(entry.offset)),
                u64::from(entry.length),
            ),
        };
        let plain = sealed.and_then(|s| open_blob(repo.keys(), entry, &s, &object));
        match plain {
            Ok(plain) => {
                for &(n, offset) in targets {
                    if let Err(e) = write_at(&files[n].path, offset, &plain) {
                        failed.push(n);
                        why = e.to_string();
                    } else {
                        progress
                            .bytes_done
                            .fetch_add(plain.len() as u64, Ordering::Relaxed);
                    }
                }
            }
            Err(e) => {
                failed.extend(targets.iter().map(|(n, _)| *n));
                why = e.to_string();
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err((failed, why))
    }
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(bytes, offset)
            .map_err(|e| Error::io(path, e))
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(path, e))?;
        file.write_all(bytes).map_err(|e| Error::io(path, e))
    }
}

/// Sets the node's extended attributes. Only the `user.` namespace is the owner's to set; the
/// others (`security.`, `trusted.`, `system.`) need privileges or a matching system, so they are
/// best effort. A `user.` attribute that cannot be set is reported, the file is kept.
fn set_xattrs(path: &Path, node: &Node, summary: &mut RestoreSummary) {
    for x in &node.xattrs {
        let Some(value) = hex::decode(&x.value) else {
            summary.errors.push(format!(
                "{}: extended attribute {}: its stored value is not hex",
                path.display(),
                x.name
            ));
            continue;
        };
        #[cfg(unix)]
        if let Err(e) = xattr::set(path, &x.name, &value)
            && x.name.starts_with("user.")
        {
            summary.errors.push(format!(
                "{}: extended attribute {} not restored: {e}",
                path.display(),
                x.name
            ));
        }
        #[cfg(not(unix))]
        let _ = value;
    }
}

fn set_metadata(path: &Path, node: &Node) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(node.mode & 0o7777))
            .map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(unix))]
    {
        let mut perms = fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .permissions();
        perms.set_readonly(node.mode & 0o222 == 0);
        fs::set_permissions(path, perms).map_err(|e| Error::io(path, e))?;
    }
    let mtime = std::time::UNIX_EPOCH
        + std::time::Duration::from_nanos(u64::try_from(node.mtime).unwrap_or(0));
    // Directories cannot be opened for writing everywhere; their time is best effort.
    if let Ok(f) = fs::File::options()
        .write(node.kind == NodeKind::File)
        .read(node.kind != NodeKind::File)
        .open(path)
    {
        let _ = f.set_modified(mtime);
    }
    Ok(())
}

fn restore_symlink(link: &FilePlan, summary: &mut RestoreSummary) {
    let Some(target) = &link.node.target else {
        return;
    };
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(target, &link.path);
    #[cfg(windows)]
    let made = std::os::windows::fs::symlink_file(target, &link.path);
    #[cfg(not(any(unix, windows)))]
    let made: std::io::Result<()> = Err(std::io::Error::other("symlinks are not supported here"));
    if let Err(e) = made {
        summary.errors.push(format!("{}: {e}", link.path.display()));
    }
}
