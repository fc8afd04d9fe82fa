//! Board of Assessment Appeals and certificates of correction, on both
//! databases, against values computed by hand: the same four-account roll as
//! the grand-list test (net list $1,207,100; a $42,000 levy sets 34.79
//! mills), taken as the 2026 list on November 26, 2026.
//!
//! - Petition deadline: February 20, 2027 (the list was signed before
//!   January 31; CGS 12-111).
//! - The board reduces RE-1-1-2 from $56,000 land + $170,420 buildings
//!   (net $226,420, tax $7,877.15) to $56,000 + $154,000 = $210,000:
//!   210,000 × 34.79 ÷ 1,000 = $7,305.90, two installments of $3,652.95;
//!   an abatement of $571.25.
//! - A clerical correction on RE-1-1-1 sets its buildings to $100,000:
//!   $135,000 gross less the $1,000 veteran's exemption = $134,000 net,
//!   tax $4,661.86 (was $4,835.81).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::assessment::{SMALL_ROLL, pdf_text};
use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(a_petition_is_heard_decided_corrected_billed_and_posted);

const BASE: &str = "/api/v1/towns/hartford/assessment";

async fn call(
    app: &TestApp,
    m: Method,
    path: &str,
    who: &Auth,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let r = app.api(m, &format!("{BASE}/{path}"), who, body).await;
    let text = r.text();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (r.status, json, text)
}

fn petition(account: &str, filed_on: &str, grounds: &str) -> Value {
    json!({
        "list_year": 2026, "account": account, "appellant": "Bo Chen", "contact": "3 Main St, Hartford",
        "filed_on": filed_on, "grounds": grounds, "opinion": "300,000"
    })
}

async fn a_petition_is_heard_decided_corrected_billed_and_posted(app: TestApp) {
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
    let (s, _, t) = call(
        &app,
        Method::POST,
        "grand-lists",
        &assessor,
        Some(json!({"list_year": 2026})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");

    // Only a signed list is appealed.
    let (s, _, t) = call(
        &app,
        Method::POST,
        "appeals",
        &assessor,
        Some(petition(
            "RE-1-1-2",
            "2026-11-26",
            "Assessed above what it would sell for",
        )),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    assert!(t.contains("not signed"), "{t}");
    let (s, _, t) = call(&app, Method::POST, "grand-lists/2026/sign", &assessor, None).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let rate = json!({"levy": "42,000.00", "collector_name": "Tax Collector, City of Hartford",
        "collector_address": "550 Main Street\nHartford, CT 06103", "collector_phone": "860-757-9630"});
    let (s, g, t) = call(
        &app,
        Method::PUT,
        "grand-lists/2026/mill-rate",
        &assessor,
        Some(rate),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(g["mill_rate"], "34.79");

    // Bad petitions name the field.
    for (body, field) in [
        (
            petition(
                "RE-9-9-9",
                "2026-11-26",
                "Assessed above what it would sell for",
            ),
            "account",
        ),
        (petition("RE-1-1-2", "2026-11-26", "too high"), "grounds"),
        (
            petition(
                "RE-1-1-2",
                "2026-12-01",
                "Assessed above what it would sell for",
            ),
            "filed_on",
        ),
        (
            petition(
                "RE-1-1-2",
                "2026-11-01",
                "Assessed above what it would sell for",
            ),
            "filed_on",
        ),
        (
            petition(
                "RE-1-1-2",
                "26/11/2026",
                "Assessed above what it would sell for",
            ),
            "filed_on",
        ),
        (
            json!({"list_year": 2026, "account": "RE-1-1-2", "appellant": "Bo Chen", "filed_on": "2026-11-26",
                   "grounds": "Assessed above what it would sell for", "opinion": "-5"}),
            "opinion",
        ),
        (
            json!({"list_year": 2026, "account": "RE-1-1-2", "appellant": " ", "filed_on": "2026-11-26",
                   "grounds": "Assessed above what it would sell for"}),
            "appellant",
        ),
    ] {
        let (s, e, t) = call(&app, Method::POST, "appeals", &assessor, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
        assert_eq!(e["field"], field, "{t}");
    }

    let (s, a, t) = call(
        &app,
        Method::POST,
        "appeals",
        &assessor,
        Some(petition(
            "RE-1-1-2",
            "2026-11-26",
            "Assessed above what it would sell for",
        )),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(a["number"], "2026-001");
    assert_eq!(a["status"], "filed");
    assert_eq!(a["opinion_cents"], 30_000_000);
    assert_eq!(a["petition_deadline"], "2027-02-20");
    let id = a["id"].as_str().unwrap().to_owned();
    // One open petition per account.
    let (s, _, t) = call(
        &app,
        Method::POST,
        "appeals",
        &assessor,
        Some(petition(
            "RE-1-1-2",
            "2026-11-26",
            "Assessed above what it would sell for, again",
        )),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    assert!(t.contains("2026-001"), "{t}");
    // A second petition, withdrawn.
    let (s, w, t) = call(
        &app,
        Method::POST,
        "appeals",
        &assessor,
        Some(petition(
            "RE-1-1-4",
            "2026-11-26",
            "Income approach gives far less",
        )),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(w["number"], "2026-002");
    let wid = w["id"].as_str().unwrap();
    let (s, _, t) = call(
        &app,
        Method::POST,
        &format!("appeals/{wid}/withdrawal"),
        &assessor,
        Some(json!({"version": 7})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    let (s, w, t) = call(
        &app,
        Method::POST,
        &format!("appeals/{wid}/withdrawal"),
        &assessor,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(w["status"], "withdrawn");

    // Hearings are in March or April after the list year.
    let (s, e, t) = call(&app, Method::PUT, &format!("appeals/{id}/hearing"), &assessor,
        Some(json!({"hearing_at": "2027-05-03T18:00", "hearing_place": "Town Hall, Room 1", "version": 1}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert_eq!(e["field"], "hearing_at");
    let (s, a, t) = call(&app, Method::PUT, &format!("appeals/{id}/hearing"), &assessor,
        Some(json!({"hearing_at": "2027-03-10T18:00", "hearing_place": "Town Hall, Room 1", "version": 1}))).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (a["status"].as_str(), a["hearing_at"].as_str()),
        (Some("scheduled"), Some("2027-03-10T18:00"))
    );
    // Not decided before the day comes.
    let decision = json!({"decision": "reduced", "decided_on": "2027-03-10", "notice_mailed_on": "2027-03-12",
        "note": "Comparable sales on Main St support $300,000", "land": "56,000", "building": "154,000", "version": 2});
    let (s, e, t) = call(
        &app,
        Method::POST,
        &format!("appeals/{id}/decision"),
        &assessor,
        Some(decision.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert_eq!(e["field"], "decided_on");

    // March 12, 2027.
    app.advance(time::Duration::days(106));
    let assessor = app.demo_session("assessor.hartford").await;
    // A petition received after February 20 is late; one received on the day is not.
    let (s, e, t) = call(
        &app,
        Method::POST,
        "appeals",
        &assessor,
        Some(petition(
            "RE-1-1-3",
            "2027-02-21",
            "Forest land valued as building lot",
        )),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert_eq!(e["field"], "filed_on");
    assert!(t.contains("2027-02-20"), "{t}");
    let (s, late, t) = call(
        &app,
        Method::POST,
        "appeals",
        &assessor,
        Some(petition(
            "RE-1-1-3",
            "2027-02-20",
            "Forest land valued as building lot",
        )),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    // The board does not hear two petitions at once.
    let (s, e, t) = call(&app, Method::PUT, &format!("appeals/{}/hearing", late["id"].as_str().unwrap()), &assessor,
        Some(json!({"hearing_at": "2027-03-10T18:00", "hearing_place": "Town Hall, Room 1", "version": 1}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    assert_eq!(e["field"], "hearing_at");

    // Only the board (approve) decides: the council's field assessor may not.
    let field = app.demo_session("field.assessor").await;
    let (s, _, t) = call(
        &app,
        Method::POST,
        &format!("appeals/{id}/decision"),
        &field,
        Some(decision.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{t}");
    let mut bad = decision.clone();
    bad["building"] = json!("154,000.50");
    let (s, e, t) = call(
        &app,
        Method::POST,
        &format!("appeals/{id}/decision"),
        &assessor,
        Some(bad),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert_eq!(e["field"], "building");
    let mut bad = decision.clone();
    bad["building"] = json!("180,000");
    let (s, e, _) = call(
        &app,
        Method::POST,
        &format!("appeals/{id}/decision"),
        &assessor,
        Some(bad),
    )
    .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("land"))
    );
    let (s, a, t) = call(
        &app,
        Method::POST,
        &format!("appeals/{id}/decision"),
        &assessor,
        Some(decision),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (a["status"].as_str(), a["decision"].as_str()),
        (Some("decided"), Some("reduced"))
    );
    assert_eq!(a["court_deadline"], "2027-05-12");
    assert_eq!(a["certificate_number"], "CC-2026-0001");
    let c = &a["certificate"];
    assert_eq!(
        [
            &c["before_net_cents"],
            &c["net_cents"],
            &c["before_tax_cents"],
            &c["tax_cents"]
        ]
        .map(|v| v.as_i64().unwrap()),
        [22_642_000, 21_000_000, 787_715, 730_590]
    );
    assert_eq!(c["statute"], "CGS 12-111");

    // A clerical correction (CGS 12-60) keeps the exemption.
    let (s, e, t) = call(&app, Method::POST, "grand-lists/2026/corrections", &assessor,
        Some(json!({"account": "RE-1-1-1", "land": "35,000", "building": "100,000.50", "reason": "Building area keyed twice"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert_eq!(e["field"], "building");
    let (s, e, t) = call(&app, Method::POST, "grand-lists/2026/corrections", &assessor,
        Some(json!({"account": "RE-1-1-1", "land": "35,000", "building": "100,000", "reason": "typo"}))).await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")),
        "{t}"
    );
    let (s, cc, t) = call(&app, Method::POST, "grand-lists/2026/corrections", &assessor,
        Some(json!({"account": "RE-1-1-1", "land": "35,000", "building": "100,000", "reason": "Building area keyed twice"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(cc["number"], "CC-2026-0002");
    assert_eq!(
        [
            &cc["exemptions_cents"],
            &cc["net_cents"],
            &cc["before_tax_cents"],
            &cc["tax_cents"]
        ]
        .map(|v| v.as_i64().unwrap()),
        [100_000, 13_400_000, 483_581, 466_186]
    );

    // The rate book and the bills carry the corrections; the signed list does not change.
    let (_, bills, _) = call(&app, Method::GET, "grand-lists/2026/bills", &assessor, None).await;
    let bill = |acct: &str| {
        bills
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["account"] == acct)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            bill("RE-1-1-2")["tax_cents"].as_i64(),
            bill("RE-1-1-2")["certificate"].as_str()
        ),
        (Some(730_590), Some("CC-2026-0001"))
    );
    assert_eq!(bill("RE-1-1-1")["tax_cents"], 466_186);
    assert_eq!(bill("RE-1-1-4")["tax_cents"], 2_922_360);
    let (_, gl, _) = call(&app, Method::GET, "grand-lists/2026", &assessor, None).await;
    assert_eq!(gl["abstract"]["total"]["net_cents"], 120_710_000);
    // The parcel's record shows its value on the list as corrected: $56,000 + $154,000.
    let (_, p2, _) = call(&app, Method::GET, "parcels/1-1-2", &assessor, None).await;
    let listed = &p2["grand_lists"][0];
    assert_eq!(
        (
            listed["list_year"].as_i64(),
            listed["status"].as_str(),
            listed["item"]["gross_cents"].as_i64(),
            listed["item"]["net_cents"].as_i64(),
            listed["item"]["certificate"].as_str()
        ),
        (
            Some(2026),
            Some("signed"),
            Some(21_000_000),
            Some(21_000_000),
            Some("CC-2026-0001")
        ),
        "{p2}"
    );
    assert_eq!(p2["grand_lists"].as_array().unwrap().len(), 1);
    let r = app
        .api(
            Method::GET,
            &format!("{BASE}/grand-lists/2026/bills/RE-1-1-2"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let text = pdf_text(&r.body);
    for needle in ["210,000", "$7,305.90", "$3,652.95", "CC-2026-0001"] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let (_, list, _) = call(
        &app,
        Method::GET,
        "grand-lists/2026/corrections",
        &assessor,
        None,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (s, _, _) = call(
        &app,
        Method::GET,
        "grand-lists/2026/corrections/CC-2026-0009",
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Posting: the levy first, then the abatement, once.
    let accounts = json!({"receivable_account": "1005-00-0000-00000-11100-000", "revenue_account": "1005-00-0000-00000-41000-000"});
    let admin = app.demo_session("townadmin.hartford").await;
    let (s, _, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/corrections/CC-2026-0001/posting",
        &admin,
        Some(accounts.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    assert!(t.contains("levy"), "{t}");
    for (path, body) in [
        (
            "funds",
            json!({"code": "1005", "name": "General Fund", "fund_type": "general"}),
        ),
        (
            "accounts",
            json!({"account": "1005-00-0000-00000-11100-000", "name": "Property taxes receivable"}),
        ),
        (
            "accounts",
            json!({"account": "1005-00-0000-00000-41000-000", "name": "Property taxes, current levy"}),
        ),
        ("periods", json!({"fiscal_year": 2028})),
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
    let (s, _, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/levy",
        &admin,
        Some(accounts.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (s, posted, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/corrections/CC-2026-0001/posting",
        &admin,
        Some(accounts.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let entry = posted["entry_id"].as_str().unwrap();
    let e = app
        .api(
            Method::GET,
            &format!("/api/v1/towns/hartford/finance/entries/{entry}"),
            &admin,
            None,
        )
        .await
        .json();
    // Dated the levy's July 1 (it is March): never before the levy it adjusts.
    assert_eq!(
        (e["status"].as_str(), e["date"].as_str()),
        (Some("posted"), Some("2027-07-01")),
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
            ("1005-00-0000-00000-41000-000", "571.25", "0.00"),
            ("1005-00-0000-00000-11100-000", "0.00", "571.25")
        ]
    );
    let (s, _, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/corrections/CC-2026-0001/posting",
        &admin,
        Some(accounts),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");

    // Every change left an audit record.
    for (entity, actions) in [
        (
            "appeal",
            &[
                "appeal.file",
                "appeal.schedule",
                "appeal.withdraw",
                "appeal.decide",
            ][..],
        ),
        ("correction", &["correction.issue", "correction.post"][..]),
    ] {
        let page = app
            .api(
                Method::GET,
                &format!("/api/v1/audit?town=hartford&entity_type={entity}&limit=200"),
                &admin,
                None,
            )
            .await
            .json();
        let seen: Vec<&str> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        for a in actions {
            assert!(seen.contains(a), "{a} not audited: {seen:?}");
        }
    }

    // The pages: the petitions list, one petition with its certificate, the certificate.
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/appeals",
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for needle in ["2026-001", "2026-002", "2026-003", "Bo Chen"] {
        assert!(r.text().contains(needle), "{needle}");
    }
    let r = app
        .api(
            Method::GET,
            &format!("/t/hartford/assessment/appeals/{id}"),
            &assessor,
            None,
        )
        .await;
    assert!(
        r.text().contains("CC-2026-0001") && r.text().contains("2027-05-12"),
        "{}",
        r.text()
    );
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/grand-list/2026/corrections/CC-2026-0001",
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("571.25"), "{}", r.text());
    // A bad petition from the form comes back with the field named.
    let r = app
        .form(
            "/t/hartford/assessment/appeals",
            &assessor,
            &[
                ("list_year", "2026"),
                ("account", "RE-1-1-4"),
                ("appellant", "Main Street LLC"),
                ("filed_on", "2027-02-21"),
                ("grounds", "Income approach gives far less"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location().ends_with("/t/hartford/assessment/appeals"),
        "{}",
        r.location()
    );
}
