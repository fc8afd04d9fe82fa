//! Replication over the session API and in the browser: each repository's replication (objects,
//! replicated, bytes pending, lag, last run, last verified complete, missing) and "replicate now"
//! for the town's backup administrators. The town page loads the section from
//! `/t/{town}/backup/replication` (htmx); the same URL alone is a full page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use munishare_platform::blob::BlobStore;
use munishare_platform::types::Permission;
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::auth::{PageUser, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, render};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Backup;
use crate::replication::{self, NO_REPLICA, Replication, ReplicationReport};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_replication))
        .routes(routes!(api_replicate))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/backup/replication", page_replication)
        .post("/t/{town}/backup/repos/{repo}/replicate", page_replicate)
}

fn replica(st: &AppState) -> Result<&BlobStore> {
    st.replica
        .as_ref()
        .ok_or_else(|| Error::conflict("replica", NO_REPLICA))
}

/// Replicates the repository now (administer), as the hourly job does.
async fn run(
    st: &AppState,
    scope: &munishare_platform::access::ServiceScope,
    repo: &str,
) -> Result<ReplicationReport> {
    crate::require(scope, Permission::Administer)?;
    replication::replicate(
        scope,
        &st.db,
        &st.blobs,
        replica(st)?,
        st.now(),
        repo,
        replication::BYTES_PER_RUN,
    )
    .await
}

/// The replica store's address and each repository's replication: objects, replicated, bytes
/// pending, lag in seconds, last run, last verified complete and the objects the replica lacked.
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/replication", tag = "backup",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Replication), (status = 404, body = munishare_web::error::Problem)))]
async fn api_replication(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
) -> ApiResult<axum::Json<Replication>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        replication::status(&scope, &mut c, st.now(), st.replica.as_ref()).await?,
    ))
}

/// Replicates the repository now (administer): copies what the replica lacks (up to 4 GiB),
/// deletes what the primary no longer lists, verifies the replica; audited when anything changed.
/// 409 when the server has no replica store.
#[utoipa::path(post, path = "/api/v1/towns/{town}/backup/repos/{repo}/replicate", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("repo" = String, Path, description = "The repository's id or name")),
    responses((status = 200, body = ReplicationReport), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_replicate(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String)>,
) -> ApiResult<axum::Json<ReplicationReport>> {
    let (_, repo) = p;
    Ok(axum::Json(run(&st, &scope, &repo).await?))
}

/// The section alone (what the town page loads).
#[derive(Template)]
#[template(path = "backup_replication_section.html")]
struct Section {
    base: String,
    csrf: String,
    can_manage: bool,
    data: Replication,
}

/// The section as a page of its own.
#[derive(Template)]
#[template(path = "backup_replication.html")]
struct SectionPage {
    chrome: Chrome,
    base: String,
    csrf: String,
    can_manage: bool,
    data: Replication,
}

async fn page_replication(
    State(st): State<AppState>,
    page: ServicePage<Backup>,
    headers: HeaderMap,
) -> PageResult {
    let ServicePage { user, scope, .. } = page;
    let data = {
        let mut c = st.db.read().await?;
        replication::status(&scope, &mut c, st.now(), st.replica.as_ref()).await?
    };
    let base = format!("/t/{}/backup", scope.town().slug);
    let can_manage = scope.can(Permission::Administer);
    if headers.get("hx-request").is_some() {
        return render(
            &Section {
                base,
                csrf: user.csrf.clone(),
                can_manage,
                data,
            },
            &user,
        );
    }
    let chrome = page_chrome(&st, &user, &scope).await?;
    render(
        &SectionPage {
            chrome,
            base,
            csrf: user.csrf.clone(),
            can_manage,
            data,
        },
        &user,
    )
}

async fn page_chrome(
    st: &AppState,
    user: &PageUser,
    scope: &munishare_platform::access::ServiceScope,
) -> Result<Chrome> {
    let town = scope.town();
    Chrome::new(
        st,
        user,
        format!("Backup replication — {}", town.name),
        town.slug.as_str(),
    )
    .await
}

async fn page_replicate(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Path(p): Path<(String, String)>,
) -> PageResult {
    let (_, repo) = p;
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let report = run(&st, &scope, &repo).await?;
        let mut msg = format!(
            "Replication: {} object(s) copied ({}), {} removed from the replica; ",
            report.copied,
            crate::http::fmt_bytes(&report.bytes_copied),
            report.deleted
        );
        if report.complete {
            msg.push_str("the replica is complete.");
        } else {
            msg.push_str(&format!(
                "the replica lacks {} object(s) ({} pending).",
                report.missing,
                crate::http::fmt_bytes(&report.bytes_pending)
            ));
        }
        if !report.primary_damaged.is_empty() {
            msg.push_str(&format!(
                " {} damaged object(s) in the primary store were not copied (see Replication).",
                report.primary_damaged.len()
            ));
        }
        Ok(msg)
    }
    .await;
    after_form(&st, &back, r)
}

/// Seconds for people: `0 s`, `45 min`, `3 h 5 min`, `2 d 4 h`.
pub fn fmt_lag(s: &i64) -> String {
    let s = *s;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 86_400 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} d {} h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_reads_for_people() {
        assert_eq!(fmt_lag(&0), "0 s");
        assert_eq!(fmt_lag(&59), "59 s");
        assert_eq!(fmt_lag(&1800), "30 min");
        assert_eq!(fmt_lag(&(3 * 3600 + 5 * 60 + 7)), "3 h 5 min");
        assert_eq!(fmt_lag(&(2 * 86_400 + 4 * 3600)), "2 d 4 h");
    }
}
