//! Finance over HTTP: the JSON API under `/api/v1/towns/{town}/finance` and
//! the pages under `/t/{town}/finance`. Handlers are thin: authorize the town's
//! finance service, call one ledger service function, render.

mod ach;
mod benchmarks;
mod imports;
mod receipts;
mod recurring;
mod reports;
mod ucoa;

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::ServiceScope;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Service, format_date, parse_date};
use munishare_platform::{Error, Result};
use munishare_web::api::{ApiJson, ApiQuery, parse_entity_kind};
use munishare_web::auth::{ServiceCaller, ServiceKey, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, csv_response, redirect_flash, render,
    table_response,
};
use munishare_web::related::{RecordRef, RelatedDocuments, related_documents};
use munishare_web::{AppState, Module};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::budget::{self, BudgetRow, ChangeKind, Proposal};
use crate::domain::{AccountString, FundType, PeriodStatus};
use crate::service::{
    self, Account, Entry, Fund, Line, NewEntry, NewLine, Period, TrialBalanceRow,
};

/// The finance module's routes.
pub fn module() -> Module {
    Module { api: api(), pages }
}

/// The finance service, for the access-checking extractors.
#[derive(Debug)]
pub struct Finance;

impl ServiceKey for Finance {
    const SERVICE: Service = Service::Finance;
}

pub(crate) fn entity_of(q: Option<&str>) -> Result<EntityKind> {
    match q.filter(|s| !s.is_empty()) {
        None => Ok(EntityKind::TownGovernment),
        Some(s) => parse_entity_kind(s),
    }
}

fn dollars(cents: i64) -> String {
    Money::from_cents(cents).to_decimal().to_string()
}

// ---------------------------------------------------------------- wire types

/// Which books: `town_government` (default) or `board_of_education`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EntityQuery {
    /// `town_government` or `board_of_education`.
    pub entity: Option<String>,
}

/// A fund.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundOut {
    /// Id.
    pub id: String,
    /// 4-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// GASB 34 fund type.
    pub fund_type: String,
}

impl From<Fund> for FundOut {
    fn from(f: Fund) -> Self {
        Self {
            id: f.id,
            code: f.code,
            name: f.name,
            fund_type: f.fund_type,
        }
    }
}

/// A new fund.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FundIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// 4-digit UCOA fund code.
    pub code: String,
    /// Name.
    pub name: String,
    /// general, special_revenue, capital_projects, debt_service, permanent, enterprise, internal_service, fiduciary.
    pub fund_type: String,
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    /// Id.
    pub id: String,
    /// Account string.
    pub account: String,
    /// Name.
    pub name: String,
    /// asset, liability, fund_balance, revenue or expenditure.
    pub class: String,
    /// Fund code.
    pub fund: String,
}

impl From<Account> for AccountOut {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            account: a.account,
            name: a.name,
            class: a.class,
            fund: a.fund_code,
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// FFFF-NN-DDDD-SSSSS-OOOOO-PPP.
    pub account: String,
    /// Name.
    pub name: String,
}

/// A fiscal period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodOut {
    /// Fiscal year (the year it ends).
    pub fiscal_year: i64,
    /// 1–12 (July–June), 13 = adjustments.
    pub period: i64,
    /// First day.
    pub starts_on: String,
    /// Last day.
    pub ends_on: String,
    /// open, closed or locked.
    pub status: String,
}

impl From<Period> for PeriodOut {
    fn from(p: Period) -> Self {
        Self {
            fiscal_year: p.fiscal_year,
            period: p.period,
            starts_on: p.starts_on,
            ends_on: p.ends_on,
            status: p.status,
        }
    }
}

/// Open a fiscal year.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenYearIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// The year in which it ends, e.g. 2027 for July 2026 – June 2027.
    pub fiscal_year: i32,
}

/// Change a period's status.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PeriodStatusIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// open, closed or locked.
    pub status: String,
}

/// A journal line as entered.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LineIn {
    /// Account string.
    pub account: String,
    /// Debit in dollars, e.g. "1250.00" (or empty/0).
    pub debit: Option<String>,
    /// Credit in dollars.
    pub credit: Option<String>,
    /// Memo.
    pub memo: Option<String>,
}

/// A journal entry as entered (saved as a draft).
#[derive(Debug, Deserialize, ToSchema)]
pub struct EntryIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Date, YYYY-MM-DD.
    pub date: String,
    /// Year-end adjustment (period 13; the date must be June 30).
    pub adjustment: Option<bool>,
    /// Description.
    pub description: String,
    /// At least two lines.
    pub lines: Vec<LineIn>,
}

/// A journal line.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineOut {
    /// Position.
    pub line_no: i64,
    /// Account string.
    pub account: String,
    /// Fund code.
    pub fund: String,
    /// Debit, dollars.
    pub debit: String,
    /// Credit, dollars.
    pub credit: String,
    /// Memo.
    pub memo: String,
}

impl From<Line> for LineOut {
    fn from(l: Line) -> Self {
        Self {
            line_no: l.line_no,
            account: l.account,
            fund: l.fund_code,
            debit: dollars(l.debit_cents),
            credit: dollars(l.credit_cents),
            memo: l.memo,
        }
    }
}

/// A journal entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryOut {
    /// Id.
    pub id: String,
    /// Number within the fiscal year.
    pub number: i64,
    /// Fiscal year.
    pub fiscal_year: i64,
    /// Period.
    pub period: i64,
    /// Date.
    pub date: String,
    /// Description.
    pub description: String,
    /// draft or posted.
    pub status: String,
    /// The entry this one reverses.
    pub reverses: Option<String>,
    /// Lines (empty in lists).
    pub lines: Vec<LineOut>,
    /// After posting: accounts this entry took over budget (appropriation control `warn`).
    pub warnings: Vec<String>,
}

impl EntryOut {
    fn new(e: Entry, lines: Vec<Line>) -> Self {
        Self {
            id: e.id,
            number: e.number,
            fiscal_year: e.fiscal_year,
            period: e.period,
            date: e.entry_date,
            description: e.description,
            status: e.status,
            reverses: e.reverses_id,
            lines: lines.into_iter().map(LineOut::from).collect(),
            warnings: Vec::new(),
        }
    }
}

/// Reverse an entry.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReverseIn {
    /// Date of the reversing entry, YYYY-MM-DD.
    pub date: String,
}

/// Trial balance filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TrialBalanceQuery {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Only this fund (4-digit code).
    pub fund: Option<String>,
    /// At the end of this date (default today), YYYY-MM-DD.
    pub as_of: Option<String>,
}

/// A trial balance row.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceRowOut {
    /// Account string.
    pub account: String,
    /// Name.
    pub name: String,
    /// Class.
    pub class: String,
    /// Fund.
    pub fund: String,
    /// Total debits, dollars.
    pub debits: String,
    /// Total credits, dollars.
    pub credits: String,
    /// Debits minus credits, dollars.
    pub balance: String,
}

impl From<&TrialBalanceRow> for TrialBalanceRowOut {
    fn from(r: &TrialBalanceRow) -> Self {
        Self {
            account: r.account.clone(),
            name: r.name.clone(),
            class: r.class.clone(),
            fund: r.fund.clone(),
            debits: dollars(r.debit_cents),
            credits: dollars(r.credit_cents),
            balance: dollars(r.debit_cents - r.credit_cents),
        }
    }
}

/// A trial balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceOut {
    /// The date.
    pub as_of: String,
    /// Rows by account.
    pub rows: Vec<TrialBalanceRowOut>,
    /// Total debits, dollars.
    pub total_debits: String,
    /// Total credits, dollars.
    pub total_credits: String,
}

fn trial_balance_out(as_of: time::Date, rows: &[TrialBalanceRow]) -> TrialBalanceOut {
    let (d, c) = rows.iter().fold((0i64, 0i64), |(d, c), r| {
        (d + r.debit_cents, c + r.credit_cents)
    });
    TrialBalanceOut {
        as_of: format_date(as_of),
        rows: rows.iter().map(TrialBalanceRowOut::from).collect(),
        total_debits: dollars(d),
        total_credits: dollars(c),
    }
}

pub(crate) fn parse_lines(lines: Vec<LineIn>) -> Result<Vec<NewLine>> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let money = |field: &str, v: Option<String>| -> Result<Money> {
                match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                    None => Ok(Money::ZERO),
                    Some(s) => Money::parse(&format!("lines[{}].{field}", i + 1), s),
                }
            };
            Ok(NewLine {
                account: l.account,
                debit: money("debit", l.debit)?,
                credit: money("credit", l.credit)?,
                memo: l.memo.unwrap_or_default(),
            })
        })
        .collect()
}

// ---------------------------------------------------------------- API

/// The sub-modules' routes, then this module's.
fn api() -> OpenApiRouter<AppState> {
    [
        ach::api,
        imports::api,
        ucoa::api,
        benchmarks::api,
        reports::api,
        receipts::api,
        recurring::api,
    ]
    .into_iter()
    .fold(OpenApiRouter::new(), |r, add| add(r))
    .routes(routes!(api_funds, api_create_fund))
    .routes(routes!(api_accounts, api_create_account))
    .routes(routes!(api_periods, api_open_year))
    .routes(routes!(api_period_status))
    .routes(routes!(api_entries, api_create_entry))
    .routes(routes!(api_entry))
    .routes(routes!(api_post_entry))
    .routes(routes!(api_reverse_entry))
    .routes(routes!(api_trial_balance))
    .routes(routes!(api_adopt_budget))
    .routes(routes!(api_budget_vs_actual))
    .routes(routes!(api_budget_changes, api_propose_change))
    .routes(routes!(api_approve_change))
    .routes(routes!(api_reject_change))
    .routes(routes!(api_settings, api_set_settings))
    .routes(routes!(api_close_year))
    .routes(routes!(api_ucoa_filing))
    .routes(routes!(api_account_detail))
    .routes(routes!(api_statements))
    .routes(routes!(api_vendors, api_create_vendor))
    .routes(routes!(api_pos, api_create_po))
    .routes(routes!(api_approve_po))
    .routes(routes!(api_close_po))
    .routes(routes!(api_invoices, api_enter_invoice))
    .routes(routes!(api_approve_invoice))
    .routes(routes!(api_pay))
    .routes(routes!(api_check_register))
    .routes(routes!(api_reopen_year))
}

pub(crate) const TOWN: &str = "Town short name, e.g. hartford";

/// The funds of a town's books.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/funds", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<FundOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_funds(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<FundOut>>> {
    let mut c = st.db.read().await?;
    let funds = service::funds(&scope, &mut c, entity_of(q.entity.as_deref())?).await?;
    Ok(axum::Json(funds.into_iter().map(FundOut::from).collect()))
}

/// Adds a fund (finance administrators).
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/funds", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = FundIn,
    responses((status = 201, body = FundOut), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_fund(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<FundIn>,
) -> ApiResult<Response> {
    let kind = FundType::parse("fund_type", &req.fund_type)?;
    let mut tx = st.db.begin().await?;
    let fund = service::create_fund(
        &scope,
        &mut tx,
        st.now(),
        entity_of(req.entity.as_deref())?,
        &req.code,
        &req.name,
        kind,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(FundOut::from(fund))).into_response())
}

/// The accounts of a town's books.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/accounts", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<AccountOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_accounts(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<AccountOut>>> {
    let mut c = st.db.read().await?;
    let accounts = service::accounts(&scope, &mut c, entity_of(q.entity.as_deref())?).await?;
    Ok(axum::Json(
        accounts.into_iter().map(AccountOut::from).collect(),
    ))
}

/// Adds an account (finance administrators); its fund must exist.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/accounts", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = AccountIn,
    responses((status = 201, body = AccountOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_account(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<AccountIn>,
) -> ApiResult<Response> {
    let account = AccountString::parse("account", &req.account)?;
    let mut tx = st.db.begin().await?;
    let a = service::create_account(
        &scope,
        &mut tx,
        st.now(),
        entity_of(req.entity.as_deref())?,
        &account,
        &req.name,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(AccountOut::from(a))).into_response())
}

/// The fiscal periods of a town's books.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/periods", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<PeriodOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_periods(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<PeriodOut>>> {
    let mut c = st.db.read().await?;
    let periods = service::periods(&scope, &mut c, entity_of(q.entity.as_deref())?).await?;
    Ok(axum::Json(
        periods.into_iter().map(PeriodOut::from).collect(),
    ))
}

/// Opens a fiscal year: periods 1–12 (July–June) and the adjustment period 13.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/periods", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = OpenYearIn,
    responses((status = 201, body = Vec<PeriodOut>), (status = 409, body = munishare_web::error::Problem)))]
async fn api_open_year(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<OpenYearIn>,
) -> ApiResult<Response> {
    let fy = FiscalYear::ending("fiscal_year", req.fiscal_year)?;
    let mut tx = st.db.begin().await?;
    let periods = service::open_fiscal_year(
        &scope,
        &mut tx,
        st.now(),
        entity_of(req.entity.as_deref())?,
        fy,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(periods.into_iter().map(PeriodOut::from).collect::<Vec<_>>()),
    )
        .into_response())
}

/// Closes, reopens or locks a period.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/periods/{fiscal_year}/{period}/status", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("fiscal_year" = i32, Path, description = "Year the fiscal year ends"), ("period" = i64, Path, description = "1–13")),
    request_body = PeriodStatusIn, responses((status = 200, body = PeriodOut), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_period_status(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, fy, period)): Path<(String, String, String)>,
    ApiJson(req): ApiJson<PeriodStatusIn>,
) -> ApiResult<axum::Json<PeriodOut>> {
    let (fy, period) = period_path(&fy, &period)?;
    let to = PeriodStatus::parse("status", &req.status)?;
    let mut tx = st.db.begin().await?;
    let out = service::set_period_status(
        &scope,
        &mut tx,
        st.now(),
        entity_of(req.entity.as_deref())?,
        fy,
        period,
        to,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(out.into()))
}

fn period_path(fy: &str, period: &str) -> Result<(FiscalYear, i64)> {
    let not_found = || Error::NotFound { what: "period" };
    let fy = fy
        .parse::<i32>()
        .ok()
        .and_then(|y| FiscalYear::ending("fiscal_year", y).ok())
        .ok_or_else(not_found)?;
    let period = period
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=13).contains(p))
        .ok_or_else(not_found)?;
    Ok((fy, period))
}

/// The newest journal entries of a town's books.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/entries", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<EntryOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_entries(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<EntryOut>>> {
    let mut c = st.db.read().await?;
    let entries = service::entries(&scope, &mut c, entity_of(q.entity.as_deref())?, 200).await?;
    Ok(axum::Json(
        entries
            .into_iter()
            .map(|e| EntryOut::new(e, Vec::new()))
            .collect(),
    ))
}

/// Saves a draft journal entry (finance clerks and up).
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/entries", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = EntryIn,
    responses((status = 201, body = EntryOut), (status = 403, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_entry(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<EntryIn>,
) -> ApiResult<Response> {
    let new = NewEntry {
        entity: entity_of(req.entity.as_deref())?,
        date: parse_date("date", &req.date)?,
        adjustment: req.adjustment.unwrap_or(false),
        description: req.description,
        lines: parse_lines(req.lines)?,
    };
    let mut tx = st.db.begin().await?;
    let (e, lines) = service::create_draft(&scope, &mut tx, st.now(), &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(EntryOut::new(e, lines))).into_response())
}

/// One journal entry with its lines.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/entries/{entry}", tag = "finance", params(("town" = String, Path, description = TOWN), ("entry" = String, Path, description = "Entry id")),
    responses((status = 200, body = EntryOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_entry(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, entry)): Path<(String, String)>,
) -> ApiResult<axum::Json<EntryOut>> {
    let mut c = st.db.read().await?;
    let (e, lines) = service::entry(&scope, &mut c, &entry).await?;
    Ok(axum::Json(EntryOut::new(e, lines)))
}

/// Posts a draft (finance approvers); every fund must balance and the period be open.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/entries/{entry}/post", tag = "finance", params(("town" = String, Path, description = TOWN), ("entry" = String, Path, description = "Entry id")),
    responses((status = 200, body = EntryOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_post_entry(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, entry)): Path<(String, String)>,
) -> ApiResult<axum::Json<EntryOut>> {
    let mut tx = st.db.begin().await?;
    let posted = service::post_entry(&scope, &mut tx, st.now(), &entry).await?;
    let (_, lines) = service::entry(&scope, &mut tx, &posted.entry.id).await?;
    tx.commit().await?;
    let mut out = EntryOut::new(posted.entry, lines);
    out.warnings = posted.warnings;
    Ok(axum::Json(out))
}

/// Reverses a posted entry with a posted reversing entry on the given date.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/entries/{entry}/reverse", tag = "finance", params(("town" = String, Path, description = TOWN), ("entry" = String, Path, description = "Entry id")),
    request_body = ReverseIn, responses((status = 201, body = EntryOut), (status = 409, body = munishare_web::error::Problem)))]
async fn api_reverse_entry(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, entry)): Path<(String, String)>,
    ApiJson(req): ApiJson<ReverseIn>,
) -> ApiResult<Response> {
    let on = parse_date("date", &req.date)?;
    let mut tx = st.db.begin().await?;
    let e = service::reverse_entry(&scope, &mut tx, st.now(), &entry, on).await?;
    let (_, lines) = service::entry(&scope, &mut tx, &e.id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(EntryOut::new(e, lines))).into_response())
}

/// The trial balance of a town's books at the end of a date.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/trial-balance", tag = "finance", params(("town" = String, Path, description = TOWN), TrialBalanceQuery),
    responses((status = 200, body = TrialBalanceOut), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_trial_balance(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<TrialBalanceQuery>,
) -> ApiResult<axum::Json<TrialBalanceOut>> {
    let (entity, fund, as_of) = tb_params(&st, &q)?;
    let mut c = st.db.read().await?;
    let rows = service::trial_balance(&scope, &mut c, entity, fund.as_deref(), as_of).await?;
    Ok(axum::Json(trial_balance_out(as_of, &rows)))
}

fn tb_params(
    st: &AppState,
    q: &TrialBalanceQuery,
) -> Result<(EntityKind, Option<String>, time::Date)> {
    let entity = entity_of(q.entity.as_deref())?;
    let fund = q
        .fund
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let as_of = match q.as_of.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => st.today(),
        Some(d) => parse_date("as_of", d)?,
    };
    Ok((entity, fund, as_of))
}

// ---------------------------------------------------------------- pages

fn pages(r: PageRoutes) -> PageRoutes {
    [
        ach::pages,
        imports::pages,
        ucoa::pages,
        benchmarks::pages,
        reports::pages,
        receipts::pages,
        recurring::pages,
    ]
    .into_iter()
    .fold(r, |r, add| add(r))
    .get("/t/{town}/finance", page_overview)
    .post("/t/{town}/finance/funds", page_create_fund)
    .post("/t/{town}/finance/accounts", page_create_account)
    .post("/t/{town}/finance/periods", page_open_year)
    .post(
        "/t/{town}/finance/periods/{fiscal_year}/{period}/status",
        page_period_status,
    )
    .get("/t/{town}/finance/entries", page_entries)
    .post("/t/{town}/finance/entries", page_create_entry)
    .get("/t/{town}/finance/entries/{entry}", page_entry)
    .post("/t/{town}/finance/entries/{entry}/post", page_post_entry)
    .post(
        "/t/{town}/finance/entries/{entry}/reverse",
        page_reverse_entry,
    )
    .get("/t/{town}/finance/trial-balance", page_trial_balance)
    .get("/t/{town}/finance/budget", page_budget)
    .post("/t/{town}/finance/budget", page_adopt_budget)
    .post("/t/{town}/finance/budget-changes", page_propose_change)
    .post(
        "/t/{town}/finance/budget-changes/{change}/{decision}",
        page_decide_change,
    )
    .post("/t/{town}/finance/settings", page_set_settings)
    .post("/t/{town}/finance/year-end", page_year_end)
    .get("/t/{town}/finance/ucoa-filing", page_ucoa_filing)
    .get("/t/{town}/finance/ledger", page_account_detail)
    .get("/t/{town}/finance/statements", page_statements)
    .get("/t/{town}/finance/purchasing", page_purchasing)
    .post("/t/{town}/finance/vendors", page_create_vendor)
    .post("/t/{town}/finance/purchase-orders", page_create_po)
    .post(
        "/t/{town}/finance/purchase-orders/{po}/{action}",
        page_po_action,
    )
    .post("/t/{town}/finance/invoices", page_enter_invoice)
    .post(
        "/t/{town}/finance/invoices/{invoice}/approve",
        page_approve_invoice,
    )
    .post("/t/{town}/finance/payment-runs", page_pay)
    .get("/t/{town}/finance/payment-runs/{run}", page_check_register)
}

fn entity_label(e: EntityKind) -> &'static str {
    match e {
        EntityKind::TownGovernment => "Town government",
        EntityKind::BoardOfEducation => "Board of education",
    }
}

/// The books switcher shown on every finance page.
#[derive(Debug)]
pub struct Books {
    town: String,
    entity: &'static str,
    label: &'static str,
    can_edit: bool,
    can_approve: bool,
    can_administer: bool,
}

impl Books {
    pub(crate) fn new(scope: &ServiceScope, entity: EntityKind) -> Self {
        Self {
            town: scope.town().slug.to_string(),
            entity: entity.as_str(),
            label: entity_label(entity),
            can_edit: scope.can(Permission::Edit),
            can_approve: scope.can(Permission::Approve),
            can_administer: scope.can(Permission::Administer),
        }
    }
    pub(crate) fn base(&self) -> String {
        format!("/t/{}/finance", self.town)
    }
}

#[derive(Template)]
#[template(path = "finance_overview.html")]
struct OverviewPage {
    chrome: Chrome,
    books: Books,
    funds: Vec<Fund>,
    accounts: Vec<Account>,
    periods: Vec<Period>,
    fund_types: Vec<&'static str>,
    next_year: i32,
    first_year: i64,
    control: &'static str,
}

async fn page_overview(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Path(_town): Path<String>,
    Query(q): Query<EntityQuery>,
) -> PageResult {
    let entity = entity_of(q.entity.as_deref())?;
    let mut c = st.db.read().await?;
    let funds = service::funds(&scope, &mut c, entity).await?;
    let accounts = service::accounts(&scope, &mut c, entity).await?;
    let periods = service::periods(&scope, &mut c, entity).await?;
    let control = budget::control(&scope, &mut c).await?.as_str();
    let first_year = periods.iter().map(|p| p.fiscal_year).min().unwrap_or(0);
    drop(c);
    let next_year = periods.iter().map(|p| p.fiscal_year).max().map_or_else(
        || FiscalYear::containing(st.today()).end_year(),
        |y| i32::try_from(y + 1).unwrap_or(2100),
    );
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Finance — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &OverviewPage {
            chrome,
            books: Books::new(&scope, entity),
            funds,
            accounts,
            periods,
            fund_types: FundType::ALL.map(FundType::as_str).to_vec(),
            next_year,
            first_year,
            control,
        },
        &user,
    )
}

fn back(town: &str, entity: EntityKind, rest: &str) -> String {
    format!("/t/{town}/finance{rest}?entity={}", entity.as_str())
}

async fn page_create_fund(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path(town): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let kind = FundType::parse("fund_type", f.get("fund_type").map_or("", String::as_str))?;
        let mut tx = st.db.begin().await?;
        let fund = service::create_fund(
            &scope,
            &mut tx,
            st.now(),
            entity,
            f.get("code").map_or("", String::as_str),
            f.get("name").map_or("", String::as_str),
            kind,
        )
        .await?;
        tx.commit().await?;
        Ok(format!("Fund {} {} added.", fund.code, fund.name))
    }
    .await;
    after_form(&st, &back(&town, entity, ""), r)
}

async fn page_create_account(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path(town): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let account = AccountString::parse("account", f.get("account").map_or("", String::as_str))?;
        let mut tx = st.db.begin().await?;
        let a = service::create_account(
            &scope,
            &mut tx,
            st.now(),
            entity,
            &account,
            f.get("name").map_or("", String::as_str),
        )
        .await?;
        tx.commit().await?;
        Ok(format!("Account {} {} added.", a.account, a.name))
    }
    .await;
    after_form(&st, &back(&town, entity, ""), r)
}

async fn page_open_year(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path(town): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let year: i32 = f
            .get("fiscal_year")
            .and_then(|y| y.trim().parse().ok())
            .ok_or_else(|| {
                Error::invalid(
                    "fiscal_year",
                    "enter the year the fiscal year ends, e.g. 2027",
                )
            })?;
        let fy = FiscalYear::ending("fiscal_year", year)?;
        let mut tx = st.db.begin().await?;
        service::open_fiscal_year(&scope, &mut tx, st.now(), entity, fy).await?;
        tx.commit().await?;
        Ok(format!(
            "{fy} is open: periods 1–12 and the adjustment period 13."
        ))
    }
    .await;
    after_form(&st, &back(&town, entity, ""), r)
}

async fn page_period_status(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((town, fy, period)): Path<(String, String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let (fy, period) = period_path(&fy, &period)?;
    let r = async {
        let to = PeriodStatus::parse("status", f.get("status").map_or("", String::as_str))?;
        let mut tx = st.db.begin().await?;
        let p =
            service::set_period_status(&scope, &mut tx, st.now(), entity, fy, period, to).await?;
        tx.commit().await?;
        Ok(format!("Period {} of {fy} is now {}.", p.period, p.status))
    }
    .await;
    after_form(&st, &back(&town, entity, ""), r)
}

#[derive(Template)]
#[template(path = "finance_entries.html")]
struct EntriesPage {
    chrome: Chrome,
    books: Books,
    entries: Vec<Entry>,
    accounts: Vec<Account>,
    today: String,
    rows: Vec<usize>,
}

async fn page_entries(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Path(_town): Path<String>,
    Query(q): Query<EntityQuery>,
) -> PageResult {
    let entity = entity_of(q.entity.as_deref())?;
    let mut c = st.db.read().await?;
    let entries = service::entries(&scope, &mut c, entity, 200).await?;
    let accounts = service::accounts(&scope, &mut c, entity).await?;
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Journal — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &EntriesPage {
            chrome,
            books: Books::new(&scope, entity),
            entries,
            accounts,
            today: format_date(st.today()),
            rows: (1..=6).collect(),
        },
        &user,
    )
}

async fn page_create_entry(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path(town): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let r: Result<String> = async {
        let mut lines = Vec::new();
        for i in 1..=50 {
            let account = get(&format!("account_{i}"));
            if account.trim().is_empty() {
                continue;
            }
            lines.push(LineIn {
                account,
                debit: Some(get(&format!("debit_{i}"))),
                credit: Some(get(&format!("credit_{i}"))),
                memo: Some(get(&format!("memo_{i}"))),
            });
        }
        let new = NewEntry {
            entity,
            date: parse_date("date", &get("date"))?,
            adjustment: f.contains_key("adjustment"),
            description: get("description"),
            lines: parse_lines(lines)?,
        };
        let mut tx = st.db.begin().await?;
        let (e, _) = service::create_draft(&scope, &mut tx, st.now(), &new).await?;
        tx.commit().await?;
        Ok(e.id)
    }
    .await;
    match r {
        Ok(id) => Ok(redirect_flash(
            &st,
            &format!("/t/{town}/finance/entries/{id}"),
            "ok",
            "Draft saved. Check it, then post it.",
        )),
        Err(e) => after_form(&st, &back(&town, entity, "/entries"), Err(e)),
    }
}

#[derive(Template)]
#[template(path = "finance_entry.html")]
struct EntryPage {
    chrome: Chrome,
    books: Books,
    entry: Entry,
    lines: Vec<Line>,
    total_debits: String,
    total_credits: String,
    today: String,
    /// The invoice, contract or board minutes behind the entry in Records, when the user reads records.
    related: Option<RelatedDocuments>,
}

async fn page_entry(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let (entry, lines) = service::entry(&scope, &mut c, &id).await?;
    drop(c);
    let entity = if entry.entity_id
        == service::entity_id(
            &scope,
            &mut st.db.read().await?,
            EntityKind::BoardOfEducation,
        )
        .await?
    {
        EntityKind::BoardOfEducation
    } else {
        EntityKind::TownGovernment
    };
    let (d, cr) = lines
        .iter()
        .fold((0, 0), |(d, c), l| (d + l.debit_cents, c + l.credit_cents));
    let back = format!("/t/{}/finance/entries/{}", scope.town().slug, entry.id);
    let label = format!("Journal entry {}", entry.number);
    let related = related_documents(
        &st,
        &user,
        scope.town().slug.as_str(),
        RecordRef {
            kind: "finance.entry",
            target: &entry.id,
            label: &label,
            back: &back,
        },
    )
    .await?;
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Entry {} — {}", entry.number, scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &EntryPage {
            chrome,
            books: Books::new(&scope, entity),
            entry,
            lines,
            total_debits: Money::from_cents(d).to_string(),
            total_credits: Money::from_cents(cr).to_string(),
            today: format_date(st.today()),
            related,
        },
        &user,
    )
}

async fn page_post_entry(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((town, id)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let posted = service::post_entry(&scope, &mut tx, st.now(), &id).await?;
        tx.commit().await?;
        let mut msg = format!("Entry {} is posted.", posted.entry.number);
        for w in &posted.warnings {
            msg.push_str(&format!(" Warning: {w}."));
        }
        Ok(msg)
    }
    .await;
    after_form(&st, &format!("/t/{town}/finance/entries/{id}"), r)
}

async fn page_reverse_entry(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let on = parse_date("date", f.get("date").map_or("", String::as_str))?;
        let mut tx = st.db.begin().await?;
        let e = service::reverse_entry(&scope, &mut tx, st.now(), &id, on).await?;
        tx.commit().await?;
        Ok(e.id)
    }
    .await;
    match r {
        Ok(new_id) => Ok(redirect_flash(
            &st,
            &format!("/t/{town}/finance/entries/{new_id}"),
            "ok",
            "Reversing entry posted.",
        )),
        Err(e) => after_form(&st, &format!("/t/{town}/finance/entries/{id}"), Err(e)),
    }
}

#[derive(Template)]
#[template(path = "finance_trial_balance.html")]
struct TrialBalancePage {
    chrome: Chrome,
    books: Books,
    tb: TrialBalanceOut,
    rows: Vec<TrialBalanceRow>,
    total_debits: i64,
    total_credits: i64,
    fund: String,
    funds: Vec<Fund>,
    balanced: bool,
}

impl TrialBalancePage {
    fn balance(&self, r: &TrialBalanceRow) -> String {
        Money::from_cents(r.debit_cents - r.credit_cents).to_string()
    }
}

async fn page_trial_balance(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Path(town): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let tq = TrialBalanceQuery {
        entity: q.get("entity").cloned(),
        fund: q.get("fund").cloned(),
        as_of: q.get("as_of").cloned(),
    };
    let (entity, fund, as_of) = match tb_params(&st, &tq) {
        Ok(v) => v,
        Err(e) => {
            return after_form(
                &st,
                &back(&town, EntityKind::TownGovernment, "/trial-balance"),
                Err(e),
            );
        }
    };
    let mut c = st.db.read().await?;
    let rows = service::trial_balance(&scope, &mut c, entity, fund.as_deref(), as_of).await?;
    let funds = service::funds(&scope, &mut c, entity).await?;
    drop(c);
    let tb = trial_balance_out(as_of, &rows);
    if matches!(q.get("format").map(String::as_str), Some("csv" | "xlsx")) {
        let mut out = vec![
            [
                "account", "name", "class", "fund", "debits", "credits", "balance",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for r in &tb.rows {
            out.push(vec![
                r.account.clone(),
                r.name.clone(),
                r.class.clone(),
                r.fund.clone(),
                r.debits.clone(),
                r.credits.clone(),
                r.balance.clone(),
            ]);
        }
        out.push(vec![
            "TOTAL".into(),
            String::new(),
            String::new(),
            String::new(),
            tb.total_debits.clone(),
            tb.total_credits.clone(),
            String::new(),
        ]);
        return table_response(
            q.get("format").map(String::as_str),
            &format!("trial-balance-{}-{}", scope.town().slug, tb.as_of),
            out,
        );
    }
    let (total_debits, total_credits) = rows.iter().fold((0i64, 0i64), |(d, c), r| {
        (d + r.debit_cents, c + r.credit_cents)
    });
    let balanced = total_debits == total_credits;
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Trial balance — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &TrialBalancePage {
            chrome,
            books: Books::new(&scope, entity),
            tb,
            rows,
            total_debits,
            total_credits,
            fund: fund.unwrap_or_default(),
            funds,
            balanced,
        },
        &user,
    )
}

// ---------------------------------------------------------------- budgets

/// An account and an amount in dollars.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AmountLineIn {
    /// Account string.
    pub account: String,
    /// Dollars, e.g. "125000.00"; negative in a change to reduce.
    pub amount: String,
}

/// Adopt a fiscal year's budget.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdoptIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Fiscal year (the year it ends).
    pub fiscal_year: i32,
    /// Revenue and expenditure accounts with their adopted amounts.
    pub lines: Vec<AmountLineIn>,
}

/// Propose an amendment or transfer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Fiscal year.
    pub fiscal_year: i32,
    /// `amendment` or `transfer`.
    pub kind: String,
    /// Why.
    pub description: String,
    /// Signed amounts per account; a transfer nets to zero.
    pub lines: Vec<AmountLineIn>,
}

/// How many accounts were adopted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdoptedOut {
    /// Accounts adopted.
    pub accounts: usize,
}

/// A budget change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    /// Id.
    pub id: String,
    /// Fiscal year.
    pub fiscal_year: i64,
    /// `amendment` or `transfer`.
    pub kind: String,
    /// Why.
    pub description: String,
    /// `proposed`, `approved` or `rejected`.
    pub status: String,
    /// (account, dollars) lines.
    pub lines: Vec<AmountLineOut>,
}

/// An account and an amount.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmountLineOut {
    /// Account string.
    pub account: String,
    /// Dollars.
    pub amount: String,
}

fn change_out(ch: crate::service::BudgetChange, lines: Vec<(String, i64)>) -> ChangeOut {
    ChangeOut {
        id: ch.id,
        fiscal_year: ch.fiscal_year,
        kind: ch.kind,
        description: ch.description,
        status: ch.status,
        lines: lines
            .into_iter()
            .map(|(account, cents)| AmountLineOut {
                account,
                amount: dollars(cents),
            })
            .collect(),
    }
}

/// Budget vs actual of one account.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetRowOut {
    /// Account string.
    pub account: String,
    /// Name.
    pub name: String,
    /// `revenue` or `expenditure`.
    pub class: String,
    /// Adopted, dollars.
    pub adopted: String,
    /// Approved amendments and transfers, dollars.
    pub changes: String,
    /// Revised budget, dollars.
    pub revised: String,
    /// Actual, dollars.
    pub actual: String,
    /// Open purchase orders, dollars.
    pub encumbered: String,
    /// Revised − actual − encumbered, dollars.
    pub available: String,
}

impl From<&BudgetRow> for BudgetRowOut {
    fn from(r: &BudgetRow) -> Self {
        Self {
            account: r.account.clone(),
            name: r.name.clone(),
            class: r.class.clone(),
            adopted: dollars(r.adopted_cents),
            changes: dollars(r.changes_cents),
            revised: dollars(r.revised_cents),
            actual: dollars(r.actual_cents),
            encumbered: dollars(r.encumbered_cents),
            available: dollars(r.available_cents),
        }
    }
}

/// Fiscal-year filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct YearQuery {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Fiscal year (default: the current one).
    pub fiscal_year: Option<i32>,
}

pub(crate) fn amount_lines(lines: Vec<AmountLineIn>) -> Result<Vec<(String, Money)>> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            Ok((
                l.account,
                Money::parse(&format!("lines[{}].amount", i + 1), &l.amount)?,
            ))
        })
        .collect()
}

/// Adopts a fiscal year's budget (finance administrators).
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/budgets", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = AdoptIn,
    responses((status = 201, body = AdoptedOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_adopt_budget(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<AdoptIn>,
) -> ApiResult<Response> {
    let fy = FiscalYear::ending("fiscal_year", req.fiscal_year)?;
    let lines = amount_lines(req.lines)?;
    let mut tx = st.db.begin().await?;
    let n = budget::adopt(
        &scope,
        &mut tx,
        st.now(),
        entity_of(req.entity.as_deref())?,
        fy,
        &lines,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(AdoptedOut { accounts: n })).into_response())
}

/// Budget vs actual at the end of a date.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/budget-vs-actual", tag = "finance", params(("town" = String, Path, description = TOWN), TrialBalanceQuery),
    responses((status = 200, body = Vec<BudgetRowOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_budget_vs_actual(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<TrialBalanceQuery>,
) -> ApiResult<axum::Json<Vec<BudgetRowOut>>> {
    let (entity, _, as_of) = tb_params(&st, &q)?;
    let mut c = st.db.read().await?;
    let rows = budget::budget_vs_actual(&scope, &mut c, entity, as_of).await?;
    Ok(axum::Json(rows.iter().map(BudgetRowOut::from).collect()))
}

/// Budget amendments and transfers of a fiscal year.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/budget-changes", tag = "finance", params(("town" = String, Path, description = TOWN), YearQuery),
    responses((status = 200, body = Vec<ChangeOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_budget_changes(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<YearQuery>,
) -> ApiResult<axum::Json<Vec<ChangeOut>>> {
    let fy = year_of(&st, q.fiscal_year)?;
    let mut c = st.db.read().await?;
    let list = budget::changes(&scope, &mut c, entity_of(q.entity.as_deref())?, fy).await?;
    Ok(axum::Json(
        list.into_iter()
            .map(|(ch, lines)| change_out(ch, lines))
            .collect(),
    ))
}

fn year_of(st: &AppState, y: Option<i32>) -> Result<FiscalYear> {
    match y {
        Some(y) => FiscalYear::ending("fiscal_year", y),
        None => Ok(FiscalYear::containing(st.today())),
    }
}

/// Proposes a budget amendment or transfer (finance clerks and up).
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/budget-changes", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = ChangeIn,
    responses((status = 201, body = ChangeOut), (status = 422, body = munishare_web::error::Problem)))]
async fn api_propose_change(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<ChangeIn>,
) -> ApiResult<Response> {
    let proposal = Proposal {
        entity: entity_of(req.entity.as_deref())?,
        fiscal_year: FiscalYear::ending("fiscal_year", req.fiscal_year)?,
        kind: ChangeKind::parse("kind", &req.kind)?,
        description: req.description,
        lines: amount_lines(req.lines)?,
    };
    let mut tx = st.db.begin().await?;
    let ch = budget::propose(&scope, &mut tx, st.now(), &proposal).await?;
    tx.commit().await?;
    let lines = proposal
        .lines
        .iter()
        .map(|(a, m)| (a.clone(), m.cents()))
        .collect();
    Ok((StatusCode::CREATED, axum::Json(change_out(ch, lines))).into_response())
}

async fn decide_api(
    st: &AppState,
    scope: &ServiceScope,
    id: &str,
    approve: bool,
) -> ApiResult<axum::Json<ChangeOut>> {
    let mut tx = st.db.begin().await?;
    let ch = budget::decide(scope, &mut tx, st.now(), id, approve).await?;
    tx.commit().await?;
    Ok(axum::Json(change_out(ch, Vec::new())))
}

/// Approves a proposed change (finance approvers): it takes effect in budget vs actual.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/budget-changes/{change}/approve", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("change" = String, Path, description = "Change id")),
    responses((status = 200, body = ChangeOut), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_approve_change(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, change)): Path<(String, String)>,
) -> ApiResult<axum::Json<ChangeOut>> {
    decide_api(&st, &scope, &change, true).await
}

/// Rejects a proposed change.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/budget-changes/{change}/reject", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("change" = String, Path, description = "Change id")),
    responses((status = 200, body = ChangeOut), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_reject_change(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, change)): Path<(String, String)>,
) -> ApiResult<axum::Json<ChangeOut>> {
    decide_api(&st, &scope, &change, false).await
}

#[derive(Template)]
#[template(path = "finance_budget.html")]
struct BudgetPage {
    chrome: Chrome,
    books: Books,
    as_of: String,
    fiscal_year: i32,
    fy_label: String,
    rows: Vec<BudgetRow>,
    changes: Vec<(crate::service::BudgetChange, Vec<(String, i64)>)>,
    totals: (i64, i64, i64, i64),
}

async fn page_budget(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let tq = TrialBalanceQuery {
        entity: q.get("entity").cloned(),
        fund: None,
        as_of: q.get("as_of").cloned(),
    };
    let town = scope.town().slug.to_string();
    let (entity, _, as_of) = match tb_params(&st, &tq) {
        Ok(v) => v,
        Err(e) => {
            return after_form(
                &st,
                &back(&town, EntityKind::TownGovernment, "/budget"),
                Err(e),
            );
        }
    };
    let fy = FiscalYear::containing(as_of);
    let mut c = st.db.read().await?;
    let rows = budget::budget_vs_actual(&scope, &mut c, entity, as_of).await?;
    let changes = budget::changes(&scope, &mut c, entity, fy).await?;
    drop(c);
    if let Some(format) = q.get("format") {
        let mut table = vec![
            [
                "account",
                "name",
                "class",
                "adopted",
                "changes",
                "revised",
                "actual",
                "encumbered",
                "available",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        table.extend(rows.iter().map(|r| {
            vec![
                r.account.clone(),
                r.name.clone(),
                r.class.clone(),
                dollars(r.adopted_cents),
                dollars(r.changes_cents),
                dollars(r.revised_cents),
                dollars(r.actual_cents),
                dollars(r.encumbered_cents),
                dollars(r.available_cents),
            ]
        }));
        return table_response(
            Some(format.as_str()),
            &format!("budget-vs-actual-{town}-{}", format_date(as_of)),
            table,
        );
    }
    let expenditure: Vec<&BudgetRow> = rows.iter().filter(|r| r.class == "expenditure").collect();
    let totals = expenditure.iter().fold((0, 0, 0, 0), |t, r| {
        (
            t.0 + r.adopted_cents,
            t.1 + r.revised_cents,
            t.2 + r.actual_cents,
            t.3 + r.available_cents,
        )
    });
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Budget — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &BudgetPage {
            chrome,
            books: Books::new(&scope, entity),
            as_of: format_date(as_of),
            fiscal_year: fy.end_year(),
            fy_label: fy.to_string(),
            rows,
            changes,
            totals,
        },
        &user,
    )
}

/// Parses "account, amount" lines typed into a text area; errors name the line.
pub(crate) fn text_lines(field: &str, text: &str) -> Result<Vec<(String, Money)>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let Some((account, amount)) = line.split_once([',', '\t', ' ']) else {
            return Err(Error::invalid(
                format!("{field}, line {}", i + 1),
                "write the account, a comma and the amount",
            ));
        };
        let amount = Money::parse(
            &format!("{field}, line {}", i + 1),
            amount.trim().trim_start_matches(',').trim(),
        )?;
        out.push((account.trim().to_owned(), amount));
    }
    Ok(out)
}

async fn page_adopt_budget(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let town = scope.town().slug.to_string();
    let r = async {
        let year: i32 = f
            .get("fiscal_year")
            .and_then(|y| y.trim().parse().ok())
            .ok_or_else(|| Error::invalid("fiscal_year", "enter the fiscal year, e.g. 2027"))?;
        let fy = FiscalYear::ending("fiscal_year", year)?;
        let lines = text_lines("lines", f.get("lines").map_or("", String::as_str))?;
        let mut tx = st.db.begin().await?;
        let n = budget::adopt(&scope, &mut tx, st.now(), entity, fy, &lines).await?;
        tx.commit().await?;
        Ok(format!(
            "Budget for {fy} adopted for {n} account{}.",
            if n == 1 { "" } else { "s" }
        ))
    }
    .await;
    after_form(&st, &back(&town, entity, "/budget"), r)
}

async fn page_propose_change(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let town = scope.town().slug.to_string();
    let r = async {
        let year: i32 = f
            .get("fiscal_year")
            .and_then(|y| y.trim().parse().ok())
            .ok_or_else(|| Error::invalid("fiscal_year", "enter the fiscal year"))?;
        let proposal = Proposal {
            entity,
            fiscal_year: FiscalYear::ending("fiscal_year", year)?,
            kind: ChangeKind::parse("kind", f.get("kind").map_or("", String::as_str))?,
            description: f.get("description").cloned().unwrap_or_default(),
            lines: text_lines("lines", f.get("lines").map_or("", String::as_str))?,
        };
        let mut tx = st.db.begin().await?;
        let ch = budget::propose(&scope, &mut tx, st.now(), &proposal).await?;
        tx.commit().await?;
        Ok(format!(
            "The {} is proposed; it takes effect once approved.",
            ch.kind
        ))
    }
    .await;
    after_form(&st, &back(&town, entity, "/budget"), r)
}

async fn page_decide_change(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((town, change, decision)): Path<(String, String, String)>,
) -> PageResult {
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(Error::NotFound { what: "page" }.into()),
    };
    let r = async {
        let mut tx = st.db.begin().await?;
        let ch = budget::decide(&scope, &mut tx, st.now(), &change, approve).await?;
        tx.commit().await?;
        Ok(format!("The {} is {}.", ch.kind, ch.status))
    }
    .await;
    after_form(&st, &format!("/t/{town}/finance/budget"), r)
}

/// Finance settings of a town.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SettingsOut {
    /// `off`, `warn` (default) or `block`: what posting does when an expenditure would exceed the revised budget.
    pub appropriation_control: String,
}

/// The town's finance settings.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/settings", tag = "finance", params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = SettingsOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_settings(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
) -> ApiResult<axum::Json<SettingsOut>> {
    let mut c = st.db.read().await?;
    let control = budget::control(&scope, &mut c).await?;
    Ok(axum::Json(SettingsOut {
        appropriation_control: control.as_str().to_owned(),
    }))
}

/// Changes the town's finance settings (finance administrators).
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/settings", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = SettingsOut,
    responses((status = 200, body = SettingsOut), (status = 403, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_set_settings(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<SettingsOut>,
) -> ApiResult<axum::Json<SettingsOut>> {
    let mode =
        budget::AppropriationControl::parse("appropriation_control", &req.appropriation_control)?;
    let mut tx = st.db.begin().await?;
    budget::set_control(&scope, &mut tx, st.now(), mode).await?;
    tx.commit().await?;
    Ok(axum::Json(SettingsOut {
        appropriation_control: mode.as_str().to_owned(),
    }))
}

async fn page_set_settings(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let town = scope.town().slug.to_string();
    let r = async {
        let mode = budget::AppropriationControl::parse(
            "appropriation_control",
            f.get("appropriation_control").map_or("", String::as_str),
        )?;
        let mut tx = st.db.begin().await?;
        budget::set_control(&scope, &mut tx, st.now(), mode).await?;
        tx.commit().await?;
        Ok(format!("Appropriation control is now {}.", mode.as_str()))
    }
    .await;
    after_form(&st, &format!("/t/{town}/finance"), r)
}

/// The result of a year-end close.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedOut {
    /// The closing entry's id (empty when the year had no revenue or expenditure).
    pub closing_entry: String,
}

fn year_path(fy: &str) -> Result<FiscalYear> {
    fy.parse::<i32>()
        .ok()
        .and_then(|y| FiscalYear::ending("fiscal_year", y).ok())
        .ok_or(Error::NotFound {
            what: "fiscal year",
        })
}

/// Closes a fiscal year (finance administrators): periods 1–12 closed, the next year open; revenues
/// and expenditures go to fund balance in the closing period, balance-sheet accounts open the next year.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/years/{fiscal_year}/close", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("fiscal_year" = i32, Path, description = "Year the fiscal year ends"), EntityQuery),
    responses((status = 200, body = ClosedOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_close_year(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, fy)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<ClosedOut>> {
    let fy = year_path(&fy)?;
    let mut tx = st.db.begin().await?;
    let id = crate::close::close_year(
        &scope,
        &mut tx,
        st.now(),
        entity_of(q.entity.as_deref())?,
        fy,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(ClosedOut { closing_entry: id }))
}

/// Reopens a closed fiscal year: reverses the closing entry and removes the next year's opening balances.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/years/{fiscal_year}/reopen", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("fiscal_year" = i32, Path, description = "Year the fiscal year ends"), EntityQuery),
    responses((status = 204), (status = 409, body = munishare_web::error::Problem)))]
async fn api_reopen_year(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, fy)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<StatusCode> {
    let fy = year_path(&fy)?;
    let mut tx = st.db.begin().await?;
    crate::close::reopen_year(
        &scope,
        &mut tx,
        st.now(),
        entity_of(q.entity.as_deref())?,
        fy,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn page_year_end(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let town = scope.town().slug.to_string();
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let year: i32 = f
            .get("fiscal_year")
            .and_then(|y| y.trim().parse().ok())
            .ok_or_else(|| {
                Error::invalid(
                    "fiscal_year",
                    "enter the year the fiscal year ends, e.g. 2027",
                )
            })?;
        let fy = FiscalYear::ending("fiscal_year", year)?;
        let mut tx = st.db.begin().await?;
        let msg = match f.get("action").map_or("", String::as_str) {
            "close" => {
                crate::close::close_year(&scope, &mut tx, st.now(), entity, fy).await?;
                format!("{fy} is closed; balance-sheet accounts open the next year.")
            }
            "reopen" => {
                crate::close::reopen_year(&scope, &mut tx, st.now(), entity, fy).await?;
                format!("{fy} is reopened; the closing entry is reversed.")
            }
            _ => return Err(Error::invalid("action", "choose close or reopen")),
        };
        tx.commit().await?;
        Ok(msg)
    }
    .await;
    after_form(&st, &back(&town, entity, ""), r)
}

/// The annual UCOA filing of a fiscal year as CSV, in OPM's published layout
/// (credits negative); the pre-closing year-end balance of each account.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/years/{fiscal_year}/ucoa-filing", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("fiscal_year" = i32, Path, description = "Year the fiscal year ends"), EntityQuery),
    responses((status = 200, description = "CSV in OPM's layout", content_type = "text/csv"), (status = 404, body = munishare_web::error::Problem)))]
async fn api_ucoa_filing(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, fy)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<Response> {
    let fy = year_path(&fy)?;
    let mut c = st.db.read().await?;
    let rows =
        crate::filing::ucoa_filing(&scope, &mut c, entity_of(q.entity.as_deref())?, fy).await?;
    let table = crate::filing::opm_layout(fy, &scope.town().name, &rows)?;
    Ok(csv_response(
        &format!("ucoa-{}-{}.csv", scope.town().slug, fy.end_year()),
        table,
    )
    .map_err(|e| e.0)?)
}

#[derive(Template)]
#[template(path = "finance_filing.html")]
struct FilingPage {
    chrome: Chrome,
    books: Books,
    fiscal_year: i32,
    fy_label: String,
    rows: Vec<crate::filing::FilingRow>,
}

async fn page_ucoa_filing(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(q.get("entity").map(String::as_str))?;
    let fy = match q
        .get("fiscal_year")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        None => FiscalYear::containing(st.today()),
        Some(y) => match y
            .parse::<i32>()
            .ok()
            .and_then(|y| FiscalYear::ending("fiscal_year", y).ok())
        {
            Some(fy) => fy,
            None => {
                return after_form(
                    &st,
                    &back(scope.town().slug.as_str(), entity, "/ucoa-filing"),
                    Err(Error::invalid(
                        "fiscal_year",
                        "enter the year the fiscal year ends, e.g. 2027",
                    )),
                );
            }
        },
    };
    let mut c = st.db.read().await?;
    let rows = match crate::filing::ucoa_filing(&scope, &mut c, entity, fy).await {
        Ok(rows) => rows,
        // Unmapped accounts: the crosswalk page lists them beside the message.
        Err(e @ Error::Conflict { .. }) => {
            return Ok(redirect_flash(
                &st,
                &format!(
                    "/t/{}/finance/crosswalk?entity={}&fiscal_year={}",
                    scope.town().slug,
                    entity.as_str(),
                    fy.end_year()
                ),
                "error",
                &e.to_string(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    drop(c);
    if let Some(format) = q.get("format") {
        return table_response(
            Some(format.as_str()),
            &format!("ucoa-{}-{}", scope.town().slug, fy.end_year()),
            crate::filing::opm_layout(fy, &scope.town().name, &rows)?,
        );
    }
    let chrome = Chrome::new(
        &st,
        &user,
        format!("UCOA filing — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &FilingPage {
            chrome,
            books: Books::new(&scope, entity),
            fiscal_year: fy.end_year(),
            fy_label: fy.to_string(),
            rows,
        },
        &user,
    )
}

/// General-ledger detail filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DetailQuery {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// The account string.
    pub account: String,
    /// First day (default: start of the fiscal year containing `to`).
    pub from: Option<String>,
    /// Last day (default today).
    pub to: Option<String>,
}

/// One posted line with the running balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailLineOut {
    /// Entry id.
    pub entry_id: String,
    /// Entry number.
    pub number: i64,
    /// Date.
    pub date: String,
    /// Description.
    pub description: String,
    /// Debit, dollars.
    pub debit: String,
    /// Credit, dollars.
    pub credit: String,
    /// Running balance (debit positive), dollars.
    pub balance: String,
}

/// An account's activity.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailOut {
    /// Account.
    pub account: String,
    /// Name.
    pub name: String,
    /// Balance brought forward, dollars.
    pub brought_forward: String,
    /// Lines.
    pub lines: Vec<DetailLineOut>,
}

fn detail_params(
    st: &AppState,
    entity: Option<&str>,
    account: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(EntityKind, AccountString, time::Date, time::Date)> {
    let entity = entity_of(entity)?;
    let account = AccountString::parse("account", account)?;
    let to = match to.map(str::trim).filter(|s| !s.is_empty()) {
        None => st.today(),
        Some(d) => parse_date("to", d)?,
    };
    let from = match from.map(str::trim).filter(|s| !s.is_empty()) {
        None => FiscalYear::containing(to).start(),
        Some(d) => parse_date("from", d)?,
    };
    Ok((entity, account, from, to))
}

/// General-ledger detail of one account between two dates, with a running balance.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/ledger", tag = "finance", params(("town" = String, Path, description = TOWN), DetailQuery),
    responses((status = 200, body = DetailOut), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_account_detail(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<DetailQuery>,
) -> ApiResult<axum::Json<DetailOut>> {
    let (entity, account, from, to) = detail_params(
        &st,
        q.entity.as_deref(),
        &q.account,
        q.from.as_deref(),
        q.to.as_deref(),
    )?;
    let mut c = st.db.read().await?;
    let d = crate::detail::account_detail(&scope, &mut c, entity, &account, from, to).await?;
    Ok(axum::Json(DetailOut {
        account: d.account,
        name: d.name,
        brought_forward: dollars(d.brought_forward_cents),
        lines: d
            .lines
            .into_iter()
            .map(|l| DetailLineOut {
                entry_id: l.entry_id,
                number: l.number,
                date: l.date,
                description: l.description,
                debit: dollars(l.debit_cents),
                credit: dollars(l.credit_cents),
                balance: dollars(l.balance_cents),
            })
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "finance_ledger.html")]
struct DetailPage {
    chrome: Chrome,
    books: Books,
    accounts: Vec<Account>,
    account: String,
    from: String,
    to: String,
    detail: Option<crate::detail::AccountDetail>,
}

async fn page_account_detail(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(q.get("entity").map(String::as_str))?;
    let mut c = st.db.read().await?;
    let accounts = service::accounts(&scope, &mut c, entity).await?;
    let account = q.get("account").cloned().unwrap_or_default();
    let mut detail = None;
    let (mut from, mut to) = (
        q.get("from").cloned().unwrap_or_default(),
        q.get("to").cloned().unwrap_or_default(),
    );
    if !account.trim().is_empty() {
        let parsed = detail_params(
            &st,
            q.get("entity").map(String::as_str),
            &account,
            q.get("from").map(String::as_str),
            q.get("to").map(String::as_str),
        );
        let (e, a, f, t) = match parsed {
            Ok(v) => v,
            Err(e) => {
                return after_form(
                    &st,
                    &back(scope.town().slug.as_str(), entity, "/ledger"),
                    Err(e),
                );
            }
        };
        let d = match crate::detail::account_detail(&scope, &mut c, e, &a, f, t).await {
            Ok(d) => d,
            Err(e @ Error::Invalid { .. }) => {
                return after_form(
                    &st,
                    &back(scope.town().slug.as_str(), entity, "/ledger"),
                    Err(e),
                );
            }
            Err(e) => return Err(e.into()),
        };
        if matches!(q.get("format").map(String::as_str), Some("csv" | "xlsx")) {
            let mut out = vec![
                ["date", "entry", "description", "debit", "credit", "balance"]
                    .map(str::to_owned)
                    .to_vec(),
            ];
            out.push(vec![
                format_date(f),
                String::new(),
                "Balance brought forward".into(),
                String::new(),
                String::new(),
                dollars(d.brought_forward_cents),
            ]);
            for l in &d.lines {
                out.push(vec![
                    l.date.clone(),
                    l.number.to_string(),
                    l.description.clone(),
                    dollars(l.debit_cents),
                    dollars(l.credit_cents),
                    dollars(l.balance_cents),
                ]);
            }
            return table_response(
                q.get("format").map(String::as_str),
                &format!("ledger-{}-{}", scope.town().slug, d.account),
                out,
            );
        }
        from = format_date(f);
        to = format_date(t);
        detail = Some(d);
    }
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("General ledger — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &DetailPage {
            chrome,
            books: Books::new(&scope, entity),
            accounts,
            account,
            from,
            to,
            detail,
        },
        &user,
    )
}

/// One fund's balance sheet and statement of revenues, expenditures and changes in fund balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundStatementsOut {
    /// Fund code.
    pub fund: String,
    /// Fund name.
    pub name: String,
    /// Total assets, dollars.
    pub assets: String,
    /// Total liabilities, dollars.
    pub liabilities: String,
    /// Fund balance at the start of the year, dollars.
    pub beginning_fund_balance: String,
    /// Other changes to fund balance this year, dollars.
    pub other_fund_balance_changes: String,
    /// Revenues year to date, dollars.
    pub revenues: String,
    /// Expenditures year to date by UCOA function: (function, dollars).
    pub expenditures_by_function: Vec<(String, String)>,
    /// Total expenditures, dollars.
    pub expenditures: String,
    /// Revenues − expenditures, dollars.
    pub excess: String,
    /// Ending fund balance, dollars.
    pub ending_fund_balance: String,
    /// Assets = liabilities + ending fund balance.
    pub balances: bool,
}

impl From<&crate::statements::FundStatements> for FundStatementsOut {
    fn from(s: &crate::statements::FundStatements) -> Self {
        Self {
            fund: s.fund.clone(),
            name: s.name.clone(),
            assets: dollars(s.assets),
            liabilities: dollars(s.liabilities),
            beginning_fund_balance: dollars(s.beginning_fund_balance),
            other_fund_balance_changes: dollars(s.other_fund_balance_changes),
            revenues: dollars(s.revenues),
            expenditures_by_function: s
                .expenditures_by_function
                .iter()
                .map(|(f, c)| (f.clone(), dollars(*c)))
                .collect(),
            expenditures: dollars(s.expenditures),
            excess: dollars(s.excess),
            ending_fund_balance: dollars(s.ending_fund_balance),
            balances: s.balances(),
        }
    }
}

/// Balance sheet and statement of revenues, expenditures and changes in fund balance, per fund, at a date.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/statements", tag = "finance", params(("town" = String, Path, description = TOWN), TrialBalanceQuery),
    responses((status = 200, body = Vec<FundStatementsOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_statements(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<TrialBalanceQuery>,
) -> ApiResult<axum::Json<Vec<FundStatementsOut>>> {
    let (entity, _, as_of) = tb_params(&st, &q)?;
    let mut c = st.db.read().await?;
    let s = crate::statements::fund_statements(&scope, &mut c, entity, as_of).await?;
    Ok(axum::Json(s.iter().map(FundStatementsOut::from).collect()))
}

#[derive(Template)]
#[template(path = "finance_statements.html")]
struct StatementsPage {
    chrome: Chrome,
    books: Books,
    as_of: String,
    funds: Vec<crate::statements::FundStatements>,
}

async fn page_statements(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let tq = TrialBalanceQuery {
        entity: q.get("entity").cloned(),
        fund: None,
        as_of: q.get("as_of").cloned(),
    };
    let (entity, _, as_of) = match tb_params(&st, &tq) {
        Ok(v) => v,
        Err(e) => {
            return after_form(
                &st,
                &back(
                    scope.town().slug.as_str(),
                    EntityKind::TownGovernment,
                    "/statements",
                ),
                Err(e),
            );
        }
    };
    let mut c = st.db.read().await?;
    let funds = crate::statements::fund_statements(&scope, &mut c, entity, as_of).await?;
    drop(c);
    if let Some(format) = q.get("format") {
        // One row per fund and line: the balance sheet, then the statement of
        // revenues, expenditures (by function) and changes in fund balance.
        let mut table = vec![
            ["fund", "fund name", "statement", "line", "amount"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for f in &funds {
            let mut push = |statement: &str, line: String, cents: i64| {
                table.push(vec![
                    f.fund.clone(),
                    f.name.clone(),
                    statement.to_owned(),
                    line,
                    dollars(cents),
                ]);
            };
            push("balance sheet", "assets".into(), f.assets);
            push("balance sheet", "liabilities".into(), f.liabilities);
            push(
                "balance sheet",
                "fund balance".into(),
                f.ending_fund_balance,
            );
            push("activity", "revenues".into(), f.revenues);
            for (function, cents) in &f.expenditures_by_function {
                push(
                    "activity",
                    format!("expenditures, function {function}"),
                    *cents,
                );
            }
            push("activity", "expenditures".into(), f.expenditures);
            push(
                "activity",
                "excess of revenues over expenditures".into(),
                f.excess,
            );
            push(
                "activity",
                "fund balance, beginning".into(),
                f.beginning_fund_balance,
            );
            push(
                "activity",
                "other changes in fund balance".into(),
                f.other_fund_balance_changes,
            );
            push(
                "activity",
                "fund balance, ending".into(),
                f.ending_fund_balance,
            );
        }
        return table_response(
            Some(format.as_str()),
            &format!("statements-{}-{}", scope.town().slug, format_date(as_of)),
            table,
        );
    }
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Financial statements — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &StatementsPage {
            chrome,
            books: Books::new(&scope, entity),
            as_of: format_date(as_of),
            funds,
        },
        &user,
    )
}

// ---------------------------------------------------------------- purchasing

/// A vendor.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorOut {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Remit-to address.
    pub remit_to: String,
    /// Receives a 1099.
    pub is_1099: bool,
}

impl From<crate::purchasing::Vendor> for VendorOut {
    fn from(v: crate::purchasing::Vendor) -> Self {
        Self {
            id: v.id,
            name: v.name,
            remit_to: v.remit_to,
            is_1099: v.is_1099,
        }
    }
}

/// A new vendor.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VendorIn {
    /// Name (unique in the town).
    pub name: String,
    /// Remit-to address.
    pub remit_to: String,
    /// Receives a 1099 at year end.
    pub is_1099: Option<bool>,
}

/// A purchase order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoOut {
    /// Id.
    pub id: String,
    /// Number within the fiscal year.
    pub number: i64,
    /// Fiscal year.
    pub fiscal_year: i64,
    /// Vendor.
    pub vendor: String,
    /// Date.
    pub date: String,
    /// Description.
    pub description: String,
    /// draft, open, closed or cancelled.
    pub status: String,
    /// (account, amount, liquidated) in dollars.
    pub lines: Vec<PoLineOut>,
    /// Appropriation-control warnings from approval.
    pub warnings: Vec<String>,
}

/// A purchase-order line.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoLineOut {
    /// Account.
    pub account: String,
    /// Amount, dollars.
    pub amount: String,
    /// Liquidated by invoices, dollars.
    pub liquidated: String,
}

fn po_out(
    p: crate::purchasing::PurchaseOrder,
    lines: Vec<crate::purchasing::PoLine>,
    warnings: Vec<String>,
) -> PoOut {
    PoOut {
        id: p.id,
        number: p.number,
        fiscal_year: p.fiscal_year,
        vendor: p.vendor_name,
        date: p.po_date,
        description: p.description,
        status: p.status,
        lines: lines
            .into_iter()
            .map(|l| PoLineOut {
                account: l.account,
                amount: dollars(l.amount_cents),
                liquidated: dollars(l.liquidated_cents),
            })
            .collect(),
        warnings,
    }
}

/// A new purchase order (a draft until approved).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PoIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Vendor id.
    pub vendor_id: String,
    /// Date, YYYY-MM-DD.
    pub date: String,
    /// What is being bought.
    pub description: String,
    /// Expenditure accounts and amounts.
    pub lines: Vec<AmountLineIn>,
}

/// The town's vendors.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/vendors", tag = "finance", params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<VendorOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_vendors(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
) -> ApiResult<axum::Json<Vec<VendorOut>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        crate::purchasing::vendors(&scope, &mut c)
            .await?
            .into_iter()
            .map(VendorOut::from)
            .collect(),
    ))
}

/// Adds a vendor.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/vendors", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = VendorIn,
    responses((status = 201, body = VendorOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_vendor(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<VendorIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let v = crate::purchasing::create_vendor(
        &scope,
        &mut tx,
        st.now(),
        &req.name,
        &req.remit_to,
        req.is_1099.unwrap_or(false),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(VendorOut::from(v))).into_response())
}

/// The purchase orders of a town's books.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/purchase-orders", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<PoOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_pos(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<PoOut>>> {
    let mut c = st.db.read().await?;
    let list = crate::purchasing::pos(&scope, &mut c, entity_of(q.entity.as_deref())?).await?;
    Ok(axum::Json(
        list.into_iter()
            .map(|p| po_out(p, Vec::new(), Vec::new()))
            .collect(),
    ))
}

/// Drafts a purchase order.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/purchase-orders", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = PoIn,
    responses((status = 201, body = PoOut), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_po(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<PoIn>,
) -> ApiResult<Response> {
    let new = crate::purchasing::NewPurchaseOrder {
        entity: entity_of(req.entity.as_deref())?,
        vendor_id: req.vendor_id,
        date: parse_date("date", &req.date)?,
        description: req.description,
        lines: amount_lines(req.lines)?,
    };
    let mut tx = st.db.begin().await?;
    let (p, lines) = crate::purchasing::create_po(&scope, &mut tx, st.now(), &new).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(po_out(p, lines, Vec::new())),
    )
        .into_response())
}

/// Approves a draft purchase order: it encumbers its accounts (subject to appropriation control).
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/purchase-orders/{po}/approve", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("po" = String, Path, description = "Purchase order id")),
    responses((status = 200, body = PoOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_approve_po(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, po)): Path<(String, String)>,
) -> ApiResult<axum::Json<PoOut>> {
    let mut tx = st.db.begin().await?;
    let (p, warnings) = crate::purchasing::approve_po(&scope, &mut tx, st.now(), &po).await?;
    let (_, lines) = crate::purchasing::po(&scope, &mut tx, &p.id).await?;
    tx.commit().await?;
    Ok(axum::Json(po_out(p, lines, warnings)))
}

/// Closes an open purchase order (releasing its open encumbrance) or cancels a draft.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/purchase-orders/{po}/close", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("po" = String, Path, description = "Purchase order id")),
    responses((status = 200, body = PoOut), (status = 409, body = munishare_web::error::Problem)))]
async fn api_close_po(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, po)): Path<(String, String)>,
) -> ApiResult<axum::Json<PoOut>> {
    let mut tx = st.db.begin().await?;
    let p = crate::purchasing::close_po(&scope, &mut tx, st.now(), &po).await?;
    tx.commit().await?;
    Ok(axum::Json(po_out(p, Vec::new(), Vec::new())))
}

#[derive(Template)]
#[template(path = "finance_purchasing.html")]
struct PurchasingPage {
    chrome: Chrome,
    books: Books,
    invoices: Vec<crate::payables::Invoice>,
    vendors: Vec<crate::purchasing::Vendor>,
    banks: std::collections::BTreeMap<String, crate::ach::BankAccount>,
    originator: Option<crate::ach::Originator>,
    runs: Vec<crate::ach::RunSummary>,
    orders: Vec<(
        crate::purchasing::PurchaseOrder,
        Vec<crate::purchasing::PoLine>,
    )>,
    today: String,
}

async fn page_purchasing(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Finance>,
    Query(q): Query<EntityQuery>,
) -> PageResult {
    let entity = entity_of(q.entity.as_deref())?;
    let mut c = st.db.read().await?;
    let vendors = crate::purchasing::vendors(&scope, &mut c).await?;
    let orders: Vec<_> = crate::purchasing::pos_with_lines(&scope, &mut c, entity)
        .await?
        .into_iter()
        .take(200)
        .collect();
    let invoices = crate::payables::invoices(&scope, &mut c, entity)
        .await?
        .into_iter()
        .take(200)
        .collect();
    let banks = crate::ach::bank_accounts(&scope, &mut c).await?;
    let originator = crate::ach::originator(&scope, &mut c, entity).await?;
    let runs = crate::ach::payment_runs(&scope, &mut c, entity)
        .await?
        .into_iter()
        .take(50)
        .collect();
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Purchasing — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &PurchasingPage {
            chrome,
            books: Books::new(&scope, entity),
            invoices,
            vendors,
            banks,
            originator,
            runs,
            orders,
            today: format_date(st.today()),
        },
        &user,
    )
}

async fn page_create_vendor(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let mut tx = st.db.begin().await?;
        let v = crate::purchasing::create_vendor(
            &scope,
            &mut tx,
            st.now(),
            f.get("name").map_or("", String::as_str),
            f.get("remit_to").map_or("", String::as_str),
            f.contains_key("is_1099"),
        )
        .await?;
        tx.commit().await?;
        Ok(format!("Vendor {} added.", v.name))
    }
    .await;
    after_form(
        &st,
        &back(scope.town().slug.as_str(), entity, "/purchasing"),
        r,
    )
}

async fn page_create_po(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let new = crate::purchasing::NewPurchaseOrder {
            entity,
            vendor_id: f.get("vendor_id").cloned().unwrap_or_default(),
            date: parse_date("date", f.get("date").map_or("", String::as_str))?,
            description: f.get("description").cloned().unwrap_or_default(),
            lines: text_lines("lines", f.get("lines").map_or("", String::as_str))?,
        };
        let mut tx = st.db.begin().await?;
        let (p, _) = crate::purchasing::create_po(&scope, &mut tx, st.now(), &new).await?;
        tx.commit().await?;
        Ok(format!(
            "Purchase order {} drafted; approve it to encumber the budget.",
            p.number
        ))
    }
    .await;
    after_form(
        &st,
        &back(scope.town().slug.as_str(), entity, "/purchasing"),
        r,
    )
}

async fn page_po_action(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((town, po, action)): Path<(String, String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let msg = match action.as_str() {
            "approve" => {
                let (p, warnings) =
                    crate::purchasing::approve_po(&scope, &mut tx, st.now(), &po).await?;
                let mut msg = format!(
                    "Purchase order {} is approved and encumbers its accounts.",
                    p.number
                );
                for w in warnings {
                    msg.push_str(&format!(" Warning: {w}."));
                }
                msg
            }
            "close" => {
                let p = crate::purchasing::close_po(&scope, &mut tx, st.now(), &po).await?;
                format!("Purchase order {} is {}.", p.number, p.status)
            }
            _ => return Err(Error::NotFound { what: "page" }),
        };
        tx.commit().await?;
        Ok(msg)
    }
    .await;
    after_form(&st, &format!("/t/{town}/finance/purchasing"), r)
}

// ---------------------------------------------------------------- payables

/// An invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceOut {
    /// Id.
    pub id: String,
    /// Vendor.
    pub vendor: String,
    /// Vendor's invoice number.
    pub number: String,
    /// Date.
    pub date: String,
    /// Description.
    pub description: String,
    /// Total, dollars.
    pub amount: String,
    /// entered, approved or paid.
    pub status: String,
    /// Purchase order billed against.
    pub po_id: Option<String>,
    /// Check number, once paid.
    pub check_number: Option<i64>,
    /// ACH trace sequence, when paid by ACH.
    pub ach_trace: Option<i64>,
    /// Appropriation-control warnings from approval.
    pub warnings: Vec<String>,
}

fn invoice_out(i: crate::payables::Invoice, warnings: Vec<String>) -> InvoiceOut {
    InvoiceOut {
        id: i.id,
        vendor: i.vendor_name,
        number: i.invoice_number,
        date: i.invoice_date,
        description: i.description,
        amount: dollars(i.amount_cents),
        status: i.status,
        po_id: i.po_id,
        check_number: i.check_number,
        ach_trace: i.ach_trace,
        warnings,
    }
}

/// A new invoice.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InvoiceIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Vendor id.
    pub vendor_id: String,
    /// Purchase order id, when the invoice bills against one.
    pub po_id: Option<String>,
    /// The vendor's invoice number.
    pub number: String,
    /// Invoice date, YYYY-MM-DD.
    pub date: String,
    /// Description.
    pub description: String,
    /// Expenditure accounts and amounts.
    pub lines: Vec<AmountLineIn>,
}

/// Pay approved invoices.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PayIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// Check date, YYYY-MM-DD.
    pub date: String,
}

/// A payment run.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentRunOut {
    /// Id.
    pub id: String,
    /// Check date.
    pub date: String,
    /// First check number.
    pub first_check: i64,
    /// Total, dollars.
    pub total: String,
}

/// The invoices of a town's books.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/invoices", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<InvoiceOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_invoices(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<InvoiceOut>>> {
    let mut c = st.db.read().await?;
    let list = crate::payables::invoices(&scope, &mut c, entity_of(q.entity.as_deref())?).await?;
    Ok(axum::Json(
        list.into_iter()
            .map(|i| invoice_out(i, Vec::new()))
            .collect(),
    ))
}

/// Enters a vendor invoice (finance clerks and up); a vendor's invoice number can be entered once.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/invoices", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = InvoiceIn,
    responses((status = 201, body = InvoiceOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_enter_invoice(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<InvoiceIn>,
) -> ApiResult<Response> {
    let new = crate::payables::NewInvoice {
        entity: entity_of(req.entity.as_deref())?,
        vendor_id: req.vendor_id,
        po_id: req.po_id.filter(|p| !p.trim().is_empty()),
        number: req.number,
        date: parse_date("date", &req.date)?,
        description: req.description,
        lines: amount_lines(req.lines)?,
    };
    let mut tx = st.db.begin().await?;
    let inv = crate::payables::enter_invoice(&scope, &mut tx, st.now(), &new).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(invoice_out(inv, Vec::new())),
    )
        .into_response())
}

/// Approves an invoice: liquidates its purchase order and posts expense against accounts payable.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/invoices/{invoice}/approve", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("invoice" = String, Path, description = "Invoice id")),
    responses((status = 200, body = InvoiceOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_approve_invoice(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, invoice)): Path<(String, String)>,
) -> ApiResult<axum::Json<InvoiceOut>> {
    let mut tx = st.db.begin().await?;
    let (inv, warnings) =
        crate::payables::approve_invoice(&scope, &mut tx, st.now(), &invoice).await?;
    tx.commit().await?;
    Ok(axum::Json(invoice_out(inv, warnings)))
}

/// Pays every approved invoice: by ACH credit when the vendor has a bank account on file, by check otherwise; posts accounts payable against cash and numbers the checks and ACH traces.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/payment-runs", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = PayIn,
    responses((status = 201, body = PaymentRunOut), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_pay(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<PayIn>,
) -> ApiResult<Response> {
    let date = parse_date("date", &req.date)?;
    let mut tx = st.db.begin().await?;
    let run = crate::payables::pay_approved(
        &scope,
        &mut tx,
        st.now(),
        entity_of(req.entity.as_deref())?,
        date,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(PaymentRunOut {
            id: run.id,
            date: run.run_date,
            first_check: run.first_check,
            total: dollars(run.total_cents),
        }),
    )
        .into_response())
}

fn register_csv(
    town: &str,
    rows: &[crate::payables::RegisterRow],
    run: &crate::payables::PaymentRun,
) -> PageResult {
    let mut out = vec![
        [
            "method", "number", "date", "vendor", "pay_to", "invoice", "amount",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for r in rows {
        out.push(vec![
            r.method.to_owned(),
            r.number.to_string(),
            run.run_date.clone(),
            r.vendor.clone(),
            r.pay_to.clone(),
            r.invoice.clone(),
            dollars(r.amount_cents),
        ]);
    }
    out.push(vec![
        String::new(),
        String::new(),
        String::new(),
        "TOTAL".into(),
        String::new(),
        String::new(),
        dollars(run.total_cents),
    ]);
    csv_response(&format!("check-register-{town}-{}.csv", run.run_date), out)
}

/// The check register of a payment run, as CSV.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/payment-runs/{run}/check-register", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("run" = String, Path, description = "Payment run id")),
    responses((status = 200, description = "CSV check register", content_type = "text/csv"), (status = 404, body = munishare_web::error::Problem)))]
async fn api_check_register(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, run)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut c = st.db.read().await?;
    let (run, rows) = crate::payables::check_register(&scope, &mut c, &run).await?;
    Ok(register_csv(scope.town().slug.as_str(), &rows, &run).map_err(|e| e.0)?)
}

async fn page_enter_invoice(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let new = crate::payables::NewInvoice {
            entity,
            vendor_id: f.get("vendor_id").cloned().unwrap_or_default(),
            po_id: f.get("po_id").cloned().filter(|p| !p.trim().is_empty()),
            number: f.get("number").cloned().unwrap_or_default(),
            date: parse_date("date", f.get("date").map_or("", String::as_str))?,
            description: f.get("description").cloned().unwrap_or_default(),
            lines: text_lines("lines", f.get("lines").map_or("", String::as_str))?,
        };
        let mut tx = st.db.begin().await?;
        let inv = crate::payables::enter_invoice(&scope, &mut tx, st.now(), &new).await?;
        tx.commit().await?;
        Ok(format!(
            "Invoice {} from {} entered; approve it to post it.",
            inv.invoice_number, inv.vendor_name
        ))
    }
    .await;
    after_form(
        &st,
        &back(scope.town().slug.as_str(), entity, "/purchasing"),
        r,
    )
}

async fn page_approve_invoice(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((town, invoice)): Path<(String, String)>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let (inv, warnings) =
            crate::payables::approve_invoice(&scope, &mut tx, st.now(), &invoice).await?;
        tx.commit().await?;
        let mut msg = format!("Invoice {} is approved and posted.", inv.invoice_number);
        for w in warnings {
            msg.push_str(&format!(" Warning: {w}."));
        }
        Ok(msg)
    }
    .await;
    after_form(&st, &format!("/t/{town}/finance/purchasing"), r)
}

async fn page_pay(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let town = scope.town().slug.to_string();
    let r = async {
        let date = parse_date("date", f.get("date").map_or("", String::as_str))?;
        let mut tx = st.db.begin().await?;
        let run = crate::payables::pay_approved(&scope, &mut tx, st.now(), entity, date).await?;
        tx.commit().await?;
        Ok(run.id)
    }
    .await;
    match r {
        Ok(id) => Ok(redirect_flash(
            &st,
            &format!("/t/{town}/finance/purchasing?entity={}", entity.as_str()),
            "ok",
            &format!(
                "Payment run {id} is posted; its check register and ACH file are under Payment runs below."
            ),
        )),
        Err(e) => after_form(&st, &back(&town, entity, "/purchasing"), Err(e)),
    }
}

async fn page_check_register(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((_town, run)): Path<(String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let (run, rows) = crate::payables::check_register(&scope, &mut c, &run).await?;
    register_csv(scope.town().slug.as_str(), &rows, &run)
}
