//! The scrub: the server re-reads packs and checks each against its SHA-256 name, so damage in
//! the object store is found before a restore needs the pack (docs/design/0012, "Server side").
//!
//! Each run checks the packs not checked in the last [`RECHECK_DAYS`] days, oldest first, up to
//! [`BYTES_PER_RUN`]; a damaged or missing pack is recorded on its object with the reason, and
//! reported with the kept snapshots that need it (one audit event per run that finds damage).
//! The periodic `backup.scrub` job runs it hourly for each repository's owner (who created it),
//! with that person's rights today; a town administrator can also run it from the page or API.

use munishare_platform::access::ServiceScope;
use munishare_platform::blob::BlobStore;
use munishare_platform::db::{Db, Executor};
use munishare_platform::types::{MunicipalityId, Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::objects::object_key;
use crate::{Scheduled, change, for_each_repository, repos, require};

/// A pack is checked again after this many days.
pub const RECHECK_DAYS: i64 = 7;

/// At most this many bytes are read per repository and run (the rest wait for the next run).
pub const BYTES_PER_RUN: i64 = 4 << 30;

/// A damaged pack and the kept snapshots that need it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Damage {
    /// The pack's name.
    pub pack: String,
    /// What failed.
    pub reason: String,
    /// When it was found.
    pub found_at: String,
    /// Kept snapshots that reference the pack.
    pub snapshots: Vec<String>,
}

/// What a scrub run did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ScrubReport {
    /// The repository.
    pub repo_id: String,
    /// Packs read in this run.
    pub packs_checked: u64,
    /// Bytes read in this run.
    pub bytes_checked: i64,
    /// Packs found damaged in this run.
    pub damaged: Vec<Damage>,
}

/// The repository's integrity as last checked.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Integrity {
    /// The repository.
    pub repo_id: String,
    /// The repository's name.
    pub repo_name: String,
    /// The last scrub.
    pub last_scrub_at: Option<String>,
    /// Packs checked within the last [`RECHECK_DAYS`] days.
    pub packs_verified: i64,
    /// All packs.
    pub packs: i64,
    /// Damaged packs, with the snapshots they break.
    pub damaged: Vec<Damage>,
}

/// Checks up to `budget` bytes of the repository's packs due for a check (view permission).
pub async fn scrub(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    repo: &str,
    budget: i64,
) -> Result<ScrubReport> {
    require(scope, Permission::View)?;
    let town = scope.municipality_id();
    let (repo, due) = {
        let mut c = db.read().await?;
        let repo = repos::get(scope, &mut c, repo).await?;
        let cutoff = Timestamp::new(now.datetime() - time::Duration::days(RECHECK_DAYS)).to_db();
        let due: Vec<(String, i64)> = dispatch!(&mut c, c => sqlx::query_as(
            "SELECT name, size FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 AND kind = 'data' \
             AND (checked_at IS NULL OR checked_at < $3) ORDER BY COALESCE(checked_at, ''), name")
            .bind(town).bind(&repo.id).bind(&cutoff).fetch_all(c).await)?;
        (repo, due)
    };
    let mut report = ScrubReport {
        repo_id: repo.id.clone(),
        ..ScrubReport::default()
    };
    let mut results: Vec<(String, Option<String>)> = Vec::new();
    for (name, size) in due {
        if report.packs_checked > 0 && report.bytes_checked + size > budget {
            break;
        }
        let damage = match blobs
            .get(&object_key(scope, &repo.id, "data", &name)?)
            .await
        {
            Ok(bytes) => {
                let hash = munishare_platform::types::hex(&Sha256::digest(&bytes));
                if i64::try_from(bytes.len()).ok() != Some(size) {
                    Some(format!(
                        "{} bytes stored where {size} were accepted",
                        bytes.len()
                    ))
                } else if hash != name {
                    Some(format!("SHA-256 is {hash}, not its name"))
                } else {
                    None
                }
            }
            Err(Error::NotFound { .. }) => Some("missing from the object store".to_owned()),
            Err(e) => return Err(e),
        };
        report.packs_checked += 1;
        report.bytes_checked += size;
        results.push((name, damage));
    }
    let mut tx = db.begin().await?;
    for (name, damage) in &results {
        execute!(&mut tx, c => sqlx::query(
            "UPDATE backup_objects SET checked_at = $4, damage = $5 WHERE municipality_id = $1 AND repo_id = $2 AND kind = 'data' AND name = $3")
            .bind(town).bind(&repo.id).bind(name).bind(now.to_db()).bind(damage).execute(c).await)?;
        if let Some(reason) = damage {
            let snapshots = snapshots_needing(&mut tx, town, &repo.id, name).await?;
            report.damaged.push(Damage {
                pack: name.clone(),
                reason: reason.clone(),
                found_at: now.to_db(),
                snapshots,
            });
        }
    }
    execute!(&mut tx, c => sqlx::query(
        "UPDATE backup_repositories SET last_scrub_at = $3 WHERE municipality_id = $1 AND id = $2")
        .bind(town).bind(&repo.id).bind(now.to_db()).execute(c).await)?;
    if !report.damaged.is_empty() {
        audit::record(
            &mut tx,
            now,
            scope.actor(),
            change(
                scope,
                "backup.scrub.damage",
                "backup_repository",
                &repo.id,
                None,
                Some(serde_json::json!({"repo": repo.name, "packs_checked": report.packs_checked, "damaged": report.damaged})),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

async fn snapshots_needing(
    ex: &mut impl Executor,
    town: &MunicipalityId,
    repo: &str,
    pack: &str,
) -> Result<Vec<String>> {
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT p.snapshot FROM backup_snapshot_packs p JOIN backup_snapshots s ON s.municipality_id = p.municipality_id \
         AND s.repo_id = p.repo_id AND s.name = p.snapshot WHERE p.municipality_id = $1 AND p.repo_id = $2 AND p.pack = $3 \
         AND s.forgotten_at IS NULL ORDER BY s.time DESC")
        .bind(town).bind(repo).bind(pack).fetch_all(c).await)?)
}

/// Every repository's integrity in the town (view).
pub async fn integrity(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    now: Timestamp,
) -> Result<Vec<Integrity>> {
    require(scope, Permission::View)?;
    let town = scope.municipality_id();
    let cutoff = Timestamp::new(now.datetime() - time::Duration::days(RECHECK_DAYS)).to_db();
    let rows: Vec<(String, String, Option<String>, i64, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT r.id, r.name, r.last_scrub_at, \
         (SELECT COUNT(*) FROM backup_objects o WHERE o.municipality_id = r.municipality_id AND o.repo_id = r.id AND o.kind = 'data' \
          AND o.checked_at >= $2 AND o.damage IS NULL), \
         (SELECT COUNT(*) FROM backup_objects o WHERE o.municipality_id = r.municipality_id AND o.repo_id = r.id AND o.kind = 'data') \
         FROM backup_repositories r WHERE r.municipality_id = $1 ORDER BY r.name")
        .bind(town).bind(&cutoff).fetch_all(&mut *c).await)?;
    let mut out = Vec::new();
    for (repo_id, repo_name, last_scrub_at, packs_verified, packs) in rows {
        let bad: Vec<(String, String, String)> = dispatch!(ex, c => sqlx::query_as(
            "SELECT name, damage, checked_at FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 AND kind = 'data' \
             AND damage IS NOT NULL ORDER BY name")
            .bind(town).bind(&repo_id).fetch_all(c).await)?;
        let mut damaged = Vec::new();
        for (pack, reason, found_at) in bad {
            let snapshots = snapshots_needing(ex, town, &repo_id, &pack).await?;
            damaged.push(Damage {
                pack,
                reason,
                found_at,
                snapshots,
            });
        }
        out.push(Integrity {
            repo_id,
            repo_name,
            last_scrub_at,
            packs_verified,
            packs,
            damaged,
        });
    }
    Ok(out)
}

/// The periodic job.
pub const JOB: &str = "backup.scrub";

/// Registers the hourly scrub.
pub fn register_jobs(registry: &mut munishare_platform::jobs::Registry) {
    registry.register_periodic(
        JOB,
        time::Duration::hours(1),
        |ctx: munishare_platform::jobs::JobContext, _p: serde_json::Value| async move {
            let outcome = run_scheduled(&ctx).await?;
            serde_json::to_value(outcome).map_err(|e| Error::Internal(e.to_string()))
        },
    );
}

/// Scrubs every repository, each for its owner with that person's rights today.
pub async fn run_scheduled(
    ctx: &munishare_platform::jobs::JobContext,
) -> Result<Vec<Scheduled<ScrubReport>>> {
    let now = Timestamp::new(ctx.clock.now());
    for_each_repository(ctx, "scheduled backup scrub", |scope, repo| async move {
        scrub(&scope, &ctx.db, &ctx.blobs, now, &repo, BYTES_PER_RUN).await
    })
    .await
}
