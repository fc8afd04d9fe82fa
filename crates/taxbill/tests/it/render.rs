//! Bills rendered and read back by poppler: every expected string is written out by hand.

use munishare_taxbill::{
    AssessmentLine, Installment, MillRate, ReplacedCharacter, render, render_many,
};
use time::macros::date;

use crate::fixtures::{newington_motor_vehicle, wethersfield_real_estate};
use crate::poppler::{assert_lines_contain, info_value, page_count, text_lines, word_boxes};

#[test]
fn a_real_estate_bill_reads_back_with_its_figures() -> anyhow::Result<()> {
    let pdf = render(&wethersfield_real_estate()?)?;
    let lines = text_lines(&pdf)?;
    assert_lines_contain(
        &lines,
        &[
            "Town of Wethersfield",
            "Property Tax Bill — Grand List of October 1, 2025",
            "Real estate tax",
            "Tax Collector, Town of Wethersfield",
            "505 Silas Deane Highway",
            "Telephone (860) 721-2817",
            "Account RE-004512",
            "Bill number 2025-004512",
            "Bill class Real estate",
            "Désirée O'Neil",
            "Thomas O'Neil",
            "41 Wolcott Hill Rd",
            "Location 41 WOLCOTT HILL RD",
            "Map-block-lot 12-3-45",
            // Table rows: the assessment on the left, the installments on the right.
            "Land 98,560",
            "Building 187,590",
            "Veteran exemption (CGS 12-81(19)) -3,000",
            "Net assessment 283,150",
            "1 July 1, 2026 August 3, 2026 $5,007.51",
            "2 January 1, 2027 February 1, 2027 $5,007.51",
            "Total tax $10,015.02",
            // 283,150 × 35.37 ÷ 1,000 = 10,015.0155.
            "Net assessment 283,150 × mill rate 35.37 ÷ 1,000 = tax $10,015.02",
            "1.5% per month (18% per year) from the due date, with a",
            "minimum of $2.00 (CGS 12-146).",
            "Pay online at www.wethersfieldct.gov",
            // The stubs, side by side.
            "Property tax payment stub — installment 1 of 2",
            "Property tax payment stub — installment 2 of 2",
            "Account RE-004512 Bill 2025-004512 Account RE-004512 Bill 2025-004512",
            "Due July 1, 2026 Amount due $5,007.51 Due January 1, 2027 Amount due $5,007.51",
            "Pay by August 3, 2026 without interest Pay by February 1, 2027 without interest",
            // Check digits computed apart in Python: 98 − (the line + "00", R=27, E=14, mod 97).
            "RE-004512 2025-004512 1 0000500751 20260701 06",
            "RE-004512 2025-004512 2 0000500751 20270101 57",
        ],
    )?;
    assert_eq!(page_count(&pdf)?, 1);
    assert_eq!(info_value(&pdf, "Page size")?, "612 x 792 pts (letter)");
    assert_eq!(
        info_value(&pdf, "Title")?,
        "Town of Wethersfield property tax bill 2025-004512, grand list 2025"
    );
    Ok(())
}

#[test]
fn a_motor_vehicle_bill_shows_the_vehicle_and_one_stub() -> anyhow::Result<()> {
    let pdf = render(&newington_motor_vehicle()?)?;
    let lines = text_lines(&pdf)?;
    assert_lines_contain(
        &lines,
        &[
            "Motor vehicle tax",
            "Bill class Motor vehicle",
            "José Núñez",
            "Vehicle 2019 HONDA CR-V",
            "VIN 2HKRW2H54KH612345",
            "Plate AB 12345",
            "Vehicle 14,230",
            // 14,230 × 32.46 ÷ 1,000 = 461.9058.
            "Net assessment 14,230 × mill rate 32.46 ÷ 1,000 = tax $461.91",
            "1 July 1, 2026 August 3, 2026 $461.91",
            "Property tax payment stub — installment 1 of 1",
            "Due July 1, 2026 Amount due $461.91",
            "MV-300071 2025-300071 1 0000046191 20260701 93",
        ],
    )?;
    assert!(!lines.iter().any(|l| l.contains("installment 2")));
    assert!(!lines.iter().any(|l| l.contains("Map-block-lot")));
    Ok(())
}

#[test]
fn large_amounts_carry_thousands_separators() -> anyhow::Result<()> {
    let mut bill = wethersfield_real_estate()?;
    bill.assessment_lines = vec![
        AssessmentLine {
            label: "Land".into(),
            assessed_dollars: 4_903_700,
        },
        AssessmentLine {
            label: "Buildings".into(),
            assessed_dollars: 30_000_000,
        },
    ];
    // 34,903,700 × 35.37 ÷ 1,000 = 1,234,543.869 → $1,234,543.87.
    bill.net_assessment_dollars = 34_903_700;
    bill.gross_tax_cents = 123_454_387;
    bill.installments[0].amount_cents = 61_727_194;
    bill.installments[1].amount_cents = 61_727_193;
    let lines = text_lines(&render(&bill)?)?;
    assert_lines_contain(
        &lines,
        &[
            "Land 4,903,700",
            "Buildings 30,000,000",
            "Net assessment 34,903,700",
            "$617,271.94",
            "$617,271.93",
            "Total tax $1,234,543.87",
            "Net assessment 34,903,700 × mill rate 35.37 ÷ 1,000 = tax $1,234,543.87",
            "Amount due $617,271.94",
        ],
    )
}

#[test]
fn accented_names_read_back_even_when_decomposed() -> anyhow::Result<()> {
    let mut bill = wethersfield_real_estate()?;
    // "Désirée" with each é as e + COMBINING ACUTE ACCENT (NFD), and a typographic apostrophe.
    bill.owners = vec![
        "De\u{301}sire\u{301}e O\u{2019}Neil".into(),
        "François Lefèvre-Müller".into(),
    ];
    assert_eq!(bill.replaced_characters(), vec![]);
    let lines = text_lines(&render(&bill)?)?;
    assert_lines_contain(&lines, &["Désirée O’Neil", "François Lefèvre-Müller"])
}

#[test]
fn characters_outside_winansi_print_as_question_marks_and_are_reported() -> anyhow::Result<()> {
    let mut bill = wethersfield_real_estate()?;
    bill.owners = vec!["Łukasz Wójcik".into()];
    assert_eq!(
        bill.replaced_characters(),
        vec![ReplacedCharacter {
            field: "owners[0]".into(),
            character: 'Ł',
        }]
    );
    let lines = text_lines(&render(&bill)?)?;
    assert_lines_contain(&lines, &["?ukasz Wójcik"])
}

#[test]
fn render_many_gives_one_page_per_bill_in_order_with_shared_fonts() -> anyhow::Result<()> {
    let first = wethersfield_real_estate()?;
    let second = newington_motor_vehicle()?;
    let mut third = wethersfield_real_estate()?;
    third.account_id = "RE-004513".into();
    third.bill_number = "2025-004513".into();
    third.owners = vec!["Ana Ferreira".into()];
    let pdf = render_many(&[first, second, third])?;
    assert_eq!(page_count(&pdf)?, 3);
    assert_eq!(info_value(&pdf, "Title")?, "Property tax bills (3 bills)");

    let text = text_lines(&pdf)?.join("\n");
    let pages: Vec<&str> = text.split('\u{c}').collect();
    // pdftotext ends every page with a form feed: 3 pages and an empty tail.
    assert_eq!(pages.len(), 4);
    assert!(pages[0].contains("Désirée O'Neil") && pages[0].contains("Account RE-004512"));
    assert!(pages[1].contains("José Núñez") && pages[1].contains("Account MV-300071"));
    assert!(pages[2].contains("Ana Ferreira") && pages[2].contains("Account RE-004513"));

    // Three font objects for the whole file, whatever the number of pages.
    let base_fonts = pdf
        .windows(b"/BaseFont".len())
        .filter(|w| w == b"/BaseFont")
        .count();
    assert_eq!(base_fonts, 3);
    Ok(())
}

#[test]
fn a_bill_at_every_limit_still_fits_one_page() -> anyhow::Result<()> {
    let mut bill = wethersfield_real_estate()?;
    bill.collector.address_lines = vec![
        "Town Hall, Room 104".into(),
        "505 Silas Deane Highway".into(),
        "Wethersfield, CT 06109".into(),
    ];
    bill.owners = vec![
        "Désirée O'Neil".into(),
        "Thomas O'Neil".into(),
        "Trustees".into(),
    ];
    bill.assessment_lines = (1..=9)
        .map(|i| AssessmentLine {
            label: format!("Outbuilding {i}"),
            assessed_dollars: 1_000,
        })
        .chain([AssessmentLine {
            label: "Land".into(),
            assessed_dollars: 274_150,
        }])
        .collect();
    // 4 installments of $2,503.75, $2,503.75, $2,503.76, $2,503.76 = $10,015.02.
    bill.installments = [
        (date!(2026 - 07 - 01), 250_375, date!(2026 - 08 - 03)),
        (date!(2026 - 10 - 01), 250_375, date!(2026 - 11 - 02)),
        (date!(2027 - 01 - 01), 250_376, date!(2027 - 02 - 01)),
        (date!(2027 - 04 - 01), 250_376, date!(2027 - 05 - 03)),
    ]
    .into_iter()
    .map(|(due, amount_cents, last)| Installment {
        due,
        amount_cents,
        last_day_without_interest: last,
    })
    .collect();
    let sentence = "This note is long enough to wrap onto a second printed line of the bill so that \
                    the six-line limit on notes is reached by three notes of two lines each, end.";
    bill.notes = vec![
        sentence.into(),
        sentence.into(),
        format!("Last: {sentence}"),
    ];
    bill.mill_rate = MillRate::parse("35.37")?;
    let pdf = render(&bill)?;
    assert_eq!(page_count(&pdf)?, 1);
    let lines = text_lines(&pdf)?;
    assert_lines_contain(
        &lines,
        &[
            "Trustees",
            "Outbuilding 9 1,000",
            "Land 274,150",
            "4 April 1, 2027 May 3, 2027 $2,503.76",
            "Last: This note is long enough",
            "Property tax payment stub — installment 4 of 4",
            "RE-004512 2025-004512 4 0000250376 20270401",
        ],
    )
}

#[test]
fn the_same_bill_gives_the_same_bytes() -> anyhow::Result<()> {
    let bill = wethersfield_real_estate()?;
    assert_eq!(render(&bill)?, render(&bill)?);
    Ok(())
}

#[test]
fn the_address_shows_through_a_number_10_window_however_the_sheet_sits() -> anyhow::Result<()> {
    // A #10 envelope is 9½" × 4⅛"; its window 4½" × 1⅛", ⅞" from the left, ½" from the bottom.
    // A sheet folded in three (panels 3⅔" tall, 8½" wide) can slide ⅜"–½" either way inside, so
    // the part of the sheet always behind the window is x 0.875"–4.375", y 2.5"–3.1667" from
    // the sheet's top-left corner: 63–315 pt across, 180–228 pt down.
    let (left, right, top, bottom) = (63.0, 315.0, 180.0, 228.0);
    let mut bill = wethersfield_real_estate()?;
    bill.owners = vec![
        "Désirée O'Neil".into(),
        "Thomas O'Neil".into(),
        "Trustees of the O'Neil Family Revocable Trust".into(),
    ];
    bill.mailing_address = vec!["41 Wolcott Hill Rd".into(), "Wethersfield, CT 06109".into()];
    let expected_words: usize = bill
        .owners
        .iter()
        .chain(&bill.mailing_address)
        .map(|l| l.split(' ').count())
        .sum();
    let words = word_boxes(&render(&bill)?)?;
    // Everything left of the property block between the header and the tables is the address.
    let window: Vec<_> = words
        .iter()
        .filter(|w| w.x_min < 330.0 && w.y_min > 100.0 && w.y_max < 240.0)
        .collect();
    assert_eq!(window.len(), expected_words, "{window:#?}");
    assert_eq!(window.first().map(|w| w.text.as_str()), Some("Désirée"));
    for w in window {
        assert!(
            w.x_min >= left && w.x_max <= right && w.y_min >= top && w.y_max <= bottom,
            "{w:?} is outside the window area"
        );
    }
    Ok(())
}
