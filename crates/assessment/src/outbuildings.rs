//! A parcel's outbuildings and extra features, as Vision's CAMA records them:
//! a detached garage, a shed, a pool, a fireplace… each with its size, year
//! built, condition and contributory value.
//!
//! The contributory values are part of the parcel's building value of record,
//! not added to it: an outbuilding whose value would bring the parcel's
//! outbuildings above `building_cents` is refused, naming `value`. Every
//! change is audited (`outbuilding.add`, `outbuilding.update`,
//! `outbuilding.remove`); edits are guarded by the outbuilding's version.

use munishare_platform::access::ServiceScope;
use munishare_platform::audit;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{Money, Permission, Timestamp};
use munishare_platform::{Error, Result, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::parcels::{self, GRADES, Parcel, change, json, new_id, require};

/// The kinds of outbuilding and extra feature: (code, name).
pub const KINDS: [(&str, &str); 8] = [
    ("garage", "Detached garage"),
    ("shed", "Shed"),
    ("barn", "Barn"),
    ("pool", "Pool"),
    ("deck", "Deck"),
    ("porch", "Porch"),
    ("fireplace", "Fireplace"),
    ("other", "Other"),
];

/// Units a size is measured in: (code, name).
pub const UNITS: [(&str, &str); 2] = [("sqft", "sq ft"), ("units", "units")];

/// The name of a kind code (the code itself when unknown).
pub fn kind_name(code: &str) -> &str {
    KINDS.iter().find(|k| k.0 == code).map_or(code, |k| k.1)
}

/// The name of a unit code.
pub fn unit_name(code: &str) -> &str {
    UNITS.iter().find(|k| k.0 == code).map_or(code, |k| k.1)
}

/// An outbuilding as entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutbuildingData {
    /// One of [`KINDS`]: `garage`, `shed`, `barn`, `pool`, `deck`, `porch`, `fireplace`, `other`.
    pub kind: String,
    /// What it is (up to 200 characters), e.g. `2-car frame garage`.
    pub description: String,
    /// Its size, a whole number of `size_unit`.
    pub size: i64,
    /// `sqft` or `units`.
    pub size_unit: String,
    /// Year built, 0 when not known.
    pub year_built: i64,
    /// Condition grade 1–6 (Low, Fair, Average, Good, Very Good, Excellent).
    pub condition: i64,
    /// Contributory value, cents: part of the parcel's building value.
    pub value_cents: i64,
}

/// A stored outbuilding.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Outbuilding {
    /// Id.
    pub id: String,
    /// The parcel's id.
    pub parcel_id: String,
    /// Kind code.
    pub kind: String,
    /// Description.
    pub description: String,
    /// Size.
    pub size: i64,
    /// `sqft` or `units`.
    pub size_unit: String,
    /// Year built, 0 when not known.
    pub year_built: i64,
    /// Condition grade 1–6.
    pub condition: i64,
    /// Contributory value, cents.
    pub value_cents: i64,
    /// Version, for edits.
    pub version: i64,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl Outbuilding {
    fn data(&self) -> OutbuildingData {
        OutbuildingData {
            kind: self.kind.clone(),
            description: self.description.clone(),
            size: self.size,
            size_unit: self.size_unit.clone(),
            year_built: self.year_built,
            condition: self.condition,
            value_cents: self.value_cents,
        }
    }
}

/// Checks an outbuilding's fields; each error names its field.
fn check(d: &OutbuildingData) -> Result<()> {
    if !KINDS.iter().any(|k| k.0 == d.kind) {
        return Err(Error::invalid(
            "kind",
            format!(
                "use {}",
                KINDS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if d.description.chars().count() > 200 {
        return Err(Error::invalid("description", "longer than 200 characters"));
    }
    if d.description.chars().any(char::is_control) {
        return Err(Error::invalid("description", "contains control characters"));
    }
    if !(0..=10_000_000).contains(&d.size) {
        return Err(Error::invalid(
            "size",
            "use a whole number from 0 to 10,000,000",
        ));
    }
    if !UNITS.iter().any(|u| u.0 == d.size_unit) {
        return Err(Error::invalid("size_unit", "use sqft or units"));
    }
    if d.year_built != 0 && !(1600..=2200).contains(&d.year_built) {
        return Err(Error::invalid(
            "year_built",
            format!("{} is not a plausible year built", d.year_built),
        ));
    }
    if !(1..=6).contains(&d.condition) {
        return Err(Error::invalid(
            "condition",
            format!("use a grade from 1 to 6 ({})", GRADES.join(", ")),
        ));
    }
    if d.value_cents < 0 {
        return Err(Error::invalid("value", "a value is not negative"));
    }
    Ok(())
}

const SELECT: &str = "SELECT id, parcel_id, kind, description, size, size_unit, year_built, condition, value_cents, \
    version, created_at, updated_at FROM assessment_outbuildings WHERE municipality_id = $1";

/// A parcel's outbuildings (by the parcel's id), in the order they were added.
pub async fn of_parcel(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    parcel_id: &str,
) -> Result<Vec<Outbuilding>> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} AND parcel_id = $2 ORDER BY created_at, id");
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(parcel_id).fetch_all(c).await)?,
    )
}

/// A parcel's outbuildings, the parcel named by its id or map-block-lot.
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    parcel: &str,
) -> Result<Vec<Outbuilding>> {
    let p = parcels::get(scope, ex, parcel).await?;
    of_parcel(scope, ex, &p.id).await
}

async fn get(tx: &mut Tx, scope: &ServiceScope, p: &Parcel, id: &str) -> Result<Outbuilding> {
    let sql = format!("{SELECT} AND parcel_id = $2 AND id = $3");
    dispatch!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(&p.id).bind(id).fetch_optional(c).await)?
    .ok_or(Error::NotFound {
        what: "outbuilding",
    })
}

/// Locks the parcel's row (PostgreSQL; SQLite has one writer) so two
/// concurrent changes cannot both pass the value check, then refuses
/// outbuildings worth more in all than the building value of record.
/// `except` is the outbuilding being edited (its old value does not count).
async fn check_total(
    tx: &mut Tx,
    scope: &ServiceScope,
    p: &Parcel,
    except: &str,
    value_cents: i64,
) -> Result<()> {
    let m = scope.municipality_id();
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_parcels SET updated_at = updated_at WHERE municipality_id = $1 AND id = $2")
        .bind(m).bind(&p.id).execute(c).await)?;
    let others: Option<i64> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT CAST(SUM(value_cents) AS BIGINT) FROM assessment_outbuildings \
         WHERE municipality_id = $1 AND parcel_id = $2 AND id <> $3")
        .bind(m).bind(&p.id).bind(except).fetch_one(c).await)?;
    let total = others.unwrap_or(0).saturating_add(value_cents);
    if total > p.building_cents {
        return Err(Error::invalid(
            "value",
            format!(
                "the outbuildings of {} would be worth {} in all, more than its building value of record ({}); \
                 an outbuilding's value is part of the building value",
                p.parcel_key,
                Money::from_cents(total),
                Money::from_cents(p.building_cents)
            ),
        ));
    }
    Ok(())
}

/// Adds an outbuilding to a parcel (Edit permission); audited.
pub async fn add(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    parcel: &str,
    d: &OutbuildingData,
) -> Result<Outbuilding> {
    require(scope, Permission::Edit)?;
    check(d)?;
    let p = parcels::get(scope, tx, parcel).await?;
    let id = new_id();
    check_total(tx, scope, &p, &id, d.value_cents).await?;
    let stamp = now.to_db();
    execute!(tx, c => sqlx::query(
        "INSERT INTO assessment_outbuildings (municipality_id, id, parcel_id, kind, description, size, size_unit, \
         year_built, condition, value_cents, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)")
        .bind(scope.municipality_id()).bind(&id).bind(&p.id).bind(&d.kind).bind(d.description.trim())
        .bind(d.size).bind(&d.size_unit).bind(d.year_built).bind(d.condition).bind(d.value_cents)
        .bind(&stamp).execute(c).await)?;
    let o = get(tx, scope, &p, &id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "outbuilding.add",
            "outbuilding",
            &id,
            None,
            Some(serde_json::json!({"parcel": p.parcel_key, "outbuilding": json(&o.data())?})),
        ),
    )
    .await?;
    Ok(o)
}

/// Changes an outbuilding (Edit permission). `version` is the version the
/// editor saw; an outbuilding changed since is refused. Audited with the
/// fields before and after.
pub async fn update(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    parcel: &str,
    id: &str,
    version: i64,
    d: &OutbuildingData,
) -> Result<Outbuilding> {
    require(scope, Permission::Edit)?;
    let p = parcels::get(scope, tx, parcel).await?;
    let o = get(tx, scope, &p, id).await?;
    check(d)?;
    let stale = || {
        Error::conflict(
            "version",
            format!(
                "the {} of parcel {} was changed by someone else; reload it and try again",
                kind_name(&o.kind).to_lowercase(),
                p.parcel_key
            ),
        )
    };
    if o.version != version {
        return Err(stale());
    }
    let before = o.data();
    if before == *d {
        return Ok(o);
    }
    check_total(tx, scope, &p, &o.id, d.value_cents).await?;
    let n = execute!(tx, c => sqlx::query(
        "UPDATE assessment_outbuildings SET kind = $1, description = $2, size = $3, size_unit = $4, year_built = $5, \
         condition = $6, value_cents = $7, version = version + 1, updated_at = $8 \
         WHERE municipality_id = $9 AND id = $10 AND version = $11")
        .bind(&d.kind).bind(d.description.trim()).bind(d.size).bind(&d.size_unit).bind(d.year_built)
        .bind(d.condition).bind(d.value_cents).bind(now.to_db()).bind(scope.municipality_id())
        .bind(&o.id).bind(version).execute(c).await)?;
    if n != 1 {
        return Err(stale());
    }
    let after = get(tx, scope, &p, &o.id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "outbuilding.update",
            "outbuilding",
            &o.id,
            Some(serde_json::json!({"parcel": p.parcel_key, "version": o.version, "outbuilding": json(&before)?})),
            Some(serde_json::json!({"parcel": p.parcel_key, "version": after.version, "outbuilding": json(&after.data())?})),
        ),
    )
    .await?;
    Ok(after)
}

/// Removes an outbuilding (Edit permission); audited with what it was.
pub async fn remove(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    parcel: &str,
    id: &str,
) -> Result<Outbuilding> {
    require(scope, Permission::Edit)?;
    let p = parcels::get(scope, tx, parcel).await?;
    let o = get(tx, scope, &p, id).await?;
    execute!(tx, c => sqlx::query(
        "DELETE FROM assessment_outbuildings WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(&o.id).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "outbuilding.remove",
            "outbuilding",
            &o.id,
            Some(serde_json::json!({"parcel": p.parcel_key, "version": o.version, "outbuilding": json(&o.data())?})),
            None,
        ),
    )
    .await?;
    Ok(o)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn shed() -> OutbuildingData {
        OutbuildingData {
            kind: "shed".into(),
            description: "8x10 frame shed".into(),
            size: 80,
            size_unit: "sqft".into(),
            year_built: 1995,
            condition: 3,
            value_cents: 250_000,
        }
    }

    fn field(d: OutbuildingData) -> String {
        match check(&d) {
            Err(Error::Invalid { field, .. }) => field,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        assert!(check(&shed()).is_ok());
        assert_eq!(
            field(OutbuildingData {
                kind: "castle".into(),
                ..shed()
            }),
            "kind"
        );
        assert_eq!(field(OutbuildingData { size: -1, ..shed() }), "size");
        assert_eq!(
            field(OutbuildingData {
                size_unit: "acres".into(),
                ..shed()
            }),
            "size_unit"
        );
        assert_eq!(
            field(OutbuildingData {
                year_built: 95,
                ..shed()
            }),
            "year_built"
        );
        assert_eq!(
            field(OutbuildingData {
                condition: 7,
                ..shed()
            }),
            "condition"
        );
        assert_eq!(
            field(OutbuildingData {
                condition: 0,
                ..shed()
            }),
            "condition"
        );
        assert_eq!(
            field(OutbuildingData {
                value_cents: -1,
                ..shed()
            }),
            "value"
        );
        assert_eq!(
            field(OutbuildingData {
                description: "x".repeat(201),
                ..shed()
            }),
            "description"
        );
    }
}
