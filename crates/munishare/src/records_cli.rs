//! `munishare records …`: the records module's console commands.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use munishare_platform::access::CouncilAdmin;
use munishare_platform::jobs::Progress;
use munishare_platform::types::Timestamp;
use munishare_platform::{Clock, Db, SystemClock, tenancy};
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
                let reporter = tokio::spawn(report(progress.clone(), t.to_string()));
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

/// Prints "  town: 42.0% · 420,000 documents" twice a second.
async fn report(progress: Arc<Progress>, town: String) {
    let tty = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_millis(if tty { 500 } else { 5000 }));
    loop {
        tick.tick().await;
        let line = format!(
            "  {town}: {:>3}.{}% · {} documents",
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
