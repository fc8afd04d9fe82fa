//! Personal property declarations and the DMV's motor vehicles over HTTP:
//! the two parts of the grand list besides real estate
//! (docs/design/0011-personal-property-motor-vehicles.md).

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::body::Body;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::ServiceScope;
use munishare_platform::types::{Money, Permission, format_date};
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, enc, redirect_flash, render, table_response,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::grand_list::{base, year};
use super::roll::Assessment;
use crate::imports::{self, ImportRecord, Load};
use crate::motor_vehicles::{self, MV_MILL_RATE_CAP, Vehicle};
use crate::personal_property::{self, CATEGORIES, Declaration, DeclarationIn};
use crate::supplemental::{self, SupplementalItem, SupplementalList, SupplementalTotals};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_declarations, api_declare))
        .routes(routes!(api_declaration, api_amend))
        .routes(routes!(api_vehicles))
        .routes(routes!(api_import_vehicles))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get(
        "/t/{town}/assessment/grand-list/{list_year}/personal-property",
        page_declarations,
    )
    .post(
        "/t/{town}/assessment/grand-list/{list_year}/personal-property",
        page_declare,
    )
    .get(
        "/t/{town}/assessment/personal-property/{declaration}",
        page_declaration,
    )
    .post(
        "/t/{town}/assessment/personal-property/{declaration}",
        page_amend,
    )
    .get(
        "/t/{town}/assessment/grand-list/{list_year}/motor-vehicles",
        page_vehicles,
    )
    .upload(
        "/t/{town}/assessment/grand-list/{list_year}/motor-vehicles",
        page_import_vehicles,
    )
}

// ---------------------------------------------------------------- API

/// The personal property declarations of a grand list.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/personal-property", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = Vec<Declaration>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_declarations(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<Declaration>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        personal_property::list(&scope, &mut c, year(&list_year)?).await?,
    ))
}

/// Files a personal property declaration (or the assessor's estimate when none was filed) on an open grand list; late or estimated ones carry the 25 % penalty.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/personal-property", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")), request_body = DeclarationIn,
    responses((status = 201, body = Declaration), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_declare(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    ApiJson(mut req): ApiJson<DeclarationIn>,
) -> ApiResult<Response> {
    req.list_year = year(&list_year)?;
    req.version = None;
    let mut tx = st.db.begin().await?;
    let d = personal_property::save(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(d)).into_response())
}

/// One declaration with its categories.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/personal-property/{declaration}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("declaration" = String, Path, description = "The declaration's id")),
    responses((status = 200, body = Declaration), (status = 404, body = munishare_web::error::Problem)))]
async fn api_declaration(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<Declaration>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        personal_property::get(&scope, &mut c, &id).await?,
    ))
}

/// Changes a declaration while its grand list is open (`version` as read).
#[utoipa::path(put, path = "/api/v1/towns/{town}/assessment/personal-property/{declaration}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("declaration" = String, Path, description = "The declaration's id")), request_body = DeclarationIn,
    responses((status = 200, body = Declaration), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_amend(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(mut req): ApiJson<DeclarationIn>,
) -> ApiResult<axum::Json<Declaration>> {
    let mut tx = st.db.begin().await?;
    let d = amend(&scope, &mut tx, &st, &id, &mut req).await?;
    tx.commit().await?;
    Ok(axum::Json(d))
}

async fn amend(
    scope: &ServiceScope,
    tx: &mut munishare_platform::db::Tx,
    st: &AppState,
    id: &str,
    req: &mut DeclarationIn,
) -> Result<Declaration> {
    let current = personal_property::get(scope, tx, id).await?;
    req.list_year = current.list_year;
    req.account = current.account;
    if req.version.is_none() {
        return Err(Error::invalid("version", "give the version you read"));
    }
    personal_property::save(scope, tx, st.now(), req).await
}

/// The motor vehicles of a grand list (from the DMV's file).
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/motor-vehicles", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = Vec<Vehicle>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_vehicles(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<Vehicle>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        motor_vehicles::list(&scope, &mut c, year(&list_year)?).await?,
    ))
}

/// The uploaded file's name.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FileQuery {
    /// Shown in errors and in the import record.
    pub file_name: String,
}

/// Imports the DMV's motor vehicles of a grand list (CSV: vin, plate, model_year, make, model, owner, mailing_address, retail_value); replaces the year's vehicles; all or nothing.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/motor-vehicle-imports", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year"), FileQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = ImportRecord), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_import_vehicles(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<FileQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = match munishare_web::upload::read_body(body).await {
        Ok(b) => b,
        Err(r) => return Ok(r),
    };
    let rec = import_vehicles(&st, &scope, year(&list_year)?, &q.file_name, bytes).await?;
    Ok((StatusCode::CREATED, axum::Json(rec)).into_response())
}

async fn import_vehicles(
    st: &AppState,
    scope: &ServiceScope,
    list_year: i64,
    file_name: &str,
    bytes: bytes::Bytes,
) -> Result<ImportRecord> {
    imports::run(
        scope,
        &st.db,
        &st.blobs,
        st.now(),
        Load::MotorVehicles(list_year),
        file_name,
        bytes,
    )
    .await
}

// ---------------------------------------------------------------- pages

fn category_label(key: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|c| c.0 == key)
        .map_or("Other", |c| c.1)
}

#[derive(Template)]
#[template(path = "assessment_personal_property.html")]
struct DeclarationsPage {
    chrome: Chrome,
    base: String,
    list_year: i64,
    open: bool,
    can_edit: bool,
    due: String,
    last_extension: String,
    today: String,
    declarations: Vec<Declaration>,
    assessed_cents: i64,
    penalty_cents: i64,
    categories: &'static [(&'static str, &'static str)],
}

impl DeclarationsPage {
    fn source_label(&self, d: &Declaration) -> String {
        source_label(d)
    }
}

fn source_label(d: &Declaration) -> String {
    match (d.source.as_str(), d.penalty_cents > 0) {
        ("estimated", _) => "Estimated by the assessor (none filed)".into(),
        (_, true) => format!("Filed late, {}", d.filed_on),
        _ => format!("Filed {}", d.filed_on),
    }
}

/// The query of the declarations page.
#[derive(Debug, Deserialize)]
struct ListQuery {
    format: Option<String>,
}

async fn page_declarations(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let list_year = year(&list_year)?;
    let mut c = st.db.read().await?;
    let declarations = personal_property::list(&scope, &mut c, list_year).await?;
    if let Some(f) = q.format.as_deref() {
        let mut rows = vec![
            [
                "account",
                "business",
                "owner",
                "location",
                "source",
                "filed_on",
                "extended_to",
                "assessed",
                "penalty",
                "total",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for d in &declarations {
            rows.push(vec![
                d.account.clone(),
                d.business.clone(),
                d.owner.clone(),
                d.location.clone(),
                d.source.clone(),
                d.filed_on.clone(),
                d.extended_to.clone(),
                Money::from_cents(d.assessed_cents).to_decimal().to_string(),
                Money::from_cents(d.penalty_cents).to_decimal().to_string(),
                Money::from_cents(d.total_cents()).to_decimal().to_string(),
            ]);
        }
        return table_response(Some(f), &format!("personal-property-{list_year}"), rows);
    }
    let due = personal_property::due_date(list_year)?;
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Personal property {list_year} — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    let page = DeclarationsPage {
        base: base(&scope),
        list_year,
        open: !crate::grand_list::is_signed(&scope, &mut c, list_year).await?,
        can_edit: scope.can(Permission::Edit),
        due: format_date(due),
        last_extension: format_date(due + time::Duration::days(45)),
        today: format_date(st.today()),
        assessed_cents: declarations.iter().map(|d| d.assessed_cents).sum(),
        penalty_cents: declarations.iter().map(|d| d.penalty_cents).sum(),
        declarations,
        categories: &CATEGORIES,
        chrome,
    };
    render(&page, &user)
}

fn field(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).cloned().unwrap_or_default()
}

fn declaration_in(f: &HashMap<String, String>, list_year: i64) -> DeclarationIn {
    DeclarationIn {
        list_year,
        account: field(f, "account"),
        business: field(f, "business"),
        owner: field(f, "owner"),
        location: field(f, "location"),
        mailing_address: field(f, "mailing_address"),
        source: field(f, "source"),
        filed_on: field(f, "filed_on"),
        extended_to: field(f, "extended_to"),
        values: CATEGORIES
            .iter()
            .map(|(k, _)| ((*k).to_owned(), field(f, &format!("value_{k}"))))
            .collect::<BTreeMap<_, _>>(),
        version: f.get("version").and_then(|v| v.parse().ok()),
    }
}

async fn page_declare(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let list_year = year(&list_year)?;
        let mut tx = st.db.begin().await?;
        let d = personal_property::save(&scope, &mut tx, st.now(), &declaration_in(&f, list_year))
            .await?;
        tx.commit().await?;
        Ok(format!(
            "{} ({}): assessed {}{}.",
            d.account,
            d.business,
            Money::from_cents(d.assessed_cents),
            if d.penalty_cents > 0 {
                format!(
                    " plus a 25% penalty of {}",
                    Money::from_cents(d.penalty_cents)
                )
            } else {
                String::new()
            }
        ))
    }
    .await;
    let back = format!(
        "{}/grand-list/{}/personal-property",
        base(&scope),
        enc(&list_year)
    );
    after_form(&st, &back, r)
}

#[derive(Template)]
#[template(path = "assessment_declaration.html")]
struct DeclarationPage {
    chrome: Chrome,
    base: String,
    d: Declaration,
    source: String,
    open: bool,
    can_edit: bool,
    values: Vec<(&'static str, &'static str, String)>,
}

impl DeclarationPage {
    fn category_label(&self, key: &str) -> &'static str {
        category_label(key)
    }
}

async fn page_declaration(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let d = personal_property::get(&scope, &mut c, &id).await?;
    let values = CATEGORIES
        .iter()
        .map(|(k, l)| {
            let v = d
                .lines
                .iter()
                .find(|x| x.category == *k)
                .map(|x| (x.value_cents / 100).to_string())
                .unwrap_or_default();
            (*k, *l, v)
        })
        .collect();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("{} — {}", d.account, scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    let page = DeclarationPage {
        base: base(&scope),
        open: !crate::grand_list::is_signed(&scope, &mut c, d.list_year).await?,
        can_edit: scope.can(Permission::Edit),
        source: source_label(&d),
        values,
        d,
        chrome,
    };
    render(&page, &user)
}

async fn page_amend(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let mut tx = st.db.begin().await?;
        let mut req = declaration_in(&f, 0);
        let d = amend(&scope, &mut tx, &st, &id, &mut req).await?;
        tx.commit().await?;
        Ok(format!("{} saved (version {}).", d.account, d.version))
    }
    .await;
    let back = format!("{}/personal-property/{}", base(&scope), enc(&id));
    after_form(&st, &back, r)
}

#[derive(Template)]
#[template(path = "assessment_motor_vehicles.html")]
struct VehiclesPage {
    chrome: Chrome,
    base: String,
    list_year: i64,
    open: bool,
    can_edit: bool,
    vehicles: Vec<Vehicle>,
    shown: usize,
    assessed_cents: i64,
    cap: &'static str,
    q: String,
    /// The regular list is signed and its mill rate set: the supplemental list may follow.
    rate_set: bool,
    can_approve: bool,
    /// The supplemental list (empty status: not taken).
    sup: SupplementalList,
    /// Vehicles imported from the DMV's supplemental file.
    sup_vehicles: usize,
    sup_items: Vec<SupplementalItem>,
    sup_totals: SupplementalTotals,
    receivable_guess: String,
    revenue_guess: String,
}

/// The query of the vehicles page.
#[derive(Debug, Deserialize)]
struct VehicleQuery {
    q: Option<String>,
    format: Option<String>,
}

async fn page_vehicles(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Query(q): Query<VehicleQuery>,
) -> PageResult {
    let list_year = year(&list_year)?;
    let mut c = st.db.read().await?;
    let all = motor_vehicles::list(&scope, &mut c, list_year).await?;
    let needle = q.q.as_deref().unwrap_or("").trim().to_uppercase();
    let vehicles: Vec<Vehicle> = all
        .iter()
        .filter(|v| {
            needle.is_empty()
                || v.vin.contains(&needle)
                || v.plate.contains(&needle)
                || v.owner.to_uppercase().contains(&needle)
                || v.make.contains(&needle)
        })
        .cloned()
        .collect();
    if let Some(f) = q.format.as_deref() {
        let mut rows = vec![
            [
                "account",
                "vin",
                "plate",
                "model_year",
                "make",
                "model",
                "owner",
                "retail_value",
                "assessed",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for v in &vehicles {
            rows.push(vec![
                v.account(),
                v.vin.clone(),
                v.plate.clone(),
                v.model_year.to_string(),
                v.make.clone(),
                v.model.clone(),
                v.owner.clone(),
                Money::from_cents(v.retail_cents).to_decimal().to_string(),
                Money::from_cents(v.assessed_cents).to_decimal().to_string(),
            ]);
        }
        return table_response(Some(f), &format!("motor-vehicles-{list_year}"), rows);
    }
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Motor vehicles {list_year} — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    let signed = crate::grand_list::is_signed(&scope, &mut c, list_year).await?;
    let rate_set = signed
        && crate::grand_list::get(&scope, &mut c, list_year)
            .await
            .is_ok_and(|gl| !gl.mill_rate.is_empty());
    let sup = supplemental::find(&scope, &mut c, list_year)
        .await?
        .unwrap_or_default();
    let sup_vehicles = supplemental::vehicles(&scope, &mut c, list_year)
        .await?
        .len();
    let sup_items = supplemental::items(&scope, &mut c, list_year, None).await?;
    drop(c);
    let (receivable_guess, revenue_guess) =
        super::grand_list::levy_accounts_guess(&st, &user, &scope).await?;
    let page = VehiclesPage {
        base: base(&scope),
        list_year,
        open: !signed,
        rate_set,
        can_approve: scope.can(Permission::Approve),
        sup_totals: supplemental::totals(&sup_items),
        sup,
        sup_vehicles,
        sup_items,
        receivable_guess,
        revenue_guess,
        can_edit: scope.can(Permission::Edit),
        assessed_cents: vehicles.iter().map(|v| v.assessed_cents).sum(),
        shown: vehicles.len().min(500),
        vehicles: vehicles.into_iter().take(500).collect(),
        cap: MV_MILL_RATE_CAP,
        q: q.q.unwrap_or_default(),
        chrome,
    };
    render(&page, &user)
}

async fn page_import_vehicles(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    form: Multipart,
) -> PageResult {
    let back = format!(
        "{}/grand-list/{}/motor-vehicles",
        base(&scope),
        enc(&list_year)
    );
    let list_year = year(&list_year)?;
    let form = munishare_web::upload::read_form(form).await?;
    let Some((name, bytes)) = form.file else {
        return Ok(redirect_flash(
            &st,
            &back,
            "error",
            "file: choose the DMV file to import",
        ));
    };
    Ok(
        match import_vehicles(&st, &scope, list_year, &name, bytes).await {
            Ok(r) => redirect_flash(
                &st,
                &back,
                "ok",
                &format!(
                    "{}: {} vehicles imported (replacing {}).",
                    r.file_name, r.rows, r.changed
                ),
            ),
            Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
                redirect_flash(&st, &back, "error", &format!("Nothing was imported. {e}"))
            }
            Err(e) => return Err(e.into()),
        },
    )
}
