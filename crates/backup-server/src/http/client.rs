//! The backup client's REST API (docs/design/0012, "Server contract"):
//! `/api/v1/backup/repo/…`, reached only with a backup token
//! (`Authorization: Bearer msb_…`). The token names the town, repository and
//! host, so paths carry no town. A user's API token or a browser session is
//! refused with 401 before the body is read. There is no DELETE route.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use munishare_platform::Error;
use munishare_web::AppState;
use munishare_web::error::{ApiError, problem};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::objects::{self, BODY_LIMIT, Kind, ObjectEntry, RepoAccess, RepoError};
use crate::tokens::{self, TOKEN_PREFIX};

const KIND: &str = "`keys`, `data`, `index`, `snapshots` or `meta`.";
const NAME: &str =
    "The object's name: the SHA-256 (64 hex digits) of its bytes; key files 32 to 64 hex digits.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_get_config, api_put_config))
        .routes(routes!(api_list_objects))
        .routes(routes!(api_get_object, api_head_object, api_put_object))
}

/// A backup client: the repository and host its token names.
#[derive(Debug)]
pub struct BackupClient(pub RepoAccess);

fn unauthenticated(detail: &str) -> Response {
    let mut r = problem(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        detail,
        Some("Authorization".into()),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"munishare-backup\""),
    );
    r
}

impl FromRequestParts<AppState> for BackupClient {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let auth = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let Some(secret) = auth.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) else {
            return Err(unauthenticated(if auth.is_some() {
                "Send the backup token as 'Authorization: Bearer msb_…'."
            } else if parts.headers.contains_key(header::COOKIE) {
                "A browser session cannot use the backup client routes: send a backup token as 'Authorization: Bearer msb_…' (the town creates one on its backup page)."
            } else {
                "Send a backup token as 'Authorization: Bearer msb_…' (the town creates one on its backup page)."
            }));
        };
        if !secret.starts_with(TOKEN_PREFIX) {
            return Err(unauthenticated(
                "This is not a backup token: the backup client routes take a backup token (msb_…) from the town's backup page, not a user's API token.",
            ));
        }
        let err = |e: Error| match e {
            Error::Unauthenticated(m) => unauthenticated(&m),
            other => ApiError(other).into_response(),
        };
        let grant = tokens::authenticate(&st.db, st.now(), secret)
            .await
            .map_err(err)?;
        let access = objects::open(&st.db, st.today(), grant)
            .await
            .map_err(err)?;
        Ok(Self(access))
    }
}

fn repo_error(e: RepoError) -> Response {
    match e {
        RepoError::Platform(e) => ApiError(e).into_response(),
        q @ RepoError::Quota { .. } => problem(
            StatusCode::INSUFFICIENT_STORAGE,
            "quota-exceeded",
            q.to_string(),
            Some("quota_bytes".into()),
        ),
    }
}

fn api_error(e: Error) -> Response {
    ApiError(e).into_response()
}

async fn read_body(body: Body) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the object is larger than {} MiB, the most a backup object may be",
                BODY_LIMIT >> 20
            ),
            Some("body".into()),
        )
    })
}

fn created() -> Response {
    StatusCode::CREATED.into_response()
}

/// The repository's `config` (404 before the client's `init` wrote it).
#[utoipa::path(get, path = "/api/v1/backup/repo/config", tag = "backup",
    responses((status = 200, description = "The config as stored (JSON)", content_type = "application/json"),
        (status = 401, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem)))]
async fn api_get_config(BackupClient(a): BackupClient) -> Response {
    match objects::config(&a) {
        Ok(text) => (
            [(header::CONTENT_TYPE, "application/json")],
            text.to_owned(),
        )
            .into_response(),
        Err(e) => api_error(e),
    }
}

/// Writes the repository's `config`, once (409 after): checked with the engine's rules (422 naming the fault).
#[utoipa::path(put, path = "/api/v1/backup/repo/config", tag = "backup",
    request_body(content = String, content_type = "application/json", description = "The RepoConfig JSON"),
    responses((status = 201, description = "Stored"), (status = 401, body = munishare_web::error::Problem),
        (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem),
        (status = 507, body = munishare_web::error::Problem)))]
async fn api_put_config(
    State(st): State<AppState>,
    BackupClient(a): BackupClient,
    body: Body,
) -> Response {
    if a.repo().config.is_some() {
        return api_error(Error::conflict(
            "config",
            "config: the repository is already initialised (its config is written once)",
        ));
    }
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match objects::put_config(&a, &st.db, &st.blobs, st.now(), bytes).await {
        Ok(()) => created(),
        Err(e) => repo_error(e),
    }
}

/// The objects of a kind: `[{"name", "size"}]`, by name.
#[utoipa::path(get, path = "/api/v1/backup/repo/{kind}/", tag = "backup",
    params(("kind" = String, Path, description = KIND)),
    responses((status = 200, body = Vec<ObjectEntry>), (status = 401, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_list_objects(
    State(st): State<AppState>,
    BackupClient(a): BackupClient,
    Path(kind): Path<String>,
) -> Response {
    let r = async {
        let kind = Kind::parse(&kind)?;
        let mut c = st.db.read().await?;
        objects::list(&a, &mut c, kind).await
    }
    .await;
    match r {
        Ok(list) => axum::Json(list).into_response(),
        Err(e) => api_error(e),
    }
}

/// A byte range asked for, resolved against the object's size.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else is unsatisfiable.
fn wanted(headers: &HeaderMap, size: u64) -> Wanted {
    let Some(v) = headers.get(header::RANGE) else {
        return Wanted::Whole;
    };
    let Some(spec) = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().strip_prefix("bytes="))
    else {
        return Wanted::Unsatisfiable;
    };
    let Some((a, b)) = spec.split_once('-') else {
        return Wanted::Unsatisfiable;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = if a.is_empty() {
        // Suffix: the last n bytes.
        b.parse::<u64>()
            .ok()
            .filter(|n| *n > 0 && size > 0)
            .map(|n| (size.saturating_sub(n), size - 1))
    } else {
        a.parse::<u64>().ok().and_then(|start| {
            let end = if b.is_empty() {
                Some(size.saturating_sub(1))
            } else {
                b.parse::<u64>().ok().map(|e| e.min(size.saturating_sub(1)))
            }?;
            (start < size && start <= end).then_some((start, end))
        })
    };
    match parsed {
        Some((s, e)) => Wanted::Part(s, e),
        None => Wanted::Unsatisfiable,
    }
}

async fn object_size(
    st: &AppState,
    a: &RepoAccess,
    kind: &str,
    name: &str,
) -> Result<(Kind, u64), Error> {
    let kind = Kind::parse(kind)?;
    let mut c = st.db.read().await?;
    let size = objects::size_of(a, &mut c, kind, name)
        .await?
        .ok_or(Error::NotFound { what: "object" })?;
    Ok((kind, u64::try_from(size).unwrap_or(0)))
}

/// An object, whole or one byte range (`Range: bytes=a-b` or `bytes=-n`: 206 with `Content-Range`).
#[utoipa::path(get, path = "/api/v1/backup/repo/{kind}/{name}", tag = "backup",
    params(("kind" = String, Path, description = KIND), ("name" = String, Path, description = NAME),
        ("Range" = Option<String>, Header, description = "One range: `bytes=a-b`, `bytes=a-` or `bytes=-n`")),
    responses((status = 200, description = "The object's bytes", content_type = "application/octet-stream"),
        (status = 206, description = "The bytes asked for", content_type = "application/octet-stream"),
        (status = 401, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem),
        (status = 416, body = munishare_web::error::Problem)))]
async fn api_get_object(
    State(st): State<AppState>,
    BackupClient(a): BackupClient,
    Path((kind, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (kind, size) = match object_size(&st, &a, &kind, &name).await {
        Ok(k) => k,
        Err(e) => return api_error(e),
    };
    let (status, range) = match wanted(&headers, size) {
        Wanted::Whole => (StatusCode::OK, None),
        Wanted::Part(s, e) => (StatusCode::PARTIAL_CONTENT, Some((s, e))),
        Wanted::Unsatisfiable => {
            let mut r = problem(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range",
                format!(
                    "Range: give one range 'bytes=a-b', 'bytes=a-' or 'bytes=-n' within the object's {size} bytes"
                ),
                Some("Range".into()),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let bytes = match objects::read(&a, &st.blobs, kind, &name, range.map(|(s, e)| s..e + 1)).await
    {
        Ok(b) => b,
        Err(e) => return api_error(e),
    };
    let mut resp = (status, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((s, e)) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {s}-{e}/{size}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    resp
}

/// Whether an object exists, and its size (`Content-Length`), without its bytes.
#[utoipa::path(head, path = "/api/v1/backup/repo/{kind}/{name}", tag = "backup",
    params(("kind" = String, Path, description = KIND), ("name" = String, Path, description = NAME)),
    responses((status = 200, description = "It exists; Content-Length is its size"), (status = 401, description = "Not a valid backup token"), (status = 404, description = "No such object")))]
async fn api_head_object(
    State(st): State<AppState>,
    BackupClient(a): BackupClient,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    match object_size(&st, &a, &kind, &name).await {
        Ok((_, size)) => {
            let mut r = StatusCode::OK.into_response();
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            r.headers_mut()
                .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            r
        }
        Err(e) => api_error(e),
    }
}

/// Adds an object, never replacing one (409): data, index and snapshots are checked against their SHA-256 name, meta is verified (422 naming the failed check); 507 when it would pass the repository's quota.
#[utoipa::path(put, path = "/api/v1/backup/repo/{kind}/{name}", tag = "backup",
    params(("kind" = String, Path, description = KIND), ("name" = String, Path, description = NAME)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "Stored"), (status = 401, body = munishare_web::error::Problem),
        (status = 409, body = munishare_web::error::Problem), (status = 413, body = munishare_web::error::Problem),
        (status = 422, body = munishare_web::error::Problem), (status = 507, body = munishare_web::error::Problem)))]
async fn api_put_object(
    State(st): State<AppState>,
    BackupClient(a): BackupClient,
    Path((kind, name)): Path<(String, String)>,
    body: Body,
) -> Response {
    // Refuse a bad kind or name, or a name already stored, before reading the body.
    let kind = match Kind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return api_error(e),
    };
    let pre = async {
        let mut c = st.db.read().await?;
        objects::refuse_existing(&a, &mut c, Some(kind), &name).await
    }
    .await;
    if let Err(e) = pre {
        return api_error(e);
    }
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match objects::put(&a, &st.db, &st.blobs, st.now(), kind, &name, bytes).await {
        Ok(()) => created(),
        Err(e) => repo_error(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn range(v: &str, size: u64) -> Wanted {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        wanted(&h, size)
    }

    #[test]
    fn ranges_resolve_against_the_size() {
        assert_eq!(wanted(&HeaderMap::new(), 10), Wanted::Whole);
        assert_eq!(range("bytes=0-3", 10), Wanted::Part(0, 3));
        assert_eq!(range("bytes=4-", 10), Wanted::Part(4, 9));
        assert_eq!(range("bytes=-4", 10), Wanted::Part(6, 9));
        assert_eq!(range("bytes=-40", 10), Wanted::Part(0, 9));
        assert_eq!(range("bytes=8-40", 10), Wanted::Part(8, 9));
        assert_eq!(range("bytes=10-12", 10), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=5-2", 10), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=0-1,4-5", 10), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), Wanted::Unsatisfiable);
        assert_eq!(range("items=0-1", 10), Wanted::Unsatisfiable);
    }
}
