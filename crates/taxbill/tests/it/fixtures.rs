//! Sample bills whose every figure is written out by hand in the tests.

use munishare_taxbill::{
    AssessmentLine, Bill, CT_INTEREST_NOTE, Installment, MillRate, ParcelId, Property, TaxCollector,
};
use time::macros::date;

/// A Wethersfield real estate bill: 98,560 + 187,590 − 3,000 = 283,150 assessed;
/// 283,150 × 35.37 ÷ 1,000 = 10,015.0155 → $10,015.02, in two installments of $5,007.51.
/// August 1, 2026 is a Saturday, so the first grace period runs to Monday, August 3.
pub fn wethersfield_real_estate() -> anyhow::Result<Bill> {
    Ok(Bill {
        town: "Town of Wethersfield".into(),
        collector: TaxCollector {
            name: "Tax Collector, Town of Wethersfield".into(),
            address_lines: vec!["505 Silas Deane Highway".into(), "Wethersfield, CT 06109".into()],
            phone: "(860) 721-2817".into(),
        },
        list_year: 2025,
        bill_number: "2025-004512".into(),
        account_id: "RE-004512".into(),
        owners: vec!["Désirée O'Neil".into(), "Thomas O'Neil".into()],
        mailing_address: vec!["41 Wolcott Hill Rd".into(), "Wethersfield, CT 06109".into()],
        property: Property::RealEstate {
            location: "41 WOLCOTT HILL RD".into(),
            parcel: ParcelId::new("12", "3", "45")?,
        },
        assessment_lines: vec![
            AssessmentLine {
                label: "Land".into(),
                assessed_dollars: 98_560,
            },
            AssessmentLine {
                label: "Building".into(),
                assessed_dollars: 187_590,
            },
            AssessmentLine {
                label: "Veteran exemption (CGS 12-81(19))".into(),
                assessed_dollars: -3_000,
            },
        ],
        net_assessment_dollars: 283_150,
        mill_rate: MillRate::parse("35.37")?,
        gross_tax_cents: 1_001_502,
        installments: vec![
            Installment {
                due: date!(2026 - 07 - 01),
                amount_cents: 500_751,
                last_day_without_interest: date!(2026 - 08 - 03),
            },
            Installment {
                due: date!(2027 - 01 - 01),
                amount_cents: 500_751,
                last_day_without_interest: date!(2027 - 02 - 01),
            },
        ],
        months_taxed: None,
        interest_note: CT_INTEREST_NOTE.into(),
        notes: vec!["Pay online at www.wethersfieldct.gov or at the Tax Office, Monday to Friday, 8:00 to 4:30.".into()],
    })
}

/// A motor vehicle bill in one installment: 14,230 × 32.46 ÷ 1,000 = 461.9058 → $461.91.
pub fn newington_motor_vehicle() -> anyhow::Result<Bill> {
    Ok(Bill {
        town: "Town of Newington".into(),
        collector: TaxCollector {
            name: "Tax Collector, Town of Newington".into(),
            address_lines: vec!["200 Garfield Street".into(), "Newington, CT 06111".into()],
            phone: "(860) 665-8530".into(),
        },
        list_year: 2025,
        bill_number: "2025-300071".into(),
        account_id: "MV-300071".into(),
        owners: vec!["José Núñez".into()],
        mailing_address: vec!["17 Maple Hill Ave".into(), "Newington, CT 06111".into()],
        property: Property::MotorVehicle {
            description: "2019 HONDA CR-V".into(),
            vin: "2HKRW2H54KH612345".into(),
            plate: Some("AB 12345".into()),
        },
        assessment_lines: vec![AssessmentLine {
            label: "Vehicle".into(),
            assessed_dollars: 14_230,
        }],
        net_assessment_dollars: 14_230,
        mill_rate: MillRate::parse("32.46")?,
        gross_tax_cents: 46_191,
        installments: vec![Installment {
            due: date!(2026 - 07 - 01),
            amount_cents: 46_191,
            last_day_without_interest: date!(2026 - 08 - 03),
        }],
        months_taxed: None,
        interest_note: CT_INTEREST_NOTE.into(),
        notes: vec![],
    })
}
