//! Assessment demo data: OPM's published sales of the CRCOG towns (embedded;
//! see `seed/PROVENANCE.md`), imported as the operator would, so the
//! ratio-study dashboard of a fresh demo region shows real figures; and, for
//! each town that subscribes to assessment, a generated parcel roll with
//! three years of sales drawn from a hidden "true" market ([`Truth`]), so
//! valuation models can be judged against what is known to be right.

use munishare_platform::access::CouncilAdmin;
use munishare_platform::blob::BlobStore;
use munishare_platform::demo;
use munishare_platform::types::{Service, Timestamp};
use munishare_platform::{Db, Error, Result};
use time::{Date, Month};

use crate::opm::{self, ImportSummary};
use crate::stats::Rng;
use crate::{field, imports, parcels, sales};

const SALES: &str = include_str!("../seed/opm_sales_crcog.csv");

/// Imports the embedded sales into the region.
pub async fn seed(db: &Db, now: Timestamp) -> Result<ImportSummary> {
    let mut tx = db.begin().await?;
    let summary = opm::import(
        &CouncilAdmin::operator_console("demo-seed"),
        &mut tx,
        now,
        "opm_sales_crcog.csv",
        SALES.as_bytes(),
    )
    .await?;
    tx.commit().await?;
    Ok(summary)
}

/// The demo's hidden "true" market: what a house would sell for at the
/// valuation date, from which the demo's sales are drawn with noise, so a
/// valuation model fitted on them can be judged against the truth:
///
/// ```text
/// ln(price) = ln(town's reference price) + neighbourhood + style
///           + 0.60 ln(living / 1,500) + 0.10 ln(land / 10,890) − 0.0035 (age − 50)
///           + 0.09 (quality − 3) + 0.05 (condition − 3) + 0.03 (full baths − 2)
///           + 0.015 half baths + 0.025 garage spaces
///           + 0.005 per month from the valuation date to the sale + N(0, 0.10²)
/// ```
///
/// The town's reference price (a 1,500 sq ft house 50 years old on a quarter
/// acre) is $250,000 × (equalized grand list per head ÷ $100,000)^0.6.
#[derive(Debug, Clone, Copy)]
pub struct Truth;

impl Truth {
    /// Living area elasticity.
    pub const LIVING: f64 = 0.60;
    /// Land area elasticity.
    pub const LAND: f64 = 0.10;
    /// Per year of age.
    pub const AGE: f64 = -0.0035;
    /// Per quality grade.
    pub const QUALITY: f64 = 0.09;
    /// Per condition grade.
    pub const CONDITION: f64 = 0.05;
    /// Per full bath.
    pub const FULL_BATH: f64 = 0.03;
    /// Per half bath.
    pub const HALF_BATH: f64 = 0.015;
    /// Per garage space.
    pub const GARAGE: f64 = 0.025;
    /// Market change per month.
    pub const PER_MONTH: f64 = 0.005;
    /// Noise of a sale around the market (log scale).
    pub const NOISE: f64 = 0.10;
    /// Neighbourhoods N01–N06 and their effects.
    pub const NEIGHBOURHOODS: [(&'static str, f64); 6] = [
        ("N01", -0.20),
        ("N02", -0.08),
        ("N03", 0.0),
        ("N04", 0.06),
        ("N05", 0.15),
        ("N06", 0.28),
    ];
    /// Styles, their shares of the houses and their effects.
    pub const STYLES: [(&'static str, f64, f64); 6] = [
        ("Colonial", 0.35, 0.0),
        ("Cape Cod", 0.20, -0.04),
        ("Ranch", 0.25, -0.02),
        ("Raised Ranch", 0.08, -0.06),
        ("Split Level", 0.07, -0.03),
        ("Contemporary", 0.05, 0.05),
    ];
}

const SURNAMES: [&str; 40] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
];
const FIRST_NAMES: [&str; 24] = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
];
const STREETS: [&str; 30] = [
    "Elm St",
    "Maple Ave",
    "Oak St",
    "Main St",
    "Park Rd",
    "Cedar St",
    "Pine St",
    "Farmington Ave",
    "Prospect Ave",
    "Ridge Rd",
    "Walnut St",
    "Church St",
    "High St",
    "Mountain Rd",
    "Highland St",
    "Chestnut St",
    "Spring St",
    "Lake Rd",
    "Hillside Ave",
    "Orchard Rd",
    "Birch Rd",
    "Meadow Ln",
    "Brook St",
    "Forest Dr",
    "Sunset Ter",
    "Woodland St",
    "Center St",
    "Mill Rd",
    "Academy St",
    "Garden St",
];

/// A generated roll and its sales, as the town's CAMA would export them.
#[derive(Debug, Clone)]
pub struct DemoRoll {
    /// The parcel file ([`crate::parcels::COLUMNS`]).
    pub parcels_csv: String,
    /// The sales file ([`crate::sales::CSV_COLUMNS`]).
    pub sales_csv: String,
    /// Parcels generated.
    pub parcels: usize,
    /// Sales generated.
    pub sales: usize,
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [(T, f64)]) -> &'a T {
    let mut u = rng.unit();
    for (item, share) in items {
        if u < *share {
            return item;
        }
        u -= share;
    }
    &items[items.len() - 1].0
}

fn name(rng: &mut Rng, surname: &str) -> String {
    format!("{} {}", FIRST_NAMES[rng.below(FIRST_NAMES.len())], surname)
}

fn months_between(a: Date, b: Date) -> f64 {
    (b - a).whole_days() as f64 / 30.4375
}

/// Generates a town's roll: `n` parcels (3 % vacant land) valued by the
/// town's CAMA at its last revaluation, and three years of sales drawn from
/// [`Truth`] (about 9 % of parcels sell; 15 % of sales are not at arm's
/// length: family, foreclosure, quitclaim, change in property — at the prices
/// such sales fetch). The values of record are what an older, regressive
/// model gave (0.88 of the log of market value, about 3 % low, with noise),
/// so the demo's ratio study has something to find. Deterministic in `seed`.
pub fn generate(
    town: &str,
    reference_price: f64,
    n: usize,
    valuation: Date,
    today: Date,
    seed: u64,
) -> DemoRoll {
    let mut rng = Rng::new(seed);
    let mut parcels = String::from(
        "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner,zoning,land_use,pa490,\
         pa490_use_value,style,year_built,living_sqft,rooms,bedrooms,full_baths,half_baths,quality,condition,garage_spaces,\
         mailing_address,exemptions\n",
    );
    let mut sales = String::from(
        "parcel_id,sale_date,price,grantor,grantee,deed_type,reference,non_use_code\n",
    );
    let mut house_numbers = [0u32; STREETS.len()];
    let first_day = valuation - time::Duration::days(3 * 365);
    let span = (today - first_day).whole_days().max(1);
    let mut page = 0u32;
    let mut sold = 0usize;
    let quality_mix = [(2u8, 0.15), (3, 0.50), (4, 0.28), (5, 0.07)];
    let condition_mix = [(2u8, 0.10), (3, 0.45), (4, 0.38), (5, 0.07)];
    let styles: Vec<((&str, f64), f64)> = Truth::STYLES
        .iter()
        .map(|(s, share, e)| ((*s, *e), *share))
        .collect();
    let hoods: Vec<((&str, f64), f64)> = Truth::NEIGHBOURHOODS
        .iter()
        .map(|(h, e)| ((*h, *e), 1.0 / 6.0))
        .collect();
    for i in 0..n {
        let street = rng.below(STREETS.len());
        house_numbers[street] += 2 + rng.below(3) as u32 * 2;
        let location = format!(
            "{} {}",
            house_numbers[street] - 1 + (street as u32 % 2),
            STREETS[street]
        );
        let key = format!(
            "{:03}-{:02}-{:03}",
            100 + street,
            (i / 200) + 1,
            i % 200 + 1
        );
        let (hood, hood_effect) = *pick(&mut rng, &hoods);
        let surname = SURNAMES[rng.below(SURNAMES.len())];
        let owner = name(&mut rng, surname);
        let land = (10_890.0 * (rng.normal(0.1, 0.5)).exp())
            .clamp(3_000.0, 200_000.0)
            .round() as i64;
        let vacant = rng.unit() < 0.03;
        let zoning = if land > 20_000 {
            "R-40"
        } else if land > 10_000 {
            "R-13"
        } else {
            "R-6"
        };
        let mailing = format!("{location}, {town}, CT");
        let exemption = match rng.unit() {
            u if u < 0.03 => "VET:1000",
            u if u < 0.035 => "BLIND:3000",
            _ => "",
        };
        if vacant {
            let value =
                (reference_price * 0.25 * (land as f64 / 10_890.0).powf(0.4) * (1.0 + hood_effect))
                    .round();
            let land_value = (value / 100.0).round() * 100.0;
            let forest = land > 40_000 && rng.unit() < 0.5;
            let (pa490, use_value) = if forest {
                (
                    "forest",
                    format!("{}", (land as f64 / 43_560.0 * 240.0).round()),
                )
            } else {
                ("", String::new())
            };
            parcels.push_str(&format!(
                "{key},{location},{hood},vacant,{land},{land_value},0,{owner},{zoning},130,{pa490},{use_value},,,,,,,,,,,\"{mailing}\",\n"
            ));
            continue;
        }
        let (style, style_effect) = *pick(&mut rng, &styles);
        let living = (1_500.0 * rng.normal(0.05, 0.28).exp()).clamp(700.0, 5_000.0);
        let living = (living / 10.0).round() * 10.0;
        let year_built = 1890 + (rng.unit().powf(0.7) * 132.0) as i64;
        let age = f64::from(valuation.year()) - year_built as f64;
        let quality = *pick(&mut rng, &quality_mix);
        let condition = *pick(&mut rng, &condition_mix);
        let bedrooms = ((living / 550.0).round() as i64).clamp(1, 6);
        let full_baths = 1 + i64::from(living > 1_400.0) + i64::from(living > 2_500.0);
        let half_baths = i64::from(rng.unit() < 0.4);
        let garage = *pick(&mut rng, &[(0i64, 0.3), (1, 0.35), (2, 0.35)]);
        let ln_market = reference_price.ln()
            + hood_effect
            + style_effect
            + Truth::LIVING * (living / 1_500.0).ln()
            + Truth::LAND * (land as f64 / 10_890.0).ln()
            + Truth::AGE * (age - 50.0)
            + Truth::QUALITY * (f64::from(quality) - 3.0)
            + Truth::CONDITION * (f64::from(condition) - 3.0)
            + Truth::FULL_BATH * (full_baths as f64 - 2.0)
            + Truth::HALF_BATH * half_baths as f64
            + Truth::GARAGE * garage as f64;
        // The CAMA's value of record: regressive, a little low, with noise.
        let record =
            (0.88 * ln_market + 0.12 * reference_price.ln() - 0.03 + rng.normal(0.0, 0.07)).exp();
        let record = (record / 100.0).round() * 100.0;
        let land_value = ((record * (0.22 + 0.1 * rng.unit())) / 100.0).round() * 100.0;
        let building_value = record - land_value;
        if rng.unit() < 0.09 {
            let date = first_day + time::Duration::days(rng.below(span as usize) as i64);
            let mut price = (ln_market
                + Truth::PER_MONTH * months_between(valuation, date)
                + rng.normal(0.0, Truth::NOISE))
            .exp();
            let seller_surname = SURNAMES[rng.below(SURNAMES.len())];
            let seller = name(&mut rng, seller_surname);
            let (deed, non_use, grantor) = match rng.unit() {
                u if u < 0.05 => {
                    price *= 0.6;
                    ("Warranty", "", name(&mut rng, surname))
                }
                u if u < 0.09 => {
                    price *= 0.7;
                    (
                        "Foreclosure",
                        "14 - Foreclosure",
                        "Federal National Mortgage Assn".to_owned(),
                    )
                }
                u if u < 0.12 => {
                    price *= 0.5;
                    ("Quitclaim", "", seller)
                }
                u if u < 0.15 => ("Warranty", "07 - Change in Property", seller),
                _ => ("Warranty", "", seller),
            };
            page += 1 + rng.below(40) as u32;
            let price = (price / 100.0).round() * 100.0;
            sales.push_str(&format!(
                "{key},{date},{price},{grantor},{owner},{deed},B{}/P{},{non_use}\n",
                2000 + page / 300,
                page % 300 + 1
            ));
            sold += 1;
        }
        parcels.push_str(&format!(
            "{key},{location},{hood},residential,{land},{land_value},{building_value},{owner},{zoning},101,,,{style},{year_built},{living},{},{bedrooms},{full_baths},{half_baths},{quality},{condition},{garage},\"{mailing}\",{exemption}\n",
            bedrooms + 3
        ));
    }
    DemoRoll {
        parcels_csv: parcels,
        sales_csv: sales,
        parcels: n,
        sales: sold,
    }
}

/// The grand-list date in force on `today`: the latest October 1 on or before it.
pub fn valuation_date(today: Date) -> Date {
    let year = if today.month() >= Month::October {
        today.year()
    } else {
        today.year() - 1
    };
    Date::from_calendar_date(year, Month::October, 1).unwrap_or(today)
}

/// Seeds a generated roll and its sales into every demo town that
/// subscribes to assessment, through the same imports an assessor uses.
/// Returns (town, parcels, sales) per town.
pub async fn seed_rolls(
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
) -> Result<Vec<(String, usize, usize)>> {
    let today = now.datetime().date();
    let mut out = Vec::new();
    for facts in demo::crcog_towns()? {
        let scope = match demo::seed_scope(db, today, &facts.slug, Service::Assessment).await {
            Ok(s) => s,
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let per_head =
            facts.equalized_net_grand_list_2018 as f64 / facts.population_2018.max(1) as f64;
        let reference = 250_000.0 * (per_head / 100_000.0).powf(0.6);
        let n = usize::try_from(facts.population_2018 / 25)
            .unwrap_or(0)
            .clamp(400, 2_000);
        let seed = facts.slug.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let roll = generate(
            &facts.name,
            reference,
            n,
            valuation_date(today),
            today,
            seed,
        );
        for (kind, name, body) in [
            ("parcels", "demo-roll.csv", &roll.parcels_csv),
            ("sales", "demo-sales.csv", &roll.sales_csv),
        ] {
            let file =
                imports::store(&scope, blobs, name, bytes::Bytes::from(body.clone())).await?;
            let mut tx = db.begin().await?;
            if kind == "parcels" {
                parcels::import(&scope, &mut tx, now, &file).await?;
            } else {
                sales::import(&scope, &mut tx, now, today, sales::Layout::Csv, &file).await?;
            }
            tx.commit().await?;
        }
        seed_field(db, blobs, now, &scope).await?;
        seed_revaluation_cycle(db, now, &scope, out.len()).await?;
        out.push((facts.slug, roll.parcels, roll.sales));
    }
    Ok(out)
}

/// Years before the grand list in force of each demo town's last
/// revaluation, in seeding order. ILLUSTRATIVE ONLY: these are not OPM's
/// published phase-in schedule for any real town; they give the regional
/// view a spread — the first town seeded (in `crcog_towns` order) is due this
/// year (last revaluation five lists ago), the others current.
const DEMO_YEARS_SINCE_REVALUATION: [i64; 6] = [5, 2, 4, 1, 3, 0];

/// Records an illustrative revaluation cycle for a demo town (see
/// [`DEMO_YEARS_SINCE_REVALUATION`]); the next one five years after the last.
async fn seed_revaluation_cycle(
    db: &Db,
    now: Timestamp,
    scope: &munishare_platform::access::ServiceScope,
    index: usize,
) -> Result<()> {
    let today = now.datetime().date();
    let since = DEMO_YEARS_SINCE_REVALUATION[index % DEMO_YEARS_SINCE_REVALUATION.len()];
    let mut tx = db.begin().await?;
    crate::revaluation::set(
        scope,
        &mut tx,
        now,
        today,
        &crate::revaluation::CycleIn {
            last_year: crate::revaluation::grand_list_year(today) - since,
            next_year: None,
            version: 0,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A town's field work for the demo: six building permits (each with its
/// pick-up inspection), cyclical inspections for neighbourhood N01 (never
/// inspected: every parcel there is due under CGS 12-62), and the first
/// three permit inspections assigned to the council's field assessor (or the
/// first inspector the town has), one of them done.
async fn seed_field(
    db: &Db,
    blobs: &BlobStore,
    now: Timestamp,
    scope: &munishare_platform::access::ServiceScope,
) -> Result<()> {
    let today = now.datetime().date();
    let mut c = db.read().await?;
    let (roll, _) = parcels::search(scope, &mut c, &parcels::Filter::default(), 60, 0).await?;
    let inspectors = field::inspectors(scope, &mut c).await?;
    drop(c);
    if roll.is_empty() {
        return Ok(());
    }
    let works = [
        ("addition", "Two-storey rear addition", 85_000),
        ("deck", "Rear deck (pressure-treated)", 12_000),
        ("roof", "Strip and re-roof", 14_500),
        ("garage", "Detached two-car garage", 48_000),
        ("kitchen", "Kitchen remodel", 35_000),
        ("solar", "Roof-mounted solar array", 26_000),
    ];
    let mut csv = String::from("permit_number,parcel_id,issued_on,work_type,description,value\n");
    for (k, (work, what, dollars)) in works.iter().enumerate() {
        let p = &roll[(k * 7) % roll.len()];
        let issued = today - time::Duration::days(k as i64 * 23 + 5);
        csv.push_str(&format!(
            "B-{}-{:04},{},{},{work},{what},{dollars}\n",
            issued.year(),
            101 + k,
            p.parcel_key,
            munishare_platform::types::format_date(issued)
        ));
    }
    let file = imports::store(scope, blobs, "demo-permits.csv", bytes::Bytes::from(csv)).await?;
    let mut tx = db.begin().await?;
    field::import_permits(scope, &mut tx, now, &file).await?;
    let next_october =
        Date::from_calendar_date(valuation_date(today).year() + 1, Month::October, 1)
            .unwrap_or(today);
    field::schedule_cyclical(
        scope,
        &mut tx,
        now,
        today,
        &field::CyclicalIn {
            method: "inspection".into(),
            date: munishare_platform::types::format_date(next_october),
            neighbourhood: Some("N01".into()),
        },
    )
    .await?;
    let who = inspectors
        .iter()
        .find(|u| u.username == "field.assessor")
        .or(inspectors.first());
    if let Some(who) = who {
        let open = field::list(
            scope,
            &mut tx,
            &field::InspectionFilter {
                reason: Some("permit".into()),
                ..Default::default()
            },
        )
        .await?;
        for (k, i) in open.iter().take(3).enumerate() {
            let a =
                field::assign(scope, &mut tx, now, &i.id, i.version, who.user_id.as_str()).await?;
            if k == 0 {
                field::record_result(
                    scope,
                    &mut tx,
                    now,
                    &a.id,
                    &field::ResultIn {
                        version: a.version,
                        inspected_on: munishare_platform::types::format_date(today),
                        interior: true,
                        changes: "Addition measured: 420 sq ft of living area added".into(),
                        ..field::ResultIn::default()
                    },
                )
                .await?;
            }
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::collections::HashMap;

    use super::*;
    use time::macros::date;

    #[test]
    fn a_generated_roll_reads_cleanly_and_is_deterministic() {
        let today = date!(2026 - 11 - 26);
        let a = generate(
            "Wethersfield",
            300_000.0,
            1_000,
            valuation_date(today),
            today,
            7,
        );
        let b = generate(
            "Wethersfield",
            300_000.0,
            1_000,
            valuation_date(today),
            today,
            7,
        );
        assert_eq!(a.parcels_csv, b.parcels_csv);
        let rows = crate::parcels::read("roll", a.parcels_csv.as_bytes()).expect("the roll reads");
        assert_eq!(rows.len(), 1_000);
        let keys: HashMap<String, String> = rows
            .iter()
            .map(|r| (r.data.parcel_key.clone(), r.data.parcel_key.clone()))
            .collect();
        let s = crate::sales::read_csv("sales", a.sales_csv.as_bytes(), &keys, today)
            .expect("the sales read");
        assert_eq!(s.len(), a.sales);
        // About 9 % of the 970-odd houses sell: a binomial count far from 0 and 200.
        assert!((50..150).contains(&a.sales), "{}", a.sales);
        assert_eq!(valuation_date(today), date!(2026 - 10 - 01));
        assert_eq!(valuation_date(date!(2026 - 09 - 30)), date!(2025 - 10 - 01));
    }
}
