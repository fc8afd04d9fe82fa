//! Paying vendors by ACH. A vendor with a bank account on file is paid by ACH
//! credit in a payment run instead of by check. The account number is sealed
//! with the server's secret key ([`SecretKey`]) and bound to the town and
//! vendor; only its last four digits are ever shown or audited. Each entity's
//! books name their originating bank and company identification; the NACHA
//! file of a payment run is made on request (by an approver), recorded with
//! its SHA-256, and numbered with the day's next file-id modifier.
//! See docs/design/0005-ach-payments.md.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::secrets::SecretKey;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{MunicipalityId, Permission, Timestamp, format_date, hex};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::nacha::{self, AccountType, SecCode};
use crate::service::{entity_id, finance_change, json, new_id, require};
use crate::{purchasing, store};

fn context(m: &MunicipalityId, vendor_id: &str) -> String {
    format!("vendor-bank:{m}:{vendor_id}")
}

/// A vendor's bank account as shown: never the account number, only its last four digits.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BankAccount {
    /// Vendor id.
    pub vendor_id: String,
    /// The receiving bank's routing number.
    pub routing: String,
    /// The account number's last four digits.
    pub account_last4: String,
    /// checking or savings.
    pub account_type: String,
    /// CCD (a business) or PPD (a person).
    pub sec_code: String,
    /// Last changed.
    pub updated_at: String,
}

impl BankAccount {
    /// "checking ••••6789 at 021000021".
    pub fn masked(&self) -> String {
        format!(
            "{} ••••{} at {}",
            self.account_type, self.account_last4, self.routing
        )
    }
}

/// Bank details as entered.
#[derive(Debug, Clone)]
pub struct NewBankAccount {
    /// Routing number.
    pub routing: String,
    /// Account number.
    pub account: String,
    /// The account number typed a second time.
    pub confirm_account: String,
    /// checking or savings.
    pub account_type: String,
    /// CCD or PPD.
    pub sec_code: String,
}

/// Puts a vendor's bank account on file (approvers only: changing where a
/// vendor is paid is the classic payment fraud). The vendor is paid by ACH
/// from the next payment run on.
pub async fn set_bank_account(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    key: &SecretKey,
    vendor_id: &str,
    new: &NewBankAccount,
) -> Result<BankAccount> {
    require(scope, Permission::Approve)?;
    let m = scope.municipality_id();
    let vendor = purchasing::vendor(scope, tx, vendor_id)
        .await
        .map_err(|_| Error::NotFound { what: "vendor" })?;
    let routing = nacha::check_routing("routing", &new.routing)?;
    let account = nacha::check_account("account", &new.account)?;
    if nacha::check_account("confirm_account", &new.confirm_account).ok() != Some(account.clone()) {
        return Err(Error::invalid(
            "confirm_account",
            "the account numbers differ; type the same account number twice",
        ));
    }
    let account_type = AccountType::parse("account_type", &new.account_type)?;
    let sec = SecCode::parse("sec_code", &new.sec_code)?;
    let after = BankAccount {
        vendor_id: vendor.id.clone(),
        routing,
        account_last4: account[account.len() - 4..].to_owned(),
        account_type: account_type.as_str().to_owned(),
        sec_code: sec.as_str().to_owned(),
        updated_at: now.to_db(),
    };
    let sealed = key.seal(&account, &context(m, &vendor.id))?;
    let before = bank_account_map(tx, m).await?.remove(&vendor.id);
    execute!(tx, c => sqlx::query(
        "DELETE FROM ledger_vendor_bank_accounts WHERE municipality_id = $1 AND vendor_id = $2")
        .bind(m).bind(&vendor.id).execute(c).await)?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO ledger_vendor_bank_accounts (municipality_id, vendor_id, routing, account_sealed, account_last4, account_type, sec_code, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(m).bind(&vendor.id).bind(&after.routing).bind(&sealed).bind(&after.account_last4)
        .bind(&after.account_type).bind(&after.sec_code).bind(&after.updated_at).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "vendor.bank_account.set",
            "vendor",
            &vendor.id,
            before.as_ref().map(json).transpose()?,
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok(after)
}

/// Takes a vendor's bank account off file: the vendor is paid by check again.
pub async fn remove_bank_account(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    vendor_id: &str,
) -> Result<()> {
    require(scope, Permission::Approve)?;
    let m = scope.municipality_id();
    let before = bank_account_map(tx, m)
        .await?
        .remove(vendor_id)
        .ok_or(Error::NotFound {
            what: "vendor bank account",
        })?;
    execute!(tx, c => sqlx::query(
        "DELETE FROM ledger_vendor_bank_accounts WHERE municipality_id = $1 AND vendor_id = $2")
        .bind(m).bind(vendor_id).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "vendor.bank_account.remove",
            "vendor",
            vendor_id,
            Some(json(&before)?),
            None,
        ),
    )
    .await?;
    Ok(())
}

/// The bank accounts on file, by vendor id.
pub async fn bank_accounts(
    scope: &ServiceScope,
    ex: &mut impl Executor,
) -> Result<BTreeMap<String, BankAccount>> {
    require(scope, Permission::View)?;
    bank_account_map(ex, scope.municipality_id()).await
}

pub(crate) async fn bank_account_map(
    ex: &mut impl Executor,
    m: &MunicipalityId,
) -> Result<BTreeMap<String, BankAccount>> {
    let rows: Vec<BankAccount> = dispatch!(ex, c => sqlx::query_as(
        "SELECT vendor_id, routing, account_last4, account_type, sec_code, updated_at \
         FROM ledger_vendor_bank_accounts WHERE municipality_id = $1")
        .bind(m).fetch_all(c).await)?;
    Ok(rows.into_iter().map(|b| (b.vendor_id.clone(), b)).collect())
}

/// Who originates an entity's ACH files.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Originator {
    /// Entity.
    pub entity_id: String,
    /// The originating bank's routing number.
    pub odfi_routing: String,
    /// The originating bank's name.
    pub bank_name: String,
    /// The books' name as the bank knows it.
    pub company_name: String,
    /// The company identification the bank assigned.
    pub company_id: String,
    /// Last changed.
    pub updated_at: String,
}

/// Origination settings as entered.
#[derive(Debug, Clone)]
pub struct NewOriginator {
    /// The originating bank's routing number.
    pub odfi_routing: String,
    /// The bank's name.
    pub bank_name: String,
    /// The books' name as the bank knows it (16 characters are carried).
    pub company_name: String,
    /// The company identification the bank assigned.
    pub company_id: String,
}

fn named(field: &str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("enter 1 to {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Sets the books' ACH origination (administrators).
pub async fn set_originator(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    new: &NewOriginator,
) -> Result<Originator> {
    require(scope, Permission::Administer)?;
    let m = scope.municipality_id();
    let after = Originator {
        entity_id: entity_id(scope, tx, entity).await?,
        odfi_routing: nacha::check_routing("odfi_routing", &new.odfi_routing)?,
        bank_name: named("bank_name", &new.bank_name, 23)?,
        company_name: named("company_name", &new.company_name, 16)?,
        company_id: nacha::check_company_id("company_id", &new.company_id)?,
        updated_at: now.to_db(),
    };
    let before = originator_row(tx, m, &after.entity_id).await?;
    execute!(tx, c => sqlx::query(
        "DELETE FROM ledger_ach_originators WHERE municipality_id = $1 AND entity_id = $2")
        .bind(m).bind(&after.entity_id).execute(c).await)?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO ledger_ach_originators (municipality_id, entity_id, odfi_routing, bank_name, company_name, company_id, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(m).bind(&after.entity_id).bind(&after.odfi_routing).bind(&after.bank_name)
        .bind(&after.company_name).bind(&after.company_id).bind(&after.updated_at).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "ach_originator.set",
            "entity",
            &after.entity_id,
            before.as_ref().map(json).transpose()?,
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok(after)
}

/// The books' ACH origination, if set.
pub async fn originator(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Option<Originator>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    originator_row(ex, scope.municipality_id(), &entity_id).await
}

pub(crate) async fn originator_row(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Option<Originator>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT entity_id, odfi_routing, bank_name, company_name, company_id, updated_at \
         FROM ledger_ach_originators WHERE municipality_id = $1 AND entity_id = $2")
        .bind(m).bind(entity_id).fetch_optional(c).await)?)
}

pub(crate) async fn max_trace(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Option<i64>> {
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT MAX(ach_trace) FROM ledger_invoices WHERE municipality_id = $1 AND entity_id = $2")
        .bind(m).bind(entity_id).fetch_one(c).await)?)
}

/// A payment run with what it paid how, and the ACH files made of it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RunSummary {
    /// Id.
    pub id: String,
    /// Check and ACH effective date.
    pub run_date: String,
    /// Total paid, cents.
    pub total_cents: i64,
    /// Invoices paid by check.
    pub checks: i64,
    /// Invoices paid by ACH.
    pub ach_invoices: i64,
    /// ACH files made of it.
    pub ach_files: i64,
}

/// The books' payment runs, newest first.
pub async fn payment_runs(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<RunSummary>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT r.id, r.run_date, r.total_cents, \
           (SELECT COUNT(*) FROM ledger_invoices i WHERE i.municipality_id = r.municipality_id AND i.payment_run_id = r.id AND i.check_number IS NOT NULL) AS checks, \
           (SELECT COUNT(*) FROM ledger_invoices i WHERE i.municipality_id = r.municipality_id AND i.payment_run_id = r.id AND i.ach_trace IS NOT NULL) AS ach_invoices, \
           (SELECT COUNT(*) FROM ledger_ach_files f WHERE f.municipality_id = r.municipality_id AND f.payment_run_id = r.id) AS ach_files \
         FROM ledger_payment_runs r WHERE r.municipality_id = $1 AND r.entity_id = $2 ORDER BY r.run_date DESC, r.created_at DESC")
        .bind(scope.municipality_id()).bind(&entity_id).fetch_all(c).await)?)
}

/// A NACHA file made of a payment run.
#[derive(Debug, Clone, Serialize)]
pub struct AchFile {
    /// Id of the record kept of it.
    pub id: String,
    /// A file name for the download.
    pub file_name: String,
    /// The file.
    #[serde(skip)]
    pub text: String,
    /// ACH payments (entries) in it.
    pub entries: i64,
    /// Total credited, cents.
    pub total_cents: i64,
    /// File-id modifier.
    pub modifier: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Makes the NACHA file of a payment run's ACH payments (approvers): one
/// credit per vendor, with an addendum naming the invoices it pays. Each file
/// made is recorded and audited (never with account numbers); a second file
/// of the same day gets the next file-id modifier, as banks require.
pub async fn nacha_file(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    key: &SecretKey,
    run_id: &str,
) -> Result<AchFile> {
    require(scope, Permission::Approve)?;
    let m = scope.municipality_id().clone();
    let run = store::payment_run(tx, &m, run_id)
        .await?
        .ok_or(Error::NotFound {
            what: "payment run",
        })?;
    let orig = originator_row(tx, &m, &run.entity_id)
        .await?
        .ok_or_else(|| {
            Error::conflict(
                "odfi_routing",
                "set up the books' ACH origination (bank routing number and company id) first",
            )
        })?;
    let banks = bank_account_map(tx, &m).await?;
    // The sealed account numbers, read once for the whole file.
    let sealed: BTreeMap<String, String> = dispatch!(tx, c => sqlx::query_as(
        "SELECT vendor_id, account_sealed FROM ledger_vendor_bank_accounts WHERE municipality_id = $1")
        .bind(&m).fetch_all(c).await)?
        .into_iter()
        .collect();
    // (trace, vendor id) → (vendor name, invoice numbers, cents)
    let mut payments: BTreeMap<(i64, String), (String, Vec<String>, i64)> = BTreeMap::new();
    for inv in store::invoices(tx, &m, &run.entity_id).await? {
        if inv.payment_run_id.as_deref() != Some(run_id) {
            continue;
        }
        let Some(trace) = inv.ach_trace else { continue };
        let p = payments
            .entry((trace, inv.vendor_id.clone()))
            .or_insert_with(|| (inv.vendor_name.clone(), Vec::new(), 0));
        p.1.push(inv.invoice_number.clone());
        p.2 += inv.amount_cents;
    }
    let mut credits = Vec::with_capacity(payments.len());
    for ((trace, vendor_id), (name, mut invoices, cents)) in payments {
        let not_on_file = || {
            Error::conflict(
                "vendor_id",
                format!(
                    "{name} no longer has a bank account on file; enter it again to make the ACH file"
                ),
            )
        };
        let bank = banks.get(&vendor_id).ok_or_else(not_on_file)?;
        let sealed = sealed.get(&vendor_id).ok_or_else(not_on_file)?;
        let account = key.open(sealed, &context(&m, &vendor_id)).map_err(|e| {
            Error::conflict(
                "vendor_id",
                format!("the bank account of {name} cannot be read ({e}); put it on file again"),
            )
        })?;
        invoices.sort();
        credits.push(nacha::Credit {
            sec: SecCode::parse("sec_code", &bank.sec_code)?,
            account_type: AccountType::parse("account_type", &bank.account_type)?,
            routing: bank.routing.clone(),
            account,
            amount_cents: cents,
            id_number: vendor_id.replace('-', "").chars().take(15).collect(),
            name,
            addenda: format!("INV {}", invoices.join(" ")),
            trace_seq: trace,
        });
    }
    if credits.is_empty() {
        return Err(Error::conflict(
            "payment_run",
            "this payment run paid no invoice by ACH",
        ));
    }
    let today = format_date(now.datetime().date());
    let used: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM ledger_ach_files WHERE municipality_id = $1 AND entity_id = $2 AND file_date = $3")
        .bind(&m).bind(&run.entity_id).bind(&today).fetch_one(c).await)?;
    let modifier = nacha::modifier(usize::try_from(used).unwrap_or(usize::MAX))?;
    let effective = munishare_platform::types::parse_date("run_date", &run.run_date)?;
    let created = now.datetime();
    let text = nacha::write_file(
        &nacha::Originator {
            odfi_routing: orig.odfi_routing,
            bank_name: orig.bank_name,
            company_name: orig.company_name,
            company_id: orig.company_id,
        },
        &nacha::FileHeader {
            created: time::PrimitiveDateTime::new(created.date(), created.time()),
            modifier,
            effective,
        },
        &credits,
    )?;
    let file = AchFile {
        id: new_id(),
        file_name: format!("ach-{}-{}-{modifier}.txt", scope.town().slug, run.run_date),
        entries: i64::try_from(credits.len()).unwrap_or(i64::MAX),
        total_cents: credits.iter().map(|c| c.amount_cents).sum(),
        modifier: modifier.to_string(),
        sha256: hex(&Sha256::digest(text.as_bytes())),
        text,
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO ledger_ach_files (municipality_id, id, entity_id, payment_run_id, file_date, modifier, entries, total_cents, sha256, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&m).bind(&file.id).bind(&run.entity_id).bind(run_id).bind(&today).bind(&file.modifier)
        .bind(file.entries).bind(file.total_cents).bind(&file.sha256).bind(now.to_db()).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "payment_run.ach_file",
            "payment_run",
            run_id,
            None,
            Some(json(&file)?),
        ),
    )
    .await?;
    Ok(file)
}
