//! The records session API: `/api/v1/towns/{town}/records/…`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use munishare_platform::Error;
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::ServiceCaller;
use munishare_web::error::{ApiResult, Problem};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Records, content_length, download, ingest_problem};
use crate::documents::{
    self, Document, DocumentDetail, DocumentIn, DocumentPage, DocumentQuery, Filed, Note, NoteIn,
    Tag, TagsIn,
};
use crate::ingest::{self, RecordsSettings, SweepReport};
use crate::text::{self, VersionText};
use crate::types::{self, DocumentType, DocumentTypeIn};
use crate::visibility::{self, Department, DepartmentLimit, DepartmentLimitIn};

const TOWN: &str = "The town's slug, e.g. `hartford`.";
const DOC: &str = "The document's id.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(records_list, records_upload))
        .routes(routes!(records_detail, records_update))
        .routes(routes!(records_new_version))
        .routes(routes!(records_content))
        .routes(routes!(records_searchable_pdf))
        .routes(routes!(records_version_text))
        .routes(routes!(records_extract))
        .routes(routes!(records_add_note))
        .routes(routes!(records_set_tags))
        .routes(routes!(records_tags))
        .routes(routes!(records_types, records_create_type))
        .routes(routes!(records_update_type, records_delete_type))
        .routes(routes!(records_departments))
        .routes(routes!(records_settings, records_set_settings))
        .routes(routes!(records_limits, records_set_limit))
        .routes(routes!(records_sweep))
}

/// The upload's metadata, in the query string (the body is the file).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// The file's name (required): no control characters or path separators.
    pub filename: Option<String>,
    /// Title; the file name without its extension if absent.
    pub title: Option<String>,
    /// A document type's id or name.
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    /// A department's code; absent for a town-wide document.
    pub department: Option<String>,
    /// Who sent or wrote it.
    pub correspondent: Option<String>,
    /// The document's own date, `YYYY-MM-DD`.
    pub document_date: Option<String>,
    /// `true` to file it as confidential (records officer only).
    pub confidential: Option<bool>,
    /// Tags, separated by commas.
    pub tags: Option<String>,
}

impl UploadQuery {
    pub(crate) fn meta(&self) -> DocumentIn {
        DocumentIn {
            title: self.title.clone(),
            doc_type: self.doc_type.clone(),
            department: self.department.clone(),
            correspondent: self.correspondent.clone(),
            document_date: self.document_date.clone(),
            confidential: self.confidential.unwrap_or(false),
            fields: serde_json::Map::new(),
            tags: self
                .tags
                .as_deref()
                .map(|t| t.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        }
    }

    pub(crate) fn file_name(&self) -> Result<String, Error> {
        self.filename
            .clone()
            .ok_or_else(|| Error::invalid("filename", "give the file's name as ?filename="))
    }
}

/// The documents the caller may see (departments they are limited to; confidential ones only for the records officer), filtered, sorted and paged.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents", tag = "records",
    params(("town" = String, Path, description = TOWN), DocumentQuery),
    responses((status = 200, body = DocumentPage), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn records_list(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiQuery(q): ApiQuery<DocumentQuery>,
) -> ApiResult<axum::Json<DocumentPage>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(documents::list(&scope, &mut c, &q).await?))
}

/// Files a document (edit): the body is the file, streamed to the store while hashed; the town's content is stored once (`deduplicated`). Refuses empty files, kinds other than PDF, PNG, JPEG, TIFF, text, DOCX, ODT (from the bytes), odd names (422 naming the file) and files over the town's limit (413 naming it); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/documents", tag = "records",
    params(("town" = String, Path, description = TOWN), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Filed), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
async fn records_upload(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Response> {
    let fail = |e: Error| munishare_web::error::ApiError(e).into_response();
    let name = q.file_name().map_err(fail)?;
    let meta = {
        let mut c = st.db.read().await.map_err(fail)?;
        documents::check_meta(&scope, &mut c, &q.meta())
            .await
            .map_err(fail)?
    };
    let staged = ingest::stage(
        &scope,
        &st.db,
        &st.blobs,
        st.now(),
        &name,
        content_length(&headers),
        body.into_data_stream(),
    )
    .await
    .map_err(ingest_problem)?;
    let filed = documents::file(&scope, &st.db, &st.blobs, st.now(), &staged, &meta)
        .await
        .map_err(fail)?;
    st.jobs.wake();
    Ok((StatusCode::CREATED, axum::Json(filed)).into_response())
}

/// A document with its versions (newest first) and notes.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents/{document}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC)),
    responses((status = 200, body = DocumentDetail), (status = 404, body = Problem)))]
async fn records_detail(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<DocumentDetail>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(documents::detail(&scope, &mut c, &id).await?))
}

/// Changes a document's metadata and tags (edit; the confidential flag only by the records officer); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/records/documents/{document}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC)),
    request_body = DocumentIn,
    responses((status = 200, body = Document), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn records_update(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<DocumentIn>,
) -> ApiResult<axum::Json<Document>> {
    let mut tx = st.db.begin().await?;
    let d = documents::update(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(d))
}

/// The file name of a new version.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct VersionQuery {
    /// The file's name (required).
    filename: Option<String>,
}

/// Adds a version (edit): the body is the file, streamed and checked like a new document; it becomes current and the old versions stay; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/documents/{document}/versions", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC), VersionQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Filed), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
async fn records_new_version(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<VersionQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Response> {
    let fail = |e: Error| munishare_web::error::ApiError(e).into_response();
    {
        let mut c = st.db.read().await.map_err(fail)?;
        documents::check_new_version(&scope, &mut c, &id)
            .await
            .map_err(fail)?;
    }
    let name = q
        .filename
        .ok_or_else(|| Error::invalid("filename", "give the file's name as ?filename="))
        .map_err(fail)?;
    let staged = ingest::stage(
        &scope,
        &st.db,
        &st.blobs,
        st.now(),
        &name,
        content_length(&headers),
        body.into_data_stream(),
    )
    .await
    .map_err(ingest_problem)?;
    let filed = documents::add_version(&scope, &st.db, &st.blobs, st.now(), &staged, &id)
        .await
        .map_err(fail)?;
    st.jobs.wake();
    Ok((StatusCode::CREATED, axum::Json(filed)).into_response())
}

/// Which version to download.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ContentQuery {
    /// The version's number; the current one if absent.
    version: Option<i64>,
}

/// Downloads a version's original file (streamed; its stored media type, as an attachment).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents/{document}/content", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC), ContentQuery),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
async fn records_content(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ContentQuery>,
) -> ApiResult<Response> {
    let (v, key) = {
        let mut c = st.db.read().await?;
        documents::version_content(&scope, &mut c, &id, q.version).await?
    };
    Ok(download(&st.blobs, &scope, &v, &key).await?)
}

const VERSION: &str = "The version's number, from 1.";

/// A version number from the path; one that does not read is a version that does not exist.
pub(crate) fn version_number(v: &str) -> Result<i64, Error> {
    v.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or(Error::NotFound { what: "version" })
}

/// Downloads the searchable PDF made by OCR from a scanned PDF or an image (the page images with their text underneath); 404 when the version has none.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents/{document}/versions/{version}/searchable.pdf", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC),
        ("version" = String, Path, description = VERSION)),
    responses((status = 200, description = "The searchable PDF", content_type = "application/pdf"), (status = 404, body = Problem)))]
async fn records_searchable_pdf(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id, version)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let n = version_number(&version)?;
    let (v, key) = {
        let mut c = st.db.read().await?;
        text::searchable_pdf(&scope, &mut c, &id, n).await?
    };
    Ok(download(&st.blobs, &scope, &v, &key).await?)
}

/// The text taken from a version (extracted or OCR'd), as plain UTF-8; 404 until it is taken.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents/{document}/versions/{version}/text", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC),
        ("version" = String, Path, description = VERSION)),
    responses((status = 200, description = "The text", content_type = "text/plain; charset=utf-8", body = String), (status = 404, body = Problem)))]
async fn records_version_text(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id, version)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let n = version_number(&version)?;
    let mut c = st.db.read().await?;
    let body = text::body(&scope, &mut c, &id, n).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            ),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response())
}

/// Takes a version's text again (edit): it goes back to pending and the extraction job is queued, acting for the caller; 409 while one is waiting; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/documents/{document}/versions/{version}/extract", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC),
        ("version" = String, Path, description = VERSION)),
    responses((status = 202, body = VersionText), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn records_extract(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id, version)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let n = version_number(&version)?;
    let t = text::retry(&scope, &st.db, st.now(), &id, n).await?;
    st.jobs.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(t)).into_response())
}

/// Adds a note to a document (edit); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/documents/{document}/notes", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC)),
    request_body = NoteIn,
    responses((status = 201, body = Note), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn records_add_note(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<NoteIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let n = documents::add_note(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(n)).into_response())
}

/// Replaces a document's tags (edit); new tag names are created in the town; audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/records/documents/{document}/tags", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC)),
    request_body = TagsIn,
    responses((status = 200, body = Document), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn records_set_tags(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<TagsIn>,
) -> ApiResult<axum::Json<Document>> {
    let mut tx = st.db.begin().await?;
    let d = documents::set_tags(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(d))
}

/// The town's tags, with how many documents the caller may see carry each.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/tags", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<Tag>), (status = 404, body = Problem)))]
async fn records_tags(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<Tag>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(documents::tags(&scope, &mut c).await?))
}

/// The town's document types with their custom fields, by name.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/types", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<DocumentType>), (status = 404, body = Problem)))]
async fn records_types(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<DocumentType>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(types::list(&scope, &mut c).await?))
}

/// Creates a document type (administer): a name unique in the town, an optional retention series code, typed custom fields; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/types", tag = "records",
    params(("town" = String, Path, description = TOWN)), request_body = DocumentTypeIn,
    responses((status = 201, body = DocumentType), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn records_create_type(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiJson(req): ApiJson<DocumentTypeIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let t = types::create(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(t)).into_response())
}

/// Changes a document type (administer); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/records/types/{type_id}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("type_id" = String, Path, description = "The type's id")),
    request_body = DocumentTypeIn,
    responses((status = 200, body = DocumentType), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn records_update_type(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<DocumentTypeIn>,
) -> ApiResult<axum::Json<DocumentType>> {
    let mut tx = st.db.begin().await?;
    let t = types::update(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(t))
}

/// Deletes a document type that no document has (administer); audited.
#[utoipa::path(delete, path = "/api/v1/towns/{town}/records/types/{type_id}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("type_id" = String, Path, description = "The type's id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn records_delete_type(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut tx = st.db.begin().await?;
    types::delete(&scope, &mut tx, st.now(), &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The town's departments (documents are filed under one, or town-wide).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/departments", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<Department>), (status = 404, body = Problem)))]
async fn records_departments(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<Department>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(visibility::departments(&scope, &mut c).await?))
}

/// The town's records settings (the upload size limit).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/settings", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = RecordsSettings), (status = 404, body = Problem)))]
async fn records_settings(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<RecordsSettings>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(ingest::settings(&scope, &mut c).await?))
}

/// Sets the town's upload size limit (administer; 1 byte to 4 GiB); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/records/settings", tag = "records",
    params(("town" = String, Path, description = TOWN)), request_body = RecordsSettings,
    responses((status = 200, body = RecordsSettings), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn records_set_settings(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiJson(req): ApiJson<RecordsSettings>,
) -> ApiResult<axum::Json<RecordsSettings>> {
    let mut tx = st.db.begin().await?;
    let s = ingest::set_settings(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok(axum::Json(s))
}

/// The records users limited to some departments of the town (administer).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/department-limits", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<DepartmentLimit>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn records_limits(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<DepartmentLimit>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(visibility::limits(&scope, &mut c).await?))
}

/// Limits a user to some departments of the town, or lifts the limit with an empty list (administer); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/records/department-limits", tag = "records",
    params(("town" = String, Path, description = TOWN)), request_body = DepartmentLimitIn,
    responses((status = 200, body = DepartmentLimit), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn records_set_limit(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiJson(req): ApiJson<DepartmentLimitIn>,
) -> ApiResult<axum::Json<DepartmentLimit>> {
    let mut tx = st.db.begin().await?;
    let l = visibility::set_limit(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok(axum::Json(l))
}

/// Cleans up the town's uploads abandoned more than 24 hours ago (administer; the hourly `records.sweep` job does it too); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/sweep", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = SweepReport), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn records_sweep(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<SweepReport>> {
    Ok(axum::Json(
        ingest::sweep(&scope, &st.db, &st.blobs, st.now(), None).await?,
    ))
}
