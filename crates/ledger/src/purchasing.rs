//! Vendors and purchase orders. A purchase order is drafted by a clerk and
//! approved by someone with the approve permission; once approved (open) it
//! encumbers its expenditure accounts — budget vs actual and appropriation
//! control count it — until invoices liquidate it or it is closed, which
//! releases what is left.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::audit;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Timestamp, format_date};
use munishare_platform::{Error, Result};
use serde::Serialize;
use time::Date;

use crate::budget::{self, AppropriationControl};
use crate::domain::{AccountClass, AccountString};
use crate::service::{entity_id, finance_change, json, new_id, require};
use crate::store;

/// A vendor of the town.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Vendor {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Remit-to address.
    pub remit_to: String,
    /// Receives a 1099 at year end.
    pub is_1099: bool,
    /// Created.
    pub created_at: String,
}

/// A purchase order.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PurchaseOrder {
    /// Id.
    pub id: String,
    /// Entity.
    pub entity_id: String,
    /// Fiscal year.
    pub fiscal_year: i64,
    /// Number within the fiscal year.
    pub number: i64,
    /// Vendor id.
    pub vendor_id: String,
    /// Vendor name.
    #[sqlx(default)]
    pub vendor_name: String,
    /// Date.
    pub po_date: String,
    /// What is being bought.
    pub description: String,
    /// draft, open, closed or cancelled.
    pub status: String,
    /// Created.
    pub created_at: String,
    /// The later fiscal year whose budget it encumbers after a year-end close (None: its own).
    pub carried_to: Option<i64>,
}

/// A purchase-order line.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PoLine {
    /// Position.
    pub line_no: i64,
    /// Account id.
    pub account_id: String,
    /// Account string.
    #[sqlx(default)]
    pub account: String,
    /// Amount, cents.
    pub amount_cents: i64,
    /// Liquidated by invoices so far, cents.
    pub liquidated_cents: i64,
}

/// Adds a vendor; names are unique within the town.
pub async fn create_vendor(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    name: &str,
    remit_to: &str,
    is_1099: bool,
) -> Result<Vendor> {
    require(scope, Permission::Edit)?;
    let name = name.trim();
    if name.is_empty() || name.len() > 150 {
        return Err(Error::invalid(
            "name",
            "enter the vendor's name (at most 150 characters)",
        ));
    }
    if remit_to.trim().is_empty() || remit_to.len() > 500 {
        return Err(Error::invalid(
            "remit_to",
            "enter the remit-to address (at most 500 characters)",
        ));
    }
    let v = Vendor {
        id: new_id(),
        name: name.to_owned(),
        remit_to: remit_to.trim().to_owned(),
        is_1099,
        created_at: now.to_db(),
    };
    store::insert_vendor(tx, scope.municipality_id(), &v)
        .await
        .map_err(|e| e.on_conflict("name", format!("a vendor named {name} exists")))?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "vendor.create",
            "vendor",
            &v.id,
            None,
            Some(json(&v)?),
        ),
    )
    .await?;
    Ok(v)
}

/// The town's vendors.
pub async fn vendors(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<Vendor>> {
    require(scope, Permission::View)?;
    store::vendors(ex, scope.municipality_id()).await
}

/// One of the town's vendors, for a form field `vendor_id`.
pub(crate) async fn vendor(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
) -> Result<Vendor> {
    store::vendors(ex, scope.municipality_id())
        .await?
        .into_iter()
        .find(|v| v.id == id)
        .ok_or_else(|| Error::invalid("vendor_id", "choose one of the town's vendors"))
}

/// Checks (expenditure account, positive amount) lines of an order or invoice,
/// naming the line in errors; returns (account id, account string, cents).
pub(crate) async fn expenditure_lines(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity_id: &str,
    lines: &[(String, Money)],
) -> Result<Vec<(String, String, i64)>> {
    let named = lines
        .iter()
        .filter_map(|(a, _)| AccountString::parse("account", a).ok())
        .map(|a| a.to_string());
    let accounts: BTreeMap<String, String> =
        store::accounts_named(ex, scope.municipality_id(), entity_id, named)
            .await?
            .into_values()
            .map(|a| (a.account, a.id))
            .collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, (account, amount)) in lines.iter().enumerate() {
        let field = format!("lines[{}]", i + 1);
        let parsed = AccountString::parse(&format!("{field}.account"), account)?;
        if parsed.class()? != AccountClass::Expenditure {
            return Err(Error::invalid(
                format!("{field}.account"),
                format!("{parsed} is not an expenditure account"),
            ));
        }
        let id = accounts.get(&parsed.to_string()).ok_or_else(|| {
            Error::invalid(
                format!("{field}.account"),
                format!("account {parsed} does not exist in these books"),
            )
        })?;
        if amount.cents() <= 0 {
            return Err(Error::invalid(
                format!("{field}.amount"),
                "enter a positive amount",
            ));
        }
        out.push((id.clone(), parsed.to_string(), amount.cents()));
    }
    Ok(out)
}

/// A purchase order as entered.
#[derive(Debug, Clone)]
pub struct NewPurchaseOrder {
    /// Whose books.
    pub entity: EntityKind,
    /// Vendor id.
    pub vendor_id: String,
    /// Date.
    pub date: Date,
    /// What is being bought.
    pub description: String,
    /// (expenditure account, amount).
    pub lines: Vec<(String, Money)>,
}

/// Drafts a purchase order (finance clerks and up).
pub async fn create_po(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &NewPurchaseOrder,
) -> Result<(PurchaseOrder, Vec<PoLine>)> {
    require(scope, Permission::Edit)?;
    let description = new.description.trim();
    if description.is_empty() || description.len() > 300 {
        return Err(Error::invalid(
            "description",
            "say what is being bought (at most 300 characters)",
        ));
    }
    if new.lines.is_empty() {
        return Err(Error::invalid(
            "lines",
            "a purchase order needs at least one line",
        ));
    }
    let vendor = vendor(scope, tx, &new.vendor_id).await?;
    let entity_id = entity_id(scope, tx, new.entity).await?;
    let mut lines = Vec::new();
    for (i, (account_id, account, cents)) in expenditure_lines(scope, tx, &entity_id, &new.lines)
        .await?
        .into_iter()
        .enumerate()
    {
        lines.push(PoLine {
            line_no: i64::try_from(i + 1).unwrap_or(i64::MAX),
            account_id,
            account,
            amount_cents: cents,
            liquidated_cents: 0,
        });
    }
    let fy = i64::from(FiscalYear::containing(new.date).end_year());
    let po = PurchaseOrder {
        id: new_id(),
        number: store::next_po_number(tx, scope.municipality_id(), &entity_id, fy).await?,
        entity_id,
        fiscal_year: fy,
        vendor_id: vendor.id,
        vendor_name: vendor.name,
        po_date: format_date(new.date),
        description: description.to_owned(),
        status: "draft".into(),
        created_at: now.to_db(),
        carried_to: None,
    };
    store::insert_po(tx, scope.municipality_id(), &po).await?;
    for l in &lines {
        store::insert_po_line(tx, scope.municipality_id(), &po.id, l).await?;
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "purchase_order.create",
            "purchase_order",
            &po.id,
            None,
            Some(serde_json::json!({"po": po, "lines": lines})),
        ),
    )
    .await?;
    Ok((po, lines))
}

/// A purchase order with its lines.
pub async fn po(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
) -> Result<(PurchaseOrder, Vec<PoLine>)> {
    require(scope, Permission::View)?;
    let p = store::po(ex, scope.municipality_id(), id)
        .await?
        .ok_or(Error::NotFound {
            what: "purchase order",
        })?;
    let lines = store::po_lines(ex, scope.municipality_id(), id).await?;
    Ok((p, lines))
}

/// The purchase orders of an entity's books, newest first.
pub async fn pos(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<PurchaseOrder>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    store::pos(ex, scope.municipality_id(), &entity_id).await
}

/// The purchase orders of an entity's books with their lines, newest first, in two queries.
pub async fn pos_with_lines(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<(PurchaseOrder, Vec<PoLine>)>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    let orders = store::pos(ex, scope.municipality_id(), &entity_id).await?;
    let mut lines: BTreeMap<String, Vec<PoLine>> = BTreeMap::new();
    for (po_id, line) in store::po_lines_of_entity(ex, scope.municipality_id(), &entity_id).await? {
        lines.entry(po_id).or_default().push(line);
    }
    Ok(orders
        .into_iter()
        .map(|p| {
            let l = lines.remove(&p.id).unwrap_or_default();
            (p, l)
        })
        .collect())
}

/// Approves a draft purchase order, which then encumbers its accounts. With
/// appropriation control `block`, an order that would take an account past its
/// available budget is refused; with `warn` it is approved and the warnings returned.
pub async fn approve_po(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
) -> Result<(PurchaseOrder, Vec<String>)> {
    require(scope, Permission::Approve)?;
    let (before, lines) = po(scope, tx, id).await?;
    if before.status != "draft" {
        return Err(Error::conflict(
            "status",
            format!(
                "purchase order {} is {}, not a draft",
                before.number, before.status
            ),
        ));
    }
    let mut amounts: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for l in &lines {
        amounts
            .entry(l.account_id.clone())
            .or_insert_with(|| (l.account.clone(), 0))
            .1 += l.amount_cents;
    }
    let over = budget::over_budget(
        scope,
        tx,
        &before.entity_id,
        before.fiscal_year,
        &amounts,
        "order",
    )
    .await?;
    let control = budget::control(scope, tx).await?;
    if !over.is_empty() && control == AppropriationControl::Block {
        return Err(Error::invalid("lines", over.join("; ")));
    }
    if store::set_po_status(tx, scope.municipality_id(), id, "draft", "open").await? != 1 {
        return Err(Error::conflict(
            "status",
            "the purchase order changed; reload and try again",
        ));
    }
    let after = PurchaseOrder {
        status: "open".into(),
        ..before.clone()
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "purchase_order.approve",
            "purchase_order",
            id,
            Some(json(&before)?),
            Some(json(&after)?),
        ),
    )
    .await?;
    let warnings = if control == AppropriationControl::Off {
        Vec::new()
    } else {
        over
    };
    Ok((after, warnings))
}

/// Closes an open purchase order (releasing what is not liquidated) or cancels a draft.
pub async fn close_po(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
) -> Result<PurchaseOrder> {
    require(scope, Permission::Approve)?;
    let (before, _) = po(scope, tx, id).await?;
    let to = match before.status.as_str() {
        "open" => "closed",
        "draft" => "cancelled",
        other => {
            return Err(Error::conflict(
                "status",
                format!("purchase order {} is already {other}", before.number),
            ));
        }
    };
    store::set_po_status(tx, scope.municipality_id(), id, &before.status, to).await?;
    let after = PurchaseOrder {
        status: to.into(),
        ..before.clone()
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "purchase_order.close",
            "purchase_order",
            id,
            Some(json(&before)?),
            Some(json(&after)?),
        ),
    )
    .await?;
    Ok(after)
}
