//! General-ledger detail: one account's posted lines between two dates of a
//! fiscal year, with the balance brought forward and a running balance.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::Executor;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Permission, format_date};
use munishare_platform::{Error, Result};
use serde::Serialize;
use time::Date;

use crate::domain::AccountString;
use crate::service::{self, entity_id, require};
use crate::store;

/// One posted line.
#[derive(Debug, Clone, Serialize)]
pub struct DetailLine {
    /// Entry id.
    pub entry_id: String,
    /// Entry number.
    pub number: i64,
    /// Date.
    pub date: String,
    /// Period.
    pub period: i64,
    /// Entry description.
    pub description: String,
    /// Debit, cents.
    pub debit_cents: i64,
    /// Credit, cents.
    pub credit_cents: i64,
    /// Memo.
    pub memo: String,
    /// Balance after this line (debit positive), cents.
    pub balance_cents: i64,
}

/// An account's activity between two dates.
#[derive(Debug, Clone, Serialize)]
pub struct AccountDetail {
    /// The account string.
    pub account: String,
    /// Its name.
    pub name: String,
    /// Balance at the start of `from` (debit positive), cents.
    pub brought_forward_cents: i64,
    /// The lines.
    pub lines: Vec<DetailLine>,
}

/// The detail of `account` from `from` to `to`, both in one fiscal year.
pub async fn account_detail(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    account: &AccountString,
    from: Date,
    to: Date,
) -> Result<AccountDetail> {
    require(scope, Permission::View)?;
    if from > to {
        return Err(Error::invalid(
            "from",
            "the start date is after the end date",
        ));
    }
    let fy = FiscalYear::containing(from);
    if FiscalYear::containing(to) != fy {
        return Err(Error::invalid(
            "to",
            format!(
                "keep both dates within one fiscal year ({} to {})",
                format_date(fy.start()),
                format_date(fy.end())
            ),
        ));
    }
    let entity_id = entity_id(scope, ex, entity).await?;
    let a = store::accounts(ex, scope.municipality_id(), &entity_id)
        .await?
        .into_iter()
        .find(|a| a.account == account.to_string())
        .ok_or_else(|| {
            Error::invalid(
                "account",
                format!("account {account} does not exist in these books"),
            )
        })?;
    // Brought forward: the opening balance (period 0) when `from` is the first
    // day of the fiscal year, else the trial balance at the end of the day before.
    let before = if from == fy.start() {
        store::period_totals(
            ex,
            scope.municipality_id(),
            &entity_id,
            i64::from(fy.end_year()),
            1,
        )
        .await?
        .into_iter()
        .find(|(id, _, _)| *id == a.id)
        .map_or(0, |(_, d, c)| d - c)
    } else {
        let day_before = from.previous_day().unwrap_or(from);
        service::trial_balance(scope, ex, entity, None, day_before)
            .await?
            .iter()
            .find(|r| r.account == a.account)
            .map_or(0, |r| r.debit_cents - r.credit_cents)
    };
    let mut balance = before;
    let lines = store::account_detail(
        ex,
        scope.municipality_id(),
        &a.id,
        i64::from(fy.end_year()),
        &format_date(from),
        &format_date(to),
    )
    .await?
    .into_iter()
    .map(
        |(entry_id, number, date, period, description, debit_cents, credit_cents, memo)| {
            balance += debit_cents - credit_cents;
            DetailLine {
                entry_id,
                number,
                date,
                period,
                description,
                debit_cents,
                credit_cents,
                memo,
                balance_cents: balance,
            }
        },
    )
    .collect();
    Ok(AccountDetail {
        account: a.account,
        name: a.name,
        brought_forward_cents: before,
        lines,
    })
}
