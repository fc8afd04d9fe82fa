//! The web edge's error: every platform or module error becomes a status and,
//! for the API, an RFC 9457 problem document naming the offending field; for
//! pages, an error page in the site layout. 5xx answers are logged with the
//! request id and never carry internal detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use munishare_platform::Error;
use serde::Serialize;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong, in words.
    pub detail: String,
    /// The field, column or row at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// When a locked account unlocks (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<String>,
}

/// Maps a platform error to a status, title and problem fields.
pub fn classify(e: &Error) -> (StatusCode, &'static str, String, Option<String>) {
    match e {
        Error::NotFound { what } => (StatusCode::NOT_FOUND, "not-found", format!("No such {what}."), None),
        Error::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone(), None),
        Error::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, "unauthenticated", m.clone(), None),
        Error::Locked { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "account-locked",
            format!("{e}. Wait, or ask your council administrator to reset the password."),
            None,
        ),
        Error::Invalid { field, message } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", format!("{field}: {message}"), Some(field.clone()))
        }
        Error::Conflict { field, message } => (StatusCode::CONFLICT, "conflict", message.clone(), field.clone()),
        Error::Database(_) | Error::Blob(_) | Error::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side. It has been logged; quote the request id to support.".into(),
            None,
        ),
    }
}

/// An error answered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

/// Builds a problem response directly (for errors that are not platform errors).
pub fn problem(
    status: StatusCode,
    kind: &str,
    detail: impl Into<String>,
    field: Option<String>,
) -> Response {
    problem_response(Problem {
        kind: format!("https://munishare.example/problems/{kind}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        field,
        locked_until: None,
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, detail, field) = classify(&self.0);
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        }
        let locked_until = match &self.0 {
            Error::Locked { until } => {
                Some(munishare_platform::types::Timestamp::new(*until).to_db())
            }
            _ => None,
        };
        problem_response(Problem {
            kind: format!("https://munishare.example/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            field,
            locked_until,
        })
    }
}

fn problem_response(body: Problem) -> Response {
    let status = StatusCode::from_u16(body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

/// Result for API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
