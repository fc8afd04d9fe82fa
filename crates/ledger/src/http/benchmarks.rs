//! Regional benchmarks over HTTP: the comparison as a chart and a table
//! (with CSV and XLSX), and the opt-in.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use munishare_platform::types::FiscalYear;
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, render, table_response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Books, Finance, TOWN};
use crate::benchmarks::{self, Benchmarks};
use munishare_platform::tenancy::EntityKind;
use munishare_web::pages::dollars;

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_benchmarks))
        .routes(routes!(api_set_sharing))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/finance/benchmarks", page_benchmarks)
        .post("/t/{town}/finance/benchmarks/sharing", page_set_sharing)
}

/// Which year.
#[derive(Debug, Deserialize, IntoParams)]
pub struct YearQuery {
    /// The fiscal year, named by the year it ends (default: the current one).
    pub fiscal_year: Option<i32>,
    /// `csv` or `xlsx` (pages only).
    #[param(ignore)]
    pub format: Option<String>,
}

fn year(st: &AppState, y: Option<i32>) -> Result<FiscalYear> {
    match y {
        Some(y) => FiscalYear::ending("fiscal_year", y),
        None => Ok(FiscalYear::containing(st.today())),
    }
}

/// Expenditures per capita by UCOA function of the towns that share them (the caller's town must share too).
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/benchmarks", tag = "finance", params(("town" = String, Path, description = TOWN), YearQuery),
    responses((status = 200, body = Benchmarks), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem)))]
async fn api_benchmarks(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<YearQuery>,
) -> ApiResult<axum::Json<Benchmarks>> {
    let fy = year(&st, q.fiscal_year)?;
    let mut c = st.db.read().await?;
    Ok(axum::Json(benchmarks::regional(&scope, &mut c, fy).await?))
}

/// Whether the town shares.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct SharingIn {
    /// Share this town's expenditures per capita by function with the towns that share theirs.
    pub share: bool,
}

/// Opts the town in to (or out of) the regional benchmarks.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/benchmarks/sharing", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = SharingIn,
    responses((status = 200, body = SharingIn), (status = 403, body = munishare_web::error::Problem)))]
async fn api_set_sharing(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<SharingIn>,
) -> ApiResult<axum::Json<SharingIn>> {
    let mut tx = st.db.begin().await?;
    benchmarks::set_sharing(&scope, &mut tx, st.now(), req.share).await?;
    tx.commit().await?;
    Ok(axum::Json(req))
}

/// One bar of the chart.
struct Bar {
    town: String,
    amount: String,
    /// Width in tenths of a percent of the row's largest.
    width: i64,
    mine: bool,
}

/// One function of the chart.
struct ChartRow {
    function: String,
    name: String,
    label: String,
    bars: Vec<Bar>,
}

#[derive(Template)]
#[template(path = "finance_benchmarks.html")]
struct BenchmarksPage {
    chrome: Chrome,
    books: Books,
    town_name: String,
    fiscal_year: i32,
    sharing: bool,
    data: Option<Benchmarks>,
    chart: Vec<ChartRow>,
}

fn chart(data: &Benchmarks, me: &str) -> Vec<ChartRow> {
    data.functions
        .iter()
        .map(|f| {
            let max = f.per_capita_cents.iter().copied().max().unwrap_or(0).max(1);
            ChartRow {
                function: f.function.clone(),
                name: f.name.clone(),
                label: f.label.clone(),
                bars: data
                    .towns
                    .iter()
                    .zip(&f.per_capita_cents)
                    .map(|(t, c)| Bar {
                        town: t.name.clone(),
                        amount: dollars(c),
                        width: (*c).max(0) * 1000 / max,
                        mine: t.slug == me,
                    })
                    .collect(),
            }
        })
        .collect()
}

fn table(data: &Benchmarks) -> Vec<Vec<String>> {
    let mut header = vec![
        "function".to_owned(),
        "name".to_owned(),
        "source".to_owned(),
    ];
    header.extend(data.towns.iter().map(|t| format!("{} per capita", t.name)));
    let mut rows = vec![header];
    for f in &data.functions {
        let mut row = vec![f.function.clone(), f.name.clone(), f.label.clone()];
        row.extend(f.per_capita_cents.iter().map(dollars));
        rows.push(row);
    }
    let mut total = vec!["all".to_owned(), "All functions".to_owned(), String::new()];
    total.extend(data.towns.iter().map(|t| dollars(&t.per_capita_cents)));
    rows.push(total);
    rows
}

async fn page_benchmarks(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<YearQuery>,
) -> PageResult {
    let fy = year(&st, q.fiscal_year)?;
    let mut c = st.db.read().await?;
    let sharing = benchmarks::sharing(&scope, &mut c).await?;
    let data = if sharing {
        Some(benchmarks::regional(&scope, &mut c, fy).await?)
    } else {
        None
    };
    drop(c);
    if let (Some(d), Some(_)) = (&data, &q.format) {
        return table_response(
            q.format.as_deref(),
            &format!("benchmarks-fy{}", fy.end_year()),
            table(d),
        );
    }
    let chart = data
        .as_ref()
        .map(|d| chart(d, scope.town().slug.as_str()))
        .unwrap_or_default();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Regional benchmarks — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &BenchmarksPage {
            chrome,
            books: Books::new(&scope, EntityKind::TownGovernment),
            town_name: scope.town().name.clone(),
            fiscal_year: fy.end_year(),
            sharing,
            data,
            chart,
        },
        &user,
    )
}

async fn page_set_sharing(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path(_town): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let share = match f.get("share").map(String::as_str) {
            Some("yes") => true,
            Some("no") => false,
            _ => return Err(Error::invalid("share", "choose yes or no")),
        };
        let mut tx = st.db.begin().await?;
        benchmarks::set_sharing(&scope, &mut tx, st.now(), share).await?;
        tx.commit().await?;
        Ok(if share {
            format!("{} now shares its expenditures per capita by function with the towns that share theirs.", scope.town().name)
        } else {
            format!("{} no longer shares its benchmarks.", scope.town().name)
        })
    }
    .await;
    after_form(
        &st,
        &format!("/t/{}/finance/benchmarks", scope.town().slug),
        r,
    )
}
