//! The engine alone, for profiling the pipeline without the CLI or a server: one backup of SOURCE
//! into a fresh local repository at REPO (emptied first), timed.
//!
//! ```text
//! cargo run --release -p munishare-backup --example backup_local -- SOURCE REPO
//! ```
//!
//! Prints `seconds=`, `mb_per_s=` (decimal megabytes read per second), `packed=` and `files=`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use munishare_backup::backend::LocalBackend;
use munishare_backup::backup::{BackupOptions, Progress, backup};
use munishare_backup::crypto::KdfParams;
use munishare_backup::exclude::Excludes;
use munishare_backup::repo::Repository;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, repo] = args.as_slice() else {
        return Err("usage: backup_local SOURCE REPO".into());
    };
    let repo_dir = PathBuf::from(repo);
    let _ = std::fs::remove_dir_all(&repo_dir);
    let (mut repo, _) = Repository::init(
        Arc::new(LocalBackend::new(&repo_dir)),
        "bench",
        KdfParams::DEFAULT,
        "bench@localhost",
        "2026-11-27T00:00:00Z",
    )?;
    let options = BackupOptions {
        paths: vec![PathBuf::from(source)],
        host: "bench".into(),
        tags: Vec::new(),
        excludes: Excludes::default(),
        dry_run: false,
        parent: None,
        force: false,
        upload_limit: None,
        time: "2026-11-27T02:00:00Z".into(),
        workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
    };
    let started = Instant::now();
    let run = backup(&mut repo, &options, &Arc::new(Progress::default()))?;
    let secs = started.elapsed().as_secs_f64();
    let s = &run.summary;
    println!("seconds={secs:.3}");
    println!("mb_per_s={:.1}", s.bytes_read as f64 / secs / 1e6);
    println!("packed={}", s.packed_added);
    println!("files={}", s.files_new);
    Ok(())
}
