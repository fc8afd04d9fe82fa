//! The assessment module's routes: the regional ratio-study dashboard on
//! OPM's sales (everyone signed in reads it; council administrators import
//! OPM's file) as API and page.

use askama::Template;
use axum::body::Body;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::{Error, access};
use munishare_web::api::ApiQuery;
use munishare_web::auth::{AdminCaller, ApiCaller, PageUser};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, redirect_flash, render, table_response,
};
use munishare_web::{AppState, Module};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::opm::{self, ImportSummary, TownDetail, TownStudy};

mod appeals;
mod declarations;
mod field;
mod grand_list;
mod parcel_record;
mod revaluation;
mod roll;
mod supplemental;
mod valuation;

pub use roll::Assessment;

/// The module, for `munishare::app`.
pub fn module() -> Module {
    Module {
        api: supplemental::api(revaluation::api(valuation::api(field::api(
            declarations::api(appeals::api(grand_list::api(parcel_record::api(
                roll::api(
                    OpenApiRouter::new()
                        .routes(routes!(api_dashboard))
                        .routes(routes!(api_town))
                        .routes(routes!(api_import_opm_sales)),
                ),
            )))),
        )))),
        pages,
    }
}

fn pages(r: PageRoutes) -> PageRoutes {
    supplemental::pages(revaluation::pages(valuation::pages(field::pages(
        declarations::pages(appeals::pages(grand_list::pages(parcel_record::pages(
            roll::pages(
                r.get("/assessment/ratio-studies", page_dashboard)
                    .upload("/assessment/ratio-studies", page_import),
            ),
        )))),
    ))))
}

/// Which studies to show.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DashboardQuery {
    /// Grand-list year (default: the newest in the data).
    pub list_year: Option<i64>,
    /// OPM property type (default Residential).
    pub property_type: Option<String>,
    /// `region` (the member towns, default) or `state` (every town in the data).
    pub towns: Option<String>,
    /// `csv` or `xlsx` to export the table (pages only).
    #[param(ignore)]
    pub format: Option<String>,
    /// One town in detail (pages only; the API has its own route).
    #[param(ignore)]
    pub town: Option<String>,
}

/// Which town's study to show in detail.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TownQuery {
    /// The town, as OPM spells it (case does not matter).
    pub town: String,
    /// Grand-list year (default: the newest in the data).
    pub list_year: Option<i64>,
    /// OPM property type (default Residential).
    pub property_type: Option<String>,
}

async fn detail(
    st: &AppState,
    town: &str,
    list_year: Option<i64>,
    property_type: Option<&str>,
) -> Result<(i64, String, TownDetail), Error> {
    let mut c = st.db.read().await?;
    let year = match list_year {
        Some(y) => y,
        None => opm::list_years(&mut c)
            .await?
            .first()
            .map(|(y, _)| *y)
            .ok_or(Error::NotFound { what: "OPM sales" })?,
    };
    let kind = property_type
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("Residential")
        .to_owned();
    let d = opm::town_detail(&mut c, year, &kind, town)
        .await?
        .ok_or(Error::NotFound {
            what: "OPM sales of that town",
        })?;
    Ok((year, kind, d))
}

/// One town's study in detail: strata by residential type and by price quartile, and each sale studied as (price, ratio).
#[utoipa::path(get, path = "/api/v1/assessment/opm-ratio-studies/town", tag = "assessment", params(TownQuery),
    responses((status = 200, body = TownDetail), (status = 401, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem)))]
async fn api_town(
    State(st): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(q): ApiQuery<TownQuery>,
) -> ApiResult<axum::Json<TownDetail>> {
    let (_, _, d) = detail(&st, &q.town, q.list_year, q.property_type.as_deref()).await?;
    Ok(axum::Json(d))
}

#[derive(Template)]
#[template(path = "assessment_ratio_study_town.html")]
struct TownPage {
    chrome: Chrome,
    year: i64,
    property_type: String,
    d: TownDetail,
    /// (title, table id, strata) for the two strata tables.
    strata: Vec<(&'static str, &'static str, Vec<opm::Stratum>)>,
    /// Scatter points (x, y) in a 1000 × 400 box.
    dots: Vec<(i64, i64)>,
    /// y of the level band's top and bottom (0.90 and 1.10 of 70 %) and of the median ratio.
    band: (i64, i64),
    median_y: Option<i64>,
    /// Axis labels: (x, text) and (y, text).
    x_ticks: Vec<(i64, String)>,
    y_ticks: Vec<(i64, String)>,
}

fn town_page(chrome: Chrome, year: i64, property_type: String, d: TownDetail) -> TownPage {
    let (w, h) = (1000.0, 400.0);
    let prices: Vec<f64> = d.points.iter().map(|p| p[0].max(1.0).log10()).collect();
    let (xmin, xmax) = prices
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let (xmin, xmax) = if xmin.is_finite() && xmax > xmin {
        (xmin.floor(), xmax.ceil())
    } else {
        (4.0, 7.0)
    };
    let median = d.overall.study.as_ref().map(|s| s.median_ratio);
    let ymax = median.map_or(1.5, |m| (m * 3.0).max(1.0));
    let x = |lp: f64| ((lp - xmin) / (xmax - xmin) * w).round() as i64;
    let y = |r: f64| (h - (r.clamp(0.0, ymax) / ymax * h)).round() as i64;
    let dots = d
        .points
        .iter()
        .map(|p| (x(p[0].max(1.0).log10()), y(p[1])))
        .collect();
    let x_ticks = (xmin as i64..=xmax as i64)
        .map(|e| (x(e as f64), format!("${}", fmt_power(e))))
        .collect();
    let steps = 5;
    let y_ticks = (0..=steps)
        .map(|k| {
            let v = ymax * f64::from(k) / f64::from(steps);
            (y(v), format!("{v:.2}"))
        })
        .collect();
    TownPage {
        chrome,
        year,
        property_type,
        band: (y(0.70 * 1.10), y(0.70 * 0.90)),
        median_y: median.map(y),
        dots,
        x_ticks,
        y_ticks,
        strata: vec![
            (
                "By residential type",
                "strata-type",
                d.by_residential_type.clone(),
            ),
            (
                "By quarter of sale price",
                "strata-price",
                d.by_price_quartile.clone(),
            ),
        ],
        d,
    }
}

fn fmt_power(e: i64) -> String {
    match e {
        3 => "1k".into(),
        4 => "10k".into(),
        5 => "100k".into(),
        6 => "1M".into(),
        7 => "10M".into(),
        8 => "100M".into(),
        _ => format!("1e{e}"),
    }
}

/// The dashboard's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardOut {
    /// Grand-list year shown (absent when no OPM sales are imported).
    pub list_year: Option<i64>,
    /// Property type shown.
    pub property_type: String,
    /// Every list year in the data with its sales.
    pub list_years: Vec<(i64, i64)>,
    /// One study per town.
    pub towns: Vec<TownStudy>,
}

async fn load(st: &AppState, q: &DashboardQuery) -> Result<DashboardOut, Error> {
    let mut c = st.db.read().await?;
    let list_years = opm::list_years(&mut c).await?;
    let list_year = q.list_year.or_else(|| list_years.first().map(|(y, _)| *y));
    let property_type = q
        .property_type
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "Residential".into());
    let members_only = match q.towns.as_deref() {
        None | Some("" | "region") => true,
        Some("state") => false,
        Some(other) => {
            return Err(Error::invalid(
                "towns",
                format!("'{other}' is not region or state"),
            ));
        }
    };
    let towns = match list_year {
        Some(y) => opm::dashboard(&mut c, y, &property_type, members_only).await?,
        None => Vec::new(),
    };
    Ok(DashboardOut {
        list_year,
        property_type,
        list_years,
        towns,
    })
}

/// Each town's ratio study (level at Connecticut's 70 %, COD, PRD, PRB, MKI, with pass/fail) on OPM's published sales.
#[utoipa::path(get, path = "/api/v1/assessment/opm-ratio-studies", tag = "assessment", params(DashboardQuery),
    responses((status = 200, body = DashboardOut), (status = 401, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_dashboard(
    State(st): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> ApiResult<axum::Json<DashboardOut>> {
    Ok(axum::Json(load(&st, &q).await?))
}

/// The file's name.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FileQuery {
    /// Shown in errors and in the import record.
    pub file_name: String,
}

/// Imports OPM's real-estate sales CSV (council administrators); all or nothing; the same file twice is refused.
#[utoipa::path(post, path = "/api/v1/assessment/opm-sales", tag = "assessment", params(FileQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = ImportSummary), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_import_opm_sales(
    State(st): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(q): ApiQuery<FileQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = match munishare_web::upload::read_body(body).await {
        Ok(b) => b,
        Err(too_large) => return Ok(too_large),
    };
    let mut tx = st.db.begin().await?;
    let summary = opm::import(&admin, &mut tx, st.now(), &q.file_name, &bytes).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(summary)).into_response())
}

/// One bar of a chart.
#[derive(Debug)]
struct Bar {
    town: String,
    value: String,
    /// Length or position, in chart units of 1000.
    x: i64,
    met: bool,
}

#[derive(Template)]
#[template(path = "assessment_ratio_studies.html")]
struct DashboardPage {
    chrome: Chrome,
    is_admin: bool,
    data: DashboardOut,
    /// The list year shown (0 when none).
    year: i64,
    towns_scope: String,
    types: Vec<(String, i64)>,
    cod_bars: Vec<Bar>,
    /// Where COD 15 falls on the COD chart.
    cod_limit_x: i64,
    level_bars: Vec<Bar>,
    /// Where 0.90, 1.00 and 1.10 fall on the level chart.
    level_marks: [i64; 3],
}

/// Chart x of a level value (0 to 1.5 across 600 units).
fn level_x(level: f64) -> i64 {
    (level.clamp(0.0, 1.5) / 1.5 * 600.0).round() as i64
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

async fn page_dashboard(
    State(st): State<AppState>,
    user: PageUser,
    Query(q): Query<DashboardQuery>,
) -> PageResult {
    if let Some(town) = q.town.as_deref().filter(|t| !t.trim().is_empty()) {
        let (year, kind, d) = detail(&st, town, q.list_year, q.property_type.as_deref()).await?;
        let chrome =
            Chrome::new(&st, &user, &format!("Ratio study — {}", d.overall.town), "").await?;
        return render(&town_page(chrome, year, kind, d), &user);
    }
    let data = load(&st, &q).await?;
    if q.format.is_some() {
        let mut rows = vec![
            [
                "town",
                "sales",
                "qualified",
                "trimmed",
                "studied",
                "reliable",
                "median_ratio",
                "level",
                "level_met",
                "cod",
                "cod_met",
                "prd",
                "prd_met",
                "prb",
                "prb_met",
                "mki",
                "chasing",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for t in &data.towns {
            let mut row = vec![
                t.town.clone(),
                t.sales.to_string(),
                t.qualified.to_string(),
                t.trimmed.to_string(),
            ];
            match &t.study {
                Some(s) => row.extend([
                    s.n.to_string(),
                    yes(s.reliable),
                    s.median_ratio.to_string(),
                    s.level.to_string(),
                    yes(s.met["level"]),
                    s.cod.to_string(),
                    yes(s.met["cod"]),
                    s.prd.to_string(),
                    yes(s.met["prd"]),
                    s.prb.to_string(),
                    yes(s.met["prb"]),
                    s.mki.to_string(),
                    yes(s.chasing),
                ]),
                None => row.extend(std::iter::repeat_n(String::new(), 13)),
            }
            rows.push(row);
        }
        let stem = format!(
            "ratio-studies-{}-{}",
            data.list_year.unwrap_or_default(),
            data.property_type.to_lowercase().replace(' ', "-")
        );
        return table_response(q.format.as_deref(), &stem, rows);
    }
    let types = match data.list_year {
        Some(y) => {
            let mut c = st.db.read().await?;
            opm::property_types(&mut c, y).await?
        }
        None => Vec::new(),
    };
    let studied: Vec<(&TownStudy, &opm::StudyOut)> = data
        .towns
        .iter()
        .filter_map(|t| t.study.as_ref().map(|s| (t, s)))
        .collect();
    let cod_max = studied.iter().map(|(_, s)| s.cod).fold(30.0_f64, f64::max);
    let cod_bars = studied
        .iter()
        .map(|(t, s)| Bar {
            town: t.town.clone(),
            value: format!("{:.1}", s.cod),
            x: (s.cod / cod_max * 600.0).round() as i64,
            met: s.met["cod"],
        })
        .collect();
    let level_bars = studied
        .iter()
        .map(|(t, s)| Bar {
            town: t.town.clone(),
            value: format!("{:.3}", s.level),
            x: level_x(s.level),
            met: s.met["level"],
        })
        .collect();
    let chrome = Chrome::new(&st, &user, "Ratio studies on OPM sales", "").await?;
    render(
        &DashboardPage {
            is_admin: user.principal.is_council_admin(),
            chrome,
            towns_scope: q.towns.clone().unwrap_or_else(|| "region".into()),
            year: data.list_year.unwrap_or_default(),
            data,
            types,
            cod_bars,
            cod_limit_x: (15.0 / cod_max * 600.0).round() as i64,
            level_bars,
            level_marks: [level_x(0.9), level_x(1.0), level_x(1.1)],
        },
        &user,
    )
}

async fn page_import(State(st): State<AppState>, user: PageUser, form: Multipart) -> PageResult {
    let admin = access::authorize_council_admin(&user.principal)?;
    let back = "/assessment/ratio-studies";
    let Some((name, bytes)) = munishare_web::upload::read_form(form).await?.file else {
        return Ok(redirect_flash(
            &st,
            back,
            "error",
            "file: choose OPM's sales file (CSV)",
        ));
    };
    let result = async {
        let mut tx = st.db.begin().await?;
        let s = opm::import(&admin, &mut tx, st.now(), &name, &bytes).await?;
        tx.commit().await?;
        Ok::<_, Error>(s)
    }
    .await;
    Ok(match result {
        Ok(s) => redirect_flash(
            &st,
            back,
            "ok",
            &format!(
                "{}: {} sales read, {} new, {} replaced.",
                s.file_name, s.rows, s.added, s.replaced
            ),
        ),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            redirect_flash(&st, back, "error", &format!("Nothing was imported. {e}"))
        }
        Err(e) => return Err(e.into()),
    })
}
