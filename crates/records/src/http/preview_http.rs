//! Page images of a version (`crate::preview`): a thumbnail and the pages of the preview, as PNG.
//! The document page and the list show them with `<img>`; the session's cookie carries access.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use munishare_platform::Error;
use munishare_web::AppState;
use munishare_web::auth::ServiceCaller;
use munishare_web::error::{ApiResult, Problem};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Records;
use super::api::version_number;
use crate::preview::{self, Size};

const TOWN: &str = "The town's slug, e.g. `hartford`.";
const DOC: &str = "The document's id.";
const VERSION: &str = "The version's number (1 is the first).";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(records_thumbnail))
        .routes(routes!(records_page_image))
}

fn png(bytes: bytes::Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // A version's pages never change; access is checked on every request.
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        bytes,
    )
        .into_response()
}

/// The first page of a PDF, scan or image, 200 pixels on its long side (PNG); 404 for a version
/// without page images (text, DOCX, ODT, or a scan whose text is not read yet).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents/{document}/versions/{version}/thumbnail", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC),
        ("version" = String, Path, description = VERSION)),
    responses((status = 200, description = "The thumbnail", content_type = "image/png"), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
async fn records_thumbnail(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id, version)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let n = version_number(&version)?;
    let bytes = preview::page_png(&scope, &st.db, &st.blobs, &id, n, 1, Size::Thumbnail).await?;
    Ok(png(bytes))
}

/// A page of a PDF, scan or image for the preview, 1,200 pixels on its long side (PNG); 404 for
/// a page past the end or a version without page images.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents/{document}/versions/{version}/pages/{page}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC),
        ("version" = String, Path, description = VERSION), ("page" = String, Path, description = "The page, from 1")),
    responses((status = 200, description = "The page", content_type = "image/png"), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
async fn records_page_image(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id, version, page)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let n = version_number(&version)?;
    let page: i64 = page
        .trim()
        .parse()
        .map_err(|_| Error::NotFound { what: "page" })?;
    let bytes = preview::page_png(&scope, &st.db, &st.blobs, &id, n, page, Size::Page).await?;
    Ok(png(bytes))
}
