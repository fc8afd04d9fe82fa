//! `check`: the repository's structure (every snapshot's trees readable, every blob they name
//! indexed, every snapshot's signed metadata valid) and, with `read_data`, every byte (each pack's
//! SHA-256, header and every blob's tag and id). Damage is reported with the files it affects.

use std::collections::{BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};

use crate::Result;
use crate::backend::ObjectKind;
use crate::crypto::BlobId;
use crate::hex;
use crate::meta::SignedMeta;
use crate::pack::{open_blob, parse_header};
use crate::repo::Repository;
use crate::tree::{NodeKind, parse_id};

/// What `check` found.
#[derive(Debug, Default, Clone)]
pub struct CheckReport {
    /// Snapshots checked.
    pub snapshots: usize,
    /// The packs read (with `read_data`), by name.
    pub packs: Vec<String>,
    /// Bytes read (with `read_data`).
    pub bytes_read: u64,
    /// Problems, one per line.
    pub problems: Vec<String>,
    /// Damaged or missing packs.
    pub damaged_packs: BTreeSet<String>,
    /// Files affected by damage, as `snapshot-prefix:/path`.
    pub affected_files: BTreeSet<String>,
}

impl CheckReport {
    /// Whether nothing was wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the repository; `read_data` reads every pack (or, with `sample` = (n, of), the packs
/// whose position modulo `of` is `n`, for restore drills on a part of the data).
pub fn check(
    repo: &Repository,
    read_data: bool,
    sample: Option<(usize, usize)>,
) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let mut bad_blobs: HashSet<BlobId> = HashSet::new();
    if read_data {
        let packs = repo.backend().list(ObjectKind::Data)?;
        for (i, (name, _)) in packs.iter().enumerate() {
            if sample.is_some_and(|(n, of)| of > 0 && i % of != n % of) {
                continue;
            }
            let object = ObjectKind::Data.object(name);
            let bytes = match repo.backend().get(ObjectKind::Data, name) {
                Ok(b) => b,
                Err(e) => {
                    report.problems.push(e.to_string());
                    report.damaged_packs.insert(name.clone());
                    continue;
                }
            };
            report.packs.push(name.clone());
            report.bytes_read += bytes.len() as u64;
            let hash = hex::encode(&<[u8; 32]>::from(Sha256::digest(&bytes)));
            let mut damaged = hash != *name;
            if damaged {
                report
                    .problems
                    .push(format!("{object}: SHA-256 is {hash}, not its name"));
            }
            // The header may still be readable: find the blobs, and check each.
            let entries = match parse_header(repo.keys(), &bytes, bytes.len() as u64, &object) {
                Ok(entries) => entries,
                Err(e) => {
                    report.problems.push(e.to_string());
                    report.damaged_packs.insert(name.clone());
                    if let Some(pack) = hex::decode_array::<32>(name) {
                        bad_blobs.extend(
                            repo.index()
                                .blobs()
                                .filter(|(_, l)| repo.index().pack(l.pack) == pack)
                                .map(|(id, _)| *id),
                        );
                    }
                    continue;
                }
            };
            for entry in entries {
                let blob = &bytes[entry.offset as usize..(entry.offset + entry.length) as usize];
                if let Err(e) = open_blob(repo.keys(), &entry, blob, &object) {
                    report.problems.push(e.to_string());
                    bad_blobs.insert(entry.id);
                    damaged = true;
                }
            }
            if damaged {
                report.damaged_packs.insert(name.clone());
            }
        }
    }

    let config = repo.config();
    let metas: HashSet<String> = repo
        .backend()
        .list(ObjectKind::Meta)?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let mut seen_trees: HashMap<BlobId, bool> = HashMap::new();
    for (name, snapshot) in repo.snapshots()? {
        report.snapshots += 1;
        let short = &name[..8.min(name.len())];
        if metas.contains(&name) {
            let bytes = repo.backend().get(ObjectKind::Meta, &name)?;
            if let Err(e) = SignedMeta::verify(config, &name, &bytes) {
                report.problems.push(format!("meta/{name}: {e}"));
            }
        } else {
            report.problems.push(format!(
                "snapshot {short}: its signed metadata meta/{name} is missing"
            ));
        }
        let root = parse_id(&snapshot.tree)?;
        let mut stack = vec![(root, String::new())];
        while let Some((id, path)) = stack.pop() {
            let tree = match repo.read_tree(&id) {
                Ok(t) => t,
                Err(e) => {
                    report
                        .problems
                        .push(format!("snapshot {short}: {path}: {e}"));
                    seen_trees.insert(id, false);
                    continue;
                }
            };
            let first_visit = seen_trees.insert(id, true).is_none();
            for node in tree.nodes {
                let child = if path.is_empty() {
                    node.display_name()
                } else {
                    format!("{path}/{}", node.display_name())
                };
                match node.kind {
                    NodeKind::Dir => {
                        if let Some(sub) = node.subtree_id()? {
                            stack.push((sub, child));
                        }
                    }
                    NodeKind::File => {
                        for blob in node.content_ids()? {
                            if bad_blobs.contains(&blob) {
                                report.affected_files.insert(format!("{short}:{child}"));
                            } else if first_visit && !repo.index().contains(&blob) {
                                report.problems.push(format!(
                                    "snapshot {short}: {child}: blob {} is not in the repository",
                                    hex::encode(&blob)
                                ));
                                report.affected_files.insert(format!("{short}:{child}"));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(report)
}
