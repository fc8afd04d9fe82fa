//! Board of Assessment Appeals petitions and certificates of correction
//! (docs/design/0010-appeals.md).
//!
//! A taxpayer petitions the town's Board of Assessment Appeals against one
//! account of a signed grand list, on or before February 20 after the list
//! year, or March 20 when the assessor had an extension to sign the list
//! (CGS 12-111(a)). The board hears petitions in March and April and decides
//! them by April 30 (CGS 12-110, 12-111); it may reduce the assessment, leave
//! it, or increase it, and notifies the taxpayer within a week, after which
//! the taxpayer has two months to appeal to the Superior Court (CGS 12-117a).
//!
//! A decision that changes the assessment issues a certificate of correction
//! to the tax collector in the same transaction; the assessor may also issue
//! one for a clerical error within three years of the tax's due date
//! (CGS 12-60). The signed grand list never changes: each certificate keeps
//! the account's assessment and tax before and after, the rate book shows the
//! account with its latest certificate applied, and the adjusted bill says so.
//! With the levy posted, the finance office posts each certificate's change
//! of tax (an abatement or an additional charge) through the ledger's service.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{Money, Permission, Timestamp, format_date, parse_date};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::{Date, Month, PrimitiveDateTime};

use crate::grand_list::{self, GrandList, Item, LevyIn};
use crate::parcels::{change, json, new_id, require};

/// What the board may decide.
pub const DECISIONS: [(&str, &str); 3] = [
    ("no_change", "No change"),
    ("reduced", "Assessment reduced"),
    ("increased", "Assessment increased"),
];

/// A petition to the Board of Assessment Appeals.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Appeal {
    /// Id.
    pub id: String,
    /// The grand list appealed.
    pub list_year: i64,
    /// Petition number, `2025-007`.
    pub number: String,
    /// The account appealed, e.g. `RE-12-3-4`.
    pub account: String,
    /// Who petitions (the owner or their agent).
    pub appellant: String,
    /// How to reach them.
    pub contact: String,
    /// When the petition was received, `YYYY-MM-DD`.
    pub filed_on: String,
    /// Why the appellant says the assessment is wrong.
    pub grounds: String,
    /// The appellant's opinion of fair market value, cents (0: not given).
    pub opinion_cents: i64,
    /// `filed`, `scheduled`, `decided` or `withdrawn`.
    pub status: String,
    /// The hearing, `YYYY-MM-DDTHH:MM` local time (empty until scheduled).
    pub hearing_at: String,
    /// Where the board hears it.
    pub hearing_place: String,
    /// `no_change`, `reduced` or `increased` (empty until decided).
    pub decision: String,
    /// When the board decided, `YYYY-MM-DD`.
    pub decided_on: String,
    /// The board's reasons.
    pub decision_note: String,
    /// When the notice of decision was mailed, `YYYY-MM-DD`.
    pub notice_mailed_on: String,
    /// The certificate of correction the decision issued (empty if none).
    pub certificate_number: String,
    /// Version, for optimistic concurrency.
    pub version: i64,
}

impl Appeal {
    /// The last day to appeal the board's decision to the Superior Court:
    /// two months after the notice was mailed (CGS 12-117a).
    pub fn court_deadline(&self) -> Option<String> {
        let mailed = parse_date("notice_mailed_on", &self.notice_mailed_on).ok()?;
        Some(format_date(add_months(mailed, 2)))
    }
}

/// A certificate of correction.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Correction {
    /// The list corrected.
    pub list_year: i64,
    /// Certificate number, `CC-2025-0001`.
    pub number: String,
    /// The account corrected.
    pub account: String,
    /// Why.
    pub reason: String,
    /// Under which statute (`CGS 12-111` for a board decision, `CGS 12-60` for a clerical error).
    pub statute: String,
    /// The petition it carries out (empty for a clerical correction).
    pub appeal_id: String,
    /// Assessed land before, cents.
    pub before_land_cents: i64,
    /// Assessed buildings before, cents.
    pub before_building_cents: i64,
    /// Net assessment before, cents.
    pub before_net_cents: i64,
    /// Assessed land after, cents.
    pub land_cents: i64,
    /// Assessed buildings after, cents.
    pub building_cents: i64,
    /// Exemptions after (the programs' amounts, never more than the gross), cents.
    pub exemptions_cents: i64,
    /// Net assessment after, cents.
    pub net_cents: i64,
    /// Tax before at the list's mill rate, cents (0 while no rate is set).
    pub before_tax_cents: i64,
    /// Tax after, cents.
    pub tax_cents: i64,
    /// When it was issued.
    pub issued_at: String,
    /// By whom.
    pub issued_by: String,
    /// The ledger entry that posted the change of tax (empty until posted).
    pub entry_id: String,
}

impl Correction {
    /// Tax after − tax before, cents (negative: an abatement).
    pub fn change_cents(&self) -> i64 {
        self.tax_cents - self.before_tax_cents
    }
}

const APPEAL_COLUMNS: &str = "id, list_year, number, account, appellant, contact, filed_on, grounds, opinion_cents, \
    status, hearing_at, hearing_place, decision, decided_on, decision_note, notice_mailed_on, certificate_number, version";

const CORRECTION_COLUMNS: &str = "list_year, number, account, reason, statute, appeal_id, before_land_cents, \
    before_building_cents, before_net_cents, land_cents, building_cents, exemptions_cents, net_cents, \
    before_tax_cents, tax_cents, issued_at, issued_by, entry_id";

fn add_months(d: Date, months: u8) -> Date {
    let m0 = u8::from(d.month()) - 1 + months;
    let year = d.year() + i32::from(m0 / 12);
    let month = Month::try_from(m0 % 12 + 1).unwrap_or(Month::January);
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, d.day().min(last)).unwrap_or(d)
}

fn day(year: i64, month: Month, day: u8) -> Result<Date> {
    i32::try_from(year)
        .ok()
        .and_then(|y| Date::from_calendar_date(y, month, day).ok())
        .ok_or_else(|| Error::invalid("list_year", "out of range"))
}

/// The last day to petition against a grand list: February 20 after the
/// list year, or March 20 when the list was signed after January 31 (the
/// assessor had an extension; CGS 12-111(a), 12-117).
pub fn petition_deadline(gl: &GrandList) -> Result<Date> {
    let next = gl.list_year + 1;
    let signed = parse_date("signed_at", gl.signed_at.get(..10).unwrap_or(""));
    if signed.is_ok_and(|d| d > day(next, Month::January, 31).unwrap_or(d)) {
        day(next, Month::March, 20)
    } else {
        day(next, Month::February, 20)
    }
}

/// What a petition says.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PetitionIn {
    /// The account, e.g. `RE-12-3-4`.
    pub account: String,
    /// Who petitions.
    pub appellant: String,
    /// Address, telephone or e-mail.
    #[serde(default)]
    pub contact: String,
    /// When it was received, `YYYY-MM-DD`.
    pub filed_on: String,
    /// Why the assessment is wrong (at least 10 characters).
    pub grounds: String,
    /// The appellant's opinion of fair market value, dollars (optional).
    #[serde(default)]
    pub opinion: Option<String>,
}

/// Records a petition against an account of a signed grand list.
pub async fn file(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    p: &PetitionIn,
) -> Result<Appeal> {
    require(scope, Permission::Edit)?;
    let gl = grand_list::get(scope, tx, list_year).await?;
    if gl.status != "signed" {
        return Err(Error::conflict(
            "list_year",
            format!(
                "the {list_year} grand list is not signed yet; petitions are against a signed list"
            ),
        ));
    }
    let account = p.account.trim();
    if grand_list::items(scope, tx, list_year, Some(account))
        .await?
        .is_empty()
    {
        return Err(Error::invalid(
            "account",
            format!("no account '{account}' on the {list_year} grand list"),
        ));
    }
    let appellant = p.appellant.trim();
    if appellant.is_empty() {
        return Err(Error::invalid("appellant", "who petitions is required"));
    }
    let grounds = p.grounds.trim();
    if grounds.chars().count() < 10 {
        return Err(Error::invalid(
            "grounds",
            "state the grounds of the appeal (at least 10 characters)",
        ));
    }
    let filed = parse_date("filed_on", &p.filed_on)?;
    if filed > now.datetime().date() {
        return Err(Error::invalid("filed_on", "is in the future"));
    }
    let signed = parse_date("signed_at", gl.signed_at.get(..10).unwrap_or(""))?;
    if filed < signed {
        return Err(Error::invalid(
            "filed_on",
            format!(
                "is before the grand list was signed ({})",
                format_date(signed)
            ),
        ));
    }
    let deadline = petition_deadline(&gl)?;
    if filed > deadline {
        return Err(Error::invalid(
            "filed_on",
            format!(
                "the petition deadline for the {list_year} grand list was {} (CGS 12-111)",
                format_date(deadline)
            ),
        ));
    }
    let opinion_cents = match p.opinion.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(s) => {
            let m = Money::parse("opinion", s)?;
            if m.cents() <= 0 {
                return Err(Error::invalid("opinion", "must be more than zero"));
            }
            m.cents()
        }
    };
    let m = scope.municipality_id();
    let open: Option<String> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT number FROM assessment_appeals WHERE municipality_id = $1 AND list_year = $2 AND account = $3 AND status IN ('filed', 'scheduled')")
        .bind(m).bind(list_year).bind(account).fetch_optional(c).await)?;
    if let Some(n) = open {
        return Err(Error::conflict(
            "account",
            format!("petition {n} on this account is still open"),
        ));
    }
    let count: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM assessment_appeals WHERE municipality_id = $1 AND list_year = $2")
        .bind(m).bind(list_year).fetch_one(c).await)?;
    let number = format!("{list_year}-{:03}", count + 1);
    let id = new_id();
    execute!(tx, c => sqlx::query(
        "INSERT INTO assessment_appeals (id, municipality_id, list_year, number, account, appellant, contact, filed_on, grounds, \
         opinion_cents, status, hearing_at, hearing_place, decision, decided_on, decision_note, notice_mailed_on, \
         certificate_number, created_at, created_by, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'filed', '', '', '', '', '', '', '', $11, $12, 1)")
        .bind(&id).bind(m).bind(list_year).bind(&number).bind(account).bind(appellant).bind(p.contact.trim())
        .bind(format_date(filed)).bind(grounds).bind(opinion_cents).bind(now.to_db()).bind(&scope.actor().label)
        .execute(c).await)?;
    let appeal = get(scope, tx, &id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "appeal.file",
            "appeal",
            &id,
            None,
            Some(json(&appeal)?),
        ),
    )
    .await?;
    Ok(appeal)
}

/// One petition, by id.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<Appeal> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {APPEAL_COLUMNS} FROM assessment_appeals WHERE municipality_id = $1 AND id = $2"
    );
    dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "appeal" })
}

/// Which petitions to list.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct AppealFilter {
    /// Grand-list year.
    pub list_year: Option<i64>,
    /// `filed`, `scheduled`, `decided` or `withdrawn`.
    pub status: Option<String>,
    /// Account, number or appellant contains this.
    pub q: Option<String>,
}

/// The town's petitions, by hearing (scheduled first, in hearing order) then number.
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    f: &AppealFilter,
) -> Result<Vec<Appeal>> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {APPEAL_COLUMNS} FROM assessment_appeals WHERE municipality_id = $1 ORDER BY list_year DESC, number"
    );
    let all: Vec<Appeal> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).fetch_all(c).await)?;
    let status = f.status.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = status
        && !["filed", "scheduled", "decided", "withdrawn"].contains(&s)
    {
        return Err(Error::invalid(
            "status",
            "must be filed, scheduled, decided or withdrawn",
        ));
    }
    let q =
        f.q.as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
    Ok(all
        .into_iter()
        .filter(|a| f.list_year.is_none_or(|y| a.list_year == y))
        .filter(|a| status.is_none_or(|s| a.status == s))
        .filter(|a| {
            q.as_ref().is_none_or(|q| {
                a.account.to_lowercase().contains(q)
                    || a.number.contains(q.as_str())
                    || a.appellant.to_lowercase().contains(q)
            })
        })
        .collect())
}

/// When and where the board hears a petition.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct HearingIn {
    /// `YYYY-MM-DDTHH:MM`, local time.
    pub hearing_at: String,
    /// Where.
    pub hearing_place: String,
    /// The petition's version as read.
    pub version: i64,
}

fn parse_hearing(s: &str) -> Result<PrimitiveDateTime> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    PrimitiveDateTime::parse(s.trim(), &fmt).map_err(|_| {
        Error::invalid(
            "hearing_at",
            format!("'{}' is not a date and time (YYYY-MM-DDTHH:MM)", s.trim()),
        )
    })
}

fn check_version(a: &Appeal, version: i64) -> Result<()> {
    if a.version == version {
        Ok(())
    } else {
        Err(Error::conflict(
            "version",
            format!(
                "petition {} changed since you read it (version {} now); reload and try again",
                a.number, a.version
            ),
        ))
    }
}

async fn save(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    action: &'static str,
    before: &Appeal,
    after: &Appeal,
) -> Result<Appeal> {
    let n = execute!(tx, c => sqlx::query(
        "UPDATE assessment_appeals SET status = $1, hearing_at = $2, hearing_place = $3, decision = $4, decided_on = $5, \
         decision_note = $6, notice_mailed_on = $7, certificate_number = $8, version = version + 1 \
         WHERE municipality_id = $9 AND id = $10 AND version = $11")
        .bind(&after.status).bind(&after.hearing_at).bind(&after.hearing_place).bind(&after.decision)
        .bind(&after.decided_on).bind(&after.decision_note).bind(&after.notice_mailed_on).bind(&after.certificate_number)
        .bind(scope.municipality_id()).bind(&before.id).bind(before.version).execute(c).await)?;
    if n != 1 {
        return Err(Error::conflict(
            "version",
            format!(
                "petition {} changed meanwhile; reload and try again",
                before.number
            ),
        ));
    }
    let saved = get(scope, tx, &before.id).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            action,
            "appeal",
            &before.id,
            Some(json(before)?),
            Some(json(&saved)?),
        ),
    )
    .await?;
    Ok(saved)
}

/// Schedules (or reschedules) a petition's hearing: in March or April after
/// the list year (CGS 12-110), not at a time another petition already has.
pub async fn schedule(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    h: &HearingIn,
) -> Result<Appeal> {
    require(scope, Permission::Edit)?;
    let a = get(scope, tx, id).await?;
    check_version(&a, h.version)?;
    if !["filed", "scheduled"].contains(&a.status.as_str()) {
        return Err(Error::conflict(
            "status",
            format!(
                "petition {} is {}; only an open petition is scheduled",
                a.number, a.status
            ),
        ));
    }
    let at = parse_hearing(&h.hearing_at)?;
    let (from, to) = (
        day(a.list_year + 1, Month::March, 1)?,
        day(a.list_year + 1, Month::April, 30)?,
    );
    if at.date() < from || at.date() > to {
        return Err(Error::invalid(
            "hearing_at",
            format!(
                "the board hears petitions on the {} grand list between {} and {} (CGS 12-110)",
                a.list_year,
                format_date(from),
                format_date(to)
            ),
        ));
    }
    let place = h.hearing_place.trim();
    if place.is_empty() {
        return Err(Error::invalid(
            "hearing_place",
            "where the board meets is required",
        ));
    }
    let stamp = format!(
        "{}T{:02}:{:02}",
        format_date(at.date()),
        at.hour(),
        at.minute()
    );
    let taken: Option<String> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT number FROM assessment_appeals WHERE municipality_id = $1 AND hearing_at = $2 AND status = 'scheduled' AND id <> $3")
        .bind(scope.municipality_id()).bind(&stamp).bind(&a.id).fetch_optional(c).await)?;
    if let Some(n) = taken {
        return Err(Error::conflict(
            "hearing_at",
            format!("petition {n} is already heard at {stamp}"),
        ));
    }
    let mut after = a.clone();
    after.status = "scheduled".into();
    after.hearing_at = stamp;
    after.hearing_place = place.to_owned();
    save(scope, tx, now, "appeal.schedule", &a, &after).await
}

/// Withdraws an open petition.
pub async fn withdraw(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    version: i64,
) -> Result<Appeal> {
    require(scope, Permission::Edit)?;
    let a = get(scope, tx, id).await?;
    check_version(&a, version)?;
    if !["filed", "scheduled"].contains(&a.status.as_str()) {
        return Err(Error::conflict(
            "status",
            format!(
                "petition {} is {}; only an open petition is withdrawn",
                a.number, a.status
            ),
        ));
    }
    let mut after = a.clone();
    after.status = "withdrawn".into();
    save(scope, tx, now, "appeal.withdraw", &a, &after).await
}

/// The board's decision.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DecisionIn {
    /// `no_change`, `reduced` or `increased`.
    pub decision: String,
    /// When the board decided, `YYYY-MM-DD`.
    pub decided_on: String,
    /// When the notice was mailed, `YYYY-MM-DD` (default: the day decided).
    #[serde(default)]
    pub notice_mailed_on: Option<String>,
    /// The board's reasons (at least 10 characters).
    pub note: String,
    /// The assessed land the board set, whole dollars (for `reduced`/`increased`).
    #[serde(default)]
    pub land: Option<String>,
    /// The assessed buildings the board set, whole dollars.
    #[serde(default)]
    pub building: Option<String>,
    /// The whole assessment the board set on a personal property or motor
    /// vehicle account (no land or buildings), whole dollars.
    #[serde(default)]
    pub assessment: Option<String>,
    /// The petition's version as read.
    pub version: i64,
}

fn whole_dollars(field: &str, s: Option<&str>) -> Result<i64> {
    let s = s.map(str::trim).unwrap_or("");
    if s.is_empty() {
        return Err(Error::invalid(field, "the board's assessment is required"));
    }
    let m = Money::parse(field, s)?;
    if m.cents() < 0 {
        return Err(Error::invalid(field, "must not be negative"));
    }
    if m.cents() % 100 != 0 {
        return Err(Error::invalid(field, "assessments are in whole dollars"));
    }
    Ok(m.cents())
}

/// Records the board's decision on a heard petition; a change of assessment
/// issues a certificate of correction.
pub async fn decide(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    d: &DecisionIn,
) -> Result<Appeal> {
    require(scope, Permission::Approve)?;
    let a = get(scope, tx, id).await?;
    check_version(&a, d.version)?;
    if a.status != "scheduled" {
        return Err(Error::conflict(
            "status",
            format!(
                "petition {} is {}; the board decides a petition after its hearing",
                a.number, a.status
            ),
        ));
    }
    let decided = parse_date("decided_on", &d.decided_on)?;
    let heard = parse_hearing(&a.hearing_at)?.date();
    if decided < heard {
        return Err(Error::invalid(
            "decided_on",
            format!("is before the hearing ({})", format_date(heard)),
        ));
    }
    let last = day(a.list_year + 1, Month::April, 30)?;
    if decided > last {
        return Err(Error::invalid(
            "decided_on",
            format!(
                "the board decides petitions by {} (CGS 12-111)",
                format_date(last)
            ),
        ));
    }
    if decided > now.datetime().date() {
        return Err(Error::invalid("decided_on", "is in the future"));
    }
    let mailed = match d.notice_mailed_on.as_deref().map(str::trim) {
        None | Some("") => decided,
        Some(s) => parse_date("notice_mailed_on", s)?,
    };
    if mailed < decided {
        return Err(Error::invalid("notice_mailed_on", "is before the decision"));
    }
    let note = d.note.trim();
    if note.chars().count() < 10 {
        return Err(Error::invalid(
            "note",
            "give the board's reasons (at least 10 characters)",
        ));
    }
    let decision = d.decision.trim();
    if !DECISIONS.iter().any(|(k, _)| *k == decision) {
        return Err(Error::invalid(
            "decision",
            "must be no_change, reduced or increased",
        ));
    }
    let mut after = a.clone();
    after.status = "decided".into();
    after.decision = decision.to_owned();
    after.decided_on = format_date(decided);
    after.notice_mailed_on = format_date(mailed);
    after.decision_note = note.to_owned();
    if decision != "no_change" {
        let current = effective_item(scope, tx, a.list_year, &a.account).await?;
        let (land, building) = corrected_parts(
            &current,
            d.land.as_deref(),
            d.building.as_deref(),
            d.assessment.as_deref(),
        )?;
        let (old, new) = (current.gross_cents, land + building);
        // The field the assessment was given in.
        let field = if current.parcel_id.is_empty() {
            "assessment"
        } else {
            "land"
        };
        if decision == "reduced" && new >= old {
            return Err(Error::invalid(
                field,
                format!("a reduction must lower the assessment below ${}", old / 100),
            ));
        }
        if decision == "increased" && new <= old {
            return Err(Error::invalid(
                field,
                format!("an increase must raise the assessment above ${}", old / 100),
            ));
        }
        let reason = format!(
            "Board of Assessment Appeals, petition {} decided {}: {note}",
            a.number, after.decided_on
        );
        let cert = issue(
            scope,
            tx,
            now,
            a.list_year,
            &a.account,
            (land, building),
            &reason,
            "CGS 12-111",
            &a.id,
        )
        .await?;
        after.certificate_number = cert.number;
    }
    save(scope, tx, now, "appeal.decide", &a, &after).await
}

/// An account as the rate book now has it: the grand list's item with its
/// latest certificate of correction applied.
pub async fn effective_item(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
    account: &str,
) -> Result<Item> {
    grand_list::items(scope, ex, list_year, Some(account))
        .await?
        .into_iter()
        .next()
        .ok_or(Error::NotFound { what: "account" })
}

/// The land and buildings a certificate sets on an account. Real estate
/// gives both. Personal property and motor vehicles have neither: their
/// certificate sets the whole assessment (`assessment`, or else land and
/// buildings added up), kept as buildings with no land, so that the rate
/// book's gross (land + buildings) is that assessment.
fn given(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn corrected_parts(
    item: &Item,
    land: Option<&str>,
    building: Option<&str>,
    assessment: Option<&str>,
) -> Result<(i64, i64)> {
    if !item.parcel_id.is_empty() {
        if given(assessment).is_some() {
            return Err(Error::invalid(
                "assessment",
                format!(
                    "{} is real estate: its certificate sets assessed land and buildings",
                    item.account
                ),
            ));
        }
        return Ok((
            whole_dollars("land", land)?,
            whole_dollars("building", building)?,
        ));
    }
    if let Some(a) = given(assessment) {
        return Ok((0, whole_dollars("assessment", Some(a))?));
    }
    if given(land).is_none() && given(building).is_none() {
        return Err(Error::invalid(
            "assessment",
            format!(
                "{} is {}: give its corrected assessment",
                item.account,
                if item.property_class == "motor_vehicle" {
                    "a motor vehicle"
                } else {
                    "personal property"
                }
            ),
        ));
    }
    let part = |field: &str, s: Option<&str>| match given(s) {
        Some(v) => whole_dollars(field, Some(v)),
        None => Ok(0),
    };
    Ok((0, part("land", land)? + part("building", building)?))
}

/// The programs' exemption amounts of an item, before capping at its gross.
fn programs_cents(item: &Item) -> i64 {
    item.exemptions
        .split(';')
        .filter_map(|p| p.split_once(':'))
        .filter_map(|(_, c)| c.parse::<i64>().ok())
        .sum()
}

/// Issues a certificate of correction setting an account's assessed land and
/// buildings (cents); exemptions are re-applied (never above the gross) and
/// the tax before and after computed at the list's mill rate.
#[allow(clippy::too_many_arguments)]
async fn issue(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    account: &str,
    (land, building): (i64, i64),
    reason: &str,
    statute: &str,
    appeal_id: &str,
) -> Result<Correction> {
    require(scope, Permission::Approve)?;
    let gl = grand_list::get(scope, tx, list_year).await?;
    if gl.status != "signed" {
        return Err(Error::conflict(
            "list_year",
            format!("the {list_year} grand list is not signed; correct the roll and take it again"),
        ));
    }
    let before = effective_item(scope, tx, list_year, account).await?;
    let gross = land + building;
    let exemptions = programs_cents(&before).min(gross);
    let net = gross - exemptions;
    // A vehicle's tax is at the motor-vehicle rate (CGS 12-71e).
    let rate = if gl.mill_rate.is_empty() {
        None
    } else {
        Some(grand_list::rates(&gl)?.of(&before.property_class))
    };
    // Personal property and vehicles have no land: their whole assessment
    // before is kept as buildings, as the certificate's after is.
    let (before_land, before_building) = if before.parcel_id.is_empty() {
        (0, before.gross_cents)
    } else {
        (before.land_cents, before.building_cents)
    };
    let tax = |n: i64| rate.map_or(0, |r| grand_list::tax_cents(n, r));
    let m = scope.municipality_id();
    let count: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM assessment_corrections WHERE municipality_id = $1 AND list_year = $2")
        .bind(m).bind(list_year).fetch_one(c).await)?;
    let number = format!("CC-{list_year}-{:04}", count + 1);
    let cert = Correction {
        list_year,
        number: number.clone(),
        account: account.to_owned(),
        reason: reason.to_owned(),
        statute: statute.to_owned(),
        appeal_id: appeal_id.to_owned(),
        before_land_cents: before_land,
        before_building_cents: before_building,
        before_net_cents: before.net_cents,
        land_cents: land,
        building_cents: building,
        exemptions_cents: exemptions,
        net_cents: net,
        before_tax_cents: tax(before.net_cents),
        tax_cents: tax(net),
        issued_at: now.to_db(),
        issued_by: scope.actor().label.clone(),
        entry_id: String::new(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO assessment_corrections (municipality_id, list_year, number, account, reason, statute, appeal_id, \
         before_land_cents, before_building_cents, before_net_cents, land_cents, building_cents, exemptions_cents, net_cents, \
         before_tax_cents, tax_cents, issued_at, issued_by, entry_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, '')")
        .bind(m).bind(list_year).bind(&cert.number).bind(&cert.account).bind(&cert.reason).bind(&cert.statute)
        .bind(&cert.appeal_id).bind(cert.before_land_cents).bind(cert.before_building_cents).bind(cert.before_net_cents)
        .bind(cert.land_cents).bind(cert.building_cents).bind(cert.exemptions_cents).bind(cert.net_cents)
        .bind(cert.before_tax_cents).bind(cert.tax_cents).bind(&cert.issued_at).bind(&cert.issued_by)
        .execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "correction.issue",
            "correction",
            &format!("{list_year}/{number}"),
            Some(serde_json::json!({"account": account, "land_cents": before.land_cents, "building_cents": before.building_cents, "gross_cents": before.gross_cents, "net_cents": before.net_cents})),
            Some(json(&cert)?),
        ),
    )
    .await?;
    Ok(cert)
}

/// A clerical correction.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ClericalIn {
    /// The account.
    pub account: String,
    /// The corrected assessed land, whole dollars (real estate).
    #[serde(default)]
    pub land: String,
    /// The corrected assessed buildings, whole dollars (real estate).
    #[serde(default)]
    pub building: String,
    /// The corrected whole assessment of a personal property or motor
    /// vehicle account, whole dollars (e.g. a vehicle sold or moved out of
    /// state before October 1, CGS 12-71c, 12-57).
    #[serde(default)]
    pub assessment: Option<String>,
    /// What the error was (at least 10 characters).
    pub reason: String,
}

/// Issues a certificate of correction for a clerical error or omission
/// (CGS 12-60): within three years of the tax's due date (July 1 after the list year).
pub async fn correct_clerical(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    c: &ClericalIn,
) -> Result<Correction> {
    require(scope, Permission::Approve)?;
    let reason = c.reason.trim();
    if reason.chars().count() < 10 {
        return Err(Error::invalid(
            "reason",
            "describe the clerical error (at least 10 characters)",
        ));
    }
    let limit = day(list_year + 4, Month::July, 1)?;
    if now.datetime().date() > limit {
        return Err(Error::invalid(
            "list_year",
            format!(
                "clerical corrections to the {list_year} grand list were possible until {} (CGS 12-60)",
                format_date(limit)
            ),
        ));
    }
    let account = c.account.trim();
    let current = effective_item(scope, tx, list_year, account)
        .await
        .map_err(|_| {
            Error::invalid(
                "account",
                format!("no account '{account}' on the {list_year} grand list"),
            )
        })?;
    let (land, building) = corrected_parts(
        &current,
        Some(&c.land),
        Some(&c.building),
        c.assessment.as_deref(),
    )?;
    let same = if current.parcel_id.is_empty() {
        current.gross_cents == land + building
    } else {
        current.land_cents == land && current.building_cents == building
    };
    if same {
        return Err(Error::invalid(
            if current.parcel_id.is_empty() {
                "assessment"
            } else {
                "land"
            },
            "the corrected assessment is the same as the present one",
        ));
    }
    issue(
        scope,
        tx,
        now,
        list_year,
        account,
        (land, building),
        reason,
        "CGS 12-60",
        "",
    )
    .await
}

/// The certificates of a list, newest last.
pub async fn corrections(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
) -> Result<Vec<Correction>> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {CORRECTION_COLUMNS} FROM assessment_corrections WHERE municipality_id = $1 AND list_year = $2 ORDER BY number"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(list_year).fetch_all(c).await)?,
    )
}

/// One certificate.
pub async fn correction(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
    number: &str,
) -> Result<Correction> {
    require(scope, Permission::View)?;
    let sql = format!(
        "SELECT {CORRECTION_COLUMNS} FROM assessment_corrections WHERE municipality_id = $1 AND list_year = $2 AND number = $3"
    );
    dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(list_year).bind(number).fetch_optional(c).await)?
        .ok_or(Error::NotFound { what: "certificate of correction" })
}

/// Posts a certificate's change of tax to the town government's books (the
/// levy must be posted first): a reduction debits tax revenue and credits the
/// receivable (an abatement); an increase the reverse, dated today or the
/// levy's July 1, whichever is later. `finance` is the
/// caller's scope in finance for the same town (approve needed).
pub async fn post(
    scope: &ServiceScope,
    finance: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    list_year: i64,
    number: &str,
    accounts: &LevyIn,
) -> Result<Correction> {
    require(scope, Permission::Approve)?;
    if finance.municipality_id() != scope.municipality_id() {
        return Err(Error::Forbidden(
            "a correction posts to the same town's books".into(),
        ));
    }
    let gl = grand_list::get(scope, tx, list_year).await?;
    if gl.levy_entry_id.is_empty() {
        return Err(Error::conflict(
            "list_year",
            format!("the {list_year} levy is not posted yet; post the levy first"),
        ));
    }
    let cert = correction(scope, tx, list_year, number).await?;
    if !cert.entry_id.is_empty() {
        return Err(Error::conflict(
            "number",
            format!(
                "certificate {number} is already posted (entry {})",
                cert.entry_id
            ),
        ));
    }
    let delta = cert.change_cents();
    if delta == 0 {
        return Err(Error::conflict(
            "number",
            format!("certificate {number} does not change the tax; there is nothing to post"),
        ));
    }
    let amount = Money::from_cents(delta.abs());
    // Never dated before the levy it adjusts (July 1 after the list year).
    let date = now
        .datetime()
        .date()
        .max(day(list_year + 1, Month::July, 1)?);
    let (receivable, revenue) = (
        accounts.receivable_account.trim().to_owned(),
        accounts.revenue_account.trim().to_owned(),
    );
    let memo = format!("Certificate of correction {number}");
    let line = |account: String, debit: bool| munishare_ledger::service::NewLine {
        account,
        debit: if debit { amount } else { Money::ZERO },
        credit: if debit { Money::ZERO } else { amount },
        memo: memo.clone(),
    };
    let lines = if delta < 0 {
        vec![line(revenue, true), line(receivable, false)]
    } else {
        vec![line(receivable, true), line(revenue, false)]
    };
    let entry = munishare_ledger::service::post_from_source(
        finance,
        tx,
        now,
        &munishare_ledger::service::NewEntry {
            entity: EntityKind::TownGovernment,
            date,
            adjustment: false,
            description: format!(
                "{} of {} on account {} (grand list {list_year}), certificate of correction {number}",
                if delta < 0 { "Abatement" } else { "Additional tax" },
                munishare_taxbill::format_cents(delta.abs()),
                cert.account
            ),
            lines,
        },
        &format!("correction:{list_year}:{number}"),
    )
    .await?
    .entry;
    execute!(tx, c => sqlx::query("UPDATE assessment_corrections SET entry_id = $1 WHERE municipality_id = $2 AND list_year = $3 AND number = $4")
        .bind(&entry.id).bind(scope.municipality_id()).bind(list_year).bind(number).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "correction.post",
            "correction",
            &format!("{list_year}/{number}"),
            None,
            Some(serde_json::json!({"entry": entry.id, "change_cents": delta})),
        ),
    )
    .await?;
    correction(scope, tx, list_year, number).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    #[test]
    fn two_months_after_keeps_the_day_or_the_month_end() {
        assert_eq!(add_months(date!(2026 - 03 - 20), 2), date!(2026 - 05 - 20));
        assert_eq!(add_months(date!(2026 - 12 - 31), 2), date!(2027 - 02 - 28));
        assert_eq!(add_months(date!(2027 - 12 - 31), 2), date!(2028 - 02 - 29));
        assert_eq!(add_months(date!(2026 - 11 - 15), 2), date!(2027 - 01 - 15));
    }
}
