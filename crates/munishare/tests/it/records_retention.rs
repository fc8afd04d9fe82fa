//! Records retention, disposition and legal holds (issue 6): due dates by trigger, computed by
//! hand (fiscal-year end + 3 years for 2019-08-15 is 2023-06-30; calendar-year end + 10 years
//! for 2014-03-02 is 2024-12-31; permanent is never due) and recomputed when the trigger date,
//! the type, the type's series or the series' rule changes; the records past retention and the
//! holds that block them; the whole disposition (batch, approval with the authorization PDF
//! read back with pdftotext, destruction with tombstones, shared content kept, audit events,
//! 404 afterwards, and a re-run finishing an interrupted purge); permissions and other towns.
//! The test clock reads 2026-11-26.

use axum::http::{Method, StatusCode};
use munishare_platform::blob::BlobKey;
use munishare_platform::dispatch;
use serde_json::{Value, json};

use crate::both_dbs;
use crate::harness::{Auth, Resp, TestApp};

both_dbs!(
    records_retention_due_dates_follow_the_rule_and_are_recomputed,
    records_retention_holds_block_disposal_until_released,
    records_retention_a_hold_on_a_search_holds_what_it_found,
    records_retention_a_batch_is_approved_with_its_authorization_and_destroyed,
    records_retention_is_the_records_officers_and_stays_in_its_town,
    records_retention_series_import_is_all_or_nothing_by_row_and_column,
    records_retention_pages_take_the_officer_from_catalog_to_destruction,
    records_retention_the_demo_seeds_illustrative_series_only
);

const WH: &str = "/api/v1/towns/west-hartford/records";
const EH: &str = "/api/v1/towns/east-hartford/records";

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(c).await).unwrap()
}

async fn ok(r: Resp, want: StatusCode) -> Value {
    assert_eq!(r.status, want, "{}", r.text());
    r.json()
}

/// The council's catalog for these tests: four series with hand-chosen rules.
pub(crate) async fn catalog(app: &TestApp) {
    let admin = app.demo_session("admin").await;
    for body in [
        json!({"schedule": "M3", "code": "M3-120", "title": "Bills paid", "rule": "years", "trigger": "fiscal_year_end", "years": 3, "disposition": "destroy"}),
        json!({"schedule": "M1", "code": "M1-100", "title": "Correspondence", "rule": "years", "trigger": "calendar_year_end", "years": 10, "disposition": "destroy"}),
        json!({"schedule": "M1", "code": "M1-010", "title": "Minutes", "rule": "permanent", "disposition": "retain", "essential": true}),
        json!({"schedule": "M3", "code": "M3-130", "title": "Audited ledgers", "rule": "years", "trigger": "audit", "years": 3, "disposition": "destroy"}),
    ] {
        ok(
            app.api(
                Method::POST,
                "/api/v1/admin/retention/series",
                &admin,
                Some(body),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
}

/// The town's types, one per series.
pub(crate) async fn types(app: &TestApp, officer: &Auth) {
    for (name, series) in [
        ("Bills", "M3-120"),
        ("Correspondence", "M1-100"),
        ("Minutes", "M1-010"),
        ("Ledgers", "M3-130"),
    ] {
        ok(
            app.api(
                Method::POST,
                &format!("{WH}/types"),
                officer,
                Some(json!({"name": name, "retention_series": series})),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
}

pub(crate) async fn file(app: &TestApp, auth: &Auth, query: &str, body: &[u8]) -> Value {
    let r = app
        .raw(
            Method::POST,
            &format!("{WH}/documents?{query}"),
            auth,
            Some("application/octet-stream"),
            body.to_vec(),
        )
        .await;
    ok(r, StatusCode::CREATED).await["document"].clone()
}

async fn due_of(app: &TestApp, auth: &Auth, id: &str) -> Value {
    ok(
        app.api(
            Method::GET,
            &format!("{WH}/documents/{id}/retention"),
            auth,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await
}

async fn records_retention_due_dates_follow_the_rule_and_are_recomputed(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    catalog(&app).await;
    // A town administrator cannot change the region's catalog.
    let r = app
        .api(
            Method::POST,
            "/api/v1/admin/retention/series",
            &officer,
            Some(json!({"schedule": "M3", "code": "M3-999", "title": "x", "rule": "permanent", "disposition": "retain"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    types(&app, &officer).await;
    // A type's series must be in the catalog: the error names the field.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/types"),
            &officer,
            Some(json!({"name": "Odd", "retention_series": "M9-999"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "retention_series", "{}", r.text());

    // Fiscal-year end + 3: 2019-08-15 is in the year ending 2020-06-30; + 3 years = 2023-06-30.
    let bill = file(
        &app,
        &officer,
        "filename=bill.txt&type=Bills&document_date=2019-08-15",
        b"bill",
    )
    .await;
    assert_eq!(bill["retention_due"], "2023-06-30");
    // Calendar-year end + 10: 2014-12-31 + 10 years = 2024-12-31.
    let letter = file(
        &app,
        &officer,
        "filename=letter.txt&type=Correspondence&document_date=2014-03-02",
        b"letter",
    )
    .await;
    assert_eq!(letter["retention_due"], "2024-12-31");
    // Permanent: never due, and the page says why.
    let minutes = file(
        &app,
        &officer,
        "filename=min.txt&type=Minutes&document_date=2001-01-09",
        b"minutes",
    )
    .await;
    assert_eq!(minutes["retention_due"], Value::Null);
    let r = due_of(&app, &officer, minutes["id"].as_str().unwrap()).await;
    assert_eq!(r["status"], "never");
    assert_eq!(r["rule_words"], "Permanent");
    assert!(
        r["explanation"].as_str().unwrap().contains("permanent"),
        "{r}"
    );
    // After audit + 3: pending until the audit date is recorded; 2019-11-20 + 3 = 2022-11-20.
    let ledger = file(
        &app,
        &officer,
        "filename=ledger.txt&type=Ledgers&document_date=2018-05-01",
        b"ledger",
    )
    .await;
    let lid = ledger["id"].as_str().unwrap();
    let r = due_of(&app, &officer, lid).await;
    assert_eq!(r["status"], "pending");
    assert_eq!(r["rule_words"], "After audit + 3 years");
    let r = ok(
        app.api(
            Method::PUT,
            &format!("{WH}/documents/{lid}/retention"),
            &officer,
            Some(json!({"trigger_date": "2019-11-20"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["retention_due"], "2022-11-20");
    assert_eq!(r["trigger_date"], "2019-11-20");
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{lid}/retention"),
            &officer,
            Some(json!({"trigger_date": "2019-13-01"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "trigger_date");

    // The document's type changes: the bill becomes correspondence, 2019-12-31 + 10 = 2029-12-31.
    let bid = bill["id"].as_str().unwrap();
    let r = ok(
        app.api(
            Method::PUT,
            &format!("{WH}/documents/{bid}"),
            &officer,
            Some(json!({"title": "Bill", "type": "Correspondence", "document_date": "2019-08-15"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["retention_due"], "2029-12-31");
    // The document date changes: 2015-01-01 → 2015-12-31 + 10 = 2025-12-31.
    let letter_id = letter["id"].as_str().unwrap();
    let r = ok(
        app.api(
            Method::PUT,
            &format!("{WH}/documents/{letter_id}"),
            &officer,
            Some(
                json!({"title": "Letter", "type": "Correspondence", "document_date": "2015-01-01"}),
            ),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["retention_due"], "2025-12-31");
    // The type's series changes: ledgers now follow M3-120 (fiscal-year end + 3):
    // 2018-05-01 is in the year ending 2018-06-30; + 3 = 2021-06-30.
    let types_now = ok(
        app.api(Method::GET, &format!("{WH}/types"), &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    let ledgers = types_now
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Ledgers")
        .unwrap()
        .clone();
    ok(
        app.api(
            Method::PUT,
            &format!("{WH}/types/{}", ledgers["id"].as_str().unwrap()),
            &officer,
            Some(json!({"name": "Ledgers", "retention_series": "M3-120"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        due_of(&app, &officer, lid).await["retention_due"],
        "2021-06-30"
    );
    // The series' rule changes (the council): fiscal-year end + 5 → 2023-06-30.
    let admin = app.demo_session("admin").await;
    let region = ok(
        app.api(Method::GET, "/api/v1/retention/series", &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    let m3 = region
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "M3-120")
        .unwrap()
        .clone();
    assert_eq!(m3["rule_words"], "Fiscal year end + 3 years");
    assert_eq!(m3["source"], "entered");
    let r = ok(
        app.api(Method::PUT, &format!("/api/v1/admin/retention/series/{}", m3["id"].as_str().unwrap()), &admin,
            Some(json!({"schedule": "M3", "code": "M3-120", "title": "Bills paid", "rule": "years", "trigger": "fiscal_year_end", "years": 5, "disposition": "destroy"}))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["rule_words"], "Fiscal year end + 5 years");
    assert_eq!(
        due_of(&app, &officer, lid).await["retention_due"],
        "2023-06-30"
    );
    // A follow rule takes the other series' retention.
    ok(
        app.api(Method::POST, &format!("{WH}/retention/series"), &officer,
            Some(json!({"code": "WH-7", "title": "Copies of bills", "rule": "follow", "follow": "M3-120", "disposition": "destroy"}))).await,
        StatusCode::CREATED,
    )
    .await;
    ok(
        app.api(
            Method::PUT,
            &format!("{WH}/types/{}", ledgers["id"].as_str().unwrap()),
            &officer,
            Some(json!({"name": "Ledgers", "retention_series": "WH-7"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let r = due_of(&app, &officer, lid).await;
    assert_eq!(r["retention_due"], "2023-06-30");
    assert_eq!(r["decided_by"], "M3-120");
    // The list filters and sorts by the end of retention.
    let list = ok(
        app.api(
            Method::GET,
            &format!("{WH}/documents?due_before=2024-01-01&sort=due"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let got: Vec<&str> = list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["retention_due"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["2023-06-30"]);
    // Every catalog change was audited.
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_events WHERE action IN ('records.series.create', 'records.series.update')").await,
        6
    );
}

async fn due_list(app: &TestApp, auth: &Auth, q: &str) -> Value {
    ok(
        app.api(Method::GET, &format!("{WH}/disposition/due{q}"), auth, None)
            .await,
        StatusCode::OK,
    )
    .await
}

async fn records_retention_holds_block_disposal_until_released(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    catalog(&app).await;
    types(&app, &officer).await;
    let bill = file(
        &app,
        &officer,
        "filename=bill.txt&type=Bills&document_date=2019-08-15",
        b"bill",
    )
    .await;
    let letter = file(
        &app,
        &officer,
        "filename=letter.txt&type=Correspondence&document_date=2014-03-02",
        b"letter",
    )
    .await;
    file(
        &app,
        &officer,
        "filename=min.txt&type=Minutes&document_date=1990-01-09",
        b"minutes",
    )
    .await;
    // Not yet due: 2019-12-31 + 10 = 2029-12-31.
    file(
        &app,
        &officer,
        "filename=new.txt&type=Correspondence&document_date=2019-03-02",
        b"new",
    )
    .await;
    let bid = bill["id"].as_str().unwrap();
    // The two past retention, oldest first; the permanent minutes never appear.
    let d = due_list(&app, &officer, "").await;
    let ids: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["document_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![bid, letter["id"].as_str().unwrap()]);
    assert!(d.as_array().unwrap().iter().all(|r| r["eligible"] == true));
    assert_eq!(d[0]["series_code"], "M3-120");
    // The clerk is not the records officer.
    let r = app
        .api(Method::GET, &format!("{WH}/disposition/due"), &clerk, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/holds"),
            &clerk,
            Some(json!({"kind": "document", "target": bid, "matter": "x", "reason": "y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A hold on the document blocks it, and says which.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/holds"),
            &officer,
            Some(json!({"kind": "document", "target": bid, "matter": "", "reason": "y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "matter");
    let hold = ok(
        app.api(Method::POST, &format!("{WH}/holds"), &officer,
            Some(json!({"kind": "document", "target": bid, "matter": "Smith v. West Hartford", "reason": "Litigation hold from the town attorney"}))).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(hold["target"], "bill");
    let d = due_list(&app, &officer, "").await;
    assert_eq!(d[0]["eligible"], false);
    assert_eq!(d[0]["holds"][0]["matter"], "Smith v. West Hartford");
    assert_eq!(
        due_list(&app, &officer, "?include_blocked=false")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        due_of(&app, &officer, bid).await["holds"][0]["matter"],
        "Smith v. West Hartford"
    );
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/disposition/batches"),
            &officer,
            Some(json!({"documents": [bid]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["field"], "documents[0]");
    assert!(r.text().contains("Smith v. West Hartford"));
    // Released: eligible again.
    let hid = hold["id"].as_str().unwrap();
    let r = ok(
        app.api(
            Method::POST,
            &format!("{WH}/holds/{hid}/release"),
            &officer,
            Some(json!({"reason": "Case settled"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["release_reason"], "Case settled");
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/holds/{hid}/release"),
            &officer,
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(due_list(&app, &officer, "").await[0]["eligible"], true);
    // A hold on a series blocks every record of it.
    let series_hold = ok(
        app.api(Method::POST, &format!("{WH}/holds"), &officer,
            Some(json!({"kind": "series", "target": "M1-100", "matter": "FOI request 2026-41", "reason": "Requested records"}))).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(series_hold["target"], "M1-100 Correspondence");
    let d = due_list(&app, &officer, "?series=M1-100").await;
    assert_eq!(d.as_array().unwrap().len(), 1);
    assert_eq!(d[0]["holds"][0]["matter"], "FOI request 2026-41");
    assert_eq!(d[0]["eligible"], false);
    let holds = ok(
        app.api(Method::GET, &format!("{WH}/holds"), &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(holds.as_array().unwrap().len(), 1, "active only by default");
    let all = ok(
        app.api(Method::GET, &format!("{WH}/holds?all=true"), &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_events WHERE action IN ('records.hold.place', 'records.hold.release')").await,
        3
    );
}

/// `(title, eligible, first hold's matter)` of each record past retention, by title.
async fn eligibility(app: &TestApp, auth: &Auth) -> Vec<(String, bool, String)> {
    let d = due_list(app, auth, "").await;
    let mut v: Vec<(String, bool, String)> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap().to_owned(),
                r["eligible"].as_bool().unwrap(),
                r["holds"][0]["matter"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn records_retention_a_hold_on_a_search_holds_what_it_found(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    catalog(&app).await;
    types(&app, &officer).await;
    // Three records past retention; two mention road salt.
    for (name, body) in [
        ("salt-bill.txt", "Invoice: road salt, 40 tons"),
        ("salt-letter.txt", "Letter about the road salt delivery"),
        ("library-letter.txt", "Letter about the library hours"),
    ] {
        let ty = if name.contains("bill") {
            "Bills&document_date=2019-08-15"
        } else {
            "Correspondence&document_date=2014-03-02"
        };
        file(
            &app,
            &officer,
            &format!("filename={name}&type={ty}"),
            body.as_bytes(),
        )
        .await;
    }
    let registry = munishare::jobs();
    while registry.run_one(&app.jobs).await.unwrap() {}
    ok(
        app.api(
            Method::POST,
            &format!("{WH}/saved-searches"),
            &officer,
            Some(json!({"name": "Road salt", "query": {"q": "salt"}})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    // Not the clerk's to place; a saved search that does not exist is named.
    let hold = json!({"kind": "search", "target": "road salt", "matter": "Salt contract dispute", "reason": "Counsel's request"});
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/holds"),
            &clerk,
            Some(hold.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/holds"),
            &officer,
            Some(json!({"kind": "search", "target": "Snow", "matter": "x", "reason": "y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "target");
    assert!(r.text().contains("no saved search 'Snow'"), "{}", r.text());

    let placed = ok(
        app.api(Method::POST, &format!("{WH}/holds"), &officer, Some(hold))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(placed["kind"], "search");
    assert_eq!(
        placed["target"],
        "search 'Road salt' (q=salt), 2 documents when placed"
    );
    assert_eq!(
        eligibility(&app, &officer).await,
        [
            ("library-letter".to_owned(), true, String::new()),
            (
                "salt-bill".to_owned(),
                false,
                "Salt contract dispute".to_owned()
            ),
            (
                "salt-letter".to_owned(),
                false,
                "Salt contract dispute".to_owned()
            ),
        ]
    );

    // A record filed later is not held until the hold runs its search again.
    file(
        &app,
        &officer,
        "filename=salt-memo.txt&type=Correspondence&document_date=2014-03-02",
        b"Memo on salt storage",
    )
    .await;
    while registry.run_one(&app.jobs).await.unwrap() {}
    let later = eligibility(&app, &officer).await;
    assert_eq!(later[3], ("salt-memo".to_owned(), true, String::new()));
    let hid = placed["id"].as_str().unwrap();
    let r = ok(
        app.api(
            Method::POST,
            &format!("{WH}/holds/{hid}/refresh"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["added"], 1);
    let r = ok(
        app.api(
            Method::POST,
            &format!("{WH}/holds/{hid}/refresh"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["added"], 0);
    assert_eq!(
        eligibility(&app, &officer).await[3],
        (
            "salt-memo".to_owned(),
            false,
            "Salt contract dispute".to_owned()
        )
    );

    // Released: all eligible again; a released hold is not refreshed.
    ok(
        app.api(
            Method::POST,
            &format!("{WH}/holds/{hid}/release"),
            &officer,
            Some(json!({"reason": "Settled"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        eligibility(&app, &officer)
            .await
            .iter()
            .all(|(_, eligible, _)| *eligible)
    );
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/holds/{hid}/refresh"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_events WHERE action IN ('records.hold.place', 'records.hold.refresh', 'records.hold.release')").await,
        4
    );
}

fn pdf_text(bytes: &[u8]) -> String {
    let dir =
        std::env::temp_dir().join(format!("munishare-rc075-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("a.pdf");
    std::fs::write(&f, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", f.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test.sh");
    std::fs::remove_dir_all(&dir).ok();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// West Hartford's records as its administrator (records officer, every permission).
pub(crate) async fn town_scope(app: &TestApp) -> munishare_platform::access::ServiceScope {
    let mut c = app.db.read().await.unwrap();
    let u = munishare_platform::identity::user_by_username(&mut c, "townadmin.west-hartford")
        .await
        .unwrap()
        .unwrap();
    drop(c);
    munishare_platform::access::authorize_service(
        &app.db,
        &munishare_platform::identity::principal_for_user(&u),
        time::macros::date!(2026 - 11 - 26),
        "west-hartford",
        munishare_platform::types::Service::Records,
        munishare_platform::types::Permission::View,
    )
    .await
    .unwrap()
}

async fn records_retention_a_batch_is_approved_with_its_authorization_and_destroyed(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    catalog(&app).await;
    types(&app, &officer).await;
    // Two bills past retention: one with content of its own (and a second version), one whose
    // bytes the permanent minutes share.
    let own = file(
        &app,
        &officer,
        "filename=b1.txt&type=Bills&document_date=2019-08-15",
        b"bill one",
    )
    .await;
    let oid = own["id"].as_str().unwrap().to_owned();
    let r = app
        .raw(
            Method::POST,
            &format!("{WH}/documents/{oid}/versions?filename=b1v2.txt"),
            &officer,
            Some("application/octet-stream"),
            b"bill one, corrected".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let shared = file(
        &app,
        &officer,
        "filename=b2.txt&type=Bills&document_date=2020-02-01",
        b"shared bytes",
    )
    .await;
    let sid = shared["id"].as_str().unwrap().to_owned();
    let minutes = file(
        &app,
        &officer,
        "filename=m.txt&type=Minutes&document_date=2020-02-01",
        b"shared bytes",
    )
    .await;
    let scope = town_scope(&app).await;
    let key =
        |sha: &str| BlobKey::in_scope(&scope, &format!("content/{}/{sha}", &sha[..2])).unwrap();
    let own_detail = ok(
        app.api(
            Method::GET,
            &format!("{WH}/documents/{oid}"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let own_shas: Vec<String> = own_detail["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sha256"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(own_shas.len(), 2);
    let shared_sha = shared["sha256"].as_str().unwrap().to_owned();
    for s in own_shas.iter().chain([&shared_sha]) {
        assert!(app.jobs.blobs.exists(&key(s)).await.unwrap());
    }
    // A searchable PDF the text module derived from the first bill's content.
    let derived =
        BlobKey::in_scope(&scope, &format!("derived/{}.searchable.pdf", own_shas[0])).unwrap();
    app.jobs
        .blobs
        .put(&derived, bytes::Bytes::from_static(b"%PDF-1.4 ocr"))
        .await
        .unwrap();
    // And a page image the preview rendered from it.
    let page_image =
        BlobKey::in_scope(&scope, &format!("derived/{}/p1-200.png", own_shas[0])).unwrap();
    app.jobs
        .blobs
        .put(&page_image, bytes::Bytes::from_static(b"\x89PNG page"))
        .await
        .unwrap();

    // The batch (the records officer's), then its approval.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/disposition/batches"),
            &clerk,
            Some(json!({"documents": [oid]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/disposition/batches"),
            &officer,
            Some(json!({"documents": [oid, minutes["id"]]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a permanent record is never eligible"
    );
    assert_eq!(r.json()["field"], "documents[1]");
    let b = ok(
        app.api(
            Method::POST,
            &format!("{WH}/disposition/batches"),
            &officer,
            Some(json!({"documents": [oid, sid], "agency": "Finance Department"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(b["batch"]["status"], "draft");
    assert_eq!(b["batch"]["number"], 1);
    assert_eq!(b["items"].as_array().unwrap().len(), 2);
    let bid = b["batch"]["id"].as_str().unwrap().to_owned();
    // In an open batch: not eligible for another.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/disposition/batches"),
            &officer,
            Some(json!({"documents": [sid]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Not destroyed before approval.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/disposition/batches/{bid}/destroy"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/disposition/batches/{bid}/authorization"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/disposition/batches/{bid}/approve"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let a = ok(
        app.api(
            Method::POST,
            &format!("{WH}/disposition/batches/{bid}/approve"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a["batch"]["status"], "approved");
    assert_eq!(a["batch"]["approved_by"], "townadmin.west-hartford");
    assert_eq!(a["batch"]["approved_at"], "2026-11-26T14:00:00.000000Z");
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/disposition/batches/{bid}/authorization"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/pdf");
    let text = pdf_text(&r.body);
    for want in [
        "West Hartford",
        "Finance Department",
        "M3-120",
        "Bills paid",
        "townadmin.west-hartford",
        "2019-08-15 - 2020-02-01",
        "Form RC-075",
        "Public Records Administrator",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    {
        use sha2::Digest;
        assert_eq!(
            a["batch"]["authorization_sha256"],
            munishare_platform::types::hex(&sha2::Sha256::digest(&r.body))
        );
    }

    // Destruction: the clerk may not; the officer does.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/disposition/batches/{bid}/destroy"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let log_before = count(&app, "SELECT COUNT(*) FROM records_index_log").await;
    let d = ok(
        app.api(
            Method::POST,
            &format!("{WH}/disposition/batches/{bid}/destroy"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(d["batch"]["status"], "destroyed");
    assert_eq!(d["documents"], 2);
    assert_eq!(d["content_deleted"], 2, "both versions of the first bill");
    assert_eq!(d["content_shared"], 1, "the minutes keep the shared bytes");
    for s in &own_shas {
        assert!(
            !app.jobs.blobs.exists(&key(s)).await.unwrap(),
            "content {s} purged"
        );
    }
    assert!(
        !app.jobs.blobs.exists(&derived).await.unwrap(),
        "derived searchable PDF purged"
    );
    assert!(
        !app.jobs.blobs.exists(&page_image).await.unwrap(),
        "page images purged"
    );
    assert!(app.jobs.blobs.exists(&key(&shared_sha)).await.unwrap());
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{}/content", minutes["id"].as_str().unwrap()),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"shared bytes".to_vec());
    // The documents are gone from every document route …
    for path in [
        format!("{WH}/documents/{oid}"),
        format!("{WH}/documents/{oid}/content"),
        format!("{WH}/documents/{oid}/retention"),
    ] {
        let r = app.api(Method::GET, &path, &officer, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let list = ok(
        app.api(Method::GET, &format!("{WH}/documents"), &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["total"], 1);
    // … their tombstones keep the metadata, the search log has them, the audit trail is kept.
    let t = ok(
        app.api(Method::GET, &format!("{WH}/tombstones"), &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(t.as_array().unwrap().len(), 2);
    let own_t = t
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == oid.as_str())
        .unwrap();
    assert_eq!(own_t["series_code"], "M3-120");
    assert_eq!(own_t["retention_due"], "2023-06-30");
    assert_eq!(own_t["batch_id"], bid.as_str());
    assert_eq!(
        own_t["sha256"],
        own_shas[0].as_str(),
        "the current (newest) version"
    );
    assert!(count(&app, "SELECT COUNT(*) FROM records_index_log").await > log_before);
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM records_index_log WHERE document_id = '{oid}'")
        )
        .await,
        3
    );
    for (action, n) in [
        ("records.disposal.create", 1),
        ("records.disposal.approve", 1),
        ("records.disposal.destroy", 1),
        ("records.document.destroy", 2),
        ("records.document.file", 3),
    ] {
        assert_eq!(
            count(
                &app,
                &format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}'")
            )
            .await,
            n,
            "{action}"
        );
    }
    let batch_after = ok(
        app.api(
            Method::GET,
            &format!("{WH}/disposition/batches/{bid}"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        batch_after["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["destroyed"] == true)
    );
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/disposition/batches/{bid}/destroy"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "destroyed once");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_contents").await,
        1
    );

    // A destruction interrupted after its commit (status `destroying`, a purge logged, the
    // object still there) is finished by a re-run.
    let orphan = "ab".repeat(32);
    app.jobs
        .blobs
        .put(&key(&orphan), bytes::Bytes::from_static(b"left behind"))
        .await
        .unwrap();
    {
        let mut tx = app.db.begin().await.unwrap();
        let m = scope.municipality_id().to_string();
        munishare_platform::execute!(&mut tx, c => sqlx::query("UPDATE records_disposal_batches SET status = 'destroying' WHERE id = $1")
            .bind(&bid).execute(c).await).unwrap();
        munishare_platform::execute!(&mut tx, c => sqlx::query("INSERT INTO records_disposal_purges (municipality_id, batch_id, sha256) VALUES ($1, $2, $3)")
            .bind(&m).bind(&bid).bind(&orphan).execute(c).await).unwrap();
        tx.commit().await.unwrap();
    }
    let d = ok(
        app.api(
            Method::POST,
            &format!("{WH}/disposition/batches/{bid}/destroy"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(d["batch"]["status"], "destroyed");
    assert_eq!(d["documents"], 0);
    assert_eq!(d["content_deleted"], 1);
    assert!(!app.jobs.blobs.exists(&key(&orphan)).await.unwrap());
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_disposal_purges").await,
        0
    );
}

async fn records_retention_is_the_records_officers_and_stays_in_its_town(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let other = app.demo_session("townadmin.east-hartford").await;
    catalog(&app).await;
    types(&app, &officer).await;
    let bill = file(
        &app,
        &officer,
        "filename=bill.txt&type=Bills&document_date=2019-08-15",
        b"bill",
    )
    .await;
    let bid = bill["id"].as_str().unwrap();
    // A local series of West Hartford (administer); the clerk may not add one.
    let r = app
        .api(Method::POST, &format!("{WH}/retention/series"), &clerk,
            Some(json!({"code": "WH-1", "title": "Dog licences", "rule": "years", "trigger": "expiration", "years": 1, "disposition": "destroy"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let local = ok(
        app.api(Method::POST, &format!("{WH}/retention/series"), &officer,
            Some(json!({"schedule": "M9", "code": "WH-1", "title": "Dog licences", "rule": "years", "trigger": "expiration", "years": 1, "disposition": "destroy"}))).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(local["schedule"], "LOCAL");
    assert_eq!(local["level"], "town");
    // A code the region has is refused; a region series cannot be changed from the town.
    let r = app
        .api(Method::POST, &format!("{WH}/retention/series"), &officer,
            Some(json!({"code": "M3-120", "title": "x", "rule": "permanent", "disposition": "retain"})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["field"], "code");
    let cat = ok(
        app.api(
            Method::GET,
            &format!("{WH}/retention/series"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cat.as_array().unwrap().len(), 5);
    let region_id = cat
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "M3-120")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .api(Method::PUT, &format!("{WH}/retention/series/{region_id}"), &officer,
            Some(json!({"code": "M3-120", "title": "x", "rule": "permanent", "disposition": "retain"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // East Hartford sees neither West Hartford's local series nor any of its retention.
    let eh_cat = ok(
        app.api(Method::GET, &format!("{EH}/retention/series"), &other, None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(eh_cat.as_array().unwrap().len(), 4);
    let r = app
        .api(
            Method::POST,
            &format!("{EH}/types"),
            &other,
            Some(json!({"name": "Dogs", "retention_series": "WH-1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .api(
            Method::PUT,
            &format!("{EH}/retention/series/{}", local["id"].as_str().unwrap()),
            &other,
            Some(
                json!({"code": "WH-1", "title": "x", "rule": "permanent", "disposition": "retain"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let batch = ok(
        app.api(
            Method::POST,
            &format!("{WH}/disposition/batches"),
            &officer,
            Some(json!({"documents": [bid]})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let batch_id = batch["batch"]["id"].as_str().unwrap();
    let hold = ok(
        app.api(
            Method::POST,
            &format!("{WH}/holds"),
            &officer,
            Some(json!({"kind": "series", "target": "WH-1", "matter": "Audit", "reason": "r"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    for (m, path) in [
        (Method::GET, format!("{WH}/disposition/due")),
        (Method::GET, format!("{WH}/disposition/batches/{batch_id}")),
        (
            Method::POST,
            format!("{WH}/disposition/batches/{batch_id}/approve"),
        ),
        (
            Method::POST,
            format!("{WH}/disposition/batches/{batch_id}/destroy"),
        ),
        (Method::GET, format!("{WH}/holds")),
        (Method::GET, format!("{WH}/documents/{bid}/retention")),
    ] {
        let r = app.api(m.clone(), &path, &other, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {path}");
    }
    // Through East Hartford's own routes, West Hartford's ids are not found either.
    for (m, path) in [
        (Method::GET, format!("{EH}/disposition/batches/{batch_id}")),
        (
            Method::POST,
            format!("{EH}/disposition/batches/{batch_id}/approve"),
        ),
        (Method::GET, format!("{EH}/documents/{bid}/retention")),
    ] {
        let r = app.api(m.clone(), &path, &other, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {path}");
    }
    let r = app
        .api(
            Method::POST,
            &format!("{EH}/holds/{}/release", hold["id"].as_str().unwrap()),
            &other,
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api(
            Method::POST,
            &format!("{EH}/holds"),
            &other,
            Some(json!({"kind": "document", "target": bid, "matter": "m", "reason": "r"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "target");
    let eh_due = ok(
        app.api(Method::GET, &format!("{EH}/disposition/due"), &other, None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(eh_due.as_array().unwrap().len(), 0);
    let eh_batches = ok(
        app.api(
            Method::GET,
            &format!("{EH}/disposition/batches"),
            &other,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(eh_batches.as_array().unwrap().len(), 0);
}

async fn records_retention_series_import_is_all_or_nothing_by_row_and_column(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let officer = app.demo_session("townadmin.west-hartford").await;
    let import = |body: &'static str, auth: Auth| {
        let app = &app;
        async move {
            app.raw(
                Method::POST,
                "/api/v1/admin/retention/series/import?file_name=m3.csv",
                &auth,
                Some("text/csv"),
                body.as_bytes().to_vec(),
            )
            .await
        }
    };
    let r = import(
        "schedule,code,title,rule,disposition\nM3,M3-1,x,permanent,retain\n",
        officer.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let bad = "schedule,code,title,description,rule,trigger,years,follow,disposition,essential\n\
               M3,M3-120,Bills paid,,years,fiscal_year_end,3,,destroy,no\n\
               M3,M3-121,Bank statements,,years,someday,3,,destroy,no\n\
               M3,M3-122,Checks,,follow,,,M3-999,destroy,no\n\
               M3,M3-123,Payroll,,years,calendar_year_end,3,,shred,maybe\n";
    let r = import(bad, admin.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let p = r.json()["problems"].clone();
    let got: Vec<(u64, String)> = p
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["row"].as_u64().unwrap(),
                x["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(3, "trigger".to_owned()), (5, "essential".to_owned())],
        "{p}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_retention_series").await,
        0,
        "nothing imported"
    );
    let good = "schedule,code,title,description,rule,trigger,years,follow,disposition,essential\n\
                M3,M3-120,Bills paid,Vouchers and bills,years,fiscal_year_end,3,,destroy,no\n\
                M3,M3-122,Checks,,follow,,,M3-120,destroy,no\n\
                M1,M1-010,Minutes,,permanent,,,,retain,yes\n";
    let r = import(good, admin.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["added"], 3);
    let cat = ok(
        app.api(Method::GET, "/api/v1/retention/series", &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    let codes: Vec<&str> = cat
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["M1-010", "M3-120", "M3-122"]);
    assert!(
        cat.as_array()
            .unwrap()
            .iter()
            .all(|s| s["source"] == "imported")
    );
    assert_eq!(cat[0]["essential"], true);
    assert_eq!(cat[2]["rule_words"], "Follow the retention of M3-120");
    // Again, with one change: updated in place.
    let r = import("schedule,code,title,rule,trigger,years,disposition\nM3,M3-120,Bills paid,years,fiscal_year_end,6,destroy\n", admin.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["updated"], 1);
    let schedules = ok(
        app.api(Method::GET, "/api/v1/retention/schedules", &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(schedules.as_array().unwrap().len(), 17);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'records.series.import'"
        )
        .await,
        2
    );
}

async fn records_retention_pages_take_the_officer_from_catalog_to_destruction(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    // The council administrator adds a series by the form; a bad one names its field.
    let r = app
        .form(
            "/records/retention-catalog",
            &admin,
            &[
                ("schedule", "M3"),
                ("code", "M3-120"),
                ("title", "Bills paid"),
                ("rule", "years"),
                ("trigger", "fiscal_year_end"),
                ("years", "3"),
                ("disposition", "destroy"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let r = app
        .form(
            "/records/retention-catalog",
            &admin,
            &[
                ("schedule", "M99"),
                ("code", "X-1"),
                ("title", "x"),
                ("rule", "permanent"),
                ("disposition", "retain"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app
        .form(
            "/records/retention-catalog",
            &officer,
            &[("schedule", "M3"), ("code", "M3-9")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = app
        .api(
            Method::GET,
            "/records/retention-catalog?schedule=M3",
            &officer,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("Fiscal year end + 3 years"),
        "{}",
        page.text()
    );
    assert!(
        !page.text().contains("Edit M3-120"),
        "only the council administrator edits"
    );
    let page = app
        .api(Method::GET, "/records/retention-catalog", &admin, None)
        .await;
    assert!(page.text().contains("Edit M3-120"));
    // The town's type and a record past retention.
    ok(
        app.api(
            Method::POST,
            &format!("{WH}/types"),
            &officer,
            Some(json!({"name": "Bills", "retention_series": "M3-120"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let doc = file(
        &app,
        &officer,
        "filename=bill.txt&type=Bills&document_date=2019-08-15&title=Bill%20of%20August",
        b"bill",
    )
    .await;
    let id = doc["id"].as_str().unwrap();
    let page = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{id}"),
            &officer,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for want in [
        "M3-120 — Bills paid",
        "Fiscal year end + 3 years",
        "2023-06-30",
    ] {
        assert!(page.text().contains(want), "{want}");
    }
    let page = app
        .api(
            Method::GET,
            "/t/west-hartford/records?due_before=2023-12-31",
            &officer,
            None,
        )
        .await;
    assert!(page.text().contains("Bill of August"));
    // The officer's list, its CSV, a batch from the ticked row; the clerk is refused.
    let r = app
        .api(
            Method::GET,
            "/t/west-hartford/records/disposition",
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = app
        .api(
            Method::GET,
            "/t/west-hartford/records/disposition",
            &officer,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Bill of August"));
    assert!(page.text().contains("aria-label=\"Pick Bill of August\""));
    let csv = app
        .api(
            Method::GET,
            "/t/west-hartford/records/disposition?schedule=M3&format=csv",
            &officer,
            None,
        )
        .await;
    assert!(
        csv.text().contains(&format!(
            "{id},Bill of August,Bills,,2019-08-15,2023-06-30,M3,M3-120,Bills paid,4,,,true"
        )),
        "{}",
        csv.text()
    );
    let r = app
        .form(
            "/t/west-hartford/records/disposition",
            &officer,
            &[("documents", id), ("agency", "Finance")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let batch_page = r.location();
    assert!(
        batch_page.starts_with("/t/west-hartford/records/disposition/"),
        "{batch_page}"
    );
    let page = app.api(Method::GET, &batch_page, &officer, None).await;
    assert!(
        page.text()
            .contains("Approve and produce the authorization")
    );
    let r = app
        .form(&format!("{batch_page}/approve"), &officer, &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.api(Method::GET, &batch_page, &officer, None).await;
    assert!(
        page.text().contains("Download the authorization"),
        "{}",
        page.text()
    );
    let pdf = app
        .api(
            Method::GET,
            &format!("{batch_page}/authorization"),
            &officer,
            None,
        )
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdf_text(&pdf.body).contains("M3-120"));
    // A hold placed after approval stops the destruction, naming it.
    let r = app
        .form(
            "/t/west-hartford/records/holds",
            &officer,
            &[
                ("kind", "document"),
                ("target", id),
                ("matter", "Late audit question"),
                ("reason", "Auditor asked"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app
        .api(
            Method::GET,
            "/t/west-hartford/records/holds",
            &officer,
            None,
        )
        .await;
    assert!(page.text().contains("Late audit question"));
    let page = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{id}"),
            &officer,
            None,
        )
        .await;
    assert!(page.text().contains("Late audit question"));
    let r = app
        .form(&format!("{batch_page}/destroy"), &officer, &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_tombstones").await,
        0,
        "held: nothing destroyed"
    );
    let hold_id: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT id FROM records_legal_holds").fetch_one(c).await).unwrap()
    };
    let r = app
        .form(
            &format!("/t/west-hartford/records/holds/{hold_id}/release"),
            &officer,
            &[("reason", "Answered")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app
        .form(&format!("{batch_page}/destroy"), &officer, &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_tombstones").await,
        1
    );
    let page = app.api(Method::GET, &batch_page, &officer, None).await;
    assert!(page.text().contains("destroyed (tombstone)"));
    let r = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{id}"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn records_retention_the_demo_seeds_illustrative_series_only(app: TestApp) {
    let now =
        munishare_platform::types::Timestamp::new(time::macros::datetime!(2026-11-26 14:00 UTC));
    munishare_records::demo::seed(&app.db, &app.jobs.blobs, now)
        .await
        .unwrap();
    let officer = app.demo_session("townadmin.west-hartford").await;
    let cat = ok(
        app.api(Method::GET, "/api/v1/retention/series", &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    let cat = cat.as_array().unwrap();
    assert_eq!(cat.len(), 4);
    assert!(
        cat.iter()
            .all(|s| s["source"] == "illustrative"
                && s["code"].as_str().unwrap().starts_with("DEMO-"))
    );
    let types = ok(
        app.api(Method::GET, &format!("{WH}/types"), &officer, None)
            .await,
        StatusCode::OK,
    )
    .await;
    let series_of = |name: &str| {
        types
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["retention_series"]
            .clone()
    };
    assert_eq!(series_of("Meeting minutes"), "DEMO-M1-MINUTES");
    assert_eq!(series_of("Invoice"), "DEMO-M3-BILLS");
    let docs = ok(
        app.api(
            Method::GET,
            &format!("{WH}/documents?per_page=200"),
            &officer,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let invoice = docs["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type_name"] == "Invoice")
        .unwrap()
        .clone();
    let r = due_of(&app, &officer, invoice["id"].as_str().unwrap()).await;
    assert_eq!(r["status"], "pending", "bills wait for the audit: {r}");
    // Seeding twice adds no series.
    munishare_records::demo::seed(&app.db, &app.jobs.blobs, now)
        .await
        .ok();
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_retention_series").await,
        4
    );
}
