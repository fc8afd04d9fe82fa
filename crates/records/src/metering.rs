//! Pages filed in each town, metered for the shared-services chargeback (docs/design/0013,
//! "Scanning bureau").
//!
//! Two metrics in the platform meter (`usage_daily`, service records), one reading per town and
//! day: [`PAGES`], the pages of every version filed that day whose page count is known (PDFs
//! and images; plain and office text have none), and [`BUREAU_PAGES`], those a contributor
//! filed (edit without view in the town: the council's scanning bureau). A version's pages are
//! known once its text job is done, which may be after the day it was filed, so the hourly
//! `records.meter` job recounts the last [`RECOUNT_DAYS`] days. The meter keeps each day's
//! peak, so destroying records later never lowers a day already counted. Like backup metering,
//! the job reads counts only, never content, acts as the system, and audits a rising reading.

use munishare_platform::access::ServiceScope;
use munishare_platform::audit::{self, Actor, Change};
use munishare_platform::db::{Db, Executor};
use munishare_platform::metering::{self, YearMonth};
use munishare_platform::types::{MunicipalityId, Permission, Service, Timestamp};
use munishare_platform::{Error, Result, dispatch};
use serde::Serialize;

use crate::require;

/// Pages filed (every version with a known page count).
pub const PAGES: &str = "pages";
/// Pages the scanning bureau filed (versions filed by a contributor).
pub const BUREAU_PAGES: &str = "bureau_pages";
/// The hourly job.
pub const JOB: &str = "records.meter";
/// Days recounted by each run, today included.
pub const RECOUNT_DAYS: i64 = 7;

/// One town's pages filed on one day, as counted now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// The town.
    pub municipality_id: String,
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Pages filed.
    pub pages: i64,
    /// Of which by the scanning bureau.
    pub bureau_pages: i64,
}

/// Counts the pages filed in every town over the last [`RECOUNT_DAYS`] days and records each
/// day's reading; returns the counts (one per town and day that had pages).
pub async fn measure(db: &Db, now: Timestamp) -> Result<Vec<DayCount>> {
    let today = now.datetime().date();
    let since = today - time::Duration::days(RECOUNT_DAYS - 1);
    let mut tx = db.begin().await?;
    let rows: Vec<(MunicipalityId, String, i64, i64)> = dispatch!(&mut tx, c => sqlx::query_as(
        "SELECT v.municipality_id, SUBSTR(v.created_at, 1, 10) AS day, CAST(SUM(x.pages) AS BIGINT), \
         CAST(SUM(CASE WHEN v.contributed THEN x.pages ELSE 0 END) AS BIGINT) \
         FROM records_versions v JOIN records_version_texts x ON x.municipality_id = v.municipality_id \
         AND x.document_id = v.document_id AND x.number = v.number \
         WHERE v.created_at >= $1 AND x.pages IS NOT NULL \
         GROUP BY v.municipality_id, SUBSTR(v.created_at, 1, 10) ORDER BY 1, 2")
        .bind(since.to_string()).fetch_all(c).await)?;
    let actor = Actor::system(JOB);
    let mut counts = Vec::with_capacity(rows.len());
    for (town, day_text, pages, bureau_pages) in rows {
        let day = crate::parse_date("day", &day_text)?;
        for (metric, quantity) in [(PAGES, pages), (BUREAU_PAGES, bureau_pages)] {
            if metering::record_peak(&mut tx, &town, Service::Records, metric, day, quantity, now)
                .await?
            {
                audit::record(
                    &mut tx,
                    now,
                    &actor,
                    Change {
                        municipality_id: Some(town.clone()),
                        service: Some(Service::Records),
                        action: "records.metering.reading",
                        entity_type: "usage_daily",
                        entity_id: format!("{metric}/{day_text}"),
                        before: None,
                        after: Some(serde_json::json!({"day": day_text, "metric": metric, "pages": quantity})),
                    },
                )
                .await?;
            }
        }
        counts.push(DayCount {
            municipality_id: town.to_string(),
            day: day_text,
            pages,
            bureau_pages,
        });
    }
    tx.commit().await?;
    Ok(counts)
}

/// Registers the hourly count.
pub fn register_jobs(registry: &mut munishare_platform::jobs::Registry) {
    registry.register_periodic(
        JOB,
        time::Duration::hours(1),
        |ctx: munishare_platform::jobs::JobContext, _p: serde_json::Value| async move {
            let counts = measure(&ctx.db, Timestamp::new(ctx.clock.now())).await?;
            serde_json::to_value(counts).map_err(|e| Error::Internal(e.to_string()))
        },
    );
}

/// One day of a town's month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PagesDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Pages filed.
    pub pages: i64,
    /// Of which by the scanning bureau.
    pub bureau_pages: i64,
}

/// A town's pages filed in a month, for the chargeback.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PagesUsage {
    /// The town's slug.
    pub town: String,
    /// Its name.
    pub town_name: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Pages filed in the month.
    pub pages: i64,
    /// Of which by the scanning bureau.
    pub bureau_pages: i64,
    /// Each day with pages.
    pub days: Vec<PagesDay>,
}

/// The town's pages filed in `month` (view).
pub async fn usage(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    month: YearMonth,
) -> Result<PagesUsage> {
    require(scope, Permission::View)?;
    let town = scope.municipality_id();
    let all = metering::month(ex, town, Service::Records, PAGES, month).await?;
    let bureau = metering::month(ex, town, Service::Records, BUREAU_PAGES, month).await?;
    let days = all
        .days
        .into_iter()
        .map(|d| PagesDay {
            bureau_pages: bureau
                .days
                .iter()
                .find(|b| b.day == d.day)
                .map_or(0, |b| b.quantity),
            day: d.day,
            pages: d.quantity,
        })
        .collect();
    Ok(PagesUsage {
        town: scope.town().slug.as_str().to_owned(),
        town_name: scope.town().name.clone(),
        month: month.to_string(),
        pages: all.unit_days,
        bureau_pages: bureau.unit_days,
        days,
    })
}

/// Every given town's pages in `month`, by town name (pass the caller's `access::service_scopes`).
pub async fn regional(
    scopes: &[ServiceScope],
    ex: &mut impl Executor,
    month: YearMonth,
) -> Result<Vec<PagesUsage>> {
    let mut out = Vec::with_capacity(scopes.len());
    for s in scopes {
        out.push(usage(s, ex, month).await?);
    }
    out.sort_by(|a, b| a.town_name.cmp(&b.town_name));
    Ok(out)
}
