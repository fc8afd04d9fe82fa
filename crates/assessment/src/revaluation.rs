//! Each town's revaluation cycle (CGS 12-62(b); docs/design/0009-field-work.md).
//!
//! A town revalues at least every five years, effective on the October 1
//! grand list of the revaluation year, on the phased schedule OPM publishes.
//! The town records the grand-list year of its last revaluation and of the
//! next scheduled one (by default five years later; later than that is
//! refused); [`status_of`] says, for a date, whether the town is current, due
//! this year or overdue, and whether the due year's grand list has an
//! adopted model run. The regional view is the same status for every town
//! the caller may see.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::demo::valuation_date;
use crate::parcels::{change, json, require};

/// The statute, named in messages.
pub const STATUTE: &str = "CGS 12-62(b)";

/// Most years between revaluations.
pub const MAX_YEARS: i64 = 5;

/// A town's recorded cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Cycle {
    /// Grand-list year of the last revaluation (effective October 1 of that year).
    pub last_year: i64,
    /// Grand-list year of the next scheduled revaluation.
    pub next_year: i64,
    /// When it was last changed.
    pub updated_at: String,
    /// By whom.
    pub updated_by: String,
    /// Version, for optimistic concurrency.
    pub version: i64,
}

/// A town's cycle as set by someone with approve in assessment.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CycleIn {
    /// Grand-list year of the last revaluation; not after the grand list in force.
    pub last_year: i64,
    /// Grand-list year of the next one; default and latest: `last_year + 5`.
    #[serde(default)]
    pub next_year: Option<i64>,
    /// The version read (0 when none is recorded yet).
    #[serde(default)]
    pub version: i64,
}

/// Where a town stands on a date.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CycleStatus {
    /// The town's slug.
    pub town: String,
    /// Its name.
    pub town_name: String,
    /// The grand list in force on the date (the latest October 1 on or before it), its year.
    pub grand_list_year: i64,
    /// The recorded cycle; absent when the town has not recorded one.
    pub cycle: Option<Cycle>,
    /// Grand lists since the last revaluation (`grand_list_year - last_year`).
    pub years_since: Option<i64>,
    /// `current`, `due` (the due year's October 1 list is the one in force), `overdue` or `not_recorded`.
    pub state: String,
    /// Whether the due year's grand list has an adopted valuation model run.
    pub due_list_adopted: bool,
}

impl CycleStatus {
    /// The state in words.
    pub fn label(&self) -> &'static str {
        state_label(&self.state)
    }
}

/// A state in words.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "current" => "current",
        "due" => "due this year",
        "overdue" => "overdue",
        _ => "not recorded",
    }
}

/// The year of the grand list in force on `today`.
pub fn grand_list_year(today: Date) -> i64 {
    i64::from(valuation_date(today).year())
}

/// The state for a grand-list year: before the next year `current`; that
/// year's list `due`; after it `overdue`, unless the due year's list has an
/// adopted model run (the revaluation was done; record it as the last).
pub fn state_of(next_year: i64, grand_list_year: i64, due_list_adopted: bool) -> &'static str {
    if grand_list_year < next_year {
        "current"
    } else if grand_list_year == next_year {
        "due"
    } else if due_list_adopted {
        "current"
    } else {
        "overdue"
    }
}

/// Checks a cycle against the grand list in force; returns `(last, next)`.
/// Every refusal names its field; one beyond five years names the statute.
pub fn check(c: &CycleIn, grand_list_year: i64) -> Result<(i64, i64)> {
    let last = c.last_year;
    if !(1900..=2200).contains(&last) {
        return Err(Error::invalid(
            "last_year",
            format!("{last} is not a plausible grand-list year"),
        ));
    }
    if last > grand_list_year {
        return Err(Error::invalid(
            "last_year",
            format!(
                "{last} is after the grand list in force (October 1, {grand_list_year}); record a revaluation once its list is taken"
            ),
        ));
    }
    let next = c.next_year.unwrap_or(last + MAX_YEARS);
    if next <= last {
        return Err(Error::invalid(
            "next_year",
            format!("{next} is not after the last revaluation ({last})"),
        ));
    }
    if next > last + MAX_YEARS {
        return Err(Error::invalid(
            "next_year",
            format!(
                "{next} is more than {MAX_YEARS} years after the last revaluation ({last}); {STATUTE} requires a revaluation at least every five years, so the next is due by {}",
                last + MAX_YEARS
            ),
        ));
    }
    Ok((last, next))
}

/// The town's recorded cycle, if any.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Option<Cycle>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT last_year, next_year, updated_at, updated_by, version FROM assessment_revaluation_cycles WHERE municipality_id = $1")
        .bind(scope.municipality_id()).fetch_optional(c).await)?)
}

async fn adopted(scope: &ServiceScope, ex: &mut impl Executor, year: i64) -> Result<bool> {
    let n: i64 = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM assessment_model_runs WHERE municipality_id = $1 AND adopted_at <> '' AND valuation_date = $2")
        .bind(scope.municipality_id()).bind(format!("{year:04}-10-01")).fetch_one(c).await)?;
    Ok(n > 0)
}

/// Where the town stands on `today`.
pub async fn status(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    today: Date,
) -> Result<CycleStatus> {
    let cycle = get(scope, ex).await?;
    let gl = grand_list_year(today);
    let (years_since, state, due_list_adopted) = match &cycle {
        None => (None, "not_recorded", false),
        Some(c) => {
            let a = adopted(scope, ex, c.next_year).await?;
            (Some(gl - c.last_year), state_of(c.next_year, gl, a), a)
        }
    };
    Ok(CycleStatus {
        town: scope.town().slug.as_str().to_owned(),
        town_name: scope.town().name.clone(),
        grand_list_year: gl,
        cycle,
        years_since,
        state: state.to_owned(),
        due_list_adopted,
    })
}

/// Every given town's status, by town name (the regional view: pass the
/// caller's `access::service_scopes`).
pub async fn regional(
    scopes: &[ServiceScope],
    ex: &mut impl Executor,
    today: Date,
) -> Result<Vec<CycleStatus>> {
    let mut out = Vec::with_capacity(scopes.len());
    for s in scopes {
        out.push(status(s, ex, today).await?);
    }
    out.sort_by(|a, b| a.town_name.cmp(&b.town_name));
    Ok(out)
}

/// Records the town's cycle (approve in assessment); audited with the row
/// before and after. A version other than the one stored is refused.
pub async fn set(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    today: Date,
    c: &CycleIn,
) -> Result<Cycle> {
    require(scope, Permission::Approve)?;
    let (last, next) = check(c, grand_list_year(today))?;
    let before = get(scope, tx).await?;
    let held = before.as_ref().map_or(0, |b| b.version);
    if c.version != held {
        return Err(Error::conflict(
            "version",
            format!(
                "the revaluation cycle of {} changed since you read it (version {held} now); reload and try again",
                scope.town().name
            ),
        ));
    }
    let stamp = now.to_db();
    let who = scope.actor().label.clone();
    let m = scope.municipality_id();
    let n = if before.is_some() {
        execute!(tx, q => sqlx::query(
            "UPDATE assessment_revaluation_cycles SET last_year = $1, next_year = $2, updated_at = $3, updated_by = $4, \
             version = version + 1 WHERE municipality_id = $5 AND version = $6")
            .bind(last).bind(next).bind(&stamp).bind(&who).bind(m).bind(held).execute(q).await)?
    } else {
        execute!(tx, q => sqlx::query(
            "INSERT INTO assessment_revaluation_cycles (municipality_id, last_year, next_year, updated_at, updated_by, version) \
             VALUES ($1, $2, $3, $4, $5, 1)")
            .bind(m).bind(last).bind(next).bind(&stamp).bind(&who).execute(q).await)?
    };
    if n != 1 {
        return Err(Error::conflict(
            "version",
            "the revaluation cycle changed meanwhile; reload and try again",
        ));
    }
    let after = get(scope, tx).await?.ok_or(Error::NotFound {
        what: "revaluation cycle",
    })?;
    let before_json = match &before {
        Some(b) => Some(json(b)?),
        None => None,
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "revaluation_cycle.set",
            "revaluation_cycle",
            m.as_str(),
            before_json,
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    fn input(last: i64, next: Option<i64>) -> CycleIn {
        CycleIn {
            last_year: last,
            next_year: next,
            version: 0,
        }
    }

    fn refused(c: CycleIn, gl: i64) -> String {
        match check(&c, gl) {
            Err(Error::Invalid { field, message }) => format!("{field}: {message}"),
            other => format!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn the_grand_list_in_force_turns_on_october_first() {
        assert_eq!(grand_list_year(date!(2026 - 11 - 26)), 2026);
        assert_eq!(grand_list_year(date!(2026 - 09 - 30)), 2025);
        assert_eq!(grand_list_year(date!(2026 - 10 - 01)), 2026);
    }

    #[test]
    fn states_by_hand() {
        // Last 2021, next 2026: on 2026-09-30 the 2025 list is in force (current); from 2026-10-01 due.
        assert_eq!(
            state_of(2026, grand_list_year(date!(2026 - 09 - 30)), false),
            "current"
        );
        assert_eq!(
            state_of(2026, grand_list_year(date!(2026 - 11 - 26)), false),
            "due"
        );
        // Last 2020, next 2025: on 2026-11-26 overdue unless 2025's list was adopted from a model run.
        assert_eq!(state_of(2025, 2026, false), "overdue");
        assert_eq!(state_of(2025, 2026, true), "current");
    }

    #[test]
    fn a_cycle_is_at_most_five_years() {
        assert_eq!(check(&input(2021, None), 2026).unwrap(), (2021, 2026));
        assert_eq!(check(&input(2021, Some(2025)), 2026).unwrap(), (2021, 2025));
        let long = refused(input(2021, Some(2027)), 2026);
        assert!(
            long.starts_with("next_year: 2027 is more than 5 years")
                && long.contains("CGS 12-62(b)"),
            "{long}"
        );
        assert!(refused(input(2027, None), 2026).starts_with("last_year: 2027 is after"));
        assert!(refused(input(2021, Some(2021)), 2026).starts_with("next_year: 2021 is not after"));
        assert!(refused(input(21, None), 2026).starts_with("last_year: 21 is not"));
    }
}
