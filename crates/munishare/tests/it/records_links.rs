//! Links between documents and to other modules' records (issue 6; docs/design/0013-records.md,
//! "Links"): both ends show a link between documents, a module's record lists its documents,
//! nobody sees a link to a document they may not read, and bad links are refused by field.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(documents_link_to_each_other_and_to_other_modules_records);

const WH: &str = "/api/v1/towns/west-hartford/records";

async fn file(app: &TestApp, auth: &Auth, query: &str) -> String {
    let r = app
        .raw(
            Method::POST,
            &format!("{WH}/documents?{query}"),
            auth,
            Some("application/octet-stream"),
            b"scanned page".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["document"]["id"].as_str().unwrap().to_owned()
}

async fn link(app: &TestApp, auth: &Auth, doc: &str, body: Value) -> crate::harness::Resp {
    app.api(
        Method::POST,
        &format!("{WH}/documents/{doc}/links"),
        auth,
        Some(body),
    )
    .await
}

/// `(kind, label)` of a document's links, in order.
async fn links_of(app: &TestApp, auth: &Auth, doc: &str) -> Vec<(String, String)> {
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{doc}/links"),
            auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn documents_linked(app: &TestApp, auth: &Auth, query: &str) -> Vec<String> {
    let r = app
        .api(Method::GET, &format!("{WH}/linked?{query}"), auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn documents_link_to_each_other_and_to_other_modules_records(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let officer = app.demo_session("townadmin.west-hartford").await;
    let minutes = file(
        &app,
        &clerk,
        "filename=minutes.txt&title=Salt%20contract%20minutes",
    )
    .await;
    let contract = file(
        &app,
        &clerk,
        "filename=contract.pdf.txt&title=Salt%20contract",
    )
    .await;
    let sealed = file(
        &app,
        &officer,
        "filename=sealed.txt&title=Sealed%20settlement&confidential=true",
    )
    .await;

    // Minutes → contract: the contract's title is the label; both ends show it.
    let r = link(
        &app,
        &clerk,
        &minutes,
        json!({"kind": "records.document", "target": contract}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["label"], "Salt contract");
    let to_doc = ("records.document".to_owned(), "Salt contract".to_owned());
    assert_eq!(
        links_of(&app, &clerk, &minutes).await,
        std::slice::from_ref(&to_doc)
    );
    assert_eq!(links_of(&app, &clerk, &contract).await, [to_doc]);

    // To another module's record: its kind, its id and the label the module gives.
    let invoice = json!({"kind": "finance.invoice", "target": "INV-44817", "label": "Invoice 44817, Acme Salt Co."});
    let r = link(&app, &clerk, &minutes, invoice.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        documents_linked(&app, &clerk, "kind=finance.invoice&target=INV-44817").await,
        ["Salt contract minutes"]
    );
    assert!(
        documents_linked(&app, &clerk, "kind=finance.invoice&target=INV-1")
            .await
            .is_empty()
    );

    // Refused by field: the same link again, kinds that are not, no label, itself, a document
    // that is not there — and one the clerk may not see reads the same as one that is not.
    let dup = link(&app, &clerk, &minutes, invoice).await;
    assert_eq!(
        (dup.status, dup.json()["field"].clone()),
        (StatusCode::CONFLICT, json!("target"))
    );
    for (body, field) in [
        (
            json!({"kind": "payroll.slip", "target": "1", "label": "x"}),
            "kind",
        ),
        (
            json!({"kind": "invoice", "target": "1", "label": "x"}),
            "kind",
        ),
        (
            json!({"kind": "assessment.parcel", "target": "12-34"}),
            "label",
        ),
        (
            json!({"kind": "assessment.parcel", "target": " ", "label": "x"}),
            "target",
        ),
        (
            json!({"kind": "records.document", "target": minutes}),
            "target",
        ),
        (
            json!({"kind": "records.document", "target": "no-such-document"}),
            "target",
        ),
    ] {
        let r = link(&app, &clerk, &minutes, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text()
        );
        assert_eq!(r.json()["field"], field, "{body}");
    }
    let hidden = link(
        &app,
        &clerk,
        &minutes,
        json!({"kind": "records.document", "target": sealed}),
    )
    .await;
    assert_eq!(hidden.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        hidden.text().contains("there is no document"),
        "{}",
        hidden.text()
    );

    // The records officer links the confidential settlement to the minutes: the officer sees
    // that link on the minutes, the clerk does not.
    let r = link(
        &app,
        &officer,
        &sealed,
        json!({"kind": "records.document", "target": minutes}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(links_of(&app, &officer, &minutes).await.len(), 3);
    assert_eq!(links_of(&app, &clerk, &minutes).await.len(), 2);
    assert_eq!(
        documents_linked(
            &app,
            &clerk,
            &format!("kind=records.document&target={minutes}")
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        documents_linked(
            &app,
            &officer,
            &format!("kind=records.document&target={minutes}")
        )
        .await,
        ["Sealed settlement"]
    );
    // The scanning bureau filed none of these: nothing is linked as far as it can see.
    let bureau = app.demo_session("scan.bureau").await;
    assert!(
        documents_linked(&app, &bureau, "kind=finance.invoice&target=INV-44817")
            .await
            .is_empty()
    );
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{minutes}/links"),
            &bureau,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The page shows the links and makes one; removing works once.
    let html = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{minutes}"),
            &clerk,
            None,
        )
        .await
        .text();
    assert!(html.contains("id=\"records-links-table\""));
    assert!(html.contains("Invoice 44817, Acme Salt Co.") && !html.contains("Sealed settlement"));
    let r = app
        .form(
            &format!("/t/west-hartford/records/documents/{minutes}/links"),
            &clerk,
            &[
                ("kind", "assessment.parcel"),
                ("target", "1234-56"),
                ("label", "12 Main Street"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(links_of(&app, &clerk, &minutes).await.len(), 3);
    let list = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{minutes}/links"),
            &clerk,
            None,
        )
        .await
        .json();
    let parcel = list
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "assessment.parcel")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = format!("{WH}/documents/{minutes}/links/{parcel}");
    assert_eq!(
        app.api(Method::DELETE, &gone, &clerk, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api(Method::DELETE, &gone, &clerk, None).await.status,
        StatusCode::NOT_FOUND
    );

    let mut c = app.db.read().await.unwrap();
    let audited: Vec<String> = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action LIKE 'records.link.%' ORDER BY seq").fetch_all(c).await)
    .unwrap();
    assert_eq!(
        audited,
        [
            "records.link.add",
            "records.link.add",
            "records.link.add",
            "records.link.add",
            "records.link.remove"
        ]
    );
}
