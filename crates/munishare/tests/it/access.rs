//! Tenancy and access through the API: who sees which towns and services,
//! checked against the reference data in ../shared/data.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::both_dbs;
use crate::harness::{Auth, TestApp, shared_data};

/// The Capitol planning region's towns, read straight from the reference data.
fn capitol_towns() -> Vec<String> {
    let csv = shared_data("ct_municipal/ct_towns_planning_regions.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let name = header.iter().position(|h| *h == "town_name").unwrap();
    let region = header.iter().position(|h| *h == "ce_name_2022").unwrap();
    let mut out: Vec<String> = lines
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|f| f[region].contains("Capitol"))
        .map(|f| f[name].clone())
        .collect();
    out.sort();
    out
}

/// Hartford's FY2018 facts from the OPM grand-list file.
fn hartford_fy2018(variable: &str) -> String {
    let csv = shared_data("ct_municipal/ct_municipal_grand_list_mill_rates_2001-2018.csv");
    csv.lines()
        .find(|l| {
            l.starts_with("\"Hartford\",")
                && l.contains("\"SFY 2017-2018\"")
                && l.contains(&format!(",\"{variable}\","))
        })
        .and_then(|l| l.rsplit(',').next())
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

async fn town_slugs(app: &TestApp, auth: &Auth) -> Vec<String> {
    let r = app.api(Method::GET, "/api/v1/towns", auth, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap().to_owned())
        .collect()
}

both_dbs!(
    a_town_user_sees_only_their_town,
    shared_staff_reach_exactly_the_towns_that_granted_them,
    a_region_auditor_sees_every_member_town_read_only,
    town_facts_match_the_opm_reference_data,
    council_administrators_need_a_grant_to_read_town_data,
    unsubscribed_services_are_unreachable_until_their_date,
    ending_a_subscription_cuts_access_on_its_date,
    grants_change_access_immediately,
    another_node_sees_a_revocation_within_the_cache_lifetime,
);

async fn a_town_user_sees_only_their_town(app: TestApp) {
    let s = app.demo_session("clerk.hartford").await;
    assert_eq!(town_slugs(&app, &s).await, ["hartford"]);
    let r = app
        .api(Method::GET, "/api/v1/towns/hartford/services", &s, None)
        .await;
    assert_eq!(
        r.json(),
        json!([{"service": "finance", "title": "Finance", "permissions": ["view", "edit"], "subscribed_since": "2024-07-01"}])
    );
}

async fn shared_staff_reach_exactly_the_towns_that_granted_them(app: TestApp) {
    let s = app.demo_session("field.assessor").await;
    let mut towns = town_slugs(&app, &s).await;
    towns.sort();
    assert_eq!(
        towns,
        ["east-hartford", "hartford", "manchester", "wethersfield"]
    );
    // Granted assessment only, although Hartford also subscribes to finance.
    let r = app
        .api(Method::GET, "/api/v1/towns/hartford/services", &s, None)
        .await;
    let services: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["service"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(services, ["assessment"]);
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/services/finance",
            &s,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api(Method::GET, "/api/v1/towns/west-hartford", &s, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn a_region_auditor_sees_every_member_town_read_only(app: TestApp) {
    let s = app.demo_session("auditor").await;
    let r = app.api(Method::GET, "/api/v1/towns", &s, None).await;
    let mut names: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, capitol_towns());
    assert_eq!(names.len(), 38);
    for t in r.json().as_array().unwrap() {
        for svc in t["services"].as_array().unwrap() {
            assert_eq!(svc["permissions"], json!(["view"]), "{t}");
        }
    }
}

async fn town_facts_match_the_opm_reference_data(app: TestApp) {
    let s = app.demo_session("townadmin.hartford").await;
    let r = app
        .api(Method::GET, "/api/v1/towns/hartford", &s, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let t = r.json();
    assert_eq!(t["mill_rate"], hartford_fy2018("Actual Mill Rate"));
    assert_eq!(t["mill_rate"], "74.29");
    assert_eq!(
        t["net_grand_list"].as_str().unwrap(),
        format!("{}.00", hartford_fy2018("Net Grand List"))
    );
    assert_eq!(t["fips"], "0911037070");
    let kinds: Vec<_> = t["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["town_government", "board_of_education"]);
}

async fn council_administrators_need_a_grant_to_read_town_data(app: TestApp) {
    let admin = app.demo_session("admin").await;
    assert!(town_slugs(&app, &admin).await.is_empty());
    assert_eq!(
        app.api(Method::GET, "/api/v1/towns/hartford", &admin, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api(Method::GET, "/t/hartford", &admin, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // …but they manage the town.
    let r = app
        .api(
            Method::GET,
            "/api/v1/admin/towns/hartford/subscriptions",
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 6);
}

async fn unsubscribed_services_are_unreachable_until_their_date(app: TestApp) {
    // Bloomfield's finance subscription starts on 2027-07-01; the auditor may view every service everywhere.
    let s = app.demo_session("auditor").await;
    let path = "/api/v1/towns/bloomfield/services/finance";
    assert_eq!(
        app.api(Method::GET, path, &s, None).await.status,
        StatusCode::NOT_FOUND
    );
    app.advance(time::Duration::days(216)); // 2026-11-26 + 216 days = 2027-06-30
    let s = app.demo_session("auditor").await;
    assert_eq!(
        app.api(Method::GET, path, &s, None).await.status,
        StatusCode::NOT_FOUND
    );
    app.advance(time::Duration::days(1));
    let s = app.demo_session("auditor").await;
    let r = app.api(Method::GET, path, &s, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["subscribed_since"], "2027-07-01");
}

async fn ending_a_subscription_cuts_access_on_its_date(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let clerk = app.token("clerk.hartford", "hartford", "finance").await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/admin/towns/hartford/subscriptions/finance/end",
            &admin,
            Some(json!({"ended_on": "2026-11-28"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["active"], true);
    assert_eq!(
        app.api(
            Method::GET,
            "/api/v1/towns/hartford/services/finance",
            &clerk,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    app.advance(time::Duration::days(2));
    assert_eq!(
        app.api(
            Method::GET,
            "/api/v1/towns/hartford/services/finance",
            &clerk,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let admin = app.demo_session("admin").await;
    // A second open subscription to the same service is refused; a new one after the end is fine.
    let again = app
        .api(
            Method::POST,
            "/api/v1/admin/towns/hartford/subscriptions",
            &admin,
            Some(json!({"service": "finance", "effective_from": "2026-12-01"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    let dup = app
        .api(
            Method::POST,
            "/api/v1/admin/towns/hartford/subscriptions",
            &admin,
            Some(json!({"service": "finance", "effective_from": "2026-12-02"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.json()["field"], "service");
}

async fn grants_change_access_immediately(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let users = app
        .api(Method::GET, "/api/v1/admin/users", &admin, None)
        .await
        .json();
    let clerk = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "clerk.hartford")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let roles = app
        .api(Method::GET, "/api/v1/admin/roles", &admin, None)
        .await
        .json();
    let role = |slug: &str| {
        roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["slug"] == slug)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let s = app.demo_session("clerk.hartford").await;
    assert_eq!(town_slugs(&app, &s).await, ["hartford"]);

    // A grant limited to a service the role has no permission in is refused, naming the field.
    let bad = app.api(Method::POST, "/api/v1/admin/grants", &admin, Some(json!({"user_id": clerk, "role_id": role("finance-clerk"), "town": "west-hartford", "service": "records"}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "service");

    let g = app.api(Method::POST, "/api/v1/admin/grants", &admin, Some(json!({"user_id": clerk, "role_id": role("records-clerk"), "town": "west-hartford"}))).await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.text());
    let mut towns = town_slugs(&app, &s).await;
    towns.sort();
    assert_eq!(towns, ["hartford", "west-hartford"]);
    let dup = app.api(Method::POST, "/api/v1/admin/grants", &admin, Some(json!({"user_id": clerk, "role_id": role("records-clerk"), "town": "west-hartford"}))).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);

    let id = g.json()["id"].as_str().unwrap().to_owned();
    let r = app
        .api(
            Method::DELETE,
            &format!("/api/v1/admin/grants/{id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(town_slugs(&app, &s).await, ["hartford"]);
    let again = app
        .api(
            Method::DELETE,
            &format!("/api/v1/admin/grants/{id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

async fn another_node_sees_a_revocation_within_the_cache_lifetime(app: TestApp) {
    use munishare_platform::{Db, access, cache, identity};
    // A second server process behind the same database has its own cache.
    let node2 = Db::connect(&app.url).await.unwrap();
    let mut c = node2.read().await.unwrap();
    let user = identity::user_by_username(&mut c, "clerk.hartford")
        .await
        .unwrap()
        .unwrap();
    drop(c);
    let principal = identity::principal_for_user(&user);
    let today = time::macros::date!(2026 - 11 - 26);
    assert!(
        access::authorize_town(&node2, &principal, today, "hartford")
            .await
            .is_ok()
    );

    // Node 1 (the app) revokes the clerk's only grant.
    let admin = app.demo_session("admin").await;
    let detail = app
        .api(
            Method::GET,
            &format!("/api/v1/admin/users/{}", user.id),
            &admin,
            None,
        )
        .await
        .json();
    let grant = detail["grants"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api(
            Method::DELETE,
            &format!("/api/v1/admin/grants/{grant}"),
            &admin,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // Node 1 knows at once.
    let clerk = app.demo_session("clerk.hartford").await;
    assert_eq!(
        app.api(Method::GET, "/api/v1/towns/hartford", &clerk, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Node 2 may still answer from its cache, but no longer than the cache lifetime.
    tokio::time::sleep(cache::TTL + std::time::Duration::from_millis(100)).await;
    assert!(
        access::authorize_town(&node2, &principal, today, "hartford")
            .await
            .is_err()
    );
    node2.close().await;
}
