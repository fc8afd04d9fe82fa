//! A town's parcel roll: each parcel's land, main building, owner (with
//! history), exemptions by statutory program, and appraised value of record.
//!
//! Parcels arrive from the town's CAMA export as a CSV (`read`, then
//! `import`): the import is one transaction, every error names the file, the
//! row and the column, a file imported before is refused, new parcels are
//! added and changed ones updated (each change audited with the fields before
//! and after), and an owner change is kept in the owner history. One parcel
//! can also be corrected by hand (`update`), guarded by its version.

use std::collections::{BTreeMap, HashMap};

use munishare_platform::access::ServiceScope;
use munishare_platform::audit::{self, Change};
use munishare_platform::db::{self, Executor, SqlBuilder, Tx};
use munishare_platform::types::{Money, Permission, Service, Timestamp};
use munishare_platform::{Error, Result, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::csv_table::Table;
use crate::imports::{self, ImportKind, ImportRecord};

/// Property classes of the grand list abstract.
pub const CLASSES: [&str; 7] = [
    "residential",
    "apartment",
    "commercial",
    "industrial",
    "public_utility",
    "vacant",
    "exempt",
];

/// PA 490 classifications (use-value land, CGS 12-107a ff.); `""` is none.
pub const PA490: [&str; 4] = ["", "farm", "forest", "open_space"];

/// Quality and condition grades, 1 to 6.
pub const GRADES: [&str; 6] = ["Low", "Fair", "Average", "Good", "Very Good", "Excellent"];

/// Exemption programs the roll accepts: (code, statute, what it is).
pub const EXEMPTIONS: [(&str, &str, &str); 5] = [
    ("VET", "CGS 12-81(19)", "Veteran"),
    ("VET-DIS", "CGS 12-81(20)", "Disabled veteran (by rating)"),
    (
        "VET-ADD",
        "CGS 12-81g",
        "Additional veterans' exemption (local option)",
    ),
    ("BLIND", "CGS 12-81(17)", "Blind"),
    ("DISABLED", "CGS 12-81(55)", "Totally disabled"),
];

/// Whether a parcel id is map-block-lot: three parts of 1 to 8 letters,
/// digits or points, joined by `-` or `/` (e.g. `123-4-56`, `12/3/4.1`).
pub fn is_map_block_lot(s: &str) -> bool {
    let parts: Vec<&str> = s.split(['-', '/']).collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 8
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        })
}

/// The name of a grade.
pub fn grade_name(g: i64) -> &'static str {
    usize::try_from(g - 1)
        .ok()
        .and_then(|i| GRADES.get(i))
        .copied()
        .unwrap_or("—")
}

/// A parcel's characteristics and value of record, as imported or edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ParcelData {
    /// Map-block-lot, unique in the town, e.g. `123-4-56`.
    pub parcel_key: String,
    /// Street address.
    pub location: String,
    /// Neighbourhood code.
    pub neighbourhood: String,
    /// Zoning district.
    pub zoning: String,
    /// One of [`CLASSES`].
    pub property_class: String,
    /// The town's land-use code (e.g. 101 one-family).
    pub land_use: String,
    /// Land area, square feet.
    pub land_sqft: i64,
    /// PA 490 classification, one of [`PA490`].
    pub pa490: String,
    /// PA 490 use value, cents (0 unless classified).
    pub pa490_use_cents: i64,
    /// Main building style (empty for land only).
    pub style: String,
    /// Year built (0 for land only).
    pub year_built: i64,
    /// Finished living area, square feet.
    pub living_sqft: i64,
    /// Rooms.
    pub rooms: i64,
    /// Bedrooms.
    pub bedrooms: i64,
    /// Full baths.
    pub full_baths: i64,
    /// Half baths.
    pub half_baths: i64,
    /// Quality grade 1–6 ([`GRADES`]), 0 for land only.
    pub quality: i64,
    /// Condition grade 1–6, 0 for land only.
    pub condition: i64,
    /// Garage spaces.
    pub garage_spaces: i64,
    /// Appraised land value of record (100 %), cents.
    pub land_cents: i64,
    /// Appraised building value of record (100 %), cents.
    pub building_cents: i64,
    /// Owner of record.
    pub owner: String,
    /// Owner's mailing address.
    pub mailing_address: String,
}

/// A stored parcel.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Parcel {
    /// Id.
    pub id: String,
    /// Map-block-lot.
    pub parcel_key: String,
    /// Street address.
    pub location: String,
    /// Neighbourhood code.
    pub neighbourhood: String,
    /// Zoning district.
    pub zoning: String,
    /// Property class.
    pub property_class: String,
    /// Land-use code.
    pub land_use: String,
    /// Land area, square feet.
    pub land_sqft: i64,
    /// PA 490 classification.
    pub pa490: String,
    /// PA 490 use value, cents.
    pub pa490_use_cents: i64,
    /// Building style.
    pub style: String,
    /// Year built.
    pub year_built: i64,
    /// Living area, square feet.
    pub living_sqft: i64,
    /// Rooms.
    pub rooms: i64,
    /// Bedrooms.
    pub bedrooms: i64,
    /// Full baths.
    pub full_baths: i64,
    /// Half baths.
    pub half_baths: i64,
    /// Quality grade 1–6.
    pub quality: i64,
    /// Condition grade 1–6.
    pub condition: i64,
    /// Garage spaces.
    pub garage_spaces: i64,
    /// Appraised land value, cents.
    pub land_cents: i64,
    /// Appraised building value, cents.
    pub building_cents: i64,
    /// Owner of record.
    pub owner: String,
    /// Mailing address.
    pub mailing_address: String,
    /// Version, for edits.
    pub version: i64,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl Parcel {
    /// Appraised value of record (land + building), cents.
    pub fn appraised_cents(&self) -> i64 {
        self.land_cents + self.building_cents
    }

    /// The assessment: 70 % of the appraised value (CGS 12-62a), rounded to
    /// the nearest ten dollars, halves up, as Connecticut CAMA systems round.
    /// PA 490 land is assessed at 70 % of its use value instead.
    pub fn assessed_cents(&self) -> i64 {
        let land = if self.pa490.is_empty() {
            self.land_cents
        } else {
            self.pa490_use_cents
        };
        assessment_of(land + self.building_cents)
    }

    fn data(&self) -> ParcelData {
        ParcelData {
            parcel_key: self.parcel_key.clone(),
            location: self.location.clone(),
            neighbourhood: self.neighbourhood.clone(),
            zoning: self.zoning.clone(),
            property_class: self.property_class.clone(),
            land_use: self.land_use.clone(),
            land_sqft: self.land_sqft,
            pa490: self.pa490.clone(),
            pa490_use_cents: self.pa490_use_cents,
            style: self.style.clone(),
            year_built: self.year_built,
            living_sqft: self.living_sqft,
            rooms: self.rooms,
            bedrooms: self.bedrooms,
            full_baths: self.full_baths,
            half_baths: self.half_baths,
            quality: self.quality,
            condition: self.condition,
            garage_spaces: self.garage_spaces,
            land_cents: self.land_cents,
            building_cents: self.building_cents,
            owner: self.owner.clone(),
            mailing_address: self.mailing_address.clone(),
        }
    }
}

/// 70 % of an appraised value in cents, to the nearest $10 (halves up).
pub fn assessment_of(appraised_cents: i64) -> i64 {
    // 70 % in whole cents first (exact: 7/10 of an integer number of cents,
    // rounded half up), then to the nearest 1,000 cents.
    let seventy = (appraised_cents * 7 + 5).div_euclid(10);
    (seventy + 500).div_euclid(1000) * 1000
}

/// The key a location is matched on: upper case, punctuation dropped, spaces collapsed.
pub fn location_key(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of a parcel file: the parcel and, when the file has the column, its exemptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelRow {
    /// The row (header is row 1).
    pub row: u64,
    /// The parcel.
    pub data: ParcelData,
    /// Exemptions (program, cents), `None` when the file has no exemptions column.
    pub exemptions: Option<Vec<(String, i64)>>,
}

/// The columns of the parcel file; those marked `true` are required.
pub const COLUMNS: [(&str, bool); 24] = [
    ("parcel_id", true),
    ("location", true),
    ("neighbourhood", true),
    ("property_class", true),
    ("land_sqft", true),
    ("land_value", true),
    ("building_value", true),
    ("owner", true),
    ("zoning", false),
    ("land_use", false),
    ("pa490", false),
    ("pa490_use_value", false),
    ("style", false),
    ("year_built", false),
    ("living_sqft", false),
    ("rooms", false),
    ("bedrooms", false),
    ("full_baths", false),
    ("half_baths", false),
    ("quality", false),
    ("condition", false),
    ("garage_spaces", false),
    ("mailing_address", false),
    ("exemptions", false),
];

/// Reads a parcel CSV (columns named in [`COLUMNS`], any order, header names
/// case-insensitive). Every error names the file, row and column; a parcel id
/// repeated in the file names both rows.
pub fn read(file_name: &str, bytes: &[u8]) -> Result<Vec<ParcelRow>> {
    let table = Table::open(file_name, bytes, &COLUMNS, "a parcel file")?;
    let mut out = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    table.rows(|r| {
        let row = r.number;
        let cell = |k: usize| r.cell(k);
        let place = |k: usize| r.place(k);
        let text = |k: usize, max: usize| r.text(k, max);
        let whole = |k: usize, max: i64| -> Result<i64> {
            let v = cell(k).replace(',', "");
            if v.is_empty() {
                return Ok(0);
            }
            v.parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| {
                    Error::invalid(
                        place(k),
                        format!("'{}' is not a whole number from 0 to {max}", cell(k)),
                    )
                })
        };
        let money = |k: usize| -> Result<i64> {
            if cell(k).is_empty() {
                return Ok(0);
            }
            let c = Money::parse(&place(k), cell(k))?.cents();
            if c < 0 {
                return Err(Error::invalid(place(k), "a value is not negative"));
            }
            Ok(c)
        };
        let grade = |k: usize| -> Result<i64> {
            let v = cell(k);
            if v.is_empty() {
                return Ok(0);
            }
            if let Ok(n) = v.parse::<i64>()
                && (1..=6).contains(&n)
            {
                return Ok(n);
            }
            GRADES
                .iter()
                .position(|g| g.eq_ignore_ascii_case(v))
                .map(|i| i as i64 + 1)
                .ok_or_else(|| {
                    Error::invalid(
                        place(k),
                        format!("'{v}' is not a grade: use 1–6 or {}", GRADES.join(", ")),
                    )
                })
        };
        let parcel_key = text(0, 40)?;
        if !is_map_block_lot(&parcel_key) {
            return Err(Error::invalid(
                place(0),
                format!(
                    "'{parcel_key}' is not map-block-lot (e.g. 123-4-56: three parts of letters, digits or points)"
                ),
            ));
        }
        if let Some(first) = seen.insert(parcel_key.clone(), row) {
            return Err(Error::invalid(
                place(0),
                format!("parcel {parcel_key} is also row {first}"),
            ));
        }
        let location = text(1, 200)?;
        if location.is_empty() {
            return Err(Error::invalid(place(1), "the location is empty"));
        }
        let class = cell(3).to_ascii_lowercase().replace([' ', '-'], "_");
        if !CLASSES.contains(&class.as_str()) {
            return Err(Error::invalid(
                place(3),
                format!(
                    "'{}' is not a property class: use {}",
                    cell(3),
                    CLASSES.join(", ")
                ),
            ));
        }
        let pa490 = cell(10).to_ascii_lowercase().replace([' ', '-'], "_");
        if !PA490.contains(&pa490.as_str()) {
            return Err(Error::invalid(
                place(10),
                format!(
                    "'{}' is not a PA 490 class: use farm, forest or open_space, or leave it empty",
                    cell(10)
                ),
            ));
        }
        let owner = text(7, 200)?;
        if owner.is_empty() {
            return Err(Error::invalid(place(7), "the owner is empty"));
        }
        let data = ParcelData {
            parcel_key,
            location,
            neighbourhood: text(2, 20)?,
            zoning: text(8, 20)?,
            property_class: class,
            land_use: text(9, 20)?,
            land_sqft: whole(4, 10_000_000_000)?,
            pa490_use_cents: money(11)?,
            pa490,
            style: text(12, 40)?,
            year_built: whole(13, 2200)?,
            living_sqft: whole(14, 10_000_000)?,
            rooms: whole(15, 1000)?,
            bedrooms: whole(16, 1000)?,
            full_baths: whole(17, 1000)?,
            half_baths: whole(18, 1000)?,
            quality: grade(19)?,
            condition: grade(20)?,
            garage_spaces: whole(21, 1000)?,
            land_cents: money(5)?,
            building_cents: money(6)?,
            owner,
            mailing_address: text(22, 300)?,
        };
        if data.pa490.is_empty() && data.pa490_use_cents != 0 {
            return Err(Error::invalid(
                place(11),
                "a use value needs a PA 490 classification",
            ));
        }
        if data.year_built != 0 && data.year_built < 1600 {
            return Err(Error::invalid(
                place(13),
                format!("{} is not a plausible year built", data.year_built),
            ));
        }
        let exemptions = if r.has(23) {
            Some(exemption_list(&place(23), cell(23))?)
        } else {
            None
        };
        out.push(ParcelRow {
            row,
            data,
            exemptions,
        });
        Ok(())
    })?;
    if out.is_empty() {
        return Err(Error::invalid(file_name, "the file has no parcels"));
    }
    Ok(out)
}

/// Parses `VET:1000;BLIND:3000` (program code : whole dollars or cents).
pub fn exemption_list(field: &str, s: &str) -> Result<Vec<(String, i64)>> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (code, amount) = part.split_once(':').ok_or_else(|| {
            Error::invalid(
                field,
                format!("'{part}' is not PROGRAM:AMOUNT (e.g. VET:1000)"),
            )
        })?;
        let code = code.trim().to_ascii_uppercase();
        if !EXEMPTIONS.iter().any(|e| e.0 == code) {
            return Err(Error::invalid(
                field,
                format!(
                    "'{code}' is not an exemption program: use {}",
                    EXEMPTIONS
                        .iter()
                        .map(|e| e.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let cents = Money::parse(field, amount)?.cents();
        if cents <= 0 {
            return Err(Error::invalid(
                field,
                format!("the {code} amount is not positive"),
            ));
        }
        if out.iter().any(|e| e.0 == code) {
            return Err(Error::invalid(field, format!("{code} is listed twice")));
        }
        out.push((code, cents));
    }
    Ok(out)
}

pub(crate) fn require(scope: &ServiceScope, p: Permission) -> Result<()> {
    if scope.can(p) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "You may not {} property assessment in {}.",
            p.as_str(),
            scope.town().name
        )))
    }
}

pub(crate) fn change(
    scope: &ServiceScope,
    action: &'static str,
    entity_type: &'static str,
    id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Change {
    Change {
        municipality_id: Some(scope.municipality_id().clone()),
        service: Some(Service::Assessment),
        action,
        entity_type,
        entity_id: id.to_owned(),
        before,
        after,
    }
}

pub(crate) fn json(v: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::Internal(format!("serializing: {e}")))
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

const SELECT: &str = "SELECT id, parcel_key, location, neighbourhood, zoning, property_class, land_use, land_sqft, pa490, \
    pa490_use_cents, style, year_built, living_sqft, rooms, bedrooms, full_baths, half_baths, quality, condition, \
    garage_spaces, land_cents, building_cents, owner, mailing_address, version, created_at, updated_at \
    FROM assessment_parcels WHERE municipality_id = $1";

/// Every parcel of the town, by parcel id.
pub async fn all(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Parcel>> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} ORDER BY parcel_key");
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).fetch_all(c).await)?,
    )
}

/// One parcel by its id (the UUID) or its map-block-lot.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<Parcel> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} AND (id = $2 OR parcel_key = $2)");
    dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "parcel" })
}

/// A filter over the roll.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct Filter {
    /// Text in the parcel id, location or owner.
    pub q: Option<String>,
    /// Neighbourhood code.
    pub neighbourhood: Option<String>,
    /// Property class.
    pub property_class: Option<String>,
}

/// Parcels matching a filter, by parcel id, `limit` from `offset`; and how many match.
pub async fn search(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    f: &Filter,
    limit: u32,
    offset: u32,
) -> Result<(Vec<Parcel>, i64)> {
    require(scope, Permission::View)?;
    let build = |head: &'static str| {
        let mut q = SqlBuilder::new(head);
        q.bind(scope.municipality_id().as_str());
        if let Some(t) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            q.push(" AND LOWER(parcel_key || ' ' || location || ' ' || owner) LIKE ")
                .bind(format!("%{}%", t.to_lowercase()));
        }
        if let Some(n) = f.neighbourhood.as_deref().filter(|t| !t.is_empty()) {
            q.push(" AND neighbourhood = ").bind(n);
        }
        if let Some(n) = f.property_class.as_deref().filter(|t| !t.is_empty()) {
            q.push(" AND property_class = ").bind(n);
        }
        q
    };
    let count_q = build("SELECT COUNT(*) FROM assessment_parcels WHERE municipality_id = ");
    let (sql, args) = count_q.build();
    let total: i64 = dispatch!(ex, c => {
        let mut s = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
        for a in args { s = s.bind(a); }
        s.fetch_one(c).await
    })?;
    let mut list_q = build(
        "SELECT id, parcel_key, location, neighbourhood, zoning, property_class, land_use, land_sqft, pa490, \
         pa490_use_cents, style, year_built, living_sqft, rooms, bedrooms, full_baths, half_baths, quality, condition, \
         garage_spaces, land_cents, building_cents, owner, mailing_address, version, created_at, updated_at \
         FROM assessment_parcels WHERE municipality_id = ",
    );
    list_q.push(" ORDER BY parcel_key LIMIT ");
    list_q.push_number(limit);
    list_q.push(" OFFSET ");
    list_q.push_number(offset);
    let (sql, args) = list_q.build();
    let rows: Vec<Parcel> = dispatch!(ex, c => {
        let mut s = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for a in args { s = s.bind(a); }
        s.fetch_all(c).await
    })?;
    Ok((rows, total))
}

/// The neighbourhood codes in use, sorted.
pub async fn neighbourhoods(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<String>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT DISTINCT neighbourhood FROM assessment_parcels WHERE municipality_id = $1 ORDER BY neighbourhood")
        .bind(scope.municipality_id()).fetch_all(c).await)?)
}

/// An owner of record, past or present.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OwnerRecord {
    /// Order (1 is the first known).
    pub seq: i64,
    /// Owner.
    pub owner: String,
    /// Mailing address.
    pub mailing_address: String,
    /// When the roll first showed them.
    pub recorded_at: String,
    /// How: `import`, `edit`.
    pub source: String,
}

/// An exemption on a parcel.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Exemption {
    /// Program code ([`EXEMPTIONS`]).
    pub program: String,
    /// Amount off the assessment, cents.
    pub amount_cents: i64,
}

/// A parcel with its owner history and exemptions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParcelDetail {
    /// The parcel.
    pub parcel: Parcel,
    /// Appraised value (land + building), cents.
    pub appraised_cents: i64,
    /// Assessment (70 %, to the nearest $10), cents.
    pub assessed_cents: i64,
    /// Exemptions, cents in all.
    pub exemptions_cents: i64,
    /// Owners, newest first.
    pub owners: Vec<OwnerRecord>,
    /// Exemptions.
    pub exemptions: Vec<Exemption>,
}

/// A parcel in full.
pub async fn detail(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
) -> Result<ParcelDetail> {
    let parcel = get(scope, ex, id).await?;
    let m = scope.municipality_id();
    let owners: Vec<OwnerRecord> = dispatch!(ex, c => sqlx::query_as(
        "SELECT seq, owner, mailing_address, recorded_at, source FROM assessment_owners \
         WHERE municipality_id = $1 AND parcel_id = $2 ORDER BY seq DESC")
        .bind(m).bind(&parcel.id).fetch_all(c).await)?;
    let exemptions: Vec<Exemption> = dispatch!(ex, c => sqlx::query_as(
        "SELECT program, amount_cents FROM assessment_exemptions WHERE municipality_id = $1 AND parcel_id = $2 ORDER BY program")
        .bind(m).bind(&parcel.id).fetch_all(c).await)?;
    Ok(ParcelDetail {
        appraised_cents: parcel.appraised_cents(),
        assessed_cents: parcel.assessed_cents(),
        exemptions_cents: exemptions.iter().map(|e| e.amount_cents).sum(),
        parcel,
        owners,
        exemptions,
    })
}

const COLS: usize = 26;

async fn insert_parcels(
    tx: &mut Tx,
    scope: &ServiceScope,
    now: &str,
    rows: &[(String, &ParcelData)],
) -> Result<()> {
    for chunk in rows.chunks(db::rows_per_statement(COLS)) {
        let sql = format!(
            "INSERT INTO assessment_parcels (municipality_id, id, parcel_key, location, location_key, neighbourhood, \
             zoning, property_class, land_use, land_sqft, pa490, pa490_use_cents, style, year_built, living_sqft, rooms, \
             bedrooms, full_baths, half_baths, quality, condition, garage_spaces, land_cents, building_cents, owner, \
             mailing_address, version, created_at, updated_at) VALUES {}",
            db::value_rows(chunk.len(), COLS, 3)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (id, d) in chunk {
                q = q.bind(scope.municipality_id()).bind(id).bind(&d.parcel_key).bind(&d.location)
                    .bind(location_key(&d.location)).bind(&d.neighbourhood).bind(&d.zoning).bind(&d.property_class)
                    .bind(&d.land_use).bind(d.land_sqft).bind(&d.pa490).bind(d.pa490_use_cents).bind(&d.style)
                    .bind(d.year_built).bind(d.living_sqft).bind(d.rooms).bind(d.bedrooms).bind(d.full_baths)
                    .bind(d.half_baths).bind(d.quality).bind(d.condition).bind(d.garage_spaces).bind(d.land_cents)
                    .bind(d.building_cents).bind(&d.owner).bind(&d.mailing_address);
            }
            q.bind(1_i64).bind(now).bind(now).execute(c).await
        })?;
    }
    Ok(())
}

async fn insert_owners(
    tx: &mut Tx,
    scope: &ServiceScope,
    now: &str,
    rows: &[(String, i64, &ParcelData)],
    source: &str,
) -> Result<()> {
    for chunk in rows.chunks(db::rows_per_statement(5)) {
        let sql = format!(
            "INSERT INTO assessment_owners (municipality_id, parcel_id, seq, owner, mailing_address, recorded_at, source) VALUES {}",
            db::value_rows(chunk.len(), 5, 2)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (id, seq, d) in chunk {
                q = q.bind(scope.municipality_id()).bind(id).bind(*seq).bind(&d.owner).bind(&d.mailing_address);
            }
            q.bind(now).bind(source).execute(c).await
        })?;
    }
    Ok(())
}

async fn replace_exemptions(
    tx: &mut Tx,
    scope: &ServiceScope,
    parcel_id: &str,
    list: &[(String, i64)],
) -> Result<()> {
    let m = scope.municipality_id();
    execute!(tx, c => sqlx::query("DELETE FROM assessment_exemptions WHERE municipality_id = $1 AND parcel_id = $2")
        .bind(m).bind(parcel_id).execute(c).await)?;
    for (program, cents) in list {
        execute!(tx, c => sqlx::query(
            "INSERT INTO assessment_exemptions (municipality_id, parcel_id, program, amount_cents) VALUES ($1, $2, $3, $4)")
            .bind(m).bind(parcel_id).bind(program).bind(*cents).execute(c).await)?;
    }
    Ok(())
}

async fn exemptions_of(
    tx: &mut Tx,
    scope: &ServiceScope,
) -> Result<HashMap<String, Vec<(String, i64)>>> {
    let rows: Vec<(String, String, i64)> = dispatch!(tx, c => sqlx::query_as(
        "SELECT parcel_id, program, amount_cents FROM assessment_exemptions WHERE municipality_id = $1 ORDER BY program")
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for (p, program, cents) in rows {
        out.entry(p).or_default().push((program, cents));
    }
    Ok(out)
}

/// The fields that differ, as `{field: [before, after]}`.
fn diff(before: &ParcelData, after: &ParcelData) -> Result<BTreeMap<String, serde_json::Value>> {
    let (b, a) = (json(before)?, json(after)?);
    let mut out = BTreeMap::new();
    if let (Some(b), Some(a)) = (b.as_object(), a.as_object()) {
        for (k, av) in a {
            let bv = b.get(k).cloned().unwrap_or(serde_json::Value::Null);
            if &bv != av {
                out.insert(k.clone(), serde_json::json!([bv, av]));
            }
        }
    }
    Ok(out)
}

async fn update_row(
    tx: &mut Tx,
    scope: &ServiceScope,
    now: &str,
    p: &Parcel,
    d: &ParcelData,
) -> Result<()> {
    let n = execute!(tx, c => sqlx::query(
        "UPDATE assessment_parcels SET parcel_key = $3, location = $4, location_key = $5, neighbourhood = $6, zoning = $7, \
         property_class = $8, land_use = $9, land_sqft = $10, pa490 = $11, pa490_use_cents = $12, style = $13, \
         year_built = $14, living_sqft = $15, rooms = $16, bedrooms = $17, full_baths = $18, half_baths = $19, \
         quality = $20, condition = $21, garage_spaces = $22, land_cents = $23, building_cents = $24, owner = $25, \
         mailing_address = $26, version = version + 1, updated_at = $27 \
         WHERE municipality_id = $1 AND id = $2 AND version = $28")
        .bind(scope.municipality_id()).bind(&p.id).bind(&d.parcel_key).bind(&d.location)
        .bind(location_key(&d.location)).bind(&d.neighbourhood).bind(&d.zoning).bind(&d.property_class)
        .bind(&d.land_use).bind(d.land_sqft).bind(&d.pa490).bind(d.pa490_use_cents).bind(&d.style)
        .bind(d.year_built).bind(d.living_sqft).bind(d.rooms).bind(d.bedrooms).bind(d.full_baths)
        .bind(d.half_baths).bind(d.quality).bind(d.condition).bind(d.garage_spaces).bind(d.land_cents)
        .bind(d.building_cents).bind(&d.owner).bind(&d.mailing_address).bind(now).bind(p.version)
        .execute(c).await)?;
    if n != 1 {
        return Err(Error::conflict(
            "version",
            format!(
                "parcel {} was changed by someone else; reload it and try again",
                p.parcel_key
            ),
        ));
    }
    Ok(())
}

/// Imports a parcel file: adds new parcels, updates changed ones (each audited
/// with the fields before and after; an owner change joins the owner
/// history), replaces exemptions when the file lists them. All or nothing.
pub async fn import(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    file: &imports::Stored,
) -> Result<ImportRecord> {
    require(scope, Permission::Edit)?;
    let rows = read(&file.file_name, &file.bytes)?;
    let existing: HashMap<String, Parcel> = all(scope, tx)
        .await?
        .into_iter()
        .map(|p| (p.parcel_key.clone(), p))
        .collect();
    let old_exemptions = exemptions_of(tx, scope).await?;
    let stamp = now.to_db();
    let mut added: Vec<(String, &ParcelData)> = Vec::new();
    let mut owners: Vec<(String, i64, &ParcelData)> = Vec::new();
    let mut changed = 0i64;
    for r in &rows {
        match existing.get(&r.data.parcel_key) {
            None => {
                let id = new_id();
                owners.push((id.clone(), 1, &r.data));
                added.push((id, &r.data));
            }
            Some(p) => {
                let before = p.data();
                let mut fields = diff(&before, &r.data)?;
                let ex_before = old_exemptions.get(&p.id).cloned().unwrap_or_default();
                let ex_changed = r.exemptions.as_ref().is_some_and(|e| *e != ex_before);
                if fields.is_empty() && !ex_changed {
                    continue;
                }
                changed += 1;
                if !fields.is_empty() {
                    update_row(tx, scope, &stamp, p, &r.data).await?;
                    if before.owner != r.data.owner
                        || before.mailing_address != r.data.mailing_address
                    {
                        let seq = next_owner_seq(tx, scope, &p.id).await?;
                        owners.push((p.id.clone(), seq, &r.data));
                    }
                }
                if ex_changed && let Some(list) = &r.exemptions {
                    replace_exemptions(tx, scope, &p.id, list).await?;
                    fields.insert("exemptions".into(), serde_json::json!([ex_before, list]));
                }
                audit::record(
                    tx,
                    now,
                    scope.actor(),
                    change(
                        scope,
                        "parcel.update",
                        "parcel",
                        &p.id,
                        Some(serde_json::json!({"parcel": p.parcel_key, "version": p.version})),
                        Some(serde_json::json!({"changed": fields, "import": file.file_name})),
                    ),
                )
                .await?;
            }
        }
    }
    insert_parcels(tx, scope, &stamp, &added).await?;
    insert_owners(tx, scope, &stamp, &owners, "import").await?;
    let by_key: HashMap<&str, &str> = added
        .iter()
        .map(|(id, d)| (d.parcel_key.as_str(), id.as_str()))
        .collect();
    for r in &rows {
        if let (Some(list), Some(id)) = (&r.exemptions, by_key.get(r.data.parcel_key.as_str()))
            && !list.is_empty()
        {
            replace_exemptions(tx, scope, id, list).await?;
        }
    }
    imports::record(
        scope,
        tx,
        now,
        file,
        ImportKind::Parcels,
        rows.len() as i64,
        added.len() as i64,
        changed,
    )
    .await
}

async fn next_owner_seq(tx: &mut Tx, scope: &ServiceScope, parcel_id: &str) -> Result<i64> {
    let last: Option<i64> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT MAX(seq) FROM assessment_owners WHERE municipality_id = $1 AND parcel_id = $2")
        .bind(scope.municipality_id()).bind(parcel_id).fetch_one(c).await)?;
    Ok(last.unwrap_or(0) + 1)
}

/// Checks a hand-edited parcel the way the importer checks a row.
fn check(d: &ParcelData) -> Result<()> {
    let text = |field: &str, v: &str, max: usize, required: bool| -> Result<()> {
        if required && v.trim().is_empty() {
            return Err(Error::invalid(field, "is empty"));
        }
        if v.chars().count() > max {
            return Err(Error::invalid(
                field,
                format!("longer than {max} characters"),
            ));
        }
        Ok(())
    };
    text("parcel_key", &d.parcel_key, 40, true)?;
    if !is_map_block_lot(&d.parcel_key) {
        return Err(Error::invalid(
            "parcel_key",
            "use map-block-lot, e.g. 123-4-56",
        ));
    }
    text("location", &d.location, 200, true)?;
    text("neighbourhood", &d.neighbourhood, 20, false)?;
    text("zoning", &d.zoning, 20, false)?;
    text("land_use", &d.land_use, 20, false)?;
    text("style", &d.style, 40, false)?;
    text("owner", &d.owner, 200, true)?;
    text("mailing_address", &d.mailing_address, 300, false)?;
    if !CLASSES.contains(&d.property_class.as_str()) {
        return Err(Error::invalid(
            "property_class",
            format!("use {}", CLASSES.join(", ")),
        ));
    }
    if !PA490.contains(&d.pa490.as_str()) {
        return Err(Error::invalid(
            "pa490",
            "use farm, forest, open_space or nothing",
        ));
    }
    for (field, v) in [
        ("land_sqft", d.land_sqft),
        ("living_sqft", d.living_sqft),
        ("rooms", d.rooms),
        ("bedrooms", d.bedrooms),
        ("full_baths", d.full_baths),
        ("half_baths", d.half_baths),
        ("garage_spaces", d.garage_spaces),
        ("land_cents", d.land_cents),
        ("building_cents", d.building_cents),
        ("pa490_use_cents", d.pa490_use_cents),
    ] {
        if v < 0 {
            return Err(Error::invalid(field, "is negative"));
        }
    }
    for (field, v) in [("quality", d.quality), ("condition", d.condition)] {
        if !(0..=6).contains(&v) {
            return Err(Error::invalid(
                field,
                "use a grade from 1 to 6 (0 for land only)",
            ));
        }
    }
    if d.year_built != 0 && !(1600..=2200).contains(&d.year_built) {
        return Err(Error::invalid("year_built", "is not a plausible year"));
    }
    Ok(())
}

/// Corrects one parcel by hand. `version` is the version the editor saw; a
/// parcel changed since is refused. Audited with the fields before and after.
pub async fn update(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    version: i64,
    d: &ParcelData,
) -> Result<Parcel> {
    require(scope, Permission::Edit)?;
    check(d)?;
    let p = get(scope, tx, id).await?;
    if p.version != version {
        return Err(Error::conflict(
            "version",
            format!(
                "parcel {} was changed by someone else; reload it and try again",
                p.parcel_key
            ),
        ));
    }
    if d.parcel_key != p.parcel_key {
        let taken: Option<String> = dispatch!(tx, c => sqlx::query_scalar(
            "SELECT id FROM assessment_parcels WHERE municipality_id = $1 AND parcel_key = $2")
            .bind(scope.municipality_id()).bind(&d.parcel_key).fetch_optional(c).await)?;
        if taken.is_some() {
            return Err(Error::conflict(
                "parcel_key",
                format!("parcel {} already exists", d.parcel_key),
            ));
        }
    }
    let before = p.data();
    let fields = diff(&before, d)?;
    if fields.is_empty() {
        return Ok(p);
    }
    let stamp = now.to_db();
    update_row(tx, scope, &stamp, &p, d).await?;
    if before.owner != d.owner || before.mailing_address != d.mailing_address {
        let seq = next_owner_seq(tx, scope, &p.id).await?;
        insert_owners(tx, scope, &stamp, &[(p.id.clone(), seq, d)], "edit").await?;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "parcel.update",
            "parcel",
            &p.id,
            Some(serde_json::json!({"parcel": p.parcel_key, "version": p.version})),
            Some(serde_json::json!({"changed": fields})),
        ),
    )
    .await?;
    get(scope, tx, &p.id).await
}

/// A parcel's new appraised value, at the version it was valued at.
#[derive(Debug, Clone)]
pub struct Revalue {
    /// Parcel id (UUID).
    pub parcel_id: String,
    /// Map-block-lot (for errors).
    pub parcel_key: String,
    /// The version the value was computed from.
    pub version: i64,
    /// New land value, cents.
    pub land_cents: i64,
    /// New building value, cents.
    pub building_cents: i64,
}

/// What a revaluation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevalueSummary {
    /// Parcels whose land or building changed.
    pub parcels: i64,
    /// Their appraised value before, cents.
    pub before_cents: i64,
    /// After, cents.
    pub after_cents: i64,
}

/// Writes new appraised values into the roll (approve permission): the one
/// way a revaluation (an adopted model run, `source`) changes values. Each
/// parcel is updated only at the version it was valued at, and its version
/// is bumped; a parcel changed since is refused, naming it, and nothing is
/// written. Parcels whose value does not change are left alone. One audit
/// record for the whole revaluation, with the count and the totals before
/// and after (not one per parcel).
pub async fn revalue(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    source: &str,
    source_name: &str,
    values: &[Revalue],
) -> Result<RevalueSummary> {
    require(scope, Permission::Approve)?;
    let current: HashMap<String, Parcel> = all(scope, tx)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let stamp = now.to_db();
    let mut summary = RevalueSummary {
        parcels: 0,
        before_cents: 0,
        after_cents: 0,
    };
    for v in values {
        if v.land_cents < 0 || v.building_cents < 0 {
            return Err(Error::invalid(
                v.parcel_key.clone(),
                "a value is not negative",
            ));
        }
        let p = current
            .get(&v.parcel_id)
            .ok_or(Error::NotFound { what: "parcel" })?;
        let stale = || {
            Error::conflict(
                "version",
                format!(
                    "parcel {} was changed after it was valued; run the model again",
                    v.parcel_key
                ),
            )
        };
        if p.version != v.version {
            return Err(stale());
        }
        if p.land_cents == v.land_cents && p.building_cents == v.building_cents {
            continue;
        }
        let n = execute!(tx, c => sqlx::query(
            "UPDATE assessment_parcels SET land_cents = $1, building_cents = $2, version = version + 1, updated_at = $3 \
             WHERE municipality_id = $4 AND id = $5 AND version = $6")
            .bind(v.land_cents).bind(v.building_cents).bind(&stamp).bind(scope.municipality_id())
            .bind(&v.parcel_id).bind(v.version).execute(c).await)?;
        if n != 1 {
            return Err(stale());
        }
        summary.parcels += 1;
        summary.before_cents += p.appraised_cents();
        summary.after_cents += v.land_cents + v.building_cents;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "parcel.revalue",
            "model_run",
            source,
            Some(serde_json::json!({"appraised_cents": summary.before_cents})),
            Some(serde_json::json!({
                "run": source_name,
                "parcels_valued": values.len(),
                "parcels_changed": summary.parcels,
                "appraised_cents": summary.after_cents,
            })),
        ),
    )
    .await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn assessment_is_seventy_percent_to_the_nearest_ten_dollars() {
        // $250,000 → $175,000 exactly.
        assert_eq!(assessment_of(25_000_000), 17_500_000);
        // $123,456 → $86,419.20 → $86,420.
        assert_eq!(assessment_of(12_345_600), 8_642_000);
        // $100,007 → $70,004.90 → $70,000.
        assert_eq!(assessment_of(10_000_700), 7_000_000);
        // $100,007.15 → $70,005.005 → $70,005.01 → $70,010 (halves up at each step).
        assert_eq!(assessment_of(10_000_715), 7_001_000);
        assert_eq!(assessment_of(0), 0);
    }

    #[test]
    fn locations_match_without_punctuation_or_case() {
        assert_eq!(location_key(" 12  Main St. "), "12 MAIN ST");
        assert_eq!(location_key("12 main st"), location_key("12 MAIN ST."));
    }

    const HEAD: &str = "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner,quality,exemptions,pa490,pa490_use_value\n";

    #[test]
    fn reads_a_parcel_file() {
        let f = format!(
            "{HEAD}1-2-3,12 Main St,N1,Residential,\"10,890\",\"$80,000\",220000.50,Ada Smith,Good,VET:1000;blind:3000,,\n\
             1-2-4,14 Main St,N1,vacant,43560,50000,0,Town Trust,,,forest,1200\n"
        );
        let rows = read("roll.csv", f.as_bytes()).expect("reads");
        assert_eq!(rows.len(), 2);
        let a = &rows[0].data;
        assert_eq!(
            (a.land_sqft, a.land_cents, a.building_cents),
            (10_890, 8_000_000, 22_000_050)
        );
        assert_eq!((a.property_class.as_str(), a.quality), ("residential", 4));
        assert_eq!(
            rows[0].exemptions,
            Some(vec![("VET".into(), 100_000), ("BLIND".into(), 300_000)])
        );
        assert_eq!(
            (rows[1].data.pa490.as_str(), rows[1].data.pa490_use_cents),
            ("forest", 120_000)
        );
    }

    fn err(body: &str) -> String {
        match read("roll.csv", format!("{HEAD}{body}").as_bytes()) {
            Err(Error::Invalid { field, message }) => format!("{field}: {message}"),
            other => format!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn bad_rows_name_the_row_and_column() {
        assert!(
            err("1-1-1,A,N,residential,abc,1,1,O,,,,\n")
                .starts_with("roll.csv, row 2, column land_sqft: 'abc'")
        );
        assert!(
            err("1-1-1,A,N,castle,1,1,1,O,,,,\n")
                .starts_with("roll.csv, row 2, column property_class")
        );
        assert!(
            err("1-1-1,A,N,residential,1,-5,1,O,,,,\n")
                .starts_with("roll.csv, row 2, column land_value")
        );
        assert!(
            err("1-1-1,A,N,residential,1,1,1,O,Superb,,,\n")
                .starts_with("roll.csv, row 2, column quality")
        );
        assert!(
            err("1-1-1,A,N,residential,1,1,1,O,,XYZ:5,,\n")
                .starts_with("roll.csv, row 2, column exemptions: 'XYZ'")
        );
        assert!(
            err("1-1-1,A,N,residential,1,1,1,,,,,\n").starts_with("roll.csv, row 2, column owner")
        );
        assert!(
            err("1-1-1,A,N,residential,1,1,1,O,,,,10\n")
                .starts_with("roll.csv, row 2, column pa490_use_value")
        );
        assert_eq!(
            err("1-1-1,A,N,residential,1,1,1,O,,,,\n1-1-1,B,N,residential,1,1,1,O,,,,\n"),
            "roll.csv, row 3, column parcel_id: parcel 1-1-1 is also row 2"
        );
        assert_eq!(err(""), "roll.csv: the file has no parcels");
        assert!(
            err("1-1,A,N,residential,1,1,1,O,,,,\n")
                .starts_with("roll.csv, row 2, column parcel_id: '1-1' is not map-block-lot")
        );
        match read("roll.csv", b"parcel_id,location\n1-1-1,A\n") {
            Err(Error::Invalid { field, .. }) => {
                assert_eq!(field, "roll.csv, row 1, column neighbourhood")
            }
            other => unreachable!("{other:?}"),
        }
    }
}
