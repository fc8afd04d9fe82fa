//! Identity and security: sign-in, the failed-sign-in lock, session timeouts,
//! CSRF, forced password change and API tokens.

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::both_dbs;
use crate::harness::{Auth, PASSWORD, TestApp};

both_dbs!(
    five_failed_sign_ins_lock_the_account_for_fifteen_minutes,
    sessions_end_when_idle_and_at_their_absolute_limit,
    sign_out_ends_the_session,
    forms_without_the_csrf_token_are_refused,
    browser_api_calls_need_the_csrf_header,
    new_users_must_change_their_temporary_password,
    api_tokens_are_limited_to_their_town_and_service_and_revocable,
    expired_tokens_stop_working,
    cookies_are_http_only_and_same_site,
    one_address_gets_thirty_sign_in_attempts_per_five_minutes,
);

async fn token_attempt(app: &TestApp, password: &str) -> crate::harness::Resp {
    app.api(Method::POST, "/api/v1/auth/token", &Auth::None, Some(json!({
        "username": "clerk.hartford", "password": password, "town": "hartford", "service": "finance", "label": "x"
    })))
    .await
}

async fn five_failed_sign_ins_lock_the_account_for_fifteen_minutes(app: TestApp) {
    for left in (1..=4).rev() {
        let r = token_attempt(&app, "wrong password!").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        let expected = format!(
            "After {left} more failed attempt{} the account will be locked for 15 minutes.",
            if left == 1 { "" } else { "s" }
        );
        assert!(detail.contains(&expected), "{detail}");
    }
    let r = token_attempt(&app, "wrong password!").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Locked at 14:00 + 15 min.
    assert_eq!(r.json()["locked_until"], "2026-11-26T14:15:00.000000Z");
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("locked until 2026-11-26 14:15 UTC")
    );
    // Even the right password is refused while locked, on the sign-in page too.
    assert_eq!(
        token_attempt(&app, PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let page = app
        .raw(Method::GET, "/signin", &Auth::None, None, Vec::new())
        .await;
    let pre = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            v.to_str()
                .unwrap()
                .strip_prefix("munishare_signin_csrf=")
                .map(|c| c.split(';').next().unwrap().to_owned())
        })
        .unwrap();
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/signin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("munishare_signin_csrf={pre}"))
        .body(axum::body::Body::from(format!(
            "csrf={pre}&username=clerk.hartford&password={PASSWORD}"
        )))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("locked until 2026-11-26 14:15 UTC"));

    app.advance(time::Duration::minutes(15) + time::Duration::seconds(1));
    assert_eq!(
        token_attempt(&app, PASSWORD).await.status,
        StatusCode::CREATED
    );
    // The lock is in the audit log.
    let auditor = app.demo_session("admin").await;
    let events = app
        .api(
            Method::GET,
            "/api/v1/audit?entity_type=user",
            &auditor,
            None,
        )
        .await
        .json();
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "user.lock")
    );
}

async fn sessions_end_when_idle_and_at_their_absolute_limit(app: TestApp) {
    let s = app.demo_session("clerk.hartford").await;
    app.advance(time::Duration::minutes(29));
    assert_eq!(
        app.api(Method::GET, "/api/v1/me", &s, None).await.status,
        StatusCode::OK
    );
    app.advance(time::Duration::minutes(31));
    let r = app.api(Method::GET, "/api/v1/me", &s, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let page = app.api(Method::GET, "/t/hartford", &s, None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/signin?next=%2Ft%2Fhartford");

    // Active use keeps a session alive only up to twelve hours.
    let s = app.demo_session("clerk.hartford").await;
    for _ in 0..(12 * 60 / 20) {
        assert_eq!(
            app.api(Method::GET, "/api/v1/me", &s, None).await.status,
            StatusCode::OK
        );
        app.advance(time::Duration::minutes(20));
    }
    app.advance(time::Duration::minutes(1));
    assert_eq!(
        app.api(Method::GET, "/api/v1/me", &s, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn sign_out_ends_the_session(app: TestApp) {
    let s = app.demo_session("clerk.hartford").await;
    let r = app.form("/signout", &s, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.api(Method::GET, "/api/v1/me", &s, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn forms_without_the_csrf_token_are_refused(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let Auth::Session { cookie, .. } = admin.clone() else {
        unreachable!()
    };
    let forged = Auth::Session {
        cookie,
        csrf: "forged".into(),
    };
    let r = app
        .form(
            "/admin/users",
            &forged,
            &[("username", "mallory"), ("display_name", "Mallory")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .contains("This form has expired or did not come from MuniShare")
    );
    let users = app
        .api(Method::GET, "/api/v1/admin/users", &admin, None)
        .await
        .json();
    assert!(!users.to_string().contains("mallory"));
    // The same form with the session's token works.
    let r = app
        .form(
            "/admin/users",
            &admin,
            &[
                ("username", "mallory"),
                ("display_name", "Mallory"),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
}

async fn browser_api_calls_need_the_csrf_header(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let Auth::Session { cookie, .. } = admin.clone() else {
        unreachable!()
    };
    let no_header = Auth::Session {
        cookie,
        csrf: String::new(),
    };
    let r = app
        .api(
            Method::POST,
            "/api/v1/admin/users",
            &no_header,
            Some(json!({"username": "eve", "display_name": "Eve"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["field"], "X-CSRF-Token");
    // Reads need no header.
    assert_eq!(
        app.api(Method::GET, "/api/v1/admin/users", &no_header, None)
            .await
            .status,
        StatusCode::OK
    );
}

async fn new_users_must_change_their_temporary_password(app: TestApp) {
    let admin = app.demo_session("admin").await;
    let r = app.api(Method::POST, "/api/v1/admin/users", &admin, Some(json!({"username": "J.Doe", "display_name": "Jane Doe", "email": "jdoe@hartford.gov"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let temp = r.json()["temporary_password"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["user"]["username"], "j.doe");
    assert_eq!(temp.len(), 20);
    let s = app.sign_in("j.doe", &temp).await;
    let home = app.api(Method::GET, "/", &s, None).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/profile?must_change=1");
    // Tokens cannot be had with a temporary password.
    let t = app.api(Method::POST, "/api/v1/auth/token", &Auth::None, Some(json!({"username": "j.doe", "password": temp, "town": "hartford", "service": "finance", "label": "x"}))).await;
    assert_eq!(t.status, StatusCode::FORBIDDEN);

    let short = app
        .form(
            "/profile/password",
            &s,
            &[
                ("current_password", &temp),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::SEE_OTHER);
    let flash = short
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flash.contains("new_password"), "{flash}");
    let ok = app
        .form(
            "/profile/password",
            &s,
            &[
                ("current_password", &temp),
                ("new_password", "a much longer passphrase"),
                ("confirm_password", "a much longer passphrase"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), "/");
    assert_eq!(
        app.api(Method::GET, "/", &s, None).await.status,
        StatusCode::OK
    );
}

async fn api_tokens_are_limited_to_their_town_and_service_and_revocable(app: TestApp) {
    let token = app.token("field.assessor", "hartford", "assessment").await;
    assert_eq!(
        app.api(
            Method::GET,
            "/api/v1/towns/hartford/services/assessment",
            &token,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // The same user can reach East Hartford in a browser, but this token cannot.
    assert_eq!(
        app.api(Method::GET, "/api/v1/towns/east-hartford", &token, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let me = app
        .api(Method::GET, "/api/v1/me", &token, None)
        .await
        .json();
    assert_eq!(me["towns"].as_array().unwrap().len(), 1);
    // A token never acts as a council administrator, and cannot mint tokens.
    let r = app
        .api(
            Method::POST,
            "/api/v1/me/tokens",
            &token,
            Some(json!({"town": "hartford", "service": "assessment", "label": "y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Revoke from a browser session.
    let s = app.demo_session("field.assessor").await;
    let list = app
        .api(Method::GET, "/api/v1/me/tokens", &s, None)
        .await
        .json();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["prefix"].as_str().unwrap().len(), 10);
    let r = app
        .api(Method::DELETE, &format!("/api/v1/me/tokens/{id}"), &s, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.api(Method::GET, "/api/v1/me", &token, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

async fn expired_tokens_stop_working(app: TestApp) {
    let s = app.demo_session("clerk.hartford").await;
    let r = app.api(Method::POST, "/api/v1/me/tokens", &s, Some(json!({"town": "hartford", "service": "finance", "label": "nightly export", "expires_in_days": 7}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["expires_at"], "2026-12-03T14:00:00.000000Z");
    let t = Auth::Token(r.json()["token"].as_str().unwrap().to_owned());
    assert_eq!(
        app.api(Method::GET, "/api/v1/me", &t, None).await.status,
        StatusCode::OK
    );
    app.advance(time::Duration::days(7));
    assert_eq!(
        app.api(Method::GET, "/api/v1/me", &t, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let bad = app.api(Method::POST, "/api/v1/me/tokens", &app.demo_session("clerk.hartford").await, Some(json!({"town": "hartford", "service": "finance", "label": "x", "expires_in_days": 0}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "expires_in_days");
}

async fn cookies_are_http_only_and_same_site(app: TestApp) {
    let page = app
        .raw(Method::GET, "/signin", &Auth::None, None, Vec::new())
        .await;
    let c = page
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
    assert!(
        !c.contains("Secure"),
        "plain-HTTP demo must not set Secure: {c}"
    );
}

async fn one_address_gets_thirty_sign_in_attempts_per_five_minutes(app: TestApp) {
    // Guessing across many accounts: the per-account lock never triggers, the per-address limit does.
    for i in 0..30 {
        let r = app.api(Method::POST, "/api/v1/auth/token", &Auth::None, Some(json!({
            "username": format!("guess{i}"), "password": "x", "town": "hartford", "service": "finance", "label": "x"
        }))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = token_attempt(&app, PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers.get(header::RETRY_AFTER).unwrap(), "300");
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("Wait 5 minutes"),
        "{}",
        r.text()
    );
    app.advance(time::Duration::minutes(5));
    assert_eq!(
        token_attempt(&app, PASSWORD).await.status,
        StatusCode::CREATED
    );
}
