//! The records module (issue 6, first slice): uploads streamed into the
//! object store and deduplicated per town by SHA-256 (checked against
//! hand-known digests), the refusals (empty, too large, unsupported kind, odd
//! names), versions, downloads, notes, tags, document types with typed fields,
//! the list's filters, department and confidential visibility, another town's
//! documents, and crash safety of ingestion (an upload stopped between storing
//! its content and committing its rows, then the sweep).

use axum::http::{Method, StatusCode, header};
use munishare_platform::blob::BlobKey;
use munishare_platform::types::{Permission, Service, Timestamp};
use munishare_platform::{Clock, access, dispatch, identity};
use serde_json::{Value, json};

use crate::both_dbs;
use crate::harness::{Auth, Resp, TestApp};

both_dbs!(
    uploads_are_stored_once_per_town_and_downloaded_as_filed,
    bad_files_are_refused_by_name_and_leave_nothing_behind,
    versions_notes_tags_types_and_filters,
    departments_and_confidential_documents_are_seen_only_by_those_allowed,
    another_towns_documents_answer_404,
    an_upload_cut_off_before_its_commit_is_swept_and_never_half_filed,
    the_page_files_several_files_each_with_its_own_result,
    a_file_of_several_store_parts_arrives_whole
);

const WH: &str = "/api/v1/towns/west-hartford/records";

/// SHA-256 of "abc" (FIPS 180-2, appendix B.1).
const SHA_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/// SHA-256 of "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" (FIPS 180-2, B.2).
const MSG_B2: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const SHA_B2: &str = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";

/// A minimal PDF header (enough for the sniffer; the content is not parsed in this slice).
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

async fn upload(app: &TestApp, auth: &Auth, base: &str, query: &str, body: &[u8]) -> Resp {
    app.raw(
        Method::POST,
        &format!("{base}/documents?{query}"),
        auth,
        Some("application/octet-stream"),
        body.to_vec(),
    )
    .await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(c).await).unwrap()
}

async fn town_id(app: &TestApp, slug: &str) -> String {
    let mut c = app.db.read().await.unwrap();
    munishare_platform::tenancy::find_by_slug(&mut c, slug)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

/// Keys of a town's records objects under `folder` (content/ or tmp/).
async fn objects(app: &TestApp, slug: &str, folder: &str) -> Vec<String> {
    let id = town_id(app, slug).await;
    let dir = format!("towns/{id}/records/{folder}");
    let all = scope_for(app, "townadmin.west-hartford", slug).await;
    app.jobs
        .blobs
        .list(&all)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with(&dir))
        .collect()
}

async fn scope_for(app: &TestApp, user: &str, town: &str) -> access::ServiceScope {
    let mut c = app.db.read().await.unwrap();
    let u = identity::user_by_username(&mut c, user)
        .await
        .unwrap()
        .unwrap();
    drop(c);
    access::authorize_service(
        &app.db,
        &identity::principal_for_user(&u),
        time::macros::date!(2026 - 11 - 26),
        town,
        Service::Records,
        Permission::View,
    )
    .await
    .unwrap()
}

async fn uploads_are_stored_once_per_town_and_downloaded_as_filed(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let events = count(
        &app,
        "SELECT COUNT(*) FROM audit_events WHERE action = 'records.document.file'",
    )
    .await;
    let first = upload(&app, &clerk, WH, "filename=a.txt&title=First", b"abc").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let f = first.json();
    assert_eq!(f["sha256"], SHA_ABC);
    assert_eq!(f["size"], 3);
    assert_eq!(f["media_type"], "text/plain; charset=utf-8");
    assert_eq!(f["deduplicated"], false);
    assert_eq!(f["version"], 1);
    assert_eq!(f["document"]["title"], "First");
    assert_eq!(f["document"]["created_by"], "records.west-hartford");
    // The same bytes under another name: a second document, the content stored once.
    let second = upload(&app, &clerk, WH, "filename=b.txt", b"abc").await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    assert_eq!(second.json()["deduplicated"], true);
    assert_eq!(second.json()["sha256"], SHA_ABC);
    assert_eq!(
        second.json()["document"]["title"],
        "b",
        "the title defaults to the file name's stem"
    );
    let third = upload(&app, &clerk, WH, "filename=fips-b2.txt", MSG_B2).await;
    assert_eq!(third.json()["sha256"], SHA_B2);
    assert_eq!(third.json()["deduplicated"], false);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_contents").await,
        2
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_versions").await,
        3
    );
    let content = objects(&app, "west-hartford", "content/").await;
    assert_eq!(content.len(), 2, "{content:?}");
    assert!(
        content
            .iter()
            .any(|k| k.ends_with(&format!("content/ba/{SHA_ABC}"))),
        "{content:?}"
    );
    assert!(
        objects(&app, "west-hartford", "tmp/").await.is_empty(),
        "no temporary object stays"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_staged_uploads").await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'records.document.file'"
        )
        .await,
        events + 3
    );
    // Another town has its own content store: the same bytes are new there.
    let hartford = app.demo_session("townadmin.hartford").await;
    let h = upload(
        &app,
        &hartford,
        "/api/v1/towns/hartford/records",
        "filename=a.txt",
        b"abc",
    )
    .await;
    assert_eq!(h.status, StatusCode::CREATED, "{}", h.text());
    assert_eq!(h.json()["deduplicated"], false);

    // Download: the original bytes, the stored kind, as an attachment that cannot run.
    let id = f["document"]["id"].as_str().unwrap();
    let d = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{id}/content"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body, b"abc");
    assert_eq!(d.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(
        d.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"a.txt\"; filename*=UTF-8''a.txt"
    );
    assert_eq!(d.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(d.headers[header::ETAG], format!("\"{SHA_ABC}\"").as_str());
    let page = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{id}/content"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(page.body, b"abc");
    // A PDF is told from its bytes, whatever its name says.
    let pdf = upload(&app, &clerk, WH, "filename=scan.bin", PDF).await;
    assert_eq!(
        pdf.json()["media_type"],
        "application/pdf",
        "{}",
        pdf.text()
    );
}

async fn bad_files_are_refused_by_name_and_leave_nothing_behind(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let admin = app.demo_session("townadmin.west-hartford").await;
    let before = count(&app, "SELECT COUNT(*) FROM records_documents").await;
    let problem = |r: &Resp| {
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
        r.json()
    };
    // Empty.
    let r = upload(&app, &clerk, WH, "filename=empty.pdf", b"").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(&r);
    assert_eq!(p["field"], "file");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("\"empty.pdf\" is empty"),
        "{p}"
    );
    // Not an accepted kind (a Windows executable's header), named.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    exe.extend(vec![0u8; 10_000]);
    let r = upload(&app, &clerk, WH, "filename=setup.exe", &exe).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem(&r)["detail"]
            .as_str()
            .unwrap()
            .contains("\"setup.exe\" is not a kind of file"),
        "{}",
        r.text()
    );
    // Odd names: a path, a control character, dot-dot.
    for (q, shown) in [
        (
            "filename=..%2Fetc%2Fpasswd.txt",
            "contains a path separator",
        ),
        (
            "filename=bell%07.txt",
            "\"bell\\u{7}.txt\" contains control characters",
        ),
        ("filename=..", "is not a file name"),
        ("filename=a%5Cb.txt", "path separator"),
    ] {
        let r = upload(&app, &clerk, WH, q, b"abc").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        let p = problem(&r);
        assert_eq!(p["field"], "file", "{q}");
        assert!(p["detail"].as_str().unwrap().contains(shown), "{q}: {p}");
    }
    // No name at all.
    let r = upload(&app, &clerk, WH, "title=x", b"abc").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(&r)["field"], "filename");
    // Over the town's limit (set by its administrator; the clerk may not): 413 naming it.
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/settings"),
            &clerk,
            Some(json!({"max_upload_bytes": 1000})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/settings"),
            &admin,
            Some(json!({"max_upload_bytes": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "max_upload_bytes");
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/settings"),
            &admin,
            Some(json!({"max_upload_bytes": 1000})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = upload(&app, &clerk, WH, "filename=big.txt", &vec![b'x'; 1001]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let p = problem(&r);
    assert_eq!(p["field"], "file");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("\"big.txt\" is larger than this town's upload limit of 1000 bytes"),
        "{p}"
    );
    // Exactly at the limit is fine.
    let r = upload(&app, &clerk, WH, "filename=fits.txt", &vec![b'x'; 1000]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // A declared length over the limit is refused before the body is read.
    let r = app
        .router
        .clone()
        .oneshot_with_length(
            &clerk,
            &format!("{WH}/documents?filename=huge.pdf"),
            5_000_000,
        )
        .await;
    assert_eq!(r, StatusCode::PAYLOAD_TOO_LARGE);
    // Unknown type or department, bad date: named before any byte is stored.
    for (q, field) in [
        ("filename=x.txt&type=Nonsense", "type"),
        ("filename=x.txt&department=ZZZ", "department"),
        ("filename=x.txt&document_date=2026-02-30", "document_date"),
    ] {
        let r = upload(&app, &clerk, WH, q, b"abc").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(r.json()["field"], field, "{q}");
    }
    // Only the one good file landed; nothing of the refused ones stays.
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_documents").await,
        before + 1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_staged_uploads").await,
        0
    );
    assert!(objects(&app, "west-hartford", "tmp/").await.is_empty());
    assert_eq!(
        objects(&app, "west-hartford", "content/").await.len() as i64,
        count(&app, "SELECT COUNT(*) FROM records_contents").await
    );
}

/// Sends a POST whose Content-Length header claims `len` bytes (and a small body).
trait WithLength {
    async fn oneshot_with_length(self, auth: &Auth, path: &str, len: u64) -> StatusCode;
}

impl WithLength for axum::Router {
    async fn oneshot_with_length(self, auth: &Auth, path: &str, len: u64) -> StatusCode {
        use tower::ServiceExt;
        let Auth::Session { cookie, csrf } = auth else {
            panic!("a session")
        };
        let req = axum::http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::COOKIE, format!("munishare_session={cookie}"))
            .header("x-csrf-token", csrf.as_str())
            .header(header::CONTENT_LENGTH, len)
            .body(axum::body::Body::from(&b"%PDF-"[..]))
            .unwrap();
        self.oneshot(req).await.unwrap().status()
    }
}

async fn versions_notes_tags_types_and_filters(app: TestApp) {
    let admin = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    // Document types: the administrator's; typed fields checked.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/types"),
            &clerk,
            Some(json!({"name": "Permit"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.api(Method::POST, &format!("{WH}/types"), &admin, Some(json!({
        "name": "Permit",
        "fields": [{"name": "permit_number", "kind": "text", "required": true}, {"name": "cost", "kind": "number"},
                   {"name": "issued", "kind": "date"}]}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let permit = r.json();
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/types"),
            &admin,
            Some(json!({"name": "permit"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "names are unique in the town, whatever the case? {}",
        r.text()
    );
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/types"),
            &admin,
            Some(json!({"name": "Bad", "fields": [{"name": "Has Space", "kind": "text"}]})),
        )
        .await;
    assert_eq!(r.json()["field"], "fields[0].name");
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/types"),
            &admin,
            Some(json!({"name": "Minutes"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let a = upload(&app, &clerk, WH, "filename=permit-1.pdf&type=Permit&department=DPW&document_date=2026-09-18&tags=permits,main%20street&correspondent=R.%20Alvarez", PDF).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let a_id = a.json()["document"]["id"].as_str().unwrap().to_owned();
    assert_eq!(a.json()["document"]["department"], "DPW");
    assert_eq!(
        a.json()["document"]["tags"],
        json!(["main street", "permits"])
    );
    let b = upload(
        &app,
        &clerk,
        WH,
        "filename=minutes.txt&type=Minutes&document_date=2026-11-03&tags=minutes",
        b"Minutes of November 3",
    )
    .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text());
    let b_id = b.json()["document"]["id"].as_str().unwrap().to_owned();
    let _c = upload(&app, &clerk, WH, "filename=undated.txt", b"no date").await;

    // Fields: the type's, typed; a required one is required.
    let put = |fields: Value| {
        json!({"title": "Permit 2026-0412", "type": "Permit", "department": "DPW",
        "document_date": "2026-09-18", "fields": fields, "tags": ["permits"]})
    };
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{a_id}"),
            &clerk,
            Some(put(json!({"cost": 5}))),
        )
        .await;
    assert_eq!(r.json()["field"], "fields.permit_number", "{}", r.text());
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{a_id}"),
            &clerk,
            Some(put(json!({"permit_number": "2026-0412", "cost": "12.5"}))),
        )
        .await;
    assert_eq!(r.json()["field"], "fields.cost", "{}", r.text());
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{a_id}"),
            &clerk,
            Some(put(json!({"permit_number": "2026-0412", "colour": "red"}))),
        )
        .await;
    assert_eq!(r.json()["field"], "fields.colour");
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{a_id}"),
            &clerk,
            Some(put(
                json!({"permit_number": "2026-0412", "cost": "8,500", "issued": "2026-09-18"}),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json()["fields"],
        json!({"permit_number": "2026-0412", "cost": 8500, "issued": "2026-09-18"})
    );
    assert_eq!(r.json()["title"], "Permit 2026-0412");
    // A type in use cannot be deleted.
    let r = app
        .api(
            Method::DELETE,
            &format!("{WH}/types/{}", permit["id"].as_str().unwrap()),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // A new version keeps the old one.
    let v = app
        .raw(
            Method::POST,
            &format!("{WH}/documents/{a_id}/versions?filename=permit-1-signed.pdf"),
            &clerk,
            Some("application/octet-stream"),
            [PDF, b"% signed\n"].concat(),
        )
        .await;
    assert_eq!(v.status, StatusCode::CREATED, "{}", v.text());
    assert_eq!(v.json()["version"], 2);
    assert_eq!(v.json()["document"]["current_version"], 2);
    let detail = app
        .api(Method::GET, &format!("{WH}/documents/{a_id}"), &clerk, None)
        .await
        .json();
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);
    assert_eq!(detail["versions"][1]["file_name"], "permit-1.pdf");
    let old = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{a_id}/content?version=1"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(old.body, PDF);
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{a_id}/content?version=9"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Notes and tags.
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/documents/{a_id}/notes"),
            &clerk,
            Some(json!({"body": "  "})),
        )
        .await;
    assert_eq!(r.json()["field"], "body");
    let r = app
        .api(
            Method::POST,
            &format!("{WH}/documents/{a_id}/notes"),
            &clerk,
            Some(json!({"body": "Signed copy received."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{b_id}/tags"),
            &clerk,
            Some(json!({"tags": ["minutes", "Board of Selectmen", "minutes"]})),
        )
        .await;
    assert_eq!(r.json()["tags"], json!(["Board of Selectmen", "minutes"]));
    let detail = app
        .api(Method::GET, &format!("{WH}/documents/{a_id}"), &clerk, None)
        .await
        .json();
    assert_eq!(detail["notes"][0]["body"], "Signed copy received.");
    let tags = app
        .api(Method::GET, &format!("{WH}/tags"), &clerk, None)
        .await
        .json();
    assert!(
        tags.as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "minutes" && t["documents"] == 1),
        "{tags}"
    );

    // Filters, sort, pages.
    let titles = |r: Resp| -> Vec<String> {
        r.json()["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |q: &str| {
        let (app, clerk, url) = (app.clone(), clerk.clone(), format!("{WH}/documents?{q}"));
        async move { app.api(Method::GET, &url, &clerk, None).await }
    };
    assert_eq!(titles(list("type=Permit").await), vec!["Permit 2026-0412"]);
    assert_eq!(
        titles(list("department=DPW").await),
        vec!["Permit 2026-0412"]
    );
    assert_eq!(titles(list("tag=MINUTES").await), vec!["minutes"]);
    assert_eq!(titles(list("q=PERMIT").await), vec!["Permit 2026-0412"]);
    assert_eq!(
        titles(list("from=2026-10-01&to=2026-12-31").await),
        vec!["minutes"]
    );
    assert_eq!(
        titles(list("sort=date&dir=asc").await),
        vec!["undated", "Permit 2026-0412", "minutes"]
    );
    assert_eq!(
        titles(list("sort=title&per_page=2&page=2").await),
        vec!["undated"]
    );
    let r = list("sort=title&per_page=2").await.json();
    assert_eq!(r["total"], 3);
    assert_eq!(r["documents"].as_array().unwrap().len(), 2);
    assert!(
        titles(list("q=100%25").await).is_empty(),
        "% is matched literally"
    );
    for (q, field) in [
        ("from=soon", "from"),
        ("sort=size", "sort"),
        ("per_page=0", "per_page"),
        ("type=Nope", "type"),
        ("from=2026-12-01&to=2026-01-01", "to"),
    ] {
        let r = list(q).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.text()
        );
        assert_eq!(r.json()["field"], field, "{q}");
    }
    // The page and its CSV export.
    let page = app
        .api(
            Method::GET,
            "/t/west-hartford/records?type=Permit",
            &clerk,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Permit 2026-0412"));
    assert!(!page.text().contains(">minutes<"));
    let csv = app
        .api(
            Method::GET,
            "/t/west-hartford/records?sort=title&dir=asc&format=csv",
            &clerk,
            None,
        )
        .await;
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let lines: Vec<String> = csv.text().lines().map(str::to_owned).collect();
    assert!(lines[0].starts_with("id,title,type,department"));
    assert_eq!(lines.len(), 4);
    assert!(
        lines[2].contains("Permit 2026-0412,Permit,DPW"),
        "{}",
        lines[2]
    );
    let detail_page = app
        .api(
            Method::GET,
            &format!("/t/west-hartford/records/documents/{a_id}"),
            &clerk,
            None,
        )
        .await;
    assert!(detail_page.text().contains("permit-1-signed.pdf"));
    let types_page = app
        .api(Method::GET, "/t/west-hartford/records/types", &admin, None)
        .await;
    assert!(types_page.text().contains("permit_number (text, required)"));
    // Every change is in the town's audit chain.
    for action in [
        "records.type.create",
        "records.document.file",
        "records.document.update",
        "records.version.add",
        "records.note.add",
        "records.tags.set",
        "records.settings.set",
    ] {
        let n = count(
            &app,
            &format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}'"),
        )
        .await;
        assert!(n >= 1 || action == "records.settings.set", "{action}");
    }
}

async fn departments_and_confidential_documents_are_seen_only_by_those_allowed(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let file = |auth: &Auth, q: &str| {
        let auth = auth.clone();
        let q = q.to_owned();
        let app = app.clone();
        async move { upload(&app, &auth, WH, &q, b"text").await }
    };
    let clk = file(&officer, "filename=clk.txt&department=CLK").await;
    assert_eq!(clk.status, StatusCode::CREATED, "{}", clk.text());
    let dpw = file(&officer, "filename=dpw.txt&department=DPW").await;
    let town = file(&officer, "filename=town.txt").await;
    let secret = file(
        &officer,
        "filename=personnel.txt&department=CLK&confidential=true",
    )
    .await;
    assert_eq!(secret.status, StatusCode::CREATED, "{}", secret.text());
    let id = |r: &Resp| r.json()["document"]["id"].as_str().unwrap().to_owned();
    let (clk, dpw, town, secret) = (id(&clk), id(&dpw), id(&town), id(&secret));
    let seen = |auth: &Auth| {
        let auth = auth.clone();
        let app = app.clone();
        async move {
            let r = app
                .api(
                    Method::GET,
                    &format!("{WH}/documents?sort=title&dir=asc"),
                    &auth,
                    None,
                )
                .await
                .json();
            let mut names: Vec<String> = r["documents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["file_name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            assert_eq!(r["total"].as_i64().unwrap() as usize, names.len());
            names
        }
    };
    assert_eq!(
        seen(&officer).await,
        vec!["clk.txt", "dpw.txt", "personnel.txt", "town.txt"]
    );
    // The clerk (no approve) never sees the confidential document, nor can mark one.
    assert_eq!(seen(&clerk).await, vec!["clk.txt", "dpw.txt", "town.txt"]);
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{secret}"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{secret}/content"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = file(&clerk, "filename=x.txt&confidential=true").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "confidential");
    // Limited to the Town Clerk's department: town-wide documents and the clerk's.
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/department-limits"),
            &clerk,
            Some(json!({"username": "records.west-hartford", "departments": ["CLK"]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "only an administrator sets limits"
    );
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/department-limits"),
            &officer,
            Some(json!({"username": "records.west-hartford", "departments": ["clk", "NOPE"]})),
        )
        .await;
    assert_eq!(r.json()["field"], "departments[1]");
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/department-limits"),
            &officer,
            Some(json!({"username": "records.west-hartford", "departments": ["clk"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["departments"], json!(["CLK"]));
    assert_eq!(seen(&clerk).await, vec!["clk.txt", "town.txt"]);
    for hidden in [&dpw, &secret] {
        for path in [
            format!("{WH}/documents/{hidden}"),
            format!("{WH}/documents/{hidden}/content"),
            format!("/t/west-hartford/records/documents/{hidden}"),
        ] {
            let r = app.api(Method::GET, &path, &clerk, None).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        }
        let r = app
            .api(
                Method::POST,
                &format!("{WH}/documents/{hidden}/notes"),
                &clerk,
                Some(json!({"body": "x"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app
            .raw(
                Method::POST,
                &format!("{WH}/documents/{hidden}/versions?filename=v.txt"),
                &clerk,
                Some("application/octet-stream"),
                b"v2".to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    let r = app
        .api(Method::GET, &format!("{WH}/documents/{clk}"), &clerk, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .api(Method::GET, &format!("{WH}/documents/{town}"), &clerk, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Filing into a department outside the limit is refused, naming the field.
    let r = file(&clerk, "filename=x.txt&department=DPW").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "department");
    // Filtering by a hidden department finds nothing rather than leaking a count.
    let r = app
        .api(
            Method::GET,
            &format!("{WH}/documents?department=DPW"),
            &clerk,
            None,
        )
        .await
        .json();
    assert_eq!(r["total"], 0);
    let limits = app
        .api(
            Method::GET,
            &format!("{WH}/department-limits"),
            &officer,
            None,
        )
        .await
        .json();
    assert_eq!(
        limits,
        json!([{"username": "records.west-hartford", "departments": ["CLK"]}])
    );
    // Lifted: the whole town again (still no confidential).
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/department-limits"),
            &officer,
            Some(json!({"username": "records.west-hartford", "departments": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(seen(&clerk).await, vec!["clk.txt", "dpw.txt", "town.txt"]);
    // The auditor reads the town (view) but not what is confidential.
    let auditor = app.demo_session("auditor").await;
    assert_eq!(seen(&auditor).await, vec!["clk.txt", "dpw.txt", "town.txt"]);
    let r = file(&auditor, "filename=y.txt").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'records.department_limit.set'"
        )
        .await,
        2
    );
}

async fn another_towns_documents_answer_404(app: TestApp) {
    let wh = app.demo_session("townadmin.west-hartford").await;
    let r = upload(&app, &wh, WH, "filename=wh.txt", b"West Hartford only").await;
    let id = r.json()["document"]["id"].as_str().unwrap().to_owned();
    let hartford = app.demo_session("townadmin.hartford").await;
    for path in [
        format!("{WH}/documents/{id}"),
        format!("{WH}/documents/{id}/content"),
        format!("/api/v1/towns/hartford/records/documents/{id}"),
        format!("/api/v1/towns/hartford/records/documents/{id}/content"),
        format!("/t/hartford/records/documents/{id}"),
    ] {
        let r = app.api(Method::GET, &path, &hartford, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().contains("West Hartford only"));
    }
    let r = upload(&app, &hartford, WH, "filename=x.txt", b"abc").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .raw(
            Method::POST,
            &format!("/api/v1/towns/hartford/records/documents/{id}/versions?filename=v.txt"),
            &hartford,
            Some("application/octet-stream"),
            b"abc".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api(
            Method::PUT,
            &format!("/api/v1/towns/hartford/records/documents/{id}/tags"),
            &hartford,
            Some(json!({"tags": ["x"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Manchester does not subscribe to records: unreachable even for the auditor.
    let auditor = app.demo_session("auditor").await;
    let r = app
        .api(
            Method::GET,
            "/api/v1/towns/manchester/records/documents",
            &auditor,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn an_upload_cut_off_before_its_commit_is_swept_and_never_half_filed(app: TestApp) {
    use munishare_records::{documents, ingest};
    let clerk = scope_for(&app, "records.west-hartford", "west-hartford").await;
    let blobs = app.jobs.blobs.clone();
    let now = || Timestamp::new(app.clock.now());
    let body = |b: &'static [u8]| {
        futures::stream::iter([Ok::<_, std::convert::Infallible>(
            bytes::Bytes::from_static(b),
        )])
    };
    let docs_before = count(&app, "SELECT COUNT(*) FROM records_documents").await;

    // The server stops after the content is stored and before the rows commit.
    let cut = ingest::stage(
        &clerk,
        &app.db,
        &blobs,
        now(),
        "orphan.txt",
        None,
        body(b"abc"),
    )
    .await
    .unwrap();
    assert_eq!(cut.sha256, SHA_ABC);
    drop(cut);
    let key = BlobKey::in_scope(&clerk, &format!("content/ba/{SHA_ABC}")).unwrap();
    assert!(
        blobs.exists(&key).await.unwrap(),
        "the content was written first"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_staged_uploads").await,
        1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_documents").await,
        docs_before,
        "no document without its rows"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_contents").await,
        0
    );

    // Within the grace period the sweep leaves it (the upload may still be running).
    let registry = munishare::jobs();
    registry.schedule_due(&app.db, now()).await.unwrap();
    while registry.run_one(&app.jobs).await.unwrap() {}
    assert!(blobs.exists(&key).await.unwrap());

    // A day later it is gone: the content no version references, the temporary object, the intent row.
    app.advance(time::Duration::hours(25));
    assert!(registry.schedule_due(&app.db, now()).await.unwrap() >= 1);
    while registry.run_one(&app.jobs).await.unwrap() {}
    assert!(
        !blobs.exists(&key).await.unwrap(),
        "unreferenced content is deleted"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_staged_uploads").await,
        0
    );
    assert!(objects(&app, "west-hartford", "tmp/").await.is_empty());
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'records.sweep'"
        )
        .await,
        1
    );
    let actor: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT actor FROM audit_events WHERE action = 'records.sweep'").fetch_one(c).await).unwrap()
    };
    assert_eq!(
        actor, "records.west-hartford via records.sweep",
        "the job acts for the person who uploaded"
    );

    // Content an abandoned upload shares with a committed document is kept.
    let kept = ingest::stage(
        &clerk,
        &app.db,
        &blobs,
        now(),
        "kept.txt",
        None,
        body(MSG_B2),
    )
    .await
    .unwrap();
    let abandoned = ingest::stage(
        &clerk,
        &app.db,
        &blobs,
        now(),
        "abandoned.txt",
        None,
        body(MSG_B2),
    )
    .await
    .unwrap();
    drop(abandoned);
    let meta = {
        let mut c = app.db.read().await.unwrap();
        documents::check_meta(&clerk, &mut c, &documents::DocumentIn::default())
            .await
            .unwrap()
    };
    let filed = documents::file(&clerk, &app.db, &blobs, now(), &kept, &meta)
        .await
        .unwrap();
    assert!(!filed.deduplicated);
    app.advance(time::Duration::hours(25));
    let admin = app.demo_session("townadmin.west-hartford").await;
    let r = app
        .api(Method::POST, &format!("{WH}/sweep"), &admin, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"abandoned_uploads": 1, "content_deleted": 0})
    );
    let b2 = BlobKey::in_scope(&clerk, &format!("content/24/{SHA_B2}")).unwrap();
    assert!(blobs.exists(&b2).await.unwrap(), "referenced content stays");

    // An upload whose content a sweep removed between its staging and its commit
    // (another, abandoned upload of the same bytes) still commits whole.
    let slow = ingest::stage(
        &clerk,
        &app.db,
        &blobs,
        now(),
        "slow.txt",
        None,
        body(b"same bytes"),
    )
    .await
    .unwrap();
    let sha = slow.sha256.clone();
    let same = BlobKey::in_scope(&clerk, &format!("content/{}/{sha}", &sha[..2])).unwrap();
    blobs.delete(&same).await.unwrap();
    let filed = documents::file(&clerk, &app.db, &blobs, now(), &slow, &meta)
        .await
        .unwrap();
    assert!(
        blobs.exists(&same).await.unwrap(),
        "copied again under the lock"
    );
    let d = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{}/content", filed.document.id),
            &app.demo_session("records.west-hartford").await,
            None,
        )
        .await;
    assert_eq!(d.body, b"same bytes");

    // A commit after its intent was swept is refused, and nothing half-filed stays.
    let late = ingest::stage(
        &clerk,
        &app.db,
        &blobs,
        now(),
        "late.txt",
        None,
        body(b"late bytes"),
    )
    .await
    .unwrap();
    app.advance(time::Duration::hours(25));
    // A fresh session: the earlier one has timed out over the simulated days.
    let admin = app.demo_session("townadmin.west-hartford").await;
    let r = app
        .api(Method::POST, &format!("{WH}/sweep"), &admin, None)
        .await;
    assert_eq!(r.json()["content_deleted"], 1, "{}", r.text());
    let before = count(&app, "SELECT COUNT(*) FROM records_documents").await;
    let e = documents::file(&clerk, &app.db, &blobs, now(), &late, &meta)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("upload the file again"), "{e}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM records_documents").await,
        before
    );
    // Every version's content is in the store.
    let shas: Vec<String> = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT sha256 FROM records_versions").fetch_all(c).await).unwrap()
    };
    for s in shas {
        let k = BlobKey::in_scope(&clerk, &format!("content/{}/{s}", &s[..2])).unwrap();
        assert!(blobs.exists(&k).await.unwrap(), "{s}");
    }
}

async fn the_page_files_several_files_each_with_its_own_result(app: TestApp) {
    let clerk = app.demo_session("records.west-hartford").await;
    let Auth::Session { csrf, .. } = &clerk else {
        panic!()
    };
    let boundary = "XyZ";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .into_bytes();
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"department\"\r\n\r\nCLK\r\n"
        )
        .as_bytes(),
    );
    for (name, content) in [
        ("good.txt", &b"Minutes"[..]),
        ("bad.exe", &b"MZ\x90\x00\x03\x00"[..]),
        ("second.pdf", PDF),
    ] {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend(content);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    let r = app
        .raw(
            Method::POST,
            "/t/west-hartford/records/upload",
            &clerk,
            Some(&format!("multipart/form-data; boundary={boundary}")),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = r.text();
    assert!(text.contains("<strong>good.txt</strong>: Filed."), "{text}");
    assert!(
        text.contains("<strong>second.pdf</strong>: Filed."),
        "{text}"
    );
    assert!(
        text.contains("<strong>bad.exe</strong>: file: &#34;bad.exe&#34; is not a kind of file"),
        "{text}"
    );
    let list = app
        .api(
            Method::GET,
            &format!("{WH}/documents?department=CLK"),
            &clerk,
            None,
        )
        .await
        .json();
    assert_eq!(list["total"], 2);
    // The list page offers the drop zone wired to the API.
    let page = app
        .api(Method::GET, "/t/west-hartford/records", &clerk, None)
        .await
        .text();
    assert!(page.contains("data-records-upload=\"/api/v1/towns/west-hartford/records/documents\""));
    // The auditor (view only) gets no upload form.
    let auditor = app.demo_session("auditor").await;
    let page = app
        .api(Method::GET, "/t/west-hartford/records", &auditor, None)
        .await
        .text();
    assert!(!page.contains("data-records-upload"));
}

/// 12 MiB crosses the store's 5 MiB part size twice: the parts join into the
/// same bytes, hashed the same way, and a second upload is deduplicated.
async fn a_file_of_several_store_parts_arrives_whole(app: TestApp) {
    use sha2::{Digest, Sha256};
    let clerk = app.demo_session("records.west-hartford").await;
    let text: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    let expected = munishare_platform::types::hex(&Sha256::digest(&text));
    let r = upload(&app, &clerk, WH, "filename=big-minutes.txt", &text).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["sha256"], expected.as_str());
    assert_eq!(r.json()["size"], 12 * 1024 * 1024);
    let id = r.json()["document"]["id"].as_str().unwrap().to_owned();
    let d = app
        .api(
            Method::GET,
            &format!("{WH}/documents/{id}/content"),
            &clerk,
            None,
        )
        .await;
    assert_eq!(d.headers[header::CONTENT_LENGTH], "12582912");
    assert!(d.body == text, "the download is the upload, byte for byte");
    let again = upload(&app, &clerk, WH, "filename=copy.txt", &text).await;
    assert_eq!(again.json()["deduplicated"], true);
    assert_eq!(objects(&app, "west-hartford", "content/").await.len(), 1);
}
