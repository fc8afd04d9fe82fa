//! A repository's keys as the town sees them, and their removal.
//!
//! A key file wraps the repository's master key with a passphrase or the printed recovery key;
//! its kind, label (user@host) and creation time are plain JSON the server can read, the master
//! key inside stays sealed. Clients add keys with their append-only token (`munishare key add`)
//! but can never remove one: a town administrator removes a key here — a departed employee's
//! passphrase, say — which is audited. The last passphrase key cannot be removed, so a
//! repository is never left openable only by the recovery key (or by nothing).

use munishare_backup::crypto::KeyFile;
use munishare_platform::access::ServiceScope;
use munishare_platform::blob::BlobStore;
use munishare_platform::db::{Db, Executor};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::Serialize;

use crate::objects::object_key;
use crate::{change, repos, require};

/// A key of a repository.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepoKey {
    /// The key file's id (its name in `keys/`).
    pub id: String,
    /// `argon2id` (a passphrase) or `recovery` (the printed recovery key); `unreadable` when
    /// the stored file does not parse.
    pub kind: String,
    /// Who added it, as the client recorded it (user@host).
    pub label: String,
    /// When the client says it was added.
    pub created: String,
    /// When the server accepted it.
    pub received_at: String,
}

async fn read_keys(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    blobs: &BlobStore,
    repo_id: &str,
) -> Result<Vec<RepoKey>> {
    let rows: Vec<(String, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT name, created_at FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 AND kind = 'keys' ORDER BY created_at, name")
        .bind(scope.municipality_id()).bind(repo_id).fetch_all(c).await)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, received_at) in rows {
        let bytes = blobs.get(&object_key(scope, repo_id, "keys", &id)?).await?;
        let (kind, label, created) = match serde_json::from_slice::<KeyFile>(&bytes) {
            Ok(k) => (k.kdf, k.label, k.created),
            Err(_) => ("unreadable".to_owned(), String::new(), String::new()),
        };
        out.push(RepoKey {
            id,
            kind,
            label,
            created,
            received_at,
        });
    }
    Ok(out)
}

/// The repository's keys, oldest first (view).
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    blobs: &BlobStore,
    repo: &str,
) -> Result<Vec<RepoKey>> {
    require(scope, Permission::View)?;
    let repo = repos::get(scope, ex, repo).await?;
    read_keys(scope, ex, blobs, &repo.id).await
}

/// Removes a key (administer); refuses the last passphrase key. Returns the removed key.
pub async fn remove(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    repo: &str,
    key: &str,
) -> Result<RepoKey> {
    require(scope, Permission::Administer)?;
    let mut tx = db.begin().await?;
    let repo = repos::get(scope, &mut tx, repo).await?;
    let keys = read_keys(scope, &mut tx, blobs, &repo.id).await?;
    let doomed = keys
        .iter()
        .find(|k| k.id == key)
        .cloned()
        .ok_or(Error::NotFound { what: "key" })?;
    let passphrases = keys.iter().filter(|k| k.kind == "argon2id").count();
    if doomed.kind == "argon2id" && passphrases <= 1 {
        return Err(Error::conflict(
            "key",
            format!(
                "{} is the only passphrase key of {}: add another with `munishare key add` before removing this one",
                &doomed.id[..doomed.id.len().min(8)],
                repo.name
            ),
        ));
    }
    execute!(&mut tx, c => sqlx::query(
        "DELETE FROM backup_objects WHERE municipality_id = $1 AND repo_id = $2 AND kind = 'keys' AND name = $3")
        .bind(scope.municipality_id()).bind(&repo.id).bind(&doomed.id).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "backup.key.remove",
            "backup_key",
            &format!("{}/{}", repo.id, doomed.id),
            Some(serde_json::json!({"repo": repo.name, "key": doomed.id, "kind": doomed.kind, "label": doomed.label})),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    // The row is gone; now the bytes (a failure leaves an unlisted blob, never a listed key
    // without its file).
    if let Err(e) = blobs
        .delete(&object_key(scope, &repo.id, "keys", &doomed.id)?)
        .await
    {
        tracing::warn!(town = %scope.town().slug, repo = %repo.id, key = %doomed.id, error = %e, "backup key file not deleted");
    }
    Ok(doomed)
}
