//! A database-backed job queue for work that should not hold up a request:
//! OCR, indexing, retention runs, reports, replication, housekeeping.
//!
//! Jobs are enqueued inside the caller's transaction (so a job exists exactly
//! when the change that needs it commits), claimed by one worker at a time with
//! a conditional `UPDATE … RETURNING` that is safe on both databases, retried
//! with exponential back-off, and listed on the council's jobs page. Because
//! the queue lives in the database, several `munishare serve` nodes share it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use time::Duration;
use tokio::sync::{Notify, watch};

use crate::access::CouncilAdmin;
use crate::audit::{self, Change};
use crate::blob::BlobStore;
use crate::clock::Clock;
use crate::db::{Db, SqlBuilder, Tx};
use crate::error::{Error, Result};
use crate::types::{JobId, MunicipalityId, Timestamp};
use crate::{dispatch, execute};

/// A queued, running or finished job.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Town the job works for, if any.
    pub municipality_id: Option<MunicipalityId>,
    /// Handler key, e.g. `audit.verify`.
    pub kind: String,
    /// JSON input.
    pub payload: String,
    /// `queued`, `running`, `retry`, `done` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Not before.
    pub run_at: String,
    /// Enqueued.
    pub created_at: String,
    /// Last started.
    pub started_at: Option<String>,
    /// Finished.
    pub finished_at: Option<String>,
    /// Last failure, in words.
    pub last_error: Option<String>,
    /// JSON output of a finished job.
    pub result: Option<String>,
}

/// Delay before retry number `attempt` (1-based): 10 s, 20 s, 40 s … capped at one hour.
pub fn backoff(attempt: i64) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    Duration::seconds((10i64 << exp).min(3600))
}

/// Enqueues a job inside `tx`.
pub async fn enqueue(
    tx: &mut Tx,
    now: Timestamp,
    kind: &str,
    municipality_id: Option<&MunicipalityId>,
    payload: &serde_json::Value,
    max_attempts: u8,
) -> Result<JobId> {
    let id = JobId::generate();
    execute!(tx, c => sqlx::query(
        "INSERT INTO jobs (id, municipality_id, kind, payload, status, attempts, max_attempts, run_at, created_at) \
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6)")
        .bind(&id).bind(municipality_id).bind(kind).bind(payload.to_string())
        .bind(i64::from(max_attempts.max(1))).bind(now.to_db()).execute(c).await)?;
    Ok(id)
}

/// Claims the oldest due job, if any, marking it running.
///
/// The `status` re-check in the outer `WHERE` makes the claim safe when two
/// workers race: PostgreSQL re-evaluates it after waiting for the row lock, and
/// SQLite runs one writer at a time.
pub async fn claim_next(db: &Db, now: Timestamp) -> Result<Option<Job>> {
    let mut tx = db.begin().await?;
    let job: Option<Job> = dispatch!(&mut tx, c => sqlx::query_as(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = $1 \
         WHERE id = (SELECT id FROM jobs WHERE status IN ('queued', 'retry') AND run_at <= $1 ORDER BY run_at, id LIMIT 1) \
         AND status IN ('queued', 'retry') RETURNING *")
        .bind(now.to_db()).fetch_optional(c).await)?;
    tx.commit().await?;
    Ok(job)
}

/// Records success.
pub async fn complete(
    db: &Db,
    now: Timestamp,
    id: &JobId,
    result: &serde_json::Value,
) -> Result<()> {
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE jobs SET status = 'done', finished_at = $1, result = $2, last_error = NULL WHERE id = $3")
        .bind(now.to_db()).bind(result.to_string()).bind(id).execute(c).await)?;
    tx.commit().await
}

/// Records a failure: schedules a retry with back-off, or marks the job failed
/// when its attempts are used up.
pub async fn fail(db: &Db, now: Timestamp, job: &Job, error: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    if job.attempts < job.max_attempts {
        let run_at = Timestamp::new(now.datetime() + backoff(job.attempts));
        execute!(&mut tx, c => sqlx::query("UPDATE jobs SET status = 'retry', run_at = $1, last_error = $2 WHERE id = $3")
            .bind(run_at.to_db()).bind(error).bind(&job.id).execute(c).await)?;
    } else {
        execute!(&mut tx, c => sqlx::query(
            "UPDATE jobs SET status = 'failed', finished_at = $1, last_error = $2 WHERE id = $3")
            .bind(now.to_db()).bind(error).bind(&job.id).execute(c).await)?;
    }
    tx.commit().await
}

/// Puts jobs left `running` by a worker that died back in the queue.
pub async fn requeue_stale(db: &Db, now: Timestamp, older_than: Duration) -> Result<u64> {
    let cutoff = Timestamp::new(now.datetime() - older_than).to_db();
    let mut tx = db.begin().await?;
    let n = execute!(&mut tx, c => sqlx::query(
        "UPDATE jobs SET status = 'retry', last_error = 'worker stopped while running; retried' \
         WHERE status = 'running' AND started_at < $1").bind(cutoff).execute(c).await)?;
    tx.commit().await?;
    Ok(n)
}

/// Lists jobs, newest first, optionally of one status.
pub async fn list(
    _admin: &CouncilAdmin,
    db: &Db,
    status: Option<&str>,
    limit: u32,
) -> Result<Vec<Job>> {
    let mut q = SqlBuilder::new("SELECT * FROM jobs");
    if let Some(s) = status {
        q.push(" WHERE status = ").bind(s);
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_number(limit);
    let (sql, args) = q.build();
    let mut c = db.read().await?;
    Ok(dispatch!(&mut c, c => {
        let mut query = sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql));
        for a in args {
            query = query.bind(a.clone());
        }
        query.fetch_all(c).await
    })?)
}

/// Reads one job.
pub async fn get(db: &Db, id: &JobId) -> Result<Job> {
    let mut c = db.read().await?;
    dispatch!(&mut c, c => sqlx::query_as("SELECT * FROM jobs WHERE id = $1").bind(id).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "job" })
}

/// The platform's own job kinds that an administrator may start by hand.
pub const ADMIN_RUNNABLE: [(&str, &str); 2] = [
    (AUDIT_VERIFY, "Verify every audit hash chain"),
    (SESSIONS_PURGE, "Remove expired sign-in sessions"),
];
/// Recomputes every audit chain.
pub const AUDIT_VERIFY: &str = "audit.verify";
/// Deletes expired sessions.
pub const SESSIONS_PURGE: &str = "sessions.purge";

/// Platform jobs the worker schedules by itself, with their period.
pub const HOUSEKEEPING: [(&str, Duration); 2] = [
    (SESSIONS_PURGE, Duration::hours(1)),
    (AUDIT_VERIFY, Duration::days(1)),
];

/// Enqueues each periodic job (`schedules`: kind and period) that is neither
/// waiting nor was enqueued within its period; returns how many were enqueued.
/// Several nodes may call this; at worst a job runs twice, which every periodic
/// job must tolerate.
async fn schedule_periodic(
    db: &Db,
    now: Timestamp,
    schedules: &[(&'static str, Duration)],
) -> Result<usize> {
    let mut enqueued = 0;
    for &(kind, every) in schedules {
        let since = Timestamp::new(now.datetime() - every).to_db();
        let mut c = db.read().await?;
        let pending: Option<JobId> = dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT id FROM jobs WHERE kind = $1 AND (status IN ('queued', 'running', 'retry') OR created_at > $2) LIMIT 1")
            .bind(kind).bind(&since).fetch_optional(c).await)?;
        drop(c);
        if pending.is_none() {
            let mut tx = db.begin().await?;
            enqueue(&mut tx, now, kind, None, &serde_json::json!({}), 3).await?;
            tx.commit().await?;
            enqueued += 1;
        }
    }
    Ok(enqueued)
}

/// Enqueues one of [`ADMIN_RUNNABLE`] on an administrator's request, audited.
pub async fn enqueue_by_admin(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    kind: &str,
) -> Result<JobId> {
    if !ADMIN_RUNNABLE.iter().any(|(k, _)| *k == kind) {
        return Err(Error::invalid(
            "kind",
            format!(
                "'{}' is not a job that can be started by hand",
                crate::types::truncate(kind, 40)
            ),
        ));
    }
    let mut tx = db.begin().await?;
    let id = enqueue(&mut tx, now, kind, None, &serde_json::json!({}), 3).await?;
    audit::record(
        &mut tx,
        now,
        admin.actor(),
        Change {
            municipality_id: None,
            service: None,
            action: "job.enqueue",
            entity_type: "job",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({"kind": kind})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Puts a failed job back in the queue with fresh attempts.
pub async fn retry(admin: &CouncilAdmin, db: &Db, now: Timestamp, id: &JobId) -> Result<()> {
    let mut tx = db.begin().await?;
    let n = execute!(&mut tx, c => sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, finished_at = NULL WHERE id = $2 AND status = 'failed'")
        .bind(now.to_db()).bind(id).execute(c).await)?;
    if n == 0 {
        return Err(Error::conflict("id", "only a failed job can be retried"));
    }
    audit::record(
        &mut tx,
        now,
        admin.actor(),
        Change {
            municipality_id: None,
            service: None,
            action: "job.retry",
            entity_type: "job",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({"status": "queued"})),
        },
    )
    .await?;
    tx.commit().await
}

/// What a job handler gets to work with.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The database.
    pub db: Db,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The object store (uploaded files wait there for their job).
    pub blobs: BlobStore,
    /// The second, off-site object store that backup replication copies to (none when the
    /// server runs without `--replica-store`; the replication job then skips and says so).
    pub replica: Option<BlobStore>,
    /// Where long jobs report how far they have got.
    pub progress: ProgressBoard,
}

/// How far a long piece of work has got: items done and the share done.
#[derive(Debug, Default)]
pub struct Progress {
    items: AtomicU64,
    permille: AtomicU64,
}

impl Progress {
    /// Items (rows, files …) done so far.
    pub fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }

    /// Share done, in thousandths.
    pub fn permille(&self) -> u64 {
        self.permille.load(Ordering::Relaxed).min(1000)
    }

    /// Records `items` done and `done` of `total` units (bytes, rows …).
    pub fn set(&self, items: u64, done: u64, total: u64) {
        self.items.store(items, Ordering::Relaxed);
        if let Some(p) = done.saturating_mul(1000).checked_div(total) {
            self.permille.store(p, Ordering::Relaxed);
        }
    }

    /// Marks the work complete.
    pub fn finish(&self) {
        self.permille.store(1000, Ordering::Relaxed);
    }
}

/// The progress of the long work running in this process, by key (an
/// import's id, say). Held in memory: a page shows it while the work runs on
/// the same node, and the work's stored status otherwise.
#[derive(Debug, Clone, Default)]
pub struct ProgressBoard(Arc<Mutex<HashMap<String, Arc<Progress>>>>);

impl ProgressBoard {
    /// Starts tracking `key`.
    pub fn track(&self, key: &str) -> Arc<Progress> {
        let p = Arc::new(Progress::default());
        if let Ok(mut m) = self.0.lock() {
            m.insert(key.to_owned(), p.clone());
        }
        p
    }

    /// The progress of `key`, while it is tracked.
    pub fn get(&self, key: &str) -> Option<Arc<Progress>> {
        self.0.lock().ok()?.get(key).cloned()
    }

    /// Stops tracking `key`.
    pub fn forget(&self, key: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(key);
        }
    }
}

/// A boxed future returned by handlers.
pub type JobFuture = Pin<Box<dyn Future<Output = Result<serde_json::Value>> + Send>>;

/// Runs one kind of job. Returns JSON describing the outcome, or an error
/// message that is stored and shown on the jobs page.
pub trait JobHandler: Send + Sync {
    /// Runs the job with its JSON payload.
    fn run(&self, ctx: JobContext, payload: serde_json::Value) -> JobFuture;
}

impl<F, Fut> JobHandler for F
where
    F: Fn(JobContext, serde_json::Value) -> Fut + Send + Sync,
    Fut: Future<Output = Result<serde_json::Value>> + Send + 'static,
{
    fn run(&self, ctx: JobContext, payload: serde_json::Value) -> JobFuture {
        Box::pin(self(ctx, payload))
    }
}

/// Handlers by job kind; modules register theirs at start-up.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    /// Periodic kinds and their periods (the platform's [`HOUSEKEEPING`] and the modules').
    schedules: Vec<(&'static str, Duration)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kinds", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// The same handlers with nothing scheduled: for a node's extra workers,
    /// so that periodic jobs are enqueued by one worker only (its check and
    /// enqueue are two steps).
    #[must_use]
    pub fn without_schedules(&self) -> Self {
        Self {
            handlers: self.handlers.clone(),
            schedules: Vec::new(),
        }
    }

    /// The platform's own handlers, with [`HOUSEKEEPING`] scheduled.
    pub fn with_platform_jobs() -> Self {
        let mut r = Self::default();
        r.schedules.extend(HOUSEKEEPING);
        r.register(
            AUDIT_VERIFY,
            |ctx: JobContext, _p: serde_json::Value| async move {
                let report = audit::verify(&ctx.db).await?;
                serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))
            },
        );
        r.register(
            SESSIONS_PURGE,
            |ctx: JobContext, _p: serde_json::Value| async move {
                let now = Timestamp::new(ctx.clock.now());
                let n = crate::identity::purge_expired_sessions(
                    &ctx.db,
                    now,
                    crate::identity::SessionPolicy::default(),
                )
                .await?;
                Ok(serde_json::json!({ "sessions_removed": n }))
            },
        );
        r
    }

    /// Adds a handler for `kind`.
    pub fn register(&mut self, kind: &'static str, handler: impl JobHandler + 'static) {
        self.handlers.insert(kind, Arc::new(handler));
    }

    /// Adds a handler for `kind` and has the worker enqueue it once per `every`.
    pub fn register_periodic(
        &mut self,
        kind: &'static str,
        every: Duration,
        handler: impl JobHandler + 'static,
    ) {
        self.register(kind, handler);
        self.schedules.push((kind, every));
    }

    /// Enqueues each periodic job that is neither waiting nor was enqueued within its
    /// period (the worker calls this once a minute); returns how many were enqueued.
    pub async fn schedule_due(&self, db: &Db, now: Timestamp) -> Result<usize> {
        schedule_periodic(db, now, &self.schedules).await
    }

    /// Runs the next due job, if any; returns whether one ran.
    pub async fn run_one(&self, ctx: &JobContext) -> Result<bool> {
        let now = Timestamp::new(ctx.clock.now());
        let Some(job) = claim_next(&ctx.db, now).await? else {
            return Ok(false);
        };
        let outcome = match self.handlers.get(job.kind.as_str()) {
            None => Err(Error::Internal(format!(
                "no handler for job kind {}",
                job.kind
            ))),
            Some(h) => {
                let payload = serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null);
                h.run(ctx.clone(), payload).await
            }
        };
        let now = Timestamp::new(ctx.clock.now());
        match outcome {
            Ok(result) => complete(&ctx.db, now, &job.id, &result).await?,
            Err(e) => {
                tracing::warn!(job = %job.id, kind = %job.kind, error = %e, "job failed");
                fail(&ctx.db, now, &job, &e.to_string()).await?;
            }
        }
        Ok(true)
    }
}

/// Wakes the worker early (after an enqueue) instead of waiting for its next poll.
#[derive(Debug, Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    /// Asks the worker to look for work now.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Runs jobs until `shutdown` turns true: polls every `interval`, or sooner
/// when woken, and enqueues the periodic jobs that are due once a minute.
pub async fn run_worker(
    registry: Registry,
    ctx: JobContext,
    waker: Waker,
    interval: std::time::Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = requeue_stale(
        &ctx.db,
        Timestamp::new(ctx.clock.now()),
        Duration::minutes(15),
    )
    .await;
    let mut last_schedule: Option<std::time::Instant> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if last_schedule.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
            last_schedule = Some(std::time::Instant::now());
            if let Err(e) = registry
                .schedule_due(&ctx.db, Timestamp::new(ctx.clock.now()))
                .await
            {
                tracing::error!(error = %e, "periodic jobs could not be scheduled");
            }
        }
        match registry.run_one(&ctx).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "job worker could not reach the queue"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = waker.0.notified() => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use time::Duration;

    #[test]
    fn backoff_doubles_from_ten_seconds_and_caps_at_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(3), Duration::seconds(40));
        assert_eq!(backoff(10), Duration::seconds(3600));
        assert_eq!(backoff(100), Duration::seconds(3600));
    }
}
