//! What a tax bill says, and the checks that make it printable and true.

use std::fmt;

use time::{Date, Month};

use crate::amounts::{MillRate, format_cents, format_date, format_dollars};
use crate::error::{BillError, Problem};
use crate::layout::{self, Slot};
use crate::text;

/// The interest note Connecticut bills carry: CGS 12-146 charges interest on a late installment
/// at 1.5% a month from its due date, $2 at least.
pub const CT_INTEREST_NOTE: &str = "Interest is charged on any installment not paid by its last day \
to pay without interest: 1.5% per month (18% per year) from the due date, with a minimum of $2.00 \
(CGS 12-146).";

/// One property tax bill, as printed. Every field is the caller's: this crate computes nothing
/// but the layout, and [`Bill::validate`] (run by [`crate::render`]) refuses a bill whose figures
/// do not agree with each other or do not fit the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    /// The municipality as it names itself: "Town of Wethersfield", "City of Hartford".
    pub town: String,
    /// Who collects the tax and where payments go.
    pub collector: TaxCollector,
    /// The grand list year: the bill is on the grand list of October 1 of this year.
    pub list_year: i32,
    /// The bill number: A–Z, 0–9 and hyphens, at most 14 characters (it is on the scan line).
    pub bill_number: String,
    /// The taxpayer's account, unique in the town, e.g. "RE-004512": A–Z, 0–9 and hyphens, at
    /// most 12 characters (it is on the scan line).
    pub account_id: String,
    /// The owners as of the assessment date, one per line (at least one).
    pub owners: Vec<String>,
    /// The mailing address lines under the owners (at least one; owners and address together at
    /// most 5 lines, the depth of a #10 envelope's window).
    pub mailing_address: Vec<String>,
    /// What is taxed; it decides the bill class.
    pub property: Property,
    /// The assessment, line by line: "Land", "Building", and exemptions as negative lines named
    /// by their program ("Veteran exemption (CGS 12-81(19))"). At most 10 lines.
    pub assessment_lines: Vec<AssessmentLine>,
    /// The net assessment in whole dollars: the sum of the assessment lines.
    pub net_assessment_dollars: i64,
    /// The mill rate applied.
    pub mill_rate: MillRate,
    /// The tax in cents: net assessment × mill rate ÷ 1,000, rounded to the cent (down or up),
    /// times `months_taxed` ÷ 12 on a prorated bill.
    pub gross_tax_cents: i64,
    /// A prorated bill taxes part of the assessment year: a vehicle on the supplemental
    /// motor-vehicle list pays for the months from its registration to the next October 1
    /// (CGS 12-71b), 1 to 12. `None` (a whole year) on every other bill.
    pub months_taxed: Option<u8>,
    /// The installments, in due-date order, adding up to the tax (1 to 4).
    pub installments: Vec<Installment>,
    /// How late payments are charged; Connecticut towns print [`CT_INTEREST_NOTE`].
    pub interest_note: String,
    /// Further notes, each a paragraph (together at most 6 printed lines).
    pub notes: Vec<String>,
}

/// The town's tax collector, printed at the top right as where to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxCollector {
    /// "Tax Collector, Jane Smith, CCMC" or the office's name.
    pub name: String,
    /// Street, city, state and ZIP: 1 to 3 lines.
    pub address_lines: Vec<String>,
    /// The office's telephone number as it should be printed.
    pub phone: String,
}

/// What the bill taxes. The bill class follows from it ([`Property::class`]), so a motor
/// vehicle bill cannot carry a parcel id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    /// Land and buildings.
    RealEstate {
        /// Street address of the parcel: "123 MAIN ST".
        location: String,
        /// The assessor's map-block-lot.
        parcel: ParcelId,
    },
    /// Business personal property declared to the assessor.
    PersonalProperty {
        /// The business as declared: "Désirée's Bakery LLC".
        business_name: String,
        /// Where the property is kept.
        location: String,
    },
    /// A registered motor vehicle (from DMV data).
    MotorVehicle {
        /// Year, make and model: "2019 HONDA CR-V".
        description: String,
        /// Vehicle identification number.
        vin: String,
        /// Registration plate, if the town prints it.
        plate: Option<String>,
    },
}

/// The class of a bill, from its [`Property`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillClass {
    /// Real estate.
    RealEstate,
    /// Personal property.
    PersonalProperty,
    /// Motor vehicle.
    MotorVehicle,
}

impl BillClass {
    /// The class as printed: "Real estate".
    pub fn label(self) -> &'static str {
        match self {
            BillClass::RealEstate => "Real estate",
            BillClass::PersonalProperty => "Personal property",
            BillClass::MotorVehicle => "Motor vehicle",
        }
    }
}

impl fmt::Display for BillClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Property {
    /// The bill class this property is billed under.
    pub fn class(&self) -> BillClass {
        match self {
            Property::RealEstate { .. } => BillClass::RealEstate,
            Property::PersonalProperty { .. } => BillClass::PersonalProperty,
            Property::MotorVehicle { .. } => BillClass::MotorVehicle,
        }
    }

    /// The (label, value, field path) lines printed in the property block.
    pub(crate) fn lines(&self) -> Vec<(&'static str, String, &'static str)> {
        match self {
            Property::RealEstate { location, parcel } => vec![
                ("Location", location.clone(), "property.location"),
                ("Map-block-lot", parcel.to_string(), "property.parcel"),
            ],
            Property::PersonalProperty {
                business_name,
                location,
            } => vec![
                ("Business", business_name.clone(), "property.business_name"),
                ("Location", location.clone(), "property.location"),
            ],
            Property::MotorVehicle {
                description,
                vin,
                plate,
            } => {
                let mut lines = vec![
                    ("Vehicle", description.clone(), "property.description"),
                    ("VIN", vin.clone(), "property.vin"),
                ];
                if let Some(plate) = plate {
                    lines.push(("Plate", plate.clone(), "property.plate"));
                }
                lines
            }
        }
    }
}

/// A parcel's map, block and lot as the assessor numbers it, printed "12-3-45".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParcelId {
    map: String,
    block: String,
    lot: String,
}

impl ParcelId {
    /// Builds a parcel id; each part is 1 to 8 letters, digits or points ("12", "3", "45.1").
    pub fn new(map: &str, block: &str, lot: &str) -> Result<ParcelId, BillError> {
        for (part, name) in [(map, "map"), (block, "block"), (lot, "lot")] {
            let valid = !part.is_empty()
                && part.len() <= 8
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
            if !valid {
                return Err(BillError::new(
                    format!("property.parcel.{name}"),
                    Problem::Malformed {
                        given: part.to_owned(),
                        expected: "1 to 8 letters, digits or points",
                    },
                ));
            }
        }
        Ok(ParcelId {
            map: map.to_owned(),
            block: block.to_owned(),
            lot: lot.to_owned(),
        })
    }

    /// The map number.
    pub fn map(&self) -> &str {
        &self.map
    }

    /// The block number.
    pub fn block(&self) -> &str {
        &self.block
    }

    /// The lot number.
    pub fn lot(&self) -> &str {
        &self.lot
    }
}

impl fmt::Display for ParcelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.map, self.block, self.lot)
    }
}

/// One line of the assessment table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentLine {
    /// "Land", "Building", "Elderly exemption (CGS 12-81(21))".
    pub label: String,
    /// Assessed value in whole dollars; negative for an exemption.
    pub assessed_dollars: i64,
}

/// One installment of the tax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installment {
    /// The due date; interest on a late payment runs from it.
    pub due: Date,
    /// The amount due, in cents.
    pub amount_cents: i64,
    /// The last day the installment may be paid without interest (the end of the grace month,
    /// moved past a weekend or holiday as the town's calendar says).
    pub last_day_without_interest: Date,
}

/// A character that prints as [`crate::REPLACEMENT`] because WinAnsiEncoding lacks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacedCharacter {
    /// The field holding it, e.g. `owners[0]`.
    pub field: String,
    /// The character.
    pub character: char,
}

/// The largest assessment line or net assessment accepted, in dollars.
const MAX_ASSESSMENT_DOLLARS: i64 = 999_999_999_999;
/// The largest tax or installment accepted, in cents: 10 digits on the scan line.
const MAX_TAX_CENTS: i64 = 9_999_999_999;
/// Owners and mailing address lines together: the depth of the envelope window.
pub(crate) const MAX_WINDOW_LINES: usize = 5;
/// Rows of the assessment table.
pub(crate) const MAX_ASSESSMENT_LINES: usize = 10;
/// Rows of the installment table, and stubs.
pub(crate) const MAX_INSTALLMENTS: usize = 4;
/// Address lines of the tax collector.
pub(crate) const MAX_COLLECTOR_ADDRESS_LINES: usize = 3;
/// Printed lines of the interest note.
pub(crate) const MAX_INTEREST_NOTE_LINES: usize = 3;
/// Printed lines of all notes together.
pub(crate) const MAX_NOTE_LINES: usize = 6;

/// Checks one line of text against the slot it prints in.
pub(crate) fn check_line(
    field: impl Fn() -> String,
    value: &str,
    slot: Slot,
) -> Result<(), BillError> {
    if value.trim().is_empty() {
        return Err(BillError::new(field(), Problem::Empty));
    }
    if value.chars().any(char::is_control) {
        return Err(BillError::new(field(), Problem::ControlCharacter));
    }
    let width = text::width(value, slot.font, slot.size);
    if width > slot.room {
        return Err(BillError::new(
            field(),
            Problem::TooWide {
                width_pt: width.ceil() as u32,
                room_pt: slot.room as u32,
            },
        ));
    }
    Ok(())
}

/// Checks a paragraph that wraps within `slot`, returning its printed lines.
pub(crate) fn check_paragraph(
    field: impl Fn() -> String,
    value: &str,
    slot: Slot,
) -> Result<Vec<String>, BillError> {
    if value.trim().is_empty() {
        return Err(BillError::new(field(), Problem::Empty));
    }
    if value.chars().any(char::is_control) {
        return Err(BillError::new(field(), Problem::ControlCharacter));
    }
    let lines = text::wrap(value, slot.font, slot.size, slot.room);
    for line in &lines {
        check_line(&field, line, slot)?;
    }
    Ok(lines)
}

pub(crate) fn check_count(field: &str, count: usize, max: usize) -> Result<(), BillError> {
    if count == 0 {
        return Err(BillError::new(field, Problem::Empty));
    }
    if count > max {
        return Err(BillError::new(field, Problem::TooMany { count, max }));
    }
    Ok(())
}

/// Account ids and bill numbers go on the scan line: capitals, digits and hyphens only.
fn check_scan_field(
    field: &str,
    value: &str,
    max_len: usize,
    expected: &'static str,
) -> Result<(), BillError> {
    let valid = !value.is_empty()
        && value.len() <= max_len
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && value.bytes().any(|b| b != b'-');
    if valid {
        Ok(())
    } else {
        Err(BillError::new(
            field,
            Problem::Malformed {
                given: value.to_owned(),
                expected,
            },
        ))
    }
}

impl Bill {
    /// The bill class, from the property.
    pub fn class(&self) -> BillClass {
        self.property.class()
    }

    /// Checks that the bill can be printed and that its figures agree; [`crate::render`] runs it
    /// first. The first problem found is returned, naming its field:
    /// - every text is non-empty, one line, and fits its space on the page;
    /// - the account id and bill number suit the scan line;
    /// - the assessment lines add up to the net assessment, which is not negative;
    /// - the gross tax is net assessment × mill rate ÷ 1,000 (× months taxed ÷ 12 on a prorated
    ///   bill) rounded to the cent, down or up;
    /// - the installments are positive, due after the October 1 assessment date in date order,
    ///   each payable without interest until a day not before its due date, and add up to the tax;
    /// - lists stay within the page: 5 window lines, 10 assessment lines, 4 installments, 3 lines
    ///   of interest note and 6 of notes.
    pub fn validate(&self) -> Result<(), BillError> {
        self.validate_parties()?;
        self.validate_property()?;
        self.validate_assessment()?;
        self.validate_installments()?;
        self.validate_notes()?;
        Ok(())
    }

    fn validate_parties(&self) -> Result<(), BillError> {
        check_line(|| "town".into(), &self.town, layout::TOWN)?;
        check_line(
            || "collector.name".into(),
            &self.collector.name,
            layout::COLLECTOR_LINE,
        )?;
        check_count(
            "collector.address_lines",
            self.collector.address_lines.len(),
            MAX_COLLECTOR_ADDRESS_LINES,
        )?;
        for (i, line) in self.collector.address_lines.iter().enumerate() {
            check_line(
                || format!("collector.address_lines[{i}]"),
                line,
                layout::COLLECTOR_LINE,
            )?;
        }
        check_line(
            || "collector.phone".into(),
            &self.collector.phone,
            layout::COLLECTOR_LINE,
        )?;
        if !(1900..=9998).contains(&self.list_year) {
            return Err(BillError::new(
                "list_year",
                Problem::OutOfRange {
                    given: self.list_year.to_string(),
                    allowed: "a year from 1900 to 9998",
                },
            ));
        }
        check_scan_field(
            "account_id",
            &self.account_id,
            12,
            "an account id of at most 12 capital letters, digits and hyphens, such as RE-004512",
        )?;
        check_scan_field(
            "bill_number",
            &self.bill_number,
            14,
            "a bill number of at most 14 capital letters, digits and hyphens, such as 2025-004512",
        )?;
        check_count("owners", self.owners.len(), MAX_WINDOW_LINES - 1)?;
        for (i, owner) in self.owners.iter().enumerate() {
            check_line(|| format!("owners[{i}]"), owner, layout::WINDOW_LINE)?;
        }
        check_count(
            "mailing_address",
            self.mailing_address.len(),
            MAX_WINDOW_LINES - 1,
        )?;
        for (i, line) in self.mailing_address.iter().enumerate() {
            check_line(
                || format!("mailing_address[{i}]"),
                line,
                layout::WINDOW_LINE,
            )?;
        }
        let window_lines = self.owners.len() + self.mailing_address.len();
        if window_lines > MAX_WINDOW_LINES {
            return Err(BillError::new(
                "mailing_address",
                Problem::TooManyLines {
                    lines: window_lines,
                    max: MAX_WINDOW_LINES,
                },
            ));
        }
        Ok(())
    }

    fn validate_property(&self) -> Result<(), BillError> {
        for (_, value, field) in self.property.lines() {
            check_line(|| field.into(), &value, layout::INFO_VALUE)?;
        }
        Ok(())
    }

    fn validate_assessment(&self) -> Result<(), BillError> {
        check_count(
            "assessment_lines",
            self.assessment_lines.len(),
            MAX_ASSESSMENT_LINES,
        )?;
        let mut sum: i128 = 0;
        for (i, line) in self.assessment_lines.iter().enumerate() {
            check_line(
                || format!("assessment_lines[{i}].label"),
                &line.label,
                layout::ASSESSMENT_LABEL,
            )?;
            if line.assessed_dollars.unsigned_abs() > MAX_ASSESSMENT_DOLLARS.unsigned_abs() {
                return Err(BillError::new(
                    format!("assessment_lines[{i}].assessed_dollars"),
                    Problem::OutOfRange {
                        given: format_dollars(line.assessed_dollars),
                        allowed: "at most 999,999,999,999 dollars either way",
                    },
                ));
            }
            sum += i128::from(line.assessed_dollars);
        }
        if !(0..=MAX_ASSESSMENT_DOLLARS).contains(&self.net_assessment_dollars) {
            return Err(BillError::new(
                "net_assessment_dollars",
                Problem::OutOfRange {
                    given: format_dollars(self.net_assessment_dollars),
                    allowed: "from 0 to 999,999,999,999 dollars",
                },
            ));
        }
        if sum != i128::from(self.net_assessment_dollars) {
            return Err(BillError::new(
                "net_assessment_dollars",
                Problem::Disagrees {
                    stated: format_dollars(self.net_assessment_dollars),
                    computed: i64::try_from(sum).map_or_else(|_| sum.to_string(), format_dollars),
                    reason: "the sum of the assessment lines",
                },
            ));
        }
        if !(1..=MAX_TAX_CENTS).contains(&self.gross_tax_cents) {
            return Err(BillError::new(
                "gross_tax_cents",
                Problem::OutOfRange {
                    given: format_cents(self.gross_tax_cents),
                    allowed: "from $0.01 to $99,999,999.99",
                },
            ));
        }
        let months = match self.months_taxed {
            None => 12,
            Some(m @ 1..=12) => m,
            Some(m) => {
                return Err(BillError::new(
                    "months_taxed",
                    Problem::OutOfRange {
                        given: m.to_string(),
                        allowed: "1 to 12 months",
                    },
                ));
            }
        };
        let (floor, ceil) = self
            .mill_rate
            .prorated_tax_cents_bounds(self.net_assessment_dollars, months);
        let gross = i128::from(self.gross_tax_cents);
        if gross != floor && gross != ceil {
            // floor and ceil are within 1 cent of gross's range here or far outside; print them
            // exactly either way.
            let show = |c: i128| i64::try_from(c).map_or_else(|_| c.to_string(), format_cents);
            let computed = if floor == ceil {
                show(floor)
            } else {
                format!("{} or {}", show(floor), show(ceil))
            };
            return Err(BillError::new(
                "gross_tax_cents",
                Problem::Disagrees {
                    stated: format_cents(self.gross_tax_cents),
                    computed,
                    reason: if months == 12 {
                        "net assessment × mill rate ÷ 1,000, rounded to the cent"
                    } else {
                        "net assessment × mill rate ÷ 1,000 × months taxed ÷ 12, rounded to the cent"
                    },
                },
            ));
        }
        Ok(())
    }

    fn validate_installments(&self) -> Result<(), BillError> {
        check_count("installments", self.installments.len(), MAX_INSTALLMENTS)?;
        let assessment_date =
            Date::from_calendar_date(self.list_year, Month::October, 1).map_err(|_| {
                BillError::new(
                    "list_year",
                    Problem::OutOfRange {
                        given: self.list_year.to_string(),
                        allowed: "a year from 1900 to 9998",
                    },
                )
            })?;
        let mut previous_due: Option<Date> = None;
        let mut total: i64 = 0;
        for (i, installment) in self.installments.iter().enumerate() {
            if !(1..=MAX_TAX_CENTS).contains(&installment.amount_cents) {
                return Err(BillError::new(
                    format!("installments[{i}].amount_cents"),
                    Problem::OutOfRange {
                        given: format_cents(installment.amount_cents),
                        allowed: "from $0.01 to $99,999,999.99",
                    },
                ));
            }
            // At most 4 × 10^10: no overflow.
            total += installment.amount_cents;
            if installment.due <= assessment_date {
                return Err(BillError::new(
                    format!("installments[{i}].due"),
                    Problem::DateOrder(format!(
                        "{} is not after the assessment date, October 1, {}",
                        format_date(installment.due),
                        self.list_year
                    )),
                ));
            }
            if let Some(previous) = previous_due
                && installment.due <= previous
            {
                return Err(BillError::new(
                    format!("installments[{i}].due"),
                    Problem::DateOrder(format!(
                        "{} is not after the previous installment's due date, {}",
                        format_date(installment.due),
                        format_date(previous)
                    )),
                ));
            }
            if installment.last_day_without_interest < installment.due {
                return Err(BillError::new(
                    format!("installments[{i}].last_day_without_interest"),
                    Problem::DateOrder(format!(
                        "{} is before the due date, {}",
                        format_date(installment.last_day_without_interest),
                        format_date(installment.due)
                    )),
                ));
            }
            previous_due = Some(installment.due);
        }
        if total != self.gross_tax_cents {
            return Err(BillError::new(
                "installments",
                Problem::Disagrees {
                    stated: format!("{} in total", format_cents(total)),
                    computed: format_cents(self.gross_tax_cents),
                    reason: "the gross tax",
                },
            ));
        }
        Ok(())
    }

    fn validate_notes(&self) -> Result<(), BillError> {
        let lines = check_paragraph(|| "interest_note".into(), &self.interest_note, layout::NOTE)?;
        if lines.len() > MAX_INTEREST_NOTE_LINES {
            return Err(BillError::new(
                "interest_note",
                Problem::TooManyLines {
                    lines: lines.len(),
                    max: MAX_INTEREST_NOTE_LINES,
                },
            ));
        }
        let mut note_lines = 0;
        for (i, note) in self.notes.iter().enumerate() {
            note_lines += check_paragraph(|| format!("notes[{i}]"), note, layout::NOTE)?.len();
        }
        if note_lines > MAX_NOTE_LINES {
            return Err(BillError::new(
                "notes",
                Problem::TooManyLines {
                    lines: note_lines,
                    max: MAX_NOTE_LINES,
                },
            ));
        }
        Ok(())
    }

    /// Every character of the bill's text that WinAnsiEncoding lacks and that therefore prints
    /// as [`crate::REPLACEMENT`] (`?`), with its field; empty when the bill prints as given.
    /// A caller can show these to a clerk before a bulk run.
    pub fn replaced_characters(&self) -> Vec<ReplacedCharacter> {
        let mut fields: Vec<(String, &str)> = vec![
            ("town".into(), &self.town),
            ("collector.name".into(), &self.collector.name),
            ("collector.phone".into(), &self.collector.phone),
            ("interest_note".into(), &self.interest_note),
        ];
        let lists: [(&str, &[String]); 4] = [
            ("collector.address_lines", &self.collector.address_lines),
            ("owners", &self.owners),
            ("mailing_address", &self.mailing_address),
            ("notes", &self.notes),
        ];
        for (name, list) in lists {
            fields.extend(
                list.iter()
                    .enumerate()
                    .map(|(i, s)| (format!("{name}[{i}]"), s.as_str())),
            );
        }
        for (i, line) in self.assessment_lines.iter().enumerate() {
            fields.push((format!("assessment_lines[{i}].label"), &line.label));
        }
        let property_lines = self.property.lines();
        let mut found: Vec<ReplacedCharacter> = Vec::new();
        for (field, value) in fields
            .iter()
            .map(|(f, v)| (f.as_str(), *v))
            .chain(property_lines.iter().map(|(_, v, f)| (*f, v.as_str())))
        {
            found.extend(text::replaced(value).map(|character| ReplacedCharacter {
                field: field.to_owned(),
                character,
            }));
        }
        found
    }
}
