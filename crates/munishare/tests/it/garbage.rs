//! Bad input never yields a 5xx: every API route from the OpenAPI document and
//! every page route gets malformed JSON, wrong types, oversize bodies, odd
//! path parameters and bad query strings, as a council administrator and as a
//! town administrator. API errors must be problem documents.

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::both_dbs;
use crate::harness::{Auth, Resp, TestApp};

both_dbs!(no_route_answers_garbage_with_a_server_error);

const PATH_GARBAGE: [&str; 6] = [
    "%00",
    "'%3B%20DROP%20TABLE%20users%3B--",
    "..%2F..%2Fetc%2Fpasswd",
    "01a216fb-5f37-7035-b739-ac056b925456",
    "not-a-uuid",
    "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
];

fn bodies() -> Vec<(Option<&'static str>, Vec<u8>)> {
    vec![
        (Some("application/json"), b"{\"username\": ".to_vec()),
        (Some("application/json"), b"[1, 2, 3]".to_vec()),
        (Some("application/json"), b"\"just a string\"".to_vec()),
        (Some("application/json"), serde_json::to_vec(&json!({
            "username": 5, "password": [], "town": {}, "service": true, "label": null, "expires_in_days": -3,
            "name": 1, "fips": 2, "population": "many", "net_grand_list": 1.5, "mill_rate": [], "effective_from": 9,
            "ended_on": "yesterday", "entity": "x", "code": {}, "user_id": 7, "role_id": false, "kind": [], "active": "yes",
            "current_password": 1, "new_password": 2, "confirm_password": 3, "display_name": [], "email": 0
        })).unwrap()),
        (Some("application/json"), serde_json::to_vec(&json!({
            "username": "x", "password": "y", "town": "../../etc", "service": "teleportation", "label": "",
            "name": "", "fips": "12", "county": "", "population": -1, "net_grand_list": "lots", "mill_rate": "-3",
            "effective_from": "2026-02-30", "ended_on": "1999-01-01", "entity": "school", "code": "!!!", "user_id": "nope",
            "role_id": "nope", "kind": "rm", "active": true, "current_password": "", "new_password": "", "confirm_password": "",
            "display_name": "", "email": "not-an-email"
        })).unwrap()),
        (Some("application/json"), br#"{"display_name": "a\u0000b", "name": "x\u0000", "label": "\u0000", "username": "abc\u0000", "code": "A\u0000"}"#.to_vec()),
        (Some("text/plain"), b"hello".to_vec()),
        (None, Vec::new()),
        (Some("application/json"), vec![b'['; 3 * 1024 * 1024]),
    ]
}

fn fill(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn check(r: &Resp, what: &str) {
    assert!(
        !r.status.is_server_error(),
        "{what} → {}: {}",
        r.status,
        r.text()
    );
    if what.contains(" /api/v1/") && r.status.is_client_error() {
        let ct = r
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert_eq!(
            ct,
            "application/problem+json",
            "{what} → {}: {}",
            r.status,
            r.text()
        );
    }
}

async fn no_route_answers_garbage_with_a_server_error(app: TestApp) {
    let routes: Vec<(String, Vec<Method>)> = app.openapi["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, ops)| {
            (
                p.clone(),
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(|m| m.to_uppercase().parse().unwrap())
                    .collect(),
            )
        })
        .collect();
    let mut sent = 0;
    for user in ["admin", "townadmin.hartford"] {
        let auth = app.demo_session(user).await;
        for (path, methods) in &routes {
            for m in methods {
                let mut urls: Vec<String> = PATH_GARBAGE.iter().map(|g| fill(path, g)).collect();
                urls.push(fill(path, "hartford"));
                if path.contains("{town}") {
                    urls.push(
                        path.replace("{town}", "hartford")
                            .replace("{service}", "finance"),
                    );
                }
                for url in &urls {
                    let url_q = if *m == Method::GET {
                        format!(
                            "{url}?limit=abc&from=notadate&cursor=zzz&status=%00&town=%FF&actor=%00"
                        )
                    } else {
                        url.clone()
                    };
                    if *m == Method::GET || *m == Method::DELETE {
                        let r = app.raw(m.clone(), &url_q, &auth, None, Vec::new()).await;
                        check(&r, &format!("{user}: {m} {url_q}"));
                        sent += 1;
                        continue;
                    }
                    for (ct, body) in bodies() {
                        let r = app.raw(m.clone(), url, &auth, ct, body).await;
                        check(&r, &format!("{user}: {m} {url} ({ct:?})"));
                        if r.status == StatusCode::PAYLOAD_TOO_LARGE {
                            assert!(path.starts_with("/api/"));
                        }
                        sent += 1;
                    }
                }
            }
        }
        // Pages: garbage forms with a valid CSRF token, and odd parameters.
        let Auth::Session { csrf, .. } = &auth else {
            unreachable!()
        };
        for (m, path) in app.page_routes.clone() {
            if path == "/signout" {
                continue;
            }
            for g in PATH_GARBAGE {
                let url = fill(path, g);
                let r = if m == Method::GET {
                    app.raw(
                        Method::GET,
                        &format!(
                            "{url}?page=-1&sort=%00&dir=sideways&q={}&from=x&format=pdf",
                            "%27".repeat(50)
                        ),
                        &auth,
                        None,
                        Vec::new(),
                    )
                    .await
                } else {
                    let form = format!(
                        "csrf={csrf}&username=%00&display_name=&email=x&role_id=zz&town=nowhere&service=fleetx&ended_on=never&effective_from=0000-00-00&code=%21&name=&entity=q&population=NaN&net_grand_list=1e9&mill_rate=abc&fips=1&kind=x&active=maybe&label=&town_service=a&current_password=&new_password=&confirm_password="
                    );
                    app.raw(
                        Method::POST,
                        &url,
                        &auth,
                        Some("application/x-www-form-urlencoded"),
                        form.into_bytes(),
                    )
                    .await
                };
                check(&r, &format!("{user}: page {m} {url}"));
                sent += 1;
            }
        }
    }
    assert!(sent > 500, "sent {sent} garbage requests");
}
