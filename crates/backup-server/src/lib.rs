//! The regional backup server module (issue 5; docs/design/0012-backup-format.md).
//!
//! Each town has repositories (`repos`) that its backup clients reach with
//! append-only backup tokens (`tokens`): a token names one town, one
//! repository and one host, and can add objects but never overwrite or delete
//! one. `objects` accepts what clients PUT — checking content names against
//! SHA-256, the repository `config` with the engine's `RepoConfig::parse`, and
//! each snapshot's signed metadata with `SignedMeta::verify` plus the server's
//! own checks — and keeps the server's listing of every object (names, sizes,
//! when), which quotas and the monitoring pages read. `monitor` computes each
//! town's hosts, freshness, stored bytes, dedup ratio and trend, and the
//! regional overview. `http` is the client REST API, the session API and the
//! pages.
//!
//! `retention` applies each host's keep-last/hourly/daily/weekly/monthly/yearly
//! policy (the engine's rules) and collects the packs and index files no kept
//! snapshot names (`backup_snapshot_packs`, `backup_snapshot_index`) once past a
//! 24-hour grace; the `backup.retention` job runs it hourly for the person who
//! set each policy, and a town administrator can run it from the page or the API.
//!
//! `scrub` re-reads each pack at least weekly against its SHA-256 name (the hourly
//! `backup.scrub` job, for each repository's owner) and reports damage with the
//! snapshots it breaks.
//!
//! `keys` lists each repository's key files (kind, label, dates — never the sealed key) and lets
//! a town administrator remove one, never the last passphrase key.
//!
//! `metering` reads each town's stored bytes hourly into the platform meter (the day's peak),
//! charged in GB-months; `drills` records the restore drills clients report (`munishare
//! drill`) as the town's evidence that restores work, checked against what the server stores.
//!
//! `replication` copies every repository's objects to a second object store (the hourly
//! `backup.replicate` job, for each repository's owner), mirrors retention's deletions there,
//! verifies the copies and reports the lag.

pub mod drills;
pub mod http;
pub mod keys;
pub mod metering;
pub mod monitor;
pub mod objects;
pub mod replication;
pub mod repos;
pub mod retention;
pub mod scrub;
pub mod tokens;

use munishare_platform::access::ServiceScope;
use munishare_platform::audit::Change;
use munishare_platform::types::{Permission, Service};
use munishare_platform::{Error, Result};

/// Refuses unless the scope holds `p` in the backup service.
pub(crate) fn require(scope: &ServiceScope, p: Permission) -> Result<()> {
    if scope.service() == Service::Backup && scope.can(p) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "You may not {} backups in {}.",
            p.as_str(),
            scope.town().name
        )))
    }
}

/// One repository's scheduled run (scrub, replication): what it did, or why it was skipped.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scheduled<T> {
    /// The town.
    pub municipality_id: String,
    /// The repository.
    pub repo_id: String,
    /// What the run did.
    pub report: Option<T>,
    /// Why it did nothing.
    pub skipped: Option<String>,
}

/// Runs `each` on every repository for its owner (who created it), with view in the town's
/// backup service as that person holds it today: no job holds rights nobody granted. A
/// repository without an owner, or whose owner lost the right, is skipped with the reason;
/// `what` names the job in the audit trail and the log.
pub(crate) async fn for_each_repository<T, F, Fut>(
    ctx: &munishare_platform::jobs::JobContext,
    what: &str,
    mut each: F,
) -> Result<Vec<Scheduled<T>>>
where
    F: FnMut(ServiceScope, String) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    use munishare_platform::types::{MunicipalityId, UserId};
    let today = munishare_platform::types::Timestamp::new(ctx.clock.now())
        .datetime()
        .date();
    // Ids only; the town's data is read through the scope built below.
    let owners: Vec<(MunicipalityId, String, Option<UserId>)> = {
        let mut c = ctx.db.read().await?;
        munishare_platform::dispatch!(&mut c, c => sqlx::query_as(
            "SELECT municipality_id, id, owner_id FROM backup_repositories ORDER BY municipality_id, id")
            .fetch_all(c).await)?
    };
    let mut runs = Vec::with_capacity(owners.len());
    for (town, repo, owner) in owners {
        let outcome = match owner {
            None => Err("the repository has no owner to act for".to_owned()),
            Some(owner) => match munishare_platform::access::authorize_issued_credential(
                &ctx.db,
                today,
                &owner,
                &town,
                Service::Backup,
                Permission::View,
                what,
            )
            .await
            {
                Ok(scope) => each(scope, repo.clone()).await.map_err(|e| e.to_string()),
                Err(e) => Err(format!(
                    "the repository's owner may no longer view its backups: {e}"
                )),
            },
        };
        let (report, skipped) = match outcome {
            Ok(r) => (Some(r), None),
            Err(why) => {
                tracing::warn!(town = %town, repo = %repo, reason = %why, "{what} skipped");
                (None, Some(why))
            }
        };
        runs.push(Scheduled {
            municipality_id: town.to_string(),
            repo_id: repo,
            report,
            skipped,
        });
    }
    Ok(runs)
}

/// An audit change of the scope's town in the backup service.
pub(crate) fn change(
    scope: &ServiceScope,
    action: &'static str,
    entity_type: &'static str,
    id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Change {
    Change {
        municipality_id: Some(scope.municipality_id().clone()),
        service: Some(Service::Backup),
        action,
        entity_type,
        entity_id: id.to_owned(),
        before,
        after,
    }
}
