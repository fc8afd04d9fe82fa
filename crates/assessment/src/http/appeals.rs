//! Appeals and certificates of correction over HTTP: petitions to the Board
//! of Assessment Appeals (file, schedule the hearing, decide, withdraw), the
//! hearing schedule, certificates of correction on a signed grand list
//! (issued by a decision or for a clerical error), and posting a
//! certificate's change of tax to the town's books.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::Result;
use munishare_platform::access::ServiceScope;
use munishare_platform::types::{Permission, format_date};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ApiCaller, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{
    Chrome, PageResult, PageRoutes, after_form, dollars, enc, render, table_response,
};
use munishare_web::related::{RecordRef, RelatedDocuments, related_documents};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::grand_list::{base, finance_scope, levy_accounts_guess, list_back, year};
use super::roll::Assessment;
use crate::appeals::{
    self, Appeal, AppealFilter, ClericalIn, Correction, DECISIONS, DecisionIn, HearingIn,
    PetitionIn,
};
use crate::grand_list::{self, LevyIn};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_appeals, api_file))
        .routes(routes!(api_appeal))
        .routes(routes!(api_schedule))
        .routes(routes!(api_decide_appeal))
        .routes(routes!(api_withdraw))
        .routes(routes!(api_corrections, api_correct))
        .routes(routes!(api_correction))
        .routes(routes!(api_post_correction))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/assessment/appeals", page_appeals)
        .post("/t/{town}/assessment/appeals", page_file)
        .get("/t/{town}/assessment/appeals/{appeal}", page_appeal)
        .post(
            "/t/{town}/assessment/appeals/{appeal}/hearing",
            page_schedule,
        )
        .post(
            "/t/{town}/assessment/appeals/{appeal}/decision",
            page_decide,
        )
        .post(
            "/t/{town}/assessment/appeals/{appeal}/withdrawal",
            page_withdraw,
        )
        .post(
            "/t/{town}/assessment/grand-list/{list_year}/corrections",
            page_correct,
        )
        .get(
            "/t/{town}/assessment/grand-list/{list_year}/corrections/{certificate}",
            page_correction,
        )
        .post(
            "/t/{town}/assessment/grand-list/{list_year}/corrections/{certificate}/posting",
            page_post_correction,
        )
}

// ---------------------------------------------------------------- API

/// A petition with what follows from it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppealOut {
    /// The petition.
    #[serde(flatten)]
    pub appeal: Appeal,
    /// The last day to file a petition on its grand list, `YYYY-MM-DD`.
    pub petition_deadline: String,
    /// The last day to appeal the board's decision to the Superior Court (two months after the notice), `YYYY-MM-DD`.
    pub court_deadline: Option<String>,
    /// The certificate of correction the decision issued.
    pub certificate: Option<Correction>,
}

async fn appeal_out(
    scope: &ServiceScope,
    c: &mut impl munishare_platform::db::Executor,
    appeal: Appeal,
) -> Result<AppealOut> {
    let gl = grand_list::get(scope, c, appeal.list_year).await?;
    let certificate = if appeal.certificate_number.is_empty() {
        None
    } else {
        Some(appeals::correction(scope, c, appeal.list_year, &appeal.certificate_number).await?)
    };
    Ok(AppealOut {
        petition_deadline: format_date(appeals::petition_deadline(&gl)?),
        court_deadline: appeal.court_deadline(),
        certificate,
        appeal,
    })
}

/// A petition as filed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FileIn {
    /// The grand list appealed.
    pub list_year: i64,
    /// The petition.
    #[serde(flatten)]
    pub petition: PetitionIn,
}

/// The version of a petition as read.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VersionIn {
    /// The version.
    pub version: i64,
}

/// The town's petitions to the Board of Assessment Appeals.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/appeals", tag = "assessment",
    params(("town" = String, Path, description = TOWN), AppealFilter),
    responses((status = 200, body = Vec<Appeal>), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_appeals(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiQuery(f): ApiQuery<AppealFilter>,
) -> ApiResult<axum::Json<Vec<Appeal>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(appeals::list(&scope, &mut c, &f).await?))
}

/// Records a petition against an account of a signed grand list (by February 20 after the list year; March 20 when the list was signed late).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/appeals", tag = "assessment",
    params(("town" = String, Path, description = TOWN)), request_body = FileIn,
    responses((status = 201, body = AppealOut), (status = 403, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_file(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiJson(req): ApiJson<FileIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let a = appeals::file(&scope, &mut tx, st.now(), req.list_year, &req.petition).await?;
    let out = appeal_out(&scope, &mut tx, a).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

/// One petition.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/appeals/{appeal}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("appeal" = String, Path, description = "The petition's id")),
    responses((status = 200, body = AppealOut), (status = 404, body = munishare_web::error::Problem)))]
async fn api_appeal(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<AppealOut>> {
    let mut c = st.db.read().await?;
    let a = appeals::get(&scope, &mut c, &id).await?;
    Ok(axum::Json(appeal_out(&scope, &mut c, a).await?))
}

/// Schedules (or moves) a petition's hearing: March or April after the list year.
#[utoipa::path(put, path = "/api/v1/towns/{town}/assessment/appeals/{appeal}/hearing", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("appeal" = String, Path, description = "The petition's id")), request_body = HearingIn,
    responses((status = 200, body = AppealOut), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_schedule(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<HearingIn>,
) -> ApiResult<axum::Json<AppealOut>> {
    let mut tx = st.db.begin().await?;
    let a = appeals::schedule(&scope, &mut tx, st.now(), &id, &req).await?;
    let out = appeal_out(&scope, &mut tx, a).await?;
    tx.commit().await?;
    Ok(axum::Json(out))
}

/// Records the board's decision (approve needed); a change of assessment issues a certificate of correction.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/appeals/{appeal}/decision", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("appeal" = String, Path, description = "The petition's id")), request_body = DecisionIn,
    responses((status = 200, body = AppealOut), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_decide_appeal(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<DecisionIn>,
) -> ApiResult<axum::Json<AppealOut>> {
    let mut tx = st.db.begin().await?;
    let a = appeals::decide(&scope, &mut tx, st.now(), &id, &req).await?;
    let out = appeal_out(&scope, &mut tx, a).await?;
    tx.commit().await?;
    Ok(axum::Json(out))
}

/// Withdraws an open petition.
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/appeals/{appeal}/withdrawal", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("appeal" = String, Path, description = "The petition's id")), request_body = VersionIn,
    responses((status = 200, body = AppealOut), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_withdraw(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<VersionIn>,
) -> ApiResult<axum::Json<AppealOut>> {
    let mut tx = st.db.begin().await?;
    let a = appeals::withdraw(&scope, &mut tx, st.now(), &id, req.version).await?;
    let out = appeal_out(&scope, &mut tx, a).await?;
    tx.commit().await?;
    Ok(axum::Json(out))
}

/// The certificates of correction on a grand list.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/corrections", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")),
    responses((status = 200, body = Vec<Correction>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_corrections(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<Correction>>> {
    let mut c = st.db.read().await?;
    let list_year = year(&list_year)?;
    grand_list::get(&scope, &mut c, list_year).await?;
    Ok(axum::Json(
        appeals::corrections(&scope, &mut c, list_year).await?,
    ))
}

/// Issues a certificate of correction for a clerical error (CGS 12-60; approve needed).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/corrections", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year")), request_body = ClericalIn,
    responses((status = 201, body = Correction), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_correct(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    ApiJson(req): ApiJson<ClericalIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let cert =
        appeals::correct_clerical(&scope, &mut tx, st.now(), year(&list_year)?, &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(cert)).into_response())
}

/// One certificate of correction.
#[utoipa::path(get, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/corrections/{certificate}", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year"), ("certificate" = String, Path, description = "Certificate number, e.g. `CC-2025-0001`")),
    responses((status = 200, body = Correction), (status = 404, body = munishare_web::error::Problem)))]
async fn api_correction(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    Path((_town, list_year, number)): Path<(String, String, String)>,
) -> ApiResult<axum::Json<Correction>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        appeals::correction(&scope, &mut c, year(&list_year)?, &number).await?,
    ))
}

/// Posts a certificate's change of tax to the town's books (the levy first; approve in assessment and in finance, from a signed-in session).
#[utoipa::path(post, path = "/api/v1/towns/{town}/assessment/grand-lists/{list_year}/corrections/{certificate}/posting", tag = "assessment",
    params(("town" = String, Path, description = TOWN), ("list_year" = i64, Path, description = "The list year"), ("certificate" = String, Path, description = "Certificate number")), request_body = LevyIn,
    responses((status = 200, body = Correction), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_post_correction(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Assessment>,
    ApiCaller(principal): ApiCaller,
    Path((_town, list_year, number)): Path<(String, String, String)>,
    ApiJson(req): ApiJson<LevyIn>,
) -> ApiResult<axum::Json<Correction>> {
    let finance = finance_scope(&st, &principal, &scope).await?;
    let mut tx = st.db.begin().await?;
    let cert = appeals::post(
        &scope,
        &finance,
        &mut tx,
        st.now(),
        year(&list_year)?,
        &number,
        &req,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(cert))
}

// ---------------------------------------------------------------- pages

fn status_label(s: &str) -> &'static str {
    match s {
        "filed" => "Filed",
        "scheduled" => "Hearing scheduled",
        "decided" => "Decided",
        "withdrawn" => "Withdrawn",
        _ => "—",
    }
}

fn decision_label(s: &str) -> &'static str {
    DECISIONS
        .iter()
        .find(|(k, _)| *k == s)
        .map_or("—", |(_, l)| l)
}

/// Filters of the appeals page.
#[derive(Debug, Default, Deserialize)]
struct AppealsQuery {
    list_year: Option<String>,
    status: Option<String>,
    q: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "assessment_appeals.html")]
struct AppealsPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    appeals: Vec<Appeal>,
    /// Scheduled hearings by day: (day, petitions in hearing order).
    schedule: Vec<(String, Vec<Appeal>)>,
    /// Signed lists a petition can be filed against: (year, deadline).
    open_lists: Vec<(i64, String)>,
    q: AppealsQuery,
    query: String,
    today: String,
}

impl AppealsPage {
    fn status(&self) -> &str {
        self.q.status.as_deref().unwrap_or("")
    }
    fn status_label(&self, s: &str) -> &'static str {
        status_label(s)
    }
    fn decision_label(&self, s: &str) -> &'static str {
        decision_label(s)
    }
}

async fn page_appeals(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Query(q): Query<AppealsQuery>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let list_year = match q.list_year.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(y) => Some(year(y)?),
    };
    let filter = AppealFilter {
        list_year,
        status: q.status.clone(),
        q: q.q.clone(),
    };
    let list = appeals::list(&scope, &mut c, &filter).await?;
    let lists = grand_list::list(&scope, &mut c).await?;
    drop(c);
    if q.format.is_some() {
        let mut rows = vec![
            [
                "number",
                "list_year",
                "account",
                "appellant",
                "filed_on",
                "opinion",
                "status",
                "hearing_at",
                "hearing_place",
                "decision",
                "decided_on",
                "certificate",
                "court_deadline",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        rows.extend(list.iter().map(|a| {
            vec![
                a.number.clone(),
                a.list_year.to_string(),
                a.account.clone(),
                a.appellant.clone(),
                a.filed_on.clone(),
                if a.opinion_cents > 0 {
                    dollars(&a.opinion_cents)
                } else {
                    String::new()
                },
                a.status.clone(),
                a.hearing_at.clone(),
                a.hearing_place.clone(),
                a.decision.clone(),
                a.decided_on.clone(),
                a.certificate_number.clone(),
                a.court_deadline().unwrap_or_default(),
            ]
        }));
        return table_response(
            q.format.as_deref(),
            &format!("appeals-{}", scope.town().slug),
            rows,
        );
    }
    let mut scheduled: Vec<Appeal> = list
        .iter()
        .filter(|a| a.status == "scheduled")
        .cloned()
        .collect();
    scheduled.sort_by(|a, b| a.hearing_at.cmp(&b.hearing_at));
    let mut schedule: Vec<(String, Vec<Appeal>)> = Vec::new();
    for a in scheduled {
        let d = a.hearing_at.get(..10).unwrap_or("").to_owned();
        match schedule.last_mut() {
            Some((day, v)) if *day == d => v.push(a),
            _ => schedule.push((d, vec![a])),
        }
    }
    let open_lists = lists
        .iter()
        .filter(|g| g.status == "signed")
        .filter_map(|g| {
            appeals::petition_deadline(g)
                .ok()
                .map(|d| (g.list_year, format_date(d)))
        })
        .collect();
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Appeals — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &AppealsPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            query: format!(
                "list_year={}&status={}&q={}",
                enc(q.list_year.as_deref().unwrap_or("")),
                enc(q.status.as_deref().unwrap_or("")),
                enc(q.q.as_deref().unwrap_or(""))
            ),
            appeals: list,
            schedule,
            open_lists,
            q,
            today: format_date(st.today()),
        },
        &user,
    )
}

fn field(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).map_or(String::new(), |s| s.trim().to_owned())
}

fn version(f: &HashMap<String, String>) -> Result<i64> {
    field(f, "version")
        .parse()
        .map_err(|_| munishare_platform::Error::invalid("version", "missing; reload the page"))
}

async fn page_file(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let list_year = year(&field(&f, "list_year"))?;
        let p = PetitionIn {
            account: field(&f, "account"),
            appellant: field(&f, "appellant"),
            contact: field(&f, "contact"),
            filed_on: field(&f, "filed_on"),
            grounds: field(&f, "grounds"),
            opinion: Some(field(&f, "opinion")),
        };
        let mut tx = st.db.begin().await?;
        let a = appeals::file(&scope, &mut tx, st.now(), list_year, &p).await?;
        tx.commit().await?;
        Ok((
            a.id.clone(),
            format!("Petition {} on {} is filed.", a.number, a.account),
        ))
    }
    .await;
    let back = match &r {
        Ok((id, _)) => format!("{}/appeals/{}", base(&scope), enc(id)),
        Err(_) => format!("{}/appeals", base(&scope)),
    };
    after_form(&st, &back, r.map(|(_, m)| m))
}

#[derive(Template)]
#[template(path = "assessment_appeal.html")]
struct AppealPage {
    chrome: Chrome,
    base: String,
    can_edit: bool,
    can_approve: bool,
    d: AppealOut,
    /// The account as the rate book has it now (assessed land and buildings, cents).
    land_cents: i64,
    building_cents: i64,
    /// Gross assessment, cents (a personal property or vehicle account's whole assessment).
    gross_cents: i64,
    /// Whether the account is real estate (land and buildings) or not (one assessment).
    real_estate: bool,
    decisions: Vec<(&'static str, &'static str)>,
    today: String,
    /// The petition's letters and evidence in Records, when the user reads records.
    related: Option<RelatedDocuments>,
}

impl AppealPage {
    fn status_label(&self, s: &str) -> &'static str {
        status_label(s)
    }
    fn decision_label(&self, s: &str) -> &'static str {
        decision_label(s)
    }
}

async fn page_appeal(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let a = appeals::get(&scope, &mut c, &id).await?;
    let item = appeals::effective_item(&scope, &mut c, a.list_year, &a.account).await?;
    let d = appeal_out(&scope, &mut c, a).await?;
    drop(c);
    let back = appeal_back(&scope, &d.appeal.id);
    let label = format!("Petition {}", d.appeal.number);
    let related = related_documents(
        &st,
        &user,
        scope.town().slug.as_str(),
        RecordRef {
            kind: "assessment.appeal",
            target: &d.appeal.id,
            label: &label,
            back: &back,
        },
    )
    .await?;
    let chrome = Chrome::new(
        &st,
        &user,
        format!("Petition {} — {}", d.appeal.number, scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &AppealPage {
            chrome,
            base: base(&scope),
            can_edit: scope.can(Permission::Edit),
            can_approve: scope.can(Permission::Approve),
            land_cents: item.land_cents,
            building_cents: item.building_cents,
            gross_cents: item.gross_cents,
            real_estate: !item.parcel_id.is_empty(),
            d,
            decisions: DECISIONS.to_vec(),
            today: format_date(st.today()),
            related,
        },
        &user,
    )
}

fn appeal_back(scope: &ServiceScope, id: &str) -> String {
    format!("{}/appeals/{}", base(scope), enc(id))
}

async fn page_schedule(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let h = HearingIn {
            hearing_at: field(&f, "hearing_at"),
            hearing_place: field(&f, "hearing_place"),
            version: version(&f)?,
        };
        let mut tx = st.db.begin().await?;
        let a = appeals::schedule(&scope, &mut tx, st.now(), &id, &h).await?;
        tx.commit().await?;
        Ok(format!(
            "Petition {} is heard {} at {}.",
            a.number,
            a.hearing_at.replace('T', " "),
            a.hearing_place
        ))
    }
    .await;
    after_form(&st, &appeal_back(&scope, &id), r)
}

async fn page_decide(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let d = DecisionIn {
            decision: field(&f, "decision"),
            decided_on: field(&f, "decided_on"),
            notice_mailed_on: Some(field(&f, "notice_mailed_on")),
            note: field(&f, "note"),
            land: Some(field(&f, "land")),
            building: Some(field(&f, "building")),
            assessment: Some(field(&f, "assessment")),
            version: version(&f)?,
        };
        let mut tx = st.db.begin().await?;
        let a = appeals::decide(&scope, &mut tx, st.now(), &id, &d).await?;
        tx.commit().await?;
        Ok(if a.certificate_number.is_empty() {
            format!("Petition {}: {}.", a.number, decision_label(&a.decision))
        } else {
            format!(
                "Petition {}: {}; certificate of correction {} is issued.",
                a.number,
                decision_label(&a.decision),
                a.certificate_number
            )
        })
    }
    .await;
    after_form(&st, &appeal_back(&scope, &id), r)
}

async fn page_withdraw(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, id)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let v = version(&f)?;
        let mut tx = st.db.begin().await?;
        let a = appeals::withdraw(&scope, &mut tx, st.now(), &id, v).await?;
        tx.commit().await?;
        Ok(format!("Petition {} is withdrawn.", a.number))
    }
    .await;
    after_form(&st, &appeal_back(&scope, &id), r)
}

async fn page_correct(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let c = ClericalIn {
            account: field(&f, "account"),
            land: field(&f, "land"),
            building: field(&f, "building"),
            assessment: Some(field(&f, "assessment")),
            reason: field(&f, "reason"),
        };
        let mut tx = st.db.begin().await?;
        let cert =
            appeals::correct_clerical(&scope, &mut tx, st.now(), year(&list_year)?, &c).await?;
        tx.commit().await?;
        Ok(format!(
            "Certificate of correction {} is issued for {}.",
            cert.number, cert.account
        ))
    }
    .await;
    after_form(&st, &list_back(&scope, &list_year), r)
}

#[derive(Template)]
#[template(path = "assessment_correction.html")]
struct CorrectionPage {
    chrome: Chrome,
    town: String,
    base: String,
    can_approve: bool,
    c: Correction,
    levy_posted: bool,
    receivable_guess: String,
    revenue_guess: String,
}

async fn page_correction(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year, number)): Path<(String, String, String)>,
) -> PageResult {
    let mut c = st.db.read().await?;
    let list_year = year(&list_year)?;
    let gl = grand_list::get(&scope, &mut c, list_year).await?;
    let cert = appeals::correction(&scope, &mut c, list_year, &number).await?;
    drop(c);
    let (receivable_guess, revenue_guess) = levy_accounts_guess(&st, &user, &scope).await?;
    let chrome = Chrome::new(
        &st,
        &user,
        format!(
            "Certificate of correction {} — {}",
            cert.number,
            scope.town().name
        ),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &CorrectionPage {
            chrome,
            town: scope.town().name.clone(),
            base: base(&scope),
            can_approve: scope.can(Permission::Approve),
            c: cert,
            levy_posted: !gl.levy_entry_id.is_empty(),
            receivable_guess,
            revenue_guess,
        },
        &user,
    )
}

async fn page_post_correction(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Assessment>,
    Path((_town, list_year, number)): Path<(String, String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let r = async {
        let finance = finance_scope(&st, &user.principal, &scope).await?;
        let accounts = LevyIn {
            receivable_account: field(&f, "receivable_account"),
            revenue_account: field(&f, "revenue_account"),
        };
        let mut tx = st.db.begin().await?;
        let cert = appeals::post(
            &scope,
            &finance,
            &mut tx,
            st.now(),
            year(&list_year)?,
            &number,
            &accounts,
        )
        .await?;
        tx.commit().await?;
        Ok(format!(
            "The change of tax on certificate {} ({}) is posted to the town's books.",
            cert.number,
            dollars(&cert.change_cents())
        ))
    }
    .await;
    after_form(
        &st,
        &format!(
            "{}/corrections/{}",
            list_back(&scope, &list_year),
            enc(&number)
        ),
        r,
    )
}
