//! Server-rendered pages (askama + htmx). Every page route is registered
//! through [`PageRoutes`], which records its method and path so the isolation
//! test can walk every page without being edited when routes are added.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodFilter, MethodRouter};
use munishare_platform::Error;
use munishare_platform::access::{self, Grant, Role, TownScope};
use munishare_platform::audit::{self, AuditEvent};
use munishare_platform::identity::{self, ApiToken, User};
use munishare_platform::jobs::{self, Job};
use munishare_platform::tenancy::{
    self, Department, Entity, Municipality, NewMunicipality, Subscription,
};
use munishare_platform::types::{
    GrantId, JobId, Money, Service, Timestamp, TokenId, UserId, format_date, parse_date,
};
use serde::Deserialize;

use crate::api::{AuditQuery, audit_filter, new_grant, parse_entity_kind};
use crate::auth::{
    ClientAddr, FLASH_COOKIE, PageUser, SESSION_COOKIE, SIGNIN_CSRF_COOKIE, cookie, encode_flash,
    set_cookie, throttled_message,
};
use crate::error::classify;
use crate::state::AppState;

/// Records page routes as they are added, for the isolation test.
pub struct PageRoutes {
    by_path: BTreeMap<&'static str, MethodRouter<AppState>>,
    list: Vec<(Method, &'static str)>,
}

impl std::fmt::Debug for PageRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageRoutes")
            .field("routes", &self.list)
            .finish_non_exhaustive()
    }
}

impl PageRoutes {
    fn new() -> Self {
        Self {
            by_path: BTreeMap::new(),
            list: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = if method == Method::POST {
            MethodFilter::POST
        } else {
            MethodFilter::GET
        };
        let mr = self
            .by_path
            .remove(path)
            .unwrap_or_default()
            .on(filter, handler);
        self.by_path.insert(path, mr);
        self.list.push((method, path));
        self
    }

    /// Adds a GET page.
    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::GET, path, h)
    }

    /// Adds a POST form handler (CSRF-checked before it runs).
    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::POST, path, h)
    }

    /// Adds a POST form handler that receives a file upload (multipart, up to
    /// [`crate::UPLOAD_LIMIT`]); CSRF-checked like every form.
    pub fn upload<H: Handler<T, AppState>, T: 'static>(mut self, path: &'static str, h: H) -> Self {
        let mr = self
            .by_path
            .remove(path)
            .unwrap_or_default()
            .on(MethodFilter::POST, h)
            .layer(axum::extract::DefaultBodyLimit::max(crate::UPLOAD_LIMIT));
        self.by_path.insert(path, mr);
        self.list.push((Method::POST, path));
        self
    }

    /// The router and the list of (method, path) it serves.
    pub fn build(self) -> (Router<AppState>, Vec<(Method, &'static str)>) {
        let router = self
            .by_path
            .into_iter()
            .fold(Router::new(), |r, (path, mr)| r.route(path, mr));
        (router, self.list)
    }
}

/// Every page route. Paths under `/t/{town}` are a town's pages.
pub fn routes() -> PageRoutes {
    PageRoutes::new()
        .get("/signin", signin_page)
        .post("/signin", signin_submit)
        .post("/signout", signout)
        .get("/", home)
        .get("/t/{town}", town_page)
        .get("/profile", profile)
        .post("/profile/password", profile_password)
        .post("/profile/tokens", profile_create_token)
        .post("/profile/tokens/{id}/revoke", profile_revoke_token)
        .get("/audit", audit_page)
        .get("/audit.csv", audit_csv)
        .get("/admin/towns", admin_towns)
        .post("/admin/towns", admin_add_town)
        .get("/admin/towns/{town}", admin_town)
        .post("/admin/towns/{town}/subscriptions", admin_subscribe)
        .post(
            "/admin/towns/{town}/subscriptions/{service}/end",
            admin_end_subscription,
        )
        .post("/admin/towns/{town}/departments", admin_add_department)
        .get("/admin/users", admin_users)
        .post("/admin/users", admin_create_user)
        .get("/admin/users/{id}", admin_user)
        .post("/admin/users/{id}/grants", admin_add_grant)
        .post("/admin/users/{id}/reset-password", admin_reset_password)
        .post("/admin/users/{id}/active", admin_set_active)
        .post("/admin/grants/{id}/revoke", admin_revoke_grant)
        .get("/admin/roles", admin_roles)
        .get("/admin/jobs", admin_jobs)
        .post("/admin/jobs", admin_run_job)
        .post("/admin/jobs/{id}/retry", admin_retry_job)
}

// ---------------------------------------------------------------- chrome and helpers

/// What every signed-in page shows around its content.
#[derive(Debug)]
pub struct Chrome {
    /// Page title.
    pub title: String,
    /// Region name.
    pub region: String,
    /// Display name.
    pub user_name: String,
    /// Council administrator.
    pub is_admin: bool,
    /// CSRF token for forms.
    pub csrf: String,
    /// Flash (kind, message).
    pub flash: Option<(String, String)>,
    /// Towns for the switcher: (slug, name).
    pub towns: Vec<(String, String)>,
    /// Town being viewed.
    pub current_town: String,
    /// The current town's services the user may use: (key, title).
    pub town_services: Vec<(String, String)>,
    /// Requested path.
    pub path: String,
}

impl Chrome {
    /// Builds the chrome for a signed-in user.
    pub async fn new(
        st: &AppState,
        user: &PageUser,
        title: impl Into<String>,
        current_town: &str,
    ) -> Result<Self, Error> {
        let towns = access::my_towns(&st.db, &user.principal, st.today()).await?;
        Ok(Self {
            title: title.into(),
            region: st.region_name.clone(),
            user_name: user.principal.display_name().to_owned(),
            is_admin: user.principal.is_council_admin(),
            csrf: user.csrf.clone(),
            flash: user.flash.clone(),
            towns: towns
                .iter()
                .map(|t| (t.town().slug.to_string(), t.town().name.clone()))
                .collect(),
            town_services: towns
                .iter()
                .find(|t| t.town().slug.as_str() == current_town)
                .map(|t| {
                    t.services()
                        .iter()
                        .map(|s| (s.service.as_str().to_owned(), s.service.title().to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            current_town: current_town.to_owned(),
            path: user.path.clone(),
        })
    }

    /// `aria-current` for a nav link.
    pub fn current(&self, prefix: &str) -> &'static str {
        let hit = if prefix == "/" {
            self.path == "/"
        } else {
            self.path.starts_with(prefix)
        };
        if hit { "page" } else { "false" }
    }
}

/// A page that failed: rendered as an error page with the right status.
#[derive(Debug)]
pub struct PageError(pub Error);

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        render_error_page(&self.0)
    }
}

/// What page handlers return.
pub type PageResult = Result<Response, PageError>;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    detail: String,
}

/// Renders an error page for a platform error.
pub fn render_error_page(e: &Error) -> Response {
    let (status, _, detail, _) = classify(e);
    if status.is_server_error() {
        tracing::error!(error = %e, "page failed");
    }
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        detail,
    };
    (
        status,
        Html(page.render().unwrap_or_else(|_| "Error".into())),
    )
        .into_response()
}

/// Renders a page template, clearing a shown flash message.
pub fn render(t: &impl Template, user: &PageUser) -> PageResult {
    let body = t
        .render()
        .map_err(|e| Error::Internal(format!("template: {e}")))?;
    let mut resp = Html(body).into_response();
    if user.flash.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!("{FLASH_COOKIE}=; Path=/; Max-Age=0"))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Redirects with a one-shot message (`ok`, `error` or `info`).
pub fn redirect_flash(st: &AppState, to: &str, kind: &str, message: &str) -> Response {
    let mut resp = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        st,
        FLASH_COOKIE,
        &encode_flash(kind, message),
        Some(60),
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// After a form: success → back with a message; input errors → back with the
/// error naming the field; not-found and internal errors → error page.
pub fn after_form(st: &AppState, back: &str, result: Result<String, Error>) -> PageResult {
    match result {
        Ok(msg) => Ok(redirect_flash(st, back, "ok", &msg)),
        Err(
            e @ (Error::Invalid { .. }
            | Error::Conflict { .. }
            | Error::Forbidden(_)
            | Error::Locked { .. }),
        ) => Ok(redirect_flash(st, back, "error", &classify(&e).2)),
        Err(e) => Err(e.into()),
    }
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some()
}

/// A CSV download.
pub fn csv_response(filename: &str, rows: Vec<Vec<String>>) -> PageResult {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r)
            .map_err(|e| Error::Internal(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| Error::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// An XLSX download of the same rows a CSV export gives: the first row is the
/// header (bold, frozen); cells that are decimal numbers are written as numbers
/// with two decimals so the sheet can sum them. (Excel stores numbers as binary
/// doubles; every amount below 2^53 cents shows to the cent.)
pub fn xlsx_response(filename: &str, rows: Vec<Vec<String>>) -> PageResult {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let money = rust_xlsxwriter::Format::new().set_num_format("#,##0.00");
    let err = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("xlsx: {e}"));
    for (r, row) in rows.iter().enumerate() {
        let r =
            u32::try_from(r).map_err(|_| Error::Internal("too many rows for a sheet".into()))?;
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c)
                .map_err(|_| Error::Internal("too many columns for a sheet".into()))?;
            let numeric =
                r > 0 && cell.contains('.') && rust_decimal::Decimal::from_str_exact(cell).is_ok();
            if r == 0 {
                sheet
                    .write_string_with_format(r, c, cell, &bold)
                    .map_err(err)?;
            } else if numeric {
                let value: f64 = cell.parse().map_err(|_| Error::Internal("number".into()))?;
                sheet
                    .write_number_with_format(r, c, value, &money)
                    .map_err(err)?;
            } else {
                sheet.write_string(r, c, cell).map_err(err)?;
            }
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(err)?;
    let bytes = book.save_to_buffer().map_err(err)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A table download in the format asked for: `xlsx`, or CSV otherwise.
pub fn table_response(format: Option<&str>, stem: &str, rows: Vec<Vec<String>>) -> PageResult {
    match format {
        Some("xlsx") => xlsx_response(&format!("{stem}.xlsx"), rows),
        _ => csv_response(&format!("{stem}.csv"), rows),
    }
}

/// Sorting, filtering and paging of in-memory lists.
#[derive(Debug, Default, Deserialize)]
pub struct TableParams {
    /// Text filter.
    pub q: Option<String>,
    /// Sort key.
    pub sort: Option<String>,
    /// `asc` or `desc`.
    pub dir: Option<String>,
    /// 1-based page.
    pub page: Option<usize>,
    /// `csv` to export.
    pub format: Option<String>,
}

const PAGE_SIZE: usize = 25;

/// One page of a filtered, sorted list, with what the table needs to link pages.
#[derive(Debug)]
pub struct Paged<T> {
    /// Rows on this page.
    pub rows: Vec<T>,
    /// Current page (1-based).
    pub page: usize,
    /// Total pages.
    pub pages: usize,
    /// Rows matching the filter.
    pub total: usize,
    /// Filter text.
    pub q: String,
    /// Sort key.
    pub sort: String,
    /// Sort direction.
    pub dir: String,
}

impl<T> Paged<T> {
    fn new(
        mut all: Vec<T>,
        p: &TableParams,
        default_sort: &str,
        key: impl Fn(&T, &str) -> SortKey,
    ) -> Self {
        let sort = p.sort.clone().unwrap_or_else(|| default_sort.to_owned());
        let desc = p.dir.as_deref() == Some("desc");
        all.sort_by(|a, b| {
            let o = key(a, &sort).cmp(&key(b, &sort));
            if desc { o.reverse() } else { o }
        });
        let total = all.len();
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = p.page.unwrap_or(1).clamp(1, pages);
        let rows = all
            .into_iter()
            .skip((page - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .collect();
        Self {
            rows,
            page,
            pages,
            total,
            q: p.q.clone().unwrap_or_default(),
            sort,
            dir: if desc { "desc".into() } else { "asc".into() },
        }
    }

    /// Query string for another page, keeping filter and sort.
    pub fn link(&self, page: usize) -> String {
        format!(
            "?q={}&sort={}&dir={}&page={page}",
            enc(&self.q),
            enc(&self.sort),
            enc(&self.dir)
        )
    }

    /// Query string to sort by `key` (toggling direction when already sorted by it).
    pub fn sort_link(&self, key: &str) -> String {
        let dir = if self.sort == key && self.dir == "asc" {
            "desc"
        } else {
            "asc"
        };
        format!("?q={}&sort={key}&dir={dir}", enc(&self.q))
    }

    /// `aria-sort` value for a column.
    pub fn aria_sort(&self, key: &str) -> &'static str {
        match (self.sort == key, self.dir.as_str()) {
            (true, "desc") => "descending",
            (true, _) => "ascending",
            _ => "none",
        }
    }

    /// Query string to export the filtered, sorted list as CSV.
    pub fn csv_link(&self) -> String {
        self.export_link("csv")
    }

    /// Query string to export the filtered, sorted list as XLSX.
    pub fn xlsx_link(&self) -> String {
        self.export_link("xlsx")
    }

    fn export_link(&self, format: &str) -> String {
        format!(
            "?q={}&sort={}&dir={}&format={format}",
            enc(&self.q),
            enc(&self.sort),
            enc(&self.dir)
        )
    }
}

/// A sortable cell value.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    /// Text, compared case-insensitively.
    Text(String),
    /// A number.
    Num(i64),
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn matches(q: &Option<String>, fields: &[&str]) -> bool {
    match q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => true,
        Some(q) => {
            let q = q.to_lowercase();
            fields.iter().any(|f| f.to_lowercase().contains(&q))
        }
    }
}

/// Formats dollars for people (templates pass references).
pub fn dollars(cents: &i64) -> String {
    Money::from_cents(*cents).to_string()
}

/// Formats a date as YYYY-MM-DD (templates pass references).
pub fn date(d: &time::Date) -> String {
    format_date(*d)
}

/// Formats a count with thousands separators (templates pass references).
pub fn count(n: &i64) -> String {
    let n = *n;
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// "2026-11-26 08:00 UTC" from a stored time.
pub fn when(stored: &str) -> String {
    Timestamp::parse("at", stored)
        .map(Timestamp::human)
        .unwrap_or_else(|_| stored.to_owned())
}

// ---------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    region: String,
    csrf: String,
    next: String,
    error: Option<String>,
    info: Option<String>,
    username: String,
}

#[derive(Debug, Deserialize)]
struct SigninQuery {
    next: Option<String>,
    expired: Option<String>,
    signed_out: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    // Only same-site paths, so the sign-in page cannot be used to redirect elsewhere.
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn signin_response(st: &AppState, status: StatusCode, page: SigninPage) -> PageResult {
    let body = page
        .render()
        .map_err(|e| Error::Internal(format!("template: {e}")))?;
    let mut resp = (status, Html(body)).into_response();
    if let Ok(v) =
        HeaderValue::from_str(&set_cookie(st, SIGNIN_CSRF_COOKIE, &page.csrf, Some(3600)))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

async fn signin_page(State(st): State<AppState>, Query(q): Query<SigninQuery>) -> PageResult {
    let info = if q.expired.is_some() {
        Some("The sign-in form expired. Please sign in again.".to_owned())
    } else if q.signed_out.is_some() {
        Some("You are signed out.".to_owned())
    } else {
        None
    };
    signin_response(
        &st,
        StatusCode::OK,
        SigninPage {
            region: st.region_name.clone(),
            csrf: identity::random_secret()?,
            next: safe_next(q.next.as_deref()),
            error: None,
            info,
            username: String::new(),
        },
    )
}

#[derive(Debug, Deserialize)]
struct SigninForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn signin_submit(
    State(st): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<SigninForm>,
) -> PageResult {
    if let Err(wait) = st.signin_throttle.attempt(&addr, st.now().datetime()) {
        return signin_response(
            &st,
            StatusCode::TOO_MANY_REQUESTS,
            SigninPage {
                region: st.region_name.clone(),
                csrf: identity::random_secret()?,
                next: safe_next(f.next.as_deref()),
                error: Some(throttled_message(wait)),
                info: None,
                username: f.username.chars().take(40).collect(),
            },
        );
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match identity::sign_in(&st.db, st.now(), &f.username, &f.password, ua).await {
        Ok(session) => {
            let to = if session.user.must_change_password {
                "/profile?must_change=1".to_owned()
            } else {
                safe_next(f.next.as_deref())
            };
            let mut resp = Redirect::to(&to).into_response();
            let age = st.config.session.absolute.whole_seconds();
            for c in [
                set_cookie(&st, SESSION_COOKIE, &session.token, Some(age)),
                set_cookie(&st, SIGNIN_CSRF_COOKIE, "", Some(0)),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            Ok(resp)
        }
        Err(e @ (Error::Unauthenticated(_) | Error::Locked { .. })) => {
            let (status, _, detail, _) = classify(&e);
            signin_response(
                &st,
                status,
                SigninPage {
                    region: st.region_name.clone(),
                    csrf: identity::random_secret()?,
                    next: safe_next(f.next.as_deref()),
                    error: Some(detail),
                    info: None,
                    username: f.username.chars().take(40).collect(),
                },
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn signout(State(st): State<AppState>, headers: HeaderMap) -> PageResult {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        identity::sign_out(&st.db, &token).await?;
    }
    let mut resp = Redirect::to("/signin?signed_out=1").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(&st, SESSION_COOKIE, "", Some(0))) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

// ---------------------------------------------------------------- home and town

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    towns: Vec<TownScope>,
}

async fn home(State(st): State<AppState>, user: PageUser) -> PageResult {
    let towns = access::my_towns(&st.db, &user.principal, st.today()).await?;
    let chrome = Chrome::new(&st, &user, "Home", "").await?;
    render(&HomePage { chrome, towns }, &user)
}

#[derive(Template)]
#[template(path = "town.html")]
struct TownPage {
    chrome: Chrome,
    scope: TownScope,
    entities: Vec<Entity>,
    departments: Vec<Department>,
    all_services: Vec<Service>,
}

impl TownPage {
    fn entity_name(&self, d: &Department) -> String {
        self.entities
            .iter()
            .find(|e| e.id == d.entity_id)
            .map(|e| e.name.clone())
            .unwrap_or_default()
    }
    fn uses(&self, s: &Service) -> bool {
        self.scope.services().iter().any(|a| a.service == *s)
    }
}

async fn town_page(
    State(st): State<AppState>,
    user: PageUser,
    Path(town): Path<String>,
) -> PageResult {
    let scope = access::authorize_town(&st.db, &user.principal, st.today(), &town).await?;
    let mut c = st.db.read().await?;
    let entities = tenancy::entities(&scope, &mut c).await?;
    let departments = tenancy::departments(&scope, &mut c).await?;
    drop(c);
    let chrome = Chrome::new(
        &st,
        &user,
        scope.town().name.clone(),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &TownPage {
            chrome,
            scope,
            entities,
            departments,
            all_services: Service::ALL.to_vec(),
        },
        &user,
    )
}

// ---------------------------------------------------------------- profile

/// A town and the services a token can be made for there: (slug, name, [(key, title)]).
type TokenChoice = (String, String, Vec<(String, String)>);

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    must_change: bool,
    tokens: Vec<ApiToken>,
    town_names: Vec<(String, String, String)>,
    choices: Vec<TokenChoice>,
}

impl ProfilePage {
    fn town_of(&self, t: &ApiToken) -> String {
        self.town_names
            .iter()
            .find(|(id, _, _)| *id == t.municipality_id.as_str())
            .map(|(_, _, n)| n.clone())
            .unwrap_or_else(|| "(no access)".into())
    }
}

#[derive(Debug, Deserialize)]
struct ProfileQuery {
    must_change: Option<String>,
}

async fn profile(
    State(st): State<AppState>,
    user: PageUser,
    Query(q): Query<ProfileQuery>,
) -> PageResult {
    let tokens = identity::list_api_tokens(&user.principal, &st.db).await?;
    let towns = access::my_towns(&st.db, &user.principal, st.today()).await?;
    let chrome = Chrome::new(&st, &user, "Profile", "").await?;
    let page = ProfilePage {
        chrome,
        must_change: q.must_change.is_some() || user.principal.must_change_password(),
        tokens,
        town_names: towns
            .iter()
            .map(|t| {
                (
                    t.town().id.to_string(),
                    t.town().slug.to_string(),
                    t.town().name.clone(),
                )
            })
            .collect(),
        choices: towns
            .iter()
            .map(|t| {
                (
                    t.town().slug.to_string(),
                    t.town().name.clone(),
                    t.services()
                        .iter()
                        .map(|s| (s.service.as_str().to_owned(), s.service.title().to_owned()))
                        .collect(),
                )
            })
            .collect(),
    };
    render(&page, &user)
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

async fn profile_password(
    State(st): State<AppState>,
    user: PageUser,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    let r = identity::change_password(
        &user.principal,
        &st.db,
        st.now(),
        &f.current_password,
        &f.new_password,
        &f.confirm_password,
    )
    .await;
    match r {
        Ok(()) => Ok(redirect_flash(&st, "/", "ok", "Your password is changed.")),
        Err(e) => after_form(&st, "/profile", Err(e)),
    }
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    town_service: String,
    label: String,
    expires_in_days: Option<String>,
}

async fn profile_create_token(
    State(st): State<AppState>,
    user: PageUser,
    Form(f): Form<TokenForm>,
) -> PageResult {
    let r = async {
        let (town, service) = f
            .town_service
            .split_once('/')
            .ok_or_else(|| Error::invalid("town_service", "choose a town and service"))?;
        let service = Service::parse("town_service", service)?;
        let days = match f
            .expires_in_days
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(d) => Some(
                d.parse::<u32>()
                    .map_err(|_| Error::invalid("expires_in_days", "enter a number of days"))?,
            ),
        };
        let scope =
            access::authorize_member(&st.db, &user.principal, st.today(), town, service).await?;
        let (_, secret) =
            identity::create_api_token(&scope, &st.db, st.now(), &f.label, days).await?;
        Ok(format!(
            "Token created. Copy it now; it will not be shown again: {secret}"
        ))
    }
    .await;
    after_form(&st, "/profile", r)
}

async fn profile_revoke_token(
    State(st): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    let id: TokenId = id
        .parse()
        .map_err(|_| Error::NotFound { what: "API token" })?;
    identity::revoke_api_token(&user.principal, &st.db, st.now(), &id).await?;
    Ok(redirect_flash(&st, "/profile", "ok", "Token revoked."))
}

// ---------------------------------------------------------------- audit

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    town_options: Vec<(String, String)>,
    events: Vec<AuditEvent>,
    town_names: Vec<(String, String)>,
    f: AuditForm,
    next_link: Option<String>,
    csv_link: String,
    services: Vec<Service>,
}

#[derive(Template)]
#[template(path = "audit_rows.html")]
struct AuditRows {
    events: Vec<AuditEvent>,
    town_names: Vec<(String, String)>,
    next_link: Option<String>,
}

/// The audit filter form's values, echoed back.
#[derive(Debug, Default, Clone)]
pub struct AuditForm {
    actor: String,
    service: String,
    entity_type: String,
    entity_id: String,
    town: String,
    from: String,
    to: String,
}

impl AuditPage {
    fn town_name(&self, e: &AuditEvent) -> String {
        town_label(&self.town_names, e)
    }
}

impl AuditRows {
    fn town_name(&self, e: &AuditEvent) -> String {
        town_label(&self.town_names, e)
    }
}

fn town_label(names: &[(String, String)], e: &AuditEvent) -> String {
    match &e.municipality_id {
        None => "Region".into(),
        Some(id) => names
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.clone()),
    }
}

fn audit_query_string(q: &AuditQuery) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("actor", &q.actor),
        ("service", &q.service),
        ("entity_type", &q.entity_type),
        ("entity_id", &q.entity_id),
        ("town", &q.town),
        ("from", &q.from),
        ("to", &q.to),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

async fn audit_events(
    st: &AppState,
    user: &PageUser,
    q: &AuditQuery,
    limit: u32,
) -> Result<(Vec<AuditEvent>, Vec<(String, String)>), Error> {
    let filter = audit_filter(st, q).await?;
    let vis = access::audit_visibility(&st.db, &user.principal, st.today()).await?;
    let events = audit::list(&st.db, &vis, &filter, limit).await?;
    let mut c = st.db.read().await?;
    let names = tenancy::list_all(&mut c)
        .await?
        .into_iter()
        .map(|t| (t.id.to_string(), t.name))
        .collect();
    Ok((events, names))
}

async fn audit_page(
    State(st): State<AppState>,
    user: PageUser,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    const LIMIT: u32 = 50;
    let (events, town_names) = match audit_events(&st, &user, &q, LIMIT).await {
        Ok(v) => v,
        Err(e @ Error::Invalid { .. }) => return after_form(&st, "/audit", Err(e)),
        Err(e) => return Err(e.into()),
    };
    let base = audit_query_string(&q);
    let next_link = (events.len() == LIMIT as usize)
        .then(|| {
            events.last().map(|e| {
                format!(
                    "/audit?{base}&cursor={}",
                    enc(&format!("{}|{}", e.at, e.id))
                )
            })
        })
        .flatten();
    if is_htmx(&headers) {
        let rows = AuditRows {
            events,
            town_names,
            next_link,
        };
        return render(&rows, &user);
    }
    let chrome = Chrome::new(&st, &user, "Audit log", "").await?;
    // Council administrators filter by any town (they see its administration events).
    let town_options = if user.principal.is_council_admin() {
        let mut c = st.db.read().await?;
        tenancy::list_all(&mut c)
            .await?
            .into_iter()
            .map(|t| (t.slug.to_string(), t.name))
            .collect()
    } else {
        chrome.towns.clone()
    };
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    let page = AuditPage {
        chrome,
        town_options,
        events,
        town_names,
        f: AuditForm {
            actor: s(&q.actor),
            service: s(&q.service),
            entity_type: s(&q.entity_type),
            entity_id: s(&q.entity_id),
            town: s(&q.town),
            from: s(&q.from),
            to: s(&q.to),
        },
        next_link,
        csv_link: format!("/audit.csv?{base}"),
        services: Service::ALL.to_vec(),
    };
    render(&page, &user)
}

async fn audit_csv(
    State(st): State<AppState>,
    user: PageUser,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let (events, names) = audit_events(&st, &user, &q, 100_000).await?;
    let mut rows = vec![
        [
            "at",
            "town",
            "service",
            "actor",
            "action",
            "entity_type",
            "entity_id",
            "request_id",
            "before",
            "after",
            "chain",
            "seq",
            "hash",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for e in events {
        rows.push(vec![
            e.at.clone(),
            town_label(&names, &e),
            e.service.clone().unwrap_or_default(),
            e.actor.clone(),
            e.action.clone(),
            e.entity_type.clone(),
            e.entity_id.clone(),
            e.request_id.clone().unwrap_or_default(),
            e.before_json.clone().unwrap_or_default(),
            e.after_json.clone().unwrap_or_default(),
            e.chain.clone(),
            e.seq.to_string(),
            e.hash.clone(),
        ]);
    }
    csv_response("audit.csv", rows)
}

// ---------------------------------------------------------------- council administration: towns

/// A signed-in council administrator, checked before any form is read.
#[derive(Debug)]
pub struct PageAdmin {
    /// The user.
    pub user: PageUser,
    /// The proof.
    pub admin: access::CouncilAdmin,
}

impl axum::extract::FromRequestParts<AppState> for PageAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = PageUser::from_request_parts(parts, state).await?;
        let admin =
            access::authorize_council_admin(&user.principal).map_err(|e| render_error_page(&e))?;
        Ok(Self { user, admin })
    }
}

/// A town row on the admin list.
#[derive(Debug)]
pub struct TownRow {
    town: Municipality,
    active_services: Vec<Service>,
}

#[derive(Template)]
#[template(path = "admin_towns.html")]
struct AdminTownsPage {
    chrome: Chrome,
    table: Paged<TownRow>,
}

async fn admin_towns(
    State(st): State<AppState>,
    PageAdmin { user, admin: a }: PageAdmin,
    Query(p): Query<TableParams>,
) -> PageResult {
    let today = st.today();
    let all: Vec<TownRow> = tenancy::admin_list_with_subscriptions(&a, &st.db)
        .await?
        .into_iter()
        .filter(|(t, _)| matches(&p.q, &[&t.name, &t.county, &t.fips]))
        .map(|(town, subs)| TownRow {
            active_services: subs
                .iter()
                .filter(|s| s.is_active_on(today))
                .map(|s| s.service)
                .collect(),
            town,
        })
        .collect();
    if matches!(p.format.as_deref(), Some("csv" | "xlsx")) {
        let mut rows = vec![
            [
                "name",
                "fips",
                "county",
                "population",
                "net_grand_list",
                "mill_rate",
                "services",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for r in &all {
            rows.push(vec![
                r.town.name.clone(),
                r.town.fips.clone(),
                r.town.county.clone(),
                r.town.population.to_string(),
                Money::from_cents(r.town.net_grand_list_cents)
                    .to_decimal()
                    .to_string(),
                r.town.mill_rate.clone(),
                r.active_services
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]);
        }
        return table_response(p.format.as_deref(), "towns", rows);
    }
    let table = Paged::new(all, &p, "name", |r, k| match k {
        "population" => SortKey::Num(r.town.population),
        "grand_list" => SortKey::Num(r.town.net_grand_list_cents),
        "county" => SortKey::Text(r.town.county.to_lowercase()),
        "services" => SortKey::Num(i64::try_from(r.active_services.len()).unwrap_or(0)),
        _ => SortKey::Text(r.town.name.to_lowercase()),
    });
    let chrome = Chrome::new(&st, &user, "Member towns", "").await?;
    render(&AdminTownsPage { chrome, table }, &user)
}

#[derive(Debug, Deserialize)]
struct NewTownForm {
    name: String,
    fips: String,
    county: String,
    population: String,
    net_grand_list: String,
    mill_rate: String,
}

async fn admin_add_town(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Form(f): Form<NewTownForm>,
) -> PageResult {
    let r = async {
        let new = NewMunicipality {
            name: f.name,
            fips: f.fips.trim().to_owned(),
            county: f.county,
            population: f
                .population
                .trim()
                .replace(',', "")
                .parse()
                .map_err(|_| Error::invalid("population", "enter a whole number"))?,
            net_grand_list_cents: Money::parse("net_grand_list", &f.net_grand_list)?.cents(),
            mill_rate: f.mill_rate,
        };
        let town = tenancy::create_municipality(&a, &st.db, st.now(), &new).await?;
        Ok(format!("{} added.", town.name))
    }
    .await;
    after_form(&st, "/admin/towns", r)
}

#[derive(Template)]
#[template(path = "admin_town.html")]
struct AdminTownPage {
    chrome: Chrome,
    town: Municipality,
    subscriptions: Vec<Subscription>,
    departments: Vec<Department>,
    grants: Vec<Grant>,
    today: time::Date,
    unsubscribed: Vec<Service>,
    today_text: String,
}

async fn admin_town(
    State(st): State<AppState>,
    PageAdmin { user, admin: a }: PageAdmin,
    Path(town): Path<String>,
) -> PageResult {
    let town = tenancy::admin_town(&a, &st.db, &town).await?;
    let subscriptions = tenancy::admin_subscriptions(&a, &st.db, &town).await?;
    let departments = tenancy::admin_departments(&a, &st.db, &town).await?;
    let grants = access::grants_in_town(&a, &st.db, &town.id).await?;
    let unsubscribed = Service::ALL
        .into_iter()
        .filter(|s| {
            !subscriptions
                .iter()
                .any(|x| x.service == *s && x.ended_on.is_none())
        })
        .collect();
    let chrome = Chrome::new(&st, &user, format!("{} — administration", town.name), "").await?;
    let today = st.today();
    render(
        &AdminTownPage {
            chrome,
            town,
            subscriptions,
            departments,
            grants,
            today,
            unsubscribed,
            today_text: format_date(today),
        },
        &user,
    )
}

#[derive(Debug, Deserialize)]
struct SubscribeForm {
    service: String,
    effective_from: String,
}

async fn admin_subscribe(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Path(slug): Path<String>,
    Form(f): Form<SubscribeForm>,
) -> PageResult {
    let town = tenancy::admin_town(&a, &st.db, &slug).await?;
    let back = format!("/admin/towns/{}", town.slug);
    let r = async {
        let service = Service::parse("service", &f.service)?;
        let from = parse_date("effective_from", &f.effective_from)?;
        let mut tx = st.db.begin().await?;
        tenancy::subscribe(&a, &mut tx, st.now(), &town, service, from).await?;
        tx.commit().await?;
        Ok(format!(
            "{} subscribes to {} from {}.",
            town.name,
            service.title(),
            format_date(from)
        ))
    }
    .await;
    after_form(&st, &back, r)
}

#[derive(Debug, Deserialize)]
struct EndForm {
    ended_on: String,
}

async fn admin_end_subscription(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Path((slug, service)): Path<(String, String)>,
    Form(f): Form<EndForm>,
) -> PageResult {
    let town = tenancy::admin_town(&a, &st.db, &slug).await?;
    let service =
        Service::parse("service", &service).map_err(|_| Error::NotFound { what: "service" })?;
    let back = format!("/admin/towns/{}", town.slug);
    let r = async {
        let on = parse_date("ended_on", &f.ended_on)?;
        let mut tx = st.db.begin().await?;
        tenancy::end_subscription(&a, &mut tx, st.now(), &town, service, on).await?;
        tx.commit().await?;
        Ok(format!(
            "{}'s {} subscription ends on {}.",
            town.name,
            service.title(),
            format_date(on)
        ))
    }
    .await;
    after_form(&st, &back, r)
}

#[derive(Debug, Deserialize)]
struct DepartmentForm {
    entity: String,
    code: String,
    name: String,
}

async fn admin_add_department(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Path(slug): Path<String>,
    Form(f): Form<DepartmentForm>,
) -> PageResult {
    let town = tenancy::admin_town(&a, &st.db, &slug).await?;
    let back = format!("/admin/towns/{}", town.slug);
    let r = async {
        let kind = parse_entity_kind(&f.entity)?;
        let mut tx = st.db.begin().await?;
        let d =
            tenancy::add_department(&a, &mut tx, st.now(), &town, kind, &f.code, &f.name).await?;
        tx.commit().await?;
        Ok(format!("Department {} ({}) added.", d.name, d.code))
    }
    .await;
    after_form(&st, &back, r)
}

// ---------------------------------------------------------------- council administration: users and grants

#[derive(Template)]
#[template(path = "admin_users.html")]
struct AdminUsersPage {
    chrome: Chrome,
    table: Paged<User>,
}

async fn admin_users(
    State(st): State<AppState>,
    PageAdmin { user, admin: a }: PageAdmin,
    Query(p): Query<TableParams>,
) -> PageResult {
    let all: Vec<User> = identity::list_users(&a, &st.db)
        .await?
        .into_iter()
        .filter(|u| matches(&p.q, &[&u.username, &u.display_name, &u.email]))
        .collect();
    if matches!(p.format.as_deref(), Some("csv" | "xlsx")) {
        let mut rows = vec![
            [
                "username",
                "display_name",
                "email",
                "council_admin",
                "active",
                "locked_until",
                "created_at",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for u in &all {
            rows.push(vec![
                u.username.clone(),
                u.display_name.clone(),
                u.email.clone(),
                u.council_admin.to_string(),
                u.active.to_string(),
                u.locked_until.clone().unwrap_or_default(),
                u.created_at.clone(),
            ]);
        }
        return table_response(p.format.as_deref(), "users", rows);
    }
    let table = Paged::new(all, &p, "username", |u, k| match k {
        "name" => SortKey::Text(u.display_name.to_lowercase()),
        "created" => SortKey::Text(u.created_at.clone()),
        "status" => SortKey::Num(i64::from(u.active)),
        _ => SortKey::Text(u.username.clone()),
    });
    let chrome = Chrome::new(&st, &user, "Users", "").await?;
    render(&AdminUsersPage { chrome, table }, &user)
}

#[derive(Debug, Deserialize)]
struct NewUserForm {
    username: String,
    display_name: String,
    email: String,
    council_admin: Option<String>,
}

async fn admin_create_user(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Form(f): Form<NewUserForm>,
) -> PageResult {
    let r = identity::create_user(
        &a,
        &st.db,
        st.now(),
        &identity::NewUser {
            username: f.username,
            display_name: f.display_name,
            email: f.email,
            council_admin: f.council_admin.is_some(),
        },
    )
    .await;
    match r {
        Ok((u, password)) => Ok(redirect_flash(
            &st,
            &format!("/admin/users/{}", u.id),
            "ok",
            &format!(
                "User {} created. Temporary password (shown once; they must change it at first sign-in): {password}",
                u.username
            ),
        )),
        Err(e) => after_form(&st, "/admin/users", Err(e)),
    }
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct AdminUserPage {
    chrome: Chrome,
    u: User,
    grants: Vec<Grant>,
    roles: Vec<Role>,
    towns: Vec<Municipality>,
    services: Vec<Service>,
}

async fn admin_user(
    State(st): State<AppState>,
    PageAdmin { user, admin: a }: PageAdmin,
    Path(id): Path<String>,
) -> PageResult {
    let id: UserId = id.parse().map_err(|_| Error::NotFound { what: "user" })?;
    let mut c = st.db.read().await?;
    let u = identity::user_by_id(&mut c, &id)
        .await?
        .ok_or(Error::NotFound { what: "user" })?;
    let roles = access::list_roles(&mut c).await?;
    let towns = tenancy::list_all(&mut c).await?;
    drop(c);
    let grants = access::grants_of_user(&a, &st.db, &id).await?;
    let chrome = Chrome::new(&st, &user, format!("User {}", u.username), "").await?;
    render(
        &AdminUserPage {
            chrome,
            u,
            grants,
            roles,
            towns,
            services: Service::ALL.to_vec(),
        },
        &user,
    )
}

#[derive(Debug, Deserialize)]
struct GrantForm {
    role_id: String,
    town: Option<String>,
    service: Option<String>,
}

async fn admin_add_grant(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Path(id): Path<String>,
    Form(f): Form<GrantForm>,
) -> PageResult {
    let uid: UserId = id.parse().map_err(|_| Error::NotFound { what: "user" })?;
    let back = format!("/admin/users/{uid}");
    let r = async {
        let new = new_grant(
            &st,
            uid.as_str(),
            &f.role_id,
            f.town.as_deref(),
            f.service.as_deref(),
        )
        .await?;
        let g = access::create_grant(&a, &st.db, st.now(), &new).await?;
        Ok(format!(
            "Granted {} to {} in {}{}.",
            g.role_name,
            g.username,
            g.town_name
                .clone()
                .unwrap_or_else(|| "the whole region".into()),
            g.service
                .as_deref()
                .map(|s| format!(" (only {s})"))
                .unwrap_or_default()
        ))
    }
    .await;
    after_form(&st, &back, r)
}

async fn admin_revoke_grant(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Path(id): Path<String>,
) -> PageResult {
    let id: GrantId = id.parse().map_err(|_| Error::NotFound { what: "grant" })?;
    let g = access::revoke_grant(&a, &st.db, st.now(), &id).await;
    match g {
        Ok(g) => Ok(redirect_flash(
            &st,
            &format!("/admin/users/{}", g.user_id),
            "ok",
            &format!("Revoked {} from {}.", g.role_name, g.username),
        )),
        Err(e) => after_form(&st, "/admin/users", Err(e)),
    }
}

async fn admin_reset_password(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Path(id): Path<String>,
) -> PageResult {
    let id: UserId = id.parse().map_err(|_| Error::NotFound { what: "user" })?;
    let (u, password) = identity::reset_password(&a, &st.db, st.now(), &id).await?;
    Ok(redirect_flash(
        &st,
        &format!("/admin/users/{}", u.id),
        "ok",
        &format!(
            "New temporary password for {} (shown once): {password}",
            u.username
        ),
    ))
}

#[derive(Debug, Deserialize)]
struct ActiveForm {
    active: String,
}

async fn admin_set_active(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Path(id): Path<String>,
    Form(f): Form<ActiveForm>,
) -> PageResult {
    let id: UserId = id.parse().map_err(|_| Error::NotFound { what: "user" })?;
    let back = format!("/admin/users/{id}");
    let r = identity::set_active(&a, &st.db, st.now(), &id, f.active == "true")
        .await
        .map(|u| {
            format!(
                "{} is now {}.",
                u.username,
                if u.active { "enabled" } else { "disabled" }
            )
        });
    after_form(&st, &back, r)
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct AdminRolesPage {
    chrome: Chrome,
    roles: Vec<Role>,
    services: Vec<Service>,
}

impl AdminRolesPage {
    /// The role's permissions in one service, e.g. "view, edit".
    fn cell(&self, role: &Role, service: &Service) -> String {
        role.permissions
            .iter()
            .filter(|(s, _)| s == service)
            .map(|(_, p)| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn admin_roles(State(st): State<AppState>, PageAdmin { user, .. }: PageAdmin) -> PageResult {
    let mut c = st.db.read().await?;
    let roles = access::list_roles(&mut c).await?;
    drop(c);
    let chrome = Chrome::new(&st, &user, "Roles", "").await?;
    render(
        &AdminRolesPage {
            chrome,
            roles,
            services: Service::ALL.to_vec(),
        },
        &user,
    )
}

// ---------------------------------------------------------------- council administration: jobs

#[derive(Template)]
#[template(path = "admin_jobs.html")]
struct AdminJobsPage {
    chrome: Chrome,
    jobs: Vec<Job>,
    runnable: Vec<(&'static str, &'static str)>,
    status: String,
    busy: bool,
}

#[derive(Template)]
#[template(path = "admin_jobs_rows.html")]
struct AdminJobsRows {
    jobs: Vec<Job>,
    status: String,
    busy: bool,
    csrf: String,
}

#[derive(Debug, Deserialize)]
struct JobsQuery {
    status: Option<String>,
}

impl AdminJobsPage {
    fn is_status(&self, s: &str) -> bool {
        self.status == s
    }
}

async fn admin_jobs(
    State(st): State<AppState>,
    PageAdmin { user, admin: a }: PageAdmin,
    headers: HeaderMap,
    Query(q): Query<JobsQuery>,
) -> PageResult {
    let status = q
        .status
        .clone()
        .filter(|s| ["queued", "running", "retry", "done", "failed"].contains(&s.as_str()));
    let list = jobs::list(&a, &st.db, status.as_deref(), 200).await?;
    let busy = list
        .iter()
        .any(|j| ["queued", "running", "retry"].contains(&j.status.as_str()));
    let status = status.unwrap_or_default();
    if is_htmx(&headers) {
        return render(
            &AdminJobsRows {
                jobs: list,
                status,
                busy,
                csrf: user.csrf.clone(),
            },
            &user,
        );
    }
    let chrome = Chrome::new(&st, &user, "Background jobs", "").await?;
    render(
        &AdminJobsPage {
            chrome,
            jobs: list,
            runnable: jobs::ADMIN_RUNNABLE.to_vec(),
            status,
            busy,
        },
        &user,
    )
}

#[derive(Debug, Deserialize)]
struct RunJobForm {
    kind: String,
}

async fn admin_run_job(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Form(f): Form<RunJobForm>,
) -> PageResult {
    let r = jobs::enqueue_by_admin(&a, &st.db, st.now(), &f.kind)
        .await
        .map(|id| format!("Job {id} queued."));
    st.jobs.wake();
    after_form(&st, "/admin/jobs", r)
}

async fn admin_retry_job(
    State(st): State<AppState>,
    PageAdmin { admin: a, .. }: PageAdmin,
    Path(id): Path<String>,
) -> PageResult {
    let id: JobId = id.parse().map_err(|_| Error::NotFound { what: "job" })?;
    let r = jobs::retry(&a, &st.db, st.now(), &id)
        .await
        .map(|()| "Job queued again.".to_owned());
    st.jobs.wake();
    after_form(&st, "/admin/jobs", r)
}

/// Bytes for people: `1.5 GiB`, `512 B` (binary units; templates pass references).
pub fn fmt_bytes(n: &i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = *n as f64;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod bytes_tests {
    use super::fmt_bytes;

    #[test]
    fn bytes_read_for_people() {
        assert_eq!(fmt_bytes(&0), "0 B");
        assert_eq!(fmt_bytes(&1023), "1023 B");
        assert_eq!(fmt_bytes(&1536), "1.5 KiB");
        assert_eq!(fmt_bytes(&(16 << 20)), "16.0 MiB");
        assert_eq!(fmt_bytes(&(3 << 40)), "3.0 TiB");
    }
}
