//! Recurring entries over HTTP: set one up, draft the months that have come
//! due, stop one.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::Result;
use munishare_platform::types::{Money, format_date, parse_date};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, render};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Books, EntityQuery, Finance, LineIn, TOWN, entity_of, parse_lines, text_lines};
use crate::recurring::{self, NewRecurring, Recurring};
use crate::service::NewLine;

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_list, api_create))
        .routes(routes!(api_draft_due))
        .routes(routes!(api_stop))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/finance/recurring", page_list)
        .post("/t/{town}/finance/recurring", page_create)
        .post("/t/{town}/finance/recurring/draft", page_draft_due)
        .post("/t/{town}/finance/recurring/{recurring}/stop", page_stop)
}

/// A recurring entry to set up.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecurringIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Description of each entry.
    pub description: String,
    /// First date, YYYY-MM-DD (day 1–28); later months fall on the same day.
    pub starts_on: String,
    /// Last date, YYYY-MM-DD, if any.
    pub ends_on: Option<String>,
    /// Lines; they must balance in every fund.
    pub lines: Vec<LineIn>,
}

/// How many drafts were made.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftedOut {
    /// Draft entries made.
    pub drafted: usize,
}

/// The recurring entries of a town's books.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/recurring", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<Recurring>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_list(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<Recurring>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        recurring::list(&scope, &mut c, entity_of(q.entity.as_deref())?).await?,
    ))
}

fn new_recurring(req: RecurringIn) -> Result<NewRecurring> {
    Ok(NewRecurring {
        entity: entity_of(req.entity.as_deref())?,
        description: req.description,
        starts_on: parse_date("starts_on", &req.starts_on)?,
        ends_on: req
            .ends_on
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_date("ends_on", s))
            .transpose()?,
        lines: parse_lines(req.lines)?,
    })
}

/// Sets up a recurring entry (drafted monthly for an approver to post).
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/recurring", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = RecurringIn,
    responses((status = 201, body = Recurring), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<RecurringIn>,
) -> ApiResult<Response> {
    let new = new_recurring(req)?;
    let mut tx = st.db.begin().await?;
    let r = recurring::create(&scope, &mut tx, st.now(), &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(r)).into_response())
}

/// Drafts every month of the books' recurring entries that has come due by today.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/recurring/draft", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = DraftedOut), (status = 422, body = munishare_web::error::Problem)))]
async fn api_draft_due(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<DraftedOut>> {
    let mut tx = st.db.begin().await?;
    let drafted = recurring::draft_due(
        &scope,
        &mut tx,
        st.now(),
        entity_of(q.entity.as_deref())?,
        st.today(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(DraftedOut { drafted }))
}

/// Stops a recurring entry; drafts already made stay.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/recurring/{recurring}/stop", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("recurring" = String, Path, description = "Recurring entry id")),
    responses((status = 204), (status = 404, body = munishare_web::error::Problem)))]
async fn api_stop(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut tx = st.db.begin().await?;
    recurring::stop(&scope, &mut tx, st.now(), &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Template)]
#[template(path = "finance_recurring.html")]
struct RecurringPage {
    chrome: Chrome,
    books: Books,
    items: Vec<Recurring>,
    today: String,
}

async fn page_list(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<EntityQuery>,
) -> PageResult {
    let entity = entity_of(q.entity.as_deref())?;
    let mut c = st.db.read().await?;
    let items = recurring::list(&scope, &mut c, entity).await?;
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Recurring entries — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &RecurringPage {
            chrome,
            books: Books::new(&scope, entity),
            items,
            today: format_date(st.today()),
        },
        &user,
    )
}

async fn page_create(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let get = |k: &str| f.get(k).map_or("", String::as_str);
    let r = async {
        // "account, amount": a positive amount is a debit, a negative one a credit.
        let lines = text_lines("lines", get("lines"))?
            .into_iter()
            .map(|(account, m)| NewLine {
                account,
                debit: Money::from_cents(m.cents().max(0)),
                credit: Money::from_cents((-m.cents()).max(0)),
                memo: String::new(),
            })
            .collect();
        let new = NewRecurring {
            entity,
            description: get("description").to_owned(),
            starts_on: parse_date("starts_on", get("starts_on"))?,
            ends_on: Some(get("ends_on"))
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_date("ends_on", s))
                .transpose()?,
            lines,
        };
        let mut tx = st.db.begin().await?;
        let r = recurring::create(&scope, &mut tx, st.now(), &new).await?;
        tx.commit().await?;
        Ok(format!(
            "{} will be drafted on day {} of each month from {}.",
            r.description, r.day_of_month, r.next_date
        ))
    }
    .await;
    after_form(
        &st,
        &format!(
            "/t/{}/finance/recurring?entity={}",
            scope.town().slug,
            entity.as_str()
        ),
        r,
    )
}

async fn page_draft_due(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let mut tx = st.db.begin().await?;
        let n = recurring::draft_due(&scope, &mut tx, st.now(), entity, st.today()).await?;
        tx.commit().await?;
        Ok(if n == 0 {
            "Nothing is due yet.".to_owned()
        } else {
            format!(
                "{n} draft entr{} made; an approver posts them from the journal.",
                if n == 1 { "y" } else { "ies" }
            )
        })
    }
    .await;
    after_form(
        &st,
        &format!(
            "/t/{}/finance/recurring?entity={}",
            scope.town().slug,
            entity.as_str()
        ),
        r,
    )
}

async fn page_stop(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        recurring::stop(&scope, &mut tx, st.now(), &id).await?;
        tx.commit().await?;
        Ok("The recurring entry is stopped; drafts already made stay.".to_owned())
    }
    .await;
    after_form(
        &st,
        &format!("/t/{}/finance/recurring", scope.town().slug),
        r,
    )
}
