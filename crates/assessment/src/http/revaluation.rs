//! Each town's revaluation cycle over HTTP (CGS 12-62(b);
//! docs/design/0009-field-work.md): the town's setting and status (read by
//! anyone with assessment view, set by someone with approve), and the
//! regional view across exactly the towns where the caller holds assessment
//! access — a table and a timeline.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, State};
use munishare_platform::access::{self, Principal};
use munishare_platform::types::{Permission, Service};
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::ApiJson;
use munishare_web::auth::{ApiCaller, PageUser, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, render, table_response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roll::Assessment;
use crate::revaluation::{self, Cycle, CycleIn, CycleStatus};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_revaluation_cycle, api_set_revaluation_cycle))
        .routes(routes!(api_revaluation_cycles))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/assessment/revaluation", page_regional)
        .post("/t/{town}/assessment/field/revaluation-cycle", page_set)
}

/// The town's revaluation cycle and where it stands today (current, due this year, overdue or not recorded).
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/revaluation-cycle", tag = "assessment",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = CycleStatus), (status = 404, body = munishare_web::error::Problem)))]
async fn api_revaluation_cycle(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
) -> ApiResult<axum::Json<CycleStatus>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        revaluation::status(&scope, &mut c, st.today()).await?,
    ))
}

/// Records the town's revaluation cycle (approve in assessment): the last revaluation's grand-list year and the next (default and latest: five years later, CGS 12-62(b)); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/assessment/revaluation-cycle", tag = "assessment",
    params(("town" = String, Path, description = TOWN)), request_body = CycleIn,
    responses((status = 200, body = Cycle), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_set_revaluation_cycle(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiJson(req): ApiJson<CycleIn>,
) -> ApiResult<axum::Json<Cycle>> {
    let mut tx = st.db.begin().await?;
    let c = revaluation::set(&scope, &mut tx, st.now(), st.today(), &req).await?;
    tx.commit().await?;
    Ok(axum::Json(c))
}

async fn regional(st: &AppState, principal: &Principal) -> Result<Vec<CycleStatus>> {
    let scopes = access::service_scopes(
        &st.db,
        principal,
        st.today(),
        Service::Assessment,
        Permission::View,
    )
    .await?;
    let mut c = st.db.read().await?;
    revaluation::regional(&scopes, &mut c, st.today()).await
}

/// Every town where the caller has assessment access (and no other): its revaluation cycle and where it stands today, by town name.
#[utoipa::path(get, path = "/api/v1/assessment/revaluation-cycles", tag = "assessment",
    responses((status = 200, body = Vec<CycleStatus>), (status = 401, body = munishare_web::error::Problem)))]
async fn api_revaluation_cycles(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
) -> ApiResult<axum::Json<Vec<CycleStatus>>> {
    Ok(axum::Json(regional(&st, &p).await?))
}

/// One town on the timeline: x positions of its last and next revaluation.
struct Lane {
    town: String,
    last: i64,
    next: i64,
    x_last: i64,
    x_next: i64,
    state: String,
}

#[derive(Template)]
#[template(path = "assessment_revaluation.html")]
struct RegionalPage {
    chrome: Chrome,
    rows: Vec<CycleStatus>,
    lanes: Vec<Lane>,
    /// Year ticks: (year, x).
    ticks: Vec<(i64, i64)>,
    /// The grand list in force, its year and x.
    now_year: i64,
    now_x: i64,
}

/// Left edge of the timeline (town names go left of it) and its width, in SVG units.
const LEFT: i64 = 200;
const WIDTH: i64 = 760;

fn timeline(rows: &[CycleStatus]) -> (Vec<Lane>, Vec<(i64, i64)>, i64, i64) {
    let gl = rows.first().map_or(0, |r| r.grand_list_year);
    let recorded: Vec<(&CycleStatus, &Cycle)> = rows
        .iter()
        .filter_map(|r| r.cycle.as_ref().map(|c| (r, c)))
        .collect();
    let lo = recorded
        .iter()
        .map(|(_, c)| c.last_year)
        .chain([gl])
        .min()
        .unwrap_or(gl)
        - 1;
    let hi = recorded
        .iter()
        .map(|(_, c)| c.next_year)
        .chain([gl])
        .max()
        .unwrap_or(gl)
        + 1;
    let span = (hi - lo).max(1);
    let x = |y: i64| LEFT + (y - lo) * WIDTH / span;
    let lanes = recorded
        .iter()
        .map(|(r, c)| Lane {
            town: r.town_name.clone(),
            last: c.last_year,
            next: c.next_year,
            x_last: x(c.last_year),
            x_next: x(c.next_year),
            state: r.state.clone(),
        })
        .collect();
    let ticks = (lo..=hi).map(|y| (y, x(y))).collect();
    (lanes, ticks, gl, x(gl))
}

/// `?format=csv|xlsx`.
#[derive(Debug, Default, Deserialize)]
struct RegionalQuery {
    format: Option<String>,
}

async fn page_regional(
    State(st): State<AppState>,
    user: PageUser,
    axum::extract::Query(q): axum::extract::Query<RegionalQuery>,
) -> PageResult {
    let rows = regional(&st, &user.principal).await?;
    if q.format.is_some() {
        let mut out = vec![
            [
                "town",
                "last_revaluation",
                "next_revaluation",
                "grand_list_in_force",
                "years_since",
                "state",
                "due_list_adopted",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        out.extend(rows.iter().map(|r| {
            vec![
                r.town_name.clone(),
                r.cycle
                    .as_ref()
                    .map_or(String::new(), |c| c.last_year.to_string()),
                r.cycle
                    .as_ref()
                    .map_or(String::new(), |c| c.next_year.to_string()),
                r.grand_list_year.to_string(),
                r.years_since.map_or(String::new(), |y| y.to_string()),
                r.label().to_owned(),
                if r.due_list_adopted { "yes" } else { "no" }.to_owned(),
            ]
        }));
        return table_response(q.format.as_deref(), "revaluation-cycles", out);
    }
    let (lanes, ticks, now_year, now_x) = timeline(&rows);
    let chrome = Chrome::new(&st, &user, "Revaluation cycles — regional view", "").await?;
    render(
        &RegionalPage {
            chrome,
            rows,
            lanes,
            ticks,
            now_year,
            now_x,
        },
        &user,
    )
}

/// A number from a form, refused naming its field when it does not read.
fn year(f: &HashMap<String, String>, k: &str) -> Result<Option<i64>> {
    match f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid(k, format!("'{v}' is not a year"))),
    }
}

async fn page_set(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("/t/{}/assessment/field", scope.town().slug);
    let r = async {
        let last_year = year(&f, "last_year")?
            .ok_or_else(|| Error::invalid("last_year", "give the year of the last revaluation"))?;
        let req = CycleIn {
            last_year,
            next_year: year(&f, "next_year")?,
            version: year(&f, "version")?.unwrap_or(0),
        };
        let mut tx = st.db.begin().await?;
        let c = revaluation::set(&scope, &mut tx, st.now(), st.today(), &req).await?;
        tx.commit().await?;
        Ok(format!(
            "Revaluation cycle of {}: last {}, next {}.",
            scope.town().name,
            c.last_year,
            c.next_year
        ))
    }
    .await;
    after_form(&st, &back, r)
}
