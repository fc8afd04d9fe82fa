//! A seeded synthetic region: parcels and sales drawn from a known "true"
//! market model, for the simulation tests, the benchmark and demos. The same
//! seed gives the same region on every machine (SplitMix64 streams).

use std::collections::BTreeMap;

use time::{Date, Duration};

use super::{Chars, SaleObs, age_at, months_from};
use crate::stats::Rng;

/// Styles drawn, with their probability and true effect on ln(price).
pub const STYLES: [(&str, f64, f64); 7] = [
    ("Colonial", 0.38, 0.0),
    ("Cape Cod", 0.18, -0.06),
    ("Ranch", 0.16, -0.03),
    ("Raised Ranch", 0.10, -0.08),
    ("Split Level", 0.08, -0.05),
    ("Contemporary", 0.06, 0.05),
    ("Cottage", 0.04, -0.10),
];

/// The true model prices are drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    /// Constant.
    pub intercept: f64,
    /// Coefficients of the numeric predictors, in `Predictor::ALL` order.
    pub numeric: [f64; 10],
    /// Monthly market change on the log scale.
    pub monthly_trend: f64,
    /// Style effects.
    pub style: BTreeMap<String, f64>,
    /// Town effects.
    pub town: BTreeMap<String, f64>,
    /// Neighbourhood effects by (town, code).
    pub neighbourhood: BTreeMap<(String, String), f64>,
    /// Standard deviation of the log-scale noise.
    pub noise_sd: f64,
    /// The valuation date.
    pub valuation_date: Date,
}

impl Truth {
    /// The true ln(price) of a parcel sold on `date`, before noise.
    pub fn log_price(&self, c: &Chars, date: Date) -> f64 {
        let age = age_at(c, self.valuation_date);
        let x = [
            c.living_sqft.ln(),
            c.land_sqft.ln(),
            age,
            age * age,
            f64::from(c.quality),
            f64::from(c.condition),
            f64::from(c.full_baths),
            f64::from(c.half_baths),
            f64::from(c.bedrooms),
            f64::from(c.garage_spaces),
        ];
        self.intercept
            + x.iter().zip(&self.numeric).map(|(a, b)| a * b).sum::<f64>()
            + self.monthly_trend * months_from(self.valuation_date, date)
            + self.style.get(&c.style).copied().unwrap_or(0.0)
            + self.town.get(&c.town).copied().unwrap_or(0.0)
            + self
                .neighbourhood
                .get(&(c.town.clone(), c.neighbourhood.clone()))
                .copied()
                .unwrap_or(0.0)
    }
}

/// A synthetic region.
#[derive(Debug, Clone)]
pub struct Region {
    /// The parcels.
    pub parcels: Vec<Chars>,
    /// The sales, over the 24 months before the valuation date.
    pub sales: Vec<SaleObs>,
    /// The model they were drawn from.
    pub truth: Truth,
}

fn pick(rng: &mut Rng, probs: &[f64]) -> usize {
    let u = rng.unit();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probs.len() - 1
}

/// Draws `parcels` parcels in `towns` towns of `neighbourhoods` neighbourhoods
/// each, and `sales` sales of randomly chosen parcels (a parcel may sell more
/// than once) over the 24 months before `valuation_date`, with log-normal
/// noise of sd `noise_sd`.
pub fn region(
    seed: u64,
    towns: usize,
    neighbourhoods: usize,
    parcels: usize,
    sales: usize,
    noise_sd: f64,
    valuation_date: Date,
) -> Region {
    let mut rng = Rng::stream(seed, 0);
    let mut truth = Truth {
        intercept: 7.3,
        numeric: [
            0.55, 0.12, -0.006, 0.000_025, 0.08, 0.04, 0.035, 0.02, 0.01, 0.03,
        ],
        monthly_trend: 0.004,
        style: STYLES.iter().map(|s| (s.0.to_string(), s.2)).collect(),
        town: BTreeMap::new(),
        neighbourhood: BTreeMap::new(),
        noise_sd,
        valuation_date,
    };
    for t in 0..towns {
        let town = format!("town{t:02}");
        truth.town.insert(town.clone(), rng.normal(0.0, 0.2));
        for n in 0..neighbourhoods {
            truth
                .neighbourhood
                .insert((town.clone(), format!("N{n:02}")), rng.normal(0.0, 0.12));
        }
    }
    let style_probs: Vec<f64> = STYLES.iter().map(|s| s.1).collect();
    let grade_probs = [0.03, 0.15, 0.45, 0.25, 0.09, 0.03];
    let mut rng = Rng::stream(seed, 1);
    let small = |rng: &mut Rng, n: usize| rng.below(n) as u8;
    let parcels: Vec<Chars> = (0..parcels)
        .map(|i| {
            let living = rng
                .normal(1_900f64.ln(), 0.3)
                .exp()
                .clamp(600.0, 7_000.0)
                .round();
            let rooms = (living / 900.0).floor() as u8;
            Chars {
                town: format!("town{:02}", i % towns.max(1)),
                neighbourhood: format!("N{:02}", rng.below(neighbourhoods.max(1))),
                zoning: String::new(),
                style: STYLES[pick(&mut rng, &style_probs)].0.to_string(),
                land_sqft: rng
                    .normal(30_000f64.ln(), 0.7)
                    .exp()
                    .clamp(3_000.0, 2_000_000.0)
                    .round(),
                living_sqft: living,
                year_built: 1880 + rng.below(145) as i32,
                quality: pick(&mut rng, &grade_probs) as u8 + 1,
                condition: pick(&mut rng, &grade_probs) as u8 + 1,
                full_baths: 1 + rooms.min(2) + small(&mut rng, 2),
                half_baths: small(&mut rng, 3),
                bedrooms: 1 + rooms + small(&mut rng, 3),
                garage_spaces: small(&mut rng, 4),
            }
        })
        .collect();
    let mut rng = Rng::stream(seed, 2);
    let sales = (0..sales)
        .map(|_| {
            let parcel = rng.below(parcels.len());
            let date = valuation_date - Duration::days(1 + rng.below(730) as i64);
            let lp = truth.log_price(&parcels[parcel], date) + rng.normal(0.0, noise_sd);
            SaleObs {
                parcel,
                price: (lp.exp() / 100.0).round() * 100.0,
                date,
            }
        })
        .collect();
    Region {
        parcels,
        sales,
        truth,
    }
}
