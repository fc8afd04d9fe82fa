//! The sales comparison approach: the qualified sales most like the subject,
//! each adjusted to the subject with the market model's coefficients, and
//! the value they indicate together.
//!
//! # Choosing the comparables
//!
//! A sale is a candidate when its parcel is valid, it is not a sale of the
//! subject parcel itself, and (for a town model) it is in the subject's town,
//! which must be the model's. Candidates are ranked in tiers, then by
//! distance: first sales in the subject's neighbourhood (same town and code),
//! then elsewhere in the town, then (regional model only) other towns. So a
//! neighbourhood's own sales are always preferred when it has enough of them.
//!
//! The distance is Euclidean on standardized characteristics: for ln(living
//! area), ln(lot size), age, quality, condition, full and half baths,
//! bedrooms, garage spaces and the months between sale and valuation date,
//! the difference from the subject divided by that characteristic's standard
//! deviation among the candidates (characteristics that do not vary among
//! them are left out), plus 1 (one standard deviation) when the style
//! differs. Ties go to the earlier sale in the slice.
//!
//! # Adjusting a sale
//!
//! The model is multiplicative: the subject's value differs from the
//! comparable's price by the factor exp(D), where D = Σ_f d_f and d_f is the
//! difference in a feature's contribution to ln(price) (the feature's terms'
//! β·x for the subject at the valuation date less the same for the
//! comparable at its sale date; the time line is the market change from the
//! sale to the valuation date). A multiplicative total has no unique split
//! into dollar lines; sequential splits depend on the order of the lines.
//! This one is order-free: the dollar adjustment P·(exp(D) − 1) is shared
//! among the lines in proportion to their log effects, line_f = P · d_f ·
//! (exp(D) − 1) / D (P · d_f when D = 0), so each line has the sign of its
//! effect and the lines add up to the total. Lines are rounded to cents and
//! the rounding residue goes to the lines with the largest remainders, so
//! price + Σ lines = adjusted price exactly, to the cent. Only features that
//! differ get a line.
//!
//! # The indicated value
//!
//! The weighted mean of the adjusted prices, each weighted in inverse
//! proportion to its gross adjustment (Σ |lines|) as a share of its price,
//! with shares under 1 % counted as 1 %: the sale that needed least adjusting
//! counts most. Rounded to whole dollars.

use serde::{Deserialize, Serialize};
use time::Date;

use super::regression::{FactorId, Model, Predictor, Scope, TermKind, When};
use super::{Chars, SaleObs, age_at, check_chars, grade_name, months_from};

/// A characteristic an adjustment line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Feature {
    /// Market change from the sale date to the valuation date.
    Time,
    /// Neighbourhood (and town, in a regional model).
    Location,
    /// Building style.
    Style,
    /// Living area.
    LivingArea,
    /// Lot size.
    LandArea,
    /// Age (age and age² together).
    Age,
    /// Quality grade.
    Quality,
    /// Condition grade.
    Condition,
    /// Full baths.
    FullBaths,
    /// Half baths.
    HalfBaths,
    /// Bedrooms.
    Bedrooms,
    /// Garage spaces.
    GarageSpaces,
}

impl Feature {
    /// Every feature, in the order lines are listed.
    pub const ALL: [Feature; 12] = [
        Self::Time,
        Self::Location,
        Self::Style,
        Self::LivingArea,
        Self::LandArea,
        Self::Age,
        Self::Quality,
        Self::Condition,
        Self::FullBaths,
        Self::HalfBaths,
        Self::Bedrooms,
        Self::GarageSpaces,
    ];

    /// The line's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Time => "Time (to valuation date)",
            Self::Location => "Location",
            Self::Style => "Style",
            Self::LivingArea => "Living area",
            Self::LandArea => "Lot size",
            Self::Age => "Age",
            Self::Quality => "Quality",
            Self::Condition => "Condition",
            Self::FullBaths => "Full baths",
            Self::HalfBaths => "Half baths",
            Self::Bedrooms => "Bedrooms",
            Self::GarageSpaces => "Garage spaces",
        }
    }

    /// The feature a model term belongs to (None for the intercept).
    pub fn of(kind: &TermKind) -> Option<Feature> {
        Some(match kind {
            TermKind::Intercept => return None,
            TermKind::Months | TermKind::MonthBucket(_) => Self::Time,
            TermKind::Numeric(p) => match p {
                Predictor::LnLivingSqft => Self::LivingArea,
                Predictor::LnLandSqft => Self::LandArea,
                Predictor::Age | Predictor::AgeSquared => Self::Age,
                Predictor::Quality => Self::Quality,
                Predictor::Condition => Self::Condition,
                Predictor::FullBaths => Self::FullBaths,
                Predictor::HalfBaths => Self::HalfBaths,
                Predictor::Bedrooms => Self::Bedrooms,
                Predictor::GarageSpaces => Self::GarageSpaces,
            },
            TermKind::Level { factor, .. } => match factor {
                FactorId::Style => Self::Style,
                FactorId::Quality => Self::Quality,
                FactorId::Condition => Self::Condition,
                FactorId::Town | FactorId::Neighbourhood(_) => Self::Location,
            },
        })
    }

    /// How the feature reads on a parcel (for the adjustment grid).
    fn show(self, c: &Chars, date: Date, valuation_date: Date) -> String {
        match self {
            Self::Time => date.to_string(),
            Self::Location => format!("{}/{}", c.town, c.neighbourhood),
            Self::Style => c.style.clone(),
            Self::LivingArea => format!("{:.0} sq ft", c.living_sqft),
            Self::LandArea => format!("{:.0} sq ft", c.land_sqft),
            Self::Age => format!("{:.0} years", age_at(c, valuation_date)),
            Self::Quality => grade_name(c.quality),
            Self::Condition => grade_name(c.condition),
            Self::FullBaths => c.full_baths.to_string(),
            Self::HalfBaths => c.half_baths.to_string(),
            Self::Bedrooms => c.bedrooms.to_string(),
            Self::GarageSpaces => c.garage_spaces.to_string(),
        }
    }
}

/// One line of a comparable's adjustment grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    /// The characteristic.
    pub feature: Feature,
    /// How it reads on the subject (the valuation date, for time).
    pub subject: String,
    /// How it reads on the comparable (the sale date, for time).
    pub comparable: String,
    /// The difference in ln(price) the model gives it.
    pub log_effect: f64,
    /// The adjustment in dollars (to the cent; see the module notes).
    pub amount: f64,
}

/// A comparable sale adjusted to the subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comp {
    /// Index into the sales slice.
    pub sale: usize,
    /// Index into the parcels slice.
    pub parcel: usize,
    /// Sale price (to the cent).
    pub price: f64,
    /// Sale date.
    pub date: Date,
    /// Whether it is in the subject's neighbourhood.
    pub same_neighbourhood: bool,
    /// Distance on standardized characteristics (see the module notes).
    pub distance: f64,
    /// The adjustment lines, in [`Feature::ALL`] order, only features that differ.
    pub adjustments: Vec<Adjustment>,
    /// Σ amounts.
    pub net_adjustment: f64,
    /// Σ |amounts|.
    pub gross_adjustment: f64,
    /// Price + net adjustment: what the sale indicates for the subject.
    pub adjusted_price: f64,
    /// Its share of the indicated value (the weights sum to 1).
    pub weight: f64,
}

fn cents(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

/// Splits `total` cents among lines proportionally to `raw` (real cents that
/// sum to about `total`) so the rounded lines sum to `total` exactly.
fn apportion(raw: &[f64], total: i64) -> Vec<i64> {
    let mut out: Vec<i64> = raw.iter().map(|r| r.floor() as i64).collect();
    if out.is_empty() {
        return out;
    }
    let mut order: Vec<usize> = (0..raw.len()).collect();
    // Largest remainder first; ties to the earlier line.
    order.sort_by(|&a, &b| {
        let (ra, rb) = (raw[a] - raw[a].floor(), raw[b] - raw[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut left = total - out.iter().sum::<i64>();
    let mut i = 0;
    while left != 0 {
        let step = left.signum();
        // Cents are added from the largest remainders, taken from the smallest.
        let at = if step > 0 {
            order[i % order.len()]
        } else {
            order[order.len() - 1 - i % order.len()]
        };
        out[at] += step;
        left -= step;
        i += 1;
    }
    out
}

/// Characteristics the distance compares, as numbers.
fn profile(c: &Chars, date: Date, valuation_date: Date) -> [f64; 10] {
    [
        c.living_sqft.ln(),
        c.land_sqft.ln(),
        age_at(c, valuation_date),
        f64::from(c.quality),
        f64::from(c.condition),
        f64::from(c.full_baths),
        f64::from(c.half_baths),
        f64::from(c.bedrooms),
        f64::from(c.garage_spaces),
        months_from(valuation_date, date).abs(),
    ]
}

/// The `k` qualified sales most similar to the subject, adjusted to it with
/// the model's coefficients (see the module notes for the rules). The subject
/// is `subject`; `subject_parcel` is its index in `parcels` when it is one of
/// them, so that its own sales are never its comparables. Sales with an
/// invalid parcel index, price or characteristics are skipped. Empty when
/// the subject cannot be valued by the model (another town than a town
/// model's, or invalid characteristics).
pub fn comparables(
    subject: &Chars,
    subject_parcel: Option<usize>,
    parcels: &[Chars],
    sales: &[SaleObs],
    model: &Model,
    k: usize,
) -> Vec<Comp> {
    let vd = model.spec.valuation_date;
    if check_chars(subject).is_err() {
        return Vec::new();
    }
    let town_model = match &model.spec.scope {
        Scope::Town(t) if *t != subject.town => return Vec::new(),
        Scope::Town(_) => true,
        Scope::Region => false,
    };
    // Candidates: (sale index, tier).
    let candidates: Vec<(usize, u8)> = sales
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let c = parcels.get(s.parcel)?;
            let ok = Some(s.parcel) != subject_parcel
                && s.price.is_finite()
                && s.price > 0.0
                && check_chars(c).is_ok()
                && (!town_model || c.town == subject.town);
            let tier = if c.town != subject.town {
                2
            } else if c.neighbourhood != subject.neighbourhood {
                1
            } else {
                0
            };
            ok.then_some((i, tier))
        })
        .collect();
    if candidates.is_empty() || k == 0 {
        return Vec::new();
    }
    // Standard deviations of the characteristics among the candidates.
    let profiles: Vec<[f64; 10]> = candidates
        .iter()
        .map(|&(i, _)| profile(&parcels[sales[i].parcel], sales[i].date, vd))
        .collect();
    let m = profiles.len() as f64;
    let sd: Vec<f64> = (0..10)
        .map(|d| {
            let mean = profiles.iter().map(|p| p[d]).sum::<f64>() / m;
            (profiles.iter().map(|p| (p[d] - mean).powi(2)).sum::<f64>() / m).sqrt()
        })
        .collect();
    let target = profile(subject, vd, vd);
    let mut ranked: Vec<(u8, f64, usize)> = candidates
        .iter()
        .zip(&profiles)
        .map(|(&(i, tier), p)| {
            let mut d2: f64 = (0..10)
                .filter(|&d| sd[d] > 0.0)
                .map(|d| ((p[d] - target[d]) / sd[d]).powi(2))
                .sum();
            if parcels[sales[i].parcel].style != subject.style {
                d2 += 1.0;
            }
            (tier, d2.sqrt(), i)
        })
        .collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    ranked.truncate(k);

    let at_valuation = model.contributions(subject, When::ValuationDate);
    let mut comps: Vec<Comp> = ranked
        .into_iter()
        .map(|(tier, distance, i)| {
            let s = sales[i];
            let c = &parcels[s.parcel];
            let at_sale = model.contributions(c, When::Sale(s.date));
            let mut effects = [0.0; Feature::ALL.len()];
            for (j, t) in model.terms.iter().enumerate() {
                if let Some(f) = Feature::of(&t.kind) {
                    effects[f as usize] += at_valuation[j] - at_sale[j];
                }
            }
            adjust(i, s, c, subject, tier == 0, distance, &effects, vd)
        })
        .collect();
    // Weights: inverse gross adjustment share, floored at 1 %.
    let raw: Vec<f64> = comps
        .iter()
        .map(|c| 1.0 / (c.gross_adjustment / c.price).max(0.01))
        .collect();
    let total: f64 = raw.iter().sum();
    for (c, w) in comps.iter_mut().zip(raw) {
        c.weight = w / total;
    }
    comps
}

/// Builds one comparable's grid from its features' log effects.
#[allow(clippy::too_many_arguments)] // one private call site; a struct would only rename them
fn adjust(
    sale: usize,
    s: SaleObs,
    c: &Chars,
    subject: &Chars,
    same_neighbourhood: bool,
    distance: f64,
    effects: &[f64; Feature::ALL.len()],
    vd: Date,
) -> Comp {
    let price_cents = cents(s.price);
    let price = price_cents as f64 / 100.0;
    let d: f64 = effects.iter().sum();
    let factor = if d.abs() < 1e-12 { 1.0 } else { d.exp_m1() / d };
    let lines: Vec<Feature> = Feature::ALL
        .into_iter()
        .filter(|f| effects[*f as usize] != 0.0)
        .collect();
    let raw: Vec<f64> = lines
        .iter()
        .map(|f| price * effects[*f as usize] * factor * 100.0)
        .collect();
    let total = cents(price * d.exp()) - price_cents;
    let amounts = apportion(&raw, total);
    let adjustments: Vec<Adjustment> = lines
        .iter()
        .zip(&amounts)
        .map(|(f, a)| Adjustment {
            feature: *f,
            subject: f.show(subject, vd, vd),
            comparable: f.show(c, s.date, vd),
            log_effect: effects[*f as usize],
            amount: *a as f64 / 100.0,
        })
        .collect();
    let net: i64 = amounts.iter().sum();
    let gross: i64 = amounts.iter().map(|a| a.abs()).sum();
    Comp {
        sale,
        parcel: s.parcel,
        price,
        date: s.date,
        same_neighbourhood,
        distance,
        adjustments,
        net_adjustment: net as f64 / 100.0,
        gross_adjustment: gross as f64 / 100.0,
        adjusted_price: (price_cents + net) as f64 / 100.0,
        weight: 0.0,
    }
}

/// The value the comparables indicate: their weighted mean adjusted price,
/// to the dollar; None without comparables.
pub fn indicated_value(comps: &[Comp]) -> Option<f64> {
    if comps.is_empty() {
        return None;
    }
    let w: f64 = comps.iter().map(|c| c.weight).sum();
    Some(
        (comps
            .iter()
            .map(|c| c.weight * c.adjusted_price)
            .sum::<f64>()
            / w)
            .round(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn apportioned_cents_add_up_and_follow_the_remainders() {
        // 10.4 + 20.4 + 30.4 = 61.2 ≈ 61: floors 10, 20, 30 leave 1 cent,
        // which goes to the first of the equal remainders.
        assert_eq!(apportion(&[10.4, 20.4, 30.4], 61), vec![11, 20, 30]);
        // -5.5 + 3.2 = -2.3 ≈ -2: floors -6, 3 (sum -3) leave +1 for the
        // larger remainder (-5.5 → 0.5 vs 3.2 → 0.2).
        assert_eq!(apportion(&[-5.5, 3.2], -2), vec![-5, 3]);
        // 1.9 + 1.9 = 3.8 but a total of 3: floors 1, 1 leave +1.
        assert_eq!(apportion(&[1.9, 1.9], 3), vec![2, 1]);
        assert!(apportion(&[], 0).is_empty());
    }

    proptest::proptest! {
        /// As `adjust` uses it, the total differs from the sum of the raw lines by
        /// at most half a cent (the rounding of the adjusted price): the rounded
        /// lines then add up to the total and each is within a cent of its share.
        #[test]
        fn apportioned_lines_add_up_and_stay_within_a_cent(
            raw in proptest::collection::vec(-1e8..1e8f64, 1..12),
            off in -0.5..0.5f64,
        ) {
            let total = (raw.iter().sum::<f64>() + off).round() as i64;
            let out = apportion(&raw, total);
            proptest::prop_assert_eq!(out.iter().sum::<i64>(), total);
            for (o, r) in out.iter().zip(&raw) {
                proptest::prop_assert!((*o as f64 - r).abs() < 1.0 + 1e-6, "{} vs {}", o, r);
            }
        }
    }
}
