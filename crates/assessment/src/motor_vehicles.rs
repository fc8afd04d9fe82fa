//! Motor vehicles, the grand list's third part
//! (docs/design/0011-personal-property-motor-vehicles.md).
//!
//! The Department of Motor Vehicles gives each town the vehicles registered
//! there on October 1; the assessor prices each at 70 % of its average retail
//! value (CGS 12-71, 12-62a). This module reads such a file — one row per
//! vehicle: `vin, plate, model_year, make, model, owner, mailing_address,
//! retail_value` — atomically: every error names the file, row and column,
//! and a file is imported once. An import replaces the year's vehicles while
//! that grand list is open. The account of a vehicle is `MV-` and the last
//! nine characters of its VIN (the check digit, model year, plant and serial).

use std::collections::HashMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{self, Executor, Tx};
use munishare_platform::types::{Money, Permission, Timestamp};
use munishare_platform::{Error, Result, dispatch, execute};
use serde::Serialize;

use crate::csv_table::Table;
use crate::grand_list;
use crate::imports::{self, ImportKind, ImportRecord, Stored};
use crate::parcels::require;
use crate::personal_property::assess;

/// The motor-vehicle mill rate may not exceed 32.46 mills for the assessment
/// year commencing October 1, 2021 and after (CGS 12-71e(a)(3)).
pub const MV_MILL_RATE_CAP: &str = "32.46";

/// A vehicle on a grand list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Vehicle {
    /// The grand list.
    pub list_year: i64,
    /// Vehicle identification number.
    pub vin: String,
    /// Registration plate.
    pub plate: String,
    /// Model year.
    pub model_year: i64,
    /// Make.
    pub make: String,
    /// Model.
    pub model: String,
    /// Registered owner.
    pub owner: String,
    /// Mailing address.
    pub mailing_address: String,
    /// Average retail value, cents.
    pub retail_cents: i64,
    /// 70 % of it, whole dollars, cents.
    pub assessed_cents: i64,
}

impl Vehicle {
    /// The vehicle's grand-list account.
    pub fn account(&self) -> String {
        account(&self.vin)
    }
}

/// `MV-` and the VIN's last nine characters.
pub fn account(vin: &str) -> String {
    let tail: String = vin
        .chars()
        .rev()
        .take(9)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("MV-{tail}")
}

const COLUMNS: [&str; 8] = [
    "vin",
    "plate",
    "model_year",
    "make",
    "model",
    "owner",
    "mailing_address",
    "retail_value",
];

/// A VIN since model year 1981 is 17 letters and digits without I, O or Q.
pub(crate) fn valid_vin(vin: &str, model_year: i64) -> bool {
    let allowed =
        |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !matches!(c, 'I' | 'O' | 'Q'));
    if model_year >= 1981 {
        vin.len() == 17 && vin.chars().all(allowed)
    } else {
        (5..=17).contains(&vin.len()) && vin.chars().all(|c| c.is_ascii_alphanumeric())
    }
}

/// Reads a DMV file; every error names the file, row and column.
pub fn read(file_name: &str, bytes: &[u8], list_year: i64) -> Result<Vec<Vehicle>> {
    Ok(read_rows(file_name, bytes, list_year, list_year + 1, &[])?
        .into_iter()
        .map(|r| r.vehicle)
        .collect())
}

/// One vehicle of a DMV file with its row and the cells of the further
/// columns asked for (empty when an optional column is absent).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The file's row (the header is row 1).
    pub row: u64,
    /// The vehicle.
    pub vehicle: Vehicle,
    /// The further columns' cells, trimmed, in the order asked.
    pub extra: Vec<String>,
}

/// Reads a DMV file with further columns (`(name, required)`) after the
/// October file's eight; model years run to `max_model_year`.
pub(crate) fn read_rows(
    file_name: &str,
    bytes: &[u8],
    list_year: i64,
    max_model_year: i64,
    extra: &[(&'static str, bool)],
) -> Result<Vec<Row>> {
    let columns: Vec<(&'static str, bool)> = COLUMNS
        .iter()
        .map(|c| (*c, true))
        .chain(extra.iter().copied())
        .collect();
    let table = Table::open(file_name, bytes, &columns, "a motor-vehicle file")?;
    let mut out = Vec::new();
    let mut seen: HashMap<String, (u64, String)> = HashMap::new();
    table.rows(|r| {
        let row = r.number;
        let cell = |k: usize| r.cell(k);
        let place = |k: usize| r.place(k);
        let text = |k: usize, max: usize, required: bool| -> Result<String> {
            if required && cell(k).is_empty() {
                return Err(Error::invalid(place(k), "is empty"));
            }
            r.text(k, max)
        };
        let model_year = cell(2)
            .parse::<i64>()
            .ok()
            .filter(|y| (1900..=max_model_year).contains(y))
            .ok_or_else(|| {
                Error::invalid(
                    place(2),
                    format!(
                        "'{}' is not a model year from 1900 to {max_model_year}",
                        cell(2),
                    ),
                )
            })?;
        let vin = cell(0).to_ascii_uppercase();
        if !valid_vin(&vin, model_year) {
            return Err(Error::invalid(
                place(0),
                format!(
                    "'{}' is not a VIN (17 letters and digits, no I, O or Q, from model year 1981)",
                    cell(0)
                ),
            ));
        }
        let retail = Money::parse(&place(7), cell(7))?.cents();
        if retail < 0 || retail % 100 != 0 {
            return Err(Error::invalid(
                place(7),
                "a retail value is whole dollars, not negative",
            ));
        }
        let acct = account(&vin);
        if let Some((first, other)) = seen.get(&acct) {
            return Err(Error::invalid(
                place(0),
                if *other == vin {
                    format!("VIN {vin} is also on row {first}")
                } else {
                    format!(
                        "VINs {other} (row {first}) and {vin} end alike; their accounts would both be {acct}"
                    )
                },
            ));
        }
        seen.insert(acct, (row, vin.clone()));
        let vehicle = Vehicle {
            list_year,
            plate: text(1, 10, false)?.to_ascii_uppercase(),
            model_year,
            make: text(3, 30, true)?.to_ascii_uppercase(),
            model: text(4, 30, true)?.to_ascii_uppercase(),
            owner: text(5, 120, true)?,
            mailing_address: text(6, 200, false)?,
            retail_cents: retail,
            assessed_cents: assess(retail),
            vin,
        };
        let extra = (COLUMNS.len()..columns.len())
            .map(|k| cell(k).to_owned())
            .collect();
        out.push(Row {
            row,
            vehicle,
            extra,
        });
        Ok(())
    })?;
    if out.is_empty() {
        return Err(Error::invalid(
            file_name.to_owned(),
            "the file has no vehicles",
        ));
    }
    Ok(out)
}

/// Imports the DMV file of a grand list, replacing the year's vehicles.
pub async fn import(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    file: &Stored,
) -> Result<ImportRecord> {
    require(scope, Permission::Edit)?;
    if grand_list::is_signed(scope, tx, list_year).await? {
        return Err(Error::conflict(
            "list_year",
            format!(
                "the {list_year} grand list is signed; it changes only by certificates of correction"
            ),
        ));
    }
    let vehicles = read(&file.file_name, &file.bytes, list_year)?;
    let m = scope.municipality_id();
    let before: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM assessment_motor_vehicles WHERE municipality_id = $1 AND list_year = $2")
        .bind(m).bind(list_year).fetch_one(c).await)?;
    execute!(tx, c => sqlx::query("DELETE FROM assessment_motor_vehicles WHERE municipality_id = $1 AND list_year = $2")
        .bind(m).bind(list_year).execute(c).await)?;
    let rec = imports::record(
        scope,
        tx,
        now,
        file,
        ImportKind::MotorVehicles,
        vehicles.len() as i64,
        vehicles.len() as i64,
        before,
    )
    .await?;
    const COLS: usize = 9;
    for chunk in vehicles.chunks(db::rows_per_statement(COLS)) {
        let sql = format!(
            "INSERT INTO assessment_motor_vehicles (vin, plate, model_year, make, model, owner, mailing_address, retail_cents, \
             assessed_cents, municipality_id, list_year, import_id) VALUES {}",
            db::value_rows(chunk.len(), COLS, 3)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for v in chunk {
                q = q.bind(&v.vin).bind(&v.plate).bind(v.model_year).bind(&v.make).bind(&v.model).bind(&v.owner)
                    .bind(&v.mailing_address).bind(v.retail_cents).bind(v.assessed_cents);
            }
            q.bind(m).bind(list_year).bind(&rec.id).execute(c).await
        })?;
    }
    Ok(rec)
}

/// The vehicles of a grand list, by VIN.
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<Vec<Vehicle>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT list_year, vin, plate, model_year, make, model, owner, mailing_address, retail_cents, assessed_cents \
         FROM assessment_motor_vehicles WHERE municipality_id = $1 AND list_year = $2 ORDER BY vin")
        .bind(scope.municipality_id()).bind(list_year).fetch_all(c).await)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_dmv_file_reads_with_errors_by_row_and_column() {
        let good = "vin,plate,model_year,make,model,owner,mailing_address,retail_value\n\
                    1HGCV1F34LA012345,AB12345,2020,Honda,Accord,Ada Byron,\"1 Main St, Hartford\",\"23,450\"\n";
        let v = read("dmv.csv", good.as_bytes(), 2025).unwrap();
        // $23,450 × 0.7 = $16,415.
        assert_eq!(
            (v[0].assessed_cents, v[0].account()),
            (1_641_500, "MV-4LA012345".to_owned())
        );
        for (bad, place) in [
            (
                good.replace("1HGCV1F34LA012345", "1HGCV1F34LA01234O"),
                "row 2, column vin",
            ),
            (good.replace("2020", "2031"), "row 2, column model_year"),
            (
                good.replace("\"23,450\"", "-5"),
                "row 2, column retail_value",
            ),
            (good.replace(",Ada Byron,", ",,"), "row 2, column owner"),
            (
                good.replace("retail_value", "value"),
                "row 1, column retail_value",
            ),
            (
                format!("{good}1HGCV1F34LA012345,X,2020,Honda,Accord,B,,100\n"),
                "row 3, column vin",
            ),
        ] {
            let e = read("dmv.csv", bad.as_bytes(), 2025)
                .unwrap_err()
                .to_string();
            assert!(e.contains(place), "{place}: {e}");
        }
    }
}
