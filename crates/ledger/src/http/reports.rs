//! Payables reports over HTTP: vendor activity for a calendar year (1099)
//! and open encumbrances, on one page with CSV and XLSX exports.

use askama::Template;
use axum::extract::{Query, State};
use munishare_web::AppState;
use munishare_web::api::ApiQuery;
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, dollars, render, table_response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Books, EntityQuery, Finance, TOWN, entity_of};
use crate::reports::{self, OpenEncumbrance, VendorActivity};

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_vendor_activity))
        .routes(routes!(api_open_encumbrances))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/finance/reports/payables", page_payables)
}

/// Which calendar year.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CalendarYear {
    /// Calendar year (Form 1099 is by calendar year); default: this year.
    pub year: Option<i32>,
}

/// Each vendor's payments by checks dated in a calendar year, with the 1099 flag.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/reports/vendors", tag = "finance", params(("town" = String, Path, description = TOWN), CalendarYear),
    responses((status = 200, body = Vec<VendorActivity>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_vendor_activity(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<CalendarYear>,
) -> ApiResult<axum::Json<Vec<VendorActivity>>> {
    let mut c = st.db.read().await?;
    let year = q.year.unwrap_or(st.today().year());
    Ok(axum::Json(
        reports::vendor_activity(&scope, &mut c, year).await?,
    ))
}

/// The lines of open purchase orders that still encumber.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/reports/encumbrances", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<OpenEncumbrance>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_open_encumbrances(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<OpenEncumbrance>>> {
    let mut c = st.db.read().await?;
    let entity = entity_of(q.entity.as_deref())?;
    Ok(axum::Json(
        reports::open_encumbrances(&scope, &mut c, entity).await?,
    ))
}

#[derive(Template)]
#[template(path = "finance_payables_reports.html")]
struct PayablesPage {
    chrome: Chrome,
    books: Books,
    year: i32,
    vendors: Vec<VendorActivity>,
    encumbrances: Vec<OpenEncumbrance>,
    open_total: i64,
}

/// `?year=`, `?entity=`, and `?table=vendors|encumbrances&format=csv|xlsx` to export.
#[derive(Debug, Deserialize)]
struct PayablesQuery {
    year: Option<i32>,
    entity: Option<String>,
    table: Option<String>,
    format: Option<String>,
}

async fn page_payables(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<PayablesQuery>,
) -> PageResult {
    let entity = entity_of(q.entity.as_deref())?;
    let year = q.year.unwrap_or(st.today().year());
    let mut c = st.db.read().await?;
    let vendors = reports::vendor_activity(&scope, &mut c, year).await?;
    let encumbrances = reports::open_encumbrances(&scope, &mut c, entity).await?;
    drop(c);
    let town = scope.town().slug.to_string();
    match (q.table.as_deref(), q.format.as_deref()) {
        (Some("vendors"), Some(_)) => {
            let mut rows = vec![
                [
                    "vendor",
                    "1099",
                    "invoices paid",
                    "paid",
                    "approved, unpaid",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(vendors.iter().map(|v| {
                vec![
                    v.name.clone(),
                    if v.is_1099 { "yes" } else { "no" }.to_owned(),
                    v.invoices_paid.to_string(),
                    dollars(&v.paid_cents),
                    dollars(&v.approved_unpaid_cents),
                ]
            }));
            return table_response(q.format.as_deref(), &format!("vendors-{town}-{year}"), rows);
        }
        (Some("encumbrances"), Some(_)) => {
            let mut rows = vec![
                [
                    "PO",
                    "date",
                    "vendor",
                    "description",
                    "account",
                    "ordered",
                    "liquidated",
                    "open",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(encumbrances.iter().map(|e| {
                vec![
                    e.po_number.to_string(),
                    e.po_date.clone(),
                    e.vendor.clone(),
                    e.description.clone(),
                    e.account.clone(),
                    dollars(&e.amount_cents),
                    dollars(&e.liquidated_cents),
                    dollars(&e.open_cents),
                ]
            }));
            return table_response(q.format.as_deref(), &format!("encumbrances-{town}"), rows);
        }
        _ => {}
    }
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Payables reports — {}", scope.town().name),
        &town,
    )
    .await?;
    render(
        &PayablesPage {
            chrome,
            books: Books::new(&scope, entity),
            year,
            open_total: encumbrances.iter().map(|e| e.open_cents).sum(),
            vendors,
            encumbrances,
        },
        &user,
    )
}
