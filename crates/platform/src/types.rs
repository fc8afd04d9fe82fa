//! Value types shared by every module. Each is parsed once at the edge
//! ("parse, don't validate"): a `Slug`, `Money` or `FiscalYear` that exists is valid.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, format_description::well_known::Rfc3339};

use crate::error::{Error, Result};

/// Declares a UUIDv7 identifier newtype stored as hyphenated text on both databases.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(try_from = "String", into = "String")]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id (UUIDv7).
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().hyphenated().to_string())
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                uuid::Uuid::parse_str(s)
                    .map(|u| Self(u.hyphenated().to_string()))
                    .map_err(|_| Error::invalid("id", format!("'{}' is not a valid id", truncate(s, 60))))
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Identifies a municipality (the tenant).
    MunicipalityId
);
id_type!(
    /// Identifies an entity (town government or board of education) of a municipality.
    EntityId
);
id_type!(
    /// Identifies a department of a municipality.
    DepartmentId
);
id_type!(
    /// Identifies a service subscription.
    SubscriptionId
);
id_type!(
    /// Identifies a user.
    UserId
);
id_type!(
    /// Identifies a role.
    RoleId
);
id_type!(
    /// Identifies a grant of a role to a user at a scope.
    GrantId
);
id_type!(
    /// Identifies an API token.
    TokenId
);
id_type!(
    /// Identifies a queued job.
    JobId
);
id_type!(
    /// Identifies an audit event.
    AuditEventId
);

/// Shortens user input quoted back in an error message.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// A URL-safe short name: lowercase ASCII letters, digits and single hyphens, 1–64 chars.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(try_from = "String", into = "String")]
#[sqlx(transparent)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid(
                field,
                format!(
                    "'{}' is not a valid short name: use 1–64 lowercase letters, digits and single hyphens",
                    truncate(s, 60)
                ),
            ))
        }
    }

    /// Derives a slug from a display name ("West Hartford" → "west-hartford").
    pub fn from_name(name: &str) -> Result<Self> {
        let mut out = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let trimmed = out.trim_end_matches('-').to_owned();
        Self::parse("name", &trimmed)
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse("slug", &s)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The services a municipality can subscribe to. A closed set: adding one is a
/// code change, reviewed like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Fund accounting on the Uniform Chart of Accounts.
    Finance,
    /// Property assessment (CAMA), grand list, mill rates and bills.
    Assessment,
    /// Electronic document management and retention.
    Records,
    /// Regional data center and backup.
    Backup,
    /// Human resources: positions, pay plans, policies.
    Hr,
    /// Facilities and asset management.
    Facilities,
    /// Fleet maintenance and cooperative fuel.
    Fleet,
    /// Cooperative procurement.
    Procurement,
    /// The shared-services program: metering, chargeback, savings.
    Program,
}

impl Service {
    /// Every service, in menu order.
    pub const ALL: [Service; 9] = [
        Service::Finance,
        Service::Assessment,
        Service::Records,
        Service::Backup,
        Service::Hr,
        Service::Facilities,
        Service::Fleet,
        Service::Procurement,
        Service::Program,
    ];

    /// The stable key used in URLs, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Finance => "finance",
            Service::Assessment => "assessment",
            Service::Records => "records",
            Service::Backup => "backup",
            Service::Hr => "hr",
            Service::Facilities => "facilities",
            Service::Fleet => "fleet",
            Service::Procurement => "procurement",
            Service::Program => "program",
        }
    }

    /// The name shown to people.
    pub fn title(self) -> &'static str {
        match self {
            Service::Finance => "Finance",
            Service::Assessment => "Property assessment",
            Service::Records => "Records",
            Service::Backup => "Data center & backup",
            Service::Hr => "Human resources",
            Service::Facilities => "Facilities & assets",
            Service::Fleet => "Fleet & fuel",
            Service::Procurement => "Cooperative procurement",
            Service::Program => "Shared-services program",
        }
    }

    /// Parses a service key, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|svc| svc.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!(
                        "'{}' is not a service; expected one of: {}",
                        truncate(s, 40),
                        Self::ALL.map(Service::as_str).join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a role may do within a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read the service's data.
    View,
    /// Create and change data.
    Edit,
    /// Approve what others prepared (budget transfers, invoices, disposals).
    Approve,
    /// Configure the service for the town.
    Administer,
}

impl Permission {
    /// Every permission, weakest first.
    pub const ALL: [Permission; 4] = [
        Permission::View,
        Permission::Edit,
        Permission::Approve,
        Permission::Administer,
    ];

    /// The stable key.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Edit => "edit",
            Permission::Approve => "approve",
            Permission::Administer => "administer",
        }
    }

    /// Parses a permission key, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(field, format!("'{}' is not a permission", truncate(s, 40)))
            })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exact amount of US dollars, held as integer cents. Never a float.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(0);

    /// An amount of whole cents.
    pub const fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Adds, refusing to overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// Subtracts, refusing to overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// The exact decimal value in dollars.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Converts an exact decimal to cents; refuses fractions of a cent rather than rounding silently.
    pub fn from_decimal(field: &str, d: Decimal) -> Result<Self> {
        let scaled = d * Decimal::ONE_HUNDRED;
        if scaled.fract() != Decimal::ZERO {
            return Err(Error::invalid(
                field,
                format!("{d} has fractions of a cent"),
            ));
        }
        i64::try_from(scaled.trunc())
            .map(Money)
            .map_err(|_| Error::invalid(field, format!("{d} is too large")))
    }

    /// Parses "1234.56", "1,234.56", "$1,234.56" or "-12.5"; names `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let cleaned: String = s
            .trim()
            .chars()
            .filter(|c| *c != ',' && *c != '$')
            .collect();
        let d = Decimal::from_str_exact(&cleaned).map_err(|_| {
            Error::invalid(
                field,
                format!("'{}' is not an amount of money", truncate(s, 40)),
            )
        })?;
        Self::from_decimal(field, d)
    }
}

impl fmt::Display for Money {
    /// Formats as `$1,234.56` (negative as `-$1,234.56`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let dollars = (abs / 100).to_string();
        let cents = abs % 100;
        let mut grouped = String::new();
        for (i, c) in dollars.chars().enumerate() {
            if i > 0 && (dollars.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(
            f,
            "{}${grouped}.{cents:02}",
            if negative { "-" } else { "" }
        )
    }
}

/// A Connecticut municipal fiscal year, July 1 – June 30, named by the calendar
/// year in which it ends (FY2018 runs 2017-07-01 to 2018-06-30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FiscalYear(i32);

impl FiscalYear {
    /// The fiscal year ending June 30 of `end_year`; years outside 1900–2200 are refused.
    pub fn ending(field: &str, end_year: i32) -> Result<Self> {
        if (1900..=2200).contains(&end_year) {
            Ok(Self(end_year))
        } else {
            Err(Error::invalid(
                field,
                format!("{end_year} is not a plausible fiscal year"),
            ))
        }
    }

    /// The fiscal year a date falls in.
    pub fn containing(date: Date) -> Self {
        if date.month() >= Month::July {
            Self(date.year() + 1)
        } else {
            Self(date.year())
        }
    }

    /// July 1 of the year before the end year.
    pub fn start(self) -> Date {
        // July 1 exists in every year, so this cannot fail for the years `ending` accepts.
        Date::from_calendar_date(self.0 - 1, Month::July, 1).unwrap_or(Date::MIN)
    }

    /// June 30 of the end year.
    pub fn end(self) -> Date {
        Date::from_calendar_date(self.0, Month::June, 30).unwrap_or(Date::MAX)
    }

    /// The calendar year in which the fiscal year ends.
    pub fn end_year(self) -> i32 {
        self.0
    }

    /// The accounting period (1 = July … 12 = June) a date falls in.
    pub fn period_of(date: Date) -> u8 {
        let m = u8::from(date.month());
        if m >= 7 { m - 6 } else { m + 6 }
    }
}

impl fmt::Display for FiscalYear {
    /// "FY 2017-18".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FY {}-{:02}", self.0 - 1, self.0.rem_euclid(100))
    }
}

/// A UTC instant stored as fixed-width RFC 3339 text (`2026-11-26T08:00:00.000000Z`),
/// which sorts correctly as text on both databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Wraps an instant, normalised to UTC and truncated to microseconds.
    pub fn new(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(time::UtcOffset::UTC);
        let micros = utc.microsecond();
        Self(utc.replace_nanosecond(micros * 1000).unwrap_or(utc))
    }

    /// The instant.
    pub fn datetime(self) -> OffsetDateTime {
        self.0
    }

    /// The storage form.
    pub fn to_db(self) -> String {
        let d = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.microsecond()
        )
    }

    /// Parses the storage form (or any RFC 3339 instant).
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(Self::new)
            .map_err(|_| {
                Error::invalid(
                    field,
                    format!("'{}' is not an RFC 3339 time", truncate(s, 40)),
                )
            })
    }

    /// "2026-11-26 08:00 UTC", for people.
    pub fn human(self) -> String {
        let d = self.0;
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute()
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_db())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_db())
    }
}

/// Parses a calendar date written `YYYY-MM-DD`, naming `field` in the error.
pub fn parse_date(field: &str, s: &str) -> Result<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &fmt).map_err(|_| {
        Error::invalid(
            field,
            format!("'{}' is not a date (YYYY-MM-DD)", truncate(s, 40)),
        )
    })
}

/// Formats a date as `YYYY-MM-DD` (the storage and wire form).
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Lower-case hexadecimal of `bytes` (hashes in the audit log, token and file digests).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn money_parses_and_formats_hand_computed_values() {
        assert_eq!(Money::parse("a", "$1,234.56").unwrap().cents(), 123_456);
        assert_eq!(Money::parse("a", "-12.5").unwrap().cents(), -1250);
        assert_eq!(Money::parse("a", "0.07").unwrap().to_string(), "$0.07");
        assert_eq!(
            Money::from_cents(-123_456_789).to_string(),
            "-$1,234,567.89"
        );
        assert_eq!(Money::from_cents(100_000).to_string(), "$1,000.00");
    }

    #[test]
    fn money_refuses_fractions_of_a_cent_and_garbage() {
        let err = Money::parse("amount", "1.005").unwrap_err();
        assert!(err.to_string().contains("amount"), "{err}");
        assert!(Money::parse("amount", "12abc").is_err());
        assert!(Money::parse("amount", "1e3").is_err());
        assert!(Money::parse("amount", "99999999999999999999").is_err());
    }

    proptest! {
        #[test]
        fn money_display_round_trips(cents in -10_000_000_000_000i64..10_000_000_000_000i64) {
            let m = Money::from_cents(cents);
            prop_assert_eq!(Money::parse("x", &m.to_string()).unwrap(), m);
            prop_assert_eq!(Money::from_decimal("x", m.to_decimal()).unwrap(), m);
        }

        #[test]
        fn every_date_falls_inside_its_fiscal_year(days in 0i32..80_000) {
            let d = date!(1950 - 01 - 01) + time::Duration::days(i64::from(days));
            let fy = FiscalYear::containing(d);
            prop_assert!(fy.start() <= d && d <= fy.end());
        }
    }

    #[test]
    fn fiscal_year_follows_the_july_to_june_calendar() {
        assert_eq!(
            FiscalYear::containing(date!(2017 - 07 - 01)).end_year(),
            2018
        );
        assert_eq!(
            FiscalYear::containing(date!(2018 - 06 - 30)).end_year(),
            2018
        );
        assert_eq!(
            FiscalYear::containing(date!(2018 - 07 - 01)).end_year(),
            2019
        );
        assert_eq!(
            FiscalYear::ending("fy", 2018).unwrap().to_string(),
            "FY 2017-18"
        );
        assert_eq!(FiscalYear::period_of(date!(2017 - 07 - 15)), 1);
        assert_eq!(FiscalYear::period_of(date!(2018 - 06 - 15)), 12);
        assert_eq!(FiscalYear::period_of(date!(2018 - 01 - 02)), 7);
    }

    #[test]
    fn slugs_are_strict() {
        assert_eq!(
            Slug::from_name("West Hartford").unwrap().as_str(),
            "west-hartford"
        );
        assert!(Slug::parse("s", "West").is_err());
        assert!(Slug::parse("s", "a--b").is_err());
        assert!(Slug::parse("s", "").is_err());
        assert!(Slug::parse("s", "-a").is_err());
    }

    #[test]
    fn timestamps_store_as_sortable_fixed_width_text() {
        let t = Timestamp::parse("t", "2026-11-26T08:07:48.123456789+01:00").unwrap();
        assert_eq!(t.to_db(), "2026-11-26T07:07:48.123456Z");
        assert_eq!(Timestamp::parse("t", &t.to_db()).unwrap(), t);
    }
}
