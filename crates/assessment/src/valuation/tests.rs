//! Tests of the valuation engine against independently computed values:
//! NIST's certified Longley regression, statsmodels OLS on a small data set
//! (`testdata/reference.py` builds the design from the documented rules and
//! prints the values pasted here), a simulation from a known model, and
//! hand-computed cost and adjustment figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use time::Date;
use time::macros::date;

use super::linalg;
use super::regression::When;
use super::synthetic;
use super::*;
use crate::ratio;
use crate::stats::Rng;

/// (term, coefficient, standard error, t, p, VIF)
type Expected = (&'static str, f64, f64, f64, f64, Option<f64>);

const VALUATION: Date = date!(2025 - 10 - 01);

fn rel_close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1e-300)
}

/// Reads testdata/small_sales.csv: one sale per parcel, in file order.
fn small_data() -> (Vec<Chars>, Vec<SaleObs>) {
    let text = include_str!("testdata/small_sales.csv");
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut parcels = Vec::new();
    let mut sales = Vec::new();
    for (i, line) in text.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let n = |k: usize| f[k].parse::<f64>().unwrap();
        let g = |k: usize| f[k].parse::<u8>().unwrap();
        parcels.push(Chars {
            town: f[0].into(),
            neighbourhood: f[1].into(),
            zoning: String::new(),
            style: f[2].into(),
            land_sqft: n(3),
            living_sqft: n(4),
            year_built: f[5].parse().unwrap(),
            quality: g(6),
            condition: g(7),
            full_baths: g(8),
            half_baths: g(9),
            bedrooms: g(10),
            garage_spaces: g(11),
        });
        sales.push(SaleObs {
            parcel: i,
            price: n(12),
            date: Date::parse(f[13], fmt).unwrap(),
        });
    }
    (parcels, sales)
}

fn small_spec() -> Spec {
    let mut spec = Spec::new(VALUATION, Scope::Town("avon".into()));
    spec.min_sales_per_level = 8;
    spec
}

fn check_against(model: &Model, fit: [f64; 4], terms: &[Expected]) {
    let names: Vec<&str> = model.terms.iter().map(|t| t.name.as_str()).collect();
    let want: Vec<&str> = terms.iter().map(|t| t.0).collect();
    assert_eq!(names, want);
    for (t, e) in model.terms.iter().zip(terms) {
        assert!(
            rel_close(t.coefficient, e.1, 1e-9),
            "{} coef {} vs {}",
            e.0,
            t.coefficient,
            e.1
        );
        assert!(
            rel_close(t.std_error, e.2, 1e-9),
            "{} se {} vs {}",
            e.0,
            t.std_error,
            e.2
        );
        assert!(
            rel_close(t.t_value, e.3, 1e-9),
            "{} t {} vs {}",
            e.0,
            t.t_value,
            e.3
        );
        assert!(
            rel_close(t.p_value, e.4, 1e-7),
            "{} p {} vs {}",
            e.0,
            t.p_value,
            e.4
        );
        match (t.vif, e.5) {
            (Some(g), Some(w)) => assert!(rel_close(g, w, 1e-8), "{} vif {g} vs {w}", e.0),
            (None, None) => {}
            other => panic!("{}: vif {other:?}", e.0),
        }
    }
    let got = [
        model.r_squared,
        model.adj_r_squared,
        model.rmse,
        model.smearing,
    ];
    for (g, w) in got.iter().zip(fit) {
        assert!(rel_close(*g, w, 1e-10), "{got:?} vs {fit:?}");
    }
}

// Values printed by testdata/reference.py (statsmodels 0.15.0 OLS; VIF from
// statsmodels.stats.outliers_influence.variance_inflation_factor on the same
// design, which includes the constant). Fit: R², adjusted R², √mse_resid,
// mean(exp(resid)).
// linear trend, numeric grades, min 8: n=40 k=16
const LINEAR_FIT: [f64; 4] = [
    0.9440036009624663,
    0.9090058515640077,
    0.0670384679833195,
    1.0013457426803487,
];
const LINEAR_TERMS: [Expected; 16] = [
    (
        "intercept",
        6.655002519856708,
        0.5013848379121189,
        13.27324246096005,
        1.5076789354037576e-12,
        None,
    ),
    (
        "ln_living_sqft",
        0.5954625011431709,
        0.04496504022864262,
        13.242788133076388,
        1.5830129972978625e-12,
        Some(1.4378139820026146),
    ),
    (
        "ln_land_sqft",
        0.1373322451652248,
        0.023545398283033737,
        5.832657554329128,
        5.148965577816134e-06,
        Some(1.3598498559363106),
    ),
    (
        "age",
        -0.004517769871715427,
        0.002202556104966773,
        -2.0511486002684958,
        0.05132140030201107,
        Some(34.7994629566562),
    ),
    (
        "age_squared",
        2.237258443921913e-05,
        1.875865230910744e-05,
        1.1926541454343764,
        0.24466335412191653,
        Some(33.41944690382983),
    ),
    (
        "quality",
        0.0904478432081881,
        0.011232873892554682,
        8.052066111784473,
        2.8131047745540335e-08,
        Some(1.1904179347409312),
    ),
    (
        "condition",
        0.03735714181063199,
        0.012241094687049285,
        3.051781132789924,
        0.005485563674567039,
        Some(1.530400286575306),
    ),
    (
        "full_baths",
        0.018551152451992382,
        0.015549141718927193,
        1.1930660088724379,
        0.2445050492146905,
        Some(1.5009591932591408),
    ),
    (
        "half_baths",
        0.005408606479657685,
        0.02327918493259346,
        0.23233659147941352,
        0.8182464092464232,
        Some(1.1937752583278174),
    ),
    (
        "bedrooms",
        0.004055702291769991,
        0.012812908853260493,
        0.31653251718386644,
        0.7543351240261751,
        Some(1.6575397407169212),
    ),
    (
        "garage_spaces",
        0.05562247858313918,
        0.016351682272537825,
        3.40163645893215,
        0.0023481293367347386,
        Some(1.6048637636974268),
    ),
    (
        "months",
        0.005825266036283763,
        0.001890361495220528,
        3.0815619398786964,
        0.005108412281064464,
        Some(1.4552420170616849),
    ),
    (
        "style[Cape Cod]",
        -0.059811104543273874,
        0.027569187571894468,
        -2.169491008296834,
        0.04017256649328403,
        None,
    ),
    (
        "style[other]",
        0.015600508166954796,
        0.029272957309794314,
        0.5329324263980356,
        0.5989809687609977,
        None,
    ),
    (
        "neighbourhood[N2]",
        0.04048451757411575,
        0.03264470918503254,
        1.240155559194803,
        0.22690629613325167,
        None,
    ),
    (
        "neighbourhood[other]",
        -0.0005145616866999714,
        0.03162499295733656,
        -0.016270728894521386,
        0.9871529174270622,
        None,
    ),
];
const LINEAR_PREDICT_0: f64 = 535003.3365958646;
// monthly buckets, grade dummies, min 5: n=40 k=23
const MONTHLY_FIT: [f64; 4] = [
    0.9682835927240013,
    0.9272388303668266,
    0.05994696275570216,
    1.000760893652038,
];
const MONTHLY_TERMS: [Expected; 23] = [
    (
        "intercept",
        6.665010840652428,
        0.5191213302049392,
        12.839023274233806,
        3.55436129925541e-10,
        None,
    ),
    (
        "ln_living_sqft",
        0.6148588175074332,
        0.045317610078477205,
        13.567767948103898,
        1.5049623845446043e-10,
        Some(1.826419435584181),
    ),
    (
        "ln_land_sqft",
        0.17016879260575868,
        0.03105460056315827,
        5.479664510888573,
        4.068755653173919e-05,
        Some(2.958316022246001),
    ),
    (
        "age",
        -0.006470722920810024,
        0.0022213866846384697,
        -2.912920548933214,
        0.009693367899005394,
        Some(44.2670625181397),
    ),
    (
        "age_squared",
        3.532551148793415e-05,
        1.8354386974769317e-05,
        1.9246358669725134,
        0.07117740594271907,
        Some(40.011934707396385),
    ),
    (
        "full_baths",
        0.027281103710924008,
        0.014787811044124301,
        1.8448371858094383,
        0.08255656029309592,
        Some(1.6977651712252657),
    ),
    (
        "half_baths",
        0.02004889447267022,
        0.02556510113564078,
        0.784229030282211,
        0.44369663905862294,
        Some(1.8005113209599268),
    ),
    (
        "bedrooms",
        -0.01116371118345777,
        0.01473872586041901,
        -0.7574407237899732,
        0.4591568560470482,
        Some(2.742850593728828),
    ),
    (
        "garage_spaces",
        0.05082386566825392,
        0.019528791637317085,
        2.6025094953205326,
        0.0185833446514018,
        Some(2.8627131195956736),
    ),
    (
        "month[5-7]",
        -0.057471896395283384,
        0.05019133977807311,
        -1.1450560325626316,
        0.26805137319834926,
        None,
    ),
    (
        "month[8-12]",
        -0.07130564608749679,
        0.037119237579740776,
        -1.9209889732868473,
        0.07166528837128058,
        None,
    ),
    (
        "month[14-17]",
        -0.10818308394076492,
        0.04397869495678584,
        -2.459897549189837,
        0.024906120613599484,
        None,
    ),
    (
        "month[19-24]",
        -0.08181039432363768,
        0.04099291278433677,
        -1.9957204493869758,
        0.062242820871997395,
        None,
    ),
    (
        "style[Cape Cod]",
        -0.024971593734977482,
        0.03718339638530419,
        -0.6715791499037694,
        0.5108754394660718,
        None,
    ),
    (
        "style[Ranch]",
        0.06737823247839536,
        0.038332198718924966,
        1.7577450480326895,
        0.09678158090117246,
        None,
    ),
    (
        "quality[Fair]",
        -0.0177537565736543,
        0.0485641326873411,
        -0.36557343025055317,
        0.7191924474321228,
        None,
    ),
    (
        "quality[Good]",
        0.07409010454075382,
        0.042544104995757684,
        1.7414893214498641,
        0.09966168440195504,
        None,
    ),
    (
        "quality[Very Good]",
        0.2183155825335792,
        0.029421786917546076,
        7.42020133397757,
        1.0008972859025687e-06,
        None,
    ),
    (
        "condition[Average]",
        -0.06517757491806775,
        0.03263628757207433,
        -1.9970891227787133,
        0.06208116229372952,
        None,
    ),
    (
        "condition[Fair]",
        -0.10901190208969513,
        0.032033998873852214,
        -3.4030063657983147,
        0.0033856776552616385,
        None,
    ),
    (
        "condition[Very Good]",
        -0.0013445438205454963,
        0.03781715734452847,
        -0.0355538045415788,
        0.9720522880443762,
        None,
    ),
    (
        "neighbourhood[N2]",
        0.03926822349500836,
        0.0433597182831796,
        0.905638344754688,
        0.3777843888343323,
        None,
    ),
    (
        "neighbourhood[N3]",
        -0.029974866130077604,
        0.05466376759326701,
        -0.5483498018854017,
        0.5905808099026182,
        None,
    ),
];

#[test]
fn the_small_model_matches_statsmodels() {
    let (parcels, sales) = small_data();
    let model = fit(&parcels, &sales, &small_spec()).unwrap();
    assert_eq!((model.n, model.k), (40, 16));
    check_against(&model, LINEAR_FIT, &LINEAR_TERMS);
    // The reference's prediction: parcel 0's row with months = 0, times the smearing factor.
    assert!(rel_close(
        model.predict(&parcels[0]),
        LINEAR_PREDICT_0,
        1e-9
    ));
    // The pooled levels, as the rules make them: Ranch (6) and Cottage (4) share
    // style[other]; N3 (6) and N4 (4) share neighbourhood[other].
    assert_eq!(model.coding.style.reference, "Colonial");
    assert_eq!(model.coding.style.pooled, vec!["Cottage", "Ranch"]);
    let avon = &model.coding.neighbourhoods["avon"];
    assert_eq!((avon.reference.as_str(), avon.reference_sales), ("N1", 18));
    assert_eq!(avon.other.as_ref().map(|o| o.sales), Some(10));
}

#[test]
fn monthly_buckets_and_grade_dummies_match_statsmodels() {
    let (parcels, sales) = small_data();
    let mut spec = small_spec();
    spec.min_sales_per_level = 5;
    spec.time_trend = TimeTrend::Monthly;
    spec.grades = GradeCoding::Dummies;
    let model = fit(&parcels, &sales, &spec).unwrap();
    check_against(&model, MONTHLY_FIT, &MONTHLY_TERMS);
    // Rare levels with too few sales between them stay with the reference:
    // Cottage (4 sales) is valued as a Colonial, N4 (4) as N1.
    assert!(model.coding.style.other.is_none());
    assert_eq!(model.coding.style.pooled, vec!["Cottage"]);
    let mut cottage = parcels[1].clone();
    assert_eq!(cottage.style, "Cottage");
    let as_cottage = model.predict(&cottage);
    cottage.style = "Colonial".into();
    assert_eq!(model.predict(&cottage), as_cottage);
    // Time: a sale in the most recent bucket needs no adjustment.
    assert_eq!(model.time_adjust(100.0, date!(2025 - 09 - 15)), 100.0);
    let b = model.term("month[8-12]").unwrap().coefficient;
    let adjusted = model.time_adjust(100.0, date!(2024 - 12 - 15));
    assert!(rel_close(adjusted, 100.0 * (-b).exp(), 1e-12));
}

// Longley (1967), NIST StRD "Longley": y = employment; x = GNP deflator,
// GNP, unemployed, armed forces, population, year. A classic test of
// ill-conditioned least squares.
const LONGLEY: [[f64; 7]; 16] = [
    [83.0, 234289.0, 2356.0, 1590.0, 107608.0, 1947.0, 60323.0],
    [88.5, 259426.0, 2325.0, 1456.0, 108632.0, 1948.0, 61122.0],
    [88.2, 258054.0, 3682.0, 1616.0, 109773.0, 1949.0, 60171.0],
    [89.5, 284599.0, 3351.0, 1650.0, 110929.0, 1950.0, 61187.0],
    [96.2, 328975.0, 2099.0, 3099.0, 112075.0, 1951.0, 63221.0],
    [98.1, 346999.0, 1932.0, 3594.0, 113270.0, 1952.0, 63639.0],
    [99.0, 365385.0, 1870.0, 3547.0, 115094.0, 1953.0, 64989.0],
    [100.0, 363112.0, 3578.0, 3350.0, 116219.0, 1954.0, 63761.0],
    [101.2, 397469.0, 2904.0, 3048.0, 117388.0, 1955.0, 66019.0],
    [104.6, 419180.0, 2822.0, 2857.0, 118734.0, 1956.0, 67857.0],
    [108.4, 442769.0, 2936.0, 2798.0, 120445.0, 1957.0, 68169.0],
    [110.8, 444546.0, 4681.0, 2637.0, 121950.0, 1958.0, 66513.0],
    [112.6, 482704.0, 3813.0, 2552.0, 123366.0, 1959.0, 68655.0],
    [114.2, 502601.0, 3931.0, 2514.0, 125368.0, 1960.0, 69564.0],
    [115.7, 518173.0, 4806.0, 2572.0, 127852.0, 1961.0, 69331.0],
    [116.9, 554894.0, 4007.0, 2827.0, 130081.0, 1962.0, 70551.0],
];

#[test]
fn least_squares_matches_nist_certified_longley_values() {
    // NIST StRD certified values (itl.nist.gov/div898/strd/lls/data/Longley.shtml),
    // to 15 digits; statsmodels 0.15 OLS reproduces them to 12.
    let certified = [
        (-3482258.63459582, 890420.383607373),
        (15.0618722713733, 84.9149257747669),
        (-0.358191792925910e-1, 0.334910077722432e-1),
        (-2.02022980381683, 0.488399681651699),
        (-1.03322686717359, 0.214274163161675),
        (-0.511041056535807e-1, 0.226073200069370),
        (1829.15146461355, 455.478499142212),
    ];
    let (n, k) = (16, 7);
    let mut x = vec![1.0; n];
    for j in 0..6 {
        x.extend(LONGLEY.iter().map(|r| r[j]));
    }
    let y: Vec<f64> = LONGLEY.iter().map(|r| r[6]).collect();
    let ls = linalg::least_squares(&x, n, k, &y).unwrap();
    let rss: f64 = (0..n)
        .map(|i| {
            let fit: f64 = (0..k).map(|j| ls.beta[j] * x[j * n + i]).sum();
            (y[i] - fit).powi(2)
        })
        .sum();
    let s2 = rss / (n - k) as f64;
    assert!(
        rel_close(s2.sqrt(), 304.854073561965, 1e-9),
        "{}",
        s2.sqrt()
    );
    for (j, (b, se)) in certified.iter().enumerate() {
        assert!(
            rel_close(ls.beta[j], *b, 1e-8),
            "b{j} {} vs {b}",
            ls.beta[j]
        );
        let got = (s2 * ls.xtx_inv_diag[j]).sqrt();
        assert!(rel_close(got, *se, 1e-8), "se{j} {got} vs {se}");
    }
}

/// The coefficient the fit should recover for a term, from the true model
/// and the references the coding chose.
fn true_coefficient(model: &Model, truth: &synthetic::Truth, kind: &TermKind) -> f64 {
    let c = &model.coding;
    let style = |s: &str| truth.style[s];
    let town = |t: &str| {
        let refn = &c.neighbourhoods[t].reference;
        truth.town[t] + truth.neighbourhood[&(t.to_string(), refn.clone())]
    };
    let ref_town = &c.town.as_ref().unwrap().reference;
    match kind {
        TermKind::Intercept => truth.intercept + style(&c.style.reference) + town(ref_town),
        TermKind::Numeric(p) => truth.numeric[Predictor::ALL.iter().position(|q| q == p).unwrap()],
        TermKind::Months => truth.monthly_trend,
        TermKind::Level {
            factor,
            level: Some(l),
        } => match factor {
            regression::FactorId::Style => style(l) - style(&c.style.reference),
            regression::FactorId::Town => town(l) - town(ref_town),
            regression::FactorId::Neighbourhood(t) => {
                let refn = &c.neighbourhoods[t].reference;
                truth.neighbourhood[&(t.clone(), l.clone())]
                    - truth.neighbourhood[&(t.clone(), refn.clone())]
            }
            other => panic!("unexpected factor {other:?}"),
        },
        other => panic!("unexpected term {other:?}"),
    }
}

#[test]
fn a_simulated_region_is_recovered_and_its_holdout_sales_pass_a_ratio_study() {
    // 3 towns × 5 neighbourhoods, 5,000 sales from the known model with noise
    // sd 0.10; fit on 4,000, hold out 1,000.
    let region = synthetic::region(42, 3, 5, 8_000, 5_000, 0.10, VALUATION);
    let (train, holdout) = region.sales.split_at(4_000);
    let spec = Spec::new(VALUATION, Scope::Region);
    let model = fit(&region.parcels, train, &spec).unwrap();
    assert_eq!(
        model.k,
        1 + 10 + 1 + 6 + 2 + 3 * 4,
        "no level should be pooled"
    );
    for t in &model.terms {
        let want = true_coefficient(&model, &region.truth, &t.kind);
        let z = (t.coefficient - want) / t.std_error;
        assert!(
            z.abs() < 3.0,
            "{}: {} vs true {want} ({z:.2} SE)",
            t.name,
            t.coefficient
        );
    }
    assert!(rel_close(model.rmse, 0.10, 0.05), "rmse {}", model.rmse);
    // Duan's factor for normal errors is about exp(σ²/2).
    assert!(rel_close(model.smearing, (0.01_f64 / 2.0).exp(), 0.002));
    let assessed: Vec<f64> = holdout
        .iter()
        .map(|s| model.predict(&region.parcels[s.parcel]))
        .collect();
    let price: Vec<f64> = holdout
        .iter()
        .map(|s| model.time_adjust(s.price, s.date))
        .collect();
    let study = ratio::study(&assessed, &price, &ratio::Options::default()).unwrap();
    assert!(study.cod < 15.0, "COD {}", study.cod);
    assert!((0.98..=1.03).contains(&study.prd), "PRD {}", study.prd);
    assert!(
        (0.97..=1.03).contains(&study.median),
        "median ratio {}",
        study.median
    );
}

#[test]
fn the_model_depends_on_the_set_of_sales_and_survives_serialization() {
    let (parcels, sales) = small_data();
    let model = fit(&parcels, &sales, &small_spec()).unwrap();
    let mut shuffled = sales.clone();
    let mut rng = Rng::new(5);
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i + 1));
    }
    assert_eq!(fit(&parcels, &shuffled, &small_spec()).unwrap(), model);
    let json = serde_json::to_string(&model).unwrap();
    let back: Model = serde_json::from_str(&json).unwrap();
    assert_eq!(back.terms.len(), model.terms.len());
    for p in &parcels {
        assert!(rel_close(back.predict(p), model.predict(p), 1e-13));
    }
    let spec_json = serde_json::to_string(&model.spec).unwrap();
    assert_eq!(
        serde_json::from_str::<Spec>(&spec_json).unwrap(),
        model.spec
    );
}

#[test]
fn too_few_sales_are_refused_with_the_counts() {
    let (parcels, sales) = small_data();
    let err = fit(&parcels, &sales[..10], &small_spec()).unwrap_err();
    // Intercept, 10 numeric predictors and the trend: at least 12 terms.
    match &err {
        ModelError::TooFewSales { n: 10, k } if *k >= 12 => {}
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("10 sales for"));
    let err = fit(
        &parcels,
        &sales,
        &Spec::new(VALUATION, Scope::Town("bolton".into())),
    );
    assert!(matches!(err, Err(ModelError::TooFewSales { n: 0, .. })));
}

#[test]
fn a_constant_column_is_named() {
    let (mut parcels, sales) = small_data();
    parcels.iter_mut().for_each(|p| p.half_baths = 0);
    let err = fit(&parcels, &sales, &small_spec()).unwrap_err();
    assert_eq!(
        err,
        ModelError::ConstantColumn {
            term: "half_baths".into(),
            value: 0.0
        }
    );
    assert!(err.to_string().contains("remove half_baths"));
    // Without the term the model fits.
    let mut spec = small_spec();
    spec.predictors.retain(|p| *p != Predictor::HalfBaths);
    assert_eq!(fit(&parcels, &sales, &spec).unwrap().k, 15);
}

#[test]
fn collinear_terms_are_named() {
    let (mut parcels, sales) = small_data();
    // Bedrooms = full baths + 1 in every house.
    parcels
        .iter_mut()
        .for_each(|p| p.bedrooms = p.full_baths + 1);
    let err = fit(&parcels, &sales, &small_spec()).unwrap_err();
    assert_eq!(
        err,
        ModelError::Collinear {
            terms: vec!["intercept".into(), "full_baths".into(), "bedrooms".into()]
        }
    );
    assert!(
        err.to_string()
            .contains("bedrooms is a linear combination of intercept, full_baths")
    );
    // Every Cape Cod is in N2 and every N2 house a Cape Cod: the two dummies are one.
    let (mut parcels, sales) = small_data();
    for p in &mut parcels {
        p.style = if p.neighbourhood == "N2" {
            "Cape Cod"
        } else {
            "Colonial"
        }
        .into();
    }
    assert_eq!(
        fit(&parcels, &sales, &small_spec()).unwrap_err(),
        ModelError::Collinear {
            terms: vec!["style[Cape Cod]".into(), "neighbourhood[N2]".into()]
        }
    );
}

#[test]
fn invalid_areas_prices_and_parcels_are_named() {
    let (parcels, sales) = small_data();
    let spec = small_spec();
    let with = |i: usize, f: &dyn Fn(&mut Chars)| {
        let mut p = parcels.clone();
        f(&mut p[i]);
        fit(&p, &sales, &spec).unwrap_err()
    };
    let e = with(3, &|p| p.living_sqft = f64::NAN);
    assert!(
        matches!(
            &e,
            ModelError::InvalidParcel {
                parcel: Some(3),
                field: "living_sqft",
                ..
            }
        ),
        "{e:?}"
    );
    let e = with(7, &|p| p.land_sqft = -5.0);
    assert!(
        matches!(
            &e,
            ModelError::InvalidParcel {
                parcel: Some(7),
                field: "land_sqft",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "parcel 8: land_sqft must be a positive number of square feet, not -5"
    );
    let e = with(2, &|p| p.quality = 0);
    assert!(
        matches!(
            &e,
            ModelError::InvalidParcel {
                field: "quality",
                ..
            }
        ),
        "{e:?}"
    );
    let mut bad = sales.clone();
    bad[4].parcel = 99;
    assert!(matches!(
        fit(&parcels, &bad, &spec),
        Err(ModelError::InvalidSale { sale: 4, .. })
    ));
    let mut bad = sales.clone();
    bad[5].price = 0.0;
    assert!(matches!(
        fit(&parcels, &bad, &spec),
        Err(ModelError::InvalidSale { sale: 5, .. })
    ));
    // Prediction refuses what the model cannot value.
    let model = fit(&parcels, &sales, &spec).unwrap();
    let mut elsewhere = parcels[0].clone();
    elsewhere.town = "bolton".into();
    assert!(matches!(
        model.try_predict(&elsewhere),
        Err(ModelError::OutsideScope { .. })
    ));
    assert!(model.predict(&elsewhere).is_nan());
    let mut broken = parcels[0].clone();
    broken.living_sqft = 0.0;
    assert!(model.predict(&broken).is_nan());
}

fn house(style: &str, living: f64, land: f64, year: i32, q: u8, c: u8) -> Chars {
    Chars {
        town: "avon".into(),
        neighbourhood: "N1".into(),
        zoning: "R-40".into(),
        style: style.into(),
        land_sqft: land,
        living_sqft: living,
        year_built: year,
        quality: q,
        condition: c,
        full_baths: 1,
        half_baths: 0,
        bedrooms: 3,
        garage_spaces: 0,
    }
}

#[test]
fn the_cost_approach_matches_hand_computation() {
    let s = CostSchedule::illustrative();
    // Colonial, 2,000 sq ft, Good (×1.18), Fair condition (+10 points), built
    // 1985 (age 40: 25 %), 2 full + 1 half baths, 2 garage spaces, 1.5 acres.
    // RCN 2,000 × 185 × 1.18 = 436,600 + 12,000 + 6,000 + 2 × 18,000 = 490,600;
    // depreciation 35 % = 171,710; building 318,890; land 120,000 + 0.5 ×
    // 25,000 = 132,500; total 451,390.
    let mut c = house("Colonial", 2_000.0, 1.5 * 43_560.0, 1985, 4, 2);
    (c.full_baths, c.half_baths, c.garage_spaces) = (2, 1, 2);
    let b = cost_value(&c, &s, VALUATION);
    let got = (b.rcn_main, b.rcn_baths, b.rcn_garage, b.rcn, b.age);
    assert_eq!(got, (436_600.0, 18_000.0, 36_000.0, 490_600.0, 40.0));
    assert!((b.depreciation_pct - 0.35).abs() < 1e-12);
    let got = (
        b.depreciation,
        b.building,
        b.land_site,
        b.land_extra,
        b.land,
        b.total,
    );
    assert_eq!(
        got,
        (
            171_710.0, 318_890.0, 120_000.0, 12_500.0, 132_500.0, 451_390.0
        )
    );
    // Ranch, 1,400 sq ft, Excellent (×1.70), Low (+25), built 1900 (age 125,
    // past the table: 42 %): 67 %. RCN 476,000; depreciation 318,920; building
    // 157,080. 13 acres: 12 extra = 2 × 25,000 + 6 × 12,000 + 4 × 6,000 =
    // 146,000; land 266,000; total 423,080.
    let c = house("Ranch", 1_400.0, 13.0 * 43_560.0, 1900, 6, 1);
    let b = cost_value(&c, &s, VALUATION);
    assert_eq!(
        (b.rcn, b.depreciation, b.building),
        (476_000.0, 318_920.0, 157_080.0)
    );
    assert_eq!(
        (b.land_extra, b.land, b.total),
        (146_000.0, 266_000.0, 423_080.0)
    );
    // Cape Cod, 1,000 sq ft, Low (×0.70), 2 half baths, 1 garage space, built
    // 1960 (age 65: 33 + 9 × 5/40 = 34.125 %), Low condition: 59.125 %.
    // RCN 133,000 + 12,000 + 18,000 = 163,000; depreciation 96,373.75 → 96,374.
    // A quarter-acre lot: 120,000 × √0.25 = 60,000.
    let mut c = house("Cape Cod", 1_000.0, 10_890.0, 1960, 1, 1);
    (c.half_baths, c.garage_spaces) = (2, 1);
    let b = cost_value(&c, &s, VALUATION);
    assert!((b.depreciation_pct - 0.59125).abs() < 1e-12);
    assert_eq!(
        (b.rcn, b.depreciation, b.land),
        (163_000.0, 96_374.0, 60_000.0)
    );
    // With depreciation capped at 50 %, the building keeps half: 81,500.
    let capped = CostSchedule {
        max_depreciation: 0.5,
        ..s.clone()
    };
    let b = cost_value(&c, &capped, VALUATION);
    assert_eq!(
        (b.depreciation_pct, b.building, b.total),
        (0.5, 81_500.0, 141_500.0)
    );
    // A new house in Good condition is not appreciated: depreciation 0, not −5 %.
    let b = cost_value(
        &house("Ranch", 1_500.0, 43_560.0, 2025, 3, 4),
        &s,
        VALUATION,
    );
    assert_eq!(
        (b.depreciation_pct, b.rcn, b.building),
        (0.0, 300_000.0, 300_000.0)
    );
    // A neighbourhood's own land schedule: half-acre base lot at 200,000.
    let mut local = s.clone();
    local.land.insert(
        "N1".into(),
        LandRate {
            base_lot_sqft: 21_780.0,
            site_value: 200_000.0,
            tiers: vec![AcreTier {
                from_acres: 0.0,
                rate_per_acre: 40_000.0,
            }],
        },
    );
    // One acre: the base half acre plus 0.5 × 40,000.
    let b = cost_value(
        &house("Ranch", 1_500.0, 43_560.0, 2025, 3, 3),
        &local,
        VALUATION,
    );
    assert_eq!(
        (b.land, b.land_schedule.as_str()),
        (220_000.0, "neighbourhood N1")
    );
    // A zone's schedule serves a neighbourhood without one; the neighbourhood's comes first.
    let zone = LandRate {
        base_lot_sqft: 43_560.0,
        site_value: 90_000.0,
        tiers: Vec::new(),
    };
    let mut zoned = s.clone();
    zoned.land_by_zone.insert("R-40".into(), zone.clone());
    // Two acres on a one-acre base lot with no acreage tiers: the site value alone.
    let b = cost_value(
        &house("Ranch", 1_500.0, 87_120.0, 2025, 3, 3),
        &zoned,
        VALUATION,
    );
    assert_eq!((b.land, b.land_schedule.as_str()), (90_000.0, "zone R-40"));
    local.land_by_zone.insert("R-40".into(), zone);
    let b = cost_value(
        &house("Ranch", 1_500.0, 43_560.0, 2025, 3, 3),
        &local,
        VALUATION,
    );
    assert_eq!(
        (b.land, b.land_schedule.as_str()),
        (220_000.0, "neighbourhood N1")
    );
    let b = cost_value(
        &house("Ranch", 1_500.0, 43_560.0, 2025, 3, 3),
        &s,
        VALUATION,
    );
    assert_eq!(b.land_schedule, "default");
}

/// The design row of the reference script (testdata/reference.py) for the
/// linear model, in LINEAR_TERMS order; `sale` is None at the valuation date.
fn reference_row(c: &Chars, sale: Option<Date>) -> [f64; 16] {
    let age = f64::from((2025 - c.year_built).max(0));
    let months = sale.map_or(0.0, |d| (d - VALUATION).whole_days() as f64 / 30.4375);
    let is = |b: bool| if b { 1.0 } else { 0.0 };
    [
        1.0,
        c.living_sqft.ln(),
        c.land_sqft.ln(),
        age,
        age * age,
        f64::from(c.quality),
        f64::from(c.condition),
        f64::from(c.full_baths),
        f64::from(c.half_baths),
        f64::from(c.bedrooms),
        f64::from(c.garage_spaces),
        months,
        is(c.style == "Cape Cod"),
        is(c.style == "Ranch" || c.style == "Cottage"),
        is(c.neighbourhood == "N2"),
        is(c.neighbourhood == "N3" || c.neighbourhood == "N4"),
    ]
}

#[test]
fn comparable_adjustments_follow_the_reference_coefficients_and_add_up() {
    let (parcels, sales) = small_data();
    let model = fit(&parcels, &sales, &small_spec()).unwrap();
    for subject in [0, 5, 17, 33] {
        let s = &parcels[subject];
        let comps = comparables(s, Some(subject), &parcels, &sales, &model, 5);
        assert_eq!(comps.len(), 5);
        for comp in &comps {
            let c = &parcels[comp.parcel];
            let (xs, xc) = (reference_row(s, None), reference_row(c, Some(comp.date)));
            let diff: Vec<f64> = (0..16)
                .map(|j| LINEAR_TERMS[j].1 * (xs[j] - xc[j]))
                .collect();
            let d: f64 = diff.iter().sum();
            let expected = comp.price * d.exp();
            assert!(
                (comp.adjusted_price - expected).abs() < 0.01,
                "{} vs {expected}",
                comp.adjusted_price
            );
            // The lines add up to the adjusted price to the cent (exactly, in cents).
            let sum: f64 = comp.adjustments.iter().map(|a| a.amount).sum();
            assert!((comp.price + sum - comp.adjusted_price).abs() < 1e-6);
            // Each line is its share of the total: P · d_f · (e^D − 1) / D.
            let groups: [(Feature, &[usize]); 12] = [
                (Feature::Time, &[11]),
                (Feature::Location, &[14, 15]),
                (Feature::Style, &[12, 13]),
                (Feature::LivingArea, &[1]),
                (Feature::LandArea, &[2]),
                (Feature::Age, &[3, 4]),
                (Feature::Quality, &[5]),
                (Feature::Condition, &[6]),
                (Feature::FullBaths, &[7]),
                (Feature::HalfBaths, &[8]),
                (Feature::Bedrooms, &[9]),
                (Feature::GarageSpaces, &[10]),
            ];
            for (f, cols) in groups {
                let df: f64 = cols.iter().map(|&j| diff[j]).sum();
                let want = comp.price * df * d.exp_m1() / d;
                let got = comp
                    .adjustments
                    .iter()
                    .find(|a| a.feature == f)
                    .map_or(0.0, |a| a.amount);
                assert!((got - want).abs() < 0.0101, "{f:?}: {got} vs {want}");
            }
            // Gross adjustment and weights as documented.
            let gross: f64 = comp.adjustments.iter().map(|a| a.amount.abs()).sum();
            assert!((comp.gross_adjustment - gross).abs() < 1e-6);
        }
        let w: Vec<f64> = comps
            .iter()
            .map(|c| 1.0 / (c.gross_adjustment / c.price).max(0.01))
            .collect();
        let want = comps
            .iter()
            .zip(&w)
            .map(|(c, w)| w * c.adjusted_price)
            .sum::<f64>()
            / w.iter().sum::<f64>();
        assert_eq!(indicated_value(&comps), Some(want.round()));
    }
    assert_eq!(indicated_value(&[]), None);
}

#[test]
fn the_subjects_own_sale_is_never_its_comparable() {
    let (parcels, sales) = small_data();
    let model = fit(&parcels, &sales, &small_spec()).unwrap();
    // Left in, the subject's own sale is its nearest comparable (only the
    // months since the sale set it apart) …
    let all = comparables(&parcels[0], None, &parcels, &sales, &model, 5);
    assert_eq!(all[0].parcel, 0);
    assert!(
        all[0]
            .adjustments
            .iter()
            .all(|a| a.feature == Feature::Time)
    );
    // … identified, it is excluded.
    let comps = comparables(&parcels[0], Some(0), &parcels, &sales, &model, 5);
    assert_eq!(comps.len(), 5);
    assert!(comps.iter().all(|c| c.parcel != 0));
}

#[test]
fn comparables_come_from_the_neighbourhood_first() {
    let (parcels, sales) = small_data();
    let model = fit(&parcels, &sales, &small_spec()).unwrap();
    // N3 has 6 sales: a subject there gets the other 5 first, even where a
    // sale elsewhere is more similar.
    let subject = parcels
        .iter()
        .position(|p| p.neighbourhood == "N3")
        .unwrap();
    let ranked = comparables(
        &parcels[subject],
        Some(subject),
        &parcels,
        &sales,
        &model,
        39,
    );
    assert_eq!(ranked.len(), 39);
    assert!(
        ranked[..5]
            .iter()
            .all(|c| c.same_neighbourhood && parcels[c.parcel].neighbourhood == "N3")
    );
    assert!(ranked[5..].iter().all(|c| !c.same_neighbourhood));
    let worst_n3 = ranked[..5].iter().map(|c| c.distance).fold(0.0, f64::max);
    let best_other = ranked[5..]
        .iter()
        .map(|c| c.distance)
        .fold(f64::INFINITY, f64::min);
    assert!(
        best_other < worst_n3,
        "the test needs a closer sale outside N3"
    );
    // A location line only where the neighbourhood term differs: N3 and N4 share one.
    for c in &ranked {
        let other = matches!(parcels[c.parcel].neighbourhood.as_str(), "N3" | "N4");
        assert_eq!(
            c.adjustments.iter().any(|a| a.feature == Feature::Location),
            !other
        );
    }
}

#[test]
fn a_town_model_takes_comparables_from_its_town_only() {
    let region = synthetic::region(7, 3, 4, 3_000, 1_500, 0.1, VALUATION);
    let spec = Spec::new(VALUATION, Scope::Town("town01".into()));
    let model = fit(&region.parcels, &region.sales, &spec).unwrap();
    let subject = region
        .parcels
        .iter()
        .position(|p| p.town == "town01")
        .unwrap();
    let comps = comparables(
        &region.parcels[subject],
        Some(subject),
        &region.parcels,
        &region.sales,
        &model,
        8,
    );
    assert_eq!(comps.len(), 8);
    assert!(
        comps
            .iter()
            .all(|c| region.parcels[c.parcel].town == "town01")
    );
    // A parcel of another town gets none from this model.
    let other = region
        .parcels
        .iter()
        .position(|p| p.town == "town02")
        .unwrap();
    assert!(
        comparables(
            &region.parcels[other],
            Some(other),
            &region.parcels,
            &region.sales,
            &model,
            8
        )
        .is_empty()
    );
    // A regional model ranks the subject's town before the others.
    let model = fit(
        &region.parcels,
        &region.sales,
        &Spec::new(VALUATION, Scope::Region),
    )
    .unwrap();
    let comps = comparables(
        &region.parcels[subject],
        Some(subject),
        &region.parcels,
        &region.sales,
        &model,
        region.sales.len(),
    );
    let first_elsewhere = comps
        .iter()
        .position(|c| region.parcels[c.parcel].town != "town01")
        .unwrap();
    assert!(
        comps[first_elsewhere..]
            .iter()
            .all(|c| region.parcels[c.parcel].town != "town01")
    );
    // Between towns, the location line carries the town effect too.
    let c = &comps[first_elsewhere];
    let loc = c
        .adjustments
        .iter()
        .find(|a| a.feature == Feature::Location)
        .unwrap();
    let (s, p) = (&region.parcels[subject], &region.parcels[c.parcel]);
    let coef = |name: String| model.term(&name).map_or(0.0, |t| t.coefficient);
    let want = coef(format!("town[{}]", s.town))
        + coef(format!("neighbourhood[{}/{}]", s.town, s.neighbourhood))
        - coef(format!("town[{}]", p.town))
        - coef(format!("neighbourhood[{}/{}]", p.town, p.neighbourhood));
    assert!((loc.log_effect - want).abs() < 1e-12);
}

#[test]
fn predictions_at_a_sale_date_and_at_the_valuation_date_differ_by_the_trend() {
    let (parcels, sales) = small_data();
    let model = fit(&parcels, &sales, &small_spec()).unwrap();
    let b = LINEAR_TERMS[11].1;
    let s = sales[3];
    let at_sale = model.log_value(&parcels[s.parcel], When::Sale(s.date));
    let at_valuation = model.log_value(&parcels[s.parcel], When::ValuationDate);
    let months = (s.date - VALUATION).whole_days() as f64 / 30.4375;
    assert!((at_valuation - at_sale + b * months).abs() < 1e-9);
    assert!(rel_close(
        model.time_adjust(1000.0, s.date),
        1000.0 * (-b * months).exp(),
        1e-9
    ));
}
