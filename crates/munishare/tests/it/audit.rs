//! The audit log: written with every change, hash-chained per town, verifiable,
//! tamper-evident, filterable and exportable, and visible only where allowed.

use axum::http::{Method, StatusCode, header};
use munishare_platform::db::dialect;
use munishare_platform::{audit, dispatch, execute};
use serde_json::json;

use crate::both_dbs;
use crate::harness::TestApp;

both_dbs!(
    every_change_is_audited_with_actor_request_and_before_after,
    the_chains_verify_and_tampering_is_found,
    the_database_refuses_updates_to_the_audit_table,
    the_viewer_filters_exports_csv_and_shows_only_what_the_reader_may_see,
);

async fn every_change_is_audited_with_actor_request_and_before_after(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/admin/towns/hartford/departments",
            &admin,
            Some(json!({"entity": "town_government", "code": "PLN", "name": "Planning"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let request_id = r
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let dept_id = r.json()["id"].as_str().unwrap().to_owned();
    let townadmin = app.demo_session("townadmin.hartford").await;
    let page = app
        .api(
            Method::GET,
            &format!("/api/v1/audit?entity_id={dept_id}"),
            &townadmin,
            None,
        )
        .await
        .json();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    let e = &events[0];
    assert_eq!(e["actor"], "admin");
    assert_eq!(e["action"], "department.create");
    assert_eq!(e["request_id"], request_id);
    assert_eq!(e["after"]["code"], "PLN");
    assert_eq!(e["before"], serde_json::Value::Null);
    assert_eq!(e["at"], "2026-11-26T14:00:00.000000Z");
    // Duplicate code: refused, and nothing is audited for the failure.
    let dup = app
        .api(
            Method::POST,
            "/api/v1/admin/towns/hartford/departments",
            &admin,
            Some(json!({"entity": "town_government", "code": "pln", "name": "Again"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.json()["field"], "code");
    let page = app
        .api(
            Method::GET,
            "/api/v1/audit?entity_type=department",
            &townadmin,
            None,
        )
        .await
        .json();
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
}

async fn the_chains_verify_and_tampering_is_found(app: TestApp) {
    let report = audit::verify(&app.db).await.unwrap();
    assert!(report.broken.is_empty(), "{report:?}");
    // One chain per town (38) plus the region chain.
    assert_eq!(report.chains, 39);
    let before = report.events;

    // A second change in Hartford lengthens its chain by one.
    let admin = app.demo_session("admin").await;
    app.api(
        Method::POST,
        "/api/v1/admin/towns/hartford/departments",
        &admin,
        Some(json!({"entity": "board_of_education", "code": "BOE-IT", "name": "Schools IT"})),
    )
    .await;
    assert_eq!(audit::verify(&app.db).await.unwrap().events, before + 1);

    // A batch written at once (a bulk load's) chains like single events: three, then one more.
    let town = {
        let mut c = app.db.read().await.unwrap();
        munishare_platform::tenancy::find_by_slug(&mut c, "hartford")
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let change = |n: usize| audit::Change {
        municipality_id: Some(town.clone()),
        service: None,
        action: "test.batch",
        entity_type: "test",
        entity_id: format!("item-{n}"),
        before: None,
        after: Some(json!({"n": n})),
    };
    let now = munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    let actor = audit::Actor::system("test");
    let mut tx = app.db.begin().await.unwrap();
    audit::record_all(&mut tx, now, &actor, (1..=3).map(change).collect())
        .await
        .unwrap();
    audit::record(&mut tx, now, &actor, change(4))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let report = audit::verify(&app.db).await.unwrap();
    assert!(report.broken.is_empty(), "{report:?}");
    assert_eq!(report.events, before + 5);
    let mut c = app.db.read().await.unwrap();
    let order: Vec<String> = dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT entity_id FROM audit_events WHERE action = 'test.batch' ORDER BY seq").fetch_all(c).await).unwrap();
    assert_eq!(order, ["item-1", "item-2", "item-3", "item-4"]);
    drop(c);

    // Someone with DDL rights removes the guard and edits an event behind the application's back.
    dialect::drop_guards_for_tamper_test(&app.db).await.unwrap();
    let mut c = app.db.read().await.unwrap();
    let (chain, seq): (String, i64) = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT chain, seq FROM audit_events WHERE action = 'department.create' AND entity_type = 'department'")
        .fetch_one(c).await).unwrap();
    execute!(&mut c, c => sqlx::query("UPDATE audit_events SET after_json = '{\"code\":\"HIDDEN\"}' WHERE chain = $1 AND seq = $2")
        .bind(&chain).bind(seq).execute(c).await).unwrap();
    drop(c);
    let report = audit::verify(&app.db).await.unwrap();
    assert_eq!(report.broken.len(), 1, "{report:?}");
    assert_eq!(report.broken[0].chain, chain);
    assert_eq!(report.broken[0].seq, seq);
    assert!(report.broken[0].reason.contains("altered"));

    // Deleting the newest event of the region chain is found too.
    let mut c = app.db.read().await.unwrap();
    let last: i64 = dispatch!(&mut c, c => sqlx::query_scalar("SELECT MAX(seq) FROM audit_events WHERE chain = 'region'").fetch_one(c).await).unwrap();
    execute!(&mut c, c => sqlx::query("DELETE FROM audit_events WHERE chain = 'region' AND seq = $1").bind(last).execute(c).await).unwrap();
    drop(c);
    let report = audit::verify(&app.db).await.unwrap();
    let region = report.broken.iter().find(|b| b.chain == "region").unwrap();
    assert_eq!(region.seq, last);
    assert!(region.reason.contains("removed"), "{}", region.reason);
}

async fn the_database_refuses_updates_to_the_audit_table(app: TestApp) {
    let mut c = app.db.read().await.unwrap();
    let update = execute!(&mut c, c => sqlx::query("UPDATE audit_events SET actor = 'someone else'").execute(c).await);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = execute!(&mut c, c => sqlx::query("DELETE FROM audit_events").execute(c).await);
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

async fn the_viewer_filters_exports_csv_and_shows_only_what_the_reader_may_see(app: TestApp) {
    let admin = app.demo_session("admin").await;
    for (town, code) in [("hartford", "AUD1"), ("west-hartford", "AUD2")] {
        let r = app
            .api(
                Method::POST,
                &format!("/api/v1/admin/towns/{town}/departments"),
                &admin,
                Some(json!({"entity": "town_government", "code": code, "name": "Audit test"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    // A Hartford user sees Hartford's department event, never West Hartford's.
    let clerk = app.demo_session("clerk.hartford").await;
    let page = app
        .api(
            Method::GET,
            "/api/v1/audit?entity_type=department",
            &clerk,
            None,
        )
        .await
        .json();
    let codes: Vec<_> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["after"]["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, ["AUD1"]);
    // Region events (users) are for council administrators only.
    let users = app
        .api(Method::GET, "/api/v1/audit?entity_type=user", &clerk, None)
        .await
        .json();
    assert!(users["events"].as_array().unwrap().is_empty());
    let users = app
        .api(
            Method::GET,
            "/api/v1/audit?entity_type=user&limit=500",
            &admin,
            None,
        )
        .await
        .json();
    // The demo's eleven users, and the demo seed's account: created, then disabled.
    assert_eq!(users["events"].as_array().unwrap().len(), 13);

    // Filters and cursor pagination: 13 user events in pages of 4.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!(
            "/api/v1/audit?entity_type=user&limit=4&cursor={}",
            url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>()
        );
        let page = app.api(Method::GET, &url, &admin, None).await.json();
        seen.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    seen.dedup();
    assert_eq!(seen.len(), 13);

    let bad = app
        .api(Method::GET, "/api/v1/audit?from=26/11/2026", &admin, None)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "from");
    let none = app
        .api(Method::GET, "/api/v1/audit?from=2026-11-27", &admin, None)
        .await
        .json();
    assert!(none["events"].as_array().unwrap().is_empty());

    // CSV export from the page, with the same visibility.
    let csv = app
        .api(
            Method::GET,
            "/audit.csv?entity_type=department",
            &clerk,
            None,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("at,town,service,actor,action")
    );
    let rows: Vec<_> = lines.collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(
        rows[0].contains("Hartford")
            && rows[0].contains("department.create")
            && !text.contains("AUD2")
    );
    // The page renders, and an htmx request gets only the rows.
    let page = app
        .api(Method::GET, "/audit?entity_type=department", &clerk, None)
        .await;
    assert!(page.text().contains("<h1>Audit log</h1>"));
}
