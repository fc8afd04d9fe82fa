//! Imports over HTTP: upload a file (API body or page form), follow the job
//! that runs it, read what it did or every problem it found.

use askama::Template;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use munishare_platform::access::ServiceScope;
use munishare_platform::types::FiscalYear;
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::ApiQuery;
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, redirect_flash, render, table_response,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Books, Finance, TOWN};
use crate::import::{self, ImportKind, ImportRecord, RowError, Upload};
use munishare_platform::tenancy::EntityKind;

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_imports, api_upload))
        .routes(routes!(api_import))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/finance/imports", page_imports)
        .upload("/t/{town}/finance/imports", page_upload)
        .get("/t/{town}/finance/imports/{import}", page_import)
        .get(
            "/t/{town}/finance/imports/{import}/status",
            page_import_status,
        )
}

/// An import with how far it has got.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    /// The import as recorded.
    #[serde(flatten)]
    pub record: ImportRecord,
    /// While it runs on this node: share of the file read, in thousandths.
    pub progress_permille: Option<u64>,
    /// Problems of a rejected import (at most 200), each with row and column.
    pub problems: Vec<RowError>,
    /// How many problems were found in all.
    pub problem_count: u64,
}

fn out(st: &AppState, record: ImportRecord) -> ImportOut {
    let progress_permille = st.progress.get(&record.id).map(|p| p.permille());
    ImportOut {
        problems: record.problems(),
        problem_count: record.problem_count(),
        progress_permille,
        record,
    }
}

/// What an uploaded file is.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// `chart`, `openings`, `budget` or `journal`.
    pub kind: String,
    /// For budgets and opening balances: the fiscal year, named by the year it ends.
    pub fiscal_year: Option<i32>,
    /// The file's name (for the record and for messages).
    pub file_name: String,
}

fn fiscal_year(kind: ImportKind, year: Option<i32>) -> Result<Option<FiscalYear>> {
    match year {
        Some(y) if kind.needs_fiscal_year() => Ok(Some(FiscalYear::ending("fiscal_year", y)?)),
        _ => Ok(None),
    }
}

/// The town's imports, newest first.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/imports", tag = "finance", params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<ImportOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_imports(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
) -> ApiResult<axum::Json<Vec<ImportOut>>> {
    let mut c = st.db.read().await?;
    let list = import::list(&scope, &mut c).await?;
    Ok(axum::Json(list.into_iter().map(|r| out(&st, r)).collect()))
}

/// Uploads a CSV or XLSX file (the request body) to import; the import runs
/// as a job. Follow it at `…/imports/{import}`.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/imports", tag = "finance", params(("town" = String, Path, description = TOWN), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The CSV or XLSX file"),
    responses((status = 202, body = ImportOut), (status = 409, body = munishare_web::error::Problem), (status = 413, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_upload(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Body,
) -> ApiResult<Response> {
    let kind = ImportKind::parse("kind", &q.kind)?;
    let fy = fiscal_year(kind, q.fiscal_year)?;
    if kind.needs_fiscal_year() && fy.is_none() {
        return Err(Error::invalid("fiscal_year", "give the fiscal year this file is for").into());
    }
    let bytes = match munishare_web::upload::read_body(body).await {
        Ok(b) => b,
        Err(too_large) => return Ok(too_large),
    };
    let record = import::upload(
        &scope,
        &st.db,
        &st.blobs,
        st.now(),
        Upload {
            kind,
            fiscal_year: fy,
            file_name: q.file_name,
            bytes,
        },
    )
    .await?;
    st.jobs.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(out(&st, record))).into_response())
}

/// One import: its status, progress while it runs, and what it did or every problem found.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/imports/{import}", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("import" = String, Path, description = "Import id")),
    responses((status = 200, body = ImportOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_import(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<ImportOut>> {
    let mut c = st.db.read().await?;
    let record = import::get(&scope, &mut c, &id).await?;
    Ok(axum::Json(out(&st, record)))
}

/// A kind, its columns, and whether the user may import it.
struct KindRow {
    key: &'static str,
    title: &'static str,
    columns: Vec<(&'static str, bool)>,
    needs_year: bool,
    allowed: bool,
}

#[derive(Template)]
#[template(path = "finance_imports.html")]
struct ImportsPage {
    chrome: Chrome,
    books: Books,
    kinds: Vec<KindRow>,
    may_import: bool,
    imports: Vec<ImportRecord>,
    this_year: i32,
}

fn kinds(scope: &ServiceScope) -> Vec<KindRow> {
    ImportKind::ALL
        .into_iter()
        .map(|k| KindRow {
            key: k.as_str(),
            title: k.title(),
            columns: k.column_names(),
            needs_year: k.needs_fiscal_year(),
            allowed: scope.can(k.permission()),
        })
        .collect()
}

async fn page_imports(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let imports = import::list(&scope, &mut c).await?;
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Imports — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &ImportsPage {
            chrome,
            books: Books::new(&scope, EntityKind::TownGovernment),
            may_import: kinds(&scope).iter().any(|k| k.allowed),
            kinds: kinds(&scope),
            imports,
            this_year: FiscalYear::containing(st.today()).end_year(),
        },
        &user,
    )
}

async fn page_upload(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    form: Multipart,
) -> PageResult {
    let back = format!("/t/{}/finance/imports", scope.town().slug);
    let r = async {
        let upload = munishare_web::upload::read_form(form).await?;
        let (kind, year) = (upload.fields.get("kind"), upload.fields.get("fiscal_year"));
        let kind = ImportKind::parse("kind", kind.map_or("", String::as_str))?;
        let year = match year.map(|y| y.trim()).filter(|y| !y.is_empty()) {
            Some(y) => Some(y.parse::<i32>().map_err(|_| {
                Error::invalid(
                    "fiscal_year",
                    "give the year the fiscal year ends, e.g. 2027",
                )
            })?),
            None => None,
        };
        let fy = fiscal_year(kind, year)?;
        let (name, bytes) = upload
            .file
            .ok_or_else(|| Error::invalid("file", "choose a CSV or XLSX file"))?;
        let record = import::upload(
            &scope,
            &st.db,
            &st.blobs,
            st.now(),
            Upload {
                kind,
                fiscal_year: fy,
                file_name: name,
                bytes,
            },
        )
        .await?;
        st.jobs.wake();
        Ok(record)
    }
    .await;
    match r {
        Ok(record) => Ok(redirect_flash(
            &st,
            &format!("{back}/{}", record.id),
            "ok",
            &format!("{} is being imported.", record.file_name),
        )),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. } | Error::Forbidden(_))) => {
            Ok(redirect_flash(&st, &back, "error", &e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "finance_import.html")]
struct ImportPage {
    chrome: Chrome,
    books: Books,
    record: ImportRecord,
    status: StatusPart,
    summary: Vec<(String, String)>,
    problems: Vec<RowError>,
    problem_count: u64,
}

#[derive(Template)]
#[template(path = "finance_import_status.html")]
struct StatusPart {
    url: String,
    status: String,
    finished: bool,
    permille: Option<u64>,
    rows: i64,
}

impl StatusPart {
    fn new(st: &AppState, base: &str, r: &ImportRecord) -> Self {
        let progress = st.progress.get(&r.id);
        Self {
            url: format!("{base}/imports/{}/status", r.id),
            status: r.status.clone(),
            finished: r.finished(),
            permille: progress.as_ref().map(|p| p.permille()),
            rows: progress.map_or(r.rows_read, |p| {
                i64::try_from(p.items()).unwrap_or(i64::MAX)
            }),
        }
    }

    fn percent(&self) -> String {
        self.permille
            .map(|p| format!("{}.{}", p / 10, p % 10))
            .unwrap_or_default()
    }
}

/// `?format=csv|xlsx` exports the problems.
#[derive(Debug, Deserialize)]
struct ImportQuery {
    format: Option<String>,
}

async fn page_import(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Path((_town, id)): Path<(String, String)>,
    Query(q): Query<ImportQuery>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let record = import::get(&scope, &mut c, &id).await?;
    drop(c);
    let problems = record.problems();
    if q.format.is_some() {
        let mut rows = vec![vec![
            "file".into(),
            "row".into(),
            "column".into(),
            "problem".into(),
        ]];
        rows.extend(problems.iter().map(|p| {
            vec![
                record.file_name.clone(),
                p.row.to_string(),
                p.column.clone(),
                p.message.clone(),
            ]
        }));
        return table_response(
            q.format.as_deref(),
            &format!("import-{}-problems", record.id),
            rows,
        );
    }
    let books = Books::new(&scope, EntityKind::TownGovernment);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Import {} — {}", record.file_name, scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &ImportPage {
            chrome,
            status: StatusPart::new(&st, &books.base(), &record),
            books,
            summary: record.summary_pairs(),
            problem_count: record.problem_count(),
            problems,
            record,
        },
        &user,
    )
}

/// The status fragment the import page polls; once the import has finished
/// it asks the page to reload to show the outcome.
async fn page_import_status(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let record = import::get(&scope, &mut c, &id).await?;
    drop(c);
    let part = StatusPart::new(&st, &format!("/t/{}/finance", scope.town().slug), &record);
    let html = part
        .render()
        .map_err(|e| Error::Internal(format!("template: {e}")))?;
    let mut resp = axum::response::Html(html).into_response();
    if part.finished {
        resp.headers_mut()
            .insert("HX-Refresh", HeaderValue::from_static("true"));
    }
    Ok(resp)
}
