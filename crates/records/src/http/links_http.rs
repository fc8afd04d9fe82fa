//! Links of a document (`crate::links`): the API; the document page's forms; the picker that
//! finds a document to attach to a record or another document; and the "Documents in Records"
//! section other modules' pages show (`munishare_web::related`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::{self, Principal, ServiceScope};
use munishare_platform::types::{Permission, Service};
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::{ApiResult, Problem};
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, render};
use munishare_web::related::{
    RecordRef, RelatedDocument, RelatedDocuments, RelatedSource, local_back,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Records;
use super::search_api::indexes;
use crate::documents::{self, Document, DocumentQuery};
use crate::links::{self, DOCUMENT, Link, LinkIn};
use crate::search::{self, SearchQuery};

const TOWN: &str = "The town's slug, e.g. `hartford`.";
const DOC: &str = "The document's id.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(records_links, records_add_link))
        .routes(routes!(records_remove_link))
        .routes(routes!(records_linked))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/records/attach", page_attach)
        .post(
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
    let back = back_or_document(&scope, f.get("back"), &id);
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
        Ok(if link.kind == DOCUMENT {
            format!("Linked to {}.", link.label)
        } else {
            format!("Attached to {}.", link.label)
        })
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_remove_link(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id, link)): Path<(String, String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = back_or_document(&scope, f.get("back"), &id);
    let r = async {
        let mut tx = st.db.begin().await?;
        links::remove(&scope, &mut tx, st.now(), &id, &link).await?;
        tx.commit().await?;
        Ok("Link removed.".to_owned())
    }
    .await;
    after_form(&st, &back, r)
}

/// Where a link form sends the user: the page it came from when that is a page of the town
/// (a parcel, an entry), else the document's links.
fn back_or_document(scope: &ServiceScope, back: Option<&String>, id: &str) -> String {
    let town = scope.town().slug.as_str();
    local_back(town, back.map(String::as_str))
        .unwrap_or_else(|| format!("/t/{town}/records/documents/{id}#records-links"))
}

/// The picker: find a document to attach to a record (`kind`, `target`, `label`) and come back.
#[derive(Template)]
#[template(path = "records_attach.html")]
struct AttachView {
    chrome: Chrome,
    base: String,
    kind: String,
    target: String,
    label: String,
    back: String,
    q: String,
    /// The documents found (or the latest filed, before any words), with a snippet.
    found: Vec<(Document, String)>,
    /// Why nothing could be searched (an index still catching up, bad words).
    error: Option<String>,
    /// The documents already attached (not offered again).
    attached: Vec<String>,
}

/// How many documents the picker offers.
const PICK: u32 = 15;

async fn page_attach(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Records>,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    crate::require(&scope, Permission::Edit)?;
    let get = |k: &str| p.get(k).map_or("", |v| v.trim()).to_owned();
    let (kind, target, q) = (get("kind"), get("target"), get("q"));
    if target.is_empty() {
        return Err(Error::invalid("target", "say which record to attach a document to").into());
    }
    let mut c = st.db.read().await?;
    // What is attached already: to a document, a link either way.
    let attached: Vec<String> = if kind == DOCUMENT {
        links::of_document(&scope, &mut c, &target)
            .await?
            .into_iter()
            .map(|l| {
                if l.document_id == target {
                    l.target
                } else {
                    l.document_id
                }
            })
            .collect()
    } else {
        links::attached_to(&scope, &mut c, &kind, &target)
            .await?
            .into_iter()
            .map(|(l, _)| l.document_id)
            .collect()
    };
    // A document's own page: its title is the label, and it cannot be linked to itself.
    let (label, myself) = if kind == DOCUMENT {
        (
            documents::get(&scope, &mut c, &target).await?.title,
            Some(target.clone()),
        )
    } else {
        let label = get("label");
        if label.is_empty() {
            return Err(Error::invalid("label", "give the record a label people can read").into());
        }
        (label, None)
    };
    let back = local_back(
        scope.town().slug.as_str(),
        p.get("back").map(String::as_str),
    )
    .unwrap_or_else(|| format!("{}/search", super::pages::base(&scope)));
    let (found, error) = if q.is_empty() {
        let latest = documents::list(
            &scope,
            &mut c,
            &DocumentQuery {
                per_page: Some(PICK),
                ..DocumentQuery::default()
            },
        )
        .await?;
        (
            latest
                .documents
                .into_iter()
                .map(|d| (d, String::new()))
                .collect(),
            None,
        )
    } else {
        drop(c);
        let asked = SearchQuery {
            q: Some(q.clone()),
            per_page: Some(PICK),
            ..SearchQuery::default()
        };
        match search::search(&scope, &st.db, indexes(&st)?, &asked).await {
            Ok(page) => (
                page.hits
                    .into_iter()
                    .map(|h| (h.document, h.snippet_html))
                    .collect(),
                None,
            ),
            Err(e @ Error::Invalid { .. }) => (Vec::new(), Some(e.to_string())),
            Err(e) => return Err(e.into()),
        }
    };
    let found = found
        .into_iter()
        .filter(|(d, _)| myself.as_deref() != Some(d.id.as_str()))
        .collect();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Attach a document to {label} — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &AttachView {
            chrome,
            base: super::pages::base(&scope),
            attached,
            kind,
            target,
            label,
            back,
            q,
            found,
            error,
        },
        &user,
    )
}

/// The records module's [`RelatedSource`]: a record's documents as the caller sees the town.
#[derive(Debug)]
pub struct RelatedInRecords;

impl RelatedSource for RelatedInRecords {
    fn related<'a>(
        &'a self,
        st: &'a AppState,
        who: &'a Principal,
        csrf: &'a str,
        town: &'a str,
        record: RecordRef<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<Option<RelatedDocuments>>> + Send + 'a>> {
        Box::pin(async move {
            let scope =
                match access::authorize_member(&st.db, who, st.today(), town, Service::Records)
                    .await
                {
                    Ok(scope) => scope,
                    // No records in this town for this user: the page shows no section.
                    Err(Error::Forbidden(_) | Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(e),
                };
            let mut c = st.db.read().await?;
            let attached = links::attached_to(&scope, &mut c, record.kind, record.target).await?;
            let base = super::pages::base(&scope);
            let can_edit = scope.can(Permission::Edit);
            Ok(Some(RelatedDocuments {
                documents: attached
                    .into_iter()
                    .map(|(l, d)| RelatedDocument {
                        href: format!("{base}/documents/{}", d.id),
                        detach: can_edit
                            .then(|| format!("{base}/documents/{}/links/{}/remove", d.id, l.id)),
                        title: d.title,
                        type_name: d.type_name,
                        date: d.document_date,
                    })
                    .collect(),
                attach: can_edit.then(|| format!("{base}/attach")),
                kind: record.kind.to_owned(),
                target: record.target.to_owned(),
                label: record.label.to_owned(),
                back: record.back.to_owned(),
                csrf: csrf.to_owned(),
            }))
        })
    }
}
