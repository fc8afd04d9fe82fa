//! The UCOA catalog (region: everyone signed in reads it, council
//! administrators import OPM's list) and a town's crosswalk over HTTP.

use std::collections::HashMap;

use askama::Template;
use axum::body::Body;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::{self, ServiceScope};
use munishare_platform::types::FiscalYear;
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{AdminCaller, ApiCaller, PageUser, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, redirect_flash, render, table_response,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Books, Finance, TOWN, entity_of};
use crate::domain::AccountString;
use crate::ucoa::{self, CatalogCode, CatalogImport, ChartMode, Crosswalk, Mapping, Segment};

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_catalog))
        .routes(routes!(api_import_catalog))
        .routes(routes!(api_crosswalk))
        .routes(routes!(api_set_chart))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/finance/ucoa", page_catalog)
        .upload("/finance/ucoa", page_import_catalog)
        .get("/t/{town}/finance/crosswalk", page_crosswalk)
        .post("/t/{town}/finance/crosswalk/chart", page_set_chart)
}

/// A catalog code with its label.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeOut {
    /// The code as stored.
    #[serde(flatten)]
    pub code: CatalogCode,
    /// How it is labelled: official, seen in OPM's published data, or illustrative.
    pub label: String,
}

fn code_out(c: CatalogCode) -> CodeOut {
    CodeOut {
        label: c.label().to_owned(),
        code: c,
    }
}

/// The region's UCOA catalog.
#[utoipa::path(get, path = "/api/v1/ucoa/codes", tag = "finance",
    responses((status = 200, body = Vec<CodeOut>), (status = 401, body = munishare_web::error::Problem)))]
async fn api_catalog(
    State(st): State<AppState>,
    _caller: ApiCaller,
) -> ApiResult<axum::Json<Vec<CodeOut>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        ucoa::catalog(&mut c)
            .await?
            .into_iter()
            .map(code_out)
            .collect(),
    ))
}

/// The file's name.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FileQuery {
    /// For the audit log and messages.
    pub file_name: String,
}

/// Imports OPM's official code list (CSV or XLSX, columns segment, code, name) as the request
/// body. All or nothing: 200 when imported, 422 with every problem by row and column otherwise.
#[utoipa::path(post, path = "/api/v1/admin/ucoa/codes", tag = "admin", params(FileQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The CSV or XLSX file"),
    responses((status = 200, body = CatalogImport), (status = 422, body = CatalogImport), (status = 403, body = munishare_web::error::Problem)))]
async fn api_import_catalog(
    State(st): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(q): ApiQuery<FileQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = match munishare_web::upload::read_body(body).await {
        Ok(b) => b,
        Err(too_large) => return Ok(too_large),
    };
    let size = bytes.len() as u64;
    let out = ucoa::import_catalog(
        &admin,
        &st.db,
        st.now(),
        &q.file_name,
        Box::new(std::io::Cursor::new(bytes)),
        size,
    )
    .await?;
    let status = if out.status == "done" {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, axum::Json(out)).into_response())
}

/// A town's crosswalk: how its books meet the UCOA for a fiscal year.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrosswalkOut {
    /// `uniform` (account strings are UCOA strings) or `local` (mapped by the crosswalk).
    pub chart: String,
    /// The fiscal year asked about (the year it ends).
    pub fiscal_year: i32,
    /// Every version, newest first.
    pub versions: Vec<Crosswalk>,
    /// The version in effect for the year.
    pub in_effect: Option<Crosswalk>,
    /// Its mappings.
    pub mappings: Vec<Mapping>,
    /// Accounts of the books asked about with activity in the year that it does not map.
    pub unmapped: Vec<String>,
}

/// Which books and year.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CrosswalkQuery {
    /// `town_government` (default) or `board_of_education`.
    pub entity: Option<String>,
    /// The fiscal year, named by the year it ends (default: the current one).
    pub fiscal_year: Option<i32>,
}

async fn crosswalk_out(
    st: &AppState,
    scope: &ServiceScope,
    q: &CrosswalkQuery,
) -> munishare_platform::Result<CrosswalkOut> {
    let entity = entity_of(q.entity.as_deref())?;
    let fy = match q.fiscal_year {
        Some(y) => FiscalYear::ending("fiscal_year", y)?,
        None => FiscalYear::containing(st.today()),
    };
    let mut c = st.db.read().await?;
    let versions = ucoa::crosswalks(scope, &mut c).await?;
    let in_effect = versions
        .iter()
        .find(|v| v.effective_fiscal_year <= i64::from(fy.end_year()))
        .cloned();
    let mappings = match &in_effect {
        Some(v) => ucoa::mappings(scope, &mut c, &v.id).await?,
        None => Vec::new(),
    };
    Ok(CrosswalkOut {
        chart: ucoa::chart_mode(scope, &mut c).await?.as_str().to_owned(),
        fiscal_year: fy.end_year(),
        unmapped: ucoa::unmapped(scope, &mut c, entity, fy)
            .await?
            .into_iter()
            .map(|a| a.account)
            .collect(),
        versions,
        in_effect,
        mappings,
    })
}

/// The town's crosswalk for a fiscal year, with the accounts it leaves unmapped.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/crosswalk", tag = "finance", params(("town" = String, Path, description = TOWN), CrosswalkQuery),
    responses((status = 200, body = CrosswalkOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_crosswalk(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<CrosswalkQuery>,
) -> ApiResult<axum::Json<CrosswalkOut>> {
    Ok(axum::Json(crosswalk_out(&st, &scope, &q).await?))
}

/// How the books meet the UCOA.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ChartIn {
    /// `uniform` or `local`.
    pub chart: String,
}

/// Sets whether the town's account strings are UCOA strings (`uniform`) or mapped by the crosswalk (`local`).
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/crosswalk/chart", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = ChartIn,
    responses((status = 200, body = ChartIn), (status = 403, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_set_chart(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<ChartIn>,
) -> ApiResult<axum::Json<ChartIn>> {
    let mode = ChartMode::parse("chart", &req.chart)?;
    let mut tx = st.db.begin().await?;
    ucoa::set_chart_mode(&scope, &mut tx, st.now(), mode).await?;
    tx.commit().await?;
    Ok(axum::Json(ChartIn {
        chart: mode.as_str().to_owned(),
    }))
}

#[derive(Template)]
#[template(path = "finance_ucoa.html")]
struct CatalogPage {
    chrome: Chrome,
    codes: Vec<CatalogCode>,
    segment: String,
    is_admin: bool,
}

/// `?segment=` filters, `?format=csv|xlsx` exports.
#[derive(Debug, Deserialize)]
struct CatalogQuery {
    segment: Option<String>,
    format: Option<String>,
}

async fn page_catalog(
    State(st): State<AppState>,
    user: PageUser,
    Query(q): Query<CatalogQuery>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let segment = q.segment.unwrap_or_default();
    let codes: Vec<CatalogCode> = ucoa::catalog(&mut c)
        .await?
        .into_iter()
        .filter(|code| segment.is_empty() || code.segment == segment)
        .collect();
    drop(c);
    if q.format.is_some() {
        let mut rows = vec![vec![
            "segment".into(),
            "code".into(),
            "name".into(),
            "source".into(),
            "label".into(),
        ]];
        rows.extend(codes.iter().map(|c| {
            vec![
                c.segment.clone(),
                c.code.clone(),
                c.name.clone(),
                c.source.clone(),
                c.label().to_owned(),
            ]
        }));
        return table_response(q.format.as_deref(), "ucoa-catalog", rows);
    }
    let chrome = Chrome::new(&st, &user, "UCOA catalog", "").await?;
    render(
        &CatalogPage {
            is_admin: user.principal.is_council_admin(),
            chrome,
            codes,
            segment,
        },
        &user,
    )
}

async fn page_import_catalog(
    State(st): State<AppState>,
    user: PageUser,
    form: Multipart,
) -> PageResult {
    let admin = access::authorize_council_admin(&user.principal)?;
    let Some((name, bytes)) = munishare_web::upload::read_form(form).await?.file else {
        return Ok(redirect_flash(
            &st,
            "/finance/ucoa",
            "error",
            "file: choose a CSV or XLSX file",
        ));
    };
    let size = bytes.len() as u64;
    let out = ucoa::import_catalog(
        &admin,
        &st.db,
        st.now(),
        &name,
        Box::new(std::io::Cursor::new(bytes)),
        size,
    )
    .await?;
    let message = if out.status == "done" {
        format!(
            "{name}: {} codes imported as official ({} new).",
            out.codes, out.added
        )
    } else {
        let shown: Vec<String> = out
            .problems
            .iter()
            .take(10)
            .map(|p| p.describe(&name))
            .collect();
        format!(
            "{name} was not imported ({} problem(s); nothing changed): {}",
            out.problem_count,
            shown.join("; ")
        )
    };
    Ok(redirect_flash(
        &st,
        "/finance/ucoa",
        if out.status == "done" { "ok" } else { "error" },
        &message,
    ))
}

/// A mapping with the catalog's names and labels for the uniform segments.
struct MappingRow {
    mapping: Mapping,
    segments: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "finance_crosswalk.html")]
struct CrosswalkPage {
    chrome: Chrome,
    books: Books,
    view: CrosswalkOut,
    rows: Vec<MappingRow>,
}

async fn page_crosswalk(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<CrosswalkQuery>,
) -> PageResult {
    let entity = entity_of(q.entity.as_deref())?;
    let mut view = crosswalk_out(&st, &scope, &q).await?;
    let mut c = st.db.read().await?;
    let catalog: HashMap<(String, String), CatalogCode> = ucoa::catalog(&mut c)
        .await?
        .into_iter()
        .map(|code| ((code.segment.clone(), code.code.clone()), code))
        .collect();
    drop(c);
    let rows = std::mem::take(&mut view.mappings)
        .into_iter()
        .map(|mapping| {
            let segments = AccountString::parse("uniform_account", &mapping.uniform_account)
                .map(|u| {
                    Segment::ALL
                        .into_iter()
                        .map(|s| {
                            let code = s.of(&u);
                            match catalog.get(&(s.as_str().to_owned(), code.clone())) {
                                Some(c) => (code, c.name.clone(), c.label().to_owned()),
                                None => (code, String::new(), "not in the catalog".to_owned()),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            MappingRow { mapping, segments }
        })
        .collect();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("UCOA crosswalk — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &CrosswalkPage {
            chrome,
            books: Books::new(&scope, entity),
            view,
            rows,
        },
        &user,
    )
}

async fn page_set_chart(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path(_town): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let mode = ChartMode::parse("chart", f.get("chart").map_or("", String::as_str))?;
        let mut tx = st.db.begin().await?;
        ucoa::set_chart_mode(&scope, &mut tx, st.now(), mode).await?;
        tx.commit().await?;
        Ok(match mode {
            ChartMode::Uniform => {
                "The books are on UCOA account strings; each account files as itself.".to_owned()
            }
            ChartMode::Local => {
                "The books keep the town's own chart; the filing uses the crosswalk.".to_owned()
            }
        })
    }
    .await;
    after_form(
        &st,
        &format!("/t/{}/finance/crosswalk", scope.town().slug),
        r,
    )
}
