//! The backup pipeline (docs/design/0012, "Pipeline"):
//! walk + read + chunk + id + skip known (this thread) → compress + seal (a worker per core) →
//! pack (one thread) → upload (one thread), with bounded queues between them.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::backend::{Backend, ObjectKind};
use crate::chunker::Chunker;
use crate::crypto::{BlobId, Keys, Kind};
use crate::exclude::Excludes;
use crate::hex;
use crate::index::PackId;
use crate::meta::{SignedMeta, SnapshotMeta};
use crate::pack::{BlobSealer, Entry, PackWriter};
use crate::repo::{Repository, Snapshot, Summary};
use crate::tree::{Node, NodeKind, Tree};
use crate::{Error, Result};

/// What to back up and how.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Files and directories to back up.
    pub paths: Vec<PathBuf>,
    /// The host name recorded.
    pub host: String,
    /// Tags recorded.
    pub tags: Vec<String>,
    /// What to leave out.
    pub excludes: Excludes,
    /// Read and count everything, write nothing.
    pub dry_run: bool,
    /// The parent snapshot; `None` takes the latest of this host with the same paths.
    pub parent: Option<String>,
    /// Read every file even when the parent says it is unchanged.
    pub force: bool,
    /// Upload limit in bytes per second.
    pub upload_limit: Option<u64>,
    /// The backup's time (RFC 3339).
    pub time: String,
    /// Compression workers (default: the number of cores).
    pub workers: usize,
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files found by the scan so far.
    pub total_files: AtomicU64,
    /// Bytes found by the scan so far.
    pub total_bytes: AtomicU64,
    /// Whether the scan has finished (totals are final).
    pub scan_done: AtomicBool,
    /// Files processed.
    pub files_done: AtomicU64,
    /// Bytes processed (read, or taken unchanged from the parent).
    pub bytes_done: AtomicU64,
    /// Pack bytes uploaded.
    pub bytes_uploaded: AtomicU64,
}

/// The outcome: the snapshot's name (none on a dry run) and the figures.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The snapshot written.
    pub snapshot: Option<String>,
    /// The parent used.
    pub parent: Option<String>,
    /// Figures.
    pub summary: Summary,
}

/// What the walker may queue ahead of the workers, in bytes of chunks.
const JOB_BUDGET: usize = 4 << 20;

struct Job {
    kind: Kind,
    id: BlobId,
    plain: Vec<u8>,
}

struct Sealed {
    kind: Kind,
    id: BlobId,
    sealed: Vec<u8>,
    plain_len: usize,
}

/// The walker's queue to the compression workers, bounded by the bytes it holds rather than by a
/// count of chunks: a run of small files queues many small jobs (so the workers never wait on
/// the walker's open, stat and read of each), a run of 8 MiB chunks only a few (so memory stays
/// bounded). A job larger than the whole budget still enters an empty queue.
struct JobQueue {
    state: Mutex<QueueState>,
    /// Signalled when a job arrives or the queue closes.
    filled: Condvar,
    /// Signalled when a job leaves or the queue closes.
    drained: Condvar,
    budget: usize,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    bytes: usize,
    /// No more jobs will come (the walker finished).
    closed: bool,
    /// A worker stopped: the walker must stop too.
    aborted: bool,
}

impl JobQueue {
    fn new(budget: usize) -> JobQueue {
        JobQueue {
            state: Mutex::new(QueueState::default()),
            filled: Condvar::new(),
            drained: Condvar::new(),
            budget,
        }
    }

    /// Queues `job`, waiting while the queue holds its budget; false once a worker has stopped.
    fn push(&self, job: Job) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        while !state.aborted && state.bytes > 0 && state.bytes + job.plain.len() > self.budget {
            state = match self.drained.wait(state) {
                Ok(s) => s,
                Err(_) => return false,
            };
        }
        if state.aborted {
            return false;
        }
        state.bytes += job.plain.len();
        state.jobs.push_back(job);
        self.filled.notify_one();
        true
    }

    /// The next job; `None` once the queue is closed and empty, or aborted.
    fn pop(&self) -> Option<Job> {
        let mut state = self.state.lock().ok()?;
        loop {
            if state.aborted {
                return None;
            }
            if let Some(job) = state.jobs.pop_front() {
                state.bytes -= job.plain.len();
                self.drained.notify_one();
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self.filled.wait(state).ok()?;
        }
    }

    /// The walker is done: workers finish what is queued, then stop.
    fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.filled.notify_all();
    }

    /// A worker stopped (an error, or the packer is gone): the walker and the others stop.
    fn abort(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.aborted = true;
            state.jobs.clear();
            state.bytes = 0;
        }
        self.filled.notify_all();
        self.drained.notify_all();
    }
}

/// Aborts the job queue when dropped: on an early return from the walk, the workers, the
/// packer and the uploaders stop rather than wait forever for jobs.
struct StopOnDrop<'a>(&'a JobQueue);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The first error of any pipeline thread; the others stop when it is set.
#[derive(Default)]
struct Failure(Mutex<Option<Error>>, AtomicBool);

impl Failure {
    fn set(&self, e: Error) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(e);
        }
        self.1.store(true, Ordering::SeqCst);
    }
    fn failed(&self) -> bool {
        self.1.load(Ordering::SeqCst)
    }
    fn take(&self) -> Option<Error> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

/// Backs up `options.paths` into `repo`.
pub fn backup(
    repo: &mut Repository,
    options: &BackupOptions,
    progress: &Arc<Progress>,
) -> Result<Outcome> {
    options.excludes.check()?;
    if options.paths.is_empty() {
        return Err(Error::Invalid("give at least one path to back up".into()));
    }
    let mut paths = Vec::new();
    for p in &options.paths {
        let abs = std::path::absolute(p).map_err(|e| Error::io(p, e))?;
        fs::symlink_metadata(&abs).map_err(|e| Error::io(&abs, e))?;
        paths.push(abs);
    }
    paths.sort();
    paths.dedup();
    let path_names: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();

    let parent = match &options.parent {
        Some(spec) => Some(repo.find_snapshot(spec, None)?),
        None if options.force => None,
        None => repo
            .snapshots()?
            .into_iter()
            .rev()
            .find(|(_, s)| s.host == options.host && s.paths == path_names),
    };
    let parent_root = match &parent {
        Some((_, s)) => Some(repo.read_tree(&crate::tree::parse_id(&s.tree)?)?),
        None => None,
    };

    {
        let progress = Arc::clone(progress);
        let paths = paths.clone();
        let excludes = options.excludes.clone();
        thread::spawn(move || scan(&paths, &excludes, &progress));
    }

    let failure = Arc::new(Failure::default());
    let workers = options.workers.max(1);
    let jobs = Arc::new(JobQueue::new(JOB_BUDGET));
    let (sealed_tx, sealed_rx) = sync_channel::<Sealed>(workers * 2);
    // A rendezvous: the packer fills the next pack while the uploader stores the last one.
    let (pack_tx, pack_rx) = sync_channel::<crate::pack::Pack>(0);
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (rx, tx, keys, failure) = (
            Arc::clone(&jobs),
            sealed_tx.clone(),
            repo.keys().clone(),
            Arc::clone(&failure),
        );
        handles.push(thread::spawn(move || {
            compress_worker(&rx, &tx, &keys, &failure)
        }));
    }
    drop(sealed_tx);
    let packer = {
        let (keys, failure) = (repo.keys().clone(), Arc::clone(&failure));
        let config = repo.config();
        let (size, max_blob) = (
            config.pack_size as usize,
            config.chunker.max as usize + 1024,
        );
        thread::spawn(move || packer(&sealed_rx, &pack_tx, &keys, size, max_blob, &failure))
    };
    // Two uploaders: one writes a pack while the other waits for the disk (or the network).
    let pack_rx = Arc::new(Mutex::new(pack_rx));
    let rate = Arc::new(Rate {
        started: Instant::now(),
        sent: AtomicU64::new(0),
        limit: options.upload_limit.filter(|r| *r > 0),
    });
    let uploaders: Vec<_> = (0..2)
        .map(|_| {
            let (rx, backend, failure, progress, rate, dry) = (
                Arc::clone(&pack_rx),
                Arc::clone(repo.backend()),
                Arc::clone(&failure),
                Arc::clone(progress),
                Arc::clone(&rate),
                options.dry_run,
            );
            thread::spawn(move || uploader(&rx, &*backend, dry, &rate, &progress, &failure))
        })
        .collect();

    // If the walk fails, the pipeline stops instead of waiting for jobs that will not come.
    let stop_on_error = StopOnDrop(&jobs);
    let mut walker = Walker {
        repo,
        excludes: &options.excludes,
        force: options.force,
        jobs: &jobs,
        pending: HashSet::new(),
        used: HashSet::new(),
        summary: Summary::default(),
        progress,
        failure: &failure,
        root_device: 0,
    };
    let mut root = Tree::default();
    for path in &paths {
        let old = parent_root
            .as_ref()
            .and_then(|t| t.find(&path.to_string_lossy()));
        if let Some(node) = walker.node(path, old, true)? {
            let mut node = node;
            node.name = path.to_string_lossy().into_owned();
            node.name_raw = None;
            root.nodes.push(node);
        }
    }
    let root_id = walker.tree_blob(&root)?;
    let Walker {
        used, mut summary, ..
    } = walker;
    std::mem::forget(stop_on_error);
    jobs.close();
    for h in handles {
        let _ = h.join();
    }
    let _ = packer.join();
    let uploaded: Vec<_> = uploaders
        .into_iter()
        .flat_map(|u| u.join().unwrap_or_default())
        .collect();
    if let Some(e) = failure.take() {
        return Err(e);
    }

    summary.packs_added = uploaded.len() as u64;
    summary.packed_added = uploaded.iter().map(|(_, _, len)| *len).sum();
    let mut new_packs: Vec<(PackId, Vec<Entry>)> = uploaded
        .into_iter()
        .map(|(id, entries, _)| (id, entries))
        .collect();
    for (id, entries) in &new_packs {
        repo.index_mut().add_pack(*id, entries, None);
    }
    let parent_name = parent.map(|(name, _)| name);
    if options.dry_run {
        return Ok(Outcome {
            snapshot: None,
            parent: parent_name,
            summary,
        });
    }
    new_packs.extend(repo.take_unindexed());
    if !new_packs.is_empty() {
        repo.write_index(&new_packs)?;
    }

    let mut packs = HashSet::new();
    for id in &used {
        let loc = repo
            .index()
            .get(id)
            .ok_or_else(|| Error::Missing(format!("blob {}", hex::encode(id))))?;
        packs.insert(loc.pack);
    }
    let mut index_files: Vec<String> = packs
        .iter()
        .filter_map(|&p| repo.index().pack_file(p))
        .map(|f| hex::encode(&f))
        .collect();
    index_files.sort();
    index_files.dedup();
    let mut pack_names: Vec<String> = packs
        .iter()
        .map(|&p| hex::encode(&repo.index().pack(p)))
        .collect();
    pack_names.sort();

    let snapshot = Snapshot {
        version: crate::config::FORMAT_VERSION,
        time: options.time.clone(),
        host: options.host.clone(),
        tags: options.tags.clone(),
        paths: path_names,
        tree: hex::encode(&root_id),
        parent: parent_name.clone(),
        summary: summary.clone(),
    };
    let name = repo.write_snapshot(&snapshot)?;
    let meta = SnapshotMeta {
        version: crate::config::FORMAT_VERSION,
        repo: repo.config().id.clone(),
        snapshot: name.clone(),
        host: options.host.clone(),
        tags: options.tags.clone(),
        time: options.time.clone(),
        parent: parent_name.clone(),
        files: summary.files_new + summary.files_changed + summary.files_unchanged,
        dirs: summary.dirs,
        logical_bytes: summary.logical_bytes,
        added_bytes: summary.packed_added,
        packs: pack_names,
        index: index_files,
    };
    let signed = SignedMeta::sign(&meta, &repo.keys().signing_key());
    repo.backend()
        .put(ObjectKind::Meta, &name, &signed.to_bytes())?;
    Ok(Outcome {
        snapshot: Some(name),
        parent: parent_name,
        summary,
    })
}

struct Walker<'a> {
    repo: &'a Repository,
    excludes: &'a Excludes,
    force: bool,
    jobs: &'a JobQueue,
    /// Blobs sent to the pipeline in this run (not yet in the index).
    pending: HashSet<BlobId>,
    /// Every blob the snapshot needs.
    used: HashSet<BlobId>,
    summary: Summary,
    progress: &'a Arc<Progress>,
    failure: &'a Failure,
    root_device: u64,
}

impl Walker<'_> {
    /// The node for `path` (None when excluded or unreadable, which is recorded).
    fn node(&mut self, path: &Path, old: Option<&Node>, top: bool) -> Result<Option<Node>> {
        if self.failure.failed() {
            return Err(self
                .failure
                .take()
                .unwrap_or_else(|| Error::Backend("the pipeline stopped".into())));
        }
        if !top && self.excludes.matches(path) {
            return Ok(None);
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.summary.errors.push(format!("{}: {e}", path.display()));
                return Ok(None);
            }
        };
        let name = path.file_name().unwrap_or(path.as_os_str());
        let mut node = Node::from_metadata(name, &meta);
        if matches!(node.kind, NodeKind::Dir | NodeKind::File) {
            node.xattrs = crate::tree::read_xattrs(path);
        }
        if top {
            self.root_device = node.device;
        }
        match node.kind {
            NodeKind::Dir => {
                if !top
                    && ((self.excludes.one_file_system && node.device != self.root_device)
                        || self.excludes.is_cache(path))
                {
                    return Ok(None);
                }
                let old_tree = match old.and_then(|o| o.subtree_id().ok().flatten()) {
                    Some(id) if self.repo.index().contains(&id) => self.repo.read_tree(&id).ok(),
                    _ => None,
                };
                match self.dir(path, old_tree.as_ref()) {
                    Ok(id) => node.subtree = Some(hex::encode(&id)),
                    Err(Error::Io { path, source }) => {
                        self.summary
                            .errors
                            .push(format!("{}: {source}", path.display()));
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                }
                self.summary.dirs += 1;
            }
            NodeKind::File => {
                let reuse = old
                    .filter(|o| !self.force && node.unchanged_since(o))
                    .and_then(|o| {
                        let ids = o.content_ids().ok()?;
                        ids.iter()
                            .all(|id| self.repo.index().contains(id))
                            .then(|| (o.content.clone(), ids))
                    });
                if let Some((content, ids)) = reuse {
                    self.used.extend(ids);
                    self.progress
                        .bytes_done
                        .fetch_add(node.size, Ordering::Relaxed);
                    node.content = content;
                    self.summary.files_unchanged += 1;
                } else {
                    match self.file(path) {
                        Ok(ids) => node.content = ids.iter().map(|id| hex::encode(id)).collect(),
                        Err(Error::Io { path, source }) => {
                            self.summary
                                .errors
                                .push(format!("{}: {source}", path.display()));
                            return Ok(None);
                        }
                        Err(e) => return Err(e),
                    }
                    if old.is_some() {
                        self.summary.files_changed += 1;
                    } else {
                        self.summary.files_new += 1;
                    }
                }
                self.summary.logical_bytes += node.size;
                self.progress.files_done.fetch_add(1, Ordering::Relaxed);
            }
            NodeKind::Symlink => {
                node.target = fs::read_link(path)
                    .ok()
                    .map(|t| t.to_string_lossy().into_owned());
            }
            NodeKind::Other => {}
        }
        Ok(Some(node))
    }

    fn dir(&mut self, path: &Path, old: Option<&Tree>) -> Result<BlobId> {
        let mut entries: Vec<_> = fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(std::result::Result::ok)
            .map(|e| e.file_name())
            .collect();
        entries.sort();
        let mut tree = Tree::default();
        for name in entries {
            let child = path.join(&name);
            let old_node = old.and_then(|t| t.find_os(&name));
            if let Some(node) = self.node(&child, old_node, false)? {
                tree.nodes.push(node);
            }
        }
        self.tree_blob(&tree)
    }

    fn file(&mut self, path: &Path) -> Result<Vec<BlobId>> {
        let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut ids = Vec::new();
        Chunker::new(self.repo.config().chunker).chunks(path, &mut file, |chunk| {
            let len = chunk.len() as u64;
            self.summary.bytes_read += len;
            self.progress.bytes_done.fetch_add(len, Ordering::Relaxed);
            let id = self.repo.keys().blob_id(&chunk);
            self.dispatch(Kind::Data, id, chunk)?;
            ids.push(id);
            Ok(())
        })?;
        Ok(ids)
    }

    fn tree_blob(&mut self, tree: &Tree) -> Result<BlobId> {
        let bytes = tree.to_bytes();
        let id = self.repo.keys().blob_id(&bytes);
        self.dispatch(Kind::Tree, id, bytes)?;
        Ok(id)
    }

    /// Sends a blob to be compressed and sealed, unless the repository or this run has it.
    fn dispatch(&mut self, kind: Kind, id: BlobId, plain: Vec<u8>) -> Result<()> {
        self.used.insert(id);
        if self.repo.index().contains(&id) || !self.pending.insert(id) {
            return Ok(());
        }
        self.summary.blobs_added += 1;
        self.summary.plain_added += plain.len() as u64;
        if self.jobs.push(Job { kind, id, plain }) {
            Ok(())
        } else {
            Err(self
                .failure
                .take()
                .unwrap_or_else(|| Error::Backend("the pipeline stopped".into())))
        }
    }
}

fn compress_worker(jobs: &JobQueue, out: &SyncSender<Sealed>, keys: &Keys, failure: &Failure) {
    let mut sealer = match BlobSealer::new() {
        Ok(s) => s,
        Err(e) => {
            failure.set(e);
            return jobs.abort();
        }
    };
    while let Some(job) = jobs.pop() {
        let sealed = match sealer.seal(keys, job.kind, &job.id, &job.plain) {
            Ok(sealed) => sealed,
            Err(e) => {
                failure.set(e);
                return jobs.abort();
            }
        };
        let sealed = Sealed {
            kind: job.kind,
            id: job.id,
            sealed,
            plain_len: job.plain.len(),
        };
        // Release the chunk before waiting on the packer.
        drop(job);
        if out.send(sealed).is_err() {
            return jobs.abort();
        }
    }
}

fn packer(
    input: &Receiver<Sealed>,
    out: &SyncSender<crate::pack::Pack>,
    keys: &Keys,
    size: usize,
    max_blob: usize,
    failure: &Failure,
) {
    let new_writer = || PackWriter::with_capacity(size + max_blob);
    let mut writer = match new_writer() {
        Ok(w) => w,
        Err(e) => return failure.set(e),
    };
    let finish = |writer: PackWriter| match writer.finish(keys) {
        Ok(pack) => out.send(pack).is_ok(),
        Err(e) => {
            failure.set(e);
            false
        }
    };
    for blob in input {
        if let Err(e) = writer.add(blob.kind, blob.id, &blob.sealed, blob.plain_len) {
            failure.set(e);
            return;
        }
        if writer.len() >= size {
            let next = match new_writer() {
                Ok(w) => w,
                Err(e) => return failure.set(e),
            };
            if !finish(std::mem::replace(&mut writer, next)) {
                return;
            }
        }
    }
    if !writer.is_empty() {
        finish(writer);
    }
}

/// The uploaders' shared bandwidth limit (bytes per second) and what they have sent.
struct Rate {
    started: Instant,
    sent: AtomicU64,
    limit: Option<u64>,
}

fn uploader(
    input: &Mutex<Receiver<crate::pack::Pack>>,
    backend: &dyn Backend,
    dry_run: bool,
    rate: &Rate,
    progress: &Progress,
    failure: &Failure,
) -> Vec<(PackId, Vec<Entry>, u64)> {
    let mut done = Vec::new();
    loop {
        let pack = match input.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return done,
        };
        let Ok(pack) = pack else { return done };
        let len = pack.bytes.len() as u64;
        if !dry_run
            && let Err(e) = backend.put_owned(ObjectKind::Data, &hex::encode(&pack.id), pack.bytes)
        {
            failure.set(e);
            return done;
        }
        let sent = rate.sent.fetch_add(len, Ordering::Relaxed) + len;
        progress.bytes_uploaded.fetch_add(len, Ordering::Relaxed);
        if let Some(limit) = rate.limit {
            let due = Duration::from_millis(sent.saturating_mul(1000) / limit);
            if let Some(wait) = due.checked_sub(rate.started.elapsed()) {
                thread::sleep(wait);
            }
        }
        done.push((pack.id, pack.entries, len));
    }
}

/// Counts files and bytes ahead of the backup, for the progress display's ETA.
fn scan(paths: &[PathBuf], excludes: &Excludes, progress: &Progress) {
    fn walk(path: &Path, excludes: &Excludes, progress: &Progress, top: bool) {
        if !top && excludes.matches(path) {
            return;
        }
        let Ok(meta) = fs::symlink_metadata(path) else {
            return;
        };
        if meta.is_file() {
            progress.total_files.fetch_add(1, Ordering::Relaxed);
            progress
                .total_bytes
                .fetch_add(meta.len(), Ordering::Relaxed);
        } else if meta.is_dir()
            && !excludes.is_cache(path)
            && let Ok(entries) = fs::read_dir(path)
        {
            for e in entries.flatten() {
                walk(&e.path(), excludes, progress, false);
            }
        }
    }
    for p in paths {
        walk(p, excludes, progress, true);
    }
    progress.scan_done.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn job(len: usize) -> Job {
        Job {
            kind: Kind::Data,
            id: [0; 32],
            plain: vec![0; len],
        }
    }

    #[test]
    fn the_job_queue_is_bounded_by_bytes_and_drains_after_closing() {
        let queue = JobQueue::new(10);
        // A job larger than the whole budget still enters an empty queue.
        assert!(queue.push(job(25)));
        thread::scope(|s| {
            // The next one waits until the worker takes the first.
            let walker = s.spawn(|| queue.push(job(4)) && queue.push(job(6)));
            assert_eq!(queue.pop().map(|j| j.plain.len()), Some(25));
            assert!(walker.join().unwrap());
        });
        queue.close();
        let sizes: Vec<_> = std::iter::from_fn(|| queue.pop().map(|j| j.plain.len())).collect();
        assert_eq!(sizes, [4, 6], "closing keeps what was queued");
    }

    #[test]
    fn a_walk_that_fails_stops_the_workers() {
        let queue = JobQueue::new(10);
        thread::scope(|s| {
            let worker = s.spawn(|| queue.pop().is_none());
            drop(StopOnDrop(&queue));
            assert!(worker.join().unwrap(), "the waiting worker stops");
        });
        assert!(!queue.push(job(1)), "nothing more is queued");
    }
}
