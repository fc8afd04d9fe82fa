//! The engine end to end on a local repository: round trip, incremental, resume after an
//! interrupted run, damage found by `check --read-data` and survived by restore, keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use munishare_backup::backend::{Backend, LocalBackend, ObjectKind, Put};
use munishare_backup::backup::{BackupOptions, Progress, backup};
use munishare_backup::check::check;
use munishare_backup::crypto::{KdfParams, Secret};
use munishare_backup::exclude::Excludes;
use munishare_backup::repo::Repository;
use munishare_backup::restore::{RestoreProgress, restore};
use munishare_backup::{Error, Result};

const CHEAP: KdfParams = KdfParams {
    m: 1024,
    t: 1,
    p: 1,
};
const NOW: &str = "2026-11-27T02:00:00Z";

/// Deterministic bytes: text-like when `text`, else incompressible.
fn bytes(seed: &str, len: usize, text: bool) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    if text {
        const WORDS: [&str; 8] = [
            "assessor ",
            "grand list ",
            "mill rate ",
            "parcel ",
            "town clerk ",
            "levy ",
            "abatement ",
            "fund ",
        ];
        let mut s = Vec::with_capacity(len);
        let mut i = 0;
        while s.len() < len {
            s.extend_from_slice(WORDS[usize::from(out[i % len]) % 8].as_bytes());
            i += 1;
        }
        s.truncate(len);
        return s;
    }
    out
}

fn corpus(root: &Path) {
    fs::create_dir_all(root.join("finance/2026")).unwrap();
    fs::create_dir_all(root.join("assessor/photos")).unwrap();
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::write(
        root.join("finance/2026/ledger.csv"),
        bytes("ledger", 3_000_000, true),
    )
    .unwrap();
    fs::write(
        root.join("finance/2026/budget.txt"),
        bytes("budget", 70_000, true),
    )
    .unwrap();
    fs::write(
        root.join("assessor/photos/1-1-9.jpg"),
        bytes("photo", 2_500_000, false),
    )
    .unwrap();
    fs::write(
        root.join("assessor/copy-of-photo.jpg"),
        bytes("photo", 2_500_000, false),
    )
    .unwrap();
    fs::write(root.join("empty.txt"), b"").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::os::unix::fs::symlink("finance/2026/ledger.csv", root.join("latest-ledger")).unwrap();
        fs::write(
            root.join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt")),
            b"latin-1 name",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(
            root.join("finance/2026/budget.txt"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
}

fn options(paths: Vec<PathBuf>) -> BackupOptions {
    BackupOptions {
        paths,
        host: "fs01".into(),
        tags: vec!["nightly".into()],
        excludes: Excludes::default(),
        dry_run: false,
        parent: None,
        force: false,
        upload_limit: None,
        time: NOW.into(),
        workers: 2,
    }
}

fn init(dir: &Path) -> (Repository, String) {
    Repository::init(
        Arc::new(LocalBackend::new(dir)),
        "correct horse",
        CHEAP,
        "it@fs01",
        NOW,
    )
    .unwrap()
}

fn open(dir: &Path) -> Repository {
    Repository::open(
        Arc::new(LocalBackend::new(dir)),
        Secret::Passphrase("correct horse"),
    )
    .unwrap()
}

/// Every file under `root` with a hash of its bytes (and mode on Unix), for comparison.
fn listing(root: &Path) -> Vec<(String, String, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let meta = fs::symlink_metadata(e.path()).unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            #[cfg(unix)]
            let mode = std::os::unix::fs::MetadataExt::mode(&meta);
            #[cfg(not(unix))]
            let mode = 0;
            if meta.is_dir() {
                out.push((rel, String::new(), mode));
                stack.push(e.path());
            } else if meta.is_symlink() {
                out.push((
                    rel,
                    fs::read_link(e.path())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                    0,
                ));
            } else {
                out.push((
                    rel,
                    blake3::hash(&fs::read(e.path()).unwrap())
                        .to_hex()
                        .to_string(),
                    mode,
                ));
            }
        }
    }
    out.sort();
    out
}

fn assert_same_tree(restored: &Path, source: &Path) {
    let (a, b) = (listing(restored), listing(source));
    let only_restored: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_source: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
    assert!(
        only_restored.is_empty() && only_source.is_empty(),
        "restored only: {only_restored:?}\nsource only: {only_source:?}"
    );
}

fn restored_root(target: &Path, source: &Path) -> PathBuf {
    let mut p = target.to_path_buf();
    for c in source.components() {
        if let std::path::Component::Normal(part) = c {
            p.push(part);
        }
    }
    p
}

#[test]
fn backup_restore_round_trip_and_incremental() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, repo_dir, target) = (
        tmp.path().join("src"),
        tmp.path().join("repo"),
        tmp.path().join("restore"),
    );
    corpus(&src);
    let (mut repo, _) = init(&repo_dir);
    let first = backup(
        &mut repo,
        &options(vec![src.clone()]),
        &Arc::new(Progress::default()),
    )
    .unwrap();
    let s = &first.summary;
    assert_eq!(
        (s.files_new, s.files_changed, s.files_unchanged),
        (if cfg!(unix) { 6 } else { 5 }, 0, 0)
    );
    let logical: u64 = 3_000_000 + 70_000 + 2 * 2_500_000 + if cfg!(unix) { 12 } else { 0 };
    assert_eq!(s.logical_bytes, logical);
    // The copied photo deduplicates: its 2.5 MB are stored once.
    assert!(
        s.plain_added < logical - 2_400_000,
        "plain added {}",
        s.plain_added
    );
    // Text compresses: what was stored is less than half the text plus the photo, plus overhead.
    assert!(
        s.packed_added < 2_500_000 + 1_600_000,
        "packed {}",
        s.packed_added
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);

    let repo = open(&repo_dir);
    let (name, snapshot) = repo.find_snapshot("latest", None).unwrap();
    assert_eq!(Some(name.clone()), first.snapshot);
    let summary = restore(
        &repo,
        &snapshot,
        &[],
        &target,
        2,
        &RestoreProgress::default(),
    )
    .unwrap();
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert_same_tree(&restored_root(&target, &src), &src);
    assert!(check(&repo, true, None).unwrap().is_clean());

    // Day 2: a few KiB inserted in the middle of the ledger; everything else unchanged.
    let ledger = src.join("finance/2026/ledger.csv");
    let mut content = fs::read(&ledger).unwrap();
    content.splice(1_500_000..1_500_000, bytes("insert", 4096, true));
    fs::write(&ledger, &content).unwrap();
    let mut repo = open(&repo_dir);
    let day2 = BackupOptions {
        time: "2026-11-28T02:00:00Z".into(),
        ..options(vec![src.clone()])
    };
    let second = backup(&mut repo, &day2, &Arc::new(Progress::default())).unwrap();
    let s = &second.summary;
    assert_eq!(second.parent, first.snapshot);
    assert_eq!((s.files_new, s.files_changed), (0, 1));
    assert_eq!(s.files_unchanged, if cfg!(unix) { 5 } else { 4 });
    assert_eq!(s.bytes_read, 3_004_096, "only the changed file is read");
    // Content-defined chunks: the ledger is ~3 chunks; at most the two around the insert are new
    // (plus the trees along its path).
    let trees_len: u64 = 20_000;
    assert!(
        s.plain_added <= 2 * 8 * 1024 * 1024 && s.plain_added < 3_004_096 + trees_len,
        "plain added {}",
        s.plain_added
    );

    let repo = open(&repo_dir);
    let (latest_name, latest) = repo.find_snapshot("latest", None).unwrap();
    assert_eq!(Some(latest_name), second.snapshot);
    let target2 = tmp.path().join("restore2");
    restore(
        &repo,
        &latest,
        &[],
        &target2,
        2,
        &RestoreProgress::default(),
    )
    .unwrap();
    assert_same_tree(&restored_root(&target2, &src), &src);

    // Partial restore: one directory only.
    let target3 = tmp.path().join("restore3");
    let only = format!("{}/assessor", src.to_string_lossy());
    let partial = restore(
        &repo,
        &latest,
        &[only],
        &target3,
        2,
        &RestoreProgress::default(),
    )
    .unwrap();
    assert_eq!(partial.files, 2);
    assert!(
        restored_root(&target3, &src)
            .join("assessor/photos/1-1-9.jpg")
            .exists()
    );
    assert!(!restored_root(&target3, &src).join("finance").exists());
}

/// A local backend that stops accepting packs after `allow` of them, as a client killed mid-run.
#[derive(Debug)]
struct Interrupted {
    inner: LocalBackend,
    allow: usize,
    packs: AtomicUsize,
}

impl Backend for Interrupted {
    fn get(&self, kind: ObjectKind, name: &str) -> Result<Vec<u8>> {
        self.inner.get(kind, name)
    }
    fn get_range(
        &self,
        kind: ObjectKind,
        name: &str,
        offset: Option<u64>,
        len: u64,
    ) -> Result<Vec<u8>> {
        self.inner.get_range(kind, name, offset, len)
    }
    fn put(&self, kind: ObjectKind, name: &str, bytes: &[u8]) -> Result<Put> {
        if kind == ObjectKind::Data && self.packs.fetch_add(1, Ordering::SeqCst) >= self.allow {
            return Err(Error::Backend("connection lost".into()));
        }
        self.inner.put(kind, name, bytes)
    }
    fn list(&self, kind: ObjectKind) -> Result<Vec<(String, u64)>> {
        self.inner.list(kind)
    }
    fn remove(&self, kind: ObjectKind, name: &str) -> Result<()> {
        self.inner.remove(kind, name)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[test]
fn an_interrupted_backup_resumes_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, repo_dir) = (tmp.path().join("src"), tmp.path().join("repo"));
    fs::create_dir_all(&src).unwrap();
    // 40 MB of incompressible files: three packs of 16 MiB.
    for i in 0..8 {
        fs::write(
            src.join(format!("scan-{i}.pdf")),
            bytes(&format!("scan{i}"), 5_000_000, false),
        )
        .unwrap();
    }
    init(&repo_dir);
    let backend = Arc::new(Interrupted {
        inner: LocalBackend::new(&repo_dir),
        allow: 1,
        packs: AtomicUsize::new(0),
    });
    let mut repo = Repository::open(backend, Secret::Passphrase("correct horse")).unwrap();
    let err = backup(
        &mut repo,
        &options(vec![src.clone()]),
        &Arc::new(Progress::default()),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "connection lost");
    let local = LocalBackend::new(&repo_dir);
    assert_eq!(
        local.list(ObjectKind::Data).unwrap().len(),
        1,
        "one pack made it"
    );
    assert!(
        local.list(ObjectKind::Snapshots).unwrap().is_empty()
            && local.list(ObjectKind::Index).unwrap().is_empty()
    );

    // The rerun reads the orphan pack's header and reuses its blobs.
    let mut repo = open(&repo_dir);
    assert!(
        repo.index().len() >= 10,
        "the orphan pack's blobs are known: {}",
        repo.index().len()
    );
    let rerun = backup(
        &mut repo,
        &options(vec![src.clone()]),
        &Arc::new(Progress::default()),
    )
    .unwrap();
    assert!(
        rerun.summary.plain_added <= 40_000_000 - 16_000_000,
        "reused: added {}",
        rerun.summary.plain_added
    );
    let stored: u64 = local
        .list(ObjectKind::Data)
        .unwrap()
        .iter()
        .map(|(_, size)| size)
        .sum();
    assert!(
        stored < 40_000_000 + 100_000,
        "no duplicate data: {stored} bytes of packs"
    );
    let report = check(&open(&repo_dir), true, None).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

#[test]
fn damage_is_found_and_undamaged_files_still_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, repo_dir) = (tmp.path().join("src"), tmp.path().join("repo"));
    fs::create_dir_all(&src).unwrap();
    for i in 0..5 {
        fs::write(
            src.join(format!("deed-{i}.tif")),
            bytes(&format!("deed{i}"), 7_000_000, false),
        )
        .unwrap();
    }
    let (mut repo, _) = init(&repo_dir);
    backup(
        &mut repo,
        &options(vec![src.clone()]),
        &Arc::new(Progress::default()),
    )
    .unwrap();
    let local = LocalBackend::new(&repo_dir);
    let packs = local.list(ObjectKind::Data).unwrap();
    // 35 MB of incompressible data: packs are closed once past 16 MiB.
    assert!(packs.len() >= 2, "{packs:?}");
    // Flip a byte inside the first blob of a pack that starts with file data (the last pack may
    // hold only the trees, whose damage the structure check would rightly report).
    let before = open(&repo_dir);
    let (damaged, _) = packs
        .iter()
        .find(|(name, size)| {
            let id = munishare_backup::hex::decode_array::<32>(name).unwrap();
            let entries = before.read_pack_header(&id, *size).unwrap();
            entries[0].kind == munishare_backup::crypto::Kind::Data
                && entries[0].offset == 0
                && entries[0].length > 1000
        })
        .expect("a pack that starts with file data");
    let path = repo_dir.join("data").join(&damaged[..2]).join(damaged);
    let mut pack = fs::read(&path).unwrap();
    pack[1000] ^= 0xff;
    fs::write(&path, &pack).unwrap();

    let repo = open(&repo_dir);
    assert!(
        check(&repo, false, None).unwrap().is_clean(),
        "structure alone does not read the data"
    );
    let report = check(&repo, true, None).unwrap();
    assert_eq!(
        report.damaged_packs.iter().collect::<Vec<_>>(),
        vec![damaged]
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&format!("data/{damaged}"))),
        "{:?}",
        report.problems
    );
    assert_eq!(
        report.affected_files.len(),
        1,
        "{:?}",
        report.affected_files
    );
    // Which file's chunk came first in the pack depends on the workers' order.
    let hit = report.affected_files.iter().next().unwrap().clone();
    let damaged_file = (0..5)
        .find(|i| hit.ends_with(&format!("/deed-{i}.tif")))
        .unwrap();

    let (_, snapshot) = repo.find_snapshot("latest", None).unwrap();
    let target = tmp.path().join("restore");
    let summary = restore(
        &repo,
        &snapshot,
        &[],
        &target,
        2,
        &RestoreProgress::default(),
    )
    .unwrap();
    assert_eq!(summary.files, 4);
    assert_eq!(summary.errors.len(), 1);
    assert!(
        summary.errors[0].contains(&format!("deed-{damaged_file}.tif"))
            && summary.errors[0].contains("damaged"),
        "{:?}",
        summary.errors
    );
    let root = restored_root(&target, &src);
    for i in (0..5).filter(|&i| i != damaged_file) {
        assert_eq!(
            fs::read(root.join(format!("deed-{i}.tif"))).unwrap(),
            bytes(&format!("deed{i}"), 7_000_000, false)
        );
    }
}

#[test]
fn keys_wrong_passphrase_recovery_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    let (_, recovery) = init(&repo_dir);
    let err = Repository::open(
        Arc::new(LocalBackend::new(&repo_dir)),
        Secret::Passphrase("tr0ub4dor"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::WrongPassphrase), "{err}");
    assert_eq!(
        err.to_string(),
        "wrong passphrase: no key of the repository opens with it"
    );

    // The printed recovery key opens it and adds a new passphrase; the old one can then be removed.
    let repo = Repository::open(
        Arc::new(LocalBackend::new(&repo_dir)),
        Secret::Recovery(&recovery),
    )
    .unwrap();
    repo.add_key(
        Secret::Passphrase("new passphrase"),
        CHEAP,
        "clerk@fs01",
        NOW,
    )
    .unwrap();
    let repo = Repository::open(
        Arc::new(LocalBackend::new(&repo_dir)),
        Secret::Passphrase("new passphrase"),
    )
    .unwrap();
    let keys = repo.keys_list().unwrap();
    assert_eq!(keys.len(), 3);
    let current = keys.iter().find(|k| k.current).unwrap();
    assert!(
        repo.remove_key(&current.id)
            .unwrap_err()
            .to_string()
            .contains("opened the repository with")
    );
    let old = keys.iter().find(|k| k.label == "it@fs01").unwrap();
    repo.remove_key(&old.id).unwrap();
    assert!(matches!(
        Repository::open(
            Arc::new(LocalBackend::new(&repo_dir)),
            Secret::Passphrase("correct horse")
        )
        .unwrap_err(),
        Error::WrongPassphrase
    ));

    // A second init on the same place is refused; a missing repository says so.
    let err =
        Repository::init(Arc::new(LocalBackend::new(&repo_dir)), "x", CHEAP, "x", NOW).unwrap_err();
    assert!(
        err.to_string().contains("already holds a repository"),
        "{err}"
    );
    let err = Repository::open(
        Arc::new(LocalBackend::new(tmp.path().join("nothing"))),
        Secret::Passphrase("x"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("holds no repository"), "{err}");
}

mod properties {
    use super::*;
    use munishare_backup::crypto::{Keys, Kind};
    use munishare_backup::pack::{BlobSealer, Entry, open_blob};
    use proptest::prelude::*;

    fn chunks(data: &[u8]) -> Vec<(usize, usize)> {
        fastcdc::v2020::FastCDC::new(data, 16 * 1024, 64 * 1024, 256 * 1024)
            .map(|c| (c.offset, c.length))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn seal_and_open_round_trip(data in proptest::collection::vec(any::<u8>(), 0..200_000), text in any::<bool>()) {
            let keys = Keys::generate().unwrap();
            let data = if text { bytes(&format!("{}", data.len()), data.len(), true) } else { data };
            let mut sealer = BlobSealer::new().unwrap();
            let id = keys.blob_id(&data);
            let sealed = sealer.seal(&keys, Kind::Data, &id, &data).unwrap();
            let entry = Entry { kind: Kind::Data, id, offset: 0, length: sealed.len() as u32, plain_len: data.len() as u32 };
            prop_assert_eq!(open_blob(&keys, &entry, &sealed, "t").unwrap(), data);
        }

        /// Always: the chunks that change are one run that starts at the insert (everything
        /// before it is cut as before) and ends where the chunker falls back in step (everything
        /// after is cut as before).
        #[test]
        fn an_insert_changes_one_run_of_chunks_at_the_insert(seed in any::<u64>(), at in 0.1f64..0.9, len in 1usize..5000) {
            let data = bytes(&seed.to_string(), 2_000_000, seed % 2 == 0);
            let pos = (data.len() as f64 * at) as usize;
            let new = new_chunks(&data, pos, len);
            prop_assert!(!new.is_empty());
            let (first, last) = (new[0].0, new[new.len() - 1].0);
            prop_assert_eq!(last - first + 1, new.len(), "the new chunks are one run");
            let (offset, length) = new[0].1;
            prop_assert!(offset <= pos && offset + length >= pos, "the run starts at the insert");
        }
    }

    /// The chunks of `data` with `len` bytes inserted at `pos` that `data` does not have, with
    /// their positions in the new chunk list.
    fn new_chunks(data: &[u8], pos: usize, len: usize) -> Vec<(usize, (usize, usize))> {
        let mut changed = data.to_vec();
        changed.splice(pos..pos, bytes(&format!("ins{pos}"), len, false));
        let before: std::collections::HashSet<&[u8]> = chunks(data)
            .into_iter()
            .map(|(o, l)| &data[o..o + l])
            .collect();
        chunks(&changed)
            .into_iter()
            .enumerate()
            .filter(|&(_, (o, l))| !before.contains(&changed[o..o + l]))
            .collect()
    }

    /// How long the run is depends on the data (content-defined chunking gives no hard bound),
    /// so it is measured over 200 fixed inserts into text and into random bytes: most change one
    /// or two chunks of some thirty, and none changes more than eight.
    #[test]
    fn inserts_change_only_a_few_nearby_chunks() {
        let mut runs = Vec::new();
        for i in 0..200usize {
            let data = bytes(&format!("corpus{i}"), 2_000_000, i % 2 == 0);
            let pos = 200_000 + (i * 7_919) % 1_600_000;
            runs.push(new_chunks(&data, pos, 1 + (i * 31) % 5000).len());
        }
        let short = runs.iter().filter(|&&n| n <= 2).count();
        assert!(
            short >= 150,
            "{short} of 200 inserts changed at most two chunks: {runs:?}"
        );
        assert!(runs.iter().all(|&n| n <= 8), "{runs:?}");
    }
}

/// Extended attributes of files and directories are kept and restored, including bytes that are
/// not text; a change to an attribute alone reaches the next snapshot.
#[cfg(unix)]
#[test]
fn extended_attributes_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, repo_dir) = (tmp.path().join("src"), tmp.path().join("repo"));
    fs::create_dir_all(src.join("finance")).unwrap();
    let (file, plain) = (src.join("finance/ledger.csv"), src.join("notes.txt"));
    fs::write(&file, b"fund,amount\n1000,12.50\n").unwrap();
    fs::write(&plain, b"no attributes").unwrap();
    xattr::set(&file, "user.checksum", b"sha256:abc").unwrap();
    xattr::set(&file, "user.binary", &[0u8, 255, 1]).unwrap();
    xattr::set(src.join("finance"), "user.department", b"Finance").unwrap();

    let (mut repo, _) = init(&repo_dir);
    backup(
        &mut repo,
        &options(vec![src.clone()]),
        &Arc::new(Progress::default()),
    )
    .unwrap();
    let restore_latest = |target: &Path| {
        let repo = open(&repo_dir);
        let (_, snapshot) = repo.find_snapshot("latest", None).unwrap();
        let summary = restore(
            &repo,
            &snapshot,
            &[],
            target,
            2,
            &RestoreProgress::default(),
        )
        .unwrap();
        assert!(summary.errors.is_empty(), "{:?}", summary.errors);
        restored_root(target, &src)
    };
    let root = restore_latest(&tmp.path().join("restore"));
    let get = |p: &Path, name: &str| xattr::get(p, name).unwrap();
    let f = root.join("finance/ledger.csv");
    assert_eq!(get(&f, "user.checksum"), Some(b"sha256:abc".to_vec()));
    assert_eq!(get(&f, "user.binary"), Some(vec![0u8, 255, 1]));
    assert_eq!(
        get(&root.join("finance"), "user.department"),
        Some(b"Finance".to_vec())
    );
    assert_eq!(xattr::list(root.join("notes.txt")).unwrap().count(), 0);

    // Only an attribute changes.
    xattr::set(&file, "user.checksum", b"sha256:def").unwrap();
    xattr::remove(&file, "user.binary").unwrap();
    let mut repo = open(&repo_dir);
    backup(
        &mut repo,
        &BackupOptions {
            time: "2026-11-28T02:00:00Z".into(),
            ..options(vec![src.clone()])
        },
        &Arc::new(Progress::default()),
    )
    .unwrap();
    let f = restore_latest(&tmp.path().join("restore2")).join("finance/ledger.csv");
    assert_eq!(get(&f, "user.checksum"), Some(b"sha256:def".to_vec()));
    assert_eq!(get(&f, "user.binary"), None);
}
