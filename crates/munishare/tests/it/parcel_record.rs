//! The parcel record's outbuildings and attachments, on both databases.
//!
//! Outbuildings: on parcel 1-1-1 of the small roll (building value of record
//! $150,000.00) a $12,000 garage and a $2,500 shed leave $135,500 for a pool;
//! one cent more is refused naming `value`, exactly $135,500 is accepted;
//! edits are version-checked and held to the same sum.
//!
//! Attachments: a real 1×1 PNG (67 bytes), an 8×8 baseline JPEG (159 bytes)
//! and a small PDF, their SHA-256 computed beforehand with `sha256sum`;
//! downloads return the same bytes with safe headers; duplicates, a Windows
//! executable, a text file claiming to be a PNG, and a file over 10 MB are
//! refused naming the file; deletion removes the row and the object.

use axum::http::{Method, StatusCode, header};
use bytes::Bytes;
use munishare_platform::blob::BlobKey;
use munishare_platform::types::{Permission, Service};
use munishare_platform::{Error, access, dispatch, identity};
use serde_json::{Value, json};

use crate::assessment::SMALL_ROLL;
use crate::both_dbs;
use crate::harness::{Auth, Resp, TestApp};

both_dbs!(
    outbuildings_stay_within_the_building_value,
    photos_and_sketches_attach_download_and_delete
);

const API: &str = "/api/v1/towns/hartford/assessment";

/// A valid 1×1 RGBA PNG (IHDR, one IDAT, IEND; every CRC checked).
pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\
\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\
\x00\x00\x00\x0aIDAT\x78\x9c\x63\x00\x01\x00\x00\x05\x00\x01\x0d\x0a\x2d\xb4\
\x00\x00\x00\x00IEND\xae\x42\x60\x82";
const PNG_SHA256: &str = "ebf4f635a17d10d6eb46ba680b70142419aa3220f228001a036d311a22ee9d2a";

/// An 8×8 mid-grey baseline JPEG: JFIF header, a quantization table of ones,
/// one-code Huffman tables, and one block whose DC and AC are both zero.
pub(crate) fn jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend_from_slice(b"\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    j.extend_from_slice(b"\xFF\xDB\x00\x43\x00");
    j.extend_from_slice(&[1; 64]);
    j.extend_from_slice(b"\xFF\xC0\x00\x0B\x08\x00\x08\x00\x08\x01\x01\x11\x00");
    for class in [0x00, 0x10] {
        j.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, class, 1]);
        j.extend_from_slice(&[0; 16]);
    }
    j.extend_from_slice(b"\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\x3F\xFF\xD9");
    j
}
const JPEG_SHA256: &str = "24ac74130806ae02d7e4ee72881b977601999c6c9f94ee1545ed4830459b737f";

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

async fn import_roll(app: &TestApp, who: &Auth) {
    let r = app
        .raw(
            Method::POST,
            &format!("{API}/parcel-imports?file_name=roll.csv"),
            who,
            Some("text/csv"),
            SMALL_ROLL.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

fn field_of(r: &Resp) -> String {
    r.json()["field"].as_str().unwrap_or("").to_owned()
}

async fn actions(app: &TestApp, id: &str) -> Vec<String> {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY seq").bind(id).fetch_all(c).await)
    .unwrap()
}

fn outbuilding(kind: &str, description: &str, value_cents: i64) -> Value {
    json!({
        "kind": kind, "description": description, "size": 576, "size_unit": "sqft",
        "year_built": 1978, "condition": 3, "value_cents": value_cents
    })
}

fn total(list: &Value) -> i64 {
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["value_cents"].as_i64().unwrap())
        .sum()
}

async fn outbuildings_stay_within_the_building_value(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let auditor = app.demo_session("auditor").await;
    import_roll(&app, &assessor).await;
    let url = format!("{API}/parcels/1-1-1/outbuildings");
    let add = |who, body| {
        let (app, url) = (&app, &url);
        async move { app.api(Method::POST, url, who, Some(body)).await }
    };

    let garage = add(
        &assessor,
        outbuilding("garage", "2-car frame garage", 1_200_000),
    )
    .await;
    assert_eq!(garage.status, StatusCode::CREATED, "{}", garage.text());
    let garage = garage.json();
    assert_eq!(garage["version"], 1);
    let garage_id = garage["id"].as_str().unwrap().to_owned();
    let shed = add(&assessor, outbuilding("shed", "8x10 shed", 250_000)).await;
    assert_eq!(shed.status, StatusCode::CREATED, "{}", shed.text());
    let shed_id = shed.json()["id"].as_str().unwrap().to_owned();

    // $12,000 + $2,500 + $135,500.01 = $150,000.01: one cent over the building value.
    let r = add(&assessor, outbuilding("pool", "In-ground pool", 13_550_001)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field_of(&r), "value");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("$150,000.01 in all") && detail.contains("($150,000.00)"),
        "{detail}"
    );
    // Exactly the building value is allowed.
    let pool = add(&assessor, outbuilding("pool", "In-ground pool", 13_550_000)).await;
    assert_eq!(pool.status, StatusCode::CREATED, "{}", pool.text());
    let pool_id = pool.json()["id"].as_str().unwrap().to_owned();

    // The parcel's detail lists them.
    let p = app
        .api(Method::GET, &format!("{API}/parcels/1-1-1"), &auditor, None)
        .await
        .json();
    assert_eq!(p["outbuildings"].as_array().unwrap().len(), 3);
    assert_eq!(total(&p["outbuildings"]), 15_000_000);
    assert_eq!(p["parcel"]["building_cents"], 15_000_000);

    // Edits: the same sum, and the version.
    let put = |id: &str, version: i64, body: Value| {
        let app = &app;
        let url = format!("{url}/{id}");
        let who = &assessor;
        async move {
            app.api(
                Method::PUT,
                &url,
                who,
                Some(json!({"version": version, "outbuilding": body})),
            )
            .await
        }
    };
    let r = put(&shed_id, 1, outbuilding("shed", "8x10 shed", 250_001)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field_of(&r), "value");
    let r = put(&shed_id, 7, outbuilding("shed", "8x10 shed", 200_000)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(field_of(&r), "version");
    let r = put(
        &garage_id,
        1,
        outbuilding("garage", "2-car frame garage, fair roof", 1_100_000),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (
            r.json()["version"].as_i64(),
            r.json()["value_cents"].as_i64()
        ),
        (Some(2), Some(1_100_000))
    );
    // $11,000 + $3,500 + $135,500 = $150,000: allowed again.
    let r = put(&shed_id, 1, outbuilding("shed", "8x10 shed", 350_000)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The garage's old version is stale now.
    let r = put(&garage_id, 1, outbuilding("garage", "x", 1)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    // Remove the pool: $11,000 + $3,500 remain.
    let r = app
        .api(Method::DELETE, &format!("{url}/{pool_id}"), &assessor, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .api(Method::DELETE, &format!("{url}/{pool_id}"), &assessor, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let list = app.api(Method::GET, &url, &auditor, None).await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(total(&list), 1_450_000);
    assert_eq!(list[0]["kind"], "garage");
    assert_eq!(list[0]["description"], "2-car frame garage, fair roof");

    // An outbuilding is reached only through its own parcel.
    let r = app
        .api(
            Method::DELETE,
            &format!("{API}/parcels/1-1-2/outbuildings/{garage_id}"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Bad input names the field; the auditor only reads; unknown parcels are 404.
    for (body, field) in [
        (outbuilding("castle", "x", 1), "kind"),
        (
            json!({"kind": "shed", "description": "", "size": 80, "size_unit": "acres", "year_built": 0, "condition": 3, "value_cents": 1}),
            "size_unit",
        ),
        (
            json!({"kind": "shed", "description": "", "size": 80, "size_unit": "sqft", "year_built": 0, "condition": 0, "value_cents": 1}),
            "condition",
        ),
        (
            json!({"kind": "shed", "description": "", "size": 80, "size_unit": "sqft", "year_built": 19, "condition": 2, "value_cents": 1}),
            "year_built",
        ),
        (outbuilding("shed", "x", -5), "value"),
    ] {
        let r = add(&assessor, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(field_of(&r), field, "{}", r.text());
    }
    let r = add(&assessor, json!({"kind": "shed"})).await;
    assert!(r.status.is_client_error(), "{}", r.text());
    let r = add(&auditor, outbuilding("shed", "x", 1)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = app
        .api(
            Method::POST,
            &format!("{API}/parcels/9-9-9/outbuildings"),
            &assessor,
            Some(outbuilding("shed", "x", 1)),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());

    // The page's form: parcel 1-1-2's building is $243,456; a $8,000 deck fits, $250,000 more does not.
    let page = "/t/hartford/assessment/parcels/1-1-2";
    let form = |value: &'static str| {
        let app = &app;
        let who = &assessor;
        async move {
            app.form(
                &format!("{page}/outbuildings"),
                who,
                &[
                    ("kind", "deck"),
                    ("description", "Rear deck"),
                    ("size", "320"),
                    ("size_unit", "sqft"),
                    ("year_built", "2010"),
                    ("condition", "4"),
                    ("value", value),
                ],
            )
            .await
        }
    };
    let r = form("8,000").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.location(), page);
    let r = form("250,000").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let deck = app
        .api(
            Method::GET,
            &format!("{API}/parcels/1-1-2/outbuildings"),
            &auditor,
            None,
        )
        .await
        .json();
    assert_eq!(deck.as_array().unwrap().len(), 1);
    assert_eq!(
        (deck[0]["kind"].as_str(), deck[0]["value_cents"].as_i64()),
        (Some("deck"), Some(800_000))
    );
    let html = app.api(Method::GET, page, &assessor, None).await.text();
    assert!(
        html.contains("<td>Deck</td><td>Rear deck</td><td class=\"num\">320 sq ft</td>"),
        "{html}"
    );
    assert!(html.contains("in all $8,000.00"), "{html}");

    // Every change is audited.
    assert_eq!(
        actions(&app, &garage_id).await,
        ["outbuilding.add", "outbuilding.update"]
    );
    assert_eq!(
        actions(&app, &pool_id).await,
        ["outbuilding.add", "outbuilding.remove"]
    );
    assert_eq!(
        actions(&app, deck[0]["id"].as_str().unwrap()).await,
        ["outbuilding.add"]
    );
}

fn multipart(csrf: &str, fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----munishare-attachment-boundary";
    let mut body = Vec::new();
    for (k, v) in std::iter::once(&("csrf", csrf)).chain(fields) {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn header_of(r: &Resp, name: header::HeaderName) -> String {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn photos_and_sketches_attach_download_and_delete(app: TestApp) {
    let assessor = app.demo_session("assessor.hartford").await;
    let auditor = app.demo_session("auditor").await;
    import_roll(&app, &assessor).await;
    let attach = |who, parcel: &'static str, query: String, ct: &'static str, body: Vec<u8>| {
        let app = &app;
        async move {
            app.raw(
                Method::POST,
                &format!("{API}/parcels/{parcel}/attachments?{query}"),
                who,
                Some(ct),
                body,
            )
            .await
        }
    };
    let octet = "application/octet-stream";

    let front = attach(
        &assessor,
        "1-1-1",
        "file_name=front.png&kind=photo&caption=Front%20elevation&taken_on=2026-10-14".into(),
        octet,
        PNG.to_vec(),
    )
    .await;
    assert_eq!(front.status, StatusCode::CREATED, "{}", front.text());
    let front = front.json();
    assert_eq!(
        (
            front["content_type"].as_str(),
            front["byte_size"].as_i64(),
            front["sha256"].as_str(),
            front["caption"].as_str(),
            front["taken_on"].as_str(),
            front["kind"].as_str()
        ),
        (
            Some("image/png"),
            Some(67),
            Some(PNG_SHA256),
            Some("Front elevation"),
            Some("2026-10-14"),
            Some("photo")
        )
    );
    let front_id = front["id"].as_str().unwrap().to_owned();
    let parcel_id = front["parcel_id"].as_str().unwrap().to_owned();
    let rear = attach(
        &assessor,
        "1-1-1",
        "file_name=rear.jpg&kind=photo".into(),
        "image/png",
        jpeg(),
    )
    .await;
    assert_eq!(rear.status, StatusCode::CREATED, "{}", rear.text());
    assert_eq!(
        (
            rear.json()["content_type"].as_str(),
            rear.json()["byte_size"].as_i64(),
            rear.json()["sha256"].as_str()
        ),
        (Some("image/jpeg"), Some(159), Some(JPEG_SHA256))
    );
    let sketch = attach(
        &assessor,
        "1-1-1",
        "file_name=sketch.pdf&kind=sketch".into(),
        octet,
        PDF.to_vec(),
    )
    .await;
    assert_eq!(sketch.status, StatusCode::CREATED, "{}", sketch.text());
    let sketch_id = sketch.json()["id"].as_str().unwrap().to_owned();

    // Refusals name the file.
    let refused = |r: Resp, status: StatusCode, field: &str, says: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(field_of(&r), field, "{}", r.text());
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(says), "{detail}");
    };
    refused(
        attach(
            &assessor,
            "1-1-1",
            "file_name=copy.png&kind=photo".into(),
            octet,
            PNG.to_vec(),
        )
        .await,
        StatusCode::CONFLICT,
        "copy.png",
        "copy.png: already attached as front.png (uploaded 2026-11-26 14:00 UTC)",
    );
    refused(
        attach(
            &assessor,
            "1-1-1",
            "file_name=setup.exe&kind=sketch".into(),
            octet,
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "setup.exe",
        "setup.exe: is not a JPEG, PNG or PDF file",
    );
    refused(
        attach(
            &assessor,
            "1-1-1",
            "file_name=notes.png&kind=photo".into(),
            "image/png",
            b"Roof needs work; see the rear.".to_vec(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "notes.png",
        "notes.png: is not a JPEG, PNG or PDF file",
    );
    // One byte over 10 MiB, and far over it (refused before the body is read whole).
    for size in [10 * 1024 * 1024 + 1, 40 * 1024 * 1024] {
        let mut big = PNG.to_vec();
        big.resize(size, 0);
        refused(
            attach(
                &assessor,
                "1-1-1",
                "file_name=big.png&kind=photo".into(),
                octet,
                big,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "big.png",
            "an attachment is at most 10 MB",
        );
    }
    refused(
        attach(
            &assessor,
            "1-1-1",
            "file_name=plan.pdf&kind=photo".into(),
            octet,
            b"%PDF-1.7\n".to_vec(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "plan.pdf",
        "attach a PDF as a sketch",
    );
    // Exactly 10 MiB is accepted (on another parcel, deleted again at once).
    let mut limit = jpeg();
    limit.resize(10 * 1024 * 1024, 0);
    let r = attach(
        &assessor,
        "1-1-4",
        "file_name=limit.jpg&kind=photo".into(),
        octet,
        limit,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["byte_size"], 10 * 1024 * 1024);
    let r = app
        .api(
            Method::DELETE,
            &format!(
                "{API}/parcels/1-1-4/attachments/{}",
                r.json()["id"].as_str().unwrap()
            ),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    refused(
        attach(
            &assessor,
            "1-1-1",
            "file_name=a.png&kind=selfie".into(),
            octet,
            PNG.to_vec(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "kind",
        "photo or sketch",
    );
    refused(
        attach(
            &assessor,
            "1-1-1",
            "file_name=a.png&kind=photo&taken_on=2026-11-27".into(),
            octet,
            PNG.to_vec(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "taken_on",
        "after today",
    );
    refused(
        attach(
            &assessor,
            "1-1-1",
            "file_name=empty.png&kind=photo".into(),
            octet,
            Vec::new(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty.png",
        "empty",
    );
    let r = attach(
        &auditor,
        "1-1-1",
        "file_name=x.png&kind=photo".into(),
        octet,
        jpeg(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // The same photo may be attached to another parcel.
    let r = attach(
        &assessor,
        "1-1-2",
        "file_name=front.png&kind=photo".into(),
        octet,
        PNG.to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Downloads: the same bytes, the stored type, safe headers (the auditor reads).
    let file = |id: &str| format!("{API}/parcels/1-1-1/attachments/{id}");
    let r = app.api(Method::GET, &file(&front_id), &auditor, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, PNG);
    assert_eq!(header_of(&r, header::CONTENT_TYPE), "image/png");
    assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(
        header_of(&r, header::CONTENT_DISPOSITION),
        "inline; filename=\"front.png\"; filename*=UTF-8''front.png"
    );
    let r = app
        .api(Method::GET, &file(&sketch_id), &auditor, None)
        .await;
    assert_eq!(r.body, PDF);
    assert_eq!(header_of(&r, header::CONTENT_TYPE), "application/pdf");
    assert_eq!(
        header_of(&r, header::CONTENT_DISPOSITION),
        "attachment; filename=\"sketch.pdf\"; filename*=UTF-8''sketch.pdf"
    );
    // The object is in the town's part of the store, under the parcel and its hash.
    let scope = {
        let mut c = app.db.read().await.unwrap();
        let u = identity::user_by_username(&mut c, "assessor.hartford")
            .await
            .unwrap()
            .unwrap();
        drop(c);
        access::authorize_service(
            &app.db,
            &identity::principal_for_user(&u),
            time::macros::date!(2026 - 11 - 26),
            "hartford",
            Service::Assessment,
            Permission::View,
        )
        .await
        .unwrap()
    };
    let key = BlobKey::in_scope(&scope, &format!("parcels/{parcel_id}/{PNG_SHA256}")).unwrap();
    assert!(key.as_str().starts_with(&format!(
        "towns/{}/assessment/parcels/",
        scope.municipality_id()
    )));
    assert_eq!(
        app.jobs.blobs.get(&key).await.unwrap(),
        Bytes::from_static(PNG)
    );

    // The detail API and the page show them: photos as thumbnails, the sketch as a link.
    let p = app
        .api(Method::GET, &format!("{API}/parcels/1-1-1"), &auditor, None)
        .await
        .json();
    assert_eq!(p["attachments"].as_array().unwrap().len(), 3);
    let page = "/t/hartford/assessment/parcels/1-1-1";
    let html = app.api(Method::GET, page, &auditor, None).await.text();
    let img = format!(
        "<img src=\"/t/hartford/assessment/parcels/{parcel_id}/attachments/{front_id}\" alt=\"Front elevation\""
    );
    assert!(html.contains(&img), "{html}");
    assert!(html.contains(">sketch.pdf</a>"), "{html}");
    let r = app
        .api(
            Method::GET,
            &format!("/t/hartford/assessment/parcels/{parcel_id}/attachments/{front_id}"),
            &auditor,
            None,
        )
        .await;
    assert_eq!((r.status, r.body.as_slice()), (StatusCode::OK, PNG));

    // The page's form takes several files at once, all or nothing.
    let Auth::Session { csrf, .. } = &assessor else {
        panic!("a session")
    };
    let upload = |parcel: &'static str, files: Vec<(&'static str, Vec<u8>)>| {
        let app = &app;
        let who = &assessor;
        let csrf = csrf.clone();
        async move {
            let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
            let (ct, body) = multipart(
                &csrf,
                &[("kind", "photo"), ("caption", ""), ("taken_on", "")],
                &files,
            );
            app.raw(
                Method::POST,
                &format!("/t/hartford/assessment/parcels/{parcel}/attachments"),
                who,
                Some(&ct),
                body,
            )
            .await
        }
    };
    let r = upload(
        "1-1-3",
        vec![("front.png", PNG.to_vec()), ("rear.jpg", jpeg())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let r = upload(
        "1-1-4",
        vec![
            ("front.png", PNG.to_vec()),
            ("setup.exe", b"MZ\x90\x00".to_vec()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let flash = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flash.contains("setup.exe"), "{flash}");
    let count = |parcel: &'static str| {
        let app = &app;
        let who = &auditor;
        async move {
            app.api(
                Method::GET,
                &format!("{API}/parcels/{parcel}/attachments"),
                who,
                None,
            )
            .await
            .json()
            .as_array()
            .unwrap()
            .len()
        }
    };
    assert_eq!(count("1-1-3").await, 2);
    assert_eq!(count("1-1-4").await, 0);

    // An attachment is reached only through its own parcel.
    let r = app
        .api(
            Method::GET,
            &format!("{API}/parcels/1-1-2/attachments/{sketch_id}"),
            &assessor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Deleting removes the row and then the object; the other parcel's copy stays.
    let r = app
        .api(Method::DELETE, &file(&front_id), &auditor, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = app
        .api(Method::DELETE, &file(&front_id), &assessor, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .api(Method::GET, &file(&front_id), &assessor, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(matches!(
        app.jobs.blobs.get(&key).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(count("1-1-2").await, 1);
    let r = app
        .form(
            &format!("{page}/attachments/{sketch_id}/remove"),
            &assessor,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(count("1-1-1").await, 1);

    assert_eq!(
        actions(&app, &front_id).await,
        ["attachment.add", "attachment.remove"]
    );
    assert_eq!(
        actions(&app, &sketch_id).await,
        ["attachment.add", "attachment.remove"]
    );
}
