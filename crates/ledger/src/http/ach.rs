//! ACH payments over HTTP: vendors' bank accounts (shown masked), the books'
//! ACH origination, the payment runs, and the NACHA file of a run. The forms
//! live on the purchasing page.

use std::collections::HashMap;

use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{PageResult, PageRoutes, after_form};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{EntityQuery, Finance, TOWN, back, entity_of};
use crate::ach::{self, BankAccount, NewBankAccount, NewOriginator, Originator, RunSummary};

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_bank_accounts))
        .routes(routes!(api_set_bank_account, api_remove_bank_account))
        .routes(routes!(api_originator, api_set_originator))
        .routes(routes!(api_payment_runs))
        .routes(routes!(api_ach_file))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.post(
        "/t/{town}/finance/vendor-bank-accounts",
        page_set_bank_account,
    )
    .post(
        "/t/{town}/finance/vendors/{vendor}/bank-account/remove",
        page_remove_bank_account,
    )
    .post("/t/{town}/finance/ach-originator", page_set_originator)
    .post(
        "/t/{town}/finance/payment-runs/{run}/ach-file",
        page_ach_file,
    )
}

const VENDOR: &str = "Vendor id";

/// A vendor's bank account to put on file.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BankAccountIn {
    /// The receiving bank's nine-digit routing number.
    pub routing: String,
    /// The account number (4 to 17 digits).
    pub account: String,
    /// checking or savings.
    pub account_type: String,
    /// CCD (a business) or PPD (a person).
    pub sec_code: String,
}

/// The books' ACH origination.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OriginatorIn {
    /// Books (default town_government).
    pub entity: Option<String>,
    /// The originating bank's routing number.
    pub odfi_routing: String,
    /// The bank's name (23 characters at most).
    pub bank_name: String,
    /// The books' name as the bank knows it (16 characters at most).
    pub company_name: String,
    /// The company identification the bank assigned (1 to 10 letters or digits).
    pub company_id: String,
}

/// The vendors' bank accounts on file, masked (last four digits only).
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/vendor-bank-accounts", tag = "finance", params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<BankAccount>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_bank_accounts(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
) -> ApiResult<axum::Json<Vec<BankAccount>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        ach::bank_accounts(&scope, &mut c)
            .await?
            .into_values()
            .collect(),
    ))
}

/// Puts a vendor's bank account on file (approvers); the vendor is paid by ACH from the next payment run on. The account number is stored sealed and never returned.
#[utoipa::path(put, path = "/api/v1/towns/{town}/finance/vendors/{vendor}/bank-account", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("vendor" = String, Path, description = VENDOR)), request_body = BankAccountIn,
    responses((status = 200, body = BankAccount), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_set_bank_account(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, vendor)): Path<(String, String)>,
    ApiJson(req): ApiJson<BankAccountIn>,
) -> ApiResult<axum::Json<BankAccount>> {
    let new = NewBankAccount {
        confirm_account: req.account.clone(),
        routing: req.routing,
        account: req.account,
        account_type: req.account_type,
        sec_code: req.sec_code,
    };
    let mut tx = st.db.begin().await?;
    let b = ach::set_bank_account(&scope, &mut tx, st.now(), &st.secrets, &vendor, &new).await?;
    tx.commit().await?;
    Ok(axum::Json(b))
}

/// Takes a vendor's bank account off file (approvers): the vendor is paid by check again.
#[utoipa::path(delete, path = "/api/v1/towns/{town}/finance/vendors/{vendor}/bank-account", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("vendor" = String, Path, description = VENDOR)),
    responses((status = 204), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem)))]
async fn api_remove_bank_account(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, vendor)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut tx = st.db.begin().await?;
    ach::remove_bank_account(&scope, &mut tx, st.now(), &vendor).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The books' ACH origination (null until it is set up).
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/ach-originator", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Option<Originator>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_originator(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Option<Originator>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        ach::originator(&scope, &mut c, entity_of(q.entity.as_deref())?).await?,
    ))
}

/// Sets the books' ACH origination (administrators): the bank that sends the town's ACH files and the company id it assigned.
#[utoipa::path(put, path = "/api/v1/towns/{town}/finance/ach-originator", tag = "finance", params(("town" = String, Path, description = TOWN)), request_body = OriginatorIn,
    responses((status = 200, body = Originator), (status = 403, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_set_originator(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiJson(req): ApiJson<OriginatorIn>,
) -> ApiResult<axum::Json<Originator>> {
    let entity = entity_of(req.entity.as_deref())?;
    let new = NewOriginator {
        odfi_routing: req.odfi_routing,
        bank_name: req.bank_name,
        company_name: req.company_name,
        company_id: req.company_id,
    };
    let mut tx = st.db.begin().await?;
    let o = ach::set_originator(&scope, &mut tx, st.now(), entity, &new).await?;
    tx.commit().await?;
    Ok(axum::Json(o))
}

/// The books' payment runs, newest first, with how many invoices each paid by check and by ACH.
#[utoipa::path(get, path = "/api/v1/towns/{town}/finance/payment-runs", tag = "finance", params(("town" = String, Path, description = TOWN), EntityQuery),
    responses((status = 200, body = Vec<RunSummary>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_payment_runs(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> ApiResult<axum::Json<Vec<RunSummary>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        ach::payment_runs(&scope, &mut c, entity_of(q.entity.as_deref())?).await?,
    ))
}

fn file_response(file: ach::AchFile) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=us-ascii".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file.file_name),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        file.text,
    )
        .into_response()
}

/// Makes the NACHA file of a payment run's ACH payments (approvers). Each call records a new file with the day's next file-id modifier.
#[utoipa::path(post, path = "/api/v1/towns/{town}/finance/payment-runs/{run}/ach-file", tag = "finance",
    params(("town" = String, Path, description = TOWN), ("run" = String, Path, description = "Payment run id")),
    responses((status = 200, description = "The NACHA file", content_type = "text/plain"), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_ach_file(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Finance>,
    Path((_town, run)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let file = ach::nacha_file(&scope, &mut tx, st.now(), &st.secrets, &run).await?;
    tx.commit().await?;
    Ok(file_response(file))
}

fn field<'a>(f: &'a HashMap<String, String>, name: &str) -> &'a str {
    f.get(name).map_or("", String::as_str)
}

async fn page_set_bank_account(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let vendor = field(&f, "vendor_id").to_owned();
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let new = NewBankAccount {
            routing: field(&f, "routing").to_owned(),
            account: field(&f, "account").to_owned(),
            confirm_account: field(&f, "confirm_account").to_owned(),
            account_type: field(&f, "account_type").to_owned(),
            sec_code: field(&f, "sec_code").to_owned(),
        };
        let mut tx = st.db.begin().await?;
        let b =
            ach::set_bank_account(&scope, &mut tx, st.now(), &st.secrets, &vendor, &new).await?;
        tx.commit().await?;
        Ok(format!(
            "Bank account {} is on file; the vendor is paid by ACH from the next payment run.",
            b.masked()
        ))
    }
    .await;
    after_form(
        &st,
        &back(scope.town().slug.as_str(), entity, "/purchasing"),
        r,
    )
}

async fn page_remove_bank_account(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((_town, vendor)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let mut tx = st.db.begin().await?;
        ach::remove_bank_account(&scope, &mut tx, st.now(), &vendor).await?;
        tx.commit().await?;
        Ok("The bank account is off file; the vendor is paid by check.".to_owned())
    }
    .await;
    after_form(
        &st,
        &back(scope.town().slug.as_str(), entity, "/purchasing"),
        r,
    )
}

async fn page_set_originator(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let new = NewOriginator {
            odfi_routing: field(&f, "odfi_routing").to_owned(),
            bank_name: field(&f, "bank_name").to_owned(),
            company_name: field(&f, "company_name").to_owned(),
            company_id: field(&f, "company_id").to_owned(),
        };
        let mut tx = st.db.begin().await?;
        let o = ach::set_originator(&scope, &mut tx, st.now(), entity, &new).await?;
        tx.commit().await?;
        Ok(format!(
            "ACH files are sent through {} ({}) as company {}.",
            o.bank_name, o.odfi_routing, o.company_id
        ))
    }
    .await;
    after_form(
        &st,
        &back(scope.town().slug.as_str(), entity, "/purchasing"),
        r,
    )
}

async fn page_ach_file(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Finance>,
    Path((_town, run)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let entity = entity_of(f.get("entity").map(String::as_str))?;
    let r = async {
        let mut tx = st.db.begin().await?;
        let file = ach::nacha_file(&scope, &mut tx, st.now(), &st.secrets, &run).await?;
        tx.commit().await?;
        Ok(file)
    }
    .await;
    match r {
        Ok(file) => Ok(file_response(file)),
        Err(e) => after_form(
            &st,
            &back(scope.town().slug.as_str(), entity, "/purchasing"),
            Err(e),
        ),
    }
}
