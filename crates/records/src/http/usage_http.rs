//! Pages filed, for the shared-services chargeback (`crate::metering`): a town's month on the
//! API, and every town the caller may read records in, on the API and on the page
//! `/records/usage` with a chart and CSV/XLSX export.

use askama::Template;
use axum::extract::{Query, State};
use munishare_platform::Result;
use munishare_platform::access::{self, Principal};
use munishare_platform::metering::YearMonth;
use munishare_platform::types::{Permission, Service};
use munishare_web::AppState;
use munishare_web::api::{ApiQuery, MonthQuery};
use munishare_web::auth::{ApiCaller, PageUser, ServiceCaller};
use munishare_web::error::ApiResult;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, render, table_response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Records;
use crate::metering::{self, PagesUsage};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(records_usage))
        .routes(routes!(records_regional_usage))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/records/usage", page_regional_usage)
}

/// The pages filed in the town in a month, each day's and the scanning bureau's share (view).
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/usage", tag = "records",
    params(("town" = String, Path, description = TOWN), MonthQuery),
    responses((status = 200, body = PagesUsage), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn records_usage(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> ApiResult<axum::Json<PagesUsage>> {
    let month = q.month(&st)?;
    let mut c = st.db.read().await?;
    Ok(axum::Json(metering::usage(&scope, &mut c, month).await?))
}

async fn regional_usage(
    st: &AppState,
    principal: &Principal,
    month: YearMonth,
) -> Result<Vec<PagesUsage>> {
    let scopes = access::service_scopes(
        &st.db,
        principal,
        st.today(),
        Service::Records,
        Permission::View,
    )
    .await?;
    let mut c = st.db.read().await?;
    metering::regional(&scopes, &mut c, month).await
}

/// Every town where the caller may read records (and no other): its pages filed in the month.
#[utoipa::path(get, path = "/api/v1/records/usage", tag = "records", params(MonthQuery),
    responses((status = 200, body = Vec<PagesUsage>), (status = 401, body = munishare_web::error::Problem),
        (status = 422, body = munishare_web::error::Problem)))]
async fn records_regional_usage(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> ApiResult<axum::Json<Vec<PagesUsage>>> {
    let month = q.month(&st)?;
    Ok(axum::Json(regional_usage(&st, &p, month).await?))
}

#[derive(Template)]
#[template(path = "records_usage.html")]
struct UsagePage {
    chrome: Chrome,
    month: String,
    towns: Vec<UsageRow>,
    pages: i64,
    bureau_pages: i64,
}

/// A town's month and its bars' widths in the chart (all pages; the bureau's share).
#[derive(Debug)]
struct UsageRow {
    usage: PagesUsage,
    bar: i64,
    bureau_bar: i64,
}

/// The chart's bar width for the busiest town, in SVG units.
const BAR_W: i64 = 400;

async fn page_regional_usage(
    State(st): State<AppState>,
    user: PageUser,
    Query(q): Query<MonthQuery>,
) -> PageResult {
    let month = q.month(&st)?;
    let towns = regional_usage(&st, &user.principal, month).await?;
    if matches!(q.format.as_deref(), Some("csv" | "xlsx")) {
        let mut rows = vec![
            ["Town", "Month", "Pages filed", "By the scanning bureau"]
                .map(str::to_owned)
                .to_vec(),
        ];
        rows.extend(towns.iter().map(|t| {
            vec![
                t.town_name.clone(),
                t.month.clone(),
                t.pages.to_string(),
                t.bureau_pages.to_string(),
            ]
        }));
        return table_response(q.format.as_deref(), &format!("records-pages-{month}"), rows);
    }
    let max = towns.iter().map(|t| t.pages).max().unwrap_or(0).max(1);
    let pages = towns.iter().map(|t| t.pages).sum();
    let bureau_pages = towns.iter().map(|t| t.bureau_pages).sum();
    let towns = towns
        .into_iter()
        .map(|u| UsageRow {
            bar: u.pages.saturating_mul(BAR_W) / max,
            bureau_bar: u.bureau_pages.saturating_mul(BAR_W) / max,
            usage: u,
        })
        .collect();
    let chrome = Chrome::new(&st, &user, format!("Records pages filed — {month}"), "").await?;
    render(
        &UsagePage {
            chrome,
            month: month.to_string(),
            towns,
            pages,
            bureau_pages,
        },
        &user,
    )
}
