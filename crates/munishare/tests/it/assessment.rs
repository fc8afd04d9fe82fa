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

// ------------------------------------------------------------ a town's roll

both_dbs!(a_town_imports_its_roll_validates_sales_and_studies_them);

/// Twelve parcels on Elm St, neighbourhood N1: parcel i is appraised at
/// $200,000 + i × $10,000 ($50,000 of it land), so its assessment is exactly
/// 70 % of that: $147,000 for parcel 1 … $224,000 for parcel 12.
fn roll(owner_of_3: &str, building_of_5: u32) -> String {
    let mut s = String::from(
        "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner,style,year_built,living_sqft,quality,condition,exemptions\n",
    );
    for i in 1..=12u32 {
        let owner = if i == 3 {
            owner_of_3.to_owned()
        } else {
            format!("Owner {i}")
        };
        let building = if i == 5 {
            building_of_5
        } else {
            150_000 + i * 10_000
        };
        let ex = if i == 2 { "VET:1000" } else { "" };
        s.push_str(&format!(
            "10-1-{i},{i} Elm St,N1,residential,10890,50000,{building},{owner},Colonial,1960,1500,Average,Good,{ex}\n"
        ));
    }
    s
}

/// Generic sales: eight plain sales, and one each that a rule flags (a
/// quitclaim, a family sale, a foreclosure, a nominal price).
const SALES: &str = "parcel_id,sale_date,price,grantor,grantee,deed_type,reference,non_use_code
10-1-1,2024-03-01,200000,A Seller,B Buyer,Warranty,B100/P1,
10-1-2,2024-04-10,225000,C Seller,D Buyer,Warranty,B100/P2,
10-1-3,2024-05-15,230000,E Seller,F Buyer,Warranty,B100/P3,
10-1-4,2024-06-20,245000,G Seller,H Buyer,Warranty,B100/P4,
10-1-5,2024-07-01,240000,I Seller,J Buyer,Warranty,B100/P5,
10-1-6,2024-08-05,270000,K Seller,L Buyer,Warranty,B100/P6,
10-1-7,2024-09-09,265000,M Seller,N Buyer,Warranty,B100/P7,
10-1-8,2024-10-10,280000,O Seller,P Buyer,Warranty,B100/P8,
10-1-9,2024-02-02,150000,Q Seller,R Buyer,Quitclaim,B100/P9,
10-1-10,2024-03-03,300000,JONES ROBERT,\"Jones, Emily\",Warranty,B100/P10,
10-1-11,2024-04-04,180000,Bank,S Buyer,Warranty,B100/P11,14 - Foreclosure
10-1-12,2023-05-05,1000,T Seller,U Buyer,Warranty,B100/P12,
";

async fn a_town_imports_its_roll_validates_sales_and_studies_them(app: TestApp) {
    let assessor = app
        .token("assessor.hartford", "hartford", "assessment")
        .await;
    let clerk = app.demo_session("clerk.hartford").await;
    let upload = |path: String, body: String| {
        let app = &app;
        let assessor = &assessor;
        async move {
            app.raw(
                Method::POST,
                &path,
                assessor,
                Some("text/csv"),
                body.into_bytes(),
            )
            .await
        }
    };
    let parcels_url =
        |name: &str| format!("/api/v1/towns/hartford/assessment/parcel-imports?file_name={name}");
    let sales_url = |name: &str, layout: &str| {
        format!("/api/v1/towns/hartford/assessment/sale-imports?file_name={name}&layout={layout}")
    };
    let count = |app: &TestApp| {
        let app = app.clone();
        let assessor = assessor.clone();
        async move {
            app.api(
                Method::GET,
                "/api/v1/towns/hartford/assessment/parcels?limit=1",
                &assessor,
                None,
            )
            .await
            .json()["total"]
                .as_i64()
        }
    };

    // A bad row anywhere imports nothing; the error names file, row and column.
    let bad = roll("Owner 3", 190_000).replace(
        "10-1-7,7 Elm St,N1,residential,10890",
        "10-1-7,7 Elm St,N1,residential,lots",
    );
    let r = upload(parcels_url("bad-roll.csv"), bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.text().contains("bad-roll.csv, row 8, column land_sqft"),
        "{}",
        r.text()
    );
    assert_eq!(count(&app).await, Some(0));

    let r = upload(parcels_url("roll.csv"), roll("Owner 3", 190_000)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        (r.json()["rows"].as_i64(), r.json()["added"].as_i64()),
        (Some(12), Some(12))
    );
    let r = upload(parcels_url("again.csv"), roll("Owner 3", 190_000)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    // Parcel 2: $220,000 appraised → $154,000 assessed, with a $1,000 veteran's exemption.
    let p2 = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/parcels/10-1-2",
            &assessor,
            None,
        )
        .await;
    assert_eq!(p2.status, StatusCode::OK, "{}", p2.text());
    let p2 = p2.json();
    assert_eq!(p2["appraised_cents"], 22_000_000);
    assert_eq!(p2["assessed_cents"], 15_400_000);
    assert_eq!(p2["exemptions"][0]["program"], "VET");
    assert_eq!(p2["exemptions_cents"], 100_000);

    // A second roll: parcel 3 sold to a new owner, parcel 5's building revalued.
    let r = upload(
        parcels_url("roll-2.csv"),
        roll("Nguyen Family Trust", 195_000),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        (r.json()["added"].as_i64(), r.json()["changed"].as_i64()),
        (Some(0), Some(2))
    );
    let p3 = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/parcels/10-1-3",
            &assessor,
            None,
        )
        .await
        .json();
    let owners: Vec<&str> = p3["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["Nguyen Family Trust", "Owner 3"]);
    let audit = app
        .api(
            Method::GET,
            &format!(
                "/api/v1/audit?entity_id={}",
                p3["parcel"]["id"].as_str().unwrap()
            ),
            &app.demo_session("assessor.hartford").await,
            None,
        )
        .await
        .json();
    let events = audit["events"]
        .as_array()
        .or(audit.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        events.iter().any(|e| e["action"] == "parcel.update"
            && e["after"]["changed"]["owner"]
                == serde_json::json!(["Owner 3", "Nguyen Family Trust"])),
        "{audit}"
    );
    let p5 = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/parcels/10-1-5",
            &assessor,
            None,
        )
        .await
        .json();
    assert_eq!(p5["parcel"]["building_cents"], 19_500_000);
    assert_eq!(p5["parcel"]["version"], 2);

    // Bad sales: each names its row and column, and nothing is imported.
    for (body, needle) in [
        (
            "10-1-1,2024-03-01,0",
            "bad.csv, row 2, column price: the price 0 is not more than zero",
        ),
        ("10-1-1,2024-02-30,1000", "bad.csv, row 2, column sale_date"),
        (
            "10-1-1,2031-01-01,1000",
            "bad.csv, row 2, column sale_date: 2031-01-01 is in the future",
        ),
        (
            "99-9-9,2024-03-01,1000",
            "bad.csv, row 2, column parcel_id: there is no parcel 99-9-9",
        ),
        (
            "10-1-1,2024-03-01,1000\n10-1-1,2024-03-01,1000",
            "bad.csv, row 3, column parcel_id: the same sale",
        ),
        (
            "10-1-1,2024-03-01,ten",
            "bad.csv, row 2, column price: 'ten' is not an amount",
        ),
    ] {
        let r = upload(
            sales_url("bad.csv", "csv"),
            format!("parcel_id,sale_date,price\n{body}\n"),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text()
        );
        assert!(r.text().contains(needle), "{needle}: {}", r.text());
    }
    let r = upload(sales_url("sales.csv", "csv"), SALES.to_owned()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["added"].as_i64(), Some(12));

    let sales = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/sales",
            &assessor,
            None,
        )
        .await
        .json();
    let by_parcel = |key: &str| {
        sales
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["parcel_key"] == key)
            .cloned()
            .unwrap()
    };
    for (key, flags) in [
        ("10-1-1", ""),
        ("10-1-9", "deed"),
        ("10-1-10", "family"),
        ("10-1-11", "non_use"),
        ("10-1-12", "nominal"),
    ] {
        let s = by_parcel(key);
        assert_eq!(s["flags"], flags, "{s}");
        assert_eq!(s["qualified"], flags.is_empty(), "{s}");
    }
    let flagged = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/sales?status=flagged",
            &assessor,
            None,
        )
        .await
        .json();
    assert_eq!(flagged.as_array().unwrap().len(), 4);

    // The family sale was verified as arm's-length: the analyst qualifies it, with a note.
    let family = by_parcel("10-1-10")["id"].as_str().unwrap().to_owned();
    let decide = format!("/api/v1/towns/hartford/assessment/sales/{family}/decision");
    let r = app
        .api(
            Method::POST,
            &decide,
            &assessor,
            Some(serde_json::json!({"decision": "qualified", "note": "ok"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("note"), "{}", r.text());
    let note = "Cousins; listed on MLS 41 days, sold at asking";
    let r = app
        .api(
            Method::POST,
            &decide,
            &assessor,
            Some(serde_json::json!({"decision": "qualified", "note": note})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (r.json()["qualified"].as_bool(), r.json()["flags"].as_str()),
        (Some(true), Some("family"))
    );

    // OPM's layout: addresses are matched to parcels; another town's row or
    // an unknown address imports nothing.
    let head = "Serial Number,List Year,Date Recorded,Town,Address,Assessed Value,Sale Amount,Sales Ratio,Property Type,Residential Type,Non Use Code,Assessor Remarks,OPM remarks,Location\n";
    let r = upload(sales_url("opm.csv", "opm"), format!("{head}240001,2024,11/01/2024,Hartford,12 ELM ST.,224000,310000,0.72,Residential,Single Family,,,,\n240002,2024,11/02/2024,Avon,1 Main St,1,2,1,Residential,,,,,\n")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .contains("opm.csv, row 3, column Town: 'Avon' is not Hartford"),
        "{}",
        r.text()
    );
    let r = upload(sales_url("opm.csv", "opm"), format!("{head}240003,2024,11/01/2024,Hartford,99 Oak St,224000,310000,0.72,Residential,Single Family,,,,\n")).await;
    assert!(
        r.text()
            .contains("opm.csv, row 2, column Address: no parcel in the roll is at '99 Oak St'"),
        "{}",
        r.text()
    );
    let r = upload(sales_url("opm.csv", "opm"), format!("{head}240001,2024,11/01/2024,Hartford,12 ELM ST.,224000,310000,0.72,Residential,Single Family,,,,\n")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // The study: ten qualified sales (the eight plain ones, the qualified
    // family sale, the OPM sale), each against its parcel's assessment now
    // (parcel 5 revalued: $245,000 → $171,500). Computed separately: ratios
    // 147000/200000 … 224000/310000; median 0.700000, level 1.000,
    // COD 2.0163, PRD 1.00033.
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/ratio-study?by=neighbourhood",
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let s = r.json();
    assert_eq!(
        (
            s["sales"].as_i64(),
            s["qualified"].as_i64(),
            s["trimmed"].as_i64()
        ),
        (Some(13), Some(10), Some(0))
    );
    let o = &s["overall"];
    assert_eq!(o["n"], 10);
    assert_eq!(o["median_ratio"], 0.7);
    assert_eq!(o["level"], 1.0);
    assert_eq!(o["cod"], 2.02);
    assert_eq!(o["prd"], 1.0);
    // A COD under 5 is outside IAAO's range (too uniform to be believable).
    assert_eq!(
        (o["met"]["level"].as_bool(), o["met"]["cod"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(s["strata"][0]["label"], "N1");
    // A period with fewer than five qualified sales gives no study, and says why.
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/ratio-study?from=2024-09-01&to=2024-12-31",
            &assessor,
            None,
        )
        .await
        .json();
    assert_eq!(r["overall"], serde_json::Value::Null);
    assert!(
        r["no_study"].as_str().unwrap().contains("there are 3"),
        "{r}"
    );

    // Corrections by hand are guarded by the version.
    let p = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/parcels/10-1-4",
            &assessor,
            None,
        )
        .await
        .json();
    let mut data = p["parcel"].clone();
    data["living_sqft"] = 1_620.into();
    let put = |version: i64, data: serde_json::Value| {
        let app = &app;
        let assessor = &assessor;
        async move {
            app.api(
                Method::PUT,
                "/api/v1/towns/hartford/assessment/parcels/10-1-4",
                assessor,
                Some(serde_json::json!({"version": version, "parcel": data})),
            )
            .await
        }
    };
    let r = put(1, data.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (
            r.json()["living_sqft"].as_i64(),
            r.json()["version"].as_i64()
        ),
        (Some(1_620), Some(2))
    );
    let r = put(1, data.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    data["quality"] = 9.into();
    let r = put(2, data).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("quality"), "{}", r.text());

    // The town's clerk holds no assessment grant: the roll does not exist for them.
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/assessment/parcels",
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ------------------------------------------------------------ grand list, mill rate, bills, levy

both_dbs!(the_grand_list_sets_the_mill_rate_prints_bills_and_posts_the_levy);

/// Four accounts, values chosen by hand:
/// - 1-1-1: $200,000 appraised → $140,000 assessed (land $35,000), less a $1,000 veteran's exemption;
/// - 1-1-2: $323,456 → $226,419.20 → $226,420 (land $56,000);
/// - 1-1-3: forest land under PA 490, use value $2,400 → $1,680;
/// - 1-1-4: commercial, $1,200,000 → $840,000.
pub(crate) const SMALL_ROLL: &str = "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner,mailing_address,pa490,pa490_use_value,exemptions
1-1-1,1 Main St,N1,residential,10000,50000,150000,Ada Byron,\"1 Main St, Hartford, CT 06103\",,,VET:1000
1-1-2,3 Main St,N1,residential,12000,80000,243456,Bo Chen,\"3 Main St, Hartford, CT 06103\",,,
1-1-3,Rear Main St,N2,vacant,871200,120000,0,Hartford Land Trust,\"PO Box 9, Hartford, CT 06101\",forest,2400,
1-1-4,100 Main St,C1,commercial,40000,300000,900000,Main Street LLC,\"100 Main St, Hartford, CT 06103\",,,
";

pub(crate) fn pdf_text(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "munishare-bill-{}-{}",
        std::process::id(),
        bytes.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bill.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test.sh");
    std::fs::remove_dir_all(&dir).ok();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn the_grand_list_sets_the_mill_rate_prints_bills_and_posts_the_levy(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let base = "/api/v1/towns/hartford/assessment";
    let r = app
        .raw(
            Method::POST,
            &format!("{base}/parcel-imports?file_name=roll.csv"),
            &assessor,
            Some("text/csv"),
            SMALL_ROLL.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // A grand list that has not come yet is refused; 2025 is taken.
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists"),
            &assessor,
            Some(serde_json::json!({"list_year": 2027})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("list_year"), "{}", r.text());
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists"),
            &assessor,
            Some(serde_json::json!({"list_year": 2025})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let d = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025"),
            &assessor,
            None,
        )
        .await
        .json();
    let a = &d["abstract"];
    assert_eq!(a["total"]["accounts"], 4);
    assert_eq!(a["total"]["gross_cents"], 120_810_000);
    assert_eq!(a["total"]["exemptions_cents"], 100_000);
    assert_eq!(a["total"]["net_cents"], 120_710_000);
    let line = |class: &str| {
        a["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["class"] == class)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            line("residential")["accounts"].as_i64(),
            line("residential")["net_cents"].as_i64()
        ),
        (Some(2), Some(36_542_000))
    );
    assert_eq!(line("commercial")["net_cents"], 84_000_000);
    assert_eq!(line("use:forest")["net_cents"], 168_000);
    assert_eq!(a["exemptions"][0]["program"], "VET");
    assert_eq!(a["exemptions"][0]["statute"], "CGS 12-81(19)");

    // No mill rate before the list is signed; once signed it is not taken again.
    let rate = serde_json::json!({
        "levy": "42,000.00", "collector_name": "Tax Collector, City of Hartford",
        "collector_address": "550 Main Street\nHartford, CT 06103", "collector_phone": "860-757-9630"
    });
    let r = app
        .api(
            Method::PUT,
            &format!("{base}/grand-lists/2025/mill-rate"),
            &assessor,
            Some(rate.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists/2025/sign"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists"),
            &assessor,
            Some(serde_json::json!({"list_year": 2025})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    // $42,000 on a net list of $1,207,100: 34.794134… mills → 34.79 (computed with Python's decimal).
    let r = app
        .api(
            Method::PUT,
            &format!("{base}/grand-lists/2025/mill-rate"),
            &assessor,
            Some(rate),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["mill_rate"], "34.79");
    let bad = serde_json::json!({"levy": "42,000.00", "mill_rate": "35.1234567", "collector_name": "X", "collector_address": "Y", "collector_phone": "860-555-0100"});
    let r = app
        .api(
            Method::PUT,
            &format!("{base}/grand-lists/2025/mill-rate"),
            &assessor,
            Some(bad),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("mill_rate"), "{}", r.text());
    // Each tax is net × 34.79 ÷ 1,000, half up to the cent; over $100, two installments, the first taking the odd cent.
    let bills = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025/bills"),
            &assessor,
            None,
        )
        .await
        .json();
    let expected = [
        ("RE-1-1-1", 483_581, vec![241_791, 241_790]),
        ("RE-1-1-2", 787_715, vec![393_858, 393_857]),
        ("RE-1-1-3", 5_845, vec![5_845]),
        ("RE-1-1-4", 2_922_360, vec![1_461_180, 1_461_180]),
    ];
    for (b, (account, tax, parts)) in bills.as_array().unwrap().iter().zip(expected) {
        assert_eq!(b["account"], account);
        assert_eq!(b["tax_cents"], tax, "{b}");
        let got: Vec<i64> = b["installments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["cents"].as_i64().unwrap())
            .collect();
        assert_eq!(got, parts, "{b}");
    }
    assert_eq!(bills[0]["installments"][0]["due"], "2026-07-01");
    assert_eq!(bills[0]["installments"][0]["last_day"], "2026-08-03");
    assert_eq!(bills[0]["installments"][1]["due"], "2027-01-01");
    let d = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025"),
            &assessor,
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            d["levy"]["billed_cents"].as_i64(),
            d["levy"]["difference_cents"].as_i64()
        ),
        (Some(4_199_501), Some(-499))
    );

    // One bill as a PDF, read back with pdftotext.
    let r = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025/bills/RE-1-1-1"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/pdf");
    let text = pdf_text(&r.body);
    for needle in [
        "Ada Byron",
        "1 Main St",
        "Veteran exemption (CGS 12-81(19))",
        "139,000",
        "34.79",
        "$4,835.81",
        "$2,417.91",
        "$2,417.90",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let r = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025/bills/RE-9-9-9"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The bulk run goes through the job queue: one PDF with a page per bill.
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists/2025/bill-run"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.json()["bills_status"], "queued");
    let r = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025/bill-run"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let gl = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025"),
            &assessor,
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            gl["grand_list"]["bills_status"].as_str(),
            gl["grand_list"]["bills_count"].as_i64()
        ),
        (Some("done"), Some(4))
    );
    let r = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025/bill-run"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let all = pdf_text(&r.body);
    assert_eq!(all.matches("Property Tax Bill").count(), 4, "{all}");
    assert!(
        all.contains("$29,223.60") && all.contains("Hartford Land Trust"),
        "{all}"
    );

    // The levy posts to the town's books: not by the assessor alone (no finance rights) …
    let levy = serde_json::json!({"receivable_account": "1005-00-0000-00000-11100-000", "revenue_account": "1005-00-0000-00000-41000-000"});
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists/2025/levy"),
            &assessor,
            Some(levy.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("finance"), "{}", r.text());
    // … by the town administrator, once the books have the accounts and the year.
    let admin = app.demo_session("townadmin.hartford").await;
    for (path, body) in [
        (
            "funds",
            serde_json::json!({"code": "1005", "name": "General Fund", "fund_type": "general"}),
        ),
        (
            "accounts",
            serde_json::json!({"account": "1005-00-0000-00000-11100-000", "name": "Property taxes receivable"}),
        ),
        (
            "accounts",
            serde_json::json!({"account": "1005-00-0000-00000-41000-000", "name": "Property taxes, current levy"}),
        ),
        ("periods", serde_json::json!({"fiscal_year": 2027})),
    ] {
        let r = app
            .api(
                Method::POST,
                &format!("/api/v1/towns/hartford/finance/{path}"),
                &admin,
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists/2025/levy"),
            &admin,
            Some(levy.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let entry = r.json()["levy_entry_id"].as_str().unwrap().to_owned();
    let e = app
        .api(
            Method::GET,
            &format!("/api/v1/towns/hartford/finance/entries/{entry}"),
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            e["status"].as_str(),
            e["date"].as_str(),
            e["fiscal_year"].as_i64()
        ),
        (Some("posted"), Some("2026-07-01"), Some(2027)),
        "{e}"
    );
    let lines: Vec<(&str, &str, &str)> = e["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["account"].as_str().unwrap(),
                l["debit"].as_str().unwrap(),
                l["credit"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("1005-00-0000-00000-11100-000", "41995.01", "0.00"),
            ("1005-00-0000-00000-41000-000", "0.00", "41995.01")
        ]
    );
    // Posted once.
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists/2025/levy"),
            &admin,
            Some(levy),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    // A bill run whose assessor loses the town before it runs is failed by the platform, saying
    // why, so it can be queued again (not left "queued" for ever).
    let r = app
        .api(
            Method::POST,
            &format!("{base}/grand-lists/2025/bill-run"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    crate::valuation::revoke(&app, "assessor.hartford", "hartford").await;
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let gl = app
        .api(
            Method::GET,
            &format!("{base}/grand-lists/2025"),
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            gl["grand_list"]["bills_status"].as_str(),
            gl["grand_list"]["bills_error"].as_str()
        ),
        (
            Some("failed"),
            Some(
                "assessor.hartford may no longer edit assessment data in Hartford; ask for it again"
            )
        ),
        "{gl}"
    );
}
