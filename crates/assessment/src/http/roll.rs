//! A town's parcel roll and sales over HTTP: imports, the parcel list and
//! record (with hand corrections), the sales with their validation and the
//! analyst's decisions, and the ratio study on the town's own sales.

use std::collections::HashMap;

use askama::Template;
use axum::body::Body;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::ServiceScope;
use munishare_platform::types::{Permission, Service, parse_date};
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServiceKey, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, dollars, enc, redirect_flash, render,
    table_response,
};
use munishare_web::related::{RecordRef, RelatedDocuments, related_documents};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::attachments::{self, Attachment};
use crate::grand_list::{self, ListedItem};
use crate::imports::{self, ImportRecord, Load};
use crate::model_runs::{Explanation, ParcelExplanation};
use crate::opm::Stratum;
use crate::outbuildings::{self, Outbuilding};
use crate::parcels::{self, Filter, Parcel, ParcelData, ParcelDetail};
use crate::sales::{self, Decision, Layout, Sale, StratumBy, TownRatioStudy};

/// The assessment service, for the access-checking extractors.
#[derive(Debug)]
pub struct Assessment;

impl ServiceKey for Assessment {
    const SERVICE: Service = Service::Assessment;
}

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_parcels))
        .routes(routes!(api_parcel, api_update_parcel))
        .routes(routes!(api_import_parcels))
        .routes(routes!(api_import_sales))
        .routes(routes!(api_assessment_imports))
        .routes(routes!(api_sales))
        .routes(routes!(api_decide))
        .routes(routes!(api_ratio_study))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/assessment", page_overview)
        .upload("/t/{town}/assessment/imports", page_import)
        .get("/t/{town}/assessment/parcels", page_parcels)
        .get("/t/{town}/assessment/parcels/{parcel}", page_parcel)
        .post("/t/{town}/assessment/parcels/{parcel}", page_update_parcel)
        .get("/t/{town}/assessment/sales", page_sales)
        .post("/t/{town}/assessment/sales/{sale}/decision", page_decide)
        .get("/t/{town}/assessment/ratio-study", page_ratio_study)
}

// ---------------------------------------------------------------- API

/// A page of the roll.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ParcelsQuery {
    /// Text in the parcel id, location or owner.
    pub q: Option<String>,
    /// Neighbourhood code.
    pub neighbourhood: Option<String>,
    /// Property class.
    pub property_class: Option<String>,
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<u32>,
    /// Skip this many.
    pub offset: Option<u32>,
}

/// Parcels matching a filter.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParcelsOut {
    /// How many match.
    pub total: i64,
    /// This page.
    pub parcels: Vec<Parcel>,
}

/// The town's parcels, by parcel id, filtered.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/parcels", tag = "assessment", params(("town" = String, Path, description = TOWN), ParcelsQuery),
    responses((status = 200, body = ParcelsOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_parcels(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(q): ApiQuery<ParcelsQuery>,
) -> ApiResult<axum::Json<ParcelsOut>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "use 1 to 1,000").into());
    }
    let f = Filter {
        q: q.q,
        neighbourhood: q.neighbourhood,
        property_class: q.property_class,
    };
    let mut c = st.db.read().await?;
    let (parcels, total) =
        parcels::search(&scope, &mut c, &f, limit, q.offset.unwrap_or(0)).await?;
    Ok(axum::Json(ParcelsOut { total, parcels }))
}

/// A parcel in full, with its sales.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParcelOut {
    /// The parcel, owners and exemptions.
    #[serde(flatten)]
    pub detail: ParcelDetail,
    /// Its recorded sales, newest first.
    pub sales: Vec<Sale>,
    /// Its outbuildings and extra features, in the order they were added.
    pub outbuildings: Vec<Outbuilding>,
    /// Its photos and sketches, newest first.
    pub attachments: Vec<Attachment>,
    /// Its accounts on every grand list, newest first, as corrected: its value on any past list.
    pub grand_lists: Vec<ListedItem>,
}

/// One parcel (by id or map-block-lot) with owner history, exemptions, sales, outbuildings and attachments.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = "Parcel id or map-block-lot")),
    responses((status = 200, body = ParcelOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_parcel(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
) -> ApiResult<axum::Json<ParcelOut>> {
    let mut c = st.db.read().await?;
    let detail = parcels::detail(&scope, &mut c, &parcel).await?;
    let sales = sales::of_parcel(&scope, &mut c, &detail.parcel.id).await?;
    let outbuildings = outbuildings::of_parcel(&scope, &mut c, &detail.parcel.id).await?;
    let attachments = attachments::of_parcel(&scope, &mut c, &detail.parcel.id).await?;
    let grand_lists = grand_list::parcel_lists(&scope, &mut c, &detail.parcel.id).await?;
    Ok(axum::Json(ParcelOut {
        detail,
        sales,
        outbuildings,
        attachments,
        grand_lists,
    }))
}

/// A correction to a parcel.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ParcelIn {
    /// The version the editor saw.
    pub version: i64,
    /// The parcel as it should be.
    pub parcel: ParcelData,
}

/// Corrects a parcel (assessor's edit; audited with the fields before and after).
#[utoipa::path(put, path = "/api/v1/towns/{town}/assessment/parcels/{parcel}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("parcel" = String, Path, description = "Parcel id or map-block-lot")),
    request_body = ParcelIn,
    responses((status = 200, body = Parcel), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_update_parcel(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
    ApiJson(req): ApiJson<ParcelIn>,
) -> ApiResult<axum::Json<Parcel>> {
    let mut tx = st.db.begin().await?;
    let p = parcels::update(&scope, &mut tx, st.now(), &parcel, req.version, &req.parcel).await?;
    tx.commit().await?;
    Ok(axum::Json(p))
}

/// The uploaded file's name.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Shown in errors and in the import record.
    pub file_name: String,
    /// Sales only: `opm` (OPM's layout) or `csv` (the generic layout; default).
    pub layout: Option<String>,
}

async fn body_bytes(body: Body) -> std::result::Result<bytes::Bytes, Response> {
    munishare_web::upload::read_body(body).await
}

/// Imports a parcel roll (CSV): new parcels added, changed ones updated and audited; all or nothing.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/parcel-imports", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = ImportRecord), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_import_parcels(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = match body_bytes(body).await {
        Ok(b) => b,
        Err(r) => return Ok(r),
    };
    let rec = imports::run(
        &scope,
        &st.db,
        &st.blobs,
        st.now(),
        Load::Parcels,
        &q.file_name,
        bytes,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(rec)).into_response())
}

/// Imports sales (OPM's layout or the generic CSV); all or nothing; sales already held are skipped; every sale is revalidated.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/sale-imports", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = ImportRecord), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_import_sales(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = match body_bytes(body).await {
        Ok(b) => b,
        Err(r) => return Ok(r),
    };
    let layout = match q.layout.as_deref().unwrap_or("csv") {
        "opm" => Layout::Opm,
        "csv" => Layout::Csv,
        _ => return Err(Error::invalid("layout", "use opm or csv").into()),
    };
    let rec = imports::run(
        &scope,
        &st.db,
        &st.blobs,
        st.now(),
        Load::Sales(layout),
        &q.file_name,
        bytes,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(rec)).into_response())
}

/// The town's imports, newest first.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/imports", tag = "assessment", params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<ImportRecord>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_assessment_imports(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
) -> ApiResult<axum::Json<Vec<ImportRecord>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(imports::list(&scope, &mut c).await?))
}

/// Which sales.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct SalesQuery {
    /// `qualified`, `unqualified`, `flagged` (a rule fails), `decided` (an analyst overrode), or all (default).
    pub status: Option<String>,
    /// From this date (YYYY-MM-DD).
    pub from: Option<String>,
    /// To this date (YYYY-MM-DD).
    pub to: Option<String>,
    /// Text in the parcel id, location, grantor or grantee (pages).
    #[param(ignore)]
    pub q: Option<String>,
    /// `csv` or `xlsx` (pages).
    #[param(ignore)]
    pub format: Option<String>,
}

fn date_opt(field: &str, s: Option<&str>) -> Result<Option<Date>> {
    s.filter(|s| !s.trim().is_empty())
        .map(|s| parse_date(field, s))
        .transpose()
}

fn filter_sales(list: Vec<Sale>, q: &SalesQuery) -> Result<Vec<Sale>> {
    let from = date_opt("from", q.from.as_deref())?;
    let to = date_opt("to", q.to.as_deref())?;
    let status = q.status.as_deref().unwrap_or("").trim();
    if !["", "all", "qualified", "unqualified", "flagged", "decided"].contains(&status) {
        return Err(Error::invalid(
            "status",
            "use qualified, unqualified, flagged, decided or all",
        ));
    }
    let text = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    Ok(list
        .into_iter()
        .filter(|s| match status {
            "qualified" => s.qualified,
            "unqualified" => !s.qualified,
            "flagged" => !s.flags.is_empty(),
            "decided" => !s.decision.is_empty(),
            _ => true,
        })
        .filter(|s| {
            let d = parse_date("sale_date", &s.sale_date).ok();
            from.is_none_or(|f| d.is_some_and(|d| d >= f))
                && to.is_none_or(|t| d.is_some_and(|d| d <= t))
        })
        .filter(|s| {
            text.is_empty()
                || [&s.parcel_key, &s.location, &s.grantor, &s.grantee]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&text))
        })
        .collect())
}

/// The town's sales, newest first, with their flags, decisions and whether they qualify.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/sales", tag = "assessment", params(("town" = String, Path, description = TOWN), SalesQuery),
    responses((status = 200, body = Vec<Sale>), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_sales(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(q): ApiQuery<SalesQuery>,
) -> ApiResult<axum::Json<Vec<Sale>>> {
    let mut c = st.db.read().await?;
    let list = sales::all(&scope, &mut c).await?;
    Ok(axum::Json(filter_sales(list, &q)?))
}

/// An analyst's decision.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DecisionIn {
    /// `qualified`, `unqualified`, or `rules` to let the rules decide again.
    pub decision: Decision,
    /// Why (10 to 1,000 characters); kept with the decision and in the audit log.
    pub note: String,
}

/// Overrides the rules on one sale (or withdraws an override); the note is required.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/sales/{sale}/decision", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("sale" = String, Path, description = "Sale id")), request_body = DecisionIn,
    responses((status = 200, body = Sale), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_decide(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, sale)): Path<(String, String)>,
    ApiJson(req): ApiJson<DecisionIn>,
) -> ApiResult<axum::Json<Sale>> {
    let mut tx = st.db.begin().await?;
    let s = sales::decide(&scope, &mut tx, st.now(), &sale, req.decision, &req.note).await?;
    tx.commit().await?;
    Ok(axum::Json(s))
}

/// Which study.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct StudyQuery {
    /// Stratify by `neighbourhood` (default), `property_class`, `style` or `value_range`.
    pub by: Option<String>,
    /// Sales from this date (YYYY-MM-DD).
    pub from: Option<String>,
    /// Sales to this date (YYYY-MM-DD).
    pub to: Option<String>,
    /// `csv` or `xlsx` (pages).
    #[param(ignore)]
    pub format: Option<String>,
}

async fn study(
    st: &AppState,
    scope: &ServiceScope,
    q: &StudyQuery,
) -> Result<(StratumBy, TownRatioStudy)> {
    let by = StratumBy::parse(
        "by",
        q.by.as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("neighbourhood"),
    )?;
    let from = date_opt("from", q.from.as_deref())?;
    let to = date_opt("to", q.to.as_deref())?;
    let mut c = st.db.read().await?;
    Ok((by, sales::ratio_study(scope, &mut c, from, to, by).await?))
}

/// The ratio study of the town's qualified sales against current assessments, overall and by stratum, with the IAAO verdicts.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/ratio-study", tag = "assessment", params(("town" = String, Path, description = TOWN), StudyQuery),
    responses((status = 200, body = TownRatioStudy), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_ratio_study(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(q): ApiQuery<StudyQuery>,
) -> ApiResult<axum::Json<TownRatioStudy>> {
    Ok(axum::Json(study(&st, &scope, &q).await?.1))
}

// ---------------------------------------------------------------- pages

fn base(scope: &ServiceScope) -> String {
    format!("/t/{}/assessment", scope.town().slug)
}

#[derive(Template)]
#[template(path = "assessment_overview.html")]
struct OverviewPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    parcels: i64,
    sales: usize,
    qualified: usize,
    flagged: usize,
    imports: Vec<ImportRecord>,
    reval: crate::revaluation::CycleStatus,
}

async fn page_overview(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let (_, parcels) = parcels::search(&scope, &mut c, &Filter::default(), 1, 0).await?;
    let sales = sales::all(&scope, &mut c).await?;
    let imports = imports::list(&scope, &mut c).await?;
    let reval = crate::revaluation::status(&scope, &mut c, st.today()).await?;
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Assessment — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &OverviewPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            parcels,
            qualified: sales.iter().filter(|s| s.qualified).count(),
            flagged: sales.iter().filter(|s| !s.flags.is_empty()).count(),
            sales: sales.len(),
            imports,
            reval,
        },
        &user,
    )
}

async fn page_import(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    form: Multipart,
) -> PageResult {
    let back = base(&scope);
    let form = munishare_web::upload::read_form(form).await?;
    let kind = form
        .fields
        .get("kind")
        .map_or("", String::as_str)
        .to_owned();
    let Some((name, bytes)) = form.file else {
        return Ok(redirect_flash(
            &st,
            &back,
            "error",
            "file: choose the file to import",
        ));
    };
    let load = match kind.as_str() {
        "parcels" | "sales-opm" | "sales-csv" => Load::parse(&kind, None)?,
        _ => {
            return Ok(redirect_flash(
                &st,
                &back,
                "error",
                "kind: choose what the file holds",
            ));
        }
    };
    Ok(
        match imports::run(&scope, &st.db, &st.blobs, st.now(), load, &name, bytes).await {
            Ok(r) => redirect_flash(
                &st,
                &back,
                "ok",
                &format!(
                    "{}: {} rows read, {} added, {} changed.",
                    r.file_name, r.rows, r.added, r.changed
                ),
            ),
            Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
                redirect_flash(&st, &back, "error", &format!("Nothing was imported. {e}"))
            }
            Err(e) => return Err(e.into()),
        },
    )
}

#[derive(Template)]
#[template(path = "assessment_parcels.html")]
struct ParcelsPage {
    chrome: Chrome,
    base: String,
    parcels: Vec<Parcel>,
    total: i64,
    page: u32,
    pages: u32,
    q: String,
    neighbourhood: String,
    property_class: String,
    neighbourhoods: Vec<String>,
    classes: &'static [&'static str],
    query: String,
}

/// `?q=&neighbourhood=&property_class=&page=&format=`.
#[derive(Debug, Default, Deserialize)]
struct ParcelsPageQuery {
    q: Option<String>,
    neighbourhood: Option<String>,
    property_class: Option<String>,
    page: Option<u32>,
    format: Option<String>,
}

const PAGE: u32 = 50;

fn parcel_row(p: &Parcel) -> Vec<String> {
    vec![
        p.parcel_key.clone(),
        p.location.clone(),
        p.neighbourhood.clone(),
        p.property_class.clone(),
        p.style.clone(),
        p.year_built.to_string(),
        p.living_sqft.to_string(),
        p.land_sqft.to_string(),
        dollars(&p.appraised_cents()),
        dollars(&p.assessed_cents()),
        p.owner.clone(),
    ]
}

async fn page_parcels(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Query(q): Query<ParcelsPageQuery>,
) -> PageResult {
    let f = Filter {
        q: q.q.clone(),
        neighbourhood: q.neighbourhood.clone(),
        property_class: q.property_class.clone(),
    };
    let mut c = st.db.read().await?;
    if q.format.is_some() {
        let (all, _) = parcels::search(&scope, &mut c, &f, u32::MAX, 0).await?;
        let mut rows = vec![
            [
                "parcel_id",
                "location",
                "neighbourhood",
                "class",
                "style",
                "year_built",
                "living_sqft",
                "land_sqft",
                "appraised",
                "assessed",
                "owner",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        rows.extend(all.iter().map(parcel_row));
        return table_response(
            q.format.as_deref(),
            &format!("parcels-{}", scope.town().slug),
            rows,
        );
    }
    let page = q.page.unwrap_or(1).max(1);
    let (list, total) =
        parcels::search(&scope, &mut c, &f, PAGE, (page - 1).saturating_mul(PAGE)).await?;
    let neighbourhoods = parcels::neighbourhoods(&scope, &mut c).await?;
    drop(c);
    let pages = u32::try_from(total.max(1))
        .unwrap_or(u32::MAX)
        .div_ceil(PAGE);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Parcels — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &ParcelsPage {
            chrome,
            base: base(&scope),
            parcels: list,
            total,
            page,
            pages,
            query: format!(
                "q={}&neighbourhood={}&property_class={}",
                enc(q.q.as_deref().unwrap_or("")),
                enc(q.neighbourhood.as_deref().unwrap_or("")),
                enc(q.property_class.as_deref().unwrap_or(""))
            ),
            q: q.q.unwrap_or_default(),
            neighbourhood: q.neighbourhood.unwrap_or_default(),
            property_class: q.property_class.unwrap_or_default(),
            neighbourhoods,
            classes: &parcels::CLASSES,
        },
        &user,
    )
}

/// A number as the templates pass it: by value or through references.
trait Real {
    fn real(&self) -> f64;
}

impl Real for f64 {
    fn real(&self) -> f64 {
        *self
    }
}

impl<T: Real> Real for &T {
    fn real(&self) -> f64 {
        (**self).real()
    }
}

#[derive(Template)]
#[template(path = "assessment_parcel.html")]
struct ParcelPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    d: ParcelDetail,
    sales: Vec<Sale>,
    inspections: Vec<crate::field::Inspection>,
    classes: &'static [&'static str],
    grades: &'static [&'static str],
    pa490: &'static [&'static str],
    /// How the latest adopted model run reached this parcel's value.
    explanation: Option<ParcelExplanation>,
    outbuildings: Vec<Outbuilding>,
    /// The outbuildings' values in all, cents.
    outbuildings_cents: i64,
    attachments: Vec<Attachment>,
    /// Deeds, permits and letters attached to the parcel in Records, when the user reads records.
    related: Option<RelatedDocuments>,
    lists: Vec<ListedItem>,
    outbuilding_kinds: &'static [(&'static str, &'static str)],
    units: &'static [(&'static str, &'static str)],
}

impl ParcelPage {
    fn grade(&self, g: &i64) -> &'static str {
        parcels::grade_name(*g)
    }
    fn kind_name<'a>(&self, code: &'a str) -> &'a str {
        outbuildings::kind_name(code)
    }
    fn unit_name<'a>(&self, code: &'a str) -> &'a str {
        outbuildings::unit_name(code)
    }
    fn photos(&self) -> Vec<&Attachment> {
        self.attachments
            .iter()
            .filter(|a| a.is_image() && a.kind == "photo")
            .collect()
    }
    fn documents(&self) -> Vec<&Attachment> {
        self.attachments
            .iter()
            .filter(|a| !(a.is_image() && a.kind == "photo"))
            .collect()
    }
    /// A number with `places` decimals and thousands separators in the whole part.
    fn fixed(&self, x: impl Real, places: usize) -> String {
        let x = &x.real();
        let s = format!("{:.places$}", x.abs());
        let (whole, frac) = s.split_once('.').map_or((s.as_str(), ""), |(w, f)| (w, f));
        let mut out = String::new();
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        let sign = if *x < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
            "−"
        } else {
            ""
        };
        if frac.is_empty() {
            format!("{sign}{out}")
        } else {
            format!("{sign}{out}.{frac}")
        }
    }
}

async fn page_parcel(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let d = parcels::detail(&scope, &mut c, &parcel).await?;
    let sales = sales::of_parcel(&scope, &mut c, &d.parcel.id).await?;
    let inspections = crate::field::of_parcel(&scope, &mut c, &d.parcel.id).await?;
    let outbuildings = outbuildings::of_parcel(&scope, &mut c, &d.parcel.id).await?;
    let attachments = attachments::of_parcel(&scope, &mut c, &d.parcel.id).await?;
    let lists = grand_list::parcel_lists(&scope, &mut c, &d.parcel.id).await?;
    drop(c);
    let explanation = super::valuation::parcel_explanation(&st, &scope, &d.parcel.id).await?;
    let back = format!("{}/parcels/{}", base(&scope), enc(&d.parcel.parcel_key));
    let label = format!("Parcel {}, {}", d.parcel.parcel_key, d.parcel.location);
    let related = related_documents(
        &st,
        &user,
        scope.town().slug.as_str(),
        RecordRef {
            kind: "assessment.parcel",
            target: &d.parcel.id,
            label: &label,
            back: &back,
        },
    )
    .await?;
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Parcel {} — {}", d.parcel.parcel_key, scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &ParcelPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            d,
            sales,
            inspections,
            classes: &parcels::CLASSES,
            grades: &parcels::GRADES,
            pa490: &parcels::PA490,
            explanation,
            outbuildings_cents: outbuildings.iter().map(|o| o.value_cents).sum(),
            outbuildings,
            attachments,
            related,
            lists,
            outbuilding_kinds: &outbuildings::KINDS,
            units: &outbuildings::UNITS,
        },
        &user,
    )
}

fn form_data(f: &HashMap<String, String>) -> Result<(i64, ParcelData)> {
    let get = |k: &str| f.get(k).map_or("", |s| s.trim());
    let int = |k: &'static str| -> Result<i64> {
        let v = get(k).replace(',', "");
        if v.is_empty() {
            return Ok(0);
        }
        v.parse()
            .map_err(|_| Error::invalid(k, format!("'{}' is not a whole number", get(k))))
    };
    let money = |k: &'static str| -> Result<i64> {
        if get(k).is_empty() {
            return Ok(0);
        }
        Ok(munishare_platform::types::Money::parse(k, get(k))?.cents())
    };
    Ok((
        int("version")?,
        ParcelData {
            parcel_key: get("parcel_key").to_owned(),
            location: get("location").to_owned(),
            neighbourhood: get("neighbourhood").to_owned(),
            zoning: get("zoning").to_owned(),
            property_class: get("property_class").to_owned(),
            land_use: get("land_use").to_owned(),
            land_sqft: int("land_sqft")?,
            pa490: get("pa490").to_owned(),
            pa490_use_cents: money("pa490_use_value")?,
            style: get("style").to_owned(),
            year_built: int("year_built")?,
            living_sqft: int("living_sqft")?,
            rooms: int("rooms")?,
            bedrooms: int("bedrooms")?,
            full_baths: int("full_baths")?,
            half_baths: int("half_baths")?,
            quality: int("quality")?,
            condition: int("condition")?,
            garage_spaces: int("garage_spaces")?,
            land_cents: money("land_value")?,
            building_cents: money("building_value")?,
            owner: get("owner").to_owned(),
            mailing_address: get("mailing_address").to_owned(),
        },
    ))
}

async fn page_update_parcel(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, parcel)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let (version, data) = form_data(&f)?;
        let mut tx = st.db.begin().await?;
        let p = parcels::update(&scope, &mut tx, st.now(), &parcel, version, &data).await?;
        tx.commit().await?;
        Ok(format!(
            "Parcel {} saved (version {}).",
            p.parcel_key, p.version
        ))
    }
    .await;
    after_form(
        &st,
        &format!("{}/parcels/{}", base(&scope), enc(&parcel)),
        r,
    )
}

#[derive(Template)]
#[template(path = "assessment_sales.html")]
struct SalesPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    sales: Vec<Sale>,
    shown: usize,
    q: SalesQuery,
    query: String,
}

impl SalesPage {
    fn status(&self) -> &str {
        self.q.status.as_deref().unwrap_or("")
    }
}

fn sale_row(s: &Sale) -> Vec<String> {
    vec![
        s.sale_date.clone(),
        s.parcel_key.clone(),
        s.location.clone(),
        s.neighbourhood.clone(),
        dollars(&s.price_cents),
        s.grantor.clone(),
        s.grantee.clone(),
        s.deed_type.clone(),
        s.non_use_code.clone(),
        s.flags.clone(),
        s.decision.clone(),
        s.decision_note.clone(),
        if s.qualified { "yes" } else { "no" }.to_owned(),
    ]
}

async fn page_sales(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Query(q): Query<SalesQuery>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let list = filter_sales(sales::all(&scope, &mut c).await?, &q)?;
    drop(c);
    if q.format.is_some() {
        let mut rows = vec![
            [
                "date",
                "parcel_id",
                "location",
                "neighbourhood",
                "price",
                "grantor",
                "grantee",
                "deed_type",
                "non_use_code",
                "flags",
                "decision",
                "note",
                "qualified",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        rows.extend(list.iter().map(sale_row));
        return table_response(
            q.format.as_deref(),
            &format!("sales-{}", scope.town().slug),
            rows,
        );
    }
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Sales — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    let shown = list.len();
    render(
        &SalesPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            query: format!(
                "status={}&from={}&to={}&q={}",
                enc(q.status.as_deref().unwrap_or("")),
                enc(q.from.as_deref().unwrap_or("")),
                enc(q.to.as_deref().unwrap_or("")),
                enc(q.q.as_deref().unwrap_or(""))
            ),
            sales: list.into_iter().take(500).collect(),
            shown,
            q,
        },
        &user,
    )
}

async fn page_decide(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, sale)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let get = |k: &str| f.get(k).map_or("", String::as_str);
    let r = async {
        let decision = Decision::parse("decision", get("decision"))?;
        let mut tx = st.db.begin().await?;
        let s = sales::decide(&scope, &mut tx, st.now(), &sale, decision, get("note")).await?;
        tx.commit().await?;
        Ok(format!(
            "Sale of {} on {}: {}.",
            s.parcel_key,
            s.sale_date,
            if s.qualified {
                "qualified"
            } else {
                "not qualified"
            }
        ))
    }
    .await;
    let back = get("back");
    let back = if back.starts_with('?') { back } else { "" };
    after_form(&st, &format!("{}/sales{back}", base(&scope)), r)
}

#[derive(Template)]
#[template(path = "assessment_ratio_study.html")]
struct StudyPage {
    chrome: Chrome,
    base: String,
    by: &'static str,
    from: String,
    to: String,
    s: TownRatioStudy,
    /// COD bars per stratum: (label, value text, length of 600, met).
    bars: Vec<(String, String, i64, bool)>,
    cod_limit_x: i64,
}

impl StudyPage {
    fn strata(&self) -> &[Stratum] {
        &self.s.strata
    }
}

async fn page_ratio_study(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Query(q): Query<StudyQuery>,
) -> PageResult {
    let (by, s) = study(&st, &scope, &q).await?;
    let by_key = match by {
        StratumBy::Neighbourhood => "neighbourhood",
        StratumBy::PropertyClass => "property_class",
        StratumBy::Style => "style",
        StratumBy::ValueRange => "value_range",
    };
    if q.format.is_some() {
        let mut rows = vec![
            [
                "stratum",
                "sales",
                "median_ratio",
                "level",
                "cod",
                "prd",
                "prb",
                "mki",
                "level_ok",
                "cod_ok",
                "prd_ok",
                "prb_ok",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        let overall = Stratum {
            label: "All".into(),
            sales: s.overall.as_ref().map_or(0, |o| o.n as i64),
            study: s.overall.clone(),
        };
        for st in std::iter::once(&overall).chain(s.strata.iter()) {
            let mut r = vec![st.label.clone(), st.sales.to_string()];
            match &st.study {
                Some(o) => {
                    r.extend(
                        [o.median_ratio, o.level, o.cod, o.prd, o.prb, o.mki]
                            .map(|x| x.to_string()),
                    );
                    r.extend(["level", "cod", "prd", "prb"].map(|k| o.met[k].to_string()));
                }
                None => r.extend(std::iter::repeat_n(String::new(), 10)),
            }
            rows.push(r);
        }
        return table_response(
            q.format.as_deref(),
            &format!("ratio-study-{}-{by_key}", scope.town().slug),
            rows,
        );
    }
    let cod_max = s
        .strata
        .iter()
        .filter_map(|x| x.study.as_ref().map(|o| o.cod))
        .fold(30.0_f64, f64::max);
    let bars = s
        .strata
        .iter()
        .filter_map(|x| {
            x.study.as_ref().map(|o| {
                (
                    x.label.clone(),
                    format!("{:.1}", o.cod),
                    (o.cod / cod_max * 600.0).round() as i64,
                    o.met["cod"],
                )
            })
        })
        .collect();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Ratio study — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &StudyPage {
            chrome,
            base: base(&scope),
            by: by_key,
            from: q.from.unwrap_or_default(),
            to: q.to.unwrap_or_default(),
            s,
            bars,
            cod_limit_x: (15.0 / cod_max * 600.0).round() as i64,
        },
        &user,
    )
}
