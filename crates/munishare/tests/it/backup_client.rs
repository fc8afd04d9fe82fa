//! The backup client as a town's IT director runs it: `munishare init | backup | snapshots |
//! restore | check | key recover` on a local repository, including a client killed mid-backup
//! and rerun, and a wrong passphrase.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_munishare");

fn client(args: &[&str], password: &str) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("MUNISHARE_BACKUP_PASSWORD", password)
        .env_remove("RUST_BACKTRACE");
    c
}

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Deterministic incompressible bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn data_bytes(repo: &Path) -> (usize, u64) {
    let mut packs = 0;
    let mut size = 0;
    for sub in std::fs::read_dir(repo.join("data"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            if !f.file_name().to_string_lossy().starts_with(".tmp") {
                packs += 1;
                size += f.metadata().unwrap().len();
            }
        }
    }
    (packs, size)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("munishare-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_killed_backup_reruns_to_a_clean_repository_and_restores() {
    let dir = scratch("backup-cli");
    let (src, repo, target) = (dir.join("src"), dir.join("repo"), dir.join("restore"));
    std::fs::create_dir_all(src.join("scans")).unwrap();
    for i in 0..10u64 {
        std::fs::write(
            src.join(format!("scans/deed-{i}.tif")),
            noise(i + 1, 5_000_000),
        )
        .unwrap();
    }
    std::fs::write(
        src.join("minutes.txt"),
        "Board of Finance minutes, regular meeting.\n".repeat(20_000),
    )
    .unwrap();
    let repo_arg = repo.to_str().unwrap();

    let init = ok(client(&["init", "--repo", repo_arg], "town hall 1")
        .output()
        .unwrap());
    let recovery = init
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 71 && l.split('-').count() == 8)
        .expect("the recovery key is printed")
        .to_owned();

    // Kill the client once its first pack has landed.
    let mut child = client(
        &[
            "backup",
            "--repo",
            repo_arg,
            "--host",
            "fs01",
            src.to_str().unwrap(),
        ],
        "town hall 1",
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let started = Instant::now();
    while data_bytes(&repo).0 == 0 && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (packs_before, _) = data_bytes(&repo);
    assert!(packs_before >= 1, "a pack was written before the kill");
    assert_eq!(
        std::fs::read_dir(repo.join("snapshots"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "no snapshot yet"
    );

    // The rerun completes, reusing what was uploaded: the repository holds the data once.
    let out = ok(client(
        &[
            "backup",
            "--repo",
            repo_arg,
            "--host",
            "fs01",
            src.to_str().unwrap(),
        ],
        "town hall 1",
    )
    .output()
    .unwrap());
    assert!(
        out.contains("Files:     11 new, 0 changed, 0 unchanged"),
        "{out}"
    );
    let (_, stored) = data_bytes(&repo);
    assert!(
        stored < 50_000_000 + 1_000_000,
        "no duplicate data: {stored} bytes of packs"
    );
    let check = ok(
        client(&["check", "--repo", repo_arg, "--read-data"], "town hall 1")
            .output()
            .unwrap(),
    );
    assert!(check.contains("No errors were found."), "{check}");

    // Unchanged files are not read again.
    let out = ok(client(
        &[
            "backup",
            "--repo",
            repo_arg,
            "--host",
            "fs01",
            src.to_str().unwrap(),
        ],
        "town hall 1",
    )
    .output()
    .unwrap());
    assert!(
        out.contains("Files:     0 new, 0 changed, 11 unchanged"),
        "{out}"
    );
    assert!(out.contains("Read:      0 B of"), "{out}");
    let listing = ok(client(&["snapshots", "--repo", repo_arg], "town hall 1")
        .output()
        .unwrap());
    assert!(
        listing.contains("2 snapshot(s)") && listing.contains("fs01"),
        "{listing}"
    );

    let out = ok(client(
        &[
            "restore",
            "--repo",
            repo_arg,
            "latest",
            "--target",
            target.to_str().unwrap(),
        ],
        "town hall 1",
    )
    .output()
    .unwrap());
    assert!(
        out.contains("11 files") && out.contains("every chunk verified"),
        "{out}"
    );
    let restored = target.join(src.strip_prefix("/").unwrap());
    for i in 0..10u64 {
        assert!(
            std::fs::read(restored.join(format!("scans/deed-{i}.tif"))).unwrap()
                == noise(i + 1, 5_000_000)
        );
    }

    // A wrong passphrase is a sentence, exit 1, no backtrace.
    let out = client(&["snapshots", "--repo", repo_arg], "town hall 2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: wrong passphrase: no key of the repository opens with it"
    );

    // The printed recovery key adds a new passphrase.
    let out = ok(client(&["key", "recover", "--repo", repo_arg], "")
        .env("MUNISHARE_BACKUP_RECOVERY_KEY", &recovery)
        .env("MUNISHARE_BACKUP_NEW_PASSWORD", "town hall 2")
        .output()
        .unwrap());
    assert!(out.contains("Opened with the recovery key"), "{out}");
    ok(client(&["snapshots", "--repo", repo_arg], "town hall 2")
        .output()
        .unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}
