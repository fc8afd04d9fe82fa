//! Authentication at the edge: session cookies for the browser, bearer tokens
//! for scripts, and CSRF protection for every state-changing browser request.
//!
//! CSRF uses the synchroniser-token pattern: each session has a random token,
//! pages embed it in forms (`csrf` field) and in a `<meta>` tag that htmx sends
//! as `X-CSRF-Token`; [`csrf_guard`] checks it on every non-GET page request
//! before any handler runs, so no form can forget it. The sign-in form, which
//! has no session yet, uses a double-submit cookie instead.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::marker::PhantomData;

use munishare_platform::access::{self, CouncilAdmin, Principal, ServiceScope};
use munishare_platform::identity;
use munishare_platform::types::{Permission, Service};

use crate::error::{ApiError, problem};
use crate::pages::render_error_page;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "munishare_session";
/// Name of the pre-sign-in CSRF cookie.
pub const SIGNIN_CSRF_COOKIE: &str = "munishare_signin_csrf";
/// Name of the one-shot flash-message cookie.
pub const FLASH_COOKIE: &str = "munishare_flash";

/// Reads one cookie from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value with the site's attributes.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.secure_cookies {
        c.push_str("; Secure");
    }
    c
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The request id set by the request-id middleware.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn request_id(parts: &Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// An API caller: a bearer token, or a browser session (which must then send
/// `X-CSRF-Token` on state-changing requests).
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Principal);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let now = state.now();
        let rid = request_id(parts);
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let secret = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            return match identity::token_principal(&state.db, now, secret.trim()).await {
                Ok(Some(p)) => Ok(Self(p.with_request_id(rid))),
                Ok(None) => Err(problem(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "The API token is unknown, revoked or expired.",
                    Some("Authorization".into()),
                )),
                Err(e) => Err(ApiError(e).into_response()),
            };
        }
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign in, or send an API token as 'Authorization: Bearer mst_…'.",
                None,
            ));
        };
        match identity::session_principal(&state.db, now, state.config.session, &token).await {
            Ok(Some((p, csrf))) => {
                if !is_safe(&parts.method) {
                    let sent = parts
                        .headers
                        .get("x-csrf-token")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !constant_time_eq(sent, &csrf) {
                        return Err(problem(
                            StatusCode::FORBIDDEN,
                            "csrf",
                            "Browser requests that change data must send the page's X-CSRF-Token header.",
                            Some("X-CSRF-Token".into()),
                        ));
                    }
                }
                Ok(Self(p.with_request_id(rid)))
            }
            Ok(None) => Err(problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Your session has ended; sign in again.",
                None,
            )),
            Err(e) => Err(ApiError(e).into_response()),
        }
    }
}

/// An API caller who is a council administrator. Checked before the request
/// body is read, so a non-administrator gets 403 whatever they sent.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub CouncilAdmin);

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiCaller(p) = ApiCaller::from_request_parts(parts, state).await?;
        access::authorize_council_admin(&p)
            .map(Self)
            .map_err(|e| ApiError(e).into_response())
    }
}

/// Names the service a [`ServiceCaller`] or [`ServicePage`] authorizes.
pub trait ServiceKey: Send + Sync + 'static {
    /// The service.
    const SERVICE: Service;
    /// Whether a caller who holds some permission on the service but not view
    /// is let through: the module then decides what each permission shows
    /// (records: a contributor sees only what they filed). Otherwise view is
    /// needed to reach any of the service's routes.
    const CONTRIBUTORS: bool = false;
}

/// The scope of service `S` in `town`, as [`ServiceKey::CONTRIBUTORS`] says who enters.
async fn authorize_key<S: ServiceKey>(
    state: &AppState,
    principal: &Principal,
    town: &str,
) -> munishare_platform::Result<ServiceScope> {
    if S::CONTRIBUTORS {
        access::authorize_member(&state.db, principal, state.today(), town, S::SERVICE).await
    } else {
        access::authorize_service(
            &state.db,
            principal,
            state.today(),
            town,
            S::SERVICE,
            Permission::View,
        )
        .await
    }
}

/// The `{town}` path parameter (empty when the route has none, which no town matches).
async fn town_param(parts: &mut Parts, state: &AppState) -> String {
    let Ok(params) = axum::extract::RawPathParams::from_request_parts(parts, state).await else {
        return String::new();
    };
    params
        .iter()
        .find(|(k, _)| *k == "town")
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// An API caller who may view service `S` (or, as [`ServiceKey::CONTRIBUTORS`] says, hold some permission on it) in the town named by the `{town}`
/// path parameter; checked before the body is read, so another town's
/// resources answer 404 whatever was sent.
#[derive(Debug)]
pub struct ServiceCaller<S>(pub ServiceScope, pub PhantomData<S>);

impl<S: ServiceKey> FromRequestParts<AppState> for ServiceCaller<S> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiCaller(p) = ApiCaller::from_request_parts(parts, state).await?;
        let town = town_param(parts, state).await;
        authorize_key::<S>(state, &p, &town)
            .await
            .map(|scope| Self(scope, PhantomData))
            .map_err(|e| ApiError(e).into_response())
    }
}

/// A signed-in browser user who may view service `S` (or, as [`ServiceKey::CONTRIBUTORS`]
/// says, hold some permission on it) in the `{town}` of the path.
#[derive(Debug)]
pub struct ServicePage<S> {
    /// The user.
    pub user: PageUser,
    /// The proof of access.
    pub scope: ServiceScope,
    _service: PhantomData<S>,
}

impl<S: ServiceKey> FromRequestParts<AppState> for ServicePage<S> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = PageUser::from_request_parts(parts, state).await?;
        let town = town_param(parts, state).await;
        let scope = authorize_key::<S>(state, &user.principal, &town)
            .await
            .map_err(|e| render_error_page(&e))?;
        Ok(Self {
            user,
            scope,
            _service: PhantomData,
        })
    }
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A signed-in browser user, with the session's CSRF token and any flash message.
#[derive(Debug, Clone)]
pub struct PageUser {
    /// Who.
    pub principal: Principal,
    /// The session's CSRF token, for forms.
    pub csrf: String,
    /// A one-shot message from the previous request.
    pub flash: Option<(String, String)>,
    /// The path requested (for navigation highlighting).
    pub path: String,
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path().to_owned();
        let to_signin = || {
            let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            Redirect::to(&format!(
                "/signin?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            ))
            .into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_signin());
        };
        let found =
            identity::session_principal(&state.db, state.now(), state.config.session, &token).await;
        let (principal, csrf) = match found {
            Ok(Some(v)) => v,
            Ok(None) => return Err(to_signin()),
            Err(e) => return Err(render_error_page(&e)),
        };
        if principal.must_change_password() && !path.starts_with("/profile") && path != "/signout" {
            return Err(Redirect::to("/profile?must_change=1").into_response());
        }
        let flash = cookie(&parts.headers, FLASH_COOKIE).and_then(|v| decode_flash(&v));
        Ok(Self {
            principal: principal.with_request_id(request_id(parts)),
            csrf,
            flash,
            path,
        })
    }
}

/// Encodes a flash message for its cookie.
pub fn encode_flash(kind: &str, message: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("k", kind)
        .append_pair("m", message)
        .finish()
}

fn decode_flash(v: &str) -> Option<(String, String)> {
    let mut kind = None;
    let mut msg = None;
    for (k, val) in url::form_urlencoded::parse(v.as_bytes()) {
        match &*k {
            "k" if ["ok", "error", "info"].contains(&&*val) => kind = Some(val.into_owned()),
            "m" => msg = Some(val.chars().take(500).collect()),
            _ => {}
        }
    }
    Some((kind?, msg?))
}

/// Checks the CSRF token of every state-changing page request before its handler runs.
pub async fn csrf_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_safe(req.method()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let limit = if multipart {
        crate::state::UPLOAD_LIMIT
    } else {
        state.config.body_limit
    };
    let Ok(bytes) = to_bytes(body, limit).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form or file is too large.",
        )
            .into_response();
    };
    if bytes.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00")) {
        return render_error_page(&munishare_platform::Error::invalid(
            "form",
            "text may not contain NUL characters",
        ));
    }
    let is_signin = parts.uri.path() == "/signin";
    let expected = if is_signin {
        cookie(&parts.headers, SIGNIN_CSRF_COOKIE)
    } else {
        match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => match identity::session_principal(
                &state.db,
                state.now(),
                state.config.session,
                &token,
            )
            .await
            {
                Ok(Some((_, csrf))) => Some(csrf),
                Ok(None) => None,
                Err(e) => return render_error_page(&e),
            },
            None => None,
        }
    };
    let Some(expected) = expected else {
        return if is_signin {
            Redirect::to("/signin?expired=1").into_response()
        } else {
            Redirect::to("/signin").into_response()
        };
    };
    let from_form = if multipart {
        multipart_csrf(&bytes)
    } else {
        url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
    };
    let from_header = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let sent = from_form.or(from_header).unwrap_or_default();
    if !constant_time_eq(&sent, &expected) {
        let e = munishare_platform::Error::Forbidden(
            "This form has expired or did not come from MuniShare. Go back, reload the page and try again.".into(),
        );
        return render_error_page(&e);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The `csrf` field of a multipart form: upload forms put it first, so the
/// first part named `csrf` is the form's own (a file cannot come before it).
fn multipart_csrf(body: &[u8]) -> Option<String> {
    const NAME: &[u8] = b"name=\"csrf\"";
    let at = body.windows(NAME.len()).position(|w| w == NAME)?;
    let rest = &body[at..];
    let start = rest.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let value = &rest[start..];
    let end = value.windows(2).position(|w| w == b"\r\n")?;
    std::str::from_utf8(&value[..end]).ok().map(str::to_owned)
}

/// The client's address as the server saw it (the socket peer). Behind a
/// proxy this is the proxy; per-address limits then belong in the proxy.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        Ok(Self(addr))
    }
}

/// Sign-in attempts allowed per client address in one window.
pub const SIGNIN_ATTEMPTS_PER_WINDOW: u32 = 30;
/// The window.
pub const SIGNIN_WINDOW: time::Duration = time::Duration::minutes(5);

/// Limits sign-in attempts per client address (password guessing across many
/// accounts, which the per-account lock alone does not stop). Fixed windows,
/// in memory, per node.
#[derive(Debug, Default)]
pub struct SigninThrottle {
    windows: std::sync::Mutex<std::collections::HashMap<String, (time::OffsetDateTime, u32)>>,
}

impl SigninThrottle {
    /// Counts an attempt from `addr`; `Err(seconds)` says how long to wait when over the limit.
    pub fn attempt(&self, addr: &str, now: time::OffsetDateTime) -> Result<(), i64> {
        let mut map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now - *start < SIGNIN_WINDOW);
        }
        let entry = map.entry(addr.to_owned()).or_insert((now, 0));
        if now - entry.0 >= SIGNIN_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > SIGNIN_ATTEMPTS_PER_WINDOW {
            Err((SIGNIN_WINDOW - (now - entry.0)).whole_seconds().max(1))
        } else {
            Ok(())
        }
    }
}

/// The message for an address over the sign-in limit.
pub fn throttled_message(wait_secs: i64) -> String {
    format!(
        "Too many sign-in attempts from your network address. Wait {} minute{} and try again.",
        (wait_secs + 59) / 60,
        if (wait_secs + 59) / 60 == 1 { "" } else { "s" }
    )
}
