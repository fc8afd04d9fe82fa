//! Year-end close and its roll-forward.
//!
//! Closing a fiscal year posts, in the closing period 14 dated June 30 (after
//! the adjustment period 13, so the pre-closing trial balance and budget vs
//! actual at year end stay as they were), an entry that zeroes every revenue and expenditure account into its fund's
//! fund-balance account (object 3xxxx), and carries every asset, liability and
//! fund-balance account into the next fiscal year as an opening balance
//! (period 0 of the kept balances, which every later trial balance includes).
//! Open purchase orders and their appropriations carry into the next year.
//! Reopening reverses the closing entry, removes the openings and brings the
//! carried orders back, audited.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::audit;
use munishare_platform::db::Tx;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Timestamp};
use munishare_platform::{Error, Result};

use crate::domain::{AccountClass, PeriodStatus};
use crate::service::{self, NewEntry, NewLine, entity_id, finance_change, require};
use crate::store;

/// Closes `fy`: periods 1–12 must be closed, the next fiscal year open, and every fund with activity must have a fund-balance account.
/// Returns the closing entry's id.
pub async fn close_year(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    fy: FiscalYear,
) -> Result<String> {
    require(scope, Permission::Administer)?;
    let m = scope.municipality_id().clone();
    let entity_id = entity_id(scope, tx, entity).await?;
    let fy_num = i64::from(fy.end_year());
    if store::year_close(tx, &m, &entity_id, fy_num)
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "fiscal_year",
            format!("{fy} is already closed"),
        ));
    }
    let periods = store::periods(tx, &m, &entity_id).await?;
    let this_year: Vec<_> = periods.iter().filter(|p| p.fiscal_year == fy_num).collect();
    if this_year.is_empty() {
        return Err(Error::invalid(
            "fiscal_year",
            format!("{fy} is not open in these books"),
        ));
    }
    let open: Vec<String> = this_year
        .iter()
        .filter(|p| p.period <= 12 && p.status == PeriodStatus::Open.as_str())
        .map(|p| p.period.to_string())
        .collect();
    if !open.is_empty() {
        return Err(Error::invalid(
            "fiscal_year",
            format!("close periods {} of {fy} first", open.join(", ")),
        ));
    }
    let next = FiscalYear::ending("fiscal_year", fy.end_year() + 1)?;
    if !periods.iter().any(|p| p.fiscal_year == fy_num + 1) {
        return Err(Error::invalid(
            "fiscal_year",
            format!("open {next} first, to receive the opening balances"),
        ));
    }
    let accounts = store::accounts(tx, &m, &entity_id).await?;
    let totals: BTreeMap<String, (i64, i64)> = store::year_totals(tx, &m, &entity_id, fy_num)
        .await?
        .into_iter()
        .map(|(a, d, c)| (a, (d, c)))
        .collect();

    // The closing entry: zero each revenue and expenditure account; the net per fund goes to fund balance.
    let mut lines = Vec::new();
    let mut to_fund_balance: BTreeMap<String, i64> = BTreeMap::new();
    for a in &accounts {
        let class = crate::domain::AccountString::parse("account", &a.account)?.class()?;
        if !matches!(class, AccountClass::Revenue | AccountClass::Expenditure) {
            continue;
        }
        let (d, c) = totals.get(&a.id).copied().unwrap_or((0, 0));
        let net = d - c;
        if net == 0 {
            continue;
        }
        let (debit, credit) = if net > 0 { (0, net) } else { (-net, 0) };
        lines.push(NewLine {
            account: a.account.clone(),
            debit: Money::from_cents(debit),
            credit: Money::from_cents(credit),
            memo: "year-end close".into(),
        });
        *to_fund_balance.entry(a.fund_code.clone()).or_default() += net;
    }
    for (fund, net) in &to_fund_balance {
        let fb = accounts
            .iter()
            .find(|a| &a.fund_code == fund && a.class == AccountClass::FundBalance.as_str())
            .ok_or_else(|| Error::invalid("fiscal_year", format!("fund {fund} has no fund-balance account (object 3xxxx); add one, e.g. {fund}-00-0000-00000-39000-000")))?;
        if *net == 0 {
            continue;
        }
        // Expenditures over revenues reduce fund balance (a debit); a surplus adds to it.
        let (debit, credit) = if *net > 0 { (*net, 0) } else { (0, -*net) };
        lines.push(NewLine {
            account: fb.account.clone(),
            debit: Money::from_cents(debit),
            credit: Money::from_cents(credit),
            memo: "year-end close".into(),
        });
    }
    if !this_year.iter().any(|p| p.period == 14) {
        store::insert_period(
            tx,
            &m,
            &service::Period {
                entity_id: entity_id.clone(),
                fiscal_year: fy_num,
                period: 14,
                starts_on: munishare_platform::types::format_date(fy.end()),
                ends_on: munishare_platform::types::format_date(fy.end()),
                status: PeriodStatus::Open.as_str().into(),
            },
        )
        .await?;
    } else {
        store::set_period_status(
            tx,
            &m,
            &service::Period {
                status: PeriodStatus::Open.as_str().into(),
                ..(*this_year
                    .iter()
                    .find(|p| p.period == 14)
                    .ok_or(Error::NotFound { what: "period" })?)
                .clone()
            },
        )
        .await?;
    }
    let closing_id = if lines.len() >= 2 {
        let (draft, _) = service::create_draft_in(
            scope,
            tx,
            now,
            &NewEntry {
                entity,
                date: fy.end(),
                adjustment: false,
                description: format!(
                    "Year-end close of {fy}: revenues and expenditures to fund balance"
                ),
                lines,
            },
            Some(14),
            None,
        )
        .await?;
        service::post_entry(scope, tx, now, &draft.id).await?;
        draft.id
    } else {
        String::new()
    };

    // Roll forward the balance-sheet accounts, after the closing entry.
    let after: BTreeMap<String, (i64, i64)> = store::year_totals(tx, &m, &entity_id, fy_num)
        .await?
        .into_iter()
        .map(|(a, d, c)| (a, (d, c)))
        .collect();
    for a in &accounts {
        let class = crate::domain::AccountString::parse("account", &a.account)?.class()?;
        if matches!(class, AccountClass::Revenue | AccountClass::Expenditure) {
            continue;
        }
        let (d, c) = after.get(&a.id).copied().unwrap_or((0, 0));
        let net = d - c;
        if net != 0 {
            let (debit, credit) = if net > 0 { (net, 0) } else { (0, -net) };
            store::add_to_balances(tx, &m, fy_num + 1, 0, [(a.id.clone(), debit, credit)]).await?;
        }
    }
    let carried = carry_encumbrances(tx, &m, &entity_id, fy, now).await?;
    let closed = service::Period {
        status: PeriodStatus::Closed.as_str().into(),
        ..store::period(tx, &m, &entity_id, fy_num, 14)
            .await?
            .ok_or(Error::NotFound { what: "period" })?
    };
    store::set_period_status(tx, &m, &closed).await?;
    store::insert_year_close(tx, &m, &entity_id, fy_num, &closing_id, &now.to_db()).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "fiscal_year.close",
            "fiscal_year",
            &format!("{entity_id}/{fy_num}"),
            None,
            Some(serde_json::json!({
                "fiscal_year": fy_num, "closing_entry": closing_id,
                "encumbrances_carried_forward": Money::from_cents(carried).to_string(),
            })),
        ),
    )
    .await?;
    Ok(closing_id)
}

/// Carries the year's open purchase orders into the next year (they keep
/// their own year and number), and with them
/// their appropriations: an approved `carry_forward` change adds each
/// account's open encumbrance to next year's budget, so the carried orders do
/// not eat next year's own appropriation. Returns the amount carried, cents.
async fn carry_encumbrances(
    tx: &mut Tx,
    m: &munishare_platform::types::MunicipalityId,
    entity_id: &str,
    fy: FiscalYear,
    now: Timestamp,
) -> Result<i64> {
    let fy_num = i64::from(fy.end_year());
    let open: Vec<(String, i64)> = store::encumbrances(tx, m, entity_id, fy_num)
        .await?
        .into_iter()
        .filter(|(_, cents)| *cents > 0)
        .collect();
    store::carry_pos(tx, m, entity_id, fy_num).await?;
    if open.is_empty() {
        return Ok(0);
    }
    let change = service::BudgetChange {
        id: crate::service::new_id(),
        entity_id: entity_id.to_owned(),
        fiscal_year: fy_num + 1,
        kind: "carry_forward".into(),
        description: format!("Encumbrances carried forward from {fy}"),
        status: "approved".into(),
        created_at: now.to_db(),
        decided_at: Some(now.to_db()),
    };
    store::insert_change(tx, m, &change).await?;
    for (i, (account_id, cents)) in open.iter().enumerate() {
        store::insert_change_line(
            tx,
            m,
            &change.id,
            i64::try_from(i + 1).unwrap_or(i64::MAX),
            account_id,
            *cents,
        )
        .await?;
    }
    Ok(open.iter().map(|(_, c)| c).sum())
}

/// Reopens a closed year: reverses the closing entry in the closing period and
/// removes the next year's openings. A year whose adjustment period is locked
/// (after the audit) cannot be reopened.
pub async fn reopen_year(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    fy: FiscalYear,
) -> Result<()> {
    require(scope, Permission::Administer)?;
    let m = scope.municipality_id().clone();
    let entity_id = entity_id(scope, tx, entity).await?;
    let fy_num = i64::from(fy.end_year());
    let Some((closing_id, _)) = store::year_close(tx, &m, &entity_id, fy_num).await? else {
        return Err(Error::conflict(
            "fiscal_year",
            format!("{fy} is not closed"),
        ));
    };
    let p13 = store::period(tx, &m, &entity_id, fy_num, 13)
        .await?
        .ok_or(Error::NotFound { what: "period" })?;
    if p13.status == PeriodStatus::Locked.as_str() {
        return Err(Error::conflict(
            "fiscal_year",
            format!("{fy} is locked and cannot be reopened"),
        ));
    }
    let p14 = store::period(tx, &m, &entity_id, fy_num, 14)
        .await?
        .ok_or(Error::NotFound { what: "period" })?;
    store::set_period_status(
        tx,
        &m,
        &service::Period {
            status: PeriodStatus::Open.as_str().into(),
            ..p14.clone()
        },
    )
    .await?;
    if !closing_id.is_empty() {
        service::reverse_entry(scope, tx, now, &closing_id, fy.end()).await?;
    }
    store::set_period_status(
        tx,
        &m,
        &service::Period {
            status: PeriodStatus::Closed.as_str().into(),
            ..p14
        },
    )
    .await?;
    // Orders carried into the next year go back, unless the new year has invoiced them.
    let invoiced = store::carried_pos_invoiced_after(
        tx,
        &m,
        &entity_id,
        fy_num,
        &munishare_platform::types::format_date(fy.end()),
    )
    .await?;
    if !invoiced.is_empty() {
        return Err(Error::conflict(
            "fiscal_year",
            format!(
                "{fy} cannot be reopened: purchase order(s) {} carried into the next year have been invoiced there",
                invoiced
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    store::uncarry_pos(tx, &m, &entity_id, fy_num).await?;
    store::withdraw_carry_forward(tx, &m, &entity_id, fy_num + 1, &now.to_db()).await?;
    store::delete_openings(tx, &m, &entity_id, fy_num + 1).await?;
    store::delete_year_close(tx, &m, &entity_id, fy_num).await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "fiscal_year.reopen",
            "fiscal_year",
            &format!("{entity_id}/{fy_num}"),
            Some(serde_json::json!({"closing_entry": closing_id})),
            None,
        ),
    )
    .await?;
    Ok(())
}
