//! Off-site replication: the server copies every object of each repository to a second object
//! store and verifies the copies, so a lost or damaged primary store is not a lost backup
//! (docs/design/0012, "Replication").
//!
//! A run does three things, in this order:
//! 1. **Copy.** Every object the server lists (`backup_objects`, all kinds) whose copy is not yet
//!    verified, oldest first, up to a byte budget: read from the primary, checked (its recorded
//!    size, and SHA-256 against the name for the content-named kinds `data`, `index` and
//!    `snapshots`), written to the replica, read back and checked again; only then is it marked
//!    `replicated_at`. An object the scrub recorded as damaged, or that fails the check on read,
//!    is never written (a good replica copy must not be overwritten by bad bytes): it is reported,
//!    and a damaged pack is recorded on its object like the scrub's findings.
//! 2. **Mirror.** Objects in the replica that the primary no longer lists (retention collected
//!    them) are deleted there, so the replica holds exactly what the primary lists.
//! 3. **Verify.** The replica is listed; every object marked replicated must be there with its
//!    size, and copies not re-read for [`RECHECK_DAYS`] days are re-read (within the same budget)
//!    against their name or the primary's bytes. A copy found missing or wrong loses its mark, so
//!    the next run copies it again. The pass records how many objects the replica lacks and, when
//!    none, that the replica was verified complete.
//!
//! Lag is `now − created_at` of the oldest object not yet replicated (0 when none). The periodic
//! `backup.replicate` job runs hourly for each repository's owner, as the scrub does; without a
//! replica store it does nothing and says why.

use std::collections::{BTreeMap, BTreeSet};

use munishare_platform::access::ServiceScope;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{Db, Executor};
use munishare_platform::types::{MunicipalityId, Permission, Timestamp, hex};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::objects::object_key;
use crate::{Scheduled, change, for_each_repository, repos, require};

/// At most this many bytes are read from the primary (and re-read from the replica) per
/// repository and run; the rest wait for the next run.
pub const BYTES_PER_RUN: i64 = 4 << 30;

/// A replica copy is re-read against its name after this many days.
pub const RECHECK_DAYS: i64 = 7;

/// Why replication cannot run when the server has no replica store.
pub const NO_REPLICA: &str = "no replica store is configured (start the server with --replica-store URL or MUNISHARE_REPLICA_STORE)";

/// Kinds whose names are the SHA-256 of their bytes.
fn content_named(kind: &str) -> bool {
    matches!(kind, "data" | "index" | "snapshots")
}

/// The blob key of an object: `config` sits at the repository's root, the others under their kind.
fn key_of(scope: &ServiceScope, repo_id: &str, kind: &str, name: &str) -> Result<BlobKey> {
    if kind == "config" {
        BlobKey::in_scope(scope, &format!("{repo_id}/config"))
    } else {
        object_key(scope, repo_id, kind, name)
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A primary object that was not copied because it is damaged.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PrimaryDamage {
    /// `kind/name`.
    pub object: String,
    /// What is wrong with the primary's copy.
    pub reason: String,
    /// Whether the replica holds a verified copy (the one to restore from).
    pub replica_has_good_copy: bool,
}

/// What one replication run did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReplicationReport {
    /// The repository.
    pub repo_id: String,
    /// The replica store (its address).
    pub replica: String,
    /// Objects copied and verified in this run.
    pub copied: u64,
    /// Bytes copied in this run.
    pub bytes_copied: i64,
    /// Objects deleted from the replica because the primary no longer lists them.
    pub deleted: u64,
    /// Copies the verify pass found missing or wrong (`kind/name: reason`); copied again next run.
    pub mismatched: Vec<String>,
    /// Copies that did not read back equal to what was written (left for the next run).
    pub failed: Vec<String>,
    /// Primary objects not copied because they are damaged.
    pub primary_damaged: Vec<PrimaryDamage>,
    /// Objects the replica lacks after this run (not yet copied, or found wrong).
    pub missing: i64,
    /// Whether the replica now holds every object the primary lists.
    pub complete: bool,
    /// Bytes still to copy.
    pub bytes_pending: i64,
    /// Seconds since the oldest object not yet replicated was stored (0 when none).
    pub lag_seconds: i64,
}

/// A repository's replication as last recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepoReplication {
    /// The repository.
    pub repo_id: String,
    /// Its name.
    pub repo_name: String,
    /// Objects the primary lists.
    pub objects: i64,
    /// Of those, objects whose replica copy is verified.
    pub replicated: i64,
    /// Bytes of the objects not yet replicated.
    pub bytes_pending: i64,
    /// Seconds since the oldest object not yet replicated was stored (0 when none).
    pub lag_seconds: i64,
    /// The last run.
    pub last_run_at: Option<String>,
    /// The last verify pass.
    pub last_checked_at: Option<String>,
    /// Objects the replica lacked (or held wrong) at the last verify pass.
    pub missing: Option<i64>,
    /// The last time a verify pass found the replica complete.
    pub last_verified_complete_at: Option<String>,
    /// Damaged primary objects, and whether the replica holds a good copy of each.
    pub primary_damaged: Vec<PrimaryDamage>,
}

/// The town's replication: where the replica is, and each repository.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Replication {
    /// The replica store's address (absent: none is configured and nothing is replicated).
    pub replica: Option<String>,
    /// Each repository, by name.
    pub repos: Vec<RepoReplication>,
}

/// One object as the server lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    kind: String,
    name: String,
    size: i64,
    created_at: String,
    replicated_at: Option<String>,
    replica_checked_at: Option<String>,
    damage: Option<String>,
}

/// What the run decided for one object, written in one transaction at the end.
#[derive(Debug)]
enum Outcome {
    /// Copied and verified (sets `replicated_at` and `replica_checked_at`).
    Copied,
    /// The primary is damaged (records `damage` and `checked_at`).
    Damaged(String),
    /// The replica copy is missing or wrong (clears the marks).
    Mismatched,
    /// The replica copy was re-read and is good (sets `replica_checked_at`).
    Rechecked,
}

/// Seconds from `since` (stored form) to `now`, never negative.
fn seconds_since(now: Timestamp, since: Option<&str>) -> Result<i64> {
    Ok(match since {
        None => 0,
        Some(s) => (now.datetime() - Timestamp::parse("created_at", s)?.datetime())
            .whole_seconds()
            .max(0),
    })
}

/// Copies up to `budget` bytes of the repository's unreplicated objects to `replica`, deletes
/// what the primary no longer lists from it, and verifies it (view permission; audited when the
/// run changes anything).
pub async fn replicate(
    scope: &ServiceScope,
    db: &Db,
    primary: &BlobStore,
    replica: &BlobStore,
    now: Timestamp,
    repo: &str,
    budget: i64,
) -> Result<ReplicationReport> {
    require(scope, Permission::View)?;
    let town = scope.municipality_id();
    let (repo, rows) = {
        let mut c = db.read().await?;
        let repo = repos::get(scope, &mut c, repo).await?;
        let rows = rows(&mut c, town, &repo.id).await?;
        (repo, rows)
    };
    let mut report = ReplicationReport {
        repo_id: repo.id.clone(),
        replica: replica.describe().to_owned(),
        ..ReplicationReport::default()
    };
    let mut outcomes: BTreeMap<(String, String), Outcome> = BTreeMap::new();
    let mut read: i64 = 0;

    // 1. Copy, oldest first.
    let mut pending: Vec<&Row> = rows.iter().filter(|r| r.replicated_at.is_none()).collect();
    pending
        .sort_by(|a, b| (&a.created_at, &a.kind, &a.name).cmp(&(&b.created_at, &b.kind, &b.name)));
    for row in pending {
        let object = format!("{}/{}", row.kind, row.name);
        if let Some(reason) = &row.damage {
            report.primary_damaged.push(PrimaryDamage {
                object,
                reason: reason.clone(),
                replica_has_good_copy: false,
            });
            continue;
        }
        if read > 0 && read + row.size > budget {
            break;
        }
        read += row.size;
        let key = key_of(scope, &repo.id, &row.kind, &row.name)?;
        let bytes = match primary.get(&key).await {
            Ok(b) => b,
            Err(Error::NotFound { .. }) => {
                let reason = "missing from the primary object store".to_owned();
                outcomes.insert(
                    (row.kind.clone(), row.name.clone()),
                    Outcome::Damaged(reason.clone()),
                );
                report.primary_damaged.push(PrimaryDamage {
                    object,
                    reason,
                    replica_has_good_copy: false,
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let hash = sha256(&bytes);
        let damage = if i64::try_from(bytes.len()).ok() != Some(row.size) {
            Some(format!(
                "{} bytes stored where {} were accepted",
                bytes.len(),
                row.size
            ))
        } else if content_named(&row.kind) && hash != row.name {
            Some(format!("SHA-256 is {hash}, not its name"))
        } else {
            None
        };
        if let Some(reason) = damage {
            outcomes.insert(
                (row.kind.clone(), row.name.clone()),
                Outcome::Damaged(reason.clone()),
            );
            report.primary_damaged.push(PrimaryDamage {
                object,
                reason,
                replica_has_good_copy: false,
            });
            continue;
        }
        replica.put(&key, bytes).await?;
        let copy_ok = match replica.get(&key).await {
            Ok(back) => {
                back.len() == usize::try_from(row.size).unwrap_or(usize::MAX)
                    && sha256(&back) == hash
            }
            Err(Error::NotFound { .. }) => false,
            Err(e) => return Err(e),
        };
        if copy_ok {
            report.copied += 1;
            report.bytes_copied += row.size;
            outcomes.insert((row.kind.clone(), row.name.clone()), Outcome::Copied);
        } else {
            report.failed.push(object);
        }
    }

    // 2. Mirror: what the primary lists now (retention may have collected since the start).
    let folder = repo.id.clone();
    let expected: BTreeSet<String> = {
        let mut c = db.read().await?;
        rows_now(&mut c, town, &repo.id)
            .await?
            .into_iter()
            .map(|(kind, name)| {
                key_of(scope, &repo.id, &kind, &name).map(|k| k.as_str().to_owned())
            })
            .collect::<Result<_>>()?
    };
    let mut listing: BTreeMap<String, u64> = BTreeMap::new();
    let prefix = format!("{}/", BlobKey::prefix(scope));
    for (key, size) in replica.list_under(scope, &folder).await? {
        if expected.contains(&key) {
            listing.insert(key, size);
        } else if let Some(name) = key.strip_prefix(&prefix) {
            replica.delete(&BlobKey::in_scope(scope, name)?).await?;
            report.deleted += 1;
        }
    }

    // 3. Verify: every object marked replicated (before or in this run) must be in the listing
    // with its size; copies due for a re-read are read again within the budget.
    let cutoff = Timestamp::new(now.datetime() - time::Duration::days(RECHECK_DAYS)).to_db();
    let mut missing = 0_i64;
    for row in &rows {
        let id = (row.kind.clone(), row.name.clone());
        let object = format!("{}/{}", row.kind, row.name);
        let marked = match outcomes.get(&id) {
            Some(Outcome::Copied) => true,
            Some(_) => false,
            None => row.replicated_at.is_some(),
        };
        if !marked {
            missing += 1;
            continue;
        }
        let key = key_of(scope, &repo.id, &row.kind, &row.name)?;
        let wrong = match listing.get(key.as_str()) {
            None => Some("missing from the replica".to_owned()),
            Some(size) if i64::try_from(*size).ok() != Some(row.size) => Some(format!(
                "{size} bytes in the replica where {} were accepted",
                row.size
            )),
            Some(_) => {
                let due = !outcomes.contains_key(&id)
                    && row
                        .replica_checked_at
                        .as_deref()
                        .is_none_or(|at| at < cutoff.as_str());
                if due && (read == 0 || read + row.size <= budget) {
                    read += row.size;
                    let copy = replica.get(&key).await?;
                    let expect = if content_named(&row.kind) {
                        row.name.clone()
                    } else {
                        match primary.get(&key).await {
                            Ok(b) => sha256(&b),
                            // Nothing to compare with: the primary's own damage is the scrub's
                            // and the copy step's to report; keep the copy.
                            Err(Error::NotFound { .. }) => sha256(&copy),
                            Err(e) => return Err(e),
                        }
                    };
                    if sha256(&copy) == expect {
                        outcomes.insert(id.clone(), Outcome::Rechecked);
                        None
                    } else {
                        Some("the replica's bytes differ from the object's".to_owned())
                    }
                } else {
                    None
                }
            }
        };
        if let Some(reason) = wrong {
            missing += 1;
            report.mismatched.push(format!("{object}: {reason}"));
            outcomes.insert(id, Outcome::Mismatched);
        } else if let Some(reason) = &row.damage {
            // A damaged primary object whose replica copy is verified: restore from the replica.
            report.primary_damaged.push(PrimaryDamage {
                object,
                reason: reason.clone(),
                replica_has_good_copy: true,
            });
        }
    }
    report.missing = missing;
    report.complete = missing == 0;

    // Record it all in one transaction, with the audit event when anything changed.
    let mut tx = db.begin().await?;
    let mut newly_damaged = Vec::new();
    for ((kind, name), outcome) in &outcomes {
        let n = match outcome {
            Outcome::Copied => execute!(&mut tx, c => sqlx::query(
                "UPDATE backup_objects SET replicated_at = $5, replica_checked_at = $5 \
                 WHERE municipality_id = $1 AND repo_id = $2 AND kind = $3 AND name = $4")
                .bind(town).bind(&repo.id).bind(kind).bind(name).bind(now.to_db()).execute(c).await)?,
            Outcome::Rechecked => execute!(&mut tx, c => sqlx::query(
                "UPDATE backup_objects SET replica_checked_at = $5 \
                 WHERE municipality_id = $1 AND repo_id = $2 AND kind = $3 AND name = $4")
                .bind(town).bind(&repo.id).bind(kind).bind(name).bind(now.to_db()).execute(c).await)?,
            Outcome::Mismatched => execute!(&mut tx, c => sqlx::query(
                "UPDATE backup_objects SET replicated_at = NULL, replica_checked_at = NULL \
                 WHERE municipality_id = $1 AND repo_id = $2 AND kind = $3 AND name = $4")
                .bind(town).bind(&repo.id).bind(kind).bind(name).execute(c).await)?,
            // Recorded on packs as the scrub records its findings (leaving `checked_at`, so the
            // scrub re-reads the pack on its next run and clears the mark once it reads well);
            // other kinds are re-read, and reported again, by every run until they read well.
            Outcome::Damaged(reason) if kind == "data" => execute!(&mut tx, c => sqlx::query(
                "UPDATE backup_objects SET damage = $5 \
                 WHERE municipality_id = $1 AND repo_id = $2 AND kind = $3 AND name = $4")
                .bind(town).bind(&repo.id).bind(kind).bind(name).bind(reason).execute(c).await)?,
            Outcome::Damaged(_) => 1,
        };
        if n > 0 && matches!(outcome, Outcome::Damaged(_)) {
            newly_damaged.push(format!("{kind}/{name}"));
        }
    }
    execute!(&mut tx, c => sqlx::query(
        "UPDATE backup_repositories SET last_replication_at = $3, replica_checked_at = $3, replica_missing = $4, \
         last_replica_verified_at = CASE WHEN $4 = 0 THEN $3 ELSE last_replica_verified_at END \
         WHERE municipality_id = $1 AND id = $2")
        .bind(town).bind(&repo.id).bind(now.to_db()).bind(missing).execute(c).await)?;
    let (bytes_pending, oldest) = pending_of(&mut tx, town, &repo.id).await?;
    report.bytes_pending = bytes_pending;
    report.lag_seconds = seconds_since(now, oldest.as_deref())?;
    if report.copied > 0
        || report.deleted > 0
        || !report.mismatched.is_empty()
        || !newly_damaged.is_empty()
    {
        audit::record(
            &mut tx,
            now,
            scope.actor(),
            change(
                scope,
                "backup.replication.run",
                "backup_repository",
                &repo.id,
                None,
                Some(serde_json::json!({
                    "repo": repo.name, "replica": report.replica, "copied": report.copied,
                    "bytes_copied": report.bytes_copied, "deleted": report.deleted,
                    "mismatched": report.mismatched, "primary_damaged": newly_damaged,
                    "missing": report.missing, "complete": report.complete,
                })),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

async fn rows(ex: &mut impl Executor, town: &MunicipalityId, repo: &str) -> Result<Vec<Row>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT kind, name, size, created_at, replicated_at, replica_checked_at, damage FROM backup_objects \
         WHERE municipality_id = $1 AND repo_id = $2 ORDER BY kind, name")
        .bind(town).bind(repo).fetch_all(c).await)?)
}

async fn rows_now(
    ex: &mut impl Executor,
    town: &MunicipalityId,
    repo: &str,
) -> Result<Vec<(String, String)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT kind, name FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2")
        .bind(town).bind(repo).fetch_all(c).await)?)
}

/// Bytes not yet replicated and the oldest such object's `created_at`.
async fn pending_of(
    ex: &mut impl Executor,
    town: &MunicipalityId,
    repo: &str,
) -> Result<(i64, Option<String>)> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), MIN(created_at) FROM backup_objects \
         WHERE municipality_id = $1 AND repo_id = $2 AND replicated_at IS NULL")
        .bind(town).bind(repo).fetch_one(c).await)?)
}

/// The town's replication lag in seconds: since the oldest object not yet replicated in any of
/// its repositories was stored (0 when none); absent when the town has no repository.
pub async fn town_lag_seconds(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    now: Timestamp,
) -> Result<Option<i64>> {
    require(scope, Permission::View)?;
    let (repos, oldest): (i64, Option<String>) = dispatch!(ex, c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM backup_repositories WHERE municipality_id = $1), \
         (SELECT MIN(created_at) FROM backup_objects WHERE municipality_id = $1 AND replicated_at IS NULL)")
        .bind(scope.municipality_id()).fetch_one(c).await)?;
    if repos == 0 {
        return Ok(None);
    }
    seconds_since(now, oldest.as_deref()).map(Some)
}

/// Every repository's replication in the town (view).
pub async fn status(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    now: Timestamp,
    replica: Option<&BlobStore>,
) -> Result<Replication> {
    require(scope, Permission::View)?;
    let town = scope.municipality_id();
    #[allow(clippy::type_complexity)] // One row of the query below, read once.
    let list: Vec<(
        String,
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
    )> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, name, last_replication_at, replica_checked_at, replica_missing, last_replica_verified_at \
         FROM backup_repositories WHERE municipality_id = $1 ORDER BY name")
        .bind(town).fetch_all(c).await)?;
    let mut repos = Vec::with_capacity(list.len());
    for (repo_id, repo_name, last_run_at, last_checked_at, missing, last_verified_complete_at) in
        list
    {
        let (objects, replicated): (i64, i64) = dispatch!(ex, c => sqlx::query_as(
            "SELECT COUNT(*), COUNT(replicated_at) FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2")
            .bind(town).bind(&repo_id).fetch_one(c).await)?;
        let (bytes_pending, oldest) = pending_of(ex, town, &repo_id).await?;
        let damaged: Vec<(String, String, String, Option<String>)> = dispatch!(ex, c => sqlx::query_as(
            "SELECT kind, name, damage, replicated_at FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 \
             AND damage IS NOT NULL ORDER BY kind, name")
            .bind(town).bind(&repo_id).fetch_all(c).await)?;
        repos.push(RepoReplication {
            repo_id,
            repo_name,
            objects,
            replicated,
            bytes_pending,
            lag_seconds: seconds_since(now, oldest.as_deref())?,
            last_run_at,
            last_checked_at,
            missing,
            last_verified_complete_at,
            primary_damaged: damaged
                .into_iter()
                .map(|(kind, name, reason, at)| PrimaryDamage {
                    object: format!("{kind}/{name}"),
                    reason,
                    replica_has_good_copy: at.is_some(),
                })
                .collect(),
        });
    }
    Ok(Replication {
        replica: replica.map(|r| r.describe().to_owned()),
        repos,
    })
}

/// The periodic job.
pub const JOB: &str = "backup.replicate";

/// Registers the hourly replication.
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

/// The scheduled job's result: every repository's run, or why nothing ran.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledReplications {
    /// The replica store's address.
    pub replica: Option<String>,
    /// Why the job did nothing at all (no replica store).
    pub skipped: Option<String>,
    /// Each repository.
    pub runs: Vec<Scheduled<ReplicationReport>>,
}

/// Replicates every repository, each for its owner with that person's rights today; does
/// nothing, and says why, without a replica store.
pub async fn run_scheduled(
    ctx: &munishare_platform::jobs::JobContext,
) -> Result<ScheduledReplications> {
    let Some(replica) = &ctx.replica else {
        tracing::info!("{NO_REPLICA}; backup replication skipped");
        return Ok(ScheduledReplications {
            replica: None,
            skipped: Some(NO_REPLICA.to_owned()),
            runs: Vec::new(),
        });
    };
    let now = Timestamp::new(ctx.clock.now());
    let runs = for_each_repository(
        ctx,
        "scheduled backup replication",
        |scope, repo| async move {
            replicate(
                &scope,
                &ctx.db,
                &ctx.blobs,
                replica,
                now,
                &repo,
                BYTES_PER_RUN,
            )
            .await
        },
    )
    .await?;
    Ok(ScheduledReplications {
        replica: Some(replica.describe().to_owned()),
        skipped: None,
        runs,
    })
}
