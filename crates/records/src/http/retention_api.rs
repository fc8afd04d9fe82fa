//! Retention, disposition and legal holds over HTTP: the region's catalog (everyone signed in
//! reads it; the council administrator enters and imports series), and under
//! `/api/v1/towns/{town}/records/…` the town's catalog and local series, a document's retention,
//! the records past retention, disposal batches with their authorization PDF, tombstones and holds.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{AdminCaller, ApiCaller, ServiceCaller};
use munishare_web::error::{ApiResult, Problem};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Records;
use crate::disposition::{
    self, Batch, BatchDetail, BatchIn, Destroyed, DueQuery, DueRecord, ItemsIn, Tombstone,
};
use crate::holds::{self, Hold, HoldIn, ReleaseIn};
use crate::retention::{
    self, DocumentRetention, Schedule, Series, SeriesImport, SeriesIn, TriggerIn,
};

const TOWN: &str = "The town's slug, e.g. `hartford`.";
const DOC: &str = "The document's id.";
const SERIES: &str = "The series' id.";
const BATCH: &str = "The disposal batch's id.";
const HOLD: &str = "The hold's id.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(retention_schedules))
        .routes(routes!(retention_region_series))
        .routes(routes!(retention_create_region_series))
        .routes(routes!(retention_update_region_series))
        .routes(routes!(retention_import_region_series))
        .routes(routes!(
            retention_town_series,
            retention_create_local_series
        ))
        .routes(routes!(retention_update_local_series))
        .routes(routes!(retention_document, retention_set_trigger))
        .routes(routes!(disposition_due))
        .routes(routes!(disposition_batches, disposition_create_batch))
        .routes(routes!(disposition_batch))
        .routes(routes!(disposition_set_documents))
        .routes(routes!(disposition_approve))
        .routes(routes!(disposition_authorization))
        .routes(routes!(disposition_destroy))
        .routes(routes!(disposition_tombstones))
        .routes(routes!(holds_list, holds_place))
        .routes(routes!(holds_release))
        .routes(routes!(holds_refresh))
}

/// The State Library's general retention schedules for municipalities (M1–M16, M15.1), as listed.
#[utoipa::path(get, path = "/api/v1/retention/schedules", tag = "records",
    responses((status = 200, body = Vec<Schedule>), (status = 401, body = Problem)))]
async fn retention_schedules(_caller: ApiCaller) -> axum::Json<Vec<Schedule>> {
    axum::Json(retention::schedules())
}

/// The region's retention series catalog, by schedule and code. Each series says its source: `entered`, `imported` or `illustrative` (demo data, not the State Library's).
#[utoipa::path(get, path = "/api/v1/retention/series", tag = "records",
    responses((status = 200, body = Vec<Series>), (status = 401, body = Problem)))]
async fn retention_region_series(
    State(st): State<AppState>,
    _caller: ApiCaller,
) -> ApiResult<axum::Json<Vec<Series>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(retention::region_catalog(&mut c).await?))
}

/// Adds a series to the region's catalog (council administrators); audited.
#[utoipa::path(post, path = "/api/v1/admin/retention/series", tag = "admin", request_body = SeriesIn,
    responses((status = 201, body = Series), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn retention_create_region_series(
    State(st): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiJson(req): ApiJson<SeriesIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let s = retention::create_region(&admin, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(s)).into_response())
}

/// Changes a series of the region's catalog (council administrators); every town's documents of types using it get their due dates again; audited.
#[utoipa::path(put, path = "/api/v1/admin/retention/series/{series}", tag = "admin",
    params(("series" = String, Path, description = SERIES)), request_body = SeriesIn,
    responses((status = 200, body = Series), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn retention_update_region_series(
    State(st): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SeriesIn>,
) -> ApiResult<axum::Json<Series>> {
    let mut tx = st.db.begin().await?;
    let s = retention::update_region(&admin, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(s))
}

/// The import file's name.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FileQuery {
    /// For the audit log.
    file_name: Option<String>,
}

/// Imports series into the region's catalog from CSV (council administrators): header `schedule, code, title, description, rule, trigger, years, follow, disposition, essential`. All or nothing: 200 when imported; otherwise 422, a problem (`field` names the first row and column) with `problems`, every problem by row and column; a code already in the catalog is updated.
#[utoipa::path(post, path = "/api/v1/admin/retention/series/import", tag = "admin", params(FileQuery),
    request_body(content = Vec<u8>, content_type = "text/csv"),
    responses((status = 200, body = SeriesImport), (status = 422, body = Problem), (status = 403, body = Problem)))]
async fn retention_import_region_series(
    State(st): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(q): ApiQuery<FileQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = match munishare_web::upload::read_body(body).await {
        Ok(b) => b,
        Err(too_large) => return Ok(too_large),
    };
    let name = q.file_name.unwrap_or_else(|| "series.csv".into());
    let out = retention::import_region(&admin, &st.db, st.now(), &name, &bytes).await?;
    if out.status == "done" {
        return Ok((StatusCode::OK, axum::Json(out)).into_response());
    }
    // A rejected file is a problem (application/problem+json) that lists every row and column.
    let field = out.problems.first().map(|p| {
        if p.column.is_empty() {
            format!("row {}", p.row)
        } else {
            format!("row {}, column {}", p.row, p.column)
        }
    });
    let body = serde_json::json!({
        "type": "https://munishare.example/problems/invalid",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": format!("{name} was not imported: {} problems, nothing changed", out.problems.len()),
        "field": field,
        "rows": out.rows,
        "problems": out.problems,
    });
    let mut r = (StatusCode::UNPROCESSABLE_ENTITY, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Ok(r)
}

/// The series the town uses: the region's catalog and its own local series.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/retention/series", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<Series>), (status = 404, body = Problem)))]
async fn retention_town_series(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<Series>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(retention::town_catalog(&scope, &mut c).await?))
}

/// Adds a local series to the town's catalog (administer in records; schedule `LOCAL`); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/retention/series", tag = "records",
    params(("town" = String, Path, description = TOWN)), request_body = SeriesIn,
    responses((status = 201, body = Series), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn retention_create_local_series(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiJson(req): ApiJson<SeriesIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let s = retention::create_local(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(s)).into_response())
}

/// Changes one of the town's local series (administer); the region's series are the council's (403); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/records/retention/series/{series}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("series" = String, Path, description = SERIES)), request_body = SeriesIn,
    responses((status = 200, body = Series), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn retention_update_local_series(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<SeriesIn>,
) -> ApiResult<axum::Json<Series>> {
    let mut tx = st.db.begin().await?;
    let s = retention::update_local(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(s))
}

/// A document's retention: its series, the rule in words, its trigger date, the end of retention (or why there is none) and the holds that block its disposal.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents/{document}/retention", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC)),
    responses((status = 200, body = DocumentRetention), (status = 404, body = Problem)))]
async fn retention_document(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<DocumentRetention>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        retention::of_document(&scope, &mut c, &id).await?,
    ))
}

/// Records (or clears) the date a document's retention starts from for event triggers (audit completed, expiration, project completion, event) (edit); the due date follows; audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/records/documents/{document}/retention", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC)), request_body = TriggerIn,
    responses((status = 200, body = DocumentRetention), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn retention_set_trigger(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<TriggerIn>,
) -> ApiResult<axum::Json<DocumentRetention>> {
    let mut tx = st.db.begin().await?;
    let r = retention::set_trigger(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(r))
}

/// The records past their retention (the records officer, approve): oldest first, each with the holds that block it and the open batch it is in; `eligible` when neither.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/disposition/due", tag = "records",
    params(("town" = String, Path, description = TOWN), DueQuery),
    responses((status = 200, body = Vec<DueRecord>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn disposition_due(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiQuery(q): ApiQuery<DueQuery>,
) -> ApiResult<axum::Json<Vec<DueRecord>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        disposition::due(&scope, &mut c, st.now().datetime().date(), &q).await?,
    ))
}

/// The town's disposal batches, newest first (approve).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/disposition/batches", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<Batch>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn disposition_batches(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<Batch>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(disposition::batches(&scope, &mut c).await?))
}

/// Makes a draft disposal batch of records past retention, not held and in no other open batch (approve); each refused record is named as `documents[i]`; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/disposition/batches", tag = "records",
    params(("town" = String, Path, description = TOWN)), request_body = BatchIn,
    responses((status = 201, body = BatchDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn disposition_create_batch(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiJson(req): ApiJson<BatchIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let b = disposition::create(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(b)).into_response())
}

/// A disposal batch with its records (after destruction, their tombstones).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/disposition/batches/{batch}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("batch" = String, Path, description = BATCH)),
    responses((status = 200, body = BatchDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn disposition_batch(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<BatchDetail>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(disposition::batch(&scope, &mut c, &id).await?))
}

/// Replaces the records of a draft batch (approve); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/records/disposition/batches/{batch}/documents", tag = "records",
    params(("town" = String, Path, description = TOWN), ("batch" = String, Path, description = BATCH)), request_body = ItemsIn,
    responses((status = 200, body = BatchDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn disposition_set_documents(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<ItemsIn>,
) -> ApiResult<axum::Json<BatchDetail>> {
    let mut tx = st.db.begin().await?;
    let b = disposition::set_documents(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(b))
}

/// Approves a draft batch (the records officer): every record is checked again, the authorization modelled on Form RC-075 is rendered as PDF and stored, and the approval recorded (who, when); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/disposition/batches/{batch}/approve", tag = "records",
    params(("town" = String, Path, description = TOWN), ("batch" = String, Path, description = BATCH)),
    responses((status = 200, body = BatchDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn disposition_approve(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<BatchDetail>> {
    Ok(axum::Json(
        disposition::approve(&scope, &st.db, &st.blobs, st.now(), &id).await?,
    ))
}

/// The authorization PDF of an approved batch (approve).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/disposition/batches/{batch}/authorization", tag = "records",
    params(("town" = String, Path, description = TOWN), ("batch" = String, Path, description = BATCH)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn disposition_authorization(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (number, bytes) = disposition::authorization(&scope, &st.db, &st.blobs, &id).await?;
    Ok(pdf(
        &format!("disposition-{}-{number}.pdf", scope.town().slug),
        bytes,
    ))
}

/// A PDF response, as an attachment.
pub(crate) fn pdf(name: &str, bytes: bytes::Bytes) -> Response {
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&super::disposition(name)) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Destroys the records of an approved batch (the records officer): holds are checked again; each document is replaced by a tombstone (its metadata, never its content) and its content deleted from the store unless another version of the town shares it; audited. A re-run finishes a destruction a crash interrupted.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/disposition/batches/{batch}/destroy", tag = "records",
    params(("town" = String, Path, description = TOWN), ("batch" = String, Path, description = BATCH)),
    responses((status = 200, body = Destroyed), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn disposition_destroy(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<Destroyed>> {
    Ok(axum::Json(
        disposition::destroy(&scope, &st.db, &st.blobs, st.now(), &id).await?,
    ))
}

/// The tombstones of destroyed documents, newest first (approve).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/tombstones", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<Tombstone>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn disposition_tombstones(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<Tombstone>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(disposition::tombstones(&scope, &mut c).await?))
}

/// Which holds.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HoldQuery {
    /// `true` to include released holds.
    all: Option<bool>,
}

/// The town's legal holds, active first (approve).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/holds", tag = "records",
    params(("town" = String, Path, description = TOWN), HoldQuery),
    responses((status = 200, body = Vec<Hold>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn holds_list(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiQuery(q): ApiQuery<HoldQuery>,
) -> ApiResult<axum::Json<Vec<Hold>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        holds::list(&scope, &mut c, !q.all.unwrap_or(false)).await?,
    ))
}

/// Places a legal hold on a document, a series, or what a saved search finds now (the records officer), naming the matter; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/holds", tag = "records",
    params(("town" = String, Path, description = TOWN)), request_body = HoldIn,
    responses((status = 201, body = Hold), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn holds_place(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiJson(req): ApiJson<HoldIn>,
) -> ApiResult<Response> {
    let indexes = super::search_api::indexes(&st)?;
    let h = holds::place(&scope, &st.db, indexes, st.now(), &req).await?;
    Ok((StatusCode::CREATED, axum::Json(h)).into_response())
}

/// What refreshing a hold on a search did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Refreshed {
    /// Documents the search finds now that the hold did not hold yet, now held.
    pub added: u64,
}

/// Runs a hold on a search again and holds what it finds now too (the records officer); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/holds/{hold}/refresh", tag = "records",
    params(("town" = String, Path, description = TOWN), ("hold" = String, Path, description = HOLD)),
    responses((status = 200, body = Refreshed), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn holds_refresh(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<Refreshed>> {
    let indexes = super::search_api::indexes(&st)?;
    let added = holds::refresh(&scope, &st.db, indexes, st.now(), &id).await?;
    Ok(axum::Json(Refreshed { added }))
}

/// Releases a legal hold (the records officer), with the reason; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/holds/{hold}/release", tag = "records",
    params(("town" = String, Path, description = TOWN), ("hold" = String, Path, description = HOLD)), request_body = ReleaseIn,
    responses((status = 200, body = Hold), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn holds_release(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<ReleaseIn>,
) -> ApiResult<axum::Json<Hold>> {
    let mut tx = st.db.begin().await?;
    let h = holds::release(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(h))
}
