//! The ledger's services: each takes a finance scope first, checks the
//! permission it needs, works in the caller's transaction and audits changes.
//! Other modules post through [`create_draft`] and [`post_entry`] inside their
//! own transaction.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::audit::{self, Change};
use munishare_platform::db::{Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Service, Timestamp, format_date};
use munishare_platform::{Error, Result, dispatch};
use serde::Serialize;
use time::Date;

use crate::domain::{AccountString, FundType, LineAmount, PeriodStatus, check_balanced};
use crate::store;

/// A fund of one entity's books.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Fund {
    /// Id.
    pub id: String,
    /// Entity whose books it is in.
    pub entity_id: String,
    /// 4-digit code, e.g. 1005.
    pub code: String,
    /// Name.
    pub name: String,
    /// GASB 34 fund type key.
    pub fund_type: String,
}

/// An account.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Account {
    /// Id.
    pub id: String,
    /// Entity.
    pub entity_id: String,
    /// Fund id.
    pub fund_id: String,
    /// Fund code (from the fund).
    #[sqlx(default)]
    pub fund_code: String,
    /// The account string.
    pub account: String,
    /// Name.
    pub name: String,
    /// Class key.
    pub class: String,
    /// Accepts postings.
    pub active: bool,
}

/// A fiscal period of one entity.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Period {
    /// Entity.
    pub entity_id: String,
    /// Fiscal year (the year it ends).
    pub fiscal_year: i64,
    /// 1 = July … 12 = June, 13 = year-end adjustments.
    pub period: i64,
    /// First day.
    pub starts_on: String,
    /// Last day.
    pub ends_on: String,
    /// open, closed or locked.
    pub status: String,
}

/// A journal entry.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Entry {
    /// Id.
    pub id: String,
    /// Entity.
    pub entity_id: String,
    /// Fiscal year.
    pub fiscal_year: i64,
    /// Number within the entity's fiscal year.
    pub number: i64,
    /// Period.
    pub period: i64,
    /// Date.
    pub entry_date: String,
    /// What it records.
    pub description: String,
    /// draft or posted.
    pub status: String,
    /// The entry this one reverses.
    pub reverses_id: Option<String>,
    /// Created.
    pub created_at: String,
    /// Posted.
    pub posted_at: Option<String>,
    /// Where it came from, e.g. `import:JE-1042` or `invoice:ID`; unique in the books.
    pub source: Option<String>,
}

/// A journal line.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Line {
    /// 1-based position.
    pub line_no: i64,
    /// Account id.
    pub account_id: String,
    /// Account string.
    #[sqlx(default)]
    pub account: String,
    /// Fund code of the account.
    #[sqlx(default)]
    pub fund_code: String,
    /// Debit, cents.
    pub debit_cents: i64,
    /// Credit, cents.
    pub credit_cents: i64,
    /// Memo.
    pub memo: String,
}

/// A line as entered.
#[derive(Debug, Clone)]
pub struct NewLine {
    /// Account string.
    pub account: String,
    /// Debit.
    pub debit: Money,
    /// Credit.
    pub credit: Money,
    /// Memo.
    pub memo: String,
}

/// An entry as entered.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Whose books.
    pub entity: EntityKind,
    /// Entry date.
    pub date: Date,
    /// Post into the year-end adjustment period (period 13); the date must be June 30.
    pub adjustment: bool,
    /// Description.
    pub description: String,
    /// Lines.
    pub lines: Vec<NewLine>,
}

/// One row of a trial balance.
#[derive(Debug, Clone, Serialize)]
pub struct TrialBalanceRow {
    /// Account string.
    pub account: String,
    /// Account name.
    pub name: String,
    /// Class key.
    pub class: String,
    /// Fund code.
    pub fund: String,
    /// Total debits, cents.
    pub debit_cents: i64,
    /// Total credits, cents.
    pub credit_cents: i64,
}

pub(crate) fn require(scope: &ServiceScope, p: Permission) -> Result<()> {
    if scope.service() != Service::Finance {
        return Err(Error::Internal(
            "ledger called with a non-finance scope".into(),
        ));
    }
    if scope.can(p) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "You need the {} permission in Finance for {}.",
            p.as_str(),
            scope.town().name
        )))
    }
}

pub(crate) fn json(v: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::Internal(e.to_string()))
}

/// The audit record of a finance change in the scope's town.
pub(crate) fn finance_change(
    scope: &ServiceScope,
    action: &'static str,
    entity_type: &'static str,
    id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Change {
    Change {
        municipality_id: Some(scope.municipality_id().clone()),
        service: Some(Service::Finance),
        action,
        entity_type,
        entity_id: id.to_owned(),
        before,
        after,
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// The id of the entity of `kind` in the scope's town.
pub async fn entity_id(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    kind: EntityKind,
) -> Result<String> {
    store::entity_id(ex, scope.municipality_id(), kind.as_str())
        .await?
        .ok_or(Error::NotFound { what: "entity" })
}

/// Adds a fund to an entity's books.
pub async fn create_fund(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    code: &str,
    name: &str,
    fund_type: FundType,
) -> Result<Fund> {
    require(scope, Permission::Administer)?;
    let code = code.trim();
    if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "code",
            "a UCOA fund code has 4 digits, e.g. 1005",
        ));
    }
    if name.trim().is_empty() || name.len() > 100 {
        return Err(Error::invalid(
            "name",
            "enter the fund's name (at most 100 characters)",
        ));
    }
    let fund = Fund {
        id: new_id(),
        entity_id: entity_id(scope, tx, entity).await?,
        code: code.to_owned(),
        name: name.trim().to_owned(),
        fund_type: fund_type.as_str().to_owned(),
    };
    store::insert_fund(tx, scope.municipality_id(), &fund)
        .await
        .map_err(|e| e.on_conflict("code", format!("fund {code} already exists in these books")))?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "fund.create",
            "fund",
            &fund.id,
            None,
            Some(json(&fund)?),
        ),
    )
    .await?;
    Ok(fund)
}

/// The funds of an entity's books.
pub async fn funds(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<Fund>> {
    require(scope, Permission::View)?;
    let entity = entity_id(scope, ex, entity).await?;
    store::funds(ex, scope.municipality_id(), &entity).await
}

/// Adds an account; its fund (the first segment) must exist in the same books.
pub async fn create_account(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    account: &AccountString,
    name: &str,
) -> Result<Account> {
    require(scope, Permission::Administer)?;
    if name.trim().is_empty() || name.len() > 150 {
        return Err(Error::invalid(
            "name",
            "enter the account's name (at most 150 characters)",
        ));
    }
    let class = account.class()?;
    let entity_id = entity_id(scope, tx, entity).await?;
    let fund = store::funds(tx, scope.municipality_id(), &entity_id)
        .await?
        .into_iter()
        .find(|f| f.code == account.fund())
        .ok_or_else(|| {
            Error::invalid(
                "account",
                format!(
                    "fund {} does not exist in these books; add it first",
                    account.fund()
                ),
            )
        })?;
    let a = Account {
        id: new_id(),
        entity_id,
        fund_id: fund.id,
        fund_code: fund.code,
        account: account.to_string(),
        name: name.trim().to_owned(),
        class: class.as_str().to_owned(),
        active: true,
    };
    store::insert_account(tx, scope.municipality_id(), &a)
        .await
        .map_err(|e| e.on_conflict("account", format!("account {account} already exists")))?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "account.create",
            "account",
            &a.id,
            None,
            Some(json(&a)?),
        ),
    )
    .await?;
    Ok(a)
}

/// The accounts of an entity's books.
pub async fn accounts(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<Account>> {
    require(scope, Permission::View)?;
    let entity = entity_id(scope, ex, entity).await?;
    store::accounts(ex, scope.municipality_id(), &entity).await
}

/// Opens a fiscal year: twelve monthly periods July–June and the adjustment period 13.
pub async fn open_fiscal_year(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    fy: FiscalYear,
) -> Result<Vec<Period>> {
    require(scope, Permission::Administer)?;
    let entity_id = entity_id(scope, tx, entity).await?;
    let fy_num = i64::from(fy.end_year());
    if store::period(tx, scope.municipality_id(), &entity_id, fy_num, 1)
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "fiscal_year",
            format!("{fy} is already open"),
        ));
    }
    let mut out = Vec::new();
    let mut start = fy.start();
    for n in 1..=12i64 {
        let next = start.replace_month(start.month().next()).unwrap_or(start);
        let next = if start.month() == time::Month::December {
            Date::from_calendar_date(start.year() + 1, time::Month::January, 1).unwrap_or(next)
        } else {
            next
        };
        let end = next.previous_day().unwrap_or(next);
        out.push(Period {
            entity_id: entity_id.clone(),
            fiscal_year: fy_num,
            period: n,
            starts_on: format_date(start),
            ends_on: format_date(end),
            status: PeriodStatus::Open.as_str().into(),
        });
        start = next;
    }
    out.push(Period {
        entity_id: entity_id.clone(),
        fiscal_year: fy_num,
        period: 13,
        starts_on: format_date(fy.end()),
        ends_on: format_date(fy.end()),
        status: PeriodStatus::Open.as_str().into(),
    });
    for p in &out {
        store::insert_period(tx, scope.municipality_id(), p).await?;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "fiscal_year.open",
            "fiscal_year",
            &format!("{entity_id}/{fy_num}"),
            None,
            Some(serde_json::json!({"fiscal_year": fy_num, "periods": 13})),
        ),
    )
    .await?;
    Ok(out)
}

/// The periods of an entity's books.
pub async fn periods(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<Period>> {
    require(scope, Permission::View)?;
    let entity = entity_id(scope, ex, entity).await?;
    store::periods(ex, scope.municipality_id(), &entity).await
}

/// Closes, reopens or locks a period (open ⇄ closed → locked).
pub async fn set_period_status(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    fy: FiscalYear,
    period: i64,
    to: PeriodStatus,
) -> Result<Period> {
    require(scope, Permission::Administer)?;
    let entity_id = entity_id(scope, tx, entity).await?;
    let before = store::period(
        tx,
        scope.municipality_id(),
        &entity_id,
        i64::from(fy.end_year()),
        period,
    )
    .await?
    .ok_or(Error::NotFound { what: "period" })?;
    let from = PeriodStatus::parse("status", &before.status)?;
    if !from.can_become(to) {
        return Err(Error::conflict(
            "status",
            format!(
                "period {period} of {fy} is {} and cannot become {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    let after = Period {
        status: to.as_str().into(),
        ..before.clone()
    };
    store::set_period_status(tx, scope.municipality_id(), &after).await?;
    let action = match to {
        PeriodStatus::Open => "period.reopen",
        PeriodStatus::Closed => "period.close",
        PeriodStatus::Locked => "period.lock",
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            action,
            "period",
            &format!("{entity_id}/{}/{period}", fy.end_year()),
            Some(json(&before)?),
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok(after)
}

async fn open_period_for(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity_id: &str,
    date: Date,
    year_end_period: Option<i64>,
) -> Result<(i64, i64)> {
    let fy = FiscalYear::containing(date);
    if year_end_period.is_some() && date != fy.end() {
        return Err(Error::invalid(
            "date",
            format!(
                "adjustments are dated the last day of the fiscal year ({})",
                format_date(fy.end())
            ),
        ));
    }
    let period = year_end_period.unwrap_or_else(|| i64::from(FiscalYear::period_of(date)));
    let fy_num = i64::from(fy.end_year());
    let p = store::period(ex, scope.municipality_id(), entity_id, fy_num, period)
        .await?
        .ok_or_else(|| Error::invalid("date", format!("{fy} is not open in these books")))?;
    if p.status != PeriodStatus::Open.as_str() {
        return Err(Error::invalid(
            "date",
            format!("period {period} of {fy} is {}; no posting", p.status),
        ));
    }
    Ok((fy_num, period))
}

/// Saves a draft entry. Accounts must exist; each line is a debit or a credit.
/// Drafts may be out of balance; posting checks every fund.
pub async fn create_draft(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &NewEntry,
) -> Result<(Entry, Vec<Line>)> {
    create_draft_in(scope, tx, now, new, new.adjustment.then_some(13), None).await
}

/// How another module posts to the ledger (the assessment levy, a
/// chargeback, …): inside the caller's transaction, an entry whose `source`
/// names what it records (`levy:2025`), created and posted at once. The
/// caller needs approve permission in finance. A source is posted once: an
/// entry with the same source, not reversed, is a conflict.
pub async fn post_from_source(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &NewEntry,
    source: &str,
) -> Result<Posted> {
    require(scope, Permission::Approve)?;
    let earlier: Option<(i64, String)> = dispatch!(tx, c => sqlx::query_as(
        "SELECT e.number, e.status FROM ledger_entries e WHERE e.municipality_id = $1 AND e.source = $2 \
         AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.municipality_id = e.municipality_id AND r.reverses_id = e.id) \
         ORDER BY e.created_at DESC LIMIT 1")
        .bind(scope.municipality_id()).bind(source).fetch_optional(c).await)?;
    if let Some((number, status)) = earlier {
        return Err(Error::conflict(
            "source",
            format!(
                "{source} is already in the ledger as {status} entry {number}; reverse it first to post it again"
            ),
        ));
    }
    let (entry, _) = create_draft_in(scope, tx, now, new, None, Some(source.to_owned())).await?;
    post_entry(scope, tx, now, &entry.id).await
}

/// [`create_draft`] into a given year-end period (13 adjustments, 14 the closing period).
pub(crate) async fn create_draft_in(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &NewEntry,
    year_end_period: Option<i64>,
    source: Option<String>,
) -> Result<(Entry, Vec<Line>)> {
    require(scope, Permission::Edit)?;
    let description = new.description.trim();
    if description.is_empty() || description.len() > 300 {
        return Err(Error::invalid(
            "description",
            "describe the entry (at most 300 characters)",
        ));
    }
    if new.lines.len() < 2 {
        return Err(Error::invalid("lines", "an entry needs at least two lines"));
    }
    if new.lines.len() > 10_000 {
        return Err(Error::invalid("lines", "at most 10,000 lines per entry"));
    }
    let entity_id = entity_id(scope, tx, new.entity).await?;
    let (fy, period) = open_period_for(scope, tx, &entity_id, new.date, year_end_period).await?;
    let named: Vec<String> = new
        .lines
        .iter()
        .filter_map(|l| AccountString::parse("account", &l.account).ok())
        .map(|a| a.to_string())
        .collect();
    let mut by_string =
        store::accounts_named(tx, scope.municipality_id(), &entity_id, named).await?;
    let mut lines = Vec::with_capacity(new.lines.len());
    for (i, l) in new.lines.iter().enumerate() {
        let field = format!("lines[{}]", i + 1);
        let account = AccountString::parse(&format!("{field}.account"), &l.account)?;
        let a = by_string
            .get(&account.to_string())
            .filter(|a| a.active)
            .ok_or_else(|| {
                Error::invalid(
                    format!("{field}.account"),
                    format!("account {account} does not exist in these books"),
                )
            })?;
        let (debit_cents, credit_cents) =
            LineAmount::from_columns(&field, l.debit, l.credit)?.columns();
        lines.push(Line {
            line_no: i64::try_from(i + 1).unwrap_or(i64::MAX),
            account_id: a.id.clone(),
            account: a.account.clone(),
            fund_code: a.fund_code.clone(),
            debit_cents,
            credit_cents,
            memo: l.memo.trim().chars().take(200).collect(),
        });
    }
    // The due-to and due-from accounts an inter-fund entry needs, read only when it is one.
    let due: Vec<String> = crate::domain::interfund(
        lines
            .iter()
            .map(|l| (l.fund_code.as_str(), l.debit_cents - l.credit_cents)),
    )
    .iter()
    .map(|(fund, due)| due.account(fund))
    .collect();
    if !due.is_empty() {
        by_string
            .extend(store::accounts_named(tx, scope.municipality_id(), &entity_id, due).await?);
    }
    append_interfund(&mut lines, &by_string);
    let entry = Entry {
        id: new_id(),
        number: store::next_entry_number(tx, scope.municipality_id(), &entity_id, fy).await?,
        entity_id,
        fiscal_year: fy,
        period,
        entry_date: format_date(new.date),
        description: description.to_owned(),
        status: "draft".into(),
        reverses_id: None,
        created_at: now.to_db(),
        posted_at: None,
        source,
    };
    store::insert_entry(tx, scope.municipality_id(), &entry).await?;
    store::insert_lines(tx, scope.municipality_id(), &entry.id, &lines).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "entry.create",
            "journal_entry",
            &entry.id,
            None,
            Some(serde_json::json!({"entry": entry, "lines": lines})),
        ),
    )
    .await?;
    Ok((entry, lines))
}

/// An entry that balances in total but moves money between funds gets the
/// due-to/due-from lines that make each fund balance (`domain::interfund`),
/// when the funds have those accounts; otherwise posting names the fund that
/// is out of balance.
fn append_interfund(lines: &mut Vec<Line>, accounts: &BTreeMap<String, Account>) {
    let auto = crate::domain::interfund(
        lines
            .iter()
            .map(|l| (l.fund_code.as_str(), l.debit_cents - l.credit_cents)),
    );
    let found: Vec<(&Account, crate::domain::Interfund)> = auto
        .iter()
        .filter_map(|(fund, due)| {
            accounts
                .get(&due.account(fund))
                .filter(|a| a.active)
                .map(|a| (a, *due))
        })
        .collect();
    if found.is_empty() || found.len() != auto.len() {
        return;
    }
    for (a, due) in found {
        let (debit_cents, credit_cents) = due.amount().columns();
        lines.push(Line {
            line_no: i64::try_from(lines.len() + 1).unwrap_or(i64::MAX),
            account_id: a.id.clone(),
            account: a.account.clone(),
            fund_code: a.fund_code.clone(),
            debit_cents,
            credit_cents,
            memo: match due {
                crate::domain::Interfund::DueTo(_) => "Due to other funds (automatic)".into(),
                crate::domain::Interfund::DueFrom(_) => "Due from other funds (automatic)".into(),
            },
        });
    }
}

/// An entry with its lines.
pub async fn entry(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
) -> Result<(Entry, Vec<Line>)> {
    require(scope, Permission::View)?;
    let e = store::entry(ex, scope.municipality_id(), id)
        .await?
        .ok_or(Error::NotFound {
            what: "journal entry",
        })?;
    let lines = store::lines(ex, scope.municipality_id(), id).await?;
    Ok((e, lines))
}

/// The newest entries of an entity's books.
pub async fn entries(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    limit: i64,
) -> Result<Vec<Entry>> {
    require(scope, Permission::View)?;
    let entity = entity_id(scope, ex, entity).await?;
    store::entries(ex, scope.municipality_id(), &entity, limit.clamp(1, 1000)).await
}

/// Posts a draft: its period must be open and every fund must balance. The
/// per-period balances are updated in the same transaction.
pub async fn post_entry(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
) -> Result<Posted> {
    require(scope, Permission::Approve)?;
    let (before, lines) = entry(scope, tx, id).await?;
    if before.status != "draft" {
        return Err(Error::conflict(
            "status",
            format!(
                "entry {} is already posted; correct it with a reversing entry",
                before.number
            ),
        ));
    }
    let period = store::period(
        tx,
        scope.municipality_id(),
        &before.entity_id,
        before.fiscal_year,
        before.period,
    )
    .await?
    .ok_or(Error::NotFound { what: "period" })?;
    if period.status != PeriodStatus::Open.as_str() {
        return Err(Error::invalid(
            "date",
            format!(
                "period {} of FY {} is {}; no posting",
                period.period, before.fiscal_year, period.status
            ),
        ));
    }
    let amounts: Vec<(&str, LineAmount)> = lines
        .iter()
        .map(|l| {
            let amount = if l.debit_cents > 0 {
                LineAmount::Debit(Money::from_cents(l.debit_cents))
            } else {
                LineAmount::Credit(Money::from_cents(l.credit_cents))
            };
            (l.fund_code.as_str(), amount)
        })
        .collect();
    check_balanced(amounts)?;
    // Appropriation control, on the balances before this entry. A reversal
    // only undoes what was posted, so it is never held back.
    let over = crate::budget::overspending(scope, tx, &before, &lines).await?;
    let control = crate::budget::control(scope, tx).await?;
    if !over.is_empty()
        && control == crate::budget::AppropriationControl::Block
        && before.reverses_id.is_none()
    {
        return Err(Error::invalid("lines", over.join("; ")));
    }
    let warnings = if control == crate::budget::AppropriationControl::Off {
        Vec::new()
    } else {
        over
    };
    if store::mark_posted(tx, scope.municipality_id(), id, &now.to_db()).await? != 1 {
        return Err(Error::conflict(
            "status",
            "the entry changed while posting; reload and try again",
        ));
    }
    store::add_to_balances(
        tx,
        scope.municipality_id(),
        before.fiscal_year,
        before.period,
        lines
            .iter()
            .map(|l| (l.account_id.clone(), l.debit_cents, l.credit_cents)),
    )
    .await?;
    let after = Entry {
        status: "posted".into(),
        posted_at: Some(now.to_db()),
        ..before.clone()
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "entry.post",
            "journal_entry",
            id,
            Some(json(&before)?),
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok(Posted {
        entry: after,
        warnings,
    })
}

/// A posted entry and what appropriation control has to say about it.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The entry, now posted.
    pub entry: Entry,
    /// Accounts this entry took over budget (when the town's control is `warn`).
    pub warnings: Vec<String>,
}

/// Reverses a posted entry with a new, posted entry dated `on` whose lines swap
/// debits and credits. An entry is reversed at most once.
pub async fn reverse_entry(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    on: Date,
) -> Result<Entry> {
    require(scope, Permission::Approve)?;
    let (original, lines) = entry(scope, tx, id).await?;
    if original.status != "posted" {
        return Err(Error::conflict(
            "status",
            "only a posted entry can be reversed; delete or edit a draft instead",
        ));
    }
    if original.reverses_id.is_some() {
        return Err(Error::conflict("status", "this entry is itself a reversal"));
    }
    if store::reversal_of(tx, scope.municipality_id(), id)
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "status",
            format!("entry {} is already reversed", original.number),
        ));
    }
    // A year-end entry (adjustment or closing) reversed on the last day of its
    // year is reversed in its own period; anything else in the date's period.
    let year_end = (original.period >= 13 && on == FiscalYear::containing(on).end())
        .then_some(original.period);
    let (fy, period) = open_period_for(scope, tx, &original.entity_id, on, year_end).await?;
    let reversal = Entry {
        id: new_id(),
        entity_id: original.entity_id.clone(),
        fiscal_year: fy,
        number: store::next_entry_number(tx, scope.municipality_id(), &original.entity_id, fy)
            .await?,
        period,
        entry_date: format_date(on),
        description: format!(
            "Reversal of entry {} ({})",
            original.number, original.description
        ),
        status: "draft".into(),
        reverses_id: Some(original.id.clone()),
        created_at: now.to_db(),
        posted_at: None,
        source: None,
    };
    store::insert_entry(tx, scope.municipality_id(), &reversal).await?;
    let swapped: Vec<Line> = lines
        .iter()
        .map(|l| Line {
            debit_cents: l.credit_cents,
            credit_cents: l.debit_cents,
            ..l.clone()
        })
        .collect();
    store::insert_lines(tx, scope.municipality_id(), &reversal.id, &swapped).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "entry.reverse",
            "journal_entry",
            &reversal.id,
            None,
            Some(serde_json::json!({"reverses": original.id})),
        ),
    )
    .await?;
    post_entry(scope, tx, now, &reversal.id)
        .await
        .map(|p| p.entry)
}

/// The trial balance of an entity's books at the end of `as_of`, for the
/// fiscal year containing it (optionally one fund): whole periods from the
/// kept balances, the current period from its posted lines up to the date.
/// On June 30 the adjustment period is included.
pub async fn trial_balance(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    fund: Option<&str>,
    as_of: Date,
) -> Result<Vec<TrialBalanceRow>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    let fy = FiscalYear::containing(as_of);
    let fy_num = i64::from(fy.end_year());
    let m = scope.municipality_id();
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut add = |rows: Vec<(String, i64, i64)>| {
        for (account, d, c) in rows {
            let e = totals.entry(account).or_default();
            e.0 += d;
            e.1 += c;
        }
    };
    if as_of == fy.end() {
        add(store::period_totals(ex, m, &entity_id, fy_num, 14).await?);
    } else {
        let current = i64::from(FiscalYear::period_of(as_of));
        add(store::period_totals(ex, m, &entity_id, fy_num, current).await?);
        add(
            store::partial_period_totals(ex, m, &entity_id, fy_num, current, &format_date(as_of))
                .await?,
        );
    }
    let accounts = store::accounts(ex, m, &entity_id).await?;
    Ok(accounts
        .into_iter()
        .filter(|a| fund.is_none_or(|f| f == a.fund_code))
        .filter_map(|a| {
            totals.get(&a.id).map(|(d, c)| TrialBalanceRow {
                account: a.account.clone(),
                name: a.name.clone(),
                class: a.class.clone(),
                fund: a.fund_code.clone(),
                debit_cents: *d,
                credit_cents: *c,
            })
        })
        .collect())
}

/// A proposed, approved or rejected budget amendment or transfer.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BudgetChange {
    /// Id.
    pub id: String,
    /// Entity.
    pub entity_id: String,
    /// Fiscal year.
    pub fiscal_year: i64,
    /// `amendment` or `transfer`.
    pub kind: String,
    /// Why.
    pub description: String,
    /// `proposed`, `approved` or `rejected`.
    pub status: String,
    /// Proposed.
    pub created_at: String,
    /// Approved or rejected.
    pub decided_at: Option<String>,
}
