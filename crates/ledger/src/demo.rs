//! Finance demo data: books for every demo town that subscribes to finance,
//! scaled to the town's real FY2018 figures from OPM's fiscal indicators
//! (embedded in the platform's seed, `TownFacts`).
//!
//! Each town gets two sets of books — the town government and the board of
//! education — each with a general fund on a local chart (the town's own
//! department and object codes, in the UCOA segment format), a versioned
//! crosswalk mapping every local account to a uniform account, an adopted
//! budget for the prior and the current fiscal year, a full prior year of
//! activity closed by the year-end close, and the current year's completed
//! months. The activity goes through the same service functions a finance
//! office uses: payroll journal entries, cash receipts, purchase orders,
//! invoices approved against them, monthly payment runs, the town's quarterly
//! transfer to the board of education. The seed acts as the system
//! (`platform::demo::seed_scope`, audited as `system:demo-seed`), so no town
//! needs a demo user.
//!
//! Uniform codes that OPM's published data does not show are named
//! "illustrative" in the account names, as in the UCOA catalog.
//!
//! The books start in the prior year with no opening balances: the seed
//! carries no balance-sheet figures, so fund balance is what two years of
//! budget-sized activity leave.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::Tx;
use munishare_platform::demo::{self, TownFacts};
use munishare_platform::tenancy::EntityKind;
use munishare_platform::types::{FiscalYear, Money, Service, Timestamp};
use munishare_platform::{Db, Error, Result};
use time::{Date, Month};

use crate::domain::{AccountString, FundType, PeriodStatus};
use crate::payables::{self, NewInvoice};
use crate::purchasing::{self, NewPurchaseOrder};
use crate::receipts::{self, NewReceipt};
use crate::service::{self, NewEntry, NewLine};
use crate::{budget, close, ucoa};

/// Towns that keep their benchmarks to themselves in the demo, to show opting out.
pub const BENCHMARK_OPT_OUTS: [&str; 2] = ["andover", "willington"];

/// How a line of a department's budget is spent through the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spending {
    /// Wages and benefits: one payroll journal entry a month.
    Payroll,
    /// Professional services: a blanket purchase order in July, invoiced monthly.
    Blanket,
    /// Supplies: a standing order each quarter, invoiced monthly.
    Monthly,
    /// Utilities: an invoice each month without an order.
    Utility,
}

/// A department of the local chart and the uniform department it maps to.
struct Department {
    function: &'static str,
    local: &'static str,
    uniform: &'static str,
    name: &'static str,
    /// Share of the entity's operating budget, per mille.
    per_mille: i64,
    /// Whether OPM's published data shows the uniform department code.
    observed: bool,
}

const fn dept(
    function: &'static str,
    local: &'static str,
    uniform: &'static str,
    name: &'static str,
    per_mille: i64,
    observed: bool,
) -> Department {
    Department {
        function,
        local,
        uniform,
        name,
        per_mille,
        observed,
    }
}

/// The town government's departments; their shares of the budget other than
/// education and debt service add up to 1000.
const TOWN_DEPARTMENTS: [Department; 8] = [
    dept("41", "0110", "4107", "Town Manager", 50, true),
    dept("41", "0130", "4104", "Finance and Assessment", 60, false),
    dept("41", "0150", "4106", "Town Clerk", 20, false),
    dept("42", "0210", "4201", "Police", 320, true),
    dept("42", "0220", "4203", "Fire", 200, true),
    dept("42", "0230", "4299", "Emergency Communications", 40, true),
    dept("43", "0310", "4301", "Public Works — Highway", 200, false),
    dept("46", "0610", "4601", "Library", 110, false),
];

/// The board of education's departments (function 45), sharing its whole budget.
const BOE_DEPARTMENTS: [Department; 6] = [
    dept("45", "1000", "4510", "Regular Instruction", 550, false),
    dept("45", "1200", "4512", "Special Education", 200, false),
    dept("45", "2100", "4521", "Pupil Services", 50, false),
    dept("45", "2500", "4525", "Central Administration", 60, false),
    dept("45", "2600", "4526", "Operation of Plant", 90, false),
    dept("45", "2700", "4527", "Student Transportation", 50, false),
];

/// (local object, uniform object, name, share of a department's budget per
/// mille, how it is spent). Uniform 51000 and 52000 are observed in OPM's
/// data; the others are illustrative.
const OBJECTS: [(&str, &str, &str, i64, Spending); 5] = [
    ("51110", "51000", "regular salaries", 550, Spending::Payroll),
    (
        "52100",
        "52000",
        "health insurance and benefits",
        200,
        Spending::Payroll,
    ),
    (
        "53000",
        "53000",
        "professional services",
        100,
        Spending::Blanket,
    ),
    ("56100", "56100", "supplies", 100, Spending::Monthly),
    ("56210", "56200", "utilities", 50, Spending::Utility),
];

/// The local fund code of each entity's general fund (uniform fund 1005).
const TOWN_FUND: &str = "0100";
const BOE_FUND: &str = "0200";
const UNIFORM_FUND: &str = "1005";

/// One account of a demo chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartAccount {
    /// The local account string.
    pub account: String,
    /// Its name.
    pub name: String,
    /// The uniform account the crosswalk maps it to.
    pub uniform: String,
    /// How an expenditure account is spent (none for other accounts).
    pub spending: Option<Spending>,
    /// Adopted budget, cents (revenue and expenditure accounts).
    pub budget_cents: i64,
}

/// One entity's demo books: its fund and chart with the budget.
#[derive(Debug, Clone)]
pub struct DemoBooks {
    /// Whose books.
    pub entity: EntityKind,
    /// The local fund code.
    pub fund: &'static str,
    /// The fund's name.
    pub fund_name: &'static str,
    /// The chart, balance-sheet accounts first.
    pub accounts: Vec<ChartAccount>,
}

impl DemoBooks {
    fn local(&self, function: &str, dept: &str, object: &str) -> String {
        format!("{}-{function}-{dept}-00000-{object}-000", self.fund)
    }
    /// The cash account (object 10100, which payment runs credit).
    pub fn cash(&self) -> String {
        self.local("00", "0000", "10100")
    }
    fn account(&self, object: &str) -> Option<&ChartAccount> {
        self.accounts
            .iter()
            .find(|a| a.account.get(19..24) == Some(object))
    }
    fn spent(&self, how: Spending) -> impl Iterator<Item = &ChartAccount> {
        self.accounts
            .iter()
            .filter(move |a| a.spending == Some(how) && a.budget_cents > 0)
    }
    /// The adopted budget: (account, cents) of every revenue and expenditure account.
    pub fn budget(&self) -> Vec<(String, Money)> {
        self.accounts
            .iter()
            .filter(|a| a.budget_cents > 0)
            .map(|a| (a.account.clone(), Money::from_cents(a.budget_cents)))
            .collect()
    }
}

/// Splits `total` in proportion to `weights`; the last part takes the
/// rounding, so the parts add up to `total` exactly (integer cents only).
fn split(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i64 = weights.iter().sum::<i64>().max(1);
    let mut parts: Vec<i64> = weights.iter().map(|w| total * w / sum).collect();
    let taken: i64 = parts.iter().sum();
    if let Some(last) = parts.last_mut() {
        *last += total - taken;
    }
    parts
}

/// A month's share of `total` by weights per period (July = 1); June takes
/// the rounding, so the twelve months add up to `total`.
fn in_month(total: i64, weights: &[i64; 12], period: u8) -> i64 {
    let i = usize::from(period.clamp(1, 12)) - 1;
    split(total, weights).get(i).copied().unwrap_or(0)
}

/// A twelfth each month.
const EVEN: [i64; 12] = [1; 12];
/// The town's appropriation reaches the board quarterly, in July, October, January and April.
const QUARTERS: [i64; 12] = [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0];
/// Property taxes: installments due July 1 and January 1, a trickle of late
/// payments in the other months.
const TAX_MONTHS: [i64; 12] = [450, 10, 10, 10, 10, 10, 450, 10, 10, 10, 10, 10];
/// Education Cost Sharing: paid in October, January and April (CGS 10-262i).
const ECS_MONTHS: [i64; 12] = [0, 0, 0, 250, 0, 0, 250, 0, 0, 500, 0, 0];
/// Bond principal and interest: due in August and February.
const DEBT_MONTHS: [i64; 12] = [0, 500, 0, 0, 0, 0, 0, 500, 0, 0, 0, 0];

fn dollars(d: i64) -> i64 {
    d.saturating_mul(100)
}

fn expenditure_accounts(books: &mut DemoBooks, departments: &[Department], operating_cents: i64) {
    let shares: Vec<i64> = departments.iter().map(|d| d.per_mille).collect();
    let weights: Vec<i64> = OBJECTS.iter().map(|o| o.3).collect();
    for (d, dept_cents) in departments.iter().zip(split(operating_cents, &shares)) {
        for ((object, uniform_object, what, _, how), cents) in
            OBJECTS.iter().zip(split(dept_cents, &weights))
        {
            let observed = d.observed && matches!(*uniform_object, "51000" | "52000");
            books.accounts.push(ChartAccount {
                account: books.local(d.function, d.local, object),
                name: format!(
                    "{} — {what}{}",
                    d.name,
                    if observed {
                        ""
                    } else {
                        " (illustrative UCOA code)"
                    }
                ),
                uniform: format!(
                    "{UNIFORM_FUND}-{}-{}-00000-{uniform_object}-000",
                    d.function, d.uniform
                ),
                spending: Some(*how),
                budget_cents: cents,
            });
        }
    }
}

fn balance_sheet(books: &mut DemoBooks) {
    for (object, name) in [
        ("10100", "Cash and equivalents"),
        ("20100", "Accounts payable"),
        ("30100", "Unassigned fund balance (GASB 54)"),
    ] {
        books.accounts.push(ChartAccount {
            account: books.local("00", "0000", object),
            name: format!("{name} (illustrative UCOA code)"),
            uniform: format!("{UNIFORM_FUND}-00-0000-00000-{object}-000"),
            spending: None,
            budget_cents: 0,
        });
    }
}

/// The town government's books: revenues are the FY2018 total revenue
/// (property taxes, intergovernmental, and the rest as charges and other
/// revenue); expenditures are the FY2018 total — education as the transfer
/// to the board of education, debt service, and the rest split across
/// departments.
pub fn town_books(f: &TownFacts) -> DemoBooks {
    let mut b = DemoBooks {
        entity: EntityKind::TownGovernment,
        fund: TOWN_FUND,
        fund_name: "General Fund",
        accounts: Vec::new(),
    };
    balance_sheet(&mut b);
    let tax = dollars(f.tax_revenue_2018);
    let igr = dollars(f.intergovernmental_revenue_2018);
    let other_revenue = (dollars(f.total_revenue_2018) - tax - igr).max(0);
    let [taxes, interest] = [tax * 99 / 100, tax - tax * 99 / 100];
    let [ecs, grants] = [igr * 3 / 4, igr - igr * 3 / 4];
    let edu = dollars(f.education_2018);
    let debt = dollars(f.debt_service_2018);
    let [principal, debt_interest] = [debt * 7 / 10, debt - debt * 7 / 10];
    let revenues: [(&str, &str, &str, i64); 5] = [
        ("41010", "41000", "Property taxes, current levy", taxes),
        (
            "41030",
            "41000",
            "Interest and lien fees on taxes",
            interest,
        ),
        ("43010", "43000", "Education Cost Sharing grant", ecs),
        ("43090", "43000", "Other state and federal grants", grants),
        (
            "44010",
            "44000",
            "Licenses, permits and charges for services",
            other_revenue,
        ),
    ];
    for (object, uniform, name, cents) in revenues {
        let observed = uniform == "43000";
        b.accounts.push(ChartAccount {
            account: b.local("00", "0000", object),
            name: if observed {
                name.to_owned()
            } else {
                format!("{name} (illustrative UCOA code)")
            },
            uniform: format!("{UNIFORM_FUND}-00-0000-00000-{uniform}-000"),
            spending: None,
            budget_cents: cents,
        });
    }
    for (dept, object, uniform, name, cents) in [
        (
            "0910",
            "91000",
            "45-4500-00000-91000",
            "Transfer to the board of education (illustrative UCOA code)",
            edu,
        ),
        (
            "0710",
            "57100",
            "47-4700-00000-57100",
            "Debt service — bond principal (illustrative UCOA code)",
            principal,
        ),
        (
            "0710",
            "57200",
            "47-4700-00000-57200",
            "Debt service — bond interest (illustrative UCOA code)",
            debt_interest,
        ),
    ] {
        b.accounts.push(ChartAccount {
            account: b.local(&uniform[..2], dept, object),
            name: name.to_owned(),
            uniform: format!("{UNIFORM_FUND}-{uniform}-000"),
            spending: None,
            budget_cents: cents,
        });
    }
    let operating = (dollars(f.total_expenditures_2018) - edu - debt).max(0);
    expenditure_accounts(&mut b, &TOWN_DEPARTMENTS, operating);
    b
}

/// The board of education's books: the town's transfer (the FY2018
/// education expenditure) is its revenue, spent across its departments.
pub fn boe_books(f: &TownFacts) -> DemoBooks {
    let mut b = DemoBooks {
        entity: EntityKind::BoardOfEducation,
        fund: BOE_FUND,
        fund_name: "Board of Education Operating Fund",
        accounts: Vec::new(),
    };
    balance_sheet(&mut b);
    let edu = dollars(f.education_2018);
    b.accounts.push(ChartAccount {
        account: b.local("00", "0000", "49100"),
        name: "Town appropriation — transfer from the general fund (illustrative UCOA code)".into(),
        uniform: format!("{UNIFORM_FUND}-00-0000-00000-49000-000"),
        spending: None,
        budget_cents: edu,
    });
    expenditure_accounts(&mut b, &BOE_DEPARTMENTS, edu);
    b
}

fn month_day(fy: FiscalYear, period: u8, day: u8) -> Date {
    let month = Month::July.nth_next(period.saturating_sub(1));
    let year = if u8::from(month) >= 7 {
        fy.end_year() - 1
    } else {
        fy.end_year()
    };
    let day = day.min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(fy.end())
}

fn month_end(fy: FiscalYear, period: u8) -> Date {
    month_day(fy, period, 31)
}

fn month_name(fy: FiscalYear, period: u8) -> String {
    let d = month_day(fy, period, 1);
    format!("{} {}", d.month(), d.year())
}

fn debit(account: &str, cents: i64, memo: &str) -> NewLine {
    NewLine {
        account: account.to_owned(),
        debit: Money::from_cents(cents),
        credit: Money::ZERO,
        memo: memo.to_owned(),
    }
}

fn credit(account: &str, cents: i64, memo: &str) -> NewLine {
    NewLine {
        account: account.to_owned(),
        debit: Money::ZERO,
        credit: Money::from_cents(cents),
        memo: memo.to_owned(),
    }
}

/// Drafts and posts a journal entry, skipping it when it moves nothing.
async fn post(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    date: Date,
    description: String,
    lines: Vec<NewLine>,
) -> Result<()> {
    let lines: Vec<NewLine> = lines
        .into_iter()
        .filter(|l| l.debit.cents() != 0 || l.credit.cents() != 0)
        .collect();
    if lines.len() < 2 {
        return Ok(());
    }
    let new = NewEntry {
        entity,
        date,
        adjustment: false,
        description,
        lines,
    };
    let (draft, _) = service::create_draft(scope, tx, now, &new).await?;
    service::post_entry(scope, tx, now, &draft.id).await?;
    Ok(())
}

/// Records a cash receipt and posts its entry; nothing when every line is zero.
async fn receive(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    mut new: NewReceipt,
) -> Result<()> {
    new.lines.retain(|(_, m)| m.cents() > 0);
    if new.lines.is_empty() {
        return Ok(());
    }
    let r = receipts::record(scope, tx, now, &new).await?;
    service::post_entry(scope, tx, now, &r.entry_id).await?;
    Ok(())
}

/// The town's vendors: (name, remit-to, receives a 1099).
const VENDORS: [(&str, &str, bool); 3] = [
    (
        "Charter Oak Professional Services LLC",
        "100 Pearl Street, Hartford, CT 06103",
        true,
    ),
    (
        "Nutmeg Office and School Supply Co.",
        "25 Industrial Park Road, Newington, CT 06111",
        false,
    ),
    (
        "Central Connecticut Energy Co.",
        "PO Box 2700, Berlin, CT 06037",
        false,
    ),
];

struct Vendors {
    services: String,
    supplies: String,
    energy: String,
}

/// What one fiscal year of an entity's books does.
struct Year {
    fy: FiscalYear,
    /// Months with activity (1 = July).
    months: u8,
    /// Whether the year is over (closed afterwards); otherwise the last
    /// month's supplies order is half invoiced and its invoices left unpaid.
    complete: bool,
}

/// One year of one entity's activity.
async fn seed_year(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    books: &DemoBooks,
    vendors: &Vendors,
    year: &Year,
) -> Result<()> {
    let fy = year.fy;
    let entity = books.entity;
    let cash = books.cash();
    let tag = match entity {
        EntityKind::TownGovernment => "T",
        EntityKind::BoardOfEducation => "B",
    };
    let amount =
        |a: &ChartAccount, weights: &[i64; 12], p: u8| in_month(a.budget_cents, weights, p);
    let mut blanket: Option<String> = None;
    let mut supplies: Option<String> = None;
    for p in 1..=year.months {
        let month = month_name(fy, p);
        let last = p == year.months && !year.complete;
        // Revenue.
        match entity {
            EntityKind::TownGovernment => {
                let pick = |o: &str, w: &[i64; 12]| {
                    books
                        .account(o)
                        .map(|a| {
                            (
                                a.account.clone(),
                                Money::from_cents(in_month(a.budget_cents, w, p)),
                            )
                        })
                        .unwrap_or_else(|| (String::new(), Money::ZERO))
                };
                // The collector's deposits (taxes with interest, and the
                // departments' fees), and the state's grant payments.
                receive(
                    scope,
                    tx,
                    now,
                    NewReceipt {
                        entity,
                        date: month_day(fy, p, 20),
                        payer: "Tax collector and town departments".into(),
                        description: format!(
                            "Property taxes, interest and departmental fees, {month}"
                        ),
                        deposit_account: cash.clone(),
                        lines: vec![
                            pick("41010", &TAX_MONTHS),
                            pick("41030", &TAX_MONTHS),
                            pick("44010", &EVEN),
                        ],
                    },
                )
                .await?;
                receive(
                    scope,
                    tx,
                    now,
                    NewReceipt {
                        entity,
                        date: month_day(fy, p, 25),
                        payer: "State of Connecticut".into(),
                        description: format!("State and federal grants, {month}"),
                        deposit_account: cash.clone(),
                        lines: vec![pick("43010", &ECS_MONTHS), pick("43090", &EVEN)],
                    },
                )
                .await?;
                if let Some(t) = books.account("91000") {
                    let c = amount(t, &QUARTERS, p);
                    post(
                        scope,
                        tx,
                        now,
                        entity,
                        month_day(fy, p, 5),
                        format!("Quarterly transfer to the board of education, {month}"),
                        vec![debit(&t.account, c, ""), credit(&cash, c, "")],
                    )
                    .await?;
                }
                let debt: Vec<(String, i64)> = ["57100", "57200"]
                    .iter()
                    .filter_map(|o| books.account(o))
                    .map(|a| (a.account.clone(), amount(a, &DEBT_MONTHS, p)))
                    .collect();
                let paid: i64 = debt.iter().map(|(_, c)| c).sum();
                let mut lines: Vec<NewLine> = debt.iter().map(|(a, c)| debit(a, *c, "")).collect();
                lines.push(credit(&cash, paid, "paying agent"));
                post(
                    scope,
                    tx,
                    now,
                    entity,
                    month_day(fy, p, 15),
                    format!("Bond principal and interest, {month}"),
                    lines,
                )
                .await?;
            }
            EntityKind::BoardOfEducation => {
                if let Some(t) = books.account("49100") {
                    let c = amount(t, &QUARTERS, p);
                    post(
                        scope,
                        tx,
                        now,
                        entity,
                        month_day(fy, p, 5),
                        format!("Quarterly town appropriation received, {month}"),
                        vec![debit(&cash, c, ""), credit(&t.account, c, "")],
                    )
                    .await?;
                }
            }
        }
        // Payroll: wages and benefits, a twelfth each month.
        let mut lines: Vec<NewLine> = books
            .spent(Spending::Payroll)
            .map(|a| debit(&a.account, amount(a, &EVEN, p), ""))
            .collect();
        let total: i64 = lines.iter().map(|l| l.debit.cents()).sum();
        lines.push(credit(&cash, total, "net pay and withholdings"));
        post(
            scope,
            tx,
            now,
            entity,
            month_end(fy, p),
            format!("Payroll and benefits, {month}"),
            lines,
        )
        .await?;
        // Professional services: a blanket order for the year, invoiced monthly.
        if p == 1 {
            let lines: Vec<(String, Money)> = books
                .spent(Spending::Blanket)
                .map(|a| (a.account.clone(), Money::from_cents(a.budget_cents)))
                .collect();
            if !lines.is_empty() {
                let (po, _) = purchasing::create_po(
                    scope,
                    tx,
                    now,
                    &NewPurchaseOrder {
                        entity,
                        vendor_id: vendors.services.clone(),
                        date: month_day(fy, 1, 1),
                        description: format!("Professional services for {fy} (blanket order)"),
                        lines,
                    },
                )
                .await?;
                purchasing::approve_po(scope, tx, now, &po.id).await?;
                blanket = Some(po.id);
            }
        }
        let services: Vec<(String, Money)> = books
            .spent(Spending::Blanket)
            .map(|a| (a.account.clone(), Money::from_cents(amount(a, &EVEN, p))))
            .filter(|(_, m)| m.cents() > 0)
            .collect();
        let mut billed = invoice(
            scope,
            tx,
            now,
            entity,
            &vendors.services,
            blanket.clone(),
            format!("CO-{}-{tag}{p:02}", fy.end_year()),
            month_day(fy, p, 12),
            format!("Professional services, {month}"),
            services,
        )
        .await?;
        // Supplies: a standing order each quarter, delivered and invoiced
        // monthly; the last delivery of a year is partial (carried forward at
        // the close, or still open in the current year).
        if (p - 1) % 3 == 0 {
            let ordered: Vec<(String, Money)> = books
                .spent(Spending::Monthly)
                .map(|a| {
                    let quarter: i64 = (p..p + 3).map(|q| amount(a, &EVEN, q)).sum();
                    (a.account.clone(), Money::from_cents(quarter))
                })
                .filter(|(_, m)| m.cents() > 0)
                .collect();
            supplies = None;
            if !ordered.is_empty() {
                let (po, _) = purchasing::create_po(
                    scope,
                    tx,
                    now,
                    &NewPurchaseOrder {
                        entity,
                        vendor_id: vendors.supplies.clone(),
                        date: month_day(fy, p, 3),
                        description: format!(
                            "Office, custodial and classroom supplies, quarter from {month}"
                        ),
                        lines: ordered,
                    },
                )
                .await?;
                purchasing::approve_po(scope, tx, now, &po.id).await?;
                supplies = Some(po.id);
            }
        }
        let share = if last {
            500
        } else if p == 12 {
            900
        } else {
            1000
        };
        billed |= invoice(
            scope,
            tx,
            now,
            entity,
            &vendors.supplies,
            supplies.clone(),
            format!("NS-{}-{tag}{p:02}", fy.end_year()),
            month_day(fy, p, 18),
            format!("Supplies delivered, {month}"),
            books
                .spent(Spending::Monthly)
                .map(|a| {
                    (
                        a.account.clone(),
                        Money::from_cents(amount(a, &EVEN, p) * share / 1000),
                    )
                })
                .filter(|(_, m)| m.cents() > 0)
                .collect(),
        )
        .await?;
        // Utilities: billed monthly, no order.
        billed |= invoice(
            scope,
            tx,
            now,
            entity,
            &vendors.energy,
            None,
            format!("CCE-{}-{tag}{p:02}", fy.end_year()),
            month_day(fy, p, 26),
            format!("Electricity and heating, {month}"),
            books
                .spent(Spending::Utility)
                .map(|a| (a.account.clone(), Money::from_cents(amount(a, &EVEN, p))))
                .filter(|(_, m)| m.cents() > 0)
                .collect(),
        )
        .await?;
        // The month's checks, except for the last month of the current
        // year, whose invoices wait for the next run.
        if billed && !last {
            payables::pay_approved(scope, tx, now, entity, month_end(fy, p)).await?;
        }
    }
    Ok(())
}

/// Enters an invoice and approves it; nothing when it has no lines.
#[allow(clippy::too_many_arguments)] // one call site per kind of invoice, each naming every field
async fn invoice(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    entity: EntityKind,
    vendor_id: &str,
    po_id: Option<String>,
    number: String,
    date: Date,
    description: String,
    lines: Vec<(String, Money)>,
) -> Result<bool> {
    if lines.is_empty() {
        return Ok(false);
    }
    let inv = payables::enter_invoice(
        scope,
        tx,
        now,
        &NewInvoice {
            entity,
            vendor_id: vendor_id.to_owned(),
            po_id,
            number,
            date,
            description,
            lines,
        },
    )
    .await?;
    payables::approve_invoice(scope, tx, now, &inv.id).await?;
    Ok(true)
}

/// Sets up one entity's books: fund, chart, both years and their budgets.
async fn set_up_books(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    books: &DemoBooks,
    years: [FiscalYear; 2],
) -> Result<Vec<(String, String)>> {
    service::create_fund(
        scope,
        tx,
        now,
        books.entity,
        books.fund,
        books.fund_name,
        FundType::General,
    )
    .await?;
    let mut crosswalk = Vec::with_capacity(books.accounts.len());
    for a in &books.accounts {
        let created = service::create_account(
            scope,
            tx,
            now,
            books.entity,
            &AccountString::parse("account", &a.account)?,
            &a.name,
        )
        .await?;
        crosswalk.push((created.id, a.uniform.clone()));
    }
    let budget = books.budget();
    for fy in years {
        service::open_fiscal_year(scope, tx, now, books.entity, fy).await?;
        budget::adopt(scope, tx, now, books.entity, fy, &budget).await?;
    }
    Ok(crosswalk)
}

/// Seeds one town's finance in the caller's transaction.
async fn seed_town(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    facts: &TownFacts,
) -> Result<()> {
    let today = now.datetime().date();
    let current = FiscalYear::containing(today);
    let prior = FiscalYear::ending("fiscal_year", current.end_year() - 1)?;
    let all_books = [town_books(facts), boe_books(facts)];
    let mut crosswalk = Vec::new();
    for books in &all_books {
        crosswalk.extend(set_up_books(scope, tx, now, books, [prior, current]).await?);
    }
    ucoa::set_chart_mode(scope, tx, now, ucoa::ChartMode::Local).await?;
    crosswalk.sort();
    ucoa::insert_version(scope, tx, now, prior, &crosswalk).await?;
    crate::benchmarks::set_sharing(
        scope,
        tx,
        now,
        !BENCHMARK_OPT_OUTS.contains(&facts.slug.as_str()),
    )
    .await?;
    let mut ids = Vec::new();
    for (name, remit_to, is_1099) in VENDORS {
        ids.push(
            purchasing::create_vendor(scope, tx, now, name, remit_to, is_1099)
                .await?
                .id,
        );
    }
    let [services, supplies, energy]: [String; 3] = ids
        .try_into()
        .map_err(|_| Error::Internal("three demo vendors".into()))?;
    let vendors = Vendors {
        services,
        supplies,
        energy,
    };
    let completed = FiscalYear::period_of(today).saturating_sub(1);
    for books in &all_books {
        let entity = books.entity;
        seed_year(
            scope,
            tx,
            now,
            books,
            &vendors,
            &Year {
                fy: prior,
                months: 12,
                complete: true,
            },
        )
        .await?;
        for period in 1..=12 {
            service::set_period_status(scope, tx, now, entity, prior, period, PeriodStatus::Closed)
                .await?;
        }
        close::close_year(scope, tx, now, entity, prior).await?;
        seed_year(
            scope,
            tx,
            now,
            books,
            &vendors,
            &Year {
                fy: current,
                months: completed,
                complete: false,
            },
        )
        .await?;
        // Close the months before the last completed one, as a finance office would.
        for period in 1..i64::from(completed) {
            service::set_period_status(
                scope,
                tx,
                now,
                entity,
                current,
                period,
                PeriodStatus::Closed,
            )
            .await?;
        }
    }
    Ok(())
}

/// Seeds finance for every demo town that subscribes to it today, one
/// transaction per town; returns their short names. Run it once, right
/// after `platform::demo::seed`.
pub async fn seed(db: &Db, now: Timestamp) -> Result<Vec<String>> {
    let today = now.datetime().date();
    let mut seeded = Vec::new();
    for facts in demo::crcog_towns()? {
        let scope = match demo::seed_scope(db, today, &facts.slug, Service::Finance).await {
            Ok(s) => s,
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let mut tx = db.begin().await?;
        seed_town(&scope, &mut tx, now, &facts).await?;
        tx.commit().await?;
        seeded.push(facts.slug);
    }
    Ok(seeded)
}
