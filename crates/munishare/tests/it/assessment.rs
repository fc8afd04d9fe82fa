//! The regional ratio-study dashboard on OPM's published sales, on both
//! databases: a council administrator imports the file, everyone signed in
//! reads each town's study; the figures match values computed independently
//! (a separate Python implementation of the documented rules, run on the same
//! CSV: qualified = no non-use code, price ≥ $2,000, assessed > 0; trim ratios
//! outside 3 × IQR of the type-7 quartiles; then median, COD, PRD).

use axum::http::{Method, StatusCode};

use crate::both_dbs;
use crate::harness::{TestApp, shared_data};

both_dbs!(opm_sales_feed_a_ratio_study_per_town);

const FILE: &str = "ct_real_estate_sales/ct_real_estate_sales_subset.csv";

async fn opm_sales_feed_a_ratio_study_per_town(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let clerk = app.demo_session("clerk.hartford").await;
    let csv = shared_data(FILE).into_bytes();
    let import = |auth, name: &'static str, body: Vec<u8>| {
        let app = &app;
        async move {
            app.raw(
                Method::POST,
                &format!("/api/v1/assessment/opm-sales?file_name={name}"),
                auth,
                Some("text/csv"),
                body,
            )
            .await
        }
    };
    // Only council administrators import.
    let r = import(&clerk, "sales.csv", csv.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A bad row anywhere imports nothing, and the error names file, row and column.
    let mut broken = String::from_utf8(csv.clone()).unwrap();
    let line_500 = broken.lines().nth(499).unwrap().to_owned();
    let mut cells: Vec<&str> = line_500.split(',').collect();
    cells[6] = "12O000.00";
    broken = broken.replacen(&line_500, &cells.join(","), 1);
    let r = import(&admin, "broken.csv", broken.into_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.text().contains("broken.csv, row 500, column Sale Amount"),
        "{}",
        r.text()
    );
    let r = app
        .api(
            Method::GET,
            "/api/v1/assessment/opm-ratio-studies",
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.json()["list_years"], serde_json::json!([]));

    let r = import(&admin, "opm-sales.csv", csv.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let s = r.json();
    assert_eq!(
        (
            s["rows"].as_i64(),
            s["added"].as_i64(),
            s["replaced"].as_i64()
        ),
        (Some(9_999), Some(9_999), Some(0))
    );
    // The same file again is refused.
    let r = import(&admin, "again.csv", csv.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.text().contains("imported already, as opm-sales.csv"),
        "{}",
        r.text()
    );

    // Everyone signed in reads the dashboard; the newest list year is the default.
    let d = app
        .api(
            Method::GET,
            "/api/v1/assessment/opm-ratio-studies",
            &clerk,
            None,
        )
        .await
        .json();
    assert_eq!(d["list_year"], 2022);
    // List-year counts from PROVENANCE.md: 2022: 9,628; 2020: 215.
    assert_eq!(d["list_years"][0], serde_json::json!([2022, 9628]));
    assert!(
        d["list_years"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!([2020, 215]))
    );
    let town = |name: &str| {
        d["towns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["town"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing: {d}"))
    };
    // Independently computed (see the module comment):
    // Hartford: 180 qualified, 174 kept, median 0.273551, level 0.390787, COD 14.886511, PRD 1.010088
    // Manchester: 230 qualified, 225 kept, median 0.553846, level 0.791209, COD 11.364365, PRD 1.004913
    // Bloomfield: 87 qualified, 87 kept, median 0.452593, level 0.646561, COD 14.120057, PRD 0.996754
    for (name, qualified, kept, median, level, cod, prd) in [
        ("Hartford", 180, 174, 0.2736, 0.3908, 14.89, 1.010),
        ("Manchester", 230, 225, 0.5538, 0.7912, 11.36, 1.005),
        ("Bloomfield", 87, 87, 0.4526, 0.6466, 14.12, 0.997),
    ] {
        let t = town(name);
        let s = &t["study"];
        assert_eq!(t["qualified"], qualified, "{name}");
        assert_eq!(
            t["qualified"].as_i64().unwrap() - t["trimmed"].as_i64().unwrap(),
            kept,
            "{name}"
        );
        assert_eq!(s["n"], kept, "{name}");
        assert_eq!(
            (s["median_ratio"].as_f64(), s["level"].as_f64()),
            (Some(median), Some(level)),
            "{name}"
        );
        assert_eq!(
            (s["cod"].as_f64(), s["prd"].as_f64()),
            (Some(cod), Some(prd)),
            "{name}"
        );
        // Connecticut towns between revaluations assess well under 70 % of 2022 prices.
        assert_eq!(s["met"]["level"], false, "{name}");
        assert_eq!(s["met"]["cod"], true, "{name}");
        assert_eq!(t["slug"], name.to_lowercase(), "{name}");
    }
    // Only the region's members by default; every town on request.
    assert!(
        d["towns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["slug"].is_string())
    );
    let all = app
        .api(
            Method::GET,
            "/api/v1/assessment/opm-ratio-studies?towns=state",
            &clerk,
            None,
        )
        .await
        .json();
    assert!(
        all["towns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["town"] == "Bridgeport")
    );
    let r = app
        .api(
            Method::GET,
            "/api/v1/assessment/opm-ratio-studies?towns=everywhere",
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("towns"));

    // One town in detail: strata by residential type and by quarter of price
    // (independently computed: 154 single family, 49 condo, 18 two-family,
    // 2 three- and 2 four-family; quarters of 60, 53, 56 and 56 sales, the
    // first $76,000 – $220,000 with median ratio 0.5733 and COD 14.51).
    let m = app
        .api(
            Method::GET,
            "/api/v1/assessment/opm-ratio-studies/town?town=manchester&list_year=2022",
            &clerk,
            None,
        )
        .await
        .json();
    assert_eq!(m["overall"]["study"]["n"], 225);
    let kinds: Vec<(String, i64)> = m["by_residential_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["label"].as_str().unwrap().to_owned(),
                s["sales"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Condo", 49),
            ("Four Family", 2),
            ("Single Family", 154),
            ("Three Family", 2),
            ("Two Family", 18)
        ]
        .map(|(k, n)| (k.to_owned(), n))
    );
    let quarters: Vec<i64> = m["by_price_quartile"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sales"].as_i64().unwrap())
        .collect();
    assert_eq!(quarters, [60, 53, 56, 56]);
    let first = &m["by_price_quartile"][0];
    assert_eq!(first["label"], "$76,000 – $220,000");
    assert_eq!(
        (
            first["study"]["median_ratio"].as_f64(),
            first["study"]["cod"].as_f64()
        ),
        (Some(0.5733), Some(14.51))
    );
    assert!(
        m["by_residential_type"][1]["study"].is_null(),
        "two sales are too few for a study"
    );
    assert_eq!(m["points"].as_array().unwrap().len(), 225);
    // The 74 sales left out, by OPM's non-use code (304 listed − 230 qualified).
    assert_eq!(
        m["excluded"],
        serde_json::json!([
            ["25 - Other", 51],
            ["07 - Change in Property", 12],
            ["14 - Foreclosure", 6],
            ["01 - Family", 5]
        ])
    );
    let r = app
        .api(
            Method::GET,
            "/api/v1/assessment/opm-ratio-studies/town?town=Atlantis",
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let page = app
        .api(
            Method::GET,
            "/assessment/ratio-studies?town=Manchester&list_year=2022",
            &clerk,
            None,
        )
        .await
        .text();
    assert_eq!(page.matches("class=\"dot\"").count(), 225);
    assert!(page.contains("$76,000 – $220,000"));

    // The page: chart, table and export.
    let page = app
        .api(Method::GET, "/assessment/ratio-studies", &clerk, None)
        .await
        .text();
    assert!(
        page.contains("Hartford 14.9") && page.contains("id=\"ratio-studies\""),
        "{page}"
    );
    assert!(
        !page.contains("import-opm-sales"),
        "a clerk sees no import form"
    );
    let csv_out = app
        .api(
            Method::GET,
            "/assessment/ratio-studies?format=csv",
            &clerk,
            None,
        )
        .await
        .text();
    assert!(
        csv_out.lines().any(
            |l| l.starts_with("Manchester,304,230,5,225,yes,0.5538,0.7912,no,11.36,yes,1.005,")
        ),
        "{csv_out}"
    );
    let admin_page = app
        .api(Method::GET, "/assessment/ratio-studies", &admin, None)
        .await
        .text();
    assert!(admin_page.contains("import-opm-sales"));
}
