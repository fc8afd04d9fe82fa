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
    cod_about(ratios, stats::median(ratios))
}

fn cod_about(ratios: &[f64], med: f64) -> f64 {
    100.0 * ratios.iter().map(|r| (r - med).abs()).sum::<f64>() / ratios.len() as f64 / med
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
    prb_about(assessed, price, &r, stats::median(&r), alpha)
}

fn prb_about(assessed: &[f64], price: &[f64], r: &[f64], med: f64, alpha: f64) -> Option<Prb> {
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

/// Above this many sales the bootstrap draws Poisson(1) counts per sale
/// instead of a multinomial resample (see [`bootstrap`]).
pub const POISSON_FROM: usize = 20_000;

/// P(X ≤ k) for X ~ Poisson(1), k = 0…7, scaled to 2¹⁶: a count is the
/// number of thresholds a uniform 16-bit number reaches.
fn poisson_thresholds() -> [u16; 8] {
    let mut out = [0u16; 8];
    let (mut term, mut cdf) = ((-1.0f64).exp(), 0.0);
    for (k, t) in out.iter_mut().enumerate() {
        cdf += term;
        term /= (k + 1) as f64;
        *t = (cdf * 65_536.0).min(65_535.0) as u16;
    }
    out
}

/// The Poisson(1) count of every 16-bit uniform number, so that drawing a
/// count is one table read (four counts per 64 random bits; the 16-bit
/// resolution moves no probability by more than 2⁻¹⁶).
fn poisson_table() -> Box<[u8; 65_536]> {
    let t = poisson_thresholds();
    let mut table = Box::new([0u8; 65_536]);
    for (u, count) in (0..=u16::MAX).zip(table.iter_mut()) {
        *count = t.iter().map(|x| u8::from(u >= *x)).sum();
    }
    table
}

/// Σc, Σc·r, Σc·r·p and Σc·p, in four lanes so the additions do not wait on
/// each other.
fn weighted_sums(r: &[f64], p: &[f64], c: &[u16]) -> (u64, f64, f64, f64) {
    let mut acc = [[0.0f64; 3]; 4];
    let mut total = 0u64;
    let (rc, pc, cc) = (r.chunks_exact(4), p.chunks_exact(4), c.chunks_exact(4));
    let tail = rc
        .remainder()
        .iter()
        .zip(pc.remainder())
        .zip(cc.remainder());
    for ((r4, p4), c4) in rc.zip(pc).zip(cc) {
        for l in 0..4 {
            let w = f64::from(c4[l]);
            total += u64::from(c4[l]);
            let wr = w * r4[l];
            acc[l][0] += wr;
            acc[l][1] += wr * p4[l];
            acc[l][2] += w * p4[l];
        }
    }
    for ((x, y), w) in tail {
        total += u64::from(*w);
        let w = f64::from(*w);
        acc[0][0] += w * x;
        acc[0][1] += w * x * y;
        acc[0][2] += w * y;
    }
    let lane = |k: usize| acc[0][k] + acc[1][k] + acc[2][k] + acc[3][k];
    (total, lane(0), lane(1), lane(2))
}

/// The statistics of one weighted resample. `r` and `p` (ratio and price)
/// are sorted by ratio; `c` holds each sale's count (how often the resample took it).
/// Two passes: the sums, then a scan to the median that also sums the lower
/// part, from which the absolute deviations follow without a third pass.
fn resample_stats(r: &[f64], p: &[f64], c: &[u16]) -> Option<(f64, f64)> {
    // Assessed value = ratio × price, so Σ c·assessed needs no third array.
    let (total, sum_r, sum_a, sum_p) = weighted_sums(r, p, c);
    if total == 0 {
        return None;
    }
    // The type-7 median of the resample: the value at position (N + 1) / 2,
    // or the mean of the values at N / 2 and N / 2 + 1, counting with multiplicity.
    let (lo_pos, hi_pos) = if total % 2 == 1 {
        (total.div_ceil(2), total.div_ceil(2))
    } else {
        (total / 2, total / 2 + 1)
    };
    // Up to and including the sale holding position lo_pos every ratio is at
    // most the median; every weighted sale after it is at least the median
    // (sales strictly between the two middle positions have count 0).
    let (mut seen, mut lo_at, mut hi_at) = (0u64, usize::MAX, r.len() - 1);
    for (i, w) in c.iter().enumerate() {
        seen += u64::from(*w);
        if lo_at == usize::MAX && seen >= lo_pos {
            lo_at = i;
        }
        if seen >= hi_pos {
            hi_at = i;
            break;
        }
    }
    // Σ c·r over the lower part (the ratio array stands in for the price: only the Σc·r lane is used).
    let (count_lo, sum_lo, _, _) = weighted_sums(&r[..=lo_at], &r[..=lo_at], &c[..=lo_at]);
    let count_lo = count_lo as f64;
    let med = (r[lo_at] + r[hi_at]) / 2.0;
    let n = total as f64;
    let dev = (med * count_lo - sum_lo) + ((sum_r - sum_lo) - med * (n - count_lo));
    Some((100.0 * dev / n / med, (sum_r / n) / (sum_a / sum_p)))
}

/// Draws `ks` of the classic bootstrap: n sales drawn with replacement.
fn multinomial_draws(
    r: &[f64],
    p: &[f64],
    ks: std::ops::Range<usize>,
    seed: u64,
) -> Vec<Option<(f64, f64)>> {
    let n = r.len();
    let mut counts = vec![0u16; n];
    ks.map(|k| {
        let mut rng = Rng::stream(seed, k as u64);
        counts.fill(0);
        for _ in 0..n {
            counts[rng.below(n)] += 1;
        }
        resample_stats(r, p, &counts)
    })
    .collect()
}

/// Sales per block of the Poisson bootstrap: a block's ratios and prices
/// (128 KiB) stay in cache while every draw of a thread passes over them.
const BLOCK: usize = 8_192;

/// Fills `out` with Poisson(1) counts, four per 64 random bits.
fn poisson_counts(table: &[u8; 65_536], rng: &mut Rng, out: &mut [u16]) {
    // A u16 index cannot leave the table: no bounds checks.
    let count = |bits: u64, j: u32| u16::from(table[usize::from((bits >> (16 * j)) as u16)]);
    let mut quads = out.chunks_exact_mut(4);
    for q in &mut quads {
        let bits = rng.next_u64();
        q[0] = count(bits, 0);
        q[1] = count(bits, 1);
        q[2] = count(bits, 2);
        q[3] = count(bits, 3);
    }
    let bits = rng.next_u64();
    for (j, c) in (0..).zip(quads.into_remainder()) {
        *c = count(bits, j);
    }
}

/// Draws `ks` of the Poisson bootstrap, block by block: each block of sales
/// is read once for all the thread's draws while it is in cache. The counts
/// of draw k in block b come from stream (k, b), so the median can be found
/// afterwards by drawing the counts of the one or two blocks it lies in again.
fn poisson_draws(
    r: &[f64],
    p: &[f64],
    ks: std::ops::Range<usize>,
    seed: u64,
    table: &[u8; 65_536],
) -> Vec<Option<(f64, f64)>> {
    let n = r.len();
    let blocks = n.div_ceil(BLOCK);
    let stream = |k: usize, b: usize| Rng::stream(seed, (k * blocks + b) as u64);
    let span = |b: usize| b * BLOCK..((b + 1) * BLOCK).min(n);
    // Per draw: Σc, Σc·r, Σc·r·p, Σc·p; per draw and block: Σc and Σc·r.
    let mut totals = vec![(0u64, 0.0, 0.0, 0.0); ks.len()];
    let mut per_block = vec![(0u64, 0.0); ks.len() * blocks];
    let mut buf = vec![0u16; BLOCK];
    for b in 0..blocks {
        let range = span(b);
        let (rb, pb) = (&r[range.clone()], &p[range.clone()]);
        let c = &mut buf[..range.len()];
        for (j, k) in ks.clone().enumerate() {
            poisson_counts(table, &mut stream(k, b), c);
            let (t, sr, sa, sp) = weighted_sums(rb, pb, c);
            let tot = &mut totals[j];
            *tot = (tot.0 + t, tot.1 + sr, tot.2 + sa, tot.3 + sp);
            per_block[j * blocks + b] = (t, sr);
        }
    }
    let mut out = Vec::with_capacity(ks.len());
    for (j, k) in ks.enumerate() {
        let (total, sum_r, sum_a, sum_p) = totals[j];
        if total == 0 {
            out.push(None);
            continue;
        }
        let (lo_pos, hi_pos) = if total % 2 == 1 {
            (total.div_ceil(2), total.div_ceil(2))
        } else {
            (total / 2, total / 2 + 1)
        };
        // Skip whole blocks below the median, then scan the block(s) holding it.
        let (mut b, mut seen, mut sum_lo) = (0, 0u64, 0.0);
        while b + 1 < blocks && seen + per_block[j * blocks + b].0 < lo_pos {
            seen += per_block[j * blocks + b].0;
            sum_lo += per_block[j * blocks + b].1;
            b += 1;
        }
        let (mut count_lo, mut lo, mut hi) = (seen, None, None);
        'scan: while b < blocks {
            let range = span(b);
            let c = &mut buf[..range.len()];
            poisson_counts(table, &mut stream(k, b), c);
            for (w, x) in c.iter().zip(&r[range]) {
                seen += u64::from(*w);
                if lo.is_none() {
                    count_lo += u64::from(*w);
                    sum_lo += f64::from(*w) * x;
                    if seen >= lo_pos {
                        lo = Some(*x);
                    }
                }
                if seen >= hi_pos {
                    hi = Some(*x);
                    break 'scan;
                }
            }
            b += 1;
        }
        let (Some(lo), Some(hi)) = (lo, hi) else {
            out.push(None);
            continue;
        };
        let med = (lo + hi) / 2.0;
        let (nn, count_lo) = (total as f64, count_lo as f64);
        let dev = (med * count_lo - sum_lo) + ((sum_r - sum_lo) - med * (nn - count_lo));
        out.push(Some((
            100.0 * dev / nn / med,
            (sum_r / nn) / (sum_a / sum_p),
        )));
    }
    out
}

/// Percentile bootstrap intervals of the COD and the PRD at confidence
/// 1 − `alpha`, both from the same `draws` resamples of the sales.
///
/// The sales are sorted by ratio once; a resample is then a count per sale,
/// and its sums, median and deviations come from sequential scans. Up to
/// [`POISSON_FROM`] sales the counts are a multinomial resample (n draws with
/// replacement, the classic bootstrap); above it each sale's count is an
/// independent Poisson(1) draw (the Poisson bootstrap, Hanley & MacGibbon
/// 2006), which at that size gives the same intervals at a fraction of the
/// cost. Draw k uses its own stream of the generator ([`Rng::stream`]), so the
/// result does not depend on how many threads share the work.
pub fn bootstrap(
    assessed: &[f64],
    price: &[f64],
    draws: usize,
    alpha: f64,
    seed: u64,
) -> ((f64, f64), (f64, f64)) {
    let n = assessed.len();
    let mut rows: Vec<(f64, f64, f64)> = assessed
        .iter()
        .zip(price)
        .map(|(a, p)| (a / p, *a, *p))
        .collect();
    rows.sort_by(|x, y| x.0.total_cmp(&y.0));
    let r: Vec<f64> = rows.iter().map(|x| x.0).collect();
    let p: Vec<f64> = rows.iter().map(|x| x.2).collect();
    let table = poisson_table();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, draws.max(1));
    let per = draws.div_ceil(threads);
    let mut values: Vec<(f64, f64)> = Vec::with_capacity(draws);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (r, p, table) = (&r, &p, &table);
                s.spawn(move || {
                    let ks = t * per..((t + 1) * per).min(draws);
                    if n < POISSON_FROM {
                        multinomial_draws(r, p, ks, seed)
                    } else {
                        poisson_draws(r, p, ks, seed, table)
                    }
                })
            })
            .collect();
        for h in handles {
            // A panic in a draw is a bug; keep the draws that finished.
            if let Ok(part) = h.join() {
                values.extend(part.into_iter().flatten());
            }
        }
    });
    let cods = stats::sorted(&values.iter().map(|v| v.0).collect::<Vec<_>>());
    let prds = stats::sorted(&values.iter().map(|v| v.1).collect::<Vec<_>>());
    let ci = |v: &[f64]| {
        (
            stats::quantile_sorted(v, alpha / 2.0),
            stats::quantile_sorted(v, 1.0 - alpha / 2.0),
        )
    };
    (ci(&cods), ci(&prds))
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
    chasing_sorted(&stats::sorted(ratios), bounds, gap)
}

fn chasing_sorted(s: &[f64], bounds: (f64, f64), gap: f64) -> bool {
    let n = s.len() as f64;
    // F(x) = share of ratios at or below x, evaluated at each sorted ratio.
    let mut cdf = Vec::with_capacity(s.len());
    let mut j = 0;
    for x in s {
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
    // One sort of the ratios serves the median, the COD, the PRB and the chasing test.
    let sorted = stats::sorted(&r);
    let median = stats::quantile_sorted(&sorted, 0.5);
    let cod_value = cod_about(&r, median);
    let prd_value = prd(&a, &p);
    let prb_value = prb_about(&a, &p, &r, median, o.alpha).ok_or(StudyError::TooFew {
        n: a.len(),
        min: MIN_SALES,
    })?;
    let (ki, mki) = kakwani(&a, &p);
    let (cod_ci, prd_ci) = bootstrap(&a, &p, o.draws, o.alpha, o.seed);
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
        cod_ci,
        prd: prd_value,
        prd_ci,
        prb: prb_value,
        ki,
        mki,
        chasing: chasing_sorted(
            &sorted,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_counted_resample_gives_the_statistics_of_the_expanded_sample() {
        // Counts 2, 0, 1, 3 of ratios 0.5, 0.6, 0.8, 1.0 at prices 100, 200, 100, 300
        // expand to ratios 0.5, 0.5, 0.8, 1.0, 1.0, 1.0: median (0.8 + 1.0) / 2 = 0.9,
        // mean absolute deviation (0.4 + 0.4 + 0.1 + 0.1 × 3) / 6 = 0.2, COD 100 × 0.2 / 0.9.
        // PRD: mean ratio 4.8 / 6 = 0.8; assessed 50, 50, 80, 300 × 3 = 1,080 over prices
        // 1,200, a weighted mean of 0.9; PRD 0.8 / 0.9.
        let r = [0.5, 0.6, 0.8, 1.0];
        let p = [100.0, 200.0, 100.0, 300.0];
        let (cod, prd) = resample_stats(&r, &p, &[2, 0, 1, 3]).unwrap();
        assert!((cod - 100.0 * 0.2 / 0.9).abs() < 1e-12, "{cod}");
        assert!((prd - 0.8 / 0.9).abs() < 1e-12, "{prd}");
        // An odd count: 0.5, 0.8, 1.0 → median 0.8.
        let expanded = [0.5, 0.8, 1.0];
        let (cod, _) = resample_stats(&r, &p, &[1, 0, 1, 1]).unwrap();
        let dev = expanded.iter().map(|x: &f64| (x - 0.8).abs()).sum::<f64>() / 3.0;
        assert!((cod - 100.0 * dev / 0.8).abs() < 1e-12);
        assert!(resample_stats(&r, &p, &[0; 4]).is_none());
    }

    #[test]
    fn poisson_counts_have_the_poisson_distribution() {
        let t = poisson_thresholds();
        // P(X = 0) = e⁻¹ = 0.367879…, P(X ≤ 1) = 2e⁻¹, P(X ≤ 2) = 2.5e⁻¹.
        for (k, p) in [(0, 0.367_879_441), (1, 0.735_758_882), (2, 0.919_698_603)] {
            assert!(
                (f64::from(t[k]) / 65_536.0 - p).abs() < 2.0 / 65_536.0,
                "{k}"
            );
        }
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        // Drawn counts: mean 1 and variance 1, as Poisson(1) has.
        let table = poisson_table();
        let mut rng = Rng::new(3);
        let draws: Vec<f64> = (0..200_000)
            .map(|_| f64::from(table[usize::from(rng.next_u64() as u16)]))
            .collect();
        let m = stats::mean(&draws);
        let v = draws.iter().map(|d| (d - m) * (d - m)).sum::<f64>() / draws.len() as f64;
        assert!((m - 1.0).abs() < 0.01 && (v - 1.0).abs() < 0.02, "{m} {v}");
    }

    #[test]
    fn both_bootstraps_agree_on_a_large_sample() {
        // Just above and just below the switch, the same population gives
        // intervals that agree to within the Monte Carlo error.
        let mut rng = Rng::new(9);
        let n = POISSON_FROM;
        let p: Vec<f64> = (0..n + 1).map(|_| rng.normal(12.5, 0.4).exp()).collect();
        let a: Vec<f64> = p
            .iter()
            .map(|v| v * 0.7 * rng.normal(0.0, 0.15).exp())
            .collect();
        let (m_cod, m_prd) = bootstrap(&a[..n - 1], &p[..n - 1], 400, 0.05, 1);
        let (p_cod, p_prd) = bootstrap(&a, &p, 400, 0.05, 1);
        let near = |x: f64, y: f64, tol: f64| (x - y).abs() <= tol * y.abs();
        assert!(
            near(m_cod.0, p_cod.0, 0.01) && near(m_cod.1, p_cod.1, 0.01),
            "{m_cod:?} {p_cod:?}"
        );
        assert!(
            near(m_prd.0, p_prd.0, 0.001) && near(m_prd.1, p_prd.1, 0.001),
            "{m_prd:?} {p_prd:?}"
        );
    }
}
