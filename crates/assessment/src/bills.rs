//! Tax bills: one account's bill as a PDF on request, and the bulk run for a
//! whole grand list through the job queue (one PDF, a page per bill, kept in
//! the town's part of the blob store, with progress shown while it runs).

use munishare_platform::access::ServiceScope;
use munishare_platform::blob::{BlobKey, BlobStore};
use munishare_platform::db::{Db, Executor, Tx};
use munishare_platform::jobs::{self, JobContext, Registry};
use munishare_platform::types::{MunicipalityId, Permission, Timestamp};
use munishare_platform::{Error, Result, audit, execute};
use serde::{Deserialize, Serialize};

use crate::grand_list::{self, GrandList};
use crate::job_user::{self, Acting};
use crate::parcels::{change, require};

/// The job kind of a bulk bill run.
pub const BILLS_JOB: &str = "assessment.bills";

#[derive(Debug, Serialize, Deserialize)]
struct BillsJob {
    town: String,
    list_year: i64,
    user: String,
}

/// The progress key of a town's bill run.
pub fn progress_key(scope: &ServiceScope, list_year: i64) -> String {
    format!("bills:{}:{list_year}", scope.municipality_id())
}

/// One account's bill as a PDF.
pub async fn one(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
    account: &str,
) -> Result<Vec<u8>> {
    let gl = grand_list::get(scope, ex, list_year).await?;
    let item = grand_list::items(scope, ex, list_year, Some(account))
        .await?
        .into_iter()
        .next()
        .ok_or(Error::NotFound { what: "account" })?;
    let bill = grand_list::bill(&scope.town().name, &gl, &item)?;
    munishare_taxbill::render(&bill)
        .map_err(|e| Error::invalid(format!("bill {account}: {}", e.field()), e.to_string()))
}

async fn set_status(
    db: &Db,
    scope: &ServiceScope,
    list_year: i64,
    status: &str,
    error: &str,
) -> Result<()> {
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_grand_lists SET bills_status = $1, bills_error = $2 WHERE municipality_id = $3 AND list_year = $4")
        .bind(status).bind(error).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    tx.commit().await
}

/// Queues a bulk bill run (Edit permission; the mill rate must be set).
pub async fn enqueue(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
) -> Result<GrandList> {
    require(scope, Permission::Edit)?;
    let gl = grand_list::get(scope, tx, list_year).await?;
    grand_list::mills(&gl)?;
    if matches!(gl.bills_status.as_str(), "queued" | "running") {
        return Err(Error::conflict(
            "list_year",
            format!("a bill run for {list_year} is already {}", gl.bills_status),
        ));
    }
    let job = BillsJob {
        town: scope.town().slug.to_string(),
        list_year,
        user: scope.user_id().as_str().to_owned(),
    };
    jobs::enqueue(
        tx,
        now,
        BILLS_JOB,
        Some(scope.municipality_id()),
        &serde_json::to_value(&job).map_err(|e| Error::Internal(e.to_string()))?,
        1,
    )
    .await?;
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_grand_lists SET bills_status = 'queued', bills_error = '' WHERE municipality_id = $1 AND list_year = $2")
        .bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    grand_list::get(scope, tx, list_year).await
}

/// Renders every bill of the list with a tax into one PDF and keeps it.
async fn run(ctx: &JobContext, scope: &ServiceScope, list_year: i64) -> Result<i64> {
    let now = Timestamp::new(ctx.clock.now());
    let (gl, items) = {
        let mut c = ctx.db.read().await?;
        let gl = grand_list::get(scope, &mut c, list_year).await?;
        (
            gl.clone(),
            grand_list::items(scope, &mut c, list_year, None).await?,
        )
    };
    let rates = grand_list::rates(&gl)?;
    let progress = ctx.progress.track(&progress_key(scope, list_year));
    let total = items.len() as u64;
    let mut bills = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if rates.tax(item) > 0 {
            bills.push(grand_list::bill(&scope.town().name, &gl, item)?);
        }
        if i % 500 == 0 {
            // Building the bills is the first half of the work, drawing them the second.
            progress.set(i as u64, i as u64, total * 2);
        }
    }
    if bills.is_empty() {
        return Err(Error::invalid(
            "list_year",
            "no account on this list owes any tax",
        ));
    }
    let key = store_pdf(
        &ctx.blobs,
        scope,
        &bills,
        &format!("bills/{list_year}-{}.pdf", now.to_db().replace(':', "")),
    )
    .await?;
    progress.set(total, total * 2, total * 2);
    let count = bills.len() as i64;
    let mut tx = ctx.db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_grand_lists SET bills_status = 'done', bills_error = '', bills_blob_key = $1, bills_count = $2, \
         bills_made_at = $3 WHERE municipality_id = $4 AND list_year = $5")
        .bind(key.as_str()).bind(count).bind(now.to_db()).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "grand_list.bills",
            "grand_list",
            &list_year.to_string(),
            None,
            Some(serde_json::json!({"bills": count, "mill_rate": gl.mill_rate, "file": key.as_str()})),
        ),
    )
    .await?;
    tx.commit().await?;
    progress.finish();
    ctx.progress.forget(&progress_key(scope, list_year));
    Ok(count)
}

/// Draws bills into one PDF, a page each, and keeps it in the town's part of
/// the blob store under `name`; a bill that cannot be printed is named.
pub(crate) async fn store_pdf(
    blobs: &BlobStore,
    scope: &ServiceScope,
    bills: &[munishare_taxbill::Bill],
    name: &str,
) -> Result<BlobKey> {
    let pdf = munishare_taxbill::render_many(bills).map_err(|e| {
        let which = e
            .bill_index()
            .and_then(|i| bills.get(i))
            .map_or(String::new(), |b| format!("bill {}: ", b.account_id));
        Error::invalid(format!("{which}{}", e.field()), e.to_string())
    })?;
    let key = BlobKey::in_scope(scope, name)?;
    blobs.put(&key, bytes::Bytes::from(pdf)).await?;
    Ok(key)
}

/// The last bulk run's PDF.
pub async fn stored(
    scope: &ServiceScope,
    blobs: &BlobStore,
    gl: &GrandList,
) -> Result<bytes::Bytes> {
    stored_pdf(scope, blobs, &gl.bills_blob_key).await
}

/// A bulk run's PDF by the key it was stored under ([`store_pdf`]); the key
/// must lie in the scope's own part of the blob store.
pub(crate) async fn stored_pdf(
    scope: &ServiceScope,
    blobs: &BlobStore,
    key: &str,
) -> Result<bytes::Bytes> {
    require(scope, Permission::View)?;
    let prefix = BlobKey::prefix(scope);
    let name = key
        .strip_prefix(&format!("{prefix}/"))
        .filter(|n| !n.is_empty())
        .ok_or(Error::NotFound { what: "bill run" })?;
    blobs.get(&BlobKey::in_scope(scope, name)?).await
}

/// Marks failed a bill run whose user can no longer run it (see `job_user`).
async fn abandon(ctx: &JobContext, m: &MunicipalityId, list_year: i64, reason: &str) -> Result<()> {
    let now = Timestamp::new(ctx.clock.now());
    let mut tx = ctx.db.begin().await?;
    let changed = execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_grand_lists SET bills_status = 'failed', bills_error = $1 \
         WHERE municipality_id = $2 AND list_year = $3 AND bills_status IN ('queued', 'running')")
        .bind(reason).bind(m).bind(list_year).execute(c).await)?;
    if changed > 0 {
        job_user::audit_abandoned(
            &mut tx,
            now,
            BILLS_JOB,
            m,
            (
                "grand_list.bills_failed",
                "grand_list",
                list_year.to_string(),
            ),
            reason,
        )
        .await?;
    }
    tx.commit().await
}

/// Registers the bulk bill run with the job queue.
pub fn register_jobs(registry: &mut Registry) {
    registry.register(
        BILLS_JOB,
        |ctx: JobContext, payload: serde_json::Value| async move {
            let job: BillsJob = serde_json::from_value(payload)
                .map_err(|e| Error::Internal(format!("bad bill job: {e}")))?;
            let scope = match job_user::acting(&ctx, &job.user, &job.town, Permission::Edit).await?
            {
                Acting::As(acting) => acting.1,
                Acting::Refused {
                    municipality_id,
                    reason,
                } => {
                    abandon(&ctx, &municipality_id, job.list_year, &reason).await?;
                    return Err(Error::Forbidden(reason));
                }
            };
            set_status(&ctx.db, &scope, job.list_year, "running", "").await?;
            match run(&ctx, &scope, job.list_year).await {
                Ok(count) => Ok(serde_json::json!({"bills": count})),
                Err(e) => {
                    ctx.progress.forget(&progress_key(&scope, job.list_year));
                    set_status(&ctx.db, &scope, job.list_year, "failed", &e.to_string()).await?;
                    Err(e)
                }
            }
        },
    );
}
