//! Restore drills: the town's evidence that its backups restore.
//!
//! The server cannot read a town's data (it holds no key), so the drill runs on the town's side:
//! `munishare drill` reads a rotating sample of the packs (decrypting and verifying every blob in
//! them, like `check --read-data-subset`), restores a sample of files from the newest snapshot
//! into a scratch directory, and reports what it did here with its backup token. The server
//! checks what it can: every pack the report names is one it stores in that repository, their
//! sizes add up to the bytes the client says it read, and the snapshot restored from is one it
//! keeps. Each repository expects a passed drill every `drill_interval_days` (30 unless the town
//! sets another); the pages flag a repository whose last passed drill is older.

use std::collections::BTreeSet;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Db, Executor};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::objects::RepoAccess;
use crate::{change, repos, require};

/// Days between drills unless the town sets another.
pub const DEFAULT_INTERVAL_DAYS: i64 = 30;

/// At most this many problems are kept from one report.
const MAX_PROBLEMS: usize = 1000;

/// What a client's drill did, as it reports it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillReport {
    /// When the drill started (RFC 3339).
    pub started_at: String,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// The sample of packs read: subset `N/M` (packs whose position modulo M is N).
    pub subset: String,
    /// Snapshots whose structure was checked.
    pub snapshots: i64,
    /// The packs read and verified, by name.
    pub packs: Vec<String>,
    /// Bytes read: the sum of those packs' sizes.
    pub bytes_read: i64,
    /// The snapshot files were restored from.
    pub snapshot: Option<String>,
    /// Files restored and verified.
    pub files_restored: i64,
    /// Their bytes.
    pub bytes_restored: i64,
    /// What went wrong; empty when the drill passed.
    pub problems: Vec<String>,
}

/// A recorded drill.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Drill {
    /// Id (UUID).
    pub id: String,
    /// The host whose token reported it.
    pub host: String,
    /// Started (client's clock).
    pub started_at: String,
    /// Finished (client's clock).
    pub finished_at: String,
    /// When the server accepted the report.
    pub received_at: String,
    /// Subset N of M.
    pub subset_n: i64,
    /// Subset N of M.
    pub subset_m: i64,
    /// Snapshots checked.
    pub snapshots: i64,
    /// Packs read.
    pub packs_read: i64,
    /// Bytes read.
    pub bytes_read: i64,
    /// The snapshot restored from.
    pub snapshot: Option<String>,
    /// Files restored.
    pub files_restored: i64,
    /// Bytes restored.
    pub bytes_restored: i64,
    /// What went wrong (JSON array of strings).
    #[serde(skip)]
    pub problems: String,
    /// Whether it passed.
    pub passed: bool,
}

impl Drill {
    /// What went wrong.
    pub fn problem_list(&self) -> Vec<String> {
        serde_json::from_str(&self.problems).unwrap_or_default()
    }
}

/// A repository's drills.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepoDrills {
    /// The repository.
    pub repo_id: String,
    /// Its name.
    pub repo_name: String,
    /// Days between drills.
    pub interval_days: i64,
    /// The last passed drill (server time).
    pub last_passed_at: Option<String>,
    /// `ok`, `overdue` (the last pass is older than the interval), `failed` (the newest drill
    /// failed) or `never`.
    pub state: String,
    /// Packs read by passed drills within the interval, of all packs: how much of the data
    /// recent drills have proven.
    pub packs_proven: i64,
    /// All packs.
    pub packs: i64,
    /// The newest drills, newest first (at most 20).
    pub recent: Vec<Drill>,
}

fn parse_subset(text: &str) -> Result<(i64, i64)> {
    let bad = || {
        Error::invalid(
            "subset",
            format!("'{text}' is not a subset like 3/10 (N from 1 to M, M from 1 to 10000)"),
        )
    };
    let (n, m) = text.split_once('/').ok_or_else(bad)?;
    let n: i64 = n.trim().parse().map_err(|_| bad())?;
    let m: i64 = m.trim().parse().map_err(|_| bad())?;
    if (1..=10_000).contains(&m) && (1..=m).contains(&n) {
        Ok((n, m))
    } else {
        Err(bad())
    }
}

fn non_negative(field: &str, v: i64) -> Result<()> {
    if v < 0 {
        Err(Error::invalid(field, format!("{v} is negative")))
    } else {
        Ok(())
    }
}

/// Records a client's drill after checking it against the repository.
pub async fn record(a: &RepoAccess, db: &Db, now: Timestamp, report: DrillReport) -> Result<Drill> {
    let started = Timestamp::parse("started_at", &report.started_at)?;
    let finished = Timestamp::parse("finished_at", &report.finished_at)?;
    if finished.datetime() < started.datetime() {
        return Err(Error::invalid(
            "finished_at",
            "the drill finished before it started",
        ));
    }
    let (subset_n, subset_m) = parse_subset(&report.subset)?;
    non_negative("snapshots", report.snapshots)?;
    non_negative("files_restored", report.files_restored)?;
    non_negative("bytes_restored", report.bytes_restored)?;
    if report.problems.len() > MAX_PROBLEMS {
        return Err(Error::invalid(
            "problems",
            format!("at most {MAX_PROBLEMS} problems per report"),
        ));
    }
    let packs: BTreeSet<&str> = report.packs.iter().map(String::as_str).collect();
    if packs.len() != report.packs.len() {
        return Err(Error::invalid("packs", "a pack is named twice"));
    }
    let scope = a.scope();
    let town = scope.municipality_id();
    let repo = a.repo();
    let mut tx = db.begin().await?;
    let mut bytes = 0i64;
    for (i, pack) in report.packs.iter().enumerate() {
        let size: Option<i64> = dispatch!(&mut tx, c => sqlx::query_scalar(
            "SELECT size FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 AND kind = 'data' AND name = $3")
            .bind(town).bind(&repo.id).bind(pack).fetch_optional(c).await)?;
        let Some(size) = size else {
            return Err(Error::invalid(
                format!("packs[{i}]"),
                format!("repository {} holds no pack {pack}", repo.name),
            ));
        };
        bytes += size;
    }
    if bytes != report.bytes_read {
        return Err(Error::invalid(
            "bytes_read",
            format!(
                "the {} packs named hold {bytes} bytes, not {}",
                report.packs.len(),
                report.bytes_read
            ),
        ));
    }
    if let Some(snapshot) = &report.snapshot {
        let kept: Option<String> = dispatch!(&mut tx, c => sqlx::query_scalar(
            "SELECT name FROM backup_snapshots WHERE municipality_id = $1 AND repo_id = $2 AND name = $3 AND forgotten_at IS NULL")
            .bind(town).bind(&repo.id).bind(snapshot).fetch_optional(c).await)?;
        if kept.is_none() {
            return Err(Error::invalid(
                "snapshot",
                format!("repository {} keeps no snapshot {snapshot}", repo.name),
            ));
        }
    }
    let problems: Vec<String> = report
        .problems
        .iter()
        .map(|p| p.chars().take(1000).collect())
        .collect();
    let drill = Drill {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        host: a.host().to_owned(),
        started_at: started.to_db(),
        finished_at: finished.to_db(),
        received_at: now.to_db(),
        subset_n,
        subset_m,
        snapshots: report.snapshots,
        packs_read: report.packs.len() as i64,
        bytes_read: bytes,
        snapshot: report.snapshot.clone(),
        files_restored: report.files_restored,
        bytes_restored: report.bytes_restored,
        passed: problems.is_empty(),
        problems: serde_json::to_string(&problems).map_err(|e| Error::Internal(e.to_string()))?,
    };
    execute!(&mut tx, c => sqlx::query(
        "INSERT INTO backup_drills (municipality_id, repo_id, id, host, token_id, started_at, finished_at, received_at, \
         subset_n, subset_m, snapshots, packs_read, bytes_read, snapshot, files_restored, bytes_restored, problems, passed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)")
        .bind(town).bind(&repo.id).bind(&drill.id).bind(&drill.host).bind(a.token_id())
        .bind(&drill.started_at).bind(&drill.finished_at).bind(&drill.received_at)
        .bind(drill.subset_n).bind(drill.subset_m).bind(drill.snapshots).bind(drill.packs_read).bind(drill.bytes_read)
        .bind(&drill.snapshot).bind(drill.files_restored).bind(drill.bytes_restored).bind(&drill.problems).bind(drill.passed)
        .execute(c).await)?;
    for pack in &packs {
        execute!(&mut tx, c => sqlx::query(
            "INSERT INTO backup_drill_packs (municipality_id, repo_id, drill_id, pack) VALUES ($1, $2, $3, $4)")
            .bind(town).bind(&repo.id).bind(&drill.id).bind(*pack).execute(c).await)?;
    }
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "backup.drill",
            "backup_drill",
            &drill.id,
            None,
            Some(serde_json::json!({
                "repo": repo.name, "host": drill.host, "passed": drill.passed,
                "subset": report.subset, "packs_read": drill.packs_read, "bytes_read": bytes,
                "snapshot": drill.snapshot, "files_restored": drill.files_restored,
                "bytes_restored": drill.bytes_restored, "problems": problems,
            })),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(drill)
}

/// The state of a repository's drills at `now`.
fn state_of(
    newest_passed: Option<bool>,
    last_passed: Option<Timestamp>,
    now: Timestamp,
    days: i64,
) -> &'static str {
    match (newest_passed, last_passed) {
        (Some(false), _) => "failed",
        (_, None) => "never",
        (_, Some(t)) if now.datetime() - t.datetime() > time::Duration::days(days) => "overdue",
        _ => "ok",
    }
}

/// Every repository's drills in the town (view).
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    now: Timestamp,
) -> Result<Vec<RepoDrills>> {
    require(scope, Permission::View)?;
    let town = scope.municipality_id();
    let repos: Vec<(String, String, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, name, drill_interval_days FROM backup_repositories WHERE municipality_id = $1 ORDER BY name")
        .bind(town).fetch_all(c).await)?;
    let mut out = Vec::with_capacity(repos.len());
    for (repo_id, repo_name, interval_days) in repos {
        let recent: Vec<Drill> = dispatch!(ex, c => sqlx::query_as(
            "SELECT id, host, started_at, finished_at, received_at, subset_n, subset_m, snapshots, packs_read, bytes_read, \
             snapshot, files_restored, bytes_restored, problems, passed FROM backup_drills \
             WHERE municipality_id = $1 AND repo_id = $2 ORDER BY received_at DESC, id DESC LIMIT 20")
            .bind(town).bind(&repo_id).fetch_all(c).await)?;
        let last_passed: Option<String> = dispatch!(ex, c => sqlx::query_scalar(
            "SELECT MAX(received_at) FROM backup_drills WHERE municipality_id = $1 AND repo_id = $2 AND passed")
            .bind(town).bind(&repo_id).fetch_one(c).await)?;
        let since = Timestamp::new(now.datetime() - time::Duration::days(interval_days)).to_db();
        let (packs_proven, packs): (i64, i64) = dispatch!(ex, c => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM backup_objects o WHERE o.municipality_id = $1 AND o.repo_id = $2 AND o.kind = 'data' \
               AND EXISTS (SELECT 1 FROM backup_drill_packs p JOIN backup_drills d ON d.municipality_id = p.municipality_id \
                 AND d.repo_id = p.repo_id AND d.id = p.drill_id \
                 WHERE p.municipality_id = o.municipality_id AND p.repo_id = o.repo_id AND p.pack = o.name \
                 AND d.passed AND d.received_at >= $3)), \
             (SELECT COUNT(*) FROM backup_objects o WHERE o.municipality_id = $1 AND o.repo_id = $2 AND o.kind = 'data')")
            .bind(town).bind(&repo_id).bind(&since).fetch_one(c).await)?;
        let last = last_passed
            .as_deref()
            .map(|t| Timestamp::parse("received_at", t))
            .transpose()?;
        let state = state_of(recent.first().map(|d| d.passed), last, now, interval_days);
        out.push(RepoDrills {
            repo_id,
            repo_name,
            interval_days,
            last_passed_at: last_passed,
            state: state.to_owned(),
            packs_proven,
            packs,
            recent,
        });
    }
    Ok(out)
}

/// Sets how often a repository should be drilled (administer); the repository.
pub async fn set_interval(
    scope: &ServiceScope,
    db: &Db,
    now: Timestamp,
    repo: &str,
    days: i64,
) -> Result<repos::Repository> {
    require(scope, Permission::Administer)?;
    if !(1..=366).contains(&days) {
        return Err(Error::invalid(
            "drill_interval_days",
            format!("{days} is not 1 to 366 days"),
        ));
    }
    let mut tx = db.begin().await?;
    let r = repos::get(scope, &mut tx, repo).await?;
    let before: i64 = dispatch!(&mut tx, c => sqlx::query_scalar(
        "SELECT drill_interval_days FROM backup_repositories WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(&r.id).fetch_one(c).await)?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE backup_repositories SET drill_interval_days = $3 WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(&r.id).bind(days).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "backup.drill.interval",
            "backup_repository",
            &r.id,
            Some(serde_json::json!({"drill_interval_days": before})),
            Some(serde_json::json!({"drill_interval_days": days})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}
