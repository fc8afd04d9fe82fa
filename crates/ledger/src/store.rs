//! The ledger's SQL. Every function takes the municipality from the caller's
//! scope (passed down by `service`) and binds it in every statement.

use munishare_platform::db::{self, Executor};
use munishare_platform::types::MunicipalityId;
use munishare_platform::{Result, dispatch, execute};

use crate::service::{Account, Entry, Fund, Line, Period};

pub(crate) async fn entity_id(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    kind: &str,
) -> Result<Option<String>> {
    Ok(
        dispatch!(ex, c => sqlx::query_scalar("SELECT id FROM entities WHERE municipality_id = $1 AND kind = $2")
        .bind(m).bind(kind).fetch_optional(c).await)?,
    )
}

pub(crate) async fn insert_fund(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    f: &Fund,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_funds (municipality_id, id, entity_id, code, name, fund_type) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(m).bind(&f.id).bind(&f.entity_id).bind(&f.code).bind(&f.name).bind(&f.fund_type).execute(c).await)?)
}

pub(crate) async fn funds(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Vec<Fund>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, entity_id, code, name, fund_type FROM ledger_funds WHERE municipality_id = $1 AND entity_id = $2 ORDER BY code")
        .bind(m).bind(entity_id).fetch_all(c).await)?)
}

pub(crate) async fn insert_account(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    a: &Account,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_accounts (municipality_id, id, entity_id, fund_id, account, name, class, active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(m).bind(&a.id).bind(&a.entity_id).bind(&a.fund_id).bind(&a.account).bind(&a.name).bind(&a.class)
        .bind(a.active).execute(c).await)?)
}

pub(crate) async fn accounts(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Vec<Account>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT a.id, a.entity_id, a.fund_id, f.code AS fund_code, a.account, a.name, a.class, a.active \
         FROM ledger_accounts a JOIN ledger_funds f ON f.municipality_id = a.municipality_id AND f.id = a.fund_id \
         WHERE a.municipality_id = $1 AND a.entity_id = $2 ORDER BY a.account")
        .bind(m).bind(entity_id).fetch_all(c).await)?)
}

/// The accounts of an entity's books with the given account strings, keyed by
/// string. Posting looks up a handful of accounts; a chart has thousands, so
/// only the ones named are read (the whole chart past 200 names).
pub(crate) async fn accounts_named(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    names: impl IntoIterator<Item = String>,
) -> Result<std::collections::BTreeMap<String, Account>> {
    let names: std::collections::BTreeSet<String> = names.into_iter().collect();
    let rows = if names.len() > 200 {
        accounts(ex, m, entity_id).await?
    } else if names.is_empty() {
        Vec::new()
    } else {
        let marks: Vec<String> = (0..names.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT a.id, a.entity_id, a.fund_id, f.code AS fund_code, a.account, a.name, a.class, a.active \
             FROM ledger_accounts a JOIN ledger_funds f ON f.municipality_id = a.municipality_id AND f.id = a.fund_id \
             WHERE a.municipality_id = $1 AND a.entity_id = $2 AND a.account IN ({})",
            marks.join(", ")
        );
        dispatch!(ex, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(entity_id);
            for n in &names {
                q = q.bind(n);
            }
            q.fetch_all(c).await
        })?
    };
    Ok(rows
        .into_iter()
        .filter(|a: &Account| names.contains(&a.account))
        .map(|a| (a.account.clone(), a))
        .collect())
}

pub(crate) async fn insert_period(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    p: &Period,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_periods (municipality_id, entity_id, fiscal_year, period, starts_on, ends_on, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(m).bind(&p.entity_id).bind(p.fiscal_year).bind(p.period).bind(&p.starts_on).bind(&p.ends_on)
        .bind(&p.status).execute(c).await)?)
}

pub(crate) async fn period(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
    period: i64,
) -> Result<Option<Period>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT entity_id, fiscal_year, period, starts_on, ends_on, status FROM ledger_periods \
         WHERE municipality_id = $1 AND entity_id = $2 AND fiscal_year = $3 AND period = $4")
        .bind(m).bind(entity_id).bind(fy).bind(period).fetch_optional(c).await)?)
}

pub(crate) async fn periods(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Vec<Period>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT entity_id, fiscal_year, period, starts_on, ends_on, status FROM ledger_periods \
         WHERE municipality_id = $1 AND entity_id = $2 ORDER BY fiscal_year, period")
        .bind(m).bind(entity_id).fetch_all(c).await)?)
}

pub(crate) async fn set_period_status(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    p: &Period,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_periods SET status = $1 WHERE municipality_id = $2 AND entity_id = $3 AND fiscal_year = $4 AND period = $5")
        .bind(&p.status).bind(m).bind(&p.entity_id).bind(p.fiscal_year).bind(p.period).execute(c).await)?)
}

pub(crate) async fn next_entry_number(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<i64> {
    let max: Option<i64> = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT MAX(number) FROM ledger_entries WHERE municipality_id = $1 AND entity_id = $2 AND fiscal_year = $3")
        .bind(m).bind(entity_id).bind(fy).fetch_one(c).await)?;
    Ok(max.unwrap_or(0) + 1)
}

pub(crate) async fn insert_entry(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    e: &Entry,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_entries (municipality_id, id, entity_id, fiscal_year, number, period, entry_date, description, \
         status, reverses_id, created_at, posted_at, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(m).bind(&e.id).bind(&e.entity_id).bind(e.fiscal_year).bind(e.number).bind(e.period).bind(&e.entry_date)
        .bind(&e.description).bind(&e.status).bind(&e.reverses_id).bind(&e.created_at).bind(&e.posted_at).bind(&e.source)
        .execute(c).await)?)
}

/// Writes an entry's lines, many to a statement.
pub(crate) async fn insert_lines(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entry_id: &str,
    lines: &[Line],
) -> Result<()> {
    for chunk in lines.chunks(db::rows_per_statement(5)) {
        let sql = format!(
            "INSERT INTO ledger_lines (line_no, account_id, debit_cents, credit_cents, memo, municipality_id, entry_id) \
             VALUES {}",
            db::value_rows(chunk.len(), 5, 2)
        );
        execute!(ex, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for l in chunk {
                q = q.bind(l.line_no).bind(&l.account_id).bind(l.debit_cents).bind(l.credit_cents).bind(&l.memo);
            }
            q.bind(m).bind(entry_id).execute(c).await
        })?;
    }
    Ok(())
}

pub(crate) async fn entry(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
) -> Result<Option<Entry>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, entity_id, fiscal_year, number, period, entry_date, description, status, reverses_id, created_at, posted_at, source \
         FROM ledger_entries WHERE municipality_id = $1 AND id = $2").bind(m).bind(id).fetch_optional(c).await)?)
}

pub(crate) async fn entries(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    limit: i64,
) -> Result<Vec<Entry>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, entity_id, fiscal_year, number, period, entry_date, description, status, reverses_id, created_at, posted_at, source \
         FROM ledger_entries WHERE municipality_id = $1 AND entity_id = $2 ORDER BY fiscal_year DESC, number DESC LIMIT $3")
        .bind(m).bind(entity_id).bind(limit).fetch_all(c).await)?)
}

pub(crate) async fn reversal_of(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
) -> Result<Option<String>> {
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT id FROM ledger_entries WHERE municipality_id = $1 AND reverses_id = $2").bind(m).bind(id).fetch_optional(c).await)?)
}

pub(crate) async fn lines(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entry_id: &str,
) -> Result<Vec<Line>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT l.line_no, l.account_id, a.account, f.code AS fund_code, l.debit_cents, l.credit_cents, l.memo \
         FROM ledger_lines l JOIN ledger_accounts a ON a.municipality_id = l.municipality_id AND a.id = l.account_id \
         JOIN ledger_funds f ON f.municipality_id = a.municipality_id AND f.id = a.fund_id \
         WHERE l.municipality_id = $1 AND l.entry_id = $2 ORDER BY l.line_no")
        .bind(m).bind(entry_id).fetch_all(c).await)?)
}

pub(crate) async fn mark_posted(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
    at: &str,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_entries SET status = 'posted', posted_at = $1 WHERE municipality_id = $2 AND id = $3 AND status = 'draft'")
        .bind(at).bind(m).bind(id).execute(c).await)?)
}

/// Adds (account id, debit cents, credit cents) to the balances of one
/// period, summed per account first (one statement may not touch a row twice).
pub(crate) async fn add_to_balances(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    fy: i64,
    period: i64,
    amounts: impl IntoIterator<Item = (String, i64, i64)>,
) -> Result<()> {
    let mut by_account: std::collections::BTreeMap<String, (i64, i64)> =
        std::collections::BTreeMap::new();
    for (account, debit, credit) in amounts {
        let t = by_account.entry(account).or_default();
        *t = (t.0 + debit, t.1 + credit);
    }
    let rows: Vec<(String, (i64, i64))> = by_account.into_iter().collect();
    for chunk in rows.chunks(db::rows_per_statement(3)) {
        let sql = format!(
            "INSERT INTO ledger_balances (account_id, debit_cents, credit_cents, municipality_id, fiscal_year, period) \
             VALUES {} \
             ON CONFLICT (municipality_id, account_id, fiscal_year, period) DO UPDATE SET \
             debit_cents = ledger_balances.debit_cents + excluded.debit_cents, \
             credit_cents = ledger_balances.credit_cents + excluded.credit_cents",
            db::value_rows(chunk.len(), 3, 3)
        );
        execute!(ex, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (account, (debit, credit)) in chunk {
                q = q.bind(account).bind(debit).bind(credit);
            }
            q.bind(m).bind(fy).bind(period).execute(c).await
        })?;
    }
    Ok(())
}

/// Posted totals per account for whole periods `< before_period` of a fiscal year.
pub(crate) async fn period_totals(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
    before_period: i64,
) -> Result<Vec<(String, i64, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT b.account_id, CAST(SUM(b.debit_cents) AS BIGINT), CAST(SUM(b.credit_cents) AS BIGINT) \
         FROM ledger_balances b JOIN ledger_accounts a ON a.municipality_id = b.municipality_id AND a.id = b.account_id \
         WHERE b.municipality_id = $1 AND a.entity_id = $2 AND b.fiscal_year = $3 AND b.period < $4 GROUP BY b.account_id")
        .bind(m).bind(entity_id).bind(fy).bind(before_period).fetch_all(c).await)?)
}

/// Posted totals per account within one period, for entries dated on or before `through`.
pub(crate) async fn partial_period_totals(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
    period: i64,
    through: &str,
) -> Result<Vec<(String, i64, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT l.account_id, CAST(SUM(l.debit_cents) AS BIGINT), CAST(SUM(l.credit_cents) AS BIGINT) \
         FROM ledger_lines l WHERE l.municipality_id = $1 AND l.entry_id IN (\
         SELECT e.id FROM ledger_entries e WHERE e.municipality_id = $1 AND e.entity_id = $2 AND e.fiscal_year = $3 \
         AND e.period = $4 AND e.status = 'posted' AND e.entry_date <= $5) GROUP BY l.account_id")
        .bind(m).bind(entity_id).bind(fy).bind(period).bind(through).fetch_all(c).await)?)
}

use crate::service::BudgetChange;

/// One account's adopted budget, as stored.
pub(crate) struct AdoptedLine<'a> {
    pub entity_id: &'a str,
    pub fiscal_year: i64,
    pub account_id: &'a str,
    pub cents: i64,
    pub at: &'a str,
}

pub(crate) async fn insert_budget(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
    b: &AdoptedLine<'_>,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_budgets (municipality_id, id, entity_id, fiscal_year, account_id, adopted_cents, adopted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(m).bind(id).bind(b.entity_id).bind(b.fiscal_year).bind(b.account_id).bind(b.cents).bind(b.at).execute(c).await)?)
}

/// Adopted budget per account of a fiscal year: (account id, cents).
pub(crate) async fn adopted(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<Vec<(String, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT account_id, adopted_cents FROM ledger_budgets WHERE municipality_id = $1 AND entity_id = $2 AND fiscal_year = $3")
        .bind(m).bind(entity_id).bind(fy).fetch_all(c).await)?)
}

/// Approved changes per account of a fiscal year: (account id, net cents).
pub(crate) async fn approved_changes(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<Vec<(String, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT l.account_id, CAST(SUM(l.amount_cents) AS BIGINT) FROM ledger_budget_change_lines l \
         JOIN ledger_budget_changes ch ON ch.municipality_id = l.municipality_id AND ch.id = l.change_id \
         WHERE l.municipality_id = $1 AND ch.entity_id = $2 AND ch.fiscal_year = $3 AND ch.status = 'approved' \
         GROUP BY l.account_id")
        .bind(m).bind(entity_id).bind(fy).fetch_all(c).await)?)
}

pub(crate) async fn insert_change(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    ch: &BudgetChange,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_budget_changes (municipality_id, id, entity_id, fiscal_year, kind, description, status, created_at, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(m).bind(&ch.id).bind(&ch.entity_id).bind(ch.fiscal_year).bind(&ch.kind).bind(&ch.description)
        .bind(&ch.status).bind(&ch.created_at).bind(&ch.decided_at).execute(c).await)?)
}

pub(crate) async fn insert_change_line(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    change_id: &str,
    line_no: i64,
    account_id: &str,
    cents: i64,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_budget_change_lines (municipality_id, change_id, line_no, account_id, amount_cents) VALUES ($1, $2, $3, $4, $5)")
        .bind(m).bind(change_id).bind(line_no).bind(account_id).bind(cents).execute(c).await)?)
}

pub(crate) async fn change(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
) -> Result<Option<BudgetChange>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, entity_id, fiscal_year, kind, description, status, created_at, decided_at FROM ledger_budget_changes \
         WHERE municipality_id = $1 AND id = $2").bind(m).bind(id).fetch_optional(c).await)?)
}

pub(crate) async fn changes(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<Vec<BudgetChange>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, entity_id, fiscal_year, kind, description, status, created_at, decided_at FROM ledger_budget_changes \
         WHERE municipality_id = $1 AND entity_id = $2 AND fiscal_year = $3 ORDER BY created_at DESC, id DESC")
        .bind(m).bind(entity_id).bind(fy).fetch_all(c).await)?)
}

/// (account string, amount cents) of a change.
pub(crate) async fn change_lines(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    change_id: &str,
) -> Result<Vec<(String, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT a.account, l.amount_cents FROM ledger_budget_change_lines l \
         JOIN ledger_accounts a ON a.municipality_id = l.municipality_id AND a.id = l.account_id \
         WHERE l.municipality_id = $1 AND l.change_id = $2 ORDER BY l.line_no").bind(m).bind(change_id).fetch_all(c).await)?)
}

pub(crate) async fn decide_change(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
    status: &str,
    at: &str,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_budget_changes SET status = $1, decided_at = $2 WHERE municipality_id = $3 AND id = $4 AND status = 'proposed'")
        .bind(status).bind(at).bind(m).bind(id).execute(c).await)?)
}

pub(crate) async fn appropriation_control(
    ex: &mut impl Executor,
    m: &MunicipalityId,
) -> Result<Option<String>> {
    Ok(
        dispatch!(ex, c => sqlx::query_scalar("SELECT appropriation_control FROM ledger_settings WHERE municipality_id = $1")
        .bind(m).fetch_optional(c).await)?,
    )
}

pub(crate) async fn set_appropriation_control(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    mode: &str,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_settings (municipality_id, appropriation_control) VALUES ($1, $2) \
         ON CONFLICT (municipality_id) DO UPDATE SET appropriation_control = excluded.appropriation_control")
        .bind(m).bind(mode).execute(c).await)?)
}

/// Posted activity per account for a whole fiscal year including the closing
/// period (periods 0–14): (account id, debits, credits).
pub(crate) async fn year_totals(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<Vec<(String, i64, i64)>> {
    period_totals(ex, m, entity_id, fy, 15).await
}

pub(crate) async fn year_close(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<Option<(String, String)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT closing_entry_id, closed_at FROM ledger_year_closes WHERE municipality_id = $1 AND entity_id = $2 AND fiscal_year = $3")
        .bind(m).bind(entity_id).bind(fy).fetch_optional(c).await)?)
}

pub(crate) async fn insert_year_close(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
    entry_id: &str,
    at: &str,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_year_closes (municipality_id, entity_id, fiscal_year, closing_entry_id, closed_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(m).bind(entity_id).bind(fy).bind(entry_id).bind(at).execute(c).await)?)
}

pub(crate) async fn delete_year_close(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "DELETE FROM ledger_year_closes WHERE municipality_id = $1 AND entity_id = $2 AND fiscal_year = $3")
        .bind(m).bind(entity_id).bind(fy).execute(c).await)?)
}

/// Removes the opening balances (period 0) of a fiscal year for an entity's accounts.
pub(crate) async fn delete_openings(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "DELETE FROM ledger_balances WHERE municipality_id = $1 AND fiscal_year = $2 AND period = 0 \
         AND account_id IN (SELECT id FROM ledger_accounts WHERE municipality_id = $1 AND entity_id = $3)")
        .bind(m).bind(fy).bind(entity_id).execute(c).await)?)
}

/// Posted lines of one account between two dates within a fiscal year, oldest first:
/// (entry id, number, date, period, description, debit, credit, memo).
pub(crate) type DetailRow = (String, i64, String, i64, String, i64, i64, String);

pub(crate) async fn account_detail(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    account_id: &str,
    fy: i64,
    from: &str,
    to: &str,
) -> Result<Vec<DetailRow>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT e.id, e.number, e.entry_date, e.period, e.description, l.debit_cents, l.credit_cents, l.memo \
         FROM ledger_lines l JOIN ledger_entries e ON e.municipality_id = l.municipality_id AND e.id = l.entry_id \
         WHERE l.municipality_id = $1 AND l.account_id = $2 AND e.status = 'posted' AND e.fiscal_year = $3 \
         AND e.entry_date >= $4 AND e.entry_date <= $5 ORDER BY e.entry_date, e.period, e.number, l.line_no")
        .bind(m).bind(account_id).bind(fy).bind(from).bind(to).fetch_all(c).await)?)
}

use crate::purchasing::{PoLine, PurchaseOrder, Vendor};

pub(crate) async fn insert_vendor(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    v: &Vendor,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_vendors (municipality_id, id, name, remit_to, is_1099, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(m).bind(&v.id).bind(&v.name).bind(&v.remit_to).bind(v.is_1099).bind(&v.created_at).execute(c).await)?)
}

pub(crate) async fn vendors(ex: &mut impl Executor, m: &MunicipalityId) -> Result<Vec<Vendor>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, name, remit_to, is_1099, created_at FROM ledger_vendors WHERE municipality_id = $1 ORDER BY name")
        .bind(m).fetch_all(c).await)?)
}

pub(crate) async fn insert_po(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    p: &PurchaseOrder,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_purchase_orders (municipality_id, id, entity_id, fiscal_year, number, vendor_id, po_date, description, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(m).bind(&p.id).bind(&p.entity_id).bind(p.fiscal_year).bind(p.number).bind(&p.vendor_id).bind(&p.po_date)
        .bind(&p.description).bind(&p.status).bind(&p.created_at).execute(c).await)?)
}

pub(crate) async fn insert_po_line(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    po_id: &str,
    l: &PoLine,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_po_lines (municipality_id, po_id, line_no, account_id, amount_cents, liquidated_cents) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(m).bind(po_id).bind(l.line_no).bind(&l.account_id).bind(l.amount_cents).bind(l.liquidated_cents).execute(c).await)?)
}

pub(crate) async fn next_po_number(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<i64> {
    let max: Option<i64> = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT MAX(number) FROM ledger_purchase_orders WHERE municipality_id = $1 AND entity_id = $2 AND fiscal_year = $3")
        .bind(m).bind(entity_id).bind(fy).fetch_one(c).await)?;
    Ok(max.unwrap_or(0) + 1)
}

const PO_COLUMNS: &str = "p.id, p.entity_id, p.fiscal_year, p.number, p.vendor_id, v.name AS vendor_name, p.po_date, p.description, p.status, p.created_at, p.carried_to";

pub(crate) async fn po(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
) -> Result<Option<PurchaseOrder>> {
    let sql = format!(
        "SELECT {PO_COLUMNS} FROM ledger_purchase_orders p JOIN ledger_vendors v ON v.municipality_id = p.municipality_id AND v.id = p.vendor_id WHERE p.municipality_id = $1 AND p.id = $2"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(id).fetch_optional(c).await)?,
    )
}

pub(crate) async fn pos(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Vec<PurchaseOrder>> {
    let sql = format!(
        "SELECT {PO_COLUMNS} FROM ledger_purchase_orders p JOIN ledger_vendors v ON v.municipality_id = p.municipality_id AND v.id = p.vendor_id WHERE p.municipality_id = $1 AND p.entity_id = $2 ORDER BY p.fiscal_year DESC, p.number DESC"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(entity_id).fetch_all(c).await)?,
    )
}

pub(crate) async fn po_lines(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    po_id: &str,
) -> Result<Vec<PoLine>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT l.line_no, l.account_id, a.account, l.amount_cents, l.liquidated_cents FROM ledger_po_lines l \
         JOIN ledger_accounts a ON a.municipality_id = l.municipality_id AND a.id = l.account_id \
         WHERE l.municipality_id = $1 AND l.po_id = $2 ORDER BY l.line_no").bind(m).bind(po_id).fetch_all(c).await)?)
}

/// Every purchase-order line of an entity's books, with its order's id.
pub(crate) async fn po_lines_of_entity(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Vec<(String, PoLine)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        po_id: String,
        #[sqlx(flatten)]
        line: PoLine,
    }
    let rows: Vec<Row> = dispatch!(ex, c => sqlx::query_as(
        "SELECT l.po_id, l.line_no, l.account_id, a.account, l.amount_cents, l.liquidated_cents FROM ledger_po_lines l \
         JOIN ledger_accounts a ON a.municipality_id = l.municipality_id AND a.id = l.account_id \
         JOIN ledger_purchase_orders p ON p.municipality_id = l.municipality_id AND p.id = l.po_id \
         WHERE l.municipality_id = $1 AND p.entity_id = $2 ORDER BY l.po_id, l.line_no")
        .bind(m).bind(entity_id).fetch_all(c).await)?;
    Ok(rows.into_iter().map(|r| (r.po_id, r.line)).collect())
}

pub(crate) async fn set_po_status(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
    from: &str,
    to: &str,
) -> Result<u64> {
    Ok(
        execute!(ex, c => sqlx::query("UPDATE ledger_purchase_orders SET status = $1 WHERE municipality_id = $2 AND id = $3 AND status = $4")
        .bind(to).bind(m).bind(id).bind(from).execute(c).await)?,
    )
}

/// Open encumbrance per account for a fiscal year: (account id, cents).
pub(crate) async fn encumbrances(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<Vec<(String, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT l.account_id, CAST(SUM(l.amount_cents - l.liquidated_cents) AS BIGINT) FROM ledger_po_lines l \
         JOIN ledger_purchase_orders p ON p.municipality_id = l.municipality_id AND p.id = l.po_id \
         WHERE l.municipality_id = $1 AND p.entity_id = $2 AND COALESCE(p.carried_to, p.fiscal_year) = $3 AND p.status = 'open' \
         GROUP BY l.account_id")
        .bind(m).bind(entity_id).bind(fy).fetch_all(c).await)?)
}

use crate::payables::{Invoice, PaymentRun};

const INVOICE_COLUMNS: &str = "i.id, i.entity_id, i.vendor_id, v.name AS vendor_name, i.po_id, i.invoice_number, i.invoice_date, \
     i.description, i.amount_cents, i.status, i.entry_id, i.payment_run_id, i.check_number, i.ach_trace, i.created_at";

pub(crate) async fn insert_invoice(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    i: &Invoice,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_invoices (municipality_id, id, entity_id, vendor_id, po_id, invoice_number, invoice_date, description, \
         amount_cents, status, entry_id, payment_run_id, check_number, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL, $11)")
        .bind(m).bind(&i.id).bind(&i.entity_id).bind(&i.vendor_id).bind(&i.po_id).bind(&i.invoice_number).bind(&i.invoice_date)
        .bind(&i.description).bind(i.amount_cents).bind(&i.status).bind(&i.created_at).execute(c).await)?)
}

pub(crate) async fn insert_invoice_line(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    invoice_id: &str,
    line_no: i64,
    account_id: &str,
    cents: i64,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_invoice_lines (municipality_id, invoice_id, line_no, account_id, amount_cents) VALUES ($1, $2, $3, $4, $5)")
        .bind(m).bind(invoice_id).bind(line_no).bind(account_id).bind(cents).execute(c).await)?)
}

pub(crate) async fn invoice(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
) -> Result<Option<Invoice>> {
    let sql = format!(
        "SELECT {INVOICE_COLUMNS} FROM ledger_invoices i JOIN ledger_vendors v ON v.municipality_id = i.municipality_id AND v.id = i.vendor_id WHERE i.municipality_id = $1 AND i.id = $2"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(id).fetch_optional(c).await)?,
    )
}

pub(crate) async fn invoices(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Vec<Invoice>> {
    let sql = format!(
        "SELECT {INVOICE_COLUMNS} FROM ledger_invoices i JOIN ledger_vendors v ON v.municipality_id = i.municipality_id AND v.id = i.vendor_id WHERE i.municipality_id = $1 AND i.entity_id = $2 ORDER BY i.invoice_date DESC, i.id DESC"
    );
    Ok(
        dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(entity_id).fetch_all(c).await)?,
    )
}

/// (account id, account string, fund code, cents) of an invoice's lines.
pub(crate) async fn invoice_lines(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    invoice_id: &str,
) -> Result<Vec<(String, String, String, i64)>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT l.account_id, a.account, f.code, l.amount_cents FROM ledger_invoice_lines l \
         JOIN ledger_accounts a ON a.municipality_id = l.municipality_id AND a.id = l.account_id \
         JOIN ledger_funds f ON f.municipality_id = a.municipality_id AND f.id = a.fund_id \
         WHERE l.municipality_id = $1 AND l.invoice_id = $2 ORDER BY l.line_no").bind(m).bind(invoice_id).fetch_all(c).await)?)
}

pub(crate) async fn approve_invoice(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
    entry_id: &str,
) -> Result<u64> {
    Ok(
        execute!(ex, c => sqlx::query("UPDATE ledger_invoices SET status = 'approved', entry_id = $1 WHERE municipality_id = $2 AND id = $3 AND status = 'entered'")
        .bind(entry_id).bind(m).bind(id).execute(c).await)?,
    )
}

pub(crate) async fn pay_invoice(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
    run_id: &str,
    check: Option<i64>,
    ach_trace: Option<i64>,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_invoices SET status = 'paid', payment_run_id = $1, check_number = $2, ach_trace = $3 \
         WHERE municipality_id = $4 AND id = $5 AND status = 'approved'")
        .bind(run_id).bind(check).bind(ach_trace).bind(m).bind(id).execute(c).await)?)
}

pub(crate) async fn liquidate(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    po_id: &str,
    line_no: i64,
    cents: i64,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_po_lines SET liquidated_cents = liquidated_cents + $1 WHERE municipality_id = $2 AND po_id = $3 AND line_no = $4")
        .bind(cents).bind(m).bind(po_id).bind(line_no).execute(c).await)?)
}

pub(crate) async fn insert_payment_run(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    r: &PaymentRun,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "INSERT INTO ledger_payment_runs (municipality_id, id, entity_id, run_date, first_check, entry_id, total_cents, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(m).bind(&r.id).bind(&r.entity_id).bind(&r.run_date).bind(r.first_check).bind(&r.entry_id).bind(r.total_cents).bind(&r.created_at)
        .execute(c).await)?)
}

pub(crate) async fn payment_run(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    id: &str,
) -> Result<Option<PaymentRun>> {
    Ok(dispatch!(ex, c => sqlx::query_as(
        "SELECT id, entity_id, run_date, first_check, entry_id, total_cents, created_at FROM ledger_payment_runs WHERE municipality_id = $1 AND id = $2")
        .bind(m).bind(id).fetch_optional(c).await)?)
}

pub(crate) async fn max_check_number(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
) -> Result<Option<i64>> {
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT MAX(check_number) FROM ledger_invoices WHERE municipality_id = $1 AND entity_id = $2")
        .bind(m).bind(entity_id).fetch_one(c).await)?)
}

/// Carries the orders that encumber `fy` and are still open into the next year's budget.
pub(crate) async fn carry_pos(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_purchase_orders SET carried_to = $1 \
         WHERE municipality_id = $3 AND entity_id = $4 AND COALESCE(carried_to, fiscal_year) = $2 AND status = 'open'")
        .bind(fy + 1).bind(fy).bind(m).bind(entity_id).execute(c).await)?)
}

/// Puts the orders carried from `fy` into the next year back into `fy`.
pub(crate) async fn uncarry_pos(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_purchase_orders SET carried_to = CASE WHEN fiscal_year = $1 THEN NULL ELSE $1 END \
         WHERE municipality_id = $2 AND entity_id = $3 AND carried_to = $4")
        .bind(fy).bind(m).bind(entity_id).bind(fy + 1).execute(c).await)?)
}

/// Numbers of the orders carried from `fy` that were invoiced after it ended.
pub(crate) async fn carried_pos_invoiced_after(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
    year_end: &str,
) -> Result<Vec<i64>> {
    Ok(dispatch!(ex, c => sqlx::query_scalar(
        "SELECT DISTINCT p.number FROM ledger_purchase_orders p JOIN ledger_invoices i \
         ON i.municipality_id = p.municipality_id AND i.po_id = p.id \
         WHERE p.municipality_id = $1 AND p.entity_id = $2 AND p.carried_to = $3 AND i.invoice_date > $4 ORDER BY p.number")
        .bind(m).bind(entity_id).bind(fy + 1).bind(year_end).fetch_all(c).await)?)
}

/// Withdraws the approved carry-forward budget change of fiscal year `fy`.
pub(crate) async fn withdraw_carry_forward(
    ex: &mut impl Executor,
    m: &MunicipalityId,
    entity_id: &str,
    fy: i64,
    at: &str,
) -> Result<u64> {
    Ok(execute!(ex, c => sqlx::query(
        "UPDATE ledger_budget_changes SET status = 'withdrawn', decided_at = $1 \
         WHERE municipality_id = $2 AND entity_id = $3 AND fiscal_year = $4 AND kind = 'carry_forward' AND status = 'approved'")
        .bind(at).bind(m).bind(entity_id).bind(fy).execute(c).await)?)
}
