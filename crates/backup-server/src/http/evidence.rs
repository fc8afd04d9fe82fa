//! What the council and the towns show for the service: metered usage (GB-months, per town
//! and across the region, with CSV/XLSX export for the chargeback) and restore-drill evidence
//! (the client reports a drill with its token; the town reads its drills and sets how often it
//! expects one).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::{self, Principal};
use munishare_platform::metering::YearMonth;
use munishare_platform::types::{Permission, Service};
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery, MonthQuery};
use munishare_web::auth::{ApiCaller, PageUser, ServiceCaller, ServicePage};
use munishare_web::error::{ApiError, ApiResult};
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, render, table_response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Backup;
use super::client::BackupClient;
use crate::drills::{self, Drill, DrillReport, RepoDrills};
use crate::metering::{self, Usage};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_report_drill))
        .routes(routes!(api_drills))
        .routes(routes!(api_set_drill_interval))
        .routes(routes!(api_usage))
        .routes(routes!(api_regional_usage))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.post("/t/{town}/backup/drill-interval", page_set_drill_interval)
        .get("/backup/usage", page_regional_usage)
}

/// A repository's drill interval.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DrillIntervalIn {
    /// 1 to 366 days.
    pub drill_interval_days: i64,
}

/// Reports a restore drill (backup token): the packs read, checked against what the server
/// stores, and the files restored; recorded as the town's evidence.
#[utoipa::path(post, path = "/api/v1/backup/repo/drills", tag = "backup", request_body = DrillReport,
    responses((status = 201, body = Drill), (status = 401, body = munishare_web::error::Problem),
        (status = 422, body = munishare_web::error::Problem)))]
async fn api_report_drill(
    State(st): State<AppState>,
    BackupClient(a): BackupClient,
    ApiJson(report): ApiJson<DrillReport>,
) -> Response {
    match drills::record(&a, &st.db, st.now(), report).await {
        Ok(d) => (StatusCode::CREATED, axum::Json(d)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// Each repository's restore drills: state against its interval, how many packs recent passed
/// drills read, and the newest drills.
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/drills", tag = "backup",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<RepoDrills>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_drills(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
) -> ApiResult<axum::Json<Vec<RepoDrills>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(drills::list(&scope, &mut c, st.now()).await?))
}

/// Sets how often the repository should be drilled (administer; default 30 days); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/backup/repos/{repo}/drill-interval", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("repo" = String, Path, description = "The repository's id or name")),
    request_body = DrillIntervalIn,
    responses((status = 204), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_set_drill_interval(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String)>,
    ApiJson(req): ApiJson<DrillIntervalIn>,
) -> ApiResult<StatusCode> {
    let (_, repo) = p;
    drills::set_interval(&scope, &st.db, st.now(), &repo, req.drill_interval_days).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The town's metered backup storage in a month: each day's peak of stored bytes, byte-days and
/// GB-months for the chargeback.
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/usage", tag = "backup",
    params(("town" = String, Path, description = TOWN), MonthQuery),
    responses((status = 200, body = Usage), (status = 404, body = munishare_web::error::Problem),
        (status = 422, body = munishare_web::error::Problem)))]
async fn api_usage(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> ApiResult<axum::Json<Usage>> {
    let month = q.month(&st)?;
    let mut c = st.db.read().await?;
    Ok(axum::Json(metering::usage(&scope, &mut c, month).await?))
}

async fn regional_usage(
    st: &AppState,
    principal: &Principal,
    month: YearMonth,
) -> Result<Vec<Usage>> {
    let scopes = access::service_scopes(
        &st.db,
        principal,
        st.today(),
        Service::Backup,
        Permission::View,
    )
    .await?;
    let mut c = st.db.read().await?;
    metering::regional(&scopes, &mut c, month).await
}

/// Every town where the caller may view backups (and no other): its metered storage in the month.
#[utoipa::path(get, path = "/api/v1/backup/usage", tag = "backup", params(MonthQuery),
    responses((status = 200, body = Vec<Usage>), (status = 401, body = munishare_web::error::Problem),
        (status = 422, body = munishare_web::error::Problem)))]
async fn api_regional_usage(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> ApiResult<axum::Json<Vec<Usage>>> {
    let month = q.month(&st)?;
    Ok(axum::Json(regional_usage(&st, &p, month).await?))
}

// ---------------------------------------------------------------- pages

async fn page_set_drill_interval(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let text = f.get("drill_interval_days").map_or("", |v| v.trim());
        let days: i64 = text.parse().map_err(|_| {
            Error::invalid(
                "drill_interval_days",
                format!("'{text}' is not a whole number of days"),
            )
        })?;
        let repo = f.get("repo").map_or("", |v| v.trim());
        let r = drills::set_interval(&scope, &st.db, st.now(), repo, days).await?;
        Ok(format!(
            "A restore drill of {} is expected every {days} days.",
            r.name
        ))
    }
    .await;
    after_form(&st, &back, r)
}

#[derive(Template)]
#[template(path = "backup_usage.html")]
struct UsagePage {
    chrome: Chrome,
    month: String,
    towns: Vec<UsageRow>,
    total_gb_months: String,
}

/// A town's usage and its bar's width in the chart.
#[derive(Debug)]
struct UsageRow {
    usage: Usage,
    bar: i64,
}

/// The chart's bar width for the largest town, in SVG units.
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
            [
                "Town",
                "Month",
                "Days in month",
                "Days measured",
                "Byte-days",
                "GB-months",
                "Peak bytes",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        rows.extend(towns.iter().map(|t| {
            vec![
                t.town_name.clone(),
                t.month.clone(),
                t.days_in_month.to_string(),
                t.days_measured.to_string(),
                t.byte_days.to_string(),
                t.gb_months.clone(),
                t.peak_bytes.to_string(),
            ]
        }));
        return table_response(q.format.as_deref(), &format!("backup-usage-{month}"), rows);
    }
    let total = munishare_platform::metering::gb_months(
        towns.iter().map(|t| t.byte_days).sum(),
        i64::from(month.days()),
    );
    let max = towns.iter().map(|t| t.byte_days).max().unwrap_or(0).max(1);
    let towns = towns
        .into_iter()
        .map(|u| UsageRow {
            bar: u.byte_days.saturating_mul(BAR_W) / max,
            usage: u,
        })
        .collect();
    let chrome = Chrome::new(&st, &user, format!("Backup usage — {month}"), "").await?;
    render(
        &UsagePage {
            chrome,
            month: month.to_string(),
            total_gb_months: total,
            towns,
        },
        &user,
    )
}
