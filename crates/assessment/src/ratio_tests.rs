//! The ratio statistics against independently published values: the expected
//! numbers of assessr's and assesspy's test suites and the IAAO standard's
//! worked examples (../shared/data/ratio_studies, see its PROVENANCE.md), and
//! the invariances every ratio statistic must have.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::Value;

use crate::ratio::{self, Options};
use crate::stats::Rng;

fn data(rel: &str) -> String {
    let path = format!(
        "{}/../../../shared/data/ratio_studies/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Reads the named numeric columns of a CSV (quoted headers allowed).
fn columns(text: &str, names: &[&str]) -> Vec<Vec<f64>> {
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim_matches('"').to_owned())
        .collect();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| header.iter().position(|h| h == n).unwrap())
        .collect();
    let mut out = vec![Vec::new(); names.len()];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        for (k, i) in idx.iter().enumerate() {
            out[k].push(cells[*i].trim_matches('"').parse().unwrap());
        }
    }
    out
}

fn assertions() -> Value {
    serde_json::from_str(&data("upstream_test_assertions.json")).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// Relative closeness, as testthat's and pytest.approx's `tolerance`/`rel` mean it.
fn near(got: f64, expected: f64, rel: f64) -> bool {
    (got - expected).abs() <= rel * expected.abs()
}

fn ccao() -> (Vec<f64>, Vec<f64>) {
    let mut c = columns(
        &data("assessr_ratios_sample.csv"),
        &["assessed", "sale_price"],
    );
    let p = c.pop().unwrap();
    (c.pop().unwrap(), p)
}

fn quintos() -> (Vec<f64>, Vec<f64>) {
    let mut c = columns(&data("quintos_mki_ki.csv"), &["Assessed", "Sale_Price"]);
    let p = c.pop().unwrap();
    (c.pop().unwrap(), p)
}

#[test]
fn the_cook_county_sample_gives_assessrs_values() {
    let all = assertions();
    let e = &all["assessr_v0.6.0_commit_6ae99ac69b6857e58dbb811e6c8c814865a89e57"];
    let (a, p) = ccao();
    assert_eq!(a.len(), 979);
    let r = ratio::ratios(&a, &p);
    let cod = ratio::cod(&r);
    let prd = ratio::prd(&a, &p);
    let prb05 = ratio::prb(&a, &p, 0.05).unwrap();
    let prb20 = ratio::prb(&a, &p, 0.20).unwrap();
    let check = |name: &str, got: f64, expected: &Value| {
        let (x, tol) = (num(&expected["expected"]), num(&expected["tol"]));
        assert!(near(got, x, tol), "{name}: {got}, expected {x} ± {tol}");
    };
    check("cod", cod, &e["cod(ratio)"]);
    check("prd", prd, &e["prd(assessed, sale_price)"]);
    check("prb", prb05.value, &e["prb(assessed, sale_price)"]);
    for (ci, key) in [(prb05, "prb_ci(alpha=0.05)"), (prb20, "prb_ci(alpha=0.20)")] {
        let x = &e[key]["expected"];
        let tol = num(&e[key]["tol"]);
        assert!(
            near(ci.lower, num(&x[0]), tol) && near(ci.upper, num(&x[1]), tol),
            "{key}: {ci:?}"
        );
    }
    // assesspy asserts the same sample to more digits, at 1 %.
    let py = &all["assesspy_commit_a0d0359ffef3ccd8993f3654171718b9b6ac74a3"];
    assert!(near(cod, num(&py["cod"]["expected"]), 1e-9), "{cod}");
    assert!(near(prd, num(&py["prd"]["expected"]), 1e-9), "{prd}");
    // The deterministic PRB intervals at four confidence levels.
    for (alpha, bounds) in py["prb_ci"].as_object().unwrap() {
        let alpha: f64 = alpha.parse().unwrap();
        let ci = ratio::prb(&a, &p, alpha).unwrap();
        assert!(
            near(ci.lower, num(&bounds[0]), 1e-4) && near(ci.upper, num(&bounds[1]), 1e-4),
            "alpha {alpha}: {ci:?} vs {bounds}"
        );
    }
    // Bootstrap intervals are random: they agree with the published ones to the stated tolerance.
    for (key, bounds) in py["cod_ci"].as_object().unwrap() {
        let alpha: f64 = key.parse().unwrap();
        let ((lo, hi), (plo, phi)) = ratio::bootstrap(&a, &p, 1000, alpha, 11);
        assert!(
            near(lo, num(&bounds[0]), 0.04) && near(hi, num(&bounds[1]), 0.04),
            "cod ci {alpha}: {lo} {hi}"
        );
        let prd = &py["prd_ci"][key.as_str()];
        assert!(
            near(plo, num(&prd[0]), 0.04) && near(phi, num(&prd[1]), 0.04),
            "prd ci {alpha}: {plo} {phi}"
        );
    }
    // The pass/fail verdicts, with the Cook County values at 100 % of market value.
    let s = ratio::study(
        &a,
        &p,
        &Options {
            assessment_level: 1.0,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(
        (s.met.cod, s.met.prd, s.met.prb, s.met.level),
        (
            e["cod_met"].as_bool().unwrap(),
            e["prd_met"].as_bool().unwrap(),
            e["prb_met"].as_bool().unwrap(),
            e["med_ratio_met(median(ratio))"].as_bool().unwrap()
        )
    );
    assert!(s.reliable);
    // Outliers: 3·IQR fences and the 5 %/95 % quantiles.
    let counts = &py["outlier_counts_deterministic"]["ccao"];
    assert_eq!(
        ratio::iqr_outliers(&r, 3.0).iter().filter(|o| **o).count() as u64,
        counts["iqr(mult=3)"].as_u64().unwrap()
    );
    assert_eq!(
        ratio::quantile_outliers(&r, 0.05, 0.95)
            .iter()
            .filter(|o| **o)
            .count() as u64,
        counts["quantile(0.05,0.95)"].as_u64().unwrap()
    );
    // Not chased.
    assert_eq!(
        ratio::sales_chasing(&r, (0.98, 1.02), 0.03),
        e["detect_chasing(ratio)"].as_bool().unwrap()
    );
}

#[test]
fn chased_ratios_are_detected() {
    // assessr's own case: 900 ratios drawn from N(1, 0.15) and 100 ratios of exactly 1.
    let mut rng = Rng::new(13_378);
    let mut r: Vec<f64> = (0..900).map(|_| rng.normal(1.0, 0.15)).collect();
    r.extend(std::iter::repeat_n(1.0, 100));
    assert!(ratio::sales_chasing(&r, (0.98, 1.02), 0.03));
    r.truncate(900);
    assert!(!ratio::sales_chasing(&r, (0.98, 1.02), 0.03));
}

#[test]
fn quintos_gives_the_published_kakwani_indices() {
    let all = assertions();
    let e = &all["assessr_v0.6.0_commit_6ae99ac69b6857e58dbb811e6c8c814865a89e57"];
    let (a, p) = quintos();
    assert_eq!(a.len(), 30);
    let (ki, mki) = ratio::kakwani(&a, &p);
    for (name, got) in [
        ("mki(Assessed, Sale_Price)", mki),
        ("ki(Assessed, Sale_Price)", ki),
    ] {
        let (x, tol) = (num(&e[name]["expected"]), num(&e[name]["tol"]));
        assert!(near(got, x, tol), "{name}: {got}, expected {x} ± {tol}");
    }
    let py = &all["assesspy_commit_a0d0359ffef3ccd8993f3654171718b9b6ac74a3"];
    assert!(
        near(mki, num(&py["mki(quintos)"]["expected"]), 0.01),
        "mki {mki}"
    );
    let s = ratio::study(
        &a,
        &p,
        &Options {
            assessment_level: 1.0,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(s.met.mki, e["mki_met"].as_bool().unwrap());
    let r = ratio::ratios(&a, &p);
    let counts = &py["outlier_counts_deterministic"]["quintos"];
    assert_eq!(
        ratio::iqr_outliers(&r, 3.0).iter().filter(|o| **o).count() as u64,
        counts["iqr(mult=3)"].as_u64().unwrap()
    );
    assert_eq!(
        ratio::quantile_outliers(&r, 0.05, 0.95)
            .iter()
            .filter(|o| **o)
            .count() as u64,
        counts["quantile(0.05,0.95)"].as_u64().unwrap()
    );
}

#[test]
fn the_iaao_standards_worked_examples() {
    let all = assertions();
    let py = &all["assesspy_commit_a0d0359ffef3ccd8993f3654171718b9b6ac74a3"];
    let tol = num(&py["iaao_tables_tol"]);
    for table in ["1_1", "1_4", "d_1", "d_2"] {
        let mut c = columns(
            &data(&format!("iaao_tables/iaao_table_{table}.csv")),
            &["estimate", "sale_price"],
        );
        let p = c.pop().unwrap();
        let a = c.pop().unwrap();
        let e = &py[format!("iaao_table_{table}").as_str()];
        let cod = ratio::cod(&ratio::ratios(&a, &p));
        let prd = ratio::prd(&a, &p);
        let prb = ratio::prb(&a, &p, 0.05).unwrap().value;
        assert!(near(cod, num(&e["cod"]), tol), "table {table}: cod {cod}");
        assert!(near(prd, num(&e["prd"]), tol), "table {table}: prd {prd}");
        assert!(near(prb, num(&e["prb"]), tol), "table {table}: prb {prb}");
    }
}

#[test]
fn too_few_or_bad_sales_are_refused_by_row() {
    let e = ratio::study(&[1.0; 4], &[1.0; 4], &Options::default()).unwrap_err();
    assert_eq!(e, ratio::StudyError::TooFew { n: 4, min: 5 });
    assert!(e.to_string().contains("at least 5 qualified sales"));
    let e = ratio::study(
        &[1.0, 2.0, 3.0, 4.0, 5.0],
        &[1.0, 2.0, 0.0, 4.0, 5.0],
        &Options::default(),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("row 3: the sale price"), "{e}");
    let e = ratio::study(
        &[1.0, f64::NAN, 3.0, 4.0, 5.0],
        &[1.0; 5],
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("row 2: the assessed value"),
        "{e}"
    );
    let e = ratio::study(&[1.0; 6], &[1.0; 5], &Options::default()).unwrap_err();
    assert!(e.to_string().starts_with("row 6"), "{e}");
}

#[test]
fn connecticut_level_is_judged_at_seventy_percent() {
    // Assessments at 70 % of price give a level of exactly 1.0 and pass it;
    // the same values judged at 100 % would not.
    let p: Vec<f64> = (1..=40)
        .map(|i| 100_000.0 + 5_000.0 * f64::from(i))
        .collect();
    let a: Vec<f64> = p
        .iter()
        .enumerate()
        .map(|(i, v)| v * if i % 2 == 0 { 0.69 } else { 0.71 })
        .collect();
    let s = ratio::study(&a, &p, &Options::default()).unwrap();
    assert!((s.level - 1.0).abs() < 0.02 && s.met.level, "{s:?}");
    let s = ratio::study(
        &a,
        &p,
        &Options {
            assessment_level: 1.0,
            ..Options::default()
        },
    )
    .unwrap();
    assert!(!s.met.level);
}

fn sales() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((10_000.0..2_000_000.0f64, 0.3..1.5f64), 8..60)
        .prop_map(|v| v.into_iter().map(|(price, r)| (price * r, price)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn statistics_ignore_row_order_and_scale(
        rows in sales(),
        seed in any::<u64>(),
        scale in 0.01..100.0f64,
    ) {
        let o = Options { draws: 200, ..Options::default() };
        let (a, p): (Vec<f64>, Vec<f64>) = rows.iter().copied().unzip();
        let base = ratio::study(&a, &p, &o).unwrap();
        // Shuffle (Fisher–Yates with a seeded generator).
        let mut shuffled = rows.clone();
        let mut rng = Rng::new(seed);
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i + 1));
        }
        let (sa, sp): (Vec<f64>, Vec<f64>) = shuffled.into_iter().unzip();
        let s = ratio::study(&sa, &sp, &o).unwrap();
        let same = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(1.0);
        for (x, y) in [
            (base.cod, s.cod), (base.prd, s.prd), (base.prb.value, s.prb.value), (base.ki, s.ki),
            (base.mki, s.mki), (base.median, s.median), (base.cod_ci.0, s.cod_ci.0), (base.prd_ci.1, s.prd_ci.1),
        ] {
            prop_assert!(same(x, y), "shuffled: {x} vs {y}");
        }
        // Scaling every value by one factor changes no statistic.
        let ka: Vec<f64> = a.iter().map(|v| v * scale).collect();
        let kp: Vec<f64> = p.iter().map(|v| v * scale).collect();
        let k = ratio::study(&ka, &kp, &o).unwrap();
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-7 * x.abs().max(1.0);
        for (x, y) in [
            (base.cod, k.cod), (base.prd, k.prd), (base.prb.value, k.prb.value), (base.prb.lower, k.prb.lower),
            (base.ki, k.ki), (base.mki, k.mki), (base.median, k.median), (base.cod_ci.1, k.cod_ci.1),
        ] {
            prop_assert!(close(x, y), "scaled by {scale}: {x} vs {y}");
        }
        // Scaling only the assessments scales the level and leaves COD and PRD alone.
        let la: Vec<f64> = a.iter().map(|v| v * 2.0).collect();
        let l = ratio::study(&la, &p, &o).unwrap();
        prop_assert!(close(l.level, 2.0 * base.level) && close(l.cod, base.cod) && close(l.prd, base.prd));
    }
}
