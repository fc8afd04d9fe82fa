//! The records module's routes: the session API under
//! `/api/v1/towns/{town}/records` (`api`) and the pages under `/t/{town}/records` (`pages`).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use munishare_platform::access::ServiceScope;
use munishare_platform::blob::BlobStore;
use munishare_platform::types::Service;
use munishare_platform::{Error, Result};
use munishare_web::Module;
use munishare_web::auth::ServiceKey;
use munishare_web::pages::PageRoutes;
use utoipa_axum::router::OpenApiRouter;

use crate::documents::Version;
use crate::ingest::IngestError;

mod api;
mod intake_http;
mod links_http;
mod pages;
mod preview_http;
mod retention_api;
mod retention_pages;
mod search_api;
mod search_pages;
mod usage_http;

pub use links_http::RelatedInRecords;

/// The records service, for the access-checking extractors.
#[derive(Debug)]
pub struct Records;

impl ServiceKey for Records {
    const SERVICE: Service = Service::Records;
    /// The scanning bureau files with edit alone and sees what it filed (`visibility`).
    const CONTRIBUTORS: bool = true;
}

/// The module, for `munishare::app`.
pub fn module() -> Module {
    Module {
        api: links_http::api(preview_http::api(usage_http::api(retention_api::api(
            intake_http::api(search_api::api(api::api(OpenApiRouter::new()))),
        )))),
        pages,
    }
}

fn pages(r: PageRoutes) -> PageRoutes {
    links_http::pages(usage_http::pages(retention_pages::pages(
        intake_http::pages(search_pages::pages(pages::pages(r))),
    )))
}

/// The declared length of a request body, when the client sent one.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// An ingestion error as an API problem: 413 naming the limit, or the usual mapping.
pub(crate) fn ingest_problem(e: IngestError) -> Response {
    match e {
        IngestError::TooLarge { .. } => munishare_web::error::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            e.to_string(),
            Some("file".into()),
        ),
        IngestError::Other(e) => munishare_web::error::ApiError(e).into_response(),
    }
}

/// `attachment; filename="…"; filename*=UTF-8''…` with the name made safe for the header.
pub(crate) fn disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Streams a version's content as a download: its stored media type (the
/// browser must not sniff), always as an attachment, nothing in it may run.
pub(crate) async fn download(
    blobs: &BlobStore,
    _scope: &ServiceScope,
    v: &Version,
    key: &munishare_platform::blob::BlobKey,
) -> Result<Response> {
    let (size, stream) = blobs.get_stream(key).await.map_err(|e| match e {
        Error::NotFound { .. } => {
            Error::Internal(format!("content {} is missing from the store", v.sha256))
        }
        other => other,
    })?;
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&v.media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition(&v.file_name))
            .unwrap_or(HeaderValue::from_static("attachment")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", v.sha256)) {
        h.insert(header::ETAG, etag);
    }
    Ok(resp)
}

/// Bytes for people (templates call it as `crate::http::fmt_bytes`).
pub use munishare_web::pages::fmt_bytes;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn download_names_are_safe_in_the_header() {
        assert_eq!(
            disposition("Minutes \"final\".pdf"),
            "attachment; filename=\"Minutes _final_.pdf\"; filename*=UTF-8''Minutes%20%22final%22.pdf"
        );
        assert!(HeaderValue::from_str(&disposition("Procès-verbal.pdf")).is_ok());
    }
}
