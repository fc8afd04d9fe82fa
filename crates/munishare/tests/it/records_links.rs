//! Links between documents and to other modules' records (issue 6; docs/design/0013-records.md,
//! "Links", and 0014, "Documents in Records"): both ends show a link between documents, a
//! module's record lists its documents on its own page and attaches more through the records
//! picker, nobody sees a link to a document they may not read, and bad links are refused by field.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(documents_link_to_each_other_and_to_other_modules_records);
both_dbs!(a_parcel_page_lists_finds_attaches_and_detaches_its_documents);

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
    // The picker on the contract's page offers the minutes as linked already, not to link again.
    let picker = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/attach?kind=records.document&target={contract}"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(picker.status, StatusCode::OK, "{}", picker.text());
    let html = picker.text();
    assert!(html.contains("Salt contract minutes") && html.contains("Attached"));
    assert!(!html.contains(&format!("/records/documents/{minutes}/links\"")));
    assert!(!html.contains(&format!("/records/documents/{contract}/links\"")));

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

async fn page(app: &TestApp, auth: &Auth, path: &str) -> String {
    let r = app.api(Method::GET, path, auth, None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    r.text()
}

/// Imports a one-parcel roll into `town` and returns the parcel's id.
pub(crate) async fn parcel(
    app: &TestApp,
    auth: &Auth,
    town: &str,
    key: &str,
    location: &str,
) -> String {
    let csv = format!(
        "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner\n\
         {key},{location},N1,residential,9000,60000,140000,Owner\n"
    );
    let r = app
        .raw(
            Method::POST,
            &format!("/api/v1/towns/{town}/assessment/parcel-imports?file_name=roll.csv"),
            auth,
            Some("text/csv"),
            csv.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/towns/{town}/assessment/parcels/{key}"),
            auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["parcel"]["id"].as_str().unwrap().to_owned()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn a_parcel_page_lists_finds_attaches_and_detaches_its_documents(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let auditor = app.demo_session("auditor").await;
    let pid = parcel(
        &app,
        &officer,
        "west-hartford",
        "WH-7-1",
        "17 Farmington Ave",
    )
    .await;
    let deed = file(
        &app,
        &clerk,
        "filename=deed.txt&title=Warranty%20deed%2017%20Farmington%20Ave",
    )
    .await;
    let survey = file(&app, &clerk, "filename=survey.txt&title=Boundary%20survey").await;
    let sealed = file(
        &app,
        &officer,
        "filename=sealed.txt&title=Sealed%20abatement%20agreement&confidential=true",
    )
    .await;
    let parcel_page = "/t/west-hartford/assessment/parcels/WH-7-1".to_owned();

    // Before: the section, nothing attached, and the picker's form for who may attach.
    let html = page(&app, &officer, &parcel_page).await;
    assert!(html.contains("id=\"related-documents\""), "{html}");
    assert!(html.contains("No documents attached."));
    assert!(html.contains("action=\"/t/west-hartford/records/attach\""));
    assert!(html.contains("value=\"Parcel WH-7-1, 17 Farmington Ave\""));

    // The picker finds the deed by a word of its title; the survey does not match.
    let picker = format!(
        "/t/west-hartford/records/attach?kind=assessment.parcel&target={pid}&label={}&back={}",
        enc("Parcel WH-7-1, 17 Farmington Ave"),
        enc(&parcel_page)
    );
    let found = page(&app, &officer, &format!("{picker}&q=warranty")).await;
    assert!(found.contains("Warranty deed 17 Farmington Ave"), "{found}");
    assert!(!found.contains("Boundary survey"));
    assert!(found.contains(&format!(
        "action=\"/t/west-hartford/records/documents/{deed}/links\""
    )));
    // Without words it offers the latest filed the caller may read: the clerk not the sealed one.
    let latest = page(&app, &clerk, &picker).await;
    assert!(latest.contains("Boundary survey") && latest.contains("Warranty deed"));
    assert!(!latest.contains("Sealed abatement agreement"));
    // Reading is not attaching: the auditor may not open the picker.
    let r = app.api(Method::GET, &picker, &auditor, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Attach the deed and the sealed agreement; each form comes back to the parcel.
    for doc in [&deed, &sealed] {
        let r = app
            .form(
                &format!("/t/west-hartford/records/documents/{doc}/links"),
                &officer,
                &[
                    ("kind", "assessment.parcel"),
                    ("target", &pid),
                    ("label", "Parcel WH-7-1, 17 Farmington Ave"),
                    ("back", &parcel_page),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(r.location(), parcel_page);
    }
    // A place to come back to in another town (or another site) is not followed.
    let r = app
        .form(
            &format!("/t/west-hartford/records/documents/{survey}/links"),
            &officer,
            &[
                ("kind", "assessment.parcel"),
                ("target", &pid),
                ("label", "Parcel WH-7-1"),
                ("back", "https://evil.example/t/west-hartford/x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        format!("/t/west-hartford/records/documents/{survey}#records-links")
    );

    // The officer sees all three. The auditor (view in every service, no records officer) sees
    // the section without the sealed one, and no forms; the records clerk has no assessment, so
    // no parcel page at all.
    let html = page(&app, &officer, &parcel_page).await;
    for title in [
        "Warranty deed",
        "Boundary survey",
        "Sealed abatement agreement",
    ] {
        assert!(html.contains(title), "{title}");
    }
    let r = app.api(Method::GET, &parcel_page, &clerk, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let html = page(&app, &auditor, &parcel_page).await;
    assert!(html.contains("Warranty deed") && html.contains("id=\"related-documents\""));
    assert!(!html.contains("Sealed abatement agreement"));
    assert!(!html.contains("Detach") && !html.contains("id=\"related-attach\""));
    // The picker marks what is attached already instead of offering it again.
    let found = page(&app, &officer, &format!("{picker}&q=warranty")).await;
    assert!(
        found.contains("Attached")
            && !found.contains(&format!("/records/documents/{deed}/links\""))
    );
    // The API lists the same, by title.
    assert_eq!(
        documents_linked(
            &app,
            &clerk,
            &format!("kind=assessment.parcel&target={pid}")
        )
        .await,
        ["Boundary survey", "Warranty deed 17 Farmington Ave"]
    );

    // Detach the survey from the parcel page: it leaves the parcel, and stays in Records.
    let html = page(&app, &officer, &parcel_page).await;
    let detach = html
        .split("action=\"")
        .map(|s| s.split('"').next().unwrap())
        .find(|a| {
            a.starts_with(&format!(
                "/t/west-hartford/records/documents/{survey}/links/"
            ))
        })
        .unwrap()
        .to_owned();
    let r = app.form(&detach, &officer, &[("back", &parcel_page)]).await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, parcel_page.clone())
    );
    assert!(
        !page(&app, &officer, &parcel_page)
            .await
            .contains("Boundary survey")
    );
    assert_eq!(
        app.api(
            Method::GET,
            &format!("{WH}/documents/{survey}"),
            &officer,
            None
        )
        .await
        .status,
        StatusCode::OK
    );

    // An assessor without records (Hartford's) sees the parcel and no records section.
    let assessor = app.demo_session("assessor.hartford").await;
    parcel(&app, &assessor, "hartford", "H-1-1", "1 Main St").await;
    let html = page(&app, &assessor, "/t/hartford/assessment/parcels/H-1-1").await;
    assert!(html.contains("1 Main St") && !html.contains("related-documents"));
}
