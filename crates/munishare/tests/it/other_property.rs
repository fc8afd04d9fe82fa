//! The grand list's other two parts, on both databases, against values
//! computed by hand (and checked with Python's decimal): the four-account
//! roll of the grand-list test (net $1,207,100), four personal property
//! declarations and three motor vehicles on the 2026 list, taken on
//! November 26, 2026. November 1, 2026 is a Sunday, so declarations are due
//! Monday, November 2; an extension runs to December 17 at the latest.
//!
//! - PP-00001, on time: furniture $12,345 → $8,641.50 → $8,642; computers
//!   $4,000 → $2,800; $11,442.
//! - PP-00002, filed November 10 (late): machinery $50,000 → $35,000 plus
//!   25 % = $8,750: $43,750.
//! - PP-00003, extension to December 1, filed November 20: supplies $1,000 → $700.
//! - PP-00004, none filed, the assessor's estimate: $20,000 → $14,000 plus
//!   $3,500: $17,500. Personal property on the list: $73,392.
//! - Vehicles at 70 % of retail: $23,450 → $16,415; $31,000 → $21,700;
//!   $18,999 → $13,299.30 → $13,299. Together $51,414.
//! - Net list $1,331,906; a $50,000 levy gives 37.540186… → 37.54 mills;
//!   vehicles at the 32.46 cap: $532.83, $704.38, $431.69 (at 37.54 they
//!   would be $616.22, $814.62, $499.24: $261.18 forgone); the bills add up
//!   to $49,738.58.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::assessment::{SMALL_ROLL, pdf_text};
use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(declarations_and_vehicles_join_the_list_at_their_own_rates);

const BASE: &str = "/api/v1/towns/hartford/assessment";

pub(crate) const DMV: &str = "vin,plate,model_year,make,model,owner,mailing_address,retail_value
1HGCV1F34LA012345,AB12345,2020,Honda,Accord,Ada Byron,\"1 Main St, Hartford, CT 06103\",\"23,450\"
5YJ3E1EA7KF317000,EV1,2019,Tesla,Model 3,Bo Chen,\"3 Main St, Hartford, CT 06103\",31000
1FTFW1E50JFA00001,MSL1,2018,Ford,F-150,Main Street LLC,\"100 Main St, Hartford, CT 06103\",18999
";

async fn call(
    app: &TestApp,
    m: Method,
    path: &str,
    who: &Auth,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let r = app.api(m, &format!("{BASE}/{path}"), who, body).await;
    let text = r.text();
    (
        r.status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn declaration(
    business: &str,
    source: &str,
    filed_on: &str,
    extended_to: &str,
    values: Value,
) -> Value {
    json!({"business": business, "owner": format!("{business} Owner"), "location": "1 Commerce Way, Hartford",
           "mailing_address": "PO Box 1, Hartford, CT 06101", "source": source, "filed_on": filed_on,
           "extended_to": extended_to, "values": values})
}

async fn declarations_and_vehicles_join_the_list_at_their_own_rates(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let r = app
        .raw(
            Method::POST,
            &format!("{BASE}/parcel-imports?file_name=roll.csv"),
            &assessor,
            Some("text/csv"),
            SMALL_ROLL.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let pp = "grand-lists/2026/personal-property";

    // Bad declarations name the field.
    for (body, field) in [
        (
            declaration(
                "A",
                "filed",
                "2026-10-28",
                "2026-12-20",
                json!({"furniture": "100"}),
            ),
            "extended_to",
        ),
        (
            declaration("A", "filed", "2026-10-28", "", json!({"boats": "100"})),
            "values.boats",
        ),
        (
            declaration(
                "A",
                "filed",
                "2026-10-28",
                "",
                json!({"furniture": "12.50"}),
            ),
            "values.furniture",
        ),
        (
            declaration("A", "filed", "2026-10-28", "", json!({})),
            "values",
        ),
        (
            declaration("A", "maybe", "2026-10-28", "", json!({"furniture": "100"})),
            "source",
        ),
        (
            declaration("A", "filed", "2026-11-27", "", json!({"furniture": "100"})),
            "filed_on",
        ),
        (
            declaration(
                "A",
                "estimated",
                "",
                "2026-12-10",
                json!({"furniture": "100"}),
            ),
            "source",
        ),
        (
            declaration(" ", "filed", "2026-10-28", "", json!({"furniture": "100"})),
            "business",
        ),
    ] {
        let (s, e, t) = call(&app, Method::POST, pp, &assessor, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
        assert_eq!(e["field"], field, "{t}");
    }
    let filed = [
        (
            declaration(
                "Désirée's Bakery LLC",
                "filed",
                "2026-10-28",
                "",
                json!({"furniture": "12,345", "computers": "4000"}),
            ),
            "PP-00001",
            1_144_200,
            0,
        ),
        (
            declaration(
                "Main Street Hardware",
                "filed",
                "2026-11-10",
                "",
                json!({"machinery": "50,000"}),
            ),
            "PP-00002",
            3_500_000,
            875_000,
        ),
        (
            declaration(
                "Capitol Florist",
                "filed",
                "2026-11-20",
                "2026-12-01",
                json!({"supplies": "1,000"}),
            ),
            "PP-00003",
            70_000,
            0,
        ),
        (
            declaration(
                "Unfiled Auto Body",
                "estimated",
                "",
                "",
                json!({"other": "20,000"}),
            ),
            "PP-00004",
            1_400_000,
            350_000,
        ),
    ];
    let mut first = Value::Null;
    for (body, account, assessed, penalty) in filed {
        let (s, d, t) = call(&app, Method::POST, pp, &assessor, Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        assert_eq!(
            (
                d["account"].as_str(),
                d["assessed_cents"].as_i64(),
                d["penalty_cents"].as_i64()
            ),
            (Some(account), Some(assessed), Some(penalty)),
            "{t}"
        );
        if first.is_null() {
            first = d;
        }
    }
    let lines: Vec<(&str, i64, i64)> = first["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["category"].as_str().unwrap(),
                l["value_cents"].as_i64().unwrap(),
                l["assessed_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("computers", 400_000, 280_000),
            ("furniture", 1_234_500, 864_200)
        ]
    );
    // The same account twice is refused; a change needs the version read.
    let id = first["id"].as_str().unwrap();
    let mut again = declaration(
        "Désirée's Bakery LLC",
        "filed",
        "2026-10-28",
        "",
        json!({"furniture": "12,345"}),
    );
    again["account"] = json!("PP-00001");
    let (s, _, t) = call(&app, Method::POST, pp, &assessor, Some(again.clone())).await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    again["version"] = json!(9);
    let (s, _, t) = call(
        &app,
        Method::PUT,
        &format!("personal-property/{id}"),
        &assessor,
        Some(again.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    again["version"] = json!(1);
    again["values"] = json!({"furniture": "12,345", "computers": "4,000"});
    let (s, d, t) = call(
        &app,
        Method::PUT,
        &format!("personal-property/{id}"),
        &assessor,
        Some(again),
    )
    .await;
    assert_eq!(
        (s, d["version"].as_i64(), d["assessed_cents"].as_i64()),
        (StatusCode::OK, Some(2), Some(1_144_200)),
        "{t}"
    );

    // The DMV's file: errors by row and column, nothing imported; then the file; the same file twice is refused.
    let import = |body: String| {
        let app = &app;
        let assessor = &assessor;
        async move {
            app.raw(
                Method::POST,
                &format!("{BASE}/grand-lists/2026/motor-vehicle-imports?file_name=dmv-2026.csv"),
                assessor,
                Some("text/csv"),
                body.into_bytes(),
            )
            .await
        }
    };
    let r = import(
        DMV.replace("2019,Tesla", "2019,")
            .replace(",Model 3,", ",,"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.text().contains("dmv-2026.csv, row 3, column make"),
        "{}",
        r.text()
    );
    let (_, none, _) = call(
        &app,
        Method::GET,
        "grand-lists/2026/motor-vehicles",
        &assessor,
        None,
    )
    .await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    let r = import(DMV.to_owned()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = import(DMV.to_owned()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let (_, vehicles, _) = call(
        &app,
        Method::GET,
        "grand-lists/2026/motor-vehicles",
        &assessor,
        None,
    )
    .await;
    let got: Vec<(&str, i64)> = vehicles
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["vin"].as_str().unwrap(),
                v["assessed_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1FTFW1E50JFA00001", 1_329_900),
            ("1HGCV1F34LA012345", 1_641_500),
            ("5YJ3E1EA7KF317000", 2_170_000)
        ]
    );

    // The list: three parts, by class.
    let (s, _, t) = call(
        &app,
        Method::POST,
        "grand-lists",
        &assessor,
        Some(json!({"list_year": 2026})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (_, gl, _) = call(&app, Method::GET, "grand-lists/2026", &assessor, None).await;
    let line = |class: &str| {
        gl["abstract"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["class"] == class)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            line("personal")["accounts"].as_i64(),
            line("personal")["net_cents"].as_i64()
        ),
        (Some(4), Some(7_339_200))
    );
    assert_eq!(
        (
            line("motor_vehicle")["accounts"].as_i64(),
            line("motor_vehicle")["net_cents"].as_i64()
        ),
        (Some(3), Some(5_141_400))
    );
    assert_eq!(gl["abstract"]["total"]["net_cents"], 133_190_600);
    let (s, _, t) = call(&app, Method::POST, "grand-lists/2026/sign", &assessor, None).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    // Signed: declarations and vehicles no longer change.
    let (s, _, t) = call(
        &app,
        Method::POST,
        pp,
        &assessor,
        Some(declaration(
            "Late Co",
            "filed",
            "2026-11-26",
            "",
            json!({"other": "100"}),
        )),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    let r = import(DMV.replace("23,450", "23,451")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    // Rates: an adopted vehicle rate above the cap is refused; by default vehicles are capped.
    let rate = |mv: &str| {
        json!({"levy": "50,000.00", "mv_mill_rate": mv, "collector_name": "Tax Collector, City of Hartford",
        "collector_address": "550 Main Street\nHartford, CT 06103", "collector_phone": "860-555-0100"})
    };
    let (s, e, t) = call(
        &app,
        Method::PUT,
        "grand-lists/2026/mill-rate",
        &assessor,
        Some(rate("33.00")),
    )
    .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("mv_mill_rate")),
        "{t}"
    );
    let (s, g, t) = call(
        &app,
        Method::PUT,
        "grand-lists/2026/mill-rate",
        &assessor,
        Some(rate("")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (g["mill_rate"].as_str(), g["mv_mill_rate"].as_str()),
        (Some("37.54"), Some("32.46"))
    );
    let (_, bills, _) = call(&app, Method::GET, "grand-lists/2026/bills", &assessor, None).await;
    let bill = |a: &str| {
        bills
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["account"] == a)
            .cloned()
            .unwrap_or_else(|| panic!("{a}"))
    };
    for (account, tax) in [
        ("RE-1-1-1", 521_806),
        ("RE-1-1-4", 3_153_360),
        ("PP-00001", 42_953),
        ("PP-00002", 164_238),
        ("PP-00004", 65_695),
        ("MV-4LA012345", 53_283),
        ("MV-7KF317000", 70_438),
        ("MV-0JFA00001", 43_169),
    ] {
        assert_eq!(bill(account)["tax_cents"], tax, "{account}");
    }
    // A vehicle's tax is due in one installment, even above the threshold.
    assert_eq!(
        bill("MV-7KF317000")["installments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        bill("PP-00002")["installments"].as_array().unwrap().len(),
        2
    );
    let (_, gl, _) = call(&app, Method::GET, "grand-lists/2026", &assessor, None).await;
    assert_eq!(
        (
            gl["levy"]["billed_cents"].as_i64(),
            gl["levy"]["mv_forgone_cents"].as_i64()
        ),
        (Some(4_973_858), Some(26_118))
    );
    // The vehicle's bill says what it is.
    let r = app
        .api(
            Method::GET,
            &format!("{BASE}/grand-lists/2026/bills/MV-4LA012345"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = pdf_text(&r.body);
    for needle in [
        "2020 HONDA ACCORD",
        "1HGCV1F34LA012345",
        "32.46",
        "$532.83",
        "16,415",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let r = app
        .api(
            Method::GET,
            &format!("{BASE}/grand-lists/2026/bills/PP-00001"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = pdf_text(&r.body);
    for needle in ["Désirée's Bakery LLC", "11,442", "$429.53"] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }

    // The pages.
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/grand-list/2026/personal-property",
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text().contains("PP-00004") && r.text().contains("$73,392.00"),
        "{}",
        r.text()
    );
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/grand-list/2026/motor-vehicles?q=tesla",
            &assessor,
            None,
        )
        .await;
    assert!(
        r.text().contains("5YJ3E1EA7KF317000") && !r.text().contains("1HGCV1F34LA012345"),
        "{}",
        r.text()
    );
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/grand-list/2026/motor-vehicles?format=csv",
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.text().lines().count(), 4, "{}", r.text());
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/grand-list/2026",
            &assessor,
            None,
        )
        .await;
    assert!(r.text().contains("id=\"mv-rate\">32.46"), "{}", r.text());
}
