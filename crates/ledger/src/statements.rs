//! Fund financial statements at a date, per fund: the balance sheet (assets =
//! liabilities + fund balance) and the statement of revenues, expenditures and
//! changes in fund balance for the fiscal year to date, expenditures by UCOA
//! function. Both are read from the trial balance, so they tie to it.

use std::collections::BTreeMap;

use munishare_platform::Result;
use munishare_platform::access::ServiceScope;
use munishare_platform::db::Executor;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Permission};
use serde::Serialize;
use time::Date;

use crate::domain::{AccountClass, AccountString};
use crate::service::{self, entity_id, require};
use crate::store;

/// One fund's statements. Amounts in cents, each on its natural side (positive = normal balance).
#[derive(Debug, Clone, Serialize, Default)]
pub struct FundStatements {
    /// Fund code.
    pub fund: String,
    /// Fund name.
    pub name: String,
    /// Total assets.
    pub assets: i64,
    /// Total liabilities.
    pub liabilities: i64,
    /// Fund balance at the start of the fiscal year (opening balances).
    pub beginning_fund_balance: i64,
    /// Other changes posted directly to fund balance this year.
    pub other_fund_balance_changes: i64,
    /// Revenues, year to date.
    pub revenues: i64,
    /// Expenditures by UCOA function code, year to date.
    pub expenditures_by_function: Vec<(String, i64)>,
    /// Total expenditures, year to date.
    pub expenditures: i64,
    /// Revenues − expenditures.
    pub excess: i64,
    /// Beginning + other changes + excess.
    pub ending_fund_balance: i64,
}

impl FundStatements {
    /// Whether assets = liabilities + ending fund balance.
    pub fn balances(&self) -> bool {
        self.assets == self.liabilities + self.ending_fund_balance
    }
}

/// The statements of every fund with activity, at the end of `as_of`.
pub async fn fund_statements(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    as_of: Date,
) -> Result<Vec<FundStatements>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    let fy = FiscalYear::containing(as_of);
    let funds: BTreeMap<String, String> = store::funds(ex, scope.municipality_id(), &entity_id)
        .await?
        .into_iter()
        .map(|f| (f.code, f.name))
        .collect();
    let openings: BTreeMap<String, i64> = store::period_totals(
        ex,
        scope.municipality_id(),
        &entity_id,
        i64::from(fy.end_year()),
        1,
    )
    .await?
    .into_iter()
    .map(|(a, d, c)| (a, d - c))
    .collect();
    let accounts: BTreeMap<String, String> =
        store::accounts(ex, scope.municipality_id(), &entity_id)
            .await?
            .into_iter()
            .map(|a| (a.account, a.id))
            .collect();
    let mut out: BTreeMap<String, FundStatements> = BTreeMap::new();
    let mut by_function: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in service::trial_balance(scope, ex, entity, None, as_of).await? {
        let a = AccountString::parse("account", &r.account)?;
        let net_debit = r.debit_cents - r.credit_cents;
        let s = out.entry(r.fund.clone()).or_insert_with(|| FundStatements {
            fund: r.fund.clone(),
            name: funds.get(&r.fund).cloned().unwrap_or_default(),
            ..FundStatements::default()
        });
        match a.class()? {
            AccountClass::Asset => s.assets += net_debit,
            AccountClass::Liability => s.liabilities -= net_debit,
            AccountClass::FundBalance => {
                let opening = accounts
                    .get(&r.account)
                    .and_then(|id| openings.get(id))
                    .copied()
                    .unwrap_or(0);
                s.beginning_fund_balance -= opening;
                s.other_fund_balance_changes -= net_debit - opening;
            }
            AccountClass::Revenue => s.revenues -= net_debit,
            AccountClass::Expenditure => {
                s.expenditures += net_debit;
                *by_function
                    .entry((r.fund.clone(), a.function().to_owned()))
                    .or_default() += net_debit;
            }
        }
    }
    for ((fund, function), cents) in by_function {
        if let Some(s) = out.get_mut(&fund) {
            s.expenditures_by_function.push((function, cents));
        }
    }
    for s in out.values_mut() {
        s.excess = s.revenues - s.expenditures;
        s.ending_fund_balance = s.beginning_fund_balance + s.other_fund_balance_changes + s.excess;
    }
    Ok(out.into_values().collect())
}
