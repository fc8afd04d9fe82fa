//! The grand list over HTTP: take and sign it, read the abstract, set the
//! mill rate, see and print bills (one, or the whole town through the job
//! queue), post the levy to the town's books.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use munishare_platform::access::{self, Principal, ServiceScope};
use munishare_platform::types::{Permission, Service};
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::ApiJson;
use munishare_web::auth::{ApiCaller, PageUser, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, dollars, enc, render, table_response,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roll::Assessment;
use crate::bills;
use crate::grand_list::{self, Abstract, Due, GrandList, LevyIn, LevySummary, RateIn};
use crate::notices::{self, NoticesIn};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_lists, api_take))
        .routes(routes!(api_grand_list))
        .routes(routes!(api_sign))
        .routes(routes!(api_rate))
        .routes(routes!(api_levy))
        .routes(routes!(api_bills))
        .routes(routes!(api_bill))
        .routes(routes!(api_run_bills, api_bill_run))
        .routes(routes!(api_notices))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/assessment/grand-list", page_lists)
        .post("/t/{town}/assessment/grand-list", page_take)
        .get("/t/{town}/assessment/grand-list/{list_year}", page_list)
        .post(
            "/t/{town}/assessment/grand-list/{list_year}/sign",
            page_sign,
        )
        .post(
            "/t/{town}/assessment/grand-list/{list_year}/mill-rate",
            page_rate,
        )
        .post(
            "/t/{town}/assessment/grand-list/{list_year}/levy",
            page_levy,
        )
        .post(
            "/t/{town}/assessment/grand-list/{list_year}/bill-run",
            page_run_bills,
        )
        .get(
            "/t/{town}/assessment/grand-list/{list_year}/bill-run",
            page_bill_run,
        )
        .get(
            "/t/{town}/assessment/grand-list/{list_year}/bill-run/status",
            page_bill_status,
        )
        .get(
            "/t/{town}/assessment/grand-list/{list_year}/bills/{account}",
            page_bill,
        )
        .post(
            "/t/{town}/assessment/grand-list/{list_year}/notices",
            page_notices,
        )
}

pub(super) fn year(s: &str) -> Result<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|y| (1900..=2200).contains(y))
        .ok_or_else(|| Error::invalid("list_year", format!("'{s}' is not a year")))
}

/// The finance scope of the same person in the same town (the levy posts to its books).
pub(super) async fn finance_scope(
    st: &AppState,
    principal: &Principal,
    scope: &ServiceScope,
) -> Result<ServiceScope> {
    access::authorize_service(&st.db, principal, st.today(), scope.town().slug.as_str(), Service::Finance, Permission::Approve)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::Forbidden(format!(
                "Posting the levy needs approve permission in finance in {} (an API token is limited to one service: post it from a signed-in session).",
                scope.town().name
            )),
            other => other,
        })
}

// ---------------------------------------------------------------- API

/// The grand list to take.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TakeIn {
    /// The list year: the grand list of October 1 of it.
    pub list_year: i64,
}

/// The town's grand lists, newest first.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists", tag = "assessment", params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<GrandList>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_lists(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
) -> ApiResult<axum::Json<Vec<GrandList>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(grand_list::list(&scope, &mut c).await?))
}

/// Takes the grand list of October 1 of a year from the roll as it stands (again, while it is a draft).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists", tag = "assessment", params(("town" = String, Path, description = TOWN)), request_body = TakeIn,
    responses((status = 201, body = GrandList), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_take(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiJson(req): ApiJson<TakeIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let gl = grand_list::take(&scope, &mut tx, st.now(), req.list_year).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(gl)).into_response())
}

/// A grand list with its abstract and, once the mill rate is set, the levy the bills add up to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListOut {
    /// The list.
    pub grand_list: GrandList,
    /// Its abstract.
    pub r#abstract: Abstract,
    /// The levy (absent until the mill rate is set).
    pub levy: Option<LevySummary>,
}

async fn list_out(st: &AppState, scope: &ServiceScope, list_year: i64) -> Result<ListOut> {
    let mut c = st.db.read().await?;
    let gl = grand_list::get(scope, &mut c, list_year).await?;
    let r#abstract = grand_list::abstract_report(scope, &mut c, list_year).await?;
    let levy = if gl.mill_rate.is_empty() {
        None
    } else {
        Some(grand_list::levy(scope, &mut c, list_year).await?)
    };
    Ok(ListOut {
        grand_list: gl,
        r#abstract,
        levy,
    })
}

/// One grand list: status, abstract (gross and net by class, exemptions by program), levy.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = ListOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_grand_list(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<ListOut>> {
    Ok(axum::Json(list_out(&st, &scope, year(&list_year)?).await?))
}

/// The assessor signs the grand list (approve permission); it no longer changes.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/sign", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = GrandList), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_sign(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<GrandList>> {
    let mut tx = st.db.begin().await?;
    let gl = grand_list::sign(&scope, &mut tx, st.now(), year(&list_year)?).await?;
    tx.commit().await?;
    Ok(axum::Json(gl))
}

/// Sets the mill rate (from the adopted levy, or as adopted) and the bill settings.
#[utoipa::path(put, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/mill-rate", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")), request_body = RateIn,
    responses((status = 200, body = GrandList), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_rate(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    ApiJson(req): ApiJson<RateIn>,
) -> ApiResult<axum::Json<GrandList>> {
    let mut tx = st.db.begin().await?;
    let gl = grand_list::set_rate(&scope, &mut tx, st.now(), year(&list_year)?, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(gl))
}

/// Posts the levy to the town government's books (needs approve permission in assessment and in finance).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/levy", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")), request_body = LevyIn,
    responses((status = 200, body = GrandList), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_levy(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiCaller(principal): ApiCaller,
    Path((_town, list_year)): Path<(String, String)>,
    ApiJson(req): ApiJson<LevyIn>,
) -> ApiResult<axum::Json<GrandList>> {
    let finance = finance_scope(&st, &principal, &scope).await?;
    let mut tx = st.db.begin().await?;
    let gl =
        grand_list::post_levy(&scope, &finance, &mut tx, st.now(), year(&list_year)?, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(gl))
}

/// One account's bill.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BillOut {
    /// Account.
    pub account: String,
    /// Map-block-lot.
    pub parcel_key: String,
    /// Location.
    pub location: String,
    /// Owner.
    pub owner: String,
    /// Gross assessment, cents.
    pub gross_cents: i64,
    /// Exemptions, cents.
    pub exemptions_cents: i64,
    /// Net assessment, cents.
    pub net_cents: i64,
    /// Tax, cents.
    pub tax_cents: i64,
    /// Installments.
    pub installments: Vec<Due>,
    /// The certificate of correction the bill is adjusted by (empty: as signed).
    pub certificate: String,
}

async fn bill_list(
    st: &AppState,
    scope: &ServiceScope,
    list_year: i64,
) -> Result<(GrandList, Vec<BillOut>)> {
    let mut c = st.db.read().await?;
    let gl = grand_list::get(scope, &mut c, list_year).await?;
    let rates = grand_list::rates(&gl)?;
    let items = grand_list::items(scope, &mut c, list_year, None).await?;
    let bills = items
        .into_iter()
        .map(|i| {
            let tax = rates.tax(&i);
            BillOut {
                installments: grand_list::dues(&gl, &i.property_class, tax),
                account: i.account,
                parcel_key: i.parcel_key,
                location: i.location,
                owner: i.owner,
                gross_cents: i.gross_cents,
                exemptions_cents: i.exemptions_cents,
                net_cents: i.net_cents,
                tax_cents: tax,
                certificate: i.certificate,
            }
        })
        .collect();
    Ok((gl, bills))
}

/// Every account's tax and installments (the mill rate must be set).
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/bills", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = Vec<BillOut>), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_bills(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<BillOut>>> {
    Ok(axum::Json(
        bill_list(&st, &scope, year(&list_year)?).await?.1,
    ))
}

pub(super) fn pdf(name: &str, bytes: Vec<u8>) -> Response {
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// One account's tax bill as a PDF.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/bills/{account}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year"), ("account" = String, Path, description = "Account, e.g. RE-101-02-091")),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_bill(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year, account)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let mut c = st.db.read().await?;
    let bytes = bills::one(&scope, &mut c, year(&list_year)?, &account).await?;
    Ok(pdf(&format!("bill-{account}.pdf"), bytes))
}

/// Notices of assessment of a signed list (CGS 12-55) as one PDF, a page per real-estate account:
/// the assessment on this list and the previous one, how the value was reached with the five most
/// similar sales, and the appeal deadline. At most 500 at a time.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/notices", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")), request_body = NoticesIn,
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = munishare_web::error::Problem),
        (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_notices(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    ApiJson(req): ApiJson<NoticesIn>,
) -> ApiResult<Response> {
    let list_year = year(&list_year)?;
    let mut c = st.db.read().await?;
    let bytes = notices::pdf(&scope, &mut c, list_year, &req).await?;
    Ok(pdf(
        &format!("notices-{}-{list_year}.pdf", scope.town().slug),
        bytes,
    ))
}

/// Queues the bulk bill run: every account's bill in one PDF (through the job queue).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/bill-run", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 202, body = GrandList), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_run_bills(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let gl = bills::enqueue(&scope, &mut tx, st.now(), year(&list_year)?).await?;
    tx.commit().await?;
    st.jobs.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(gl)).into_response())
}

/// The last bulk bill run's PDF.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/bill-run", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_bill_run(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<Response> {
    let list_year = year(&list_year)?;
    let mut c = st.db.read().await?;
    let gl = grand_list::get(&scope, &mut c, list_year).await?;
    drop(c);
    let bytes = bills::stored(&scope, &st.blobs, &gl).await?;
    Ok(pdf(
        &format!("bills-{}-{list_year}.pdf", scope.town().slug),
        bytes.to_vec(),
    ))
}

// ---------------------------------------------------------------- pages

pub(super) fn base(scope: &ServiceScope) -> String {
    format!("/t/{}/assessment", scope.town().slug)
}

#[derive(Template)]
#[template(path = "assessment_grand_lists.html")]
struct ListsPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    lists: Vec<GrandList>,
    latest_year: i32,
}

async fn page_lists(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let lists = grand_list::list(&scope, &mut c).await?;
    drop(c);
    let today = st.today();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Grand lists — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &ListsPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            lists,
            latest_year: crate::demo::valuation_date(today).year(),
        },
        &user,
    )
}

async fn page_take(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let list_year = year(f.get("list_year").map_or("", |s| s.trim()))?;
        let mut tx = st.db.begin().await?;
        let gl = grand_list::take(&scope, &mut tx, st.now(), list_year).await?;
        let totals = grand_list::abstract_report(&scope, &mut tx, list_year)
            .await?
            .total;
        tx.commit().await?;
        Ok(format!(
            "Grand list of October 1, {}: {} accounts, net {}.",
            gl.list_year,
            totals.accounts,
            dollars(&totals.net_cents)
        ))
    }
    .await;
    let back = match f.get("list_year").map(|s| s.trim()) {
        Some(y) if r.is_ok() => format!("{}/grand-list/{y}", base(&scope)),
        _ => format!("{}/grand-list", base(&scope)),
    };
    after_form(&st, &back, r)
}

#[derive(Template)]
#[template(path = "assessment_grand_list.html")]
struct ListPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    can_approve: bool,
    d: ListOut,
    status: BillStatus,
    bills: Vec<BillOut>,
    shown: usize,
    q: String,
    /// (class label, net, bar length of 600).
    bars: Vec<(String, i64, i64)>,
    receivable_guess: String,
    revenue_guess: String,
    corrections: Vec<crate::appeals::Correction>,
    /// The petition deadline of a signed list, for the notices section.
    appeal_deadline: String,
    today: String,
}

impl ListPage {
    fn class_label(&self, class: &str) -> String {
        class_label(class)
    }
}

fn class_label(class: &str) -> String {
    match class {
        "residential" => "Residential".into(),
        "apartment" => "Apartments".into(),
        "commercial" => "Commercial".into(),
        "industrial" => "Industrial".into(),
        "public_utility" => "Public utility".into(),
        "vacant" => "Vacant land".into(),
        "exempt" => "Exempt".into(),
        "use:farm" => "Use assessment — farm (PA 490)".into(),
        "use:forest" => "Use assessment — forest (PA 490)".into(),
        "use:open_space" => "Use assessment — open space (PA 490)".into(),
        "personal" => "Personal property".into(),
        "motor_vehicle" => "Motor vehicles".into(),
        "total" => "Total".into(),
        other => other.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "assessment_bill_status.html")]
struct BillStatus {
    url: String,
    download: String,
    status: String,
    error: String,
    count: i64,
    made_at: String,
    permille: Option<u64>,
}

impl BillStatus {
    fn new(st: &AppState, scope: &ServiceScope, gl: &GrandList) -> Self {
        let b = format!("{}/grand-list/{}", base(scope), gl.list_year);
        Self {
            url: format!("{b}/bill-run/status"),
            download: format!("{b}/bill-run"),
            status: gl.bills_status.clone(),
            error: gl.bills_error.clone(),
            count: gl.bills_count,
            made_at: gl.bills_made_at.clone(),
            permille: st
                .progress
                .get(&bills::progress_key(scope, gl.list_year))
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

/// `?q=` filters the bills, `?format=csv|xlsx&table=bills|abstract` exports.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    format: Option<String>,
    table: Option<String>,
}

async fn page_list(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let list_year = year(&list_year)?;
    let d = list_out(&st, &scope, list_year).await?;
    let all_bills = if d.grand_list.mill_rate.is_empty() {
        Vec::new()
    } else {
        bill_list(&st, &scope, list_year).await?.1
    };
    let text = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let bills: Vec<BillOut> = all_bills
        .into_iter()
        .filter(|b| {
            text.is_empty()
                || [&b.account, &b.location, &b.owner]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&text))
        })
        .collect();
    if q.format.is_some() {
        let stem = format!("grand-list-{}-{list_year}", scope.town().slug);
        if q.table.as_deref() == Some("bills") {
            let mut rows = vec![
                [
                    "account",
                    "parcel_id",
                    "location",
                    "owner",
                    "gross",
                    "exemptions",
                    "net",
                    "tax",
                    "first_installment",
                    "second_installment",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(bills.iter().map(|b| {
                vec![
                    b.account.clone(),
                    b.parcel_key.clone(),
                    b.location.clone(),
                    b.owner.clone(),
                    dollars(&b.gross_cents),
                    dollars(&b.exemptions_cents),
                    dollars(&b.net_cents),
                    dollars(&b.tax_cents),
                    b.installments
                        .first()
                        .map_or(String::new(), |i| dollars(&i.cents)),
                    b.installments
                        .get(1)
                        .map_or(String::new(), |i| dollars(&i.cents)),
                ]
            }));
            return table_response(q.format.as_deref(), &format!("{stem}-bills"), rows);
        }
        let mut rows = vec![
            ["class", "accounts", "gross", "exemptions", "net"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for l in d
            .r#abstract
            .lines
            .iter()
            .chain(std::iter::once(&d.r#abstract.total))
        {
            rows.push(vec![
                class_label(&l.class),
                l.accounts.to_string(),
                dollars(&l.gross_cents),
                dollars(&l.exemptions_cents),
                dollars(&l.net_cents),
            ]);
        }
        return table_response(q.format.as_deref(), &format!("{stem}-abstract"), rows);
    }
    let max = d
        .r#abstract
        .lines
        .iter()
        .map(|l| l.net_cents)
        .max()
        .unwrap_or(1)
        .max(1);
    let bars = d
        .r#abstract
        .lines
        .iter()
        .map(|l| {
            (
                class_label(&l.class),
                l.net_cents,
                (l.net_cents as f64 / max as f64 * 600.0).round() as i64,
            )
        })
        .collect();
    let (receivable_guess, revenue_guess) = levy_accounts_guess(&st, &user, &scope).await?;
    let corrections = {
        let mut c = st.db.read().await?;
        crate::appeals::corrections(&scope, &mut c, list_year).await?
    };
    let shown = bills.len();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Grand list {list_year} — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &ListPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            can_approve: scope.can(Permission::Approve),
            status: BillStatus::new(&st, &scope, &d.grand_list),
            appeal_deadline: crate::appeals::petition_deadline(&d.grand_list)
                .map(munishare_platform::types::format_date)
                .unwrap_or_default(),
            today: munishare_platform::types::format_date(st.today()),
            d,
            bills: bills.into_iter().take(200).collect(),
            shown,
            q: q.q.unwrap_or_default(),
            bars,
            receivable_guess,
            revenue_guess,
            corrections,
        },
        &user,
    )
}

/// A first guess at the levy's accounts from the town's chart: the first
/// asset account named for taxes receivable, the first revenue account named
/// for the current levy (empty without finance access). The user can change them.
pub(super) async fn levy_accounts_guess(
    st: &AppState,
    user: &PageUser,
    scope: &ServiceScope,
) -> Result<(String, String)> {
    Ok({
        let mut c = st.db.read().await?;
        match access::authorize_service(
            &st.db,
            &user.principal,
            st.today(),
            scope.town().slug.as_str(),
            Service::Finance,
            Permission::View,
        )
        .await
        {
            Ok(fin) => {
                let accounts = munishare_ledger::service::accounts(
                    &fin,
                    &mut c,
                    munishare_platform::tenancy::EntityKind::TownGovernment,
                )
                .await
                .unwrap_or_default();
                let find = |class: &str, words: &[&str]| {
                    accounts
                        .iter()
                        .find(|a| {
                            a.class == class
                                && words.iter().all(|w| a.name.to_lowercase().contains(w))
                        })
                        .map(|a| a.account.clone())
                        .unwrap_or_default()
                };
                (
                    find("asset", &["receivable"]),
                    find("revenue", &["property tax"]),
                )
            }
            Err(_) => (String::new(), String::new()),
        }
    })
}

pub(super) fn list_back(scope: &ServiceScope, list_year: &str) -> String {
    format!("{}/grand-list/{}", base(scope), enc(list_year))
}

async fn page_sign(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let gl = grand_list::sign(&scope, &mut tx, st.now(), year(&list_year)?).await?;
        tx.commit().await?;
        Ok(format!("The {} grand list is signed.", gl.list_year))
    }
    .await;
    after_form(&st, &list_back(&scope, &list_year), r)
}

async fn page_rate(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let get = |k: &str| f.get(k).map_or(String::new(), |s| s.trim().to_owned());
    let r = async {
        let places = match get("places").as_str() {
            "" => None,
            p => Some(
                p.parse::<u32>()
                    .map_err(|_| Error::invalid("places", "use 2, 3 or 4"))?,
            ),
        };
        let input = RateIn {
            levy: get("levy"),
            places,
            mill_rate: Some(get("mill_rate")),
            mv_mill_rate: Some(get("mv_mill_rate")),
            installment_threshold: Some(get("installment_threshold")),
            collector_name: get("collector_name"),
            collector_address: f.get("collector_address").cloned().unwrap_or_default(),
            collector_phone: get("collector_phone"),
        };
        let mut tx = st.db.begin().await?;
        let gl = grand_list::set_rate(&scope, &mut tx, st.now(), year(&list_year)?, &input).await?;
        tx.commit().await?;
        Ok(format!(
            "Mill rate {} set for the {} grand list.",
            gl.mill_rate, gl.list_year
        ))
    }
    .await;
    after_form(&st, &list_back(&scope, &list_year), r)
}

async fn page_levy(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let finance = finance_scope(&st, &user.principal, &scope).await?;
        let input = LevyIn {
            receivable_account: f.get("receivable_account").cloned().unwrap_or_default(),
            revenue_account: f.get("revenue_account").cloned().unwrap_or_default(),
        };
        let mut tx = st.db.begin().await?;
        let list_year = year(&list_year)?;
        grand_list::post_levy(&scope, &finance, &mut tx, st.now(), list_year, &input).await?;
        let levy = grand_list::levy(&scope, &mut tx, list_year).await?;
        tx.commit().await?;
        Ok(format!(
            "The {list_year} levy of {} is posted to the town's books.",
            dollars(&levy.billed_cents)
        ))
    }
    .await;
    after_form(&st, &list_back(&scope, &list_year), r)
}

async fn page_run_bills(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let gl = bills::enqueue(&scope, &mut tx, st.now(), year(&list_year)?).await?;
        tx.commit().await?;
        st.jobs.wake();
        Ok(format!("The {} bill run is queued.", gl.list_year))
    }
    .await;
    after_form(&st, &list_back(&scope, &list_year), r)
}

async fn page_bill_run(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> PageResult {
    let list_year = year(&list_year)?;
    let mut c = st.db.read().await?;
    let gl = grand_list::get(&scope, &mut c, list_year).await?;
    drop(c);
    let bytes = bills::stored(&scope, &st.blobs, &gl).await?;
    Ok(pdf(
        &format!("bills-{}-{list_year}.pdf", scope.town().slug),
        bytes.to_vec(),
    ))
}

/// The status fragment the grand-list page polls while a bill run is under way.
async fn page_bill_status(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let gl = grand_list::get(&scope, &mut c, year(&list_year)?).await?;
    drop(c);
    let part = BillStatus::new(&st, &scope, &gl);
    let html = part
        .render()
        .map_err(|e| Error::Internal(format!("template: {e}")))?;
    Ok(axum::response::Html(html).into_response())
}

async fn page_notices(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let accounts: Vec<String> = get("accounts")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    let input = NoticesIn {
        notice_date: get("notice_date"),
        office_name: get("office_name"),
        office_address: get("office_address"),
        office_phone: get("office_phone"),
        accounts: Some(accounts),
        changed_only: get("changed_only") == "on",
    };
    let r = async {
        let list_year = year(&list_year)?;
        let mut c = st.db.read().await?;
        notices::pdf(&scope, &mut c, list_year, &input).await
    }
    .await;
    match r {
        Ok(bytes) => Ok(pdf(
            &format!("notices-{}-{list_year}.pdf", scope.town().slug),
            bytes,
        )),
        Err(e) => after_form(&st, &list_back(&scope, &list_year), Err(e)),
    }
}

async fn page_bill(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year, account)): Path<(String, String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let bytes = bills::one(&scope, &mut c, year(&list_year)?, &account).await?;
    Ok(pdf(&format!("bill-{account}.pdf"), bytes))
}
