//! The job queue: enqueue, run, retry with back-off, fail after the last attempt.

use axum::http::{Method, StatusCode};
use munishare_platform::jobs::{self, JobContext, Registry};
use munishare_platform::types::Timestamp;
use munishare_platform::{Clock, Error};
use serde_json::json;

use crate::both_dbs;
use crate::harness::TestApp;

both_dbs!(
    an_administrator_runs_the_audit_verification_job,
    failing_jobs_retry_with_back_off_then_fail,
    housekeeping_is_scheduled_once_per_period,
);

fn ctx(app: &TestApp) -> JobContext {
    app.jobs.clone()
}

async fn an_administrator_runs_the_audit_verification_job(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/admin/jobs",
            &admin,
            Some(json!({"kind": "audit.verify"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.json()["status"], "queued");
    let bad = app
        .api(
            Method::POST,
            "/api/v1/admin/jobs",
            &admin,
            Some(json!({"kind": "rm -rf"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "kind");

    assert!(
        Registry::with_platform_jobs()
            .run_one(&ctx(&app))
            .await
            .unwrap()
    );
    assert!(
        !Registry::with_platform_jobs()
            .run_one(&ctx(&app))
            .await
            .unwrap()
    );
    let list = app
        .api(Method::GET, "/api/v1/admin/jobs?status=done", &admin, None)
        .await
        .json();
    let job = &list[0];
    assert_eq!(job["kind"], "audit.verify");
    assert_eq!(job["result"]["chains"], 39);
    assert_eq!(job["result"]["broken"], json!([]));
    // The jobs page shows it.
    let page = app.api(Method::GET, "/admin/jobs", &admin, None).await;
    assert!(page.text().contains("audit.verify"));
    // Non-administrators cannot see the queue.
    let clerk = app.demo_session("clerk.hartford").await;
    assert_eq!(
        app.api(Method::GET, "/api/v1/admin/jobs", &clerk, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn failing_jobs_retry_with_back_off_then_fail(app: TestApp) {
    let mut registry = Registry::default();
    registry.register(
        "always.fails",
        |_ctx: JobContext, _p: serde_json::Value| async move {
            Err::<serde_json::Value, _>(Error::Internal("the scanner share is offline".into()))
        },
    );
    let mut tx = app.db.begin().await.unwrap();
    let id = jobs::enqueue(
        &mut tx,
        Timestamp::new(app.clock.now()),
        "always.fails",
        None,
        &json!({}),
        3,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let ctx = ctx(&app);

    assert!(registry.run_one(&ctx).await.unwrap());
    let j = jobs::get(&app.db, &id).await.unwrap();
    assert_eq!((j.status.as_str(), j.attempts), ("retry", 1));
    assert_eq!(j.run_at, "2026-11-26T14:00:10.000000Z");
    assert!(j.last_error.unwrap().contains("scanner share is offline"));
    // Not due yet.
    assert!(!registry.run_one(&ctx).await.unwrap());
    app.advance(time::Duration::seconds(10));
    assert!(registry.run_one(&ctx).await.unwrap());
    let j = jobs::get(&app.db, &id).await.unwrap();
    assert_eq!((j.status.as_str(), j.attempts), ("retry", 2));
    assert_eq!(j.run_at, "2026-11-26T14:00:30.000000Z");
    app.advance(time::Duration::seconds(20));
    assert!(registry.run_one(&ctx).await.unwrap());
    let j = jobs::get(&app.db, &id).await.unwrap();
    assert_eq!((j.status.as_str(), j.attempts), ("failed", 3));

    // An administrator puts it back in the queue.
    let admin = app.demo_session("admin").await;
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/admin/jobs/{id}/retry"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.json()["status"], "queued");
}

async fn housekeeping_is_scheduled_once_per_period(app: TestApp) {
    let now = || Timestamp::new(app.clock.now());
    assert_eq!(
        Registry::with_platform_jobs()
            .schedule_due(&app.db, now())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        Registry::with_platform_jobs()
            .schedule_due(&app.db, now())
            .await
            .unwrap(),
        0,
        "already queued"
    );
    let registry = Registry::with_platform_jobs();
    while registry.run_one(&ctx(&app)).await.unwrap() {}
    app.advance(time::Duration::minutes(59));
    assert_eq!(
        Registry::with_platform_jobs()
            .schedule_due(&app.db, now())
            .await
            .unwrap(),
        0,
        "ran within the hour"
    );
    app.advance(time::Duration::minutes(2));
    // Sessions are purged hourly; the audit chains are verified daily.
    assert_eq!(
        Registry::with_platform_jobs()
            .schedule_due(&app.db, now())
            .await
            .unwrap(),
        1
    );
    let admin = app.demo_session("admin").await;
    let queued = app
        .api(
            Method::GET,
            "/api/v1/admin/jobs?status=queued",
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(queued[0]["kind"], "sessions.purge");
    while registry.run_one(&ctx(&app)).await.unwrap() {}
    let done = app
        .api(Method::GET, "/api/v1/admin/jobs?status=done", &admin, None)
        .await
        .json();
    let purge = done
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "sessions.purge")
        .unwrap();
    assert!(purge["result"]["sessions_removed"].is_u64());
}
