//! Throughput of bill rendering on one thread.
//!
//! Renders 10,000 distinct two-installment real estate bills five times each way — `render` once
//! per bill (a PDF each) and `render_many` over all of them (one PDF) — and prints the median
//! bills per second. The peer, `bench_bills_peer.py` beside this file, draws the same bill with
//! Python's reportlab. Run both (docs/benchmarks.md records the figures):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-taxbill cargo run --release -p munishare-taxbill --example bench_bills
//! /tmp/peer-rl/bin/python crates/taxbill/examples/bench_bills_peer.py
//! ```
//!
//! `BILLS=1000` runs fewer bills; `bench_bills sample out.pdf` writes one bill to look at.

use std::time::Instant;

use munishare_taxbill::{
    AssessmentLine, Bill, CT_INTEREST_NOTE, Installment, MillRate, ParcelId, Property,
    TaxCollector, render, render_many,
};
use time::macros::date;

const RUNS: usize = 5;
const FIRST_NAMES: [&str; 8] = [
    "Désirée",
    "Thomas",
    "José",
    "Ana",
    "François",
    "Mary",
    "Kwame",
    "Siobhán",
];
const LAST_NAMES: [&str; 8] = [
    "O'Neil", "Núñez", "Ferreira", "Lefèvre", "Kowalski", "Mensah", "Brennan", "Smith",
];
const STREETS: [&str; 6] = [
    "Wolcott Hill Rd",
    "Main St",
    "Silas Deane Hwy",
    "Ridge Rd",
    "Prospect St",
    "Folly Brook Blvd",
];

/// Bill `i` of the run: its own account, owner, address and assessment, figures consistent.
fn bill(i: usize) -> anyhow::Result<Bill> {
    let land = 60_000 + (i as i64 * 37) % 90_000;
    let building = 120_000 + (i as i64 * 7_919) % 400_000;
    let exemption = if i.is_multiple_of(7) { -3_000 } else { 0 };
    let net = land + building + exemption;
    // net × 35.37 ÷ 1,000 dollars = net × 3,537 ÷ 1,000 cents, rounded half up.
    let gross = (net * 3_537 + 500) / 1_000;
    let first = gross - gross / 2;
    let street = STREETS[i % STREETS.len()];
    let number = 1 + i % 400;
    let mut assessment_lines = vec![
        AssessmentLine {
            label: "Land".into(),
            assessed_dollars: land,
        },
        AssessmentLine {
            label: "Building".into(),
            assessed_dollars: building,
        },
    ];
    if exemption != 0 {
        assessment_lines.push(AssessmentLine {
            label: "Veteran exemption (CGS 12-81(19))".into(),
            assessed_dollars: exemption,
        });
    }
    Ok(Bill {
        town: "Town of Wethersfield".into(),
        collector: TaxCollector {
            name: "Tax Collector, Town of Wethersfield".into(),
            address_lines: vec![
                "505 Silas Deane Highway".into(),
                "Wethersfield, CT 06109".into(),
            ],
            phone: "(860) 721-2817".into(),
        },
        list_year: 2025,
        bill_number: format!("2025-{i:06}"),
        account_id: format!("RE-{i:06}"),
        owners: vec![format!(
            "{} {}",
            FIRST_NAMES[i % FIRST_NAMES.len()],
            LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()]
        )],
        mailing_address: vec![
            format!("{number} {street}"),
            "Wethersfield, CT 06109".into(),
        ],
        property: Property::RealEstate {
            location: format!("{number} {}", street.to_uppercase()),
            parcel: ParcelId::new(
                &(1 + i % 90).to_string(),
                &(1 + i % 12).to_string(),
                &(1 + i % 250).to_string(),
            )?,
        },
        assessment_lines,
        net_assessment_dollars: net,
        mill_rate: MillRate::parse("35.37")?,
        gross_tax_cents: gross,
        installments: vec![
            Installment {
                due: date!(2026 - 07 - 01),
                amount_cents: first,
                last_day_without_interest: date!(2026 - 08 - 03),
            },
            Installment {
                due: date!(2027 - 01 - 01),
                amount_cents: gross - first,
                last_day_without_interest: date!(2027 - 02 - 01),
            },
        ],
        months_taxed: None,
        interest_note: CT_INTEREST_NOTE.into(),
        notes: vec![
            "Pay online at www.wethersfieldct.gov or at the Tax Office, Monday to Friday, 8:00 to 4:30."
                .into(),
        ],
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> anyhow::Result<()> {
    // `bench_bills sample PATH` writes bill 0 as a PDF to look at instead of benchmarking.
    let args: Vec<String> = std::env::args().collect();
    if let [_, command, path] = args.as_slice()
        && command == "sample"
    {
        std::fs::write(path, render(&bill(0)?)?)?;
        println!("wrote {path}");
        return Ok(());
    }
    let count: usize = std::env::var("BILLS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(10_000);
    let bills = (0..count).map(bill).collect::<anyhow::Result<Vec<_>>>()?;

    let mut each_rates = Vec::new();
    let mut each_bytes = 0;
    for run in 1..=RUNS {
        let start = Instant::now();
        let mut bytes = 0;
        for bill in &bills {
            bytes += render(bill)?.len();
        }
        let rate = count as f64 / start.elapsed().as_secs_f64();
        println!("run {run}: render() each   {rate:>9.0} bills/s");
        each_rates.push(rate);
        each_bytes = bytes;
    }
    let mut many_rates = Vec::new();
    let mut many_bytes = 0;
    for run in 1..=RUNS {
        let start = Instant::now();
        let pdf = render_many(&bills)?;
        let rate = count as f64 / start.elapsed().as_secs_f64();
        println!("run {run}: render_many    {rate:>9.0} bills/s");
        many_rates.push(rate);
        many_bytes = pdf.len();
    }
    let each = median(each_rates);
    let many = median(many_rates);
    println!(
        "{count} bills, 1 thread, median of {RUNS}: render() each {each:.0} bills/s ({} bytes/bill); \
         render_many {many:.0} bills/s ({} bytes/bill)",
        each_bytes / count.max(1),
        many_bytes / count.max(1)
    );
    println!("RESULT each={each:.0} many={many:.0}");
    Ok(())
}
