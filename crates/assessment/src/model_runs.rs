//! Valuation model runs (docs/design/0008-model-runs.md): an assessor asks
//! for a run (regression, cost or comparables, with its settings), the job
//! queue fits it on the town's qualified sales and values every parcel of the
//! classes it covers, the run keeps its fit and ratio statistics and each
//! parcel's value with the explanation of how it was reached; runs are
//! compared side by side, and one is adopted into the roll through
//! `parcels::revalue`.

use std::collections::{BTreeMap, HashMap};

use munishare_platform::access::{self, Principal, ServiceScope};
use munishare_platform::db::{self, Db, Executor, Tx};
use munishare_platform::jobs::{self, JobContext, Progress, Registry};
use munishare_platform::types::{
    MunicipalityId, Permission, Service, Timestamp, format_date, parse_date,
};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::job_user::{self, Acting};
use crate::parcels::{self, CLASSES, Parcel, Revalue, change, json, new_id, require};
use crate::ratio::{self, Options};
use crate::sales::{self, Sale};
use crate::valuation::regression::When;
use crate::valuation::{
    self, Chars, CostBreakdown, CostSchedule, Model, ModelError, Predictor, SaleObs, Scope, Spec,
};

/// The job kind that values a run's parcels.
pub const RUN_JOB: &str = "assessment.model_run";

/// The approaches a run may take.
pub const APPROACHES: [&str; 3] = ["regression", "cost", "comparables"];

/// At most this many runs are compared at once.
pub const MAX_COMPARED: usize = 6;

/// What an assessor asks for (API and page).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RunIn {
    /// A name for the run, 1 to 100 characters.
    pub name: String,
    /// The valuation date (YYYY-MM-DD), not after today; Connecticut: October 1.
    pub valuation_date: String,
    /// `regression`, `cost` or `comparables`.
    pub approach: String,
    /// Regression and comparables: the numeric terms (`ln_living_sqft`,
    /// `ln_land_sqft`, `age`, `age_squared`, `quality`, `condition`,
    /// `full_baths`, `half_baths`, `bedrooms`, `garage_spaces`); default all.
    #[serde(default)]
    pub terms: Option<Vec<String>>,
    /// Regression and comparables: sales a style or neighbourhood needs for
    /// its own term (1 to 1,000; default 10).
    #[serde(default)]
    pub min_sales_per_level: Option<i64>,
    /// Comparables: how many sales per parcel (1 to 10; default 5).
    #[serde(default)]
    pub comparables: Option<i64>,
    /// Cost: the cost schedule (default: the town's stored schedule, or the
    /// illustrative one while it has none).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<CostSchedule>,
    /// The property classes valued (default `residential`).
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    /// Regression: `town` (the default) fits on this town's sales; `region`
    /// pools the qualified sales of every town whose assessment data the
    /// caller may view, with an effect per town, and values this town's parcels.
    #[serde(default)]
    pub sales_from: Option<String>,
}

/// A run's settings as stored (defaults filled in).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Settings {
    /// The numeric terms of the market model (regression, comparables).
    pub terms: Vec<String>,
    /// Sales a factor level needs for its own term.
    pub min_sales_per_level: i64,
    /// Comparables per parcel (comparables only; 0 otherwise).
    pub comparables: i64,
    /// The cost schedule (cost only).
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<CostSchedule>,
    /// The property classes valued.
    pub classes: Vec<String>,
    /// A pooled regional model: the other towns (slugs) whose qualified sales
    /// it is fitted on with this town's; empty for a model of this town alone.
    #[serde(default)]
    pub pooled_towns: Vec<String>,
}

/// A number that JSON can hold: None for NaN and infinities.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// One term of a fitted market model.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TermOut {
    /// `intercept`, `ln_living_sqft`, `style[Cape Cod]`, `months`, …
    pub name: String,
    /// Coefficient (log scale).
    pub coefficient: Option<f64>,
    /// Its standard error.
    pub std_error: Option<f64>,
    /// t value.
    pub t_value: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Variance inflation factor (numeric terms and the time trend).
    pub vif: Option<f64>,
}

/// The fit of a run's market model.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FitOut {
    /// Sales fitted.
    pub n: usize,
    /// Terms, the intercept included.
    pub k: usize,
    /// R² of ln(price).
    pub r_squared: Option<f64>,
    /// Adjusted R².
    pub adj_r_squared: Option<f64>,
    /// Residual standard error (log scale).
    pub rmse: Option<f64>,
    /// Duan's smearing factor.
    pub smearing: Option<f64>,
    /// The coefficient table.
    pub terms: Vec<TermOut>,
}

impl FitOut {
    fn of(m: &Model) -> Self {
        Self {
            n: m.n,
            k: m.k,
            r_squared: finite(m.r_squared),
            adj_r_squared: finite(m.adj_r_squared),
            rmse: finite(m.rmse),
            smearing: finite(m.smearing),
            terms: m
                .terms
                .iter()
                .map(|t| TermOut {
                    name: t.name.clone(),
                    coefficient: finite(t.coefficient),
                    std_error: finite(t.std_error),
                    t_value: finite(t.t_value),
                    p_value: finite(t.p_value),
                    vif: t.vif.and_then(finite),
                })
                .collect(),
        }
    }
}

/// A ratio study of a run's values against sale prices (level 1.00: values are market value).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RatioOut {
    /// Sales studied.
    pub n: usize,
    /// 30 sales or more.
    pub reliable: bool,
    /// Median value / price: the level.
    pub median_ratio: Option<f64>,
    /// COD, percent.
    pub cod: Option<f64>,
    /// PRD.
    pub prd: Option<f64>,
    /// PRB.
    pub prb: Option<f64>,
    /// Within the IAAO ranges: level 0.90–1.10, COD 5–15, PRD 0.98–1.03, PRB ±0.05.
    pub level_met: bool,
    /// COD within range.
    pub cod_met: bool,
    /// PRD within range.
    pub prd_met: bool,
    /// PRB within range.
    pub prb_met: bool,
}

fn round(x: f64, places: i32) -> Option<f64> {
    let k = 10f64.powi(places);
    finite((x * k).round() / k)
}

impl RatioOut {
    fn of(s: &ratio::Study) -> Self {
        Self {
            n: s.n,
            reliable: s.reliable,
            median_ratio: round(s.median, 4),
            cod: round(s.cod, 2),
            prd: round(s.prd, 3),
            prb: round(s.prb.value, 4),
            level_met: s.met.level,
            cod_met: s.met.cod,
            prd_met: s.met.prd,
            prb_met: s.met.prb,
        }
    }
}

/// A stratum of a run's ratio study.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StratumOut {
    /// Neighbourhood code or property class.
    pub label: String,
    /// Sales in it.
    pub sales: usize,
    /// Its study; absent under 5 sales.
    pub study: Option<RatioOut>,
}

/// What a finished run found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Results {
    /// The market model's fit (regression, comparables).
    pub fit: Option<FitOut>,
    /// Qualified sales compared with the run's values (after trimming).
    pub sales_studied: usize,
    /// Sales trimmed as extreme ratio outliers (3 × IQR).
    pub trimmed: usize,
    /// The study of the run's values, overall.
    pub ratio: Option<RatioOut>,
    /// Why there is no study, when there is none.
    pub no_study: Option<String>,
    /// By neighbourhood.
    pub by_neighbourhood: Vec<StratumOut>,
    /// By property class.
    pub by_class: Vec<StratumOut>,
    /// Parcels not valued, by reason.
    pub skipped: BTreeMap<String, i64>,
    /// The qualified sales the model was fitted on, by town (slug).
    #[serde(default)]
    pub sales_by_town: BTreeMap<String, usize>,
    /// What computed the run: the crate's version and the valuation engine's
    /// revision ([`ENGINE_REVISION`]).
    #[serde(default)]
    pub engine: String,
    /// SHA-256 of the run's inputs as the engine saw them (every eligible
    /// parcel's characteristics and every sale used, in order): a run
    /// repeated with the same settings, engine and digest gives the same values.
    #[serde(default)]
    pub inputs_sha256: String,
}

/// The valuation engine's revision: raised whenever a change to `valuation`
/// or to this module can change a run's values, so a run's record says which
/// rules it was computed by.
pub const ENGINE_REVISION: u32 = 1;

/// The engine that computes runs now.
pub fn engine() -> String {
    format!(
        "munishare-assessment {}, valuation engine revision {ENGINE_REVISION}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The digest of a run's inputs (see [`Results::inputs_sha256`]).
fn inputs_digest(inp: &Inputs) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let json = serde_json::to_vec(&(&inp.chars, &inp.sales))
        .map_err(|e| Error::Internal(format!("run inputs: {e}")))?;
    h.update(&json);
    Ok(munishare_platform::types::hex(&h.finalize()))
}

/// A model run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelRun {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Valuation date.
    pub valuation_date: String,
    /// `regression`, `cost` or `comparables`.
    pub approach: String,
    /// Settings.
    pub settings: Settings,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: String,
    /// Parcels valued.
    pub parcels_valued: i64,
    /// Parcels not valued (see `results.skipped`).
    pub parcels_skipped: i64,
    /// Qualified sales the model was fitted on (0 for cost).
    pub sales_used: i64,
    /// Sum of the values, cents.
    pub total_cents: i64,
    /// Fit and ratio statistics (when done).
    pub results: Option<Results>,
    /// Created.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
    /// Finished (done or failed).
    pub finished_at: String,
    /// Adopted into the roll (empty: not adopted).
    pub adopted_at: String,
    /// By whom.
    pub adopted_by: String,
    /// Version.
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    valuation_date: String,
    approach: String,
    settings: String,
    status: String,
    error: String,
    parcels_valued: i64,
    parcels_skipped: i64,
    sales_used: i64,
    total_cents: i64,
    results: String,
    created_at: String,
    created_by: String,
    finished_at: String,
    adopted_at: String,
    adopted_by: String,
    version: i64,
}

impl Row {
    fn run(self) -> Result<ModelRun> {
        let settings = serde_json::from_str(&self.settings)
            .map_err(|e| Error::Internal(format!("run settings: {e}")))?;
        let results = if self.results.is_empty() {
            None
        } else {
            Some(
                serde_json::from_str(&self.results)
                    .map_err(|e| Error::Internal(format!("run results: {e}")))?,
            )
        };
        Ok(ModelRun {
            id: self.id,
            name: self.name,
            valuation_date: self.valuation_date,
            approach: self.approach,
            settings,
            status: self.status,
            error: self.error,
            parcels_valued: self.parcels_valued,
            parcels_skipped: self.parcels_skipped,
            sales_used: self.sales_used,
            total_cents: self.total_cents,
            results,
            created_at: self.created_at,
            created_by: self.created_by,
            finished_at: self.finished_at,
            adopted_at: self.adopted_at,
            adopted_by: self.adopted_by,
            version: self.version,
        })
    }
}

const SELECT: &str = "SELECT id, name, valuation_date, approach, settings, status, error, parcels_valued, parcels_skipped, \
    sales_used, total_cents, results, created_at, created_by, finished_at, adopted_at, adopted_by, version \
    FROM assessment_model_runs WHERE municipality_id = $1";

/// The town's runs, newest first.
pub async fn list(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<ModelRun>> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} ORDER BY created_at DESC, id DESC");
    let rows: Vec<Row> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).fetch_all(c).await)?;
    rows.into_iter().map(Row::run).collect()
}

/// One run.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<ModelRun> {
    require(scope, Permission::View)?;
    let sql = format!("{SELECT} AND id = $2");
    let row: Option<Row> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?;
    row.ok_or(Error::NotFound { what: "model run" })?.run()
}

/// The progress key of a run while its job works.
pub fn progress_key(scope: &ServiceScope, run: &str) -> String {
    format!("model-run:{}:{run}", scope.municipality_id())
}

// ---------------------------------------------------------------- settings

fn predictor(name: &str) -> Option<Predictor> {
    Predictor::ALL.into_iter().find(|p| p.name() == name)
}

fn term_names() -> String {
    Predictor::ALL.map(Predictor::name).join(", ")
}

/// Checks a cost schedule; the error names the field.
pub fn check_schedule(s: &CostSchedule) -> Result<()> {
    let bad = |field: &str, msg: &str| Err(Error::invalid(format!("schedule.{field}"), msg));
    let positive = |x: f64| x.is_finite() && x > 0.0;
    let non_negative = |x: f64| x.is_finite() && x >= 0.0;
    if !positive(s.default_rate) || !s.base_rates.values().all(|r| positive(*r)) {
        return bad("base_rates", "rates per square foot must be positive");
    }
    if !s.quality_multipliers.iter().all(|m| positive(*m)) {
        return bad(
            "quality_multipliers",
            "the six multipliers must be positive",
        );
    }
    if ![s.extra_full_bath, s.half_bath, s.garage_space]
        .into_iter()
        .all(non_negative)
    {
        return bad(
            "extra_full_bath",
            "bath and garage costs must not be negative",
        );
    }
    let ages = &s.depreciation_by_age;
    if ages.is_empty()
        || !ages
            .iter()
            .all(|(a, d)| non_negative(*a) && (0.0..=1.0).contains(d))
        || !ages.windows(2).all(|w| w[0].0 < w[1].0)
    {
        return bad(
            "depreciation_by_age",
            "list (age, fraction) pairs with ascending ages and fractions from 0 to 1",
        );
    }
    if !s.condition_adjustment.iter().all(|c| c.abs() <= 1.0) {
        return bad(
            "condition_adjustment",
            "adjustments are fractions from -1 to 1",
        );
    }
    if !(0.0..=1.0).contains(&s.max_depreciation) {
        return bad("max_depreciation", "a fraction from 0 to 1");
    }
    for land in s
        .land
        .values()
        .chain(s.land_by_zone.values())
        .chain(std::iter::once(&s.default_land))
    {
        if !positive(land.base_lot_sqft) || !non_negative(land.site_value) {
            return bad(
                "land",
                "a base lot needs a positive size and a site value not below zero",
            );
        }
        if !land
            .tiers
            .iter()
            .all(|t| non_negative(t.from_acres) && non_negative(t.rate_per_acre))
            || !land
                .tiers
                .windows(2)
                .all(|w| w[0].from_acres < w[1].from_acres)
        {
            return bad(
                "land",
                "acreage tiers need ascending starts and rates not below zero",
            );
        }
    }
    Ok(())
}

/// A checked request.
struct Request {
    name: String,
    valuation_date: Date,
    approach: String,
    settings: Settings,
    /// Pool the sales of the other towns the caller may view.
    pooled: bool,
}

/// Parses and checks a request; the error names the field.
fn settings_of(input: &RunIn, today: Date) -> Result<Request> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "name",
            "give the run a name of 1 to 100 characters",
        ));
    }
    let vd = parse_date("valuation_date", input.valuation_date.trim())?;
    if vd > today {
        return Err(Error::invalid(
            "valuation_date",
            format!(
                "{} is in the future; values are estimated as of a date that has passed",
                format_date(vd)
            ),
        ));
    }
    let approach = input.approach.trim().to_owned();
    if !APPROACHES.contains(&approach.as_str()) {
        return Err(Error::invalid(
            "approach",
            format!("'{approach}' is not an approach: use regression, cost or comparables"),
        ));
    }
    let classes = input
        .classes
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| vec!["residential".to_owned()]);
    for c in &classes {
        if !CLASSES.contains(&c.as_str()) {
            return Err(Error::invalid(
                "classes",
                format!("'{c}' is not a property class: use {}", CLASSES.join(", ")),
            ));
        }
    }
    let market = approach != "cost";
    let terms: Vec<String> = match &input.terms {
        Some(t) if market => t.iter().map(|s| s.trim().to_owned()).collect(),
        _ if market => Predictor::ALL.map(|p| p.name().to_owned()).to_vec(),
        _ => Vec::new(),
    };
    if market && terms.is_empty() {
        return Err(Error::invalid(
            "terms",
            format!("choose at least one term: {}", term_names()),
        ));
    }
    for t in &terms {
        if predictor(t).is_none() {
            return Err(Error::invalid(
                "terms",
                format!("'{t}' is not a term: use {}", term_names()),
            ));
        }
    }
    let min_sales_per_level = input.min_sales_per_level.unwrap_or(10);
    if !(1..=1000).contains(&min_sales_per_level) {
        return Err(Error::invalid("min_sales_per_level", "use 1 to 1,000"));
    }
    let comparables = if approach == "comparables" {
        let k = input.comparables.unwrap_or(5);
        if !(1..=10).contains(&k) {
            return Err(Error::invalid(
                "comparables",
                "use 1 to 10 comparable sales",
            ));
        }
        k
    } else {
        0
    };
    let schedule = if approach == "cost" {
        let s = input
            .schedule
            .clone()
            .unwrap_or_else(CostSchedule::illustrative);
        check_schedule(&s)?;
        Some(s)
    } else {
        None
    };
    let pooled = match input.sales_from.as_deref().map(str::trim) {
        None | Some("" | "town") => false,
        Some("region") if approach == "regression" => true,
        Some("region") => {
            return Err(Error::invalid(
                "sales_from",
                format!(
                    "a {approach} run uses this town's sales; only a regression pools the region's"
                ),
            ));
        }
        Some(other) => {
            return Err(Error::invalid(
                "sales_from",
                format!("'{other}' is not a choice: use town or region"),
            ));
        }
    };
    Ok(Request {
        name,
        valuation_date: vd,
        approach,
        settings: Settings {
            terms,
            min_sales_per_level: if market { min_sales_per_level } else { 0 },
            comparables,
            schedule,
            classes,
            pooled_towns: Vec::new(),
        },
        pooled,
    })
}

// ---------------------------------------------------------------- the computation

/// A parcel as the models see it, or why it cannot be valued.
fn chars_of(town: &str, p: &Parcel) -> std::result::Result<Chars, &'static str> {
    let small = |v: i64| u8::try_from(v.clamp(0, 255)).unwrap_or(u8::MAX);
    if p.living_sqft <= 0 {
        return Err("no building (living area 0)");
    }
    if p.year_built <= 0 {
        return Err("no year built");
    }
    let c = Chars {
        town: town.to_owned(),
        neighbourhood: p.neighbourhood.clone(),
        zoning: p.zoning.clone(),
        style: p.style.clone(),
        land_sqft: p.land_sqft as f64,
        living_sqft: p.living_sqft as f64,
        year_built: i32::try_from(p.year_built).unwrap_or(0),
        quality: small(p.quality),
        condition: small(p.condition),
        full_baths: small(p.full_baths),
        half_baths: small(p.half_baths),
        bedrooms: small(p.bedrooms),
        garage_spaces: small(p.garage_spaces),
    };
    match valuation::check_chars(&c) {
        Ok(()) => Ok(c),
        Err(("land_sqft", _)) => Err("no land area"),
        Err(("quality", _)) => Err("no quality grade"),
        Err(("condition", _)) => Err("no condition grade"),
        Err(_) => Err("characteristics the model cannot use"),
    }
}

/// One line of a regression explanation: a term's value, coefficient and product.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TermLine {
    /// The term.
    pub name: String,
    /// The parcel's value of it (1 for the intercept and a dummy that applies).
    pub x: f64,
    /// Its coefficient.
    pub coefficient: f64,
    /// x × coefficient: its share of ln(value).
    pub contribution: f64,
}

/// One adjustment line of a comparable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdjustmentLine {
    /// What is adjusted for.
    pub feature: String,
    /// How it reads on the subject.
    pub subject: String,
    /// How it reads on the comparable.
    pub comparable: String,
    /// Dollars, to the cent.
    pub amount: f64,
}

/// A comparable sale as an explanation shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompLine {
    /// Its parcel.
    pub parcel_key: String,
    /// Location.
    pub location: String,
    /// Sale date.
    pub sale_date: String,
    /// Price, dollars.
    pub price: f64,
    /// In the subject's neighbourhood.
    pub same_neighbourhood: bool,
    /// Distance on standardized characteristics.
    pub distance: f64,
    /// The adjustment grid.
    pub adjustments: Vec<AdjustmentLine>,
    /// Net adjustment, dollars.
    pub net_adjustment: f64,
    /// Gross adjustment, dollars.
    pub gross_adjustment: f64,
    /// Adjusted price, dollars.
    pub adjusted_price: f64,
    /// Its weight in the reconciled value.
    pub weight: f64,
}

/// How a parcel's value was reached.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "approach", rename_all = "snake_case")]
pub enum Explanation {
    /// value = exp(Σ x·β) × smearing.
    Regression {
        /// Each term that applies to the parcel.
        terms: Vec<TermLine>,
        /// Σ contributions: ln of the median value.
        log_value: f64,
        /// Duan's smearing factor.
        smearing: f64,
        /// exp(log_value) × smearing, dollars, before rounding to the dollar.
        value: f64,
    },
    /// Land + replacement cost new less depreciation.
    Cost {
        /// Every component.
        breakdown: CostBreakdown,
    },
    /// The comparables' weighted adjusted prices.
    Comparables {
        /// The comparables, most similar first.
        comps: Vec<CompLine>,
        /// The reconciled value, dollars.
        value: f64,
    },
}

/// One valued parcel.
struct Valued {
    parcel: usize,
    value_cents: i64,
    land_cents: i64,
    building_cents: i64,
    explanation: Explanation,
}

/// Everything a run computes.
struct Computed {
    values: Vec<Valued>,
    skipped: BTreeMap<String, i64>,
    model: Option<Model>,
    sales_used: usize,
    results: Results,
}

/// Another town's roll and sales, read through its own scope, for a pooled
/// regional model.
struct PoolTown {
    town: String,
    roll: Vec<Parcel>,
    sold: Vec<Sale>,
}

/// What a run reads: the town's roll and sales, and the other towns' when pooled.
struct RunData {
    town: String,
    roll: Vec<Parcel>,
    sold: Vec<Sale>,
    pool: Vec<PoolTown>,
}

impl RunData {
    /// Reads the town's roll and sales, and those of each town pooled with it
    /// (each through its own scope).
    async fn read(
        scope: &ServiceScope,
        pooled: &[ServiceScope],
        ex: &mut impl Executor,
    ) -> Result<Self> {
        let mut pool = Vec::with_capacity(pooled.len());
        for s in pooled {
            pool.push(PoolTown {
                town: s.town().slug.to_string(),
                roll: parcels::all(s, ex).await?,
                sold: sales::all(s, ex).await?,
            });
        }
        Ok(Self {
            town: scope.town().slug.to_string(),
            roll: parcels::all(scope, ex).await?,
            sold: sales::all(scope, ex).await?,
            pool,
        })
    }
}

/// The inputs: the roll's eligible parcels as the models see them and the
/// qualified sales (in those classes, on or before the valuation date); for
/// a pooled model, also the other towns' qualified sales and the parcels sold.
struct Inputs {
    /// Index into the roll of each eligible parcel of the run's town: the
    /// first `roll_index.len()` entries of `chars`.
    roll_index: Vec<usize>,
    /// The run's town's eligible parcels, then the other towns' sold parcels.
    chars: Vec<Chars>,
    sales: Vec<SaleObs>,
    skipped: BTreeMap<String, i64>,
    sales_by_town: BTreeMap<String, usize>,
}

/// The qualified sales of parcels in `at` (parcel id → index into chars),
/// on or before the valuation date.
fn qualified_sales(
    sold: &[Sale],
    vd: Date,
    mut at: impl FnMut(&str) -> Option<usize>,
) -> Vec<SaleObs> {
    sold.iter()
        .filter(|s| s.qualified && s.price_cents > 0)
        .filter_map(|s| {
            let date = parse_date("sale_date", &s.sale_date).ok()?;
            if date > vd {
                return None;
            }
            Some(SaleObs {
                parcel: at(s.parcel_id.as_str())?,
                price: s.price_cents as f64 / 100.0,
                date,
            })
        })
        .collect()
}

fn inputs(vd: Date, settings: &Settings, data: &RunData) -> Inputs {
    let RunData {
        town,
        roll,
        sold,
        pool,
    } = data;
    let mut roll_index = Vec::new();
    let mut chars = Vec::new();
    let mut skipped: BTreeMap<String, i64> = BTreeMap::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for (i, p) in roll.iter().enumerate() {
        if !settings.classes.contains(&p.property_class) {
            *skipped
                .entry(format!("class {} not in the run", p.property_class))
                .or_default() += 1;
            continue;
        }
        match chars_of(town, p) {
            Ok(c) => {
                at.insert(p.id.as_str(), chars.len());
                roll_index.push(i);
                chars.push(c);
            }
            Err(why) => *skipped.entry(why.to_owned()).or_default() += 1,
        }
    }
    let mut sales = qualified_sales(sold, vd, |id| at.get(id).copied());
    let mut sales_by_town = BTreeMap::from([(town.to_owned(), sales.len())]);
    for other in pool {
        let eligible: HashMap<&str, Chars> = other
            .roll
            .iter()
            .filter(|p| settings.classes.contains(&p.property_class))
            .filter_map(|p| Some((p.id.as_str(), chars_of(&other.town, p).ok()?)))
            .collect();
        let mut placed: HashMap<String, usize> = HashMap::new();
        let theirs = qualified_sales(&other.sold, vd, |id| {
            if let Some(&i) = placed.get(id) {
                return Some(i);
            }
            let c = eligible.get(id)?;
            chars.push(c.clone());
            placed.insert(id.to_owned(), chars.len() - 1);
            Some(chars.len() - 1)
        });
        sales_by_town.insert(other.town.clone(), theirs.len());
        sales.extend(theirs);
    }
    Inputs {
        roll_index,
        chars,
        sales,
        skipped,
        sales_by_town,
    }
}

fn model_error(e: ModelError) -> Error {
    match e {
        ModelError::TooFewSales { .. } | ModelError::InvalidSale { .. } => {
            Error::invalid("sales", e.to_string())
        }
        ModelError::ConstantColumn { .. } | ModelError::Collinear { .. } => {
            Error::invalid("terms", e.to_string())
        }
        ModelError::InvalidParcel { .. } | ModelError::OutsideScope { .. } => {
            Error::invalid("parcels", e.to_string())
        }
    }
}

fn fit_model(town: &str, vd: Date, settings: &Settings, inp: &Inputs) -> Result<Model> {
    let scope = if settings.pooled_towns.is_empty() {
        Scope::Town(town.to_owned())
    } else {
        Scope::Region
    };
    let mut spec = Spec::new(vd, scope);
    spec.predictors = settings.terms.iter().filter_map(|t| predictor(t)).collect();
    spec.min_sales_per_level = usize::try_from(settings.min_sales_per_level).unwrap_or(10);
    valuation::fit(&inp.chars, &inp.sales, &spec).map_err(model_error)
}

fn whole_dollars_cents(value: f64) -> Option<i64> {
    (value.is_finite() && value > 0.0 && value < 1e13).then(|| value.round() as i64 * 100)
}

/// Fits the run (when its approach has a model) and values every eligible
/// parcel, reporting progress; then studies the values against the sales.
fn compute(
    approach: &str,
    vd: Date,
    settings: &Settings,
    data: &RunData,
    progress: &Progress,
) -> Result<Computed> {
    let (town, roll) = (data.town.as_str(), data.roll.as_slice());
    let inp = inputs(vd, settings, data);
    let model = if approach == "cost" {
        None
    } else {
        Some(fit_model(town, vd, settings, &inp)?)
    };
    let mut skipped = inp.skipped.clone();
    let own = inp.roll_index.len();
    let mut values = Vec::with_capacity(own);
    let total = own as u64;
    let k = usize::try_from(settings.comparables).unwrap_or(5);
    // Only the run's own town is valued; a pooled model's other parcels are sales.
    for (j, c) in inp.chars.iter().enumerate().take(own) {
        let p = &roll[inp.roll_index[j]];
        let valued = match (approach, &model, &settings.schedule) {
            ("cost", _, Some(schedule)) => {
                let b = valuation::cost_value(c, schedule, vd);
                match (whole_dollars_cents(b.land), whole_dollars_cents(b.total)) {
                    (Some(land), Some(value)) => Some(Valued {
                        parcel: inp.roll_index[j],
                        value_cents: value,
                        land_cents: land,
                        building_cents: value - land,
                        explanation: Explanation::Cost { breakdown: b },
                    }),
                    _ => None,
                }
            }
            ("regression", Some(m), _) => m.try_predict(c).ok().and_then(|v| {
                let mut terms = Vec::new();
                m.coding
                    .for_each_entry(c, vd, When::ValuationDate, |col, x| {
                        let t = &m.terms[col];
                        terms.push(TermLine {
                            name: t.name.clone(),
                            x,
                            coefficient: t.coefficient,
                            contribution: t.coefficient * x,
                        });
                    });
                let cents = whole_dollars_cents(v)?;
                let (land, building) = split(p.land_cents, cents);
                Some(Valued {
                    parcel: inp.roll_index[j],
                    value_cents: cents,
                    land_cents: land,
                    building_cents: building,
                    explanation: Explanation::Regression {
                        log_value: m.log_value(c, When::ValuationDate),
                        smearing: m.smearing,
                        value: v,
                        terms,
                    },
                })
            }),
            ("comparables", Some(m), _) => {
                let comps = valuation::comparables(c, Some(j), &inp.chars, &inp.sales, m, k);
                valuation::indicated_value(&comps).and_then(|v| {
                    let cents = whole_dollars_cents(v)?;
                    let (land, building) = split(p.land_cents, cents);
                    let lines = comp_lines(&comps, roll, &inp);
                    Some(Valued {
                        parcel: inp.roll_index[j],
                        value_cents: cents,
                        land_cents: land,
                        building_cents: building,
                        explanation: Explanation::Comparables {
                            comps: lines,
                            value: v,
                        },
                    })
                })
            }
            _ => None,
        };
        match valued {
            Some(v) => values.push(v),
            None => {
                *skipped
                    .entry("the model cannot value it".to_owned())
                    .or_default() += 1
            }
        }
        if j % 200 == 0 {
            progress.set(j as u64, j as u64, total.max(1));
        }
    }
    let mut results = study(roll, &inp, &values, model.as_ref(), &skipped);
    results.engine = engine();
    results.inputs_sha256 = inputs_digest(&inp)?;
    Ok(Computed {
        sales_used: if model.is_some() { inp.sales.len() } else { 0 },
        values,
        skipped,
        model,
        results,
    })
}

/// The comparables as an explanation shows them (their parcels are the town's own).
fn comp_lines(comps: &[valuation::Comp], roll: &[Parcel], inp: &Inputs) -> Vec<CompLine> {
    comps
        .iter()
        .filter_map(|cp| {
            let sp = &roll[*inp.roll_index.get(cp.parcel)?];
            Some(CompLine {
                parcel_key: sp.parcel_key.clone(),
                location: sp.location.clone(),
                sale_date: format_date(cp.date),
                price: cp.price,
                same_neighbourhood: cp.same_neighbourhood,
                distance: cp.distance,
                adjustments: cp
                    .adjustments
                    .iter()
                    .map(|a| AdjustmentLine {
                        feature: a.feature.label().to_owned(),
                        subject: a.subject.clone(),
                        comparable: a.comparable.clone(),
                        amount: a.amount,
                    })
                    .collect(),
                net_adjustment: cp.net_adjustment,
                gross_adjustment: cp.gross_adjustment,
                adjusted_price: cp.adjusted_price,
                weight: cp.weight,
            })
        })
        .collect()
}

impl std::fmt::Debug for Comparables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comparables")
            .field("sales", &self.inp.sales.len())
            .finish_non_exhaustive()
    }
}

/// A done run's market model with the town's sales, to find any parcel's
/// comparable sales adjusted by that model: for a regression, the town's most
/// similar qualified sales (before the run's valuation date, as the sales
/// stand now) adjusted with the coefficients the run stored. A notice of
/// assessment shows them beside a model value. Read once, asked per parcel.
pub struct Comparables {
    model: Model,
    data: RunData,
    inp: Inputs,
}

impl Comparables {
    /// The run's model and the town's data; None for a cost run or a run not done.
    pub async fn read(
        scope: &ServiceScope,
        ex: &mut impl Executor,
        run: &ModelRun,
    ) -> Result<Option<Self>> {
        require(scope, Permission::View)?;
        if run.approach == "cost" || run.status != "done" {
            return Ok(None);
        }
        let text: Option<String> = dispatch!(ex, c => sqlx::query_scalar(
            "SELECT model FROM assessment_model_runs WHERE municipality_id = $1 AND id = $2")
            .bind(scope.municipality_id()).bind(&run.id).fetch_optional(c).await)?;
        let model: Model =
            serde_json::from_str(&text.ok_or(Error::NotFound { what: "model run" })?)
                .map_err(|e| Error::Internal(format!("stored model of run {}: {e}", run.id)))?;
        let data = RunData::read(scope, &[], ex).await?;
        let settings = Settings {
            pooled_towns: Vec::new(),
            ..run.settings.clone()
        };
        let vd = parse_date("valuation_date", &run.valuation_date)?;
        let inp = inputs(vd, &settings, &data);
        Ok(Some(Self { model, data, inp }))
    }

    /// The `k` comparable sales of a parcel (by id); empty when the run does
    /// not cover it.
    pub fn of(&self, parcel_id: &str, k: usize) -> Vec<CompLine> {
        let Some(j) = self
            .inp
            .roll_index
            .iter()
            .position(|&i| self.data.roll[i].id == parcel_id)
        else {
            return Vec::new();
        };
        let i = &self.inp;
        let comps =
            valuation::comparables(&i.chars[j], Some(j), &i.chars, &i.sales, &self.model, k);
        comp_lines(&comps, &self.data.roll, i)
    }
}

/// The land and building of a market value: the land of record kept, the
/// building the rest (a value below the land is all land).
fn split(land_of_record: i64, value: i64) -> (i64, i64) {
    if value >= land_of_record {
        (land_of_record, value - land_of_record)
    } else {
        (value, 0)
    }
}

#[derive(Clone)]
struct Pair {
    value: f64,
    price: f64,
    neighbourhood: String,
    class: String,
}

fn stratum(label: String, part: &[Pair], o: &Options) -> StratumOut {
    let (a, p): (Vec<f64>, Vec<f64>) = part.iter().map(|s| (s.value, s.price)).unzip();
    StratumOut {
        label,
        sales: part.len(),
        study: ratio::study(&a, &p, o).ok().map(|s| RatioOut::of(&s)),
    }
}

/// The ratio study of the run's values against the qualified sales it covers.
fn study(
    roll: &[Parcel],
    inp: &Inputs,
    values: &[Valued],
    model: Option<&Model>,
    skipped: &BTreeMap<String, i64>,
) -> Results {
    let by_roll: HashMap<usize, i64> = values.iter().map(|v| (v.parcel, v.value_cents)).collect();
    let pairs: Vec<Pair> = inp
        .sales
        .iter()
        .filter_map(|s| {
            let r = *inp.roll_index.get(s.parcel)?;
            let value = *by_roll.get(&r)? as f64 / 100.0;
            // Brought to the valuation date by the model's trend, to the cent (money).
            let price = model.map_or(s.price, |m| {
                (m.time_adjust(s.price, s.date) * 100.0).round() / 100.0
            });
            Some(Pair {
                value,
                price,
                neighbourhood: roll[r].neighbourhood.clone(),
                class: roll[r].property_class.clone(),
            })
        })
        .collect();
    let kept = crate::opm::trim(&pairs, |p| (p.value, p.price));
    let o = Options {
        assessment_level: 1.0,
        ..Options::default()
    };
    let (a, p): (Vec<f64>, Vec<f64>) = kept.iter().map(|s| (s.value, s.price)).unzip();
    let (ratio, no_study) = match ratio::study(&a, &p, &o) {
        Ok(s) => (Some(RatioOut::of(&s)), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let group = |key: fn(&Pair) -> &str| -> Vec<StratumOut> {
        let mut groups: BTreeMap<&str, Vec<Pair>> = BTreeMap::new();
        for s in &kept {
            groups.entry(key(s)).or_default().push(s.clone());
        }
        groups
            .into_iter()
            .map(|(k, v)| stratum(k.to_owned(), &v, &o))
            .collect()
    };
    Results {
        fit: model.map(FitOut::of),
        sales_studied: kept.len(),
        trimmed: pairs.len() - kept.len(),
        ratio,
        no_study,
        by_neighbourhood: group(|p| p.neighbourhood.as_str()),
        by_class: group(|p| p.class.as_str()),
        skipped: skipped.clone(),
        sales_by_town: model.map(|_| inp.sales_by_town.clone()).unwrap_or_default(),
        engine: String::new(),
        inputs_sha256: String::new(),
    }
}

// ---------------------------------------------------------------- service

/// Creates a run and queues its valuation (edit permission). The settings
/// are checked first, and a market model is fitted once, so that a run that
/// cannot work is refused now with the field named, not failed later.
///
/// `viewable` are the caller's scopes in the assessment service of every town
/// they may view (`access::service_scopes`): a pooled regional regression
/// takes the other towns' sales from them, and only from them.
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    input: &RunIn,
    viewable: &[ServiceScope],
) -> Result<ModelRun> {
    require(scope, Permission::Edit)?;
    let today = now.datetime().date();
    let mut input = input.clone();
    if input.schedule.is_none() && input.approach.trim() == "cost" {
        input.schedule = Some(crate::cost_schedule::get(scope, tx).await?.schedule);
    }
    let input = &input;
    let Request {
        name,
        valuation_date: vd,
        approach,
        mut settings,
        pooled,
    } = settings_of(input, today)?;
    let others: Vec<ServiceScope> = if pooled {
        viewable
            .iter()
            .filter(|s| {
                s.service() == Service::Assessment
                    && s.municipality_id() != scope.municipality_id()
                    && s.can(Permission::View)
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    if pooled && others.is_empty() {
        return Err(Error::invalid(
            "sales_from",
            "no other town has granted you its assessment data; a regional model needs at least one",
        ));
    }
    settings.pooled_towns = others.iter().map(|s| s.town().slug.to_string()).collect();
    if approach != "cost" {
        let data = RunData::read(scope, &others, tx).await?;
        let inp = inputs(vd, &settings, &data);
        fit_model(&data.town, vd, &settings, &inp)?;
    }
    let id = new_id();
    let settings_json =
        serde_json::to_string(&settings).map_err(|e| Error::Internal(format!("settings: {e}")))?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO assessment_model_runs (municipality_id, id, name, valuation_date, approach, settings, status, error, \
         parcels_valued, parcels_skipped, sales_used, total_cents, results, model, created_at, created_by, finished_at, \
         adopted_at, adopted_by, version) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', '', 0, 0, 0, 0, '', '', $7, $8, '', '', '', 1)")
        .bind(scope.municipality_id()).bind(&id).bind(&name).bind(format_date(vd)).bind(&approach)
        .bind(&settings_json).bind(now.to_db()).bind(&scope.actor().label).execute(c).await)?;
    let job = RunJob {
        town: scope.town().slug.to_string(),
        run: id.clone(),
        user: scope.user_id().as_str().to_owned(),
    };
    jobs::enqueue(
        tx,
        now,
        RUN_JOB,
        Some(scope.municipality_id()),
        &serde_json::to_value(&job).map_err(|e| Error::Internal(e.to_string()))?,
        1,
    )
    .await?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "model_run.create",
            "model_run",
            &id,
            None,
            Some(serde_json::json!({"name": name, "valuation_date": format_date(vd), "approach": approach, "settings": json(&settings)?})),
        ),
    )
    .await?;
    get(scope, tx, &id).await
}

#[derive(Debug, Serialize, Deserialize)]
struct RunJob {
    town: String,
    run: String,
    user: String,
}

/// Marks a run running (its job has started; not audited: the run's end is).
async fn mark_running(db: &Db, scope: &ServiceScope, run: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_model_runs SET status = 'running', error = '', version = version + 1 \
         WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(run).execute(c).await)?;
    tx.commit().await
}

/// Marks a run failed with the reason, audited.
async fn fail_run(
    db: &Db,
    scope: &ServiceScope,
    run: &str,
    error: &str,
    now: Timestamp,
) -> Result<()> {
    let mut tx = db.begin().await?;
    execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_model_runs SET status = 'failed', error = $1, finished_at = $2, version = version + 1 \
         WHERE municipality_id = $3 AND id = $4")
        .bind(error).bind(now.to_db()).bind(scope.municipality_id()).bind(run).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "model_run.failed",
            "model_run",
            run,
            None,
            Some(serde_json::json!({"status": "failed", "error": error})),
        ),
    )
    .await?;
    tx.commit().await
}

const VALUE_COLS: usize = 6;

/// The scopes of the towns a pooled run takes sales from, authorized for the
/// run's user now: a town that has withdrawn its grant since the run was
/// asked for fails the run, naming the town.
async fn pooled_scopes(
    ctx: &JobContext,
    principal: &Principal,
    today: Date,
    towns: &[String],
) -> Result<Vec<ServiceScope>> {
    let mut out = Vec::with_capacity(towns.len());
    for town in towns {
        let s = access::authorize_service(
            &ctx.db,
            principal,
            today,
            town,
            Service::Assessment,
            Permission::View,
        )
        .await
        .map_err(|_| {
            Error::invalid(
                "sales_from",
                format!(
                    "the run's user may no longer view the assessment data of {town}, whose sales the regional model pools"
                ),
            )
        })?;
        out.push(s);
    }
    Ok(out)
}

/// Values the run's parcels (the job's work) and stores the values and results.
async fn run(
    ctx: &JobContext,
    scope: &ServiceScope,
    principal: &Principal,
    id: &str,
) -> Result<i64> {
    let run = {
        let mut c = ctx.db.read().await?;
        get(scope, &mut c, id).await?
    };
    if !matches!(run.status.as_str(), "queued" | "running") {
        return Ok(run.parcels_valued);
    }
    mark_running(&ctx.db, scope, id).await?;
    let others = pooled_scopes(
        ctx,
        principal,
        Timestamp::new(ctx.clock.now()).datetime().date(),
        &run.settings.pooled_towns,
    )
    .await?;
    let data = {
        let mut c = ctx.db.read().await?;
        RunData::read(scope, &others, &mut c).await?
    };
    let vd = parse_date("valuation_date", &run.valuation_date)?;
    let progress = ctx.progress.track(&progress_key(scope, id));
    let approach = run.approach.clone();
    let settings = run.settings.clone();
    let p = progress.clone();
    let (computed, data) = tokio::task::spawn_blocking(move || {
        let c = compute(&approach, vd, &settings, &data, &p);
        (c, data)
    })
    .await
    .map_err(|e| Error::Internal(format!("model run: {e}")))?;
    let computed = computed?;
    let now = Timestamp::new(ctx.clock.now());
    let mut tx = ctx.db.begin().await?;
    execute!(&mut tx, c => sqlx::query("DELETE FROM assessment_model_run_values WHERE municipality_id = $1 AND run_id = $2")
        .bind(scope.municipality_id()).bind(id).execute(c).await)?;
    let rows: Vec<(&Parcel, &Valued, String)> = computed
        .values
        .iter()
        .map(|v| {
            serde_json::to_string(&v.explanation)
                .map(|e| (&data.roll[v.parcel], v, e))
                .map_err(|e| Error::Internal(format!("explanation: {e}")))
        })
        .collect::<Result<_>>()?;
    for chunk in rows.chunks(db::rows_per_statement(VALUE_COLS)) {
        let sql = format!(
            "INSERT INTO assessment_model_run_values (parcel_id, parcel_version, value_cents, land_cents, building_cents, \
             explanation, municipality_id, run_id) VALUES {}",
            db::value_rows(chunk.len(), VALUE_COLS, 2)
        );
        execute!(&mut tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (p, v, e) in chunk {
                q = q.bind(&p.id).bind(p.version).bind(v.value_cents).bind(v.land_cents).bind(v.building_cents).bind(e);
            }
            q.bind(scope.municipality_id()).bind(id).execute(c).await
        })?;
    }
    let valued = computed.values.len() as i64;
    let skipped: i64 = computed.skipped.values().sum();
    let total: i64 = computed.values.iter().map(|v| v.value_cents).sum();
    let results = serde_json::to_string(&computed.results)
        .map_err(|e| Error::Internal(format!("results: {e}")))?;
    // The fitted model is kept as the record of the run (serde; NaN statistics become null).
    let model = match &computed.model {
        Some(m) => serde_json::to_string(m).map_err(|e| Error::Internal(format!("model: {e}")))?,
        None => String::new(),
    };
    execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_model_runs SET status = 'done', error = '', parcels_valued = $1, parcels_skipped = $2, \
         sales_used = $3, total_cents = $4, results = $5, model = $6, finished_at = $7, version = version + 1 \
         WHERE municipality_id = $8 AND id = $9")
        .bind(valued).bind(skipped).bind(computed.sales_used as i64).bind(total).bind(&results).bind(&model)
        .bind(now.to_db()).bind(scope.municipality_id()).bind(id).execute(c).await)?;
    audit::record(
        &mut tx,
        now,
        scope.actor(),
        change(
            scope,
            "model_run.done",
            "model_run",
            id,
            Some(serde_json::json!({"status": run.status})),
            Some(serde_json::json!({"status": "done", "parcels_valued": valued, "parcels_skipped": skipped, "total_cents": total})),
        ),
    )
    .await?;
    tx.commit().await?;
    progress.finish();
    ctx.progress.forget(&progress_key(scope, id));
    Ok(valued)
}

/// Marks failed a run whose user can no longer run it (see `job_user`).
async fn abandon(ctx: &JobContext, m: &MunicipalityId, run: &str, reason: &str) -> Result<()> {
    let now = Timestamp::new(ctx.clock.now());
    let mut tx = ctx.db.begin().await?;
    let changed = execute!(&mut tx, c => sqlx::query(
        "UPDATE assessment_model_runs SET status = 'failed', error = $1, finished_at = $2, version = version + 1 \
         WHERE municipality_id = $3 AND id = $4 AND status IN ('queued', 'running')")
        .bind(reason).bind(now.to_db()).bind(m).bind(run).execute(c).await)?;
    if changed > 0 {
        job_user::audit_abandoned(
            &mut tx,
            now,
            RUN_JOB,
            m,
            ("model_run.failed", "model_run", run.to_owned()),
            reason,
        )
        .await?;
    }
    tx.commit().await
}

/// Registers the run's valuation with the job queue.
pub fn register_jobs(registry: &mut Registry) {
    registry.register(
        RUN_JOB,
        |ctx: JobContext, payload: serde_json::Value| async move {
            let job: RunJob = serde_json::from_value(payload)
                .map_err(|e| Error::Internal(format!("bad model-run job: {e}")))?;
            let (principal, scope) =
                match job_user::acting(&ctx, &job.user, &job.town, Permission::Edit).await? {
                    Acting::As(acting) => *acting,
                    Acting::Refused {
                        municipality_id,
                        reason,
                    } => {
                        abandon(&ctx, &municipality_id, &job.run, &reason).await?;
                        return Err(Error::Forbidden(reason));
                    }
                };
            match run(&ctx, &scope, &principal, &job.run).await {
                Ok(count) => Ok(serde_json::json!({"parcels_valued": count})),
                Err(e) => {
                    ctx.progress.forget(&progress_key(&scope, &job.run));
                    let now = Timestamp::new(ctx.clock.now());
                    fail_run(&ctx.db, &scope, &job.run, &e.to_string(), now).await?;
                    Err(e)
                }
            }
        },
    );
}

// ---------------------------------------------------------------- values, compare

/// One parcel's value in a run.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RunValue {
    /// Parcel id.
    pub parcel_id: String,
    /// Map-block-lot.
    pub parcel_key: String,
    /// Location.
    pub location: String,
    /// Neighbourhood.
    pub neighbourhood: String,
    /// The run's value, cents.
    pub value_cents: i64,
    /// Land on adoption, cents.
    pub land_cents: i64,
    /// Building on adoption, cents.
    pub building_cents: i64,
    /// The value of record now (land + building), cents.
    pub record_cents: i64,
}

/// A run's values, by parcel id, `limit` from `offset`; and how many there are.
pub async fn values(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    id: &str,
    limit: u32,
    offset: u32,
) -> Result<(Vec<RunValue>, i64)> {
    let run = get(scope, ex, id).await?;
    let m = scope.municipality_id();
    let total: i64 = dispatch!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM assessment_model_run_values WHERE municipality_id = $1 AND run_id = $2")
        .bind(m).bind(&run.id).fetch_one(c).await)?;
    let sql = format!(
        "SELECT v.parcel_id, p.parcel_key, p.location, p.neighbourhood, v.value_cents, v.land_cents, v.building_cents, \
         p.land_cents + p.building_cents AS record_cents \
         FROM assessment_model_run_values v JOIN assessment_parcels p ON p.municipality_id = v.municipality_id AND p.id = v.parcel_id \
         WHERE v.municipality_id = $1 AND v.run_id = $2 ORDER BY p.parcel_key LIMIT {} OFFSET {}",
        limit, offset
    );
    let rows: Vec<RunValue> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(m).bind(&run.id).fetch_all(c).await)?;
    Ok((rows, total))
}

/// A row of a comparison: one stratum, each run's study of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CompareRow {
    /// Neighbourhood or class.
    pub label: String,
    /// Each run's study of the stratum, in the order of `runs` (None: no sales there, or under 5).
    pub cells: Vec<Option<StratumOut>>,
}

/// Runs side by side.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    /// The runs, in the order asked.
    pub runs: Vec<ModelRun>,
    /// By neighbourhood.
    pub by_neighbourhood: Vec<CompareRow>,
    /// By property class.
    pub by_class: Vec<CompareRow>,
}

fn rows(runs: &[ModelRun], pick: fn(&Results) -> &Vec<StratumOut>) -> Vec<CompareRow> {
    let mut labels: Vec<String> = runs
        .iter()
        .filter_map(|r| r.results.as_ref())
        .flat_map(|r| pick(r).iter().map(|s| s.label.clone()))
        .collect();
    labels.sort();
    labels.dedup();
    labels
        .into_iter()
        .map(|label| CompareRow {
            cells: runs
                .iter()
                .map(|r| {
                    r.results
                        .as_ref()
                        .and_then(|res| pick(res).iter().find(|s| s.label == label).cloned())
                })
                .collect(),
            label,
        })
        .collect()
}

/// Two to six of the town's finished runs side by side.
pub async fn compare(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    ids: &[String],
) -> Result<Comparison> {
    require(scope, Permission::View)?;
    let mut wanted: Vec<&String> = Vec::new();
    for id in ids.iter().filter(|i| !i.trim().is_empty()) {
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    if !(2..=MAX_COMPARED).contains(&wanted.len()) {
        return Err(Error::invalid(
            "runs",
            format!("choose 2 to {MAX_COMPARED} different runs to compare"),
        ));
    }
    let mut runs = Vec::new();
    for id in wanted {
        let r = get(scope, ex, id).await?;
        if r.status != "done" {
            return Err(Error::invalid(
                "runs",
                format!(
                    "the run {} is {}; only finished runs can be compared",
                    r.name, r.status
                ),
            ));
        }
        runs.push(r);
    }
    Ok(Comparison {
        by_neighbourhood: rows(&runs, |r| &r.by_neighbourhood),
        by_class: rows(&runs, |r| &r.by_class),
        runs,
    })
}

// ---------------------------------------------------------------- adopt

/// What adopting a run changed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Adoption {
    /// The run, now adopted.
    pub run: ModelRun,
    /// Parcels whose value changed.
    pub parcels_changed: i64,
    /// Their appraised value before, cents.
    pub before_cents: i64,
    /// And after, cents.
    pub after_cents: i64,
}

/// Adopts a finished run into the roll (approve permission): every parcel it
/// valued takes the run's land and building, through `parcels::revalue` (one
/// audit record). Refused when the grand list of the valuation year is signed,
/// or when a parcel has changed since the run valued it.
pub async fn adopt(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
) -> Result<Adoption> {
    require(scope, Permission::Approve)?;
    let run = get(scope, tx, id).await?;
    if run.status != "done" {
        return Err(Error::conflict(
            "status",
            format!(
                "the run is {}; only a finished run can be adopted",
                run.status
            ),
        ));
    }
    if !run.adopted_at.is_empty() {
        return Err(Error::conflict("status", "this run is adopted already"));
    }
    let vd = parse_date("valuation_date", &run.valuation_date)?;
    let list_year = i64::from(vd.year());
    let signed: Option<String> = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT status FROM assessment_grand_lists WHERE municipality_id = $1 AND list_year = $2")
        .bind(scope.municipality_id()).bind(list_year).fetch_optional(c).await)?;
    if signed.as_deref() == Some("signed") {
        return Err(Error::conflict(
            "valuation_date",
            format!(
                "the {list_year} grand list is signed; its values change only by certificates of correction"
            ),
        ));
    }
    let rows: Vec<(String, String, i64, i64, i64)> = dispatch!(tx, c => sqlx::query_as(
        "SELECT v.parcel_id, p.parcel_key, v.parcel_version, v.land_cents, v.building_cents \
         FROM assessment_model_run_values v JOIN assessment_parcels p ON p.municipality_id = v.municipality_id AND p.id = v.parcel_id \
         WHERE v.municipality_id = $1 AND v.run_id = $2 ORDER BY p.parcel_key")
        .bind(scope.municipality_id()).bind(id).fetch_all(c).await)?;
    let list: Vec<Revalue> = rows
        .into_iter()
        .map(
            |(parcel_id, parcel_key, version, land_cents, building_cents)| Revalue {
                parcel_id,
                parcel_key,
                version,
                land_cents,
                building_cents,
            },
        )
        .collect();
    let summary = parcels::revalue(scope, tx, now, &run.id, &run.name, &list).await?;
    execute!(tx, c => sqlx::query(
        "UPDATE assessment_model_runs SET adopted_at = $1, adopted_by = $2, version = version + 1 WHERE municipality_id = $3 AND id = $4")
        .bind(now.to_db()).bind(&scope.actor().label).bind(scope.municipality_id()).bind(id).execute(c).await)?;
    Ok(Adoption {
        run: get(scope, tx, id).await?,
        parcels_changed: summary.parcels,
        before_cents: summary.before_cents,
        after_cents: summary.after_cents,
    })
}

// ---------------------------------------------------------------- explanation

/// How a parcel's value was reached in one run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParcelExplanation {
    /// The run.
    pub run_id: String,
    /// Its name.
    pub run_name: String,
    /// Its approach.
    pub approach: String,
    /// Its valuation date.
    pub valuation_date: String,
    /// When it was adopted (empty: not adopted).
    pub adopted_at: String,
    /// Map-block-lot.
    pub parcel_key: String,
    /// The run's value, cents.
    pub value_cents: i64,
    /// Land, cents.
    pub land_cents: i64,
    /// Building, cents.
    pub building_cents: i64,
    /// How: terms × coefficients, the cost breakdown, or the comparables.
    #[schema(value_type = Object)]
    pub explanation: Explanation,
}

/// The explanation of a parcel's value in `run`, or (None) in the latest
/// adopted run that valued it.
pub async fn explain(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    parcel: &str,
    run: Option<&str>,
) -> Result<ParcelExplanation> {
    let p = parcels::get(scope, ex, parcel).await?;
    let m = scope.municipality_id();
    let run_id: Option<String> = match run.filter(|r| !r.trim().is_empty()) {
        Some(r) => Some(get(scope, ex, r).await?.id),
        None => dispatch!(ex, c => sqlx::query_scalar(
            "SELECT r.id FROM assessment_model_runs r JOIN assessment_model_run_values v \
             ON v.municipality_id = r.municipality_id AND v.run_id = r.id \
             WHERE r.municipality_id = $1 AND v.parcel_id = $2 AND r.adopted_at <> '' \
             ORDER BY r.adopted_at DESC, r.id DESC LIMIT 1")
            .bind(m).bind(&p.id).fetch_optional(c).await)?,
    };
    let run = get(
        scope,
        ex,
        &run_id.ok_or(Error::NotFound {
            what: "adopted model run valuing this parcel",
        })?,
    )
    .await?;
    let row: Option<(i64, i64, i64, String)> = dispatch!(ex, c => sqlx::query_as(
        "SELECT value_cents, land_cents, building_cents, explanation FROM assessment_model_run_values \
         WHERE municipality_id = $1 AND run_id = $2 AND parcel_id = $3")
        .bind(m).bind(&run.id).bind(&p.id).fetch_optional(c).await)?;
    let (value_cents, land_cents, building_cents, text) = row.ok_or(Error::NotFound {
        what: "value of this parcel in the run",
    })?;
    let explanation =
        serde_json::from_str(&text).map_err(|e| Error::Internal(format!("explanation: {e}")))?;
    Ok(ParcelExplanation {
        run_id: run.id,
        run_name: run.name,
        approach: run.approach,
        valuation_date: run.valuation_date,
        adopted_at: run.adopted_at,
        parcel_key: p.parcel_key,
        value_cents,
        land_cents,
        building_cents,
        explanation,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::date;

    fn input(approach: &str) -> RunIn {
        RunIn {
            name: "2025 revaluation".into(),
            valuation_date: "2025-10-01".into(),
            approach: approach.into(),
            ..RunIn::default()
        }
    }

    fn field(r: Result<Request>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => format!("unexpected {:?}", other.map(|o| o.name)),
        }
    }

    #[test]
    fn settings_are_filled_in_and_bad_ones_name_the_field() {
        let today = date!(2026 - 11 - 26);
        let r = settings_of(&input("regression"), today).unwrap();
        let (vd, s) = (r.valuation_date, r.settings);
        assert_eq!(vd, date!(2025 - 10 - 01));
        assert!(!r.pooled && s.pooled_towns.is_empty());
        assert_eq!(s.terms.len(), 10);
        assert_eq!((s.min_sales_per_level, s.comparables), (10, 0));
        assert_eq!(s.classes, vec!["residential"]);
        let s = settings_of(&input("comparables"), today).unwrap().settings;
        assert_eq!(s.comparables, 5);
        let s = settings_of(&input("cost"), today).unwrap().settings;
        assert!(s.terms.is_empty() && s.schedule.is_some());
        let mut pooled = input("regression");
        pooled.sales_from = Some("region".into());
        assert!(settings_of(&pooled, today).unwrap().pooled);
        let mut bad = input("cost");
        bad.sales_from = Some("region".into());
        assert_eq!(field(settings_of(&bad, today)), "sales_from");
        let mut bad = input("regression");
        bad.sales_from = Some("state".into());
        assert_eq!(field(settings_of(&bad, today)), "sales_from");

        let mut bad = input("regression");
        bad.terms = Some(vec!["ln_living_sqft".into(), "pool".into()]);
        assert_eq!(field(settings_of(&bad, today)), "terms");
        let mut bad = input("regression");
        bad.valuation_date = "2026-12-01".into();
        assert_eq!(field(settings_of(&bad, today)), "valuation_date");
        assert_eq!(field(settings_of(&input("hedonic"), today)), "approach");
        let mut bad = input("comparables");
        bad.comparables = Some(0);
        assert_eq!(field(settings_of(&bad, today)), "comparables");
        let mut bad = input("regression");
        bad.name = " ".into();
        assert_eq!(field(settings_of(&bad, today)), "name");
        let mut bad = input("regression");
        bad.classes = Some(vec!["castle".into()]);
        assert_eq!(field(settings_of(&bad, today)), "classes");
        let mut bad = input("cost");
        let mut s = CostSchedule::illustrative();
        s.max_depreciation = 1.5;
        bad.schedule = Some(s);
        assert_eq!(field(settings_of(&bad, today)), "schedule.max_depreciation");
    }

    #[test]
    fn a_market_value_keeps_the_land_of_record() {
        // $300,000 on $80,000 of land: $220,000 of building.
        assert_eq!(split(8_000_000, 30_000_000), (8_000_000, 22_000_000));
        // $60,000 on $80,000 of land: all land.
        assert_eq!(split(8_000_000, 6_000_000), (6_000_000, 0));
    }
}
