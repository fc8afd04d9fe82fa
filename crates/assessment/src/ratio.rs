//! Ratio studies after the IAAO Standard on Ratio Studies: how close
//! assessments are to sale prices (level), how uniform (COD), and whether
//! cheap and expensive properties are treated alike (PRD, PRB, KI/MKI), with
//! confidence intervals, outlier trimming and a test for sales chasing.
//!
//! Formulas (as the Cook County Assessor's assessr and assesspy implement
//! them, whose published test values the tests reproduce):
//! - ratio r = assessed / price; level is the median ratio divided by the
//!   town's assessment level (Connecticut assesses at 70 % of market value),
//!   so it is judged against 1.0;
//! - COD = 100 · mean(|r − median r|) / median r;
//! - PRD = mean r / (Σ assessed / Σ price);
//! - PRB = OLS slope of (r − med) / med on log₂((assessed / med + price) / 2),
//!   with the interval slope ± t(1 − α/2, n − 2) · SE;
//! - Gini of assessed values and of prices, both ordered by price (stable):
//!   G = (2 Σ xᵢ i / Σ x − (n + 1)) / n; KI = G_assessed − G_price;
//!   MKI = G_assessed / G_price;
//! - sales chasing (CDF method): the largest step of the empirical CDF of the
//!   sorted ratios exceeds 0.03 and sits between 0.98 and 1.02.
//!
//! Every statistic is a function of the set of sales: the study sorts the
//! sales before resampling, so shuffling the rows changes nothing, and
//! multiplying all values by one factor changes no statistic but the ratios'
//! level. Ratios are statistics, not money: they are computed in `f64` from
//! amounts the caller holds exactly.

use std::fmt;

use crate::stats::{self, Rng};

/// Fewer sales than this and no study is computed.
pub const MIN_SALES: usize = 5;
/// Fewer sales than this and the study is marked as a small sample.
pub const RELIABLE_SALES: usize = 30;

/// Why a study cannot be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum StudyError {
    /// Too few sales to say anything.
    TooFew {
        /// Sales given.
        n: usize,
        /// Sales needed.
        min: usize,
    },
    /// A sale cannot be used; `row` counts from 1.
    Invalid {
        /// The row.
        row: usize,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for StudyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFew { n, min } => write!(
                f,
                "a ratio study needs at least {min} qualified sales; there are {n}, too few to measure level or uniformity"
            ),
            Self::Invalid { row, message } => write!(f, "row {row}: {message}"),
        }
    }
}

impl std::error::Error for StudyError {}

/// Checks paired assessed values and sale prices.
pub fn check(assessed: &[f64], price: &[f64]) -> Result<(), StudyError> {
    if assessed.len() != price.len() {
        return Err(StudyError::Invalid {
            row: assessed.len().min(price.len()) + 1,
            message: "every sale needs both an assessed value and a price".into(),
        });
    }
    for (i, (a, p)) in assessed.iter().zip(price).enumerate() {
        if !p.is_finite() || *p <= 0.0 {
            return Err(StudyError::Invalid {
                row: i + 1,
                message: format!("the sale price must be a positive amount, not {p}"),
            });
        }
        if !a.is_finite() || *a <= 0.0 {
            return Err(StudyError::Invalid {
                row: i + 1,
                message: format!("the assessed value must be a positive amount, not {a}"),
            });
        }
    }
    if assessed.len() < MIN_SALES {
        return Err(StudyError::TooFew {
            n: assessed.len(),
            min: MIN_SALES,
        });
    }
    Ok(())
}

/// assessed / price, row by row.
pub fn ratios(assessed: &[f64], price: &[f64]) -> Vec<f64> {
    assessed.iter().zip(price).map(|(a, p)| a / p).collect()
}

/// Coefficient of dispersion, in percent.
pub fn cod(ratios: &[f64]) -> f64 {
    let med = stats::median(ratios);
    100.0 * stats::mean(&ratios.iter().map(|r| (r - med).abs()).collect::<Vec<_>>()) / med
}

/// Price-related differential.
pub fn prd(assessed: &[f64], price: &[f64]) -> f64 {
    let weighted = assessed.iter().sum::<f64>() / price.iter().sum::<f64>();
    stats::mean(&ratios(assessed, price)) / weighted
}

/// Coefficient of price-related bias with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prb {
    /// The coefficient.
    pub value: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// PRB at confidence 1 − `alpha`; None when the values do not vary.
pub fn prb(assessed: &[f64], price: &[f64], alpha: f64) -> Option<Prb> {
    let r = ratios(assessed, price);
    let med = stats::median(&r);
    let lhs: Vec<f64> = r.iter().map(|v| (v - med) / med).collect();
    let rhs: Vec<f64> = assessed
        .iter()
        .zip(price)
        .map(|(a, p)| ((a / med + p) * 0.5).log2())
        .collect();
    let fit = stats::ols(&rhs, &lhs)?;
    let t = stats::t_quantile(1.0 - alpha / 2.0, (r.len() - 2) as f64);
    Some(Prb {
        value: fit.slope,
        lower: fit.slope - t * fit.slope_se,
        upper: fit.slope + t * fit.slope_se,
    })
}

fn gini(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let weighted: f64 = x.iter().enumerate().map(|(i, v)| v * (i + 1) as f64).sum();
    (2.0 * weighted / x.iter().sum::<f64>() - (n + 1.0)) / n
}

/// Kakwani index and modified Kakwani index (Quintos 2020): (KI, MKI).
pub fn kakwani(assessed: &[f64], price: &[f64]) -> (f64, f64) {
    let mut pairs: Vec<(f64, f64)> = assessed
        .iter()
        .copied()
        .zip(price.iter().copied())
        .collect();
    // Stable: sales at the same price keep their order.
    pairs.sort_by(|a, b| a.1.total_cmp(&b.1));
    let av: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let sp: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let (ga, gs) = (gini(&av), gini(&sp));
    (ga - gs, ga / gs)
}

/// A percentile bootstrap interval of `stat` at confidence 1 − `alpha`.
pub fn bootstrap<F>(
    assessed: &[f64],
    price: &[f64],
    stat: F,
    draws: usize,
    alpha: f64,
    seed: u64,
) -> (f64, f64)
where
    F: Fn(&[f64], &[f64]) -> f64,
{
    let n = assessed.len();
    let mut rng = Rng::new(seed);
    let (mut a, mut p) = (vec![0.0; n], vec![0.0; n]);
    let mut values = Vec::with_capacity(draws);
    for _ in 0..draws {
        for k in 0..n {
            let i = rng.below(n);
            a[k] = assessed[i];
            p[k] = price[i];
        }
        values.push(stat(&a, &p));
    }
    let values = stats::sorted(&values);
    (
        stats::quantile_sorted(&values, alpha / 2.0),
        stats::quantile_sorted(&values, 1.0 - alpha / 2.0),
    )
}

/// Ratios outside [Q1 − mult·IQR, Q3 + mult·IQR].
pub fn iqr_outliers(ratios: &[f64], mult: f64) -> Vec<bool> {
    let s = stats::sorted(ratios);
    let (q1, q3) = (
        stats::quantile_sorted(&s, 0.25),
        stats::quantile_sorted(&s, 0.75),
    );
    let (lo, hi) = (q1 - mult * (q3 - q1), q3 + mult * (q3 - q1));
    ratios.iter().map(|r| *r < lo || *r > hi).collect()
}

/// Ratios below the `lower` or above the `upper` quantile (IAAO's trimming of, e.g., 5 % each side).
pub fn quantile_outliers(ratios: &[f64], lower: f64, upper: f64) -> Vec<bool> {
    let s = stats::sorted(ratios);
    let (lo, hi) = (
        stats::quantile_sorted(&s, lower),
        stats::quantile_sorted(&s, upper),
    );
    ratios.iter().map(|r| *r < lo || *r > hi).collect()
}

/// Whether the ratios look chased (assessments moved to their sale prices):
/// the largest step of their empirical CDF exceeds `gap` and lies inside `bounds`.
pub fn sales_chasing(ratios: &[f64], bounds: (f64, f64), gap: f64) -> bool {
    let s = stats::sorted(ratios);
    let n = s.len() as f64;
    // F(x) = share of ratios at or below x, evaluated at each sorted ratio.
    let mut cdf = Vec::with_capacity(s.len());
    let mut j = 0;
    for x in &s {
        while j < s.len() && s[j] <= *x {
            j += 1;
        }
        cdf.push(j as f64 / n);
    }
    let mut best = (0usize, f64::NEG_INFINITY);
    for i in 0..s.len().saturating_sub(1) {
        let d = cdf[i + 1] - cdf[i];
        if d > best.1 {
            best = (i, d);
        }
    }
    let at = s.get(best.0).copied().unwrap_or(f64::NAN);
    best.1 > gap && at > bounds.0 && at < bounds.1
}

/// An acceptance range, both ends included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lowest acceptable.
    pub lo: f64,
    /// Highest acceptable.
    pub hi: f64,
}

impl Range {
    /// Whether `x` is within the range (ends included).
    pub fn contains(self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// The acceptance ranges a study is judged by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standards {
    /// Level: the median ratio over the assessment level.
    pub level: Range,
    /// COD, percent.
    pub cod: Range,
    /// PRD.
    pub prd: Range,
    /// PRB.
    pub prb: Range,
    /// MKI.
    pub mki: Range,
}

impl Standards {
    /// IAAO's ranges for single-family residential property (older or
    /// heterogeneous areas: COD 5–15), as assessr applies them.
    pub const RESIDENTIAL: Self = Self {
        level: Range { lo: 0.90, hi: 1.10 },
        cod: Range { lo: 5.0, hi: 15.0 },
        prd: Range { lo: 0.98, hi: 1.03 },
        prb: Range {
            lo: -0.05,
            hi: 0.05,
        },
        mki: Range { lo: 0.95, hi: 1.05 },
    };
}

/// Which statistics are within their acceptance range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Met {
    /// Level.
    pub level: bool,
    /// COD.
    pub cod: bool,
    /// PRD.
    pub prd: bool,
    /// PRB.
    pub prb: bool,
    /// MKI.
    pub mki: bool,
}

/// A ratio study of one stratum.
#[derive(Debug, Clone, PartialEq)]
pub struct Study {
    /// Sales.
    pub n: usize,
    /// Whether there are enough sales for the statistics to mean much ([`RELIABLE_SALES`]).
    pub reliable: bool,
    /// The assessment level the ratios are judged against (0.70 in Connecticut).
    pub assessment_level: f64,
    /// Median ratio.
    pub median: f64,
    /// Mean ratio.
    pub mean: f64,
    /// Σ assessed / Σ price.
    pub weighted_mean: f64,
    /// Median ratio / assessment level.
    pub level: f64,
    /// COD, percent.
    pub cod: f64,
    /// Bootstrap interval of the COD.
    pub cod_ci: (f64, f64),
    /// PRD.
    pub prd: f64,
    /// Bootstrap interval of the PRD.
    pub prd_ci: (f64, f64),
    /// PRB with its interval.
    pub prb: Prb,
    /// Kakwani index.
    pub ki: f64,
    /// Modified Kakwani index.
    pub mki: f64,
    /// Whether the ratios look chased.
    pub chasing: bool,
    /// Which statistics are within their range.
    pub met: Met,
}

/// How a study is run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// The assessment level (Connecticut: 0.70).
    pub assessment_level: f64,
    /// Confidence intervals at 1 − alpha.
    pub alpha: f64,
    /// Bootstrap draws for the COD and PRD intervals.
    pub draws: usize,
    /// Bootstrap seed (a study is reproducible).
    pub seed: u64,
    /// Acceptance ranges.
    pub standards: Standards,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            assessment_level: 0.70,
            alpha: 0.05,
            draws: 1000,
            seed: 0x4D75_6E69_5368_6172,
            standards: Standards::RESIDENTIAL,
        }
    }
}

/// Runs a ratio study of paired assessed values and sale prices.
pub fn study(assessed: &[f64], price: &[f64], o: &Options) -> Result<Study, StudyError> {
    check(assessed, price)?;
    // A canonical order (by price, then assessed value) makes the bootstrap,
    // and so the whole study, independent of the order of the rows.
    let mut pairs: Vec<(f64, f64)> = assessed
        .iter()
        .copied()
        .zip(price.iter().copied())
        .collect();
    pairs.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.total_cmp(&y.0)));
    let a: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let p: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let r = ratios(&a, &p);
    let median = stats::median(&r);
    let cod_value = cod(&r);
    let prd_value = prd(&a, &p);
    let prb_value = prb(&a, &p, o.alpha).ok_or(StudyError::TooFew {
        n: a.len(),
        min: MIN_SALES,
    })?;
    let (ki, mki) = kakwani(&a, &p);
    let level = median / o.assessment_level;
    let s = o.standards;
    Ok(Study {
        n: a.len(),
        reliable: a.len() >= RELIABLE_SALES,
        assessment_level: o.assessment_level,
        median,
        mean: stats::mean(&r),
        weighted_mean: a.iter().sum::<f64>() / p.iter().sum::<f64>(),
        level,
        cod: cod_value,
        cod_ci: bootstrap(&a, &p, |a, p| cod(&ratios(a, p)), o.draws, o.alpha, o.seed),
        prd: prd_value,
        prd_ci: bootstrap(&a, &p, prd, o.draws, o.alpha, o.seed ^ 1),
        prb: prb_value,
        ki,
        mki,
        chasing: sales_chasing(
            &r,
            (0.98 * o.assessment_level, 1.02 * o.assessment_level),
            0.03,
        ),
        met: Met {
            level: s.level.contains(level),
            cod: s.cod.contains(cod_value),
            prd: s.prd.contains(prd_value),
            prb: s.prb.contains(prb_value.value),
            mki: s.mki.contains(mki),
        },
    })
}
