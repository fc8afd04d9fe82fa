//! Disposition: the records past their retention (the records officer's list, with the holds
//! that block some), disposal batches (draft → approved → destroyed), the authorization
//! modelled on Form RC-075 rendered at approval and kept in the blob store, and destruction.
//!
//! Destruction deletes the document's rows (document, versions, tags, notes, texts) and writes
//! a **tombstone** (`records_tombstones`) with its metadata in one transaction with the audit
//! events and `index::touch`; destroyed documents are therefore *absent* from
//! `records_documents`, and every reader of documents (list, page, search index) treats them as
//! gone without a filter. Content objects no remaining version of the town references are
//! logged in `records_disposal_purges` in that same transaction and deleted after it commits,
//! each under the town's ingestion lock with a re-check; a re-run of the destruction (the batch
//! stays `destroying` until then) finishes what a crash left.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{Db, Executor, SqlBuilder, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::holds::{self, Hold};
use crate::{change, new_id, opt_text, parse_date, require};

/// A record past its retention.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DueRecord {
    /// The document's id.
    pub document_id: String,
    /// Title.
    pub title: String,
    /// Its type.
    pub type_name: Option<String>,
    /// Department code (absent: town-wide).
    pub department: Option<String>,
    /// The document's own date.
    pub document_date: Option<String>,
    /// The end of its retention (it is eligible from the day after).
    pub retention_due: String,
    /// The series' schedule.
    pub schedule: String,
    /// The series code.
    pub series_code: String,
    /// The series title.
    pub series_title: String,
    /// Size of every version, in bytes.
    pub bytes: i64,
    /// The number of the open batch it is in (draft or approved), if any.
    #[sqlx(default)]
    pub batch: Option<i64>,
    /// The active holds that block it.
    #[sqlx(skip)]
    pub holds: Vec<Hold>,
    /// Neither held nor in an open batch: it may go into a batch.
    #[sqlx(skip)]
    pub eligible: bool,
}

/// The list's filters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DueQuery {
    /// A schedule, e.g. `M3`.
    pub schedule: Option<String>,
    /// A series code, e.g. `M3-120`.
    pub series: Option<String>,
    /// A department's code; `none` for town-wide documents.
    pub department: Option<String>,
    /// Only records whose retention ended on or before this date, `YYYY-MM-DD`.
    pub due_before: Option<String>,
    /// `false` leaves out records blocked by a hold or in an open batch (default: shown, marked).
    pub include_blocked: Option<bool>,
}

const DUE_SELECT: &str = "SELECT d.id AS document_id, d.title, t.name AS type_name, p.code AS department, d.document_date, \
    d.retention_due, s.schedule, s.code AS series_code, s.title AS series_title, \
    CAST((SELECT COALESCE(SUM(v.size), 0) FROM records_versions v WHERE v.municipality_id = d.municipality_id AND v.document_id = d.id) AS BIGINT) AS bytes, \
    (SELECT MIN(b.number) FROM records_disposal_items i JOIN records_disposal_batches b ON b.municipality_id = i.municipality_id \
     AND b.id = i.batch_id WHERE i.municipality_id = d.municipality_id AND i.document_id = d.id AND b.status IN ('draft', 'approved')) AS batch \
    FROM records_documents d \
    JOIN records_document_types t ON t.municipality_id = d.municipality_id AND t.id = d.type_id \
    JOIN records_retention_series s ON s.id = t.retention_series_id \
    LEFT JOIN departments p ON p.municipality_id = d.municipality_id AND p.id = d.department_id \
    WHERE d.retention_due IS NOT NULL AND d.municipality_id = ";

/// The records whose retention ended before `today` (approve: the records officer sees the
/// whole town), oldest due first, each with the holds that block it.
pub async fn due(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    today: time::Date,
    f: &DueQuery,
) -> Result<Vec<DueRecord>> {
    due_of(scope, ex, today, f, None).await
}

/// [`due`], limited to `only` when given (the batch checks: no page limit applies to them).
async fn due_of(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    today: time::Date,
    f: &DueQuery,
    only: Option<&[String]>,
) -> Result<Vec<DueRecord>> {
    require(scope, Permission::Approve)?;
    let mut q = SqlBuilder::new(DUE_SELECT);
    q.bind(scope.municipality_id().to_string());
    q.push(" AND d.retention_due < ").bind(today.to_string());
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    if let Some(s) = text(&f.schedule) {
        q.push(" AND LOWER(s.schedule) = ").bind(s.to_lowercase());
    }
    if let Some(s) = text(&f.series) {
        q.push(" AND LOWER(s.code) = ").bind(s.to_lowercase());
    }
    if let Some(d) = text(&f.department) {
        if d.eq_ignore_ascii_case("none") {
            q.push(" AND d.department_id IS NULL");
        } else {
            let dep = crate::visibility::department(scope, ex, "department", &d).await?;
            q.push(" AND d.department_id = ").bind(dep.id);
        }
    }
    if let Some(b) = text(&f.due_before) {
        let b = parse_date("due_before", &b)?;
        q.push(" AND d.retention_due <= ").bind(b.to_string());
    }
    match only {
        Some(ids) => {
            q.push(" AND d.id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(id.clone());
            }
            q.push(")");
            q.push(" ORDER BY d.retention_due, d.id");
        }
        // A page of the list: the oldest 5,000 (filters narrow it).
        None => {
            q.push(" ORDER BY d.retention_due, d.id LIMIT 5000");
        }
    }
    let (sql, args) = q.build();
    let mut rows: Vec<DueRecord> = dispatch!(ex, c => {
        let mut query = sqlx::query_as::<_, DueRecord>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_all(c).await
    })?;
    let ids: Vec<String> = rows.iter().map(|r| r.document_id.clone()).collect();
    let mut blocked = holds::blocking(scope, ex, &ids).await?;
    for r in &mut rows {
        r.holds = blocked.remove(&r.document_id).unwrap_or_default();
        r.eligible = r.holds.is_empty() && r.batch.is_none();
    }
    if f.include_blocked == Some(false) {
        rows.retain(|r| r.eligible);
    }
    Ok(rows)
}

/// A disposal batch.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Batch {
    /// Id.
    pub id: String,
    /// Its number in the town, from 1.
    pub number: i64,
    /// `draft`, `approved`, `destroying` (destruction committed, content being purged) or `destroyed`.
    pub status: String,
    /// The agency (office or department) named on the authorization.
    pub agency: String,
    /// A note.
    pub note: Option<String>,
    /// The records officer who made it.
    pub requested_by: String,
    /// Made.
    pub created_at: String,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// When.
    pub approved_at: Option<String>,
    /// SHA-256 of the authorization PDF.
    pub authorization_sha256: Option<String>,
    /// Who destroyed the records.
    pub destroyed_by: Option<String>,
    /// When.
    pub destroyed_at: Option<String>,
    /// How many records.
    #[sqlx(default)]
    pub records: i64,
}

/// A record of a batch (before destruction from the document, after it from the tombstone).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BatchItem {
    /// The document's id.
    pub document_id: String,
    /// Title.
    pub title: String,
    /// The series' schedule.
    pub schedule: Option<String>,
    /// The series code.
    pub series_code: Option<String>,
    /// The series title.
    pub series_title: Option<String>,
    /// The document's own date.
    pub document_date: Option<String>,
    /// End of retention.
    pub retention_due: Option<String>,
    /// Size of every version, in bytes.
    pub bytes: i64,
    /// The document is gone; this is its tombstone.
    pub destroyed: bool,
}

/// A batch with its records.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchDetail {
    /// The batch.
    pub batch: Batch,
    /// Its records.
    pub items: Vec<BatchItem>,
}

const BATCH_SELECT: &str = "SELECT b.id, b.number, b.status, b.agency, b.note, b.requested_by, b.created_at, b.approved_by, \
    b.approved_at, b.authorization_sha256, b.destroyed_by, b.destroyed_at, \
    (SELECT COUNT(*) FROM records_disposal_items i WHERE i.municipality_id = b.municipality_id AND i.batch_id = b.id) AS records \
    FROM records_disposal_batches b WHERE b.municipality_id = $1";

/// The town's batches, newest first (approve).
pub async fn batches(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Batch>> {
    require(scope, Permission::Approve)?;
    let sql = format!("{BATCH_SELECT} ORDER BY b.number DESC");
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).fetch_all(c).await)?,
    )
}

async fn get_batch(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<Batch> {
    let sql = format!("{BATCH_SELECT} AND b.id = $2");
    let b: Option<Batch> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?;
    b.ok_or(Error::NotFound { what: "batch" })
}

/// A batch with its records (approve).
pub async fn batch(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<BatchDetail> {
    require(scope, Permission::Approve)?;
    let batch = get_batch(scope, ex, id).await?;
    let items: Vec<BatchItem> = dispatch!(ex, c => sqlx::query_as(
        "SELECT i.document_id, COALESCE(d.title, x.title, '') AS title, COALESCE(s.schedule, xs.schedule) AS schedule, \
         COALESCE(s.code, x.series_code) AS series_code, COALESCE(s.title, x.series_title) AS series_title, \
         COALESCE(d.document_date, x.document_date) AS document_date, COALESCE(d.retention_due, x.retention_due) AS retention_due, \
         CAST(COALESCE((SELECT SUM(v.size) FROM records_versions v WHERE v.municipality_id = i.municipality_id AND v.document_id = i.document_id), 0) AS BIGINT) AS bytes, \
         CASE WHEN x.id IS NULL THEN FALSE ELSE TRUE END AS destroyed \
         FROM records_disposal_items i \
         LEFT JOIN records_documents d ON d.municipality_id = i.municipality_id AND d.id = i.document_id \
         LEFT JOIN records_document_types t ON t.municipality_id = d.municipality_id AND t.id = d.type_id \
         LEFT JOIN records_retention_series s ON s.id = t.retention_series_id \
         LEFT JOIN records_tombstones x ON x.municipality_id = i.municipality_id AND x.id = i.document_id \
         LEFT JOIN records_retention_series xs ON xs.code = x.series_code AND (xs.municipality_id IS NULL OR xs.municipality_id = i.municipality_id) \
         WHERE i.municipality_id = $1 AND i.batch_id = $2 ORDER BY 4, 6, 1")
        .bind(scope.municipality_id()).bind(id).fetch_all(c).await)?;
    Ok(BatchDetail { batch, items })
}

/// A batch to make.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct BatchIn {
    /// The agency (office or department) named on the authorization; the town's name if absent.
    #[serde(default)]
    pub agency: Option<String>,
    /// A note (up to 2,000 characters).
    #[serde(default)]
    pub note: Option<String>,
    /// The documents' ids: each must be past its retention, not held and in no other open batch.
    pub documents: Vec<String>,
}

/// Checks that each document may go into a batch (not counting `batch` itself); names `documents[i]`.
async fn check_eligible(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    today: time::Date,
    ids: &[String],
    batch: Option<&str>,
) -> Result<()> {
    let due = due_of(scope, ex, today, &DueQuery::default(), Some(ids)).await?;
    for (i, id) in ids.iter().enumerate() {
        let field = format!("documents[{i}]");
        if ids[..i].contains(id) {
            return Err(Error::invalid(field, "appears twice"));
        }
        let Some(r) = due.iter().find(|r| r.document_id == *id) else {
            return Err(Error::invalid(
                field,
                format!(
                    "document {} is not past its retention in {} (or does not exist)",
                    id.chars().take(40).collect::<String>(),
                    scope.town().name
                ),
            ));
        };
        if let Some(h) = r.holds.first() {
            return Err(Error::conflict(
                field,
                format!("'{}' is under the legal hold '{}'", r.title, h.matter),
            ));
        }
        if r.batch.is_some() {
            let mine = match batch {
                Some(b) => {
                    let n: i64 = dispatch!(ex, c => sqlx::query_scalar(
                        "SELECT COUNT(*) FROM records_disposal_items WHERE municipality_id = $1 AND batch_id = $2 AND document_id = $3")
                        .bind(scope.municipality_id()).bind(b).bind(id).fetch_one(c).await)?;
                    n > 0
                }
                None => false,
            };
            if !mine {
                return Err(Error::conflict(
                    field,
                    format!(
                        "'{}' is already in disposal batch {}",
                        r.title,
                        r.batch.unwrap_or(0)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn today(now: Timestamp) -> time::Date {
    now.datetime().date()
}

/// Makes a draft batch of eligible records (approve); audited.
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &BatchIn,
) -> Result<BatchDetail> {
    require(scope, Permission::Approve)?;
    if req.documents.is_empty() {
        return Err(Error::invalid("documents", "pick at least one record"));
    }
    if req.documents.len() > 5000 {
        return Err(Error::invalid("documents", "at most 5,000 records a batch"));
    }
    check_eligible(scope, tx, today(now), &req.documents, None).await?;
    let agency = opt_text("agency", req.agency.as_deref(), 200)?
        .unwrap_or_else(|| scope.town().name.clone());
    let note = opt_text("note", req.note.as_deref(), 2000)?;
    let number: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM records_disposal_batches WHERE municipality_id = $1")
        .bind(scope.municipality_id()).fetch_one(c).await)?;
    let id = new_id();
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_disposal_batches (municipality_id, id, number, status, agency, note, requested_by, created_at) \
         VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7)")
        .bind(scope.municipality_id()).bind(&id).bind(number).bind(&agency).bind(&note)
        .bind(&scope.actor().label).bind(now.to_db()).execute(c).await)?;
    set_items(scope, tx, &id, &req.documents).await?;
    let d = batch(scope, tx, &id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.disposal.create",
            "records_disposal_batch",
            &id,
            None,
            Some(
                serde_json::json!({"number": number, "agency": agency, "documents": req.documents}),
            ),
        ),
    )
    .await?;
    Ok(d)
}

async fn set_items(scope: &ServiceScope, tx: &mut Tx, id: &str, docs: &[String]) -> Result<()> {
    execute!(tx, c => sqlx::query("DELETE FROM records_disposal_items WHERE municipality_id = $1 AND batch_id = $2")
        .bind(scope.municipality_id()).bind(id).execute(c).await)?;
    for d in docs {
        execute!(tx, c => sqlx::query(
            "INSERT INTO records_disposal_items (municipality_id, batch_id, document_id) VALUES ($1, $2, $3)")
            .bind(scope.municipality_id()).bind(id).bind(d).execute(c).await)?;
    }
    Ok(())
}

/// The records of a draft batch.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ItemsIn {
    /// The documents' ids (replaces the batch's list).
    pub documents: Vec<String>,
}

/// Replaces the records of a draft batch (approve); audited.
pub async fn set_documents(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    req: &ItemsIn,
) -> Result<BatchDetail> {
    require(scope, Permission::Approve)?;
    let before = batch(scope, tx, id).await?;
    if before.batch.status != "draft" {
        return Err(Error::conflict(
            "status",
            format!(
                "batch {} is {}; only a draft can change",
                before.batch.number, before.batch.status
            ),
        ));
    }
    if req.documents.is_empty() {
        return Err(Error::invalid("documents", "pick at least one record"));
    }
    check_eligible(scope, tx, today(now), &req.documents, Some(id)).await?;
    set_items(scope, tx, id, &req.documents).await?;
    let after = batch(scope, tx, id).await?;
    audit::record(tx, now, scope.actor(), change(scope, "records.disposal.update", "records_disposal_batch", id,
        Some(serde_json::json!({"documents": before.items.iter().map(|i| &i.document_id).collect::<Vec<_>>()})),
        Some(serde_json::json!({"documents": req.documents})))).await?;
    Ok(after)
}

fn pdf_key(scope: &ServiceScope, id: &str) -> Result<BlobKey> {
    BlobKey::in_scope(scope, &format!("disposition/{id}.pdf"))
}

/// The series lines of the authorization, from the batch's records.
fn lines(items: &[BatchItem]) -> Vec<munishare_taxbill::DispositionLine> {
    let mut by: BTreeMap<(String, String), munishare_taxbill::DispositionLine> = BTreeMap::new();
    for i in items {
        let schedule = i.schedule.clone().unwrap_or_default();
        let code = i.series_code.clone().unwrap_or_default();
        let date = i
            .document_date
            .as_deref()
            .and_then(|d| parse_date("document_date", d).ok());
        let l = by
            .entry((schedule.clone(), code.clone()))
            .or_insert_with(|| munishare_taxbill::DispositionLine {
                schedule,
                series_code: code,
                series_title: i.series_title.clone().unwrap_or_default(),
                from: None,
                to: None,
                records: 0,
                bytes: 0,
            });
        l.records += 1;
        l.bytes += u64::try_from(i.bytes).unwrap_or(0);
        if let Some(d) = date {
            l.from = Some(l.from.map_or(d, |f| f.min(d)));
            l.to = Some(l.to.map_or(d, |t| t.max(d)));
        }
    }
    by.into_values().collect()
}

/// Approves a draft batch (approve): every record is checked again (past retention, not held),
/// the authorization modelled on Form RC-075 is rendered and stored in the blob store, and the
/// approval recorded (who, when, the PDF's SHA-256); audited.
pub async fn approve(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    id: &str,
) -> Result<BatchDetail> {
    require(scope, Permission::Approve)?;
    let mut tx = db.begin().await?;
    let d = batch(scope, &mut tx, id).await?;
    if d.batch.status != "draft" {
        return Err(Error::conflict(
            "status",
            format!(
                "batch {} is {}; only a draft can be approved",
                d.batch.number, d.batch.status
            ),
        ));
    }
    let ids: Vec<String> = d.items.iter().map(|i| i.document_id.clone()).collect();
    check_eligible(scope, &mut tx, today(now), &ids, Some(id)).await?;
    let requested_on = parse_date(
        "created_at",
        d.batch.created_at.get(..10).unwrap_or_default(),
    )?;
    let facts = munishare_taxbill::DispositionAuthorization {
        town: scope.town().name.clone(),
        agency: d.batch.agency.clone(),
        number: d.batch.number,
        requested_on,
        requested_by: d.batch.requested_by.clone(),
        approved_by: scope.actor().label.clone(),
        approved_on: today(now),
        lines: lines(&d.items),
    };
    let pdf = munishare_taxbill::render_disposition(&facts)
        .map_err(|e| Error::invalid(e.field().to_owned(), e.problem().to_string()))?;
    let sha = {
        use sha2::Digest;
        munishare_platform::types::hex(&sha2::Sha256::digest(&pdf))
    };
    blobs
        .put(&pdf_key(scope, id)?, bytes::Bytes::from(pdf))
        .await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE records_disposal_batches SET status = 'approved', approved_by = $3, approved_at = $4, authorization_sha256 = $5 \
         WHERE municipality_id = $1 AND id = $2 AND status = 'draft'")
        .bind(scope.municipality_id()).bind(id).bind(&scope.actor().label).bind(now.to_db()).bind(&sha).execute(c).await)?;
    let after = batch(scope, &mut tx, id).await?;
    audit::record(&mut tx, now, scope.actor(), change(scope, "records.disposal.approve", "records_disposal_batch", id,
        Some(serde_json::json!({"status": "draft"})),
        Some(serde_json::json!({"status": "approved", "authorization_sha256": sha, "documents": ids})))).await?;
    tx.commit().await?;
    Ok(after)
}

/// The authorization PDF of an approved (or destroyed) batch (approve).
pub async fn authorization(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    id: &str,
) -> Result<(i64, bytes::Bytes)> {
    require(scope, Permission::Approve)?;
    let b = {
        let mut c = db.read().await?;
        get_batch(scope, &mut c, id).await?
    };
    if b.authorization_sha256.is_none() {
        return Err(Error::NotFound {
            what: "authorization",
        });
    }
    Ok((b.number, blobs.get(&pdf_key(scope, id)?).await?))
}

/// What a destruction did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Destroyed {
    /// The batch, now `destroyed`.
    pub batch: Batch,
    /// Documents replaced by tombstones by this call (0 when a re-run only finished the purge).
    pub documents: u64,
    /// Content objects deleted from the store by this call.
    pub content_deleted: u64,
    /// Content kept because another version of the town still references it.
    pub content_shared: u64,
}

/// Destroys the records of an approved batch (approve): checks the holds again, replaces each
/// document by its tombstone in one transaction (audited, logged for the search index), then
/// deletes the content no remaining version references. On a batch left `destroying` by a
/// crash it only finishes the purge.
pub async fn destroy(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    id: &str,
) -> Result<Destroyed> {
    require(scope, Permission::Approve)?;
    let mut tx = db.begin().await?;
    crate::ingest::lock_town(scope, &mut tx, now).await?;
    let d = batch(scope, &mut tx, id).await?;
    let mut documents = 0u64;
    let mut content_shared = 0u64;
    match d.batch.status.as_str() {
        "approved" => {
            let ids: Vec<String> = d
                .items
                .iter()
                .filter(|i| !i.destroyed)
                .map(|i| i.document_id.clone())
                .collect();
            let held = holds::blocking(scope, &mut tx, &ids).await?;
            for (i, doc) in ids.iter().enumerate() {
                if let Some(h) = held.get(doc).and_then(|h| h.first()) {
                    return Err(Error::conflict(
                        format!("documents[{i}]"),
                        format!(
                            "document {doc} came under the legal hold '{}' after approval; release it or make a new batch",
                            h.matter
                        ),
                    ));
                }
            }
            let mut shas: Vec<String> = Vec::new();
            for doc in &ids {
                shas.extend(tombstone(scope, &mut tx, now, id, doc).await?);
                documents += 1;
            }
            shas.sort();
            shas.dedup();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            crate::index::touch(scope, &mut tx, now, &refs).await?;
            for sha in &shas {
                let still: i64 = dispatch!(&mut tx, c => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM records_versions WHERE municipality_id = $1 AND sha256 = $2")
                    .bind(scope.municipality_id()).bind(sha).fetch_one(c).await)?;
                if still > 0 {
                    content_shared += 1;
                    continue;
                }
                execute!(&mut tx, c => sqlx::query("DELETE FROM records_contents WHERE municipality_id = $1 AND sha256 = $2")
                    .bind(scope.municipality_id()).bind(sha).execute(c).await)?;
                execute!(&mut tx, c => sqlx::query(
                    "INSERT INTO records_disposal_purges (municipality_id, batch_id, sha256) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(scope.municipality_id()).bind(id).bind(sha).execute(c).await)?;
            }
            execute!(&mut tx, c => sqlx::query(
                "UPDATE records_disposal_batches SET status = 'destroying', destroyed_by = $3, destroyed_at = $4 \
                 WHERE municipality_id = $1 AND id = $2")
                .bind(scope.municipality_id()).bind(id).bind(&scope.actor().label).bind(now.to_db()).execute(c).await)?;
            audit::record(&mut tx, now, scope.actor(), change(scope, "records.disposal.destroy", "records_disposal_batch", id,
                Some(serde_json::json!({"status": "approved"})),
                Some(serde_json::json!({"status": "destroyed", "documents": ids, "content_shared": content_shared,
                    "authorization_sha256": d.batch.authorization_sha256})))).await?;
            tx.commit().await?;
        }
        "destroying" => {
            drop(tx);
        }
        other => {
            return Err(Error::conflict(
                "status",
                format!(
                    "batch {} is {other}; only an approved batch can be destroyed",
                    d.batch.number
                ),
            ));
        }
    }
    let content_deleted = finish_purges(scope, db, blobs, now, id).await?;
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE records_disposal_batches SET status = 'destroyed' WHERE municipality_id = $1 AND id = $2 AND status = 'destroying'")
        .bind(scope.municipality_id()).bind(id).execute(c).await)?;
    let batch = get_batch(scope, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Destroyed {
        batch,
        documents,
        content_deleted,
        content_shared,
    })
}

/// Replaces one document by its tombstone; returns the SHA-256 of its versions. Audited.
async fn tombstone(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    batch: &str,
    doc: &str,
) -> Result<Vec<String>> {
    let m = scope.municipality_id();
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let row: Option<Row> = dispatch!(tx, c => sqlx::query_as(
        "SELECT d.title, t.name, p.code, s.code, s.title, d.document_date, d.trigger_date, d.retention_due, d.created_at, d.created_by \
         FROM records_documents d LEFT JOIN records_document_types t ON t.municipality_id = d.municipality_id AND t.id = d.type_id \
         LEFT JOIN records_retention_series s ON s.id = t.retention_series_id \
         LEFT JOIN departments p ON p.municipality_id = d.municipality_id AND p.id = d.department_id \
         WHERE d.municipality_id = $1 AND d.id = $2")
        .bind(m).bind(doc).fetch_optional(c).await)?;
    let Some((
        title,
        type_name,
        department,
        series_code,
        series_title,
        document_date,
        trigger_date,
        retention_due,
        filed_at,
        filed_by,
    )) = row
    else {
        return Ok(Vec::new());
    };
    let versions: Vec<(i64, String, i64, String)> = dispatch!(tx, c => sqlx::query_as(
        "SELECT number, sha256, size, file_name FROM records_versions WHERE municipality_id = $1 AND document_id = $2 ORDER BY number")
        .bind(m).bind(doc).fetch_all(c).await)?;
    let current = versions.last().map(|v| v.1.clone()).unwrap_or_default();
    let versions_json = serde_json::json!(versions.iter().map(|(n, sha, size, name)|
        serde_json::json!({"number": n, "sha256": sha, "size": size, "file_name": name})).collect::<Vec<_>>());
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_tombstones (municipality_id, id, title, type_name, department, series_code, series_title, document_date, \
         trigger_date, retention_due, sha256, versions_json, filed_at, filed_by, batch_id, destroyed_at, destroyed_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)")
        .bind(m).bind(doc).bind(&title).bind(&type_name).bind(&department).bind(&series_code).bind(&series_title)
        .bind(&document_date).bind(&trigger_date).bind(&retention_due).bind(&current).bind(versions_json.to_string())
        .bind(&filed_at).bind(&filed_by).bind(batch).bind(now.to_db()).bind(&scope.actor().label).execute(c).await)?;
    for sql in [
        "DELETE FROM records_document_tags WHERE municipality_id = $1 AND document_id = $2",
        "DELETE FROM records_hold_documents WHERE municipality_id = $1 AND document_id = $2",
        "DELETE FROM records_links WHERE municipality_id = $1 AND (document_id = $2 OR (kind = 'records.document' AND target = $2))",
        "DELETE FROM records_notes WHERE municipality_id = $1 AND document_id = $2",
        "DELETE FROM records_version_texts WHERE municipality_id = $1 AND document_id = $2",
        "DELETE FROM records_versions WHERE municipality_id = $1 AND document_id = $2",
        "DELETE FROM records_documents WHERE municipality_id = $1 AND id = $2",
    ] {
        execute!(tx, c => sqlx::query(sql).bind(m).bind(doc).execute(c).await)?;
    }
    audit::record(tx, now, scope.actor(), change(scope, "records.document.destroy", "records_document", doc,
        Some(serde_json::json!({"title": title, "type": type_name, "series": series_code, "document_date": document_date,
            "retention_due": retention_due, "versions": versions_json})),
        Some(serde_json::json!({"tombstone": true, "batch": batch})))).await?;
    Ok(versions.into_iter().map(|v| v.1).collect())
}

/// Deletes the content objects a committed destruction logged, each under the town's lock and
/// only while no version of the town references it (an upload of the same bytes may have come
/// back since); returns how many objects were deleted.
async fn finish_purges(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    batch: &str,
) -> Result<u64> {
    let shas: Vec<(String,)> = {
        let mut c = db.read().await?;
        dispatch!(&mut c, c => sqlx::query_as(
            "SELECT sha256 FROM records_disposal_purges WHERE municipality_id = $1 AND batch_id = $2 ORDER BY sha256")
            .bind(scope.municipality_id()).bind(batch).fetch_all(c).await)?
    };
    let mut deleted = 0;
    for (sha,) in shas {
        let mut tx = db.begin().await?;
        crate::ingest::lock_town(scope, &mut tx, now).await?;
        let back: i64 = dispatch!(&mut tx, c => sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM records_versions WHERE municipality_id = $1 AND sha256 = $2) + \
             (SELECT COUNT(*) FROM records_contents WHERE municipality_id = $1 AND sha256 = $2)")
            .bind(scope.municipality_id()).bind(&sha).fetch_one(c).await)?;
        if back == 0 {
            blobs
                .delete(&crate::ingest::content_key(scope, &sha)?)
                .await?;
            // What the text module derives from the content (the OCR'd searchable PDF,
            // `derived/{sha256}.searchable.pdf`) holds the same words: it goes too.
            blobs.delete(&derived_key(scope, &sha)?).await?;
            // And so do its page images (`preview`).
            let prefix = format!("{}/", BlobKey::prefix(scope));
            for (location, _) in blobs
                .list_under(scope, &crate::preview::derived_folder(&sha))
                .await?
            {
                if let Some(name) = location.strip_prefix(&prefix) {
                    blobs.delete(&BlobKey::in_scope(scope, name)?).await?;
                }
            }
            deleted += 1;
        }
        execute!(&mut tx, c => sqlx::query(
            "DELETE FROM records_disposal_purges WHERE municipality_id = $1 AND batch_id = $2 AND sha256 = $3")
            .bind(scope.municipality_id()).bind(batch).bind(&sha).execute(c).await)?;
        tx.commit().await?;
    }
    Ok(deleted)
}

/// The searchable PDF the text module stores per content (see `text::searchable_key` on main).
fn derived_key(scope: &ServiceScope, sha256: &str) -> Result<BlobKey> {
    BlobKey::in_scope(scope, &format!("derived/{sha256}.searchable.pdf"))
}

/// A destroyed document's tombstone.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tombstone {
    /// The document's id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Its type.
    pub type_name: Option<String>,
    /// Department code.
    pub department: Option<String>,
    /// Series code.
    pub series_code: Option<String>,
    /// Series title.
    pub series_title: Option<String>,
    /// Its own date.
    pub document_date: Option<String>,
    /// Its trigger date.
    pub trigger_date: Option<String>,
    /// Its end of retention.
    pub retention_due: Option<String>,
    /// The current version's SHA-256 when destroyed.
    pub sha256: String,
    /// Every version: number, SHA-256, size, file name (JSON).
    pub versions_json: String,
    /// Filed.
    pub filed_at: String,
    /// By whom.
    pub filed_by: String,
    /// The disposal batch (its authorization).
    pub batch_id: String,
    /// Destroyed.
    pub destroyed_at: String,
    /// By whom.
    pub destroyed_by: String,
}

/// The town's tombstones, newest first (approve).
pub async fn tombstones(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Tombstone>> {
    require(scope, Permission::Approve)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, title, type_name, department, series_code, series_title, document_date, trigger_date, retention_due, sha256, \
         versions_json, filed_at, filed_by, batch_id, destroyed_at, destroyed_by FROM records_tombstones \
         WHERE municipality_id = $1 ORDER BY destroyed_at DESC, id")
        .bind(scope.municipality_id()).fetch_all(c).await)?)
}
