//! The records search page: words and filters, facet counts to narrow by, highlighted
//! snippets, relevance or date order, pages, CSV, and saved searches.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use munishare_platform::types::Permission;
use munishare_platform::{Error, Result};
use munishare_web::AppState;
use munishare_web::auth::ServicePage;
use munishare_web::pages::{Chrome, PageResult, PageRoutes, after_form, csv_response, render};

use super::Records;
use super::search_api::indexes;
use crate::search::{self, FacetCount, SavedSearch, SavedSearchIn, SearchPage, SearchQuery};
use crate::types::{self, DocumentType};
use crate::visibility::{self, Department};

pub(super) fn pages(r: PageRoutes) -> PageRoutes {
    r.get("/t/{town}/records/search", page_search)
        .post("/t/{town}/records/search/saved", page_save_search)
        .post(
            "/t/{town}/records/search/saved/{search}/delete",
            page_delete_saved,
        )
        .post("/t/{town}/records/reindex", page_reindex)
}

#[derive(Template)]
#[template(path = "records_search.html")]
struct SearchView {
    chrome: Chrome,
    base: String,
    q: SearchQuery,
    /// The search as a query string, without page (links keep it).
    current: String,
    data: Option<SearchPage>,
    pages: u32,
    types: Vec<DocumentType>,
    departments: Vec<Department>,
    saved: Vec<SavedSearch>,
    can_share: bool,
    can_administer: bool,
}

impl SearchView {
    fn value<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
    fn page_link(&self, page: &u32) -> String {
        format!("?{}&page={page}", self.current)
    }
    /// The search narrowed to one facet value (or widened when it is already chosen).
    fn facet_link(&self, key: &str, f: &FacetCount) -> String {
        let mut q = self.q.clone();
        q.page = None;
        match key {
            "type" => q.doc_type = toggle(&q.doc_type, &f.value),
            "department" => q.department = toggle(&q.department, &f.value),
            _ => {
                let mut tags: Vec<String> = q
                    .tags
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .map(|t| t.trim().to_lowercase())
                    .filter(|t| !t.is_empty())
                    .collect();
                if let Some(i) = tags.iter().position(|t| *t == f.value) {
                    tags.remove(i);
                } else {
                    tags.push(f.value.clone());
                }
                q.tags = (!tags.is_empty()).then(|| tags.join(","));
            }
        }
        format!("?{}", q.to_query_string())
    }
    fn facet_chosen(&self, key: &str, f: &FacetCount) -> bool {
        let same = |v: &Option<String>| {
            v.as_deref()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case(&f.value))
        };
        match key {
            "type" => same(&self.q.doc_type),
            "department" => same(&self.q.department),
            _ => self
                .q
                .tags
                .as_deref()
                .unwrap_or("")
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(&f.value)),
        }
    }
    fn saved_link(&self, s: &SavedSearch) -> String {
        format!("?{}", s.query.to_query_string())
    }
}

fn toggle(v: &Option<String>, value: &str) -> Option<String> {
    match v {
        Some(x) if x.trim().eq_ignore_ascii_case(value) => None,
        _ => Some(value.to_owned()),
    }
}

fn query_of(p: &HashMap<String, String>) -> SearchQuery {
    let get = |k: &str| p.get(k).filter(|v| !v.trim().is_empty()).cloned();
    SearchQuery {
        q: get("q"),
        doc_type: get("type"),
        department: get("department"),
        tags: get("tags"),
        from: get("from"),
        to: get("to"),
        fields: get("fields"),
        sort: get("sort"),
        page: get("page").and_then(|v| v.parse().ok()),
        per_page: None,
    }
}

async fn page_search(
    State(st): State<AppState>,
    page: ServicePage<Records>,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let scope = &page.scope;
    let q = query_of(&p);
    let indexes = indexes(&st)?;
    if p.get("format").map(String::as_str) == Some("csv") {
        return export_csv(scope, &st, q).await;
    }
    let mut error = None;
    let data = if q.is_empty() {
        None
    } else {
        match search::search(scope, &st.db, indexes, &q).await {
            Ok(d) => Some(d),
            // A filter that does not read shows the message above the form.
            Err(e @ Error::Invalid { .. }) => {
                error = Some(e.to_string());
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut c = st.db.read().await?;
    let types = types::list(scope, &mut c).await?;
    let departments = visibility::departments(scope, &mut c).await?;
    let saved = search::saved(scope, &mut c).await?;
    drop(c);
    let mut chrome = Chrome::new(
        &st,
        &page.user,
        format!("Search records — {}", scope.town().name),
        scope.town().slug.as_str(),
    )
    .await?;
    if let Some(e) = error {
        chrome.flash = Some(("error".into(), e));
    }
    let pages = data.as_ref().map_or(1, |d| {
        u32::try_from(d.total)
            .unwrap_or(u32::MAX)
            .div_ceil(d.per_page)
            .clamp(1, 500)
    });
    render(
        &SearchView {
            chrome,
            base: format!("/t/{}/records", scope.town().slug),
            current: q.to_query_string(),
            q,
            data,
            pages,
            types,
            departments,
            saved,
            can_share: scope.can(Permission::Edit),
            can_administer: scope.can(Permission::Administer),
        },
        &page.user,
    )
}

/// The hits as CSV, best first (at most 2,000).
async fn export_csv(
    scope: &munishare_platform::access::ServiceScope,
    st: &AppState,
    mut q: SearchQuery,
) -> PageResult {
    let mut rows = vec![
        [
            "id",
            "title",
            "type",
            "department",
            "correspondent",
            "document_date",
            "tags",
            "file_name",
            "created_at",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    q.per_page = Some(100);
    for page in 1..=20 {
        q.page = Some(page);
        let data = search::search(scope, &st.db, indexes(st)?, &q).await?;
        let n = data.hits.len();
        for h in data.hits {
            let d = h.document;
            rows.push(vec![
                d.id,
                d.title,
                d.type_name.unwrap_or_default(),
                d.department.unwrap_or_default(),
                d.correspondent.unwrap_or_default(),
                d.document_date.unwrap_or_default(),
                d.tags.join("; "),
                d.file_name,
                d.created_at,
            ]);
        }
        if n < 100 || u64::from(page) * 100 >= data.total {
            break;
        }
    }
    csv_response(&format!("records-search-{}.csv", scope.town().slug), rows)
}

async fn page_save_search(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let query = query_of(&f);
    let back = format!(
        "/t/{}/records/search?{}",
        scope.town().slug,
        query.to_query_string()
    );
    let r: Result<String> = async {
        let mut tx = st.db.begin().await?;
        let s = search::save(
            &scope,
            &mut tx,
            st.now(),
            &SavedSearchIn {
                name: f.get("name").cloned().unwrap_or_default(),
                query,
                shared: f.get("shared").is_some_and(|v| v == "on" || v == "true"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(format!("Saved the search as '{}'.", s.name))
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_delete_saved(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
    Path((_town, id)): Path<(String, String)>,
) -> PageResult {
    let back = format!("/t/{}/records/search", scope.town().slug);
    let r: Result<String> = async {
        let mut tx = st.db.begin().await?;
        search::delete_saved(&scope, &mut tx, st.now(), &id).await?;
        tx.commit().await?;
        Ok("Saved search deleted.".to_owned())
    }
    .await;
    after_form(&st, &back, r)
}

async fn page_reindex(
    State(st): State<AppState>,
    ServicePage { scope, .. }: ServicePage<Records>,
) -> PageResult {
    let back = format!("/t/{}/records/search", scope.town().slug);
    let r: Result<String> = async {
        let mut tx = st.db.begin().await?;
        let epoch = search::request_reindex(&scope, &mut tx, st.now()).await?;
        tx.commit().await?;
        Ok(format!(
            "The search index of {} is being rebuilt from the database (epoch {epoch}); searches use the old index until it is done.",
            scope.town().name
        ))
    }
    .await;
    after_form(&st, &back, r)
}
