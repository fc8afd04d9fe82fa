//! Regional benchmarks: expenditures per capita by UCOA function, side by
//! side, for the towns that opted in to share them.
//!
//! Sharing is reciprocal and opt-in: a town's figures are shown only to users
//! of towns that share theirs, and only as yearly totals per function (no
//! accounts, entries or vendors). Expenditures are the year's posted
//! activity on expenditure accounts of both sets of books (town and board of
//! education), periods 1–13, placed in a function through the town's crosswalk
//! (accounts a `local` town has not mapped are left out and counted).

use std::collections::{BTreeMap, HashMap};

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{FiscalYear, MunicipalityId, Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::Serialize;

use crate::domain::AccountString;
use crate::service::{finance_change, require};
use crate::ucoa::Segment;

/// Whether the town shares its benchmarks.
pub async fn sharing(scope: &ServiceScope, ex: &mut impl Executor) -> Result<bool> {
    require(scope, Permission::View)?;
    let shared: Option<bool> = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT share_benchmarks FROM ledger_settings WHERE municipality_id = $1")
        .bind(scope.municipality_id()).fetch_optional(c).await)?;
    Ok(shared.unwrap_or(false))
}

/// Opts the town in to (or out of) sharing its benchmarks.
pub async fn set_sharing(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    share: bool,
) -> Result<()> {
    require(scope, Permission::Administer)?;
    let before = sharing(scope, tx).await?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO ledger_settings (municipality_id, appropriation_control, share_benchmarks) VALUES ($1, 'warn', $2) \
         ON CONFLICT (municipality_id) DO UPDATE SET share_benchmarks = excluded.share_benchmarks")
        .bind(scope.municipality_id()).bind(share).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        finance_change(
            scope,
            "settings.share_benchmarks",
            "settings",
            scope.municipality_id().as_str(),
            Some(serde_json::json!({"share_benchmarks": before})),
            Some(serde_json::json!({"share_benchmarks": share})),
        ),
    )
    .await?;
    Ok(())
}

/// A town in the comparison.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TownColumn {
    /// Short name.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Population (2018, as the region records it).
    pub population: i64,
    /// Expenditures of the year, cents.
    pub total_cents: i64,
    /// Per resident, cents (rounded half up).
    pub per_capita_cents: i64,
    /// Accounts with spending that a `local` town has not mapped (left out).
    pub unmapped_accounts: u64,
}

/// One UCOA function across the towns.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FunctionRow {
    /// The 2-digit function code.
    pub function: String,
    /// Its name from the catalog (empty when the catalog does not have it).
    pub name: String,
    /// Where the name came from (official, seen in OPM's data, illustrative).
    pub label: String,
    /// Per resident, cents, in the order of the towns.
    pub per_capita_cents: Vec<i64>,
}

/// The comparison for a fiscal year.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Benchmarks {
    /// The year (the year it ends).
    pub fiscal_year: i32,
    /// The towns that share, by name.
    pub towns: Vec<TownColumn>,
    /// Functions with spending in any of them, by code.
    pub functions: Vec<FunctionRow>,
}

/// Cents per resident, rounded half up; 0 for a town without population.
pub fn per_capita(cents: i64, population: i64) -> i64 {
    if population <= 0 {
        return 0;
    }
    let (c, p) = (i128::from(cents), i128::from(population));
    let q = (2 * c.abs() + p) / (2 * p);
    i64::try_from(if c < 0 { -q } else { q }).unwrap_or(i64::MAX)
}

/// The year's expenditures per capita by function of every town that shares,
/// for a user of a town that shares too.
pub async fn regional(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    fy: FiscalYear,
) -> Result<Benchmarks> {
    require(scope, Permission::View)?;
    if !sharing(scope, ex).await? {
        return Err(Error::Forbidden(format!(
            "{} does not share its benchmarks; a finance administrator can opt in on this page to compare with the \
             towns that do.",
            scope.town().name
        )));
    }
    let fy_num = i64::from(fy.end_year());
    let shared: Vec<(String, String, String, i64)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT m.id, m.slug, m.name, m.population FROM ledger_settings s JOIN municipalities m ON m.id = s.municipality_id \
         WHERE s.share_benchmarks AND m.active ORDER BY m.name").fetch_all(c).await)?;
    let mut towns = Vec::new();
    // function → per-town cents
    let mut by_function: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (i, (id, slug, name, population)) in shared.into_iter().enumerate() {
        let m: MunicipalityId = id.parse()?;
        let spent: Vec<(String, String, i64)> = dispatch!(ex, c => sqlx::query_as(
            "SELECT a.id, a.account, CAST(SUM(b.debit_cents - b.credit_cents) AS BIGINT) FROM ledger_balances b \
             JOIN ledger_accounts a ON a.municipality_id = b.municipality_id AND a.id = b.account_id \
             WHERE b.municipality_id = $1 AND b.fiscal_year = $2 AND b.period BETWEEN 1 AND 13 AND a.class = 'expenditure' \
             GROUP BY a.id, a.account")
            .bind(&m).bind(fy_num).fetch_all(c).await)?;
        let map = crate::ucoa::crosswalk_map(ex, &m, fy).await?;
        let (mut total, mut unmapped) = (0i64, 0u64);
        for (account_id, account, cents) in spent {
            let uniform = match &map {
                None => Some(account),
                Some(map) => map.get(&account_id).cloned(),
            };
            let Some(uniform) = uniform.and_then(|u| AccountString::parse("account", &u).ok())
            else {
                if cents != 0 {
                    unmapped += 1;
                }
                continue;
            };
            // Objects 9xxxx are transfers out (other financing uses), which
            // OPM's fiscal indicators keep out of expenditures; counting them
            // would count a town's education twice, once as its transfer to
            // the board of education and again as the board's spending.
            if Segment::Object.of(&uniform).starts_with('9') {
                continue;
            }
            let function = Segment::Function.of(&uniform);
            total += cents;
            let row = by_function.entry(function).or_default();
            row.resize(i + 1, 0);
            row[i] += cents;
        }
        towns.push(TownColumn {
            slug,
            name,
            population,
            total_cents: total,
            per_capita_cents: per_capita(total, population),
            unmapped_accounts: unmapped,
        });
    }
    let catalog: HashMap<String, crate::ucoa::CatalogCode> = crate::ucoa::catalog(ex)
        .await?
        .into_iter()
        .filter(|c| c.segment == "function")
        .map(|c| (c.code.clone(), c))
        .collect();
    let functions = by_function
        .into_iter()
        .map(|(function, mut cents)| {
            cents.resize(towns.len(), 0);
            let known = catalog.get(&function);
            FunctionRow {
                name: known.map(|c| c.name.clone()).unwrap_or_default(),
                label: known.map_or("not in the catalog", |c| c.label()).to_owned(),
                per_capita_cents: cents
                    .iter()
                    .zip(&towns)
                    .map(|(c, t)| per_capita(*c, t.population))
                    .collect(),
                function,
            }
        })
        .collect();
    Ok(Benchmarks {
        fiscal_year: fy.end_year(),
        towns,
        functions,
    })
}

#[cfg(test)]
mod tests {
    use super::per_capita;

    #[test]
    fn per_capita_rounds_half_up_to_the_cent() {
        assert_eq!(per_capita(1_000, 3), 333); // 333.33…
        assert_eq!(per_capita(1_000, 6), 167); // 166.66…
        assert_eq!(per_capita(5, 2), 3); // 2.5 → 3
        assert_eq!(per_capita(-5, 2), -3);
        assert_eq!(per_capita(100, 0), 0);
        // Hartford-sized: $600,000,000.00 over 122,587 residents = $4,894.48 (489,448.31… cents).
        assert_eq!(per_capita(60_000_000_000, 122_587), 489_448);
    }
}
