//! Documents, their versions, tags and notes: filing a staged upload as a new
//! document or a new version, the filtered and paged list, the detail,
//! metadata changes, tags, notes and the content of a version. Every function
//! reads through the caller's [`Visibility`]: a document the caller may not
//! see answers 404, like another town's.

use munishare_platform::access::ServiceScope;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{self, Db, Executor, SqlBuilder, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::ingest::{self, Staged};
use crate::types::{self, DocumentType};
use crate::visibility::{self, Visibility};
use crate::{change, new_id, opt_text, parse_date, require};

/// A document as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Document {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Its document type's id and name.
    pub type_id: Option<String>,
    /// The type's name.
    pub type_name: Option<String>,
    /// The department's code (absent: a town-wide document).
    pub department: Option<String>,
    /// The department's name.
    pub department_name: Option<String>,
    /// Who sent or wrote it.
    pub correspondent: Option<String>,
    /// The document's own date, `YYYY-MM-DD`.
    pub document_date: Option<String>,
    /// Visible only to the records officer.
    pub confidential: bool,
    /// Custom field values, as the type defines them.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    /// Tags, by name.
    pub tags: Vec<String>,
    /// The current version's number (from 1).
    pub current_version: i64,
    /// The current version's size in bytes.
    pub size: i64,
    /// The current version's media type.
    pub media_type: String,
    /// The current version's original file name.
    pub file_name: String,
    /// The current version's SHA-256.
    pub sha256: String,
    /// Filed.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
    /// Last changed.
    pub updated_at: String,
    /// The end of its retention, from its type's series (retained through this date); absent
    /// when it never falls due or a date is missing (`GET …/retention` says which).
    pub retention_due: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DocRow {
    id: String,
    title: String,
    type_id: Option<String>,
    type_name: Option<String>,
    department: Option<String>,
    department_name: Option<String>,
    correspondent: Option<String>,
    document_date: Option<String>,
    confidential: bool,
    fields_json: String,
    current_version: i64,
    size: i64,
    media_type: String,
    file_name: String,
    sha256: String,
    created_at: String,
    created_by: String,
    updated_at: String,
    retention_due: Option<String>,
}

impl DocRow {
    fn into_document(self, tags: Vec<String>) -> Document {
        Document {
            id: self.id,
            title: self.title,
            type_id: self.type_id,
            type_name: self.type_name,
            department: self.department,
            department_name: self.department_name,
            correspondent: self.correspondent,
            document_date: self.document_date,
            confidential: self.confidential,
            fields: serde_json::from_str(&self.fields_json)
                .unwrap_or_else(|_| serde_json::json!({})),
            tags,
            current_version: self.current_version,
            size: self.size,
            media_type: self.media_type,
            file_name: self.file_name,
            sha256: self.sha256,
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
            retention_due: self.retention_due,
        }
    }
}

const SELECT: &str = "SELECT d.id, d.title, d.type_id, t.name AS type_name, p.code AS department, \
    p.name AS department_name, d.correspondent, d.document_date, d.confidential, d.fields_json, d.current_version, \
    v.size, v.media_type, v.file_name, v.sha256, d.created_at, d.created_by, d.updated_at, d.retention_due \
    FROM records_documents d \
    JOIN records_versions v ON v.municipality_id = d.municipality_id AND v.document_id = d.id AND v.number = d.current_version \
    LEFT JOIN records_document_types t ON t.municipality_id = d.municipality_id AND t.id = d.type_id \
    LEFT JOIN departments p ON p.municipality_id = d.municipality_id AND p.id = d.department_id \
    WHERE d.municipality_id = ";

const COUNT: &str = "SELECT COUNT(*) FROM records_documents d WHERE d.municipality_id = ";

/// The list's filters, sort and page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    /// Words in the title (case-insensitive).
    pub q: Option<String>,
    /// A document type's id or name.
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    /// A department's code (e.g. `CLK`); `none` for town-wide documents.
    pub department: Option<String>,
    /// A tag's name.
    pub tag: Option<String>,
    /// Document date from (inclusive), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Document date to (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// Only documents whose retention ends on or before this date, `YYYY-MM-DD`.
    pub due_before: Option<String>,
    /// `title`, `date` (the document's), `created` (default), `updated` or `due` (end of retention).
    pub sort: Option<String>,
    /// `asc` or `desc` (default for dates: `desc`).
    pub dir: Option<String>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Rows per page, 1 to 200 (default 50).
    pub per_page: Option<u32>,
}

/// One page of documents.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentPage {
    /// The documents on this page.
    pub documents: Vec<Document>,
    /// Documents matching the filters (that the caller may see).
    pub total: i64,
    /// This page, from 1.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

fn like_pattern(q: &str) -> String {
    let mut out = String::from("%");
    for ch in q.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

async fn filters(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    vis: &Visibility,
    f: &DocumentQuery,
    q: &mut SqlBuilder,
) -> Result<()> {
    q.bind(scope.municipality_id().to_string());
    vis.push_filter(q);
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if text.chars().count() > 200 {
            return Err(Error::invalid("q", "at most 200 characters"));
        }
        q.push(" AND LOWER(d.title) LIKE ")
            .bind(like_pattern(text))
            .push(" ESCAPE '\\'");
    }
    if let Some(t) = f
        .doc_type
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let ty = types::find(scope, ex, "type", t).await?;
        q.push(" AND d.type_id = ").bind(ty.id);
    }
    if let Some(d) = f
        .department
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if d.eq_ignore_ascii_case("none") {
            q.push(" AND d.department_id IS NULL");
        } else {
            let dep = visibility::department(scope, ex, "department", d).await?;
            q.push(" AND d.department_id = ").bind(dep.id);
        }
    }
    if let Some(tag) = f.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        q.push(" AND EXISTS (SELECT 1 FROM records_document_tags dt JOIN records_tags g \
                 ON g.municipality_id = dt.municipality_id AND g.id = dt.tag_id \
                 WHERE dt.municipality_id = d.municipality_id AND dt.document_id = d.id AND LOWER(g.name) = ")
            .bind(tag.to_lowercase())
            .push(")");
    }
    let from = f
        .from
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|v| parse_date("from", v))
        .transpose()?;
    let to =
        f.to.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|v| parse_date("to", v))
            .transpose()?;
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(Error::invalid("to", "is before 'from'"));
    }
    if let Some(a) = from {
        q.push(" AND d.document_date >= ").bind(a.to_string());
    }
    if let Some(b) = to {
        q.push(" AND d.document_date <= ").bind(b.to_string());
    }
    if let Some(b) = f
        .due_before
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let b = parse_date("due_before", b)?;
        q.push(" AND d.retention_due <= ").bind(b.to_string());
    }
    Ok(())
}

async fn tags_of(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    ids: &[String],
) -> Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new(
        "SELECT dt.document_id, g.name FROM records_document_tags dt JOIN records_tags g \
         ON g.municipality_id = dt.municipality_id AND g.id = dt.tag_id WHERE dt.municipality_id = ",
    );
    q.bind(scope.municipality_id().to_string());
    q.push(" AND dt.document_id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(id.clone());
    }
    q.push(") ORDER BY g.name");
    let (sql, args) = q.build();
    Ok(dispatch!(ex, c => {
        let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_all(c).await
    })?)
}

async fn with_tags(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    rows: Vec<DocRow>,
) -> Result<Vec<Document>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut tags = tags_of(scope, ex, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = tags
                .iter()
                .filter(|(d, _)| *d == r.id)
                .map(|(_, n)| n.clone())
                .collect();
            tags.retain(|(d, _)| *d != r.id);
            r.into_document(mine)
        })
        .collect())
}

/// The documents the caller may see, filtered, sorted and paged.
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    f: &DocumentQuery,
) -> Result<DocumentPage> {
    let vis = visibility::of(scope, ex).await?;
    let per_page = f.per_page.unwrap_or(50);
    if !(1..=200).contains(&per_page) {
        return Err(Error::invalid("per_page", "must be 1 to 200"));
    }
    let page = f.page.unwrap_or(1).max(1);
    let desc_default = !matches!(f.sort.as_deref(), Some("title" | "due"));
    let desc = match f.dir.as_deref() {
        None | Some("") => desc_default,
        Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(Error::invalid("dir", "must be asc or desc")),
    };
    let order: &'static str = match (f.sort.as_deref().unwrap_or("created"), desc) {
        ("title", false) => " ORDER BY LOWER(d.title), d.id",
        ("title", true) => " ORDER BY LOWER(d.title) DESC, d.id DESC",
        ("date", false) => " ORDER BY COALESCE(d.document_date, ''), d.id",
        ("date", true) => " ORDER BY COALESCE(d.document_date, '') DESC, d.id DESC",
        ("created", false) => " ORDER BY d.created_at, d.id",
        ("created", true) => " ORDER BY d.created_at DESC, d.id DESC",
        ("updated", false) => " ORDER BY d.updated_at, d.id",
        ("updated", true) => " ORDER BY d.updated_at DESC, d.id DESC",
        ("due", false) => " ORDER BY COALESCE(d.retention_due, '9999'), d.id",
        ("due", true) => " ORDER BY COALESCE(d.retention_due, '') DESC, d.id DESC",
        _ => {
            return Err(Error::invalid(
                "sort",
                "must be title, date, created, updated or due",
            ));
        }
    };
    let mut count = SqlBuilder::new(COUNT);
    filters(scope, ex, &vis, f, &mut count).await?;
    let (sql, args) = count.build();
    let total: i64 = dispatch!(ex, c => {
        let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_one(c).await
    })?;
    let mut q = SqlBuilder::new(SELECT);
    filters(scope, ex, &vis, f, &mut q).await?;
    q.push(order)
        .push(" LIMIT ")
        .push_number(per_page)
        .push(" OFFSET ");
    q.push_number((page - 1).saturating_mul(per_page));
    let (sql, args) = q.build();
    let rows: Vec<DocRow> = dispatch!(ex, c => {
        let mut query = sqlx::query_as::<_, DocRow>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_all(c).await
    })?;
    Ok(DocumentPage {
        documents: with_tags(scope, ex, rows).await?,
        total,
        page,
        per_page,
    })
}

/// One document the caller may see; otherwise 404.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<Document> {
    let vis = visibility::of(scope, ex).await?;
    let mut q = SqlBuilder::new(SELECT);
    q.bind(scope.municipality_id().to_string());
    vis.push_filter(&mut q);
    q.push(" AND d.id = ").bind(id.to_owned());
    let (sql, args) = q.build();
    let row: Option<DocRow> = dispatch!(ex, c => {
        let mut query = sqlx::query_as::<_, DocRow>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_optional(c).await
    })?;
    let row = row.ok_or(Error::NotFound { what: "document" })?;
    Ok(with_tags(scope, ex, vec![row]).await?.remove(0))
}

/// The documents of `ids` that the caller may see, in no particular order; the others are left out.
pub async fn get_many(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    vis: &Visibility,
    ids: &[String],
) -> Result<Vec<Document>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new(SELECT);
    q.bind(scope.municipality_id().to_string());
    vis.push_filter(&mut q);
    q.push(" AND d.id IN ").bind_list(ids.iter().cloned());
    let (sql, args) = q.build();
    let rows: Vec<DocRow> = dispatch!(ex, c => {
        let mut query = sqlx::query_as::<_, DocRow>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_all(c).await
    })?;
    with_tags(scope, ex, rows).await
}

/// A version of a document.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Version {
    /// Number, from 1.
    pub number: i64,
    /// The content's SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Media type, told from the content.
    pub media_type: String,
    /// The original file name.
    pub file_name: String,
    /// Filed.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
}

/// A note on a document.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Note {
    /// Id.
    pub id: String,
    /// The text.
    pub body: String,
    /// Written.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
}

/// A document with every version and note.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentDetail {
    /// The document.
    pub document: Document,
    /// Its versions, newest first.
    pub versions: Vec<Version>,
    /// Its notes, oldest first.
    pub notes: Vec<Note>,
    /// The text taken from each version (for search), newest first; a version
    /// filed before text extraction existed has none until it is retried.
    pub texts: Vec<crate::text::VersionText>,
}

/// A document the caller may see, with versions and notes.
pub async fn detail(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
) -> Result<DocumentDetail> {
    let document = get(scope, ex, id).await?;
    let versions: Vec<Version> = dispatch!(ex, c => sqlx::query_as(
        "SELECT number, sha256, size, media_type, file_name, created_at, created_by FROM records_versions \
         WHERE municipality_id = $1 AND document_id = $2 ORDER BY number DESC")
        .bind(scope.municipality_id()).bind(id).fetch_all(c).await)?;
    let notes: Vec<Note> = dispatch!(ex, c => sqlx::query_as(
        "SELECT id, body, created_at, created_by FROM records_notes \
         WHERE municipality_id = $1 AND document_id = $2 ORDER BY created_at, id")
        .bind(scope.municipality_id()).bind(id).fetch_all(c).await)?;
    let texts = crate::text::statuses(scope, ex, id).await?;
    Ok(DocumentDetail {
        document,
        versions,
        notes,
        texts,
    })
}

/// A version's content for download: its row and where its bytes are.
pub async fn version_content(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
    number: Option<i64>,
) -> Result<(Version, BlobKey)> {
    let doc = get(scope, ex, id).await?;
    let n = number.unwrap_or(doc.current_version);
    let v: Option<Version> = dispatch!(ex, c => sqlx::query_as(
        "SELECT number, sha256, size, media_type, file_name, created_at, created_by FROM records_versions \
         WHERE municipality_id = $1 AND document_id = $2 AND number = $3")
        .bind(scope.municipality_id()).bind(id).bind(n).fetch_optional(c).await)?;
    let v = v.ok_or(Error::NotFound { what: "version" })?;
    let key = ingest::content_key(scope, &v.sha256)?;
    Ok((v, key))
}

/// A document's metadata, as filed or changed.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct DocumentIn {
    /// Title (1 to 300 characters); when filing, the file name without its extension if absent.
    #[serde(default)]
    pub title: Option<String>,
    /// A document type's id or name.
    #[serde(default, rename = "type")]
    pub doc_type: Option<String>,
    /// A department's code; absent for a town-wide document.
    #[serde(default)]
    pub department: Option<String>,
    /// Who sent or wrote it (up to 200 characters).
    #[serde(default)]
    pub correspondent: Option<String>,
    /// The document's own date, `YYYY-MM-DD`.
    #[serde(default)]
    pub document_date: Option<String>,
    /// Visible only to the records officer (setting it needs approve).
    #[serde(default)]
    pub confidential: bool,
    /// Custom field values, checked against the type.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Tags (created in the town when new).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Metadata checked against the town: what [`file`] and [`update`] write.
#[derive(Debug, Clone)]
pub struct CheckedMeta {
    title: Option<String>,
    doc_type: Option<DocumentType>,
    department_id: Option<String>,
    /// The department's code, for the audit record.
    department_code: Option<String>,
    correspondent: Option<String>,
    document_date: Option<String>,
    confidential: bool,
    fields: serde_json::Map<String, serde_json::Value>,
    tags: Vec<String>,
}

/// Checks metadata before any byte of an upload is read: the type and
/// department exist in the town, the caller may file there (edit; a
/// department they can see; approve for confidential), the fields fit the type.
pub async fn check_meta(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    m: &DocumentIn,
) -> Result<CheckedMeta> {
    check_meta_as(scope, ex, m, false).await
}

async fn check_meta_as(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    m: &DocumentIn,
    require_all: bool,
) -> Result<CheckedMeta> {
    require(scope, Permission::Edit)?;
    let vis = visibility::of(scope, ex).await?;
    let title = opt_text("title", m.title.as_deref(), 300)?;
    let doc_type = match m
        .doc_type
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(t) => Some(types::find(scope, ex, "type", t).await?),
        None => None,
    };
    let department = match m
        .department
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(d) => {
            let dep = visibility::department(scope, ex, "department", d).await?;
            if !vis.sees(Some(&dep.id), false) {
                return Err(Error::invalid(
                    "department",
                    format!("you may not file records for {}", dep.name),
                ));
            }
            Some(dep)
        }
        None => None,
    };
    if m.confidential && !crate::is_officer(scope) {
        return Err(Error::invalid(
            "confidential",
            "only the records officer may mark a document confidential",
        ));
    }
    let document_date = m
        .document_date
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|v| parse_date("document_date", v).map(|d| d.to_string()))
        .transpose()?;
    let fields = types::check_values(doc_type.as_ref(), &m.fields, require_all)?;
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in m.tags.iter().enumerate() {
        if let Some(t) = opt_text(&format!("tags[{i}]"), Some(t), 60)?
            && !tags.iter().any(|x| x.eq_ignore_ascii_case(&t))
        {
            tags.push(t);
        }
    }
    if tags.len() > 30 {
        return Err(Error::invalid("tags", "at most 30 tags"));
    }
    Ok(CheckedMeta {
        title,
        doc_type,
        department_id: department.as_ref().map(|d| d.id.clone()),
        department_code: department.map(|d| d.code),
        correspondent: opt_text("correspondent", m.correspondent.as_deref(), 200)?,
        document_date,
        confidential: m.confidential,
        fields,
        tags,
    })
}

/// What an upload became.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Filed {
    /// The document, as it now is.
    pub document: Document,
    /// The version the upload became.
    pub version: i64,
    /// The content's SHA-256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its media type, told from its bytes.
    pub media_type: String,
    /// The town already had this content: it was not stored again.
    pub deduplicated: bool,
}

async fn tag_ids(scope: &ServiceScope, tx: &mut Tx, names: &[String]) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for n in names {
        let found: Option<(String,)> = dispatch!(tx, c => sqlx::query_as(
            "SELECT id FROM records_tags WHERE municipality_id = $1 AND LOWER(name) = LOWER($2)")
            .bind(scope.municipality_id()).bind(n).fetch_optional(c).await)?;
        let id = match found {
            Some((id,)) => id,
            None => {
                let id = new_id();
                execute!(tx, c => sqlx::query("INSERT INTO records_tags (municipality_id, id, name) VALUES ($1, $2, $3)")
                    .bind(scope.municipality_id()).bind(&id).bind(n).execute(c).await)?;
                id
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

async fn replace_tags(
    scope: &ServiceScope,
    tx: &mut Tx,
    doc: &str,
    names: &[String],
) -> Result<()> {
    let ids = tag_ids(scope, tx, names).await?;
    execute!(tx, c => sqlx::query("DELETE FROM records_document_tags WHERE municipality_id = $1 AND document_id = $2")
        .bind(scope.municipality_id()).bind(doc).execute(c).await)?;
    for id in ids {
        execute!(tx, c => sqlx::query(
            "INSERT INTO records_document_tags (municipality_id, document_id, tag_id) VALUES ($1, $2, $3)")
            .bind(scope.municipality_id()).bind(doc).bind(&id).execute(c).await)?;
    }
    Ok(())
}

fn title_from(file_name: &str) -> String {
    let stem = match file_name.rsplit_once('.') {
        Some((s, ext)) if !s.is_empty() && ext.len() <= 5 => s,
        _ => file_name,
    };
    stem.chars().take(300).collect()
}

async fn insert_version(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    doc: &str,
    n: i64,
    s: &Staged,
) -> Result<()> {
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_versions (municipality_id, document_id, number, sha256, size, media_type, file_name, created_at, created_by, contributed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(scope.municipality_id()).bind(doc).bind(n).bind(&s.sha256).bind(s.size).bind(s.media_type)
        .bind(&s.file_name).bind(now.to_db()).bind(&scope.actor().label)
        .bind(!scope.can(Permission::View)).execute(c).await)?;
    Ok(())
}

/// Files a staged upload as a new document (edit); one transaction with its
/// audit event (see `ingest` for the order that keeps content and rows consistent).
pub async fn file(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    staged: &Staged,
    meta: &CheckedMeta,
) -> Result<Filed> {
    require(scope, Permission::Edit)?;
    let mut tx = db.begin().await?;
    let committed = ingest::commit(scope, &mut tx, blobs, now, staged).await?;
    let ids = insert_filed(
        scope,
        &mut tx,
        now,
        meta,
        &[NewDocument {
            staged,
            deduplicated: committed.deduplicated,
            text: None,
        }],
    )
    .await?;
    crate::index::touch(scope, &mut tx, now, &[&ids[0]]).await?;
    let document = get(scope, &mut tx, &ids[0]).await?;
    tx.commit().await?;
    Ok(Filed {
        document,
        version: 1,
        sha256: staged.sha256.clone(),
        size: staged.size,
        media_type: staged.media_type.to_owned(),
        deduplicated: committed.deduplicated,
    })
}

/// A new document for [`insert_filed`].
pub(crate) struct NewDocument<'a> {
    /// Its content, which the town now holds (its content row is in).
    pub staged: &'a Staged,
    /// The town held the content before.
    pub deduplicated: bool,
    /// Its text when the filer already has it (a plain-text file read whole): stored as taken,
    /// with no extraction job. None: a `records.extract` job takes it.
    pub text: Option<String>,
}

/// Writes new documents' rows, all with `meta`, and one audit event each, inside the caller's
/// transaction; returns their ids in order. The caller logs them for the index. Rows go in
/// multi-row statements: a bulk load's batch of 256 takes a dozen statements, not thousands.
pub(crate) async fn insert_filed(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    meta: &CheckedMeta,
    docs: &[NewDocument<'_>],
) -> Result<Vec<String>> {
    let town = scope.municipality_id();
    let at = now.to_db();
    let fields_json = serde_json::Value::Object(meta.fields.clone()).to_string();
    let type_id = meta.doc_type.as_ref().map(|t| t.id.clone());
    let type_name = meta.doc_type.as_ref().map(|t| t.name.clone());
    let filed: Vec<(String, String, &NewDocument<'_>)> = docs
        .iter()
        .map(|d| {
            let title = meta
                .title
                .clone()
                .unwrap_or_else(|| title_from(&d.staged.file_name));
            (new_id(), title, d)
        })
        .collect();

    for chunk in filed.chunks(db::rows_per_statement(2 + 12)) {
        let sql = format!(
            "INSERT INTO records_documents (id, title, municipality_id, department_id, type_id, correspondent, \
             document_date, confidential, fields_json, current_version, created_at, created_by, updated_at, \
             filed_by_user) VALUES {}",
            db::value_rows(chunk.len(), 2, 12)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (id, title, _) in chunk {
                q = q.bind(id).bind(title);
            }
            q.bind(town).bind(&meta.department_id).bind(&type_id).bind(&meta.correspondent)
                .bind(&meta.document_date).bind(meta.confidential).bind(&fields_json).bind(1_i64).bind(&at)
                .bind(&scope.actor().label).bind(&at).bind(scope.user_id()).execute(c).await
        })?;
    }
    for chunk in filed.chunks(db::rows_per_statement(5 + 5)) {
        let sql = format!(
            "INSERT INTO records_versions (document_id, sha256, size, media_type, file_name, municipality_id, number, \
             created_at, created_by, contributed) VALUES {}",
            db::value_rows(chunk.len(), 5, 5)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (id, _, d) in chunk {
                let s = d.staged;
                q = q.bind(id).bind(&s.sha256).bind(s.size).bind(s.media_type).bind(&s.file_name);
            }
            q.bind(town).bind(1_i64).bind(&at).bind(&scope.actor().label)
                .bind(!scope.can(Permission::View)).execute(c).await
        })?;
    }
    let taken: Vec<(&String, &String)> = filed
        .iter()
        .filter_map(|(id, _, d)| d.text.as_ref().map(|t| (id, t)))
        .collect();
    for chunk in taken.chunks(db::rows_per_statement(2 + 6)) {
        // What the text job stores for a plain-text file, stored at once.
        let sql = format!(
            "INSERT INTO records_version_texts (document_id, body, municipality_id, number, status, method, \
             attempts, updated_at) VALUES {}",
            db::value_rows(chunk.len(), 2, 6)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (id, body) in chunk {
                q = q.bind(*id).bind(*body);
            }
            q.bind(town).bind(1_i64).bind("done").bind("text").bind(0_i64).bind(&at).execute(c).await
        })?;
    }
    for (id, _, d) in &filed {
        if d.text.is_none() {
            crate::text::queue(scope, tx, now, id, 1).await?;
        }
    }
    for tag in tag_ids(scope, tx, &meta.tags).await? {
        for chunk in filed.chunks(db::rows_per_statement(1 + 2)) {
            let sql = format!(
                "INSERT INTO records_document_tags (document_id, municipality_id, tag_id) VALUES {}",
                db::value_rows(chunk.len(), 1, 2)
            );
            execute!(tx, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for (id, _, _) in chunk {
                    q = q.bind(id);
                }
                q.bind(town).bind(&tag).execute(c).await
            })?;
        }
    }
    let changes = filed
        .iter()
        .map(|(id, title, d)| {
            let s = d.staged;
            change(
                scope,
                "records.document.file",
                "records_document",
                id,
                None,
                Some(serde_json::json!({
                    "title": title, "type": type_name, "department": meta.department_code,
                    "confidential": meta.confidential, "file_name": s.file_name, "sha256": s.sha256,
                    "size": s.size, "media_type": s.media_type, "deduplicated": d.deduplicated,
                })),
            )
        })
        .collect();
    audit::record_all(tx, now, scope.actor(), changes).await?;
    let ids: Vec<String> = filed.into_iter().map(|(id, _, _)| id).collect();
    crate::retention::recompute(
        tx,
        &crate::retention::Scope::Documents(town.as_str().to_owned(), ids.clone()),
    )
    .await?;
    Ok(ids)
}

/// Checks, before an upload is read, that the caller may add a version to the
/// document (edit, and they see it); returns it.
pub async fn check_new_version(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
) -> Result<Document> {
    let doc = get(scope, ex, id).await?;
    require(scope, Permission::Edit)?;
    Ok(doc)
}

/// Files a staged upload as the document's next version, which becomes current (edit); audited.
pub async fn add_version(
    scope: &ServiceScope,
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    staged: &Staged,
    id: &str,
) -> Result<Filed> {
    require(scope, Permission::Edit)?;
    let mut tx = db.begin().await?;
    let committed = ingest::commit(scope, &mut tx, blobs, now, staged).await?;
    let before = get(scope, &mut tx, id).await?;
    let n = before.current_version + 1;
    insert_version(scope, &mut tx, now, id, n, staged).await?;
    crate::text::queue(scope, &mut tx, now, id, n).await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE records_documents SET current_version = $3, updated_at = $4 WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).bind(n).bind(now.to_db()).execute(c).await)?;
    crate::index::touch(scope, &mut tx, now, &[id]).await?;
    let document = get(scope, &mut tx, id).await?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(scope, "records.version.add", "records_document", id,
            Some(serde_json::json!({"version": before.current_version, "sha256": before.sha256})),
            Some(serde_json::json!({"version": n, "file_name": staged.file_name, "sha256": staged.sha256,
                "size": staged.size, "media_type": staged.media_type, "deduplicated": committed.deduplicated}))),
    )
    .await?;
    tx.commit().await?;
    Ok(Filed {
        document,
        version: n,
        sha256: staged.sha256.clone(),
        size: staged.size,
        media_type: staged.media_type.to_owned(),
        deduplicated: committed.deduplicated,
    })
}

fn snapshot(d: &Document) -> serde_json::Value {
    serde_json::json!({
        "title": d.title, "type": d.type_name, "department": d.department, "correspondent": d.correspondent,
        "document_date": d.document_date, "confidential": d.confidential, "fields": d.fields, "tags": d.tags,
    })
}

/// Changes a document's metadata and tags (edit; approve to change the
/// confidential flag); audited with before and after.
pub async fn update(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    m: &DocumentIn,
) -> Result<Document> {
    let before = get(scope, tx, id).await?;
    let meta = check_meta_as(
        scope,
        tx,
        &DocumentIn {
            confidential: false,
            ..m.clone()
        },
        true,
    )
    .await?;
    if m.confidential != before.confidential && !crate::is_officer(scope) {
        return Err(Error::invalid(
            "confidential",
            "only the records officer may change whether a document is confidential",
        ));
    }
    let title = meta.title.clone().unwrap_or_else(|| before.title.clone());
    let fields_json = serde_json::Value::Object(meta.fields.clone()).to_string();
    execute!(tx, c => sqlx::query(
        "UPDATE records_documents SET title = $3, type_id = $4, department_id = $5, correspondent = $6, document_date = $7, \
         confidential = $8, fields_json = $9, updated_at = $10 WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).bind(&title).bind(meta.doc_type.as_ref().map(|t| t.id.clone()))
        .bind(&meta.department_id).bind(&meta.correspondent).bind(&meta.document_date).bind(m.confidential)
        .bind(&fields_json).bind(now.to_db()).execute(c).await)?;
    replace_tags(scope, tx, id, &meta.tags).await?;
    crate::retention::recompute(
        tx,
        &crate::retention::Scope::Documents(
            scope.municipality_id().as_str().to_owned(),
            vec![id.to_owned()],
        ),
    )
    .await?;
    crate::index::touch(scope, tx, now, &[id]).await?;
    // Read back as the caller sees it; a change that hides the document from them still commits.
    let after = match get(scope, tx, id).await {
        Ok(d) => d,
        Err(Error::NotFound { .. }) => Document {
            title,
            ..before.clone()
        },
        Err(e) => return Err(e),
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.document.update",
            "records_document",
            id,
            Some(snapshot(&before)),
            Some(snapshot(&after)),
        ),
    )
    .await?;
    Ok(after)
}

/// A note to add.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NoteIn {
    /// 1 to 5,000 characters.
    pub body: String,
}

/// Adds a note to a document (edit); audited.
pub async fn add_note(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    req: &NoteIn,
) -> Result<Note> {
    get(scope, tx, id).await?;
    require(scope, Permission::Edit)?;
    let body = req.body.trim();
    if body.is_empty() {
        return Err(Error::invalid("body", "a note needs some text"));
    }
    if body.chars().count() > 5000 {
        return Err(Error::invalid("body", "at most 5,000 characters"));
    }
    let note = Note {
        id: new_id(),
        body: body.to_owned(),
        created_at: now.to_db(),
        created_by: scope.actor().label.clone(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_notes (municipality_id, id, document_id, body, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(scope.municipality_id()).bind(&note.id).bind(id).bind(&note.body).bind(&note.created_at)
        .bind(&note.created_by).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.note.add",
            "records_document",
            id,
            None,
            Some(serde_json::json!({"note": note.id, "body": note.body})),
        ),
    )
    .await?;
    Ok(note)
}

/// Tags to set on a document.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TagsIn {
    /// Tag names (created in the town when new); empty removes every tag.
    pub tags: Vec<String>,
}

/// Replaces a document's tags (edit); audited.
pub async fn set_tags(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    req: &TagsIn,
) -> Result<Document> {
    let before = get(scope, tx, id).await?;
    require(scope, Permission::Edit)?;
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in req.tags.iter().enumerate() {
        if let Some(t) = opt_text(&format!("tags[{i}]"), Some(t), 60)?
            && !tags.iter().any(|x| x.eq_ignore_ascii_case(&t))
        {
            tags.push(t);
        }
    }
    if tags.len() > 30 {
        return Err(Error::invalid("tags", "at most 30 tags"));
    }
    replace_tags(scope, tx, id, &tags).await?;
    execute!(tx, c => sqlx::query("UPDATE records_documents SET updated_at = $3 WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).bind(now.to_db()).execute(c).await)?;
    crate::index::touch(scope, tx, now, &[id]).await?;
    let after = get(scope, tx, id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.tags.set",
            "records_document",
            id,
            Some(serde_json::json!({"tags": before.tags})),
            Some(serde_json::json!({"tags": after.tags})),
        ),
    )
    .await?;
    Ok(after)
}

/// A tag with how many documents the caller can see carry it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tag {
    /// Name.
    pub name: String,
    /// Visible documents with it.
    pub documents: i64,
}

/// The town's tags with counts of the documents the caller may see.
pub async fn tags(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Tag>> {
    let vis = visibility::of(scope, ex).await?;
    let mut q = SqlBuilder::new(
        "SELECT g.name, (SELECT COUNT(*) FROM records_document_tags dt JOIN records_documents d \
         ON d.municipality_id = dt.municipality_id AND d.id = dt.document_id \
         WHERE dt.municipality_id = g.municipality_id AND dt.tag_id = g.id",
    );
    vis.push_filter(&mut q);
    q.push(") AS documents FROM records_tags g WHERE g.municipality_id = ");
    q.bind(scope.municipality_id().to_string());
    q.push(" ORDER BY LOWER(g.name)");
    let (sql, args) = q.build();
    Ok(dispatch!(ex, c => {
        let mut query = sqlx::query_as::<_, Tag>(sqlx::AssertSqlSafe(sql.clone()));
        for a in args {
            query = query.bind(a);
        }
        query.fetch_all(c).await
    })?)
}
