//! OPM's real-estate sales file and the regional ratio-study dashboard built
//! on it. OPM publishes every recorded sale of $2,000 or more in each town,
//! with the assessment in force (data.ct.gov "Real Estate Sales 2001–…").
//! That is public data, so it is kept region-wide: a council administrator
//! imports the file, and everyone signed in sees each town's level,
//! uniformity and vertical equity side by side.
//!
//! A sale qualifies for the dashboard when OPM gives it no non-use code
//! (family, foreclosure, part interest, change in property, …), its price
//! is at least $2,000 and its assessment positive; within each town, ratios
//! beyond 3 × IQR of the quartiles (IAAO's extreme outliers) are trimmed
//! before the study. See docs/design/0006-assessment.md.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use munishare_platform::access::CouncilAdmin;
use munishare_platform::db::{self, Executor, Tx};
use munishare_platform::types::{Money, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute, tenancy};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::Date;

use crate::csv_table::Table;
use crate::ratio::{self, Options, Study};

/// The columns the importer needs, as OPM names them.
pub const COLUMNS: [&str; 10] = [
    "Serial Number",
    "List Year",
    "Date Recorded",
    "Town",
    "Address",
    "Assessed Value",
    "Sale Amount",
    "Property Type",
    "Residential Type",
    "Non Use Code",
];

/// One sale as OPM lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmSale {
    /// Town name.
    pub town: String,
    /// Grand-list year (October 1 of that year begins it).
    pub list_year: i64,
    /// OPM's serial number (unique within town and list year).
    pub serial: String,
    /// Date the deed was recorded.
    pub recorded_on: Date,
    /// Street address.
    pub address: String,
    /// Assessment in force, cents.
    pub assessed_cents: i64,
    /// Sale price, cents.
    pub price_cents: i64,
    /// Residential, Commercial, Vacant Land, …
    pub property_type: String,
    /// Single Family, Condo, …
    pub residential_type: String,
    /// Non-use (not arm's-length) code, empty when none.
    pub non_use_code: String,
}

impl OpmSale {
    /// Why the sale does not qualify for a ratio study, if it does not.
    pub fn disqualified(&self) -> Option<&'static str> {
        disqualification(&self.non_use_code, self.price_cents, self.assessed_cents)
    }
}

/// The one qualification rule: no non-use code, a price of at least $2,000,
/// an assessment; the reason when a sale fails it.
fn disqualification(
    non_use_code: &str,
    price_cents: i64,
    assessed_cents: i64,
) -> Option<&'static str> {
    if !non_use_code.is_empty() {
        Some("non-use code")
    } else if price_cents < 200_000 {
        Some("price under $2,000")
    } else if assessed_cents <= 0 {
        Some("no assessment")
    } else {
        None
    }
}

fn recorded(field: &str, s: &str) -> Result<Date> {
    let fmt = time::macros::format_description!("[month]/[day]/[year]");
    Date::parse(s.trim(), &fmt)
        .map_err(|_| Error::invalid(field, format!("'{s}' is not a date (MM/DD/YYYY)")))
}

fn amount(field: &str, s: &str) -> Result<i64> {
    let cents = Money::parse(field, s)?.cents();
    if cents < 0 {
        return Err(Error::invalid(field, format!("'{s}' is negative")));
    }
    Ok(cents)
}

/// Reads an OPM sales CSV, handing each sale to `each`. Errors name the file,
/// the row (the header is row 1) and the column; a row repeated in the file
/// (same town, list year and serial number) is refused, naming both rows.
pub fn read(
    file_name: &str,
    source: impl Read,
    mut each: impl FnMut(OpmSale) -> Result<()>,
) -> Result<u64> {
    let columns: Vec<(&'static str, bool)> = COLUMNS.iter().map(|c| (*c, true)).collect();
    let table = Table::open(file_name, source, &columns, "OPM's sales file")?;
    let mut seen: HashMap<(String, i64, String), u64> = HashMap::new();
    let rows = table.rows(|r| {
        let row = r.number;
        let cell = |k: usize| r.cell(k);
        let place = |k: usize| r.place(k);
        let serial = cell(0).to_owned();
        if serial.is_empty() {
            return Err(Error::invalid(place(0), "the serial number is empty"));
        }
        let list_year: i64 = cell(1)
            .parse()
            .ok()
            .filter(|y| (1900..=2200).contains(y))
            .ok_or_else(|| Error::invalid(place(1), format!("'{}' is not a year", cell(1))))?;
        let town = cell(3).to_owned();
        if town.is_empty() {
            return Err(Error::invalid(place(3), "the town is empty"));
        }
        let sale = OpmSale {
            recorded_on: recorded(&place(2), cell(2))?,
            address: cell(4).to_owned(),
            assessed_cents: amount(&place(5), cell(5))?,
            price_cents: amount(&place(6), cell(6))?,
            property_type: cell(7).to_owned(),
            residential_type: cell(8).to_owned(),
            non_use_code: cell(9).to_owned(),
            town,
            list_year,
            serial,
        };
        let key = (sale.town.clone(), sale.list_year, sale.serial.clone());
        if let Some(first) = seen.insert(key, row) {
            return Err(Error::invalid(
                place(0),
                format!(
                    "{} sale {} of list year {} is also row {first}",
                    sale.town, sale.serial, sale.list_year
                ),
            ));
        }
        each(sale)
    })?;
    if rows == 0 {
        return Err(Error::invalid(file_name, "the file has no sales"));
    }
    Ok(rows)
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// Id.
    pub id: String,
    /// File name.
    pub file_name: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Sales read.
    pub rows: i64,
    /// Sales new to the region's data.
    pub added: i64,
    /// Sales that replaced an earlier copy (OPM republishes corrections).
    pub replaced: i64,
    /// When.
    pub created_at: String,
}

async fn write(tx: &mut Tx, import_id: &str, batch: &[OpmSale]) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut sql = format!(
        "INSERT INTO assessment_opm_sales (town, list_year, serial_number, recorded_on, address, assessed_cents, \
         price_cents, property_type, residential_type, non_use_code, import_id) VALUES {}",
        db::value_rows(batch.len(), 10, 1)
    );
    sql.push_str(
        " ON CONFLICT (town, list_year, serial_number) DO UPDATE SET recorded_on = excluded.recorded_on, \
         address = excluded.address, assessed_cents = excluded.assessed_cents, price_cents = excluded.price_cents, \
         property_type = excluded.property_type, residential_type = excluded.residential_type, \
         non_use_code = excluded.non_use_code, import_id = excluded.import_id",
    );
    execute!(tx, c => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        for s in batch {
            q = q
                .bind(&s.town)
                .bind(s.list_year)
                .bind(&s.serial)
                .bind(munishare_platform::types::format_date(s.recorded_on))
                .bind(&s.address)
                .bind(s.assessed_cents)
                .bind(s.price_cents)
                .bind(&s.property_type)
                .bind(&s.residential_type)
                .bind(&s.non_use_code);
        }
        q.bind(import_id).execute(c).await
    })?;
    Ok(())
}

async fn count(ex: &mut impl Executor) -> Result<i64> {
    Ok(
        dispatch!(ex, c => sqlx::query_scalar("SELECT COUNT(*) FROM assessment_opm_sales").fetch_one(c).await)?,
    )
}

/// Imports an OPM sales file (council administrators): all or nothing, in one
/// transaction; a file imported before (same SHA-256) is refused.
pub async fn import(
    admin: &CouncilAdmin,
    tx: &mut Tx,
    now: Timestamp,
    file_name: &str,
    bytes: &[u8],
) -> Result<ImportSummary> {
    let sha256 = munishare_platform::types::hex(&Sha256::digest(bytes));
    let earlier: Option<(String, String)> = dispatch!(tx, c => sqlx::query_as(
        "SELECT file_name, created_at FROM assessment_opm_imports WHERE sha256 = $1")
        .bind(&sha256).fetch_optional(c).await)?;
    if let Some((name, at)) = earlier {
        return Err(Error::conflict(
            "file",
            format!(
                "this file was imported already, as {name} on {}",
                &at[..10.min(at.len())]
            ),
        ));
    }
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    execute!(tx, c => sqlx::query(
        "INSERT INTO assessment_opm_imports (id, file_name, sha256, rows, added, replaced, created_by, created_at) \
         VALUES ($1, $2, $3, 0, 0, 0, $4, $5)")
        .bind(&id).bind(file_name).bind(&sha256).bind(&admin.actor().label).bind(now.to_db()).execute(c).await)?;
    let before = count(tx).await?;
    // Parse everything first (errors name the row), then write in batches.
    let mut sales = Vec::new();
    let rows = read(file_name, bytes, |s| {
        sales.push(s);
        Ok(())
    })?;
    for chunk in sales.chunks(db::rows_per_statement(10)) {
        write(tx, &id, chunk).await?;
    }
    let added = count(tx).await? - before;
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    let summary = ImportSummary {
        id: id.clone(),
        file_name: file_name.to_owned(),
        sha256,
        rows,
        added,
        replaced: rows - added,
        created_at: now.to_db(),
    };
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_opm_imports SET rows = $1, added = $2, replaced = $3 WHERE id = $4")
        .bind(summary.rows).bind(summary.added).bind(summary.replaced).bind(&id).execute(c).await)?;
    audit::record(
        tx,
        now,
        admin.actor(),
        audit::Change {
            municipality_id: None,
            service: Some(munishare_platform::types::Service::Assessment),
            action: "opm_sales.import",
            entity_type: "opm_sales_import",
            entity_id: id,
            before: None,
            after: Some(
                serde_json::to_value(&summary).map_err(|e| Error::Internal(e.to_string()))?,
            ),
        },
    )
    .await?;
    Ok(summary)
}

/// The list years in the region's OPM data, newest first, with their sales.
pub async fn list_years(ex: &mut impl Executor) -> Result<Vec<(i64, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT list_year, COUNT(*) FROM assessment_opm_sales GROUP BY list_year ORDER BY list_year DESC")
        .fetch_all(c).await)?)
}

/// The property types in a list year, most sales first.
pub async fn property_types(ex: &mut impl Executor, list_year: i64) -> Result<Vec<(String, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT property_type, COUNT(*) AS n FROM assessment_opm_sales WHERE list_year = $1 AND property_type <> '' \
         GROUP BY property_type ORDER BY n DESC, property_type")
        .bind(list_year).fetch_all(c).await)?)
}

/// One town's ratio study on OPM's sales.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TownStudy {
    /// Town name as OPM spells it.
    pub town: String,
    /// The region's slug for it, when the town is a member.
    pub slug: Option<String>,
    /// Sales OPM lists for the town, year and type.
    pub sales: i64,
    /// Sales that qualify (no non-use code, at least $2,000, assessed).
    pub qualified: i64,
    /// Qualified sales trimmed as extreme outliers.
    pub trimmed: i64,
    /// The study of the rest; absent with fewer than 5.
    #[schema(value_type = Option<Object>)]
    pub study: Option<StudyOut>,
}

/// A ratio study's figures, rounded for reading.
#[derive(Debug, Clone, Serialize)]
pub struct StudyOut {
    /// Sales studied.
    pub n: usize,
    /// 30 sales or more.
    pub reliable: bool,
    /// Median ratio.
    pub median_ratio: f64,
    /// Median ratio over 0.70.
    pub level: f64,
    /// COD, percent.
    pub cod: f64,
    /// Its 95 % bootstrap interval.
    pub cod_ci: [f64; 2],
    /// PRD.
    pub prd: f64,
    /// Its 95 % bootstrap interval.
    pub prd_ci: [f64; 2],
    /// PRB.
    pub prb: f64,
    /// Its 95 % interval.
    pub prb_ci: [f64; 2],
    /// Modified Kakwani index.
    pub mki: f64,
    /// Whether the ratios look chased.
    pub chasing: bool,
    /// Within range: level, COD, PRD, PRB, MKI.
    pub met: BTreeMap<&'static str, bool>,
}

fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

pub(crate) fn out(s: &Study) -> StudyOut {
    StudyOut {
        n: s.n,
        reliable: s.reliable,
        median_ratio: round(s.median, 4),
        level: round(s.level, 4),
        cod: round(s.cod, 2),
        cod_ci: [round(s.cod_ci.0, 2), round(s.cod_ci.1, 2)],
        prd: round(s.prd, 3),
        prd_ci: [round(s.prd_ci.0, 3), round(s.prd_ci.1, 3)],
        prb: round(s.prb.value, 4),
        prb_ci: [round(s.prb.lower, 4), round(s.prb.upper, 4)],
        mki: round(s.mki, 3),
        chasing: s.chasing,
        met: BTreeMap::from([
            ("level", s.met.level),
            ("cod", s.met.cod),
            ("prd", s.met.prd),
            ("prb", s.met.prb),
            ("mki", s.met.mki),
        ]),
    }
}

/// The sales whose ratio lies within 3 × IQR of the quartiles (IAAO's
/// extreme outliers are dropped); `pair` gives a sale's (assessed, price).
pub(crate) fn trim<T: Clone>(sales: &[T], pair: impl Fn(&T) -> (f64, f64)) -> Vec<T> {
    let r: Vec<f64> = sales
        .iter()
        .map(|s| {
            let (a, p) = pair(s);
            a / p
        })
        .collect();
    if r.len() < 4 {
        return sales.to_vec();
    }
    sales
        .iter()
        .zip(ratio::iqr_outliers(&r, 3.0))
        .filter(|(_, extreme)| !extreme)
        .map(|(s, _)| s.clone())
        .collect()
}

/// Each town's ratio study for a list year and property type; `members_only`
/// keeps the region's member towns.
pub async fn dashboard(
    ex: &mut impl Executor,
    list_year: i64,
    property_type: &str,
    members_only: bool,
) -> Result<Vec<TownStudy>> {
    let members: HashMap<String, String> = tenancy::list_all(ex)
        .await?
        .into_iter()
        .map(|m| (m.name.to_lowercase(), m.slug.to_string()))
        .collect();
    let rows: Vec<(String, i64, i64, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT town, assessed_cents, price_cents, non_use_code FROM assessment_opm_sales \
         WHERE list_year = $1 AND property_type = $2 ORDER BY town, serial_number")
        .bind(list_year).bind(property_type).fetch_all(c).await)?;
    let mut towns: BTreeMap<String, (i64, Vec<(f64, f64)>)> = BTreeMap::new();
    for (town, assessed, price, non_use) in rows {
        let t = towns.entry(town).or_default();
        t.0 += 1;
        if disqualification(&non_use, price, assessed).is_none() {
            // Cents to dollars for the statistics: exact below 2^53 cents.
            t.1.push((assessed as f64 / 100.0, price as f64 / 100.0));
        }
    }
    let options = Options::default();
    let mut out_rows = Vec::new();
    for (town, (sales, qualified)) in towns {
        let slug = members.get(&town.to_lowercase()).cloned();
        if members_only && slug.is_none() {
            continue;
        }
        let kept = trim(&qualified, |s| *s);
        let (ka, kp): (Vec<f64>, Vec<f64>) = kept.iter().copied().unzip();
        out_rows.push(TownStudy {
            study: ratio::study(&ka, &kp, &options).ok().map(|s| out(&s)),
            town,
            slug,
            sales,
            qualified: i64::try_from(qualified.len()).unwrap_or(i64::MAX),
            trimmed: i64::try_from(qualified.len() - kept.len()).unwrap_or(i64::MAX),
        });
    }
    Ok(out_rows)
}

/// One stratum of a town's study.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stratum {
    /// What the stratum holds, e.g. "Condo" or "$250,000 – $320,000".
    pub label: String,
    /// Sales in it (after trimming).
    pub sales: i64,
    /// Its study; absent with fewer than 5 sales.
    #[schema(value_type = Option<Object>)]
    pub study: Option<StudyOut>,
}

/// A town's study in detail: strata by residential type and by price
/// quartile, and every sale studied as (price, ratio) for the scatter chart.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TownDetail {
    /// The town's whole study.
    pub overall: TownStudy,
    /// By OPM's residential type.
    pub by_residential_type: Vec<Stratum>,
    /// By quarter of the sale prices studied.
    pub by_price_quartile: Vec<Stratum>,
    /// (price in dollars, ratio) of each sale studied.
    pub points: Vec<[f64; 2]>,
    /// Sales left out and why: OPM's non-use code, or the rule they fail; most first.
    pub excluded: Vec<(String, i64)>,
}

fn stratum(label: String, sales: &[Studied]) -> Stratum {
    let (a, p): (Vec<f64>, Vec<f64>) = sales.iter().map(|s| (s.assessed, s.price)).unzip();
    Stratum {
        label,
        sales: i64::try_from(sales.len()).unwrap_or(i64::MAX),
        study: ratio::study(&a, &p, &Options::default())
            .ok()
            .map(|s| out(&s)),
    }
}

/// A qualified sale in a town's detail: the price kept in cents for labels,
/// the two amounts in dollars for the statistics.
#[derive(Debug, Clone)]
struct Studied {
    assessed: f64,
    price: f64,
    price_cents: i64,
    kind: String,
}

/// A sale price for a label: "$76,000", or "$76,000.50" when it has cents.
pub(crate) fn price_label(cents: i64) -> String {
    let text = munishare_platform::types::Money::from_cents(cents).to_string();
    match text.strip_suffix(".00") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// One town's study for a list year and property type, in detail; None when
/// OPM lists no such sale in the town.
pub async fn town_detail(
    ex: &mut impl Executor,
    list_year: i64,
    property_type: &str,
    town: &str,
) -> Result<Option<TownDetail>> {
    let rows: Vec<(String, i64, i64, String, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT town, assessed_cents, price_cents, non_use_code, residential_type FROM assessment_opm_sales \
         WHERE list_year = $1 AND property_type = $2 AND LOWER(town) = LOWER($3) ORDER BY serial_number")
        .bind(list_year).bind(property_type).bind(town.trim()).fetch_all(c).await)?;
    let Some(name) = rows.first().map(|r| r.0.clone()) else {
        return Ok(None);
    };
    let slug = tenancy::list_all(ex)
        .await?
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(&name))
        .map(|m| m.slug.to_string());
    // Why the others were left out: OPM's non-use code itself, or the rule they fail.
    let mut excluded: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        match disqualification(&r.3, r.2, r.1) {
            Some("non-use code") => *excluded.entry(r.3.clone()).or_default() += 1,
            Some(reason) => *excluded.entry(reason.to_owned()).or_default() += 1,
            None => {}
        }
    }
    let mut excluded: Vec<(String, i64)> = excluded.into_iter().collect();
    excluded.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let qualified: Vec<Studied> = rows
        .iter()
        .filter(|r| disqualification(&r.3, r.2, r.1).is_none())
        .map(|r| Studied {
            assessed: r.1 as f64 / 100.0,
            price: r.2 as f64 / 100.0,
            price_cents: r.2,
            kind: if r.4.is_empty() {
                "unspecified".to_owned()
            } else {
                r.4.clone()
            },
        })
        .collect();
    let kept = trim(&qualified, |s| (s.assessed, s.price));
    let mut kinds: BTreeMap<&str, Vec<Studied>> = BTreeMap::new();
    for s in &kept {
        kinds.entry(s.kind.as_str()).or_default().push(s.clone());
    }
    let by_residential_type = kinds
        .into_iter()
        .map(|(k, v)| stratum(k.to_owned(), &v))
        .collect();
    let prices = crate::stats::sorted(&kept.iter().map(|s| s.price).collect::<Vec<_>>());
    let mut by_price_quartile = Vec::new();
    if !prices.is_empty() {
        let q = |p: f64| crate::stats::quantile_sorted(&prices, p);
        let cuts = [f64::NEG_INFINITY, q(0.25), q(0.5), q(0.75), f64::INFINITY];
        for w in cuts.windows(2) {
            let part: Vec<Studied> = kept
                .iter()
                .filter(|s| s.price > w[0] && s.price <= w[1])
                .cloned()
                .collect();
            let lo = part.iter().map(|s| s.price_cents).min();
            let hi = part.iter().map(|s| s.price_cents).max();
            let label = match (lo, hi) {
                (Some(lo), Some(hi)) => format!("{} – {}", price_label(lo), price_label(hi)),
                _ => "no sales".to_owned(),
            };
            by_price_quartile.push(stratum(label, &part));
        }
    }
    let (ka, kp): (Vec<f64>, Vec<f64>) = kept.iter().map(|s| (s.assessed, s.price)).unzip();
    Ok(Some(TownDetail {
        overall: TownStudy {
            study: ratio::study(&ka, &kp, &Options::default())
                .ok()
                .map(|s| out(&s)),
            town: name,
            slug,
            sales: i64::try_from(rows.len()).unwrap_or(i64::MAX),
            qualified: i64::try_from(qualified.len()).unwrap_or(i64::MAX),
            trimmed: i64::try_from(qualified.len() - kept.len()).unwrap_or(i64::MAX),
        },
        by_residential_type,
        by_price_quartile,
        points: kept
            .iter()
            .map(|s| [s.price, s.assessed / s.price])
            .collect(),
        excluded,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const HEAD: &str = "Serial Number,List Year,Date Recorded,Town,Address,Assessed Value,Sale Amount,Sales Ratio,Property Type,Residential Type,Non Use Code,Assessor Remarks,OPM remarks,Location\n";

    fn parse(body: &str) -> Result<Vec<OpmSale>> {
        let mut v = Vec::new();
        read("sales.csv", format!("{HEAD}{body}").as_bytes(), |s| {
            v.push(s);
            Ok(())
        })?;
        Ok(v)
    }

    #[test]
    fn reads_opms_layout_exactly() {
        let v = parse(
            "220008,2022,01/30/2023,Andover,618 ROUTE 6,139020.00,232000.00,0.5992,Residential,Single Family,,,,POINT (-72.3 41.7)\n\
             20200,2020,09/13/2021,Ansonia,1 MAIN ST,150500.00,0.00,0,Commercial,,14 - Foreclosure,,,\n",
        )
        .unwrap();
        assert_eq!(v[0].assessed_cents, 13_902_000);
        assert_eq!(v[0].price_cents, 23_200_000);
        assert_eq!(v[0].recorded_on, time::macros::date!(2023 - 01 - 30));
        assert_eq!(v[0].disqualified(), None);
        assert_eq!(v[1].disqualified(), Some("non-use code"));
    }

    #[test]
    fn bad_rows_are_named_by_row_and_column() {
        let cases = [
            (
                "1,2022,13/45/2023,Andover,A,1.00,5000.00,,Residential,,,,,\n",
                "row 2, column Date Recorded",
            ),
            (
                "1,2022,01/30/2023,Andover,A,1.00,lots,,Residential,,,,,\n",
                "row 2, column Sale Amount",
            ),
            (
                "1,2022,01/30/2023,Andover,A,-5.00,5000.00,,Residential,,,,,\n",
                "row 2, column Assessed Value",
            ),
            (
                "1,20x2,01/30/2023,Andover,A,1.00,5000.00,,Residential,,,,,\n",
                "row 2, column List Year",
            ),
            (
                "1,2022,01/30/2023,Andover,A,1.00,5000.00,,Residential,,,,,\n1,2022,01/31/2023,Andover,B,1.00,6000.00,,Residential,,,,,\n",
                "row 3, column Serial Number",
            ),
        ];
        for (body, place) in cases {
            let e = parse(body).unwrap_err().to_string();
            assert!(e.starts_with(&format!("sales.csv, {place}")), "{e}");
        }
        let e = read("x.csv", "Serial Number,Town\n1,A\n".as_bytes(), |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("row 1, column List Year"), "{e}");
        assert!(parse("").unwrap_err().to_string().contains("no sales"));
    }
}
