//! Retention and garbage collection, the server's and never a client's (docs/design/0012).
//!
//! Each host of a repository has a policy (keep last / hourly / daily / weekly / monthly /
//! yearly, applied by the engine's `retention::apply`; all zero keeps everything). Applying it
//! forgets the snapshots it does not keep — their rows stay as history, their `snapshots/` and
//! `meta/` objects go — and then collects the packs and index files no kept snapshot names,
//! except those written in the last 24 hours (a backup in flight has uploaded packs its
//! metadata does not name yet). Every run is one audit event with what it removed.

use std::collections::BTreeMap;

use munishare_backup::retention::{self, Policy};
use munishare_platform::access::{self, ServiceScope};
use munishare_platform::blob::BlobStore;
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::types::{MunicipalityId, Permission, Service, Timestamp, UserId};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::objects::object_key;
use crate::{change, repos, require};

/// Packs and index files younger than this are never collected.
pub const GRACE_HOURS: i64 = 24;

/// A host's retention policy.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    sqlx::FromRow,
)]
pub struct RetentionIn {
    /// The most recent N snapshots.
    #[serde(default)]
    pub keep_last: i64,
    /// The newest of each of the last N hours.
    #[serde(default)]
    pub keep_hourly: i64,
    /// The newest of each of the last N days.
    #[serde(default)]
    pub keep_daily: i64,
    /// The newest of each of the last N ISO weeks.
    #[serde(default)]
    pub keep_weekly: i64,
    /// The newest of each of the last N months.
    #[serde(default)]
    pub keep_monthly: i64,
    /// The newest of each of the last N years.
    #[serde(default)]
    pub keep_yearly: i64,
}

impl RetentionIn {
    /// The rules as (form field, value), in display order.
    pub fn fields(&self) -> Vec<(&'static str, i64)> {
        vec![
            ("keep_last", self.keep_last),
            ("keep_hourly", self.keep_hourly),
            ("keep_daily", self.keep_daily),
            ("keep_weekly", self.keep_weekly),
            ("keep_monthly", self.keep_monthly),
            ("keep_yearly", self.keep_yearly),
        ]
    }

    fn policy(&self) -> Result<Policy> {
        let n = |field: &str, v: i64| {
            u32::try_from(v)
                .ok()
                .filter(|v| *v <= 100_000)
                .ok_or_else(|| Error::invalid(field, format!("{v} is not between 0 and 100,000")))
        };
        Ok(Policy {
            last: n("keep_last", self.keep_last)?,
            hourly: n("keep_hourly", self.keep_hourly)?,
            daily: n("keep_daily", self.keep_daily)?,
            weekly: n("keep_weekly", self.keep_weekly)?,
            monthly: n("keep_monthly", self.keep_monthly)?,
            yearly: n("keep_yearly", self.keep_yearly)?,
        })
    }
}

/// A host's policy as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct HostRetention {
    /// The repository's id.
    pub repo_id: String,
    /// The repository's name.
    pub repo_name: String,
    /// The host.
    pub host: String,
    /// The policy.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub policy: RetentionIn,
}

/// What applying retention did to one repository.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RetentionReport {
    /// The repository's id.
    pub repo_id: String,
    /// Snapshots kept.
    pub kept: u64,
    /// Snapshots forgotten, by name.
    pub forgotten: Vec<String>,
    /// Packs removed.
    pub packs_removed: u64,
    /// Index files removed.
    pub index_removed: u64,
    /// Bytes freed in the object store.
    pub bytes_freed: i64,
}

/// Every host's policy in the town.
pub async fn policies(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<HostRetention>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT h.repo_id, r.name AS repo_name, h.host, h.keep_last, h.keep_hourly, h.keep_daily, h.keep_weekly, \
         h.keep_monthly, h.keep_yearly FROM backup_hosts h JOIN backup_repositories r \
         ON r.municipality_id = h.municipality_id AND r.id = h.repo_id WHERE h.municipality_id = $1 ORDER BY r.name, h.host")
        .bind(scope.municipality_id()).fetch_all(c).await)?)
}

/// Sets a host's policy (administer); audited with before and after.
pub async fn set_policy(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    repo: &str,
    host: &str,
    req: &RetentionIn,
) -> Result<HostRetention> {
    require(scope, Permission::Administer)?;
    req.policy()?;
    let repo = repos::get(scope, tx, repo).await?;
    let host = repos::check_host("host", host)?;
    let before: Option<RetentionIn> = dispatch!(tx, c => sqlx::query_as(
        "SELECT keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly FROM backup_hosts \
         WHERE municipality_id = $1 AND repo_id = $2 AND host = $3")
        .bind(scope.municipality_id()).bind(&repo.id).bind(&host).fetch_optional(c).await)?;
    repos::ensure_host(scope, tx, now, &repo.id, &host).await?;
    execute!(tx, c => sqlx::query(
        "UPDATE backup_hosts SET keep_last = $4, keep_hourly = $5, keep_daily = $6, keep_weekly = $7, \
         keep_monthly = $8, keep_yearly = $9, updated_at = $10, policy_by = $11, policy_at = $10 \
         WHERE municipality_id = $1 AND repo_id = $2 AND host = $3")
        .bind(scope.municipality_id()).bind(&repo.id).bind(&host)
        .bind(req.keep_last).bind(req.keep_hourly).bind(req.keep_daily).bind(req.keep_weekly)
        .bind(req.keep_monthly).bind(req.keep_yearly).bind(now.to_db()).bind(scope.user_id()).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "backup.host.retention",
            "backup_host",
            &format!("{}/{host}", repo.id),
            before.map(|b| serde_json::json!(b)),
            Some(serde_json::json!(req)),
        ),
    )
    .await?;
    Ok(HostRetention {
        repo_id: repo.id,
        repo_name: repo.name,
        host,
        policy: *req,
    })
}

/// Applies every host's policy to a repository and collects garbage (administer).
pub async fn apply(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    repo: &str,
) -> Result<RetentionReport> {
    require(scope, Permission::Administer)?;
    let mut tx = db.begin().await?;
    let repo = repos::get(scope, &mut tx, repo).await?;
    let town = scope.municipality_id();
    let hosts: Vec<HostRetention> = dispatch!(&mut tx, c => sqlx::query_as(
        "SELECT h.repo_id, r.name AS repo_name, h.host, h.keep_last, h.keep_hourly, h.keep_daily, h.keep_weekly, \
         h.keep_monthly, h.keep_yearly FROM backup_hosts h JOIN backup_repositories r \
         ON r.municipality_id = h.municipality_id AND r.id = h.repo_id WHERE h.municipality_id = $1 AND h.repo_id = $2")
        .bind(town).bind(&repo.id).fetch_all(&mut *c).await)?;
    let snapshots: Vec<(String, String, String)> = dispatch!(&mut tx, c => sqlx::query_as(
        "SELECT name, host, time FROM backup_snapshots WHERE municipality_id = $1 AND repo_id = $2 AND forgotten_at IS NULL")
        .bind(town).bind(&repo.id).fetch_all(&mut *c).await)?;
    let mut by_host: BTreeMap<&str, Vec<(String, time::OffsetDateTime)>> = BTreeMap::new();
    for (name, host, at) in &snapshots {
        let at = Timestamp::parse("time", at)?;
        by_host
            .entry(host.as_str())
            .or_default()
            .push((name.clone(), at.datetime()));
    }
    let mut report = RetentionReport {
        repo_id: repo.id.clone(),
        ..RetentionReport::default()
    };
    for (host, snaps) in &by_host {
        let policy = hosts
            .iter()
            .find(|h| h.host == *host)
            .map(|h| h.policy.policy())
            .transpose()?
            .unwrap_or_default();
        for d in retention::apply(&policy, snaps) {
            if d.keep {
                report.kept += 1;
            } else {
                report.forgotten.push(d.id);
            }
        }
    }
    report.forgotten.sort();
    let mut doomed: Vec<(&'static str, String, i64)> = Vec::new();
    for name in &report.forgotten {
        for table in ["backup_snapshot_packs", "backup_snapshot_index"] {
            let sql = format!(
                "DELETE FROM {table} WHERE municipality_id = $1 AND repo_id = $2 AND snapshot = $3"
            );
            execute!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(town).bind(&repo.id).bind(name).execute(c).await)?;
        }
        execute!(&mut tx, c => sqlx::query(
            "UPDATE backup_snapshots SET forgotten_at = $4 WHERE municipality_id = $1 AND repo_id = $2 AND name = $3")
            .bind(town).bind(&repo.id).bind(name).bind(now.to_db()).execute(c).await)?;
        for kind in ["snapshots", "meta"] {
            doomed.push((kind, name.clone(), 0));
        }
    }
    // Packs and index files no kept snapshot names, past the grace period.
    let cutoff = Timestamp::new(now.datetime() - time::Duration::hours(GRACE_HOURS)).to_db();
    for (kind, table, column) in [
        ("data", "backup_snapshot_packs", "pack"),
        ("index", "backup_snapshot_index", "index_name"),
    ] {
        let sql = format!(
            "SELECT o.name, o.size FROM backup_objects o WHERE o.municipality_id = $1 AND o.repo_id = $2 AND o.kind = $3 \
             AND o.created_at < $4 AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.municipality_id = o.municipality_id \
             AND t.repo_id = o.repo_id AND t.{column} = o.name)"
        );
        let rows: Vec<(String, i64)> = dispatch!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(town).bind(&repo.id).bind(kind).bind(&cutoff).fetch_all(c).await)?;
        for (name, size) in rows {
            if kind == "data" {
                report.packs_removed += 1;
            } else {
                report.index_removed += 1;
            }
            doomed.push((kind, name, size));
        }
    }
    for (kind, name, size) in doomed.iter_mut() {
        let stored: Option<i64> = dispatch!(&mut tx, c => sqlx::query_scalar(
            "DELETE FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 AND kind = $3 AND name = $4 RETURNING size")
            .bind(town).bind(&repo.id).bind(*kind).bind(&*name).fetch_optional(c).await)?;
        *size = stored.unwrap_or(0);
        report.bytes_freed += *size;
    }
    if !report.forgotten.is_empty() || !doomed.is_empty() {
        audit::record(
            &mut tx,
            now,
            scope.actor(),
            change(
                scope,
                "backup.retention.apply",
                "backup_repository",
                &repo.id,
                None,
                Some(serde_json::json!({
                    "repo": repo.name, "kept": report.kept, "forgotten": report.forgotten,
                    "packs_removed": report.packs_removed, "index_removed": report.index_removed,
                    "bytes_freed": report.bytes_freed,
                })),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    // The rows are gone; now the bytes. A failure here leaves an unlisted blob, never a listed
    // object without its bytes.
    for (kind, name, _) in &doomed {
        if let Err(e) = blobs
            .delete(&object_key(scope, &repo.id, kind, name)?)
            .await
        {
            tracing::warn!(town = %scope.town().slug, repo = %repo.id, object = %format!("{kind}/{name}"), error = %e, "backup object not deleted");
        }
    }
    Ok(report)
}

/// The periodic job that applies every repository's policies.
pub const JOB: &str = "backup.retention";

/// How often the server applies retention.
pub const EVERY: time::Duration = time::Duration::hours(1);

/// Registers the scheduled retention run.
pub fn register_jobs(registry: &mut munishare_platform::jobs::Registry) {
    registry.register_periodic(
        JOB,
        EVERY,
        |ctx: munishare_platform::jobs::JobContext, _p: serde_json::Value| async move {
            let outcome = run_scheduled(&ctx).await?;
            serde_json::to_value(outcome).map_err(|e| Error::Internal(e.to_string()))
        },
    );
}

/// One repository's scheduled run: its report, or why it was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledRun {
    /// The town.
    pub municipality_id: String,
    /// The repository.
    pub repo_id: String,
    /// What retention did.
    pub report: Option<RetentionReport>,
    /// Why it did nothing (the policy's author lost the right, the town left the service, …).
    pub skipped: Option<String>,
}

/// Applies the policies of every repository that has one, each acting for the person who last
/// set a policy there, with that person's rights today. A repository whose author lost them is
/// skipped and named in the job's result; the others go on.
pub async fn run_scheduled(
    ctx: &munishare_platform::jobs::JobContext,
) -> Result<Vec<ScheduledRun>> {
    let now = Timestamp::new(ctx.clock.now());
    // Ids only: who set which repository's policy most recently. Reading the town's data
    // happens through the scope built below.
    let authors: Vec<(MunicipalityId, String, UserId)> = {
        let mut c = ctx.db.read().await?;
        dispatch!(&mut c, c => sqlx::query_as(
            "SELECT h.municipality_id, h.repo_id, h.policy_by FROM backup_hosts h WHERE h.policy_by IS NOT NULL \
             AND h.policy_at = (SELECT MAX(o.policy_at) FROM backup_hosts o WHERE o.municipality_id = h.municipality_id \
             AND o.repo_id = h.repo_id) ORDER BY h.municipality_id, h.repo_id")
            .fetch_all(c).await)?
    };
    let mut runs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (town, repo, author) in authors {
        if !seen.insert((town.clone(), repo.clone())) {
            continue;
        }
        let scope = access::authorize_issued_credential(
            &ctx.db,
            now.datetime().date(),
            &author,
            &town,
            Service::Backup,
            Permission::Administer,
            "scheduled backup retention",
        )
        .await;
        let outcome = match scope {
            Ok(scope) => apply(&scope, &ctx.db, &ctx.blobs, now, &repo)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!(
                "the policy's author may no longer administer backups here: {e}"
            )),
        };
        let (report, skipped) = match outcome {
            Ok(r) => (Some(r), None),
            Err(why) => {
                tracing::warn!(town = %town, repo = %repo, reason = %why, "scheduled retention skipped");
                (None, Some(why))
            }
        };
        runs.push(ScheduledRun {
            municipality_id: town.to_string(),
            repo_id: repo,
            report,
            skipped,
        });
    }
    Ok(runs)
}
