//! `munishare records …` (the records module's console commands) and
//! `munishare import records DIR` (bulk filing of a directory, with progress).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use munishare_platform::access::CouncilAdmin;
use munishare_platform::blob::BlobStore;
use munishare_platform::jobs::Progress;
use munishare_platform::types::{Permission, Service, Timestamp};
use munishare_platform::{Clock, Db, SystemClock, tenancy};
use munishare_records::documents::{self, DocumentIn};
use munishare_records::search::{self, SearchIndexes};

/// Records commands.
#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Rebuild the search index of a town (or of every town) from the database: asks every
    /// server node to rebuild its copy, and rebuilds this machine's copy now, with progress.
    Reindex {
        /// The town's short name, e.g. hartford; every town with records when absent.
        #[arg(long)]
        town: Option<String>,
    },
}

/// Runs a records command against the database and this machine's indexes.
pub async fn run(db: &Db, indexes: &SearchIndexes, cmd: RecordsCommand) -> Result<()> {
    match cmd {
        RecordsCommand::Reindex { town } => {
            let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
            let admin = CouncilAdmin::operator_console(&who);
            let town = match town {
                Some(slug) => {
                    let mut c = db.read().await?;
                    let t = tenancy::find_by_slug(&mut c, &slug)
                        .await?
                        .with_context(|| format!("no town named {slug}"))?;
                    Some(t.id)
                }
                None => None,
            };
            let now = Timestamp::new(SystemClock.now());
            let towns = search::request_reindex_by_operator(&admin, db, now, town.as_ref()).await?;
            if towns.is_empty() {
                bail!("no town has records yet; there is nothing to index");
            }
            for t in towns {
                let progress = Arc::new(Progress::default());
                let started = Instant::now();
                let reporter = tokio::spawn(report(progress.clone(), t.to_string(), "documents"));
                let done = search::sync_town_with(db, indexes, &t, Some(&progress)).await;
                reporter.abort();
                eprintln!();
                let done = done.with_context(|| {
                    format!("the index of {t} could not be rebuilt (if a server on this machine is writing it, it will finish the rebuild itself)")
                })?;
                println!(
                    "{t}: {} documents indexed in {:.1} s.",
                    done.indexed,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
    }
}

/// Options of `munishare import records`.
#[derive(Debug, Args)]
pub struct RecordsImport {
    /// The town's short name, e.g. hartford.
    #[arg(long)]
    town: String,
    /// The user the documents are filed as; their grants in the town apply (edit in records).
    #[arg(long = "as", value_name = "USERNAME")]
    user: String,
    /// A document type's name for every file.
    #[arg(long = "type")]
    doc_type: Option<String>,
    /// A department's code for every file (town-wide when absent).
    #[arg(long)]
    department: Option<String>,
    /// Tags for every file, separated by commas.
    #[arg(long)]
    tags: Option<String>,
    /// The object store the server uses (as `serve --object-store`; default: DATA_DIR/objects).
    #[arg(long, env = "MUNISHARE_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// The directory: every file under it (hidden ones passed over) becomes a document.
    dir: PathBuf,
}

/// Files every file under the directory; Ok(false) when some were refused (each named on
/// standard error with the reason; the others were filed).
pub async fn import(db: &Db, blobs: &BlobStore, args: RecordsImport) -> Result<bool> {
    let now = Timestamp::new(SystemClock.now());
    let scope = crate::import_cli::scope_as(
        db,
        now,
        &args.user,
        &args.town,
        Service::Records,
        Permission::Edit,
    )
    .await
    .with_context(|| format!("{} cannot file records in {}", args.user, args.town))?;
    let meta = {
        let mut c = db.read().await?;
        documents::check_meta(
            &scope,
            &mut c,
            &DocumentIn {
                doc_type: args.doc_type.clone(),
                department: args.department.clone(),
                tags: args
                    .tags
                    .as_deref()
                    .map(|t| t.split(',').map(str::to_owned).collect())
                    .unwrap_or_default(),
                ..DocumentIn::default()
            },
        )
        .await?
    };
    let listing = munishare_records::bulk::list_files(&args.dir)?;
    if listing.files.is_empty() {
        bail!("{} holds no files to file", args.dir.display());
    }
    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let reporter = tokio::spawn(report(progress.clone(), scope.town().name.clone(), "files"));
    let mut r = munishare_records::bulk::BulkReport::default();
    let outcome =
        munishare_records::bulk::import(&scope, db, blobs, now, &listing, &meta, &progress, &mut r)
            .await;
    reporter.abort();
    eprintln!();
    if let Err(e) = outcome {
        bail!(
            "the import stopped after filing {} documents ({} files were refused before it): {e}",
            r.filed,
            r.refused.len()
        );
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "Filed {} documents into {} ({} already held, stored once) from {} in {:.1} s: {:.0} documents/s.",
        r.filed,
        scope.town().name,
        r.deduplicated,
        args.dir.display(),
        secs,
        // Display only.
        r.filed as f64 / secs.max(0.001)
    );
    if listing.hidden > 0 {
        println!("Passed over {} hidden files or folders.", listing.hidden);
    }
    if r.refused.is_empty() {
        return Ok(true);
    }
    eprintln!(
        "{} files were refused (the others were filed):",
        r.refused.len()
    );
    for f in &r.refused {
        eprintln!("  {}: {}", f.file, f.message);
    }
    Ok(false)
}

/// Prints "  town: 42.0% · 420,000 documents" twice a second.
async fn report(progress: Arc<Progress>, town: String, unit: &'static str) {
    let tty = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_millis(if tty { 500 } else { 5000 }));
    loop {
        tick.tick().await;
        let line = format!(
            "  {town}: {:>3}.{}% · {} {unit}",
            progress.permille() / 10,
            progress.permille() % 10,
            progress.items()
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
