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
use munishare_platform::db::{self, Tx};
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
    // A statement per 500 documents (a document named twice is logged once).
    let at = now.to_db();
    for chunk in documents.chunks(db::rows_per_statement(1 + 3)) {
        let sql = format!(
            "INSERT INTO records_index_log (document_id, municipality_id, seq, logged_at) VALUES {} \
             ON CONFLICT DO NOTHING",
            db::value_rows(chunk.len(), 1, 3)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(*id);
            }
            q.bind(scope.municipality_id()).bind(seq).bind(&at).execute(c).await
        })?;
    }
    Ok(seq)
}
