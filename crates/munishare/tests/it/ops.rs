//! Operations endpoints, OpenAPI, Swagger UI, assets and the page shell.

use axum::http::{Method, StatusCode, header};

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(
    health_readiness_metrics_and_docs_answer,
    pages_render_for_each_kind_of_user
);

/// The public API surface, snapshotted: a change to a route, a schema or a
/// description shows up in review as a diff of `snapshots/it__ops__openapi.snap`.
#[tokio::test]
async fn the_openapi_document_is_stable() {
    crate::harness::run(
        munishare_platform::db::testing::Backend::Sqlite,
        |app: TestApp| async move {
            insta::assert_json_snapshot!("openapi", app.openapi);
            // OpenAPI requires every operation's id to be unique (client generators name methods by it).
            let mut ids: Vec<&str> = app.openapi["paths"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|ops| ops.as_object().unwrap().values())
                .filter_map(|op| op["operationId"].as_str())
                .collect();
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), n, "operation ids repeat");
        },
    )
    .await;
}

async fn health_readiness_metrics_and_docs_answer(app: TestApp) {
    let get = |p: &'static str| {
        let app = app.clone();
        async move { app.raw(Method::GET, p, &Auth::None, None, Vec::new()).await }
    };
    assert_eq!(get("/healthz").await.text(), "ok");
    assert_eq!(get("/readyz").await.text(), "ready");
    let metrics = get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.text().contains("http_requests_total"),
        "{}",
        metrics.text()
    );
    let doc = get("/api/openapi.json").await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"].as_object().unwrap().len() >= 20);
    let ui = get("/api/docs/").await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(
        ui.text().contains("swagger"),
        "Swagger UI is served from the binary"
    );
    let htmx = get("/assets/htmx.min.js").await;
    assert_eq!(htmx.status, StatusCode::OK);
    assert!(
        htmx.headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(htmx.body.len() > 40_000);
    let missing = get("/api/v1/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/problem+json"
    );
    assert_eq!(get("/no/such/page").await.status, StatusCode::NOT_FOUND);
    assert!(get("/healthz").await.headers.get("x-request-id").is_some());
}

async fn pages_render_for_each_kind_of_user(app: TestApp) {
    let admin = app.demo_session("admin").await;
    for path in [
        "/",
        "/admin/towns",
        "/admin/towns/hartford",
        "/admin/users",
        "/admin/jobs",
        "/admin/roles",
        "/audit",
        "/profile",
        "/admin/towns?q=hart&sort=population&dir=desc",
    ] {
        let r = app.api(Method::GET, path, &admin, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        assert!(r.text().contains("</html>"), "{path}");
    }
    let roles = app
        .api(Method::GET, "/admin/roles", &admin, None)
        .await
        .text();
    assert!(roles.contains("Regional field assessor") && roles.contains("view, edit"));
    let towns = app
        .api(
            Method::GET,
            "/admin/towns?q=hart&sort=population&dir=desc",
            &admin,
            None,
        )
        .await
        .text();
    // Hartford (122,587) before West Hartford (62,939) before East Hartford (49,998).
    let (h, w, e) = (
        towns.find(">Hartford<").unwrap(),
        towns.find(">West Hartford<").unwrap(),
        towns.find(">East Hartford<").unwrap(),
    );
    assert!(h < w && w < e, "sorted by population, descending");
    let csv = app
        .api(Method::GET, "/admin/towns?format=csv", &admin, None)
        .await
        .text();
    assert_eq!(csv.lines().count(), 39);
    assert!(csv.contains("Hartford,0911037070,Hartford,122587,4068017222.00,74.29,"));
    let towns_xlsx = app
        .api(Method::GET, "/admin/towns?q=west&format=xlsx", &admin, None)
        .await;
    let mut book: calamine::Xlsx<_> =
        calamine::Reader::new(std::io::Cursor::new(towns_xlsx.body.clone())).unwrap();
    let range = calamine::Reader::worksheet_range(&mut book, "Sheet1").unwrap();
    // The header and West Hartford, the one town whose name, county or FIPS contains "west".
    assert_eq!(range.rows().count(), 2);
    assert_eq!(
        range.rows().nth(1).unwrap()[0],
        calamine::Data::String("West Hartford".into())
    );
    let users_csv = app
        .api(
            Method::GET,
            "/admin/users?q=hartford&format=csv",
            &admin,
            None,
        )
        .await
        .text();
    assert_eq!(users_csv.lines().count(), 1 + 6, "{users_csv}");

    let assessor = app.demo_session("field.assessor").await;
    let home = app.api(Method::GET, "/", &assessor, None).await.text();
    for town in ["East Hartford", "Hartford", "Manchester", "Wethersfield"] {
        assert!(home.contains(town));
    }
    assert!(!home.contains("Council administration"));
    let town = app
        .api(Method::GET, "/t/east-hartford", &assessor, None)
        .await
        .text();
    assert!(town.contains("<h1>East Hartford</h1>"));
    assert!(town.contains("49,998"));
    assert_eq!(
        app.api(Method::GET, "/admin/users", &assessor, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
