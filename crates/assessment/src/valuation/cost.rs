//! The cost approach: land value plus the building's replacement cost new
//! (RCN) less depreciation, every component returned so the product can
//! explain a value line by line.
//!
//! - **RCN** = living area × the style's base rate × the quality multiplier,
//!   plus each full bath beyond the first (the base rate includes one), each
//!   half bath and each garage space at flat costs.
//! - **Depreciation** = the age table's percentage (linear between the listed
//!   ages, constant beyond the last) plus the condition's adjustment
//!   (percentage points; negative for better than average), held between 0
//!   and `max_depreciation`: the floor on what a standing, used building keeps
//!   (its "percent good" never falls below 1 − `max_depreciation`).
//! - **Land** by the neighbourhood's schedule, else the zoning district's,
//!   else the town's default: the site value for the base lot; each acre
//!   beyond it at the rate of its tier, rates falling as acreage grows; a lot
//!   smaller than the base lot at site value × √(lot / base lot) (a half-size
//!   lot keeps about 71 % of the site value: the house still needs its site).
//!   PA 490 use values (farm, forest, open space) are not the cost approach's
//!   business: they replace market land value later, in the grand list.
//!
//! Components are rounded to whole dollars as they are computed, and the
//! totals are sums of the rounded components, so the breakdown adds up
//! exactly: rcn = main + baths + garage; building = rcn − depreciation;
//! land = site + extra acreage; total = land + building.
//!
//! Characteristics are assumed valid (`check_chars`): a NaN or non-positive
//! area gives NaN components; grades outside 1..=6 are taken as the nearest
//! grade.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use super::{Chars, age_at};

/// Square feet in an acre.
pub const SQFT_PER_ACRE: f64 = 43_560.0;

/// A tier of acreage beyond the base lot, priced per acre.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AcreTier {
    /// Extra acres (beyond the base lot) at which this tier's rate starts.
    pub from_acres: f64,
    /// Dollars per acre in this tier (up to the next tier's start).
    pub rate_per_acre: f64,
}

/// A neighbourhood's land schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandRate {
    /// The base lot size, in square feet.
    pub base_lot_sqft: f64,
    /// The value of a base-size lot.
    pub site_value: f64,
    /// Rates for acreage beyond the base lot, by ascending `from_acres`; the
    /// first should start at 0 and the last applies without limit.
    pub tiers: Vec<AcreTier>,
}

impl LandRate {
    /// (site value, value of extra acreage), unrounded.
    fn value(&self, land_sqft: f64) -> (f64, f64) {
        if land_sqft < self.base_lot_sqft {
            return (
                self.site_value * (land_sqft / self.base_lot_sqft).sqrt(),
                0.0,
            );
        }
        let extra = (land_sqft - self.base_lot_sqft) / SQFT_PER_ACRE;
        let mut value = 0.0;
        for (i, t) in self.tiers.iter().enumerate() {
            let end = self
                .tiers
                .get(i + 1)
                .map_or(f64::INFINITY, |n| n.from_acres);
            let acres = (extra.min(end) - t.from_acres).max(0.0);
            value += acres * t.rate_per_acre;
        }
        (self.site_value, value)
    }
}

/// A town's cost schedule (one per town: base rates, depreciation and land
/// values are local).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostSchedule {
    /// Replacement cost per square foot of living area at Average quality, by style.
    pub base_rates: BTreeMap<String, f64>,
    /// The rate for styles not listed.
    pub default_rate: f64,
    /// Multipliers for quality 1..=6 (Average = 1).
    pub quality_multipliers: [f64; 6],
    /// Cost of each full bath beyond the first.
    pub extra_full_bath: f64,
    /// Cost of each half bath.
    pub half_bath: f64,
    /// Cost of each garage space.
    pub garage_space: f64,
    /// (age in years, depreciation as a fraction), ascending ages, from age 0.
    pub depreciation_by_age: Vec<(f64, f64)>,
    /// Added to the age depreciation for condition 1..=6 (fractions; Average = 0).
    pub condition_adjustment: [f64; 6],
    /// The most a building can be depreciated (the floor on percent good is 1 − this).
    pub max_depreciation: f64,
    /// Land schedules by neighbourhood code (they come first).
    pub land: BTreeMap<String, LandRate>,
    /// Land schedules by zoning district, for parcels whose neighbourhood has none.
    #[serde(default)]
    pub land_by_zone: BTreeMap<String, LandRate>,
    /// The land schedule for neighbourhoods not listed.
    pub default_land: LandRate,
}

impl CostSchedule {
    /// An illustrative schedule for a Connecticut suburb in the mid-2020s
    /// (orders of magnitude from published residential cost manuals and
    /// recent Hartford-county revaluations; not any town's adopted schedule):
    /// $175–$205 per square foot by style, quality multipliers 0.70–1.70, a
    /// full bath $12,000, a half bath $6,000, a garage space $18,000;
    /// depreciation 0 % new, 7 % at 10 years, 25 % at 40, 42 % from 100 on,
    /// ±25 points for condition, at most 80 %; land $120,000 for a one-acre
    /// site, then $25,000 an acre for the next 2 acres, $12,000 for the
    /// next 6, $6,000 beyond.
    pub fn illustrative() -> Self {
        let base_rates = [
            ("Colonial", 185.0),
            ("Cape Cod", 190.0),
            ("Ranch", 200.0),
            ("Raised Ranch", 175.0),
            ("Split Level", 180.0),
            ("Contemporary", 205.0),
            ("Cottage", 195.0),
        ]
        .into_iter()
        .map(|(s, r)| (s.to_string(), r))
        .collect();
        Self {
            base_rates,
            default_rate: 185.0,
            quality_multipliers: [0.70, 0.85, 1.00, 1.18, 1.40, 1.70],
            extra_full_bath: 12_000.0,
            half_bath: 6_000.0,
            garage_space: 18_000.0,
            depreciation_by_age: vec![
                (0.0, 0.0),
                (5.0, 0.03),
                (10.0, 0.07),
                (20.0, 0.14),
                (40.0, 0.25),
                (60.0, 0.33),
                (100.0, 0.42),
            ],
            condition_adjustment: [0.25, 0.10, 0.0, -0.05, -0.10, -0.15],
            max_depreciation: 0.80,
            land: BTreeMap::new(),
            land_by_zone: BTreeMap::new(),
            default_land: LandRate {
                base_lot_sqft: SQFT_PER_ACRE,
                site_value: 120_000.0,
                tiers: vec![
                    AcreTier {
                        from_acres: 0.0,
                        rate_per_acre: 25_000.0,
                    },
                    AcreTier {
                        from_acres: 2.0,
                        rate_per_acre: 12_000.0,
                    },
                    AcreTier {
                        from_acres: 8.0,
                        rate_per_acre: 6_000.0,
                    },
                ],
            },
        }
    }

    /// Depreciation from the age table (linear between points, constant outside).
    fn age_depreciation(&self, age: f64) -> f64 {
        let t = &self.depreciation_by_age;
        match (t.first(), t.last()) {
            (Some(first), _) if age <= first.0 => first.1,
            (_, Some(last)) if age >= last.0 => last.1,
            _ => t.windows(2).find(|w| age <= w[1].0).map_or(0.0, |w| {
                w[0].1 + (w[1].1 - w[0].1) * (age - w[0].0) / (w[1].0 - w[0].0)
            }),
        }
    }
}

/// A cost-approach value with every component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostBreakdown {
    /// The style's base rate per square foot.
    pub base_rate: f64,
    /// The quality multiplier applied.
    pub quality_multiplier: f64,
    /// Living area × base rate × quality multiplier.
    pub rcn_main: f64,
    /// Full baths beyond the first and half baths.
    pub rcn_baths: f64,
    /// Garage spaces.
    pub rcn_garage: f64,
    /// Replacement cost new: main + baths + garage.
    pub rcn: f64,
    /// Age at the valuation date, in years.
    pub age: f64,
    /// Depreciation as a fraction of RCN (age table + condition, within the limits).
    pub depreciation_pct: f64,
    /// RCN × depreciation_pct.
    pub depreciation: f64,
    /// RCN less depreciation.
    pub building: f64,
    /// The site value (base lot, or scaled down for a smaller lot).
    pub land_site: f64,
    /// The value of acreage beyond the base lot.
    pub land_extra: f64,
    /// Site + extra acreage.
    pub land: f64,
    /// The land schedule applied: `neighbourhood N1`, `zone R-1` or `default`.
    #[serde(default)]
    pub land_schedule: String,
    /// Land + building: the cost-approach market value.
    pub total: f64,
}

/// The cost-approach value of a parcel at the valuation date (see the module
/// notes for every rule).
pub fn cost_value(c: &Chars, s: &CostSchedule, valuation_date: Date) -> CostBreakdown {
    let grade = |g: u8| usize::from(g.clamp(1, 6) - 1);
    let base_rate = s
        .base_rates
        .get(&c.style)
        .copied()
        .unwrap_or(s.default_rate);
    let quality_multiplier = s.quality_multipliers[grade(c.quality)];
    let rcn_main = (c.living_sqft * base_rate * quality_multiplier).round();
    let rcn_baths = (f64::from(c.full_baths.saturating_sub(1)) * s.extra_full_bath
        + f64::from(c.half_baths) * s.half_bath)
        .round();
    let rcn_garage = (f64::from(c.garage_spaces) * s.garage_space).round();
    let rcn = rcn_main + rcn_baths + rcn_garage;
    let age = age_at(c, valuation_date);
    let depreciation_pct = (s.age_depreciation(age) + s.condition_adjustment[grade(c.condition)])
        .clamp(0.0, s.max_depreciation);
    let depreciation = (rcn * depreciation_pct).round();
    let building = rcn - depreciation;
    let (land_schedule, land_rate) =
        match (s.land.get(&c.neighbourhood), s.land_by_zone.get(&c.zoning)) {
            (Some(r), _) => (format!("neighbourhood {}", c.neighbourhood), r),
            (None, Some(r)) => (format!("zone {}", c.zoning), r),
            (None, None) => ("default".to_owned(), &s.default_land),
        };
    let (site, extra) = land_rate.value(c.land_sqft);
    let (land_site, land_extra) = (site.round(), extra.round());
    let land = land_site + land_extra;
    CostBreakdown {
        base_rate,
        quality_multiplier,
        rcn_main,
        rcn_baths,
        rcn_garage,
        rcn,
        age,
        depreciation_pct,
        depreciation,
        building,
        land_site,
        land_extra,
        land,
        land_schedule,
        total: land + building,
    }
}
