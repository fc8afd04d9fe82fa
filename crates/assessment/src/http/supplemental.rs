//! The supplemental motor-vehicle list over HTTP (CGS 12-71b): import the
//! DMV's supplemental file, take and sign the list, read its accounts,
//! print a bill, post its levy. The page is a section of the motor-vehicle
//! page (`declarations::page_vehicles`); the forms post here.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Form, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::ServiceScope;
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ApiCaller, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{PageResult, PageRoutes, after_form, dollars, enc, redirect_flash};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::declarations::FileQuery;
use super::grand_list::{base, finance_scope, pdf, year};
use super::roll::Assessment;
use crate::grand_list::LevyIn;
use crate::imports::{self, ImportRecord, Load};
use crate::supplemental::{
    self, SupplementalItem, SupplementalList, SupplementalTotals, SupplementalVehicle,
};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_supplemental_vehicles))
        .routes(routes!(api_import_supplemental))
        .routes(routes!(api_supplemental, api_take_supplemental))
        .routes(routes!(api_sign_supplemental))
        .routes(routes!(api_supplemental_levy))
        .routes(routes!(api_supplemental_bill))
        .routes(routes!(
            api_run_supplemental_bills,
            api_supplemental_bill_run
        ))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.upload(
        "/t/{town}/assessment/grand-list/{list_year}/supplemental-vehicles",
        page_import_supplemental,
    )
    .post(
        "/t/{town}/assessment/grand-list/{list_year}/supplemental-list",
        page_take_supplemental,
    )
    .post(
        "/t/{town}/assessment/grand-list/{list_year}/supplemental-list/sign",
        page_sign_supplemental,
    )
    .post(
        "/t/{town}/assessment/grand-list/{list_year}/supplemental-list/levy",
        page_supplemental_levy,
    )
    .get(
        "/t/{town}/assessment/grand-list/{list_year}/supplemental-list/bills/{account}",
        page_supplemental_bill,
    )
    .post(
        "/t/{town}/assessment/grand-list/{list_year}/supplemental-list/bill-run",
        page_run_supplemental_bills,
    )
    .get(
        "/t/{town}/assessment/grand-list/{list_year}/supplemental-list/bill-run",
        page_supplemental_bill_run,
    )
}

// ---------------------------------------------------------------- API

/// One account of the supplemental list with its prorated assessment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SupplementalItemOut {
    /// The account.
    #[serde(flatten)]
    pub item: SupplementalItem,
    /// Net × months ÷ 12, whole dollars, cents (shown; the tax is prorated exactly).
    pub prorated_cents: i64,
}

/// A supplemental list with its totals and accounts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SupplementalOut {
    /// The list.
    pub list: SupplementalList,
    /// Its totals (the tax total is the supplemental levy).
    pub totals: SupplementalTotals,
    /// Its accounts, by account.
    pub items: Vec<SupplementalItemOut>,
}

/// The vehicles of the DMV's supplemental file of a grand list.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-vehicles", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = Vec<SupplementalVehicle>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_supplemental_vehicles(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<SupplementalVehicle>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        supplemental::vehicles(&scope, &mut c, year(&list_year)?).await?,
    ))
}

/// Imports the DMV's supplemental file of a grand list (CSV: the October file's columns plus registered_on, YYYY-MM-DD, and optionally replaces_vin); replaces the year's supplemental vehicles; all or nothing.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-vehicle-imports", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year"), FileQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = ImportRecord), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_import_supplemental(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<FileQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = match munishare_web::upload::read_body(body).await {
        Ok(b) => b,
        Err(r) => return Ok(r),
    };
    let rec = import(&st, &scope, year(&list_year)?, &q.file_name, bytes).await?;
    Ok((StatusCode::CREATED, axum::Json(rec)).into_response())
}

async fn import(
    st: &AppState,
    scope: &ServiceScope,
    list_year: i64,
    file_name: &str,
    bytes: bytes::Bytes,
) -> Result<ImportRecord> {
    imports::run(
        scope,
        &st.db,
        &st.blobs,
        st.now(),
        Load::SupplementalMotorVehicles(list_year),
        file_name,
        bytes,
    )
    .await
}

async fn read_out(st: &AppState, scope: &ServiceScope, list_year: i64) -> Result<SupplementalOut> {
    let mut c = st.db.read().await?;
    let list = supplemental::get(scope, &mut c, list_year).await?;
    let items = supplemental::items(scope, &mut c, list_year, None).await?;
    Ok(SupplementalOut {
        list,
        totals: supplemental::totals(&items),
        items: items
            .into_iter()
            .map(|item| SupplementalItemOut {
                prorated_cents: item.prorated_cents(),
                item,
            })
            .collect(),
    })
}

/// The supplemental list of a grand list: status, totals and every account's months, credit and prorated tax.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-list", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = SupplementalOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_supplemental(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<SupplementalOut>> {
    Ok(axum::Json(read_out(&st, &scope, year(&list_year)?).await?))
}

/// Takes (again, while a draft) the supplemental list from the imported vehicles, at the list's motor-vehicle rate (the regular list signed and its rate set).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-list", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 201, body = SupplementalOut), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_take_supplemental(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<Response> {
    let list_year = year(&list_year)?;
    let mut tx = st.db.begin().await?;
    supplemental::take(&scope, &mut tx, st.now(), list_year).await?;
    tx.commit().await?;
    let out = read_out(&st, &scope, list_year).await?;
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

/// The assessor signs the supplemental list.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-list/sign", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = SupplementalList), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_sign_supplemental(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<SupplementalList>> {
    let mut tx = st.db.begin().await?;
    let s = supplemental::sign(&scope, &mut tx, st.now(), year(&list_year)?).await?;
    tx.commit().await?;
    Ok(axum::Json(s))
}

/// Posts the supplemental levy to the town government's books, once (needs approve permission in assessment and in finance).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-list/levy", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")), request_body = LevyIn,
    responses((status = 200, body = SupplementalList), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_supplemental_levy(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiCaller(principal): ApiCaller,
    Path((_town, list_year)): Path<(String, String)>,
    ApiJson(req): ApiJson<LevyIn>,
) -> ApiResult<axum::Json<SupplementalList>> {
    let finance = finance_scope(&st, &principal, &scope).await?;
    let mut tx = st.db.begin().await?;
    let s = supplemental::post_levy(&scope, &finance, &mut tx, st.now(), year(&list_year)?, &req)
        .await?;
    tx.commit().await?;
    Ok(axum::Json(s))
}

/// One supplemental account's tax bill as a PDF.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-list/bills/{account}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year"), ("account" = String, Path, description = "Account, e.g. MV-4LA012345")),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_supplemental_bill(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year, account)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let mut c = st.db.read().await?;
    let bytes = supplemental::bill_pdf(&scope, &mut c, year(&list_year)?, &account).await?;
    Ok(pdf(&format!("supplemental-bill-{account}.pdf"), bytes))
}

/// Queues the bulk run of a signed supplemental list's bills (one PDF, through the job queue).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-list/bill-run", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 202, body = SupplementalList), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_run_supplemental_bills(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let s = supplemental::enqueue_bills(&scope, &mut tx, st.now(), year(&list_year)?).await?;
    tx.commit().await?;
    st.jobs.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(s)).into_response())
}

/// The last supplemental bulk bill run's PDF.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/supplemental-list/bill-run", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_supplemental_bill_run(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(bill_run(&st, &scope, &list_year).await?)
}

async fn bill_run(st: &AppState, scope: &ServiceScope, list_year: &str) -> Result<Response> {
    let list_year = year(list_year)?;
    let mut c = st.db.read().await?;
    let s = supplemental::get(scope, &mut c, list_year).await?;
    drop(c);
    let bytes = supplemental::stored_bills(scope, &st.blobs, &s).await?;
    Ok(pdf(
        &format!("supplemental-bills-{}-{list_year}.pdf", scope.town().slug),
        bytes.to_vec(),
    ))
}

// ---------------------------------------------------------------- pages

fn back(scope: &ServiceScope, list_year: &str) -> String {
    format!(
        "{}/grand-list/{}/motor-vehicles#supplemental",
        base(scope),
        enc(list_year)
    )
}

async fn page_import_supplemental(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    form: Multipart,
) -> PageResult {
    let to = back(&scope, &list_year);
    let list_year = year(&list_year)?;
    let form = munishare_web::upload::read_form(form).await?;
    let Some((name, bytes)) = form.file else {
        return Ok(redirect_flash(
            &st,
            &to,
            "error",
            "file: choose the DMV's supplemental file to import",
        ));
    };
    Ok(match import(&st, &scope, list_year, &name, bytes).await {
        Ok(r) => redirect_flash(
            &st,
            &to,
            "ok",
            &format!(
                "{}: {} supplemental vehicles imported (replacing {}).",
                r.file_name, r.rows, r.changed
            ),
        ),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            redirect_flash(&st, &to, "error", &format!("Nothing was imported. {e}"))
        }
        Err(e) => return Err(e.into()),
    })
}

async fn page_take_supplemental(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let y = year(&list_year)?;
        let mut tx = st.db.begin().await?;
        supplemental::take(&scope, &mut tx, st.now(), y).await?;
        let t = supplemental::totals(&supplemental::items(&scope, &mut tx, y, None).await?);
        tx.commit().await?;
        Ok(format!(
            "The {y} supplemental list is taken: accounts {}, tax {}.",
            t.accounts,
            dollars(&t.tax_cents)
        ))
    }
    .await;
    after_form(&st, &back(&scope, &list_year), r)
}

async fn page_sign_supplemental(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let s = supplemental::sign(&scope, &mut tx, st.now(), year(&list_year)?).await?;
        tx.commit().await?;
        Ok(format!("The {} supplemental list is signed.", s.list_year))
    }
    .await;
    after_form(&st, &back(&scope, &list_year), r)
}

async fn page_supplemental_levy(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let finance = finance_scope(&st, &user.principal, &scope).await?;
        let input = LevyIn {
            receivable_account: f.get("receivable_account").cloned().unwrap_or_default(),
            revenue_account: f.get("revenue_account").cloned().unwrap_or_default(),
        };
        let y = year(&list_year)?;
        let mut tx = st.db.begin().await?;
        supplemental::post_levy(&scope, &finance, &mut tx, st.now(), y, &input).await?;
        let t = supplemental::totals(&supplemental::items(&scope, &mut tx, y, None).await?);
        tx.commit().await?;
        Ok(format!(
            "The {y} supplemental levy of {} is posted to the town's books.",
            dollars(&t.tax_cents)
        ))
    }
    .await;
    after_form(&st, &back(&scope, &list_year), r)
}

async fn page_supplemental_bill(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year, account)): Path<(String, String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let bytes = supplemental::bill_pdf(&scope, &mut c, year(&list_year)?, &account).await?;
    Ok(pdf(&format!("supplemental-bill-{account}.pdf"), bytes))
}

async fn page_run_supplemental_bills(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let s = supplemental::enqueue_bills(&scope, &mut tx, st.now(), year(&list_year)?).await?;
        tx.commit().await?;
        st.jobs.wake();
        Ok(format!(
            "The {} supplemental bill run is queued.",
            s.list_year
        ))
    }
    .await;
    after_form(&st, &back(&scope, &list_year), r)
}

async fn page_supplemental_bill_run(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> PageResult {
    Ok(bill_run(&st, &scope, &list_year).await?)
}
