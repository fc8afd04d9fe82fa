//! Cash receipts over HTTP: record one (a draft entry an approver posts) and
//! list them with the state of their entries.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::types::{Permission, format_date, parse_date};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, render, table_response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AmountLineIn, Books, EntityQuery, Finance, TOWN, amount_lines, entity_of, text_lines};
use crate::receipts::{self, NewReceipt, Receipt};

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_receipts, api_record))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/finance/receipts", page_receipts)
        .post("/t/{town}/finance/receipts", page_record)
}

/// A receipt to record.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReceiptIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Date received, YYYY-MM-DD.
    pub date: String,
    /// Who paid.
    pub payer: String,
    /// What for.
    #[serde(default)]
    pub description: String,
    /// The cash account it is deposited to.
    pub deposit_account: String,
    /// Revenue accounts and amounts.
    pub lines: Vec<AmountLineIn>,
}

/// The receipts of a town's books, newest first.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/receipts", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<Receipt>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_receipts(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<Receipt>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        receipts::receipts(&scope, &mut c, entity_of(q.entity.as_deref())?).await?,
    ))
}

/// Records a cash receipt: a numbered receipt and a draft entry (cash debited, revenues credited) for an approver to post.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/receipts", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = ReceiptIn,
    responses((status = 201, body = Receipt), (status = 403, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_record(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<ReceiptIn>,
) -> ApiResult<Response> {
    let new = NewReceipt {
        entity: entity_of(req.entity.as_deref())?,
        date: parse_date("date", &req.date)?,
        payer: req.payer,
        description: req.description,
        deposit_account: req.deposit_account,
        lines: amount_lines(req.lines)?,
    };
    let mut tx = st.db.begin().await?;
    let r = receipts::record(&scope, &mut tx, st.now(), &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(r)).into_response())
}

#[derive(Template)]
#[template(path = "finance_receipts.html")]
struct ReceiptsPage {
    chrome: Chrome,
    books: Books,
    receipts: Vec<Receipt>,
    cash_accounts: Vec<String>,
    today: String,
}

/// `?entity=`, `?format=csv|xlsx`.
#[derive(Debug, Deserialize)]
struct ReceiptsQuery {
    entity: Option<String>,
    format: Option<String>,
}

async fn page_receipts(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<ReceiptsQuery>,
) -> PageResult {
    let entity = entity_of(q.entity.as_deref())?;
    let mut c = st.db.read().await?;
    let list = receipts::receipts(&scope, &mut c, entity).await?;
    let cash_accounts = crate::service::accounts(&scope, &mut c, entity)
        .await?
        .into_iter()
        .filter(|a| a.active && a.class == "asset")
        .map(|a| a.account)
        .collect();
    drop(c);
    if q.format.is_some() {
        let mut rows = vec![
            ["number", "date", "payer", "description", "total", "entry"]
                .map(str::to_owned)
                .to_vec(),
        ];
        rows.extend(list.iter().map(|r| {
            vec![
                r.number.to_string(),
                r.receipt_date.clone(),
                r.payer.clone(),
                r.description.clone(),
                munishare_web::pages::dollars(&r.total_cents),
                r.entry_status.clone(),
            ]
        }));
        return table_response(
            q.format.as_deref(),
            &format!("receipts-{}", scope.town().slug),
            rows,
        );
    }
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Cash receipts — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &ReceiptsPage {
            chrome,
            books: Books::new(&scope, entity),
            receipts: list,
            cash_accounts,
            today: format_date(st.today()),
        },
        &user,
    )
}

async fn page_record(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let get = |k: &str| f.get(k).map_or("", String::as_str);
    let r = async {
        let new = NewReceipt {
            entity,
            date: parse_date("date", get("date"))?,
            payer: get("payer").to_owned(),
            description: get("description").to_owned(),
            deposit_account: get("deposit_account").to_owned(),
            lines: text_lines("lines", get("lines"))?,
        };
        let mut tx = st.db.begin().await?;
        let r = receipts::record(&scope, &mut tx, st.now(), &new).await?;
        tx.commit().await?;
        Ok(format!(
            "Receipt {} from {} recorded ({}).{}",
            r.number,
            r.payer,
            munishare_web::pages::dollars(&r.total_cents),
            if scope.can(Permission::Approve) {
                " Post its entry from the receipts list."
            } else {
                " An approver posts its entry."
            }
        ))
    }
    .await;
    after_form(
        &st,
        &format!(
            "/t/{}/finance/receipts?entity={}",
            scope.town().slug,
            entity.as_str()
        ),
        r,
    )
}
