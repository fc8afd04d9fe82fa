//! Bills that must not print: each error names its field.

use munishare_taxbill::{
    Bill, BillError, Installment, MillRate, ParcelId, Problem, render, render_many,
};
use time::macros::date;

use crate::fixtures::{newington_motor_vehicle, wethersfield_real_estate};

/// Renders a changed copy of the Wethersfield bill and returns the error it must give.
fn error_of(change: impl FnOnce(&mut Bill)) -> anyhow::Result<BillError> {
    let mut bill = wethersfield_real_estate()?;
    change(&mut bill);
    match render(&bill) {
        Ok(_) => anyhow::bail!("the bill rendered: {bill:?}"),
        Err(e) => {
            // validate and render agree.
            anyhow::ensure!(bill.validate() == Err(e.clone()));
            Ok(e)
        }
    }
}

fn field_of(change: impl FnOnce(&mut Bill)) -> anyhow::Result<String> {
    Ok(error_of(change)?.field().to_owned())
}

#[test]
fn the_fixtures_are_valid() -> anyhow::Result<()> {
    assert_eq!(wethersfield_real_estate()?.validate(), Ok(()));
    assert_eq!(newington_motor_vehicle()?.validate(), Ok(()));
    Ok(())
}

#[test]
fn empty_names_are_refused() -> anyhow::Result<()> {
    let e = error_of(|b| b.owners[1] = "  ".into())?;
    assert_eq!((e.field(), e.problem()), ("owners[1]", &Problem::Empty));
    assert_eq!(field_of(|b| b.owners.clear())?, "owners");
    assert_eq!(field_of(|b| b.town.clear())?, "town");
    assert_eq!(field_of(|b| b.collector.name.clear())?, "collector.name");
    assert_eq!(field_of(|b| b.collector.phone.clear())?, "collector.phone");
    assert_eq!(field_of(|b| b.mailing_address.clear())?, "mailing_address");
    assert_eq!(field_of(|b| b.interest_note.clear())?, "interest_note");
    assert_eq!(
        field_of(|b| b.assessment_lines[2].label.clear())?,
        "assessment_lines[2].label"
    );
    Ok(())
}

#[test]
fn line_breaks_are_refused() -> anyhow::Result<()> {
    let e = error_of(|b| b.mailing_address[0] = "41 Wolcott Hill Rd\nApt 2".into())?;
    assert_eq!(e.field(), "mailing_address[0]");
    assert_eq!(e.problem(), &Problem::ControlCharacter);
    Ok(())
}

#[test]
fn text_too_wide_for_the_envelope_window_is_refused() -> anyhow::Result<()> {
    let e = error_of(|b| {
        b.mailing_address[0] =
            "41 Wolcott Hill Road, Building C, Apartment 1204, Rear Entrance".into()
    })?;
    assert_eq!(e.field(), "mailing_address[0]");
    assert!(
        matches!(e.problem(), Problem::TooWide { room_pt: 237, .. }),
        "{e}"
    );
    Ok(())
}

#[test]
fn more_than_five_window_lines_are_refused() -> anyhow::Result<()> {
    let e = error_of(|b| {
        b.owners = vec!["A".into(), "B".into(), "C".into(), "D".into()];
    })?;
    assert_eq!(e.field(), "mailing_address");
    assert_eq!(e.problem(), &Problem::TooManyLines { lines: 6, max: 5 });
    Ok(())
}

#[test]
fn figures_that_disagree_are_refused() -> anyhow::Result<()> {
    let e = error_of(|b| b.net_assessment_dollars = 283_000)?;
    assert_eq!(e.field(), "net_assessment_dollars");
    assert_eq!(
        e.to_string(),
        "net_assessment_dollars: 283,000 does not agree with the sum of the assessment lines: 283,150"
    );

    // The exact tax is $10,015.0155: $10,015.01 (down) passes, $10,015.03 does not.
    let mut rounded_down = wethersfield_real_estate()?;
    rounded_down.gross_tax_cents = 1_001_501;
    rounded_down.installments[1].amount_cents = 500_750;
    assert_eq!(rounded_down.validate(), Ok(()));
    let e = error_of(|b| {
        b.gross_tax_cents = 1_001_503;
        b.installments[1].amount_cents = 500_752;
    })?;
    assert_eq!(
        e.to_string(),
        "gross_tax_cents: $10,015.03 does not agree with net assessment × mill rate ÷ 1,000, \
         rounded to the cent: $10,015.01 or $10,015.02"
    );

    let e = error_of(|b| b.installments[1].amount_cents = 500_000)?;
    assert_eq!(
        e.to_string(),
        "installments: $10,007.51 in total does not agree with the gross tax: $10,015.02"
    );
    Ok(())
}

#[test]
fn a_prorated_bill_taxes_its_months() -> anyhow::Result<()> {
    // The Newington vehicle on the supplemental list, registered in December: 10 months.
    // 14,230 × 32.46 ÷ 1,000 × 10 ÷ 12 = 384.9215 → $384.92.
    let mut bill = newington_motor_vehicle()?;
    bill.months_taxed = Some(10);
    bill.gross_tax_cents = 38_492;
    bill.installments[0].amount_cents = 38_492;
    assert_eq!(bill.validate(), Ok(()));
    render(&bill)?;
    // The whole year's tax is wrong on a prorated bill, and 13 months is no month count.
    let mut whole = newington_motor_vehicle()?;
    whole.months_taxed = Some(10);
    assert_eq!(
        whole.validate().map_err(|e| e.field().to_owned()),
        Err("gross_tax_cents".to_owned())
    );
    bill.months_taxed = Some(13);
    assert_eq!(
        bill.validate().map_err(|e| e.field().to_owned()),
        Err("months_taxed".to_owned())
    );
    Ok(())
}

#[test]
fn installment_amounts_and_dates_must_make_sense() -> anyhow::Result<()> {
    assert_eq!(field_of(|b| b.installments.clear())?, "installments");
    let e = error_of(|b| {
        b.installments[0].amount_cents = 1_001_502;
        b.installments[1].amount_cents = 0;
    })?;
    assert_eq!(e.field(), "installments[1].amount_cents");
    // Due on the assessment date itself: not after October 1, 2025.
    let e = error_of(|b| b.installments[0].due = date!(2025 - 10 - 01))?;
    assert_eq!(e.field(), "installments[0].due");
    assert_eq!(
        e.to_string(),
        "installments[0].due: October 1, 2025 is not after the assessment date, October 1, 2025"
    );
    let e = error_of(|b| b.installments.swap(0, 1))?;
    assert_eq!(e.field(), "installments[1].due");
    let e = error_of(|b| b.installments[0].last_day_without_interest = date!(2026 - 06 - 30))?;
    assert_eq!(e.field(), "installments[0].last_day_without_interest");
    let e = error_of(|b| {
        b.installments = (1..=5)
            .map(|i| Installment {
                due: date!(2026 - 07 - 01) + time::Duration::days(i),
                amount_cents: 1,
                last_day_without_interest: date!(2026 - 12 - 01),
            })
            .collect();
    })?;
    assert_eq!(
        (e.field(), e.problem()),
        ("installments", &Problem::TooMany { count: 5, max: 4 })
    );
    Ok(())
}

#[test]
fn scan_line_fields_and_parcels_are_checked() -> anyhow::Result<()> {
    assert_eq!(
        field_of(|b| b.account_id = "re-004512".into())?,
        "account_id"
    );
    assert_eq!(
        field_of(|b| b.account_id = "RE-0045120000".into())?,
        "account_id"
    );
    assert_eq!(
        field_of(|b| b.bill_number = "2025 004512".into())?,
        "bill_number"
    );
    assert_eq!(field_of(|b| b.list_year = 1066)?, "list_year");
    let e = ParcelId::new("12", "3", "45/A").err();
    assert_eq!(
        e.as_ref().map(BillError::field),
        Some("property.parcel.lot")
    );
    let e = MillRate::parse("35,37").err();
    assert_eq!(
        e.map(|e| e.to_string()),
        Some("mill_rate: \"35,37\" is not a decimal number such as 35.37".to_owned())
    );
    Ok(())
}

#[test]
fn notes_that_would_overflow_the_page_are_refused() -> anyhow::Result<()> {
    let e = error_of(|b| b.notes = vec!["A note.".into(); 7])?;
    assert_eq!(
        (e.field(), e.problem()),
        ("notes", &Problem::TooManyLines { lines: 7, max: 6 })
    );
    Ok(())
}

#[test]
fn render_many_names_the_bad_bill() -> anyhow::Result<()> {
    let good = wethersfield_real_estate()?;
    let mut bad = newington_motor_vehicle()?;
    bad.owners[0].clear();
    let e = render_many(&[good.clone(), bad, good]).err();
    assert_eq!(e.as_ref().and_then(BillError::bill_index), Some(1));
    assert_eq!(
        e.map(|e| e.to_string()),
        Some("bill 2 of the batch: owners[0]: is empty".to_owned())
    );
    let e = render_many(&[]).err();
    assert_eq!(e.as_ref().map(BillError::field), Some("bills"));
    Ok(())
}
