//! Times the market model on a synthetic region: fit on 20,000 sales, predict
//! 100,000 parcels, ratio-study the predictions against the (time-adjusted)
//! sales; writes the data and the fitted coefficients as CSV for the peer run
//! (statsmodels, `bench_model_peer.py`). Usage:
//!
//!     cargo run --release -p munishare-assessment --example bench_model -- [RUNS] [DIR]
//!
//! The region (seeded, `valuation::synthetic`): 8 towns of 11 neighbourhoods,
//! seven styles, noise sd 0.12 on ln(price); a regional model with town and
//! neighbourhood effects and a linear time trend (105 terms).

use std::io::Write as _;
use std::time::Instant;

use munishare_assessment::ratio::{self, Options};
use munishare_assessment::stats;
use munishare_assessment::valuation::{Scope, Spec, fit, synthetic};
use time::macros::date;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let dir = args.get(2).map_or("/tmp", String::as_str);
    let vd = date!(2025 - 10 - 01);

    let t = Instant::now();
    let region = synthetic::region(2025, 8, 11, 100_000, 20_000, 0.12, vd);
    let generate = t.elapsed().as_secs_f64();
    let spec = Spec::new(vd, Scope::Region);

    let (mut fits, mut predicts, mut studies, mut totals) = (vec![], vec![], vec![], vec![]);
    let mut last = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        let model = fit(&region.parcels, &region.sales, &spec).map_err(std::io::Error::other)?;
        let t1 = Instant::now();
        let values: Vec<f64> = region.parcels.iter().map(|p| model.predict(p)).collect();
        let t2 = Instant::now();
        let assessed: Vec<f64> = region.sales.iter().map(|s| values[s.parcel]).collect();
        let price: Vec<f64> = region
            .sales
            .iter()
            .map(|s| model.time_adjust(s.price, s.date))
            .collect();
        let study =
            ratio::study(&assessed, &price, &Options::default()).map_err(std::io::Error::other)?;
        let t3 = Instant::now();
        fits.push((t1 - t0).as_secs_f64());
        predicts.push((t2 - t1).as_secs_f64());
        studies.push((t3 - t2).as_secs_f64());
        totals.push((t3 - t0).as_secs_f64());
        last = Some((model, values, study));
    }
    let (model, values, study) = last.ok_or_else(|| std::io::Error::other("no runs"))?;

    write_data(dir, &region)?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!(
        "{dir}/bench_model_coefs.csv"
    ))?);
    writeln!(f, "term,coefficient,std_error")?;
    for t in &model.terms {
        writeln!(f, "\"{}\",{:e},{:e}", t.name, t.coefficient, t.std_error)?;
    }
    writeln!(f, "\"(smearing)\",{:e},0", model.smearing)?;
    writeln!(f, "\"(prediction 0)\",{:e},0", values[0])?;
    writeln!(f, "\"(prediction 99999)\",{:e},0", values[values.len() - 1])?;

    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "{} parcels, {} sales, {} terms, {runs} runs, {threads} threads (generation {generate:.3} s, not timed below)",
        region.parcels.len(),
        model.n,
        model.k
    );
    for (name, v) in [
        ("fit", &fits),
        ("predict all parcels", &predicts),
        ("ratio study", &studies),
        ("total", &totals),
    ] {
        println!(
            "{name:>20}: median {:.4} s (min {:.4}, max {:.4})",
            stats::median(v),
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max)
        );
    }
    println!(
        "R² {:.4}, RMSE {:.4}, smearing {:.5}; ratio study: median {:.4}, COD {:.2}, PRD {:.4}, PRB {:.4}",
        model.r_squared,
        model.rmse,
        model.smearing,
        study.median,
        study.cod,
        study.prd,
        study.prb.value
    );
    println!("data and coefficients written to {dir}/bench_model_*.csv");
    Ok(())
}

fn write_data(dir: &str, region: &synthetic::Region) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!(
        "{dir}/bench_model_parcels.csv"
    ))?);
    writeln!(
        f,
        "town,neighbourhood,style,land_sqft,living_sqft,year_built,quality,condition,full_baths,half_baths,bedrooms,garage_spaces"
    )?;
    for p in &region.parcels {
        writeln!(
            f,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            p.town,
            p.neighbourhood,
            p.style,
            p.land_sqft,
            p.living_sqft,
            p.year_built,
            p.quality,
            p.condition,
            p.full_baths,
            p.half_baths,
            p.bedrooms,
            p.garage_spaces
        )?;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!(
        "{dir}/bench_model_sales.csv"
    ))?);
    writeln!(f, "parcel,price,date")?;
    for s in &region.sales {
        writeln!(f, "{},{},{}", s.parcel, s.price, s.date)?;
    }
    Ok(())
}
