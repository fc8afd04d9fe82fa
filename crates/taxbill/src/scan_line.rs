//! The machine-readable line printed in Courier on each remittance stub.
//!
//! `ACCOUNT BILL N AMOUNT YYYYMMDD CC`: account id, bill number, installment number, the amount
//! in cents zero-padded to 10 digits, the due date, and two check digits by ISO 7064 MOD 97-10
//! (the IBAN scheme: letters count as 10–35, hyphens and spaces are skipped, and the check digits
//! make the whole number ≡ 1 mod 97), so a misread character is caught when the stub is scanned.

use time::Date;

/// The scan line of one installment's stub. `account_id` and `bill_number` are A–Z, 0–9 and
/// hyphens (checked by [`crate::Bill::validate`]); `amount_cents` is below 10^10.
pub(crate) fn scan_line(
    account_id: &str,
    bill_number: &str,
    installment: usize,
    amount_cents: i64,
    due: Date,
) -> String {
    let body = format!(
        "{account_id} {bill_number} {installment} {amount_cents:010} {:04}{:02}{:02}",
        due.year(),
        u8::from(due.month()),
        due.day()
    );
    let check = mod97_10_check_digits(&body);
    format!("{body} {check:02}")
}

/// ISO 7064 MOD 97-10 check digits of the letters and digits of `text`.
pub(crate) fn mod97_10_check_digits(text: &str) -> u32 {
    // Append "00" and take 98 − (n mod 97).
    let remainder = mod97(text.chars().chain("00".chars()));
    98 - remainder
}

/// The number spelled by the letters (A=10 … Z=35) and digits of `chars`, mod 97; other
/// characters are skipped.
pub(crate) fn mod97(chars: impl Iterator<Item = char>) -> u32 {
    let mut remainder: u32 = 0;
    for c in chars {
        if let Some(d) = c.to_digit(36) {
            // A letter stands for two digits, a digit for one.
            remainder = if d >= 10 {
                (remainder * 100 + d) % 97
            } else {
                (remainder * 10 + d) % 97
            };
        }
    }
    remainder
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn check_digits_are_those_of_iban() {
        // The IBAN example of ISO 13616 / the ECBS: GB82 WEST 1234 5698 7654 32. Its check digits are
        // computed over the BBAN followed by the country code: "WEST12345698765432GB".
        assert_eq!(mod97_10_check_digits("WEST12345698765432GB"), 82);
    }

    #[test]
    fn a_line_with_its_check_digits_is_1_mod_97() {
        let line = scan_line(
            "RE-004512",
            "2025-004512",
            1,
            500_751,
            date!(2026 - 07 - 01),
        );
        assert!(line.starts_with("RE-004512 2025-004512 1 0000500751 20260701 "));
        assert_eq!(mod97(line.chars()), 1);
    }
}
