//! The numerical pieces ratio studies need, written out so their behaviour is
//! known exactly: sample quantiles (R's and NumPy's default, "type 7"),
//! ordinary least squares with the slope's standard error, Student's t
//! quantile (through the regularized incomplete beta function), and a small
//! seeded random number generator so bootstrap intervals are reproducible.

/// Sorts a copy, NaN-free input assumed (the caller has validated it).
pub fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// The `p` quantile of sorted data by linear interpolation between order
/// statistics (Hyndman and Fan type 7, the default of R and NumPy).
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            let lo = h.floor();
            let i = lo as usize;
            let next = sorted[(i + 1).min(n - 1)];
            sorted[i] + (h - lo) * (next - sorted[i])
        }
    }
}

/// The median.
pub fn median(xs: &[f64]) -> f64 {
    quantile_sorted(&sorted(xs), 0.5)
}

/// The arithmetic mean.
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// An OLS fit of y on x with an intercept.
#[derive(Debug, Clone, Copy)]
pub struct Ols {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Standard error of the slope.
    pub slope_se: f64,
}

/// Fits y = a + b·x by least squares (needs three points or more, not all x equal).
pub fn ols(x: &[f64], y: &[f64]) -> Option<Ols> {
    let n = x.len();
    if n < 3 || y.len() != n {
        return None;
    }
    let (mx, my) = (mean(x), mean(y));
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ssr: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| {
            let e = b - intercept - slope * a;
            e * e
        })
        .sum();
    Some(Ols {
        slope,
        intercept,
        slope_se: (ssr / (n - 2) as f64 / sxx).sqrt(),
    })
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms; relative error about 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let fix = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / fix(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b).
fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// P(|T| > t) for Student's t with `df` degrees of freedom: the two-sided
/// p-value of a t statistic.
pub fn t_two_sided(t: f64, df: f64) -> f64 {
    inc_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The `p` quantile (0.5 < p < 1) of Student's t with `df` degrees of freedom,
/// found by bisection on the exact distribution function.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let target = 2.0 * (1.0 - p);
    let (mut lo, mut hi) = (0.0_f64, 1.0e4_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_two_sided(mid, df) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// SplitMix64: a tiny, well-mixed generator; seeded, so a bootstrap run can be repeated.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Stream `k` of `seed`: a generator whose start is a hash of both.
    /// SplitMix64 walks one cycle of 2⁶⁴ states, so generators seeded with
    /// nearby numbers walk nearly the same states one step apart; hashing
    /// the start puts each stream at an unrelated point of the cycle.
    pub fn stream(seed: u64, k: u64) -> Self {
        let mut h = Self(k ^ 0xD1B5_4A32_D192_ED03);
        let mut s = Self(seed ^ h.next_u64());
        Self(s.next_u64())
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniform index below `n` (multiply-shift; bias below 2⁻³² for the sizes used here).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
    /// A uniform number in (0, 1).
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// A normal draw (Box–Muller).
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        mean + sd * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_printed_tables() {
        // Two-sided 95 % and 80 % critical values from standard t tables.
        for (p, df, t) in [
            (0.975, 1.0, 12.706_2),
            (0.975, 14.0, 2.144_8),
            (0.975, 30.0, 2.042_3),
            (0.975, 120.0, 1.979_9),
            (0.9, 10.0, 1.372_2),
            (0.995, 5.0, 4.032_1),
        ] {
            let got = t_quantile(p, df);
            assert!(close(got, t, 1e-4), "t({p}, {df}) = {got}, table {t}");
        }
    }

    #[test]
    fn quantiles_interpolate_like_r_type_7() {
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        // R: quantile(c(1,2,3,4,10), c(.1,.25,.5,.9)) = 1.4 2.0 3.0 7.6
        let got: Vec<f64> = [0.1, 0.25, 0.5, 0.9]
            .iter()
            .map(|p| quantile_sorted(&x, *p))
            .collect();
        for (g, e) in got.iter().zip([1.4, 2.0, 3.0, 7.6]) {
            assert!(close(*g, e, 1e-12), "{got:?}");
        }
        assert_eq!(median(&[3.0, 1.0, 2.0, 4.0]), 2.5);
    }

    #[test]
    fn ols_recovers_a_known_line() {
        // y = 2 + 3x exactly, so the slope is 3 with no error.
        let x = [1.0, 2.0, 3.0, 4.0];
        let y: Vec<f64> = x.iter().map(|v| 2.0 + 3.0 * v).collect();
        let f = ols(&x, &y).unwrap();
        assert!(close(f.slope, 3.0, 1e-12) && close(f.intercept, 2.0, 1e-12) && f.slope_se < 1e-12);
        // By hand: x = 1..4, y = 1, 3, 2, 5: Sxx = 5, Sxy = 5.5, slope 1.1, intercept 0,
        // residuals -0.1, 0.8, -1.3, 0.6, SSR 2.70, SE = sqrt(2.70 / 2 / 5).
        let f = ols(&x, &[1.0, 3.0, 2.0, 5.0]).unwrap();
        assert!(
            close(f.slope, 1.1, 1e-12) && close(f.intercept, 0.0, 1e-12),
            "{f:?}"
        );
        assert!(
            close(f.slope_se, (2.70_f64 / 2.0 / 5.0).sqrt(), 1e-12),
            "{f:?}"
        );
        assert!(ols(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
    }

    #[test]
    fn streams_do_not_repeat_each_other() {
        // Consecutive streams must not be the same sequence shifted by a step.
        let a: Vec<u64> = {
            let mut r = Rng::stream(1, 0);
            (0..1000).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::stream(1, 1);
        let b: Vec<u64> = (0..1000).map(|_| r.next_u64()).collect();
        let shared = b.iter().filter(|x| a.contains(x)).count();
        assert_eq!(shared, 0);
    }

    #[test]
    fn the_generator_is_seeded_and_uniform_enough() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut counts = [0usize; 10];
        for _ in 0..100_000 {
            counts[a.below(10)] += 1;
        }
        assert!(
            counts.iter().all(|c| (9_000..11_000).contains(c)),
            "{counts:?}"
        );
        let draws: Vec<f64> = (0..20_000).map(|_| a.normal(1.0, 0.15)).collect();
        assert!(close(mean(&draws), 1.0, 0.01));
    }
}
