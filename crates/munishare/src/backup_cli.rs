//! The backup client's commands (`munishare init | backup | snapshots | ls | diff | restore | check |
//! drill | key`), on a local repository (`--repo`) or the council's server (`--server` + `--token`).
//! The engine is `munishare-backup`; this file parses options, shows progress and prints summaries.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use munishare_backup::backend::{Backend, LocalBackend};
use munishare_backup::backup::{BackupOptions, Progress, backup};
use munishare_backup::check::check;
use munishare_backup::crypto::{KdfParams, Secret};
use munishare_backup::exclude::Excludes;
use munishare_backup::repo::{Repository, Snapshot};
use munishare_backup::restore::{RestoreProgress, restore};
use munishare_backup::tree::{Node, NodeKind, Tree, parse_id};

use crate::backup_http::HttpBackend;

/// Where the repository is and how to open it.
#[derive(Debug, Clone, Args)]
pub struct RepoArgs {
    /// A local repository directory.
    #[arg(long, env = "MUNISHARE_REPO", conflicts_with = "server")]
    repo: Option<PathBuf>,
    /// The council's backup server (e.g. https://backup.crcog.example).
    #[arg(long, env = "MUNISHARE_BACKUP_SERVER", requires = "token")]
    server: Option<String>,
    /// A backup token from the town's backup page (scoped to the town, repository and host).
    #[arg(long, env = "MUNISHARE_BACKUP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding the passphrase (else MUNISHARE_BACKUP_PASSWORD).
    #[arg(long, env = "MUNISHARE_BACKUP_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
}

/// The backup client's commands.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Create a repository and print its recovery key (shown once: print it and keep it safe).
    Init(RepoArgs),
    /// Back up files and directories.
    Backup(BackupArgs),
    /// List snapshots.
    Snapshots {
        #[command(flatten)]
        repo: RepoArgs,
        /// Only this host's.
        #[arg(long)]
        host: Option<String>,
    },
    /// List the files of a snapshot (`latest` or an id prefix), optionally under a path.
    Ls {
        #[command(flatten)]
        repo: RepoArgs,
        /// Snapshot.
        snapshot: String,
        /// Only under this path.
        path: Option<String>,
    },
    /// Show what changed between two snapshots.
    Diff {
        #[command(flatten)]
        repo: RepoArgs,
        /// The older snapshot.
        from: String,
        /// The newer snapshot.
        to: String,
    },
    /// Restore a snapshot, whole or some paths, verifying every chunk.
    Restore {
        #[command(flatten)]
        repo: RepoArgs,
        /// Snapshot (`latest` or an id prefix).
        snapshot: String,
        /// Only these paths (as `ls` shows them).
        paths: Vec<String>,
        /// Where to restore (created if missing).
        #[arg(long)]
        target: PathBuf,
    },
    /// Check the repository's structure, and with --read-data every byte.
    Check {
        #[command(flatten)]
        repo: RepoArgs,
        /// Read and verify every pack.
        #[arg(long)]
        read_data: bool,
        /// Read only the packs of subset N of M (e.g. 1/10), for restore drills.
        #[arg(long, value_name = "N/M")]
        read_data_subset: Option<String>,
    },
    /// Restore drill: read a sample of the packs (every blob verified), restore sample files from
    /// the newest snapshot into a scratch directory, and report to the server as evidence.
    Drill {
        #[command(flatten)]
        repo: RepoArgs,
        /// The packs to read: subset N of M (default: a tenth, rotating daily, so ten days of
        /// drills read every pack).
        #[arg(long, value_name = "N/M")]
        subset: Option<String>,
        /// How many files to restore from the newest snapshot (spread over it).
        #[arg(long, default_value_t = 20)]
        files: usize,
        /// Where to restore them (must not exist; removed afterwards). Default: under the
        /// system's temporary directory.
        #[arg(long)]
        scratch: Option<PathBuf>,
    },
    /// Manage the repository's keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// `key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add a passphrase (read from MUNISHARE_BACKUP_NEW_PASSWORD or --new-password-file).
    Add {
        #[command(flatten)]
        repo: RepoArgs,
        /// File holding the new passphrase.
        #[arg(long)]
        new_password_file: Option<PathBuf>,
    },
    /// List the keys.
    List(RepoArgs),
    /// Remove a key (a local repository's; on the server a town administrator removes keys on the town's backup page).
    Remove {
        #[command(flatten)]
        repo: RepoArgs,
        /// The key's id.
        id: String,
    },
    /// Open with the printed recovery key (MUNISHARE_BACKUP_RECOVERY_KEY) and add a new passphrase.
    Recover {
        #[command(flatten)]
        repo: RepoArgs,
        /// File holding the new passphrase.
        #[arg(long)]
        new_password_file: Option<PathBuf>,
    },
}

/// `backup` options.
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Files and directories to back up.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Host name to record (default: this machine's).
    #[arg(long)]
    host: Option<String>,
    /// Tag the snapshot (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Exclude paths matching a pattern (repeatable; `*`, `?`, `**`).
    #[arg(long = "exclude", short = 'e')]
    excludes: Vec<String>,
    /// Do not cross into other file systems.
    #[arg(long, short = 'x')]
    one_file_system: bool,
    /// Skip directories holding a CACHEDIR.TAG.
    #[arg(long)]
    exclude_caches: bool,
    /// Read everything and report what would be added; write nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
    /// Upload at most this many KiB per second.
    #[arg(long, value_name = "KiB/s")]
    limit_upload: Option<u64>,
    /// Read every file even when the parent snapshot says it is unchanged.
    #[arg(long)]
    force: bool,
    /// The parent snapshot (default: the latest of this host with the same paths).
    #[arg(long)]
    parent: Option<String>,
}

/// Runs a client command (blocking: call it off the async runtime). Returns the exit code.
pub fn run(command: BackupCommand) -> Result<i32> {
    match command {
        BackupCommand::Init(args) => {
            let backend = backend(&args)?;
            let passphrase = passphrase(&args)?;
            let (repo, recovery) =
                Repository::init(backend, &passphrase, KdfParams::DEFAULT, &label(), &now())?;
            println!(
                "Created repository {} at {}.",
                repo.config().id,
                repo.backend().describe()
            );
            println!();
            println!("Recovery key (shown once; print it and keep it with the town's records):");
            println!();
            println!("    {recovery}");
            println!();
            println!("With it, `munishare key recover` adds a new passphrase if this one is lost.");
            Ok(0)
        }
        BackupCommand::Backup(args) => run_backup(args),
        BackupCommand::Snapshots { repo, host } => {
            let repo = open(&repo)?;
            println!(
                "{:<10} {:<20} {:<12} {:<20} {:>12}  paths",
                "id", "time (UTC)", "host", "tags", "size"
            );
            let mut n = 0;
            for (name, s) in repo.snapshots()? {
                if host.as_deref().is_some_and(|h| h != s.host) {
                    continue;
                }
                n += 1;
                println!(
                    "{:<10} {:<20} {:<12} {:<20} {:>12}  {}",
                    &name[..8],
                    s.time.get(..19).unwrap_or(&s.time).replace('T', " "),
                    s.host,
                    s.tags.join(","),
                    bytes(s.summary.logical_bytes),
                    s.paths.join(" ")
                );
            }
            println!("{n} snapshot(s)");
            Ok(0)
        }
        BackupCommand::Ls {
            repo,
            snapshot,
            path,
        } => {
            let repo = open(&repo)?;
            let (_, snap) = repo.find_snapshot(&snapshot, None)?;
            let mut out = std::io::stdout().lock();
            walk(&repo, &snap, &mut |p, node| {
                if path.as_deref().is_none_or(|f| {
                    p == f || p.starts_with(&format!("{}/", f.trim_end_matches('/')))
                }) {
                    let _ = writeln!(out, "{} {:>12}  {}", kind_letter(node), node.size, p);
                }
            })?;
            Ok(0)
        }
        BackupCommand::Diff { repo, from, to } => {
            let repo = open(&repo)?;
            let a = listing(&repo, &repo.find_snapshot(&from, None)?.1)?;
            let b = listing(&repo, &repo.find_snapshot(&to, None)?.1)?;
            let (mut added, mut removed, mut modified) = (0, 0, 0);
            for (path, node) in &b {
                match a.get(path) {
                    None => {
                        added += 1;
                        println!("+ {path}");
                    }
                    Some(old)
                        if old.content != node.content
                            || old.mode != node.mode
                            || old.target != node.target =>
                    {
                        modified += 1;
                        println!("M {path}");
                    }
                    Some(_) => {}
                }
            }
            for path in a.keys().filter(|p| !b.contains_key(*p)) {
                removed += 1;
                println!("- {path}");
            }
            println!("{added} added, {removed} removed, {modified} modified");
            Ok(0)
        }
        BackupCommand::Restore {
            repo,
            snapshot,
            paths,
            target,
        } => {
            let repo = open(&repo)?;
            let (name, snap) = repo.find_snapshot(&snapshot, None)?;
            let progress = Arc::new(RestoreProgress::default());
            let started = Instant::now();
            let stop = show_restore_progress(&progress);
            let summary = restore(&repo, &snap, &paths, &target, workers(), &progress);
            stop.store(true, Ordering::Relaxed);
            let summary = summary?;
            let secs = started.elapsed().as_secs_f64().max(0.001);
            eprintln!();
            println!(
                "Restored snapshot {} to {}: {} files, {} directories, {} in {:.1} s ({}/s); every chunk verified.",
                &name[..8],
                target.display(),
                summary.files,
                summary.dirs,
                bytes(summary.bytes),
                secs,
                bytes((summary.bytes as f64 / secs) as u64)
            );
            for e in &summary.errors {
                println!("NOT RESTORED {e}");
            }
            Ok(if summary.errors.is_empty() { 0 } else { 3 })
        }
        BackupCommand::Check {
            repo,
            read_data,
            read_data_subset,
        } => {
            let repo = open(&repo)?;
            let sample = read_data_subset.as_deref().map(parse_subset).transpose()?;
            let report = check(&repo, read_data || sample.is_some(), sample)?;
            println!(
                "{} snapshot(s), {} blob(s) indexed; {} pack(s) read ({}).",
                report.snapshots,
                repo.index().len(),
                report.packs.len(),
                bytes(report.bytes_read)
            );
            for p in &report.problems {
                println!("ERROR {p}");
            }
            for pack in &report.damaged_packs {
                println!("DAMAGED PACK data/{pack}");
            }
            for f in &report.affected_files {
                println!("AFFECTED FILE {f}");
            }
            if report.is_clean() {
                println!("No errors were found.");
                Ok(0)
            } else {
                Ok(1)
            }
        }
        BackupCommand::Drill {
            repo,
            subset,
            files,
            scratch,
        } => drill(&repo, subset.as_deref(), files, scratch),
        BackupCommand::Key(cmd) => key(cmd),
    }
}

/// `drill`: check a sample, restore sample files, report (on a server) — exit 1 if anything failed.
fn drill(
    args: &RepoArgs,
    subset: Option<&str>,
    files: usize,
    scratch: Option<PathBuf>,
) -> Result<i32> {
    let started_at = now();
    let repo = open(args)?;
    let (n, m) = match subset {
        Some(text) => parse_subset(text)?,
        None => {
            let day = time::OffsetDateTime::now_utc()
                .unix_timestamp()
                .div_euclid(86_400);
            (usize::try_from(day.rem_euclid(10)).unwrap_or(0), 10)
        }
    };
    let report = check(&repo, true, Some((n, m)))?;
    let mut problems = report.problems.clone();
    println!(
        "Subset {}/{m}: {} pack(s) read ({}), every blob verified; {} snapshot(s) checked.",
        n + 1,
        report.packs.len(),
        bytes(report.bytes_read),
        report.snapshots
    );
    let (mut restored, mut restored_bytes, mut snapshot) = (0u64, 0u64, None);
    if files > 0 && report.snapshots > 0 {
        let (name, snap) = repo.find_snapshot("latest", None)?;
        let mut all = Vec::new();
        walk(&repo, &snap, &mut |p, node| {
            if node.kind == NodeKind::File && node.name_raw.is_none() {
                all.push((p.to_owned(), node.size));
            }
        })?;
        let chosen: Vec<(String, u64)> = if all.len() <= files {
            all
        } else {
            (0..files)
                .map(|i| all[i * all.len() / files].clone())
                .collect()
        };
        let target = scratch.unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "munishare-drill-{}-{}",
                std::process::id(),
                time::OffsetDateTime::now_utc().unix_timestamp_nanos()
            ))
        });
        if target.exists() {
            bail!(
                "--scratch {}: it exists; give a path that does not",
                target.display()
            );
        }
        let paths: Vec<String> = chosen.iter().map(|(p, _)| p.clone()).collect();
        let summary = restore(
            &repo,
            &snap,
            &paths,
            &target,
            workers(),
            &RestoreProgress::default(),
        );
        match summary {
            Ok(s) => problems.extend(s.errors.iter().map(|e| format!("restore: {e}"))),
            Err(e) => problems.push(format!("restore: {e}")),
        }
        for (path, size) in &chosen {
            let mut file = target.clone();
            file.extend(path.split('/'));
            match std::fs::metadata(&file) {
                Ok(meta) if meta.len() == *size => {
                    restored += 1;
                    restored_bytes += size;
                }
                Ok(meta) => problems.push(format!(
                    "restore: {path} came back with {} bytes, not {size}",
                    meta.len()
                )),
                Err(e) => problems.push(format!("restore: {path} was not restored: {e}")),
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&target) {
            eprintln!(
                "warning: cannot remove the scratch directory {}: {e}",
                target.display()
            );
        }
        println!(
            "Restored {restored} of {} sample file(s) ({}) from snapshot {}, every chunk verified.",
            chosen.len(),
            bytes(restored_bytes),
            &name[..8]
        );
        snapshot = Some(name);
    }
    for p in &problems {
        println!("ERROR {p}");
    }
    if let (Some(server), Some(token)) = (&args.server, &args.token) {
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let sent = munishare_backup_server::drills::DrillReport {
            started_at,
            finished_at: now(),
            subset: format!("{}/{m}", n + 1),
            snapshots: as_i64(report.snapshots as u64),
            packs: report.packs.clone(),
            bytes_read: as_i64(report.bytes_read),
            snapshot,
            files_restored: as_i64(restored),
            bytes_restored: as_i64(restored_bytes),
            problems: problems.clone(),
        };
        HttpBackend::new(server, token)?.report_drill(&sent)?;
        println!("Reported to {server} as the town's restore-drill evidence.");
    }
    if problems.is_empty() {
        println!("Drill passed.");
        Ok(0)
    } else {
        println!("Drill FAILED: {} problem(s).", problems.len());
        Ok(1)
    }
}

fn run_backup(args: BackupArgs) -> Result<i32> {
    let mut repo = open(&args.repo)?;
    let options = BackupOptions {
        paths: args.paths,
        host: args.host.unwrap_or_else(hostname),
        tags: args.tags,
        excludes: Excludes {
            patterns: args.excludes,
            caches: args.exclude_caches,
            one_file_system: args.one_file_system,
        },
        dry_run: args.dry_run,
        parent: args.parent,
        force: args.force,
        upload_limit: args.limit_upload.map(|k| k.saturating_mul(1024)),
        time: now(),
        workers: workers(),
    };
    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let stop = show_backup_progress(&progress);
    let outcome = backup(&mut repo, &options, &progress);
    stop.store(true, Ordering::Relaxed);
    let outcome = outcome?;
    let s = &outcome.summary;
    let secs = started.elapsed().as_secs_f64().max(0.001);
    eprintln!();
    println!(
        "Files:     {} new, {} changed, {} unchanged",
        s.files_new, s.files_changed, s.files_unchanged
    );
    println!("Dirs:      {}", s.dirs);
    println!(
        "Read:      {} of {} in the snapshot",
        bytes(s.bytes_read),
        bytes(s.logical_bytes)
    );
    println!(
        "Added:     {} stored ({} before compression) in {} pack(s), {} new blob(s)",
        bytes(s.packed_added),
        bytes(s.plain_added),
        s.packs_added,
        s.blobs_added
    );
    for e in &s.errors {
        println!("SKIPPED   {e}");
    }
    let rate = bytes((s.logical_bytes as f64 / secs) as u64);
    match &outcome.snapshot {
        Some(name) => println!(
            "Snapshot {} saved (parent {}) in {:.1} s, {rate}/s.",
            &name[..8],
            outcome.parent.as_deref().map_or("none", |p| &p[..8]),
            secs
        ),
        None => println!("Dry run: nothing was written ({:.1} s).", secs),
    }
    // Like restic: 3 when some files could not be read (the snapshot is incomplete).
    Ok(if s.errors.is_empty() { 0 } else { 3 })
}

fn key(cmd: KeyCommand) -> Result<i32> {
    match cmd {
        KeyCommand::Add {
            repo,
            new_password_file,
        } => {
            let opened = open(&repo)?;
            let new = new_passphrase(new_password_file)?;
            let id = opened.add_key(
                Secret::Passphrase(&new),
                KdfParams::DEFAULT,
                &label(),
                &now(),
            )?;
            println!("Added key {id}.");
        }
        KeyCommand::List(repo) => {
            let opened = open(&repo)?;
            println!("  {:<32} {:<9} {:<25} label", "id", "kind", "created");
            for k in opened.keys_list()? {
                println!(
                    "{} {:<32} {:<9} {:<25} {}",
                    if k.current { "*" } else { " " },
                    k.id,
                    k.kdf,
                    k.created,
                    k.label
                );
            }
        }
        KeyCommand::Remove { repo, id } => {
            open(&repo)?.remove_key(&id)?;
            println!("Removed key {id}.");
        }
        KeyCommand::Recover {
            repo,
            new_password_file,
        } => {
            let recovery = std::env::var("MUNISHARE_BACKUP_RECOVERY_KEY")
                .context("set MUNISHARE_BACKUP_RECOVERY_KEY to the printed recovery key")?;
            let opened = Repository::open(backend(&repo)?, Secret::Recovery(&recovery))?;
            let new = new_passphrase(new_password_file)?;
            let id = opened.add_key(
                Secret::Passphrase(&new),
                KdfParams::DEFAULT,
                &label(),
                &now(),
            )?;
            println!("Opened with the recovery key; added passphrase key {id}.");
        }
    }
    Ok(0)
}

fn backend(args: &RepoArgs) -> Result<Arc<dyn Backend>> {
    match (&args.repo, &args.server, &args.token) {
        (Some(path), None, _) => Ok(Arc::new(LocalBackend::new(path))),
        (None, Some(server), Some(token)) => Ok(Arc::new(HttpBackend::new(server, token)?)),
        _ => bail!("give --repo PATH for a local repository, or --server URL and --token TOKEN"),
    }
}

fn open(args: &RepoArgs) -> Result<Repository> {
    let backend = backend(args)?;
    Ok(Repository::open(
        backend,
        Secret::Passphrase(&passphrase(args)?),
    )?)
}

fn passphrase(args: &RepoArgs) -> Result<String> {
    if let Some(file) = &args.password_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the password file {}", file.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_owned());
    }
    std::env::var("MUNISHARE_BACKUP_PASSWORD")
        .context("no passphrase: set MUNISHARE_BACKUP_PASSWORD or give --password-file FILE")
}

fn new_passphrase(file: Option<PathBuf>) -> Result<String> {
    match file {
        Some(f) => Ok(std::fs::read_to_string(&f)
            .with_context(|| format!("cannot read {}", f.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned()),
        None => std::env::var("MUNISHARE_BACKUP_NEW_PASSWORD").context(
            "no new passphrase: set MUNISHARE_BACKUP_NEW_PASSWORD or give --new-password-file FILE",
        ),
    }
}

fn parse_subset(text: &str) -> Result<(usize, usize)> {
    let parsed = text.split_once('/').and_then(|(n, m)| {
        Some((
            n.trim().parse::<usize>().ok()?,
            m.trim().parse::<usize>().ok()?,
        ))
    });
    match parsed {
        Some((n, m)) if n >= 1 && n <= m => Ok((n - 1, m)),
        _ => bail!("--read-data-subset: give N/M with 1 <= N <= M, e.g. 1/10"),
    }
}

fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn label() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "user".into());
    format!("{user}@{}", hostname())
}

fn kind_letter(node: &Node) -> char {
    match node.kind {
        NodeKind::Dir => 'd',
        NodeKind::File => '-',
        NodeKind::Symlink => 'l',
        NodeKind::Other => '?',
    }
}

/// Visits every node of a snapshot with its path.
fn walk(repo: &Repository, snap: &Snapshot, visit: &mut dyn FnMut(&str, &Node)) -> Result<()> {
    fn go(
        repo: &Repository,
        tree: &Tree,
        prefix: &str,
        visit: &mut dyn FnMut(&str, &Node),
    ) -> Result<()> {
        for node in &tree.nodes {
            let path = if prefix.is_empty() {
                node.display_name()
            } else {
                format!("{prefix}/{}", node.display_name())
            };
            visit(&path, node);
            if let Some(id) = node.subtree_id()? {
                go(repo, &repo.read_tree(&id)?, &path, visit)?;
            }
        }
        Ok(())
    }
    go(repo, &repo.read_tree(&parse_id(&snap.tree)?)?, "", visit)
}

fn listing(repo: &Repository, snap: &Snapshot) -> Result<std::collections::BTreeMap<String, Node>> {
    let mut out = std::collections::BTreeMap::new();
    walk(repo, snap, &mut |p, n| {
        out.insert(p.to_owned(), n.clone());
    })?;
    Ok(out)
}

/// Binary units, two decimals.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

fn clock(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A progress line on stderr twice a second while `stop` is false (only on a terminal).
fn ticker(line: impl Fn(Duration) -> String + Send + 'static) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    if std::io::stderr().is_terminal() {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                eprint!("\r\x1b[2K{}", line(started.elapsed()));
            }
        });
    }
    stop
}

fn show_backup_progress(p: &Arc<Progress>) -> Arc<AtomicBool> {
    let p = Arc::clone(p);
    ticker(move |elapsed| {
        let done = p.bytes_done.load(Ordering::Relaxed);
        let total = p.total_bytes.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let eta = if p.scan_done.load(Ordering::Relaxed) && rate > 0.0 {
            clock(((total.saturating_sub(done)) as f64 / rate) as u64)
        } else {
            "…".into()
        };
        format!(
            "[{}] {:>5.1}%  {} / {}  {}/s  ETA {}  files {}/{}  uploaded {}",
            clock(elapsed.as_secs()),
            if total > 0 {
                done as f64 * 100.0 / total as f64
            } else {
                0.0
            },
            bytes(done),
            bytes(total),
            bytes(rate as u64),
            eta,
            p.files_done.load(Ordering::Relaxed),
            p.total_files.load(Ordering::Relaxed),
            bytes(p.bytes_uploaded.load(Ordering::Relaxed))
        )
    })
}

fn show_restore_progress(p: &Arc<RestoreProgress>) -> Arc<AtomicBool> {
    let p = Arc::clone(p);
    ticker(move |elapsed| {
        let done = p.bytes_done.load(Ordering::Relaxed);
        let total = p.total_bytes.load(Ordering::Relaxed);
        let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
        let eta = if rate > 0.0 {
            clock((total.saturating_sub(done) as f64 / rate) as u64)
        } else {
            "…".into()
        };
        format!(
            "[{}] {} / {}  {}/s  ETA {}",
            clock(elapsed.as_secs()),
            bytes(done),
            bytes(total),
            bytes(rate as u64),
            eta
        )
    })
}
