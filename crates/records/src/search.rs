//! Full-text search of a town's documents (docs/design/0013, "Search").
//!
//! Each node keeps a copy of every town's index (`DATA_DIR/search/{town}`), built by
//! `munishare-records-search`. The database is the truth: [`sync_town`] brings a town's copy
//! up to the town's change counter by reading the change log past the number its last commit
//! recorded (`index` module), or rebuilds it whole when the log no longer reaches back that far
//! or `munishare records reindex` asked for a rebuild. The server runs [`run_indexer`] in the
//! background; a search also catches up first when only a few changes are pending, so a user
//! finds what they filed a moment ago.
//!
//! Access is enforced inside the query: the caller's visibility (departments, confidential)
//! goes into the index query, so hits, totals and facet counts never include what they may not
//! read. The page of hits is then read from the database with the same visibility, so a
//! document that changed department a moment ago and is not yet re-indexed is still not shown.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use munishare_platform::access::CouncilAdmin;
use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Db, Executor, SqlBuilder, Tx};
use munishare_platform::jobs::Progress;
use munishare_platform::types::{MunicipalityId, Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use munishare_records_search as engine;
use serde::{Deserialize, Serialize};

use crate::documents::{self, Document};
use crate::{change, new_id, parse_date, require, types, visibility};

/// This node's search indexes, one per town under one directory (`DATA_DIR/search`); kept in
/// the application state's module extensions.
#[derive(Debug, Clone)]
pub struct SearchIndexes(pub Arc<engine::Indexes>);

impl SearchIndexes {
    /// The indexes under `root`, created when first needed.
    pub fn new(root: impl Into<PathBuf>) -> SearchIndexes {
        SearchIndexes(Arc::new(engine::Indexes::new(root)))
    }
}

/// Pending changes a search catches up on before it runs — or, when the node has no index of the
/// town yet or a rebuild was asked for, documents it indexes first; past this it searches what
/// the index holds and says how far behind it is (the background indexer is on it).
const CATCH_UP_INLINE: i64 = 2_000;
/// Documents read from the database per batch when indexing.
const BATCH: usize = 500;

fn engine_error(e: engine::Error) -> Error {
    match e {
        engine::Error::Invalid { field, message } => Error::invalid(field, message),
        other => Error::Internal(other.to_string()),
    }
}

/// Runs blocking index work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> engine::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("search index task: {e}")))?
        .map_err(engine_error)
}

/// Where a town's index stands against the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IndexState {
    /// The town's change counter in the database.
    pub changes: i64,
    /// Changes this node's index has not applied yet.
    pub behind: i64,
}

/// (epoch, seq) recorded with an index commit as `"{epoch}:{seq}"`.
fn parse_mark(mark: Option<&str>) -> Option<(i64, i64)> {
    let (e, s) = mark?.split_once(':')?;
    Some((e.parse().ok()?, s.parse().ok()?))
}

async fn counters(db: &Db, town: &MunicipalityId) -> Result<(i64, i64)> {
    let mut c = db.read().await?;
    let row: Option<(i64, i64)> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT index_epoch, index_seq FROM records_settings WHERE municipality_id = $1")
        .bind(town).fetch_optional(c).await)?;
    Ok(row.unwrap_or((0, 0)))
}

async fn documents_in(db: &Db, town: &MunicipalityId) -> Result<i64> {
    let mut c = db.read().await?;
    Ok(dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM records_documents WHERE municipality_id = $1")
        .bind(town).fetch_one(c).await)?)
}

/// What [`sync_town`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// Documents (re)indexed.
    pub indexed: u64,
    /// Documents removed.
    pub removed: u64,
    /// Whether the index was rebuilt whole.
    pub rebuilt: bool,
}

/// Brings this node's index of `town` up to the database: applies the logged changes past its
/// mark, or rebuilds it whole when the mark is missing, of another epoch, or older than the log.
pub async fn sync_town(db: &Db, indexes: &SearchIndexes, town: &MunicipalityId) -> Result<Synced> {
    sync_town_with(db, indexes, town, None).await
}

/// [`sync_town`], reporting documents done (and the share of a rebuild) to `progress`.
pub async fn sync_town_with(
    db: &Db,
    indexes: &SearchIndexes,
    town: &MunicipalityId,
    progress: Option<&Progress>,
) -> Result<Synced> {
    let index = indexes.0.town(town.as_str()).map_err(engine_error)?;
    let (epoch, seq) = counters(db, town).await?;
    let mark = {
        let index = Arc::clone(&index);
        parse_mark(blocking(move || index.mark()).await?.as_deref())
    };
    let incremental_from = match mark {
        Some((e, s)) if e == epoch && s == seq => return Ok(Synced::default()),
        Some((e, s)) if e == epoch && s < seq => {
            let mut c = db.read().await?;
            let oldest: Option<i64> = dispatch!(&mut c, c => sqlx::query_scalar(
                "SELECT MIN(seq) FROM records_index_log WHERE municipality_id = $1")
                .bind(town).fetch_one(c).await)?;
            // The log still holds every change after the mark.
            oldest.filter(|o| *o <= s + 1).map(|_| s)
        }
        _ => None,
    };
    let new_mark = format!("{epoch}:{seq}");
    match incremental_from {
        Some(from) => {
            let ids: Vec<String> = {
                let mut c = db.read().await?;
                dispatch!(&mut c, c => sqlx::query_scalar(
                    "SELECT DISTINCT document_id FROM records_index_log WHERE municipality_id = $1 AND seq > $2 AND seq <= $3")
                    .bind(town).bind(from).bind(seq).fetch_all(c).await)?
            };
            let mut docs = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(BATCH) {
                docs.extend(load(db, town, Load::Ids(chunk)).await?);
            }
            let removed: Vec<String> = ids
                .iter()
                .filter(|id| !docs.iter().any(|d| d.id == **id))
                .cloned()
                .collect();
            let out = Synced {
                indexed: docs.len() as u64,
                removed: removed.len() as u64,
                rebuilt: false,
            };
            blocking(move || index.apply_marked(&docs, &removed, Some(&new_mark))).await?;
            Ok(out)
        }
        None => {
            let total = documents_in(db, town).await?;
            let total = u64::try_from(total).unwrap_or(0);
            let mut sent = 0u64;
            let (tx, mut rx) = tokio::sync::mpsc::channel::<engine::Result<Vec<_>>>(2);
            let writer = tokio::task::spawn_blocking(move || {
                index.rebuild(std::iter::from_fn(|| rx.blocking_recv()), &new_mark)
            });
            let mut after = String::new();
            loop {
                let batch = match load(db, town, Load::After(&after)).await {
                    Ok(b) => b,
                    Err(e) => {
                        // Dropping the sender ends the rebuild; report the database's error.
                        drop(tx);
                        let _ = writer.await;
                        return Err(e);
                    }
                };
                let Some(last) = batch.last() else { break };
                after = last.id.clone();
                let full = batch.len() == BATCH;
                sent += batch.len() as u64;
                if let Some(p) = progress {
                    p.set(sent, sent, total.max(sent));
                }
                if tx.send(Ok(batch)).await.is_err() || !full {
                    break;
                }
            }
            drop(tx);
            let indexed = writer
                .await
                .map_err(|e| Error::Internal(format!("search index task: {e}")))?
                .map_err(engine_error)?;
            Ok(Synced {
                indexed,
                removed: 0,
                rebuilt: true,
            })
        }
    }
}

enum Load<'a> {
    /// These documents.
    Ids(&'a [String]),
    /// The next batch by id after this one ("" for the first).
    After(&'a str),
}

#[derive(sqlx::FromRow)]
struct IndexRow {
    id: String,
    title: String,
    department_id: Option<String>,
    type_id: Option<String>,
    document_date: Option<String>,
    confidential: bool,
    /// The user who filed it ('' for documents filed before that was kept).
    filed_by: String,
    fields_json: String,
    correspondent: Option<String>,
    body: Option<String>,
}

/// Reads documents as the index sees them: words from the title, the correspondent and the
/// current version's text; department and type by id (names may change without a re-index).
async fn load(
    db: &Db,
    town: &MunicipalityId,
    which: Load<'_>,
) -> Result<Vec<engine::IndexedDocument>> {
    let mut q = SqlBuilder::new(
        "SELECT d.id, d.title, d.department_id, d.type_id, d.document_date, d.confidential, COALESCE(d.filed_by_user, '') AS filed_by, \
         d.fields_json, d.correspondent, x.body FROM records_documents d \
         LEFT JOIN records_version_texts x ON x.municipality_id = d.municipality_id AND x.document_id = d.id \
         AND x.number = d.current_version AND x.status = 'done' WHERE d.municipality_id = ",
    );
    q.bind(town.to_string());
    match which {
        Load::Ids(ids) => {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            q.push(" AND d.id IN ").bind_list(ids.iter().cloned());
        }
        Load::After(after) => {
            q.push(" AND d.id > ")
                .bind(after.to_owned())
                .push(" ORDER BY d.id LIMIT ")
                .push_number(BATCH as u32);
        }
    }
    let (sql, args) = q.build();
    let mut c = db.read().await?;
    let rows: Vec<IndexRow> = dispatch!(&mut c, c => {
        let mut query = sqlx::query_as::<_, IndexRow>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_all(c).await
    })?;
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    if !rows.is_empty() {
        let mut t = SqlBuilder::new(
            "SELECT dt.document_id, g.name FROM records_document_tags dt JOIN records_tags g \
             ON g.municipality_id = dt.municipality_id AND g.id = dt.tag_id WHERE dt.municipality_id = ",
        );
        t.bind(town.to_string())
            .push(" AND dt.document_id IN ")
            .bind_list(rows.iter().map(|r| r.id.clone()));
        let (sql, args) = t.build();
        let pairs: Vec<(String, String)> = dispatch!(&mut c, c => {
            let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql.clone()));
            for a in args {
                query = query.bind(a);
            }
            query.fetch_all(c).await
        })?;
        for (doc, name) in pairs {
            tags.entry(doc).or_default().push(name.to_lowercase());
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let fields = match serde_json::from_str::<serde_json::Value>(&r.fields_json) {
                Ok(serde_json::Value::Object(m)) => m
                    .into_iter()
                    .filter_map(|(k, v)| field_value(&v).map(|v| (k.to_lowercase(), v)))
                    .collect(),
                _ => Vec::new(),
            };
            let body = match (r.correspondent, r.body) {
                (Some(c), Some(b)) => format!("{c}\n{b}"),
                (Some(c), None) => c,
                (None, b) => b.unwrap_or_default(),
            };
            engine::IndexedDocument {
                tags: tags.remove(&r.id).unwrap_or_default(),
                id: r.id,
                title: r.title,
                body,
                department: r.department_id,
                doc_type: r.type_id,
                date: r.document_date.as_deref().and_then(days),
                confidential: r.confidential,
                created_by: r.filed_by,
                fields,
            }
        })
        .collect())
}

/// A custom field value as the index matches it: text lower-cased, numbers and booleans as written.
fn field_value(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.trim().to_lowercase()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn days(date: &str) -> Option<i64> {
    parse_date("date", date).ok().map(days_of)
}

fn days_of(d: time::Date) -> i64 {
    i64::from(d.to_julian_day()) - i64::from(time::macros::date!(1970 - 01 - 01).to_julian_day())
}

/// Catches every town's index up; returns how many documents were indexed or removed.
pub async fn sync_all(db: &Db, indexes: &SearchIndexes) -> Result<u64> {
    let towns: Vec<MunicipalityId> = {
        let mut c = db.read().await?;
        dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT municipality_id FROM records_settings ORDER BY municipality_id").fetch_all(c).await)?
    };
    let mut n = 0;
    for town in towns {
        let s = sync_town(db, indexes, &town).await?;
        n += s.indexed + s.removed;
    }
    Ok(n)
}

/// Keeps this node's indexes caught up until `shutdown` turns true: every `interval`, each town
/// whose change counter moved is brought up to date.
pub async fn run_indexer(
    db: Db,
    indexes: SearchIndexes,
    interval: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = sync_all(&db, &indexes).await {
            tracing::error!(error = %e, "search indexer could not catch up");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// How long the change log is kept: a node whose index is further behind rebuilds it whole.
pub const LOG_KEPT: time::Duration = time::Duration::days(30);
/// The daily job that trims the change log.
pub const LOG_PRUNE_JOB: &str = "records.index_log_prune";

/// Registers [`LOG_PRUNE_JOB`]: once a day, log rows older than [`LOG_KEPT`] go. The job holds
/// no town's rights and reads no document: it deletes bookkeeping rows only, so it is not audited.
pub fn register_jobs(registry: &mut munishare_platform::jobs::Registry) {
    registry.register_periodic(
        LOG_PRUNE_JOB,
        time::Duration::days(1),
        |ctx: munishare_platform::jobs::JobContext, _p: serde_json::Value| async move {
            let now = Timestamp::new(ctx.clock.now());
            let n = prune_log(&ctx.db, now).await?;
            Ok(serde_json::json!({ "log_rows_removed": n }))
        },
    );
}

/// Deletes change-log rows older than [`LOG_KEPT`]; returns how many.
pub async fn prune_log(db: &Db, now: Timestamp) -> Result<u64> {
    let cutoff = Timestamp::new(now.datetime() - LOG_KEPT).to_db();
    let mut tx = db.begin().await?;
    let n = execute!(&mut tx, c => sqlx::query("DELETE FROM records_index_log WHERE logged_at < $1")
        .bind(&cutoff).execute(c).await)?;
    tx.commit().await?;
    Ok(n)
}

/// Asks every node to rebuild its index of the scope's town (administer; audited): bumps the
/// town's index epoch. Returns the new epoch.
pub async fn request_reindex(scope: &ServiceScope, tx: &mut Tx, now: Timestamp) -> Result<i64> {
    require(scope, Permission::Administer)?;
    crate::ingest::ensure_settings(scope, tx, now).await?;
    let epoch: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "UPDATE records_settings SET index_epoch = index_epoch + 1 WHERE municipality_id = $1 RETURNING index_epoch")
        .bind(scope.municipality_id()).fetch_one(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.index.rebuild",
            "records_index",
            scope.municipality_id().as_str(),
            None,
            Some(serde_json::json!({ "epoch": epoch })),
        ),
    )
    .await?;
    Ok(epoch)
}

/// Asks every node to rebuild its index of `town`, or of every town with records, from the
/// server's console (audited as the operator); returns the towns asked.
pub async fn request_reindex_by_operator(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    town: Option<&MunicipalityId>,
) -> Result<Vec<MunicipalityId>> {
    let mut tx = db.begin().await?;
    let towns: Vec<MunicipalityId> = match town {
        Some(t) => dispatch!(&mut tx, c => sqlx::query_scalar(
            "UPDATE records_settings SET index_epoch = index_epoch + 1 WHERE municipality_id = $1 RETURNING municipality_id")
            .bind(t).fetch_all(c).await)?,
        None => dispatch!(&mut tx, c => sqlx::query_scalar(
            "UPDATE records_settings SET index_epoch = index_epoch + 1 RETURNING municipality_id")
            .fetch_all(c).await)?,
    };
    for t in &towns {
        audit::record(
            &mut tx,
            now,
            admin.actor(),
            audit::Change {
                municipality_id: Some(t.clone()),
                service: Some(munishare_platform::types::Service::Records),
                action: "records.index.rebuild",
                entity_type: "records_index",
                entity_id: t.to_string(),
                before: None,
                after: Some(serde_json::json!({ "by": "console" })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(towns)
}

/// A search: words and filters, as the page's form and the API's query string give them.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::IntoParams,
    utoipa::ToSchema,
)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words (all must match; English stems), `"a phrase"`, `-excluded`, `title:word`.
    pub q: Option<String>,
    /// A document type's id or name.
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    /// A department's code; `none` for town-wide documents.
    pub department: Option<String>,
    /// Tags, separated by commas: documents carrying every one.
    pub tags: Option<String>,
    /// Document date from (inclusive), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Document date to (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// Custom field values that must match exactly, `name=value`, several separated by `;`.
    pub fields: Option<String>,
    /// `relevance` (default), `newest` or `oldest` (by the document's date).
    pub sort: Option<String>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Hits per page, 1 to 100 (default 20).
    pub per_page: Option<u32>,
}

fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

impl SearchQuery {
    /// The query without its page, as a query string (for links and saved searches).
    pub fn to_query_string(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("type", &self.doc_type),
            ("department", &self.department),
            ("tags", &self.tags),
            ("from", &self.from),
            ("to", &self.to),
            ("fields", &self.fields),
            ("sort", &self.sort),
        ] {
            match given(v.as_deref()) {
                // The default order is left out of links.
                Some("relevance") if k == "sort" => {}
                Some(v) => {
                    s.append_pair(k, v);
                }
                None => {}
            }
        }
        s.finish()
    }

    /// Whether the search has neither words nor filters.
    pub fn is_empty(&self) -> bool {
        self.to_query_string()
            .split('&')
            .all(|p| p.is_empty() || p.starts_with("sort="))
    }
}

/// A facet value with the number of matching documents the caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    /// The value to filter by (a type's name, a department's code or `none`, a tag).
    pub value: String,
    /// What to show.
    pub label: String,
    /// Matching documents.
    pub count: u64,
}

/// Facet counts over every match (not only the page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SearchFacets {
    /// By document type.
    pub types: Vec<FacetCount>,
    /// By department.
    pub departments: Vec<FacetCount>,
    /// By tag.
    pub tags: Vec<FacetCount>,
}

/// One hit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// The document.
    pub document: Document,
    /// Up to 200 characters around the matched words, HTML-escaped, the words in `<b>`.
    pub snippet_html: String,
}

/// A page of search results.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    /// Matching documents the caller may see, in all.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// Hits per page.
    pub per_page: u32,
    /// The hits of this page.
    pub hits: Vec<SearchHit>,
    /// Counts by type, department and tag.
    pub facets: SearchFacets,
    /// How current the index is.
    pub index: IndexState,
}

/// Searches the scope's town as the caller may see it.
pub async fn search(
    scope: &ServiceScope,
    db: &Db,
    indexes: &SearchIndexes,
    f: &SearchQuery,
) -> Result<SearchPage> {
    let (request, page, per_page, vis) = {
        let mut c = db.read().await?;
        let vis = visibility::of(scope, &mut c).await?;
        let (request, page, per_page) = request(scope, &mut c, f).await?;
        (request, page, per_page, vis)
    };
    let town = scope.municipality_id();
    let (epoch, seq) = counters(db, town).await?;
    let index = indexes.0.town(town.as_str()).map_err(engine_error)?;
    let mark = {
        let index = Arc::clone(&index);
        parse_mark(blocking(move || index.mark()).await?.as_deref())
    };
    let inline = match mark {
        Some((e, s)) if e == epoch => seq > s && seq - s <= CATCH_UP_INLINE,
        // No index on this node yet, or a rebuild was asked for: inline only for a small town;
        // the server's indexer builds a large one while the answer says how far behind it is.
        _ => documents_in(db, town).await? <= CATCH_UP_INLINE,
    };
    if inline {
        sync_town(db, indexes, town).await?;
    }
    let behind = {
        let index = Arc::clone(&index);
        let mark = parse_mark(blocking(move || index.mark()).await?.as_deref());
        let (now_epoch, now_seq) = counters(db, town).await?;
        match mark {
            Some((e, s)) if e == now_epoch => (now_seq - s).max(0),
            _ => now_seq.max(1),
        }
    };
    let engine_vis = engine::Visibility {
        departments: if vis.officer {
            None
        } else {
            vis.departments.clone()
        },
        confidential: vis.officer,
        created_by: vis.filed_by.clone(),
    };
    let results = blocking(move || index.search(&request, &engine_vis)).await?;
    let mut c = db.read().await?;
    let ids: Vec<String> = results.hits.iter().map(|h| h.id.clone()).collect();
    let mut docs: HashMap<String, Document> = documents::get_many(scope, &mut c, &vis, &ids)
        .await?
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect();
    let hits = results
        .hits
        .into_iter()
        .filter_map(|h| {
            docs.remove(&h.id).map(|document| SearchHit {
                document,
                snippet_html: h.snippet_html,
            })
        })
        .collect();
    let facets = facets(scope, &mut c, results.facets).await?;
    Ok(SearchPage {
        total: results.total as u64,
        page,
        per_page,
        hits,
        facets,
        index: IndexState {
            changes: seq,
            behind,
        },
    })
}

/// The engine's request from the query: names and codes to ids, dates to days; every error
/// names the query field.
async fn request(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    f: &SearchQuery,
) -> Result<(engine::SearchRequest, u32, u32)> {
    let per_page = f.per_page.unwrap_or(20);
    if !(1..=100).contains(&per_page) {
        return Err(Error::invalid("per_page", "must be 1 to 100"));
    }
    let page = f.page.unwrap_or(1).max(1);
    if page > 500 {
        return Err(Error::invalid(
            "page",
            "at most 500: narrow the search with words or filters",
        ));
    }
    let text = given(f.q.as_deref()).unwrap_or_default();
    if text.chars().count() > 500 {
        return Err(Error::invalid("q", "at most 500 characters"));
    }
    let doc_type = match given(f.doc_type.as_deref()) {
        Some(t) => Some(types::find(scope, ex, "type", t).await?.id),
        None => None,
    };
    let department = match given(f.department.as_deref()) {
        Some(d) if d.eq_ignore_ascii_case("none") => Some("~".to_owned()),
        Some(d) => Some(visibility::department(scope, ex, "department", d).await?.id),
        None => None,
    };
    let tags: Vec<String> = given(f.tags.as_deref())
        .map(|t| {
            t.split(',')
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let from = given(f.from.as_deref())
        .map(|v| parse_date("from", v))
        .transpose()?;
    let to = given(f.to.as_deref())
        .map(|v| parse_date("to", v))
        .transpose()?;
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(Error::invalid("to", "is before 'from'"));
    }
    let mut fields = Vec::new();
    for part in given(f.fields.as_deref())
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((name, value)) = part.split_once('=') else {
            return Err(Error::invalid(
                "fields",
                format!(
                    "'{}' is not name=value",
                    part.chars().take(40).collect::<String>()
                ),
            ));
        };
        fields.push((name.trim().to_lowercase(), value.trim().to_lowercase()));
    }
    let sort = match given(f.sort.as_deref()) {
        None | Some("relevance") => engine::Sort::Relevance,
        Some("newest") => engine::Sort::DateDesc,
        Some("oldest") => engine::Sort::DateAsc,
        Some(_) => {
            return Err(Error::invalid(
                "sort",
                "must be relevance, newest or oldest",
            ));
        }
    };
    Ok((
        engine::SearchRequest {
            text: text.to_owned(),
            doc_type,
            department,
            tags,
            date_from: from.map(days_of),
            date_to: to.map(days_of),
            fields,
            sort,
            offset: ((page - 1) * per_page) as usize,
            limit: per_page as usize,
        },
        page,
        per_page,
    ))
}

/// The engine's facet counts (by id) with the names people read.
async fn facets(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    f: engine::Facets,
) -> Result<SearchFacets> {
    let type_names: HashMap<String, String> = types::list(scope, ex)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let departments: HashMap<String, visibility::Department> = visibility::departments(scope, ex)
        .await?
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect();
    let types = f
        .doc_types
        .into_iter()
        .filter_map(|(id, count)| {
            type_names.get(&id).map(|name| FacetCount {
                value: name.clone(),
                label: name.clone(),
                count,
            })
        })
        .collect();
    let departments = f
        .departments
        .into_iter()
        .filter_map(|(id, count)| {
            if id == "~" {
                Some(FacetCount {
                    value: "none".into(),
                    label: "Town-wide".into(),
                    count,
                })
            } else {
                departments.get(&id).map(|d| FacetCount {
                    value: d.code.clone(),
                    label: d.name.clone(),
                    count,
                })
            }
        })
        .collect();
    let tags = f
        .tags
        .into_iter()
        .map(|(t, count)| FacetCount {
            value: t.clone(),
            label: t,
            count,
        })
        .collect();
    Ok(SearchFacets {
        types,
        departments,
        tags,
    })
}

/// A search kept under a name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedSearch {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The search.
    pub query: SearchQuery,
    /// Shared with the town's records users (otherwise only its owner sees it).
    pub shared: bool,
    /// Whether the caller owns it (and may delete it).
    pub mine: bool,
    /// Saved.
    pub created_at: String,
}

/// A search to save.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SavedSearchIn {
    /// 1 to 100 characters, unique among the caller's saved searches.
    pub name: String,
    /// The search (its page is not kept).
    pub query: SearchQuery,
    /// Share it with the town's records users.
    #[serde(default)]
    pub shared: bool,
}

#[derive(sqlx::FromRow)]
struct SavedRow {
    id: String,
    name: String,
    query: String,
    shared: bool,
    owner_id: String,
    created_at: String,
}

/// The caller's saved searches and those shared in the town, by name.
pub async fn saved(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<SavedSearch>> {
    crate::require_reader(scope)?;
    let rows: Vec<SavedRow> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, name, query, shared, owner_id, created_at FROM records_saved_searches \
         WHERE municipality_id = $1 AND (owner_id = $2 OR shared) ORDER BY LOWER(name), id")
        .bind(scope.municipality_id()).bind(scope.user_id()).fetch_all(c).await)?;
    Ok(rows
        .into_iter()
        .map(|r| SavedSearch {
            mine: r.owner_id == scope.user_id().as_str(),
            query: serde_json::from_str(&r.query).unwrap_or_default(),
            id: r.id,
            name: r.name,
            shared: r.shared,
            created_at: r.created_at,
        })
        .collect())
}

/// Saves a search for the caller (view; sharing it with the town needs edit); audited.
pub async fn save(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &SavedSearchIn,
) -> Result<SavedSearch> {
    crate::require_reader(scope)?;
    if req.shared {
        require(scope, Permission::View)?;
        require(scope, Permission::Edit)?;
    }
    let name = crate::opt_text("name", Some(&req.name), 100)?
        .ok_or_else(|| Error::invalid("name", "give the search a name"))?;
    // Check the search reads (names the field at fault) before keeping it.
    let query = SearchQuery {
        page: None,
        per_page: None,
        ..req.query.clone()
    };
    request(scope, tx, &query).await?;
    let taken: Option<String> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT id FROM records_saved_searches WHERE municipality_id = $1 AND owner_id = $2 AND LOWER(name) = $3")
        .bind(scope.municipality_id()).bind(scope.user_id()).bind(name.to_lowercase()).fetch_optional(c).await)?;
    if taken.is_some() {
        return Err(Error::conflict(
            "name",
            format!("you already have a saved search named '{name}'"),
        ));
    }
    let saved = SavedSearch {
        id: new_id(),
        name,
        query,
        shared: req.shared,
        mine: true,
        created_at: now.to_db(),
    };
    let json = serde_json::to_string(&saved.query).map_err(|e| Error::Internal(e.to_string()))?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_saved_searches (municipality_id, id, name, query, shared, owner_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(scope.municipality_id()).bind(&saved.id).bind(&saved.name).bind(&json).bind(saved.shared)
        .bind(scope.user_id()).bind(&saved.created_at).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.search.save",
            "records_saved_search",
            &saved.id,
            None,
            Some(serde_json::json!({"name": saved.name, "query": saved.query.to_query_string(), "shared": saved.shared})),
        ),
    )
    .await?;
    Ok(saved)
}

/// Deletes one of the caller's saved searches (a records administrator may delete a shared
/// one); audited. Another's private search answers 404.
pub async fn delete_saved(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
) -> Result<()> {
    let found = saved(scope, tx)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(Error::NotFound {
            what: "saved search",
        })?;
    if !found.mine {
        require(scope, Permission::Administer)?;
    }
    execute!(tx, c => sqlx::query("DELETE FROM records_saved_searches WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.search.delete",
            "records_saved_search",
            id,
            Some(serde_json::json!({"name": found.name, "query": found.query.to_query_string()})),
            None,
        ),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_read_back_and_junk_is_no_mark() {
        assert_eq!(parse_mark(Some("3:1207")), Some((3, 1207)));
        assert_eq!(parse_mark(Some("")), None);
        assert_eq!(parse_mark(Some("x:1")), None);
        assert_eq!(parse_mark(None), None);
    }

    #[test]
    fn days_count_from_1970() {
        assert_eq!(days("1970-01-01"), Some(0));
        // 2026-11-27: 56 years with 14 leap days = 20,454 days, plus 330 days into 2026.
        assert_eq!(days("2026-11-27"), Some(20_454 + 330));
        assert_eq!(days("not a date"), None);
    }

    #[test]
    fn the_query_string_keeps_the_search_and_drops_the_page() {
        let q = SearchQuery {
            q: Some("sewer \"main break\"".into()),
            department: Some("PW".into()),
            tags: Some(" ".into()),
            page: Some(3),
            ..SearchQuery::default()
        };
        assert_eq!(
            q.to_query_string(),
            "q=sewer+%22main+break%22&department=PW"
        );
        assert!(!q.is_empty());
        assert!(
            SearchQuery {
                sort: Some("newest".into()),
                ..SearchQuery::default()
            }
            .is_empty()
        );
    }
}
