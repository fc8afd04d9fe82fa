//! Certificates of correction on personal property and motor vehicle
//! accounts, and the supplemental motor-vehicle list (CGS 12-71b), on both
//! databases, against values computed by hand (checked with Python's
//! decimal). The four-account roll, the three vehicles of the October file
//! (`other_property::DMV`) and one late declaration, PP-00001: machinery
//! $50,000 → $35,000 + 25 % = $43,750. The 2026 list is signed with an
//! adopted rate of 37.54 mills; vehicles at the 32.46 cap.
//!
//! Certificates:
//! - PP-00001 to $40,000: tax $1,642.38 → 40,000 × 37.54 ÷ 1,000 = $1,501.60.
//! - MV-4LA012345 (sold in March, not replaced) to $8,200: tax $532.83 →
//!   8,200 × 32.46 ÷ 1,000 = $266.172 → $266.17; an abatement of $266.66.
//! - MV-0JFA00001 through the page's form to $13,000: $431.69 → $421.98.
//!
//! The supplemental list, read on August 15, 2027:
//! - A 2018 Toyota Corolla, retail $20,000 → $14,000, registered December
//!   15, 2026: 10 months; 14,000 × 32.46 ÷ 1,000 × 10 ÷ 12 = $378.70.
//! - A 2022 Tesla Model Y, retail $40,000 → $28,000, registered July 3, 2027
//!   (3 months), replacing Bo Chen's Model 3 on the list ($21,700): net
//!   $6,300; 6,300 × 32.46 ÷ 1,000 × 3 ÷ 12 = $51.1245 → $51.12.
//! - The supplemental levy: $429.82, posted January 1, 2028.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::assessment::{SMALL_ROLL, pdf_text};
use crate::both_dbs;
use crate::harness::{Auth, TestApp};
use crate::other_property::DMV;

both_dbs!(other_accounts_are_corrected_and_the_supplemental_list_is_prorated);

const BASE: &str = "/api/v1/towns/hartford/assessment";

/// Account, months, gross, replaces, credit, net, prorated assessment, tax.
type ItemRow<'a> = (&'a str, i64, i64, &'a str, i64, i64, i64, i64);

const SUPP: &str = "vin,plate,model_year,make,model,owner,mailing_address,retail_value,registered_on,replaces_vin
2T1BURHE0JC000001,NEW1,2018,Toyota,Corolla,Cy Diaz,\"5 Main St, Hartford, CT 06103\",20000,2026-12-15,
5YJ3E1EB0NF000002,EV1,2022,Tesla,Model Y,Bo Chen,\"3 Main St, Hartford, CT 06103\",\"40,000\",2027-07-03,5YJ3E1EA7KF317000
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

async fn upload(app: &TestApp, who: &Auth, path: &str, body: &str) -> (StatusCode, String) {
    let r = app
        .raw(
            Method::POST,
            &format!("{BASE}/{path}"),
            who,
            Some("text/csv"),
            body.as_bytes().to_vec(),
        )
        .await;
    (r.status, r.text())
}

async fn other_accounts_are_corrected_and_the_supplemental_list_is_prorated(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let (s, t) = upload(
        &app,
        &assessor,
        "parcel-imports?file_name=roll.csv",
        SMALL_ROLL,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (s, t) = upload(
        &app,
        &assessor,
        "grand-lists/2026/motor-vehicle-imports?file_name=dmv.csv",
        DMV,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (s, d, t) = call(&app, Method::POST, "grand-lists/2026/personal-property", &assessor,
        Some(json!({"business": "Main Street Hardware", "owner": "Main Street LLC", "location": "100 Main St, Hartford",
            "mailing_address": "100 Main St, Hartford, CT 06103", "source": "filed", "filed_on": "2026-11-10",
            "extended_to": "", "values": {"machinery": "50,000"}}))).await;
    assert_eq!(
        (s, d["account"].as_str(), d["penalty_cents"].as_i64()),
        (StatusCode::CREATED, Some("PP-00001"), Some(875_000)),
        "{t}"
    );
    // The supplemental list follows a signed list with a rate.
    let (s, _, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/supplemental-list",
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    for (m, path, body) in [
        (
            Method::POST,
            "grand-lists",
            Some(json!({"list_year": 2026})),
        ),
        (Method::POST, "grand-lists/2026/sign", None),
        (
            Method::PUT,
            "grand-lists/2026/mill-rate",
            Some(json!({"levy": "50,000.00", "mill_rate": "37.54",
            "collector_name": "Tax Collector, City of Hartford", "collector_address": "550 Main Street\nHartford, CT 06103",
            "collector_phone": "860-555-0100"})),
        ),
    ] {
        let (s, _, t) = call(&app, m, path, &assessor, body).await;
        assert!(s.is_success(), "{path}: {t}");
    }

    // Certificates on personal property and vehicles: the whole assessment.
    let cc = "grand-lists/2026/corrections";
    for (body, field) in [
        (
            json!({"account": "PP-00001", "reason": "Machinery counted twice"}),
            "assessment",
        ),
        (
            json!({"account": "PP-00001", "assessment": "40,000.50", "reason": "Machinery counted twice"}),
            "assessment",
        ),
        (
            json!({"account": "RE-1-1-1", "assessment": "100,000", "reason": "Building area keyed twice"}),
            "assessment",
        ),
        (
            json!({"account": "PP-00001", "assessment": "43,750", "reason": "Machinery counted twice"}),
            "assessment",
        ),
        (
            json!({"account": "PP-00009", "assessment": "1", "reason": "Machinery counted twice"}),
            "account",
        ),
    ] {
        let (s, e, t) = call(&app, Method::POST, cc, &assessor, Some(body)).await;
        assert_eq!(
            (s, e["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{t}"
        );
    }
    let (s, c, t) = call(&app, Method::POST, cc, &assessor,
        Some(json!({"account": "PP-00001", "assessment": "40,000", "reason": "Machinery counted twice on the declaration"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(
        [
            &c["before_building_cents"],
            &c["before_net_cents"],
            &c["net_cents"],
            &c["before_tax_cents"],
            &c["tax_cents"]
        ]
        .map(|v| v.as_i64().unwrap()),
        [4_375_000, 4_375_000, 4_000_000, 164_238, 150_160]
    );
    let (s, c, t) = call(&app, Method::POST, cc, &assessor,
        Some(json!({"account": "MV-4LA012345", "assessment": "8,200", "reason": "Sold in March and not replaced (CGS 12-71c)"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(
        (
            c["number"].as_str(),
            c["before_tax_cents"].as_i64(),
            c["tax_cents"].as_i64()
        ),
        (Some("CC-2026-0002"), Some(53_283), Some(26_617))
    );
    // The page's form corrects a vehicle too.
    let r = app
        .form(
            "/t/hartford/assessment/grand-list/2026/corrections",
            &assessor,
            &[
                ("account", "MV-0JFA00001"),
                ("land", ""),
                ("building", ""),
                ("assessment", "13,000"),
                ("reason", "Retail value keyed from the wrong trim"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let (_, c, t) = call(
        &app,
        Method::GET,
        "grand-lists/2026/corrections/CC-2026-0003",
        &assessor,
        None,
    )
    .await;
    assert_eq!(
        (c["before_tax_cents"].as_i64(), c["tax_cents"].as_i64()),
        (Some(43_169), Some(42_198)),
        "{t}"
    );
    // A petition on personal property: filed now, heard in March, decided in April (below).
    let (s, a, t) = call(&app, Method::POST, "appeals", &assessor,
        Some(json!({"list_year": 2026, "account": "PP-00001", "appellant": "Main Street LLC", "filed_on": "2026-11-26",
            "grounds": "The machinery is worth less than declared"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let appeal = a["id"].as_str().unwrap().to_owned();
    let (s, _, t) = call(&app, Method::PUT, &format!("appeals/{appeal}/hearing"), &assessor,
        Some(json!({"hearing_at": "2027-03-10T18:00", "hearing_place": "Town Hall, Room 1", "version": 1}))).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    // The rate book and the bills carry them.
    let (_, bills, _) = call(&app, Method::GET, "grand-lists/2026/bills", &assessor, None).await;
    let bill = |a: &str| {
        bills
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["account"] == a)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            bill("PP-00001")["tax_cents"].as_i64(),
            bill("PP-00001")["certificate"].as_str()
        ),
        (Some(150_160), Some("CC-2026-0001"))
    );
    assert_eq!(bill("MV-4LA012345")["tax_cents"], 26_617);
    assert_eq!(bill("MV-0JFA00001")["tax_cents"], 42_198);
    assert_eq!(bill("MV-7KF317000")["tax_cents"], 70_438);
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
    for needle in ["8,200", "$266.17", "CC-2026-0002"] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/grand-list/2026/corrections/CC-2026-0002",
            &assessor,
            None,
        )
        .await;
    assert!(
        r.text().contains("$16,415.00") && r.text().contains("$8,200.00"),
        "{}",
        r.text()
    );

    // The levy, then the vehicle's abatement through the ledger.
    let accounts = json!({"receivable_account": "1005-00-0000-00000-11100-000", "revenue_account": "1005-00-0000-00000-41000-000"});
    let admin = app.demo_session("townadmin.hartford").await;
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
        "grand-lists/2026/corrections/CC-2026-0002/posting",
        &admin,
        Some(accounts.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let entry = app
        .api(
            Method::GET,
            &format!(
                "/api/v1/towns/hartford/finance/entries/{}",
                posted["entry_id"].as_str().unwrap()
            ),
            &admin,
            None,
        )
        .await
        .json();
    let lines: Vec<(&str, &str, &str)> = entry["lines"]
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
            ("1005-00-0000-00000-41000-000", "266.66", "0.00"),
            ("1005-00-0000-00000-11100-000", "0.00", "266.66")
        ]
    );

    // The supplemental list. Nothing imported yet: nothing to take.
    let (s, e, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/supplemental-list",
        &assessor,
        None,
    )
    .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("list_year")),
        "{t}"
    );
    let imp = "grand-lists/2026/supplemental-vehicle-imports?file_name=supp.csv";
    // It is November 26, 2026: a registration in January 2027 has not happened.
    let (s, t) = upload(
        &app,
        &assessor,
        imp,
        &SUPP.replace("2026-12-15", "2027-01-15"),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert!(t.contains("row 2, column registered_on"), "{t}");
    assert!(t.contains("future"), "{t}");
    app.advance(time::Duration::days(262));
    let assessor = app.demo_session("assessor.hartford").await;
    let admin = app.demo_session("townadmin.hartford").await;
    // The board reduces PP-00001 from $40,000 to $38,000: 38,000 × 37.54 ÷ 1,000 = $1,426.52.
    let decision = |assessment: &str| {
        json!({"decision": "reduced", "decided_on": "2027-04-01", "note": "Machinery valued at its age-life depreciation",
            "assessment": assessment, "version": 2})
    };
    let (s, e, t) = call(
        &app,
        Method::POST,
        &format!("appeals/{appeal}/decision"),
        &assessor,
        Some(decision("45,000")),
    )
    .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("assessment")),
        "{t}"
    );
    let (s, a, t) = call(
        &app,
        Method::POST,
        &format!("appeals/{appeal}/decision"),
        &assessor,
        Some(decision("38,000")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (
            a["certificate_number"].as_str(),
            a["certificate"]["before_tax_cents"].as_i64(),
            a["certificate"]["tax_cents"].as_i64()
        ),
        (Some("CC-2026-0004"), Some(150_160), Some(142_652)),
        "{t}"
    );
    for (bad, place) in [
        (
            SUPP.replace("2026-12-15", "2026-10-01"),
            "row 2, column registered_on",
        ),
        (
            SUPP.replace("2026-12-15", "2027-08-01"),
            "row 2, column registered_on",
        ),
        (
            SUPP.replace("2026-12-15", "12/15/2026"),
            "row 2, column registered_on",
        ),
        (
            SUPP.replace("2T1BURHE0JC000001", "2T1BURHE0JC00000O"),
            "row 2, column vin",
        ),
        (
            SUPP.replace(
                "5YJ3E1EB0NF000002,EV1,2022,Tesla,Model Y,Bo Chen",
                "1HGCV1F34LA012345,AB12345,2020,Honda,Accord,Ada Byron",
            ),
            "row 3, column vin",
        ),
        (
            SUPP.replace(",5YJ3E1EA7KF317000", ",1FTFW1E50JFA99999"),
            "row 3, column replaces_vin",
        ),
        (
            SUPP.replace(",5YJ3E1EA7KF317000", ",1FTFW1E50JFA00001"),
            "row 3, column replaces_vin",
        ),
        (
            SUPP.replace(",registered_on,", ",registered,"),
            "row 1, column registered_on",
        ),
    ] {
        let (s, t) = upload(&app, &assessor, imp, &bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{place}: {t}");
        assert!(t.contains(place), "{place}: {t}");
    }
    let (_, none, _) = call(
        &app,
        Method::GET,
        "grand-lists/2026/supplemental-vehicles",
        &assessor,
        None,
    )
    .await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    let (s, t) = upload(&app, &assessor, imp, SUPP).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (s, t) = upload(&app, &assessor, imp, SUPP).await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    let (s, out, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/supplemental-list",
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let items: Vec<ItemRow> = out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["account"].as_str().unwrap(),
                i["months"].as_i64().unwrap(),
                i["gross_cents"].as_i64().unwrap(),
                i["replaces_account"].as_str().unwrap(),
                i["credit_cents"].as_i64().unwrap(),
                i["net_cents"].as_i64().unwrap(),
                i["prorated_cents"].as_i64().unwrap(),
                i["tax_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            (
                "MV-0JC000001",
                10,
                1_400_000,
                "",
                0,
                1_400_000,
                1_166_700,
                37_870
            ),
            (
                "MV-0NF000002",
                3,
                2_800_000,
                "MV-7KF317000",
                2_170_000,
                630_000,
                157_500,
                5_112
            ),
        ]
    );
    assert_eq!(
        (
            out["totals"]["tax_cents"].as_i64(),
            out["list"]["mv_mill_rate"].as_str()
        ),
        (Some(42_982), Some("32.46"))
    );
    // Signed, it no longer changes; its levy posts once, dated January 1, 2028.
    let (s, l, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/supplemental-list/sign",
        &assessor,
        None,
    )
    .await;
    assert_eq!(
        (s, l["status"].as_str()),
        (StatusCode::OK, Some("signed")),
        "{t}"
    );
    let (s, t) = upload(&app, &assessor, imp, &SUPP.replace("20000", "20001")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    let (s, _, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/supplemental-list",
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    let r = app
        .api(
            Method::GET,
            &format!("{BASE}/grand-lists/2026/supplemental-list/bills/MV-0JC000001"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = pdf_text(&r.body);
    for needle in [
        "2018 TOYOTA COROLLA",
        "14,000",
        "$378.70",
        "10 of 12 months",
        "10/12 = tax $378.70",
        "26-S-0JC000001",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let r = app
        .api(
            Method::GET,
            &format!("{BASE}/grand-lists/2026/supplemental-list/bills/MV-0NF000002"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = pdf_text(&r.body);
    for needle in ["6,300", "21,700", "$51.12", "MV-7KF317000"] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    // All the bills at once, through the job queue.
    let run = "grand-lists/2026/supplemental-list/bill-run";
    let (s, _, _) = call(&app, Method::GET, run, &assessor, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, l, t) = call(&app, Method::POST, run, &assessor, None).await;
    assert_eq!(
        (s, l["bills_status"].as_str()),
        (StatusCode::ACCEPTED, Some("queued")),
        "{t}"
    );
    let (s, _, t) = call(&app, Method::POST, run, &assessor, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let (_, out, _) = call(
        &app,
        Method::GET,
        "grand-lists/2026/supplemental-list",
        &assessor,
        None,
    )
    .await;
    assert_eq!(
        (
            out["list"]["bills_status"].as_str(),
            out["list"]["bills_count"].as_i64()
        ),
        (Some("done"), Some(2)),
        "{out}"
    );
    let r = app
        .api(Method::GET, &format!("{BASE}/{run}"), &assessor, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = pdf_text(&r.body);
    for needle in ["$378.70", "$51.12", "26-S-0NF000002"] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let (s, _, _) = call(
        &app,
        Method::GET,
        "grand-lists/2026/supplemental-list/bills/MV-0NF999999",
        &assessor,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, l, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/supplemental-list/levy",
        &admin,
        Some(accounts.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let entry = app
        .api(
            Method::GET,
            &format!(
                "/api/v1/towns/hartford/finance/entries/{}",
                l["levy_entry_id"].as_str().unwrap()
            ),
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(entry["date"], "2028-01-01", "{entry}");
    let debits: Vec<&str> = entry["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["debit"].as_str().unwrap())
        .collect();
    assert_eq!(debits, ["429.82", "0.00"]);
    let (s, _, t) = call(
        &app,
        Method::POST,
        "grand-lists/2026/supplemental-list/levy",
        &admin,
        Some(accounts),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{t}");

    // The page's section.
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/grand-list/2026/motor-vehicles",
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for needle in [
        "MV-0JC000001",
        "$378.70",
        "$11,667.00",
        "id=\"sup-levy\">$429.82",
        "supplemental-list/bills/MV-0NF000002",
    ] {
        assert!(r.text().contains(needle), "{needle} not in\n{}", r.text());
    }

    // Every change left an audit record.
    let page = app
        .api(
            Method::GET,
            "/api/v1/audit?town=hartford&entity_type=supplemental_list&limit=50",
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
    for a in [
        "supplemental.take",
        "supplemental.sign",
        "supplemental.levy",
    ] {
        assert!(seen.contains(&a), "{a} not audited: {seen:?}");
    }
}
