//! The supplemental motor-vehicle list (CGS 12-71b;
//! docs/design/0011-personal-property-motor-vehicles.md).
//!
//! A vehicle not registered on October 1 but registered after it and before
//! August 1 of the next year is taxed in January after the assessment year
//! ends, for part of the year: the tax it would have paid on the October 1
//! list × the months from the first of its month of registration to the next
//! October 1 ÷ 12 (a vehicle registered in October, after the first, pays
//! twelve months; in November eleven; in July three). It is taxed at the
//! list's motor-vehicle mill rate. A vehicle that replaces one on the regular
//! list (the plate transferred) is credited with the replaced vehicle's
//! assessment for the same months (CGS 12-71b(b)), so the owner does not pay
//! twice for the months after the change.
//!
//! The DMV's supplemental file is the October file's eight columns plus
//! `registered_on` (YYYY-MM-DD) and, optionally, `replaces_vin`. It is read
//! atomically, errors naming the file, row and column, and the same file is
//! imported once. The supplemental list of a year is taken (after the regular
//! list is signed and its mill rate set) and signed on its own; its bills
//! are due January 1 after the assessment year, payable without interest
//! until February 1; its levy posts through the ledger's service once.

use std::collections::HashMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::blob::BlobStore;
use munishare_platform::db::{self, Db, Executor, Tx};
use munishare_platform::jobs::{self, JobContext, Registry};
use munishare_platform::types::{
    Money, MunicipalityId, Permission, Timestamp, format_date, parse_date,
};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::{Date, Month, Weekday};

use crate::grand_list::{self, Due, GrandList, LevyIn};
use crate::imports::{self, ImportKind, ImportRecord, Stored};
use crate::job_user::{self, Acting};
use crate::motor_vehicles;
use crate::parcels::{change, json, require};

/// A vehicle of the DMV's supplemental file.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SupplementalVehicle {
    /// The grand list (assessment year) it belongs to.
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
    /// When it was registered, `YYYY-MM-DD`.
    pub registered_on: String,
    /// The VIN of the vehicle on the regular list it replaces (empty: none).
    pub replaces_vin: String,
}

/// A supplemental list (the default, with an empty status: not taken yet).
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SupplementalList {
    /// The list year.
    pub list_year: i64,
    /// `draft` or `signed`.
    pub status: String,
    /// When it was (last) taken.
    pub taken_at: String,
    /// By whom.
    pub taken_by: String,
    /// When the assessor signed it.
    pub signed_at: String,
    /// By whom.
    pub signed_by: String,
    /// The motor-vehicle mill rate it is taxed at (the regular list's, when taken).
    pub mv_mill_rate: String,
    /// The ledger entry of the posted supplemental levy (empty until posted).
    pub levy_entry_id: String,
    /// The bulk bill run: empty (none yet), `queued`, `running`, `done` or `failed`.
    pub bills_status: String,
    /// Why the last run failed.
    pub bills_error: String,
    /// Where the last run's PDF is kept.
    pub bills_blob_key: String,
    /// Bills in it.
    pub bills_count: i64,
    /// When it was made.
    pub bills_made_at: String,
}

/// One account of a supplemental list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SupplementalItem {
    /// Account, `MV-` and the VIN's last nine characters.
    pub account: String,
    /// VIN.
    pub vin: String,
    /// Plate.
    pub plate: String,
    /// Year, make and model.
    pub description: String,
    /// Registered owner.
    pub owner: String,
    /// Mailing address.
    pub mailing_address: String,
    /// When it was registered, `YYYY-MM-DD`.
    pub registered_on: String,
    /// Months taxed: from the first of the month of registration to the next October 1.
    pub months: i64,
    /// The vehicle's assessment (70 % of average retail value), cents.
    pub gross_cents: i64,
    /// The replaced vehicle's account on the regular list (empty: none).
    pub replaces_account: String,
    /// Its assessment, credited (never above the gross), cents.
    pub credit_cents: i64,
    /// Gross − credit, cents.
    pub net_cents: i64,
    /// Net × mill rate ÷ 1,000 × months ÷ 12, half up to the cent.
    pub tax_cents: i64,
}

impl SupplementalItem {
    /// The prorated assessment, for showing: net × months ÷ 12 to the whole
    /// dollar. The tax is prorated exactly (CGS 12-71b prorates the tax), so
    /// it may differ by a cent from this × the rate.
    pub fn prorated_cents(&self) -> i64 {
        let dollars =
            Decimal::from(self.net_cents) * Decimal::from(self.months) / Decimal::from(1200);
        let d = dollars.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        i64::try_from(d).unwrap_or(0) * 100
    }
}

/// The totals of a supplemental list.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SupplementalTotals {
    /// Accounts.
    pub accounts: i64,
    /// Gross assessment, cents.
    pub gross_cents: i64,
    /// Credits for replaced vehicles, cents.
    pub credit_cents: i64,
    /// Net assessment, cents.
    pub net_cents: i64,
    /// Tax, cents: the supplemental levy.
    pub tax_cents: i64,
}

fn day(year: i64, month: Month, d: u8) -> Result<Date> {
    i32::try_from(year)
        .ok()
        .and_then(|y| Date::from_calendar_date(y, month, d).ok())
        .ok_or_else(|| Error::invalid("list_year", "out of range"))
}

/// The months a vehicle registered on `registered` is taxed on the
/// supplemental list of `list_year`: from the first day of the month of
/// registration to the next October 1 (October 12, November 11, …, July 3).
/// A registration outside October 2 of the list year to July 31 after it is
/// not on that supplemental list (CGS 12-71b(a)).
pub fn months(list_year: i64, registered: Date) -> Result<i64> {
    let (from, to) = (
        day(list_year, Month::October, 2)?,
        day(list_year + 1, Month::July, 31)?,
    );
    if registered < from || registered > to {
        return Err(Error::invalid(
            "registered_on",
            format!(
                "{} is not from {} to {}: only vehicles registered in that time are on the {list_year} supplemental list (CGS 12-71b)",
                format_date(registered),
                format_date(from),
                format_date(to)
            ),
        ));
    }
    let m = i64::from(u8::from(registered.month()));
    Ok(if m >= 10 { 22 - m } else { 10 - m })
}

/// The prorated tax: net × mills ÷ 1,000 × months ÷ 12, rounded half up to
/// the cent once, at the end.
pub fn prorated_tax(net_cents: i64, mills: Decimal, months: i64) -> i64 {
    let t = (Decimal::from(net_cents) * mills * Decimal::from(months) / Decimal::from(12_000))
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// The one installment of a supplemental bill: due January 1 after the
/// assessment year ends (CGS 12-71b(a)), payable without interest for a month
/// (CGS 12-146) — to the next weekday when February 1 is a weekend.
pub fn due(list_year: i64, tax_cents: i64) -> Result<Due> {
    let feb = day(list_year + 2, Month::February, 1)?;
    let last_day = match feb.weekday() {
        Weekday::Saturday => feb + time::Duration::days(2),
        Weekday::Sunday => feb + time::Duration::days(1),
        _ => feb,
    };
    Ok(Due {
        due: day(list_year + 2, Month::January, 1)?,
        cents: tax_cents,
        last_day,
    })
}

const LIST_COLUMNS: &str = "list_year, status, taken_at, taken_by, signed_at, signed_by, mv_mill_rate, levy_entry_id, \
    bills_status, bills_error, bills_blob_key, bills_count, bills_made_at";

const ITEM_COLUMNS: &str = "account, vin, plate, description, owner, mailing_address, registered_on, months, gross_cents, \
    replaces_account, credit_cents, net_cents, tax_cents";

/// The supplemental list of a year.
pub async fn get(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<SupplementalList> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM assessment_supplemental_lists WHERE municipality_id = $1 AND list_year = $2"
    );
    dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(list_year).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "supplemental list" })
}

/// The supplemental list of a year, if taken.
pub async fn find(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<Option<SupplementalList>> {
    match get(scope, ex, list_year).await {
        Ok(s) => Ok(Some(s)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The regular list the supplemental list follows: it must be signed.
async fn signed_list(scope: &ServiceScope, tx: &mut Tx, list_year: i64) -> Result<GrandList> {
    let gl = grand_list::get(scope, tx, list_year)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::conflict(
                "list_year",
                format!("there is no {list_year} grand list; take and sign it before its supplemental list"),
            ),
            other => other,
        })?;
    if gl.status != "signed" {
        return Err(Error::conflict(
            "list_year",
            format!("sign the {list_year} grand list before its supplemental list"),
        ));
    }
    Ok(gl)
}

fn refuse_signed(s: Option<&SupplementalList>, list_year: i64) -> Result<()> {
    if s.is_some_and(|s| s.status == "signed") {
        return Err(Error::conflict(
            "list_year",
            format!("the {list_year} supplemental list is signed; it no longer changes"),
        ));
    }
    Ok(())
}

/// The vehicles on the regular list (as corrected), by VIN.
async fn regular_vehicles(
    scope: &ServiceScope,
    tx: &mut Tx,
    list_year: i64,
) -> Result<HashMap<String, grand_list::Item>> {
    Ok(grand_list::items(scope, tx, list_year, None)
        .await?
        .into_iter()
        .filter(|i| i.property_class == "motor_vehicle")
        .map(|i| (i.vin.clone(), i))
        .collect())
}

fn same_owner(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Reads the DMV's supplemental file of `list_year` against the regular
/// list's vehicles; every error names the file, row and column.
fn read(
    file: &Stored,
    list_year: i64,
    today: Date,
    regular: &HashMap<String, grand_list::Item>,
) -> Result<Vec<SupplementalVehicle>> {
    let name = &file.file_name;
    let rows = motor_vehicles::read_rows(
        name,
        &file.bytes,
        list_year,
        list_year + 2,
        &[("registered_on", true), ("replaces_vin", false)],
    )?;
    let mut replaced: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let place = |col: &str| format!("{name}, row {}, column {col}", r.row);
        let v = r.vehicle;
        let reg_text = r.extra.first().map_or("", String::as_str);
        let registered = parse_date(&place("registered_on"), reg_text)?;
        months(list_year, registered).map_err(|e| match e {
            Error::Invalid { message, .. } => Error::invalid(place("registered_on"), message),
            other => other,
        })?;
        if registered > today {
            return Err(Error::invalid(
                place("registered_on"),
                format!("{} is in the future", format_date(registered)),
            ));
        }
        if let Some(on_list) = regular.get(&v.vin)
            && same_owner(&on_list.owner, &v.owner)
        {
            return Err(Error::invalid(
                place("vin"),
                format!(
                    "VIN {} is on the {list_year} grand list for {} (account {}): it was registered on October 1 and is taxed there",
                    v.vin, on_list.owner, on_list.account
                ),
            ));
        }
        let replaces = r
            .extra
            .get(1)
            .map_or(String::new(), |s| s.to_ascii_uppercase());
        if !replaces.is_empty() {
            if replaces == v.vin {
                return Err(Error::invalid(
                    place("replaces_vin"),
                    "a vehicle does not replace itself",
                ));
            }
            let Some(old) = regular.get(&replaces) else {
                return Err(Error::invalid(
                    place("replaces_vin"),
                    format!("VIN {replaces} is not a vehicle on the {list_year} grand list"),
                ));
            };
            if !same_owner(&old.owner, &v.owner) {
                return Err(Error::invalid(
                    place("replaces_vin"),
                    format!(
                        "VIN {replaces} is on the {list_year} grand list for {}, not {}; only the owner's own vehicle is replaced",
                        old.owner, v.owner
                    ),
                ));
            }
            if let Some(first) = replaced.insert(replaces.clone(), r.row) {
                return Err(Error::invalid(
                    place("replaces_vin"),
                    format!("VIN {replaces} is already replaced on row {first}"),
                ));
            }
        }
        out.push(SupplementalVehicle {
            list_year,
            vin: v.vin,
            plate: v.plate,
            model_year: v.model_year,
            make: v.make,
            model: v.model,
            owner: v.owner,
            mailing_address: v.mailing_address,
            retail_cents: v.retail_cents,
            assessed_cents: v.assessed_cents,
            registered_on: format_date(registered),
            replaces_vin: replaces,
        });
    }
    Ok(out)
}

/// Imports the DMV's supplemental file of a year (the regular list signed,
/// the supplemental one not yet), replacing the year's supplemental vehicles.
pub async fn import(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    file: &Stored,
) -> Result<ImportRecord> {
    require(scope, Permission::Edit)?;
    signed_list(scope, tx, list_year).await?;
    refuse_signed(find(scope, tx, list_year).await?.as_ref(), list_year)?;
    let regular = regular_vehicles(scope, tx, list_year).await?;
    let vehicles = read(file, list_year, now.datetime().date(), &regular)?;
    let m = scope.municipality_id();
    let before: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM assessment_supplemental_vehicles WHERE municipality_id = $1 AND list_year = $2")
        .bind(m).bind(list_year).fetch_one(c).await)?;
    execute!(tx, c => sqlx::query("DELETE FROM assessment_supplemental_vehicles WHERE municipality_id = $1 AND list_year = $2")
        .bind(m).bind(list_year).execute(c).await)?;
    let rec = imports::record(
        scope,
        tx,
        now,
        file,
        ImportKind::SupplementalMotorVehicles,
        vehicles.len() as i64,
        vehicles.len() as i64,
        before,
    )
    .await?;
    // Many rows a statement, as the October file's import does.
    const COLS: usize = 11;
    for chunk in vehicles.chunks(db::rows_per_statement(COLS)) {
        let sql = format!(
            "INSERT INTO assessment_supplemental_vehicles (vin, plate, model_year, make, model, owner, mailing_address, \
             retail_cents, assessed_cents, registered_on, replaces_vin, municipality_id, list_year, import_id) VALUES {}",
            db::value_rows(chunk.len(), COLS, 3)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for v in chunk {
                q = q.bind(&v.vin).bind(&v.plate).bind(v.model_year).bind(&v.make).bind(&v.model).bind(&v.owner)
                    .bind(&v.mailing_address).bind(v.retail_cents).bind(v.assessed_cents).bind(&v.registered_on)
                    .bind(&v.replaces_vin);
            }
            q.bind(m).bind(list_year).bind(&rec.id).execute(c).await
        })?;
    }
    Ok(rec)
}

/// The supplemental vehicles of a year, by VIN.
pub async fn vehicles(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<Vec<SupplementalVehicle>> {
    require(scope, Permission::View)?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT list_year, vin, plate, model_year, make, model, owner, mailing_address, retail_cents, assessed_cents, \
         registered_on, replaces_vin FROM assessment_supplemental_vehicles WHERE municipality_id = $1 AND list_year = $2 ORDER BY vin")
        .bind(scope.municipality_id()).bind(list_year).fetch_all(c).await)?)
}

/// Takes (or takes again, while a draft) the supplemental list of a year
/// from its imported vehicles: each account's months, credit and tax at the
/// regular list's motor-vehicle rate, which must be set.
pub async fn take(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
) -> Result<SupplementalList> {
    require(scope, Permission::Edit)?;
    let gl = signed_list(scope, tx, list_year).await?;
    let rate = grand_list::rates(&gl)
        .map_err(|_| {
            Error::conflict(
                "list_year",
                format!(
                    "set the {list_year} grand list's mill rate before taking its supplemental list"
                ),
            )
        })?
        .mv;
    let existing = find(scope, tx, list_year).await?;
    refuse_signed(existing.as_ref(), list_year)?;
    let vehicles = vehicles(scope, tx, list_year).await?;
    if vehicles.is_empty() {
        return Err(Error::invalid(
            "list_year",
            format!(
                "no supplemental vehicles for {list_year}; import the DMV's supplemental file first"
            ),
        ));
    }
    let regular = regular_vehicles(scope, tx, list_year).await?;
    let mut items = Vec::with_capacity(vehicles.len());
    for v in &vehicles {
        let registered = parse_date("registered_on", &v.registered_on)?;
        let months = months(list_year, registered)?;
        let (replaces_account, credit) = match regular.get(&v.replaces_vin) {
            Some(old) if !v.replaces_vin.is_empty() => {
                (old.account.clone(), old.net_cents.min(v.assessed_cents))
            }
            _ => (String::new(), 0),
        };
        let net = v.assessed_cents - credit;
        items.push(SupplementalItem {
            account: motor_vehicles::account(&v.vin),
            vin: v.vin.clone(),
            plate: v.plate.clone(),
            description: format!("{} {} {}", v.model_year, v.make, v.model),
            owner: v.owner.clone(),
            mailing_address: v.mailing_address.clone(),
            registered_on: v.registered_on.clone(),
            months,
            gross_cents: v.assessed_cents,
            replaces_account,
            credit_cents: credit,
            net_cents: net,
            tax_cents: prorated_tax(net, rate, months),
        });
    }
    let m = scope.municipality_id();
    let stamp = now.to_db();
    let actor = scope.actor().label.clone();
    execute!(tx, c => sqlx::query("DELETE FROM assessment_supplemental_items WHERE municipality_id = $1 AND list_year = $2")
        .bind(m).bind(list_year).execute(c).await)?;
    match existing {
        Some(_) => {
            execute!(tx, c => sqlx::query(
                "UPDATE assessment_supplemental_lists SET taken_at = $1, taken_by = $2, mv_mill_rate = $3 WHERE municipality_id = $4 AND list_year = $5")
                .bind(&stamp).bind(&actor).bind(rate.to_string()).bind(m).bind(list_year).execute(c).await)?;
        }
        None => {
            execute!(tx, c => sqlx::query(
                "INSERT INTO assessment_supplemental_lists (municipality_id, list_year, status, taken_at, taken_by, signed_at, signed_by, \
                 mv_mill_rate, levy_entry_id, bills_status, bills_error, bills_blob_key, bills_count, bills_made_at) \
                 VALUES ($1, $2, 'draft', $3, $4, '', '', $5, '', '', '', '', 0, '')")
                .bind(m).bind(list_year).bind(&stamp).bind(&actor).bind(rate.to_string()).execute(c).await)?;
        }
    }
    for i in &items {
        execute!(tx, c => sqlx::query(
            "INSERT INTO assessment_supplemental_items (municipality_id, list_year, account, vin, plate, description, owner, \
             mailing_address, registered_on, months, gross_cents, replaces_account, credit_cents, net_cents, tax_cents) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
            .bind(m).bind(list_year).bind(&i.account).bind(&i.vin).bind(&i.plate).bind(&i.description).bind(&i.owner)
            .bind(&i.mailing_address).bind(&i.registered_on).bind(i.months).bind(i.gross_cents).bind(&i.replaces_account)
            .bind(i.credit_cents).bind(i.net_cents).bind(i.tax_cents).execute(c).await)?;
    }
    let t = totals(&items);
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "supplemental.take",
            "supplemental_list",
            &list_year.to_string(),
            None,
            Some(json(&t)?),
        ),
    )
    .await?;
    get(scope, tx, list_year).await
}

/// The assessor signs the supplemental list; it no longer changes. The
/// regular list's motor-vehicle rate must still be the one it was taken at.
pub async fn sign(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
) -> Result<SupplementalList> {
    require(scope, Permission::Approve)?;
    let s = get(scope, tx, list_year).await?;
    refuse_signed(Some(&s), list_year)?;
    let gl = grand_list::get(scope, tx, list_year).await?;
    let rate = grand_list::rates(&gl)?.mv;
    if rate.to_string() != s.mv_mill_rate {
        return Err(Error::conflict(
            "list_year",
            format!(
                "the motor-vehicle rate is now {rate} mills, not the {} the supplemental list was taken at; take it again",
                s.mv_mill_rate
            ),
        ));
    }
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_supplemental_lists SET status = 'signed', signed_at = $1, signed_by = $2 WHERE municipality_id = $3 AND list_year = $4")
        .bind(now.to_db()).bind(&scope.actor().label).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    let t = totals(&items(scope, tx, list_year, None).await?);
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "supplemental.sign",
            "supplemental_list",
            &list_year.to_string(),
            Some(serde_json::json!({"status": "draft"})),
            Some(serde_json::json!({"status": "signed", "tax_cents": t.tax_cents, "accounts": t.accounts})),
        ),
    )
    .await?;
    get(scope, tx, list_year).await
}

/// The accounts of a supplemental list, by account (or the one asked).
pub async fn items(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
    account: Option<&str>,
) -> Result<Vec<SupplementalItem>> {
    require(scope, Permission::View)?;
    let m = scope.municipality_id();
    Ok(match account {
        Some(a) => {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM assessment_supplemental_items WHERE municipality_id = $1 AND list_year = $2 AND account = $3"
            );
            dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(list_year).bind(a).fetch_all(c).await)?
        }
        None => {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM assessment_supplemental_items WHERE municipality_id = $1 AND list_year = $2 ORDER BY account"
            );
            dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(list_year).fetch_all(c).await)?
        }
    })
}

/// Adds up a list's accounts.
pub fn totals(items: &[SupplementalItem]) -> SupplementalTotals {
    items
        .iter()
        .fold(SupplementalTotals::default(), |mut t, i| {
            t.accounts += 1;
            t.gross_cents += i.gross_cents;
            t.credit_cents += i.credit_cents;
            t.net_cents += i.net_cents;
            t.tax_cents += i.tax_cents;
            t
        })
}

/// Posts the supplemental levy (the sum of its bills) to the town
/// government's books once: the receivable debited, tax revenue credited,
/// dated January 1 when the bills fall due (in the fiscal year the regular
/// levy funds). `finance` is the caller's scope in finance for the same town.
pub async fn post_levy(
    scope: &ServiceScope,
    finance: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    accounts: &LevyIn,
) -> Result<SupplementalList> {
    require(scope, Permission::Approve)?;
    if finance.municipality_id() != scope.municipality_id() {
        return Err(Error::Forbidden(
            "the levy posts to the same town's books".into(),
        ));
    }
    let s = get(scope, tx, list_year).await?;
    if s.status != "signed" {
        return Err(Error::conflict(
            "list_year",
            format!("sign the {list_year} supplemental list before posting its levy"),
        ));
    }
    if !s.levy_entry_id.is_empty() {
        return Err(Error::conflict(
            "list_year",
            format!(
                "the {list_year} supplemental levy is already posted (entry {})",
                s.levy_entry_id
            ),
        ));
    }
    let t = totals(&items(scope, tx, list_year, None).await?);
    if t.tax_cents <= 0 {
        return Err(Error::conflict(
            "list_year",
            format!("the {list_year} supplemental list has no tax to post"),
        ));
    }
    let date = day(list_year + 2, Month::January, 1)?;
    let entry = grand_list::levy_entry(
        finance,
        tx,
        now,
        accounts,
        &grand_list::LevyEntry {
            date,
            amount: Money::from_cents(t.tax_cents),
            description: format!(
                "Supplemental motor vehicle levy, grand list of October 1, {list_year} (CGS 12-71b): {} bills at {} mills, prorated",
                t.accounts, s.mv_mill_rate
            ),
            memo: format!("Supplemental motor vehicle levy {list_year}"),
            source: format!("supplemental-levy:{list_year}"),
        },
    )
    .await?;
    execute!(tx, c => sqlx::query("UPDATE assessment_supplemental_lists SET levy_entry_id = $1 WHERE municipality_id = $2 AND list_year = $3")
        .bind(&entry.id).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "supplemental.levy",
            "supplemental_list",
            &list_year.to_string(),
            None,
            Some(serde_json::json!({"entry": entry.id, "tax_cents": t.tax_cents, "date": format_date(date)})),
        ),
    )
    .await?;
    get(scope, tx, list_year).await
}

/// The bill of one supplemental account, ready to render: the regular
/// motor-vehicle bill's parties and layout, the replaced vehicle's credit as
/// an assessment line, the tax prorated, one installment due January 1, and
/// a bill number of its own (`26-S-` and the VIN's last nine characters).
pub fn bill(
    town_name: &str,
    gl: &GrandList,
    s: &SupplementalList,
    item: &SupplementalItem,
) -> Result<munishare_taxbill::Bill> {
    use munishare_taxbill as tb;
    let bad = |e: tb::BillError| {
        Error::invalid(
            format!("bill {}: {}", item.account, e.field()),
            e.problem().to_string(),
        )
    };
    let as_item = grand_list::Item {
        account: item.account.clone(),
        parcel_id: String::new(),
        parcel_key: String::new(),
        location: String::new(),
        owner: item.owner.clone(),
        mailing_address: item.mailing_address.clone(),
        property_class: "motor_vehicle".into(),
        pa490: String::new(),
        land_cents: 0,
        building_cents: 0,
        gross_cents: item.gross_cents,
        exemptions: String::new(),
        exemptions_cents: 0,
        net_cents: item.net_cents,
        description: item.description.clone(),
        vin: item.vin.clone(),
        plate: item.plate.clone(),
        certificate: String::new(),
    };
    let mut b = grand_list::bill(town_name, gl, &as_item)?;
    let mut lines = vec![tb::AssessmentLine {
        label: "Motor vehicle (70% of average retail value)".into(),
        assessed_dollars: item.gross_cents / 100,
    }];
    if item.credit_cents > 0 {
        lines.push(tb::AssessmentLine {
            label: format!("Credit, replaced {}", item.replaces_account),
            assessed_dollars: -(item.credit_cents / 100),
        });
    }
    let yy = gl.list_year.rem_euclid(100);
    let tail = item.account.trim_start_matches("MV-");
    b.bill_number = format!("{yy:02}-S-{tail}");
    b.assessment_lines = lines;
    b.net_assessment_dollars = item.net_cents / 100;
    b.mill_rate = tb::MillRate::parse(&s.mv_mill_rate).map_err(bad)?;
    b.gross_tax_cents = item.tax_cents;
    b.months_taxed = u8::try_from(item.months).ok();
    let d = due(gl.list_year, item.tax_cents)?;
    b.installments = vec![tb::Installment {
        due: d.due,
        amount_cents: d.cents,
        last_day_without_interest: d.last_day,
    }];
    b.notes = vec![format!(
        "Supplemental motor vehicle list (CGS 12-71b): registered {}, taxed for {} of 12 months to October 1, {}.",
        item.registered_on,
        item.months,
        gl.list_year + 1
    )];
    Ok(b)
}

/// One supplemental account's bill as a PDF.
pub async fn bill_pdf(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
    account: &str,
) -> Result<Vec<u8>> {
    let gl = grand_list::get(scope, ex, list_year).await?;
    let s = get(scope, ex, list_year).await?;
    let item = items(scope, ex, list_year, Some(account))
        .await?
        .into_iter()
        .next()
        .ok_or(Error::NotFound { what: "account" })?;
    if item.tax_cents <= 0 {
        return Err(Error::invalid(
            "account",
            format!("{account} owes no supplemental tax (its credit covers it); there is no bill"),
        ));
    }
    let b = bill(&scope.town().name, &gl, &s, &item)?;
    munishare_taxbill::render(&b)
        .map_err(|e| Error::invalid(format!("bill {account}: {}", e.field()), e.to_string()))
}

/// The job kind of a supplemental list's bulk bill run.
pub const BILLS_JOB: &str = "assessment.supplemental_bills";

#[derive(Debug, Serialize, Deserialize)]
struct BillsJob {
    town: String,
    list_year: i64,
    user: String,
}

async fn set_bills_status(
    db: &Db,
    scope: &ServiceScope,
    list_year: i64,
    status: &str,
    error: &str,
) -> Result<()> {
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_supplemental_lists SET bills_status = $1, bills_error = $2 WHERE municipality_id = $3 AND list_year = $4")
        .bind(status).bind(error).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    tx.commit().await
}

/// Queues the bulk bill run of a signed supplemental list (Edit permission):
/// every bill with a tax in one PDF, kept in the town's part of the blob store.
pub async fn enqueue_bills(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
) -> Result<SupplementalList> {
    require(scope, Permission::Edit)?;
    let s = get(scope, tx, list_year).await?;
    if s.status != "signed" {
        return Err(Error::conflict(
            "list_year",
            format!("sign the {list_year} supplemental list before printing its bills"),
        ));
    }
    if matches!(s.bills_status.as_str(), "queued" | "running") {
        return Err(Error::conflict(
            "list_year",
            format!(
                "a supplemental bill run for {list_year} is already {}",
                s.bills_status
            ),
        ));
    }
    let job = BillsJob {
        town: scope.town().slug.to_string(),
        list_year,
        user: scope.user_id().as_str().to_owned(),
    };
    jobs::enqueue(
        tx,
        now,
        BILLS_JOB,
        Some(scope.municipality_id()),
        &serde_json::to_value(&job).map_err(|e| Error::Internal(e.to_string()))?,
        1,
    )
    .await?;
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_supplemental_lists SET bills_status = 'queued', bills_error = '' WHERE municipality_id = $1 AND list_year = $2")
        .bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    get(scope, tx, list_year).await
}

/// Renders every supplemental bill with a tax into one PDF and keeps it.
async fn run_bills(ctx: &JobContext, scope: &ServiceScope, list_year: i64) -> Result<i64> {
    let now = Timestamp::new(ctx.clock.now());
    let (gl, s, items) = {
        let mut c = ctx.db.read().await?;
        (
            grand_list::get(scope, &mut c, list_year).await?,
            get(scope, &mut c, list_year).await?,
            items(scope, &mut c, list_year, None).await?,
        )
    };
    let bills = items
        .iter()
        .filter(|i| i.tax_cents > 0)
        .map(|i| bill(&scope.town().name, &gl, &s, i))
        .collect::<Result<Vec<_>>>()?;
    if bills.is_empty() {
        return Err(Error::invalid(
            "list_year",
            "no account on the supplemental list owes any tax",
        ));
    }
    let key = crate::bills::store_pdf(
        &ctx.blobs,
        scope,
        &bills,
        &format!(
            "bills/supplemental-{list_year}-{}.pdf",
            now.to_db().replace(':', "")
        ),
    )
    .await?;
    let count = bills.len() as i64;
    let mut tx = ctx.db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_supplemental_lists SET bills_status = 'done', bills_error = '', bills_blob_key = $1, bills_count = $2, \
         bills_made_at = $3 WHERE municipality_id = $4 AND list_year = $5")
        .bind(key.as_str()).bind(count).bind(now.to_db()).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "supplemental.bills",
            "supplemental_list",
            &list_year.to_string(),
            None,
            Some(serde_json::json!({"bills": count, "mv_mill_rate": s.mv_mill_rate, "file": key.as_str()})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(count)
}

/// The last supplemental bulk run's PDF.
pub async fn stored_bills(
    scope: &ServiceScope,
    blobs: &BlobStore,
    s: &SupplementalList,
) -> Result<bytes::Bytes> {
    crate::bills::stored_pdf(scope, blobs, &s.bills_blob_key).await
}

/// Marks failed a supplemental bill run whose user can no longer run it (see `job_user`).
async fn abandon_bills(
    ctx: &JobContext,
    m: &MunicipalityId,
    list_year: i64,
    reason: &str,
) -> Result<()> {
    let now = Timestamp::new(ctx.clock.now());
    let mut tx = ctx.db.begin().await?;
    let changed = execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_supplemental_lists SET bills_status = 'failed', bills_error = $1 \
         WHERE municipality_id = $2 AND list_year = $3 AND bills_status IN ('queued', 'running')")
        .bind(reason).bind(m).bind(list_year).execute(c).await)?;
    if changed > 0 {
        job_user::audit_abandoned(
            &mut tx,
            now,
            BILLS_JOB,
            m,
            (
                "supplemental.bills_failed",
                "supplemental_list",
                list_year.to_string(),
            ),
            reason,
        )
        .await?;
    }
    tx.commit().await
}

/// Registers the supplemental bulk bill run with the job queue.
pub fn register_jobs(registry: &mut Registry) {
    registry.register(
        BILLS_JOB,
        |ctx: JobContext, payload: serde_json::Value| async move {
            let job: BillsJob = serde_json::from_value(payload)
                .map_err(|e| Error::Internal(format!("bad supplemental bill job: {e}")))?;
            let scope = match job_user::acting(&ctx, &job.user, &job.town, Permission::Edit).await?
            {
                Acting::As(acting) => acting.1,
                Acting::Refused {
                    municipality_id,
                    reason,
                } => {
                    abandon_bills(&ctx, &municipality_id, job.list_year, &reason).await?;
                    return Err(Error::Forbidden(reason));
                }
            };
            set_bills_status(&ctx.db, &scope, job.list_year, "running", "").await?;
            match run_bills(&ctx, &scope, job.list_year).await {
                Ok(count) => Ok(serde_json::json!({"bills": count})),
                Err(e) => {
                    set_bills_status(&ctx.db, &scope, job.list_year, "failed", &e.to_string())
                        .await?;
                    Err(e)
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    #[test]
    fn months_run_from_the_month_of_registration_to_the_next_october() {
        for (d, m) in [
            (date!(2026 - 10 - 02), 12),
            (date!(2026 - 10 - 31), 12),
            (date!(2026 - 11 - 15), 11),
            (date!(2026 - 12 - 15), 10),
            (date!(2027 - 01 - 01), 9),
            (date!(2027 - 06 - 30), 4),
            (date!(2027 - 07 - 31), 3),
        ] {
            assert_eq!(months(2026, d).unwrap(), m, "{d}");
        }
        for d in [
            date!(2026 - 10 - 01),
            date!(2027 - 08 - 01),
            date!(2025 - 12 - 01),
        ] {
            assert!(months(2026, d).is_err(), "{d}");
        }
    }

    #[test]
    fn the_tax_is_prorated_once_half_up() {
        let r = Decimal::from_str_exact("32.46").unwrap();
        // $14,000 × 32.46 ÷ 1,000 = $454.44; × 10 ÷ 12 = $378.70.
        assert_eq!(prorated_tax(1_400_000, r, 10), 37_870);
        // $16,415 × 32.46 ÷ 1,000 = $532.8309; × 3 ÷ 12 = $133.207725 → $133.21.
        assert_eq!(prorated_tax(1_641_500, r, 3), 13_321);
        // Twelve months is the whole year's tax: $532.83.
        assert_eq!(prorated_tax(1_641_500, r, 12), 53_283);
        // The prorated assessment shown: $14,000 × 10 ÷ 12 = $11,666.67 → $11,667.
        let item = SupplementalItem {
            account: String::new(),
            vin: String::new(),
            plate: String::new(),
            description: String::new(),
            owner: String::new(),
            mailing_address: String::new(),
            registered_on: String::new(),
            months: 10,
            gross_cents: 1_400_000,
            replaces_account: String::new(),
            credit_cents: 0,
            net_cents: 1_400_000,
            tax_cents: 37_870,
        };
        assert_eq!(item.prorated_cents(), 1_166_700);
    }

    #[test]
    fn the_bill_falls_due_january_first_payable_to_the_first_weekday_of_february() {
        // The 2026 list: due January 1, 2028; February 1, 2028 is a Tuesday.
        let d = due(2026, 37_870).unwrap();
        assert_eq!(
            (d.due, d.last_day),
            (date!(2028 - 01 - 01), date!(2028 - 02 - 01))
        );
        // The 2023 list: February 1, 2025 is a Saturday, so Monday, February 3.
        assert_eq!(due(2023, 1).unwrap().last_day, date!(2025 - 02 - 03));
    }
}
