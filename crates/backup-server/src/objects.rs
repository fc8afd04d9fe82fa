//! What backup clients PUT and GET: the repository's objects (docs/design/0012,
//! "Repository layout" and "Server contract").
//!
//! Every object is write-once: a second PUT of a name answers conflict, and
//! there is no way to delete through a token. Names of `data/`, `index/` and
//! `snapshots/` are the SHA-256 of their bytes and are checked; `config` is
//! parsed with the engine's `RepoConfig::parse` and accepted once; `meta/`
//! records are verified with `SignedMeta::verify` against the stored config,
//! then for the token's host and for every object they name. The server's own
//! listing (`backup_objects`: name, size, when, which token) is what listings,
//! quotas and the monitoring pages read; the bytes go to the blob store under
//! the town's prefix (`towns/{town}/backup/{repo_id}/{kind}/{name}`).
//!
//! Audit: the config, each key file and each snapshot's metadata write an
//! audit event; packs, index files and sealed snapshots are recorded only in
//! `backup_objects` (one audit event per pack would swamp the town's chain;
//! the snapshot's event names how many packs it references).

use std::collections::BTreeSet;

use bytes::Bytes;
use munishare_backup::config::RepoConfig;
use munishare_backup::meta::{SignedMeta, SnapshotMeta};
use munishare_platform::access::{self, ServiceScope};
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::types::{Permission, Service, Timestamp};
use munishare_platform::{Error, audit, dispatch, execute};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::Date;

use crate::change;
use crate::repos::{self, Repository};
use crate::tokens::TokenGrant;

/// Largest body the client routes accept: packs are 16 MiB by default and at
/// most 256 MiB (`RepoConfig::check`), plus room for the pack header.
pub const BODY_LIMIT: usize = 300 * 1024 * 1024;

/// Largest key file.
const KEY_FILE_LIMIT: usize = 64 * 1024;

/// What can go wrong on the client routes.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A platform error (not found, invalid, conflict, unauthenticated, …).
    #[error(transparent)]
    Platform(#[from] Error),
    /// The PUT would pass the repository's quota.
    #[error(
        "quota exceeded: repository '{repo}' of {town} holds {used} bytes; this object of {size} bytes would bring it to {} bytes, over its quota of {quota} bytes",
        used + size
    )]
    Quota {
        /// The repository's name.
        repo: String,
        /// The town's name.
        town: String,
        /// Bytes stored now.
        used: i64,
        /// The object's size.
        size: i64,
        /// The quota.
        quota: i64,
    },
}

/// Result of the client routes.
pub type RepoResult<T> = std::result::Result<T, RepoError>;

/// The object kinds of a repository (besides `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Key files (the master key wrapped by a passphrase or the recovery key).
    Keys,
    /// Packs.
    Data,
    /// Index files.
    Index,
    /// Sealed snapshots.
    Snapshots,
    /// Signed snapshot metadata.
    Meta,
}

impl Kind {
    /// Parses the `{kind}` of a path.
    pub fn parse(s: &str) -> Result<Kind, Error> {
        Ok(match s {
            "keys" => Kind::Keys,
            "data" => Kind::Data,
            "index" => Kind::Index,
            "snapshots" => Kind::Snapshots,
            "meta" => Kind::Meta,
            other => {
                return Err(Error::invalid(
                    "kind",
                    format!(
                        "'{}' is not an object kind: use keys, data, index, snapshots or meta",
                        other.chars().take(40).collect::<String>()
                    ),
                ));
            }
        })
    }

    /// The kind as in paths and the listing.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Keys => "keys",
            Kind::Data => "data",
            Kind::Index => "index",
            Kind::Snapshots => "snapshots",
            Kind::Meta => "meta",
        }
    }

    /// Checks an object name of this kind: 64 lowercase hex digits (a
    /// SHA-256), or for key files 32 to 64.
    pub fn check_name(self, name: &str) -> Result<(), Error> {
        let hex = name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let ok = match self {
            Kind::Keys => hex && (32..=64).contains(&name.len()),
            _ => hex && name.len() == 64,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::invalid(
                "name",
                format!(
                    "{}/{}: an object name is {} lowercase hex digits",
                    self.as_str(),
                    name.chars().take(80).collect::<String>(),
                    if self == Kind::Keys { "32 to 64" } else { "64" }
                ),
            ))
        }
    }
}

/// One object in a listing.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ObjectEntry {
    /// The name.
    pub name: String,
    /// Its size in bytes.
    pub size: i64,
}

/// A backup client's access: one repository of one town, for one host.
/// Built only by [`open`] from a verified token.
#[derive(Debug)]
pub struct RepoAccess {
    scope: ServiceScope,
    repo: Repository,
    grant: TokenGrant,
}

impl RepoAccess {
    /// The repository.
    pub fn repo(&self) -> &Repository {
        &self.repo
    }
    /// The token's host.
    pub fn host(&self) -> &str {
        self.grant.host()
    }
    /// The token's id.
    pub fn token_id(&self) -> &str {
        self.grant.id()
    }
    /// The token issuer's scope in the town's backup service.
    pub fn scope(&self) -> &ServiceScope {
        &self.scope
    }
}

/// Opens the repository a verified token names, with the rights of the
/// person who issued it (edit in the town's backup service, today). A token
/// whose issuer lost those rights is refused as unauthenticated: the client
/// cannot tell "no such town" from "no longer allowed".
pub async fn open(db: &Db, today: Date, grant: TokenGrant) -> Result<RepoAccess, Error> {
    let lost = || {
        Error::Unauthenticated(
            "The backup token's issuer no longer has backup rights in the town (or the town no longer subscribes to backup); ask the town for a new token.".into(),
        )
    };
    let scope = access::authorize_issued_credential(
        db,
        today,
        &grant.issuer,
        &grant.municipality_id,
        Service::Backup,
        Permission::Edit,
        &format!("backup token {}… ({})", grant.prefix, grant.host),
    )
    .await
    .map_err(|e| match e {
        Error::NotFound { .. } | Error::Forbidden(_) => lost(),
        other => other,
    })?;
    let mut c = db.read().await?;
    let repo = repos::get(&scope, &mut c, &grant.repo_id)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => lost(),
            other => other,
        })?;
    Ok(RepoAccess { scope, repo, grant })
}

fn key(a: &RepoAccess, kind: &str, name: &str) -> Result<BlobKey, Error> {
    object_key(&a.scope, &a.repo.id, kind, name)
}

/// Where an object's bytes are in the blob store.
pub(crate) fn object_key(
    scope: &ServiceScope,
    repo_id: &str,
    kind: &str,
    name: &str,
) -> Result<BlobKey, Error> {
    BlobKey::in_scope(scope, &format!("{repo_id}/{kind}/{name}"))
}

/// The size of an object, if the repository has it.
pub async fn size_of(
    a: &RepoAccess,
    ex: &mut impl Executor,
    kind: Kind,
    name: &str,
) -> Result<Option<i64>, Error> {
    kind.check_name(name)?;
    stored_size(a, ex, kind.as_str(), name).await
}

async fn stored_size(
    a: &RepoAccess,
    ex: &mut impl Executor,
    kind: &str,
    name: &str,
) -> Result<Option<i64>, Error> {
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT size FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 AND kind = $3 AND name = $4")
        .bind(a.scope.municipality_id()).bind(&a.repo.id).bind(kind).bind(name)
        .fetch_optional(c).await)?)
}

/// The objects of a kind, by name.
pub async fn list(
    a: &RepoAccess,
    ex: &mut impl Executor,
    kind: Kind,
) -> Result<Vec<ObjectEntry>, Error> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT name, size FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 AND kind = $3 ORDER BY name")
        .bind(a.scope.municipality_id()).bind(&a.repo.id).bind(kind.as_str())
        .fetch_all(c).await)?)
}

/// Reads an object, or bytes `range` of it (already checked against its size).
pub async fn read(
    a: &RepoAccess,
    blobs: &BlobStore,
    kind: Kind,
    name: &str,
    range: Option<std::ops::Range<u64>>,
) -> Result<Bytes, Error> {
    let k = key(a, kind.as_str(), name)?;
    match range {
        Some(r) => blobs.get_range(&k, r).await,
        None => blobs.get(&k).await,
    }
}

/// The repository's `config` as stored (not found before `init`).
pub fn config(a: &RepoAccess) -> Result<&str, Error> {
    a.repo.config.as_deref().ok_or(Error::NotFound {
        what: "repository config (run init first)",
    })
}

/// Records an object in the listing (conflict if the name exists) and checks
/// the quota, inside the caller's transaction.
async fn record_object(
    a: &RepoAccess,
    tx: &mut Tx,
    now: Timestamp,
    kind: &str,
    name: &str,
    size: i64,
) -> RepoResult<()> {
    if let Some(quota) = a.repo.quota_bytes {
        let used: i64 = dispatch!(tx, c => sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2")
            .bind(a.scope.municipality_id()).bind(&a.repo.id).fetch_one(c).await)
        .map_err(Error::from)?;
        if used + size > quota {
            return Err(RepoError::Quota {
                repo: a.repo.name.clone(),
                town: a.scope.town().name.clone(),
                used,
                size,
                quota,
            });
        }
    }
    execute!(tx, c => sqlx::query(
        "INSERT INTO backup_objects (municipality_id, repo_id, kind, name, size, created_at, token_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(a.scope.municipality_id()).bind(&a.repo.id).bind(kind).bind(name).bind(size)
        .bind(now.to_db()).bind(a.grant.id()).execute(c).await)
    .map_err(|e| Error::from(e).on_conflict("name", exists(kind, name)))?;
    Ok(())
}

fn exists(kind: &str, name: &str) -> String {
    if kind == "config" {
        "config: the repository is already initialised (its config is written once)".into()
    } else {
        format!("{kind}/{name} already exists; objects are written once")
    }
}

/// Refuses a name that is already stored (before the body is read).
pub async fn refuse_existing(
    a: &RepoAccess,
    ex: &mut impl Executor,
    kind: Option<Kind>,
    name: &str,
) -> Result<(), Error> {
    let k = kind.map_or("config", Kind::as_str);
    if let Some(kind) = kind {
        kind.check_name(name)?;
    }
    if stored_size(a, ex, k, name).await?.is_some() {
        return Err(Error::conflict("name", exists(k, name)));
    }
    Ok(())
}

fn size_i64(body: &[u8]) -> i64 {
    i64::try_from(body.len()).unwrap_or(i64::MAX)
}

/// Accepts the repository's `config`, once: parsed with the engine's rules; audited.
pub async fn put_config(
    a: &RepoAccess,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    body: Bytes,
) -> RepoResult<()> {
    let config = RepoConfig::parse(&body).map_err(|e| Error::invalid("config", e.to_string()))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| Error::invalid("config", "the config is not UTF-8 text"))?
        .to_owned();
    let mut tx = db.begin().await?;
    let set = execute!(&mut tx, c => sqlx::query(
        "UPDATE backup_repositories SET config = $1 WHERE municipality_id = $2 AND id = $3 AND config IS NULL")
        .bind(&text).bind(a.scope.municipality_id()).bind(&a.repo.id).execute(c).await)
    .map_err(Error::from)?;
    if set == 0 {
        return Err(Error::conflict("config", exists("config", "config")).into());
    }
    record_object(a, &mut tx, now, "config", "config", size_i64(&body)).await?;
    blobs
        .put(
            &BlobKey::in_scope(&a.scope, &format!("{}/config", a.repo.id))?,
            body,
        )
        .await?;
    audit::record(
        &mut tx,
        now,
        a.scope.actor(),
        change(
            &a.scope,
            "backup.repository.init",
            "backup_repository",
            &a.repo.id,
            None,
            Some(serde_json::json!({
                "repo": a.repo.name, "id": config.id, "version": config.version,
                "metadata_key": config.metadata_key, "host": a.host(),
            })),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Accepts a new object of `kind`: the name checked, the body checked against
/// it (SHA-256 for data, index and snapshots; verification for meta), the
/// quota checked, then stored and listed.
pub async fn put(
    a: &RepoAccess,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    kind: Kind,
    name: &str,
    body: Bytes,
) -> RepoResult<()> {
    kind.check_name(name)?;
    match kind {
        Kind::Data | Kind::Index | Kind::Snapshots => {
            let actual = munishare_platform::types::hex(&Sha256::digest(&body));
            if actual != name {
                return Err(Error::invalid(
                    "name",
                    format!(
                        "{}/{name}: the body's SHA-256 is {actual}; an object's name must be the SHA-256 of its bytes (damaged in transit?)",
                        kind.as_str()
                    ),
                )
                .into());
            }
        }
        Kind::Keys => {
            if body.len() > KEY_FILE_LIMIT || body.is_empty() {
                return Err(Error::invalid(
                    "body",
                    format!(
                        "keys/{name}: a key file is 1 byte to {} KiB",
                        KEY_FILE_LIMIT >> 10
                    ),
                )
                .into());
            }
        }
        Kind::Meta => return put_meta(a, db, blobs, now, name, body).await,
    }
    let mut tx = db.begin().await?;
    record_object(a, &mut tx, now, kind.as_str(), name, size_i64(&body)).await?;
    blobs.put(&key(a, kind.as_str(), name)?, body).await?;
    if kind == Kind::Keys {
        audit::record(
            &mut tx,
            now,
            a.scope.actor(),
            change(
                &a.scope,
                "backup.key.add",
                "backup_key",
                &format!("{}/{name}", a.repo.id),
                None,
                Some(serde_json::json!({"repo": a.repo.name, "key": name, "host": a.host()})),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Checks signed metadata: signature, repository and name (the engine), then
/// the token's host and that every object it names is stored.
async fn check_meta(
    a: &RepoAccess,
    ex: &mut impl Executor,
    name: &str,
    body: &[u8],
) -> Result<SnapshotMeta, Error> {
    let stored = a.repo.config.as_deref().ok_or_else(|| {
        Error::invalid(
            "meta",
            "the repository has no config yet (run init first), so no metadata can be verified",
        )
    })?;
    let config = RepoConfig::parse(stored.as_bytes())
        .map_err(|e| Error::Internal(format!("stored config: {e}")))?;
    let meta = SignedMeta::verify(&config, name, body)
        .map_err(|e| Error::invalid("meta", format!("meta/{name}: {e}")))?;
    if meta.host != a.host() {
        return Err(Error::invalid(
            "host",
            format!(
                "meta/{name}: host '{}' is not this token's host '{}'",
                meta.host.chars().take(80).collect::<String>(),
                a.host()
            ),
        ));
    }
    if stored_size(a, ex, "snapshots", name).await?.is_none() {
        return Err(Error::invalid(
            "snapshot",
            format!(
                "meta/{name}: snapshots/{name} is not in the repository; upload the snapshot first"
            ),
        ));
    }
    for (field, kind, list) in [
        ("packs", "data", &meta.packs),
        ("index", "index", &meta.index),
    ] {
        for n in list {
            if stored_size(a, ex, kind, n).await?.is_none() {
                return Err(Error::invalid(
                    field,
                    format!("meta/{name}: {kind}/{n} is not in the repository"),
                ));
            }
        }
    }
    Ok(meta)
}

async fn put_meta(
    a: &RepoAccess,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    name: &str,
    body: Bytes,
) -> RepoResult<()> {
    let mut tx = db.begin().await?;
    let meta = check_meta(a, &mut tx, name, &body).await?;
    let time = Timestamp::parse("time", &meta.time)?;
    let tags = serde_json::to_string(&meta.tags).unwrap_or_else(|_| "[]".into());
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    record_object(a, &mut tx, now, "meta", name, size_i64(&body)).await?;
    execute!(&mut tx, c => sqlx::query(
        "INSERT INTO backup_snapshots (municipality_id, repo_id, name, host, time, tags, parent, files, dirs, \
         logical_bytes, added_bytes, received_at, token_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(a.scope.municipality_id()).bind(&a.repo.id).bind(name).bind(&meta.host).bind(time.to_db())
        .bind(&tags).bind(&meta.parent).bind(count(meta.files)).bind(count(meta.dirs))
        .bind(count(meta.logical_bytes)).bind(count(meta.added_bytes)).bind(now.to_db()).bind(a.grant.id())
        .execute(c).await)
    .map_err(Error::from)?;
    let packs: BTreeSet<&String> = meta.packs.iter().collect();
    for p in &packs {
        execute!(&mut tx, c => sqlx::query(
            "INSERT INTO backup_snapshot_packs (municipality_id, repo_id, snapshot, pack) VALUES ($1, $2, $3, $4)")
            .bind(a.scope.municipality_id()).bind(&a.repo.id).bind(name).bind(*p).execute(c).await)
        .map_err(Error::from)?;
    }
    let index: BTreeSet<&String> = meta.index.iter().collect();
    for i in &index {
        execute!(&mut tx, c => sqlx::query(
            "INSERT INTO backup_snapshot_index (municipality_id, repo_id, snapshot, index_name) VALUES ($1, $2, $3, $4)")
            .bind(a.scope.municipality_id()).bind(&a.repo.id).bind(name).bind(*i).execute(c).await)
        .map_err(Error::from)?;
    }
    repos::ensure_host(&a.scope, &mut tx, now, &a.repo.id, &meta.host).await?;
    blobs.put(&key(a, "meta", name)?, body).await?;
    audit::record(
        &mut tx,
        now,
        a.scope.actor(),
        change(
            &a.scope,
            "backup.snapshot.add",
            "backup_snapshot",
            &format!("{}/{name}", a.repo.id),
            None,
            Some(serde_json::json!({
                "repo": a.repo.name, "host": meta.host, "time": time.to_db(), "tags": meta.tags,
                "files": meta.files, "logical_bytes": meta.logical_bytes,
                "added_bytes": meta.added_bytes, "packs": packs.len(), "index": meta.index.len(),
            })),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
