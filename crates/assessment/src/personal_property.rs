//! Personal property declarations, the grand list's second part
//! (docs/design/0011-personal-property-motor-vehicles.md).
//!
//! Every owner of taxable business personal property declares it to the
//! assessor by November 1 — the next business day when November 1 falls on a
//! weekend (CGS 12-41, 12-42(a)); the assessor may grant an extension of at
//! most 45 days when it is asked for by November 1. The declaration lists the
//! depreciated value of each category of property; the assessment is 70 % of
//! it (CGS 12-62a, 12-63). A declaration filed after the due date carries a
//! penalty of 25 % of the assessment (CGS 12-41(d)); when none is filed the
//! assessor makes one from the best information available and adds the same
//! 25 % (CGS 12-42(b)). Assessments are whole dollars, rounded half up.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{Money, Permission, Timestamp, format_date, parse_date};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, Weekday};

use crate::grand_list;
use crate::parcels::{change, json, new_id, require};

/// The categories of the declaration (the sections of the state's form).
pub const CATEGORIES: [(&str, &str); 6] = [
    ("furniture", "Furniture, fixtures and office equipment"),
    ("machinery", "Machinery and equipment"),
    ("computers", "Computer equipment"),
    ("leasehold", "Leasehold improvements"),
    ("supplies", "Supplies"),
    ("other", "Other taxable goods"),
];

/// One category of a declaration.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Line {
    /// A key of [`CATEGORIES`].
    pub category: String,
    /// The declared depreciated value, cents (whole dollars).
    pub value_cents: i64,
    /// 70 % of it, whole dollars, cents.
    pub assessed_cents: i64,
}

/// A declaration of personal property for one grand list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Declaration {
    /// Id.
    pub id: String,
    /// The grand list (October 1 of this year).
    pub list_year: i64,
    /// The account, `PP-00012`.
    pub account: String,
    /// The business as declared.
    pub business: String,
    /// The owner.
    pub owner: String,
    /// Where the property is kept.
    pub location: String,
    /// Mailing address.
    pub mailing_address: String,
    /// `filed` by the owner, or `estimated` by the assessor (none filed).
    pub source: String,
    /// When it was filed, `YYYY-MM-DD` (empty when estimated).
    pub filed_on: String,
    /// The extended due date the assessor granted, `YYYY-MM-DD` (empty: none).
    pub extended_to: String,
    /// The assessment before penalty, cents.
    pub assessed_cents: i64,
    /// The 25 % penalty, cents (0 when filed on time).
    pub penalty_cents: i64,
    /// Version, for optimistic concurrency.
    pub version: i64,
    /// The categories declared.
    #[sqlx(skip)]
    pub lines: Vec<Line>,
}

impl Declaration {
    /// Assessment plus penalty: what goes on the grand list.
    pub fn total_cents(&self) -> i64 {
        self.assessed_cents + self.penalty_cents
    }
}

/// A declaration as entered.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DeclarationIn {
    /// The grand list (the API takes it from the path).
    #[serde(default)]
    pub list_year: i64,
    /// The account (empty: the next `PP-` number).
    #[serde(default)]
    pub account: String,
    /// The business.
    pub business: String,
    /// The owner.
    pub owner: String,
    /// Where the property is kept.
    pub location: String,
    /// Mailing address.
    #[serde(default)]
    pub mailing_address: String,
    /// `filed` or `estimated`.
    pub source: String,
    /// When it was filed, `YYYY-MM-DD` (for `filed`).
    #[serde(default)]
    pub filed_on: String,
    /// An extended due date the assessor granted, `YYYY-MM-DD` (optional).
    #[serde(default)]
    pub extended_to: String,
    /// Depreciated value by category (keys of the categories), whole dollars.
    pub values: BTreeMap<String, String>,
    /// The version as read, when changing a declaration.
    #[serde(default)]
    pub version: Option<i64>,
}

/// The day declarations are due: November 1 of the list year, or the next
/// business day when it falls on a weekend.
pub fn due_date(list_year: i64) -> Result<Date> {
    let d = i32::try_from(list_year)
        .ok()
        .and_then(|y| Date::from_calendar_date(y, Month::November, 1).ok())
        .ok_or_else(|| Error::invalid("list_year", "out of range"))?;
    Ok(match d.weekday() {
        Weekday::Saturday => d + Duration::days(2),
        Weekday::Sunday => d + Duration::days(1),
        _ => d,
    })
}

/// 70 % of a whole-dollar value, rounded half up to the dollar (cents in, cents out).
pub fn assess(value_cents: i64) -> i64 {
    (value_cents / 100 * 7 + 5) / 10 * 100
}

/// 25 % of a whole-dollar assessment, rounded half up to the dollar.
pub fn penalty(assessed_cents: i64) -> i64 {
    (assessed_cents / 100 * 25 + 50) / 100 * 100
}

fn whole_dollars(field: &str, s: &str) -> Result<i64> {
    let m = Money::parse(field, s.trim())?;
    if m.cents() < 0 {
        return Err(Error::invalid(field, "must not be negative"));
    }
    if m.cents() % 100 != 0 {
        return Err(Error::invalid(field, "declare whole dollars"));
    }
    Ok(m.cents())
}

const COLUMNS: &str = "id, list_year, account, business, owner, location, mailing_address, source, filed_on, extended_to, \
    assessed_cents, penalty_cents, version";

/// Files (or, with `version`, changes) a declaration while its grand list is open.
pub async fn save(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    d: &DeclarationIn,
) -> Result<Declaration> {
    require(scope, Permission::Edit)?;
    let list_year = d.list_year;
    let today = now.datetime().date();
    let october = i32::try_from(list_year)
        .ok()
        .and_then(|y| Date::from_calendar_date(y, Month::October, 1).ok());
    if list_year < 1900 || october.is_none_or(|d| d > today) {
        return Err(Error::invalid(
            "list_year",
            format!("the grand list of October 1, {list_year} has not come yet"),
        ));
    }
    if grand_list::is_signed(scope, tx, list_year).await? {
        return Err(Error::conflict(
            "list_year",
            format!(
                "the {list_year} grand list is signed; it changes only by certificates of correction"
            ),
        ));
    }
    let text = |field: &'static str, v: &str, max: usize| -> Result<String> {
        let v = v.trim();
        if v.is_empty() {
            return Err(Error::invalid(field, "is required"));
        }
        if v.chars().count() > max {
            return Err(Error::invalid(field, format!("at most {max} characters")));
        }
        Ok(v.to_owned())
    };
    let business = text("business", &d.business, 120)?;
    let owner = text("owner", &d.owner, 120)?;
    let location = text("location", &d.location, 120)?;
    let mailing = d.mailing_address.trim().to_owned();
    let due = due_date(list_year)?;
    let extended = match d.extended_to.trim() {
        "" => None,
        s => {
            let e = parse_date("extended_to", s)?;
            let last = due_date(list_year)? + Duration::days(45);
            if e <= due || e > last {
                return Err(Error::invalid(
                    "extended_to",
                    format!(
                        "an extension runs past {} by at most 45 days, to {} (CGS 12-42)",
                        format_date(due),
                        format_date(last)
                    ),
                ));
            }
            Some(e)
        }
    };
    let (source, filed_on, late) = match d.source.trim() {
        "filed" => {
            let f = parse_date("filed_on", d.filed_on.trim())?;
            if f > today {
                return Err(Error::invalid("filed_on", "is in the future"));
            }
            ("filed", format_date(f), f > extended.unwrap_or(due))
        }
        "estimated" => {
            if today <= extended.unwrap_or(due) {
                return Err(Error::invalid(
                    "source",
                    format!(
                        "declarations are due by {}; the assessor estimates only after that",
                        format_date(extended.unwrap_or(due))
                    ),
                ));
            }
            ("estimated", String::new(), true)
        }
        _ => {
            return Err(Error::invalid(
                "source",
                "must be filed (by the owner) or estimated (by the assessor)",
            ));
        }
    };
    let mut lines = Vec::new();
    for (key, value) in &d.values {
        if value.trim().is_empty() {
            continue;
        }
        if !CATEGORIES.iter().any(|c| c.0 == key) {
            return Err(Error::invalid(
                format!("values.{key}"),
                format!(
                    "unknown category; one of {}",
                    CATEGORIES.map(|c| c.0).join(", ")
                ),
            ));
        }
        let cents = whole_dollars(&format!("values.{key}"), value)?;
        if cents > 0 {
            lines.push(Line {
                category: key.clone(),
                value_cents: cents,
                assessed_cents: assess(cents),
            });
        }
    }
    if lines.is_empty() {
        return Err(Error::invalid(
            "values",
            "declare the depreciated value of at least one category",
        ));
    }
    let assessed: i64 = lines.iter().map(|l| l.assessed_cents).sum();
    let penalty_cents = if late { penalty(assessed) } else { 0 };
    let m = scope.municipality_id();
    let account = match d.account.trim() {
        "" => {
            let numbers: Vec<String> = dispatch!(tx, c => sqlx::query_scalar(
                "SELECT account FROM assessment_pp_declarations WHERE municipality_id = $1")
                .bind(m).fetch_all(c).await)?;
            let next = numbers
                .iter()
                .filter_map(|a| a.strip_prefix("PP-")?.parse::<u32>().ok())
                .max()
                .unwrap_or(0)
                + 1;
            format!("PP-{next:05}")
        }
        a if a.starts_with("PP-")
            && a.len() <= 12
            && a[3..].chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            a.to_owned()
        }
        a => {
            return Err(Error::invalid(
                "account",
                format!(
                    "'{a}' is not a personal property account (PP- and up to 9 letters or digits)"
                ),
            ));
        }
    };
    let existing: Option<Declaration> = dispatch!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assessment_pp_declarations WHERE municipality_id = $1 AND list_year = $2 AND account = $3")))
        .bind(m).bind(list_year).bind(&account).fetch_optional(c).await)?;
    let id = match (&existing, d.version) {
        (None, _) => {
            let id = new_id();
            execute!(tx, c => sqlx::query(
                "INSERT INTO assessment_pp_declarations (id, municipality_id, list_year, account, business, owner, location, \
                 mailing_address, source, filed_on, extended_to, assessed_cents, penalty_cents, created_at, created_by, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1)")
                .bind(&id).bind(m).bind(list_year).bind(&account).bind(&business).bind(&owner).bind(&location)
                .bind(&mailing).bind(source).bind(&filed_on).bind(extended.map(format_date).unwrap_or_default())
                .bind(assessed).bind(penalty_cents).bind(now.to_db()).bind(&scope.actor().label).execute(c).await)?;
            id
        }
        (Some(_), None) => {
            return Err(Error::conflict(
                "account",
                format!("{account} already has a {list_year} declaration; open it to change it"),
            ));
        }
        (Some(e), Some(v)) => {
            let n = execute!(tx, c => sqlx::query(
                "UPDATE assessment_pp_declarations SET business = $1, owner = $2, location = $3, mailing_address = $4, source = $5, \
                 filed_on = $6, extended_to = $7, assessed_cents = $8, penalty_cents = $9, version = version + 1 \
                 WHERE municipality_id = $10 AND id = $11 AND version = $12")
                .bind(&business).bind(&owner).bind(&location).bind(&mailing).bind(source).bind(&filed_on)
                .bind(extended.map(format_date).unwrap_or_default()).bind(assessed).bind(penalty_cents)
                .bind(m).bind(&e.id).bind(v).execute(c).await)?;
            if n != 1 {
                return Err(Error::conflict(
                    "version",
                    format!(
                        "the declaration of {account} changed since you read it (version {}); reload and try again",
                        e.version
                    ),
                ));
            }
            execute!(tx, c => sqlx::query("DELETE FROM assessment_pp_lines WHERE municipality_id = $1 AND declaration_id = $2")
                .bind(m).bind(&e.id).execute(c).await)?;
            e.id.clone()
        }
    };
    for l in &lines {
        execute!(tx, c => sqlx::query(
            "INSERT INTO assessment_pp_lines (declaration_id, municipality_id, category, value_cents, assessed_cents) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id).bind(m).bind(&l.category).bind(l.value_cents).bind(l.assessed_cents).execute(c).await)?;
    }
    let saved = get(scope, tx, &id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            if existing.is_some() {
                "pp_declaration.update"
            } else {
                "pp_declaration.file"
            },
            "pp_declaration",
            &id,
            existing.as_ref().map(json).transpose()?,
            Some(json(&saved)?),
        ),
    )
    .await?;
    Ok(saved)
}

/// One declaration with its lines.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<Declaration> {
    require(scope, Permission::View)?;
    let m = scope.municipality_id();
    let mut d: Declaration = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assessment_pp_declarations WHERE municipality_id = $1 AND id = $2")))
        .bind(m).bind(id).fetch_optional(c).await)?
    .ok_or(Error::NotFound {
        what: "declaration",
    })?;
    d.lines = dispatch!(ex, c => sqlx::query_as(
        "SELECT category, value_cents, assessed_cents FROM assessment_pp_lines WHERE municipality_id = $1 AND declaration_id = $2 ORDER BY category")
        .bind(m).bind(id).fetch_all(c).await)?;
    Ok(d)
}

/// The declarations of a grand list, by account.
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<Vec<Declaration>> {
    require(scope, Permission::View)?;
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assessment_pp_declarations WHERE municipality_id = $1 AND list_year = $2 ORDER BY account")))
        .bind(scope.municipality_id()).bind(list_year).fetch_all(c).await)?,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    #[test]
    fn declarations_are_due_on_november_1_or_the_next_business_day() {
        // November 1, 2025 was a Saturday; 2026 a Sunday; 2027 a Monday.
        assert_eq!(due_date(2025).unwrap(), date!(2025 - 11 - 03));
        assert_eq!(due_date(2026).unwrap(), date!(2026 - 11 - 02));
        assert_eq!(due_date(2027).unwrap(), date!(2027 - 11 - 01));
    }

    #[test]
    fn seventy_percent_and_the_penalty_round_half_up_to_the_dollar() {
        // $12,345 × 0.7 = $8,641.50 → $8,642; 25 % of $8,642 = $2,160.50 → $2,161.
        assert_eq!(assess(1_234_500), 864_200);
        assert_eq!(penalty(864_200), 216_100);
        // $10 × 0.7 = $7 exactly; 25 % of $7 = $1.75 → $2.
        assert_eq!(assess(1_000), 700);
        assert_eq!(penalty(700), 200);
    }
}
