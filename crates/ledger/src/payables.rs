//! Vendor invoices and payment runs. An invoice is entered by a clerk —
//! against an open purchase order or directly — and approved by an approver:
//! approval liquidates the order's encumbrance, then posts the expense and the
//! liability (accounts payable, object 20100 of each fund) through the
//! journal. A payment run pays approved invoices: by ACH credit when the
//! vendor has a bank account on file (see `ach`), by check otherwise. It posts
//! accounts payable against cash (object 10100), numbers the checks and the
//! ACH traces, and gives the check register.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::audit;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{Money, Permission, Timestamp, format_date};
use munishare_platform::{Error, Result};
use serde::Serialize;
use time::Date;

use crate::purchasing;
use crate::service::{self, NewEntry, NewLine, entity_id, finance_change, json, new_id, require};
use crate::store;

/// A vendor invoice.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Invoice {
    /// Id.
    pub id: String,
    /// Entity.
    pub entity_id: String,
    /// Vendor id.
    pub vendor_id: String,
    /// Vendor name.
    #[sqlx(default)]
    pub vendor_name: String,
    /// Purchase order it bills against, if any.
    pub po_id: Option<String>,
    /// The vendor's invoice number (unique per vendor).
    pub invoice_number: String,
    /// Invoice date.
    pub invoice_date: String,
    /// Description.
    pub description: String,
    /// Total, cents.
    pub amount_cents: i64,
    /// entered, approved or paid.
    pub status: String,
    /// The journal entry that recorded it.
    pub entry_id: Option<String>,
    /// The payment run that paid it.
    pub payment_run_id: Option<String>,
    /// Check number, when paid by check.
    pub check_number: Option<i64>,
    /// ACH trace sequence, when paid by ACH.
    pub ach_trace: Option<i64>,
    /// Entered.
    pub created_at: String,
}

/// An invoice as entered.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    /// Whose books.
    pub entity: EntityKind,
    /// Vendor id.
    pub vendor_id: String,
    /// Purchase order, if the invoice bills against one.
    pub po_id: Option<String>,
    /// The vendor's invoice number.
    pub number: String,
    /// Invoice date (the posting date on approval).
    pub date: Date,
    /// Description.
    pub description: String,
    /// (expenditure account, amount).
    pub lines: Vec<(String, Money)>,
}

/// Enters an invoice (finance clerks and up). The same vendor's invoice number twice is refused.
pub async fn enter_invoice(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &NewInvoice,
) -> Result<Invoice> {
    require(scope, Permission::Edit)?;
    let number = new.number.trim();
    if number.is_empty() || number.len() > 50 {
        return Err(Error::invalid(
            "number",
            "enter the vendor's invoice number (at most 50 characters)",
        ));
    }
    let description = new.description.trim();
    if description.is_empty() || description.len() > 300 {
        return Err(Error::invalid(
            "description",
            "describe the invoice (at most 300 characters)",
        ));
    }
    if new.lines.is_empty() {
        return Err(Error::invalid(
            "lines",
            "an invoice needs at least one line",
        ));
    }
    let vendor = purchasing::vendor(scope, tx, &new.vendor_id).await?;
    let entity_id = entity_id(scope, tx, new.entity).await?;
    if let Some(po_id) = &new.po_id {
        let (po, _) = purchasing::po(scope, tx, po_id)
            .await
            .map_err(|_| Error::invalid("po_id", "no such purchase order"))?;
        if po.status != "open" || po.vendor_id != vendor.id || po.entity_id != entity_id {
            return Err(Error::invalid(
                "po_id",
                format!(
                    "purchase order {} is not an open order from {}",
                    po.number, vendor.name
                ),
            ));
        }
    }
    let lines: Vec<(String, i64)> =
        purchasing::expenditure_lines(scope, tx, &entity_id, &new.lines)
            .await?
            .into_iter()
            .map(|(id, _, cents)| (id, cents))
            .collect();
    let inv = Invoice {
        id: new_id(),
        entity_id,
        vendor_id: vendor.id,
        vendor_name: vendor.name.clone(),
        po_id: new.po_id.clone(),
        invoice_number: number.to_owned(),
        invoice_date: format_date(new.date),
        description: description.to_owned(),
        amount_cents: lines.iter().map(|(_, c)| c).sum(),
        status: "entered".into(),
        entry_id: None,
        payment_run_id: None,
        check_number: None,
        ach_trace: None,
        created_at: now.to_db(),
    };
    store::insert_invoice(tx, scope.municipality_id(), &inv)
        .await
        .map_err(|e| {
            e.on_conflict(
                "number",
                format!("invoice {number} from {} is already entered", vendor.name),
            )
        })?;
    for (i, (account_id, cents)) in lines.iter().enumerate() {
        store::insert_invoice_line(
            tx,
            scope.municipality_id(),
            &inv.id,
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
            "invoice.enter",
            "invoice",
            &inv.id,
            None,
            Some(json(&inv)?),
        ),
    )
    .await?;
    Ok(inv)
}

/// The invoices of an entity's books, newest first.
pub async fn invoices(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<Invoice>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    store::invoices(ex, scope.municipality_id(), &entity_id).await
}

async fn entity_kind(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity_id: &str,
) -> Result<EntityKind> {
    Ok(
        if service::entity_id(scope, ex, EntityKind::BoardOfEducation).await? == entity_id {
            EntityKind::BoardOfEducation
        } else {
            EntityKind::TownGovernment
        },
    )
}

fn fund_account(fund: &str, object: &str) -> String {
    format!("{fund}-00-0000-00000-{object}-000")
}

/// Approves an entered invoice: liquidates its purchase order's encumbrance
/// (closing the order when nothing is left), then posts expense against
/// accounts payable. Returns the invoice and any appropriation-control warnings.
pub async fn approve_invoice(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
) -> Result<(Invoice, Vec<String>)> {
    require(scope, Permission::Approve)?;
    let m = scope.municipality_id().clone();
    let before = store::invoice(tx, &m, id)
        .await?
        .ok_or(Error::NotFound { what: "invoice" })?;
    if before.status != "entered" {
        return Err(Error::conflict(
            "status",
            format!(
                "invoice {} is already {}",
                before.invoice_number, before.status
            ),
        ));
    }
    let lines = store::invoice_lines(tx, &m, id).await?;
    if let Some(po_id) = &before.po_id {
        let mut po_lines = store::po_lines(tx, &m, po_id).await?;
        for (account_id, _, _, cents) in &lines {
            let mut left = *cents;
            for pl in po_lines
                .iter_mut()
                .filter(|pl| &pl.account_id == account_id)
            {
                let open = pl.amount_cents - pl.liquidated_cents;
                let take = open.min(left);
                if take > 0 {
                    store::liquidate(tx, &m, po_id, pl.line_no, take).await?;
                    pl.liquidated_cents += take;
                    left -= take;
                }
            }
        }
        if po_lines
            .iter()
            .all(|pl| pl.liquidated_cents >= pl.amount_cents)
        {
            store::set_po_status(tx, &m, po_id, "open", "closed").await?;
        }
    }
    let mut entry_lines: Vec<NewLine> = lines
        .iter()
        .map(|(_, account, _, cents)| NewLine {
            account: account.clone(),
            debit: Money::from_cents(*cents),
            credit: Money::ZERO,
            memo: format!("{} invoice {}", before.vendor_name, before.invoice_number),
        })
        .collect();
    let mut by_fund: BTreeMap<String, i64> = BTreeMap::new();
    for (_, _, fund, cents) in &lines {
        *by_fund.entry(fund.clone()).or_default() += cents;
    }
    let accounts = store::accounts_named(
        tx,
        &m,
        &before.entity_id,
        by_fund.keys().map(|f| fund_account(f, "20100")),
    )
    .await?;
    for (fund, cents) in by_fund {
        let ap = fund_account(&fund, "20100");
        if !accounts.contains_key(&ap) {
            return Err(Error::invalid(
                "lines",
                format!("fund {fund} needs an accounts-payable account {ap}"),
            ));
        }
        entry_lines.push(NewLine {
            account: ap,
            debit: Money::ZERO,
            credit: Money::from_cents(cents),
            memo: before.vendor_name.clone(),
        });
    }
    let entity = entity_kind(scope, tx, &before.entity_id).await?;
    let date = munishare_platform::types::parse_date("invoice_date", &before.invoice_date)?;
    let (draft, _) = service::create_draft(
        scope,
        tx,
        now,
        &NewEntry {
            entity,
            date,
            adjustment: false,
            description: format!(
                "{} invoice {}: {}",
                before.vendor_name, before.invoice_number, before.description
            ),
            lines: entry_lines,
        },
    )
    .await?;
    let posted = service::post_entry(scope, tx, now, &draft.id).await?;
    store::approve_invoice(tx, &m, id, &draft.id).await?;
    let after = Invoice {
        status: "approved".into(),
        entry_id: Some(draft.id),
        ..before.clone()
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "invoice.approve",
            "invoice",
            id,
            Some(json(&before)?),
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok((after, posted.warnings))
}

/// A payment run.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PaymentRun {
    /// Id.
    pub id: String,
    /// Entity.
    pub entity_id: String,
    /// Check date.
    pub run_date: String,
    /// First check number.
    pub first_check: i64,
    /// The journal entry that recorded it.
    pub entry_id: String,
    /// Total paid, cents.
    pub total_cents: i64,
    /// Created.
    pub created_at: String,
}

/// Pays every approved, unpaid invoice of an entity's books on `date`: by
/// ACH credit (one per vendor, effective `date`) when the vendor has a bank
/// account on file, by check otherwise. Posts accounts payable against cash
/// per fund, numbers the checks and the ACH traces from after the last ones
/// used, and returns the run. ACH payments need the books' origination set
/// up and a weekday.
pub async fn pay_approved(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    date: Date,
) -> Result<PaymentRun> {
    require(scope, Permission::Approve)?;
    let m = scope.municipality_id().clone();
    let entity_id = entity_id(scope, tx, entity).await?;
    let mut due: Vec<Invoice> = store::invoices(tx, &m, &entity_id)
        .await?
        .into_iter()
        .filter(|i| i.status == "approved")
        .collect();
    // Checks and ACH traces are numbered by vendor, then invoice date and number.
    due.sort_by(|a, b| {
        (&a.vendor_name, &a.invoice_date, &a.invoice_number).cmp(&(
            &b.vendor_name,
            &b.invoice_date,
            &b.invoice_number,
        ))
    });
    if due.is_empty() {
        return Err(Error::conflict(
            "status",
            "there are no approved invoices to pay",
        ));
    }
    let banks = crate::ach::bank_account_map(tx, &m).await?;
    let ach_vendors: Vec<&str> = {
        let mut names: Vec<&str> = due
            .iter()
            .filter(|i| banks.contains_key(&i.vendor_id))
            .map(|i| i.vendor_name.as_str())
            .collect();
        names.dedup();
        names
    };
    if !ach_vendors.is_empty() {
        if matches!(
            date.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        ) {
            return Err(Error::invalid(
                "date",
                format!(
                    "{} is a {}; ACH payments (to {}) settle on banking days",
                    format_date(date),
                    date.weekday(),
                    ach_vendors.join(", ")
                ),
            ));
        }
        if crate::ach::originator_row(tx, &m, &entity_id)
            .await?
            .is_none()
        {
            return Err(Error::conflict(
                "odfi_routing",
                format!(
                    "{} are paid by ACH; set up the books' ACH origination (bank routing number and company id) first",
                    ach_vendors.join(", ")
                ),
            ));
        }
    }
    let mut by_fund: BTreeMap<String, i64> = BTreeMap::new();
    for inv in &due {
        for (_, _, fund, cents) in store::invoice_lines(tx, &m, &inv.id).await? {
            *by_fund.entry(fund).or_default() += cents;
        }
    }
    let accounts = store::accounts_named(
        tx,
        &m,
        &entity_id,
        by_fund
            .keys()
            .flat_map(|f| [fund_account(f, "20100"), fund_account(f, "10100")]),
    )
    .await?;
    let mut lines = Vec::new();
    for (fund, cents) in &by_fund {
        for (object, debit) in [("20100", true), ("10100", false)] {
            let account = fund_account(fund, object);
            if !accounts.contains_key(&account) {
                return Err(Error::invalid(
                    "date",
                    format!("fund {fund} needs account {account}"),
                ));
            }
            let (d, c) = if debit { (*cents, 0) } else { (0, *cents) };
            lines.push(NewLine {
                account,
                debit: Money::from_cents(d),
                credit: Money::from_cents(c),
                memo: "payment run".into(),
            });
        }
    }
    let total: i64 = by_fund.values().sum();
    let (draft, _) = service::create_draft(
        scope,
        tx,
        now,
        &NewEntry {
            entity,
            date,
            adjustment: false,
            description: format!(
                "Payment run {}: {} invoices ({} by ACH)",
                format_date(date),
                due.len(),
                due.iter()
                    .filter(|i| banks.contains_key(&i.vendor_id))
                    .count()
            ),
            lines,
        },
    )
    .await?;
    service::post_entry(scope, tx, now, &draft.id).await?;
    let first_check = store::max_check_number(tx, &m, &entity_id)
        .await?
        .unwrap_or(1000)
        + 1;
    let run = PaymentRun {
        id: new_id(),
        entity_id,
        run_date: format_date(date),
        first_check,
        entry_id: draft.id,
        total_cents: total,
        created_at: now.to_db(),
    };
    store::insert_payment_run(tx, &m, &run).await?;
    let (mut next_check, mut last_trace) = (
        first_check,
        crate::ach::max_trace(tx, &m, &run.entity_id)
            .await?
            .unwrap_or(0),
    );
    let mut traces: BTreeMap<&str, i64> = BTreeMap::new();
    for inv in &due {
        let (check, trace) = if banks.contains_key(&inv.vendor_id) {
            let trace = *traces.entry(inv.vendor_id.as_str()).or_insert_with(|| {
                last_trace += 1;
                last_trace
            });
            (None, Some(trace))
        } else {
            next_check += 1;
            (Some(next_check - 1), None)
        };
        store::pay_invoice(tx, &m, &inv.id, &run.id, check, trace).await?;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "payment_run.create",
            "payment_run",
            &run.id,
            None,
            Some(json(&run)?),
        ),
    )
    .await?;
    Ok(run)
}

/// One payment of a run, as the check register lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterRow {
    /// check or ACH.
    pub method: &'static str,
    /// Check number, or ACH trace sequence.
    pub number: i64,
    /// Vendor.
    pub vendor: String,
    /// Remit-to address, or the masked bank account for ACH.
    pub pay_to: String,
    /// The vendor's invoice number.
    pub invoice: String,
    /// Amount, cents.
    pub amount_cents: i64,
}

/// The check register of a payment run: its checks in number order, then its ACH payments in trace order.
pub async fn check_register(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    run_id: &str,
) -> Result<(PaymentRun, Vec<RegisterRow>)> {
    require(scope, Permission::View)?;
    let m = scope.municipality_id();
    let run = store::payment_run(ex, m, run_id)
        .await?
        .ok_or(Error::NotFound {
            what: "payment run",
        })?;
    let vendors: BTreeMap<String, String> = store::vendors(ex, m)
        .await?
        .into_iter()
        .map(|v| (v.id, v.remit_to))
        .collect();
    let banks = crate::ach::bank_account_map(ex, m).await?;
    let mut rows: Vec<RegisterRow> = store::invoices(ex, m, &run.entity_id)
        .await?
        .into_iter()
        .filter(|i| i.payment_run_id.as_deref() == Some(run_id))
        .map(|i| {
            let (method, number, pay_to) = match (i.check_number, i.ach_trace) {
                (_, Some(trace)) => (
                    "ACH",
                    trace,
                    banks
                        .get(&i.vendor_id)
                        .map_or_else(|| "bank account since removed".into(), |b| b.masked()),
                ),
                (check, None) => (
                    "check",
                    check.unwrap_or(0),
                    vendors.get(&i.vendor_id).cloned().unwrap_or_default(),
                ),
            };
            RegisterRow {
                method,
                number,
                vendor: i.vendor_name,
                pay_to,
                invoice: i.invoice_number,
                amount_cents: i.amount_cents,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.method != "check", a.number, &a.invoice).cmp(&(
            b.method != "check",
            b.number,
            &b.invoice,
        ))
    });
    Ok((run, rows))
}
