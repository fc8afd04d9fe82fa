//! Isolation, proven route by route: a user of one town cannot read or change
//! another town's resources through any API route (taken from the OpenAPI
//! document) or page route (taken from the page router's own list), and an
//! unsubscribed service is unreachable. Routes added later are walked
//! automatically; a route with a path parameter this test has no fixture for
//! fails the test until one is added.

use axum::http::{Method, StatusCode};
use munishare_platform::{dispatch, tenancy};
use serde_json::{Value, json};

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(no_route_lets_one_town_reach_another);

/// Resources that belong to town B (West Hartford) or its people.
struct TownB {
    slug: &'static str,
    id: String,
    name: &'static str,
    token_id: String,
    user_id: String,
    grant_id: String,
    job_id: String,
    entry_id: String,
    change_id: String,
    po_id: String,
    invoice_id: String,
    import_id: String,
    recurring_id: String,
    vendor_id: String,
    parcel_id: String,
    sale_id: String,
    appeal_id: String,
    inspection_id: String,
    mailer_id: String,
    model_run_id: String,
    declaration_id: String,
    outbuilding_id: String,
    attachment_id: String,
    backup_repo_id: String,
    backup_token_id: String,
    records_document_id: String,
    records_type_id: String,
    records_saved_search_id: String,
    records_intake_folder_id: String,
    records_series_id: String,
    records_batch_id: String,
    records_hold_id: String,
    records_link_id: String,
}

impl TownB {
    fn param(&self, path: &str, param: &str, town: &str, service: &str) -> String {
        match param {
            "town" => town.to_owned(),
            "service" => service.to_owned(),
            "id" if path.contains("/tokens/") => self.token_id.clone(),
            "id" if path.contains("/users/") => self.user_id.clone(),
            "id" if path.contains("/grants/") => self.grant_id.clone(),
            "id" if path.contains("/jobs/") => self.job_id.clone(),
            "entry" => self.entry_id.clone(),
            "change" => self.change_id.clone(),
            "po" => self.po_id.clone(),
            "invoice" => self.invoice_id.clone(),
            "import" => self.import_id.clone(),
            "recurring" => self.recurring_id.clone(),
            "vendor" => self.vendor_id.clone(),
            "parcel" => self.parcel_id.clone(),
            "sale" => self.sale_id.clone(),
            "list_year" => "2025".to_owned(),
            "account" if path.contains("/supplemental-list/") => "MV-5BM000001".to_owned(),
            "account" => "RE-B-1-1".to_owned(),
            "appeal" => self.appeal_id.clone(),
            "inspection" => self.inspection_id.clone(),
            "mailer" => self.mailer_id.clone(),
            "declaration" => self.declaration_id.clone(),
            "outbuilding" => self.outbuilding_id.clone(),
            "attachment" => self.attachment_id.clone(),
            "certificate" => "CC-2025-0001".to_owned(),
            "repo" => self.backup_repo_id.clone(),
            "host" => "fs01".to_owned(),
            "token" => self.backup_token_id.clone(),
            "document" => self.records_document_id.clone(),
            // The document's first version.
            "version" => "1".to_owned(),
            "type_id" => self.records_type_id.clone(),
            "search" => self.records_saved_search_id.clone(),
            "folder" => self.records_intake_folder_id.clone(),
            "series" => self.records_series_id.clone(),
            "batch" => self.records_batch_id.clone(),
            "hold" => self.records_hold_id.clone(),
            "link" => self.records_link_id.clone(),
            "key" => "cd".repeat(32),
            // The backup client routes carry no town (the backup token names it).
            "kind" => "data".to_owned(),
            "name" => "ab".repeat(32),
            "run" if path.contains("/model-runs/") || path.contains("/valuation/") => {
                self.model_run_id.clone()
            }
            // Any West Hartford id will do: the town check comes before the run is looked up.
            "run" => self.po_id.clone(),
            "action" => "approve".to_owned(),
            "decision" => "approve".to_owned(),
            "fiscal_year" => "2027".to_owned(),
            "period" => "1".to_owned(),
            "page" => "1".to_owned(),
            other => panic!(
                "route {path} has a parameter {{{other}}} that the isolation test has no town-B fixture for; add one"
            ),
        }
    }

    fn url(&self, path: &str, town: &str, service: &str) -> String {
        let mut out = String::new();
        let mut rest = path;
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').unwrap() + start;
            out.push_str(&rest[..start]);
            out.push_str(&self.param(path, &rest[start + 1..end], town, service));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn leaks(&self, body: &str) -> bool {
        body.contains(&self.id)
            || body.contains(self.name)
            || body.contains(&format!("/{}", self.slug))
    }
}

async fn chain_length(app: &TestApp, chain: &str) -> i64 {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE chain = $1").bind(chain).fetch_one(c).await).unwrap()
}

async fn fixtures(app: &TestApp) -> TownB {
    let admin = app.demo_session("admin").await;
    let b_user = app.demo_session("townadmin.west-hartford").await;
    let token = app
        .api(
            Method::POST,
            "/api/v1/me/tokens",
            &b_user,
            Some(json!({"town": "west-hartford", "service": "finance", "label": "B"})),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED);
    let users = app
        .api(Method::GET, "/api/v1/admin/users", &admin, None)
        .await
        .json();
    let user_id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "townadmin.west-hartford")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = app
        .api(
            Method::GET,
            &format!("/api/v1/admin/users/{user_id}"),
            &admin,
            None,
        )
        .await
        .json();
    let job = app
        .api(
            Method::POST,
            "/api/v1/admin/jobs",
            &admin,
            Some(json!({"kind": "sessions.purge"})),
        )
        .await
        .json();
    // West Hartford's books: a fund, two accounts, an open year and a posted entry.
    for (path, body) in [
        (
            "funds",
            json!({"code": "1005", "name": "General Fund", "fund_type": "general"}),
        ),
        (
            "accounts",
            json!({"account": "1005-00-0000-00000-10100-000", "name": "Cash"}),
        ),
        (
            "accounts",
            json!({"account": "1005-00-0000-00000-41000-000", "name": "Taxes"}),
        ),
        ("periods", json!({"fiscal_year": 2027})),
        (
            "accounts",
            json!({"account": "1005-41-4107-00000-51000-000", "name": "Executive wages"}),
        ),
    ] {
        let r = app
            .api(
                Method::POST,
                &format!("/api/v1/towns/west-hartford/finance/{path}"),
                &b_user,
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let entry = app.api(Method::POST, "/api/v1/towns/west-hartford/finance/entries", &b_user, Some(json!({
        "date": "2026-11-02", "description": "Tax receipts",
        "lines": [{"account": "1005-00-0000-00000-10100-000", "debit": "100.00"}, {"account": "1005-00-0000-00000-41000-000", "credit": "100.00"}]
    }))).await;
    assert_eq!(entry.status, StatusCode::CREATED, "{}", entry.text());
    let entry_id = entry.json()["id"].as_str().unwrap().to_owned();
    let change = app.api(Method::POST, "/api/v1/towns/west-hartford/finance/budget-changes", &b_user, Some(json!({
        "fiscal_year": 2027, "kind": "amendment", "description": "Supplemental appropriation",
        "lines": [{"account": "1005-00-0000-00000-41000-000", "amount": "100.00"}]
    }))).await;
    assert_eq!(change.status, StatusCode::CREATED, "{}", change.text());
    let change_id = change.json()["id"].as_str().unwrap().to_owned();
    let vendor = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/finance/vendors",
            &b_user,
            Some(json!({"name": "Elm Street Supply", "remit_to": "1 Elm St"})),
        )
        .await
        .json();
    let po = app.api(Method::POST, "/api/v1/towns/west-hartford/finance/purchase-orders", &b_user, Some(json!({
        "vendor_id": vendor["id"], "date": "2026-11-02", "description": "Paper", "lines": [{"account": "1005-41-4107-00000-51000-000", "amount": "10.00"}]
    }))).await;
    assert_eq!(po.status, StatusCode::CREATED, "{}", po.text());
    let po_id = po.json()["id"].as_str().unwrap().to_owned();
    let invoice = app.api(Method::POST, "/api/v1/towns/west-hartford/finance/invoices", &b_user, Some(json!({
        "vendor_id": vendor["id"], "number": "INV-1", "date": "2026-11-02", "description": "Paper", "lines": [{"account": "1005-41-4107-00000-51000-000", "amount": "10.00"}]
    }))).await;
    assert_eq!(invoice.status, StatusCode::CREATED, "{}", invoice.text());
    let invoice_id = invoice.json()["id"].as_str().unwrap().to_owned();
    let upload = app
        .raw(
            Method::POST,
            "/api/v1/towns/west-hartford/finance/imports?kind=chart&file_name=chart.csv",
            &b_user,
            Some("text/csv"),
            b"account,name\n1005-00-0000-00000-20100-000,Accounts payable\n".to_vec(),
        )
        .await;
    assert_eq!(upload.status, StatusCode::ACCEPTED, "{}", upload.text());
    let import_id = upload.json()["id"].as_str().unwrap().to_owned();
    let recurring = app.api(Method::POST, "/api/v1/towns/west-hartford/finance/recurring", &b_user, Some(json!({
        "description": "Monthly rent", "starts_on": "2026-12-01",
        "lines": [{"account": "1005-41-4107-00000-51000-000", "debit": "100.00"}, {"account": "1005-00-0000-00000-10100-000", "credit": "100.00"}]
    }))).await;
    assert_eq!(
        recurring.status,
        StatusCode::CREATED,
        "{}",
        recurring.text()
    );
    let recurring_id = recurring.json()["id"].as_str().unwrap().to_owned();
    // West Hartford's roll: one parcel and its sale.
    let roll = app
        .raw(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/parcel-imports?file_name=roll.csv",
            &b_user,
            Some("text/csv"),
            b"parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner\nB-1-1,1 Isolation Way,W1,residential,10000,50000,150000,B Owner\n".to_vec(),
        )
        .await;
    assert_eq!(roll.status, StatusCode::CREATED, "{}", roll.text());
    let sale = app
        .raw(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/sale-imports?file_name=sales.csv",
            &b_user,
            Some("text/csv"),
            b"parcel_id,sale_date,price\nB-1-1,2024-05-01,280000\n".to_vec(),
        )
        .await;
    assert_eq!(sale.status, StatusCode::CREATED, "{}", sale.text());
    let b_sales = app
        .api(
            Method::GET,
            "/api/v1/towns/west-hartford/assessment/sales",
            &b_user,
            None,
        )
        .await
        .json();
    let sale_id = b_sales[0]["id"].as_str().unwrap().to_owned();
    // … and its grand list of 2025, signed, with a mill rate and a bill run.
    for (method, path, body) in [
        (
            Method::POST,
            "grand-lists",
            Some(json!({"list_year": 2025})),
        ),
        (Method::POST, "grand-lists/2025/sign", None),
        (
            Method::PUT,
            "grand-lists/2025/mill-rate",
            Some(
                json!({"levy": "1000.00", "collector_name": "B Collector", "collector_address": "1 B St", "collector_phone": "860-555-0100"}),
            ),
        ),
        (Method::POST, "grand-lists/2025/bill-run", None),
        (
            Method::POST,
            "grand-lists/2025/corrections",
            Some(
                json!({"account": "RE-B-1-1", "land": "35,000", "building": "100,000", "reason": "Building area keyed twice"}),
            ),
        ),
        // The 2026 list, with a personal property declaration, signed today: still open to petitions.
        (
            Method::POST,
            "grand-lists/2026/personal-property",
            Some(
                json!({"business": "B Bakery", "owner": "B Owner", "location": "1 Isolation Way", "source": "filed", "filed_on": "2026-10-30", "values": {"furniture": "1000"}}),
            ),
        ),
        (
            Method::POST,
            "grand-lists",
            Some(json!({"list_year": 2026})),
        ),
        (Method::POST, "grand-lists/2026/sign", None),
    ] {
        let r = app
            .api(
                method,
                &format!("/api/v1/towns/west-hartford/assessment/{path}"),
                &b_user,
                body,
            )
            .await;
        assert!(r.status.is_success(), "{path}: {}", r.text());
    }
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    // … and the 2025 supplemental motor-vehicle list, taken and signed.
    let supp = app
        .raw(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/grand-lists/2025/supplemental-vehicle-imports?file_name=supp.csv",
            &b_user,
            Some("text/csv"),
            b"vin,plate,model_year,make,model,owner,mailing_address,retail_value,registered_on\n3VWBB7AJ5BM000001,B1,2011,VW,Jetta,B Owner,1 Isolation Way,10000,2026-01-15\n".to_vec(),
        )
        .await;
    assert_eq!(supp.status, StatusCode::CREATED, "{}", supp.text());
    for path in ["supplemental-list", "supplemental-list/sign"] {
        let r = app
            .api(
                Method::POST,
                &format!("/api/v1/towns/west-hartford/assessment/grand-lists/2025/{path}"),
                &b_user,
                None,
            )
            .await;
        assert!(r.status.is_success(), "{path}: {}", r.text());
    }
    let appeal = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/appeals",
            &b_user,
            Some(
                json!({"list_year": 2026, "account": "RE-B-1-1", "appellant": "B Owner", "filed_on": "2026-11-26", "grounds": "Assessed above market value"}),
            ),
        )
        .await;
    assert_eq!(appeal.status, StatusCode::CREATED, "{}", appeal.text());
    // … and a valuation model run (cost approach: it needs no sales), valued by the job worker.
    let model_run = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/model-runs",
            &b_user,
            Some(json!({"name": "B cost run", "valuation_date": "2025-10-01", "approach": "cost"})),
        )
        .await;
    assert_eq!(
        model_run.status,
        StatusCode::ACCEPTED,
        "{}",
        model_run.text()
    );
    assert!(munishare::jobs().run_one(&app.jobs).await.unwrap());
    let parcel_id = app
        .api(
            Method::GET,
            "/api/v1/towns/west-hartford/assessment/parcels/B-1-1",
            &b_user,
            None,
        )
        .await
        .json()["parcel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // West Hartford's field work: a permit (with its inspection) and an owner data mailer.
    let permits = app
        .raw(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/permit-imports?file_name=permits.csv",
            &b_user,
            Some("text/csv"),
            b"permit_number,parcel_id,issued_on,description\nWH-1,B-1-1,2026-11-02,Rear deck\n"
                .to_vec(),
        )
        .await;
    assert_eq!(permits.status, StatusCode::CREATED, "{}", permits.text());
    let inspection_id = app
        .api(
            Method::GET,
            "/api/v1/towns/west-hartford/assessment/inspections",
            &b_user,
            None,
        )
        .await
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mailer = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/compliance/cyclical",
            &b_user,
            Some(json!({"method": "mailer", "date": "2026-11-20"})),
        )
        .await;
    assert_eq!(mailer.status, StatusCode::CREATED, "{}", mailer.text());
    let mailer_id = app
        .api(
            Method::GET,
            "/api/v1/towns/west-hartford/assessment/mailers",
            &b_user,
            None,
        )
        .await
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // West Hartford's parcel record: an outbuilding and a photo on B-1-1.
    let outbuilding = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/parcels/B-1-1/outbuildings",
            &b_user,
            Some(
                json!({"kind": "shed", "description": "B shed", "size": 80, "size_unit": "sqft",
                "year_built": 1990, "condition": 3, "value_cents": 100_000}),
            ),
        )
        .await;
    assert_eq!(
        outbuilding.status,
        StatusCode::CREATED,
        "{}",
        outbuilding.text()
    );
    let attachment = app
        .raw(
            Method::POST,
            "/api/v1/towns/west-hartford/assessment/parcels/B-1-1/attachments?file_name=b.png&kind=photo",
            &b_user,
            Some("application/octet-stream"),
            crate::parcel_record::PNG.to_vec(),
        )
        .await;
    assert_eq!(
        attachment.status,
        StatusCode::CREATED,
        "{}",
        attachment.text()
    );
    // West Hartford's backup repository and a token for its host fs01.
    let backup_repo = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/backup/repos",
            &b_user,
            Some(json!({"name": "b-repo"})),
        )
        .await;
    assert_eq!(
        backup_repo.status,
        StatusCode::CREATED,
        "{}",
        backup_repo.text()
    );
    let backup_token = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/backup/tokens",
            &b_user,
            Some(json!({"repo": "b-repo", "host": "fs01"})),
        )
        .await;
    assert_eq!(
        backup_token.status,
        StatusCode::CREATED,
        "{}",
        backup_token.text()
    );
    // West Hartford's records: a document type and a document.
    let records_type = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/records/types",
            &b_user,
            Some(json!({"name": "B type"})),
        )
        .await;
    assert_eq!(
        records_type.status,
        StatusCode::CREATED,
        "{}",
        records_type.text()
    );
    let records_doc = app
        .raw(
            Method::POST,
            "/api/v1/towns/west-hartford/records/documents?filename=b.txt&type=B%20type",
            &b_user,
            Some("application/octet-stream"),
            b"West Hartford record".to_vec(),
        )
        .await;
    assert_eq!(
        records_doc.status,
        StatusCode::CREATED,
        "{}",
        records_doc.text()
    );
    let records_search = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/records/saved-searches",
            &b_user,
            Some(json!({"name": "B search", "query": {"q": "record"}, "shared": true})),
        )
        .await;
    assert_eq!(
        records_search.status,
        StatusCode::CREATED,
        "{}",
        records_search.text()
    );
    let records_intake = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/records/intake-folders",
            &b_user,
            Some(json!({"name": "b-scans"})),
        )
        .await;
    assert_eq!(
        records_intake.status,
        StatusCode::CREATED,
        "{}",
        records_intake.text()
    );
    // West Hartford's retention: a local series, a record past it in a disposal batch, a hold.
    let series = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/records/retention/series",
            &b_user,
            Some(json!({"code": "WHB-1", "title": "B series", "rule": "years", "trigger": "creation", "years": 1, "disposition": "destroy"})),
        )
        .await;
    assert_eq!(series.status, StatusCode::CREATED, "{}", series.text());
    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/records/types",
            &b_user,
            Some(json!({"name": "B retained", "retention_series": "WHB-1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let old = app
        .raw(
            Method::POST,
            "/api/v1/towns/west-hartford/records/documents?filename=old.txt&type=B%20retained&document_date=2000-01-01",
            &b_user,
            Some("application/octet-stream"),
            b"Old West Hartford record".to_vec(),
        )
        .await;
    assert_eq!(old.status, StatusCode::CREATED, "{}", old.text());
    let batch = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/records/disposition/batches",
            &b_user,
            Some(json!({"documents": [old.json()["document"]["id"]]})),
        )
        .await;
    assert_eq!(batch.status, StatusCode::CREATED, "{}", batch.text());
    let hold = app
        .api(
            Method::POST,
            "/api/v1/towns/west-hartford/records/holds",
            &b_user,
            Some(json!({"kind": "series", "target": "WHB-1", "matter": "B matter", "reason": "B reason"})),
        )
        .await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.text());
    let link = app
        .api(
            Method::POST,
            &format!(
                "/api/v1/towns/west-hartford/records/documents/{}/links",
                records_doc.json()["document"]["id"].as_str().unwrap()
            ),
            &b_user,
            Some(json!({"kind": "finance.invoice", "target": "B-INV-1", "label": "B invoice"})),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.text());
    // Hartford shares its benchmarks, so its own benchmarks route answers 200 (the positive control).
    let a_user = app.demo_session("townadmin.hartford").await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/finance/benchmarks/sharing",
            &a_user,
            Some(json!({"share": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut c = app.db.read().await.unwrap();
    let id = tenancy::find_by_slug(&mut c, "west-hartford")
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    TownB {
        slug: "west-hartford",
        id,
        name: "West Hartford",
        token_id: token.json()["id"].as_str().unwrap().to_owned(),
        user_id,
        grant_id: detail["grants"][0]["id"].as_str().unwrap().to_owned(),
        job_id: job["id"].as_str().unwrap().to_owned(),
        entry_id,
        change_id,
        po_id,
        invoice_id,
        import_id,
        recurring_id,
        vendor_id: vendor["id"].as_str().unwrap().to_owned(),
        parcel_id,
        sale_id,
        appeal_id: appeal.json()["id"].as_str().unwrap().to_owned(),
        inspection_id,
        mailer_id,
        model_run_id: model_run.json()["id"].as_str().unwrap().to_owned(),
        declaration_id: app
            .api(
                Method::GET,
                "/api/v1/towns/west-hartford/assessment/grand-lists/2026/personal-property",
                &b_user,
                None,
            )
            .await
            .json()[0]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        outbuilding_id: outbuilding.json()["id"].as_str().unwrap().to_owned(),
        attachment_id: attachment.json()["id"].as_str().unwrap().to_owned(),
        backup_repo_id: backup_repo.json()["id"].as_str().unwrap().to_owned(),
        backup_token_id: backup_token.json()["token"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        records_document_id: records_doc.json()["document"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        records_type_id: records_type.json()["id"].as_str().unwrap().to_owned(),
        records_saved_search_id: records_search.json()["id"].as_str().unwrap().to_owned(),
        records_intake_folder_id: records_intake.json()["id"].as_str().unwrap().to_owned(),
        records_series_id: series.json()["id"].as_str().unwrap().to_owned(),
        records_batch_id: batch.json()["batch"]["id"].as_str().unwrap().to_owned(),
        records_hold_id: hold.json()["id"].as_str().unwrap().to_owned(),
        records_link_id: link.json()["id"].as_str().unwrap().to_owned(),
    }
}

async fn no_route_lets_one_town_reach_another(app: TestApp) {
    let b = fixtures(&app).await;
    let b_events = chain_length(&app, &b.id).await;
    let paths: Vec<(String, Vec<Method>)> = app.openapi["paths"]
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
    assert!(
        paths.len() >= 20,
        "the OpenAPI document lists the API routes"
    );
    let mut checked = 0;

    // Town A's staff: Hartford's town administrator (every service) and the
    // council's field assessor (assessment, in four towns but not West Hartford).
    for (user, own_service) in [
        ("townadmin.hartford", "finance"),
        ("field.assessor", "assessment"),
    ] {
        let a = app.demo_session(user).await;
        for (path, methods) in &paths {
            for m in methods {
                let body = (*m != Method::GET && *m != Method::DELETE).then(|| json!({}));
                let r = app
                    .api(m.clone(), &b.url(path, b.slug, "finance"), &a, body.clone())
                    .await;
                let what = format!("{user}: {m} {path} → {}: {}", r.status, r.text());
                assert!(!r.status.is_server_error(), "{what}");
                if path.starts_with("/api/v1/admin/") {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
                } else if path.starts_with("/api/v1/backup/repo/") {
                    // Backup client routes take only a backup token (which names its town):
                    // a session is refused before anything is looked up.
                    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                } else if path.contains('{') {
                    assert_eq!(r.status, StatusCode::NOT_FOUND, "{what}");
                } else {
                    assert!(!b.leaks(&r.text()), "{what}");
                }
                // Positive control: the same town route works in the user's own town
                // (for Hartford's administrator, who has every service, on routes
                // whose only parameters are the town and the service).
                let only_town_params = path.matches('{').count()
                    == path.matches("{town}").count() + path.matches("{service}").count();
                if user == "townadmin.hartford"
                    && only_town_params
                    && path.contains("{town}")
                    && !path.starts_with("/api/v1/admin/")
                    && *m == Method::GET
                {
                    let own = app
                        .api(Method::GET, &b.url(path, "hartford", own_service), &a, None)
                        .await;
                    // 200, or a 400 naming a required query parameter: either way
                    // the request got past the access check to the handler.
                    let reached = own.status == StatusCode::OK
                        || (own.status == StatusCode::BAD_REQUEST
                            && own.json()["field"].is_string());
                    assert!(
                        reached,
                        "{user}: own town {path}: {} {}",
                        own.status,
                        own.text()
                    );
                    // And a service Hartford does not subscribe to is unreachable even for its administrator.
                    if path.contains("{service}") {
                        let fleet = app
                            .api(Method::GET, &b.url(path, "hartford", "fleet"), &a, None)
                            .await;
                        assert_eq!(
                            fleet.status,
                            StatusCode::NOT_FOUND,
                            "{user}: unsubscribed {path}"
                        );
                    }
                }
                checked += 1;
            }
        }
        // A token cannot be had for another town either.
        let t = app.api(Method::POST, "/api/v1/auth/token", &Auth::None, Some(json!({
            "username": user, "password": crate::harness::PASSWORD, "town": b.slug, "service": "finance", "label": "x"
        }))).await;
        assert_eq!(t.status, StatusCode::NOT_FOUND, "{user}: token for town B");

        for (m, path) in app.page_routes.clone() {
            if path == "/signout" || path == "/signin" {
                continue;
            }
            let url = b.url(path, b.slug, "finance");
            let r = if m == Method::GET {
                app.api(Method::GET, &url, &a, None).await
            } else {
                app.form(&url, &a, &[("name", "x")]).await
            };
            let what = format!("{user}: page {m} {path} → {}: {}", r.status, r.text());
            assert!(!r.status.is_server_error(), "{what}");
            if path.starts_with("/admin/") {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
            } else if path.contains('{') {
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{what}");
            } else {
                assert!(!b.leaks(&r.text()), "{what}");
            }
            if path == "/t/{town}" {
                let own = app.api(Method::GET, "/t/hartford", &a, None).await;
                assert_eq!(own.status, StatusCode::OK);
            }
            checked += 1;
        }
    }
    assert!(checked > 80, "walked {checked} route checks");
    // Nothing in town B changed, and B's token still works.
    assert_eq!(chain_length(&app, &b.id).await, b_events);
    let me: Value = app
        .api(
            Method::GET,
            "/api/v1/admin/users",
            &app.demo_session("admin").await,
            None,
        )
        .await
        .json();
    assert!(me.to_string().contains("townadmin.west-hartford"));
}
