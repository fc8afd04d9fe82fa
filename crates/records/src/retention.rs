//! Retention: the schedules M1–M16 (product data), the series catalog (the region's, entered or
//! imported by the council administrator, and each town's local series), and each document's
//! end of retention (`retention_due`) computed from its type's series and its trigger date.
//!
//! A rule is written as the State Library writes it: *trigger + N years*, `permanent`,
//! `life of structure`, or `follow <series>`. Only a series whose disposition is "destroy after
//! the signed form" can ever fall due; permanent, life-of-structure, retain-in-agency and
//! archival-review series never do, and the document page says why. A document is retained
//! through its due date and is eligible for disposal from the day after.

use std::collections::{BTreeMap, HashMap};

use munishare_platform::access::{CouncilAdmin, ServiceScope};
use munishare_platform::audit::{self, Change};
use munishare_platform::db::{self, Db, Executor, Tx};
use munishare_platform::types::{Permission, Service, Timestamp};
use munishare_platform::{Error, Result, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::{change, new_id, opt_text, parse_date, require};

/// The index of the municipal schedules, as the State Library lists it (see data/PROVENANCE.md).
const SCHEDULES_CSV: &str = include_str!("../data/retention_schedules.csv");

/// A general retention schedule for municipalities (M1–M16).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Schedule {
    /// `M1` … `M16`, `M15.1`.
    pub code: String,
    /// Its title.
    pub title: String,
    /// Its revision as listed (`MM/YYYY`).
    pub revision: String,
}

/// The 17 schedules, in the State Library's order.
pub fn schedules() -> Vec<Schedule> {
    let mut r = csv::Reader::from_reader(SCHEDULES_CSV.as_bytes());
    r.records()
        .filter_map(std::result::Result::ok)
        .map(|rec| Schedule {
            code: rec.get(0).unwrap_or_default().to_owned(),
            title: rec.get(1).unwrap_or_default().to_owned(),
            revision: rec.get(2).unwrap_or_default().to_owned(),
        })
        .collect()
}

/// The code a town's own series are filed under instead of a State schedule.
pub const LOCAL_SCHEDULE: &str = "LOCAL";

/// What starts a retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The document's own date.
    Creation,
    /// December 31 of the document date's year.
    CalendarYearEnd,
    /// June 30 ending the fiscal year of the document date.
    FiscalYearEnd,
    /// The date the audit was completed (recorded on the document).
    Audit,
    /// The issue date (the document's own date).
    Issue,
    /// The expiration date (recorded on the document).
    Expiration,
    /// The date the project was completed (recorded on the document).
    ProjectCompletion,
    /// An event's date, e.g. a lawsuit's resolution (recorded on the document).
    Event,
}

impl Trigger {
    const ALL: [Trigger; 8] = [
        Trigger::Creation,
        Trigger::CalendarYearEnd,
        Trigger::FiscalYearEnd,
        Trigger::Audit,
        Trigger::Issue,
        Trigger::Expiration,
        Trigger::ProjectCompletion,
        Trigger::Event,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Creation => "creation",
            Trigger::CalendarYearEnd => "calendar_year_end",
            Trigger::FiscalYearEnd => "fiscal_year_end",
            Trigger::Audit => "audit",
            Trigger::Issue => "issue",
            Trigger::Expiration => "expiration",
            Trigger::ProjectCompletion => "project_completion",
            Trigger::Event => "event",
        }
    }

    /// From its stored form.
    pub fn parse(s: &str) -> Option<Trigger> {
        Self::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }

    /// As the State Library writes it.
    pub fn words(self) -> &'static str {
        match self {
            Trigger::Creation => "Creation date",
            Trigger::CalendarYearEnd => "Calendar year end",
            Trigger::FiscalYearEnd => "Fiscal year end",
            Trigger::Audit => "After audit",
            Trigger::Issue => "Issue date",
            Trigger::Expiration => "Expiration date",
            Trigger::ProjectCompletion => "Date project completed",
            Trigger::Event => "Event date",
        }
    }

    /// Whether the period starts from a date a user records on the document (not its own date).
    pub fn needs_trigger_date(self) -> bool {
        matches!(
            self,
            Trigger::Audit | Trigger::Expiration | Trigger::ProjectCompletion | Trigger::Event
        )
    }
}

/// How long a series is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Trigger + N years.
    Years(Trigger, i32),
    /// Never destroyed.
    Permanent,
    /// As long as the structure stands.
    LifeOfStructure,
    /// The retention of another series (by code).
    Follow(String),
}

impl Rule {
    /// The rule in words, e.g. "Fiscal year end + 3 years".
    pub fn words(&self) -> String {
        match self {
            Rule::Years(t, 1) => format!("{} + 1 year", t.words()),
            Rule::Years(t, n) => format!("{} + {n} years", t.words()),
            Rule::Permanent => "Permanent".into(),
            Rule::LifeOfStructure => "Life of structure".into(),
            Rule::Follow(c) => format!("Follow the retention of {c}"),
        }
    }
}

/// What happens when the period ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Destroy after receipt of the signed form (RC-075).
    Destroy,
    /// Retain in agency.
    Retain,
    /// Archival review required.
    ArchivalReview,
}

impl Disposition {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Destroy => "destroy",
            Disposition::Retain => "retain",
            Disposition::ArchivalReview => "archival_review",
        }
    }

    fn parse(s: &str) -> Option<Disposition> {
        match s.trim() {
            "destroy" => Some(Disposition::Destroy),
            "retain" => Some(Disposition::Retain),
            "archival_review" => Some(Disposition::ArchivalReview),
            _ => None,
        }
    }

    /// As the State Library writes it.
    pub fn words(self) -> &'static str {
        match self {
            Disposition::Destroy => "Destroy after receipt of signed form",
            Disposition::Retain => "Retain in agency",
            Disposition::ArchivalReview => "Archival review required",
        }
    }
}

/// When a document's retention ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Retained through this date; eligible for disposal from the day after.
    On(Date),
    /// Never falls due, and why.
    Never(String),
    /// Cannot be computed yet, and what is missing.
    Pending(String),
}

/// `date` + `years`, February 29 becoming February 28 in a common year.
pub fn add_years(date: Date, years: i32) -> Option<Date> {
    let y = date.year().checked_add(years)?;
    Date::from_calendar_date(y, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(y, date.month(), date.day() - 1))
        .ok()
}

/// The end of retention under `rule` (already resolved: never `Follow`) with `disposition`.
pub fn due_date(
    rule: &Rule,
    disposition: Disposition,
    document_date: Option<Date>,
    trigger_date: Option<Date>,
) -> Due {
    match rule {
        Rule::Permanent => return Due::Never("permanent: never disposed of".into()),
        Rule::LifeOfStructure => {
            return Due::Never("kept for the life of the structure".into());
        }
        Rule::Follow(c) => return Due::Pending(format!("follows {c}, which was not found")),
        Rule::Years(..) => {}
    }
    match disposition {
        Disposition::Retain => return Due::Never("retained in the agency".into()),
        Disposition::ArchivalReview => {
            return Due::Never("archival review required: never disposed of from here".into());
        }
        Disposition::Destroy => {}
    }
    let Rule::Years(trigger, n) = rule else {
        return Due::Pending(String::new());
    };
    let base = if trigger.needs_trigger_date() {
        match trigger_date {
            Some(d) => d,
            None => {
                return Due::Pending(format!(
                    "waiting for the {} to be recorded on the document",
                    trigger.words().to_lowercase()
                ));
            }
        }
    } else {
        let Some(d) = document_date else {
            return Due::Pending("the document has no document date".into());
        };
        match trigger {
            Trigger::CalendarYearEnd => {
                Date::from_calendar_date(d.year(), Month::December, 31).unwrap_or(d)
            }
            Trigger::FiscalYearEnd => {
                let y = if u8::from(d.month()) <= 6 {
                    d.year()
                } else {
                    d.year() + 1
                };
                Date::from_calendar_date(y, Month::June, 30).unwrap_or(d)
            }
            _ => d,
        }
    };
    match add_years(base, *n) {
        Some(d) => Due::On(d),
        None => Due::Pending("the date is out of range".into()),
    }
}

/// A retention series as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Series {
    /// Id.
    pub id: String,
    /// `region` (the council's catalog) or `town` (a town's local series).
    pub level: String,
    /// `M1` … `M16`, `M15.1`, or `LOCAL` for a town's own series.
    pub schedule: String,
    /// The series code, e.g. `M3-120`.
    pub code: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// `years`, `permanent`, `life_of_structure` or `follow`.
    pub rule: String,
    /// The trigger of a `years` rule.
    pub trigger: Option<Trigger>,
    /// N of a `years` rule.
    pub years: Option<i32>,
    /// The followed series' code of a `follow` rule.
    pub follow: Option<String>,
    /// The rule in words, e.g. "Fiscal year end + 3 years".
    pub rule_words: String,
    /// What happens at the end.
    pub disposition: Disposition,
    /// The disposition in words.
    pub disposition_words: String,
    /// An essential record.
    pub essential: bool,
    /// `entered`, `imported` or `illustrative` (demo data, not the State Library's).
    pub source: String,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl Series {
    /// The rule.
    pub fn rule(&self) -> Rule {
        match (self.rule.as_str(), self.trigger, self.years, &self.follow) {
            ("years", Some(t), Some(n), _) => Rule::Years(t, n),
            ("life_of_structure", ..) => Rule::LifeOfStructure,
            ("follow", _, _, Some(c)) => Rule::Follow(c.clone()),
            _ => Rule::Permanent,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SeriesRow {
    id: String,
    municipality_id: Option<String>,
    schedule: String,
    code: String,
    title: String,
    description: String,
    rule_kind: String,
    trigger_kind: Option<String>,
    years: Option<i64>,
    follow_code: Option<String>,
    disposition: String,
    essential: bool,
    source: String,
    created_at: String,
    updated_at: String,
}

impl SeriesRow {
    fn into_series(self) -> Series {
        let disposition = Disposition::parse(&self.disposition).unwrap_or(Disposition::Retain);
        let mut s = Series {
            id: self.id,
            level: if self.municipality_id.is_some() {
                "town".into()
            } else {
                "region".into()
            },
            schedule: self.schedule,
            code: self.code,
            title: self.title,
            description: self.description,
            rule: self.rule_kind,
            trigger: self.trigger_kind.as_deref().and_then(Trigger::parse),
            years: self.years.and_then(|y| i32::try_from(y).ok()),
            follow: self.follow_code,
            rule_words: String::new(),
            disposition,
            disposition_words: disposition.words().into(),
            essential: self.essential,
            source: self.source,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        s.rule_words = s.rule().words();
        s
    }
}

const SERIES_COLS: &str = "SELECT id, municipality_id, schedule, code, title, description, rule_kind, trigger_kind, years, \
    follow_code, disposition, essential, source, created_at, updated_at FROM records_retention_series";

/// The region's catalog, by schedule and code (anyone signed in may read it).
pub async fn region_catalog(ex: &mut impl Executor) -> Result<Vec<Series>> {
    let sql = format!("{SERIES_COLS} WHERE municipality_id IS NULL ORDER BY schedule, code");
    let rows: Vec<SeriesRow> =
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)?;
    Ok(sort(rows.into_iter().map(SeriesRow::into_series).collect()))
}

/// The series a town uses: the region's and its own local series (view in records).
pub async fn town_catalog(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Series>> {
    require(scope, Permission::View)?;
    catalog_of(ex, scope.municipality_id().as_str()).await
}

async fn catalog_of(ex: &mut impl Executor, municipality: &str) -> Result<Vec<Series>> {
    let sql = format!("{SERIES_COLS} WHERE municipality_id IS NULL OR municipality_id = $1");
    let rows: Vec<SeriesRow> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(municipality).fetch_all(c).await)?;
    Ok(sort(rows.into_iter().map(SeriesRow::into_series).collect()))
}

/// Orders series by schedule (M1, M2, …, M15, M15.1, M16, LOCAL) then code.
fn sort(mut v: Vec<Series>) -> Vec<Series> {
    let order: Vec<String> = schedules().into_iter().map(|s| s.code).collect();
    v.sort_by_key(|s| {
        (
            order
                .iter()
                .position(|c| *c == s.schedule)
                .unwrap_or(usize::MAX),
            natural(&s.code),
        )
    });
    v
}

/// A key that sorts `M3-20` before `M3-120`.
fn natural(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
        } else {
            if !num.is_empty() {
                out.push((std::mem::take(&mut text), num.parse().unwrap_or(u64::MAX)));
                num.clear();
            }
            text.push(ch);
        }
    }
    out.push((text, num.parse().unwrap_or(0)));
    out
}

/// A series of the town's catalog (the region's or its own) by id; 404 otherwise.
pub async fn get_for_town(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
) -> Result<Series> {
    require(scope, Permission::View)?;
    let sql = format!(
        "{SERIES_COLS} WHERE id = $1 AND (municipality_id IS NULL OR municipality_id = $2)"
    );
    let row: Option<SeriesRow> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id).bind(scope.municipality_id()).fetch_optional(c).await)?;
    row.map(SeriesRow::into_series)
        .ok_or(Error::NotFound { what: "series" })
}

/// A series of the town's catalog by id or code, for a field; 422 naming `field` when unknown.
pub async fn find_for_town(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    field: &str,
    id_or_code: &str,
) -> Result<Series> {
    let want = id_or_code.trim();
    catalog_of(ex, scope.municipality_id().as_str())
        .await?
        .into_iter()
        // The town's own series first when a code is in both (it cannot be: codes are checked).
        .find(|s| s.id == want || s.code.eq_ignore_ascii_case(want))
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "there is no retention series '{}' in the catalog of {}",
                    want.chars().take(40).collect::<String>(),
                    scope.town().name
                ),
            )
        })
}

/// A series to create or change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SeriesIn {
    /// `M1` … `M16`, `M15.1` (region); a town's local series are filed under `LOCAL` whatever is given.
    #[serde(default)]
    pub schedule: String,
    /// The series code, 1 to 40 characters (letters, digits, `-`, `.`), unique in the catalog.
    pub code: String,
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 2,000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// `years` (trigger + N years), `permanent`, `life_of_structure` or `follow`.
    pub rule: String,
    /// The trigger of a `years` rule.
    #[serde(default)]
    pub trigger: Option<String>,
    /// N of a `years` rule (0 to 100).
    #[serde(default)]
    pub years: Option<i32>,
    /// The code of the series whose retention a `follow` rule takes.
    #[serde(default)]
    pub follow: Option<String>,
    /// `destroy`, `retain` or `archival_review`.
    pub disposition: String,
    /// An essential record.
    #[serde(default)]
    pub essential: bool,
}

struct Checked {
    schedule: String,
    code: String,
    title: String,
    description: String,
    rule: &'static str,
    trigger: Option<Trigger>,
    years: Option<i32>,
    follow: Option<String>,
    disposition: Disposition,
    essential: bool,
}

/// Checks a series; errors name the field (`prefix` + field name).
fn check(req: &SeriesIn, local: bool, prefix: &str) -> Result<Checked> {
    let f = |n: &str| format!("{prefix}{n}");
    let schedule = if local {
        LOCAL_SCHEDULE.to_owned()
    } else {
        let s = req.schedule.trim();
        let known = schedules();
        match known.iter().find(|k| k.code.eq_ignore_ascii_case(s)) {
            Some(k) => k.code.clone(),
            None => {
                return Err(Error::invalid(
                    f("schedule"),
                    format!(
                        "'{}' is not a municipal schedule (M1 to M16, M15.1)",
                        s.chars().take(20).collect::<String>()
                    ),
                ));
            }
        }
    };
    let code = req.code.trim().to_owned();
    if code.is_empty()
        || code.len() > 40
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(Error::invalid(
            f("code"),
            "use 1 to 40 letters, digits, '-' or '.' (e.g. M3-120)",
        ));
    }
    let title = opt_text(&f("title"), Some(&req.title), 200)?
        .ok_or_else(|| Error::invalid(f("title"), "a series needs a title"))?;
    let description =
        opt_text(&f("description"), req.description.as_deref(), 2000)?.unwrap_or_default();
    let disposition = Disposition::parse(&req.disposition).ok_or_else(|| {
        Error::invalid(
            f("disposition"),
            "must be destroy, retain or archival_review",
        )
    })?;
    let (rule, trigger, years, follow) = match req.rule.trim() {
        "years" => {
            let t = req
                .trigger
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| Error::invalid(f("trigger"), "a years rule needs a trigger"))?;
            let t = Trigger::parse(t).ok_or_else(|| {
                Error::invalid(
                    f("trigger"),
                    "must be creation, calendar_year_end, fiscal_year_end, audit, issue, expiration, project_completion or event",
                )
            })?;
            let n = req.years.ok_or_else(|| {
                Error::invalid(f("years"), "a years rule needs a number of years")
            })?;
            if !(0..=100).contains(&n) {
                return Err(Error::invalid(f("years"), "must be 0 to 100"));
            }
            ("years", Some(t), Some(n), None)
        }
        "permanent" => ("permanent", None, None, None),
        "life_of_structure" => ("life_of_structure", None, None, None),
        "follow" => {
            let c = req
                .follow
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    Error::invalid(f("follow"), "a follow rule names the series it follows")
                })?;
            if c.eq_ignore_ascii_case(&code) {
                return Err(Error::invalid(f("follow"), "a series cannot follow itself"));
            }
            ("follow", None, None, Some(c.to_owned()))
        }
        _ => {
            return Err(Error::invalid(
                f("rule"),
                "must be years, permanent, life_of_structure or follow",
            ));
        }
    };
    Ok(Checked {
        schedule,
        code,
        title,
        description,
        rule,
        trigger,
        years,
        follow,
        disposition,
        essential: req.essential,
    })
}

/// Refuses a code already in the catalog the series belongs to (the region's and, for a town's
/// series, the town's): codes must name one series wherever a town looks.
async fn unique_code(
    ex: &mut impl Executor,
    municipality: Option<&str>,
    code: &str,
    except: &str,
    field: &str,
) -> Result<()> {
    // A region code must not be taken by any town's local series either.
    let n: i64 = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM records_retention_series WHERE LOWER(code) = LOWER($1) AND id <> $2 \
         AND ($3 = '' OR municipality_id IS NULL OR municipality_id = $3)")
        .bind(code).bind(except).bind(municipality.unwrap_or("")).fetch_one(c).await)?;
    if n > 0 {
        Err(Error::conflict(
            field,
            format!("the catalog already has a series {code}"),
        ))
    } else {
        Ok(())
    }
}

/// Refuses a follow target that is not in the catalog the series sees.
async fn follow_exists(
    ex: &mut impl Executor,
    municipality: Option<&str>,
    c: &Checked,
    pending: &[String],
    field: &str,
) -> Result<()> {
    let Some(target) = &c.follow else {
        return Ok(());
    };
    if pending.iter().any(|p| p.eq_ignore_ascii_case(target)) {
        return Ok(());
    }
    let n: i64 = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM records_retention_series WHERE LOWER(code) = LOWER($1) \
         AND (municipality_id IS NULL OR municipality_id = $2)")
        .bind(target).bind(municipality.unwrap_or("")).fetch_one(c).await)?;
    if n == 0 {
        Err(Error::invalid(
            field,
            format!("there is no series {target} to follow"),
        ))
    } else {
        Ok(())
    }
}

async fn insert(
    tx: &mut Tx,
    now: Timestamp,
    municipality: Option<&str>,
    c: &Checked,
    source: &str,
) -> Result<String> {
    let id = new_id();
    execute!(tx, q => sqlx::query(
        "INSERT INTO records_retention_series (id, municipality_id, schedule, code, title, description, rule_kind, \
         trigger_kind, years, follow_code, disposition, essential, source, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)")
        .bind(&id).bind(municipality).bind(&c.schedule).bind(&c.code).bind(&c.title).bind(&c.description)
        .bind(c.rule).bind(c.trigger.map(Trigger::as_str)).bind(c.years.map(i64::from)).bind(&c.follow)
        .bind(c.disposition.as_str()).bind(c.essential).bind(source).bind(now.to_db()).execute(q).await)?;
    Ok(id)
}

async fn update_row(tx: &mut Tx, now: Timestamp, id: &str, c: &Checked) -> Result<()> {
    execute!(tx, q => sqlx::query(
        "UPDATE records_retention_series SET schedule = $2, code = $3, title = $4, description = $5, rule_kind = $6, \
         trigger_kind = $7, years = $8, follow_code = $9, disposition = $10, essential = $11, updated_at = $12 WHERE id = $1")
        .bind(id).bind(&c.schedule).bind(&c.code).bind(&c.title).bind(&c.description)
        .bind(c.rule).bind(c.trigger.map(Trigger::as_str)).bind(c.years.map(i64::from)).bind(&c.follow)
        .bind(c.disposition.as_str()).bind(c.essential).bind(now.to_db()).execute(q).await)?;
    Ok(())
}

async fn get_any(ex: &mut impl Executor, id: &str) -> Result<Option<(Option<String>, Series)>> {
    let sql = format!("{SERIES_COLS} WHERE id = $1");
    let row: Option<SeriesRow> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id).fetch_optional(c).await)?;
    Ok(row.map(|r| (r.municipality_id.clone(), r.into_series())))
}

fn region_change(
    action: &'static str,
    id: &str,
    before: Option<&Series>,
    after: Option<&Series>,
) -> Change {
    Change {
        municipality_id: None,
        service: Some(Service::Records),
        action,
        entity_type: "records_retention_series",
        entity_id: id.to_owned(),
        before: before.map(|s| serde_json::json!(s)),
        after: after.map(|s| serde_json::json!(s)),
    }
}

/// Adds a series to the region's catalog (council administrator); audited.
pub async fn create_region(
    admin: &CouncilAdmin,
    tx: &mut Tx,
    now: Timestamp,
    req: &SeriesIn,
) -> Result<Series> {
    let c = check(req, false, "")?;
    unique_code(tx, None, &c.code, "", "code").await?;
    follow_exists(tx, None, &c, &[], "follow").await?;
    let id = insert(tx, now, None, &c, "entered").await?;
    let s = get_any(tx, &id)
        .await?
        .ok_or(Error::NotFound { what: "series" })?
        .1;
    audit::record(
        tx,
        now,
        admin.actor(),
        region_change("records.series.create", &id, None, Some(&s)),
    )
    .await?;
    Ok(s)
}

/// Changes a series of the region's catalog (council administrator); the documents of every
/// town whose types use it (or follow it) get their due dates again; audited.
pub async fn update_region(
    admin: &CouncilAdmin,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    req: &SeriesIn,
) -> Result<Series> {
    let Some((None, before)) = get_any(tx, id).await? else {
        return Err(Error::NotFound { what: "series" });
    };
    let c = check(req, false, "")?;
    unique_code(tx, None, &c.code, id, "code").await?;
    follow_exists(tx, None, &c, &[], "follow").await?;
    renamed_in_use(tx, &before, &c.code).await?;
    update_row(tx, now, id, &c).await?;
    let after = get_any(tx, id)
        .await?
        .ok_or(Error::NotFound { what: "series" })?
        .1;
    recompute(tx, &Scope::All).await?;
    audit::record(
        tx,
        now,
        admin.actor(),
        region_change("records.series.update", id, Some(&before), Some(&after)),
    )
    .await?;
    Ok(after)
}

/// A series another follows keeps its code (the follower names it by code).
async fn renamed_in_use(ex: &mut impl Executor, before: &Series, code: &str) -> Result<()> {
    if before.code.eq_ignore_ascii_case(code) {
        return Ok(());
    }
    let n: i64 = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM records_retention_series WHERE LOWER(follow_code) = LOWER($1)")
        .bind(&before.code).fetch_one(c).await)?;
    if n > 0 {
        return Err(Error::conflict(
            "code",
            format!(
                "{n} series follow {}; change them before renaming it",
                before.code
            ),
        ));
    }
    Ok(())
}

/// Adds a local series to the town's catalog (administer in records); audited.
pub async fn create_local(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &SeriesIn,
) -> Result<Series> {
    require(scope, Permission::Administer)?;
    let m = scope.municipality_id().as_str().to_owned();
    let c = check(req, true, "")?;
    unique_code(tx, Some(&m), &c.code, "", "code").await?;
    follow_exists(tx, Some(&m), &c, &[], "follow").await?;
    let id = insert(tx, now, Some(&m), &c, "entered").await?;
    let s = get_for_town(scope, tx, &id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.series.create",
            "records_retention_series",
            &id,
            None,
            Some(serde_json::json!(s)),
        ),
    )
    .await?;
    Ok(s)
}

/// Changes one of the town's local series (administer); the region's cannot be changed here
/// (403); the town's documents get their due dates again; audited.
pub async fn update_local(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    req: &SeriesIn,
) -> Result<Series> {
    let before = get_for_town(scope, tx, id).await?;
    require(scope, Permission::Administer)?;
    if before.level != "town" {
        return Err(Error::Forbidden(format!(
            "{} is in the region's catalog; only the council administrator changes it",
            before.code
        )));
    }
    let m = scope.municipality_id().as_str().to_owned();
    let c = check(req, true, "")?;
    unique_code(tx, Some(&m), &c.code, id, "code").await?;
    follow_exists(tx, Some(&m), &c, &[], "follow").await?;
    renamed_in_use(tx, &before, &c.code).await?;
    update_row(tx, now, id, &c).await?;
    let after = get_for_town(scope, tx, id).await?;
    recompute(tx, &Scope::Town(m)).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.series.update",
            "records_retention_series",
            id,
            Some(serde_json::json!(before)),
            Some(serde_json::json!(after)),
        ),
    )
    .await?;
    Ok(after)
}

/// One problem of an import, by row (the header is row 1) and column.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowProblem {
    /// Row as a spreadsheet shows it (the header is row 1; 0 for the whole file).
    pub row: u64,
    /// Column name; empty when the problem is not in one column.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SeriesImport {
    /// `done` or `rejected` (nothing was changed).
    pub status: String,
    /// Series read.
    pub rows: u64,
    /// Series added.
    pub added: u64,
    /// Series changed (same code).
    pub updated: u64,
    /// Every problem of a rejected file, by row and column.
    pub problems: Vec<RowProblem>,
}

/// The columns of an import file (header row required; order free).
pub const IMPORT_COLUMNS: [&str; 10] = [
    "schedule",
    "code",
    "title",
    "description",
    "rule",
    "trigger",
    "years",
    "follow",
    "disposition",
    "essential",
];

/// Reads an import CSV into series, or every problem by row and column.
pub fn parse_import(bytes: &[u8]) -> std::result::Result<Vec<(u64, SeriesIn)>, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = match r.headers() {
        Ok(h) => h
            .iter()
            .map(|c| c.trim().trim_start_matches('\u{feff}').to_lowercase())
            .collect(),
        Err(e) => {
            return Err(vec![RowProblem {
                row: 1,
                column: String::new(),
                message: format!("the header does not read: {e}"),
            }]);
        }
    };
    for need in ["schedule", "code", "title", "rule", "disposition"] {
        if !header.iter().any(|h| h == need) {
            problems.push(RowProblem {
                row: 1,
                column: need.into(),
                message: "this column is missing".into(),
            });
        }
    }
    for h in &header {
        if !IMPORT_COLUMNS.contains(&h.as_str()) {
            problems.push(RowProblem {
                row: 1,
                column: h.clone(),
                message: format!("unknown column (expected {})", IMPORT_COLUMNS.join(", ")),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let col = |rec: &csv::StringRecord, name: &str| -> Option<String> {
        header
            .iter()
            .position(|h| h == name)
            .and_then(|i| rec.get(i))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let row = i as u64 + 2;
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                problems.push(RowProblem {
                    row,
                    column: String::new(),
                    message: format!("the row does not read: {e}"),
                });
                continue;
            }
        };
        if rec.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let years = match col(&rec, "years") {
            None => None,
            Some(y) => match y.parse::<i32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push(RowProblem {
                        row,
                        column: "years".into(),
                        message: format!(
                            "'{}' is not a whole number of years",
                            y.chars().take(20).collect::<String>()
                        ),
                    });
                    continue;
                }
            },
        };
        let essential = match col(&rec, "essential")
            .as_deref()
            .map(str::to_lowercase)
            .as_deref()
        {
            None | Some("no" | "false" | "n" | "0") => false,
            Some("yes" | "true" | "y" | "1") => true,
            Some(other) => {
                problems.push(RowProblem {
                    row,
                    column: "essential".into(),
                    message: format!(
                        "'{}' is not yes or no",
                        other.chars().take(20).collect::<String>()
                    ),
                });
                continue;
            }
        };
        let s = SeriesIn {
            schedule: col(&rec, "schedule").unwrap_or_default(),
            code: col(&rec, "code").unwrap_or_default(),
            title: col(&rec, "title").unwrap_or_default(),
            description: col(&rec, "description"),
            rule: col(&rec, "rule").unwrap_or_default(),
            trigger: col(&rec, "trigger"),
            years,
            follow: col(&rec, "follow"),
            disposition: col(&rec, "disposition").unwrap_or_default(),
            essential,
        };
        match check(&s, false, "") {
            Ok(_) => out.push((row, s)),
            Err(Error::Invalid { field, message }) => problems.push(RowProblem {
                row,
                column: field,
                message,
            }),
            Err(e) => problems.push(RowProblem {
                row,
                column: String::new(),
                message: e.to_string(),
            }),
        }
    }
    // A code twice in the file.
    for (i, (row, s)) in out.iter().enumerate() {
        if let Some((first, _)) = out[..i]
            .iter()
            .find(|(_, o)| o.code.eq_ignore_ascii_case(&s.code))
        {
            problems.push(RowProblem {
                row: *row,
                column: "code".into(),
                message: format!("{} is also on row {first}", s.code),
            });
        }
    }
    if out.is_empty() && problems.is_empty() {
        problems.push(RowProblem {
            row: 0,
            column: String::new(),
            message: "the file has no series".into(),
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Imports series into the region's catalog (council administrator): all or nothing; a code
/// already in the catalog is updated, a new one added; every problem names row and column;
/// audited (one event for the file).
pub async fn import_region(
    admin: &CouncilAdmin,
    db: &Db,
    now: Timestamp,
    file_name: &str,
    bytes: &[u8],
) -> Result<SeriesImport> {
    let rejected = |problems: Vec<RowProblem>, rows: u64| SeriesImport {
        status: "rejected".into(),
        rows,
        added: 0,
        updated: 0,
        problems,
    };
    let parsed = match parse_import(bytes) {
        Ok(p) => p,
        Err(problems) => return Ok(rejected(problems, 0)),
    };
    let rows = parsed.len() as u64;
    let mut tx = db.begin().await?;
    let existing = region_catalog(&mut tx).await?;
    let codes: Vec<String> = parsed.iter().map(|(_, s)| s.code.clone()).collect();
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for (row, s) in &parsed {
        let c = match check(s, false, "") {
            Ok(c) => c,
            Err(e) => {
                problems.push(RowProblem {
                    row: *row,
                    column: String::new(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        if let Err(Error::Invalid { message, .. }) =
            follow_exists(&mut tx, None, &c, &codes, "follow").await
        {
            problems.push(RowProblem {
                row: *row,
                column: "follow".into(),
                message,
            });
        }
        let same = existing
            .iter()
            .find(|e| e.code.eq_ignore_ascii_case(&c.code))
            .map(|e| e.id.clone());
        if same.is_none() {
            let taken: i64 = dispatch!(&mut tx, q => sqlx::query_scalar(
                "SELECT COUNT(*) FROM records_retention_series WHERE LOWER(code) = LOWER($1) AND municipality_id IS NOT NULL")
                .bind(&c.code).fetch_one(q).await)?;
            if taken > 0 {
                problems.push(RowProblem {
                    row: *row,
                    column: "code".into(),
                    message: format!("{} is a town's local series", c.code),
                });
            }
        }
        checked.push((same, c));
    }
    if !problems.is_empty() {
        drop(tx);
        return Ok(rejected(problems, rows));
    }
    let (mut added, mut updated) = (0, 0);
    for (same, c) in &checked {
        match same {
            Some(id) => {
                update_row(&mut tx, now, id, c).await?;
                updated += 1;
            }
            None => {
                insert(&mut tx, now, None, c, "imported").await?;
                added += 1;
            }
        }
    }
    recompute(&mut tx, &Scope::All).await?;
    audit::record(&mut tx, now, admin.actor(), Change {
        municipality_id: None,
        service: Some(Service::Records),
        action: "records.series.import",
        entity_type: "records_retention_series",
        entity_id: "region".into(),
        before: None,
        after: Some(serde_json::json!({"file": file_name, "rows": rows, "added": added, "updated": updated, "codes": codes})),
    }).await?;
    tx.commit().await?;
    Ok(SeriesImport {
        status: "done".into(),
        rows,
        added,
        updated,
        problems: Vec::new(),
    })
}

/// Follows `follow` rules (at most 5 steps) to the rule that decides, with the disposition of the
/// series that has it.
pub fn resolve<'a>(s: &'a Series, catalog: &'a [Series]) -> (Rule, Disposition, &'a Series) {
    let mut cur = s;
    for _ in 0..5 {
        match cur.rule() {
            Rule::Follow(code) => match catalog.iter().find(|x| x.code.eq_ignore_ascii_case(&code))
            {
                Some(next) => cur = next,
                None => return (Rule::Follow(code), cur.disposition, cur),
            },
            r => return (r, cur.disposition, cur),
        }
    }
    (Rule::Follow(cur.code.clone()), cur.disposition, cur)
}

/// Which documents to compute again.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every town's.
    All,
    /// One town's.
    Town(String),
    /// Some documents of a town.
    Documents(String, Vec<String>),
}

/// Computes `retention_due` again for the documents of `which` that have a typed series.
pub async fn recompute(tx: &mut Tx, which: &Scope) -> Result<u64> {
    const BASE: &str = "SELECT d.municipality_id, d.id, d.document_date, d.trigger_date, d.retention_due, t.retention_series_id \
        FROM records_documents d LEFT JOIN records_document_types t ON t.municipality_id = d.municipality_id AND t.id = d.type_id";
    // Only a document with a series, or with a date to clear, can change.
    const TYPED: &str = " WHERE (t.retention_series_id IS NOT NULL OR d.retention_due IS NOT NULL)";
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = match which {
        Scope::All => dispatch!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(
            format!("{BASE}{TYPED}"))).fetch_all(c).await)?,
        Scope::Town(m) => dispatch!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(
            format!("{BASE}{TYPED} AND d.municipality_id = $1")))
            .bind(m).fetch_all(c).await)?,
        Scope::Documents(m, ids) => {
            let mut all = Vec::new();
            for chunk in ids.chunks(db::rows_per_statement(1)) {
                let mut q = db::SqlBuilder::new(BASE);
                q.push(TYPED)
                    .push(" AND d.municipality_id = ")
                    .bind(m.clone())
                    .push(" AND d.id IN ")
                    .bind_list(chunk.iter().cloned());
                let (sql, args) = q.build();
                let r: Vec<Row> = dispatch!(tx, c => {
                    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                    for a in args {
                        query = query.bind(a);
                    }
                    query.fetch_all(c).await
                })?;
                all.extend(r);
            }
            all
        }
    };
    let mut catalogs: HashMap<String, Vec<Series>> = HashMap::new();
    // (town, new date) → the documents that move to it.
    let mut moves: BTreeMap<(String, Option<String>), Vec<String>> = BTreeMap::new();
    for (m, id, doc_date, trig, old, series_id) in rows {
        if !catalogs.contains_key(&m) {
            let c = catalog_of(tx, &m).await?;
            catalogs.insert(m.clone(), c);
        }
        let catalog = &catalogs[&m];
        let due = series_id
            .and_then(|sid| catalog.iter().find(|s| s.id == sid))
            .map(|s| {
                let (rule, disp, _) = resolve(s, catalog);
                due_date(
                    &rule,
                    disp,
                    doc_date
                        .as_deref()
                        .and_then(|d| parse_date("document_date", d).ok()),
                    trig.as_deref()
                        .and_then(|d| parse_date("trigger_date", d).ok()),
                )
            });
        let new = match due {
            Some(Due::On(d)) => Some(d.to_string()),
            _ => None,
        };
        if new != old {
            moves.entry((m, new)).or_default().push(id);
        }
    }
    // One statement per town, new date and 500 documents: a load of one type and date is a few.
    let mut changed = 0;
    for ((m, due), ids) in moves {
        for chunk in ids.chunks(db::rows_per_statement(1)) {
            let mut q = db::SqlBuilder::new("UPDATE records_documents SET retention_due = ");
            match &due {
                Some(d) => q.bind(d.clone()),
                None => q.push("NULL"),
            };
            q.push(" WHERE municipality_id = ")
                .bind(m.clone())
                .push(" AND id IN ")
                .bind_list(chunk.iter().cloned());
            let (sql, args) = q.build();
            changed += dispatch!(tx, c => {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for a in args {
                    query = query.bind(a);
                }
                query.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
    }
    Ok(changed)
}

/// A document's retention as its page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentRetention {
    /// The document's id.
    pub document_id: String,
    /// Its type's series (absent: the type has none, or the document has no type).
    pub series: Option<Series>,
    /// The series whose rule decides (differs from `series` when it follows another).
    pub decided_by: Option<String>,
    /// The rule in words.
    pub rule_words: Option<String>,
    /// The date recorded for an event trigger (audit completed, expiration, …), `YYYY-MM-DD`.
    pub trigger_date: Option<String>,
    /// Retained through this date; eligible for disposal from the day after (absent: see `status`).
    pub retention_due: Option<String>,
    /// `due` (has a date), `never` (permanent, life of structure, retained, archival review),
    /// `pending` (a date is missing) or `unclassified` (no series).
    pub status: String,
    /// Why there is no date, in words.
    pub explanation: Option<String>,
    /// The active legal holds that block its disposal.
    pub holds: Vec<crate::holds::Hold>,
}

/// The retention of a document the caller may see (404 otherwise).
pub async fn of_document(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
) -> Result<DocumentRetention> {
    crate::documents::get(scope, ex, id).await?;
    let row: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = dispatch!(ex, c => sqlx::query_as(
        "SELECT d.document_date, d.trigger_date, d.retention_due, t.retention_series_id FROM records_documents d \
         LEFT JOIN records_document_types t ON t.municipality_id = d.municipality_id AND t.id = d.type_id \
         WHERE d.municipality_id = $1 AND d.id = $2")
        .bind(scope.municipality_id()).bind(id).fetch_one(c).await)?;
    let (doc_date, trig, stored, sid) = row;
    let catalog = catalog_of(ex, scope.municipality_id().as_str()).await?;
    let series = sid.and_then(|sid| catalog.iter().find(|s| s.id == sid).cloned());
    let holds = crate::holds::blocking(scope, ex, &[id.to_owned()])
        .await?
        .remove(id)
        .unwrap_or_default();
    let Some(s) = series else {
        return Ok(DocumentRetention {
            document_id: id.to_owned(),
            series: None,
            decided_by: None,
            rule_words: None,
            trigger_date: trig,
            retention_due: None,
            status: "unclassified".into(),
            explanation: Some("its type has no retention series".into()),
            holds,
        });
    };
    let (rule, disp, decider) = resolve(&s, &catalog);
    let due = due_date(
        &rule,
        disp,
        doc_date
            .as_deref()
            .and_then(|d| parse_date("document_date", d).ok()),
        trig.as_deref()
            .and_then(|d| parse_date("trigger_date", d).ok()),
    );
    let decided_by = (decider.id != s.id).then(|| decider.code.clone());
    let (status, explanation) = match &due {
        Due::On(_) => ("due", None),
        Due::Never(why) => ("never", Some(why.clone())),
        Due::Pending(why) => ("pending", Some(why.clone())),
    };
    Ok(DocumentRetention {
        document_id: id.to_owned(),
        rule_words: Some(match &decided_by {
            Some(c) => format!("{} (follows {c})", rule.words()),
            None => rule.words(),
        }),
        series: Some(s),
        decided_by,
        trigger_date: trig,
        retention_due: stored,
        status: status.into(),
        explanation,
        holds,
    })
}

/// The trigger date to record on a document.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TriggerIn {
    /// `YYYY-MM-DD`; absent or empty clears it.
    #[serde(default)]
    pub trigger_date: Option<String>,
}

/// Records (or clears) the event date a document's retention starts from (edit); the due date
/// follows; audited.
pub async fn set_trigger(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    req: &TriggerIn,
) -> Result<DocumentRetention> {
    let before = of_document(scope, tx, id).await?;
    require(scope, Permission::Edit)?;
    let date = req
        .trigger_date
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|v| parse_date("trigger_date", v).map(|d| d.to_string()))
        .transpose()?;
    execute!(tx, c => sqlx::query(
        "UPDATE records_documents SET trigger_date = $3, updated_at = $4 WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).bind(&date).bind(now.to_db()).execute(c).await)?;
    recompute(
        tx,
        &Scope::Documents(
            scope.municipality_id().as_str().to_owned(),
            vec![id.to_owned()],
        ),
    )
    .await?;
    let after = of_document(scope, tx, id).await?;
    audit::record(tx, now, scope.actor(), change(scope, "records.retention.trigger", "records_document", id,
        Some(serde_json::json!({"trigger_date": before.trigger_date, "retention_due": before.retention_due})),
        Some(serde_json::json!({"trigger_date": after.trigger_date, "retention_due": after.retention_due})))).await?;
    Ok(after)
}

/// Seeds a few illustrative series into the region's catalog (the demo): their codes are made
/// up (`DEMO-…`) and their source says `illustrative`; the periods are the commonly cited ones.
pub async fn seed_illustrative(tx: &mut Tx, now: Timestamp) -> Result<()> {
    let items = [
        (
            "M3",
            "DEMO-M3-BILLS",
            "Bills paid, bank statements, cancelled checks (illustrative)",
            "Commonly cited: 3 years or until audited, whichever is later. Not the State Library's text.",
            "years",
            Some("audit"),
            Some(3),
            "destroy",
        ),
        (
            "M1",
            "DEMO-M1-MINUTES",
            "Minutes of boards and commissions (illustrative)",
            "Commonly cited as permanent. Not the State Library's text.",
            "permanent",
            None,
            None,
            "retain",
        ),
        (
            "M5",
            "DEMO-M5-DEEDS",
            "Land records: deeds (illustrative)",
            "Commonly cited as permanent. Not the State Library's text.",
            "permanent",
            None,
            None,
            "retain",
        ),
        (
            "M1",
            "DEMO-M1-LITIGATION",
            "Litigation files (illustrative)",
            "Commonly cited: 5 years after resolution. Not the State Library's text.",
            "years",
            Some("event"),
            Some(5),
            "destroy",
        ),
    ];
    for (schedule, code, title, description, rule, trigger, years, disposition) in items {
        let n: i64 = dispatch!(tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM records_retention_series WHERE code = $1 AND municipality_id IS NULL")
            .bind(code).fetch_one(c).await)?;
        if n > 0 {
            continue;
        }
        let c = check(
            &SeriesIn {
                schedule: schedule.into(),
                code: code.into(),
                title: title.into(),
                description: Some(description.into()),
                rule: rule.into(),
                trigger: trigger.map(str::to_owned),
                years,
                follow: None,
                disposition: disposition.into(),
                essential: false,
            },
            false,
            "",
        )?;
        insert(tx, now, None, &c, "illustrative").await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    #[test]
    fn the_schedule_index_has_seventeen_schedules() {
        let s = schedules();
        assert_eq!(s.len(), 17);
        assert_eq!(s[0].code, "M1");
        assert_eq!(s[15].code, "M15.1");
        assert_eq!(s[16].title, "Electronic Data Processing Records");
    }

    #[test]
    fn due_dates_by_trigger() {
        let d = Disposition::Destroy;
        let on = |r: Rule, doc: Date, t: Option<Date>| match due_date(&r, d, Some(doc), t) {
            Due::On(x) => x,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            on(
                Rule::Years(Trigger::FiscalYearEnd, 3),
                date!(2019 - 08 - 15),
                None
            ),
            date!(2023 - 06 - 30)
        );
        assert_eq!(
            on(
                Rule::Years(Trigger::FiscalYearEnd, 3),
                date!(2019 - 06 - 30),
                None
            ),
            date!(2022 - 06 - 30)
        );
        assert_eq!(
            on(
                Rule::Years(Trigger::CalendarYearEnd, 10),
                date!(2014 - 03 - 02),
                None
            ),
            date!(2024 - 12 - 31)
        );
        assert_eq!(
            on(
                Rule::Years(Trigger::Creation, 2),
                date!(2020 - 02 - 29),
                None
            ),
            date!(2022 - 02 - 28)
        );
        assert_eq!(
            on(
                Rule::Years(Trigger::Audit, 3),
                date!(2018 - 01 - 01),
                Some(date!(2019 - 11 - 20))
            ),
            date!(2022 - 11 - 20)
        );
        assert!(matches!(
            due_date(
                &Rule::Years(Trigger::Audit, 3),
                d,
                Some(date!(2018 - 01 - 01)),
                None
            ),
            Due::Pending(_)
        ));
        assert!(matches!(
            due_date(&Rule::Permanent, d, Some(date!(2018 - 01 - 01)), None),
            Due::Never(_)
        ));
        assert!(matches!(
            due_date(
                &Rule::Years(Trigger::Creation, 1),
                Disposition::ArchivalReview,
                Some(date!(2018 - 01 - 01)),
                None
            ),
            Due::Never(_)
        ));
    }

    #[test]
    fn import_problems_name_row_and_column() {
        let csv = "schedule,code,title,rule,trigger,years,disposition\n\
                   M3,M3-120,Bills,years,fiscal_year_end,3,destroy\n\
                   M99,M3-121,Bad schedule,permanent,,,retain\n\
                   M3,M3-122,Bad years,years,audit,three,destroy\n\
                   M3,M3-120,Twice,permanent,,,retain\n";
        let p = parse_import(csv.as_bytes()).unwrap_err();
        let got: Vec<(u64, &str)> = p.iter().map(|p| (p.row, p.column.as_str())).collect();
        assert_eq!(got, vec![(3, "schedule"), (4, "years"), (5, "code")]);
    }

    #[test]
    fn codes_sort_naturally() {
        assert!(natural("M3-20") < natural("M3-120"));
    }
}
