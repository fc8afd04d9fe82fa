//! Connecticut property tax bills, and notices of assessment, as PDF.
//!
//! A pure renderer: a [`Bill`] holds everything printed on it (the caller computes the amounts),
//! [`render`] turns one into a one-page US Letter PDF and [`render_many`] turns a batch into one
//! PDF with a page per bill. No database, no network, no clock: the same bills give the same bytes.
//!
//! *API boundary*: the bill's figures must agree — assessment lines with the net assessment, the
//! printed computation (net assessment × mill rate ÷ 1,000) with the tax, the installments with the
//! tax — and every text must fit its place; [`Bill::validate`] checks this before anything is
//! drawn and a [`BillError`] names the field at fault.
//!
//! Text prints in three of the standard 14 PDF fonts (Helvetica, Helvetica-Bold, Courier), which
//! every reader has, in WinAnsiEncoding: Latin-1 letters ("Désirée O'Neil") print as themselves,
//! any other character as [`REPLACEMENT`] (`?`), and [`Bill::replaced_characters`] lists them.
//! Design: docs/design/0007-tax-bills.md.

mod amounts;
mod bill;
mod error;
mod layout;
mod notice;
mod rc075;
mod scan_line;
mod text;
mod winansi_tables;

use pdf_writer::{Finish, Name, Pdf, Rect, Ref, TextStr};

pub use amounts::{MillRate, format_cents, format_date, format_dollars};
pub use bill::{
    AssessmentLine, Bill, BillClass, CT_INTEREST_NOTE, Installment, ParcelId, Property,
    ReplacedCharacter, TaxCollector,
};
pub use error::{BillError, Problem};
pub use notice::{ComparableSale, MAX_COMPARABLES, Notice, Office, ValueLine};
pub use rc075::{DispositionAuthorization, DispositionLine, render_disposition};
pub use text::REPLACEMENT;

/// Renders one bill as a one-page US Letter PDF, after [`Bill::validate`].
pub fn render(bill: &Bill) -> Result<Vec<u8>, BillError> {
    bill.validate()?;
    Ok(write_document(std::slice::from_ref(bill)))
}

/// Renders a batch as one PDF, one page per bill in the order given, for a bulk print run. The
/// pages share one set of font resources. Every bill is checked before any is drawn; the error
/// names the first bad bill by its index ([`BillError::bill_index`]). An empty batch and one of
/// more than [`MAX_BATCH`] bills are refused.
pub fn render_many(bills: &[Bill]) -> Result<Vec<u8>, BillError> {
    if bills.is_empty() {
        return Err(BillError::new("bills", Problem::Empty));
    }
    if bills.len() > MAX_BATCH {
        return Err(BillError::new(
            "bills",
            Problem::TooMany {
                count: bills.len(),
                max: MAX_BATCH,
            },
        ));
    }
    for (index, bill) in bills.iter().enumerate() {
        bill.validate().map_err(|e| e.in_batch(index))?;
    }
    Ok(write_document(bills))
}

/// Renders notices of assessment as one PDF, a page per notice, after [`Notice::validate`]; the
/// error names the first bad notice by its index. An empty batch and one of more than
/// [`MAX_BATCH`] notices are refused.
pub fn render_notices(notices: &[Notice]) -> Result<Vec<u8>, BillError> {
    if notices.is_empty() {
        return Err(BillError::new("notices", Problem::Empty));
    }
    if notices.len() > MAX_BATCH {
        return Err(BillError::new(
            "notices",
            Problem::TooMany {
                count: notices.len(),
                max: MAX_BATCH,
            },
        ));
    }
    for (index, n) in notices.iter().enumerate() {
        n.validate().map_err(|e| e.in_batch(index))?;
    }
    let title = match notices {
        [n] => format!(
            "{} notice of assessment {}, grand list {}",
            n.town, n.account_id, n.list_year
        ),
        _ => format!("Notices of assessment ({} notices)", notices.len()),
    };
    Ok(write_pdf(&title, notices.len(), |i, p| {
        notice::draw_notice(&notices[i], p);
    }))
}

/// The most bills [`render_many`] puts in one PDF: about 1.4 GB of PDF held in memory. A larger
/// run is split by the caller (per class, per page range).
pub const MAX_BATCH: usize = 200_000;

/// Object numbers: the fixed objects first, then a page and its content stream per bill.
const CATALOG: Ref = Ref::new(1);
const PAGE_TREE: Ref = Ref::new(2);
const RESOURCES: Ref = Ref::new(3);
const HELVETICA: Ref = Ref::new(4);
const HELVETICA_BOLD: Ref = Ref::new(5);
const COURIER: Ref = Ref::new(6);
const INFO: Ref = Ref::new(7);
const FIRST_PAGE: i32 = 8;

/// The page object and content stream of the bill at `index` (below [`MAX_BATCH`], so the numbers
/// stay far below PDF's limit of 2^23 objects).
fn page_refs(index: usize) -> (Ref, Ref) {
    // MAX_BATCH fits i32; the fallback is never taken.
    let n = i32::try_from(index.min(MAX_BATCH)).unwrap_or(0);
    let page = FIRST_PAGE + 2 * n;
    (Ref::new(page), Ref::new(page + 1))
}

/// Writes the PDF of validated bills.
fn write_document(bills: &[Bill]) -> Vec<u8> {
    let title = match bills {
        [bill] => format!(
            "{} property tax bill {}, grand list {}",
            bill.town, bill.bill_number, bill.list_year
        ),
        _ => format!("Property tax bills ({} bills)", bills.len()),
    };
    write_pdf(&title, bills.len(), |i, p| layout::draw_bill(&bills[i], p))
}

/// Writes a PDF of `pages` US Letter pages (at most [`MAX_BATCH`]), each drawn by `draw`.
fn write_pdf(title: &str, pages: usize, draw: impl Fn(usize, &mut layout::Painter)) -> Vec<u8> {
    // About 7 KB per page: content streams are left uncompressed (no deflate dependency).
    let mut pdf = Pdf::with_capacity(1024 + pages * 8 * 1024);
    pdf.catalog(CATALOG).pages(PAGE_TREE);
    let page_ids: Vec<Ref> = (0..pages).map(|i| page_refs(i).0).collect();
    let count = i32::try_from(pages.min(MAX_BATCH)).unwrap_or(0);
    pdf.pages(PAGE_TREE).kids(page_ids).count(count);

    let mut resources = pdf.indirect(RESOURCES).dict();
    let mut fonts = resources.insert(Name(b"Font")).dict();
    fonts.pair(layout::FONT_REGULAR, HELVETICA);
    fonts.pair(layout::FONT_BOLD, HELVETICA_BOLD);
    fonts.pair(layout::FONT_MONO, COURIER);
    fonts.finish();
    resources.finish();
    for (id, base_font) in [
        (HELVETICA, Name(b"Helvetica")),
        (HELVETICA_BOLD, Name(b"Helvetica-Bold")),
        (COURIER, Name(b"Courier")),
    ] {
        pdf.type1_font(id)
            .base_font(base_font)
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }

    pdf.document_info(INFO)
        .title(TextStr(title))
        .producer(TextStr("MuniShare"));

    for index in 0..pages {
        let (page_id, content_id) = page_refs(index);
        let mut page = pdf.page(page_id);
        page.parent(PAGE_TREE)
            .media_box(Rect::new(0.0, 0.0, layout::PAGE_WIDTH, layout::PAGE_HEIGHT))
            .contents(content_id);
        page.pair(Name(b"Resources"), RESOURCES);
        page.finish();
        let mut painter = layout::Painter::new();
        draw(index, &mut painter);
        pdf.stream(content_id, &painter.finish());
    }
    pdf.finish()
}
