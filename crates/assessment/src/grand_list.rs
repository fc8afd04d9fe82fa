//! The October 1 grand list, the mill rate, tax bills and the levy.
//!
//! Taking the grand list copies each parcel's assessment (70 % of its
//! appraised value; PA 490 land at its use value), exemptions and owner into
//! the list for that year; the assessor signs it, after which it no longer
//! changes. The abstract totals it by class. The mill rate is the adopted
//! levy ÷ the net grand list × 1,000, rounded half up to the places the town
//! uses (or the rate its board of finance adopted, entered as such). Each
//! account's tax is net assessment × mills ÷ 1,000, rounded half up to the
//! cent; it is payable in one installment due July 1 after the list year, or,
//! above the town's threshold, in two halves due July 1 and January 1 (the
//! first takes the odd cent); each may be paid without interest for one month
//! (CGS 12-146), to the next weekday when that day is a weekend. The levy
//! is posted to the town government's books as a receivable and tax revenue
//! through the ledger's service, once.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{self, Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{Money, Permission, Timestamp, format_date};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::{Date, Month, Weekday};

use crate::parcels::{self, EXEMPTIONS, change, require};
use crate::{motor_vehicles, personal_property};

/// A grand list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct GrandList {
    /// The list year (October 1 of it).
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
    /// The adopted levy, cents (0 until the mill rate is set).
    pub levy_cents: i64,
    /// The mill rate, exact decimal text (empty until set).
    pub mill_rate: String,
    /// The motor-vehicle mill rate (empty until set; never above the cap of CGS 12-71e).
    pub mv_mill_rate: String,
    /// Taxes above this are payable in two installments, cents.
    pub installment_threshold_cents: i64,
    /// The tax collector as printed on bills.
    pub collector_name: String,
    /// The collector's address, lines separated by newlines.
    pub collector_address: String,
    /// The collector's telephone.
    pub collector_phone: String,
    /// The ledger entry of the posted levy (empty until posted).
    pub levy_entry_id: String,
    /// The bulk bill run: empty (none yet), `queued`, `running`, `done` or `failed`.
    pub bills_status: String,
    /// Why the last run failed.
    pub bills_error: String,
    /// Where the last bulk bill run's PDF is kept.
    pub bills_blob_key: String,
    /// Bills in it.
    pub bills_count: i64,
    /// When it was made.
    pub bills_made_at: String,
}

/// One account on a grand list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Item {
    /// Account, e.g. `RE-101-02-091`.
    pub account: String,
    /// The parcel.
    pub parcel_id: String,
    /// Map-block-lot.
    pub parcel_key: String,
    /// Location.
    pub location: String,
    /// Owner as of October 1.
    pub owner: String,
    /// Mailing address.
    pub mailing_address: String,
    /// Property class.
    pub property_class: String,
    /// PA 490 classification.
    pub pa490: String,
    /// Assessed land, cents.
    pub land_cents: i64,
    /// Assessed building, cents.
    pub building_cents: i64,
    /// Gross assessment, cents.
    pub gross_cents: i64,
    /// Exemptions as `PROGRAM:cents;…`.
    pub exemptions: String,
    /// Exemptions, cents.
    pub exemptions_cents: i64,
    /// Net assessment, cents.
    pub net_cents: i64,
    /// A vehicle's year, make and model, or a business's name (empty for real estate).
    pub description: String,
    /// A vehicle's VIN.
    pub vin: String,
    /// A vehicle's plate.
    pub plate: String,
    /// The latest certificate of correction applied to this account (empty: as signed).
    pub certificate: String,
}

impl Item {
    /// The mailing address as printed lines (split at commas and line
    /// breaks); the property's location when the list has none.
    pub fn address_lines(&self) -> Vec<String> {
        let lines: Vec<String> = self
            .mailing_address
            .split([',', '\n'])
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if lines.is_empty() {
            vec![self.location.clone()]
        } else {
            lines
        }
    }
}

const GL_COLUMNS: &str = "list_year, status, taken_at, taken_by, signed_at, signed_by, levy_cents, mill_rate, mv_mill_rate, \
    installment_threshold_cents, collector_name, collector_address, collector_phone, levy_entry_id, bills_status, \
    bills_error, bills_blob_key, bills_count, bills_made_at";

/// One grand list.
pub async fn get(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<GrandList> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {GL_COLUMNS} FROM assessment_grand_lists WHERE municipality_id = $1 AND list_year = $2"
    );
    dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(list_year).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "grand list" })
}

/// The town's grand lists, newest first.
pub async fn list(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<GrandList>> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {GL_COLUMNS} FROM assessment_grand_lists WHERE municipality_id = $1 ORDER BY list_year DESC"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).fetch_all(c).await)?,
    )
}

/// The assessed land of a parcel: 70 % of its land value (its use value
/// under PA 490) to the nearest $10; the building takes the rest of the
/// parcel's assessment, so the two add up to it exactly.
fn land_and_building(p: &parcels::Parcel) -> (i64, i64) {
    let land_value = if p.pa490.is_empty() {
        p.land_cents
    } else {
        p.pa490_use_cents
    };
    let total = p.assessed_cents();
    let land = parcels::assessment_of(land_value).min(total);
    (land, total - land)
}

fn check_year(list_year: i64, today: Date) -> Result<()> {
    let latest = if today.month() >= Month::October {
        today.year()
    } else {
        today.year() - 1
    };
    if !(2000..=i64::from(latest)).contains(&list_year) {
        return Err(Error::invalid(
            "list_year",
            format!("a grand list is taken on October 1; the latest one that has come is {latest}"),
        ));
    }
    Ok(())
}

/// Whether the list of a year is signed (no list yet: not signed). What
/// feeds a list — declarations, the DMV's vehicles — changes only before.
pub async fn is_signed(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<bool> {
    match get(scope, ex, list_year).await {
        Ok(gl) => Ok(gl.status == "signed"),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes (or takes again, while a draft) the grand list of October 1 of
/// `list_year` from the roll as it stands.
pub async fn take(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
) -> Result<GrandList> {
    require(scope, Permission::Edit)?;
    check_year(list_year, now.datetime().date())?;
    let m = scope.municipality_id();
    let existing = get(scope, tx, list_year).await.ok();
    if existing.as_ref().is_some_and(|gl| gl.status == "signed") {
        return Err(Error::conflict(
            "list_year",
            format!(
                "the {list_year} grand list is signed; it changes only by certificates of correction"
            ),
        ));
    }
    let roll = parcels::all(scope, tx).await?;
    if roll.is_empty() {
        return Err(Error::invalid(
            "list_year",
            "the roll has no parcels; import the roll first",
        ));
    }
    let exemptions: Vec<(String, String, i64)> = dispatch!(tx, c => sqlx::query_as(
        "SELECT parcel_id, program, amount_cents FROM assessment_exemptions WHERE municipality_id = $1 ORDER BY program")
        .bind(m).fetch_all(c).await)?;
    let mut by_parcel: BTreeMap<&str, Vec<(&str, i64)>> = BTreeMap::new();
    for (p, program, cents) in &exemptions {
        by_parcel
            .entry(p.as_str())
            .or_default()
            .push((program.as_str(), *cents));
    }
    let stamp = now.to_db();
    let actor = scope.actor().label.clone();
    match existing {
        Some(_) => {
            execute!(tx, c => sqlx::query("DELETE FROM assessment_grand_list_items WHERE municipality_id = $1 AND list_year = $2")
                .bind(m).bind(list_year).execute(c).await)?;
            execute!(tx, c => sqlx::query("UPDATE assessment_grand_lists SET taken_at = $1, taken_by = $2 WHERE municipality_id = $3 AND list_year = $4")
                .bind(&stamp).bind(&actor).bind(m).bind(list_year).execute(c).await)?;
        }
        None => {
            execute!(tx, c => sqlx::query(
                "INSERT INTO assessment_grand_lists (municipality_id, list_year, status, taken_at, taken_by, signed_at, signed_by, \
                 levy_cents, mill_rate, installment_threshold_cents, collector_name, collector_address, collector_phone, \
                 levy_entry_id, bills_status, bills_error, bills_blob_key, bills_count, bills_made_at) \
                 VALUES ($1, $2, 'draft', $3, $4, '', '', 0, '', 10000, '', '', '', '', '', '', '', 0, '')")
                .bind(m).bind(list_year).bind(&stamp).bind(&actor).execute(c).await)?;
        }
    }
    let items: Vec<Item> = roll
        .iter()
        .map(|p| {
            let (land, building) = land_and_building(p);
            let gross = land + building;
            let ex = by_parcel.get(p.id.as_str()).cloned().unwrap_or_default();
            let ex_total: i64 = ex.iter().map(|e| e.1).sum();
            Item {
                account: format!("RE-{}", p.parcel_key),
                parcel_id: p.id.clone(),
                parcel_key: p.parcel_key.clone(),
                location: p.location.clone(),
                owner: p.owner.clone(),
                mailing_address: p.mailing_address.clone(),
                property_class: p.property_class.clone(),
                pa490: p.pa490.clone(),
                land_cents: land,
                building_cents: building,
                gross_cents: gross,
                exemptions: ex
                    .iter()
                    .map(|(p, c)| format!("{p}:{c}"))
                    .collect::<Vec<_>>()
                    .join(";"),
                exemptions_cents: ex_total.min(gross),
                net_cents: (gross - ex_total).max(0),
                description: String::new(),
                vin: String::new(),
                plate: String::new(),
                certificate: String::new(),
            }
        })
        .collect();
    let mut items = items;
    items.extend(other_items(scope, tx, list_year).await?);
    const COLS: usize = 17;
    for chunk in items.chunks(db::rows_per_statement(COLS)) {
        let sql = format!(
            "INSERT INTO assessment_grand_list_items (account, parcel_id, parcel_key, location, owner, \
             mailing_address, property_class, pa490, land_cents, building_cents, gross_cents, exemptions, exemptions_cents, net_cents, \
             description, vin, plate, municipality_id, list_year) VALUES {}",
            db::value_rows(chunk.len(), COLS, 2)
        );
        execute!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for it in chunk {
                q = q.bind(&it.account).bind(&it.parcel_id).bind(&it.parcel_key).bind(&it.location).bind(&it.owner)
                    .bind(&it.mailing_address).bind(&it.property_class).bind(&it.pa490).bind(it.land_cents)
                    .bind(it.building_cents).bind(it.gross_cents).bind(&it.exemptions).bind(it.exemptions_cents).bind(it.net_cents)
                    .bind(&it.description).bind(&it.vin).bind(&it.plate);
            }
            q.bind(m).bind(list_year).execute(c).await
        })?;
    }
    let totals = abstract_report(scope, tx, list_year).await?.total;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "grand_list.take",
            "grand_list",
            &list_year.to_string(),
            None,
            Some(serde_json::json!({"accounts": totals.accounts, "gross_cents": totals.gross_cents, "net_cents": totals.net_cents})),
        ),
    )
    .await?;
    get(scope, tx, list_year).await
}

/// The personal property and motor vehicles of a list year as grand-list
/// items: a declaration's assessment plus its penalty; a vehicle's 70 %.
async fn other_items(scope: &ServiceScope, tx: &mut Tx, list_year: i64) -> Result<Vec<Item>> {
    let item = |account: String,
                class: &str,
                owner: String,
                mailing: String,
                location: String,
                gross: i64| Item {
        account,
        parcel_id: String::new(),
        parcel_key: String::new(),
        location,
        owner,
        mailing_address: mailing,
        property_class: class.to_owned(),
        pa490: String::new(),
        land_cents: 0,
        building_cents: 0,
        gross_cents: gross,
        exemptions: String::new(),
        exemptions_cents: 0,
        net_cents: gross,
        description: String::new(),
        vin: String::new(),
        plate: String::new(),
        certificate: String::new(),
    };
    let mut out = Vec::new();
    for d in personal_property::list(scope, tx, list_year).await? {
        let mut i = item(
            d.account.clone(),
            "personal",
            d.owner.clone(),
            d.mailing_address.clone(),
            d.location.clone(),
            d.total_cents(),
        );
        i.description = d.business;
        out.push(i);
    }
    for v in motor_vehicles::list(scope, tx, list_year).await? {
        let mut i = item(
            v.account(),
            "motor_vehicle",
            v.owner.clone(),
            v.mailing_address.clone(),
            String::new(),
            v.assessed_cents,
        );
        i.description = format!("{} {} {}", v.model_year, v.make, v.model);
        i.vin = v.vin;
        i.plate = v.plate;
        out.push(i);
    }
    Ok(out)
}

/// The assessor signs the grand list; it no longer changes.
pub async fn sign(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
) -> Result<GrandList> {
    require(scope, Permission::Approve)?;
    let gl = get(scope, tx, list_year).await?;
    if gl.status == "signed" {
        return Err(Error::conflict(
            "status",
            format!("the {list_year} grand list is already signed"),
        ));
    }
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_grand_lists SET status = 'signed', signed_at = $1, signed_by = $2 WHERE municipality_id = $3 AND list_year = $4")
        .bind(now.to_db()).bind(&scope.actor().label).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    let totals = abstract_report(scope, tx, list_year).await?.total;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "grand_list.sign",
            "grand_list",
            &list_year.to_string(),
            Some(serde_json::json!({"status": "draft"})),
            Some(serde_json::json!({"status": "signed", "net_cents": totals.net_cents})),
        ),
    )
    .await?;
    get(scope, tx, list_year).await
}

/// One line of the abstract.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct AbstractLine {
    /// Class key (`residential`, …, or `use:forest` for PA 490 land).
    pub class: String,
    /// Accounts.
    pub accounts: i64,
    /// Gross assessment, cents.
    pub gross_cents: i64,
    /// Exemptions, cents.
    pub exemptions_cents: i64,
    /// Net assessment, cents.
    pub net_cents: i64,
}

/// Exemptions by program.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExemptionLine {
    /// Program code.
    pub program: String,
    /// Statute.
    pub statute: String,
    /// Accounts with it.
    pub accounts: i64,
    /// Amount, cents (as granted, before any cap at the gross assessment).
    pub cents: i64,
}

/// The grand list abstract: gross and net by class, exemptions by program.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Abstract {
    /// The list year.
    pub list_year: i64,
    /// By class.
    pub lines: Vec<AbstractLine>,
    /// Exemptions by program.
    pub exemptions: Vec<ExemptionLine>,
    /// Totals.
    pub total: AbstractLine,
}

/// The abstract of a grand list.
pub async fn abstract_report(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<Abstract> {
    require(scope, Permission::View)?;
    let m = scope.municipality_id();
    let rows: Vec<(String, String, i64, i64, i64, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT property_class, pa490, COUNT(*), CAST(COALESCE(SUM(gross_cents), 0) AS BIGINT), CAST(COALESCE(SUM(exemptions_cents), 0) AS BIGINT), \
         CAST(COALESCE(SUM(net_cents), 0) AS BIGINT) FROM assessment_grand_list_items WHERE municipality_id = $1 AND list_year = $2 \
         GROUP BY property_class, pa490 ORDER BY property_class, pa490")
        .bind(m).bind(list_year).fetch_all(c).await)?;
    let mut lines = Vec::new();
    let mut total = AbstractLine {
        class: "total".into(),
        ..AbstractLine::default()
    };
    for (class, pa490, n, gross, ex, net) in rows {
        total.accounts += n;
        total.gross_cents += gross;
        total.exemptions_cents += ex;
        total.net_cents += net;
        lines.push(AbstractLine {
            class: if pa490.is_empty() {
                class
            } else {
                format!("use:{pa490}")
            },
            accounts: n,
            gross_cents: gross,
            exemptions_cents: ex,
            net_cents: net,
        });
    }
    let granted: Vec<(String,)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT exemptions FROM assessment_grand_list_items WHERE municipality_id = $1 AND list_year = $2 AND exemptions <> ''")
        .bind(m).bind(list_year).fetch_all(c).await)?;
    let mut by_program: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (text,) in granted {
        for part in text.split(';') {
            if let Some((program, cents)) = part.split_once(':') {
                let e = by_program.entry(program.to_owned()).or_default();
                e.0 += 1;
                e.1 += cents.parse::<i64>().unwrap_or(0);
            }
        }
    }
    let exemptions = by_program
        .into_iter()
        .map(|(program, (accounts, cents))| ExemptionLine {
            statute: EXEMPTIONS
                .iter()
                .find(|e| e.0 == program)
                .map_or("", |e| e.1)
                .to_owned(),
            program,
            accounts,
            cents,
        })
        .collect();
    Ok(Abstract {
        list_year,
        lines,
        exemptions,
        total,
    })
}

/// The items of a grand list, by account, optionally those whose account, location or owner contains `q`.
pub async fn items(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
    account: Option<&str>,
) -> Result<Vec<Item>> {
    require(scope, Permission::View)?;
    let base = format!("{ITEM_SELECT} WHERE i.municipality_id = $1 AND i.list_year = $2");
    let m = scope.municipality_id();
    Ok(match account {
        Some(a) => {
            let sql = format!("{base} AND i.account = $3");
            dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(list_year).bind(a).fetch_all(c).await)?
        }
        None => {
            let sql = format!("{base} ORDER BY i.account");
            dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(list_year).fetch_all(c).await)?
        }
    })
}

/// A parcel's account on one grand list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ListedItem {
    /// The list year.
    pub list_year: i64,
    /// `draft` or `signed`.
    pub status: String,
    /// The account as listed, with its latest certificate of correction applied.
    #[sqlx(flatten)]
    pub item: Item,
}

/// A parcel's accounts on every grand list taken, newest list first: its
/// value on any past list, as corrected.
pub async fn parcel_lists(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    parcel_id: &str,
) -> Result<Vec<ListedItem>> {
    require(scope, Permission::View)?;
    let sql = ITEM_SELECT.replacen("SELECT ", "SELECT i.list_year, g.status, ", 1)
        + " JOIN assessment_grand_lists g ON g.municipality_id = i.municipality_id AND g.list_year = i.list_year \
           WHERE i.municipality_id = $1 AND i.parcel_id = $2 ORDER BY i.list_year DESC, i.account";
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(parcel_id).fetch_all(c).await)?,
    )
}

/// The items of lists, each account with its latest certificate of
/// correction applied (the certificate numbers are zero-padded, so the
/// greatest is the latest); add the WHERE clause.
const ITEM_SELECT: &str = "SELECT i.account, i.parcel_id, i.parcel_key, i.location, i.owner, i.mailing_address, i.property_class, i.pa490, \
                COALESCE(c.land_cents, i.land_cents) AS land_cents, COALESCE(c.building_cents, i.building_cents) AS building_cents, \
                COALESCE(c.land_cents + c.building_cents, i.gross_cents) AS gross_cents, i.exemptions, \
                COALESCE(c.exemptions_cents, i.exemptions_cents) AS exemptions_cents, COALESCE(c.net_cents, i.net_cents) AS net_cents, \
                i.description, i.vin, i.plate, COALESCE(c.number, '') AS certificate \
                FROM assessment_grand_list_items i LEFT JOIN assessment_corrections c \
                ON c.municipality_id = i.municipality_id AND c.list_year = i.list_year AND c.account = i.account \
                AND c.number = (SELECT MAX(c2.number) FROM assessment_corrections c2 \
                    WHERE c2.municipality_id = i.municipality_id AND c2.list_year = i.list_year AND c2.account = i.account)";

/// The mill rate for a levy on a net grand list: levy ÷ net × 1,000,
/// rounded half up to `places` decimals (2 to 4).
pub fn mill_rate(levy: Money, net_cents: i64, places: u32) -> Result<Decimal> {
    if !(2..=4).contains(&places) {
        return Err(Error::invalid(
            "places",
            "a mill rate has 2 to 4 decimal places",
        ));
    }
    if net_cents <= 0 {
        return Err(Error::invalid(
            "levy",
            "the net grand list is zero; there is nothing to levy on",
        ));
    }
    if levy.cents() <= 0 {
        return Err(Error::invalid("levy", "the levy is more than zero"));
    }
    let rate = Decimal::from(levy.cents()) * Decimal::from(1000) / Decimal::from(net_cents);
    Ok(rate.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero))
}

/// Tax in cents: net assessment (cents) × mills ÷ 1,000, rounded half up to the cent.
pub fn tax_cents(net_cents: i64, mills: Decimal) -> i64 {
    let t = (Decimal::from(net_cents) * mills / Decimal::from(1000))
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// One installment of a tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Due {
    /// Due date (YYYY-MM-DD).
    #[schema(value_type = String)]
    #[serde(serialize_with = "iso_date")]
    pub due: Date,
    /// Amount, cents.
    pub cents: i64,
    /// The last day it may be paid without interest (YYYY-MM-DD).
    #[schema(value_type = String)]
    #[serde(serialize_with = "iso_date")]
    pub last_day: Date,
}

fn iso_date<S: serde::Serializer>(d: &Date, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*d))
}

fn weekday_on_or_after(d: Date) -> Date {
    match d.weekday() {
        Weekday::Saturday => d + time::Duration::days(2),
        Weekday::Sunday => d + time::Duration::days(1),
        _ => d,
    }
}

/// The installments of a tax on the grand list of `list_year`.
pub fn installments(tax_cents: i64, list_year: i32, threshold_cents: i64) -> Vec<Due> {
    let date = |y: i32, m: Month| Date::from_calendar_date(y, m, 1).unwrap_or(Date::MIN);
    let july = date(list_year + 1, Month::July);
    let august = date(list_year + 1, Month::August);
    if tax_cents <= threshold_cents {
        return vec![Due {
            due: july,
            cents: tax_cents,
            last_day: weekday_on_or_after(august),
        }];
    }
    let second = tax_cents / 2;
    vec![
        Due {
            due: july,
            cents: tax_cents - second,
            last_day: weekday_on_or_after(august),
        },
        Due {
            due: date(list_year + 2, Month::January),
            cents: second,
            last_day: weekday_on_or_after(date(list_year + 2, Month::February)),
        },
    ]
}

/// The installments of an account's tax: a motor vehicle's in one, others
/// by the list's threshold.
pub fn dues(gl: &GrandList, class: &str, tax_cents: i64) -> Vec<Due> {
    let year = i32::try_from(gl.list_year).unwrap_or(i32::MAX);
    let threshold = if class == "motor_vehicle" {
        i64::MAX
    } else {
        gl.installment_threshold_cents
    };
    installments(tax_cents, year, threshold)
}

/// What the town adopted for the year's bills.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RateIn {
    /// The adopted levy on real property, e.g. "12,345,678.00".
    pub levy: String,
    /// Decimal places of the computed mill rate (2 to 4; default 2).
    pub places: Option<u32>,
    /// The mill rate as adopted, when the board of finance adopted one
    /// outright (e.g. "35.37"); otherwise it is computed from the levy.
    pub mill_rate: Option<String>,
    /// The motor-vehicle mill rate, when the town adopts its own (at most
    /// the cap of CGS 12-71e, 32.46 mills, and not above the list's rate);
    /// otherwise the list's rate, capped.
    #[serde(default)]
    pub mv_mill_rate: Option<String>,
    /// Taxes above this are payable in two installments (default "100.00").
    pub installment_threshold: Option<String>,
    /// The tax collector as printed on bills.
    pub collector_name: String,
    /// The collector's address, one line per line.
    pub collector_address: String,
    /// The collector's telephone.
    pub collector_phone: String,
}

/// Sets the year's mill rate and bill settings. The grand list must be
/// signed and the levy not yet posted.
pub async fn set_rate(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    input: &RateIn,
) -> Result<GrandList> {
    require(scope, Permission::Approve)?;
    let gl = get(scope, tx, list_year).await?;
    if gl.status != "signed" {
        return Err(Error::conflict(
            "list_year",
            format!("sign the {list_year} grand list before setting its mill rate"),
        ));
    }
    if !gl.levy_entry_id.is_empty() {
        return Err(Error::conflict(
            "list_year",
            format!("the {list_year} levy is posted; its mill rate no longer changes"),
        ));
    }
    let levy = Money::parse("levy", &input.levy)?;
    let net = abstract_report(scope, tx, list_year).await?.total.net_cents;
    let rate = match input
        .mill_rate
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(text) => {
            let d = Decimal::from_str_exact(text)
                .ok()
                .filter(|d| *d > Decimal::ZERO && *d < Decimal::from(1000) && d.scale() <= 4)
                .ok_or_else(|| {
                    Error::invalid(
                        "mill_rate",
                        format!("'{text}' is not a mill rate (e.g. 35.37, at most 4 decimals)"),
                    )
                })?;
            if net <= 0 {
                return Err(Error::invalid(
                    "levy",
                    "the net grand list is zero; there is nothing to levy on",
                ));
            }
            d
        }
        None => mill_rate(levy, net, input.places.unwrap_or(2))?,
    };
    let mv = mv_rate(rate, input.mv_mill_rate.as_deref())?;
    let threshold = match input
        .installment_threshold
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(t) => Money::parse("installment_threshold", t)?.cents(),
        None => 10_000,
    };
    if threshold < 0 {
        return Err(Error::invalid("installment_threshold", "is not negative"));
    }
    let name = input.collector_name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(Error::invalid(
            "collector_name",
            "name the tax collector (at most 80 characters)",
        ));
    }
    let address: Vec<&str> = input
        .collector_address
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if address.is_empty() || address.len() > 3 {
        return Err(Error::invalid(
            "collector_address",
            "give the collector's address in 1 to 3 lines",
        ));
    }
    let phone = input.collector_phone.trim();
    if phone.is_empty() || phone.chars().count() > 30 {
        return Err(Error::invalid(
            "collector_phone",
            "the bills print the collector's telephone (at most 30 characters)",
        ));
    }
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_grand_lists SET levy_cents = $1, mill_rate = $2, installment_threshold_cents = $3, collector_name = $4, \
         collector_address = $5, collector_phone = $6, mv_mill_rate = $7 WHERE municipality_id = $8 AND list_year = $9")
        .bind(levy.cents()).bind(rate.to_string()).bind(threshold).bind(name).bind(address.join("\n")).bind(phone)
        .bind(mv.to_string()).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    let after = get(scope, tx, list_year).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "grand_list.mill_rate",
            "grand_list",
            &list_year.to_string(),
            Some(serde_json::json!({"levy_cents": gl.levy_cents, "mill_rate": gl.mill_rate, "mv_mill_rate": gl.mv_mill_rate})),
            Some(serde_json::json!({"levy_cents": after.levy_cents, "mill_rate": after.mill_rate, "mv_mill_rate": after.mv_mill_rate, "net_cents": net})),
        ),
    )
    .await?;
    Ok(after)
}

/// The mill rate of a list, once set.
pub fn mills(gl: &GrandList) -> Result<Decimal> {
    Decimal::from_str_exact(&gl.mill_rate).map_err(|_| {
        Error::conflict(
            "mill_rate",
            format!("the {} grand list has no mill rate yet", gl.list_year),
        )
    })
}

/// The rates a list's accounts are taxed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Real estate and personal property.
    pub real: Decimal,
    /// Motor vehicles.
    pub mv: Decimal,
}

impl Rates {
    /// The rate of a property class.
    pub fn of(&self, class: &str) -> Decimal {
        if class == "motor_vehicle" {
            self.mv
        } else {
            self.real
        }
    }

    /// An account's tax, half up to the cent.
    pub fn tax(&self, item: &Item) -> i64 {
        tax_cents(item.net_cents, self.of(&item.property_class))
    }
}

/// The rates of a list, once set (the motor-vehicle rate defaults to the list's).
pub fn rates(gl: &GrandList) -> Result<Rates> {
    let real = mills(gl)?;
    let mv = Decimal::from_str_exact(&gl.mv_mill_rate).unwrap_or(real);
    Ok(Rates { real, mv })
}

/// The motor-vehicle rate: as adopted, or the list's rate; never above the
/// cap (CGS 12-71e) nor above the list's rate.
pub fn mv_rate(rate: Decimal, adopted: Option<&str>) -> Result<Decimal> {
    let cap = Decimal::from_str_exact(motor_vehicles::MV_MILL_RATE_CAP).unwrap_or(rate);
    match adopted.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(rate.min(cap)),
        Some(text) => {
            let d = Decimal::from_str_exact(text)
                .ok()
                .filter(|d| *d > Decimal::ZERO && d.scale() <= 4)
                .ok_or_else(|| {
                    Error::invalid(
                        "mv_mill_rate",
                        format!("'{text}' is not a mill rate (at most 4 decimals)"),
                    )
                })?;
            if d > cap {
                return Err(Error::invalid(
                    "mv_mill_rate",
                    format!("the motor-vehicle mill rate may not exceed {cap} mills (CGS 12-71e)"),
                ));
            }
            if d > rate {
                return Err(Error::invalid(
                    "mv_mill_rate",
                    format!(
                        "the motor-vehicle mill rate is not above the list's rate of {rate} mills"
                    ),
                ));
            }
            Ok(d)
        }
    }
}

/// The levy the bills add up to: Σ each account's rounded tax.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LevySummary {
    /// The adopted levy, cents.
    pub adopted_cents: i64,
    /// The sum of the bills, cents.
    pub billed_cents: i64,
    /// Billed − adopted (the mill rate's rounding), cents.
    pub difference_cents: i64,
    /// Bills with a tax.
    pub bills: i64,
    /// The motor-vehicle tax given up by taxing vehicles below the list's
    /// rate (the cap of CGS 12-71e; the state's motor-vehicle grant under
    /// CGS 4-66l reimburses it), cents.
    pub mv_forgone_cents: i64,
}

/// Sums the bills of a list.
pub async fn levy(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<LevySummary> {
    let gl = get(scope, ex, list_year).await?;
    let rates = rates(&gl)?;
    let nets: Vec<(String, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT property_class, net_cents FROM assessment_grand_list_items WHERE municipality_id = $1 AND list_year = $2")
        .bind(scope.municipality_id()).bind(list_year).fetch_all(c).await)?;
    let (mut billed, mut bills, mut forgone) = (0i64, 0i64, 0i64);
    for (class, net) in &nets {
        let tax = tax_cents(*net, rates.of(class));
        if tax > 0 {
            billed += tax;
            bills += 1;
        }
        if class == "motor_vehicle" {
            forgone += tax_cents(*net, rates.real) - tax;
        }
    }
    Ok(LevySummary {
        adopted_cents: gl.levy_cents,
        billed_cents: billed,
        difference_cents: billed - gl.levy_cents,
        bills,
        mv_forgone_cents: forgone,
    })
}

/// The two accounts the levy posts to.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LevyIn {
    /// The receivable (asset) account debited, e.g. `1005-00-0000-00000-11100-000`.
    pub receivable_account: String,
    /// The property-tax revenue account credited.
    pub revenue_account: String,
}

/// A levy as it posts to the town government's books.
pub(crate) struct LevyEntry {
    /// The entry's date.
    pub date: Date,
    /// The amount billed.
    pub amount: Money,
    /// The entry's description.
    pub description: String,
    /// Each line's memo.
    pub memo: String,
    /// The source reference that makes the posting happen once.
    pub source: String,
}

/// Posts a levy through the ledger's service, once per `source`: the
/// receivable debited, property-tax revenue credited.
pub(crate) async fn levy_entry(
    finance: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    accounts: &LevyIn,
    levy: &LevyEntry,
) -> Result<munishare_ledger::service::Entry> {
    use munishare_ledger::service::{NewEntry, NewLine, post_from_source};
    let line = |account: &str, debit: Money, credit: Money| NewLine {
        account: account.trim().to_owned(),
        debit,
        credit,
        memo: levy.memo.clone(),
    };
    Ok(post_from_source(
        finance,
        tx,
        now,
        &NewEntry {
            entity: EntityKind::TownGovernment,
            date: levy.date,
            adjustment: false,
            description: levy.description.clone(),
            lines: vec![
                line(&accounts.receivable_account, levy.amount, Money::ZERO),
                line(&accounts.revenue_account, Money::ZERO, levy.amount),
            ],
        },
        &levy.source,
    )
    .await?
    .entry)
}

/// Posts the levy (the sum of the bills) to the town government's books:
/// the receivable debited, tax revenue credited, dated July 1 after the
/// list year (the first day of the fiscal year the taxes fund). `finance`
/// is the caller's scope in finance for the same town (approve needed).
pub async fn post_levy(
    scope: &ServiceScope,
    finance: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    accounts: &LevyIn,
) -> Result<GrandList> {
    require(scope, Permission::Approve)?;
    if finance.municipality_id() != scope.municipality_id() {
        return Err(Error::Forbidden(
            "the levy posts to the same town's books".into(),
        ));
    }
    let gl = get(scope, tx, list_year).await?;
    let summary = levy(scope, tx, list_year).await?;
    let year = i32::try_from(list_year).map_err(|_| Error::invalid("list_year", "out of range"))?;
    let date = Date::from_calendar_date(year + 1, Month::July, 1)
        .map_err(|_| Error::invalid("list_year", "out of range"))?;
    let entry = levy_entry(
        finance,
        tx,
        now,
        accounts,
        &LevyEntry {
            date,
            amount: Money::from_cents(summary.billed_cents),
            description: format!(
                "Property tax levy, grand list of October 1, {list_year}: {} bills at {} mills",
                summary.bills, gl.mill_rate
            ),
            memo: format!("Levy {list_year}"),
            source: format!("levy:{list_year}"),
        },
    )
    .await?;
    execute!(tx, c => sqlx::query("UPDATE assessment_grand_lists SET levy_entry_id = $1 WHERE municipality_id = $2 AND list_year = $3")
        .bind(&entry.id).bind(scope.municipality_id()).bind(list_year).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "grand_list.levy",
            "grand_list",
            &list_year.to_string(),
            None,
            Some(serde_json::json!({"entry": entry.id, "billed_cents": summary.billed_cents, "date": format_date(date)})),
        ),
    )
    .await?;
    get(scope, tx, list_year).await
}

fn label(program: &str) -> String {
    match EXEMPTIONS.iter().find(|e| e.0 == program) {
        Some((_, statute, what)) => format!("{what} exemption ({statute})"),
        None => format!("{program} exemption"),
    }
}

/// The account id and bill number printed on a bill and in its stubs' scan
/// lines, where a payment processor reads them: at most 12 and 14
/// characters, and unique within the list, so they are never cut short. The
/// account id is the account when it fits, else (a long map-block-lot) the
/// parcel id alone; the bill number is the list year and the account id in
/// the longest form that fits. An account that fits none is refused by name.
pub fn bill_ids(account: &str, parcel_key: &str, list_year: i32) -> Result<(String, String)> {
    let id = if account.chars().count() <= 12 {
        account.to_owned()
    } else if !parcel_key.is_empty() && parcel_key.chars().count() <= 12 {
        parcel_key.to_owned()
    } else {
        return Err(Error::invalid(
            format!("bill {account}"),
            "the account is too long for a bill's 12-character account box",
        ));
    };
    let yy = list_year.rem_euclid(100);
    let number = [
        format!("{list_year}-{id}"),
        format!("{yy:02}-{id}"),
        format!("{yy:02}{id}"),
    ]
    .into_iter()
    .find(|n| n.chars().count() <= 14)
    .ok_or_else(|| {
        Error::invalid(
            format!("bill {account}"),
            "the account is too long for a bill's 14-character bill number",
        )
    })?;
    Ok((id, number.replace('/', "-")))
}

/// The bill of one account, ready to render.
pub fn bill(town_name: &str, gl: &GrandList, item: &Item) -> Result<munishare_taxbill::Bill> {
    use munishare_taxbill as tb;
    let bad = |e: tb::BillError| {
        Error::invalid(
            format!("bill {}: {}", item.account, e.field()),
            e.problem().to_string(),
        )
    };
    let rates = rates(gl)?;
    let rate = rates.of(&item.property_class);
    let year =
        i32::try_from(gl.list_year).map_err(|_| Error::invalid("list_year", "out of range"))?;
    let tax = tax_cents(item.net_cents, rate);
    let (property, mut lines) = match item.property_class.as_str() {
        "motor_vehicle" => (
            tb::Property::MotorVehicle {
                description: item.description.clone(),
                vin: item.vin.clone(),
                plate: Some(item.plate.clone()).filter(|p| !p.is_empty()),
            },
            vec![tb::AssessmentLine {
                label: "Motor vehicle (70% of average retail value)".into(),
                assessed_dollars: item.gross_cents / 100,
            }],
        ),
        "personal" => (
            tb::Property::PersonalProperty {
                business_name: item.description.clone(),
                location: item.location.clone(),
            },
            vec![tb::AssessmentLine {
                label: "Personal property".into(),
                assessed_dollars: item.gross_cents / 100,
            }],
        ),
        _ => {
            let parts: Vec<&str> = item.parcel_key.split(['-', '/']).collect();
            let parcel = match parts.as_slice() {
                [map, block, lot] => tb::ParcelId::new(map, block, lot).map_err(bad)?,
                _ => {
                    return Err(Error::invalid(
                        format!("bill {}", item.account),
                        format!("parcel id {} is not map-block-lot", item.parcel_key),
                    ));
                }
            };
            (
                tb::Property::RealEstate {
                    location: item.location.clone(),
                    parcel,
                },
                vec![
                    tb::AssessmentLine {
                        label: if item.pa490.is_empty() {
                            "Land".into()
                        } else {
                            format!("Land (PA 490 {}, use value)", item.pa490.replace('_', " "))
                        },
                        assessed_dollars: item.land_cents / 100,
                    },
                    tb::AssessmentLine {
                        label: "Buildings".into(),
                        assessed_dollars: item.building_cents / 100,
                    },
                ],
            )
        }
    };
    let mut exempt_left = item.exemptions_cents;
    for part in item.exemptions.split(';').filter(|p| !p.is_empty()) {
        if let Some((program, cents)) = part.split_once(':') {
            let c = cents.parse::<i64>().unwrap_or(0).min(exempt_left);
            exempt_left -= c;
            lines.push(tb::AssessmentLine {
                label: label(program),
                assessed_dollars: -(c / 100),
            });
        }
    }
    let installments = dues(gl, &item.property_class, tax)
        .into_iter()
        .map(|d| tb::Installment {
            due: d.due,
            amount_cents: d.cents,
            last_day_without_interest: d.last_day,
        })
        .collect();
    let (account_id, bill_number) = bill_ids(&item.account, &item.parcel_key, year)?;
    Ok(tb::Bill {
        town: town_name.to_owned(),
        collector: tb::TaxCollector {
            name: gl.collector_name.clone(),
            address_lines: gl.collector_address.lines().map(str::to_owned).collect(),
            phone: gl.collector_phone.clone(),
        },
        list_year: year,
        bill_number,
        account_id,
        owners: vec![item.owner.clone()],
        mailing_address: item.address_lines(),
        property,
        assessment_lines: lines,
        net_assessment_dollars: item.net_cents / 100,
        mill_rate: tb::MillRate::parse(&rate.to_string()).map_err(bad)?,
        gross_tax_cents: tax,
        installments,
        months_taxed: None,
        interest_note: tb::CT_INTEREST_NOTE.to_owned(),
        notes: if item.certificate.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "Adjusted bill: the assessment was changed by certificate of correction {}.",
                item.certificate
            )]
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    #[test]
    fn bill_ids_fit_their_boxes_without_being_cut() {
        // The demo's map-block-lot: RE-001-01-001 is 13 characters, so the parcel id stands alone.
        assert_eq!(
            bill_ids("RE-001-01-001", "001-01-001", 2026).unwrap(),
            ("001-01-001".into(), "26-001-01-001".into())
        );
        // Lots 001 and 002 stay apart (cut to 12 and 14 they would not).
        assert_ne!(
            bill_ids("RE-001-01-002", "001-01-002", 2026).unwrap(),
            bill_ids("RE-001-01-001", "001-01-001", 2026).unwrap()
        );
        assert_eq!(
            bill_ids("RE-1-1-1", "1-1-1", 2025).unwrap(),
            ("RE-1-1-1".into(), "2025-RE-1-1-1".into())
        );
        assert_eq!(
            bill_ids("MV-4LA012345", "", 2026).unwrap(),
            ("MV-4LA012345".into(), "26MV-4LA012345".into())
        );
        assert!(bill_ids("RE-1234-5678-9012", "1234-5678-9012", 2026).is_err());
    }

    #[test]
    fn the_mill_rate_rounds_half_up_to_the_places_asked() {
        // $12,345,678 on a net list of $348,765,430: 35.398227… mills (Python's decimal: 12,345,678,000 / 348,765,430).
        let levy = Money::parse("levy", "12,345,678.00").unwrap();
        assert_eq!(
            mill_rate(levy, 34_876_543_000, 2).unwrap().to_string(),
            "35.40"
        );
        assert_eq!(
            mill_rate(levy, 34_876_543_000, 4).unwrap().to_string(),
            "35.3982"
        );
        // An exact half rounds up: $1,000.05 on $100,000 is 10.0005 mills → 10.001 at 3 places.
        assert_eq!(
            mill_rate(Money::from_cents(100_005), 10_000_000, 3)
                .unwrap()
                .to_string(),
            "10.001"
        );
        assert!(mill_rate(levy, 0, 2).is_err());
        assert!(mill_rate(levy, 100, 5).is_err());
    }

    #[test]
    fn tax_is_assessment_times_mills_rounded_to_the_cent() {
        let rate = Decimal::from_str_exact("35.37").unwrap();
        // $283,150 × 35.37 ÷ 1,000 = $10,015.0155 → $10,015.02.
        assert_eq!(tax_cents(28_315_000, rate), 1_001_502);
        // $100 × 35.37 ÷ 1,000 = $3.537 → $3.54.
        assert_eq!(tax_cents(10_000, rate), 354);
        // An exact half cent rounds up: $50 × 0.1 ÷ 1,000 = $0.005 → $0.01.
        assert_eq!(tax_cents(5_000, Decimal::from_str_exact("0.1").unwrap()), 1);
        assert_eq!(tax_cents(0, rate), 0);
    }

    #[test]
    fn installments_follow_the_threshold_and_the_grace_month() {
        // Grand list of 2025: due July 1, 2026 (payable to Aug 3, 2026: Aug 1 is a Saturday)
        // and January 1, 2027 (payable to Feb 1, 2027, a Monday).
        let two = installments(1_001_503, 2025, 10_000);
        assert_eq!(
            two,
            vec![
                Due {
                    due: date!(2026 - 07 - 01),
                    cents: 500_752,
                    last_day: date!(2026 - 08 - 03)
                },
                Due {
                    due: date!(2027 - 01 - 01),
                    cents: 500_751,
                    last_day: date!(2027 - 02 - 01)
                },
            ]
        );
        let one = installments(9_999, 2025, 10_000);
        assert_eq!(
            one,
            vec![Due {
                due: date!(2026 - 07 - 01),
                cents: 9_999,
                last_day: date!(2026 - 08 - 03)
            }]
        );
    }
}
