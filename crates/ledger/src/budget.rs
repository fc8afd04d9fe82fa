//! Budgetary control: the adopted budget is the appropriation per account and
//! fiscal year; amendments (which change the total, e.g. a supplemental
//! appropriation) and transfers (which move budget between accounts and net
//! to zero) take effect once approved — by the board of finance or town
//! council, recorded here by a user with the approve permission.
//! Budget vs actual reads the kept balances, never journal lines of closed periods.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::audit;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Timestamp};
use munishare_platform::{Error, Result};
use serde::Serialize;

use crate::domain::{AccountClass, AccountString};
use crate::service::{
    self, Account, BudgetChange, entity_id, finance_change, json, new_id, require,
};
use crate::store;

/// Whether budget changes move money between accounts or change the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Changes the total appropriation.
    Amendment,
    /// Moves budget between accounts; nets to zero.
    Transfer,
}

impl ChangeKind {
    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Amendment => "amendment",
            Self::Transfer => "transfer",
        }
    }

    /// Parses a key, naming the field.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        match s {
            "amendment" => Ok(Self::Amendment),
            "transfer" => Ok(Self::Transfer),
            _ => Err(Error::invalid(field, "choose amendment or transfer")),
        }
    }
}

async fn budget_account(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity_id: &str,
    field: &str,
    account: &str,
) -> Result<Account> {
    let parsed = AccountString::parse(field, account)?;
    let a = store::accounts(ex, scope.municipality_id(), entity_id)
        .await?
        .into_iter()
        .find(|a| a.account == parsed.to_string())
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("account {parsed} does not exist in these books"),
            )
        })?;
    match parsed.class()? {
        AccountClass::Revenue | AccountClass::Expenditure => Ok(a),
        other => Err(Error::invalid(
            field,
            format!(
                "{parsed} is a {} account; budgets are for revenue and expenditure accounts",
                other.as_str()
            ),
        )),
    }
}

/// Adopts the budget of a fiscal year: an amount per revenue or expenditure
/// account. An account already adopted for the year is refused (amend it instead).
pub async fn adopt(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    fy: FiscalYear,
    lines: &[(String, Money)],
) -> Result<usize> {
    require(scope, Permission::Administer)?;
    if lines.is_empty() {
        return Err(Error::invalid(
            "lines",
            "list at least one account and amount",
        ));
    }
    let entity_id = entity_id(scope, tx, entity).await?;
    let fy_num = i64::from(fy.end_year());
    let existing: Vec<String> = store::adopted(tx, scope.municipality_id(), &entity_id, fy_num)
        .await?
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let mut seen = Vec::new();
    for (i, (account, amount)) in lines.iter().enumerate() {
        let field = format!("lines[{}]", i + 1);
        let a = budget_account(scope, tx, &entity_id, &format!("{field}.account"), account).await?;
        if amount.cents() < 0 {
            return Err(Error::invalid(
                format!("{field}.amount"),
                "a budget amount cannot be negative",
            ));
        }
        if existing.contains(&a.id) || seen.contains(&a.id) {
            return Err(Error::conflict(
                format!("{field}.account"),
                format!(
                    "{} already has an adopted budget for {fy}; amend it instead",
                    a.account
                ),
            ));
        }
        seen.push(a.id.clone());
        let at = now.to_db();
        let line = store::AdoptedLine {
            entity_id: &entity_id,
            fiscal_year: fy_num,
            account_id: &a.id,
            cents: amount.cents(),
            at: &at,
        };
        store::insert_budget(tx, scope.municipality_id(), &new_id(), &line).await?;
    }
    let detail: Vec<_> = lines
        .iter()
        .map(|(a, m)| serde_json::json!({"account": a, "amount": m.to_decimal().to_string()}))
        .collect();
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "budget.adopt",
            "budget",
            &format!("{entity_id}/{fy_num}"),
            None,
            Some(serde_json::json!({"fiscal_year": fy_num, "lines": detail})),
        ),
    )
    .await?;
    Ok(lines.len())
}

/// A proposed amendment or transfer.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// Whose books.
    pub entity: EntityKind,
    /// Fiscal year.
    pub fiscal_year: FiscalYear,
    /// Amendment or transfer.
    pub kind: ChangeKind,
    /// Why (e.g. the council resolution).
    pub description: String,
    /// (account, signed amount): positive adds budget, negative removes it.
    pub lines: Vec<(String, Money)>,
}

/// Proposes an amendment or transfer. A transfer must net to zero, and the
/// error says by how much it does not.
pub async fn propose(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    p: &Proposal,
) -> Result<BudgetChange> {
    require(scope, Permission::Edit)?;
    let (entity, fy, kind, lines) = (p.entity, p.fiscal_year, p.kind, &p.lines);
    let description = p.description.trim();
    if description.is_empty() || description.len() > 300 {
        return Err(Error::invalid(
            "description",
            "say why (at most 300 characters), e.g. the council resolution",
        ));
    }
    if lines.is_empty() || (kind == ChangeKind::Transfer && lines.len() < 2) {
        return Err(Error::invalid(
            "lines",
            "a transfer needs at least two lines; an amendment at least one",
        ));
    }
    let net: i64 = lines.iter().map(|(_, m)| m.cents()).sum();
    if kind == ChangeKind::Transfer && net != 0 {
        return Err(Error::invalid(
            "lines",
            format!(
                "a transfer must net to zero; these lines net to {}",
                Money::from_cents(net)
            ),
        ));
    }
    let entity_id = entity_id(scope, tx, entity).await?;
    let change = BudgetChange {
        id: new_id(),
        entity_id: entity_id.clone(),
        fiscal_year: i64::from(fy.end_year()),
        kind: kind.as_str().to_owned(),
        description: description.to_owned(),
        status: "proposed".into(),
        created_at: now.to_db(),
        decided_at: None,
    };
    let mut ids = Vec::new();
    for (i, (account, amount)) in lines.iter().enumerate() {
        let field = format!("lines[{}]", i + 1);
        if amount.cents() == 0 {
            return Err(Error::invalid(
                format!("{field}.amount"),
                "enter a non-zero amount (negative to reduce)",
            ));
        }
        ids.push((
            budget_account(scope, tx, &entity_id, &format!("{field}.account"), account)
                .await?
                .id,
            amount.cents(),
        ));
    }
    store::insert_change(tx, scope.municipality_id(), &change).await?;
    for (i, (account_id, cents)) in ids.iter().enumerate() {
        store::insert_change_line(
            tx,
            scope.municipality_id(),
            &change.id,
            i64::try_from(i + 1).unwrap_or(i64::MAX),
            account_id,
            *cents,
        )
        .await?;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "budget_change.propose",
            "budget_change",
            &change.id,
            None,
            Some(json(&change)?),
        ),
    )
    .await?;
    Ok(change)
}

/// Approves or rejects a proposed change.
pub async fn decide(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    approve: bool,
) -> Result<BudgetChange> {
    require(scope, Permission::Approve)?;
    let before = store::change(tx, scope.municipality_id(), id)
        .await?
        .ok_or(Error::NotFound {
            what: "budget change",
        })?;
    let status = if approve { "approved" } else { "rejected" };
    if store::decide_change(tx, scope.municipality_id(), id, status, &now.to_db()).await? != 1 {
        return Err(Error::conflict(
            "status",
            format!("this {} is already {}", before.kind, before.status),
        ));
    }
    let after = BudgetChange {
        status: status.into(),
        decided_at: Some(now.to_db()),
        ..before.clone()
    };
    let action = if approve {
        "budget_change.approve"
    } else {
        "budget_change.reject"
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            action,
            "budget_change",
            id,
            Some(json(&before)?),
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok(after)
}

/// The changes proposed for a fiscal year, newest first, with their lines.
pub async fn changes(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    fy: FiscalYear,
) -> Result<Vec<(BudgetChange, Vec<(String, i64)>)>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    let mut out = Vec::new();
    for ch in store::changes(
        ex,
        scope.municipality_id(),
        &entity_id,
        i64::from(fy.end_year()),
    )
    .await?
    {
        let lines = store::change_lines(ex, scope.municipality_id(), &ch.id).await?;
        out.push((ch, lines));
    }
    Ok(out)
}

/// One account's budget against its activity.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetRow {
    /// Account string.
    pub account: String,
    /// Name.
    pub name: String,
    /// `revenue` or `expenditure`.
    pub class: String,
    /// Adopted, cents.
    pub adopted_cents: i64,
    /// Approved amendments and transfers, cents.
    pub changes_cents: i64,
    /// Revised budget = adopted + changes, cents.
    pub revised_cents: i64,
    /// Actual: expenditures (debits − credits) or revenues (credits − debits), cents.
    pub actual_cents: i64,
    /// Open purchase orders, cents.
    pub encumbered_cents: i64,
    /// Revised − actual − encumbered, cents (for revenues: still to collect).
    pub available_cents: i64,
}

/// Budget vs actual at the end of `as_of` for the fiscal year containing it.
pub async fn budget_vs_actual(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    as_of: time::Date,
) -> Result<Vec<BudgetRow>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    let fy = FiscalYear::containing(as_of);
    let fy_num = i64::from(fy.end_year());
    let m = scope.municipality_id();
    let adopted: BTreeMap<String, i64> = store::adopted(ex, m, &entity_id, fy_num)
        .await?
        .into_iter()
        .collect();
    let changes: BTreeMap<String, i64> = store::approved_changes(ex, m, &entity_id, fy_num)
        .await?
        .into_iter()
        .collect();
    let encumbered: BTreeMap<String, i64> = store::encumbrances(ex, m, &entity_id, fy_num)
        .await?
        .into_iter()
        .collect();
    let actual: BTreeMap<String, (i64, i64)> =
        service::trial_balance(scope, ex, entity, None, as_of)
            .await?
            .into_iter()
            .map(|r| (r.account, (r.debit_cents, r.credit_cents)))
            .collect();
    Ok(store::accounts(ex, m, &entity_id)
        .await?
        .into_iter()
        .filter(|a| {
            adopted.contains_key(&a.id)
                || changes.contains_key(&a.id)
                || encumbered.contains_key(&a.id)
        })
        .map(|a| {
            let adopted_cents = adopted.get(&a.id).copied().unwrap_or(0);
            let changes_cents = changes.get(&a.id).copied().unwrap_or(0);
            let (d, c) = actual.get(&a.account).copied().unwrap_or((0, 0));
            let actual_cents = if a.class == AccountClass::Revenue.as_str() {
                c - d
            } else {
                d - c
            };
            let revised_cents = adopted_cents + changes_cents;
            let encumbered_cents = encumbered.get(&a.id).copied().unwrap_or(0);
            BudgetRow {
                account: a.account,
                name: a.name,
                class: a.class,
                adopted_cents,
                changes_cents,
                revised_cents,
                actual_cents,
                encumbered_cents,
                available_cents: revised_cents - actual_cents - encumbered_cents,
            }
        })
        .collect())
}

/// What posting does when an expenditure would take an account past its
/// revised budget (a town setting; CT towns differ in how strictly their
/// charters bind appropriations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppropriationControl {
    /// No check.
    Off,
    /// Post, and say which accounts are now over budget (the default).
    Warn,
    /// Refuse to post.
    Block,
}

impl AppropriationControl {
    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Warn => "warn",
            Self::Block => "block",
        }
    }

    /// Parses a key, naming the field.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        match s {
            "off" => Ok(Self::Off),
            "warn" => Ok(Self::Warn),
            "block" => Ok(Self::Block),
            _ => Err(Error::invalid(field, "choose off, warn or block")),
        }
    }
}

/// The town's appropriation control (warn unless set).
pub async fn control(scope: &ServiceScope, ex: &mut impl Executor) -> Result<AppropriationControl> {
    require(scope, Permission::View)?;
    match store::appropriation_control(ex, scope.municipality_id()).await? {
        None => Ok(AppropriationControl::Warn),
        Some(s) => AppropriationControl::parse("appropriation_control", &s),
    }
}

/// Sets the town's appropriation control (finance administrators), audited.
pub async fn set_control(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    mode: AppropriationControl,
) -> Result<()> {
    require(scope, Permission::Administer)?;
    let before = control(scope, tx).await?;
    store::set_appropriation_control(tx, scope.municipality_id(), mode.as_str()).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "settings.appropriation_control",
            "finance_settings",
            scope.municipality_id().as_str(),
            Some(serde_json::json!({"appropriation_control": before})),
            Some(serde_json::json!({"appropriation_control": mode})),
        ),
    )
    .await?;
    Ok(())
}

/// The budgeted expenditure accounts an entry would take past what is
/// available (revised budget − spent − encumbered), each as a sentence with the figures.
pub(crate) async fn overspending(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entry: &service::Entry,
    lines: &[service::Line],
) -> Result<Vec<String>> {
    let mut amounts: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for l in lines {
        amounts
            .entry(l.account_id.clone())
            .or_insert_with(|| (l.account.clone(), 0))
            .1 += l.debit_cents - l.credit_cents;
    }
    over_budget(
        scope,
        ex,
        &entry.entity_id,
        entry.fiscal_year,
        &amounts,
        "entry",
    )
    .await
}

/// For each (account id → (account, new cents)) that is a budgeted expenditure
/// account with a positive amount, a sentence when revised − spent −
/// encumbered − the new amount would be negative.
pub(crate) async fn over_budget(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity_id: &str,
    fy: i64,
    amounts: &BTreeMap<String, (String, i64)>,
    what: &str,
) -> Result<Vec<String>> {
    let m = scope.municipality_id();
    let adopted: BTreeMap<String, i64> = store::adopted(ex, m, entity_id, fy)
        .await?
        .into_iter()
        .collect();
    let changes: BTreeMap<String, i64> = store::approved_changes(ex, m, entity_id, fy)
        .await?
        .into_iter()
        .collect();
    let spent: BTreeMap<String, i64> = store::period_totals(ex, m, entity_id, fy, 14)
        .await?
        .into_iter()
        .map(|(a, d, c)| (a, d - c))
        .collect();
    let encumbered: BTreeMap<String, i64> = store::encumbrances(ex, m, entity_id, fy)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::new();
    for (account_id, (account, new)) in amounts {
        if *new <= 0 || !(adopted.contains_key(account_id) || changes.contains_key(account_id)) {
            continue;
        }
        if AccountString::parse("account", account)?.class()? != AccountClass::Expenditure {
            continue;
        }
        let revised = adopted.get(account_id).copied().unwrap_or(0)
            + changes.get(account_id).copied().unwrap_or(0);
        let so_far = spent.get(account_id).copied().unwrap_or(0);
        let held = encumbered.get(account_id).copied().unwrap_or(0);
        let available = revised - so_far - held - new;
        if available < 0 {
            let held_text = if held > 0 {
                format!(", encumbered {}", Money::from_cents(held))
            } else {
                String::new()
            };
            out.push(format!(
                "{account} would be over budget by {}: revised budget {}, spent {}{held_text}, this {what} {}",
                Money::from_cents(-available),
                Money::from_cents(revised),
                Money::from_cents(so_far),
                Money::from_cents(*new)
            ));
        }
    }
    Ok(out)
}
