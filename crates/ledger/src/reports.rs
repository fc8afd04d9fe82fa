//! Payables reports: vendor activity for a calendar year (what each vendor
//! was paid, with the 1099 flag, for the information returns) and the open
//! encumbrances (what approved purchase orders still hold).

use munishare_platform::access::ServiceScope;
use munishare_platform::db::Executor;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::Permission;
use munishare_platform::{Result, dispatch};
use serde::Serialize;

use crate::service::require;

/// One vendor's year.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct VendorActivity {
    /// Vendor id.
    pub vendor_id: String,
    /// Name.
    pub name: String,
    /// Flagged for a Form 1099.
    pub is_1099: bool,
    /// Invoices paid by checks dated in the year.
    pub invoices_paid: i64,
    /// Paid by checks dated in the year, cents.
    pub paid_cents: i64,
    /// Approved and not yet paid (any date), cents.
    pub approved_unpaid_cents: i64,
}

/// Every vendor's payments by checks dated in calendar `year` (Form 1099 is
/// by calendar year, not fiscal year), and what is approved but unpaid.
pub async fn vendor_activity(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    year: i32,
) -> Result<Vec<VendorActivity>> {
    require(scope, Permission::View)?;
    let (from, to) = (format!("{year:04}-01-01"), format!("{year:04}-12-31"));
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT v.id AS vendor_id, v.name, v.is_1099, \
         CAST(COALESCE(SUM(CASE WHEN i.status = 'paid' AND r.run_date BETWEEN $2 AND $3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS invoices_paid, \
         CAST(COALESCE(SUM(CASE WHEN i.status = 'paid' AND r.run_date BETWEEN $2 AND $3 THEN i.amount_cents ELSE 0 END), 0) AS BIGINT) AS paid_cents, \
         CAST(COALESCE(SUM(CASE WHEN i.status = 'approved' THEN i.amount_cents ELSE 0 END), 0) AS BIGINT) AS approved_unpaid_cents \
         FROM ledger_vendors v \
         LEFT JOIN ledger_invoices i ON i.municipality_id = v.municipality_id AND i.vendor_id = v.id \
         LEFT JOIN ledger_payment_runs r ON r.municipality_id = i.municipality_id AND r.id = i.payment_run_id \
         WHERE v.municipality_id = $1 GROUP BY v.id, v.name, v.is_1099 ORDER BY v.name")
        .bind(scope.municipality_id()).bind(&from).bind(&to).fetch_all(c).await)?)
}

/// One purchase-order line that still encumbers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OpenEncumbrance {
    /// Order number.
    pub po_number: i64,
    /// Order date.
    pub po_date: String,
    /// Vendor.
    pub vendor: String,
    /// What is bought.
    pub description: String,
    /// Account string.
    pub account: String,
    /// Ordered, cents.
    pub amount_cents: i64,
    /// Liquidated by invoices, cents.
    pub liquidated_cents: i64,
    /// Still encumbered, cents.
    pub open_cents: i64,
}

/// The lines of open purchase orders with something left to liquidate.
pub async fn open_encumbrances(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<OpenEncumbrance>> {
    let orders = crate::purchasing::pos_with_lines(scope, ex, entity).await?;
    Ok(orders
        .into_iter()
        .filter(|(po, _)| po.status == "open")
        .flat_map(|(po, lines)| {
            lines
                .into_iter()
                .filter(|l| l.amount_cents > l.liquidated_cents)
                .map(move |l| OpenEncumbrance {
                    po_number: po.number,
                    po_date: po.po_date.clone(),
                    vendor: po.vendor_name.clone(),
                    description: po.description.clone(),
                    account: l.account,
                    amount_cents: l.amount_cents,
                    liquidated_cents: l.liquidated_cents,
                    open_cents: l.amount_cents - l.liquidated_cents,
                })
        })
        .collect())
}
