//! Recurring journal entries: a template (lines that balance per fund) that
//! is drafted once a month on its day, for an approver to post. Drafting is
//! idempotent — each month's draft carries the source `recurring:ID:DATE` — so
//! running it twice, or on two nodes, never drafts a month twice.

use std::collections::BTreeMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{Money, Permission, Timestamp, format_date, parse_date};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::domain::{AccountString, LineAmount, check_balanced};
use crate::service::{self, NewEntry, NewLine, entity_id, finance_change, json, new_id, require};

/// A template line as stored.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TemplateLine {
    /// Account string.
    pub account: String,
    /// Debit, cents.
    pub debit_cents: i64,
    /// Credit, cents.
    pub credit_cents: i64,
}

/// A recurring entry.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Recurring {
    /// Id.
    pub id: String,
    /// Entity.
    pub entity_id: String,
    /// Description of each entry.
    pub description: String,
    /// JSON list of [`TemplateLine`].
    pub lines: String,
    /// Day of the month it is dated (1–28).
    pub day_of_month: i64,
    /// The next date it will be drafted for.
    pub next_date: String,
    /// Last date (inclusive), if any.
    pub end_date: Option<String>,
    /// Whether it still runs.
    pub active: bool,
    /// Made.
    pub created_at: String,
}

impl Recurring {
    /// Its lines.
    pub fn template_lines(&self) -> Vec<TemplateLine> {
        serde_json::from_str(&self.lines).unwrap_or_default()
    }

    /// The total of its debits, cents.
    pub fn amount_cents(&self) -> i64 {
        self.template_lines().iter().map(|l| l.debit_cents).sum()
    }
}

/// A recurring entry as entered.
#[derive(Debug, Clone)]
pub struct NewRecurring {
    /// Whose books.
    pub entity: EntityKind,
    /// Description of each entry.
    pub description: String,
    /// First date it is drafted for; later months fall on the same day.
    pub starts_on: Date,
    /// Last date, if any.
    pub ends_on: Option<Date>,
    /// Lines (must balance in every fund).
    pub lines: Vec<NewLine>,
}

/// Saves a recurring entry after checking its accounts and balance.
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    new: &NewRecurring,
) -> Result<Recurring> {
    require(scope, Permission::Edit)?;
    let description = new.description.trim();
    if description.is_empty() || description.chars().count() > 250 {
        return Err(Error::invalid(
            "description",
            "describe the entry (at most 250 characters)",
        ));
    }
    let day = new.starts_on.day();
    if day > 28 {
        return Err(Error::invalid(
            "starts_on",
            "choose a day from 1 to 28, so every month has it",
        ));
    }
    if new.ends_on.is_some_and(|e| e < new.starts_on) {
        return Err(Error::invalid(
            "ends_on",
            "the last date is before the first",
        ));
    }
    if new.lines.len() < 2 || new.lines.len() > 200 {
        return Err(Error::invalid("lines", "an entry has 2 to 200 lines"));
    }
    let entity_id = entity_id(scope, tx, new.entity).await?;
    let accounts: BTreeMap<String, String> =
        crate::store::accounts(tx, scope.municipality_id(), &entity_id)
            .await?
            .into_iter()
            .filter(|a| a.active)
            .map(|a| (a.account, a.fund_code))
            .collect();
    let mut lines = Vec::new();
    let mut amounts = Vec::new();
    for (i, l) in new.lines.iter().enumerate() {
        let field = format!("lines[{}]", i + 1);
        let a = AccountString::parse(&format!("{field}.account"), &l.account)?;
        let fund = accounts.get(&a.to_string()).ok_or_else(|| {
            Error::invalid(
                format!("{field}.account"),
                format!("account {a} does not exist in these books"),
            )
        })?;
        let amount = LineAmount::from_columns(&field, l.debit, l.credit)?;
        let (debit_cents, credit_cents) = amount.columns();
        amounts.push((fund.clone(), amount));
        lines.push(TemplateLine {
            account: a.to_string(),
            debit_cents,
            credit_cents,
        });
    }
    check_balanced(amounts.iter().map(|(f, a)| (f.as_str(), *a)))?;
    let r = Recurring {
        id: new_id(),
        entity_id,
        description: description.to_owned(),
        lines: serde_json::to_string(&lines).map_err(|e| Error::Internal(e.to_string()))?,
        day_of_month: i64::from(day),
        next_date: format_date(new.starts_on),
        end_date: new.ends_on.map(format_date),
        active: true,
        created_at: now.to_db(),
    };
    execute!(tx, c => sqlx::query(
        "INSERT INTO ledger_recurring (municipality_id, id, entity_id, description, lines, day_of_month, next_date, end_date, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(scope.municipality_id()).bind(&r.id).bind(&r.entity_id).bind(&r.description).bind(&r.lines).bind(r.day_of_month)
        .bind(&r.next_date).bind(&r.end_date).bind(r.active).bind(&r.created_at).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "recurring.create",
            "recurring_entry",
            &r.id,
            None,
            Some(json(&r)?),
        ),
    )
    .await?;
    Ok(r)
}

/// The recurring entries of an entity's books.
pub async fn list(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    entity: EntityKind,
) -> Result<Vec<Recurring>> {
    require(scope, Permission::View)?;
    let entity_id = entity_id(scope, ex, entity).await?;
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, entity_id, description, lines, day_of_month, next_date, end_date, active, created_at FROM ledger_recurring \
         WHERE municipality_id = $1 AND entity_id = $2 ORDER BY active DESC, description").bind(scope.municipality_id())
        .bind(&entity_id).fetch_all(c).await)?)
}

/// Stops a recurring entry; drafts already made stay.
pub async fn stop(scope: &ServiceScope, tx: &mut Tx, now: Timestamp, id: &str) -> Result<()> {
    require(scope, Permission::Edit)?;
    let n = execute!(tx, c => sqlx::query("UPDATE ledger_recurring SET active = FALSE WHERE municipality_id = $1 AND id = $2 AND active")
        .bind(scope.municipality_id()).bind(id).execute(c).await)?;
    if n != 1 {
        return Err(Error::NotFound {
            what: "recurring entry",
        });
    }
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(scope, "recurring.stop", "recurring_entry", id, None, None),
    )
    .await?;
    Ok(())
}

/// The same day a month later.
fn next_month(d: Date) -> Date {
    let (y, m) = if d.month() == time::Month::December {
        (d.year() + 1, time::Month::January)
    } else {
        (d.year(), d.month().next())
    };
    Date::from_calendar_date(y, m, d.day()).unwrap_or(d)
}

/// Drafts every month that has come due by `today` for the entity's active
/// recurring entries (at most 24 per entry at a time); returns how many
/// drafts were made. A month whose period is closed stops the run with its
/// date named (nothing is drafted).
pub async fn draft_due(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    today: Date,
) -> Result<usize> {
    require(scope, Permission::Edit)?;
    let mut made = 0;
    for r in list(scope, tx, entity)
        .await?
        .into_iter()
        .filter(|r| r.active)
    {
        let end = r
            .end_date
            .as_deref()
            .map(|e| parse_date("end_date", e))
            .transpose()?;
        let mut next = parse_date("next_date", &r.next_date)?;
        let lines: Vec<NewLine> = r
            .template_lines()
            .into_iter()
            .map(|l| NewLine {
                account: l.account,
                debit: Money::from_cents(l.debit_cents),
                credit: Money::from_cents(l.credit_cents),
                memo: String::new(),
            })
            .collect();
        let mut count = 0;
        while next <= today && end.is_none_or(|e| next <= e) && count < 24 {
            let entry = NewEntry {
                entity,
                date: next,
                adjustment: false,
                description: r.description.clone(),
                lines: lines.clone(),
            };
            service::create_draft_in(
                scope,
                tx,
                now,
                &entry,
                None,
                Some(format!("recurring:{}:{}", r.id, format_date(next))),
            )
            .await
            .map_err(|e| match e {
                Error::Invalid { message, .. } => Error::invalid(
                    "date",
                    format!("{} for {}: {message}", r.description, format_date(next)),
                ),
                other => other,
            })?;
            next = next_month(next);
            count += 1;
        }
        if count > 0 {
            made += count;
            let finished = end.is_some_and(|e| next > e);
            execute!(tx, c => sqlx::query("UPDATE ledger_recurring SET next_date = $1, active = $2 WHERE municipality_id = $3 AND id = $4")
                .bind(format_date(next)).bind(!finished).bind(scope.municipality_id()).bind(&r.id).execute(c).await)?;
            audit::record(
                tx,
                now,
                scope.actor(),
                finance_change(
                    scope,
                    "recurring.draft",
                    "recurring_entry",
                    &r.id,
                    Some(serde_json::json!({"next_date": r.next_date})),
                    Some(serde_json::json!({"next_date": format_date(next), "drafted": count, "active": !finished})),
                ),
            )
            .await?;
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::next_month;
    use time::macros::date;

    #[test]
    fn months_roll_over_the_year() {
        assert_eq!(next_month(date!(2026 - 11 - 15)), date!(2026 - 12 - 15));
        assert_eq!(next_month(date!(2026 - 12 - 28)), date!(2027 - 01 - 28));
    }
}
