//! Finance imports over HTTP: a finance director uploads files through the
//! API and the page form (multipart, CSRF-checked), the job runs them, and
//! the pages show the outcome or every problem by row and column.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(a_finance_director_sets_up_books_from_files);

const CHART: &str = "account,name,fund_name,fund_type
1005-00-0000-00000-10100-000,Cash,General Fund,general
1005-00-0000-00000-41000-000,Current property taxes,,
1005-42-4201-00000-51000-000,Police wages,,
";

fn multipart(csrf: Option<&str>, kind: &str, name: &str, file: &str) -> (String, Vec<u8>) {
    let boundary = "----munishare-test-boundary";
    let mut body = String::new();
    if let Some(token) = csrf {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n"
    ));
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"fiscal_year\"\r\n\r\n\r\n"
    ));
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// Posts the upload form with the CSRF token only in the form body (the header carries a wrong one).
async fn upload_form(
    app: &TestApp,
    who: &Auth,
    csrf: Option<&str>,
    kind: &str,
    name: &str,
    file: &str,
) -> crate::harness::Resp {
    let Auth::Session { cookie, .. } = who else {
        panic!("a session")
    };
    let forged = Auth::Session {
        cookie: cookie.clone(),
        csrf: "not-the-token".into(),
    };
    let (ct, body) = multipart(csrf, kind, name, file);
    app.raw(
        Method::POST,
        "/t/hartford/finance/imports",
        &forged,
        Some(&ct),
        body,
    )
    .await
}

async fn a_finance_director_sets_up_books_from_files(app: TestApp) {
    let director = app.demo_session("townadmin.hartford").await;
    let Auth::Session { csrf, .. } = &director else {
        panic!("a session")
    };

    // The API takes the file as the body and answers 202 with the queued import.
    let r = app
        .raw(
            Method::POST,
            "/api/v1/towns/hartford/finance/imports?kind=chart&file_name=chart.csv",
            &director,
            Some("text/csv"),
            CHART.into(),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let chart_id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["status"], "queued");
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/towns/hartford/finance/imports/{chart_id}"),
            &director,
            None,
        )
        .await;
    assert_eq!(r.json()["status"], "done", "{}", r.text());
    assert_eq!(r.json()["rows_read"], 3);
    let summary: serde_json::Value =
        serde_json::from_str(r.json()["summary"].as_str().unwrap()).unwrap();
    assert_eq!(summary["accounts_created"], 3);

    // The same file again is refused at once, naming the first import.
    let again = app
        .raw(
            Method::POST,
            "/api/v1/towns/hartford/finance/imports?kind=chart&file_name=copy.csv",
            &director,
            Some("text/csv"),
            CHART.into(),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text().contains(&chart_id), "{}", again.text());
    // A budget needs its fiscal year; the problem names the field.
    let r = app
        .raw(
            Method::POST,
            "/api/v1/towns/hartford/finance/imports?kind=budget&file_name=b.csv",
            &director,
            Some("text/csv"),
            b"account,amount\n".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "fiscal_year");
    // A clerk may not post history.
    let clerk = app.demo_session("clerk.hartford").await;
    let r = app
        .raw(
            Method::POST,
            "/api/v1/towns/hartford/finance/imports?kind=journal&file_name=j.csv",
            &clerk,
            Some("text/csv"),
            b"x\n".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/finance/periods",
            &director,
            Some(json!({"fiscal_year": 2027})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // A form without its CSRF token is refused before anything is stored.
    let r = upload_form(&app, &director, None, "journal", "gl.csv", "reference\n").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        !munishare::jobs().run_one(&app.jobs).await.unwrap(),
        "nothing was queued"
    );

    // A journal with an unbalanced entry is rejected; the page lists the problem by row and column.
    let bad = "reference,date,description,account,debit,credit
JE-1,2026-08-14,Taxes,1005-00-0000-00000-10100-000,500.00,
JE-1,2026-08-14,Taxes,1005-00-0000-00000-41000-000,,499.00
";
    let r = upload_form(&app, &director, Some(csrf), "journal", "gl.csv", bad).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let page = r.headers["location"].to_str().unwrap().to_owned();
    assert!(page.starts_with("/t/hartford/finance/imports/"), "{page}");
    let status = app
        .raw(
            Method::GET,
            &format!("{page}/status"),
            &director,
            None,
            Vec::new(),
        )
        .await;
    assert!(
        status.text().contains("queued") && status.headers.get("hx-refresh").is_none(),
        "{}",
        status.text()
    );
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let status = app
        .raw(
            Method::GET,
            &format!("{page}/status"),
            &director,
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(status.headers["hx-refresh"], "true");
    let html = app
        .raw(Method::GET, &page, &director, None, Vec::new())
        .await
        .text();
    assert!(
        html.contains("rejected") && html.contains("does not balance in fund 1005"),
        "{html}"
    );
    let csv = app
        .raw(
            Method::GET,
            &format!("{page}?format=csv"),
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(csv.contains("gl.csv,2,debit,entry JE-1 does not balance in fund 1005: debits exceed credits by $1.00"), "{csv}");

    // The corrected file posts, and the trial balance shows it.
    let good = bad.replace("499.00", "500.00");
    let r = upload_form(
        &app,
        &director,
        Some(csrf),
        "journal",
        "gl-fixed.csv",
        &good,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let list = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/finance/imports",
            &director,
            None,
        )
        .await
        .json();
    let done: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "done")
        .collect();
    assert_eq!(done.len(), 2, "{list}");
    let tb = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/finance/trial-balance?as_of=2026-08-31",
            &director,
            None,
        )
        .await
        .json();
    let taxes = tb["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["account"] == "1005-00-0000-00000-41000-000")
        .unwrap();
    assert_eq!(taxes["credits"], "500.00", "{tb}");
    let html = app
        .raw(
            Method::GET,
            "/t/hartford/finance/imports",
            &director,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        html.contains("gl-fixed.csv") && html.contains("upload-import"),
        "{html}"
    );
}
