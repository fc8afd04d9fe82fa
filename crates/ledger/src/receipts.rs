//! Cash receipts: money taken in (tax collector, permits, grants), recorded
//! against revenue accounts and deposited to a cash account. A receipt is a
//! numbered record and a draft journal entry (source `receipt:ID`, cash debited,
//! revenues credited) that an approver posts like any other.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Timestamp, format_date};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::Serialize;
use time::Date;

use crate::domain::{AccountClass, AccountString};
use crate::service::{self, NewEntry, NewLine, entity_id, finance_change, json, new_id, require};

/// A receipt as entered.
#[derive(Debug, Clone)]
pub struct NewReceipt {
    /// Whose books.
    pub entity: EntityKind,
    /// Date received.
    pub date: Date,
    /// Who paid.
    pub payer: String,
    /// What for.
    pub description: String,
    /// The cash (asset) account it is deposited to.
    pub deposit_account: String,
    /// Revenue accounts and amounts.
    pub lines: Vec<(String, Money)>,
}

/// A recorded receipt, with the status of its entry.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Receipt {
    /// Id.
    pub id: String,
    /// Number within the entity's fiscal year.
    pub number: i64,
    /// Fiscal year.
    pub fiscal_year: i64,
    /// Date received.
    pub receipt_date: String,
    /// Who paid.
    pub payer: String,
    /// What for.
    pub description: String,
    /// Total, cents.
    pub total_cents: i64,
    /// Its journal entry.
    pub entry_id: String,
    /// `draft` until an approver posts the entry, then `posted`.
    pub entry_status: String,
    /// Recorded.
    pub created_at: String,
}

/// Records a receipt and drafts its entry.
pub async fn record(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &NewReceipt,
) -> Result<Receipt> {
    require(scope, Permission::Edit)?;
    let payer = new.payer.trim();
    if payer.is_empty() || payer.chars().count() > 150 {
        return Err(Error::invalid(
            "payer",
            "name who paid (at most 150 characters)",
        ));
    }
    if new.lines.is_empty() || new.lines.len() > 100 {
        return Err(Error::invalid(
            "lines",
            "list 1 to 100 revenue accounts and amounts",
        ));
    }
    let deposit = AccountString::parse("deposit_account", &new.deposit_account)?;
    if deposit.class()? != AccountClass::Asset {
        return Err(Error::invalid(
            "deposit_account",
            format!("{deposit} is not a cash (asset) account"),
        ));
    }
    let mut total = Money::from_cents(0);
    let mut lines = Vec::with_capacity(new.lines.len() + 1);
    for (i, (account, amount)) in new.lines.iter().enumerate() {
        let field = format!("lines[{}]", i + 1);
        let a = AccountString::parse(&format!("{field}.account"), account)?;
        if a.class()? != AccountClass::Revenue {
            return Err(Error::invalid(
                format!("{field}.account"),
                format!("{a} is not a revenue account; receipts credit revenues"),
            ));
        }
        if amount.cents() <= 0 {
            return Err(Error::invalid(
                format!("{field}.amount"),
                "an amount received is more than zero",
            ));
        }
        total = total
            .checked_add(*amount)
            .ok_or_else(|| Error::invalid(format!("{field}.amount"), "the total is too large"))?;
        lines.push(NewLine {
            account: a.to_string(),
            debit: Money::from_cents(0),
            credit: *amount,
            memo: payer.chars().take(200).collect(),
        });
    }
    // The deposit goes last, so `lines[N]` in an error is the N-th revenue line as entered.
    lines.push(NewLine {
        account: deposit.to_string(),
        debit: total,
        credit: Money::from_cents(0),
        memo: format!("Deposit — {payer}").chars().take(200).collect(),
    });
    let entity_id = entity_id(scope, tx, new.entity).await?;
    let fy = i64::from(FiscalYear::containing(new.date).end_year());
    let m = scope.municipality_id();
    let last: Option<i64> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT MAX(number) FROM ledger_receipts WHERE municipality_id = $1 AND entity_id = $2 AND fiscal_year = $3")
        .bind(m).bind(&entity_id).bind(fy).fetch_one(c).await)?;
    let number = last.unwrap_or(0) + 1;
    let id = new_id();
    let description = new.description.trim();
    let (entry, _) = service::create_draft_in(
        scope,
        tx,
        now,
        &NewEntry {
            entity: new.entity,
            date: new.date,
            adjustment: false,
            description: format!(
                "Receipt {number} — {payer}{}",
                if description.is_empty() {
                    String::new()
                } else {
                    format!(" — {description}")
                }
            )
            .chars()
            .take(300)
            .collect(),
            lines,
        },
        None,
        Some(format!("receipt:{id}")),
    )
    .await?;
    let receipt = Receipt {
        id,
        number,
        fiscal_year: fy,
        receipt_date: format_date(new.date),
        payer: payer.to_owned(),
        description: description.chars().take(300).collect(),
        total_cents: total.cents(),
        entry_id: entry.id,
        entry_status: entry.status,
        created_at: now.to_db(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO ledger_receipts (municipality_id, id, entity_id, fiscal_year, number, receipt_date, payer, description, \
         total_cents, entry_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(m).bind(&receipt.id).bind(&entity_id).bind(fy).bind(number).bind(&receipt.receipt_date).bind(&receipt.payer)
        .bind(&receipt.description).bind(receipt.total_cents).bind(&receipt.entry_id).bind(&receipt.created_at)
        .execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "receipt.record",
            "receipt",
            &receipt.id,
            None,
            Some(json(&receipt)?),
        ),
    )
    .await?;
    Ok(receipt)
}

/// The receipts of an entity's books, newest first.
pub async fn receipts(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<Receipt>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT r.id, r.number, r.fiscal_year, r.receipt_date, r.payer, r.description, r.total_cents, r.entry_id, \
         e.status AS entry_status, r.created_at FROM ledger_receipts r \
         JOIN ledger_entries e ON e.municipality_id = r.municipality_id AND e.id = r.entry_id \
         WHERE r.municipality_id = $1 AND r.entity_id = $2 ORDER BY r.fiscal_year DESC, r.number DESC LIMIT 500")
        .bind(scope.municipality_id()).bind(&entity_id).fetch_all(c).await)?)
}
