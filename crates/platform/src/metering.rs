//! The shared-services meter: one reading per town, service, metric and day, which the
//! chargeback reads as unit-days. A day's reading is its peak: a later, smaller reading the
//! same day does not lower it, so deleting data late in the day does not escape the day's
//! charge. Days with no reading (the server was down) are not invented: a month reports how
//! many of its days were measured.
//!
//! Stored bytes are charged in GB-months (decimal gigabytes, 10^9 bytes, held for a whole
//! month): the month's byte-days divided by its length in days and by 10^9, computed in
//! integers and shown to three decimals.

use serde::Serialize;
use time::{Date, Month};

use crate::db::Executor;
use crate::types::{MunicipalityId, Service, Timestamp};
use crate::{Error, Result, dispatch, execute};

/// Records `quantity` as the day's reading unless the day already has one at least as large;
/// true when the reading changed.
pub async fn record_peak(
    ex: &mut impl Executor,
    town: &MunicipalityId,
    service: Service,
    metric: &str,
    day: Date,
    quantity: i64,
    now: Timestamp,
) -> Result<bool> {
    if quantity < 0 {
        return Err(Error::invalid(
            "quantity",
            "a meter reading cannot be negative",
        ));
    }
    let changed = execute!(ex, c => sqlx::query(
        "INSERT INTO usage_daily (municipality_id, service, metric, day, quantity, measured_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (municipality_id, service, metric, day) DO UPDATE SET quantity = excluded.quantity, measured_at = excluded.measured_at \
         WHERE excluded.quantity > usage_daily.quantity")
        .bind(town).bind(service.as_str()).bind(metric).bind(day.to_string()).bind(quantity).bind(now.to_db())
        .execute(c).await)?;
    Ok(changed > 0)
}

/// A calendar month, as `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearMonth {
    /// The year.
    pub year: i32,
    /// The month.
    pub month: Month,
}

impl YearMonth {
    /// Parses `YYYY-MM`; `field` names the input in the error.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let bad = || Error::invalid(field, format!("'{text}' is not a month like 2026-11"));
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        let month = Month::try_from(month).map_err(|_| bad())?;
        Ok(Self { year, month })
    }

    /// The month a day falls in.
    pub fn of(day: Date) -> Self {
        Self {
            year: day.year(),
            month: day.month(),
        }
    }

    /// Its number of days.
    pub fn days(self) -> u8 {
        self.month.length(self.year)
    }

    /// Its first and last day as stored (`YYYY-MM-DD`).
    fn bounds(self) -> (String, String) {
        (format!("{self}-01"), format!("{self}-{:02}", self.days()))
    }
}

impl std::fmt::Display for YearMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, u8::from(self.month))
    }
}

/// One day's reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayReading {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The day's peak.
    pub quantity: i64,
}

/// A town's month of one metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthUsage {
    /// `YYYY-MM`.
    pub month: String,
    /// Days in the month.
    pub days_in_month: i64,
    /// Days with a reading.
    pub days_measured: i64,
    /// The sum of the days' readings (byte-days for stored bytes).
    pub unit_days: i64,
    /// The month's largest reading.
    pub peak: i64,
    /// Each measured day.
    pub days: Vec<DayReading>,
}

impl MonthUsage {
    /// The month's GB-months (see [`gb_months`]).
    pub fn gb_months(&self) -> String {
        gb_months(self.unit_days, self.days_in_month)
    }
}

/// GB-months to three decimals, rounded half up: byte-days / (days in the month × 10^9).
pub fn gb_months(byte_days: i64, days_in_month: i64) -> String {
    let d = i128::from(days_in_month.max(1)) * 1_000_000_000;
    let milli = (i128::from(byte_days.max(0)) * 2000 + d) / (d * 2);
    format!("{}.{:03}", milli / 1000, milli % 1000)
}

/// The town's readings of `metric` in `month`.
pub async fn month(
    ex: &mut impl Executor,
    town: &MunicipalityId,
    service: Service,
    metric: &str,
    month: YearMonth,
) -> Result<MonthUsage> {
    let (first, last) = month.bounds();
    let rows: Vec<(String, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT day, quantity FROM usage_daily WHERE municipality_id = $1 AND service = $2 AND metric = $3 \
         AND day >= $4 AND day <= $5 ORDER BY day")
        .bind(town).bind(service.as_str()).bind(metric).bind(&first).bind(&last).fetch_all(c).await)?;
    let days: Vec<DayReading> = rows
        .into_iter()
        .map(|(day, quantity)| DayReading { day, quantity })
        .collect();
    Ok(MonthUsage {
        month: month.to_string(),
        days_in_month: i64::from(month.days()),
        days_measured: days.len() as i64,
        unit_days: days.iter().map(|d| d.quantity).sum(),
        peak: days.iter().map(|d| d.quantity).max().unwrap_or(0),
        days,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn months_parse_and_know_their_length() {
        let feb = YearMonth::parse("month", "2028-02").unwrap();
        assert_eq!((feb.days(), feb.to_string()), (29, "2028-02".to_owned()));
        assert_eq!(YearMonth::parse("month", "2026-11").unwrap().days(), 30);
        for bad in ["2026-13", "2026-1", "26-11", "november", ""] {
            let e = YearMonth::parse("month", bad).unwrap_err().to_string();
            assert!(e.starts_with("month: "), "{bad}: {e}");
        }
    }

    #[test]
    fn gb_months_are_byte_days_over_month_days_and_a_billion() {
        let usage = |unit_days, days_in_month| MonthUsage {
            month: "2026-11".into(),
            days_in_month,
            days_measured: 0,
            unit_days,
            peak: 0,
            days: vec![],
        };
        assert_eq!(gb_months(31_000_000_000, 31), "1.000");
        // 2 GB held for all 30 days of November: 2 GB-months.
        assert_eq!(usage(60_000_000_000, 30).gb_months(), "2.000");
        // 1 GB for 10 days of 30: a third, rounded.
        assert_eq!(usage(10_000_000_000, 30).gb_months(), "0.333");
        // 1 GB for 20 days of 30: two thirds, rounded up.
        assert_eq!(usage(20_000_000_000, 30).gb_months(), "0.667");
        // Exactly half a thousandth rounds up.
        assert_eq!(usage(15_000_000, 30).gb_months(), "0.001");
        assert_eq!(usage(14_999_999, 30).gb_months(), "0.000");
        assert_eq!(usage(0, 31).gb_months(), "0.000");
    }
}
