//! Who a queued assessment job acts for. A job acts with the rights its user
//! has when it runs, not when it was queued; a user who can no longer act in
//! the town (removed, disabled, grant withdrawn, the town's subscription
//! ended) gets no scope, and the job's record is then marked failed by the
//! platform itself — audited as `system:<job kind>` — so that the page does
//! not show the work queued for ever and it can be asked for again.

use munishare_platform::access::{self, Principal, ServiceScope};
use munishare_platform::audit::{self, Actor, Change};
use munishare_platform::db::Tx;
use munishare_platform::jobs::JobContext;
use munishare_platform::types::{MunicipalityId, Permission, Service, Timestamp, UserId};
use munishare_platform::{Error, Result, identity, tenancy};

/// A job's user and town, resolved when it runs.
pub(crate) enum Acting {
    /// The user may act: their principal and scope in the town.
    As(Box<(Principal, ServiceScope)>),
    /// They may not; why, in words, and the town whose record to mark failed.
    Refused {
        /// The town (the job was queued in it, so it exists).
        municipality_id: MunicipalityId,
        /// Why the job cannot run.
        reason: String,
    },
}

/// Resolves a job's user (by id) and their scope in `town` for the assessment
/// service with `permission`.
pub(crate) async fn acting(
    ctx: &JobContext,
    user_id: &str,
    town: &str,
    permission: Permission,
) -> Result<Acting> {
    let now = Timestamp::new(ctx.clock.now());
    let mut c = ctx.db.read().await?;
    let user = identity::user_by_id(&mut c, &user_id.parse::<UserId>()?).await?;
    let municipality = tenancy::find_by_slug(&mut c, town)
        .await?
        .ok_or(Error::NotFound { what: "town" })?;
    drop(c);
    let refused = |reason: String| Acting::Refused {
        municipality_id: municipality.id.clone(),
        reason,
    };
    let Some(user) = user else {
        return Ok(refused("the user who asked for it no longer exists".into()));
    };
    if !user.active {
        return Ok(refused(format!(
            "{}'s account is disabled; ask for it again",
            user.username
        )));
    }
    let principal = identity::principal_for_user(&user);
    match access::authorize_service(
        &ctx.db,
        &principal,
        now.datetime().date(),
        town,
        Service::Assessment,
        permission,
    )
    .await
    {
        Ok(scope) => Ok(Acting::As(Box::new((principal, scope)))),
        Err(Error::NotFound { .. } | Error::Forbidden(_)) => Ok(refused(format!(
            "{} may no longer {} assessment data in {}; ask for it again",
            user.username,
            match permission {
                Permission::View => "view",
                Permission::Edit => "edit",
                _ => "approve",
            },
            municipality.name
        ))),
        Err(e) => Err(e),
    }
}

/// Audits a record the platform marked failed for a job that could not run.
pub(crate) async fn audit_abandoned(
    tx: &mut Tx,
    now: Timestamp,
    job_kind: &str,
    municipality_id: &MunicipalityId,
    change: (&'static str, &'static str, String),
    reason: &str,
) -> Result<()> {
    let (action, entity_type, entity_id) = change;
    audit::record(
        tx,
        now,
        &Actor::system(job_kind),
        Change {
            municipality_id: Some(municipality_id.clone()),
            service: Some(Service::Assessment),
            action,
            entity_type,
            entity_id,
            before: None,
            after: Some(serde_json::json!({"status": "failed", "error": reason})),
        },
    )
    .await
    .map(|_| ())
}
