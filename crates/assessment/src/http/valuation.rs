//! Valuation model runs over HTTP: create (queued for the job worker), list,
//! read with status and progress, values, compare, adopt, and each parcel's
//! explanation (docs/design/0008-model-runs.md).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::Error;
use munishare_platform::access::{self, Principal, ServiceScope};
use munishare_platform::types::{Permission, format_date};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ApiCaller, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, dollars, enc, render, table_response,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roll::Assessment;
use crate::cost_schedule::{self, LandRow, ScheduleIn, Stored};
use crate::model_runs::{
    self, Adoption, Comparison, ModelRun, ParcelExplanation, RunIn, RunValue, StratumOut,
};
use crate::valuation::Predictor;

const TOWN: &str = "The town's slug, e.g. `hartford`.";
const RUN: &str = "The model run's id";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_runs, api_create_run))
        .routes(routes!(api_compare))
        .routes(routes!(api_run))
        .routes(routes!(api_values))
        .routes(routes!(api_adopt))
        .routes(routes!(api_explanation))
        .routes(routes!(api_cost_schedule, api_save_cost_schedule))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/assessment/valuation", page_runs)
        .post("/t/{town}/assessment/valuation", page_create)
        .get("/t/{town}/assessment/valuation/compare", page_compare)
        .get("/t/{town}/assessment/valuation/{run}", page_run)
        .get("/t/{town}/assessment/valuation/{run}/status", page_status)
        .post("/t/{town}/assessment/valuation/{run}/adopt", page_adopt)
        .get("/t/{town}/assessment/cost-schedule", page_schedule)
        .post("/t/{town}/assessment/cost-schedule/land", page_save_land)
        .post("/t/{town}/assessment/cost-schedule", page_save_schedule)
}

// ---------------------------------------------------------------- API

/// The town's model runs, newest first.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/model-runs", tag = "assessment", params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<ModelRun>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_runs(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
) -> ApiResult<axum::Json<Vec<ModelRun>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(model_runs::list(&scope, &mut c).await?))
}

/// Creates a model run (regression, cost or comparables) and queues its valuation; 202 with the run `queued`.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/model-runs", tag = "assessment", params(("town" = String, Path, description = TOWN)), request_body = RunIn,
    responses((status = 202, body = ModelRun), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_run(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiCaller(principal): ApiCaller,
    ApiJson(req): ApiJson<RunIn>,
) -> ApiResult<Response> {
    let viewable = viewable(&st, &principal).await?;
    let mut tx = st.db.begin().await?;
    let run = model_runs::create(&scope, &mut tx, st.now(), &req, &viewable).await?;
    tx.commit().await?;
    st.jobs.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(run)).into_response())
}

/// One run with its status (`queued`, `running`, `done`, `failed`), fit and ratio statistics.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/model-runs/{run}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("run" = String, Path, description = RUN)),
    responses((status = 200, body = ModelRun), (status = 404, body = munishare_web::error::Problem)))]
async fn api_run(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, run)): Path<(String, String)>,
) -> ApiResult<axum::Json<ModelRun>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(model_runs::get(&scope, &mut c, &run).await?))
}

/// A page of values.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ValuesQuery {
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<u32>,
    /// Skip this many.
    pub offset: Option<u32>,
}

/// A run's values.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValuesOut {
    /// Parcels valued.
    pub total: i64,
    /// This page, by parcel id.
    pub values: Vec<RunValue>,
}

/// A run's value of each parcel, with the value of record beside it.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/model-runs/{run}/values", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("run" = String, Path, description = RUN), ValuesQuery),
    responses((status = 200, body = ValuesOut), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_values(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, run)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ValuesQuery>,
) -> ApiResult<axum::Json<ValuesOut>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "use 1 to 1,000").into());
    }
    let mut c = st.db.read().await?;
    let (values, total) =
        model_runs::values(&scope, &mut c, &run, limit, q.offset.unwrap_or(0)).await?;
    Ok(axum::Json(ValuesOut { total, values }))
}

/// Which runs to compare.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CompareQuery {
    /// Two to six run ids, comma-separated.
    pub runs: String,
}

/// Two to six finished runs side by side: fit and ratio statistics, and the ratio study by neighbourhood and by class.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/model-runs/compare", tag = "assessment",
    params(("town" = String, Path, description = TOWN), CompareQuery),
    responses((status = 200, body = Comparison), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_compare(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(q): ApiQuery<CompareQuery>,
) -> ApiResult<axum::Json<Comparison>> {
    let ids: Vec<String> = q.runs.split(',').map(|s| s.trim().to_owned()).collect();
    let mut c = st.db.read().await?;
    Ok(axum::Json(model_runs::compare(&scope, &mut c, &ids).await?))
}

/// Adopts a finished run into the roll (approve permission): each parcel it valued takes its land and building; one audit record.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/model-runs/{run}/adopt", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("run" = String, Path, description = RUN)),
    responses((status = 200, body = Adoption), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_adopt(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, run)): Path<(String, String)>,
) -> ApiResult<axum::Json<Adoption>> {
    let mut tx = st.db.begin().await?;
    let a = model_runs::adopt(&scope, &mut tx, st.now(), &run).await?;
    tx.commit().await?;
    Ok(axum::Json(a))
}

/// Which run explains.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ExplainQuery {
    /// A run's id (default: the latest adopted run that valued the parcel).
    pub run: Option<String>,
}

/// How a parcel's value was reached: regression terms × coefficients, the cost breakdown, or the comparables with their adjustments.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}/explanation", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = "Parcel id or map-block-lot"), ExplainQuery),
    responses((status = 200, body = ParcelExplanation), (status = 404, body = munishare_web::error::Problem)))]
async fn api_explanation(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ExplainQuery>,
) -> ApiResult<axum::Json<ParcelExplanation>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        model_runs::explain(&scope, &mut c, &parcel, q.run.as_deref()).await?,
    ))
}

// ---------------------------------------------------------------- pages

fn base(scope: &ServiceScope) -> String {
    format!("/t/{}/assessment", scope.town().slug)
}

/// A number with `places` decimals, or a dash.
pub(super) fn num(x: &Option<f64>, places: usize) -> String {
    x.map_or_else(|| "—".to_owned(), |v| format!("{v:.places$}"))
}

/// The caller's assessment scopes in every town they may view (the towns a
/// pooled regional model may take sales from).
async fn viewable(st: &AppState, principal: &Principal) -> Result<Vec<ServiceScope>, Error> {
    access::service_scopes(
        &st.db,
        principal,
        st.today(),
        munishare_platform::types::Service::Assessment,
        Permission::View,
    )
    .await
}

#[derive(Template)]
#[template(path = "assessment_valuation.html")]
struct RunsPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    runs: Vec<ModelRun>,
    terms: Vec<&'static str>,
    valuation_date: String,
    schedule: String,
    /// The other towns whose sales a pooled regression would take.
    pool_towns: Vec<String>,
}

impl RunsPage {
    fn num(&self, x: &Option<f64>, places: usize) -> String {
        num(x, places)
    }
}

async fn page_runs(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let runs = model_runs::list(&scope, &mut c).await?;
    let schedule = cost_schedule::get(&scope, &mut c).await?;
    drop(c);
    let pool_towns = viewable(&st, &user.principal)
        .await?
        .iter()
        .filter(|s| s.municipality_id() != scope.municipality_id())
        .map(|s| s.town().name.clone())
        .collect();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Valuation — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &RunsPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            runs,
            terms: Predictor::ALL.map(Predictor::name).to_vec(),
            valuation_date: format_date(crate::demo::valuation_date(st.today())),
            schedule: serde_json::to_string_pretty(&schedule.schedule)
                .map_err(|e| Error::Internal(e.to_string()))?,
            pool_towns,
        },
        &user,
    )
}

async fn page_create(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map_or(String::new(), |(_, v)| v.trim().to_owned())
    };
    let r = async {
        let number = |k: &'static str| -> Result<Option<i64>, Error> {
            match get(k).as_str() {
                "" => Ok(None),
                v => v
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| Error::invalid(k, format!("'{v}' is not a whole number"))),
            }
        };
        let approach = get("approach");
        let schedule = match get("schedule").as_str() {
            "" => None,
            text if approach == "cost" => Some(
                serde_json::from_str::<crate::valuation::CostSchedule>(text)
                    .map_err(|e| Error::invalid("schedule", format!("not a cost schedule: {e}")))?,
            ),
            _ => None,
        };
        let terms: Vec<String> = f
            .iter()
            .filter(|(n, _)| n == "terms")
            .map(|(_, v)| v.clone())
            .collect();
        let input = RunIn {
            name: get("name"),
            valuation_date: get("valuation_date"),
            approach,
            terms: Some(terms),
            min_sales_per_level: number("min_sales_per_level")?,
            comparables: number("comparables")?,
            schedule,
            classes: None,
            sales_from: Some(get("sales_from")),
        };
        let viewable = viewable(&st, &user.principal).await?;
        let mut tx = st.db.begin().await?;
        let run = model_runs::create(&scope, &mut tx, st.now(), &input, &viewable).await?;
        tx.commit().await?;
        st.jobs.wake();
        Ok(run)
    }
    .await;
    match r {
        Ok(run) => after_form(
            &st,
            &format!("{}/valuation/{}", base(&scope), run.id),
            Ok(format!("The run {} is queued.", run.name)),
        ),
        Err(e) => after_form(&st, &format!("{}/valuation", base(&scope)), Err(e)),
    }
}

#[derive(Template)]
#[template(path = "assessment_model_run_status.html")]
struct RunStatus {
    url: String,
    status: String,
    error: String,
    permille: Option<u64>,
}

impl RunStatus {
    fn new(st: &AppState, scope: &ServiceScope, run: &ModelRun) -> Self {
        Self {
            url: format!("{}/valuation/{}/status", base(scope), run.id),
            status: run.status.clone(),
            error: run.error.clone(),
            permille: st
                .progress
                .get(&model_runs::progress_key(scope, &run.id))
                .map(|p| p.permille()),
        }
    }
    fn running(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "running")
    }
    fn percent(&self) -> String {
        self.permille
            .map(|p| format!("{}.{}", p / 10, p % 10))
            .unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "assessment_model_run.html")]
struct RunPage {
    chrome: Chrome,
    base: String,
    can_approve: bool,
    run: ModelRun,
    status: RunStatus,
    values: Vec<RunValue>,
    valued: i64,
}

impl RunPage {
    fn num(&self, x: &Option<f64>, places: usize) -> String {
        num(x, places)
    }
}

/// `?format=csv|xlsx` exports every value of the run.
#[derive(Debug, Default, Deserialize)]
struct RunQuery {
    format: Option<String>,
}

async fn page_run(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, run)): Path<(String, String)>,
    Query(q): Query<RunQuery>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let run = model_runs::get(&scope, &mut c, &run).await?;
    if q.format.is_some() {
        let (all, _) = model_runs::values(&scope, &mut c, &run.id, u32::MAX, 0).await?;
        let mut rows = vec![
            [
                "parcel_id",
                "location",
                "neighbourhood",
                "value_of_record",
                "run_value",
                "land",
                "building",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        rows.extend(all.iter().map(|v| {
            vec![
                v.parcel_key.clone(),
                v.location.clone(),
                v.neighbourhood.clone(),
                dollars(&v.record_cents),
                dollars(&v.value_cents),
                dollars(&v.land_cents),
                dollars(&v.building_cents),
            ]
        }));
        let stem = format!("model-run-{}-{}", scope.town().slug, run.valuation_date);
        return table_response(q.format.as_deref(), &stem, rows);
    }
    let (values, valued) = model_runs::values(&scope, &mut c, &run.id, 50, 0).await?;
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Model run {} — {}", run.name, scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &RunPage {
            chrome,
            base: base(&scope),
            can_approve: scope.can(Permission::Approve),
            status: RunStatus::new(&st, &scope, &run),
            run,
            values,
            valued,
        },
        &user,
    )
}

/// The status fragment the run page polls while the run is queued or running.
async fn page_status(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, run)): Path<(String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let run = model_runs::get(&scope, &mut c, &run).await?;
    drop(c);
    let html = RunStatus::new(&st, &scope, &run)
        .render()
        .map_err(|e| Error::Internal(format!("template: {e}")))?;
    Ok(axum::response::Html(html).into_response())
}

async fn page_adopt(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, run)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let a = model_runs::adopt(&scope, &mut tx, st.now(), &run).await?;
        tx.commit().await?;
        Ok(format!(
            "{} adopted: {} parcels revalued, {} → {}.",
            a.run.name,
            a.parcels_changed,
            dollars(&a.before_cents),
            dollars(&a.after_cents)
        ))
    }
    .await;
    after_form(&st, &format!("{}/valuation/{}", base(&scope), enc(&run)), r)
}

/// One bar of the comparison chart.
#[derive(Debug)]
struct Bar {
    label: String,
    value: String,
    x: i64,
    met: bool,
}

#[derive(Template)]
#[template(path = "assessment_model_compare.html")]
struct ComparePage {
    chrome: Chrome,
    base: String,
    c: Comparison,
    /// COD per run.
    bars: Vec<Bar>,
    /// Where COD 15 falls.
    limit_x: i64,
    /// (neighbourhood, bars of each run).
    hood_bars: Vec<(String, Vec<Bar>)>,
}

impl ComparePage {
    fn num(&self, x: &Option<f64>, places: usize) -> String {
        num(x, places)
    }
    fn cell(&self, s: &Option<StratumOut>) -> String {
        match s {
            Some(StratumOut {
                study: Some(r),
                sales,
                ..
            }) => format!(
                "{} · COD {} · {sales} sales",
                num(&r.median_ratio, 3),
                num(&r.cod, 1)
            ),
            Some(s) => format!("{} sales, no study", s.sales),
            None => "—".to_owned(),
        }
    }
}

async fn page_compare(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Query(q): Query<Vec<(String, String)>>,
) -> PageResult {
    let ids: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "runs")
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_owned())
        .collect();
    let mut c = st.db.read().await?;
    let cmp = match model_runs::compare(&scope, &mut c, &ids).await {
        Ok(cmp) => cmp,
        Err(e @ Error::Invalid { .. }) => {
            return after_form(&st, &format!("{}/valuation", base(&scope)), Err(e));
        }
        Err(e) => return Err(e.into()),
    };
    drop(c);
    let cods: Vec<Option<f64>> = cmp
        .runs
        .iter()
        .map(|r| {
            r.results
                .as_ref()
                .and_then(|x| x.ratio.as_ref())
                .and_then(|s| s.cod)
        })
        .collect();
    let hood_cods: Vec<f64> = cmp
        .by_neighbourhood
        .iter()
        .flat_map(|row| row.cells.iter())
        .filter_map(|c| {
            c.as_ref()
                .and_then(|s| s.study.as_ref())
                .and_then(|s| s.cod)
        })
        .collect();
    let max = cods
        .iter()
        .flatten()
        .chain(hood_cods.iter())
        .fold(30.0_f64, |m, c| m.max(*c));
    let bar = |label: String, cod: Option<f64>| Bar {
        label,
        value: num(&cod, 1),
        x: cod.map_or(0, |c| (c / max * 600.0).round() as i64),
        met: cod.is_some_and(|c| (5.0..=15.0).contains(&c)),
    };
    let bars = cmp
        .runs
        .iter()
        .zip(&cods)
        .map(|(r, c)| bar(r.name.clone(), *c))
        .collect();
    let hood_bars = cmp
        .by_neighbourhood
        .iter()
        .map(|row| {
            (
                row.label.clone(),
                cmp.runs
                    .iter()
                    .zip(&row.cells)
                    .map(|(r, c)| {
                        bar(
                            r.name.clone(),
                            c.as_ref()
                                .and_then(|s| s.study.as_ref())
                                .and_then(|s| s.cod),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Model runs compared — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &ComparePage {
            chrome,
            base: base(&scope),
            c: cmp,
            bars,
            limit_x: (15.0 / max * 600.0).round() as i64,
            hood_bars,
        },
        &user,
    )
}

/// The parcel page's explanation section: the latest adopted run's, if any.
pub(super) async fn parcel_explanation(
    st: &AppState,
    scope: &ServiceScope,
    parcel_id: &str,
) -> Result<Option<ParcelExplanation>, Error> {
    let mut c = st.db.read().await?;
    match model_runs::explain(scope, &mut c, parcel_id, None).await {
        Ok(e) => Ok(Some(e)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------- cost schedule

/// The town's cost schedule: base rates, depreciation and land schedules by neighbourhood and zone
/// (the illustrative schedule, `stored` false, until the town saves its own).
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/cost-schedule", tag = "assessment", params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Stored), (status = 404, body = munishare_web::error::Problem)))]
async fn api_cost_schedule(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
) -> ApiResult<axum::Json<Stored>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(cost_schedule::get(&scope, &mut c).await?))
}

/// Replaces the town's cost schedule (approve permission), checked; the version read must match.
#[utoipa::path(put, path = "/api/v1/towns/{town}/assessment/cost-schedule", tag = "assessment", params(("town" = String, Path, description = TOWN)),
    request_body = ScheduleIn,
    responses((status = 200, body = Stored), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem),
        (status = 422, body = munishare_web::error::Problem)))]
async fn api_save_cost_schedule(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiJson(req): ApiJson<ScheduleIn>,
) -> ApiResult<axum::Json<Stored>> {
    let mut tx = st.db.begin().await?;
    let saved = cost_schedule::save(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok(axum::Json(saved))
}

#[derive(Template)]
#[template(path = "assessment_cost_schedule.html")]
struct SchedulePage {
    chrome: Chrome,
    base: String,
    can_approve: bool,
    stored: Stored,
    /// The table's rows, and blank ones to add.
    rows: Vec<LandRow>,
    /// The roll's neighbourhoods without a schedule of their own.
    unscheduled: Vec<String>,
    json: String,
}

async fn page_schedule(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let stored = cost_schedule::get(&scope, &mut c).await?;
    let neighbourhoods = crate::parcels::neighbourhoods(&scope, &mut c).await?;
    drop(c);
    let mut rows = cost_schedule::land_rows(&stored.schedule);
    rows.extend((0..3).map(|_| LandRow {
        kind: "neighbourhood".into(),
        ..LandRow::default()
    }));
    let unscheduled = neighbourhoods
        .into_iter()
        .filter(|n| !stored.schedule.land.contains_key(n))
        .collect();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Cost and land schedule — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &SchedulePage {
            chrome,
            base: base(&scope),
            can_approve: scope.can(Permission::Approve),
            json: serde_json::to_string_pretty(&stored.schedule)
                .map_err(|e| Error::Internal(e.to_string()))?,
            rows,
            unscheduled,
            stored,
        },
        &user,
    )
}

/// The form's value of `key` at each row, in order.
fn column<'a>(f: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    f.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn version_of(f: &[(String, String)]) -> Result<i64, Error> {
    let v = column(f, "version");
    v.first()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .ok_or_else(|| Error::invalid("version", "missing; reload the page"))
}

async fn save_schedule(
    st: &AppState,
    scope: &ServiceScope,
    input: ScheduleIn,
) -> Result<String, Error> {
    let mut tx = st.db.begin().await?;
    let saved = cost_schedule::save(scope, &mut tx, st.now(), &input).await?;
    tx.commit().await?;
    Ok(format!(
        "The cost schedule is saved (version {}): {} neighbourhood and {} zone land schedules.",
        saved.version,
        saved.schedule.land.len(),
        saved.schedule.land_by_zone.len()
    ))
}

async fn page_save_land(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let r = async {
        let version = version_of(&f)?;
        let cols = ["kind", "code", "base_lot_sqft", "site_value", "tiers"].map(|k| column(&f, k));
        let n = cols[0].len();
        if cols.iter().any(|c| c.len() != n) {
            return Err(Error::invalid(
                "land",
                "the table came incomplete; reload the page",
            ));
        }
        let rows: Vec<LandRow> = (0..n)
            .map(|i| LandRow {
                kind: cols[0][i].to_owned(),
                code: cols[1][i].to_owned(),
                base_lot_sqft: cols[2][i].to_owned(),
                site_value: cols[3][i].to_owned(),
                tiers: cols[4][i].to_owned(),
            })
            .collect();
        let mut c = st.db.read().await?;
        let current = cost_schedule::get(&scope, &mut c).await?;
        drop(c);
        let schedule = cost_schedule::with_land_rows(&current.schedule, &rows)?;
        save_schedule(&st, &scope, ScheduleIn { version, schedule }).await
    }
    .await;
    after_form(&st, &format!("{}/cost-schedule", base(&scope)), r)
}

async fn page_save_schedule(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let r = async {
        let version = version_of(&f)?;
        let text = column(&f, "schedule").first().copied().unwrap_or("");
        let schedule = serde_json::from_str(text)
            .map_err(|e| Error::invalid("schedule", format!("not a cost schedule: {e}")))?;
        save_schedule(&st, &scope, ScheduleIn { version, schedule }).await
    }
    .await;
    after_form(&st, &format!("{}/cost-schedule", base(&scope)), r)
}
