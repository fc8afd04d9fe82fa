//! The market model: ordinary least squares on ln(sale price).
//!
//! ln(price) = β₀ + β₁ ln(living sqft) + β₂ ln(land sqft) + β₃ age + β₄ age²
//!           + β₅ quality + β₆ condition + β₇ full baths + β₈ half baths
//!           + β₉ bedrooms + β₁₀ garage spaces + time + style + [town] + neighbourhood + ε
//!
//! A log-linear model because value is multiplicative in practice (a Good
//! house is worth some percent more than an Average one of the same size, not
//! some dollars), because the residuals of prices are far closer to constant
//! variance on the log scale, and because its coefficients read as percent
//! effects and elasticities, which is how they are explained at a hearing.
//!
//! # Decisions
//!
//! - **Quality and condition are numeric by default** ([`GradeCoding::Numeric`]):
//!   each grade step is one constant percent effect. The grades are ordered and
//!   roughly evenly spaced in value; the extremes (Low, Excellent) sell rarely,
//!   so dummies would estimate them from a handful of sales (or fold them into
//!   the reference, valuing an Excellent house as Average); and one coefficient
//!   each keeps the model small and its VIF reportable. [`GradeCoding::Dummies`]
//!   is there for a town whose grades are not evenly spaced (the same
//!   level-folding rule as the other factors applies).
//! - **Factors** (style, grades as dummies, town, neighbourhood within town,
//!   monthly time buckets) get one dummy per level with at least
//!   `min_sales_per_level` sales. The reference level (no dummy) is the most
//!   common level (ties: the first name in byte order). Rarer levels are pooled:
//!   together they get an "other" dummy when they have enough sales between
//!   them, and otherwise go with the reference. A level never seen in the sales
//!   is valued as the pooled ones are. Neighbourhood codes are nested in their
//!   town: each town has its own reference neighbourhood and its own "other".
//! - **Time.** [`TimeTrend::Linear`] has one term, `months`, the months from the
//!   valuation date to the sale (negative before it, in days / 30.4375), so its
//!   coefficient is the monthly rate of market change on the log scale; value
//!   at the valuation date is predicted at months = 0. [`TimeTrend::Monthly`]
//!   has dummies for calendar months before the valuation date's month; months
//!   with too few sales are merged, from the most recent backwards, into
//!   buckets of at least `min_sales_per_level` sales; the most recent bucket is
//!   the reference and value at the valuation date is that bucket's level (no
//!   extrapolation past the last sales).
//! - **Retransformation.** exp(x'β) estimates the median price, not the mean;
//!   predictions are multiplied by Duan's smearing factor, the mean of
//!   exp(residual) over the sales fitted (Duan 1983, "Smearing estimate: a
//!   nonparametric retransformation method"), which needs no normality
//!   assumption.
//! - **Errors instead of noise.** A column with one value throughout, too few
//!   sales for the number of terms, or a column that is a linear combination of
//!   others is refused with the terms named (see [`ModelError`]).
//!
//! # Determinism
//!
//! `fit` sorts the sales (date, price, parcel index) before anything else and
//! orders factor levels by name, so the model depends on the set of sales, not
//! the order they are passed in; the arithmetic is a fixed sequence of IEEE
//! operations on one thread, so the same parcels, sales and [`Spec`] give a
//! bit-identical [`Model`] on every run of the same build (another platform's
//! `ln`/`exp` may differ in the last bit). A stored `Spec` with the stored sales reproduces a
//! model run exactly; a stored `Model` (serde) predicts without refitting.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use super::linalg;
use super::{Chars, SaleObs, age_at, calendar_months_before, check_chars, grade_name, months_from};
use crate::stats;

/// How the model follows the market over the sales period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeTrend {
    /// One term: a constant monthly rate of change (the default).
    Linear,
    /// Dummies for calendar months before the valuation date (sparse months merged).
    Monthly,
}

/// Which sales the model is fitted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// One town's sales (its slug); no town effects.
    Town(String),
    /// Every sale passed, with a fixed effect per town.
    Region,
}

/// How quality and condition enter the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GradeCoding {
    /// One coefficient each: a constant percent effect per grade step (the default).
    Numeric,
    /// One dummy per grade with enough sales.
    Dummies,
}

/// A characteristic entering the model as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Predictor {
    /// ln(living area): an elasticity.
    LnLivingSqft,
    /// ln(lot size): an elasticity.
    LnLandSqft,
    /// Age in years at the valuation date.
    Age,
    /// Age squared: depreciation slows with age.
    AgeSquared,
    /// Quality grade 1..=6 (a factor under [`GradeCoding::Dummies`]).
    Quality,
    /// Condition grade 1..=6 (a factor under [`GradeCoding::Dummies`]).
    Condition,
    /// Full bathrooms.
    FullBaths,
    /// Half bathrooms.
    HalfBaths,
    /// Bedrooms.
    Bedrooms,
    /// Garage spaces.
    GarageSpaces,
}

impl Predictor {
    /// Every predictor, in the order the terms are listed.
    pub const ALL: [Predictor; 10] = [
        Self::LnLivingSqft,
        Self::LnLandSqft,
        Self::Age,
        Self::AgeSquared,
        Self::Quality,
        Self::Condition,
        Self::FullBaths,
        Self::HalfBaths,
        Self::Bedrooms,
        Self::GarageSpaces,
    ];

    /// The term's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::LnLivingSqft => "ln_living_sqft",
            Self::LnLandSqft => "ln_land_sqft",
            Self::Age => "age",
            Self::AgeSquared => "age_squared",
            Self::Quality => "quality",
            Self::Condition => "condition",
            Self::FullBaths => "full_baths",
            Self::HalfBaths => "half_baths",
            Self::Bedrooms => "bedrooms",
            Self::GarageSpaces => "garage_spaces",
        }
    }

    /// The predictor's value for a parcel (valid characteristics assumed).
    pub fn value(self, c: &Chars, valuation_date: Date) -> f64 {
        match self {
            Self::LnLivingSqft => c.living_sqft.ln(),
            Self::LnLandSqft => c.land_sqft.ln(),
            Self::Age => age_at(c, valuation_date),
            Self::AgeSquared => age_at(c, valuation_date).powi(2),
            Self::Quality => f64::from(c.quality),
            Self::Condition => f64::from(c.condition),
            Self::FullBaths => f64::from(c.full_baths),
            Self::HalfBaths => f64::from(c.half_baths),
            Self::Bedrooms => f64::from(c.bedrooms),
            Self::GarageSpaces => f64::from(c.garage_spaces),
        }
    }
}

/// What a model run is asked to fit; stored with the run so it can be repeated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// The date values are estimated at (Connecticut: October 1 of the revaluation year).
    pub valuation_date: Date,
    /// One town or the region.
    pub scope: Scope,
    /// Linear trend or monthly dummies.
    pub time_trend: TimeTrend,
    /// Quality and condition as numbers or dummies.
    pub grades: GradeCoding,
    /// A factor level (style, neighbourhood, town, month, grade) needs this many
    /// sales for its own term; fewer and it is pooled (see the module notes).
    pub min_sales_per_level: usize,
    /// The numeric characteristics in the model, in term order (drop one
    /// that does not vary in a town's sales).
    pub predictors: Vec<Predictor>,
}

impl Spec {
    /// The default specification: every predictor, numeric grades, a linear
    /// time trend, 10 sales per level.
    pub fn new(valuation_date: Date, scope: Scope) -> Self {
        Self {
            valuation_date,
            scope,
            time_trend: TimeTrend::Linear,
            grades: GradeCoding::Numeric,
            min_sales_per_level: 10,
            predictors: Predictor::ALL.to_vec(),
        }
    }
}

/// Which factor a dummy belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FactorId {
    /// Building style.
    Style,
    /// Quality grade (as dummies).
    Quality,
    /// Condition grade (as dummies).
    Condition,
    /// Town (regional model).
    Town,
    /// Neighbourhood within the named town.
    Neighbourhood(String),
}

/// What a term is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TermKind {
    /// The constant.
    Intercept,
    /// A numeric characteristic.
    Numeric(Predictor),
    /// The linear time trend (months from the valuation date).
    Months,
    /// A monthly time bucket: index into [`TimeCoding::Monthly`]'s buckets.
    MonthBucket(usize),
    /// A factor level's dummy; `level` None is the pooled "other" level.
    Level {
        /// The factor.
        factor: FactorId,
        /// The level, or None for "other".
        level: Option<String>,
    },
}

/// One fitted term with its inference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term {
    /// A readable, unique name: `ln_living_sqft`, `style[Cape Cod]`,
    /// `neighbourhood[avon/12]`, `months`, `month[4-6]`.
    pub name: String,
    /// What the term is.
    pub kind: TermKind,
    /// The coefficient (log scale).
    pub coefficient: f64,
    /// Its standard error.
    #[serde(deserialize_with = "null_as_nan")]
    pub std_error: f64,
    /// coefficient / standard error.
    #[serde(deserialize_with = "null_as_nan")]
    pub t_value: f64,
    /// Two-sided p-value of t with n − k degrees of freedom.
    #[serde(deserialize_with = "null_as_nan")]
    pub p_value: f64,
    /// Variance inflation factor, for the numeric predictors and the linear
    /// trend (not the intercept or dummies): 1 / (1 − R²) of the term
    /// regressed on every other term, as statsmodels'
    /// `variance_inflation_factor` computes it. Age and age² are high
    /// together by construction.
    pub vif: Option<f64>,
}

/// A factor level with its own term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// The term's column.
    pub column: usize,
    /// Sales at this level (for "other": at all the pooled levels).
    pub sales: usize,
}

/// How a factor's values map to terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    /// The reference level: no term (its effect is in the intercept).
    pub reference: String,
    /// Sales at the reference level.
    pub reference_sales: usize,
    /// Levels with their own term.
    pub levels: BTreeMap<String, Level>,
    /// The pooled rare levels' term, when they have enough sales between them.
    pub other: Option<Level>,
    /// The rare levels: in `other` if it exists, else valued as the reference.
    pub pooled: Vec<String>,
}

impl Factor {
    /// The column a value sets to 1, or None for the reference.
    pub fn column(&self, value: &str) -> Option<usize> {
        match self.levels.get(value) {
            Some(l) => Some(l.column),
            None if value == self.reference => None,
            None => self.other.as_ref().map(|o| o.column),
        }
    }

    /// Whether a value was seen in the sales.
    pub fn seen(&self, value: &str) -> bool {
        value == self.reference
            || self.levels.contains_key(value)
            || self.pooled.iter().any(|p| p == value)
    }
}

/// A bucket of calendar months before the valuation date's month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthBucket {
    /// The most recent month in the bucket (0 = the valuation month).
    pub newest: i32,
    /// The oldest month with sales in the bucket.
    pub oldest: i32,
    /// Sales in the bucket.
    pub sales: usize,
    /// The term's column; None for the reference (most recent) bucket.
    pub column: Option<usize>,
}

/// How the time of sale maps to terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeCoding {
    /// The `months` term's column.
    Linear {
        /// Column.
        column: usize,
    },
    /// Buckets from the most recent back; a month before the first bucket's
    /// newest belongs to it, after the last bucket's oldest to the last.
    Monthly {
        /// The buckets, most recent first.
        buckets: Vec<MonthBucket>,
    },
}

impl TimeCoding {
    fn bucket(buckets: &[MonthBucket], months_before: i32) -> usize {
        buckets
            .iter()
            .rposition(|b| b.newest <= months_before)
            .unwrap_or(0)
    }
}

/// When a parcel is valued: at the valuation date, or at a sale's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// At the valuation date.
    ValuationDate,
    /// At the date of a sale.
    Sale(Date),
}

/// The mapping from characteristics to the model's columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coding {
    /// The numeric predictors with their columns.
    pub numeric: Vec<(Predictor, usize)>,
    /// The time terms.
    pub time: TimeCoding,
    /// Building style.
    pub style: Factor,
    /// Quality, when coded as dummies.
    pub quality: Option<Factor>,
    /// Condition, when coded as dummies.
    pub condition: Option<Factor>,
    /// Town, in a regional model.
    pub town: Option<Factor>,
    /// Neighbourhoods, by town.
    pub neighbourhoods: BTreeMap<String, Factor>,
}

impl Coding {
    /// Calls `f(column, value)` for every non-zero entry of a parcel's row
    /// (the intercept is column 0). Valid characteristics assumed.
    pub fn for_each_entry(
        &self,
        c: &Chars,
        valuation_date: Date,
        when: When,
        mut f: impl FnMut(usize, f64),
    ) {
        f(0, 1.0);
        for &(p, col) in &self.numeric {
            f(col, p.value(c, valuation_date));
        }
        match (&self.time, when) {
            (TimeCoding::Linear { .. }, When::ValuationDate) => {}
            (TimeCoding::Linear { column }, When::Sale(d)) => {
                f(*column, months_from(valuation_date, d));
            }
            (TimeCoding::Monthly { .. }, When::ValuationDate) => {}
            (TimeCoding::Monthly { buckets }, When::Sale(d)) => {
                let b = TimeCoding::bucket(buckets, calendar_months_before(valuation_date, d));
                if let Some(col) = buckets[b].column {
                    f(col, 1.0);
                }
            }
        }
        let grade = |factor: &Option<Factor>, g: u8| {
            factor.as_ref().and_then(|fa| fa.column(&grade_name(g)))
        };
        let dummies = [
            self.style.column(&c.style),
            grade(&self.quality, c.quality),
            grade(&self.condition, c.condition),
            self.town.as_ref().and_then(|fa| fa.column(&c.town)),
            self.neighbourhoods
                .get(&c.town)
                .and_then(|fa| fa.column(&c.neighbourhood)),
        ];
        for col in dummies.into_iter().flatten() {
            f(col, 1.0);
        }
    }
}

/// serde_json writes NaN and infinite statistics (a t value of an exact fit)
/// as null; a stored model reads them back as NaN.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A fitted market model: coefficients with inference, fit statistics, and
/// the coding that turns a parcel into a row. Serializable, so a model run
/// can be stored and used later without refitting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// What was fitted.
    pub spec: Spec,
    /// The terms, in column order (the intercept first).
    pub terms: Vec<Term>,
    /// Sales fitted.
    pub n: usize,
    /// Terms fitted, the intercept included.
    pub k: usize,
    /// R² of ln(price).
    #[serde(deserialize_with = "null_as_nan")]
    pub r_squared: f64,
    /// R² adjusted for the number of terms: 1 − (1 − R²)(n − 1)/(n − k).
    #[serde(deserialize_with = "null_as_nan")]
    pub adj_r_squared: f64,
    /// Root mean squared error on the log scale, with n − k degrees of
    /// freedom (the residual standard error; statsmodels' √mse_resid).
    #[serde(deserialize_with = "null_as_nan")]
    pub rmse: f64,
    /// Duan's smearing factor: the mean of exp(residual).
    #[serde(deserialize_with = "null_as_nan")]
    pub smearing: f64,
    /// How characteristics map to the terms.
    pub coding: Coding,
}

impl Model {
    /// The term of that name.
    pub fn term(&self, name: &str) -> Option<&Term> {
        self.terms.iter().find(|t| t.name == name)
    }

    /// x'β: the fitted ln(price) of a parcel at the valuation date or at a
    /// sale's date, before retransformation. Valid characteristics assumed.
    pub fn log_value(&self, c: &Chars, when: When) -> f64 {
        let mut s = 0.0;
        self.coding
            .for_each_entry(c, self.spec.valuation_date, when, |j, v| {
                s += self.terms[j].coefficient * v;
            });
        s
    }

    /// Each term's contribution β_j·x_j to a parcel's ln(price).
    pub fn contributions(&self, c: &Chars, when: When) -> Vec<f64> {
        let mut out = vec![0.0; self.terms.len()];
        self.coding
            .for_each_entry(c, self.spec.valuation_date, when, |j, v| {
                out[j] = self.terms[j].coefficient * v;
            });
        out
    }

    /// Market value at the valuation date, or why the parcel cannot be valued
    /// by this model (invalid characteristics, another town than a town
    /// model's, a town without sales in a regional model).
    pub fn try_predict(&self, c: &Chars) -> Result<f64, ModelError> {
        check_chars(c).map_err(|(field, value)| ModelError::InvalidParcel {
            parcel: None,
            field,
            value,
        })?;
        match (&self.spec.scope, &self.coding.town) {
            (Scope::Town(t), _) if *t != c.town => {
                return Err(ModelError::OutsideScope {
                    town: c.town.clone(),
                    scope: t.clone(),
                });
            }
            (Scope::Region, Some(f)) if !f.seen(&c.town) => {
                return Err(ModelError::OutsideScope {
                    town: c.town.clone(),
                    scope: "the towns with sales in this model".into(),
                });
            }
            _ => {}
        }
        Ok(self.log_value(c, When::ValuationDate).exp() * self.smearing)
    }

    /// A price paid on `date` brought to the valuation date with the model's
    /// time terms: price × exp(time effect at the valuation date − at `date`).
    /// Ratio studies of the model compare predictions with these.
    pub fn time_adjust(&self, price: f64, date: Date) -> f64 {
        let time = |when: When| -> f64 {
            match (&self.coding.time, when) {
                (TimeCoding::Linear { column }, When::Sale(d)) => {
                    self.terms[*column].coefficient * months_from(self.spec.valuation_date, d)
                }
                (TimeCoding::Monthly { buckets }, When::Sale(d)) => {
                    let b = TimeCoding::bucket(
                        buckets,
                        calendar_months_before(self.spec.valuation_date, d),
                    );
                    buckets[b].column.map_or(0.0, |c| self.terms[c].coefficient)
                }
                (_, When::ValuationDate) => 0.0,
            }
        };
        price * (time(When::ValuationDate) - time(When::Sale(date))).exp()
    }

    /// Market value at the valuation date: exp(x'β) × the smearing factor,
    /// with the time terms at the valuation date. NaN when [`Model::try_predict`]
    /// would refuse the parcel.
    pub fn predict(&self, c: &Chars) -> f64 {
        self.try_predict(c).unwrap_or(f64::NAN)
    }
}

/// Why a model cannot be fitted or a parcel valued.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// A sale is unusable; `sale` indexes the sales slice.
    InvalidSale {
        /// The sale.
        sale: usize,
        /// What is wrong.
        reason: String,
    },
    /// A parcel's characteristic is unusable (NaN, zero or negative area, a
    /// grade off the 1–6 scale).
    InvalidParcel {
        /// The parcel's index, when it is one of the parcels passed.
        parcel: Option<usize>,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// Fewer sales than terms (n must exceed k).
    TooFewSales {
        /// Sales in scope.
        n: usize,
        /// Terms the specification needs.
        k: usize,
    },
    /// A term has one value in every sale, so its effect cannot be estimated.
    ConstantColumn {
        /// The term.
        term: String,
        /// The value.
        value: f64,
    },
    /// Terms that are an exact linear combination of each other.
    Collinear {
        /// The terms involved; the last is the one found to depend on the others.
        terms: Vec<String>,
    },
    /// The parcel is outside the model's scope.
    OutsideScope {
        /// The parcel's town.
        town: String,
        /// What the model covers.
        scope: String,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSale { sale, reason } => write!(f, "sale {}: {reason}", sale + 1),
            Self::InvalidParcel {
                parcel,
                field,
                value,
            } => {
                if let Some(p) = parcel {
                    write!(f, "parcel {}: ", p + 1)?;
                }
                if matches!(*field, "quality" | "condition") {
                    write!(f, "{field} must be a grade from 1 to 6, not {value}")
                } else {
                    write!(
                        f,
                        "{field} must be a positive number of square feet, not {value}"
                    )
                }
            }
            Self::TooFewSales { n, k } => write!(
                f,
                "too few sales for the model: {n} sales for {k} terms (more sales than terms are needed; drop terms or raise the minimum sales per level)"
            ),
            Self::ConstantColumn { term, value } => write!(
                f,
                "every sale has {term} = {value}, so its effect cannot be estimated; remove {term} from the model"
            ),
            Self::Collinear { terms } => match terms.split_last() {
                Some((last, [])) => write!(f, "the term {last} is zero for every sale"),
                Some((last, rest)) => write!(
                    f,
                    "perfect collinearity: {last} is a linear combination of {}; remove one of these terms",
                    rest.join(", ")
                ),
                None => write!(f, "perfect collinearity among the terms"),
            },
            Self::OutsideScope { town, scope } => {
                write!(
                    f,
                    "a parcel in {town} cannot be valued by a model of {scope}"
                )
            }
        }
    }
}

impl std::error::Error for ModelError {}

/// Columns being laid out: names and kinds.
#[derive(Default)]
struct Layout {
    names: Vec<String>,
    kinds: Vec<TermKind>,
}

impl Layout {
    fn push(&mut self, name: String, kind: TermKind) -> usize {
        self.names.push(name);
        self.kinds.push(kind);
        self.names.len() - 1
    }

    /// Codes a factor from its values in the sales (see the module notes).
    fn factor<'a>(
        &mut self,
        values: impl Iterator<Item = &'a str>,
        min: usize,
        id: &FactorId,
        name: impl Fn(Option<&str>) -> String,
    ) -> Factor {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for v in values {
            *counts.entry(v).or_default() += 1;
        }
        // The most common level; ties go to the first name (BTreeMap order).
        let (reference, reference_sales) =
            counts.iter().fold(
                ("", 0),
                |best, (v, c)| if *c > best.1 { (v, *c) } else { best },
            );
        let mut levels = BTreeMap::new();
        let mut pooled = Vec::new();
        let mut pooled_sales = 0;
        for (v, c) in &counts {
            if *v == reference {
                continue;
            }
            if *c >= min {
                let column = self.push(
                    name(Some(v)),
                    TermKind::Level {
                        factor: id.clone(),
                        level: Some((*v).to_string()),
                    },
                );
                levels.insert((*v).to_string(), Level { column, sales: *c });
            } else {
                pooled.push((*v).to_string());
                pooled_sales += c;
            }
        }
        let other = (pooled_sales >= min && pooled_sales > 0).then(|| Level {
            column: self.push(
                name(None),
                TermKind::Level {
                    factor: id.clone(),
                    level: None,
                },
            ),
            sales: pooled_sales,
        });
        Factor {
            reference: reference.to_string(),
            reference_sales,
            levels,
            other,
            pooled,
        }
    }
}

/// Buckets of calendar months (most recent first), each with at least `min`
/// sales; a short tail joins the last full bucket.
fn month_buckets(months_before: &[i32], min: usize, layout: &mut Layout) -> Vec<MonthBucket> {
    let mut counts: BTreeMap<i32, usize> = BTreeMap::new();
    for m in months_before {
        *counts.entry(*m).or_default() += 1;
    }
    let mut buckets: Vec<MonthBucket> = Vec::new();
    let mut open: Option<MonthBucket> = None;
    for (m, c) in counts {
        let b = open.get_or_insert(MonthBucket {
            newest: m,
            oldest: m,
            sales: 0,
            column: None,
        });
        b.oldest = m;
        b.sales += c;
        if b.sales >= min {
            buckets.extend(open.take());
        }
    }
    if let Some(tail) = open {
        match buckets.last_mut() {
            Some(last) => {
                last.oldest = tail.oldest;
                last.sales += tail.sales;
            }
            None => buckets.push(tail),
        }
    }
    for (i, b) in buckets.iter_mut().enumerate().skip(1) {
        let name = if b.newest == b.oldest {
            format!("month[{}]", b.newest)
        } else {
            format!("month[{}-{}]", b.newest, b.oldest)
        };
        b.column = Some(layout.push(name, TermKind::MonthBucket(i)));
    }
    buckets
}

/// Fits the market model to the sales in the specification's scope.
///
/// Every sale's parcel index must be within `parcels` and its price positive;
/// the parcels of the sales in scope must have valid characteristics
/// (positive finite areas, grades 1..=6). See the module notes for the terms,
/// the coding of factors and the determinism guarantee.
pub fn fit(parcels: &[Chars], sales: &[SaleObs], spec: &Spec) -> Result<Model, ModelError> {
    let min = spec.min_sales_per_level.max(1);
    let vd = spec.valuation_date;
    let mut used: Vec<SaleObs> = Vec::with_capacity(sales.len());
    for (i, s) in sales.iter().enumerate() {
        let c = parcels
            .get(s.parcel)
            .ok_or_else(|| ModelError::InvalidSale {
                sale: i,
                reason: format!(
                    "it names parcel {} but there are {} parcels",
                    s.parcel + 1,
                    parcels.len()
                ),
            })?;
        if !(s.price.is_finite() && s.price > 0.0) {
            return Err(ModelError::InvalidSale {
                sale: i,
                reason: format!("the price must be a positive amount, not {}", s.price),
            });
        }
        if let Scope::Town(t) = &spec.scope
            && c.town != *t
        {
            continue;
        }
        check_chars(c).map_err(|(field, value)| ModelError::InvalidParcel {
            parcel: Some(s.parcel),
            field,
            value,
        })?;
        used.push(*s);
    }
    used.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then(a.price.total_cmp(&b.price))
            .then(a.parcel.cmp(&b.parcel))
    });
    let chars: Vec<&Chars> = used.iter().map(|s| &parcels[s.parcel]).collect();

    // Lay out the columns.
    let mut layout = Layout::default();
    layout.push("intercept".into(), TermKind::Intercept);
    let dummy_grades = spec.grades == GradeCoding::Dummies;
    let mut numeric = Vec::new();
    for &p in &spec.predictors {
        let as_factor = dummy_grades && matches!(p, Predictor::Quality | Predictor::Condition);
        if as_factor || numeric.iter().any(|(q, _)| *q == p) {
            continue;
        }
        numeric.push((p, layout.push(p.name().into(), TermKind::Numeric(p))));
    }
    let time = match spec.time_trend {
        TimeTrend::Linear => TimeCoding::Linear {
            column: layout.push("months".into(), TermKind::Months),
        },
        TimeTrend::Monthly => {
            let m: Vec<i32> = used
                .iter()
                .map(|s| calendar_months_before(vd, s.date))
                .collect();
            TimeCoding::Monthly {
                buckets: month_buckets(&m, min, &mut layout),
            }
        }
    };
    let style = layout.factor(
        chars.iter().map(|c| c.style.as_str()),
        min,
        &FactorId::Style,
        |l| format!("style[{}]", l.unwrap_or("other")),
    );
    let grade_factor = |layout: &mut Layout, p: Predictor, id: FactorId| {
        if !(dummy_grades && spec.predictors.contains(&p)) {
            return None;
        }
        let names: Vec<String> = chars
            .iter()
            .map(|c| {
                grade_name(if p == Predictor::Quality {
                    c.quality
                } else {
                    c.condition
                })
            })
            .collect();
        Some(
            layout.factor(names.iter().map(String::as_str), min, &id, |l| {
                format!("{}[{}]", p.name(), l.unwrap_or("other"))
            }),
        )
    };
    let quality = grade_factor(&mut layout, Predictor::Quality, FactorId::Quality);
    let condition = grade_factor(&mut layout, Predictor::Condition, FactorId::Condition);
    let regional = spec.scope == Scope::Region;
    let town = regional.then(|| {
        layout.factor(
            chars.iter().map(|c| c.town.as_str()),
            min,
            &FactorId::Town,
            |l| format!("town[{}]", l.unwrap_or("other")),
        )
    });
    let mut by_town: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in &chars {
        by_town
            .entry(c.town.as_str())
            .or_default()
            .push(c.neighbourhood.as_str());
    }
    let mut neighbourhoods = BTreeMap::new();
    for (t, codes) in by_town {
        let f = layout.factor(
            codes.into_iter(),
            min,
            &FactorId::Neighbourhood(t.to_string()),
            |l| {
                let l = l.unwrap_or("other");
                if regional {
                    format!("neighbourhood[{t}/{l}]")
                } else {
                    format!("neighbourhood[{l}]")
                }
            },
        );
        neighbourhoods.insert(t.to_string(), f);
    }
    let coding = Coding {
        numeric,
        time,
        style,
        quality,
        condition,
        town,
        neighbourhoods,
    };

    let (n, k) = (used.len(), layout.names.len());
    if n <= k {
        return Err(ModelError::TooFewSales { n, k });
    }
    let mut x = vec![0.0; n * k];
    let mut y = Vec::with_capacity(n);
    for (i, (s, c)) in used.iter().zip(&chars).enumerate() {
        coding.for_each_entry(c, vd, When::Sale(s.date), |j, v| x[j * n + i] = v);
        y.push(s.price.ln());
    }
    // A numeric column with one value is confounded with the intercept.
    for (j, kind) in layout.kinds.iter().enumerate() {
        if matches!(kind, TermKind::Numeric(_) | TermKind::Months) {
            let col = &x[j * n..(j + 1) * n];
            if col.iter().all(|v| *v == col[0]) {
                return Err(ModelError::ConstantColumn {
                    term: layout.names[j].clone(),
                    value: col[0],
                });
            }
        }
    }
    let ls = linalg::least_squares(&x, n, k, &y).map_err(|d| ModelError::Collinear {
        terms: d
            .involved
            .iter()
            .chain(std::iter::once(&d.column))
            .map(|&j| layout.names[j].clone())
            .collect(),
    })?;

    // Residuals, fit statistics, inference.
    let mut fitted = vec![0.0; n];
    for (j, b) in ls.beta.iter().enumerate() {
        for (f, xv) in fitted.iter_mut().zip(&x[j * n..(j + 1) * n]) {
            *f += b * xv;
        }
    }
    let resid: Vec<f64> = y.iter().zip(&fitted).map(|(a, b)| a - b).collect();
    let rss: f64 = resid.iter().map(|e| e * e).sum();
    let ybar = stats::mean(&y);
    let tss: f64 = y.iter().map(|v| (v - ybar) * (v - ybar)).sum();
    let df = (n - k) as f64;
    let s2 = rss / df;
    let r_squared = 1.0 - rss / tss;
    let terms = layout
        .names
        .into_iter()
        .zip(layout.kinds)
        .enumerate()
        .map(|(j, (name, kind))| {
            let coefficient = ls.beta[j];
            let std_error = (s2 * ls.xtx_inv_diag[j]).sqrt();
            let t_value = coefficient / std_error;
            let vif = matches!(kind, TermKind::Numeric(_) | TermKind::Months).then(|| {
                // With an intercept in the model, VIF_j = [(XᵀX)⁻¹]_jj · Σ(x_ij − x̄_j)².
                let col = &x[j * n..(j + 1) * n];
                let m = stats::mean(col);
                ls.xtx_inv_diag[j] * col.iter().map(|v| (v - m) * (v - m)).sum::<f64>()
            });
            Term {
                name,
                kind,
                coefficient,
                std_error,
                t_value,
                p_value: stats::t_two_sided(t_value.abs(), df),
                vif,
            }
        })
        .collect();
    Ok(Model {
        spec: spec.clone(),
        terms,
        n,
        k,
        r_squared,
        adj_r_squared: 1.0 - (1.0 - r_squared) * (n - 1) as f64 / df,
        rmse: s2.sqrt(),
        smearing: stats::mean(&resid.iter().map(|e| e.exp()).collect::<Vec<_>>()),
        coding,
    })
}
