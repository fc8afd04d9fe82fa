//! Each town's cost schedule: the base rates, depreciation and the land
//! schedules by neighbourhood and by zoning district that cost runs value
//! with (docs/design/0008-model-runs.md). Stored one per town, versioned,
//! every change audited with the schedule before and after; a town that has
//! not stored one uses the illustrative schedule.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::model_runs::check_schedule;
use crate::parcels::{change, json, require};
use crate::valuation::{AcreTier, CostSchedule, LandRate};

/// A town's schedule as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stored {
    /// The schedule.
    #[schema(value_type = Object)]
    pub schedule: CostSchedule,
    /// False while the town uses the illustrative schedule.
    pub stored: bool,
    /// Last changed (empty when not stored).
    pub updated_at: String,
    /// By whom.
    pub updated_by: String,
    /// Version (0 when not stored); send it back to change the schedule.
    pub version: i64,
}

/// The town's schedule, or the illustrative one.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Stored> {
    require(scope, Permission::View)?;
    let row: Option<(String, String, String, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT schedule, updated_at, updated_by, version FROM assessment_cost_schedules WHERE municipality_id = $1")
        .bind(scope.municipality_id()).fetch_optional(c).await)?;
    Ok(match row {
        Some((text, updated_at, updated_by, version)) => Stored {
            schedule: serde_json::from_str(&text)
                .map_err(|e| Error::Internal(format!("stored cost schedule: {e}")))?,
            stored: true,
            updated_at,
            updated_by,
            version,
        },
        None => Stored {
            schedule: CostSchedule::illustrative(),
            stored: false,
            updated_at: String::new(),
            updated_by: String::new(),
            version: 0,
        },
    })
}

/// A change of the schedule.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ScheduleIn {
    /// The version read (0 for a town still on the illustrative schedule).
    pub version: i64,
    /// The whole schedule.
    #[schema(value_type = Object)]
    pub schedule: CostSchedule,
}

/// Replaces the town's schedule (approve permission: it sets values), after
/// checking it; refused if it changed since `version` was read.
pub async fn save(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    input: &ScheduleIn,
) -> Result<Stored> {
    require(scope, Permission::Approve)?;
    check_schedule(&input.schedule)?;
    check_codes(&input.schedule)?;
    let before = get(scope, tx).await?;
    if before.version != input.version {
        return Err(Error::conflict(
            "version",
            "the cost schedule was changed by someone else; reload it and try again",
        ));
    }
    if before.stored && before.schedule == input.schedule {
        return Ok(before);
    }
    let text = serde_json::to_string(&input.schedule)
        .map_err(|e| Error::Internal(format!("cost schedule: {e}")))?;
    let stamp = now.to_db();
    let actor = &scope.actor().label;
    if before.stored {
        execute!(tx, c => sqlx::query(
            "UPDATE assessment_cost_schedules SET schedule = $1, updated_at = $2, updated_by = $3, version = version + 1 \
             WHERE municipality_id = $4 AND version = $5")
            .bind(&text).bind(&stamp).bind(actor).bind(scope.municipality_id()).bind(input.version).execute(c).await)?;
    } else {
        execute!(tx, c => sqlx::query(
            "INSERT INTO assessment_cost_schedules (municipality_id, schedule, updated_at, updated_by, version) \
             VALUES ($1, $2, $3, $4, 1)")
            .bind(scope.municipality_id()).bind(&text).bind(&stamp).bind(actor).execute(c).await)?;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "cost_schedule.update",
            "cost_schedule",
            scope.town().slug.as_str(),
            Some(serde_json::json!({"version": before.version, "stored": before.stored, "schedule": json(&before.schedule)?})),
            Some(serde_json::json!({"version": before.version + 1, "schedule": json(&input.schedule)?})),
        ),
    )
    .await?;
    get(scope, tx).await
}

/// Neighbourhood and zone codes: 1 to 20 characters, no spaces at the ends.
fn check_codes(s: &CostSchedule) -> Result<()> {
    for (field, codes) in [("land", &s.land), ("land_by_zone", &s.land_by_zone)] {
        for code in codes.keys() {
            if code.trim().is_empty() || code.trim() != code || code.chars().count() > 20 {
                return Err(Error::invalid(
                    format!("schedule.{field}"),
                    format!("'{code}' is not a code: 1 to 20 characters, no spaces at the ends"),
                ));
            }
        }
    }
    Ok(())
}

/// One row of the land-schedule table as a form sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LandRow {
    /// `neighbourhood`, `zone` or `default`.
    pub kind: String,
    /// The neighbourhood or zone code (empty for the default).
    pub code: String,
    /// Base lot, square feet.
    pub base_lot_sqft: String,
    /// Site value, whole dollars.
    pub site_value: String,
    /// Acreage tiers: `from_acres:dollars_per_acre`, separated by commas.
    pub tiers: String,
}

fn number(field: &str, row: usize, text: &str) -> Result<f64> {
    let t = text.trim().replace([',', '$'], "");
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(Error::invalid(
            format!("land[{row}].{field}"),
            format!("'{}' is not a number of 0 or more", text.trim()),
        )),
    }
}

/// The land schedules of a table of rows (blank rows skipped), replacing
/// those of `s`; the error names the row (1-based) and the column.
pub fn with_land_rows(s: &CostSchedule, rows: &[LandRow]) -> Result<CostSchedule> {
    let mut land = BTreeMap::new();
    let mut by_zone = BTreeMap::new();
    let mut default = None;
    for (i, r) in rows.iter().enumerate() {
        let n = i + 1;
        if r.code.trim().is_empty()
            && r.base_lot_sqft.trim().is_empty()
            && r.site_value.trim().is_empty()
            && r.tiers.trim().is_empty()
        {
            continue;
        }
        let mut tiers = Vec::new();
        for part in r.tiers.split(';').flat_map(|p| p.split(',')).map(str::trim) {
            if part.is_empty() {
                continue;
            }
            let Some((from, rate)) = part.split_once(':') else {
                return Err(Error::invalid(
                    format!("land[{n}].tiers"),
                    format!("'{part}' is not from_acres:dollars_per_acre, e.g. 0:25000"),
                ));
            };
            tiers.push(AcreTier {
                from_acres: number("tiers", n, from)?,
                rate_per_acre: number("tiers", n, rate)?,
            });
        }
        let rate = LandRate {
            base_lot_sqft: number("base_lot_sqft", n, &r.base_lot_sqft)?,
            site_value: number("site_value", n, &r.site_value)?,
            tiers,
        };
        let code = r.code.trim().to_owned();
        let taken = match r.kind.trim() {
            "neighbourhood" if !code.is_empty() => land.insert(code.clone(), rate).is_some(),
            "zone" if !code.is_empty() => by_zone.insert(code.clone(), rate).is_some(),
            "default" => default.replace(rate).is_some(),
            "neighbourhood" | "zone" => {
                return Err(Error::invalid(
                    format!("land[{n}].code"),
                    "a neighbourhood or zone schedule needs its code",
                ));
            }
            other => {
                return Err(Error::invalid(
                    format!("land[{n}].kind"),
                    format!("'{other}' is not neighbourhood, zone or default"),
                ));
            }
        };
        if taken {
            return Err(Error::invalid(
                format!("land[{n}].code"),
                format!("{} {code} has two rows", r.kind.trim()),
            ));
        }
    }
    Ok(CostSchedule {
        land,
        land_by_zone: by_zone,
        default_land: default.ok_or_else(|| {
            Error::invalid(
                "land",
                "keep one default row: the schedule of land no other row covers",
            )
        })?,
        ..s.clone()
    })
}

/// The land schedules of `s` as table rows: the default first, then by neighbourhood, then by zone.
pub fn land_rows(s: &CostSchedule) -> Vec<LandRow> {
    let row = |kind: &str, code: &str, r: &LandRate| LandRow {
        kind: kind.to_owned(),
        code: code.to_owned(),
        base_lot_sqft: format!("{}", r.base_lot_sqft),
        site_value: format!("{}", r.site_value),
        tiers: r
            .tiers
            .iter()
            .map(|t| format!("{}:{}", t.from_acres, t.rate_per_acre))
            .collect::<Vec<_>>()
            .join(", "),
    };
    std::iter::once(row("default", "", &s.default_land))
        .chain(s.land.iter().map(|(c, r)| row("neighbourhood", c, r)))
        .chain(s.land_by_zone.iter().map(|(c, r)| row("zone", c, r)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn row(kind: &str, code: &str, base: &str, site: &str, tiers: &str) -> LandRow {
        LandRow {
            kind: kind.into(),
            code: code.into(),
            base_lot_sqft: base.into(),
            site_value: site.into(),
            tiers: tiers.into(),
        }
    }

    fn field(r: Result<CostSchedule>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => format!("unexpected {other:?}"),
        }
    }

    #[test]
    fn land_rows_round_trip_and_bad_rows_name_row_and_column() {
        let s = CostSchedule::illustrative();
        let rows = vec![
            row(
                "default",
                "",
                "43560",
                "$120,000",
                "0:25000, 2:12000; 8:6000",
            ),
            row("neighbourhood", "N1", "21780", "200000", "0:40000"),
            row("zone", "R-40", "43560", "90000", ""),
            row("", "", "", "", ""),
        ];
        let t = with_land_rows(&s, &rows).unwrap();
        assert_eq!(t.default_land, s.default_land);
        assert_eq!(t.land["N1"].site_value, 200_000.0);
        assert_eq!(
            t.land["N1"].tiers,
            vec![AcreTier {
                from_acres: 0.0,
                rate_per_acre: 40_000.0
            }]
        );
        assert!(t.land_by_zone["R-40"].tiers.is_empty());
        assert_eq!(t.base_rates, s.base_rates);
        assert_eq!(with_land_rows(&s, &land_rows(&t)).unwrap(), t);

        let mut bad = rows.clone();
        bad[1].site_value = "lots".into();
        assert_eq!(field(with_land_rows(&s, &bad)), "land[2].site_value");
        let mut bad = rows.clone();
        bad[2].tiers = "0-25000".into();
        assert_eq!(field(with_land_rows(&s, &bad)), "land[3].tiers");
        let mut bad = rows.clone();
        bad[2].kind = "district".into();
        assert_eq!(field(with_land_rows(&s, &bad)), "land[3].kind");
        let mut bad = rows.clone();
        bad[2] = row("neighbourhood", "N1", "1", "1", "");
        assert_eq!(field(with_land_rows(&s, &bad)), "land[3].code");
        assert_eq!(field(with_land_rows(&s, &rows[1..])), "land");
    }
}
