//! The `munishare` binary: serves the region, migrates, seeds the demo,
//! administers users and verifies the audit log. Thin: it parses options and
//! wires the platform and web crates together.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use munishare_platform::access::{self, CouncilAdmin, NewGrant};
use munishare_platform::blob::BlobStore;
use munishare_platform::identity::{self, NewUser};
use munishare_platform::jobs::{self, JobContext, ProgressBoard, Waker};
use munishare_platform::secrets::SecretKey;
use munishare_platform::types::{Service, Timestamp};
use munishare_platform::{Clock, Db, SystemClock, audit, demo, tenancy};
use munishare_web::{AppState, Inner, WebConfig};

mod backup_cli;
mod backup_http;
mod import_cli;
mod records_cli;

/// MuniShare: the shared back office of a region's towns.
#[derive(Debug, Parser)]
#[command(name = "munishare", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Options of `serve`, which runs when no command is given.
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args)]
struct Common {
    /// Directory for the embedded database and the local object store.
    #[arg(
        long,
        env = "MUNISHARE_DATA_DIR",
        default_value = "./munishare-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Database: sqlite://PATH (default: DATA_DIR/munishare.db) or postgres://USER@HOST/DB.
    #[arg(long, env = "MUNISHARE_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "MUNISHARE_LOG_JSON", global = true)]
    log_json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web UI and API (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Seed the demo region into an empty database and print how to sign in.
    Demo,
    /// Administer users and grants from the server's console.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import a town's data from a file.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Records tools (rebuild the search index).
    #[command(subcommand)]
    Records(records_cli::RecordsCommand),
    /// The backup client (init, backup, snapshots, ls, diff, restore, check, drill, key).
    #[command(flatten)]
    Backup(backup_cli::BackupCommand),
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Finance: chart of accounts, opening balances, budget or journal lines (CSV or XLSX).
    Finance(import_cli::FinanceImport),
    /// Assessment: the parcel roll, sales, building permits or the DMV's vehicles (CSV).
    Assessment(import_cli::AssessmentImport),
    /// Records: file every file under a directory as a document (bulk loads, scans), with progress.
    Records(records_cli::RecordsImport),
    /// OPM's real-estate sales file (CSV from data.ct.gov), for the regional ratio studies.
    OpmSales {
        /// The CSV file.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MUNISHARE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Object store: file:///ABSOLUTE/DIR (default: DATA_DIR/objects) or s3://BUCKET
    /// (with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP).
    #[arg(long, env = "MUNISHARE_OBJECT_STORE")]
    object_store: Option<String>,
    /// Replica store for off-site backup replication: file:///ABSOLUTE/DIR or s3://BUCKET (as
    /// --object-store), or `none`. Default: DATA_DIR/replica for the demo (a same-disk replica,
    /// for showing replication only), none with --no-demo.
    #[arg(long, env = "MUNISHARE_REPLICA_STORE")]
    replica_store: Option<String>,
    /// Do not seed the demo region into an empty database; create only a first administrator.
    #[arg(long, env = "MUNISHARE_NO_DEMO")]
    no_demo: bool,
    /// TLS certificate chain (PEM); serve HTTPS without a proxy.
    #[arg(long, env = "MUNISHARE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "MUNISHARE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Records intake folders: files dropped into DIR/{town}/{folder} are filed by themselves
    /// (default: DATA_DIR/intake).
    #[arg(long, env = "MUNISHARE_INTAKE_DIR")]
    intake_dir: Option<PathBuf>,
    /// Mark cookies Secure even without --tls-cert (behind a TLS-terminating proxy).
    #[arg(long, env = "MUNISHARE_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Jobs this node runs at once (imports, indexing, backups). Default: 2 on PostgreSQL (an
    /// import keeps one server process busy; two use both cores of the reference machine), 1 on
    /// SQLite, which has one writer.
    #[arg(long, env = "MUNISHARE_JOB_WORKERS")]
    job_workers: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a user with a temporary password (printed once).
    CreateUser {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Email address.
        #[arg(long, default_value = "")]
        email: String,
        /// Make the user a council administrator.
        #[arg(long)]
        council_admin: bool,
    },
    /// Give a user a new temporary password (printed once), unlock the account and end its sessions.
    ResetPassword {
        /// The user.
        username: String,
    },
    /// List users.
    ListUsers,
    /// Grant a role to a user.
    Grant {
        /// The user.
        username: String,
        /// Role key, e.g. town-administrator, finance-clerk, auditor.
        #[arg(long)]
        role: String,
        /// Town short name; omit for the whole region.
        #[arg(long)]
        town: Option<String>,
        /// Limit to one service (requires --town).
        #[arg(long)]
        service: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every hash chain and report the first broken link of each.
    Verify,
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MUNISHARE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn database_url(common: &Common) -> Result<String> {
    if let Some(url) = &common.database_url {
        return Ok(url.clone());
    }
    std::fs::create_dir_all(&common.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            common.data_dir.display()
        )
    })?;
    Ok(format!(
        "sqlite://{}",
        common.data_dir.join("munishare.db").display()
    ))
}

fn object_store_url(data_dir: &Path, given: Option<&str>) -> Result<String> {
    if let Some(url) = given {
        return Ok(url.to_owned());
    }
    let dir = std::path::absolute(data_dir.join("objects"))
        .context("cannot resolve the data directory")?;
    Ok(format!("file://{}", dir.display()))
}

/// The replica store's URL: the one given (`none` for none), else `DATA_DIR/replica` for the
/// demo and none without it.
fn replica_store_url(data_dir: &Path, args: &ServeArgs) -> Result<Option<String>> {
    match args.replica_store.as_deref().map(str::trim) {
        Some("none") => Ok(None),
        Some(url) if !url.is_empty() => Ok(Some(url.to_owned())),
        _ if args.no_demo => Ok(None),
        _ => {
            let dir = std::path::absolute(data_dir.join("replica"))
                .context("cannot resolve the data directory")?;
            Ok(Some(format!("file://{}", dir.display())))
        }
    }
}

async fn open_db(common: &Common) -> Result<Db> {
    let url = database_url(common)?;
    let db = Db::connect(&url)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&url)))?;
    db.migrate().await.context("cannot migrate the database")?;
    Ok(db)
}

/// Hides a password in a database URL before printing it.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

fn print_demo(creds: &demo::DemoCredentials) {
    println!("\nThe demo region is ready. Sign in as:");
    println!(
        "  {:<26} password {}   (council administrator; shown only now)",
        creds.admin_username, creds.admin_password
    );
    for (u, what) in &creds.users {
        println!("  {u:<26} password {}   ({what})", creds.demo_password);
    }
    println!();
}

async fn seed_if_empty(db: &Db, blobs: &BlobStore, no_demo: bool) -> Result<()> {
    if !demo::is_empty(db).await? {
        return Ok(());
    }
    let now = Timestamp::new(SystemClock.now());
    if no_demo {
        let (user, password) = demo::bootstrap(db, now, "MuniShare region").await?;
        println!(
            "\nFirst administrator: {user}  password {password}  (shown only now; you will be asked to change it)\n"
        );
    } else {
        seed_demo(db, blobs).await?;
    }
    Ok(())
}

/// Seeds the demo region, the finance demo books and the assessment rolls,
/// and prints how to sign in.
async fn seed_demo(db: &Db, blobs: &BlobStore) -> Result<()> {
    let now = Timestamp::new(SystemClock.now());
    let demo_password = std::env::var("MUNISHARE_DEMO_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let creds = demo::seed(db, now, demo_password).await?;
    let started = std::time::Instant::now();
    let books = munishare_ledger::demo::seed(db, now).await?;
    let took = started.elapsed();
    let sales = munishare_assessment::demo::seed(db, now).await?;
    let started = std::time::Instant::now();
    let rolls = munishare_assessment::demo::seed_rolls(db, blobs, now).await?;
    let roll_took = started.elapsed();
    let records = munishare_records::demo::seed(db, blobs, now).await?;
    print_demo(&creds);
    println!(
        "Finance books (town and board of education, last year closed and this year's months) for {} towns, \
         seeded in {}.{} s.\n",
        books.len(),
        took.as_secs(),
        took.subsec_millis() / 100
    );
    println!(
        "Ratio studies: {} OPM sales of the region's towns at /assessment/ratio-studies\n",
        sales.rows
    );
    println!(
        "Assessment rolls for {} towns ({} parcels, {} sales drawn from a hidden market model), seeded in {}.{} s.\n",
        rolls.len(),
        rolls.iter().map(|r| r.1).sum::<usize>(),
        rolls.iter().map(|r| r.2).sum::<usize>(),
        roll_took.as_secs(),
        roll_took.subsec_millis() / 100
    );
    println!(
        "Records: {records} documents with document types in {} towns at /t/hartford/records\n",
        munishare_records::demo::TOWNS.len()
    );
    Ok(())
}

/// `munishare import opm-sales FILE`, as the operator.
async fn import_opm_sales(
    db: &Db,
    file: &Path,
) -> Result<munishare_assessment::opm::ImportSummary> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let mut tx = db.begin().await?;
    let summary = munishare_assessment::opm::import(
        &munishare_platform::access::CouncilAdmin::operator_console(&who),
        &mut tx,
        Timestamp::new(SystemClock.now()),
        &name,
        &bytes,
    )
    .await?;
    tx.commit().await?;
    Ok(summary)
}

/// The key that seals vendors' bank account numbers: `MUNISHARE_SECRET_KEY`
/// (64 hex digits; an environment variable only, never a flag, so it does not
/// show in process lists), else `DATA_DIR/secret.key`, made on first start.
fn secret_key(data_dir: &Path) -> Result<SecretKey> {
    Ok(match std::env::var("MUNISHARE_SECRET_KEY") {
        Ok(hex) if !hex.is_empty() => SecretKey::from_hex("MUNISHARE_SECRET_KEY", &hex)?,
        _ => SecretKey::load_or_create(&data_dir.join("secret.key"))?,
    })
}

/// How many job workers to run: `asked`, or the backend's default.
fn job_workers(backend: &str, asked: Option<usize>) -> Result<usize> {
    match (backend, asked) {
        (_, Some(0)) => bail!("--job-workers must be at least 1"),
        ("sqlite", Some(n)) if n > 1 => bail!(
            "--job-workers {n}: SQLite has one writer, so this node runs one job at a time; \
             use PostgreSQL to run more"
        ),
        ("sqlite", _) => Ok(1),
        (_, Some(n)) => Ok(n),
        (_, None) => Ok(2),
    }
}

async fn serve(common: &Common, args: &ServeArgs) -> Result<()> {
    let db = open_db(common).await?;
    let workers = job_workers(db.backend(), args.job_workers)?;
    let blobs = BlobStore::open(&object_store_url(
        &common.data_dir,
        args.object_store.as_deref(),
    )?)
    .context("cannot open the object store")?;
    let replica = match replica_store_url(&common.data_dir, args)? {
        Some(url) => {
            let r = BlobStore::open(&url).context("cannot open the replica store")?;
            println!("Backup replication copies to {}", r.describe());
            Some(r)
        }
        None => {
            println!("Backup replication is off (no --replica-store)");
            None
        }
    };
    seed_if_empty(&db, &blobs, args.no_demo).await?;
    let addr: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "--listen {} is not an address like 127.0.0.1:8080",
            args.listen
        )
    })?;
    let secrets = secret_key(&common.data_dir)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let waker = Waker::default();
    let progress = ProgressBoard::default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    println!("Job workers: {workers}");
    let registry = munishare::jobs();
    let workers: Vec<_> = (0..workers)
        .map(|i| {
            tokio::spawn(jobs::run_worker(
                if i == 0 {
                    registry.clone()
                } else {
                    registry.without_schedules()
                },
                JobContext {
                    db: db.clone(),
                    clock: clock.clone(),
                    blobs: blobs.clone(),
                    replica: replica.clone(),
                    progress: progress.clone(),
                },
                waker.clone(),
                std::time::Duration::from_secs(2),
                stop_rx.clone(),
            ))
        })
        .collect();
    let modules = munishare::module_state(&common.data_dir, args.intake_dir.as_deref());
    let intake = modules
        .get::<munishare_records::intake::IntakeRoot>()
        .cloned()
        .map(|root| {
            tokio::spawn(munishare_records::intake::run_watcher(
                db.clone(),
                blobs.clone(),
                root.0,
                clock.clone(),
                std::time::Duration::from_secs(10),
                stop_rx.clone(),
            ))
        });
    let indexer = modules
        .get::<munishare_records::search::SearchIndexes>()
        .cloned()
        .map(|indexes| {
            tokio::spawn(munishare_records::search::run_indexer(
                db.clone(),
                indexes,
                std::time::Duration::from_secs(1),
                stop_rx.clone(),
            ))
        });
    let tls = args.tls_cert.is_some();
    let state = AppState::new(Inner {
        region_name: demo::region_name(&db).await?,
        signin_throttle: Default::default(),
        modules,
        db: db.clone(),
        blobs,
        replica,
        secrets,
        clock,
        jobs: waker,
        progress,
        config: WebConfig {
            secure_cookies: tls || args.secure_cookies,
            ..WebConfig::default()
        },
    });
    let app = munishare::app(state).router;
    let scheme = if tls { "https" } else { "http" };
    println!(
        "MuniShare is serving at {scheme}://{addr}/  (database: {}, API docs: {scheme}://{addr}/api/docs)",
        db.backend()
    );
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .context("cannot read --tls-cert/--tls-key")?;
            axum_server::bind_rustls(addr, config)
                .handle(handle)
                .serve(service)
                .await?;
        }
        _ => {
            axum_server::bind(addr)
                .handle(handle)
                .serve(service)
                .await?
        }
    }
    let _ = stop_tx.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    for task in [indexer, intake].into_iter().flatten() {
        let _ = task.await;
    }
    db.close().await;
    Ok(())
}

async fn admin_command(common: &Common, cmd: AdminCommand) -> Result<()> {
    let db = open_db(common).await?;
    let now = Timestamp::new(SystemClock.now());
    let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let admin = CouncilAdmin::operator_console(&who);
    match cmd {
        AdminCommand::CreateUser {
            username,
            name,
            email,
            council_admin,
        } => {
            let (user, password) = identity::create_user(
                &admin,
                &db,
                now,
                &NewUser {
                    username,
                    display_name: name,
                    email,
                    council_admin,
                },
            )
            .await?;
            println!(
                "Created {}. Temporary password (shown once): {password}",
                user.username
            );
        }
        AdminCommand::ResetPassword { username } => {
            let mut c = db.read().await?;
            let user = identity::user_by_username(&mut c, &username)
                .await?
                .with_context(|| format!("no user named {username}"))?;
            drop(c);
            let (_, password) = identity::reset_password(&admin, &db, now, &user.id).await?;
            println!(
                "New temporary password for {} (shown once): {password}",
                user.username
            );
        }
        AdminCommand::ListUsers => {
            for u in identity::list_users(&admin, &db).await? {
                let status = if !u.active {
                    "disabled"
                } else if u.locked_until.is_some() {
                    "locked"
                } else {
                    "active"
                };
                println!(
                    "{:<28} {:<36} {status}{}",
                    u.username,
                    u.display_name,
                    if u.council_admin {
                        ", council admin"
                    } else {
                        ""
                    }
                );
            }
        }
        AdminCommand::Grant {
            username,
            role,
            town,
            service,
        } => {
            let mut c = db.read().await?;
            let user = identity::user_by_username(&mut c, &username)
                .await?
                .with_context(|| format!("no user named {username}"))?;
            let roles = access::list_roles(&mut c).await?;
            let role = roles.iter().find(|r| r.slug == role).with_context(|| {
                format!(
                    "no role {role}; roles: {}",
                    roles
                        .iter()
                        .map(|r| r.slug.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let municipality_id = match &town {
                None => None,
                Some(slug) => Some(
                    tenancy::find_by_slug(&mut c, slug)
                        .await?
                        .with_context(|| format!("no town {slug}"))?
                        .id,
                ),
            };
            drop(c);
            let service = service.map(|s| Service::parse("service", &s)).transpose()?;
            if service.is_some() && municipality_id.is_none() {
                bail!("--service needs --town");
            }
            let g = access::create_grant(
                &admin,
                &db,
                now,
                &NewGrant {
                    user_id: user.id,
                    role_id: role.id.clone(),
                    municipality_id,
                    service,
                },
            )
            .await?;
            println!(
                "Granted {} to {} in {}.",
                g.role_name,
                g.username,
                g.town_name.unwrap_or_else(|| "the whole region".into())
            );
        }
    }
    db.close().await;
    Ok(())
}

async fn audit_verify(common: &Common) -> Result<bool> {
    let db = open_db(common).await?;
    let report = audit::verify(&db).await?;
    db.close().await;
    println!(
        "Checked {} events in {} chains.",
        report.events, report.chains
    );
    if report.broken.is_empty() {
        println!("Every chain is intact.");
        return Ok(true);
    }
    for b in &report.broken {
        println!("BROKEN chain {} at event {}: {}", b.chain, b.seq, b.reason);
    }
    Ok(false)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.common.log_json);
    match cli.command {
        None => serve(&cli.common, &cli.serve).await,
        Some(Command::Serve(args)) => serve(&cli.common, &args).await,
        Some(Command::Migrate) => {
            let db = open_db(&cli.common).await?;
            println!("The {} database is up to date.", db.backend());
            db.close().await;
            Ok(())
        }
        Some(Command::Demo) => {
            let db = open_db(&cli.common).await?;
            if !demo::is_empty(&db).await? {
                bail!("the database already holds a region; the demo seeds only an empty database");
            }
            // The demo's imported files go to the default object store in
            // the data directory (serve --object-store can name another).
            let blobs = BlobStore::open(&object_store_url(&cli.common.data_dir, None)?)
                .context("cannot open the object store")?;
            seed_demo(&db, &blobs).await?;
            db.close().await;
            Ok(())
        }
        Some(Command::Admin(cmd)) => admin_command(&cli.common, cmd).await,
        Some(Command::Import(ImportCommand::OpmSales { file })) => {
            let db = open_db(&cli.common).await?;
            let imported = import_opm_sales(&db, &file).await;
            db.close().await;
            match imported {
                Ok(s) => {
                    println!(
                        "{}: {} sales read, {} new, {} replaced.",
                        s.file_name, s.rows, s.added, s.replaced
                    );
                    Ok(())
                }
                Err(e) => {
                    eprintln!("Nothing was imported. {e}");
                    std::process::exit(2)
                }
            }
        }
        Some(Command::Import(ImportCommand::Assessment(args))) => {
            let db = open_db(&cli.common).await?;
            let blobs = BlobStore::open(&object_store_url(
                &cli.common.data_dir,
                args.object_store.as_deref(),
            )?)
            .context("cannot open the object store")?;
            let imported = import_cli::run_assessment(&db, &blobs, args).await;
            db.close().await;
            if imported? {
                Ok(())
            } else {
                std::process::exit(2)
            }
        }
        Some(Command::Import(ImportCommand::Records(args))) => {
            let db = open_db(&cli.common).await?;
            let blobs = BlobStore::open(&object_store_url(
                &cli.common.data_dir,
                args.object_store.as_deref(),
            )?)
            .context("cannot open the object store")?;
            let filed = records_cli::import(&db, &blobs, args).await;
            db.close().await;
            if filed? {
                Ok(())
            } else {
                std::process::exit(2)
            }
        }
        Some(Command::Import(ImportCommand::Finance(args))) => {
            let db = open_db(&cli.common).await?;
            let imported = import_cli::run(&db, args).await;
            db.close().await;
            if imported? {
                Ok(())
            } else {
                std::process::exit(2)
            }
        }
        Some(Command::Backup(cmd)) => {
            // A client's error is a sentence for the town's IT director, not a backtrace.
            match tokio::task::spawn_blocking(move || backup_cli::run(cmd)).await? {
                Ok(0) => Ok(()),
                Ok(code) => std::process::exit(code),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::exit(1)
                }
            }
        }
        Some(Command::Records(cmd)) => {
            let db = open_db(&cli.common).await?;
            let indexes =
                munishare_records::search::SearchIndexes::new(cli.common.data_dir.join("search"));
            let done = records_cli::run(&db, &indexes, cmd).await;
            db.close().await;
            done
        }
        Some(Command::Audit(AuditCommand::Verify)) => {
            if audit_verify(&cli.common).await? {
                Ok(())
            } else {
                std::process::exit(2)
            }
        }
    }
}
