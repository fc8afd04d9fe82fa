//! The annual UCOA filing (CGS 7-406c): the year-end trial balance per account
//! in the layout OPM publishes — FiscalYear, Municipality, the local account
//! and its segments, the uniform account and its segments, Debit, and Credit
//! stored negative — and the working view behind it (beginning, debits,
//! credits, ending per account).
//!
//! Books kept on UCOA account strings map each account to itself; a town
//! that keeps its own chart maps it with the crosswalk in effect for the year
//! (`crate::ucoa`), and the filing refuses to run while an account with
//! activity is unmapped.

use std::collections::BTreeMap;

use munishare_platform::Result;
use munishare_platform::access::ServiceScope;
use munishare_platform::db::Executor;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission};
use serde::Serialize;

use crate::domain::AccountString;
use crate::service::{entity_id, require};
use crate::store;

/// One account of the filing.
#[derive(Debug, Clone, Serialize)]
pub struct FilingRow {
    /// The local account string.
    pub account: String,
    /// The uniform account it maps to.
    pub uniform_account: String,
    /// Its name.
    pub name: String,
    /// Opening balance (debit positive), cents.
    pub beginning_cents: i64,
    /// Debits of the year (periods 1–13), cents.
    pub debit_cents: i64,
    /// Credits of the year, cents.
    pub credit_cents: i64,
    /// Pre-closing ending balance (debit positive), cents.
    pub ending_cents: i64,
}

/// The year-end, pre-closing trial balance of `fy` for the filing.
pub async fn ucoa_filing(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
    fy: FiscalYear,
) -> Result<Vec<FilingRow>> {
    require(scope, Permission::View)?;
    let m = scope.municipality_id();
    let entity_id = entity_id(scope, ex, entity).await?;
    let uniform = crate::ucoa::uniform_accounts(scope, ex, entity, fy).await?;
    let fy_num = i64::from(fy.end_year());
    let opening: BTreeMap<String, i64> = store::period_totals(ex, m, &entity_id, fy_num, 1)
        .await?
        .into_iter()
        .map(|(a, d, c)| (a, d - c))
        .collect();
    let through13: BTreeMap<String, (i64, i64)> =
        store::period_totals(ex, m, &entity_id, fy_num, 14)
            .await?
            .into_iter()
            .map(|(a, d, c)| (a, (d, c)))
            .collect();
    Ok(store::accounts(ex, m, &entity_id)
        .await?
        .into_iter()
        .filter_map(|a| {
            let beginning = opening.get(&a.id).copied().unwrap_or(0);
            let (d_all, c_all) = through13.get(&a.id).copied()?;
            // Period 0 holds the opening balance on one side; the year's activity is the rest.
            let (open_d, open_c) = if beginning > 0 {
                (beginning, 0)
            } else {
                (0, -beginning)
            };
            let (debits, credits) = (d_all - open_d, c_all - open_c);
            Some(FilingRow {
                uniform_account: uniform
                    .get(&a.id)
                    .cloned()
                    .unwrap_or_else(|| a.account.clone()),
                account: a.account,
                name: a.name,
                beginning_cents: beginning,
                debit_cents: debits,
                credit_cents: credits,
                ending_cents: beginning + debits - credits,
            })
        })
        .filter(|r| r.beginning_cents != 0 || r.debit_cents != 0 || r.credit_cents != 0)
        .collect())
}

/// The filing in OPM's published column layout, header first.
pub fn opm_layout(
    fy: FiscalYear,
    municipality: &str,
    rows: &[FilingRow],
) -> Result<Vec<Vec<String>>> {
    let mut out = vec![
        [
            "FiscalYear",
            "Municipality",
            "LocalAccount",
            "LocalFund",
            "LocalFunction",
            "LocalDepartment",
            "LocalSubDepartment",
            "LocalObject",
            "LocalProject",
            "UniformAccount",
            "UniformFund",
            "UniformFunction",
            "UniformDepartment",
            "UniformObject",
            "UniformProjectName",
            "Debit",
            "Credit",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for r in rows {
        let local: Vec<String> = AccountString::parse("account", &r.account)?
            .to_string()
            .split('-')
            .map(str::to_owned)
            .collect();
        let seg: Vec<String> = AccountString::parse("uniform_account", &r.uniform_account)?
            .to_string()
            .split('-')
            .map(str::to_owned)
            .collect();
        let (debit, credit) = if r.ending_cents >= 0 {
            (r.ending_cents, 0)
        } else {
            (0, r.ending_cents)
        };
        let project = if seg[5] == "000" {
            "Undefined Project".to_owned()
        } else {
            seg[5].clone()
        };
        let money = |c: i64| Money::from_cents(c).to_decimal().to_string();
        out.push(vec![
            fy.end_year().to_string(),
            municipality.to_owned(),
            r.account.clone(),
            local[0].clone(),
            local[1].clone(),
            local[2].clone(),
            local[3].clone(),
            local[4].clone(),
            local[5].clone(),
            r.uniform_account.clone(),
            seg[0].clone(),
            seg[1].clone(),
            seg[2].clone(),
            seg[4].clone(),
            project,
            money(debit),
            money(credit),
        ]);
    }
    Ok(out)
}
