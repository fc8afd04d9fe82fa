//! Field work over HTTP (docs/design/0009-field-work.md): a town's building
//! permits (import, list, export), its inspections (create, assign, record
//! the result, cancel), the CGS 12-62 check with its bulk action and the owner
//! data mailers; and the regional work queue of the field assessors, across
//! exactly the towns where the caller holds assessment access.

use std::collections::HashMap;

use askama::Template;
use axum::body::Body;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::{self, Principal, ServiceScope};
use munishare_platform::types::{Permission, Service, format_date};
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ApiCaller, PageUser, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, dollars, enc, redirect_flash, render,
    table_response,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roll::Assessment;
use crate::field::{
    self, Compliance, CyclicalIn, CyclicalOut, Found, Inspection, InspectionFilter, InspectionIn,
    Mailer, Permit, PermitFilter, REASONS, ResultIn,
};
use crate::imports::{self, ImportRecord, Load};
use crate::parcels;
use crate::revaluation::{self, CycleStatus};

const TOWN: &str = "The town's slug, e.g. `hartford`.";
const INSPECTION: &str = "Inspection id";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_permits))
        .routes(routes!(api_import_permits))
        .routes(routes!(api_inspections, api_create_inspection))
        .routes(routes!(api_inspection))
        .routes(routes!(api_assign))
        .routes(routes!(api_result))
        .routes(routes!(api_cancel))
        .routes(routes!(api_inspectors))
        .routes(routes!(api_compliance))
        .routes(routes!(api_cyclical))
        .routes(routes!(api_mailers))
        .routes(routes!(api_return_mailer))
        .routes(routes!(api_queue))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/assessment/field", page_queue)
        .get("/t/{town}/assessment/field", page_field)
        .get("/t/{town}/assessment/field/permits", page_permits)
        .upload("/t/{town}/assessment/field/permits", page_import)
        .post("/t/{town}/assessment/field/inspections", page_create)
        .post(
            "/t/{town}/assessment/field/inspections/{inspection}/assignment",
            page_assign,
        )
        .post(
            "/t/{town}/assessment/field/inspections/{inspection}/result",
            page_result,
        )
        .post(
            "/t/{town}/assessment/field/inspections/{inspection}/cancellation",
            page_cancel,
        )
        .post("/t/{town}/assessment/field/cyclical", page_cyclical)
        .post(
            "/t/{town}/assessment/field/mailers/{mailer}/return",
            page_return_mailer,
        )
}

// ---------------------------------------------------------------- API

/// The town's building permits, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/permits", tag = "assessment",
    params(("town" = String, Path, description = TOWN), PermitFilter),
    responses((status = 200, body = Vec<Permit>), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_permits(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(f): ApiQuery<PermitFilter>,
) -> ApiResult<axum::Json<Vec<Permit>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(field::permits(&scope, &mut c, &f).await?))
}

/// The uploaded file's name.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PermitFileQuery {
    /// Shown in errors and in the import record.
    pub file_name: String,
}

async fn import(
    st: &AppState,
    scope: &ServiceScope,
    file_name: &str,
    bytes: bytes::Bytes,
) -> Result<ImportRecord> {
    imports::run(
        scope,
        &st.db,
        &st.blobs,
        st.now(),
        Load::Permits,
        file_name,
        bytes,
    )
    .await
}

/// Imports building permits (CSV: permit_number, parcel_id, issued_on, description, optionally work_type, value); each new permit creates its pick-up inspection; all or nothing; the same file twice is refused.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/permit-imports", tag = "assessment",
    params(("town" = String, Path, description = TOWN), PermitFileQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = ImportRecord), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_import_permits(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(q): ApiQuery<PermitFileQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = match munishare_web::upload::read_body(body).await {
        Ok(b) => b,
        Err(r) => return Ok(r),
    };
    let rec = import(&st, &scope, &q.file_name, bytes).await?;
    Ok((StatusCode::CREATED, axum::Json(rec)).into_response())
}

/// The town's inspections, by due date (default: open and assigned).
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/inspections", tag = "assessment",
    params(("town" = String, Path, description = TOWN), InspectionFilter),
    responses((status = 200, body = Vec<Inspection>), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_inspections(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(f): ApiQuery<InspectionFilter>,
) -> ApiResult<axum::Json<Vec<Inspection>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(field::list(&scope, &mut c, &f).await?))
}

/// Creates an inspection on a parcel.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/inspections", tag = "assessment",
    params(("town" = String, Path, description = TOWN)), request_body = InspectionIn,
    responses((status = 201, body = Inspection), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_inspection(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiJson(req): ApiJson<InspectionIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let i = field::create(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(i)).into_response())
}

/// One inspection.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/inspections/{inspection}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("inspection" = String, Path, description = INSPECTION)),
    responses((status = 200, body = Inspection), (status = 404, body = munishare_web::error::Problem)))]
async fn api_inspection(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<Inspection>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(field::get(&scope, &mut c, &id).await?))
}

/// Who to assign.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignIn {
    /// The inspection's version as read.
    pub version: i64,
    /// The inspector's user id; absent or `me` for the caller.
    #[serde(default)]
    pub inspector: Option<String>,
}

fn inspector_id(scope: &ServiceScope, who: Option<&str>) -> String {
    match who.map(str::trim) {
        None | Some("" | "me") => scope.user_id().as_str().to_owned(),
        Some(id) => id.to_owned(),
    }
}

/// Assigns an open (or reassigns an assigned) inspection; the inspector must hold edit in assessment in the town.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/inspections/{inspection}/assignment", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("inspection" = String, Path, description = INSPECTION)), request_body = AssignIn,
    responses((status = 200, body = Inspection), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_assign(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<AssignIn>,
) -> ApiResult<axum::Json<Inspection>> {
    let who = inspector_id(&scope, req.inspector.as_deref());
    let mut tx = st.db.begin().await?;
    let i = field::assign(&scope, &mut tx, st.now(), &id, req.version, &who).await?;
    tx.commit().await?;
    Ok(axum::Json(i))
}

/// Records what an assigned inspection found; it is then done.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/inspections/{inspection}/result", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("inspection" = String, Path, description = INSPECTION)), request_body = ResultIn,
    responses((status = 200, body = Inspection), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_result(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<ResultIn>,
) -> ApiResult<axum::Json<Inspection>> {
    let mut tx = st.db.begin().await?;
    let i = field::record_result(&scope, &mut tx, st.now(), &id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(i))
}

/// Why an inspection is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelIn {
    /// The inspection's version as read.
    pub version: i64,
    /// Why (5 to 500 characters).
    pub reason: String,
}

/// Cancels an open or assigned inspection.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/inspections/{inspection}/cancellation", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("inspection" = String, Path, description = INSPECTION)), request_body = CancelIn,
    responses((status = 200, body = Inspection), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_cancel(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<CancelIn>,
) -> ApiResult<axum::Json<Inspection>> {
    let mut tx = st.db.begin().await?;
    let i = field::cancel(&scope, &mut tx, st.now(), &id, req.version, &req.reason).await?;
    tx.commit().await?;
    Ok(axum::Json(i))
}

/// Someone who may be assigned inspections.
#[derive(Debug, Serialize, ToSchema)]
pub struct InspectorOut {
    /// User id.
    pub user_id: String,
    /// Sign-in name.
    pub username: String,
    /// Name.
    pub display_name: String,
}

/// Who may be assigned inspections in the town (users with edit in assessment there).
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/inspectors", tag = "assessment",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<InspectorOut>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_inspectors(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
) -> ApiResult<axum::Json<Vec<InspectorOut>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        field::inspectors(&scope, &mut c)
            .await?
            .into_iter()
            .map(|u| InspectorOut {
                user_id: u.user_id.as_str().to_owned(),
                username: u.username,
                display_name: u.display_name,
            })
            .collect(),
    ))
}

/// The CGS 12-62 check: parcels whose last full inspection is more than ten years before the current October 1 (or missing), with counts by neighbourhood.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/compliance", tag = "assessment",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Compliance), (status = 404, body = munishare_web::error::Problem)))]
async fn api_compliance(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
) -> ApiResult<axum::Json<Compliance>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        field::compliance(&scope, &mut c, st.today()).await?,
    ))
}

/// Creates a cyclical inspection (or an owner data mailer) for every parcel due under CGS 12-62 with none scheduled.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/compliance/cyclical", tag = "assessment",
    params(("town" = String, Path, description = TOWN)), request_body = CyclicalIn,
    responses((status = 201, body = CyclicalOut), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_cyclical(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiJson(req): ApiJson<CyclicalIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let out = field::schedule_cyclical(&scope, &mut tx, st.now(), st.today(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

/// Which mailers.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct MailersQuery {
    /// Only those not returned yet.
    pub outstanding: Option<bool>,
}

/// The town's owner data mailers, newest first.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/mailers", tag = "assessment",
    params(("town" = String, Path, description = TOWN), MailersQuery),
    responses((status = 200, body = Vec<Mailer>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_mailers(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(q): ApiQuery<MailersQuery>,
) -> ApiResult<axum::Json<Vec<Mailer>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        field::mailers(&scope, &mut c, q.outstanding.unwrap_or(false)).await?,
    ))
}

/// A mailer's return.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReturnIn {
    /// The mailer's version as read.
    pub version: i64,
    /// When the owner returned it, `YYYY-MM-DD`.
    pub returned_on: String,
}

/// Records that the owner returned a mailer (a full inspection under CGS 12-62 as of that date).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/mailers/{mailer}/return", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("mailer" = String, Path, description = "Mailer id")), request_body = ReturnIn,
    responses((status = 200, body = Mailer), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_return_mailer(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<ReturnIn>,
) -> ApiResult<axum::Json<Mailer>> {
    let mut tx = st.db.begin().await?;
    let m = field::return_mailer(
        &scope,
        &mut tx,
        st.now(),
        &id,
        req.version,
        &req.returned_on,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(m))
}

/// Which inspections of the regional queue.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
pub struct QueueQuery {
    /// One town's slug (default: every town where the caller has assessment access).
    pub town: Option<String>,
    /// `permit`, `sale`, `cyclical`, `appeal` or `other`.
    pub reason: Option<String>,
    /// `open`, `assigned`, `done`, `cancelled`, `active` (open or assigned, default) or `all`.
    pub status: Option<String>,
    /// `me`, or an inspector's user id.
    pub inspector: Option<String>,
    /// `due` (by due date, default) or `route` (town by town, then by neighbourhood, street and house number: the order to drive them in).
    pub order: Option<String>,
    /// `csv` or `xlsx` (pages).
    #[param(ignore)]
    pub format: Option<String>,
}

/// An inspection in the regional queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    /// The town's slug.
    pub town: String,
    /// The town's name.
    pub town_name: String,
    /// Whether the caller may assign it and record its result.
    pub can_edit: bool,
    /// The inspection.
    #[serde(flatten)]
    pub inspection: Inspection,
}

async fn queue(st: &AppState, principal: &Principal, q: &QueueQuery) -> Result<Vec<QueueItem>> {
    let scopes = access::service_scopes(
        &st.db,
        principal,
        st.today(),
        Service::Assessment,
        Permission::View,
    )
    .await?;
    let town = q.town.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if let Some(t) = town
        && !scopes.iter().any(|s| s.town().slug.as_str() == t)
    {
        return Err(Error::invalid(
            "town",
            "not a town where you have property assessment access",
        ));
    }
    let filter = InspectionFilter {
        reason: q.reason.clone(),
        status: q.status.clone(),
        inspector: q.inspector.as_deref().map(|i| {
            if i.trim() == "me" {
                principal.user_id().as_str().to_owned()
            } else {
                i.to_owned()
            }
        }),
        parcel_id: None,
    };
    let mut c = st.db.read().await?;
    let mut out = Vec::new();
    for s in scopes
        .iter()
        .filter(|s| town.is_none_or(|t| s.town().slug.as_str() == t))
    {
        for inspection in field::list(s, &mut c, &filter).await? {
            out.push(QueueItem {
                town: s.town().slug.as_str().to_owned(),
                town_name: s.town().name.clone(),
                can_edit: s.can(Permission::Edit),
                inspection,
            });
        }
    }
    match q.order.as_deref().map(str::trim).unwrap_or("") {
        "" | "due" => out.sort_by(|a, b| {
            (&a.inspection.due_on, &a.town, &a.inspection.parcel_key).cmp(&(
                &b.inspection.due_on,
                &b.town,
                &b.inspection.parcel_key,
            ))
        }),
        "route" => out.sort_by_cached_key(|i| {
            (
                i.town.clone(),
                i.inspection.neighbourhood.clone(),
                field::route_key(&i.inspection.location),
                i.inspection.parcel_key.clone(),
            )
        }),
        other => {
            return Err(Error::invalid(
                "order",
                format!("'{other}' is not an order: use due or route"),
            ));
        }
    }
    Ok(out)
}

/// The field assessors' regional queue: inspections across every town where the caller has assessment access (and no other), by due date or in route order.
#[utoipa::path(get, path = "/api/v1/assessment/field/inspections", tag = "assessment", params(QueueQuery),
    responses((status = 200, body = Vec<QueueItem>), (status = 401, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_queue(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> ApiResult<axum::Json<Vec<QueueItem>>> {
    Ok(axum::Json(queue(&st, &p, &q).await?))
}

// ---------------------------------------------------------------- pages

fn base(scope: &ServiceScope) -> String {
    format!("/t/{}/assessment", scope.town().slug)
}

fn reason_label(r: &str) -> &'static str {
    REASONS.iter().find(|x| x.0 == r).map_or("Other", |x| x.1)
}

fn inspection_row(town: &str, i: &Inspection) -> Vec<String> {
    vec![
        town.to_owned(),
        i.due_on.clone(),
        i.parcel_key.clone(),
        i.location.clone(),
        i.neighbourhood.clone(),
        i.reason.clone(),
        i.source.clone(),
        i.status.clone(),
        i.inspector_name.clone(),
        i.inspected_on.clone(),
        if i.status == "done" {
            if i.interior { "yes" } else { "no" }.to_owned()
        } else {
            String::new()
        },
        i.changes.clone(),
        i.notes.clone(),
    ]
}

const INSPECTION_HEAD: [&str; 13] = [
    "town",
    "due_on",
    "parcel_id",
    "location",
    "neighbourhood",
    "reason",
    "source",
    "status",
    "inspector",
    "inspected_on",
    "interior",
    "changes",
    "notes",
];

#[derive(Template)]
#[template(path = "assessment_field_queue.html")]
struct QueuePage {
    chrome: Chrome,
    items: Vec<QueueItem>,
    shown: usize,
    towns: Vec<(String, String)>,
    q: QueueQuery,
    me: String,
    today: String,
    back: String,
    query: String,
    reasons: &'static [(&'static str, &'static str)],
}

impl QueuePage {
    fn reason(&self, r: &str) -> &'static str {
        reason_label(r)
    }
    fn sel<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
}

async fn page_queue(
    State(st): State<AppState>,
    user: PageUser,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    let items = queue(&st, &user.principal, &q).await?;
    if q.format.is_some() {
        let mut rows = vec![INSPECTION_HEAD.map(str::to_owned).to_vec()];
        rows.extend(items.iter().map(|i| inspection_row(&i.town, &i.inspection)));
        return table_response(q.format.as_deref(), "field-inspections", rows);
    }
    let towns = access::service_scopes(
        &st.db,
        &user.principal,
        st.today(),
        Service::Assessment,
        Permission::View,
    )
    .await?
    .iter()
    .map(|s| (s.town().slug.as_str().to_owned(), s.town().name.clone()))
    .collect();
    let query = format!(
        "town={}&reason={}&status={}&inspector={}&order={}",
        enc(q.town.as_deref().unwrap_or("")),
        enc(q.reason.as_deref().unwrap_or("")),
        enc(q.status.as_deref().unwrap_or("")),
        enc(q.inspector.as_deref().unwrap_or("")),
        enc(q.order.as_deref().unwrap_or(""))
    );
    let chrome = Chrome::new(&st, &user, "Field inspections — regional queue", "").await?;
    let shown = items.len();
    render(
        &QueuePage {
            chrome,
            items: items.into_iter().take(500).collect(),
            shown,
            towns,
            me: user.principal.user_id().as_str().to_owned(),
            today: format_date(st.today()),
            back: format!("/assessment/field?{query}"),
            query,
            q,
            reasons: &REASONS,
        },
        &user,
    )
}

/// `?reason=&status=&inspector=&format=`.
#[derive(Debug, Default, Deserialize)]
struct FieldQuery {
    reason: Option<String>,
    status: Option<String>,
    inspector: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "assessment_field.html")]
struct FieldPage {
    chrome: Chrome,
    town: String,
    base: String,
    can_edit: bool,
    inspections: Vec<Inspection>,
    shown: usize,
    inspectors: Vec<InspectorOut>,
    compliance: Compliance,
    mailers: Vec<Mailer>,
    outstanding: usize,
    /// The parcels of the assigned inspections listed, for the result form.
    found: HashMap<String, FoundForm>,
    reval: CycleStatus,
    can_approve: bool,
    q: FieldQuery,
    query: String,
    back: String,
    today: String,
    reasons: &'static [(&'static str, &'static str)],
}

/// A parcel's characteristics, prefilled in a result form.
struct FoundForm {
    version: i64,
    fields: Vec<(&'static str, String)>,
}

impl FieldPage {
    fn reason(&self, r: &str) -> &'static str {
        reason_label(r)
    }
    fn found(&self, parcel_id: &str) -> Option<&FoundForm> {
        self.found.get(parcel_id)
    }
    fn is_text(&self, k: &str) -> bool {
        ["style", "land_use", "zoning"].contains(&k)
    }
    fn is_grade(&self, k: &str) -> bool {
        ["quality", "condition"].contains(&k)
    }
    fn sel<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
}

async fn page_field(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Query(q): Query<FieldQuery>,
) -> PageResult {
    let filter = InspectionFilter {
        reason: q.reason.clone(),
        status: q.status.clone(),
        inspector: q.inspector.clone(),
        parcel_id: None,
    };
    let mut c = st.db.read().await?;
    let list = field::list(&scope, &mut c, &filter).await?;
    if q.format.is_some() {
        drop(c);
        let mut rows = vec![INSPECTION_HEAD.map(str::to_owned).to_vec()];
        rows.extend(
            list.iter()
                .map(|i| inspection_row(scope.town().slug.as_str(), i)),
        );
        return table_response(
            q.format.as_deref(),
            &format!("inspections-{}", scope.town().slug),
            rows,
        );
    }
    let inspectors = field::inspectors(&scope, &mut c)
        .await?
        .into_iter()
        .map(|u| InspectorOut {
            user_id: u.user_id.as_str().to_owned(),
            username: u.username,
            display_name: u.display_name,
        })
        .collect();
    let compliance = field::compliance(&scope, &mut c, st.today()).await?;
    let mailers = field::mailers(&scope, &mut c, true).await?;
    let reval = revaluation::status(&scope, &mut c, st.today()).await?;
    let mut found = HashMap::new();
    for i in list.iter().take(300).filter(|i| i.status == "assigned") {
        if !found.contains_key(&i.parcel_id) {
            let p = parcels::get(&scope, &mut c, &i.parcel_id).await?;
            let form = FoundForm {
                version: p.version,
                fields: field::characteristics(&p),
            };
            found.insert(i.parcel_id.clone(), form);
        }
    }
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Field inspections — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    let query = format!(
        "reason={}&status={}&inspector={}",
        enc(q.reason.as_deref().unwrap_or("")),
        enc(q.status.as_deref().unwrap_or("")),
        enc(q.inspector.as_deref().unwrap_or(""))
    );
    let shown = list.len();
    let outstanding = mailers.len();
    render(
        &FieldPage {
            chrome,
            town: scope.town().name.clone(),
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            inspections: list.into_iter().take(300).collect(),
            shown,
            inspectors,
            compliance,
            mailers: mailers.into_iter().take(100).collect(),
            outstanding,
            found,
            reval,
            can_approve: scope.can(Permission::Approve),
            back: format!("{}/field?{query}", base(&scope)),
            query,
            q,
            today: format_date(st.today()),
            reasons: &REASONS,
        },
        &user,
    )
}

#[derive(Template)]
#[template(path = "assessment_permits.html")]
struct PermitsPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    permits: Vec<Permit>,
    shown: usize,
    q: PermitsPageQuery,
    query: String,
}

/// `?q=&from=&to=&format=`.
#[derive(Debug, Default, Deserialize)]
struct PermitsPageQuery {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

impl PermitsPage {
    fn sel<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
}

async fn page_permits(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Query(q): Query<PermitsPageQuery>,
) -> PageResult {
    let f = PermitFilter {
        q: q.q.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
    };
    let mut c = st.db.read().await?;
    let list = field::permits(&scope, &mut c, &f).await?;
    drop(c);
    if q.format.is_some() {
        let mut rows = vec![
            [
                "permit_number",
                "parcel_id",
                "location",
                "issued_on",
                "work_type",
                "description",
                "value",
                "inspection_status",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        rows.extend(list.iter().map(|p| {
            vec![
                p.permit_number.clone(),
                p.parcel_key.clone(),
                p.location.clone(),
                p.issued_on.clone(),
                p.work_type.clone(),
                p.description.clone(),
                dollars(&p.value_cents),
                p.inspection_status.clone(),
            ]
        }));
        return table_response(
            q.format.as_deref(),
            &format!("permits-{}", scope.town().slug),
            rows,
        );
    }
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Building permits — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    let query = format!(
        "q={}&from={}&to={}",
        enc(q.q.as_deref().unwrap_or("")),
        enc(q.from.as_deref().unwrap_or("")),
        enc(q.to.as_deref().unwrap_or(""))
    );
    let shown = list.len();
    render(
        &PermitsPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            permits: list.into_iter().take(500).collect(),
            shown,
            q,
            query,
        },
        &user,
    )
}

async fn page_import(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    form: Multipart,
) -> PageResult {
    let back = format!("{}/field/permits", base(&scope));
    let form = munishare_web::upload::read_form(form).await?;
    let Some((name, bytes)) = form.file else {
        return Ok(redirect_flash(
            &st,
            &back,
            "error",
            "file: choose the permit file (CSV)",
        ));
    };
    Ok(match import(&st, &scope, &name, bytes).await {
        Ok(r) => redirect_flash(
            &st,
            &back,
            "ok",
            &format!(
                "{}: {} permits read, {} added with their inspections.",
                r.file_name, r.rows, r.added
            ),
        ),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            redirect_flash(&st, &back, "error", &format!("Nothing was imported. {e}"))
        }
        Err(e) => return Err(e.into()),
    })
}

/// Where a form returns: the `back` it names when that is the town's field
/// page or the regional queue, else the town's field page.
fn back_to(scope: &ServiceScope, f: &HashMap<String, String>) -> String {
    let own = format!("{}/field", base(scope));
    match f.get("back").map(String::as_str) {
        Some(b) if b.starts_with("/assessment/field") || b.starts_with(&own) => b.to_owned(),
        _ => own,
    }
}

fn version(f: &HashMap<String, String>) -> Result<i64> {
    let v = f.get("version").map_or("", |s| s.trim());
    v.parse()
        .map_err(|_| Error::invalid("version", format!("'{v}' is not a version")))
}

async fn page_create(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let r = async {
        let mut tx = st.db.begin().await?;
        let i = field::create(
            &scope,
            &mut tx,
            st.now(),
            &InspectionIn {
                parcel: get("parcel"),
                reason: get("reason"),
                due_on: get("due_on"),
                notes: get("notes"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(format!(
            "Inspection of {} ({}) due {} created.",
            i.parcel_key,
            reason_label(&i.reason),
            i.due_on
        ))
    }
    .await;
    after_form(&st, &back_to(&scope, &f), r)
}

async fn page_assign(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let v = version(&f)?;
        let who = inspector_id(&scope, f.get("inspector").map(String::as_str));
        let mut tx = st.db.begin().await?;
        let i = field::assign(&scope, &mut tx, st.now(), &id, v, &who).await?;
        tx.commit().await?;
        Ok(format!(
            "Inspection of {} assigned to {}.",
            i.parcel_key, i.inspector_name
        ))
    }
    .await;
    after_form(&st, &back_to(&scope, &f), r)
}

async fn page_result(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let req = result_in(&f)?;
        let mut tx = st.db.begin().await?;
        let i = field::record_result(&scope, &mut tx, st.now(), &id, &req).await?;
        tx.commit().await?;
        Ok(format!(
            "Inspection of {} done on {} ({}){}",
            i.parcel_key,
            i.inspected_on,
            if i.interior {
                "interior and exterior"
            } else {
                "exterior only"
            },
            if i.changes.is_empty() {
                ".".to_owned()
            } else {
                format!(": {}", i.changes)
            }
        ))
    }
    .await;
    after_form(&st, &back_to(&scope, &f), r)
}

/// A result form: the note, and the parcel's characteristics as found (a
/// number that does not read is refused naming its field).
fn result_in(f: &HashMap<String, String>) -> Result<ResultIn> {
    let text = |k: &str| f.get(k).cloned();
    let number = |k: &str| -> Result<Option<i64>> {
        match f.get(k).map(|v| v.trim().replace(',', "")) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| Error::invalid(k, format!("'{v}' is not a whole number"))),
        }
    };
    Ok(ResultIn {
        version: version(f)?,
        inspected_on: f.get("inspected_on").cloned().unwrap_or_default(),
        interior: f.get("interior").is_some_and(|v| v == "yes"),
        changes: f.get("changes").cloned().unwrap_or_default(),
        parcel_version: number("parcel_version")?,
        found: Found {
            style: text("style"),
            year_built: number("year_built")?,
            living_sqft: number("living_sqft")?,
            rooms: number("rooms")?,
            bedrooms: number("bedrooms")?,
            full_baths: number("full_baths")?,
            half_baths: number("half_baths")?,
            quality: number("quality")?,
            condition: number("condition")?,
            garage_spaces: number("garage_spaces")?,
            land_use: text("land_use"),
            zoning: text("zoning"),
        },
    })
}

async fn page_cancel(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let v = version(&f)?;
        let reason = f.get("reason").cloned().unwrap_or_default();
        let mut tx = st.db.begin().await?;
        let i = field::cancel(&scope, &mut tx, st.now(), &id, v, &reason).await?;
        tx.commit().await?;
        Ok(format!("Inspection of {} cancelled.", i.parcel_key))
    }
    .await;
    after_form(&st, &back_to(&scope, &f), r)
}

async fn page_cyclical(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let req = CyclicalIn {
            method: f.get("method").cloned().unwrap_or_default(),
            date: f.get("date").cloned().unwrap_or_default(),
            neighbourhood: f.get("neighbourhood").cloned(),
        };
        let mut tx = st.db.begin().await?;
        let out = field::schedule_cyclical(&scope, &mut tx, st.now(), st.today(), &req).await?;
        tx.commit().await?;
        Ok(if out.method == "inspection" {
            format!("{} cyclical inspections created.", out.created)
        } else {
            format!("{} owner data mailers recorded as sent.", out.created)
        })
    }
    .await;
    after_form(&st, &back_to(&scope, &f), r)
}

async fn page_return_mailer(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let v = version(&f)?;
        let on = f.get("returned_on").cloned().unwrap_or_default();
        let mut tx = st.db.begin().await?;
        let m = field::return_mailer(&scope, &mut tx, st.now(), &id, v, &on).await?;
        tx.commit().await?;
        Ok(format!(
            "Mailer of {} returned on {}.",
            m.parcel_key, m.returned_on
        ))
    }
    .await;
    after_form(&st, &back_to(&scope, &f), r)
}
