//! The HTTP edge of MuniShare: assembles the API, the pages, operations
//! endpoints and static assets into one axum router over [`AppState`].
//!
//! *API boundary:* `/api/v1` is the public, versioned JSON API described by
//! `/api/openapi.json`; pages are for browsers and may change freely.

pub mod api;
pub mod auth;
pub mod error;
mod ops;
pub mod pages;
pub mod related;
pub mod state;
pub mod upload;
pub mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use state::{AppState, Inner, UPLOAD_LIMIT, WebConfig};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MuniShare API",
        description = "The shared back office of a region's towns. Authenticate with a bearer token \
            (`Authorization: Bearer mst_…`, from POST /api/v1/auth/token or your profile page) or a browser \
            session (then send `X-CSRF-Token` on changes). Errors are RFC 9457 problem documents that name \
            the field at fault. Another town's resources answer 404, exactly like missing ones."
    ),
    tags(
        (name = "me", description = "The caller: profile, password, API tokens"),
        (name = "towns", description = "Towns the caller can reach and their services"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "admin", description = "Council administration: towns, subscriptions, users, grants, jobs"),
        (name = "finance", description = "Fund accounting on the Uniform Chart of Accounts"),
    ),
    components(schemas(error::Problem))
)]
struct ApiDoc;

/// The assembled application.
pub struct App {
    /// The router, ready to serve.
    pub router: Router,
    /// Every page route as (method, path pattern), for tests that walk them.
    pub page_routes: Vec<(Method, &'static str)>,
    /// The OpenAPI document: every API route.
    pub openapi: utoipa::openapi::OpenApi,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("page_routes", &self.page_routes.len())
            .finish_non_exhaustive()
    }
}

/// A service module's HTTP surface, plugged into the application by the binary.
pub struct Module {
    /// Its API routes, documented for OpenAPI (paths under `/api/v1/towns/{town}/<service>`).
    pub api: OpenApiRouter<AppState>,
    /// Adds its pages (paths under `/t/{town}/<service>`).
    pub pages: fn(pages::PageRoutes) -> pages::PageRoutes,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").finish_non_exhaustive()
    }
}

/// Builds the application: the platform's routes and each module's.
pub fn app(state: AppState, modules: Vec<Module>) -> App {
    ops::install_metrics();
    let mut api_router = OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(api::router());
    let mut page_routes = pages::routes();
    for m in modules {
        api_router = api_router.merge(m.api);
        page_routes = (m.pages)(page_routes);
    }
    let (api_router, openapi) = api_router.split_for_parts();
    let (page_router, page_routes) = page_routes.build();
    let page_router = page_router.layer(middleware::from_fn_with_state(
        state.clone(),
        auth::csrf_guard,
    ));
    let body_limit = state.config.body_limit;
    let router = Router::new()
        .merge(api_router)
        .merge(page_router)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi.clone()))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/assets/{*path}", get(ops::asset))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(ops::track))
        .with_state(state);
    App {
        router,
        page_routes,
        openapi,
    }
}

async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        error::problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "There is no such API route.",
            None,
        )
    } else {
        pages::render_error_page(&munishare_platform::Error::NotFound { what: "page" })
            .into_response()
    }
}
