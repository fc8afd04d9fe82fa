//! The ledger's rules, in plain Rust.

use std::collections::BTreeMap;
use std::fmt;

use munishare_platform::types::Money;
use munishare_platform::{Error, Result};
use serde::Serialize;

/// An account string on the UCOA layout `FFFF-NN-DDDD-SSSSS-OOOOO-PPP`:
/// fund (4 digits), function (2), department (4), sub-department (5),
/// object (5), project (3), as OPM publishes it (e.g. `1005-42-4201-00000-52000-000`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct AccountString {
    segments: [String; 6],
}

/// Segment names and lengths, in order.
pub const SEGMENTS: [(&str, usize); 6] = [
    ("fund", 4),
    ("function", 2),
    ("department", 4),
    ("sub-department", 5),
    ("object", 5),
    ("project", 3),
];

impl AccountString {
    /// Parses an account string, naming `field` and the bad segment in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.trim().split('-').collect();
        if parts.len() != SEGMENTS.len() {
            return Err(Error::invalid(
                field,
                format!(
                    "'{}' has {} segments; write FFFF-NN-DDDD-SSSSS-OOOOO-PPP, e.g. 1005-42-4201-00000-52000-000",
                    s.trim(),
                    parts.len()
                ),
            ));
        }
        let mut segments: [String; 6] = Default::default();
        for (i, ((name, len), part)) in SEGMENTS.iter().zip(&parts).enumerate() {
            if part.len() != *len || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    field,
                    format!("the {name} segment '{part}' must be {len} digits"),
                ));
            }
            segments[i] = (*part).to_owned();
        }
        Ok(Self { segments })
    }

    /// The fund code (first segment).
    pub fn fund(&self) -> &str {
        &self.segments[0]
    }
    /// The function code.
    pub fn function(&self) -> &str {
        &self.segments[1]
    }
    /// The object code.
    pub fn object(&self) -> &str {
        &self.segments[4]
    }

    /// The account's class, from the object's first digit.
    pub fn class(&self) -> Result<AccountClass> {
        AccountClass::from_object(self.object())
    }
}

impl fmt::Display for AccountString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("-"))
    }
}

impl From<AccountString> for String {
    fn from(a: AccountString) -> String {
        a.to_string()
    }
}

/// What kind of account: decides its normal balance and the statement it feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountClass {
    /// Objects 1xxxx.
    Asset,
    /// Objects 2xxxx.
    Liability,
    /// Objects 3xxxx (GASB 54 fund balance).
    FundBalance,
    /// Objects 4xxxx.
    Revenue,
    /// Objects 5xxxx and above.
    Expenditure,
}

impl AccountClass {
    /// Reads the class from an object code. The digit-to-class mapping is
    /// inferred from OPM's published UCOA data (assets 1xxxx, liabilities
    /// 2xxxx, revenues 4xxxx, expenditures 5xxxx; fund balance 3xxxx by the
    /// same pattern), not from the official code list, which is not public.
    pub fn from_object(object: &str) -> Result<Self> {
        match object.as_bytes().first() {
            Some(b'1') => Ok(Self::Asset),
            Some(b'2') => Ok(Self::Liability),
            Some(b'3') => Ok(Self::FundBalance),
            Some(b'4') => Ok(Self::Revenue),
            Some(b'5'..=b'9') => Ok(Self::Expenditure),
            _ => Err(Error::invalid(
                "account",
                format!("object {object} does not name an account class (1–5)"),
            )),
        }
    }

    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asset => "asset",
            Self::Liability => "liability",
            Self::FundBalance => "fund_balance",
            Self::Revenue => "revenue",
            Self::Expenditure => "expenditure",
        }
    }

    /// Whether the account's balance is normally a debit.
    pub fn normal_debit(self) -> bool {
        matches!(self, Self::Asset | Self::Expenditure)
    }
}

/// Fund types (GASB Statement 34).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FundType {
    /// The general fund.
    General,
    /// Special revenue funds.
    SpecialRevenue,
    /// Capital projects funds.
    CapitalProjects,
    /// Debt service funds.
    DebtService,
    /// Permanent funds.
    Permanent,
    /// Enterprise funds (e.g. wastewater).
    Enterprise,
    /// Internal service funds (e.g. medical self-insurance).
    InternalService,
    /// Fiduciary funds (pension trust, custodial).
    Fiduciary,
}

impl FundType {
    /// Every type, in the order governmental, proprietary, fiduciary.
    pub const ALL: [FundType; 8] = [
        Self::General,
        Self::SpecialRevenue,
        Self::CapitalProjects,
        Self::DebtService,
        Self::Permanent,
        Self::Enterprise,
        Self::InternalService,
        Self::Fiduciary,
    ];

    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::General => "general",
            Self::SpecialRevenue => "special_revenue",
            Self::CapitalProjects => "capital_projects",
            Self::DebtService => "debt_service",
            Self::Permanent => "permanent",
            Self::Enterprise => "enterprise",
            Self::InternalService => "internal_service",
            Self::Fiduciary => "fiduciary",
        }
    }

    /// Parses a storage key, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!(
                        "'{s}' is not a fund type; use one of {}",
                        Self::ALL.map(Self::as_str).join(", ")
                    ),
                )
            })
    }
}

/// A period's state: open for posting, closed (no posting; can be reopened),
/// or locked (closed for good, after the audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStatus {
    /// Posting allowed.
    Open,
    /// No posting; can be reopened.
    Closed,
    /// No posting, ever again.
    Locked,
}

impl PeriodStatus {
    /// Storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Locked => "locked",
        }
    }

    /// Parses a storage key.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        match s {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            "locked" => Ok(Self::Locked),
            _ => Err(Error::invalid(field, "use open, closed or locked")),
        }
    }

    /// Whether a period may move from `self` to `to`: open ⇄ closed, closed → locked.
    pub fn can_become(self, to: PeriodStatus) -> bool {
        matches!(
            (self, to),
            (Self::Open, Self::Closed) | (Self::Closed, Self::Open) | (Self::Closed, Self::Locked)
        )
    }
}

/// One side of a journal line: a debit or a credit, never both, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineAmount {
    /// A debit.
    Debit(Money),
    /// A credit.
    Credit(Money),
}

impl LineAmount {
    /// From the two columns a person fills in; exactly one must be a positive amount.
    pub fn from_columns(field: &str, debit: Money, credit: Money) -> Result<Self> {
        match (debit.cents(), credit.cents()) {
            (d, 0) if d > 0 => Ok(Self::Debit(debit)),
            (0, c) if c > 0 => Ok(Self::Credit(credit)),
            (d, c) if d < 0 || c < 0 => Err(Error::invalid(
                field,
                "amounts cannot be negative; use the other column",
            )),
            (0, 0) => Err(Error::invalid(field, "enter a debit or a credit")),
            _ => Err(Error::invalid(field, "enter a debit or a credit, not both")),
        }
    }

    /// (debit cents, credit cents).
    pub fn columns(self) -> (i64, i64) {
        match self {
            Self::Debit(m) => (m.cents(), 0),
            Self::Credit(m) => (0, m.cents()),
        }
    }

    /// The opposite side, for a reversing entry.
    pub fn reversed(self) -> Self {
        match self {
            Self::Debit(m) => Self::Credit(m),
            Self::Credit(m) => Self::Debit(m),
        }
    }
}

/// Checks that debits equal credits in every fund an entry touches. The
/// error names the first unbalanced fund and by how much it is off.
pub fn check_balanced<'a>(lines: impl IntoIterator<Item = (&'a str, LineAmount)>) -> Result<()> {
    let mut by_fund: BTreeMap<&str, (i128, i128)> = BTreeMap::new();
    let mut any = false;
    for (fund, amount) in lines {
        any = true;
        let (d, c) = amount.columns();
        let e = by_fund.entry(fund).or_default();
        e.0 += i128::from(d);
        e.1 += i128::from(c);
    }
    if !any {
        return Err(Error::invalid("lines", "an entry needs at least two lines"));
    }
    for (fund, (d, c)) in by_fund {
        if d != c {
            let cents = |v: i128| Money::from_cents(i64::try_from(v).unwrap_or(i64::MAX));
            return Err(Error::invalid(
                "lines",
                format!(
                    "fund {fund} is out of balance by {}: debits {}, credits {}",
                    cents((d - c).abs()),
                    cents(d),
                    cents(c)
                ),
            ));
        }
    }
    Ok(())
}

/// The due-to/due-from lines that make an inter-fund entry balance in every
/// fund: given each fund's net (debits − credits), a fund whose debits exceed
/// its credits owes the others (a credit to its due-to account) and a fund
/// whose credits exceed its debits is owed (a debit to its due-from account).
/// Nothing when the entry does not balance in total or touches one fund only.
pub fn interfund<'a>(nets: impl IntoIterator<Item = (&'a str, i64)>) -> Vec<(String, Interfund)> {
    let mut by_fund: BTreeMap<&str, i128> = BTreeMap::new();
    for (fund, net) in nets {
        *by_fund.entry(fund).or_default() += i128::from(net);
    }
    let total: i128 = by_fund.values().sum();
    let unbalanced = by_fund.values().filter(|n| **n != 0).count();
    if total != 0 || unbalanced < 2 {
        return Vec::new();
    }
    by_fund
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(fund, n)| {
            let cents = Money::from_cents(i64::try_from(n.abs()).unwrap_or(i64::MAX));
            let line = if n > 0 {
                Interfund::DueTo(cents)
            } else {
                Interfund::DueFrom(cents)
            };
            (fund.to_owned(), line)
        })
        .collect()
}

/// An automatic inter-fund line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interfund {
    /// A credit to the fund's "due to other funds" liability.
    DueTo(Money),
    /// A debit to the fund's "due from other funds" asset.
    DueFrom(Money),
}

impl Interfund {
    /// The fund's account for it: objects 21100 (due to) and 13100 (due from),
    /// illustrative codes on the pattern of OPM's published data.
    pub fn account(self, fund: &str) -> String {
        match self {
            Self::DueTo(_) => format!("{fund}-00-0000-00000-21100-000"),
            Self::DueFrom(_) => format!("{fund}-00-0000-00000-13100-000"),
        }
    }

    /// As a journal line amount.
    pub fn amount(self) -> LineAmount {
        match self {
            Self::DueTo(m) => LineAmount::Credit(m),
            Self::DueFrom(m) => LineAmount::Debit(m),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn account_strings_follow_the_opm_layout() {
        let a = AccountString::parse("account", "1005-42-4201-00000-52000-000").unwrap();
        assert_eq!(a.fund(), "1005");
        assert_eq!(a.function(), "42");
        assert_eq!(a.class().unwrap(), AccountClass::Expenditure);
        assert_eq!(a.to_string(), "1005-42-4201-00000-52000-000");
        let err = AccountString::parse("account", "1005-42-4201-0000-52000-000")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "account: the sub-department segment '0000' must be 5 digits"
        );
        assert!(AccountString::parse("account", "1005-42-4201").is_err());
        assert!(AccountString::parse("account", "10a5-42-4201-00000-52000-000").is_err());
        assert_eq!(
            AccountString::parse("a", "6001-00-0000-00000-20000-000")
                .unwrap()
                .class()
                .unwrap(),
            AccountClass::Liability
        );
        assert!(
            AccountString::parse("a", "1005-00-0000-00000-00000-000")
                .unwrap()
                .class()
                .is_err()
        );
    }

    #[test]
    fn an_unbalanced_entry_names_the_fund_and_the_difference() {
        let m = Money::from_cents;
        let lines = [
            ("1005", LineAmount::Debit(m(10_000))),
            ("1005", LineAmount::Credit(m(8_750))),
            ("6001", LineAmount::Debit(m(500))),
            ("6001", LineAmount::Credit(m(500))),
        ];
        let err = check_balanced(lines.iter().map(|(f, a)| (*f, *a)))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "lines: fund 1005 is out of balance by $12.50: debits $100.00, credits $87.50"
        );
        // Balanced overall but not per fund is still refused: funds are self-balancing.
        let cross = [
            ("1005", LineAmount::Debit(m(100))),
            ("6001", LineAmount::Credit(m(100))),
        ];
        assert!(check_balanced(cross.iter().map(|(f, a)| (*f, *a))).is_err());
    }

    #[test]
    fn line_amounts_take_exactly_one_positive_side() {
        let m = Money::from_cents;
        assert_eq!(
            LineAmount::from_columns("l", m(5), m(0)).unwrap(),
            LineAmount::Debit(m(5))
        );
        assert!(LineAmount::from_columns("l", m(5), m(5)).is_err());
        assert!(LineAmount::from_columns("l", m(0), m(0)).is_err());
        assert!(LineAmount::from_columns("l", m(-5), m(0)).is_err());
    }

    #[test]
    fn periods_move_open_closed_locked() {
        use PeriodStatus::*;
        assert!(Open.can_become(Closed) && Closed.can_become(Open) && Closed.can_become(Locked));
        assert!(!Open.can_become(Locked) && !Locked.can_become(Open) && !Locked.can_become(Closed));
    }

    fn entry() -> impl Strategy<Value = Vec<(usize, i64)>> {
        // (fund index, signed amount): positive = debit, negative = credit.
        proptest::collection::vec((0usize..3, -1_000_000_000i64..1_000_000_000), 1..20)
    }

    proptest! {
        /// Balancing each fund with one closing line makes any entry acceptable, and its reversal too.
        #[test]
        fn balanced_entries_and_their_reversals_pass(raw in entry()) {
            let funds = ["1005", "2100", "6001"];
            let mut lines: Vec<(&str, LineAmount)> = raw.iter().filter(|(_, a)| *a != 0).map(|(f, a)| {
                let amt = if *a > 0 { LineAmount::Debit(Money::from_cents(*a)) } else { LineAmount::Credit(Money::from_cents(-*a)) };
                (funds[*f], amt)
            }).collect();
            for fund in funds {
                let net: i64 = lines.iter().filter(|(f, _)| *f == fund).map(|(_, a)| { let (d, c) = a.columns(); d - c }).sum();
                if net > 0 { lines.push((fund, LineAmount::Credit(Money::from_cents(net)))); }
                if net < 0 { lines.push((fund, LineAmount::Debit(Money::from_cents(-net)))); }
            }
            prop_assume!(!lines.is_empty());
            prop_assert!(check_balanced(lines.iter().copied()).is_ok());
            let reversed: Vec<_> = lines.iter().map(|(f, a)| (*f, a.reversed())).collect();
            prop_assert!(check_balanced(reversed.iter().copied()).is_ok());
            // An entry plus its reversal nets to zero in every fund.
            for fund in funds {
                let net: i64 = lines.iter().chain(&reversed).filter(|(f, _)| *f == fund).map(|(_, a)| { let (d, c) = a.columns(); d - c }).sum();
                prop_assert_eq!(net, 0);
            }
            // Moving one cent breaks it, and the message names the fund.
            let mut broken = lines.clone();
            let (fund, first) = broken[0];
            broken[0] = (fund, match first { LineAmount::Debit(m) => LineAmount::Debit(Money::from_cents(m.cents() + 1)), LineAmount::Credit(m) => LineAmount::Credit(Money::from_cents(m.cents() + 1)) });
            let err = check_balanced(broken.iter().copied()).unwrap_err().to_string();
            prop_assert!(err.contains(&format!("fund {fund} is out of balance by $0.01")), "{}", err);
        }
    }

    proptest! {
        /// Whatever the funds and amounts of an entry that balances in total,
        /// the automatic lines make every fund balance on its own.
        #[test]
        fn interfund_lines_balance_every_fund(amounts in proptest::collection::vec((0usize..4, 1i64..1_000_000), 1..12)) {
            let funds = ["1005", "2100", "6001", "7000"];
            // Each amount is a debit in one fund and a credit in the next: balanced in total.
            let mut lines: Vec<(&str, i64)> = Vec::new();
            for (f, cents) in &amounts {
                lines.push((funds[*f], *cents));
                lines.push((funds[(*f + 1) % 4], -*cents));
            }
            let auto = interfund(lines.iter().copied());
            let mut all: Vec<(&str, LineAmount)> = lines
                .iter()
                .map(|(f, n)| (*f, if *n > 0 { LineAmount::Debit(Money::from_cents(*n)) } else { LineAmount::Credit(Money::from_cents(-*n)) }))
                .collect();
            all.extend(auto.iter().map(|(f, l)| (f.as_str(), l.amount())));
            prop_assert!(check_balanced(all).is_ok());
        }
    }

    #[test]
    fn a_receipt_of_sewer_charges_into_general_cash_is_owed_to_the_sewer_fund() {
        // General fund cash debited $250.00, sewer revenue credited $250.00.
        let auto = interfund([("1005", 25_000), ("6001", -25_000)]);
        assert_eq!(
            auto,
            vec![
                (
                    "1005".to_owned(),
                    Interfund::DueTo(Money::from_cents(25_000))
                ),
                (
                    "6001".to_owned(),
                    Interfund::DueFrom(Money::from_cents(25_000))
                ),
            ]
        );
        assert_eq!(auto[0].1.account("1005"), "1005-00-0000-00000-21100-000");
        // Out of balance in total, or one fund only: nothing automatic.
        assert!(interfund([("1005", 25_000), ("6001", -24_999)]).is_empty());
        assert!(interfund([("1005", 100), ("1005", -100)]).is_empty());
    }
}
