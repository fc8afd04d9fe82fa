//! The change log that search indexes follow (docs/design/0013, "Search").
//!
//! The database is the truth; each node's tantivy index is a copy it can rebuild. Every change
//! to what the index holds about a document (filing, a new version, metadata, tags, its text,
//! its destruction) calls [`touch`] inside the change's transaction. `touch` bumps the town's
//! change counter (`records_settings.index_seq`) with an `UPDATE`, which holds the town's row
//! lock until commit, so a town's changes take their numbers in commit order; it then logs the
//! documents under the new number. A node's index remembers the last number it applied and
//! catches up by reading the log past it, which works the same for one node or several.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::Tx;
use munishare_platform::types::Timestamp;
use munishare_platform::{Result, dispatch, execute};

/// Logs that `documents` changed, inside the change's transaction; returns the change's number.
pub async fn touch(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    documents: &[&str],
) -> Result<i64> {
    crate::ingest::ensure_settings(scope, tx, now).await?;
    let seq: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "UPDATE records_settings SET index_seq = index_seq + 1 WHERE municipality_id = $1 RETURNING index_seq")
        .bind(scope.municipality_id()).fetch_one(c).await)?;
    for id in documents {
        execute!(tx, c => sqlx::query(
            "INSERT INTO records_index_log (municipality_id, seq, document_id, logged_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING")
            .bind(scope.municipality_id()).bind(seq).bind(*id).bind(now.to_db()).execute(c).await)?;
    }
    Ok(seq)
}
