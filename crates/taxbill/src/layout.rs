//! Where everything goes on the page: one US Letter page per bill, hand-placed.
//!
//! Coordinates are points (1/72 inch). The `top` arguments count down from the top edge of the
//! page, as a designer measures; [`Painter`] turns them into PDF's bottom-up coordinates. The
//! [`Slot`]s are shared with [`crate::Bill::validate`], which refuses text wider than its slot, so
//! nothing drawn here can overflow. The reasoning (window envelope, stubs) is in
//! docs/design/0007-tax-bills.md.

use pdf_writer::{Content, Name, Str};

use crate::amounts::{format_cents, format_date, format_dollars};
use crate::bill::{Bill, MAX_INSTALLMENTS};
use crate::scan_line::scan_line;
use crate::text::{self, Font};

/// US Letter, 8½" × 11".
pub(crate) const PAGE_WIDTH: f32 = 612.0;
/// US Letter, 8½" × 11".
pub(crate) const PAGE_HEIGHT: f32 = 792.0;
pub(crate) const MARGIN: f32 = 36.0;
pub(crate) const RIGHT: f32 = PAGE_WIDTH - MARGIN;

/// Resource names of the three fonts, shared by every page.
pub(crate) const FONT_REGULAR: Name<'static> = Name(b"F1");
/// Resource name of Helvetica-Bold.
pub(crate) const FONT_BOLD: Name<'static> = Name(b"F2");
/// Resource name of Courier.
pub(crate) const FONT_MONO: Name<'static> = Name(b"F3");

/// A place for one line of caller-given text: its font, size and the width it may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) font: Font,
    pub(crate) size: f32,
    pub(crate) room: f32,
}

/// The town's name in the header (its stub line at 9 pt is then at most 186 pt, within a stub).
pub(crate) const TOWN: Slot = Slot {
    font: Font::Bold,
    size: 16.0,
    room: 330.0,
};
pub(crate) const COLLECTOR_LEFT: f32 = 376.0;
/// Each line of the tax collector's block.
pub(crate) const COLLECTOR_LINE: Slot = Slot {
    font: Font::Regular,
    size: 9.0,
    room: RIGHT - COLLECTOR_LEFT,
};
/// Left edge of the envelope window's text: 1" (the window's left edge is ⅞" from the envelope's,
/// and the sheet may sit up to 1" right of it; the window then shows 0.875"–4.375" of the sheet).
pub(crate) const WINDOW_LEFT: f32 = 72.0;
/// First baseline in the window. A #10 window (1⅛" tall, ½" above the envelope's bottom) shows
/// 2.04"–3.17" from the top of a tri-folded sheet resting at the bottom of the envelope and
/// 2.5"–3.63" of one pushed to the top; the text keeps to 2.5"–3.17" (180–228 pt), which shows
/// either way: ascenders of the first line start at 181 pt, descenders of the fifth end at 227.4 pt.
pub(crate) const WINDOW_FIRST_BASELINE: f32 = 187.5;
/// Line spacing in the window: 5 lines of 9 pt in 46.3 pt.
pub(crate) const WINDOW_LEADING: f32 = 9.5;
/// Each line of owners and mailing address: 3.3" wide, the part of the 4½" window that shows
/// wherever the sheet sits across the envelope.
pub(crate) const WINDOW_LINE: Slot = Slot {
    font: Font::Regular,
    size: 9.0,
    room: 237.0,
};
pub(crate) const INFO_LABEL_LEFT: f32 = 340.0;
pub(crate) const INFO_VALUE_LEFT: f32 = 406.0;
/// Each value of the account and property block.
pub(crate) const INFO_VALUE: Slot = Slot {
    font: Font::Regular,
    size: 9.0,
    room: RIGHT - INFO_VALUE_LEFT,
};
const ASSESSMENT_AMOUNT_RIGHT: f32 = 290.0;
/// A label in the assessment table.
pub(crate) const ASSESSMENT_LABEL: Slot = Slot {
    font: Font::Regular,
    size: 9.0,
    room: 180.0,
};
/// The interest note and notes: full width, wrapped.
pub(crate) const NOTE: Slot = Slot {
    font: Font::Regular,
    size: 8.5,
    room: RIGHT - MARGIN,
};

/// The rule under the address and property blocks, and the tables below it.
pub(crate) const DIVIDER_TOP: f32 = 240.0;
const TABLE_TOP: f32 = 258.0;
const ROW: f32 = 11.5;
const INSTALLMENTS_LEFT: f32 = 320.0;
const NOTE_LEADING: f32 = 10.0;
/// From the lower table's last baseline to the computation line.
const COMPUTATION_GAP: f32 = 24.0;
/// From the computation line to the interest note.
const INTEREST_NOTE_GAP: f32 = 16.0;
/// From the interest note's last line to the notes.
const NOTES_GAP: f32 = 16.0;

/// The last baseline of a table of `rows` rows under its heading and column headings.
const fn table_bottom(rows: usize) -> f32 {
    TABLE_TOP + 14.0 + rows as f32 * ROW + ROW + 3.0
}

/// Stubs: two to a row, rows stacked up from the bottom margin.
const STUB_COLUMNS: usize = 2;
const STUB_HEIGHT: f32 = 100.0;
const STUB_BOTTOM_MARGIN: f32 = 24.0;
const STUB_PADDING: f32 = 8.0;
const STUB_WIDTH: f32 = (RIGHT - MARGIN) / STUB_COLUMNS as f32;

/// The top of the stub area for `installments` stubs, measured from the page's top.
fn stubs_top(installments: usize) -> f32 {
    let rows = installments.div_ceil(STUB_COLUMNS);
    PAGE_HEIGHT - STUB_BOTTOM_MARGIN - rows as f32 * STUB_HEIGHT
}

// The notes at their most must end above the stubs at their most; checked when compiling.
const _: () = {
    let tables_bottom = table_bottom(crate::bill::MAX_ASSESSMENT_LINES);
    let interest_bottom = tables_bottom
        + COMPUTATION_GAP
        + INTEREST_NOTE_GAP
        + (crate::bill::MAX_INTEREST_NOTE_LINES - 1) as f32 * NOTE_LEADING;
    let notes_bottom =
        interest_bottom + NOTES_GAP + (crate::bill::MAX_NOTE_LINES - 1) as f32 * NOTE_LEADING;
    let lowest_stubs_top = PAGE_HEIGHT - STUB_BOTTOM_MARGIN - 2.0 * STUB_HEIGHT;
    assert!(MAX_INSTALLMENTS <= 2 * STUB_COLUMNS);
    assert!(notes_bottom + 12.0 < lowest_stubs_top);
};

/// Draws into one page's content stream, reusing one buffer for the encoded text.
pub(crate) struct Painter {
    content: Content,
    encoded: Vec<u8>,
}

impl Painter {
    pub(crate) fn new() -> Self {
        Painter {
            content: Content::with_capacity(8 * 1024),
            encoded: Vec::with_capacity(128),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.content.finish().into_vec()
    }

    pub(crate) fn text(&mut self, font: Font, size: f32, left: f32, top: f32, value: &str) {
        self.encoded.clear();
        text::encode_into(value, &mut self.encoded);
        let name = match font {
            Font::Regular => FONT_REGULAR,
            Font::Bold => FONT_BOLD,
            Font::Mono => FONT_MONO,
        };
        self.content
            .begin_text()
            .set_font(name, size)
            .next_line(left, PAGE_HEIGHT - top)
            .show(Str(&self.encoded))
            .end_text();
    }

    pub(crate) fn text_right(&mut self, font: Font, size: f32, right: f32, top: f32, value: &str) {
        let width = text::width(value, font, size);
        self.text(font, size, right - width, top, value);
    }

    pub(crate) fn slot_text(&mut self, slot: Slot, left: f32, top: f32, value: &str) {
        self.text(slot.font, slot.size, left, top, value);
    }

    pub(crate) fn rule(&mut self, left: f32, right: f32, top: f32, width: f32) {
        self.content
            .set_line_width(width)
            .move_to(left, PAGE_HEIGHT - top)
            .line_to(right, PAGE_HEIGHT - top)
            .stroke();
    }

    fn dashed(&mut self, from: (f32, f32), to: (f32, f32)) {
        self.content
            .save_state()
            .set_line_width(0.6)
            .set_dash_pattern([4.0, 3.0], 0.0)
            .move_to(from.0, PAGE_HEIGHT - from.1)
            .line_to(to.0, PAGE_HEIGHT - to.1)
            .stroke()
            .restore_state();
    }
}

/// Draws one bill on one page. The bill must have passed [`Bill::validate`].
pub(crate) fn draw_bill(bill: &Bill, painter: &mut Painter) {
    draw_header(bill, painter);
    draw_window(bill, painter);
    draw_info(bill, painter);
    painter.rule(MARGIN, RIGHT, DIVIDER_TOP, 0.8);
    draw_assessment(bill, painter);
    draw_installments(bill, painter);
    draw_computation_and_notes(bill, painter);
    draw_stubs(bill, painter);
}

fn draw_header(bill: &Bill, p: &mut Painter) {
    p.slot_text(TOWN, MARGIN, 54.0, &bill.town);
    let title = format!(
        "Property Tax Bill \u{2014} Grand List of October 1, {}",
        bill.list_year
    );
    p.text(Font::Bold, 11.0, MARGIN, 72.0, &title);
    p.text(
        Font::Regular,
        9.0,
        MARGIN,
        86.0,
        &format!("{} tax", bill.class().label()),
    );

    p.text(Font::Bold, 8.0, COLLECTOR_LEFT, 46.0, "Make payments to");
    let mut top = 58.0;
    p.slot_text(COLLECTOR_LINE, COLLECTOR_LEFT, top, &bill.collector.name);
    for line in &bill.collector.address_lines {
        top += 11.0;
        p.slot_text(COLLECTOR_LINE, COLLECTOR_LEFT, top, line);
    }
    top += 11.0;
    p.slot_text(
        COLLECTOR_LINE,
        COLLECTOR_LEFT,
        top,
        &format!("Telephone {}", bill.collector.phone),
    );
}

fn draw_window(bill: &Bill, p: &mut Painter) {
    let lines = bill.owners.iter().chain(bill.mailing_address.iter());
    for (i, line) in lines.enumerate() {
        p.slot_text(
            WINDOW_LINE,
            WINDOW_LEFT,
            WINDOW_FIRST_BASELINE + i as f32 * WINDOW_LEADING,
            line,
        );
    }
}

fn draw_info(bill: &Bill, p: &mut Painter) {
    let mut rows: Vec<(&str, String)> = vec![
        ("Account", bill.account_id.clone()),
        ("Bill number", bill.bill_number.clone()),
        ("Bill class", bill.class().label().to_owned()),
    ];
    rows.extend(
        bill.property
            .lines()
            .into_iter()
            .map(|(label, value, _)| (label, value)),
    );
    let mut top = 150.0;
    for (label, value) in rows {
        p.text(Font::Bold, 8.0, INFO_LABEL_LEFT, top, label);
        p.slot_text(INFO_VALUE, INFO_VALUE_LEFT, top, &value);
        top += 12.0;
    }
}

fn draw_assessment(bill: &Bill, p: &mut Painter) {
    p.text(Font::Bold, 10.0, MARGIN, TABLE_TOP, "Assessment");
    let mut top = TABLE_TOP + 14.0;
    p.text(Font::Bold, 8.0, MARGIN, top, "Description");
    p.text_right(
        Font::Bold,
        8.0,
        ASSESSMENT_AMOUNT_RIGHT,
        top,
        "Assessed value",
    );
    p.rule(MARGIN, ASSESSMENT_AMOUNT_RIGHT, top + 3.0, 0.4);
    for line in &bill.assessment_lines {
        top += ROW;
        p.slot_text(ASSESSMENT_LABEL, MARGIN, top, &line.label);
        p.text_right(
            Font::Regular,
            9.0,
            ASSESSMENT_AMOUNT_RIGHT,
            top,
            &format_dollars(line.assessed_dollars),
        );
    }
    p.rule(MARGIN, ASSESSMENT_AMOUNT_RIGHT, top + 4.0, 0.4);
    top += ROW + 3.0;
    p.text(Font::Bold, 9.0, MARGIN, top, "Net assessment");
    p.text_right(
        Font::Bold,
        9.0,
        ASSESSMENT_AMOUNT_RIGHT,
        top,
        &format_dollars(bill.net_assessment_dollars),
    );
}

const COLUMN_DUE: f32 = INSTALLMENTS_LEFT + 16.0;
const COLUMN_GRACE: f32 = INSTALLMENTS_LEFT + 96.0;

fn draw_installments(bill: &Bill, p: &mut Painter) {
    p.text(
        Font::Bold,
        10.0,
        INSTALLMENTS_LEFT,
        TABLE_TOP,
        "Installments",
    );
    let mut top = TABLE_TOP + 14.0;
    p.text(Font::Bold, 8.0, INSTALLMENTS_LEFT, top, "No.");
    p.text(Font::Bold, 8.0, COLUMN_DUE, top, "Due date");
    p.text(
        Font::Bold,
        8.0,
        COLUMN_GRACE,
        top,
        "Last day without interest",
    );
    p.text_right(Font::Bold, 8.0, RIGHT, top, "Amount");
    p.rule(INSTALLMENTS_LEFT, RIGHT, top + 3.0, 0.4);
    for (i, installment) in bill.installments.iter().enumerate() {
        top += ROW;
        p.text(
            Font::Regular,
            9.0,
            INSTALLMENTS_LEFT,
            top,
            &(i + 1).to_string(),
        );
        p.text(
            Font::Regular,
            9.0,
            COLUMN_DUE,
            top,
            &format_date(installment.due),
        );
        p.text(
            Font::Regular,
            9.0,
            COLUMN_GRACE,
            top,
            &format_date(installment.last_day_without_interest),
        );
        p.text_right(
            Font::Regular,
            9.0,
            RIGHT,
            top,
            &format_cents(installment.amount_cents),
        );
    }
    p.rule(INSTALLMENTS_LEFT, RIGHT, top + 4.0, 0.4);
    top += ROW + 3.0;
    p.text(Font::Bold, 9.0, INSTALLMENTS_LEFT, top, "Total tax");
    p.text_right(
        Font::Bold,
        9.0,
        RIGHT,
        top,
        &format_cents(bill.gross_tax_cents),
    );
}

fn draw_computation_and_notes(bill: &Bill, p: &mut Painter) {
    let rows = bill.assessment_lines.len().max(bill.installments.len());
    let mut top = table_bottom(rows) + COMPUTATION_GAP;
    p.text(Font::Bold, 10.0, MARGIN, top, &computation_line(bill));
    top += INTEREST_NOTE_GAP;
    for line in text::wrap(&bill.interest_note, NOTE.font, NOTE.size, NOTE.room) {
        p.slot_text(NOTE, MARGIN, top, &line);
        top += NOTE_LEADING;
    }
    top += NOTES_GAP - NOTE_LEADING;
    for note in &bill.notes {
        for line in text::wrap(note, NOTE.font, NOTE.size, NOTE.room) {
            p.slot_text(NOTE, MARGIN, top, &line);
            top += NOTE_LEADING;
        }
    }
}

/// The computation as printed: "Net assessment 283,150 × mill rate 35.37 ÷ 1,000 = tax $10,015.02";
/// on a prorated bill with the months: "… ÷ 1,000 × 10/12 = tax $378.70".
pub(crate) fn computation_line(bill: &Bill) -> String {
    let months = bill
        .months_taxed
        .map_or(String::new(), |m| format!(" \u{d7} {m}/12"));
    format!(
        "Net assessment {} \u{d7} mill rate {} \u{f7} 1,000{months} = tax {}",
        format_dollars(bill.net_assessment_dollars),
        bill.mill_rate,
        format_cents(bill.gross_tax_cents)
    )
}

fn draw_stubs(bill: &Bill, p: &mut Painter) {
    let count = bill.installments.len();
    let top = stubs_top(count);
    p.text(
        Font::Regular,
        7.0,
        MARGIN,
        top - 4.0,
        "Detach along the dashed line and return the stub with your payment.",
    );
    p.dashed((0.0, top), (PAGE_WIDTH, top));
    let rows = count.div_ceil(STUB_COLUMNS);
    for row in 1..rows {
        let y = top + row as f32 * STUB_HEIGHT;
        p.dashed((0.0, y), (PAGE_WIDTH, y));
    }
    if count > 1 {
        let x = MARGIN + STUB_WIDTH;
        p.dashed((x, top), (x, PAGE_HEIGHT));
    }
    let first_owner = bill.owners.first().map(String::as_str).unwrap_or_default();
    for (i, installment) in bill.installments.iter().enumerate() {
        let left = MARGIN + (i % STUB_COLUMNS) as f32 * STUB_WIDTH + STUB_PADDING;
        let right = MARGIN + (i % STUB_COLUMNS + 1) as f32 * STUB_WIDTH - STUB_PADDING;
        let stub_top = top + (i / STUB_COLUMNS) as f32 * STUB_HEIGHT;
        p.text(Font::Bold, 9.0, left, stub_top + 15.0, &bill.town);
        p.text(
            Font::Regular,
            8.5,
            left,
            stub_top + 26.0,
            &format!(
                "Property tax payment stub \u{2014} installment {} of {count}",
                i + 1
            ),
        );
        p.text(
            Font::Regular,
            8.5,
            left,
            stub_top + 38.0,
            &format!("Account {}    Bill {}", bill.account_id, bill.bill_number),
        );
        p.text(Font::Regular, 8.5, left, stub_top + 49.0, first_owner);
        p.text(
            Font::Regular,
            8.5,
            left,
            stub_top + 62.0,
            &format!("Due {}", format_date(installment.due)),
        );
        p.text_right(
            Font::Bold,
            10.0,
            right,
            stub_top + 62.0,
            &format!("Amount due {}", format_cents(installment.amount_cents)),
        );
        p.text(
            Font::Regular,
            8.0,
            left,
            stub_top + 74.0,
            &format!(
                "Pay by {} without interest",
                format_date(installment.last_day_without_interest)
            ),
        );
        p.text(
            Font::Mono,
            8.0,
            left,
            stub_top + 89.0,
            &scan_line(
                &bill.account_id,
                &bill.bill_number,
                i + 1,
                installment.amount_cents,
                installment.due,
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_prorated_computation_fits_the_page() {
        let line = "Net assessment 999,999,999,999 \u{d7} mill rate 999.9999 \u{f7} 1,000 \u{d7} 12/12 = tax $99,999,999.99";
        assert!(text::width(line, Font::Bold, 10.0) <= RIGHT - MARGIN);
    }
}
