//! The UCOA catalog and a town's crosswalk over HTTP: everyone signed in reads
//! the catalog with its labels, only a council administrator imports OPM's
//! list, and a town that keeps its own chart is sent from the filing to the
//! crosswalk page while accounts with activity are unmapped.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::both_dbs;
use crate::harness::TestApp;

both_dbs!(
    the_catalog_is_labelled_and_the_filing_needs_the_crosswalk,
    towns_compare_only_after_opting_in
);

async fn the_catalog_is_labelled_and_the_filing_needs_the_crosswalk(app: TestApp) {
    let clerk = app.demo_session("clerk.hartford").await;
    let page = app
        .raw(Method::GET, "/finance/ucoa", &clerk, None, Vec::new())
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("seen in OPM&#x27;s published data")
            || html.contains("seen in OPM's published data"),
        "{html}"
    );
    assert!(html.contains("illustrative — not from an official source"));
    assert!(
        !html.contains("import-ucoa"),
        "only administrators see the import form"
    );
    let csv = app
        .raw(
            Method::GET,
            "/finance/ucoa?segment=department&format=csv",
            &clerk,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(csv.starts_with("segment,code,name,source,label"), "{csv}");
    assert!(
        csv.contains("department,4201,Police,observed,seen in OPM's published data"),
        "{csv}"
    );
    assert!(!csv.contains("object,"), "filtered to one segment");

    // Only a council administrator imports the official list; a bad file names its rows.
    let url = "/api/v1/admin/ucoa/codes?file_name=opm.csv";
    let r = app
        .raw(
            Method::POST,
            url,
            &clerk,
            Some("text/csv"),
            b"segment,code,name\nobject,10100,Cash\n".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let admin = app.demo_session("admin").await;
    let r = app
        .raw(
            Method::POST,
            url,
            &admin,
            Some("text/csv"),
            b"segment,code,name\nobject,1010,Cash\n".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["problems"][0]["row"], 2);
    assert_eq!(r.json()["problems"][0]["column"], "code");
    let r = app
        .raw(
            Method::POST,
            url,
            &admin,
            Some("text/csv"),
            b"segment,code,name\nobject,10100,Cash\n".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let codes = app
        .api(Method::GET, "/api/v1/ucoa/codes", &clerk, None)
        .await
        .json();
    let cash = codes
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["segment"] == "object" && c["code"] == "10100")
        .unwrap();
    assert_eq!(
        (cash["source"].as_str(), cash["label"].as_str()),
        (Some("official"), Some("official (OPM code list)"))
    );

    // Hartford's books keep a local chart: a posted entry, no crosswalk yet.
    let director = app.demo_session("townadmin.hartford").await;
    for (path, body) in [
        (
            "funds",
            json!({"code": "1000", "name": "General", "fund_type": "general"}),
        ),
        (
            "accounts",
            json!({"account": "1000-00-0000-00000-10100-000", "name": "Cash"}),
        ),
        (
            "accounts",
            json!({"account": "1000-00-0000-00000-40100-000", "name": "Taxes"}),
        ),
        ("periods", json!({"fiscal_year": 2027})),
    ] {
        let r = app
            .api(
                Method::POST,
                &format!("/api/v1/towns/hartford/finance/{path}"),
                &director,
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let e = app.api(Method::POST, "/api/v1/towns/hartford/finance/entries", &director, Some(json!({
        "date": "2026-08-03", "description": "Taxes",
        "lines": [{"account": "1000-00-0000-00000-10100-000", "debit": "75.00"}, {"account": "1000-00-0000-00000-40100-000", "credit": "75.00"}]
    }))).await;
    let id = e.json()["id"].as_str().unwrap().to_owned();
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/towns/hartford/finance/entries/{id}/post"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .form(
            "/t/hartford/finance/crosswalk/chart",
            &director,
            &[("chart", "local")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let cw = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/finance/crosswalk?fiscal_year=2027",
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(cw["chart"], "local");
    assert_eq!(
        cw["unmapped"],
        json!([
            "1000-00-0000-00000-10100-000",
            "1000-00-0000-00000-40100-000"
        ])
    );

    // The filing page sends the director to the crosswalk, saying which accounts; the API refuses with 409.
    let r = app
        .raw(
            Method::GET,
            "/t/hartford/finance/ucoa-filing?fiscal_year=2027",
            &director,
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .starts_with("/t/hartford/finance/crosswalk")
    );
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/finance/years/2027/ucoa-filing",
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text().contains("2 account(s)"), "{}", r.text());
    let html = app
        .raw(
            Method::GET,
            "/t/hartford/finance/crosswalk?fiscal_year=2027",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        html.contains("id=\"unmapped\"") && html.contains("1000-00-0000-00000-40100-000"),
        "{html}"
    );

    // A crosswalk version maps both; the filing runs with the uniform accounts.
    let file = "account,uniform_account\n1000-00-0000-00000-10100-000,1005-00-0000-00000-10100-000\n1000-00-0000-00000-40100-000,1005-00-0000-00000-41000-000\n";
    let r = app
        .raw(Method::POST, "/api/v1/towns/hartford/finance/imports?kind=crosswalk&fiscal_year=2027&file_name=cw.csv", &director, Some("text/csv"), file.into())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/finance/years/2027/ucoa-filing",
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.text().contains("1005-00-0000-00000-41000-000"),
        "{}",
        r.text()
    );
    let html = app
        .raw(
            Method::GET,
            "/t/hartford/finance/crosswalk?fiscal_year=2027",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        html.contains("unmapped-none") && html.contains("Property taxes"),
        "{html}"
    );
}

async fn towns_compare_only_after_opting_in(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let html = app
        .raw(
            Method::GET,
            "/t/hartford/finance/benchmarks",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        html.contains("Hartford does not share its benchmarks")
            && html.contains("Share and compare"),
        "{html}"
    );
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/finance/benchmarks?fiscal_year=2027",
            &director,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A clerk cannot opt the town in.
    let clerk = app.demo_session("clerk.hartford").await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/finance/benchmarks/sharing",
            &clerk,
            Some(json!({"share": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = app
        .form(
            "/t/hartford/finance/benchmarks/sharing",
            &director,
            &[("share", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let html = app
        .raw(
            Method::GET,
            "/t/hartford/finance/benchmarks?fiscal_year=2027",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        html.contains("id=\"benchmarks\"") && html.contains("Stop sharing"),
        "{html}"
    );
    let csv = app
        .raw(
            Method::GET,
            "/t/hartford/finance/benchmarks?fiscal_year=2027&format=csv",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        csv.starts_with("function,name,source,Hartford per capita"),
        "{csv}"
    );
    let b = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/finance/benchmarks?fiscal_year=2027",
            &director,
            None,
        )
        .await
        .json();
    assert_eq!(b["towns"][0]["population"], 122_587);

    // West Hartford does not share, so it sees nothing of Hartford's.
    let west = app.demo_session("townadmin.west-hartford").await;
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/west-hartford/finance/benchmarks?fiscal_year=2027",
            &west,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
