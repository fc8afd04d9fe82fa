//! A town's backup over the session API and in the browser: repositories,
//! tokens (created with the secret shown once, listed, revoked), hosts with
//! their freshness and expected interval, snapshots, stored bytes, the dedup
//! ratio and the trend; and the regional freshness view across the towns the
//! caller may see (`access::service_scopes`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use munishare_platform::access::{self, Principal, ServiceScope};
use munishare_platform::metering::YearMonth;
use munishare_platform::types::{Permission, Service};
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::api::{ApiJson, ApiQuery};
use munishare_web::auth::{ApiCaller, PageUser, ServiceCaller, ServicePage};
use munishare_web::error::ApiResult;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, redirect_flash, render};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Backup;
use crate::drills::{self, RepoDrills};
use crate::keys::{self, RepoKey};
use crate::metering::{self, Usage};
use crate::monitor::{self, HostStatus, Snapshot, SnapshotQuery, TownBackup, TownFreshness};
use crate::repos::{self, HostSetting, IntervalIn, Repository, RepositoryIn};
use crate::retention::{self, HostRetention, RetentionIn, RetentionReport};
use crate::scrub::{self, Integrity, ScrubReport};
use crate::tokens::{self, BackupToken, CreatedToken, TokenIn};

const TOWN: &str = "The town's slug, e.g. `hartford`.";

pub(super) fn api(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(api_overview))
        .routes(routes!(api_repos, api_create_repo))
        .routes(routes!(api_tokens, api_create_token))
        .routes(routes!(api_revoke_token))
        .routes(routes!(api_hosts))
        .routes(routes!(api_set_interval))
        .routes(routes!(api_snapshots))
        .routes(routes!(api_retention))
        .routes(routes!(api_set_retention))
        .routes(routes!(api_apply_retention))
        .routes(routes!(api_integrity))
        .routes(routes!(api_scrub))
        .routes(routes!(api_keys))
        .routes(routes!(api_remove_key))
        .routes(routes!(api_regional))
}

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/backup", page_town)
        .post("/t/{town}/backup/repos", page_create_repo)
        .post("/t/{town}/backup/tokens", page_create_token)
        .post("/t/{town}/backup/tokens/{token}/revoke", page_revoke_token)
        .post("/t/{town}/backup/hosts", page_set_interval)
        .post("/t/{town}/backup/retention", page_set_retention)
        .post(
            "/t/{town}/backup/repos/{repo}/apply-retention",
            page_apply_retention,
        )
        .post("/t/{town}/backup/repos/{repo}/scrub", page_scrub)
        .post(
            "/t/{town}/backup/repos/{repo}/keys/{key}/remove",
            page_remove_key,
        )
        .get("/backup", page_regional)
}

// ---------------------------------------------------------------- API

/// The town's backup: repositories with stored bytes and dedup ratio, hosts with their last backup and state, stored bytes by day.
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup", tag = "backup",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = TownBackup), (status = 404, body = munishare_web::error::Problem)))]
async fn api_overview(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
) -> ApiResult<axum::Json<TownBackup>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(monitor::town(&scope, &mut c, st.now()).await?))
}

/// The town's repositories, by name.
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/repos", tag = "backup",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<Repository>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_repos(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
) -> ApiResult<axum::Json<Vec<Repository>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(repos::list(&scope, &mut c).await?))
}

/// Creates a repository (administer in backup): a name unique in the town and an optional quota in bytes; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/backup/repos", tag = "backup",
    params(("town" = String, Path, description = TOWN)), request_body = RepositoryIn,
    responses((status = 201, body = Repository), (status = 403, body = munishare_web::error::Problem),
        (status = 409, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_repo(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    ApiJson(req): ApiJson<RepositoryIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let repo = repos::create(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(repo)).into_response())
}

/// The town's backup tokens, newest first (administer in backup; never the secrets).
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/tokens", tag = "backup",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<BackupToken>), (status = 403, body = munishare_web::error::Problem), (status = 404, body = munishare_web::error::Problem)))]
async fn api_tokens(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
) -> ApiResult<axum::Json<Vec<BackupToken>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(tokens::list(&scope, &mut c).await?))
}

/// Issues an append-only backup token for one repository and host (administer in backup); the secret is in this answer only; audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/backup/tokens", tag = "backup",
    params(("town" = String, Path, description = TOWN)), request_body = TokenIn,
    responses((status = 201, body = CreatedToken), (status = 403, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_create_token(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    ApiJson(req): ApiJson<TokenIn>,
) -> ApiResult<Response> {
    let mut tx = st.db.begin().await?;
    let created = tokens::create(&scope, &mut tx, st.now(), &req).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// Revokes a backup token (administer in backup); audited.
#[utoipa::path(post, path = "/api/v1/towns/{town}/backup/tokens/{token}/revoke", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("token" = String, Path, description = "The token's id")),
    responses((status = 200, body = BackupToken), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_revoke_token(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String)>,
) -> ApiResult<axum::Json<BackupToken>> {
    let token = p.1;
    let mut tx = st.db.begin().await?;
    let t = tokens::revoke(&scope, &mut tx, st.now(), &token).await?;
    tx.commit().await?;
    Ok(axum::Json(t))
}

/// Every host of the town's repositories: snapshots, last backup, latest logical bytes, expected interval and state (ok, overdue, never).
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/hosts", tag = "backup",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<HostStatus>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_hosts(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
) -> ApiResult<axum::Json<Vec<HostStatus>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(monitor::hosts(&scope, &mut c, st.now()).await?))
}

/// Sets how often a host should back up (administer in backup; default 24 hours); audited.
#[utoipa::path(put, path = "/api/v1/towns/{town}/backup/repos/{repo}/hosts/{host}", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("repo" = String, Path, description = "The repository's id or name"),
        ("host" = String, Path, description = "The host")), request_body = IntervalIn,
    responses((status = 200, body = HostSetting), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_set_interval(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String, String)>,
    ApiJson(req): ApiJson<IntervalIn>,
) -> ApiResult<axum::Json<HostSetting>> {
    let (_, repo, host) = p;
    let mut tx = st.db.begin().await?;
    let h = repos::set_interval(&scope, &mut tx, st.now(), &repo, &host, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(h))
}

/// Every host's retention policy in the town (all zero keeps every snapshot).
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/retention", tag = "backup",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<HostRetention>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_retention(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
) -> ApiResult<axum::Json<Vec<HostRetention>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(retention::policies(&scope, &mut c).await?))
}

/// Sets a host's retention policy (administer; audited). The server applies it, never a client.
#[utoipa::path(put, path = "/api/v1/towns/{town}/backup/repos/{repo}/hosts/{host}/retention", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("repo" = String, Path, description = "The repository's id or name"),
        ("host" = String, Path, description = "The host")), request_body = RetentionIn,
    responses((status = 200, body = HostRetention), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_set_retention(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String, String)>,
    ApiJson(req): ApiJson<RetentionIn>,
) -> ApiResult<axum::Json<HostRetention>> {
    let (_, repo, host) = p;
    let mut tx = st.db.begin().await?;
    let h = retention::set_policy(&scope, &mut tx, st.now(), &repo, &host, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(h))
}

/// Applies the repository's retention policies now and collects the packs and index files no
/// kept snapshot needs (older than 24 hours); audited with what it removed.
#[utoipa::path(post, path = "/api/v1/towns/{town}/backup/repos/{repo}/retention/apply", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("repo" = String, Path, description = "The repository's id or name")),
    responses((status = 200, body = RetentionReport), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem)))]
async fn api_apply_retention(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String)>,
) -> ApiResult<axum::Json<RetentionReport>> {
    let (_, repo) = p;
    Ok(axum::Json(
        retention::apply(&scope, &st.db, &st.blobs, st.now(), &repo).await?,
    ))
}

/// Each repository's integrity: the last scrub, packs verified in the last 7 days, damaged packs
/// with the snapshots that need them.
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/integrity", tag = "backup",
    params(("town" = String, Path, description = TOWN)),
    responses((status = 200, body = Vec<Integrity>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_integrity(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
) -> ApiResult<axum::Json<Vec<Integrity>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        scrub::integrity(&scope, &mut c, st.now()).await?,
    ))
}

/// Scrubs the repository now (administer): re-reads the packs due for a check (up to 4 GiB) and
/// checks each against its SHA-256 name.
#[utoipa::path(post, path = "/api/v1/towns/{town}/backup/repos/{repo}/scrub", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("repo" = String, Path, description = "The repository's id or name")),
    responses((status = 200, body = ScrubReport), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem)))]
async fn api_scrub(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String)>,
) -> ApiResult<axum::Json<ScrubReport>> {
    let (_, repo) = p;
    crate::require(&scope, Permission::Administer)?;
    Ok(axum::Json(
        scrub::scrub(
            &scope,
            &st.db,
            &st.blobs,
            st.now(),
            &repo,
            scrub::BYTES_PER_RUN,
        )
        .await?,
    ))
}

/// The repository's keys, oldest first: kind (passphrase or recovery), label and dates — never
/// the sealed key.
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/repos/{repo}/keys", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("repo" = String, Path, description = "The repository's id or name")),
    responses((status = 200, body = Vec<RepoKey>), (status = 404, body = munishare_web::error::Problem)))]
async fn api_keys(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<RepoKey>>> {
    let (_, repo) = p;
    let mut c = st.db.read().await?;
    Ok(axum::Json(
        keys::list(&scope, &mut c, &st.blobs, &repo).await?,
    ))
}

/// Removes a key (administer; audited): a client can add keys but never remove one. The last
/// passphrase key cannot be removed (409).
#[utoipa::path(delete, path = "/api/v1/towns/{town}/backup/repos/{repo}/keys/{key}", tag = "backup",
    params(("town" = String, Path, description = TOWN), ("repo" = String, Path, description = "The repository's id or name"),
        ("key" = String, Path, description = "The key's id")),
    responses((status = 200, body = RepoKey), (status = 403, body = munishare_web::error::Problem),
        (status = 404, body = munishare_web::error::Problem), (status = 409, body = munishare_web::error::Problem)))]
async fn api_remove_key(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    Path(p): Path<(String, String, String)>,
) -> ApiResult<axum::Json<RepoKey>> {
    let (_, repo, key) = p;
    Ok(axum::Json(
        keys::remove(&scope, &st.db, &st.blobs, st.now(), &repo, &key).await?,
    ))
}

/// The town's verified snapshots, newest first, by repository and host.
#[utoipa::path(get, path = "/api/v1/towns/{town}/backup/snapshots", tag = "backup",
    params(("town" = String, Path, description = TOWN), SnapshotQuery),
    responses((status = 200, body = Vec<Snapshot>), (status = 404, body = munishare_web::error::Problem), (status = 422, body = munishare_web::error::Problem)))]
async fn api_snapshots(
    State(st): State<AppState>,
    ServiceCaller(scope, _): ServiceCaller<Backup>,
    ApiQuery(q): ApiQuery<SnapshotQuery>,
) -> ApiResult<axum::Json<Vec<Snapshot>>> {
    let mut c = st.db.read().await?;
    Ok(axum::Json(monitor::snapshots(&scope, &mut c, &q).await?))
}

async fn regional(st: &AppState, principal: &Principal) -> Result<Vec<TownFreshness>> {
    let scopes = access::service_scopes(
        &st.db,
        principal,
        st.today(),
        Service::Backup,
        Permission::View,
    )
    .await?;
    let mut c = st.db.read().await?;
    let mut towns = monitor::regional(&scopes, &mut c, st.now()).await?;
    if st.replica.is_none() {
        // Nothing is replicated without a replica store: no lag to show.
        towns
            .iter_mut()
            .for_each(|t| t.replication_lag_seconds = None);
    }
    Ok(towns)
}

/// Every town where the caller may view backups (and no other): its hosts' freshness and stored bytes, by town name.
#[utoipa::path(get, path = "/api/v1/backup/towns", tag = "backup",
    responses((status = 200, body = Vec<TownFreshness>), (status = 401, body = munishare_web::error::Problem)))]
async fn api_regional(
    State(st): State<AppState>,
    ApiCaller(p): ApiCaller,
) -> ApiResult<axum::Json<Vec<TownFreshness>>> {
    Ok(axum::Json(regional(&st, &p).await?))
}

// ---------------------------------------------------------------- pages

/// A trend bar: day, bytes, height and x in the chart.
#[derive(Debug)]
struct TrendBar {
    day: String,
    bytes: i64,
    x: i64,
    height: i64,
}

#[derive(Template)]
#[template(path = "backup_town.html")]
struct TownPage {
    chrome: Chrome,
    base: String,
    data: TownBackup,
    can_manage: bool,
    tokens: Vec<BackupToken>,
    snapshots: Vec<Snapshot>,
    bars: Vec<TrendBar>,
    bar_width: i64,
    /// A token just created: shown once.
    created: Option<CreatedToken>,
    retention: Vec<HostRetention>,
    integrity: Vec<Integrity>,
    drills: Vec<RepoDrills>,
    usage: Usage,
    /// Each repository's name and id with its keys.
    keys: Vec<(String, String, Vec<RepoKey>)>,
    key_count: usize,
    /// What needs attention: missed backups, damage, failed or overdue drills.
    alerts: Vec<String>,
}

/// What needs the town's attention, one sentence each.
fn alerts(data: &TownBackup, integrity: &[Integrity], drills: &[RepoDrills]) -> Vec<String> {
    let mut out: Vec<String> = data
        .hosts
        .iter()
        .filter(|h| h.state == "overdue")
        .map(|h| {
            format!(
                "{} ({}) missed its backup: the last was {} h ago, expected every {} h.",
                h.host,
                h.repo_name,
                h.hours_since.unwrap_or_default(),
                h.expected_interval_hours
            )
        })
        .collect();
    out.extend(integrity.iter().filter(|i| !i.damaged.is_empty()).map(|i| {
        format!(
            "{}: {} damaged pack(s), needed by {} snapshot(s); see Integrity.",
            i.repo_name,
            i.damaged.len(),
            i.damaged
                .iter()
                .flat_map(|d| &d.snapshots)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        )
    }));
    out.extend(drills.iter().filter_map(|d| match d.state.as_str() {
        "failed" => Some(format!("The last restore drill of {} failed.", d.repo_name)),
        "overdue" => Some(format!(
            "A restore drill of {} is overdue (expected every {} days).",
            d.repo_name, d.interval_days
        )),
        _ => None,
    }));
    out
}

/// Width and height of the trend chart, in SVG units.
const CHART_W: i64 = 600;
const CHART_H: i64 = 120;

fn trend_bars(data: &TownBackup) -> (Vec<TrendBar>, i64) {
    let days: Vec<_> = data.trend.iter().rev().take(30).rev().collect();
    let max = days
        .iter()
        .map(|d| d.stored_bytes)
        .max()
        .unwrap_or(0)
        .max(1);
    let n = i64::try_from(days.len()).unwrap_or(1).max(1);
    let width = (CHART_W / n).max(4);
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| TrendBar {
            day: d.day.clone(),
            bytes: d.stored_bytes,
            x: i64::try_from(i).unwrap_or(0) * width,
            height: (d.stored_bytes.saturating_mul(CHART_H) / max).max(1),
        })
        .collect();
    (bars, width)
}

async fn town_page(
    st: &AppState,
    user: &PageUser,
    scope: &ServiceScope,
    created: Option<CreatedToken>,
) -> PageResult {
    let can_manage = scope.can(Permission::Administer);
    let (data, tokens, snapshots, retention, integrity, drills, usage, keys) = {
        let mut c = st.db.read().await?;
        let data = monitor::town(scope, &mut c, st.now()).await?;
        let tokens = if can_manage {
            tokens::list(scope, &mut c).await?
        } else {
            Vec::new()
        };
        let snapshots = monitor::snapshots(
            scope,
            &mut c,
            &SnapshotQuery {
                limit: Some(20),
                ..SnapshotQuery::default()
            },
        )
        .await?;
        let retention = retention::policies(scope, &mut c).await?;
        let integrity = scrub::integrity(scope, &mut c, st.now()).await?;
        let drills = drills::list(scope, &mut c, st.now()).await?;
        let usage = metering::usage(scope, &mut c, YearMonth::of(st.today())).await?;
        let mut repo_keys = Vec::with_capacity(data.repos.len());
        for r in &data.repos {
            let k = keys::list(scope, &mut c, &st.blobs, &r.repo.id).await?;
            repo_keys.push((r.repo.name.clone(), r.repo.id.clone(), k));
        }
        (
            data, tokens, snapshots, retention, integrity, drills, usage, repo_keys,
        )
    };
    let (bars, bar_width) = trend_bars(&data);
    let alerts = alerts(&data, &integrity, &drills);
    let town = scope.town();
    let chrome = Chrome::new(
        st,
        user,
        format!("Backup — {}", town.name),
        town.slug.as_str(),
    )
    .await?;
    render(
        &TownPage {
            chrome,
            base: format!("/t/{}/backup", town.slug),
            data,
            can_manage,
            tokens,
            snapshots,
            bars,
            bar_width,
            created,
            retention,
            integrity,
            drills,
            usage,
            key_count: keys.iter().map(|(_, _, k)| k.len()).sum(),
            alerts,
            keys,
        },
        user,
    )
}

async fn page_town(State(st): State<AppState>, page: ServicePage<Backup>) -> PageResult {
    town_page(&st, &page.user, &page.scope, None).await
}

fn field<'a>(f: &'a HashMap<String, String>, k: &str) -> &'a str {
    f.get(k).map_or("", |v| v.trim())
}

/// An optional whole number from a form, refused naming its field when it does not read.
fn number<T: std::str::FromStr>(f: &HashMap<String, String>, k: &str) -> Result<Option<T>> {
    match field(f, k).replace(',', "") {
        v if v.is_empty() => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid(k, format!("'{v}' is not a whole number"))),
    }
}

async fn page_create_repo(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let req = RepositoryIn {
            name: field(&f, "name").to_owned(),
            quota_bytes: number(&f, "quota_bytes")?,
        };
        let mut tx = st.db.begin().await?;
        let repo = repos::create(&scope, &mut tx, st.now(), &req).await?;
        tx.commit().await?;
        Ok(format!("Repository '{}' created.", repo.name))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_create_token(
    State(st): State<AppState>,
    ServicePage { user, scope, .. }: ServicePage<Backup>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let req = TokenIn {
            repo: field(&f, "repo").to_owned(),
            host: field(&f, "host").to_owned(),
            label: Some(field(&f, "label").to_owned()),
            expires_in_days: number(&f, "expires_in_days")?,
        };
        let mut tx = st.db.begin().await?;
        let created = tokens::create(&scope, &mut tx, st.now(), &req).await?;
        tx.commit().await?;
        Ok(created)
    }
    .await;
    match r {
        // The secret is shown on this answer only (no redirect carries it).
        Ok(created) => town_page(&st, &user, &scope, Some(created)).await,
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. } | Error::Forbidden(_))) => Ok(
            redirect_flash(&st, &back, "error", &munishare_web::error::classify(&e).2),
        ),
        Err(e) => Err(e.into()),
    }
}

async fn page_revoke_token(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Path((_, token)): Path<(String, String)>,
) -> PageResult {
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let mut tx = st.db.begin().await?;
        let t = tokens::revoke(&scope, &mut tx, st.now(), &token).await?;
        tx.commit().await?;
        Ok(format!(
            "Token {}… for {} ({}) revoked.",
            t.token_prefix, t.host, t.repo_name
        ))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_set_interval(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let hours = number(&f, "expected_interval_hours")?.ok_or_else(|| {
            Error::invalid("expected_interval_hours", "give the hours between backups")
        })?;
        let mut tx = st.db.begin().await?;
        let h = repos::set_interval(
            &scope,
            &mut tx,
            st.now(),
            field(&f, "repo"),
            field(&f, "host"),
            &IntervalIn {
                expected_interval_hours: hours,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(format!(
            "{} is expected to back up every {} hours.",
            h.host, h.expected_interval_hours
        ))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_set_retention(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let n = |k: &str| -> Result<i64> { Ok(number(&f, k)?.unwrap_or(0)) };
        let req = RetentionIn {
            keep_last: n("keep_last")?,
            keep_hourly: n("keep_hourly")?,
            keep_daily: n("keep_daily")?,
            keep_weekly: n("keep_weekly")?,
            keep_monthly: n("keep_monthly")?,
            keep_yearly: n("keep_yearly")?,
        };
        let mut tx = st.db.begin().await?;
        let h = retention::set_policy(
            &scope,
            &mut tx,
            st.now(),
            field(&f, "repo"),
            field(&f, "host"),
            &req,
        )
        .await?;
        tx.commit().await?;
        Ok(if req == RetentionIn::default() {
            format!("{} keeps every snapshot.", h.host)
        } else {
            format!(
                "Retention for {} saved; it applies the next time retention runs.",
                h.host
            )
        })
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_apply_retention(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Path((_, repo)): Path<(String, String)>,
) -> PageResult {
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let report = retention::apply(&scope, &st.db, &st.blobs, st.now(), &repo).await?;
        Ok(format!(
            "Retention applied: {} snapshot(s) kept, {} forgotten; {} pack(s) and {} index file(s) removed, {} freed.",
            report.kept,
            report.forgotten.len(),
            report.packs_removed,
            report.index_removed,
            crate::http::fmt_bytes(&report.bytes_freed)
        ))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_scrub(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Path(p): Path<(String, String)>,
) -> PageResult {
    let (_, repo) = p;
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        crate::require(&scope, Permission::Administer)?;
        let report = scrub::scrub(
            &scope,
            &st.db,
            &st.blobs,
            st.now(),
            &repo,
            scrub::BYTES_PER_RUN,
        )
        .await?;
        Ok(if report.damaged.is_empty() {
            format!(
                "Scrub: {} pack(s), {} checked; no damage found.",
                report.packs_checked,
                crate::http::fmt_bytes(&report.bytes_checked)
            )
        } else {
            format!(
                "Scrub: {} pack(s) checked; {} DAMAGED (see Integrity below).",
                report.packs_checked,
                report.damaged.len()
            )
        })
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_remove_key(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Backup>,
    Path(p): Path<(String, String, String)>,
) -> PageResult {
    let (_, repo, key) = p;
    let back = format!("/t/{}/backup", scope.town().slug);
    let r = async {
        let k = keys::remove(&scope, &st.db, &st.blobs, st.now(), &repo, &key).await?;
        Ok(format!(
            "Key {} ({}, {}) removed: it no longer opens the repository.",
            &k.id[..k.id.len().min(8)],
            if k.kind == "recovery" {
                "recovery key"
            } else {
                "passphrase"
            },
            k.label
        ))
    }
    .await;
    after_form(&st, &back, r)
}

#[derive(Template)]
#[template(path = "backup_regional.html")]
struct RegionalPage {
    chrome: Chrome,
    towns: Vec<TownFreshness>,
}

async fn page_regional(State(st): State<AppState>, user: PageUser) -> PageResult {
    let towns = regional(&st, &user.principal).await?;
    let chrome = Chrome::new(&st, &user, "Backup — regional overview", "").await?;
    render(&RegionalPage { chrome, towns }, &user)
}
