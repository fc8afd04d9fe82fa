//! The records search API: `/api/v1/towns/{town}/records/search`, saved searches and the
//! rebuild request.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use munishare_platform::Error;
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::ServiceCaller;
use munishare_web::error::{ApiResult, Problem};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Records;
use crate::search::{self, SavedSearch, SavedSearchIn, SearchIndexes, SearchPage, SearchQuery};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(records_search))
        .routes(routes!(records_saved_searches, records_save_search))
        .routes(routes!(records_delete_saved_search))
        .routes(routes!(records_reindex))
}

/// This node's search indexes (`munishare::module_state` puts them in the state).
pub(crate) fn indexes(st: &AppState) -> munishare_platform::Result<&SearchIndexes> {
    st.modules
        .get::<SearchIndexes>()
        .ok_or_else(|| Error::Internal("the records search indexes are not set up".into()))
}

/// Full-text search of the documents the caller may see (access applies inside the search: hits, the total and facet counts never include a document of a department they may not read or a confidential one without the right), with filters, facet counts, highlighted snippets, relevance or date order and pages.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/search", tag = "records",
    params(("town" = String, Path, description = TOWN), SearchQuery),
    responses((status = 200, body = SearchPage), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn records_search(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<axum::Json<SearchPage>> {
    Ok(axum::Json(
        search::search(&scope, &st.db, indexes(&st)?, &q).await?,
    ))
}

/// The caller's saved searches and those shared in the town, by name.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/saved-searches", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<SavedSearch>), (status = 404, body = Problem)))]
async fn records_saved_searches(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<SavedSearch>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(search::saved(&scope, &mut c).await?))
}

/// Saves a search under a name (sharing it with the town needs edit); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/saved-searches", tag = "records",
    params(("town" = String, Path, description = TOWN)), request_body = SavedSearchIn,
    responses((status = 201, body = SavedSearch), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn records_save_search(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiJson(req): ApiJson<SavedSearchIn>,
) -> ApiResult<(StatusCode, axum::Json<SavedSearch>)> {
    let mut tx = st.db.begin().await?;
    let s = search::save(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(s)))
}

/// Deletes one of the caller's saved searches (a shared one of someone else's: administer); audited.
#[utoipa::path(delete, path = "/api/v1/towns/{town}/records/saved-searches/{search}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("search" = String, Path, description = "The saved search's id.")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn records_delete_saved_search(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut tx = st.db.begin().await?;
    search::delete_saved(&scope, &mut tx, st.now(), &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A rebuild request's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reindex {
    /// The town's new index epoch: every node rebuilds its index of the town from the database.
    pub epoch: i64,
}

/// Has every node rebuild its search index of the town from the database (administer); audited. The rebuild runs in the background; searches meanwhile use the old index.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/reindex", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 202, body = Reindex), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn records_reindex(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<(StatusCode, axum::Json<Reindex>)> {
    let mut tx = st.db.begin().await?;
    let epoch = search::request_reindex(&scope, &mut tx, st.now()).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Reindex { epoch })))
}
