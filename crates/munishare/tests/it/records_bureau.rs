//! The council's scanning bureau (issue 6; docs/design/0013-records.md, "Scanning bureau"):
//! the demo's `scan.bureau` holds the "Scanning bureau operator" role (records: edit, no view)
//! in Hartford, West Hartford and East Hartford. It files in each, sees only what it filed
//! (lists, reads, search hits and counts), reaches no other town or service, and sees the
//! town's records once the town grants it more. The pages it files are metered per town for
//! the chargeback; expected counts are the pages of the hand-made PDFs below.

use axum::http::{Method, StatusCode};
use munishare_platform::dispatch;
use munishare_platform::types::{Permission, Service};
use serde_json::{Value, json};

use crate::both_dbs;
use crate::harness::{Auth, TestApp};
use crate::records_text::text_pdf;

both_dbs!(
    the_bureau_files_in_granted_towns_and_sees_only_what_it_filed,
    pages_filed_are_metered_per_town_with_the_bureaus_share
);

fn records(town: &str) -> String {
    format!("/api/v1/towns/{town}/records")
}

/// Files `body` as `name` in `town`; returns the document's id.
async fn file(app: &TestApp, auth: &Auth, town: &str, name: &str, body: &[u8]) -> String {
    let r = app
        .raw(
            Method::POST,
            &format!("{}/documents?filename={name}", records(town)),
            auth,
            Some("application/octet-stream"),
            body.to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{town} {name}: {}", r.text());
    r.json()["document"]["id"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, auth: &Auth, path: &str) -> crate::harness::Resp {
    app.api(Method::GET, path, auth, None).await
}

/// The titles a list or search answer holds, sorted.
fn titles(v: &Value, key: &str) -> Vec<String> {
    let mut t: Vec<String> = v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d.get("document")
                .unwrap_or(d)
                .get("title")
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    t.sort();
    t
}

async fn the_bureau_files_in_granted_towns_and_sees_only_what_it_filed(app: TestApp) {
    let bureau = app.demo_session("scan.bureau").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let wh = records("west-hartford");

    let clerks = file(
        &app,
        &clerk,
        "west-hartford",
        "zoning-minutes.txt",
        b"Zoning board minutes, March",
    )
    .await;
    let mine = file(
        &app,
        &bureau,
        "west-hartford",
        "zoning-map.txt",
        b"Zoning map of the Elmwood district",
    )
    .await;
    file(
        &app,
        &bureau,
        "hartford",
        "deed-scan.txt",
        b"Warranty deed, Asylum Avenue",
    )
    .await;
    file(
        &app,
        &bureau,
        "east-hartford",
        "permit-scan.txt",
        b"Building permit, Main Street",
    )
    .await;

    // The list holds only what the bureau filed, though the town has more (the clerk's and the demo's).
    let list = get(&app, &bureau, &format!("{wh}/documents")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    assert_eq!(titles(&list.json(), "documents"), ["zoning-map"]);
    assert_eq!(list.json()["total"], 1);
    let all = get(&app, &clerk, &format!("{wh}/documents?q=zoning"))
        .await
        .json();
    assert_eq!(titles(&all, "documents"), ["zoning-map", "zoning-minutes"]);

    // Its own document reads, downloads and takes a title; the clerk's is not there at all.
    assert_eq!(
        get(&app, &bureau, &format!("{wh}/documents/{mine}"))
            .await
            .status,
        StatusCode::OK
    );
    let content = get(&app, &bureau, &format!("{wh}/documents/{mine}/content")).await;
    assert_eq!(content.body, b"Zoning map of the Elmwood district");
    let renamed = app
        .api(
            Method::PUT,
            &format!("{wh}/documents/{mine}"),
            &bureau,
            Some(json!({"title": "Elmwood zoning map"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
    for path in [
        format!("{wh}/documents/{clerks}"),
        format!("{wh}/documents/{clerks}/content"),
    ] {
        assert_eq!(
            get(&app, &bureau, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let theirs = app
        .api(
            Method::PUT,
            &format!("{wh}/documents/{clerks}"),
            &bureau,
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    // Marking a record confidential is the records officer's.
    let conf = app
        .api(
            Method::PUT,
            &format!("{wh}/documents/{mine}"),
            &bureau,
            Some(json!({"title": "Elmwood zoning map", "confidential": true})),
        )
        .await;
    assert_eq!(
        conf.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        conf.text()
    );
    assert_eq!(conf.json()["field"], "confidential");

    // The search applies the same rule inside the index: one hit, one in the counts.
    let hits = get(&app, &bureau, &format!("{wh}/search?q=zoning")).await;
    assert_eq!(hits.status, StatusCode::OK, "{}", hits.text());
    assert_eq!(titles(&hits.json(), "hits"), ["Elmwood zoning map"]);
    assert_eq!(hits.json()["total"], 1);
    let clerk_hits = get(&app, &clerk, &format!("{wh}/search?q=zoning"))
        .await
        .json();
    assert_eq!(
        titles(&clerk_hits, "hits"),
        ["Elmwood zoning map", "zoning-minutes"]
    );

    // What needs view in the town stays closed: the retention schedule, the pages meter.
    for path in [format!("{wh}/retention/series"), format!("{wh}/usage")] {
        let r = get(&app, &bureau, &path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text());
    }
    // No other town, and no other service in the towns that granted it.
    for path in [
        records("manchester") + "/documents",
        records("bloomfield") + "/documents",
        "/api/v1/towns/west-hartford/finance/accounts".to_owned(),
    ] {
        assert_eq!(
            get(&app, &bureau, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    // Scanning software gets a token limited to one town, within the same rule.
    let token = app.token("scan.bureau", "west-hartford", "records").await;
    file(
        &app,
        &token,
        "west-hartford",
        "by-scanner.txt",
        b"Scanned by the station",
    )
    .await;
    let by_token = get(&app, &token, &format!("{wh}/documents")).await.json();
    assert_eq!(
        titles(&by_token, "documents"),
        ["Elmwood zoning map", "by-scanner"]
    );
    assert_eq!(
        get(&app, &token, &format!("{}/documents", records("hartford")))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The page says what the bureau sees.
    let page = get(&app, &bureau, "/t/west-hartford/records").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("id=\"records-contributor\""), "{html}");
    assert!(html.contains("Elmwood zoning map") && !html.contains("zoning-minutes"));

    // West Hartford grants it more: the records clerk's role. Now it reads the town.
    let admin = app.demo_session("admin").await;
    let users = get(&app, &admin, "/api/v1/admin/users").await.json();
    let bureau_id = id_where(&users, "username", "scan.bureau");
    let roles = get(&app, &admin, "/api/v1/admin/roles").await.json();
    let clerk_role = id_where(&roles, "slug", "records-clerk");
    let g = app
        .api(
            Method::POST,
            "/api/v1/admin/grants",
            &admin,
            Some(json!({"user_id": bureau_id, "role_id": clerk_role, "town": "west-hartford"})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.text());
    let more = get(&app, &bureau, &format!("{wh}/documents?q=zoning"))
        .await
        .json();
    assert_eq!(
        titles(&more, "documents"),
        ["Elmwood zoning map", "zoning-minutes"]
    );
    let more_hits = get(&app, &bureau, &format!("{wh}/search?q=zoning"))
        .await
        .json();
    assert_eq!(more_hits["total"], 2);
    // Hartford granted nothing more: still only its own there.
    let h = get(&app, &bureau, &format!("{}/documents", records("hartford")))
        .await
        .json();
    assert_eq!(titles(&h, "documents"), ["deed-scan"]);

    // A role that grants approve without view makes no records officer: the module lets
    // edit-only contributors in, but such a caller reaches neither the holds nor the disposal
    // lists, in the API or the pages.
    let approve_only = {
        let now =
            munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
        let mut tx = app.db.begin().await.unwrap();
        let role = munishare_platform::access::insert_role(
            &mut tx,
            now,
            &munishare_platform::audit::Actor::system("test"),
            "records-approve-only",
            "Records approval only",
            "approve without view",
            &[(Service::Records, Permission::Approve)],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        role.id
    };
    let assessor = app.demo_session("assessor.hartford").await;
    let assessor_id = id_where(&users, "username", "assessor.hartford");
    let g = app
        .api(
            Method::POST,
            "/api/v1/admin/grants",
            &admin,
            Some(json!({"user_id": assessor_id, "role_id": approve_only, "town": "hartford"})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.text());
    for path in [
        format!("{}/holds", records("hartford")),
        format!("{}/disposition/due", records("hartford")),
        format!("{}/disposition/batches", records("hartford")),
        "/t/hartford/records/holds".to_owned(),
        "/t/hartford/records/disposition".to_owned(),
    ] {
        let r = get(&app, &assessor, &path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text());
    }
}

/// The `id` of the item of a JSON list whose `key` is `value`.
fn id_where(list: &Value, key: &str, value: &str) -> Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value}"))["id"]
        .clone()
}

async fn readings(app: &TestApp) -> i64 {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'records.metering.reading'")
        .fetch_one(c).await)
    .unwrap()
}

async fn pages_filed_are_metered_per_town_with_the_bureaus_share(app: TestApp) {
    let bureau = app.demo_session("scan.bureau").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let officer = app.demo_session("townadmin.west-hartford").await;
    // One page each (born-digital PDFs); plain text has no pages.
    let pdf = |words: &str| text_pdf(&[words], 14);
    file(
        &app,
        &bureau,
        "west-hartford",
        "a.pdf",
        &pdf("Tax map sheet 12"),
    )
    .await;
    file(
        &app,
        &bureau,
        "west-hartford",
        "b.pdf",
        &pdf("Tax map sheet 13"),
    )
    .await;
    file(
        &app,
        &clerk,
        "west-hartford",
        "c.pdf",
        &pdf("Council agenda"),
    )
    .await;
    file(
        &app,
        &clerk,
        "west-hartford",
        "d.txt",
        b"A memo with no pages",
    )
    .await;
    file(
        &app,
        &bureau,
        "hartford",
        "e.pdf",
        &pdf("Deed of Asylum Hill"),
    )
    .await;
    let registry = munishare::jobs();
    while registry.run_one(&app.jobs).await.unwrap() {}

    let now = munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    munishare_records::metering::measure(&app.db, now)
        .await
        .unwrap();
    // Four readings rose (pages and the bureau's, in two towns); counting again changes none.
    let first = readings(&app).await;
    assert_eq!(first, 4);
    munishare_records::metering::measure(&app.db, now)
        .await
        .unwrap();
    assert_eq!(readings(&app).await, first);

    let u = get(
        &app,
        &officer,
        &format!("{}/usage?month=2026-11", records("west-hartford")),
    )
    .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text());
    let u = u.json();
    assert_eq!(
        (u["pages"].as_i64(), u["bureau_pages"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(
        u["days"],
        json!([{"day": "2026-11-26", "pages": 3, "bureau_pages": 2}])
    );
    let october = get(
        &app,
        &officer,
        &format!("{}/usage?month=2026-10", records("west-hartford")),
    )
    .await
    .json();
    assert_eq!(october["pages"], 0);
    let bad = get(
        &app,
        &officer,
        &format!("{}/usage?month=November", records("west-hartford")),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "month");

    // The council's view: every town the caller reads records in, and no other.
    let auditor = app.demo_session("auditor").await;
    let region = get(&app, &auditor, "/api/v1/records/usage?month=2026-11")
        .await
        .json();
    let by_town: Vec<(String, i64, i64)> = region
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["town"].as_str().unwrap().to_owned(),
                t["pages"].as_i64().unwrap(),
                t["bureau_pages"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_town,
        [
            ("east-hartford".to_owned(), 0, 0),
            ("hartford".to_owned(), 1, 1),
            ("west-hartford".to_owned(), 3, 2)
        ]
    );
    let own = get(&app, &officer, "/api/v1/records/usage?month=2026-11")
        .await
        .json();
    assert_eq!(own.as_array().unwrap().len(), 1);

    // The page, its chart and its export.
    let page = get(&app, &auditor, "/records/usage?month=2026-11").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("<strong id=\"pages-total\">4</strong>"),
        "{html}"
    );
    assert!(
        html.contains("<strong id=\"pages-bureau\">3</strong>"),
        "{html}"
    );
    assert!(html.contains("id=\"pages-chart\""));
    let csv = get(&app, &auditor, "/records/usage?month=2026-11&format=csv")
        .await
        .text();
    assert!(csv.contains("West Hartford,2026-11,3,2"), "{csv}");
}
