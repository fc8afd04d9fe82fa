//! Times a full ratio study (every statistic and interval, 1,000 bootstrap
//! draws) on a synthetic region of sales, and writes the sales as CSV for the
//! peer run (assesspy). Usage:
//!
//!     cargo run --release -p munishare-assessment --example bench_ratio -- [SALES] [RUNS] [CSV]
//!
//! Prices are log-normal around $300,000; assessments are 70 % of price with
//! log-normal noise (sd 0.12) and a slight regressivity, as real towns show.

use std::io::Write as _;
use std::time::Instant;

use munishare_assessment::ratio::{self, Options};
use munishare_assessment::stats::{self, Rng};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(350_000);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(11);
    let mut rng = Rng::new(2026);
    let mut assessed = Vec::with_capacity(n);
    let mut price = Vec::with_capacity(n);
    for _ in 0..n {
        let p = (rng.normal(12.6, 0.5)).exp().round();
        let r = 0.7 * rng.normal(0.0, 0.12).exp() * (300_000.0 / p).powf(0.02);
        price.push(p);
        assessed.push((p * r).round());
    }
    if let Some(path) = args.get(3) {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(f, "estimate,sale_price")?;
        for (a, p) in assessed.iter().zip(&price) {
            writeln!(f, "{a},{p}")?;
        }
    }
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(
            ratio::study(&assessed, &price, &Options::default()).map_err(std::io::Error::other)?,
        );
        times.push(t.elapsed().as_secs_f64());
    }
    let s = last.ok_or_else(|| std::io::Error::other("no runs"))?;
    let mut boot = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(ratio::bootstrap(&assessed, &price, 1000, 0.05, 1));
        boot.push(t.elapsed().as_secs_f64());
    }
    println!(
        "of which the bootstrap alone: median {:.3} s",
        stats::median(&boot)
    );
    println!(
        "{n} sales, {runs} runs, {} threads: median {:.3} s (min {:.3} s)",
        std::thread::available_parallelism().map_or(1, usize::from),
        stats::median(&times),
        times.iter().copied().fold(f64::INFINITY, f64::min)
    );
    println!(
        "median ratio {:.4}, COD {:.3} [{:.3}, {:.3}], PRD {:.4} [{:.4}, {:.4}], PRB {:.4} [{:.4}, {:.4}], MKI {:.4}",
        s.median,
        s.cod,
        s.cod_ci.0,
        s.cod_ci.1,
        s.prd,
        s.prd_ci.0,
        s.prd_ci.1,
        s.prb.value,
        s.prb.lower,
        s.prb.upper,
        s.mki
    );
    Ok(())
}
