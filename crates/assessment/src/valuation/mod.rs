//! Mass-appraisal valuation: the three approaches an assessor reconciles,
//! as pure functions over plain values (no database, no HTTP), so a
//! revaluation can be run, stored and re-run from its inputs alone.
//!
//! - `regression`: the market model, a multiple regression of ln(price) on
//!   the parcel's characteristics, location and the time of sale, with the
//!   diagnostics an assessor (and an appeal board) asks for; it predicts
//!   market value at the valuation date.
//! - `cost`: the cost approach, replacement cost new less depreciation plus
//!   land, with every component visible.
//! - `comps`: the sales comparison approach, the most similar sales adjusted
//!   line by line with the market model's coefficients.
//! - `synthetic`: a seeded region drawn from a known model, for the tests,
//!   the benchmark (`examples/bench_model.rs`) and demos.
//!
//! The inputs are [`Chars`] (what the models see of a parcel) and [`SaleObs`]
//! (a qualified sale, pointing into the slice of parcels). Which sales qualify
//! is decided before they reach this module.
//!
//! Values are estimates, held in `f64` dollars; they become money (cents,
//! exactly) only when an assessor adopts them.

use serde::{Deserialize, Serialize};

pub mod comps;
pub mod cost;
mod linalg;
pub mod regression;
pub mod synthetic;

#[cfg(test)]
mod tests;

pub use comps::{Adjustment, Comp, Feature, comparables, indicated_value};
pub use cost::{AcreTier, CostBreakdown, CostSchedule, LandRate, cost_value};
pub use regression::{
    Factor, GradeCoding, Model, ModelError, Predictor, Scope, Spec, Term, TermKind, TimeCoding,
    TimeTrend, fit,
};

/// One parcel's characteristics as the models see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chars {
    /// Town slug; a pooled regional model gives each town its own effect.
    pub town: String,
    /// Neighbourhood code within the town.
    pub neighbourhood: String,
    /// Zoning district (the cost approach's land schedule when the
    /// neighbourhood has none; the market model does not use it).
    #[serde(default)]
    pub zoning: String,
    /// Building style ("Colonial", "Cape Cod", "Ranch", …), free text; the
    /// model gives styles with enough sales their own effect and pools the rest.
    pub style: String,
    /// Lot size in square feet.
    pub land_sqft: f64,
    /// Finished living area in square feet.
    pub living_sqft: f64,
    /// Year the building was built.
    pub year_built: i32,
    /// Construction quality, 1..=6: Low, Fair, Average, Good, Very Good, Excellent.
    pub quality: u8,
    /// Condition, 1..=6 on the same scale.
    pub condition: u8,
    /// Full bathrooms.
    pub full_baths: u8,
    /// Half bathrooms.
    pub half_baths: u8,
    /// Bedrooms.
    pub bedrooms: u8,
    /// Garage spaces.
    pub garage_spaces: u8,
}

/// A qualified sale of a parcel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SaleObs {
    /// Index into the parcels slice passed alongside.
    pub parcel: usize,
    /// Sale price in dollars.
    pub price: f64,
    /// Date of sale.
    pub date: time::Date,
}

/// The names of the grades, 1..=6, as the property record card prints them.
pub const GRADE_NAMES: [&str; 6] = ["Low", "Fair", "Average", "Good", "Very Good", "Excellent"];

/// The name of grade `g` (1..=6), or "grade g" outside the scale.
pub fn grade_name(g: u8) -> String {
    match g {
        1..=6 => GRADE_NAMES[usize::from(g - 1)].to_string(),
        _ => format!("grade {g}"),
    }
}

/// What is wrong with a parcel's characteristics, if anything: the areas must
/// be positive finite numbers and the grades on the 1..=6 scale.
pub fn check_chars(c: &Chars) -> Result<(), (&'static str, String)> {
    if !(c.living_sqft.is_finite() && c.living_sqft > 0.0) {
        return Err(("living_sqft", c.living_sqft.to_string()));
    }
    if !(c.land_sqft.is_finite() && c.land_sqft > 0.0) {
        return Err(("land_sqft", c.land_sqft.to_string()));
    }
    if !(1..=6).contains(&c.quality) {
        return Err(("quality", c.quality.to_string()));
    }
    if !(1..=6).contains(&c.condition) {
        return Err(("condition", c.condition.to_string()));
    }
    Ok(())
}

/// Age in whole years at the valuation date: the valuation year less the year
/// built, never below zero (a house finished after the valuation date is new).
pub fn age_at(c: &Chars, valuation_date: time::Date) -> f64 {
    f64::from((valuation_date.year() - c.year_built).max(0))
}

/// Months from the valuation date to a sale (negative for sales before it),
/// counted in days over the mean month (365.25 / 12 days), so the linear
/// time trend sees the exact spacing of the sales.
pub fn months_from(valuation_date: time::Date, date: time::Date) -> f64 {
    (date - valuation_date).whole_days() as f64 / (365.25 / 12.0)
}

/// Calendar months before the valuation date's month (0 = the same month,
/// 1 = the month before, negative after), as the monthly dummies count them.
pub fn calendar_months_before(valuation_date: time::Date, date: time::Date) -> i32 {
    let index = |d: time::Date| d.year() * 12 + i32::from(u8::from(d.month()));
    index(valuation_date) - index(date)
}
