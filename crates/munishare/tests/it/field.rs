//! Field work, on both databases, against values worked out by hand: permit
//! imports (good file, bad rows naming the row and column, the same file
//! twice, an overlapping file), the CGS 12-62 counts on a six-parcel roll with
//! known inspection dates, the assign → result flow with its refusals, and
//! the regional queue showing exactly the towns that granted the field
//! assessor. The test clock reads 2026-11-26, so the current October 1 is
//! 2026-10-01 and a full inspection before 2016-10-01 is too old.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::assessment::SMALL_ROLL;
use crate::both_dbs;
use crate::harness::{Auth, Resp, TestApp};

both_dbs!(
    permits_import_atomically_and_create_their_inspections,
    compliance_counts_parcels_due_under_cgs_12_62,
    inspections_are_assigned_done_and_queued_across_granted_towns_only,
    field_results_correct_the_parcel_with_audit,
    revaluation_cycles_by_town_and_across_granted_towns_only
);

fn base(town: &str) -> String {
    format!("/api/v1/towns/{town}/assessment")
}

async fn csv(app: &TestApp, who: &Auth, town: &str, path: &str, body: &str) -> Resp {
    app.raw(
        Method::POST,
        &format!("{}/{path}", base(town)),
        who,
        Some("text/csv"),
        body.as_bytes().to_vec(),
    )
    .await
}

async fn call(app: &TestApp, m: Method, path: &str, who: &Auth, body: Option<Value>) -> Resp {
    app.api(m, path, who, body).await
}

fn field_of(r: &Resp) -> String {
    r.json()["field"].as_str().unwrap_or("").to_owned()
}

const PERMITS: &str = "permit_number,parcel_id,issued_on,description,work_type,value
B-2026-0101,1-1-1,2026-11-02,Rear deck,deck,\"12,500\"
B-2026-0102,1-1-4,2026-09-15,Storefront renovation,alteration,250000.00
";

async fn permits_import_atomically_and_create_their_inspections(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let r = csv(
        &app,
        &assessor,
        "hartford",
        "parcel-imports?file_name=roll.csv",
        SMALL_ROLL,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let r = csv(
        &app,
        &assessor,
        "hartford",
        "permit-imports?file_name=permits.csv",
        PERMITS,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let rec = r.json();
    assert_eq!(
        (
            rec["kind"].as_str(),
            rec["rows"].as_i64(),
            rec["added"].as_i64()
        ),
        (Some("permits"), Some(2), Some(2))
    );

    // Each permit made its pick-up inspection, due the first October 1 after
    // issue: 2026-09-15 → 2026-10-01; 2026-11-02 → 2027-10-01.
    let list = call(
        &app,
        Method::GET,
        &format!("{}/inspections", base("hartford")),
        &assessor,
        None,
    )
    .await
    .json();
    let got: Vec<(String, String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["parcel_key"].as_str().unwrap().to_owned(),
                i["reason"].as_str().unwrap().to_owned(),
                i["due_on"].as_str().unwrap().to_owned(),
                i["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "1-1-4".into(),
                "permit".into(),
                "2026-10-01".into(),
                "permit B-2026-0102".into()
            ),
            (
                "1-1-1".into(),
                "permit".into(),
                "2027-10-01".into(),
                "permit B-2026-0101".into()
            ),
        ]
    );

    // The same file again: refused, nothing changes.
    let r = csv(
        &app,
        &assessor,
        "hartford",
        "permit-imports?file_name=permits.csv",
        PERMITS,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.text().contains("imported already"), "{}", r.text());

    // Bad rows name the file, row and column; a good row before a bad one is not kept.
    for (body, field) in [
        (
            "permit_number,parcel_id,issued_on,description\nB-2026-0103,1-1-2,2026-11-20,Porch\nB-2026-0104,9-9-9,2026-11-20,Shed\n",
            "bad.csv, row 3, column parcel_id",
        ),
        (
            "permit_number,parcel_id,issued_on,description\nB-2026-0103,1-1-2,2026-11-31,Porch\n",
            "bad.csv, row 2, column issued_on",
        ),
        (
            "permit_number,parcel_id,issued_on,description,value\nB-2026-0103,1-1-2,2026-11-20,Porch,lots\n",
            "bad.csv, row 2, column value",
        ),
        (
            "permit_number,parcel_id,issued_on,description\nB-2026-0103,1-1-2,2026-11-20,Porch\nB-2026-0103,1-1-3,2026-11-20,Barn\n",
            "bad.csv, row 3, column permit_number",
        ),
        (
            "permit_number,parcel_id,description\nB-2026-0103,1-1-2,Porch\n",
            "bad.csv, row 1, column issued_on",
        ),
    ] {
        let r = csv(
            &app,
            &assessor,
            "hartford",
            "permit-imports?file_name=bad.csv",
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(field_of(&r), field, "{}", r.text());
    }
    let permits = call(
        &app,
        Method::GET,
        &format!("{}/permits", base("hartford")),
        &assessor,
        None,
    )
    .await
    .json();
    assert_eq!(
        permits.as_array().unwrap().len(),
        2,
        "nothing of the bad files was kept"
    );

    // An overlapping export: the permit already held is skipped, the new one added.
    let r = csv(
        &app,
        &assessor,
        "hartford",
        "permit-imports?file_name=permits-2.csv",
        "permit_number,parcel_id,issued_on,description\nB-2026-0101,1-1-1,2026-11-02,Rear deck\nB-2026-0103,1-1-2,2026-11-20,Porch\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        (r.json()["rows"].as_i64(), r.json()["added"].as_i64()),
        (Some(2), Some(1))
    );

    // The list, newest first, filtered; values in cents ("12,500" → 1,250,000).
    let permits = call(
        &app,
        Method::GET,
        &format!("{}/permits", base("hartford")),
        &assessor,
        None,
    )
    .await
    .json();
    let numbers: Vec<&str> = permits
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permit_number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["B-2026-0103", "B-2026-0101", "B-2026-0102"]);
    assert_eq!(permits[1]["value_cents"], 1_250_000);
    assert_eq!(permits[2]["value_cents"], 25_000_000);
    let deck = call(
        &app,
        Method::GET,
        &format!("{}/permits?q=DECK", base("hartford")),
        &assessor,
        None,
    )
    .await
    .json();
    assert_eq!(deck.as_array().unwrap().len(), 1);
    let since = call(
        &app,
        Method::GET,
        &format!("{}/permits?from=2026-10-01", base("hartford")),
        &assessor,
        None,
    )
    .await
    .json();
    assert_eq!(since.as_array().unwrap().len(), 2);
    let r = call(
        &app,
        Method::GET,
        &format!("{}/permits?from=soon", base("hartford")),
        &assessor,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_of(&r), "from");

    // The page exports the same list.
    let r = app
        .api(
            Method::GET,
            "/t/hartford/assessment/field/permits?format=csv",
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(
        text.starts_with("permit_number,parcel_id,location,issued_on"),
        "{text}"
    );
    assert!(text.contains("B-2026-0102,1-1-4,100 Main St,2026-09-15,alteration,Storefront renovation,\"$250,000.00\",open"), "{text}");
}

/// Six parcels and their history (cutoff 2016-10-01):
///
/// | parcel | nbhd | history | due? |
/// |---|---|---|---|
/// | 1-1-1 | N1 | interior 2016-10-01 (exactly ten years) | no |
/// | 1-1-2 | N1 | interior 2016-09-30 | yes |
/// | 1-1-3 | N1 | exterior only 2020-05-01 | yes, never fully |
/// | 2-1-1 | N2 | mailer sent 2019-03-01, returned 2019-04-15 | no |
/// | 2-1-2 | N2 | mailer sent 2019-03-01, never returned | yes, never, scheduled |
/// | 3-1-1 | C1 | interior 2010-06-01 and 2025-06-01 | no |
///
/// So N1: 3 parcels, 2 due, 1 never, 0 scheduled; N2: 2, 1, 1, 1; C1: 1, 0,
/// 0, 0; the town: 6, 3, 2, 1.
const ROLL6: &str =
    "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner
1-1-1,1 Elm St,N1,residential,10000,50000,150000,A One
1-1-2,2 Elm St,N1,residential,10000,50000,150000,B Two
1-1-3,3 Elm St,N1,residential,10000,50000,150000,C Three
2-1-1,1 Oak St,N2,residential,10000,50000,150000,D Four
2-1-2,2 Oak St,N2,residential,10000,50000,150000,E Five
3-1-1,1 Main St,C1,commercial,40000,300000,900000,F Six LLC
";

async fn inspect(app: &TestApp, who: &Auth, parcel: &str, on: &str, interior: bool) {
    let b = base("hartford");
    let r = call(
        app,
        Method::POST,
        &format!("{b}/inspections"),
        who,
        Some(json!({"parcel": parcel, "reason": "other", "due_on": on, "notes": "history"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = call(
        app,
        Method::POST,
        &format!("{b}/inspections/{id}/assignment"),
        who,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = call(
        app,
        Method::POST,
        &format!("{b}/inspections/{id}/result"),
        who,
        Some(json!({"version": 2, "inspected_on": on, "interior": interior})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

fn counts(c: &Value) -> Vec<(String, i64, i64, i64, i64)> {
    c["by_neighbourhood"]
        .as_array()
        .unwrap()
        .iter()
        .chain(std::iter::once(&c["total"]))
        .map(|n| {
            (
                n["neighbourhood"].as_str().unwrap().to_owned(),
                n["parcels"].as_i64().unwrap(),
                n["due"].as_i64().unwrap(),
                n["never"].as_i64().unwrap(),
                n["scheduled"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn compliance_counts_parcels_due_under_cgs_12_62(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let b = base("hartford");
    let r = csv(
        &app,
        &assessor,
        "hartford",
        "parcel-imports?file_name=roll6.csv",
        ROLL6,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Before any history: every parcel is due and never inspected.
    let c = call(
        &app,
        Method::GET,
        &format!("{b}/compliance"),
        &assessor,
        None,
    )
    .await
    .json();
    assert_eq!(
        (c["october_1"].as_str(), c["cutoff"].as_str()),
        (Some("2026-10-01"), Some("2016-10-01"))
    );
    assert_eq!(counts(&c).last().unwrap(), &("All".to_owned(), 6, 6, 6, 0));

    inspect(&app, &assessor, "1-1-1", "2016-10-01", true).await;
    inspect(&app, &assessor, "1-1-2", "2016-09-30", true).await;
    inspect(&app, &assessor, "1-1-3", "2020-05-01", false).await;
    inspect(&app, &assessor, "3-1-1", "2010-06-01", true).await;
    inspect(&app, &assessor, "3-1-1", "2025-06-01", true).await;
    // Mailers to N2 (both parcels there are due), one returned.
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/compliance/cyclical"),
        &assessor,
        Some(json!({"method": "mailer", "date": "2019-03-01", "neighbourhood": "N2"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["created"], 2);
    let mailers = call(&app, Method::GET, &format!("{b}/mailers"), &assessor, None)
        .await
        .json();
    let m = mailers
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["parcel_key"] == "2-1-1")
        .unwrap()
        .clone();
    let id = m["id"].as_str().unwrap();
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/mailers/{id}/return"),
        &assessor,
        Some(json!({"version": 1, "returned_on": "2019-02-28"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field_of(&r), "returned_on");
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/mailers/{id}/return"),
        &assessor,
        Some(json!({"version": 1, "returned_on": "2019-04-15"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/mailers/{id}/return"),
        &assessor,
        Some(json!({"version": 2, "returned_on": "2019-04-16"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    let c = call(
        &app,
        Method::GET,
        &format!("{b}/compliance"),
        &assessor,
        None,
    )
    .await
    .json();
    assert_eq!(
        counts(&c),
        vec![
            ("C1".to_owned(), 1, 0, 0, 0),
            ("N1".to_owned(), 3, 2, 1, 0),
            ("N2".to_owned(), 2, 1, 1, 1),
            ("All".to_owned(), 6, 3, 2, 1),
        ]
    );
    let due: Vec<(&str, &str, bool)> = c["due"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["parcel_key"].as_str().unwrap(),
                d["last_full"].as_str().unwrap(),
                d["scheduled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        due,
        [
            ("1-1-2", "2016-09-30", false),
            ("1-1-3", "", false),
            ("2-1-2", "", true)
        ]
    );

    // Bad bulk requests name the field.
    for (body, field) in [
        (json!({"method": "visit", "date": "2027-06-30"}), "method"),
        (json!({"method": "inspection", "date": "June"}), "date"),
        (json!({"method": "mailer", "date": "2027-01-01"}), "date"),
        (
            json!({"method": "inspection", "date": "2027-06-30", "neighbourhood": "ZZ"}),
            "neighbourhood",
        ),
    ] {
        let r = call(
            &app,
            Method::POST,
            &format!("{b}/compliance/cyclical"),
            &assessor,
            Some(body),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(field_of(&r), field, "{}", r.text());
    }
    // Cyclical inspections for the two due and unscheduled (1-1-2, 1-1-3); then nothing is left to schedule.
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/compliance/cyclical"),
        &assessor,
        Some(json!({"method": "inspection", "date": "2027-06-30"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["created"], 2);
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/compliance/cyclical"),
        &assessor,
        Some(json!({"method": "inspection", "date": "2027-06-30"})),
    )
    .await;
    assert_eq!(r.json()["created"], 0);
    let cyc = call(
        &app,
        Method::GET,
        &format!("{b}/inspections?reason=cyclical"),
        &assessor,
        None,
    )
    .await
    .json();
    let keys: Vec<&str> = cyc
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["parcel_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["1-1-2", "1-1-3"]);
    let c = call(
        &app,
        Method::GET,
        &format!("{b}/compliance"),
        &assessor,
        None,
    )
    .await
    .json();
    assert_eq!(counts(&c).last().unwrap(), &("All".to_owned(), 6, 3, 2, 3));

    // The page shows the same counts.
    let page = app
        .api(Method::GET, "/t/hartford/assessment/field", &assessor, None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains("<th scope=\"row\">All</th><td class=\"num\">6</td><td class=\"num\">3</td><td class=\"num\">2</td><td class=\"num\">3</td>"), "{}", page.text());
}

async fn user_id(app: &TestApp, username: &str) -> String {
    let admin = app.demo_session("admin").await;
    let users = app
        .api(Method::GET, "/api/v1/admin/users", &admin, None)
        .await
        .json();
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const SMALL: &str =
    "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner
7-1-1,1 Town Way,T1,residential,10000,50000,150000,Town Owner
";

async fn inspections_are_assigned_done_and_queued_across_granted_towns_only(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let field = app.demo_session("field.assessor").await;
    let west = app.demo_session("townadmin.west-hartford").await;
    let auditor = app.demo_session("auditor").await;
    let b = base("hartford");
    let r = csv(
        &app,
        &assessor,
        "hartford",
        "parcel-imports?file_name=roll.csv",
        SMALL_ROLL,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // East Hartford (granted to the field assessor) and West Hartford (not) each have one inspection.
    for (who, town) in [(&field, "east-hartford"), (&west, "west-hartford")] {
        let r = csv(&app, who, town, "parcel-imports?file_name=small.csv", SMALL).await;
        assert_eq!(r.status, StatusCode::CREATED, "{town}: {}", r.text());
        let r = call(
            &app,
            Method::POST,
            &format!("{}/inspections", base(town)),
            who,
            Some(json!({"parcel": "7-1-1", "reason": "sale", "due_on": "2026-12-15"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{town}: {}", r.text());
    }

    // Bad inspections name the field.
    for (body, field) in [
        (
            json!({"parcel": "1-1-1", "reason": "curiosity", "due_on": "2026-12-01"}),
            "reason",
        ),
        (
            json!({"parcel": "1-1-1", "reason": "sale", "due_on": "12/01/2026"}),
            "due_on",
        ),
        (
            json!({"parcel": "9-9-9", "reason": "sale", "due_on": "2026-12-01"}),
            "parcel",
        ),
    ] {
        let r = call(
            &app,
            Method::POST,
            &format!("{b}/inspections"),
            &assessor,
            Some(body),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(field_of(&r), field, "{}", r.text());
    }
    let r = call(&app, Method::POST, &format!("{b}/inspections"), &assessor,
        Some(json!({"parcel": "1-1-2", "reason": "sale", "due_on": "2026-12-01", "notes": "Sale at $410,000 flagged"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let first = r.json();
    let id = first["id"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections"),
        &assessor,
        Some(json!({"parcel": "1-1-3", "reason": "appeal", "due_on": "2027-01-15"})),
    )
    .await;
    let second = r.json()["id"].as_str().unwrap().to_owned();

    // Who may be assigned in Hartford: those with edit in assessment there — not the auditor (view only), not West Hartford's administrator.
    let who = call(
        &app,
        Method::GET,
        &format!("{b}/inspectors"),
        &assessor,
        None,
    )
    .await
    .json();
    let names: Vec<&str> = who
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"assessor.hartford") && names.contains(&"field.assessor"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"auditor") && !names.contains(&"townadmin.west-hartford"),
        "{names:?}"
    );

    // Assigning: not to someone outside the town, not by a viewer, not on a stale version.
    let outsider = user_id(&app, "townadmin.west-hartford").await;
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{id}/assignment"),
        &assessor,
        Some(json!({"version": 1, "inspector": outsider})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field_of(&r), "inspector");
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{id}/assignment"),
        &auditor,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{id}/result"),
        &field,
        Some(json!({"version": 1, "inspected_on": "2026-11-25", "interior": true})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "an open inspection is assigned first: {}",
        r.text()
    );
    // The field assessor takes it.
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{id}/assignment"),
        &field,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let i = r.json();
    assert_eq!(
        (
            i["status"].as_str(),
            i["inspector_name"].as_str(),
            i["version"].as_i64()
        ),
        (Some("assigned"), Some("Regional Field Assessor"), Some(2))
    );
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{id}/assignment"),
        &assessor,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "stale version: {}",
        r.text()
    );
    assert_eq!(field_of(&r), "version");

    // The result: not in the future, then done.
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{id}/result"),
        &field,
        Some(json!({"version": 2, "inspected_on": "2026-11-27", "interior": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field_of(&r), "inspected_on");
    let r = call(&app, Method::POST, &format!("{b}/inspections/{id}/result"), &field,
        Some(json!({"version": 2, "inspected_on": "2026-11-25", "interior": true, "changes": "Finished basement, 600 sq ft"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let done = r.json();
    assert_eq!(
        (
            done["status"].as_str(),
            done["interior"].as_bool(),
            done["inspected_on"].as_str()
        ),
        (Some("done"), Some(true), Some("2026-11-25"))
    );
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{id}/cancellation"),
        &assessor,
        Some(json!({"version": 3, "reason": "Duplicate visit"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a done inspection stays done: {}",
        r.text()
    );
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{second}/cancellation"),
        &assessor,
        Some(json!({"version": 1, "reason": "no"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field_of(&r), "reason");

    // Every change is in the audit log, in Hartford's chain.
    let mut c = app.db.read().await.unwrap();
    let actions: Vec<String> = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY seq").bind(&id).fetch_all(c).await).unwrap();
    drop(c);
    assert_eq!(
        actions,
        [
            "inspection.create",
            "inspection.assign",
            "inspection.result"
        ]
    );

    // The regional queue: Hartford's and East Hartford's inspections, never West Hartford's.
    let q = call(
        &app,
        Method::GET,
        "/api/v1/assessment/field/inspections?status=all",
        &field,
        None,
    )
    .await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.text());
    let rows: Vec<(String, String, String)> = q
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["town"].as_str().unwrap().to_owned(),
                i["parcel_key"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("hartford".into(), "1-1-2".into(), "done".into()),
            ("east-hartford".into(), "7-1-1".into(), "open".into()),
            ("hartford".into(), "1-1-3".into(), "open".into()),
        ]
    );
    assert!(!q.text().contains("West Hartford") && !q.text().contains("west-hartford"));
    // In route order: town by town, then neighbourhood (1-1-2 is in N1, 1-1-3 in N2), street and number.
    let route = call(
        &app,
        Method::GET,
        "/api/v1/assessment/field/inspections?status=all&order=route",
        &field,
        None,
    )
    .await
    .json();
    let keys: Vec<&str> = route
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["parcel_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["7-1-1", "1-1-2", "1-1-3"]);
    let r = call(
        &app,
        Method::GET,
        "/api/v1/assessment/field/inspections?order=zigzag",
        &field,
        None,
    )
    .await;
    assert_eq!(field_of(&r), "order");
    // Filtered: mine; one town; a town not granted is refused without a word about it.
    let mine = call(
        &app,
        Method::GET,
        "/api/v1/assessment/field/inspections?status=all&inspector=me",
        &field,
        None,
    )
    .await
    .json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let east = call(
        &app,
        Method::GET,
        "/api/v1/assessment/field/inspections?town=east-hartford",
        &field,
        None,
    )
    .await
    .json();
    assert_eq!(east.as_array().unwrap().len(), 1);
    let r = call(
        &app,
        Method::GET,
        "/api/v1/assessment/field/inspections?town=west-hartford",
        &field,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!r.text().contains("West Hartford"));
    let r = call(
        &app,
        Method::GET,
        "/api/v1/assessment/field/inspections?reason=whim",
        &field,
        None,
    )
    .await;
    assert_eq!(field_of(&r), "reason");
    // West Hartford's administrator sees only West Hartford's.
    let w = call(
        &app,
        Method::GET,
        "/api/v1/assessment/field/inspections",
        &west,
        None,
    )
    .await
    .json();
    let towns: Vec<&str> = w
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["town"].as_str().unwrap())
        .collect();
    assert_eq!(towns, ["west-hartford"]);

    // The queue page: assign to me from it, and come back to it.
    let page = app
        .api(Method::GET, "/assessment/field", &field, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("East Hartford") && !page.text().contains("West Hartford"));
    let east_id = east[0]["id"].as_str().unwrap();
    let r = app
        .form(
            &format!("/t/east-hartford/assessment/field/inspections/{east_id}/assignment"),
            &field,
            &[
                ("version", "1"),
                ("inspector", "me"),
                ("back", "/assessment/field?status=active"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.location(), "/assessment/field?status=active");
    let i = call(
        &app,
        Method::GET,
        &format!("{}/inspections/{east_id}", base("east-hartford")),
        &field,
        None,
    )
    .await
    .json();
    assert_eq!(
        (i["status"].as_str(), i["inspector_name"].as_str()),
        (Some("assigned"), Some("Regional Field Assessor"))
    );
    // The parcel page lists its inspections.
    let p = app
        .api(
            Method::GET,
            "/t/hartford/assessment/parcels/1-1-2",
            &assessor,
            None,
        )
        .await;
    assert!(
        p.text().contains("parcel-inspections")
            && p.text().contains("Finished basement, 600 sq ft")
    );
}

const OAK: &str = "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner,style,year_built,living_sqft,quality,condition
5-1-1,5 Oak St,N1,residential,10000,60000,190000,Cy Dee,Colonial,1985,1850,3,3
";

fn flash_of(r: &Resp) -> String {
    r.headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A field result corrects the parcel's characteristics through the same
/// checks as a hand edit, never its values of record, and the inspection
/// keeps what changed. Expected values worked out by hand from `OAK`.
async fn field_results_correct_the_parcel_with_audit(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let field = app.demo_session("field.assessor").await;
    let b = base("hartford");
    let r = csv(
        &app,
        &assessor,
        "hartford",
        "parcel-imports?file_name=oak.csv",
        OAK,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let parcel = call(
        &app,
        Method::GET,
        &format!("{b}/parcels/5-1-1"),
        &assessor,
        None,
    )
    .await
    .json();
    let p = &parcel["parcel"];
    let (pid, v0) = (
        p["id"].as_str().unwrap().to_owned(),
        p["version"].as_i64().unwrap(),
    );
    assert_eq!(
        (p["living_sqft"].as_i64(), p["condition"].as_i64()),
        (Some(1_850), Some(3))
    );
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections"),
        &assessor,
        Some(json!({"parcel": "5-1-1", "reason": "permit", "due_on": "2026-12-01"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        Method::POST,
        &format!("{b}/inspections/{id}/assignment"),
        &field,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let result = format!("{b}/inspections/{id}/result");

    // Bad corrections name the field and change nothing.
    for (extra, status, name) in [
        (
            json!({"quality": 9, "parcel_version": v0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quality",
        ),
        (
            json!({"living_sqft": -5, "parcel_version": v0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "living_sqft",
        ),
        (
            json!({"year_built": 1200, "parcel_version": v0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "year_built",
        ),
        (
            json!({"living_sqft": 2100}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parcel_version",
        ),
    ] {
        let mut body = json!({"version": 2, "inspected_on": "2026-11-25", "interior": true});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = call(&app, Method::POST, &result, &field, Some(body)).await;
        assert_eq!(r.status, status, "{name}: {}", r.text());
        assert_eq!(field_of(&r), name, "{}", r.text());
    }
    // A number that does not read, from the page form, names its field.
    let r = app
        .form(
            &format!("/t/hartford/assessment/field/inspections/{id}/result"),
            &field,
            &[
                ("version", "2"),
                ("inspected_on", "2026-11-25"),
                ("parcel_version", &v0.to_string()),
                ("living_sqft", "about 2000"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert!(flash_of(&r).contains("living_sqft"), "{}", flash_of(&r));

    // The assessor corrects the rooms by hand meanwhile: the inspector's read is stale.
    let mut data = p.clone();
    data["rooms"] = 7.into();
    let r = call(
        &app,
        Method::PUT,
        &format!("{b}/parcels/5-1-1"),
        &assessor,
        Some(json!({"version": v0, "parcel": data})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v1 = r.json()["version"].as_i64().unwrap();
    assert_eq!(v1, v0 + 1);
    let r = call(&app, Method::POST, &result, &field, Some(json!({
        "version": 2, "inspected_on": "2026-11-25", "interior": true, "parcel_version": v0, "living_sqft": 2100,
    }))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(field_of(&r), "parcel_version", "{}", r.text());

    // The result as read now: living area and condition differ, the rooms and style are as recorded.
    let r = call(&app, Method::POST, &result, &field, Some(json!({
        "version": 2, "inspected_on": "2026-11-25", "interior": true, "parcel_version": v1,
        "living_sqft": 2100, "condition": 4, "rooms": 7, "style": "Colonial", "changes": "Rear addition measured",
    }))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let done = r.json();
    assert_eq!(done["status"], "done");
    assert_eq!(
        done["changes"],
        "living_sqft 1,850 → 2,100; condition Average → Good — Rear addition measured"
    );
    let after = call(
        &app,
        Method::GET,
        &format!("{b}/parcels/5-1-1"),
        &assessor,
        None,
    )
    .await
    .json();
    let q = &after["parcel"];
    assert_eq!(
        (
            q["living_sqft"].as_i64(),
            q["condition"].as_i64(),
            q["rooms"].as_i64(),
            q["version"].as_i64()
        ),
        (Some(2_100), Some(4), Some(7), Some(v1 + 1))
    );
    // Values of record untouched: $60,000 land, $190,000 building.
    assert_eq!(
        (q["land_cents"].as_i64(), q["building_cents"].as_i64()),
        (Some(6_000_000), Some(19_000_000))
    );

    // The audit: the parcel's update with the fields, and the result naming it.
    let mut c = app.db.read().await.unwrap();
    let parcel_events: Vec<(String, Option<String>)> = munishare_platform::dispatch!(&mut c, c => sqlx::query_as(
        "SELECT action, after_json FROM audit_events WHERE entity_id = $1 ORDER BY seq").bind(&pid).fetch_all(c).await).unwrap();
    let result_after: Option<String> = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT after_json FROM audit_events WHERE entity_id = $1 AND action = 'inspection.result'").bind(&id).fetch_one(c).await).unwrap();
    drop(c);
    let (last, changed) = parcel_events.last().unwrap();
    assert_eq!(last, "parcel.update");
    let changed: Value = serde_json::from_str(changed.as_deref().unwrap()).unwrap();
    assert_eq!(
        changed["changed"],
        json!({"living_sqft": [1850, 2100], "condition": [3, 4]})
    );
    let link: Value = serde_json::from_str(result_after.as_deref().unwrap()).unwrap();
    assert_eq!(
        (
            link["parcel_change"]["action"].as_str(),
            link["parcel_change"]["parcel_id"].as_str(),
            link["parcel_change"]["version_after"].as_i64()
        ),
        (Some("parcel.update"), Some(pid.as_str()), Some(v1 + 1))
    );
}

async fn municipality(app: &TestApp, slug: &str) -> String {
    let mut c = app.db.read().await.unwrap();
    munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT id FROM municipalities WHERE slug = $1").bind(slug).fetch_one(c).await)
    .unwrap()
}

/// CGS 12-62(b) revaluation cycles, on the test clock's 2026-11-26 (the
/// 2026 grand list in force) and a year later; worked out by hand.
async fn revaluation_cycles_by_town_and_across_granted_towns_only(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let field = app.demo_session("field.assessor").await;
    let east = app.demo_session("townadmin.east-hartford").await;
    let west = app.demo_session("townadmin.west-hartford").await;
    let b = base("hartford");
    let cycle = format!("{b}/revaluation-cycle");

    let r = call(&app, Method::GET, &cycle, &assessor, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let s = r.json();
    assert_eq!(
        (
            s["state"].as_str(),
            s["grand_list_year"].as_i64(),
            s["cycle"].is_null()
        ),
        (Some("not_recorded"), Some(2026), true)
    );
    // The field assessor may view, not set (approve in assessment).
    let r = call(
        &app,
        Method::PUT,
        &cycle,
        &field,
        Some(json!({"last_year": 2021})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // Bad years name the field; beyond five years names the statute.
    for (body, name, words) in [
        (
            json!({"last_year": 2021, "next_year": 2027}),
            "next_year",
            "CGS 12-62(b)",
        ),
        (
            json!({"last_year": 2027}),
            "last_year",
            "after the grand list in force",
        ),
        (
            json!({"last_year": 2021, "next_year": 2021}),
            "next_year",
            "not after",
        ),
        (json!({"last_year": "twenty"}), "last_year", ""),
    ] {
        let r = call(&app, Method::PUT, &cycle, &assessor, Some(body)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(field_of(&r), name, "{}", r.text());
        assert!(r.text().contains(words), "{}", r.text());
    }
    let r = app
        .form(
            "/t/hartford/assessment/field/revaluation-cycle",
            &assessor,
            &[("last_year", "twenty-one"), ("version", "0")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(flash_of(&r).contains("last_year"), "{}", flash_of(&r));

    // Last 2021: next 2026 by default; the 2026 list is in force, so due this year.
    let r = call(
        &app,
        Method::PUT,
        &cycle,
        &assessor,
        Some(json!({"last_year": 2021})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let c = r.json();
    assert_eq!(
        (
            c["last_year"].as_i64(),
            c["next_year"].as_i64(),
            c["version"].as_i64()
        ),
        (Some(2021), Some(2026), Some(1))
    );
    let s = call(&app, Method::GET, &cycle, &assessor, None)
        .await
        .json();
    assert_eq!(
        (
            s["state"].as_str(),
            s["years_since"].as_i64(),
            s["due_list_adopted"].as_bool()
        ),
        (Some("due"), Some(5), Some(false))
    );
    let r = call(
        &app,
        Method::PUT,
        &cycle,
        &assessor,
        Some(json!({"last_year": 2022, "version": 0})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(field_of(&r), "version");

    // East Hartford: last 2020, next 2025, no adopted run for the 2025 list: overdue.
    let east_cycle = format!("{}/revaluation-cycle", base("east-hartford"));
    let r = call(
        &app,
        Method::PUT,
        &east_cycle,
        &east,
        Some(json!({"last_year": 2020, "next_year": 2025})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let s = call(&app, Method::GET, &east_cycle, &east, None)
        .await
        .json();
    assert_eq!(
        (s["state"].as_str(), s["years_since"].as_i64()),
        (Some("overdue"), Some(6))
    );
    // West Hartford (not granted to the field assessor): last 2023.
    let west_cycle = format!("{}/revaluation-cycle", base("west-hartford"));
    let r = call(
        &app,
        Method::PUT,
        &west_cycle,
        &west,
        Some(json!({"last_year": 2023})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // The regional view: the four towns that granted the field assessor, never West Hartford.
    let r = call(
        &app,
        Method::GET,
        "/api/v1/assessment/revaluation-cycles",
        &field,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rows: Vec<(String, String)> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["town"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("east-hartford".to_owned(), "overdue".to_owned()),
            ("hartford".to_owned(), "due".to_owned()),
            ("manchester".to_owned(), "not_recorded".to_owned()),
            ("wethersfield".to_owned(), "not_recorded".to_owned()),
        ]
    );
    let page = app
        .api(Method::GET, "/assessment/revaluation", &field, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("revaluation-timeline") && html.contains("East Hartford"),
        "{html}"
    );
    assert!(!html.contains("West Hartford"), "{html}");
    let csv_out = app
        .api(
            Method::GET,
            "/assessment/revaluation?format=csv",
            &field,
            None,
        )
        .await
        .text();
    assert!(
        csv_out.contains("Hartford,2021,2026,2026,5,due this year,no")
            && csv_out.contains("East Hartford,2020,2025,2026,6,overdue,no")
            && !csv_out.contains("West Hartford"),
        "{csv_out}"
    );
    let overview = app
        .api(Method::GET, "/t/hartford/assessment", &assessor, None)
        .await
        .text();
    assert!(
        overview.contains("Last revaluation 2021, next 2026") && overview.contains("due this year"),
        "{overview}"
    );
    let mine = call(
        &app,
        Method::GET,
        "/api/v1/assessment/revaluation-cycles",
        &west,
        None,
    )
    .await
    .json();
    assert_eq!(
        (
            mine[0]["town"].as_str(),
            mine[0]["cycle"]["next_year"].as_i64(),
            mine[0]["state"].as_str()
        ),
        (Some("west-hartford"), Some(2028), Some("current"))
    );

    // An adopted model run on East Hartford's 2025 list: the revaluation was done.
    let m = municipality(&app, "east-hartford").await;
    let mut tx = app.db.begin().await.unwrap();
    munishare_platform::execute!(&mut tx, c => sqlx::query(
        "INSERT INTO assessment_model_runs (municipality_id, id, name, valuation_date, approach, settings, status, error, \
         parcels_valued, parcels_skipped, sales_used, total_cents, results, model, created_at, created_by, finished_at, \
         adopted_at, adopted_by, version) VALUES ($1, 'run-2025', '2025 revaluation', '2025-10-01', 'cost', '{}', 'done', '', \
         0, 0, 0, 0, '[]', '{}', '2025-09-01T00:00:00Z', 'test', '2025-09-01T00:00:00Z', '2025-09-02T00:00:00Z', 'test', 1)")
        .bind(&m).execute(c).await).unwrap();
    tx.commit().await.unwrap();
    let s = call(&app, Method::GET, &east_cycle, &east, None)
        .await
        .json();
    assert_eq!(
        (s["state"].as_str(), s["due_list_adopted"].as_bool()),
        (Some("current"), Some(true))
    );

    // Every setting is audited, in the town's chain.
    let h = municipality(&app, "hartford").await;
    let mut c = app.db.read().await.unwrap();
    let n: i64 = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE entity_id = $1 AND action = 'revaluation_cycle.set'").bind(&h).fetch_one(c).await).unwrap();
    drop(c);
    assert_eq!(n, 1);

    // A year on (2027-10-01, the 2027 list in force) Hartford's 2026 revaluation is overdue.
    app.advance(time::Duration::days(309));
    let assessor = app.demo_session("assessor.hartford").await;
    let s = call(&app, Method::GET, &cycle, &assessor, None)
        .await
        .json();
    assert_eq!(
        (
            s["grand_list_year"].as_i64(),
            s["state"].as_str(),
            s["years_since"].as_i64()
        ),
        (Some(2027), Some("overdue"), Some(6))
    );
}
