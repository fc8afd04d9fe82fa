//! The records pages: the town's documents (filters, sort, pages, CSV, and a
//! drop zone that files several documents at once, each with its own result),
//! a document (metadata, tags, notes, versions, downloads) and the document types.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::response::Response;
use munishare_platform::access::ServiceScope;
use munishare_platform::types::Permission;
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::auth::ServicePage;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, csv_response, enc, render};

use super::{Records, download};
use crate::documents::{
    self, DocumentDetail, DocumentIn, DocumentPage, DocumentQuery, NoteIn, TagsIn,
};
use crate::ingest::{self, IngestError};
use crate::types::{self, DocumentType, DocumentTypeIn, FieldDef, FieldKind};
use crate::visibility::{self, Department};

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/records", page_list)
        .upload("/t/{town}/records/upload", page_upload)
        .get("/t/{town}/records/types", page_types)
        .post("/t/{town}/records/types", page_create_type)
        .get("/t/{town}/records/documents/{document}", page_document)
        .post("/t/{town}/records/documents/{document}", page_update)
        .post(
            "/t/{town}/records/documents/{document}/notes",
            page_add_note,
        )
        .post("/t/{town}/records/documents/{document}/tags", page_set_tags)
        .upload(
            "/t/{town}/records/documents/{document}/versions",
            page_new_version,
        )
        .get(
            "/t/{town}/records/documents/{document}/content",
            page_content,
        )
        .get(
            "/t/{town}/records/documents/{document}/versions/{version}/searchable.pdf",
            page_searchable_pdf,
        )
        .post(
            "/t/{town}/records/documents/{document}/versions/{version}/extract",
            page_extract,
        )
}

/// The banner the records pages show when this server lacks the OCR tools.
fn tools_banner() -> Option<String> {
    let missing = crate::text::Tools::from_env().missing();
    (!missing.is_empty()).then(|| {
        format!(
            "Text extraction is limited: {}. Scans and images get no text until an administrator installs it.",
            missing.join("; ")
        )
    })
}

pub(super) fn base(scope: &ServiceScope) -> String {
    format!("/t/{}/records", scope.town().slug)
}

/// The list's query with the page's `format`.
#[derive(Debug, Default, serde::Deserialize)]
struct ListParams {
    #[serde(flatten)]
    q: DocumentQuery,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "records_town.html")]
struct ListPage {
    chrome: Chrome,
    base: String,
    api: String,
    data: DocumentPage,
    pages: u32,
    q: DocumentQuery,
    types: Vec<DocumentType>,
    departments: Vec<Department>,
    can_edit: bool,
    /// Edit without view (the scanning bureau): the list holds only what they filed.
    contributor: bool,
    town_name: String,
    max_upload: String,
    /// The filters as a query string (without sort and page), for links.
    filters: String,
    /// Which text-extraction tools this server lacks, if any.
    tools_banner: Option<String>,
}

impl ListPage {
    fn sort_link(&self, key: &str) -> String {
        let current = self.q.sort.as_deref().unwrap_or("created");
        let dir = if current == key && self.q.dir.as_deref() != Some("asc") {
            "asc"
        } else {
            "desc"
        };
        format!("?{}&sort={key}&dir={dir}", self.filters)
    }
    fn page_link(&self, page: &u32) -> String {
        format!(
            "?{}&sort={}&dir={}&page={page}",
            self.filters,
            enc(self.q.sort.as_deref().unwrap_or("")),
            enc(self.q.dir.as_deref().unwrap_or(""))
        )
    }
    fn csv_link(&self) -> String {
        format!(
            "?{}&sort={}&dir={}&format=csv",
            self.filters,
            enc(self.q.sort.as_deref().unwrap_or("")),
            enc(self.q.dir.as_deref().unwrap_or(""))
        )
    }
    fn value<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
    /// Whether a document of this kind may have a thumbnail (PDFs, and scans once read; one
    /// that has none yet answers 404, which an image with empty alt text shows as nothing).
    fn thumbnailed(&self, media_type: &str) -> bool {
        media_type == crate::sniff::PDF || media_type.starts_with("image/")
    }
}

fn filter_string(q: &DocumentQuery) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("q", &q.q),
        ("type", &q.doc_type),
        ("department", &q.department),
        ("tag", &q.tag),
        ("from", &q.from),
        ("to", &q.to),
        ("due_before", &q.due_before),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

async fn page_list(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let scope = &page.scope;
    let get = |k: &str| p.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let q = DocumentQuery {
        q: get("q"),
        doc_type: get("type"),
        department: get("department"),
        tag: get("tag"),
        from: get("from"),
        to: get("to"),
        due_before: get("due_before"),
        sort: get("sort"),
        dir: get("dir"),
        page: get("page").and_then(|v| v.parse().ok()),
        per_page: None,
    };
    let params = ListParams {
        q,
        format: get("format"),
    };
    let mut c = st.db.read().await?;
    if params.format.as_deref() == Some("csv") {
        return export_csv(scope, &mut c, params.q).await;
    }
    let (data, error) = match documents::list(scope, &mut c, &params.q).await {
        Ok(d) => (d, None),
        // A filter that does not read shows the message above an empty list.
        Err(e @ Error::Invalid { .. }) => (
            DocumentPage {
                documents: Vec::new(),
                total: 0,
                page: 1,
                per_page: 50,
            },
            Some(e.to_string()),
        ),
        Err(e) => return Err(e.into()),
    };
    let types = types::list(scope, &mut c).await?;
    let departments = visibility::departments(scope, &mut c).await?;
    let max_upload = ingest::human_bytes(ingest::settings(scope, &mut c).await?.max_upload_bytes);
    drop(c);
    let mut chrome = Chrome::new(
        &st,
        &page.user,
        format!("Records — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    if let Some(e) = error {
        chrome.flash = Some(("error".into(), e));
    }
    let pages = u32::try_from(data.total)
        .unwrap_or(u32::MAX)
        .div_ceil(data.per_page)
        .max(1);
    let filters = filter_string(&params.q);
    render(
        &ListPage {
            chrome,
            base: base(scope),
            api: format!("/api/v1/towns/{}/records/documents", scope.town().slug),
            data,
            pages,
            q: params.q,
            types,
            departments,
            can_edit: scope.can(Permission::Edit),
            contributor: !scope.can(Permission::View),
            town_name: scope.town().name.clone(),
            max_upload,
            filters,
            tools_banner: tools_banner(),
        },
        &page.user,
    )
}

/// Every matching document as CSV, in the list's order (at most 20,000 rows).
async fn export_csv(
    scope: &ServiceScope,
    c: &mut munishare_platform::db::Conn,
    mut q: DocumentQuery,
) -> PageResult {
    let mut rows = vec![
        [
            "id",
            "title",
            "type",
            "department",
            "correspondent",
            "document_date",
            "confidential",
            "tags",
            "version",
            "file_name",
            "media_type",
            "size",
            "sha256",
            "created_at",
            "created_by",
            "retention_due",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    q.per_page = Some(200);
    for page in 1..=100 {
        q.page = Some(page);
        let data = documents::list(scope, c, &q).await?;
        let n = data.documents.len();
        for d in data.documents {
            rows.push(vec![
                d.id,
                d.title,
                d.type_name.unwrap_or_default(),
                d.department.unwrap_or_default(),
                d.correspondent.unwrap_or_default(),
                d.document_date.unwrap_or_default(),
                d.confidential.to_string(),
                d.tags.join("; "),
                d.current_version.to_string(),
                d.file_name,
                d.media_type,
                d.size.to_string(),
                d.sha256,
                d.created_at,
                d.created_by,
                d.retention_due.unwrap_or_default(),
            ]);
        }
        if n < 200 {
            break;
        }
    }
    csv_response(&format!("records-{}.csv", scope.town().slug), rows)
}

/// One file's outcome in a batch.
#[derive(Debug)]
struct FileResult {
    name: String,
    ok: bool,
    message: String,
    document: Option<String>,
}

#[derive(Template)]
#[template(path = "records_upload_result.html")]
struct UploadResultPage {
    chrome: Chrome,
    base: String,
    results: Vec<FileResult>,
}

/// The form upload (no script): every file is filed on its own, so one bad
/// file does not stop the others; the page lists each file's result.
async fn page_upload(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    form: Multipart,
) -> PageResult {
    let scope = &page.scope;
    let form = munishare_web::upload::read_form(form).await?;
    let field = |k: &str| {
        form.fields
            .get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let meta_in = DocumentIn {
        doc_type: field("type"),
        department: field("department"),
        correspondent: field("correspondent"),
        document_date: field("document_date"),
        tags: field("tags")
            .map(|t| t.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        ..DocumentIn::default()
    };
    let mut results = Vec::new();
    let meta = {
        let mut c = st.db.read().await?;
        documents::check_meta(scope, &mut c, &meta_in).await
    };
    if form.files.is_empty() {
        results.push(FileResult {
            name: String::new(),
            ok: false,
            message: "Choose at least one file.".into(),
            document: None,
        });
    }
    for (name, bytes) in form.files {
        let outcome: std::result::Result<documents::Filed, IngestError> = async {
            let meta = meta
                .as_ref()
                .map_err(|e| Error::invalid("form", e.to_string()))?;
            let len = bytes.len() as u64;
            let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
            let staged =
                ingest::stage(scope, &st.db, &st.blobs, st.now(), &name, Some(len), body).await?;
            Ok(documents::file(scope, &st.db, &st.blobs, st.now(), &staged, meta).await?)
        }
        .await;
        st.jobs.wake();
        results.push(match outcome {
            Ok(f) => FileResult {
                name,
                ok: true,
                message: if f.deduplicated {
                    "Filed; the town already had this exact file, so it was not stored again."
                        .into()
                } else {
                    "Filed.".into()
                },
                document: Some(f.document.id),
            },
            Err(e) => FileResult {
                name,
                ok: false,
                message: e.to_string(),
                document: None,
            },
        });
    }
    let chrome = Chrome::new(
        &st,
        &page.user,
        "Records — upload",
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &UploadResultPage {
            chrome,
            base: base(scope),
            results,
        },
        &page.user,
    )
}

#[derive(Template)]
#[template(path = "records_document.html")]
struct DocumentPageT {
    chrome: Chrome,
    base: String,
    d: DocumentDetail,
    types: Vec<DocumentType>,
    departments: Vec<Department>,
    can_edit: bool,
    officer: bool,
    fields: Vec<(String, String)>,
    retention: crate::retention::DocumentRetention,
    /// The text of each version whose text was taken, by number.
    bodies: Vec<(i64, String)>,
    tools_banner: Option<String>,
    /// The current version's page images, when it has them.
    preview: Option<PreviewPage>,
    links: Vec<crate::links::Link>,
}

/// One page of the preview, with where the others are.
struct PreviewPage {
    version: i64,
    page: i64,
    pages: i64,
    src: String,
}

impl DocumentPageT {
    fn text(&self, n: &i64) -> Option<&crate::text::VersionText> {
        self.d.texts.iter().find(|t| t.number == *n)
    }
    fn body(&self, n: &i64) -> &str {
        self.bodies
            .iter()
            .find(|(k, _)| k == n)
            .map_or("", |(_, b)| b.as_str())
    }
}

async fn page_document(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let scope = &page.scope;
    let mut c = st.db.read().await?;
    let d = documents::detail(scope, &mut c, &id).await?;
    let retention = crate::retention::of_document(scope, &mut c, &id).await?;
    let links = crate::links::of_document(scope, &mut c, &id).await?;
    let types = types::list(scope, &mut c).await?;
    let departments = visibility::departments(scope, &mut c).await?;
    let mut bodies = Vec::new();
    for t in d.texts.iter().filter(|t| t.status == "done") {
        match crate::text::body(scope, &mut c, &id, t.number).await {
            Ok(b) => bodies.push((t.number, b)),
            // Retried since the statuses were read: shown as pending next time.
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    drop(c);
    let fields = d
        .document
        .fields
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let current = d.document.current_version;
    let preview = d
        .versions
        .iter()
        .find(|v| v.number == current)
        .and_then(|v| {
            let t = d.texts.iter().find(|t| t.number == current);
            crate::preview::has_pages(&v.media_type, t.is_some_and(|t| t.searchable_pdf)).then(
                || {
                    let pages = t.and_then(|t| t.pages).unwrap_or(1).max(1);
                    let at = q
                        .get("page")
                        .and_then(|p| p.trim().parse::<i64>().ok())
                        .unwrap_or(1)
                        .clamp(1, pages);
                    PreviewPage {
                        version: current,
                        page: at,
                        pages,
                        src: format!(
                            "/api/v1/towns/{}/records/documents/{}/versions/{current}/pages/{at}",
                            scope.town().slug,
                            d.document.id
                        ),
                    }
                },
            )
        });
    let chrome = Chrome::new(
        &st,
        &page.user,
        format!("Records — {}", d.document.title),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &DocumentPageT {
            chrome,
            base: base(scope),
            d,
            types,
            departments,
            can_edit: scope.can(Permission::Edit),
            officer: crate::is_officer(scope),
            fields,
            retention,
            bodies,
            tools_banner: tools_banner(),
            preview,
            links,
        },
        &page.user,
    )
}

async fn page_update(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/documents/{}", base(&scope), enc(&id));
    let r = async {
        let get = |k: &str| {
            f.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let fields = f
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("field.")
                    .map(|n| (n.to_owned(), serde_json::Value::String(v.clone())))
            })
            .collect();
        let mut tx = st.db.begin().await?;
        let current = documents::get(&scope, &mut tx, &id).await?;
        let req = DocumentIn {
            title: get("title"),
            doc_type: get("type"),
            department: get("department"),
            correspondent: get("correspondent"),
            document_date: get("document_date"),
            confidential: if crate::is_officer(&scope) {
                get("confidential").is_some()
            } else {
                current.confidential
            },
            fields,
            tags: current.tags,
        };
        let d = documents::update(&scope, &mut tx, st.now(), &id, &req).await?;
        tx.commit().await?;
        Ok(format!("'{}' saved.", d.title))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_add_note(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/documents/{}", base(&scope), enc(&id));
    let r = async {
        let mut tx = st.db.begin().await?;
        documents::add_note(
            &scope,
            &mut tx,
            st.now(),
            &id,
            &NoteIn {
                body: f.get("body").cloned().unwrap_or_default(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok("Note added.".to_owned())
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_set_tags(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/documents/{}", base(&scope), enc(&id));
    let r = async {
        let tags = f
            .get("tags")
            .map(|t| t.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let mut tx = st.db.begin().await?;
        documents::set_tags(&scope, &mut tx, st.now(), &id, &TagsIn { tags }).await?;
        tx.commit().await?;
        Ok("Tags saved.".to_owned())
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_new_version(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    form: Multipart,
) -> PageResult {
    let back = format!("{}/documents/{}", base(&scope), enc(&id));
    {
        let mut c = st.db.read().await?;
        documents::check_new_version(&scope, &mut c, &id).await?;
    }
    let r = async {
        let form = munishare_web::upload::read_form(form).await?;
        let (name, bytes) = form
            .file
            .ok_or_else(|| Error::invalid("file", "choose a file"))?;
        let len = bytes.len() as u64;
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
        let staged = ingest::stage(&scope, &st.db, &st.blobs, st.now(), &name, Some(len), body)
            .await
            .map_err(|e| match e {
                IngestError::Other(e) => e,
                too_large => Error::invalid(
                    "file",
                    too_large
                        .to_string()
                        .trim_start_matches("file: ")
                        .to_owned(),
                ),
            })?;
        let f = documents::add_version(&scope, &st.db, &st.blobs, st.now(), &staged, &id).await?;
        Ok(format!(
            "Version {} filed{}.",
            f.version,
            if f.deduplicated {
                " (the town already had this exact file)"
            } else {
                ""
            }
        ))
    }
    .await;
    after_form(&st, &back, r)
}

/// Which version to download.
#[derive(Debug, serde::Deserialize)]
struct ContentParams {
    version: Option<String>,
}

async fn page_content(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Query(p): Query<ContentParams>,
) -> PageResult {
    let version = match p
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| Error::NotFound { what: "version" })?,
        ),
        None => None,
    };
    let (v, key) = {
        let mut c = st.db.read().await?;
        documents::version_content(&page.scope, &mut c, &id, version).await?
    };
    let resp: Response = download(&st.blobs, &page.scope, &v, &key).await?;
    Ok(resp)
}

async fn page_searchable_pdf(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Path((_town, id, version)): Path<(String, String, String)>,
) -> PageResult {
    let n = super::api::version_number(&version)?;
    let (v, key) = {
        let mut c = st.db.read().await?;
        crate::text::searchable_pdf(&page.scope, &mut c, &id, n).await?
    };
    let resp: Response = download(&st.blobs, &page.scope, &v, &key).await?;
    Ok(resp)
}

async fn page_extract(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id, version)): Path<(String, String, String)>,
) -> PageResult {
    let back = format!("{}/documents/{}", base(&scope), enc(&id));
    let r = async {
        let n = super::api::version_number(&version)?;
        crate::text::retry(&scope, &st.db, st.now(), &id, n).await?;
        st.jobs.wake();
        Ok(format!("The text of version {n} will be taken again."))
    }
    .await;
    after_form(&st, &back, r)
}

#[derive(Template)]
#[template(path = "records_types.html")]
struct TypesPage {
    chrome: Chrome,
    base: String,
    types: Vec<DocumentType>,
    can_administer: bool,
}

impl TypesPage {
    fn describe(&self, f: &FieldDef) -> String {
        let kind = match f.kind {
            FieldKind::Text => "text",
            FieldKind::Number => "whole number",
            FieldKind::Date => "date",
            FieldKind::Boolean => "yes/no",
        };
        format!(
            "{} ({kind}{})",
            f.name,
            if f.required { ", required" } else { "" }
        )
    }
}

async fn page_types(State(st): State<AppState>, page: ServicePage<Records>) -> PageResult {
    let scope = &page.scope;
    let types = {
        let mut c = st.db.read().await?;
        types::list(scope, &mut c).await?
    };
    let chrome = Chrome::new(
        &st,
        &page.user,
        "Records — document types",
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &TypesPage {
            chrome,
            base: base(scope),
            types,
            can_administer: scope.can(Permission::Administer),
        },
        &page.user,
    )
}

/// Reads `name:kind[:required]` lines into field definitions.
fn parse_fields(text: &str) -> Result<Vec<FieldDef>> {
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let mut parts = line.split(':').map(str::trim);
        let name = parts.next().unwrap_or_default().to_owned();
        let kind = match parts.next().unwrap_or("text") {
            "text" => FieldKind::Text,
            "number" => FieldKind::Number,
            "date" => FieldKind::Date,
            "boolean" | "yes/no" => FieldKind::Boolean,
            other => {
                return Err(Error::invalid(
                    "fields",
                    format!(
                        "line {}: '{}' is not a kind (text, number, date, boolean)",
                        i + 1,
                        other.chars().take(20).collect::<String>()
                    ),
                ));
            }
        };
        let required = parts.next() == Some("required");
        out.push(FieldDef {
            name,
            kind,
            required,
        });
    }
    Ok(out)
}

async fn page_create_type(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("{}/types", base(&scope));
    let r = async {
        let req = DocumentTypeIn {
            name: f.get("name").cloned().unwrap_or_default(),
            retention_series: f.get("retention_series").cloned(),
            fields: parse_fields(f.get("fields").map_or("", String::as_str))?,
        };
        let mut tx = st.db.begin().await?;
        let t = types::create(&scope, &mut tx, st.now(), &req).await?;
        tx.commit().await?;
        Ok(format!("Document type '{}' created.", t.name))
    }
    .await;
    after_form(&st, &back, r)
}
