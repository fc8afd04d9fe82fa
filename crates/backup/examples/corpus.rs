//! A deterministic corpus for the backup benchmark (issue 5, `bench/backup.sh`).
//!
//! ```text
//! cargo run --release -p munishare-backup --example corpus -- --out DIR [--size-mib 1024] [--seed 1]
//! cargo run --release -p munishare-backup --example corpus -- --out DIR --day2 [--size-mib 1024] [--seed 1]
//! cargo run --release -p munishare-backup --example corpus -- --manifest DIR
//! ```
//!
//! "Day 1" writes a town's file server into an empty `DIR`. By bytes: about 60 % text-like files
//! (minutes, letters and reports in a vocabulary of town-government terms, CSV tables with numbers,
//! log files) of 1 KiB to 8 MiB in nested department folders, most of them small; about 25 %
//! high-entropy files standing for photos, scans and zip archives; about 15 % in two large
//! database dumps (mixed text, many repeated records, some base64 attachments).
//!
//! "Day 2" (`--day2`, the same `--size-mib` and `--seed`) changes that tree in place as one day of
//! work would: about 5 % of the files change (half get data appended, half get a few KiB inserted
//! in the middle), the larger dump gets an insert in the middle, a dozen files are new and eight are
//! deleted. It refuses to run on a tree that is not day 1 of the same size and seed.
//!
//! The same size and seed give byte-identical trees whatever the number of threads: every file's
//! content comes from its own generator seeded from the plan. Every run ends by printing
//! `manifest_sha256=`, the SHA-256 of the sorted lines `path\tsize\tBLAKE3(content)` of every file
//! under `DIR`, so two runs (or a source and its restored copy) can be compared with one line.
//! Output lines are `key=value` for the benchmark script.
//!
//! No dependency beyond the crate's own: the random numbers are xoshiro256++ seeded by SplitMix64.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sha2::Digest;

type Result<T> = std::result::Result<T, String>;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
/// Files are written in blocks of this size, so a 100 MiB dump never sits in memory whole.
const BLOCK: usize = 1 << 20;
/// 2026-11-26 00:00:00 UTC: day-1 files are dated up to seven years before it.
const DAY1_EPOCH: u64 = 1_795_651_200;
/// 2026-11-27 02:00:00 UTC: the files day 2 touches are dated from it.
const DAY2_EPOCH: u64 = 1_795_744_800;

fn main() {
    if let Err(message) = run() {
        eprintln!("corpus: {message}");
        std::process::exit(1);
    }
}

#[derive(Debug)]
struct Args {
    out: Option<PathBuf>,
    manifest: Option<PathBuf>,
    size_mib: u64,
    seed: u64,
    day2: bool,
    threads: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        out: None,
        manifest: None,
        size_mib: 1024,
        seed: 1,
        day2: false,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--out" => args.out = Some(PathBuf::from(value("--out")?)),
            "--manifest" => args.manifest = Some(PathBuf::from(value("--manifest")?)),
            "--size-mib" => args.size_mib = number(&value("--size-mib")?, "--size-mib")?,
            "--seed" => args.seed = number(&value("--seed")?, "--seed")?,
            "--threads" => {
                args.threads = number(&value("--threads")?, "--threads")?.max(1) as usize
            }
            "--day2" => args.day2 = true,
            "-h" | "--help" => {
                println!(
                    "usage: corpus --out DIR [--size-mib 1024] [--seed 1] [--day2] [--threads N]\n       corpus --manifest DIR"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if args.size_mib < 8 {
        return Err(format!(
            "--size-mib {} is too small: at least 8",
            args.size_mib
        ));
    }
    Ok(args)
}

fn number(text: &str, name: &str) -> Result<u64> {
    text.parse()
        .map_err(|_| format!("{name} {text:?} is not a whole number"))
}

fn run() -> Result<()> {
    let args = parse_args()?;
    if let Some(dir) = &args.manifest {
        return print_manifest(dir);
    }
    let Some(out) = &args.out else {
        return Err("--out DIR (or --manifest DIR) is required".into());
    };
    let plan = Plan::new(args.size_mib * MIB, args.seed);
    let started = Instant::now();
    let written = if args.day2 {
        apply_day2(out, &plan, args.seed)?
    } else {
        write_day1(out, &plan, args.threads)?
    };
    let seconds = started.elapsed().as_secs_f64();
    println!("day={}", if args.day2 { 2 } else { 1 });
    println!("written_bytes={written}");
    println!("gen_seconds={seconds:.3}");
    println!(
        "gen_mb_per_s={:.1}",
        written as f64 / 1e6 / seconds.max(1e-9)
    );
    print_manifest(out)
}

// ---------------------------------------------------------------------------------------------
// Random numbers

/// SplitMix64: turns one seed into well-mixed seeds (for xoshiro's state and per-file seeds).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman and Vigna): fast, and plenty for test data.
#[derive(Debug, Clone)]
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut s = seed;
        Rng([
            splitmix(&mut s),
            splitmix(&mut s),
            splitmix(&mut s),
            splitmix(&mut s),
        ])
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (n > 0) by multiply-shift, without division.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An index into a list of `n` skewed towards the front, as word frequencies are.
    fn skewed(&mut self, n: usize) -> usize {
        let r = self.next();
        let a = ((r & 0xFFFF_FFFF) * n as u64) >> 32;
        let b = ((r >> 32) * n as u64) >> 32;
        a.min(b) as usize
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// The plan: every file's path, kind, size, seed and date, from the corpus size and seed alone.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Prose,
    Table,
    Log,
    /// Photos, scans, archives: bytes that do not compress.
    Entropy,
    Dump,
}

#[derive(Debug, Clone)]
struct FileSpec {
    path: String,
    kind: Kind,
    size: u64,
    seed: u64,
    mtime: u64,
}

#[derive(Debug)]
struct Plan {
    files: Vec<FileSpec>,
}

impl Plan {
    fn new(total: u64, seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x5EED_C0A9_0001);
        let mut files = Vec::new();
        let mut counter = 0u32;

        // About 15 % in two database dumps (55 % and 45 % of that share).
        let dumps = total * 15 / 100;
        for (name, share) in [("munis-finance", 55), ("land-records", 45)] {
            files.push(FileSpec {
                path: format!("it/database-dumps/{name}.sql"),
                kind: Kind::Dump,
                size: dumps * share / 100,
                seed: rng.next(),
                mtime: DAY1_EPOCH - 3600,
            });
        }

        // About 25 % high-entropy: photos (1–8 MiB), scans (64 KiB–2 MiB), zip archives (1–8 MiB).
        let mut budget = total * 25 / 100;
        while budget > 0 {
            counter += 1;
            let dept = rng.pick(DEPARTMENTS);
            let year = 2019 + rng.below(8);
            let (folder, stem, ext, low, high) = match rng.below(3) {
                0 => ("photos", "IMG", "jpg", MIB, 8 * MIB),
                1 => ("scans", "scan", "pdf", 64 * KIB, 2 * MIB),
                _ => ("archive", "records", "zip", MIB, 8 * MIB),
            };
            let size = log_uniform(&mut rng, low, high).min(budget);
            budget -= size;
            files.push(FileSpec {
                path: format!("{dept}/{folder}/{year}/{stem}-{year}-{counter:05}.{ext}"),
                kind: Kind::Entropy,
                size,
                seed: rng.next(),
                mtime: day1_mtime(&mut rng, year),
            });
        }

        // The rest (about 60 %) text-like, 1 KiB–8 MiB, most of them small: size = 1 KiB × 8192^(u³).
        let used: u64 = files.iter().map(|f| f.size).sum();
        let mut budget = total.saturating_sub(used);
        while budget > 0 {
            counter += 1;
            let (kind, ext) = match rng.below(20) {
                0..=8 => (Kind::Prose, "txt"),
                9..=15 => (Kind::Table, "csv"),
                _ => (Kind::Log, "log"),
            };
            let u = rng.unit();
            let size = ((KIB as f64) * 8192f64.powf(u * u * u)) as u64;
            let size = size.clamp(KIB, 8 * MIB).min(budget);
            budget -= size;
            files.push(text_file(&mut rng, kind, ext, size, counter, None));
        }
        Plan { files }
    }
}

fn text_file(
    rng: &mut Rng,
    kind: Kind,
    ext: &str,
    size: u64,
    counter: u32,
    year: Option<u64>,
) -> FileSpec {
    let d = rng.below(DEPARTMENTS.len() as u64) as usize;
    // Three folders a department, so folders hold several files each.
    let folder = FOLDERS[(d * 5 + rng.below(3) as usize * 4) % FOLDERS.len()];
    let year = year.unwrap_or_else(|| 2019 + rng.below(8));
    let seed = rng.next();
    let stem = match kind {
        Kind::Table => TABLE_STEMS[table_of(seed)],
        Kind::Log => "activity",
        _ => rng.pick(DOC_STEMS),
    };
    FileSpec {
        path: format!(
            "{}/{folder}/{year}/{stem}-{counter:05}.{ext}",
            DEPARTMENTS[d]
        ),
        kind,
        size,
        seed,
        mtime: day1_mtime(rng, year),
    }
}

/// Which of [`TABLES`] a table file with this seed holds (its name says so too).
fn table_of(seed: u64) -> usize {
    (seed >> 60) as usize % TABLES.len()
}

fn log_uniform(rng: &mut Rng, low: u64, high: u64) -> u64 {
    let (l, h) = ((low as f64).ln(), (high as f64).ln());
    (l + (h - l) * rng.unit()).exp() as u64
}

/// A date inside `year`, never after day 1.
fn day1_mtime(rng: &mut Rng, year: u64) -> u64 {
    let start = 1_546_300_800 + (year - 2019) * 365 * 86_400; // 2019-01-01, close enough per year
    (start + rng.below(365 * 86_400)).min(DAY1_EPOCH - 7200)
}

// ---------------------------------------------------------------------------------------------
// Day 1

fn write_day1(out: &Path, plan: &Plan, threads: usize) -> Result<u64> {
    if out.exists() && fs::read_dir(out).map_err(|e| io(out, e))?.next().is_some() {
        return Err(format!(
            "{} is not empty: day 1 writes into an empty directory",
            out.display()
        ));
    }
    fs::create_dir_all(out).map_err(|e| io(out, e))?;
    // Larger files first so the threads finish together.
    let mut order: Vec<&FileSpec> = plan.files.iter().collect();
    order.sort_by_key(|f| std::cmp::Reverse(f.size));
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut buf = Vec::with_capacity(BLOCK + 64 * 1024);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = order.get(i) else { break };
                    if let Err(e) = write_file(out, spec, &mut buf) {
                        if let Ok(mut slot) = failure.lock() {
                            slot.get_or_insert(e);
                        }
                        next.store(order.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(plan.files.iter().map(|f| f.size).sum())
}

fn write_file(out: &Path, spec: &FileSpec, buf: &mut Vec<u8>) -> Result<()> {
    let path = out.join(&spec.path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    let mut file = File::create(&path).map_err(|e| io(&path, e))?;
    let mut content = Content::new(spec.kind, spec.seed);
    let mut remaining = spec.size as usize;
    while remaining > 0 {
        buf.clear();
        content.fill(buf, remaining.min(BLOCK));
        let n = buf.len().min(remaining);
        file.write_all(&buf[..n]).map_err(|e| io(&path, e))?;
        remaining -= n;
    }
    set_mtime(&file, &path, spec.mtime)
}

fn set_mtime(file: &File, path: &Path, secs: u64) -> Result<()> {
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .map_err(|e| io(path, e))
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

// ---------------------------------------------------------------------------------------------
// Day 2

fn apply_day2(out: &Path, plan: &Plan, seed: u64) -> Result<u64> {
    let mut rng = Rng::new(seed ^ 0xDA42_0002);
    let largest_dump = plan.files.iter().position(|f| f.kind == Kind::Dump);
    let mut changed = Vec::new(); // (index, insert?)
    for (i, _) in plan.files.iter().enumerate() {
        let draw = rng.below(20);
        let insert = rng.below(2) == 0;
        if draw == 0 || Some(i) == largest_dump {
            changed.push((i, insert || Some(i) == largest_dump));
        }
    }
    let changed_set: BTreeSet<usize> = changed.iter().map(|&(i, _)| i).collect();
    let mut deleted = BTreeSet::new();
    while deleted.len() < 8.min(plan.files.len() / 4) {
        let i = rng.below(plan.files.len() as u64) as usize;
        if !changed_set.contains(&i) && plan.files[i].kind != Kind::Dump {
            deleted.insert(i);
        }
    }
    let mut new_files = Vec::new();
    for n in 0..12u32 {
        let counter = 90_000 + n;
        let spec = if n < 2 {
            FileSpec {
                path: format!("public-works/photos/2026/IMG-2026-{counter:05}.jpg"),
                kind: Kind::Entropy,
                size: log_uniform(&mut rng, MIB, 4 * MIB),
                seed: rng.next(),
                mtime: 0,
            }
        } else {
            let (kind, ext) = [
                (Kind::Prose, "txt"),
                (Kind::Table, "csv"),
                (Kind::Log, "log"),
            ][n as usize % 3];
            let size = log_uniform(&mut rng, KIB, 512 * KIB);
            text_file(&mut rng, kind, ext, size, counter, Some(2026))
        };
        new_files.push(FileSpec {
            mtime: DAY2_EPOCH + u64::from(n),
            ..spec
        });
    }

    // Refuse anything but day 1 of this size and seed, before touching a byte.
    for &i in changed_set.iter().chain(&deleted) {
        let spec = &plan.files[i];
        let path = out.join(&spec.path);
        match fs::metadata(&path) {
            Ok(m) if m.len() == spec.size => {}
            Ok(m) => {
                return Err(format!(
                    "{} is {} bytes, day 1 of this seed and size has {}: not day 1 (day 2 already applied, or another --seed/--size-mib?)",
                    path.display(),
                    m.len(),
                    spec.size
                ));
            }
            Err(e) => {
                return Err(format!(
                    "{}: {e} (is {} day 1 of this seed and size?)",
                    path.display(),
                    out.display()
                ));
            }
        }
    }
    for spec in &new_files {
        let path = out.join(&spec.path);
        if path.exists() {
            return Err(format!(
                "{} exists already: day 2 was applied before",
                path.display()
            ));
        }
    }

    let mut written = 0u64;
    let mut buf = Vec::with_capacity(BLOCK + 64 * 1024);
    for (n, &(i, insert)) in changed.iter().enumerate() {
        let spec = &plan.files[i];
        let path = out.join(&spec.path);
        let mut content = Content::new(spec.kind, spec.seed ^ 0xDA42_0002);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        buf.clear();
        if insert {
            // A few KiB in the middle: the tail moves, so a fixed-size chunker would see all of it change.
            let len = rng.range(2 * KIB, 8 * KIB) as usize;
            content.fill(&mut buf, len);
            buf.truncate(len);
            let at = rng.range(spec.size / 4, spec.size * 3 / 4);
            let mut tail = Vec::new();
            file.seek(SeekFrom::Start(at)).map_err(|e| io(&path, e))?;
            file.read_to_end(&mut tail).map_err(|e| io(&path, e))?;
            file.seek(SeekFrom::Start(at)).map_err(|e| io(&path, e))?;
            file.write_all(&buf).map_err(|e| io(&path, e))?;
            file.write_all(&tail).map_err(|e| io(&path, e))?;
            written += (buf.len() + tail.len()) as u64;
        } else {
            let len = rng.range(KIB, 64 * KIB) as usize;
            content.fill(&mut buf, len);
            buf.truncate(len);
            file.seek(SeekFrom::End(0)).map_err(|e| io(&path, e))?;
            file.write_all(&buf).map_err(|e| io(&path, e))?;
            written += len as u64;
        }
        set_mtime(&file, &path, DAY2_EPOCH + 100 + n as u64)?;
    }
    for &i in &deleted {
        let path = out.join(&plan.files[i].path);
        fs::remove_file(&path).map_err(|e| io(&path, e))?;
    }
    for spec in &new_files {
        write_file(out, spec, &mut buf)?;
        written += spec.size;
    }
    println!("changed_files={}", changed.len());
    println!("deleted_files={}", deleted.len());
    println!("new_files={}", new_files.len());
    Ok(written)
}

// ---------------------------------------------------------------------------------------------
// Manifest

fn print_manifest(dir: &Path) -> Result<()> {
    let started = Instant::now();
    let mut paths = Vec::new();
    walk(dir, "", &mut paths)?;
    paths.sort();
    let mut manifest = sha2::Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; BLOCK];
    for rel in &paths {
        let path = dir.join(rel);
        let mut file = File::open(&path).map_err(|e| io(&path, e))?;
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(|e| io(&path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        bytes += size;
        manifest.update(format!("{rel}\t{size}\t{}\n", hasher.finalize().to_hex()).as_bytes());
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("files={}", paths.len());
    println!("bytes={bytes}");
    println!(
        "manifest_sha256={}",
        munishare_backup::hex::encode(&manifest.finalize())
    );
    // Reading from the page cache and BLAKE3 on one thread: a reference speed for the report.
    println!(
        "manifest_mb_per_s={:.1}",
        bytes as f64 / 1e6 / seconds.max(1e-9)
    );
    Ok(())
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type().map_err(|e| io(&entry.path(), e))?;
        if kind.is_dir() {
            walk(&entry.path(), &rel, out)?;
        } else if kind.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Content

/// One file's content stream; `fill` appends whole records until the buffer holds `want` bytes.
#[derive(Debug)]
struct Content {
    kind: Kind,
    rng: Rng,
    /// Seconds for log lines, row numbers for tables and dumps.
    clock: u64,
    row: u64,
    table: usize,
    /// Dumps repeat records from this pool (as payments for the same bills recur).
    pool: Vec<Vec<u8>>,
    header_done: bool,
}

impl Content {
    fn new(kind: Kind, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let clock = DAY1_EPOCH - rng.below(5 * 365 * 86_400);
        let table = table_of(seed);
        let row = 1 + rng.below(100_000);
        Content {
            kind,
            rng,
            clock,
            row,
            table,
            pool: Vec::new(),
            header_done: false,
        }
    }

    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) {
        let target = buf.len() + want;
        match self.kind {
            Kind::Entropy => {
                while buf.len() < target {
                    buf.extend_from_slice(&self.rng.next().to_le_bytes());
                }
            }
            Kind::Prose => {
                while buf.len() < target {
                    self.paragraph(buf);
                }
            }
            Kind::Table => {
                if !self.header_done {
                    buf.extend_from_slice(TABLES[self.table].as_bytes());
                    buf.push(b'\n');
                    self.header_done = true;
                }
                while buf.len() < target {
                    self.table_row(buf);
                }
            }
            Kind::Log => {
                while buf.len() < target {
                    self.log_line(buf);
                }
            }
            Kind::Dump => {
                while buf.len() < target {
                    self.dump_record(buf);
                }
            }
        }
    }

    fn paragraph(&mut self, buf: &mut Vec<u8>) {
        let sentences = self.rng.range(2, 7);
        for _ in 0..sentences {
            let words = self.rng.range(6, 22);
            for w in 0..words {
                let word = WORDS[self.rng.skewed(WORDS.len())].as_bytes();
                if w == 0 {
                    buf.push(word[0].to_ascii_uppercase());
                    buf.extend_from_slice(&word[1..]);
                } else {
                    buf.push(b' ');
                    match self.rng.below(40) {
                        0 => push_money(buf, self.rng.below(50_000_000)),
                        1 => push_date(buf, self.clock - self.rng.below(400 * 86_400)),
                        2 => push_parcel(buf, &mut self.rng),
                        _ => buf.extend_from_slice(word),
                    }
                }
            }
            buf.extend_from_slice(b". ");
        }
        buf.extend_from_slice(b"\n\n");
    }

    fn table_row(&mut self, buf: &mut Vec<u8>) {
        let r = &mut self.rng;
        push_u64(buf, self.row);
        self.row += 1;
        buf.push(b',');
        match self.table {
            0 => {
                // parcel,owner,location,land,building,total,exempt
                push_parcel(buf, r);
                buf.push(b',');
                push_name(buf, r);
                buf.push(b',');
                push_u64(buf, r.range(1, 400));
                buf.push(b' ');
                buf.extend_from_slice(r.pick(STREETS).as_bytes());
                let land = r.range(20_000, 600_000);
                let building = r.range(0, 1_500_000);
                for v in [land, building, land + building, r.below(4) * 1_000] {
                    buf.push(b',');
                    push_u64(buf, v);
                }
            }
            1 => {
                // employee,department,period,hours,gross,withholding,net
                push_name(buf, r);
                buf.push(b',');
                buf.extend_from_slice(r.pick(DEPARTMENTS).as_bytes());
                buf.push(b',');
                push_date(buf, self.clock + (self.row % 26) * 14 * 86_400);
                buf.push(b',');
                push_u64(buf, r.range(20, 80));
                let gross = r.range(80_000, 600_000);
                let held = gross * r.range(15, 35) / 100;
                for v in [gross, held, gross - held] {
                    buf.push(b',');
                    push_money_plain(buf, v);
                }
            }
            2 => {
                // permit,kind,parcel,applicant,issued,fee,status
                buf.extend_from_slice(b"BP-");
                push_u64(buf, 2019 + r.below(8));
                buf.push(b'-');
                push_u64(buf, r.range(10_000, 99_999));
                buf.push(b',');
                buf.extend_from_slice(r.pick(PERMITS).as_bytes());
                buf.push(b',');
                push_parcel(buf, r);
                buf.push(b',');
                push_name(buf, r);
                buf.push(b',');
                push_date(buf, self.clock - r.below(900 * 86_400));
                buf.push(b',');
                push_money_plain(buf, r.range(2_500, 250_000));
                buf.push(b',');
                buf.extend_from_slice(r.pick(STATUSES).as_bytes());
            }
            _ => {
                // receipt,parcel,bill,paid_on,amount,method,teller
                push_parcel(buf, r);
                buf.push(b',');
                push_u64(buf, 2019 + r.below(8));
                buf.push(b'-');
                push_u64(buf, r.range(1, 30_000));
                buf.push(b',');
                push_date(buf, self.clock - r.below(365 * 86_400));
                buf.push(b',');
                push_money_plain(buf, r.range(5_000, 1_800_000));
                buf.push(b',');
                buf.extend_from_slice(r.pick(METHODS).as_bytes());
                buf.push(b',');
                push_name(buf, r);
            }
        }
        buf.push(b'\n');
    }

    fn log_line(&mut self, buf: &mut Vec<u8>) {
        let r = &mut self.rng;
        self.clock += r.below(40);
        push_timestamp(buf, self.clock);
        buf.extend_from_slice(match r.below(50) {
            0 => b" ERROR ",
            1..=4 => b" WARN  ",
            _ => b" INFO  ",
        });
        buf.extend_from_slice(r.pick(DEPARTMENTS).as_bytes());
        buf.push(b'[');
        push_u64(buf, 1000 + r.below(64));
        buf.extend_from_slice(b"]: user=");
        buf.extend_from_slice(r.pick(LAST_NAMES).as_bytes());
        buf.extend_from_slice(b" action=");
        buf.extend_from_slice(r.pick(ACTIONS).as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(WORDS[r.skewed(WORDS.len())].as_bytes());
        buf.extend_from_slice(b" id=");
        push_u64(buf, r.below(1_000_000));
        buf.extend_from_slice(b" ms=");
        push_u64(buf, r.range(1, 900));
        buf.push(b'\n');
    }

    fn dump_record(&mut self, buf: &mut Vec<u8>) {
        if self.row % 5_000 == 1 || !self.header_done {
            self.header_done = true;
            buf.extend_from_slice(b"\n--\n-- Data for table ");
            buf.extend_from_slice(self.rng.pick(DUMP_TABLES).as_bytes());
            buf.extend_from_slice(b"; ");
            let words = self.rng.range(8, 30);
            for _ in 0..words {
                buf.extend_from_slice(WORDS[self.rng.skewed(WORDS.len())].as_bytes());
                buf.push(b' ');
            }
            buf.extend_from_slice(b"\n--\n\n");
        }
        self.row += 1;
        buf.extend_from_slice(b"INSERT INTO ledger_entries VALUES (");
        push_u64(buf, self.row);
        buf.push(b',');
        match self.rng.below(400) {
            // Now and then an attachment (a scanned check): base64 of random bytes.
            0 => {
                buf.extend_from_slice(b"'attachment','");
                let n = self.rng.range(2 * KIB, 12 * KIB) as usize;
                push_base64_random(buf, &mut self.rng, n);
                buf.push(b'\'');
            }
            // Most records repeat one seen before, as recurring payments do.
            1..=280 if !self.pool.is_empty() => {
                let i = self.rng.below(self.pool.len() as u64) as usize;
                buf.extend_from_slice(&self.pool[i]);
            }
            _ => {
                let start = buf.len();
                let r = &mut self.rng;
                buf.push(b'\'');
                push_parcel(buf, r);
                buf.extend_from_slice(b"','");
                push_name(buf, r);
                buf.extend_from_slice(b"','");
                push_date(buf, self.clock - r.below(3000 * 86_400));
                buf.extend_from_slice(b"',");
                push_money_plain(buf, r.range(100, 2_000_000));
                buf.extend_from_slice(b",'");
                buf.extend_from_slice(r.pick(METHODS).as_bytes());
                buf.extend_from_slice(b"','");
                buf.extend_from_slice(WORDS[r.skewed(WORDS.len())].as_bytes());
                buf.push(b' ');
                buf.extend_from_slice(WORDS[r.skewed(WORDS.len())].as_bytes());
                buf.push(b'\'');
                if self.pool.len() < 4096 {
                    self.pool.push(buf[start..].to_vec());
                }
            }
        }
        buf.extend_from_slice(b");\n");
    }
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

fn push_two(buf: &mut Vec<u8>, v: u64) {
    buf.push(b'0' + (v / 10 % 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

/// Cents as `1234.56`.
fn push_money_plain(buf: &mut Vec<u8>, cents: u64) {
    push_u64(buf, cents / 100);
    buf.push(b'.');
    push_two(buf, cents % 100);
}

/// Cents as `$1,234.56`.
fn push_money(buf: &mut Vec<u8>, cents: u64) {
    buf.push(b'$');
    let dollars = cents / 100;
    if dollars >= 1000 {
        push_u64(buf, dollars / 1000);
        buf.push(b',');
        let rest = dollars % 1000;
        buf.push(b'0' + (rest / 100) as u8);
        push_two(buf, rest % 100);
    } else {
        push_u64(buf, dollars);
    }
    buf.push(b'.');
    push_two(buf, cents % 100);
}

/// Days since the epoch to `YYYY-MM-DD` (Howard Hinnant's civil-from-days).
fn civil(secs: u64) -> (u64, u64, u64) {
    let z = secs / 86_400 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn push_date(buf: &mut Vec<u8>, secs: u64) {
    let (y, m, d) = civil(secs);
    push_u64(buf, y);
    buf.push(b'-');
    push_two(buf, m);
    buf.push(b'-');
    push_two(buf, d);
}

fn push_timestamp(buf: &mut Vec<u8>, secs: u64) {
    push_date(buf, secs);
    let s = secs % 86_400;
    buf.push(b'T');
    push_two(buf, s / 3600);
    buf.push(b':');
    push_two(buf, s / 60 % 60);
    buf.push(b':');
    push_two(buf, s % 60);
    buf.push(b'Z');
}

fn push_parcel(buf: &mut Vec<u8>, rng: &mut Rng) {
    let v = rng.below(1_000_000_000);
    push_two(buf, v / 10_000_000);
    buf.push(b'0' + (v / 1_000_000 % 10) as u8);
    buf.push(b'-');
    push_two(buf, v / 10_000 % 100);
    buf.push(b'0' + (v / 1_000 % 10) as u8);
    buf.push(b'-');
    buf.push(b'0' + (v / 100 % 10) as u8);
    push_two(buf, v % 100);
}

fn push_name(buf: &mut Vec<u8>, rng: &mut Rng) {
    buf.extend_from_slice(LAST_NAMES[rng.skewed(LAST_NAMES.len())].as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(FIRST_NAMES[rng.skewed(FIRST_NAMES.len())].as_bytes());
}

fn push_base64_random(buf: &mut Vec<u8>, rng: &mut Rng, len: usize) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut left = len;
    while left > 0 {
        let mut v = rng.next();
        for _ in 0..10 {
            buf.push(ALPHABET[(v & 63) as usize]);
            v >>= 6;
        }
        left = left.saturating_sub(10);
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

const DEPARTMENTS: &[&str] = &[
    "assessor",
    "tax-collector",
    "town-clerk",
    "finance",
    "treasurer",
    "board-of-selectmen",
    "town-manager",
    "public-works",
    "planning-zoning",
    "building",
    "inland-wetlands",
    "police",
    "fire-marshal",
    "emergency-management",
    "health-district",
    "parks-recreation",
    "library",
    "senior-center",
    "social-services",
    "human-resources",
    "registrars-of-voters",
    "board-of-education",
    "it",
    "water-pollution-control",
];

const FOLDERS: &[&str] = &[
    "minutes",
    "agendas",
    "correspondence",
    "reports",
    "budget",
    "permits",
    "contracts",
    "payroll",
    "policies",
    "grants",
    "inspections",
    "hearings",
    "exports",
    "logs",
];

const DOC_STEMS: &[&str] = &[
    "minutes",
    "agenda",
    "letter",
    "memo",
    "report",
    "notice",
    "staff-report",
    "resolution",
    "ordinance-draft",
    "grant-application",
    "inspection-report",
    "decision",
];

const TABLE_STEMS: &[&str] = &[
    "assessment-roll",
    "payroll-register",
    "permit-log",
    "receipts",
];

const TABLES: &[&str] = &[
    "row,parcel,owner,location,land,building,total,exempt",
    "row,employee,department,period,hours,gross,withholding,net",
    "row,permit,kind,parcel,applicant,issued,fee,status",
    "row,parcel,bill,paid_on,amount,method,teller",
];

const DUMP_TABLES: &[&str] = &[
    "ledger_entries",
    "receipts",
    "bills",
    "parcels",
    "permits",
    "payroll_lines",
];

const PERMITS: &[&str] = &[
    "building",
    "electrical",
    "plumbing",
    "mechanical",
    "demolition",
    "zoning",
    "wetlands",
    "driveway",
    "septic",
    "well",
    "sign",
    "pool",
];

const STATUSES: &[&str] = &[
    "issued",
    "pending",
    "approved",
    "denied",
    "closed",
    "expired",
    "inspected",
];

const METHODS: &[&str] = &["CHECK", "CASH", "ACH", "CARD", "LOCKBOX", "ESCROW"];

const ACTIONS: &[&str] = &[
    "login", "logout", "view", "edit", "approve", "reject", "export", "print", "post", "void",
    "upload", "search",
];

const STREETS: &[&str] = &[
    "Main Street",
    "Elm Street",
    "Maple Avenue",
    "Oak Lane",
    "Church Street",
    "Mill Road",
    "High Street",
    "Park Avenue",
    "Pleasant Street",
    "Washington Street",
    "Center Street",
    "School Street",
    "Prospect Hill Road",
    "Farmington Avenue",
    "Albany Turnpike",
    "Bloomfield Avenue",
    "Ridge Road",
    "Orchard Lane",
    "Brook Street",
    "Cedar Swamp Road",
];

const FIRST_NAMES: &[&str] = &[
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Maria",
    "Jose",
    "Ana",
    "Luis",
    "Carmen",
    "Wei",
    "Priya",
    "Ahmed",
    "Olga",
    "Kevin",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "O'Brien",
    "Sullivan",
    "Kowalski",
    "Rossi",
    "Murphy",
    "Kelly",
    "Chen",
    "Patel",
    "Cohen",
    "Dubois",
];

/// Town-government vocabulary, roughly from most to least common (the generator favours the front).
const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "town",
    "board",
    "for",
    "in",
    "a",
    "that",
    "on",
    "by",
    "is",
    "with",
    "as",
    "be",
    "was",
    "meeting",
    "motion",
    "public",
    "department",
    "tax",
    "property",
    "budget",
    "approved",
    "commission",
    "council",
    "hearing",
    "permit",
    "assessment",
    "fund",
    "request",
    "application",
    "state",
    "year",
    "fiscal",
    "report",
    "plan",
    "zoning",
    "members",
    "present",
    "chairman",
    "seconded",
    "carried",
    "unanimously",
    "minutes",
    "agenda",
    "selectmen",
    "selectman",
    "first",
    "manager",
    "director",
    "clerk",
    "assessor",
    "collector",
    "treasurer",
    "registrar",
    "voters",
    "election",
    "ballot",
    "referendum",
    "warrant",
    "quorum",
    "notice",
    "resolution",
    "amendment",
    "ordinance",
    "bylaw",
    "charter",
    "works",
    "highway",
    "sewer",
    "water",
    "stormwater",
    "culvert",
    "pavement",
    "snow",
    "plowing",
    "sanding",
    "salt",
    "garage",
    "fleet",
    "vehicle",
    "equipment",
    "procurement",
    "bid",
    "contract",
    "vendor",
    "invoice",
    "purchase",
    "order",
    "requisition",
    "encumbrance",
    "general",
    "capital",
    "reserve",
    "grant",
    "federal",
    "reimbursement",
    "audit",
    "auditor",
    "finance",
    "superintendent",
    "education",
    "school",
    "library",
    "park",
    "recreation",
    "pool",
    "field",
    "playground",
    "cemetery",
    "fire",
    "marshal",
    "police",
    "chief",
    "dispatch",
    "emergency",
    "ambulance",
    "health",
    "sanitarian",
    "septic",
    "well",
    "restaurant",
    "license",
    "dog",
    "animal",
    "control",
    "building",
    "official",
    "certificate",
    "occupancy",
    "inspector",
    "inspection",
    "wetlands",
    "conservation",
    "planning",
    "subdivision",
    "site",
    "setback",
    "frontage",
    "acreage",
    "lot",
    "district",
    "residential",
    "commercial",
    "industrial",
    "historic",
    "preservation",
    "affordable",
    "housing",
    "senior",
    "center",
    "youth",
    "services",
    "social",
    "veterans",
    "payroll",
    "pension",
    "benefits",
    "insurance",
    "union",
    "collective",
    "bargaining",
    "overtime",
    "stipend",
    "salary",
    "wage",
    "employee",
    "personnel",
    "human",
    "resources",
    "hire",
    "retirement",
    "revenue",
    "expenditure",
    "surplus",
    "deficit",
    "bond",
    "note",
    "interest",
    "principal",
    "debt",
    "service",
    "rating",
    "treasury",
    "investment",
    "receipts",
    "disbursement",
    "journal",
    "ledger",
    "account",
    "reconciliation",
    "transfer",
    "adjustment",
    "refund",
    "credit",
    "payment",
    "installment",
    "due",
    "penalty",
    "lien",
    "delinquent",
    "abatement",
    "appropriation",
    "levy",
    "mill",
    "rate",
    "grand",
    "list",
    "taxpayer",
    "abstract",
    "revaluation",
    "appraisal",
    "market",
    "value",
    "sales",
    "ratio",
    "exemption",
    "elderly",
    "veteran",
    "disabled",
    "personal",
    "motor",
    "real",
    "estate",
    "supplemental",
    "correction",
    "appeal",
    "card",
    "map",
    "block",
    "parcel",
    "easement",
    "deed",
    "survey",
    "boundary",
    "right-of-way",
    "road",
    "street",
    "sidewalk",
    "curb",
    "crosswalk",
    "signal",
    "traffic",
    "parking",
    "meter",
    "ticket",
    "citation",
    "court",
    "legal",
    "counsel",
    "attorney",
    "litigation",
    "settlement",
    "claim",
    "risk",
    "liability",
    "facility",
    "maintenance",
    "repair",
    "roof",
    "boiler",
    "HVAC",
    "generator",
    "energy",
    "solar",
    "electricity",
    "utility",
    "refuse",
    "recycling",
    "station",
    "landfill",
    "bulky",
    "waste",
    "compost",
    "tree",
    "warden",
    "forestry",
    "beach",
    "harbor",
    "marina",
    "mooring",
    "shellfish",
    "city",
    "borough",
    "municipality",
    "region",
    "regional",
    "governments",
    "shared",
    "interlocal",
    "agreement",
    "memorandum",
    "understanding",
    "annual",
    "quarterly",
    "monthly",
    "proposed",
    "adopted",
    "denied",
    "tabled",
    "continued",
    "pending",
    "received",
    "filed",
    "recorded",
    "volume",
    "page",
    "variance",
    "appeals",
    "registry",
    "vital",
    "records",
    "marriage",
    "birth",
    "death",
    "burial",
    "transit",
    "trail",
    "bridge",
    "dam",
    "flood",
    "FEMA",
    "ARPA",
    "LoCIP",
    "TAR",
    "OPM",
    "DEEP",
    "DOT",
    "CGS",
    "section",
    "statute",
    "pursuant",
    "whereas",
    "therefore",
    "resolved",
    "hereby",
    "authorized",
    "execute",
    "behalf",
    "sum",
    "not",
    "exceed",
];
