//! Legal holds: a records officer places a hold on a document, on a series, or on what a saved
//! search finds (with the matter's name and a reason) and releases it; while active, nothing it
//! covers can be disposed of. A hold on a search holds the documents the search found when the
//! hold was placed, listed in `records_hold_documents`; refreshing it runs the search again and
//! adds what it finds now (documents filed later are not held until then).

use std::collections::HashMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{self, Db, Executor, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::search::{self, SearchIndexes, SearchQuery};
use crate::{change, new_id, opt_text, require};

/// The most documents a hold on a search covers: past this, narrow the search or hold a series.
pub const MAX_SEARCH_HOLD: u64 = 10_000;

/// A legal hold.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Hold {
    /// Id.
    pub id: String,
    /// `document`, `series` or `search`.
    pub kind: String,
    /// The document's, series' or saved search's id.
    pub target_id: String,
    /// What it holds, for people: the document's title or the series' code and title.
    #[sqlx(default)]
    pub target: String,
    /// The matter (lawsuit, request, audit) it is for.
    pub matter: String,
    /// Why.
    pub reason: String,
    /// Placed by.
    pub placed_by: String,
    /// Placed.
    pub placed_at: String,
    /// Released by (absent: active).
    pub released_by: Option<String>,
    /// Released.
    pub released_at: Option<String>,
    /// Why it was released.
    pub release_reason: Option<String>,
}

const SELECT: &str = "SELECT h.id, h.kind, h.target_id, \
    COALESCE(d.title, s.code || ' ' || s.title, x.title, h.detail, '') AS target, h.matter, h.reason, h.placed_by, h.placed_at, \
    h.released_by, h.released_at, h.release_reason FROM records_legal_holds h \
    LEFT JOIN records_documents d ON h.kind = 'document' AND d.municipality_id = h.municipality_id AND d.id = h.target_id \
    LEFT JOIN records_tombstones x ON h.kind = 'document' AND x.municipality_id = h.municipality_id AND x.id = h.target_id \
    LEFT JOIN records_retention_series s ON h.kind = 'series' AND s.id = h.target_id \
    WHERE h.municipality_id = $1";

/// The town's holds, active first, newest first (approve: the records officer's list).
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    active_only: bool,
) -> Result<Vec<Hold>> {
    require(scope, Permission::Approve)?;
    let sql = format!(
        "{SELECT}{} ORDER BY CASE WHEN h.released_at IS NULL THEN 0 ELSE 1 END, h.placed_at DESC, h.id",
        if active_only {
            " AND h.released_at IS NULL"
        } else {
            ""
        }
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).fetch_all(c).await)?,
    )
}

async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<Hold> {
    let sql = format!("{SELECT} AND h.id = $2");
    let h: Option<Hold> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?;
    h.ok_or(Error::NotFound { what: "hold" })
}

/// A hold to place.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct HoldIn {
    /// `document`, `series` or `search`.
    pub kind: String,
    /// The document's id, the series' id or code, or a saved search's id or name.
    pub target: String,
    /// The matter, 1 to 200 characters.
    pub matter: String,
    /// Why, 1 to 2,000 characters.
    pub reason: String,
}

/// Places a hold (approve); audited. A hold on a search runs it (as the records officer sees
/// the town) and holds every document it finds.
pub async fn place(
    scope: &ServiceScope,
    db: &Db,
    indexes: &SearchIndexes,
    now: Timestamp,
    req: &HoldIn,
) -> Result<Hold> {
    require(scope, Permission::Approve)?;
    let matter = opt_text("matter", Some(&req.matter), 200)?
        .ok_or_else(|| Error::invalid("matter", "name the matter the hold is for"))?;
    let reason = opt_text("reason", Some(&req.reason), 2000)?
        .ok_or_else(|| Error::invalid("reason", "say why the records are held"))?;
    let (search, found) = if req.kind.trim() == "search" {
        let saved = saved_search(scope, db, &req.target).await?;
        let found = found_by(scope, db, indexes, &saved.query).await?;
        (Some(saved), found)
    } else {
        (None, Vec::new())
    };
    let mut tx = db.begin().await?;
    let target_id = match req.kind.trim() {
        "document" => {
            crate::documents::get(scope, &mut tx, req.target.trim())
                .await
                .map_err(|e| match e {
                    Error::NotFound { .. } => Error::invalid(
                        "target",
                        format!(
                            "there is no document {} in {}",
                            req.target.trim().chars().take(40).collect::<String>(),
                            scope.town().name
                        ),
                    ),
                    e => e,
                })?
                .id
        }
        "series" => {
            crate::retention::find_for_town(scope, &mut tx, "target", &req.target)
                .await?
                .id
        }
        "search" => search.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
        _ => {
            return Err(Error::invalid("kind", "must be document, series or search"));
        }
    };
    let detail = search.as_ref().map(|s| {
        format!(
            "search '{}' ({}), {} document{} when placed",
            s.name,
            s.query.to_query_string(),
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        )
    });
    let id = new_id();
    execute!(&mut tx, c => sqlx::query(
        "INSERT INTO records_legal_holds (municipality_id, id, kind, target_id, matter, reason, placed_by, placed_at, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(scope.municipality_id()).bind(&id).bind(req.kind.trim()).bind(&target_id).bind(&matter).bind(&reason)
        .bind(&scope.actor().label).bind(now.to_db()).bind(&detail).execute(c).await)?;
    hold_documents(scope, &mut tx, &id, &found).await?;
    let h = get(scope, &mut tx, &id).await?;
    let mut after = serde_json::json!(h);
    if search.is_some() {
        after["documents"] = serde_json::json!(found);
    }
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.hold.place",
            "records_legal_hold",
            &id,
            None,
            Some(after),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(h)
}

/// Runs a hold on a search again (approve) and holds what it finds now beside what it held;
/// returns how many documents it added. Audited.
pub async fn refresh(
    scope: &ServiceScope,
    db: &Db,
    indexes: &SearchIndexes,
    now: Timestamp,
    id: &str,
) -> Result<u64> {
    require(scope, Permission::Approve)?;
    let h = {
        let mut c = db.read().await?;
        get(scope, &mut c, id).await?
    };
    if h.kind != "search" {
        return Err(Error::conflict(
            "hold",
            "only a hold on a search is refreshed",
        ));
    }
    if h.released_at.is_some() {
        return Err(Error::conflict("hold", "the hold was released"));
    }
    let saved = saved_search(scope, db, &h.target_id).await.map_err(|_| {
        Error::conflict(
            "hold",
            "the saved search this hold ran is gone; place a new hold on a search",
        )
    })?;
    let found = found_by(scope, db, indexes, &saved.query).await?;
    let mut tx = db.begin().await?;
    let held: Vec<String> = dispatch!(&mut tx, c => sqlx::query_scalar(
        "SELECT document_id FROM records_hold_documents WHERE municipality_id = $1 AND hold_id = $2")
        .bind(scope.municipality_id()).bind(id).fetch_all(c).await)?;
    let added: Vec<String> = found.into_iter().filter(|d| !held.contains(d)).collect();
    hold_documents(scope, &mut tx, id, &added).await?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.hold.refresh",
            "records_legal_hold",
            id,
            None,
            Some(serde_json::json!({"added": added})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(added.len() as u64)
}

/// A saved search the officer sees (their own or shared), by id or name; 422 naming `target`.
async fn saved_search(scope: &ServiceScope, db: &Db, target: &str) -> Result<search::SavedSearch> {
    let t = target.trim();
    let mut c = db.read().await?;
    search::saved(scope, &mut c)
        .await?
        .into_iter()
        .find(|s| s.id == t || s.name.eq_ignore_ascii_case(t))
        .ok_or_else(|| {
            Error::invalid(
                "target",
                format!(
                    "there is no saved search '{}' you can see in {}",
                    t.chars().take(60).collect::<String>(),
                    scope.town().name
                ),
            )
        })
}

/// Every document `query` finds, as the caller sees the town (the index must be current).
async fn found_by(
    scope: &ServiceScope,
    db: &Db,
    indexes: &SearchIndexes,
    query: &SearchQuery,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        let q = SearchQuery {
            page: Some(page),
            per_page: Some(100),
            ..query.clone()
        };
        let r = search::search(scope, db, indexes, &q).await?;
        if r.index.behind > 0 {
            return Err(Error::conflict(
                "target",
                "the search index is catching up with recent changes; place the hold again in a minute",
            ));
        }
        if r.total > MAX_SEARCH_HOLD {
            return Err(Error::invalid(
                "target",
                format!(
                    "the search finds {} documents; a hold on a search covers at most {MAX_SEARCH_HOLD}: narrow it, or hold a series",
                    r.total
                ),
            ));
        }
        let n = r.hits.len();
        ids.extend(r.hits.into_iter().map(|h| h.document.id));
        if n == 0 || ids.len() as u64 >= r.total {
            return Ok(ids);
        }
        page += 1;
    }
}

async fn hold_documents(
    scope: &ServiceScope,
    tx: &mut Tx,
    hold: &str,
    documents: &[String],
) -> Result<()> {
    for chunk in documents.chunks(db::rows_per_statement(1 + 2)) {
        let sql = format!(
            "INSERT INTO records_hold_documents (document_id, municipality_id, hold_id) VALUES {}",
            db::value_rows(chunk.len(), 1, 2)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for d in chunk {
                q = q.bind(d);
            }
            q.bind(scope.municipality_id()).bind(hold).execute(c).await
        })?;
    }
    Ok(())
}

/// Why a hold is released.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ReleaseIn {
    /// 1 to 2,000 characters.
    pub reason: String,
}

/// Releases an active hold (approve); audited.
pub async fn release(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    req: &ReleaseIn,
) -> Result<Hold> {
    require(scope, Permission::Approve)?;
    let before = get(scope, tx, id).await?;
    if before.released_at.is_some() {
        return Err(Error::conflict("hold", "the hold was already released"));
    }
    let reason = opt_text("reason", Some(&req.reason), 2000)?
        .ok_or_else(|| Error::invalid("reason", "say why the hold is released"))?;
    execute!(tx, c => sqlx::query(
        "UPDATE records_legal_holds SET released_by = $3, released_at = $4, release_reason = $5 \
         WHERE municipality_id = $1 AND id = $2 AND released_at IS NULL")
        .bind(scope.municipality_id()).bind(id).bind(&scope.actor().label).bind(now.to_db()).bind(&reason)
        .execute(c).await)?;
    let after = get(scope, tx, id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.hold.release",
            "records_legal_hold",
            id,
            Some(serde_json::json!(before)),
            Some(serde_json::json!(after)),
        ),
    )
    .await?;
    Ok(after)
}

/// The active holds that block each of `ids` (on the document, or on its type's series).
pub async fn blocking(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    ids: &[String],
) -> Result<HashMap<String, Vec<Hold>>> {
    let mut out: HashMap<String, Vec<Hold>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let active = {
        let sql = format!("{SELECT} AND h.released_at IS NULL");
        let v: Vec<Hold> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(scope.municipality_id()).fetch_all(c).await)?;
        v
    };
    if active.is_empty() {
        return Ok(out);
    }
    // Each document's series, and the search holds that took it in: one row per (document,
    // search hold), a thousand documents a statement.
    for chunk in ids.chunks(1000) {
        let mut q = db::SqlBuilder::new(
            "SELECT d.id, t.retention_series_id, hd.hold_id FROM records_documents d \
             LEFT JOIN records_document_types t ON t.municipality_id = d.municipality_id AND t.id = d.type_id \
             LEFT JOIN records_hold_documents hd ON hd.municipality_id = d.municipality_id AND hd.document_id = d.id \
             WHERE d.municipality_id = ",
        );
        q.bind(scope.municipality_id().to_string());
        q.push(" AND d.id IN ").bind_list(chunk.iter().cloned());
        let (sql, args) = q.build();
        let rows: Vec<(String, Option<String>, Option<String>)> = dispatch!(ex, c => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for a in args {
                query = query.bind(a);
            }
            query.fetch_all(c).await
        })?;
        // Document → (its series, the search holds that took it in).
        let mut found: HashMap<&str, (Option<&str>, Vec<&str>)> = HashMap::new();
        for (doc, series, hold) in &rows {
            let e = found
                .entry(doc.as_str())
                .or_insert((series.as_deref(), Vec::new()));
            e.1.extend(hold.as_deref());
        }
        for (id, (series, searches)) in found {
            let held: Vec<Hold> = active
                .iter()
                .filter(|h| match h.kind.as_str() {
                    "document" => h.target_id == id,
                    "series" => Some(h.target_id.as_str()) == series,
                    "search" => searches.contains(&h.id.as_str()),
                    _ => false,
                })
                .cloned()
                .collect();
            if !held.is_empty() {
                out.insert(id.to_owned(), held);
            }
        }
    }
    Ok(out)
}
