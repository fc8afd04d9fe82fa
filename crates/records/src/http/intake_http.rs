//! Intake folders: the API under `/api/v1/towns/{town}/records/intake-folders` and the page
//! `/t/{town}/records/intake`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use munishare_platform::Result;
use munishare_platform::types::Permission;
use munishare_web::AppState;
use munishare_web::api::ApiJson;
use munishare_web::auth::{ServiceCaller, ServicePage};
use munishare_web::error::{ApiResult, Problem};
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, render};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Records;
use crate::intake::{self, IntakeFolder, IntakeFolderIn, IntakeRoot};
use crate::types::{self, DocumentType};
use crate::visibility::{self, Department};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(
        records_intake_folders,
        records_create_intake_folder
    ))
    .routes(routes!(records_delete_intake_folder))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/records/intake", page_intake)
        .post("/t/{town}/records/intake", page_create)
        .post("/t/{town}/records/intake/{folder}/delete", page_delete)
}

/// The town's intake folders: what each files, as whom, and how its last pass went.
#[utoipa::path(get, path = "/api/v1/towns/{town}/records/intake-folders", tag = "records",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<IntakeFolder>), (status = 404, body = Problem)))]
async fn records_intake_folders(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
) -> ApiResult<axum::Json<Vec<IntakeFolder>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(intake::list(&scope, &mut c).await?))
}

/// Sets up an intake folder whose files are filed as the caller, with their rights as they are when files arrive (administer); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/records/intake-folders", tag = "records",
    params(("town" = String, Path, description = TOWN)), request_body = IntakeFolderIn,
    responses((status = 201, body = IntakeFolder), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn records_create_intake_folder(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    ApiJson(req): ApiJson<IntakeFolderIn>,
) -> ApiResult<(StatusCode, axum::Json<IntakeFolder>)> {
    let mut tx = st.db.begin().await?;
    let f = intake::create(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(f)))
}

/// Removes an intake folder's set-up; its directory and any files in it stay (administer); audited.
#[utoipa::path(delete, path = "/api/v1/towns/{town}/records/intake-folders/{folder}", tag = "records",
    params(("town" = String, Path, description = TOWN), ("folder" = String, Path, description = "The intake folder's id.")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn records_delete_intake_folder(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut tx = st.db.begin().await?;
    intake::delete(&scope, &mut tx, st.now(), &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Template)]
#[template(path = "records_intake.html")]
struct IntakePage {
    chrome: Chrome,
    base: String,
    folders: Vec<IntakeFolder>,
    /// The town's intake directory on this server.
    town_dir: String,
    types: Vec<DocumentType>,
    departments: Vec<Department>,
    can_administer: bool,
}

async fn page_intake(State(st): State<AppState>, page: ServicePage<Records>) -> PageResult {
    let scope = &page.scope;
    let mut c = st.db.read().await?;
    let folders = intake::list(scope, &mut c).await?;
    let types = types::list(scope, &mut c).await?;
    let departments = visibility::departments(scope, &mut c).await?;
    drop(c);
    let root = st
        .modules
        .get::<IntakeRoot>()
        .map(|r| r.0.join(scope.town().slug.as_str()).display().to_string())
        .unwrap_or_default();
    let chrome = Chrome::new(
        &st,
        &page.user,
        format!("Intake folders — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    render(
        &IntakePage {
            chrome,
            base: format!("/t/{}/records", scope.town().slug),
            folders,
            town_dir: root,
            types,
            departments,
            can_administer: scope.can(Permission::Administer),
        },
        &page.user,
    )
}

async fn page_create(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("/t/{}/records/intake", scope.town().slug);
    let get = |k: &str| {
        f.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let r: Result<String> = async {
        let mut tx = st.db.begin().await?;
        let folder = intake::create(
            &scope,
            &mut tx,
            st.now(),
            &IntakeFolderIn {
                name: get("name").unwrap_or_default(),
                department: get("department"),
                doc_type: get("type"),
                tags: get("tags")
                    .map(|t| t.split(',').map(str::to_owned).collect())
                    .unwrap_or_default(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(format!(
            "Files dropped into '{}' will be filed as you.",
            folder.name
        ))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_delete(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let back = format!("/t/{}/records/intake", scope.town().slug);
    let r: Result<String> = async {
        let mut tx = st.db.begin().await?;
        intake::delete(&scope, &mut tx, st.now(), &id).await?;
        tx.commit().await?;
        Ok("The intake folder was removed; its directory and any files in it stay.".to_owned())
    }
    .await;
    after_form(&st, &back, r)
}
