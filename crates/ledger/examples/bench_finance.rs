//! The finance benchmark (docs/benchmarks.md): generates a region-scale
//! journal — every demo town, three fiscal years, `--lines` posting lines in
//! all (10 million by default) — then imports it town by town through the
//! same import path the CLI and the browser use (`--parallel N`: N towns at
//! a time, each in its own transaction; 1 by default), then times the trial balance and
//! budget vs actual for one town and for the whole region at dates inside
//! periods (so the partial period is read from lines) and at year end.
//!
//! `cargo run --release -p munishare-ledger --example bench_finance -- \
//!     --database-url sqlite:///tmp/bench.db --lines 10000000`
//!
//! On PostgreSQL it also loads the same lines with the server's own `COPY`
//! into an unindexed table, the floor any importer is measured against.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use munishare_ledger::import::{self, ImportKind, NewImport, Progress};
use munishare_ledger::{budget, service};
use munishare_platform::access::{self, CouncilAdmin, NewGrant, ServiceScope};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Permission, Service, Timestamp};
use munishare_platform::{Db, demo, identity};
use time::macros::{date, datetime};

const NOW: time::OffsetDateTime = datetime!(2026-07-15 12:00 UTC);
const YEARS: [i32; 3] = [2024, 2025, 2026];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A town's chart: cash, payables, fund balance, 20 revenues, 170 expenditures.
fn chart() -> (String, Vec<String>, Vec<String>) {
    let mut csv = String::from("account,name,fund_name,fund_type\n");
    csv.push_str("1005-00-0000-00000-10100-000,Cash,General Fund,general\n");
    csv.push_str("1005-00-0000-00000-20100-000,Accounts payable,,\n");
    csv.push_str("1005-00-0000-00000-30100-000,Unassigned fund balance,,\n");
    let mut revenues = Vec::new();
    for i in 0..20 {
        let a = format!("1005-00-0000-00000-4{:04}-000", 1000 + i * 100);
        csv.push_str(&format!("{a},Revenue {i},,\n"));
        revenues.push(a);
    }
    let mut expenditures = Vec::new();
    for f in 0..10 {
        for d in 0..17 {
            let a = format!(
                "1005-{:02}-{:02}{:02}-00000-5{:04}-000",
                41 + f,
                41 + f,
                d,
                1000 + d * 100
            );
            csv.push_str(&format!("{a},Spending {f}/{d},,\n"));
            expenditures.push(a);
        }
    }
    (csv, revenues, expenditures)
}

/// Writes `lines` journal lines over the three fiscal years; returns lines written.
fn journal(
    path: &PathBuf,
    lines: u64,
    seed: u64,
    revenues: &[String],
    expenditures: &[String],
) -> u64 {
    let mut rng = Rng(seed | 1);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    writeln!(w, "reference,date,description,account,debit,credit,memo").unwrap();
    let first = date!(2023 - 07 - 01);
    let days = 3 * 365 + 1;
    let mut written = 0u64;
    let mut n = 0u64;
    while written < lines {
        n += 1;
        let day = first + time::Duration::days(((written * days) / lines) as i64);
        let width = 2 + rng.below(8);
        let mut total = 0u64;
        let revenue = n.is_multiple_of(5);
        for l in 0..width - 1 {
            let cents = 1_000 + rng.below(5_000_000);
            total += cents;
            let (acct, d, c) = if revenue {
                (
                    &revenues[rng.below(revenues.len() as u64) as usize],
                    String::new(),
                    format!("{}.{:02}", cents / 100, cents % 100),
                )
            } else {
                (
                    &expenditures[rng.below(expenditures.len() as u64) as usize],
                    format!("{}.{:02}", cents / 100, cents % 100),
                    String::new(),
                )
            };
            writeln!(w, "JE-{n},{day},Batch {n},{acct},{d},{c},line {l}").unwrap();
        }
        let amount = format!("{}.{:02}", total / 100, total % 100);
        if revenue {
            writeln!(
                w,
                "JE-{n},{day},Batch {n},1005-00-0000-00000-10100-000,{amount},,"
            )
            .unwrap();
        } else {
            writeln!(
                w,
                "JE-{n},{day},Batch {n},1005-00-0000-00000-10100-000,,{amount},"
            )
            .unwrap();
        }
        written += width;
    }
    w.flush().unwrap();
    written
}

/// User and system CPU time of this process so far (Linux: /proc/self/stat,
/// in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 0, utime field 11, stime field 12.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn import_file(
    db: &Db,
    scope: &ServiceScope,
    kind: ImportKind,
    path: &PathBuf,
) -> import::ImportRecord {
    let (sha256, size) = import::digest(std::fs::File::open(path).unwrap()).unwrap();
    let mut tx = db.begin().await.unwrap();
    let r = import::create(
        scope,
        &mut tx,
        Timestamp::new(NOW),
        &NewImport {
            kind,
            fiscal_year: None,
            file_name: path.display().to_string(),
            sha256,
            size_bytes: size,
            blob_key: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = import::run(
        scope,
        db,
        Timestamp::new(NOW),
        &r.id,
        Box::new(std::fs::File::open(path).unwrap()),
        Arc::new(Progress::default()),
    )
    .await
    .unwrap();
    assert_eq!(r.status, "done", "{:?}", r.problems());
    r
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = arg("--database-url").unwrap_or_else(|| "sqlite:///tmp/munishare-bench.db".into());
    let total: u64 = arg("--lines").map_or(10_000_000, |s| s.parse().unwrap());
    let dir = PathBuf::from(arg("--work-dir").unwrap_or_else(|| "/tmp/munishare-bench".into()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let now = Timestamp::new(NOW);
    demo::seed(&db, now, Some("bench-password-123".into()))
        .await
        .unwrap();
    // A council finance officer granted finance administration in every town.
    let admin = CouncilAdmin::operator_console("bench");
    let (user, _) = identity::create_user(
        &admin,
        &db,
        now,
        &identity::NewUser {
            username: "bench.officer".into(),
            display_name: "Bench".into(),
            email: "bench@example.gov".into(),
            council_admin: false,
        },
    )
    .await
    .unwrap();
    let role = access::list_roles(&mut db.read().await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.slug == "town-administrator")
        .unwrap();
    access::create_grant(
        &admin,
        &db,
        now,
        &NewGrant {
            user_id: user.id.clone(),
            role_id: role.id,
            municipality_id: None,
            service: None,
        },
    )
    .await
    .unwrap();
    let principal = identity::principal_for_user(&user);
    let towns: Vec<ServiceScope> = {
        let mut v = Vec::new();
        for t in munishare_platform::tenancy::list_all(&mut db.read().await.unwrap())
            .await
            .unwrap()
        {
            // Every town subscribes to finance for the benchmark (the demo subscribes a few).
            let mut tx = db.begin().await.unwrap();
            let _ = munishare_platform::tenancy::subscribe(
                &admin,
                &mut tx,
                now,
                &t,
                Service::Finance,
                date!(2023 - 07 - 01),
            )
            .await;
            tx.commit().await.unwrap();
            if let Ok(s) = access::authorize_service(
                &db,
                &principal,
                NOW.date(),
                t.slug.as_str(),
                Service::Finance,
                Permission::View,
            )
            .await
            {
                v.push(s);
            }
        }
        v
    };
    let towns: Vec<ServiceScope> = match arg("--towns") {
        Some(n) => towns.into_iter().take(n.parse().unwrap()).collect(),
        None => towns,
    };
    let per_town = total / towns.len() as u64;
    println!(
        "backend {} · {} towns · {per_town} lines each",
        db.backend(),
        towns.len()
    );
    let (chart_csv, revenues, expenditures) = chart();
    let chart_path = dir.join("chart.csv");
    std::fs::write(&chart_path, &chart_csv).unwrap();
    // Books and files first (not timed), then the imports, `--parallel` towns at a time.
    let mut files = Vec::new();
    let mut imported = 0u64;
    for (i, scope) in towns.iter().enumerate() {
        import_file(&db, scope, ImportKind::Chart, &chart_path).await;
        let mut tx = db.begin().await.unwrap();
        for y in YEARS {
            service::open_fiscal_year(
                scope,
                &mut tx,
                now,
                EntityKind::TownGovernment,
                FiscalYear::ending("fy", y).unwrap(),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let path = dir.join(format!("journal-{i}.csv"));
        let n = journal(
            &path,
            per_town,
            0x9e37_79b9_7f4a_7c15 ^ i as u64,
            &revenues,
            &expenditures,
        );
        imported += n;
        files.push((scope.clone(), path, n));
    }
    let parallel: usize = arg("--parallel").map_or(1, |s| s.parse().unwrap());
    let files = Arc::new(files);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let (db, files, next) = (db.clone(), files.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((scope, path, n)) = files.get(i) else {
                    return;
                };
                let r = import_file(&db, scope, ImportKind::Journal, path).await;
                assert_eq!(r.rows_read as u64, *n);
                if i % 8 == 0 {
                    println!("  town {} imported", i + 1);
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    let import_time = started.elapsed();
    println!(
        "import ({parallel} at a time): {imported} lines in {:.1} s = {:.0} lines/s; this process used {:.1} s of CPU",
        import_time.as_secs_f64(),
        imported as f64 / import_time.as_secs_f64(),
        cpu_seconds() - cpu_before
    );
    let files: Vec<PathBuf> = files.iter().map(|(_, p, _)| p.clone()).collect();

    let town = &towns[0];
    let mut conn = db.read().await.unwrap();
    for (label, as_of) in [
        ("mid-period", date!(2025 - 11 - 17)),
        ("year end", date!(2025 - 06 - 30)),
    ] {
        let mut t = Vec::new();
        for _ in 0..21 {
            let s = Instant::now();
            let tb =
                service::trial_balance(town, &mut conn, EntityKind::TownGovernment, None, as_of)
                    .await
                    .unwrap();
            t.push(s.elapsed());
            assert!(!tb.is_empty());
        }
        println!(
            "trial balance, one town, {label}: median {:.1} ms",
            median(t).as_secs_f64() * 1e3
        );
        let mut t = Vec::new();
        for _ in 0..21 {
            let s = Instant::now();
            budget::budget_vs_actual(town, &mut conn, EntityKind::TownGovernment, as_of)
                .await
                .unwrap();
            t.push(s.elapsed());
        }
        println!(
            "budget vs actual, one town, {label}: median {:.1} ms",
            median(t).as_secs_f64() * 1e3
        );
        let mut t = Vec::new();
        for _ in 0..5 {
            let s = Instant::now();
            for scope in &towns {
                service::trial_balance(scope, &mut conn, EntityKind::TownGovernment, None, as_of)
                    .await
                    .unwrap();
            }
            t.push(s.elapsed());
        }
        println!(
            "trial balance, whole region ({} towns), {label}: median {:.0} ms",
            towns.len(),
            median(t).as_secs_f64() * 1e3
        );
    }
    drop(conn);

    if let munishare_platform::db::ConnRef::Postgres(_) =
        munishare_platform::db::Executor::conn(&mut db.read().await.unwrap())
    {
        // The floor: the server's own COPY of the same rows into an unindexed table.
        let mut c = db.read().await.unwrap();
        if let munishare_platform::db::ConnRef::Postgres(pg) =
            munishare_platform::db::Executor::conn(&mut c)
        {
            sqlx::query("CREATE TEMP TABLE peer_lines (reference TEXT, entry_date TEXT, description TEXT, account TEXT, debit TEXT, credit TEXT, memo TEXT)")
                .execute(&mut *pg)
                .await
                .unwrap();
            let started = Instant::now();
            for f in &files {
                let mut copy = pg
                    .copy_in_raw("COPY peer_lines FROM STDIN WITH (FORMAT csv, HEADER true)")
                    .await
                    .unwrap();
                copy.send(std::fs::read(f).unwrap()).await.unwrap();
                copy.finish().await.unwrap();
            }
            let el = started.elapsed();
            println!(
                "peer: PostgreSQL COPY of the same files into an unindexed table: {:.1} s = {:.0} lines/s",
                el.as_secs_f64(),
                imported as f64 / el.as_secs_f64()
            );
        }
    }
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    db.close().await;
}
