//! NACHA ACH files: the fixed-width format (94-character records, blocked in
//! tens) a town's bank accepts for vendor payments. Pure: no database, no
//! clock; the service in `ach` gathers the payments and records the file.
//!
//! One file holds one batch per standard entry class (CCD for businesses,
//! PPD for individuals), credits only (service class 220). Each payment is an
//! entry detail record (transaction code 22 checking / 32 savings) with one
//! 05 addendum naming the invoices it pays. The batch and file controls carry
//! the entry/addenda count, the entry hash (the sum of the receiving banks'
//! 8-digit routing prefixes, its rightmost ten digits) and the credit total.
//! The file is padded with records of nines to a multiple of ten.

use std::fmt::Write as _;

use munishare_platform::{Error, Result};
use time::{Date, PrimitiveDateTime};

/// Checks an ABA routing number: nine digits whose weighted sum
/// (3, 7, 1, 3, 7, 1, 3, 7, 1) is a multiple of ten. `field` names the input.
pub fn check_routing(field: &str, text: &str) -> Result<String> {
    let text = text.trim();
    if text.len() != 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            field,
            format!("a routing number is nine digits; {text:?} is not"),
        ));
    }
    let sum: u32 = text
        .bytes()
        .zip([3, 7, 1, 3, 7, 1, 3, 7, 1])
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    if !sum.is_multiple_of(10) {
        return Err(Error::invalid(
            field,
            format!("{text} is not a valid routing number (its check digit does not match)"),
        ));
    }
    Ok(text.to_owned())
}

/// Checks a bank account number as NACHA carries it: 4 to 17 digits (hyphens and spaces dropped).
pub fn check_account(field: &str, text: &str) -> Result<String> {
    let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !(4..=17).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(field, "an account number is 4 to 17 digits"));
    }
    Ok(digits)
}

/// Checks an originator's company identification: 1 to 10 letters or digits
/// (commonly "1" followed by the town's 9-digit federal EIN).
pub fn check_company_id(field: &str, text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            field,
            "the company identification is 1 to 10 letters or digits, e.g. 1 and the town's EIN",
        ));
    }
    Ok(text.to_ascii_uppercase())
}

/// Standard entry class of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecCode {
    /// Corporate credit or debit: a business or government payee.
    Ccd,
    /// Prearranged payment and deposit: a person.
    Ppd,
}

impl SecCode {
    /// Its three letters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ccd => "CCD",
            Self::Ppd => "PPD",
        }
    }
    /// Parses CCD or PPD.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "CCD" => Ok(Self::Ccd),
            "PPD" => Ok(Self::Ppd),
            other => Err(Error::invalid(
                field,
                format!("{other:?} is not CCD (a business) or PPD (a person)"),
            )),
        }
    }
}

/// Kind of receiving account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    /// Checking (demand deposit): transaction code 22.
    Checking,
    /// Savings: transaction code 32.
    Savings,
}

impl AccountType {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checking => "checking",
            Self::Savings => "savings",
        }
    }
    /// Parses checking or savings.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "checking" => Ok(Self::Checking),
            "savings" => Ok(Self::Savings),
            other => Err(Error::invalid(
                field,
                format!("{other:?} is not checking or savings"),
            )),
        }
    }
    fn credit_code(self) -> &'static str {
        match self {
            Self::Checking => "22",
            Self::Savings => "32",
        }
    }
}

/// Who originates the file: the town's bank (the ODFI) and the town as company.
#[derive(Debug, Clone)]
pub struct Originator {
    /// The originating bank's routing number (checked).
    pub odfi_routing: String,
    /// The originating bank's name.
    pub bank_name: String,
    /// The town's name as the bank knows it (16 characters are carried).
    pub company_name: String,
    /// The company identification the bank assigned (checked).
    pub company_id: String,
}

/// One ACH credit to a payee.
#[derive(Debug, Clone)]
pub struct Credit {
    /// Standard entry class.
    pub sec: SecCode,
    /// Receiving account type.
    pub account_type: AccountType,
    /// Receiving bank's routing number (checked).
    pub routing: String,
    /// Receiving account number (checked).
    pub account: String,
    /// Amount, cents (positive).
    pub amount_cents: i64,
    /// The payee's id at the town (15 characters are carried).
    pub id_number: String,
    /// The payee's name (22 characters are carried).
    pub name: String,
    /// Payment-related information for the 05 addendum (80 characters are carried).
    pub addenda: String,
    /// Trace sequence, unique within the originating bank's files for the books.
    pub trace_seq: i64,
}

/// The file's own data.
#[derive(Debug, Clone, Copy)]
pub struct FileHeader {
    /// When the file is created (local time of the books).
    pub created: PrimitiveDateTime,
    /// File id modifier: A–Z, then 0–9, for files made the same day.
    pub modifier: char,
    /// The day the payees should be credited.
    pub effective: Date,
}

/// What NACHA allows in alphanumeric fields: upper-case printable ASCII,
/// left-justified, space-padded, cut to `len`.
fn alpha(out: &mut String, text: &str, len: usize) {
    let mut n = 0;
    for c in text.chars().take(len) {
        out.push(if c.is_ascii_graphic() || c == ' ' {
            c.to_ascii_uppercase()
        } else {
            ' '
        });
        n += 1;
    }
    out.extend(std::iter::repeat_n(' ', len - n));
}

/// A non-negative number, zero-padded to `len` digits (its rightmost `len` digits).
fn num(out: &mut String, n: i64, len: usize) {
    let s = format!(
        "{:0len$}",
        n.rem_euclid(10_i64.pow(u32::try_from(len).unwrap_or(18)))
    );
    out.push_str(&s);
}

fn yymmdd(d: Date) -> String {
    format!(
        "{:02}{:02}{:02}",
        d.year().rem_euclid(100),
        u8::from(d.month()),
        d.day()
    )
}

/// The modifier after `used` modifiers today: A–Z then 0–9.
pub fn modifier(used: usize) -> Result<char> {
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        .chars()
        .nth(used)
        .ok_or_else(|| {
            Error::conflict(
                "date",
                "36 ACH files were already made for these books today; the bank accepts no more",
            )
        })
}

/// Writes the file. Refuses malformed routing or account numbers, amounts
/// outside one cent to $99,999,999.99 and an empty list of credits.
pub fn write_file(orig: &Originator, header: &FileHeader, credits: &[Credit]) -> Result<String> {
    if credits.is_empty() {
        return Err(Error::conflict(
            "payment_run",
            "the payment run has no ACH payments",
        ));
    }
    check_routing("odfi_routing", &orig.odfi_routing)?;
    check_company_id("company_id", &orig.company_id)?;
    for c in credits {
        check_routing("routing", &c.routing)?;
        check_account("account", &c.account)?;
        if !(1..=9_999_999_999).contains(&c.amount_cents) {
            return Err(Error::invalid(
                "amount",
                format!(
                    "an ACH payment to {} must be between $0.01 and $99,999,999.99",
                    c.name
                ),
            ));
        }
    }
    let odfi8 = &orig.odfi_routing[..8];
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::with_capacity(94);
    // File header.
    line.push_str("101 ");
    line.push_str(&orig.odfi_routing);
    let _ = write!(line, "{:>10}", orig.company_id);
    line.push_str(&yymmdd(header.created.date()));
    let _ = write!(
        line,
        "{:02}{:02}",
        header.created.hour(),
        header.created.minute()
    );
    line.push(header.modifier);
    line.push_str("094101");
    alpha(&mut line, &orig.bank_name, 23);
    alpha(&mut line, &orig.company_name, 23);
    alpha(&mut line, "", 8);
    lines.push(std::mem::take(&mut line));

    let (mut file_count, mut file_hash, mut file_credit, mut batches) = (0i64, 0i64, 0i64, 0i64);
    for sec in [SecCode::Ccd, SecCode::Ppd] {
        let batch: Vec<&Credit> = credits.iter().filter(|c| c.sec == sec).collect();
        if batch.is_empty() {
            continue;
        }
        batches += 1;
        line.push_str("5220");
        alpha(&mut line, &orig.company_name, 16);
        alpha(&mut line, "", 20);
        alpha(&mut line, &orig.company_id, 10);
        line.push_str(sec.as_str());
        alpha(&mut line, "VENDOR PAY", 10);
        alpha(&mut line, "", 6);
        line.push_str(&yymmdd(header.effective));
        line.push_str("   1");
        line.push_str(odfi8);
        num(&mut line, batches, 7);
        lines.push(std::mem::take(&mut line));

        let (mut count, mut hash, mut credit) = (0i64, 0i64, 0i64);
        for c in batch {
            line.push('6');
            line.push_str(c.account_type.credit_code());
            line.push_str(&c.routing);
            alpha(&mut line, &c.account, 17);
            num(&mut line, c.amount_cents, 10);
            alpha(&mut line, &c.id_number, 15);
            alpha(&mut line, &c.name, 22);
            line.push_str("  1");
            line.push_str(odfi8);
            num(&mut line, c.trace_seq, 7);
            lines.push(std::mem::take(&mut line));
            line.push_str("705");
            alpha(&mut line, &c.addenda, 80);
            line.push_str("0001");
            num(&mut line, c.trace_seq, 7);
            lines.push(std::mem::take(&mut line));
            count += 2;
            hash += c.routing[..8].parse::<i64>().unwrap_or(0);
            credit += c.amount_cents;
        }
        line.push_str("8220");
        num(&mut line, count, 6);
        num(&mut line, hash, 10);
        num(&mut line, 0, 12);
        num(&mut line, credit, 12);
        alpha(&mut line, &orig.company_id, 10);
        alpha(&mut line, "", 25);
        line.push_str(odfi8);
        num(&mut line, batches, 7);
        lines.push(std::mem::take(&mut line));
        file_count += count;
        file_hash += hash;
        file_credit += credit;
    }
    let records = i64::try_from(lines.len()).unwrap_or(i64::MAX) + 1;
    line.push('9');
    num(&mut line, batches, 6);
    num(&mut line, (records + 9) / 10, 6);
    num(&mut line, file_count, 8);
    num(&mut line, file_hash, 10);
    num(&mut line, 0, 12);
    num(&mut line, file_credit, 12);
    alpha(&mut line, "", 39);
    lines.push(line);
    while !lines.len().is_multiple_of(10) {
        lines.push("9".repeat(94));
    }
    let mut out = String::with_capacity(lines.len() * 95);
    for l in lines {
        debug_assert_eq!(l.len(), 94, "{l}");
        out.push_str(&l);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn routing_numbers() {
        // Published routing numbers: the Federal Reserve Bank of Boston,
        // JPMorgan Chase (New York) and Bank of America (New York).
        for ok in ["011000015", "021000021", "026009593", " 011000015 "] {
            assert!(check_routing("routing", ok).is_ok(), "{ok}");
        }
        let e = check_routing("routing", "011000016").unwrap_err();
        assert!(e.to_string().contains("check digit"), "{e}");
        assert!(check_routing("routing", "01100001").is_err());
        assert!(check_routing("routing", "01100001x").is_err());
        assert_eq!(
            check_account("account", "1234-5678 90").ok().as_deref(),
            Some("1234567890")
        );
        assert!(check_account("account", "123").is_err());
        assert!(check_account("account", "123456789012345678").is_err());
        assert!(check_account("account", "12a4").is_err());
        assert!(check_company_id("company_id", "1066001234").is_ok());
        assert!(check_company_id("company_id", "10660012345").is_err());
    }

    fn orig() -> Originator {
        Originator {
            odfi_routing: "011000015".into(),
            bank_name: "Federal Reserve Bank".into(),
            company_name: "Town of Hartford".into(),
            company_id: "1066001234".into(),
        }
    }

    #[test]
    fn a_two_batch_file_matches_the_hand_written_one() -> Result<()> {
        let credits = [
            Credit {
                sec: SecCode::Ppd,
                account_type: AccountType::Savings,
                routing: "026009593".into(),
                account: "98765".into(),
                amount_cents: 30_000,
                id_number: "V0002".into(),
                name: "Jane Doe".into(),
                addenda: "INV 7".into(),
                trace_seq: 2,
            },
            Credit {
                sec: SecCode::Ccd,
                account_type: AccountType::Checking,
                routing: "021000021".into(),
                account: "123456789".into(),
                amount_cents: 125_050,
                id_number: "V0001".into(),
                name: "Acme Paving LLC".into(),
                addenda: "INV 1001 1002".into(),
                trace_seq: 1,
            },
        ];
        let text = write_file(
            &orig(),
            &FileHeader {
                created: datetime!(2026-11-26 14:05),
                modifier: 'A',
                effective: date!(2026 - 11 - 27),
            },
            &credits,
        )?;
        // Written field by field from the NACHA record layouts. Entry hash:
        // 02100002 + 02600959 = 04700961; credits 1,250.50 + 300.00 = 1,550.50;
        // 10 records, so one block and no padding.
        let sp = |n: usize| " ".repeat(n);
        let expected = [
            format!(
                "101 01100001510660012342611261405A094101FEDERAL RESERVE BANK{}TOWN OF HARTFORD{}{}",
                sp(3),
                sp(7),
                sp(8)
            ),
            format!(
                "5220TOWN OF HARTFORD{}1066001234CCDVENDOR PAY{}261127   1011000010000001",
                sp(20),
                sp(6)
            ),
            format!(
                "622021000021123456789{}0000125050V0001{}ACME PAVING LLC{}  1011000010000001",
                sp(8),
                sp(10),
                sp(7)
            ),
            format!("705INV 1001 1002{}00010000001", sp(67)),
            format!(
                "822000000200021000020000000000000000001250501066001234{}011000010000001",
                sp(25)
            ),
            format!(
                "5220TOWN OF HARTFORD{}1066001234PPDVENDOR PAY{}261127   1011000010000002",
                sp(20),
                sp(6)
            ),
            format!(
                "63202600959398765{}0000030000V0002{}JANE DOE{}  1011000010000002",
                sp(12),
                sp(10),
                sp(14)
            ),
            format!("705INV 7{}00010000002", sp(75)),
            format!(
                "822000000200026009590000000000000000000300001066001234{}011000010000002",
                sp(25)
            ),
            format!(
                "9000002000001000000040004700961000000000000000000155050{}",
                sp(39)
            ),
        ];
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got, expected.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(text.ends_with('\n'));
        Ok(())
    }

    #[test]
    fn short_files_are_padded_to_blocks_of_ten() -> Result<()> {
        let text = write_file(
            &orig(),
            &FileHeader {
                created: datetime!(2026-11-26 09:00),
                modifier: 'B',
                effective: date!(2026 - 11 - 30),
            },
            &[Credit {
                sec: SecCode::Ccd,
                account_type: AccountType::Checking,
                routing: "021000021".into(),
                account: "5555".into(),
                amount_cents: 1,
                id_number: "V9".into(),
                name: "Café Ünïcode".into(),
                addenda: String::new(),
                trace_seq: 12_345_678,
            }],
        )?;
        let lines: Vec<&str> = text.lines().collect();
        // Header, batch header, entry, addendum, batch control, file control, then four lines of nines.
        assert_eq!(lines.len(), 10);
        assert!(lines.iter().all(|l| l.len() == 94));
        assert_eq!(
            lines[6..].iter().filter(|l| **l == "9".repeat(94)).count(),
            4
        );
        assert!(lines[0].contains("2611260900B"));
        // Non-ASCII letters become spaces; the trace keeps its rightmost seven digits.
        assert_eq!(&lines[2][54..76], format!("CAF   N CODE{}", " ".repeat(10)));
        assert_eq!(&lines[2][79..], "011000012345678");
        assert!(lines[5].starts_with("9000001000001000000020002100002"));
        Ok(())
    }

    #[test]
    fn bad_amounts_and_empty_runs_are_refused() {
        let header = FileHeader {
            created: datetime!(2026-11-26 09:00),
            modifier: 'A',
            effective: date!(2026 - 11 - 30),
        };
        assert!(write_file(&orig(), &header, &[]).is_err());
        let c = Credit {
            sec: SecCode::Ccd,
            account_type: AccountType::Checking,
            routing: "021000021".into(),
            account: "5555".into(),
            amount_cents: 10_000_000_000,
            id_number: String::new(),
            name: "Big".into(),
            addenda: String::new(),
            trace_seq: 1,
        };
        let e = write_file(&orig(), &header, &[c]).unwrap_err();
        assert!(e.to_string().contains("Big"), "{e}");
        assert_eq!(modifier(0).ok(), Some('A'));
        assert_eq!(modifier(26).ok(), Some('0'));
        assert!(modifier(36).is_err());
    }
}
