//! Monitoring: each town's repositories and hosts — last successful backup,
//! snapshot count, stored bytes, logical bytes of each host's latest snapshot,
//! the dedup ratio, stored bytes day by day — and the regional freshness view.
//!
//! Freshness uses the server's clock (`received_at`, when the snapshot's
//! signed metadata was accepted), not the time the client signed: a client
//! with a wrong clock cannot hide a missed backup. A host is `never` without
//! a snapshot, `overdue` when its last one is older than its expected interval
//! (`repos::DEFAULT_INTERVAL_HOURS` unless the town set it), `ok` otherwise.
//! The dedup ratio is the sum of the latest snapshot's logical bytes over the
//! hosts divided by the bytes stored (everything the repository holds).
//!
//! The regional view adds, per town, the packs the scrub found damaged, the
//! worst restore-drill state and the GB-months metered so far this month.

use std::collections::HashMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::Executor;
use munishare_platform::metering::YearMonth;
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, dispatch};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::repos::{self, Repository};
use crate::{drills, metering, require};

/// A host's backup state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostStatus {
    /// The repository's id.
    pub repo_id: String,
    /// The repository's name.
    pub repo_name: String,
    /// The host.
    pub host: String,
    /// Hours after which it is overdue.
    pub expected_interval_hours: i64,
    /// Snapshots it has.
    pub snapshots: i64,
    /// When the server accepted its latest snapshot.
    pub last_backup_at: Option<String>,
    /// The latest snapshot's own time (as the client signed it).
    pub last_snapshot_time: Option<String>,
    /// Logical bytes of the latest snapshot.
    pub latest_logical_bytes: Option<i64>,
    /// Whole hours since the latest snapshot was accepted.
    pub hours_since: Option<i64>,
    /// `ok`, `overdue` or `never`.
    pub state: String,
}

/// A repository with its figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepoSummary {
    /// The repository.
    #[serde(flatten)]
    pub repo: Repository,
    /// Whether the client has written its config.
    pub initialised: bool,
    /// Bytes stored (every object).
    pub stored_bytes: i64,
    /// Objects stored.
    pub objects: i64,
    /// Snapshots.
    pub snapshots: i64,
    /// Sum over its hosts of their latest snapshot's logical bytes.
    pub latest_logical_bytes: i64,
    /// `latest_logical_bytes / stored_bytes` (absent while nothing is stored).
    pub dedup_ratio: Option<f64>,
}

/// Bytes stored at the end of a day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayBytes {
    /// The day (UTC), `YYYY-MM-DD`.
    pub day: String,
    /// Bytes stored in the town's repositories at its end.
    pub stored_bytes: i64,
}

/// A town's backup overview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TownBackup {
    /// The town's slug.
    pub town: String,
    /// Its name.
    pub town_name: String,
    /// Its repositories.
    pub repos: Vec<RepoSummary>,
    /// Every host of every repository.
    pub hosts: Vec<HostStatus>,
    /// Bytes stored in all its repositories.
    pub stored_bytes: i64,
    /// Sum of the hosts' latest logical bytes.
    pub latest_logical_bytes: i64,
    /// `latest_logical_bytes / stored_bytes`.
    pub dedup_ratio: Option<f64>,
    /// Stored bytes at the end of each day that added objects, oldest first.
    pub trend: Vec<DayBytes>,
}

/// A snapshot as the server verified it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Snapshot {
    /// The repository's id.
    pub repo_id: String,
    /// The repository's name.
    pub repo_name: String,
    /// The snapshot's name (SHA-256).
    pub name: String,
    /// The host.
    pub host: String,
    /// When the backup started (the client's signed time).
    pub time: String,
    /// Tags, as a JSON array.
    pub tags: String,
    /// The parent snapshot, for an incremental backup.
    pub parent: Option<String>,
    /// Regular files.
    pub files: i64,
    /// Directories.
    pub dirs: i64,
    /// Sum of the files' sizes.
    pub logical_bytes: i64,
    /// Bytes this backup added after dedup and compression.
    pub added_bytes: i64,
    /// When the server accepted it.
    pub received_at: String,
}

/// Which snapshots.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct SnapshotQuery {
    /// A repository, by id or name.
    pub repo: Option<String>,
    /// A host.
    pub host: Option<String>,
    /// At most this many, newest first (default 100, at most 1,000).
    pub limit: Option<u32>,
}

#[derive(sqlx::FromRow)]
struct HostRow {
    repo_id: String,
    repo_name: String,
    host: String,
    expected_interval_hours: i64,
    snapshots: i64,
    last_backup_at: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Latest {
    time: String,
    logical_bytes: i64,
}

/// The state of a host whose last backup was accepted at `last` (if ever).
pub fn state_of(
    last: Option<Timestamp>,
    now: Timestamp,
    expected_hours: i64,
) -> (&'static str, Option<i64>) {
    match last {
        None => ("never", None),
        Some(t) => {
            let age = now.datetime() - t.datetime();
            let hours = age.whole_hours();
            if age > time::Duration::hours(expected_hours) {
                ("overdue", Some(hours))
            } else {
                ("ok", Some(hours))
            }
        }
    }
}

/// Every host of the town's repositories with its state at `now`.
pub async fn hosts(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    now: Timestamp,
) -> Result<Vec<HostStatus>> {
    require(scope, Permission::View)?;
    let rows: Vec<HostRow> = dispatch!(ex, c => sqlx::query_as(
        "SELECT h.repo_id, r.name AS repo_name, h.host, h.expected_interval_hours, \
         (SELECT COUNT(*) FROM backup_snapshots s WHERE s.municipality_id = h.municipality_id AND s.repo_id = h.repo_id AND s.host = h.host AND s.forgotten_at IS NULL) AS snapshots, \
         (SELECT MAX(s.received_at) FROM backup_snapshots s WHERE s.municipality_id = h.municipality_id AND s.repo_id = h.repo_id AND s.host = h.host) AS last_backup_at \
         FROM backup_hosts h JOIN backup_repositories r ON r.municipality_id = h.municipality_id AND r.id = h.repo_id \
         WHERE h.municipality_id = $1 ORDER BY r.name, h.host")
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let latest: Option<Latest> = if r.snapshots > 0 {
            dispatch!(ex, c => sqlx::query_as(
                "SELECT time, logical_bytes FROM backup_snapshots WHERE municipality_id = $1 AND repo_id = $2 AND host = $3 AND forgotten_at IS NULL \
                 ORDER BY received_at DESC, name DESC LIMIT 1")
                .bind(scope.municipality_id()).bind(&r.repo_id).bind(&r.host).fetch_optional(c).await)?
        } else {
            None
        };
        let last = r
            .last_backup_at
            .as_deref()
            .map(|t| Timestamp::parse("received_at", t))
            .transpose()?;
        let (state, hours_since) = state_of(last, now, r.expected_interval_hours);
        out.push(HostStatus {
            repo_id: r.repo_id,
            repo_name: r.repo_name,
            host: r.host,
            expected_interval_hours: r.expected_interval_hours,
            snapshots: r.snapshots,
            last_backup_at: r.last_backup_at,
            last_snapshot_time: latest.as_ref().map(|l| l.time.clone()),
            latest_logical_bytes: latest.map(|l| l.logical_bytes),
            hours_since,
            state: state.to_owned(),
        });
    }
    Ok(out)
}

fn ratio(logical: i64, stored: i64) -> Option<f64> {
    (stored > 0).then(|| logical as f64 / stored as f64)
}

/// The town's overview at `now`.
pub async fn town(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    now: Timestamp,
) -> Result<TownBackup> {
    let list = repos::list(scope, ex).await?;
    let hosts = hosts(scope, ex, now).await?;
    let stored: Vec<(String, i64, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT repo_id, CAST(SUM(size) AS BIGINT), COUNT(*) FROM backup_objects WHERE municipality_id = $1 GROUP BY repo_id")
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    let stored: HashMap<String, (i64, i64)> =
        stored.into_iter().map(|(r, b, n)| (r, (b, n))).collect();
    let snaps: Vec<(String, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT repo_id, COUNT(*) FROM backup_snapshots WHERE municipality_id = $1 AND forgotten_at IS NULL GROUP BY repo_id")
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    let snaps: HashMap<String, i64> = snaps.into_iter().collect();
    let repos: Vec<RepoSummary> = list
        .into_iter()
        .map(|repo| {
            let (stored_bytes, objects) = stored.get(&repo.id).copied().unwrap_or((0, 0));
            let latest_logical_bytes = hosts
                .iter()
                .filter(|h| h.repo_id == repo.id)
                .filter_map(|h| h.latest_logical_bytes)
                .sum();
            RepoSummary {
                initialised: repo.config.is_some(),
                stored_bytes,
                objects,
                snapshots: snaps.get(&repo.id).copied().unwrap_or(0),
                latest_logical_bytes,
                dedup_ratio: ratio(latest_logical_bytes, stored_bytes),
                repo,
            }
        })
        .collect();
    let days: Vec<(String, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT substr(created_at, 1, 10) AS day, CAST(SUM(size) AS BIGINT) FROM backup_objects \
         WHERE municipality_id = $1 GROUP BY substr(created_at, 1, 10) ORDER BY day")
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    let mut total = 0;
    let trend = days
        .into_iter()
        .map(|(day, bytes)| {
            total += bytes;
            DayBytes {
                day,
                stored_bytes: total,
            }
        })
        .collect();
    let stored_bytes = repos.iter().map(|r| r.stored_bytes).sum();
    let latest_logical_bytes = repos.iter().map(|r| r.latest_logical_bytes).sum();
    Ok(TownBackup {
        town: scope.town().slug.as_str().to_owned(),
        town_name: scope.town().name.clone(),
        repos,
        hosts,
        stored_bytes,
        latest_logical_bytes,
        dedup_ratio: ratio(latest_logical_bytes, stored_bytes),
        trend,
    })
}

/// The town's snapshots, newest first, filtered.
pub async fn snapshots(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    q: &SnapshotQuery,
) -> Result<Vec<Snapshot>> {
    require(scope, Permission::View)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "use 1 to 1,000"));
    }
    let repo_id = match q.repo.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Some(repos::get(scope, ex, r).await?.id),
        None => None,
    };
    let host = q
        .host
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned);
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT s.repo_id, r.name AS repo_name, s.name, s.host, s.time, s.tags, s.parent, s.files, s.dirs, \
         s.logical_bytes, s.added_bytes, s.received_at FROM backup_snapshots s \
         JOIN backup_repositories r ON r.municipality_id = s.municipality_id AND r.id = s.repo_id \
         WHERE s.municipality_id = $1 AND s.forgotten_at IS NULL AND ($2 IS NULL OR s.repo_id = $2) AND ($3 IS NULL OR s.host = $3) \
         ORDER BY s.received_at DESC, s.name DESC LIMIT $4")
        .bind(scope.municipality_id()).bind(&repo_id).bind(&host).bind(i64::from(limit))
        .fetch_all(c).await)?)
}

/// One town in the regional overview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TownFreshness {
    /// The town's slug.
    pub town: String,
    /// Its name.
    pub town_name: String,
    /// Its hosts.
    pub hosts: Vec<HostStatus>,
    /// Bytes stored in its repositories.
    pub stored_bytes: i64,
    /// The worst host state: `overdue`, `never`, `ok`, or `none` without hosts.
    pub state: String,
    /// Packs the scrub found damaged.
    pub damaged_packs: i64,
    /// The worst repository's restore-drill state: `failed`, `overdue`, `never`, `ok`, or
    /// `none` without repositories.
    pub drill_state: String,
    /// GB-months metered so far this month.
    pub gb_months: String,
    /// Seconds since the oldest object not yet copied to the replica store was stored (0 when
    /// the replica holds everything); absent without repositories or without a replica store.
    pub replication_lag_seconds: Option<i64>,
}

/// Every given town's freshness (pass the caller's `access::service_scopes`).
pub async fn regional(
    scopes: &[ServiceScope],
    ex: &mut impl Executor,
    now: Timestamp,
) -> Result<Vec<TownFreshness>> {
    let mut out = Vec::with_capacity(scopes.len());
    for s in scopes {
        let hosts = hosts(s, ex, now).await?;
        let state = ["overdue", "never", "ok"]
            .into_iter()
            .find(|st| hosts.iter().any(|h| h.state == *st))
            .unwrap_or("none");
        let damaged_packs: i64 = dispatch!(ex, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM backup_objects WHERE municipality_id = $1 AND kind = 'data' AND damage IS NOT NULL")
            .bind(s.municipality_id()).fetch_one(c).await)?;
        let drills = drills::list(s, ex, now).await?;
        let drill_state = ["failed", "overdue", "never", "ok"]
            .into_iter()
            .find(|st| drills.iter().any(|d| d.state == *st))
            .unwrap_or("none");
        let usage = metering::usage(s, ex, YearMonth::of(now.datetime().date())).await?;
        out.push(TownFreshness {
            town: s.town().slug.as_str().to_owned(),
            town_name: s.town().name.clone(),
            hosts,
            stored_bytes: usage.stored_bytes_now,
            state: state.to_owned(),
            damaged_packs,
            drill_state: drill_state.to_owned(),
            gb_months: usage.gb_months,
            replication_lag_seconds: crate::replication::town_lag_seconds(s, ex, now).await?,
        });
    }
    out.sort_by(|a, b| a.town_name.cmp(&b.town_name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_host_is_overdue_only_past_its_interval() {
        let now = Timestamp::new(datetime!(2026-11-27 14:00 UTC));
        let at = |t| Some(Timestamp::new(t));
        assert_eq!(state_of(None, now, 24), ("never", None));
        assert_eq!(
            state_of(at(datetime!(2026-11-26 14:00 UTC)), now, 24),
            ("ok", Some(24))
        );
        assert_eq!(
            state_of(at(datetime!(2026-11-26 13:59 UTC)), now, 24),
            ("overdue", Some(24))
        );
        assert_eq!(
            state_of(at(datetime!(2026-11-25 15:00 UTC)), now, 48),
            ("ok", Some(47))
        );
        assert_eq!(ratio(10, 0), None);
        assert_eq!(ratio(30, 10), Some(3.0));
    }
}
