//! `munishare import finance` (a town's books from a CSV or XLSX file, with a
//! progress line on standard error) and `munishare import assessment` (the
//! roll, sales, permits and the DMV's files), each run as a named user whose
//! grants apply and who is named in the audit log.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use munishare_assessment::imports::{self, Load};
use munishare_ledger::import::{self, ImportKind, NewImport, Progress};
use munishare_platform::access::ServiceScope;
use munishare_platform::blob::BlobStore;
use munishare_platform::types::{FiscalYear, Permission, Service, Timestamp};
use munishare_platform::{Clock, Db, Error, SystemClock, access, identity};

/// Options of `munishare import finance`.
#[derive(Debug, Args)]
pub struct FinanceImport {
    /// The town's short name, e.g. hartford.
    #[arg(long)]
    town: String,
    /// The user the import is made as; their grants in the town apply.
    #[arg(long = "as", value_name = "USERNAME")]
    user: String,
    /// What the file holds: chart, openings, budget or journal.
    #[arg(long)]
    kind: String,
    /// For budgets and opening balances: the fiscal year, named by the year it ends (2027 = July 2026 – June 2027).
    #[arg(long)]
    fiscal_year: Option<i32>,
    /// The CSV or XLSX file.
    file: PathBuf,
}

/// Runs the import; Ok(false) when the file was rejected.
pub async fn run(db: &Db, args: FinanceImport) -> Result<bool> {
    let kind = ImportKind::parse("kind", &args.kind)?;
    let now = Timestamp::new(SystemClock.now());
    let scope = scope_as(
        db,
        now,
        &args.user,
        &args.town,
        Service::Finance,
        Permission::View,
    )
    .await
    .with_context(|| format!("{} cannot reach finance in {}", args.user, args.town))?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let open = || {
        std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))
    };
    let (sha256, size) = import::digest(open()?)?;
    let fiscal_year = args
        .fiscal_year
        .map(|y| FiscalYear::ending("fiscal-year", y))
        .transpose()?;
    let mut tx = db.begin().await?;
    let record = import::create(
        &scope,
        &mut tx,
        now,
        &NewImport {
            kind,
            fiscal_year,
            file_name: name.clone(),
            sha256,
            size_bytes: size,
            blob_key: None,
        },
    )
    .await?;
    tx.commit().await?;

    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let reporter = tokio::spawn(report(progress.clone(), started));
    let outcome = import::run(
        &scope,
        db,
        now,
        &record.id,
        Box::new(open()?),
        progress.clone(),
    )
    .await;
    reporter.abort();
    let elapsed = started.elapsed();
    eprintln!();
    let record = outcome?;
    match record.status.as_str() {
        "done" => {
            println!(
                "Imported {} ({} rows in {:.1} s, {:.0} rows/s) into {} as import {}.",
                name,
                record.rows_read,
                elapsed.as_secs_f64(),
                rate(record.rows_read, elapsed),
                scope.town().name,
                record.id
            );
            for (k, v) in record.summary_pairs() {
                println!("  {k}: {v}");
            }
            Ok(true)
        }
        "rejected" => {
            eprintln!(
                "{name} was not imported: {} problem(s); nothing was written.",
                record.problem_count()
            );
            for p in record.problems() {
                eprintln!("  {}", p.describe(&name));
            }
            Ok(false)
        }
        other => bail!("the import ended {other}"),
    }
}

fn rate(rows: i64, elapsed: Duration) -> f64 {
    // Display only; counts stay integers everywhere else.
    rows as f64 / elapsed.as_secs_f64().max(0.001)
}

/// Prints "  42.0% · 420,000 rows · 180,000 rows/s" twice a second.
async fn report(progress: Arc<Progress>, started: Instant) {
    let tty = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_millis(if tty { 500 } else { 5000 }));
    loop {
        tick.tick().await;
        let rows = progress.items();
        let line = format!(
            "  {:>3}.{}% · {rows} rows · {:.0} rows/s",
            progress.permille() / 10,
            progress.permille() % 10,
            rate(i64::try_from(rows).unwrap_or(i64::MAX), started.elapsed())
        );
        let mut err = std::io::stderr();
        let _ = if tty {
            write!(err, "\r{line}   ")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}

/// The scope a named user has in a town's service, as a command acting for them.
pub(crate) async fn scope_as(
    db: &Db,
    now: Timestamp,
    username: &str,
    town: &str,
    service: Service,
    permission: Permission,
) -> Result<ServiceScope> {
    let mut conn = db.read().await?;
    let user = identity::user_by_username(&mut conn, username)
        .await?
        .with_context(|| format!("no user named {username}"))?;
    drop(conn);
    Ok(access::authorize_service(
        db,
        &identity::principal_for_user(&user),
        now.datetime().date(),
        town,
        service,
        permission,
    )
    .await?)
}

/// Options of `munishare import assessment`.
#[derive(Debug, Args)]
pub struct AssessmentImport {
    /// The town's short name, e.g. hartford.
    #[arg(long)]
    town: String,
    /// The user the import is made as; their grants in the town apply (edit in assessment).
    #[arg(long = "as", value_name = "USERNAME")]
    user: String,
    /// What the file holds: parcels, sales-csv, sales-opm, permits, motor-vehicles or
    /// supplemental-motor-vehicles.
    #[arg(long)]
    kind: String,
    /// For motor-vehicle files: the grand-list year (October 1 of it).
    #[arg(long)]
    list_year: Option<i64>,
    /// The object store the server uses (as `serve --object-store`; default: DATA_DIR/objects).
    #[arg(long, env = "MUNISHARE_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// The CSV file.
    file: PathBuf,
}

/// Imports a town's assessment file the way the page and the API do (kept in
/// the object store, all or nothing); Ok(false) when the file was refused,
/// with the reason (naming the row and column) on standard error.
pub async fn run_assessment(db: &Db, blobs: &BlobStore, args: AssessmentImport) -> Result<bool> {
    let load = Load::parse(&args.kind, args.list_year)?;
    let now = Timestamp::new(SystemClock.now());
    let scope = scope_as(
        db,
        now,
        &args.user,
        &args.town,
        Service::Assessment,
        Permission::Edit,
    )
    .await
    .with_context(|| format!("{} cannot edit assessment in {}", args.user, args.town))?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let started = Instant::now();
    match imports::run(&scope, db, blobs, now, load, &name, bytes.into()).await {
        Ok(r) => {
            println!(
                "Imported {} into {} as {} ({} rows, {} added, {} changed, {:.1} s) as import {}.",
                r.file_name,
                scope.town().name,
                r.kind,
                r.rows,
                r.added,
                r.changed,
                started.elapsed().as_secs_f64(),
                r.id
            );
            Ok(true)
        }
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            eprintln!("{name} was not imported; nothing was written. {e}");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}
