//! Links of a document (`crate::links`): the API, and the document page's forms.

use std::collections::HashMap;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::{ApiResult, Problem};
use munishare_web::pages::{PageResult, PageRoutes, after_form};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Records;
use crate::documents::Document;
use crate::links::{self, Link, LinkIn};

const TOWN: &str = "The town's slug, e.g. `hartford`.";
const DOC: &str = "The document's id.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(records_links, records_add_link))
        .routes(routes!(records_remove_link))
        .routes(routes!(records_linked))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.post(
        "/t/{town}/records/documents/{document}/links",
        page_add_link,
    )
    .post(
        "/t/{town}/records/documents/{document}/links/{link}/remove",
        page_remove_link,
    )
}

/// The document's links: to other documents and other modules' records, and from other
/// documents — those whose other document the caller sees.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/documents/{document}/links", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC)),
    responses((status = 200, body = Vec<Link>), (status = 404, body = Problem)))]
async fn records_links(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<Link>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(links::of_document(&scope, &mut c, &id).await?))
}

/// Links the document to another document of the town or to another module's record (edit); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/documents/{document}/links", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC)),
    request_body = LinkIn,
    responses((status = 201, body = Link), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn records_add_link(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<LinkIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let link = links::add(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(link)).into_response())
}

/// Removes one of the document's links (edit); audited.
#[utoipa::path(delete, path = "/api/v1/towns/{town}/records/documents/{document}/links/{link}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("document" = String, Path, description = DOC),
        ("link" = String, Path, description = "The link's id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn records_remove_link(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id, link)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let mut tx = st.db.begin().await?;
    links::remove(&scope, &mut tx, st.now(), &id, &link).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A record to find the documents of.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkedQuery {
    /// `records.document`, or `{service}.{record}` such as `finance.invoice`.
    pub kind: String,
    /// The record's id in its module.
    pub target: String,
}

/// The documents linked to a record (an invoice, a parcel, a contract, a document), as the caller
/// sees the town: what another module shows beside its record.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/linked", tag = "records",
    params(("town" = String, Path, description = TOWN), LinkedQuery),
    responses((status = 200, body = Vec<Document>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn records_linked(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiQuery(q): ApiQuery<LinkedQuery>,
) -> ApiResult<axum::Json<Vec<Document>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        links::documents_for(&scope, &mut c, &q.kind, &q.target).await?,
    ))
}

async fn page_add_link(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!(
        "/t/{}/records/documents/{id}#records-links",
        scope.town().slug
    );
    let r = async {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let mut tx = st.db.begin().await?;
        let link = links::add(
            &scope,
            &mut tx,
            st.now(),
            &id,
            &LinkIn {
                kind: get("kind"),
                target: get("target"),
                label: f.get("label").cloned(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(format!("Linked to {}.", link.label))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_remove_link(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id, link)): Path<(String, String, String)>,
) -> PageResult {
    let back = format!(
        "/t/{}/records/documents/{id}#records-links",
        scope.town().slug
    );
    let r = async {
        let mut tx = st.db.begin().await?;
        links::remove(&scope, &mut tx, st.now(), &id, &link).await?;
        tx.commit().await?;
        Ok("Link removed.".to_owned())
    }
    .await;
    after_form(&st, &back, r)
}
