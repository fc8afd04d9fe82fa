//! The notice of assessment: what the assessor mails an owner whose assessment changed
//! (CGS 12-55 requires notice of an increase within ten days of signing the grand list), with how
//! the value was reached, the comparable sales behind it, and the owner's appeal rights.
//!
//! Like the bill, a pure description: every figure is the caller's, and [`Notice::validate`]
//! refuses a notice whose totals disagree with their lines or whose text does not fit.

use time::Date;

use crate::amounts::{format_date, format_dollars};
use crate::bill::{AssessmentLine, check_count, check_line, check_paragraph};
use crate::error::{BillError, Problem};
use crate::layout::{
    ASSESSMENT_LABEL, COLLECTOR_LEFT, COLLECTOR_LINE, DIVIDER_TOP, INFO_LABEL_LEFT, INFO_VALUE,
    INFO_VALUE_LEFT, MARGIN, NOTE, Painter, RIGHT, Slot, TOWN, WINDOW_FIRST_BASELINE,
    WINDOW_LEADING, WINDOW_LEFT, WINDOW_LINE,
};
use crate::text::Font;

/// At most this many lines in each assessment column (land, building, outbuildings…).
pub const MAX_ASSESSMENT_LINES: usize = 4;
/// At most this many lines of the valuation's components.
pub const MAX_VALUE_LINES: usize = 12;
/// At most this many comparable sales.
pub const MAX_COMPARABLES: usize = 5;
const MAX_METHOD_LINES: usize = 4;
const MAX_WINDOW_LINES: usize = 5;
const MAX_OFFICE_ADDRESS_LINES: usize = 3;

/// One notice of assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The municipality as it names itself: "Town of Wethersfield".
    pub town: String,
    /// The assessor's office: where to ask.
    pub office: Office,
    /// The grand list year of the new assessment.
    pub list_year: i32,
    /// The date of the notice.
    pub notice_date: Date,
    /// The account on the grand list.
    pub account_id: String,
    /// The parcel's map-block-lot.
    pub parcel: String,
    /// The parcel's street address.
    pub location: String,
    /// The owners (at least one).
    pub owners: Vec<String>,
    /// Their mailing address (owners and address together at most 5 lines).
    pub mailing_address: Vec<String>,
    /// The assessment on the previous grand list, by line; `None` when the account was not on it.
    pub previous: Option<Vec<AssessmentLine>>,
    /// The assessment on this grand list, by line (land, building).
    pub assessment: Vec<AssessmentLine>,
    /// The appraised (market) value in whole dollars, when the assessment is 70 % of it (not for
    /// land assessed at its PA 490 use value, nor when the value of record changed since the list).
    pub market_value_dollars: Option<i64>,
    /// How the value was reached, one paragraph (the model, its valuation date, its sales).
    pub method: String,
    /// The value's components: "Land (site, 1 acre)" $120,000, "Depreciation (22 %)" −$68,000…
    pub components: Vec<ValueLine>,
    /// Up to five comparable qualified sales with their adjustments (may be empty: a cost value).
    pub comparables: Vec<ComparableSale>,
    /// The last day to petition the Board of Assessment Appeals.
    pub appeal_deadline: Date,
}

/// The assessor's office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Office {
    /// "Assessor's Office".
    pub name: String,
    /// 1 to 3 lines.
    pub address_lines: Vec<String>,
    /// Telephone as printed.
    pub phone: String,
}

/// One component of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueLine {
    /// What it is.
    pub label: String,
    /// Whole dollars; negative for a deduction such as depreciation.
    pub dollars: i64,
}

/// A comparable sale as the notice lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparableSale {
    /// Its street address.
    pub location: String,
    /// The sale date.
    pub sale_date: Date,
    /// The price, whole dollars.
    pub price_dollars: i64,
    /// The net adjustment for its differences from this parcel, whole dollars.
    pub adjustment_dollars: i64,
    /// The adjusted price: price + adjustment.
    pub adjusted_dollars: i64,
}

const OFFICE_LINE: Slot = COLLECTOR_LINE;
/// A component label and a comparable's location.
const WIDE_LABEL: Slot = Slot {
    font: Font::Regular,
    size: 8.5,
    room: 230.0,
};
const COMPS_LOCATION: Slot = Slot {
    font: Font::Regular,
    size: 8.5,
    room: 170.0,
};
const ROW: f32 = 11.0;

fn total(lines: &[AssessmentLine]) -> i64 {
    lines.iter().map(|l| l.assessed_dollars).sum()
}

fn check_lines(field: &str, lines: &[AssessmentLine]) -> Result<(), BillError> {
    check_count(field, lines.len(), MAX_ASSESSMENT_LINES)?;
    for (i, l) in lines.iter().enumerate() {
        check_line(|| format!("{field}[{i}].label"), &l.label, ASSESSMENT_LABEL)?;
        if l.assessed_dollars < 0 {
            return Err(BillError::new(
                format!("{field}[{i}].assessed_dollars"),
                Problem::OutOfRange {
                    given: format_dollars(l.assessed_dollars),
                    allowed: "not below zero",
                },
            ));
        }
    }
    Ok(())
}

impl Notice {
    /// Checks that the notice's figures agree and its text fits; the error names the field.
    pub fn validate(&self) -> Result<(), BillError> {
        check_line(|| "town".into(), &self.town, TOWN)?;
        check_line(|| "office.name".into(), &self.office.name, OFFICE_LINE)?;
        check_count(
            "office.address_lines",
            self.office.address_lines.len(),
            MAX_OFFICE_ADDRESS_LINES,
        )?;
        for (i, l) in self.office.address_lines.iter().enumerate() {
            check_line(|| format!("office.address_lines[{i}]"), l, OFFICE_LINE)?;
        }
        check_line(|| "office.phone".into(), &self.office.phone, OFFICE_LINE)?;
        if !(1900..=9998).contains(&self.list_year) {
            return Err(BillError::new(
                "list_year",
                Problem::OutOfRange {
                    given: self.list_year.to_string(),
                    allowed: "a year from 1900 to 9998",
                },
            ));
        }
        for (field, value) in [
            ("account_id", &self.account_id),
            ("parcel", &self.parcel),
            ("location", &self.location),
        ] {
            check_line(|| field.into(), value, INFO_VALUE)?;
        }
        check_count("owners", self.owners.len(), MAX_WINDOW_LINES - 1)?;
        check_count(
            "mailing_address",
            self.mailing_address.len(),
            MAX_WINDOW_LINES - self.owners.len(),
        )?;
        for (i, l) in self.owners.iter().enumerate() {
            check_line(|| format!("owners[{i}]"), l, WINDOW_LINE)?;
        }
        for (i, l) in self.mailing_address.iter().enumerate() {
            check_line(|| format!("mailing_address[{i}]"), l, WINDOW_LINE)?;
        }
        check_lines("assessment", &self.assessment)?;
        if let Some(previous) = &self.previous {
            check_lines("previous", previous)?;
        }
        // The assessment is 70 % of the market value, rounded to the dollar (CGS 12-62a); a
        // line-by-line rounding may differ from it by a dollar a line.
        if let Some(market) = self.market_value_dollars
            && let expected = (market * 7 + 5) / 10
            && (total(&self.assessment) - expected).abs() > self.assessment.len() as i64
        {
            return Err(BillError::new(
                "market_value_dollars",
                Problem::Disagrees {
                    stated: format_dollars(total(&self.assessment)),
                    computed: format_dollars(expected),
                    reason: "70 % of the market value",
                },
            ));
        }
        let method = check_paragraph(|| "method".into(), &self.method, NOTE)?;
        if method.len() > MAX_METHOD_LINES {
            return Err(BillError::new(
                "method",
                Problem::TooManyLines {
                    lines: method.len(),
                    max: MAX_METHOD_LINES,
                },
            ));
        }
        check_count("components", self.components.len(), MAX_VALUE_LINES)?;
        for (i, c) in self.components.iter().enumerate() {
            check_line(|| format!("components[{i}].label"), &c.label, WIDE_LABEL)?;
        }
        if self.comparables.len() > MAX_COMPARABLES {
            return Err(BillError::new(
                "comparables",
                Problem::TooMany {
                    count: self.comparables.len(),
                    max: MAX_COMPARABLES,
                },
            ));
        }
        for (i, c) in self.comparables.iter().enumerate() {
            check_line(
                || format!("comparables[{i}].location"),
                &c.location,
                COMPS_LOCATION,
            )?;
            if c.price_dollars + c.adjustment_dollars != c.adjusted_dollars {
                return Err(BillError::new(
                    format!("comparables[{i}].adjusted_dollars"),
                    Problem::Disagrees {
                        stated: format_dollars(c.adjusted_dollars),
                        computed: format_dollars(c.price_dollars + c.adjustment_dollars),
                        reason: "the price plus the adjustment",
                    },
                ));
            }
        }
        if self.appeal_deadline < self.notice_date {
            return Err(BillError::new(
                "appeal_deadline",
                Problem::DateOrder(format!(
                    "the appeal deadline {} is before the notice date {}",
                    format_date(self.appeal_deadline),
                    format_date(self.notice_date)
                )),
            ));
        }
        Ok(())
    }

    /// The appeal paragraph printed at the foot.
    pub fn appeal_text(&self) -> String {
        format!(
            "If you believe this assessment is wrong, you may appeal to the Board of Assessment \
             Appeals: file a written petition with the assessor's office no later than {} \
             (CGS 12-111). Call the office first if you find a mistake in the facts about your \
             property; it can be corrected without an appeal. A decision of the board may be \
             appealed to the Superior Court within two months (CGS 12-117a).",
            format_date(self.appeal_deadline)
        )
    }
}

/// Draws a validated notice on one page.
pub(crate) fn draw_notice(n: &Notice, p: &mut Painter) {
    p.slot_text(TOWN, MARGIN, 54.0, &n.town);
    p.text(
        Font::Bold,
        11.0,
        MARGIN,
        72.0,
        &format!(
            "Notice of Assessment \u{2014} Grand List of October 1, {}",
            n.list_year
        ),
    );
    p.text(
        Font::Regular,
        9.0,
        MARGIN,
        86.0,
        &format!("Notice date {}", format_date(n.notice_date)),
    );
    p.text(Font::Bold, 8.0, COLLECTOR_LEFT, 46.0, "Questions");
    let mut top = 58.0;
    p.slot_text(OFFICE_LINE, COLLECTOR_LEFT, top, &n.office.name);
    for l in &n.office.address_lines {
        top += 11.0;
        p.slot_text(OFFICE_LINE, COLLECTOR_LEFT, top, l);
    }
    top += 11.0;
    p.slot_text(
        OFFICE_LINE,
        COLLECTOR_LEFT,
        top,
        &format!("Telephone {}", n.office.phone),
    );
    for (i, l) in n.owners.iter().chain(&n.mailing_address).enumerate() {
        p.slot_text(
            WINDOW_LINE,
            WINDOW_LEFT,
            WINDOW_FIRST_BASELINE + i as f32 * WINDOW_LEADING,
            l,
        );
    }
    let mut top = 150.0;
    for (label, value) in [
        ("Account", &n.account_id),
        ("Parcel", &n.parcel),
        ("Location", &n.location),
    ] {
        p.text(Font::Bold, 8.0, INFO_LABEL_LEFT, top, label);
        p.slot_text(INFO_VALUE, INFO_VALUE_LEFT, top, value);
        top += 12.0;
    }
    p.rule(MARGIN, RIGHT, DIVIDER_TOP, 0.8);
    let top = draw_assessment(n, p, DIVIDER_TOP + 18.0);
    let top = draw_method(n, p, top + 16.0);
    let top = draw_comparables(n, p, top + 16.0);
    let mut top = top + 18.0;
    p.text(Font::Bold, 10.0, MARGIN, top, "Your right to appeal");
    for line in crate::text::wrap(&n.appeal_text(), NOTE.font, NOTE.size, NOTE.room) {
        top += 10.0;
        p.slot_text(NOTE, MARGIN, top, &line);
    }
}

const PREVIOUS_RIGHT: f32 = 330.0;
const NEW_RIGHT: f32 = 440.0;

fn draw_assessment(n: &Notice, p: &mut Painter, top: f32) -> f32 {
    p.text(
        Font::Bold,
        10.0,
        MARGIN,
        top,
        "Assessment (70 % of market value)",
    );
    let mut top = top + 14.0;
    p.text(Font::Bold, 8.0, MARGIN, top, "Description");
    p.text_right(
        Font::Bold,
        8.0,
        PREVIOUS_RIGHT,
        top,
        &format!("Grand list {}", n.list_year - 1),
    );
    p.text_right(
        Font::Bold,
        8.0,
        NEW_RIGHT,
        top,
        &format!("Grand list {}", n.list_year),
    );
    p.text_right(Font::Bold, 8.0, RIGHT, top, "Change");
    p.rule(MARGIN, RIGHT, top + 3.0, 0.4);
    let previous_of = |label: &str| -> Option<i64> {
        n.previous.as_ref().map(|ls| {
            ls.iter()
                .filter(|l| l.label == label)
                .map(|l| l.assessed_dollars)
                .sum()
        })
    };
    let mut labels: Vec<&str> = n.assessment.iter().map(|l| l.label.as_str()).collect();
    for l in n.previous.iter().flatten() {
        if !labels.contains(&l.label.as_str()) {
            labels.push(&l.label);
        }
    }
    let row = |p: &mut Painter, top: f32, label: &str, old: Option<i64>, new: i64, font: Font| {
        p.text(font, 9.0, MARGIN, top, label);
        p.text_right(
            font,
            9.0,
            PREVIOUS_RIGHT,
            top,
            &old.map_or_else(|| "\u{2014}".to_owned(), format_dollars),
        );
        p.text_right(font, 9.0, NEW_RIGHT, top, &format_dollars(new));
        p.text_right(
            font,
            9.0,
            RIGHT,
            top,
            &old.map_or_else(
                || "new".to_owned(),
                |o| signed_dollars(new - o, "no change"),
            ),
        );
    };
    for label in labels {
        top += ROW;
        let new = n
            .assessment
            .iter()
            .filter(|l| l.label == label)
            .map(|l| l.assessed_dollars)
            .sum();
        row(p, top, label, previous_of(label), new, Font::Regular);
    }
    p.rule(MARGIN, RIGHT, top + 4.0, 0.4);
    top += ROW + 3.0;
    row(
        p,
        top,
        "Total assessment",
        n.previous.as_deref().map(total),
        total(&n.assessment),
        Font::Bold,
    );
    if let Some(market) = n.market_value_dollars {
        top += ROW;
        p.text(
            Font::Regular,
            9.0,
            MARGIN,
            top,
            &format!("Market value (100 %): {}", format_dollars(market)),
        );
    }
    top
}

/// A change in whole dollars with its sign, or `zero` when there is none.
fn signed_dollars(d: i64, zero: &str) -> String {
    match d {
        0 => zero.to_owned(),
        d if d > 0 => format!("+{}", format_dollars(d)),
        d => format!("-{}", format_dollars(-d)),
    }
}

const COMPONENT_RIGHT: f32 = 340.0;

fn draw_method(n: &Notice, p: &mut Painter, top: f32) -> f32 {
    p.text(
        Font::Bold,
        10.0,
        MARGIN,
        top,
        "How the market value was reached",
    );
    let mut top = top;
    for line in crate::text::wrap(&n.method, NOTE.font, NOTE.size, NOTE.room) {
        top += 10.0;
        p.slot_text(NOTE, MARGIN, top, &line);
    }
    top += 4.0;
    for c in &n.components {
        top += ROW;
        p.slot_text(WIDE_LABEL, MARGIN + 8.0, top, &c.label);
        p.text_right(
            Font::Regular,
            8.5,
            COMPONENT_RIGHT,
            top,
            &signed_or_plain(c.dollars),
        );
    }
    top
}

fn signed_or_plain(d: i64) -> String {
    if d < 0 {
        format!("-{}", format_dollars(-d))
    } else {
        format_dollars(d)
    }
}

const COMP_DATE: f32 = MARGIN + 178.0;
const COMP_PRICE_RIGHT: f32 = 350.0;
const COMP_ADJ_RIGHT: f32 = 450.0;

fn draw_comparables(n: &Notice, p: &mut Painter, top: f32) -> f32 {
    p.text(Font::Bold, 10.0, MARGIN, top, "Comparable sales");
    let mut top = top;
    if n.comparables.is_empty() {
        top += 12.0;
        p.slot_text(
            NOTE,
            MARGIN,
            top,
            "This value was reached by the cost approach; the assessor's office will show you \
             the sales it was checked against.",
        );
        return top;
    }
    top += 14.0;
    p.text(Font::Bold, 8.0, MARGIN, top, "Location");
    p.text(Font::Bold, 8.0, COMP_DATE, top, "Sale date");
    p.text_right(Font::Bold, 8.0, COMP_PRICE_RIGHT, top, "Price");
    p.text_right(Font::Bold, 8.0, COMP_ADJ_RIGHT, top, "Adjustments");
    p.text_right(Font::Bold, 8.0, RIGHT, top, "Adjusted price");
    p.rule(MARGIN, RIGHT, top + 3.0, 0.4);
    for c in &n.comparables {
        top += ROW;
        p.slot_text(COMPS_LOCATION, MARGIN, top, &c.location);
        p.text(
            Font::Regular,
            8.5,
            COMP_DATE,
            top,
            &format_date(c.sale_date),
        );
        p.text_right(
            Font::Regular,
            8.5,
            COMP_PRICE_RIGHT,
            top,
            &format_dollars(c.price_dollars),
        );
        p.text_right(
            Font::Regular,
            8.5,
            COMP_ADJ_RIGHT,
            top,
            &signed_dollars(c.adjustment_dollars, "none"),
        );
        p.text_right(
            Font::Regular,
            8.5,
            RIGHT,
            top,
            &format_dollars(c.adjusted_dollars),
        );
    }
    top
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use time::macros::date;

    use super::*;

    fn line(label: &str, dollars: i64) -> AssessmentLine {
        AssessmentLine {
            label: label.into(),
            assessed_dollars: dollars,
        }
    }

    /// A $270,000 house: land $50,000 and building $220,000 at 100 %, so $35,000 + $154,000 =
    /// $189,000 assessed (70 %).
    fn notice() -> Notice {
        Notice {
            town: "Town of Example".into(),
            office: Office {
                name: "Assessor's Office".into(),
                address_lines: vec!["1 Main Street".into(), "Example, CT 06000".into()],
                phone: "(860) 555-0100".into(),
            },
            list_year: 2025,
            notice_date: date!(2026 - 02 - 05),
            account_id: "RE-1-1-9".into(),
            parcel: "1-1-9".into(),
            location: "9 Oak St".into(),
            owners: vec!["Owner 9".into()],
            mailing_address: vec!["9 Oak St".into(), "Example, CT 06000".into()],
            previous: Some(vec![line("Land", 35_000), line("Building", 70_000)]),
            assessment: vec![line("Land", 35_000), line("Building", 154_000)],
            market_value_dollars: Some(270_000),
            method: "Valued by the market model of the 2025 revaluation.".into(),
            components: vec![ValueLine {
                label: "Market model value".into(),
                dollars: 270_000,
            }],
            comparables: vec![ComparableSale {
                location: "8 Oak St".into(),
                sale_date: date!(2025 - 02 - 14),
                price_dollars: 360_000,
                adjustment_dollars: -90_000,
                adjusted_dollars: 270_000,
            }],
            appeal_deadline: date!(2026 - 02 - 20),
        }
    }

    fn field(n: &Notice) -> String {
        n.validate().unwrap_err().field().to_owned()
    }

    #[test]
    fn a_notice_renders_and_bad_figures_name_their_field() {
        let pdf = crate::render_notices(&[notice()]).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let mut n = notice();
        n.market_value_dollars = Some(280_000);
        assert_eq!(field(&n), "market_value_dollars");
        let mut n = notice();
        n.comparables[0].adjusted_dollars = 271_000;
        assert_eq!(field(&n), "comparables[0].adjusted_dollars");
        let mut n = notice();
        n.comparables = vec![n.comparables[0].clone(); 6];
        assert_eq!(field(&n), "comparables");
        let mut n = notice();
        n.appeal_deadline = date!(2026 - 02 - 01);
        assert_eq!(field(&n), "appeal_deadline");
        let mut n = notice();
        n.owners.clear();
        assert_eq!(field(&n), "owners");
        let mut n = notice();
        n.method = "word ".repeat(200);
        assert_eq!(field(&n), "method");
        let err = crate::render_notices(&[notice(), n]).unwrap_err();
        assert_eq!((err.bill_index(), err.field()), (Some(1), "method"));
        assert_eq!(crate::render_notices(&[]).unwrap_err().field(), "notices");
    }
}
