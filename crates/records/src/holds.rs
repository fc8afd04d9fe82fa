//! Legal holds: a records officer places a hold on a document or on a series (with the matter's
//! name and a reason) and releases it; while active, nothing it covers can be disposed of.
//! The table has a `kind` column so holds on saved searches (`search`) can be added.

use std::collections::HashMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::{change, new_id, opt_text, require};

/// A legal hold.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Hold {
    /// Id.
    pub id: String,
    /// `document` or `series`.
    pub kind: String,
    /// The document's or series' id.
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
    COALESCE(d.title, s.code || ' ' || s.title, x.title, '') AS target, h.matter, h.reason, h.placed_by, h.placed_at, \
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
    /// `document` or `series`.
    pub kind: String,
    /// The document's id, or the series' id or code.
    pub target: String,
    /// The matter, 1 to 200 characters.
    pub matter: String,
    /// Why, 1 to 2,000 characters.
    pub reason: String,
}

/// Places a hold (approve); audited.
pub async fn place(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &HoldIn,
) -> Result<Hold> {
    require(scope, Permission::Approve)?;
    let matter = opt_text("matter", Some(&req.matter), 200)?
        .ok_or_else(|| Error::invalid("matter", "name the matter the hold is for"))?;
    let reason = opt_text("reason", Some(&req.reason), 2000)?
        .ok_or_else(|| Error::invalid("reason", "say why the records are held"))?;
    let target_id = match req.kind.trim() {
        "document" => {
            crate::documents::get(scope, tx, req.target.trim())
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
            crate::retention::find_for_town(scope, tx, "target", &req.target)
                .await?
                .id
        }
        _ => return Err(Error::invalid("kind", "must be document or series")),
    };
    let id = new_id();
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_legal_holds (municipality_id, id, kind, target_id, matter, reason, placed_by, placed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(scope.municipality_id()).bind(&id).bind(req.kind.trim()).bind(&target_id).bind(&matter).bind(&reason)
        .bind(&scope.actor().label).bind(now.to_db()).execute(c).await)?;
    let h = get(scope, tx, &id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.hold.place",
            "records_legal_hold",
            &id,
            None,
            Some(serde_json::json!(h)),
        ),
    )
    .await?;
    Ok(h)
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
    for id in ids {
        let series: Option<(Option<String>,)> = dispatch!(ex, c => sqlx::query_as(
            "SELECT t.retention_series_id FROM records_documents d LEFT JOIN records_document_types t \
             ON t.municipality_id = d.municipality_id AND t.id = d.type_id WHERE d.municipality_id = $1 AND d.id = $2")
            .bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?;
        let series = series.and_then(|s| s.0);
        let mine: Vec<Hold> = active
            .iter()
            .filter(|h| {
                (h.kind == "document" && h.target_id == *id)
                    || (h.kind == "series" && Some(&h.target_id) == series.as_ref())
            })
            .cloned()
            .collect();
        if !mine.is_empty() {
            out.insert(id.clone(), mine);
        }
    }
    Ok(out)
}
