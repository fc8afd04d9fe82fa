//! Valuation model runs end to end on both databases: a regression with an
//! exactly known answer, a cost run checked against a hand-computed
//! breakdown, the comparison, the adoption into the roll (one audit record,
//! versions bumped), the explanation, and the inputs that are refused.

use axum::http::{Method, StatusCode, header};
use munishare_platform::dispatch;
use serde_json::{Value, json};

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(model_runs_value_compare_adopt_and_explain);
both_dbs!(pooled_regional_model_run);
both_dbs!(stored_cost_schedule);

const BASE: &str = "/api/v1/towns/hartford/assessment";

/// Parcels 1-1-1 … 1-1-8: the same Colonial (N1, 10,000 sq ft lot, built
/// 1990, Average, 2 full baths, 3 bedrooms, a garage space), living areas
/// 1,000, 1,200, … 2,400 sq ft, each on the roll at $50,000 land + $100,000
/// building. 1-1-9 is the same house at 1,800 sq ft with no sale; 1-1-10 is
/// commercial (not in a residential run) and 1-1-11 a house lot without a
/// building.
fn roll() -> String {
    let mut s = String::from(
        "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner,style,year_built,living_sqft,quality,condition,full_baths,half_baths,bedrooms,garage_spaces\n",
    );
    for i in 1..=9u32 {
        let sqft = if i == 9 { 1800 } else { 800 + 200 * i };
        s.push_str(&format!(
            "1-1-{i},{i} Oak St,N1,residential,10000,50000,100000,Owner {i},Colonial,1990,{sqft},Average,Average,2,0,3,1\n"
        ));
    }
    s.push_str("1-1-10,10 Oak St,C1,commercial,40000,300000,900000,Oak LLC,,,,,,,,,\n");
    s.push_str("1-1-11,11 Oak St,N1,residential,10000,50000,0,Owner 11,,,,,,,,,\n");
    s
}

/// Each sale at exactly $150 a square foot of living area, dates in no
/// order of size, all before the valuation date of October 1, 2025.
const SALES: &str = "parcel_id,sale_date,price,grantor,grantee,deed_type
1-1-1,2025-03-20,150000,A Seller,B Buyer,Warranty
1-1-2,2024-11-15,180000,C Seller,D Buyer,Warranty
1-1-3,2025-06-30,210000,E Seller,F Buyer,Warranty
1-1-4,2025-01-10,240000,G Seller,H Buyer,Warranty
1-1-5,2025-05-30,270000,I Seller,J Buyer,Warranty
1-1-6,2024-12-20,300000,K Seller,L Buyer,Warranty
1-1-7,2025-04-25,330000,M Seller,N Buyer,Warranty
1-1-8,2025-02-14,360000,O Seller,P Buyer,Warranty
";

/// $100 a square foot for a Colonial, Average quality ×1.00, $10,000 a full
/// bath beyond the first, $20,000 a garage space, depreciation 0 % new to
/// 50 % at 50 years (linear), none for Average condition; a 10,000 sq ft
/// site at $50,000 and $40,000 an acre beyond it.
fn schedule() -> Value {
    json!({
        "base_rates": {"Colonial": 100.0}, "default_rate": 90.0,
        "quality_multipliers": [0.7, 0.85, 1.0, 1.2, 1.4, 1.7],
        "extra_full_bath": 10000.0, "half_bath": 5000.0, "garage_space": 20000.0,
        "depreciation_by_age": [[0.0, 0.0], [50.0, 0.5]],
        "condition_adjustment": [0.25, 0.1, 0.0, -0.05, -0.1, -0.15],
        "max_depreciation": 0.8, "land": {},
        "default_land": {"base_lot_sqft": 10000.0, "site_value": 50000.0, "tiers": [{"from_acres": 0.0, "rate_per_acre": 40000.0}]}
    })
}

async fn call(
    app: &TestApp,
    m: Method,
    path: &str,
    who: &Auth,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = app.api(m, &format!("{BASE}{path}"), who, body).await;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// A refused run: 422 naming `field`.
async fn refused(app: &TestApp, who: &Auth, body: Value, field: &str) {
    let (s, v) = call(app, Method::POST, "/model-runs", who, Some(body.clone())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
    assert_eq!(v["field"], field, "{body} → {v}");
}

fn close(got: &Value, want: f64, tol: f64) {
    let g = got.as_f64().unwrap_or(f64::NAN);
    assert!((g - want).abs() <= tol, "{g} is not {want} ± {tol}");
}

async fn model_runs_value_compare_adopt_and_explain(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    for (path, body) in [
        ("/parcel-imports?file_name=roll.csv", roll()),
        (
            "/sale-imports?file_name=sales.csv&layout=csv",
            SALES.to_owned(),
        ),
    ] {
        let r = app
            .raw(
                Method::POST,
                &format!("{BASE}{path}"),
                &assessor,
                Some("text/csv"),
                body.into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }

    // Refused at once, each naming its field.
    let run = |terms: Value, date: &str| json!({"name": "Regression 2025", "valuation_date": date, "approach": "regression", "terms": terms});
    // All ten terms, the intercept and the trend are 12 terms for 8 sales.
    refused(
        &app,
        &assessor,
        json!({"name": "All terms", "valuation_date": "2025-10-01", "approach": "regression"}),
        "sales",
    )
    .await;
    // Every sale has the same 10,000 sq ft lot: ln_land_sqft cannot be estimated.
    refused(
        &app,
        &assessor,
        run(json!(["ln_living_sqft", "ln_land_sqft"]), "2025-10-01"),
        "terms",
    )
    .await;
    refused(
        &app,
        &assessor,
        run(json!(["ln_living_sqft", "pool"]), "2025-10-01"),
        "terms",
    )
    .await;
    // The test clock says November 26, 2026.
    refused(
        &app,
        &assessor,
        run(json!(["ln_living_sqft"]), "2026-12-01"),
        "valuation_date",
    )
    .await;
    // Valued as of December 1, 2024, one sale (November 15, 2024) is before it: too few for 3 terms.
    refused(
        &app,
        &assessor,
        run(json!(["ln_living_sqft"]), "2024-12-01"),
        "sales",
    )
    .await;
    refused(
        &app,
        &assessor,
        json!({"name": "X", "valuation_date": "2025-10-01", "approach": "hedonic"}),
        "approach",
    )
    .await;
    refused(&app, &assessor, json!({"name": "X", "valuation_date": "2025-10-01", "approach": "comparables", "comparables": 11, "terms": ["ln_living_sqft"]}), "comparables").await;
    let mut bad = schedule();
    bad["depreciation_by_age"] = json!([[10.0, 0.1], [5.0, 0.2]]);
    refused(
        &app,
        &assessor,
        json!({"name": "X", "valuation_date": "2025-10-01", "approach": "cost", "schedule": bad}),
        "schedule.depreciation_by_age",
    )
    .await;

    // The regression run: queued, then valued by the job worker.
    let (s, reg) = call(
        &app,
        Method::POST,
        "/model-runs",
        &assessor,
        Some(run(json!(["ln_living_sqft"]), "2025-10-01")),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{reg}");
    assert_eq!(reg["status"], "queued");
    let reg_id = reg["id"].as_str().unwrap().to_owned();
    let (_, v) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{reg_id}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(v["status"], "queued");
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let (_, reg) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{reg_id}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(reg["status"], "done", "{reg}");
    // Eight sales at $150/sq ft: ln(price) = ln 150 + 1 × ln(sqft) + 0 × months exactly,
    // so the intercept is ln 150 = 5.010635294…, the elasticity 1, the trend 0, R² 1.
    let fit = &reg["results"]["fit"];
    assert_eq!(
        (fit["n"].as_i64(), fit["k"].as_i64()),
        (Some(8), Some(3)),
        "{fit}"
    );
    let term = |name: &str| {
        fit["terms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap()
    };
    close(&term("intercept")["coefficient"], 150f64.ln(), 1e-9);
    close(&term("ln_living_sqft")["coefficient"], 1.0, 1e-9);
    close(&term("months")["coefficient"], 0.0, 1e-9);
    close(&fit["r_squared"], 1.0, 1e-9);
    close(&fit["smearing"], 1.0, 1e-9);
    // Nine houses valued at $150/sq ft: 150 × (1,000 + 1,200 + … + 2,400 + 1,800) = 150 × 15,400 = $2,310,000;
    // the commercial parcel and the empty lot are not valued.
    assert_eq!(reg["parcels_valued"], 9);
    assert_eq!(reg["parcels_skipped"], 2);
    assert_eq!(reg["sales_used"], 8);
    assert_eq!(reg["total_cents"], 231_000_000);
    assert_eq!(
        reg["results"]["skipped"]["class commercial not in the run"],
        1
    );
    assert_eq!(reg["results"]["skipped"]["no building (living area 0)"], 1);
    // Every value equals its (time-adjusted) price: median ratio 1, COD 0, PRD 1.
    let ratio = &reg["results"]["ratio"];
    assert_eq!(ratio["n"], 8);
    close(&ratio["median_ratio"], 1.0, 1e-9);
    close(&ratio["cod"], 0.0, 1e-9);
    close(&ratio["prd"], 1.0, 1e-9);
    let (s, values) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{reg_id}/values?limit=20"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{values}");
    assert_eq!(values["total"], 9);
    let nine = values["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["parcel_key"] == "1-1-9")
        .cloned()
        .unwrap();
    // 1,800 × $150 = $270,000: the land of record ($50,000) kept, the building the rest.
    assert_eq!(
        (
            nine["value_cents"].as_i64(),
            nine["land_cents"].as_i64(),
            nine["building_cents"].as_i64(),
            nine["record_cents"].as_i64()
        ),
        (
            Some(27_000_000),
            Some(5_000_000),
            Some(22_000_000),
            Some(15_000_000)
        )
    );

    // The cost run with the schedule above. 1-1-9: 1,800 × $100 × 1.00 = $180,000, one extra
    // bath $10,000, a garage space $20,000: RCN $210,000; 35 years old (2025 − 1990): 35 % →
    // $73,500 off, building $136,500; a base lot: land $50,000; total $186,500.
    let (s, cost) = call(&app, Method::POST, "/model-runs", &assessor, Some(json!({
        "name": "Cost 2025", "valuation_date": "2025-10-01", "approach": "cost", "schedule": schedule()
    }))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{cost}");
    let cost_id = cost["id"].as_str().unwrap().to_owned();
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let (_, cost) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{cost_id}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(cost["status"], "done", "{cost}");
    assert!(cost["results"]["fit"].is_null());
    // A house of s sq ft: 0.65 × (100 s + 30,000) + 50,000 = 65 s + 69,500; over the nine:
    // 65 × 15,400 + 9 × 69,500 = $1,626,500.
    assert_eq!(cost["total_cents"], 162_650_000);
    // Value/price (65 s + 69,500)/(150 s) falls with size; the median of the eight is
    // (186,500/270,000 + 173,500/240,000)/2 = 0.70683.
    close(&cost["results"]["ratio"]["median_ratio"], 0.7068, 1e-9);
    let (s, x) = call(
        &app,
        Method::GET,
        &format!("/parcels/1-1-9/explanation?run={cost_id}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{x}");
    let b = &x["explanation"]["breakdown"];
    assert_eq!(x["explanation"]["approach"], "cost");
    for (k, want) in [
        ("rcn_main", 180_000.0),
        ("rcn_baths", 10_000.0),
        ("rcn_garage", 20_000.0),
        ("rcn", 210_000.0),
        ("age", 35.0),
        ("depreciation", 73_500.0),
        ("building", 136_500.0),
        ("land", 50_000.0),
        ("total", 186_500.0),
    ] {
        close(&b[k], want, 1e-9);
    }
    close(&b["depreciation_pct"], 0.35, 1e-12);
    assert_eq!(
        (
            x["value_cents"].as_i64(),
            x["land_cents"].as_i64(),
            x["building_cents"].as_i64()
        ),
        (Some(18_650_000), Some(5_000_000), Some(13_650_000))
    );

    // The comparables run: three sales per parcel, adjusted with the market model. The model
    // is exactly 150 × sqft with no trend, so each comparable of s sq ft, sold for 150 s,
    // adjusts by the factor 1,800 / s to $270,000.00 for 1-1-9, whatever its weight; and each
    // sold house, valued from the others' sales (never its own), gets 150 × its area again.
    let (s, comps) = call(
        &app,
        Method::POST,
        "/model-runs",
        &assessor,
        Some(json!({
            "name": "Comparables 2025", "valuation_date": "2025-10-01", "approach": "comparables",
            "terms": ["ln_living_sqft"], "comparables": 3
        })),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{comps}");
    let comps_id = comps["id"].as_str().unwrap().to_owned();
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let (_, comps) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{comps_id}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(comps["status"], "done", "{comps}");
    assert_eq!(comps["total_cents"], 231_000_000);
    close(&comps["results"]["ratio"]["median_ratio"], 1.0, 1e-9);
    let (s, x) = call(
        &app,
        Method::GET,
        &format!("/parcels/1-1-9/explanation?run={comps_id}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{x}");
    let list = x["explanation"]["comps"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{x}");
    let mut weights = 0.0;
    for c in list {
        close(&c["adjusted_price"], 270_000.0, 0.005);
        // Price + the lines = the adjusted price, to the cent.
        let lines: f64 = c["adjustments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["amount"].as_f64().unwrap())
            .sum();
        close(
            &(c["price"].as_f64().unwrap() + lines).into(),
            270_000.0,
            0.005,
        );
        weights += c["weight"].as_f64().unwrap();
    }
    close(&weights.into(), 1.0, 1e-9);
    close(&x["explanation"]["value"], 270_000.0, 1e-9);
    assert_eq!(x["value_cents"], 27_000_000);

    // Compared side by side, N1 a row with each run's study.
    let (s, cmp) = call(
        &app,
        Method::GET,
        &format!("/model-runs/compare?runs={reg_id},{cost_id}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{cmp}");
    assert_eq!(cmp["runs"][0]["id"], reg_id.as_str());
    let n1 = &cmp["by_neighbourhood"][0];
    assert_eq!(n1["label"], "N1");
    close(&n1["cells"][0]["study"]["median_ratio"], 1.0, 1e-9);
    close(&n1["cells"][1]["study"]["median_ratio"], 0.7068, 1e-9);
    assert_eq!(cmp["by_class"][0]["label"], "residential");
    let (s, v) = call(
        &app,
        Method::GET,
        &format!("/model-runs/compare?runs={reg_id}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("runs")),
        "{v}"
    );

    // No explanation before a run is adopted.
    let (s, _) = call(
        &app,
        Method::GET,
        "/parcels/1-1-9/explanation",
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Adoption needs approve: the council's field assessor (view, edit) cannot.
    let field = app.demo_session("field.assessor").await;
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("/model-runs/{reg_id}/adopt"),
        &field,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // The assessor adopts the regression. 1-1-1 (1,000 sq ft) is valued at $150,000 = $50,000 +
    // $100,000, as it stands: unchanged. The other eight go from 8 × $150,000 = $1,200,000
    // to $2,310,000 − $150,000 = $2,160,000.
    let (s, a) = call(
        &app,
        Method::POST,
        &format!("/model-runs/{reg_id}/adopt"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(
        (
            a["parcels_changed"].as_i64(),
            a["before_cents"].as_i64(),
            a["after_cents"].as_i64()
        ),
        (Some(8), Some(120_000_000), Some(216_000_000))
    );
    assert!(!a["run"]["adopted_at"].as_str().unwrap().is_empty());
    let (_, p9) = call(&app, Method::GET, "/parcels/1-1-9", &assessor, None).await;
    assert_eq!(
        (
            p9["parcel"]["land_cents"].as_i64(),
            p9["parcel"]["building_cents"].as_i64(),
            p9["parcel"]["version"].as_i64()
        ),
        (Some(5_000_000), Some(22_000_000), Some(2))
    );
    let (_, p10) = call(&app, Method::GET, "/parcels/1-1-10", &assessor, None).await;
    assert_eq!(
        (
            p10["parcel"]["building_cents"].as_i64(),
            p10["parcel"]["version"].as_i64()
        ),
        (Some(90_000_000), Some(1))
    );
    // One audit record for the adoption, not one per parcel.
    let mut c = app.db.read().await.unwrap();
    let events: i64 = dispatch!(&mut c, c => sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'parcel.revalue'").fetch_one(c).await).unwrap();
    drop(c);
    assert_eq!(events, 1);
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/model-runs/{reg_id}/adopt"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The explanation now comes from the adopted run: ln 150 + 1 × ln 1,800, times the smearing.
    let (s, x) = call(
        &app,
        Method::GET,
        "/parcels/1-1-9/explanation",
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{x}");
    assert_eq!(
        (x["run_id"].as_str(), x["approach"].as_str()),
        (Some(reg_id.as_str()), Some("regression"))
    );
    let lines = x["explanation"]["terms"].as_array().unwrap();
    let line = |n: &str| lines.iter().find(|l| l["name"] == n).cloned().unwrap();
    close(&line("ln_living_sqft")["x"], 1800f64.ln(), 1e-12);
    close(&line("intercept")["contribution"], 150f64.ln(), 1e-9);
    close(&x["explanation"]["log_value"], 270_000f64.ln(), 1e-9);
    close(&x["explanation"]["value"], 270_000.0, 1e-6);
    let page = app
        .api(
            Method::GET,
            "/t/hartford/assessment/parcels/1-1-9",
            &assessor,
            None,
        )
        .await;
    assert!(
        page.text().contains("id=\"parcel-explanation\"")
            && page.text().contains("Regression 2025"),
        "{}",
        page.text()
    );

    // The cost run saw the parcels before the adoption changed them: refused, naming the
    // first changed one (1-1-1 kept its value and version).
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("/model-runs/{cost_id}/adopt"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v.to_string()
            .contains("parcel 1-1-2 was changed after it was valued"),
        "{v}"
    );

    // Once the 2025 grand list is signed, no run valued as of 2025 is adopted.
    let (s, fresh) = call(&app, Method::POST, "/model-runs", &assessor, Some(json!({
        "name": "Cost again", "valuation_date": "2025-10-01", "approach": "cost", "schedule": schedule()
    }))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{fresh}");
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    for (m, path, body) in [
        (
            Method::POST,
            "/grand-lists",
            Some(json!({"list_year": 2025})),
        ),
        (Method::POST, "/grand-lists/2025/sign", None),
    ] {
        let (s, v) = call(&app, m, path, &assessor, body).await;
        assert!(s.is_success(), "{path}: {v}");
    }
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("/model-runs/{}/adopt", fresh["id"].as_str().unwrap()),
        &assessor,
        None,
    )
    .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::CONFLICT, Some("valuation_date")),
        "{v}"
    );

    // A run whose sales change between creation and valuation fails, and says why: six of the
    // eight sales ruled out by the analyst leave two sales for three terms.
    let (s, doomed) = call(
        &app,
        Method::POST,
        "/model-runs",
        &assessor,
        Some(run(json!(["ln_living_sqft"]), "2025-10-01")),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{doomed}");
    let (_, sales) = call(&app, Method::GET, "/sales", &assessor, None).await;
    for sale in sales.as_array().unwrap().iter().take(6) {
        let (s, v) = call(
            &app,
            Method::POST,
            &format!("/sales/{}/decision", sale["id"].as_str().unwrap()),
            &assessor,
            Some(json!({"decision": "unqualified", "note": "Not arm's length after review"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let (_, doomed) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{}", doomed["id"].as_str().unwrap()),
        &assessor,
        None,
    )
    .await;
    assert_eq!(doomed["status"], "failed", "{doomed}");
    assert!(
        doomed["error"]
            .as_str()
            .unwrap()
            .contains("2 sales for 3 terms"),
        "{doomed}"
    );
    let mut c = app.db.read().await.unwrap();
    let failed: i64 = dispatch!(&mut c, c => sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'model_run.failed'").fetch_one(c).await).unwrap();
    drop(c);
    assert_eq!(failed, 1);

    // The pages: the runs, one run, the comparison.
    for path in [
        "/t/hartford/assessment/valuation".to_owned(),
        format!("/t/hartford/assessment/valuation/{reg_id}"),
        format!("/t/hartford/assessment/valuation/compare?runs={reg_id}&runs={cost_id}"),
    ] {
        let r = app.api(Method::GET, &path, &assessor, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        assert!(r.text().contains("Regression 2025"), "{path}");
    }
    // The run's values as CSV: a header and the nine parcels (the roll now holds the adopted values).
    let csv = app
        .api(
            Method::GET,
            &format!("/t/hartford/assessment/valuation/{reg_id}?format=csv"),
            &assessor,
            None,
        )
        .await
        .text();
    assert_eq!(csv.lines().count(), 10, "{csv}");
    assert!(
        csv.contains(
            "1-1-9,9 Oak St,N1,\"$270,000.00\",\"$270,000.00\",\"$50,000.00\",\"$220,000.00\""
        ),
        "{csv}"
    );
    notices_of_assessment(&app, &assessor).await;
}

/// Imports the roll and the first `n` sales of [`SALES`], each price × `factor`.
async fn load_town(app: &TestApp, who: &Auth, town: &str, n: usize, factor: i64) {
    let mut sales = String::from("parcel_id,sale_date,price,grantor,grantee,deed_type\n");
    for line in SALES.lines().skip(1).take(n) {
        let f: Vec<&str> = line.split(',').collect();
        let price = f[2].parse::<i64>().unwrap() * factor / 10;
        sales.push_str(&format!(
            "{},{},{price},{},{},{}\n",
            f[0], f[1], f[3], f[4], f[5]
        ));
    }
    for (path, body) in [
        ("parcel-imports?file_name=roll.csv", roll()),
        ("sale-imports?file_name=sales.csv&layout=csv", sales),
    ] {
        let r = app
            .raw(
                Method::POST,
                &format!("/api/v1/towns/{town}/assessment/{path}"),
                who,
                Some("text/csv"),
                body.into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{town} {path}: {}", r.text());
    }
}

/// A pooled regional regression: Hartford has five sales at $150 a square
/// foot, East Hartford eight at $180. Pooled with an effect per town, the
/// model is exact: ln(price) = ln 180 + ln(sqft) + ln(150/180)·[Hartford]
/// (East Hartford, with more sales, is the reference level), so Hartford's
/// houses are valued at $150/sq ft and East Hartford's are not valued at all.
async fn pooled_regional_model_run(app: TestApp) {
    let field = app.demo_session("field.assessor").await;
    load_town(&app, &field, "hartford", 5, 10).await;
    load_town(&app, &field, "east-hartford", 8, 12).await;
    let pooled = |approach: &str| {
        json!({"name": "Pooled 2025", "valuation_date": "2025-10-01", "approach": approach,
        "terms": ["ln_living_sqft"], "min_sales_per_level": 4, "sales_from": "region"})
    };

    // Hartford's own assessor has no other town's grant: nothing to pool.
    let assessor = app.demo_session("assessor.hartford").await;
    refused(&app, &assessor, pooled("regression"), "sales_from").await;
    refused(&app, &field, pooled("cost"), "sales_from").await;
    let mut bad = pooled("regression");
    bad["sales_from"] = json!("state");
    refused(&app, &field, bad, "sales_from").await;

    let (s, run) = call(
        &app,
        Method::POST,
        "/model-runs",
        &field,
        Some(pooled("regression")),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{run}");
    let mut towns: Vec<&str> = run["settings"]["pooled_towns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    towns.sort_unstable();
    // The field assessor's grants: East Hartford, Manchester, Wethersfield (never West Hartford).
    assert_eq!(towns, ["east-hartford", "manchester", "wethersfield"]);
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let id = run["id"].as_str().unwrap().to_owned();
    let (_, run) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{id}"),
        &field,
        None,
    )
    .await;
    assert_eq!(run["status"], "done", "{run}");
    let res = &run["results"];
    assert_eq!(
        res["sales_by_town"],
        json!({"east-hartford": 8, "hartford": 5, "manchester": 0, "wethersfield": 0})
    );
    let fit = &res["fit"];
    assert_eq!(
        (fit["n"].as_i64(), fit["k"].as_i64()),
        (Some(13), Some(4)),
        "{fit}"
    );
    let term = |name: &str| {
        fit["terms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no term {name} in {fit}"))
    };
    close(&term("intercept")["coefficient"], 180f64.ln(), 1e-9);
    close(&term("ln_living_sqft")["coefficient"], 1.0, 1e-9);
    close(
        &term("town[hartford]")["coefficient"],
        (150f64 / 180.0).ln(),
        1e-9,
    );
    close(&term("months")["coefficient"], 0.0, 1e-9);
    // Only Hartford's nine houses are valued, at $150/sq ft: $2,310,000 as in the town's own run;
    // its ratio study is of its own five sales.
    assert_eq!(run["parcels_valued"], 9);
    assert_eq!(run["sales_used"], 13);
    assert_eq!(run["total_cents"], 231_000_000);
    assert_eq!(res["ratio"]["n"], 5);
    close(&res["ratio"]["cod"], 0.0, 1e-9);
    let (_, values) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{id}/values?limit=20"),
        &field,
        None,
    )
    .await;
    assert_eq!(values["total"], 9);
    let nine = values["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["parcel_key"] == "1-1-9")
        .cloned()
        .unwrap();
    assert_eq!(nine["value_cents"], 27_000_000);
    // The explanation names the town effect it applied.
    let parcel = nine["parcel_id"].as_str().unwrap();
    let (s, ex) = call(
        &app,
        Method::GET,
        &format!("/parcels/{parcel}/explanation?run={id}"),
        &field,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{ex}");
    assert!(ex.to_string().contains("town[hartford]"), "{ex}");

    // Adopted and listed, the model's notice shows Hartford's five sales adjusted to 1-1-9 with
    // the pooled coefficients: the model is exact, so each adjusted price is 1,800 × $150 =
    // $270,000 (1-1-1, 1,000 sq ft at $150,000: +$120,000; 1-1-5, the same 1,800 sq ft: none).
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("/model-runs/{id}/adopt"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for (path, body) in [
        ("/grand-lists", Some(json!({"list_year": 2026}))),
        ("/grand-lists/2026/sign", None),
    ] {
        let (s, v) = call(&app, Method::POST, path, &assessor, body).await;
        assert!(s.is_success(), "{path}: {v}");
    }
    let r = app
        .api(Method::POST, &format!("{BASE}/grand-lists/2026/notices"), &assessor, Some(json!({
            "notice_date": "2026-11-27", "office_name": "Assessor's Office", "office_address": "550 Main Street",
            "office_phone": "(860) 757-9630", "accounts": ["RE-1-1-9"]})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = crate::assessment::pdf_text(&r.body);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Oak St") && l.contains(", 202"))
        .collect();
    assert_eq!(rows.len(), 5, "{text}");
    for (house, price, adjustment) in [
        ("1 Oak St", "150,000", "+120,000"),
        ("2 Oak St", "180,000", "+90,000"),
        ("3 Oak St", "210,000", "+60,000"),
        ("4 Oak St", "240,000", "+30,000"),
        ("5 Oak St", "270,000", "none"),
    ] {
        let row = rows
            .iter()
            .find(|r| r.contains(house))
            .unwrap_or_else(|| panic!("{house} not in {text}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            &cells[cells.len() - 3..],
            [price, adjustment, "270,000"],
            "{row}"
        );
    }
    assert!(
        text.contains("Market value by the model") && text.contains("Pooled 2025"),
        "{text}"
    );

    // A run asked for while East Hartford granted access fails, naming it, once the grant is gone.
    let (s, second) = call(
        &app,
        Method::POST,
        "/model-runs",
        &field,
        Some(pooled("regression")),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{second}");
    revoke(&app, "field.assessor", "east-hartford").await;
    let _ = munishare::jobs().run_one(&app.jobs).await;
    let sid = second["id"].as_str().unwrap();
    let (_, second) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{sid}"),
        &field,
        None,
    )
    .await;
    assert_eq!(second["status"], "failed", "{second}");
    assert!(
        second["error"].as_str().unwrap().contains("east-hartford"),
        "{second}"
    );

    // A run whose user loses the town itself before it runs is failed by the platform, saying
    // why, not left queued; the audit names the job.
    let (s, third) = call(
        &app,
        Method::POST,
        "/model-runs",
        &field,
        Some(json!({
        "name": "Town only", "valuation_date": "2025-10-01", "approach": "regression",
        "terms": ["ln_living_sqft"], "min_sales_per_level": 4})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{third}");
    revoke(&app, "field.assessor", "hartford").await;
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let tid = third["id"].as_str().unwrap();
    let (_, third) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{tid}"),
        &assessor,
        None,
    )
    .await;
    assert_eq!(third["status"], "failed", "{third}");
    assert_eq!(
        third["error"],
        "field.assessor may no longer edit assessment data in Hartford; ask for it again"
    );
    let mut c = app.db.read().await.unwrap();
    let actor: String = dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT actor FROM audit_events WHERE action = 'model_run.failed' AND entity_id = $1")
        .bind(tid).fetch_one(c).await)
    .unwrap();
    assert_eq!(actor, "system:assessment.model_run");

    // So is a run whose user's account is disabled before it runs.
    let (s, fourth) = call(
        &app,
        Method::POST,
        "/model-runs",
        &assessor,
        Some(json!({
        "name": "Before leave", "valuation_date": "2025-10-01", "approach": "regression",
        "terms": ["ln_living_sqft"], "min_sales_per_level": 4})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{fourth}");
    let admin = app.demo_session("admin").await;
    let users = app
        .api(Method::GET, "/api/v1/admin/users", &admin, None)
        .await
        .json();
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "assessor.hartford")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/admin/users/{id}/active"),
            &admin,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let mut c = app.db.read().await.unwrap();
    let (status, error): (String, String) = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT status, error FROM assessment_model_runs WHERE id = $1")
        .bind(fourth["id"].as_str().unwrap()).fetch_one(c).await)
    .unwrap();
    assert_eq!(
        (status.as_str(), error.as_str()),
        (
            "failed",
            "assessor.hartford's account is disabled; ask for it again"
        )
    );
}

/// Withdraws a user's grant in a town, as the council administrator.
pub(crate) async fn revoke(app: &TestApp, username: &str, town: &str) {
    let admin = app.demo_session("admin").await;
    let users = app
        .api(Method::GET, "/api/v1/admin/users", &admin, None)
        .await
        .json();
    let user = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap();
    let detail = app
        .api(
            Method::GET,
            &format!("/api/v1/admin/users/{}", user["id"].as_str().unwrap()),
            &admin,
            None,
        )
        .await
        .json();
    let grant = detail["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["town"] == town && g["revoked_at"].is_null())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .api(
            Method::DELETE,
            &format!("/api/v1/admin/grants/{grant}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// The 2026 revaluation by the cost approach, adopted, listed and signed; the notices of the
/// accounts whose assessment changed from the 2025 list. 1-1-9 (1,800 sq ft Colonial, built
/// 1990, a 10,000 sq ft lot): land $50,000; replacement cost new 1,800 × $100 + one extra full
/// bath $10,000 + a garage space $20,000 = $210,000, depreciated 36 % at 36 years = $75,600,
/// so buildings $134,400 and $184,400 in all; assessed at 70 %: $35,000 + $94,080 = $129,080,
/// down $59,920 from the 2025 list's $189,000 ($270,000 × 70 %).
async fn notices_of_assessment(app: &TestApp, assessor: &Auth) {
    let (s, run) = call(app, Method::POST, "/model-runs", assessor, Some(json!({
        "name": "Revaluation 2026", "valuation_date": "2026-10-01", "approach": "cost", "schedule": schedule()
    }))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{run}");
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let id = run["id"].as_str().unwrap();
    let (s, v) = call(
        app,
        Method::POST,
        &format!("/model-runs/{id}/adopt"),
        assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let office = |accounts: Value, changed_only: bool| {
        json!({"notice_date": "2026-11-26", "office_name": "Assessor's Office",
        "office_address": "550 Main Street\nHartford, CT 06103", "office_phone": "(860) 757-9630",
        "accounts": accounts, "changed_only": changed_only})
    };
    // Not before the list is signed.
    let (s, _) = call(
        app,
        Method::POST,
        "/grand-lists",
        assessor,
        Some(json!({"list_year": 2026})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/grand-lists/2026/notices"),
            assessor,
            Some(office(json!([]), true)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let (s, _) = call(app, Method::POST, "/grand-lists/2026/sign", assessor, None).await;
    assert!(s.is_success());
    // Bad inputs name their field.
    for (body, field) in [
        (
            {
                let mut b = office(json!([]), true);
                b["office_phone"] = json!(" ");
                b
            },
            "office_phone",
        ),
        (
            {
                let mut b = office(json!([]), true);
                b["notice_date"] = json!("2027-03-01");
                b
            },
            "notice_date",
        ),
        (
            {
                let mut b = office(json!([]), true);
                b["notice_date"] = json!("26/11/2026");
                b
            },
            "notice_date",
        ),
        (office(json!(["RE-9-9-9"]), false), "accounts"),
        // The empty lot and the commercial parcel kept their values: nothing changed.
        (office(json!(["RE-1-1-10", "RE-1-1-11"]), true), "accounts"),
    ] {
        let r = app
            .api(
                Method::POST,
                &format!("{BASE}/grand-lists/2026/notices"),
                assessor,
                Some(body),
            )
            .await;
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        assert_eq!(
            (r.status, v["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{v}"
        );
    }
    // Every house changed; the lot and the commercial parcel did not: nine notices.
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/grand-lists/2026/notices"),
            assessor,
            Some(office(json!([]), true)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let all = crate::assessment::pdf_text(&r.body);
    assert_eq!(all.matches("Notice of Assessment").count(), 9, "{all}");
    assert!(
        !all.contains("RE-1-1-10") && !all.contains("RE-1-1-11"),
        "{all}"
    );
    let r = app
        .api(
            Method::POST,
            &format!("{BASE}/grand-lists/2026/notices"),
            assessor,
            Some(office(json!(["RE-1-1-9"]), false)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/pdf");
    let text = crate::assessment::pdf_text(&r.body);
    for want in [
        "Notice of Assessment",
        "Grand List of October 1, 2026",
        "RE-1-1-9",
        "9 Oak St",
        "Owner 9",
        "Grand list 2025",
        "189,000",
        "129,080",
        "-59,920",
        "94,080",
        "Market value (100 %): 184,400",
        "Revaluation 2026",
        "Land: the site",
        "50,000",
        "Buildings: replacement cost new",
        "210,000",
        "Depreciation (36 %, age 36 years and condition)",
        "-75,600",
        "cost approach",
        "February 20, 2027",
        "(860) 757-9630",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
    // The page's form prints the same.
    let page = app
        .api(
            Method::GET,
            "/t/hartford/assessment/grand-list/2026",
            assessor,
            None,
        )
        .await;
    assert!(page.text().contains("id=\"notices\""), "{}", page.text());
}

/// The town's stored schedule: saved by approve permission only, version-checked, checked field by
/// field, audited, and used by a cost run that brings none. With [`schedule`] and neighbourhood
/// N1's land at $60,000 for a 5,000 sq ft site plus $87,120 an acre ($2 a square foot), 1-1-9
/// (10,000 sq ft lot, 1,800 sq ft built 1990) valued October 1, 2025: land 60,000 + 5,000 × 2 =
/// $70,000; replacement cost new $210,000 less 35 % = $136,500; $206,500 in all.
async fn stored_cost_schedule(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    load_town(&app, &assessor, "hartford", 8, 10).await;
    let (s, v) = call(&app, Method::GET, "/cost-schedule", &assessor, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["stored"].as_bool(), v["version"].as_i64()),
        (Some(false), Some(0))
    );
    assert_eq!(v["schedule"]["default_land"]["site_value"], 120_000.0);
    let mut ours = schedule();
    ours["land"] = json!({"N1": {"base_lot_sqft": 5000.0, "site_value": 60000.0, "tiers": [{"from_acres": 0.0, "rate_per_acre": 87120.0}]}});
    let field = app.demo_session("field.assessor").await;
    let (s, _) = call(
        &app,
        Method::PUT,
        "/cost-schedule",
        &field,
        Some(json!({"version": 0, "schedule": ours})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (bad, name) in [
        (
            json!({"land": {" N1": ours["land"]["N1"]}}),
            "schedule.land",
        ),
        (
            json!({"max_depreciation": 1.5}),
            "schedule.max_depreciation",
        ),
        (
            json!({"land_by_zone": {"R-1": {"base_lot_sqft": 0.0, "site_value": 1.0, "tiers": []}}}),
            "schedule.land",
        ),
    ] {
        let mut b = ours.clone();
        for (k, v) in bad.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (s, v) = call(
            &app,
            Method::PUT,
            "/cost-schedule",
            &assessor,
            Some(json!({"version": 0, "schedule": b})),
        )
        .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(name)),
            "{v}"
        );
    }
    let (s, v) = call(
        &app,
        Method::PUT,
        "/cost-schedule",
        &assessor,
        Some(json!({"version": 0, "schedule": ours})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["stored"].as_bool(), v["version"].as_i64()),
        (Some(true), Some(1))
    );
    let (s, _) = call(
        &app,
        Method::PUT,
        "/cost-schedule",
        &assessor,
        Some(json!({"version": 0, "schedule": ours})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A cost run without a schedule takes the town's.
    let (s, run) = call(
        &app,
        Method::POST,
        "/model-runs",
        &assessor,
        Some(json!({
        "name": "Stored schedule", "valuation_date": "2025-10-01", "approach": "cost"})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{run}");
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let id = run["id"].as_str().unwrap();
    let (_, x) = call(
        &app,
        Method::GET,
        &format!("/parcels/1-1-9/explanation?run={id}"),
        &assessor,
        None,
    )
    .await;
    let b = &x["explanation"]["breakdown"];
    assert_eq!(
        (
            b["land"].as_f64(),
            b["building"].as_f64(),
            b["total"].as_f64(),
            b["land_schedule"].as_str()
        ),
        (
            Some(70_000.0),
            Some(136_500.0),
            Some(206_500.0),
            Some("neighbourhood N1")
        ),
        "{x}"
    );

    // The run records what computed it and a digest of its inputs: the same run again on the same
    // roll and sales has the same digest; once an analyst rules a sale out, it differs.
    let digest_of = |run: &Value| run["results"]["inputs_sha256"].as_str().unwrap().to_owned();
    let (_, first) = call(
        &app,
        Method::GET,
        &format!("/model-runs/{id}"),
        &assessor,
        None,
    )
    .await;
    assert!(
        first["results"]["engine"]
            .as_str()
            .unwrap()
            .ends_with("valuation engine revision 1"),
        "{first}"
    );
    assert_eq!(digest_of(&first).len(), 64);
    let again = |name: &'static str| json!({"name": name, "valuation_date": "2025-10-01", "approach": "cost"});
    let mut digests = Vec::new();
    for step in 0..2 {
        if step == 1 {
            let (_, sales) = call(&app, Method::GET, "/sales", &assessor, None).await;
            let sale = sales.as_array().unwrap()[0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let (s, v) = call(
                &app,
                Method::POST,
                &format!("/sales/{sale}/decision"),
                &assessor,
                Some(json!({"decision": "unqualified", "note": "Sold between relatives"})),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        let (_, run) = call(
            &app,
            Method::POST,
            "/model-runs",
            &assessor,
            Some(again("Again")),
        )
        .await;
        assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
        let (_, run) = call(
            &app,
            Method::GET,
            &format!("/model-runs/{}", run["id"].as_str().unwrap()),
            &assessor,
            None,
        )
        .await;
        digests.push(digest_of(&run));
    }
    assert_eq!(digests[0], digest_of(&first));
    assert_ne!(digests[1], digest_of(&first));

    // The page's land table: a bad row is refused naming its row and column, nothing saved;
    // a good one replaces the land schedules and keeps the rest.
    let row = |kind: &'static str,
               code: &'static str,
               base: &'static str,
               site: &'static str,
               tiers: &'static str| {
        [
            ("kind", kind),
            ("code", code),
            ("base_lot_sqft", base),
            ("site_value", site),
            ("tiers", tiers),
        ]
    };
    let mut fields = vec![("version", "1")];
    fields.extend(row("default", "", "43560", "100,000", "0:20000"));
    fields.extend(row("zone", "R-1", "20000", "80000", "0:30000, 2:10000"));
    fields.extend(row("neighbourhood", "N1", "5000", "lots", ""));
    let r = app
        .form(
            "/t/hartford/assessment/cost-schedule/land",
            &assessor,
            &fields,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let flash = r
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        flash.contains("error") && flash.contains("site_value"),
        "{flash}"
    );
    let (_, v) = call(&app, Method::GET, "/cost-schedule", &assessor, None).await;
    assert_eq!(v["version"], 1, "nothing saved: {v}");
    let page = app
        .api(
            Method::GET,
            "/t/hartford/assessment/cost-schedule",
            &assessor,
            None,
        )
        .await
        .text();
    assert!(
        page.contains("id=\"land-rows\"") && page.contains("87120"),
        "{page}"
    );
    fields.truncate(11);
    let r = app
        .form(
            "/t/hartford/assessment/cost-schedule/land",
            &assessor,
            &fields,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, v) = call(&app, Method::GET, "/cost-schedule", &assessor, None).await;
    assert_eq!(v["version"], 2, "{v}");
    assert_eq!(v["schedule"]["land"], json!({}));
    assert_eq!(
        v["schedule"]["land_by_zone"]["R-1"]["tiers"][1]["rate_per_acre"],
        10_000.0
    );
    assert_eq!(v["schedule"]["default_land"]["site_value"], 100_000.0);
    assert_eq!(v["schedule"]["base_rates"]["Colonial"], 100.0);
    let mut c = app.db.read().await.unwrap();
    let events: i64 = dispatch!(&mut c, c => sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'cost_schedule.update'").fetch_one(c).await).unwrap();
    assert_eq!(events, 2);
}
