//! A town's recorded sales: imported from OPM's layout or a generic CSV,
//! validated by rules, overridden by an analyst with a note, and studied.
//!
//! Validation follows IAAO's Standard on Verification and Adjustment of
//! Sales: a sale is flagged when its source gives a non-use code (family,
//! foreclosure, part interest, change in property, …), its deed type is not
//! an arm's-length conveyance, its price is nominal, grantor and grantee share
//! a surname, it conveyed several parcels at once, or its price per square
//! foot lies outside 1.5 × IQR of its stratum (neighbourhood and class, or
//! the class town-wide when the neighbourhood has fewer than 10 sales). The
//! flags are recomputed after each import; an analyst's decision (qualified
//! or not, with a required note) overrides them and is audited. Only
//! qualified sales feed ratio studies and models.

use std::collections::{BTreeMap, HashMap};

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{self, Executor, Tx};
use munishare_platform::types::{Money, Permission, Timestamp, format_date, parse_date};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::csv_table::Table;
use crate::imports::{self, ImportKind, ImportRecord, Stored};
use crate::opm::{self, StudyOut};
use crate::parcels::{self, Parcel, change, location_key, new_id, require};
use crate::ratio::{self, Options};

/// A sale read from a file, its parcel resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleIn {
    /// Row in the file (header is row 1).
    pub row: u64,
    /// The parcel's id.
    pub parcel_id: String,
    /// Deed date (OPM: date recorded).
    pub date: Date,
    /// Price, cents (more than zero).
    pub price_cents: i64,
    /// Seller.
    pub grantor: String,
    /// Buyer.
    pub grantee: String,
    /// Deed type (warranty, quitclaim, executor's, …).
    pub deed_type: String,
    /// Book/page, OPM serial, or the town's reference.
    pub reference: String,
    /// The source's non-use code, empty when none.
    pub non_use_code: String,
}

/// The generic sales layout: (column, required).
pub const CSV_COLUMNS: [(&str, bool); 8] = [
    ("parcel_id", true),
    ("sale_date", true),
    ("price", true),
    ("grantor", false),
    ("grantee", false),
    ("deed_type", false),
    ("reference", false),
    ("non_use_code", false),
];

fn sale_date(place: &str, s: &str, today: Date) -> Result<Date> {
    let s = s.trim();
    let d = parse_date(place, s).or_else(|_| {
        let fmt = time::macros::format_description!("[month]/[day]/[year]");
        Date::parse(s, &fmt).map_err(|_| {
            Error::invalid(
                place,
                format!("'{s}' is not a date (YYYY-MM-DD or MM/DD/YYYY)"),
            )
        })
    })?;
    if d > today {
        return Err(Error::invalid(place, format!("{d} is in the future")));
    }
    if d.year() < 1900 {
        return Err(Error::invalid(place, format!("{d} is before 1900")));
    }
    Ok(d)
}

fn price(place: &str, s: &str) -> Result<i64> {
    let cents = Money::parse(place, s)?.cents();
    if cents <= 0 {
        return Err(Error::invalid(
            place,
            format!("the price {} is not more than zero", s.trim()),
        ));
    }
    Ok(cents)
}

/// Refuses a sale repeated in the file (same parcel, date and price), naming both rows.
fn no_repeats(file_name: &str, rows: &[SaleIn], column: &str) -> Result<()> {
    let mut seen: HashMap<(&str, Date, i64), u64> = HashMap::new();
    for s in rows {
        if let Some(first) = seen.insert((s.parcel_id.as_str(), s.date, s.price_cents), s.row) {
            return Err(Error::invalid(
                format!("{file_name}, row {}, column {column}", s.row),
                format!("the same sale (parcel, date and price) is also row {first}"),
            ));
        }
    }
    Ok(())
}

/// Reads the generic layout ([`CSV_COLUMNS`]); parcels are named by map-block-lot.
pub fn read_csv(
    file_name: &str,
    bytes: &[u8],
    parcels: &HashMap<String, String>,
    today: Date,
) -> Result<Vec<SaleIn>> {
    let table = Table::open(file_name, bytes, &CSV_COLUMNS, "a sales file")?;
    let mut out = Vec::new();
    table.rows(|r| {
        let row = r.number;
        let cell = |k: usize| r.cell(k);
        let place = |k: usize| r.place(k);
        let text = |k: usize, max: usize| r.text(k, max);
        let key = cell(0);
        let parcel_id = parcels.get(key).cloned().ok_or_else(|| {
            Error::invalid(
                place(0),
                if key.is_empty() {
                    "the parcel id is empty".to_owned()
                } else {
                    format!("there is no parcel {key} in the roll; import the parcel first")
                },
            )
        })?;
        out.push(SaleIn {
            row,
            parcel_id,
            date: sale_date(&place(1), cell(1), today)?,
            price_cents: price(&place(2), cell(2))?,
            grantor: text(3, 200)?,
            grantee: text(4, 200)?,
            deed_type: text(5, 60)?,
            reference: text(6, 60)?,
            non_use_code: text(7, 80)?,
        });
        Ok(())
    })?;
    if out.is_empty() {
        return Err(Error::invalid(file_name, "the file has no sales"));
    }
    no_repeats(file_name, &out, "parcel_id")?;
    Ok(out)
}

/// Reads OPM's layout for one town: every row must be the town's, and each
/// address must match one parcel's location (case and punctuation ignored).
pub fn read_opm(
    file_name: &str,
    bytes: &[u8],
    town: &str,
    locations: &HashMap<String, Vec<String>>,
    today: Date,
) -> Result<Vec<SaleIn>> {
    let mut out = Vec::new();
    let mut row = 1u64;
    opm::read(file_name, bytes, |s| {
        row += 1;
        let place = |column: &str| format!("{file_name}, row {row}, column {column}");
        if !s.town.eq_ignore_ascii_case(town) {
            return Err(Error::invalid(
                place("Town"),
                format!(
                    "'{}' is not {town}; import each town's sales in its own file",
                    s.town
                ),
            ));
        }
        let parcel_id = match locations.get(&location_key(&s.address)).map(Vec::as_slice) {
            Some([one]) => one.clone(),
            Some(_) => {
                return Err(Error::invalid(
                    place("Address"),
                    format!(
                        "several parcels are at '{}'; use the generic layout with parcel ids",
                        s.address
                    ),
                ));
            }
            None => {
                return Err(Error::invalid(
                    place("Address"),
                    format!("no parcel in the roll is at '{}'", s.address),
                ));
            }
        };
        if s.price_cents <= 0 {
            return Err(Error::invalid(
                place("Sale Amount"),
                "the price is not more than zero",
            ));
        }
        if s.recorded_on > today {
            return Err(Error::invalid(
                place("Date Recorded"),
                format!("{} is in the future", s.recorded_on),
            ));
        }
        out.push(SaleIn {
            row,
            parcel_id,
            date: s.recorded_on,
            price_cents: s.price_cents,
            grantor: String::new(),
            grantee: String::new(),
            deed_type: String::new(),
            reference: format!("OPM {} {}", s.list_year, s.serial),
            non_use_code: s.non_use_code,
        });
        Ok(())
    })?;
    no_repeats(file_name, &out, "Address")?;
    Ok(out)
}

/// A validation rule a sale can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flag {
    /// The source gave a non-use code.
    NonUse,
    /// The deed type is not an arm's-length conveyance.
    Deed,
    /// Under $2,000.
    Nominal,
    /// Grantor and grantee share a surname.
    Family,
    /// One deed conveyed several parcels.
    MultiParcel,
    /// Price per square foot outside 1.5 × IQR of its stratum.
    Outlier,
}

impl Flag {
    /// Every flag.
    pub const ALL: [Flag; 6] = [
        Flag::NonUse,
        Flag::Deed,
        Flag::Nominal,
        Flag::Family,
        Flag::MultiParcel,
        Flag::Outlier,
    ];

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::NonUse => "non_use",
            Flag::Deed => "deed",
            Flag::Nominal => "nominal",
            Flag::Family => "family",
            Flag::MultiParcel => "multi_parcel",
            Flag::Outlier => "outlier",
        }
    }

    /// What it means, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Flag::NonUse => "non-use code from the source",
            Flag::Deed => "deed type not arm's-length",
            Flag::Nominal => "nominal price (under $2,000)",
            Flag::Family => "grantor and grantee share a surname",
            Flag::MultiParcel => "several parcels on one deed",
            Flag::Outlier => "price per sq ft outside 1.5 × IQR of its stratum",
        }
    }

    fn parse(s: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Deed types that do not convey at arm's length (matched on lower case).
const NON_MARKET_DEEDS: [&str; 9] = [
    "quit",
    "executor",
    "administrator",
    "fiduciary",
    "foreclos",
    "tax",
    "sheriff",
    "conservator",
    "committee",
];

/// Words that are not surnames.
const NOT_SURNAMES: [&str; 12] = [
    "LLC", "INC", "TRUST", "TRUSTEE", "ESTATE", "ETAL", "ET", "AL", "JR", "SR", "CORP", "BANK",
];

fn surnames(name: &str) -> Vec<String> {
    // "SMITH JOHN & MARY" and "John Smith" both name SMITH; take every word
    // of three letters or more that is not a legal form.
    name.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.len() >= 3)
        .map(str::to_uppercase)
        .filter(|w| !NOT_SURNAMES.contains(&w.as_str()) && w != "AND" && w != "THE")
        .collect()
}

/// What a rule needs to know about a sale.
#[derive(Debug, Clone)]
pub struct ToValidate {
    /// The parcel.
    pub parcel_id: String,
    /// Stratum: neighbourhood.
    pub neighbourhood: String,
    /// Stratum: property class.
    pub property_class: String,
    /// Living area (or land area when there is no building), square feet.
    pub area_sqft: i64,
    /// Date.
    pub date: Date,
    /// Price, cents.
    pub price_cents: i64,
    /// Seller.
    pub grantor: String,
    /// Buyer.
    pub grantee: String,
    /// Deed type.
    pub deed_type: String,
    /// Reference (book/page).
    pub reference: String,
    /// Non-use code.
    pub non_use_code: String,
}

/// The flags of each sale (same order as given).
pub fn validate(sales: &[ToValidate]) -> Vec<Vec<Flag>> {
    let mut flags: Vec<Vec<Flag>> = sales
        .iter()
        .map(|s| {
            let mut f = Vec::new();
            if !s.non_use_code.trim().is_empty() {
                f.push(Flag::NonUse);
            }
            let deed = s.deed_type.to_lowercase();
            if NON_MARKET_DEEDS.iter().any(|d| deed.contains(d)) {
                f.push(Flag::Deed);
            }
            if s.price_cents < 200_000 {
                f.push(Flag::Nominal);
            }
            let (a, b) = (surnames(&s.grantor), surnames(&s.grantee));
            if a.iter().any(|w| b.contains(w)) {
                f.push(Flag::Family);
            }
            f
        })
        .collect();
    // Several parcels on one deed: the same date and reference, or the same
    // date, price and buyer, on more than one parcel.
    let mut deeds: HashMap<(Date, String), Vec<usize>> = HashMap::new();
    for (i, s) in sales.iter().enumerate() {
        if !s.reference.trim().is_empty() {
            deeds
                .entry((s.date, format!("ref:{}", s.reference.trim())))
                .or_default()
                .push(i);
        }
        if !s.grantee.trim().is_empty() {
            deeds
                .entry((
                    s.date,
                    format!(
                        "buyer:{}:{}",
                        s.price_cents,
                        s.grantee.trim().to_uppercase()
                    ),
                ))
                .or_default()
                .push(i);
        }
    }
    for group in deeds.values() {
        let mut parcels: Vec<&str> = group.iter().map(|&i| sales[i].parcel_id.as_str()).collect();
        parcels.sort_unstable();
        parcels.dedup();
        if parcels.len() > 1 {
            for &i in group {
                if !flags[i].contains(&Flag::MultiParcel) {
                    flags[i].push(Flag::MultiParcel);
                }
            }
        }
    }
    // Price outliers within stratum, among the sales no other rule flags.
    let clean: Vec<usize> = (0..sales.len())
        .filter(|&i| flags[i].is_empty() && sales[i].area_sqft > 0)
        .collect();
    let mut by_stratum: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in &clean {
        let s = &sales[i];
        by_stratum
            .entry((s.neighbourhood.as_str(), s.property_class.as_str()))
            .or_default()
            .push(i);
        by_class
            .entry(s.property_class.as_str())
            .or_default()
            .push(i);
    }
    let ppsf = |i: usize| (sales[i].price_cents as f64 / sales[i].area_sqft as f64).ln();
    let fences = |group: &[usize]| -> Option<(f64, f64)> {
        if group.len() < 10 {
            return None;
        }
        let v = crate::stats::sorted(&group.iter().map(|&i| ppsf(i)).collect::<Vec<_>>());
        let (q1, q3) = (
            crate::stats::quantile_sorted(&v, 0.25),
            crate::stats::quantile_sorted(&v, 0.75),
        );
        let iqr = q3 - q1;
        Some((q1 - 1.5 * iqr, q3 + 1.5 * iqr))
    };
    let class_fences: HashMap<&str, Option<(f64, f64)>> =
        by_class.iter().map(|(k, g)| (*k, fences(g))).collect();
    for ((_, class), group) in &by_stratum {
        let f = fences(group).or_else(|| class_fences.get(class).copied().flatten());
        if let Some((lo, hi)) = f {
            for &i in group {
                let x = ppsf(i);
                if x < lo || x > hi {
                    flags[i].push(Flag::Outlier);
                }
            }
        }
    }
    for f in &mut flags {
        f.sort();
    }
    flags
}

/// A stored sale with its parcel's identity, flags and decision.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Sale {
    /// Id.
    pub id: String,
    /// Parcel id (UUID).
    pub parcel_id: String,
    /// Map-block-lot.
    pub parcel_key: String,
    /// Location.
    pub location: String,
    /// Neighbourhood.
    pub neighbourhood: String,
    /// Property class.
    pub property_class: String,
    /// Deed date.
    pub sale_date: String,
    /// Price, cents.
    pub price_cents: i64,
    /// Seller.
    pub grantor: String,
    /// Buyer.
    pub grantee: String,
    /// Deed type.
    pub deed_type: String,
    /// Reference.
    pub reference: String,
    /// Non-use code.
    pub non_use_code: String,
    /// Rules it fails, comma-separated.
    pub flags: String,
    /// Analyst's decision: empty, `qualified` or `unqualified`.
    pub decision: String,
    /// The decision's note.
    pub decision_note: String,
    /// Who decided.
    pub decided_by: String,
    /// When.
    pub decided_at: String,
    /// Whether it feeds studies and models.
    #[sqlx(skip)]
    pub qualified: bool,
}

impl Sale {
    fn settle(mut self) -> Self {
        self.qualified = match self.decision.as_str() {
            "qualified" => true,
            "unqualified" => false,
            _ => self.flags.is_empty(),
        };
        self
    }

    /// The flags, described.
    pub fn flag_list(&self) -> Vec<&'static str> {
        self.flags
            .split(',')
            .filter_map(Flag::parse)
            .map(Flag::describe)
            .collect()
    }
}

const SELECT: &str = "SELECT s.id, s.parcel_id, p.parcel_key, p.location, p.neighbourhood, p.property_class, s.sale_date, \
    s.price_cents, s.grantor, s.grantee, s.deed_type, s.reference, s.non_use_code, s.flags, s.decision, s.decision_note, \
    s.decided_by, s.decided_at FROM assessment_sales s \
    JOIN assessment_parcels p ON p.municipality_id = s.municipality_id AND p.id = s.parcel_id \
    WHERE s.municipality_id = $1";

/// Every sale of the town, newest first.
pub async fn all(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Sale>> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} ORDER BY s.sale_date DESC, p.parcel_key");
    let rows: Vec<Sale> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).fetch_all(c).await)?;
    Ok(rows.into_iter().map(Sale::settle).collect())
}

/// One sale.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<Sale> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} AND s.id = $2");
    let s: Option<Sale> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?;
    s.map(Sale::settle).ok_or(Error::NotFound { what: "sale" })
}

/// The sales of one parcel, newest first.
pub async fn of_parcel(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    parcel_id: &str,
) -> Result<Vec<Sale>> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} AND s.parcel_id = $2 ORDER BY s.sale_date DESC");
    let rows: Vec<Sale> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(parcel_id).fetch_all(c).await)?;
    Ok(rows.into_iter().map(Sale::settle).collect())
}

/// A stored sale as the rules read it.
#[derive(Debug, sqlx::FromRow)]
struct StoredSale {
    id: String,
    parcel_id: String,
    neighbourhood: String,
    property_class: String,
    living_sqft: i64,
    land_sqft: i64,
    sale_date: String,
    price_cents: i64,
    grantor: String,
    grantee: String,
    deed_type: String,
    reference: String,
    non_use_code: String,
    flags: String,
}

/// Recomputes every sale's flags in the town; writes only those that changed.
async fn revalidate(scope: &ServiceScope, tx: &mut Tx) -> Result<()> {
    let rows: Vec<StoredSale> = dispatch!(tx, c => sqlx::query_as(
        "SELECT s.id, s.parcel_id, p.neighbourhood, p.property_class, p.living_sqft, p.land_sqft, s.sale_date, \
         s.price_cents, s.grantor, s.grantee, s.deed_type, s.reference, s.non_use_code, s.flags \
         FROM assessment_sales s JOIN assessment_parcels p ON p.municipality_id = s.municipality_id AND p.id = s.parcel_id \
         WHERE s.municipality_id = $1 ORDER BY s.id")
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    let input: Vec<ToValidate> = rows
        .iter()
        .map(|r| {
            Ok(ToValidate {
                parcel_id: r.parcel_id.clone(),
                neighbourhood: r.neighbourhood.clone(),
                property_class: r.property_class.clone(),
                area_sqft: if r.living_sqft > 0 {
                    r.living_sqft
                } else {
                    r.land_sqft
                },
                date: parse_date("sale_date", &r.sale_date)?,
                price_cents: r.price_cents,
                grantor: r.grantor.clone(),
                grantee: r.grantee.clone(),
                deed_type: r.deed_type.clone(),
                reference: r.reference.clone(),
                non_use_code: r.non_use_code.clone(),
            })
        })
        .collect::<Result<_>>()?;
    let flags = validate(&input);
    for (r, f) in rows.iter().zip(flags) {
        let text = f.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",");
        if text != r.flags {
            execute!(tx, c => sqlx::query("UPDATE assessment_sales SET flags = $1 WHERE municipality_id = $2 AND id = $3")
                .bind(&text).bind(scope.municipality_id()).bind(&r.id).execute(c).await)?;
        }
    }
    Ok(())
}

/// The sales layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// OPM's real-estate sales layout (addresses matched to parcels).
    Opm,
    /// The generic layout ([`CSV_COLUMNS`]).
    Csv,
}

/// Imports a sales file. All or nothing; a sale already recorded (same
/// parcel, date and price) is skipped and counted; the flags of every sale in
/// the town are recomputed afterwards.
pub async fn import(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    today: Date,
    layout: Layout,
    file: &Stored,
) -> Result<ImportRecord> {
    require(scope, Permission::Edit)?;
    let roll = parcels::all(scope, tx).await?;
    let rows = match layout {
        Layout::Csv => {
            let by_key: HashMap<String, String> = roll
                .iter()
                .map(|p| (p.parcel_key.clone(), p.id.clone()))
                .collect();
            read_csv(&file.file_name, &file.bytes, &by_key, today)?
        }
        Layout::Opm => {
            let mut by_location: HashMap<String, Vec<String>> = HashMap::new();
            for p in &roll {
                by_location
                    .entry(location_key(&p.location))
                    .or_default()
                    .push(p.id.clone());
            }
            read_opm(
                &file.file_name,
                &file.bytes,
                &scope.town().name,
                &by_location,
                today,
            )?
        }
    };
    let held: Vec<(String, String, i64)> = dispatch!(tx, c => sqlx::query_as(
        "SELECT parcel_id, sale_date, price_cents FROM assessment_sales WHERE municipality_id = $1")
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    let held: std::collections::HashSet<(String, String, i64)> = held.into_iter().collect();
    let import_id_placeholder = new_id();
    let fresh: Vec<&SaleIn> = rows
        .iter()
        .filter(|s| !held.contains(&(s.parcel_id.clone(), format_date(s.date), s.price_cents)))
        .collect();
    let stamp = now.to_db();
    for chunk in fresh.chunks(db::rows_per_statement(10)) {
        // flags, decision, decision_note, decided_by and decided_at start empty (revalidate sets them).
        let sql = format!(
            "INSERT INTO assessment_sales (municipality_id, id, parcel_id, sale_date, price_cents, grantor, grantee, deed_type, \
             reference, non_use_code, import_id, created_at, flags, decision, decision_note, decided_by, decided_at) VALUES {}",
            db::value_rows(chunk.len(), 10, 7)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for s in chunk {
                q = q.bind(scope.municipality_id()).bind(new_id()).bind(&s.parcel_id).bind(format_date(s.date))
                    .bind(s.price_cents).bind(&s.grantor).bind(&s.grantee).bind(&s.deed_type).bind(&s.reference)
                    .bind(&s.non_use_code);
            }
            q.bind(&import_id_placeholder).bind(&stamp).bind("").bind("").bind("").bind("").bind("").execute(c).await
        })?;
    }
    revalidate(scope, tx).await?;
    let kind = match layout {
        Layout::Opm => ImportKind::SalesOpm,
        Layout::Csv => ImportKind::SalesCsv,
    };
    let rec = imports::record(
        scope,
        tx,
        now,
        file,
        kind,
        rows.len() as i64,
        fresh.len() as i64,
        0,
    )
    .await?;
    execute!(tx, c => sqlx::query("UPDATE assessment_sales SET import_id = $1 WHERE municipality_id = $2 AND import_id = $3")
        .bind(&rec.id).bind(scope.municipality_id()).bind(&import_id_placeholder).execute(c).await)?;
    Ok(rec)
}

/// An analyst's decision on a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Use it, whatever the rules say.
    Qualified,
    /// Leave it out, whatever the rules say.
    Unqualified,
    /// Withdraw the decision: the rules decide again.
    Rules,
}

impl Decision {
    /// Parses `qualified`, `unqualified` or `rules`.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        match s {
            "qualified" => Ok(Decision::Qualified),
            "unqualified" => Ok(Decision::Unqualified),
            "rules" => Ok(Decision::Rules),
            _ => Err(Error::invalid(field, "use qualified, unqualified or rules")),
        }
    }
}

/// Records an analyst's decision on a sale. The note is required (at least
/// 10 characters: why); audited with the decision before and after.
pub async fn decide(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    decision: Decision,
    note: &str,
) -> Result<Sale> {
    require(scope, Permission::Edit)?;
    let note = note.trim();
    if note.chars().count() < 10 || note.chars().count() > 1000 {
        return Err(Error::invalid(
            "note",
            "say why, in 10 to 1,000 characters (the note is kept with the decision)",
        ));
    }
    let before = get(scope, tx, id).await?;
    let (value, by, at) = match decision {
        Decision::Qualified => ("qualified", scope.actor().label.clone(), now.to_db()),
        Decision::Unqualified => ("unqualified", scope.actor().label.clone(), now.to_db()),
        Decision::Rules => ("", scope.actor().label.clone(), now.to_db()),
    };
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_sales SET decision = $1, decision_note = $2, decided_by = $3, decided_at = $4 \
         WHERE municipality_id = $5 AND id = $6")
        .bind(value).bind(note).bind(&by).bind(&at).bind(scope.municipality_id()).bind(id).execute(c).await)?;
    let after = get(scope, tx, id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "sale.decide",
            "sale",
            id,
            Some(serde_json::json!({"decision": before.decision, "note": before.decision_note, "qualified": before.qualified, "flags": before.flags})),
            Some(serde_json::json!({"decision": after.decision, "note": after.decision_note, "qualified": after.qualified})),
        ),
    )
    .await?;
    Ok(after)
}

/// How to stratify a town's ratio study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StratumBy {
    /// Neighbourhood code.
    Neighbourhood,
    /// Property class.
    PropertyClass,
    /// Building style.
    Style,
    /// Quarters of the appraised values (IAAO stratifies by appraised, not sale, value).
    ValueRange,
}

impl StratumBy {
    /// Parses the query value.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        match s {
            "neighbourhood" => Ok(StratumBy::Neighbourhood),
            "property_class" => Ok(StratumBy::PropertyClass),
            "style" => Ok(StratumBy::Style),
            "value_range" => Ok(StratumBy::ValueRange),
            _ => Err(Error::invalid(
                field,
                "use neighbourhood, property_class, style or value_range",
            )),
        }
    }
}

/// A town's ratio study on its own qualified sales.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TownRatioStudy {
    /// Sales in the period.
    pub sales: i64,
    /// Of them qualified.
    pub qualified: i64,
    /// Qualified sales trimmed as extreme ratio outliers (3 × IQR).
    pub trimmed: i64,
    /// The study of the rest; absent with fewer than 5 sales.
    #[schema(value_type = Option<Object>)]
    pub overall: Option<StudyOut>,
    /// Why there is no study, when there is none.
    pub no_study: Option<String>,
    /// By the chosen stratum.
    pub strata: Vec<opm::Stratum>,
}

#[derive(Debug, Clone)]
struct Pair {
    assessed: f64,
    price: f64,
    appraised_cents: i64,
    key: String,
}

fn stratum(label: String, part: &[Pair]) -> opm::Stratum {
    let (a, p): (Vec<f64>, Vec<f64>) = part.iter().map(|s| (s.assessed, s.price)).unzip();
    opm::Stratum {
        label,
        sales: part.len() as i64,
        study: ratio::study(&a, &p, &Options::default())
            .ok()
            .map(|s| opm::out(&s)),
    }
}

/// The ratio study of the town's qualified sales dated `from`–`to`
/// (inclusive, either open), each against its parcel's current assessment,
/// overall and by `by`.
pub async fn ratio_study(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    from: Option<Date>,
    to: Option<Date>,
    by: StratumBy,
) -> Result<TownRatioStudy> {
    let sales = all(scope, ex).await?;
    let roll: HashMap<String, Parcel> = parcels::all(scope, ex)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let in_period: Vec<&Sale> = sales
        .iter()
        .filter(|s| {
            let d = parse_date("sale_date", &s.sale_date).ok();
            from.is_none_or(|f| d.is_some_and(|d| d >= f))
                && to.is_none_or(|t| d.is_some_and(|d| d <= t))
        })
        .collect();
    let qualified: Vec<Pair> = in_period
        .iter()
        .filter(|s| s.qualified)
        .filter_map(|s| {
            let p = roll.get(&s.parcel_id)?;
            let assessed = p.assessed_cents();
            (assessed > 0).then(|| Pair {
                assessed: assessed as f64 / 100.0,
                price: s.price_cents as f64 / 100.0,
                appraised_cents: p.appraised_cents(),
                key: match by {
                    StratumBy::Neighbourhood => p.neighbourhood.clone(),
                    StratumBy::PropertyClass => p.property_class.clone(),
                    StratumBy::Style => {
                        if p.style.is_empty() {
                            "(no building)".to_owned()
                        } else {
                            p.style.clone()
                        }
                    }
                    StratumBy::ValueRange => String::new(),
                },
            })
        })
        .collect();
    let kept = opm::trim(&qualified, |s| (s.assessed, s.price));
    let (a, p): (Vec<f64>, Vec<f64>) = kept.iter().map(|s| (s.assessed, s.price)).unzip();
    let (overall, no_study) = match ratio::study(&a, &p, &Options::default()) {
        Ok(s) => (Some(opm::out(&s)), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let strata = match by {
        StratumBy::ValueRange => {
            let mut values: Vec<i64> = kept.iter().map(|s| s.appraised_cents).collect();
            values.sort_unstable();
            let mut out = Vec::new();
            if !values.is_empty() {
                let v: Vec<f64> = values.iter().map(|c| *c as f64).collect();
                let q = |x: f64| crate::stats::quantile_sorted(&v, x);
                let cuts = [f64::NEG_INFINITY, q(0.25), q(0.5), q(0.75), f64::INFINITY];
                for w in cuts.windows(2) {
                    let part: Vec<Pair> = kept
                        .iter()
                        .filter(|s| {
                            (s.appraised_cents as f64) > w[0] && (s.appraised_cents as f64) <= w[1]
                        })
                        .cloned()
                        .collect();
                    let lo = part.iter().map(|s| s.appraised_cents).min();
                    let hi = part.iter().map(|s| s.appraised_cents).max();
                    let label = match (lo, hi) {
                        (Some(lo), Some(hi)) => format!(
                            "appraised {} – {}",
                            opm::price_label(lo),
                            opm::price_label(hi)
                        ),
                        _ => "no sales".to_owned(),
                    };
                    out.push(stratum(label, &part));
                }
            }
            out
        }
        _ => {
            let mut groups: BTreeMap<&str, Vec<Pair>> = BTreeMap::new();
            for s in &kept {
                groups.entry(s.key.as_str()).or_default().push(s.clone());
            }
            groups
                .into_iter()
                .map(|(k, v)| stratum(k.to_owned(), &v))
                .collect()
        }
    };
    Ok(TownRatioStudy {
        sales: in_period.len() as i64,
        qualified: qualified.len() as i64,
        trimmed: (qualified.len() - kept.len()) as i64,
        overall,
        no_study,
        strata,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    fn sale(parcel: &str, nb: &str, area: i64, price_dollars: i64) -> ToValidate {
        ToValidate {
            parcel_id: parcel.into(),
            neighbourhood: nb.into(),
            property_class: "residential".into(),
            area_sqft: area,
            date: date!(2024 - 05 - 01),
            price_cents: price_dollars * 100,
            grantor: String::new(),
            grantee: String::new(),
            deed_type: "Warranty".into(),
            reference: String::new(),
            non_use_code: String::new(),
        }
    }

    #[test]
    fn each_rule_flags_what_it_names() {
        let mut v = vec![
            sale("a", "N1", 1000, 200_000),
            sale("b", "N1", 1000, 1_500),
            sale("c", "N1", 1000, 200_000),
            sale("d", "N1", 1000, 200_000),
            sale("e", "N1", 1000, 200_000),
            sale("f", "N1", 1000, 200_000),
        ];
        v[2].non_use_code = "14 - Foreclosure".into();
        v[3].deed_type = "Quitclaim".into();
        v[4].grantor = "SMITH JOHN".into();
        v[4].grantee = "Mary Smith".into();
        // Two parcels on one deed (same date and book/page).
        v[5].reference = "B1234/P56".into();
        v.push(ToValidate {
            reference: "B1234/P56".into(),
            ..sale("g", "N1", 1000, 200_000)
        });
        let f = validate(&v);
        assert_eq!(f[0], vec![]);
        assert_eq!(f[1], vec![Flag::Nominal]);
        assert_eq!(f[2], vec![Flag::NonUse]);
        assert_eq!(f[3], vec![Flag::Deed]);
        assert_eq!(f[4], vec![Flag::Family]);
        assert_eq!(f[5], vec![Flag::MultiParcel]);
        assert_eq!(f[6], vec![Flag::MultiParcel]);
        // A company and a person with no common name are not family.
        let mut w = sale("h", "N1", 1000, 200_000);
        w.grantor = "ACME HOLDINGS LLC".into();
        w.grantee = "Jane Doe".into();
        assert_eq!(validate(&[w])[0], vec![]);
    }

    #[test]
    fn outliers_are_judged_within_the_stratum() {
        // Twelve sales at $200–$255 per sq ft in N1 plus one at $600 and one
        // at $100: the type-7 quartiles of ln(price/sqft) put the fences at
        // $170.4 and $302.1 per sq ft (computed separately), so both extremes
        // are outliers. N2's market is $580–$635 (fences $554.8–$664.9):
        // its sales are not outliers there, though they would be in N1.
        let mut v: Vec<ToValidate> = (0..12)
            .map(|i| sale(&format!("n1-{i}"), "N1", 1000, 200_000 + i * 5_000))
            .collect();
        v.push(sale("n1-hi", "N1", 1000, 600_000));
        v.push(sale("n1-lo", "N1", 1000, 100_000));
        v.extend((0..12).map(|i| sale(&format!("n2-{i}"), "N2", 1000, 580_000 + i * 5_000)));
        let f = validate(&v);
        let outliers: Vec<&str> = v
            .iter()
            .zip(&f)
            .filter(|(_, f)| f.contains(&Flag::Outlier))
            .map(|(s, _)| s.parcel_id.as_str())
            .collect();
        assert_eq!(outliers, vec!["n1-hi", "n1-lo"]);
    }

    #[test]
    fn a_thin_neighbourhood_falls_back_to_the_class() {
        // N3 has three sales, too few for its own fences; the fences of the
        // class town-wide (15 sales: $184.7–$285.5 per sq ft, computed
        // separately) catch the $900 one.
        let mut v: Vec<ToValidate> = (0..12)
            .map(|i| sale(&format!("n1-{i}"), "N1", 1000, 200_000 + i * 5_000))
            .collect();
        v.push(sale("n3-a", "N3", 1000, 230_000));
        v.push(sale("n3-b", "N3", 1000, 240_000));
        v.push(sale("n3-c", "N3", 1000, 900_000));
        let f = validate(&v);
        assert_eq!(f[12], vec![]);
        assert_eq!(f[13], vec![]);
        assert_eq!(f[14], vec![Flag::Outlier]);
    }

    #[test]
    fn generic_file_errors_name_row_and_column() {
        let parcels: HashMap<String, String> = [("1-2-3".to_owned(), "p1".to_owned())].into();
        let today = date!(2026 - 11 - 26);
        let err = |body: &str| match read_csv(
            "s.csv",
            format!("parcel_id,sale_date,price\n{body}").as_bytes(),
            &parcels,
            today,
        ) {
            Err(Error::Invalid { field, message }) => format!("{field}: {message}"),
            other => format!("unexpected {other:?}"),
        };
        assert_eq!(
            err("1-2-3,2024-02-30,100000\n"),
            "s.csv, row 2, column sale_date: '2024-02-30' is not a date (YYYY-MM-DD or MM/DD/YYYY)"
        );
        assert_eq!(
            err("1-2-3,2027-01-01,100000\n"),
            "s.csv, row 2, column sale_date: 2027-01-01 is in the future"
        );
        assert_eq!(
            err("1-2-3,2024-01-01,0\n"),
            "s.csv, row 2, column price: the price 0 is not more than zero"
        );
        assert_eq!(
            err("1-2-3,2024-01-01,-5\n"),
            "s.csv, row 2, column price: the price -5 is not more than zero"
        );
        assert_eq!(
            err("1-2-3,2024-01-01,12k\n"),
            "s.csv, row 2, column price: '12k' is not an amount of money"
        );
        assert_eq!(
            err("9-9-9,2024-01-01,100000\n"),
            "s.csv, row 2, column parcel_id: there is no parcel 9-9-9 in the roll; import the parcel first"
        );
        assert_eq!(
            err("1-2-3,2024-01-01,100000\n1-2-3,01/01/2024,\"100,000\"\n"),
            "s.csv, row 3, column parcel_id: the same sale (parcel, date and price) is also row 2"
        );
        let ok = read_csv(
            "s.csv",
            b"parcel_id,sale_date,price\n1-2-3,03/15/2024,\"$350,000\"\n",
            &parcels,
            today,
        )
        .expect("reads");
        assert_eq!(
            (ok[0].date, ok[0].price_cents),
            (date!(2024 - 03 - 15), 35_000_000)
        );
    }
}
