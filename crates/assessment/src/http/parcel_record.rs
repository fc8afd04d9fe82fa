//! The parcel record's outbuildings and attachments over HTTP: the API under
//! `/api/v1/towns/{town}/assessment/parcels/{parcel}/…` and the parcel page's
//! forms (the page itself is in `roll`).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Form, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use munishare_platform::access::ServiceScope;
use munishare_platform::types::Money;
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{PageResult, PageRoutes, after_form, enc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roll::Assessment;
use crate::attachments::{self, Attachment, Describe, Upload};
use crate::outbuildings::{self, Outbuilding, OutbuildingData};

const TOWN: &str = "The town's slug, e.g. `hartford`.";
const PARCEL: &str = "Parcel id or map-block-lot";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_outbuildings, api_add_outbuilding))
        .routes(routes!(api_update_outbuilding, api_remove_outbuilding))
        .routes(routes!(api_attachments, api_attach))
        .routes(routes!(api_attachment_file, api_remove_attachment))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.post(
        "/t/{town}/assessment/parcels/{parcel}/outbuildings",
        page_add_outbuilding,
    )
    .post(
        "/t/{town}/assessment/parcels/{parcel}/outbuildings/{outbuilding}",
        page_update_outbuilding,
    )
    .post(
        "/t/{town}/assessment/parcels/{parcel}/outbuildings/{outbuilding}/remove",
        page_remove_outbuilding,
    )
    .upload(
        "/t/{town}/assessment/parcels/{parcel}/attachments",
        page_attach,
    )
    .get(
        "/t/{town}/assessment/parcels/{parcel}/attachments/{attachment}",
        page_attachment_file,
    )
    .post(
        "/t/{town}/assessment/parcels/{parcel}/attachments/{attachment}/remove",
        page_remove_attachment,
    )
}

// ---------------------------------------------------------------- API

/// A parcel's outbuildings and extra features, in the order they were added.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/outbuildings", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = PARCEL)),
    responses((status = 200, body = Vec<Outbuilding>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_outbuildings(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<Outbuilding>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        outbuildings::list(&scope, &mut c, &parcel).await?,
    ))
}

/// Adds an outbuilding (its value is part of the building value of record: the parcel's outbuildings may not be worth more in all); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/outbuildings", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = PARCEL)),
    request_body = OutbuildingData,
    responses((status = 201, body = Outbuilding), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_add_outbuilding(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
    ApiJson(req): ApiJson<OutbuildingData>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let o = outbuildings::add(&scope, &mut tx, st.now(), &parcel, &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(o)).into_response())
}

/// A change to an outbuilding.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OutbuildingIn {
    /// The version the editor saw.
    pub version: i64,
    /// The outbuilding as it should be.
    pub outbuilding: OutbuildingData,
}

/// Changes an outbuilding, guarded by its version; audited with the fields before and after.
#[utoipa::path(put, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/outbuildings/{outbuilding}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = PARCEL), ("outbuilding" = String, Path, description = "Outbuilding id")),
    request_body = OutbuildingIn,
    responses((status = 200, body = Outbuilding), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_update_outbuilding(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel, id)): Path<(String, String, String)>,
    ApiJson(req): ApiJson<OutbuildingIn>,
) -> ApiResult<axum::Json<Outbuilding>> {
    let mut tx = st.db.begin().await?;
    let o = outbuildings::update(
        &scope,
        &mut tx,
        st.now(),
        &parcel,
        &id,
        req.version,
        &req.outbuilding,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(o))
}

/// Removes an outbuilding; audited. Answers with what was removed.
#[utoipa::path(delete, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/outbuildings/{outbuilding}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = PARCEL), ("outbuilding" = String, Path, description = "Outbuilding id")),
    responses((status = 200, body = Outbuilding), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem)))]
async fn api_remove_outbuilding(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel, id)): Path<(String, String, String)>,
) -> ApiResult<axum::Json<Outbuilding>> {
    let mut tx = st.db.begin().await?;
    let o = outbuildings::remove(&scope, &mut tx, st.now(), &parcel, &id).await?;
    tx.commit().await?;
    Ok(axum::Json(o))
}

/// A parcel's photos and sketches, newest first.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/attachments", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = PARCEL)),
    responses((status = 200, body = Vec<Attachment>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_attachments(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<Attachment>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        attachments::list(&scope, &mut c, &parcel).await?,
    ))
}

/// The attached file and what describes it.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AttachQuery {
    /// The file's name (shown in errors and on the parcel page).
    pub file_name: String,
    /// `photo` (JPEG or PNG) or `sketch` (JPEG, PNG or PDF).
    pub kind: String,
    /// Caption (up to 200 characters).
    pub caption: Option<String>,
    /// When the photo was taken (YYYY-MM-DD).
    pub taken_on: Option<String>,
}

/// Attaches a photo or sketch (the body is the file: JPEG, PNG or PDF, recognised from its first bytes, at most 10 MB); the same file twice on a parcel is refused; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/attachments", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = PARCEL), AttachQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Attachment), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 413, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_attach(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<AttachQuery>,
    body: Body,
) -> ApiResult<Response> {
    // Read at most one byte over the limit: enough for the service to refuse
    // the file by name, without holding a much larger body in memory.
    let bytes = axum::body::to_bytes(body, attachments::MAX_BYTES + 1)
        .await
        .map_err(|_| {
            Error::invalid(
                q.file_name.trim().to_owned(),
                "the file is larger than 10 MB (or did not arrive whole); an attachment is at most 10 MB",
            )
        })?;
    let describe = Describe {
        kind: q.kind,
        caption: q.caption.unwrap_or_default(),
        taken_on: q.taken_on.unwrap_or_default(),
    };
    let files = vec![Upload {
        file_name: q.file_name,
        bytes,
    }];
    let mut list = attachments::attach(
        &scope,
        &st.db,
        &st.blobs,
        st.now(),
        &parcel,
        &describe,
        files,
    )
    .await?;
    let a = list
        .pop()
        .ok_or_else(|| Error::Internal("an upload attached nothing".into()))?;
    Ok((StatusCode::CREATED, axum::Json(a)).into_response())
}

/// The attached file itself, with its stored content type (images inline, PDFs as a download).
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/attachments/{attachment}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = PARCEL), ("attachment" = String, Path, description = "Attachment id")),
    responses((status = 200, description = "The file (image/jpeg, image/png or application/pdf)", content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_attachment_file(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel, id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (a, bytes) = attachments::open(&scope, &st.db, &st.blobs, &parcel, &id).await?;
    Ok(file_response(&a, bytes))
}

/// Deletes an attachment and its file; audited. Answers with what was deleted.
#[utoipa::path(delete, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/attachments/{attachment}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = PARCEL), ("attachment" = String, Path, description = "Attachment id")),
    responses((status = 200, body = Attachment), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem)))]
async fn api_remove_attachment(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel, id)): Path<(String, String, String)>,
) -> ApiResult<axum::Json<Attachment>> {
    Ok(axum::Json(
        attachments::remove(&scope, &st.db, &st.blobs, st.now(), &parcel, &id).await?,
    ))
}

/// Serves an attachment's bytes: the stored content type (never sniffed by
/// the browser), images inline and PDFs as downloads, and a policy that
/// lets nothing in the file run.
fn file_response(a: &Attachment, bytes: Bytes) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&a.content_disposition())
            .unwrap_or(HeaderValue::from_static("attachment")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    resp
}

// ---------------------------------------------------------------- pages

fn parcel_page(scope: &ServiceScope, parcel: &str) -> String {
    format!(
        "/t/{}/assessment/parcels/{}",
        scope.town().slug,
        enc(parcel)
    )
}

/// Reads the outbuilding form: whole numbers, the value in dollars.
fn outbuilding_form(f: &HashMap<String, String>) -> Result<OutbuildingData> {
    let get = |k: &str| f.get(k).map_or("", |s| s.trim());
    let int = |k: &'static str| -> Result<i64> {
        let v = get(k).replace(',', "");
        if v.is_empty() {
            return Ok(0);
        }
        v.parse()
            .map_err(|_| Error::invalid(k, format!("'{}' is not a whole number", get(k))))
    };
    Ok(OutbuildingData {
        kind: get("kind").to_owned(),
        description: get("description").to_owned(),
        size: int("size")?,
        size_unit: get("size_unit").to_owned(),
        year_built: int("year_built")?,
        condition: int("condition")?,
        value_cents: if get("value").is_empty() {
            0
        } else {
            Money::parse("value", get("value"))?.cents()
        },
    })
}

async fn page_add_outbuilding(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let d = outbuilding_form(&f)?;
        let mut tx = st.db.begin().await?;
        let o = outbuildings::add(&scope, &mut tx, st.now(), &parcel, &d).await?;
        tx.commit().await?;
        Ok(format!(
            "{} added ({}).",
            outbuildings::kind_name(&o.kind),
            Money::from_cents(o.value_cents)
        ))
    }
    .await;
    after_form(&st, &parcel_page(&scope, &parcel), r)
}

async fn page_update_outbuilding(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, parcel, id)): Path<(String, String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let d = outbuilding_form(&f)?;
        let version = f
            .get("version")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| Error::invalid("version", "reload the page and try again"))?;
        let mut tx = st.db.begin().await?;
        let o = outbuildings::update(&scope, &mut tx, st.now(), &parcel, &id, version, &d).await?;
        tx.commit().await?;
        Ok(format!(
            "{} saved (version {}).",
            outbuildings::kind_name(&o.kind),
            o.version
        ))
    }
    .await;
    after_form(&st, &parcel_page(&scope, &parcel), r)
}

async fn page_remove_outbuilding(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, parcel, id)): Path<(String, String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let o = outbuildings::remove(&scope, &mut tx, st.now(), &parcel, &id).await?;
        tx.commit().await?;
        Ok(format!("{} removed.", outbuildings::kind_name(&o.kind)))
    }
    .await;
    after_form(&st, &parcel_page(&scope, &parcel), r)
}

async fn page_attach(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
    form: Multipart,
) -> PageResult {
    let r = async {
        let form = munishare_web::upload::read_form(form).await?;
        let get = |k: &str| form.fields.get(k).cloned().unwrap_or_default();
        let describe = Describe {
            kind: get("kind"),
            caption: get("caption"),
            taken_on: get("taken_on"),
        };
        let files = form
            .files
            .into_iter()
            .map(|(file_name, bytes)| Upload { file_name, bytes })
            .collect();
        let list = attachments::attach(
            &scope,
            &st.db,
            &st.blobs,
            st.now(),
            &parcel,
            &describe,
            files,
        )
        .await?;
        Ok(format!(
            "Attached {}.",
            list.iter()
                .map(|a| a.file_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
    .await;
    after_form(&st, &parcel_page(&scope, &parcel), r)
}

async fn page_attachment_file(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, parcel, id)): Path<(String, String, String)>,
) -> PageResult {
    let (a, bytes) = attachments::open(&scope, &st.db, &st.blobs, &parcel, &id).await?;
    Ok(file_response(&a, bytes))
}

async fn page_remove_attachment(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, parcel, id)): Path<(String, String, String)>,
) -> PageResult {
    let r = attachments::remove(&scope, &st.db, &st.blobs, st.now(), &parcel, &id)
        .await
        .map(|a| format!("{} deleted.", a.file_name));
    after_form(&st, &parcel_page(&scope, &parcel), r)
}
