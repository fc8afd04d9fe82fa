//! Records search (issue 6): the index follows every change through the change log; words,
//! stems, phrases and exclusions; filters and facet counts; the caller's visibility inside the
//! search (departments, confidential); saved searches; the rebuild a new node or
//! `records reindex` makes; the page and its CSV. Expected hits come from reading the
//! hand-written documents below, not from the code.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_dbs;
use crate::harness::{Auth, TestApp};

both_dbs!(
    search_finds_words_within_the_callers_visibility,
    the_index_follows_changes_and_a_new_node_rebuilds_it,
    saved_searches_are_the_owners_unless_shared,
    the_search_page_narrows_saves_and_exports,
    a_directory_is_filed_in_bulk_and_each_refusal_is_named,
    a_bulk_load_of_several_batches_files_each_once,
    an_intake_folder_files_what_is_dropped_into_it
);

const WH: &str = "/api/v1/towns/west-hartford/records";

/// Files a text document with `query` (title, department, tags …); returns its id.
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

async fn search(app: &TestApp, auth: &Auth, query: &str) -> Value {
    let r = app
        .api(Method::GET, &format!("{WH}/search?{query}"), auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
    r.json()
}

/// The titles of the hits, in order.
fn titles(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["document"]["title"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `(value, count)` of one facet.
fn facet(v: &Value, name: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = v["facets"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["value"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Four documents of West Hartford: two in Public Works and the Town Clerk's office, one
/// town-wide, one confidential.
async fn the_four(app: &TestApp, officer: &Auth) -> [String; 4] {
    [
        file(app, officer, "filename=a.txt&title=Sewer+main+break+on+Farmington+Avenue&department=DPW&correspondent=Metropolitan+District&tags=sewer,emergency&document_date=2024-03-05").await,
        file(app, officer, "filename=b.txt&title=Sewer+easement+deed&department=CLK&tags=deed&document_date=2019-06-01").await,
        file(app, officer, "filename=c.txt&title=Budget+hearing+minutes&document_date=2025-02-10").await,
        file(app, officer, "filename=d.txt&title=Sewer+crew+grievance&department=CLK&confidential=true").await,
    ]
}

const A: &str = "Sewer main break on Farmington Avenue";
const B: &str = "Sewer easement deed";
const C: &str = "Budget hearing minutes";
const D: &str = "Sewer crew grievance";

async fn search_finds_words_within_the_callers_visibility(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    the_four(&app, &officer).await;

    // The records officer sees all three sewer documents; the facets count them by department.
    let r = search(&app, &officer, "q=sewer").await;
    assert_eq!(r["total"], 3);
    assert_eq!(
        sorted(titles(&r)),
        sorted(vec![A.into(), B.into(), D.into()])
    );
    assert_eq!(
        facet(&r, "departments"),
        vec![("CLK".into(), 2), ("DPW".into(), 1)]
    );
    assert_eq!(r["index"]["behind"], 0);
    // The clerk never sees the confidential one, nor counts it.
    let r = search(&app, &clerk, "q=sewer").await;
    assert_eq!(r["total"], 2);
    assert_eq!(sorted(titles(&r)), sorted(vec![A.into(), B.into()]));
    assert_eq!(
        facet(&r, "departments"),
        vec![("CLK".into(), 1), ("DPW".into(), 1)]
    );
    assert_eq!(
        facet(&r, "tags"),
        vec![
            ("deed".into(), 1),
            ("emergency".into(), 1),
            ("sewer".into(), 1)
        ]
    );

    // Stems, phrases, exclusion, the correspondent's words, and a highlighted snippet.
    assert_eq!(titles(&search(&app, &officer, "q=breaks").await), vec![A]);
    assert_eq!(
        titles(&search(&app, &officer, "q=%22main+break%22").await),
        vec![A]
    );
    assert!(
        titles(&search(&app, &officer, "q=%22break+main%22").await).is_empty(),
        "a phrase keeps its order"
    );
    assert_eq!(
        sorted(titles(&search(&app, &officer, "q=sewer+-deed").await)),
        sorted(vec![A.into(), D.into()])
    );
    let r = search(&app, &officer, "q=metropolitan").await;
    assert_eq!(titles(&r), vec![A]);
    assert_eq!(r["hits"][0]["snippet_html"], "<b>Metropolitan</b> District");

    // Filters: department, tags, date range; date order puts undated documents last.
    assert_eq!(
        titles(&search(&app, &officer, "q=sewer&department=dpw").await),
        vec![A]
    );
    assert_eq!(titles(&search(&app, &officer, "tags=deed").await), vec![B]);
    assert_eq!(
        sorted(titles(&search(&app, &officer, "from=2020-01-01").await)),
        sorted(vec![A.into(), C.into()])
    );
    assert_eq!(
        titles(&search(&app, &officer, "department=none").await),
        vec![C]
    );
    assert_eq!(
        titles(&search(&app, &officer, "q=sewer&sort=oldest").await),
        vec![B, A, D]
    );
    assert_eq!(
        titles(&search(&app, &officer, "q=sewer&sort=newest").await),
        vec![A, B, D]
    );
    let r = search(&app, &officer, "q=sewer&sort=oldest&per_page=2&page=2").await;
    assert_eq!((r["total"].as_u64(), titles(&r)), (Some(3), vec![D.into()]));

    // Limited to the Town Clerk's department, the clerk no longer sees or counts Public Works'.
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/department-limits"),
            &officer,
            Some(json!({"username": "records.west-hartford", "departments": ["CLK"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = search(&app, &clerk, "q=sewer").await;
    assert_eq!((r["total"].as_u64(), titles(&r)), (Some(1), vec![B.into()]));
    assert_eq!(facet(&r, "departments"), vec![("CLK".into(), 1)]);
    assert!(facet(&r, "tags").iter().all(|(t, _)| t == "deed"));

    // Bad input names the field.
    for (q, field) in [
        ("q=x&sort=bogus", "sort"),
        ("from=2024-13-01", "from"),
        ("from=2024-05-01&to=2024-04-01", "to"),
        ("type=Nope", "type"),
        ("department=NOPE", "department"),
        ("per_page=0", "per_page"),
        ("fields=permit", "fields"),
    ] {
        let r = app
            .api(Method::GET, &format!("{WH}/search?{q}"), &officer, None)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(r.json()["field"], field, "{q}");
    }
    // Once the text jobs have read the files, their words are found too, highlighted.
    let registry = munishare::jobs();
    while registry.run_one(&app.jobs).await.unwrap() {}
    let r = search(&app, &officer, "q=%22scanned+page%22").await;
    assert_eq!(r["total"], 4);
    let r = search(&app, &officer, "q=metropolitan").await;
    assert_eq!(
        r["hits"][0]["snippet_html"],
        "<b>Metropolitan</b> District\nscanned page"
    );
    // Another town's records: 404, as if they did not exist.
    let other = app.demo_session("townadmin.east-hartford").await;
    let r = app
        .api(Method::GET, &format!("{WH}/search?q=sewer"), &other, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn the_index_follows_changes_and_a_new_node_rebuilds_it(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let [a, b, _, _] = the_four(&app, &officer).await;
    assert_eq!(search(&app, &officer, "q=sewer").await["total"], 3);

    // A new title: the old words no longer find it, the new ones do.
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{a}"),
            &officer,
            Some(json!({"title": "Water main break", "department": "DPW", "tags": ["water"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        sorted(titles(&search(&app, &officer, "q=sewer").await)),
        sorted(vec![B.into(), D.into()])
    );
    assert_eq!(
        titles(&search(&app, &officer, "q=water&tags=water").await),
        vec!["Water main break"]
    );
    // Moved to Public Works, the easement leaves the clerk's view once they are limited to CLK.
    app.api(
        Method::PUT,
        &format!("{WH}/department-limits"),
        &officer,
        Some(json!({"username": "records.west-hartford", "departments": ["CLK"]})),
    )
    .await;
    assert_eq!(titles(&search(&app, &clerk, "q=easement").await), vec![B]);
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{b}"),
            &officer,
            Some(json!({"title": B, "department": "DPW"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(titles(&search(&app, &clerk, "q=easement").await).is_empty());
    // Tags set on their own are followed too.
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/documents/{b}/tags"),
            &officer,
            Some(json!({"tags": ["Easements"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        titles(&search(&app, &officer, "tags=easements").await),
        vec![B]
    );

    // A node that has never indexed the town (a new server, or a lost disk) rebuilds its copy
    // from the database and finds the same documents; a second sync has nothing to do.
    let dir = std::env::temp_dir().join(format!("munishare-newnode-{}", uuid::Uuid::now_v7()));
    let node = munishare_records::search::SearchIndexes::new(&dir);
    let town = {
        let mut c = app.db.read().await.unwrap();
        munishare_platform::tenancy::find_by_slug(&mut c, "west-hartford")
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let s = munishare_records::search::sync_town(&app.db, &node, &town)
        .await
        .unwrap();
    assert!(s.rebuilt);
    assert_eq!(s.indexed, 4);
    let s = munishare_records::search::sync_town(&app.db, &node, &town)
        .await
        .unwrap();
    assert_eq!(s, munishare_records::search::Synced::default());
    // One change later, that node applies just the one document from the log.
    app.api(
        Method::PUT,
        &format!("{WH}/documents/{b}/tags"),
        &officer,
        Some(json!({"tags": []})),
    )
    .await;
    let s = munishare_records::search::sync_town(&app.db, &node, &town)
        .await
        .unwrap();
    assert_eq!((s.rebuilt, s.indexed, s.removed), (false, 1, 0));
    // The log is kept 30 days: a node that missed a change the trimmed log no longer holds
    // rebuilds its copy whole.
    let set_tags = |officer: &Auth, tags: Value| {
        let (app, officer, b) = (app.clone(), officer.clone(), b.clone());
        async move {
            let r = app
                .api(
                    Method::PUT,
                    &format!("{WH}/documents/{b}/tags"),
                    &officer,
                    Some(json!({"tags": tags})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        }
    };
    set_tags(&officer, json!(["one"])).await;
    app.advance(time::Duration::days(31));
    let now = munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    // Four filings, two metadata changes and three tag changes.
    assert_eq!(
        munishare_records::search::prune_log(&app.db, now)
            .await
            .unwrap(),
        9
    );
    // Sessions end in 31 days: sign in again.
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    set_tags(&officer, json!(["two"])).await;
    let s = munishare_records::search::sync_town(&app.db, &node, &town)
        .await
        .unwrap();
    assert_eq!((s.rebuilt, s.indexed), (true, 4));
    let _ = std::fs::remove_dir_all(&dir);

    // Asking for a rebuild is the administrator's, audited; the next search rebuilds.
    let r = app
        .api(Method::POST, &format!("{WH}/reindex"), &clerk, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api(Method::POST, &format!("{WH}/reindex"), &officer, None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.json()["epoch"], 1);
    assert_eq!(search(&app, &officer, "q=sewer").await["total"], 2);
    let mut c = app.db.read().await.unwrap();
    let n: i64 = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'records.index.rebuild'").fetch_one(c).await)
    .unwrap();
    assert_eq!(n, 1);
}

async fn saved_searches_are_the_owners_unless_shared(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let save = |auth: &Auth, body: Value| {
        let (app, auth) = (app.clone(), auth.clone());
        async move {
            app.api(
                Method::POST,
                &format!("{WH}/saved-searches"),
                &auth,
                Some(body),
            )
            .await
        }
    };
    let names = |auth: &Auth| {
        let (app, auth) = (app.clone(), auth.clone());
        async move {
            let r = app
                .api(Method::GET, &format!("{WH}/saved-searches"), &auth, None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let mine = save(
        &clerk,
        json!({"name": "Sewer deeds", "query": {"q": "sewer", "tags": "deed", "page": 4}}),
    )
    .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text());
    assert_eq!(
        mine.json()["query"]["page"],
        Value::Null,
        "the page is not kept"
    );
    let shared = save(
        &clerk,
        json!({"name": "Emergencies", "query": {"tags": "emergency", "sort": "newest"}, "shared": true}),
    )
    .await;
    assert_eq!(shared.status, StatusCode::CREATED, "{}", shared.text());
    assert_eq!(names(&clerk).await, vec!["Emergencies", "Sewer deeds"]);
    assert_eq!(names(&officer).await, vec!["Emergencies"]);
    // Bad input: the same name, no name, a query that does not read.
    let r = save(&clerk, json!({"name": "sewer DEEDS", "query": {}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["field"], "name");
    let r = save(&clerk, json!({"name": " ", "query": {}})).await;
    assert_eq!(r.json()["field"], "name");
    let r = save(
        &clerk,
        json!({"name": "Bad", "query": {"sort": "sideways"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "sort");
    // The officer cannot delete the clerk's private search (it is not theirs to see) but, as
    // the town's records administrator, may delete a shared one.
    let private_id = mine.json()["id"].as_str().unwrap().to_owned();
    let shared_id = shared.json()["id"].as_str().unwrap().to_owned();
    let r = app
        .api(
            Method::DELETE,
            &format!("{WH}/saved-searches/{private_id}"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api(
            Method::DELETE,
            &format!("{WH}/saved-searches/{shared_id}"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(names(&clerk).await, vec!["Sewer deeds"]);
    let mut c = app.db.read().await.unwrap();
    let n: i64 = munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action IN ('records.search.save', 'records.search.delete')").fetch_one(c).await)
    .unwrap();
    assert_eq!(n, 3);
}

async fn the_search_page_narrows_saves_and_exports(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    the_four(&app, &officer).await;
    let page = app
        .api(
            Method::GET,
            "/t/west-hartford/records/search?q=metropolitan",
            &officer,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("<b>Metropolitan</b> District"), "{html}");
    assert!(html.contains(A));
    // The department facet links narrow the search to Public Works.
    assert!(
        html.contains("href=\"?q=metropolitan&#38;department=DPW\""),
        "{html}"
    );
    let page = app
        .api(
            Method::GET,
            "/t/west-hartford/records/search?q=sewer&sort=oldest&format=csv",
            &officer,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let csv = page.text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("id,title,type,department"));
    assert!(lines[1].contains(B) && lines[2].contains(A) && lines[3].contains(D));
    // Saving from the page keeps the search and returns to it.
    let r = app
        .form(
            "/t/west-hartford/records/search/saved",
            &officer,
            &[
                ("name", "Sewer, oldest first"),
                ("q", "sewer"),
                ("sort", "oldest"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert!(
        r.location()
            .ends_with("/records/search?q=sewer&sort=oldest")
    );
    let page = app
        .api(
            Method::GET,
            "/t/west-hartford/records/search",
            &officer,
            None,
        )
        .await;
    assert!(page.text().contains("Sewer, oldest first"));
    // A filter that does not read is named above the form, not a server error.
    let page = app
        .api(
            Method::GET,
            "/t/west-hartford/records/search?from=someday",
            &officer,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("from"));
}

async fn a_directory_is_filed_in_bulk_and_each_refusal_is_named(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    // A limit of 10 MiB: the 9 MiB file streams in, the 11 MiB one is refused.
    let r = app
        .api(
            Method::PUT,
            &format!("{WH}/settings"),
            &officer,
            Some(json!({"max_upload_bytes": 10 * 1024 * 1024})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let dir = std::env::temp_dir().join(format!("munishare-bulk-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("2019/march")).unwrap();
    std::fs::create_dir_all(dir.join(".thumbnails")).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    write(
        "sewer-inspection.txt",
        b"Sewer inspection of Farmington Avenue",
    );
    // The same bytes again, deeper: a second document, the content stored once.
    write(
        "2019/march/sewer-inspection-copy.txt",
        b"Sewer inspection of Farmington Avenue",
    );
    write(
        "deed.pdf",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    );
    write("empty.txt", b"");
    write(
        "setup.exe",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff",
    );
    write("bell\u{7}.txt", b"a bell in the name");
    write(".DS_Store", b"\x00\x00\x00\x01Bud1");
    write(
        "large-minutes.txt",
        &b"minutes ".repeat(9 * 1024 * 1024 / 8),
    );
    write("too-large.txt", &b"x".repeat(11 * 1024 * 1024));
    let (listing, report, progress) = import_dir(
        &app,
        &dir,
        munishare_records::documents::DocumentIn {
            department: Some("DPW".into()),
            tags: vec!["scanned 2026".into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(listing.hidden, 2, ".DS_Store and .thumbnails");
    assert_eq!(listing.files.len(), 8);
    assert_eq!(report.filed_files.len(), 4);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((report.filed, report.deduplicated), (4, 1));
    assert_eq!(progress.items(), 8);
    assert_eq!(progress.permille(), 1000);
    let refused: Vec<(String, String)> = report
        .refused
        .iter()
        .map(|r| (r.file.clone(), r.message.clone()))
        .collect();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert_eq!(refused[0].0, "bell\u{7}.txt");
    assert!(refused[0].1.contains("control characters"), "{refused:?}");
    assert_eq!(
        refused[1],
        ("empty.txt".into(), "is empty (0 bytes)".into())
    );
    assert_eq!(refused[2].0, "setup.exe");
    assert!(
        refused[2]
            .1
            .starts_with("is not a kind of file records accepts"),
        "{refused:?}"
    );
    assert_eq!(refused[3].0, "too-large.txt");
    assert!(refused[3].1.contains("10 MiB"), "{refused:?}");

    // Filed as the importer, in Public Works, tagged, and found by the words of their names.
    let r = search(
        &app,
        &officer,
        "q=sewer+inspection&department=DPW&tags=scanned+2026",
    )
    .await;
    assert_eq!(
        sorted(titles(&r)),
        vec![
            "sewer-inspection".to_owned(),
            "sewer-inspection-copy".to_owned()
        ]
    );
    let r = search(&app, &officer, "q=minutes").await;
    assert_eq!(titles(&r), vec!["large-minutes"]);
    assert_eq!(r["hits"][0]["document"]["size"], 9 * 1024 * 1024);
    let count = |sql: &'static str| {
        let app = app.clone();
        async move {
            let mut c = app.db.read().await.unwrap();
            munishare_platform::dispatch!(&mut c, c => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await).unwrap()
        }
    };
    // (documents, contents, intents)
    assert_eq!(load_counts(&app).await, (4, 3, 0));
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE action = 'records.document.file'").await,
        4
    );
}

/// 600 files are three batches (256 + 256 + 88): every file is filed once, a content that recurs
/// in a later batch (file `i` and file `i + 300` have the same bytes) is stored once and counted
/// as deduplicated, and no intent is left.
async fn a_bulk_load_of_several_batches_files_each_once(app: TestApp) {
    let dir = std::env::temp_dir().join(format!("munishare-batches-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..600 {
        let body = format!("Culvert inspection report number {}", i % 300);
        std::fs::write(dir.join(format!("report-{i:03}.txt")), body).unwrap();
    }
    // Typed as correspondence (10 years from the end of the document's calendar year), so each
    // batch's retention dates are computed together: 2019-12-31 + 10 years.
    crate::records_retention::catalog(&app).await;
    crate::records_retention::types(&app, &app.demo_session("townadmin.west-hartford").await).await;
    let before = load_counts(&app).await;
    let (listing, report, _) = import_dir(
        &app,
        &dir,
        munishare_records::documents::DocumentIn {
            doc_type: Some("Correspondence".into()),
            document_date: Some("2019-05-02".into()),
            ..Default::default()
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((report.filed, report.deduplicated), (600, 300));
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    // Committed in file order, each once.
    assert_eq!(report.filed_files, listing.files);
    let (documents, contents, intents) = load_counts(&app).await;
    assert_eq!(documents - before.0, 600);
    assert_eq!(contents - before.1, 300, "each distinct body stored once");
    assert_eq!(intents, 0);
    let mut c = app.db.read().await.unwrap();
    let dues: Vec<(Option<String>, i64)> =
        munishare_platform::dispatch!(&mut c, c => sqlx::query_as(
        "SELECT d.retention_due, COUNT(*) FROM records_documents d JOIN records_document_types t \
         ON t.municipality_id = d.municipality_id AND t.id = d.type_id \
         WHERE t.name = 'Correspondence' GROUP BY d.retention_due")
        .fetch_all(c).await)
        .unwrap();
    assert_eq!(dues, vec![(Some("2029-12-31".to_owned()), 600)]);
}

/// Files every file under `dir` into West Hartford's records as its administrator with `meta`,
/// the way `munishare import records` does.
async fn import_dir(
    app: &TestApp,
    dir: &std::path::Path,
    meta: munishare_records::documents::DocumentIn,
) -> (
    munishare_records::bulk::Listing,
    munishare_records::bulk::BulkReport,
    munishare_platform::jobs::Progress,
) {
    let scope = crate::records_retention::town_scope(app).await;
    let meta = {
        let mut c = app.db.read().await.unwrap();
        munishare_records::documents::check_meta(&scope, &mut c, &meta)
            .await
            .unwrap()
    };
    let listing = munishare_records::bulk::list_files(dir).unwrap();
    let progress = munishare_platform::jobs::Progress::default();
    let now = munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    let mut report = munishare_records::bulk::BulkReport::default();
    munishare_records::bulk::import(
        &scope,
        &app.db,
        &app.jobs.blobs,
        now,
        &listing,
        &meta,
        &progress,
        &mut report,
    )
    .await
    .unwrap();
    (listing, report, progress)
}

/// (documents, contents, intents) in the records tables.
async fn load_counts(app: &TestApp) -> (i64, i64, i64) {
    let mut c = app.db.read().await.unwrap();
    munishare_platform::dispatch!(&mut c, c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM records_documents), (SELECT COUNT(*) FROM records_contents), \
                (SELECT COUNT(*) FROM records_staged_uploads)")
        .fetch_one(c).await)
    .unwrap()
}

async fn an_intake_folder_files_what_is_dropped_into_it(app: TestApp) {
    let officer = app.demo_session("townadmin.west-hartford").await;
    let clerk = app.demo_session("records.west-hartford").await;
    let folders = format!("{WH}/intake-folders");
    let create = |auth: &Auth, body: Value| {
        let (app, auth, folders) = (app.clone(), auth.clone(), folders.clone());
        async move { app.api(Method::POST, &folders, &auth, Some(body)).await }
    };
    // Only a records administrator sets one up; the name must name one folder.
    let r = create(&clerk, json!({"name": "clerk-scans"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for bad in ["../etc", "", "a b", "-x"] {
        let r = create(&officer, json!({"name": bad})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(r.json()["field"], "name", "{bad}");
    }
    let r = create(&officer, json!({"name": "x", "department": "NOPE"})).await;
    assert_eq!(r.json()["field"], "department");
    let r = create(
        &officer,
        json!({"name": "clerk-scans", "department": "CLK", "tags": ["scanned"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["file_as"], "townadmin.west-hartford");
    let r = create(&officer, json!({"name": "Clerk-Scans"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // A scan, an empty file and a file still being named by the scanner are dropped in.
    let root = std::env::temp_dir().join(format!("munishare-intake-{}", uuid::Uuid::now_v7()));
    let dir = munishare_records::intake::folder_path(&root, "west-hartford", "clerk-scans");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("deed-1932.txt"),
        b"Quitclaim deed, Farmington Avenue",
    )
    .unwrap();
    std::fs::write(dir.join("empty.txt"), b"").unwrap();
    std::fs::write(dir.join(".scan-in-progress"), b"partial").unwrap();
    let now =
        || munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    let pass = munishare_records::intake::run_once(
        &app.db,
        &app.jobs.blobs,
        &root,
        now(),
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(
        pass,
        munishare_records::intake::Pass {
            filed: 1,
            refused: 1
        }
    );
    assert!(
        !dir.join("deed-1932.txt").exists(),
        "filed files are removed"
    );
    assert!(
        dir.join(".scan-in-progress").exists(),
        "hidden files are left alone"
    );
    assert!(dir.join(".refused/empty.txt").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join(".refused/empty.txt.why.txt")).unwrap(),
        "empty.txt is empty (0 bytes)\n"
    );
    // Filed as the administrator who set the folder up, in the Town Clerk's office, tagged;
    // once its text is read, a word inside it finds it.
    let registry = munishare::jobs();
    while registry.run_one(&app.jobs).await.unwrap() {}
    let r = search(&app, &officer, "q=quitclaim").await;
    assert_eq!(titles(&r), vec!["deed-1932"]);
    let d = &r["hits"][0]["document"];
    assert_eq!(
        (
            d["created_by"].as_str(),
            d["department"].as_str(),
            d["tags"].clone()
        ),
        (
            Some("townadmin.west-hartford via intake folder clerk-scans"),
            Some("CLK"),
            json!(["scanned"])
        )
    );
    let list = app.api(Method::GET, &folders, &clerk, None).await.json();
    assert_eq!(
        (
            list[0]["last_filed"].as_i64(),
            list[0]["last_refused"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(list[0]["last_message"], Value::Null);

    // The administrator is disabled: the folder pauses, says why, and files nothing in their name.
    {
        let mut c = app.db.begin().await.unwrap();
        munishare_platform::execute!(&mut c, c => sqlx::query(
            "UPDATE users SET active = FALSE WHERE username = 'townadmin.west-hartford'").execute(c).await)
        .unwrap();
        c.commit().await.unwrap();
    }
    std::fs::write(dir.join("later.txt"), b"Later scan").unwrap();
    let pass = munishare_records::intake::run_once(
        &app.db,
        &app.jobs.blobs,
        &root,
        now(),
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(pass, munishare_records::intake::Pass::default());
    assert!(
        dir.join("later.txt").exists(),
        "a paused folder keeps its files"
    );
    let list = app.api(Method::GET, &folders, &clerk, None).await.json();
    let message = list[0]["last_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        message,
        "paused: townadmin.west-hartford's account is disabled; a records administrator should set the folder up again"
    );
    // The page shows the folder, whom it files as, and why it stopped.
    let page = app
        .api(Method::GET, "/t/west-hartford/records/intake", &clerk, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("<code>clerk-scans</code>"), "{html}");
    assert!(
        html.contains("stopped</span> paused: townadmin.west-hartford"),
        "{html}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
