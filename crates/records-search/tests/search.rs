//! The town index against hand-built documents whose expected hits are known by reading them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use munishare_records_search::{
    Error, IndexedDocument, SearchRequest, Sort, TownIndex, Visibility,
};

fn doc(id: &str, title: &str, body: &str, department: Option<&str>) -> IndexedDocument {
    IndexedDocument {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        department: department.map(Into::into),
        created_by: "clerk".into(),
        ..IndexedDocument::default()
    }
}

/// Days since 1970-01-01 of a date in 2024 (month, day), by hand: 2024-01-01 is day 19723.
fn day_2024(month: u32, day: i64) -> i64 {
    const CUMULATIVE: [i64; 12] = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335];
    19723 + CUMULATIVE[month as usize - 1] + day - 1
}

/// Six documents of a town:
/// - a: finance, "Tax abatement for the mill", dated 2024-03-15, type Minutes, tags budget+2024
/// - b: assessor, body mentions "abatement of tax" (words apart), 2024-06-01, type Letter, tag 2024
/// - c: town-wide, "Assessments and revaluation", 2024-01-10, type Report, field fiscal_year=2024
/// - d: finance, confidential payroll, 2024-02-01, type Report
/// - e: public works, scanned by the bureau, 2024-05-05
/// - f: finance, no date, "Snow removal contract", body with markup
fn town() -> TownIndex {
    let index = TownIndex::in_memory().unwrap();
    let mut a = doc(
        "a",
        "Tax abatement for the mill",
        "The board approved a tax abatement for the old mill on Main Street.",
        Some("finance"),
    );
    a.date = Some(day_2024(3, 15));
    a.doc_type = Some("Minutes".into());
    a.tags = vec!["budget".into(), "2024".into()];
    let mut b = doc(
        "b",
        "Letter to a property owner",
        "Your request for abatement of the property tax was received by the assessor.",
        Some("assessor"),
    );
    b.date = Some(day_2024(6, 1));
    b.doc_type = Some("Letter".into());
    b.tags = vec!["2024".into()];
    let mut c = doc(
        "c",
        "Assessments and revaluation",
        "The revaluation changed assessments across the grand list.",
        None,
    );
    c.date = Some(day_2024(1, 10));
    c.doc_type = Some("Report".into());
    c.fields = vec![("fiscal_year".into(), "2024".into())];
    let mut d = doc(
        "d",
        "Payroll register",
        "Salaries of finance staff, including the tax collector.",
        Some("finance"),
    );
    d.date = Some(day_2024(2, 1));
    d.doc_type = Some("Report".into());
    d.confidential = true;
    let mut e = doc(
        "e",
        "Road inspection",
        "Pothole inspection of Main Street scanned for public works.",
        Some("public-works"),
    );
    e.date = Some(day_2024(5, 5));
    e.created_by = "bureau".into();
    let f = doc(
        "f",
        "Snow removal contract",
        "Plowing <script>alert(1)</script> rates for the snow season & salt.",
        Some("finance"),
    );
    index.apply(&[a, b, c, d, e, f], &[]).unwrap();
    index
}

fn everything() -> Visibility {
    Visibility {
        departments: None,
        confidential: true,
        created_by: None,
    }
}

fn search(index: &TownIndex, text: &str, visibility: &Visibility) -> Vec<String> {
    let request = SearchRequest {
        text: text.into(),
        limit: 50,
        ..SearchRequest::default()
    };
    let mut ids: Vec<String> = index
        .search(&request, visibility)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn words_phrases_and_stems() {
    let index = town();
    let all = everything();
    // Both words, anywhere: a (title and body) and b (body, words apart).
    assert_eq!(search(&index, "tax abatement", &all), ["a", "b"]);
    // The phrase: only a has the words side by side.
    assert_eq!(search(&index, "\"tax abatement\"", &all), ["a"]);
    // English stems: "assessment" finds "Assessments"; c only ("assessor" is another stem).
    assert_eq!(search(&index, "assessment", &all), ["c"]);
    // Exclusion.
    assert_eq!(search(&index, "tax -mill", &all), ["b", "d"]);
    // Half-typed syntax does not fail the search.
    assert_eq!(search(&index, "\"main street", &all), ["a", "e"]);
    assert!(search(&index, "title:", &all).len() <= 6);
    assert_eq!(index.num_docs(), 6);
}

#[test]
fn relevance_puts_title_matches_first() {
    let index = town();
    // "abatement" is in a's title and body, in b's body only.
    let results = index
        .search(
            &SearchRequest {
                text: "abatement".into(),
                limit: 10,
                ..SearchRequest::default()
            },
            &everything(),
        )
        .unwrap();
    let ids: Vec<_> = results.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(results.total, 2);
}

#[test]
fn visibility_is_inside_the_search_hits_totals_and_facets() {
    let index = town();
    // A finance clerk: finance and town-wide documents, nothing confidential.
    let finance = Visibility {
        departments: Some(vec!["finance".into()]),
        confidential: false,
        created_by: None,
    };
    assert_eq!(search(&index, "", &finance), ["a", "c", "f"]);
    assert_eq!(search(&index, "tax", &finance), ["a"]);
    let results = index
        .search(
            &SearchRequest {
                limit: 1,
                ..SearchRequest::default()
            },
            &finance,
        )
        .unwrap();
    assert_eq!(results.total, 3, "the total counts only visible documents");
    assert_eq!(
        results.facets.departments,
        [("finance".to_owned(), 2), ("~".to_owned(), 1)]
    );
    assert_eq!(
        results.facets.doc_types,
        [("Minutes".to_owned(), 1), ("Report".to_owned(), 1)],
        "the confidential report d is not counted"
    );
    // Asking for another department's documents finds nothing, not an error.
    let request = SearchRequest {
        department: Some("assessor".into()),
        limit: 10,
        ..SearchRequest::default()
    };
    assert_eq!(index.search(&request, &finance).unwrap().total, 0);

    // The records officer sees the confidential payroll.
    let officer = Visibility {
        departments: None,
        confidential: true,
        created_by: None,
    };
    assert_eq!(search(&index, "salaries", &officer), ["d"]);
    assert!(search(&index, "salaries", &finance).is_empty());

    // The scanning bureau sees what it scanned, nothing else.
    let bureau = Visibility {
        departments: None,
        confidential: false,
        created_by: Some("bureau".into()),
    };
    assert_eq!(search(&index, "", &bureau), ["e"]);
    assert_eq!(search(&index, "main street", &bureau), ["e"]);
}

#[test]
fn filters_dates_and_sorting() {
    let index = town();
    let all = everything();
    // A page of 50 unless the request says otherwise.
    let run = |request: SearchRequest| -> Vec<String> {
        index
            .search(
                &SearchRequest {
                    limit: if request.limit == 0 {
                        50
                    } else {
                        request.limit
                    },
                    ..request
                },
                &all,
            )
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect()
    };
    let by_type = run(SearchRequest {
        doc_type: Some("Report".into()),
        sort: Sort::DateAsc,
        ..SearchRequest::default()
    });
    assert_eq!(by_type, ["c", "d"]);
    // Every tag given must be on the document.
    let tagged = run(SearchRequest {
        tags: vec!["2024".into(), "budget".into()],
        ..SearchRequest::default()
    });
    assert_eq!(tagged, ["a"]);
    // 2024-02-01 ..= 2024-05-05, newest first: e (May 5), a (Mar 15), d (Feb 1).
    let ranged = run(SearchRequest {
        date_from: Some(day_2024(2, 1)),
        date_to: Some(day_2024(5, 5)),
        sort: Sort::DateDesc,
        ..SearchRequest::default()
    });
    assert_eq!(ranged, ["e", "a", "d"]);
    let field = run(SearchRequest {
        fields: vec![("fiscal_year".into(), "2024".into())],
        ..SearchRequest::default()
    });
    assert_eq!(field, ["c"]);
    // Newest first over everything; f has no date and comes last.
    let newest = run(SearchRequest {
        sort: Sort::DateDesc,
        ..SearchRequest::default()
    });
    assert_eq!(newest, ["b", "e", "a", "d", "c", "f"]);
    // Paging: the second and third newest.
    let page = run(SearchRequest {
        sort: Sort::DateDesc,
        offset: 1,
        limit: 2,
        ..SearchRequest::default()
    });
    assert_eq!(page, ["e", "a"]);
}

#[test]
fn snippets_mark_the_words_and_escape_the_text() {
    let index = town();
    let results = index
        .search(
            &SearchRequest {
                text: "plowing".into(),
                limit: 5,
                ..SearchRequest::default()
            },
            &everything(),
        )
        .unwrap();
    let hit = &results.hits[0];
    assert_eq!(hit.id, "f");
    assert_eq!(hit.title, "Snow removal contract");
    assert!(
        hit.snippet_html.contains("<b>Plowing</b>"),
        "{}",
        hit.snippet_html
    );
    assert!(
        hit.snippet_html.contains("&lt;script&gt;"),
        "{}",
        hit.snippet_html
    );
    assert!(
        !hit.snippet_html.contains("<script>"),
        "{}",
        hit.snippet_html
    );
    assert_eq!(hit.date, None);
}

#[test]
fn replacing_and_removing_documents() {
    let index = town();
    let mut a = doc(
        "a",
        "Tax abatement for the mill",
        "Rescinded.",
        Some("finance"),
    );
    a.date = Some(day_2024(3, 15));
    index.apply(&[a], &["b".to_owned()]).unwrap();
    assert_eq!(index.num_docs(), 5);
    let all = everything();
    assert_eq!(search(&index, "rescinded", &all), ["a"]);
    assert_eq!(search(&index, "board approved", &all), Vec::<String>::new());
    assert_eq!(search(&index, "abatement", &all), ["a"]);
    index.clear().unwrap();
    assert_eq!(index.num_docs(), 0);
}

#[test]
fn bad_requests_name_the_field() {
    let index = town();
    let all = everything();
    let limit = index.search(&SearchRequest::default(), &all).unwrap_err();
    assert!(
        matches!(limit, Error::Invalid { field: "limit", .. }),
        "{limit}"
    );
    let too_many = SearchRequest {
        limit: 201,
        ..SearchRequest::default()
    };
    assert!(matches!(
        index.search(&too_many, &all),
        Err(Error::Invalid { field: "limit", .. })
    ));
    let backwards = SearchRequest {
        limit: 10,
        date_from: Some(day_2024(5, 1)),
        date_to: Some(day_2024(4, 1)),
        ..SearchRequest::default()
    };
    let e = index.search(&backwards, &all).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Invalid {
                field: "date_from",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn an_index_on_disk_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("town-a");
    {
        let index = TownIndex::open(&path).unwrap();
        index
            .apply(
                &[doc("x", "Grand list", "October first grand list.", None)],
                &[],
            )
            .unwrap();
    }
    let index = TownIndex::open(&path).unwrap();
    assert_eq!(index.num_docs(), 1);
    assert_eq!(search(&index, "october", &everything()), ["x"]);
}

#[test]
fn snippets_match_stems_and_read_only_the_start_of_long_texts() {
    let index = TownIndex::in_memory().unwrap();
    // "zoning" first appears after 70,000 bytes of filler: found, but no passage is cut.
    let long = format!("{} zoning variance", "filler ".repeat(10_000));
    index
        .apply(
            &[
                doc(
                    "c",
                    "Revaluation",
                    "The revaluation changed assessments.",
                    None,
                ),
                doc("long", "Long report", &long, None),
            ],
            &[],
        )
        .unwrap();
    let snippet = |text: &str| {
        index
            .search(
                &SearchRequest {
                    text: text.into(),
                    limit: 5,
                    ..SearchRequest::default()
                },
                &everything(),
            )
            .unwrap()
            .hits
            .into_iter()
            .map(|h| (h.id, h.snippet_html))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        snippet("assessment"),
        [(
            "c".to_owned(),
            // A passage ends with its last word.
            "The revaluation changed <b>assessments</b>".to_owned()
        )]
    );
    assert_eq!(snippet("zoning"), [("long".to_owned(), String::new())]);
}

#[test]
fn each_town_has_its_own_index_directory() {
    use munishare_records_search::Indexes;
    let dir = tempfile::tempdir().unwrap();
    let indexes = Indexes::new(dir.path().join("search"));
    let hartford = "018f3a1c-0000-7000-8000-000000000001";
    let avon = "018f3a1c-0000-7000-8000-000000000002";
    indexes
        .town(hartford)
        .unwrap()
        .apply(
            &[doc("h1", "Hartford budget", "Capital budget.", None)],
            &[],
        )
        .unwrap();
    // The same handle comes back; the other town's index is empty.
    assert_eq!(indexes.town(hartford).unwrap().num_docs(), 1);
    assert_eq!(
        search(&indexes.town(avon).unwrap(), "budget", &everything()),
        Vec::<String>::new()
    );
    assert!(dir.path().join("search").join(hartford).is_dir());
    // Ids that would name another directory are refused, naming the field.
    for bad in ["", "..", "../x", "a/b", "a b", &"a".repeat(65)] {
        let e = indexes.town(bad).unwrap_err();
        assert!(
            matches!(e, Error::Invalid { field: "town", .. }),
            "{bad:?}: {e}"
        );
    }
    // Removing an index deletes it; the next use starts empty.
    indexes.remove(hartford).unwrap();
    assert!(!dir.path().join("search").join(hartford).exists());
    assert_eq!(indexes.town(hartford).unwrap().num_docs(), 0);
    indexes.remove(avon).unwrap();
    indexes.remove(avon).unwrap();
}
