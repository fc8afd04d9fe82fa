//! Finance demo data: for each demo town that subscribes to finance, a general
//! fund, a small chart of accounts, the current fiscal year, an adopted budget
//! and the completed months' activity — all scaled to the town's real FY2018
//! figures from OPM's fiscal indicators (embedded in the platform's seed).
//!
//! Codes marked "illustrative" in account names were not read from OPM's
//! official UCOA list, which is not public in machine-readable form.

use munishare_platform::access;
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Permission, Service, Timestamp};
use munishare_platform::{Db, Error, Result, demo, identity};
use time::Date;

use crate::budget;
use crate::domain::{AccountString, FundType, PeriodStatus};
use crate::service::{self, NewEntry, NewLine};

/// The demo towns with books, and the user who keeps them.
pub const BOOKKEEPERS: [(&str, &str); 2] = [
    ("hartford", "townadmin.hartford"),
    ("west-hartford", "townadmin.west-hartford"),
];

const CASH: &str = "1005-00-0000-00000-10100-000";
const TAXES: &str = "1005-00-0000-00000-41000-000";
const IGR: &str = "1005-00-0000-00000-43000-000";
const EXECUTIVE: &str = "1005-41-4107-00000-51000-000";
const POLICE_WAGES: &str = "1005-42-4201-00000-51000-000";
const POLICE_BENEFITS: &str = "1005-42-4201-00000-52000-000";
const FIRE: &str = "1005-42-4203-00000-50000-000";
const EDUCATION: &str = "1005-45-4500-00000-50000-000";
const DEBT: &str = "1005-47-4700-00000-50000-000";

const CHART: [(&str, &str); 9] = [
    (CASH, "Cash and equivalents"),
    (TAXES, "Property taxes (illustrative code)"),
    (IGR, "Intergovernmental revenues"),
    (EXECUTIVE, "Executive — wages"),
    (POLICE_WAGES, "Police — wages"),
    (POLICE_BENEFITS, "Police — employee benefits"),
    (FIRE, "Fire — expenditures"),
    (
        EDUCATION,
        "Education — transfer to the board of education (illustrative code)",
    ),
    (DEBT, "Debt service (illustrative code)"),
];

/// The demo budget of a town, in cents: FY2018 revenues and expenditures,
/// with expenditures other than education and debt service split 10 % executive,
/// 35 % police wages, 15 % police benefits and the rest fire.
pub fn budget_lines(f: &demo::TownFacts) -> Vec<(&'static str, i64)> {
    let c = |dollars: i64| dollars.saturating_mul(100);
    let other = c(f.total_expenditures_2018 - f.education_2018 - f.debt_service_2018).max(0);
    let executive = other / 10;
    let wages = other * 35 / 100;
    let benefits = other * 15 / 100;
    vec![
        (TAXES, c(f.tax_revenue_2018)),
        (IGR, c(f.intergovernmental_revenue_2018)),
        (EXECUTIVE, executive),
        (POLICE_WAGES, wages),
        (POLICE_BENEFITS, benefits),
        (FIRE, other - executive - wages - benefits),
        (EDUCATION, c(f.education_2018)),
        (DEBT, c(f.debt_service_2018)),
    ]
}

fn last_day_of_period(fy: FiscalYear, period: u8) -> Date {
    let month = time::Month::July.nth_next(period.saturating_sub(1));
    let year = if u8::from(month) >= 7 {
        fy.end_year() - 1
    } else {
        fy.end_year()
    };
    Date::from_calendar_date(year, month, month.length(year)).unwrap_or(fy.end())
}

/// Seeds finance for the demo towns that subscribe to it today; returns their short names.
pub async fn seed(db: &Db, now: Timestamp) -> Result<Vec<&'static str>> {
    let today = now.datetime().date();
    let facts = demo::crcog_towns()?;
    let mut seeded = Vec::new();
    for (slug, keeper) in BOOKKEEPERS {
        let mut c = db.read().await?;
        let Some(user) = identity::user_by_username(&mut c, keeper).await? else {
            continue;
        };
        drop(c);
        let principal = identity::principal_for_user(&user);
        let scope = match access::authorize_service(
            db,
            &principal,
            today,
            slug,
            Service::Finance,
            Permission::Administer,
        )
        .await
        {
            Ok(s) => s,
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let f = facts
            .iter()
            .find(|t| t.slug == slug)
            .ok_or_else(|| Error::Internal(format!("no facts for {slug}")))?;
        let fy = FiscalYear::containing(today);
        let mut tx = db.begin().await?;
        service::create_fund(
            &scope,
            &mut tx,
            now,
            EntityKind::TownGovernment,
            "1005",
            "General Fund",
            FundType::General,
        )
        .await?;
        for (account, name) in CHART {
            service::create_account(
                &scope,
                &mut tx,
                now,
                EntityKind::TownGovernment,
                &AccountString::parse("account", account)?,
                name,
            )
            .await?;
        }
        service::open_fiscal_year(&scope, &mut tx, now, EntityKind::TownGovernment, fy).await?;
        // The demo towns compare themselves on the regional benchmarks page.
        crate::benchmarks::set_sharing(&scope, &mut tx, now, true).await?;
        let lines = budget_lines(f);
        let adopted: Vec<(String, Money)> = lines
            .iter()
            .map(|(a, c)| ((*a).to_owned(), Money::from_cents(*c)))
            .collect();
        budget::adopt(
            &scope,
            &mut tx,
            now,
            EntityKind::TownGovernment,
            fy,
            &adopted,
        )
        .await?;
        // One summary entry per completed month: a twelfth of each expenditure
        // budget paid from cash; half the tax levy collected in July (the
        // first installment is due July 1), 1 % in later months; a twelfth of
        // intergovernmental revenue each month.
        for period in 1..FiscalYear::period_of(today) {
            let mut entry_lines = Vec::new();
            let mut paid = 0i64;
            let mut received = 0i64;
            for (account, cents) in &lines {
                let amount = match *account {
                    TAXES => {
                        if period == 1 {
                            cents / 2
                        } else {
                            cents / 100
                        }
                    }
                    _ => cents / 12,
                };
                if amount == 0 {
                    continue;
                }
                let is_revenue = *account == TAXES || *account == IGR;
                if is_revenue {
                    received += amount;
                    entry_lines.push(NewLine {
                        account: (*account).into(),
                        debit: Money::ZERO,
                        credit: Money::from_cents(amount),
                        memo: String::new(),
                    });
                } else {
                    paid += amount;
                    entry_lines.push(NewLine {
                        account: (*account).into(),
                        debit: Money::from_cents(amount),
                        credit: Money::ZERO,
                        memo: String::new(),
                    });
                }
            }
            entry_lines.push(NewLine {
                account: CASH.into(),
                debit: Money::from_cents(received),
                credit: Money::ZERO,
                memo: "receipts".into(),
            });
            entry_lines.push(NewLine {
                account: CASH.into(),
                debit: Money::ZERO,
                credit: Money::from_cents(paid),
                memo: "disbursements".into(),
            });
            let date = last_day_of_period(fy, period);
            let new = NewEntry {
                entity: EntityKind::TownGovernment,
                date,
                adjustment: false,
                description: format!(
                    "Month-end summary of receipts and disbursements, {}",
                    munishare_platform::types::format_date(date)
                ),
                lines: entry_lines,
            };
            let (draft, _) = service::create_draft(&scope, &mut tx, now, &new).await?;
            service::post_entry(&scope, &mut tx, now, &draft.id).await?;
        }
        // Close the months before the last completed one, as a finance office would.
        for period in 1..FiscalYear::period_of(today).saturating_sub(1) {
            service::set_period_status(
                &scope,
                &mut tx,
                now,
                EntityKind::TownGovernment,
                fy,
                i64::from(period),
                PeriodStatus::Closed,
            )
            .await?;
        }
        tx.commit().await?;
        seeded.push(slug);
    }
    Ok(seeded)
}
