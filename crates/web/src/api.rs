//! The JSON API under `/api/v1`. Handlers are thin: extract and parse the
//! input, call one platform service (which decides access), map to wire types.
//! Every route is registered through utoipa so the OpenAPI document is the
//! complete list of API routes — the isolation and garbage-input tests walk it.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::{self, NewGrant, Principal};
use munishare_platform::audit::{self, AuditFilter};
use munishare_platform::identity::{self, NewUser};
use munishare_platform::tenancy::{self, EntityKind, NewMunicipality};
use munishare_platform::types::{
    GrantId, JobId, Money, Permission, RoleId, Service, TokenId, UserId, parse_date,
};
use munishare_platform::{Error, jobs};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminCaller, ApiCaller, ClientAddr, throttled_message};
use crate::error::{ApiError, ApiResult, problem};
use crate::state::AppState;
use crate::wire::*;

/// JSON body extractor whose rejections are problem documents naming the
/// fault. Text with NUL characters is refused here: no field has a use for
/// them and PostgreSQL cannot store them.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = BadRequest;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                BadRequest(problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid-body",
                    e.body_text(),
                    None,
                ))
            })?;
        if !has_json_type {
            return Err(BadRequest(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid-body",
                "Send the body as JSON with 'Content-Type: application/json'.",
                None,
            )));
        }
        if contains_nul_escape(&bytes) {
            return Err(BadRequest(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Text may not contain NUL characters (\\u0000).",
                None,
            )));
        }
        axum::Json::<T>::from_bytes(&bytes)
            .map(|axum::Json(v)| Self(v))
            .map_err(BadRequest::from)
    }
}

/// Whether a JSON text holds a `\u0000` escape (a raw NUL byte is not valid JSON anyway).
fn contains_nul_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && &w[2..] == b"0000")
}

/// Which month, for the metered usage the chargeback reads.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// `YYYY-MM` (default: this month, UTC).
    pub month: Option<String>,
    /// `csv` or `xlsx` to export the table (pages only).
    #[param(ignore)]
    pub format: Option<String>,
}

impl MonthQuery {
    /// The month asked for, or this one; a month that does not read names `month`.
    pub fn month(
        &self,
        st: &AppState,
    ) -> munishare_platform::Result<munishare_platform::metering::YearMonth> {
        use munishare_platform::metering::YearMonth;
        match self.month.as_deref().map(str::trim) {
            None | Some("") => Ok(YearMonth::of(st.today())),
            Some(m) => YearMonth::parse("month", m),
        }
    }
}

/// Query-string extractor whose rejections are problem documents.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(BadRequest))]
pub struct ApiQuery<T>(pub T);

/// A malformed request: bad JSON, wrong types, wrong content type, bad query.
#[derive(Debug)]
pub struct BadRequest(Response);

impl From<JsonRejection> for BadRequest {
    fn from(r: JsonRejection) -> Self {
        let status = match r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::JsonSyntaxError(_) => StatusCode::BAD_REQUEST,
            JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let field = field_from_serde_message(&r.body_text());
        Self(problem(status, "invalid-body", r.body_text(), field))
    }
}

impl From<QueryRejection> for BadRequest {
    fn from(r: QueryRejection) -> Self {
        let field = field_from_serde_message(&r.body_text());
        Self(problem(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            r.body_text(),
            field,
        ))
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        self.0
    }
}

/// Pulls the field name out of serde's "missing field `x`" / "x: invalid type" messages.
fn field_from_serde_message(msg: &str) -> Option<String> {
    if let Some(rest) = msg.split("field `").nth(1) {
        return rest.split('`').next().map(str::to_owned);
    }
    let after = msg.split("target type: ").nth(1).unwrap_or(msg);
    let (path, _) = after.split_once(": ")?;
    (!path.contains(' ') && !path.is_empty()).then(|| path.to_owned())
}

fn parse_id<T: std::str::FromStr>(what: &'static str, s: &str) -> Result<T, ApiError> {
    s.parse().map_err(|_| ApiError(Error::NotFound { what }))
}

fn parse_service_path(s: &str) -> Result<Service, ApiError> {
    Service::parse("service", s).map_err(|_| ApiError(Error::NotFound { what: "service" }))
}

/// Every API route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(issue_token))
        .routes(routes!(list_my_tokens, create_my_token))
        .routes(routes!(revoke_my_token))
        .routes(routes!(change_my_password))
        .routes(routes!(list_towns))
        .routes(routes!(get_town))
        .routes(routes!(list_town_services))
        .routes(routes!(get_town_service))
        .routes(routes!(list_audit))
        .routes(routes!(admin_list_towns, admin_create_town))
        .routes(routes!(admin_list_subscriptions, admin_subscribe))
        .routes(routes!(admin_end_subscription))
        .routes(routes!(admin_create_department))
        .routes(routes!(admin_list_users, admin_create_user))
        .routes(routes!(admin_get_user))
        .routes(routes!(admin_reset_password))
        .routes(routes!(admin_set_active))
        .routes(routes!(admin_list_roles))
        .routes(routes!(admin_create_grant))
        .routes(routes!(admin_revoke_grant))
        .routes(routes!(admin_list_jobs, admin_enqueue_job))
        .routes(routes!(admin_retry_job))
}

// ---------------------------------------------------------------- me

/// Who am I, and where can I work.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = MeOut), (status = 401, body = crate::error::Problem)))]
async fn me(State(st): State<AppState>, ApiCaller(p): ApiCaller) -> ApiResult<axum::Json<MeOut>> {
    let towns = access::my_towns(&st.db, &p, st.today()).await?;
    Ok(axum::Json(MeOut {
        id: p.user_id().to_string(),
        username: p.username().to_owned(),
        display_name: p.display_name().to_owned(),
        council_admin: p.is_council_admin(),
        towns: towns.iter().map(TownOut::from_scope).collect(),
    }))
}

/// Exchanges a username and password for an API token limited to one town and
/// service (for scripts and the backup client). Failed attempts count toward
/// the account's sign-in lock.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "me", request_body = TokenRequest,
    responses((status = 201, body = TokenCreated), (status = 401, body = crate::error::Problem),
        (status = 429, description = "Account locked after failed sign-ins, or too many attempts from this address", body = crate::error::Problem)))]
async fn issue_token(
    State(st): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<Response> {
    if let Err(wait) = st.signin_throttle.attempt(&addr, st.now().datetime()) {
        let mut resp = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            throttled_message(wait),
            None,
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        return Ok(resp);
    }
    let user = identity::authenticate(&st.db, st.now(), &req.username, &req.password).await?;
    if user.must_change_password {
        return Err(Error::Forbidden(
            "Change the temporary password in the browser before creating API tokens.".into(),
        )
        .into());
    }
    let principal = identity::principal_for_user(&user);
    create_token_for(
        &st,
        &principal,
        &req.town,
        &req.service,
        &req.label,
        req.expires_in_days,
    )
    .await
}

async fn create_token_for(
    st: &AppState,
    p: &Principal,
    town: &str,
    service: &str,
    label: &str,
    expires_in_days: Option<u32>,
) -> ApiResult<Response> {
    let service = Service::parse("service", service)?;
    // A token acts within its issuer's own permissions, whichever they are.
    let scope = access::authorize_member(&st.db, p, st.today(), town, service).await?;
    let (token, secret) =
        identity::create_api_token(&scope, &st.db, st.now(), label, expires_in_days).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenCreated {
            id: token.id.to_string(),
            token: secret,
            town: scope.town().slug.to_string(),
            service: service.as_str().to_owned(),
            label: token.label,
            expires_at: token.expires_at,
        }),
    )
        .into_response())
}

/// My API tokens (never the secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "me", responses((status = 200, body = Vec<TokenOut>)))]
async fn list_my_tokens(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
) -> ApiResult<axum::Json<Vec<TokenOut>>> {
    let tokens = identity::list_api_tokens(&p, &st.db).await?;
    Ok(axum::Json(tokens.into_iter().map(TokenOut::from).collect()))
}

/// Creates an API token for a town and service where I have access. The secret is returned once.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "me", request_body = NewTokenRequest,
    responses((status = 201, body = TokenCreated), (status = 404, body = crate::error::Problem)))]
async fn create_my_token(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    ApiJson(req): ApiJson<NewTokenRequest>,
) -> ApiResult<Response> {
    if p.token_limit().is_some() {
        return Err(Error::Forbidden(
            "An API token cannot create other tokens; sign in instead.".into(),
        )
        .into());
    }
    create_token_for(
        &st,
        &p,
        &req.town,
        &req.service,
        &req.label,
        req.expires_in_days,
    )
    .await
}

/// Revokes one of my API tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "me", params(("id" = String, Path, description = "Token id")),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
async fn revoke_my_token(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: TokenId = parse_id("API token", &id)?;
    identity::revoke_api_token(&p, &st.db, st.now(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes my password.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = PasswordChange,
    responses((status = 204), (status = 422, body = crate::error::Problem)))]
async fn change_my_password(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    if p.token_limit().is_some() {
        return Err(Error::Forbidden(
            "An API token cannot change the password; sign in instead.".into(),
        )
        .into());
    }
    identity::change_password(
        &p,
        &st.db,
        st.now(),
        &req.current_password,
        &req.new_password,
        &req.confirm_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- towns

/// The towns I can reach, with the services I may use in each.
#[utoipa::path(get, path = "/api/v1/towns", tag = "towns", responses((status = 200, body = Vec<TownOut>)))]
async fn list_towns(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
) -> ApiResult<axum::Json<Vec<TownOut>>> {
    let towns = access::my_towns(&st.db, &p, st.today()).await?;
    Ok(axum::Json(towns.iter().map(TownOut::from_scope).collect()))
}

/// One town: its facts, entities, departments and my services there.
#[utoipa::path(get, path = "/api/v1/towns/{town}", tag = "towns", params(("town" = String, Path, description = "Town short name, e.g. west-hartford")),
    responses((status = 200, body = TownDetailOut), (status = 404, body = crate::error::Problem)))]
async fn get_town(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    Path(town): Path<String>,
) -> ApiResult<axum::Json<TownDetailOut>> {
    let scope = access::authorize_town(&st.db, &p, st.today(), &town).await?;
    let mut c = st.db.read().await?;
    let entities = tenancy::entities(&scope, &mut c).await?;
    let departments = tenancy::departments(&scope, &mut c).await?;
    Ok(axum::Json(TownDetailOut::new(
        &scope,
        entities,
        departments,
    )))
}

/// The services a town subscribes to that I may use, with my permissions.
#[utoipa::path(get, path = "/api/v1/towns/{town}/services", tag = "towns", params(("town" = String, Path, description = "Town short name")),
    responses((status = 200, body = Vec<ServiceOut>), (status = 404, body = crate::error::Problem)))]
async fn list_town_services(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    Path(town): Path<String>,
) -> ApiResult<axum::Json<Vec<ServiceOut>>> {
    let scope = access::authorize_town(&st.db, &p, st.today(), &town).await?;
    Ok(axum::Json(
        scope.services().iter().map(ServiceOut::from).collect(),
    ))
}

/// One subscribed service of a town and my permissions in it.
#[utoipa::path(get, path = "/api/v1/towns/{town}/services/{service}", tag = "towns",
    params(("town" = String, Path, description = "Town short name"), ("service" = String, Path, description = "Service key, e.g. finance")),
    responses((status = 200, body = ServiceOut), (status = 404, body = crate::error::Problem)))]
async fn get_town_service(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    Path((town, service)): Path<(String, String)>,
) -> ApiResult<axum::Json<ServiceOut>> {
    let service = parse_service_path(&service)?;
    let scope =
        access::authorize_service(&st.db, &p, st.today(), &town, service, Permission::View).await?;
    Ok(axum::Json(ServiceOut::from(scope.access())))
}

// ---------------------------------------------------------------- audit

/// Filters for the audit log.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Actor name contains.
    pub actor: Option<String>,
    /// Service key.
    pub service: Option<String>,
    /// Entity type, e.g. `user`.
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// Town short name.
    pub town: Option<String>,
    /// From date (YYYY-MM-DD).
    pub from: Option<String>,
    /// To date (YYYY-MM-DD), inclusive.
    pub to: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

/// Turns audit query parameters into a filter, naming the bad parameter.
pub async fn audit_filter(st: &AppState, q: &AuditQuery) -> Result<AuditFilter, Error> {
    let nonempty = |o: &Option<String>| {
        o.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let municipality_id = match nonempty(&q.town) {
        None => None,
        Some(slug) => {
            let mut c = st.db.read().await?;
            Some(
                tenancy::find_by_slug(&mut c, &slug)
                    .await?
                    .ok_or_else(|| Error::invalid("town", "no such town"))?
                    .id,
            )
        }
    };
    Ok(AuditFilter {
        actor: nonempty(&q.actor),
        service: nonempty(&q.service)
            .map(|s| Service::parse("service", &s))
            .transpose()?,
        entity_type: nonempty(&q.entity_type),
        entity_id: nonempty(&q.entity_id),
        municipality_id,
        from: nonempty(&q.from)
            .map(|d| parse_date("from", &d))
            .transpose()?,
        to: nonempty(&q.to).map(|d| parse_date("to", &d)).transpose()?,
        after: match nonempty(&q.cursor) {
            None => None,
            Some(c) => Some(
                c.split_once('|')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| Error::invalid("cursor", "not a cursor from a previous page"))?,
            ),
        },
    })
}

/// The audit log, newest first, limited to what I may see: region events for
/// council administrators, and in each town the services I can view.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPageOut), (status = 422, body = crate::error::Problem)))]
async fn list_audit(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<axum::Json<AuditPageOut>> {
    let filter = audit_filter(&st, &q).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "choose a page size from 1 to 500").into());
    }
    let vis = access::audit_visibility(&st.db, &p, st.today()).await?;
    let events = audit::list(&st.db, &vis, &filter, limit).await?;
    let next_cursor = (events.len() == limit as usize)
        .then(|| events.last().map(|e| format!("{}|{}", e.at, e.id)))
        .flatten();
    Ok(axum::Json(AuditPageOut {
        events: events.into_iter().map(AuditOut::from).collect(),
        next_cursor,
    }))
}

// ---------------------------------------------------------------- administration

/// Every member town with its subscriptions (council administrators).
#[utoipa::path(get, path = "/api/v1/admin/towns", tag = "admin", responses((status = 200, body = Vec<AdminTownOut>), (status = 403, body = crate::error::Problem)))]
async fn admin_list_towns(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
) -> ApiResult<axum::Json<Vec<AdminTownOut>>> {
    let towns = tenancy::admin_list_with_subscriptions(&a, &st.db).await?;
    Ok(axum::Json(
        towns
            .into_iter()
            .map(|(t, subs)| AdminTownOut::new(&t, &subs, st.today()))
            .collect(),
    ))
}

/// Adds a member town (with its town-government and board-of-education entities).
#[utoipa::path(post, path = "/api/v1/admin/towns", tag = "admin", request_body = NewTownRequest,
    responses((status = 201, body = AdminTownOut), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn admin_create_town(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    ApiJson(req): ApiJson<NewTownRequest>,
) -> ApiResult<Response> {
    let new = NewMunicipality {
        name: req.name,
        fips: req.fips,
        county: req.county,
        population: req.population,
        net_grand_list_cents: Money::parse("net_grand_list", &req.net_grand_list)?.cents(),
        mill_rate: req.mill_rate,
    };
    let town = tenancy::create_municipality(&a, &st.db, st.now(), &new).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AdminTownOut::new(&town, &[], st.today())),
    )
        .into_response())
}

/// A town's subscriptions, past and present.
#[utoipa::path(get, path = "/api/v1/admin/towns/{town}/subscriptions", tag = "admin", params(("town" = String, Path, description = "Town short name")),
    responses((status = 200, body = Vec<SubscriptionOut>), (status = 404, body = crate::error::Problem)))]
async fn admin_list_subscriptions(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path(town): Path<String>,
) -> ApiResult<axum::Json<Vec<SubscriptionOut>>> {
    let town = tenancy::admin_town(&a, &st.db, &town).await?;
    let subs = tenancy::admin_subscriptions(&a, &st.db, &town).await?;
    Ok(axum::Json(
        subs.iter()
            .map(|s| SubscriptionOut::new(s, st.today()))
            .collect(),
    ))
}

/// Subscribes a town to a service from a date.
#[utoipa::path(post, path = "/api/v1/admin/towns/{town}/subscriptions", tag = "admin", params(("town" = String, Path, description = "Town short name")),
    request_body = SubscribeRequest, responses((status = 201, body = SubscriptionOut), (status = 409, body = crate::error::Problem)))]
async fn admin_subscribe(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path(town): Path<String>,
    ApiJson(req): ApiJson<SubscribeRequest>,
) -> ApiResult<Response> {
    let town = tenancy::admin_town(&a, &st.db, &town).await?;
    let service = Service::parse("service", &req.service)?;
    let from = parse_date("effective_from", &req.effective_from)?;
    let mut tx = st.db.begin().await?;
    let sub = tenancy::subscribe(&a, &mut tx, st.now(), &town, service, from).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SubscriptionOut::new(&sub, st.today())),
    )
        .into_response())
}

/// Ends a town's subscription to a service on a date (exclusive).
#[utoipa::path(post, path = "/api/v1/admin/towns/{town}/subscriptions/{service}/end", tag = "admin",
    params(("town" = String, Path, description = "Town short name"), ("service" = String, Path, description = "Service key")),
    request_body = EndSubscriptionRequest, responses((status = 200, body = SubscriptionOut), (status = 404, body = crate::error::Problem)))]
async fn admin_end_subscription(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path((town, service)): Path<(String, String)>,
    ApiJson(req): ApiJson<EndSubscriptionRequest>,
) -> ApiResult<axum::Json<SubscriptionOut>> {
    let town = tenancy::admin_town(&a, &st.db, &town).await?;
    let service = parse_service_path(&service)?;
    let on = parse_date("ended_on", &req.ended_on)?;
    let mut tx = st.db.begin().await?;
    let sub = tenancy::end_subscription(&a, &mut tx, st.now(), &town, service, on).await?;
    tx.commit().await?;
    Ok(axum::Json(SubscriptionOut::new(&sub, st.today())))
}

/// Adds a department to a town.
#[utoipa::path(post, path = "/api/v1/admin/towns/{town}/departments", tag = "admin", params(("town" = String, Path, description = "Town short name")),
    request_body = NewDepartmentRequest, responses((status = 201, body = DepartmentOut), (status = 409, body = crate::error::Problem)))]
async fn admin_create_department(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path(town): Path<String>,
    ApiJson(req): ApiJson<NewDepartmentRequest>,
) -> ApiResult<Response> {
    let town = tenancy::admin_town(&a, &st.db, &town).await?;
    let kind = parse_entity_kind(&req.entity)?;
    let mut tx = st.db.begin().await?;
    let d =
        tenancy::add_department(&a, &mut tx, st.now(), &town, kind, &req.code, &req.name).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(DepartmentOut::from(d))).into_response())
}

/// Parses `town_government` / `board_of_education`.
pub fn parse_entity_kind(s: &str) -> Result<EntityKind, Error> {
    match s {
        "town_government" => Ok(EntityKind::TownGovernment),
        "board_of_education" => Ok(EntityKind::BoardOfEducation),
        _ => Err(Error::invalid(
            "entity",
            "choose town_government or board_of_education",
        )),
    }
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", responses((status = 200, body = Vec<UserOut>), (status = 403, body = crate::error::Problem)))]
async fn admin_list_users(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
) -> ApiResult<axum::Json<Vec<UserOut>>> {
    Ok(axum::Json(
        identity::list_users(&a, &st.db)
            .await?
            .into_iter()
            .map(UserOut::from)
            .collect(),
    ))
}

/// Creates a user with a temporary password (returned once; must be changed at first sign-in).
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body = NewUserRequest,
    responses((status = 201, body = UserCreated), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn admin_create_user(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    ApiJson(req): ApiJson<NewUserRequest>,
) -> ApiResult<Response> {
    let (user, password) = identity::create_user(
        &a,
        &st.db,
        st.now(),
        &NewUser {
            username: req.username,
            display_name: req.display_name,
            email: req.email.unwrap_or_default(),
            council_admin: req.council_admin.unwrap_or(false),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(UserCreated {
            user: user.into(),
            temporary_password: password,
        }),
    )
        .into_response())
}

/// One user with their grants.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserDetailOut), (status = 404, body = crate::error::Problem)))]
async fn admin_get_user(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<UserDetailOut>> {
    let id: UserId = parse_id("user", &id)?;
    let mut c = st.db.read().await?;
    let user = identity::user_by_id(&mut c, &id)
        .await?
        .ok_or(Error::NotFound { what: "user" })?;
    drop(c);
    let grants = access::grants_of_user(&a, &st.db, &id).await?;
    Ok(axum::Json(UserDetailOut {
        user: user.into(),
        grants: grants.into_iter().map(GrantOut::from).collect(),
    }))
}

/// Resets a user's password to a new temporary one (returned once), unlocks the account and ends its sessions.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/reset-password", tag = "admin", params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserCreated), (status = 404, body = crate::error::Problem)))]
async fn admin_reset_password(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<UserCreated>> {
    let id: UserId = parse_id("user", &id)?;
    let (user, password) = identity::reset_password(&a, &st.db, st.now(), &id).await?;
    Ok(axum::Json(UserCreated {
        user: user.into(),
        temporary_password: password,
    }))
}

/// Enables or disables a user.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/active", tag = "admin", params(("id" = String, Path, description = "User id")),
    request_body = SetActiveRequest, responses((status = 200, body = UserOut), (status = 404, body = crate::error::Problem)))]
async fn admin_set_active(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SetActiveRequest>,
) -> ApiResult<axum::Json<UserOut>> {
    let id: UserId = parse_id("user", &id)?;
    Ok(axum::Json(
        identity::set_active(&a, &st.db, st.now(), &id, req.active)
            .await?
            .into(),
    ))
}

/// The roles that can be granted.
#[utoipa::path(get, path = "/api/v1/admin/roles", tag = "admin", responses((status = 200, body = Vec<RoleOut>)))]
async fn admin_list_roles(
    State(st): State<AppState>,
    _admin: AdminCaller,
) -> ApiResult<axum::Json<Vec<RoleOut>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        access::list_roles(&mut c)
            .await?
            .into_iter()
            .map(RoleOut::from)
            .collect(),
    ))
}

/// Grants a role to a user: region-wide, in one town, or in one town and service.
#[utoipa::path(post, path = "/api/v1/admin/grants", tag = "admin", request_body = NewGrantRequest,
    responses((status = 201, body = GrantOut), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn admin_create_grant(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    ApiJson(req): ApiJson<NewGrantRequest>,
) -> ApiResult<Response> {
    let new = new_grant(
        &st,
        &req.user_id,
        &req.role_id,
        req.town.as_deref(),
        req.service.as_deref(),
    )
    .await?;
    let grant = access::create_grant(&a, &st.db, st.now(), &new).await?;
    Ok((StatusCode::CREATED, axum::Json(GrantOut::from(grant))).into_response())
}

/// Parses grant input shared by the API and the admin page.
pub async fn new_grant(
    st: &AppState,
    user_id: &str,
    role_id: &str,
    town: Option<&str>,
    service: Option<&str>,
) -> Result<NewGrant, Error> {
    let user_id: UserId = user_id
        .parse()
        .map_err(|_| Error::invalid("user_id", "no such user"))?;
    let role_id: RoleId = role_id
        .parse()
        .map_err(|_| Error::invalid("role_id", "choose a role"))?;
    let municipality_id = match town.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(slug) => {
            let mut c = st.db.read().await?;
            Some(
                tenancy::find_by_slug(&mut c, slug)
                    .await?
                    .ok_or_else(|| Error::invalid("town", "no such town"))?
                    .id,
            )
        }
    };
    let service = service
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Service::parse("service", s))
        .transpose()?;
    if service.is_some() && municipality_id.is_none() {
        return Err(Error::invalid(
            "town",
            "a grant limited to one service must name the town too",
        ));
    }
    Ok(NewGrant {
        user_id,
        role_id,
        municipality_id,
        service,
    })
}

/// Revokes a grant.
#[utoipa::path(delete, path = "/api/v1/admin/grants/{id}", tag = "admin", params(("id" = String, Path, description = "Grant id")),
    responses((status = 200, body = GrantOut), (status = 404, body = crate::error::Problem)))]
async fn admin_revoke_grant(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<GrantOut>> {
    let id: GrantId = parse_id("grant", &id)?;
    Ok(axum::Json(
        access::revoke_grant(&a, &st.db, st.now(), &id)
            .await?
            .into(),
    ))
}

/// Filters for the job list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct JobQuery {
    /// Only jobs in this status: queued, running, retry, done, failed.
    pub status: Option<String>,
}

/// Background jobs, newest first.
#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "admin", params(JobQuery), responses((status = 200, body = Vec<JobOut>)))]
async fn admin_list_jobs(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<axum::Json<Vec<JobOut>>> {
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    if let Some(s) = status
        && !["queued", "running", "retry", "done", "failed"].contains(&s)
    {
        return Err(
            Error::invalid("status", "choose queued, running, retry, done or failed").into(),
        );
    }
    Ok(axum::Json(
        jobs::list(&a, &st.db, status, 200)
            .await?
            .into_iter()
            .map(JobOut::from)
            .collect(),
    ))
}

/// Starts a platform job by hand (e.g. `audit.verify`).
#[utoipa::path(post, path = "/api/v1/admin/jobs", tag = "admin", request_body = NewJobRequest,
    responses((status = 202, body = JobOut), (status = 422, body = crate::error::Problem)))]
async fn admin_enqueue_job(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    ApiJson(req): ApiJson<NewJobRequest>,
) -> ApiResult<Response> {
    let id = jobs::enqueue_by_admin(&a, &st.db, st.now(), &req.kind).await?;
    st.jobs.wake();
    let job = jobs::get(&st.db, &id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(JobOut::from(job))).into_response())
}

/// Puts a failed job back in the queue.
#[utoipa::path(post, path = "/api/v1/admin/jobs/{id}/retry", tag = "admin", params(("id" = String, Path, description = "Job id")),
    responses((status = 202, body = JobOut), (status = 409, body = crate::error::Problem)))]
async fn admin_retry_job(
    State(st): State<AppState>,
    AdminCaller(a): AdminCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: JobId = parse_id("job", &id)?;
    jobs::retry(&a, &st.db, st.now(), &id).await?;
    st.jobs.wake();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(JobOut::from(jobs::get(&st.db, &id).await?)),
    )
        .into_response())
}
