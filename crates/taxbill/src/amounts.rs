//! Exact amounts as printed: cents and whole dollars with thousands separators, the mill rate
//! as the town adopted it, dates spelled out. No floating point anywhere.

use std::fmt;

use time::Date;

use crate::error::{BillError, Problem};

/// Groups the digits of `n` by thousands: 1234567 → "1,234,567".
fn group_thousands(n: u64, out: &mut String) {
    let digits = n.to_string();
    let len = digits.len();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (len - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
}

/// Cents as dollars: 1234567 → "$12,345.67"; −250 → "-$2.50".
pub fn format_cents(cents: i64) -> String {
    let mut out = String::with_capacity(16);
    if cents < 0 {
        out.push('-');
    }
    out.push('$');
    let abs = cents.unsigned_abs();
    group_thousands(abs / 100, &mut out);
    out.push('.');
    let rest = abs % 100;
    if rest < 10 {
        out.push('0');
    }
    out.push_str(&rest.to_string());
    out
}

/// Whole dollars as an assessed value is printed: 283150 → "283,150"; −10000 → "-10,000".
pub fn format_dollars(dollars: i64) -> String {
    let mut out = String::with_capacity(16);
    if dollars < 0 {
        out.push('-');
    }
    group_thousands(dollars.unsigned_abs(), &mut out);
    out
}

/// A date as on a bill: "July 1, 2026".
pub fn format_date(date: Date) -> String {
    format!("{} {}, {}", date.month(), date.day(), date.year())
}

/// A mill rate (tax per $1,000 of assessment) exactly as the town adopted it.
///
/// Held as an integer and a count of decimal places, so `35.37` is 3537 × 10⁻²: the tax
/// computed from it is exact, and the bill prints the text given (`35.370` stays `35.370`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MillRate {
    text: String,
    mantissa: u64,
    scale: u32,
}

impl MillRate {
    /// Most decimal places accepted; Connecticut towns adopt two to four.
    pub const MAX_DECIMALS: u32 = 6;

    /// Parses a plain decimal such as `"35.37"` or `"32"`: digits, at most one point with digits on
    /// both sides, at most [`Self::MAX_DECIMALS`] decimals, greater than 0 and below 1,000 mills.
    pub fn parse(text: &str) -> Result<MillRate, BillError> {
        const EXPECTED: &str = "a decimal number such as 35.37";
        let malformed = || {
            BillError::new(
                "mill_rate",
                Problem::Malformed {
                    given: text.to_owned(),
                    expected: EXPECTED,
                },
            )
        };
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || (text.contains('.') && !all_digits(fraction)) {
            return Err(malformed());
        }
        if whole.len() > 1 && whole.starts_with('0') {
            return Err(malformed());
        }
        let scale = u32::try_from(fraction.len()).map_err(|_| malformed())?;
        if scale > Self::MAX_DECIMALS || whole.len() > 3 {
            return Err(BillError::new(
                "mill_rate",
                Problem::OutOfRange {
                    given: text.to_owned(),
                    allowed: "above 0 and below 1,000 mills, with at most 6 decimals",
                },
            ));
        }
        let mut mantissa: u64 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa * 10 + u64::from(b - b'0');
        }
        if mantissa == 0 {
            return Err(BillError::new(
                "mill_rate",
                Problem::OutOfRange {
                    given: text.to_owned(),
                    allowed: "above 0 and below 1,000 mills, with at most 6 decimals",
                },
            ));
        }
        Ok(MillRate {
            text: text.to_owned(),
            mantissa,
            scale,
        })
    }

    /// The rate as given, e.g. `"35.37"`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The exact tax on `assessment_dollars`, in cents, as the interval it falls in:
    /// `(floor, ceil)`, equal when the product is a whole number of cents.
    /// tax = assessment × mills ÷ 1,000 (CGS 12-122).
    #[cfg(test)]
    pub(crate) fn tax_cents_bounds(&self, assessment_dollars: i64) -> (i128, i128) {
        self.prorated_tax_cents_bounds(assessment_dollars, 12)
    }

    /// The same for a tax of `months` twelfths of the year (CGS 12-71b's supplemental list).
    pub(crate) fn prorated_tax_cents_bounds(
        &self,
        assessment_dollars: i64,
        months: u8,
    ) -> (i128, i128) {
        // cents = dollars × 100 × mantissa × months ÷ (1,000 × 10^scale × 12); all factors fit
        // i128 easily (assessment < 2^63, mantissa < 10^9, months ≤ 12).
        let numerator =
            i128::from(assessment_dollars) * 100 * i128::from(self.mantissa) * i128::from(months);
        let denominator = 1000 * 10_i128.pow(self.scale) * 12;
        let floor = numerator.div_euclid(denominator);
        let ceil = if numerator.rem_euclid(denominator) == 0 {
            floor
        } else {
            floor + 1
        };
        (floor, ceil)
    }
}

impl fmt::Display for MillRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn cents_print_with_separators_and_two_decimals() {
        assert_eq!(format_cents(0), "$0.00");
        assert_eq!(format_cents(5), "$0.05");
        assert_eq!(format_cents(100), "$1.00");
        assert_eq!(format_cents(1_234_567), "$12,345.67");
        assert_eq!(format_cents(100_000_000), "$1,000,000.00");
        assert_eq!(format_cents(-250), "-$2.50");
        assert_eq!(format_cents(i64::MIN), "-$92,233,720,368,547,758.08");
    }

    #[test]
    fn dollars_print_with_separators() {
        assert_eq!(format_dollars(0), "0");
        assert_eq!(format_dollars(999), "999");
        assert_eq!(format_dollars(1000), "1,000");
        assert_eq!(format_dollars(283_150), "283,150");
        assert_eq!(format_dollars(-10_000), "-10,000");
    }

    #[test]
    fn dates_are_spelled_out() {
        assert_eq!(format_date(date!(2026 - 07 - 01)), "July 1, 2026");
        assert_eq!(format_date(date!(2027 - 01 - 31)), "January 31, 2027");
    }

    #[test]
    fn mill_rates_parse_exactly_and_print_as_given() {
        let rate = MillRate::parse("35.370").ok();
        assert_eq!(rate.as_ref().map(MillRate::as_str), Some("35.370"));
        assert_eq!(rate.map(|r| (r.mantissa, r.scale)), Some((35370, 3)));
        assert!(MillRate::parse("32").is_ok());
        assert!(MillRate::parse("0.5").is_ok());
        for bad in [
            "", ".5", "35.", "3,5", "35.3.7", "-35", "+35", "035", "1e3", " 35", "0", "0.00",
        ] {
            let err = MillRate::parse(bad).err();
            assert_eq!(
                err.as_ref().map(BillError::field),
                Some("mill_rate"),
                "{bad:?}"
            );
        }
        assert!(MillRate::parse("1000").is_err());
        assert!(MillRate::parse("35.1234567").is_err());
    }

    #[test]
    fn tax_bounds_bracket_the_exact_product() {
        // 283,150 × 35.37 ÷ 1,000 = 10,015.0155 dollars = 1,001,501.55 cents.
        let rate = MillRate::parse("35.37").ok();
        assert_eq!(
            rate.map(|r| r.tax_cents_bounds(283_150)),
            Some((1_001_501, 1_001_502))
        );
        // 20,000 × 25 ÷ 1,000 = 500 dollars exactly.
        let rate = MillRate::parse("25").ok();
        assert_eq!(
            rate.map(|r| r.tax_cents_bounds(20_000)),
            Some((50_000, 50_000))
        );
        // A supplemental vehicle registered in December, taxed 10 months of 12 (CGS 12-71b):
        // 14,000 × 32.46 ÷ 1,000 × 10 ÷ 12 = $378.70 exactly.
        let rate = MillRate::parse("32.46").ok();
        assert_eq!(
            rate.as_ref()
                .map(|r| r.prorated_tax_cents_bounds(14_000, 10)),
            Some((37_870, 37_870))
        );
        // 11 months: 454.44 × 11 ÷ 12 = $416.57 exactly.
        assert_eq!(
            rate.as_ref()
                .map(|r| r.prorated_tax_cents_bounds(14_000, 11)),
            Some((41_657, 41_657))
        );
        // $10,001 × 32.46 ÷ 1,000 × 7 ÷ 12 = 189.3689…: $189.36 or $189.37.
        assert_eq!(
            rate.as_ref()
                .map(|r| r.prorated_tax_cents_bounds(10_001, 7)),
            Some((18_936, 18_937))
        );
    }
}
