//! Backup tokens: the append-only credential of one host's backup client.
//!
//! Separate from users' API tokens: a backup token names one town, one
//! repository and one host, reaches only the client REST routes
//! (`/api/v1/backup/repo/…`), and can add objects but never overwrite or delete
//! one. It is shown once at creation (prefix `msb_` for secret scanners),
//! stored as the SHA-256 of the secret (`identity::hash_secret`), may expire,
//! can be revoked, and records when it was last used (to the minute). It acts
//! with the rights of the person who issued it
//! (`access::authorize_issued_credential`): when that person loses edit in the
//! town's backup service, or is disabled, the token stops working.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::identity::{hash_secret, random_secret};
use munishare_platform::types::{MunicipalityId, Permission, Timestamp, UserId};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::repos::{self, check_host};
use crate::{change, require};

/// Prefix that marks backup tokens (helps secret scanners).
pub const TOKEN_PREFIX: &str = "msb_";

/// A backup token as listed (never the secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BackupToken {
    /// Id.
    pub id: String,
    /// The repository's id.
    pub repo_id: String,
    /// The repository's name.
    pub repo_name: String,
    /// The one host it backs up.
    pub host: String,
    /// A note, e.g. "nightly job on fs01".
    pub label: String,
    /// First characters of the secret, to recognise it.
    pub token_prefix: String,
    /// Created.
    pub created_at: String,
    /// Expires, if set.
    pub expires_at: Option<String>,
    /// Last used (to the minute).
    pub last_used_at: Option<String>,
    /// Revoked, if it was.
    pub revoked_at: Option<String>,
}

/// A new backup token.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TokenIn {
    /// The repository, by id or name.
    pub repo: String,
    /// The host the token backs up, e.g. `fs01`.
    pub host: String,
    /// A note (default: the host).
    #[serde(default)]
    pub label: Option<String>,
    /// Days until it expires (1 to 3,650); absent for no expiry.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A token just created: its listing and the secret, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The listing.
    pub token: BackupToken,
    /// The secret (`msb_…`): give it to the client as `--token`; it is not shown again.
    pub secret: String,
}

const COLUMNS: &str = "t.id, t.repo_id, r.name AS repo_name, t.host, t.label, t.token_prefix, \
    t.created_at, t.expires_at, t.last_used_at, t.revoked_at";

/// Issues a token for a repository and host (administer); records the host
/// with the default expected interval; audited (never the secret).
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &TokenIn,
) -> Result<CreatedToken> {
    require(scope, Permission::Administer)?;
    let repo = repos::get(scope, tx, req.repo.trim())
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::invalid(
                "repo",
                format!(
                    "{} has no repository '{}'",
                    scope.town().name,
                    req.repo.trim()
                ),
            ),
            other => other,
        })?;
    let host = check_host("host", &req.host)?;
    let label = req
        .label
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .unwrap_or(&host)
        .to_owned();
    if label.chars().count() > 100 {
        return Err(Error::invalid("label", "at most 100 characters"));
    }
    if let Some(d) = req.expires_in_days
        && !(1..=3650).contains(&d)
    {
        return Err(Error::invalid(
            "expires_in_days",
            format!("{d} is not between 1 and 3,650 days; leave it empty for no expiry"),
        ));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_secret()?);
    let token = BackupToken {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        repo_id: repo.id.clone(),
        repo_name: repo.name.clone(),
        host,
        label,
        token_prefix: secret.chars().take(10).collect(),
        created_at: now.to_db(),
        expires_at: req
            .expires_in_days
            .map(|d| Timestamp::new(now.datetime() + Duration::days(i64::from(d))).to_db()),
        last_used_at: None,
        revoked_at: None,
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO backup_tokens (id, municipality_id, repo_id, host, label, token_hash, token_prefix, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&token.id).bind(scope.municipality_id()).bind(&token.repo_id).bind(&token.host)
        .bind(&token.label).bind(hash_secret(&secret)).bind(&token.token_prefix).bind(scope.user_id())
        .bind(&token.created_at).bind(&token.expires_at).execute(c).await)?;
    repos::ensure_host(scope, tx, now, &token.repo_id, &token.host).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "backup.token.create",
            "backup_token",
            &token.id,
            None,
            Some(serde_json::json!({
                "repo": token.repo_name, "host": token.host, "label": token.label,
                "prefix": token.token_prefix, "expires_at": token.expires_at,
            })),
        ),
    )
    .await?;
    Ok(CreatedToken { token, secret })
}

/// The town's backup tokens, newest first (administer).
pub async fn list(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<BackupToken>> {
    require(scope, Permission::Administer)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM backup_tokens t JOIN backup_repositories r \
         ON r.municipality_id = t.municipality_id AND r.id = t.repo_id \
         WHERE t.municipality_id = $1 ORDER BY t.created_at DESC, t.id DESC"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).fetch_all(c).await)?,
    )
}

/// Revokes a token of the town (administer); audited.
pub async fn revoke(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
) -> Result<BackupToken> {
    require(scope, Permission::Administer)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM backup_tokens t JOIN backup_repositories r \
         ON r.municipality_id = t.municipality_id AND r.id = t.repo_id \
         WHERE t.municipality_id = $1 AND t.id = $2"
    );
    let found: Option<BackupToken> = dispatch!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?;
    let mut token = found.ok_or(Error::NotFound {
        what: "backup token",
    })?;
    if token.revoked_at.is_some() {
        return Err(Error::conflict("token", "that token is already revoked"));
    }
    token.revoked_at = Some(now.to_db());
    execute!(tx, c => sqlx::query(
        "UPDATE backup_tokens SET revoked_at = $1 WHERE municipality_id = $2 AND id = $3")
        .bind(&token.revoked_at).bind(scope.municipality_id()).bind(id).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "backup.token.revoke",
            "backup_token",
            id,
            None,
            Some(serde_json::json!({"revoked_at": token.revoked_at, "host": token.host, "prefix": token.token_prefix})),
        ),
    )
    .await?;
    Ok(token)
}

/// What a verified backup token names. Built only by [`authenticate`].
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub(crate) id: String,
    pub(crate) municipality_id: MunicipalityId,
    pub(crate) repo_id: String,
    pub(crate) host: String,
    pub(crate) issuer: UserId,
    pub(crate) prefix: String,
}

impl TokenGrant {
    /// The token's id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The host it backs up.
    pub fn host(&self) -> &str {
        &self.host
    }
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: String,
    municipality_id: MunicipalityId,
    repo_id: String,
    host: String,
    created_by: UserId,
    token_prefix: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
}

/// Checks a bearer secret: unknown and revoked tokens are refused alike;
/// an expired one says so and when. Records the use (to the minute).
pub async fn authenticate(db: &Db, now: Timestamp, secret: &str) -> Result<TokenGrant> {
    let unknown = || Error::Unauthenticated("The backup token is unknown or revoked.".into());
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
        return Err(unknown());
    }
    let row: Option<GrantRow> = {
        let mut c = db.read().await?;
        dispatch!(&mut c, c => sqlx::query_as(
            "SELECT id, municipality_id, repo_id, host, created_by, token_prefix, expires_at, last_used_at \
             FROM backup_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(hash_secret(secret)).fetch_optional(c).await)?
    };
    let row = row.ok_or_else(unknown)?;
    if let Some(exp) = &row.expires_at {
        let at = Timestamp::parse("expires_at", exp)?;
        if at <= now {
            return Err(Error::Unauthenticated(format!(
                "The backup token {}… expired on {}; ask the town for a new one.",
                row.token_prefix,
                at.human()
            )));
        }
    }
    let stale = match &row.last_used_at {
        None => true,
        Some(t) => {
            now.datetime() - Timestamp::parse("last_used_at", t)?.datetime() >= Duration::minutes(1)
        }
    };
    if stale {
        let mut tx = db.begin().await?;
        execute!(&mut tx, c => sqlx::query("UPDATE backup_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now.to_db()).bind(&row.id).execute(c).await)?;
        tx.commit().await?;
    }
    Ok(TokenGrant {
        id: row.id,
        municipality_id: row.municipality_id,
        repo_id: row.repo_id,
        host: row.host,
        issuer: row.created_by,
        prefix: row.token_prefix,
    })
}
