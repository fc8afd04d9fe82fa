//! Metering for the shared-services chargeback: the deduplicated bytes each town's
//! repositories hold (the sizes of the objects the server keeps — packs are already
//! deduplicated and compressed, so this is what the town costs in storage), read hourly and
//! kept as each day's peak in the platform meter (`metering`), and charged in GB-months.
//!
//! The hourly `backup.metering` job is the council's own measurement: it reads only object
//! sizes, never a town's data, so it acts as the system (`system:backup.metering`) rather
//! than for a person of the town, and records an audit event in the town's chain whenever a
//! day's reading rises.

use munishare_platform::access::ServiceScope;
use munishare_platform::audit::{self, Actor, Change};
use munishare_platform::db::{Db, Executor};
use munishare_platform::metering::{self, YearMonth};
use munishare_platform::types::{MunicipalityId, Permission, Service, Timestamp};
use munishare_platform::{Error, Result, dispatch};
use serde::Serialize;

use crate::require;

/// The meter's metric.
pub const METRIC: &str = "stored_bytes";

/// The periodic job.
pub const JOB: &str = "backup.metering";

/// One day's peak of stored bytes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The day's peak.
    pub stored_bytes: i64,
}

/// A town's backup storage in a month, for the chargeback.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// The town's slug.
    pub town: String,
    /// Its name.
    pub town_name: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Days in the month.
    pub days_in_month: i64,
    /// Days the meter read (a month in progress, or days the server was down, have fewer).
    pub days_measured: i64,
    /// The sum of the days' peaks.
    pub byte_days: i64,
    /// byte-days / (days in month × 10^9), to three decimals, rounded half up.
    pub gb_months: String,
    /// The month's largest day.
    pub peak_bytes: i64,
    /// Bytes stored now.
    pub stored_bytes_now: i64,
    /// Each measured day.
    pub days: Vec<UsageDay>,
}

async fn stored_now(ex: &mut impl Executor, town: &MunicipalityId) -> Result<i64> {
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM backup_objects WHERE municipality_id = $1")
        .bind(town).fetch_one(c).await)?)
}

/// The town's usage in `month` (view).
pub async fn usage(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    month: YearMonth,
) -> Result<Usage> {
    require(scope, Permission::View)?;
    let town = scope.municipality_id();
    let m = metering::month(ex, town, Service::Backup, METRIC, month).await?;
    Ok(Usage {
        town: scope.town().slug.as_str().to_owned(),
        town_name: scope.town().name.clone(),
        gb_months: m.gb_months(),
        month: m.month,
        days_in_month: m.days_in_month,
        days_measured: m.days_measured,
        byte_days: m.unit_days,
        peak_bytes: m.peak,
        stored_bytes_now: stored_now(ex, town).await?,
        days: m
            .days
            .into_iter()
            .map(|d| UsageDay {
                day: d.day,
                stored_bytes: d.quantity,
            })
            .collect(),
    })
}

/// Every given town's usage in `month`, by town name (pass the caller's `access::service_scopes`).
pub async fn regional(
    scopes: &[ServiceScope],
    ex: &mut impl Executor,
    month: YearMonth,
) -> Result<Vec<Usage>> {
    let mut out = Vec::with_capacity(scopes.len());
    for s in scopes {
        out.push(usage(s, ex, month).await?);
    }
    out.sort_by(|a, b| a.town_name.cmp(&b.town_name));
    Ok(out)
}

/// One town's reading in a metering run.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    /// The town.
    pub municipality_id: String,
    /// Bytes stored now.
    pub stored_bytes: i64,
    /// Whether the day's peak rose.
    pub changed: bool,
}

/// Reads every town with a backup repository and records the day's peak.
pub async fn measure(db: &Db, now: Timestamp) -> Result<Vec<Reading>> {
    let day = now.datetime().date();
    let mut tx = db.begin().await?;
    let towns: Vec<(MunicipalityId, i64)> = dispatch!(&mut tx, c => sqlx::query_as(
        "SELECT r.municipality_id, CAST(COALESCE(SUM(o.size), 0) AS BIGINT) FROM backup_repositories r \
         LEFT JOIN backup_objects o ON o.municipality_id = r.municipality_id AND o.repo_id = r.id \
         GROUP BY r.municipality_id ORDER BY r.municipality_id")
        .fetch_all(c).await)?;
    let actor = Actor::system(JOB);
    let mut readings = Vec::with_capacity(towns.len());
    for (town, bytes) in towns {
        let changed =
            metering::record_peak(&mut tx, &town, Service::Backup, METRIC, day, bytes, now).await?;
        if changed {
            audit::record(
                &mut tx,
                now,
                &actor,
                Change {
                    municipality_id: Some(town.clone()),
                    service: Some(Service::Backup),
                    action: "backup.metering.reading",
                    entity_type: "usage_daily",
                    entity_id: format!("{METRIC}/{day}"),
                    before: None,
                    after: Some(serde_json::json!({"day": day.to_string(), "stored_bytes": bytes})),
                },
            )
            .await?;
        }
        readings.push(Reading {
            municipality_id: town.to_string(),
            stored_bytes: bytes,
            changed,
        });
    }
    tx.commit().await?;
    Ok(readings)
}

/// Registers the hourly reading.
pub fn register_jobs(registry: &mut munishare_platform::jobs::Registry) {
    registry.register_periodic(
        JOB,
        time::Duration::hours(1),
        |ctx: munishare_platform::jobs::JobContext, _p: serde_json::Value| async move {
            let readings = measure(&ctx.db, Timestamp::new(ctx.clock.now())).await?;
            serde_json::to_value(readings).map_err(|e| Error::Internal(e.to_string()))
        },
    );
}
