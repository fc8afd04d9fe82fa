//! A town's backup repositories and each host's expected backup interval.
//!
//! A repository is created in the browser or the session API by someone with
//! administer in the town's backup service (name unique in the town, an
//! optional quota in bytes); its `config` arrives later, once, from the
//! client's `init` (`objects::put`). Hosts are recorded when a token is issued
//! for them, with an expected interval of 24 hours that the town may change;
//! the monitoring pages flag a host whose last snapshot is older than that.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::{change, require};

/// Hours a host may go without a snapshot before it is overdue, unless set.
pub const DEFAULT_INTERVAL_HOURS: i64 = 24;

/// A repository as listed (its config, once the client wrote it).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Repository {
    /// Id (UUID).
    pub id: String,
    /// Name, unique in the town, e.g. `town-hall`.
    pub name: String,
    /// Quota in bytes (absent: none).
    pub quota_bytes: Option<i64>,
    /// The repository's `config` (JSON text) once `init` wrote it.
    pub config: Option<String>,
    /// Created.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
}

/// A new repository.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RepositoryIn {
    /// 1 to 64 characters: lowercase letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// Quota in bytes; absent for none.
    #[serde(default)]
    pub quota_bytes: Option<i64>,
}

/// A host of a repository and how often it should back up.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct HostSetting {
    /// The repository's id.
    pub repo_id: String,
    /// The host name, as its tokens name it.
    pub host: String,
    /// Hours between backups after which the host is overdue.
    pub expected_interval_hours: i64,
}

/// A host's expected interval.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct IntervalIn {
    /// 1 to 8,760 hours (a year).
    pub expected_interval_hours: i64,
}

/// Checks a repository name.
pub fn check_name(field: &str, name: &str) -> Result<String> {
    let n = name.trim();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(n.to_owned())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "'{}' is not a repository name: use 1 to 64 lowercase letters, digits, '-', '_' or '.'",
                n.chars().take(70).collect::<String>()
            ),
        ))
    }
}

/// Checks a host name as a token names it.
pub fn check_host(field: &str, host: &str) -> Result<String> {
    let h = host.trim();
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(h.to_owned())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "'{}' is not a host name: use letters, digits, '-', '_' or '.' (at most 253)",
                h.chars().take(70).collect::<String>()
            ),
        ))
    }
}

const COLUMNS: &str = "id, name, quota_bytes, config, created_at, created_by";

/// Creates a repository (administer); audited.
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &RepositoryIn,
) -> Result<Repository> {
    require(scope, Permission::Administer)?;
    let name = check_name("name", &req.name)?;
    if let Some(q) = req.quota_bytes
        && q < 0
    {
        return Err(Error::invalid(
            "quota_bytes",
            format!("{q} is negative; give a number of bytes, or none"),
        ));
    }
    let repo = Repository {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        name,
        quota_bytes: req.quota_bytes,
        config: None,
        created_at: now.to_db(),
        created_by: scope.actor().label.clone(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO backup_repositories (municipality_id, id, name, quota_bytes, config, created_at, created_by, owner_id) \
         VALUES ($1, $2, $3, $4, NULL, $5, $6, $7)")
        .bind(scope.municipality_id()).bind(&repo.id).bind(&repo.name).bind(repo.quota_bytes)
        .bind(&repo.created_at).bind(&repo.created_by).bind(scope.user_id()).execute(c).await)
    .map_err(|e| {
        Error::from(e).on_conflict(
            "name",
            format!("{} already has a repository named '{}'", scope.town().name, repo.name),
        )
    })?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "backup.repository.create",
            "backup_repository",
            &repo.id,
            None,
            Some(serde_json::json!({"name": repo.name, "quota_bytes": repo.quota_bytes})),
        ),
    )
    .await?;
    Ok(repo)
}

/// The town's repositories, by name.
pub async fn list(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Repository>> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM backup_repositories WHERE municipality_id = $1 ORDER BY name"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).fetch_all(c).await)?,
    )
}

/// One repository of the town, by id or name (not found otherwise, or in another town).
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, key: &str) -> Result<Repository> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM backup_repositories WHERE municipality_id = $1 AND (id = $2 OR name = $2)"
    );
    let found: Option<Repository> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(key).fetch_optional(c).await)?;
    found.ok_or(Error::NotFound {
        what: "backup repository",
    })
}

/// Records a host of a repository with the default interval, if it is new.
pub(crate) async fn ensure_host(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    repo_id: &str,
    host: &str,
) -> Result<()> {
    execute!(tx, c => sqlx::query(
        "INSERT INTO backup_hosts (municipality_id, repo_id, host, expected_interval_hours, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (municipality_id, repo_id, host) DO NOTHING")
        .bind(scope.municipality_id()).bind(repo_id).bind(host).bind(DEFAULT_INTERVAL_HOURS)
        .bind(now.to_db()).execute(c).await)?;
    Ok(())
}

/// Every host of the town's repositories.
pub async fn hosts(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<HostSetting>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT repo_id, host, expected_interval_hours FROM backup_hosts WHERE municipality_id = $1 ORDER BY repo_id, host")
        .bind(scope.municipality_id()).fetch_all(c).await)?)
}

/// Sets a host's expected interval (administer); audited with before and after.
pub async fn set_interval(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    repo: &str,
    host: &str,
    req: &IntervalIn,
) -> Result<HostSetting> {
    require(scope, Permission::Administer)?;
    let repo = get(scope, tx, repo).await?;
    let host = check_host("host", host)?;
    let hours = req.expected_interval_hours;
    if !(1..=8760).contains(&hours) {
        return Err(Error::invalid(
            "expected_interval_hours",
            format!("{hours} is not between 1 and 8,760 hours"),
        ));
    }
    let before: Option<i64> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT expected_interval_hours FROM backup_hosts WHERE municipality_id = $1 AND repo_id = $2 AND host = $3")
        .bind(scope.municipality_id()).bind(&repo.id).bind(&host).fetch_optional(c).await)?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO backup_hosts (municipality_id, repo_id, host, expected_interval_hours, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (municipality_id, repo_id, host) \
         DO UPDATE SET expected_interval_hours = $4, updated_at = $5")
        .bind(scope.municipality_id()).bind(&repo.id).bind(&host).bind(hours)
        .bind(now.to_db()).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "backup.host.interval",
            "backup_host",
            &format!("{}/{host}", repo.id),
            before.map(|h| serde_json::json!({"expected_interval_hours": h})),
            Some(serde_json::json!({"expected_interval_hours": hours})),
        ),
    )
    .await?;
    Ok(HostSetting {
        repo_id: repo.id,
        host,
        expected_interval_hours: hours,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn names_and_hosts_are_checked_naming_the_field() {
        assert_eq!(check_name("name", " town-hall ").unwrap(), "town-hall");
        for bad in ["", "Town", "a b", "x/y", &"a".repeat(65)] {
            let e = check_name("name", bad).unwrap_err();
            assert!(e.to_string().starts_with("name: "), "{e}");
        }
        assert_eq!(
            check_host("host", "FS01.town.local").unwrap(),
            "FS01.town.local"
        );
        assert!(check_host("host", "fs 01").is_err());
        assert!(check_host("host", "../etc").is_err());
    }
}
